/*
 * test_db_contract.c - the SQL driver contract, one suite for every
 * driver: binding (letters and arrays), `?` outside literals, cursors,
 * changes(), RETURNING and tk_db_insert, error mapping, transactions and
 * snapshots, concurrent writers, the dialect's clauses, migrations and the
 * upgrade from schema version 1, the statement cache, and the table copy
 * between every pair of drivers, row for row.
 *
 * Every case runs on SQLite, and on PostgreSQL when a server is at hand:
 * TK_TEST_DSN (set by .ci/postgres.sh) names one; otherwise the suite
 * starts a throwaway cluster with tests/integration/pgcluster.py when the
 * PostgreSQL server binaries are installed, and says it skipped PostgreSQL
 * only when they are not.  Each case gets a new, empty store: a new SQLite
 * file, or a new database on the server.
 *
 * A few checks belong to one driver only (SQLite's error names the file;
 * PostgreSQL aborts a transaction at its first error, reconnects after
 * the server dropped it, and times out a row lock); they are marked.
 */
#include <dirent.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "db/db.h"
#include "store/store.h"
#include "tk_test.h"
#include "upgrade_check.h"

/* ---- the drivers under test ------------------------------------------- */

struct drv {
    const char *name; /* as tk_db_driver_name says */
    int pg;
    char server[512]; /* PostgreSQL: the server's DSN */
};

static struct drv sqlite_drv = {"sqlite", 0, ""};
static struct drv pg_drv = {"postgres", 1, ""};
static struct drv *D; /* the one the running case is on */

static char dir[64];
static char cluster_dir[64];
static int nstores;
static char pg_db[48]; /* the suite's database; each store is a schema in it */

static struct tk_db *open_spec(const char *spec)
{
    struct tk_error err = {0};
    struct tk_db *db = NULL;
    if (tk_db_open_spec(spec, 0, &db, &err) != 0) {
        fprintf(stderr, "open %s: %s\n", spec, err.msg);
        return NULL;
    }
    return db;
}

/* A new, empty store on driver DR; its spec into SPEC.  On PostgreSQL a
 * store is a schema of the suite's database, found through search_path
 * (CREATE DATABASE costs most of a second, CREATE SCHEMA nothing). */
static void new_store(const struct drv *dr, char *spec, size_t size)
{
    int n = ++nstores;
    char sql[96], base[600];
    struct tk_error err = {0};
    if (!dr->pg) {
        snprintf(spec, size, "sqlite:%s/s%d.db", dir, n);
        return;
    }
    snprintf(base, sizeof base, "postgres:%s dbname=%s", dr->server, pg_db);
    struct tk_db *db = open_spec(base);
    snprintf(sql, sizeof sql, "CREATE SCHEMA s%d", n);
    if (!db || tk_db_exec_script(db, sql, &err) != 0)
        fprintf(stderr, "create schema: %s\n", err.msg);
    tk_db_close(db);
    snprintf(spec, size, "%s options='-c search_path=s%d'", base, n);
}

/* A new store on D, opened. */
static struct tk_db *fresh(char *spec, size_t size)
{
    new_store(D, spec, size);
    struct tk_db *db = open_spec(spec);
    TK_CHECK(db != NULL);
    return db;
}

static int64_t one(struct tk_db *db, const char *sql)
{
    int64_t v = -1;
    struct tk_error err = {0};
    if (tk_db_int(db, &v, &err, sql, "") != 0)
        fprintf(stderr, "one: %s: %s\n", sql, err.msg);
    return v;
}

/* A generated integer key in D's DDL (test tables only; the schema has
 * its own, per dialect, in core/db/schema.c). */
static const char *serial_key(void)
{
    return D->pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
}

/* ---- binding ------------------------------------------------------------ */

TK_TEST(bind_letters_and_placeholders)
{
    char spec[700];
    struct tk_db *db = fresh(spec, sizeof spec);
    struct tk_error err = {0};
    struct tk_cursor *cur = NULL;
    TK_CHECK(db != NULL);
    if (!db)
        return;
    TK_CHECK_STR(tk_db_driver_name(db), D->name);
    TK_CHECK_INT(tk_db_exec_script(db, "CREATE TABLE t (a BIGINT, b TEXT, c BIGINT, d TEXT)", &err),
                 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?)",
                            "isz"
                            "n",
                            (int64_t)5000000000LL, "h\xc3\xa9llo", (int64_t)0),
                 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?)", "iszs", (int64_t)-1,
                            (const char *)NULL, (int64_t)7, "it's"),
                 0);
    TK_CHECK_INT(tk_db_query(db, &cur, &err, "SELECT a, b, c, d, a > 0 FROM t ORDER BY a DESC", ""),
                 0);
    TK_CHECK_INT(tk_cursor_next(cur, &err), 1);
    TK_CHECK_INT(tk_cursor_int(cur, 0), 5000000000LL);
    TK_CHECK_STR(tk_cursor_text(cur, 1), "h\xc3\xa9llo");
    TK_CHECK(tk_cursor_text(cur, 2) == NULL); /* 'z' with 0 is NULL */
    TK_CHECK(tk_cursor_text(cur, 3) == NULL); /* 'n' */
    TK_CHECK_INT(tk_cursor_int(cur, 2), 0);   /* NULL reads 0 */
    TK_CHECK_INT(tk_cursor_int(cur, 4), 1);   /* a truth value reads 1 */
    TK_CHECK_INT(tk_cursor_next(cur, &err), 1);
    TK_CHECK_INT(tk_cursor_int(cur, 0), -1);
    TK_CHECK(tk_cursor_text(cur, 1) == NULL); /* 's' with NULL */
    TK_CHECK_INT(tk_cursor_int(cur, 2), 7);
    TK_CHECK_STR(tk_cursor_text(cur, 3), "it's");
    TK_CHECK_INT(tk_cursor_int(cur, 4), 0);
    TK_CHECK_INT(tk_cursor_next(cur, &err), 0);
    TK_CHECK_INT(tk_cursor_next(cur, &err), 0); /* and stays at the end */
    tk_cursor_close(cur);

    /* `?` inside literals, quoted names and comments is not a placeholder. */
    TK_CHECK_INT(tk_db_query(db, &cur, &err, "SELECT '?''?' || ? AS \"a?\" -- what?\n, ? + 1", "si",
                             "x", (int64_t)41),
                 0);
    TK_CHECK_INT(tk_cursor_next(cur, &err), 1);
    TK_CHECK_STR(tk_cursor_text(cur, 0), "?'?x");
    TK_CHECK_INT(tk_cursor_int(cur, 1), 42);
    tk_cursor_close(cur);

    /* Wrong number of values, bad letter, too many, bad SQL: clear
     * one-line errors, nothing written. */
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t (a) VALUES (?)", "ii", (int64_t)1, (int64_t)2),
                 TK_EINVAL);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t (a) VALUES (?)", "q", (int64_t)1), TK_EINVAL);
    char many[TK_DB_VARARGS_MAX + 2];
    memset(many, 'n', sizeof many - 1);
    many[sizeof many - 1] = '\0';
    TK_CHECK_INT(tk_db_exec(db, &err, "SELECT 1", many), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "tk_db_exec_v") != NULL);
    TK_CHECK(tk_db_exec(db, &err, "SELEC nonsense", "") != 0);
    TK_CHECK(strncmp(err.msg, "store ", 6) == 0);
    TK_CHECK(strchr(err.msg, '\n') == NULL);
    if (!D->pg) /* SQLite: the message names the file */
        TK_CHECK(strstr(err.msg, spec + 7) != NULL);
    TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM t"), 2);

    int64_t v = 0;
    TK_CHECK_INT(tk_db_int(db, &v, &err, "SELECT a FROM t WHERE a = ?", "i", (int64_t)42),
                 TK_ENOTFOUND);
    TK_CHECK_INT(tk_db_int(db, &v, &err, "SELECT COUNT(*) FROM t WHERE c IS NULL", ""), 0);
    TK_CHECK_INT(v, 1);
    tk_db_close(db);
}

TK_TEST(bind_arrays)
{
    char spec[700];
    struct tk_db *db = fresh(spec, sizeof spec);
    struct tk_error err = {0};
    struct tk_cursor *cur = NULL;
    if (!db)
        return;
    TK_CHECK_INT(tk_db_exec_script(db, "CREATE TABLE t (a BIGINT, b TEXT, c BIGINT, d TEXT)", &err),
                 0);
    struct tk_db_value row[4] = {tk_db_value_int(INT64_MIN + 1), tk_db_value_text("line\r\nnext"),
                                 tk_db_value_id(0), tk_db_value_null()};
    TK_CHECK_INT(tk_db_exec_v(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?)", row, 4), 0);
    row[0] = tk_db_value_int(3);
    row[1] = tk_db_value_text(NULL);
    row[2] = tk_db_value_id(9);
    row[3] = tk_db_value_text("");
    TK_CHECK_INT(tk_db_exec_v(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?)", row, 4), 0);
    TK_CHECK_INT(tk_db_query_v(db, &cur, &err, "SELECT a, b, c, d FROM t ORDER BY a", NULL, 0), 0);
    TK_CHECK_INT(tk_cursor_next(cur, &err), 1);
    TK_CHECK_INT(tk_cursor_int(cur, 0), INT64_MIN + 1);
    TK_CHECK_STR(tk_cursor_text(cur, 1), "line\r\nnext");
    TK_CHECK(tk_cursor_text(cur, 2) == NULL); /* id 0 binds NULL */
    TK_CHECK(tk_cursor_text(cur, 3) == NULL);
    TK_CHECK_INT(tk_cursor_next(cur, &err), 1);
    TK_CHECK(tk_cursor_text(cur, 1) == NULL); /* text NULL binds NULL */
    TK_CHECK_INT(tk_cursor_int(cur, 2), 9);
    TK_CHECK_STR(tk_cursor_text(cur, 3), ""); /* empty is not NULL */
    TK_CHECK_INT(tk_cursor_next(cur, &err), 0);
    tk_cursor_close(cur);

    /* Many values at once: 300 in one IN list (more than a varargs call
     * takes, and more than the PostgreSQL driver binds from its stack). */
    struct tk_buf sql = {0};
    struct tk_db_value *many = calloc(300, sizeof *many);
    TK_CHECK(many != NULL);
    tk_buf_puts(&sql, "SELECT COUNT(*) FROM t WHERE a IN (?");
    for (int i = 0; many && i < 300; i++) {
        many[i] = tk_db_value_int(i);
        if (i)
            tk_buf_puts(&sql, ", ?");
    }
    tk_buf_puts(&sql, ")");
    TK_CHECK_INT(tk_db_query_v(db, &cur, &err, sql.data, many, 300), 0);
    TK_CHECK_INT(tk_cursor_next(cur, &err), 1);
    TK_CHECK_INT(tk_cursor_int(cur, 0), 1); /* the row with a = 3 */
    tk_cursor_close(cur);
    /* One value short, one too many, a bad type: TK_EINVAL, no cursor. */
    cur = (struct tk_cursor *)&cur;
    TK_CHECK_INT(tk_db_query_v(db, &cur, &err, sql.data, many, 299), TK_EINVAL);
    TK_CHECK(cur == NULL);
    TK_CHECK_INT(tk_db_exec_v(db, &err, "INSERT INTO t (a) VALUES (?)", row, 2), TK_EINVAL);
    struct tk_db_value bad = {99, 0, NULL};
    TK_CHECK_INT(tk_db_exec_v(db, &err, "INSERT INTO t (a) VALUES (?)", &bad, 1), TK_EINVAL);
    TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM t"), 2);
    free(many);
    tk_buf_free(&sql);
    tk_db_close(db);
}

/* ---- rows, ids, changes, conflicts ---------------------------------------- */

TK_TEST(cursors_ids_and_changes)
{
    char spec[700], ddl[160];
    struct tk_db *db = fresh(spec, sizeof spec);
    struct tk_error err = {0};
    if (!db)
        return;
    snprintf(ddl, sizeof ddl, "CREATE TABLE u (id %s, k TEXT UNIQUE, v BIGINT)", serial_key());
    TK_CHECK_INT(tk_db_exec_script(db, ddl, &err), 0);
    int64_t id = 0, last = 0, changed = -1;
    for (int i = 1; i <= 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        if (i % 2)
            TK_CHECK_INT(tk_db_int(db, &id, &err, "INSERT INTO u (k, v) VALUES (?, ?) RETURNING id",
                                   "si", k, (int64_t)i * 10),
                         0);
        else
            TK_CHECK_INT(tk_db_insert(db, &id, &err, "INSERT INTO u (k, v) VALUES (?, ?)", "si", k,
                                      (int64_t)i * 10),
                         0);
        TK_CHECK(id > last);
        last = id;
    }
    TK_CHECK_INT(tk_db_exec(db, &err, "UPDATE u SET v = v + 1 WHERE v > ?", "i", (int64_t)500), 0);
    tk_db_changes(db, &changed);
    TK_CHECK_INT(changed, 50);
    TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM u"), 100); /* a SELECT leaves changes() alone */
    tk_db_changes(db, &changed);
    TK_CHECK_INT(changed, 50);
    struct tk_cursor *cur = NULL;
    TK_CHECK_INT(tk_db_query(db, &cur, &err, "SELECT v FROM u ORDER BY id", ""), 0);
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

    /* ON CONFLICT DO NOTHING makes no row: TK_ENOTFOUND, as the outbox
     * expects, with RETURNING and with tk_db_insert alike. */
    TK_CHECK_INT(tk_db_int(db, &id, &err,
                           "INSERT INTO u (k, v) VALUES ('k1', 0) "
                           "ON CONFLICT (k) DO NOTHING RETURNING id",
                           ""),
                 TK_ENOTFOUND);
    TK_CHECK_INT(tk_db_insert(db, &id, &err,
                              "INSERT INTO u (k, v) VALUES ('k1', 0) ON CONFLICT (k) DO NOTHING",
                              ""),
                 TK_ENOTFOUND);
    /* A unique key or a foreign key refused: TK_ECONFLICT. */
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO u (k, v) VALUES ('k1', 0)", ""), TK_ECONFLICT);
    TK_CHECK_INT(tk_db_migrate(db, &err), 0);
    TK_CHECK_INT(tk_db_exec(db, &err,
                            "INSERT INTO items (type, account_id, template, created_at, todo_seq) "
                            "VALUES ('invoice', 99, 't', 0, 1)",
                            ""),
                 TK_ECONFLICT);
    tk_db_close(db);
}

/* ---- transactions ----------------------------------------------------------- */

TK_TEST(transactions)
{
    char spec[700];
    struct tk_db *db = fresh(spec, sizeof spec);
    struct tk_error err = {0};
    if (!db)
        return;
    TK_CHECK_INT(tk_db_exec_script(db, "CREATE TABLE t (v BIGINT UNIQUE)", &err), 0);
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK(tk_db_begin(db, TK_TX_DEFERRED, &err) != 0); /* no nesting */
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (1)", ""), 0);
    tk_db_rollback(db);
    TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM t"), 0);
    TK_CHECK_INT(tk_db_begin(db, TK_TX_DEFERRED, &err), 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (2)", ""), 0);
    TK_CHECK_INT(tk_db_commit(db, &err), 0);
    TK_CHECK(tk_db_commit(db, &err) != 0); /* nothing open */
    tk_db_rollback(db);                    /* harmless */
    TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM t"), 1);

    /* A statement fails inside a transaction: the caller rolls back, and
     * nothing of the transaction stays; the connection is usable again. */
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (3)", ""), 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (2)", ""), TK_ECONFLICT);
    if (D->pg) /* PostgreSQL aborted the transaction: its commit must fail */
        TK_CHECK(tk_db_commit(db, &err) != 0);
    else
        tk_db_rollback(db);
    TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM t WHERE v = 3"), 0);
    TK_CHECK_INT(tk_db_begin(db, TK_TX_DEFERRED, &err), 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (3)", ""), 0);
    TK_CHECK_INT(tk_db_commit(db, &err), 0);
    TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM t"), 2);

    /* Closing with an open transaction rolls it back. */
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO t VALUES (4)", ""), 0);
    tk_db_close(db);
    db = open_spec(spec);
    TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM t"), 2);
    tk_db_close(db);
}

/* The value of PostgreSQL's synchronous_commit on DB, as text. */
static void sync_commit(struct tk_db *db, char *out, size_t n)
{
    struct tk_cursor *cur = NULL;
    struct tk_error err = {0};
    out[0] = '\0';
    if (tk_db_query(db, &cur, &err, "SELECT current_setting('synchronous_commit')", "") == 0 &&
        tk_cursor_next(cur, &err) > 0 && tk_cursor_text(cur, 0))
        tk_strlcpy(out, tk_cursor_text(cur, 0), n);
    tk_cursor_close(cur);
}

/* TK_TX_RESULT: a write transaction like TK_TX_IMMEDIATE, whose commit is
 * seen by every other connection at once; on PostgreSQL (only) it commits
 * without waiting for the disk, and only that transaction does.  A
 * transaction that ran nothing commits and rolls back too. */
TK_TEST(result_transactions)
{
    char spec[700], v[16], session[16];
    struct tk_db *a = fresh(spec, sizeof spec), *b = open_spec(spec);
    struct tk_error err = {0};
    if (!a || !b) {
        tk_db_close(a);
        tk_db_close(b);
        TK_CHECK(0);
        return;
    }
    TK_CHECK_INT(tk_db_exec_script(a, "CREATE TABLE t (v BIGINT UNIQUE)", &err), 0);
    if (D->pg) { /* the test cluster runs with it off: on for this session */
        TK_CHECK_INT(tk_db_exec_script(a, "SET synchronous_commit = on", &err), 0);
        sync_commit(a, session, sizeof session);
        TK_CHECK_STR(session, "on");
    }
    TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0);
    TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO t VALUES (1)", ""), 0);
    if (D->pg) {
        sync_commit(a, v, sizeof v);
        TK_CHECK_STR(v, "off");
    }
    TK_CHECK_INT(tk_db_commit(a, &err), 0);
    TK_CHECK_INT(one(b, "SELECT COUNT(*) FROM t"), 1);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0);
    TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO t VALUES (2)", ""), 0);
    tk_db_rollback(a);
    TK_CHECK_INT(one(b, "SELECT COUNT(*) FROM t"), 1);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0); /* nothing in it */
    TK_CHECK_INT(tk_db_commit(a, &err), 0);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0);
    tk_db_rollback(a);
    if (D->pg) { /* the setting was the transaction's own */
        TK_CHECK_INT(tk_db_begin(a, TK_TX_IMMEDIATE, &err), 0);
        sync_commit(a, v, sizeof v);
        TK_CHECK_STR(v, session);
        TK_CHECK_INT(tk_db_commit(a, &err), 0);
    }
    tk_db_close(a);
    tk_db_close(b);
}

/* tk_db_last_statement: the transaction's boundaries and outcomes are
 * those of the same statements without the hint (PostgreSQL sends COMMIT
 * in the statement's pipeline; SQLite ignores it). */
TK_TEST(last_statement_commits_with_it)
{
    char spec[700];
    struct tk_db *a = fresh(spec, sizeof spec), *b = open_spec(spec);
    struct tk_error err = {0};
    int64_t n = -1;
    if (!a || !b) {
        tk_db_close(a);
        tk_db_close(b);
        TK_CHECK(0);
        return;
    }
    TK_CHECK_INT(tk_db_exec_script(a, "CREATE TABLE t (v BIGINT UNIQUE, w BIGINT)", &err), 0);
    TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO t VALUES (1, 0)", ""), 0);

    /* the first statement, BEGIN and COMMIT together; changes counted */
    TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0);
    tk_db_last_statement(a);
    TK_CHECK_INT(tk_db_exec(a, &err, "UPDATE t SET w = 1 WHERE v = ?", "i", (int64_t)1), 0);
    TK_CHECK_INT(tk_db_changes(a, &n), 0);
    TK_CHECK_INT(n, 1);
    TK_CHECK_INT(tk_db_commit(a, &err), 0);
    TK_CHECK_INT(one(b, "SELECT w FROM t WHERE v = 1"), 1);

    /* a statement that changes nothing (a stale token) commits fine */
    TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0);
    tk_db_last_statement(a);
    TK_CHECK_INT(tk_db_exec(a, &err, "UPDATE t SET w = 2 WHERE v = ?", "i", (int64_t)99), 0);
    TK_CHECK_INT(tk_db_changes(a, &n), 0);
    TK_CHECK_INT(n, 0);
    TK_CHECK_INT(tk_db_commit(a, &err), 0);

    /* a failing last statement: nothing of the transaction is kept, and
     * the connection stays usable */
    TK_CHECK_INT(tk_db_begin(a, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO t VALUES (5, 0)", ""), 0);
    tk_db_last_statement(a);
    TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO t VALUES (1, 0)", ""), TK_ECONFLICT);
    tk_db_rollback(a);
    TK_CHECK_INT(one(b, "SELECT COUNT(*) FROM t"), 1);
    /* ... also when it is the first (BEGIN in the same pipeline) */
    TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0);
    tk_db_last_statement(a);
    TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO t VALUES (1, 0)", ""), TK_ECONFLICT);
    tk_db_rollback(a);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0);
    tk_db_last_statement(a);
    TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO t VALUES (6, 0)", ""), 0);
    TK_CHECK_INT(tk_db_commit(a, &err), 0);
    TK_CHECK_INT(one(b, "SELECT COUNT(*) FROM t"), 2);

    /* a hint with no statement after it is forgotten at commit: the next
     * transaction's statement does not commit early */
    TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0);
    tk_db_last_statement(a);
    TK_CHECK_INT(tk_db_commit(a, &err), 0);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0);
    TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO t VALUES (7, 0)", ""), 0);
    tk_db_rollback(a);
    TK_CHECK_INT(one(b, "SELECT COUNT(*) FROM t WHERE v = 7"), 0);

    /* a result transaction of one statement (PostgreSQL: no BEGIN, no
     * COMMIT, the pipeline's implicit transaction) commits without waiting
     * for the disk, and only it does */
    if (D->pg) {
        char v[16];
        struct tk_cursor *cur = NULL;
        TK_CHECK_INT(tk_db_exec_script(a, "SET synchronous_commit = on", &err), 0);
        TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0);
        tk_db_last_statement(a);
        v[0] = '\0';
        TK_CHECK_INT(tk_db_query(a, &cur, &err, "SELECT current_setting('synchronous_commit')", ""),
                     0);
        if (cur && tk_cursor_next(cur, &err) > 0 && tk_cursor_text(cur, 0))
            tk_strlcpy(v, tk_cursor_text(cur, 0), sizeof v);
        tk_cursor_close(cur);
        TK_CHECK_STR(v, "off");
        TK_CHECK_INT(tk_db_commit(a, &err), 0);
        sync_commit(a, v, sizeof v);
        TK_CHECK_STR(v, "on");
    }

    /* a COMMIT that fails (a deferred key) is tk_db_commit's failure, and
     * keeps nothing */
    if (D->pg) {
        TK_CHECK_INT(tk_db_exec_script(
                         a, "CREATE TABLE u (v BIGINT UNIQUE DEFERRABLE INITIALLY DEFERRED)", &err),
                     0);
        TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0);
        TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO u VALUES (1)", ""), 0);
        tk_db_last_statement(a);
        TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO u VALUES (1)", ""), 0);
        TK_CHECK_INT(tk_db_commit(a, &err), TK_ECONFLICT);
        TK_CHECK_INT(one(b, "SELECT COUNT(*) FROM u"), 0);
        /* ... also in a result transaction of one statement, whose commit
         * is the pipeline's Sync: the statement reports it */
        TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO u VALUES (1)", ""), 0);
        TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0);
        tk_db_last_statement(a);
        TK_CHECK(tk_db_exec(a, &err, "INSERT INTO u SELECT 1 FROM u", "") != 0 ||
                 tk_db_commit(a, &err) != 0);
        tk_db_rollback(a);
        TK_CHECK_INT(one(b, "SELECT COUNT(*) FROM u"), 1);
        TK_CHECK_INT(tk_db_exec(a, &err, "DELETE FROM u", ""), 0); /* usable again */
        TK_CHECK_INT(one(b, "SELECT COUNT(*) FROM u"), 0);
        TK_CHECK_INT(tk_db_begin(a, TK_TX_IMMEDIATE, &err), 0);
        TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO u VALUES (2)", ""), 0);
        TK_CHECK_INT(tk_db_commit(a, &err), 0);
        TK_CHECK_INT(one(b, "SELECT COUNT(*) FROM u"), 1);
    }
    tk_db_close(a);
    tk_db_close(b);
}

/* TK_TX_SNAPSHOT: every read sees the state of its first read, whatever
 * commits meanwhile. */
TK_TEST(snapshot_reads)
{
    char spec[700];
    struct tk_db *a = fresh(spec, sizeof spec), *b = open_spec(spec);
    struct tk_error err = {0};
    if (!a || !b) {
        tk_db_close(a);
        tk_db_close(b);
        TK_CHECK(0);
        return;
    }
    TK_CHECK_INT(tk_db_exec_script(a, "CREATE TABLE t (v BIGINT); CREATE TABLE w (v BIGINT)", &err),
                 0);
    TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO t VALUES (1)", ""), 0);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_SNAPSHOT, &err), 0);
    TK_CHECK_INT(one(a, "SELECT COUNT(*) FROM t"), 1);
    TK_CHECK_INT(tk_db_begin(b, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_db_exec(b, &err, "INSERT INTO t VALUES (2)", ""), 0);
    TK_CHECK_INT(tk_db_exec(b, &err, "INSERT INTO w VALUES (2)", ""), 0);
    TK_CHECK_INT(tk_db_commit(b, &err), 0);
    TK_CHECK_INT(one(a, "SELECT COUNT(*) FROM t"), 1);
    TK_CHECK_INT(one(a, "SELECT COUNT(*) FROM w"), 0); /* another table, the same moment */
    tk_db_rollback(a);
    TK_CHECK_INT(one(a, "SELECT COUNT(*) FROM t"), 2);
    tk_db_close(a);
    tk_db_close(b);
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
    h->ok = tk_db_commit(h->db, NULL) == 0;
    return NULL;
}

/* Two writers change the same row: the second waits for the first (at its
 * BEGIN IMMEDIATE on SQLite, at the row on PostgreSQL), then both changes
 * land; nobody fails for having waited 300 ms. */
TK_TEST(writers_wait_for_each_other)
{
    char spec[700];
    struct tk_db *a = fresh(spec, sizeof spec), *b = open_spec(spec);
    struct tk_error err = {0};
    if (!a || !b) {
        tk_db_close(a);
        tk_db_close(b);
        TK_CHECK(0);
        return;
    }
    TK_CHECK_INT(tk_db_exec_script(a, "CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT)", &err), 0);
    TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO t VALUES (1, 0)", ""), 0);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_db_exec(a, &err, "UPDATE t SET v = v + 1 WHERE id = 1", ""), 0);
    struct holder h = {a, 0};
    pthread_t th;
    pthread_create(&th, NULL, hold_then_commit, &h);
    int rc = tk_db_begin(b, TK_TX_IMMEDIATE, &err);
    if (rc == 0)
        rc = tk_db_exec(b, &err, "UPDATE t SET v = v + 10 WHERE id = 1", "");
    if (rc == 0)
        rc = tk_db_commit(b, &err);
    else
        tk_db_rollback(b);
    TK_CHECK_INT(rc, 0);
    if (rc != 0)
        fprintf(stderr, "second writer: %s\n", err.msg);
    pthread_join(th, NULL);
    TK_CHECK(h.ok);
    TK_CHECK_INT(one(b, "SELECT v FROM t WHERE id = 1"), 11);
    tk_db_close(a);
    tk_db_close(b);
}

/* ---- the dialect ------------------------------------------------------------ */

TK_TEST(dialect_clauses)
{
    char spec[700], sql[256];
    struct tk_db *a = fresh(spec, sizeof spec);
    const struct tk_db_dialect *d = a ? tk_db_dialect(a) : NULL;
    struct tk_error err = {0};
    int64_t id = 0;
    if (!a)
        return;
    TK_CHECK(d->lock_rows != NULL && d->skip_locked != NULL);
    TK_CHECK((int)d->schema_sql >= 0 && d->schema_sql < TK_DB_SCHEMA_NSQL);
    TK_CHECK(d->claim == TK_DB_CLAIM_SERIAL || d->claim == TK_DB_CLAIM_SKIP_LOCKED);
    /* Where writers run side by side, a claim must be able to skip. */
    if (d->claim == TK_DB_CLAIM_SKIP_LOCKED)
        TK_CHECK(d->skip_locked[0] != '\0' && d->lock_rows[0] != '\0');
    TK_CHECK_INT(tk_db_exec_script(a, "CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT)", &err), 0);
    TK_CHECK_INT(tk_db_exec(a, &err, "INSERT INTO t VALUES (1, 0), (2, 0)", ""), 0);
    /* Both clauses make valid SQL after a SELECT with ORDER BY and LIMIT. */
    TK_CHECK_INT(tk_db_begin(a, TK_TX_IMMEDIATE, &err), 0);
    snprintf(sql, sizeof sql, "SELECT id FROM t WHERE id = ?%s", d->lock_rows);
    TK_CHECK_INT(tk_db_int(a, &id, &err, sql, "i", (int64_t)1), 0);
    TK_CHECK_INT(id, 1);
    snprintf(sql, sizeof sql, "SELECT id FROM t ORDER BY id LIMIT ?%s", d->skip_locked);
    TK_CHECK_INT(tk_db_int(a, &id, &err, sql, "i", (int64_t)1), 0);
    TK_CHECK_INT(id, 1); /* our own locks do not hide rows from us */

    if (d->claim == TK_DB_CLAIM_SKIP_LOCKED) {
        /* Another writer passes the locked row by, and waiting on it
         * times out as TK_ETEMP (PostgreSQL's lock_timeout, shortened). */
        struct tk_db *b = open_spec(spec);
        TK_CHECK(b != NULL);
        if (b) {
            TK_CHECK_INT(tk_db_exec_script(b, "SET lock_timeout = '200ms'", &err), 0);
            TK_CHECK_INT(tk_db_begin(b, TK_TX_IMMEDIATE, &err), 0);
            TK_CHECK_INT(tk_db_int(b, &id, &err, sql, "i", (int64_t)5), 0);
            TK_CHECK_INT(id, 2);
            TK_CHECK_INT(tk_db_exec(b, &err, "UPDATE t SET v = 2 WHERE id = 1", ""), TK_ETEMP);
            tk_db_rollback(b);
            tk_db_close(b);
        }
    }
    TK_CHECK_INT(tk_db_commit(a, &err), 0);
    tk_db_close(a);
}

/* ---- schema ----------------------------------------------------------------- */

TK_TEST(migrations)
{
    char spec[700];
    struct tk_db *db = fresh(spec, sizeof spec);
    struct tk_error err = {0};
    if (!db)
        return;
    TK_CHECK(tk_db_schema_version() >= 2);
    TK_CHECK_INT(tk_db_store_version(db), 0);
    TK_CHECK_INT(tk_db_migrate(db, &err), 0);
    TK_CHECK_INT(tk_db_migrate(db, &err), 0); /* idempotent */
    tk_db_close(db);
    db = open_spec(spec);
    TK_CHECK_INT(tk_db_migrate(db, &err), 0); /* and across opens */
    TK_CHECK_INT(tk_db_store_version(db), tk_db_schema_version());
    /* the newest recorded; versions may have gaps while branches that each
     * add one are merged (the lead renumbers) */
    TK_CHECK_INT(one(db, "SELECT MAX(version) FROM schema_version"), tk_db_schema_version());
    TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM items"), 0);
    /* A store from a newer tickler is refused, clearly. */
    TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO schema_version (version) VALUES (?)", "i",
                            (int64_t)tk_db_schema_version() + 5),
                 0);
    TK_CHECK_INT(tk_db_migrate(db, &err), TK_ECONFLICT);
    TK_CHECK(strstr(err.msg, "newer") != NULL);
    tk_db_close(db);
}

TK_TEST(upgrade_from_v1)
{
    char spec[700];
    struct tk_db *db = fresh(spec, sizeof spec);
    TK_CHECK(db != NULL);
    if (!db)
        return;
    upgrade_check_v1(db);
    /* the text left the outbox row: a claim no longer rewrites it */
    struct tk_error err = {0};
    TK_CHECK(tk_db_exec(db, &err, "SELECT data FROM outbox", "") != 0);
    tk_db_close(db);
}

/* The audit's rows as text, in id order (NULL as \N). */
static void audit_rows(struct tk_db *db, struct tk_buf *out)
{
    struct tk_cursor *cur = NULL;
    struct tk_error err = {0};
    tk_buf_reset(out);
    TK_CHECK_INT(tk_db_query(db, &cur, &err,
                             "SELECT id, at, actor, account_id, item_id, job_id, action, detail, "
                             "recorded_at FROM audit ORDER BY id",
                             ""),
                 0);
    while (cur && tk_cursor_next(cur, &err) > 0) {
        for (int c = 0; c < 9; c++) {
            const char *v = tk_cursor_text(cur, c);
            tk_buf_printf(out, "%s%s", c ? "\x1f" : "", v ? v : "\\N");
        }
        tk_buf_putc(out, '\n');
    }
    tk_cursor_close(cur);
}

static int count_entry(void *u, const struct tk_audit_entry *e)
{
    (void)e;
    ++*(int *)u;
    return 0;
}

/* Schema v15 (issue 17): SQLite's audit loses AUTOINCREMENT, its rows and
 * ids kept.  A v14 store's entries (every column, NULLs and a pre-v5 row
 * without recorded_at among them) are the same after the upgrade, both
 * indexes still serve the item's and the account's reads, and the next
 * entry gets the id AUTOINCREMENT would have given it: the largest + 1.
 * On PostgreSQL v15 changes nothing and the same holds. */
TK_TEST(upgrade_v14_audit_keeps_its_rows_and_ids)
{
    char spec[700];
    struct tk_db *db = fresh(spec, sizeof spec);
    struct tk_error err = {0};
    struct tk_buf before = {0}, after = {0};
    int64_t seq = 0, id = 0, top = 0;
    int n = 0;
    TK_CHECK(db != NULL);
    if (!db)
        return;
    TK_CHECK_INT(tk_db_migrate_to(db, 14, &err), 0);
    TK_CHECK_INT(tk_store_audit_add(db, 100, "tick", 7, 70, 0, "reminder", "to a@x.example", &err),
                 0);
    TK_CHECK_INT(tk_store_audit_add(db, 101, "cli", 7, 0, 3, "job-added", NULL, &err), 0);
    TK_CHECK_INT(tk_store_audit_add(db, 102, "api", 8, 71, 4, "event", "paid\nline two", &err), 0);
    TK_CHECK_INT(tk_db_exec(db, &err,
                            "INSERT INTO audit (at, actor, account_id, item_id, job_id, action, "
                            "detail) VALUES (50, 'old', 7, 70, NULL, 'created', 'before v5')",
                            ""),
                 0);
    TK_CHECK_INT(tk_store_audit_add(db, 103, "tick", 0, 0, 0, "tick", "", &err), 0);
    if (!D->pg)
        seq = one(db, "SELECT seq FROM sqlite_sequence WHERE name = 'audit'");
    audit_rows(db, &before);
    TK_CHECK_INT(tk_db_migrate(db, &err), 0);
    TK_CHECK_INT(tk_db_store_version(db), tk_db_schema_version());
    audit_rows(db, &after);
    TK_CHECK(before.len > 100 && before.len == after.len &&
             memcmp(before.data, after.data, before.len) == 0);
    if (!D->pg) {
        TK_CHECK_INT(seq, 5);
        TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'audit'"), 0);
        TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'audit' AND "
                             "sql LIKE '%AUTOINCREMENT%'"),
                     0);
        TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND "
                             "tbl_name = 'audit' AND name IN ('audit_item', 'audit_account')"),
                     2);
        TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'audit_v15'"), 0);
        /* the other AUTOINCREMENT tables keep their marks */
        TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'outbox' AND "
                             "sql LIKE '%AUTOINCREMENT%'"),
                     1);
    } else {
        TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() "
                             "AND tablename = 'audit' AND indexname IN ('audit_item', "
                             "'audit_account')"),
                     2);
    }
    /* the item's and the account's reads */
    TK_CHECK_INT(tk_store_audit_each(db, 0, 70, count_entry, &n, &err), 0);
    TK_CHECK_INT(n, 2);
    n = 0;
    TK_CHECK_INT(tk_store_audit_each(db, 7, 0, count_entry, &n, &err), 0);
    TK_CHECK_INT(n, 3);
    /* the next id: the largest + 1, as AUTOINCREMENT's mark gave */
    TK_CHECK_INT(tk_store_audit_add(db, 104, "tick", 1, 2, 0, "reminder", "next", &err), 0);
    id = one(db, "SELECT MAX(id) FROM audit");
    TK_CHECK_INT(id, 6);
    if (!D->pg)
        TK_CHECK_INT(id, seq + 1);
    /* A copy's high-water mark (tickler migrate): PostgreSQL's sequence
     * moves; SQLite's audit has none to keep, so sqlite_sequence gets no
     * row for it, and its next id is still the largest + 1. */
    TK_CHECK_INT(tk_db_id_high_water(db, "audit", &top, &err), 0);
    TK_CHECK_INT(tk_db_set_id_high_water(db, "audit", 100, &err), 0);
    TK_CHECK_INT(tk_store_audit_add(db, 105, "tick", 1, 2, 0, "reminder", "after", &err), 0);
    if (!D->pg) {
        TK_CHECK_INT(top, 0);
        TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'audit'"), 0);
        TK_CHECK_INT(one(db, "SELECT MAX(id) FROM audit"), 7);
    } else {
        TK_CHECK_INT(one(db, "SELECT MAX(id) FROM audit"), 101);
    }
    /* and an AUTOINCREMENT table's mark still moves */
    if (!D->pg) {
        TK_CHECK_INT(tk_db_set_id_high_water(db, "outbox", 40, &err), 0);
        TK_CHECK_INT(tk_db_id_high_water(db, "outbox", &top, &err), 0);
        TK_CHECK_INT(top, 40);
    }
    tk_buf_free(&before);
    tk_buf_free(&after);
    tk_db_close(db);
}

/* An item's fields read alone (tk_store_item_get: the one-item path) are
 * what a page read gives the same item (tk_store_item_due_page: the page
 * path, the only one before): the same names and values in the same
 * (pos, name) order, a NULL value as "", more fields than the one-item
 * path keeps on its stack, none at all; and an account's name read alone
 * (tk_store_account_name) is tk_store_account_get's, a missing account
 * the same error. */
TK_TEST(one_item_reads_as_a_page_reads_them)
{
    char spec[700];
    struct tk_db *db = fresh(spec, sizeof spec);
    struct tk_error err = {0};
    struct tk_item *v = NULL;
    size_t n = 0, checked = 0, fields = 0;
    unsigned seed = 20261202;
    if (!db)
        return;
    TK_CHECK_INT(tk_db_migrate(db, &err), 0);
    for (int a = 0; a < 3; a++)
        TK_CHECK_INT(tk_db_exec(db, &err,
                                "INSERT INTO accounts (name, language, created_at) VALUES (?, "
                                "'en', 1)",
                                "s",
                                a == 0   ? "Acme"
                                : a == 1 ? "Bakker BV"
                                         : "\xc3\x89mile & Zn"),
                     0);
    for (int64_t i = 1; i <= 60; i++) {
        int nf = (int)(rand_r(&seed) % 24); /* 0-23: past the 8 on the stack */
        TK_CHECK_INT(tk_db_exec(db, &err,
                                "INSERT INTO items (account_id, type, template, created_at, "
                                "todo_seq, next_at) VALUES (?, 'invoice', 't', 1, ?, ?)",
                                "iii", 1 + i % 3, i, 100 + i),
                     0);
        for (int j = 0; j < nf; j++) {
            static const char alpha[] = "aAbB_z0~";
            static const char *const values[] = {"", "12,50", "\xe2\x82\xac 12,50",
                                                 "a \"quoted\" value", "two\nlines"};
            char name[16];
            int64_t pos = (int64_t)(rand_r(&seed) % 5) - 1; /* ties, and below 0 */
            snprintf(name, sizeof name, "%c%c%d", alpha[rand_r(&seed) % 8],
                     alpha[rand_r(&seed) % 8], j);
            TK_CHECK_INT(tk_db_exec(db, &err,
                                    "INSERT INTO item_fields (item_id, name, value, pos) VALUES "
                                    "(?, ?, ?, ?)",
                                    "issi", i, name,
                                    rand_r(&seed) % 6 ? values[rand_r(&seed) % 5] : NULL, pos),
                         0);
        }
    }
    TK_CHECK_INT(tk_store_item_due_page(db, 0, 1000000, 0, 0, 100, &v, &n, &err), 0);
    TK_CHECK_INT(n, 60);
    for (size_t k = 0; k < n; k++) {
        struct tk_item one;
        TK_CHECK_INT(tk_store_item_get(db, v[k].id, &one, &err), 0);
        TK_CHECK_INT(one.fields.n, v[k].fields.n);
        for (size_t i = 0; i < one.fields.n && i < v[k].fields.n; i++) {
            TK_CHECK_STR(one.fields.keys[i], v[k].fields.keys[i]);
            TK_CHECK_STR(one.fields.vals[i], v[k].fields.vals[i]);
        }
        /* still a kv the caller may grow */
        TK_CHECK_INT(tk_kv_set(&one.fields, "added", "1"), 0);
        TK_CHECK_STR(tk_kv_get(&one.fields, "added"), "1");
        /* and change: each pair is the kv's own, one allocation (str.c),
         * replaced in place; strings handed over as they were read would
         * break this (and leak every value) */
        if (one.fields.n > 1) {
            char *key = tk_strdup(one.fields.keys[0]);
            TK_CHECK(key != NULL);
            TK_CHECK_INT(tk_kv_set(&one.fields, key, "changed"), 0);
            TK_CHECK_STR(tk_kv_get(&one.fields, key), "changed");
            TK_CHECK_STR(one.fields.keys[0], key);
            free(key);
        }
        fields += v[k].fields.n;
        checked++;
        tk_item_free(&one);
        tk_item_free(&v[k]);
    }
    free(v);
    TK_CHECK_INT(checked, 60);
    TK_CHECK(fields > 500);
    for (int64_t id = 1; id <= 4; id++) {
        struct tk_account a = {0};
        struct tk_error e1 = {0}, e2 = {0};
        char *name = NULL;
        int r1 = tk_store_account_get(db, id, &a, &e1);
        int r2 = tk_store_account_name(db, id, &name, &e2);
        TK_CHECK_INT(r2, r1);
        TK_CHECK_STR(e2.msg, e1.msg);
        if (r1 == 0)
            TK_CHECK_STR(name, a.name);
        else
            TK_CHECK(name == NULL);
        free(name);
        tk_account_free(&a);
    }
    tk_db_close(db);
}

/* The due page (tk_store_item_due_page, the console's /upcoming) resumes
 * after its last item with a row value and reads one range of items_due in
 * (next_at, id) order, without a sort, on each driver (schema v12: on
 * PostgreSQL the index was on next_at alone and each page sorted the whole
 * range, 117 ms at 100k items). */
TK_TEST(due_page_reads_the_index_in_order)
{
    char spec[700];
    struct tk_db *db = fresh(spec, sizeof spec);
    struct tk_error err = {0};
    struct tk_cursor *cur = NULL;
    if (!db)
        return;
    TK_CHECK_INT(tk_db_migrate(db, &err), 0);
    TK_CHECK_INT(
        tk_db_exec(db, &err,
                   "INSERT INTO accounts (name, language, created_at) VALUES ('A', 'en', 1)", ""),
        0);
    /* ids 1..6; three share the moment 100 */
    static const int64_t at[] = {100, 50, 100, 200, 100, 900};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        TK_CHECK_INT(tk_db_exec(db, &err,
                                "INSERT INTO items (account_id, type, template, created_at, "
                                "todo_seq, next_at) VALUES (1, 'invoice', 't', 1, ?, ?)",
                                "ii", (int64_t)i, at[i]),
                     0);
    static const char page[] = "SELECT id FROM items WHERE next_at IS NOT NULL AND "
                               "(next_at, id) > (?, ?) AND next_at < ? ORDER BY next_at, id "
                               "LIMIT ?";
    /* after (100, 1): 3 and 5 at the same moment, then 4; 6 is past the end */
    int64_t got[8];
    size_t n = 0;
    TK_CHECK_INT(tk_db_query(db, &cur, &err, page, "iiii", (int64_t)100, (int64_t)1, (int64_t)500,
                             (int64_t)8),
                 0);
    while (cur && n < 8 && tk_cursor_next(cur, &err) > 0)
        got[n++] = tk_cursor_int(cur, 0);
    tk_cursor_close(cur);
    TK_CHECK_INT(n, 3);
    if (n == 3)
        TK_CHECK(got[0] == 3 && got[1] == 5 && got[2] == 4);

    /* The plan: the index, in order.  PostgreSQL is kept off the table
     * scan a six-row table would get. */
    char plan[4096] = "";
    char sql[512];
    if (D->pg)
        TK_CHECK_INT(
            tk_db_exec_script(db, "SET enable_seqscan = off; SET enable_bitmapscan = off", &err),
            0);
    snprintf(sql, sizeof sql, "%s%s", D->pg ? "EXPLAIN " : "EXPLAIN QUERY PLAN ", page);
    TK_CHECK_INT(tk_db_query(db, &cur, &err, sql, "iiii", (int64_t)100, (int64_t)1, (int64_t)500,
                             (int64_t)8),
                 0);
    while (cur && tk_cursor_next(cur, &err) > 0) {
        const char *line = tk_cursor_text(cur, D->pg ? 0 : 3);
        if (line && strlen(plan) + strlen(line) + 2 < sizeof plan) {
            strcat(plan, line);
            strcat(plan, "\n");
        }
    }
    tk_cursor_close(cur);
    if (getenv("TK_VERBOSE"))
        fprintf(stderr, "%s: %s", D->name, plan);
    TK_CHECK(strstr(plan, "items_due") != NULL);
    TK_CHECK(strstr(plan, "Sort") == NULL);        /* PostgreSQL */
    TK_CHECK(strstr(plan, "TEMP B-TREE") == NULL); /* SQLite */
    tk_db_close(db);
}

/* The copy list (core/db/copy.c) names every table and every column the
 * migrations make, and nothing else: a migration that forgets it fails
 * here, on each driver. */
TK_TEST(copy_list_matches_the_schema)
{
    char spec[700];
    struct tk_db *db = fresh(spec, sizeof spec);
    struct tk_error err = {0};
    struct tk_cursor *cur = NULL;
    size_t n = 0, found = 0;
    const struct tk_db_table *t = tk_db_copy_tables(&n);
    if (!db)
        return;
    TK_CHECK_INT(tk_db_migrate(db, &err), 0);
    const char *tables_sql =
        D->pg ? "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_name <> 'schema_version'"
              : "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name <> 'schema_version'";
    const char *cols_sql = D->pg ? "SELECT column_name FROM information_schema.columns "
                                   "WHERE table_schema = current_schema() AND table_name = ? "
                                   "ORDER BY ordinal_position"
                                 : "SELECT name FROM pragma_table_info(?) ORDER BY cid";
    TK_CHECK_INT(tk_db_query(db, &cur, &err, tables_sql, ""), 0);
    while (cur && tk_cursor_next(cur, &err) > 0) {
        const char *name = tk_cursor_text(cur, 0);
        size_t i = 0;
        while (i < n && strcmp(t[i].name, name) != 0)
            i++;
        if (i == n)
            fprintf(stderr, "table %s is not in the copy list (core/db/copy.c)\n", name);
        TK_CHECK(i < n);
        found += i < n;
    }
    tk_cursor_close(cur);
    TK_CHECK_INT(found, n); /* and every listed table exists */
    for (size_t i = 0; i < n; i++) {
        struct tk_buf have = {0};
        TK_CHECK_INT(tk_db_query(db, &cur, &err, cols_sql, "s", t[i].name), 0);
        while (cur && tk_cursor_next(cur, &err) > 0)
            tk_buf_printf(&have, "%s%s", have.len ? ", " : "", tk_cursor_text(cur, 0));
        tk_cursor_close(cur);
        if (!have.data || strcmp(have.data, t[i].cols) != 0)
            fprintf(stderr, "table %s has columns \"%s\", the copy list says \"%s\"\n", t[i].name,
                    have.data ? have.data : "", t[i].cols);
        TK_CHECK(have.data && strcmp(have.data, t[i].cols) == 0);
        tk_buf_free(&have);
    }
    tk_db_close(db);
}

/* ---- the statement cache and many statements ----------------------------- */

TK_TEST(statement_cache)
{
    char spec[700], sql[64];
    struct tk_db *db = fresh(spec, sizeof spec);
    struct tk_error err = {0};
    int64_t v = 0;
    int bad = 0;
    if (!db)
        return;
    /* Many more distinct statements than SQLite's cache slots, each reused. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 300; i++) {
            snprintf(sql, sizeof sql, "SELECT ? + %d", i);
            if (tk_db_int(db, &v, &err, sql, "i", (int64_t)round) != 0 || v != i + round)
                bad++;
        }
    }
    TK_CHECK_INT(bad, 0);
    /* The same text open twice at once: each cursor has its own rows. */
    static const char *const q = "SELECT v FROM (SELECT 1 AS v UNION ALL SELECT 2) AS x ORDER BY v";
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
    /* A cursor closed early: the next run starts from the top, with fresh
     * bindings. */
    TK_CHECK_INT(tk_db_query(db, &a, &err, "SELECT ? UNION ALL SELECT 9", "i", (int64_t)4), 0);
    TK_CHECK_INT(tk_cursor_next(a, &err), 1);
    tk_cursor_close(a);
    TK_CHECK_INT(tk_db_int(db, &v, &err, "SELECT ? UNION ALL SELECT 9", "i", (int64_t)5), 0);
    TK_CHECK_INT(v, 5);
    tk_db_close(db);
}

/* ---- the log's checkpoints on another connection ------------------------ */

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* tk_db_log_defer_checkpoints: a commit that takes the log past SQLite's
 * 1000 pages copies nothing into the store (the HTTP writer never waits
 * for a checkpoint's flushes); another connection's tk_db_log_checkpoint
 * does, and the deferring connection's next commit starts the log again.
 * PostgreSQL keeps no log of its own: the calls change nothing there. */
TK_TEST(log_checkpoints_on_another_connection)
{
    char spec[700], path[700], wal[720];
    struct tk_db *a = fresh(spec, sizeof spec), *b;
    struct tk_error err = {0};
    long long before;
    if (!a)
        return;
    TK_CHECK_INT(tk_db_log_defer_checkpoints(a, 1), !D->pg);
    TK_CHECK_INT(tk_db_exec_script(a, "CREATE TABLE big (b BYTEA)", &err), 0);
    if (D->pg) {
        TK_CHECK_INT(tk_db_exec_script(a, "INSERT INTO big VALUES ('x')", &err), 0);
        TK_CHECK_INT(tk_db_log_pages(a), 0);
        b = open_spec(spec);
        tk_db_log_checkpoint(b);
        TK_CHECK_INT(one(a, "SELECT COUNT(*) FROM big"), 1);
        tk_db_close(b);
        tk_db_close(a);
        return;
    }
    snprintf(path, sizeof path, "%s", spec + strlen("sqlite:"));
    snprintf(wal, sizeof wal, "%s-wal", path);
    before = file_size(path);
    /* about 1250 pages of 4 KiB in one commit */
    TK_CHECK_INT(tk_db_exec_script(a, "INSERT INTO big VALUES (zeroblob(5000000))", &err), 0);
    TK_CHECK(tk_db_log_pages(a) >= 1000);
    TK_CHECK(file_size(path) == before); /* nothing copied into the store */
    TK_CHECK(file_size(wal) >= 1000LL * 4096);
    b = open_spec(spec);
    TK_CHECK(b != NULL);
    if (!b) {
        tk_db_close(a);
        return;
    }
    tk_db_log_checkpoint(b);
    TK_CHECK(file_size(path) >= 5000000); /* the checkpoint copied it */
    TK_CHECK_INT(tk_db_exec_script(a, "INSERT INTO big VALUES (x'00')", &err), 0);
    TK_CHECK(tk_db_log_pages(a) < 10); /* the log started again */
    TK_CHECK_INT(one(b, "SELECT COUNT(*) FROM big"), 2);
    tk_db_close(b);
    tk_db_close(a);
}

/* tk_db_close_at_exit (the CLI's exit, issue 17): in a process of its own
 * that exits right after it, what the next connection finds is what
 * tk_db_close leaves.  SQLite: two copies of one store with a log, the same
 * commit in each, one child closing as before and one at exit: the store,
 * its log and its index (-shm) byte for byte the same, also for a commit
 * that takes the log past its bound (cut to zero bytes at the exit); a
 * transaction still open at the exit is rolled back.  PostgreSQL: the
 * commit is there, the open transaction is not. */
enum { AT_CLOSE, AT_EXIT, AT_EXIT_IN_TX };

static void child_commits(const char *spec, const char *sql, int how)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct tk_error err = {0};
        struct tk_db *db = open_spec(spec);
        int rc = db ? 0 : 1;
        if (!rc && how == AT_EXIT_IN_TX)
            rc = tk_db_begin(db, TK_TX_IMMEDIATE, &err);
        if (!rc)
            rc = tk_db_exec_script(db, sql, &err);
        if (how == AT_CLOSE)
            tk_db_close(db);
        else
            tk_db_close_at_exit(db);
        _exit(rc ? 1 : 0);
    }
    int status = -1;
    TK_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    TK_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb, ca, cb;
    while (same && (ca = getc(fa)) == (cb = getc(fb)) && ca != EOF)
        ;
    same = same && ca == cb;
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    if (!same)
        fprintf(stderr, "%s and %s differ\n", a, b);
    return same;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int c;
    TK_CHECK(in && out);
    while (in && out && (c = getc(in)) != EOF)
        putc(c, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
}

TK_TEST(close_at_exit_leaves_what_close_leaves)
{
    static const char *const commits[] = {
        "INSERT INTO t (v) VALUES ('after'), ('and more')",
        "INSERT INTO t (v) VALUES (hex(zeroblob(400000)))", /* ~200 pages: past the bound */
        "INSERT INTO t (v) VALUES ('after the cut')",
    };
    char spec[700], other[740], a[700], b[720], fa[740], fb[740];
    struct tk_db *db = fresh(spec, sizeof spec);
    struct tk_error err = {0};
    if (!db)
        return;
    TK_CHECK_INT(tk_db_exec_script(db, "CREATE TABLE t (v TEXT)", &err), 0);
    TK_CHECK_INT(tk_db_exec_script(db, "INSERT INTO t (v) VALUES ('before')", &err), 0);
    tk_db_close(db);
    if (D->pg) {
        child_commits(spec, commits[0], AT_EXIT);
        child_commits(spec, "INSERT INTO t (v) VALUES ('rolled back')", AT_EXIT_IN_TX);
        db = open_spec(spec);
        TK_CHECK(db != NULL);
        if (db)
            TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM t"), 3); /* before, after, and more */
        tk_db_close(db);
        return;
    }
    snprintf(a, sizeof a, "%s", spec + strlen("sqlite:"));
    snprintf(b, sizeof b, "%s.exit", a);
    snprintf(other, sizeof other, "sqlite:%s", b);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(fa, sizeof fa, "%s%s", a, suffixes[i]);
        snprintf(fb, sizeof fb, "%s%s", b, suffixes[i]);
        copy_file(fa, fb);
    }
    TK_CHECK(file_size(fb) > 0);
    for (size_t c = 0; c < sizeof commits / sizeof *commits; c++) {
        child_commits(spec, commits[c], AT_CLOSE);
        child_commits(other, commits[c], AT_EXIT);
        /* The cut gives the next log a new random salt (SQLite, in the
         * -shm at once, in the log's header at its first frame): from
         * there on the log and its index differ in both paths alike, so
         * they are compared by length; the store byte for byte always. */
        for (int i = 0; i < 3; i++) {
            snprintf(fa, sizeof fa, "%s%s", a, suffixes[i]);
            snprintf(fb, sizeof fb, "%s%s", b, suffixes[i]);
            if (c == 0 || i == 0)
                TK_CHECK(same_bytes(fa, fb));
            else
                TK_CHECK_INT(file_size(fb), file_size(fa));
        }
        snprintf(fb, sizeof fb, "%s-wal", b);
        if (c == 1)
            TK_CHECK_INT(file_size(fb), 0); /* the bound's cut happened at the exit */
        else
            TK_CHECK(file_size(fb) > 0);
    }
    /* a transaction open at the exit: rolled back, the files as a close
     * after a rollback leaves them */
    child_commits(spec, "INSERT INTO t (v) VALUES ('rolled back')", AT_CLOSE);
    child_commits(other, "INSERT INTO t (v) VALUES ('rolled back')", AT_EXIT_IN_TX);
    db = open_spec(other);
    TK_CHECK(db != NULL);
    if (db) {
        TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM t"), 5);
        TK_CHECK_INT(one(db, "SELECT COUNT(*) FROM t WHERE v = 'rolled back'"), 0);
        TK_CHECK_INT(
            one(db, "SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
    }
    tk_db_close(db);
}

/* The checkpointer (tk_ckpt_*) with the HTTP writer's policy (once per
 * 1000 pages of growth) and the settler's (from 1000 pages at every ask,
 * the writer itself from MAX): the checkpointer copies the log without
 * the writer, the writer copies it itself past MAX, and a checkpointer
 * that cannot open its connection says so once and leaves the copying to
 * the writer again.  PostgreSQL: no log, no checkpointer. */
static int ckpt_fails;
static char ckpt_msg[TK_ERROR_MAX];

static void ckpt_failed(void *arg, const char *msg)
{
    snprintf(ckpt_msg, sizeof ckpt_msg, "%s", msg);
    __atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST); /* after the message */
}

/* Waits up to 10 s for PATH to reach SIZE bytes. */
static int grows_to(const char *path, long long size)
{
    for (int i = 0; i < 1000 && file_size(path) < size; i++)
        usleep(10000);
    return file_size(path) >= size;
}

/* A writer on a thread of its own: a big insert and an ask (which starts
 * the lazy checkpointer), then DONE (release): the ask happens before a
 * tk_ckpt_stop on the main thread that saw DONE (acquire), as db.h asks,
 * and the thread is still running (not joined) when it stops: the stop
 * finds the checkpointer that the other thread started (under TSan). */
struct ckpt_writer {
    struct tk_db *db;
    struct tk_ckpt *c;
    int rc, done;
};

static void *ckpt_write(void *u)
{
    struct ckpt_writer *w = u;
    struct tk_error err = {0};
    w->rc = tk_db_exec_script(w->db, "INSERT INTO big VALUES (zeroblob(5000000))", &err);
    tk_ckpt_ask(w->c);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

TK_TEST(ckpt_copies_the_log_beside_the_writer)
{
    static const struct tk_ckpt_policy http = {.pages = 1000,
                                               .again = 1000,
                                               .eager = 1,
                                               .thread_name = "tk-test-ckpt",
                                               .failed = ckpt_failed};
    static const struct tk_ckpt_policy settler = {
        .pages = 1000, .max_pages = 1000, .failed = ckpt_failed};
    char spec[700], path[700];
    struct tk_db *a = fresh(spec, sizeof spec);
    struct tk_ckpt *c = NULL;
    struct tk_config cfg;
    struct tk_error err = {0};
    if (!a)
        return;
    memset(&cfg, 0, sizeof cfg);
    cfg.store_driver = "sqlite";
    cfg.store_path = path;
    snprintf(path, sizeof path, "%s", spec + strlen("sqlite:"));
    TK_CHECK_INT(tk_ckpt_start(&c, &cfg, a, &http, &ckpt_fails, &err), 0);
    if (D->pg) {
        TK_CHECK(c == NULL);
        tk_ckpt_ask(c);
        tk_ckpt_stop(c);
        tk_db_close(a);
        return;
    }
    TK_CHECK(c != NULL);
    TK_CHECK_INT(tk_db_exec_script(a, "CREATE TABLE big (b BLOB)", &err), 0);
    long long before = file_size(path);
    TK_CHECK_INT(tk_db_exec_script(a, "INSERT INTO big VALUES (zeroblob(5000000))", &err), 0);
    TK_CHECK(file_size(path) == before); /* the writer copied nothing */
    tk_ckpt_ask(c);
    TK_CHECK(grows_to(path, 5000000)); /* the checkpointer did */
    tk_ckpt_stop(c);                   /* waits for its checkpoint to end */
    TK_CHECK_INT(tk_db_exec_script(a, "INSERT INTO big VALUES (x'00')", &err), 0);
    TK_CHECK(tk_db_log_pages(a) < 10); /* the log started again */

    /* past MAX the writer copies the log itself, at once */
    TK_CHECK_INT(tk_ckpt_start(&c, &cfg, a, &settler, &ckpt_fails, &err), 0);
    before = file_size(path);
    TK_CHECK_INT(tk_db_exec_script(a, "INSERT INTO big VALUES (zeroblob(5000000))", &err), 0);
    TK_CHECK(file_size(path) == before);
    tk_ckpt_ask(c);
    TK_CHECK(file_size(path) >= before + 5000000);
    tk_ckpt_stop(c);
    TK_CHECK_INT(ckpt_fails, 0);

    /* stopped on another thread than the writer's, which started it */
    static const struct tk_ckpt_policy lazy = {.pages = 1000, .failed = ckpt_failed};
    struct ckpt_writer w = {.db = a};
    pthread_t th;
    TK_CHECK_INT(tk_ckpt_start(&w.c, &cfg, a, &lazy, &ckpt_fails, &err), 0);
    before = file_size(path);
    TK_CHECK_INT(pthread_create(&th, NULL, ckpt_write, &w), 0);
    for (int i = 0; i < 3000 && !__atomic_load_n(&w.done, __ATOMIC_ACQUIRE); i++)
        usleep(10000);
    TK_CHECK(__atomic_load_n(&w.done, __ATOMIC_ACQUIRE));
    TK_CHECK(grows_to(path, before + 5000000)); /* the checkpointer it started copied */
    tk_ckpt_stop(w.c);                          /* and is joined here */
    pthread_join(th, NULL);
    TK_CHECK_INT(w.rc, 0);
    TK_CHECK_INT(ckpt_fails, 0);

    /* no connection for the checkpointer: one call, then the writer copies */
    cfg.store_path = "/nonexistent-dir-tk/x.db";
    TK_CHECK_INT(tk_ckpt_start(&c, &cfg, a, &http, &ckpt_fails, &err), 0);
    for (int i = 0; i < 1000 && !__atomic_load_n(&ckpt_fails, __ATOMIC_SEQ_CST); i++)
        usleep(10000);
    TK_CHECK_INT(__atomic_load_n(&ckpt_fails, __ATOMIC_SEQ_CST), 1);
    TK_CHECK(strstr(ckpt_msg, "nonexistent-dir-tk") != NULL);
    before = file_size(path);
    TK_CHECK_INT(tk_db_exec_script(a, "INSERT INTO big VALUES (zeroblob(5000000))", &err), 0);
    tk_ckpt_ask(c);
    TK_CHECK(file_size(path) >= before + 5000000);
    tk_ckpt_stop(c);
    TK_CHECK_INT(ckpt_fails, 1);
    tk_db_close(a);
}

/* ---- opening ---------------------------------------------------------------- */

TK_TEST(open_errors)
{
    struct tk_config cfg;
    struct tk_error err = {0};
    struct tk_db *db = NULL;
    char p[160];
    memset(&cfg, 0, sizeof cfg);
    cfg.store_driver = "oracle";
    TK_CHECK_INT(tk_db_open(&cfg, &db, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "oracle") != NULL);
    cfg.store_driver = "sqlite";
    cfg.store_path = "/nonexistent-dir-tk/x.db";
    TK_CHECK(tk_db_open(&cfg, &db, &err) != 0);
    TK_CHECK(db == NULL);
    TK_CHECK(strstr(err.msg, "/nonexistent-dir-tk/x.db") != NULL);
#ifndef TK_HAVE_POSTGRES_DRIVER
    cfg.store_driver = "postgres";
    cfg.store_dsn = "dbname=x";
    TK_CHECK(tk_db_open(&cfg, &db, &err) != 0);
    TK_CHECK(strstr(err.msg, "postgres store not built yet") != NULL);
#else
    /* Nobody listens on port 1: a clear one-line error, no handle. */
    TK_CHECK_INT(tk_db_open_spec("postgres:host=127.0.0.1 port=1 connect_timeout=2", 0, &db, &err),
                 TK_EIO);
    TK_CHECK(db == NULL);
    TK_CHECK(strstr(err.msg, "cannot connect") != NULL && strchr(err.msg, '\n') == NULL);
#endif

    /* Specs: malformed ones are usage errors; a missing source is not
     * created. */
    static const char *const usage[] = {"nocolon", ":x", "sqlite:", "oracle:x", "postgres:", NULL};
    unsetenv("TICKLER_DSN");
    for (int i = 0; usage[i]; i++) {
        TK_CHECK_INT(tk_db_open_spec(usage[i], 0, &db, &err), TK_EUSAGE);
        TK_CHECK(db == NULL);
    }
    snprintf(p, sizeof p, "sqlite:%s/missing.db", dir);
    TK_CHECK_INT(tk_db_open_spec(p, 1, &db, &err), TK_ENOTFOUND);
    TK_CHECK(strstr(err.msg, "no SQLite store") != NULL);
    TK_CHECK(access(p + 7, F_OK) != 0);
    TK_CHECK_INT(tk_db_open_spec(p, 0, &db, &err), 0); /* created when that is wanted */
    TK_CHECK_STR(db ? tk_db_driver_name(db) : NULL, "sqlite");
    tk_db_close(db);
    TK_CHECK(access(p + 7, F_OK) == 0);
}

/* Wait until the server has really ended backend PID (up to 10 s; a
 * fixed 100 ms was too short on a loaded machine). */
static void backend_gone(struct tk_db *admin, int64_t pid)
{
    for (int i = 0; i < 200; i++) {
        int64_t n = 1;
        if (tk_db_int(admin, &n, NULL,
                      "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = CAST(? AS INTEGER)", "i",
                      pid) != 0 ||
            n == 0)
            break;
        usleep(50 * 1000);
    }
    usleep(50 * 1000);
}

/* The server ends our session (as a restart does): inside a transaction
 * that is a clear TK_EIO; the next BEGIN reconnects by itself.
 * PostgreSQL only: a SQLite file cannot go away under its connection. */
TK_TEST(reconnect_after_the_server_dropped_us)
{
    char spec[700];
    struct tk_db *a = fresh(spec, sizeof spec), *admin = open_spec(spec);
    struct tk_error err = {0};
    int64_t pid = 0, pid2 = 0, ok = 0;
    if (!a || !admin) {
        tk_db_close(a);
        tk_db_close(admin);
        TK_CHECK(0);
        return;
    }
    /* a statement of the transaction has run (the BEGIN leaves with the
     * first one, postgres.c "Round trips"): from here a lost session is
     * a lost transaction */
    TK_CHECK_INT(tk_db_begin(a, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_db_int(a, &pid, &err, "SELECT pg_backend_pid()", ""), 0);
    TK_CHECK_INT(
        tk_db_int(admin, &ok, &err, "SELECT pg_terminate_backend(CAST(? AS INTEGER))", "i", pid),
        0);
    backend_gone(admin, pid);
    TK_CHECK_INT(tk_db_int(a, &pid2, &err, "SELECT pg_backend_pid()", ""), TK_EIO);
    TK_CHECK(strstr(err.msg, "connection lost") != NULL);
    tk_db_rollback(a);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_db_int(a, &pid2, &err, "SELECT pg_backend_pid()", ""), 0);
    TK_CHECK(pid2 != pid && pid2 > 0);
    TK_CHECK_INT(tk_db_commit(a, &err), 0);

    /* Dropped while idle: the next transaction finds out (at BEGIN, or
     * at its first statement when the goodbye was not on the socket yet)
     * and reconnects. */
    TK_CHECK_INT(
        tk_db_int(admin, &ok, &err, "SELECT pg_terminate_backend(CAST(? AS INTEGER))", "i", pid2),
        0);
    backend_gone(admin, pid2);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_db_int(a, &pid, &err, "SELECT pg_backend_pid()", ""), 0);
    TK_CHECK(pid != pid2);
    TK_CHECK_INT(tk_db_commit(a, &err), 0);

    /* The new session's result transactions still commit without waiting
     * for the disk, the one-statement one (no BEGIN) and one in a block:
     * the statement that says so is prepared by every session's setup
     * (postgres.c SYNC_OFF_NAME), so a reconnect must prepare it again. */
    char v[16];
    TK_CHECK_INT(tk_db_exec_script(a, "SET synchronous_commit = on", &err), 0);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0);
    tk_db_last_statement(a);
    sync_commit(a, v, sizeof v);
    TK_CHECK_STR(v, "off");
    TK_CHECK_INT(tk_db_commit(a, &err), 0);
    TK_CHECK_INT(tk_db_begin(a, TK_TX_RESULT, &err), 0);
    sync_commit(a, v, sizeof v);
    TK_CHECK_STR(v, "off");
    TK_CHECK_INT(tk_db_commit(a, &err), 0);
    sync_commit(a, v, sizeof v);
    TK_CHECK_STR(v, "on");
    tk_db_close(a);
    tk_db_close(admin);
}

/* ---- the table copy, between every pair of drivers ------------------------ */

/* Every row of every table of the copy list, in key order, as text
 * (NULL as \N): what two stores must agree on after a copy. */
static void dump(struct tk_db *db, struct tk_buf *out)
{
    size_t n = 0;
    const struct tk_db_table *t = tk_db_copy_tables(&n);
    struct tk_error err = {0};
    char sql[512];
    tk_buf_reset(out);
    for (size_t i = 0; i < n; i++) {
        struct tk_cursor *cur = NULL;
        size_t ncol = 1;
        for (const char *c = t[i].cols; *c; c++)
            ncol += *c == ',';
        snprintf(sql, sizeof sql, "SELECT %s FROM %s ORDER BY %s", t[i].cols, t[i].name, t[i].key);
        tk_buf_printf(out, "== %s\n", t[i].name);
        if (tk_db_query(db, &cur, &err, sql, "") != 0) {
            tk_buf_printf(out, "error: %s\n", err.msg);
            continue;
        }
        while (tk_cursor_next(cur, &err) > 0) {
            for (size_t c = 0; c < ncol; c++) {
                const char *v = tk_cursor_text(cur, (int)c);
                tk_buf_printf(out, "%s%s", c ? "\x1f" : "", v ? v : "\\N");
            }
            tk_buf_putc(out, '\n');
        }
        tk_cursor_close(cur);
    }
}

static int64_t insert_id(struct tk_db *db, const char *sql, const char *types, const char *s,
                         int64_t i)
{
    struct tk_error err = {0};
    int64_t id = 0;
    int rc = types[0] == 's' ? tk_db_insert(db, &id, &err, sql, types, s, i)
                             : tk_db_insert(db, &id, &err, sql, types, i);
    if (rc != 0)
        fprintf(stderr, "fill: %s: %s\n", sql, err.msg);
    return id;
}

/* Rows in every table, with NULLs, empty strings, CRLF, quotes, non-ASCII
 * and 64-bit values, and more than a page (500 rows) in audit and in
 * item_fields (whose key has two columns).  The account with the largest
 * id is deleted again: its id must never be given out after a copy.
 * Returns that id. */
static int64_t fill(struct tk_db *db, int big)
{
    struct tk_error err = {0};
    int64_t acc[3], item[3], job, gone;
    char name[32];
    TK_CHECK_INT(tk_db_migrate(db, &err), 0);
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    acc[0] = insert_id(db, "INSERT INTO accounts (name, language, created_at) VALUES (?, 'en', ?)",
                       "si", "Acme BV", 1700000000);
    acc[1] =
        insert_id(db, "INSERT INTO accounts (name, language, created_at) VALUES (?, 'nl', ?)", "si",
                  "B\xc3\xa4"
                  "ckerei O'Brien \xe2\x98\x95",
                  5000000000LL);
    acc[2] = insert_id(db, "INSERT INTO accounts (name, created_at) VALUES (?, ?)", "si",
                       "Quiet \"Ltd\"", 0);
    TK_CHECK_INT(tk_db_exec(db, &err,
                            "INSERT INTO contacts (account_id, email, name, notify, created_at) "
                            "VALUES (?, 'ann@acme.example', 'Ann', 1, 1), "
                            "(?, 'bob@acme.example', NULL, 0, 2), (?, 'kees@b.example', '', 1, 3)",
                            "iii", acc[0], acc[0], acc[1]),
                 0);
    job = insert_id(db,
                    "INSERT INTO jobs (pipeline, stage, account_id, title, created_at, updated_at) "
                    "VALUES ('tax', 'collect', ?, 'Tax 2026', 10, 11)",
                    "i", NULL, acc[0]);
    for (int i = 0; i < 3; i++) {
        struct tk_db_value v[5] = {tk_db_value_int(acc[i]), tk_db_value_id(i == 0 ? job : 0),
                                   tk_db_value_text(i == 2 ? NULL : "Fees\r\n2026"),
                                   tk_db_value_int(i + 1),
                                   tk_db_value_id(i == 1 ? 5000000001LL : 0)};
        struct tk_cursor *cur = NULL;
        TK_CHECK_INT(tk_db_query_v(db, &cur, &err,
                                   "INSERT INTO items (type, account_id, job_id, title, template, "
                                   "created_at, todo_seq, last_mail_at, rem_enabled, next_at) "
                                   "VALUES ('invoice', ?, ?, ?, 'default', 20, ?, ?, 1, 99) "
                                   "RETURNING id",
                                   v, 5),
                     0);
        TK_CHECK_INT(tk_cursor_next(cur, &err), 1);
        item[i] = tk_cursor_int(cur, 0);
        tk_cursor_close(cur);
        /* 250 fields each: 750 rows, pages ending inside an item */
        for (int f = 0; f < (big ? 250 : 2); f++) {
            snprintf(name, sizeof name, "f%03d", f);
            TK_CHECK_INT(tk_db_exec(db, &err,
                                    "INSERT INTO item_fields (item_id, name, value, pos) "
                                    "VALUES (?, ?, ?, ?)",
                                    "issi", item[i], name,
                                    f % 3 == 0 ? NULL : (f % 3 == 1 ? "" : "x \xe2\x82\xac"),
                                    (int64_t)f),
                         0);
        }
    }
    for (int i = 0; i < (big ? 1100 : 3); i++)
        TK_CHECK_INT(tk_db_exec(db, &err,
                                "INSERT INTO audit (at, actor, account_id, item_id, job_id, "
                                "action, detail) VALUES (?, 'cli', ?, ?, NULL, 'send', ?)",
                                "iiis", (int64_t)i, acc[i % 3], item[i % 3],
                                i % 2 ? NULL : "detail \"quoted\"\nline"),
                     0);
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%d/notification/0/ann", i);
        int64_t o = insert_id(db,
                              "INSERT INTO outbox (idem_key, item_id, account_id, kind, recipient, "
                              "message_id, state, created_at, sent_at, reply_code, last_reply) "
                              "VALUES (?, ?, NULL, 'notification', 'ann@acme.example', "
                              "'<m@x>', 1, 30, 31, 250, '250 2.0.0 Ok: queued as ABC')",
                              "si", name, item[i]);
        TK_CHECK_INT(tk_db_exec(db, &err, "INSERT INTO outbox_data (outbox_id, data) VALUES (?, ?)",
                                "is", o, "Subject: =?utf-8?q?f=C3=BCr?=\r\n\r\nBody.\r\n"),
                     0);
    }
    TK_CHECK_INT(tk_db_exec(db, &err,
                            "INSERT INTO sequences (name, value) VALUES ('todo', 7), ('lease', 3)",
                            ""),
                 0);
    gone = insert_id(db, "INSERT INTO accounts (name, created_at) VALUES (?, ?)", "si", "Gone", 0);
    TK_CHECK_INT(tk_db_exec(db, &err, "DELETE FROM accounts WHERE id = ?", "i", gone), 0);
    TK_CHECK_INT(tk_db_commit(db, &err), 0);
    return gone;
}

static const char *pair_name(const struct drv *a, const struct drv *b)
{
    static char s[64];
    snprintf(s, sizeof s, "%s -> %s", a->name, b->name);
    return s;
}

static struct drv *FROM, *TO;

/* Every row of every table arrives, and ids carry on past the source's. */
TK_TEST(copy_every_row)
{
    char fs[700], ts[700];
    struct tk_buf a = {0}, b = {0};
    struct tk_error err = {0};
    struct tk_db_copy_stats st;
    new_store(FROM, fs, sizeof fs);
    new_store(TO, ts, sizeof ts);
    struct tk_db *from = open_spec(fs), *to = open_spec(ts);
    if (!from || !to) {
        TK_CHECK(0);
        tk_db_close(from);
        tk_db_close(to);
        return;
    }
    int64_t gone = fill(from, 1);
    int rc = tk_db_copy(from, to, &st, &err);
    if (rc != 0)
        fprintf(stderr, "copy %s: %s\n", pair_name(FROM, TO), err.msg);
    TK_CHECK_INT(rc, 0);
    TK_CHECK_STR(st.from, FROM->name);
    TK_CHECK_STR(st.to, TO->name);
    TK_CHECK_INT(st.from_version, tk_db_schema_version());
    TK_CHECK_INT(st.total, 3 + 3 + 1 + 3 + 750 + 1100 + 3 + 3 + 2);
    dump(from, &a);
    dump(to, &b);
    TK_CHECK(a.len > 1000 && a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        fprintf(stderr, "%s: the stores differ after the copy\n", pair_name(FROM, TO));
    /* The next account gets an id past the deleted one. */
    int64_t id = insert_id(to, "INSERT INTO accounts (name, created_at) VALUES (?, ?)", "si",
                           "After the move", 0);
    TK_CHECK(id > gone);
    /* A second copy into the now non-empty store changes nothing. */
    dump(to, &a);
    TK_CHECK_INT(tk_db_copy(from, to, &st, &err), TK_ECONFLICT);
    TK_CHECK(strstr(err.msg, "not empty") != NULL);
    dump(to, &b);
    TK_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    tk_buf_free(&a);
    tk_buf_free(&b);
    tk_db_close(from);
    tk_db_close(to);
}

/* A source still at schema version 1 (message texts in the outbox row) is
 * upgraded first, then copied: the target has every row, and the texts. */
TK_TEST(copy_from_schema_v1)
{
    char fs[700], ts[700];
    struct tk_buf a = {0}, b = {0};
    struct tk_error err = {0};
    struct tk_db_copy_stats st;
    new_store(FROM, fs, sizeof fs);
    new_store(TO, ts, sizeof ts);
    struct tk_db *from = open_spec(fs);
    if (!from) {
        TK_CHECK(0);
        return;
    }
    TK_CHECK_INT(tk_db_migrate_to(from, 1, &err), 0);
    TK_CHECK_INT(
        tk_db_exec(from, &err, "INSERT INTO accounts (name, created_at) VALUES ('Acme', 0)", ""),
        0);
    TK_CHECK_INT(tk_db_exec(from, &err,
                            "INSERT INTO outbox (account_id, kind, recipient, idem_key, data, "
                            "state, created_at) VALUES (1, 'notification', 'a@x.example', 'k1', "
                            "'Subject: old\r\n\r\nText.\r\n', 0, 0)",
                            ""),
                 0);
    tk_db_close(from);
    TK_CHECK_INT(tk_db_copy_stores(fs, ts, &st, &err), 0);
    TK_CHECK_INT(st.from_version, 1);
    TK_CHECK_INT(st.to_version, tk_db_schema_version());
    TK_CHECK_INT(st.total, 3); /* account, outbox row, its text */
    from = open_spec(fs);
    struct tk_db *to = open_spec(ts);
    TK_CHECK_INT(tk_db_store_version(from), tk_db_schema_version());
    if (from && to) {
        dump(from, &a);
        dump(to, &b);
        TK_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        TK_CHECK(strstr(b.data, "Subject: old\r\n\r\nText.\r\n") != NULL);
    }
    tk_buf_free(&a);
    tk_buf_free(&b);
    tk_db_close(from);
    tk_db_close(to);
}

/* The Nth store call of a copy fails, N = 1, 2, ... until it gets
 * through: each failure leaves the target without a row, and the source
 * as it was.  A fault that only a probe saw (the version read, the
 * migrations' fast path) is absorbed, and the copy must then be whole. */
TK_TEST(copy_failing_anywhere_leaves_the_target_empty)
{
    char fs[700], ts[700];
    struct tk_buf before = {0}, after = {0};
    size_t n = 0;
    const struct tk_db_table *t = tk_db_copy_tables(&n);
    new_store(FROM, fs, sizeof fs);
    new_store(TO, ts, sizeof ts);
    struct tk_db *from = open_spec(fs), *to = open_spec(ts);
    int faults = -1, absorbed = 0, checks = tk_test_failed_checks;
    if (!from || !to) {
        TK_CHECK(0);
        tk_db_close(from);
        tk_db_close(to);
        return;
    }
    /* Every call on SQLite alone; every 7th where a server is involved,
     * whose round trips make a full run take seconds. */
    int step = FROM->pg || TO->pg ? 7 : 1;
    fill(from, 0);
    dump(from, &before);
    for (int k = 1; k < 2000 && to; k += step) {
        struct tk_error err = {0};
        tk_db_fault_countdown = k;
        int rc = tk_db_copy(from, to, NULL, &err);
        int left = tk_db_fault_countdown;
        tk_db_fault_countdown = 0;
        if (getenv("TK_VERBOSE"))
            printf("  fault %d: rc %d left %d: %s\n", k, rc, left, err.msg);
        if (rc == 0 && left > 0) {
            faults = k - left; /* the store calls of a whole copy */
            break;
        }
        if (rc == 0) {
            absorbed++;
            dump(to, &after);
            TK_CHECK(before.len == after.len && memcmp(before.data, after.data, before.len) == 0);
            tk_db_close(to);
            new_store(TO, ts, sizeof ts);
            to = open_spec(ts);
            continue;
        }
        TK_CHECK_INT(left, 0);
        TK_CHECK(err.msg[0] != '\0');
        if (tk_db_store_version(to) > 0) {
            int64_t rows = 0;
            char sql[96];
            for (size_t i = 0; i < n; i++) {
                snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", t[i].name);
                rows += one(to, sql);
            }
            if (rows != 0)
                fprintf(stderr, "%s: fault %d left %lld rows: %s\n", pair_name(FROM, TO), k,
                        (long long)rows, err.msg);
            TK_CHECK_INT(rows, 0);
        }
        dump(from, &after);
        TK_CHECK(before.len == after.len && memcmp(before.data, after.data, before.len) == 0);
        if (tk_test_failed_checks != checks)
            break;
    }
    printf("  copy %s: %d store calls, failed one at a time (every %d%s; %d absorbed by probes)\n",
           pair_name(FROM, TO), faults, step, step == 1 ? "st" : "th", absorbed);
    TK_CHECK(faults > 10);
    TK_CHECK(absorbed < 20); /* three probes of two or three calls each */
    if (to) {
        dump(to, &after);
        TK_CHECK(before.len == after.len && memcmp(before.data, after.data, before.len) == 0);
    }
    tk_buf_free(&before);
    tk_buf_free(&after);
    tk_db_close(from);
    tk_db_close(to);
}

/* ---- a PostgreSQL server for the suite -------------------------------------- */

static int have_pg_binaries(void)
{
    glob_t g;
    int found = glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0 && g.gl_pathc > 0;
    globfree(&g);
    return found;
}

static const char *pgcluster_py(char *buf, size_t size)
{
    const char *src = getenv("TK_SOURCE_DIR");
    snprintf(buf, size, "%s/tests/integration/pgcluster.py", src ? src : "..");
    return buf;
}

/* TK_TEST_DSN, else a throwaway cluster (pgcluster.py) when the server is
 * installed.  0: a server is at hand; 1: skip PostgreSQL; -1: it should
 * have started and did not. */
static int find_server(void)
{
#ifndef TK_HAVE_POSTGRES_DRIVER
    printf("test_db_contract: PostgreSQL skipped (driver not built)\n");
    return 1;
#else
    const char *dsn = getenv("TK_TEST_DSN");
    char py[512], cmd[1200];
    if (dsn && *dsn) {
        snprintf(pg_drv.server, sizeof pg_drv.server, "%s", dsn);
        return 0;
    }
    if (!have_pg_binaries()) {
        printf("test_db_contract: PostgreSQL skipped (no server installed: "
               "/usr/lib/postgresql/*/bin/initdb)\n");
        return 1;
    }
    snprintf(cluster_dir, sizeof cluster_dir, "/tmp/tk-test-pg-XXXXXX");
    if (!mkdtemp(cluster_dir))
        return -1;
    snprintf(cmd, sizeof cmd, "%s '%s' start '%s'",
             access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3",
             pgcluster_py(py, sizeof py), cluster_dir);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    if (!fgets(pg_drv.server, sizeof pg_drv.server, p))
        pg_drv.server[0] = '\0';
    int st = pclose(p);
    pg_drv.server[strcspn(pg_drv.server, "\n")] = '\0';
    if (st != 0 || !pg_drv.server[0]) {
        fprintf(stderr, "test_db_contract: could not start a cluster with %s\n", cmd);
        return -1;
    }
    printf("test_db_contract: PostgreSQL cluster in %s, %s\n", cluster_dir, pg_drv.server);
    return 0;
#endif
}

/* The suite's database on the server; 0 when it is there. */
static int create_database(void)
{
    char admin[600], sql[96];
    struct tk_error err = {0};
    snprintf(admin, sizeof admin, "postgres:%s", pg_drv.server);
    snprintf(pg_db, sizeof pg_db, "tk_contract_%ld", (long)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", pg_db);
    struct tk_db *db = open_spec(admin);
    int rc = db ? tk_db_exec_script(db, sql, &err) : TK_EIO;
    if (db && rc != 0)
        fprintf(stderr, "test_db_contract: %s\n", err.msg);
    tk_db_close(db);
    return rc;
}

static void drop_server(int started)
{
    char admin[600], sql[96], py[512], cmd[1200];
    struct tk_error err = {0};
    if (started != 0)
        return;
    snprintf(admin, sizeof admin, "postgres:%s", pg_drv.server);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", pg_db);
    struct tk_db *db = open_spec(admin);
    if (db && tk_db_exec_script(db, sql, &err) != 0)
        fprintf(stderr, "drop %s: %s\n", pg_db, err.msg);
    tk_db_close(db);
    if (cluster_dir[0]) {
        snprintf(cmd, sizeof cmd, "%s '%s' stop '%s'",
                 access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3",
                 pgcluster_py(py, sizeof py), cluster_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "test_db_contract: %s failed\n", cmd);
    }
}

static void remove_dir(const char *path)
{
    char p[512];
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

#define ON(drv, test)                                                                              \
    do {                                                                                           \
        D = (drv);                                                                                 \
        printf("%s on %s\n", #test, D->name);                                                      \
        TK_RUN(test);                                                                              \
    } while (0)

int main(void)
{
    struct drv *drivers[2] = {&sqlite_drv, NULL};
    size_t ndrivers = 1;
    setvbuf(stdout, NULL, _IOLBF, 0); /* in order with the checks on stderr */
    snprintf(dir, sizeof dir, "/tmp/tk-test-db-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int server = find_server();
    if (server == 0 && create_database() != 0) {
        drop_server(server);
        server = -1;
    }
    if (server < 0) {
        TK_CHECK(!"a PostgreSQL server for the contract suite");
        tk_test_failed++;
    } else if (server == 0) {
        drivers[ndrivers++] = &pg_drv;
    }
    for (size_t i = 0; i < ndrivers; i++) {
        ON(drivers[i], bind_letters_and_placeholders);
        ON(drivers[i], bind_arrays);
        ON(drivers[i], cursors_ids_and_changes);
        ON(drivers[i], transactions);
        ON(drivers[i], result_transactions);
        ON(drivers[i], last_statement_commits_with_it);
        ON(drivers[i], snapshot_reads);
        ON(drivers[i], writers_wait_for_each_other);
        ON(drivers[i], dialect_clauses);
        ON(drivers[i], migrations);
        ON(drivers[i], upgrade_from_v1);
        ON(drivers[i], upgrade_v14_audit_keeps_its_rows_and_ids);
        ON(drivers[i], due_page_reads_the_index_in_order);
        ON(drivers[i], one_item_reads_as_a_page_reads_them);
        ON(drivers[i], copy_list_matches_the_schema);
        ON(drivers[i], statement_cache);
        ON(drivers[i], log_checkpoints_on_another_connection);
        ON(drivers[i], ckpt_copies_the_log_beside_the_writer);
        ON(drivers[i], close_at_exit_leaves_what_close_leaves);
        if (drivers[i]->pg)
            ON(drivers[i], reconnect_after_the_server_dropped_us);
    }
    TK_RUN(open_errors);
    for (size_t i = 0; i < ndrivers; i++) {
        for (size_t j = 0; j < ndrivers; j++) {
            FROM = drivers[i];
            TO = drivers[j];
            printf("copy %s\n", pair_name(FROM, TO));
            TK_RUN(copy_every_row);
            TK_RUN(copy_from_schema_v1);
            TK_RUN(copy_failing_anywhere_leaves_the_target_empty);
        }
    }
    drop_server(server);
    remove_dir(dir);
    return tk_test_done();
}
