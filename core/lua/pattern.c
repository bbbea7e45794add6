/*
 * pattern.c - string.find, match, gmatch and gsub with a step budget.
 *
 * Lua's matcher backtracks: ".-.-.-.-x" on a long subject, or "%b()" on
 * 200,000 opening parentheses, runs for hours inside one C call, where no
 * hook can stop it.  An estimate made before the call cannot be both safe
 * and precise (it has to refuse harmless patterns to be safe, and the
 * estimate itself costs one pass over the subject per pattern item).  So
 * this file has its own matcher for the pattern language of the Lua 5.4
 * manual (section 6.4.1), with the same results and the same error
 * messages, that counts its steps: one per pattern item tried, per subject
 * byte a repetition or %b looks at, per 8 bytes a back reference compares.
 * Every CHARGE_EVERY steps it charges them against the call's instruction
 * budget and checks its deadline (tk_lua_charge), so a pattern can use the
 * budget a script has and no more.  tests/unit/test_lua_sandbox.c compares
 * it with Lua's own string library on thousands of random patterns.
 *
 * A find with plain = true (or a pattern with no special characters) is a
 * literal search: glibc's memmem, linear in the subject (two-way for long
 * needles), run on windows of at most a MiB so that the deadline is checked
 * in between.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <lauxlib.h>
#include <string.h>

#include "lua/internal.h"

#define ESC '%'
#define SPECIALS "^$*+?.([%-"
#define MAX_CAPTURES 32 /* LUA_MAXCAPTURES */
#define MAX_DEPTH 200   /* Lua's MAXCCALLS: recursion of match() */
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)
#define CHARGE_EVERY 4096
#define PLAIN_WINDOW ((size_t)1 << 20)
/* What a killed call says after "... limit exceeded in " */
#define HINT " (a pattern that backtracks too much: simplify it or match a shorter string)"

struct mstate {
    const char *src_init, *src_end, *p_end;
    lua_State *L;
    const char *fn; /* "string.find", in messages */
    int depth;      /* recursion left */
    int level;      /* captures open or closed */
    int64_t steps;  /* not charged yet */
    struct {
        const char *init;
        ptrdiff_t len; /* or CAP_UNFINISHED, CAP_POSITION */
    } cap[MAX_CAPTURES];
};

static void step(struct mstate *ms, int64_t n)
{
    ms->steps += n;
    if (ms->steps >= CHARGE_EVERY) {
        int64_t k = ms->steps;
        ms->steps = 0;
        tk_lua_charge(ms->L, k, ms->fn);
    }
}

static void charge_rest(struct mstate *ms)
{
    int64_t k = ms->steps;
    ms->steps = 0;
    tk_lua_charge(ms->L, k, ms->fn);
}

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
    case 'z': /* deprecated in the manual, still there in Lua 5.4 */
        r = c == 0;
        break;
    default:
        return cl == c;
    }
    if (isupper(cl))
        r = !r;
    return r != 0;
}

/* The end of the single-character class at P ("x", "%a", "[...]").  The
 * pattern is a Lua string, so *p_end is a readable '\0'. */
static const char *class_end(struct mstate *ms, const char *p)
{
    char c = *p++;
    if (c == ESC) {
        if (p >= ms->p_end)
            luaL_error(ms->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (*p == '^')
            p++;
        do { /* the first character after '[' (or "[^") is literal, even ']' */
            if (p >= ms->p_end)
                luaL_error(ms->L, "malformed pattern (missing ']')");
            if (*p++ == ESC && p < ms->p_end)
                p++;
        } while (*p != ']');
        return p + 1;
    }
    return p;
}

/* C against the set "[...]" from P (at '[') to EC (at its ']'). */
static int bracket_match(int c, const char *p, const char *ec)
{
    int yes = 1;
    if (p[1] == '^') {
        yes = 0;
        p++;
    }
    while (++p < ec) {
        if (*p == ESC) {
            p++;
            if (class_match(c, (unsigned char)*p))
                return yes;
        } else if (p[1] == '-' && p + 2 < ec) {
            p += 2;
            if ((unsigned char)p[-2] <= c && c <= (unsigned char)*p)
                return yes;
        } else if ((unsigned char)*p == c) {
            return yes;
        }
    }
    return !yes;
}

static int single_match(struct mstate *ms, const char *s, const char *p, const char *ep)
{
    if (s >= ms->src_end)
        return 0;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.':
        return 1;
    case ESC:
        return class_match(c, (unsigned char)p[1]);
    case '[':
        return bracket_match(c, p, ep - 1);
    default:
        return (unsigned char)*p == c;
    }
}

static const char *match(struct mstate *ms, const char *s, const char *p);

/* %bxy at P (after "%b"). */
static const char *match_balance(struct mstate *ms, const char *s, const char *p)
{
    if (p >= ms->p_end - 1)
        luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= ms->src_end || *s != *p)
        return NULL;
    int open = *p, close = p[1], depth = 1;
    int64_t seen = 0;
    while (++s < ms->src_end) {
        if (++seen == CHARGE_EVERY) {
            step(ms, seen);
            seen = 0;
        }
        if (*s == close) {
            if (--depth == 0) {
                step(ms, seen);
                return s + 1;
            }
        } else if (*s == open) {
            depth++;
        }
    }
    step(ms, seen);
    return NULL;
}

/* The longest run first, then shorter ones ('*', '+'). */
static const char *max_expand(struct mstate *ms, const char *s, const char *p, const char *ep)
{
    ptrdiff_t i = 0;
    while (single_match(ms, s + i, p, ep)) {
        i++;
        if ((i & (CHARGE_EVERY - 1)) == 0)
            step(ms, CHARGE_EVERY);
    }
    step(ms, i & (CHARGE_EVERY - 1));
    for (; i >= 0; i--) {
        const char *r = match(ms, s + i, ep + 1);
        if (r)
            return r;
    }
    return NULL;
}

/* The shortest run first ('-'). */
static const char *min_expand(struct mstate *ms, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *r = match(ms, s, ep + 1);
        if (r)
            return r;
        if (!single_match(ms, s, p, ep))
            return NULL;
        s++;
    }
}

static const char *start_capture(struct mstate *ms, const char *s, const char *p, int what)
{
    if (ms->level >= MAX_CAPTURES)
        luaL_error(ms->L, "too many captures");
    ms->cap[ms->level].init = s;
    ms->cap[ms->level].len = what;
    ms->level++;
    const char *r = match(ms, s, p);
    if (!r)
        ms->level--;
    return r;
}

static const char *end_capture(struct mstate *ms, const char *s, const char *p)
{
    int l = ms->level - 1;
    while (l >= 0 && ms->cap[l].len != CAP_UNFINISHED)
        l--;
    if (l < 0)
        luaL_error(ms->L, "invalid pattern capture");
    ms->cap[l].len = s - ms->cap[l].init;
    const char *r = match(ms, s, p);
    if (!r)
        ms->cap[l].len = CAP_UNFINISHED;
    return r;
}

/* %1 ... %9 */
static const char *match_capture(struct mstate *ms, const char *s, int c)
{
    int l = c - '1';
    if (l < 0 || l >= ms->level || ms->cap[l].len == CAP_UNFINISHED)
        luaL_error(ms->L, "invalid capture index %%%d", l + 1);
    if (ms->cap[l].len < 0) /* a position capture matches nothing */
        return NULL;
    size_t len = (size_t)ms->cap[l].len;
    step(ms, (int64_t)(len / 8));
    if ((size_t)(ms->src_end - s) >= len && memcmp(ms->cap[l].init, s, len) == 0)
        return s + len;
    return NULL;
}

static const char *match(struct mstate *ms, const char *s, const char *p)
{
    if (ms->depth-- == 0)
        luaL_error(ms->L, "pattern too complex");
    for (;;) {
        step(ms, 1);
        if (p == ms->p_end)
            break;
        if (*p == '(') {
            if (p[1] == ')')
                s = start_capture(ms, s, p + 2, CAP_POSITION);
            else
                s = start_capture(ms, s, p + 1, CAP_UNFINISHED);
            break;
        }
        if (*p == ')') {
            s = end_capture(ms, s, p + 1);
            break;
        }
        if (*p == '$' && p + 1 == ms->p_end) {
            s = s == ms->src_end ? s : NULL;
            break;
        }
        if (*p == ESC && p[1] == 'b') {
            s = match_balance(ms, s, p + 2);
            if (!s)
                break;
            p += 4;
            continue;
        }
        if (*p == ESC && p[1] == 'f') {
            p += 2;
            if (*p != '[')
                luaL_error(ms->L, "missing '[' after '%%f' in pattern");
            const char *ep = class_end(ms, p);
            int prev = s == ms->src_init ? '\0' : (unsigned char)s[-1];
            int cur = s < ms->src_end ? (unsigned char)*s : '\0';
            if (!bracket_match(prev, p, ep - 1) && bracket_match(cur, p, ep - 1)) {
                p = ep;
                continue;
            }
            s = NULL;
            break;
        }
        if (*p == ESC && isdigit((unsigned char)p[1])) {
            s = match_capture(ms, s, (unsigned char)p[1]);
            if (!s)
                break;
            p += 2;
            continue;
        }
        /* a single-character class, maybe with a repetition */
        const char *ep = class_end(ms, p);
        if (!single_match(ms, s, p, ep)) {
            if (*ep == '*' || *ep == '?' || *ep == '-') { /* may match zero times */
                p = ep + 1;
                continue;
            }
            s = NULL;
            break;
        }
        if (*ep == '?') {
            const char *r = match(ms, s + 1, ep + 1);
            if (r) {
                s = r;
                break;
            }
            p = ep + 1;
            continue;
        }
        if (*ep == '+') {
            s = max_expand(ms, s + 1, p, ep);
            break;
        }
        if (*ep == '*') {
            s = max_expand(ms, s, p, ep);
            break;
        }
        if (*ep == '-') {
            s = min_expand(ms, s, p, ep);
            break;
        }
        s++;
        p = ep;
    }
    ms->depth++;
    return s;
}

/* Capture I as a pointer and length (the whole match S..E when there are
 * no captures and I is 0); a position capture is pushed, and its length
 * is CAP_POSITION. */
static ptrdiff_t get_capture(struct mstate *ms, int i, const char *s, const char *e,
                             const char **cap)
{
    if (i >= ms->level) {
        if (i != 0)
            luaL_error(ms->L, "invalid capture index %%%d", i + 1);
        *cap = s;
        return e - s;
    }
    ptrdiff_t l = ms->cap[i].len;
    *cap = ms->cap[i].init;
    if (l == CAP_UNFINISHED)
        luaL_error(ms->L, "unfinished capture");
    else if (l == CAP_POSITION)
        lua_pushinteger(ms->L, (ms->cap[i].init - ms->src_init) + 1);
    return l;
}

static void push_capture(struct mstate *ms, int i, const char *s, const char *e)
{
    const char *cap;
    ptrdiff_t l = get_capture(ms, i, s, e, &cap);
    if (l != CAP_POSITION)
        lua_pushlstring(ms->L, cap, (size_t)l);
}

/* Push the captures (or the whole match S..E when there are none and S is
 * not NULL); returns how many. */
static int push_captures(struct mstate *ms, const char *s, const char *e)
{
    int n = ms->level == 0 && s ? 1 : ms->level;
    luaL_checkstack(ms->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(ms, i, s, e);
    return n;
}

static void prepare(struct mstate *ms, lua_State *L, const char *fn, const char *s, size_t ls,
                    const char *p, size_t lp)
{
    ms->L = L;
    ms->fn = fn;
    ms->src_init = s;
    ms->src_end = s + ls;
    ms->p_end = p + lp;
    ms->steps = 0;
}

static void restart(struct mstate *ms)
{
    ms->level = 0;
    ms->depth = MAX_DEPTH;
}

/* Lua's rule for a start position: negative counts from the end. */
static size_t start_pos(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos;
    if (pos == 0 || pos < -(lua_Integer)len)
        return 1;
    return len + (size_t)pos + 1;
}

static int no_specials(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (p[i] && strchr(SPECIALS, p[i]))
            return 0;
    return 1;
}

/* A literal search of P in S, by windows of PLAIN_WINDOW start positions
 * (each window is one memmem over its starts plus the needle), each
 * charged: linear in LS + LP overall. */
static const char *find_plain(lua_State *L, const char *s, size_t ls, const char *p, size_t lp)
{
    if (lp == 0)
        return s;
    if (lp > ls)
        return NULL;
    size_t window = lp > PLAIN_WINDOW ? lp : PLAIN_WINDOW;
    for (size_t at = 0; ls - at >= lp; at += window) {
        size_t span = ls - at, look = span - lp + 1 > window ? window + lp - 1 : span;
        const char *r = memmem(s + at, look, p, lp);
        tk_lua_charge(L, (int64_t)look, "string.find");
        if (r || look == span)
            return r;
    }
    return NULL;
}

static int find_aux(lua_State *L, int find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || no_specials(p, lp))) {
        const char *r = find_plain(L, s + init, ls - init, p, lp);
        if (r) {
            lua_pushinteger(L, (r - s) + 1);
            lua_pushinteger(L, (lua_Integer)((size_t)(r - s) + lp));
            return 2;
        }
        luaL_pushfail(L);
        return 1;
    }
    struct mstate ms;
    const char *s1 = s + init;
    int anchor = *p == '^';
    if (anchor) {
        p++;
        lp--;
    }
    prepare(&ms, L, find ? "string.find" HINT : "string.match" HINT, s, ls, p, lp);
    do {
        restart(&ms);
        const char *e = match(&ms, s1, p);
        if (e) {
            charge_rest(&ms);
            if (find) {
                lua_pushinteger(L, (s1 - s) + 1);
                lua_pushinteger(L, e - s);
                return push_captures(&ms, NULL, NULL) + 2;
            }
            return push_captures(&ms, s1, e);
        }
    } while (s1++ < ms.src_end && !anchor);
    charge_rest(&ms);
    luaL_pushfail(L);
    return 1;
}

static int str_find(lua_State *L)
{
    return find_aux(L, 1);
}

static int str_match(lua_State *L)
{
    return find_aux(L, 0);
}

struct gmatch_state {
    const char *src, *p, *lastmatch;
    struct mstate ms;
};

static int gmatch_next(lua_State *L)
{
    struct gmatch_state *gm = lua_touserdata(L, lua_upvalueindex(3));
    gm->ms.L = L;
    for (const char *src = gm->src; src <= gm->ms.src_end; src++) {
        restart(&gm->ms);
        const char *e = match(&gm->ms, src, gm->p);
        if (e && e != gm->lastmatch) {
            gm->src = gm->lastmatch = e;
            charge_rest(&gm->ms);
            return push_captures(&gm->ms, src, e);
        }
    }
    charge_rest(&gm->ms);
    return 0;
}

/* gmatch(s, pattern [, init]): a '^' is not an anchor here (it would stop
 * the iteration), it matches itself. */
static int str_gmatch(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2); /* the closure keeps both strings alive */
    struct gmatch_state *gm = lua_newuserdatauv(L, sizeof *gm, 0);
    if (init > ls)
        init = ls + 1;
    prepare(&gm->ms, L, "string.gmatch" HINT, s, ls, p, lp);
    gm->src = s + init;
    gm->p = p;
    gm->lastmatch = NULL;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* The replacement string at index 3 for the match S..E. */
static void add_string(struct mstate *ms, luaL_Buffer *b, const char *s, const char *e)
{
    size_t l;
    const char *news = lua_tolstring(ms->L, 3, &l);
    const char *p;
    /* The replacement is work too: "%0%0%0..." on every empty match of a
     * long subject adds nothing and would cost no step otherwise. */
    step(ms, 1 + (int64_t)(l / 16));
    while ((p = memchr(news, ESC, l)) != NULL) {
        step(ms, 1);
        luaL_addlstring(b, news, (size_t)(p - news));
        p++;
        if (*p == ESC) {
            luaL_addchar(b, *p);
        } else if (*p == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit((unsigned char)*p)) {
            const char *cap;
            ptrdiff_t rl = get_capture(ms, *p - '1', s, e, &cap);
            if (rl == CAP_POSITION)
                luaL_addvalue(b);
            else
                luaL_addlstring(b, cap, (size_t)rl);
        } else {
            luaL_error(ms->L, "invalid use of '%c' in replacement string", ESC);
        }
        l -= (size_t)(p + 1 - news);
        news = p + 1;
    }
    luaL_addlstring(b, news, l);
}

/* Add the replacement of S..E; returns whether the text changed. */
static int add_value(struct mstate *ms, luaL_Buffer *b, const char *s, const char *e, int tr)
{
    lua_State *L = ms->L;
    if (tr == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(ms, s, e);
        lua_call(L, n, 1);
    } else if (tr == LUA_TTABLE) {
        push_capture(ms, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_string(ms, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) { /* nil or false: keep the original text */
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return 0;
    }
    if (!lua_isstring(L, -1))
        return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return 1;
}

static int str_gsub(lua_State *L)
{
    size_t srcl, lp;
    const char *src = luaL_checklstring(L, 1, &srcl);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *lastmatch = NULL;
    int tr = lua_type(L, 3);
    lua_Integer max_s = luaL_optinteger(L, 4, (lua_Integer)srcl + 1);
    int anchor = *p == '^';
    lua_Integer n = 0;
    int changed = 0;
    struct mstate ms;
    luaL_Buffer b;
    luaL_argexpected(
        L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
        "string/function/table");
    luaL_buffinit(L, &b);
    if (anchor) {
        p++;
        lp--;
    }
    prepare(&ms, L, "string.gsub" HINT, src, srcl, p, lp);
    while (n < max_s) {
        restart(&ms);
        const char *e = match(&ms, src, p);
        if (e && e != lastmatch) {
            n++;
            changed = add_value(&ms, &b, src, e, tr) | changed;
            src = lastmatch = e;
        } else if (src < ms.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor)
            break;
    }
    charge_rest(&ms);
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

void tk_lua_open_patterns(lua_State *L)
{
    static const luaL_Reg fns[] = {{"find", str_find},
                                   {"match", str_match},
                                   {"gmatch", str_gmatch},
                                   {"gsub", str_gsub},
                                   {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
