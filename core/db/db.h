/*
 * db.h - the SQL driver interface under the store.
 *
 * The store (core/store) speaks one portable SQL dialect - `?` placeholders,
 * INTEGER/TEXT columns, INSERT ... RETURNING - through this narrow interface;
 * a driver (sqlite.c, later postgres.c) maps it onto its client library.
 * Nothing above core/store sees SQL or knows which driver runs.
 *
 * Transactions: every command runs in exactly one transaction
 * (tk_db_begin ... tk_db_commit, tk_db_rollback on any failure), so a refused
 * or failing command changes nothing.  TK_TX_IMMEDIATE takes the write lock
 * at once (SQLite BEGIN IMMEDIATE), for anything that claims work.
 */
#ifndef TK_DB_H
#define TK_DB_H

#include "util/util.h"

struct tk_db;
struct tk_cursor;

enum tk_tx_mode { TK_TX_DEFERRED = 0, TK_TX_IMMEDIATE = 1 };

/* Bind values: a `types` string gives one letter per `?`:
 *   'i' int64_t, 's' const char * (NULL binds SQL NULL), 'n' SQL NULL
 *   (consumes no argument), 'z' int64_t where 0 binds SQL NULL (for the
 *   "0 means none" ids and times of the store records). */

struct tk_db_driver {
    const char *name;
    int (*open)(const char *target, struct tk_db **db, struct tk_error *err);
    void (*close)(struct tk_db *db);
    int (*begin)(struct tk_db *db, int mode, struct tk_error *err);
    int (*commit)(struct tk_db *db, struct tk_error *err);
    int (*rollback)(struct tk_db *db);
    /* Run SQL with bound values; *cur (when CUR is not NULL) iterates rows.
     * A statement with no result may pass CUR NULL. */
    int (*query)(struct tk_db *db, struct tk_cursor **cur, struct tk_error *err, const char *sql,
                 const char *types, va_list ap);
    int (*exec_script)(struct tk_db *db, const char *sql, struct tk_error *err);
    int (*next)(struct tk_cursor *cur, struct tk_error *err); /* 1 row, 0 end, <0 error */
    int64_t (*col_int)(struct tk_cursor *cur, int col);
    const char *(*col_text)(struct tk_cursor *cur, int col); /* NULL for SQL NULL */
    void (*cursor_close)(struct tk_cursor *cur);
    int64_t (*changes)(struct tk_db *db);
    /* The id of the row the last INSERT made (SQLite's rowid); NULL: the
     * driver has none, and tk_db_insert asks with RETURNING id. */
    int64_t (*last_id)(struct tk_db *db);
};

/* The common head of every driver's struct tk_db. */
struct tk_db_base {
    const struct tk_db_driver *drv;
    int in_tx;
};

/* The common head of every driver's struct tk_cursor, so that the generic
 * tk_cursor_* functions can find the driver. */
struct tk_cursor_base {
    const struct tk_db_driver *drv;
};

/* Open the store described by the configuration ([store] driver/path/dsn). */
struct tk_config;
int tk_db_open(const struct tk_config *cfg, struct tk_db **db, struct tk_error *err);
void tk_db_close(struct tk_db *db);
const char *tk_db_driver_name(const struct tk_db *db);

int tk_db_begin(struct tk_db *db, int mode, struct tk_error *err);
int tk_db_commit(struct tk_db *db, struct tk_error *err);
void tk_db_rollback(struct tk_db *db);

/* Run SQL; see the binding letters above. */
int tk_db_exec(struct tk_db *db, struct tk_error *err, const char *sql, const char *types, ...);
/* Run SQL and iterate its rows; caller closes *cur with tk_cursor_close. */
int tk_db_query(struct tk_db *db, struct tk_cursor **cur, struct tk_error *err, const char *sql,
                const char *types, ...);
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

/* Bring the schema to the newest version (idempotent).  Migrations are
 * numbered and recorded in table schema_version; each runs in its own
 * transaction. */
int tk_db_migrate(struct tk_db *db, struct tk_error *err);
/* The same, but only up to schema version TARGET (tests of an upgrade). */
int tk_db_migrate_to(struct tk_db *db, int target, struct tk_error *err);
/* The newest schema version this binary knows. */
int tk_db_schema_version(void);

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
