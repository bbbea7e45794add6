/*
 * tablib.c - the table library for scripts, with loops that charge the
 * budget.
 *
 * Lua's own table functions loop in C over a range the script chooses:
 * table.move({}, 1, math.maxinteger - 2, 2) walks 2^63 indexes, and
 * table.insert(t, 1, x) walks #t, which a table with 60 keys can make
 * 2^61 (a "border" of 1, 2, ..., 8, 9, 16, 32, ...).  Metamethods in C
 * (__index = rawlen) let table.sort run for hours without one Lua
 * instruction.  These versions behave as the Lua 5.4 manual describes
 * (metamethods included: lua_geti/lua_seti) and charge one step per
 * element moved or compared (tk_lua_charge), so the instruction budget and
 * the deadline end them.  table.sort is a heapsort: O(n log n) whatever the
 * input or the order function (Lua's quicksort may raise "invalid order
 * function for sorting" for an inconsistent comparator; this one sorts
 * some order and never fails for that).
 */
#include <lauxlib.h>
#include <limits.h>

#include "lua/internal.h"

#define TAB_R 1 /* read */
#define TAB_W 2 /* write */
#define TAB_L 4 /* length */
#define CHARGE_EVERY 1024

struct meter {
    lua_State *L;
    const char *fn;
    int64_t steps;
};

static void tick(struct meter *m)
{
    if (++m->steps == CHARGE_EVERY) {
        m->steps = 0;
        tk_lua_charge(m->L, CHARGE_EVERY, m->fn);
    }
}

static void settle(struct meter *m)
{
    tk_lua_charge(m->L, m->steps, m->fn);
    m->steps = 0;
}

/* A table, or anything with the metamethods WHAT needs. */
static void check_table(lua_State *L, int arg, int what)
{
    if (lua_type(L, arg) == LUA_TTABLE)
        return;
    int ok = lua_getmetatable(L, arg);
    static const struct {
        int bit;
        const char *name;
    } need[] = {{TAB_R, "__index"}, {TAB_W, "__newindex"}, {TAB_L, "__len"}};
    for (size_t i = 0; ok && i < sizeof need / sizeof need[0]; i++)
        if (what & need[i].bit) {
            lua_pushstring(L, need[i].name);
            ok = lua_rawget(L, -2) != LUA_TNIL;
            lua_pop(L, 1);
        }
    if (!ok)
        luaL_checktype(L, arg, LUA_TTABLE); /* raises the usual message */
    lua_pop(L, 1);
}

static lua_Integer length(lua_State *L, int arg, int what)
{
    check_table(L, arg, what | TAB_L);
    return luaL_len(L, arg);
}

/* table.insert(t, [pos,] value) */
static int t_insert(lua_State *L)
{
    struct meter m = {L, "table.insert", 0};
    lua_Integer e = length(L, 1, TAB_R | TAB_W);
    lua_Integer pos;
    e = (lua_Integer)((lua_Unsigned)e + 1u); /* the first empty slot */
    switch (lua_gettop(L)) {
    case 2:
        pos = e;
        break;
    case 3:
        pos = luaL_checkinteger(L, 2);
        luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)e, 2, "position out of bounds");
        for (lua_Integer i = e; i > pos; i--) { /* t[i] = t[i - 1] */
            lua_geti(L, 1, i - 1);
            lua_seti(L, 1, i);
            tick(&m);
        }
        break;
    default:
        return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    lua_seti(L, 1, pos);
    settle(&m);
    return 0;
}

/* table.remove(t [, pos]) */
static int t_remove(lua_State *L)
{
    struct meter m = {L, "table.remove", 0};
    lua_Integer size = length(L, 1, TAB_R | TAB_W);
    lua_Integer pos = luaL_optinteger(L, 2, size);
    if (pos != size)
        luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 2, "position out of bounds");
    lua_geti(L, 1, pos);
    for (; pos < size; pos++) { /* t[pos] = t[pos + 1] */
        lua_geti(L, 1, pos + 1);
        lua_seti(L, 1, pos);
        tick(&m);
    }
    lua_pushnil(L);
    lua_seti(L, 1, pos);
    settle(&m);
    return 1;
}

/* table.move(a1, f, e, t [, a2]) */
static int t_move(lua_State *L)
{
    struct meter m = {L, "table.move", 0};
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4);
    int tt = !lua_isnoneornil(L, 5) ? 5 : 1;
    check_table(L, 1, TAB_R);
    check_table(L, tt, TAB_W);
    if (e >= f) {
        luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
        lua_Integer n = e - f + 1;
        luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
        if (t > e || t <= f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ))) {
            for (lua_Integer i = 0; i < n; i++) {
                lua_geti(L, 1, f + i);
                lua_seti(L, tt, t + i);
                tick(&m);
            }
        } else { /* overlapping, moving up: from the end */
            for (lua_Integer i = n - 1; i >= 0; i--) {
                lua_geti(L, 1, f + i);
                lua_seti(L, tt, t + i);
                tick(&m);
            }
        }
    }
    settle(&m);
    lua_pushvalue(L, tt);
    return 1;
}

static void add_field(lua_State *L, luaL_Buffer *b, lua_Integer i)
{
    lua_geti(L, 1, i);
    if (!lua_isstring(L, -1))
        luaL_error(L, "invalid value (%s) at index %I in table for 'concat'", luaL_typename(L, -1),
                   (LUAI_UACINT)i);
    luaL_addvalue(b);
}

/* table.concat(t [, sep [, i [, j]]]) */
static int t_concat(lua_State *L)
{
    struct meter m = {L, "table.concat", 0};
    luaL_Buffer b;
    lua_Integer last = length(L, 1, TAB_R);
    size_t lsep;
    const char *sep = luaL_optlstring(L, 2, "", &lsep);
    lua_Integer i = luaL_optinteger(L, 3, 1);
    last = luaL_optinteger(L, 4, last);
    luaL_buffinit(L, &b);
    for (; i < last; i++) {
        add_field(L, &b, i);
        luaL_addlstring(&b, sep, lsep);
        tick(&m);
    }
    if (i == last)
        add_field(L, &b, i);
    settle(&m);
    luaL_pushresult(&b);
    return 1;
}

/* table.pack(...) */
static int t_pack(lua_State *L)
{
    int n = lua_gettop(L);
    lua_createtable(L, n, 1);
    lua_insert(L, 1);
    for (int i = n; i >= 1; i--)
        lua_seti(L, 1, i);
    lua_pushinteger(L, n);
    lua_setfield(L, 1, "n");
    return 1;
}

/* table.unpack(t [, i [, j]]) */
static int t_unpack(lua_State *L)
{
    struct meter m = {L, "table.unpack", 0};
    lua_Integer i = luaL_optinteger(L, 2, 1);
    lua_Integer e = luaL_opt(L, luaL_checkinteger, 3, luaL_len(L, 1));
    if (i > e)
        return 0;
    lua_Unsigned n = (lua_Unsigned)e - (lua_Unsigned)i;
    if (n >= (unsigned int)INT_MAX || !lua_checkstack(L, (int)(++n)))
        return luaL_error(L, "too many results to unpack");
    for (; i < e; i++) {
        lua_geti(L, 1, i);
        tick(&m);
    }
    lua_geti(L, 1, e);
    settle(&m);
    return (int)n;
}

/* ---- sort ----------------------------------------------------------------- */

/* Whether the value at A sorts before the one at B (absolute indexes),
 * with the order function at index 2 or '<'. */
static int less(lua_State *L, int a, int b)
{
    if (lua_isnil(L, 2))
        return lua_compare(L, a, b, LUA_OPLT);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, a);
    lua_pushvalue(L, b);
    lua_call(L, 2, 1);
    int r = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return r;
}

/* Sift the value at index V (on the stack, its slot ROOT of the heap
 * 1..N is free) down to its place and store it there. */
static void sift_down(lua_State *L, struct meter *m, lua_Integer root, lua_Integer n, int v)
{
    lua_Integer child;
    while ((child = 2 * root) <= n) {
        lua_geti(L, 1, child);
        int c = lua_gettop(L);
        if (child + 1 <= n) {
            lua_geti(L, 1, child + 1);
            tick(m);
            if (less(L, c, c + 1)) { /* the right child is the larger */
                child++;
                lua_replace(L, c);
            } else {
                lua_pop(L, 1);
            }
        }
        tick(m);
        if (!less(L, v, c)) {
            lua_pop(L, 1);
            break;
        }
        lua_seti(L, 1, root); /* the larger child moves up */
        root = child;
    }
    lua_pushvalue(L, v);
    lua_seti(L, 1, root);
}

/* table.sort(t [, comp]) */
static int t_sort(lua_State *L)
{
    struct meter m = {L, "table.sort", 0};
    lua_Integer n = length(L, 1, TAB_R | TAB_W);
    if (n > 1) {
        luaL_argcheck(L, n < INT_MAX, 1, "array too big");
        if (!lua_isnoneornil(L, 2))
            luaL_checktype(L, 2, LUA_TFUNCTION);
        lua_settop(L, 2);
        luaL_checkstack(L, 8, "table.sort");
        for (lua_Integer i = n / 2; i >= 1; i--) { /* a max-heap */
            lua_geti(L, 1, i);
            sift_down(L, &m, i, n, 3);
            lua_settop(L, 2);
        }
        for (lua_Integer end = n; end > 1; end--) { /* the largest goes last */
            lua_geti(L, 1, end);
            lua_geti(L, 1, 1);
            lua_seti(L, 1, end);
            sift_down(L, &m, 1, end - 1, 3);
            lua_settop(L, 2);
        }
    }
    settle(&m);
    return 0;
}

void tk_lua_open_table(lua_State *L)
{
    static const luaL_Reg fns[] = {{"concat", t_concat}, {"insert", t_insert}, {"move", t_move},
                                   {"pack", t_pack},     {"remove", t_remove}, {"sort", t_sort},
                                   {"unpack", t_unpack}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
