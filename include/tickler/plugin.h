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
 *    of struct tk_host.  A host reads an appended field only when the
 *    plugin's header.size says the field is there.
 *  - A changed callback gets a new name (`render_v2`), never a new signature.
 *
 * Plugins link against nothing of the daemon: everything they need from the
 * host comes through the struct tk_host they receive at init.
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
#define TK_ABI_MINOR 0

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

/* First member of every descriptor.  Never reorder, never remove. */
struct tk_plugin_header {
    uint16_t abi_major;      /* TK_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;      /* TK_ABI_MINOR the plugin was built with */
    uint32_t size;           /* sizeof the whole descriptor */
    int kind;                /* enum tk_plugin_kind */
    const char *name;        /* "invoice", "smtp": [a-z][a-z0-9_-]* */
    const char *version;     /* the plugin's own version, free text */
    const char *description; /* one line for `tickler plugins` */
};

#define TK_PLUGIN_HEADER_INIT(descr_type, kind_, name_, version_, descr_)                          \
    {                                                                                              \
        TK_ABI_MAJOR, TK_ABI_MINOR, (uint32_t)sizeof(descr_type), (kind_), (name_), (version_),    \
            (descr_)                                                                               \
    }

typedef const struct tk_plugin_header *(*tk_plugin_entry_fn)(void);

/* A configuration key a plugin accepts in its section.  Arrays of these end
 * with a { NULL, NULL } entry. */
struct tk_config_key {
    const char *name;
    const char *description;
};

enum tk_log_level { TK_LOG_ERROR = 0, TK_LOG_WARN = 1, TK_LOG_INFO = 2, TK_LOG_DEBUG = 3 };

/* Opaque handle the host passes to item-type callbacks: one item being
 * created, validated or rendered.  Only the accessors in struct tk_host
 * touch it; it is valid for the duration of the callback. */
struct tk_item_ctx;

/*
 * Services the host offers to plugins.  Passed to each plugin's init and
 * borrowed for the plugin's lifetime (until its fini returns).  Appended to
 * only; read `size` before using a field newer than ABI 1.0.
 */
struct tk_host {
    uint32_t size; /* sizeof(struct tk_host) in the host */
    uint16_t abi_major, abi_minor;

    /* Log one line (printf format) tagged with the plugin's name. */
    void (*log)(const struct tk_host *h, int level, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;

    /* The value of KEY in the plugin's config section ([transport] for a
     * transport, [TYPE] for an item type), or NULL when unset.  Borrowed
     * until the plugin's fini returns. */
    const char *(*config_get)(const struct tk_host *h, const char *key);

    /* The allocator: plugins allocate with these so the host can account
     * for and cap memory.  Same contracts as malloc/realloc/free. */
    void *(*alloc)(const struct tk_host *h, size_t n);
    void *(*realloc)(const struct tk_host *h, void *p, size_t n);
    void (*free)(const struct tk_host *h, void *p);

    /* Item accessors, valid only inside item-type callbacks. */

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

    /* Fill ERR with code and printf-formatted message; returns code. */
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
};

#ifdef __cplusplus
}
#endif
#endif /* TICKLER_PLUGIN_H */
