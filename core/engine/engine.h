/*
 * engine.h - what tickler does, independent of how it is asked (CLI, Lua
 * pipeline, daemon) and of which store or transport it runs on.
 *
 * Life of a command:
 *   tk_engine_open()                 config, plugins, store, templates
 *   tk_engine_begin()                one transaction
 *   tk_engine_send() / resend() / event() / ...   change items, enqueue mail
 *   tk_engine_commit()               or tk_engine_rollback(): nothing changed
 *   tk_engine_dispatch()             deliver what was enqueued (own transactions)
 *   (tk_engine_tick()                the scheduler and the dispatcher together)
 *   tk_engine_close()
 *
 * Every operation writes its audit entries and outbox rows in the caller's
 * transaction, with the engine's current actor ("cli", "pipeline",
 * "scheduler") and clock.
 */
#ifndef TK_ENGINE_H
#define TK_ENGINE_H

#include "config/config.h"
#include "db/db.h"
#include "plugin/plugin.h"
#include "store/jobs.h"
#include "store/store.h"
#include "template/template.h"

struct tk_engine;

/* Called after a client event has been recorded (inside the transaction);
 * the pipeline layer uses it for on("TYPE.EVENT") and advance = when_done.
 * A failure rolls the whole command back. */
typedef int (*tk_event_hook)(void *u, struct tk_engine *e, const struct tk_item *it,
                             const char *event, struct tk_error *err);

/* Warnings for the user (no recipients, transport down): one line each. */
typedef void (*tk_warn_fn)(void *u, const char *msg);

struct tk_engine {
    struct tk_config cfg;
    struct tk_registry plugins;
    struct tk_db *db;
    struct tk_catalog *catalog;
    tk_time now;          /* the clock (--now / $TICKLER_NOW / real time) */
    tk_time clock_offset; /* daemon: now = real time + offset */
    const char *actor;    /* "cli" by default */
    int64_t job_id;       /* pipeline: the job being worked on, else 0 */
    char *from_name, *from_addr, *msgid_domain;
    tk_event_hook on_event;
    void *on_event_data;
    tk_warn_fn warn;
    void *warn_data;
    volatile int *stop; /* daemon: set by signals, dispatch stops claiming */
};

/* Whether the daemon was asked to stop.  The flag is set by a signal
 * handler and read by the dispatch's worker threads too: atomic on both
 * sides (cmd_run.c). */
static inline int tk_engine_stopping(const struct tk_engine *e)
{
    return e->stop && __atomic_load_n(e->stop, __ATOMIC_RELAXED);
}

enum { TK_OPEN_NO_STORE = 1 /* config and plugins only */ };

/* Open everything the configuration names.  CONFIG_PATH NULL: default
 * lookup (tk_config_find: $TICKLER_CONFIG, ./tickler.ini, then
 * SYSCONFDIR/tickler/tickler.ini).  Caller closes, also on failure
 * (*e may be NULL then). */
int tk_engine_open(struct tk_engine **e, const char *config_path, tk_time now, int flags,
                   struct tk_error *err);
void tk_engine_close(struct tk_engine *e);
/* Re-read the clock in daemon mode (real time + offset). */
void tk_engine_tick_clock(struct tk_engine *e);
void tk_engine_warn(struct tk_engine *e, const char *fmt, ...) TK_PRINTF(2, 3);

/* Parse every file of the templates folder and warn (tk_engine_warn) about
 * each that is broken, with FILE:LINE.  Nothing is refused: only the emails
 * that need a broken file fail (docs/templates.md).  Returns how many are
 * broken. */
size_t tk_engine_check_templates(struct tk_engine *e);

int tk_engine_begin(struct tk_engine *e, int mode, struct tk_error *err);
int tk_engine_commit(struct tk_engine *e, struct tk_error *err);
void tk_engine_rollback(struct tk_engine *e);

/* ---- items ---------------------------------------------------------- */

/* Reminders setting from a request: -1 means "not given". */
struct tk_send_req {
    const char *type;
    int64_t account_id;
    const char *title;
    const char *template_name;  /* NULL: "default" */
    int reminders;              /* -1 template default else off; 0 off; 1 on */
    int every_days;             /* -1: template default, else config default */
    int count;                  /* -1: template default, else config default */
    const struct tk_kv *fields; /* may be NULL */
    int64_t job_id;             /* 0: none */
};

/* Create the item, validate its fields through the plugin, enqueue the
 * notification to every notify-on contact (R1), schedule reminders (R5). */
int tk_engine_send(struct tk_engine *e, const struct tk_send_req *req, int64_t *item_id,
                   struct tk_error *err);
/* R2/R3/D2: one extra email, top of the to-do list, audit entry. */
int tk_engine_resend(struct tk_engine *e, int64_t item_id, struct tk_error *err);
/* R6/D4: change reminder settings. ENABLED 0/1; EVERY -1 keep; COUNT -1 keep. */
int tk_engine_set_reminders(struct tk_engine *e, int64_t item_id, int enabled, int every, int count,
                            struct tk_error *err);
/* Record a client event; a completing event stops reminders at once.
 * Unknown event: TK_EINVAL, nothing changed. */
int tk_engine_event(struct tk_engine *e, int64_t item_id, const char *event, struct tk_error *err);
/* A bulk command declared by a plugin (R4). *n_items: items covered. */
int tk_engine_bulk(struct tk_engine *e, const char *command, int64_t account_id,
                   const char *message, int *n_items, struct tk_error *err);
/* Archive: stop the reminders of every item of JOB (no mail). */
int tk_engine_stop_job_items(struct tk_engine *e, int64_t job_id, struct tk_error *err);

/* ---- accounts and contacts -------------------------------------------- */

/* Whether NAME may name an account (one line of 1 to 200 bytes of UTF-8,
 * not only digits) and LANGUAGE (NULL: not given) is one of en, nl.
 * TK_EINVAL with the message a user sees.  Front ends call it before they
 * resolve anything else, so that every front end refuses bad input first
 * and with the same words; tk_engine_account_add checks again. */
int tk_engine_account_check(const char *name, const char *language, struct tk_error *err);
/* Add an account (LANGUAGE NULL: "en") and its audit entry
 * "account-added"; *id (may be NULL) is the new id.  NAME and LANGUAGE are
 * borrowed for the call. */
int tk_engine_account_add(struct tk_engine *e, const char *name, const char *language, int64_t *id,
                          struct tk_error *err);

/* Whether EMAIL is an address the mail builder sends to
 * (tk_mail_check_address) and NAME (NULL: none) one line of at most 200
 * bytes of UTF-8; TK_EINVAL with the reason otherwise. */
int tk_engine_contact_check(const char *email, const char *name, struct tk_error *err);
/* Add a contact to ACCOUNT (its email's domain lower-cased; NAME NULL or
 * "": none) and its audit entry "contact-added".  TK_ENOTFOUND for an
 * unknown account, TK_ECONFLICT when the account has that address
 * already.  *id may be NULL.  Strings are borrowed for the call. */
int tk_engine_contact_add(struct tk_engine *e, int64_t account, const char *email, const char *name,
                          int notify, int64_t *id, struct tk_error *err);
/* Switch the notify toggle (R1) of ACCOUNT's contact EMAIL (domain
 * compared lower-cased) and write the audit entry "contact-notify".
 * TK_ENOTFOUND when there is no such contact.  OUT (may be NULL) receives
 * the contact as it is now; the caller frees it with tk_contact_free, also
 * on failure (it is zeroed then). */
int tk_engine_contact_set_notify(struct tk_engine *e, int64_t account, const char *email,
                                 int notify, struct tk_contact *out, struct tk_error *err);

/* ---- the outbox, by hand --------------------------------------------- */

/* Queue the failed (dead) outbox message ID again, due now, its attempts
 * reset, with the audit entry "delivery-retry".  TK_ENOTFOUND when there
 * is no such message, TK_ECONFLICT when it is not failed. */
int tk_engine_outbox_retry(struct tk_engine *e, int64_t id, struct tk_error *err);
/* The same for every failed message; *n (may be NULL): how many. */
int tk_engine_outbox_retry_failed(struct tk_engine *e, size_t *n, struct tk_error *err);

/* ---- reading, for front ends ------------------------------------------ *
 *
 * Front ends read the store through these only.  Each runs on the
 * transaction the caller opened, if any, else on its own (autocommit), and
 * changes nothing.  Records filled in OUT are the caller's, freed with
 * their *_free() (tk_account_free, tk_item_free, ...), and zeroed on
 * failure.  Records handed to an FN callback are borrowed for the call;
 * FN returning non-zero stops the walk, which then returns that value.
 * TK_ENOTFOUND "no account 'X'" / "no item N" / ... when a named record
 * does not exist. */

/* The account ID_OR_NAME names: "12" is an id, anything else an exact name. */
int tk_engine_account_find(struct tk_engine *e, const char *id_or_name, struct tk_account *out,
                           struct tk_error *err);
int tk_engine_account_get(struct tk_engine *e, int64_t id, struct tk_account *out,
                          struct tk_error *err);
/* Every account, by id. */
int tk_engine_accounts_each(struct tk_engine *e, int (*fn)(void *u, const struct tk_account *a),
                            void *u, struct tk_error *err);
/* ACCOUNT's contacts by id (NOTIFY_ONLY: those with notify on, R1); the
 * caller frees *out with tk_contacts_free. */
int tk_engine_contacts_list(struct tk_engine *e, int64_t account, int notify_only,
                            struct tk_contacts *out, struct tk_error *err);

/* One item, its fields included. */
int tk_engine_item_get(struct tk_engine *e, int64_t id, struct tk_item *out, struct tk_error *err);
/* The items F selects (see struct tk_item_filter: by account, type, job,
 * pending only, or in to-do order), fields included. */
int tk_engine_items_each(struct tk_engine *e, const struct tk_item_filter *f,
                         int (*fn)(void *u, const struct tk_item *it), void *u,
                         struct tk_error *err);
/* The audit trail of ITEM (non-zero), else of ACCOUNT (non-zero), else all
 * of it, oldest first. */
int tk_engine_audit_each(struct tk_engine *e, int64_t account, int64_t item,
                         int (*fn)(void *u, const struct tk_audit_entry *ae), void *u,
                         struct tk_error *err);

/* One outbox message (its text in out->data). */
int tk_engine_outbox_get(struct tk_engine *e, int64_t id, struct tk_outbox_row *out,
                         struct tk_error *err);
/* Outbox messages by id: FAILED_ONLY the dead ones; ITEM non-zero: that
 * item's. */
int tk_engine_outbox_each(struct tk_engine *e, int failed_only, int64_t item,
                          int (*fn)(void *u, const struct tk_outbox_row *r), void *u,
                          struct tk_error *err);
/* How many messages are queued (due or not) and dead; either may be NULL. */
int tk_engine_outbox_counts(struct tk_engine *e, int64_t *queued, int64_t *dead,
                            struct tk_error *err);
/* The earliest moment something is due: a reminder or a (re)try of a
 * queued message; 0 when nothing is.  The daemon sleeps until then. */
int tk_engine_next_due(struct tk_engine *e, tk_time *out, struct tk_error *err);

/* One job (lua/pipeline.h moves jobs through their stages). */
int tk_engine_job_get(struct tk_engine *e, int64_t id, struct tk_job *out, struct tk_error *err);
/* The jobs of ACCOUNT (0: all), by id. */
int tk_engine_jobs_each(struct tk_engine *e, int64_t account,
                        int (*fn)(void *u, const struct tk_job *j), void *u, struct tk_error *err);
/* The ids of JOB's items, by id, into *ids; the caller frees it with free(). */
int tk_engine_job_items(struct tk_engine *e, int64_t job, int64_t **ids, size_t *n,
                        struct tk_error *err);

/* Which store the engine runs on. */
struct tk_store_info {
    const char *driver; /* "sqlite", "postgres"; NULL when opened without a store */
    const char *path;   /* SQLite: the file as configured, else NULL; borrowed until close */
    int schema_version; /* the newest this build knows: the store's once opened */
};
void tk_engine_store_info(const struct tk_engine *e, struct tk_store_info *out);

/* Copy a whole store into another, empty one: FROM and TO are
 * "sqlite:PATH" or "postgres:DSN" (FROM must exist and is upgraded to the
 * newest schema first).  Every row of every table, ids included, in one
 * transaction on the target: a failure leaves the target as empty as it
 * was (db/copy.c says the rest).  Needs no engine (no configuration). */
#define TK_MIGRATE_TABLES 16
struct tk_migrate_result {
    const char *from, *to; /* driver names (static) */
    int from_version;      /* the source's schema version before the copy */
    int to_version;        /* the schema version of both afterwards */
    size_t ntables;
    const char *table[TK_MIGRATE_TABLES]; /* table names (static), copy order */
    int64_t rows[TK_MIGRATE_TABLES];
    int64_t total;
};
int tk_engine_migrate_store(const char *from, const char *to, struct tk_migrate_result *out,
                            struct tk_error *err);

/* ---- scheduler and dispatch ----------------------------------------- */

/* Enqueue every reminder due at e->now, in transactions of
 * [scheduler] batch_size items.  *n: reminders enqueued. */
int tk_engine_schedule(struct tk_engine *e, size_t *n, struct tk_error *err);

struct tk_dispatch_stats {
    size_t delivered, temporary, permanent, unknown, stale;
};
/* Claim and deliver queued outbox rows due now until none is left (or
 * *e->stop).  With one connection each claim and each result is its own
 * short transaction.  With [transport] connections = N > 1, N worker
 * threads each keep their own transport connection and hand their store
 * work to this thread, which commits it in groups (dispatch.c); between
 * processes, leases and fencing tokens keep dispatchers apart. */
int tk_engine_dispatch(struct tk_engine *e, struct tk_dispatch_stats *st, struct tk_error *err);
/* A tick: tk_engine_schedule() and tk_engine_dispatch().  With N > 1
 * connections they overlap: the dispatching thread enqueues the due
 * reminders in the transactions that also record the workers' results (at
 * most 32 items each), and the workers deliver the first ones while later
 * ones are still being enqueued.  A scheduling error is returned once the
 * workers have stopped; the reminders committed before it stay enqueued,
 * each item whole.  *reminders: as *n there. */
int tk_engine_tick(struct tk_engine *e, size_t *reminders, struct tk_dispatch_stats *st,
                   struct tk_error *err);

/* The next reminder instant for IT per D1/D2/D4: 0 when none is due
 * (disabled, count reached, not pending, archived). */
tk_time tk_schedule_next(const struct tk_item *it);

/* ---- helpers shared by the front ends --------------------------------- */

const struct tk_plugin *tk_engine_type(struct tk_engine *e, const char *type, struct tk_error *err);
/* Backoff for attempt N (1-based) with full jitter, in seconds. */
tk_time tk_backoff_delay(int attempt, int base, int cap, uint32_t random);

#endif
