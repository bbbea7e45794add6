/*
 * seed.c - bench-only bulk paths into a tickler store (not built by CMake,
 * not used by any test; bench/run.sh compiles it against libtkcore.a).
 *
 *   seed accounts CONFIG NACCOUNTS
 *       NACCOUNTS accounts "bench-K", one notify-on contact each, through the
 *       store API (untimed set-up for the other modes).
 *   seed engine CONFIG N BATCH
 *       N x tk_engine_send (approval, template "bench", reminders on) in
 *       transactions of BATCH items, round-robin over the accounts: the
 *       engine's insert path without a process start per item.  Prints
 *       "seconds N".
 *   seed raw SRC DST BATCH
 *       The limit: the rows the engine wrote into SRC for its items (items,
 *       item_fields, outbox, outbox_data, audit, the todo sequence) inserted into DST
 *       (same schema, same accounts) with plain prepared INSERTs, grouped by
 *       item, in transactions of BATCH items, same pragmas as the driver.
 *       Rows are read into memory first; only the inserts are timed.
 *   seed scale DB N DUE_PERMILLE NOW
 *       N pending approval items with reminders on, one sent notification
 *       (outbox, short body) and one audit row each, over N/10 accounts;
 *       DUE_PERMILLE of every 1000 items are due at NOW, the rest two days
 *       later.  Direct SQL in one transaction into a store made by
 *       `tickler init`.
 *   seed console DB NOW
 *       Turn a `scale` store into a firm's month for the staff console's
 *       pages: every third item completed (approved) at a moment of the
 *       last 30 days after 0 to 3 reminders, and one outbox message in a
 *       hundred failed with a reply.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/internal.h" /* sets the engine up by hand */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what, const char *msg)
{
    fprintf(stderr, "seed: %s: %s\n", what, msg);
    return 1;
}

static int64_t num(const char *s, int64_t max)
{
    int64_t v = 0;
    if (tk_parse_int(s, 0, max, &v)) {
        fprintf(stderr, "seed: bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

/* ---- accounts / engine: through libtkcore ---------------------------- */

static int open_engine(const char *config, struct tk_engine **e, struct tk_error *err)
{
    return tk_engine_open(e, config, tk_time_real(), 0, err);
}

static int cmd_accounts(const char *config, int64_t n)
{
    struct tk_engine *e = NULL;
    struct tk_error err = {0};
    int rc = open_engine(config, &e, &err);
    if (!rc)
        rc = tk_engine_begin(e, TK_TX_IMMEDIATE, &err);
    for (int64_t i = 1; rc == 0 && i <= n; i++) {
        char name[64], mail[96];
        int64_t acc, ct;
        snprintf(name, sizeof name, "bench-%lld", (long long)i);
        snprintf(mail, sizeof mail, "client%lld@bench.example", (long long)i);
        rc = tk_store_account_add(e->db, name, "en", e->now, &acc, &err);
        if (!rc)
            rc = tk_store_contact_add(e->db, acc, mail, "Client Contact", 1, e->now, &ct, &err);
    }
    if (!rc)
        rc = tk_engine_commit(e, &err);
    else if (e)
        tk_engine_rollback(e);
    tk_engine_close(e);
    return rc ? die("accounts", err.msg) : 0;
}

static void quiet(void *u, const char *msg)
{
    (void)u;
    (void)msg;
}

static int cmd_engine(const char *config, int64_t n, int64_t batch)
{
    struct tk_engine *e = NULL;
    struct tk_error err = {0};
    int64_t naccounts = 0;
    int rc = open_engine(config, &e, &err);
    double t0;
    if (!rc)
        rc = tk_db_int(e->db, &naccounts, &err, "SELECT COUNT(*) FROM accounts", "");
    if (!rc && naccounts == 0)
        rc = tk_error_set(&err, TK_EINVAL, "no accounts: run 'seed accounts' first");
    if (rc) {
        tk_engine_close(e);
        return die("engine", err.msg);
    }
    e->warn = quiet;
    t0 = now_s();
    for (int64_t done = 0; rc == 0 && done < n;) {
        if ((rc = tk_engine_begin(e, TK_TX_IMMEDIATE, &err)))
            break;
        for (int64_t k = 0; rc == 0 && k < batch && done < n; k++, done++) {
            char title[64];
            struct tk_send_req rq = {0};
            int64_t id;
            snprintf(title, sizeof title, "Annual accounts %lld", (long long)done + 1);
            rq.type = "approval";
            rq.account_id = 1 + done % naccounts;
            rq.title = title;
            rq.template_name = "bench";
            rq.reminders = 1;
            rq.every_days = -1;
            rq.count = -1;
            rc = tk_engine_send(e, &rq, &id, &err);
        }
        if (rc) {
            tk_engine_rollback(e);
            break;
        }
        rc = tk_engine_commit(e, &err);
    }
    double dt = now_s() - t0;
    tk_engine_close(e);
    if (rc)
        return die("engine", err.msg);
    printf("%.6f %lld\n", dt, (long long)n);
    return 0;
}

/* ---- raw: the same rows with plain SQLite ----------------------------- */

struct row {
    int64_t item; /* the item the row belongs to */
    int table;    /* index into TABLES */
    int ncols;
    sqlite3_value **v;
};

static const char *const TABLES[] = {"items", "item_fields", "outbox", "outbox_data", "audit"};
#define NTABLES 5

static int by_item(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->item != y->item)
        return x->item < y->item ? -1 : 1;
    return x->table - y->table;
}

static int sql_fail(sqlite3 *h, const char *what)
{
    return die(what, sqlite3_errmsg(h));
}

static int cmd_raw(const char *src, const char *dst, int64_t batch)
{
    sqlite3 *in = NULL, *out = NULL;
    struct row *rows = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *ins[NTABLES] = {0}, *seq = NULL;
    int rc = 1;

    if (sqlite3_open_v2(src, &in, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return sql_fail(in, src);
    for (int t = 0; t < NTABLES; t++) {
        char sql[256];
        sqlite3_stmt *st;
        /* Only the rows about items: accounts and contacts were there before. */
        if (t == 3) /* the message texts, by the item of their outbox row */
            snprintf(sql, sizeof sql,
                     "SELECT o.item_id, d.* FROM outbox_data d JOIN outbox o "
                     "ON o.id = d.outbox_id WHERE o.item_id IS NOT NULL "
                     "ORDER BY d.outbox_id");
        else
            snprintf(sql, sizeof sql, "SELECT %s, * FROM %s WHERE %s IS NOT NULL ORDER BY rowid",
                     t == 0 ? "id" : "item_id", TABLES[t], t == 0 ? "id" : "item_id");
        if (sqlite3_prepare_v2(in, sql, -1, &st, NULL) != SQLITE_OK)
            return sql_fail(in, sql);
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 4096;
                rows = realloc(rows, cap * sizeof *rows);
                if (!rows)
                    return die("raw", "out of memory");
            }
            struct row *r = &rows[n++];
            r->item = sqlite3_column_int64(st, 0);
            r->table = t;
            r->ncols = sqlite3_column_count(st) - 1;
            r->v = calloc((size_t)r->ncols, sizeof *r->v);
            for (int c = 0; r->v && c < r->ncols; c++)
                r->v[c] = sqlite3_value_dup(sqlite3_column_value(st, c + 1));
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(in);
    qsort(rows, n, sizeof *rows, by_item);

    if (sqlite3_open_v2(dst, &out, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return sql_fail(out, dst);
    if (sqlite3_exec(out,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                     "PRAGMA foreign_keys=ON;",
                     NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(out, "pragmas");
    for (size_t i = 0; i < n; i++) {
        struct row *r = &rows[i];
        if (ins[r->table])
            continue;
        char sql[512];
        size_t len =
            (size_t)snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (?", TABLES[r->table]);
        for (int c = 1; c < r->ncols && len < sizeof sql - 8; c++)
            len += (size_t)snprintf(sql + len, sizeof sql - len, ",?");
        snprintf(sql + len, sizeof sql - len, ")");
        if (sqlite3_prepare_v3(out, sql, -1, SQLITE_PREPARE_PERSISTENT, &ins[r->table], NULL) !=
            SQLITE_OK)
            return sql_fail(out, sql);
    }
    /* The engine bumps the todo sequence once per item; so does the limit. */
    if (sqlite3_prepare_v3(out,
                           "INSERT INTO sequences (name, value) VALUES ('todo', 1) "
                           "ON CONFLICT (name) DO UPDATE SET value = sequences.value + 1",
                           -1, SQLITE_PREPARE_PERSISTENT, &seq, NULL) != SQLITE_OK)
        return sql_fail(out, "sequence");

    double t0 = now_s();
    int64_t items = 0, in_tx = 0;
    for (size_t i = 0; i < n; i++) {
        struct row *r = &rows[i];
        if (r->table == 0) {
            if (in_tx == batch) {
                if (sqlite3_exec(out, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
                    return sql_fail(out, "commit");
                in_tx = 0;
            }
            if (in_tx == 0 && sqlite3_exec(out, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
                return sql_fail(out, "begin");
            in_tx++;
            items++;
            if (sqlite3_step(seq) != SQLITE_DONE)
                return sql_fail(out, "sequence");
            sqlite3_reset(seq);
        }
        sqlite3_stmt *st = ins[r->table];
        for (int c = 0; c < r->ncols; c++)
            sqlite3_bind_value(st, c + 1, r->v[c]);
        if (sqlite3_step(st) != SQLITE_DONE)
            return sql_fail(out, TABLES[r->table]);
        sqlite3_reset(st);
    }
    if (in_tx && sqlite3_exec(out, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(out, "commit");
    double dt = now_s() - t0;
    printf("%.6f %lld\n", dt, (long long)items);
    rc = 0;
    for (int t = 0; t < NTABLES; t++)
        sqlite3_finalize(ins[t]);
    sqlite3_finalize(seq);
    sqlite3_close(out);
    for (size_t i = 0; i < n; i++) {
        for (int c = 0; c < rows[i].ncols; c++)
            sqlite3_value_free(rows[i].v[c]);
        free(rows[i].v);
    }
    free(rows);
    return rc;
}

/* ---- scale: direct SQL for large stores ------------------------------- */

static int exec(sqlite3 *h, const char *sql)
{
    return sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : sql_fail(h, sql);
}

static int cmd_scale(const char *path, int64_t n, int64_t permille, int64_t now)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *acc, *ct, *item, *ob, *obd, *au;
    int64_t naccounts = n / 10 > 0 ? n / 10 : 1;
    double t0 = now_s();

    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return sql_fail(h, path);
    /* Seeding only: a crash just means seeding again. */
    if (exec(h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;") ||
        exec(h, "BEGIN IMMEDIATE"))
        return 1;
    if (sqlite3_prepare_v2(h,
                           "INSERT INTO accounts (id, name, language, created_at) "
                           "VALUES (?, ?, 'en', ?)",
                           -1, &acc, NULL) ||
        sqlite3_prepare_v2(h,
                           "INSERT INTO contacts (account_id, email, name, notify, created_at) "
                           "VALUES (?, ?, 'Client Contact', 1, ?)",
                           -1, &ct, NULL) ||
        sqlite3_prepare_v2(h,
                           "INSERT INTO items (id, type, account_id, title, template, state, "
                           "created_at, todo_seq, rem_enabled, rem_every_days, rem_count, "
                           "rem_sent, last_mail_at, next_at) VALUES "
                           "(?, 'approval', ?, ?, 'bench', 'pending', ?, ?, 1, 3, 1, 0, ?, ?)",
                           -1, &item, NULL) ||
        sqlite3_prepare_v2(h,
                           "INSERT INTO outbox (item_id, account_id, kind, step, recipient, "
                           "idem_key, message_id, sender, state, attempts, created_at, "
                           "next_attempt_at, sent_at, reply_code, last_reply) VALUES "
                           "(?, ?, 'notification', 0, ?, ?, ?, 'tickler@localhost', "
                           "1, 1, ?, ?, ?, 250, '250 ok')",
                           -1, &ob, NULL) ||
        sqlite3_prepare_v2(h,
                           "INSERT INTO outbox_data (outbox_id, data) "
                           "VALUES (last_insert_rowid(), '(seeded)')",
                           -1, &obd, NULL) ||
        sqlite3_prepare_v2(h,
                           "INSERT INTO audit (at, actor, account_id, item_id, action, detail) "
                           "VALUES (?, 'cli', ?, ?, 'sent', 'approval sent (seeded)')",
                           -1, &au, NULL))
        return sql_fail(h, "prepare");
    for (int64_t a = 1; a <= naccounts; a++) {
        char name[64], mail[96];
        snprintf(name, sizeof name, "bench-%lld", (long long)a);
        snprintf(mail, sizeof mail, "client%lld@bench.example", (long long)a);
        sqlite3_bind_int64(acc, 1, a);
        sqlite3_bind_text(acc, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(acc, 3, now - 30 * TK_DAY);
        sqlite3_bind_int64(ct, 1, a);
        sqlite3_bind_text(ct, 2, mail, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ct, 3, now - 30 * TK_DAY);
        if (sqlite3_step(acc) != SQLITE_DONE || sqlite3_step(ct) != SQLITE_DONE)
            return sql_fail(h, "account");
        sqlite3_reset(acc);
        sqlite3_reset(ct);
    }
    for (int64_t i = 1; i <= n; i++) {
        char title[64], mail[96], key[160], mid[96];
        int64_t a = 1 + (i - 1) % naccounts;
        /* Spread the due ones evenly over the ids. */
        int due = permille > 0 && (i * permille) / 1000 != ((i - 1) * permille) / 1000;
        int64_t last = due ? now - 4 * TK_DAY : now - 1 * TK_DAY;
        snprintf(title, sizeof title, "Annual accounts %lld", (long long)i);
        snprintf(mail, sizeof mail, "client%lld@bench.example", (long long)a);
        snprintf(key, sizeof key, "%lld/notification/0/%s", (long long)i, mail);
        snprintf(mid, sizeof mid, "<seed.%lld@localhost>", (long long)i);
        sqlite3_bind_int64(item, 1, i);
        sqlite3_bind_int64(item, 2, a);
        sqlite3_bind_text(item, 3, title, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(item, 4, last);
        sqlite3_bind_int64(item, 5, i);
        sqlite3_bind_int64(item, 6, last);
        sqlite3_bind_int64(item, 7, last + 3 * TK_DAY);
        sqlite3_bind_int64(ob, 1, i);
        sqlite3_bind_int64(ob, 2, a);
        sqlite3_bind_text(ob, 3, mail, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ob, 4, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ob, 5, mid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ob, 6, last);
        sqlite3_bind_int64(ob, 7, last);
        sqlite3_bind_int64(ob, 8, last);
        sqlite3_bind_int64(au, 1, last);
        sqlite3_bind_int64(au, 2, a);
        sqlite3_bind_int64(au, 3, i);
        if (sqlite3_step(item) != SQLITE_DONE || sqlite3_step(ob) != SQLITE_DONE ||
            sqlite3_step(obd) != SQLITE_DONE || sqlite3_step(au) != SQLITE_DONE)
            return sql_fail(h, "item");
        sqlite3_reset(item);
        sqlite3_reset(ob);
        sqlite3_reset(obd);
        sqlite3_reset(au);
    }
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO sequences (name, value) VALUES ('todo', %lld)",
             (long long)n);
    if (exec(h, sql) || exec(h, "COMMIT"))
        return 1;
    sqlite3_finalize(acc);
    sqlite3_finalize(ct);
    sqlite3_finalize(item);
    sqlite3_finalize(ob);
    sqlite3_finalize(obd);
    sqlite3_finalize(au);
    if (exec(h, "PRAGMA wal_checkpoint(TRUNCATE)"))
        return 1;
    sqlite3_close(h);
    printf("%.6f %lld\n", now_s() - t0, (long long)n);
    return 0;
}

static int console_mode(const char *db, tk_time now)
{
    sqlite3 *h = NULL;
    char sql[512];
    if (sqlite3_open(db, &h) != SQLITE_OK)
        return sql_fail(h, "open");
    snprintf(sql, sizeof sql,
             "UPDATE items SET state = 'approved', completed_at = %lld - (id * 7919) %% (30 * "
             "86400), rem_sent = id %% 4, next_at = NULL WHERE id %% 3 = 0",
             (long long)now);
    if (exec(h, "BEGIN IMMEDIATE") || exec(h, sql) ||
        exec(h, "UPDATE outbox SET state = 2, sent_at = NULL, reply_code = 550, "
                "last_reply = '550 5.1.1 mailbox unavailable' WHERE id % 100 = 0") ||
        exec(h, "COMMIT") || exec(h, "PRAGMA wal_checkpoint(TRUNCATE)"))
        return 1;
    sqlite3_close(h);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "console") == 0)
        return console_mode(argv[2], (tk_time)strtoll(argv[3], NULL, 10));
    if (argc == 4 && strcmp(argv[1], "accounts") == 0)
        return cmd_accounts(argv[2], num(argv[3], 10000000));
    if (argc == 5 && strcmp(argv[1], "engine") == 0)
        return cmd_engine(argv[2], num(argv[3], 100000000), num(argv[4], 1000000) ?: 1);
    if (argc == 5 && strcmp(argv[1], "raw") == 0)
        return cmd_raw(argv[2], argv[3], num(argv[4], 1000000) ?: 1);
    if (argc == 6 && strcmp(argv[1], "scale") == 0)
        return cmd_scale(argv[2], num(argv[3], 100000000), num(argv[4], 1000),
                         num(argv[5], INT64_MAX));
    fprintf(stderr, "usage: seed accounts CONFIG N | engine CONFIG N BATCH | raw SRC DST BATCH |"
                    " scale DB N DUE_PERMILLE NOW\n");
    return 2;
}
