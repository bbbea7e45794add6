/* encode.c - header values (RFC 5322 folding, RFC 2047 encoded words) and
 * quoted-printable bodies (RFC 2045).
 *
 * Header text is cleaned before anything else looks at it: control
 * characters (CR, LF, TAB, the rest of C0, DEL) become spaces, invalid UTF-8
 * becomes U+FFFD, and runs of spaces collapse to one.  After that no byte of
 * caller data can end a header line, whatever encoding is chosen. */
#include <string.h>

#include "mail/mail.h"

#define HDR_LINE_MAX 78   /* RFC 5322 2.1.1 "SHOULD" */
#define EW_MAX 75         /* RFC 2047 2: an encoded word's maximum length */
#define EW_OVERHEAD 12    /* "=?UTF-8?B?" + "?=" */
#define PLAIN_WORD_MAX 70 /* a longer ASCII word cannot be folded: encode it */
#define QP_LINE_MAX 76    /* RFC 2045 6.7 (5), including a soft break's "=" */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char hex[] = "0123456789ABCDEF";

/* Length of the valid UTF-8 sequence at P (N bytes left), 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4;
    else
        return 0;
    if (len > n || !tk_utf8_valid((const char *)p, len))
        return 0;
    return len;
}

#define ASCII_MASK 0x8080808080808080ull

/* Length of the longest valid UTF-8 prefix of S.  Bodies are mostly ASCII,
 * so whole 8-byte words without a high bit are skipped at once; memcpy
 * keeps the loads legal at any alignment. */
size_t tk_mail_utf8_prefix(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint64_t w;
        size_t n;
        if (len - i >= 8) {
            memcpy(&w, p + i, 8);
            if (!(w & ASCII_MASK)) {
                i += 8;
                continue;
            }
        }
        n = utf8_len(p + i, len - i);
        if (!n)
            break;
        i += n;
    }
    return i;
}

int tk_mail_repair_utf8(struct tk_buf *out, const char *s, size_t len)
{
    size_t i = 0;
    for (;;) {
        /* copy each valid run at once: bodies can be megabytes */
        size_t run = tk_mail_utf8_prefix(s + i, len - i);
        if (tk_buf_append(out, s + i, run))
            return TK_ENOMEM;
        i += run;
        if (i == len)
            return 0;
        if (tk_buf_append(out, "\xef\xbf\xbd", 3))
            return TK_ENOMEM;
        i++;
    }
}

/* Clean S into OUT as described at the top.  The result is never longer
 * than the (repaired) input, so it is written into room reserved once. */
static int clean_header(struct tk_buf *out, const char *s)
{
    struct tk_buf raw = {0};
    const char *src = s;
    size_t n;
    if (!s)
        return tk_buf_append(out, "", 0);
    n = strlen(s);
    if (tk_mail_utf8_prefix(s, n) != n) {
        if (tk_mail_repair_utf8(&raw, s, n)) {
            tk_buf_free(&raw);
            return TK_ENOMEM;
        }
        src = raw.data;
        n = raw.len;
    }
    if (tk_buf_reserve(out, n)) {
        tk_buf_free(&raw);
        return TK_ENOMEM;
    }
    out->len += tk_str_squeeze_space(out->data + out->len, src, n);
    out->data[out->len] = '\0';
    tk_buf_free(&raw);
    return 0;
}

/* Encoded words are needed for non-ASCII, for text a decoder could mistake
 * for an encoded word, and for words too long to fold. */
static int needs_encoding(const char *s)
{
    size_t word = 0;
    if (strstr(s, "=?"))
        return 1;
    for (; *s; s++) {
        if ((unsigned char)*s >= 0x80)
            return 1;
        word = *s == ' ' ? 0 : word + 1;
        if (word > PLAIN_WORD_MAX)
            return 1;
    }
    return 0;
}

/* Fold before the first word of a value: "Name:" CRLF, without the space
 * after the colon, so that unfolding gives "Name: value" again. */
static int fold_first(struct tk_buf *out)
{
    if (out->len && out->data[out->len - 1] == ' ')
        out->len--;
    return tk_buf_append(out, "\r\n", 2);
}

/* Append S (single spaces, no leading or trailing ones) folding at spaces;
 * *COL is the current column. */
static int put_folded(struct tk_buf *out, const char *s, size_t *col)
{
    int first = 1;
    while (*s) {
        const char *sp = strchr(s, ' ');
        size_t n = sp ? (size_t)(sp - s) : strlen(s);
        if (first && *col > 1 && *col + n > HDR_LINE_MAX) {
            /* fold right after "Name:" rather than overflow the line */
            if (fold_first(out) || tk_buf_putc(out, ' '))
                return TK_ENOMEM;
            *col = 1;
        } else if (!first) {
            if (*col + 1 + n > HDR_LINE_MAX) {
                if (tk_buf_append(out, "\r\n ", 3))
                    return TK_ENOMEM;
                *col = 1;
            } else {
                if (tk_buf_putc(out, ' '))
                    return TK_ENOMEM;
                (*col)++;
            }
        }
        if (tk_buf_append(out, s, n))
            return TK_ENOMEM;
        *col += n;
        first = 0;
        s += n;
        if (*s == ' ')
            s++;
    }
    return 0;
}

static int put_b64(struct tk_buf *out, const unsigned char *p, size_t n)
{
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        q[0] = b64[(v >> 18) & 63];
        q[1] = b64[(v >> 12) & 63];
        q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? b64[v & 63] : '=';
        if (tk_buf_append(out, q, 4))
            return TK_ENOMEM;
    }
    return 0;
}

/* Append S as B-encoded words, each holding whole UTF-8 characters, one per
 * line after the first.  S is valid UTF-8 (cleaned). */
static int put_encoded(struct tk_buf *out, const char *s, size_t *col)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    int first = 1;
    while (i < n) {
        size_t room = *col < HDR_LINE_MAX ? HDR_LINE_MAX - *col : 0, maxraw, take = 0;
        /* a word needs room for at least one 4-byte character */
        if (!first || room < EW_OVERHEAD + 8) {
            if (first ? fold_first(out) || tk_buf_putc(out, ' ') : tk_buf_append(out, "\r\n ", 3))
                return TK_ENOMEM;
            *col = 1;
            room = HDR_LINE_MAX - 1;
        }
        if (room > EW_MAX)
            room = EW_MAX;
        maxraw = (room - EW_OVERHEAD) / 4 * 3;
        while (i + take < n) {
            size_t cl = utf8_len(p + i + take, n - i - take);
            if (!cl)
                cl = 1; /* cannot happen after cleaning; never loop forever */
            if (take + cl > maxraw)
                break;
            take += cl;
        }
        if (tk_buf_append(out, "=?UTF-8?B?", 10) || put_b64(out, p + i, take) ||
            tk_buf_append(out, "?=", 2))
            return TK_ENOMEM;
        *col += EW_OVERHEAD + (take + 2) / 3 * 4;
        i += take;
        first = 0;
    }
    return 0;
}

/* 1 when S (LEN bytes) would come out of cleaning unchanged and then need
 * neither encoding nor folding at column COL: printable ASCII words with
 * single spaces between them, no "=?", all of it on the current line.
 * Such a value is written as it is, without the copies. */
static int header_verbatim(const char *s, size_t len, size_t col)
{
    if (len > PLAIN_WORD_MAX || col + len > HDR_LINE_MAX ||
        (len && (s[0] == ' ' || s[len - 1] == ' ')))
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' ? s[i + 1] == ' ' : c < 0x21 || c > 0x7e || (c == '=' && s[i + 1] == '?'))
            return 0;
    }
    return 1;
}

int tk_mail_encode_header(struct tk_buf *out, const char *s, size_t fold_at)
{
    struct tk_buf c = {0};
    size_t len = s ? strlen(s) : 0;
    if (s && header_verbatim(s, len, fold_at))
        return len ? tk_buf_append(out, s, len) : 0;
    size_t col = fold_at;
    int rc = clean_header(&c, s);
    if (!rc)
        rc =
            needs_encoding(c.data) ? put_encoded(out, c.data, &col) : put_folded(out, c.data, &col);
    tk_buf_free(&c);
    return rc;
}

/* RFC 5322 atext plus the space between words. */
static int phrase_plain(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr(" !#$%&'*+-/=?^_`{|}~", *s)))
            return 0;
    return 1;
}

int tk_mail_encode_address(struct tk_buf *out, const char *name, const char *addr, size_t fold_at)
{
    struct tk_buf c = {0}, q = {0};
    size_t col = fold_at, alen = strlen(addr), nlen = name ? strlen(name) : 0;
    int verbatim = name && header_verbatim(name, nlen, fold_at) && phrase_plain(name);
    int rc = 0;
    if (verbatim) {
        if (nlen)
            rc = tk_buf_append(out, name, nlen);
        col += nlen;
    } else {
        rc = clean_header(&c, name);
        nlen = c.len;
    }
    if (!rc && nlen) {
        if (verbatim) {
            /* written above, exactly as put_folded would have */
        } else if (needs_encoding(c.data)) {
            rc = put_encoded(out, c.data, &col);
        } else if (phrase_plain(c.data)) {
            rc = put_folded(out, c.data, &col);
        } else {
            /* quoted-string; FWS may fold it at its spaces (RFC 5322 3.2.4) */
            rc = tk_buf_putc(&q, '"');
            for (const char *p = c.data; !rc && *p; p++)
                if ((*p == '"' || *p == '\\') && tk_buf_putc(&q, '\\'))
                    rc = TK_ENOMEM;
                else if (tk_buf_putc(&q, *p))
                    rc = TK_ENOMEM;
            if (!rc)
                rc = tk_buf_putc(&q, '"');
            if (!rc)
                rc = put_folded(out, q.data, &col);
        }
        if (!rc) {
            if (col + 3 + alen > HDR_LINE_MAX) {
                rc = tk_buf_append(out, "\r\n", 2);
                col = 0;
            }
            if (!rc)
                rc = tk_buf_putc(out, ' ');
        }
    }
    if (!rc)
        rc = tk_buf_putc(out, '<');
    if (!rc)
        rc = tk_buf_append(out, addr, alen);
    if (!rc)
        rc = tk_buf_putc(out, '>');
    tk_buf_free(&c);
    tk_buf_free(&q);
    return rc ? TK_ENOMEM : 0;
}

/* Quoted-printable, one input line at a time into a line buffer: an escape
 * is one token and never straddles a soft break; whitespace at the end of a
 * line is escaped so that transports cannot strip it. */
int tk_mail_encode_qp(struct tk_buf *out, const char *s, size_t len)
{
    size_t i = 0;
    for (;;) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - s) : len, cend = end;
        char line[QP_LINE_MAX + 8];
        size_t ll = 0;
        if (nl && cend > i && s[cend - 1] == '\r')
            cend--;
        for (size_t k = i; k < cend; k++) {
            unsigned char c = (unsigned char)s[k];
            char tok[3];
            size_t tl = 1;
            int last = k + 1 == cend;
            if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
                tok[0] = (char)c;
            } else {
                tok[0] = '=';
                tok[1] = hex[c >> 4];
                tok[2] = hex[c & 15];
                tl = 3;
            }
            if (ll + tl > QP_LINE_MAX - 1 && !(last && ll + tl <= QP_LINE_MAX)) {
                line[ll++] = '=';
                if (tk_buf_append(out, line, ll) || tk_buf_append(out, "\r\n", 2))
                    return TK_ENOMEM;
                ll = 0;
            }
            memcpy(line + ll, tok, tl);
            ll += tl;
        }
        if (tk_buf_append(out, line, ll))
            return TK_ENOMEM;
        if (!nl)
            return 0;
        if (tk_buf_append(out, "\r\n", 2))
            return TK_ENOMEM;
        i = end + 1;
    }
}
