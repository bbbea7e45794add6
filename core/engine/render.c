/* render.c - from an item and a template section to complete messages in
 * the outbox, one per recipient.  The outbox row is written in the caller's
 * transaction, with a Message-ID made once here and reused on every retry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mail/mail.h"

static int ctx_seq_next(void *engine, const char *type, const char *name, int64_t *out,
                        struct tk_error *err)
{
    struct tk_engine *e = engine;
    char key[128];
    snprintf(key, sizeof key, "%s.%s", type, name);
    return tk_store_sequence_next(e->db, key, out, err);
}

void tk_ctx_init(struct tk_engine *e, struct tk_item_ctx *ctx, const struct tk_item *it,
                 struct tk_kv *fields, struct tk_kv *facts, struct tk_kv *vars,
                 const char *language)
{
    char num[32];
    memset(ctx, 0, sizeof *ctx);
    ctx->fields = fields;
    ctx->vars = vars;
    ctx->facts = facts;
    ctx->type = it->type;
    ctx->engine = e;
    ctx->seq_next = ctx_seq_next;
    snprintf(num, sizeof num, "%lld", (long long)it->id);
    tk_kv_set(facts, "id", num);
    tk_kv_set(facts, "title", it->title);
    tk_kv_set(facts, "state", it->state ? it->state : "pending");
    snprintf(num, sizeof num, "%lld", (long long)it->account_id);
    tk_kv_set(facts, "account", num);
    tk_kv_set(facts, "language", language);
    tk_kv_set(facts, "type", it->type);
    tk_kv_set(facts, "template", it->template_name);
}

const char *tk_render_section(struct tk_engine *e, const struct tk_plugin *p,
                              const struct tk_item *it, const char *language, const char *kind)
{
    struct tk_item_ctx ctx;
    struct tk_kv fields = {0}, facts = {0}, vars = {0};
    const char *s;
    if (!p->item->section)
        return strcmp(it->state, "pending") == 0 ? kind : NULL;
    for (size_t i = 0; i < it->fields.n; i++)
        tk_kv_set(&fields, it->fields.keys[i], it->fields.vals[i]);
    tk_ctx_init(e, &ctx, it, &fields, &facts, &vars, language);
    ctx.phase = 3;
    s = p->item->section(p->state, &ctx, kind);
    tk_kv_free(&fields);
    tk_kv_free(&facts);
    tk_kv_free(&vars);
    return s; /* static in the plugin */
}

char *tk_recipients_text(const struct tk_contacts *cs)
{
    struct tk_buf b = {0};
    for (size_t i = 0; i < cs->n; i++)
        tk_buf_printf(&b, "%s%s", i ? ", " : "", cs->v[i].email);
    if (!cs->n)
        tk_buf_puts(&b, "nobody (no contact has notify on)");
    return tk_buf_steal(&b);
}

/* The section, from the item's template or else the type's default one, so a
 * named template may override only some of the emails. */
static int find_section(struct tk_engine *e, const struct tk_plugin *p, const char *lang,
                        const char *tname, const char *section,
                        const struct tk_template_section **out, struct tk_error *err)
{
    const struct tk_template *t;
    int rc = tk_catalog_find(e->catalog, p->item, lang, tname, &t, err);
    if (rc)
        return rc;
    if ((*out = tk_template_section(t, section)))
        return 0;
    if (strcmp(tname, "default") != 0) {
        if ((rc = tk_catalog_find(e->catalog, p->item, lang, "default", &t, err)))
            return rc;
        if ((*out = tk_template_section(t, section)))
            return 0;
    }
    return tk_error_set(err, TK_ENOTFOUND, "template %s/%s (%s) has no section [%s]",
                        p->hdr->name, tname, lang, section);
}

static int base_vars(struct tk_engine *e, const struct tk_render_req *rq, struct tk_kv *vars,
                     struct tk_error *err)
{
    const struct tk_item *it = rq->it;
    char num[32], when[32];
    tk_kv_set(vars, "firm.name", e->cfg.firm_name ? e->cfg.firm_name : "Your accountant");
    tk_kv_set(vars, "firm.portal_url", e->cfg.firm_portal_url);
    tk_kv_set(vars, "account.name", rq->account->name);
    tk_kv_set(vars, "message", rq->message);
    if (rq->bulk_titles) {
        struct tk_buf b = {0};
        for (size_t i = 0; i < rq->bulk_titles->n; i++)
            tk_buf_printf(&b, "- %s\n", rq->bulk_titles->v[i]);
        if (b.len)
            b.data[--b.len] = '\0';
        tk_kv_set(vars, "items", b.data ? b.data : "");
        snprintf(num, sizeof num, "%zu", rq->bulk_titles->n);
        tk_kv_set(vars, "items.count", num);
        tk_buf_free(&b);
    }
    if (!it)
        return 0;
    snprintf(num, sizeof num, "%lld", (long long)it->id);
    tk_kv_set(vars, "item.id", num);
    tk_kv_set(vars, "item.title", it->title);
    tk_kv_set(vars, "item.type", it->type);
    tk_time_format(it->created_at, when, sizeof when);
    when[10] = '\0';
    tk_kv_set(vars, "item.sent_date", when);
    snprintf(num, sizeof num, "%d", it->rem.sent);
    tk_kv_set(vars, "reminder.number", num);
    snprintf(num, sizeof num, "%d", it->rem.count);
    tk_kv_set(vars, "reminder.count", num);
    snprintf(num, sizeof num, "%d", it->rem.count > it->rem.sent ? it->rem.count - it->rem.sent : 0);
    tk_kv_set(vars, "reminder.remaining", num);
    for (size_t i = 0; i < it->fields.n; i++) {
        char key[160];
        snprintf(key, sizeof key, "%s.%s", it->type, it->fields.keys[i]);
        tk_kv_set(vars, key, it->fields.vals[i]);
    }
    if (rq->plugin->item->vars) {
        struct tk_item_ctx ctx;
        struct tk_kv fields = {0}, facts = {0};
        int rc;
        for (size_t i = 0; i < it->fields.n; i++)
            tk_kv_set(&fields, it->fields.keys[i], it->fields.vals[i]);
        tk_ctx_init(e, &ctx, it, &fields, &facts, vars, rq->account->language);
        ctx.phase = 2;
        rc = rq->plugin->item->vars(rq->plugin->state, &ctx, err);
        tk_kv_free(&fields);
        tk_kv_free(&facts);
        if (rc)
            return rc;
    }
    return 0;
}

static int render_one(struct tk_engine *e, const struct tk_render_req *rq,
                      const struct tk_template_section *sec, struct tk_kv *vars,
                      const struct tk_contact *c, struct tk_error *err)
{
    struct tk_buf subject = {0}, body = {0}, msg = {0};
    struct tk_outbox_row row;
    char msgid[160], idem[600], item_hdr[32];
    const char *extra[7];
    struct tk_mail m;
    int64_t id;
    int dup, rc;

    tk_kv_set(vars, "contact.name", c->name && *c->name ? c->name : c->email);
    tk_kv_set(vars, "contact.email", c->email);
    if ((rc = tk_template_render_subject(sec->subject, vars, &subject, err)) ||
        (rc = tk_template_render(sec->body, vars, &body, err)) ||
        (rc = tk_mail_message_id(e->msgid_domain, e->now, msgid, sizeof msgid, err)))
        goto out;
    snprintf(item_hdr, sizeof item_hdr, "%lld", (long long)(rq->it ? rq->it->id : 0));
    extra[0] = "X-Tickler-Kind";
    extra[1] = rq->kind;
    extra[2] = rq->it ? "X-Tickler-Item" : NULL;
    extra[3] = item_hdr;
    extra[4] = NULL;
    memset(&m, 0, sizeof m);
    m.from_name = e->from_name;
    m.from_addr = e->from_addr;
    m.to_name = c->name;
    m.to_addr = c->email;
    m.subject = subject.data ? subject.data : "";
    m.text = body.data ? body.data : "";
    m.message_id = msgid;
    m.date = e->now;
    m.auto_submitted = rq->auto_submitted;
    m.extra = extra;
    if ((rc = tk_mail_build(&m, &msg, err)))
        goto out;
    if (rq->it)
        snprintf(idem, sizeof idem, "%lld/%s/%d/%s", (long long)rq->it->id, rq->kind, rq->step,
                 c->email);
    else
        snprintf(idem, sizeof idem, "account-%lld/%s/%d/%s", (long long)rq->account->id, rq->kind,
                 rq->step, c->email);
    memset(&row, 0, sizeof row);
    row.item_id = rq->it ? rq->it->id : 0;
    row.account_id = rq->account->id;
    row.kind = (char *)rq->kind;
    row.step = rq->step;
    row.recipient = c->email;
    row.idem_key = idem;
    row.message_id = msgid;
    row.sender = e->from_addr;
    row.data = msg.data;
    row.state = TK_OUTBOX_QUEUED;
    row.created_at = e->now;
    row.next_attempt_at = e->now;
    rc = tk_store_outbox_add(e->db, &row, &id, &dup, err);
out:
    tk_buf_free(&subject);
    tk_buf_free(&body);
    tk_buf_free(&msg);
    return rc;
}

int tk_render_enqueue(struct tk_engine *e, const struct tk_render_req *rq,
                      const struct tk_contacts *rcpts, struct tk_error *err)
{
    const struct tk_template_section *sec;
    const char *tname = rq->it ? rq->it->template_name : "default";
    struct tk_kv vars = {0};
    int rc;

    if (!rcpts->n)
        return 0;
    if ((rc = find_section(e, rq->plugin, rq->account->language, tname, rq->section, &sec, err)))
        return rc;
    if ((rc = base_vars(e, rq, &vars, err)) == 0)
        for (size_t i = 0; i < rcpts->n && rc == 0; i++)
            rc = render_one(e, rq, sec, &vars, &rcpts->v[i], err);
    tk_kv_free(&vars);
    return rc;
}
