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
    /* a preview shows the number it would take, and takes none */
    if (e->dry_run)
        return tk_store_sequence_peek(e->db, key, out, err);
    return tk_store_sequence_next(e->db, key, out, err);
}

static int oom(struct tk_error *err)
{
    return tk_error_set(err, TK_ENOMEM, "out of memory");
}

/* The names a text's tags use (tk_template_names): only those variables
 * are made (the preview's subjects: "render only what it uses"; every
 * message's subject and body, issue 17).  More names than this: all. */
#define WANT_MAX TK_TEMPLATE_NAMES_MAX
struct want {
    const struct tk_template_name *v; /* the section's names, or OWN */
    size_t n;
    struct tk_template_name own[WANT_MAX];
};

/* W wants KEY (W NULL: every variable). */
static int wanted(const struct want *w, const char *key)
{
    if (!w)
        return 1;
    size_t n = strlen(key);
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i].len == n && memcmp(w->v[i].name, key, n) == 0)
            return 1;
    return 0;
}

/* Set each pair of the NULL-terminated list KEY, VALUE, ... that W wants
 * (a NULL value removes the key); stops at the first failure. */
static int put_want(struct tk_kv *kv, struct tk_error *err, const char *const *pairs,
                    const struct want *w)
{
    for (; pairs[0]; pairs += 2)
        if (wanted(w, pairs[0]) && tk_kv_set(kv, pairs[0], pairs[1]))
            return oom(err);
    return 0;
}

static int put_all(struct tk_kv *kv, struct tk_error *err, const char *const *pairs)
{
    return put_want(kv, err, pairs, NULL);
}

static int copy_kv(struct tk_kv *dst, const struct tk_kv *src, struct tk_error *err)
{
    for (size_t i = 0; i < src->n; i++)
        if (tk_kv_set(dst, src->keys[i], src->vals[i]))
            return oom(err);
    return 0;
}

int tk_ctx_init(struct tk_engine *e, struct tk_item_ctx *ctx, const struct tk_item *it,
                struct tk_kv *fields, struct tk_kv *facts, struct tk_kv *vars, const char *language,
                struct tk_error *err)
{
    char id[32], account[32];
    memset(ctx, 0, sizeof *ctx);
    ctx->fields = fields;
    ctx->vars = vars;
    ctx->facts = facts;
    ctx->type = it->type;
    ctx->engine = e;
    ctx->seq_next = ctx_seq_next;
    snprintf(id, sizeof id, "%lld", (long long)it->id);
    snprintf(account, sizeof account, "%lld", (long long)it->account_id);
    const char *const pairs[] = {"id",       id,
                                 "title",    it->title,
                                 "state",    it->state ? it->state : "pending",
                                 "account",  account,
                                 "language", language,
                                 "type",     it->type,
                                 "template", it->template_name,
                                 NULL};
    return put_all(facts, err, pairs);
}

int tk_render_section(struct tk_engine *e, const struct tk_plugin *p, const struct tk_item *it,
                      const char *language, const char *kind, const char **section,
                      struct tk_error *err)
{
    struct tk_item_ctx ctx;
    struct tk_kv fields = {0}, facts = {0}, vars = {0};
    int rc;
    if (!p->item->section) {
        *section = strcmp(it->state, "pending") == 0 ? kind : NULL;
    } else {
        if ((rc = copy_kv(&fields, &it->fields, err)) == 0 &&
            (rc = tk_ctx_init(e, &ctx, it, &fields, &facts, &vars, language, err)) == 0) {
            ctx.phase = 3;
            *section = p->item->section(p->state, &ctx, kind); /* static in the plugin */
        }
        tk_kv_free(&fields);
        tk_kv_free(&facts);
        tk_kv_free(&vars);
        if (rc)
            return rc;
    }
    /* issue 14: the step's own section of the tone ladder */
    if (*section && strcmp(kind, "reminder") == 0 && strcmp(*section, "reminder") == 0)
        return tk_ladder_section(e, p, it, language, section, err);
    return 0;
}

int tk_recipients_text(const struct tk_contacts *cs, char **out, struct tk_error *err)
{
    struct tk_buf b = {0};
    int rc = 0;
    /* "a, b, c" without printf (once per reminder: its audit text) */
    for (size_t i = 0; i < cs->n && rc == 0; i++)
        if ((i && tk_buf_puts(&b, ", ")) ||
            tk_buf_puts(&b, cs->v[i].email ? cs->v[i].email : "(null)"))
            rc = TK_ENOMEM;
    if (!cs->n)
        rc = tk_buf_puts(&b, "nobody (no contact has notify on)");
    if (rc || !(*out = tk_buf_steal(&b))) {
        tk_buf_free(&b);
        return oom(err);
    }
    return 0;
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
    return tk_error_set(err, TK_ENOTFOUND, "template %s/%s (%s) has no section [%s]", p->hdr->name,
                        tname, lang, section);
}

/* {{item.days_to_due}} (days from today to the item's due_date in the
 * client's zone: 0 on the day, negative after it), {{item.overdue}} and
 * {{item.days_overdue}} (only when past due), so that a reminder sent
 * before the due date never says "was due"; {{item.due_text}}: the due
 * date in LANG's words ("31 December 2026"), for any type. */
static int due_vars(const struct tk_calendar *cal, tk_time now, const struct tk_item *it,
                    const char *lang, struct tk_kv *vars, const struct want *w,
                    struct tk_error *err)
{
    const char *due = tk_kv_get(&it->fields, "due_date");
    char n[32], late[32], text[64];
    tk_date date;
    int64_t days;
    if (!wanted(w, "item.days_to_due") && !wanted(w, "item.overdue") &&
        !wanted(w, "item.days_overdue") && !wanted(w, "item.due_text"))
        return 0;
    if (!due || !cal || tk_calendar_date_parse(due, &date, NULL) ||
        tk_calendar_days_until(cal, now, date, &days, NULL))
        return 0;
    snprintf(n, sizeof n, "%lld", (long long)days);
    snprintf(late, sizeof late, "%lld", (long long)-days);
    if (tk_format_date(lang ? lang : "en", due, text, sizeof text, NULL) != 0)
        text[0] = '\0';
    const char *const pairs[] = {"item.days_to_due",
                                 n,
                                 "item.overdue",
                                 days < 0 ? "yes" : NULL,
                                 "item.days_overdue",
                                 days < 0 ? late : NULL,
                                 "item.due_text",
                                 text[0] ? text : NULL,
                                 NULL};
    return put_want(vars, err, pairs, w);
}

static int base_vars(struct tk_engine *e, const struct tk_render_req *rq,
                     const struct tk_calendar *cal, struct tk_kv *vars, const struct want *w,
                     struct tk_error *err)
{
    const struct tk_item *it = rq->it;
    char id[32], when[32], number[16], count[16], remaining[16];
    int rc;
    const char *const common[] = {"firm.name",
                                  e->cfg.firm_name ? e->cfg.firm_name : "Your accountant",
                                  "firm.portal_url",
                                  e->cfg.firm_portal_url,
                                  "account.name",
                                  rq->account->name,
                                  "message",
                                  rq->message,
                                  NULL};
    if ((rc = put_want(vars, err, common, w)))
        return rc;
    if (rq->bulk_titles) {
        struct tk_buf b = {0};
        for (size_t i = 0; i < rq->bulk_titles->n && rc == 0; i++)
            rc = tk_buf_printf(&b, "%s- %s", i ? "\n" : "", rq->bulk_titles->v[i]);
        snprintf(count, sizeof count, "%zu", rq->bulk_titles->n);
        const char *const bulk[] = {"items", b.data ? b.data : "", "items.count", count, NULL};
        rc = rc ? oom(err) : put_want(vars, err, bulk, w);
        tk_buf_free(&b);
        if (rc)
            return rc;
    }
    if (!it)
        return 0;
    id[0] = when[0] = number[0] = count[0] = remaining[0] = '\0';
    if (wanted(w, "item.id"))
        snprintf(id, sizeof id, "%lld", (long long)it->id);
    if (wanted(w, "item.sent_date")) {
        tk_time_format(it->created_at, when, sizeof when);
        when[10] = '\0';
    }
    if (wanted(w, "reminder.number"))
        snprintf(number, sizeof number, "%d", it->rem.sent);
    if (wanted(w, "reminder.count"))
        snprintf(count, sizeof count, "%d", it->rem.count);
    if (wanted(w, "reminder.remaining"))
        snprintf(remaining, sizeof remaining, "%d",
                 it->rem.count > it->rem.sent ? it->rem.count - it->rem.sent : 0);
    const char *const item[] = {"item.id",
                                id,
                                "item.title",
                                it->title,
                                "item.type",
                                it->type,
                                "item.sent_date",
                                when,
                                "reminder.number",
                                number,
                                "reminder.count",
                                count,
                                "reminder.remaining",
                                remaining,
                                NULL};
    if ((rc = put_want(vars, err, item, w)) ||
        (rc = due_vars(cal, e->now, it, rq->account->language, vars, w, err)))
        return rc;
    for (size_t i = 0; i < it->fields.n && (!w || w->n); i++) {
        char key[160];
        snprintf(key, sizeof key, "%s.%s", it->type, it->fields.keys[i]);
        if (!wanted(w, key))
            continue;
        if (tk_kv_set(vars, key, it->fields.vals[i]))
            return oom(err);
    }
    if (rq->plugin->item->vars) {
        struct tk_item_ctx ctx;
        struct tk_kv fields = {0}, facts = {0};
        if ((rc = copy_kv(&fields, &it->fields, err)) == 0 &&
            (rc = tk_ctx_init(e, &ctx, it, &fields, &facts, vars, rq->account->language, err)) ==
                0) {
            ctx.phase = 2;
            rc = rq->plugin->item->vars(rq->plugin->state, &ctx, err);
        }
        tk_kv_free(&fields);
        tk_kv_free(&facts);
    }
    return rc;
}

/* The Message-ID of the first email about IT to RCPT, into BUF (""
 * when there is none: this one is the first). */
static int first_message_id(struct tk_engine *e, const struct tk_item *it, const char *rcpt,
                            char *buf, size_t size, struct tk_error *err)
{
    buf[0] = '\0';
    if (!it)
        return 0;
    return tk_store_outbox_first_message_id(e->db, it->id, rcpt, buf, size, err);
}

/* One recipient's message, built and not stored: its subject, its whole
 * text (RFC 5322) and its Message-ID. */
struct built {
    struct tk_buf subject, body, msg;
    char msgid[256];
};

static void built_free(struct built *b)
{
    tk_buf_free(&b->subject);
    tk_buf_free(&b->body);
    tk_buf_free(&b->msg);
}

/* FIRST_KNOWN: the Message-ID of the first email about the item to C as
 * the caller read it in this transaction (tk_render_req's firsts), NULL:
 * looked up here. */
static int build_one(struct tk_engine *e, const struct tk_render_req *rq,
                     const struct tk_template_section *sec, const char *date_text,
                     struct tk_kv *vars, const struct tk_contact *c, const char *first_known,
                     struct built *b, struct tk_error *err)
{
    char item_hdr[32], first[256];
    const char *extra[7];
    struct tk_mail m;
    int rc;

    memset(b, 0, sizeof *b);
    const char *const who[] = {"contact.name", c->name && *c->name ? c->name : c->email,
                               "contact.email", c->email, NULL};
    if ((rc = put_all(vars, err, who)) ||
        (rc = tk_template_render_subject(sec->subject, vars, &b->subject, err)) ||
        (rc = tk_template_render(sec->body, vars, &b->body, err)) ||
        (rc = tk_mail_message_id(e->msgid_domain, e->now, b->msgid, sizeof b->msgid, err)) ||
        (!first_known && (rc = first_message_id(e, rq->it, c->email, first, sizeof first, err))))
        return rc;
    if (first_known)
        tk_str_put(first, sizeof first, 0, first_known);
    tk_str_put_i64(item_hdr, sizeof item_hdr, 0, rq->it ? rq->it->id : 0);
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
    m.subject = b->subject.data ? b->subject.data : "";
    m.text = b->body.data ? b->body.data : "";
    m.message_id = b->msgid;
    m.date = e->now;
    m.date_text = date_text;
    /* Threading: every later email about the item hangs under the first
     * one this recipient got (In-Reply-To and References). */
    m.in_reply_to = first[0] ? first : NULL;
    m.auto_submitted = rq->auto_submitted;
    m.extra = extra;
    return tk_mail_build(&m, &b->msg, err);
}

static int render_one(struct tk_engine *e, const struct tk_render_req *rq,
                      const struct tk_template_section *sec, const char *date_text,
                      struct tk_kv *vars, const struct tk_contact *c, const char *first_known,
                      struct tk_error *err)
{
    struct built b;
    struct tk_outbox_row row;
    char idem[600];
    int64_t id;
    int dup, rc;

    if ((rc = build_one(e, rq, sec, date_text, vars, c, first_known, &b, err)))
        goto out;
    /* "%lld/%s/%d/%s" (item) or "account-%lld/%s/%d/%s", as snprintf made
     * it, without printf (once per message: issue 17) */
    {
        size_t at = tk_str_put(idem, sizeof idem, 0, rq->it ? "" : "account-");
        at = tk_str_put_i64(idem, sizeof idem, at, rq->it ? rq->it->id : rq->account->id);
        at = tk_str_put(idem, sizeof idem, at, "/");
        at = tk_str_put(idem, sizeof idem, at, rq->kind);
        at = tk_str_put(idem, sizeof idem, at, "/");
        at = tk_str_put_i64(idem, sizeof idem, at, rq->step);
        at = tk_str_put(idem, sizeof idem, at, "/");
        tk_str_put(idem, sizeof idem, at, c->email);
    }
    memset(&row, 0, sizeof row);
    row.item_id = rq->it ? rq->it->id : 0;
    row.account_id = rq->account->id;
    row.kind = (char *)rq->kind;
    row.step = rq->step;
    row.recipient = c->email;
    row.idem_key = idem;
    row.message_id = b.msgid;
    row.sender = e->from_addr;
    row.data = b.msg.data;
    row.state = TK_OUTBOX_QUEUED;
    row.created_at = e->now;
    row.next_attempt_at = e->now;
    rc = tk_store_outbox_add(e->db, &row, &id, &dup, err);
    if (rc == 0 && !dup)
        rc = tk_engine_verp_sender(e, id, c->email, err);
out:
    built_free(&b);
    return rc;
}

/* The section, the Date header's text (DATED) and the variables of RQ:
 * what every recipient's message is built from.  Only the variables the
 * section's tags use are made, into W, and *WP says so (NULL: all are):
 * the subject's alone for the preview's subjects (SUBJECT_ONLY: "render
 * only what it uses"), else the subject's and the body's (issue 17: the
 * due date's days in the client's zone, the fields' "TYPE.NAME" keys and
 * the numbers a template does not use were made for every reminder).  A
 * name no tag uses renders nothing, so the text is the same as with every
 * variable made.  All are made when the type has its own variables (its
 * vars hook may set any names), when a text is malformed ((size_t)-1: the
 * render then fails with its own message, as before) or names more than
 * WANT_MAX. */
static int render_prepare_date(struct tk_engine *e, const struct tk_render_req *rq,
                               const struct tk_template_section **sec, int dated, char *date,
                               size_t size, struct tk_kv *vars, int subject_only, struct want *w,
                               const struct want **wp, struct tk_error *err)
{
    const char *tname = rq->it ? rq->it->template_name : "default";
    const struct tk_calendar *cal = NULL;
    struct tk_error why = {0};
    int rc;

    *wp = NULL;
    if ((rc = find_section(e, rq->plugin, rq->account->language, tname, rq->section, sec, err)))
        return rc;
    /* a type's own variables (its vars hook) may be any names: all then */
    if (!(rq->it && rq->plugin->item->vars) && (*sec)->subject && !e->render_all_vars &&
        (*sec)->names) {
        /* counted when the section was parsed (template.h) */
        w->v = (*sec)->names;
        w->n = (*sec)->nsubject_names + (subject_only ? 0 : (*sec)->nbody_names);
        *wp = w;
    } else if (!(rq->it && rq->plugin->item->vars) && (*sec)->subject && !e->render_all_vars) {
        size_t ns = tk_template_names((*sec)->subject, w->own, WANT_MAX), nb = 0;
        if (!subject_only && ns <= WANT_MAX)
            nb = tk_template_names((*sec)->body ? (*sec)->body : "", w->own + ns, WANT_MAX - ns);
        if (ns <= WANT_MAX && nb <= WANT_MAX - ns) {
            w->v = w->own;
            w->n = ns + nb;
            *wp = w;
        }
    }
    /* The Date header in the client's zone (every email of the account).
     * A calendar that cannot be built (an .ics file gone) costs the zone,
     * never the email: the header is then in UTC. */
    date[0] = '\0';
    if (tk_engine_calendar_for(e, rq->account, &cal, &why) ||
        (dated && tk_engine_date_header(e, cal, e->now, date, size, NULL)))
        date[0] = '\0';
    return base_vars(e, rq, cal, vars, *wp, err);
}

static int render_prepare(struct tk_engine *e, const struct tk_render_req *rq,
                          const struct tk_template_section **sec, char *date, size_t size,
                          struct tk_kv *vars, struct tk_error *err)
{
    struct want w;
    const struct want *wp;
    return render_prepare_date(e, rq, sec, 1, date, size, vars, 0, &w, &wp, err);
}

int tk_render_preview(struct tk_engine *e, const struct tk_render_req *rq,
                      const struct tk_contacts *rcpts, int whole,
                      int (*fn)(void *u, const struct tk_contact *c, const char *subject,
                                const char *message),
                      void *u, struct tk_error *err)
{
    const struct tk_template_section *sec;
    char date[TK_CALENDAR_DATE_HEADER_MAX];
    struct tk_kv vars = {0};
    struct want w;
    const struct want *wp = NULL;
    int dry = e->dry_run, rc;

    if (!rcpts->n)
        return 0;
    e->dry_run = 1; /* sequences peeked, not taken */
    rc = render_prepare_date(e, rq, &sec, whole, date, sizeof date, &vars, !whole, &w, &wp, err);
    if (rc == 0 && !whole) {
        /* the subject alone, as build_one makes it */
        struct tk_buf subject = {0};
        for (size_t i = 0; i < rcpts->n && rc == 0; i++) {
            const struct tk_contact *c = &rcpts->v[i];
            const char *const who[] = {"contact.name", c->name && *c->name ? c->name : c->email,
                                       "contact.email", c->email, NULL};
            subject.len = 0;
            if (subject.data)
                subject.data[0] = '\0';
            if ((rc = put_want(&vars, err, who, wp)) == 0 &&
                (rc = tk_template_render_subject(sec->subject, &vars, &subject, err)) == 0)
                rc = fn(u, c, subject.data ? subject.data : "", NULL);
        }
        tk_buf_free(&subject);
    } else if (rc == 0)
        for (size_t i = 0; i < rcpts->n && rc == 0; i++) {
            struct built b;
            if ((rc = build_one(e, rq, sec, date[0] ? date : NULL, &vars, &rcpts->v[i],
                                rq->firsts ? rq->firsts[i] : NULL, &b, err)) == 0)
                rc = fn(u, &rcpts->v[i], b.subject.data ? b.subject.data : "",
                        b.msg.data ? b.msg.data : "");
            built_free(&b);
        }
    e->dry_run = dry;
    tk_kv_free(&vars);
    return rc;
}

int tk_render_enqueue(struct tk_engine *e, const struct tk_render_req *rq,
                      const struct tk_contacts *rcpts, struct tk_error *err)
{
    const struct tk_template_section *sec;
    char date[TK_CALENDAR_DATE_HEADER_MAX];
    struct tk_kv vars = {0};
    int rc;

    if (!rcpts->n)
        return 0;
    if ((rc = render_prepare(e, rq, &sec, date, sizeof date, &vars, err)) == 0)
        for (size_t i = 0; i < rcpts->n && rc == 0; i++)
            rc = render_one(e, rq, sec, date[0] ? date : NULL, &vars, &rcpts->v[i],
                            rq->firsts ? rq->firsts[i] : NULL, err);
    tk_kv_free(&vars);
    return rc;
}
