/* test_lua_sandbox.c - every escape attempt of issue 3 against the real
 * sandbox (core/lua): each must fail with one clear line naming the script,
 * the line and the function, and within about two seconds. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lua/internal.h"
#include "tk_test.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Load TEXT as script "t.lua" with default limits; returns rc, fills ERR. */
static int run(const char *text, struct tk_error *err, double *secs)
{
    struct tk_script *sc = NULL;
    double t0 = now_s();
    tk_error_clear(err);
    int rc = tk_script_load_text(&sc, "t.lua", text, strlen(text), NULL, NULL, NULL, err);
    if (secs)
        *secs = now_s() - t0;
    tk_script_free(sc);
    return rc;
}

#define HAS(msg, s)                                                                                \
    do {                                                                                           \
        if (!strstr((msg), (s))) {                                                                 \
            fprintf(stderr, "%s:%d: '%s' not in '%s'\n", __FILE__, __LINE__, (s), (msg));          \
            tk_test_failed_checks++;                                                               \
        }                                                                                          \
    } while (0)

/* Run an attack in function `attack` called from line 3 of the chunk. */
static void expect_fail(const char *body, const char *needle)
{
    char text[4096];
    snprintf(text, sizeof text,
             "pipeline('P', { { stage = 'A' } })\n"
             "local function attack()\n%s\nend\n"
             "attack()\n",
             body);
    struct tk_error err;
    double secs = 0;
    TK_CHECK(run(text, &err, &secs) != 0);
    HAS(err.msg, "t.lua:");
    HAS(err.msg, "in function 'attack'");
    HAS(err.msg, needle);
    TK_CHECK(secs < 2.0);
    if (getenv("TK_VERBOSE"))
        fprintf(stderr, "  %.3fs %s\n", secs, err.msg);
}

TK_TEST(test_io_open)
{
    expect_fail("return io.open('/etc/passwd')", "t.lua:3:");
}
TK_TEST(test_os_execute)
{
    expect_fail("os.execute('true')", "execute");
}
TK_TEST(test_os_getenv)
{
    expect_fail("return os.getenv('HOME')", "getenv");
}
TK_TEST(test_require)
{
    expect_fail("return require('io')", "require");
}
TK_TEST(test_package)
{
    expect_fail("return package.loadlib('libc.so.6', 'system')", "package");
}
TK_TEST(test_debug)
{
    expect_fail("return debug.getregistry()", "debug");
}
TK_TEST(test_load)
{
    expect_fail("return load('\\27Lua')", "load");
}
TK_TEST(test_dofile)
{
    expect_fail("return dofile('/etc/passwd')", "dofile");
}
TK_TEST(test_string_dump)
{
    expect_fail("return string.dump(attack)", "dump");
}
TK_TEST(test_string_dump_method)
{
    expect_fail("return ('x').dump(print)", "dump");
}
TK_TEST(test_collectgarbage)
{
    expect_fail("collectgarbage('stop')", "not allowed");
}
TK_TEST(test_gc_metamethod)
{
    expect_fail("setmetatable({}, { __gc = function() end })", "__gc");
}
TK_TEST(test_coroutine)
{
    expect_fail("return coroutine.create(print)", "coroutine");
}

TK_TEST(test_endless_loop)
{
    expect_fail("while true do end", "limit");
}

TK_TEST(test_endless_loop_in_pcall)
{
    /* pcall catches the first error; the re-armed hook raises again at the
     * next instruction, so the script never reaches its own error(). */
    expect_fail("for i = 1, 5 do pcall(function() while true do end end) end\n"
                "error('pcall swallowed the limit')",
                "limit");
    expect_fail("while true do pcall(function() while true do end end) end", "limit");
    expect_fail(
        "while true do xpcall(function() while true do end end, function(m) return m end) end",
        "limit");
}

TK_TEST(test_deep_recursion)
{
    struct tk_error err;
    double secs = 0;
    TK_CHECK(run("pipeline('P', { { stage = 'A' } })\n"
                 "local function f(n) return f(n + 1) + 1 end\nf(1)\n",
                 &err, &secs) != 0);
    HAS(err.msg, "t.lua:2: in function 'f': ");
    TK_CHECK(strstr(err.msg, "stack overflow") || strstr(err.msg, "memory limit"));
    TK_CHECK(secs < 2.0);
}

TK_TEST(test_string_rep_huge)
{
    expect_fail("return string.rep('x', 2^31)", "too large");
    expect_fail("return string.rep('x', 2^30)", "memory limit of 16 MB exceeded");
    expect_fail("return string.rep('x', 2^24 - 100)", "memory limit of 16 MB exceeded");
}
TK_TEST(test_string_rep_sep)
{
    expect_fail("return ('x'):rep(2^28, 'yy')", "memory limit");
}

TK_TEST(test_concat_loop)
{
    expect_fail("local t = 'x'\nwhile true do t = t .. t end", "memory limit");
    expect_fail("local t = {}\nfor i = 1, 1e9 do t[i] = i end", "limit");
}

TK_TEST(test_pathological_pattern)
{
    expect_fail("return string.rep('a', 5000):find('.-.-.-.-x')", "backtrack");
    expect_fail("return string.rep('a', 40):match(string.rep('a*', 40) .. 'b')", "backtrack");
    expect_fail("return string.rep('a', 1e5):gsub('a*a*a*b', '')", "backtrack");
}

TK_TEST(test_ordinary_patterns_work)
{
    struct tk_error err = {0};
    const char *text = "local a, b, c = ('John Smith 2026'):match('^(%w+)%s+(%w+)%s+(%d+)$')\n"
                       "assert(a == 'John' and b == 'Smith' and c == '2026', 'match')\n"
                       "local s = ('  lots   of   space  '):rep(2000):gsub('%s+', ' ')\n"
                       "assert(#s > 0)\n"
                       "assert(('a.b.c'):find('.', 1, true) == 2)\n"
                       "local n = 0 for w in ('one two three'):gmatch('%a+') do n = n + 1 end\n"
                       "assert(n == 3)\n"
                       "assert(('Invoice INV-0042'):match('INV%-(%d+)') == '0042')\n"
                       "pipeline('P', { { stage = 'A' } })\n";
    TK_CHECK_INT(run(text, &err, NULL), 0);
    if (err.code)
        fprintf(stderr, "  %s\n", err.msg);
}

TK_TEST(test_pattern_cost)
{
    const char *s = "John Smith tax return 2026";
    TK_CHECK(tk_lua_pattern_cost(s, strlen(s), "^(%w+)%s+(%w+)", 14) < 1e4);
    TK_CHECK(tk_lua_pattern_cost(s, strlen(s), "x", 1) <= 27);
    TK_CHECK(tk_lua_pattern_cost("aaaaaaaaaa", 10, "a*a*a*a*a*a*a*a*a*a*a*b", 23) > 1e9);
}

TK_TEST(test_error_table)
{
    expect_fail("error({ code = 42 })", "error object is a table value");
    expect_fail("error({ message = 'custom failure' })", "custom failure");
    expect_fail("error(setmetatable({}, { __tostring = function() while true do end end }))",
                "table value");
    expect_fail("error(nil)", "nil value");
}

TK_TEST(test_redefine_pipeline_and_on)
{
    struct tk_error err;
    struct tk_script *sc = NULL;
    /* Redefining after declaring changes only the script's own globals. */
    const char *text = "pipeline('P', { { stage = 'A', on_enter = function(job) return 1 end } })\n"
                       "pipeline = nil\non = function() error('hijacked') end\n"
                       "_G.pipeline = 5\n";
    TK_CHECK_INT(tk_script_load_text(&sc, "t.lua", text, strlen(text), NULL, NULL, NULL, &err), 0);
    TK_CHECK(sc && sc->npipes == 1);
    if (sc && sc->npipes == 1) {
        TK_CHECK_STR(sc->pipes[0].name, "P");
        TK_CHECK(sc->pipes[0].stages[0].on_enter != LUA_NOREF);
        /* The host still calls the declared automation. */
        lua_State *L = tk_lua_state(sc->lua);
        lua_rawgeti(L, LUA_REGISTRYINDEX, sc->pipes[0].stages[0].on_enter);
        lua_pushnil(L);
        TK_CHECK_INT(tk_lua_call(sc->lua, 1, 0, "on_enter", &err), 0);
    }
    tk_script_free(sc);

    /* A script that keeps the real function and hijacks the global. */
    text = "local real = pipeline\npipeline = function() error('hijacked') end\n"
           "real('Q', { { stage = 'A' }, { stage = 'B' } })\n";
    sc = NULL;
    TK_CHECK_INT(tk_script_load_text(&sc, "t.lua", text, strlen(text), NULL, NULL, NULL, &err), 0);
    TK_CHECK(sc && sc->npipes == 1 && sc->pipes[0].nstages == 2);
    tk_script_free(sc);

    /* Declaring from an automation is refused. */
    text = "pipeline('P', { { stage = 'A', on_enter = function(job)\n"
           "  pipeline('Late', { { stage = 'X' } })\nend } })\n";
    sc = NULL;
    TK_CHECK_INT(tk_script_load_text(&sc, "t.lua", text, strlen(text), NULL, NULL, NULL, &err), 0);
    if (sc && sc->npipes == 1) {
        lua_State *L = tk_lua_state(sc->lua);
        lua_rawgeti(L, LUA_REGISTRYINDEX, sc->pipes[0].stages[0].on_enter);
        lua_pushnil(L);
        TK_CHECK(tk_lua_call(sc->lua, 1, 0, "on_enter", &err) != 0);
        HAS(err.msg, "t.lua:2: in function 'on_enter'");
        HAS(err.msg, "only be called while the script loads");
        TK_CHECK_INT(sc->npipes, 1);
    }
    tk_script_free(sc);
}

TK_TEST(test_automation_limits)
{
    /* The budget is per call: a runaway automation is stopped and the next
     * call of the same state works again. */
    struct tk_error err;
    struct tk_script *sc = NULL;
    const char *text = "pipeline('P', {\n"
                       "  { stage = 'A', on_enter = function(job)\n"
                       "      while true do end\n"
                       "    end },\n"
                       "  { stage = 'B', on_enter = function(job) return 1 end } })\n";
    TK_CHECK_INT(tk_script_load_text(&sc, "t.lua", text, strlen(text), NULL, NULL, NULL, &err), 0);
    if (sc) {
        lua_State *L = tk_lua_state(sc->lua);
        double t0 = now_s();
        lua_rawgeti(L, LUA_REGISTRYINDEX, sc->pipes[0].stages[0].on_enter);
        lua_pushnil(L);
        TK_CHECK(tk_lua_call(sc->lua, 1, 0, "on_enter", &err) != 0);
        TK_CHECK(now_s() - t0 < 2.0);
        HAS(err.msg, "t.lua:3: in function 'on_enter': ");
        HAS(err.msg, "limit");
        lua_rawgeti(L, LUA_REGISTRYINDEX, sc->pipes[0].stages[1].on_enter);
        lua_pushnil(L);
        TK_CHECK_INT(tk_lua_call(sc->lua, 1, 0, "on_enter", &err), 0);
        TK_CHECK_INT(lua_gettop(L), 0);
    }
    tk_script_free(sc);

    /* A small instruction budget from the configuration is honoured. */
    struct tk_lua_limits lim = {.instructions = 100000, .time_ms = 60000};
    text = "pipeline('P', { { stage = 'A' } })\nlocal n = 0\nwhile true do n = n + 1 end\n";
    sc = NULL;
    TK_CHECK(tk_script_load_text(&sc, "t.lua", text, strlen(text), NULL, &lim, NULL, &err) != 0);
    HAS(err.msg, "t.lua:3: in main chunk: instruction limit of 100000 exceeded");
    tk_script_free(sc);

    /* And a small memory cap. */
    struct tk_lua_limits small = {.memory_bytes = 2 << 20};
    text = "pipeline('P', { { stage = 'A' } })\nlocal t = {}\nfor i = 1, 1e7 do t[i] = i end\n";
    sc = NULL;
    TK_CHECK(tk_script_load_text(&sc, "t.lua", text, strlen(text), NULL, &small, NULL, &err) != 0);
    HAS(err.msg, "t.lua:3: in main chunk: memory limit of 2 MB exceeded");
    tk_script_free(sc);
}

TK_TEST(test_memory_hoarded_between_calls)
{
    /* A script that fills its memory budget while loading (and catches the
     * error) leaves the host no room: the host's pushes must not panic and
     * the next automation fails cleanly. */
    struct tk_error err = {0};
    struct tk_script *sc = NULL;
    struct tk_lua_limits small = {.memory_bytes = 2 << 20};
    const char *text = "big = {}\n"
                       "pcall(function() for i = 1, 1e7 do big[i] = i end end)\n"
                       "pipeline('P', { { stage = 'A', on_enter = function(job)\n"
                       "  local t = {} for i = 1, 1e5 do t[i] = i end\n"
                       "end } })\n";
    TK_CHECK_INT(tk_script_load_text(&sc, "t.lua", text, strlen(text), NULL, &small, NULL, &err),
                 0);
    if (sc && sc->npipes == 1) {
        lua_State *L = tk_lua_state(sc->lua);
        lua_rawgeti(L, LUA_REGISTRYINDEX, sc->pipes[0].stages[0].on_enter);
        lua_createtable(L, 0, 64);
        TK_CHECK(tk_lua_call(sc->lua, 1, 0, "on_enter", &err) != 0);
        HAS(err.msg, "t.lua:4: in function 'on_enter': memory limit of 2 MB exceeded");
        TK_CHECK_INT(lua_gettop(L), 0);
    }
    tk_script_free(sc);
}

TK_TEST(test_syntax_error)
{
    struct tk_error err;
    TK_CHECK(run("pipeline('P', {\n  { stage = 'A' }\n  { stage = 'B' } })\n", &err, NULL) != 0);
    HAS(err.msg, "t.lua:3:");
    HAS(err.msg, "expected");

    /* From a file: the path as given, in full. */
    char dir[] = "/tmp/tk-lua-XXXXXX";
    TK_CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path,
             "%s/a-rather-long-folder-name-for-testing/and-a-long-script-name.lua", dir);
    char sub[256];
    snprintf(sub, sizeof sub, "%s/a-rather-long-folder-name-for-testing", dir);
    TK_CHECK(mkdir(sub, 0700) == 0);
    FILE *f = fopen(path, "w");
    TK_CHECK(f != NULL);
    if (f) {
        fputs("pipeline('P', {\n  { stage = 'A' }\n})\nlocal x = = 1\n", f);
        fclose(f);
    }
    struct tk_script *sc = NULL;
    TK_CHECK(tk_script_load(&sc, path, NULL, NULL, NULL, &err) != 0);
    char want[300];
    snprintf(want, sizeof want, "%s:4:", path);
    TK_CHECK(strncmp(err.msg, want, strlen(want)) == 0);
    if (strncmp(err.msg, want, strlen(want)) != 0)
        fprintf(stderr, "  got: %s\n", err.msg);
    tk_script_free(sc);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
}

static int dump_writer(lua_State *L, const void *p, size_t n, void *u)
{
    (void)L;
    return tk_buf_append(u, p, n);
}

TK_TEST(test_binary_chunk)
{
    /* Compile a chunk to bytecode with a plain state and offer it as a
     * script: text-only loading refuses it. */
    lua_State *P = luaL_newstate();
    struct tk_buf b = {0};
    TK_CHECK(luaL_loadstring(P, "pipeline('P', { { stage = 'A' } })") == LUA_OK);
    TK_CHECK(lua_dump(P, dump_writer, &b, 0) == 0);
    lua_close(P);
    struct tk_script *sc = NULL;
    struct tk_error err;
    TK_CHECK(b.len > 4 && b.data[0] == 0x1b);
    TK_CHECK(tk_script_load_text(&sc, "t.lua", b.data, b.len, NULL, NULL, NULL, &err) != 0);
    HAS(err.msg, "t.lua");
    HAS(err.msg, "binary chunk");
    tk_script_free(sc);
    tk_buf_free(&b);
}

TK_TEST(test_declarations_checked)
{
    struct tk_error err;
    TK_CHECK(run("pipeline('P', { { stage = 'A', on_entr = function() end } })\n", &err, NULL));
    HAS(err.msg, "t.lua:1:");
    HAS(err.msg, "unknown key 'on_entr'");
    TK_CHECK(run("pipeline('P', { { stage = 'A', advance = 'sometimes' } })\n", &err, NULL));
    HAS(err.msg, "when_done");
    TK_CHECK(run("pipeline('P', { { stage = 'A' }, { stage = 'A' } })\n", &err, NULL));
    HAS(err.msg, "twice");
    TK_CHECK(run("pipeline('P', {})\n", &err, NULL));
    TK_CHECK(run("on('paid', function() end)\n", &err, NULL));
    HAS(err.msg, "TYPE.EVENT");
    TK_CHECK(run("local x = 1\n", &err, NULL));
    HAS(err.msg, "declares no pipeline");
}

TK_TEST(test_clock_and_print)
{
    struct tk_error err = {0};
    struct tk_script *sc = NULL;
    const char *text = "pipeline('P', { { stage = 'A', on_enter = function()\n"
                       "  assert(os.time() == 1796115600, 'os.time is the engine clock')\n"
                       "  assert(os.date('!%Y-%m-%d') == '2026-12-01', os.date('!%Y-%m-%d'))\n"
                       "  assert(type(os.clock()) == 'number')\n"
                       "  assert(collectgarbage('count') > 0)\n"
                       "end } })\n";
    TK_CHECK_INT(tk_script_load_text(&sc, "t.lua", text, strlen(text), NULL, NULL, NULL, &err), 0);
    if (sc) {
        tk_lua_set_now(sc->lua, 1796115600); /* 2026-12-01T09:00:00Z */
        lua_State *L = tk_lua_state(sc->lua);
        lua_rawgeti(L, LUA_REGISTRYINDEX, sc->pipes[0].stages[0].on_enter);
        lua_pushnil(L);
        TK_CHECK_INT(tk_lua_call(sc->lua, 1, 0, "on_enter", &err), 0);
        if (err.code)
            fprintf(stderr, "  %s\n", err.msg);
    }
    tk_script_free(sc);
}

int main(void)
{
    TK_RUN(test_io_open);
    TK_RUN(test_os_execute);
    TK_RUN(test_os_getenv);
    TK_RUN(test_require);
    TK_RUN(test_package);
    TK_RUN(test_debug);
    TK_RUN(test_load);
    TK_RUN(test_dofile);
    TK_RUN(test_string_dump);
    TK_RUN(test_string_dump_method);
    TK_RUN(test_collectgarbage);
    TK_RUN(test_gc_metamethod);
    TK_RUN(test_coroutine);
    TK_RUN(test_endless_loop);
    TK_RUN(test_endless_loop_in_pcall);
    TK_RUN(test_deep_recursion);
    TK_RUN(test_string_rep_huge);
    TK_RUN(test_string_rep_sep);
    TK_RUN(test_concat_loop);
    TK_RUN(test_pathological_pattern);
    TK_RUN(test_ordinary_patterns_work);
    TK_RUN(test_pattern_cost);
    TK_RUN(test_error_table);
    TK_RUN(test_redefine_pipeline_and_on);
    TK_RUN(test_automation_limits);
    TK_RUN(test_memory_hoarded_between_calls);
    TK_RUN(test_syntax_error);
    TK_RUN(test_binary_chunk);
    TK_RUN(test_declarations_checked);
    TK_RUN(test_clock_and_print);
    return tk_test_done();
}
