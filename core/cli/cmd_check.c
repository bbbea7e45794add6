/* cmd_check.c - `tickler check [--json]`: load what every command loads
 * (configuration, plugins, templates, Lua scripts), read the store's
 * schema version, ask the transport whether its next hop answers, and list
 * every problem found, like `nginx -t` or `postfix check`.
 *
 * Each step reports its own problems and the later steps still run where
 * they can, so a broken template does not hide a broken script or an
 * unreachable relay.  Only a configuration that cannot be read stops the
 * check, since everything else is found through it.  Nothing is changed:
 * the store is read, never created or migrated, and the transport's probe
 * sends no mail.  The steps use the loaders every command uses
 * (tk_config_load, tk_registry_load, tk_catalog_check, and through the
 * Lua layer and the engine tk_pipelines_check_folder and
 * tk_engine_store_check), one at a time instead of through
 * tk_engine_open(), which stops at the first failure. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "lua/pipeline.h"
#include "mail/mail.h"

struct check {
    int json;
    json_t *steps;    /* [{"check", "ok", "detail"}] */
    json_t *problems; /* [{"check", "message", "file", "line"}] */
    size_t nproblems, step_start;
};

/* "FILE:LINE: message" -> FILE and LINE, for the JSON; 0 when MSG has no
 * such prefix. */
static int split_location(const char *msg, size_t *file_len, long *line)
{
    for (const char *p = strchr(msg, ':'); p; p = strchr(p + 1, ':')) {
        const char *d = p + 1;
        long n = 0;
        while (*d >= '0' && *d <= '9' && n < 100000000)
            n = n * 10 + (*d++ - '0');
        if (d > p + 1 && *d == ':' && p > msg) {
            *file_len = (size_t)(p - msg);
            *line = n;
            return 1;
        }
    }
    return 0;
}

static void problem(struct check *k, const char *step, const char *fmt, ...) TK_PRINTF(3, 4);
static void problem(struct check *k, const char *step, const char *fmt, ...)
{
    char msg[TK_ERROR_MAX + 128];
    size_t flen;
    long line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    k->nproblems++;
    if (!k->json) {
        printf("%-10s FAIL  %s\n", step, tk_cli_text(msg));
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "check", json_string(step));
    json_object_set_new(o, "message", json_string(msg));
    if (split_location(msg, &flen, &line)) {
        json_object_set_new(o, "file", json_stringn(msg, flen));
        json_object_set_new(o, "line", json_integer(line));
    }
    json_array_append_new(k->problems, o);
}

static void step_begin(struct check *k)
{
    k->step_start = k->nproblems;
}

/* Close a step: "ok" with DETAIL when it found no problem. */
static void step_end(struct check *k, const char *step, const char *fmt, ...) TK_PRINTF(3, 4);
static void step_end(struct check *k, const char *step, const char *fmt, ...)
{
    char detail[TK_ERROR_MAX + 128];
    int ok = k->nproblems == k->step_start;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (!k->json) {
        if (ok)
            printf("%-10s ok    %s\n", step, tk_cli_text(detail));
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "check", json_string(step));
    json_object_set_new(o, "ok", json_boolean(ok));
    json_object_set_new(o, "detail", json_string(detail));
    json_array_append_new(k->steps, o);
}

/* A step that could not run because an earlier one failed. */
static void step_skip(struct check *k, const char *step, const char *why)
{
    if (!k->json) {
        printf("%-10s skip  %s\n", step, tk_cli_text(why));
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "check", json_string(step));
    json_object_set_new(o, "ok", json_null());
    json_object_set_new(o, "detail", json_string(why));
    json_array_append_new(k->steps, o);
}

/* ---- templates --------------------------------------------------------- */

static void template_problem(void *u, const struct tk_error *e)
{
    problem(u, "templates", "%s", e->msg);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of DIR that are folders (WANT_DIRS) or end in SUFFIX,
 * sorted, without dot files. */
static int list_dir(const char *dir, int want_dirs, const char *suffix, struct tk_strv *out)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t slen = suffix ? strlen(suffix) : 0;
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        char *p;
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.')
            continue;
        if (!(p = tk_strprintf("%s/%s", dir, de->d_name)))
            break;
        if (stat(p, &st) == 0 && (want_dirs ? S_ISDIR(st.st_mode)
                                            : S_ISREG(st.st_mode) && n > slen &&
                                                  strcmp(de->d_name + n - slen, suffix) == 0))
            tk_strv_push(out, de->d_name);
        free(p);
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, by_name);
    return 0;
}

/* A DIR/LANG/TYPE folder named after no loaded type: its templates are
 * never used, most likely a typo ("invoices"). */
static void check_template_types(struct check *k, const char *dir, const struct tk_registry *reg)
{
    struct tk_strv langs = {0};
    if (list_dir(dir, 1, NULL, &langs) != 0)
        return; /* tk_catalog_check reports an unreadable folder */
    for (size_t i = 0; i < langs.n; i++) {
        struct tk_strv types = {0};
        char *ldir = tk_strprintf("%s/%s", dir, langs.v[i]);
        if (ldir)
            list_dir(ldir, 1, NULL, &types);
        for (size_t j = 0; ldir && j < types.n; j++)
            if (!tk_registry_item(reg, types.v[j]))
                problem(k, "templates",
                        "%s/%s: no loaded item type is called '%s', so these templates are never "
                        "used",
                        ldir, types.v[j], types.v[j]);
        tk_strv_free(&types);
        free(ldir);
    }
    tk_strv_free(&langs);
}

/* The templates folder as tk_engine_open() finds it, every file parsed
 * (tk_catalog_check).  The templates compiled into plugins were parsed
 * when the plugins loaded: a broken one is a plugins problem. */
static void check_templates(struct check *k, const struct tk_config *cfg,
                            const struct tk_registry *reg)
{
    struct tk_catalog *cat = NULL;
    struct tk_error e = {0};
    char *dir = NULL;
    size_t nbad = 0, builtin = 0;
    step_begin(k);
    for (size_t i = 0; reg && i < reg->n; i++) {
        const struct tk_item_type *it = reg->v[i]->item;
        for (const struct tk_template_text *tt = it ? it->templates : NULL; tt && tt->lang; tt++)
            builtin++;
    }
    if (cfg->templates_dir) {
        dir = tk_strdup(cfg->templates_dir);
    } else if ((dir = tk_path_beside_binary("share/tickler/templates")) &&
               access(dir, R_OK | X_OK) != 0) {
        free(dir);
        dir = NULL; /* plugin defaults only, as tk_engine_open does */
    }
    if (dir) {
        if (tk_catalog_open(dir, &cat, &e) != 0 ||
            tk_catalog_check(cat, template_problem, k, &nbad, &e) != 0)
            problem(k, "templates", "[templates] dir: %s", e.msg);
        if (reg)
            check_template_types(k, dir, reg);
    }
    step_end(k, "templates", "%zu compiled into plugins%s; folder %s", builtin,
             reg ? "" : " (plugins not loaded)", dir ? dir : "none: plugin defaults only");
    tk_catalog_close(cat);
    free(dir);
}

/* ---- Lua ------------------------------------------------------------------ */

static void lua_problem(void *u, const char *msg)
{
    problem(u, "lua", "%s", msg);
}

static void check_lua(struct check *k, const struct tk_config *cfg, const struct tk_registry *reg)
{
    struct tk_error e = {0};
    size_t n = 0;
    step_begin(k);
    if (!cfg->lua_scripts || !*cfg->lua_scripts) {
        step_end(k, "lua", "no [lua] scripts folder configured");
        return;
    }
    if (tk_pipelines_check_folder(cfg, reg, lua_problem, k, &n, &e) != 0) {
        problem(k, "lua", "%s", e.msg);
        step_end(k, "lua", "-");
        return;
    }
    step_end(k, "lua", "%zu script%s in %s%s", n, n == 1 ? "" : "s", cfg->lua_scripts,
             reg ? "" : " (checked without plugins: verbs and events not checked)");
}

/* ---- store ----------------------------------------------------------------- */

static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? tk_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : tk_strdup(".");
}

static void check_store(struct check *k, const struct tk_config *cfg)
{
    struct tk_engine_store_check sc;
    struct tk_error e = {0};
    int sqlite = !cfg->store_driver || strcmp(cfg->store_driver, "sqlite") == 0;
    char where[600];
    step_begin(k);
    snprintf(where, sizeof where, "%s", sqlite ? cfg->store_path : "postgres");
    if (sqlite) {
        /* Opening a missing SQLite file would create it: look first. */
        char *dir = folder_of(cfg->store_path);
        if (access(cfg->store_path, F_OK) != 0) {
            problem(k, "store", "%s: %s (tickler init creates the store)", cfg->store_path,
                    strerror(errno));
            free(dir);
            step_end(k, "store", "-");
            return;
        }
        /* SQLite writes its -wal and -shm files beside the store. */
        if (dir && access(dir, W_OK | X_OK) != 0)
            problem(k, "store", "%s: the store's folder is not writable by this user: %s", dir,
                    strerror(errno));
        free(dir);
    }
    if (tk_engine_store_check(cfg, &sc, &e) != 0) {
        problem(k, "store", "%s", e.msg);
    } else if (sc.version > sc.newest) {
        problem(k, "store",
                "%s: schema version %lld is newer than this tickler knows (%d); use a newer "
                "tickler",
                where, (long long)sc.version, sc.newest);
    } else if (sc.version == 0) {
        /* read only: a store with no schema_version is not created here */
        problem(k, "store", "%s: no tickler schema (tickler init creates it)", where);
    }
    step_end(k, "store", "%s %s, schema version %lld%s", sc.driver, where, (long long)sc.version,
             sc.version < sc.newest ? " (the next command upgrades it)" : ", up to date");
}

/* ---- transport and log --------------------------------------------------- */

static void check_transport(struct check *k, const struct tk_config *cfg,
                            const struct tk_registry *reg)
{
    const struct tk_plugin *p = reg ? tk_registry_transport(reg, cfg->transport_plugin) : NULL;
    const struct tk_transport *t = p ? p->transport : NULL;
    struct tk_error e = {0};
    char *name = NULL, *addr = NULL, why[300];
    step_begin(k);
    if (tk_mail_parse_address(cfg->transport_from ? cfg->transport_from
                                                  : "tickler <tickler@localhost>",
                              &name, &addr, &e) != 0)
        problem(k, "transport", "%s: [transport] from: %s", cfg->path, e.msg);
    free(name);
    free(addr);
    if (!t || !p->inited) {
        snprintf(why, sizeof why, "%s: %s", cfg->transport_plugin,
                 reg ? "no such transport plugin" : "plugins not loaded");
        if (k->nproblems == k->step_start)
            step_skip(k, "transport", why);
        else
            step_end(k, "transport", "%s", why);
        return;
    }
    /* probe is ABI 1.1: a transport built against 1.0 has none */
    if (!TK_DESCR_HAS(t, probe) || !t->probe) {
        step_end(k, "transport", "%s: loaded (the plugin has no reachability check)",
                 cfg->transport_plugin);
        return;
    }
    if (t->probe(p->state, &e) != 0)
        problem(k, "transport", "%s",
                e.msg[0] ? e.msg : "the transport's probe failed and gave no reason");
    step_end(k, "transport", "%s: reachable", cfg->transport_plugin);
}

static void check_log(struct check *k, const struct tk_config *cfg)
{
    step_begin(k);
    if (cfg->log_file) {
        char *dir = folder_of(cfg->log_file);
        if (access(cfg->log_file, F_OK) == 0 ? access(cfg->log_file, W_OK) != 0
                                             : !dir || access(dir, W_OK | X_OK) != 0)
            problem(k, "log", "[log] file: %s cannot be written by this user: %s", cfg->log_file,
                    strerror(errno));
        free(dir);
    }
    step_end(k, "log", "%s, level %s", cfg->log_file ? cfg->log_file : "standard error",
             cfg->log_level ? cfg->log_level : "info");
}

/* ---- the command ----------------------------------------------------------- */

int tk_cmd_check_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"json", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (!rc && a->pos.n)
        rc = tk_error_set(err, TK_EUSAGE, "usage: tickler check [--json]");
    return rc;
}

int tk_cmd_check(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct check k = {0};
    struct tk_config cfg;
    struct tk_registry reg;
    struct tk_error e = {0};
    char *path = NULL;
    int rc = 0, have_cfg = 0, have_reg = 0;

    memset(&cfg, 0, sizeof cfg);
    memset(&reg, 0, sizeof reg);
    k.json = c->json || tk_cli_opt(a, "json");
    k.steps = json_array();
    k.problems = json_array();

    step_begin(&k);
    if (tk_config_find(c->config_path, &path, &e) != 0) {
        problem(&k, "config", "%s", e.msg);
    } else if (tk_config_load(path, 0, &cfg, &e) != 0) {
        problem(&k, "config", "%s", e.msg);
    } else {
        have_cfg = 1;
    }
    step_end(&k, "config", "%s", path ? path : "-");

    if (have_cfg) {
        step_begin(&k);
        /* every compiled-in template parsed, whatever the check cache
         * (core/plugin/checkcache.c) says */
        tk_plugin_check_cache_use(0);
        if (tk_registry_load(&reg, NULL, &cfg, &e) != 0) {
            problem(&k, "plugins", "%s", e.msg);
        } else {
            have_reg = 1;
            if (tk_registry_claim_transport(&reg, &cfg, &e) != 0)
                problem(&k, "plugins", "%s", e.msg);
            else if (tk_config_check_plugins(&cfg, &e) != 0)
                problem(&k, "config", "%s", e.msg);
        }
        step_end(&k, "plugins", "%zu loaded from %s", reg.n, reg.path ? reg.path : "-");

        check_templates(&k, &cfg, have_reg ? &reg : NULL);
        check_lua(&k, &cfg, have_reg ? &reg : NULL);
        check_store(&k, &cfg);
        check_transport(&k, &cfg, have_reg ? &reg : NULL);
        check_log(&k, &cfg);
    }

    if (k.json) {
        json_t *o = json_object();
        json_object_set_new(o, "ok", json_boolean(k.nproblems == 0));
        json_object_set_new(o, "config", path ? json_string(path) : json_null());
        json_object_set_new(o, "checks", k.steps);
        json_object_set_new(o, "problems", k.problems);
        k.steps = k.problems = NULL;
        tk_cli_emit(o);
    }
    fflush(stdout);
    if (k.nproblems)
        rc = tk_error_set(err, TK_ERR, "check: %zu problem%s found", k.nproblems,
                          k.nproblems == 1 ? "" : "s");
    json_decref(k.steps);
    json_decref(k.problems);
    tk_registry_unload(&reg);
    tk_config_free(&cfg); /* also after a failed load */
    free(path);
    return rc;
}
