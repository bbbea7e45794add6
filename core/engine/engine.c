/* engine.c - opening and closing everything a command needs, the clock,
 * warnings and transactions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "mail/mail.h"

static void default_warn(void *u, const char *msg)
{
    (void)u;
    fprintf(stderr, "tickler: warning: %s\n", msg);
}

void tk_engine_warn(struct tk_engine *e, const char *fmt, ...)
{
    char msg[TK_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    __atomic_add_fetch(&e->warns, 1, __ATOMIC_RELAXED); /* tick.c: a run's items warned */
    e->warn(e->warn_data, msg);
}

static int open_templates(struct tk_engine *e, struct tk_error *err)
{
    char *dir = NULL;
    int rc;
    if (e->cfg.templates_dir) {
        dir = tk_strdup(e->cfg.templates_dir);
    } else {
        dir = tk_path_beside_binary("share/tickler/templates");
        if (dir && access(dir, R_OK | X_OK) != 0) {
            free(dir);
            dir = NULL; /* plugin defaults only */
        }
    }
    rc = tk_catalog_open(dir, &e->catalog, err);
    free(dir);
    return rc;
}

static void warn_template(void *u, const struct tk_error *e)
{
    tk_engine_warn(u, "%s (emails that need this template are not sent until it is fixed)", e->msg);
}

static size_t check_templates(struct tk_engine *e, int keep)
{
    struct tk_error err = {0};
    size_t nbad = 0;
    if ((keep ? tk_catalog_check_keep : tk_catalog_check)(e->catalog, warn_template, e, &nbad,
                                                          &err))
        tk_engine_warn(e, "checking templates: %s", err.msg);
    return nbad;
}

size_t tk_engine_check_templates(struct tk_engine *e)
{
    return check_templates(e, 0);
}

size_t tk_engine_check_templates_keep(struct tk_engine *e)
{
    return check_templates(e, 1);
}

static int open_sender(struct tk_engine *e, struct tk_error *err)
{
    const char *from =
        e->cfg.transport_from ? e->cfg.transport_from : "tickler <tickler@localhost>";
    const char *at;
    if (tk_mail_parse_address(from, &e->from_name, &e->from_addr, err)) {
        tk_error_prefix(err, "%s: [transport] from", e->cfg.path);
        return TK_EINVAL;
    }
    at = strrchr(e->from_addr, '@');
    e->msgid_domain = tk_strdup(at ? at + 1 : "localhost");
    return e->msgid_domain ? 0 : tk_error_set(err, TK_ENOMEM, "out of memory");
}

/* The end of a load into E->plugins: the transport's keys and the
 * configuration's plugin sections checked; a refusal is final. */
static int plugins_loaded(struct tk_engine *e, int rc, struct tk_error *err)
{
    if (!rc)
        rc = tk_registry_claim_transport(&e->plugins, &e->cfg, &e->plugins_err);
    if (!rc)
        rc = tk_config_check_plugins(&e->cfg, &e->plugins_err);
    if (rc) {
        e->plugins_state = -1;
        if (!e->plugins_err.code)
            e->plugins_err.code = rc;
        if (err)
            *err = e->plugins_err;
        return rc;
    }
    e->plugins_state = e->plugins.partial ? 2 : 1;
    if (e->plugins_state == 1)
        tk_registry_snapshot_save(&e->plugins, &e->cfg);
    return 0;
}

int tk_engine_load_plugins(struct tk_engine *e, struct tk_error *err)
{
    if (e->plugins_state == 1)
        return 0;
    /* A refusal is final: the registry was emptied, and every later use
     * gets the same line rather than a "no such type" that hides it. */
    if (e->plugins_state < 0) {
        if (err)
            *err = e->plugins_err;
        return e->plugins_err.code ? e->plugins_err.code : TK_EINVAL;
    }
    /* Only some were loaded: the whole set now, beside them (their
     * pointers may be held; they go at the close). */
    if (e->plugins_state == 2) {
        e->plugins_some = e->plugins;
        memset(&e->plugins, 0, sizeof e->plugins);
    }
    /* NULL: the search path the configuration names, else the default */
    return plugins_loaded(e, tk_registry_load(&e->plugins, NULL, &e->cfg, &e->plugins_err), err);
}

int tk_engine_load_plugins_for(struct tk_engine *e, const char *type, struct tk_error *err)
{
    if (e->plugins_state > 0)
        return 0;
    if (e->plugins_state < 0)
        return tk_engine_load_plugins(e, err); /* the refusal */
    return plugins_loaded(e, tk_registry_load_known(&e->plugins, &e->cfg, type, &e->plugins_err),
                          err);
}

int tk_engine_open(struct tk_engine **out, const char *config_path, tk_time now, int flags,
                   struct tk_error *err)
{
    struct tk_engine *e;
    char *path = NULL;
    int rc;

    *out = NULL;
    if (!(e = calloc(1, sizeof *e)))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    *out = e;
    e->now = now;
    e->actor = "cli";
    e->warn = default_warn;
    e->store_lock = -1;
    if ((rc = tk_config_find(config_path, &path, err)))
        return rc;
    rc = tk_config_load(path, 0, &e->cfg, err);
    free(path);
    if (rc)
        return rc;

    if (!(flags & TK_OPEN_LAZY) || tk_config_has_plugin_sections(&e->cfg)) {
        if ((rc = tk_engine_load_plugins(e, err)))
            return rc;
    }
    if ((rc = open_sender(e, err)) || (rc = tk_engine_inbound_check(&e->cfg, err)) ||
        (rc = open_templates(e, err)))
        return rc;
    if (flags & TK_OPEN_NO_STORE)
        return 0;
    if ((rc = tk_db_open(&e->cfg, &e->db, err)))
        return rc;
    return tk_db_migrate(e->db, err);
}

static void engine_close(struct tk_engine *e, int at_exit)
{
    if (!e)
        return;
    if (e->store_lock >= 0)
        close(e->store_lock); /* and with it the daemon's flock */
    if (e->db && at_exit)
        tk_db_close_at_exit(e->db);
    else if (e->db)
        tk_db_close(e->db);
    if (e->catalog)
        tk_catalog_close(e->catalog);
    if (!e->peer) {
        if (at_exit) {
            tk_registry_unload_at_exit(&e->plugins);
            tk_registry_unload_at_exit(&e->plugins_some);
        } else {
            tk_registry_unload(&e->plugins);
            tk_registry_unload(&e->plugins_some);
        }
        tk_config_free(&e->cfg);
    }
    free(e->from_name);
    free(e->from_addr);
    free(e->msgid_domain);
    tk_engine_calcache_free(e);
    tk_engine_digest_free(e);
    free(e);
}

void tk_engine_close(struct tk_engine *e)
{
    engine_close(e, 0);
}

void tk_engine_close_at_exit(struct tk_engine *e)
{
    engine_close(e, 1);
}

void tk_engine_tick_clock(struct tk_engine *e)
{
    e->now = tk_time_real() + e->clock_offset;
}

int tk_engine_begin(struct tk_engine *e, int mode, struct tk_error *err)
{
    return tk_db_begin(e->db, mode, err);
}

int tk_engine_commit(struct tk_engine *e, struct tk_error *err)
{
    return tk_db_commit(e->db, err);
}

void tk_engine_rollback(struct tk_engine *e)
{
    tk_db_rollback(e->db);
}

const struct tk_plugin *tk_engine_type(struct tk_engine *e, const char *type, struct tk_error *err)
{
    const struct tk_plugin *p;
    struct tk_buf names = {0};
    if (tk_engine_load_plugins_for(e, type, err))
        return NULL;
    p = type ? tk_registry_item(&e->plugins, type) : NULL;
    if (p)
        return p;
    /* not among those loaded: the whole set says what is there */
    if (e->plugins_state == 2 && tk_engine_load_plugins(e, err))
        return NULL;
    p = type ? tk_registry_item(&e->plugins, type) : NULL;
    if (p)
        return p;
    for (size_t i = 0; i < e->plugins.n; i++)
        if (e->plugins.v[i]->item)
            tk_buf_printf(&names, "%s%s", names.len ? ", " : "", e->plugins.v[i]->hdr->name);
    tk_error_set(err, TK_EINVAL, "unknown item type '%s' (loaded: %s)", type ? type : "",
                 names.len ? names.data : "none");
    tk_buf_free(&names);
    return NULL;
}

int tk_engine_audit(struct tk_engine *e, int64_t account, int64_t item, int64_t job,
                    const char *action, const char *detail, struct tk_error *err)
{
    return tk_store_audit_add(e->db, e->now, e->actor, account, item, job, action, detail, err);
}

tk_time tk_engine_now(const struct tk_engine *e)
{
    return e->now;
}

void tk_engine_set_now(struct tk_engine *e, tk_time now)
{
    e->now = now;
}

void tk_engine_set_clock_offset(struct tk_engine *e, tk_time offset)
{
    e->clock_offset = offset;
}

void tk_engine_set_stop(struct tk_engine *e, volatile int *flag)
{
    e->stop = flag;
    tk_db_interrupt = flag;
    tk_plugin_set_stop(flag); /* host->stopping: transports end long waits */
}

void tk_engine_set_actor(struct tk_engine *e, const char *actor)
{
    e->actor = actor ? actor : "cli";
}

const char *tk_engine_actor(const struct tk_engine *e)
{
    return e->actor;
}

void tk_engine_set_current_job(struct tk_engine *e, int64_t job)
{
    e->job_id = job;
}

int64_t tk_engine_current_job(const struct tk_engine *e)
{
    return e->job_id;
}

const struct tk_config *tk_engine_config(const struct tk_engine *e)
{
    return &e->cfg;
}

const struct tk_registry *tk_engine_plugins(const struct tk_engine *e)
{
    return &e->plugins;
}

int tk_engine_has_store(const struct tk_engine *e)
{
    return e->db != NULL;
}

void tk_engine_set_warn(struct tk_engine *e, tk_warn_fn fn, void *u)
{
    e->warn = fn ? fn : default_warn;
    e->warn_data = fn ? u : NULL;
}

void tk_engine_set_event_hook(struct tk_engine *e, tk_event_hook fn, void *u)
{
    e->on_event = fn;
    e->on_event_data = fn ? u : NULL;
    e->on_event_quiet = NULL; /* a new hook says for itself */
}

void tk_engine_set_event_quiet(struct tk_engine *e, tk_event_quiet_fn fn)
{
    e->on_event_quiet = fn;
}

tk_event_hook tk_engine_event_hook(const struct tk_engine *e, void **u)
{
    if (u)
        *u = e->on_event_data;
    return e->on_event;
}

void tk_engine_reload_templates(struct tk_engine *e)
{
    if (e->catalog)
        tk_catalog_reload(e->catalog);
}
