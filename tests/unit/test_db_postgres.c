/*
 * test_db_postgres.c - the SQL layer through the real PostgreSQL driver:
 * binding letters, `?` rewriting, cursors, changes(), error mapping,
 * aborted transactions and reconnection after the server dropped us.
 *
 * Needs a server: TK_TEST_DSN (set by .ci/postgres.sh, which runs the whole
 * suite against a throwaway cluster).  Without it the test says so and
 * passes; tests/integration/test_postgres.py starts its own cluster and
 * covers the driver end to end in every run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "db/db.h"
#include "tk_test.h"
#include "upgrade_check.h"

static const char *dsn;
static char table[64];

static struct tk_db *open_db(void)
{
    struct tk_config cfg;
    struct tk_error err = {0};
    struct tk_db *db = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.store_driver = "postgres";
    cfg.store_dsn = (char *)dsn;
    if (tk_db_open(&cfg, &db, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return NULL;
    }
    return db;
}

static int64_t one(struct tk_db *db, const char *sql)
{
    int64_t v = -1;
    struct tk_error err = {0};
    if (tk_db_int(db, &v, &err, sql, "") != 0)
        fprintf(stderr, "one: %s\n", err.msg);
    return v;
}

TK_TEST(test_bind_types_and_placeholders)
{
    struct tk_db *db = open_db();
    struct tk_error err = {0};
    TK_CHECK(db != NULL);
    if (!db)
        return;
    TK_CHECK_STR(tk_db_driver_name(db), "postgres");
    TK_CHECK_INT(
        tk_db_exec_script(db, "CREATE TEMP TABLE t (a BIGINT, b TEXT, c BIGINT, d TEXT)", &err), 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?)",
                            "isz"
                            "n",
                            (int64_t)5000000000LL, "h\xc3\xa9llo", (int64_t)0),
                 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?)", "iszs", (int64_t)-1,
                            (const char *)NULL, (int64_t)7, "it's"),
                 0);
    struct tk_cursor *cur = NULL;
    TK_CHECK_INT(tk_db_query(db, &cur, &err, "SELECT a, b, c, d, a > 0 FROM t ORDER BY a DESC", ""),
                 0);
    TK_CHECK_INT(tk_cursor_next(cur, &err), 1);
    TK_CHECK_INT(tk_cursor_int(cur, 0), 5000000000LL);
    TK_CHECK_STR(tk_cursor_text(cur, 1), "h\xc3\xa9llo");
    TK_CHECK(tk_cursor_text(cur, 2) == NULL); /* 'z' with 0 is NULL */
    TK_CHECK(tk_cursor_text(cur, 3) == NULL); /* 'n' */
    TK_CHECK_INT(tk_cursor_int(cur, 2), 0);
    TK_CHECK_INT(tk_cursor_int(cur, 4), 1); /* a boolean reads 1 */
    TK_CHECK_INT(tk_cursor_next(cur, &err), 1);
    TK_CHECK_INT(tk_cursor_int(cur, 0), -1);
    TK_CHECK(tk_cursor_text(cur, 1) == NULL);
    TK_CHECK_INT(tk_cursor_int(cur, 2), 7);
    TK_CHECK_STR(tk_cursor_text(cur, 3), "it's");
    TK_CHECK_INT(tk_cursor_int(cur, 4), 0);
    TK_CHECK_INT(tk_cursor_next(cur, &err), 0);
    TK_CHECK_INT(tk_cursor_next(cur, &err), 0);
    tk_cursor_close(cur);

    /* `?` inside literals, quoted names and comments is not a placeholder. */
    TK_CHECK_INT(tk_db_query(db, &cur, &err, "SELECT '?''?' || ? AS \"a?\" -- what?\n, ? + 1", "si",
                             "x", (int64_t)41),
                 0);
    TK_CHECK_INT(tk_cursor_next(cur, &err), 1);
    TK_CHECK_STR(tk_cursor_text(cur, 0), "?'?x");
    TK_CHECK_INT(tk_cursor_int(cur, 1), 42);
    tk_cursor_close(cur);

    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t (a) VALUES (?)", "ii", (int64_t)1, (int64_t)2),
                 TK_EINVAL);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t (a) VALUES (?)", "q", (int64_t)1), TK_EINVAL);
    TK_CHECK(tk_db_exec(db, &err, "SELEC nonsense", "") != 0);
    TK_CHECK(strncmp(err.msg, "store postgres: ", 16) == 0 && strchr(err.msg, '\n') == NULL);

    int64_t v = 0;
    TK_CHECK_INT(tk_db_int(db, &v, &err, "SELECT a FROM t WHERE a = ?", "i", (int64_t)42),
                 TK_ENOTFOUND);
    TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM t WHERE c IS NULL"), 1);
    tk_db_close(db);
}

TK_TEST(test_changes_returning_and_conflicts)
{
    struct tk_db *db = open_db();
    struct tk_error err = {0};
    if (!db)
        return;
    TK_CHECK_INT(tk_db_exec_script(db,
                                   "CREATE TEMP TABLE u (id BIGSERIAL PRIMARY KEY, "
                                   "k TEXT UNIQUE, v BIGINT)",
                                   &err),
                 0);
    int64_t id = 0, last = 0, changed = -1;
    for (int i = 1; i <= 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        TK_CHECK_INT(tk_db_int(db, &id, &err, "INSERT INTO u (k, v) VALUES (?, ?) RETURNING id",
                               "si", k, (int64_t)i),
                     0);
        TK_CHECK(id > last);
        last = id;
    }
    TK_CHECK_INT(tk_db_exec(db, &err, "UPDATE u SET v = v + 1 WHERE v > ?", "i", (int64_t)15), 0);
    tk_db_changes(db, &changed);
    TK_CHECK_INT(changed, 5);
    TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM u"), 20); /* a SELECT leaves changes() alone */
    tk_db_changes(db, &changed);
    TK_CHECK_INT(changed, 5);
    /* ON CONFLICT DO NOTHING RETURNING: no row, as the outbox expects. */
    TK_CHECK_INT(tk_db_int(db, &id, &err,
                           "INSERT INTO u (k, v) VALUES ('k1', 0) "
                           "ON CONFLICT (k) DO NOTHING RETURNING id",
                           ""),
                 TK_ENOTFOUND);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO u (k, v) VALUES ('k1', 0)", ""), TK_ECONFLICT);

    /* An error aborts a PostgreSQL transaction: the commit must fail and
     * nothing of it may stay. */
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO u (k, v) VALUES ('new', 0)", ""), 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO u (k, v) VALUES ('k2', 0)", ""), TK_ECONFLICT);
    TK_CHECK(tk_db_commit(db, &err) != 0);
    TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM u WHERE k = 'new'"), 0);
    /* and the connection is usable again */
    TK_CHECK_INT(tk_db_begin(db, TK_TX_DEFERRED, &err), 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO u (k, v) VALUES ('new', 0)", ""), 0);
    TK_CHECK_INT(tk_db_commit(db, &err), 0);
    TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM u WHERE k = 'new'"), 1);
    tk_db_close(db);
}

/* Two connections: a row lock held past lock_timeout is TK_ETEMP, and
 * SKIP LOCKED passes it by. */
TK_TEST(test_lock_timeout_and_skip_locked)
{
    struct tk_db *a = open_db(), *b = open_db();
    struct tk_error err = {0};
    char sql[160];
    if (!a || !b) {
        tk_db_close(a);
        tk_db_close(b);
        TK_CHECK(0);
        return;
    }
    snprintf(sql, sizeof sql, "CREATE TABLE %s (id BIGINT PRIMARY KEY, v BIGINT)", table);
    TK_CHECK_INT(tk_db_exec_script(a, sql, &err), 0);
    snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (1, 0), (2, 0)", table);
    TK_CHECK_INT(tk_db_exec_script(a, sql, &err), 0);
    TK_CHECK_INT(tk_db_exec_script(b, "SET lock_timeout = '200ms'", &err), 0);

    TK_CHECK_INT(tk_db_begin(a, TK_TX_IMMEDIATE, &err), 0);
    snprintf(sql, sizeof sql, "UPDATE %s SET v = 1 WHERE id = 1", table);
    TK_CHECK_INT(tk_db_exec(a, &err, sql, ""), 0);
    TK_CHECK_INT(tk_db_begin(b, TK_TX_IMMEDIATE, &err), 0);
    snprintf(sql, sizeof sql, "SELECT id FROM %s ORDER BY id FOR UPDATE SKIP LOCKED", table);
    int64_t id = 0;
    TK_CHECK_INT(tk_db_int(b, &id, &err, sql, ""), 0);
    TK_CHECK_INT(id, 2);
    snprintf(sql, sizeof sql, "UPDATE %s SET v = 2 WHERE id = 1", table);
    TK_CHECK_INT(tk_db_exec(b, &err, sql, ""), TK_ETEMP);
    tk_db_rollback(b);
    TK_CHECK_INT(tk_db_commit(a, &err), 0);

    snprintf(sql, sizeof sql, "DROP TABLE %s", table);
    TK_CHECK_INT(tk_db_exec_script(a, sql, &err), 0);
    tk_db_close(a);
    tk_db_close(b);
}

/* The server ends our session (as a restart does): inside a transaction
 * that is a clear TK_EIO; the next BEGIN reconnects by itself. */
TK_TEST(test_reconnect_after_the_server_dropped_us)
{
    struct tk_db *a = open_db(), *admin = open_db();
    struct tk_error err = {0};
    int64_t pid = 0, pid2 = 0, ok = 0;
    if (!a || !admin) {
        tk_db_close(a);
        tk_db_close(admin);
        TK_CHECK(0);
        return;
    }
    TK_CHECK_INT(tk_db_int(a, &pid, &err, "SELECT pg_backend_pid()", ""), 0);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(
        tk_db_int(admin, &ok, &err, "SELECT pg_terminate_backend(CAST(? AS INTEGER))", "i", pid),
        0);
    usleep(100 * 1000);
    TK_CHECK_INT(tk_db_int(a, &pid2, &err, "SELECT pg_backend_pid()", ""), TK_EIO);
    TK_CHECK(strstr(err.msg, "connection lost") != NULL);
    tk_db_rollback(a);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_db_int(a, &pid2, &err, "SELECT pg_backend_pid()", ""), 0);
    TK_CHECK(pid2 != pid && pid2 > 0);
    TK_CHECK_INT(tk_db_commit(a, &err), 0);

    /* Dropped while idle: the next BEGIN finds out and reconnects. */
    TK_CHECK_INT(
        tk_db_int(admin, &ok, &err, "SELECT pg_terminate_backend(CAST(? AS INTEGER))", "i", pid2),
        0);
    usleep(100 * 1000);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_db_int(a, &pid, &err, "SELECT pg_backend_pid()", ""), 0);
    TK_CHECK(pid != pid2);
    TK_CHECK_INT(tk_db_commit(a, &err), 0);
    tk_db_close(a);
    tk_db_close(admin);
}

/* In a schema of its own: the test database has the newest tables. */
TK_TEST(test_upgrade_from_v1)
{
    struct tk_db *db = open_db();
    struct tk_error err = {0};
    char sql[512];
    TK_CHECK(db != NULL);
    if (!db)
        return;
    snprintf(sql, sizeof sql,
             "DROP SCHEMA IF EXISTS %s_up CASCADE; CREATE SCHEMA %s_up; SET search_path TO %s_up",
             table, table, table);
    TK_CHECK_INT(tk_db_exec_script(db, sql, &err), 0);
    upgrade_check_v1(db);
    snprintf(sql, sizeof sql, "SET search_path TO public; DROP SCHEMA %s_up CASCADE", table);
    TK_CHECK_INT(tk_db_exec_script(db, sql, &err), 0);
    tk_db_close(db);
}

int main(void)
{
    dsn = getenv("TK_TEST_DSN");
#ifndef TK_HAVE_POSTGRES_DRIVER
    dsn = NULL;
#endif
    if (!dsn || !*dsn) {
        printf(
            "test_db_postgres: skipped (no TK_TEST_DSN; test_postgres.py runs its own cluster)\n");
        return tk_test_done();
    }
    snprintf(table, sizeof table, "tk_unit_%ld", (long)getpid());
    TK_RUN(test_bind_types_and_placeholders);
    TK_RUN(test_changes_returning_and_conflicts);
    TK_RUN(test_lock_timeout_and_skip_locked);
    TK_RUN(test_reconnect_after_the_server_dropped_us);
    TK_RUN(test_upgrade_from_v1);
    return tk_test_done();
}
