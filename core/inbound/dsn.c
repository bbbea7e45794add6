/* dsn.c - message/delivery-status (RFC 3464) and its UTF-8 form
 * message/global-delivery-status (RFC 6533).
 *
 * The body is groups of header fields separated by blank lines: one group
 * about the message, then one per recipient.  Each group is handed to GMime
 * as a header block, so folding, encodings and odd spacing are GMime's
 * business; this file only splits the groups and reads the fields. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

/* The first token of a field value ("5.1.1 (user unknown)" -> "5.1.1"),
 * lower-cased when LOWER, at most 31 bytes of [A-Za-z0-9.-]. */
static char *token(const char *v, int lower, int *oom)
{
    char buf[32];
    size_t k = 0;
    if (!v)
        return NULL;
    while (*v == ' ' || *v == '\t')
        v++;
    while (*v && k + 1 < sizeof buf && (isalnum((unsigned char)*v) || *v == '.' || *v == '-'))
        buf[k++] = lower ? (char)tolower((unsigned char)*v++) : *v++;
    if (!k)
        return NULL;
    buf[k] = '\0';
    char *out = tk_strdup(buf);
    if (!out)
        *oom = 1;
    return out;
}

static int xdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* xtext (RFC 3461) in Original-Recipient: decode only when a "+XX" stands
 * for what xtext must encode ('+', '=', or outside '!'..'~'), so that an
 * address that merely contains "+41" is left alone. */
static char *original_address(const char *v, int *oom)
{
    size_t n = strlen(v);
    int encoded = 0;
    for (size_t i = 0; i + 2 < n; i++) {
        int hi = xdigit(v[i + 1]), lo = xdigit(v[i + 2]);
        if (v[i] != '+' || hi < 0 || lo < 0)
            continue;
        int c = hi * 16 + lo;
        if (c == '+' || c == '=' || c < 0x21 || c > 0x7e)
            encoded = 1;
    }
    char *a = encoded ? tk_inb_address(v, n, 1, oom) : NULL;
    return a ? a : tk_inb_address(v, n, 0, oom);
}

static int group(const char *s, size_t n, struct tk_inbound_result *r)
{
    char why[128];
    int oom = 0;
    if (tk_inb_prescan(s, n, why, sizeof why))
        return 0;
    /* a header block needs a blank line after it to be one */
    struct tk_buf b = {0};
    if (tk_buf_append(&b, s, n) || tk_buf_puts(&b, "\n\n"))
        return TK_ENOMEM;
    GMimeMessage *m = tk_inb_parse(b.data, b.len);
    tk_buf_free(&b);
    if (!m)
        return 0;
    GMimeObject *o = GMIME_OBJECT(m);
    const char *final = g_mime_object_get_header(o, "Final-Recipient");
    const char *orig = g_mime_object_get_header(o, "Original-Recipient");
    const char *action = g_mime_object_get_header(o, "Action");
    if (!final && !orig) {
        g_object_unref(m); /* the per-message group, or junk */
        return 0;
    }
    struct tk_inbound_rcpt rc = {0};
    rc.address = final ? tk_inb_address(final, strlen(final), 0, &oom) : NULL;
    rc.original = orig ? original_address(orig, &oom) : NULL;
    if (!rc.address && rc.original)
        rc.address = tk_strdup(rc.original);
    rc.action = token(action, 1, &oom);
    rc.status = token(g_mime_object_get_header(o, "Status"), 0, &oom);
    const char *diag = g_mime_object_get_header(o, "Diagnostic-Code");
    if (diag && strchr(diag, ';'))
        diag = strchr(diag, ';') + 1;
    rc.diagnostic = tk_inb_line(diag, &oom);
    g_object_unref(m);

    if (rc.status && tk_inb_status_class(rc.status) == TK_INBOUND_UNMATCHED &&
        !(rc.status[0] == '2' && rc.status[1] == '.')) {
        free(rc.status); /* not a status code: say nothing rather than nonsense */
        rc.status = NULL;
    }
    if (rc.status)
        rc.cls = tk_inb_status_class(rc.status);
    else if (tk_streq(rc.action, "failed"))
        rc.cls = TK_INBOUND_HARD_BOUNCE;
    else if (tk_streq(rc.action, "delayed"))
        rc.cls = TK_INBOUND_SOFT_BOUNCE;
    if (oom || !rc.address) {
        tk_inb_rcpt_free(&rc);
        return oom ? TK_ENOMEM : 0;
    }
    return tk_inb_rcpt_add(r, &rc);
}

int tk_inb_dsn_parse(const char *s, size_t n, struct tk_inbound_result *r)
{
    const char *p = s, *end = s + n, *start = s;
    size_t groups = 0;
    int rc = 0;
    /* split at blank lines (empty or white space only) */
    while (p <= end && !rc && groups <= TK_INB_MAX_RCPTS) {
        const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        const char *le = nl ? nl : end;
        size_t blank = strspn(p, " \t\r");
        if (p + blank >= le || p == end) {
            if (p > start) {
                rc = group(start, (size_t)(p - start), r);
                groups++;
            }
            start = le + 1;
        }
        if (!nl)
            break;
        p = le + 1;
    }
    if (!rc && start < end && groups <= TK_INB_MAX_RCPTS)
        rc = group(start, (size_t)(end - start), r);
    return rc;
}
