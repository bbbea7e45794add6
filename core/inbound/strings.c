/* strings.c - turning what a message says into the bounded, single-line,
 * valid UTF-8 strings a result promises. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

/* Cut S (LEN bytes of valid UTF-8) to at most MAX bytes at a character
 * boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    return max;
}

char *tk_inb_line(const char *s, int *oom)
{
    if (!s)
        return NULL;
    gchar *valid = g_utf8_make_valid(s, -1);
    size_t n = strlen(valid);
    unsigned char *p = (unsigned char *)valid;
    /* C1 controls (U+0080..U+009F, bytes C2 80..C2 9F) can drive a terminal
     * like C0 ones; both become spaces, which the squeeze then merges. */
    for (size_t i = 0; i < n; i++) {
        if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
            p[i] = ' ';
            p[i + 1] = ' ';
        }
    }
    n = tk_str_squeeze_space(valid, valid, n);
    n = utf8_cut(valid, n, TK_INB_LINE_MAX);
    char *out = n ? tk_strndup(valid, n) : NULL;
    if (n && !out && oom)
        *oom = 1;
    g_free(valid);
    return out;
}

char *tk_inb_msgid(const char *id, int *oom)
{
    if (!id)
        return NULL;
    while (*id == ' ' || *id == '\t' || *id == '<')
        id++;
    size_t n = strcspn(id, ">");
    if (n == 0 || n > 900)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c <= 0x20 || c >= 0x7f || c == '<')
            return NULL;
    }
    char *out = malloc(n + 3);
    if (!out) {
        if (oom)
            *oom = 1;
        return NULL;
    }
    out[0] = '<';
    memcpy(out + 1, id, n);
    out[n + 1] = '>';
    out[n + 2] = '\0';
    return out;
}

/* xtext writes its hex digits in upper case only (RFC 3461 4.) */
static int xhex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *tk_inb_address(const char *s, size_t n, int xtext, int *oom)
{
    char buf[320];
    size_t k = 0;
    if (!s)
        return NULL;
    /* "rfc822; addr" (RFC 3464 address-type) or "utf-8; addr" (RFC 6533) */
    const char *semi = memchr(s, ';', n);
    if (semi) {
        n -= (size_t)(semi + 1 - s);
        s = semi + 1;
    }
    while (n && (*s == ' ' || *s == '\t' || *s == '<' || *s == '\r' || *s == '\n')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '>' || s[n - 1] == '\r' ||
                 s[n - 1] == '\n' || s[n - 1] == ':' || s[n - 1] == '.'))
        n--;
    /* xtext (RFC 3461), used by Original-Recipient only: "+2B" is '+' */
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (xtext && c == '+' && i + 2 < n && xhex(s[i + 1]) >= 0 && xhex(s[i + 2]) >= 0) {
            c = xhex(s[i + 1]) * 16 + xhex(s[i + 2]);
            i += 2;
        }
        if (k + 1 >= sizeof buf)
            return NULL;
        buf[k++] = (char)c;
    }
    buf[k] = '\0';
    if (!tk_email_valid(buf) || !tk_utf8_valid(buf, k))
        return NULL;
    char *out = tk_strdup(buf);
    if (!out && oom)
        *oom = 1;
    return out;
}

int tk_inb_prefix(const char *s, const char *prefix)
{
    return s && strncasecmp(s, prefix, strlen(prefix)) == 0;
}

void tk_inb_rcpt_free(struct tk_inbound_rcpt *rc)
{
    free(rc->address);
    free(rc->original);
    free(rc->action);
    free(rc->status);
    free(rc->diagnostic);
    memset(rc, 0, sizeof *rc);
}

#define TAKE(field)                                                                                \
    do {                                                                                           \
        if (!have->field) {                                                                        \
            have->field = rc->field;                                                               \
            rc->field = NULL;                                                                      \
        }                                                                                          \
    } while (0)

int tk_inb_rcpt_add(struct tk_inbound_result *r, struct tk_inbound_rcpt *rc)
{
    for (size_t i = 0; i < r->n_rcpts; i++) {
        struct tk_inbound_rcpt *have = &r->rcpts[i];
        if (have->address && rc->address && strcasecmp(have->address, rc->address) == 0) {
            TAKE(original);
            TAKE(action);
            TAKE(status);
            TAKE(diagnostic);
            if (have->cls == TK_INBOUND_UNMATCHED)
                have->cls = rc->cls;
            tk_inb_rcpt_free(rc);
            return 0;
        }
    }
    if (r->n_rcpts >= TK_INB_MAX_RCPTS) {
        tk_inb_rcpt_free(rc);
        return 0;
    }
    struct tk_inbound_rcpt *v = realloc(r->rcpts, (r->n_rcpts + 1) * sizeof *v);
    if (!v) {
        tk_inb_rcpt_free(rc);
        return TK_ENOMEM;
    }
    r->rcpts = v;
    v[r->n_rcpts++] = *rc;
    memset(rc, 0, sizeof *rc);
    return 0;
}

enum tk_inbound_class tk_inb_status_class(const char *status)
{
    if (!status || !*status)
        return TK_INBOUND_UNMATCHED;
    const char *p = status;
    if (p[0] >= '2' && p[0] <= '5' && p[1] == '.') {
        /* class.subject.detail, 1-3 digits each (RFC 3463) */
        size_t a = strspn(p + 2, "0123456789");
        if (a < 1 || a > 3 || p[2 + a] != '.')
            return TK_INBOUND_UNMATCHED;
        size_t b = strspn(p + 3 + a, "0123456789");
        if (b < 1 || b > 3)
            return TK_INBOUND_UNMATCHED;
    } else if (!(p[0] >= '2' && p[0] <= '5' && isdigit((unsigned char)p[1]) &&
                 isdigit((unsigned char)p[2]))) {
        return TK_INBOUND_UNMATCHED;
    }
    return p[0] == '5'   ? TK_INBOUND_HARD_BOUNCE
           : p[0] == '4' ? TK_INBOUND_SOFT_BOUNCE
                         : TK_INBOUND_UNMATCHED;
}
