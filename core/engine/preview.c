/* preview.c - every automatic email the next days will send, and what
 * each says, without sending or writing anything (`tickler preview`,
 * issue 14; the console's /upcoming and item page, issue 18).
 *
 * The preview is the scheduler played forward in memory: each item due
 * within the span is walked from its next_at through the same functions a
 * tick calls, with the engine's clock set to each moment in turn -
 * tk_engine_reminder_decide (holds, send window, holidays: the gate's
 * decision without its writes), tk_render_section (the template section
 * of the step), tk_schedule_next (the next step's moment, D1 from the
 * email just "sent") and tk_render_preview (the messages exactly as
 * tk_render_enqueue builds them, sequences peeked).  Whatever changes
 * those functions (ladders, anchored schedules) shows here by
 * construction.  Everything is read in one read transaction; nothing is
 * written. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* how many decisions one item may take within the span (a hold, a
 * deferral and a reminder each take one; a span of 366 days of daily
 * "nobody left" waits stays under it) */
#define STEPS_MAX 2000

struct entry {
    struct tk_preview p;
    char *type, *title, *account, *moved, *error;
    struct tk_preview_mail *mails;
    char local[TK_CALENDAR_LOCAL_MAX];
};

struct run {
    struct tk_engine *e;
    int64_t account; /* 0: all */
    tk_time until;
    int render;
    struct entry *v;
    size_t n, cap;
    /* the account of the last item, its notify-on recipients and whether
     * every notify-on contact is suppressed (items come by time, accounts
     * repeat: one account's items are the common case) */
    struct tk_account acc;
    struct tk_contacts rcpts;
    int nobody_left;
    /* the entry being filled by tk_render_preview's callback */
    struct entry *cur;
    size_t mcap;
};

static int oom(struct tk_error *err)
{
    return tk_error_set(err, TK_ENOMEM, "out of memory");
}

static void entry_free(struct entry *x)
{
    free(x->type);
    free(x->title);
    free(x->account);
    free(x->moved);
    free(x->error);
    for (size_t i = 0; i < x->p.nmails; i++) {
        free((char *)x->mails[i].to);
        free((char *)x->mails[i].subject);
        free((char *)x->mails[i].message);
    }
    free(x->mails);
}

static int add_mail(void *u, const struct tk_contact *c, const char *subject, const char *message)
{
    struct run *r = u;
    struct entry *x = r->cur;
    if (x->p.nmails == r->mcap) {
        size_t cap = r->mcap ? 2 * r->mcap : 4;
        struct tk_preview_mail *m = realloc(x->mails, cap * sizeof *m);
        if (!m)
            return TK_ENOMEM;
        x->mails = m;
        r->mcap = cap;
    }
    struct tk_preview_mail *m = &x->mails[x->p.nmails];
    memset(m, 0, sizeof *m);
    if (!(m->to = tk_strdup(c->email)) || !(m->subject = tk_strdup(subject)) ||
        (r->render > 0 && !(m->message = tk_strdup(message)))) {
        free((char *)m->to);
        free((char *)m->subject);
        return TK_ENOMEM;
    }
    x->p.nmails++;
    return 0;
}

static struct entry *new_entry(struct run *r, const struct tk_item *it, tk_time at,
                               const char *moved)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        struct entry *v = realloc(r->v, cap * sizeof *v);
        if (!v)
            return NULL;
        r->v = v;
        r->cap = cap;
    }
    struct entry *x = &r->v[r->n];
    memset(x, 0, sizeof *x);
    x->type = tk_strdup(it->type);
    x->title = tk_strdup(it->title);
    x->account = tk_strdup(r->acc.name);
    x->moved = moved && *moved ? tk_strdup(moved) : NULL;
    if (!x->type || !x->title || !x->account || (moved && *moved && !x->moved)) {
        entry_free(x);
        return NULL;
    }
    x->p.item_id = it->id;
    x->p.account_id = it->account_id;
    x->p.step = it->rem.sent + 1;
    x->p.count = it->rem.count;
    x->p.at = at;
    tk_engine_account_local_time(r->e, &r->acc, at, x->local, sizeof x->local);
    r->n++;
    return x;
}

static int load_account(struct run *r, int64_t id, struct tk_error *err)
{
    int rc;
    if (r->acc.id == id && r->acc.name)
        return 0;
    tk_account_free(&r->acc);
    tk_contacts_free(&r->rcpts);
    memset(&r->acc, 0, sizeof r->acc);
    memset(&r->rcpts, 0, sizeof r->rcpts);
    if ((rc = tk_store_account_get(r->e->db, id, &r->acc, err)) ||
        (rc = tk_store_contact_list(r->e->db, id, 1, &r->rcpts, err)) ||
        (rc = tk_engine_account_nobody_left(r->e, id, &r->nobody_left, err))) {
        tk_account_free(&r->acc);
        memset(&r->acc, 0, sizeof r->acc);
        return rc;
    }
    return 0;
}

/* The item's own failure (a broken template, a missing plugin): the tick
 * would skip it and retry later; the preview lists it with the error and
 * stops walking it. */
static int item_error(struct run *r, const struct tk_item *it, tk_time at, const char *moved,
                      const struct tk_error *why, struct tk_error *err)
{
    struct entry *x = new_entry(r, it, at, moved);
    if (!x || !(x->error = tk_strdup(why->msg[0] ? why->msg : "failed")))
        return oom(err);
    return 0;
}

/* Walk item ID from its next_at to the span's end, adding an entry per
 * reminder it would send.  The engine's clock is the caller's to restore. */
static int walk_item(struct run *r, int64_t id, tk_time now, struct tk_error *err)
{
    struct tk_engine *e = r->e;
    const struct tk_plugin *p;
    struct tk_item it;
    struct tk_gate g;
    struct tk_error why = {0};
    char moved[sizeof g.why + 64] = "", when[32];
    tk_time t;
    int rc = 0;

    memset(&it, 0, sizeof it);
    if ((rc = tk_store_item_get(e->db, id, &it, err)) || (rc = load_account(r, it.account_id, err)))
        goto out;
    t = it.rem.next_at > now ? it.rem.next_at : now; /* overdue: the next tick */
    if (!(p = tk_engine_type(e, it.type, &why))) {
        rc = item_error(r, &it, t, NULL, &why, err);
        goto out;
    }
    for (int steps = 0; steps < STEPS_MAX && t < r->until; steps++) {
        e->now = t;
        /* after the last step: the manager's escalation (escalate.c), not
         * an email to the client; and nothing when no step is left */
        if (tk_engine_escalation_due(e, &it) || !tk_engine_schedule_next(e, &it, &r->acc, NULL))
            break;
        if ((rc = tk_engine_reminder_decide(e, &it, &r->acc, &g, &why))) {
            rc = item_error(r, &it, t, moved, &why, err);
            goto out;
        }
        if (g.hold_ended) {
            snprintf(moved, sizeof moved, "on hold until %s",
                     tk_time_format(it.hold.until, when, sizeof when));
            it.hold.since = it.hold.until = 0;
        }
        if (g.action == TK_GATE_HELD) {
            if (!g.next)
                break; /* held until released: nothing */
            snprintf(moved, sizeof moved, "on hold until %s",
                     tk_time_format(g.next, when, sizeof when));
            t = g.next;
            continue;
        }
        if (g.action == TK_GATE_WAIT) {
            if (!g.next)
                break;
            t = g.next;
            continue;
        }
        if (g.action == TK_GATE_DEFER) {
            size_t n = strlen(moved);
            if (n && strncmp(moved, "on hold", 7) == 0)
                snprintf(moved + n, sizeof moved - n, "; then %s", g.why);
            else
                snprintf(moved, sizeof moved, "%s", g.why);
            t = g.next;
            continue;
        }
        /* TK_GATE_GO: as tick.c's remind() */
        const char *section = NULL;
        int step = 0;
        if (tk_engine_schedule_next(e, &it, &r->acc, &step) && it.rem.nsched && step > 0)
            it.rem.sent = step - 1; /* passed anchored steps are skipped */
        if ((rc = tk_render_section(e, p, &it, r->acc.language, "reminder", &section, &why))) {
            rc = item_error(r, &it, t, moved, &why, err);
            goto out;
        }
        if (!section)
            break;
        if (r->nobody_left) {
            /* the reminder waits a day at a time (tk_engine_reminder_waits) */
            snprintf(moved, sizeof moved, "waiting: every notify-on contact is suppressed");
            t += TK_DAY;
            continue;
        }
        if (!r->rcpts.n) {
            /* nobody with notify on: the step waits a day at a time and
             * staff are told (nobody.c, tk_engine_nobody_notified) */
            snprintf(moved, sizeof moved, "waiting: no contact of the account has notify on");
            t += TK_DAY;
            continue;
        }
        struct entry *x = new_entry(r, &it, t, moved);
        if (!x) {
            rc = oom(err);
            goto out;
        }
        it.rem.sent++;
        struct tk_render_req rq;
        memset(&rq, 0, sizeof rq);
        rq.plugin = p;
        rq.it = &it;
        rq.account = &r->acc;
        rq.kind = "reminder";
        rq.section = section;
        rq.step = it.rem.sent;
        rq.auto_submitted = 1;
        r->cur = x;
        r->mcap = 0;
        if (r->render < 0) {
            /* the timeline only: who, not what */
            for (size_t k = 0; k < r->rcpts.n; k++)
                if (add_mail(r, &r->rcpts.v[k], "", NULL)) {
                    rc = oom(err);
                    goto out;
                }
        } else if ((rc = tk_render_preview(e, &rq, &r->rcpts, add_mail, r, &why))) {
            if (rc == TK_ENOMEM) {
                rc = oom(err);
                goto out;
            }
            /* the tick would record the failure and retry: show it, stop */
            x->error = tk_strdup(why.msg);
            rc = x->error ? 0 : oom(err);
            goto out;
        }
        moved[0] = '\0';
        /* D1: the next step counts from this email */
        it.rem.last_mail_at = t;
        if (!(t = tk_engine_schedule_next(e, &it, &r->acc, NULL)))
            break;
    }
out:
    tk_item_free(&it);
    return rc;
}

struct ids {
    int64_t account;
    int64_t *v;
    tk_time *at; /* each one's next_at */
    size_t n, cap;
};

static int collect(void *u, const struct tk_due_item *d)
{
    struct ids *x = u;
    if (x->account && d->account_id != x->account)
        return 0;
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 256;
        int64_t *v = realloc(x->v, cap * sizeof *v);
        if (!v)
            return TK_ENOMEM;
        x->v = v;
        tk_time *at = realloc(x->at, cap * sizeof *at);
        if (!at)
            return TK_ENOMEM;
        x->at = at;
        x->cap = cap;
    }
    x->at[x->n] = d->next_at;
    x->v[x->n++] = d->item_id;
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->p.at != y->p.at)
        return x->p.at < y->p.at ? -1 : 1;
    if (x->p.item_id != y->p.item_id)
        return x->p.item_id < y->p.item_id ? -1 : 1;
    return x->p.step - y->p.step;
}

/* The walk, for ITEM (0: every item due in the span, of ACCOUNT or all). */
static int preview(struct tk_engine *e, int64_t account, int64_t item, int days, int render,
                   size_t limit, int (*fn)(void *u, const struct tk_preview *p), void *u,
                   struct tk_error *err)
{
    struct tk_db_base *base = (struct tk_db_base *)e->db;
    struct run r;
    struct ids ids = {account, NULL, NULL, 0, 0};
    tk_time now = e->now;
    int own_tx = 0, dry = e->dry_run, rc;

    if (days < 1 || days > TK_PREVIEW_DAYS_MAX)
        return tk_error_set(err, TK_EINVAL, "--days: a number of days from 1 to %d",
                            TK_PREVIEW_DAYS_MAX);
    memset(&r, 0, sizeof r);
    r.e = e;
    r.account = account;
    r.until = now + (tk_time)days * TK_DAY;
    r.render = render;
    if ((rc = tk_engine_load_plugins(e, err)))
        return rc;
    if (!base->in_tx) {
        if ((rc = tk_db_begin(e->db, TK_TX_SNAPSHOT, err)))
            return rc;
        own_tx = 1;
    }
    e->dry_run = 1;
    if (item) {
        struct tk_item it;
        memset(&it, 0, sizeof it);
        rc = tk_store_item_get(e->db, item, &it, err);
        if (rc == 0 && it.rem.next_at && it.rem.next_at < r.until)
            rc =
                collect(&ids, &(struct tk_due_item){.item_id = it.id, .account_id = it.account_id});
        tk_item_free(&it);
    } else {
        /* overdue items (next_at before now) go out at the next tick */
        rc = tk_store_due_each(e->db, 0, r.until, (size_t)INT64_MAX, collect, &ids, err);
    }
    if (rc == TK_ENOMEM)
        oom(err);
    for (size_t i = 0; rc == 0 && i < ids.n; i++) {
        rc = walk_item(&r, ids.v[i], now, err);
        e->now = now;
        /* Items come by next_at and none sends before it: once LIMIT
         * emails are known no later than the next item's next_at, the
         * rest cannot enter the first LIMIT (the console's short lists). */
        if (rc == 0 && limit > 0 && limit < r.n && i + 1 < ids.n && (i & 63) == 63) {
            qsort(r.v, r.n, sizeof *r.v, by_time);
            for (size_t k = limit; k < r.n; k++)
                entry_free(&r.v[k]);
            r.n = limit;
            if (r.v[limit - 1].p.at < (ids.at[i + 1] > now ? ids.at[i + 1] : now))
                break;
        }
    }
    e->now = now;
    e->dry_run = dry;
    if (own_tx)
        tk_db_rollback(e->db); /* read only: nothing to keep */
    if (rc == 0 && r.n > 1)
        qsort(r.v, r.n, sizeof *r.v, by_time);
    for (size_t i = 0; rc == 0 && i < r.n && i < limit; i++) {
        struct entry *x = &r.v[i];
        x->p.type = x->type;
        x->p.title = x->title;
        x->p.account_name = x->account;
        x->p.local = x->local;
        x->p.moved = x->moved;
        x->p.error = x->error;
        x->p.mails = x->mails;
        rc = fn(u, &x->p);
    }
    for (size_t i = 0; i < r.n; i++)
        entry_free(&r.v[i]);
    free(r.v);
    free(ids.v);
    free(ids.at);
    tk_account_free(&r.acc);
    tk_contacts_free(&r.rcpts);
    return rc == TK_PREVIEW_STOP ? 0 : rc;
}

int tk_engine_preview(struct tk_engine *e, int64_t account, int days, int render, size_t limit,
                      int (*fn)(void *u, const struct tk_preview *p), void *u, struct tk_error *err)
{
    if (account) {
        struct tk_account a = {0};
        int rc = tk_store_account_get(e->db, account, &a, err);
        tk_account_free(&a);
        if (rc)
            return rc;
    }
    return preview(e, account, 0, days, render, limit, fn, u, err);
}

int tk_engine_preview_item(struct tk_engine *e, int64_t item, int days, int render, size_t limit,
                           int (*fn)(void *u, const struct tk_preview *p), void *u,
                           struct tk_error *err)
{
    return preview(e, 0, item, days, render, limit, fn, u, err);
}

/* The console's timeline (engine.h): the preview without the messages. */
struct upcoming {
    int (*fn)(void *u, const struct tk_upcoming *up);
    void *u;
};

static int upcoming_one(void *u, const struct tk_preview *p)
{
    struct upcoming *x = u;
    struct tk_upcoming up = {p->item_id,      p->account_id, p->type,  p->title,
                             p->account_name, p->step,       p->count, p->at};
    return x->fn(x->u, &up);
}

int tk_engine_upcoming(struct tk_engine *e, int days, size_t limit,
                       int (*fn)(void *u, const struct tk_upcoming *up), void *u,
                       struct tk_error *err)
{
    struct upcoming x = {fn, u};
    return preview(e, 0, 0, days, -1, limit, upcoming_one, &x, err);
}
