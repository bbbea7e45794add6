/* api_items.c - /api/v1/items: send, read, resend, reminder settings and
 * client events, through the engine functions of tickler send, show, list,
 * resend, reminders and event. */
#include <stdio.h>
#include <string.h>

#include "http/api.h"

/* The item as `tickler --json show` prints it. */
static int item_answer(struct tk_http_ctx *x, int status, int64_t id, struct tk_error *err)
{
    struct tk_item it;
    struct tk_account a = {0};
    int rc;
    memset(&it, 0, sizeof it);
    if (!(rc = tk_engine_item_get(x->e, id, &it, err)) &&
        !(rc = tk_engine_account_get(x->e, it.account_id, &a, err)))
        rc = tk_http_res_json(x->res, status, tk_json_item(&it, a.name));
    tk_account_free(&a);
    tk_item_free(&it);
    return rc;
}

static int path_item(struct tk_http_ctx *x, int64_t *id, struct tk_error *err)
{
    return tk_api_id(tk_http_param(x->req, "item"), "item", id, err);
}

/* "account": an id (number or digits) or a name. */
static int body_account(struct tk_engine *e, json_t *b, struct tk_account *a, struct tk_error *err)
{
    json_t *v = json_object_get(b, "account");
    char num[32];
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        return tk_api_account(e, num, a, err);
    }
    if (!v || json_is_null(v))
        return tk_error_set(err, TK_EINVAL, "field 'account' is required");
    if (!json_is_string(v))
        return tk_error_set(err, TK_EINVAL, "field 'account' must be an id or a name");
    return tk_api_account(e, json_string_value(v), a, err);
}

static int read_reminders(json_t *r, struct tk_send_req *rq, struct tk_error *err)
{
    static const char *const allowed[] = {"enabled", "every_days", "count", NULL};
    int64_t every = -1, count = -1;
    int rc;
    if (!json_is_object(r))
        return tk_error_set(err, TK_EINVAL, "field 'reminders' must be an object");
    if ((rc = tk_api_only(r, allowed, err)) ||
        (rc = tk_api_bool(r, "enabled", &rq->reminders, err)) ||
        (rc = tk_api_int(r, "every_days", 1, 365, &every, err)) ||
        (rc = tk_api_int(r, "count", 0, 100, &count, err)))
        return rc;
    rq->every_days = (int)every;
    rq->count = (int)count;
    return 0;
}

static int read_fields(json_t *f, struct tk_kv *out, struct tk_error *err)
{
    const char *key;
    json_t *v;
    char num[64];
    if (!json_is_object(f))
        return tk_error_set(err, TK_EINVAL, "field 'fields' must be an object");
    json_object_foreach(f, key, v)
    {
        const char *s;
        if (json_is_string(v)) {
            s = json_string_value(v);
            if (strlen(s) != json_string_length(v))
                return tk_error_set(err, TK_EINVAL, "fields.%s must not contain NUL", key);
        } else if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            s = num;
        } else if (json_is_real(v)) {
            snprintf(num, sizeof num, "%.17g", json_real_value(v));
            s = num;
        } else {
            return tk_error_set(err, TK_EINVAL, "fields.%s must be a string or a number", key);
        }
        if (tk_kv_set(out, key, s))
            return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    return 0;
}

static int items_add(struct tk_http_ctx *x, struct tk_error *err)
{
    static const char *const allowed[] = {"type",      "account", "title", "template",
                                          "reminders", "fields",  NULL};
    json_t *b = NULL, *v;
    struct tk_send_req rq;
    struct tk_account a = {0};
    struct tk_kv fields = {0};
    int64_t id = 0;
    int rc;
    memset(&rq, 0, sizeof rq);
    rq.reminders = rq.every_days = rq.count = -1;
    if ((rc = tk_api_body(x->req, 0, &b, err)) || (rc = tk_api_only(b, allowed, err)) ||
        (rc = tk_api_string(b, "type", 1, &rq.type, err)) ||
        (rc = tk_api_string(b, "title", 1, &rq.title, err)) ||
        (rc = tk_api_string(b, "template", 0, &rq.template_name, err)))
        goto out;
    if ((v = json_object_get(b, "reminders")) && !json_is_null(v) &&
        (rc = read_reminders(v, &rq, err)))
        goto out;
    if ((v = json_object_get(b, "fields")) && !json_is_null(v) &&
        (rc = read_fields(v, &fields, err)))
        goto out;
    if ((rc = body_account(x->e, b, &a, err)))
        goto out;
    rq.account_id = a.id;
    rq.fields = &fields;
    if ((rc = tk_engine_send(x->e, &rq, &id, err)))
        goto out;
    rc = item_answer(x, 201, id, err);
out:
    tk_kv_free(&fields);
    tk_account_free(&a);
    json_decref(b);
    return rc;
}

static int items_get(struct tk_http_ctx *x, struct tk_error *err)
{
    int64_t id;
    int rc = path_item(x, &id, err);
    return rc ? rc : item_answer(x, 200, id, err);
}

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

struct page {
    json_t *arr;
    int64_t after;
    size_t limit, n;
    int64_t last;
    int more;
};

static int page_one(void *u, const struct tk_item *it)
{
    struct page *p = u;
    if (it->id <= p->after)
        return 0;
    if (p->n == p->limit) {
        p->more = 1;
        return 1; /* stop: one more exists */
    }
    json_array_append_new(p->arr, tk_json_item(it, NULL));
    p->n++;
    p->last = it->id;
    return 0;
}

static int items_list(struct tk_http_ctx *x, struct tk_error *err)
{
    char acc[256], type[128], pending[16], cursor[32], limit[16];
    const char *v;
    struct tk_item_filter f;
    struct tk_account a = {0};
    struct page p = {NULL, 0, PAGE_DEFAULT, 0, 0, 0};
    int64_t n;
    int rc = 0;
    json_t *o;
    memset(&f, 0, sizeof f);
    err->code = 0;
    if ((v = tk_http_query(x->req, "account", acc, sizeof acc, err))) {
        if ((rc = tk_api_account(x->e, v, &a, err)))
            return rc;
        f.account_id = a.id;
    }
    if (!err->code && (f.type = tk_http_query(x->req, "type", type, sizeof type, err)) &&
        !tk_engine_type(x->e, f.type, err))
        rc = TK_EINVAL;
    if (!rc && !err->code && (v = tk_http_query(x->req, "pending", pending, sizeof pending, err))) {
        if (strcmp(v, "true") == 0)
            f.pending_only = 1;
        else if (strcmp(v, "false") != 0)
            rc = tk_error_set(err, TK_EINVAL, "pending: '%s' is neither true nor false", v);
    }
    if (!rc && !err->code && (v = tk_http_query(x->req, "cursor", cursor, sizeof cursor, err))) {
        if (tk_parse_int(v, 0, INT64_MAX, &n))
            rc = tk_error_set(err, TK_EINVAL, "cursor: '%s' is not a cursor this API gave", v);
        p.after = n;
    }
    if (!rc && !err->code && (v = tk_http_query(x->req, "limit", limit, sizeof limit, err))) {
        if (tk_parse_int(v, 1, PAGE_MAX, &n))
            rc = tk_error_set(err, TK_EINVAL, "limit: '%s' is not a number from 1 to %d", v,
                              PAGE_MAX);
        p.limit = (size_t)n;
    }
    if (!rc && err->code)
        rc = err->code;
    if (rc)
        goto out;
    p.arr = json_array();
    rc = tk_engine_items_each(x->e, &f, page_one, &p, err);
    if (rc == 1)
        rc = 0;
    if (rc) {
        json_decref(p.arr);
        goto out;
    }
    o = json_object();
    json_object_set_new(o, "items", p.arr);
    if (p.more) {
        char next[32];
        snprintf(next, sizeof next, "%lld", (long long)p.last);
        json_object_set_new(o, "next_cursor", json_string(next));
    } else {
        json_object_set_new(o, "next_cursor", json_null());
    }
    rc = tk_http_res_json(x->res, 200, o);
out:
    tk_account_free(&a);
    return rc;
}

static int items_resend(struct tk_http_ctx *x, struct tk_error *err)
{
    json_t *b = NULL;
    static const char *const allowed[] = {NULL};
    int64_t id;
    int rc;
    if ((rc = tk_api_body(x->req, 1, &b, err)) || (rc = tk_api_only(b, allowed, err)) ||
        (rc = path_item(x, &id, err)) || (rc = tk_engine_resend(x->e, id, err)))
        goto out;
    rc = item_answer(x, 200, id, err);
out:
    json_decref(b);
    return rc;
}

static int items_reminders(struct tk_http_ctx *x, struct tk_error *err)
{
    static const char *const allowed[] = {"enabled", "every_days", "count", NULL};
    json_t *b = NULL;
    struct tk_item it;
    int64_t id, every = -1, count = -1;
    int enabled = -1, rc;
    memset(&it, 0, sizeof it);
    if ((rc = tk_api_body(x->req, 0, &b, err)) || (rc = tk_api_only(b, allowed, err)) ||
        (rc = tk_api_bool(b, "enabled", &enabled, err)) ||
        (rc = tk_api_int(b, "every_days", 1, 365, &every, err)) ||
        (rc = tk_api_int(b, "count", 0, 100, &count, err)) || (rc = path_item(x, &id, err)))
        goto out;
    if (enabled < 0) {
        /* not given: as it is (the CLI always names on or off) */
        if ((rc = tk_engine_item_get(x->e, id, &it, err)))
            goto out;
        enabled = it.rem.enabled;
    }
    if ((rc = tk_engine_set_reminders(x->e, id, enabled, (int)every, (int)count, err)))
        goto out;
    rc = item_answer(x, 200, id, err);
out:
    tk_item_free(&it);
    json_decref(b);
    return rc;
}

static int items_event(struct tk_http_ctx *x, struct tk_error *err)
{
    static const char *const allowed[] = {"event", NULL};
    json_t *b = NULL;
    const char *event;
    int64_t id;
    int rc;
    if ((rc = tk_api_body(x->req, 0, &b, err)) || (rc = tk_api_only(b, allowed, err)) ||
        (rc = tk_api_string(b, "event", 1, &event, err)) || (rc = path_item(x, &id, err)) ||
        (rc = tk_engine_event(x->e, id, event, err)))
        goto out;
    rc = item_answer(x, 200, id, err);
out:
    json_decref(b);
    return rc;
}

static const struct tk_http_route routes[] = {
    {"POST", "/api/v1/items", TK_ROUTE_TOKEN | TK_ROUTE_WRITE, "write", items_add},
    {"GET", "/api/v1/items", TK_ROUTE_TOKEN, "read", items_list},
    {"GET", "/api/v1/items/{item}", TK_ROUTE_TOKEN, "read", items_get},
    {"POST", "/api/v1/items/{item}/resend", TK_ROUTE_TOKEN | TK_ROUTE_WRITE, "write", items_resend},
    {"PATCH", "/api/v1/items/{item}/reminders", TK_ROUTE_TOKEN | TK_ROUTE_WRITE, "write",
     items_reminders},
    {"POST", "/api/v1/items/{item}/events", TK_ROUTE_TOKEN | TK_ROUTE_WRITE, "write", items_event},
};

int tk_http_api_items_routes(struct tk_http_router *r, struct tk_error *err)
{
    return tk_http_router_add(r, routes, sizeof routes / sizeof routes[0], err);
}
