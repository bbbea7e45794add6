/* value.c - JSON values that never go missing: strings repaired to UTF-8,
 * times as ISO 8601. */
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

json_t *tk_json_str(const char *s)
{
    size_t n, len;
    char *fixed;
    json_t *v;
    if (!s)
        return json_null();
    n = strlen(s);
    if (tk_utf8_valid(s, n))
        return json_stringn(s, n);
    if (!(fixed = tk_utf8_repair(s, n, &len)))
        return NULL;
    v = json_stringn(fixed, len);
    free(fixed);
    return v;
}

json_t *tk_json_time(tk_time t)
{
    char buf[32];
    if (!t)
        return json_null();
    return json_string(tk_time_format(t, buf, sizeof buf));
}

int tk_json_set(json_t *o, const char *key, json_t *v)
{
    size_t n = strlen(key);
    char *fixed;
    int rc;
    if (tk_utf8_valid(key, n))
        return json_object_set_new(o, key, v);
    if (!(fixed = tk_utf8_repair(key, n, NULL))) {
        json_decref(v);
        return -1;
    }
    rc = json_object_set_new(o, fixed, v);
    free(fixed);
    return rc;
}
