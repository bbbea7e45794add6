/* loader.c - dlopen the plugin search path.  Everything that can be checked
 * without running plugin code (permissions, ELF symbols, ABI header, names,
 * templates) is checked before init; any failure undoes the whole load,
 * like Redis undoes a module whose OnLoad failed, so a half-loaded registry
 * never exists. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

static void stat_key(const struct stat *st, unsigned long long key[7])
{
    key[0] = (unsigned long long)st->st_dev;
    key[1] = (unsigned long long)st->st_ino;
    key[2] = (unsigned long long)st->st_size;
    key[3] = (unsigned long long)st->st_mtim.tv_sec;
    key[4] = (unsigned long long)st->st_mtim.tv_nsec;
    key[5] = (unsigned long long)st->st_ctim.tv_sec;
    key[6] = (unsigned long long)st->st_ctim.tv_nsec;
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
    stat_key(&st, p->key);
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
        reg->files++;
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

static uint64_t set_hash(const struct tk_registry *reg, const struct tk_config *cfg);
static const char *snapshot_find(const struct tk_check_cache *cc, uint64_t h);

/* An empty REG for the search path PATH (NULL: the configured or the
 * default one; *optional: its missing folders are skipped). */
static int registry_begin(struct tk_registry *reg, const char *path, const struct tk_config *cfg,
                          int *optional, struct tk_error *err)
{
    memset(reg, 0, sizeof *reg);
    *optional = 0;
    if (cfg && tk_log_level_parse(cfg->log_level) >= 0)
        tk_plugin_log_set_level(tk_log_level_parse(cfg->log_level));
    if (path) {
        reg->path = tk_strdup(path);
    } else if (cfg && (cfg->plugins_path || cfg->plugins_dir)) {
        reg->path = tk_strdup(cfg->plugins_path ? cfg->plugins_path : cfg->plugins_dir);
    } else {
        reg->path = tk_plugin_default_path();
        *optional = 1;
    }
    return reg->path ? 0 : tk_error_set(err, TK_ENOMEM, "out of memory");
}

int tk_registry_load(struct tk_registry *reg, const char *path, struct tk_config *cfg,
                     struct tk_error *err)
{
    struct tk_check_cache cc; /* on the stack: no allocation to fail */
    int rc, optional;

    if ((rc = registry_begin(reg, path, cfg, &optional, err)) != 0)
        return rc;
    tk_plugin_check_cache_begin(&cc);
    rc = load_path(reg, reg->path, optional, cfg, &cc, err);
    /* from the text read already: tk_registry_snapshot_save reads nothing
     * when the set's snapshot is there */
    reg->snapshot_seen = !cc.on || snapshot_find(&cc, set_hash(reg, cfg)) != NULL;
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

/* ---- the plugin set's snapshot ------------------------------------------ */

#define SNAPSHOT_SEED 0x3c6ef372fe94f82bu
#define SNAPSHOT_MAX 1024 /* a line; more plugins than fit: no snapshot */
#define SNAPSHOT_DIRS 16  /* folders of the path; more: no snapshot */

static uint64_t hash_str(uint64_t h, const char *s)
{
    return tk_plugin_hash(h, s ? s : "", s ? strlen(s) + 1 : 0);
}

static uint64_t hash_file(uint64_t h, const char *path, const unsigned long long key[7])
{
    h = hash_str(h, path);
    return tk_plugin_hash(h, key, 7 * sizeof *key);
}

/* What of the configuration a plugin's checks, claims and init can see:
 * every entry of the plugins' sections (the transport's are claimed live:
 * the active transport always loads), the config's folder
 * (host->config_dir), which transport is active, the loader's settings. */
static uint64_t hash_config(uint64_t h, const struct tk_config *cfg)
{
    int ints[2];
    if (!cfg)
        return hash_str(h, NULL);
    h = hash_str(h, cfg->dir);
    h = hash_str(h, cfg->transport_plugin);
    ints[0] = cfg->plugins_allow_override;
    ints[1] = cfg->plugins_memory_limit_mb;
    h = tk_plugin_hash(h, ints, sizeof ints);
    for (size_t i = 0; i < cfg->nentries; i++) {
        const struct tk_config_entry *e = &cfg->entries[i];
        if (strcmp(e->section, "transport") == 0)
            continue;
        h = hash_str(h, e->section);
        h = hash_str(h, e->key);
        h = hash_str(h, e->value);
    }
    return h;
}

/* The snapshot's key of a whole load into REG. */
static uint64_t set_hash(const struct tk_registry *reg, const struct tk_config *cfg)
{
    uint64_t h = hash_str(SNAPSHOT_SEED, reg->path);
    for (size_t i = 0; i < reg->n; i++)
        h = hash_file(h, reg->v[i]->path, reg->v[i]->key);
    return hash_config(h, cfg);
}

void tk_registry_snapshot_save(const struct tk_registry *reg, const struct tk_config *cfg)
{
    struct tk_check_cache cc;
    char line[SNAPSHOT_MAX];
    uint64_t h;
    size_t len;

    if (reg->partial || reg->snapshot_seen || reg->files != reg->n)
        return;
    for (size_t i = 0; i < reg->n; i++)
        if (reg->v[i]->logged)
            return;
    h = set_hash(reg, cfg);
    len = (size_t)snprintf(line, sizeof line, "S %016llx %zu", (unsigned long long)h, reg->n);
    for (size_t i = 0; i < reg->n && len < sizeof line; i++)
        len += (size_t)snprintf(line + len, sizeof line - len, " %c:%s",
                                reg->v[i]->item ? 'i' : 't', reg->v[i]->hdr->name);
    if (len >= sizeof line)
        return;
    tk_plugin_check_cache_begin(&cc);
    tk_plugin_check_cache_add(&cc, line);
}

/* The snapshot line for hash H in CC's text: the part after "S HASH ". */
static const char *snapshot_find(const struct tk_check_cache *cc, uint64_t h)
{
    char prefix[32];
    size_t n = (size_t)snprintf(prefix, sizeof prefix, "S %016llx ", (unsigned long long)h);
    for (const char *p = strstr(cc->text, prefix); p; p = strstr(p + 1, prefix))
        if (p == cc->text || p[-1] == '\n')
            return p + n;
    return NULL;
}

/* Entry J of a snapshot's list "N k:name k:name ...": *kind and the name
 * (NAME, up to a space or a newline). */
static int snapshot_entry(const char *s, size_t j, char *kind, char *name, size_t size)
{
    size_t n;
    for (s = strchr(s, ' '); s && *s == ' ' && j; j--)
        s = strpbrk(s + 1, " \n");
    if (!s || *s != ' ' || (s[1] != 'i' && s[1] != 't') || s[2] != ':')
        return -1;
    *kind = s[1];
    s += 3;
    n = strcspn(s, " \n");
    if (!n || n >= size || !s[n])
        return -1;
    memcpy(name, s, n);
    name[n] = '\0';
    return 0;
}

struct known_files {
    int dirfd[SNAPSHOT_DIRS];
    size_t ndirs;
    struct tk_strv names, paths;
    size_t *dir_of; /* the folder of each name */
    unsigned long long (*key)[7];
};

static void known_free(struct known_files *k)
{
    for (size_t i = 0; i < k->ndirs; i++)
        close(k->dirfd[i]);
    tk_strv_free(&k->names);
    tk_strv_free(&k->paths);
    free(k->dir_of);
    free(k->key);
}

/* Every *.so of every folder of REG's path, as load_path would load
 * them: the folders' StrictModes, then each file's fstat (not following a
 * link).  *h: the hash of it all.  -1: anything amiss. */
static int known_list(const struct tk_registry *reg, int optional, struct known_files *k,
                      uint64_t *h)
{
    const char *s = reg->path;
    *h = hash_str(SNAPSHOT_SEED, reg->path);
    for (;;) {
        const char *colon = strchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : strlen(s), start = k->names.n;
        struct tk_error e = {0, ""};
        char dir[PATH_MAX];
        struct stat st;
        if (n >= sizeof dir)
            return -1;
        memcpy(dir, s, n);
        dir[n] = '\0';
        if (n && !(optional && stat(dir, &st) != 0 && errno == ENOENT)) {
            int fd;
            if (k->ndirs == SNAPSHOT_DIRS || tk_plugin_check_folder(dir, &e) != 0)
                return -1;
            if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return -1;
            k->dirfd[k->ndirs++] = fd;
            if (list_dir(fd, dir, &k->names, &e) != 0)
                return -1;
            if (k->names.n > start) {
                size_t *d = realloc(k->dir_of, k->names.n * sizeof *d);
                unsigned long long(*key)[7] = d ? realloc(k->key, k->names.n * sizeof *key) : NULL;
                if (d)
                    k->dir_of = d;
                if (!key)
                    return -1;
                k->key = key;
            }
            for (size_t i = start; i < k->names.n; i++) {
                char *path = tk_strprintf("%s/%s", dir, k->names.v[i]);
                int rc = path ? tk_strv_push(&k->paths, path) : -1;
                free(path);
                if (rc != 0 || fstatat(fd, k->names.v[i], &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                    !S_ISREG(st.st_mode))
                    return -1;
                k->dir_of[i] = k->ndirs - 1;
                stat_key(&st, k->key[i]);
                *h = hash_file(*h, k->paths.v[i], k->key[i]);
            }
        }
        if (!colon)
            return 0;
        s = colon + 1;
    }
}

/* The partial load itself; -1: not possible (REG may hold plugins). */
static int known_load(struct tk_registry *reg, struct tk_config *cfg, const char *type,
                      int optional, struct tk_check_cache *cc)
{
    struct known_files k;
    struct tk_error e = {0, ""};
    const char *snap;
    char kind, name[64];
    uint64_t h;
    size_t count, found = 0;
    int rc = -1;

    memset(&k, 0, sizeof k);
    if (known_list(reg, optional, &k, &h) != 0)
        goto out;
    h = hash_config(h, cfg);
    if (!(snap = snapshot_find(cc, h)) || sscanf(snap, "%zu", &count) != 1 || count != k.names.n)
        goto out;
    for (size_t j = 0; j < count; j++) {
        struct tk_plugin *p = NULL;
        int want;
        if (snapshot_entry(snap, j, &kind, name, sizeof name) != 0)
            goto out;
        want = kind == 'i' ? type && strcmp(name, type) == 0
                           : cfg && tk_streq(cfg->transport_plugin, name);
        if (!want)
            continue;
        found += kind == 'i';
        if (open_one(k.dirfd[k.dir_of[j]], k.names.v[j], k.paths.v[j], cfg, cc, &p, &e) != 0)
            goto out;
        reg->files++;
        /* the file loaded is the one listed, and the plugin it was */
        if (memcmp(p->key, k.key[j], sizeof p->key) != 0 || (kind == 'i') != (p->item != NULL) ||
            strcmp(p->hdr->name, name) != 0 || push(reg, p, &e) != 0) {
            plugin_free(p, 0);
            goto out;
        }
    }
    /* a type the set does not have, or a transport: the whole load says
     * what the user gets */
    if ((type && !found) ||
        (cfg && cfg->transport_plugin && !tk_registry_transport(reg, cfg->transport_plugin)))
        goto out;
    tk_plugin_check_cache_end(cc, reg);
    for (size_t i = 0; i < reg->n; i++)
        if (tk_plugin_check_clash(reg, reg->v[i], &e) != 0 ||
            (reg->v[i]->item && claim_item(reg->v[i], &e) != 0))
            goto out;
    if (tk_registry_claim_transport(reg, cfg, &e) != 0)
        goto out;
    for (size_t i = 0; i < reg->n; i++)
        if ((reg->v[i]->item || is_active_transport(reg->v[i])) && init_one(reg->v[i], &e) != 0)
            goto out;
    /* The other types' sections were claimed, with these very entries, by
     * these very files when the snapshot was taken. */
    for (size_t i = 0; cfg && i < cfg->nentries; i++)
        if (strcmp(cfg->entries[i].section, "transport") != 0)
            cfg->entries[i].used = 1;
    reg->partial = 1;
    tk_plugin_log(NULL, TK_LOG_DEBUG,
                  "%zu of the %zu plugins of %s loaded; the others are as the check cache's "
                  "snapshot of the set has them",
                  reg->n, count, reg->path);
    rc = 0;
out:
    known_free(&k);
    return rc;
}

int tk_registry_load_known(struct tk_registry *reg, struct tk_config *cfg, const char *type,
                           struct tk_error *err)
{
    struct tk_check_cache cc; /* on the stack: no allocation to fail */
    int rc, optional;

    if ((rc = registry_begin(reg, NULL, cfg, &optional, err)) != 0)
        return rc;
    tk_plugin_check_cache_begin(&cc);
    if (cc.on && cc.text[0] && known_load(reg, cfg, type, optional, &cc) == 0)
        return 0;
    /* anything else: the whole load, and its refusal */
    tk_registry_unload(reg);
    return tk_registry_load(reg, NULL, cfg, err);
}
