/*
 * sequence.c - named persistent counters (to-do order, lease tokens).
 *
 * One upsert that returns the new value: no read-then-write race, and the
 * same statement runs on SQLite (3.35+) and PostgreSQL.
 */
#include "store/store.h"

int tk_store_sequence_next(struct tk_db *db, const char *name, int64_t *out, struct tk_error *err)
{
    if (!name || !*name)
        return tk_error_set(err, TK_EINVAL, "sequence name is empty");
    return tk_db_int(db, out, err,
                     "INSERT INTO sequences (name, value) VALUES (?, 1) "
                     "ON CONFLICT (name) DO UPDATE SET value = sequences.value + 1 "
                     "RETURNING value",
                     "s", name);
}

int tk_store_sequence_peek(struct tk_db *db, const char *name, int64_t *out, struct tk_error *err)
{
    if (!name || !*name)
        return tk_error_set(err, TK_EINVAL, "sequence name is empty");
    return tk_db_int(db, out, err,
                     "SELECT COALESCE((SELECT value FROM sequences WHERE name = ?), 0) + 1", "s",
                     name);
}
