/* api_webhooks.c - /api/v1/webhooks: outbound webhook subscriptions with
 * the admin scope, through the engine functions the CLI's `webhook add`,
 * `webhook list` and `webhook remove` call (engine/webhooks.c). */
#include <string.h>

#include "engine/webhooks.h"
#include "http/api.h"

struct find_ctx {
    int64_t id;
    json_t *found; /* the subscription as `webhook list --json` prints it */
    json_t *all;   /* every one, for the list; NULL when finding */
};

static int one(void *u, const struct tk_webhook_info *w)
{
    struct find_ctx *f = u;
    if (f->all)
        json_array_append_new(f->all, tk_json_webhook(w));
    else if (w->id == f->id && !f->found)
        f->found = tk_json_webhook(w);
    return 0;
}

static int webhooks_list(struct tk_http_ctx *x, struct tk_error *err)
{
    struct find_ctx f = {0, NULL, json_array()};
    int rc = tk_engine_webhooks_each(x->e, one, &f, err);
    if (rc) {
        json_decref(f.all);
        return rc;
    }
    return tk_http_res_json(x->res, 200, f.all);
}

/* "events": a list of names or one comma-separated string, as the CLI's
 * --events; into BUF of SIZE bytes. */
static int events_text(json_t *b, char *buf, size_t size, struct tk_error *err)
{
    json_t *v = json_object_get(b, "events"), *e;
    size_t i, n = 0;
    if (json_is_string(v)) {
        if (json_string_length(v) >= size)
            return tk_error_set(err, TK_EINVAL, "events: too long");
        memcpy(buf, json_string_value(v), json_string_length(v) + 1);
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return tk_error_set(err, TK_EINVAL,
                            "events: a list of event names (item.sent, item.completed, "
                            "reminder.sent, delivery.dead) is required");
    buf[0] = '\0';
    json_array_foreach(v, i, e)
    {
        size_t len;
        if (!json_is_string(e))
            return tk_error_set(err, TK_EINVAL, "events: each event is a string");
        len = json_string_length(e);
        if (n + len + 2 > size)
            return tk_error_set(err, TK_EINVAL, "events: too long");
        if (n)
            buf[n++] = ',';
        memcpy(buf + n, json_string_value(e), len + 1);
        n += len;
    }
    return 0;
}

static int webhooks_add(struct tk_http_ctx *x, struct tk_error *err)
{
    static const char *const allowed[] = {"url", "events", "secret", NULL};
    json_t *b = NULL;
    const char *url, *secret;
    char events[1024];
    struct find_ctx f = {0};
    int rc;
    if ((rc = tk_api_body(x->req, 0, &b, err)) || (rc = tk_api_only(b, allowed, err)) ||
        (rc = tk_api_string(b, "url", 1, &url, err)) ||
        (rc = tk_api_string(b, "secret", 1, &secret, err)) ||
        (rc = events_text(b, events, sizeof events, err)) ||
        (rc = tk_engine_webhook_add(x->e, url, events, secret, &f.id, err)) ||
        (rc = tk_engine_webhooks_each(x->e, one, &f, err)))
        goto out;
    if (!f.found) {
        rc = tk_error_set(err, TK_ENOTFOUND, "webhook %lld: not found", (long long)f.id);
        goto out;
    }
    rc = tk_http_res_json(x->res, 201, f.found);
out:
    json_decref(b);
    return rc;
}

static int webhooks_remove(struct tk_http_ctx *x, struct tk_error *err)
{
    int64_t id;
    json_t *o;
    int rc;
    if ((rc = tk_api_id(tk_http_param(x->req, "webhook"), "webhook", &id, err)) ||
        (rc = tk_engine_webhook_remove(x->e, id, err)))
        return rc;
    o = json_object();
    json_object_set_new(o, "id", json_integer(id));
    json_object_set_new(o, "removed", json_true());
    return tk_http_res_json(x->res, 200, o);
}

static const struct tk_http_route routes[] = {
    {"GET", "/api/v1/webhooks", TK_ROUTE_TOKEN, "admin", webhooks_list},
    {"POST", "/api/v1/webhooks", TK_ROUTE_TOKEN | TK_ROUTE_WRITE, "admin", webhooks_add},
    {"DELETE", "/api/v1/webhooks/{webhook}", TK_ROUTE_TOKEN | TK_ROUTE_WRITE, "admin",
     webhooks_remove},
};

int tk_http_api_webhooks_routes(struct tk_http_router *r, struct tk_error *err)
{
    return tk_http_router_add(r, routes, sizeof routes / sizeof routes[0], err);
}
