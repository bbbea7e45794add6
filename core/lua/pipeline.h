/*
 * pipeline.h - Lua pipeline automations (see docs/lua.md): what front ends
 * (the CLI, later HTTP) use of the Lua layer.
 *
 * tk_pipelines_open() loads every *.lua script of [lua] scripts, each in its
 * own sandboxed state, collects the pipeline() and on() declarations and
 * installs itself as the engine's event hook.  Jobs move through stages with
 * tk_pipeline_job_*; entering a stage runs its on_enter automation inside the
 * caller's transaction (tk_engine_begin), so a failing automation rolls
 * everything back.  The job's records and their audit entries are written
 * through the engine (tk_engine_job_*), with the engine's actor for what the
 * caller asked and actor "pipeline" for what the automations do.
 *
 * Ownership: a struct tk_pipelines borrows its engine, which must outlive
 * it; close the pipelines before the engine.  Strings passed in are
 * borrowed for the call.
 */
#ifndef TK_PIPELINE_H
#define TK_PIPELINE_H

#include "engine/engine.h"

struct tk_pipelines;

/* No [lua] scripts configured: *out = NULL and success.  Caller closes
 * with tk_pipelines_close (also after a failure; NULL is fine).  A script
 * that fails to load (or a folder that cannot be read) does not fail the
 * open: the other scripts load, and the commands that would run
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

/* ---- jobs (in the caller's transaction) ------------------------------- */

/* TK_EINVAL "no pipelines: set [lua] scripts ..." when P is NULL (no
 * scripts configured): what job add/move/archive say first, in every
 * front end. */
int tk_pipelines_need(const struct tk_pipelines *p, struct tk_error *err);
/* Whether TITLE (NULL: none given) may title a job: one line of at most
 * 200 bytes of UTF-8; TK_EINVAL otherwise. */
int tk_pipeline_job_title_check(const char *title, struct tk_error *err);

/* Create a job of PIPELINE for ACCOUNT (TITLE NULL or "": the pipeline's
 * name) and enter STAGE (NULL: the first), running its automation.
 * *id (may be NULL) is the new job's id.  TK_ENOTFOUND for an unknown
 * pipeline or stage (the message lists the stages). */
int tk_pipeline_job_add(struct tk_pipelines *p, const char *pipeline, int64_t account,
                        const char *title, const char *stage, int64_t *id, struct tk_error *err);
/* Move JOB to STAGE and run its on_enter.  TK_ENOTFOUND for an unknown job
 * or stage, TK_ECONFLICT for an archived job. */
int tk_pipeline_job_move(struct tk_pipelines *p, int64_t job, const char *stage,
                         struct tk_error *err);
/* Archive JOB: state "archived", its items' reminders stop.  Archiving an
 * archived job changes nothing. */
int tk_pipeline_job_archive(struct tk_pipelines *p, int64_t job, struct tk_error *err);

/* ---- what the scripts declare ------------------------------------------ */

struct tk_stage_info {
    const char *name;
    int when_done;  /* advance = "when_done" (else "manual") */
    int automation; /* has an on_enter */
};

struct tk_pipeline_info {
    const char *name;
    const char *script; /* the path of the script that declares it */
    int line;           /* where pipeline() was called */
    const struct tk_stage_info *stages;
    size_t nstages;
};

struct tk_handler_info {
    const char *type, *event; /* on("invoice.paid"): "invoice", "paid" */
    const char *script;
};

/* What a walk over the declarations calls, in load order: for each script
 * its pipelines in the order declared, then its on() handlers.  Either
 * callback may be NULL.  Everything handed over is borrowed for the call.
 * A callback returning non-zero stops the walk, which returns that
 * value. */
struct tk_pipeline_visitor {
    int (*pipeline)(void *u, const struct tk_pipeline_info *pl);
    int (*handler)(void *u, const struct tk_handler_info *h);
    void *u;
};

/* Walk the declarations of the loaded scripts (P NULL: none). */
int tk_pipelines_each(const struct tk_pipelines *p, const struct tk_pipeline_visitor *v,
                      struct tk_error *err);
/* Load the script at PATH alone in a sandbox with E's limits and plugins
 * (E NULL: the default limits, on() events not checked), then walk its
 * declarations.  Only its top level runs: no automation, no store.  A
 * script that fails to load gives its "PATH:LINE: message". */
int tk_pipeline_check(struct tk_engine *e, const char *path, const struct tk_pipeline_visitor *v,
                      struct tk_error *err);

/* Load every *.lua file of [lua] scripts (CFG) on its own, with CFG's
 * limits and REG's verbs and events (REG NULL: not checked), as
 * tk_pipelines_open() would, but go on after a failure: PROBLEM (borrowed
 * message) gets each script that fails to load and each pipeline declared
 * twice, "FILE:LINE: message".  Only the scripts' top level runs: no
 * automation, no store.  *NSCRIPTS: the files found.  Non-zero only when
 * the folder cannot be read (ERR says why). */
int tk_pipelines_check_folder(const struct tk_config *cfg, const struct tk_registry *reg,
                              void (*problem)(void *u, const char *msg), void *u, size_t *nscripts,
                              struct tk_error *err);

#endif
