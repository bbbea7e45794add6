/*
 * stats.c - counts and short lists for the staff console (stats.h).
 */
#include "store/stats.h"
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

static int cursor_fail(struct tk_error *err)
{
    return err && err->code ? err->code : TK_EIO;
}

int tk_store_count_pending(struct tk_db *db, int (*fn)(void *u, const char *type, int64_t n),
                           void *u, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc, r;
    if ((rc = tk_db_query(db, &cur, err,
                          "SELECT type, COUNT(*) FROM items WHERE state = 'pending' AND "
                          "archived = 0 GROUP BY type ORDER BY type",
                          "")))
        return rc;
    while ((r = tk_cursor_next(cur, err)) > 0)
        if ((rc = fn(u, tk_cursor_text(cur, 0), tk_cursor_int(cur, 1))))
            break;
    if (r < 0 && rc == 0)
        rc = cursor_fail(err);
    tk_cursor_close(cur);
    return rc;
}

int tk_store_count_due(struct tk_db *db, tk_time from, tk_time to, int64_t *n, struct tk_error *err)
{
    return tk_db_int(db, n, err,
                     "SELECT COUNT(*) FROM items WHERE next_at IS NOT NULL AND next_at >= ? AND "
                     "next_at < ?",
                     "ii", (int64_t)from, (int64_t)to);
}

int tk_store_count_per_day(struct tk_db *db, int sent, tk_time now, int ndays, int64_t *counts,
                           struct tk_error *err)
{
    tk_time first = (now / TK_DAY - (ndays - 1)) * TK_DAY;
    int rc = 0;
    memset(counts, 0, sizeof *counts * (size_t)ndays);
    /* One range count per day, each read from its covering index alone
     * (outbox_sent, items_completed).  A single GROUP BY over the day's
     * number sorted every row of the month in a temporary B-tree first:
     * twice the CPU at 100k emails (bench/RESULTS.md). */
    for (int d = 0; d < ndays && rc == 0; d++) {
        int64_t from = first + (tk_time)d * TK_DAY, to = from + TK_DAY;
        rc = sent ? tk_db_int(db, &counts[d], err,
                              "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL AND sent_at "
                              ">= ? AND sent_at < ? AND state = 1",
                              "ii", from, to)
                  : tk_db_int(db, &counts[d], err,
                              "SELECT COUNT(*) FROM items WHERE completed_at IS NOT NULL AND "
                              "completed_at >= ? AND completed_at < ?",
                              "ii", from, to);
    }
    return rc;
}

int tk_store_count_completed_after(struct tk_db *db, int (*fn)(void *u, int reminders, int64_t n),
                                   void *u, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc, r;
    if ((rc = tk_db_query(db, &cur, err,
                          "SELECT rem_sent, COUNT(*) FROM items WHERE completed_at IS NOT NULL "
                          "GROUP BY rem_sent ORDER BY rem_sent",
                          "")))
        return rc;
    while ((r = tk_cursor_next(cur, err)) > 0)
        if ((rc = fn(u, (int)tk_cursor_int(cur, 0), tk_cursor_int(cur, 1))))
            break;
    if (r < 0 && rc == 0)
        rc = cursor_fail(err);
    tk_cursor_close(cur);
    return rc;
}

int tk_store_due_each(struct tk_db *db, tk_time from, tk_time to, size_t limit,
                      int (*fn)(void *u, const struct tk_due_item *d), void *u,
                      struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc, r;
    if ((rc = tk_db_query(db, &cur, err,
                          "SELECT i.id, i.account_id, i.type, i.title, a.name, i.next_at, "
                          "i.rem_every_days, i.rem_count, i.rem_sent FROM items i "
                          "JOIN accounts a ON a.id = i.account_id "
                          "WHERE i.next_at IS NOT NULL AND i.next_at >= ? AND i.next_at < ? "
                          "ORDER BY i.next_at, i.id LIMIT ?",
                          "iii", (int64_t)from, (int64_t)to, (int64_t)limit)))
        return rc;
    while ((r = tk_cursor_next(cur, err)) > 0) {
        struct tk_due_item d = {
            .item_id = tk_cursor_int(cur, 0),
            .account_id = tk_cursor_int(cur, 1),
            .type = tk_cursor_text(cur, 2),
            .title = tk_cursor_text(cur, 3),
            .account_name = tk_cursor_text(cur, 4),
            .next_at = tk_cursor_int(cur, 5),
            .every_days = (int)tk_cursor_int(cur, 6),
            .count = (int)tk_cursor_int(cur, 7),
            .sent = (int)tk_cursor_int(cur, 8),
        };
        if ((rc = fn(u, &d)))
            break;
    }
    if (r < 0 && rc == 0)
        rc = cursor_fail(err);
    tk_cursor_close(cur);
    return rc;
}

/* QUERY as a LIKE pattern that matches it literally anywhere: % _ and the
 * escape character itself are escaped with '!'.  Caller frees. */
static char *like_pattern(const char *query)
{
    struct tk_buf b = {0};
    tk_buf_putc(&b, '%');
    for (const char *p = query; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '!')
            tk_buf_putc(&b, '!');
        tk_buf_putc(&b, *p);
    }
    if (tk_buf_putc(&b, '%')) {
        tk_buf_free(&b);
        return NULL;
    }
    return tk_buf_steal(&b);
}

int tk_store_account_search(struct tk_db *db, const char *query, size_t offset, size_t limit,
                            int (*fn)(void *u, const struct tk_account *a), void *u, int *more,
                            struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    char *pat = like_pattern(query ? query : "");
    size_t seen = 0;
    int rc, r, oom = 0;
    if (more)
        *more = 0;
    if (!pat)
        return tk_error_set(err, TK_ENOMEM, "store: out of memory");
    rc = tk_db_query(db, &cur, err,
                     "SELECT id, name, language, created_at FROM accounts WHERE name LIKE ? "
                     "ESCAPE '!' ORDER BY name, id LIMIT ? OFFSET ?",
                     "sii", pat, (int64_t)limit + 1, (int64_t)offset);
    free(pat);
    if (rc)
        return rc;
    while ((r = tk_cursor_next(cur, err)) > 0) {
        struct tk_account a = {0};
        if (++seen > limit) {
            if (more)
                *more = 1;
            break;
        }
        a.id = tk_cursor_int(cur, 0);
        a.name = tk_store_col_dup(cur, 1, &oom);
        a.language = tk_store_col_dup(cur, 2, &oom);
        a.created_at = tk_cursor_int(cur, 3);
        rc = oom ? tk_error_set(err, TK_ENOMEM, "store: out of memory") : fn(u, &a);
        tk_account_free(&a);
        if (rc)
            break;
    }
    if (r < 0 && rc == 0)
        rc = cursor_fail(err);
    tk_cursor_close(cur);
    return rc;
}

int tk_store_outbox_queued_ids(struct tk_db *db, size_t limit, int64_t *ids, size_t *n,
                               struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc, r = 0;
    *n = 0;
    if ((rc = tk_db_query(db, &cur, err,
                          "SELECT id FROM outbox WHERE state = 0 ORDER BY next_attempt_at, id "
                          "LIMIT ?",
                          "i", (int64_t)limit)))
        return rc;
    while (*n < limit && (r = tk_cursor_next(cur, err)) > 0)
        ids[(*n)++] = tk_cursor_int(cur, 0);
    if (*n < limit && r < 0)
        rc = cursor_fail(err);
    tk_cursor_close(cur);
    return rc;
}
