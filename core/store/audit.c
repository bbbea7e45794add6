/*
 * audit.c - the append-only audit trail.  There is no update or delete here
 * on purpose: the trail is the firm's record of what was sent.
 */
#include "store/store.h"
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

void tk_audit_entry_free(struct tk_audit_entry *e)
{
    if (!e)
        return;
    free(e->actor);
    free(e->action);
    free(e->detail);
    memset(e, 0, sizeof *e);
}

int tk_store_audit_add(struct tk_db *db, tk_time at, const char *actor, int64_t account,
                       int64_t item, int64_t job, const char *action, const char *detail,
                       struct tk_error *err)
{
    if (!actor || !action)
        return tk_error_set(err, TK_EINVAL, "audit entry without actor or action");
    /* the real time too, whatever AT says: a --now in the past cannot
     * backdate the trail unseen (issue 11) */
    return tk_db_exec(db, err,
                      "INSERT INTO audit (at, actor, account_id, item_id, job_id, action, detail, "
                      "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      "iszzzssi", (int64_t)at, actor, account, item, job, action, detail,
                      (int64_t)tk_time_real());
}

#define AUDIT_COLS                                                                                 \
    "SELECT id, at, actor, account_id, item_id, job_id, action, detail, recorded_at FROM audit "

int tk_store_audit_each(struct tk_db *db, int64_t account, int64_t item,
                        int (*fn)(void *u, const struct tk_audit_entry *e), void *u,
                        struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc;
    if (item)
        rc = tk_db_query(db, &cur, err, AUDIT_COLS "WHERE item_id = ? ORDER BY id", "i", item);
    else if (account)
        rc =
            tk_db_query(db, &cur, err, AUDIT_COLS "WHERE account_id = ? ORDER BY id", "i", account);
    else
        rc = tk_db_query(db, &cur, err, AUDIT_COLS "ORDER BY id", "");
    if (rc != 0)
        return rc;
    int r;
    while (rc == 0 && (r = tk_cursor_next(cur, err)) != 0) {
        if (r < 0) {
            rc = err ? err->code : TK_EIO;
            break;
        }
        const char *actor = tk_cursor_text(cur, 2), *action = tk_cursor_text(cur, 6);
        const char *detail = tk_cursor_text(cur, 7);
        struct tk_audit_entry e = {
            .id = tk_cursor_int(cur, 0),
            .at = tk_cursor_int(cur, 1),
            .actor = tk_strdup(actor),
            .account_id = tk_cursor_int(cur, 3),
            .item_id = tk_cursor_int(cur, 4),
            .job_id = tk_cursor_int(cur, 5),
            .action = tk_strdup(action),
            .detail = tk_strdup(detail),
            .recorded_at = tk_cursor_int(cur, 8),
        };
        if (!e.actor || !e.action || (detail && !e.detail))
            rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
        else
            rc = fn(u, &e);
        tk_audit_entry_free(&e);
    }
    tk_cursor_close(cur);
    return rc;
}

struct item_fn {
    int (*fn)(void *u, int64_t item);
    void *u;
};

static int item_row(void *u, struct tk_cursor *cur)
{
    const struct item_fn *f = u;
    return f->fn(f->u, tk_cursor_int(cur, 0));
}

int tk_store_audit_items_with(struct tk_db *db, const int64_t *ids, size_t n, const char *action,
                              int (*fn)(void *u, int64_t item), void *u, struct tk_error *err)
{
    struct item_fn f = {fn, u};
    struct tk_db_value lead = tk_db_value_text(action);
    /* audit_item: each item's few entries */
    return tk_store_each_in(db, "SELECT item_id FROM audit WHERE action = ? AND item_id IN ", &lead,
                            1, ids, n, item_row, &f, err);
}
