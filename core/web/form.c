/*
 * form.c - application/x-www-form-urlencoded (the console's POST bodies and
 * query strings), as the WHATWG URL standard parses it: fields split on
 * '&', name and value on the first '=', '+' a space, %XX a byte.  A
 * malformed escape is refused rather than passed through, so that no
 * later layer sees a '%' it might decode again.
 */
#include <stdlib.h>
#include <string.h>

#include "web.h"

#define MAX_FIELDS 64
#define MAX_FIELD (64 * 1024)

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* S (N bytes) decoded into OUT (reset first). */
static int decode(const char *s, size_t n, struct tk_buf *out, struct tk_error *err)
{
    tk_buf_reset(out);
    if (tk_buf_reserve(out, n))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int h, l;
            if (i + 2 >= n)
                return tk_error_set(err, TK_EINVAL, "malformed form data");
            h = hexval(s[i + 1]);
            l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return tk_error_set(err, TK_EINVAL, "malformed form data");
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (c == '\0')
            return tk_error_set(err, TK_EINVAL, "form data holds a NUL byte");
        /* a browser sends a textarea's line breaks as CR LF: keep LF (a
         * lone CR would be shown as U+FFFD, and a bulk message goes
         * through a hidden field of the confirm page and back) */
        if (c == '\n' && out->len && out->data[out->len - 1] == '\r')
            out->len--;
        tk_buf_putc(out, c);
    }
    /* an empty value is "" (a zeroed buffer has no data yet) */
    return tk_buf_append(out, "", 0) ? tk_error_set(err, TK_ENOMEM, "out of memory") : 0;
}

int tk_web_form_parse(const char *body, size_t len, struct tk_kv *out, struct tk_error *err)
{
    struct tk_buf name = {0}, value = {0};
    size_t fields = 0, i = 0;
    int rc = 0;
    while (rc == 0 && i < len) {
        const char *f = body + i, *amp = memchr(f, '&', len - i), *eq;
        size_t flen = amp ? (size_t)(amp - f) : len - i;
        i += flen + 1;
        if (flen == 0)
            continue;
        if (++fields > MAX_FIELDS || flen > MAX_FIELD) {
            rc = tk_error_set(err, TK_EINVAL, "too many or too long form fields");
            break;
        }
        eq = memchr(f, '=', flen);
        if ((rc = decode(f, eq ? (size_t)(eq - f) : flen, &name, err)) ||
            (rc =
                 decode(eq ? eq + 1 : f + flen, eq ? flen - (size_t)(eq - f) - 1 : 0, &value, err)))
            break;
        if (tk_kv_set(out, name.data, value.data))
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    tk_buf_free(&name);
    tk_buf_free(&value);
    return rc;
}
