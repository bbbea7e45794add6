/* api_items.c - /api/v1/items: send, read, resend, reminder settings and
 * client events, through the engine functions of tickler send, show, list,
 * resend, reminders and event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/api.h"

/* IT (of account ACCOUNT_ID) as `tickler --json show` prints it. */
static int item_write(struct tk_http_ctx *x, int status, const struct tk_item *it,
                      struct tk_error *err)
{
    /* only the account's name: the rest of its row is not in the answer */
    char *name = NULL;
    int rc = tk_engine_account_name(x->e, it->account_id, &name, err);
    if (!rc) {
        /* straight into the answer; the tree only for what that cannot
         * write (the bytes are the same either way) */
        int r;
        tk_buf_reset(&x->res->body);
        /* one allocation for an item's answer (about 500 bytes with a few
         * fields), not the doubling from 64 bytes: a fresh request's body
         * is empty; the dump grows it further when it needs to */
        r = tk_buf_reserve(&x->res->body, 1024) ? TK_ENOMEM
                                                : tk_json_item_dump(&x->res->body, it, name);
        if (r == 0 && !tk_buf_putc(&x->res->body, '\n')) {
            x->res->status = status;
            x->res->content_type = "application/json";
        } else {
            rc = tk_http_res_json(x->res, status, tk_json_item(it, name));
        }
    }
    free(name);
    return rc;
}

/* The item as `tickler --json show` prints it, read now. */
static int item_answer(struct tk_http_ctx *x, int status, int64_t id, struct tk_error *err)
{
    struct tk_item it;
    int rc;
    memset(&it, 0, sizeof it);
    if (!(rc = tk_engine_item_get(x->e, id, &it, err)))
        rc = item_write(x, status, &it, err);
    tk_item_free(&it);
    return rc;
}

static int path_item(struct tk_http_ctx *x, int64_t *id, struct tk_error *err)
{
    return tk_api_id(tk_http_param(x->req, "item"), "item", id, err);
}

static int items_add(struct tk_http_ctx *x, struct tk_error *err)
{
    struct tk_api_new_item ni;
    struct tk_account a = {0};
    int64_t id = 0;
    int rc;
    if (!(rc = tk_api_parse_new_item(x->req, &ni, err)) &&
        !(rc = tk_api_account(x->e, ni.account, &a, err))) {
        ni.req.account_id = a.id;
        if (!(rc = tk_engine_send(x->e, &ni.req, &id, err)))
            rc = item_answer(x, 201, id, err);
    }
    tk_api_new_item_free(&ni);
    tk_account_free(&a);
    return rc;
}

static int items_get(struct tk_http_ctx *x, struct tk_error *err)
{
    int64_t id;
    int rc = path_item(x, &id, err);
    return rc ? rc : item_answer(x, 200, id, err);
}

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
    struct tk_api_item_query q;
    struct tk_item_filter f;
    struct tk_account a = {0};
    struct page p = {NULL, 0, 0, 0, 0, 0};
    int rc;
    json_t *o;
    memset(&f, 0, sizeof f);
    if ((rc = tk_api_parse_item_query(x->req, &q, err)))
        return rc;
    if (q.account) {
        if ((rc = tk_api_account(x->e, q.account, &a, err)))
            return rc;
        f.account_id = a.id;
    }
    if ((f.type = q.type) && !tk_engine_type(x->e, f.type, err)) {
        rc = TK_EINVAL;
        goto out;
    }
    f.pending_only = q.pending;
    f.after_id = q.after;           /* keyset: the store starts there */
    f.limit = (int64_t)q.limit + 1; /* one more: is there a next page? */
    p.after = q.after;
    p.limit = q.limit;
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
        char next[TK_API_CURSOR_MAX];
        tk_api_cursor_make(p.last, next);
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
    struct tk_api_reminders r;
    struct tk_item it;
    int64_t id;
    int rc;
    memset(&it, 0, sizeof it);
    if ((rc = tk_api_parse_reminders(x->req, &r, err)) || (rc = path_item(x, &id, err)))
        goto out;
    if (r.enabled < 0) {
        /* not given: as it is (the CLI always names on or off) */
        if ((rc = tk_engine_item_get(x->e, id, &it, err)))
            goto out;
        r.enabled = it.rem.enabled;
    }
    if ((rc = tk_engine_set_reminders_ex(x->e, id, r.enabled, r.every, r.count, r.schedule, r.due,
                                         err)))
        goto out;
    rc = item_answer(x, 200, id, err);
out:
    tk_item_free(&it);
    return rc;
}

static int items_event(struct tk_http_ctx *x, struct tk_error *err)
{
    static const char *const allowed[] = {"event", NULL};
    json_t *b = NULL;
    const char *event;
    struct tk_item it;
    int64_t id;
    int rc;
    memset(&it, 0, sizeof it);
    if ((rc = tk_api_body(x->req, 0, &b, err)) || (rc = tk_api_only(b, allowed, err)) ||
        (rc = tk_api_string(b, "event", 1, &event, err)) || (rc = path_item(x, &id, err)))
        goto out;
    /* the item as the event left it, without reading it again, unless an
     * automation may have changed it since (engine.h) */
    rc = tk_engine_event_item(x->e, id, event, &it, err);
    if (rc == 1)
        rc = item_answer(x, 200, id, err);
    else if (rc == 0)
        rc = item_write(x, 200, &it, err);
out:
    tk_item_free(&it);
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
