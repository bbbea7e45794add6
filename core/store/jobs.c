/*
 * jobs.c - the jobs table.  A job's stage is a plain name: the pipeline
 * scripts own the list of stages, so a script edited later may no longer
 * know a stored stage; the pipeline layer reports that when it matters.
 */
#include "store/jobs.h"

#include <stdlib.h>
#include <string.h>

#define JOB_COLS "id, pipeline, stage, account_id, title, state, created_at, updated_at"

void tk_job_free(struct tk_job *j)
{
    if (!j)
        return;
    free(j->pipeline);
    free(j->stage);
    free(j->title);
    free(j->state);
    memset(j, 0, sizeof *j);
}

static int read_job(struct tk_cursor *cur, struct tk_job *j, struct tk_error *err)
{
    memset(j, 0, sizeof *j);
    j->id = tk_cursor_int(cur, 0);
    j->pipeline = tk_strdup(tk_cursor_text(cur, 1));
    j->stage = tk_strdup(tk_cursor_text(cur, 2));
    j->account_id = tk_cursor_int(cur, 3);
    j->title = tk_strdup(tk_cursor_text(cur, 4));
    j->state = tk_strdup(tk_cursor_text(cur, 5));
    j->created_at = tk_cursor_int(cur, 6);
    j->updated_at = tk_cursor_int(cur, 7);
    if (!j->pipeline || !j->stage || !j->title || !j->state) {
        tk_job_free(j);
        return tk_error_set(err, TK_ENOMEM, "store: out of memory");
    }
    return 0;
}

int tk_store_job_add(struct tk_db *db, const char *pipeline, const char *stage, int64_t account,
                     const char *title, tk_time now, int64_t *id, struct tk_error *err)
{
    if (!pipeline || !*pipeline || !stage || !*stage)
        return tk_error_set(err, TK_EINVAL, "job needs a pipeline and a stage");
    if (!title || !*title)
        return tk_error_set(err, TK_EINVAL, "job title is empty");
    int64_t new_id = 0;
    int rc = tk_db_insert(db, &new_id, err,
                          "INSERT INTO jobs (pipeline, stage, account_id, title, state, "
                          "created_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, ?)",
                          "ssisii", pipeline, stage, account, title, (int64_t)now, (int64_t)now);
    if (rc != 0)
        return rc;
    if (id)
        *id = new_id;
    return 0;
}

int tk_store_job_get(struct tk_db *db, int64_t id, struct tk_job *out, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc = tk_db_query(db, &cur, err, "SELECT " JOB_COLS " FROM jobs WHERE id = ?", "i", id);
    if (rc != 0)
        return rc;
    int r = tk_cursor_next(cur, err);
    if (r > 0)
        rc = read_job(cur, out, err);
    else if (r == 0)
        rc = tk_error_set(err, TK_ENOTFOUND, "no job %lld", (long long)id);
    else
        rc = err && err->code ? err->code : TK_EIO;
    tk_cursor_close(cur);
    return rc;
}

static int set_col(struct tk_db *db, const char *sql, int64_t id, const char *v, tk_time now,
                   struct tk_error *err)
{
    int rc = tk_db_exec(db, err, sql, "sii", v, (int64_t)now, id);
    if (rc != 0)
        return rc;
    int64_t n = 0;
    tk_db_changes(db, &n);
    if (n == 0)
        return tk_error_set(err, TK_ENOTFOUND, "no job %lld", (long long)id);
    return 0;
}

int tk_store_job_set_stage(struct tk_db *db, int64_t id, const char *stage, tk_time now,
                           struct tk_error *err)
{
    return set_col(db, "UPDATE jobs SET stage = ?, updated_at = ? WHERE id = ?", id, stage, now,
                   err);
}

int tk_store_job_set_state(struct tk_db *db, int64_t id, const char *state, tk_time now,
                           struct tk_error *err)
{
    return set_col(db, "UPDATE jobs SET state = ?, updated_at = ? WHERE id = ?", id, state, now,
                   err);
}

int tk_store_job_each(struct tk_db *db, int64_t account, int (*fn)(void *u, const struct tk_job *j),
                      void *u, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc = account ? tk_db_query(db, &cur, err,
                                   "SELECT " JOB_COLS " FROM jobs WHERE account_id = ? "
                                   "ORDER BY id",
                                   "i", account)
                     : tk_db_query(db, &cur, err, "SELECT " JOB_COLS " FROM jobs ORDER BY id", "");
    if (rc != 0)
        return rc;
    int r;
    while ((r = tk_cursor_next(cur, err)) > 0) {
        struct tk_job j;
        if ((rc = read_job(cur, &j, err)) != 0)
            break;
        rc = fn(u, &j);
        tk_job_free(&j);
        if (rc != 0)
            break;
    }
    if (r < 0)
        rc = err && err->code ? err->code : TK_EIO;
    tk_cursor_close(cur);
    return rc;
}

int tk_store_job_items(struct tk_db *db, int64_t job, int64_t **ids, size_t *n,
                       struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    *ids = NULL;
    *n = 0;
    int rc =
        tk_db_query(db, &cur, err, "SELECT id FROM items WHERE job_id = ? ORDER BY id", "i", job);
    if (rc != 0)
        return rc;
    size_t cap = 0;
    int r;
    while ((r = tk_cursor_next(cur, err)) > 0) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            int64_t *v = realloc(*ids, ncap * sizeof *v);
            if (!v) {
                rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
                break;
            }
            *ids = v;
            cap = ncap;
        }
        (*ids)[(*n)++] = tk_cursor_int(cur, 0);
    }
    if (r < 0)
        rc = err && err->code ? err->code : TK_EIO;
    tk_cursor_close(cur);
    if (rc != 0) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

int tk_store_job_pending(struct tk_db *db, int64_t job, int64_t *n, struct tk_error *err)
{
    return tk_db_int(db, n, err,
                     "SELECT COUNT(*) FROM items WHERE job_id = ? AND state = 'pending' "
                     "AND archived = 0",
                     "i", job);
}
