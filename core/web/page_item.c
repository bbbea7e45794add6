/*
 * page_item.c - `/items/ID`: fields, state, the reminder settings and the
 * form that changes them (R6), Resend (R2, R3), the client events the
 * item's plugin offers, the next reminder, and the item's audit trail and
 * emails (each viewable as sent, /outbox/ID).
 */
#include <string.h>

#include "layout.h"

struct rows {
    struct tk_web_ctx *c;
    int rc;
};

static int audit_row(void *u, const struct tk_audit_entry *ae)
{
    struct rows *r = u;
    struct tk_buf *b = r->c->out;
    int rc = tk_buf_puts(b, "<tr><td>");
    rc |= tk_web_time(r->c, ae->at);
    rc |= tk_buf_puts(b, "</td><td>");
    rc |= tk_web_html(b, ae->actor);
    rc |= tk_buf_puts(b, "</td><td>");
    rc |= tk_web_html(b, ae->action);
    rc |= tk_buf_puts(b, "</td><td>");
    rc |= tk_web_html(b, ae->detail);
    rc |= tk_buf_puts(b, "</td></tr>");
    return rc ? (r->rc = TK_ENOMEM) : 0;
}

int tk_web_outbox_row(struct tk_web_ctx *c, const struct tk_outbox_row *o, int retry)
{
    struct tk_buf *b = c->out;
    static const char *const state[] = {"queued", "sent", "failed"};
    int rc = tk_buf_printf(b, "<tr data-outbox-id=\"%lld\"", (long long)o->id);
    if (o->item_id)
        rc |= tk_buf_printf(b, " data-item-id=\"%lld\"", (long long)o->item_id);
    rc |= tk_buf_printf(b, "><td><a href=\"/outbox/%lld\">#%lld</a></td><td>", (long long)o->id,
                        (long long)o->id);
    rc |= tk_web_html(b, o->kind);
    if (o->step)
        rc |= tk_buf_printf(b, " %d", o->step);
    rc |= tk_buf_puts(b, "</td><td>");
    rc |= tk_web_html(b, o->recipient);
    rc |= tk_buf_printf(b, "</td><td class=\"state-%s\">",
                        state[o->state >= 0 && o->state <= 2 ? o->state : 0]);
    rc |= tk_web_word(c, state[o->state >= 0 && o->state <= 2 ? o->state : 0]);
    rc |= tk_buf_printf(b, " (%d)</td><td>", o->attempts);
    rc |= tk_web_time(c, o->sent_at ? o->sent_at : o->created_at);
    rc |= tk_buf_puts(b, "</td><td class=\"reply\">");
    if (o->reply_code)
        rc |= tk_buf_printf(b, "%d ", o->reply_code);
    rc |= tk_web_html(b, o->last_reply);
    rc |= tk_buf_puts(b, "</td><td>");
    if (retry && o->state == TK_OUTBOX_DEAD) {
        rc |= tk_buf_printf(b, "<form method=\"post\" action=\"/outbox/%lld/retry\">",
                            (long long)o->id);
        rc |= tk_web_csrf_input(c);
        rc |= tk_buf_puts(b, "<button type=\"submit\" data-action=\"retry\">");
        rc |= tk_web_word(c, "retry");
        rc |= tk_buf_puts(b, "</button></form>");
    }
    rc |= tk_buf_puts(b, "</td></tr>");
    return rc ? TK_ENOMEM : 0;
}

static int outbox_row(void *u, const struct tk_outbox_row *o)
{
    struct rows *r = u;
    return tk_web_outbox_row(r->c, o, 1) ? (r->rc = TK_ENOMEM) : 0;
}

static int head(struct tk_web_ctx *c, const char *const *keys)
{
    int rc = tk_buf_puts(c->out, "<thead><tr>");
    for (; *keys; keys++) {
        rc |= tk_buf_puts(c->out, "<th>");
        rc |= tk_web_word(c, *keys);
        rc |= tk_buf_puts(c->out, "</th>");
    }
    return rc | tk_buf_puts(c->out, "</tr></thead><tbody>");
}

static int settings_form(struct tk_web_ctx *c, const struct tk_item *it)
{
    struct tk_buf *b = c->out;
    int rc = 0;
    rc |= tk_buf_printf(b,
                        "<form method=\"post\" action=\"/items/%lld/reminders\" "
                        "class=\"reminders\"><fieldset><legend>",
                        (long long)it->id);
    rc |= tk_web_word(c, "reminders");
    rc |= tk_buf_puts(b, ": <strong class=\"rem-state\">");
    rc |= tk_web_word(c, it->rem.enabled ? "on" : "off");
    rc |= tk_buf_puts(b, "</strong></legend>");
    rc |= tk_web_csrf_input(c);
    rc |= tk_buf_puts(b, "<label>");
    rc |= tk_web_word(c, "every_days");
    rc |= tk_buf_printf(b,
                        "<input type=\"number\" name=\"every_days\" min=\"1\" max=\"365\" "
                        "value=\"%d\" required></label><label>",
                        it->rem.every_days > 0 ? it->rem.every_days : 3);
    rc |= tk_web_word(c, "count");
    rc |= tk_buf_printf(b,
                        "<input type=\"number\" name=\"count\" min=\"0\" max=\"100\" "
                        "value=\"%d\" required></label>",
                        it->rem.count);
    rc |= tk_buf_puts(b, "<div class=\"buttons\"><button type=\"submit\" name=\"op\" "
                         "value=\"save\" data-action=\"save-reminders\">");
    rc |= tk_web_word(c, "save");
    rc |= tk_buf_puts(b, "</button> <button type=\"submit\" name=\"op\" value=\"on\" "
                         "data-action=\"reminders-on\">");
    rc |= tk_web_word(c, "rem.on");
    rc |= tk_buf_puts(b, "</button> <button type=\"submit\" name=\"op\" value=\"off\" "
                         "data-action=\"reminders-off\" formnovalidate>");
    rc |= tk_web_word(c, "rem.off");
    rc |= tk_buf_puts(b, "</button></div></fieldset></form>");
    return rc;
}

static int actions(struct tk_web_ctx *c, const struct tk_item *it)
{
    const struct tk_plugin *p = tk_engine_type(c->e, it->type, NULL);
    struct tk_buf *b = c->out;
    int rc = 0;
    rc |= tk_buf_printf(b,
                        "<div class=\"actions\"><form method=\"post\" "
                        "action=\"/items/%lld/resend\">",
                        (long long)it->id);
    rc |= tk_web_csrf_input(c);
    rc |= tk_buf_puts(b, "<button type=\"submit\" data-action=\"resend\">");
    rc |= tk_web_word(c, "resend");
    rc |= tk_buf_puts(b, "</button></form>");
    if (p && p->item && strcmp(it->state, "pending") == 0) {
        rc |= tk_buf_printf(b,
                            "<form method=\"post\" action=\"/items/%lld/event\" "
                            "class=\"events\">",
                            (long long)it->id);
        rc |= tk_web_csrf_input(c);
        for (const struct tk_event_spec *ev = p->item->events; ev && ev->name; ev++) {
            rc |= tk_buf_puts(b, "<button type=\"submit\" name=\"event\" value=\"");
            rc |= tk_web_attr(b, ev->name);
            rc |= tk_buf_puts(b, "\" data-action=\"event\" title=\"");
            rc |= tk_web_attr(b, ev->description);
            rc |= tk_buf_puts(b, "\">");
            rc |= tk_web_html(b, ev->name);
            rc |= tk_buf_puts(b, "</button> ");
        }
        rc |= tk_buf_puts(b, "</form>");
    }
    return rc | tk_buf_puts(b, "</div>");
}

/* The next automatic email (tk_engine_preview_item: the scheduler's own
 * decisions and the message as the tick would build it), its time in the
 * client's zone and its subject and text, escaped as text. */
struct next_mail {
    struct tk_web_ctx *c;
    int found, rc;
};

static int next_mail(void *u, const struct tk_preview *p)
{
    struct next_mail *x = u;
    struct tk_web_ctx *c = x->c;
    struct tk_buf *b = c->out;
    int rc = 0;
    x->found = 1;
    rc |= tk_buf_puts(b, "<p class=\"next-when\">");
    rc |= tk_web_time(c, p->at);
    rc |= tk_buf_puts(b, " (");
    rc |= tk_web_html(b, p->local);
    rc |= tk_buf_printf(b, "), %d / %d", p->step, p->count);
    if (p->moved) {
        rc |= tk_buf_puts(b, " &ndash; ");
        rc |= tk_web_html(b, p->moved);
    }
    rc |= tk_buf_puts(b, "</p>");
    if (p->error) {
        rc |= tk_buf_puts(b, "<p class=\"next-error\">");
        rc |= tk_web_html(b, p->error);
        rc |= tk_buf_puts(b, "</p>");
    }
    if (p->nmails) {
        rc |= tk_buf_puts(b, "<p class=\"next-to\">");
        for (size_t i = 0; i < p->nmails; i++) {
            rc |= tk_buf_puts(b, i ? ", " : "");
            rc |= tk_web_html(b, p->mails[i].to);
        }
        rc |= tk_buf_puts(b, "</p><pre class=\"next-text\">");
        rc |= tk_web_html(b, p->mails[0].subject);
        rc |= tk_buf_puts(b, "\n\n");
        rc |= tk_web_mail_body(b, p->mails[0].message);
        rc |= tk_buf_puts(b, "</pre>");
    }
    x->rc = rc ? TK_ENOMEM : 0;
    return rc ? TK_ENOMEM : TK_PREVIEW_STOP;
}

static int next_section(struct tk_web_ctx *c, int64_t id, struct tk_error *err)
{
    struct next_mail x = {c, 0, 0};
    int rc = tk_buf_puts(c->out, "<section class=\"next-mail\"><h2>");
    rc |= tk_web_word(c, "next.mail");
    rc |= tk_buf_puts(c->out, "</h2>");
    if (rc)
        return tk_web_fail(TK_ENOMEM, err);
    if ((rc = tk_engine_preview_item(c->e, id, TK_PREVIEW_DAYS_MAX, 1, 1, next_mail, &x, err)))
        return x.rc ? tk_web_fail(x.rc, err) : rc;
    if (!x.found) {
        rc |= tk_buf_puts(c->out, "<p class=\"empty\">");
        rc |= tk_web_word(c, "next.none");
        rc |= tk_buf_puts(c->out, "</p>");
    }
    rc |= tk_buf_puts(c->out, "</section>");
    return tk_web_fail(rc ? TK_ENOMEM : 0, err);
}

int tk_web_page_item(struct tk_web_ctx *c, int64_t id, struct tk_error *err)
{
    static const char *const audit_cols[] = {"at", "actor", "action", "detail", NULL};
    static const char *const mail_cols[] = {"email", "kind",  "recipient", "state",
                                            "at",    "reply", "",          NULL};
    struct tk_buf *b = c->out;
    struct tk_item it = {0};
    struct tk_account a = {0};
    struct rows r = {c, 0};
    tk_time next;
    int rc;
    if ((rc = tk_engine_item_get(c->e, id, &it, err)) ||
        (rc = tk_engine_account_get(c->e, it.account_id, &a, err)))
        goto out;
    rc = tk_web_begin(c, "item", it.title && *it.title ? it.title : it.type);
    rc |= tk_buf_printf(b, "<dl class=\"facts\" data-item-id=\"%lld\"><dt>", (long long)it.id);
    rc |= tk_web_word(c, "account");
    rc |= tk_buf_printf(b, "</dt><dd><a href=\"/accounts/%lld\">", (long long)a.id);
    rc |= tk_web_html(b, a.name);
    rc |= tk_buf_puts(b, "</a></dd><dt>");
    rc |= tk_web_word(c, "type");
    rc |= tk_buf_puts(b, "</dt><dd>");
    rc |= tk_web_html(b, it.type);
    rc |= tk_buf_puts(b, "</dd><dt>");
    rc |= tk_web_word(c, "state");
    rc |= tk_buf_puts(b, "</dt><dd class=\"item-state\">");
    rc |= tk_web_html(b, it.state);
    if (it.archived) {
        rc |= tk_buf_puts(b, " (");
        rc |= tk_web_word(c, "archived");
        rc |= tk_buf_puts(b, ")");
    }
    rc |= tk_buf_puts(b, "</dd><dt>");
    rc |= tk_web_word(c, "created");
    rc |= tk_buf_puts(b, "</dt><dd>");
    rc |= tk_web_time(c, it.created_at);
    rc |= tk_buf_puts(b, "</dd><dt>");
    rc |= tk_web_word(c, "template");
    rc |= tk_buf_puts(b, "</dt><dd>");
    rc |= tk_web_html(b, it.template_name);
    rc |= tk_buf_puts(b, "</dd>");
    for (size_t i = 0; i < it.fields.n; i++) {
        rc |= tk_buf_puts(b, "<dt>");
        rc |= tk_web_html(b, it.fields.keys[i]);
        rc |= tk_buf_puts(b, "</dt><dd>");
        rc |= tk_web_html(b, it.fields.vals[i]);
        rc |= tk_buf_puts(b, "</dd>");
    }
    rc |= tk_buf_puts(b, "<dt>");
    rc |= tk_web_word(c, "rem.sent");
    rc |=
        tk_buf_printf(b, "</dt><dd class=\"rem-sent\">%d / %d</dd><dt>", it.rem.sent, it.rem.count);
    rc |= tk_web_word(c, "next");
    rc |= tk_buf_puts(b, "</dt><dd class=\"rem-next\">");
    next = tk_schedule_next(&it);
    /* an anchored schedule's step is in the client's zone and window: the
     * stored moment (what the tick computed with the calendar) */
    if (next && it.rem.nsched && it.rem.next_at)
        next = it.rem.next_at;
    rc |= tk_web_time(c, next);
    rc |= tk_buf_puts(b, "</dd></dl>");
    rc |= actions(c, &it);
    rc |= settings_form(c, &it);
    if (rc) {
        rc = tk_web_fail(TK_ENOMEM, err);
        goto out;
    }
    if ((rc = next_section(c, id, err)))
        goto out;
    rc |= tk_buf_puts(b, "<section><h2>");
    rc |= tk_web_word(c, "emails");
    rc |= tk_buf_puts(b, "</h2><div class=\"scroll\"><table class=\"emails\">");
    rc |= head(c, mail_cols);
    if (rc) {
        rc = tk_web_fail(TK_ENOMEM, err);
        goto out;
    }
    if ((rc = tk_engine_outbox_each(c->e, 0, id, outbox_row, &r, err))) {
        rc = r.rc ? tk_web_fail(r.rc, err) : rc;
        goto out;
    }
    rc |= tk_buf_puts(b, "</tbody></table></div></section><section><h2>");
    rc |= tk_web_word(c, "audit");
    rc |= tk_buf_puts(b, "</h2><div class=\"scroll\"><table class=\"audit\">");
    rc |= head(c, audit_cols);
    if (rc) {
        rc = tk_web_fail(TK_ENOMEM, err);
        goto out;
    }
    if ((rc = tk_engine_audit_each(c->e, 0, id, audit_row, &r, err))) {
        rc = r.rc ? tk_web_fail(r.rc, err) : rc;
        goto out;
    }
    rc |= tk_buf_puts(b, "</tbody></table></div></section>");
    rc |= tk_web_end(c);
    rc = tk_web_fail(rc ? TK_ENOMEM : 0, err);
out:
    tk_account_free(&a);
    tk_item_free(&it);
    return rc;
}

int tk_web_message_text(struct tk_engine *e, int64_t id, struct tk_buf *out, struct tk_error *err)
{
    struct tk_outbox_row r = {0};
    int rc = tk_engine_outbox_get(e, id, &r, err);
    if (rc == 0 && tk_buf_puts(out, r.data ? r.data : ""))
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
    tk_outbox_row_free(&r);
    return rc;
}
