/*
 * copy.c - a whole store into another, empty one, between any two drivers
 * (`tickler migrate`: SQLite to PostgreSQL when a deployment outgrows one
 * file, and back).
 *
 * The table list lives here, next to the schema, so that a migration that
 * adds a table or a column changes the copy in the same folder; the driver
 * contract suite (tests/unit/test_db_contract.c) compares this list with
 * the tables and columns the migrations create, on every driver, and fails
 * until both agree.
 *
 * Every row is copied as it is, ids included.  Values travel as text, which
 * both drivers turn back into the column's type (PostgreSQL infers each
 * parameter from its column, SQLite's BIGINT affinity makes integers of
 * integer text), so the copy needs no column types.  The source is read a
 * page at a time, by its key, so that a large outbox_data never sits in
 * memory whole (the PostgreSQL driver fetches a result completely).
 */
#include "db/db.h"

#include <stdlib.h>
#include <string.h>

/* The schema version the list below describes: tk_db_copy refuses to run
 * when the migrations have moved on without it. */
#define COPY_SCHEMA_VERSION 15
#define PAGE_ROWS 500

/* In an order that satisfies the foreign keys.  The key columns come first
 * in `cols` (the copy reads them back from there to page on). */
static const struct tk_db_table tables[] = {
    {"accounts", "id, name, language, created_at, timezone, send_window, holidays, manager, digest",
     "id", "i", 1},
    {"contacts", "id, account_id, email, name, notify, created_at", "id", "i", 1},
    {"jobs", "id, pipeline, stage, account_id, title, state, created_at, updated_at", "id", "i", 1},
    {"items",
     "id, type, account_id, job_id, title, template, state, archived, created_at, completed_at, "
     "resends, todo_seq, rem_enabled, rem_every_days, rem_count, rem_sent, last_mail_at, next_at, "
     "fail_count, fail_at, fail_text, hold_since, hold_until, hold_reason, rem_schedule",
     "id", "i", 1},
    {"item_fields", "item_id, name, value, pos", "item_id, name", "is", 0},
    {"audit", "id, at, actor, account_id, item_id, job_id, action, detail, recorded_at", "id", "i",
     1},
    {"outbox",
     "id, item_id, account_id, kind, step, recipient, idem_key, message_id, sender, state, "
     "attempts, created_at, next_attempt_at, sent_at, lease_token, lease_until, reply_code, "
     "last_reply, data_dropped_at",
     "id", "i", 1},
    {"outbox_data", "outbox_id, data", "outbox_id", "i", 0},
    {"sequences", "name, value", "name", "s", 0},
    {"webhooks", "id, url, events, secret, created_at", "id", "i", 1},
    {"webhook_seen", "hook, delivery, seen_at", "hook, delivery", "ss", 0},
    {"api_tokens", "id, name, scope, hash, created_at, last_used_at", "id", "i", 1},
    {"api_idempotency", "token, idem_key, request_hash, status, body, created_at",
     "token, idem_key", "ss", 0},
    {"suppressions", "id, email, reason, at, outbox_id, source", "id", "i", 1},
    {"inbound",
     "id, msg_key, at, class, reason, sender, subject, item_id, account_id, outbox_id, action",
     "id", "i", 1},
    {"users", "id, name, language, pw_hash, created_at", "id", "i", 1},
    {"sessions", "id, token_hash, user_id, created_at, expires_at", "id", "i", 1},
};
#define NTABLES (sizeof tables / sizeof tables[0])
_Static_assert(NTABLES <= TK_DB_COPY_MAX_TABLES, "raise TK_DB_COPY_MAX_TABLES");

const struct tk_db_table *tk_db_copy_tables(size_t *n)
{
    *n = NTABLES;
    return tables;
}

static size_t ncols(const char *cols)
{
    size_t n = 1;
    for (; *cols; cols++)
        n += *cols == ',';
    return n;
}

static int oom(struct tk_error *err)
{
    return tk_error_set(err, TK_ENOMEM, "out of memory");
}

static int refuse_non_empty(struct tk_db *to, struct tk_error *err)
{
    struct tk_buf sql = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < NTABLES; i++) {
        int64_t n = 0;
        tk_buf_reset(&sql);
        if (tk_buf_printf(&sql, "SELECT COUNT(*) FROM %s", tables[i].name)) {
            rc = oom(err);
        } else if ((rc = tk_db_int(to, &n, err, sql.data, "")) == 0 && n > 0) {
            rc = tk_error_set(err, TK_ECONFLICT,
                              "the target store is not empty (%s has %lld row%s); "
                              "a copy goes into a new, empty store only",
                              tables[i].name, (long long)n, n == 1 ? "" : "s");
        }
    }
    tk_buf_free(&sql);
    return rc;
}

/* The statements for table T: the first page, the page after a key, and
 * the insert of one row. */
struct stmts {
    struct tk_buf first, after, insert;
};

static int build(const struct tk_db_table *t, size_t n, struct stmts *s)
{
    size_t nk = strlen(t->key_types);
    int ok = tk_buf_printf(&s->first, "SELECT %s FROM %s ORDER BY %s LIMIT %d", t->cols, t->name,
                           t->key, PAGE_ROWS) == 0 &&
             tk_buf_printf(&s->after, "SELECT %s FROM %s WHERE (%s) > (?", t->cols, t->name,
                           t->key) == 0 &&
             tk_buf_printf(&s->insert, "INSERT INTO %s (%s) VALUES (?", t->name, t->cols) == 0;
    for (size_t i = 1; ok && i < nk; i++)
        ok = tk_buf_puts(&s->after, ", ?") == 0;
    ok = ok && tk_buf_printf(&s->after, ") ORDER BY %s LIMIT %d", t->key, PAGE_ROWS) == 0;
    for (size_t i = 1; ok && i < n; i++)
        ok = tk_buf_puts(&s->insert, ", ?") == 0;
    return ok && tk_buf_putc(&s->insert, ')') == 0;
}

/* One page: every row read from CUR goes into TO; the key of the last one
 * into KEY (its text values copied into KEYTEXT, which the caller frees). */
static int copy_page(struct tk_cursor *cur, struct tk_db *to, const struct tk_db_table *t,
                     const struct stmts *s, struct tk_db_value *row, size_t n,
                     struct tk_db_value *key, char **keytext, int64_t *rows, size_t *got,
                     struct tk_error *err)
{
    size_t nk = strlen(t->key_types);
    int rc = 0, r = 0;
    while (rc == 0 && (r = tk_cursor_next(cur, err)) > 0) {
        for (size_t i = 0; i < n; i++)
            row[i] = tk_db_value_text(tk_cursor_text(cur, (int)i));
        if ((rc = tk_db_exec_v(to, err, s->insert.data, row, n)) != 0)
            break;
        (*rows)++;
        (*got)++;
        for (size_t k = 0; rc == 0 && k < nk; k++) {
            const char *v = tk_cursor_text(cur, (int)k);
            if (t->key_types[k] == 'i') {
                key[k] = tk_db_value_int(tk_cursor_int(cur, (int)k));
            } else {
                free(keytext[k]);
                if (!(keytext[k] = tk_strdup(v ? v : "")))
                    rc = oom(err);
                key[k] = tk_db_value_text(keytext[k]);
            }
        }
    }
    if (rc == 0 && r < 0)
        rc = err && err->code ? err->code : TK_EIO;
    return rc;
}

static int copy_table(struct tk_db *from, struct tk_db *to, const struct tk_db_table *t,
                      int64_t *rows, struct tk_error *err)
{
    struct stmts s = {{0}, {0}, {0}};
    struct tk_db_value key[2];
    char *keytext[2] = {NULL, NULL};
    size_t n = ncols(t->cols), nk = strlen(t->key_types), got = PAGE_ROWS;
    struct tk_db_value *row = calloc(n, sizeof *row);
    int rc = 0;
    /* The key columns open the column list: paging reads them from there. */
    size_t kl = strlen(t->key);
    if (nk < 1 || nk > 2 || strncmp(t->cols, t->key, kl) != 0 ||
        (t->cols[kl] != ',' && t->cols[kl] != '\0'))
        rc = tk_error_set(err, TK_ERR, "table %s: bad key '%s' in the copy list", t->name, t->key);
    else if (!row || !build(t, n, &s))
        rc = oom(err);
    for (int page = 0; rc == 0 && got == PAGE_ROWS; page++) {
        struct tk_cursor *cur = NULL;
        got = 0;
        rc = page == 0 ? tk_db_query_v(from, &cur, err, s.first.data, NULL, 0)
                       : tk_db_query_v(from, &cur, err, s.after.data, key, nk);
        if (rc == 0)
            rc = copy_page(cur, to, t, &s, row, n, key, keytext, rows, &got, err);
        tk_cursor_close(cur);
    }
    free(keytext[0]);
    free(keytext[1]);
    free(row);
    tk_buf_free(&s.first);
    tk_buf_free(&s.after);
    tk_buf_free(&s.insert);
    if (rc != 0)
        tk_error_prefix(err, "table %s", t->name);
    return rc;
}

/* Generated ids carry on past every id either store ever gave out. */
static int move_ids(struct tk_db *from, struct tk_db *to, struct tk_error *err)
{
    struct tk_buf sql = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < NTABLES; i++) {
        int64_t top = 0, seen = 0;
        if (!tables[i].serial)
            continue;
        tk_buf_reset(&sql);
        if (tk_buf_printf(&sql, "SELECT COALESCE(MAX(id), 0) FROM %s", tables[i].name))
            rc = oom(err);
        if (rc == 0 && (rc = tk_db_int(to, &top, err, sql.data, "")) == 0 &&
            (rc = tk_db_id_high_water(from, tables[i].name, &seen, err)) == 0)
            rc = tk_db_set_id_high_water(to, tables[i].name, seen > top ? seen : top, err);
        if (rc != 0)
            tk_error_prefix(err, "table %s", tables[i].name);
    }
    tk_buf_free(&sql);
    return rc;
}

static int lock_all(struct tk_db *to, struct tk_error *err)
{
    struct tk_buf names = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < NTABLES; i++)
        if (tk_buf_printf(&names, "%s%s", i ? ", " : "", tables[i].name))
            rc = oom(err);
    if (rc == 0)
        rc = tk_db_lock_tables(to, names.data, err);
    tk_buf_free(&names);
    return rc;
}

int tk_db_copy(struct tk_db *from, struct tk_db *to, struct tk_db_copy_stats *stats,
               struct tk_error *err)
{
    struct tk_db_copy_stats local;
    struct tk_db_copy_stats *st = stats ? stats : &local;
    int rc;
    memset(st, 0, sizeof *st);
    st->from = tk_db_driver_name(from);
    st->to = tk_db_driver_name(to);
    st->ntables = NTABLES;
    st->from_version = tk_db_store_version(from);
    if (tk_db_schema_version() != COPY_SCHEMA_VERSION)
        return tk_error_set(err, TK_ERR,
                            "copy: this build copies schema version %d, the schema is at %d; "
                            "update the table list in core/db/copy.c",
                            COPY_SCHEMA_VERSION, tk_db_schema_version());
    /* Both at the newest schema: the source upgraded in place, as any
     * command would do, so one table list serves every older version. */
    if ((rc = tk_db_migrate(from, err)) != 0) {
        tk_error_prefix(err, "source");
        return rc;
    }
    if ((rc = tk_db_migrate(to, err)) != 0) {
        tk_error_prefix(err, "target");
        return rc;
    }
    st->to_version = tk_db_schema_version();
    if ((rc = tk_db_begin(from, TK_TX_SNAPSHOT, err)))
        return rc;
    if ((rc = tk_db_begin(to, TK_TX_IMMEDIATE, err))) {
        tk_db_rollback(from);
        return rc;
    }
    /* Nobody else may write the target while it is filled. */
    if ((rc = lock_all(to, err)) == 0)
        rc = refuse_non_empty(to, err);
    for (size_t i = 0; rc == 0 && i < NTABLES; i++)
        if ((rc = copy_table(from, to, &tables[i], &st->rows[i], err)) == 0)
            st->total += st->rows[i];
    if (rc == 0)
        rc = move_ids(from, to, err);
    tk_db_rollback(from); /* it only read */
    if (rc != 0) {
        tk_db_rollback(to);
        return rc;
    }
    return tk_db_commit(to, err);
}

int tk_db_copy_stores(const char *from_spec, const char *to_spec, struct tk_db_copy_stats *stats,
                      struct tk_error *err)
{
    struct tk_db *from = NULL, *to = NULL;
    int rc = tk_db_open_spec(from_spec, 1, &from, err);
    if (rc != 0)
        tk_error_prefix(err, "source");
    else if ((rc = tk_db_open_spec(to_spec, 0, &to, err)) != 0)
        tk_error_prefix(err, "target");
    else
        rc = tk_db_copy(from, to, stats, err);
    tk_db_close(from);
    tk_db_close(to);
    return rc;
}
