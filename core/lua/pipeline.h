/*
 * pipeline.h - Lua pipeline automations (see docs/lua.md).
 *
 * tk_pipelines_open() loads every *.lua script of [lua] scripts, each in its
 * own sandboxed state, collects the pipeline() and on() declarations and
 * installs itself as the engine's event hook.  Jobs move through stages with
 * tk_pipeline_job_*; entering a stage runs its on_enter automation inside the
 * caller's transaction, so a failing automation rolls everything back.
 */
#ifndef TK_PIPELINE_H
#define TK_PIPELINE_H

#include "engine/engine.h"

struct tk_pipelines;

/* No [lua] scripts configured: *out = NULL and success. Caller closes.
 * A script that fails to load (or a folder that cannot be read) does not
 * fail the open: the other scripts load, and the commands that would run
 * automations (job add, job move, a client event) are refused with its
 * FILE:LINE message, see tk_pipelines_broken().  Fails only when out of
 * memory. */
int tk_pipelines_open(struct tk_engine *e, struct tk_pipelines **out, struct tk_error *err);
void tk_pipelines_close(struct tk_pipelines *p);
/* Load the scripts again (the daemon's SIGHUP): on success *P (may be NULL)
 * is closed and replaced; on failure it stays as it was. */
int tk_pipelines_reload(struct tk_engine *e, struct tk_pipelines **p, struct tk_error *err);
/* Why the I-th broken script did not load ("FILE:LINE: message"), or NULL
 * when fewer than I + 1 are broken (P may be NULL).  Borrowed until P is
 * closed. */
const char *tk_pipelines_broken(const struct tk_pipelines *p, size_t i);

#endif
