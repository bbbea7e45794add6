/*
 * script.c - loading one pipeline script: its sandbox, and the pipeline()
 * and on() declarations it makes while its main chunk runs.
 *
 * pipeline and on are C closures whose upvalue is the script: the host
 * keeps the declarations (and references to the on_enter and handler
 * functions) on its side, never looking anything up in the script's
 * globals, so a script that redefines or deletes `pipeline` or `on` only
 * changes its own view.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/internal.h"

#define MAX_SCRIPT_BYTES ((size_t)1 << 20)

static struct tk_script *script_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

static int check_loading(lua_State *L, struct tk_script *sc, const char *what)
{
    if (!sc->loading)
        return luaL_error(L,
                          "%s() may only be called while the script loads, not from an "
                          "automation",
                          what);
    return 0;
}

static int valid_name(const char *s)
{
    return s && *s && strlen(s) <= 200 && tk_utf8_valid(s, strlen(s));
}

/* Read one stage table at index IDX into ST (refs taken for on_enter). */
static void read_stage(lua_State *L, int idx, size_t pos, struct tk_stage *st)
{
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_error(L, "stage %d: expected a table { stage = NAME, ... }", (int)pos);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (!k ||
            (strcmp(k, "stage") != 0 && strcmp(k, "on_enter") != 0 && strcmp(k, "advance") != 0))
            luaL_error(L, "stage %d: unknown key '%s' (known: stage, on_enter, advance)", (int)pos,
                       k ? k : luaL_typename(L, -2));
        lua_pop(L, 1);
    }
    lua_getfield(L, idx, "stage");
    if (lua_type(L, -1) != LUA_TSTRING || !valid_name(lua_tostring(L, -1)))
        luaL_error(L, "stage %d: 'stage' must be a non-empty name", (int)pos);
    st->name = tk_strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    if (!st->name)
        luaL_error(L, "out of memory");
    lua_getfield(L, idx, "advance");
    if (lua_isnil(L, -1))
        st->advance = TK_ADVANCE_MANUAL;
    else if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "when_done") == 0)
        st->advance = TK_ADVANCE_WHEN_DONE;
    else if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "manual") == 0)
        st->advance = TK_ADVANCE_MANUAL;
    else
        luaL_error(L, "stage '%s': advance must be \"when_done\" or \"manual\"", st->name);
    lua_pop(L, 1);
    lua_getfield(L, idx, "on_enter");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
    } else if (lua_type(L, -1) == LUA_TFUNCTION) {
        st->on_enter = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        luaL_error(L, "stage '%s': on_enter must be a function", st->name);
    }
}

static void free_def(lua_State *L, struct tk_pipeline_def *d)
{
    for (size_t i = 0; i < d->nstages; i++) {
        free(d->stages[i].name);
        if (L)
            luaL_unref(L, LUA_REGISTRYINDEX, d->stages[i].on_enter);
    }
    free(d->stages);
    free(d->name);
    memset(d, 0, sizeof *d);
}

/* pipeline(NAME, { {stage = ...}, ... }) */
static int l_pipeline(lua_State *L)
{
    struct tk_script *sc = script_of(L);
    check_loading(L, sc, "pipeline");
    const char *name = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!valid_name(name))
        return luaL_error(L, "pipeline name must be non-empty UTF-8 of at most 200 bytes");
    for (size_t i = 0; i < sc->npipes; i++)
        if (strcmp(sc->pipes[i].name, name) == 0)
            return luaL_error(L, "pipeline '%s' is declared twice", name);
    lua_Integer n = luaL_len(L, 2);
    if (n < 1 || n > 100)
        return luaL_error(L, "pipeline '%s' needs between 1 and 100 stages", name);
    struct tk_pipeline_def *v = realloc(sc->pipes, (sc->npipes + 1) * sizeof *v);
    if (!v)
        return luaL_error(L, "out of memory");
    sc->pipes = v;
    struct tk_pipeline_def *d = &sc->pipes[sc->npipes++];
    memset(d, 0, sizeof *d);
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
        d->line = ar.currentline;
    d->name = tk_strdup(name);
    d->stages = calloc((size_t)n, sizeof *d->stages);
    if (!d->name || !d->stages)
        return luaL_error(L, "out of memory");
    for (lua_Integer i = 1; i <= n; i++) {
        d->stages[i - 1].on_enter = LUA_NOREF;
        d->nstages = (size_t)i;
        lua_geti(L, 2, i);
        read_stage(L, lua_gettop(L), (size_t)i, &d->stages[i - 1]);
        lua_pop(L, 1);
        for (lua_Integer j = 1; j < i; j++)
            if (strcmp(d->stages[j - 1].name, d->stages[i - 1].name) == 0)
                return luaL_error(L, "pipeline '%s': stage '%s' appears twice", name,
                                  d->stages[i - 1].name);
    }
    return 0;
}

/* on("TYPE.EVENT", fn), on("reminder.sent", fn), on("reminders.exhausted", fn) */
static int l_on(lua_State *L)
{
    struct tk_script *sc = script_of(L);
    check_loading(L, sc, "on");
    const char *ev = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    const char *dot = strchr(ev, '.');
    if (!dot || dot == ev || !dot[1])
        return luaL_error(L, "on('%s'): expected \"TYPE.EVENT\", e.g. \"invoice.paid\"", ev);
    const struct tk_registry *reg = lua_touserdata(L, lua_upvalueindex(2));
    char type[64];
    size_t tl = (size_t)(dot - ev);
    if (tl >= sizeof type)
        return luaL_error(L, "on('%s'): unknown item type", ev);
    memcpy(type, ev, tl);
    type[tl] = '\0';
    /* issue 14: the scheduler's own events, for every item type */
    int reminder_event = strcmp(ev, "reminder.sent") == 0 || strcmp(ev, "reminders.exhausted") == 0;
    if (reg && !reminder_event) {
        const struct tk_plugin *pl = tk_registry_item(reg, type);
        if (!pl)
            return luaL_error(L, "on('%s'): unknown item type '%s'", ev, type);
        int found = 0;
        for (const struct tk_event_spec *e = pl->item->events; e && e->name; e++)
            found |= strcmp(e->name, dot + 1) == 0;
        if (!found)
            return luaL_error(L, "on('%s'): %s has no event '%s'", ev, type, dot + 1);
    }
    struct tk_handler *v = realloc(sc->handlers, (sc->nhandlers + 1) * sizeof *v);
    if (!v)
        return luaL_error(L, "out of memory");
    sc->handlers = v;
    struct tk_handler *h = &sc->handlers[sc->nhandlers];
    h->type = tk_strdup(type);
    h->event = tk_strdup(dot + 1);
    if (!h->type || !h->event) {
        free(h->type);
        free(h->event);
        return luaL_error(L, "out of memory");
    }
    lua_pushvalue(L, 2);
    h->fn = luaL_ref(L, LUA_REGISTRYINDEX);
    sc->nhandlers++;
    return 0;
}

void tk_script_free(struct tk_script *sc)
{
    if (!sc)
        return;
    lua_State *L = sc->lua ? tk_lua_state(sc->lua) : NULL;
    for (size_t i = 0; i < sc->npipes; i++)
        free_def(L, &sc->pipes[i]);
    free(sc->pipes);
    for (size_t i = 0; i < sc->nhandlers; i++) {
        free(sc->handlers[i].type);
        free(sc->handlers[i].event);
    }
    free(sc->handlers);
    tk_webhook_lua_free(L, sc);
    tk_lua_close(sc->lua);
    free(sc->path);
    free(sc);
}

int tk_script_load_text(struct tk_script **out, const char *name, const char *text, size_t len,
                        const struct tk_registry *reg, const struct tk_lua_limits *lim, void *host,
                        struct tk_error *err)
{
    struct tk_script *sc = calloc(1, sizeof *sc);
    *out = sc;
    if (!sc || !(sc->path = tk_strdup(name)))
        return tk_error_set(err, TK_ENOMEM, "lua: out of memory");
    int rc = tk_lua_open(&sc->lua, name, lim, err);
    if (rc != 0)
        return rc;
    tk_lua_set_host(sc->lua, host);
    lua_State *L = tk_lua_state(sc->lua);
    if (!lua_checkstack(L, 8))
        return tk_error_set(err, TK_ENOMEM, "%s: out of memory", name);
    tk_job_class_open(L, reg);
    tk_lua_push_env(sc->lua);
    lua_pushlightuserdata(L, sc);
    lua_pushcclosure(L, l_pipeline, 1);
    lua_setfield(L, -2, "pipeline");
    lua_pushlightuserdata(L, sc);
    lua_pushlightuserdata(L, (void *)reg);
    lua_pushcclosure(L, l_on, 2);
    lua_setfield(L, -2, "on");
    tk_webhook_lua_open(L, sc);
    lua_pop(L, 1);
    if ((rc = tk_lua_load(sc->lua, text, len, err)) != 0)
        return rc;
    sc->loading = 1;
    rc = tk_lua_call(sc->lua, 0, 0, "main chunk", err);
    sc->loading = 0;
    if (rc != 0)
        return rc;
    if (sc->npipes == 0 && sc->nhandlers == 0 && sc->nhooks == 0)
        return tk_error_set(err, TK_EINVAL,
                            "%s:1: declares no pipeline(), no on() handler and no webhook()", name);
    return 0;
}

int tk_script_load(struct tk_script **out, const char *path, const struct tk_registry *reg,
                   const struct tk_lua_limits *lim, void *host, struct tk_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tk_error_set(err, TK_EIO, "%s: cannot open: %m", path);
    struct tk_buf b = {.max = MAX_SCRIPT_BYTES};
    char chunk[8192];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (tk_buf_append(&b, chunk, n) != 0) {
            rc = tk_error_set(err, TK_EINVAL, "%s: script larger than %zu bytes", path,
                              MAX_SCRIPT_BYTES);
            break;
        }
    if (!rc && ferror(f))
        rc = tk_error_set(err, TK_EIO, "%s: read error", path);
    fclose(f);
    if (!rc)
        rc = tk_script_load_text(out, path, b.data ? b.data : "", b.len, reg, lim, host, err);
    tk_buf_free(&b);
    return rc;
}

const struct tk_stage *tk_pipeline_stage(const struct tk_pipeline_def *p, const char *name,
                                         size_t *index)
{
    for (size_t i = 0; i < p->nstages; i++)
        if (strcmp(p->stages[i].name, name) == 0) {
            if (index)
                *index = i;
            return &p->stages[i];
        }
    return NULL;
}
