/*
 * db.c - the generic half of the SQL layer: picks a driver from the
 * configuration and dispatches every call through its table, keeping the
 * transaction bookkeeping (in_tx) in one place for all drivers.
 */
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

static const struct tk_db_driver *drv_of(const struct tk_db *db)
{
    return ((const struct tk_db_base *)db)->drv;
}

static struct tk_db_base *base_of(struct tk_db *db)
{
    return (struct tk_db_base *)db;
}

volatile int *tk_db_interrupt;

int tk_db_fault_countdown;

/* The test hook (db.h): one branch when off. */
static int injected(struct tk_error *err)
{
    if (tk_db_fault_countdown <= 0 || --tk_db_fault_countdown > 0)
        return 0;
    return tk_error_set(err, TK_EIO, "store: injected fault");
}

int tk_db_open(const struct tk_config *cfg, struct tk_db **db, struct tk_error *err)
{
    *db = NULL;
    const char *driver = cfg->store_driver ? cfg->store_driver : "sqlite";
    if (strcmp(driver, "sqlite") == 0) {
        if (!cfg->store_path || !*cfg->store_path)
            return tk_error_set(err, TK_EINVAL, "store: no sqlite path configured ([store] path)");
        return tk_db_sqlite.open(cfg->store_path, db, err);
    }
    if (strcmp(driver, "postgres") == 0) {
        /* TK_HAVE_POSTGRES_DRIVER is defined with TK_HAVE_POSTGRES in
         * core/CMakeLists.txt when postgres.c is built (libpq found). */
#if defined(TK_HAVE_POSTGRES) && defined(TK_HAVE_POSTGRES_DRIVER)
        extern const struct tk_db_driver tk_db_postgres;
        if (!cfg->store_dsn || !*cfg->store_dsn)
            return tk_error_set(err, TK_EINVAL, "store: no postgres dsn configured ([store] dsn)");
        return tk_db_postgres.open(cfg->store_dsn, db, err);
#else
        return tk_error_set(err, TK_EINVAL, "store: postgres store not built yet");
#endif
    }
    return tk_error_set(err, TK_EINVAL, "store: unknown driver '%s' (use sqlite or postgres)",
                        driver);
}

int tk_db_open_spec(const char *spec, int must_exist, struct tk_db **db, struct tk_error *err)
{
    struct tk_config cfg;
    char driver[16];
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : 0;
    *db = NULL;
    memset(&cfg, 0, sizeof cfg);
    if (!colon || len == 0 || len >= sizeof driver)
        return tk_error_set(err, TK_EUSAGE, "'%s' is not sqlite:PATH or postgres:DSN", spec);
    memcpy(driver, spec, len);
    driver[len] = '\0';
    cfg.store_driver = driver;
    if (strcmp(driver, "sqlite") == 0) {
        if (!colon[1])
            return tk_error_set(err, TK_EUSAGE, "'%s': no path after sqlite:", spec);
        cfg.store_path = (char *)colon + 1;
        if (must_exist && access(cfg.store_path, R_OK) != 0)
            return tk_error_set(err, TK_ENOTFOUND, "no SQLite store at %s", cfg.store_path);
    } else if (strcmp(driver, "postgres") == 0) {
        /* The DSN may hold a password: "postgres:" alone reads it from the
         * environment, as [store] dsn does, so that it is not on the
         * command line for everyone's `ps` to see. */
        cfg.store_dsn = (char *)colon + 1;
        if (!*cfg.store_dsn)
            cfg.store_dsn = getenv("TICKLER_DSN");
        if (!cfg.store_dsn || !*cfg.store_dsn)
            return tk_error_set(err, TK_EUSAGE, "'postgres:' without a DSN and no $TICKLER_DSN");
    } else {
        return tk_error_set(err, TK_EUSAGE, "unknown store '%s' (use sqlite: or postgres:)",
                            driver);
    }
    return tk_db_open(&cfg, db, err);
}

void tk_db_close(struct tk_db *db)
{
    if (!db)
        return;
    if (base_of(db)->in_tx)
        tk_db_rollback(db);
    drv_of(db)->close(db);
}

void tk_db_close_at_exit(struct tk_db *db)
{
    if (!db)
        return;
    if (base_of(db)->in_tx)
        tk_db_rollback(db);
    if (drv_of(db)->close_at_exit)
        drv_of(db)->close_at_exit(db);
    else
        drv_of(db)->close(db);
}

const char *tk_db_driver_name(const struct tk_db *db)
{
    return drv_of(db)->name;
}

const struct tk_db_dialect *tk_db_dialect(const struct tk_db *db)
{
    return &drv_of(db)->dialect;
}

int tk_db_begin(struct tk_db *db, int mode, struct tk_error *err)
{
    if (base_of(db)->in_tx)
        return tk_error_set(err, TK_ERR, "store: a transaction is open already");
    int rc = drv_of(db)->begin(db, mode, err);
    tk_db_tx_touch(db);
    if (rc == 0) {
        base_of(db)->in_tx = 1;
        base_of(db)->read_only = mode == TK_TX_SNAPSHOT;
    }
    return rc;
}

/* A failed commit is rolled back here, so callers that only check the
 * commit's status still leave the connection clean. */
int tk_db_commit(struct tk_db *db, struct tk_error *err)
{
    if (!base_of(db)->in_tx)
        return tk_error_set(err, TK_ERR, "store: commit without a transaction");
    int rc = drv_of(db)->commit(db, err);
    if (rc != 0)
        drv_of(db)->rollback(db);
    tk_db_tx_touch(db);
    base_of(db)->in_tx = base_of(db)->read_only = 0;
    return rc;
}

/* Process-wide, so that a serial never repeats, whichever connection. */
static uint64_t serials;

void tk_db_tx_touch(struct tk_db *db)
{
    base_of(db)->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
}

uint64_t tk_db_tx_serial(const struct tk_db *db)
{
    const struct tk_db_base *b = (const struct tk_db_base *)db;
    return b->in_tx && b->drv->dialect.snapshot ? b->serial : 0;
}

int tk_db_read_only(const struct tk_db *db)
{
    const struct tk_db_base *b = (const struct tk_db_base *)db;
    return b->in_tx && b->read_only;
}

void tk_db_last_statement(struct tk_db *db)
{
    if (db && base_of(db)->in_tx && drv_of(db)->last_statement)
        drv_of(db)->last_statement(db);
}

void tk_db_purge_log(struct tk_db *db)
{
    if (db && drv_of(db)->purge_log)
        drv_of(db)->purge_log(db);
}

int tk_db_log_defer_checkpoints(struct tk_db *db, int defer)
{
    if (!db || !drv_of(db)->log_defer_checkpoints)
        return 0;
    drv_of(db)->log_defer_checkpoints(db, defer);
    return 1;
}

int tk_db_log_pages(struct tk_db *db)
{
    return db && drv_of(db)->log_pages ? drv_of(db)->log_pages(db) : 0;
}

void tk_db_log_checkpoint(struct tk_db *db)
{
    if (db && drv_of(db)->log_checkpoint)
        drv_of(db)->log_checkpoint(db);
}

void tk_db_rollback(struct tk_db *db)
{
    if (!db || !base_of(db)->in_tx)
        return;
    drv_of(db)->rollback(db);
    tk_db_tx_touch(db);
    base_of(db)->in_tx = base_of(db)->read_only = 0;
}

enum { SP_SAVEPOINT, SP_ROLLBACK_TO, SP_RELEASE };
static const char *const sp_verbs[] = {"SAVEPOINT", "ROLLBACK TO SAVEPOINT", "RELEASE SAVEPOINT"};

/* The statement VERB of savepoint NAME from the base's memo (db.h),
 * made there when NAME is new; NULL when NAME is too long to keep. */
static const char *savepoint_text(struct tk_db_base *b, int verb, const char *name)
{
    struct tk_db_savepoint_text *t;
    size_t len = strlen(name);
    if (len > TK_DB_SAVEPOINT_NAME_MAX)
        return NULL;
    for (int i = 0; i < TK_DB_SAVEPOINT_NAMES; i++) {
        t = &b->savepoints[i];
        if (t->name[0] && memcmp(t->name, name, len + 1) == 0)
            return t->sql[verb];
    }
    t = &b->savepoints[b->savepoints_next++ % TK_DB_SAVEPOINT_NAMES];
    memcpy(t->name, name, len + 1);
    for (int v = 0; v < 3; v++)
        snprintf(t->sql[v], sizeof t->sql[v], "%s %s", sp_verbs[v], name);
    return t->sql[verb];
}

/* NAME is a constant of the caller's: never text from outside. */
static int savepoint_sql(struct tk_db *db, int verb, const char *name, struct tk_error *err)
{
    const char *text;
    char sql[96];
    if (!base_of(db)->in_tx)
        return tk_error_set(err, TK_ERR, "store: %s outside a transaction", sp_verbs[verb]);
    if (!(text = savepoint_text(base_of(db), verb, name))) {
        if ((size_t)snprintf(sql, sizeof sql, "%s %s", sp_verbs[verb], name) >= sizeof sql)
            return tk_error_set(err, TK_EINVAL, "store: savepoint name too long");
        text = sql;
    }
    return drv_of(db)->exec_script(db, text, err);
}

int tk_db_savepoint(struct tk_db *db, const char *name, struct tk_error *err)
{
    return savepoint_sql(db, SP_SAVEPOINT, name, err);
}

int tk_db_rollback_to(struct tk_db *db, const char *name, struct tk_error *err)
{
    tk_db_tx_touch(db); /* what the savepoint's writes changed is back */
    return savepoint_sql(db, SP_ROLLBACK_TO, name, err);
}

int tk_db_release(struct tk_db *db, const char *name, struct tk_error *err)
{
    return savepoint_sql(db, SP_RELEASE, name, err);
}

/* The letters of TYPES and the arguments of AP as an array in V (room for
 * TK_DB_VARARGS_MAX); *N gets the count. */
static int collect(const char *types, va_list ap, struct tk_db_value *v, size_t *n,
                   struct tk_error *err)
{
    size_t k = 0;
    for (const char *t = types ? types : ""; *t; t++, k++) {
        if (k == TK_DB_VARARGS_MAX)
            return tk_error_set(err, TK_EINVAL,
                                "store: more than %d values for one statement; bind an array "
                                "(tk_db_exec_v)",
                                TK_DB_VARARGS_MAX);
        switch (*t) {
        case 'i':
            v[k] = tk_db_value_int(va_arg(ap, int64_t));
            break;
        case 'z':
            v[k] = tk_db_value_id(va_arg(ap, int64_t));
            break;
        case 's':
            v[k] = tk_db_value_text(va_arg(ap, const char *));
            break;
        case 'n':
            v[k] = tk_db_value_null();
            break;
        default:
            return tk_error_set(err, TK_EINVAL, "store: bad bind type '%c'", *t);
        }
    }
    *n = k;
    return 0;
}

int tk_db_exec_v(struct tk_db *db, struct tk_error *err, const char *sql,
                 const struct tk_db_value *vals, size_t n)
{
    if (injected(err))
        return TK_EIO;
    return drv_of(db)->query(db, NULL, err, sql, vals, n);
}

int tk_db_query_v(struct tk_db *db, struct tk_cursor **cur, struct tk_error *err, const char *sql,
                  const struct tk_db_value *vals, size_t n)
{
    if (cur)
        *cur = NULL;
    if (injected(err))
        return TK_EIO;
    return drv_of(db)->query(db, cur, err, sql, vals, n);
}

int tk_db_exec(struct tk_db *db, struct tk_error *err, const char *sql, const char *types, ...)
{
    struct tk_db_value v[TK_DB_VARARGS_MAX];
    size_t n = 0;
    va_list ap;
    va_start(ap, types);
    int rc = collect(types, ap, v, &n, err);
    va_end(ap);
    return rc != 0 ? rc : tk_db_exec_v(db, err, sql, v, n);
}

int tk_db_query(struct tk_db *db, struct tk_cursor **cur, struct tk_error *err, const char *sql,
                const char *types, ...)
{
    struct tk_db_value v[TK_DB_VARARGS_MAX];
    size_t n = 0;
    va_list ap;
    if (cur)
        *cur = NULL;
    va_start(ap, types);
    int rc = collect(types, ap, v, &n, err);
    va_end(ap);
    return rc != 0 ? rc : tk_db_query_v(db, cur, err, sql, v, n);
}

/* The first column of the first row of SQL into *OUT; the rest of the
 * rows are read so that a statement with side effects (INSERT ...
 * RETURNING) always runs to completion on every driver. */
static int first_int(struct tk_db *db, int64_t *out, struct tk_error *err, const char *sql,
                     const struct tk_db_value *v, size_t n)
{
    struct tk_cursor *cur = NULL;
    int rc = drv_of(db)->query(db, &cur, err, sql, v, n);
    if (rc != 0)
        return rc;
    int r = tk_cursor_next(cur, err);
    if (r < 0) {
        rc = err ? err->code : TK_EIO;
    } else if (r == 0) {
        rc = tk_error_set(err, TK_ENOTFOUND, "store: no row");
    } else {
        *out = tk_cursor_int(cur, 0);
        while ((r = tk_cursor_next(cur, err)) > 0)
            ;
        if (r < 0)
            rc = err ? err->code : TK_EIO;
    }
    tk_cursor_close(cur);
    return rc;
}

int tk_db_int(struct tk_db *db, int64_t *out, struct tk_error *err, const char *sql,
              const char *types, ...)
{
    struct tk_db_value v[TK_DB_VARARGS_MAX];
    size_t n = 0;
    va_list ap;
    if (injected(err))
        return TK_EIO;
    va_start(ap, types);
    int rc = collect(types, ap, v, &n, err);
    va_end(ap);
    return rc != 0 ? rc : first_int(db, out, err, sql, v, n);
}

int tk_db_insert(struct tk_db *db, int64_t *id, struct tk_error *err, const char *sql,
                 const char *types, ...)
{
    const struct tk_db_driver *d = drv_of(db);
    struct tk_db_value v[TK_DB_VARARGS_MAX];
    size_t n = 0;
    va_list ap;
    char *returning;
    int rc;
    if (injected(err))
        return TK_EIO;
    va_start(ap, types);
    rc = collect(types, ap, v, &n, err);
    va_end(ap);
    if (rc != 0)
        return rc;
    if (d->last_id) {
        if ((rc = d->query(db, NULL, err, sql, v, n)) == 0) {
            if (d->changes(db) == 0)
                rc = tk_error_set(err, TK_ENOTFOUND, "store: no row");
            else
                *id = d->last_id(db);
        }
    } else if (!(returning = tk_strprintf("%s RETURNING id", sql))) {
        rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
    } else {
        rc = first_int(db, id, err, returning, v, n);
        free(returning);
    }
    return rc;
}

int tk_db_exec_script(struct tk_db *db, const char *sql, struct tk_error *err)
{
    return drv_of(db)->exec_script(db, sql, err);
}

int tk_db_changes(struct tk_db *db, int64_t *out)
{
    *out = drv_of(db)->changes(db);
    return 0;
}

int tk_cursor_next(struct tk_cursor *cur, struct tk_error *err)
{
    if (injected(err))
        return -1;
    return ((struct tk_cursor_base *)cur)->drv->next(cur, err);
}

int64_t tk_cursor_int(struct tk_cursor *cur, int col)
{
    return ((struct tk_cursor_base *)cur)->drv->col_int(cur, col);
}

const char *tk_cursor_text(struct tk_cursor *cur, int col)
{
    return ((struct tk_cursor_base *)cur)->drv->col_text(cur, col);
}

void tk_cursor_close(struct tk_cursor *cur)
{
    if (cur)
        ((struct tk_cursor_base *)cur)->drv->cursor_close(cur);
}

int tk_db_lock_tables(struct tk_db *db, const char *tables, struct tk_error *err)
{
    const struct tk_db_driver *d = drv_of(db);
    if (!base_of(db)->in_tx)
        return tk_error_set(err, TK_ERR, "store: table lock outside a transaction");
    return d->lock_tables ? d->lock_tables(db, tables, err) : 0;
}

int tk_db_id_high_water(struct tk_db *db, const char *table, int64_t *out, struct tk_error *err)
{
    *out = 0;
    return drv_of(db)->id_high_water(db, table, out, err);
}

int tk_db_set_id_high_water(struct tk_db *db, const char *table, int64_t v, struct tk_error *err)
{
    return drv_of(db)->set_id_high_water(db, table, v, err);
}

int tk_db_backup(struct tk_db *db, const char *path, struct tk_error *err)
{
    if (!drv_of(db)->backup)
        return tk_error_set(err, TK_EINVAL,
                            "backup: the %s store has no backup of its own here; use the "
                            "server's tools (pg_dump -Fc, pg_restore: docs/data.md)",
                            drv_of(db)->name);
    return drv_of(db)->backup(db, path, err);
}

int tk_db_restore(struct tk_db *db, const char *path, int *version, struct tk_error *err)
{
    int v = 0;
    if (!drv_of(db)->restore)
        return tk_error_set(err, TK_EINVAL,
                            "restore: the %s store has no restore of its own here; use the "
                            "server's tools (pg_restore: docs/data.md)",
                            drv_of(db)->name);
    int rc = drv_of(db)->restore(db, path, tk_db_schema_version(), &v, err);
    if (version)
        *version = v;
    return rc;
}
