/* config_entries.c - plugin sections: kept raw while parsing, because only
 * the loaded plugins know their keys; each plugin claims its section and
 * whatever nobody claimed is reported with its line (collectd routes its
 * config blocks the same way). */
#include <stdio.h>
#include <string.h>

#include "config.h"

const char *tk_config_plugin_get(struct tk_config *cfg, const char *section, const char *key)
{
    if (!cfg || !section || !key)
        return NULL;
    for (size_t i = 0; i < cfg->nentries; i++) {
        struct tk_config_entry *e = &cfg->entries[i];
        if (strcmp(e->section, section) == 0 && strcmp(e->key, key) == 0) {
            e->used = 1;
            return e->value;
        }
    }
    return NULL;
}

const char *tk_config_plugin_find(const struct tk_config *cfg, const char *section, const char *key)
{
    for (size_t i = 0; cfg && section && key && i < cfg->nentries; i++) {
        const struct tk_config_entry *e = &cfg->entries[i];
        if (strcmp(e->section, section) == 0 && strcmp(e->key, key) == 0)
            return e->value;
    }
    return NULL;
}

static int key_listed(const char *const *keys, size_t nkeys, const char *key)
{
    for (size_t i = 0; i < nkeys && keys && keys[i]; i++)
        if (strcmp(keys[i], key) == 0)
            return 1;
    return 0;
}

/* "a, b, c" into BUF, for telling the user what would have been accepted. */
static const char *key_list(const char *const *keys, size_t nkeys, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < nkeys && keys && keys[i] && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", keys[i]);
    return buf;
}

int tk_config_claim(struct tk_config *cfg, const char *section, const char *const *keys,
                    size_t nkeys, struct tk_error *err)
{
    char list[256];
    if (!cfg || !section)
        return 0;
    for (size_t i = 0; i < cfg->nentries; i++) {
        struct tk_config_entry *e = &cfg->entries[i];
        if (strcmp(e->section, section) != 0)
            continue;
        if (!key_listed(keys, nkeys, e->key)) {
            key_list(keys, nkeys, list, sizeof list);
            return tk_error_set(err, TK_EINVAL, "%s:%d: unknown key '%s' in [%s] (%s%s)", cfg->path,
                                e->line, e->key, section,
                                list[0] ? "accepted: " : "this section accepts no keys", list);
        }
        e->used = 1;
    }
    return 0;
}

int tk_config_check_plugins(const struct tk_config *cfg, struct tk_error *err)
{
    if (!cfg)
        return 0;
    for (size_t i = 0; i < cfg->nentries; i++) {
        const struct tk_config_entry *e = &cfg->entries[i];
        if (e->used)
            continue;
        /* A claimed section has every key used (tk_config_claim refuses the
         * rest), so an unused entry means nobody claimed its section. */
        if (strcmp(e->section, "transport") == 0)
            return tk_error_set(err, TK_EINVAL,
                                "%s:%d: unknown key '%s' in [transport] (transport plugin '%s' "
                                "does not accept it)",
                                cfg->path, e->line, e->key,
                                cfg->transport_plugin ? cfg->transport_plugin : "?");
        return tk_error_set(err, TK_EINVAL,
                            "%s:%d: unknown section [%s] (no core section and no loaded plugin "
                            "of that name)",
                            cfg->path, e->line, e->section);
    }
    return 0;
}

int tk_config_has_plugin_sections(const struct tk_config *cfg)
{
    for (size_t i = 0; cfg && i < cfg->nentries; i++)
        if (!cfg->entries[i].used && strcmp(cfg->entries[i].section, "transport") != 0)
            return 1;
    return 0;
}
