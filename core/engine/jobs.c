/* jobs.c - jobs as the store keeps them (domain.md "Pipeline"): what front
 * ends read about them.  Moving a job through its pipeline's stages, with
 * the automations that run on the way, is the Lua layer's
 * (lua/pipeline.h). */
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
