/*
 * test_db.c - the SQL layer through the real SQLite driver: binding,
 * cursors, transactions, migrations, the statement cache and contention.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "db/db.h"
#include "tk_test.h"
#include "upgrade_check.h"

static char dir[64];
static char path[128];

static struct tk_db *open_db(void)
{
    struct tk_config cfg;
    struct tk_error err = {0};
    struct tk_db *db = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.store_driver = "sqlite";
    cfg.store_path = path;
    if (tk_db_open(&cfg, &db, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return NULL;
    }
    return db;
}

static void cleanup(void)
{
    char p[160];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

static int64_t count(struct tk_db *db, const char *sql)
{
    int64_t v = -1;
    struct tk_error err = {0};
    if (tk_db_int(db, &v, &err, sql, "") != 0)
        fprintf(stderr, "count: %s\n", err.msg);
    return v;
}

TK_TEST(test_bind_types)
{
    struct tk_db *db = open_db();
    struct tk_error err = {0};
    TK_CHECK(db != NULL);
    if (!db)
        return;
    TK_CHECK_STR(tk_db_driver_name(db), "sqlite");
    TK_CHECK_INT(tk_db_exec_script(db, "CREATE TABLE t (a BIGINT, b TEXT, c BIGINT, d TEXT)", &err),
                 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?)",
                            "isz"
                            "n",
                            (int64_t)5000000000LL, "h\xc3\xa9llo", (int64_t)0),
                 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?)", "iszs", (int64_t)-1,
                            (const char *)NULL, (int64_t)7, "x"),
                 0);
    struct tk_cursor *cur = NULL;
    TK_CHECK_INT(tk_db_query(db, &cur, &err, "SELECT a, b, c, d FROM t ORDER BY a DESC", ""), 0);
    TK_CHECK_INT(tk_cursor_next(cur, &err), 1);
    TK_CHECK_INT(tk_cursor_int(cur, 0), 5000000000LL);
    TK_CHECK_STR(tk_cursor_text(cur, 1), "h\xc3\xa9llo");
    TK_CHECK(tk_cursor_text(cur, 2) == NULL); /* 'z' with 0 is NULL */
    TK_CHECK(tk_cursor_text(cur, 3) == NULL); /* 'n' */
    TK_CHECK_INT(tk_cursor_int(cur, 2), 0);
    TK_CHECK_INT(tk_cursor_next(cur, &err), 1);
    TK_CHECK_INT(tk_cursor_int(cur, 0), -1);
    TK_CHECK(tk_cursor_text(cur, 1) == NULL); /* 's' with NULL */
    TK_CHECK_INT(tk_cursor_int(cur, 2), 7);
    TK_CHECK_STR(tk_cursor_text(cur, 3), "x");
    TK_CHECK_INT(tk_cursor_next(cur, &err), 0);
    tk_cursor_close(cur);

    /* Wrong number of values, bad letter, bad SQL: clear one-line errors. */
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t (a) VALUES (?)", "ii", (int64_t)1, (int64_t)2),
                 TK_EINVAL);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t (a) VALUES (?)", "q", (int64_t)1), TK_EINVAL);
    TK_CHECK(tk_db_exec(db, &err, "SELEC nonsense", "") != 0);
    TK_CHECK(strncmp(err.msg, "store ", 6) == 0 && strstr(err.msg, path) != NULL);
    TK_CHECK(strchr(err.msg, '\n') == NULL);
    TK_CHECK_INT(count(db, "SELECT COUNT(*) FROM t"), 2);

    int64_t v = 0;
    TK_CHECK_INT(tk_db_int(db, &v, &err, "SELECT a FROM t WHERE a = ?", "i", (int64_t)42),
                 TK_ENOTFOUND);
    TK_CHECK_INT(tk_db_int(db, &v, &err, "SELECT COUNT(*) FROM t WHERE c IS NULL", ""), 0);
    TK_CHECK_INT(v, 1);
    tk_db_close(db);
    cleanup();
}

TK_TEST(test_cursor_and_returning)
{
    struct tk_db *db = open_db();
    struct tk_error err = {0};
    if (!db)
        return;
    TK_CHECK_INT(tk_db_exec_script(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BIGINT)", &err),
                 0);
    int64_t id = 0, last = 0;
    for (int i = 1; i <= 100; i++) {
        TK_CHECK_INT(tk_db_int(db, &id, &err, "INSERT INTO t (v) VALUES (?) RETURNING id", "i",
                               (int64_t)i * 10),
                     0);
        TK_CHECK(id > last);
        last = id;
    }
    TK_CHECK_INT(tk_db_exec(db, &err, "UPDATE t SET v = v + 1 WHERE v > ?", "i", (int64_t)500), 0);
    int64_t changed = 0;
    tk_db_changes(db, &changed);
    TK_CHECK_INT(changed, 50);
    struct tk_cursor *cur = NULL;
    TK_CHECK_INT(tk_db_query(db, &cur, &err, "SELECT v FROM t ORDER BY id", ""), 0);
    int64_t sum = 0, n = 0;
    int r;
    while ((r = tk_cursor_next(cur, &err)) > 0) {
        sum += tk_cursor_int(cur, 0);
        n++;
    }
    TK_CHECK_INT(r, 0);
    tk_cursor_close(cur);
    TK_CHECK_INT(n, 100);
    TK_CHECK_INT(sum, 50500 + 50);
    tk_db_close(db);
    cleanup();
}

TK_TEST(test_transactions)
{
    struct tk_db *db = open_db();
    struct tk_error err = {0};
    if (!db)
        return;
    TK_CHECK_INT(tk_db_exec_script(db, "CREATE TABLE t (v BIGINT)", &err), 0);
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK(tk_db_begin(db, TK_TX_DEFERRED, &err) != 0); /* no nesting */
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (1)", ""), 0);
    tk_db_rollback(db);
    TK_CHECK_INT(count(db, "SELECT COUNT(*) FROM t"), 0);
    TK_CHECK_INT(tk_db_begin(db, TK_TX_DEFERRED, &err), 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (2)", ""), 0);
    TK_CHECK_INT(tk_db_commit(db, &err), 0);
    TK_CHECK(tk_db_commit(db, &err) != 0); /* nothing open */
    tk_db_rollback(db);                    /* harmless */
    TK_CHECK_INT(count(db, "SELECT COUNT(*) FROM t"), 1);
    /* Closing with an open transaction rolls it back. */
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (3)", ""), 0);
    tk_db_close(db);
    db = open_db();
    TK_CHECK_INT(count(db, "SELECT COUNT(*) FROM t"), 1);
    tk_db_close(db);
    cleanup();
}

TK_TEST(test_migrate)
{
    struct tk_db *db = open_db();
    struct tk_error err = {0};
    if (!db)
        return;
    TK_CHECK(tk_db_schema_version() >= 1);
    TK_CHECK_INT(tk_db_migrate(db, &err), 0);
    TK_CHECK_INT(tk_db_migrate(db, &err), 0); /* idempotent */
    tk_db_close(db);
    db = open_db();
    TK_CHECK_INT(tk_db_migrate(db, &err), 0); /* and across opens */
    TK_CHECK_INT(count(db, "SELECT COUNT(*) FROM schema_version"), tk_db_schema_version());
    TK_CHECK_INT(count(db, "SELECT MAX(version) FROM schema_version"), tk_db_schema_version());
    TK_CHECK_INT(count(db, "SELECT COUNT(*) FROM items"), 0);
    /* Foreign keys are on: an item for no account is refused. */
    TK_CHECK(tk_db_exec(db, &err,
                        "INSERT INTO items (type, account_id, template, created_at, todo_seq) "
                        "VALUES ('invoice', 99, 't', 0, 1)",
                        "") == TK_ECONFLICT);
    /* A store from a newer tickler is refused, clearly. */
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO schema_version (version) VALUES (?)", "i",
                            (int64_t)tk_db_schema_version() + 5),
                 0);
    TK_CHECK_INT(tk_db_migrate(db, &err), TK_ECONFLICT);
    TK_CHECK(strstr(err.msg, "newer") != NULL);
    tk_db_close(db);
    cleanup();
}

TK_TEST(test_upgrade_from_v1)
{
    cleanup();
    struct tk_db *db = open_db();
    TK_CHECK(db != NULL);
    if (!db)
        return;
    upgrade_check_v1(db);
    /* the text left the outbox row: a claim no longer rewrites it */
    TK_CHECK_INT(count(db, "SELECT COUNT(*) FROM pragma_table_info('outbox') WHERE name = 'data'"),
                 0);
    tk_db_close(db);
    cleanup();
}

TK_TEST(test_statement_cache)
{
    struct tk_db *db = open_db();
    struct tk_error err = {0};
    if (!db)
        return;
    char sql[64];
    int64_t v = 0;
    int bad = 0;
    /* Many more distinct statements than cache slots, each reused. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 300; i++) {
            snprintf(sql, sizeof sql, "SELECT ? + %d", i);
            if (tk_db_int(db, &v, &err, sql, "i", (int64_t)round) != 0 || v != i + round)
                bad++;
        }
    }
    TK_CHECK_INT(bad, 0);
    /* The same text open twice at once: the second gets its own statement. */
    static const char *const q = "SELECT v FROM (SELECT 1 AS v UNION ALL SELECT 2) ORDER BY v";
    struct tk_cursor *a = NULL, *b = NULL;
    TK_CHECK_INT(tk_db_query(db, &a, &err, q, ""), 0);
    TK_CHECK_INT(tk_cursor_next(a, &err), 1);
    TK_CHECK_INT(tk_db_query(db, &b, &err, q, ""), 0);
    TK_CHECK_INT(tk_cursor_next(b, &err), 1);
    TK_CHECK_INT(tk_cursor_next(b, &err), 1);
    TK_CHECK_INT(tk_cursor_int(b, 0), 2);
    TK_CHECK_INT(tk_cursor_int(a, 0), 1);
    tk_cursor_close(b);
    TK_CHECK_INT(tk_cursor_next(a, &err), 1);
    TK_CHECK_INT(tk_cursor_int(a, 0), 2);
    tk_cursor_close(a);
    /* A cached statement closed early starts from the top next time, with
     * fresh bindings. */
    TK_CHECK_INT(tk_db_query(db, &a, &err, "SELECT ? UNION ALL SELECT 9", "i", (int64_t)4), 0);
    TK_CHECK_INT(tk_cursor_next(a, &err), 1);
    tk_cursor_close(a);
    TK_CHECK_INT(tk_db_int(db, &v, &err, "SELECT ? UNION ALL SELECT 9", "i", (int64_t)5), 0);
    TK_CHECK_INT(v, 5);
    tk_db_close(db);
    cleanup();
}

struct holder {
    struct tk_db *db;
    int ok;
};

static void *hold_then_commit(void *u)
{
    struct holder *h = u;
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    h->ok = tk_db_exec(h->db, NULL, "INSERT INTO t VALUES (1)", "") == 0 &&
            tk_db_commit(h->db, NULL) == 0;
    return NULL;
}

/* A writer that holds the lock briefly makes the other wait, not fail. */
TK_TEST(test_busy_waits)
{
    struct tk_db *a = open_db(), *b = open_db();
    struct tk_error err = {0};
    if (!a || !b)
        return;
    TK_CHECK_INT(tk_db_exec_script(a, "CREATE TABLE t (v BIGINT)", &err), 0);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_IMMEDIATE, &err), 0);
    struct holder h = {a, 0};
    pthread_t th;
    pthread_create(&th, NULL, hold_then_commit, &h);
    int rc = tk_db_begin(b, TK_TX_IMMEDIATE, &err);
    TK_CHECK_INT(rc, 0);
    if (rc != 0)
        fprintf(stderr, "busy: %s\n", err.msg);
    TK_CHECK_INT(count(b, "SELECT COUNT(*) FROM t"), 1); /* saw a's commit */
    TK_CHECK_INT(tk_db_commit(b, &err), 0);
    pthread_join(th, NULL);
    TK_CHECK(h.ok);
    tk_db_close(a);
    tk_db_close(b);
    cleanup();
}

TK_TEST(test_open_errors)
{
    struct tk_config cfg;
    struct tk_error err = {0};
    struct tk_db *db = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.store_driver = "postgres";
    cfg.store_dsn = "dbname=x";
#ifndef TK_HAVE_POSTGRES_DRIVER
    TK_CHECK(tk_db_open(&cfg, &db, &err) != 0);
    TK_CHECK(db == NULL);
    TK_CHECK(strstr(err.msg, "postgres store not built yet") != NULL);
#endif
    cfg.store_driver = "oracle";
    TK_CHECK_INT(tk_db_open(&cfg, &db, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "oracle") != NULL);
    cfg.store_driver = "sqlite";
    cfg.store_path = "/nonexistent-dir-tk/x.db";
    TK_CHECK(tk_db_open(&cfg, &db, &err) != 0);
    TK_CHECK(db == NULL);
    TK_CHECK(strstr(err.msg, "/nonexistent-dir-tk/x.db") != NULL);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/tk-test-db-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/tk.db", dir);
    TK_RUN(test_bind_types);
    TK_RUN(test_cursor_and_returning);
    TK_RUN(test_transactions);
    TK_RUN(test_migrate);
    TK_RUN(test_upgrade_from_v1);
    TK_RUN(test_statement_cache);
    TK_RUN(test_busy_waits);
    TK_RUN(test_open_errors);
    cleanup();
    rmdir(dir);
    return tk_test_done();
}
