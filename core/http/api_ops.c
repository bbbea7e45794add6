/* api_ops.c - health, metrics, the audit trail, the outbox and jobs:
 * the engine functions of tickler audit, outbox, outbox retry and job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/api.h"
#include "http/api.h"
#include "lua/pipeline.h"

/* ---- health (no token) ------------------------------------------------- */

static int health(struct tk_http_ctx *x, struct tk_error *err)
{
    struct tk_engine_store_info si;
    struct tk_error perr = {0};
    int64_t queued = 0, dead = 0;
    json_t *o = json_object(), *st = json_object(), *tr = json_object();
    int ok;
    (void)err;
    tk_engine_store_info(x->e, &si);
    ok = tk_engine_store_ping(x->e, &perr) == 0 &&
         tk_engine_outbox_counts(x->e, &queued, &dead, &perr) == 0;
    if (!ok) {
        /* the reason goes to the log only: it may name paths or hosts */
        tk_engine_warn(x->e, "health: %s", perr.msg);
    }
    json_object_set_new(o, "status", json_string(ok ? "ok" : "unavailable"));
    json_object_set_new(st, "driver", tk_json_str(si.driver));
    json_object_set_new(st, "schema_version", json_integer(si.schema_version));
    json_object_set_new(st, "ok", json_boolean(ok));
    json_object_set_new(o, "store", st);
    json_object_set_new(tr, "plugin", tk_json_str(tk_engine_config(x->e)->transport_plugin));
    json_object_set_new(tr, "queued", ok ? json_integer(queued) : json_null());
    json_object_set_new(tr, "dead", ok ? json_integer(dead) : json_null());
    json_object_set_new(o, "transport", tr);
    if (!ok)
        tk_http_res_header(x->res, "Retry-After", "5");
    return tk_http_res_json(x->res, ok ? 200 : 503, o);
}

/* ---- metrics (Prometheus text) ------------------------------------------ */

static void label(struct tk_buf *b, const char *s)
{
    /* Prometheus label values escape \, " and newline */
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"')
            tk_buf_putc(b, '\\');
        if (*s == '\n') {
            tk_buf_puts(b, "\\n");
            continue;
        }
        tk_buf_putc(b, *s);
    }
}

static int metric_item(void *u, const char *type, const char *state, int64_t n)
{
    struct tk_buf *b = u;
    tk_buf_puts(b, "tickler_items{type=\"");
    label(b, type);
    tk_buf_puts(b, "\",state=\"");
    label(b, state);
    tk_buf_printf(b, "\"} %lld\n", (long long)n);
    return 0;
}

static void metric_status(void *u, int status, uint64_t n)
{
    tk_buf_printf(u, "tickler_http_requests_total{status=\"%d\"} %llu\n", status,
                  (unsigned long long)n);
}

static int metrics(struct tk_http_ctx *x, struct tk_error *err)
{
    struct tk_engine_metrics m;
    struct tk_buf *b = &x->res->body;
    const int *bounds = tk_engine_metrics_bounds();
    int rc;
    tk_buf_reset(b);
    tk_buf_puts(b, "# HELP tickler_items Items by type and state.\n# TYPE tickler_items gauge\n");
    if ((rc = tk_engine_metrics(x->e, &m, metric_item, b, err)))
        return rc;
    tk_buf_printf(b,
                  "# HELP tickler_reminders_sent_total Automatic reminders enqueued.\n"
                  "# TYPE tickler_reminders_sent_total counter\n"
                  "tickler_reminders_sent_total %lld\n"
                  "# HELP tickler_outbox_messages Outbox messages by state.\n"
                  "# TYPE tickler_outbox_messages gauge\n"
                  "tickler_outbox_messages{state=\"queued\"} %lld\n"
                  "tickler_outbox_messages{state=\"dead\"} %lld\n"
                  "tickler_outbox_messages{state=\"sent\"} %lld\n"
                  "# HELP tickler_delivery_latency_seconds From enqueue to delivery.\n"
                  "# TYPE tickler_delivery_latency_seconds histogram\n",
                  (long long)m.reminders_sent, (long long)m.outbox_queued, (long long)m.outbox_dead,
                  (long long)m.outbox_sent);
    for (int i = 0; i < TK_METRICS_LATENCY_BUCKETS; i++)
        tk_buf_printf(b, "tickler_delivery_latency_seconds_bucket{le=\"%d\"} %lld\n", bounds[i],
                      (long long)m.latency_le[i]);
    tk_buf_printf(b,
                  "tickler_delivery_latency_seconds_bucket{le=\"+Inf\"} %lld\n"
                  "tickler_delivery_latency_seconds_sum %lld\n"
                  "tickler_delivery_latency_seconds_count %lld\n"
                  "# HELP tickler_http_requests_total HTTP answers by status since start.\n"
                  "# TYPE tickler_http_requests_total counter\n",
                  (long long)m.latency_count, (long long)m.latency_sum, (long long)m.latency_count);
    tk_http_server_status_counts(x->server, metric_status, b);
    x->res->status = 200;
    x->res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 0;
}

/* ---- audit ---------------------------------------------------------------- */

static int audit_one(void *u, const struct tk_audit_entry *ae)
{
    json_array_append_new(u, tk_json_audit(ae));
    return 0;
}

static int audit(struct tk_http_ctx *x, struct tk_error *err)
{
    char ib[32], ab[256];
    const char *item, *acc;
    int64_t item_id = 0;
    struct tk_account a = {0};
    json_t *arr;
    int rc = 0;
    err->code = 0;
    item = tk_http_query(x->req, "item", ib, sizeof ib, err);
    acc = err->code ? NULL : tk_http_query(x->req, "account", ab, sizeof ab, err);
    if (err->code)
        return err->code;
    if (item && acc)
        return tk_error_set(err, TK_EINVAL, "give item or account, not both");
    if (item) {
        struct tk_item it;
        memset(&it, 0, sizeof it);
        if ((rc = tk_api_id(item, "item", &item_id, err)) ||
            (rc = tk_engine_item_get(x->e, item_id, &it, err)))
            return rc;
        tk_item_free(&it);
    }
    if (acc && (rc = tk_api_account(x->e, acc, &a, err)))
        return rc;
    arr = json_array();
    if ((rc = tk_engine_audit_each(x->e, a.id, item_id, audit_one, arr, err)))
        json_decref(arr);
    else
        rc = tk_http_res_json(x->res, 200, arr);
    tk_account_free(&a);
    return rc;
}

/* ---- outbox --------------------------------------------------------------- */

static int outbox_one(void *u, const struct tk_outbox_row *r)
{
    json_array_append_new(u, tk_json_outbox(r));
    return 0;
}

static int outbox(struct tk_http_ctx *x, struct tk_error *err)
{
    char fb[16], ib[32];
    const char *failed, *item;
    int64_t item_id = 0;
    json_t *arr;
    int rc, only_failed = 0;
    err->code = 0;
    failed = tk_http_query(x->req, "failed", fb, sizeof fb, err);
    item = err->code ? NULL : tk_http_query(x->req, "item", ib, sizeof ib, err);
    if (err->code)
        return err->code;
    if (failed) {
        if (strcmp(failed, "true") == 0)
            only_failed = 1;
        else if (strcmp(failed, "false") != 0)
            return tk_error_set(err, TK_EINVAL, "failed: '%s' is neither true nor false", failed);
    }
    if (item && (rc = tk_api_id(item, "item", &item_id, err)))
        return rc;
    arr = json_array();
    if ((rc = tk_engine_outbox_each(x->e, only_failed, item_id, outbox_one, arr, err)))
        json_decref(arr);
    else
        rc = tk_http_res_json(x->res, 200, arr);
    return rc;
}

static int outbox_retry(struct tk_http_ctx *x, struct tk_error *err)
{
    int64_t id;
    int rc;
    json_t *o;
    if ((rc = tk_api_id(tk_http_param(x->req, "message"), "message", &id, err)) ||
        (rc = tk_engine_outbox_retry(x->e, id, err)))
        return rc;
    o = json_object();
    json_object_set_new(o, "retried", json_integer(1));
    return tk_http_res_json(x->res, 200, o);
}

/* ---- jobs ----------------------------------------------------------------- */

static int job_answer(struct tk_http_ctx *x, int status, int64_t id, struct tk_error *err)
{
    struct tk_job j;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc;
    memset(&j, 0, sizeof j);
    if ((rc = tk_engine_job_get(x->e, id, &j, err)))
        return rc;
    if (!(rc = tk_engine_job_items(x->e, id, &ids, &n, err)))
        rc = tk_http_res_json(x->res, status, tk_json_job(&j, ids, n));
    free(ids);
    tk_job_free(&j);
    return rc;
}

static int jobs_add(struct tk_http_ctx *x, struct tk_error *err)
{
    static const char *const allowed[] = {"pipeline", "account", "title", "stage", NULL};
    json_t *b = NULL, *v;
    const char *pipeline, *title, *stage, *acc = NULL;
    struct tk_account a = {0};
    char num[32];
    int64_t id = 0;
    int rc;
    if ((rc = tk_api_body(x->req, 0, &b, err)) || (rc = tk_api_only(b, allowed, err)) ||
        (rc = tk_api_string(b, "pipeline", 1, &pipeline, err)) ||
        (rc = tk_api_string(b, "title", 0, &title, err)) ||
        (rc = tk_api_string(b, "stage", 0, &stage, err)) ||
        (rc = tk_pipeline_job_title_check(title, err)))
        goto out;
    v = json_object_get(b, "account");
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        acc = num;
    } else if ((rc = tk_api_string(b, "account", 1, &acc, err))) {
        goto out;
    }
    if ((rc = tk_pipelines_need(x->pipelines, err)) || (rc = tk_api_account(x->e, acc, &a, err)) ||
        (rc = tk_pipeline_job_add(x->pipelines, pipeline, a.id, title, stage, &id, err)))
        goto out;
    rc = job_answer(x, 201, id, err);
out:
    tk_account_free(&a);
    json_decref(b);
    return rc;
}

static int jobs_get(struct tk_http_ctx *x, struct tk_error *err)
{
    int64_t id;
    int rc = tk_api_id(tk_http_param(x->req, "job"), "job", &id, err);
    return rc ? rc : job_answer(x, 200, id, err);
}

static int jobs_move(struct tk_http_ctx *x, struct tk_error *err)
{
    static const char *const allowed[] = {"stage", NULL};
    json_t *b = NULL;
    const char *stage;
    int64_t id;
    int rc;
    if ((rc = tk_api_body(x->req, 0, &b, err)) || (rc = tk_api_only(b, allowed, err)) ||
        (rc = tk_api_string(b, "stage", 1, &stage, err)) ||
        (rc = tk_api_id(tk_http_param(x->req, "job"), "job", &id, err)) ||
        (rc = tk_pipelines_need(x->pipelines, err)) ||
        (rc = tk_pipeline_job_move(x->pipelines, id, stage, err)))
        goto out;
    rc = job_answer(x, 200, id, err);
out:
    json_decref(b);
    return rc;
}

static int jobs_archive(struct tk_http_ctx *x, struct tk_error *err)
{
    static const char *const allowed[] = {NULL};
    json_t *b = NULL;
    int64_t id;
    int rc;
    if ((rc = tk_api_body(x->req, 1, &b, err)) || (rc = tk_api_only(b, allowed, err)) ||
        (rc = tk_api_id(tk_http_param(x->req, "job"), "job", &id, err)) ||
        (rc = tk_pipelines_need(x->pipelines, err)) ||
        (rc = tk_pipeline_job_archive(x->pipelines, id, err)))
        goto out;
    rc = job_answer(x, 200, id, err);
out:
    json_decref(b);
    return rc;
}

static const struct tk_http_route routes[] = {
    {"GET", "/api/v1/health", 0, NULL, health},
    {"GET", "/metrics", TK_ROUTE_TOKEN, "read", metrics},
    {"GET", "/api/v1/audit", TK_ROUTE_TOKEN, "read", audit},
    {"GET", "/api/v1/outbox", TK_ROUTE_TOKEN, "read", outbox},
    {"POST", "/api/v1/outbox/{message}/retry", TK_ROUTE_TOKEN | TK_ROUTE_WRITE, "write",
     outbox_retry},
    {"POST", "/api/v1/jobs", TK_ROUTE_TOKEN | TK_ROUTE_WRITE, "write", jobs_add},
    {"GET", "/api/v1/jobs/{job}", TK_ROUTE_TOKEN, "read", jobs_get},
    {"POST", "/api/v1/jobs/{job}/move", TK_ROUTE_TOKEN | TK_ROUTE_WRITE, "write", jobs_move},
    {"POST", "/api/v1/jobs/{job}/archive", TK_ROUTE_TOKEN | TK_ROUTE_WRITE, "write", jobs_archive},
};

int tk_http_api_routes(struct tk_http_router *r, struct tk_error *err)
{
    int rc;
    if ((rc = tk_http_router_add(r, routes, sizeof routes / sizeof routes[0], err)) ||
        (rc = tk_http_api_accounts_routes(r, err)) || (rc = tk_http_api_items_routes(r, err)) ||
        (rc = tk_http_api_webhooks_routes(r, err)))
        return rc;
    return 0;
}
