/* declared.c - what the loaded scripts declare (pipelines, stages, on()
 * handlers), handed to front ends as plain records (pipeline.h), so that
 * they need none of the Lua layer's internals. */
#include <stdlib.h>

#include "lua/internal.h"

static int walk_script(const struct tk_script *sc, const struct tk_pipeline_visitor *v,
                       struct tk_error *err)
{
    int rc = 0;
    for (size_t k = 0; rc == 0 && v->pipeline && k < sc->npipes; k++) {
        const struct tk_pipeline_def *d = &sc->pipes[k];
        struct tk_stage_info *st = calloc(d->nstages ? d->nstages : 1, sizeof *st);
        if (!st)
            return tk_error_set(err, TK_ENOMEM, "out of memory");
        for (size_t i = 0; i < d->nstages; i++) {
            st[i].name = d->stages[i].name;
            st[i].when_done = d->stages[i].advance == TK_ADVANCE_WHEN_DONE;
            st[i].automation = d->stages[i].on_enter != LUA_NOREF;
        }
        struct tk_pipeline_info pl = {d->name, sc->path, d->line, st, d->nstages};
        rc = v->pipeline(v->u, &pl);
        free(st);
    }
    for (size_t i = 0; rc == 0 && v->handler && i < sc->nhandlers; i++) {
        struct tk_handler_info h = {sc->handlers[i].type, sc->handlers[i].event, sc->path};
        rc = v->handler(v->u, &h);
    }
    return rc;
}

int tk_pipelines_each(const struct tk_pipelines *p, const struct tk_pipeline_visitor *v,
                      struct tk_error *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && p && i < p->nscripts; i++)
        rc = walk_script(p->scripts[i], v, err);
    return rc;
}

int tk_pipeline_check(struct tk_engine *e, const char *path, const struct tk_pipeline_visitor *v,
                      struct tk_error *err)
{
    struct tk_lua_limits lim = {0};
    const struct tk_registry *reg = NULL;
    struct tk_script *sc = NULL;
    int rc;
    if (e) {
        const struct tk_config *cfg = tk_engine_config(e);
        reg = tk_engine_plugins(e);
        lim.memory_bytes =
            cfg->lua_memory_limit_mb > 0 ? (size_t)cfg->lua_memory_limit_mb << 20 : 0;
        lim.instructions = cfg->lua_instruction_limit;
        lim.time_ms = cfg->lua_time_limit_ms;
    }
    if ((rc = tk_script_load(&sc, path, reg, &lim, NULL, err)) == 0)
        rc = walk_script(sc, v, err);
    tk_script_free(sc);
    return rc;
}
