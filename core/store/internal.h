/*
 * internal.h - helpers the store's own files share; not for the engine.
 */
#ifndef TK_STORE_INTERNAL_H
#define TK_STORE_INTERNAL_H

#include "db/db.h"

/* A copy of text column COL (NULL for SQL NULL); sets *OOM when the copy
 * failed.  Caller frees. */
char *tk_store_col_dup(struct tk_cursor *cur, int col, int *oom);

#endif
