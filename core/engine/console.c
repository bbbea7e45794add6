/*
 * console.c - what the staff console shows (engine.h): the dashboard's
 * figures, the reminders to come, account search and the queued outbox,
 * read through the store's bounded queries (store/stats.h).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int add_type(void *u, const char *type, int64_t n)
{
    struct tk_dashboard *d = u;
    if (d->ntypes < TK_DASH_MAX_TYPES) {
        tk_strlcpy(d->types[d->ntypes].name, type ? type : "", sizeof d->types[0].name);
        d->types[d->ntypes++].pending = n;
    }
    return 0;
}

static int add_after(void *u, int reminders, int64_t n)
{
    struct tk_dashboard *d = u;
    if (reminders < 0)
        reminders = 0;
    if (reminders >= TK_DASH_MAX_AFTER)
        reminders = TK_DASH_MAX_AFTER - 1;
    d->completed_after[reminders] += n;
    return 0;
}

int tk_engine_dashboard(struct tk_engine *e, struct tk_dashboard *out, struct tk_error *err)
{
    tk_time now = e->now, end_of_day = (now / TK_DAY + 1) * TK_DAY;
    int rc;
    memset(out, 0, sizeof *out);
    out->first_day = (now / TK_DAY - (TK_DASH_DAYS - 1)) * TK_DAY;
    if ((rc = tk_store_count_pending(e->db, add_type, out, err)) ||
        /* a reminder overdue (the daemon was down) is due today too */
        (rc = tk_store_count_due(e->db, 0, end_of_day, &out->due_today, err)) ||
        (rc = tk_store_count_due(e->db, 0, now + 7 * TK_DAY, &out->due_week, err)) ||
        (rc = tk_store_outbox_counts(e->db, &out->queued, &out->failed, err)) ||
        (rc = tk_store_count_per_day(e->db, 1, now, TK_DASH_DAYS, out->sent, err)) ||
        (rc = tk_store_count_per_day(e->db, 0, now, TK_DASH_DAYS, out->completed, err)) ||
        (rc = tk_store_count_completed_after(e->db, add_after, out, err)))
        memset(out, 0, sizeof *out);
    return rc;
}

struct upcoming {
    tk_time until;
    size_t limit, n;
    int (*fn)(void *u, const struct tk_upcoming *up);
    void *u;
    /* one item's further reminders wait here until their time comes in
     * the walk (the walk is by next_at, theirs are later) */
    struct later {
        struct tk_upcoming up;
        char *type, *title, *account;
    } * later;
    size_t nlater, caplater;
};

/* The walk's own "stop": LIMIT emails listed (not a status). */
#define FULL (-2)

static int emit(struct upcoming *x, const struct tk_upcoming *up)
{
    if (x->n >= x->limit)
        return FULL;
    x->n++;
    return x->fn(x->u, up);
}

/* Emit the waiting reminders due before AT (all when AT is 0), soonest first. */
static int flush_later(struct upcoming *x, tk_time at)
{
    int rc = 0;
    for (;;) {
        size_t best = x->nlater;
        for (size_t i = 0; i < x->nlater; i++)
            if ((!at || x->later[i].up.at < at) &&
                (best == x->nlater || x->later[i].up.at < x->later[best].up.at))
                best = i;
        if (best == x->nlater || rc)
            return rc;
        struct later *l = &x->later[best];
        rc = emit(x, &l->up);
        free(l->type);
        free(l->title);
        free(l->account);
        x->later[best] = x->later[--x->nlater];
    }
}

static int one_due(void *u, const struct tk_due_item *d)
{
    struct upcoming *x = u;
    struct tk_upcoming up = {d->item_id,      d->account_id, d->type,  d->title,
                             d->account_name, d->sent + 1,   d->count, d->next_at};
    int rc;
    if ((rc = flush_later(x, d->next_at)) || (rc = emit(x, &up)))
        return rc;
    /* D1: each later reminder comes every_days after the one before */
    for (int step = d->sent + 2; step <= d->count && d->every_days > 0; step++) {
        tk_time at = d->next_at + (tk_time)(step - d->sent - 1) * d->every_days * TK_DAY;
        if (at >= x->until || x->nlater >= 4096)
            break;
        if (x->nlater == x->caplater) {
            size_t cap = x->caplater ? 2 * x->caplater : 64;
            struct later *nl = realloc(x->later, cap * sizeof *nl);
            if (!nl)
                return TK_ENOMEM;
            x->later = nl;
            x->caplater = cap;
        }
        struct later *l = &x->later[x->nlater];
        l->type = tk_strdup(d->type);
        l->title = tk_strdup(d->title);
        l->account = tk_strdup(d->account_name);
        l->up = up;
        l->up.type = l->type;
        l->up.title = l->title;
        l->up.account_name = l->account;
        l->up.step = step;
        l->up.at = at;
        x->nlater++;
    }
    return 0;
}

int tk_engine_upcoming(struct tk_engine *e, int days, size_t limit,
                       int (*fn)(void *u, const struct tk_upcoming *up), void *u,
                       struct tk_error *err)
{
    struct upcoming x = {
        .until = e->now + (tk_time)days * TK_DAY, .limit = limit, .fn = fn, .u = u};
    /* Overdue reminders (next_at before now) go out at the next tick: they
     * are listed first, from time 0. */
    int rc = tk_store_due_each(e->db, 0, x.until, limit, one_due, &x, err);
    if (rc == 0)
        rc = flush_later(&x, 0);
    if (rc == TK_ENOMEM)
        tk_error_set(err, TK_ENOMEM, "out of memory");
    for (size_t i = 0; i < x.nlater; i++) {
        free(x.later[i].type);
        free(x.later[i].title);
        free(x.later[i].account);
    }
    free(x.later);
    return rc == FULL ? 0 : rc;
}

int tk_engine_account_search(struct tk_engine *e, const char *query, size_t offset, size_t limit,
                             int (*fn)(void *u, const struct tk_account *a), void *u, int *more,
                             struct tk_error *err)
{
    return tk_store_account_search(e->db, query, offset, limit, fn, u, more, err);
}

int tk_engine_outbox_queued_each(struct tk_engine *e, size_t limit,
                                 int (*fn)(void *u, const struct tk_outbox_row *r), void *u,
                                 struct tk_error *err)
{
    int64_t ids[200];
    size_t n = 0;
    int rc;
    if (limit > sizeof ids / sizeof ids[0])
        limit = sizeof ids / sizeof ids[0];
    if ((rc = tk_store_outbox_queued_ids(e->db, limit, ids, &n, err)))
        return rc;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct tk_outbox_row r = {0};
        if ((rc = tk_store_outbox_get(e->db, ids[i], &r, err)) == TK_ENOTFOUND) {
            rc = 0; /* delivered meanwhile */
            continue;
        }
        if (rc == 0)
            rc = fn(u, &r);
        tk_outbox_row_free(&r);
    }
    return rc;
}
