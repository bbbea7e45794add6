/* cmd_migrate.c - `tickler migrate --from sqlite:PATH --to postgres:DSN`:
 * copy a whole store into another, empty one (a deployment that outgrew
 * SQLite moves to PostgreSQL; the other directions work the same way).
 *
 * Every row of every table is copied as it is, ids included, inside one
 * transaction on the target: a failure leaves the target as empty as it
 * was.  The source is read inside one transaction too, so the copy is a
 * consistent snapshot even if a tickler still writes to it (stop the
 * daemons first all the same: what they write afterwards is not copied).
 * Values travel as text, which both drivers turn back into the column's
 * type. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config/config.h"

/* The tables of schema version 2 in an order that satisfies the foreign
 * keys, each with every column and a key that orders its rows.  A migration
 * that adds a table or a column must add it here; the version check below
 * makes sure nobody forgets. */
#define MIGRATE_SCHEMA_VERSION 2
struct table {
    const char *name, *cols, *order;
    int serial; /* has a generated id */
};
static const struct table tables[] = {
    {"accounts", "id, name, language, created_at", "id", 1},
    {"contacts", "id, account_id, email, name, notify, created_at", "id", 1},
    {"jobs", "id, pipeline, stage, account_id, title, state, created_at, updated_at", "id", 1},
    {"items",
     "id, type, account_id, job_id, title, template, state, archived, created_at, completed_at, "
     "resends, todo_seq, rem_enabled, rem_every_days, rem_count, rem_sent, last_mail_at, next_at",
     "id", 1},
    {"item_fields", "item_id, name, value, pos", "item_id, name", 0},
    {"audit", "id, at, actor, account_id, item_id, job_id, action, detail", "id", 1},
    {"outbox",
     "id, item_id, account_id, kind, step, recipient, idem_key, message_id, sender, state, "
     "attempts, created_at, next_attempt_at, sent_at, lease_token, lease_until, reply_code, "
     "last_reply",
     "id", 1},
    {"outbox_data", "outbox_id, data", "outbox_id", 0},
    {"sequences", "name, value", "name", 0},
};
#define NTABLES (sizeof tables / sizeof tables[0])

static int ncols(const char *cols)
{
    int n = 1;
    for (; *cols; cols++)
        n += *cols == ',';
    return n;
}

/* "sqlite:PATH" or "postgres:DSN" opened and brought to the newest schema.
 * MUST_EXIST: refuse a SQLite file that is not there (opening would create
 * an empty one and "copy" nothing). */
static int open_spec(const char *spec, int must_exist, struct tk_db **db, struct tk_error *err)
{
    struct tk_config cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : 0;
    char driver[16];
    if (!colon || len >= sizeof driver || !colon[1])
        return tk_error_set(err, TK_EUSAGE, "migrate: '%s' is not sqlite:PATH or postgres:DSN",
                            spec);
    memcpy(driver, spec, len);
    driver[len] = '\0';
    cfg.store_driver = driver;
    if (strcmp(driver, "sqlite") == 0) {
        cfg.store_path = (char *)colon + 1;
        if (must_exist && access(cfg.store_path, R_OK) != 0)
            return tk_error_set(err, TK_ENOTFOUND, "migrate: no SQLite store at %s",
                                cfg.store_path);
    } else if (strcmp(driver, "postgres") == 0) {
        cfg.store_dsn = (char *)colon + 1;
    } else {
        return tk_error_set(err, TK_EUSAGE,
                            "migrate: unknown store '%s' (use sqlite: or postgres:)", driver);
    }
    int rc = tk_db_open(&cfg, db, err);
    if (rc == 0 && (rc = tk_db_migrate(*db, err)) != 0) {
        tk_db_close(*db);
        *db = NULL;
    }
    return rc;
}

static int is_pg(struct tk_db *db)
{
    return strcmp(tk_db_driver_name(db), "postgres") == 0;
}

static int refuse_non_empty(struct tk_db *to, struct tk_error *err)
{
    char sql[128];
    for (size_t i = 0; i < NTABLES; i++) {
        int64_t n = 0;
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", tables[i].name);
        int rc = tk_db_int(to, &n, err, sql, "");
        if (rc != 0)
            return rc;
        if (n > 0)
            return tk_error_set(err, TK_ECONFLICT,
                                "migrate: the target store is not empty (%s has %lld row%s); "
                                "migrate copies into a new, empty store only",
                                tables[i].name, (long long)n, n == 1 ? "" : "s");
    }
    return 0;
}

/* One statement with one text value per column. */
static int copy_table(struct tk_db *from, struct tk_db *to, const struct table *t, int64_t *rows,
                      struct tk_error *err)
{
    struct tk_buf ins = {0}, sel = {0};
    struct tk_cursor *cur = NULL;
    char types[64];
    const char *v[64] = {0};
    int n = ncols(t->cols), rc = 0, r = 0;
    if (n > (int)sizeof types - 1)
        return tk_error_set(err, TK_ERR, "migrate: table %s has too many columns", t->name);
    memset(types, 's', (size_t)n);
    types[n] = '\0';
    if (tk_buf_printf(&sel, "SELECT %s FROM %s ORDER BY %s", t->cols, t->name, t->order) ||
        tk_buf_printf(&ins, "INSERT INTO %s (%s) VALUES (?", t->name, t->cols))
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
    for (int i = 1; rc == 0 && i < n; i++)
        if (tk_buf_puts(&ins, ", ?"))
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
    if (rc == 0 && tk_buf_putc(&ins, ')'))
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
    if (rc == 0)
        rc = tk_db_query(from, &cur, err, sel.data, "");
    while (rc == 0 && (r = tk_cursor_next(cur, err)) > 0) {
        for (int i = 0; i < n; i++)
            v[i] = tk_cursor_text(cur, i);
        /* tk_db_exec takes a fixed argument list: hand it the widest row
         * (items, 18 columns); the driver reads only as many as TYPES says. */
        rc = tk_db_exec(to, err, ins.data, types, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
                        v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16], v[17], v[18]);
        if (rc == 0)
            (*rows)++;
    }
    if (rc == 0 && r < 0)
        rc = err && err->code ? err->code : TK_EIO;
    tk_cursor_close(cur);
    tk_buf_free(&sel);
    tk_buf_free(&ins);
    if (rc != 0)
        tk_error_prefix(err, "migrate: table %s", t->name);
    return rc;
}

/* PostgreSQL's id sequences do not move when ids are inserted explicitly:
 * set each past the largest id, and past SQLite's AUTOINCREMENT high-water
 * mark, so that no id is ever handed out twice. */
static int move_sequences(struct tk_db *from, struct tk_db *to, struct tk_error *err)
{
    char sql[192];
    for (size_t i = 0; i < NTABLES; i++) {
        int64_t maxid = 0, seq = 0;
        struct tk_error ignore = {0};
        if (!tables[i].serial)
            continue;
        snprintf(sql, sizeof sql, "SELECT COALESCE(MAX(id), 0) FROM %s", tables[i].name);
        int rc = tk_db_int(to, &maxid, err, sql, "");
        if (rc != 0)
            return rc;
        if (!is_pg(from)) /* sqlite_sequence exists once a row was ever inserted */
            tk_db_int(from, &seq, &ignore, "SELECT seq FROM sqlite_sequence WHERE name = ?", "s",
                      tables[i].name);
        if (seq > maxid)
            maxid = seq;
        snprintf(sql, sizeof sql, "SELECT setval(pg_get_serial_sequence('%s', 'id'), ?, false)",
                 tables[i].name);
        if ((rc = tk_db_exec(to, err, sql, "i", maxid + 1)) != 0)
            return rc;
    }
    return 0;
}

static int copy_all(struct tk_db *from, struct tk_db *to, int64_t *counts, struct tk_error *err)
{
    int rc;
    if ((rc = tk_db_begin(from, TK_TX_DEFERRED, err)))
        return rc;
    if ((rc = tk_db_begin(to, TK_TX_IMMEDIATE, err))) {
        tk_db_rollback(from);
        return rc;
    }
    /* Nobody else may write the target while it is filled. */
    if (is_pg(to))
        rc = tk_db_exec(to, err,
                        "LOCK TABLE accounts, contacts, jobs, items, item_fields, audit, outbox, "
                        "outbox_data, sequences IN EXCLUSIVE MODE",
                        "");
    if (rc == 0)
        rc = refuse_non_empty(to, err);
    for (size_t i = 0; rc == 0 && i < NTABLES; i++)
        rc = copy_table(from, to, &tables[i], &counts[i], err);
    if (rc == 0 && is_pg(to))
        rc = move_sequences(from, to, err);
    tk_db_rollback(from); /* read only */
    if (rc != 0) {
        tk_db_rollback(to);
        return rc;
    }
    return tk_db_commit(to, err);
}

int tk_cmd_migrate(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    static const char *const spec[] = {"from=", "to=", NULL};
    struct tk_cli_args a;
    struct tk_db *from = NULL, *to = NULL;
    int64_t counts[NTABLES] = {0}, total = 0;
    int rc;
    if ((rc = tk_cli_parse(argc, argv, spec, &a, err)))
        return rc;
    const char *fs = tk_cli_opt(&a, "from"), *ts = tk_cli_opt(&a, "to");
    if (a.pos.n || !fs || !ts) {
        rc = tk_error_set(err, TK_EUSAGE,
                          "usage: tickler migrate --from sqlite:PATH --to postgres:DSN");
        goto out;
    }
    if (tk_db_schema_version() != MIGRATE_SCHEMA_VERSION) {
        rc = tk_error_set(err, TK_ERR,
                          "migrate: this build copies schema version %d, the store has %d; "
                          "update cmd_migrate.c's table list",
                          MIGRATE_SCHEMA_VERSION, tk_db_schema_version());
        goto out;
    }
    if ((rc = open_spec(fs, 1, &from, err)) || (rc = open_spec(ts, 0, &to, err)) ||
        (rc = copy_all(from, to, counts, err)))
        goto out;
    for (size_t i = 0; i < NTABLES; i++)
        total += counts[i];
    if (c->json) {
        json_t *o = json_object(), *t = json_object();
        for (size_t i = 0; i < NTABLES; i++)
            json_object_set_new(t, tables[i].name, json_integer(counts[i]));
        json_object_set_new(o, "from", json_string(tk_db_driver_name(from)));
        json_object_set_new(o, "to", json_string(tk_db_driver_name(to)));
        json_object_set_new(o, "rows", json_integer(total));
        json_object_set_new(o, "tables", t);
        tk_cli_emit(o);
    } else {
        /* The DSN is not echoed: it may carry a password. */
        printf("copied %lld rows from %s to %s:", (long long)total, tk_db_driver_name(from),
               tk_db_driver_name(to));
        for (size_t i = 0; i < NTABLES; i++)
            printf(" %s %lld%s", tables[i].name, (long long)counts[i],
                   i + 1 < NTABLES ? "," : "\n");
    }
out:
    tk_db_close(from);
    tk_db_close(to);
    tk_cli_args_free(&a);
    return rc;
}
