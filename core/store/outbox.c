/*
 * outbox.c - messages waiting to be delivered, with leases and fencing.
 *
 * A sender claims rows (a lease until lease_until, under a fresh token from
 * sequence "lease"), delivers without holding a transaction, and records the
 * outcome only if its token is still the row's token.  A sender that stalls
 * past its lease loses the row to the next claim, and its late outcome is
 * refused (TK_ECONFLICT) instead of overwriting the newer attempt's.
 * idem_key is UNIQUE, so enqueueing the same message twice is harmless.
 */
#include "store/store.h"
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

#define OUTBOX_LIST                                                                                \
    "id, item_id, account_id, kind, step, recipient, idem_key, message_id, sender, data, "         \
    "state, attempts, created_at, next_attempt_at, sent_at, lease_token, lease_until, "            \
    "reply_code, last_reply, data_dropped_at "
/* The message text lives in outbox_data (schema v2), so that a claim or a
 * settle rewrites a small row; every read of whole rows joins it back. */
#define OUTBOX_COLS_FROM(TABLE)                                                                    \
    "SELECT " OUTBOX_LIST "FROM " TABLE " LEFT JOIN outbox_data ON outbox_id = " TABLE ".id "
#define OUTBOX_COLS OUTBOX_COLS_FROM("outbox")

void tk_outbox_row_free(struct tk_outbox_row *r)
{
    if (!r)
        return;
    free(r->kind);
    free(r->recipient);
    free(r->idem_key);
    free(r->message_id);
    free(r->sender);
    free(r->data);
    free(r->last_reply);
    memset(r, 0, sizeof *r);
}

static int read_row(struct tk_cursor *cur, struct tk_outbox_row *r, struct tk_error *err)
{
    int oom = 0;
    memset(r, 0, sizeof *r);
    r->id = tk_cursor_int(cur, 0);
    r->item_id = tk_cursor_int(cur, 1);
    r->account_id = tk_cursor_int(cur, 2);
    r->kind = tk_store_col_dup(cur, 3, &oom);
    r->step = (int)tk_cursor_int(cur, 4);
    r->recipient = tk_store_col_dup(cur, 5, &oom);
    r->idem_key = tk_store_col_dup(cur, 6, &oom);
    r->message_id = tk_store_col_dup(cur, 7, &oom);
    r->sender = tk_store_col_dup(cur, 8, &oom);
    r->data = tk_store_col_dup(cur, 9, &oom);
    r->state = (int)tk_cursor_int(cur, 10);
    r->attempts = (int)tk_cursor_int(cur, 11);
    r->created_at = tk_cursor_int(cur, 12);
    r->next_attempt_at = tk_cursor_int(cur, 13);
    r->sent_at = tk_cursor_int(cur, 14);
    r->lease_token = tk_cursor_int(cur, 15);
    r->lease_until = tk_cursor_int(cur, 16);
    r->reply_code = (int)tk_cursor_int(cur, 17);
    r->last_reply = tk_store_col_dup(cur, 18, &oom);
    r->data_dropped_at = tk_cursor_int(cur, 19);
    if (oom) {
        tk_outbox_row_free(r);
        return tk_error_set(err, TK_ENOMEM, "store: out of memory");
    }
    return 0;
}

int tk_store_outbox_add(struct tk_db *db, struct tk_outbox_row *r, int64_t *id, int *dup,
                        struct tk_error *err)
{
    int64_t v = 0;
    if (dup)
        *dup = 0;
    if (!r->idem_key || !*r->idem_key || !r->kind || !r->recipient)
        return tk_error_set(err, TK_EINVAL, "outbox message needs kind, recipient and idem_key");
    int rc = tk_db_insert(
        db, &v, err,
        "INSERT INTO outbox (item_id, account_id, kind, step, recipient, idem_key, "
        "message_id, sender, state, attempts, created_at, next_attempt_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?) "
        "ON CONFLICT (idem_key) DO NOTHING",
        "zzsissssii", r->item_id, r->account_id, r->kind, (int64_t)r->step, r->recipient,
        r->idem_key, r->message_id, r->sender, (int64_t)r->created_at, (int64_t)r->next_attempt_at);
    if (rc == 0)
        rc = tk_db_exec(db, err, "INSERT INTO outbox_data (outbox_id, data) VALUES (?, ?)", "is", v,
                        r->data ? r->data : "");
    else if (rc == TK_ENOTFOUND) {
        rc = tk_db_int(db, &v, err, "SELECT id FROM outbox WHERE idem_key = ?", "s", r->idem_key);
        if (rc == 0 && dup)
            *dup = 1;
    }
    if (rc != 0)
        return rc;
    r->id = v;
    if (id)
        *id = v;
    return 0;
}

int tk_store_outbox_get(struct tk_db *db, int64_t id, struct tk_outbox_row *out,
                        struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    memset(out, 0, sizeof *out);
    int rc = tk_db_query(db, &cur, err, OUTBOX_COLS "WHERE id = ?", "i", id);
    if (rc != 0)
        return rc;
    int r = tk_cursor_next(cur, err);
    if (r < 0)
        rc = err ? err->code : TK_EIO;
    else if (r == 0)
        rc = tk_error_set(err, TK_ENOTFOUND, "no outbox message %lld", (long long)id);
    else
        rc = read_row(cur, out, err);
    tk_cursor_close(cur);
    return rc;
}

int tk_store_outbox_first_message_id(struct tk_db *db, int64_t item, const char *recipient,
                                     char *buf, size_t size, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    /* outbox_item narrows it to the item's few rows */
    int rc = tk_db_query(db, &cur, err,
                         "SELECT message_id FROM outbox WHERE item_id = ? AND recipient = ? "
                         "AND message_id IS NOT NULL ORDER BY id LIMIT 1",
                         "is", item, recipient);
    buf[0] = '\0';
    if (rc != 0)
        return rc;
    int r = tk_cursor_next(cur, err);
    if (r < 0) {
        rc = err ? err->code : TK_EIO;
    } else if (r > 0) {
        const char *v = tk_cursor_text(cur, 0);
        if (v && strlen(v) < size)
            memcpy(buf, v, strlen(v) + 1);
    }
    tk_cursor_close(cur);
    return rc;
}

/* Read up to LIMIT rows of CUR into V (adding to *GOT) and close CUR. */
static int read_rows(struct tk_cursor *cur, struct tk_outbox_row *v, size_t limit, size_t *got,
                     struct tk_error *err)
{
    int rc = 0, r = 0;
    while (*got < limit && (r = tk_cursor_next(cur, err)) > 0) {
        if ((rc = read_row(cur, &v[*got], err)) != 0)
            break;
        (*got)++;
    }
    if (rc == 0 && r < 0)
        rc = err ? err->code : TK_EIO;
    tk_cursor_close(cur);
    return rc;
}

/* TK_DB_CLAIM_SKIP_LOCKED (PostgreSQL): several dispatchers claim at once.
 * The dialect's skip_locked (FOR UPDATE SKIP LOCKED) lets each take rows
 * nobody else is taking, without waiting; one fencing token covers the
 * batch (a later claim of any row gets a larger one), so the hot "lease"
 * counter row is touched once per batch, and only when there is work.  A
 * row whose lease expired under a concurrent claim is re-checked by the
 * server before it is locked (READ COMMITTED re-reads an updated row), so
 * two claims never hold the same row.  The rows are updated and read back,
 * with their texts, in one statement. */
static int claim_skip_locked(struct tk_db *db, tk_time now, int lease_seconds, size_t limit,
                             struct tk_outbox_row *v, size_t *got, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    struct tk_buf sql = {0};
    struct tk_db_value *vals = NULL;
    size_t n = 0;
    int64_t token = 0;
    char pick[512];
    int rc, r = 0;
    rc = tk_store_sql_with(pick, sizeof pick,
                           "SELECT id FROM outbox WHERE state = 0 AND next_attempt_at <= ? "
                           "AND lease_until <= ? ORDER BY next_attempt_at, id LIMIT ?",
                           tk_db_dialect(db)->skip_locked, err);
    if (rc == 0)
        rc = tk_db_query(db, &cur, err, pick, "iii", (int64_t)now, (int64_t)now, (int64_t)limit);
    if (rc != 0)
        return rc;
    /* The token and the lease first, then one value per id. */
    if (!(vals = calloc(limit + 2, sizeof *vals)))
        rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
    while (rc == 0 && n < limit && (r = tk_cursor_next(cur, err)) > 0)
        vals[2 + n++] = tk_db_value_int(tk_cursor_int(cur, 0));
    tk_cursor_close(cur);
    if (rc == 0 && r < 0)
        rc = err ? err->code : TK_EIO;
    if (rc != 0 || n == 0) {
        free(vals);
        return rc;
    }
    int ok = tk_buf_puts(&sql, "WITH u AS (UPDATE outbox SET lease_token = ?, lease_until = ?, "
                               "attempts = attempts + 1 WHERE id IN ") == 0 &&
             tk_store_in_list(&sql, n) == 0;
    static const char returning[] =
        " RETURNING *) " OUTBOX_COLS_FROM("u") "ORDER BY next_attempt_at, id";
    ok = ok && tk_buf_puts(&sql, returning) == 0;
    if (!ok)
        rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
    if (rc == 0 && (rc = tk_store_sequence_next(db, "lease", &token, err)) == 0) {
        vals[0] = tk_db_value_int(token);
        vals[1] = tk_db_value_int((int64_t)(now + lease_seconds));
        rc = tk_db_query_v(db, &cur, err, sql.data, vals, n + 2);
    }
    tk_buf_free(&sql);
    free(vals);
    if (rc != 0)
        return rc;
    return read_rows(cur, v, limit, got, err);
}

int tk_store_outbox_due(struct tk_db *db, tk_time now, size_t limit, struct tk_outbox_row *v,
                        size_t *got, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc =
        tk_db_query(db, &cur, err,
                    OUTBOX_COLS "WHERE state = 0 AND next_attempt_at <= ? AND lease_until <= ? "
                                "ORDER BY next_attempt_at, id LIMIT ?",
                    "iii", (int64_t)now, (int64_t)now, (int64_t)limit);
    if (rc != 0)
        return rc;
    return read_rows(cur, v, limit, got, err);
}

/* Whether the ids of ROWS[0..N) are N distinct consecutive numbers, more
 * than two (an IN list of two costs SQLite no temporary table), from *LO
 * to *HI.  At most 64 of them, one bit each; a repeated id leaves a bit
 * unset, and the rows then go by IN, where the changed-row count refuses
 * the repeat as before. */
static int id_run(const struct tk_outbox_row *rows, size_t n, int64_t *lo, int64_t *hi)
{
    uint64_t seen = 0;
    size_t i;
    if (n <= 2 || n > 64)
        return 0;
    *lo = *hi = rows[0].id;
    for (i = 1; i < n; i++) {
        *lo = rows[i].id < *lo ? rows[i].id : *lo;
        *hi = rows[i].id > *hi ? rows[i].id : *hi;
    }
    if ((uint64_t)*hi - (uint64_t)*lo != n - 1)
        return 0;
    for (i = 0; i < n; i++)
        seen |= (uint64_t)1 << (uint64_t)(rows[i].id - *lo);
    return seen == (n == 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1);
}

int tk_store_outbox_lease(struct tk_db *db, struct tk_outbox_row *v, size_t n, int64_t token,
                          tk_time until, struct tk_error *err)
{
    int64_t changed = 0;
    int rc;
    if (n == 0)
        return 0;
    /* The rows just read, by id, inside the same transaction: nobody
     * changed them meanwhile, which the count below confirms.  (Running
     * the read's conditions again cost 1.2k more instructions per row;
     * issue 17.) */
    struct tk_db_value *vals = calloc(n + 2, sizeof *vals);
    struct tk_buf sql = {0};
    int64_t lo = 0, hi = 0;
    /* consecutive ids as one range, without SQLite's temporary b-tree for
     * the IN list (id_run) */
    int run = id_run(v, n, &lo, &hi);
    int ok = vals &&
             tk_buf_puts(&sql, "UPDATE outbox SET lease_token = ?, lease_until = ?, "
                               "attempts = attempts + 1 WHERE id ") == 0 &&
             (run ? tk_buf_puts(&sql, "BETWEEN ? AND ?") == 0
                  : tk_buf_puts(&sql, "IN ") == 0 && tk_store_in_list(&sql, n) == 0);
    if (ok) {
        size_t k = 2;
        vals[0] = tk_db_value_int(token);
        vals[1] = tk_db_value_int((int64_t)until);
        if (run) {
            vals[k++] = tk_db_value_int(lo);
            vals[k++] = tk_db_value_int(hi);
        } else {
            for (size_t i = 0; i < n; i++)
                vals[k++] = tk_db_value_int(v[i].id);
        }
        rc = tk_db_exec_v(db, err, sql.data, vals, k);
    } else {
        rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
    }
    tk_buf_free(&sql);
    free(vals);
    if (rc != 0)
        return rc;
    tk_db_changes(db, &changed);
    if (changed != (int64_t)n)
        return tk_error_set(err, TK_ECONFLICT, "outbox claim: %lld rows read but %lld updated",
                            (long long)n, (long long)changed);
    for (size_t i = 0; i < n; i++) {
        v[i].lease_token = token;
        v[i].lease_until = until;
        v[i].attempts++;
    }
    return 0;
}

/* TK_DB_CLAIM_SERIAL (SQLite): the caller holds an immediate transaction,
 * so nobody claims the same rows between the read and the update.  As with
 * TK_DB_CLAIM_SKIP_LOCKED, one fencing token covers the batch, taken only
 * when there is work (an idle daemon must not write).  The rows, with their texts from outbox_data,
 * are read once, then updated with one statement: SQLite's UPDATE ... RETURNING would buffer every
 * row in a temporary table and cannot join the text. */
static int claim_serial(struct tk_db *db, tk_time now, int lease_seconds, size_t limit,
                        struct tk_outbox_row *v, size_t *got, struct tk_error *err)
{
    int64_t token = 0;
    int rc = tk_store_outbox_due(db, now, limit, v, got, err);
    if (rc != 0 || *got == 0 || (rc = tk_store_sequence_next(db, "lease", &token, err)) != 0)
        return rc;
    return tk_store_outbox_lease(db, v, *got, token, now + lease_seconds, err);
}

int tk_store_outbox_claim(struct tk_db *db, tk_time now, int lease_seconds, size_t limit,
                          struct tk_outbox_row **rows, size_t *n, struct tk_error *err)
{
    *rows = NULL;
    *n = 0;
    if (limit == 0)
        return 0;
    struct tk_outbox_row *v = calloc(limit, sizeof *v);
    size_t got = 0;
    if (!v)
        return tk_error_set(err, TK_ENOMEM, "store: out of memory");
    int rc = tk_db_dialect(db)->claim == TK_DB_CLAIM_SKIP_LOCKED
                 ? claim_skip_locked(db, now, lease_seconds, limit, v, &got, err)
                 : claim_serial(db, now, lease_seconds, limit, v, &got, err);
    if (rc != 0 || got == 0) {
        for (size_t i = 0; i < got; i++)
            tk_outbox_row_free(&v[i]);
        free(v);
        return rc;
    }
    *rows = v;
    *n = got;
    return 0;
}

static int stale(struct tk_db *db, int64_t id, int64_t token, struct tk_error *err)
{
    int64_t n = 0;
    tk_db_changes(db, &n);
    if (n)
        return 0;
    return tk_error_set(err, TK_ECONFLICT,
                        "outbox message %lld: stale claim (token %lld was taken over)",
                        (long long)id, (long long)token);
}

int tk_store_outbox_finish(struct tk_db *db, int64_t id, int64_t token, int state, tk_time now,
                           tk_time next_attempt_at, int reply_code, const char *reply,
                           struct tk_error *err)
{
    int rc;
    switch (state) {
    case TK_OUTBOX_QUEUED:
        rc = tk_db_exec(db, err,
                        "UPDATE outbox SET state = 0, next_attempt_at = ?, lease_until = 0, "
                        "reply_code = ?, last_reply = ? WHERE id = ? AND lease_token = ?",
                        "izsii", (int64_t)next_attempt_at, (int64_t)reply_code, reply, id, token);
        break;
    case TK_OUTBOX_SENT:
        rc = tk_db_exec(db, err,
                        "UPDATE outbox SET state = 1, sent_at = ?, lease_until = 0, "
                        "reply_code = ?, last_reply = ? WHERE id = ? AND lease_token = ?",
                        "izsii", (int64_t)now, (int64_t)reply_code, reply, id, token);
        break;
    case TK_OUTBOX_DEAD:
        rc = tk_db_exec(db, err,
                        "UPDATE outbox SET state = 2, lease_until = 0, "
                        "reply_code = ?, last_reply = ? WHERE id = ? AND lease_token = ?",
                        "zsii", (int64_t)reply_code, reply, id, token);
        break;
    default:
        return tk_error_set(err, TK_EINVAL, "outbox: bad state %d", state);
    }
    return rc != 0 ? rc : stale(db, id, token, err);
}

int tk_store_outbox_sent_unleased(struct tk_db *db, const struct tk_outbox_row *rows, size_t n,
                                  int64_t token, tk_time due_at, tk_time now, const int *codes,
                                  const char *const *replies, struct tk_error *err)
{
    int64_t changed = 0, lo = 0, hi = 0;
    int rc = 0, ok, run;
    size_t i, k = 0;
    if (n == 0)
        return 0;
    /* what tk_store_outbox_lease and then tk_store_outbox_finish (SENT)
     * leave in each row, in one statement: one write a row.  The rows must
     * still be as read: queued, their lease free (the caller's transaction
     * holds the write lock; the count below confirms it). */
    struct tk_db_value *vals = calloc(5 * n + 3, sizeof *vals);
    struct tk_buf sql = {0};
    ok = vals &&
         tk_buf_puts(&sql, "UPDATE outbox SET state = 1, sent_at = ?, lease_token = ?, "
                           "lease_until = 0, attempts = attempts + 1, reply_code = CASE id") == 0;
    if (ok) {
        vals[k++] = tk_db_value_int((int64_t)now);
        vals[k++] = tk_db_value_int(token);
    }
    for (i = 0; ok && i < n; i++) {
        ok = tk_buf_puts(&sql, " WHEN ? THEN ?") == 0;
        vals[k++] = tk_db_value_int(rows[i].id);
        vals[k++] = codes[i] ? tk_db_value_int(codes[i]) : tk_db_value_null();
    }
    ok = ok && tk_buf_puts(&sql, " END, last_reply = CASE id") == 0;
    for (i = 0; ok && i < n; i++) {
        ok = tk_buf_puts(&sql, " WHEN ? THEN ?") == 0;
        vals[k++] = tk_db_value_int(rows[i].id);
        vals[k++] = tk_db_value_text(replies[i]);
    }
    ok = ok && tk_buf_puts(&sql, " END WHERE state = 0 AND lease_until <= ? AND id ") == 0;
    /* Most often the ids are one run, lo, lo + 1, ..., lo + n - 1 (the
     * rows were read in (next_attempt_at, id) order, queued together):
     * then "BETWEEN lo AND hi" names exactly them, one range of the
     * primary key.  For an IN list of more than two values SQLite builds a
     * temporary b-tree every execution, 2-3k instructions a message of 8
     * (bench/RESULTS.md, update 74). */
    run = id_run(rows, n, &lo, &hi);
    if (run)
        ok = ok && tk_buf_puts(&sql, "BETWEEN ? AND ?") == 0;
    else
        ok = ok && tk_buf_puts(&sql, "IN ") == 0 && tk_store_in_list(&sql, n) == 0;
    if (ok) {
        vals[k++] = tk_db_value_int((int64_t)due_at);
        if (run) {
            vals[k++] = tk_db_value_int(lo);
            vals[k++] = tk_db_value_int(hi);
        } else {
            for (i = 0; i < n; i++)
                vals[k++] = tk_db_value_int(rows[i].id);
        }
        rc = tk_db_exec_v(db, err, sql.data, vals, k);
    } else {
        rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
    }
    tk_buf_free(&sql);
    free(vals);
    if (rc != 0)
        return rc;
    tk_db_changes(db, &changed);
    if (changed == (int64_t)n)
        return 0;
    return tk_error_set(err, TK_ECONFLICT,
                        "outbox: %lld of %zu messages changed while they were sent",
                        (long long)((int64_t)n - changed), n);
}

/* The claim counted an attempt that never happened: take it back. */
int tk_store_outbox_release(struct tk_db *db, int64_t id, int64_t token, struct tk_error *err)
{
    int rc = tk_db_exec(db, err,
                        "UPDATE outbox SET lease_until = 0, "
                        "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END "
                        "WHERE id = ? AND lease_token = ? AND state = 0",
                        "ii", id, token);
    return rc != 0 ? rc : stale(db, id, token, err);
}

/* Hand every row of CUR to FN (stops at FN's first non-zero, returned)
 * and close CUR. */
static int each_row(struct tk_cursor *cur, int (*fn)(void *u, const struct tk_outbox_row *r),
                    void *u, struct tk_error *err)
{
    int r, rc = 0;
    while (rc == 0 && (r = tk_cursor_next(cur, err)) != 0) {
        struct tk_outbox_row row;
        if (r < 0 || read_row(cur, &row, err) != 0) {
            rc = err ? err->code : TK_EIO;
            break;
        }
        rc = fn(u, &row);
        tk_outbox_row_free(&row);
    }
    tk_cursor_close(cur);
    return rc;
}

int tk_store_outbox_each(struct tk_db *db, int failed_only, int64_t item,
                         int (*fn)(void *u, const struct tk_outbox_row *r), void *u,
                         struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc;
    if (failed_only && item)
        rc = tk_db_query(db, &cur, err, OUTBOX_COLS "WHERE state = 2 AND item_id = ? ORDER BY id",
                         "i", item);
    else if (failed_only)
        rc = tk_db_query(db, &cur, err, OUTBOX_COLS "WHERE state = 2 ORDER BY id", "");
    else if (item)
        rc = tk_db_query(db, &cur, err, OUTBOX_COLS "WHERE item_id = ? ORDER BY id", "i", item);
    else
        rc = tk_db_query(db, &cur, err, OUTBOX_COLS "ORDER BY id", "");
    if (rc != 0)
        return rc;
    return each_row(cur, fn, u, err);
}

int tk_store_outbox_retry(struct tk_db *db, int64_t id, tk_time now, struct tk_error *err)
{
    int rc = tk_db_exec(db, err,
                        "UPDATE outbox SET state = 0, attempts = 0, next_attempt_at = ?, "
                        "lease_until = 0 WHERE id = ? AND state = 2",
                        "ii", (int64_t)now, id);
    if (rc != 0)
        return rc;
    int64_t n = 0, state = 0;
    tk_db_changes(db, &n);
    if (n)
        return 0;
    rc = tk_db_int(db, &state, err, "SELECT state FROM outbox WHERE id = ?", "i", id);
    if (rc == TK_ENOTFOUND)
        return tk_error_set(err, TK_ENOTFOUND, "no outbox message %lld", (long long)id);
    if (rc != 0)
        return rc;
    return tk_error_set(err, TK_ECONFLICT, "outbox message %lld is %s, not failed", (long long)id,
                        state == TK_OUTBOX_SENT ? "sent" : "queued");
}

int tk_store_outbox_counts(struct tk_db *db, int64_t *queued, int64_t *dead, struct tk_error *err)
{
    int64_t q = 0, d = 0;
    int rc = tk_db_int(db, &q, err, "SELECT COUNT(*) FROM outbox WHERE state = 0", "");
    if (rc == 0)
        rc = tk_db_int(db, &d, err, "SELECT COUNT(*) FROM outbox WHERE state = 2", "");
    if (rc != 0)
        return rc;
    if (queued)
        *queued = q;
    if (dead)
        *dead = d;
    return 0;
}

/* A leased row comes due again when its lease runs out, not before: the
 * daemon should wake for whichever is later.  A row due "at 0" (at once)
 * reports 1, since 0 means that nothing is queued. */
int tk_store_outbox_next_due(struct tk_db *db, tk_time *out, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    *out = 0;
    int rc = tk_db_query(db, &cur, err,
                         "SELECT MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until "
                         "ELSE next_attempt_at END), COUNT(*) FROM outbox WHERE state = 0",
                         "");
    if (rc != 0)
        return rc;
    int r = tk_cursor_next(cur, err);
    if (r < 0)
        rc = err ? err->code : TK_EIO;
    else if (r > 0 && tk_cursor_int(cur, 1) > 0) {
        int64_t v = tk_cursor_int(cur, 0);
        *out = v > 0 ? v : 1;
    }
    tk_cursor_close(cur);
    return rc;
}

/* ---- data lifecycle (issue 16) ----------------------------------------- */

int tk_store_outbox_each_account(struct tk_db *db, int64_t account,
                                 int (*fn)(void *u, const struct tk_outbox_row *r), void *u,
                                 struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc = tk_db_query(db, &cur, err,
                         OUTBOX_COLS "WHERE account_id = ? OR item_id IN "
                                     "(SELECT id FROM items WHERE account_id = ?) ORDER BY id",
                         "ii", account, account);
    if (rc != 0)
        return rc;
    return each_row(cur, fn, u, err);
}

int tk_store_outbox_cancel(struct tk_db *db, int64_t item, int64_t account, const char *recipient,
                           const char *reason, int64_t *n, struct tk_error *err)
{
    int64_t token = 0, changed = 0;
    int rc;
    if (n)
        *n = 0;
    if (!item && !recipient)
        return tk_error_set(err, TK_EINVAL, "outbox cancel: neither an item nor a recipient");
    /* A fresh token: a dispatcher that claimed one of these rows settles
     * with its old token, which no longer matches (stale, refused). */
    if ((rc = tk_store_sequence_next(db, "lease", &token, err)))
        return rc;
    if (item)
        rc = tk_db_exec(db, err,
                        "UPDATE outbox SET state = 3, lease_token = ?, lease_until = 0, "
                        "last_reply = ? WHERE state = 0 AND item_id = ?",
                        "isi", token, reason, item);
    else if (account)
        rc = tk_db_exec(db, err,
                        "UPDATE outbox SET state = 3, lease_token = ?, lease_until = 0, "
                        "last_reply = ? WHERE state = 0 AND recipient = ? AND account_id = ?",
                        "issi", token, reason, recipient, account);
    else
        rc = tk_db_exec(db, err,
                        "UPDATE outbox SET state = 3, lease_token = ?, lease_until = 0, "
                        "last_reply = ? WHERE state = 0 AND recipient = ?",
                        "iss", token, reason, recipient);
    if (rc == 0 && n) {
        tk_db_changes(db, &changed);
        *n = changed;
    }
    return rc;
}

int tk_store_outbox_in_flight(struct tk_db *db, const char *recipient, tk_time now, int64_t *n,
                              struct tk_error *err)
{
    return tk_db_int(db, n, err,
                     "SELECT COUNT(*) FROM outbox WHERE state = 0 AND recipient = ? "
                     "AND lease_until > ?",
                     "si", recipient, (int64_t)now);
}

/* The outbox_retention index holds exactly the rows this reads (sent, text
 * kept), ordered by sent_at: when nothing is old the read is one probe. */
int tk_store_outbox_drop_texts(struct tk_db *db, tk_time cutoff, tk_time now, size_t limit,
                               size_t *n, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    struct tk_db_value *vals;
    struct tk_buf sql = {0};
    size_t got = 0;
    int rc, r = 0, ok;
    *n = 0;
    if (limit == 0)
        return 0;
    if (!(vals = calloc(limit + 1, sizeof *vals)))
        return tk_error_set(err, TK_ENOMEM, "store: out of memory");
    rc = tk_db_query(db, &cur, err,
                     "SELECT id FROM outbox WHERE state = 1 AND data_dropped_at IS NULL "
                     "AND sent_at < ? ORDER BY sent_at LIMIT ?",
                     "ii", (int64_t)cutoff, (int64_t)limit);
    if (rc != 0) {
        free(vals);
        return rc;
    }
    while (got < limit && (r = tk_cursor_next(cur, err)) > 0)
        vals[1 + got++] = tk_db_value_int(tk_cursor_int(cur, 0));
    tk_cursor_close(cur);
    if (r < 0)
        rc = err ? err->code : TK_EIO;
    if (rc != 0 || got == 0) {
        free(vals);
        return rc;
    }
    /* "(?, ?, ...)" once, used by both statements. */
    ok = tk_store_in_list(&sql, got) == 0;
    if (ok) {
        struct tk_buf del = {0}, upd = {0};
        ok = tk_buf_puts(&del, "DELETE FROM outbox_data WHERE outbox_id IN ") == 0 &&
             tk_buf_puts(&del, sql.data) == 0 &&
             tk_buf_puts(&upd, "UPDATE outbox SET data_dropped_at = ? WHERE id IN ") == 0 &&
             tk_buf_puts(&upd, sql.data) == 0;
        if (!ok)
            rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
        if (rc == 0)
            rc = tk_db_exec_v(db, err, del.data, vals + 1, got);
        vals[0] = tk_db_value_int((int64_t)now);
        if (rc == 0)
            rc = tk_db_exec_v(db, err, upd.data, vals, got + 1);
        tk_buf_free(&del);
        tk_buf_free(&upd);
    } else {
        rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
    }
    tk_buf_free(&sql);
    free(vals);
    if (rc == 0)
        *n = got;
    return rc;
}

struct recipient_fn {
    int (*fn)(void *u, int64_t item, const char *recipient);
    void *u;
};

static int recipient_row(void *u, struct tk_cursor *cur)
{
    const struct recipient_fn *f = u;
    const char *to = tk_cursor_text(cur, 1);
    return to ? f->fn(f->u, tk_cursor_int(cur, 0), to) : 0;
}

int tk_store_outbox_recipients_each(struct tk_db *db, const int64_t *ids, size_t n,
                                    int (*fn)(void *u, int64_t item, const char *recipient),
                                    void *u, struct tk_error *err)
{
    struct recipient_fn f = {fn, u};
    /* outbox_item: each item's few rows */
    return tk_store_each_in(db,
                            "SELECT item_id, recipient FROM outbox "
                            "WHERE message_id IS NOT NULL AND item_id IN ",
                            NULL, 0, ids, n, recipient_row, &f, err);
}
