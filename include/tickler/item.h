/*
 * tickler/item.h - the item-type plugin ABI.
 *
 * An item type (organizer, proposal, invoice, chat, signature, approval, or
 * one of your own) is a shared object whose entry returns a
 * struct tk_item_type.  Core knows nothing about any type: everything
 * type-specific - the client events and which of them complete the item, the
 * fields and their validation, the template variables, the default
 * templates, the Lua automation verb and bulk commands - is declared here.
 *
 *     static const struct tk_item_type descr = {
 *         .hdr = TK_PLUGIN_HEADER_INIT(struct tk_item_type, TK_PLUGIN_ITEM,
 *                                      "invoice", "1.0", "Invoices to pay"),
 *         .lua_verb = "create_invoice",
 *         .events = events, .fields = fields, .templates = templates,
 *         .prepare = invoice_prepare, .vars = invoice_vars,
 *         .section = invoice_section,
 *     };
 *     TK_PLUGIN_EXPORT const struct tk_plugin_header *tk_plugin_entry(void)
 *     { return &descr.hdr; }
 *
 * All arrays end with an entry whose first pointer is NULL.  All strings and
 * arrays are static: they are borrowed by the host until it unloads the
 * plugin.  The host checks them at load and refuses the plugin, naming its
 * file and the reason, for a name outside its pattern, text with control
 * characters, a type name that is a core config section (`transport`,
 * `store`, ...), a Lua verb that is not an identifier, a bulk command that
 * is a tickler command, or a template that does not parse.
 *
 * Threads: the host calls an item type's callbacks one at a time, never
 * concurrently with each other.
 *
 * See docs/plugins.md for a complete walk-through.
 */
#ifndef TICKLER_ITEM_H
#define TICKLER_ITEM_H

#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A client event, recorded with `tickler event ITEM NAME`. */
struct tk_event_spec {
    /* ABI 1.0 */
    const char *name; /* "paid", "partially-paid": [a-z][a-z0-9_-]*, <= 32 */
    /* The item's state after the event, which completes the item and stops
     * its reminders at once ("paid"); NULL: the event is recorded in the
     * audit trail and the item stays pending (R: partial payment, chat read).
     * [a-z][a-z0-9_-]*, not "pending". */
    const char *final_state;
    const char *description; /* one line for `tickler plugins --json`/docs */
};

enum tk_field_kind {
    TK_FIELD_TEXT = 0,     /* any single line of UTF-8 */
    TK_FIELD_AMOUNT = 1,   /* decimal with up to 2 places, > 0: "450.00" */
    TK_FIELD_CURRENCY = 2, /* ISO 4217 code, three capitals: "EUR" */
    TK_FIELD_DATE = 3,     /* ISO 8601 date: "2026-12-31" */
    TK_FIELD_INTEGER = 4,  /* decimal integer >= 0 */
    TK_FIELD_URL = 5,      /* http:// or https:// URL */
};

#define TK_FIELD_REQUIRED 0x1 /* refused when absent after prepare() */

/* A field the item accepts (`--set NAME=VALUE`, Lua `fields = {...}`).
 * The host refuses unknown fields and checks each value against its kind
 * before calling prepare(). */
struct tk_field_spec {
    /* ABI 1.0 */
    const char *name; /* "amount": [a-z][a-z0-9_]*, <= 32 */
    int kind;         /* enum tk_field_kind */
    int flags;        /* TK_FIELD_* */
    const char *description;
};

/* A default template, compiled into the plugin, used when the templates
 * folder has no file of that language and name.  TEXT is in the template
 * format of docs/templates.md; the host parses every one when it loads the
 * plugin and refuses the plugin when one is malformed. */
struct tk_template_text {
    /* ABI 1.0 */
    const char *lang; /* "en", "nl": [a-z][a-z0-9_-]* */
    const char *name; /* "default", "engagement": [a-z][a-z0-9_-]* */
    const char *text;
};

/* A bulk command: one email to an account about all of its pending items of
 * this type (R4).  `tickler COMMAND ACCOUNT [--message TEXT]`. */
struct tk_bulk_spec {
    /* ABI 1.0 */
    const char *command; /* "request-approvals": [a-z][a-z0-9_-]*, no tickler command */
    const char *section; /* template section used for the email: [a-z][a-z0-9_-]* */
    const char *description;
};

struct tk_item_type {
    /* ABI 1.0 */
    struct tk_plugin_header hdr; /* kind = TK_PLUGIN_ITEM */

    /* Lua pipeline verb: job:create_invoice{...}.  NULL: only the generic
     * job:create(type, {...}).  A Lua identifier ([A-Za-z_][A-Za-z0-9_]*,
     * not a keyword), unique among the loaded types, and not a method or
     * field of job (create, move, archive, id, ...). */
    const char *lua_verb;
    const struct tk_event_spec *events;       /* required, at least one */
    const struct tk_field_spec *fields;       /* may be NULL: no fields */
    const struct tk_template_text *templates; /* required: "default" in "en" */
    const struct tk_bulk_spec *bulk;          /* may be NULL */
    const struct tk_config_key *config_keys;  /* keys of section [NAME] */

    /* Called once after loading; *state is passed to every other callback.
     * HOST is borrowed until fini returns.  On failure, init frees what it
     * allocated: fini is not called.  May be NULL. */
    int (*init)(const struct tk_host *host, void **state, struct tk_error *err);
    /* Undo init, when the host unloads the plugin.  May be NULL. */
    void (*fini)(void *state);

    /* Check and complete the fields of a new item, inside the transaction
     * that creates it (assign an invoice number, check cross-field rules).
     * A failure refuses the send; ERR reaches the user unchanged.  May be
     * NULL. */
    int (*prepare)(void *state, struct tk_item_ctx *ctx, struct tk_error *err);

    /* Add the type's template variables with host->var_set(), for each email
     * rendered.  May be NULL. */
    int (*vars)(void *state, struct tk_item_ctx *ctx, struct tk_error *err);

    /* Which template section an email of KIND uses: KIND is "notification",
     * "reminder" or "resend"; the item's state is host->item_get(ctx,
     * "state").  Return KIND itself for the ordinary case, another section
     * name ("copy": R3, a paid invoice), or NULL when no such email may be
     * sent in this state (resend of a signed document).  NULL callback:
     * KIND while the item is pending, NULL otherwise. */
    const char *(*section)(void *state, struct tk_item_ctx *ctx, const char *kind);

    /* ABI 1.2 */

    /* A person answered an email about the item (issue 15): FROM is the
     * sender's address, TEXT the reply without its quoted history (both
     * borrowed for the call, UTF-8).  Return the name of one of the type's
     * events to record it as that event (chat: "replied", R14), "" to
     * record the reply and nothing more, or NULL to leave it to the host:
     * the item's automatic reminders are put on hold for [inbound]
     * reply_hold_days, as for a plugin built before ABI 1.2 (without this
     * slot).  Called only while the item is pending.  May be NULL. */
    const char *(*on_reply)(void *state, struct tk_item_ctx *ctx, const char *from,
                            const char *text);

#ifdef TK_TEST_ABI_GROWTH
    /* ABI 1.4 (test builds only, see TK_ABI_MINOR in plugin.h) */
    const char *test_growth;
#endif
};

/* The ABI 1.0 size of struct tk_item_type: the end of its last 1.0 field.
 * The host refuses an item type whose hdr.size is smaller. */
#define TK_ITEM_TYPE_SIZE_1_0                                                                      \
    (offsetof(struct tk_item_type, section) + sizeof(((struct tk_item_type *)0)->section))

#ifdef __cplusplus
}
#endif
#endif /* TICKLER_ITEM_H */
