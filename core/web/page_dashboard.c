/*
 * page_dashboard.c - `/`: pending items by type, reminders due today and
 * in the next 7 days, the outbox's queued and failed messages, the chart
 * of the last 30 days and how many items completed after reminder N.
 */
#include "layout.h"

static int figure(struct tk_web_ctx *c, const char *key, int64_t n, const char *href)
{
    int rc = 0;
    rc |= tk_buf_puts(c->out, "<div class=\"figure\">");
    if (href)
        rc |= tk_buf_printf(c->out, "<a href=\"%s\">", href);
    rc |= tk_buf_printf(c->out, "<strong>%lld</strong><span>", (long long)n);
    rc |= tk_web_word(c, key);
    rc |= tk_buf_puts(c->out, "</span>");
    if (href)
        rc |= tk_buf_puts(c->out, "</a>");
    rc |= tk_buf_puts(c->out, "</div>");
    return rc;
}

int tk_web_page_dashboard(struct tk_web_ctx *c, struct tk_error *err)
{
    struct tk_dashboard d;
    struct tk_buf *b = c->out;
    int64_t total = 0, done = 0;
    int rc;
    if ((rc = tk_engine_dashboard(c->e, &d, err)))
        return rc;
    rc = tk_web_begin(c, "nav.dashboard", NULL);
    rc |= tk_buf_puts(b, "<section class=\"figures\">");
    rc |= figure(c, "dash.due_today", d.due_today, "/upcoming");
    rc |= figure(c, "dash.due_week", d.due_week, "/upcoming");
    rc |= figure(c, "dash.queued", d.queued, "/outbox");
    rc |= figure(c, "dash.failed", d.failed, "/outbox");
    rc |= tk_buf_puts(b, "</section><section><h2>");
    rc |= tk_web_word(c, "dash.pending");
    rc |= tk_buf_puts(b, "</h2><table class=\"pending\"><thead><tr><th>");
    rc |= tk_web_word(c, "type");
    rc |= tk_buf_puts(b, "</th><th class=\"num\">");
    rc |= tk_web_word(c, "count");
    rc |= tk_buf_puts(b, "</th></tr></thead><tbody>");
    for (size_t i = 0; i < d.ntypes; i++) {
        rc |= tk_buf_puts(b, "<tr><td>");
        rc |= tk_web_html(b, d.types[i].name);
        rc |= tk_buf_printf(b, "</td><td class=\"num\">%lld</td></tr>",
                            (long long)d.types[i].pending);
        total += d.types[i].pending;
    }
    rc |= tk_buf_puts(b, "</tbody><tfoot><tr><td>");
    rc |= tk_web_word(c, "total");
    rc |= tk_buf_printf(b, "</td><td class=\"num\">%lld</td></tr></tfoot></table></section>",
                        (long long)total);
    rc |= tk_buf_puts(b, "<section><h2>");
    rc |= tk_web_word(c, "dash.chart");
    rc |= tk_buf_puts(b, "</h2>");
    rc |= tk_web_chart(c, d.sent, d.completed, TK_DASH_DAYS, d.first_day);
    rc |= tk_buf_puts(b, "</section><section><h2>");
    rc |= tk_web_word(c, "dash.after");
    rc |= tk_buf_puts(b, "</h2><table class=\"after\"><thead><tr><th>");
    rc |= tk_web_word(c, "dash.after_n");
    rc |= tk_buf_puts(b, "</th><th class=\"num\">");
    rc |= tk_web_word(c, "count");
    rc |= tk_buf_puts(b, "</th><th class=\"num\">%</th></tr></thead><tbody>");
    for (int i = 0; i < TK_DASH_MAX_AFTER; i++)
        done += d.completed_after[i];
    for (int i = 0; i < TK_DASH_MAX_AFTER; i++) {
        if (!d.completed_after[i])
            continue;
        rc |= tk_buf_printf(b, "<tr data-reminders=\"%d\"><td>", i);
        if (i == 0)
            rc |= tk_web_word(c, "dash.after_none");
        else
            rc |= tk_buf_printf(b, "%d%s", i, i == TK_DASH_MAX_AFTER - 1 ? "+" : "");
        rc |= tk_buf_printf(b, "</td><td class=\"num\">%lld</td><td class=\"num\">%lld</td></tr>",
                            (long long)d.completed_after[i],
                            (long long)(d.completed_after[i] * 100 / (done ? done : 1)));
    }
    rc |= tk_buf_puts(b, "</tbody></table></section>");
    rc |= tk_web_end(c);
    return tk_web_fail(rc ? TK_ENOMEM : 0, err);
}
