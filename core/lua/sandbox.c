/*
 * sandbox.c - one lua_State per script, with hard limits.
 *
 * Memory: every allocation goes through sb_alloc, which refuses to grow past
 * the cap, so string.rep("x", 2^31) or a `t = t .. t` loop fails at once
 * with a memory error instead of taking the machine down.  Lua retries a
 * refused allocation once after an emergency collection; when that fails
 * too (or lauxlib's buffers give up), the call has hit the cap and is
 * killed like for the other limits, so pcall cannot catch it and retry
 * with a full collection each time.
 *
 * Hash parts: Lua hashes integer (and float) keys without a seed, so a
 * script can choose 65,536 keys that all land in one slot of the table size
 * they grow it to; the one insertion that makes the table grow then moves
 * every key along that one chain, 1.3 s in a single instruction (5 s for
 * 131,072 keys, 20 s for 262,144, all within 6 MB).  The allocator sees the
 * new node vector of a growing table (a fresh, untagged allocation of a
 * power of two times the size of a node, which tk_lua_open measures) and
 * refuses one of more than MAX_NODES slots: a table holds at most 32,768
 * keys outside its array part, and the worst such insertion takes 0.35 s.
 * lauxlib's string buffers are fresh and untagged too, and can have that
 * size by chance (3 MiB is 24 * 2^17).  lauxlib allocates each buffer right
 * after its box, a userdata of a size tk_lua_open measures too; no other
 * userdata a script can make has that size (a gmatch state, a job, a field
 * list), so a node vector never comes right after one.
 *
 * CPU: a count hook every HOOK_EVERY instructions charges the budget and
 * checks the wall-clock deadline.  Library functions that loop in C (the
 * matcher of pattern.c, the table functions of tablib.c) charge their own
 * steps through tk_lua_charge().  Once a limit is spent the call is
 * "killed": the hook is re-armed to run before every instruction and
 * raises the same error each time, so a script's pcall cannot swallow it
 * (Redis does the same), and pcall, xpcall and xpcall's message handler
 * never run script code for a killed call.  That matters because Lua runs
 * a message handler for an error raised inside a hook with hooks off.
 *
 * Wall clock: checking the clock every HOOK_EVERY instructions is not
 * enough when single instructions are expensive (utf8.len or a string to
 * number conversion on a 10 MB string: a thousand of them take seconds).
 * A POSIX timer (the watchdog) therefore fires at the deadline of every
 * outermost call and arms the count hook to run at the very next
 * instruction.  lua_sethook is the one Lua function documented as safe to
 * call from a signal handler (lua.c does the same for Ctrl-C).
 *
 * Libraries are opened one by one (libs.c); each script runs with its own
 * environment table as _ENV.  The coroutine library is left out: hooks are
 * per thread, and a coroutine would escape the re-armed hook.
 */
#define _GNU_SOURCE
#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lua/internal.h"

#define HOOK_EVERY 1000
#define DEFAULT_MEMORY ((size_t)16 << 20)
#define DEFAULT_INSTRUCTIONS ((int64_t)50 * 1000 * 1000)
#define DEFAULT_TIME_MS 1000
/* What print() may write per outermost call: a loop of prints must not
 * fill the daemon's log or the disk. */
#define PRINT_MAX ((size_t)64 << 10)
#define MAX_NODES ((size_t)1 << 15)

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
    /* The last allocation the cap refused, until Lua's retry of the same
     * request (after an emergency collection) succeeds; and which cap. */
    int cap_refused;
    int cap_nodes;    /* the hash part cap, not the memory cap */
    size_t node_size; /* sizeof(Node), measured by tk_lua_open */
    int probing;      /* 1: a table's nodes, 2: a lauxlib box */
    size_t box_size;  /* the userdata lauxlib puts a buffer in */
    int after_box;    /* the last new block was such a userdata */
    const void *refused_ptr;
    size_t refused_osize, refused_nsize;
    size_t printed; /* bytes print() wrote in this call */
    tk_time now;
    int env_ref;
    void *host;
    /* The watchdog (see the top of the file).  hook_count is what the
     * count hook is armed with; the signal handler writes it. */
    volatile sig_atomic_t hook_count;
    timer_t timer;
    int has_timer;
    pid_t timer_tid;
    struct tk_lua *watched_before; /* the call this one is nested in */
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

/* Whether a fresh, untagged block of NSIZE bytes is the node vector of a
 * table growing past MAX_NODES slots (see the top of the file). */
static int too_many_nodes(const struct tk_lua *s, size_t nsize, int after_box)
{
    if (!s->node_size || after_box || nsize <= s->node_size * MAX_NODES ||
        nsize % s->node_size != 0)
        return 0;
    size_t n = nsize / s->node_size;
    return (n & (n - 1)) == 0;
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
    /* For a new block Lua passes the type of the object in OSIZE (0 for a
     * vector or a lauxlib buffer). */
    int fresh_vector = !ptr && osize == 0, after_box = s->after_box;
    if (!ptr)
        s->after_box = osize == LUA_TUSERDATA && nsize == s->box_size;
    if (s->probing == 1 && fresh_vector)
        s->node_size = nsize / 4; /* tk_lua_open: a table of 4 hash slots */
    if (s->probing == 2 && !ptr && osize == LUA_TUSERDATA)
        s->box_size = nsize;
    /* The caps bind script code (depth > 0) only: the host's own small
     * pushes between calls (the job object, an item table) run unprotected,
     * and a refusal there would be a Lua panic. */
    int nodes = s->depth > 0 && fresh_vector && too_many_nodes(s, nsize, after_box);
    if (s->depth > 0 && nsize > old &&
        (nodes || s->mem_used > s->lim.memory_bytes ||
         nsize - old > s->lim.memory_bytes - s->mem_used)) {
        if (s->L)
            describe_level(s->L, s, 0, s->oom_where, sizeof s->oom_where);
        s->cap_refused = 1;
        s->cap_nodes = nodes;
        s->refused_ptr = ptr;
        s->refused_osize = osize;
        s->refused_nsize = nsize;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    if (s->cap_refused && ptr == s->refused_ptr && osize == s->refused_osize &&
        nsize == s->refused_nsize)
        s->cap_refused = 0; /* the emergency collection made room */
    s->mem_used = s->mem_used - old + nsize;
    return p;
}

/* ---- the hook and the watchdog ------------------------------------------ */

static void sb_hook(lua_State *L, lua_Debug *ar);

static void arm_hook(struct tk_lua *s, int count)
{
    s->hook_count = count;
    lua_sethook(s->L, sb_hook, LUA_MASKCOUNT, count);
}

static void sb_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct tk_lua *s = tk_lua_of(L);
    if (s->killed) {
        lua_pushstring(L, s->kill_msg);
        lua_error(L);
    }
    if (s->depth == 0) {
        /* Lua code outside any call of ours (a finalizer, say) has no
         * budget at all. */
        tk_lua_kill(L, "Lua code ran outside an automation");
    }
    s->spent += s->hook_count;
    if (s->spent > s->lim.instructions)
        tk_lua_kill(L, "instruction limit of %lld exceeded (runaway loop?)",
                    (long long)s->lim.instructions);
    if (mono_ns() >= s->deadline_ns)
        tk_lua_kill(L, "time limit of %d ms exceeded", s->lim.time_ms);
    if (s->hook_count != HOOK_EVERY) {
        /* Woken early (a watchdog signal left over from an earlier call).
         * The watchdog of this call fires only after the deadline, so once
         * the clock says "not yet" after re-arming, its signal is still to
         * come. */
        arm_hook(s, HOOK_EVERY);
        if (mono_ns() >= s->deadline_ns)
            tk_lua_kill(L, "time limit of %d ms exceeded", s->lim.time_ms);
    }
}

/* The sandbox whose outermost call this thread runs; the calls it is
 * nested in are linked through watched_before. */
static __thread struct tk_lua *volatile watched;
static pthread_once_t watchdog_once = PTHREAD_ONCE_INIT;
static int watchdog_ok;

static void on_watchdog(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    for (struct tk_lua *s = watched; s; s = s->watched_before)
        if (s == si->si_value.sival_ptr) {
            s->hook_count = 1;
            lua_sethook(s->L, sb_hook, LUA_MASKCOUNT, 1);
            return;
        }
}

/* A real-time signal: queued, never merged with a user's signal, and no
 * library tickler links uses it. */
static int watchdog_signal(void)
{
    return SIGRTMIN + 3;
}

static void watchdog_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_watchdog;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    watchdog_ok = sigaction(watchdog_signal(), &sa, NULL) == 0;
}

/* Arm S's timer for its deadline.  Without a timer (none could be
 * created) the count hook still checks the clock. */
static void watchdog_arm(struct tk_lua *s)
{
    pthread_once(&watchdog_once, watchdog_install);
    if (!watchdog_ok)
        return;
    pid_t tid = gettid();
    if (s->has_timer && s->timer_tid != tid) {
        timer_delete(s->timer);
        s->has_timer = 0;
    }
    if (!s->has_timer) {
        struct sigevent ev;
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_THREAD_ID;
        ev.sigev_signo = watchdog_signal();
        ev.sigev_value.sival_ptr = s;
        ev._sigev_un._tid = tid;
        if (timer_create(CLOCK_MONOTONIC, &ev, &s->timer) != 0)
            return;
        s->has_timer = 1;
        s->timer_tid = tid;
    }
    s->watched_before = watched;
    watched = s;
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(s->deadline_ns / 1000000000);
    its.it_value.tv_nsec = (long)(s->deadline_ns % 1000000000);
    timer_settime(s->timer, TIMER_ABSTIME, &its, NULL);
}

static void watchdog_disarm(struct tk_lua *s)
{
    if (!s->has_timer || watched != s)
        return;
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    timer_settime(s->timer, 0, &its, NULL);
    /* A signal sent before the disarm finds S no longer watched. */
    watched = s->watched_before;
    s->watched_before = NULL;
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
    arm_hook(s, 1);
    lua_pushstring(L, s->kill_msg);
    return lua_error(L);
}

void tk_lua_charge(lua_State *L, int64_t steps, const char *fn)
{
    struct tk_lua *s = tk_lua_of(L);
    if (s->killed)
        tk_lua_kill(L, "%s", s->kill_msg);
    if (s->depth == 0)
        return;
    s->spent += steps;
    if (s->spent > s->lim.instructions)
        tk_lua_kill(L, "instruction limit of %lld exceeded in %s", (long long)s->lim.instructions,
                    fn);
    if (mono_ns() >= s->deadline_ns)
        tk_lua_kill(L, "time limit of %d ms exceeded in %s", s->lim.time_ms, fn);
}

static const char *cap_message(struct tk_lua *s)
{
    static __thread char buf[96];
    if (s->cap_nodes)
        return "a table with more than 32768 keys outside its array part is not allowed in "
               "pipeline scripts";
    snprintf(buf, sizeof buf, "memory limit of %d MB exceeded", (int)(s->lim.memory_bytes >> 20));
    return buf;
}

/* After a protected call inside the script failed: a killed call, or one
 * that hit the memory cap, raises again at once. */
static void stay_killed(lua_State *L, struct tk_lua *s)
{
    if (s->killed)
        tk_lua_kill(L, "%s", s->kill_msg);
    if (s->cap_refused && s->depth > 0)
        tk_lua_kill(L, "%s", cap_message(s));
}

/* ---- calls ---------------------------------------------------------------- */

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
    char where[256], line[TK_ERROR_MAX];
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
    if (strcmp(msg, "not enough memory") == 0 && s->cap_refused)
        msg = cap_message(s);
    describe_level(L, s, 1, where, sizeof where);
    if (!where[0])
        snprintf(where, sizeof where, "%s: in function '%s'", s->name, s->label ? s->label : "?");
    /* Bounded: a 10 MB error message must not need 10 MB more. */
    tk_strlcpy(line, strip_position(msg, where), sizeof line);
    lua_pushfstring(L, "%s: %s", where, line);
    return 1;
}

int tk_lua_call(struct tk_lua *s, int nargs, int nresults, const char *label, struct tk_error *err)
{
    lua_State *L = s->L;
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, sb_msgh);
    lua_insert(L, base);
    int outermost = s->depth++ == 0;
    if (outermost) {
        s->spent = 0;
        s->killed = 0;
        s->cap_refused = 0;
        s->cap_nodes = 0;
        s->printed = 0;
        s->oom_where[0] = '\0';
        s->deadline_ns = mono_ns() + (int64_t)s->lim.time_ms * 1000000;
        arm_hook(s, HOOK_EVERY);
        watchdog_arm(s);
    }
    const char *outer = s->label;
    s->label = label;
    int rc = lua_pcall(L, nargs, nresults, base);
    s->label = outer;
    if (outermost)
        watchdog_disarm(s);
    if (--s->depth == 0)
        arm_hook(s, HOOK_EVERY);
    if (rc == LUA_OK) {
        lua_remove(L, base);
        return 0;
    }
    if (rc == LUA_ERRMEM) {
        /* Lua does not run the message handler for memory errors. */
        if (s->oom_where[0])
            tk_error_set(err, TK_EINVAL, "%s: %s", s->oom_where, cap_message(s));
        else
            tk_error_set(err, TK_EINVAL, "%s: in function '%s': %s", s->name, label ? label : "?",
                         cap_message(s));
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

/* ---- the base functions that enforce the limits ---------------------------- */

int tk_lua_pcall(lua_State *L)
{
    struct tk_lua *s = tk_lua_of(L);
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1); /* the first result when all goes well */
    lua_insert(L, 1);
    if (lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0) != LUA_OK) {
        stay_killed(L, s);
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    return lua_gettop(L);
}

/* xpcall's message handler, wrapped: the script's handler (upvalue 1) is
 * never called for a killed call.  An error raised by the hook reaches the
 * handler while hooks are off, so the script's handler would run with no
 * limit at all. */
static int xpcall_handler(lua_State *L)
{
    struct tk_lua *s = tk_lua_of(L);
    if (s->killed) {
        lua_pushstring(L, s->kill_msg);
        return 1;
    }
    if (s->cap_refused) {
        lua_pushliteral(L, "not enough memory");
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

int tk_lua_xpcall(lua_State *L)
{
    struct tk_lua *s = tk_lua_of(L);
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, xpcall_handler, 1);
    lua_replace(L, 2);
    lua_pushboolean(L, 1); /* the first result when all goes well */
    lua_pushvalue(L, 1);   /* the function */
    lua_rotate(L, 3, 2);   /* both below the function's arguments */
    if (lua_pcall(L, n - 2, LUA_MULTRET, 2) != LUA_OK) {
        stay_killed(L, s);
        lua_pushboolean(L, 0);
        lua_pushvalue(L, -2);
        return 2;
    }
    return lua_gettop(L) - 2;
}

/* print goes to stderr: stdout belongs to the command's output (--json).
 * At most PRINT_MAX bytes per call; past that, print does nothing (and
 * calls no __tostring). */
static void print_piece(struct tk_lua *s, const char *str, size_t len)
{
    size_t room = PRINT_MAX - s->printed;
    size_t k = len < room ? len : room;
    fwrite(str, 1, k, stderr);
    s->printed += k;
}

int tk_lua_print(lua_State *L)
{
    struct tk_lua *s = tk_lua_of(L);
    int n = lua_gettop(L);
    if (s->printed >= PRINT_MAX)
        return 0;
    print_piece(s, s->name, strlen(s->name));
    print_piece(s, ":", 1);
    for (int i = 1; i <= n && s->printed < PRINT_MAX; i++) {
        size_t len;
        const char *str = luaL_tolstring(L, i, &len);
        print_piece(s, " ", 1);
        print_piece(s, str, len);
        lua_pop(L, 1);
    }
    if (s->printed < PRINT_MAX) {
        fputc('\n', stderr);
        s->printed++;
    } else {
        fprintf(stderr, "\n%s: print output truncated (more than %zu KiB in one call)\n", s->name,
                PRINT_MAX >> 10);
    }
    return 0;
}

/* ---- the state ------------------------------------------------------------- */

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
    /* The sizes the hash part cap needs: a hash node, and lauxlib's box
     * (this first box also creates its metatable, once). */
    s->probing = 1;
    lua_createtable(s->L, 0, 4);
    lua_pop(s->L, 1);
    s->probing = 2;
    luaL_Buffer b;
    luaL_buffinitsize(s->L, &b, 4096);
    luaL_pushresultsize(&b, 0);
    lua_pop(s->L, 1);
    s->probing = 0;
    /* Library setup runs as a protected call so that a memory error there
     * is reported, not fatal. */
    lua_State *L = s->L;
    s->depth = 1;
    s->deadline_ns = mono_ns() + (int64_t)s->lim.time_ms * 1000000;
    lua_pushcfunction(L, tk_lua_open_env);
    int ok = lua_pcall(L, 0, 1, 0) == LUA_OK;
    s->depth = 0;
    if (!ok) {
        tk_error_set(err, TK_ENOMEM, "%s: cannot set up the Lua sandbox: %s", s->name,
                     lua_tostring(L, -1) ? lua_tostring(L, -1) : "out of memory");
        tk_lua_close(s);
        return TK_ENOMEM;
    }
    s->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    arm_hook(s, HOOK_EVERY);
    *out = s;
    return 0;
}

void tk_lua_close(struct tk_lua *s)
{
    if (!s)
        return;
    if (s->L) {
        /* Finalizers cannot exist (setmetatable refuses __gc), but make sure
         * any Lua code at close is refused by the hook. */
        s->depth = 0;
        lua_close(s->L);
    }
    if (s->has_timer)
        timer_delete(s->timer);
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
tk_time tk_lua_now(lua_State *L)
{
    return tk_lua_of(L)->now;
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
    /* Compiling is protected by Lua itself; the memory cap applies too. */
    s->depth++;
    int rc = luaL_loadbufferx(L, text, len, chunk, "t");
    s->depth--;
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
