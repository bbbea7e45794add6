/*
 * api.c - tokens and idempotency records of the HTTP API (store/api.h).
 */
#include "store/api.h"
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

void tk_api_token_free(struct tk_api_token *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->scope);
    memset(t, 0, sizeof *t);
}

void tk_api_idem_free(struct tk_api_idem *r)
{
    if (!r)
        return;
    free(r->request_hash);
    free(r->body);
    memset(r, 0, sizeof *r);
}

int tk_store_token_add(struct tk_db *db, const char *name, const char *scope, const char *hash,
                       tk_time now, int64_t *id, struct tk_error *err)
{
    int64_t n = 0;
    int rc = tk_db_int(db, &n, err, "SELECT COUNT(*) FROM api_tokens WHERE name = ?", "s", name);
    if (rc)
        return rc;
    if (n)
        return tk_error_set(err, TK_ECONFLICT, "a token named '%s' exists already", name);
    return tk_db_insert(
        db, id, err, "INSERT INTO api_tokens (name, scope, hash, created_at) VALUES (?, ?, ?, ?)",
        "sssi", name, scope, hash, (int64_t)now);
}

int tk_store_token_delete(struct tk_db *db, const char *name, struct tk_error *err)
{
    int64_t n = 0;
    int rc = tk_db_exec(db, err, "DELETE FROM api_tokens WHERE name = ?", "s", name);
    if (rc)
        return rc;
    tk_db_changes(db, &n);
    if (!n)
        return tk_error_set(err, TK_ENOTFOUND, "no token '%s'", name);
    return 0;
}

static int read_token(struct tk_cursor *cur, struct tk_api_token *t, struct tk_error *err)
{
    int oom = 0;
    memset(t, 0, sizeof *t);
    t->id = tk_cursor_int(cur, 0);
    t->name = tk_store_col_dup(cur, 1, &oom);
    t->scope = tk_store_col_dup(cur, 2, &oom);
    t->created_at = tk_cursor_int(cur, 3);
    t->last_used_at = tk_cursor_int(cur, 4);
    if (oom) {
        tk_api_token_free(t);
        return tk_error_set(err, TK_ENOMEM, "store: out of memory");
    }
    return 0;
}

#define TOKEN_COLS "SELECT id, name, scope, created_at, last_used_at, hash FROM api_tokens "

int tk_store_token_by_hash(struct tk_db *db, const char *hash, struct tk_api_token *out,
                           char stored_hash[65], struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int r;
    memset(out, 0, sizeof *out);
    if (tk_db_query(db, &cur, err, TOKEN_COLS "WHERE hash = ?", "s", hash))
        return -1;
    r = tk_cursor_next(cur, err);
    if (r > 0) {
        const char *h = tk_cursor_text(cur, 5);
        tk_strlcpy(stored_hash, h ? h : "", 65);
        if (read_token(cur, out, err))
            r = -1;
    }
    tk_cursor_close(cur);
    return r;
}

int tk_store_token_touch(struct tk_db *db, int64_t id, tk_time now, struct tk_error *err)
{
    return tk_db_exec(db, err,
                      "UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND "
                      "(last_used_at IS NULL OR last_used_at < ?)",
                      "iii", (int64_t)now, id, (int64_t)now);
}

int tk_store_token_each(struct tk_db *db, int (*fn)(void *u, const struct tk_api_token *t), void *u,
                        struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc, r;
    if ((rc = tk_db_query(db, &cur, err, TOKEN_COLS "ORDER BY name", "")))
        return rc;
    while (rc == 0 && (r = tk_cursor_next(cur, err)) != 0) {
        struct tk_api_token t;
        if (r < 0 || read_token(cur, &t, err)) {
            rc = err && err->code ? err->code : TK_EIO;
            break;
        }
        rc = fn(u, &t);
        tk_api_token_free(&t);
    }
    tk_cursor_close(cur);
    return rc;
}

int tk_store_idem_get(struct tk_db *db, const char *token, const char *key, tk_time since,
                      struct tk_api_idem *out, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int r, oom = 0;
    memset(out, 0, sizeof *out);
    if (tk_db_query(db, &cur, err,
                    "SELECT request_hash, status, body, created_at FROM api_idempotency "
                    "WHERE token = ? AND idem_key = ? AND created_at >= ?",
                    "ssi", token, key, (int64_t)since))
        return -1;
    r = tk_cursor_next(cur, err);
    if (r > 0) {
        out->request_hash = tk_store_col_dup(cur, 0, &oom);
        out->status = (int)tk_cursor_int(cur, 1);
        out->body = tk_store_col_dup(cur, 2, &oom);
        out->created_at = tk_cursor_int(cur, 3);
        if (oom) {
            tk_api_idem_free(out);
            tk_error_set(err, TK_ENOMEM, "store: out of memory");
            r = -1;
        }
    }
    tk_cursor_close(cur);
    return r;
}

int tk_store_idem_put(struct tk_db *db, const char *token, const char *key,
                      const char *request_hash, int status, const char *body, tk_time now,
                      struct tk_error *err)
{
    /* An expired record of the same key gives way (prune may not have run). */
    int rc = tk_db_exec(db, err, "DELETE FROM api_idempotency WHERE token = ? AND idem_key = ?",
                        "ss", token, key);
    if (rc)
        return rc;
    return tk_db_exec(db, err,
                      "INSERT INTO api_idempotency (token, idem_key, request_hash, status, body, "
                      "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                      "sssisi", token, key, request_hash, (int64_t)status, body, (int64_t)now);
}

int tk_store_idem_prune(struct tk_db *db, tk_time before, int64_t *n, struct tk_error *err)
{
    int rc = tk_db_exec(db, err, "DELETE FROM api_idempotency WHERE created_at < ?", "i",
                        (int64_t)before);
    if (!rc && n)
        tk_db_changes(db, n);
    return rc;
}

int tk_store_item_counts(struct tk_db *db,
                         int (*fn)(void *u, const char *type, const char *state, int64_t n),
                         void *u, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc, r;
    if ((rc = tk_db_query(db, &cur, err,
                          "SELECT type, state, COUNT(*) FROM items GROUP BY type, state "
                          "ORDER BY type, state",
                          "")))
        return rc;
    while (rc == 0 && (r = tk_cursor_next(cur, err)) != 0) {
        if (r < 0) {
            rc = err && err->code ? err->code : TK_EIO;
            break;
        }
        rc = fn(u, tk_cursor_text(cur, 0), tk_cursor_text(cur, 1), tk_cursor_int(cur, 2));
    }
    tk_cursor_close(cur);
    return rc;
}

int tk_store_reminders_sent(struct tk_db *db, int64_t *out, struct tk_error *err)
{
    return tk_db_int(db, out, err, "SELECT COALESCE(SUM(rem_sent), 0) FROM items", "");
}

int tk_store_outbox_latency(struct tk_db *db, const int *bounds, size_t n, int64_t *le,
                            int64_t *count, int64_t *sum, struct tk_error *err)
{
    struct tk_buf sql = {0};
    struct tk_cursor *cur = NULL;
    int rc = 0, r;
    tk_buf_puts(&sql, "SELECT COUNT(*), COALESCE(SUM(sent_at - created_at), 0)");
    for (size_t i = 0; i < n; i++)
        tk_buf_printf(&sql,
                      ", COALESCE(SUM(CASE WHEN sent_at - created_at <= %d THEN 1 ELSE 0 END), 0)",
                      bounds[i]);
    if (tk_buf_puts(&sql, " FROM outbox WHERE state = 1 AND sent_at IS NOT NULL")) {
        tk_buf_free(&sql);
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    if ((rc = tk_db_query(db, &cur, err, sql.data, ""))) {
        tk_buf_free(&sql);
        return rc;
    }
    r = tk_cursor_next(cur, err);
    if (r < 0) {
        rc = err && err->code ? err->code : TK_EIO;
    } else if (r > 0) {
        *count = tk_cursor_int(cur, 0);
        *sum = tk_cursor_int(cur, 1);
        for (size_t i = 0; i < n; i++)
            le[i] = tk_cursor_int(cur, (int)(2 + i));
    }
    tk_cursor_close(cur);
    tk_buf_free(&sql);
    return rc;
}

int tk_store_outbox_sent(struct tk_db *db, int64_t *out, struct tk_error *err)
{
    return tk_db_int(db, out, err, "SELECT COUNT(*) FROM outbox WHERE state = 1", "");
}
