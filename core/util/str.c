/* str.c - string, number and small-container helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

char *tk_strdup(const char *s)
{
    return s ? tk_strndup(s, strlen(s)) : NULL;
}

char *tk_strndup(const char *s, size_t n)
{
    char *p;
    if (!s)
        return NULL;
    p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *tk_strprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(p = malloc((size_t)n + 1)))
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

size_t tk_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (size) {
        size_t c = n < size - 1 ? n : size - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

int tk_streq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

int tk_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;
    if (!s || !*s || *s == ' ' || *s == '\t' || *s == '+')
        return TK_EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return TK_EINVAL;
    *out = v;
    return 0;
}

int tk_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned c = *p;
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            /* ASCII eight bytes at a time: every template line and
             * plugin text goes through here at each start, and this was
             * 14 % of a `tickler send` (bench/RESULTS.md update 6). */
            uint64_t w;
            p++;
            while ((size_t)(e - p) >= sizeof w) {
                memcpy(&w, p, sizeof w);
                if (w & UINT64_C(0x8080808080808080))
                    break;
                p += sizeof w;
            }
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else
            return 0;
        if ((size_t)(e - p) < len)
            return 0;
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += len;
    }
    return 1;
}

/* The specials of RFC 5322 3.2.3 that never appear in a bare address
 * (without strchr: this runs for every byte of every address). */
static int addr_special(unsigned char c)
{
    switch (c) {
    case '<':
    case '>':
    case '(':
    case ')':
    case '[':
    case ']':
    case '\\':
    case ',':
    case ';':
    case ':':
    case '"':
        return 1;
    default:
        return 0;
    }
}

size_t tk_str_squeeze_space(char *dst, const char *s, size_t n)
{
    char *d = dst;
    int space = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f) {
            space = 1;
            continue;
        }
        if (space && d > dst)
            *d++ = ' ';
        space = 0;
        *d++ = (char)c;
    }
    return (size_t)(d - dst);
}

int tk_email_valid(const char *s)
{
    const char *at = NULL, *p;
    size_t n;
    if (!s)
        return 0;
    n = strlen(s);
    if (n < 3 || n > 254)
        return 0;
    for (p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7f || addr_special(c))
            return 0;
        if (c == '@') {
            if (at)
                return 0;
            at = p;
        }
    }
    if (!at || at == s || !at[1] || at[1] == '.' || s[n - 1] == '.')
        return 0;
    /* A domain is letters, digits, hyphens and dots (bytes of a UTF-8
     * international name allowed); '=', '?', '/' and the like are not. */
    for (p = at + 1; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return 0;
    }
    if (at - s > 64)
        return 0;
    return strchr(at + 1, '.') != NULL || strcmp(at + 1, "localhost") == 0;
}

int tk_strv_push(struct tk_strv *sv, const char *s)
{
    char *c;
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 8;
        char **v = realloc(sv->v, cap * sizeof *v);
        if (!v)
            return TK_ENOMEM;
        sv->v = v;
        sv->cap = cap;
    }
    if (!(c = tk_strdup(s)))
        return TK_ENOMEM;
    sv->v[sv->n++] = c;
    return 0;
}

void tk_strv_free(struct tk_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = sv->cap = 0;
}

/* Keys mostly differ in their first byte: compare that before calling
 * strcmp, which dominates lookups in a list of a few dozen variables. */
static int key_eq(const char *a, const char *b)
{
    return a[0] == b[0] && strcmp(a, b) == 0;
}

/* A pair in one allocation, "KEY\0VAL\0": keys[i] owns it, vals[i] points
 * into it.  One malloc and one free a variable instead of two each: a
 * reminder sets a few dozen (issue 17, bench/RESULTS.md). */
static char *pair_new(const char *key, size_t klen, const char *val)
{
    size_t vlen = strlen(val);
    char *p = malloc(klen + vlen + 2);
    if (p) {
        memcpy(p, key, klen + 1);
        memcpy(p + klen + 1, val, vlen + 1);
    }
    return p;
}

int tk_kv_set(struct tk_kv *kv, const char *key, const char *val)
{
    size_t i;
    char *p;
    for (i = 0; i < kv->n; i++)
        if (key_eq(kv->keys[i], key))
            break;
    if (i < kv->n) {
        if (!val) {
            free(kv->keys[i]);
            memmove(kv->keys + i, kv->keys + i + 1, (kv->n - i - 1) * sizeof *kv->keys);
            memmove(kv->vals + i, kv->vals + i + 1, (kv->n - i - 1) * sizeof *kv->vals);
            kv->n--;
            return 0;
        }
        /* the stored key's copy: KEY or VAL may point into the old pair */
        size_t klen = (size_t)(kv->vals[i] - kv->keys[i]) - 1;
        if (!(p = pair_new(kv->keys[i], klen, val)))
            return TK_ENOMEM;
        free(kv->keys[i]);
        kv->keys[i] = p;
        kv->vals[i] = p + klen + 1;
        return 0;
    }
    if (!val)
        return 0;
    if (kv->n == kv->cap) {
        size_t cap = kv->cap ? kv->cap * 2 : 8;
        char **k = realloc(kv->keys, cap * sizeof *k);
        if (!k)
            return TK_ENOMEM;
        kv->keys = k;
        k = realloc(kv->vals, cap * sizeof *k);
        if (!k)
            return TK_ENOMEM;
        kv->vals = k;
        kv->cap = cap;
    }
    size_t klen = strlen(key);
    if (!(p = pair_new(key, klen, val)))
        return TK_ENOMEM;
    kv->keys[kv->n] = p;
    kv->vals[kv->n] = p + klen + 1;
    kv->n++;
    return 0;
}

const char *tk_kv_get(const struct tk_kv *kv, const char *key)
{
    for (size_t i = 0; i < kv->n; i++)
        if (key_eq(kv->keys[i], key))
            return kv->vals[i];
    return NULL;
}

void tk_kv_free(struct tk_kv *kv)
{
    for (size_t i = 0; i < kv->n; i++)
        free(kv->keys[i]); /* and its value: one allocation (pair_new) */
    free(kv->keys);
    free(kv->vals);
    memset(kv, 0, sizeof *kv);
}

/* Whether KEY is A SEP B SEP C (what "%s<SEP>%s<SEP>%s" makes of them;
 * NULL as printf prints it), without making it: a lookup per email. */
int tk_str_key3_is(const char *key, char sep, const char *a, const char *b, const char *c)
{
    const char *parts[3] = {a ? a : "(null)", b ? b : "(null)", c ? c : "(null)"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(parts[i]);
        if (strncmp(key, parts[i], n) != 0)
            return 0;
        key += n;
        if (i < 2 && *key++ != sep)
            return 0;
    }
    return *key == '\0';
}

size_t tk_str_put(char *buf, size_t size, size_t at, const char *s)
{
    size_t n, room;
    if (!size)
        return 0;
    if (at >= size)
        at = size - 1;
    if (!s)
        s = "(null)";
    n = strlen(s);
    room = size - 1 - at;
    if (n > room)
        n = room;
    memcpy(buf + at, s, n);
    buf[at + n] = '\0';
    return at + n;
}

size_t tk_str_put_i64(char *buf, size_t size, size_t at, int64_t v)
{
    char d[24], *p = d + sizeof d;
    /* the magnitude as unsigned: INT64_MIN has no positive twin */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    *--p = '\0';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return tk_str_put(buf, size, at, p);
}
