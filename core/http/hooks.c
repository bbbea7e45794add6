/* hooks.c - POST /hooks/NAME: inbound webhooks (docs/webhooks.md).  The
 * whole delivery is one engine function, tk_engine_webhook_receive (the
 * signature, the hook's Lua handler, replays, the event, the savepoint
 * that undoes a refused delivery); this file only maps the request onto
 * it and its answer back.  No token: the signature is the credential. */
#include <string.h>

#include "engine/webhooks.h"
#include "http/router.h"

#define MAX_HEADERS 100

static int receive(struct tk_http_ctx *x, struct tk_error *err)
{
    const struct tk_http_request *rq = x->req;
    struct tk_webhook_header h[MAX_HEADERS];
    struct tk_webhook_reply out;
    size_t n = 0;
    for (size_t i = 0; i < rq->headers.n && n < MAX_HEADERS; i++)
        h[n++] = (struct tk_webhook_header){rq->headers.keys[i], rq->headers.vals[i]};
    struct tk_webhook_request req = {h, n, rq->body, rq->body_len, NULL};
    /* non-zero: the store failed; the worker answers with the error and
     * rolls the request's savepoint back */
    int rc = tk_engine_webhook_receive(x->e, rq->nparams ? rq->params[0] : "", &req, &out, err);
    if (rc)
        return rc;
    json_error_t je;
    json_t *j = json_loads(out.body, 0, &je);
    if (!j)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    return tk_http_res_json(x->res, out.status, j);
}

static const struct tk_http_route routes[] = {
    {"POST", "/hooks/{name}", TK_ROUTE_WRITE | TK_ROUTE_ANY_BODY, NULL, receive},
};

int tk_http_hook_routes(struct tk_http_router *r, struct tk_error *err)
{
    return tk_http_router_add(r, routes, sizeof routes / sizeof routes[0], err);
}
