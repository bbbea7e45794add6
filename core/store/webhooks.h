/*
 * webhooks.h - the store side of webhooks (issue 13): outbound
 * subscriptions and the delivery ids of inbound webhooks seen lately.
 * Like store.h, for the engine only; every function runs its SQL on the
 * caller's connection and transaction.  Strings passed in are borrowed for
 * the call.
 */
#ifndef TK_STORE_WEBHOOKS_H
#define TK_STORE_WEBHOOKS_H

#include "db/db.h"

/* An outbound subscription.  EVENTS is the comma-separated list as given
 * ("item.sent,item.completed"). */
struct tk_webhook_sub {
    int64_t id;
    char *url, *events, *secret;
    tk_time created_at;
};
/* Free the strings of S (NULL is fine) and zero it. */
void tk_webhook_sub_free(struct tk_webhook_sub *s);

/* Insert a subscription; *id (may be NULL) is the new id. */
int tk_store_webhook_add(struct tk_db *db, const char *url, const char *events, const char *secret,
                         tk_time now, int64_t *id, struct tk_error *err);
/* Delete subscription ID and its outbox rows that are not sent yet (queued
 * or dead, leased or not: a late result for one is refused as stale).
 * *dropped (may be NULL): how many rows went.  TK_ENOTFOUND when there is
 * no such subscription. */
int tk_store_webhook_remove(struct tk_db *db, int64_t id, int64_t *dropped, struct tk_error *err);
/* Every subscription by id; the record handed to FN is borrowed for the
 * call; FN returning non-zero stops the walk with that value. */
int tk_store_webhook_each(struct tk_db *db, int (*fn)(void *u, const struct tk_webhook_sub *s),
                          void *u, struct tk_error *err);

/* Record that inbound hook HOOK saw delivery DELIVERY at NOW: *seen = 1
 * when it was recorded within WINDOW seconds before (nothing written
 * then), else 0 and the record is written.  Records older than WINDOW are
 * purged on the way. */
int tk_store_webhook_seen(struct tk_db *db, const char *hook, const char *delivery, tk_time now,
                          tk_time window, int *seen, struct tk_error *err);

#endif
