/* jobs.c - jobs as the store keeps them (domain.md "Pipeline"): reading
 * them, and recording a new job, a stage change or an archive with its
 * audit entry.  Which stages exist and the automations that run on the
 * way are the Lua layer's (lua/pipeline.h), which calls these. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

int tk_engine_job_get(struct tk_engine *e, int64_t id, struct tk_job *out, struct tk_error *err)
{
    return tk_store_job_get(e->db, id, out, err);
}

int tk_engine_jobs_each(struct tk_engine *e, int64_t account,
                        int (*fn)(void *u, const struct tk_job *j), void *u, struct tk_error *err)
{
    return tk_store_job_each(e->db, account, fn, u, err);
}

int tk_engine_job_items(struct tk_engine *e, int64_t job, int64_t **ids, size_t *n,
                        struct tk_error *err)
{
    return tk_store_job_items(e->db, job, ids, n, err);
}

int tk_engine_job_pending(struct tk_engine *e, int64_t job, int64_t *n, struct tk_error *err)
{
    return tk_store_job_pending(e->db, job, n, err);
}

int tk_engine_job_add(struct tk_engine *e, const char *pipeline, const char *stage, int64_t account,
                      const char *title, int64_t *id, struct tk_error *err)
{
    char detail[TK_ERROR_MAX];
    int64_t v = 0;
    int rc = tk_store_job_add(e->db, pipeline, stage, account, title, e->now, &v, err);
    if (rc)
        return rc;
    snprintf(detail, sizeof detail, "job '%s' added to pipeline '%s' in stage '%s'", title,
             pipeline, stage);
    if ((rc = tk_engine_audit(e, account, 0, v, "job-added", detail, err)))
        return rc;
    if (id)
        *id = v;
    return 0;
}

int tk_engine_job_set_stage(struct tk_engine *e, int64_t job, const char *stage, const char *why,
                            struct tk_error *err)
{
    struct tk_job j;
    char detail[TK_ERROR_MAX];
    int rc = tk_store_job_get(e->db, job, &j, err);
    if (rc)
        return rc;
    snprintf(detail, sizeof detail, "job '%s' moved from stage '%s' to '%s'%s", j.title, j.stage,
             stage, why ? why : "");
    if ((rc = tk_store_job_set_stage(e->db, job, stage, e->now, err)) == 0)
        rc = tk_engine_audit(e, j.account_id, 0, job, "job-moved", detail, err);
    tk_job_free(&j);
    return rc;
}

int tk_engine_job_archive(struct tk_engine *e, int64_t job, struct tk_error *err)
{
    struct tk_job j;
    char detail[TK_ERROR_MAX];
    int rc = tk_store_job_get(e->db, job, &j, err);
    if (rc)
        return rc;
    if (strcmp(j.state, "archived") != 0) {
        snprintf(detail, sizeof detail,
                 "job '%s' archived in stage '%s'; reminders of its items stopped", j.title,
                 j.stage);
        if ((rc = tk_store_job_set_state(e->db, job, "archived", e->now, err)) == 0 &&
            (rc = tk_engine_stop_job_items(e, job, err)) == 0)
            rc = tk_engine_audit(e, j.account_id, 0, job, "job-archived", detail, err);
    }
    tk_job_free(&j);
    return rc;
}
