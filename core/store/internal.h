/*
 * internal.h - helpers the store's own files share; not for the engine.
 */
#ifndef TK_STORE_INTERNAL_H
#define TK_STORE_INTERNAL_H

#include <stdio.h>

#include "db/db.h"

/* A copy of text column COL (NULL for SQL NULL); sets *OOM when the copy
 * failed.  Caller frees. */
char *tk_store_col_dup(struct tk_cursor *cur, int col, int *oom);

/* SQL followed by SUFFIX (a clause of the driver's dialect, such as
 * lock_rows) into BUF of SIZE bytes; TK_ERR when it does not fit. */
static inline int tk_store_sql_with(char *buf, size_t size, const char *sql, const char *suffix,
                                    struct tk_error *err)
{
    int n = snprintf(buf, size, "%s%s", sql, suffix ? suffix : "");
    if (n < 0 || (size_t)n >= size)
        return tk_error_set(err, TK_ERR, "store: statement too long for its buffer");
    return 0;
}

struct tk_buf;

/* "(?, ?, ...)" with N placeholders (N >= 1) appended to B: the list of an
 * "IN" over N ids.  Non-zero when B could not grow. */
int tk_store_in_list(struct tk_buf *b, size_t n);

/* Run HEAD followed by "(?, ?, ...)" with one placeholder per id: the NLEAD
 * values of LEAD bind first (HEAD's own placeholders), then the N IDS.
 * ROW is called for each result row until it returns non-zero, which is
 * then returned.  N = 0 runs nothing. */
int tk_store_each_in(struct tk_db *db, const char *head, const struct tk_db_value *lead,
                     size_t nlead, const int64_t *ids, size_t n,
                     int (*row)(void *u, struct tk_cursor *cur), void *u, struct tk_error *err);

#endif
