/* cmd_migrate.c - `tickler migrate --from STORE --to STORE`: copy a whole
 * store into another, empty one (a deployment that outgrew SQLite moves to
 * PostgreSQL, or back).  STORE is sqlite:PATH or postgres:DSN.
 *
 * The copy itself, its table list and what it promises live next to the
 * schema, in core/db/copy.c (tk_db_copy_stores); this file only reads the
 * options and prints what was copied. */
#include <stdio.h>

#include "cli.h"
#include "db/db.h"

#define USAGE "usage: tickler migrate --from sqlite:PATH|postgres:DSN --to sqlite:PATH|postgres:DSN"

int tk_cmd_migrate(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    static const char *const spec[] = {"from=", "to=", NULL};
    struct tk_cli_args a;
    struct tk_db_copy_stats st;
    size_t n = 0;
    const struct tk_db_table *t = tk_db_copy_tables(&n);
    int rc;
    if ((rc = tk_cli_parse(argc, argv, spec, &a, err)))
        return rc;
    const char *fs = tk_cli_opt(&a, "from"), *ts = tk_cli_opt(&a, "to");
    if (a.pos.n || !fs || !ts) {
        rc = tk_error_set(err, TK_EUSAGE, USAGE);
    } else if ((rc = tk_db_copy_stores(fs, ts, &st, err)) != 0) {
        tk_error_prefix(err, "migrate");
    } else if (c->json) {
        json_t *o = json_object(), *tj = json_object();
        for (size_t i = 0; i < n; i++)
            json_object_set_new(tj, t[i].name, json_integer(st.rows[i]));
        json_object_set_new(o, "from", json_string(st.from));
        json_object_set_new(o, "to", json_string(st.to));
        json_object_set_new(o, "rows", json_integer(st.total));
        json_object_set_new(o, "tables", tj);
        json_object_set_new(o, "source_schema_version", json_integer(st.from_version));
        json_object_set_new(o, "schema_version", json_integer(st.to_version));
        tk_cli_emit(o);
    } else {
        /* The DSN is not echoed: it may carry a password. */
        printf("copied %lld rows from %s to %s:", (long long)st.total, st.from, st.to);
        for (size_t i = 0; i < n; i++)
            printf(" %s %lld%s", t[i].name, (long long)st.rows[i], i + 1 < n ? "," : "\n");
        if (st.from_version > 0 && st.from_version < st.to_version)
            printf("the source was upgraded from schema version %d to %d first\n", st.from_version,
                   st.to_version);
    }
    tk_cli_args_free(&a);
    return rc;
}
