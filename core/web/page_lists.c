/*
 * page_lists.c - `/upcoming` (the automatic emails of the next 14 days, by
 * day) and `/outbox` (failed messages with their replies and Retry, then
 * the queued ones).
 */
#include <stdio.h>
#include <string.h>

#include "layout.h"

#define UPCOMING_DAYS 14
#define UPCOMING_MAX 500
#define OUTBOX_MAX 200
/* A walk's own "enough" (no status has this value). */
#define STOP (-2)

struct walk {
    struct tk_web_ctx *c;
    int rc;
    tk_time day; /* the day whose heading was written last */
    size_t n;
};

static int upcoming_row(void *u, const struct tk_upcoming *up)
{
    struct walk *w = u;
    struct tk_web_ctx *c = w->c;
    struct tk_buf *b = c->out;
    tk_time now = tk_engine_now(c->e), day = up->at < now ? now / TK_DAY : up->at / TK_DAY;
    char when[32];
    int rc = 0;
    if (!w->n++ || day != w->day) {
        if (w->n > 1)
            rc |= tk_buf_puts(b, "</tbody></table></div>");
        tk_time_format(day * TK_DAY, when, sizeof when);
        when[10] = '\0';
        rc |= tk_buf_printf(b,
                            "<h2><time datetime=\"%s\">%s</time></h2><div class=\"scroll\">"
                            "<table class=\"upcoming\"><tbody>",
                            when, when);
        w->day = day;
    }
    rc |= tk_buf_printf(b, "<tr data-item-id=\"%lld\"><td>", (long long)up->item_id);
    if (up->at <= now) {
        rc |= tk_web_word(c, "overdue");
    } else {
        tk_time_format(up->at, when, sizeof when);
        when[16] = '\0';
        rc |= tk_buf_printf(b, "%s", when + 11);
    }
    rc |= tk_buf_printf(b, "</td><td><a href=\"/items/%lld\">", (long long)up->item_id);
    rc |= tk_web_html(b, up->title && *up->title ? up->title : "-");
    rc |= tk_buf_puts(b, "</a></td><td>");
    rc |= tk_web_html(b, up->type);
    rc |= tk_buf_printf(b, "</td><td><a href=\"/accounts/%lld\">", (long long)up->account_id);
    rc |= tk_web_html(b, up->account_name);
    rc |= tk_buf_puts(b, "</a></td><td>");
    rc |= tk_web_word(c, "reminder");
    rc |= tk_buf_printf(b, " %d/%d</td></tr>", up->step, up->count);
    return rc ? (w->rc = TK_ENOMEM) : 0;
}

int tk_web_page_upcoming(struct tk_web_ctx *c, struct tk_error *err)
{
    struct walk w = {c, 0, 0, 0};
    int rc = tk_web_begin(c, "nav.upcoming", NULL);
    rc |= tk_buf_puts(c->out, "<p class=\"meta\">");
    rc |= tk_web_word(c, "upcoming.note");
    rc |= tk_buf_puts(c->out, "</p>");
    if (rc)
        return tk_web_fail(TK_ENOMEM, err);
    if ((rc = tk_engine_upcoming(c->e, UPCOMING_DAYS, UPCOMING_MAX, upcoming_row, &w, err)))
        return w.rc ? tk_web_fail(w.rc, err) : rc;
    if (w.n)
        rc |= tk_buf_puts(c->out, "</tbody></table></div>");
    else {
        rc |= tk_buf_puts(c->out, "<p class=\"empty\">");
        rc |= tk_web_word(c, "upcoming.none");
        rc |= tk_buf_puts(c->out, "</p>");
    }
    rc |= tk_web_end(c);
    return tk_web_fail(rc ? TK_ENOMEM : 0, err);
}

static int outbox_row(void *u, const struct tk_outbox_row *o)
{
    struct walk *w = u;
    if (++w->n > OUTBOX_MAX)
        return STOP; /* the page shows the first ones */
    return tk_web_outbox_row(w->c, o, 1) ? (w->rc = TK_ENOMEM) : 0;
}

static int table(struct tk_web_ctx *c, const char *title)
{
    static const char *const cols[] = {"email", "kind", "recipient", "state", "at", "reply", ""};
    int rc = tk_buf_puts(c->out, "<section><h2>");
    rc |= tk_web_word(c, title);
    rc |= tk_buf_puts(c->out, "</h2><div class=\"scroll\"><table class=\"outbox\"><thead><tr>");
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        rc |= tk_buf_puts(c->out, "<th>");
        rc |= tk_web_word(c, cols[i]);
        rc |= tk_buf_puts(c->out, "</th>");
    }
    return rc | tk_buf_puts(c->out, "</tr></thead><tbody>");
}

int tk_web_page_outbox(struct tk_web_ctx *c, struct tk_error *err)
{
    struct walk w = {c, 0, 0, 0};
    int64_t queued = 0, dead = 0;
    int rc;
    if ((rc = tk_engine_outbox_counts(c->e, &queued, &dead, err)))
        return rc;
    rc = tk_web_begin(c, "nav.outbox", NULL);
    rc |= tk_buf_printf(c->out, "<p class=\"meta\">%lld ", (long long)queued);
    rc |= tk_web_word(c, "dash.queued");
    rc |= tk_buf_printf(c->out, " \xc2\xb7 %lld ", (long long)dead);
    rc |= tk_web_word(c, "dash.failed");
    rc |= tk_buf_puts(c->out, "</p>");
    if (dead) {
        rc |= tk_buf_puts(c->out, "<form method=\"post\" action=\"/outbox/retry-all\">");
        rc |= tk_web_csrf_input(c);
        rc |= tk_buf_puts(c->out, "<button type=\"submit\" data-action=\"retry\" "
                                  "name=\"all\" value=\"1\">");
        rc |= tk_web_word(c, "retry_all");
        rc |= tk_buf_puts(c->out, "</button></form>");
    }
    rc |= table(c, "outbox.failed");
    if (rc)
        return tk_web_fail(TK_ENOMEM, err);
    rc = tk_engine_outbox_each(c->e, 1, 0, outbox_row, &w, err);
    if (w.rc)
        return tk_web_fail(w.rc, err);
    if (rc && rc != STOP)
        return rc;
    rc = tk_buf_puts(c->out, "</tbody></table></div></section>");
    rc |= table(c, "outbox.queued");
    w.n = 0;
    if (rc)
        return tk_web_fail(TK_ENOMEM, err);
    if ((rc = tk_engine_outbox_queued_each(c->e, OUTBOX_MAX, outbox_row, &w, err)))
        return w.rc ? tk_web_fail(w.rc, err) : rc;
    rc |= tk_buf_puts(c->out, "</tbody></table></div></section>");
    rc |= tk_web_end(c);
    return tk_web_fail(rc ? TK_ENOMEM : 0, err);
}

int tk_web_page_login(struct tk_web_ctx *c, const char *username, struct tk_error *err)
{
    struct tk_buf *b = c->out;
    int rc = tk_web_begin(c, "login", NULL);
    rc |= tk_buf_puts(b, "<form method=\"post\" action=\"/login\" class=\"login\"><label>");
    rc |= tk_web_word(c, "username");
    rc |= tk_buf_puts(b, "<input type=\"text\" name=\"username\" autocomplete=\"username\" "
                         "required autofocus value=\"");
    rc |= tk_web_attr(b, username ? username : "");
    rc |= tk_buf_puts(b, "\"></label><label>");
    rc |= tk_web_word(c, "password");
    rc |= tk_buf_puts(b, "<input type=\"password\" name=\"password\" "
                         "autocomplete=\"current-password\" required></label>"
                         "<button type=\"submit\" data-action=\"login\">");
    rc |= tk_web_word(c, "login");
    rc |= tk_buf_puts(b, "</button></form>");
    rc |= tk_web_end(c);
    return tk_web_fail(rc ? TK_ENOMEM : 0, err);
}

int tk_web_page_error(struct tk_web_ctx *c, int status, const char *message)
{
    char title[16];
    int rc;
    snprintf(title, sizeof title, "%d", status);
    rc = tk_web_begin(c, "error", title);
    rc |= tk_buf_puts(c->out, "<p class=\"error\" role=\"alert\">");
    rc |= tk_web_html(c->out, message);
    rc |= tk_buf_puts(c->out, "</p><p><a href=\"/\">");
    rc |= tk_web_word(c, "nav.dashboard");
    rc |= tk_buf_puts(c->out, "</a></p>");
    rc |= tk_web_end(c);
    return rc ? TK_ENOMEM : 0;
}
