/* cmd_migrate.c - `tickler migrate --from STORE --to STORE`: copy a whole
 * store into another, empty one (a deployment that outgrew SQLite moves to
 * PostgreSQL, or back).  STORE is sqlite:PATH or postgres:DSN.
 *
 * The copy is the engine's (tk_engine_migrate_store, over db/copy.c); this
 * file only reads the options and prints what was copied. */
#include <stdio.h>

#include "commands.h"

#define USAGE "usage: tickler migrate --from sqlite:PATH|postgres:DSN --to sqlite:PATH|postgres:DSN"

int tk_cmd_migrate_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"from=", "to=", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (!rc && (a->pos.n || !tk_cli_opt(a, "from") || !tk_cli_opt(a, "to")))
        rc = tk_error_set(err, TK_EUSAGE, USAGE);
    return rc;
}

int tk_cmd_migrate(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_migrate_result m;
    const char *fs = tk_cli_opt(a, "from"), *ts = tk_cli_opt(a, "to");
    int rc;
    if ((rc = tk_engine_migrate_store(fs, ts, &m, err)) != 0) {
        tk_error_prefix(err, "migrate");
    } else if (c->json) {
        json_t *o = json_object(), *tj = json_object();
        for (size_t i = 0; i < m.ntables; i++)
            json_object_set_new(tj, m.table[i], json_integer(m.rows[i]));
        json_object_set_new(o, "from", json_string(m.from));
        json_object_set_new(o, "to", json_string(m.to));
        json_object_set_new(o, "rows", json_integer(m.total));
        json_object_set_new(o, "tables", tj);
        json_object_set_new(o, "source_schema_version", json_integer(m.from_version));
        json_object_set_new(o, "schema_version", json_integer(m.to_version));
        tk_cli_emit(o);
    } else {
        /* The DSN is not echoed: it may carry a password. */
        printf("copied %lld rows from %s to %s:", (long long)m.total, m.from, m.to);
        for (size_t i = 0; i < m.ntables; i++)
            printf(" %s %lld%s", m.table[i], (long long)m.rows[i], i + 1 < m.ntables ? "," : "\n");
        if (m.from_version > 0 && m.from_version < m.to_version)
            printf("the source was upgraded from schema version %d to %d first\n", m.from_version,
                   m.to_version);
    }
    return rc;
}
