/*
 * webhooks.c - outbound subscriptions and inbound replay records (see
 * webhooks.h).  Portable SQL only: ON CONFLICT for the replay record, so
 * that two deliveries of one id racing on PostgreSQL record one.
 */
#include "store/webhooks.h"
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

void tk_webhook_sub_free(struct tk_webhook_sub *s)
{
    if (!s)
        return;
    free(s->url);
    free(s->events);
    free(s->secret);
    memset(s, 0, sizeof *s);
}

int tk_store_webhook_add(struct tk_db *db, const char *url, const char *events, const char *secret,
                         tk_time now, int64_t *id, struct tk_error *err)
{
    int64_t v = 0;
    tk_db_tx_touch(db); /* engine/webhooks.c keeps "no webhook" per serial */
    int rc = tk_db_insert(
        db, &v, err, "INSERT INTO webhooks (url, events, secret, created_at) VALUES (?, ?, ?, ?)",
        "sssi", url, events, secret, (int64_t)now);
    if (rc == 0 && id)
        *id = v;
    return rc;
}

int tk_store_webhook_remove(struct tk_db *db, int64_t id, int64_t *dropped, struct tk_error *err)
{
    int64_t n = 0, rows = 0;
    tk_db_tx_touch(db); /* as in tk_store_webhook_add */
    /* The rows of this subscription (step = its id, see engine/webhooks.c)
     * that are not delivered: their texts first (outbox_data has no
     * working cascade on SQLite without PRAGMA foreign_keys). */
    int rc = tk_db_exec(db, err,
                        "DELETE FROM outbox_data WHERE outbox_id IN (SELECT id FROM outbox WHERE "
                        "kind LIKE 'webhook:%' AND step = ? AND state <> 1)",
                        "i", id);
    if (rc == 0)
        rc = tk_db_exec(
            db, err, "DELETE FROM outbox WHERE kind LIKE 'webhook:%' AND step = ? AND state <> 1",
            "i", id);
    if (rc == 0)
        tk_db_changes(db, &rows);
    if (rc == 0)
        rc = tk_db_exec(db, err, "DELETE FROM webhooks WHERE id = ?", "i", id);
    if (rc != 0)
        return rc;
    tk_db_changes(db, &n);
    if (n == 0)
        return tk_error_set(err, TK_ENOTFOUND, "no webhook %lld", (long long)id);
    if (dropped)
        *dropped = rows;
    return 0;
}

int tk_store_webhook_each(struct tk_db *db, int (*fn)(void *u, const struct tk_webhook_sub *s),
                          void *u, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc = tk_db_query(
        db, &cur, err, "SELECT id, url, events, secret, created_at FROM webhooks ORDER BY id", "");
    if (rc != 0)
        return rc;
    int r;
    while (rc == 0 && (r = tk_cursor_next(cur, err)) != 0) {
        struct tk_webhook_sub s = {0};
        int oom = 0;
        if (r < 0) {
            rc = err ? err->code : TK_EIO;
            break;
        }
        s.id = tk_cursor_int(cur, 0);
        s.url = tk_store_col_dup(cur, 1, &oom);
        s.events = tk_store_col_dup(cur, 2, &oom);
        s.secret = tk_store_col_dup(cur, 3, &oom);
        s.created_at = tk_cursor_int(cur, 4);
        if (oom || !s.url || !s.events || !s.secret)
            rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
        else
            rc = fn(u, &s);
        tk_webhook_sub_free(&s);
    }
    tk_cursor_close(cur);
    return rc;
}

int tk_store_webhook_seen(struct tk_db *db, const char *hook, const char *delivery, tk_time now,
                          tk_time window, int *seen, struct tk_error *err)
{
    int64_t n = 0;
    *seen = 0;
    int rc = tk_db_exec(db, err, "DELETE FROM webhook_seen WHERE seen_at < ?", "i",
                        (int64_t)(now - window));
    if (rc == 0)
        rc = tk_db_exec(db, err,
                        "INSERT INTO webhook_seen (hook, delivery, seen_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (hook, delivery) DO NOTHING",
                        "ssi", hook, delivery, (int64_t)now);
    if (rc != 0)
        return rc;
    tk_db_changes(db, &n);
    *seen = n == 0;
    return 0;
}
