/* migrate.c - what `tickler migrate --from STORE --to STORE` does
 * (tk_engine_migrate_store): the copy itself, its table list and what it
 * promises live next to the schema (db/copy.c, tk_db_copy_stores); the
 * engine hands its result to front ends, which see no driver. */
#include <string.h>

#include "internal.h"

_Static_assert(TK_MIGRATE_TABLES >= TK_DB_COPY_MAX_TABLES, "struct tk_migrate_result is too small");

int tk_engine_migrate_store(const char *from, const char *to, struct tk_migrate_result *out,
                            struct tk_error *err)
{
    struct tk_db_copy_stats st;
    size_t n = 0;
    const struct tk_db_table *t = tk_db_copy_tables(&n);
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = tk_db_copy_stores(from, to, &st, err)))
        return rc;
    out->from = st.from;
    out->to = st.to;
    out->from_version = st.from_version;
    out->to_version = st.to_version;
    for (size_t i = 0; i < n && i < TK_MIGRATE_TABLES; i++) {
        out->table[i] = t[i].name;
        out->rows[i] = st.rows[i];
    }
    out->ntables = n < TK_MIGRATE_TABLES ? n : TK_MIGRATE_TABLES;
    out->total = st.total;
    return 0;
}
