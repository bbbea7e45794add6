/*
 * jobs.h - jobs: one account's piece of work moving through a pipeline's
 * stages (domain.md "Pipeline").  Same rules as store.h: every function runs
 * on the caller's transaction; records are owned by the caller and freed
 * with tk_job_free().
 */
#ifndef TK_STORE_JOBS_H
#define TK_STORE_JOBS_H

#include "store/store.h"

struct tk_job {
    int64_t id, account_id;
    char *pipeline; /* the pipeline's name, as declared in its script */
    char *stage;    /* the current stage */
    char *title;
    char *state; /* "active" | "archived" */
    tk_time created_at, updated_at;
};
void tk_job_free(struct tk_job *j);

/* Insert an active job; *id is the new id. */
int tk_store_job_add(struct tk_db *db, const char *pipeline, const char *stage, int64_t account,
                     const char *title, tk_time now, int64_t *id, struct tk_error *err);
/* TK_ENOTFOUND "no job N" when absent. */
int tk_store_job_get(struct tk_db *db, int64_t id, struct tk_job *out, struct tk_error *err);
int tk_store_job_set_stage(struct tk_db *db, int64_t id, const char *stage, tk_time now,
                           struct tk_error *err);
int tk_store_job_set_state(struct tk_db *db, int64_t id, const char *state, tk_time now,
                           struct tk_error *err);
/* Call FN for each job of ACCOUNT (0: all) by id; FN returning non-zero
 * stops with that value.  J is borrowed for the call. */
int tk_store_job_each(struct tk_db *db, int64_t account, int (*fn)(void *u, const struct tk_job *j),
                      void *u, struct tk_error *err);
/* The ids of JOB's items, by id, into *ids (caller frees with free()). */
int tk_store_job_items(struct tk_db *db, int64_t job, int64_t **ids, size_t *n,
                       struct tk_error *err);
/* How many of JOB's items are pending and not archived. */
int tk_store_job_pending(struct tk_db *db, int64_t job, int64_t *n, struct tk_error *err);

#endif
