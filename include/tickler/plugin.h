/*
 * tickler/plugin.h - what every tickler plugin shares with the host.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * TK_PLUGIN_ENTRY_NAME ("tk_plugin_entry"), a function that returns a pointer
 * to a static const descriptor.  The descriptor starts with a
 * struct tk_plugin_header whose fields never move: the host reads the ABI
 * version and the struct size first and refuses the plugin, without calling
 * anything else in it, when they do not match.
 *
 * Compatibility rules (SQLite's sqlite3_api_routines, Redis' module API):
 *  - TK_ABI_MAJOR changes only when a published field changes meaning; the
 *    host refuses any other major.
 *  - TK_ABI_MINOR grows when fields are appended at the end of a descriptor or
 *    of struct tk_host.  Each group of fields carries an `ABI 1.x` marker
 *    naming the minor that added it, as sqlite3ext.h does.
 *  - The host accepts a descriptor whose size is at least the ABI 1.0 size
 *    of its kind (TK_ITEM_TYPE_SIZE_1_0, TK_TRANSPORT_SIZE_1_0) and whose
 *    minor is not newer than its own; it reads an appended field only when
 *    TK_DESCR_HAS() says the plugin's descriptor holds it.
 *  - A plugin reads a struct tk_host field newer than ABI 1.0 only when
 *    TK_HOST_HAS() says the host has it.
 *  - A changed callback gets a new name (`render_v2`), never a new signature.
 *
 * Plugins link against nothing of the daemon: everything they need from the
 * host comes through the struct tk_host they receive at init.
 *
 * Lifetimes are written one way throughout the SDK: "borrowed until X" means
 * the pointer stays valid, and must not be freed or written through, until
 * X; the one who lends it frees it afterwards.
 *
 * This header is self-contained, C99 and C++-safe.
 */
#ifndef TICKLER_PLUGIN_H
#define TICKLER_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TK_ABI_MAJOR 1
#ifndef TK_TEST_ABI_GROWTH
#define TK_ABI_MINOR 3
#else
/* Test builds only (tests/unit/abi_growth.c): a host one minor ahead, with
 * a field appended to every struct, to prove that older plugins keep
 * loading.  Never defined in a real build. */
#define TK_ABI_MINOR 4
#endif

#define TK_PLUGIN_ENTRY_NAME "tk_plugin_entry"

/* Mark the one symbol a plugin exports; build plugins with
 * -fvisibility=hidden so that nothing else leaks. */
#if defined(__GNUC__)
#define TK_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define TK_PLUGIN_EXPORT
#endif

/* Status codes shared by host and plugins: 0 is success, anything else is a
 * failure described in a struct tk_error. */
enum tk_status {
    TK_OK = 0,
    TK_ERR = 1,       /* generic failure, message says why */
    TK_ENOMEM = 2,    /* out of memory */
    TK_EINVAL = 3,    /* bad input from the user or a script */
    TK_ENOTFOUND = 4, /* no such account, item, template ... */
    TK_ECONFLICT = 5, /* the state does not allow it (already exists ...) */
    TK_EIO = 6,       /* file system, network, store */
    TK_EUSAGE = 7,    /* command-line misuse: exit status 2 */
    TK_ETEMP = 8,     /* temporary: try again later */
};

#define TK_ERROR_MAX 512

/* Error report filled by the callee where the failure is understood and
 * passed up unchanged.  Fixed buffer so that out-of-memory paths can still
 * report.  Every function taking a `struct tk_error *err` accepts NULL. */
struct tk_error {
    int code;               /* an enum tk_status */
    char msg[TK_ERROR_MAX]; /* one line, no trailing newline */
};

enum tk_plugin_kind {
    TK_PLUGIN_ITEM = 1,      /* an item type: struct tk_item_type */
    TK_PLUGIN_TRANSPORT = 2, /* a mail transport: struct tk_transport */
};

/* First member of every descriptor.  Never reorder, never remove.  Every
 * string is borrowed by the host until it unloads the plugin (keep them
 * static); the host refuses names outside the patterns below and text with
 * control characters. */
struct tk_plugin_header {
    /* ABI 1.0 */
    uint16_t abi_major;      /* TK_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;      /* TK_ABI_MINOR the plugin was built with */
    uint32_t size;           /* sizeof the whole descriptor */
    int kind;                /* enum tk_plugin_kind */
    const char *name;        /* "invoice", "smtp": [a-z][a-z0-9_-]*, <= 32 */
    const char *version;     /* the plugin's own version: one line, <= 64 */
    const char *description; /* one line for `tickler plugins`, <= 200 */
};

#define TK_PLUGIN_HEADER_INIT(descr_type, kind_, name_, version_, descr_)                          \
    {                                                                                              \
        TK_ABI_MAJOR, TK_ABI_MINOR, (uint32_t)sizeof(descr_type), (kind_), (name_), (version_),    \
            (descr_)                                                                               \
    }

/* Whether DESCR (a struct tk_item_type or struct tk_transport pointer) is
 * long enough to hold FIELD: the host asks this before it reads a field
 * appended after ABI 1.0, because a plugin built against an older minor
 * has a shorter descriptor. */
#define TK_DESCR_HAS(descr, field)                                                                 \
    ((descr) != NULL &&                                                                            \
     (size_t)((const char *)&(descr)->field - (const char *)(descr)) + sizeof((descr)->field) <=   \
         (size_t)(descr)->hdr.size)

typedef const struct tk_plugin_header *(*tk_plugin_entry_fn)(void);

/* The entry every plugin defines (with TK_PLUGIN_EXPORT): its descriptor,
 * static const, valid until the plugin is unloaded. */
TK_PLUGIN_EXPORT const struct tk_plugin_header *tk_plugin_entry(void);

/* A configuration key a plugin accepts in its section.  Arrays of these end
 * with a { NULL, NULL } entry. */
struct tk_config_key {
    /* ABI 1.0 */
    const char *name; /* [a-z][a-z0-9_-]*, <= 32 */
    const char *description;
};

enum tk_log_level { TK_LOG_ERROR = 0, TK_LOG_WARN = 1, TK_LOG_INFO = 2, TK_LOG_DEBUG = 3 };

/* Opaque handle the host passes to item-type callbacks: one item being
 * created, validated or rendered.  Only the accessors in struct tk_host
 * touch it; it is borrowed until the callback that received it returns. */
struct tk_item_ctx;

/*
 * Services the host offers to plugins.  Passed to each plugin's init and
 * borrowed until the plugin's fini returns.  Appended to only: a field
 * below an `ABI 1.x` marker newer than 1.0 may be read only when
 * TK_HOST_HAS(host, field) is true.
 *
 * Threads: the services marked "any thread" may be called from any thread,
 * also concurrently (a transport's send() runs on several threads at once);
 * the item accessors only from the item-type callback that received CTX.
 */
struct tk_host {
    /* ABI 1.0 */
    uint32_t size; /* sizeof(struct tk_host) in the host */
    uint16_t abi_major, abi_minor;

    /* Log one line (printf format) tagged with the plugin's name.  Any
     * thread. */
    void (*log)(const struct tk_host *h, int level, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;

    /* The value of KEY in the plugin's config section ([transport] for a
     * transport, [TYPE] for an item type), or NULL when unset.  Borrowed
     * until the plugin's fini returns.  Any thread. */
    const char *(*config_get)(const struct tk_host *h, const char *key);

    /* The allocator, with the contracts of malloc/realloc/free: memory from
     * alloc or realloc is freed with free (never with libc's free), and
     * libc memory is never passed to them.  The host counts what each plugin
     * holds and returns NULL once [plugins] memory_limit_mb would be
     * exceeded; the refusal is logged with the plugin's file.  Any thread. */
    void *(*alloc)(const struct tk_host *h, size_t n);
    void *(*realloc)(const struct tk_host *h, void *p, size_t n);
    void (*free)(const struct tk_host *h, void *p);

    /* Item accessors, only inside item-type callbacks. */

    /* The field's value, or NULL when absent.  Borrowed until the callback
     * returns. */
    const char *(*field_get)(struct tk_item_ctx *ctx, const char *name);
    /* Set (value != NULL) or remove (value == NULL) a field; the host
     * copies VALUE.  Only from prepare(). */
    int (*field_set)(struct tk_item_ctx *ctx, const char *name, const char *value,
                     struct tk_error *err);
    /* Add a template variable `TYPE.NAME`; the host copies VALUE.  Only from
     * vars(). */
    int (*var_set)(struct tk_item_ctx *ctx, const char *name, const char *value,
                   struct tk_error *err);
    /* Facts about the item: "id", "title", "state", "account", "language",
     * "type", "template".  Borrowed until the callback returns. */
    const char *(*item_get)(struct tk_item_ctx *ctx, const char *what);
    /* Next value of a named, persistent counter of this plugin ("number"),
     * in the caller's transaction.  Only from prepare(). */
    int (*sequence_next)(struct tk_item_ctx *ctx, const char *name, int64_t *out,
                         struct tk_error *err);

    /* Fill ERR with code and printf-formatted message; returns code.  Any
     * thread. */
    int (*error_set)(struct tk_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;

    void *host_data; /* the host's own; plugins leave it alone */

    /* The folder of the configuration file (absolute): a plugin resolves
     * relative paths in its keys against it, as core does for its own.
     * Borrowed until the plugin's fini returns. */
    const char *config_dir;

    /* ABI 1.1 */

    /* DATE ("2026-12-31") as the item's language writes it: "31 December
     * 2026" (en), "31 december 2026" (nl); CTX NULL: English.  Writes at
     * most SIZE bytes into OUT, NUL included.  TK_EINVAL when DATE is not
     * such a date, TK_ERR when OUT is too small (then OUT is "").  From an
     * item-type callback with its CTX, or any thread with CTX NULL. */
    int (*format_date)(struct tk_item_ctx *ctx, const char *date, char *out, size_t size,
                       struct tk_error *err);
    /* AMOUNT ("1234.5", a TK_FIELD_AMOUNT value) in CURRENCY (ISO 4217,
     * "EUR") as the item's language writes it: "€1,234.50" (en),
     * "€ 1.234,50" (nl); a currency without a symbol here is written as its
     * code ("CHF 1,234.50").  Exact: never through floating point.  Same
     * contract as format_date. */
    int (*format_amount)(struct tk_item_ctx *ctx, const char *amount, const char *currency,
                         char *out, size_t size, struct tk_error *err);
    /* Check TEXT, a template in the format of docs/templates.md, as the host
     * will parse it: 0, or TK_EINVAL with ERR "ORIGIN:LINE: why".  The host
     * already checks every template of an item type's descriptor when it
     * loads the plugin; use this for template text a plugin builds or reads
     * itself.  Any thread. */
    int (*check_template)(const struct tk_host *h, const char *text, const char *origin,
                          struct tk_error *err);
    /* 1 once the host is stopping (SIGTERM, SIGINT), else 0.  A transport
     * whose waits may be long checks it about once a second and ends the
     * message in hand as TK_TEMPORARY, or TK_UNKNOWN once its data was
     * sent: the host keeps it queued, so the daemon stops within seconds
     * whatever the server does.  Any thread. */
    int (*stopping)(const struct tk_host *h);

#ifdef TK_TEST_ABI_GROWTH
    /* ABI 1.4 (test builds only, see TK_ABI_MINOR) */
    const char *test_growth;
#endif
};

/* Whether HOST has FIELD: check before using a field newer than ABI 1.0
 * (`if (TK_HOST_HAS(host, format_date)) ...`). */
#define TK_HOST_HAS(host, field)                                                                   \
    ((host) != NULL &&                                                                             \
     offsetof(struct tk_host, field) + sizeof((host)->field) <= (size_t)(host)->size)

/* The ABI 1.0 size of struct tk_host: the end of its last 1.0 field.  It
 * never changes, whatever is appended. */
#define TK_HOST_SIZE_1_0                                                                           \
    (offsetof(struct tk_host, config_dir) + sizeof(((struct tk_host *)0)->config_dir))

#ifdef __cplusplus
}
#endif
#endif /* TICKLER_PLUGIN_H */
