/*
 * chart.c - the dashboard's chart: emails sent and items completed per day
 * as bars in an inline SVG drawn here, so the page needs no script and no
 * chart library.  It scales with its viewBox to any width.
 */
#include "layout.h"

#define W 600
#define H 160
#define PAD 20

int tk_web_chart(struct tk_web_ctx *c, const int64_t *sent, const int64_t *completed, int n,
                 tk_time first_day)
{
    struct tk_buf *b = c->out;
    int64_t max = 1;
    char day[32];
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (sent[i] > max)
            max = sent[i];
        if (completed[i] > max)
            max = completed[i];
    }
    double slot = (double)(W - 2 * PAD) / n, bar = slot * 0.4, scale = (double)(H - 2 * PAD) / max;
    rc |= tk_buf_printf(b,
                        "<figure class=\"chart\"><svg viewBox=\"0 0 %d %d\" role=\"img\" "
                        "aria-labelledby=\"chart-title\"><title id=\"chart-title\">",
                        W, H);
    rc |= tk_web_word(c, "dash.chart");
    rc |= tk_buf_puts(b, "</title>");
    rc |= tk_buf_printf(b,
                        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>"
                        "<text x=\"%d\" y=\"%d\" class=\"label\">%lld</text>",
                        PAD, H - PAD, W - PAD, H - PAD, 2, PAD - 6, (long long)max);
    for (int i = 0; i < n; i++) {
        double x = PAD + i * slot, hs = sent[i] * scale, hc = completed[i] * scale;
        tk_time_format(first_day + (tk_time)i * TK_DAY, day, sizeof day);
        day[10] = '\0';
        rc |= tk_buf_printf(b,
                            "<g><title>%s: %lld / %lld</title>"
                            "<rect class=\"sent\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                            "height=\"%.1f\"/>"
                            "<rect class=\"done\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                            "height=\"%.1f\"/></g>",
                            day, (long long)sent[i], (long long)completed[i], x + slot * 0.1,
                            H - PAD - hs, bar, hs, x + slot * 0.5, H - PAD - hc, bar, hc);
    }
    tk_time_format(first_day, day, sizeof day);
    day[10] = '\0';
    rc |= tk_buf_printf(b, "<text x=\"%d\" y=\"%d\" class=\"label\">%s</text>", PAD, H - 4, day);
    tk_time_format(first_day + (tk_time)(n - 1) * TK_DAY, day, sizeof day);
    day[10] = '\0';
    rc |= tk_buf_printf(b,
                        "<text x=\"%d\" y=\"%d\" class=\"label\" text-anchor=\"end\">%s</text>"
                        "</svg><figcaption><span class=\"key sent\"></span>",
                        W - PAD, H - 4, day);
    rc |= tk_web_word(c, "dash.sent");
    rc |= tk_buf_puts(b, " <span class=\"key done\"></span>");
    rc |= tk_web_word(c, "dash.completed");
    rc |= tk_buf_puts(b, "</figcaption></figure>");
    return rc ? TK_ENOMEM : 0;
}
