/*
 * postgres.c - the PostgreSQL driver (libpq).
 *
 * The store speaks SQLite's dialect with `?` placeholders; they are
 * rewritten to $1..$n outside string literals, quoted names and comments.
 * Values go over as text with no declared type, so the server infers each
 * one from its context exactly as it would for a literal ('12' compared with
 * a BIGINT column is a BIGINT).
 *
 * Results are fetched whole, never row by row: the store opens a cursor and
 * runs other statements on the same connection while it iterates (items and
 * their fields), which libpq's single-row mode forbids.  Result sets are
 * bounded by the store's own LIMITs.
 *
 * Round trips.  Each statement is prepared once per session (a cache of
 * PREP_SLOTS named statements, found by text as sqlite.c's cache is), so the
 * server parses and plans it once, not at every execution.  BEGIN is not
 * sent on its own: it goes out in one pipeline (libpq's pipeline mode)
 * with the transaction's first statement, and with its Parse when that
 * statement is new.  When the caller says the next statement is the
 * transaction's last (tk_db_last_statement), COMMIT goes in the same
 * pipeline: a dispatcher's settle, BEGIN + UPDATE + COMMIT, costs one round
 * trip instead of three, and a transaction that ran nothing costs none.
 * A failed statement makes the server skip the rest of the pipeline (the
 * COMMIT too) and leaves the transaction aborted for the caller's
 * ROLLBACK, exactly as when each went on its own.
 *
 * TK_TX_RESULT transactions (a dispatcher's delivery results, nothing else)
 * commit with synchronous_commit off: the server answers COMMIT without
 * waiting for its WAL to reach the disk.  A crash of the server (not of
 * tickler) may then undo the last fraction of a second of results; those
 * messages are sent again with their Message-IDs, never lost, exactly as
 * after a crash of a dispatcher between the relay's 250 and its record
 * (docs/delivery.md).  SQLite's synchronous=NORMAL makes the same trade for
 * every commit; here claims, reminders and every command still wait for the
 * disk.  With synchronous_commit on, each message waited for one WAL flush
 * (about 0.3 ms on a VM disk), which capped one dispatcher at a third of
 * SQLite's rate.
 *
 * Transactions: TK_TX_DEFERRED and TK_TX_IMMEDIATE are a plain READ
 * COMMITTED BEGIN, TK_TX_SNAPSHOT is REPEATABLE READ READ ONLY.  SQLite's
 * BEGIN IMMEDIATE serializes writers; here the store takes row locks where
 * it claims work (FOR UPDATE SKIP LOCKED) and the UNIQUE keys make enqueueing
 * idempotent, so several dispatchers work side by side.  lock_timeout bounds
 * a wait for a row lock as SQLite's busy handler bounds its wait.  An error
 * inside a transaction aborts it on PostgreSQL (not so on SQLite); every
 * caller rolls back on error, and a COMMIT of an aborted transaction is
 * reported as a failure rather than the silent ROLLBACK the server does.
 *
 * Connection loss: nothing is retried inside a transaction (the caller's
 * work is gone and must be redone by the caller).  Outside one a broken
 * connection is re-established with PQreset: at BEGIN with a bounded
 * exponential backoff (a server restart then costs a pause, not a failed
 * tick), before an autocommit statement once.  A signal ends the backoff
 * early so that a daemon asked to stop does not sit in it.  Either way the
 * daemon carries on by itself at its next tick.
 */
#include "db/db.h"

#include <dlfcn.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* libpq is opened when the first PostgreSQL store is, not linked: it
 * brings 22 more shared libraries (Kerberos, LDAP, GnuTLS, OpenSSL ...)
 * whose loading and relocation were two thirds of every command's start
 * on a SQLite store (12.5M of the 18.2M instructions of `tickler show 1`,
 * callgrind).  Each function is called through a pointer of its own
 * declared type, so the compiler still checks every call. */
#define PQ_LIBRARY "libpq.so.5"
#define PQ_FUNCS(X)                                                                                \
    X(PQclear)                                                                                     \
    X(PQcmdStatus)                                                                                 \
    X(PQcmdTuples)                                                                                 \
    X(PQconnectdbParams)                                                                           \
    X(PQconsumeInput)                                                                              \
    X(PQenterPipelineMode)                                                                         \
    X(PQerrorMessage)                                                                              \
    X(PQexec)                                                                                      \
    X(PQexitPipelineMode)                                                                          \
    X(PQfinish)                                                                                    \
    X(PQgetResult)                                                                                 \
    X(PQgetisnull)                                                                                 \
    X(PQgetvalue)                                                                                  \
    X(PQnfields)                                                                                   \
    X(PQntuples)                                                                                   \
    X(PQpipelineSync)                                                                              \
    X(PQreset)                                                                                     \
    X(PQresultErrorField)                                                                          \
    X(PQresultErrorMessage)                                                                        \
    X(PQresultStatus)                                                                              \
    X(PQsendPrepare)                                                                               \
    X(PQsendQueryParams)                                                                           \
    X(PQsendQueryPrepared)                                                                         \
    X(PQsetNoticeReceiver)                                                                         \
    X(PQsocket)                                                                                    \
    X(PQstatus)

static struct {
#define PQ_POINTER(f) __typeof__(f) *f;
    PQ_FUNCS(PQ_POINTER)
#undef PQ_POINTER
} pq;
static char pq_failed[TK_ERROR_MAX]; /* why libpq could not be loaded */

static void pq_load(void)
{
    void *h = dlopen(PQ_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(pq_failed, sizeof pq_failed, "cannot load %s: %s", PQ_LIBRARY, dlerror());
        return;
    }
#define PQ_RESOLVE(f)                                                                              \
    if (!pq_failed[0] && !(*(void **)&pq.f = dlsym(h, #f)))                                        \
        snprintf(pq_failed, sizeof pq_failed, "%s has no %s", PQ_LIBRARY, #f);
    PQ_FUNCS(PQ_RESOLVE)
#undef PQ_RESOLVE
    /* kept open for the life of the process, as a linked library is */
}

/* From here on every PQ call goes through the table. */
#define PQclear (*pq.PQclear)
#define PQcmdStatus (*pq.PQcmdStatus)
#define PQcmdTuples (*pq.PQcmdTuples)
#define PQconnectdbParams (*pq.PQconnectdbParams)
#define PQconsumeInput (*pq.PQconsumeInput)
#define PQenterPipelineMode (*pq.PQenterPipelineMode)
#define PQerrorMessage (*pq.PQerrorMessage)
#define PQexec (*pq.PQexec)
#define PQexitPipelineMode (*pq.PQexitPipelineMode)
#define PQfinish (*pq.PQfinish)
#define PQgetResult (*pq.PQgetResult)
#define PQgetisnull (*pq.PQgetisnull)
#define PQgetvalue (*pq.PQgetvalue)
#define PQnfields (*pq.PQnfields)
#define PQntuples (*pq.PQntuples)
#define PQpipelineSync (*pq.PQpipelineSync)
#define PQreset (*pq.PQreset)
#define PQresultErrorField (*pq.PQresultErrorField)
#define PQresultErrorMessage (*pq.PQresultErrorMessage)
#define PQresultStatus (*pq.PQresultStatus)
#define PQsendPrepare (*pq.PQsendPrepare)
#define PQsendQueryParams (*pq.PQsendQueryParams)
#define PQsendQueryPrepared (*pq.PQsendQueryPrepared)
#define PQsetNoticeReceiver (*pq.PQsetNoticeReceiver)
#define PQsocket (*pq.PQsocket)
#define PQstatus (*pq.PQstatus)

/* Reconnect: sleep 100, 200, 400 ... 2000 ms between tries, for at most
 * RECONNECT_TOTAL_MS in one call; the daemon's next tick tries again. */
#define RECONNECT_FIRST_MS 100
#define RECONNECT_MAX_MS 2000
#define RECONNECT_TOTAL_MS 10000
#define STACK_PARAMS 64 /* more values than this are bound from the heap */
#define NUM_LEN 24
#define PREP_SLOTS 128 /* statements prepared per session, least recently used out */

extern const struct tk_db_driver tk_db_postgres;

/* A statement prepared in this session as "tk<id>". */
struct prep {
    char *sql;       /* the caller's text (owned copy); NULL: a free slot */
    char *text;      /* with $n placeholders (owned) */
    const char *ptr; /* the address it was last found by (compared, never read) */
    int nparams;
    unsigned id;
    uint64_t used; /* LRU clock */
};

struct tk_db {
    struct tk_db_base base;
    PGconn *conn;
    int64_t changes;
    struct prep prep[PREP_SLOTS];
    uint64_t clock;
    unsigned next_id;
    const char *begin_sql; /* a BEGIN not sent yet (see "Round trips"), else NULL */
    int result_tx;         /* ...of a TK_TX_RESULT transaction */
    int commit_next;       /* tk_db_last_statement: COMMIT goes with the next statement */
    int committed;         /* ...and went: its outcome is COMMIT_RC / COMMIT_ERR */
    int commit_rc;
    struct tk_error commit_err;
    int goodbye; /* the server said it ends this session (a FATAL while idle) */
};

struct tk_cursor {
    struct tk_cursor_base base;
    PGresult *res;
    int row, nrows;
};

/* Non-zero when a signal cut the sleep short: the daemon is asked to stop
 * (or reload), and should not sit in a reconnect loop meanwhile. */
static int sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    return nanosleep(&ts, NULL) != 0;
}

static int conn_broken(const struct tk_db *db)
{
    return !db->conn || db->goodbye || PQstatus(db->conn) != CONNECTION_OK;
}

/* One line from libpq's (often multi-line) message. */
static void first_line(const char *msg, char *out, size_t n)
{
    tk_strlcpy(out, msg && *msg ? msg : "unknown error", n);
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = '\0';
}

/* Map a failed result (RES may be NULL) to a tickler error code, the way
 * sqlite.c maps SQLITE_BUSY and SQLITE_CONSTRAINT. */
static int fail(struct tk_db *db, const PGresult *res, struct tk_error *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    char line[TK_ERROR_MAX];
    int code = TK_EIO;

    if (!msg || !*msg)
        msg = db->conn ? PQerrorMessage(db->conn) : "no connection";
    first_line(msg, line, sizeof line);
    if (conn_broken(db) ||
        (state && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
                   strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0))) {
        return tk_error_set(err, TK_EIO, "store postgres: connection lost: %s", line);
    }
    if (state) {
        if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
            strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0)
            code = TK_ETEMP;
        else if (strncmp(state, "23", 2) == 0)
            code = TK_ECONFLICT;
        else if (strcmp(state, "53200") == 0)
            code = TK_ENOMEM;
    }
    return tk_error_set(err, code, "store postgres: %s", line);
}

/* Notices are dropped ("relation already exists, skipping" and the
 * like), but for the FATAL a server sends before it closes an idle
 * session (pg_terminate_backend, a shutdown): libpq hands an error that
 * arrives outside a query to the notice receiver, and the end of the
 * stream may come only a moment later.  It marks the connection broken at
 * once, so that the next BEGIN reconnects instead of failing the
 * transaction's first statement. */
static void quiet_notice(void *u, const PGresult *res)
{
    struct tk_db *db = u;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
        db->goodbye = 1;
}

static void forget_prepared(struct tk_db *db)
{
    for (int i = 0; i < PREP_SLOTS; i++) {
        free(db->prep[i].sql);
        free(db->prep[i].text);
        memset(&db->prep[i], 0, sizeof db->prep[i]);
    }
}

/* A result transaction's synchronous_commit off, as SET LOCAL: in a
 * transaction block, and in the implicit transaction of a pipeline (no
 * BEGIN), where SET LOCAL would warn that it is outside a transaction
 * block although it holds until the Sync that commits.  Prepared once per
 * session (setup_session): sent with every result, as an unnamed
 * statement it was parsed, analysed and planned each time, about 50k of
 * the backend's 480k instructions per message (callgrind, bench/RESULTS.md
 * update 54).  The name is outside the cache's "tk<id>" names. */
#define SYNC_OFF_NAME "tk_sync_off"
#define SYNC_OFF_QUERY "SELECT set_config('synchronous_commit', 'off', true)"

/* Session settings, again after every reconnect (a new session has no
 * prepared statements either). */
static int setup_session(struct tk_db *db, struct tk_error *err)
{
    forget_prepared(db);
    db->goodbye = 0;
    PQsetNoticeReceiver(db->conn, quiet_notice, db);
    /* (the outbox's fillfactor, set here until schema v14, is a
     * migration now: core/db/schema.c) */
    PGresult *res = PQexec(db->conn, "SET lock_timeout = '10s'; SET TIME ZONE 'UTC'; "
                                     "PREPARE " SYNC_OFF_NAME " AS " SYNC_OFF_QUERY);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : fail(db, res, err);
    PQclear(res);
    return rc;
}

/* Bring a broken connection back; 0 when it is usable.  PATIENT (at
 * BEGIN) retries with backoff, so that a server restart costs a pause, not
 * a failed tick; a statement outside a transaction tries once. */
static int ensure_conn(struct tk_db *db, int patient, struct tk_error *err)
{
    if (!conn_broken(db))
        return 0;
    int waited = 0, ms = RECONNECT_FIRST_MS;
    for (;;) {
        PQreset(db->conn);
        if (PQstatus(db->conn) == CONNECTION_OK && setup_session(db, err) == 0)
            return 0;
        if (!patient || waited >= RECONNECT_TOTAL_MS ||
            (tk_db_interrupt && __atomic_load_n(tk_db_interrupt, __ATOMIC_RELAXED)) || sleep_ms(ms))
            break;
        waited += ms;
        ms = ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : ms * 2;
    }
    char line[TK_ERROR_MAX];
    first_line(PQerrorMessage(db->conn), line, sizeof line);
    return tk_error_set(err, TK_EIO, "store postgres: connection lost, cannot reconnect: %s", line);
}

static void drv_close(struct tk_db *db)
{
    if (!db)
        return;
    PQfinish(db->conn);
    forget_prepared(db);
    free(db);
}

static int drv_open(const char *target, struct tk_db **out, struct tk_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    *out = NULL;
    pthread_once(&once, pq_load);
    if (pq_failed[0])
        return tk_error_set(err, TK_EIO, "store postgres: %s", pq_failed);
    struct tk_db *db = calloc(1, sizeof *db);
    if (!db)
        return tk_error_set(err, TK_ENOMEM, "store postgres: out of memory");
    db->base.drv = &tk_db_postgres;
    /* Our defaults come first: whatever the DSN says overrides them. */
    static const char *const keys[] = {"connect_timeout", "application_name", "keepalives",
                                       "keepalives_idle", "dbname",           NULL};
    const char *vals[] = {"10", "tickler", "1", "60", target, NULL};
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (!db->conn) {
        free(db);
        return tk_error_set(err, TK_ENOMEM, "store postgres: out of memory");
    }
    if (PQstatus(db->conn) != CONNECTION_OK) {
        char line[TK_ERROR_MAX];
        first_line(PQerrorMessage(db->conn), line, sizeof line);
        drv_close(db);
        return tk_error_set(err, TK_EIO, "store postgres: cannot connect: %s", line);
    }
    int rc = setup_session(db, err);
    if (rc != 0) {
        drv_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

static int command(struct tk_db *db, const char *sql, struct tk_error *err)
{
    PGresult *res = PQexec(db->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : fail(db, res, err);
    PQclear(res);
    return rc;
}

#define SYNC_OFF "SET LOCAL synchronous_commit TO OFF"

/* Send the BEGIN that drv_begin left for later, on its own (a script, or a
 * statement that cannot share a pipeline).  A server restart shows only
 * when the old connection is used: BEGIN did nothing, so it is safe to
 * reconnect and try once more. */
static int flush_begin(struct tk_db *db, struct tk_error *err)
{
    const char *sql = db->begin_sql;
    if (!sql)
        return 0;
    db->begin_sql = NULL;
    int rc = command(db, sql, err);
    if (rc != 0 && conn_broken(db) && (rc = ensure_conn(db, 1, err)) == 0)
        rc = command(db, sql, err);
    if (rc == 0 && db->result_tx)
        rc = command(db, SYNC_OFF, err);
    return rc;
}

static int drv_exec_script(struct tk_db *db, const char *sql, struct tk_error *err)
{
    int rc = 0;
    if (!db->base.in_tx)
        rc = ensure_conn(db, 0, err);
    else
        rc = flush_begin(db, err);
    return rc != 0 ? rc : command(db, sql, err);
}

/* Whether the server has closed our session while it was idle (a
 * restart, pg_terminate_backend): it said so on the socket, which libpq
 * reads only when asked.  One poll() instead of the round trip a BEGIN on
 * its own used to find out with. */
static void notice_hangup(struct tk_db *db)
{
    if (conn_broken(db))
        return;
    /* the goodbye message first, then the end of the stream, which is
     * what marks the connection bad */
    for (int i = 0; i < 4 && !conn_broken(db); i++) {
        struct pollfd p = {.fd = PQsocket(db->conn), .events = POLLIN};
        if (p.fd < 0 || poll(&p, 1, 0) <= 0 || !PQconsumeInput(db->conn))
            break;
    }
}

/* Nothing goes to the server yet: the BEGIN leaves with the first
 * statement (see "Round trips" at the top).  A broken connection is
 * mended here, where nothing of the transaction has happened; once this
 * returned, a lost connection fails the transaction (TK_EIO). */
static int drv_begin(struct tk_db *db, int mode, struct tk_error *err)
{
    notice_hangup(db);
    int rc = ensure_conn(db, 1, err);
    if (rc != 0)
        return rc;
    db->begin_sql =
        mode == TK_TX_SNAPSHOT ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN";
    db->result_tx = mode == TK_TX_RESULT;
    db->commit_next = db->committed = 0;
    return 0;
}

static void drv_last_statement(struct tk_db *db)
{
    db->commit_next = 1;
}

static int drv_commit(struct tk_db *db, struct tk_error *err)
{
    db->commit_next = 0;
    if (db->committed) { /* COMMIT went with the last statement */
        db->committed = 0;
        if (db->commit_rc != 0 && err)
            *err = db->commit_err;
        return db->commit_rc;
    }
    if (db->begin_sql) { /* nothing ran: nothing to commit */
        db->begin_sql = NULL;
        return 0;
    }
    PGresult *res = PQexec(db->conn, "COMMIT");
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = fail(db, res, err);
    else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0)
        rc = tk_error_set(err, TK_ETEMP,
                          "store postgres: transaction was rolled back after an earlier error");
    PQclear(res);
    return rc;
}

static int drv_rollback(struct tk_db *db)
{
    db->commit_next = 0;
    if (db->committed) { /* the transaction ended with its COMMIT */
        db->committed = 0;
        return 0;
    }
    if (db->begin_sql) {
        db->begin_sql = NULL;
        return 0;
    }
    if (conn_broken(db))
        return 0; /* the server dropped the transaction with the connection */
    PGresult *res = PQexec(db->conn, "ROLLBACK");
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : TK_EIO;
    PQclear(res);
    return rc;
}

/* `?` -> `$n`, skipping '...' literals, "..." names and -- comments.
 * Returns the number of placeholders, -1 when out of memory. */
static int rewrite(const char *sql, struct tk_buf *out)
{
    int n = 0, ok = 1;
    for (const char *p = sql; *p && ok; p++) {
        if (*p == '\'' || *p == '"') {
            const char *end = strchr(p + 1, *p); /* a doubled quote re-enters here */
            size_t len = end ? (size_t)(end - p) + 1 : strlen(p);
            ok = tk_buf_append(out, p, len) == 0;
            p += len - 1;
        } else if (p[0] == '-' && p[1] == '-') {
            const char *end = strchr(p, '\n');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            ok = tk_buf_append(out, p, len) == 0;
            p += len - 1;
        } else if (*p == '?') {
            ok = tk_buf_printf(out, "$%d", ++n) == 0;
        } else {
            ok = tk_buf_putc(out, *p) == 0;
        }
    }
    if (ok && !out->data)
        ok = tk_buf_puts(out, "") == 0;
    return ok ? n : -1;
}

static void count_changes(struct tk_db *db, PGresult *res)
{
    const char *s = PQcmdStatus(res);
    int64_t v = 0;
    /* As sqlite3_changes(): only INSERT, UPDATE and DELETE count. */
    if (strncmp(s, "INSERT", 6) == 0 || strncmp(s, "UPDATE", 6) == 0 ||
        strncmp(s, "DELETE", 6) == 0) {
        if (tk_parse_int(PQcmdTuples(res), 0, INT64_MAX, &v) == 0)
            db->changes = v;
        else
            db->changes = 0;
    }
}

/* VALS as libpq's text parameters: VALUES[k] points into V[k] or into
 * NUMS[k] (integers spelled out), NULL for SQL NULL. */
static int to_text(const struct tk_db_value *v, size_t n, const char **values,
                   char (*nums)[NUM_LEN], struct tk_error *err)
{
    for (size_t k = 0; k < n; k++) {
        switch (v[k].type) {
        case TK_DB_INT:
            snprintf(nums[k], NUM_LEN, "%lld", (long long)v[k].i);
            values[k] = nums[k];
            break;
        case TK_DB_TEXT:
            values[k] = v[k].s;
            break;
        case TK_DB_NULL:
            values[k] = NULL;
            break;
        default:
            return tk_error_set(err, TK_EINVAL, "store postgres: bad value type %d", v[k].type);
        }
    }
    return 0;
}

/* The cached statement for SQL, or NULL. */
static struct prep *find_prepared(struct tk_db *db, const char *sql)
{
    for (int i = 0; i < PREP_SLOTS; i++)
        if (db->prep[i].ptr == sql && db->prep[i].sql && strcmp(db->prep[i].sql, sql) == 0)
            return &db->prep[i];
    for (int i = 0; i < PREP_SLOTS; i++)
        if (db->prep[i].sql && strcmp(db->prep[i].sql, sql) == 0)
            return &db->prep[i];
    return NULL;
}

static struct prep *lru_slot(struct tk_db *db)
{
    struct prep *victim = &db->prep[0];
    for (int i = 0; i < PREP_SLOTS; i++) {
        if (!db->prep[i].sql)
            return &db->prep[i];
        if (db->prep[i].used < victim->used)
            victim = &db->prep[i];
    }
    return victim;
}

/* What one round trip carries, in this order; NULL/0 parts are left out. */
struct trip {
    const char *drop;  /* DEALLOCATE of the statement whose slot is reused */
    const char *begin; /* the BEGIN drv_begin left for later */
    int sync_off;      /* ...of a TK_TX_RESULT transaction */
    int implicit;      /* a TK_TX_RESULT of this one statement: no BEGIN, no
                          COMMIT, the pipeline's Sync commits (see execute_once) */
    const char *text;  /* Parse NAME from this, when the statement is new */
    const char *name;  /* Execute NAME with VALUES */
    int nparams;
    const char *const *values;
    int commit; /* then COMMIT (tk_db_last_statement) */
    /* out */
    int dropped, parsed; /* those steps succeeded */
    PGresult *res;       /* the Execute's result, when it succeeded */
    int committed;       /* the COMMIT's outcome is in commit_rc / commit_err */
    int commit_rc;
    struct tk_error commit_err;
};

/* The results of one query of a pipeline, up to the NULL that ends it:
 * the last one (the caller clears it), NULL when the connection failed. */
static PGresult *take_result(PGconn *c)
{
    PGresult *last = NULL, *r;
    while ((r = PQgetResult(c)) != NULL) {
        PQclear(last);
        last = r;
    }
    return last;
}

static int ok_status(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
}

/* T in one pipeline: everything is sent, then the results are read in
 * order.  The first failure is reported (a step after a failed one is
 * only "aborted", which says nothing). */
static int round_trip(struct tk_db *db, struct trip *t, struct tk_error *err)
{
    PGconn *c = db->conn;
    const char *steps[3] = {t->drop, t->begin,
                            t->implicit || (t->begin && t->sync_off) ? SYNC_OFF_NAME : NULL};
    int ok = PQenterPipelineMode(c), rc = 0;
    t->dropped = t->parsed = 0;
    t->res = NULL;
    if (!ok)
        return fail(db, NULL, err);
    for (int i = 0; i < 2 && ok; i++)
        if (steps[i])
            ok = PQsendQueryParams(c, steps[i], 0, NULL, NULL, NULL, NULL, 0);
    if (ok && steps[2])
        ok = PQsendQueryPrepared(c, SYNC_OFF_NAME, 0, NULL, NULL, NULL, 0);
    if (ok && t->text)
        ok = PQsendPrepare(c, t->name, t->text, t->nparams, NULL);
    if (ok)
        ok = PQsendQueryPrepared(c, t->name, t->nparams, t->values, NULL, NULL, 0);
    if (ok && t->commit)
        ok = PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
    if (ok)
        ok = PQpipelineSync(c);
    if (!ok) {
        rc = fail(db, NULL, err);
        while (!conn_broken(db) && PQgetResult(c) != NULL)
            ;
        PQexitPipelineMode(c);
        return rc;
    }
    for (int i = 0; i < 5; i++) {
        const char *step = i < 3 ? steps[i] : i == 3 ? t->text : t->name;
        if (!step)
            continue;
        PGresult *r = take_result(c);
        if (rc == 0 && !ok_status(r))
            rc = fail(db, r, err);
        if (rc == 0 && i == 0)
            t->dropped = 1;
        else if (rc == 0 && i == 3)
            t->parsed = 1;
        else if (rc == 0 && i == 4)
            t->res = r, r = NULL;
        PQclear(r);
        if (conn_broken(db))
            break;
    }
    /* The COMMIT's outcome is the commit's (tk_db_commit reports it), not
     * the statement's; after a failed statement it was only skipped, and
     * the transaction waits for the caller's ROLLBACK. */
    if (t->commit && !conn_broken(db)) {
        PGresult *r = take_result(c); /* PGRES_PIPELINE_ABORTED after a failure */
        if (rc == 0) {
            t->committed = 1;
            if (!ok_status(r))
                t->commit_rc = fail(db, r, &t->commit_err);
            else if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0)
                t->commit_rc = tk_error_set(
                    &t->commit_err, TK_ETEMP,
                    "store postgres: transaction was rolled back after an earlier error");
        }
        PQclear(r);
    }
    /* Up to PGRES_PIPELINE_SYNC.  An implicit transaction commits at the
     * Sync: a failure there (a deferred key) is the statement's. */
    for (int nulls = 0; !conn_broken(db) && nulls < 4;) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            nulls++;
            continue;
        }
        int sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        if (!sync && rc == 0 && t->implicit && !ok_status(r))
            rc = fail(db, r, err);
        PQclear(r);
        if (sync) {
            PQexitPipelineMode(c);
            break;
        }
    }
    if (rc != 0) {
        PQclear(t->res);
        t->res = NULL;
    }
    return rc;
}

/* Run SQL: the cached statement, or a new one prepared in the same round
 * trip; a BEGIN still to send goes first. */
static int execute_once(struct tk_db *db, const char *sql, const char *const *values, int n,
                        PGresult **out, struct tk_error *err)
{
    struct prep *p = find_prepared(db, sql);
    struct tk_buf text = {0};
    char name[16], drop[32];
    char *copy = NULL;
    struct trip t = {0};
    int rc;

    *out = NULL;
    if (p && p->nparams != n)
        return tk_error_set(err, TK_EINVAL, "store postgres: %d values bound, statement wants %d",
                            n, p->nparams);
    if (!p) {
        int want = rewrite(sql, &text);
        if (want < 0 || !(copy = tk_strdup(sql))) {
            tk_buf_free(&text);
            free(copy);
            return tk_error_set(err, TK_ENOMEM, "store postgres: out of memory");
        }
        if (want != n) {
            tk_buf_free(&text);
            free(copy);
            return tk_error_set(err, TK_EINVAL,
                                "store postgres: %d values bound, statement wants %d", n, want);
        }
        p = lru_slot(db);
        if (p->sql) {
            snprintf(drop, sizeof drop, "DEALLOCATE tk%u", p->id);
            t.drop = drop;
        }
        snprintf(name, sizeof name, "tk%u", db->next_id + 1);
        t.text = text.data;
    } else {
        snprintf(name, sizeof name, "tk%u", p->id);
    }
    t.begin = db->begin_sql;
    t.sync_off = db->result_tx;
    t.commit = db->commit_next && db->base.in_tx;
    db->commit_next = 0;
    /* A TK_TX_RESULT transaction whose first statement is its last (a
     * dispatcher's settle): the statements of a pipeline up to its Sync
     * are one implicit transaction, which the Sync commits, so BEGIN and
     * COMMIT would only be two more statements for the server to parse
     * and run per message.  A failed statement rolls it back, as the
     * caller's ROLLBACK would. */
    if (t.begin && t.commit && t.sync_off) {
        t.implicit = 1;
        t.begin = NULL;
        t.commit = 0;
    }
    t.name = name;
    t.nparams = n;
    t.values = values;
    rc = round_trip(db, &t, err);
    db->begin_sql = NULL; /* sent, or the transaction failed: the caller rolls back */
    if (t.committed) {
        db->committed = 1;
        db->commit_rc = t.commit_rc;
        db->commit_err = t.commit_err;
    } else if (t.implicit) { /* the Sync committed, or nothing happened */
        db->committed = 1;
        db->commit_rc = rc;
        if (rc != 0 && err)
            db->commit_err = *err;
    }
    if (t.dropped) {
        free(p->sql);
        free(p->text);
        memset(p, 0, sizeof *p);
    }
    if (t.parsed) {
        free(p->sql);
        free(p->text);
        p->sql = copy;
        p->text = text.data;
        p->nparams = n;
        p->id = ++db->next_id;
        copy = NULL;
        text.data = NULL;
    }
    if (p->sql) {
        p->ptr = sql;
        p->used = ++db->clock;
    }
    free(copy);
    tk_buf_free(&text);
    *out = t.res;
    return rc;
}

/* execute_once, and once more on a new connection when the first
 * statement of a transaction (the one that carries its BEGIN) found the
 * connection gone: the server closed the session while it was idle and
 * notice_hangup had not seen it yet (the goodbye can arrive a moment after
 * the backend is gone).  Nothing of the transaction reached a live
 * session, so trying again is what a BEGIN sent alone used to do. */
static int execute(struct tk_db *db, const char *sql, const char *const *values, int n,
                   PGresult **out, struct tk_error *err)
{
    const char *begin = db->begin_sql;
    int sync_off = db->result_tx, commit_next = db->commit_next;
    int rc = execute_once(db, sql, values, n, out, err);
    if (rc != 0 && begin && conn_broken(db) && ensure_conn(db, 1, err) == 0) {
        db->begin_sql = begin;
        db->result_tx = sync_off;
        db->commit_next = commit_next;
        db->committed = 0;
        rc = execute_once(db, sql, values, n, out, err);
    }
    return rc;
}

static int drv_query(struct tk_db *db, struct tk_cursor **cur, struct tk_error *err,
                     const char *sql, const struct tk_db_value *vals, size_t want)
{
    const char *stack_values[STACK_PARAMS], **values = stack_values;
    char stack_nums[STACK_PARAMS][NUM_LEN], (*nums)[NUM_LEN] = stack_nums;
    PGresult *res = NULL;
    int rc = 0;

    if (cur)
        *cur = NULL;
    if (!db->base.in_tx && (rc = ensure_conn(db, 0, err)) != 0)
        return rc;
    if (want > 65535) /* the protocol's limit */
        return tk_error_set(err, TK_EINVAL, "store postgres: %zu values bound, at most 65535",
                            want);
    if (want > STACK_PARAMS) {
        values = malloc(want * sizeof *values);
        nums = malloc(want * sizeof *nums);
        if (!values || !nums)
            rc = tk_error_set(err, TK_ENOMEM, "store postgres: out of memory");
    }
    if (rc == 0 && (rc = to_text(vals, want, values, nums, err)) == 0)
        rc = execute(db, sql, values, (int)want, &res, err);
    if (values != stack_values) {
        free(values);
        free(nums);
    }
    if (rc != 0)
        return rc;
    count_changes(db, res);
    if (!cur) {
        PQclear(res);
        return 0;
    }
    struct tk_cursor *c = calloc(1, sizeof *c);
    if (!c) {
        PQclear(res);
        return tk_error_set(err, TK_ENOMEM, "store postgres: out of memory");
    }
    c->base.drv = &tk_db_postgres;
    c->res = res;
    c->row = -1;
    c->nrows = PQntuples(res);
    *cur = c;
    return 0;
}

static int drv_next(struct tk_cursor *cur, struct tk_error *err)
{
    (void)err;
    if (cur->row + 1 >= cur->nrows) {
        cur->row = cur->nrows;
        return 0;
    }
    cur->row++;
    return 1;
}

static int valid(const struct tk_cursor *cur, int col)
{
    return cur->row >= 0 && cur->row < cur->nrows && col >= 0 && col < PQnfields(cur->res) &&
           !PQgetisnull(cur->res, cur->row, col);
}

/* As sqlite3_column_int64(): NULL reads 0; booleans read 1/0. */
static int64_t drv_col_int(struct tk_cursor *cur, int col)
{
    if (!valid(cur, col))
        return 0;
    const char *s = PQgetvalue(cur->res, cur->row, col);
    if (s[0] == 't' && !s[1])
        return 1;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    return end == s ? 0 : (int64_t)v;
}

static const char *drv_col_text(struct tk_cursor *cur, int col)
{
    return valid(cur, col) ? PQgetvalue(cur->res, cur->row, col) : NULL;
}

static void drv_cursor_close(struct tk_cursor *cur)
{
    PQclear(cur->res);
    free(cur);
}

static int64_t drv_changes(struct tk_db *db)
{
    return db->changes;
}

/* Writers run side by side here: the copy keeps them out of the tables it
 * fills (EXCLUSIVE still lets readers in).  TABLES comes from the copy's own
 * table list, never from input. */
static int drv_lock_tables(struct tk_db *db, const char *tables, struct tk_error *err)
{
    char *sql = tk_strprintf("LOCK TABLE %s IN EXCLUSIVE MODE", tables);
    if (!sql)
        return tk_error_set(err, TK_ENOMEM, "store postgres: out of memory");
    int rc = drv_query(db, NULL, err, sql, NULL, 0);
    free(sql);
    return rc;
}

/* A BIGSERIAL's sequence: its last value (NULL before the first nextval). */
static int drv_id_high_water(struct tk_db *db, const char *table, int64_t *out,
                             struct tk_error *err)
{
    struct tk_db_value v = tk_db_value_text(table);
    struct tk_cursor *cur = NULL;
    int rc = drv_query(db, &cur, err,
                       "SELECT COALESCE(pg_sequence_last_value("
                       "CAST(pg_get_serial_sequence(?, 'id') AS regclass)), 0)",
                       &v, 1);
    if (rc != 0)
        return rc;
    if (drv_next(cur, err) > 0)
        *out = drv_col_int(cur, 0);
    drv_cursor_close(cur);
    return 0;
}

/* setval(..., false): the next nextval returns exactly the value set. */
static int drv_set_id_high_water(struct tk_db *db, const char *table, int64_t v,
                                 struct tk_error *err)
{
    struct tk_db_value a[3] = {tk_db_value_text(table), tk_db_value_int(v),
                               tk_db_value_text(table)};
    return drv_query(db, NULL, err,
                     "SELECT setval(pg_get_serial_sequence(?, 'id'), GREATEST(?, COALESCE("
                     "pg_sequence_last_value(CAST(pg_get_serial_sequence(?, 'id') AS regclass)), "
                     "0)) + 1, false)",
                     a, 3);
}

const struct tk_db_driver tk_db_postgres = {
    .name = "postgres",
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
    /* Writers side by side at READ COMMITTED: row locks where work is
     * claimed or an item is changed; migrations under an advisory lock
     * (CREATE TABLE is not safe to race, even with IF NOT EXISTS). */
    .dialect =
        {
            .claim = TK_DB_CLAIM_SKIP_LOCKED,
            .lock_rows = " FOR UPDATE",
            .skip_locked = " FOR UPDATE SKIP LOCKED",
            .schema_sql = TK_DB_SCHEMA_POSTGRES,
            .schema_lock = "SELECT pg_advisory_xact_lock(746963)", /* any fixed key */
            .remote = 1,
        },
    .lock_tables = drv_lock_tables,
    .id_high_water = drv_id_high_water,
    .set_id_high_water = drv_set_id_high_water,
    .last_statement = drv_last_statement,
};
