/* test_lua_libs.c - the sandbox's own string matcher (core/lua/pattern.c)
 * and table library (core/lua/tablib.c) give the same results and the same
 * errors as Lua 5.4's: thousands of random patterns, subjects, start
 * positions and replacements, and a list of table calls, run through both
 * and compared as text. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/internal.h"
#include "tk_test.h"

/* Loaded into both states: run(fn, s, p, init, repl, max) calls
 * string[fn] and describes every result (and error) as one string. */
static const char HELPER[] =
    "local function ser(...)\n"
    "  local out = ''\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    if type(v) == 'string' then out = out .. string.format('%q', v) .. ','\n"
    "    else out = out .. tostring(v) .. ',' end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "function run(fn, s, p, init, repl, max)\n"
    "  if fn == 'gmatch' then\n"
    "    local ok, it = pcall(string.gmatch, s, p, init)\n"
    "    if not ok then return 'E:' .. it end\n"
    "    local res = ''\n"
    "    for k = 1, 40 do\n"
    "      local r = table.pack(pcall(it))\n"
    "      if not r[1] then return res .. 'E:' .. tostring(r[2]) end\n"
    "      if r[2] == nil then break end\n"
    "      res = res .. ser(table.unpack(r, 2, r.n)) .. ';'\n"
    "    end\n"
    "    return res\n"
    "  elseif fn == 'gsub' then\n"
    "    local r = repl\n"
    "    if repl == 'FUNC' then\n"
    "      r = function(...) return '<' .. select('#', ...) .. tostring((...)) .. '>' end\n"
    "    elseif repl == 'NIL' then r = function() return nil end\n"
    "    elseif repl == 'TABLE' then r = { a = 'A', ab = 'AB', [''] = '_', x = false }\n"
    "    end\n"
    "    return ser(pcall(string.gsub, s, p, r, max))\n"
    "  elseif fn == 'findp' then\n"
    "    return ser(pcall(string.find, s, p, init, true))\n"
    "  end\n"
    "  return ser(pcall(string[fn], s, p, init))\n"
    "end\n"
    "function snippet(code)\n"
    "  return code()\n"
    "end\n";

static lua_State *R;     /* plain Lua with its own libraries */
static struct tk_lua *S; /* the sandbox */

static int setup(void)
{
    struct tk_error err = {0};
    R = luaL_newstate();
    luaL_openlibs(R);
    if (luaL_loadbuffer(R, HELPER, sizeof HELPER - 1, "@helper") != LUA_OK ||
        lua_pcall(R, 0, 0, 0) != LUA_OK) {
        fprintf(stderr, "helper: %s\n", lua_tostring(R, -1));
        return -1;
    }
    if (tk_lua_open(&S, "helper", NULL, &err) != 0 ||
        tk_lua_load(S, HELPER, sizeof HELPER - 1, &err) != 0 ||
        tk_lua_call(S, 0, 0, "main chunk", &err) != 0) {
        fprintf(stderr, "sandbox: %s\n", err.msg);
        return -1;
    }
    return 0;
}

struct args {
    const char *fn;
    const char *s, *p;
    size_t sl, pl;
    long long init;
    const char *repl; /* NULL: none */
    int max;          /* < 0: none */
};

static void push_args(lua_State *L, const struct args *a)
{
    lua_pushstring(L, a->fn);
    lua_pushlstring(L, a->s, a->sl);
    lua_pushlstring(L, a->p, a->pl);
    lua_pushinteger(L, a->init);
    if (a->repl)
        lua_pushstring(L, a->repl);
    else
        lua_pushnil(L);
    if (a->max >= 0)
        lua_pushinteger(L, a->max);
    else
        lua_pushnil(L);
}

/* run(...) in the real state and in the sandbox; 0 when both agree. */
static int compare(const struct args *a)
{
    struct tk_error err = {0};
    lua_getglobal(R, "run");
    push_args(R, a);
    if (lua_pcall(R, 6, 1, 0) != LUA_OK) {
        fprintf(stderr, "real run: %s\n", lua_tostring(R, -1));
        lua_pop(R, 1);
        return -1;
    }
    lua_State *L = tk_lua_state(S);
    tk_lua_push_env(S);
    lua_getfield(L, -1, "run");
    lua_remove(L, -2);
    push_args(L, a);
    if (tk_lua_call(S, 6, 1, "run", &err) != 0) {
        fprintf(stderr, "sandbox run: %s\n", err.msg);
        lua_pop(R, 1);
        return -1;
    }
    size_t rl, sl;
    const char *want = lua_tolstring(R, -1, &rl), *got = lua_tolstring(L, -1, &sl);
    int diff = rl != sl || memcmp(want, got, rl) != 0;
    if (diff)
        fprintf(stderr, "string.%s(%.*s, %.*s, %lld, %s, %d):\n  lua:     %s\n  sandbox: %s\n",
                a->fn, (int)a->sl, a->s, (int)a->pl, a->p, a->init, a->repl ? a->repl : "nil",
                a->max, want, got);
    lua_pop(R, 1);
    lua_pop(L, 1);
    return diff;
}

static unsigned long long seed = 20261201;

static unsigned rnd(unsigned n)
{
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((seed >> 33) % n);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* One random pattern of at most three repetitions (the real matcher has
 * no budget: the comparison must stay fast), sometimes malformed. */
static size_t random_pattern(char *out, size_t size)
{
    static const char *const atoms[] = {
        "a",    "b",      "x",      ".",     "%a",    "%d",     "%s",   "%w",  "%p", "%A",
        "%S",   "[ab]",   "[^a]",   "[a-c]", "[%a_]", "[]]",    "[^]]", "%%",  "%.", "%b()",
        "%bab", "%f[%w]", "%f[%W]", "%f[a]", "(",     ")",      "()",   "%1",  "%2", "$",
        "%",    "[",      "]",      "-",     "%0",    "%bx",    "%fx",  "[a-", "%]", "%z",
        "1",    "(a)",    "(%w+)",  "(.-)",  "()a",   "[%d%s]", "\\0"};
    static const char *const quant[] = {"", "", "", "", "*", "+", "-", "?"};
    size_t n = 0;
    int reps = 0;
    if (rnd(5) == 0)
        out[n++] = '^';
    for (unsigned i = 0, k = 1 + rnd(6); i < k; i++) {
        const char *a = atoms[rnd(COUNT(atoms))];
        size_t al = strcmp(a, "\\0") == 0 ? 1 : strlen(a);
        if (n + al + 2 >= size)
            break;
        if (al == 1 && a[0] == '\\')
            out[n] = '\0';
        else
            memcpy(out + n, a, al);
        n += al;
        const char *q = quant[rnd(COUNT(quant))];
        if (*q && reps < 3) {
            out[n++] = *q;
            reps++;
        }
    }
    return n;
}

static size_t random_subject(char *out, size_t size)
{
    static const char alphabet[] = "aaabbx  ()(1_.%]B\n";
    size_t n = rnd((unsigned)size);
    for (size_t i = 0; i < n; i++)
        out[i] = rnd(25) == 0 ? '\0' : alphabet[rnd(sizeof alphabet - 1)];
    return n;
}

TK_TEST(test_patterns_same_as_lua)
{
    static const char *const fns[] = {"find", "match", "gmatch", "gsub", "findp"};
    static const char *const repls[] = {"<%0>", "%1",   "%%",   "[%2]", "x",    "%",
                                        "%x",   "%1%1", "FUNC", "NIL",  "TABLE"};
    static const long long inits[] = {1, 1, 1, 0, -3, 2, 5, 100, -100};
    char s[32], p[64];
    int bad = 0, total = 0, cases = 30000;
    /* TK_PATTERN_CASES=N TK_PATTERN_SEED=S: a longer or different run */
    if (getenv("TK_PATTERN_CASES"))
        cases = (int)strtol(getenv("TK_PATTERN_CASES"), NULL, 10);
    if (getenv("TK_PATTERN_SEED"))
        seed = strtoull(getenv("TK_PATTERN_SEED"), NULL, 10);
    for (int i = 0; i < cases && bad < 10; i++) {
        struct args a = {.fn = fns[rnd(COUNT(fns))], .s = s, .p = p, .max = -1};
        a.sl = random_subject(s, 17);
        a.pl = random_pattern(p, sizeof p);
        a.init = inits[rnd(COUNT(inits))];
        if (strcmp(a.fn, "gsub") == 0) {
            a.repl = repls[rnd(COUNT(repls))];
            a.max = rnd(3) == 0 ? (int)rnd(4) : -1;
        }
        bad += compare(&a) != 0;
        total++;
    }
    TK_CHECK_INT(bad, 0);
    if (getenv("TK_VERBOSE"))
        fprintf(stderr, "  %d random calls compared\n", total);
}

TK_TEST(test_patterns_fixed_cases)
{
    /* Cases the random generator may miss: long runs, anchors, frontier at
     * the ends, position captures, nested captures, empty matches. */
    static const struct {
        const char *fn, *s, *p, *repl;
    } cases[] = {
        {"find", "hello world", "o w", NULL},
        {"find", "hello world", "l+", NULL},
        {"match", "  key = value  ", "^%s*(%w+)%s*=%s*(%w+)%s*$", NULL},
        {"match", "THE (quick) fox", "%f[%a]%a+%f[%A]", NULL},
        {"match", "x = (a(b)c) + (d)", "%b()", NULL},
        {"gmatch", "one two  three", "%a+", NULL},
        {"gmatch", "abc", "", NULL},
        {"gmatch", "abc", "()", NULL},
        {"gmatch", "k1=v1, k2=v2", "(%w+)=(%w+)", NULL},
        {"gsub", "hello world", "(%w+)", "<%1>"},
        {"gsub", "hello world", "%w+", "%0 %0"},
        {"gsub", "abc", "", "-"},
        {"gsub", "abc", "b*", "X"},
        {"gsub", "hello", "", "FUNC"},
        {"match", "2026-12-01", "^(%d%d%d%d)-(%d%d)-(%d%d)$", NULL},
        {"match", "aaa", "((a)(a))", NULL},
        {"match", "abcabc", "(abc)%1", NULL},
        {"match", "abab", "()(ab)%2()", NULL},
        {"find", "a.b.c", ".", NULL},
        {"findp", "a.b.c", ".", NULL},
        {"findp", "abc", "", NULL},
        {"find", "abc", "", NULL},
        {"match", "[x]", "[]]", NULL},
        {"match", "a-b", "[a%-]+", NULL},
        {"match", "%", "%%", NULL},
        {"match", "abc", "%", NULL},
        {"match", "abc", "[a", NULL},
        {"match", "abc", "(()", NULL},
        {"match", "abc", "a)", NULL},
        {"match", "abc", "%b", NULL},
        {"match", "abc", "%fa", NULL},
        {"gsub", "abc", "(a)", "%2"},
        {"gsub", "abc", "a", "%"},
        {"match", "((((((((((((((((((((((((((((((((((x",
         "(((((((((((((((((((((((((((((((((x)))))))))))))))))))))))))))))))))", NULL},
    };
    int bad = 0;
    for (size_t i = 0; i < COUNT(cases); i++) {
        const char *p = cases[i].p;
        struct args a = {.fn = cases[i].fn,
                         .s = cases[i].s,
                         .sl = strlen(cases[i].s),
                         .p = p,
                         .pl = strlen(p),
                         .init = 1,
                         .repl = cases[i].repl,
                         .max = -1};
        bad += compare(&a) != 0;
    }
    TK_CHECK_INT(bad, 0);
}

/* Each snippet returns a string; both states must return the same. */
static const char *const TABLE_SNIPPETS[] = {
    "local function d(t, n) local s = '' for i = 1, n do s = s .. tostring(t[i]) .. ' ' end "
    "return s end\n"
    "local t = {1, 2, 3, 4, 5} table.insert(t, 1, 0) table.insert(t, 9) "
    "table.insert(t, #t + 1, 10) table.insert(t, 4, 'x') return d(t, 10)",
    "local ok, e = pcall(function() table.insert({1, 2, 3}, 5, 0) end) return tostring(e)",
    "local ok, e = pcall(function() table.insert({1, 2, 3}, 0, 0) end) return tostring(e)",
    "local ok, e = pcall(function() table.insert({}, 1, 2, 3) end) return tostring(e)",
    "local t = {1, 2, 3, 4} local a = table.remove(t, 1) local b = table.remove(t) "
    "local c = table.remove({}) local d = table.remove(t, #t + 1) "
    "return tostring(a) .. tostring(b) .. tostring(c) .. tostring(d) .. #t .. tostring(t[1]) "
    ".. tostring(t[2])",
    /* Lua 5.4.4 names argument #1 here, later versions #2: compare the rest */
    "local ok, e = pcall(function() table.remove({1, 2}, 5) end) "
    "return tostring(ok) .. e:match('%(.*%)')",
    "local t = {[0] = 'z'} local r = table.remove(t, 0) return tostring(r) .. #t .. tostring(t[0])",
    "local function d(t, a, b) local s = '' for i = a, b do s = s .. tostring(t[i]) .. ' ' end "
    "return s end\n"
    "local t = {1, 2, 3, 4, 5, 6} table.move(t, 1, 4, 3) local u = {1, 2, 3, 4, 5, 6} "
    "table.move(u, 3, 6, 1) local w = table.move({7, 8, 9}, 1, 3, 2, {}) "
    "return d(t, 1, 7) .. '|' .. d(u, 1, 6) .. '|' .. d(w, 1, 4)",
    "local log = {} local src = setmetatable({}, {__index = function(_, k) return k * 10 end}) "
    "local dst = setmetatable({}, {__newindex = function(_, k, v) log[#log + 1] = k .. '=' .. v "
    "end}) table.move(src, 1, 3, 5, dst) return table.concat(log, ',')",
    "local ok, e = pcall(function() table.move({}, -1, math.maxinteger, 1) end) return "
    "tostring(e)",
    "local ok, e = pcall(function() table.move({}, 1, 10, math.maxinteger) end) return "
    "tostring(e)",
    "return table.concat({1, 2, 'three', 4.5}) .. '|' .. table.concat({'a', 'b', 'c'}, ', ') "
    ".. '|' .. table.concat({'a', 'b', 'c'}, '-', 2) .. '|' .. table.concat({'a', 'b', 'c'}, "
    "'-', 2, 2) .. '|' .. table.concat({'a', 'b'}, '-', 3) .. '|' .. table.concat({}, 'x')",
    "local ok, e = pcall(function() table.concat({1, {}, 3}) end) return tostring(e)",
    "local ok, e = pcall(function() table.concat({1, 2}, ',', 1, 3) end) return tostring(e)",
    "local ok, e = pcall(function() table.concat('abc') end) return tostring(e)",
    "local a, b, c, d = table.unpack({1, nil, 3}) local e, f = table.unpack({1, 2, 3}, 2) "
    "local g = select('#', table.unpack({}, 3, 2)) local h, i = table.unpack({1, 2, 3}, -1, 0) "
    "return tostring(a) .. tostring(b) .. tostring(c) .. tostring(d) .. e .. f .. g .. "
    "tostring(h) .. tostring(i)",
    "local ok, e = pcall(function() table.unpack({}, 1, 1e8) end) return tostring(e)",
    "local t = table.pack(1, nil, 3) return t.n .. tostring(t[1]) .. tostring(t[2]) .. "
    "tostring(t[3]) .. table.pack().n",
    "local t = {} for i = 1, 200 do t[i] = (i * 7919) % 1009 end table.sort(t) "
    "local s = '' for i = 1, #t do s = s .. t[i] .. ' ' end return s",
    "local t = {} for i = 1, 200 do t[i] = (i * 7919) % 1009 end "
    "table.sort(t, function(a, b) return a > b end) "
    "local s = '' for i = 1, #t do s = s .. t[i] .. ' ' end return s",
    "local t = {'pear', 'apple', 'fig', 'banana', 'cherry', 'kiwi'} table.sort(t) "
    "return table.concat(t, ' ')",
    "local t = {} table.sort(t) local u = {5} table.sort(u) return #t .. u[1]",
    "local ok, e = pcall(function() table.sort({1, 2}, 3) end) return tostring(e)",
    "local mt = {__lt = function(a, b) return a.v < b.v end} local t = {} "
    "for i = 1, 50 do t[i] = setmetatable({v = (i * 31) % 53}, mt) end table.sort(t) "
    "local s = '' for i = 1, #t do s = s .. t[i].v .. ' ' end return s",
    "local p = setmetatable({}, {__len = function() return 3 end, __index = function(_, k) "
    "return 'v' .. k end}) return table.concat(p, ',')",
};

static int run_snippet(lua_State *L, struct tk_lua *sb, const char *code, struct tk_buf *out)
{
    struct tk_error err = {0};
    char chunk[4096];
    snprintf(chunk, sizeof chunk, "return function() %s end", code);
    if (!sb) {
        if (luaL_loadbuffer(L, chunk, strlen(chunk), "@helper") != LUA_OK ||
            lua_pcall(L, 0, 1, 0) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
            tk_buf_printf(out, "E:%s", lua_tostring(L, -1));
            lua_pop(L, 1);
            return 0;
        }
    } else {
        if (tk_lua_load(sb, chunk, strlen(chunk), &err) != 0 ||
            tk_lua_call(sb, 0, 1, "snippet", &err) != 0 ||
            tk_lua_call(sb, 0, 1, "snippet", &err) != 0) {
            tk_buf_printf(out, "E:%s", err.msg);
            return 0;
        }
    }
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    tk_buf_append(out, s ? s : "(not a string)", s ? n : 14);
    lua_pop(L, 1);
    return 0;
}

TK_TEST(test_tables_same_as_lua)
{
    int bad = 0;
    for (size_t i = 0; i < COUNT(TABLE_SNIPPETS); i++) {
        struct tk_buf want = {0}, got = {0};
        run_snippet(R, NULL, TABLE_SNIPPETS[i], &want);
        run_snippet(tk_lua_state(S), S, TABLE_SNIPPETS[i], &got);
        if (want.len != got.len || memcmp(want.data, got.data, want.len) != 0) {
            fprintf(stderr, "snippet %zu: %s\n  lua:     %s\n  sandbox: %s\n", i, TABLE_SNIPPETS[i],
                    want.data, got.data);
            bad++;
        }
        tk_buf_free(&want);
        tk_buf_free(&got);
    }
    TK_CHECK_INT(bad, 0);
}

int main(void)
{
    if (setup() != 0)
        return 1;
    TK_RUN(test_patterns_same_as_lua);
    TK_RUN(test_patterns_fixed_cases);
    TK_RUN(test_tables_same_as_lua);
    tk_lua_close(S);
    lua_close(R);
    return tk_test_done();
}
