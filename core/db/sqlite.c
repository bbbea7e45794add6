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
 *
 * The log between processes (issue 17; docs/delivery.md "A command's
 * commit and the SQLite files at its exit"): a connection does not
 * checkpoint when it closes (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE), so
 * tickler.db-wal stays beside the store with the last commits in it.
 * Instead a connection that committed flushes the log once as it closes
 * (one fdatasync instead of the four of a checkpoint, a restarted log's
 * header and the unlinks), so a command's change is on disk when it exits,
 * as before.  The log is bounded: SQLite's own checkpoint at 1000 pages
 * runs as always (wal_hook below does what its default hook does), and a
 * connection that wrote closes with a TRUNCATE checkpoint once the log has
 * LOG_BOUND_PAGES pages, so the next process never reads back a long log
 * at its start.  An erasure cuts the log at its commit (tk_db_purge_log).
 */
#include "db/db.h"
#include "db/sqlite_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CACHE_SIZE 64
#define BUSY_TOTAL_MS 10000
/* SQLite's default autocheckpoint (sqlite3_wal_autocheckpoint). */
#define AUTO_CHECKPOINT_PAGES 1000
/* A writing connection's close cuts a log this long (measured: see
 * docs/delivery.md; every process start reads the whole log back). */
#define LOG_BOUND_PAGES 128

struct slot {
    char *sql;       /* owned copy of the key */
    const char *ptr; /* the caller's text it was last found by (compared, never read) */
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
    int busy_ms;   /* time slept in the current wait */
    int wrote;     /* a commit went into the log since the last flush */
    int log_pages; /* the log's length in pages after the last commit */
    int purge;     /* tk_db_purge_log: cut the log after the next commit */
    int deferred;  /* tk_db_log_defer_checkpoints: another connection checkpoints */
};

struct tk_cursor {
    struct tk_cursor_base base;
    struct tk_db *db;
    sqlite3_stmt *st;
    struct slot *slot; /* NULL: private statement, finalized on close */
    int done;          /* stepped to the end: stays there (a step would rerun it) */
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

/* After every commit that wrote to the log, with the log's length. */
static int on_wal_commit(void *u, sqlite3 *h, const char *name, int pages)
{
    struct tk_db *db = u;
    db->wrote = 1;
    db->log_pages = pages;
    /* What SQLite's default hook does (sqlite3_wal_autocheckpoint): a
     * PASSIVE checkpoint, which never waits for anyone. */
    if (pages >= AUTO_CHECKPOINT_PAGES && !db->deferred)
        (void)sqlite3_wal_checkpoint_v2(h, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

/* Checkpoint the whole log into the store and cut it to zero bytes; WAIT
 * lets the busy handler wait for readers and writers of other connections
 * (BUSY_TOTAL_MS), otherwise it does what it can without waiting.  A
 * checkpoint flushes the log and the store itself.  0 when the log is now
 * empty. */
static int cut_log(struct tk_db *db, int wait)
{
    if (!wait)
        sqlite3_busy_handler(db->h, NULL, NULL);
    int rc = sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    if (!wait)
        sqlite3_busy_handler(db->h, on_busy, db);
    if (rc == SQLITE_OK)
        db->log_pages = 0;
    return rc == SQLITE_OK ? 0 : -1;
}

/* Flush the log file (one fdatasync), so that every commit in it survives
 * a power cut: synchronous=NORMAL flushes it only at checkpoints.  Through
 * a descriptor of its own rather than SQLite's xSync, which would also
 * flush the store's folder once per process (it cannot tell that the file
 * was there before): the folder entry of a new log is flushed by SQLite
 * itself when it writes the log's first frame, which flushes its header
 * (and with it, once per process, the folder). */
static void flush_log(struct tk_db *db)
{
    const char *name = sqlite3_db_filename(db->h, "main");
    const char *wal = name && *name ? sqlite3_filename_wal(name) : NULL;
    int fd = wal && *wal ? open(wal, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        (void)fdatasync(fd);
        close(fd);
        return;
    }
    sqlite3_file *f = NULL; /* not where SQLite said: let it flush its own */
    if (sqlite3_file_control(db->h, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) == SQLITE_OK && f &&
        f->pMethods)
        (void)f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
}

/* No checkpoint at close (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE): a commit of
 * this connection is made durable here, by a flush of the log or by a
 * checkpoint that empties a log grown past its bound. */
static void make_durable(struct tk_db *db)
{
    if (db->h && db->wrote && (db->log_pages < LOG_BOUND_PAGES || cut_log(db, 0) != 0))
        flush_log(db);
    db->wrote = 0;
}

static void drv_close(struct tk_db *db)
{
    if (!db)
        return;
    for (int i = 0; i < CACHE_SIZE; i++) {
        sqlite3_finalize(db->cache[i].st);
        free(db->cache[i].sql);
    }
    make_durable(db);
    sqlite3_close_v2(db->h);
    free(db->path);
    free(db);
}

/* The sanitizer builds close as usual: their leak checks see every
 * allocation freed (and ThreadSanitizer every lock released). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CLOSE_AT_EXIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer) || __has_feature(leak_sanitizer)
#define CLOSE_AT_EXIT 1
#endif
#endif

/* tk_db_close_at_exit (issue 17, bench/RESULTS.md update 63): the commits
 * made durable as drv_close makes them; then, outside a transaction, the
 * close itself is left to the kernel.  Under NO_CKPT_ON_CLOSE
 * sqlite3_close_v2 writes nothing and takes no lock: it finalizes the
 * statements, unmaps tickler.db-shm, closes the three descriptors and so
 * drops their POSIX locks, which the process's exit does as well; the
 * -wal and -shm files stay beside the store either way, and the next
 * process to open it rebuilds the log's index from the log, as after a
 * close (docs/delivery.md "A command's commit and the SQLite files at its
 * exit").  4.5 % of the instructions of one `tickler send`. */
#ifdef CLOSE_AT_EXIT
static void drv_close_at_exit(struct tk_db *db)
{
    drv_close(db);
}
#else
/* A connection the process exits with, still reachable for a leak checker
 * (valgrind) that looks at the heap after main returns. */
static struct tk_db *left_at_exit;

static void drv_close_at_exit(struct tk_db *db)
{
    if (!db)
        return;
    make_durable(db);
    if (!db->h || !sqlite3_get_autocommit(db->h)) {
        drv_close(db); /* a transaction SQLite still holds: its rollback */
        return;
    }
    left_at_exit = db;
}
#endif

/* The store holds names, addresses and whole messages: a new file is made
 * 0600 here, whatever the umask (SQLite would make it 0644 & ~umask).
 * SQLite gives the -wal and -shm files it creates the mode of the database
 * file, so they follow.  An existing file keeps the mode its owner chose.
 * Any other failure is left to sqlite3_open_v2 to report. */
static void create_private(const char *path)
{
    if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
        return;
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    (void)fchmod(fd, 0600); /* open's mode went through the umask */
    close(fd);
}

/* A savepoint's journal (the old text of each page a reminder changes:
 * the reminders of a tick run in savepoints of up to 4, tick.c) and a
 * statement's are kept in memory up to this many bytes, then spilled into
 * a temporary file.  SQLite's default, 64 KiB, is less than one reminder
 * writes (its item, outbox and audit rows and their index pages: about
 * 20 pages), so every tick wrote each reminder's pages a second time into
 * an unlinked file in /var/tmp: 23 of the 39 pwrite calls per due item
 * (issue 17, bench/RESULTS.md).  1 MiB holds any one reminder; a larger
 * statement (a bulk change) still spills as before. */
#define STMT_JOURNAL_SPILL (120 * 1024)

/* SQLite counts every allocation for sqlite3_memory_used() unless told not
 * to, under a global mutex: 151,000 lock/unlock pairs in a tick of 1000
 * reminders (3 % of its instructions).  Nothing here reads the counts.
 * Allowed only before the library initializes, so once per process before
 * the first open; if something else initialized it first, the call fails
 * harmlessly and the counting stays. */
static void config_once(void)
{
    /* SQLite's allocations through a per-thread cache of freed blocks
     * (sqlite_mem.h: Debian's SQLite has no lookaside); not under
     * AddressSanitizer, which should see every block's malloc and free. */
#if !TK_SQLITE_MEM_ASAN
    if (!tk_sqlite_mem_off)
        (void)sqlite3_config(SQLITE_CONFIG_MALLOC, tk_sqlite_mem_methods());
#endif
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, STMT_JOURNAL_SPILL);
}

static int drv_open(const char *target, struct tk_db **out, struct tk_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, config_once);
    *out = NULL;
    struct tk_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = tk_strdup(target))) {
        free(db);
        return tk_error_set(err, TK_ENOMEM, "store %s: out of memory", target);
    }
    db->base.drv = &tk_db_sqlite;
    create_private(target);
    int rc = sqlite3_open_v2(
        target, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int code = fail(db, err, rc);
        drv_close(db);
        return code;
    }
    sqlite3_extended_result_codes(db->h, 1);
    sqlite3_busy_handler(db->h, on_busy, db);
    /* journal_mode=WAL needs a lock too: the busy handler covers it.
     * cache_size: up to 16 MiB of pages, allocated as they are read (a
     * short command reads a few).  SQLite's 2 MiB default made a tick of
     * 10k due in a 100k store read 5.4 pages per reminder back from the
     * file and spill dirty pages into the log before the commit; 16 MiB:
     * 3.2 reads (issue 17), peak memory still far under 64 MiB. */
    static const char *const pragmas =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
        "PRAGMA cache_size=-16384;";
    rc = sqlite3_exec(db->h, pragmas, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_db_config(db->h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    if (rc != SQLITE_OK) {
        int code = fail(db, err, rc);
        drv_close(db);
        return code;
    }
    sqlite3_wal_hook(db->h, on_wal_commit, db);
    *out = db;
    return 0;
}

static int drv_query(struct tk_db *db, struct tk_cursor **cur, struct tk_error *err,
                     const char *sql, const struct tk_db_value *vals, size_t n);

/* A savepoint's SAVEPOINT, RELEASE and ROLLBACK TO: one statement each,
 * run once per reminder of a tick (tick.c).  sqlite3_exec would parse each
 * again (12k instructions per reminder, issue 17), so they go through the
 * statement cache like BEGIN and COMMIT. */
static int is_savepoint_verb(const char *sql)
{
    return !strchr(sql, ';') &&
           (strncmp(sql, "SAVEPOINT ", 10) == 0 || strncmp(sql, "RELEASE SAVEPOINT ", 18) == 0 ||
            strncmp(sql, "ROLLBACK TO SAVEPOINT ", 22) == 0);
}

static int drv_exec_script(struct tk_db *db, const char *sql, struct tk_error *err)
{
    if (is_savepoint_verb(sql))
        return drv_query(db, NULL, err, sql, NULL, 0);
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(db, err, rc);
}

/* TK_TX_SNAPSHOT is a deferred BEGIN: in WAL mode its first read fixes the
 * snapshot every later read of the transaction sees.  BEGIN and COMMIT go
 * through the statement cache: sqlite3_exec would parse them again for
 * every transaction (7k instructions a pair, and a dispatcher with one
 * connection runs a transaction per message). */
static int drv_begin(struct tk_db *db, int mode, struct tk_error *err)
{
    int write = mode == TK_TX_IMMEDIATE || mode == TK_TX_RESULT;
    return drv_query(db, NULL, err, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, 0);
}

static int drv_commit(struct tk_db *db, struct tk_error *err)
{
    int rc = drv_query(db, NULL, err, "COMMIT", NULL, 0);
    if (rc == 0 && db->purge) {
        db->purge = 0;
        if (cut_log(db, 1) != 0)
            flush_log(db);
    }
    return rc;
}

/* tk_db_purge_log: outside a transaction at once, else after its commit
 * (a rollback drops the request). */
static void drv_purge_log(struct tk_db *db)
{
    if (db->base.in_tx) {
        db->purge = 1;
    } else if (cut_log(db, 1) != 0) {
        flush_log(db);
    }
}

static void drv_log_defer_checkpoints(struct tk_db *db, int defer)
{
    db->deferred = defer != 0;
}

static int drv_log_pages(struct tk_db *db)
{
    return db->log_pages;
}

static void drv_log_checkpoint(struct tk_db *db)
{
    (void)sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

static int drv_rollback(struct tk_db *db)
{
    /* Reset cached statements first: an unfinished read would otherwise be
     * aborted under a cursor someone forgot to close. */
    for (int i = 0; i < CACHE_SIZE; i++)
        if (db->cache[i].st && !db->cache[i].in_use)
            sqlite3_reset(db->cache[i].st);
    db->purge = 0;
    return sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK ? 0 : TK_EIO;
}

static uint32_t hash_sql(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void take(struct tk_db *db, struct slot *s, const char *sql, sqlite3_stmt **st,
                 struct slot **slot)
{
    s->in_use = 1;
    s->used = ++db->clock;
    s->ptr = sql;
    *st = s->st;
    *slot = s;
}

/* A prepared statement for SQL: from the cache when a free one is there,
 * else newly prepared and cached in the least recently used free slot.
 * *SLOT is NULL when every slot is busy (the statement is then private).
 *
 * The store passes mostly string literals, so a slot remembers the address
 * it was last found by: the same address is checked with strcmp alone
 * (text built in a buffer may reuse an address with other words, hence
 * the compare).  Hashing the SQL (200-byte statements, byte by byte) and
 * scanning the slots cost more than SQLite's own work for a simple SELECT
 * by key. */
static int prepare(struct tk_db *db, const char *sql, sqlite3_stmt **st, struct slot **slot,
                   struct tk_error *err)
{
    struct slot *victim = NULL;
    *slot = NULL;
    for (int i = 0; i < CACHE_SIZE; i++) {
        struct slot *s = &db->cache[i];
        if (s->ptr == sql && s->st && !s->in_use && strcmp(s->sql, sql) == 0) {
            take(db, s, sql, st, slot);
            return 0;
        }
    }
    uint32_t h = hash_sql(sql);
    for (int i = 0; i < CACHE_SIZE; i++) {
        struct slot *s = &db->cache[i];
        if (s->st && !s->in_use && s->hash == h && strcmp(s->sql, sql) == 0) {
            take(db, s, sql, st, slot);
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
    *victim = (struct slot){copy, sql, h, *st, 1, ++db->clock};
    *slot = victim;
    return 0;
}

static void release(struct tk_db *db, sqlite3_stmt *st, struct slot *slot)
{
    (void)db;
    if (slot) {
        /* Its bindings stay until the next use binds every value again
         * (bind() insists on all of them): clearing them costs more than
         * keeping copies. */
        sqlite3_reset(st);
        slot->in_use = 0;
    } else {
        sqlite3_finalize(st);
    }
}

/* BORROW: the statement runs to its end before the caller's values can
 * go (no cursor), so text is bound without a copy (SQLITE_STATIC) and
 * cleared after the run (drv_query); a cursor outlives the call, so its text
 * is copied.  The copy was an allocation and a memcpy per value: the 2 KiB
 * message of every outbox row (issue 17). */
static int bind(struct tk_db *db, sqlite3_stmt *st, const struct tk_db_value *v, size_t n,
                int borrow, struct tk_error *err)
{
    int rc = SQLITE_OK;
    if (n != (size_t)sqlite3_bind_parameter_count(st))
        return tk_error_set(err, TK_EINVAL, "store %s: %zu values bound, statement wants %d",
                            db->path, n, sqlite3_bind_parameter_count(st));
    for (size_t k = 0; k < n && rc == SQLITE_OK; k++) {
        int col = (int)k + 1;
        switch (v[k].type) {
        case TK_DB_INT:
            rc = sqlite3_bind_int64(st, col, v[k].i);
            break;
        case TK_DB_TEXT:
            rc = v[k].s ? sqlite3_bind_text(st, col, v[k].s, -1,
                                            borrow ? SQLITE_STATIC : SQLITE_TRANSIENT)
                        : sqlite3_bind_null(st, col);
            break;
        case TK_DB_NULL:
            rc = sqlite3_bind_null(st, col);
            break;
        default:
            return tk_error_set(err, TK_EINVAL, "store %s: bad value type %d", db->path, v[k].type);
        }
    }
    return rc == SQLITE_OK ? 0 : fail(db, err, rc);
}

static int drv_query(struct tk_db *db, struct tk_cursor **cur, struct tk_error *err,
                     const char *sql, const struct tk_db_value *vals, size_t n)
{
    sqlite3_stmt *st = NULL;
    struct slot *slot = NULL;
    if (cur)
        *cur = NULL;
    int rc = prepare(db, sql, &st, &slot, err);
    if (rc != 0)
        return rc;
    rc = bind(db, st, vals, n, !cur, err);
    if (rc != 0) {
        if (!cur)
            sqlite3_clear_bindings(st);
        release(db, st, slot);
        return rc;
    }
    if (!cur) {
        int s;
        while ((s = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (s != SQLITE_DONE)
            rc = fail(db, err, s);
        /* borrowed text (bind): SQLite may keep a bound pointer until it
         * is bound again or the statement is finalized */
        if (slot)
            sqlite3_clear_bindings(st);
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
    if (cur->done)
        return 0;
    int s = sqlite3_step(cur->st);
    if (s == SQLITE_ROW)
        return 1;
    if (s == SQLITE_DONE) {
        cur->done = 1;
        return 0;
    }
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

/* AUTOINCREMENT keeps the largest id ever given out in sqlite_sequence (a
 * row appears with the first insert into the table).  A table without it
 * (the audit since schema v15) has no row: 0. */
static int drv_id_high_water(struct tk_db *db, const char *table, int64_t *out,
                             struct tk_error *err)
{
    struct tk_db_value v = tk_db_value_text(table);
    struct tk_cursor *cur = NULL;
    int rc = drv_query(db, &cur, err, "SELECT seq FROM sqlite_sequence WHERE name = ?", &v, 1);
    if (rc != 0)
        return rc;
    int r = drv_next(cur, err);
    if (r > 0)
        *out = drv_col_int(cur, 0);
    drv_cursor_close(cur);
    return r < 0 ? (err ? err->code : TK_EIO) : 0;
}

static int drv_set_id_high_water(struct tk_db *db, const char *table, int64_t v,
                                 struct tk_error *err)
{
    struct tk_db_value a[2] = {tk_db_value_int(v), tk_db_value_text(table)};
    int rc = drv_query(db, NULL, err, "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?",
                       a, 2);
    if (rc != 0 || sqlite3_changes64(db->h) > 0)
        return rc;
    /* Only an AUTOINCREMENT table has a mark to keep: the audit, append-only,
     * has none since schema v15 (its next id is its largest + 1). */
    struct tk_db_value t = tk_db_value_text(table);
    struct tk_cursor *cur = NULL;
    rc = drv_query(db, &cur, err,
                   "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ? "
                   "AND sql LIKE '%AUTOINCREMENT%'",
                   &t, 1);
    if (rc != 0)
        return rc;
    int r = drv_next(cur, err);
    drv_cursor_close(cur);
    if (r <= 0)
        return r < 0 ? (err ? err->code : TK_EIO) : 0;
    struct tk_db_value b[2] = {tk_db_value_text(table), tk_db_value_int(v)};
    return drv_query(db, NULL, err, "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", b, 2);
}

/* ---- backup and restore (issue 16, docs/data.md) ----------------------- */

/* The whole of FROM into TO through SQLite's online backup API, in one step
 * (one read transaction on FROM: a consistent snapshot while others write;
 * one write transaction on TO: all or nothing).  A lock held elsewhere is
 * waited for a little, as the busy handler would. */
static int copy_all(sqlite3 *to, sqlite3 *from, const char **why)
{
    sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
    int rc;
    if (!b) {
        *why = sqlite3_errmsg(to);
        return sqlite3_errcode(to);
    }
    for (int tries = 0;; tries++) {
        rc = sqlite3_backup_step(b, -1);
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || tries >= 200)
            break;
        sqlite3_sleep(25);
    }
    int frc = sqlite3_backup_finish(b);
    if (rc == SQLITE_DONE)
        rc = frc;
    if (rc != SQLITE_OK)
        *why = sqlite3_errstr(rc);
    return rc;
}

static int sync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int drv_backup(struct tk_db *db, const char *path, struct tk_error *err)
{
    struct stat a, b;
    sqlite3 *to = NULL;
    const char *why = NULL;
    char *tmp = NULL, *dir = NULL, *slash;
    int fd, rc = 0;
    size_t len = strlen(path);
    if (!*path)
        return tk_error_set(err, TK_EINVAL, "backup: the file name is empty");
    if (stat(path, &a) == 0 && stat(db->path, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        return tk_error_set(err, TK_EINVAL, "backup: %s is the store itself", path);
    if (!(tmp = malloc(len + 16)) || !(dir = tk_strdup(path))) {
        free(tmp);
        return tk_error_set(err, TK_ENOMEM, "backup: out of memory");
    }
    snprintf(tmp, len + 16, "%s.tmp-XXXXXX", path);
    /* mkstemp makes it 0600: the store holds names, addresses, messages. */
    if ((fd = mkstemp(tmp)) < 0) {
        rc = tk_error_set(err, TK_EIO, "backup: cannot create a file beside %s: %s", path,
                          strerror(errno));
        goto out;
    }
    close(fd);
    if (sqlite3_open_v2(tmp, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = tk_error_set(err, TK_EIO, "backup: %s: %s", tmp, sqlite3_errmsg(to));
        goto fail;
    }
    if (copy_all(to, db->h, &why) != SQLITE_OK) {
        rc = tk_error_set(err, TK_EIO, "backup of %s: %s", db->path, why);
        goto fail;
    }
    /* One self-contained file: the copy takes the store's WAL mark along,
     * which would make a reader look for a -wal file beside it. */
    if (sqlite3_exec(to, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = tk_error_set(err, TK_EIO, "backup: %s: %s", tmp, sqlite3_errmsg(to));
        goto fail;
    }
    sqlite3_close_v2(to);
    to = NULL;
    if (sync_path(tmp, 0) != 0 || rename(tmp, path) != 0) {
        rc = tk_error_set(err, TK_EIO, "backup: cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    (void)sync_path(slash ? dir : ".", 1);
    goto out;
fail:
    if (to)
        sqlite3_close_v2(to);
    unlink(tmp);
out:
    free(tmp);
    free(dir);
    return rc;
}

/* Whether FROM is a tickler store that this build can take: sound, with a
 * schema version between 1 and NEWEST. */
static int check_restorable(sqlite3 *from, const char *path, int newest, int *version,
                            struct tk_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc, v = 0;
    const char *ok = NULL;
    rc = sqlite3_prepare_v2(from, "PRAGMA quick_check", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        ok = (const char *)sqlite3_column_text(st, 0);
    if (!ok || strcmp(ok, "ok") != 0) {
        rc = tk_error_set(err, TK_EINVAL, "restore: %s is not a sound SQLite database (%s)", path,
                          ok ? ok : sqlite3_errmsg(from));
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(from, "SELECT MAX(version) FROM schema_version", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW || (v = sqlite3_column_int(st, 0)) < 1) {
        sqlite3_finalize(st);
        return tk_error_set(err, TK_EINVAL,
                            "restore: %s is not a tickler store (no schema version)", path);
    }
    sqlite3_finalize(st);
    *version = v;
    if (v > newest)
        return tk_error_set(err, TK_ECONFLICT,
                            "restore: %s has schema version %d, newer than this tickler knows "
                            "(%d); use a newer tickler",
                            path, v, newest);
    return 0;
}

static int drv_restore(struct tk_db *db, const char *path, int newest, int *version,
                       struct tk_error *err)
{
    sqlite3 *from = NULL;
    const char *why = NULL;
    struct stat a, b;
    int rc;
    *version = 0;
    if (stat(path, &a) != 0)
        return tk_error_set(err, TK_ENOTFOUND, "restore: %s: %s", path, strerror(errno));
    if (!S_ISREG(a.st_mode))
        return tk_error_set(err, TK_EINVAL, "restore: %s is not a file", path);
    if (stat(db->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return tk_error_set(err, TK_EINVAL, "restore: %s is the store itself", path);
    if (sqlite3_open_v2(path, &from, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        rc = tk_error_set(err, TK_EINVAL, "restore: %s: %s", path, sqlite3_errmsg(from));
        sqlite3_close_v2(from);
        return rc;
    }
    if ((rc = check_restorable(from, path, newest, version, err)) == 0 &&
        copy_all(db->h, from, &why) != SQLITE_OK)
        rc = tk_error_set(err, TK_EIO, "restore of %s into %s: %s", path, db->path, why);
    sqlite3_close_v2(from);
    /* The copy brings the backup's journal mode along; the store runs WAL. */
    if (rc == 0 && sqlite3_exec(db->h, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK)
        rc = fail(db, err, sqlite3_errcode(db->h));
    /* The backup API writes without the commit hook: flushed at close all
     * the same. */
    db->wrote = 1;
    return rc;
}

const struct tk_db_driver tk_db_sqlite = {
    .name = "sqlite",
    .open = drv_open,
    .close = drv_close,
    .close_at_exit = drv_close_at_exit,
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
    /* One writer at a time (BEGIN IMMEDIATE): no row locks to take, and a
     * claim reads then updates under the write lock. */
    .dialect =
        {
            .claim = TK_DB_CLAIM_SERIAL,
            .lock_rows = "",
            .skip_locked = "",
            .schema_sql = TK_DB_SCHEMA_SQLITE,
            .schema_lock = NULL,
            .snapshot = 1, /* WAL: a transaction reads one snapshot */
        },
    .lock_tables = NULL,
    .id_high_water = drv_id_high_water,
    .set_id_high_water = drv_set_id_high_water,
    .backup = drv_backup,
    .restore = drv_restore,
    .purge_log = drv_purge_log,
    .log_defer_checkpoints = drv_log_defer_checkpoints,
    .log_pages = drv_log_pages,
    .log_checkpoint = drv_log_checkpoint,
};
