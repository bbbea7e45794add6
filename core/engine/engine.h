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
/*
 * engine.h - what tickler does, independent of how it is asked (the CLI,
 * Lua pipelines, the daemon, later HTTP) and of which store or transport it
 * runs on.  The engine is the only reader and the only writer of the store
 * for every front end: a front end includes this header (and
 * lua/pipeline.h for jobs), never store/ or db/ (tests/style/layers.sh).
 *
 * Life of a command:
 *   tk_engine_open()                 config, plugins, store, templates
 *   tk_engine_set_actor() ...        who asks ("cli", "api:NAME", ...)
 *   tk_engine_begin()                one transaction
 *   tk_engine_send() / resend() / account_add() / ...   the changes
 *   tk_engine_commit()               or tk_engine_rollback(): nothing changed
 *   tk_engine_dispatch()             deliver what was enqueued (own transactions)
 *   (tk_engine_tick()                the scheduler and the dispatcher together)
 *   tk_engine_close()
 *
 * The contract of every function that changes something (send, resend,
 * reminders, event, bulk, account/contact/outbox changes, job changes):
 *   - it runs inside the transaction the caller opened with
 *     tk_engine_begin() and never begins, commits or rolls back itself, so
 *     a front end may add its own rows to the same transaction (an HTTP
 *     idempotency record) and commit them together;
 *   - it checks its input first and refuses with TK_EINVAL / TK_EUSAGE /
 *     TK_ENOTFOUND / TK_ECONFLICT and a one-line message for the user; on
 *     any failure the caller rolls back and nothing is changed;
 *   - it writes its audit entry (and its outbox rows) with the engine's
 *     actor and clock at that moment;
 *   - strings and records passed in are borrowed for the call only.
 * Reads (below) run on the caller's transaction if one is open, else on
 * their own.
 *
 * The engine is not thread-safe: one thread uses it at a time (the
 * dispatcher's own threads excepted, which it manages itself).
 */
#ifndef TK_ENGINE_H
#define TK_ENGINE_H

#include "config/config.h"
#include "db/db.h"
#include "plugin/plugin.h"
#include "store/jobs.h"
#include "store/stats.h"
#include "store/store.h"
#include "store/users.h"
#include "template/template.h"

/* Opaque to front ends: set up with tk_engine_open, used through the
 * functions below. */
struct tk_engine;

/* Called after a client event has been recorded (inside the transaction);
 * the pipeline layer uses it for on("TYPE.EVENT") and advance = when_done.
 * A failure rolls the whole command back.  IT and EVENT are borrowed for
 * the call. */
typedef int (*tk_event_hook)(void *u, struct tk_engine *e, const struct tk_item *it,
                             const char *event, struct tk_error *err);

/* Warnings for the user (no recipients, transport down): one line each.
 * MSG is borrowed for the call.  May be called from the dispatcher's
 * threads (with [transport] connections > 1), one call at a time per
 * thread: a callback that writes somewhere shared must lock. */
typedef void (*tk_warn_fn)(void *u, const char *msg);

enum {
    TK_OPEN_NO_STORE = 1, /* config and plugins only */
    TK_OPEN_LAZY = 2,     /* plugins at their first use, not at open */
};

/* Open everything the configuration names.  CONFIG_PATH NULL: default
 * lookup (tk_config_find: $TICKLER_CONFIG, ./tickler.ini, then
 * SYSCONFDIR/tickler/tickler.ini); borrowed for the call.  NOW is the
 * clock (see tk_engine_set_now).  Caller closes, also on failure (*e may
 * be NULL then).
 *
 * With TK_OPEN_LAZY the plugins are not loaded here but at the first
 * operation that needs one (an item's type, the transport, a bulk
 * command; or tk_engine_load_plugins), all of them at once with every
 * check of tk_registry_load, so that a command that needs no plugin (show,
 * list, audit) starts without dlopen and a command that needs one refuses
 * with the same one-line error as before.  A configuration with a section
 * no core module reads (a plugin's [NAME], or an unknown one) loads them
 * here all the same: telling which it is needs the plugins, and a typo
 * there must refuse every command.  The keys of [transport] that only the
 * transport reads are checked when the plugins load. */
int tk_engine_open(struct tk_engine **e, const char *config_path, tk_time now, int flags,
                   struct tk_error *err);
/* Close the store, unload plugins and free E (NULL: nothing). */
void tk_engine_close(struct tk_engine *e);
/* tk_engine_close for a process that exits right after it: the same, but
 * the plugins stay mapped for the kernel to drop (tk_registry_unload_at_exit)
 * and the store's connection is left to the kernel once its commits are
 * durable (tk_db_close_at_exit). */
void tk_engine_close_at_exit(struct tk_engine *e);
/* Hand one line to the warning callback (tk_engine_set_warn). */
void tk_engine_warn(struct tk_engine *e, const char *fmt, ...) TK_PRINTF(2, 3);

/* Parse every file of the templates folder and warn (tk_engine_warn) about
 * each that is broken, with FILE:LINE.  Nothing is refused: only the emails
 * that need a broken file fail (docs/templates.md).  Returns how many are
 * broken. */
size_t tk_engine_check_templates(struct tk_engine *e);
/* The same for a process that renders right after and exits (one CLI
 * command): each file that parses is kept for the render
 * (tk_catalog_check_keep), so that it is read and parsed once. */
size_t tk_engine_check_templates_keep(struct tk_engine *e);

/* The caller's transaction around one request: MODE TK_TX_IMMEDIATE takes
 * the write lock at once (every change), TK_TX_DEFERRED for reads.  After
 * a failed change or a failed commit, roll back. */
int tk_engine_begin(struct tk_engine *e, int mode, struct tk_error *err);
int tk_engine_commit(struct tk_engine *e, struct tk_error *err);
void tk_engine_rollback(struct tk_engine *e);

/* ---- the engine's settings, for front ends ---------------------------- */

/* The clock: the business time every change records (--now, $TICKLER_NOW
 * or the real time when the command started). */
tk_time tk_engine_now(const struct tk_engine *e);
void tk_engine_set_now(struct tk_engine *e, tk_time now);
/* Daemon mode: the clock runs as real time + OFFSET (a daemon started with
 * --now keeps that distance); tk_engine_tick_clock() re-reads it. */
void tk_engine_set_clock_offset(struct tk_engine *e, tk_time offset);
void tk_engine_tick_clock(struct tk_engine *e);

/* Daemon mode: FLAG (NULL: none) is the stop flag its signal handler sets
 * with __atomic_store_n; the dispatcher's threads read it atomically, stop
 * claiming and give back what they hold, and the store stops waiting for a
 * lost database (tk_db_interrupt).  FLAG is borrowed until it is unset
 * with NULL or the engine is closed. */
void tk_engine_set_stop(struct tk_engine *e, volatile int *flag);

/* Who asks: recorded as the actor of every audit entry written from now
 * on.  "cli" by default; "pipeline" while an automation runs; a front end
 * sets its own ("api:NAME", "staff:NAME").  ACTOR (NULL: "cli") is
 * borrowed until it is replaced or the engine is closed. */
void tk_engine_set_actor(struct tk_engine *e, const char *actor);
const char *tk_engine_actor(const struct tk_engine *e);
/* The job an automation works on (0: none): items created meanwhile
 * belong to it, audit entries name it. */
void tk_engine_set_current_job(struct tk_engine *e, int64_t job);
int64_t tk_engine_current_job(const struct tk_engine *e);

/* The configuration, read-only; borrowed until the engine is closed. */
const struct tk_config *tk_engine_config(const struct tk_engine *e);
/* Load the plugins now if they are not yet (TK_OPEN_LAZY): 0, or the
 * loader's one-line refusal, the same on every call. */
int tk_engine_load_plugins(struct tk_engine *e, struct tk_error *err);
/* The same for a use that needs only the item type TYPE (NULL: none) and
 * the transport: when the plugin check cache holds a snapshot of this very
 * plugin set and configuration that passed a whole load, only those two
 * are loaded (tk_registry_load_known); else everything, as
 * tk_engine_load_plugins.  A later tk_engine_load_plugins loads the whole
 * set beside them.  tk_engine_plugins() then lists only what is loaded. */
int tk_engine_load_plugins_for(struct tk_engine *e, const char *type, struct tk_error *err);
/* The loaded plugins, read-only (to list them, or to look up a bulk
 * command); borrowed until the engine is closed.  Opened with
 * TK_OPEN_LAZY, call tk_engine_load_plugins first: until then (or when it
 * failed) the registry is empty, and after tk_engine_load_plugins_for
 * alone it may hold only the plugins that call asked for. */
const struct tk_registry *tk_engine_plugins(const struct tk_engine *e);
/* Whether a store is open (not with TK_OPEN_NO_STORE). */
int tk_engine_has_store(const struct tk_engine *e);
/* Send warnings to FN (NULL: "tickler: warning: MSG" on stderr). */
void tk_engine_set_warn(struct tk_engine *e, tk_warn_fn fn, void *u);
/* The client-event hook (one at a time; NULL: none).  U is borrowed until
 * the hook is replaced or the engine is closed. */
void tk_engine_set_event_hook(struct tk_engine *e, tk_event_hook fn, void *u);
/* Whether the event hook (same U) would run nothing for an item of TYPE
 * (no job) on EVENT: non-zero when it surely changes nothing.  Without it
 * every hooked event counts as possibly changing (tk_engine_event_item). */
typedef int (*tk_event_quiet_fn)(void *u, const char *type, const char *event);
void tk_engine_set_event_quiet(struct tk_engine *e, tk_event_quiet_fn fn);
tk_event_hook tk_engine_event_hook(const struct tk_engine *e, void **u);
/* Read the firm's templates again (SIGHUP). */
void tk_engine_reload_templates(struct tk_engine *e);

/* ---- items ---------------------------------------------------------- */

/* A new item.  Reminder settings: -1 means "not given".  The strings and
 * FIELDS are borrowed for the call. */
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
    /* Issue 14: the due date "YYYY-MM-DD" (the due_date field, any type;
     * NULL: the fields' own, if any) and an anchored schedule "-7,0,7"
     * (days relative to it; NULL: the template's, if any; "none": every N
     * days even when the template has one).  A schedule needs a due date. */
    const char *due;
    const char *schedule;
};

/* Create the item, validate its fields through the plugin, enqueue the
 * notification to every notify-on contact (R1), schedule reminders (R5);
 * audit entry "sent".  *item_id is the new id.  TK_EINVAL for an unknown
 * type, a bad title or field, TK_ENOTFOUND for an unknown account or
 * template. */
int tk_engine_send(struct tk_engine *e, const struct tk_send_req *req, int64_t *item_id,
                   struct tk_error *err);
/* R2/R3/D2: one extra email, top of the to-do list, audit entry
 * "resent".  TK_ECONFLICT when the item's state allows no resend. */
int tk_engine_resend(struct tk_engine *e, int64_t item_id, struct tk_error *err);
/* R6/D4: change reminder settings, audit entry "reminders".  ENABLED 0/1;
 * EVERY -1 keep; COUNT -1 keep. */
int tk_engine_set_reminders(struct tk_engine *e, int64_t item_id, int enabled, int every, int count,
                            struct tk_error *err);
/* As tk_engine_set_reminders, and (issue 14) SCHEDULE "-7,0,7" (NULL:
 * keep; "none": back to every N days) and DUE "YYYY-MM-DD" (NULL: keep; sets
 * the due_date field).  A schedule needs a due date; giving EVERY with a
 * schedule is refused (pick one). */
int tk_engine_set_reminders_ex(struct tk_engine *e, int64_t item_id, int enabled, int every,
                               int count, const char *schedule, const char *due,
                               struct tk_error *err);
/* Record a client event (audit entry "event"); a completing event stops
 * reminders at once, then the event hook runs (pipelines).  Unknown
 * event: TK_EINVAL, nothing changed. */
int tk_engine_event(struct tk_engine *e, int64_t item_id, const char *event, struct tk_error *err);
/* tk_engine_event with fields (`event ITEM partially-paid --set paid=200.00`):
 * FIELDS (may be NULL) are checked against the type's field specs and then
 * stored on the item: a field of kind amount adds to the value stored
 * (several partial payments add up), any other kind replaces it; the
 * plugin's prepare() then checks the item as a whole (an invoice refuses
 * payments above its amount).  The audit entry names the fields. */
int tk_engine_event_fields(struct tk_engine *e, int64_t item_id, const char *event,
                           const struct tk_kv *fields, struct tk_error *err);
/* tk_engine_event, handing back in *OUT the item as the event left it (what
 * tk_engine_item_get reads right after) when no event hook could have
 * changed it since: no item job, and the hook says (tk_event_quiet_fn,
 * tk_engine_set_event_quiet) it has nothing for this type and event.
 * Returns 1 with *OUT empty when the hook may have changed it (read it
 * again), 0 with *OUT filled (free it with tk_item_free), or an error with
 * *OUT empty.  For the API's answer: one read of the item fewer a write. */
int tk_engine_event_item(struct tk_engine *e, int64_t item_id, const char *event,
                         struct tk_item *out, struct tk_error *err);
/* Holds (issue 14).  Put ITEM on hold: no automatic email until released or
 * until UNTIL (0: until released), REASON (may be NULL) recorded; audit
 * "hold".  Holding a held item replaces its end and reason.  TK_EINVAL for
 * an UNTIL not in the future or a bad reason; TK_ECONFLICT when the item is
 * not pending.  The inbound side calls it with "client replied". */
int tk_engine_hold_item(struct tk_engine *e, int64_t item, tk_time until, const char *reason,
                        struct tk_error *err);
/* End ITEM's hold now (audit "released"); its next reminder is due as D1
 * says, at the next opening.  TK_ECONFLICT when it is not on hold. */
int tk_engine_release_item(struct tk_engine *e, int64_t item, struct tk_error *err);
/* The same for every pending item of ACCOUNT (items sent later are not
 * held); *N (may be NULL): items changed.  Releasing skips items not held. */
int tk_engine_hold_account(struct tk_engine *e, int64_t account, tk_time until, const char *reason,
                           size_t *n, struct tk_error *err);
int tk_engine_release_account(struct tk_engine *e, int64_t account, size_t *n,
                              struct tk_error *err);
/* A bulk command declared by a plugin (R4): one email about every pending
 * item of that type of ACCOUNT_ID, each item counting as resent.
 * *n_items: items covered.  MESSAGE (may be NULL) fills {{message}}. */
int tk_engine_bulk(struct tk_engine *e, const char *command, int64_t account_id,
                   const char *message, int *n_items, struct tk_error *err);
/* What tk_engine_bulk would send, built at the engine's clock with nothing
 * written (sequences peeked): the items it covers and one message per
 * recipient (notify-on, not suppressed; none: nobody would get it), handed
 * to FN once, everything borrowed for the call.  The same refusals as
 * tk_engine_bulk.  For the console's confirm step and the API's dry_run.
 * struct tk_preview_mail is preview's (below). */
struct tk_preview_mail;
struct tk_bulk_preview {
    const char *command, *type, *account_name;
    int64_t account_id;
    size_t nitems;
    const int64_t *item_ids;
    const char *const *titles;
    size_t nmails;
    const struct tk_preview_mail *mails;
};
int tk_engine_bulk_preview(struct tk_engine *e, const char *command, int64_t account_id,
                           const char *message, int (*fn)(void *u, const struct tk_bulk_preview *p),
                           void *u, struct tk_error *err);

/* ---- jobs ------------------------------------------------------------- *
 *
 * The records of jobs moving through a pipeline.  Front ends do not call
 * these: they go through lua/pipeline.h, which knows the stages and runs
 * the automations, and calls these to record what happened. */

/* Insert an active job of PIPELINE for ACCOUNT in STAGE, and its audit
 * entry "job-added"; *id (may be NULL) is the new id. */
int tk_engine_job_add(struct tk_engine *e, const char *pipeline, const char *stage, int64_t account,
                      const char *title, int64_t *id, struct tk_error *err);
/* Record that JOB is in STAGE now, with the audit entry "job-moved" (WHY,
 * may be NULL, is appended to its detail). */
int tk_engine_job_set_stage(struct tk_engine *e, int64_t job, const char *stage, const char *why,
                            struct tk_error *err);
/* Archive JOB: state "archived", the reminders of its items stop (each
 * with the audit entry "archived"), then "job-archived".  A job archived
 * already is left as it is (success). */
int tk_engine_job_archive(struct tk_engine *e, int64_t job, struct tk_error *err);

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

/* An account's calendar and escalation settings (issue 14), for
 * tk_engine_account_set.  Each string: NULL keeps the current value; ""
 * or "default" goes back to the [calendar] default; manager "none" (or
 * "") removes it.  timezone: an IANA name (tk_calendar_check_zone);
 * window: a send window spec, stored in canonical form; holidays: "nl",
 * "none" or FILE.ics (a relative path resolves against the configuration's
 * folder); manager: a staff address (tk_mail_check_address).  digest:
 * TK_ACCOUNT_KEEP, -1 the default, 0 off, 1 on. */
#define TK_ACCOUNT_KEEP (-2)
struct tk_account_settings {
    const char *timezone, *window, *holidays, *manager;
    int digest;
};
/* Check S before anything else is done (front ends refuse bad input
 * first); a relative .ics path is read against E's configuration folder (E
 * NULL: the working directory).  TK_EINVAL / TK_EIO with a one-line
 * message. */
int tk_engine_account_settings_check(const struct tk_engine *e, const struct tk_account_settings *s,
                                     struct tk_error *err);
/* Change ACCOUNT's settings as S says, with the audit entry
 * "account-settings" naming what changed (none when S asks nothing).
 * TK_ENOTFOUND for an unknown account.  Calendars are looked up by their
 * settings, so the change applies to the account's next automatic email.
 * S is borrowed for the call. */
int tk_engine_account_set(struct tk_engine *e, int64_t account, const struct tk_account_settings *s,
                          struct tk_error *err);
/* What an account's calendar is in effect: its own settings, else the
 * [calendar] defaults, else UTC / always / none.  Strings borrowed from A
 * or the configuration. */
struct tk_account_view {
    const char *timezone, *window, *holidays;
};
void tk_engine_account_view(const struct tk_engine *e, const struct tk_account *a,
                            struct tk_account_view *out);
/* Whether A's automatic reminders go into digests: its --digest, else
 * [reminders] digest (JSON digest_effective). */
int tk_engine_digest_effective(const struct tk_engine *e, const struct tk_account *a);
/* The local time of T in ACCOUNT's zone, "2026-12-07 09:00 America/New_York",
 * into BUF (300 bytes suffice); "" when the calendar cannot be built. */
void tk_engine_account_local_time(struct tk_engine *e, const struct tk_account *a, tk_time t,
                                  char *buf, size_t size);

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

/* ---- data lifecycle (lifecycle.c, backup.c; docs/data.md) ------------- */

/* Rename ACCOUNT to NAME (tk_engine_account_check's rules), with the audit
 * entry "account-renamed".  TK_ENOTFOUND, TK_ECONFLICT when another
 * account has NAME; its own name changes nothing and records nothing. */
int tk_engine_account_rename(struct tk_engine *e, int64_t account, const char *name,
                             struct tk_error *err);
/* Remove ACCOUNT's contact EMAIL (domain compared lower-cased): no more
 * mail to it from this account, its queued messages cancelled (outbox
 * state "cancelled"); audit entry "contact-removed".  *CANCELLED (may be
 * NULL): how many.  TK_ENOTFOUND when there is no such contact. */
int tk_engine_contact_remove(struct tk_engine *e, int64_t account, const char *email,
                             int64_t *cancelled, struct tk_error *err);
/* Withdraw the pending ITEM: state "withdrawn" (off the to-do list, no
 * reminders, no resend), its queued messages cancelled; audit entry
 * "withdrawn".  TK_ECONFLICT when it is not pending. */
int tk_engine_item_withdraw(struct tk_engine *e, int64_t item, struct tk_error *err);
/* Remove ACCOUNT and every row about it (contacts, jobs, items, fields,
 * outbox messages and their texts); the audit trail stays, with the entry
 * "account-removed" (counts, no name).  Refused (TK_ECONFLICT) while it has
 * pending items that are not archived, unless FORCE, which withdraws them
 * first.  OUT (may be NULL): the counts. */
struct tk_account_removal {
    int64_t contacts, items, withdrawn, jobs, messages;
};
int tk_engine_account_remove(struct tk_engine *e, int64_t account, int force,
                             struct tk_account_removal *out, struct tk_error *err);
/* Erase the address EMAIL everywhere (domain compared lower-cased): its
 * contacts on every account are deleted; in the outbox (recipient,
 * idempotency key, message texts, replies) and the audit trail it becomes
 * a marker "erased-N@invalid" (out->marker), so rows, counts and dates
 * stay; the contacts' names in the texts of the messages to it become the
 * marker too, and those messages' To: header is rewritten whole.  Queued
 * messages to it are cancelled first, never sent.  An audit entry
 * "contact-erased" on each account that had it.  Only the address
 * standing whole is replaced (not within a longer one); one that only the
 * audit trail still names is erased there.  TK_ENOTFOUND when no contact,
 * message or audit entry has it; TK_ECONFLICT while a dispatcher
 * holds a message to it (it may be on the wire): try again later. */
struct tk_erasure {
    char marker[64];
    int64_t accounts, contacts, messages, cancelled, audit;
};
int tk_engine_erase_contact(struct tk_engine *e, const char *email, struct tk_erasure *out,
                            struct tk_error *err);
/* ACCOUNT's outbox messages, its items' included, by id, with their texts
 * (NULL once [retention] dropped them): for the export. */
int tk_engine_account_outbox_each(struct tk_engine *e, int64_t account,
                                  int (*fn)(void *u, const struct tk_outbox_row *r), void *u,
                                  struct tk_error *err);
/* [retention] message_days: drop the texts of messages sent more than
 * that many days before the clock (their rows stay: recipient, dates,
 * state; the audit trail is not touched).  Own short transactions of at
 * most 500 messages, at most 5000 per call; called by tk_engine_tick, and
 * one index probe when nothing is old.  *N: texts dropped. */
int tk_engine_retention(struct tk_engine *e, size_t *n, struct tk_error *err);

/* Copy the SQLite store into FILE with SQLite's online backup API, while
 * other processes (the daemon) go on writing: a consistent snapshot, made
 * 0600 in FILE's folder and renamed over FILE when complete.  TK_EINVAL on
 * PostgreSQL (use pg_dump; docs/data.md).  FILE is borrowed for the call.
 * Outside any transaction. */
int tk_engine_backup(struct tk_engine *e, const char *file, struct tk_error *err);
/* Replace the SQLite store's contents with backup FILE in one transaction
 * (SQLite's backup API in the other direction), after checking that FILE
 * is a sound tickler store whose schema this build knows; an older schema
 * is migrated afterwards.  Refused (TK_ECONFLICT) while a daemon holds the
 * store (tk_engine_daemon_lock).  *VERSION (may be NULL): FILE's schema
 * version.  Outside any transaction. */
int tk_engine_restore(struct tk_engine *e, const char *file, int *version, struct tk_error *err);
/* The daemon's mark on a SQLite store (a shared flock(2) on the file, held
 * until the engine is closed), so that restore refuses while one runs; a
 * restore holds it exclusively.  No-op on PostgreSQL. */
int tk_engine_daemon_lock(struct tk_engine *e, struct tk_error *err);
/* Lift the suppression of ACCOUNT's contact EMAIL (issue 15): the address
 * gets email again, for every account; audit entry "unsuppressed".
 * TK_ENOTFOUND when the account has no such contact or the address is not
 * suppressed. */
int tk_engine_contact_unsuppress(struct tk_engine *e, int64_t account, const char *email,
                                 struct tk_error *err);
/* Whether ACCOUNT has notify-on contacts and every one of them is
 * suppressed ("nobody left": its automatic reminders wait).  A read. */
int tk_engine_account_nobody_left(struct tk_engine *e, int64_t account, int *nobody,
                                  struct tk_error *err);

/* ---- what comes back (issue 15, docs/inbound.md) ----------------------- */

/* One message that came back, as `tickler inbound` reads it from standard
 * input or the IMAP poll fetches it.  DATA (LEN bytes) and ENVELOPE_RCPT
 * are borrowed for the call. */
struct tk_engine_inbound_req {
    const char *data;
    size_t len;
    const char *envelope_rcpt; /* --recipient / ${recipient}; NULL: from the headers */
    int headers_only;          /* DATA is the header section of a larger message */
};

/* What was done about it. */
struct tk_engine_inbound_outcome {
    char cls[16]; /* tk_inbound_class_name(): hard-bounce, soft-bounce, auto-reply, reply, unmatched
                   */
    char action[32];   /* suppressed, recorded, replied, ignored, unmatched, duplicate */
    int duplicate;     /* its key was recorded before: nothing done */
    int64_t item_id;   /* the item it is about, 0: none */
    int64_t outbox_id; /* the message of ours it answers or bounces, 0: none */
    char detail[400];  /* one line for the log */
};

/* Classify one message and act on it, inside the caller's transaction:
 * a verified hard bounce suppresses the address; a soft bounce and an
 * automatic reply are recorded in the item's audit trail; a person's reply
 * to one of our messages is recorded, forwarded to staff ([inbound]
 * forward_to) and handed to the item's plugin (on_reply; chat records its
 * "replied" event); anything else is recorded as unmatched and logged.
 * The message is recorded under its key: one handed over again (*OUT
 * duplicate) changes nothing.  Returns 0 when the message was recorded or
 * deliberately ignored; non-zero only when it could not be processed (the
 * store, memory): roll back, and the sender keeps it to retry. */
int tk_engine_inbound(struct tk_engine *e, const struct tk_engine_inbound_req *rq,
                      struct tk_engine_inbound_outcome *out, struct tk_error *err);

/* Whether [inbound] url is set (tickler run polls a mailbox). */
int tk_engine_inbound_polls(const struct tk_engine *e);

struct tk_engine_poll_stats {
    unsigned found, processed, failed, duplicates;
};
/* One poll of the [inbound] url mailbox: each unprocessed message goes
 * through tk_engine_inbound in a transaction of its own, and is flagged
 * (or moved) on the server only after that commit.  Call outside a
 * transaction.  STATS may be NULL.  Errors as tk_inbound_imap_poll. */
int tk_engine_inbound_poll(struct tk_engine *e, struct tk_engine_poll_stats *stats,
                           struct tk_error *err);

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
/* Only the name of account ID in *NAME (the caller frees it with free();
 * NULL on failure): tk_engine_account_get's name, without the rest. */
int tk_engine_account_name(struct tk_engine *e, int64_t id, char **name, struct tk_error *err);
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
/* The digests (outbox rows of kind "digest", docs/reminders.md) that
 * ITEM's reminder steps went in, oldest first: FN(U, ROW) for each that
 * is still in the outbox.  A digest lists several items, so its row names
 * none; each member's "reminder" audit entry names it. */
int tk_engine_item_digests_each(struct tk_engine *e, int64_t item,
                                int (*fn)(void *u, const struct tk_outbox_row *r), void *u,
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

/* How many of JOB's items are pending and not archived. */
int tk_engine_job_pending(struct tk_engine *e, int64_t job, int64_t *n, struct tk_error *err);

/* Which store the engine runs on. */
struct tk_engine_store_info {
    const char *driver; /* "sqlite", "postgres"; NULL when opened without a store */
    const char *path;   /* SQLite: the file as configured, else NULL; borrowed until close */
    int schema_version; /* the newest this build knows: the store's once opened */
};
void tk_engine_store_info(const struct tk_engine *e, struct tk_engine_store_info *out);

/* What `tickler check` reads of the store CFG names, with no engine:
 * DRIVER (static; the configured one, also when the store cannot be
 * opened), VERSION (the store's schema version; 0 for none, or when it
 * cannot be read) and NEWEST (this build's).  The store is opened, read
 * and closed; nothing is created or migrated, but opening a SQLite file
 * that is not there creates an empty one: the caller looks first.
 * Non-zero when the store cannot be opened (ERR says why). */
struct tk_engine_store_check {
    const char *driver;
    int version, newest;
};
int tk_engine_store_check(const struct tk_config *cfg, struct tk_engine_store_check *out,
                          struct tk_error *err);

/* Copy a whole store into another, empty one: FROM and TO are
 * "sqlite:PATH" or "postgres:DSN" (FROM must exist and is upgraded to the
 * newest schema first).  Every row of every table, ids included, in one
 * transaction on the target: a failure leaves the target as empty as it
 * was (db/copy.c says the rest).  Needs no engine (no configuration). */
#define TK_MIGRATE_TABLES 32
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

/* ---- staff users and their console sessions (users.c) ----------------- *
 *
 * The web console's logins (issue 18, docs/console.md).  A password is
 * kept only as libsodium's Argon2id string (crypto_pwhash_str), never in
 * clear, never in an audit entry.  Changes run in the caller's
 * transaction and write their audit entry with the engine's actor, as
 * every change does. */

/* Whether NAME may name a user (1 to 64 bytes of letters, digits, '.',
 * '_', '-', '@', not starting with '-') and LANGUAGE (NULL: not given) is
 * one of en, nl; TK_EINVAL with the message a user sees. */
int tk_engine_user_check(const char *name, const char *language, struct tk_error *err);
/* Whether PASSWORD (LEN bytes, may hold any byte but NUL) is acceptable:
 * 8 to 1024 bytes; TK_EINVAL otherwise. */
int tk_engine_password_check(const char *password, size_t len, struct tk_error *err);
/* Add user NAME (LANGUAGE NULL: "en") with PASSWORD hashed; audit entry
 * "user-added".  TK_ECONFLICT when NAME exists.  *id may be NULL.  All
 * strings are borrowed for the call. */
int tk_engine_user_add(struct tk_engine *e, const char *name, const char *language,
                       const char *password, int64_t *id, struct tk_error *err);
/* Remove user NAME and end its sessions; audit entry "user-removed".
 * TK_ENOTFOUND "no user 'NAME'". */
int tk_engine_user_remove(struct tk_engine *e, const char *name, struct tk_error *err);
/* A new password for NAME; every session of NAME ends; audit entry
 * "user-password". */
int tk_engine_user_set_password(struct tk_engine *e, const char *name, const char *password,
                                struct tk_error *err);
/* Every user, by name (records borrowed for the call). */
int tk_engine_users_each(struct tk_engine *e, int (*fn)(void *u, const struct tk_user *us), void *u,
                         struct tk_error *err);

/* The cookie value of a session: 64 lowercase hex digits (256 random
 * bits) and a NUL. */
#define TK_SESSION_TOKEN_LEN 64
/* Check NAME's PASSWORD and open a session of [http] session_hours: its
 * token into TOKEN (TK_SESSION_TOKEN_LEN + 1 bytes), the user into *OUT
 * (caller frees with tk_user_free; zeroed on failure).  Audit entry
 * "login" with actor "staff:NAME".  An unknown user and a wrong password
 * are the same TK_EINVAL "wrong user name or password" and take the same
 * time.  Expired sessions are deleted on the way. */
int tk_engine_login(struct tk_engine *e, const char *name, const char *password, char *token,
                    struct tk_user *out, struct tk_error *err);
/* The user of the session TOKEN, when it is open and not expired at the
 * engine's clock; TK_ENOTFOUND otherwise.  Reads only. */
int tk_engine_session_user(struct tk_engine *e, const char *token, struct tk_user *out,
                           struct tk_error *err);
/* End the session TOKEN (none: success); audit entry "logout" with the
 * engine's actor when there was one. */
int tk_engine_logout(struct tk_engine *e, const char *token, struct tk_error *err);

/* ---- what the staff console shows (console.c) ------------------------ */

#define TK_DASH_DAYS 30
#define TK_DASH_MAX_TYPES 32
#define TK_DASH_MAX_AFTER 11 /* completions after 0..9 reminders, and 10 or more */
struct tk_dashboard {
    size_t ntypes;
    struct {
        char name[32];
        int64_t pending;
    } types[TK_DASH_MAX_TYPES]; /* pending items by type, by name */
    int64_t due_today;          /* reminders due from now to the end of the UTC day */
    int64_t due_week;           /* ... from now to 7 days later */
    int64_t queued, failed;     /* outbox */
    tk_time first_day;          /* the first of the chart's days (00:00 UTC) */
    int64_t sent[TK_DASH_DAYS]; /* emails delivered per day, oldest first */
    int64_t completed[TK_DASH_DAYS];
    int64_t completed_after[TK_DASH_MAX_AFTER]; /* by reminders sent before completion */
};
/* The dashboard's figures at the engine's clock. */
int tk_engine_dashboard(struct tk_engine *e, struct tk_dashboard *out, struct tk_error *err);

/* One automatic email to come: item IT's reminder STEP (1-based) at AT. */
struct tk_upcoming {
    int64_t item_id, account_id;
    const char *type, *title, *account_name; /* borrowed for the call */
    int step, count;
    tk_time at;
};
/* The automatic reminders of the next DAYS days from the engine's clock,
 * soonest first, at most LIMIT: tk_engine_preview's list (holds, send
 * windows and holidays applied) without building the messages.  FN may
 * return TK_PREVIEW_STOP. */
int tk_engine_upcoming(struct tk_engine *e, int days, size_t limit,
                       int (*fn)(void *u, const struct tk_upcoming *up), void *u,
                       struct tk_error *err);
/* ---- preview (issue 14): the automatic emails to come ----------------- */

/* One recipient's message of a previewed email: the address, the subject,
 * and (when asked to render) the whole message as it would be sent. */
struct tk_preview_mail {
    const char *to, *subject, *message; /* message NULL without render */
};
/* One automatic email to come, as the tick would send it: item ITEM_ID's
 * reminder STEP of COUNT at AT (UTC; LOCAL in the client's zone).  MOVED:
 * NULL, or why it is not at the step's own moment (the next opening after
 * a send window or a holiday, the end of a hold, nobody to write to).
 * MAILS: one per notify-on contact that is not suppressed (none: nobody
 * gets it).  ERROR: the item's own failure (a broken template, no plugin):
 * the tick would skip it and retry; nothing later of the item is listed.
 * Everything is borrowed for the call. */
struct tk_preview {
    int64_t item_id, account_id;
    const char *type, *title, *account_name;
    int step, count;
    tk_time at;
    const char *local, *moved, *error;
    size_t nmails;
    const struct tk_preview_mail *mails;
    /* "reminder" (step STEP of COUNT); "notification": the item's first
     * email to contacts that have had none about it (nobody.c: they get
     * it before any reminder; STEP 0); "escalation": the email to the
     * account's manager after the last step (escalate.c; STEP = COUNT;
     * no mail when the account has no manager); "digest": a reminder
     * step (STEP of COUNT) of a digest account that goes out inside one
     * digest with other items' steps due for the same address at the
     * same moment (digest.c): each such mail has the digest's subject
     * (and with --render its text), and every item in it has its own
     * entry of kind "digest" */
    const char *kind;
};
#define TK_PREVIEW_DAYS_MAX 366
/* A callback's "enough" (not an error): the walk stops, 0 is returned. */
#define TK_PREVIEW_STOP (-3)
/* Every automatic reminder of the next DAYS days (1..TK_PREVIEW_DAYS_MAX)
 * from the engine's clock, of ACCOUNT (0: all), soonest first, at most
 * LIMIT: the scheduler's own decisions (holds, send windows, holidays,
 * D1 from each email) and messages (RENDER: the whole text) played forward
 * without writing anything; sequences are shown, not taken.  Reads in one
 * read transaction unless the caller has one.  TK_ENOTFOUND: no such
 * account; TK_EINVAL: DAYS out of range. */
int tk_engine_preview(struct tk_engine *e, int64_t account, int days, int render, size_t limit,
                      int (*fn)(void *u, const struct tk_preview *p), void *u,
                      struct tk_error *err);
/* The same for item ITEM alone (its next reminder first; LIMIT 1: only
 * that one).  TK_ENOTFOUND: no such item. */
int tk_engine_preview_item(struct tk_engine *e, int64_t item, int days, int render, size_t limit,
                           int (*fn)(void *u, const struct tk_preview *p), void *u,
                           struct tk_error *err);

/* Accounts whose name contains QUERY (NULL: all), by name; see
 * tk_store_account_search. */
int tk_engine_account_search(struct tk_engine *e, const char *query, size_t offset, size_t limit,
                             int (*fn)(void *u, const struct tk_account *a), void *u, int *more,
                             struct tk_error *err);
/* The queued outbox messages, next attempt first, at most LIMIT (rows
 * borrowed for the call, their text included). */
int tk_engine_outbox_queued_each(struct tk_engine *e, size_t limit,
                                 int (*fn)(void *u, const struct tk_outbox_row *r), void *u,
                                 struct tk_error *err);

/* ---- scheduler and dispatch ----------------------------------------- *
 *
 * Unlike the changes above, these open and commit transactions of their
 * own, short ones: call them outside a transaction (after the command's
 * commit), with the engine's actor as it is ("scheduler" and "dispatcher"
 * are written by them). */

/* Enqueue every reminder due at the engine's clock, in transactions of
 * [scheduler] batch_size items.  *n: reminders enqueued. */
int tk_engine_schedule(struct tk_engine *e, size_t *n, struct tk_error *err);

/* An item whose reminder could not be made in the last schedule (a bad
 * address, a broken or missing template, a missing plugin): it was
 * skipped, its failure recorded (tk_engine_why) and it is retried at
 * RETRY_AT; the other items went on. */
#define TK_ENGINE_SKIPS_MAX 100
struct tk_engine_skip {
    int64_t item, account;
    tk_time retry_at;
    char why[TK_ERROR_MAX];
};
/* What item ITEM waits for (`tickler why`): the item, its account, its
 * last failure and its next email.  Caller frees OUT with
 * tk_engine_why_free (also after a failure).  TK_ENOTFOUND: no such item. */
struct tk_engine_why {
    struct tk_item item;
    struct tk_account account;
    struct tk_item_fault fault; /* count 0: the last reminder did not fail */
    tk_time next;               /* next reminder or retry; 0: none */
    int retry;                  /* NEXT is a retry after FAULT */
    int due_now;                /* NEXT is at or before the clock: the next tick */
    int type_loaded;            /* the item type's plugin is loaded */
    int nobody_left;            /* every notify-on contact is suppressed (issue 15) */
    tk_time escalation;         /* the manager is told then (NEXT is it); 0: not pending */
    int escalated;              /* the manager was told already (audit "escalated") */
    int nobody_notified;        /* the account has no notify-on contact: reminders wait */
    /* issue 14: the next automatic email as `preview` sees it (the
     * scheduler's own decisions played forward, up to a year ahead) */
    int has_send; /* 0: no automatic email to come */
    tk_time send_at;
    int send_step, send_count;
    size_t send_recipients;                /* 0: it goes to nobody */
    char send_kind[16];                    /* tk_preview's kind */
    char send_local[300], send_moved[600]; /* "" when not moved */
    char send_error[TK_ERROR_MAX];         /* "": none */
    /* a reminder of a digest account (digest.c): it goes out inside the
     * digest of its moment to each address in SEND_TO ("a, b"), alone as
     * its own reminder when no other item's is due for that address then */
    int send_digest;
    char send_to[600];
    size_t notify_on;              /* the account's notify-on contacts */
    struct tk_contacts suppressed; /* those of them that are suppressed */
};
int tk_engine_why(struct tk_engine *e, int64_t item, struct tk_engine_why *out,
                  struct tk_error *err);
void tk_engine_why_free(struct tk_engine_why *w);

/* The items the last tk_engine_schedule or tk_engine_tick skipped: returns
 * how many; *LIST (borrowed until the next schedule) holds the first
 * *LISTED of them (at most TK_ENGINE_SKIPS_MAX). */
size_t tk_engine_skipped(const struct tk_engine *e, const struct tk_engine_skip **list,
                         size_t *listed);

struct tk_dispatch_stats {
    size_t delivered, temporary, permanent, unknown, stale;
};
/* Claim and deliver queued outbox rows due now until none is left (or
 * the stop flag is set).  With one connection each claim and each result is its own
 * short transaction.  With [transport] connections = N > 1, N worker
 * threads each keep their own transport connection and hand their store
 * work to this thread, which commits it in groups (dispatch.c); between
 * processes, leases and fencing tokens keep dispatchers apart. */
int tk_engine_dispatch(struct tk_engine *e, struct tk_dispatch_stats *st, struct tk_error *err);
/* A tick: tk_engine_retention() (its failure only warns), then
 * tk_engine_schedule() and tk_engine_dispatch().  With N > 1
 * connections they overlap: the dispatching thread enqueues the due
 * reminders in the transactions that also record the workers' results (at
 * most 32 items each), and the workers deliver the first ones while later
 * ones are still being enqueued.  A scheduling error is returned once the
 * workers have stopped; the reminders committed before it stay enqueued,
 * each item whole.  *reminders: as *n there. */
int tk_engine_tick(struct tk_engine *e, size_t *reminders, struct tk_dispatch_stats *st,
                   struct tk_error *err);

/* The next reminder instant for IT per D1/D2/D4: 0 when none is due
 * (disabled, count reached, not pending, archived).  An anchored schedule
 * (rem.nsched > 0) is computed in UTC here: the engine uses
 * tk_schedule_next_in with the client's calendar (schedule.c). */
tk_time tk_schedule_next(const struct tk_item *it);
struct tk_calendar;
/* As tk_schedule_next, an anchored schedule's steps in CAL's zone and
 * window (NULL: UTC, always open); *STEP (may be NULL) = the 1-based step
 * that moment sends, 0 with none.  Anchored steps whose moment is not
 * after rem.last_mail_at are skipped (schedule.c). */
tk_time tk_schedule_next_in(const struct tk_item *it, const struct tk_calendar *cal, int *step);
/* The anchored part alone (ignores enabled/state). */
tk_time tk_schedule_anchored(const struct tk_item *it, const struct tk_calendar *cal, int *step);

/* ---- helpers shared by the front ends --------------------------------- */

/* The item-type plugin TYPE, borrowed until the engine is closed; NULL and
 * TK_EINVAL naming the loaded types when there is none. */
const struct tk_plugin *tk_engine_type(struct tk_engine *e, const char *type, struct tk_error *err);
/* Backoff for attempt N (1-based) with full jitter, in seconds. */
tk_time tk_backoff_delay(int attempt, int base, int cap, uint32_t random);

#endif
