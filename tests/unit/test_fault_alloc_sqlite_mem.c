/* test_fault_alloc_sqlite_mem.c - SQLite's allocator (core/db/sqlite_mem.c)
 * when malloc fails: a request its thread's lists cannot serve gets NULL,
 * realloc leaves the old block as it was, and SQLite on it, with the Nth
 * malloc failing for N = 1, 2, ... until a whole run gets through, fails
 * cleanly (an error code, no crash, ASan and leak clean) and then works.
 * The store's fault tests run SQLite on its own allocator instead
 * (tk_sqlite_mem_off in test_fault_alloc_engine); this is the cache's. */
#include <sqlite3.h>
#include <string.h>

#include "db/sqlite_mem.h"
#include "tk_fault.h"
#include "tk_test.h"

static const sqlite3_mem_methods *m;

TK_TEST(test_a_failed_malloc_is_null)
{
    unsigned char *p, *q;
    countdown = 1; /* a block past the classes: always malloc */
    TK_CHECK(m->xMalloc(5000) == NULL);
    TK_CHECK_INT(countdown, 0);
    /* a class with nothing cached on this thread */
    countdown = 1;
    TK_CHECK(m->xMalloc(700) == NULL);
    TK_CHECK_INT(countdown, 0);
    /* realloc into another class: NULL, the old block untouched */
    TK_CHECK((p = m->xMalloc(100)) != NULL);
    memset(p, 'x', 100);
    countdown = 1;
    TK_CHECK(m->xRealloc(p, 3000) == NULL);
    TK_CHECK_INT(countdown, 0);
    TK_CHECK(m->xSize(p) == 128 && p[0] == 'x' && p[99] == 'x');
    /* a cached block needs no malloc: it cannot fail */
    m->xFree(p);
    countdown = 1;
    q = m->xMalloc(100);
    TK_CHECK(q == p);
    TK_CHECK_INT(countdown, 1);
    countdown = 0;
    m->xFree(q);
}

/* One run of SQLite's work on the allocator; 0 when every step succeeded. */
static int sql_run(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db,
                          "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, v BLOB);"
                          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE "
                          "i < 300) INSERT INTO t SELECT i, printf('key%05d', (i * 37) % 300), "
                          "zeroblob(i * 7) FROM n;"
                          "CREATE INDEX t_k ON t (k);",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT count(*), sum(length(v)) FROM t WHERE k > 'key00100'",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            rc = sqlite3_column_int(st, 0) == 199 && sqlite3_column_int64(st, 1) > 0 ? SQLITE_OK
                                                                                     : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

TK_TEST(test_sqlite_fails_cleanly_on_it)
{
    long n, left = 0;
    int failed = 0;
    for (n = 1; n <= 20000; n++) {
        countdown = n;
        int rc = sql_run();
        left = countdown;
        countdown = 0;
        if (left > 0) { /* the fault was not spent: a whole run */
            TK_CHECK_INT(rc, SQLITE_OK);
            break;
        }
        failed += rc != SQLITE_OK;
    }
    printf("sqlite on the cache: %ld allocations failed one by one, %d runs refused\n", n - 1,
           failed);
    TK_CHECK(left > 0);
    TK_CHECK(failed > 0);
    TK_CHECK_INT(sql_run(), SQLITE_OK);
}

int main(void)
{
    m = tk_sqlite_mem_methods();
    TK_CHECK_INT(m->xInit(m->pAppData), SQLITE_OK);
    TK_RUN(test_a_failed_malloc_is_null);
    TK_CHECK_INT(sqlite3_config(SQLITE_CONFIG_MALLOC, m), SQLITE_OK);
    TK_RUN(test_sqlite_fails_cleanly_on_it);
    tk_sqlite_mem_release();
    TK_CHECK_INT(tk_sqlite_mem_cached(), 0);
    return tk_test_done();
}
