/*
 * webhooks.h - webhooks through the engine (issue 13, docs/webhooks.md):
 * what front ends (the CLI, the HTTP server) call.  Included by
 * engine/engine.h's users as "engine/webhooks.h".
 *
 * Outbound: subscriptions (tk_engine_webhook_add / _remove / _each).  The
 * events themselves are written by the engine in the transaction of the
 * change that causes them, as outbox rows of kind "webhook:TYPE", and the
 * dispatcher POSTs them with the leases, backoff and dead state of email.
 *
 * Inbound: one function, tk_engine_webhook_receive(), for POST /hooks/NAME.
 * The handler of a hook is declared by a Lua script (webhook("NAME", fn));
 * the Lua layer registers itself with tk_engine_set_webhook_handler().
 *
 * The same contract as engine.h: changes run inside the caller's
 * transaction (tk_engine_begin), strings passed in are borrowed for the
 * call.
 */
#ifndef TK_ENGINE_WEBHOOKS_H
#define TK_ENGINE_WEBHOOKS_H

#include "engine/engine.h"

/* ---- outbound ------------------------------------------------------------ */

/* The event types a subscription may ask for, in a fixed order. */
#define TK_WEBHOOK_EVENTS "item.sent,item.completed,reminder.sent,delivery.dead"

/* A subscription as front ends see it: never its secret. */
struct tk_webhook_info {
    int64_t id;
    const char *url;    /* with any password masked ("https://u:***@h/") */
    const char *events; /* "item.sent,delivery.dead" */
    tk_time created_at;
};

/* Subscribe URL (http:// or https://, at most 2000 bytes, no spaces or
 * control characters) to EVENTS (a comma-separated subset of
 * TK_WEBHOOK_EVENTS, at least one) with SECRET (1 to 200 bytes, no control
 * characters), with the audit entry "webhook-added" (no secret, password
 * masked).  *id (may be NULL): the new id.  TK_EINVAL with the reason. */
int tk_engine_webhook_add(struct tk_engine *e, const char *url, const char *events,
                          const char *secret, int64_t *id, struct tk_error *err);
/* Unsubscribe ID: its events not delivered yet are dropped (queued and
 * dead alike), with the audit entry "webhook-removed".  TK_ENOTFOUND. */
int tk_engine_webhook_remove(struct tk_engine *e, int64_t id, struct tk_error *err);
/* Every subscription by id (the record is borrowed for the call; FN
 * returning non-zero stops the walk with that value). */
int tk_engine_webhooks_each(struct tk_engine *e,
                            int (*fn)(void *u, const struct tk_webhook_info *w), void *u,
                            struct tk_error *err);

/* ---- inbound ------------------------------------------------------------- */

struct tk_webhook_header {
    const char *name;  /* as received, any case */
    const char *value; /* NUL-terminated */
};

/* One request to POST /hooks/NAME, borrowed for the call.  Nothing in it
 * is trusted: BODY may hold any bytes (NULs included) and need not be
 * NUL-terminated; header names and values may be anything. */
struct tk_webhook_request {
    const struct tk_webhook_header *headers;
    size_t nheaders;
    const char *body; /* may be NULL when BODY_LEN is 0 */
    size_t body_len;
    const char *content_type; /* NULL: the Content-Type header, if any */
};

#define TK_WEBHOOK_REPLY_MAX (TK_ERROR_MAX + 256)

/* The answer for the client: an HTTP status and a JSON body. */
struct tk_webhook_reply {
    int status;
    char body[TK_WEBHOOK_REPLY_MAX]; /* {"status": "..."} or {"error": "..."} */
};

/* Receive one delivery for hook NAME, inside the caller's write
 * transaction (tk_engine_begin(TK_TX_IMMEDIATE)).  In order:
 *   - no [hooks] NAME secret, or no script declares webhook("NAME"): 404;
 *   - the signature (the hook's header, default X-Tickler-Signature, and
 *     prefix, default "sha256="; lower- or upper-case hex HMAC-SHA256 of
 *     the raw body under the secret) is checked in constant time: bad or
 *     missing, 401, and a warning line naming the hook and the reason
 *     (never the secret, the signature or the body);
 *   - the handler runs with the engine's actor "webhook:NAME", inside a
 *     savepoint; it may call event(item, "paid") and may return
 *     {item = N, event = "paid", id = "..."} (the engine records that
 *     event) or nil (ignored: 200);
 *   - the delivery id is the handler's `id`, else the X-Tickler-Delivery
 *     header (at most 200 bytes); one seen on this hook within 24 h is a
 *     200 {"status": "duplicate"} that changes nothing;
 *   - an unknown item or event, or a handler that fails: 422
 *     {"error": "..."}, and everything the handler wrote is rolled back;
 *     an event the item's state does not allow: 409.
 * Returns 0 whenever OUT holds an answer (whatever its status); the caller
 * then commits (nothing of a refused delivery is left to commit).
 * Non-zero (ERR says why) when the store failed: roll back, answer 503. */
int tk_engine_webhook_receive(struct tk_engine *e, const char *name,
                              const struct tk_webhook_request *req, struct tk_webhook_reply *out,
                              struct tk_error *err);

/* What a handler layer (core/lua) tells the engine. */
struct tk_webhook_spec {
    char header[128]; /* "" : X-Tickler-Signature */
    char prefix[64];  /* used only when has_prefix; else "sha256=" */
    int has_prefix;
};

struct tk_webhook_result {
    int ignore;     /* the handler returned nil */
    int64_t item;   /* 0: no event to record */
    char event[64]; /* with ITEM */
    char id[256];   /* "": none */
};

struct tk_webhook_handler {
    /* 0 and *SPEC filled when a script declares hook NAME, else non-zero. */
    int (*find)(void *u, const char *name, struct tk_webhook_spec *spec);
    /* Run NAME's handler on REQ (signature already checked), inside the
     * engine's transaction.  0 and *RES, or non-zero with ERR
     * ("SCRIPT:LINE: ..."). */
    int (*run)(void *u, struct tk_engine *e, const char *name, const struct tk_webhook_request *req,
               struct tk_webhook_result *res, struct tk_error *err);
};

/* Install the handler layer (H NULL: none; every hook is then 404).  H and
 * U are borrowed until replaced or the engine is closed. */
void tk_engine_set_webhook_handler(struct tk_engine *e, const struct tk_webhook_handler *h,
                                   void *u);

/* The U of the installed handler layer (NULL: none). */
void *tk_engine_webhook_handler_data(const struct tk_engine *e);

/* The value of header NAME (case-insensitive) in REQ, or NULL. */
const char *tk_webhook_header(const struct tk_webhook_request *req, const char *name);

#endif
