/*
 * job.c - the job object scripts receive: checked userdata of class
 * "tickler.job" holding only the job's id; every field is read from the
 * store when asked, so job.stage is right after job:move().
 *
 * Methods: job:move(stage), job:archive(), job:create(type, opts) and one
 * verb per loaded item-type plugin (job:create_invoice{...}), generated from
 * the plugins' lua_verb so a new plugin needs no change here.
 *
 * Misuse (a missing title, an unknown option) raises an ordinary error.  A
 * failure of the engine or the store kills the call (tk_lua_kill): the
 * transaction may be half-written, so a script's pcall must not carry on.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/internal.h"

#define JOB_CLASS "tickler.job"
#define KV_CLASS "tickler.kv"

struct job_ud {
    int64_t id;
};

static struct tk_pipelines *host_of(lua_State *L)
{
    struct tk_pipelines *p = tk_lua_host(tk_lua_of(L));
    if (!p || !p->e || !tk_engine_has_store(p->e))
        luaL_error(L, "jobs are not available here (no store: pipeline check)");
    return p;
}

static int64_t check_job(lua_State *L)
{
    struct job_ud *u = luaL_checkudata(L, 1, JOB_CLASS);
    return u->id;
}

void tk_job_push(lua_State *L, int64_t id)
{
    struct job_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->id = id;
    luaL_setmetatable(L, JOB_CLASS);
}

/* reminders.schedule = { -7, 0, 7 } (issue 14) as "-7,0,7" in BUF. */
static void read_schedule(lua_State *L, int idx, char *buf, size_t size)
{
    int offs[TK_SCHEDULE_MAX], n = 0;
    struct tk_error why = {0};
    lua_Integer len;
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_error(L, "reminders.schedule must be a list of days relative to the due date, like "
                      "{ -7, 0, 7 }");
    len = (lua_Integer)lua_rawlen(L, idx);
    if (len < 1 || len > TK_SCHEDULE_MAX)
        luaL_error(L, "reminders.schedule: 1 to %d days relative to the due date", TK_SCHEDULE_MAX);
    buf[0] = '\0';
    for (lua_Integer i = 1; i <= len; i++) {
        int isnum = 0;
        size_t used = strlen(buf);
        lua_rawgeti(L, idx, i);
        lua_Integer v = lua_tointegerx(L, -1, &isnum);
        lua_pop(L, 1);
        if (!isnum || v < -TK_SCHEDULE_LIMIT || v > TK_SCHEDULE_LIMIT)
            luaL_error(L, "reminders.schedule[%d] must be a whole number of days from %d to %d",
                       (int)i, -TK_SCHEDULE_LIMIT, TK_SCHEDULE_LIMIT);
        snprintf(buf + used, size - used, "%s%lld", i > 1 ? "," : "", (long long)v);
    }
    if (tk_schedule_text_parse(buf, offs, TK_SCHEDULE_MAX, TK_SCHEDULE_LIMIT, &n, &why))
        luaL_error(L, "reminders.%s", why.msg);
}

/* reminders = true | false | { every = DAYS, count = N } |
 * { schedule = { -7, 0, 7 } } */
static void read_reminders(lua_State *L, int idx, struct tk_send_req *req, char *sched, size_t size)
{
    int t = lua_type(L, idx);
    if (t == LUA_TNIL)
        return;
    if (t == LUA_TBOOLEAN) {
        req->reminders = lua_toboolean(L, idx);
        return;
    }
    if (t != LUA_TTABLE)
        luaL_error(L, "reminders must be true, false or { every = DAYS, count = N }");
    req->reminders = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        int isnum = 0;
        lua_Integer v = lua_tointegerx(L, -1, &isnum);
        if (strcmp(k, "every") == 0) {
            if (!isnum || v < 1 || v > 3650)
                luaL_error(L, "reminders.every must be a whole number of days from 1 to 3650");
            req->every_days = (int)v;
        } else if (strcmp(k, "count") == 0) {
            if (!isnum || v < 0 || v > 1000)
                luaL_error(L, "reminders.count must be a whole number from 0 to 1000");
            req->count = (int)v;
        } else if (strcmp(k, "schedule") == 0) {
            read_schedule(L, lua_gettop(L), sched, size);
            req->schedule = sched;
        } else {
            luaL_error(L, "reminders: unknown key '%s' (known: every, count, schedule)", k);
        }
        lua_pop(L, 1);
    }
}

static void read_fields(lua_State *L, int idx, struct tk_kv *fields)
{
    if (lua_isnil(L, idx))
        return;
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_error(L, "fields must be a table { name = \"value\" }");
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "fields: keys must be field names");
        int t = lua_type(L, -1);
        if (t != LUA_TSTRING && t != LUA_TNUMBER)
            luaL_error(L, "fields.%s must be a string or a number", lua_tostring(L, -2));
        lua_pushvalue(L, -1);
        const char *v = lua_tostring(L, -1); /* converts the copy, not the value next() sees */
        if (tk_kv_set(fields, lua_tostring(L, -3), v) != 0)
            luaL_error(L, "out of memory");
        lua_pop(L, 2);
    }
}

/* Create an item of TYPE from the options table at OPTS; returns 1 (the id). */
static int create_item(lua_State *L, const char *type, int opts)
{
    int64_t job = check_job(L);
    struct tk_pipelines *p = host_of(L);
    luaL_checktype(L, opts, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, opts)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        if (strcmp(k, "title") != 0 && strcmp(k, "template") != 0 && strcmp(k, "reminders") != 0 &&
            strcmp(k, "fields") != 0 && strcmp(k, "due") != 0)
            luaL_error(L,
                       "%s: unknown option '%s' (known: title, template, reminders, fields, due)",
                       type, k);
        lua_pop(L, 1);
    }
    struct tk_send_req req = {
        .type = type, .reminders = -1, .every_days = -1, .count = -1, .job_id = job};
    lua_getfield(L, opts, "title");
    if (lua_type(L, -1) != LUA_TSTRING || !*lua_tostring(L, -1))
        luaL_error(L, "%s: title is required", type);
    req.title = lua_tostring(L, -1);
    lua_getfield(L, opts, "template");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "%s: template must be a template name", type);
    req.template_name = lua_tostring(L, -1);
    lua_getfield(L, opts, "due");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "%s: due must be a date like \"2026-12-31\"", type);
    req.due = lua_tostring(L, -1); /* stays on the stack until the send */
    char sched[TK_SCHEDULE_TEXT_MAX];
    lua_getfield(L, opts, "reminders");
    read_reminders(L, lua_gettop(L), &req, sched, sizeof sched);
    if (req.schedule && (req.every_days > 0 || req.count >= 0))
        luaL_error(L, "%s: reminders.schedule replaces every and count: give one or the other",
                   type);
    /* The field list lives in a userdata whose __gc frees it, so a Lua error
     * while reading the fields (or a memory error) leaks nothing. */
    struct tk_kv *fields = lua_newuserdatauv(L, sizeof *fields, 0);
    memset(fields, 0, sizeof *fields);
    luaL_setmetatable(L, KV_CLASS);
    lua_getfield(L, opts, "fields");
    read_fields(L, lua_gettop(L), fields);
    req.fields = fields;
    struct tk_error err = {0};
    int64_t item = 0;
    int ok = tk_pipeline_job_create(p, job, &req, &item, &err) == 0;
    tk_kv_free(fields);
    if (!ok)
        return tk_lua_kill(L, "%s", err.msg);
    lua_pushinteger(L, (lua_Integer)item);
    return 1;
}

static int m_create(lua_State *L)
{
    const char *type = luaL_checkstring(L, 2);
    return create_item(L, type, 3);
}

static int m_verb(lua_State *L)
{
    return create_item(L, lua_tostring(L, lua_upvalueindex(1)), 2);
}

static int m_move(lua_State *L)
{
    int64_t job = check_job(L);
    const char *stage = luaL_checkstring(L, 2);
    struct tk_pipelines *p = host_of(L);
    struct tk_error err = {0};
    if (tk_pipeline_job_move(p, job, stage, &err) != 0)
        return tk_lua_kill(L, "%s", err.msg);
    return 0;
}

static int m_archive(lua_State *L)
{
    int64_t job = check_job(L);
    struct tk_pipelines *p = host_of(L);
    struct tk_error err = {0};
    if (tk_pipeline_job_archive(p, job, &err) != 0)
        return tk_lua_kill(L, "%s", err.msg);
    return 0;
}

/* job.FIELD, read from the store. */
static int job_field(lua_State *L, int64_t id, const char *key)
{
    struct tk_pipelines *p = host_of(L);
    struct tk_error err = {0};
    struct tk_job j;
    if (tk_engine_job_get(p->e, id, &j, &err) != 0)
        return tk_lua_kill(L, "%s", err.msg);
    int n = 1;
    if (strcmp(key, "id") == 0) {
        lua_pushinteger(L, (lua_Integer)j.id);
    } else if (strcmp(key, "account") == 0) {
        lua_pushinteger(L, (lua_Integer)j.account_id);
    } else if (strcmp(key, "title") == 0) {
        lua_pushstring(L, j.title);
    } else if (strcmp(key, "stage") == 0) {
        lua_pushstring(L, j.stage);
    } else if (strcmp(key, "pipeline") == 0) {
        lua_pushstring(L, j.pipeline);
    } else if (strcmp(key, "state") == 0) {
        lua_pushstring(L, j.state);
    } else if (strcmp(key, "account_name") == 0 || strcmp(key, "language") == 0) {
        struct tk_account a;
        if (tk_engine_account_get(p->e, j.account_id, &a, &err) != 0) {
            tk_job_free(&j);
            return tk_lua_kill(L, "%s", err.msg);
        }
        lua_pushstring(L, key[0] == 'a' ? a.name : a.language);
        tk_account_free(&a);
    } else if (strcmp(key, "items") == 0) {
        int64_t *ids = NULL;
        size_t nids = 0;
        if (tk_engine_job_items(p->e, id, &ids, &nids, &err) != 0) {
            tk_job_free(&j);
            return tk_lua_kill(L, "%s", err.msg);
        }
        lua_createtable(L, (int)nids, 0);
        for (size_t i = 0; i < nids; i++) {
            lua_pushinteger(L, (lua_Integer)ids[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        free(ids);
    } else {
        n = 0;
    }
    tk_job_free(&j);
    if (!n)
        lua_pushnil(L);
    return 1;
}

/* __index: methods first (upvalue 1), then fields. */
static int job_index(lua_State *L)
{
    int64_t id = check_job(L);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    if (lua_type(L, 2) != LUA_TSTRING)
        return 0;
    return job_field(L, id, lua_tostring(L, 2));
}

static int job_newindex(lua_State *L)
{
    return luaL_error(L, "job fields are read-only; use job:move() or job:archive()");
}

static int job_tostring(lua_State *L)
{
    lua_pushfstring(L, "job %I", (lua_Integer)check_job(L));
    return 1;
}

static int kv_gc(lua_State *L)
{
    tk_kv_free(luaL_checkudata(L, 1, KV_CLASS));
    return 0;
}

void tk_job_class_open(lua_State *L, const struct tk_registry *reg)
{
    if (luaL_newmetatable(L, KV_CLASS)) {
        lua_pushcfunction(L, kv_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    if (!luaL_newmetatable(L, JOB_CLASS)) {
        lua_pop(L, 1);
        return;
    }
    lua_newtable(L);
    lua_pushcfunction(L, m_create);
    lua_setfield(L, -2, "create");
    lua_pushcfunction(L, m_move);
    lua_setfield(L, -2, "move");
    lua_pushcfunction(L, m_archive);
    lua_setfield(L, -2, "archive");
    for (size_t i = 0; reg && i < reg->n; i++) {
        const struct tk_item_type *it = reg->v[i]->item;
        if (!it || !it->lua_verb)
            continue;
        if (lua_getfield(L, -1, it->lua_verb) != LUA_TNIL) {
            lua_pop(L, 1); /* never shadow a built-in method */
            continue;
        }
        lua_pop(L, 1);
        lua_pushstring(L, it->hdr.name);
        lua_pushcclosure(L, m_verb, 1);
        lua_setfield(L, -2, it->lua_verb);
    }
    lua_pushcclosure(L, job_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, job_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, job_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "job");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}
