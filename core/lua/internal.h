/*
 * internal.h - the pieces of core/lua shared between its files (not used
 * outside core/lua, except by the unit tests).
 *
 *   sandbox.c   struct tk_lua: one lua_State with a budgeted allocator, an
 *               instruction/wall-clock hook, a watchdog timer, and the
 *               base functions that keep a killed call killed
 *   libs.c      the allowed libraries, opened one by one
 *   pattern.c   string.find/match/gmatch/gsub: a matcher with a step budget
 *   tablib.c    the table library, its loops charging the budget
 *   script.c    loading a script: pipeline() and on() declarations
 *   job.c       the job userdata and its methods
 *   pipeline.c  the set of scripts, stage entry, the engine's event hook
 */
#ifndef TK_LUA_INTERNAL_H
#define TK_LUA_INTERNAL_H

#include <lauxlib.h>
#include <lua.h>

#include "engine/webhooks.h"
#include "lua/pipeline.h"
#include "store/jobs.h"

/* ---- sandbox ---------------------------------------------------------- */

struct tk_lua_limits {
    size_t memory_bytes;  /* 0: 16 MiB */
    int64_t instructions; /* per outermost call; 0: 50 million */
    int time_ms;          /* wall clock per outermost call; 0: 1000 */
};

struct tk_lua;

/* A fresh sandboxed state for the script NAME (used in messages; copied).
 * LIM may be NULL (defaults).  Caller closes with tk_lua_close. */
int tk_lua_open(struct tk_lua **out, const char *name, const struct tk_lua_limits *lim,
                struct tk_error *err);
void tk_lua_close(struct tk_lua *s);
lua_State *tk_lua_state(struct tk_lua *s);
/* The sandbox of L (stored in L's extra space). */
struct tk_lua *tk_lua_of(lua_State *L);
const char *tk_lua_name(const struct tk_lua *s);
/* The clock os.time()/os.date() use (the engine's --now). */
void tk_lua_set_now(struct tk_lua *s, tk_time now);
tk_time tk_lua_now(lua_State *L);
/* Host data for the binding layer (struct tk_pipelines *), borrowed. */
void tk_lua_set_host(struct tk_lua *s, void *host);
void *tk_lua_host(struct tk_lua *s);

/* Compile TEXT (text only, never bytecode) as chunk NAME with the script's
 * environment table as _ENV; pushes the function.  A syntax error is
 * "NAME:LINE: message". */
int tk_lua_load(struct tk_lua *s, const char *text, size_t len, struct tk_error *err);
/* Push the script's environment table (its globals). */
void tk_lua_push_env(struct tk_lua *s);

/* Call the function below NARGS arguments on the stack, like lua_pcall with
 * a message handler, under the limits (the budget is armed by the outermost
 * call; nested calls share it).  LABEL names the function in messages when
 * Lua cannot ("on_enter").  On failure ERR is
 * "SCRIPT:LINE: in function 'NAME': message" and nothing is left on the
 * stack. */
int tk_lua_call(struct tk_lua *s, int nargs, int nresults, const char *label, struct tk_error *err);

/* Fail the running call for good: MSG becomes its error, and every further
 * Lua instruction raises it again so that pcall cannot swallow it.  Raises
 * (does not return).  Used for limits and for host failures after which the
 * transaction may be half-written. */
int tk_lua_kill(lua_State *L, const char *fmt, ...) TK_PRINTF(2, 3);

/* Charge STEPS of work done inside the C function FN ("string.find")
 * against the running call's instruction budget, and check its deadline:
 * raises (tk_lua_kill) when either is spent, or when the call was killed
 * already.  Library functions that loop in C call it every few thousand
 * steps, so no single call can outrun the limits. */
void tk_lua_charge(lua_State *L, int64_t steps, const char *fn);

/* The base functions that enforce the limits (sandbox.c), as lua_CFunctions:
 * pcall and xpcall re-raise for a killed call and never run xpcall's
 * handler for it; print writes at most 64 KiB per call to stderr. */
int tk_lua_pcall(lua_State *L);
int tk_lua_xpcall(lua_State *L);
int tk_lua_print(lua_State *L);

/* libs.c: push a new environment table holding the allowed globals (a
 * lua_CFunction run protected by tk_lua_open). */
int tk_lua_open_env(lua_State *L);
/* pattern.c: set find, match, gmatch and gsub in the string table at the
 * top of the stack. */
void tk_lua_open_patterns(lua_State *L);
/* tablib.c: set the table library's functions in the table at the top of
 * the stack. */
void tk_lua_open_table(lua_State *L);

/* ---- scripts ------------------------------------------------------------ */

enum { TK_ADVANCE_MANUAL = 0, TK_ADVANCE_WHEN_DONE = 1 };

struct tk_stage {
    char *name;
    int advance;  /* TK_ADVANCE_* */
    int on_enter; /* registry ref or LUA_NOREF */
};

struct tk_pipeline_def {
    char *name;
    int line; /* where pipeline() was called */
    struct tk_stage *stages;
    size_t nstages;
};

struct tk_handler {
    char *type, *event; /* on("invoice.paid"): "invoice", "paid" */
    int fn;             /* registry ref */
};

/* webhook("NAME", [{header=, prefix=},] fn) (webhook.c) */
struct tk_hook_decl {
    char *name;
    struct tk_webhook_spec spec;
    int fn; /* registry ref */
};

struct tk_script {
    char *path;
    struct tk_lua *lua;
    struct tk_pipeline_def *pipes;
    size_t npipes;
    struct tk_handler *handlers;
    size_t nhandlers;
    int loading; /* pipeline()/on() only while the chunk runs */
    struct tk_hook_decl *hooks;
    size_t nhooks;
};

/* Load and run the script at PATH (NAME in messages: as given), collecting
 * its declarations.  REG (may be NULL: no check) validates on() events and
 * provides the job verbs.  HOST is handed to the job methods (may be NULL
 * for pipeline check).  Caller frees with tk_script_free (also on failure). */
int tk_script_load(struct tk_script **out, const char *path, const struct tk_registry *reg,
                   const struct tk_lua_limits *lim, void *host, struct tk_error *err);
/* The same from a buffer (unit tests). */
int tk_script_load_text(struct tk_script **out, const char *name, const char *text, size_t len,
                        const struct tk_registry *reg, const struct tk_lua_limits *lim, void *host,
                        struct tk_error *err);
void tk_script_free(struct tk_script *sc);
const struct tk_stage *tk_pipeline_stage(const struct tk_pipeline_def *p, const char *name,
                                         size_t *index);

/* ---- job userdata (job.c) ----------------------------------------------- */

/* Register the job class (metatable and methods, one per item-type verb of
 * REG) in L. */
void tk_job_class_open(lua_State *L, const struct tk_registry *reg);
/* Push a job object for job ID. */
void tk_job_push(lua_State *L, int64_t id);

/* ---- pipelines (pipeline.c) --------------------------------------------- */

struct tk_pipelines {
    struct tk_engine *e;
    struct tk_script **scripts;
    size_t nscripts;
    struct tk_lua_limits lim;
    int depth;                /* nested stage entries (job:move in on_enter) */
    struct tk_strv broken;    /* why each broken script did not load */
    const char *hook_running; /* the webhook whose handler runs, else NULL */
};

/* The pipeline NAME and its script, or TK_ENOTFOUND. */
int tk_pipelines_find(struct tk_pipelines *p, const char *name, struct tk_script **sc,
                      const struct tk_pipeline_def **def, struct tk_error *err);
/* Create an item for JOB (the job methods). */
int tk_pipeline_job_create(struct tk_pipelines *p, int64_t job, struct tk_send_req *req,
                           int64_t *item, struct tk_error *err);

/* ---- webhooks (webhook.c) ------------------------------------------------ */

/* Set webhook() (declarations, for script SC) and event() (for handlers)
 * in the environment table at the top of L's stack. */
void tk_webhook_lua_open(lua_State *L, struct tk_script *sc);
/* Free SC's webhook declarations (L may be NULL: the state is gone). */
void tk_webhook_lua_free(lua_State *L, struct tk_script *sc);
/* The handler layer the engine calls (U: struct tk_pipelines *). */
extern const struct tk_webhook_handler tk_lua_webhook_handler;

#endif
