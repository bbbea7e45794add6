/* api_parse.c - requests to engine arguments, with no engine: the part of
 * the API that reads hostile input, kept pure so that the fuzzer
 * (tests/fuzz/fuzz_http.c) drives it alone. */
#include <stdio.h>
#include <string.h>

#include "http/api.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

void tk_api_new_item_free(struct tk_api_new_item *x)
{
    json_decref(x->body);
    tk_kv_free(&x->fields);
    memset(x, 0, sizeof *x);
}

/* reminders.schedule (issue 14): an array of whole days relative to the
 * due date, as "-7,0,7" in BUF (checked as the command line's). */
static int read_schedule(json_t *a, char *buf, size_t size, struct tk_error *err)
{
    int offs[TK_SCHEDULE_MAX], n = 0;
    size_t i;
    json_t *v;
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > TK_SCHEDULE_MAX)
        return tk_error_set(err, TK_EINVAL,
                            "field 'reminders.schedule' must be an array of 1 to %d whole days "
                            "relative to the due date, like [-7, 0, 7]",
                            TK_SCHEDULE_MAX);
    buf[0] = '\0';
    json_array_foreach(a, i, v)
    {
        size_t used = strlen(buf);
        if (!json_is_integer(v) || json_integer_value(v) < -TK_SCHEDULE_LIMIT ||
            json_integer_value(v) > TK_SCHEDULE_LIMIT)
            return tk_error_set(err, TK_EINVAL,
                                "reminders.schedule[%zu] must be a whole number of days from %d "
                                "to %d",
                                i, -TK_SCHEDULE_LIMIT, TK_SCHEDULE_LIMIT);
        snprintf(buf + used, size - used, "%s%lld", i ? "," : "", (long long)json_integer_value(v));
    }
    return tk_schedule_text_parse(buf, offs, TK_SCHEDULE_MAX, TK_SCHEDULE_LIMIT, &n, err);
}

/* "due": a date like "2026-12-31" (NULL when absent or null). */
static int read_due(json_t *body, const char **out, struct tk_error *err)
{
    json_t *v = json_object_get(body, "due");
    tk_time t;
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) != 10 ||
        tk_time_parse(json_string_value(v), &t) != 0)
        return tk_error_set(err, TK_EINVAL, "field 'due' must be a date like \"2026-12-31\"");
    *out = json_string_value(v);
    return 0;
}

static int read_reminders(json_t *r, struct tk_send_req *rq, char *sched, size_t size,
                          struct tk_error *err)
{
    static const char *const allowed[] = {"enabled", "every_days", "count", "schedule", NULL};
    int64_t every = -1, count = -1;
    json_t *v;
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
    if ((v = json_object_get(r, "schedule")) && !json_is_null(v)) {
        if ((rc = read_schedule(v, sched, size, err)))
            return rc;
        rq->schedule = sched;
    }
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

int tk_api_parse_new_item(const struct tk_http_request *rq, struct tk_api_new_item *out,
                          struct tk_error *err)
{
    static const char *const allowed[] = {"type",      "account", "title", "template",
                                          "reminders", "fields",  "due",   NULL};
    json_t *v;
    int rc;
    memset(out, 0, sizeof *out);
    out->req.reminders = out->req.every_days = out->req.count = -1;
    if ((rc = tk_api_body(rq, 0, &out->body, err)) || (rc = tk_api_only(out->body, allowed, err)) ||
        (rc = tk_api_string(out->body, "type", 1, &out->req.type, err)) ||
        (rc = tk_api_string(out->body, "title", 1, &out->req.title, err)) ||
        (rc = tk_api_string(out->body, "template", 0, &out->req.template_name, err)))
        return rc;
    if ((v = json_object_get(out->body, "reminders")) && !json_is_null(v) &&
        (rc = read_reminders(v, &out->req, out->schedule, sizeof out->schedule, err)))
        return rc;
    if ((rc = read_due(out->body, &out->req.due, err)))
        return rc;
    if ((v = json_object_get(out->body, "fields")) && !json_is_null(v) &&
        (rc = read_fields(v, &out->fields, err)))
        return rc;
    v = json_object_get(out->body, "account");
    if (json_is_integer(v)) {
        snprintf(out->account_num, sizeof out->account_num, "%lld",
                 (long long)json_integer_value(v));
        out->account = out->account_num;
    } else if (!v || json_is_null(v)) {
        return tk_error_set(err, TK_EINVAL, "field 'account' is required");
    } else if ((rc = tk_api_string(out->body, "account", 1, &out->account, err))) {
        return tk_error_set(err, TK_EINVAL, "field 'account' must be an id or a name");
    }
    out->req.fields = &out->fields;
    return 0;
}

int tk_api_parse_reminders(const struct tk_http_request *rq, struct tk_api_reminders *out,
                           struct tk_error *err)
{
    static const char *const allowed[] = {"enabled",  "every_days", "count",
                                          "schedule", "due",        NULL};
    json_t *b = NULL, *v;
    const char *due = NULL;
    int64_t every = -1, count = -1;
    int rc;
    memset(out, 0, sizeof *out);
    out->enabled = -1;
    if (!(rc = tk_api_body(rq, 0, &b, err)) && !(rc = tk_api_only(b, allowed, err)) &&
        !(rc = tk_api_bool(b, "enabled", &out->enabled, err)) &&
        !(rc = tk_api_int(b, "every_days", 1, 365, &every, err)) &&
        !(rc = tk_api_int(b, "count", 0, 100, &count, err)) && !(rc = read_due(b, &due, err))) {
        if (due) {
            tk_strlcpy(out->due_text, due, sizeof out->due_text);
            out->due = out->due_text;
        }
        /* "schedule": null goes back to every N days; absent keeps it */
        if ((v = json_object_get(b, "schedule")) && json_is_null(v)) {
            out->schedule = "none";
        } else if (v &&
                   !(rc = read_schedule(v, out->schedule_text, sizeof out->schedule_text, err))) {
            out->schedule = out->schedule_text;
            if (every != -1 || count != -1)
                rc = tk_error_set(err, TK_EINVAL,
                                  "'schedule' replaces 'every_days' and 'count': give one or the "
                                  "other");
        }
    }
    out->every = (int)every;
    out->count = (int)count;
    json_decref(b);
    return rc;
}

/* The item list's cursor: "v1:" and the last id listed, base64url without
 * padding.  Opaque to clients (docs/api.md); a keyset, so a page costs the
 * same wherever it is and items added meanwhile neither repeat nor skip. */
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void tk_api_cursor_make(int64_t last_id, char out[TK_API_CURSOR_MAX])
{
    char raw[32];
    size_t n = (size_t)snprintf(raw, sizeof raw, "v1:%lld", (long long)last_id), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)raw[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)raw[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)raw[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = b64[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = b64[v & 63];
    }
    out[o] = '\0';
}

int tk_api_cursor_read(const char *s, int64_t *last_id)
{
    char raw[32];
    size_t n = strlen(s), o = 0;
    unsigned v = 0;
    int bits = 0;
    int64_t id;
    if (n == 0 || n > 40 || n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *p = s[i] ? strchr(b64, s[i]) : NULL;
        if (!p)
            return -1;
        v = (v << 6) | (unsigned)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= sizeof raw)
                return -1;
            raw[o++] = (char)((v >> bits) & 255);
        }
    }
    if (v & ((1u << bits) - 1)) /* a canonical encoding only */
        return -1;
    raw[o] = '\0';
    if (strncmp(raw, "v1:", 3) != 0 || !raw[3] || raw[3] == '0' || raw[3] == '+' || raw[3] == '-' ||
        tk_parse_int(raw + 3, 1, INT64_MAX, &id))
        return -1;
    *last_id = id;
    return 0;
}

int tk_api_parse_item_query(const struct tk_http_request *rq, struct tk_api_item_query *q,
                            struct tk_error *err)
{
    char pending[16], cursor[64], limit[16];
    const char *v;
    int64_t n;
    memset(q, 0, sizeof *q);
    q->limit = PAGE_DEFAULT;
    err->code = 0;
    q->account = tk_http_query(rq, "account", q->account_buf, sizeof q->account_buf, err);
    if (!err->code)
        q->type = tk_http_query(rq, "type", q->type_buf, sizeof q->type_buf, err);
    if (!err->code && (v = tk_http_query(rq, "pending", pending, sizeof pending, err))) {
        if (strcmp(v, "true") == 0)
            q->pending = 1;
        else if (strcmp(v, "false") != 0)
            return tk_error_set(err, TK_EINVAL, "pending: '%s' is neither true nor false", v);
    }
    if (!err->code && (v = tk_http_query(rq, "cursor", cursor, sizeof cursor, err))) {
        if (tk_api_cursor_read(v, &n))
            return tk_error_set(err, TK_EINVAL, "cursor: '%s' is not a cursor this API gave", v);
        q->after = n;
    }
    if (!err->code && (v = tk_http_query(rq, "limit", limit, sizeof limit, err))) {
        if (tk_parse_int(v, 1, PAGE_MAX, &n))
            return tk_error_set(err, TK_EINVAL, "limit: '%s' is not a number from 1 to %d", v,
                                PAGE_MAX);
        q->limit = (size_t)n;
    }
    return err->code;
}
