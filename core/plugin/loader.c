/* loader.c - dlopen the plugin search path.  Everything that can be checked
 * without running plugin code (permissions, ELF symbols, ABI header, names,
 * templates) is checked before init; any failure undoes the whole load,
 * like Redis undoes a module whose OnLoad failed, so a half-loaded registry
 * never exists. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "plugin.h"

/* The 1.0 sizes are where the last 1.0 field ends, so appending fields
 * never moves them; these pin them for the platforms we build on, and fail
 * the build if a field is ever inserted before the end of ABI 1.0. */
#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(TK_ITEM_TYPE_SIZE_1_0 == 128, "ABI 1.0 struct tk_item_type changed");
_Static_assert(TK_TRANSPORT_SIZE_1_0 == 88, "ABI 1.0 struct tk_transport changed");
_Static_assert(TK_HOST_SIZE_1_0 == 112, "ABI 1.0 struct tk_host changed");
#endif
_Static_assert(TK_ITEM_TYPE_SIZE_1_0 <= sizeof(struct tk_item_type), "1.0 item type size");
_Static_assert(TK_TRANSPORT_SIZE_1_0 <= sizeof(struct tk_transport), "1.0 transport size");
_Static_assert(TK_HOST_SIZE_1_0 <= sizeof(struct tk_host), "1.0 host size");
_Static_assert(offsetof(struct tk_plugin_header, size) == 4 &&
                   offsetof(struct tk_plugin_header, kind) == 8,
               "struct tk_plugin_header never moves");

static void plugin_free(struct tk_plugin *p, int at_exit)
{
    if (!p)
        return;
    if (p->inited) {
        if (p->item && p->item->fini)
            p->item->fini(p->state);
        else if (p->transport && p->transport->fini)
            p->transport->fini(p->state);
        if (p->mem_used)
            tk_plugin_log(p, TK_LOG_DEBUG, "plugin %s: %zu bytes still allocated after fini",
                          p->path, p->mem_used);
    }
    if (at_exit) {
        /* mapped until the process exits; the descriptor keeps the name
         * /proc/self/fd/N taken as long as the object is mapped */
    } else if (p->handle) {
        char name[64];
        void *still;
        dlclose(p->handle);
        /* The object is known by its name /proc/self/fd/N, and glibc hands
         * out an already loaded object of the same name without opening the
         * file.  So while the object stays mapped (a plugin with
         * RTLD_NODELETE or unique symbols), keep N taken. */
        snprintf(name, sizeof name, "/proc/self/fd/%d", p->fd);
        still = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
        if (still) {
            dlclose(still);
            p->fd = -1;
        }
    }
    if (p->fd >= 0 && !at_exit)
        close(p->fd);
    free(p->path);
    free(p);
}

/* The part of dlerror() after glibc's "NAME: " prefix, which names the
 * descriptor rather than the file. */
static const char *dl_reason(const char *name)
{
    const char *why = dlerror();
    size_t n = strlen(name);
    if (!why)
        return "unknown error";
    if (strncmp(why, name, n) == 0 && strncmp(why + n, ": ", 2) == 0)
        why += n + 2;
    return why;
}

/* Open PATH (NAME in DIRFD) once, check it, and load that very file. */
static int open_one(int dirfd, const char *name, const char *path, struct tk_config *cfg,
                    const struct tk_check_cache *cc, struct tk_plugin **out, struct tk_error *err)
{
    struct tk_plugin *p;
    tk_plugin_entry_fn entry;
    char procname[64];
    struct stat st;
    int rc, fd;

    *out = NULL;
    if ((rc = tk_plugin_open_file_stat(dirfd, name, path, &fd, &st, err)) != 0)
        return rc;
    if ((rc = tk_plugin_check_elf_sized(fd, st.st_size, path, err)) != 0) {
        close(fd);
        return rc;
    }
    if (!(p = calloc(1, sizeof *p)) || !(p->path = tk_strdup(path))) {
        free(p);
        close(fd);
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    p->fd = fd;
    p->cfg = cfg;
    snprintf(procname, sizeof procname, "/proc/self/fd/%d", fd);
    dlerror();
    p->handle = dlopen(procname, RTLD_NOW | RTLD_LOCAL);
    if (!p->handle) {
        if (access("/proc/self/fd", X_OK) != 0)
            tk_plugin_refuse(err, path,
                             "cannot load: /proc is not mounted (plugins are loaded by "
                             "descriptor through /proc/self/fd)");
        else
            tk_plugin_refuse(err, path, "cannot load: %s", dl_reason(procname));
        plugin_free(p, 0);
        return TK_ERR;
    }
    /* dlsym returns void *; POSIX guarantees it converts to a function. */
    *(void **)&entry = dlsym(p->handle, TK_PLUGIN_ENTRY_NAME);
    if (!entry) {
        tk_plugin_refuse(err, path, "not a tickler plugin: no %s symbol", TK_PLUGIN_ENTRY_NAME);
        plugin_free(p, 0);
        return TK_ERR;
    }
    p->hdr = entry();
    if ((rc = tk_plugin_check_header(p->hdr, path, err)) != 0) {
        plugin_free(p, 0);
        return rc;
    }
    /* the key is the fstat taken at the open, before the file was read */
    if (tk_plugin_check_cache_lookup(cc, p, &st))
        tk_plugin_log(p, TK_LOG_DEBUG,
                      "plugin %s: its templates passed the check before (check cache), not "
                      "parsed again",
                      path);
    if ((rc = tk_plugin_check_body(p, err)) != 0) {
        plugin_free(p, 0);
        return rc;
    }
    tk_plugin_host_init(p);
    *out = p;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.so names of the folder DIRFD, sorted so that load order (and thus
 * which of two duplicates is named first) does not depend on the file
 * system. */
static int list_dir(int dirfd, const char *dir, struct tk_strv *names, struct tk_error *err)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return tk_error_set(err, TK_EIO, "cannot open plugins folder %s: %s", dir, strerror(errno));
    }
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.' || n < 4 || strcmp(de->d_name + n - 3, ".so") != 0)
            continue;
        if (tk_strv_push(names, de->d_name) != 0) {
            closedir(d);
            return tk_error_set(err, TK_ENOMEM, "out of memory");
        }
    }
    closedir(d);
    if (names->n)
        qsort(names->v, names->n, sizeof *names->v, by_name);
    return 0;
}

static int push(struct tk_registry *reg, struct tk_plugin *p, struct tk_error *err)
{
    if (reg->n == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 16;
        struct tk_plugin **v = realloc(reg->v, cap * sizeof *v);
        if (!v)
            return tk_error_set(err, TK_ENOMEM, "out of memory");
        reg->v = v;
        reg->cap = cap;
    }
    reg->v[reg->n++] = p;
    return 0;
}

/* P claims a (kind, name) another plugin has.  In the same folder that is
 * always a refusal; from a later folder it replaces the earlier plugin only
 * with [plugins] allow_override = yes.  *replaced: the index replaced. */
static int check_duplicate(const struct tk_registry *reg, size_t folder_start,
                           const struct tk_plugin *p, int allow_override, size_t *replaced,
                           struct tk_error *err)
{
    *replaced = (size_t)-1;
    for (size_t i = 0; i < reg->n; i++) {
        const struct tk_plugin *q = reg->v[i];
        if (q->hdr->kind != p->hdr->kind || strcmp(q->hdr->name, p->hdr->name) != 0)
            continue;
        if (i < folder_start && allow_override) {
            *replaced = i;
            return 0;
        }
        if (i < folder_start)
            return tk_plugin_refuse(
                err, p->path,
                "%s '%s' is already loaded from %s, an earlier folder of the plugin "
                "path (set [plugins] allow_override = yes to let it replace that one)",
                p->item ? "type" : "transport", p->hdr->name, q->path);
        return tk_plugin_refuse(err, p->path, "%s '%s' claimed by both %s and %s",
                                p->item ? "type" : "transport", p->hdr->name, q->path, p->path);
    }
    return 0;
}

/* Load the *.so of one folder into REG. */
static int load_folder(struct tk_registry *reg, const char *dir, struct tk_config *cfg,
                       const struct tk_check_cache *cc, struct tk_error *err)
{
    struct tk_strv names = {0};
    size_t start = reg->n;
    int allow_override = cfg && cfg->plugins_allow_override;
    int dirfd, rc;

    if ((rc = tk_plugin_check_folder(dir, err)) != 0)
        return rc;
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return tk_error_set(err, TK_EIO, "cannot open plugins folder %s: %s", dir, strerror(errno));
    rc = list_dir(dirfd, dir, &names, err);
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        struct tk_plugin *p = NULL;
        size_t replaced;
        char *path = tk_strprintf("%s/%s", dir, names.v[i]);
        if (!path) {
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
            break;
        }
        rc = open_one(dirfd, names.v[i], path, cfg, cc, &p, err);
        free(path);
        if (rc == 0)
            rc = check_duplicate(reg, start, p, allow_override, &replaced, err);
        if (rc == 0 && replaced != (size_t)-1) {
            tk_plugin_log(p, TK_LOG_INFO, "plugin %s replaces %s ([plugins] allow_override)",
                          p->path, reg->v[replaced]->path);
            plugin_free(reg->v[replaced], 0);
            memmove(reg->v + replaced, reg->v + replaced + 1,
                    (reg->n - replaced - 1) * sizeof *reg->v);
            reg->n--;
            start--;
        }
        if (rc == 0)
            rc = push(reg, p, err);
        if (rc != 0)
            plugin_free(p, 0);
    }
    close(dirfd);
    tk_strv_free(&names);
    return rc;
}

static int claim_item(struct tk_plugin *p, struct tk_error *err)
{
    const char *keys[64];
    size_t n = 0;
    for (const struct tk_config_key *k = p->item->config_keys; k && k->name && n < 64; k++)
        keys[n++] = k->name;
    return tk_config_claim(p->cfg, p->hdr->name, keys, n, err);
}

static int is_active_transport(const struct tk_plugin *p)
{
    return p->transport && p->cfg && tk_streq(p->cfg->transport_plugin, p->hdr->name);
}

static int init_one(struct tk_plugin *p, struct tk_error *err)
{
    struct tk_error perr = {0, ""};
    int rc = 0;
    if (p->item && p->item->init)
        rc = p->item->init(&p->host, &p->state, &perr);
    else if (p->transport && p->transport->init)
        rc = p->transport->init(&p->host, &p->state, &perr);
    if (rc != 0 && p->mem_refused)
        return tk_error_set(err, rc,
                            "plugin %s: init failed: %s (it reached [plugins] memory_limit_mb = "
                            "%zu)",
                            p->path, perr.msg[0] ? perr.msg : "no reason given",
                            p->mem_limit >> 20);
    if (rc != 0)
        return tk_error_set(err, rc, "plugin %s: init failed: %s", p->path,
                            perr.msg[0] ? perr.msg : "no reason given");
    p->inited = 1;
    return 0;
}

/* Each folder of PATH in turn; OPTIONAL: a missing folder is skipped (the
 * default path names folders a deployment need not have). */
static int load_path(struct tk_registry *reg, const char *path, int optional, struct tk_config *cfg,
                     const struct tk_check_cache *cc, struct tk_error *err)
{
    const char *s = path;
    int rc = 0;
    while (rc == 0) {
        const char *colon = strchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : strlen(s);
        char *dir = tk_strndup(s, n);
        struct stat st;
        if (!dir)
            return tk_error_set(err, TK_ENOMEM, "out of memory");
        if (n && !(optional && stat(dir, &st) != 0 && errno == ENOENT))
            rc = load_folder(reg, dir, cfg, cc, err);
        free(dir);
        if (!colon)
            break;
        s = colon + 1;
    }
    return rc;
}

int tk_registry_load(struct tk_registry *reg, const char *path, struct tk_config *cfg,
                     struct tk_error *err)
{
    struct tk_check_cache cc; /* on the stack: no allocation to fail */
    int rc, optional = 0;

    memset(reg, 0, sizeof *reg);
    if (cfg && tk_log_level_parse(cfg->log_level) >= 0)
        tk_plugin_log_set_level(tk_log_level_parse(cfg->log_level));
    if (path) {
        reg->path = tk_strdup(path);
    } else if (cfg && (cfg->plugins_path || cfg->plugins_dir)) {
        reg->path = tk_strdup(cfg->plugins_path ? cfg->plugins_path : cfg->plugins_dir);
    } else {
        reg->path = tk_plugin_default_path();
        optional = 1;
    }
    if (!reg->path)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    tk_plugin_check_cache_begin(&cc);
    rc = load_path(reg, reg->path, optional, cfg, &cc, err);
    /* the plugins that passed, even when a later one did not */
    tk_plugin_check_cache_end(&cc, reg);
    if (rc != 0)
        goto fail;
    for (size_t i = 0; i < reg->n; i++)
        if ((rc = tk_plugin_check_clash(reg, reg->v[i], err)) != 0)
            goto fail;
    /* Claim every section before any init, so that a typo in the config is
     * reported as such and not as whatever init makes of a missing key. */
    for (size_t i = 0; i < reg->n; i++)
        if (reg->v[i]->item && (rc = claim_item(reg->v[i], err)) != 0)
            goto fail;
    if (cfg && tk_registry_transport(reg, cfg->transport_plugin) &&
        (rc = tk_registry_claim_transport(reg, cfg, err)) != 0)
        goto fail;
    for (size_t i = 0; i < reg->n; i++)
        if ((reg->v[i]->item || is_active_transport(reg->v[i])) &&
            (rc = init_one(reg->v[i], err)) != 0)
            goto fail;
    return 0;
fail:
    tk_registry_unload(reg);
    return rc;
}

void tk_registry_unload(struct tk_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = reg->n; i > 0; i--)
        plugin_free(reg->v[i - 1], reg->at_exit);
    free(reg->v);
    free(reg->path);
    memset(reg, 0, sizeof *reg);
}

void tk_registry_unload_at_exit(struct tk_registry *reg)
{
    if (!reg)
        return;
    reg->at_exit = 1;
    tk_registry_unload(reg);
}

int tk_registry_claim_transport(struct tk_registry *reg, struct tk_config *cfg,
                                struct tk_error *err)
{
    const struct tk_plugin *p;
    const char *keys[64];
    size_t n = 0;
    if (!cfg || !cfg->transport_plugin)
        return 0;
    p = tk_registry_transport(reg, cfg->transport_plugin);
    if (!p)
        return tk_error_set(err, TK_EINVAL, "no transport plugin '%s' in %s", cfg->transport_plugin,
                            reg->path ? reg->path : "the plugins folder");
    for (const struct tk_config_key *k = p->transport->config_keys; k && k->name && n < 64; k++)
        keys[n++] = k->name;
    return tk_config_claim(cfg, "transport", keys, n, err);
}

static const struct tk_plugin *find(const struct tk_registry *reg, int kind, const char *name)
{
    for (size_t i = 0; reg && name && i < reg->n; i++)
        if (reg->v[i]->hdr->kind == kind && strcmp(reg->v[i]->hdr->name, name) == 0)
            return reg->v[i];
    return NULL;
}

const struct tk_plugin *tk_registry_item(const struct tk_registry *reg, const char *name)
{
    return find(reg, TK_PLUGIN_ITEM, name);
}

const struct tk_plugin *tk_registry_transport(const struct tk_registry *reg, const char *name)
{
    return find(reg, TK_PLUGIN_TRANSPORT, name);
}

const struct tk_plugin *tk_registry_bulk(const struct tk_registry *reg, const char *command,
                                         const struct tk_bulk_spec **bulk)
{
    for (size_t i = 0; reg && command && i < reg->n; i++) {
        const struct tk_plugin *p = reg->v[i];
        if (!p->item)
            continue;
        for (const struct tk_bulk_spec *b = p->item->bulk; b && b->command; b++)
            if (strcmp(b->command, command) == 0) {
                if (bulk)
                    *bulk = b;
                return p;
            }
    }
    return NULL;
}
