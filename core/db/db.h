/*
 * db.h - the SQL driver interface under the store.
 *
 * The store (core/store) speaks one portable SQL dialect - `?` placeholders,
 * INTEGER/TEXT columns, INSERT ... RETURNING - through this narrow interface;
 * a driver (sqlite.c, postgres.c) maps it onto its client library.
 * Nothing above core/store sees SQL or knows which driver runs.
 *
 * Transactions: every command runs in exactly one transaction
 * (tk_db_begin ... tk_db_commit, tk_db_rollback on any failure), so a refused
 * or failing command changes nothing.  TK_TX_IMMEDIATE takes the write lock
 * at once (SQLite BEGIN IMMEDIATE), for anything that claims work.
 * TK_TX_SNAPSHOT only reads, and every read in it sees the same committed
 * state of the whole store (SQLite: a WAL read transaction; PostgreSQL:
 * REPEATABLE READ READ ONLY), for a copy that must be consistent.
 *
 * Which driver runs is nobody's business above this layer: where SQL must
 * differ, the driver declares it (struct tk_db_dialect, below).
 */
#ifndef TK_DB_H
#define TK_DB_H

#include "util/util.h"

struct tk_db;
struct tk_cursor;

/* TK_TX_RESULT is a TK_TX_IMMEDIATE transaction that records delivery
 * results and nothing else (a dispatcher's settles and give-backs).  Losing
 * one of those at a crash of the store's server resends messages with their
 * Message-IDs and loses nothing, so a driver may commit it without waiting
 * for the disk: PostgreSQL does (synchronous_commit off), SQLite's commits
 * are all like that already (synchronous=NORMAL).  Claims, reminders and
 * commands never use it. */
enum tk_tx_mode { TK_TX_DEFERRED = 0, TK_TX_IMMEDIATE = 1, TK_TX_SNAPSHOT = 2, TK_TX_RESULT = 3 };

/* Bound values, two ways.
 *
 * A `types` string (tk_db_exec, tk_db_query, tk_db_int, tk_db_insert) gives
 * one letter per `?`, the values follow as arguments:
 *   'i' int64_t, 's' const char * (NULL binds SQL NULL), 'n' SQL NULL
 *   (consumes no argument), 'z' int64_t where 0 binds SQL NULL (for the
 *   "0 means none" ids and times of the store records).
 * At most TK_DB_VARARGS_MAX letters: longer or variable lists (a filter
 * with optional conditions, a row of a table being copied) use an array
 * of struct tk_db_value with tk_db_exec_v / tk_db_query_v.  The varargs
 * calls are thin wrappers over the array calls. */
#define TK_DB_VARARGS_MAX 64

enum tk_db_type { TK_DB_NULL = 0, TK_DB_INT = 1, TK_DB_TEXT = 2 };

/* One value for one `?`.  A TK_DB_TEXT whose s is NULL binds SQL NULL.
 * s is borrowed until the call that binds it returns. */
struct tk_db_value {
    int type; /* enum tk_db_type */
    int64_t i;
    const char *s;
};

static inline struct tk_db_value tk_db_value_int(int64_t v)
{
    struct tk_db_value x = {TK_DB_INT, v, NULL};
    return x;
}

/* 0 binds SQL NULL, as the letter 'z'. */
static inline struct tk_db_value tk_db_value_id(int64_t v)
{
    struct tk_db_value x = {v ? TK_DB_INT : TK_DB_NULL, v, NULL};
    return x;
}

/* S borrowed until the call returns; NULL binds SQL NULL. */
static inline struct tk_db_value tk_db_value_text(const char *s)
{
    struct tk_db_value x = {TK_DB_TEXT, 0, s};
    return x;
}

static inline struct tk_db_value tk_db_value_null(void)
{
    struct tk_db_value x = {TK_DB_NULL, 0, NULL};
    return x;
}

/* ---- the dialect: what a driver's server needs said its own way --------
 *
 * The store speaks portable SQL.  Where two servers need different SQL to
 * keep the same promise, the difference is a capability of the driver,
 * declared here and read by the store through tk_db_dialect(); nothing
 * above core/db asks which driver runs. */

/* How concurrent claims of work are kept apart (tk_store_outbox_claim). */
enum tk_db_claim {
    /* One writer at a time: a TK_TX_IMMEDIATE transaction holds the store's
     * only write lock, so rows read and then updated inside it cannot be
     * claimed by anybody else meanwhile (SQLite). */
    TK_DB_CLAIM_SERIAL = 0,
    /* Writers side by side: a claim locks the rows it takes and passes over
     * those another transaction holds (skip_locked below), then updates
     * them and reads them back in one statement, an UPDATE ... RETURNING
     * inside WITH (PostgreSQL). */
    TK_DB_CLAIM_SKIP_LOCKED = 1,
};

/* Which text of a schema migration (core/db/schema.c) a server runs. */
enum tk_db_schema_sql { TK_DB_SCHEMA_SQLITE = 0, TK_DB_SCHEMA_POSTGRES = 1, TK_DB_SCHEMA_NSQL };

struct tk_db_dialect {
    enum tk_db_claim claim;
    /* Appended to a SELECT whose rows the transaction goes on to change
     * (read-modify-write): "" where the write lock already serializes
     * writers, " FOR UPDATE" where writers run side by side. */
    const char *lock_rows;
    /* Appended to a SELECT that takes work (due items, outbox rows): lock
     * the rows and pass over the ones another transaction holds.  "" or
     * " FOR UPDATE SKIP LOCKED". */
    const char *skip_locked;
    enum tk_db_schema_sql schema_sql;
    /* Run first in the transaction that migrates, to serialize migrating
     * processes where BEGIN does not (an advisory lock); NULL: the
     * TK_TX_IMMEDIATE transaction already does. */
    const char *schema_lock;
    /* Each statement is a round trip to a server (PostgreSQL): a dispatcher
     * with one connection records a result on a thread of its own while it
     * sends the next message (dispatch.c), instead of waiting for it.  0
     * where a statement is a call into the process (SQLite). */
    int remote;
    /* Every read of a transaction sees one state of the store and the
     * transaction's own writes, whatever others commit meanwhile (SQLite
     * in WAL mode: the snapshot its first read takes).  0 where each
     * statement sees what others committed before it (PostgreSQL at READ
     * COMMITTED).  tk_db_tx_serial is 0 without it. */
    int snapshot;
};

struct tk_db_driver {
    const char *name;
    int (*open)(const char *target, struct tk_db **db, struct tk_error *err);
    void (*close)(struct tk_db *db);
    /* tk_db_close_at_exit (NULL: close).  Makes every commit as durable as
     * close does; may leave the rest to the kernel at the process's exit. */
    void (*close_at_exit)(struct tk_db *db);
    int (*begin)(struct tk_db *db, int mode, struct tk_error *err);
    int (*commit)(struct tk_db *db, struct tk_error *err);
    int (*rollback)(struct tk_db *db);
    /* Run SQL with the N values of VALS bound to its `?` in order; *cur
     * (when CUR is not NULL) iterates rows.  A statement with no result may
     * pass CUR NULL.  VALS and the strings in it are borrowed for the call. */
    int (*query)(struct tk_db *db, struct tk_cursor **cur, struct tk_error *err, const char *sql,
                 const struct tk_db_value *vals, size_t n);
    int (*exec_script)(struct tk_db *db, const char *sql, struct tk_error *err);
    int (*next)(struct tk_cursor *cur, struct tk_error *err); /* 1 row, 0 end, <0 error */
    int64_t (*col_int)(struct tk_cursor *cur, int col);
    const char *(*col_text)(struct tk_cursor *cur, int col); /* NULL for SQL NULL */
    void (*cursor_close)(struct tk_cursor *cur);
    int64_t (*changes)(struct tk_db *db);
    /* The id of the row the last INSERT made (SQLite's rowid); NULL: the
     * driver has none, and tk_db_insert asks with RETURNING id. */
    int64_t (*last_id)(struct tk_db *db);

    /* ---- capabilities ---- */
    struct tk_db_dialect dialect;
    /* Lock TABLES (a comma-separated list) against every other writer until
     * the transaction ends; NULL: a TK_TX_IMMEDIATE transaction already
     * excludes them. */
    int (*lock_tables)(struct tk_db *db, const char *tables, struct tk_error *err);
    /* The largest id TABLE's generated `id` column ever gave out (0: none
     * yet).  It can exceed MAX(id): deleted rows, rolled back inserts. */
    int (*id_high_water)(struct tk_db *db, const char *table, int64_t *out, struct tk_error *err);
    /* Make the next id TABLE generates larger than V (and never smaller
     * than it would have been). */
    int (*set_id_high_water)(struct tk_db *db, const char *table, int64_t v, struct tk_error *err);
    /* A consistent copy of the whole store into the new file PATH, taken
     * while others write (SQLite's online backup API); NULL: the server
     * has its own tools (pg_dump). */
    int (*backup)(struct tk_db *db, const char *path, struct tk_error *err);
    /* Replace the store's contents with the store file PATH, in one
     * transaction, once PATH is found sound and its schema version
     * (*VERSION) between 1 and NEWEST; NULL as for backup. */
    int (*restore)(struct tk_db *db, const char *path, int newest, int *version,
                   struct tk_error *err);
    /* tk_db_last_statement; NULL: the hint is ignored (SQLite, where a
     * commit costs no round trip). */
    void (*last_statement)(struct tk_db *db);
    /* tk_db_purge_log; NULL: the driver keeps no log file of its own
     * beside the store (PostgreSQL: the server's WAL is its business). */
    void (*purge_log)(struct tk_db *db);
    /* tk_db_log_*; NULL: the driver keeps no log file of its own. */
    void (*log_defer_checkpoints)(struct tk_db *db, int defer);
    int (*log_pages)(struct tk_db *db);
    void (*log_checkpoint)(struct tk_db *db);
};

/* The common head of every driver's struct tk_db. */
/* The text of a savepoint's three statements (SAVEPOINT, ROLLBACK TO
 * SAVEPOINT, RELEASE SAVEPOINT), made once per name and kept at one
 * address: the SQLite driver's statement cache finds text it saw at the
 * same address with one strcmp, where text rebuilt into one buffer for
 * each verb was hashed every time (issue 17: 1.8k instructions a
 * reminder).  A tick uses two names (tick.c, reminder_events.c). */
#define TK_DB_SAVEPOINT_NAMES 4
#define TK_DB_SAVEPOINT_NAME_MAX 63
struct tk_db_savepoint_text {
    char name[TK_DB_SAVEPOINT_NAME_MAX + 1]; /* "" for an unused entry */
    char sql[3][TK_DB_SAVEPOINT_NAME_MAX + 24];
};

struct tk_db_base {
    const struct tk_db_driver *drv;
    int in_tx;
    int read_only; /* the open transaction is TK_TX_SNAPSHOT */
    struct tk_db_savepoint_text savepoints[TK_DB_SAVEPOINT_NAMES];
    unsigned savepoints_next; /* the entry a new name replaces */
    uint64_t serial;          /* tk_db_tx_serial */
};

/* The common head of every driver's struct tk_cursor, so that the generic
 * tk_cursor_* functions can find the driver. */
struct tk_cursor_base {
    const struct tk_db_driver *drv;
};

/* Open the store described by the configuration ([store] driver/path/dsn).
 * On success the caller closes *db with tk_db_close.  A SQLite file that
 * does not exist yet is created with mode 0600, whatever the umask; SQLite
 * gives its -wal and -shm files the mode of the database file. */
struct tk_config;
int tk_db_open(const struct tk_config *cfg, struct tk_db **db, struct tk_error *err);
/* Open the store SPEC names: "sqlite:PATH" or "postgres:DSN" ("postgres:"
 * alone takes the DSN from $TICKLER_DSN, which keeps a password out of the
 * process list).  MUST_EXIST refuses a SQLite file that is not there
 * (TK_ENOTFOUND) instead of creating it.  A malformed SPEC is TK_EUSAGE.
 * SPEC is borrowed for the call; the caller closes *db with tk_db_close. */
int tk_db_open_spec(const char *spec, int must_exist, struct tk_db **db, struct tk_error *err);
void tk_db_close(struct tk_db *db);
/* tk_db_close for a process that exits right after it (the CLI's main):
 * an open transaction is rolled back and every commit made as durable as
 * tk_db_close makes it, but a driver may leave what the kernel does at exit
 * (unmap, close the files, drop their locks) to the kernel.  Nothing of DB
 * may be used afterwards, and the process must exit. */
void tk_db_close_at_exit(struct tk_db *db);
/* Leave no copy of overwritten rows in a log file beside the store: on
 * SQLite, after the open transaction commits (at once outside one), the
 * whole tickler.db-wal is checkpointed into the store and cut to zero
 * bytes, waiting for other connections' readers as the busy handler does.
 * Best effort: if they hold on longer, the log is flushed and cut by a
 * later checkpoint.  An erasure asks for it (docs/data.md). */
void tk_db_purge_log(struct tk_db *db);
/* The log's checkpoints on another connection (SQLite; nothing elsewhere):
 * after tk_db_log_defer_checkpoints(DB, 1), DB's commits no longer copy the log
 * into the store when it reaches SQLite's 1000 pages (a checkpoint
 * flushes two files, milliseconds during which DB's thread would wait);
 * the caller watches tk_db_log_pages (the log's length in pages after
 * DB's last commit, 0 before one) and has another connection run
 * tk_db_log_checkpoint: a PASSIVE checkpoint, which waits for no one and
 * which DB's writes need not wait for. */
int tk_db_log_defer_checkpoints(struct tk_db *db, int defer); /* 0: no log here */
int tk_db_log_pages(struct tk_db *db);
void tk_db_log_checkpoint(struct tk_db *db);
/* The checkpointer: a thread with a connection of its own that runs
 * tk_db_log_checkpoint for a WRITER connection whose checkpoints are
 * deferred, so that the writer's thread (which others wait for) never
 * waits for a checkpoint's flushes.  The policy: */
struct tk_ckpt_policy {
    int pages;               /* ask once the log is this long (SQLite's own: 1000) */
    int again;               /* ...and has grown this much since the last ask (0: at every ask) */
    int max_pages;           /* 0, or the length from which the writer copies the rest
                              * itself instead of asking (settle.c says why) */
    int eager;               /* start the thread in tk_ckpt_start, not at the first ask */
    const char *thread_name; /* static storage; NULL keeps the creator's name */
    /* Called once, on the checkpointer's thread, when it cannot open its
     * connection (ARG: tk_ckpt_start's; MSG: why, borrowed for the call);
     * the writer then checkpoints itself again, from its next ask on. */
    void (*failed)(void *arg, const char *msg);
};
struct tk_ckpt;
/* Defer WRITER's checkpoints to a checkpointer following POLICY (copied;
 * ARG goes to its failed callback, borrowed until tk_ckpt_stop).
 * CFG (the store to open) and WRITER are borrowed until tk_ckpt_stop.
 * *OUT is NULL when the store keeps no log (PostgreSQL) or on failure
 * (TK_ENOMEM), when WRITER checkpoints itself as before; a thread that
 * cannot start makes the writer checkpoint itself from its next ask. */
int tk_ckpt_start(struct tk_ckpt **out, const struct tk_config *cfg, struct tk_db *writer,
                  const struct tk_ckpt_policy *policy, void *arg, struct tk_error *err);
/* On WRITER's thread after each commit: asks for a checkpoint when the
 * policy says so (starting the thread at the first), or checkpoints WRITER
 * itself (past max_pages, or with no checkpointer).  C may be NULL. */
void tk_ckpt_ask(struct tk_ckpt *c);
/* Stops and joins the thread, WRITER checkpoints itself again, frees C
 * (may be NULL).  Call it on any thread once WRITER's thread no longer
 * commits nor asks, its last ask ordered before the call (a join, a lock,
 * a release store seen with acquire): C is freed. */
void tk_ckpt_stop(struct tk_ckpt *c);
/* "sqlite" or "postgres", for messages; static storage. */
const char *tk_db_driver_name(const struct tk_db *db);
/* The driver's dialect (see struct tk_db_dialect); static storage. */
const struct tk_db_dialect *tk_db_dialect(const struct tk_db *db);

int tk_db_begin(struct tk_db *db, int mode, struct tk_error *err);
int tk_db_commit(struct tk_db *db, struct tk_error *err);
void tk_db_rollback(struct tk_db *db);
/* A hint for the open transaction: the next tk_db_exec is its last
 * statement, and the caller calls tk_db_commit right after it, whatever
 * that statement answered, with nothing in between that could roll back.
 * A driver may then send COMMIT in the same round trip as the statement
 * (PostgreSQL: one pipeline BEGIN, statement, COMMIT - a dispatcher's
 * settle costs one round trip, not two); tk_db_commit then reports that
 * COMMIT's outcome.  If the statement fails, nothing is committed and the
 * caller rolls back as usual.  The transaction boundaries are the same as
 * without the hint: only fewer waits.  Ignored outside a transaction and
 * by drivers that gain nothing from it. */
void tk_db_last_statement(struct tk_db *db);

/* Whether the open transaction is a read-only snapshot (TK_TX_SNAPSHOT):
 * row locks (the dialect's lock_rows) have no place there, and PostgreSQL
 * refuses SELECT ... FOR UPDATE in a READ ONLY transaction. */
int tk_db_read_only(const struct tk_db *db);
/* A number for what the open transaction reads, unique in the process:
 * it changes at every begin, commit, rollback and rollback to a savepoint,
 * and at tk_db_tx_touch.  So something read at one non-zero serial stands
 * while the serial is the same, except for what this connection itself
 * writes: a store function that writes what someone keeps (the webhooks
 * table, engine/webhooks.c) calls tk_db_tx_touch.  0 outside a
 * transaction and where the dialect's snapshot is 0 (keep nothing). */
uint64_t tk_db_tx_serial(const struct tk_db *db);
void tk_db_tx_touch(struct tk_db *db);
/* A savepoint named NAME (an SQL identifier, a constant) inside the open
 * transaction: tk_db_rollback_to undoes what was written since and keeps
 * the transaction usable (on PostgreSQL also after a failed statement);
 * tk_db_release forgets the savepoint and keeps the writes.  The scheduler
 * puts each item's reminder in one, so that one bad item does not undo
 * the batch (tick.c). */
int tk_db_savepoint(struct tk_db *db, const char *name, struct tk_error *err);
int tk_db_rollback_to(struct tk_db *db, const char *name, struct tk_error *err);
int tk_db_release(struct tk_db *db, const char *name, struct tk_error *err);

/* Run SQL; see the binding letters above. */
int tk_db_exec(struct tk_db *db, struct tk_error *err, const char *sql, const char *types, ...);
/* Run SQL and iterate its rows; caller closes *cur with tk_cursor_close. */
int tk_db_query(struct tk_db *db, struct tk_cursor **cur, struct tk_error *err, const char *sql,
                const char *types, ...);
/* The same with the N values of VALS bound to the `?` of SQL in order (N
 * must equal their number, else TK_EINVAL).  VALS and its strings are
 * borrowed for the call; the driver copies what it keeps. */
int tk_db_exec_v(struct tk_db *db, struct tk_error *err, const char *sql,
                 const struct tk_db_value *vals, size_t n);
int tk_db_query_v(struct tk_db *db, struct tk_cursor **cur, struct tk_error *err, const char *sql,
                  const struct tk_db_value *vals, size_t n);
/* Run SQL returning one integer (first column of first row) into *out;
 * TK_ENOTFOUND when there is no row. */
int tk_db_int(struct tk_db *db, int64_t *out, struct tk_error *err, const char *sql,
              const char *types, ...);
int tk_db_changes(struct tk_db *db, int64_t *out);
/* Run the INSERT in SQL (no RETURNING clause) and put the new row's id in
 * *ID: SQLite's rowid, or on PostgreSQL the same SQL with " RETURNING id".
 * SQLite buffers the rows of a RETURNING clause in a temporary table: for
 * a one-row insert that was a third of its cost.  An insert that made no
 * row (ON CONFLICT ... DO NOTHING) gives TK_ENOTFOUND, as tk_db_int does. */
int tk_db_insert(struct tk_db *db, int64_t *id, struct tk_error *err, const char *sql,
                 const char *types, ...);
/* Run several ';'-separated statements without bound values (schema
 * scripts).  Rows they return are discarded. */
int tk_db_exec_script(struct tk_db *db, const char *sql, struct tk_error *err);

int tk_cursor_next(struct tk_cursor *cur, struct tk_error *err);
int64_t tk_cursor_int(struct tk_cursor *cur, int col);
const char *tk_cursor_text(struct tk_cursor *cur, int col); /* borrowed until next() */
void tk_cursor_close(struct tk_cursor *cur);

/* The driver capabilities the table copy needs (struct tk_db_driver). */
int tk_db_lock_tables(struct tk_db *db, const char *tables, struct tk_error *err);
int tk_db_id_high_water(struct tk_db *db, const char *table, int64_t *out, struct tk_error *err);
int tk_db_set_id_high_water(struct tk_db *db, const char *table, int64_t v, struct tk_error *err);
/* The driver's backup and restore (see struct tk_db_driver); TK_EINVAL
 * naming the driver when it has none.  Outside a transaction.  PATH is
 * borrowed for the call.  Backup writes PATH whole or not at all (a
 * temporary file beside it, 0600, renamed when complete); restore checks
 * PATH first: a tickler store (schema_version) no newer than this build,
 * passing quick_check; it does not migrate. */
int tk_db_backup(struct tk_db *db, const char *path, struct tk_error *err);
int tk_db_restore(struct tk_db *db, const char *path, int *version, struct tk_error *err);

/* ---- schema (schema.c) ------------------------------------------------- */

/* Bring the schema to the newest version (idempotent).  Migrations are
 * numbered and recorded in table schema_version; all that are missing run
 * in one transaction, serialized across processes (TK_TX_IMMEDIATE, and
 * the dialect's schema_lock), so a failed upgrade leaves the store as it
 * was and processes starting at once migrate it once. */
int tk_db_migrate(struct tk_db *db, struct tk_error *err);
/* The same, but only up to schema version TARGET (tests of an upgrade). */
int tk_db_migrate_to(struct tk_db *db, int target, struct tk_error *err);
/* The newest schema version this binary knows. */
int tk_db_schema_version(void);
/* The version recorded in DB's schema_version; 0 for a new store (no such
 * table) or when it cannot be read.  Call it outside a transaction (a
 * failed statement aborts a PostgreSQL transaction). */
int tk_db_store_version(struct tk_db *db);

/* ---- copying a whole store (copy.c) ------------------------------------ */

/* A table of the newest schema as the copy sees it: every column, the key
 * its rows are read in (and paged by), and whether `id` is generated.  The
 * list (tk_db_copy_tables) is in an order that satisfies the foreign keys.
 * A migration that adds a table or a column adds it there as well; the
 * driver contract suite fails until it does. */
struct tk_db_table {
    const char *name;
    const char *cols;      /* "id, name, ...": every column */
    const char *key;       /* "id" or "item_id, name": unique, orders the rows */
    const char *key_types; /* one binding letter per key column: "i", "is" */
    int serial;            /* `id` is generated (sequence / AUTOINCREMENT) */
};
#define TK_DB_COPY_MAX_TABLES 32

/* The tables, in copy order; *N gets their number.  Static storage. */
const struct tk_db_table *tk_db_copy_tables(size_t *n);

/* What one copy did, table by table in tk_db_copy_tables() order. */
struct tk_db_copy_stats {
    const char *from, *to; /* driver names, static storage */
    int from_version;      /* the source's schema version before the copy */
    int to_version;        /* the schema version of both afterwards */
    size_t ntables;
    int64_t rows[TK_DB_COPY_MAX_TABLES];
    int64_t total;
};

/* Copy every row of every table of FROM into TO, ids included, and move
 * TO's id generators past FROM's (no id is ever handed out twice).
 *
 * FROM is upgraded to the newest schema first, in place, as any tickler
 * command would upgrade it; TO is brought to the newest schema and must
 * hold no row (TK_ECONFLICT "not empty" otherwise).  FROM is read in one
 * TK_TX_SNAPSHOT transaction, a page of rows at a time; TO is written in
 * one TK_TX_IMMEDIATE transaction with its tables locked: a failure leaves
 * TO as empty as it was.  STATS may be NULL.  Both handles are borrowed
 * and must be outside a transaction. */
int tk_db_copy(struct tk_db *from, struct tk_db *to, struct tk_db_copy_stats *stats,
               struct tk_error *err);
/* The same between the stores two specs name (tk_db_open_spec): FROM_SPEC
 * must exist; TO_SPEC is created if it is a SQLite file that is not there.
 * Both are opened and closed here. */
int tk_db_copy_stores(const char *from_spec, const char *to_spec, struct tk_db_copy_stats *stats,
                      struct tk_error *err);

/* Test hook (fault injection): when > 0 it is decremented by every
 * tk_db_exec, tk_db_query, tk_db_int and tk_cursor_next, and the call that
 * brings it to 0 fails with TK_EIO "store: injected fault" (tk_cursor_next
 * returns -1) without reaching the driver; 0 (the default) is off and costs
 * one branch.  Begin, commit and rollback are never failed, so a test can
 * always undo.  Not thread-safe: single-threaded tests only. */
extern int tk_db_fault_countdown;

/* Set by a daemon to its stop flag: while *tk_db_interrupt is non-zero a
 * driver waits no longer (reconnect backoff) and fails at once, so SIGTERM
 * is served even with the database gone.  NULL: never interrupted. */
extern volatile int *tk_db_interrupt;

extern const struct tk_db_driver tk_db_sqlite;

#endif
