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
 * a round of the settler with several connections): a tick with more due
 * items than one transaction takes may split one person's reminders over
 * two digests.  Memory: one entry per (item, recipient) of digest
 * accounts in the open transaction. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "internal.h"
#include "mail/mail.h"

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

int tk_engine_digest_seen(const struct tk_engine *e, int64_t id)
{
    const struct tk_engine_digest *g = e->digest;
    if (!g || !g->nseen)
        return 0;
    for (size_t i = slot(id, g->capseen);; i = (i + 1) & (g->capseen - 1)) {
        if (g->seen[i] == id)
            return 1;
        if (!g->seen[i])
            return 0;
    }
}

int tk_engine_digest_mark(struct tk_engine *e, int64_t id, struct tk_error *err)
{
    struct tk_engine_digest *g = digest(e);
    if (!g)
        return oom(err);
    if (tk_engine_digest_seen(e, id))
        return 0;
    if (2 * (g->nseen + 1) > g->capseen) {
        size_t cap = g->capseen ? g->capseen * 2 : 1024;
        int64_t *v = calloc(cap, sizeof *v);
        if (!v)
            return oom(err);
        for (size_t i = 0; i < g->capseen; i++)
            if (g->seen[i]) {
                size_t k = slot(g->seen[i], cap);
                while (v[k])
                    k = (k + 1) & (cap - 1);
                v[k] = g->seen[i];
            }
        free(g->seen);
        g->seen = v;
        g->capseen = cap;
    }
    size_t k = slot(id, g->capseen);
    while (g->seen[k])
        k = (k + 1) & (g->capseen - 1);
    g->seen[k] = id;
    g->nseen++;
    return 0;
}

int tk_engine_digest_last_account(const struct tk_engine *e, int64_t *account)
{
    *account = e->digest && e->digest->n ? e->digest->v[e->digest->n - 1].account : 0;
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
        if (g->n == g->cap) {
            size_t cap = g->cap ? g->cap * 2 : 64;
            struct digest_entry *v = realloc(g->v, cap * sizeof *v);
            if (!v)
                return oom(err);
            g->v = v;
            g->cap = cap;
        }
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
    struct tk_mail m;
    char msgid[160], date[TK_CALENDAR_DATE_HEADER_MAX], idem[700], day[16];
    const char *firm = e->cfg.firm_name && *e->cfg.firm_name ? e->cfg.firm_name : "Your accountant";
    const char *who = v[0].name && *v[0].name ? v[0].name : v[0].email;
    const char *extra[3];
    int nl, several = 0, dup = 0, rc;

    *id = 0;
    if ((rc = tk_store_account_get(e->db, v[0].account, &acc, err)))
        return rc;
    nl = acc.language && strcmp(acc.language, "nl") == 0;
    for (size_t i = 1; i < n; i++)
        several |= v[i].account != v[0].account;
    rc = nl ? tk_buf_printf(&subject, "%zu openstaande punten", n)
            : tk_buf_printf(&subject, "%zu items waiting for you", n);
    if (!rc)
        rc = nl ? tk_buf_printf(&text,
                                "Beste %s,\n\nDe volgende %zu punten van %s staan nog open:\n\n",
                                who, n, firm)
                : tk_buf_printf(&text,
                                "Dear %s,\n\nThese %zu items from %s are waiting for you:\n\n", who,
                                n, firm);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = tk_buf_printf(&text, "- %s (%s %d %s %d)", v[i].title, nl ? "herinnering" : "reminder",
                           v[i].step, nl ? "van" : "of", v[i].count);
        if (!rc && several)
            rc = tk_buf_printf(&text, " - %s", v[i].account_name);
        if (!rc)
            rc = tk_buf_puts(&text, "\n");
    }
    if (!rc && e->cfg.firm_portal_url && *e->cfg.firm_portal_url)
        rc = tk_buf_printf(&text, "\n%s %s\n", nl ? "Bekijk alles op" : "See everything at",
                           e->cfg.firm_portal_url);
    if (!rc)
        rc = nl ? tk_buf_printf(&text,
                                "\nHeeft u vragen? Beantwoord dan deze e-mail.\n\nMet vriendelijke "
                                "groet,\n%s\n",
                                firm)
                : tk_buf_printf(
                      &text, "\nQuestions? Just reply to this email.\n\nKind regards,\n%s\n", firm);
    if (rc || !subject.data || !text.data) {
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
    tk_buf_free(&subject);
    tk_buf_free(&text);
    tk_buf_free(&msg);
    tk_account_free(&acc);
    return rc;
}

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
                rc = tk_buf_printf(&d, " (in digest, outbox %lld)", (long long)v[j].outbox);
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
