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
