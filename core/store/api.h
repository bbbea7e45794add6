/*
 * api.h - the HTTP API's own rows: tokens (their SHA-256 only) and
 * idempotency records.  Like the rest of the store, every function runs on
 * the caller's transaction; the engine (engine/tokens.c) is the only
 * caller.
 */
#ifndef TK_STORE_API_H
#define TK_STORE_API_H

#include "db/db.h"

struct tk_api_token {
    int64_t id;
    char *name;
    char *scope; /* "read" | "write" | "admin" */
    tk_time created_at, last_used_at;
};
/* Free the strings of T and zero it (NULL: nothing). */
void tk_api_token_free(struct tk_api_token *t);

/* Insert a token NAME with SCOPE whose SHA-256 is HASH (64 hex digits);
 * TK_ECONFLICT "a token named NAME exists already".  Strings borrowed. */
int tk_store_token_add(struct tk_db *db, const char *name, const char *scope, const char *hash,
                       tk_time now, int64_t *id, struct tk_error *err);
/* Delete token NAME; TK_ENOTFOUND "no token 'NAME'". */
int tk_store_token_delete(struct tk_db *db, const char *name, struct tk_error *err);
/* The token whose hash is HASH into OUT (caller frees with
 * tk_api_token_free); 1 found, 0 not (OUT zeroed), < 0 on an error. */
int tk_store_token_by_hash(struct tk_db *db, const char *hash, struct tk_api_token *out,
                           char stored_hash[65], struct tk_error *err);
/* Record that token ID was used at NOW: last_used_at = NOW unless it is
 * NOW or later already (a late, older touch never moves it back). */
int tk_store_token_touch(struct tk_db *db, int64_t id, tk_time now, struct tk_error *err);
/* Every token by name; FN returning non-zero stops the walk with that value. */
int tk_store_token_each(struct tk_db *db, int (*fn)(void *u, const struct tk_api_token *t), void *u,
                        struct tk_error *err);

/* An idempotency record: the answer STATUS/BODY given to the request whose
 * hash is REQUEST_HASH, under (TOKEN, KEY). */
struct tk_api_idem {
    char *request_hash;
    int status;
    char *body;
    tk_time created_at;
};
void tk_api_idem_free(struct tk_api_idem *r);
/* 1 and OUT filled when (TOKEN, KEY) has a record newer than SINCE, 0 when
 * not (OUT zeroed), < 0 on an error. */
int tk_store_idem_get(struct tk_db *db, const char *token, const char *key, tk_time since,
                      struct tk_api_idem *out, struct tk_error *err);
/* Record an answer (replacing an expired record of the same key). */
int tk_store_idem_put(struct tk_db *db, const char *token, const char *key,
                      const char *request_hash, int status, const char *body, tk_time now,
                      struct tk_error *err);
/* Delete records older than BEFORE; *n (may be NULL): how many. */
int tk_store_idem_prune(struct tk_db *db, tk_time before, int64_t *n, struct tk_error *err);

/* ---- counts for the metrics ------------------------------------------ */

/* FN for each (type, state) with its number of items, by type and state. */
int tk_store_item_counts(struct tk_db *db,
                         int (*fn)(void *u, const char *type, const char *state, int64_t n),
                         void *u, struct tk_error *err);
/* Automatic reminders enqueued so far, over all items. */
int tk_store_reminders_sent(struct tk_db *db, int64_t *out, struct tk_error *err);
/* How many outbox messages were sent. */
int tk_store_outbox_sent(struct tk_db *db, int64_t *out, struct tk_error *err);
/* Sent outbox messages: how many took at most BOUNDS[i] seconds from
 * enqueue to delivery (cumulative, N bounds), their number and the sum of
 * their latencies. */
int tk_store_outbox_latency(struct tk_db *db, const int *bounds, size_t n, int64_t *le,
                            int64_t *count, int64_t *sum, struct tk_error *err);

#endif
