/* api_common.c - reading JSON bodies and ids the same way in every
 * endpoint: one-line errors in the CLI's words, unknown fields refused. */
#include <string.h>

#include "http/api.h"

int tk_api_body(const struct tk_http_request *rq, int empty_ok, json_t **out, struct tk_error *err)
{
    json_error_t je;
    json_t *j;
    *out = NULL;
    if (rq->body_len == 0) {
        if (!empty_ok)
            return tk_error_set(err, TK_EINVAL, "a JSON object body is required");
        *out = json_object();
        return *out ? 0 : tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    /* the length, not the NUL: a NUL inside the body is bad JSON */
    j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return tk_error_set(err, TK_EINVAL, "bad JSON at line %d column %d: %s", je.line, je.column,
                            je.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return tk_error_set(err, TK_EINVAL, "the body must be a JSON object");
    }
    *out = j;
    return 0;
}

int tk_api_only(json_t *o, const char *const *allowed, struct tk_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        size_t i;
        (void)v;
        for (i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], key) == 0)
                break;
        if (!allowed[i])
            return tk_error_set(err, TK_EINVAL, "unknown field '%s'", key);
    }
    return 0;
}

int tk_api_string(json_t *o, const char *key, int required, const char **out, struct tk_error *err)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return tk_error_set(err, TK_EINVAL, "field '%s' is required", key);
        return 0;
    }
    if (!json_is_string(v))
        return tk_error_set(err, TK_EINVAL, "field '%s' must be a string", key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return tk_error_set(err, TK_EINVAL, "field '%s' must not contain NUL", key);
    *out = json_string_value(v);
    return 0;
}

int tk_api_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out,
               struct tk_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return tk_error_set(err, TK_EINVAL, "field '%s' must be a number from %lld to %lld", key,
                            (long long)min, (long long)max);
    *out = json_integer_value(v);
    return 0;
}

int tk_api_bool(json_t *o, const char *key, int *out, struct tk_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return tk_error_set(err, TK_EINVAL, "field '%s' must be true or false", key);
    *out = json_is_true(v);
    return 0;
}

int tk_api_id(const char *s, const char *what, int64_t *out, struct tk_error *err)
{
    if (!s || tk_parse_int(s, 1, INT64_MAX, out))
        return tk_error_set(err, TK_ENOTFOUND, "no %s '%s'", what, s ? s : "");
    return 0;
}
