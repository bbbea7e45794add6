/*
 * layout.c - the frame every page shares: head (CSS and the one script,
 * both from this site, as the Content-Security-Policy demands), the
 * navigation with the logout form, the notice or error line, the end.
 */
#include <stdlib.h>
#include <string.h>

#include "inbound/inbound.h"
#include "layout.h"

int tk_web_begin(struct tk_web_ctx *c, const char *title_key, const char *title_extra)
{
    struct tk_buf *b = c->out;
    const char *lang = c->lang ? c->lang : "en";
    int rc = 0;
    rc |= tk_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"");
    rc |= tk_web_attr(b, lang);
    rc |= tk_buf_puts(b, "\"><head><meta charset=\"utf-8\">"
                         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                         "<title>");
    rc |= tk_web_html(b, tk_web_t(lang, title_key));
    if (title_extra) {
        rc |= tk_buf_puts(b, " \xc2\xb7 ");
        rc |= tk_web_html(b, title_extra);
    }
    rc |= tk_buf_puts(b, " \xc2\xb7 tickler</title>"
                         "<link rel=\"stylesheet\" href=\"/static/console.css\">"
                         "<script src=\"/static/console.js\" defer></script></head><body>");
    if (c->user) {
        rc |= tk_buf_puts(b, "<header><nav><a class=\"brand\" href=\"/\">tickler</a>");
        static const char *const nav[][2] = {{"/", "nav.dashboard"},
                                             {"/accounts", "nav.accounts"},
                                             {"/upcoming", "nav.upcoming"},
                                             {"/outbox", "nav.outbox"}};
        for (size_t i = 0; i < sizeof nav / sizeof nav[0]; i++) {
            rc |= tk_buf_printf(b, "<a href=\"%s\">", nav[i][0]);
            rc |= tk_web_html(b, tk_web_t(lang, nav[i][1]));
            rc |= tk_buf_puts(b, "</a>");
        }
        rc |= tk_buf_puts(b, "</nav><form method=\"post\" action=\"/logout\" class=\"logout\">");
        rc |= tk_web_csrf_input(c);
        rc |= tk_buf_puts(b, "<span class=\"who\">");
        rc |= tk_web_html(b, c->user->name);
        rc |= tk_buf_puts(b, "</span><button type=\"submit\" data-action=\"logout\">");
        rc |= tk_web_html(b, tk_web_t(lang, "logout"));
        rc |= tk_buf_puts(b, "</button></form></header>");
    }
    rc |= tk_buf_puts(b, "<main>");
    if (c->notice) {
        rc |= tk_buf_puts(b, "<p class=\"notice\" role=\"status\">");
        rc |= tk_web_html(b, c->notice);
        rc |= tk_buf_puts(b, "</p>");
    }
    if (c->error) {
        rc |= tk_buf_puts(b, "<p class=\"error\" role=\"alert\">");
        rc |= tk_web_html(b, c->error);
        rc |= tk_buf_puts(b, "</p>");
    }
    rc |= tk_buf_puts(b, "<h1>");
    rc |= tk_web_html(b, tk_web_t(lang, title_key));
    if (title_extra) {
        rc |= tk_buf_puts(b, ": ");
        rc |= tk_web_html(b, title_extra);
    }
    rc |= tk_buf_puts(b, "</h1>");
    return rc ? TK_ENOMEM : 0;
}

int tk_web_end(struct tk_web_ctx *c)
{
    return tk_buf_puts(c->out, "</main></body></html>\n") ? TK_ENOMEM : 0;
}

int tk_web_csrf_input(struct tk_web_ctx *c)
{
    int rc = tk_buf_puts(c->out, "<input type=\"hidden\" name=\"csrf\" value=\"");
    rc |= tk_web_attr(c->out, c->csrf ? c->csrf : "");
    rc |= tk_buf_puts(c->out, "\">");
    return rc ? TK_ENOMEM : 0;
}

int tk_web_word(struct tk_web_ctx *c, const char *key)
{
    return tk_web_html(c->out, tk_web_t(c->lang, key));
}

int tk_web_time(struct tk_web_ctx *c, tk_time t)
{
    char buf[32];
    if (!t)
        return tk_buf_puts(c->out, "\xe2\x80\x94") ? TK_ENOMEM : 0;
    tk_time_format(t, buf, sizeof buf);
    /* 2026-12-01T09:00:00Z -> 2026-12-01 09:00 UTC */
    buf[10] = ' ';
    buf[16] = '\0';
    return tk_buf_printf(c->out, "<time datetime=\"%s\">%s UTC</time>", buf, buf) ? TK_ENOMEM : 0;
}

int tk_web_fail(int rc, struct tk_error *err)
{
    if (rc == TK_ENOMEM)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    return rc;
}

int tk_web_mail_body(struct tk_buf *b, const char *msg)
{
    /* the text part, decoded (quoted-printable, charset) by GMime */
    char *text = msg ? tk_inbound_text_of(msg, strlen(msg)) : NULL;
    if (text) {
        int rc = tk_web_html(b, text);
        free(text);
        return rc;
    }
    /* none found (not MIME): the body as built, CR LF as LF */
    const char *body = msg ? strstr(msg, "\r\n\r\n") : NULL, *p;
    struct tk_buf t = {0};
    int rc = 0;
    for (p = body ? body + 4 : msg ? msg : ""; *p && rc == 0; p++)
        if (!(p[0] == '\r' && p[1] == '\n'))
            rc = tk_buf_putc(&t, *p);
    if (rc == 0)
        rc = tk_web_html(b, t.data ? t.data : "");
    tk_buf_free(&t);
    return rc;
}
