/* loader.c - dlopen the plugins folder.  Everything that can be checked
 * without running plugin code (permissions, ABI header, names) is checked
 * before init; any failure undoes the whole load, like Redis undoes a
 * module whose OnLoad failed, so a half-loaded registry never exists. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "plugin.h"

/* The smallest descriptor of each kind the host accepts: the ABI 1.0
 * structs.  When fields are appended (ABI 1.1), these stay at the 1.0 size
 * and the new fields are read only when hdr.size covers them. */
#define TK_ITEM_TYPE_SIZE_1_0 sizeof(struct tk_item_type)
#define TK_TRANSPORT_SIZE_1_0 sizeof(struct tk_transport)

static int refuse(struct tk_error *err, const char *path, const char *fmt, ...) TK_PRINTF(3, 4);
static int refuse(struct tk_error *err, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tk_error_setv(err, TK_ERR, fmt, ap);
    va_end(ap);
    tk_error_prefix(err, "plugin %s: refused", path);
    return TK_ERR;
}

static int unsafe_stat(const struct stat *st, const char *what, const char *path,
                       struct tk_error *err)
{
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return refuse(err, path, "%s is writable by group or others (mode %04o)", what,
                      (unsigned)(st->st_mode & 07777));
    if (st->st_uid != 0 && st->st_uid != geteuid())
        return refuse(err, path, "%s is owned by uid %u, neither root nor the running user", what,
                      (unsigned)st->st_uid);
    return 0;
}

int tk_plugin_check_perms(const char *path, struct tk_error *err)
{
    struct stat st;
    const char *slash = strrchr(path, '/');
    char *dir;
    int rc;

    /* lstat: a symlink could be swapped under us, so only real files load. */
    if (lstat(path, &st) != 0)
        return refuse(err, path, "cannot stat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return refuse(err, path, "not a regular file");
    if ((rc = unsafe_stat(&st, "the file", path, err)) != 0)
        return rc;
    dir = slash ? tk_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : tk_strdup(".");
    if (!dir)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    /* stat, not lstat: the folder itself may be reached through a link. */
    if (stat(dir, &st) != 0)
        rc = refuse(err, path, "cannot stat its folder: %s", strerror(errno));
    else
        rc = unsafe_stat(&st, "its folder", path, err);
    free(dir);
    return rc;
}

static int name_valid(const char *s)
{
    size_t n;
    if (!s || !(*s >= 'a' && *s <= 'z'))
        return 0;
    for (n = 1; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_' ||
              s[n] == '-'))
            return 0;
    return n <= 32;
}

int tk_plugin_check_header(const struct tk_plugin_header *h, const char *path, struct tk_error *err)
{
    size_t min;
    const char *kind;

    if (!h)
        return refuse(err, path, "%s returned NULL", TK_PLUGIN_ENTRY_NAME);
    if (h->abi_major != TK_ABI_MAJOR)
        return refuse(err, path, "built for ABI %u.%u, this tickler speaks ABI %d.%d", h->abi_major,
                      h->abi_minor, TK_ABI_MAJOR, TK_ABI_MINOR);
    if (h->abi_minor > TK_ABI_MINOR)
        return refuse(err, path,
                      "built for ABI %u.%u, newer than this tickler's ABI %d.%d: upgrade tickler",
                      h->abi_major, h->abi_minor, TK_ABI_MAJOR, TK_ABI_MINOR);
    if (h->size < sizeof *h)
        return refuse(err, path, "descriptor is %u bytes, shorter than its %zu-byte header",
                      (unsigned)h->size, sizeof *h);
    if (h->kind == TK_PLUGIN_ITEM) {
        min = TK_ITEM_TYPE_SIZE_1_0;
        kind = "item type";
    } else if (h->kind == TK_PLUGIN_TRANSPORT) {
        min = TK_TRANSPORT_SIZE_1_0;
        kind = "transport";
    } else {
        return refuse(err, path, "unknown plugin kind %d", h->kind);
    }
    if (h->size < min)
        return refuse(err, path, "descriptor is %u bytes, an ABI %d.0 %s needs at least %zu",
                      (unsigned)h->size, TK_ABI_MAJOR, kind, min);
    if (!name_valid(h->name))
        return refuse(err, path,
                      "bad plugin name '%s': expected [a-z][a-z0-9_-]*, at most 32 "
                      "characters",
                      h->name ? h->name : "(null)");
    return 0;
}

static int has_en_default(const struct tk_template_text *t)
{
    for (; t && t->lang; t++)
        if (tk_streq(t->lang, "en") && tk_streq(t->name, "default"))
            return 1;
    return 0;
}

/* What the kind-specific descriptor must hold, beyond the header. */
static int check_body(struct tk_plugin *p, struct tk_error *err)
{
    if (p->hdr->kind == TK_PLUGIN_ITEM) {
        p->item = (const struct tk_item_type *)p->hdr;
        if (!p->item->events || !p->item->events[0].name)
            return refuse(err, p->path, "item type '%s' declares no events", p->hdr->name);
        if (!has_en_default(p->item->templates))
            return refuse(err, p->path, "item type '%s' has no default template in en",
                          p->hdr->name);
    } else {
        p->transport = (const struct tk_transport *)p->hdr;
        if (!p->transport->open || !p->transport->send || !p->transport->close)
            return refuse(err, p->path, "transport '%s' lacks open, send or close", p->hdr->name);
    }
    return 0;
}

static void plugin_free(struct tk_plugin *p)
{
    if (!p)
        return;
    if (p->inited) {
        if (p->item && p->item->fini)
            p->item->fini(p->state);
        else if (p->transport && p->transport->fini)
            p->transport->fini(p->state);
    }
    if (p->handle)
        dlclose(p->handle);
    free(p->path);
    free(p);
}

static int open_one(const char *path, struct tk_config *cfg, struct tk_plugin **out,
                    struct tk_error *err)
{
    struct tk_plugin *p;
    tk_plugin_entry_fn entry;
    const char *why;
    size_t plen = strlen(path);
    int rc;

    *out = NULL;
    if ((rc = tk_plugin_check_perms(path, err)) != 0 || (rc = tk_plugin_check_elf(path, err)) != 0)
        return rc;
    if (!(p = calloc(1, sizeof *p)) || !(p->path = tk_strdup(path))) {
        free(p);
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    p->cfg = cfg;
    dlerror();
    p->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!p->handle) {
        why = dlerror();
        why = why ? why : "unknown error";
        /* glibc starts the message with the path, which we already say. */
        if (strncmp(why, path, plen) == 0 && strncmp(why + plen, ": ", 2) == 0)
            why += plen + 2;
        refuse(err, path, "cannot load: %s", why);
        plugin_free(p);
        return TK_ERR;
    }
    /* dlsym returns void *; POSIX guarantees it converts to a function. */
    *(void **)&entry = dlsym(p->handle, TK_PLUGIN_ENTRY_NAME);
    if (!entry) {
        refuse(err, path, "not a tickler plugin: no %s symbol", TK_PLUGIN_ENTRY_NAME);
        plugin_free(p);
        return TK_ERR;
    }
    p->hdr = entry();
    if ((rc = tk_plugin_check_header(p->hdr, path, err)) != 0 || (rc = check_body(p, err)) != 0) {
        plugin_free(p);
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

/* The *.so names of DIR, sorted so that load order (and thus which of two
 * duplicates is named first) does not depend on the file system. */
static int list_dir(const char *dir, struct tk_strv *names, struct tk_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d)
        return tk_error_set(err, TK_EIO, "cannot open plugins folder %s: %s", dir, strerror(errno));
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

static int check_duplicate(const struct tk_registry *reg, const struct tk_plugin *p,
                           struct tk_error *err)
{
    for (size_t i = 0; i < reg->n; i++) {
        const struct tk_plugin *q = reg->v[i];
        if (q->hdr->kind == p->hdr->kind && strcmp(q->hdr->name, p->hdr->name) == 0)
            return refuse(err, p->path, "%s '%s' claimed by both %s and %s",
                          p->item ? "type" : "transport", p->hdr->name, q->path, p->path);
    }
    return 0;
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
    if (rc != 0)
        return tk_error_set(err, rc, "plugin %s: init failed: %s", p->path,
                            perr.msg[0] ? perr.msg : "no reason given");
    p->inited = 1;
    return 0;
}

int tk_registry_load(struct tk_registry *reg, const char *dir, struct tk_config *cfg,
                     struct tk_error *err)
{
    struct tk_strv names = {0};
    int rc;

    memset(reg, 0, sizeof *reg);
    if (cfg && tk_log_level_parse(cfg->log_level) >= 0)
        tk_plugin_log_set_level(tk_log_level_parse(cfg->log_level));
    if (!(reg->dir = tk_strdup(dir)))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    if ((rc = list_dir(dir, &names, err)) != 0)
        goto fail;
    if (names.n && !(reg->v = calloc(names.n, sizeof *reg->v))) {
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < names.n; i++) {
        struct tk_plugin *p;
        char *path = tk_strprintf("%s/%s", dir, names.v[i]);
        if (!path) {
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
            goto fail;
        }
        rc = open_one(path, cfg, &p, err);
        free(path);
        if (rc != 0)
            goto fail;
        if ((rc = check_duplicate(reg, p, err)) != 0) {
            plugin_free(p);
            goto fail;
        }
        reg->v[reg->n++] = p;
    }
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
    tk_strv_free(&names);
    return 0;
fail:
    tk_strv_free(&names);
    tk_registry_unload(reg);
    return rc;
}

void tk_registry_unload(struct tk_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = reg->n; i > 0; i--)
        plugin_free(reg->v[i - 1]);
    free(reg->v);
    free(reg->dir);
    memset(reg, 0, sizeof *reg);
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
                            reg->dir ? reg->dir : "the plugins folder");
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
