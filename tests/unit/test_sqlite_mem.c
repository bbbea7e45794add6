/* test_sqlite_mem.c - SQLite's allocator (core/db/sqlite_mem.c): every size
 * class, sizes as SQLite reads them (xSize, xRoundup), realloc growing and
 * shrinking within and across classes and past the largest, the lists'
 * cap, blocks freed on another thread than their own, and SQLite itself
 * running on it from several threads with a connection each.  Under
 * AddressSanitizer a cached block is poisoned: a use after free here would
 * be reported. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/sqlite_mem.h"
#include "tk_test.h"

static const sqlite3_mem_methods *m;

static void fill(unsigned char *p, int n, unsigned seed)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 31u + (unsigned)i);
}

static int filled(const unsigned char *p, int n, unsigned seed)
{
    for (int i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed * 31u + (unsigned)i))
            return 0;
    return 1;
}

/* Every request of 1 to 2100 bytes: 8-byte aligned, xSize at least the
 * request and what xRoundup said, every byte usable; a freed block of a
 * class serves the next request of that class on this thread. */
TK_TEST(test_every_size_class)
{
    for (int n = 1; n <= 2100; n++) {
        unsigned char *p = m->xMalloc(n);
        TK_CHECK(p != NULL);
        if (!p)
            return;
        TK_CHECK(((uintptr_t)p & 7) == 0);
        TK_CHECK(m->xSize(p) >= n);
        TK_CHECK_INT(m->xSize(p), m->xRoundup(n));
        fill(p, m->xSize(p), (unsigned)n);
        TK_CHECK(filled(p, m->xSize(p), (unsigned)n));
        m->xFree(p);
        unsigned char *q = m->xMalloc(n);
        if (n <= TK_SQLITE_MEM_CLASS_MAX)
            TK_CHECK(q == p); /* the cached block */
        TK_CHECK_INT(m->xSize(q), m->xRoundup(n));
        m->xFree(q);
    }
    /* the classes: powers of two from 16 to the largest */
    TK_CHECK_INT(m->xRoundup(1), 16);
    TK_CHECK_INT(m->xRoundup(16), 16);
    TK_CHECK_INT(m->xRoundup(17), 32);
    TK_CHECK_INT(m->xRoundup(513), 1024);
    TK_CHECK_INT(m->xRoundup(1024), 1024);
    TK_CHECK_INT(m->xRoundup(1025), 1032);
    TK_CHECK_INT(m->xSize(NULL), 0);
    m->xFree(NULL);
}

/* Realloc keeps the bytes both sizes hold, from 1 byte up to 64 KiB and
 * back down, through every class and past the largest. */
TK_TEST(test_realloc_grows_and_shrinks)
{
    static const int steps[] = {1,    15,   16,   17,   100, 500, 1024, 1025, 3000, 65536,
                                4000, 1025, 1024, 1000, 300, 33,  16,   8,    1};
    unsigned char *p = m->xRealloc(NULL, steps[0]);
    int have = steps[0];
    TK_CHECK(p != NULL);
    fill(p, have, 7);
    for (size_t i = 1; i < sizeof steps / sizeof steps[0]; i++) {
        int n = steps[i];
        unsigned char *q = m->xRealloc(p, n);
        TK_CHECK(q != NULL);
        if (!q)
            break;
        TK_CHECK(((uintptr_t)q & 7) == 0);
        TK_CHECK_INT(m->xSize(q), m->xRoundup(n));
        /* the bytes both sizes hold are the old ones */
        TK_CHECK(filled(q, have < n ? have : n, 7));
        /* within one class the block stays where it is */
        if (m->xRoundup(n) == m->xRoundup(have))
            TK_CHECK(q == p);
        p = q;
        have = n;
        fill(p, have, 7);
    }
    m->xFree(p);
}

/* A class's list holds at most TK_SQLITE_MEM_LIST_MAX blocks; the rest go
 * back to malloc. */
TK_TEST(test_lists_are_capped)
{
    enum { N = TK_SQLITE_MEM_LIST_MAX + 40 };
    static void *p[N];
    unsigned before;
    for (int i = 0; i < N; i++)
        TK_CHECK((p[i] = m->xMalloc(200)) != NULL);
    before = tk_sqlite_mem_cached();
    for (int i = 0; i < N; i++)
        m->xFree(p[i]);
    TK_CHECK(tk_sqlite_mem_cached() - before <= TK_SQLITE_MEM_LIST_MAX);
    TK_CHECK(tk_sqlite_mem_cached() > before);
}

/* Threads allocate, check and free blocks of every class, and hand half of
 * them to the next thread, which frees them (onto its own lists). */
#define NTHREADS 4
#define ROUNDS 2000
#define HAND 64

struct worker {
    int id;
    void *handed[HAND]; /* filled by the previous worker, freed by this one */
    int handed_n[HAND];
    pthread_mutex_t mu;
    int ready;
    int bad;
    unsigned cached;
};

static struct worker workers[NTHREADS];

static void *work(void *arg)
{
    struct worker *w = arg, *next = &workers[(w->id + 1) % NTHREADS];
    unsigned seed = (unsigned)w->id * 7919u + 1u;
    void *mine[32] = {0};
    int sizes[32] = {0};
    for (int r = 0; r < ROUNDS; r++) {
        int k = r % 32;
        seed = seed * 1103515245u + 12345u;
        int n = 1 + (int)((seed >> 8) % 1500);
        if (mine[k]) {
            if (!filled(mine[k], sizes[k], (unsigned)k + (unsigned)w->id))
                w->bad++;
            if (r % 3 == 0) {
                unsigned char *q = m->xRealloc(mine[k], n);
                if (!q) {
                    w->bad++;
                    continue;
                }
                if (!filled(q, sizes[k] < n ? sizes[k] : n, (unsigned)k + (unsigned)w->id))
                    w->bad++;
                mine[k] = q;
                sizes[k] = n;
                fill(q, n, (unsigned)k + (unsigned)w->id);
                continue;
            }
            m->xFree(mine[k]);
        }
        if (!(mine[k] = m->xMalloc(n))) {
            w->bad++;
            continue;
        }
        sizes[k] = n;
        fill(mine[k], n, (unsigned)k + (unsigned)w->id);
    }
    /* hand the first HAND/2 blocks over, keep checking the rest */
    pthread_mutex_lock(&next->mu);
    for (int k = 0; k < HAND / 2 && k < 32; k++) {
        next->handed[k] = mine[k];
        next->handed_n[k] = sizes[k] | (w->id << 16);
        mine[k] = NULL;
    }
    next->ready = 1;
    pthread_mutex_unlock(&next->mu);
    for (int k = 0; k < 32; k++)
        m->xFree(mine[k]);
    for (;;) {
        pthread_mutex_lock(&w->mu);
        int ready = w->ready;
        pthread_mutex_unlock(&w->mu);
        if (ready)
            break;
        sched_yield();
    }
    pthread_mutex_lock(&w->mu);
    for (int k = 0; k < HAND / 2; k++) {
        int n = w->handed_n[k] & 0xffff, from = w->handed_n[k] >> 16;
        if (w->handed[k] && !filled(w->handed[k], n, (unsigned)k + (unsigned)from))
            w->bad++;
        m->xFree(w->handed[k]);
    }
    pthread_mutex_unlock(&w->mu);
    w->cached = tk_sqlite_mem_cached();
    return NULL;
}

TK_TEST(test_threads_and_blocks_freed_elsewhere)
{
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        workers[i].id = i;
        pthread_mutex_init(&workers[i].mu, NULL);
    }
    for (int i = 0; i < NTHREADS; i++)
        TK_CHECK_INT(pthread_create(&th[i], NULL, work, &workers[i]), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < NTHREADS; i++) {
        TK_CHECK_INT(workers[i].bad, 0);
        TK_CHECK(workers[i].cached > 0); /* its lists, freed as it ended */
        pthread_mutex_destroy(&workers[i].mu);
    }
}

/* SQLite itself on the allocator: one connection a thread, each writing
 * and reading back its own table (statements, records, sorts, a temporary
 * index), the same answers on every thread. */
static void *sql_work(void *arg)
{
    int *bad = arg;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL)) {
        (*bad)++;
        sqlite3_close(db);
        return NULL;
    }
    if (sqlite3_exec(db,
                     "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, v BLOB);"
                     "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
                     "3000) INSERT INTO t SELECT i, printf('key%05d', (i * 7919) % 3000), "
                     "zeroblob(i % 900) FROM n;"
                     "CREATE INDEX t_k ON t (k);",
                     NULL, NULL, NULL) != SQLITE_OK)
        (*bad)++;
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*), sum(length(v)), group_concat(k, '') IS NOT NULL "
                           "FROM (SELECT k, v FROM t ORDER BY k DESC, length(v))",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 3000 ||
        sqlite3_column_int64(st, 1) != 1258800 || sqlite3_column_int(st, 2) != 1)
        (*bad)++;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return NULL;
}

TK_TEST(test_sqlite_runs_on_it)
{
    pthread_t th[NTHREADS];
    int bad[NTHREADS] = {0};
    for (int i = 0; i < NTHREADS; i++)
        TK_CHECK_INT(pthread_create(&th[i], NULL, sql_work, &bad[i]), 0);
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        TK_CHECK_INT(bad[i], 0);
    }
}

int main(void)
{
    struct tk_db *db = NULL;
    struct tk_error err = {0};
    m = tk_sqlite_mem_methods();
    TK_CHECK_INT(m->xInit(m->pAppData), SQLITE_OK);
    TK_RUN(test_every_size_class);
    TK_RUN(test_realloc_grows_and_shrinks);
    TK_RUN(test_lists_are_capped);
    TK_RUN(test_threads_and_blocks_freed_elsewhere);
    /* the store installs it at its first open (but under ASan): a block
     * SQLite gets for 100 bytes is then one of 128 */
    TK_CHECK_INT(tk_db_open_spec("sqlite::memory:", 0, &db, &err), 0);
    tk_db_close(db);
    void *p = sqlite3_malloc(100);
    TK_CHECK(p != NULL);
    TK_CHECK_INT(sqlite3_msize(p) == 128, !TK_SQLITE_MEM_ASAN);
    sqlite3_free(p);
    TK_RUN(test_sqlite_runs_on_it);
    tk_sqlite_mem_release();
    TK_CHECK_INT(tk_sqlite_mem_cached(), 0);
    return tk_test_done();
}
