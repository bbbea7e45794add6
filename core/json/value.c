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

/* The one JSON string writer (present.c's items, `preview --json`): the
 * bytes jansson's dump_string gives for valid UTF-8 S of N bytes.  \\ \"
 * \b \f \n \r \t, other controls \u00XX (upper-case hex); with ASCII
 * (JSON_ENSURE_ASCII) every code point past 0x7F as \uXXXX, a surrogate
 * pair above 0xFFFF; without, those bytes as they are. */
int tk_json_write_strn(struct tk_buf *b, const char *s, size_t n, int ascii)
{
    static const char hexd[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;
    if (tk_buf_putc(b, '"'))
        return -1;
    while (p < end) {
        unsigned char ch = *p;
        char esc[12];
        size_t len = 1, en = 2;
        if (ch >= 0x20 && ch != '"' && ch != '\\' && (ch < 0x80 || !ascii)) {
            p++; /* plain: written in runs */
            continue;
        }
        if (p > run && tk_buf_append(b, run, (size_t)(p - run)))
            return -1;
        esc[0] = '\\';
        switch (ch) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default: {
            unsigned long c = ch < 0x80 ? ch : utf8_at(p, &len);
            unsigned long u[2];
            size_t nu = 1;
            if (c < 0x10000) {
                u[0] = c;
            } else {
                c -= 0x10000;
                u[0] = 0xD800 | (c >> 10);
                u[1] = 0xDC00 | (c & 0x3FF);
                nu = 2;
            }
            en = 0;
            for (size_t k = 0; k < nu; k++) {
                esc[en++] = '\\';
                esc[en++] = 'u';
                esc[en++] = hexd[(u[k] >> 12) & 15];
                esc[en++] = hexd[(u[k] >> 8) & 15];
                esc[en++] = hexd[(u[k] >> 4) & 15];
                esc[en++] = hexd[u[k] & 15];
            }
        }
        }
        if (tk_buf_append(b, esc, en))
            return -1;
        p += len;
        run = p;
    }
    if (p > run && tk_buf_append(b, run, (size_t)(p - run)))
        return -1;
    return tk_buf_putc(b, '"') ? -1 : 0;
}

int tk_json_write_str(struct tk_buf *b, const char *s)
{
    char *fixed = NULL;
    size_t n;
    int rc;
    if (!s)
        return tk_buf_puts(b, "null") ? -1 : 0;
    /* the common case, printable ASCII with nothing to escape: as is */
    for (n = 0;
         (unsigned char)s[n] >= 0x20 && (unsigned char)s[n] < 0x80 && s[n] != '"' && s[n] != '\\';
         n++)
        ;
    if (!s[n])
        return tk_buf_putc(b, '"') || tk_buf_append(b, s, n) || tk_buf_putc(b, '"') ? -1 : 0;
    n += strlen(s + n);
    if (!tk_utf8_valid(s, n)) {
        if (!(fixed = tk_utf8_repair(s, n, &n)))
            return -1;
        s = fixed;
    }
    rc = tk_json_write_strn(b, s, n, 1);
    free(fixed);
    return rc;
}
