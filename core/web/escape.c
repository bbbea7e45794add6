/*
 * escape.c - values into HTML by context (web.h).
 *
 * One table of what each context must not see raw, as OWASP's rules for
 * HTML text and quoted attributes: & < > " ' as references everywhere, so
 * that a value is safe in text and in either kind of quoted attribute.
 * URL components are percent-encoded byte by byte.  Ill-formed UTF-8 and
 * control characters become U+FFFD first: the browser must never guess an
 * encoding, and a control character has no business on a page.
 */
#include <string.h>

#include "web.h"

#define REPLACEMENT "\xef\xbf\xbd"

static int put_text(struct tk_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0, i = 0;
    int rc = 0;
    if (!s)
        return 0;
    if (tk_buf_reserve(b, n + n / 8 + 16))
        return TK_ENOMEM;
    while (rc == 0 && i < n) {
        unsigned char ch = (unsigned char)s[i];
        uint32_t cp = 0;
        size_t bad = 0, len;
        switch (ch) {
        case '&':
            rc = tk_buf_append(b, "&amp;", 5);
            i++;
            continue;
        case '<':
            rc = tk_buf_append(b, "&lt;", 4);
            i++;
            continue;
        case '>':
            rc = tk_buf_append(b, "&gt;", 4);
            i++;
            continue;
        case '"':
            rc = tk_buf_append(b, "&quot;", 6);
            i++;
            continue;
        case '\'':
            rc = tk_buf_append(b, "&#39;", 5);
            i++;
            continue;
        default:
            break;
        }
        len = tk_utf8_char(s + i, n - i, &cp, &bad);
        if (len == 0) {
            rc = tk_buf_append(b, REPLACEMENT, 3);
            i += bad ? bad : 1;
        } else if ((cp < 0x20 && cp != '\t' && cp != '\n') || (cp >= 0x7f && cp < 0xa0)) {
            rc = tk_buf_append(b, REPLACEMENT, 3);
            i += len;
        } else {
            rc = tk_buf_append(b, s + i, len);
            i += len;
        }
    }
    return rc ? TK_ENOMEM : 0;
}

int tk_web_html(struct tk_buf *b, const char *s)
{
    return put_text(b, s);
}

int tk_web_attr(struct tk_buf *b, const char *s)
{
    return put_text(b, s);
}

int tk_web_url(struct tk_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        int keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                   (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (keep ? tk_buf_putc(b, (char)*p) : tk_buf_append(b, enc, 3))
            return TK_ENOMEM;
    }
    return 0;
}

int tk_web_url_safe(const char *s)
{
    if (!s || !*s)
        return 0;
    /* no controls or spaces anywhere: browsers strip them from schemes */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '\\')
            return 0;
    if (s[0] == '/')
        return s[1] != '/';
    return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}
