/* cmd_pipeline.c - `tickler pipeline list` and `tickler pipeline check FILE`. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lua/internal.h"

static json_t *pipeline_json(const struct tk_script *sc, const struct tk_pipeline_def *d)
{
    json_t *o = json_object(), *stages = json_array();
    json_object_set_new(o, "name", json_string(d->name));
    json_object_set_new(o, "script", json_string(sc->path));
    json_object_set_new(o, "line", json_integer(d->line));
    for (size_t i = 0; i < d->nstages; i++) {
        json_t *s = json_object();
        json_object_set_new(s, "name", json_string(d->stages[i].name));
        json_object_set_new(
            s, "advance",
            json_string(d->stages[i].advance == TK_ADVANCE_WHEN_DONE ? "when_done" : "manual"));
        json_object_set_new(s, "automation", json_boolean(d->stages[i].on_enter != LUA_NOREF));
        json_array_append_new(stages, s);
    }
    json_object_set_new(o, "stages", stages);
    return o;
}

static void pipeline_print(const struct tk_script *sc, const struct tk_pipeline_def *d)
{
    printf("%s  (%s:%d)\n", d->name, sc->path, d->line);
    for (size_t i = 0; i < d->nstages; i++)
        printf("  %zu. %s%s%s\n", i + 1, d->stages[i].name,
               d->stages[i].on_enter != LUA_NOREF ? "  [automation]" : "",
               d->stages[i].advance == TK_ADVANCE_WHEN_DONE ? "  [advances when done]" : "");
}

static void handlers_print(const struct tk_script *sc)
{
    for (size_t i = 0; i < sc->nhandlers; i++)
        printf("on %s.%s  (%s)\n", sc->handlers[i].type, sc->handlers[i].event, sc->path);
}

int tk_cmd_pipeline_list(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    (void)argv;
    if (argc)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler pipeline list");
    struct tk_pipelines *p = c->pipelines, *own = NULL;
    /* Listing needs no store: load the scripts here when main() did not. */
    if (!p && c->e) {
        int rc = tk_pipelines_open(c->e, &own, err);
        if (rc)
            return rc;
        p = own;
    }
    json_t *arr = c->json ? json_array() : NULL;
    for (size_t i = 0; p && i < p->nscripts; i++) {
        const struct tk_script *sc = p->scripts[i];
        for (size_t k = 0; k < sc->npipes; k++) {
            if (arr)
                json_array_append_new(arr, pipeline_json(sc, &sc->pipes[k]));
            else
                pipeline_print(sc, &sc->pipes[k]);
        }
        if (!arr)
            handlers_print(sc);
    }
    if (arr)
        tk_cli_emit(arr);
    else if (!p)
        printf("no pipelines: set [lua] scripts = FOLDER in the configuration\n");
    /* What loaded is listed; a broken script fails the command. */
    int rc = tk_pipelines_broken(p, 0)
                 ? tk_error_set(err, TK_EINVAL, "%s", tk_pipelines_broken(p, 0))
                 : 0;
    tk_pipelines_close(own);
    return rc;
}

int tk_cmd_pipeline_check(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    if (argc != 1)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler pipeline check FILE");
    struct tk_lua_limits lim = {0};
    const struct tk_registry *reg = NULL;
    if (c->e) {
        const struct tk_config *cfg = tk_engine_config(c->e);
        reg = tk_engine_plugins(c->e);
        lim.memory_bytes =
            cfg->lua_memory_limit_mb > 0 ? (size_t)cfg->lua_memory_limit_mb << 20 : 0;
        lim.instructions = cfg->lua_instruction_limit;
        lim.time_ms = cfg->lua_time_limit_ms;
    }
    struct tk_script *sc = NULL;
    int rc = tk_script_load(&sc, argv[0], reg, &lim, NULL, err);
    if (rc == 0) {
        if (c->json) {
            json_t *o = json_object(), *arr = json_array();
            for (size_t k = 0; k < sc->npipes; k++)
                json_array_append_new(arr, pipeline_json(sc, &sc->pipes[k]));
            json_object_set_new(o, "file", json_string(argv[0]));
            json_object_set_new(o, "ok", json_true());
            json_object_set_new(o, "pipelines", arr);
            json_object_set_new(o, "handlers", json_integer((json_int_t)sc->nhandlers));
            tk_cli_emit(o);
        } else {
            for (size_t k = 0; k < sc->npipes; k++)
                pipeline_print(sc, &sc->pipes[k]);
            handlers_print(sc);
            printf("%s: ok\n", argv[0]);
        }
    }
    tk_script_free(sc);
    return rc;
}
