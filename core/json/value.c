/* value.c - JSON values that never go missing: strings repaired to UTF-8,
 * times as ISO 8601. */
#include <stdio.h>
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

/* The code point of the valid UTF-8 sequence at S, its length in *LEN. */
static unsigned long utf8_at(const unsigned char *s, size_t *len)
{
    if (s[0] < 0x80) {
        *len = 1;
        return s[0];
    }
    if (s[0] < 0xE0) {
        *len = 2;
        return ((unsigned long)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
    }
    if (s[0] < 0xF0) {
        *len = 3;
        return ((unsigned long)(s[0] & 0x0F) << 12) | ((unsigned long)(s[1] & 0x3F) << 6) |
               (s[2] & 0x3F);
    }
    *len = 4;
    return ((unsigned long)(s[0] & 0x07) << 18) | ((unsigned long)(s[1] & 0x3F) << 12) |
           ((unsigned long)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

int tk_json_write_str(struct tk_buf *b, const char *s)
{
    char *fixed = NULL;
    size_t n, len, run = 0;
    int rc;
    if (!s)
        return tk_buf_puts(b, "null") ? -1 : 0;
    n = strlen(s);
    if (!tk_utf8_valid(s, n)) {
        if (!(fixed = tk_utf8_repair(s, n, &n)))
            return -1;
        s = fixed;
    }
    rc = tk_buf_putc(b, '"');
    for (size_t i = 0; i < n && rc == 0; i += len) {
        const unsigned char *p = (const unsigned char *)s + i;
        unsigned long c = utf8_at(p, &len);
        const char *esc = NULL;
        char seq[32]; /* room for any unsigned value the compiler assumes */
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            run += len; /* plain: written in runs */
            continue;
        }
        if (run)
            rc = tk_buf_append(b, p - run, run);
        run = 0;
        switch (c) {
        case '\\':
            esc = "\\\\";
            break;
        case '"':
            esc = "\\\"";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (c < 0x10000) {
                snprintf(seq, sizeof seq, "\\u%04X", (unsigned)c);
            } else {
                c -= 0x10000;
                snprintf(seq, sizeof seq, "\\u%04X\\u%04X", (unsigned)(0xD800 | (c >> 10)),
                         (unsigned)(0xDC00 | (c & 0x3FF)));
            }
            esc = seq;
        }
        if (rc == 0)
            rc = tk_buf_puts(b, esc);
    }
    if (rc == 0 && run)
        rc = tk_buf_append(b, s + n - run, run);
    if (rc == 0)
        rc = tk_buf_putc(b, '"');
    free(fixed);
    return rc ? -1 : 0;
}
