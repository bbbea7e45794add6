/*
 * webhook.c - inbound webhooks in Lua (docs/webhooks.md, docs/lua.md):
 *
 *   webhook("payments", function(req) ... end)
 *   webhook("mollie", {header = "X-Mollie-Signature", prefix = ""}, fn)
 *
 * declared while a script loads, like pipeline() and on().  The engine
 * checks the signature, then calls the handler (tk_lua_webhook_handler)
 * with req = {body, headers, json, form, content_type}; the handler may
 * call event(item, "paid") and returns {item =, event =, id =} or nil.
 * Every value taken from the request is bounded: JSON nested at most 32
 * deep, at most 1000 form fields, and the whole conversion charges the
 * script's instruction budget.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"

#define JSON_DEPTH 32
#define FORM_FIELDS 1000

static struct tk_script *script_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' ||
              s[i] == '_'))
            return 0;
    return 1;
}

/* Copy the string field KEY of the table at IDX into BUF (SIZE bytes). */
static int opt_string(lua_State *L, int idx, const char *key, char *buf, size_t size)
{
    int present = 0;
    lua_getfield(L, idx, key);
    if (!lua_isnil(L, -1)) {
        size_t n;
        const char *s;
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "webhook(): %s must be a string", key);
        s = lua_tolstring(L, -1, &n);
        if (n >= size || strlen(s) != n)
            return luaL_error(L, "webhook(): %s is too long", key);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e || s[i] == ':')
                return luaL_error(L, "webhook(): %s must be printable ASCII without spaces", key);
        memcpy(buf, s, n + 1);
        present = 1;
    }
    lua_pop(L, 1);
    return present;
}

/* webhook("NAME", [opts,] fn) */
static int l_webhook(lua_State *L)
{
    struct tk_script *sc = script_of(L);
    if (!sc->loading)
        return luaL_error(L, "webhook() may only be called while the script loads");
    const char *name = luaL_checkstring(L, 1);
    int fn = 2;
    struct tk_webhook_spec spec;
    memset(&spec, 0, sizeof spec);
    if (!valid_name(name))
        return luaL_error(L, "webhook('%s'): a name is 1 to 64 of a-z, 0-9, '-' and '_'", name);
    if (lua_type(L, 2) == LUA_TTABLE) {
        fn = 3;
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            lua_pop(L, 1);
            if (strcmp(k, "header") != 0 && strcmp(k, "prefix") != 0)
                return luaL_error(L, "webhook('%s'): unknown option (header, prefix)", name);
        }
        opt_string(L, 2, "header", spec.header, sizeof spec.header);
        lua_getfield(L, 2, "prefix");
        if (lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) == 0) {
            spec.has_prefix = 1; /* prefix = "": the bare hex */
            lua_pop(L, 1);
        } else {
            lua_pop(L, 1);
            spec.has_prefix = opt_string(L, 2, "prefix", spec.prefix, sizeof spec.prefix);
        }
    }
    luaL_checktype(L, fn, LUA_TFUNCTION);
    for (size_t i = 0; i < sc->nhooks; i++)
        if (strcmp(sc->hooks[i].name, name) == 0)
            return luaL_error(L, "webhook('%s') is declared twice", name);
    struct tk_hook_decl *v = realloc(sc->hooks, (sc->nhooks + 1) * sizeof *v);
    if (!v)
        return luaL_error(L, "out of memory");
    sc->hooks = v;
    if (!(v[sc->nhooks].name = tk_strdup(name)))
        return luaL_error(L, "out of memory");
    v[sc->nhooks].spec = spec;
    lua_pushvalue(L, fn);
    v[sc->nhooks].fn = luaL_ref(L, LUA_REGISTRYINDEX);
    sc->nhooks++;
    return 0;
}

static lua_Integer check_item(lua_State *L, int idx, const char *fn)
{
    lua_Integer id = 0;
    int isnum = 0;
    if (lua_type(L, idx) == LUA_TSTRING) {
        int64_t v;
        if (tk_parse_int(lua_tostring(L, idx), 1, INT64_MAX, &v) == 0) {
            id = (lua_Integer)v;
            isnum = 1;
        }
    } else {
        id = lua_tointegerx(L, idx, &isnum);
    }
    if (!isnum || id <= 0)
        return luaL_error(L, "%s: item must be an item id", fn);
    return id;
}

/* event(item, "paid"): record a client event through the engine, with the
 * actor webhook:NAME.  Only from a webhook handler.  A failure (unknown
 * item or event) ends the handler for good (the delivery is refused and
 * rolled back), so pcall cannot hide it. */
static int l_event(lua_State *L)
{
    struct tk_pipelines *p = tk_lua_host(tk_lua_of(L));
    lua_Integer id = check_item(L, 1, "event()");
    const char *ev = luaL_checkstring(L, 2);
    struct tk_error err = {0};
    if (!p || !p->hook_running)
        return luaL_error(L, "event() may only be called from a webhook() handler");
    if (tk_engine_event(p->e, (int64_t)id, ev, &err) != 0)
        return tk_lua_kill(L, "%s", err.msg);
    return 0;
}

void tk_webhook_lua_open(lua_State *L, struct tk_script *sc)
{
    lua_pushlightuserdata(L, sc);
    lua_pushcclosure(L, l_webhook, 1);
    lua_setfield(L, -2, "webhook");
    lua_pushcfunction(L, l_event);
    lua_setfield(L, -2, "event");
}

void tk_webhook_lua_free(lua_State *L, struct tk_script *sc)
{
    for (size_t i = 0; i < sc->nhooks; i++) {
        if (L)
            luaL_unref(L, LUA_REGISTRYINDEX, sc->hooks[i].fn);
        free(sc->hooks[i].name);
    }
    free(sc->hooks);
    sc->hooks = NULL;
    sc->nhooks = 0;
}

/* ---- the request as a Lua table ----------------------------------------- */

static void push_json(lua_State *L, json_t *v, int depth)
{
    tk_lua_charge(L, 1, "webhook request");
    if (depth > JSON_DEPTH || !lua_checkstack(L, 4))
        luaL_error(L, "webhook request: JSON nested too deep");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        lua_createtable(L, 0, (int)(json_object_size(v) < 64 ? json_object_size(v) : 64));
        json_object_foreach(v, k, x)
        {
            if (json_is_null(x))
                continue;
            push_json(L, x, depth + 1);
            lua_setfield(L, -2, k);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *x;
        lua_createtable(L, (int)(json_array_size(v) < 64 ? json_array_size(v) : 64), 0);
        json_array_foreach(v, i, x)
        {
            if (json_is_null(x))
                continue; /* a hole, as JSON null has no Lua value */
            push_json(L, x, depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(v));
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    default:
        lua_pushnil(L);
        break;
    }
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decode S (N bytes, '+' as space) onto L's stack. */
static void push_decoded(lua_State *L, const char *s, size_t n)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '+')
            luaL_addchar(&b, ' ');
        else if (s[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
                 (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            luaL_addchar(&b, (char)(hi * 16 + lo));
            i += 2;
        } else
            luaL_addchar(&b, s[i]);
    }
    luaL_pushresult(&b);
}

/* application/x-www-form-urlencoded: a=1&b=x+y; the last of a repeated
 * name wins. */
static void push_form(lua_State *L, const char *s, size_t n)
{
    size_t fields = 0;
    lua_newtable(L);
    for (size_t at = 0; at < n;) {
        const char *amp = memchr(s + at, '&', n - at);
        size_t end = amp ? (size_t)(amp - s) : n;
        const char *eq = memchr(s + at, '=', end - at);
        size_t kend = eq ? (size_t)(eq - s) : end;
        tk_lua_charge(L, (int64_t)(end - at) + 1, "webhook request");
        if (kend > at) {
            if (++fields > FORM_FIELDS)
                luaL_error(L, "webhook request: more than %d form fields", FORM_FIELDS);
            push_decoded(L, s + at, kend - at);
            if (eq)
                push_decoded(L, eq + 1, end - kend - 1);
            else
                lua_pushliteral(L, "");
            lua_rawset(L, -3);
        }
        at = end + 1;
    }
}

/* The media type of CT, lower-cased, without parameters, into BUF. */
static void media_type(const char *ct, char *buf, size_t size)
{
    size_t i = 0;
    while (ct && *ct == ' ')
        ct++;
    for (; ct && ct[i] && ct[i] != ';' && ct[i] != ' ' && i + 1 < size; i++)
        buf[i] = (char)tolower((unsigned char)ct[i]);
    buf[i] = '\0';
}

#define JSON_CLASS "tickler.webhook.json"

static int json_gc(lua_State *L)
{
    json_t **box = luaL_checkudata(L, 1, JSON_CLASS);
    if (*box) {
        json_decref(*box);
        *box = NULL;
    }
    return 0;
}

/* Build req on the stack (a protected C function, so that a memory error
 * or a budget kill while converting fails the delivery, not the daemon). */
static int push_request(lua_State *L)
{
    const struct tk_webhook_request *req = lua_touserdata(L, 1);
    const char *ct = req->content_type ? req->content_type : tk_webhook_header(req, "Content-Type");
    const char *body = req->body ? req->body : "";
    char mt[128];
    lua_settop(L, 0);
    lua_createtable(L, 0, 5);
    lua_pushlstring(L, body, req->body_len);
    lua_setfield(L, -2, "body");
    lua_createtable(L, 0, (int)(req->nheaders < 64 ? req->nheaders : 64));
    for (size_t i = 0; req->headers && i < req->nheaders; i++) {
        const char *k = req->headers[i].name, *v = req->headers[i].value;
        if (!k || !v)
            continue;
        size_t kl = strlen(k);
        tk_lua_charge(L, (int64_t)kl + 1, "webhook request");
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (size_t j = 0; j < kl; j++)
            luaL_addchar(&b, (char)tolower((unsigned char)k[j]));
        luaL_pushresult(&b);
        lua_pushstring(L, v);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "headers");
    media_type(ct, mt, sizeof mt);
    lua_pushstring(L, mt);
    lua_setfield(L, -2, "content_type");
    size_t ml = strlen(mt);
    if (strcmp(mt, "application/json") == 0 || (ml > 5 && strcmp(mt + ml - 5, "+json") == 0)) {
        json_error_t je;
        /* The parsed document is held by a userdata whose __gc frees it:
         * the conversion may raise (too deep, the budget, out of memory)
         * and must not leak it then. */
        json_t **box = lua_newuserdatauv(L, sizeof *box, 0);
        *box = NULL;
        if (luaL_newmetatable(L, JSON_CLASS)) {
            lua_pushcfunction(L, json_gc);
            lua_setfield(L, -2, "__gc");
        }
        lua_setmetatable(L, -2);
        /* the body's length, not a NUL, ends it; a NUL inside is refused */
        *box = json_loadb(body, req->body_len, JSON_DECODE_ANY, &je);
        if (*box) {
            push_json(L, *box, 0);
            lua_setfield(L, -3, "json");
            json_decref(*box);
            *box = NULL;
        }
        lua_pop(L, 1);
    } else if (strcmp(mt, "application/x-www-form-urlencoded") == 0) {
        push_form(L, body, req->body_len);
        lua_setfield(L, -2, "form");
    }
    return 1;
}

static int read_result(lua_State *L, int idx, const char *label, struct tk_webhook_result *res,
                       struct tk_error *err)
{
    if (lua_isnil(L, idx)) {
        res->ignore = 1;
        return 0;
    }
    if (!lua_istable(L, idx))
        return tk_error_set(err, TK_EINVAL, "%s returned a %s; expected a table or nil", label,
                            luaL_typename(L, idx));
    lua_getfield(L, idx, "id");
    if (lua_type(L, -1) == LUA_TNUMBER || lua_type(L, -1) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (n == 0 || n > 200 || strlen(s) != n)
            return tk_error_set(err, TK_EINVAL, "%s: id must be 1 to 200 characters", label);
        tk_strlcpy(res->id, s, sizeof res->id);
    } else if (!lua_isnil(L, -1)) {
        return tk_error_set(err, TK_EINVAL, "%s: id must be a string", label);
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "item");
    lua_getfield(L, idx, "event");
    if (!lua_isnil(L, -2) || !lua_isnil(L, -1)) {
        int64_t v = 0;
        int isnum = 0;
        if (lua_type(L, -2) == LUA_TNUMBER) {
            v = (int64_t)lua_tointegerx(L, -2, &isnum);
        } else if (lua_type(L, -2) == LUA_TSTRING) {
            isnum = tk_parse_int(lua_tostring(L, -2), 1, INT64_MAX, &v) == 0;
        }
        if (!isnum || v <= 0)
            return tk_error_set(err, TK_EINVAL, "%s: item must be an item id", label);
        if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0 ||
            lua_rawlen(L, -1) >= sizeof res->event)
            return tk_error_set(err, TK_EINVAL, "%s: event must name the item's event", label);
        res->item = v;
        tk_strlcpy(res->event, lua_tostring(L, -1), sizeof res->event);
    }
    lua_pop(L, 2);
    return 0;
}

static int find(void *u, const char *name, struct tk_webhook_spec *spec)
{
    struct tk_pipelines *p = u;
    for (size_t i = 0; p && i < p->nscripts; i++)
        for (size_t k = 0; k < p->scripts[i]->nhooks; k++)
            if (strcmp(p->scripts[i]->hooks[k].name, name) == 0) {
                *spec = p->scripts[i]->hooks[k].spec;
                return 0;
            }
    return -1;
}

static int run(void *u, struct tk_engine *e, const char *name, const struct tk_webhook_request *req,
               struct tk_webhook_result *res, struct tk_error *err)
{
    struct tk_pipelines *p = u;
    for (size_t i = 0; i < p->nscripts; i++) {
        struct tk_script *sc = p->scripts[i];
        for (size_t k = 0; k < sc->nhooks; k++) {
            if (strcmp(sc->hooks[k].name, name) != 0)
                continue;
            lua_State *L = tk_lua_state(sc->lua);
            char label[96];
            int rc, top = lua_gettop(L);
            snprintf(label, sizeof label, "webhook(%s)", name);
            tk_lua_set_now(sc->lua, tk_engine_now(e));
            if (!lua_checkstack(L, 8))
                return tk_error_set(err, TK_ENOMEM, "%s: out of memory", sc->path);
            lua_rawgeti(L, LUA_REGISTRYINDEX, sc->hooks[k].fn);
            /* handler(req): req is built inside the budgeted call, by a
             * wrapper that converts the request then calls the handler */
            lua_pushcfunction(L, push_request);
            lua_pushlightuserdata(L, (void *)req);
            p->hook_running = name;
            rc = tk_lua_call(sc->lua, 1, 1, label, err); /* -> req */
            if (rc == 0)
                rc = tk_lua_call(sc->lua, 1, 1, label, err); /* handler(req) -> result */
            p->hook_running = NULL;
            if (rc == 0) {
                rc = read_result(L, lua_gettop(L), label, res, err);
                if (rc)
                    tk_error_prefix(err, "%s", sc->path);
            }
            lua_settop(L, top);
            return rc;
        }
    }
    return tk_error_set(err, TK_ENOTFOUND, "no webhook('%s') handler", name);
}

const struct tk_webhook_handler tk_lua_webhook_handler = {find, run};
