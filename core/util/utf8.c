/* utf8.c - decoding UTF-8 one character at a time, and repairing text that
 * is not UTF-8 so that it can still be shown (JSON output, the terminal)
 * instead of being refused or dropped. */
#include <stdlib.h>
#include <string.h>

#include "util.h"

size_t tk_utf8_char(const char *s, size_t n, uint32_t *cp, size_t *bad)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */
    size_t len, i;
    uint32_t c = p[0];

    if (c < 0x80) {
        if (cp)
            *cp = c;
        return 1;
    }
    /* Table 3-7 of the Unicode standard: the well-formed sequences. */
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        c &= 0x0f;
        if (p[0] == 0xe0)
            lo = 0xa0; /* no overlong forms */
        else if (p[0] == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        c &= 0x07;
        if (p[0] == 0xf0)
            lo = 0x90;
        else if (p[0] == 0xf4)
            hi = 0x8f; /* nothing above U+10FFFF */
    } else {
        if (bad)
            *bad = 1; /* a byte that never starts a character */
        return 0;
    }
    for (i = 1; i < len; i++) {
        unsigned char b = i < n ? p[i] : 0;
        if (i == 1 ? (b < lo || b > hi) : (b & 0xc0) != 0x80) {
            if (bad)
                *bad = i; /* the lead and the continuation bytes that fit */
            return 0;
        }
        c = (c << 6) | (b & 0x3f);
    }
    if (cp)
        *cp = c;
    return len;
}

char *tk_utf8_repair(const char *s, size_t n, size_t *len)
{
    /* each byte becomes at most the 3 bytes of U+FFFD */
    char *out = n < (SIZE_MAX - 1) / 3 ? malloc(n * 3 + 1) : NULL;
    size_t i = 0, o = 0;
    if (!out)
        return NULL;
    while (i < n) {
        size_t bad = 1, k = tk_utf8_char(s + i, n - i, NULL, &bad);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i += bad;
        }
    }
    out[o] = '\0';
    if (len)
        *len = o;
    return out;
}
