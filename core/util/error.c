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

int tk_error_setv(struct tk_error *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        flatten(err->msg);
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
}

void tk_error_clear(struct tk_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}
