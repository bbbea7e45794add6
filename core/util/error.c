/* error.c - struct tk_error helpers: the message is written once, where the
 * failure is understood, and passed up unchanged. */
#include <stdio.h>
#include <string.h>

#include "util.h"

static void flatten(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

/* The password of every "scheme://user:password@host" in S (of SIZE
 * bytes) as "***": a URL in an error (an SMTP relay's, a PostgreSQL DSN
 * that libpq quotes back) must not print its secret.  The authority is
 * taken up to the next blank or quote, not the next '/', since a password
 * may hold an unencoded '/'. */
static void mask_passwords(char *s, size_t size)
{
    char out[TK_ERROR_MAX];
    const char *p = s;
    size_t o = 0;
    if (!strstr(s, "://") || size > sizeof out)
        return;
    while (*p && o + 1 < size) {
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            const char *auth = p + 3, *end = auth + strcspn(auth, " \t\"'<>"), *at = NULL, *colon;
            for (const char *q = auth; q < end; q++)
                if (*q == '@')
                    at = q;
            colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
            if (colon) {
                int n = snprintf(out + o, size - o, "://%.*s:***", (int)(colon - auth), auth);
                o += n < 0 ? 0 : (size_t)n;
                if (o >= size)
                    o = size - 1;
                p = at;
                continue;
            }
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
    memcpy(s, out, o + 1);
}

int tk_error_setv(struct tk_error *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        flatten(err->msg);
        mask_passwords(err->msg, sizeof err->msg);
    }
    return code;
}

int tk_error_set(struct tk_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tk_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void tk_error_prefix(struct tk_error *err, const char *fmt, ...)
{
    char pre[TK_ERROR_MAX], old[TK_ERROR_MAX];
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* truncation is fine: the message is cut, never overrun */
    tk_strlcpy(err->msg, pre, sizeof err->msg);
    size_t n = strlen(err->msg);
    if (n + 2 < sizeof err->msg) {
        memcpy(err->msg + n, ": ", 3);
        tk_strlcpy(err->msg + n + 2, old, sizeof err->msg - n - 2);
    }
    flatten(err->msg);
    mask_passwords(err->msg, sizeof err->msg);
}

void tk_error_clear(struct tk_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}
