/*
 * users.c - the console's staff users and their sessions (users.h).
 */
#include "store/users.h"
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

#define USER_COLS "id, name, language, created_at"

void tk_user_free(struct tk_user *u)
{
    if (!u)
        return;
    free(u->name);
    free(u->language);
    memset(u, 0, sizeof *u);
}

static int read_user(struct tk_cursor *cur, struct tk_user *u, struct tk_error *err)
{
    int oom = 0;
    memset(u, 0, sizeof *u);
    u->id = tk_cursor_int(cur, 0);
    u->name = tk_store_col_dup(cur, 1, &oom);
    u->language = tk_store_col_dup(cur, 2, &oom);
    u->created_at = tk_cursor_int(cur, 3);
    if (oom) {
        tk_user_free(u);
        return tk_error_set(err, TK_ENOMEM, "store: out of memory");
    }
    return 0;
}

int tk_store_user_add(struct tk_db *db, const char *name, const char *language, const char *pw_hash,
                      tk_time now, int64_t *id, struct tk_error *err)
{
    int64_t existing = 0, v = 0;
    int rc = tk_db_int(db, &existing, err, "SELECT id FROM users WHERE name = ?", "s", name);
    if (rc == 0)
        return tk_error_set(err, TK_ECONFLICT, "user '%s' exists already", name);
    if (rc != TK_ENOTFOUND)
        return rc;
    rc = tk_db_insert(db, &v, err,
                      "INSERT INTO users (name, language, pw_hash, created_at) VALUES (?, ?, ?, ?)",
                      "sssi", name, language, pw_hash, (int64_t)now);
    if (rc == 0 && id)
        *id = v;
    return rc;
}

int tk_store_user_get(struct tk_db *db, const char *name, struct tk_user *out, char **pw_hash,
                      struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc, r, oom = 0;
    memset(out, 0, sizeof *out);
    if (pw_hash)
        *pw_hash = NULL;
    if ((rc = tk_db_query(db, &cur, err, "SELECT " USER_COLS ", pw_hash FROM users WHERE name = ?",
                          "s", name)))
        return rc;
    r = tk_cursor_next(cur, err);
    if (r < 0) {
        rc = err ? err->code : TK_EIO;
    } else if (r == 0) {
        rc = tk_error_set(err, TK_ENOTFOUND, "no user '%s'", name);
    } else if ((rc = read_user(cur, out, err)) == 0 && pw_hash) {
        *pw_hash = tk_store_col_dup(cur, 4, &oom);
        if (oom) {
            tk_user_free(out);
            rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
        }
    }
    tk_cursor_close(cur);
    return rc;
}

int tk_store_user_set_password(struct tk_db *db, int64_t id, const char *pw_hash,
                               struct tk_error *err)
{
    return tk_db_exec(db, err, "UPDATE users SET pw_hash = ? WHERE id = ?", "si", pw_hash, id);
}

int tk_store_user_remove(struct tk_db *db, int64_t id, struct tk_error *err)
{
    int rc = tk_db_exec(db, err, "DELETE FROM sessions WHERE user_id = ?", "i", id);
    if (rc == 0)
        rc = tk_db_exec(db, err, "DELETE FROM users WHERE id = ?", "i", id);
    return rc;
}

int tk_store_user_each(struct tk_db *db, int (*fn)(void *u, const struct tk_user *us), void *u,
                       struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc, r;
    if ((rc = tk_db_query(db, &cur, err, "SELECT " USER_COLS " FROM users ORDER BY name", "")))
        return rc;
    while ((r = tk_cursor_next(cur, err)) > 0) {
        struct tk_user us;
        if ((rc = read_user(cur, &us, err)))
            break;
        rc = fn(u, &us);
        tk_user_free(&us);
        if (rc)
            break;
    }
    if (r < 0 && rc == 0)
        rc = err ? err->code : TK_EIO;
    tk_cursor_close(cur);
    return rc;
}

int tk_store_session_add(struct tk_db *db, const char *token_hash, int64_t user, tk_time now,
                         tk_time expires_at, struct tk_error *err)
{
    return tk_db_exec(db, err,
                      "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) "
                      "VALUES (?, ?, ?, ?)",
                      "siii", token_hash, user, (int64_t)now, (int64_t)expires_at);
}

int tk_store_session_user(struct tk_db *db, const char *token_hash, tk_time now,
                          struct tk_user *out, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc, r;
    memset(out, 0, sizeof *out);
    if ((rc = tk_db_query(db, &cur, err,
                          "SELECT u.id, u.name, u.language, u.created_at FROM sessions s "
                          "JOIN users u ON u.id = s.user_id "
                          "WHERE s.token_hash = ? AND s.expires_at > ?",
                          "si", token_hash, (int64_t)now)))
        return rc;
    r = tk_cursor_next(cur, err);
    if (r < 0)
        rc = err ? err->code : TK_EIO;
    else if (r == 0)
        rc = tk_error_set(err, TK_ENOTFOUND, "no session");
    else
        rc = read_user(cur, out, err);
    tk_cursor_close(cur);
    return rc;
}

int tk_store_session_remove(struct tk_db *db, const char *token_hash, struct tk_error *err)
{
    return tk_db_exec(db, err, "DELETE FROM sessions WHERE token_hash = ?", "s", token_hash);
}

int tk_store_session_purge(struct tk_db *db, int64_t user, tk_time now, struct tk_error *err)
{
    return tk_db_exec(db, err, "DELETE FROM sessions WHERE user_id = ? OR expires_at <= ?", "ii",
                      user, (int64_t)now);
}
