/*
 * http.h - the HTTP server inside tickler (`tickler run` with [http]
 * listen, `tickler serve`): one listener thread (tk-http-listen, running
 * libmicrohttpd's epoll loop) reads and bounds requests;
 * two worker threads, each with its own engine handle (tk_engine_open_peer:
 * its own store connection, its own Lua pipelines), run them: the writer
 * every TK_ROUTE_WRITE request, group-committing those queued in one
 * transaction with a savepoint per request, the reader every other one in
 * a read transaction of its own (docs/ARCHITECTURE.md, "The HTTP server").
 *
 * ---- How to add a page or an endpoint ---------------------------------
 *
 * 1. Write the handler in a file of its own under core/http/ (console
 *    pages: core/http/console_*.c).  A handler is
 *        int fn(struct tk_http_ctx *x, struct tk_error *err)
 *    it reads x->req (method, path, {params}, query, headers, cookies, body,
 *    peer address), calls tk_engine_* functions on x->e (and
 *    lua/pipeline.h on x->pipelines) and fills x->res with the helpers of
 *    router.h (tk_http_res_json, tk_http_res_html, tk_http_res_header ...).
 *    Returning non-zero with ERR filled is an error answer: the status
 *    follows the code (TK_EINVAL/TK_EUSAGE 400, TK_ENOTFOUND 404,
 *    TK_ECONFLICT 409, else 500 with no detail) and, for a write, the
 *    request's savepoint is rolled back: nothing it did stays.
 * 2. Declare its routes in a static const struct tk_http_route table
 *    (method, pattern with {name} segments, flags, scope, handler) and
 *    register the table from a function listed in routes.c
 *    (tk_http_register_all).  Flags: TK_ROUTE_WRITE for anything that
 *    changes the store (it runs inside the worker's write transaction and
 *    the actor is set for it), TK_ROUTE_TOKEN for a Bearer token of at
 *    least `scope` (the /api/ routes), TK_ROUTE_ANY_BODY to take a body
 *    that is not JSON (forms, webhooks).  Pages authenticate themselves
 *    (a session cookie) and set the actor with tk_engine_set_actor()
 *    ("staff:NAME") before they change anything; the worker resets it after
 *    each request.
 * 3. Handlers run on a worker thread (the writer or the reader), one at a
 *    time per worker: no locking of the engine, but do not block (no
 *    network calls); state shared between requests lives in the store (a
 *    handler's own static state would be touched by both workers).
 *
 * Everything listening is bounded: connections (total and per address),
 * an inactivity timeout, the header size, the body ([http] max_body_kb,
 * 413 before it is read) and the time a request may wait for the worker.
 */
#ifndef TK_HTTP_H
#define TK_HTTP_H

#include "engine/engine.h"

struct tk_http_server;

/* What the front end (cmd_run.c / cmd_serve.c) gives the server. */
struct tk_http_config {
    /* one line per event for the daemon's log; MSG borrowed for the call;
     * called from the server's threads (serialized by the server) */
    void (*log)(void *u, const char *msg);
    void *log_data;
    /* after the worker committed writes (NULL: nothing): the daemon wakes
     * its tick loop so that the mail they enqueued goes out now; called on
     * the worker thread, must be async-safe (set a flag) */
    void (*wrote)(void *u);
    void *wrote_data;
};

/* Start listening on PARENT's [http] listen (an address and port; a
 * listen that is not set is TK_EINVAL).  The server opens its worker's peer
 * engine and pipelines on PARENT, which must stay open until
 * tk_http_stop().  CFG is copied.  On failure nothing is left running;
 * *out is NULL.  Call from the thread that owns PARENT; the server never
 * touches PARENT afterwards except for what peers share (configuration
 * and plugins, read-only). */
int tk_http_start(struct tk_http_server **out, struct tk_engine *parent,
                  const struct tk_http_config *cfg, struct tk_error *err);
/* The address actually bound ("127.0.0.1:8025"), borrowed until stop. */
const char *tk_http_address(const struct tk_http_server *s);
/* Ask the worker to reload templates and pipeline scripts (SIGHUP) before
 * its next request. */
void tk_http_reload(struct tk_http_server *s);
/* Stop accepting, answer every request already queued, stop the threads
 * and free S (NULL: nothing).  Returns within a few seconds. */
void tk_http_stop(struct tk_http_server *s);

#endif
