/* fuzz_http.c - the HTTP API's request-to-engine mapping on hostile input:
 * the router (paths with {params}, percent-decoding), query strings
 * (tk_http_query, the item list's parameters) and JSON bodies (every
 * checker of api_common.c and the item, reminder and list parsers of
 * api_parse.c).  Input: one selector byte, then the path and query up to
 * the first NUL, then the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/api.h"
#include "http/router.h"

static int nop(struct tk_http_ctx *x, struct tk_error *err)
{
    (void)x;
    (void)err;
    return 0;
}

static const struct tk_http_route routes[] = {
    {"GET", "/api/v1/items", TK_ROUTE_TOKEN, "read", nop},
    {"GET", "/api/v1/items/{item}", TK_ROUTE_TOKEN, "read", nop},
    {"PATCH", "/api/v1/accounts/{account}/contacts/{email}", TK_ROUTE_WRITE, "write", nop},
    {"POST", "/api/v1/accounts/{account}/bulk/{command}", TK_ROUTE_WRITE, "write", nop},
    {"POST", "/hooks/{name}", TK_ROUTE_ANY_BODY, NULL, nop},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tk_http_router *router;
    struct tk_http_request rq;
    struct tk_error err = {0};
    char *url, *body, scratch[1024], buf[64];
    const uint8_t *nul;
    size_t ulen;
    int known = 0;
    if (!router) {
        if (tk_http_router_new(&router, &err) ||
            tk_http_router_add(router, routes, sizeof routes / sizeof routes[0], &err))
            abort();
    }
    if (size < 1)
        return 0;
    nul = memchr(data + 1, 0, size - 1);
    ulen = nul ? (size_t)(nul - data - 1) : size - 1;
    url = malloc(ulen + 1);
    memcpy(url, data + 1, ulen);
    url[ulen] = '\0';
    body = nul ? (char *)nul + 1 : NULL;
    memset(&rq, 0, sizeof rq);
    rq.method = (data[0] & 3) == 0 ? "GET" : (data[0] & 3) == 1 ? "POST" : "PATCH";
    rq.path = url;
    rq.query = "";
    {
        char *q = strchr(url, '?');
        if (q) {
            *q = '\0';
            rq.query = q + 1;
        }
    }
    if (body) {
        size_t blen = size - (size_t)((const uint8_t *)body - data);
        char *copy = malloc(blen + 1);
        memcpy(copy, body, blen);
        copy[blen] = '\0';
        rq.body = copy;
        rq.body_len = blen;
    } else {
        rq.body = "";
    }
    if (tk_http_router_match(router, rq.method, rq.path, &rq, scratch, sizeof scratch, &known)) {
        for (size_t i = 0; i < rq.nparams; i++)
            if (strlen(rq.params[i]) > sizeof scratch || !tk_http_param(&rq, rq.param_names[i]))
                abort();
    }
    tk_http_query(&rq, "account", buf, sizeof buf, &err);
    switch ((data[0] >> 2) % 4) {
    case 0: {
        struct tk_api_new_item ni;
        if (tk_api_parse_new_item(&rq, &ni, &err) == 0 &&
            (!ni.req.type || !ni.req.title || !ni.account))
            abort(); /* success means every required argument is there */
        tk_api_new_item_free(&ni);
        break;
    }
    case 1: {
        struct tk_api_reminders r;
        if (tk_api_parse_reminders(&rq, &r, &err) == 0 &&
            (r.every > 365 || r.count > 100 || r.enabled > 1))
            abort();
        break;
    }
    case 2: {
        struct tk_api_item_query q;
        if (tk_api_parse_item_query(&rq, &q, &err) == 0 && (q.limit < 1 || q.limit > 1000))
            abort();
        break;
    }
    default: {
        json_t *b = NULL;
        const char *s;
        int64_t n;
        int on;
        if (tk_api_body(&rq, 1, &b, &err) == 0) {
            static const char *const allowed[] = {"name", "email", "notify", NULL};
            tk_api_only(b, allowed, &err);
            tk_api_string(b, "name", 0, &s, &err);
            tk_api_int(b, "email", 0, 10, &n, &err);
            tk_api_bool(b, "notify", &on, &err);
            json_decref(b);
        }
        break;
    }
    }
    if (body)
        free((char *)rq.body);
    free(url);
    return 0;
}
