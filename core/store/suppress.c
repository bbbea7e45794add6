/*
 * suppress.c - what came back (issue 15): suppressed addresses, the record
 * of each inbound message under its key, and the outbox lookups that tie a
 * bounce or a reply to what tickler sent.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store.h"

/* EMAIL lower-cased into OUT (SIZE bytes); TK_EINVAL when it does not fit.
 * Suppressions are per address whatever its case: a bounce names the
 * address as the MTA wrote it. */
static int lower(const char *email, char *out, size_t size, struct tk_error *err)
{
    size_t n = email ? strlen(email) : 0;
    if (n == 0 || n >= size)
        return tk_error_set(err, TK_EINVAL, "bad address to suppress");
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)(email[i] >= 'A' && email[i] <= 'Z' ? email[i] + 32 : email[i]);
    return 0;
}

void tk_suppression_free(struct tk_suppression *s)
{
    if (!s)
        return;
    free(s->email);
    free(s->reason);
    free(s->source);
    memset(s, 0, sizeof *s);
}

int tk_store_suppression_get(struct tk_db *db, const char *email, struct tk_suppression *out,
                             struct tk_error *err)
{
    char key[512];
    struct tk_cursor *cur = NULL;
    int rc, r, oom = 0;
    memset(out, 0, sizeof *out);
    if ((rc = lower(email, key, sizeof key, err)))
        return rc;
    rc = tk_db_query(db, &cur, err,
                     "SELECT id, email, reason, source, at, outbox_id FROM suppressions "
                     "WHERE email = ?",
                     "s", key);
    if (rc)
        return rc;
    r = tk_cursor_next(cur, err);
    if (r < 0) {
        rc = err ? err->code : TK_EIO;
    } else if (r == 0) {
        rc = tk_error_set(err, TK_ENOTFOUND, "%s is not suppressed", key);
    } else {
        out->id = tk_cursor_int(cur, 0);
        out->email = tk_store_col_dup(cur, 1, &oom);
        out->reason = tk_store_col_dup(cur, 2, &oom);
        out->source = tk_store_col_dup(cur, 3, &oom);
        out->at = tk_cursor_int(cur, 4);
        out->outbox_id = tk_cursor_int(cur, 5);
        if (oom) {
            tk_suppression_free(out);
            rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
        }
    }
    tk_cursor_close(cur);
    return rc;
}

int tk_store_suppression_add(struct tk_db *db, const char *email, const char *reason,
                             const char *source, int64_t outbox_id, tk_time now, int *added,
                             struct tk_error *err)
{
    char key[512];
    int64_t id = 0;
    int rc;
    if (added)
        *added = 0;
    if ((rc = lower(email, key, sizeof key, err)))
        return rc;
    rc = tk_db_int(db, &id, err, "SELECT id FROM suppressions WHERE email = ?", "s", key);
    if (rc == 0)
        return 0;
    if (rc != TK_ENOTFOUND)
        return rc;
    rc = tk_db_insert(db, &id, err,
                      "INSERT INTO suppressions (email, reason, at, outbox_id, source) "
                      "VALUES (?, ?, ?, ?, ?)",
                      "ssizs", key, reason ? reason : "", (int64_t)now, outbox_id,
                      source ? source : "");
    if (rc == 0 && added)
        *added = 1;
    return rc;
}

int tk_store_suppression_remove(struct tk_db *db, const char *email, struct tk_error *err)
{
    char key[512];
    int64_t n = 0;
    int rc;
    if ((rc = lower(email, key, sizeof key, err)) ||
        (rc = tk_db_exec(db, err, "DELETE FROM suppressions WHERE email = ?", "s", key)))
        return rc;
    tk_db_changes(db, &n);
    return n ? 0 : tk_error_set(err, TK_ENOTFOUND, "%s is not suppressed", key);
}

int tk_store_inbound_seen(struct tk_db *db, const char *key, int *seen, struct tk_error *err)
{
    int64_t id = 0;
    int rc = tk_db_int(db, &id, err, "SELECT id FROM inbound WHERE msg_key = ?", "s", key);
    *seen = rc == 0;
    return rc == TK_ENOTFOUND ? 0 : rc;
}

int tk_store_inbound_add(struct tk_db *db, const struct tk_inbound_record *r, struct tk_error *err)
{
    int seen = 0;
    int64_t id = 0;
    int rc = tk_store_inbound_seen(db, r->key, &seen, err);
    if (rc)
        return rc;
    if (seen)
        return tk_error_set(err, TK_ECONFLICT, "message %s was recorded already", r->key);
    return tk_db_insert(
        db, &id, err,
        "INSERT INTO inbound (msg_key, at, class, reason, sender, subject, item_id, "
        "account_id, outbox_id, action) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "sisssszzzs", r->key, (int64_t)r->at, r->cls, r->reason, r->sender, r->subject, r->item_id,
        r->account_id, r->outbox_id, r->action);
}

int tk_store_outbox_by_message_id(struct tk_db *db, const char *msgid, struct tk_outbox_row *out,
                                  struct tk_error *err)
{
    int64_t id = 0;
    int rc;
    memset(out, 0, sizeof *out);
    rc = tk_db_int(db, &id, err, "SELECT MIN(id) FROM outbox WHERE message_id = ?", "s", msgid);
    if (rc == 0 && id <= 0)
        rc = TK_ENOTFOUND;
    if (rc == TK_ENOTFOUND)
        return tk_error_set(err, TK_ENOTFOUND, "tickler sent no message %s", msgid);
    return rc ? rc : tk_store_outbox_get(db, id, out, err);
}

int tk_store_outbox_set_sender(struct tk_db *db, int64_t id, const char *sender,
                               struct tk_error *err)
{
    return tk_db_exec(db, err, "UPDATE outbox SET sender = ? WHERE id = ?", "si", sender, id);
}

int tk_store_outbox_hard_failures(struct tk_db *db, const char *email, int64_t *n,
                                  struct tk_error *err)
{
    char key[512];
    int rc = lower(email, key, sizeof key, err);
    if (rc)
        return rc;
    return tk_db_int(db, n, err,
                     "SELECT COUNT(*) FROM outbox WHERE lower(recipient) = ? AND state = 2 "
                     "AND reply_code >= 500 AND reply_code < 600",
                     "s", key);
}
