/*
 * stats.h - what the staff console's pages count and list (issue 18):
 * pending items by type, reminders due in a span, emails sent and items
 * completed per day, completions after reminder N, the reminders of the
 * coming days, accounts by name.  Same rules as store.h: each runs on the
 * caller's transaction (or alone), reads only, and hands records to FN
 * borrowed for the call; FN returning non-zero stops with that value.
 *
 * Each is bounded by an index or a LIMIT so that a page over a store of
 * 100,000 items stays well under 100 ms (bench/ `--only console`).
 */
#ifndef TK_STORE_STATS_H
#define TK_STORE_STATS_H

#include "store/store.h"

/* Pending, unarchived items per type, by type. */
int tk_store_count_pending(struct tk_db *db, int (*fn)(void *u, const char *type, int64_t n),
                           void *u, struct tk_error *err);
/* Items whose next reminder is due in [FROM, TO). */
int tk_store_count_due(struct tk_db *db, tk_time from, tk_time to, int64_t *n,
                       struct tk_error *err);
/* Per UTC day of the NDAYS days ending with the day of NOW, into
 * COUNTS[0..NDAYS) (oldest first): emails delivered (SENT non-zero, the
 * outbox's sent_at) or items completed (completed_at). */
int tk_store_count_per_day(struct tk_db *db, int sent, tk_time now, int ndays, int64_t *counts,
                           struct tk_error *err);
/* Completed items by the number of automatic reminders sent before they
 * completed (0: after the notification alone), by that number. */
int tk_store_count_completed_after(struct tk_db *db, int (*fn)(void *u, int reminders, int64_t n),
                                   void *u, struct tk_error *err);

/* An item with a reminder due in a span, and its account's name. */
struct tk_due_item {
    int64_t item_id, account_id;
    const char *type, *title, *account_name; /* borrowed for the call */
    tk_time next_at;
    int every_days, count, sent;
};
/* Items with next_at in [FROM, TO), soonest first, at most LIMIT. */
int tk_store_due_each(struct tk_db *db, tk_time from, tk_time to, size_t limit,
                      int (*fn)(void *u, const struct tk_due_item *d), void *u,
                      struct tk_error *err);

/* Accounts whose name contains QUERY (NULL or "": all), by name, skipping
 * OFFSET, at most LIMIT; *more (may be NULL) tells whether more follow. */
int tk_store_account_search(struct tk_db *db, const char *query, size_t offset, size_t limit,
                            int (*fn)(void *u, const struct tk_account *a), void *u, int *more,
                            struct tk_error *err);
/* The ids of the queued outbox messages, next attempt first, at most LIMIT,
 * into IDS (caller's array); *n how many. */
int tk_store_outbox_queued_ids(struct tk_db *db, size_t limit, int64_t *ids, size_t *n,
                               struct tk_error *err);

#endif
