/* address.c - "Name <addr>", "\"Name, Inc.\" <addr>" and bare "addr" as
 * written in config files and on the command line. */
#include <stdlib.h>
#include <string.h>

#include "mail/mail.h"

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
    if (!ad || !tk_email_valid(ad)) {
        free(nm);
        free(ad);
        return tk_error_set(err, TK_EINVAL, "invalid email address '%.200s'", s);
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
