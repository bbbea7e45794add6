/*
 * page_accounts.c - `/accounts` (search, a page of 50 by name) and
 * `/accounts/ID`: contacts and who is notified (R1), the to-do list in the
 * client's order (R2), the account's jobs, and the bulk commands the item
 * plugins offer (R4); its calendar settings (issue 14: zone, send window,
 * holidays, manager, digest; "default" where the [calendar] default is in
 * effect) and which contacts are suppressed, why and since when (issue 15).
 */
#include <string.h>

#include "layout.h"

#define PAGE 50

struct list {
    struct tk_web_ctx *c;
    int rc;
};

static int account_row(void *u, const struct tk_account *a)
{
    struct list *l = u;
    struct tk_buf *b = l->c->out;
    struct tk_contacts cs = {0};
    struct tk_error err;
    size_t notified = 0;
    int rc = 0;
    if (tk_engine_contacts_list(l->c->e, a->id, 0, &cs, &err) == 0)
        for (size_t i = 0; i < cs.n; i++)
            notified += cs.v[i].notify != 0;
    rc |= tk_buf_printf(b, "<tr data-account-id=\"%lld\"><td><a href=\"/accounts/%lld\">",
                        (long long)a->id, (long long)a->id);
    rc |= tk_web_html(b, a->name);
    rc |= tk_buf_puts(b, "</a></td><td>");
    rc |= tk_web_html(b, a->language);
    rc |= tk_buf_printf(b, "</td><td class=\"num\">%zu</td><td class=\"num\">%zu</td></tr>", cs.n,
                        notified);
    tk_contacts_free(&cs);
    return rc ? (l->rc = TK_ENOMEM) : 0;
}

int tk_web_page_accounts(struct tk_web_ctx *c, const char *query, size_t page, struct tk_error *err)
{
    struct tk_buf *b = c->out;
    struct list l = {c, 0};
    int more = 0, rc;
    if (page > 100000)
        page = 100000;
    rc = tk_web_begin(c, "nav.accounts", NULL);
    rc |= tk_buf_puts(b, "<form method=\"get\" action=\"/accounts\" class=\"search\" "
                         "role=\"search\"><input type=\"search\" name=\"q\" value=\"");
    rc |= tk_web_attr(b, query ? query : "");
    rc |= tk_buf_puts(b, "\" aria-label=\"");
    rc |= tk_web_attr(b, tk_web_t(c->lang, "search"));
    rc |= tk_buf_puts(b, "\"><button type=\"submit\">");
    rc |= tk_web_word(c, "search");
    rc |= tk_buf_puts(b, "</button></form><div class=\"scroll\"><table class=\"accounts\"><thead>"
                         "<tr><th>");
    rc |= tk_web_word(c, "account");
    rc |= tk_buf_puts(b, "</th><th>");
    rc |= tk_web_word(c, "language");
    rc |= tk_buf_puts(b, "</th><th class=\"num\">");
    rc |= tk_web_word(c, "contacts");
    rc |= tk_buf_puts(b, "</th><th class=\"num\">");
    rc |= tk_web_word(c, "notified");
    rc |= tk_buf_puts(b, "</th></tr></thead><tbody>");
    if (rc)
        return tk_web_fail(TK_ENOMEM, err);
    if ((rc =
             tk_engine_account_search(c->e, query, page * PAGE, PAGE, account_row, &l, &more, err)))
        return l.rc ? tk_web_fail(l.rc, err) : rc;
    rc |= tk_buf_puts(b, "</tbody></table></div><nav class=\"pages\">");
    for (int dir = -1; dir <= 1; dir += 2) {
        if ((dir < 0 && page == 0) || (dir > 0 && !more))
            continue;
        rc |= tk_buf_printf(b, "<a href=\"/accounts?page=%zu&amp;q=", page + (size_t)dir);
        rc |= tk_web_url(b, query ? query : "");
        rc |= tk_buf_puts(b, "\">");
        rc |= tk_web_word(c, dir < 0 ? "previous" : "next");
        rc |= tk_buf_puts(b, "</a> ");
    }
    rc |= tk_buf_puts(b, "</nav>");
    rc |= tk_web_end(c);
    return tk_web_fail(rc ? TK_ENOMEM : 0, err);
}

static int todo_row(void *u, const struct tk_item *it)
{
    struct list *l = u;
    struct tk_web_ctx *c = l->c;
    struct tk_buf *b = c->out;
    int rc = 0;
    rc |= tk_buf_printf(b, "<tr data-item-id=\"%lld\"><td><a href=\"/items/%lld\">",
                        (long long)it->id, (long long)it->id);
    rc |= tk_web_html(b, it->title && *it->title ? it->title : "-");
    rc |= tk_buf_puts(b, "</a></td><td>");
    rc |= tk_web_html(b, it->type);
    rc |= tk_buf_puts(b, "</td><td>");
    if (it->rem.enabled)
        rc |= tk_buf_printf(b, "%d/%d", it->rem.sent, it->rem.count);
    else
        rc |= tk_web_word(c, "off");
    rc |= tk_buf_puts(b, "</td><td>");
    rc |= tk_web_time(c, it->rem.next_at);
    rc |= tk_buf_puts(b, "</td></tr>");
    return rc ? (l->rc = TK_ENOMEM) : 0;
}

static int bulk_forms(struct tk_web_ctx *c, int64_t account)
{
    const struct tk_registry *reg = tk_engine_plugins(c->e);
    struct tk_buf *b = c->out;
    int rc = 0, any = 0;
    for (size_t i = 0; reg && i < reg->n; i++) {
        const struct tk_item_type *t = reg->v[i]->item;
        for (const struct tk_bulk_spec *s = t ? t->bulk : NULL; s && s->command; s++) {
            if (!any++) {
                rc |= tk_buf_puts(b, "<section><h2>");
                rc |= tk_web_word(c, "bulk");
                rc |= tk_buf_puts(b, "</h2>");
            }
            rc |= tk_buf_printf(b,
                                "<form method=\"post\" action=\"/accounts/%lld/bulk\" "
                                "class=\"bulk\">",
                                (long long)account);
            rc |= tk_web_csrf_input(c);
            rc |= tk_buf_puts(b, "<input type=\"hidden\" name=\"command\" value=\"");
            rc |= tk_web_attr(b, s->command);
            rc |= tk_buf_puts(b, "\"><p><strong>");
            rc |= tk_web_html(b, s->command);
            rc |= tk_buf_puts(b, "</strong>: ");
            rc |= tk_web_html(b, s->description);
            rc |= tk_buf_puts(b, "</p><label>");
            rc |= tk_web_word(c, "bulk.message");
            rc |= tk_buf_puts(b, "<textarea name=\"message\" rows=\"3\"></textarea></label>"
                                 "<button type=\"submit\" data-action=\"bulk\">");
            rc |= tk_web_word(c, "bulk.preview");
            rc |= tk_buf_puts(b, "</button></form>");
        }
    }
    if (any)
        rc |= tk_buf_puts(b, "</section>");
    return rc;
}

/* One row of the calendar settings: KEY's word, VALUE, and "(default)"
 * when the account has no setting of its own. */
static int setting_row(struct tk_web_ctx *c, const char *key, const char *value, int own)
{
    struct tk_buf *b = c->out;
    int rc = tk_buf_printf(b, "<tr data-setting=\"%s\"><th scope=\"row\">", key);
    rc |= tk_web_word(c, key);
    rc |= tk_buf_puts(b, "</th><td>");
    rc |= tk_web_html(b, value && *value ? value : "-");
    if (!own) {
        rc |= tk_buf_puts(b, " <span class=\"meta\">(");
        rc |= tk_web_word(c, "cal.default");
        rc |= tk_buf_puts(b, ")</span>");
    }
    rc |= tk_buf_puts(b, "</td></tr>");
    return rc;
}

static int calendar_section(struct tk_web_ctx *c, const struct tk_account *a)
{
    struct tk_buf *b = c->out;
    struct tk_account_view v;
    int rc;
    tk_engine_account_view(c->e, a, &v);
    rc = tk_buf_puts(b, "<section><h2>");
    rc |= tk_web_word(c, "calendar");
    rc |= tk_buf_puts(b, "</h2><table class=\"settings\"><tbody>");
    rc |= setting_row(c, "cal.timezone", v.timezone, a->timezone != NULL);
    rc |= setting_row(c, "cal.window", v.window, a->window != NULL);
    rc |= setting_row(c, "cal.holidays", v.holidays, a->holidays != NULL);
    rc |= setting_row(c, "cal.manager", a->manager ? a->manager : tk_web_t(c->lang, "none"), 1);
    /* digest: no [calendar] default exists; "default" is off (as --json) */
    rc |= setting_row(c, "cal.digest", tk_web_t(c->lang, a->digest == 1 ? "on" : "off"),
                      a->digest >= 0);
    rc |= tk_buf_puts(b, "</tbody></table></section>");
    return rc;
}

int tk_web_page_account(struct tk_web_ctx *c, int64_t id, struct tk_error *err)
{
    struct tk_buf *b = c->out;
    struct tk_account a = {0};
    struct tk_contacts cs = {0};
    struct tk_item_filter f = {.account_id = id, .todo_order = 1, .pending_only = 1};
    struct list l = {c, 0};
    int rc;
    if ((rc = tk_engine_account_get(c->e, id, &a, err)) ||
        (rc = tk_engine_contacts_list(c->e, id, 0, &cs, err)))
        goto out;
    rc = tk_web_begin(c, "account", a.name);
    rc |= tk_buf_printf(b, "<p class=\"meta\">#%lld \xc2\xb7 ", (long long)a.id);
    rc |= tk_web_html(b, a.language);
    rc |= tk_buf_puts(b, "</p><section><h2>");
    rc |= tk_web_word(c, "contacts");
    rc |= tk_buf_puts(b, "</h2><div class=\"scroll\"><table class=\"contacts\"><thead><tr><th>");
    rc |= tk_web_word(c, "email");
    rc |= tk_buf_puts(b, "</th><th>");
    rc |= tk_web_word(c, "name");
    rc |= tk_buf_puts(b, "</th><th>");
    rc |= tk_web_word(c, "notify");
    rc |= tk_buf_puts(b, "</th><th>");
    rc |= tk_web_word(c, "suppressed");
    rc |= tk_buf_puts(b, "</th></tr></thead><tbody>");
    for (size_t i = 0; i < cs.n; i++) {
        const struct tk_contact *ct = &cs.v[i];
        rc |= tk_buf_printf(b, "<tr data-contact-id=\"%lld\"%s><td>", (long long)ct->id,
                            ct->suppressed_reason ? " class=\"suppressed\"" : "");
        rc |= tk_web_html(b, ct->email);
        rc |= tk_buf_puts(b, "</td><td>");
        rc |= tk_web_html(b, ct->name ? ct->name : "");
        rc |= tk_buf_puts(b, "</td><td>");
        rc |= tk_web_word(c, ct->notify ? "on" : "off");
        rc |= tk_buf_puts(b, "</td><td data-suppressed=\"");
        rc |= tk_buf_puts(b, ct->suppressed_reason ? "yes" : "no");
        rc |= tk_buf_puts(b, "\">");
        if (ct->suppressed_reason) {
            /* why (a bounce's diagnostic text: the client's, escaped) and when */
            rc |= tk_web_html(b, ct->suppressed_reason);
            rc |= tk_buf_puts(b, " <span class=\"meta\">");
            rc |= tk_web_word(c, "suppressed.since");
            rc |= tk_buf_puts(b, " ");
            rc |= tk_web_time(c, ct->suppressed_at);
            rc |= tk_buf_puts(b, "</span>");
        } else {
            rc |= tk_buf_puts(b, "-");
        }
        rc |= tk_buf_puts(b, "</td></tr>");
    }
    rc |= tk_buf_puts(b, "</tbody></table></div></section>");
    rc |= calendar_section(c, &a);
    rc |= tk_buf_puts(b, "<section><h2>");
    rc |= tk_web_word(c, "todo");
    rc |= tk_buf_puts(b, "</h2><div class=\"scroll\"><table class=\"todo\"><thead><tr><th>");
    rc |= tk_web_word(c, "title");
    rc |= tk_buf_puts(b, "</th><th>");
    rc |= tk_web_word(c, "type");
    rc |= tk_buf_puts(b, "</th><th>");
    rc |= tk_web_word(c, "reminders");
    rc |= tk_buf_puts(b, "</th><th>");
    rc |= tk_web_word(c, "next");
    rc |= tk_buf_puts(b, "</th></tr></thead><tbody>");
    if (rc) {
        rc = tk_web_fail(TK_ENOMEM, err);
        goto out;
    }
    if ((rc = tk_engine_items_each(c->e, &f, todo_row, &l, err))) {
        if (l.rc)
            rc = tk_web_fail(l.rc, err);
        goto out;
    }
    rc |= tk_buf_puts(b, "</tbody></table></div></section>");
    rc |= bulk_forms(c, id);
    rc |= tk_web_end(c);
    rc = tk_web_fail(rc ? TK_ENOMEM : 0, err);
out:
    tk_contacts_free(&cs);
    tk_account_free(&a);
    return rc;
}

/* The confirm step of a bulk request: what tk_engine_bulk would send
 * (built by tk_engine_bulk_preview, nothing written), then a form that
 * sends the same choice and a way back. */
struct bulk_page {
    struct tk_web_ctx *c;
    const char *message;
    int rc;
};

static int bulk_page(void *u, const struct tk_bulk_preview *p)
{
    struct bulk_page *x = u;
    struct tk_web_ctx *c = x->c;
    struct tk_buf *b = c->out;
    int rc = 0;
    rc |= tk_buf_puts(b, "<section class=\"bulk-preview\"><p><strong>");
    rc |= tk_web_html(b, p->command);
    rc |= tk_buf_puts(b, "</strong> &ndash; ");
    rc |= tk_web_html(b, p->account_name);
    rc |= tk_buf_puts(b, "</p><h2>");
    rc |= tk_web_word(c, "bulk.items");
    rc |= tk_buf_printf(b, " (%zu)</h2><ul class=\"bulk-items\">", p->nitems);
    for (size_t i = 0; i < p->nitems; i++) {
        rc |= tk_buf_printf(b, "<li data-item-id=\"%lld\"><a href=\"/items/%lld\">",
                            (long long)p->item_ids[i], (long long)p->item_ids[i]);
        rc |= tk_web_html(b, p->titles[i]);
        rc |= tk_buf_puts(b, "</a></li>");
    }
    rc |= tk_buf_puts(b, "</ul><h2>");
    rc |= tk_web_word(c, "bulk.to");
    rc |= tk_buf_puts(b, "</h2>");
    if (!p->nmails) {
        rc |= tk_buf_puts(b, "<p class=\"bulk-nobody\">");
        rc |= tk_web_word(c, "bulk.nobody");
        rc |= tk_buf_puts(b, "</p>");
    } else {
        /* the first recipient's email; the others differ only in whom it
         * is addressed to */
        rc |= tk_buf_puts(b, "<p class=\"bulk-to\">");
        for (size_t i = 0; i < p->nmails; i++) {
            rc |= tk_buf_puts(b, i ? ", " : "");
            rc |= tk_web_html(b, p->mails[i].to);
        }
        rc |= tk_buf_puts(b, "</p><h2>");
        rc |= tk_web_word(c, "subject");
        rc |= tk_buf_puts(b, "</h2><p class=\"bulk-subject\">");
        rc |= tk_web_html(b, p->mails[0].subject);
        rc |= tk_buf_puts(b, "</p><pre class=\"bulk-text\">");
        rc |= tk_web_mail_body(b, p->mails[0].message);
        rc |= tk_buf_puts(b, "</pre>");
        if (p->nmails > 1) {
            rc |= tk_buf_printf(b, "<p class=\"bulk-more\">");
            rc |= tk_web_word(c, "bulk.and");
            rc |= tk_buf_printf(b, " %zu ", p->nmails - 1);
            rc |= tk_web_word(c, "bulk.more");
            rc |= tk_buf_puts(b, "</p>");
        }
    }
    rc |= tk_buf_printf(b,
                        "</section><form method=\"post\" action=\"/accounts/%lld/bulk/confirm\" "
                        "class=\"bulk-confirm\">",
                        (long long)p->account_id);
    rc |= tk_web_csrf_input(c);
    rc |= tk_buf_puts(b, "<input type=\"hidden\" name=\"command\" value=\"");
    rc |= tk_web_attr(b, p->command);
    rc |= tk_buf_puts(b, "\"><input type=\"hidden\" name=\"message\" value=\"");
    rc |= tk_web_attr(b, x->message ? x->message : "");
    rc |= tk_buf_puts(b, "\"><button type=\"submit\" data-action=\"bulk-confirm\">");
    rc |= tk_web_word(c, "bulk.send");
    rc |= tk_buf_printf(b, "</button> <a href=\"/accounts/%lld\" data-action=\"bulk-cancel\">",
                        (long long)p->account_id);
    rc |= tk_web_word(c, "bulk.cancel");
    rc |= tk_buf_puts(b, "</a></form>");
    x->rc = rc ? TK_ENOMEM : 0;
    return x->rc;
}

int tk_web_page_bulk(struct tk_web_ctx *c, int64_t account, const char *command,
                     const char *message, struct tk_error *err)
{
    struct bulk_page x = {c, message, 0};
    int rc;
    if (!command || !*command)
        return tk_error_set(err, TK_EINVAL, "command: missing");
    if (tk_web_begin(c, "bulk.title", NULL))
        return tk_web_fail(TK_ENOMEM, err);
    if ((rc = tk_engine_bulk_preview(c->e, command, account, message, bulk_page, &x, err)))
        return x.rc ? tk_web_fail(x.rc, err) : rc;
    return tk_web_fail(tk_web_end(c) ? TK_ENOMEM : 0, err);
}
