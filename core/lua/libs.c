/*
 * libs.c - what a script sees: the allowed libraries, opened one by one
 * (never luaL_openlibs) and trimmed to an allow list, with the functions
 * that could escape a limit replaced:
 *
 *   pcall, xpcall, print      sandbox.c (a killed call stays killed; print
 *                             is bounded)
 *   setmetatable, rawset      no __gc (a finalizer runs with hooks off) and
 *                             no __mode (see below)
 *   collectgarbage            "count" only
 *   string.find/match/gmatch/gsub   pattern.c (a matcher with a step budget)
 *   string.rep                an empty result without looping (Lua 5.4
 *                             loops n times to build "" from "")
 *   string.pack/unpack/packsize   formats of at most FORMAT_MAX bytes
 *   table.*                   tablib.c (loops that charge the budget)
 *   os.time, os.date          the engine's clock (--now); os.date's format
 *                             at most FORMAT_MAX bytes
 *
 * Weak tables: with __mode = "k" a table is an ephemeron, and Lua's
 * collector marks ephemerons by passes over them until nothing changes.
 * 100,000 entries whose values are the keys of other entries, in hash
 * order, take one collection 11.6 s (8.5 MB of heap), inside an allocation
 * where no hook runs.  So __mode is not available: setmetatable refuses a
 * metatable that has it, and seals the metatable it sets (a private
 * metatable whose __newindex refuses "__mode", protected by __metatable),
 * and rawset refuses the key "__mode".  Lua reads __mode raw from the
 * metatable at every collection, and with these three no table used as a
 * metatable can get one.  A sealed table cannot take another metatable, so
 * a metatable with a metatable of its own is refused too.
 *
 * The length limits bound what one call can cost where Lua pays per byte
 * of a format far more than per byte copied: string.unpack takes about 60
 * ns per format option and os.date one strftime() per conversion, so a
 * 5 MB format ran 0.3 s (or seconds) in one C call, out of the watchdog's
 * reach.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "lua/internal.h"

#define FORMAT_MAX 4096

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

#define NO_WEAK "weak tables (__mode) are not allowed in pipeline scripts"

/* The sealer's __newindex: new keys of a metatable, except __mode. */
static int sealed_newindex(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "__mode") == 0)
        return luaL_error(L, NO_WEAK);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 0;
}

/* setmetatable(t, mt) without __gc (a finalizer would run outside any
 * call's budget, at a later collection or at close, with hooks off; Lua
 * marks an object for finalization only when __gc is there at
 * setmetatable, so one added later is never called) and without __mode.
 * Upvalue 1: Lua's setmetatable; 2: the sealer. */
static int sb_setmetatable(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getmetatable(L, 1)) {
        if (lua_rawequal(L, -1, lua_upvalueindex(2)))
            return luaL_error(L, "a table used as a metatable cannot have a metatable of its own "
                                 "in pipeline scripts");
        lua_pop(L, 1);
    }
    if (lua_type(L, 2) == LUA_TTABLE) {
        static const char *const refused[] = {"__gc", "__mode"};
        for (int i = 0; i < 2; i++) {
            lua_pushstring(L, refused[i]);
            int t = lua_rawget(L, 2);
            lua_pop(L, 1);
            if (t != LUA_TNIL)
                return luaL_error(L, i == 0 ? "__gc metamethods are not allowed in pipeline scripts"
                                            : NO_WEAK);
        }
        if (!lua_getmetatable(L, 2)) {
            lua_pushvalue(L, lua_upvalueindex(2));
            lua_setmetatable(L, 2);
        } else if (!lua_rawequal(L, -1, lua_upvalueindex(2))) {
            return luaL_error(L, "a metatable with a metatable of its own is not allowed in "
                                 "pipeline scripts");
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* rawset(t, k, v) for any key but "__mode" (upvalue 1: Lua's rawset). */
static int sb_rawset(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "__mode") == 0)
        return luaL_error(L, NO_WEAK);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* string.rep(s, n [, sep]): Lua 5.4's own version copies s and sep n - 1
 * times even when both are empty, so string.rep("", 2^62) loops in C for
 * years.  Everything else is bounded by the memory cap. */
static int sb_string_rep(lua_State *L)
{
    size_t l, lsep = 0;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n > 0 && l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* string.pack, unpack and packsize: the real one (upvalue 1) for a format
 * of at most FORMAT_MAX bytes. */
static int sb_string_pack(lua_State *L)
{
    size_t n;
    luaL_checklstring(L, 1, &n);
    luaL_argcheck(L, n <= FORMAT_MAX, 1, "format longer than 4096 bytes");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* os.time() and os.date() without a time use the engine's clock, so that
 * --now previews what a script will do. */
static int sb_os_time(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_pushinteger(L, (lua_Integer)tk_lua_now(L));
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int sb_os_date(lua_State *L)
{
    int n = lua_gettop(L);
    size_t fl = 0;
    if (n >= 1 && luaL_optlstring(L, 1, "%c", &fl) && fl > FORMAT_MAX)
        return luaL_argerror(L, 1, "format longer than 4096 bytes");
    if (n < 1)
        lua_pushliteral(L, "%c");
    if (n < 2) {
        lua_settop(L, 1);
        lua_pushinteger(L, (lua_Integer)tk_lua_now(L));
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

/* Replace FIELD of the table at T by the C closure FN with the old value as
 * its upvalue. */
static void wrap_field(lua_State *L, int t, const char *field, lua_CFunction fn)
{
    lua_getfield(L, t, field);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, t, field);
}

/* Build the globals every script starts with into the table at the top. */
static void open_libs(lua_State *L)
{
    static const char *const base_drop[] = {"load", "loadfile", "dofile", "require", NULL};
    luaL_requiref(L, LUA_GNAME, luaopen_base, 0);
    int g = lua_gettop(L);
    for (int i = 0; base_drop[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, g, base_drop[i]);
    }
    lua_getfield(L, g, "setmetatable");
    lua_createtable(L, 0, 2); /* the sealer */
    lua_pushcfunction(L, sealed_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pushcclosure(L, sb_setmetatable, 2);
    lua_setfield(L, g, "setmetatable");
    wrap_field(L, g, "rawset", sb_rawset);
    lua_pushcfunction(L, sb_collectgarbage);
    lua_setfield(L, g, "collectgarbage");
    lua_pushcfunction(L, tk_lua_print);
    lua_setfield(L, g, "print");
    lua_pushcfunction(L, tk_lua_pcall);
    lua_setfield(L, g, "pcall");
    lua_pushcfunction(L, tk_lua_xpcall);
    lua_setfield(L, g, "xpcall");

    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    wrap_field(L, lua_gettop(L), "rep", sb_string_rep);
    wrap_field(L, lua_gettop(L), "pack", sb_string_pack);
    wrap_field(L, lua_gettop(L), "unpack", sb_string_pack);
    wrap_field(L, lua_gettop(L), "packsize", sb_string_pack);
    tk_lua_open_patterns(L);
    lua_setfield(L, g, LUA_STRLIBNAME);
    lua_newtable(L);
    tk_lua_open_table(L);
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

int tk_lua_open_env(lua_State *L)
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
