/* declared.c - what the loaded scripts declare (pipelines, stages, on()
 * handlers), handed to front ends as plain records (pipeline.h), so that
 * they need none of the Lua layer's internals. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static struct tk_lua_limits limits_of(const struct tk_config *cfg)
{
    struct tk_lua_limits lim = {0};
    if (cfg) {
        lim.memory_bytes =
            cfg->lua_memory_limit_mb > 0 ? (size_t)cfg->lua_memory_limit_mb << 20 : 0;
        lim.instructions = cfg->lua_instruction_limit;
        lim.time_ms = cfg->lua_time_limit_ms;
    }
    return lim;
}

int tk_pipeline_check(struct tk_engine *e, const char *path, const struct tk_pipeline_visitor *v,
                      struct tk_error *err)
{
    struct tk_lua_limits lim = limits_of(e ? tk_engine_config(e) : NULL);
    const struct tk_registry *reg = e ? tk_engine_plugins(e) : NULL;
    struct tk_script *sc = NULL;
    int rc;
    if ((rc = tk_script_load(&sc, path, reg, &lim, NULL, err)) == 0)
        rc = walk_script(sc, v, err);
    tk_script_free(sc);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of DIR ending in .lua, sorted, without dot files. */
static int list_lua(const char *dir, struct tk_strv *out)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        size_t n = strlen(de->d_name);
        char *p;
        if (de->d_name[0] == '.')
            continue;
        if (!(p = tk_strprintf("%s/%s", dir, de->d_name)))
            break;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && n > 4 &&
            strcmp(de->d_name + n - 4, ".lua") == 0)
            tk_strv_push(out, de->d_name);
        free(p);
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, by_name);
    return 0;
}

int tk_pipelines_check_folder(const struct tk_config *cfg, const struct tk_registry *reg,
                              void (*problem)(void *u, const char *msg), void *u, size_t *nscripts,
                              struct tk_error *err)
{
    struct tk_lua_limits lim = limits_of(cfg);
    struct tk_strv names = {0};
    struct tk_script **loaded;
    size_t nloaded = 0;
    char msg[2 * TK_ERROR_MAX];
    *nscripts = 0;
    if (list_lua(cfg->lua_scripts, &names) != 0)
        return tk_error_set(err, TK_EIO, "[lua] scripts: cannot open folder %s: %s",
                            cfg->lua_scripts, strerror(errno));
    loaded = calloc(names.n ? names.n : 1, sizeof *loaded);
    for (size_t i = 0; loaded && i < names.n; i++) {
        struct tk_error e = {0};
        struct tk_script *sc = NULL;
        char *path = tk_strprintf("%s/%s", cfg->lua_scripts, names.v[i]);
        if (!path)
            break;
        if (tk_script_load(&sc, path, reg, &lim, NULL, &e) != 0) {
            problem(u, e.msg);
            tk_script_free(sc);
        } else {
            /* two scripts declaring one pipeline: tk_pipelines_open refuses it */
            for (size_t p = 0; p < sc->npipes; p++)
                for (size_t j = 0; j < nloaded; j++)
                    for (size_t q = 0; q < loaded[j]->npipes; q++)
                        if (strcmp(loaded[j]->pipes[q].name, sc->pipes[p].name) == 0) {
                            snprintf(msg, sizeof msg,
                                     "%s:%d: pipeline '%s' is declared in %s:%d already", sc->path,
                                     sc->pipes[p].line, sc->pipes[p].name, loaded[j]->path,
                                     loaded[j]->pipes[q].line);
                            problem(u, msg);
                        }
            loaded[nloaded++] = sc;
        }
        free(path);
    }
    *nscripts = names.n;
    for (size_t i = 0; i < nloaded; i++)
        tk_script_free(loaded[i]);
    free(loaded);
    tk_strv_free(&names);
    return 0;
}
