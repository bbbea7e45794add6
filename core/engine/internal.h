/*
 * internal.h - what the engine's own files share; not for the front ends
 * (unit tests and benchmarks that set up states by hand may include it).
 */
#ifndef TK_ENGINE_INTERNAL_H
#define TK_ENGINE_INTERNAL_H

#include "calendar/calendar.h"
#include "engine.h"
#include "webhooks.h"

struct tk_engine_calcache;
struct tk_engine_digest;

/* tick.c: the most items of one transaction that share a savepoint.  Its
 * journal holds every page they change; at 4 it stays in memory (under
 * db/sqlite.c's STMT_JOURNAL_SPILL) on the bench's reminders, at 8 it
 * spilled into /var/tmp now and then, at 16 and more in most rounds. */
#define TK_ENGINE_RUN_MAX 4

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
    tk_event_quiet_fn on_event_quiet; /* with on_event_data; NULL: never quiet */
    tk_warn_fn warn;
    void *warn_data;
    volatile int *stop; /* daemon: set by signals, dispatch stops claiming */
    /* TK_OPEN_LAZY: the plugins load at their first use (tk_engine_load_plugins);
     * 0 not yet, 1 loaded, 2 only those asked for (tk_engine_load_plugins_for:
     * a snapshot of the set vouches for the rest), -1 refused (plugins_err
     * says why, every time). */
    int plugins_state;
    struct tk_error plugins_err;
    /* state 2 then a whole load: the first registry, kept until the close
     * (what was handed out of it stays valid) */
    struct tk_registry plugins_some;
    int store_lock; /* daemon: the SQLite file, flock'd shared (backup.c); -1 none */
    /* inbound webhooks: the handler layer (core/lua), engine/webhooks.h */
    const struct tk_webhook_handler *hook_handler;
    void *hook_data;
    int peer; /* tk_engine_open_peer: cfg and plugins are the parent's */
    struct tk_engine_skips {
        size_t n; /* skipped in the last schedule; v holds the first ones */
        struct tk_engine_skip v[TK_ENGINE_SKIPS_MAX];
    } skips;
    struct tk_engine_calcache *calcache; /* calendar.c; freed by tk_engine_calcache_free */
    int dry_run;         /* preview: render.c peeks at sequences instead of taking them */
    int render_all_vars; /* tests: render.c makes every variable, the path before it made
                            only the ones a section uses */
    size_t deferred;     /* due items the calendar or a hold moved on, sending nothing (holds.c);
                            read and written by the scheduling thread only */
    /* digest.c: the open scheduler transaction's digest members; the
     * scheduling thread's only */
    struct tk_engine_digest *digest;
    int digest_depth; /* tick.c: 1 while an account's other due steps are taken */
    /* webhooks.c: the tk_db_tx_serial at which the webhooks table was read
     * empty (0: none known); atomic, tk_webhook_emit may run on several
     * threads with their own connections */
    uint64_t webhooks_none_serial;
    /* tick.c: the open scheduler transaction's run of items that share one
     * savepoint (TK_ENGINE_RUN_MAX at most), redone one savepoint each if
     * an item fails; serial 0: no run open.  The scheduling thread's only. */
    struct tk_engine_run {
        uint64_t serial;     /* tk_db_tx_serial when the run's savepoint was taken */
        size_t n;            /* items written in it so far (ids) */
        size_t deferred;     /* e->deferred when it was taken */
        unsigned long warns; /* e->warns after its last item */
        int mode;            /* 0 not yet read, 1 runs, 2 one savepoint an item (tests) */
        int64_t ids[TK_ENGINE_RUN_MAX];
    } run;
    unsigned long warns; /* tk_engine_warn calls so far (atomic: workers warn too) */
};

/* Whether the daemon was asked to stop.  The flag is set by a signal
 * handler and read by the dispatch's worker threads too: atomic on both
 * sides (tk_engine_set_stop). */
static inline int tk_engine_stopping(const struct tk_engine *e)
{
    return e->stop && __atomic_load_n(e->stop, __ATOMIC_RELAXED);
}

/* tick.c: end the open transaction's run of reminders (their shared
 * savepoint released, the writes kept); tk_engine_digest_flush calls it
 * after the due items of a transaction.  0 when there is none. */
int tk_engine_run_end(struct tk_engine *e, struct tk_error *err);

/* Archive: stop the reminders of every item of JOB (no mail), each with
 * its audit entry. */
int tk_engine_stop_job_items(struct tk_engine *e, int64_t job_id, struct tk_error *err);

/* Check FIELDS against the type's field specs: unknown names and values of
 * the wrong form; AFTER_PREPARE also checks required fields. */
int tk_fields_check(const struct tk_item_type *t, const struct tk_kv *fields, int after_prepare,
                    struct tk_error *err);

/* The fields GIVEN with a client event, checked against the type's specs
 * and merged into STORED: an amount adds to the value stored (payments
 * add up), anything else replaces it.  DETAIL gets "paid +200.00 =
 * 300.00, ..." for the audit entry. */
int tk_fields_merge_event(const struct tk_item_type *t, struct tk_kv *stored,
                          const struct tk_kv *given, struct tk_buf *detail, struct tk_error *err);

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
/* After an automatic reminder of IT was enqueued (IT->rem.sent is its
 * step): the Lua events on("reminder.sent") and, after the last step,
 * on("reminders.exhausted") (reminder_events.c).  A failing handler is
 * undone and logged, never the reminder; non-zero only when the store
 * fails or memory runs out. */
int tk_engine_reminder_events(struct tk_engine *e, const struct tk_item *it, struct tk_error *err);
/* The tone ladder (ladder.c): for a reminder whose section is "reminder",
 * the step's own section of the item's template ([reminder.last] on the
 * last step, else [reminder.N], else [reminder]) into *SECTION (borrowed
 * from the catalog until it reloads).  Leaves *SECTION alone when no
 * template has any of them or a template does not load; non-zero only on
 * out of memory. */
int tk_ladder_section(struct tk_engine *e, const struct tk_plugin *p, const struct tk_item *it,
                      const char *language, const char **section, struct tk_error *err);

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
    /* Optional, one per recipient: the Message-ID of the first email
     * about IT to it, "" for none, as read in this transaction
     * (tk_engine_recipients_split_ids); NULL: each is looked up. */
    char *const *firsts;
};
int tk_render_enqueue(struct tk_engine *e, const struct tk_render_req *req,
                      const struct tk_contacts *rcpts, struct tk_error *err);
/* The same messages as tk_render_enqueue, built at e->now and handed to
 * FN one recipient at a time (SUBJECT and MESSAGE borrowed for the call),
 * nothing written: sequences are peeked, not taken (`preview`).  WHOLE 0:
 * the subject only (MESSAGE NULL): no body, Message-ID, threading lookup
 * or Date header is made, the subject is the one the whole message has. */
int tk_render_preview(struct tk_engine *e, const struct tk_render_req *req,
                      const struct tk_contacts *rcpts, int whole,
                      int (*fn)(void *u, const struct tk_contact *c, const char *subject,
                                const char *message),
                      void *u, struct tk_error *err);

/* Inside the caller's write transaction: enqueue the automatic reminder of
 * the due item ITEM_ID (its outbox rows, its next step, its audit entry), as
 * tk_engine_schedule does for each item. */
int tk_engine_remind_due(struct tk_engine *e, int64_t item_id, struct tk_error *err);

/* ---- one digest per person (digest.c, issue 14) ------------------------ */

/* Whether A's automatic reminders go into digests: its --digest, else
 * [reminders] digest. */
int tk_engine_digest_on(const struct tk_engine *e, const struct tk_account *a);
/* IT's step (already spent: it->rem.sent is the step) is due to RCPTS:
 * remember each recipient for the open transaction's digests.  Call it
 * last in the item's work: only out of memory fails. */
int tk_engine_digest_collect(struct tk_engine *e, const struct tk_item *it,
                             const struct tk_account *acc, const char *section,
                             const struct tk_contacts *rcpts, struct tk_error *err);
/* Before the scheduler's transaction commits: per (address, local day)
 * one digest row (two items or more) or the single reminder, then each
 * item's audit entry.  Always empties the list. */
int tk_engine_digest_flush(struct tk_engine *e, struct tk_error *err);
/* Items handled in the open transaction (collected, or taken as an
 * account's other due step): the scheduler's own list skips them. */
int tk_engine_digest_seen(const struct tk_engine *e, int64_t id);
int tk_engine_digest_mark(struct tk_engine *e, int64_t id, struct tk_error *err);
/* Mark ACCOUNT's due steps, or ADDR's accounts, as taken into the open
 * transaction; *FIRST: whether this was the first time. */
int tk_engine_digest_account_mark(struct tk_engine *e, int64_t account, int *first,
                                  struct tk_error *err);
int tk_engine_digest_address_mark(struct tk_engine *e, const char *addr, int *first,
                                  struct tk_error *err);
/* The account and address of the open transaction's member I. */
int tk_engine_digest_member(const struct tk_engine *e, size_t i, int64_t *account,
                            const char **addr);
/* One line of a digest: an item's title, its account, its step. */
struct tk_digest_line {
    const char *title, *account_name;
    int64_t account;
    int step, count;
};
/* The digest's subject and text for WHO (a name, else the address) and
 * the N items V (the lowest account first; each line names its account
 * when they span several), from the "digest" template in LANGUAGE
 * (built in en/nl, overridable as TEMPLATES_DIR/LANG/digest/default.tmpl).
 * The tick's and the preview's. */
int tk_engine_digest_text(struct tk_engine *e, const char *language, const char *who,
                          const struct tk_digest_line *v, size_t n, struct tk_buf *subject,
                          struct tk_buf *text, struct tk_error *err);
/* Members collected so far in the open transaction. */
size_t tk_engine_digest_members(const struct tk_engine *e);
/* The tick's count of reminders: + an item handled beside the
 * scheduler's list, - one the list reached again; take: read and zero
 * (before the flush, which zeroes it). */
void tk_engine_digest_count(struct tk_engine *e, long delta);
long tk_engine_digest_take_count(struct tk_engine *e);
/* The transaction rolled back: forget its members. */
void tk_engine_digest_discard(struct tk_engine *e);
void tk_engine_digest_free(struct tk_engine *e);

/* Append an audit entry at e->now with the engine's actor; ids 0: none. */
int tk_engine_audit(struct tk_engine *e, int64_t account, int64_t item, int64_t job,
                    const char *action, const char *detail, struct tk_error *err);

/* "ann@x.example, bob@y.example" or "nobody (no contact has notify on)"
 * into *OUT; caller frees. */
int tk_recipients_text(const struct tk_contacts *cs, char **out, struct tk_error *err);

/* ---- the client's calendar (calendar.c) and holds (holds.c) ---------- */

/* The spec A's calendar is built from (its settings, else [calendar], else
 * UTC/always/none); strings borrowed from A and the configuration. */
void tk_engine_account_calendar_spec(const struct tk_engine *e, const struct tk_account *a,
                                     struct tk_calendar_spec *spec);
/* A's calendar from the engine's cache (thread-safe); *OUT borrowed until
 * the engine is closed. */
int tk_engine_calendar_for(struct tk_engine *e, const struct tk_account *a,
                           const struct tk_calendar **out, struct tk_error *err);
void tk_engine_calcache_free(struct tk_engine *e);
/* The Date header of an email sent at T in CAL's zone, into BUF: as
 * tk_calendar_format_date_header, remembered per cached calendar (CAL
 * from tk_engine_calendar_for) for the last T asked (thread-safe). */
int tk_engine_date_header(struct tk_engine *e, const struct tk_calendar *cal, tk_time t, char *buf,
                          size_t size, struct tk_error *err);
/* Whether an automatic email for A may go out at e->now: *WHEN 0 yes, else
 * the moment to try again (the next opening), and WHY (may be NULL) says
 * when in local time and what closed it. */
int tk_engine_defer(struct tk_engine *e, const struct tk_account *a, tk_time *when, char *why,
                    size_t size, struct tk_error *err);
/* For the scheduler: when IT is held, *HELD = 1 and its next_at is set to
 * the hold's end (0: none); a hold whose end has come is ended (audit
 * "hold-ended") and IT's next_at set from D1, *HELD = 0. */
int tk_engine_hold_check_due(struct tk_engine *e, struct tk_item *it, int *held,
                             struct tk_error *err);
/* The pure part of the scheduler's decision for the due item IT of ACC at
 * e->now (nothing written; `preview` uses it too): */
enum tk_gate_action {
    TK_GATE_GO = 1, /* the reminder goes out now */
    TK_GATE_HELD,   /* on hold: NEXT is its end (0: until released) */
    TK_GATE_WAIT,   /* not due: NEXT is the step's own moment (0: none) */
    TK_GATE_DEFER,  /* window or holiday: NEXT is the next opening, WHY says so */
};
struct tk_gate {
    enum tk_gate_action action;
    tk_time next;
    int hold_ended; /* the item's hold ends at this decision (audit "hold-ended") */
    char why[TK_CALENDAR_LOCAL_MAX + 256];
};
int tk_engine_reminder_decide(struct tk_engine *e, const struct tk_item *it,
                              const struct tk_account *acc, struct tk_gate *g,
                              struct tk_error *err);
/* The scheduler's decision for the due item IT of ACC (holds.c): *GO = 1
 * when its automatic reminder goes out now; else the item's next_at has
 * been moved (hold, its own moment, or the next opening of the account's
 * calendar, audit "deferred") and nothing is spent.  The decision is
 * tk_engine_reminder_decide's; this writes it. */
int tk_engine_reminder_gate(struct tk_engine *e, struct tk_item *it, const struct tk_account *acc,
                            int *go, struct tk_error *err);

/* ---- escalation to the account's manager (escalate.c) --------------- */

/* When IT's escalation is due: last_mail_at + [reminders]
 * escalate_after_days once a pending item with reminders on has used its
 * last automatic reminder; 0: none (setting 0, not exhausted, completed). */
tk_time tk_engine_escalate_at(const struct tk_engine *e, const struct tk_item *it);
/* IT's next_at: its next reminder (tk_schedule_next), else its escalation. */
tk_time tk_engine_next_at(struct tk_engine *e, const struct tk_item *it);
/* IT's next reminder moment as tk_schedule_next_in with the calendar of
 * ACC (NULL: IT's account, read from the store) when IT has an anchored
 * schedule; *STEP (may be NULL) the step it sends.  The one function the
 * tick, preview, why and the settings use (schedule.c's rules). */
tk_time tk_engine_schedule_next(struct tk_engine *e, const struct tk_item *it,
                                const struct tk_account *acc, int *step);
/* Whether IT, due, is due for its escalation rather than a reminder. */
int tk_engine_escalation_due(const struct tk_engine *e, const struct tk_item *it);
/* *DONE: IT has an "escalated" audit entry (read only). */
int tk_engine_escalated(struct tk_engine *e, const struct tk_item *it, int *done,
                        struct tk_error *err);
/* Of the N items IDS, those with an "escalated" audit entry: FN(U, ITEM),
 * an item perhaps more than once (one query: the preview's page). */
int tk_engine_escalated_each(struct tk_engine *e, const int64_t *ids, size_t n,
                             int (*fn)(void *u, int64_t item), void *u, struct tk_error *err);
/* The escalation email's subject and text for IT of ACC in ACC's language
 * (read only: preview may call it). */
int tk_engine_escalation_text(struct tk_engine *e, const struct tk_item *it,
                              const struct tk_account *acc, struct tk_buf *subject,
                              struct tk_buf *text, struct tk_error *err);
/* The escalation email of IT to TO as the tick builds it (subject, whole
 * message, Message-ID into MSGID of SIZE, may be NULL), nothing written
 * (`preview --render`). */
int tk_engine_escalation_build(struct tk_engine *e, const struct tk_item *it,
                               const struct tk_account *acc, const char *to, struct tk_buf *subject,
                               struct tk_buf *msg, char *msgid, size_t size, struct tk_error *err);
/* For the scheduler, inside its transaction: IT is due for its escalation
 * (tk_engine_escalation_due).  Held: waits; outside ACC's window: deferred
 * (audit "deferred"); else the manager's email is enqueued once (none
 * without a manager), audit "escalated", and next_at cleared. */
int tk_engine_escalate(struct tk_engine *e, struct tk_item *it, const struct tk_account *acc,
                       struct tk_error *err);

/* ---- nobody to send to (nobody.c) ------------------------------------ */

/* ALL (notify-on recipients of IT) split into FRESH, who have had no email
 * about IT yet, and KNOWN; both borrow ALL's entries (read only: preview
 * may call it).  Free with tk_engine_recipients_split_free. */
int tk_engine_recipients_split(struct tk_engine *e, const struct tk_item *it,
                               const struct tk_contacts *all, struct tk_contacts *fresh,
                               struct tk_contacts *known, struct tk_error *err);
void tk_engine_recipients_split_free(struct tk_contacts *fresh, struct tk_contacts *known);
/* The same, and *KNOWN_FIRSTS: per entry of KNOWN, the Message-ID of the
 * first email about IT to it that the split read (for tk_render_req's
 * firsts, so that the message's threading does not read it again).  Free
 * with tk_engine_first_ids_free(*KNOWN_FIRSTS, KNOWN->n). */
int tk_engine_recipients_split_ids(struct tk_engine *e, const struct tk_item *it,
                                   const struct tk_contacts *all, struct tk_contacts *fresh,
                                   struct tk_contacts *known, char ***known_firsts,
                                   struct tk_error *err);
void tk_engine_first_ids_free(char **ids, size_t n);
/* ON: the entries of ALL (every contact of an account, as
 * tk_store_contact_list(notify_only 0) read them) that
 * tk_store_contact_list(notify_only 1) lists, in the same order (by id):
 * notify on and not suppressed.  ON borrows ALL's entries: free it with
 * tk_engine_contacts_view_free, never tk_contacts_free. */
int tk_engine_contacts_notify_on(const struct tk_contacts *all, struct tk_contacts *on,
                                 struct tk_error *err);
void tk_engine_contacts_view_free(struct tk_contacts *on);
/* For the scheduler: IT's account has no notify-on contact; the step
 * waits a day (audit "reminder-waiting"), staff told once. */
int tk_engine_nobody_notified(struct tk_engine *e, struct tk_item *it, const struct tk_account *acc,
                              struct tk_error *err);

/* ---- webhooks (webhooks.c, webhook_post.c) ---------------------------- */

/* Write event TYPE ("item.sent", ...) about ITEM_ID into the outbox on DB
 * (the caller's transaction, e->db or the settler's), one row per
 * subscription that asked for it; nothing when none did or ITEM_ID is 0. */
int tk_webhook_emit(struct tk_engine *e, struct tk_db *db, const char *type, int64_t item_id,
                    struct tk_error *err);
/* Whether outbox row R is a webhook event (kind "webhook:TYPE"). */
int tk_webhook_is_row(const struct tk_outbox_row *r);
/* URL with the password of its user information replaced by "***", into
 * BUF of SIZE bytes; -1 when it does not fit. */
int tk_webhook_mask_url(const char *url, char *buf, size_t size);
/* POST webhook row R; the outcome in *RES (delivered on a 2xx, else
 * temporary; a row this tickler could not have written is permanent).
 * Thread-safe (dispatcher workers).  Always 0. */
int tk_webhook_post(const struct tk_outbox_row *r, struct tk_delivery_result *res);

/* ---- what comes back (issue 15: inbound.c, suppress.c) ---------------- */

/* Check the [inbound] section of C as the engine opens (VERP keys, the
 * mailbox, forward_to): 0, or TK_EINVAL naming the file and the key. */
int tk_engine_inbound_check(const struct tk_config *c, struct tk_error *err);

/* With [inbound] return_path set: give the new outbox row ID, sent to
 * RCPT, its VERP envelope sender (bounces+ID-MAC@domain), so that a bounce
 * names the row; without it nothing changes.  Inside the caller's
 * transaction. */
int tk_engine_verp_sender(struct tk_engine *e, int64_t outbox_id, const char *rcpt,
                          struct tk_error *err);

/* The outbox row of a staff notice (kind staff-notice, queued now) to TO
 * with MESSAGE, under the idempotency key IDEM (*DUP: it was there
 * already); shared by staff notices and escalations (escalate.c). */
int tk_engine_staff_row_add(struct tk_engine *e, int64_t account, int64_t item, const char *to,
                            const char *idem, const char *msgid, const char *message, int *dup,
                            struct tk_error *err);
/* Queue a staff notice (a forwarded reply, "address suppressed", "nobody
 * left") to ACCOUNT's manager, else [inbound] forward_to, once per
 * IDEM_KEY (a second call with the same key does nothing).  *SENT (may be
 * NULL): 1 when a message was queued, 0 when there is nobody to tell or it
 * was queued before.  Strings are borrowed. */
int tk_engine_staff_notice(struct tk_engine *e, int64_t account, int64_t item, const char *idem_key,
                           const char *subject, const char *text, const char *in_reply_to,
                           int *sent, struct tk_error *err);

/* After a permanent failure at RCPT (a dead outbox row with a 5xx reply)
 * of ROW: suppress its address once [inbound] suppress_after such
 * failures are recorded.  Inside the caller's transaction. */
int tk_engine_suppress_after_failure(struct tk_engine *e, const struct tk_outbox_row *row,
                                     int reply_code, const char *reply, struct tk_error *err);

/* Suppress EMAIL for every account (REASON, SOURCE "bounce" or "rcpt",
 * the outbox row OUTBOX_ID that failed), with the audit entry
 * "suppressed" on ACCOUNT and ITEM (0: none) and on every other account
 * that has the address; each such account's staff are told once, and
 * told again if it has nobody left.  An address suppressed already gets
 * the audit entry "bounce" only.  *ADDED (may be NULL): 1 when it was
 * suppressed now. */
int tk_engine_suppress(struct tk_engine *e, const char *email, const char *reason,
                       const char *source, int64_t outbox_id, int64_t account, int64_t item,
                       int *added, struct tk_error *err);

/* The scheduler, before an automatic reminder of IT: when every notify-on
 * contact of its account is suppressed, the reminder waits (*WAITS = 1):
 * IT's next_at moves a day on, the audit entry "reminder-waiting" is
 * written and staff are told once.  *WAITS = 0: send as usual. */
int tk_engine_reminder_waits(struct tk_engine *e, struct tk_item *it, int *waits,
                             struct tk_error *err);
/* The same, from ALL, every contact of IT's account as
 * tk_store_contact_list(notify_only 0) read it in this transaction (the
 * scheduler reads them once per reminder, issue 17). */
int tk_engine_reminder_waits_in(struct tk_engine *e, struct tk_item *it,
                                const struct tk_contacts *all, int *waits, struct tk_error *err);

#endif
