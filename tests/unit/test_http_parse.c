/* test_http_parse.c - the HTTP front end's own parsing, without a server:
 * route patterns and their {params}, percent-decoding, query strings, and
 * the request-to-engine parsers (api_parse.c) on good and bad input. */
#include <stdio.h>
#include <string.h>

#include "http/api.h"
#include "http/router.h"
#include "tk_test.h"

static int nop(struct tk_http_ctx *x, struct tk_error *err)
{
    (void)x;
    (void)err;
    return 0;
}

static const struct tk_http_route routes[] = {
    {"GET", "/api/v1/items", 0, "read", nop},
    {"GET", "/api/v1/items/{item}", 0, "read", nop},
    {"PATCH", "/api/v1/accounts/{account}/contacts/{email}", TK_ROUTE_WRITE, "write", nop},
};

static struct tk_http_request req(const char *method, const char *path, const char *query,
                                  const char *body)
{
    struct tk_http_request r;
    memset(&r, 0, sizeof r);
    r.method = method;
    r.path = path;
    r.query = query;
    r.body = body;
    r.body_len = strlen(body);
    return r;
}

TK_TEST(test_routes_and_params)
{
    struct tk_http_router *r = NULL;
    struct tk_error err = {0};
    struct tk_http_request rq = req("PATCH", "", "", "");
    char scratch[256];
    int known;
    const struct tk_http_route *m;
    TK_CHECK_INT(tk_http_router_new(&r, &err), 0);
    TK_CHECK_INT(tk_http_router_add(r, routes, 3, &err), 0);
    TK_CHECK_INT(tk_http_router_add(r, routes, 1, &err), TK_ECONFLICT);
    m = tk_http_router_match(r, "PATCH", "/api/v1/accounts/Acme%20BV/contacts/ann%40x.example", &rq,
                             scratch, sizeof scratch, &known);
    TK_CHECK(m == &routes[2]);
    TK_CHECK_STR(tk_http_param(&rq, "account"), "Acme BV");
    TK_CHECK_STR(tk_http_param(&rq, "email"), "ann@x.example");
    TK_CHECK(tk_http_param(&rq, "item") == NULL);
    TK_CHECK(tk_http_router_match(r, "DELETE", "/api/v1/items", &rq, scratch, sizeof scratch,
                                  &known) == NULL);
    TK_CHECK_INT(known, 1); /* 405, not 404 */
    TK_CHECK(tk_http_router_match(r, "GET", "/api/v1/items/", &rq, scratch, sizeof scratch,
                                  &known) == NULL);
    TK_CHECK_INT(known, 0);
    TK_CHECK(tk_http_router_match(r, "GET", "/api/v1/items/1/x", &rq, scratch, sizeof scratch,
                                  &known) == NULL);
    /* a NUL or a bad escape in a segment matches nothing */
    TK_CHECK(tk_http_router_match(r, "GET", "/api/v1/items/1%00", &rq, scratch, sizeof scratch,
                                  &known) == NULL);
    TK_CHECK(tk_http_router_match(r, "GET", "/api/v1/items/%zz", &rq, scratch, sizeof scratch,
                                  &known) == NULL);
    TK_CHECK(tk_http_router_match(r, "GET", "/api/v1/items/12", &rq, scratch, sizeof scratch,
                                  &known) == &routes[1]);
    TK_CHECK_STR(tk_http_param(&rq, "item"), "12");
    tk_http_router_free(r);
}

/* The matcher before literal segments were compared as they are walked
 * (RESULTS.md update 42): the reference the router must still agree with. */
static int old_match(const char *pattern, const char *path, struct tk_http_request *req,
                     char *scratch, size_t size)
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
        pe = strchr(pattern, '/');
        se = strchr(path, '/');
        pl = pe ? (size_t)(pe - pattern) : strlen(pattern);
        sl = se ? (size_t)(se - path) : strlen(path);
        if (pl > 2 && pattern[0] == '{' && pattern[pl - 1] == '}') {
            int d;
            if (sl == 0 || req->nparams == TK_HTTP_MAX_PARAMS || used >= size)
                return 0;
            d = tk_http_url_decode(path, sl, 0, scratch + used, size - used);
            if (d < 0 || memchr(scratch + used, '\0', (size_t)d))
                return 0;
            req->params[req->nparams] = scratch + used;
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

static unsigned rnd_state = 12345;
static unsigned rnd(unsigned n)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 16) % n;
}

/* N random segments of POOL joined by '/', sometimes with a trailing one */
static void rnd_path(char *out, size_t size, const char *const *pool, unsigned npool)
{
    size_t len = 0;
    unsigned n = rnd(6);
    out[0] = '\0';
    if (rnd(20) == 0)
        return; /* "" */
    for (unsigned i = 0; i < n || i == 0; i++) {
        const char *seg = pool[rnd(npool)];
        if (len + strlen(seg) + 2 >= size)
            break;
        out[len++] = '/';
        strcpy(out + len, seg);
        len += strlen(seg);
    }
    if (rnd(10) == 0 && len + 2 < size) {
        out[len++] = '/';
        out[len] = '\0';
    }
    if (rnd(30) == 0 && len > 0)
        out[0] = 'x'; /* no leading '/' */
}

TK_TEST(test_routes_agree_with_the_old_matcher)
{
    static const char *const pat_pool[] = {
        "api", "v1", "items", "events", "accounts", "{item}",  "{account}", "{}",
        "{x",  "x}", "",      "a",      "ab",       "{email}", "contacts",  "1"};
    static const char *const path_pool[] = {
        "api", "v1", "items", "events", "accounts", "1",  "12",       "%41",     "%zz",   "%00",
        "",    "a",  "ab",    "{}",     "{x",       "x}", "contacts", "ann%40x", "a%2Fb", "itemsx"};
    static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE"};
    enum { NR = 40 };
    static char pats[NR][96];
    static struct tk_http_route table[NR];
    struct tk_http_router *r = NULL;
    struct tk_error err = {0};
    char path[96], s1[128], s2[128];
    size_t nr = 0;
    TK_CHECK_INT(tk_http_router_new(&r, &err), 0);
    for (int i = 0; i < NR; i++) {
        rnd_path(pats[i], sizeof pats[i], pat_pool, sizeof pat_pool / sizeof *pat_pool);
        table[nr] = (struct tk_http_route){methods[rnd(4)], pats[i], 0, "read", nop};
        if (tk_http_router_add(r, &table[nr], 1, &err) == 0)
            nr++;
    }
    for (int k = 0; k < 200000; k++) {
        struct tk_http_request a, b;
        const struct tk_http_route *want = NULL, *got;
        int known_old = 0, known;
        const char *method = methods[rnd(4)];
        /* half the paths are a route's pattern with its {params} filled */
        if (rnd(2)) {
            rnd_path(path, sizeof path, path_pool, sizeof path_pool / sizeof *path_pool);
        } else {
            const char *p = pats[rnd((unsigned)nr)];
            size_t len = 0;
            while (*p && len + 8 < sizeof path) {
                if (*p == '{' && strchr(p, '}') &&
                    (!strchr(p, '/') || strchr(p, '}') < strchr(p, '/'))) {
                    const char *v = path_pool[rnd(sizeof path_pool / sizeof *path_pool)];
                    size_t vl = strlen(v);
                    if (len + vl + 8 >= sizeof path)
                        break;
                    memcpy(path + len, v, vl);
                    len += vl;
                    p = strchr(p, '}') + 1;
                } else {
                    path[len++] = *p++;
                }
            }
            path[len] = '\0';
        }
        a = req(method, path, "", "");
        b = a;
        for (size_t i = 0; i < nr; i++) {
            if (!old_match(table[i].pattern, path, &a, s1, sizeof s1))
                continue;
            if (strcmp(table[i].method, method) == 0) {
                want = &table[i];
                break;
            }
            known_old = 1;
        }
        if (!want)
            a.nparams = 0;
        got = tk_http_router_match(r, method, path, &b, s2, sizeof s2, &known);
        TK_CHECK(got == want);
        if (got != want) {
            fprintf(stderr, "  %s %s\n", method, path);
            break;
        }
        if (!want)
            TK_CHECK_INT(known, known_old);
        TK_CHECK_INT((long long)b.nparams, (long long)a.nparams);
        for (size_t i = 0; i < a.nparams && i < b.nparams; i++) {
            TK_CHECK_STR(b.params[i], a.params[i]);
            TK_CHECK_STR(b.param_names[i], a.param_names[i]);
        }
    }
    tk_http_router_free(r);
}

TK_TEST(test_query)
{
    struct tk_http_request rq = req("GET", "/", "account=Acme+BV&pending=true&x&type=a%26b", "");
    struct tk_error err = {0};
    char buf[32];
    TK_CHECK_STR(tk_http_query(&rq, "account", buf, sizeof buf, &err), "Acme BV");
    TK_CHECK_STR(tk_http_query(&rq, "type", buf, sizeof buf, &err), "a&b");
    TK_CHECK_STR(tk_http_query(&rq, "x", buf, sizeof buf, &err), "");
    TK_CHECK(tk_http_query(&rq, "nope", buf, sizeof buf, &err) == NULL);
    rq.query = "account=%00";
    TK_CHECK(tk_http_query(&rq, "account", buf, sizeof buf, &err) == NULL);
    TK_CHECK_INT(err.code, TK_EINVAL);
    rq.query = "account=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    TK_CHECK(tk_http_query(&rq, "account", buf, sizeof buf, &err) == NULL);
}

TK_TEST(test_new_item)
{
    struct tk_api_new_item ni;
    struct tk_error err = {0};
    struct tk_http_request rq = req(
        "POST", "/api/v1/items", "",
        "{\"type\":\"invoice\",\"account\":12,\"title\":\"Fees\",\"reminders\":{\"enabled\":true,"
        "\"every_days\":5},\"fields\":{\"amount\":450,\"currency\":\"EUR\"}}");
    TK_CHECK_INT(tk_api_parse_new_item(&rq, &ni, &err), 0);
    TK_CHECK_STR(ni.req.type, "invoice");
    TK_CHECK_STR(ni.account, "12");
    TK_CHECK_INT(ni.req.reminders, 1);
    TK_CHECK_INT(ni.req.every_days, 5);
    TK_CHECK_INT(ni.req.count, -1);
    TK_CHECK_STR(tk_kv_get(&ni.fields, "amount"), "450");
    tk_api_new_item_free(&ni);

    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "{\"type\":\"invoice\",\"title\":\"x\"}",
        "{\"type\":\"invoice\",\"account\":\"a\",\"title\":\"x\",\"colour\":1}",
        "{\"type\":\"invoice\",\"account\":\"a\",\"title\":7}",
        "{\"type\":\"invoice\",\"account\":true,\"title\":\"x\"}",
        "{\"type\":\"invoice\",\"account\":\"a\",\"title\":\"x\",\"reminders\":{\"every_days\":0}}",
        "{\"type\":\"invoice\",\"account\":\"a\",\"title\":\"x\",\"reminders\":{\"count\":101}}",
        "{\"type\":\"invoice\",\"account\":\"a\",\"title\":\"x\",\"reminders\":{\"x\":1}}",
        "{\"type\":\"invoice\",\"account\":\"a\",\"title\":\"x\",\"fields\":{\"a\":null}}",
        "{\"type\":\"inv\\u0000oice\",\"account\":\"a\",\"title\":\"x\"}",
        "{\"type\":\"a\",\"type\":\"b\",\"account\":\"a\",\"title\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rq.body = bad[i];
        rq.body_len = strlen(bad[i]);
        memset(&err, 0, sizeof err);
        TK_CHECK_INT(tk_api_parse_new_item(&rq, &ni, &err), TK_EINVAL);
        TK_CHECK(err.msg[0] != '\0');
        tk_api_new_item_free(&ni);
    }
}

TK_TEST(test_reminders_and_list_query)
{
    struct tk_api_reminders r;
    struct tk_api_item_query q;
    struct tk_error err = {0};
    struct tk_http_request rq = req("PATCH", "/", "", "{\"count\":3}");
    TK_CHECK_INT(tk_api_parse_reminders(&rq, &r, &err), 0);
    TK_CHECK_INT(r.enabled, -1);
    TK_CHECK_INT(r.every, -1);
    TK_CHECK_INT(r.count, 3);
    rq.body = "{\"enabled\":\"yes\"}";
    rq.body_len = strlen(rq.body);
    TK_CHECK_INT(tk_api_parse_reminders(&rq, &r, &err), TK_EINVAL);

    /* the cursor is opaque: what the API made comes back as the same id */
    char cur[TK_API_CURSOR_MAX], qs[128];
    int64_t back = 0;
    static const int64_t ids[] = {1, 9, 10, 99, 12345, 1234567, INT64_MAX};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        tk_api_cursor_make(ids[i], cur);
        TK_CHECK(strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                 strlen(cur));
        TK_CHECK_INT(tk_api_cursor_read(cur, &back), 0);
        TK_CHECK(back == ids[i]);
    }
    static const char *const bad_cursors[] = {"",
                                              "10",
                                              "x",
                                              "djE6",
                                              "djE6MA",
                                              "djE6LTE",
                                              "djE6MDE",
                                              "djE6MTA=",
                                              "djE6MTA+",
                                              "djI6MTA",
                                              "djE6MTB",
                                              "djE6MTAx"
                                              "djE6MTAx"
                                              "djE6MTAx"
                                              "djE6MTAx"
                                              "djE6MTAx"
                                              "djE6",
                                              "djE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk"};
    for (size_t i = 0; i < sizeof bad_cursors / sizeof bad_cursors[0]; i++)
        TK_CHECK(tk_api_cursor_read(bad_cursors[i], &back) == -1);
    tk_api_cursor_make(10, cur);
    snprintf(qs, sizeof qs, "pending=true&limit=5&cursor=%s&type=invoice", cur);
    rq = req("GET", "/", qs, "");
    TK_CHECK_INT(tk_api_parse_item_query(&rq, &q, &err), 0);
    TK_CHECK_INT(q.pending, 1);
    TK_CHECK_INT((long long)q.limit, 5);
    TK_CHECK_INT(q.after, 10);
    TK_CHECK_STR(q.type, "invoice");
    TK_CHECK(q.account == NULL);
    static const char *const bad[] = {"limit=0",   "limit=1001",  "cursor=-1",  "cursor=x",
                                      "cursor=10", "pending=yes", "account=%zz"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rq.query = bad[i];
        TK_CHECK_INT(tk_api_parse_item_query(&rq, &q, &err), TK_EINVAL);
    }
}

TK_TEST(test_answers)
{
    struct tk_http_response res;
    memset(&res, 0, sizeof res);
    TK_CHECK_INT(tk_http_res_error(&res, 404, "no item 9\nx"), 0);
    TK_CHECK_INT(res.status, 404);
    TK_CHECK_STR(res.body.data, "{\"error\":\"no item 9\\nx\"}\n");
    TK_CHECK_INT(tk_http_status_for(TK_ECONFLICT), 409);
    TK_CHECK_INT(tk_http_status_for(TK_ENOTFOUND), 404);
    TK_CHECK_INT(tk_http_status_for(TK_EUSAGE), 400);
    TK_CHECK_INT(tk_http_status_for(TK_ERR), 500);
    tk_buf_free(&res.body);
    tk_kv_free(&res.headers);
}

int main(void)
{
    TK_RUN(test_routes_and_params);
    TK_RUN(test_routes_agree_with_the_old_matcher);
    TK_RUN(test_query);
    TK_RUN(test_new_item);
    TK_RUN(test_reminders_and_list_query);
    TK_RUN(test_answers);
    return tk_test_done();
}
