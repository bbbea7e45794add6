/*
 * store.h - tickler's state: accounts, contacts, items, fields, the audit
 * trail, the to-do order and the outbox.  Every function runs its SQL on the
 * caller's transaction (see db.h); none begins or commits.  Records returned
 * are owned by the caller and freed with the matching *_free().
 *
 * Times are tk_time seconds.  Ids are positive int64.
 */
#ifndef TK_STORE_H
#define TK_STORE_H

#include "db/db.h"

/* ---- accounts and contacts ------------------------------------------ */

struct tk_account {
    int64_t id;
    char *name;
    char *language; /* "en" | "nl" */
    tk_time created_at;
    /* The client's calendar (issue 14): NULL means "the [calendar] default". */
    char *timezone; /* IANA zone name */
    char *window;   /* canonical send window spec */
    char *holidays; /* "nl", "none" or an .ics path */
    char *manager;  /* staff email told about escalations; NULL: none */
    int digest;     /* -1: [reminders] default, 0 off, 1 on */
};
void tk_account_free(struct tk_account *a);

int tk_store_account_add(struct tk_db *db, const char *name, const char *lang, tk_time now,
                         int64_t *id, struct tk_error *err);
/* Find by id ("12") or exact name; TK_ENOTFOUND with a clear message. */
int tk_store_account_find(struct tk_db *db, const char *id_or_name, struct tk_account *out,
                          struct tk_error *err);
int tk_store_account_get(struct tk_db *db, int64_t id, struct tk_account *out,
                         struct tk_error *err);
/* Only the name of account ID, in *NAME (the caller frees it with free();
 * NULL on failure): what an item's JSON needs, without the rest of the row.
 * TK_ENOTFOUND "no account N" as tk_store_account_get. */
int tk_store_account_name(struct tk_db *db, int64_t id, char **name, struct tk_error *err);
/* The accounts of the N ids IDS (one statement; those that exist, in no
 * particular order): FN gets each, and owns its strings (tk_account_free);
 * FN returning non-zero stops with that value. */
int tk_store_accounts_each_in(struct tk_db *db, const int64_t *ids, size_t n,
                              int (*fn)(void *u, struct tk_account *a), void *u,
                              struct tk_error *err);
/* Write A's calendar columns (timezone, window, holidays, manager, digest)
 * to account A->id; TK_ENOTFOUND when there is none. */
int tk_store_account_set_calendar(struct tk_db *db, const struct tk_account *a,
                                  struct tk_error *err);
/* Call FN for each account by id; FN returning non-zero stops with that value. */
int tk_store_account_each(struct tk_db *db, int (*fn)(void *u, const struct tk_account *a), void *u,
                          struct tk_error *err);

struct tk_contact {
    int64_t id, account_id;
    char *email, *name; /* name may be NULL */
    int notify;
    /* The address's suppression (issue 15), filled by
     * tk_store_contact_list: the reason, NULL when it is not suppressed,
     * and when it was suppressed. */
    char *suppressed_reason;
    tk_time suppressed_at;
};
void tk_contact_free(struct tk_contact *c);
struct tk_contacts {
    struct tk_contact *v;
    size_t n;
};
void tk_contacts_free(struct tk_contacts *cs);

int tk_store_contact_add(struct tk_db *db, int64_t account, const char *email, const char *name,
                         int notify, tk_time now, int64_t *id, struct tk_error *err);
int tk_store_contact_notify(struct tk_db *db, int64_t account, const char *email, int notify,
                            struct tk_error *err);
/* All contacts of ACCOUNT (NOTIFY_ONLY: only notify-on, and never a
 * suppressed address: these are the recipients of every email), by id. */
int tk_store_contact_list(struct tk_db *db, int64_t account, int notify_only,
                          struct tk_contacts *out, struct tk_error *err);

/* Every contact of the N accounts ACCOUNTS, with its suppression, as
 * tk_store_contact_list(..., 0, ...) fills them, in one statement and in no
 * particular order: FN gets each and owns its strings (tk_contact_free);
 * FN returning non-zero stops with that value. */
int tk_store_contacts_each_in(struct tk_db *db, const int64_t *accounts, size_t n,
                              int (*fn)(void *u, struct tk_contact *c), void *u,
                              struct tk_error *err);

/* ---- items ------------------------------------------------------------ */

struct tk_reminders {
    int enabled;
    int every_days;
    int count;
    int sent;             /* automatic reminders enqueued so far */
    tk_time last_mail_at; /* last email about the item (D1); 0: none */
    tk_time next_at;      /* next reminder due; 0: none scheduled */
    /* Anchored schedule (issue 14): nsched sorted distinct day offsets
     * relative to the item's due_date field; nsched 0: every_days applies.
     * With a schedule, count == nsched. */
    int nsched;
    int sched[TK_SCHEDULE_MAX];
};

/* A hold (issue 14): no automatic email while it lasts.  since 0: none. */
struct tk_hold {
    tk_time since; /* when it was put on; 0: the item is not held */
    tk_time until; /* when it ends by itself; 0: until released */
    char *reason;  /* may be NULL */
};

struct tk_item {
    int64_t id, account_id, job_id; /* job_id 0: none */
    char *type, *title, *template_name, *state;
    int archived;
    tk_time created_at, completed_at;
    int resends;
    int64_t todo_seq; /* larger: higher on the to-do list */
    struct tk_reminders rem;
    int fail_count; /* reminders that failed in a row (tk_store_item_fault_set) */
    struct tk_kv fields;
    struct tk_hold hold;
};
void tk_item_free(struct tk_item *it);

/* Why the item's last reminder could not be made (a bad address, a broken
 * template, a missing plugin): COUNT failures in a row, the last at AT with
 * TEXT.  COUNT 0: none. */
struct tk_item_fault {
    int count;
    tk_time at;
    char *text; /* NULL when count is 0; freed by tk_item_fault_free */
};
void tk_item_fault_free(struct tk_item_fault *f);
/* Record a failure of item ID (COUNT in a row, at AT, TEXT borrowed) and
 * its retry time NEXT_AT (the item's next_at); COUNT 0 clears the record
 * and leaves next_at alone.  TK_ENOTFOUND when the item does not exist. */
int tk_store_item_fault_set(struct tk_db *db, int64_t id, int count, tk_time at, const char *text,
                            tk_time next_at, struct tk_error *err);
/* The failure record of item ID into *OUT (count 0: none); caller frees
 * with tk_item_fault_free.  TK_ENOTFOUND when the item does not exist. */
int tk_store_item_fault_get(struct tk_db *db, int64_t id, struct tk_item_fault *out,
                            struct tk_error *err);

/* A page of the items with a reminder due before TO (next_at set and <
 * TO), soonest first ((next_at, id) order), of ACCOUNT (0: all), each with
 * its fields: the items after the one at (AFTER_AT, AFTER_ID) (start with
 * 0, 0), at most LIMIT, into *OUT (*N of them; the caller frees each with
 * tk_item_free and the array with free()).  At most three queries a
 * page, whatever its size: the due index (the rest of AFTER_AT's items,
 * then later ones), then the fields of the page (`preview`). */
int tk_store_item_due_page(struct tk_db *db, int64_t account, tk_time to, tk_time after_at,
                           int64_t after_id, size_t limit, struct tk_item **out, size_t *n,
                           struct tk_error *err);
/* Insert IT (id, rem.next_at as given); sets it->id. */
int tk_store_item_insert(struct tk_db *db, struct tk_item *it, tk_time now, struct tk_error *err);
int tk_store_item_get(struct tk_db *db, int64_t id, struct tk_item *out, struct tk_error *err);
/* Write back state, completed_at, archived, resends, todo_seq and rem.* */
int tk_store_item_update(struct tk_db *db, const struct tk_item *it, struct tk_error *err);
/* Write back rem.sent, rem.last_mail_at and rem.next_at only (what the
 * scheduler changes); TK_ENOTFOUND when the item does not exist. */
int tk_store_item_update_reminder(struct tk_db *db, const struct tk_item *it, struct tk_error *err);
/* Write IT's hold (hold.since 0 clears it) and rem.next_at; TK_ENOTFOUND
 * when the item does not exist. */
int tk_store_item_set_hold(struct tk_db *db, const struct tk_item *it, struct tk_error *err);
/* Set one field of item ITEM (VALUE NULL removes it); a new field goes after
 * the existing ones.  TK_ENOTFOUND when the item does not exist. */
int tk_store_item_field_set(struct tk_db *db, int64_t item, const char *name, const char *value,
                            struct tk_error *err);

struct tk_item_filter {
    int64_t account_id; /* 0: any */
    const char *type;   /* NULL: any */
    int pending_only;
    int64_t job_id;   /* 0: any */
    int todo_order;   /* 1: to-do order (todo_seq desc), else by id */
    int64_t after_id; /* by id only: ids above it (a keyset page), 0: all */
    int64_t limit;    /* at most this many (LIMIT), 0: all */
};
/* Call FN for each matching item (fields loaded).  IT is borrowed for the
 * call; FN may modify it and write it back.  todo_order implies
 * pending_only (the to-do list shows pending, unarchived items).  Insert
 * assigns todo_seq from sequence "todo" when the caller leaves it 0. */
int tk_store_item_each(struct tk_db *db, const struct tk_item_filter *f,
                       int (*fn)(void *u, struct tk_item *it), void *u, struct tk_error *err);

/* Items whose reminder is due at NOW (next_at <= now), oldest due first, at
 * most LIMIT ids into IDS (caller's array).  Uses the items_due index: cost
 * follows what is due. */
int tk_store_item_due(struct tk_db *db, tk_time now, int64_t *ids, size_t limit, size_t *n,
                      struct tk_error *err);
/* The same for ACCOUNT's items only (digest.c: an account's other due
 * steps join the digest of its first one in the same transaction). */
int tk_store_item_due_account(struct tk_db *db, int64_t account, tk_time now, int64_t *ids,
                              size_t limit, size_t *n, struct tk_error *err);
/* Earliest next_at over all items, 0 when none (for the daemon's sleep). */
int tk_store_item_next_due(struct tk_db *db, tk_time *out, struct tk_error *err);

/* A new value from a named persistent counter. */
int tk_store_sequence_next(struct tk_db *db, const char *name, int64_t *out, struct tk_error *err);
/* The value tk_store_sequence_next would give NAME, nothing written. */
int tk_store_sequence_peek(struct tk_db *db, const char *name, int64_t *out, struct tk_error *err);

/* ---- audit trail (append-only) ---------------------------------------- */

struct tk_audit_entry {
    int64_t id;
    tk_time at;
    char *actor;                         /* "cli", "pipeline", "scheduler", "dispatcher" */
    int64_t account_id, item_id, job_id; /* 0: none */
    char *action;                        /* "sent", "reminder", "resent", "event", ... */
    char *detail;                        /* human text */
    tk_time recorded_at;                 /* real time it was written (AT is the business
                                          * time, which --now sets); 0: before schema v3 */
};
void tk_audit_entry_free(struct tk_audit_entry *e);

int tk_store_audit_add(struct tk_db *db, tk_time at, const char *actor, int64_t account,
                       int64_t item, int64_t job, const char *action, const char *detail,
                       struct tk_error *err);
/* Entries for ITEM (non-zero) or ACCOUNT (non-zero) or all, oldest first. */
int tk_store_audit_each(struct tk_db *db, int64_t account, int64_t item,
                        int (*fn)(void *u, const struct tk_audit_entry *e), void *u,
                        struct tk_error *err);
/* Of the N items IDS, those with an audit entry ACTION: FN(U, ITEM) once
 * per such entry (an item may come more than once, in no order); one
 * query (the preview's "already escalated?" of a page of items). */
int tk_store_audit_items_with(struct tk_db *db, const int64_t *ids, size_t n, const char *action,
                              int (*fn)(void *u, int64_t item), void *u, struct tk_error *err);

/* ---- outbox ----------------------------------------------------------- */

/* CANCELLED: never to be sent; its recipient was erased, or removed from
 * the account, or its item withdrawn (schema v3, lifecycle.c). */
enum tk_outbox_state {
    TK_OUTBOX_QUEUED = 0,
    TK_OUTBOX_SENT = 1,
    TK_OUTBOX_DEAD = 2,
    TK_OUTBOX_CANCELLED = 3
};

struct tk_outbox_row {
    int64_t id, item_id, account_id;
    char *kind; /* "notification", "reminder", "resend", bulk section */
    int step;
    char *recipient; /* bare address */
    char *idem_key;  /* item/kind/step/recipient: UNIQUE */
    char *message_id;
    char *sender; /* envelope from */
    char *data;   /* complete message, CRLF */
    int state;    /* enum tk_outbox_state */
    int attempts;
    tk_time created_at, next_attempt_at, sent_at;
    int64_t lease_token; /* fencing token of the current claim */
    tk_time lease_until;
    int reply_code;
    char *last_reply;
    tk_time data_dropped_at; /* [retention] dropped the text (data NULL); 0: kept */
};
void tk_outbox_row_free(struct tk_outbox_row *r);

/* Enqueue; a row whose idem_key exists already is left as it is (*id = the
 * existing row, *dup = 1). */
int tk_store_outbox_add(struct tk_db *db, struct tk_outbox_row *r, int64_t *id, int *dup,
                        struct tk_error *err);
/* Claim up to LIMIT queued rows due at NOW whose lease is free or expired:
 * sets a new fencing token and lease_until = now + lease; returns them in
 * *rows (caller frees each and the array with free()). */
int tk_store_outbox_claim(struct tk_db *db, tk_time now, int lease_seconds, size_t limit,
                          struct tk_outbox_row **rows, size_t *n, struct tk_error *err);
/* The two halves of a claim on a store with serial claims (SQLite),
 * inside the caller's immediate transaction: read up to LIMIT queued rows
 * due at NOW whose lease is free or expired, with their texts, into V
 * (adding to *GOT); lease the N rows V (as read) with TOKEN until UNTIL,
 * counting an attempt each (TK_ECONFLICT if one changed meanwhile). */
int tk_store_outbox_due(struct tk_db *db, tk_time now, size_t limit, struct tk_outbox_row *v,
                        size_t *got, struct tk_error *err);
int tk_store_outbox_lease(struct tk_db *db, struct tk_outbox_row *v, size_t n, int64_t token,
                          tk_time until, struct tk_error *err);
/* The N rows ROWS, read by tk_store_outbox_due at DUE_AT in the caller's
 * immediate transaction and delivered while it is open, recorded as sent
 * at NOW (row i with reply code CODES[i], 0: none, and reply REPLIES[i]),
 * in one statement: each row as tk_store_outbox_lease with TOKEN and then
 * tk_store_outbox_finish (SENT) would leave it, in one write.
 * TK_ECONFLICT if a row is no longer as read (the caller rolls back). */
int tk_store_outbox_sent_unleased(struct tk_db *db, const struct tk_outbox_row *rows, size_t n,
                                  int64_t token, tk_time due_at, tk_time now, const int *codes,
                                  const char *const *replies, struct tk_error *err);
/* Record an attempt's outcome for row ID claimed with TOKEN.  TK_ECONFLICT
 * when the claim was taken over (stale token): nothing is written. */
int tk_store_outbox_finish(struct tk_db *db, int64_t id, int64_t token, int state, tk_time now,
                           tk_time next_attempt_at, int reply_code, const char *reply,
                           struct tk_error *err);
/* Release a claim without an attempt (shutdown). */
int tk_store_outbox_release(struct tk_db *db, int64_t id, int64_t token, struct tk_error *err);
int tk_store_outbox_get(struct tk_db *db, int64_t id, struct tk_outbox_row *out,
                        struct tk_error *err);
/* Rows by id; FAILED_ONLY: dead rows; ITEM non-zero: that item's. */
int tk_store_outbox_each(struct tk_db *db, int failed_only, int64_t item,
                         int (*fn)(void *u, const struct tk_outbox_row *r), void *u,
                         struct tk_error *err);
/* Each (item, recipient) among the N items IDS with a message in the
 * outbox (a Message-ID): who has had an email about which item, in one
 * query (`preview`: the first email to a recipient is the notification).
 * Pairs may repeat. */
int tk_store_outbox_recipients_each(struct tk_db *db, const int64_t *ids, size_t n,
                                    int (*fn)(void *u, int64_t item, const char *recipient),
                                    void *u, struct tk_error *err);
/* The Message-ID of the first message about ITEM to RECIPIENT (lowest id),
 * into BUF of SIZE; "" when there is none. */
int tk_store_outbox_first_message_id(struct tk_db *db, int64_t item, const char *recipient,
                                     char *buf, size_t size, struct tk_error *err);
/* Dead row back to queued, due at NOW, attempts reset. */
int tk_store_outbox_retry(struct tk_db *db, int64_t id, tk_time now, struct tk_error *err);
/* Counts of queued (due or not), and dead rows. */
int tk_store_outbox_counts(struct tk_db *db, int64_t *queued, int64_t *dead, struct tk_error *err);
/* Earliest next_attempt_at of a queued row, 0 when none. */
int tk_store_outbox_next_due(struct tk_db *db, tk_time *out, struct tk_error *err);

/* ---- data lifecycle (lifecycle.c, issue 16) --------------------------- */

/* Rename account ID: TK_ENOTFOUND, or TK_ECONFLICT when another account
 * has NAME. */
int tk_store_account_rename(struct tk_db *db, int64_t id, const char *name, struct tk_error *err);
/* Delete account ID and every row about it: its contacts, jobs, items and
 * their fields, and outbox messages (with their texts).  The audit trail
 * stays.  Counts of what went into OUT (may be NULL). */
struct tk_store_removed {
    int64_t contacts, jobs, items, messages;
};
int tk_store_account_delete(struct tk_db *db, int64_t id, struct tk_store_removed *out,
                            struct tk_error *err);
/* Delete ACCOUNT's contact EMAIL; TK_ENOTFOUND when there is none. */
int tk_store_contact_remove(struct tk_db *db, int64_t account, const char *email,
                            struct tk_error *err);

/* Cancel the queued messages (state 0) of ITEM (non-zero), or else those
 * to RECIPIENT (ACCOUNT non-zero: of that account only): state
 * TK_OUTBOX_CANCELLED with REASON as the last reply and a fresh fencing
 * token, so that a dispatcher holding one of them has its outcome refused
 * as stale.  *N (may be NULL): how many. */
int tk_store_outbox_cancel(struct tk_db *db, int64_t item, int64_t account, const char *recipient,
                           const char *reason, int64_t *n, struct tk_error *err);
/* How many queued messages to RECIPIENT a dispatcher holds at NOW (lease
 * not run out): they may be on the wire. */
int tk_store_outbox_in_flight(struct tk_db *db, const char *recipient, tk_time now, int64_t *n,
                              struct tk_error *err);
/* ACCOUNT's outbox messages (those of its items included), by id, texts
 * included. */
int tk_store_outbox_each_account(struct tk_db *db, int64_t account,
                                 int (*fn)(void *u, const struct tk_outbox_row *r), void *u,
                                 struct tk_error *err);

/* Erasure of one address: ADDR becomes MARKER everywhere it is stored. */
struct tk_store_erased {
    int64_t contacts; /* contact rows deleted */
    int64_t messages; /* outbox rows whose recipient it was */
    int64_t texts;    /* message texts rewritten */
    int64_t audit;    /* audit entries rewritten */
};
/* The ids of the accounts that have a contact ADDR, into *IDS (caller
 * frees with free()). */
int tk_store_contact_accounts(struct tk_db *db, const char *addr, int64_t **ids, size_t *n,
                              struct tk_error *err);
/* The same for an address in any case: LOWER_ADDR is lower-cased already,
 * and contacts match whatever the case they were stored in. */
int tk_store_contact_accounts_nocase(struct tk_db *db, const char *lower_addr, int64_t **ids,
                                     size_t *n, struct tk_error *err);
/* Replace ADDR by MARKER in the outbox (recipient, idempotency key, texts,
 * replies) and the audit trail, and delete the contacts with ADDR.  NAMES
 * (the deleted contacts' names, NULL-terminated, may be NULL) are replaced
 * by MARKER in the texts of the messages to ADDR as well.  The caller has
 * cancelled the queued messages first. */
int tk_store_erase_address(struct tk_db *db, const char *addr, const char *marker,
                           const char *const *names, struct tk_store_erased *out,
                           struct tk_error *err);

/* Retention: drop the texts of at most LIMIT messages sent before CUTOFF
 * (oldest first), recording NOW as their data_dropped_at.  *N: how many;
 * fewer than LIMIT means none is left. */
int tk_store_outbox_drop_texts(struct tk_db *db, tk_time cutoff, tk_time now, size_t limit,
                               size_t *n, struct tk_error *err);
/* ---- suppressions and what came back (issue 15) ---------------------- */

/* An address tickler never writes to again, for any account. */
struct tk_suppression {
    int64_t id;
    char *email;  /* lower-cased */
    char *reason; /* "5.1.1 user unknown (bounce)" */
    char *source; /* "bounce", "rcpt" */
    tk_time at;
    int64_t outbox_id; /* the message whose failure caused it, 0: none */
};
void tk_suppression_free(struct tk_suppression *s);

/* The suppression of EMAIL (compared lower-cased) into OUT (caller frees
 * with tk_suppression_free); TK_ENOTFOUND when it is not suppressed. */
int tk_store_suppression_get(struct tk_db *db, const char *email, struct tk_suppression *out,
                             struct tk_error *err);
/* Suppress EMAIL (stored lower-cased).  An address suppressed already is
 * left as it was: *ADDED (may be NULL) says which.  Strings are borrowed. */
int tk_store_suppression_add(struct tk_db *db, const char *email, const char *reason,
                             const char *source, int64_t outbox_id, tk_time now, int *added,
                             struct tk_error *err);
/* Lift the suppression of EMAIL; TK_ENOTFOUND when there is none. */
int tk_store_suppression_remove(struct tk_db *db, const char *email, struct tk_error *err);

/* One message that came back, recorded under its KEY (UNIQUE). */
struct tk_inbound_record {
    const char *key, *cls, *reason, *sender, *subject, *action;
    tk_time at;
    int64_t item_id, account_id, outbox_id; /* 0: none */
};
/* Whether a message with KEY was recorded: *SEEN 1 or 0. */
int tk_store_inbound_seen(struct tk_db *db, const char *key, int *seen, struct tk_error *err);
/* Record R (strings borrowed).  TK_ECONFLICT when its key is there
 * already (a concurrent recorder won: roll back). */
int tk_store_inbound_add(struct tk_db *db, const struct tk_inbound_record *r, struct tk_error *err);

/* The outbox row whose Message-ID is MSGID ("<id>"), without its text;
 * TK_ENOTFOUND when tickler sent none. */
int tk_store_outbox_by_message_id(struct tk_db *db, const char *msgid, struct tk_outbox_row *out,
                                  struct tk_error *err);
/* Set the envelope sender of queued row ID (its VERP address). */
int tk_store_outbox_set_sender(struct tk_db *db, int64_t id, const char *sender,
                               struct tk_error *err);
/* How many outbox rows to EMAIL (lower-cased compare) died of a permanent
 * (5xx) refusal. */
int tk_store_outbox_hard_failures(struct tk_db *db, const char *email, int64_t *n,
                                  struct tk_error *err);

#endif
