/*
 * sandbox.c - one lua_State per script, with hard limits.
 *
 * Memory: every allocation goes through sb_alloc, which refuses to grow past
 * the cap, so string.rep("x", 2^31) or a `t = t .. t` loop fails at once
 * with a memory error instead of taking the machine down.
 *
 * CPU: a count hook every HOOK_EVERY instructions charges the budget and
 * checks the wall-clock deadline.  Once either is spent the call is
 * "killed": the hook is re-armed to run before every instruction and raises
 * the same error each time, so a script's pcall cannot swallow it (Redis
 * does the same).  Time spent inside one C function cannot be interrupted
 * by a hook: string.rep is bounded by the memory cap and the pattern
 * functions by the guard in pattern.c.
 *
 * Libraries are opened one by one (never luaL_openlibs) and trimmed to an
 * allow list; each script runs with its own environment table as _ENV.
 * The coroutine library is left out: hooks are per thread, and a coroutine
 * would escape the re-armed hook.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lua/internal.h"

#define HOOK_EVERY 1000
#define DEFAULT_MEMORY ((size_t)16 << 20)
#define DEFAULT_INSTRUCTIONS ((int64_t)50 * 1000 * 1000)
#define DEFAULT_TIME_MS 1000

struct tk_lua {
    lua_State *L;
    char *name;
    struct tk_lua_limits lim;
    size_t mem_used;
    int64_t spent;
    int64_t deadline_ns;
    int depth;         /* nested tk_lua_call()s */
    const char *label; /* name of the outermost function called */
    int killed;
    char kill_msg[256];
    char oom_where[256]; /* where the memory cap was hit */
    tk_time now;
    int env_ref;
    void *host;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct tk_lua *tk_lua_of(lua_State *L)
{
    struct tk_lua *s;
    memcpy(&s, lua_getextraspace(L), sizeof s);
    return s;
}

/* Format "SRC:LINE: in function 'NAME'" for the first Lua function at or
 * above LEVEL; "" when there is none.  Only reads the call stack (never
 * allocates), so it is also safe inside the allocator. */
static void describe_level(lua_State *L, struct tk_lua *s, int level, char *buf, size_t size)
{
    lua_Debug ar;
    buf[0] = '\0';
    for (; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sln", &ar) || ar.currentline <= 0)
            continue;
        lua_Debug up;
        const char *src = ar.source[0] == '@' || ar.source[0] == '=' ? ar.source + 1 : s->name;
        if (strcmp(ar.what, "main") == 0)
            snprintf(buf, size, "%s:%d: in main chunk", src, ar.currentline);
        else if (ar.name)
            snprintf(buf, size, "%s:%d: in function '%s'", src, ar.currentline, ar.name);
        else if (!lua_getstack(L, level + 1, &up) && s->label)
            snprintf(buf, size, "%s:%d: in function '%s'", src, ar.currentline, s->label);
        else
            snprintf(buf, size, "%s:%d: in function <%s:%d>", src, ar.currentline, src,
                     ar.linedefined);
        return;
    }
}

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct tk_lua *s = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        s->mem_used -= old;
        return NULL;
    }
    /* The cap binds script code (depth > 0) only: the host's own small
     * pushes between calls (the job object, an item table) run unprotected,
     * and a refusal there would be a Lua panic. */
    if (s->depth > 0 && nsize > old &&
        (s->mem_used > s->lim.memory_bytes || nsize - old > s->lim.memory_bytes - s->mem_used)) {
        if (s->L)
            describe_level(s->L, s, 0, s->oom_where, sizeof s->oom_where);
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    s->mem_used = s->mem_used - old + nsize;
    return p;
}

static void sb_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct tk_lua *s = tk_lua_of(L);
    if (!s->killed) {
        if (s->depth == 0) {
            /* Lua code outside any call of ours (a finalizer, say) has no
             * budget at all. */
            tk_lua_kill(L, "Lua code ran outside an automation");
        }
        s->spent += HOOK_EVERY;
        if (s->spent > s->lim.instructions)
            tk_lua_kill(L, "instruction limit of %lld exceeded (runaway loop?)",
                        (long long)s->lim.instructions);
        if (mono_ns() > s->deadline_ns)
            tk_lua_kill(L, "time limit of %d ms exceeded", s->lim.time_ms);
        return;
    }
    lua_pushstring(L, s->kill_msg);
    lua_error(L);
}

int tk_lua_kill(lua_State *L, const char *fmt, ...)
{
    struct tk_lua *s = tk_lua_of(L);
    if (!s->killed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->kill_msg, sizeof s->kill_msg, fmt, ap);
        va_end(ap);
        s->killed = 1;
    }
    lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
    lua_pushstring(L, s->kill_msg);
    return lua_error(L);
}

/* Strip a leading "SRC:LINE: " Lua put in front of MSG when WHERE starts
 * with the same position, so it is not said twice. */
static const char *strip_position(const char *msg, const char *where)
{
    const char *colon = strchr(where, ':');
    if (!colon)
        return msg;
    colon = strchr(colon + 1, ':');
    if (!colon)
        return msg;
    size_t n = (size_t)(colon - where) + 1;
    if (strncmp(msg, where, n) == 0 && msg[n] == ' ')
        return msg + n + 1;
    return msg;
}

/* The message handler of every call: turns any error object into one line
 * naming script, line and function.  Runs no Lua code (no __tostring), so it
 * works the same when the call was killed. */
static int sb_msgh(lua_State *L)
{
    struct tk_lua *s = tk_lua_of(L);
    const char *msg = NULL;
    char where[256];
    if (s->killed)
        msg = s->kill_msg;
    else if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER)
        msg = lua_tostring(L, 1);
    else if (lua_type(L, 1) == LUA_TTABLE) {
        lua_pushliteral(L, "message");
        if (lua_rawget(L, 1) != LUA_TSTRING) {
            lua_pop(L, 1);
            lua_rawgeti(L, 1, 1);
        }
        msg =
            lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error object is a table value";
    } else {
        msg = lua_pushfstring(L, "error object is a %s value", luaL_typename(L, 1));
    }
    /* lauxlib's buffers report a refused allocation as an ordinary
     * error; say which limit it was. */
    if (strcmp(msg, "not enough memory") == 0)
        msg =
            lua_pushfstring(L, "memory limit of %d MB exceeded", (int)(s->lim.memory_bytes >> 20));
    describe_level(L, s, 1, where, sizeof where);
    if (!where[0])
        snprintf(where, sizeof where, "%s: in function '%s'", s->name, s->label ? s->label : "?");
    lua_pushfstring(L, "%s: %s", where, strip_position(msg, where));
    return 1;
}

int tk_lua_call(struct tk_lua *s, int nargs, int nresults, const char *label, struct tk_error *err)
{
    lua_State *L = s->L;
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, sb_msgh);
    lua_insert(L, base);
    if (s->depth++ == 0) {
        s->spent = 0;
        s->killed = 0;
        s->oom_where[0] = '\0';
        s->deadline_ns = mono_ns() + (int64_t)s->lim.time_ms * 1000000;
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, HOOK_EVERY);
    }
    const char *outer = s->label;
    s->label = label;
    int rc = lua_pcall(L, nargs, nresults, base);
    s->label = outer;
    if (--s->depth == 0)
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, HOOK_EVERY);
    if (rc == LUA_OK) {
        lua_remove(L, base);
        return 0;
    }
    if (rc == LUA_ERRMEM) {
        /* Lua does not run the message handler for memory errors. */
        if (s->oom_where[0])
            tk_error_set(err, TK_EINVAL, "%s: memory limit of %zu MB exceeded", s->oom_where,
                         s->lim.memory_bytes >> 20);
        else
            tk_error_set(err, TK_EINVAL, "%s: in function '%s': memory limit of %zu MB exceeded",
                         s->name, label ? label : "?", s->lim.memory_bytes >> 20);
    } else if (s->killed && lua_type(L, -1) != LUA_TSTRING) {
        tk_error_set(err, TK_EINVAL, "%s: in function '%s': %s", s->name, label ? label : "?",
                     s->kill_msg);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        tk_error_set(err, TK_EINVAL, "%s", lua_tostring(L, -1));
    } else {
        tk_error_set(err, TK_EINVAL, "%s: in function '%s': error in error handling", s->name,
                     label ? label : "?");
    }
    lua_settop(L, base - 1);
    return TK_EINVAL;
}

/* ---- the allowed library ------------------------------------------------- */

/* collectgarbage("count") only: scripts may look, not steer. */
static int sb_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "count");
    if (strcmp(opt, "count") != 0)
        return luaL_error(L, "collectgarbage('%s') is not allowed in pipeline scripts", opt);
    int kb = lua_gc(L, LUA_GCCOUNT, 0), b = lua_gc(L, LUA_GCCOUNTB, 0);
    lua_pushnumber(L, (lua_Number)kb + (lua_Number)b / 1024);
    return 1;
}

/* setmetatable without __gc: a finalizer would run outside any call's
 * budget (at a later collection or at close). */
static int sb_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        int t = lua_rawget(L, 2);
        lua_pop(L, 1);
        if (t != LUA_TNIL)
            return luaL_error(L, "__gc metamethods are not allowed in pipeline scripts");
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* print goes to stderr: stdout belongs to the command's output (--json). */
static int sb_print(lua_State *L)
{
    struct tk_lua *s = tk_lua_of(L);
    int n = lua_gettop(L);
    fprintf(stderr, "%s:", s->name);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *str = luaL_tolstring(L, i, &len);
        fprintf(stderr, " %.*s", (int)len, str);
        lua_pop(L, 1);
    }
    fputc('\n', stderr);
    return 0;
}

/* os.time() and os.date() without a time use the engine's clock, so that
 * --now previews what a script will do. */
static int sb_os_time(lua_State *L)
{
    struct tk_lua *s = tk_lua_of(L);
    if (lua_isnoneornil(L, 1)) {
        lua_pushinteger(L, (lua_Integer)s->now);
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int sb_os_date(lua_State *L)
{
    struct tk_lua *s = tk_lua_of(L);
    int n = lua_gettop(L);
    if (n < 1)
        lua_pushliteral(L, "%c");
    if (n < 2) {
        lua_settop(L, 1);
        lua_pushinteger(L, (lua_Integer)s->now);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static void copy_field(lua_State *L, int from, int to, const char *name)
{
    lua_getfield(L, from, name);
    lua_setfield(L, to, name);
}

/* Build the globals every script starts with into the table at the top. */
static void open_libs(lua_State *L)
{
    static const char *const base_drop[] = {"load",           "loadfile",     "dofile", "require",
                                            "collectgarbage", "setmetatable", "print",  NULL};
    luaL_requiref(L, LUA_GNAME, luaopen_base, 0);
    int g = lua_gettop(L);
    lua_getfield(L, g, "setmetatable");
    lua_pushcclosure(L, sb_setmetatable, 1);
    int setmt = lua_gettop(L);
    for (int i = 0; base_drop[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, g, base_drop[i]);
    }
    lua_pushvalue(L, setmt);
    lua_setfield(L, g, "setmetatable");
    lua_pop(L, 1);
    lua_pushcfunction(L, sb_collectgarbage);
    lua_setfield(L, g, "collectgarbage");
    lua_pushcfunction(L, sb_print);
    lua_setfield(L, g, "print");

    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    tk_lua_guard_patterns(L);
    lua_setfield(L, g, LUA_STRLIBNAME);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);
    lua_setfield(L, g, LUA_TABLIBNAME);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);
    lua_setfield(L, g, LUA_MATHLIBNAME);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 0);
    lua_setfield(L, g, LUA_UTF8LIBNAME);

    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    int full = lua_gettop(L);
    lua_createtable(L, 0, 3);
    int os = lua_gettop(L);
    lua_getfield(L, full, "time");
    lua_pushcclosure(L, sb_os_time, 1);
    lua_setfield(L, os, "time");
    lua_getfield(L, full, "date");
    lua_pushcclosure(L, sb_os_date, 1);
    lua_setfield(L, os, "date");
    copy_field(L, full, os, "clock");
    lua_setfield(L, g, LUA_OSLIBNAME);
    lua_pop(L, 1);

    /* The loaded-modules table luaL_requiref filled must not stay reachable
     * under those names: drop what was not kept. */
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
}

/* Return a new environment table holding the allowed globals. */
static int open_env(lua_State *L)
{
    lua_newtable(L);
    int env = lua_gettop(L);
    open_libs(L);
    /* open_libs filled the state's real globals; the script sees a copy
     * as its _ENV (the real table stays reachable only from C). */
    lua_pushglobaltable(L);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, env);
    }
    lua_pop(L, 2);
    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");
    lua_settop(L, env);
    return 1;
}

int tk_lua_open(struct tk_lua **out, const char *name, const struct tk_lua_limits *lim,
                struct tk_error *err)
{
    *out = NULL;
    struct tk_lua *s = calloc(1, sizeof *s);
    if (!s || !(s->name = tk_strdup(name ? name : "script"))) {
        free(s);
        return tk_error_set(err, TK_ENOMEM, "lua: out of memory");
    }
    if (lim)
        s->lim = *lim;
    if (!s->lim.memory_bytes)
        s->lim.memory_bytes = DEFAULT_MEMORY;
    if (s->lim.instructions <= 0)
        s->lim.instructions = DEFAULT_INSTRUCTIONS;
    if (s->lim.time_ms <= 0)
        s->lim.time_ms = DEFAULT_TIME_MS;
    s->now = tk_time_real();
    s->env_ref = LUA_NOREF;
    s->L = lua_newstate(sb_alloc, s);
    if (!s->L) {
        free(s->name);
        free(s);
        return tk_error_set(err, TK_ENOMEM, "%s: cannot create a Lua state (memory limit?)", name);
    }
    memcpy(lua_getextraspace(s->L), &s, sizeof s);
    luaL_checkversion(s->L);
    /* Library setup runs as a protected call so that a memory error there
     * is reported, not fatal. */
    lua_State *L = s->L;
    s->depth = 1;
    s->deadline_ns = mono_ns() + (int64_t)s->lim.time_ms * 1000000;
    lua_pushcfunction(L, open_env);
    int ok = lua_pcall(L, 0, 1, 0) == LUA_OK;
    s->depth = 0;
    if (!ok) {
        tk_error_set(err, TK_ENOMEM, "%s: cannot set up the Lua sandbox: %s", s->name,
                     lua_tostring(L, -1) ? lua_tostring(L, -1) : "out of memory");
        tk_lua_close(s);
        return TK_ENOMEM;
    }
    s->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_sethook(L, sb_hook, LUA_MASKCOUNT, HOOK_EVERY);
    *out = s;
    return 0;
}

void tk_lua_close(struct tk_lua *s)
{
    if (!s)
        return;
    if (s->L) {
        /* Finalizers cannot exist (sb_setmetatable), but make sure any Lua
         * code at close is refused by the hook. */
        s->depth = 0;
        lua_close(s->L);
    }
    free(s->name);
    free(s);
}

lua_State *tk_lua_state(struct tk_lua *s)
{
    return s->L;
}
const char *tk_lua_name(const struct tk_lua *s)
{
    return s->name;
}
void tk_lua_set_now(struct tk_lua *s, tk_time now)
{
    s->now = now;
}
void tk_lua_set_host(struct tk_lua *s, void *host)
{
    s->host = host;
}
void *tk_lua_host(struct tk_lua *s)
{
    return s->host;
}

void tk_lua_push_env(struct tk_lua *s)
{
    lua_rawgeti(s->L, LUA_REGISTRYINDEX, s->env_ref);
}

/* The part of a syntax error after "SRC:" ("12: unexpected symbol ..."): Lua
 * shortens long sources, we print the name in full. */
static const char *after_source(const char *msg)
{
    for (const char *p = msg; (p = strchr(p, ':')) != NULL; p++) {
        const char *q = p + 1;
        while (*q >= '0' && *q <= '9')
            q++;
        if (q > p + 1 && *q == ':')
            return p + 1;
    }
    return msg;
}

int tk_lua_load(struct tk_lua *s, const char *text, size_t len, struct tk_error *err)
{
    lua_State *L = s->L;
    char chunk[1024];
    snprintf(chunk, sizeof chunk, "@%s", s->name);
    int rc = luaL_loadbufferx(L, text, len, chunk, "t");
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (rc == LUA_ERRMEM || !msg)
            tk_error_set(err, TK_EINVAL, "%s: memory limit of %zu MB exceeded while loading",
                         s->name, s->lim.memory_bytes >> 20);
        else
            tk_error_set(err, TK_EINVAL, "%s:%s", s->name, after_source(msg));
        lua_pop(L, 1);
        return TK_EINVAL;
    }
    /* The chunk's only upvalue is _ENV: point it at the script's table. */
    tk_lua_push_env(s);
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    return 0;
}
