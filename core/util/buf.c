/* buf.c - growable byte buffers with a ceiling (curl's dynbuf idea: every
 * buffer that grows from outside input has a maximum). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int grow(struct tk_buf *b, size_t need)
{
    size_t max = b->max ? b->max : TK_BUF_DEFAULT_MAX;
    size_t cap;
    char *p;
    if (need > max || need < b->len)
        return TK_ENOMEM;
    if (need + 1 <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need + 1)
        cap = cap > max / 2 ? max + 1 : cap * 2;
    p = realloc(b->data, cap);
    if (!p)
        return TK_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int tk_buf_reserve(struct tk_buf *b, size_t n)
{
    /* a NULL data pointer would break the "always NUL-terminated" promise
     * for callers that write into the spare room and then fail */
    if (b->len + n < b->len || grow(b, b->len + n))
        return TK_ENOMEM;
    b->data[b->len] = '\0';
    return 0;
}

/* Room for NEED bytes and the NUL without grow(): the answer grow() gives
 * when it has nothing to do (the JSON writers append a few bytes at a time,
 * about a hundred calls per API answer). */
static inline int fits(const struct tk_buf *b, size_t need)
{
    return need >= b->len && need < b->cap && need <= (b->max ? b->max : TK_BUF_DEFAULT_MAX);
}

int tk_buf_append(struct tk_buf *b, const void *p, size_t n)
{
    if (!fits(b, b->len + n) && grow(b, b->len + n))
        return TK_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int tk_buf_puts(struct tk_buf *b, const char *s)
{
    return tk_buf_append(b, s, strlen(s));
}

int tk_buf_putc(struct tk_buf *b, char c)
{
    if (!fits(b, b->len + 1))
        return tk_buf_append(b, &c, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}

int tk_buf_printf(struct tk_buf *b, const char *fmt, ...)
{
    va_list ap;
    size_t room = b->data && b->cap > b->len ? b->cap - b->len : 0;
    int n;
    /* format straight into the spare room: a second pass only when it did
     * not fit (vsnprintf then wrote a truncated copy; the NUL is restored) */
    va_start(ap, fmt);
    n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        if (room)
            b->data[b->len] = '\0';
        return TK_ENOMEM;
    }
    if ((size_t)n < room) {
        b->len += (size_t)n;
        return 0;
    }
    if (grow(b, b->len + (size_t)n)) {
        if (room)
            b->data[b->len] = '\0';
        return TK_ENOMEM;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void tk_buf_reset(struct tk_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void tk_buf_free(struct tk_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *tk_buf_steal(struct tk_buf *b)
{
    char *p = b->data;
    if (!p)
        return calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
