/*
 * pipeline.c - the configured scripts, jobs moving through stages, and the
 * engine's event hook (on() handlers, advance = "when_done").
 *
 * Everything here runs inside the caller's transaction: a stage entry with
 * every item it creates and every email it queues commits or rolls back as
 * one, because a failing automation makes the whole command fail.
 *
 * when_done: after an event on an item of a job whose current stage says
 * advance = "when_done", the job moves to the next stage once none of its
 * items is pending any more.  We count all of the job's pending items, not
 * only those created in the current stage: an item still open from an
 * earlier stage is work not done either (documented in docs/lua.md).
 *
 * A broken script (a syntax error, a failing main chunk, a pipeline name
 * declared twice, an unreadable folder) is contained: the other scripts
 * still load, every command that runs no automation works, and those that
 * could (job add, job move, event) are refused with the broken script's
 * FILE:LINE, since an on() handler or a stage it declares would silently
 * not run.  The daemon logs the broken scripts (cli/cmd_run.c).
 */
#include <dirent.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/internal.h"

#define MAX_DEPTH 16

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.lua files directly in DIR, sorted (so load order is stable). */
static int list_scripts(const char *dir, struct tk_strv *out, struct tk_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return tk_error_set(err, TK_EIO, "[lua] scripts: cannot open folder %s: %m", dir);
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.' || n < 5 || strcmp(de->d_name + n - 4, ".lua") != 0)
            continue;
        if (tk_strv_push(out, de->d_name) != 0) {
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
            break;
        }
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, name_cmp);
    return rc;
}

static int on_event(void *u, struct tk_engine *e, const struct tk_item *it, const char *event,
                    struct tk_error *err);
static int on_event_quiet(void *u, const char *type, const char *event);

/* Keep WHY, the reason a script did not load. */
static int broken(struct tk_pipelines *p, const struct tk_error *why, struct tk_error *err)
{
    if (tk_strv_push(&p->broken, why->msg[0] ? why->msg : "a script failed to load") != 0)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    return 0;
}

/* A pipeline of SC that a script loaded before declares already. */
static int declared_twice(struct tk_pipelines *p, const struct tk_script *sc, struct tk_error *err)
{
    for (size_t k = 0; k < sc->npipes; k++)
        for (size_t j = 0; j < p->nscripts; j++) {
            const struct tk_script *other = p->scripts[j];
            for (size_t m = 0; m < other->npipes; m++) {
                const struct tk_pipeline_def *def = &other->pipes[m];
                if (strcmp(def->name, sc->pipes[k].name) == 0)
                    return tk_error_set(
                        err, TK_EINVAL, "%s:%d: pipeline '%s' is declared in %s:%d already",
                        sc->path, sc->pipes[k].line, def->name, other->path, def->line);
            }
        }
    /* a hook has one handler: which of two would run is no one's guess */
    for (size_t k = 0; k < sc->nhooks; k++)
        for (size_t j = 0; j < p->nscripts; j++)
            for (size_t m = 0; m < p->scripts[j]->nhooks; m++)
                if (strcmp(p->scripts[j]->hooks[m].name, sc->hooks[k].name) == 0)
                    return tk_error_set(err, TK_EINVAL,
                                        "%s: webhook '%s' is declared in %s already", sc->path,
                                        sc->hooks[k].name, p->scripts[j]->path);
    return 0;
}

const char *tk_pipelines_broken(const struct tk_pipelines *p, size_t i)
{
    return p && i < p->broken.n ? p->broken.v[i] : NULL;
}

/* Commands that would run automations are refused while a script is
 * broken. */
static int refuse_if_broken(const struct tk_pipelines *p, struct tk_error *err)
{
    if (!p || !p->broken.n)
        return 0;
    if (p->broken.n == 1)
        return tk_error_set(err, TK_EINVAL,
                            "refused: a pipeline script failed to load, so automations are off "
                            "until it is fixed: %s",
                            p->broken.v[0]);
    return tk_error_set(err, TK_EINVAL,
                        "refused: %zu pipeline scripts failed to load, so automations are off "
                        "until they are fixed: %s",
                        p->broken.n, p->broken.v[0]);
}

int tk_pipelines_open(struct tk_engine *e, struct tk_pipelines **out, struct tk_error *err)
{
    const struct tk_config *cfg = tk_engine_config(e);
    *out = NULL;
    if (!cfg->lua_scripts || !*cfg->lua_scripts)
        return 0;
    struct tk_pipelines *p = calloc(1, sizeof *p);
    char *dir = tk_config_path(cfg, cfg->lua_scripts);
    struct tk_strv names = {0};
    int rc = 0;
    if (!p || !dir) {
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    /* Scripts call the plugins' verbs: a lazy engine loads them now. */
    if ((rc = tk_engine_load_plugins(e, err)))
        goto out;
    p->e = e;
    p->lim.memory_bytes = cfg->lua_memory_limit_mb > 0 ? (size_t)cfg->lua_memory_limit_mb << 20 : 0;
    p->lim.instructions = cfg->lua_instruction_limit;
    p->lim.time_ms = cfg->lua_time_limit_ms;
    struct tk_error why = {0};
    if (list_scripts(dir, &names, &why) != 0 && (rc = broken(p, &why, err)) != 0)
        goto out;
    p->scripts = calloc(names.n ? names.n : 1, sizeof *p->scripts);
    if (!p->scripts) {
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < names.n && rc == 0; i++) {
        char *path = tk_strprintf("%s/%s", dir, names.v[i]);
        if (!path) {
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
            break;
        }
        struct tk_script *sc = NULL;
        tk_error_clear(&why);
        if (tk_script_load(&sc, path, tk_engine_plugins(e), &p->lim, p, &why) == 0 &&
            declared_twice(p, sc, &why) == 0)
            p->scripts[p->nscripts++] = sc;
        else {
            tk_script_free(sc);
            rc = broken(p, &why, err);
        }
        free(path);
    }
    if (rc == 0) {
        tk_engine_set_event_hook(e, on_event, p);
        tk_engine_set_event_quiet(e, on_event_quiet);
        tk_engine_set_webhook_handler(e, &tk_lua_webhook_handler, p);
    }
out:
    tk_strv_free(&names);
    free(dir);
    if (rc != 0) {
        tk_pipelines_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

void tk_pipelines_close(struct tk_pipelines *p)
{
    if (!p)
        return;
    void *hooked = NULL;
    if (p->e && tk_engine_event_hook(p->e, &hooked) == on_event && hooked == p)
        tk_engine_set_event_hook(p->e, NULL, NULL);
    if (p->e && tk_engine_webhook_handler_data(p->e) == p)
        tk_engine_set_webhook_handler(p->e, NULL, NULL);
    for (size_t i = 0; i < p->nscripts; i++)
        tk_script_free(p->scripts[i]);
    free(p->scripts);
    tk_strv_free(&p->broken);
    free(p);
}

int tk_pipelines_reload(struct tk_engine *e, struct tk_pipelines **p, struct tk_error *err)
{
    struct tk_pipelines *fresh = NULL;
    int rc = tk_pipelines_open(e, &fresh, err);
    if (rc != 0)
        return rc;          /* the old scripts stay */
    tk_pipelines_close(*p); /* the event hook is FRESH's already */
    *p = fresh;
    return 0;
}

int tk_pipelines_find(struct tk_pipelines *p, const char *name, struct tk_script **sc,
                      const struct tk_pipeline_def **def, struct tk_error *err)
{
    for (size_t i = 0; p && i < p->nscripts; i++)
        for (size_t k = 0; k < p->scripts[i]->npipes; k++)
            if (strcmp(p->scripts[i]->pipes[k].name, name) == 0) {
                *sc = p->scripts[i];
                *def = &p->scripts[i]->pipes[k];
                return 0;
            }
    return tk_error_set(err, TK_ENOTFOUND, "no pipeline '%s'%s", name,
                        p ? " in [lua] scripts (see tickler pipeline list)"
                          : ": no [lua] scripts configured");
}

static int no_stage(const struct tk_pipeline_def *def, const char *stage, struct tk_error *err)
{
    struct tk_buf names = {0};
    for (size_t i = 0; i < def->nstages; i++)
        tk_buf_printf(&names, "%s%s", i ? ", " : "", def->stages[i].name);
    tk_error_set(err, TK_ENOTFOUND, "pipeline '%s' has no stage '%s' (stages: %s)", def->name,
                 stage, names.data ? names.data : "");
    tk_buf_free(&names);
    return TK_ENOTFOUND;
}

/* Run the on_enter of stage IDX for JOB (the job row says the stage already). */
static int enter_stage(struct tk_pipelines *p, struct tk_script *sc,
                       const struct tk_pipeline_def *def, size_t idx, int64_t job,
                       struct tk_error *err)
{
    const struct tk_stage *st = &def->stages[idx];
    if (st->on_enter == LUA_NOREF)
        return 0;
    if (p->depth >= MAX_DEPTH)
        return tk_error_set(err, TK_ECONFLICT,
                            "job %lld: more than %d stage entries in one command (do two stages "
                            "move the job to each other?)",
                            (long long)job, MAX_DEPTH);
    struct tk_engine *e = p->e;
    const char *actor = tk_engine_actor(e);
    int64_t job_id = tk_engine_current_job(e);
    tk_engine_set_actor(e, "pipeline");
    tk_engine_set_current_job(e, job);
    lua_State *L = tk_lua_state(sc->lua);
    tk_lua_set_now(sc->lua, tk_engine_now(e));
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->on_enter);
    tk_job_push(L, job);
    p->depth++;
    int rc = tk_lua_call(sc->lua, 1, 0, "on_enter", err);
    p->depth--;
    tk_engine_set_actor(e, actor);
    tk_engine_set_current_job(e, job_id);
    return rc;
}

/* Load JOB and its pipeline; refuses archived jobs when ACTIVE_ONLY. */
static int load_job(struct tk_pipelines *p, int64_t id, int active_only, struct tk_job *j,
                    struct tk_script **sc, const struct tk_pipeline_def **def, struct tk_error *err)
{
    int rc = tk_engine_job_get(p->e, id, j, err);
    if (rc != 0)
        return rc;
    if (active_only && strcmp(j->state, "active") != 0) {
        rc = tk_error_set(err, TK_ECONFLICT, "job %lld is %s", (long long)id, j->state);
    } else if (sc && tk_pipelines_find(p, j->pipeline, sc, def, err) != 0) {
        rc = tk_error_set(err, TK_ENOTFOUND,
                          "job %lld: pipeline '%s' is not declared by any script any more",
                          (long long)id, j->pipeline);
    }
    if (rc != 0)
        tk_job_free(j);
    return rc;
}

int tk_pipeline_job_add(struct tk_pipelines *p, const char *pipeline, int64_t account,
                        const char *title, const char *stage, int64_t *id, struct tk_error *err)
{
    struct tk_script *sc = NULL;
    const struct tk_pipeline_def *def = NULL;
    size_t idx = 0;
    int rc = refuse_if_broken(p, err);
    if (rc != 0 || (rc = tk_pipelines_find(p, pipeline, &sc, &def, err)) != 0)
        return rc;
    if (stage && !tk_pipeline_stage(def, stage, &idx))
        return no_stage(def, stage, err);
    int64_t job = 0;
    if ((rc = tk_engine_job_add(p->e, def->name, def->stages[idx].name, account,
                                title && *title ? title : def->name, &job, err)) != 0)
        return rc;
    if (id)
        *id = job;
    return enter_stage(p, sc, def, idx, job, err);
}

/* Set the stage, audit, run on_enter. */
static int move_to(struct tk_pipelines *p, struct tk_job *j, struct tk_script *sc,
                   const struct tk_pipeline_def *def, size_t idx, const char *why,
                   struct tk_error *err)
{
    int rc = tk_engine_job_set_stage(p->e, j->id, def->stages[idx].name, why, err);
    if (rc != 0)
        return rc;
    return enter_stage(p, sc, def, idx, j->id, err);
}

int tk_pipeline_job_move(struct tk_pipelines *p, int64_t job, const char *stage,
                         struct tk_error *err)
{
    struct tk_job j;
    struct tk_script *sc = NULL;
    const struct tk_pipeline_def *def = NULL;
    size_t idx;
    int rc = refuse_if_broken(p, err);
    if (rc != 0 || (rc = load_job(p, job, 1, &j, &sc, &def, err)) != 0)
        return rc;
    if (!tk_pipeline_stage(def, stage, &idx))
        rc = no_stage(def, stage, err);
    else
        rc = move_to(p, &j, sc, def, idx, "", err);
    tk_job_free(&j);
    return rc;
}

int tk_pipeline_job_archive(struct tk_pipelines *p, int64_t job, struct tk_error *err)
{
    return tk_engine_job_archive(p->e, job, err);
}

int tk_pipeline_job_create(struct tk_pipelines *p, int64_t job, struct tk_send_req *req,
                           int64_t *item, struct tk_error *err)
{
    struct tk_job j;
    int rc = load_job(p, job, 1, &j, NULL, NULL, err);
    if (rc != 0)
        return rc;
    struct tk_engine *e = p->e;
    const char *actor = tk_engine_actor(e);
    int64_t job_id = tk_engine_current_job(e);
    tk_engine_set_actor(e, "pipeline");
    tk_engine_set_current_job(e, job);
    req->account_id = j.account_id;
    req->job_id = job;
    rc = tk_engine_send(e, req, item, err);
    tk_engine_set_actor(e, actor);
    tk_engine_set_current_job(e, job_id);
    tk_job_free(&j);
    return rc;
}

/* ---- the event hook --------------------------------------------------- */

static void push_item(lua_State *L, const struct tk_item *it, const char *event)
{
    lua_createtable(L, 0, 10);
    lua_pushinteger(L, (lua_Integer)it->id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, it->type);
    lua_setfield(L, -2, "type");
    lua_pushstring(L, it->title);
    lua_setfield(L, -2, "title");
    lua_pushstring(L, it->state);
    lua_setfield(L, -2, "state");
    lua_pushstring(L, it->template_name);
    lua_setfield(L, -2, "template");
    lua_pushinteger(L, (lua_Integer)it->account_id);
    lua_setfield(L, -2, "account");
    if (it->job_id) {
        lua_pushinteger(L, (lua_Integer)it->job_id);
        lua_setfield(L, -2, "job");
    }
    lua_pushstring(L, event);
    lua_setfield(L, -2, "event");
    lua_createtable(L, 0, (int)it->fields.n);
    for (size_t i = 0; i < it->fields.n; i++) {
        lua_pushstring(L, it->fields.vals[i]);
        lua_setfield(L, -2, it->fields.keys[i]);
    }
    lua_setfield(L, -2, "fields");
}

/* Calls handler H of SC as fn(item, job[, step]) under the actor
 * "pipeline": job is nil when the item's job is gone, step is passed when
 * STEP >= 0.  LABEL names the handler in a failure's message. */
static int call_handler(struct tk_pipelines *p, struct tk_script *sc, const struct tk_handler *h,
                        const struct tk_item *it, const char *event, int job_exists, int step,
                        const char *label, struct tk_error *err)
{
    struct tk_engine *e = p->e;
    lua_State *L = tk_lua_state(sc->lua);
    tk_lua_set_now(sc->lua, tk_engine_now(e));
    if (!lua_checkstack(L, 5))
        return tk_error_set(err, TK_ENOMEM, "%s: out of memory", sc->path);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->fn);
    push_item(L, it, event);
    if (job_exists)
        tk_job_push(L, it->job_id);
    else
        lua_pushnil(L);
    if (step >= 0)
        lua_pushinteger(L, (lua_Integer)step);
    const char *actor = tk_engine_actor(e);
    tk_engine_set_actor(e, "pipeline");
    int rc = tk_lua_call(sc->lua, step >= 0 ? 3 : 2, 0, label, err);
    tk_engine_set_actor(e, actor);
    return rc;
}

static int run_handlers(struct tk_pipelines *p, const struct tk_item *it, const char *event,
                        int job_exists, struct tk_error *err)
{
    for (size_t i = 0; i < p->nscripts; i++) {
        struct tk_script *sc = p->scripts[i];
        for (size_t k = 0; k < sc->nhandlers; k++) {
            const struct tk_handler *h = &sc->handlers[k];
            if (strcmp(h->type, it->type) != 0 || strcmp(h->event, event) != 0)
                continue;
            char label[128];
            snprintf(label, sizeof label, "on(%s.%s)", h->type, h->event);
            int rc = call_handler(p, sc, h, it, event, job_exists, -1, label, err);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

static int advance_when_done(struct tk_pipelines *p, int64_t job, struct tk_error *err)
{
    struct tk_job j;
    struct tk_script *sc = NULL;
    const struct tk_pipeline_def *def = NULL;
    size_t idx;
    int rc = tk_engine_job_get(p->e, job, &j, err);
    if (rc != 0)
        return rc;
    if (strcmp(j.state, "active") != 0 || tk_pipelines_find(p, j.pipeline, &sc, &def, NULL) != 0 ||
        !tk_pipeline_stage(def, j.stage, &idx) ||
        def->stages[idx].advance != TK_ADVANCE_WHEN_DONE || idx + 1 >= def->nstages) {
        tk_job_free(&j);
        return 0;
    }
    int64_t pending = 0;
    if ((rc = tk_engine_job_pending(p->e, job, &pending, err)) == 0 && pending == 0) {
        /* the automation's doing, whoever recorded the event */
        const char *actor = tk_engine_actor(p->e);
        tk_engine_set_actor(p->e, "pipeline");
        rc = move_to(p, &j, sc, def, idx + 1, " (all its items are done)", err);
        tk_engine_set_actor(p->e, actor);
    }
    tk_job_free(&j);
    return rc;
}

/* on("reminder.sent", fn(item, job, step)) and on("reminders.exhausted",
 * fn(item, job)), for items of every type (issue 14): called by the
 * scheduler after it enqueued a reminder (tk_engine_reminder_events). */
static int run_reminder_handlers(struct tk_pipelines *p, const struct tk_item *it,
                                 const char *event, int job_exists, struct tk_error *err)
{
    int sent = strcmp(event, "reminder.sent") == 0;
    for (size_t i = 0; i < p->nscripts; i++) {
        struct tk_script *sc = p->scripts[i];
        for (size_t k = 0; k < sc->nhandlers; k++) {
            const struct tk_handler *h = &sc->handlers[k];
            char label[128];
            snprintf(label, sizeof label, "%s.%s", h->type, h->event);
            if (strcmp(label, event) != 0)
                continue;
            snprintf(label, sizeof label, "on(%s)", event);
            int rc =
                call_handler(p, sc, h, it, event, job_exists, sent ? it->rem.sent : -1, label, err);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* on_event runs nothing for an item of TYPE without a job on EVENT: no
 * script broken, no on("TYPE.EVENT") (a reminder event has its own
 * handlers: never quiet). */
static int on_event_quiet(void *u, const char *type, const char *event)
{
    const struct tk_pipelines *p = u;
    if (p->broken.n || strcmp(event, "reminder.sent") == 0 ||
        strcmp(event, "reminders.exhausted") == 0)
        return 0;
    for (size_t i = 0; i < p->nscripts; i++)
        for (size_t k = 0; k < p->scripts[i]->nhandlers; k++) {
            const struct tk_handler *h = &p->scripts[i]->handlers[k];
            if (strcmp(h->type, type) == 0 && strcmp(h->event, event) == 0)
                return 0;
        }
    return 1;
}

static int on_event(void *u, struct tk_engine *e, const struct tk_item *it, const char *event,
                    struct tk_error *err)
{
    struct tk_pipelines *p = u;
    (void)e;
    int job_exists = 0;
    int reminder = strcmp(event, "reminder.sent") == 0 || strcmp(event, "reminders.exhausted") == 0;
    if (refuse_if_broken(p, err) != 0)
        return TK_EINVAL;
    if (it->job_id) {
        struct tk_job j;
        int rc = tk_engine_job_get(p->e, it->job_id, &j, err);
        if (rc != 0 && rc != TK_ENOTFOUND)
            return rc;
        job_exists = rc == 0;
        if (job_exists)
            tk_job_free(&j);
        else
            tk_error_clear(err);
    }
    if (reminder)
        return run_reminder_handlers(p, it, event, job_exists, err);
    int rc = run_handlers(p, it, event, job_exists, err);
    if (rc == 0 && job_exists)
        rc = advance_when_done(p, it->job_id, err);
    return rc;
}
