/* digest.c - one digest per person (issue 14).
 *
 * With digest on for an account (its --digest, else [reminders] digest),
 * the tick does not queue a due reminder step's emails.  remind() (tick.c)
 * spends the step as always (rem_sent, next_at, webhook and Lua events)
 * and hands each of its recipients here (tk_engine_digest_collect): the
 * address, the local date of now in the account's zone, the item and its
 * step, kept in memory.  Before the transaction that spent those steps
 * commits, tk_engine_digest_flush groups them by (address, local date):
 *
 *  - two or more items: ONE outbox row of kind "digest" listing every
 *    item, in the language and zone of the group's lowest account id;
 *  - one item: its normal reminder, rendered from its template as
 *    without digest (a digest of one item helps nobody);
 *
 * and then writes each item's one audit entry "reminder", naming the
 * digest's outbox id per recipient.  The rows, the spends and the audit
 * entries are one transaction: a crash leaves every member unspent (the
 * next tick builds the digest again) or all spent with exactly one queued
 * digest, never the digest and the single emails.
 *
 * Grouping is per scheduler transaction ([scheduler] batch_size items, or
 * a round of the settler with several connections).  So that one person's
 * reminders are not split over two transactions, the first digest member
 * of a transaction pulls in (tick.c, digest_spread) every due step of its
 * account and of every digest-on account that shares one of its
 * recipients' addresses (contacts_email index, schema v13), and so on for
 * the members those bring.  Only more than DIGEST_SIBLINGS_MAX (tick.c)
 * due steps in one account can still spill into the next transaction.
 * Memory: one entry per (item, recipient) of digest accounts in the open
 * transaction. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "internal.h"
#include "mail/mail.h"
#include "template/template.h"

struct digest_entry {
    char *email, *name, *title, *section, *account_name;
    tk_date day;
    int64_t account, item, job, outbox;
    int step, count;
};

struct tk_engine_digest {
    struct digest_entry *v;
    size_t n, cap;
    /* items handled in this transaction (open addressing, 0 empty): an
     * item taken as an account's sibling is skipped when the scheduler's
     * own list reaches it */
    int64_t *seen;
    size_t nseen, capseen;
    /* addresses whose other accounts were looked up in this transaction
     * (a 64-bit hash of each, made odd so that it is never 0) */
    int64_t *addrs;
    size_t naddrs, capaddrs;
    long extra; /* siblings handled minus those skipped: the tick's count */
};

static int oom(struct tk_error *err)
{
    return tk_error_set(err, TK_ENOMEM, "out of memory");
}

int tk_engine_digest_on(const struct tk_engine *e, const struct tk_account *a)
{
    return a->digest > 0 || (a->digest < 0 && e->cfg.reminders_digest);
}

static void entry_free(struct digest_entry *d)
{
    free(d->email);
    free(d->name);
    free(d->title);
    free(d->section);
    free(d->account_name);
}

void tk_engine_digest_discard(struct tk_engine *e)
{
    struct tk_engine_digest *g = e->digest;
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        entry_free(&g->v[i]);
    g->n = 0;
    if (g->nseen)
        memset(g->seen, 0, g->capseen * sizeof *g->seen);
    g->nseen = 0;
    if (g->naddrs)
        memset(g->addrs, 0, g->capaddrs * sizeof *g->addrs);
    g->naddrs = 0;
    g->extra = 0;
}

static struct tk_engine_digest *digest(struct tk_engine *e)
{
    if (!e->digest)
        e->digest = calloc(1, sizeof *e->digest);
    return e->digest;
}

static size_t slot(int64_t id, size_t cap)
{
    return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 20) & (cap - 1);
}

static int set_has(const int64_t *v, size_t n, size_t cap, int64_t id)
{
    if (!n)
        return 0;
    for (size_t i = slot(id, cap);; i = (i + 1) & (cap - 1)) {
        if (v[i] == id)
            return 1;
        if (!v[i])
            return 0;
    }
}

/* Adds ID (not 0) to the open-addressing set V; *ADDED: whether it was
 * new (may be NULL). */
static int set_add(int64_t **v, size_t *n, size_t *cap, int64_t id, int *added,
                   struct tk_error *err)
{
    int dummy;
    if (!added)
        added = &dummy;
    *added = 0;
    if (set_has(*v, *n, *cap, id))
        return 0;
    if (2 * (*n + 1) > *cap) {
        size_t ncap = *cap ? *cap * 2 : 1024;
        int64_t *nv = calloc(ncap, sizeof *nv);
        if (!nv)
            return oom(err);
        for (size_t i = 0; i < *cap; i++)
            if ((*v)[i]) {
                size_t k = slot((*v)[i], ncap);
                while (nv[k])
                    k = (k + 1) & (ncap - 1);
                nv[k] = (*v)[i];
            }
        free(*v);
        *v = nv;
        *cap = ncap;
    }
    size_t k = slot(id, *cap);
    while ((*v)[k])
        k = (k + 1) & (*cap - 1);
    (*v)[k] = id;
    (*n)++;
    *added = 1;
    return 0;
}

int tk_engine_digest_seen(const struct tk_engine *e, int64_t id)
{
    const struct tk_engine_digest *g = e->digest;
    return g && set_has(g->seen, g->nseen, g->capseen, id);
}

int tk_engine_digest_mark(struct tk_engine *e, int64_t id, struct tk_error *err)
{
    struct tk_engine_digest *g = digest(e);
    if (!g)
        return oom(err);
    return set_add(&g->seen, &g->nseen, &g->capseen, id, NULL, err);
}

int tk_engine_digest_account_mark(struct tk_engine *e, int64_t account, int *first,
                                  struct tk_error *err)
{
    struct tk_engine_digest *g = digest(e);
    if (!g)
        return oom(err);
    return set_add(&g->seen, &g->nseen, &g->capseen, -account, first, err);
}

int tk_engine_digest_address_mark(struct tk_engine *e, const char *addr, int *first,
                                  struct tk_error *err)
{
    struct tk_engine_digest *g = digest(e);
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    if (!g)
        return oom(err);
    for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return set_add(&g->addrs, &g->naddrs, &g->capaddrs, (int64_t)(h | 1), first, err);
}

int tk_engine_digest_member(const struct tk_engine *e, size_t i, int64_t *account,
                            const char **addr)
{
    if (!e->digest || i >= e->digest->n)
        return TK_ENOTFOUND;
    *account = e->digest->v[i].account;
    *addr = e->digest->v[i].email;
    return 0;
}

size_t tk_engine_digest_members(const struct tk_engine *e)
{
    return e->digest ? e->digest->n : 0;
}

void tk_engine_digest_count(struct tk_engine *e, long delta)
{
    if (digest(e))
        e->digest->extra += delta;
}

long tk_engine_digest_take_count(struct tk_engine *e)
{
    long n = e->digest ? e->digest->extra : 0;
    if (e->digest)
        e->digest->extra = 0;
    return n;
}

void tk_engine_digest_free(struct tk_engine *e)
{
    if (!e->digest)
        return;
    tk_engine_digest_discard(e);
    free(e->digest->seen);
    free(e->digest->addrs);
    free(e->digest->v);
    free(e->digest);
    e->digest = NULL;
}

int tk_engine_digest_collect(struct tk_engine *e, const struct tk_item *it,
                             const struct tk_account *acc, const char *section,
                             const struct tk_contacts *rcpts, struct tk_error *err)
{
    const struct tk_calendar *cal = NULL;
    struct tk_error why = {0};
    tk_date day = 0;

    int rc;
    if (!digest(e))
        return oom(err);
    if ((rc = tk_engine_digest_mark(e, it->id, err)))
        return rc;
    /* the same local day in the account's zone; UTC's when the calendar
     * cannot be built (its .ics file gone: the zone still counts, but the
     * gate deferred such items already) */
    if (tk_engine_calendar_for(e, acc, &cal, &why) ||
        tk_calendar_local_date(cal, e->now, &day, NULL))
        day = (tk_date)(e->now / TK_DAY);
    for (size_t i = 0; i < rcpts->n; i++) {
        struct tk_engine_digest *g = e->digest;
        struct digest_entry *d;
        if (g->n == g->cap && tk_array_grow(&g->v, &g->cap, g->n + 1, sizeof *g->v, 64))
            return oom(err);
        d = &g->v[g->n];
        memset(d, 0, sizeof *d);
        d->email = tk_strdup(rcpts->v[i].email);
        d->name = rcpts->v[i].name ? tk_strdup(rcpts->v[i].name) : NULL;
        d->title = tk_strdup(it->title ? it->title : "");
        d->section = tk_strdup(section);
        d->account_name = tk_strdup(acc->name ? acc->name : "");
        d->day = day;
        d->account = acc->id;
        d->item = it->id;
        d->job = it->job_id;
        d->step = it->rem.sent;
        d->count = it->rem.count;
        g->n++; /* counted before the check: discard frees what was made */
        if (!d->email || !d->title || !d->section || !d->account_name ||
            (rcpts->v[i].name && !d->name))
            return oom(err);
    }
    return 0;
}

/* Groups: by address, local day, then account and item (the lowest
 * account first: its language and zone are the digest's). */
static int by_group(const void *a, const void *b)
{
    const struct digest_entry *x = a, *y = b;
    int c = strcmp(x->email, y->email);
    if (c)
        return c;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if (x->account != y->account)
        return x->account < y->account ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

static int by_item(const void *a, const void *b)
{
    const struct digest_entry *x = a, *y = b;
    if (x->item != y->item)
        return x->item < y->item ? -1 : 1;
    return strcmp(x->email, y->email);
}

/* The single reminder of D's item to D's address, as without digest. */
static int send_single(struct tk_engine *e, struct digest_entry *d, struct tk_error *err)
{
    const struct tk_plugin *p;
    struct tk_item it;
    struct tk_account acc = {0};
    struct tk_contact c;
    struct tk_contacts one;
    struct tk_render_req rq;
    int rc;

    memset(&it, 0, sizeof it);
    if ((rc = tk_store_item_get(e->db, d->item, &it, err)) ||
        (rc = tk_store_account_get(e->db, d->account, &acc, err)))
        goto out;
    if (!(p = tk_engine_type(e, it.type, err))) {
        rc = TK_ENOTFOUND;
        goto out;
    }
    memset(&c, 0, sizeof c);
    c.email = d->email;
    c.name = d->name;
    c.notify = 1;
    one.v = &c;
    one.n = 1;
    memset(&rq, 0, sizeof rq);
    rq.plugin = p;
    rq.it = &it;
    rq.account = &acc;
    rq.kind = "reminder";
    rq.section = d->section;
    rq.step = d->step;
    rq.auto_submitted = 1;
    rc = tk_render_enqueue(e, &rq, &one, err);
out:
    tk_item_free(&it);
    tk_account_free(&acc);
    return rc;
}

/* The digest's wording: a template, type "digest", name "default",
 * section [digest], looked up like an item type's (the firm's
 * TEMPLATES_DIR/LANG/digest/default.tmpl first, then these built-in ones,
 * then English).  Variables: contact.name (the name, else the address),
 * digest.count, digest.items (one line per item, "\n"-terminated),
 * firm.name, firm.portal_url. */
static const char DIGEST_EN[] =
    "description = One digest per person (issue 14)\n"
    "\n"
    "[digest]\n"
    "Subject: {{digest.count}} items waiting for you\n"
    "\n"
    "Dear {{contact.name}},\n"
    "\n"
    "These {{digest.count}} items from {{firm.name}} are waiting for you:\n"
    "\n"
    "{{digest.items}}"
    "{{#firm.portal_url}}\nSee everything at {{firm.portal_url}}\n{{/firm.portal_url}}"
    "\n"
    "Questions? Just reply to this email.\n"
    "\n"
    "Kind regards,\n"
    "{{firm.name}}\n";

static const char DIGEST_NL[] =
    "description = Een overzicht per persoon (issue 14)\n"
    "\n"
    "[digest]\n"
    "Subject: {{digest.count}} openstaande punten\n"
    "\n"
    "Beste {{contact.name}},\n"
    "\n"
    "De volgende {{digest.count}} punten van {{firm.name}} staan nog open:\n"
    "\n"
    "{{digest.items}}"
    "{{#firm.portal_url}}\nBekijk alles op {{firm.portal_url}}\n{{/firm.portal_url}}"
    "\n"
    "Heeft u vragen? Beantwoord dan deze e-mail.\n"
    "\n"
    "Met vriendelijke groet,\n"
    "{{firm.name}}\n";

static const struct tk_template_text digest_texts[] = {
    {"en", "default", DIGEST_EN},
    {"nl", "default", DIGEST_NL},
    {NULL, NULL, NULL},
};

static const struct tk_item_type digest_type = {
    .hdr = TK_PLUGIN_HEADER_INIT(struct tk_item_type, TK_PLUGIN_ITEM, "digest", "1.0",
                                 "One digest per person"),
    .templates = digest_texts,
};

int tk_engine_digest_text(struct tk_engine *e, const char *language, const char *who,
                          const struct tk_digest_line *v, size_t n, struct tk_buf *subject,
                          struct tk_buf *text, struct tk_error *err)
{
    int nl = language && strcmp(language, "nl") == 0, several = 0, rc = 0;
    struct tk_buf items = {0};
    struct tk_kv vars = {0};
    const struct tk_template *t = NULL;
    const struct tk_template_section *sec = NULL;
    struct tk_template builtin;
    struct tk_error why = {0};
    char count[32];

    memset(&builtin, 0, sizeof builtin);

    for (size_t i = 1; i < n; i++)
        several |= v[i].account != v[0].account;
    for (size_t i = 0; i < n && !rc; i++) {
        rc =
            tk_buf_printf(&items, "- %s (%s %d %s %d)", v[i].title, nl ? "herinnering" : "reminder",
                          v[i].step, nl ? "van" : "of", v[i].count);
        if (!rc && several)
            rc = tk_buf_printf(&items, " - %s", v[i].account_name);
        if (!rc)
            rc = tk_buf_puts(&items, "\n");
    }
    if (rc || !items.data) {
        rc = oom(err);
        goto out;
    }
    /* a firm's digest template that does not load is logged and the
     * built-in one used: the digest is written in the tick's transaction,
     * where a failure would stop every item's reminder, not only one */
    if ((rc = tk_catalog_find(e->catalog, &digest_type, language, "default", &t, &why)) == 0 &&
        !(sec = tk_template_section(t, "digest")))
        rc = tk_error_set(&why, TK_ENOTFOUND, "template %s has no section [digest]",
                          t->origin ? t->origin : "digest/default");
    if (rc == TK_ENOMEM) {
        *err = why;
        goto out;
    }
    if (rc) {
        const char *src = nl ? DIGEST_NL : DIGEST_EN;
        tk_engine_warn(e, "digest template: %s; the built-in one is used", why.msg);
        if ((rc = tk_template_parse(src, strlen(src), "built-in digest", &builtin, err)))
            goto out;
        if (!(sec = tk_template_section(&builtin, "digest"))) {
            rc = tk_error_set(err, TK_EINVAL, "built-in digest template has no [digest]");
            goto out;
        }
    }
    snprintf(count, sizeof count, "%zu", n);
    const char *const pairs[] = {
        "firm.name",
        e->cfg.firm_name && *e->cfg.firm_name ? e->cfg.firm_name : "Your accountant",
        "firm.portal_url",
        e->cfg.firm_portal_url && *e->cfg.firm_portal_url ? e->cfg.firm_portal_url : NULL,
        "contact.name",
        who,
        "digest.count",
        count,
        "digest.items",
        items.data,
        NULL};
    for (const char *const *p = pairs; *p && rc == 0; p += 2)
        if (p[1] && tk_kv_set(&vars, p[0], p[1]))
            rc = oom(err);
    if (rc == 0 && (rc = tk_template_render_subject(sec->subject, &vars, subject, err)) == 0)
        rc = tk_template_render(sec->body, &vars, text, err);
out:
    tk_template_free(&builtin);
    tk_kv_free(&vars);
    tk_buf_free(&items);
    return rc;
}

/* The digest of entries V[0..N) (one address, one local day) as one
 * outbox row; *ID: its outbox id. */
static int send_digest(struct tk_engine *e, struct digest_entry *v, size_t n, int64_t *id,
                       struct tk_error *err)
{
    struct tk_account acc = {0};
    const struct tk_calendar *cal = NULL;
    struct tk_error why = {0};
    struct tk_buf subject = {0}, text = {0}, msg = {0};
    struct tk_outbox_row row;
    struct tk_digest_line *lines = NULL;
    struct tk_mail m;
    char msgid[256], date[TK_CALENDAR_DATE_HEADER_MAX], idem[700], day[16];
    const char *who = v[0].name && *v[0].name ? v[0].name : v[0].email;
    const char *extra[3];
    int dup = 0, rc;

    *id = 0;
    if ((rc = tk_store_account_get(e->db, v[0].account, &acc, err)))
        return rc;
    if (!(lines = calloc(n, sizeof *lines))) {
        rc = oom(err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        lines[i].title = v[i].title;
        lines[i].account_name = v[i].account_name;
        lines[i].account = v[i].account;
        lines[i].step = v[i].step;
        lines[i].count = v[i].count;
    }
    if ((rc = tk_engine_digest_text(e, acc.language, who, lines, n, &subject, &text, err)))
        goto out;
    if (!subject.data || !text.data) {
        rc = oom(err);
        goto out;
    }
    if ((rc = tk_mail_message_id(e->msgid_domain, e->now, msgid, sizeof msgid, err)))
        goto out;
    date[0] = '\0';
    if (tk_engine_calendar_for(e, &acc, &cal, &why) ||
        tk_calendar_format_date_header(cal, e->now, date, sizeof date, NULL))
        date[0] = '\0';
    extra[0] = "X-Tickler-Kind";
    extra[1] = "digest";
    extra[2] = NULL;
    memset(&m, 0, sizeof m);
    m.from_name = e->from_name;
    m.from_addr = e->from_addr;
    m.to_name = v[0].name;
    m.to_addr = v[0].email;
    m.subject = subject.data;
    m.text = text.data;
    m.message_id = msgid; /* a fresh one, no In-Reply-To: it is about several items */
    m.date = e->now;
    m.date_text = date[0] ? date : NULL;
    m.auto_submitted = 1;
    m.extra = extra;
    if ((rc = tk_mail_build(&m, &msg, err)))
        goto out;
    snprintf(idem, sizeof idem, "digest/%s/%lld.%d/%s",
             tk_calendar_date_format(v[0].day, day, sizeof day), (long long)v[0].item, v[0].step,
             v[0].email);
    memset(&row, 0, sizeof row);
    row.item_id = 0; /* several items: each names this row in its audit entry */
    row.account_id = acc.id;
    row.kind = "digest";
    row.step = 0;
    row.recipient = v[0].email;
    row.idem_key = idem;
    row.message_id = msgid;
    row.sender = e->from_addr;
    row.data = msg.data;
    row.state = TK_OUTBOX_QUEUED;
    row.created_at = e->now;
    row.next_attempt_at = e->now;
    if ((rc = tk_store_outbox_add(e->db, &row, id, &dup, err)) == 0 && !dup)
        rc = tk_engine_verp_sender(e, *id, v[0].email, err);
out:
    free(lines);
    tk_buf_free(&subject);
    tk_buf_free(&text);
    tk_buf_free(&msg);
    tk_account_free(&acc);
    return rc;
}

/* How an item's "reminder" audit entry names the digest a recipient's
 * step went in: written by audit_items, read by tk_engine_item_digests_each. */
#define IN_DIGEST " (in digest, outbox "

/* One audit entry per item: its step, and per recipient the digest it
 * went in (V sorted by item). */
static int audit_items(struct tk_engine *e, struct digest_entry *v, size_t n, struct tk_error *err)
{
    int rc = 0;
    for (size_t i = 0, j; i < n && rc == 0; i = j) {
        struct tk_buf d = {0};
        rc = tk_buf_printf(&d, "automatic reminder %d of %d sent to ", v[i].step, v[i].count);
        for (j = i; j < n && v[j].item == v[i].item && rc == 0; j++) {
            rc = tk_buf_printf(&d, "%s%s", j > i ? ", " : "", v[j].email);
            if (rc == 0 && v[j].outbox)
                rc = tk_buf_printf(&d, IN_DIGEST "%lld)", (long long)v[j].outbox);
        }
        while (j < n && v[j].item == v[i].item)
            j++;
        if (rc || !d.data)
            rc = oom(err);
        else
            rc = tk_store_audit_add(e->db, e->now, e->actor, v[i].account, v[i].item, v[i].job,
                                    "reminder", d.data, err);
        tk_buf_free(&d);
    }
    return rc;
}

int tk_engine_digest_flush(struct tk_engine *e, struct tk_error *err)
{
    struct tk_engine_digest *g = e->digest;
    const char *actor = e->actor;
    int rc = 0;

    /* the transaction's reminders are written: their run ends (tick.c),
     * so that what follows (these digests, the workers' results) is not
     * copied into its savepoint's journal */
    if ((rc = tk_engine_run_end(e, err)))
        return rc;
    if (!g || !g->n)
        return 0;
    e->actor = "scheduler";
    qsort(g->v, g->n, sizeof *g->v, by_group);
    for (size_t i = 0, j; i < g->n && rc == 0; i = j) {
        for (j = i + 1;
             j < g->n && strcmp(g->v[j].email, g->v[i].email) == 0 && g->v[j].day == g->v[i].day;
             j++)
            ;
        if (j - i == 1) {
            rc = send_single(e, &g->v[i], err);
        } else {
            int64_t id = 0;
            if ((rc = send_digest(e, &g->v[i], j - i, &id, err)) == 0)
                for (size_t k = i; k < j; k++)
                    g->v[k].outbox = id;
        }
    }
    if (rc == 0) {
        qsort(g->v, g->n, sizeof *g->v, by_item);
        rc = audit_items(e, g->v, g->n, err);
    }
    e->actor = actor;
    tk_engine_digest_discard(e);
    return rc;
}

/* ---- the digests an item went in (why) ------------------------------ */

static int note_digest_ids(void *u, const struct tk_audit_entry *ae)
{
    struct tk_ids *x = u;
    if (!ae->action || strcmp(ae->action, "reminder") != 0 || !ae->detail)
        return 0;
    for (const char *p = strstr(ae->detail, IN_DIGEST); p; p = strstr(p, IN_DIGEST)) {
        char *end;
        long long id;
        p += sizeof IN_DIGEST - 1;
        id = strtoll(p, &end, 10);
        if (end == p || *end != ')' || id <= 0)
            continue;
        if (tk_ids_push(x, id))
            return TK_ENOMEM;
    }
    return 0;
}

int tk_engine_item_digests_each(struct tk_engine *e, int64_t item,
                                int (*fn)(void *u, const struct tk_outbox_row *r), void *u,
                                struct tk_error *err)
{
    struct tk_ids x = {0};
    int rc = tk_store_audit_each(e->db, 0, item, note_digest_ids, &x, err);
    if (rc == TK_ENOMEM)
        rc = oom(err);
    for (size_t i = 0; rc == 0 && i < x.n; i++) {
        struct tk_outbox_row r;
        memset(&r, 0, sizeof r);
        if (i && x.v[i] == x.v[i - 1])
            continue;
        rc = tk_store_outbox_get(e->db, x.v[i], &r, err);
        if (rc == TK_ENOTFOUND) { /* removed with its account, or by hand */
            tk_error_clear(err);
            rc = 0;
            continue;
        }
        if (rc == 0)
            rc = fn(u, &r);
        tk_outbox_row_free(&r);
    }
    tk_ids_free(&x);
    return rc;
}
