/*
 * sqlite.c - the SQLite driver.
 *
 * Durability: WAL with synchronous=NORMAL.  A commit survives a crash of
 * tickler itself; a power loss may undo the last few commits but never
 * corrupts the file.  The outbox is built for that: a message whose "sent"
 * mark is lost is sent again with the same Message-ID, which is the
 * promise in shared/domain.md.  synchronous=FULL would close that window at
 * one fsync per commit; it is a one-line change below if a firm wants it.
 *
 * Contention: several tickler processes may share one file (a cron `tick`
 * next to a CLI command).  A busy handler retries with short sleeps for up
 * to BUSY_TOTAL_MS, so SQLITE_BUSY reaches the user only when a writer
 * holds the lock for longer than that.  Work that writes takes the lock at
 * BEGIN (TK_TX_IMMEDIATE): a deferred transaction that upgrades from read to
 * write in WAL mode can fail at once, without any busy handler being asked.
 */
#include "db/db.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_SIZE 64
#define BUSY_TOTAL_MS 10000

struct slot {
    char *sql; /* owned copy of the key */
    uint32_t hash;
    sqlite3_stmt *st;
    int in_use;    /* a cursor holds it */
    uint64_t used; /* LRU clock */
};

struct tk_db {
    struct tk_db_base base;
    sqlite3 *h;
    char *path;
    struct slot cache[CACHE_SIZE];
    uint64_t clock;
    int busy_ms; /* time slept in the current wait */
};

struct tk_cursor {
    struct tk_cursor_base base;
    struct tk_db *db;
    sqlite3_stmt *st;
    struct slot *slot; /* NULL: private statement, finalized on close */
};

static int fail(struct tk_db *db, struct tk_error *err, int rc)
{
    int code = TK_EIO;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = TK_ETEMP;
        break;
    case SQLITE_CONSTRAINT:
        code = TK_ECONFLICT;
        break;
    case SQLITE_NOMEM:
        code = TK_ENOMEM;
        break;
    default:
        break;
    }
    const char *msg = db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc);
    return tk_error_set(err, code, "store %s: %s", db->path, msg);
}

/* Sleep 1, 2, 4 ... 32 ms between tries; give up after BUSY_TOTAL_MS. */
static int on_busy(void *u, int count)
{
    struct tk_db *db = u;
    if (count == 0)
        db->busy_ms = 0;
    if (db->busy_ms >= BUSY_TOTAL_MS)
        return 0;
    int ms = count < 5 ? 1 << count : 32;
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
    db->busy_ms += ms;
    return 1;
}

static void drv_close(struct tk_db *db)
{
    if (!db)
        return;
    for (int i = 0; i < CACHE_SIZE; i++) {
        sqlite3_finalize(db->cache[i].st);
        free(db->cache[i].sql);
    }
    sqlite3_close_v2(db->h);
    free(db->path);
    free(db);
}

static int drv_open(const char *target, struct tk_db **out, struct tk_error *err)
{
    *out = NULL;
    struct tk_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = tk_strdup(target))) {
        free(db);
        return tk_error_set(err, TK_ENOMEM, "store %s: out of memory", target);
    }
    db->base.drv = &tk_db_sqlite;
    int rc = sqlite3_open_v2(
        target, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int code = fail(db, err, rc);
        drv_close(db);
        return code;
    }
    sqlite3_extended_result_codes(db->h, 1);
    sqlite3_busy_handler(db->h, on_busy, db);
    /* journal_mode=WAL needs a lock too: the busy handler covers it. */
    static const char *const pragmas =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;";
    rc = sqlite3_exec(db->h, pragmas, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int code = fail(db, err, rc);
        drv_close(db);
        return code;
    }
    *out = db;
    return 0;
}

static int drv_exec_script(struct tk_db *db, const char *sql, struct tk_error *err)
{
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(db, err, rc);
}

static int drv_begin(struct tk_db *db, int mode, struct tk_error *err)
{
    return drv_exec_script(db, mode == TK_TX_IMMEDIATE ? "BEGIN IMMEDIATE" : "BEGIN", err);
}

static int drv_commit(struct tk_db *db, struct tk_error *err)
{
    return drv_exec_script(db, "COMMIT", err);
}

static int drv_rollback(struct tk_db *db)
{
    /* Reset cached statements first: an unfinished read would otherwise be
     * aborted under a cursor someone forgot to close. */
    for (int i = 0; i < CACHE_SIZE; i++)
        if (db->cache[i].st && !db->cache[i].in_use)
            sqlite3_reset(db->cache[i].st);
    return sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK ? 0 : TK_EIO;
}

static uint32_t hash_sql(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* A prepared statement for SQL: from the cache when a free one is there,
 * else newly prepared and cached in the least recently used free slot.
 * *SLOT is NULL when every slot is busy (the statement is then private). */
static int prepare(struct tk_db *db, const char *sql, sqlite3_stmt **st, struct slot **slot,
                   struct tk_error *err)
{
    uint32_t h = hash_sql(sql);
    struct slot *victim = NULL;
    *slot = NULL;
    for (int i = 0; i < CACHE_SIZE; i++) {
        struct slot *s = &db->cache[i];
        if (s->st && !s->in_use && s->hash == h && strcmp(s->sql, sql) == 0) {
            s->in_use = 1;
            s->used = ++db->clock;
            *st = s->st;
            *slot = s;
            return 0;
        }
        if (!s->in_use && (!victim || !s->st || (victim->st && s->used < victim->used)))
            victim = s;
    }
    int rc = sqlite3_prepare_v2(db->h, sql, -1, st, NULL);
    if (rc != SQLITE_OK)
        return fail(db, err, rc);
    char *copy = victim ? tk_strdup(sql) : NULL;
    if (!copy)
        return 0; /* uncached, still usable */
    sqlite3_finalize(victim->st);
    free(victim->sql);
    *victim = (struct slot){copy, h, *st, 1, ++db->clock};
    *slot = victim;
    return 0;
}

static void release(struct tk_db *db, sqlite3_stmt *st, struct slot *slot)
{
    (void)db;
    if (slot) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        slot->in_use = 0;
    } else {
        sqlite3_finalize(st);
    }
}

static int bind(struct tk_db *db, sqlite3_stmt *st, const char *types, va_list ap,
                struct tk_error *err)
{
    int n = 0, rc = SQLITE_OK;
    size_t want = types ? strlen(types) : 0;
    if (want != (size_t)sqlite3_bind_parameter_count(st))
        return tk_error_set(err, TK_EINVAL, "store %s: %zu values bound, statement wants %d",
                            db->path, want, sqlite3_bind_parameter_count(st));
    for (const char *t = types ? types : ""; *t && rc == SQLITE_OK; t++) {
        n++;
        switch (*t) {
        case 'i':
            rc = sqlite3_bind_int64(st, n, va_arg(ap, int64_t));
            break;
        case 'z': {
            int64_t v = va_arg(ap, int64_t);
            rc = v ? sqlite3_bind_int64(st, n, v) : sqlite3_bind_null(st, n);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(st, n, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, n);
            break;
        }
        case 'n':
            rc = sqlite3_bind_null(st, n);
            break;
        default:
            return tk_error_set(err, TK_EINVAL, "store %s: bad bind type '%c'", db->path, *t);
        }
    }
    return rc == SQLITE_OK ? 0 : fail(db, err, rc);
}

static int drv_query(struct tk_db *db, struct tk_cursor **cur, struct tk_error *err,
                     const char *sql, const char *types, va_list ap)
{
    sqlite3_stmt *st = NULL;
    struct slot *slot = NULL;
    if (cur)
        *cur = NULL;
    int rc = prepare(db, sql, &st, &slot, err);
    if (rc != 0)
        return rc;
    va_list aq;
    va_copy(aq, ap);
    rc = bind(db, st, types, aq, err);
    va_end(aq);
    if (rc != 0) {
        release(db, st, slot);
        return rc;
    }
    if (!cur) {
        int s;
        while ((s = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (s != SQLITE_DONE)
            rc = fail(db, err, s);
        release(db, st, slot);
        return rc;
    }
    struct tk_cursor *c = calloc(1, sizeof *c);
    if (!c) {
        release(db, st, slot);
        return tk_error_set(err, TK_ENOMEM, "store %s: out of memory", db->path);
    }
    c->base.drv = &tk_db_sqlite;
    c->db = db;
    c->st = st;
    c->slot = slot;
    *cur = c;
    return 0;
}

static int drv_next(struct tk_cursor *cur, struct tk_error *err)
{
    int s = sqlite3_step(cur->st);
    if (s == SQLITE_ROW)
        return 1;
    if (s == SQLITE_DONE)
        return 0;
    fail(cur->db, err, s);
    return -1;
}

static int64_t drv_col_int(struct tk_cursor *cur, int col)
{
    return sqlite3_column_int64(cur->st, col);
}

static const char *drv_col_text(struct tk_cursor *cur, int col)
{
    return (const char *)sqlite3_column_text(cur->st, col);
}

static void drv_cursor_close(struct tk_cursor *cur)
{
    release(cur->db, cur->st, cur->slot);
    free(cur);
}

static int64_t drv_changes(struct tk_db *db)
{
    return sqlite3_changes64(db->h);
}
static int64_t drv_last_id(struct tk_db *db)
{
    return sqlite3_last_insert_rowid(db->h);
}

const struct tk_db_driver tk_db_sqlite = {
    .name = "sqlite",
    .open = drv_open,
    .close = drv_close,
    .begin = drv_begin,
    .commit = drv_commit,
    .rollback = drv_rollback,
    .query = drv_query,
    .exec_script = drv_exec_script,
    .next = drv_next,
    .col_int = drv_col_int,
    .col_text = drv_col_text,
    .cursor_close = drv_cursor_close,
    .changes = drv_changes,
    .last_id = drv_last_id,
};
