/* address.c - what tickler accepts as an email address, how it goes on
 * the wire, and "Name <addr>", "\"Name, Inc.\" <addr>" and bare "addr" as
 * written in config files and on the command line.
 *
 * One checker (tk_mail_check_address) decides for every address that can
 * reach a message: contacts when they are added, [transport] from when the
 * configuration loads, and the builder for each message.  It accepts only
 * what the builder and the smtp transport can send, so that a bad address
 * is refused where a person typed it instead of failing later, in a tick.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail.h"
#include "util/idnfn.h"

#define LOCAL_MAX 64   /* RFC 5321 4.5.3.1.1 */
#define DOMAIN_MAX 253 /* RFC 1035 2.3.4, without the root's dot */
#define ADDR_MAX 254   /* RFC 5321 4.5.3.1.3: a path is 256 with "<>" */
#define LABEL_MAX 63

/* DOMAIN in A-labels through libidn2, opened at first use (util/idnfn.c);
 * TK_EIO with ERR set when it cannot be loaded (the domain is then neither
 * accepted nor refused as invalid). */
static int to_ascii(const char *domain, char **out, int *rc, struct tk_error *err)
{
    const char *why = tk_idn_load();
    *out = NULL;
    if (why)
        return tk_error_set(err, TK_EIO, "international domain %s: %s", domain, why);
    *rc = tk_idn_to_ascii(domain, out);
    return 0;
}

/* atext of RFC 5322 3.2.3 (ASCII part; RFC 6531 adds every non-ASCII
 * UTF-8 character). */
static int atext(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* S for an error message: controls (C1 included) and bytes that are not
 * UTF-8 as \\xNN, at most SHOWN_MAX bytes ("..." when cut, never inside a
 * character), so that the whole message is one line of valid text that
 * fits a struct tk_error. */
#define SHOWN_MAX 200
static void shown(char *buf, const char *s)
{
    size_t o = 0, n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = 1, w;
        if (c >= 0x80) {
            k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            if (k > n - i || !tk_utf8_valid(s + i, k) ||
                (c == 0xc2 && (unsigned char)s[i + 1] < 0xa0))
                k = 0;
        }
        w = k == 0 || c < 0x20 || c == 0x7f ? 4 : k;
        if (o + w + 3 > SHOWN_MAX && (i + k < n || o + w > SHOWN_MAX)) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (w == 4 && (k == 0 || k == 1)) {
            snprintf(buf + o, 5, "\\x%02x", c);
            i++;
        } else {
            memcpy(buf + o, s + i, k);
            i += k;
        }
        o += w;
    }
    buf[o] = '\0';
}

static int refuse(struct tk_error *err, const char *addr, const char *fmt, ...) TK_PRINTF(3, 4);

static int refuse(struct tk_error *err, const char *addr, const char *fmt, ...)
{
    char what[SHOWN_MAX + 1], why[256];
    va_list ap;
    if (!err)
        return TK_EINVAL;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    shown(what, addr);
    return tk_error_set(err, TK_EINVAL, "invalid email address '%s': %s", what, why);
}

/* The local part [S, E): a dot-atom or a quoted string (RFC 5321 4.1.2),
 * either with UTF-8 (RFC 6531).  Angle brackets are refused even quoted:
 * nothing could then end an SMTP path or a "Name <addr>" early. */
static int check_local(const char *addr, const char *s, const char *e, struct tk_error *err)
{
    if (s == e)
        return refuse(err, addr, "nothing before the '@'");
    if ((size_t)(e - s) > LOCAL_MAX)
        return refuse(err, addr, "more than %d bytes before the '@'", LOCAL_MAX);
    if (*s == '"') {
        if (e - s < 2 || e[-1] != '"')
            return refuse(err, addr, "a quoted part must be the whole part before the '@'");
        if (e - s == 2)
            return refuse(err, addr, "nothing between the quotes before the '@'");
        for (const char *p = s + 1; p < e - 1; p++) {
            unsigned char c = (unsigned char)*p;
            if (c == '\\') {
                c = (unsigned char)*++p;
                /* quoted-pairSMTP: a backslash before printable ASCII */
                if (p == e - 1 || c < 0x20 || c > 0x7e)
                    return refuse(err, addr, "a backslash must escape a printable ASCII character");
            } else if (c == '"') {
                return refuse(err, addr, "a quote inside the quoted part is not escaped");
            }
            if (c == '<' || c == '>')
                return refuse(err, addr, "'%c' is not allowed", c);
            if (c < 0x80 && (c < 0x20 || c == 0x7f))
                return refuse(err, addr, "a control character");
        }
        return 0;
    }
    for (const char *p = s; p < e; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '.') {
            if (p == s)
                return refuse(err, addr, "the part before the '@' starts with a dot");
            if (p + 1 == e)
                return refuse(err, addr, "the part before the '@' ends with a dot");
            if (p[1] == '.')
                return refuse(err, addr, "two dots in a row before the '@'");
        } else if (c < 0x80 && !atext(c)) {
            if (c <= 0x20 || c == 0x7f)
                return refuse(err, addr, "a space or control character before the '@'");
            return refuse(err, addr,
                          "'%c' is not allowed before the '@' (unless that part is quoted)", c);
        }
    }
    return 0;
}

/* Letters, digits and hyphens, 1-63 of them, no hyphen first or last. */
static int ldh_label(const char *s, size_t n)
{
    if (n == 0 || n > LABEL_MAX || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

/* Why the ASCII domain D is not a host name, or NULL when it is one. */
static const char *ldh_domain(const char *d)
{
    size_t n = strlen(d);
    if (n == 0)
        return "nothing after the '@'";
    if (n > DOMAIN_MAX)
        return "the domain is longer than 253 characters";
    for (const char *p = d;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (!ldh_label(p, len))
            return "the domain is not a host name (letters, digits and hyphens between dots, "
                   "at most 63 in a row, no hyphen at either end of a part)";
        if (!dot)
            break;
        p = dot + 1;
    }
    if (!strchr(d, '.') && strcmp(d, "localhost") != 0)
        return "the domain has no dot";
    return NULL;
}

static int has_xn_label(const char *d)
{
    for (const char *p = d; p; p = strchr(p, '.'), p = p ? p + 1 : NULL)
        if ((p[0] == 'x' || p[0] == 'X') && (p[1] == 'n' || p[1] == 'N') && p[2] == '-' &&
            p[3] == '-')
            return 1;
    return 0;
}

static int ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* DOMAIN as A-labels into *OUT (free) when it needs converting, else
 * *OUT = NULL: an ASCII domain is sent as written.  0, or the refusal. */
static int domain_to_ascii(const char *addr, const char *domain, char **out, struct tk_error *err)
{
    const char *why;
    *out = NULL;
    if (ascii(domain, strlen(domain))) {
        if ((why = ldh_domain(domain)))
            return refuse(err, addr, "%s", why);
        /* an A-label must decode (a typo in "xn--..." is no address) */
        if (has_xn_label(domain)) {
            int rc = IDN2_OK;
            if (to_ascii(domain, out, &rc, err))
                return TK_EIO;
            free(*out);
            *out = NULL;
            if (rc != IDN2_OK)
                return refuse(err, addr, "the domain is not a valid international name (%s)",
                              tk_idn_strerror(rc));
        }
        return 0;
    }
    int rc = IDN2_OK;
    if (to_ascii(domain, out, &rc, err))
        return TK_EIO;
    if (rc == IDN2_MALLOC)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    if (rc != IDN2_OK) {
        *out = NULL;
        return refuse(err, addr, "the domain is not a valid international name (%s)",
                      tk_idn_strerror(rc));
    }
    if ((why = ldh_domain(*out))) {
        free(*out);
        *out = NULL;
        return refuse(err, addr, "%s", why);
    }
    return 0;
}

/* The '@' that separates local part and domain: the last one (a quoted
 * local part may hold others). */
static const char *split(const char *addr)
{
    return strrchr(addr, '@');
}

/* The whole check; *DOMAIN gets the A-label form of a domain that needs
 * converting (caller frees with free), else NULL. */
static int check(const char *addr, char **domain, int *utf8_local, struct tk_error *err)
{
    const char *at;
    size_t n;
    int rc;
    *domain = NULL;
    *utf8_local = 0;
    if (!addr || !*addr)
        return tk_error_set(err, TK_EINVAL, "empty email address");
    n = strlen(addr);
    if (!tk_utf8_valid(addr, n))
        return refuse(err, addr, "not valid UTF-8");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)addr[i];
        /* C0, DEL, and C1 (U+0080-U+009F: "\xc2\x80".."\xc2\x9f") */
        if (c < 0x20 || c == 0x7f || (c == 0xc2 && (unsigned char)addr[i + 1] < 0xa0))
            return refuse(err, addr, "a control character");
    }
    if (n > ADDR_MAX)
        return refuse(err, addr, "longer than %d bytes", ADDR_MAX);
    if (!(at = split(addr)))
        return refuse(err, addr, "no '@'");
    if ((rc = check_local(addr, addr, at, err)))
        return rc;
    if ((rc = domain_to_ascii(addr, at + 1, domain, err)))
        return rc;
    if (*domain && (size_t)(at - addr) + 1 + strlen(*domain) > ADDR_MAX) {
        free(*domain);
        *domain = NULL;
        return refuse(err, addr, "longer than %d bytes with its domain in ASCII (punycode)",
                      ADDR_MAX);
    }
    *utf8_local = !ascii(addr, (size_t)(at - addr));
    return 0;
}

int tk_mail_check_address(const char *addr, struct tk_error *err)
{
    char *domain;
    int utf8, rc = check(addr, &domain, &utf8, err);
    free(domain);
    return rc;
}

int tk_mail_ascii_address(struct tk_buf *out, const char *addr, int *utf8_local,
                          struct tk_error *err)
{
    char *domain;
    size_t start = out->len;
    int utf8, rc = check(addr, &domain, &utf8, err);
    if (rc)
        return rc;
    if (utf8_local)
        *utf8_local = utf8;
    if (!domain)
        rc = tk_buf_puts(out, addr);
    else
        rc = tk_buf_append(out, addr, (size_t)(split(addr) - addr) + 1) || tk_buf_puts(out, domain);
    free(domain);
    if (rc) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    return 0;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* A copy of [B, E) without surrounding blanks; NULL when nothing is left. */
static char *trimmed(const char *b, const char *e, int *oom)
{
    char *r;
    while (b < e && is_ws(*b))
        b++;
    while (e > b && is_ws(e[-1]))
        e--;
    if (b == e)
        return NULL;
    r = tk_strndup(b, (size_t)(e - b));
    if (!r)
        *oom = 1;
    return r;
}

/* Unquote the quoted-string at S ('"' ... '"'); *END points past it. */
static char *unquote(const char *s, const char **end, int *oom)
{
    struct tk_buf b = {0};
    char *r;
    for (s++; *s && *s != '"'; s++) {
        if (*s == '\\' && s[1])
            s++;
        if (tk_buf_putc(&b, *s)) {
            *oom = 1;
            tk_buf_free(&b);
            return NULL;
        }
    }
    if (*s != '"') {
        tk_buf_free(&b);
        return NULL;
    }
    *end = s + 1;
    r = tk_buf_steal(&b);
    if (!r)
        *oom = 1;
    return r;
}

int tk_mail_parse_address(const char *s, char **name, char **addr, struct tk_error *err)
{
    const char *lt, *gt, *p = NULL;
    char *nm = NULL, *ad = NULL;
    int oom = 0;
    *name = *addr = NULL;
    if (!s)
        return tk_error_set(err, TK_EINVAL, "empty email address");
    while (is_ws(*s))
        s++;
    if (*s == '"') {
        nm = unquote(s, &p, &oom);
        if (oom)
            goto nomem;
        if (!nm)
            return tk_error_set(err, TK_EINVAL, "unterminated quoted name in '%.200s'", s);
        while (is_ws(*p))
            p++;
        lt = *p == '<' ? p : NULL;
        if (!lt) {
            free(nm);
            return tk_error_set(err, TK_EINVAL, "expected '<address>' after the name in '%.200s'",
                                s);
        }
    } else {
        lt = strchr(s, '<');
        if (lt)
            nm = trimmed(s, lt, &oom);
    }
    if (oom)
        goto nomem;
    if (lt) {
        gt = strchr(lt, '>');
        for (p = gt ? gt + 1 : NULL; p && is_ws(*p); p++)
            ;
        if (!gt || *p) {
            free(nm);
            return tk_error_set(err, TK_EINVAL, "expected 'Name <address>' in '%.200s'", s);
        }
        ad = trimmed(lt + 1, gt, &oom);
    } else {
        ad = trimmed(s, s + strlen(s), &oom);
    }
    if (oom)
        goto nomem;
    if (!ad) {
        free(nm);
        return tk_error_set(err, TK_EINVAL, "no email address in '%.200s'", s);
    }
    int rc = tk_mail_check_address(ad, err);
    if (rc) {
        free(nm);
        free(ad);
        return rc;
    }
    if (nm && !*nm) {
        free(nm);
        nm = NULL;
    }
    *name = nm;
    *addr = ad;
    return 0;
nomem:
    free(nm);
    free(ad);
    return tk_error_set(err, TK_ENOMEM, "out of memory");
}
