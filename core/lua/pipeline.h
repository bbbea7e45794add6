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

/* No [lua] scripts configured: *out = NULL and success. Caller closes. */
int tk_pipelines_open(struct tk_engine *e, struct tk_pipelines **out, struct tk_error *err);
void tk_pipelines_close(struct tk_pipelines *p);

#endif
