/* router.c - method + pattern -> handler, and the request and response
 * helpers handlers share (router.h).  Patterns are few (tens): a linear
 * walk over the routes of the request's method costs less than one store
 * read (2.9k instructions for an API write, bench/RESULTS.md update 42). */
#include <stdlib.h>
#include <string.h>

#include "http/router.h"

#define MAX_ROUTES 256

struct tk_http_router {
    const struct tk_http_route *v[MAX_ROUTES];
    size_t n;
};

int tk_http_router_new(struct tk_http_router **out, struct tk_error *err)
{
    if (!(*out = calloc(1, sizeof **out)))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    return 0;
}

void tk_http_router_free(struct tk_http_router *r)
{
    free(r);
}

int tk_http_router_add(struct tk_http_router *r, const struct tk_http_route *table, size_t n,
                       struct tk_error *err)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < r->n; j++)
            if (strcmp(r->v[j]->method, table[i].method) == 0 &&
                strcmp(r->v[j]->pattern, table[i].pattern) == 0)
                return tk_error_set(err, TK_ECONFLICT, "route %s %s registered twice",
                                    table[i].method, table[i].pattern);
        if (r->n == MAX_ROUTES)
            return tk_error_set(err, TK_ERR, "too many routes (at most %d)", MAX_ROUTES);
        r->v[r->n++] = &table[i];
    }
    return 0;
}

/* Match PATTERN against PATH segment by segment; {name} segments are
 * decoded into SCRATCH.  1 on a match. */
static int match(const char *pattern, const char *path, struct tk_http_request *req, char *scratch,
                 size_t size)
{
    size_t used = 0;
    req->nparams = 0;
    while (*pattern && *path) {
        const char *pe, *se;
        size_t pl, sl;
        if (*pattern != '/' || *path != '/')
            return 0;
        pattern++;
        path++;
        if (*pattern != '{') {
            /* a literal segment, compared as it is walked: most routes
             * differ from the path within a few bytes, and the walk over
             * all of them is the largest part of routing a request */
            while (*pattern != '/' && *pattern != '\0') {
                if (*path != *pattern)
                    return 0;
                pattern++;
                path++;
            }
            if (*path != '/' && *path != '\0')
                return 0;
            continue;
        }
        pe = strchr(pattern, '/');
        se = strchr(path, '/');
        pl = pe ? (size_t)(pe - pattern) : strlen(pattern);
        sl = se ? (size_t)(se - path) : strlen(path);
        if (pl > 2 && pattern[pl - 1] == '}') {
            int d;
            if (sl == 0 || req->nparams == TK_HTTP_MAX_PARAMS || used >= size)
                return 0;
            d = tk_http_url_decode(path, sl, 0, scratch + used, size - used);
            if (d < 0 || memchr(scratch + used, '\0', (size_t)d))
                return 0;
            req->params[req->nparams] = scratch + used;
            /* the name without braces lives in the pattern: keep a pointer
             * and its length through a second scratch copy */
            if (used + (size_t)d + 1 + pl - 1 > size)
                return 0;
            used += (size_t)d + 1;
            memcpy(scratch + used, pattern + 1, pl - 2);
            scratch[used + pl - 2] = '\0';
            req->param_names[req->nparams++] = scratch + used;
            used += pl - 1;
        } else if (pl != sl || memcmp(pattern, path, pl) != 0) {
            return 0;
        }
        pattern += pl;
        path += sl;
    }
    return *pattern == '\0' && *path == '\0';
}

const struct tk_http_route *tk_http_router_match(const struct tk_http_router *r, const char *method,
                                                 const char *path, struct tk_http_request *req,
                                                 char *scratch, size_t scratch_size,
                                                 int *path_known)
{
    /* the method first: the first route of METHOD whose pattern matches is
     * the one a walk over every pattern finds; the others are walked only
     * when none matches, for the 405 */
    *path_known = 0;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i]->method, method) == 0 &&
            match(r->v[i]->pattern, path, req, scratch, scratch_size))
            return r->v[i];
    for (size_t i = 0; i < r->n && !*path_known; i++)
        if (strcmp(r->v[i]->method, method) != 0 &&
            match(r->v[i]->pattern, path, req, scratch, scratch_size))
            *path_known = 1;
    req->nparams = 0;
    return NULL;
}

/* ---- answers ------------------------------------------------------------ */

static int dump_to_buf(const char *p, size_t n, void *u)
{
    return tk_buf_append(u, p, n) ? -1 : 0;
}

int tk_http_res_json(struct tk_http_response *res, int status, json_t *j)
{
    int rc = 0;
    res->status = status;
    res->content_type = "application/json";
    tk_buf_reset(&res->body);
    /* straight into the body: no string of its own to copy */
    if (!j || json_dump_callback(j, dump_to_buf, &res->body, JSON_COMPACT | JSON_PRESERVE_ORDER) ||
        tk_buf_putc(&res->body, '\n')) {
        res->status = 500;
        tk_buf_reset(&res->body);
        tk_buf_puts(&res->body, "{\"error\":\"out of memory\"}\n");
        rc = TK_ENOMEM;
    }
    json_decref(j);
    return rc;
}

int tk_http_res_error(struct tk_http_response *res, int status, const char *msg)
{
    json_t *o = json_object();
    if (o)
        tk_json_set(o, "error", tk_json_str(msg ? msg : "error"));
    return tk_http_res_json(res, status, o);
}

int tk_http_res_html(struct tk_http_response *res, int status, const char *html, size_t n)
{
    res->status = status;
    res->content_type = "text/html; charset=utf-8";
    tk_buf_reset(&res->body);
    return tk_buf_append(&res->body, html, n) ? TK_ENOMEM : 0;
}

int tk_http_res_header(struct tk_http_response *res, const char *name, const char *value)
{
    return tk_kv_set(&res->headers, name, value) ? TK_ENOMEM : 0;
}

int tk_http_status_for(int code)
{
    switch (code) {
    case TK_EINVAL:
    case TK_EUSAGE:
        return 400;
    case TK_ENOTFOUND:
        return 404;
    case TK_ECONFLICT:
        return 409;
    case TK_ETEMP:
        return 503;
    default:
        return 500;
    }
}

/* ---- reading a request ------------------------------------------------- */

const char *tk_http_header(const struct tk_http_request *req, const char *name)
{
    return tk_kv_get(&req->headers, name);
}

const char *tk_http_param(const struct tk_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->param_names[i], name) == 0)
            return req->params[i];
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int tk_http_url_decode(const char *s, size_t n, int form, char *buf, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int h, l;
            if (i + 2 >= n || (h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0)
                return -1;
            c = (char)(h * 16 + l);
            i += 2;
        } else if (form && c == '+') {
            c = ' ';
        }
        if (o + 1 >= size)
            return -1;
        buf[o++] = c;
    }
    buf[o] = '\0';
    return (int)o;
}

const char *tk_http_query(const struct tk_http_request *req, const char *name, char *buf,
                          size_t size, struct tk_error *err)
{
    const char *q = req->query ? req->query : "";
    size_t nl = strlen(name);
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t kl = eq ? (size_t)(eq - q) : len;
        if (kl == nl && memcmp(q, name, nl) == 0) {
            const char *v = eq ? eq + 1 : q + len;
            size_t vl = eq ? len - kl - 1 : 0;
            int d = tk_http_url_decode(v, vl, 1, buf, size);
            if (d < 0 || memchr(buf, '\0', (size_t)d)) {
                tk_error_set(err, TK_EINVAL, "query parameter %s: bad or too long value", name);
                return NULL;
            }
            return buf;
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return NULL;
}
