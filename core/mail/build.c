/* build.c - whole RFC 5322 / MIME messages and Message-IDs. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mail/mail.h"

#define BODY_LINE_MAX 998 /* RFC 5322 2.1.1 "MUST" */

static int bad(const char *what, struct tk_error *err)
{
    return tk_error_set(err, TK_EINVAL, "mail: invalid %s", what);
}

/* "<left@right>" with printable ASCII and no spaces: the caller's ids go
 * into headers unencoded, so they must not carry anything else. */
static int msgid_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 5 || n > 250 || s[0] != '<' || s[n - 1] != '>' || !memchr(s, '@', n))
        return 0;
    for (size_t i = 1; i + 1 < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '<' ||
            s[i] == '>')
            return 0;
    return 1;
}

/* "X-" and token characters: extra headers may never name a standard one. */
static int xname_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 64 || (s[0] != 'X' && s[0] != 'x') || s[1] != '-')
        return 0;
    for (size_t i = 2; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

/* Fixed English names: strftime would follow the locale. */
static int put_date(struct tk_buf *out, tk_time t)
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 < 1900 || tm.tm_year + 1900 > 9999) {
        tt = 0;
        gmtime_r(&tt, &tm);
    }
    return tk_buf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", wd[tm.tm_wday],
                         tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                         tm.tm_sec);
}

static int put_header(struct tk_buf *out, const char *name, const char *value)
{
    size_t n = strlen(name);
    if (tk_buf_append(out, name, n) || tk_buf_append(out, ": ", 2) ||
        tk_mail_encode_header(out, value, n + 2) || tk_buf_append(out, "\r\n", 2))
        return TK_ENOMEM;
    return 0;
}

/* 7bit is allowed for ASCII whose lines fit and whose CRs all end lines;
 * other controls than TAB also go to quoted-printable, to be safe with
 * transports. */
static int body_is_7bit(const char *s, size_t n)
{
    size_t line = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            line = 0;
            continue;
        }
        if (c == '\r') {
            if (i + 1 >= n || s[i + 1] != '\n')
                return 0;
            continue;
        }
        if (c >= 0x80 || c == 0x7f || (c < 0x20 && c != '\t') || ++line > BODY_LINE_MAX)
            return 0;
    }
    return 1;
}

/* A text part's Content-* headers, the blank line and the body, ending
 * with CRLF. */
static int put_body(struct tk_buf *out, const char *ctype, const char *text)
{
    struct tk_buf clean = {0};
    int rc, seven;
    if (tk_mail_repair_utf8(&clean, text ? text : "", text ? strlen(text) : 0) ||
        tk_buf_append(&clean, "", 0)) {
        tk_buf_free(&clean);
        return TK_ENOMEM;
    }
    seven = body_is_7bit(clean.data, clean.len);
    /* the blank line ends the message headers or the part's headers */
    rc = tk_buf_printf(out,
                       "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: %s\r\n\r\n",
                       ctype, seven ? "7bit" : "quoted-printable");
    if (!rc && seven) {
        const char *p = clean.data, *e = clean.data + clean.len;
        while (!rc && p < e) {
            const char *nl = memchr(p, '\n', (size_t)(e - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(e - p);
            size_t cn = n && p[n - 1] == '\r' ? n - 1 : n;
            rc = tk_buf_append(out, p, cn);
            if (!rc && (nl || cn))
                rc = tk_buf_append(out, "\r\n", 2);
            p += nl ? n + 1 : n;
        }
    } else if (!rc) {
        rc = tk_mail_encode_qp(out, clean.data, clean.len);
        if (!rc && clean.len && clean.data[clean.len - 1] != '\n')
            rc = tk_buf_append(out, "\r\n", 2);
    }
    tk_buf_free(&clean);
    return rc ? TK_ENOMEM : 0;
}

static int random_hex(char *buf, size_t nbytes)
{
    static const char hx[] = "0123456789abcdef";
    unsigned char r[32];
    if (nbytes > sizeof r || tk_random_bytes(r, nbytes))
        return TK_ERR;
    for (size_t i = 0; i < nbytes; i++) {
        buf[2 * i] = hx[r[i] >> 4];
        buf[2 * i + 1] = hx[r[i] & 15];
    }
    buf[2 * nbytes] = '\0';
    return 0;
}

/* tk_email_valid lets UTF-8 addresses (SMTPUTF8) through; their bytes go
 * into headers as they are, so they must at least be valid UTF-8. */
static int addr_ok(const char *a)
{
    return tk_email_valid(a) && tk_utf8_valid(a, strlen(a));
}

static int check(const struct tk_mail *m, struct tk_error *err)
{
    if (!addr_ok(m->from_addr))
        return bad("From address", err);
    if (!addr_ok(m->to_addr))
        return bad("To address", err);
    if (!msgid_valid(m->message_id))
        return bad("Message-ID", err);
    if (m->in_reply_to && !msgid_valid(m->in_reply_to))
        return bad("In-Reply-To", err);
    for (const char *const *x = m->extra; x && x[0]; x += 2)
        if (!xname_valid(x[0]) || !x[1])
            return tk_error_set(err, TK_EINVAL, "mail: invalid extra header '%.64s'", x[0]);
    return 0;
}

static int build(const struct tk_mail *m, struct tk_buf *out, struct tk_error *err)
{
    char boundary[64] = "";
    int rc;
    if (put_date(out, m->date) || tk_buf_puts(out, "From: ") ||
        tk_mail_encode_address(out, m->from_name, m->from_addr, 6) ||
        tk_buf_puts(out, "\r\nTo: ") || tk_mail_encode_address(out, m->to_name, m->to_addr, 4) ||
        tk_buf_puts(out, "\r\n") || put_header(out, "Subject", m->subject) ||
        tk_buf_printf(out, "Message-ID: %s\r\n", m->message_id))
        return TK_ENOMEM;
    if (m->in_reply_to && tk_buf_printf(out, "In-Reply-To: %s\r\nReferences: %s\r\n",
                                        m->in_reply_to, m->in_reply_to))
        return TK_ENOMEM;
    if (m->auto_submitted && tk_buf_puts(out, "Auto-Submitted: auto-generated\r\n"))
        return TK_ENOMEM;
    for (const char *const *x = m->extra; x && x[0]; x += 2)
        if (put_header(out, x[0], x[1]))
            return TK_ENOMEM;
    if (tk_buf_puts(out, "MIME-Version: 1.0\r\n"))
        return TK_ENOMEM;
    if (!m->html)
        return put_body(out, "text/plain", m->text);

    /* "=_" never occurs in quoted-printable output, and 7bit parts are
     * checked, so the boundary cannot collide with content */
    do {
        memcpy(boundary, "=_tk_", 5);
        if (random_hex(boundary + 5, 16))
            return tk_error_set(err, TK_EIO, "mail: no random bytes for a MIME boundary");
    } while ((m->text && strstr(m->text, boundary)) || strstr(m->html, boundary));
    rc = tk_buf_printf(out,
                       "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n"
                       "This is a multi-part message in MIME format.\r\n\r\n--%s\r\n",
                       boundary, boundary);
    if (!rc)
        rc = put_body(out, "text/plain", m->text);
    if (!rc)
        rc = tk_buf_printf(out, "\r\n--%s\r\n", boundary);
    if (!rc)
        rc = put_body(out, "text/html", m->html);
    if (!rc)
        rc = tk_buf_printf(out, "\r\n--%s--\r\n", boundary);
    return rc ? TK_ENOMEM : 0;
}

int tk_mail_build(const struct tk_mail *m, struct tk_buf *out, struct tk_error *err)
{
    size_t start = out->len;
    int rc = check(m, err);
    if (rc)
        return rc;
    rc = build(m, out, err);
    if (rc) {
        /* leave OUT as it was: a half message must never be sent */
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        if (rc == TK_ENOMEM)
            return tk_error_set(err, TK_ENOMEM, "mail: message too large or out of memory");
    }
    return rc;
}

int tk_mail_message_id(const char *domain, tk_time now, char *buf, size_t size,
                       struct tk_error *err)
{
    static const char b36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    char rnd[40], t36[16];
    size_t n = domain ? strlen(domain) : 0, tl = 0;
    uint64_t t = now > 0 ? (uint64_t)now : 0;
    int w;
    if (n == 0 || n > 200 || domain[0] == '.' || domain[0] == '-')
        return tk_error_set(err, TK_EINVAL, "mail: invalid Message-ID domain");
    for (size_t i = 0; i < n; i++)
        if (!((domain[i] >= 'a' && domain[i] <= 'z') || (domain[i] >= 'A' && domain[i] <= 'Z') ||
              (domain[i] >= '0' && domain[i] <= '9') || domain[i] == '.' || domain[i] == '-'))
            return tk_error_set(err, TK_EINVAL, "mail: invalid Message-ID domain '%.200s'",
                                domain);
    if (random_hex(rnd, 16))
        return tk_error_set(err, TK_EIO, "mail: no random bytes for a Message-ID");
    do {
        t36[tl++] = b36[t % 36];
        t /= 36;
    } while (t);
    for (size_t i = 0; i < tl / 2; i++) {
        char c = t36[i];
        t36[i] = t36[tl - 1 - i];
        t36[tl - 1 - i] = c;
    }
    t36[tl] = '\0';
    w = snprintf(buf, size, "<%s.%s@%s>", rnd, t36, domain);
    if (w < 0 || (size_t)w >= size)
        return tk_error_set(err, TK_EINVAL, "mail: Message-ID buffer too small");
    return 0;
}
