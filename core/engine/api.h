/*
 * api.h - what the engine offers the HTTP front end (core/http) beyond
 * engine.h: peer handles for the server's worker, savepoints for group
 * commit, API tokens, idempotency records and the metrics' counts.  The
 * CLI uses the token functions too (tickler token add/list/revoke), so a
 * token is made and checked by one piece of code.
 *
 * Same contract as engine.h: changes run inside the caller's transaction,
 * write their audit entries with the engine's actor, and strings passed in
 * are borrowed for the call.
 */
#ifndef TK_ENGINE_API_H
#define TK_ENGINE_API_H

#include "engine/engine.h"
#include "store/api.h"

/* ---- peer handles ------------------------------------------------------ */

/* A second engine that shares PARENT's configuration and plugins (borrowed:
 * PARENT must outlive it and must not be reloaded meanwhile) but has its
 * own store connection, its own template cache and its own clock, actor and
 * hooks, so that another thread can use it while PARENT's thread uses
 * PARENT.  The clock offset of PARENT is copied.  Caller closes with
 * tk_engine_close (also on failure; *out may be NULL then).  A PARENT
 * opened with TK_OPEN_LAZY loads its plugins first (so call this from
 * PARENT's thread). */
int tk_engine_open_peer(struct tk_engine **out, struct tk_engine *parent, struct tk_error *err);

/* One savepoint inside the caller's transaction (not nested): a request
 * in a group commit runs between tk_engine_savepoint() and
 * tk_engine_savepoint_release(); on its failure
 * tk_engine_savepoint_rollback() undoes only it. */
int tk_engine_savepoint(struct tk_engine *e, struct tk_error *err);
int tk_engine_savepoint_release(struct tk_engine *e, struct tk_error *err);
void tk_engine_savepoint_rollback(struct tk_engine *e);

/* E's log checkpointed by a checkpointer thread following POLICY and ARG (db.h,
 * tk_ckpt_*: SQLite; *OUT is NULL on PostgreSQL, which keeps no log of its
 * own, and on failure, when E checkpoints itself as before).  E's thread
 * calls tk_ckpt_ask(*OUT) after each commit; tk_ckpt_stop(*OUT) before
 * tk_engine_close(E). */
int tk_engine_ckpt_start(struct tk_engine *e, const struct tk_ckpt_policy *policy, void *arg,
                         struct tk_ckpt **out, struct tk_error *err);

/* Whether the store answers: a read of the schema version, and for a
 * SQLite store whether its file is still there and readable (an open
 * connection would go on reading a removed file); 0 when it does, TK_EIO
 * with the reason otherwise. */
int tk_engine_store_ping(struct tk_engine *e, struct tk_error *err);

/* ---- tokens ------------------------------------------------------------ */

#define TK_TOKEN_CHARS 67 /* "tk_" and 64 hex digits (256 random bits) */

/* Whether SCOPE is read, write or admin; TK_EINVAL otherwise. */
int tk_engine_token_scope_check(const char *scope, struct tk_error *err);
/* A new token NAME (1-64 of [A-Za-z0-9._-]) with SCOPE: 256 random bits,
 * only their SHA-256 is stored; the token itself goes to TOKEN (shown once,
 * never stored).  Audit entry "token-added".  TK_ECONFLICT when NAME
 * exists. */
int tk_engine_token_add(struct tk_engine *e, const char *name, const char *scope,
                        char token[TK_TOKEN_CHARS + 1], int64_t *id, struct tk_error *err);
/* Delete token NAME, audit entry "token-revoked"; TK_ENOTFOUND. */
int tk_engine_token_revoke(struct tk_engine *e, const char *name, struct tk_error *err);
/* Every token by name (no secret: there is none to show). */
int tk_engine_tokens_each(struct tk_engine *e, int (*fn)(void *u, const struct tk_api_token *t),
                          void *u, struct tk_error *err);
/* The token TOKEN is, into OUT (caller frees with tk_api_token_free): its
 * SHA-256 is looked up and compared in constant time.  TK_ENOTFOUND "bad
 * token" when there is none (also for a malformed one). */
int tk_engine_token_check(struct tk_engine *e, const char *token, struct tk_api_token *out,
                          struct tk_error *err);
/* The same check in two steps, for a caller that caches by hash (the HTTP
 * server): the hex SHA-256 of TOKEN into HASH (TK_ENOTFOUND "bad token"
 * for a malformed one), then the token whose hash that is (TK_ENOTFOUND
 * "bad token" when there is none; compared in constant time). */
int tk_engine_token_hash(const char *token, char hash[65], struct tk_error *err);
int tk_engine_token_by_hash(struct tk_engine *e, const char *hash, struct tk_api_token *out,
                            struct tk_error *err);
/* Token ID was used at NOW (last_used_at; never moved back).  In the
 * caller's transaction.  The HTTP server calls it at most once a minute
 * per token (docs/api.md). */
int tk_engine_token_touch(struct tk_engine *e, int64_t id, tk_time now, struct tk_error *err);
#define TK_TOKEN_TOUCH_EVERY 60 /* seconds: last_used_at's granularity */
/* Whether a token of scope HAVE may do what needs scope NEED
 * (read < write < admin). */
int tk_engine_scope_allows(const char *have, const char *need);

/* ---- idempotency records ----------------------------------------------- */

#define TK_IDEM_KEEP (24 * 3600) /* seconds a record answers retries */

/* The record of (TOKEN, KEY) younger than TK_IDEM_KEEP: 1 and OUT filled
 * (caller frees with tk_api_idem_free), 0 none, < 0 error. */
int tk_engine_idem_get(struct tk_engine *e, const char *token, const char *key,
                       struct tk_api_idem *out, struct tk_error *err);
int tk_engine_idem_put(struct tk_engine *e, const char *token, const char *key,
                       const char *request_hash, int status, const char *body,
                       struct tk_error *err);
/* Delete the records older than TK_IDEM_KEEP (own transaction: call it
 * outside one). */
int tk_engine_idem_prune(struct tk_engine *e, struct tk_error *err);

/* ---- metrics ----------------------------------------------------------- */

/* Counts for GET /metrics; like the other reads, on the caller's
 * transaction (a snapshot, for counts that agree) if one is open. */
#define TK_METRICS_LATENCY_BUCKETS 10
struct tk_engine_metrics {
    /* items by type and state: FN is called for each pair with its count */
    int64_t reminders_sent; /* automatic reminders enqueued, over all items */
    int64_t outbox_queued, outbox_dead, outbox_sent;
    /* delivery latency (sent_at - created_at of sent messages), seconds:
     * cumulative counts at each bound of tk_engine_metrics_bounds() and
     * the sum */
    int64_t latency_le[TK_METRICS_LATENCY_BUCKETS];
    int64_t latency_count, latency_sum;
};
/* The histogram's upper bounds in seconds (TK_METRICS_LATENCY_BUCKETS). */
const int *tk_engine_metrics_bounds(void);
int tk_engine_metrics(struct tk_engine *e, struct tk_engine_metrics *out,
                      int (*items)(void *u, const char *type, const char *state, int64_t n),
                      void *u, struct tk_error *err);

#endif
