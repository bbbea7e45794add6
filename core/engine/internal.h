/*
 * internal.h - what the engine's own files share; not for the front ends
 * (unit tests and benchmarks that set up states by hand may include it).
 */
#ifndef TK_ENGINE_INTERNAL_H
#define TK_ENGINE_INTERNAL_H

#include "engine.h"

struct tk_engine {
    struct tk_config cfg;
    struct tk_registry plugins;
    struct tk_db *db;
    struct tk_catalog *catalog;
    tk_time now;          /* the clock (--now / $TICKLER_NOW / real time) */
    tk_time clock_offset; /* daemon: now = real time + offset */
    const char *actor;    /* "cli" by default; borrowed (tk_engine_set_actor) */
    int64_t job_id;       /* pipeline: the job being worked on, else 0 */
    char *from_name, *from_addr, *msgid_domain;
    tk_event_hook on_event;
    void *on_event_data;
    tk_warn_fn warn;
    void *warn_data;
    volatile int *stop; /* daemon: set by signals, dispatch stops claiming */
    int peer;           /* tk_engine_open_peer: cfg and plugins are the parent's */
};

/* Whether the daemon was asked to stop.  The flag is set by a signal
 * handler and read by the dispatch's worker threads too: atomic on both
 * sides (tk_engine_set_stop). */
static inline int tk_engine_stopping(const struct tk_engine *e)
{
    return e->stop && __atomic_load_n(e->stop, __ATOMIC_RELAXED);
}

/* Archive: stop the reminders of every item of JOB (no mail), each with
 * its audit entry. */
int tk_engine_stop_job_items(struct tk_engine *e, int64_t job_id, struct tk_error *err);

/* Check FIELDS against the type's field specs: unknown names and values of
 * the wrong form; AFTER_PREPARE also checks required fields. */
int tk_fields_check(const struct tk_item_type *t, const struct tk_kv *fields, int after_prepare,
                    struct tk_error *err);

/* Set up CTX for the type's callbacks on IT (fields, facts, vars). The
 * caller owns FACTS and VARS and frees them with tk_kv_free. */
int tk_ctx_init(struct tk_engine *e, struct tk_item_ctx *ctx, const struct tk_item *it,
                struct tk_kv *fields, struct tk_kv *facts, struct tk_kv *vars, const char *language,
                struct tk_error *err);

/* The template section an email of KIND about IT uses, into *SECTION; NULL
 * when no such email may be sent in the item's state.  Non-zero only on a
 * failure (out of memory), never for "not allowed". */
int tk_render_section(struct tk_engine *e, const struct tk_plugin *p, const struct tk_item *it,
                      const char *language, const char *kind, const char **section,
                      struct tk_error *err);

/* One email about one or more items to RECIPIENTS, enqueued in the outbox.
 *   IT        the item (NULL for a bulk email; then BULK_ITEMS lists them)
 *   KIND      outbox kind and idempotency part: "notification", "reminder",
 *             "resend", or the bulk command
 *   SECTION   the template section
 *   STEP      reminder number, resend number, or bulk sequence
 *   MESSAGE   free text for {{message}} (bulk), may be NULL */
struct tk_render_req {
    const struct tk_plugin *plugin;
    const struct tk_item *it;
    const struct tk_account *account;
    const char *kind, *section;
    int step;
    const char *message;
    const struct tk_strv *bulk_titles;
    int auto_submitted;
};
int tk_render_enqueue(struct tk_engine *e, const struct tk_render_req *req,
                      const struct tk_contacts *rcpts, struct tk_error *err);

/* Inside the caller's write transaction: enqueue the automatic reminder of
 * the due item ITEM_ID (its outbox rows, its next step, its audit entry), as
 * tk_engine_schedule does for each item. */
int tk_engine_remind_due(struct tk_engine *e, int64_t item_id, struct tk_error *err);

/* Append an audit entry at e->now with the engine's actor; ids 0: none. */
int tk_engine_audit(struct tk_engine *e, int64_t account, int64_t item, int64_t job,
                    const char *action, const char *detail, struct tk_error *err);

/* "ann@x.example, bob@y.example" or "nobody (no contact has notify on)"
 * into *OUT; caller frees. */
int tk_recipients_text(const struct tk_contacts *cs, char **out, struct tk_error *err);

#endif
