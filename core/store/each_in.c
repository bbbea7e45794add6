/*
 * each_in.c - a query over a list of ids ("... IN (?, ?, ...)"), row by row,
 * for the store's batch reads (one statement per page instead of one per
 * item).
 */
#include "store/internal.h"

#include <stdlib.h>

#include "util/util.h"

int tk_store_in_list(struct tk_buf *b, size_t n)
{
    int rc = tk_buf_puts(b, "(?");
    for (size_t i = 1; i < n && rc == 0; i++)
        rc = tk_buf_puts(b, ", ?");
    return rc ? rc : tk_buf_puts(b, ")");
}

int tk_store_each_in(struct tk_db *db, const char *head, const struct tk_db_value *lead,
                     size_t nlead, const int64_t *ids, size_t n,
                     int (*row)(void *u, struct tk_cursor *cur), void *u, struct tk_error *err)
{
    struct tk_buf sql = {0};
    struct tk_db_value *vals;
    struct tk_cursor *cur = NULL;
    int rc = 0, r = 0, ok;

    if (!n)
        return 0;
    if (!(vals = malloc((nlead + n) * sizeof *vals)))
        return tk_error_set(err, TK_ENOMEM, "store: out of memory");
    for (size_t i = 0; i < nlead; i++)
        vals[i] = lead[i];
    for (size_t i = 0; i < n; i++)
        vals[nlead + i] = tk_db_value_int(ids[i]);
    ok = tk_buf_puts(&sql, head) == 0 && tk_store_in_list(&sql, n) == 0;
    if (!ok)
        rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
    else if ((rc = tk_db_query_v(db, &cur, err, sql.data, vals, nlead + n)) == 0) {
        while ((r = tk_cursor_next(cur, err)) > 0)
            if ((rc = row(u, cur)))
                break;
        if (rc == 0 && r < 0)
            rc = err ? err->code : TK_EIO;
        tk_cursor_close(cur);
    }
    free(vals);
    tk_buf_free(&sql);
    return rc;
}
