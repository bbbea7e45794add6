/*
 * router.h - requests, responses and routes of the HTTP server (how to add
 * a page: http.h).  Everything here is used on a worker thread.
 */
#ifndef TK_HTTP_ROUTER_H
#define TK_HTTP_ROUTER_H

#include <jansson.h>

#include "engine/engine.h"
#include "http/http.h"
#include "json/json.h"

struct tk_pipelines;

#define TK_HTTP_MAX_PARAMS 4

/* One request as the handler sees it; every pointer is borrowed until the
 * handler returns. */
struct tk_http_request {
    const char *method;   /* "GET", "POST", ... */
    const char *path;     /* decoded path, without the query: "/api/v1/items/12" */
    const char *query;    /* the raw query string after '?' ("" when none) */
    struct tk_kv headers; /* names lower-cased, in arrival order */
    struct tk_kv cookies; /* from the Cookie header */
    const char *body;     /* NUL-terminated; may contain NULs before body_len */
    size_t body_len;
    char peer[64]; /* "127.0.0.1" */
    int tls;       /* served over TLS */
    /* the {name} segments of the matched pattern, decoded, in order */
    const char *param_names[TK_HTTP_MAX_PARAMS];
    const char *params[TK_HTTP_MAX_PARAMS];
    size_t nparams;
    /* set by the server for TK_ROUTE_TOKEN routes: the token's name and scope */
    const char *token_name, *token_scope;
};

/* The answer a handler builds.  Headers and body are owned by the server,
 * freed after they are sent. */
struct tk_http_response {
    int status;               /* 200 unless set */
    const char *content_type; /* static string; "application/json" by default */
    struct tk_kv headers;     /* extra headers */
    struct tk_buf body;
};

/* What a handler gets. */
struct tk_http_ctx {
    struct tk_engine *e;            /* the worker's engine (its actor set) */
    struct tk_pipelines *pipelines; /* the worker's Lua pipelines (NULL: none) */
    struct tk_http_server *server;  /* for counters and configuration */
    const struct tk_http_request *req;
    struct tk_http_response *res;
};

typedef int (*tk_http_handler)(struct tk_http_ctx *x, struct tk_error *err);

enum {
    TK_ROUTE_WRITE = 1,      /* changes the store: write transaction, savepoint */
    TK_ROUTE_TOKEN = 2,      /* needs Authorization: Bearer with at least scope */
    TK_ROUTE_ANY_BODY = 4,   /* a body of any content type (else JSON only) */
    TK_ROUTE_INLINE = 8,     /* runs on the connection's thread, needs no engine
                              * (the handler gets x->e NULL): cheap, constant answers */
    TK_ROUTE_SEE_OTHER = 16, /* a 303 answer is a success, its writes commit: the
                              * console's POST-redirect-GET (core/http/console.c) */
};

struct tk_http_route {
    const char *method;  /* "GET", "POST", "PATCH", "DELETE" */
    const char *pattern; /* "/api/v1/items/{id}": {name} matches one segment */
    int flags;
    const char *scope; /* "read", "write", "admin" for TK_ROUTE_TOKEN */
    tk_http_handler fn;
};

struct tk_http_router;

/* Add the N routes of TABLE (static storage: borrowed for the router's
 * life).  TK_ECONFLICT when a method and pattern is registered already. */
int tk_http_router_add(struct tk_http_router *r, const struct tk_http_route *table, size_t n,
                       struct tk_error *err);
/* The route for METHOD and PATH, its {name} segments into REQ's params
 * (pointing into SCRATCH, which the caller keeps alive).  NULL when none;
 * *path_known is set when PATH matched with another method (405). */
const struct tk_http_route *tk_http_router_match(const struct tk_http_router *r, const char *method,
                                                 const char *path, struct tk_http_request *req,
                                                 char *scratch, size_t scratch_size,
                                                 int *path_known);
int tk_http_router_new(struct tk_http_router **out, struct tk_error *err);
void tk_http_router_free(struct tk_http_router *r);

/* Every table of routes the server serves (routes.c): the API, inbound
 * webhooks, the console.  Add a line there for a new file of routes. */
int tk_http_register_all(struct tk_http_router *r, struct tk_error *err);
/* POST /hooks/NAME (hooks.c) */
int tk_http_hook_routes(struct tk_http_router *r, struct tk_error *err);

/* ---- answers ------------------------------------------------------------ */

/* STATUS with J as the body (takes J, also on failure). */
int tk_http_res_json(struct tk_http_response *res, int status, json_t *j);
/* STATUS with {"error": MSG}. */
int tk_http_res_error(struct tk_http_response *res, int status, const char *msg);
/* STATUS with an HTML body (copied) and Content-Type text/html. */
int tk_http_res_html(struct tk_http_response *res, int status, const char *html, size_t n);
/* Add a header (copied); 0 on success. */
int tk_http_res_header(struct tk_http_response *res, const char *name, const char *value);
/* The status an engine error code answers with (400, 404, 409, 500 ...). */
int tk_http_status_for(int code);

/* ---- reading a request ------------------------------------------------- */

/* Header NAME (lower-case) or NULL. */
const char *tk_http_header(const struct tk_http_request *req, const char *name);
/* Parameter NAME of the matched pattern or NULL. */
const char *tk_http_param(const struct tk_http_request *req, const char *name);
/* Query parameter NAME, decoded into BUF (SIZE bytes); NULL when absent.
 * TK_EINVAL through ERR (and NULL) when it is too long or badly encoded. */
const char *tk_http_query(const struct tk_http_request *req, const char *name, char *buf,
                          size_t size, struct tk_error *err);
/* Decode %XX and '+' (FORM) of S[0..n) into BUF; -1 when malformed or too long. */
int tk_http_url_decode(const char *s, size_t n, int form, char *buf, size_t size);

/* ---- the server's counters, for GET /metrics --------------------------- */

/* FN for each status code answered so far with its count. */
void tk_http_server_status_counts(struct tk_http_server *s,
                                  void (*fn)(void *u, int status, uint64_t n), void *u);

#endif
