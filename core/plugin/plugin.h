/*
 * plugin.h - loading item-type and transport plugins.
 *
 * tk_registry_load() opens every *.so in the plugins folder with
 * RTLD_NOW | RTLD_LOCAL after checking that neither the file nor the folder
 * is writable by group or others, looks up the one entry symbol, checks the
 * descriptor header (ABI major, minor, size, kind, name) before calling
 * anything else, refuses two plugins claiming one name, then calls init.
 * Any refusal is one line naming the file and the reason; everything loaded
 * so far is undone (fini, dlclose) and the registry is left empty.
 */
#ifndef TK_PLUGIN_H
#define TK_PLUGIN_H

#include "tickler/item.h"
#include "tickler/transport.h"
#include "util/util.h"

struct tk_config;

struct tk_plugin {
    char *path;   /* the file */
    void *handle; /* dlopen handle */
    const struct tk_plugin_header *hdr;
    const struct tk_item_type *item;      /* kind item, else NULL */
    const struct tk_transport *transport; /* kind transport, else NULL */
    void *state;                          /* from init */
    struct tk_host host;                  /* this plugin's view of the host */
    struct tk_config *cfg;                /* borrowed */
    int inited;
};

struct tk_registry {
    struct tk_plugin **v;
    size_t n;
    char *dir; /* the folder loaded, for messages */
};

/* Load all plugins of DIR.  CFG is borrowed for the registry's lifetime
 * (plugins read their keys through it); it may be NULL (no plugin keys).
 * Every item type claims its section [NAME] and is inited.  Of the
 * transports only the active one (CFG's transport_plugin) claims the
 * [transport] keys and is inited: an inactive transport stays loaded (for
 * listing) but is never inited, so that e.g. smtp does not demand a url
 * while the file transport is in use.  On failure the registry is empty
 * and ERR names the file and the reason. */
int tk_registry_load(struct tk_registry *reg, const char *dir, struct tk_config *cfg,
                     struct tk_error *err);
/* fini every inited plugin (in reverse order), dlclose all, empty REG.
 * Safe on an empty or zeroed registry. */
void tk_registry_unload(struct tk_registry *reg);

/* Check that the transport CFG names (transport_plugin) is loaded and claim
 * its keys of [transport]: "no transport plugin 'x' in DIR" or
 * "FILE:LINE: unknown key ..." otherwise.  Call after tk_registry_load and
 * before tk_config_check_plugins.  Idempotent. */
int tk_registry_claim_transport(struct tk_registry *reg, struct tk_config *cfg,
                                struct tk_error *err);

/* Where plugins' host->log lines go.  LEVEL: the most verbose level shown
 * (enum tk_log_level; default TK_LOG_INFO).  FN NULL: stderr as
 * "tickler: PLUGIN: message".  FN gets the formatted line without newline,
 * borrowed for the call.  Process-wide; not thread-safe to change while
 * plugins log. */
typedef void (*tk_plugin_log_fn)(void *data, int level, const char *plugin, const char *msg);
void tk_plugin_log_configure(int level, tk_plugin_log_fn fn, void *data);
/* Change only the level (tk_registry_load sets it from [log] level). */
void tk_plugin_log_set_level(int level);
/* "error", "warn", "info", "debug" to an enum tk_log_level; -1 if unknown. */
int tk_log_level_parse(const char *s);

/* Fill P's struct tk_host (host.c); P->cfg must be set.  Internal to the
 * loader, declared here for it. */
void tk_plugin_host_init(struct tk_plugin *p);
/* Select the transport named by cfg->transport_plugin: claim its [transport]
 * keys and init it (only the selected transport is initialised).  Error when
 * no such transport plugin is loaded. */
int tk_registry_claim_transport(struct tk_registry *reg, struct tk_config *cfg,
                                struct tk_error *err);

/* The item type NAME, or NULL.  Borrowed. */
const struct tk_plugin *tk_registry_item(const struct tk_registry *reg, const char *name);
const struct tk_plugin *tk_registry_transport(const struct tk_registry *reg, const char *name);
/* The item type whose bulk spec names COMMAND; *bulk set.  NULL if none. */
const struct tk_plugin *tk_registry_bulk(const struct tk_registry *reg, const char *command,
                                         const struct tk_bulk_spec **bulk);

/* Check a descriptor header read from PATH; exposed for unit tests. */
int tk_plugin_check_header(const struct tk_plugin_header *h, const char *path,
                           struct tk_error *err);
/* Refuse PATH unless it is an ELF shared object of this machine that
 * defines tk_plugin_entry; read from the file, before dlopen() runs any of
 * its code. */
int tk_plugin_check_elf(const char *path, struct tk_error *err);
/* Refuse PATH when it or its folder is writable by group/others. */
int tk_plugin_check_perms(const char *path, struct tk_error *err);

/* The default plugins folder: ../lib/tickler/plugins beside the running
 * binary.  Caller frees. */
char *tk_plugin_default_dir(void);
/* Folder beside the running binary: ../REL.  Caller frees. */
char *tk_path_beside_binary(const char *rel);

/* Context handed to item-type callbacks through the host's accessors. */
struct tk_item_ctx {
    struct tk_kv *fields;      /* the item's fields (writable in prepare) */
    struct tk_kv *vars;        /* template variables (writable in vars) */
    const struct tk_kv *facts; /* "id", "title", "state", ... */
    const char *type;          /* prefix for var names */
    int phase;                 /* 1 prepare, 2 vars, 3 section */
    void *engine;              /* for sequence_next */
    int (*seq_next)(void *engine, const char *type, const char *name, int64_t *out,
                    struct tk_error *err);
};

#endif
