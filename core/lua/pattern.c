/*
 * pattern.c - a guard in front of string.find/match/gmatch/gsub.
 *
 * Lua's matcher backtracks: a pattern like ".-.-.-.-x" on a long subject
 * runs for hours inside one C call, where no hook can stop it.  Before
 * calling the real function we bound its work from above: for each start
 * position (one when anchored with ^), every quantified item (*, +, -) can
 * try at most (longest run of subject bytes its class matches + 1) lengths
 * and every ? two; the rest of the pattern is deterministic.  The product is
 * an upper bound on the paths the matcher explores.  A call whose bound
 * exceeds MAX_COST is refused with an error before it starts.  Ordinary
 * patterns on titles and amounts have tiny bounds (their classes have short
 * runs); only patterns that really can explode are refused.
 *
 * The class syntax below follows the Lua 5.4 manual, section 6.4.1; it is
 * only used for the estimate, the real matching is Lua's.
 */
#include <ctype.h>
#include <lauxlib.h>
#include <string.h>

#include "lua/internal.h"

#define MAX_COST 2e7

static int class_match(int c, int cl)
{
    int r;
    switch (tolower(cl)) {
    case 'a':
        r = isalpha(c);
        break;
    case 'c':
        r = iscntrl(c);
        break;
    case 'd':
        r = isdigit(c);
        break;
    case 'g':
        r = isgraph(c);
        break;
    case 'l':
        r = islower(c);
        break;
    case 'p':
        r = ispunct(c);
        break;
    case 's':
        r = isspace(c);
        break;
    case 'u':
        r = isupper(c);
        break;
    case 'w':
        r = isalnum(c);
        break;
    case 'x':
        r = isxdigit(c);
        break;
    default:
        return cl == c;
    }
    if (isupper(cl))
        r = !r;
    return r != 0;
}

/* End of the single-character class starting at P (after "[...]", "%x",
 * or one byte); NULL when malformed (Lua will report it). */
static const char *class_end(const char *p, const char *pe)
{
    if (p >= pe)
        return NULL;
    if (*p == '%')
        return p + 2 <= pe ? p + 2 : NULL;
    if (*p == '[') {
        p++;
        if (p < pe && *p == '^')
            p++;
        do {
            if (p >= pe)
                return NULL;
            if (*p++ == '%' && p < pe)
                p++;
        } while (p >= pe || *p != ']');
        return p + 1;
    }
    return p + 1;
}

static int bracket_match(int c, const char *p, const char *ec)
{
    int neg = 0;
    p++; /* '[' */
    if (*p == '^') {
        neg = 1;
        p++;
    }
    for (; p < ec; p++) {
        if (*p == '%' && p + 1 < ec) {
            p++;
            if (class_match(c, (unsigned char)*p))
                return !neg;
        } else if (p + 2 < ec && p[1] == '-') {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
                return !neg;
            p += 2;
        } else if ((unsigned char)*p == c) {
            return !neg;
        }
    }
    return neg;
}

static int single_match(int c, const char *p, const char *ep)
{
    switch (*p) {
    case '.':
        return 1;
    case '%':
        return class_match(c, (unsigned char)p[1]);
    case '[':
        return bracket_match(c, p, ep - 1);
    default:
        return (unsigned char)*p == c;
    }
}

static size_t longest_run(const char *s, size_t n, const char *p, const char *ep)
{
    size_t best = 0, cur = 0;
    for (size_t i = 0; i < n; i++) {
        if (single_match((unsigned char)s[i], p, ep)) {
            if (++cur > best)
                best = cur;
        } else {
            cur = 0;
        }
    }
    return best;
}

double tk_lua_pattern_cost(const char *s, size_t n, const char *p, size_t pl)
{
    const char *pe = p + pl;
    double cost = (double)n + 1;
    if (p < pe && *p == '^') {
        cost = 1;
        p++;
    }
    while (p < pe) {
        if (*p == '(' || *p == ')') {
            p++;
            continue;
        }
        if (*p == '%' && p + 1 < pe && p[1] == 'b') {
            p += 4;
            continue;
        }
        if (*p == '%' && p + 1 < pe && p[1] == 'f') {
            const char *e = class_end(p + 2, pe);
            if (!e)
                break;
            p = e;
            continue;
        }
        if (*p == '%' && p + 1 < pe && isdigit((unsigned char)p[1])) {
            p += 2;
            continue;
        }
        const char *ep = class_end(p, pe);
        if (!ep)
            break;
        if (ep < pe && (*ep == '*' || *ep == '+' || *ep == '-')) {
            /* A last greedy or lazy item succeeds on its first try. */
            const char *rest = ep + 1;
            while (rest < pe && *rest == ')')
                rest++;
            if (rest < pe)
                cost *= (double)longest_run(s, n, p, ep) + 1;
            p = ep + 1;
        } else if (ep < pe && *ep == '?') {
            cost *= 2;
            p = ep + 1;
        } else {
            p = ep;
        }
    }
    return cost;
}

/* upvalue 1: the real function; IS_FIND: string.find (honours `plain`). */
static int guarded(lua_State *L, int is_find)
{
    size_t n, pl;
    if (lua_type(L, 1) == LUA_TSTRING && lua_type(L, 2) == LUA_TSTRING &&
        !(is_find && lua_toboolean(L, 4))) {
        const char *s = lua_tolstring(L, 1, &n);
        const char *p = lua_tolstring(L, 2, &pl);
        if (tk_lua_pattern_cost(s, n, p, pl) > MAX_COST)
            return luaL_error(L,
                              "pattern '%s' could backtrack too long on a subject of %d "
                              "bytes; simplify it or match a shorter string",
                              p, (int)n);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static int g_find(lua_State *L)
{
    return guarded(L, 1);
}
static int g_other(lua_State *L)
{
    return guarded(L, 0);
}

void tk_lua_guard_patterns(lua_State *L)
{
    static const char *const names[] = {"find", "match", "gmatch", "gsub", NULL};
    for (int i = 0; names[i]; i++) {
        lua_getfield(L, -1, names[i]);
        lua_pushcclosure(L, i == 0 ? g_find : g_other, 1);
        lua_setfield(L, -2, names[i]);
    }
}
