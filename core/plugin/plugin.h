/*
 * plugin.h - loading item-type and transport plugins.
 *
 * tk_registry_load() walks the plugin search path ([plugins] path, else
 * [plugins] dir, else the default: the installed plugins folder, then
 * SYSCONFDIR/tickler/plugins).  For each folder it checks, as sshd's
 * StrictModes does, that the folder and every folder above it are owned by
 * root or the running user and not writable by group or others (a sticky
 * folder such as /tmp is accepted above the plugins folder, never as it).
 * Each *.so is opened once, by descriptor, without following links; the
 * descriptor is checked (regular file, owner, mode), its ELF symbol table
 * read for the entry, and that same file loaded with
 * dlopen("/proc/self/fd/N", RTLD_NOW | RTLD_LOCAL), so the file checked is
 * the file loaded.  Then the descriptor header (ABI major, minor, size,
 * kind) and every string the host prints or routes by are checked, and
 * every compiled-in template parsed (unless the check cache, checkcache.c,
 * has this very file's templates as passed), before anything of the plugin
 * runs but its entry.  Two plugins claiming one name are refused (a later folder may
 * replace an earlier one's plugin with [plugins] allow_override = yes).
 * Then sections are claimed and init called.
 *
 * Any refusal is one line naming the file and the reason; everything loaded
 * so far is undone (fini, dlclose) and the registry is left empty.
 */
#ifndef TK_PLUGIN_H
#define TK_PLUGIN_H

#include <sys/types.h>

#include "tickler/item.h"
#include "tickler/transport.h"
#include "util/util.h"

struct tk_config;
struct stat;

struct tk_plugin {
    char *path;   /* FOLDER/NAME.so as configured, for messages */
    void *handle; /* dlopen handle */
    int fd;       /* the file, open while loaded: its /proc/self/fd name */
    const struct tk_plugin_header *hdr;
    const struct tk_item_type *item;      /* kind item, else NULL */
    const struct tk_transport *transport; /* kind transport, else NULL */
    void *state;                          /* from init */
    struct tk_host host;                  /* this plugin's view of the host */
    struct tk_config *cfg;                /* borrowed */
    int inited;
    /* host->alloc accounting (alloc.c); atomic: transports allocate on
     * several threads */
    size_t mem_used, mem_limit;
    unsigned mem_refused; /* allocations refused by the cap */
    /* checkcache.c: this file's line in the check cache ("" when none),
     * and whether it was there (the templates' parse skipped) */
    char check_line[160];
    int check_hit;
    /* the fstat of the file loaded (what a snapshot of the
     * plugin set records), and how many lines its own code logged through
     * host->log (a plugin that logs is never left unloaded: its lines
     * would be missing) */
    unsigned long long key[7];
    unsigned logged;
};

/* What tk_registry_load knows of the check cache (checkcache.c). */
struct tk_check_cache {
    int on;           /* a host ID and the cache not turned off */
    char host[129];   /* the GNU build ID, hex */
    char header[192]; /* the first line a usable file has */
    char text[8192];  /* the file as read, NUL-terminated; "" when none */
};

struct tk_registry {
    struct tk_plugin **v;
    size_t n, cap;
    char *path;        /* the folders searched, ':'-separated, for messages */
    int at_exit;       /* tk_registry_unload_at_exit: leave the objects mapped */
    size_t files;      /* the files loaded (more than n when one replaced another) */
    int partial;       /* tk_registry_load_known: only the plugins asked for */
    int snapshot_seen; /* the check cache had REG's snapshot, or is off */
};

/* Load the plugins of the search path.  PATH: folders separated by ':',
 * each of which must exist; NULL: the path CFG configures ([plugins] path,
 * else dir), else the default path, whose missing folders are skipped.
 * CFG is borrowed for the registry's lifetime (plugins read their keys
 * through it); it may be NULL (no plugin keys, default limits).  Every item
 * type claims its section [NAME] and is inited.  Of the transports only the
 * active one (CFG's transport_plugin) claims the [transport] keys and is
 * inited: an inactive transport stays loaded (for listing) but is never
 * inited, so that e.g. smtp does not demand a url while the file transport
 * is in use.  On failure the registry is empty and ERR names the file and
 * the reason. */
int tk_registry_load(struct tk_registry *reg, const char *path, struct tk_config *cfg,
                     struct tk_error *err);
/* fini every inited plugin (in reverse order), dlclose all, empty REG.
 * Safe on an empty or zeroed registry. */
void tk_registry_unload(struct tk_registry *reg);
/* The same for a process that exits right after: every inited plugin's fini
 * runs as in tk_registry_unload, but the objects stay mapped and their
 * descriptors open, for the kernel to drop at exit (a `send` spent about
 * 60 system calls, the munmaps of 8 plugins, libidn2 and libunistring and
 * a probe per plugin, in dlclose; bench/RESULTS.md).  Their destructors
 * run at exit instead of at dlclose. */
void tk_registry_unload_at_exit(struct tk_registry *reg);

/* Check that the transport CFG names (transport_plugin) is loaded and claim
 * its keys of [transport]: "no transport plugin 'x' in PATH" or
 * "FILE:LINE: unknown key ..." otherwise.  tk_registry_load() does this
 * when the transport is there; idempotent. */
int tk_registry_claim_transport(struct tk_registry *reg, struct tk_config *cfg,
                                struct tk_error *err);

/* The words a bulk command may not be (the CLI's own commands), checked by
 * every later tk_registry_load().  NAMES: NULL-terminated, borrowed until
 * the process exits (or the next call).  Process-wide, set once at start. */
void tk_plugin_reserve_commands(const char *const *names);

/* Where plugins' host->log lines go, and the host's own lines about a
 * plugin (its memory cap).  LEVEL: the most verbose level shown (enum
 * tk_log_level; default TK_LOG_INFO).  FN NULL: stderr as
 * "tickler: PLUGIN: message".  FN gets the formatted line without newline,
 * borrowed until FN returns; it may be called from several threads at
 * once.  Process-wide; not thread-safe to change while plugins log. */
typedef void (*tk_plugin_log_fn)(void *data, int level, const char *plugin, const char *msg);
void tk_plugin_log_configure(int level, tk_plugin_log_fn fn, void *data);
/* The flag host->stopping reads (set by the daemon's signal handler, read
 * atomically); NULL: never stopping.  Borrowed until set again. */
void tk_plugin_set_stop(volatile int *flag);
/* Change only the level (tk_registry_load sets it from [log] level). */
void tk_plugin_log_set_level(int level);
/* "error", "warn", "info", "debug" to an enum tk_log_level; -1 if unknown. */
int tk_log_level_parse(const char *s);

/* The item type NAME, or NULL.  Borrowed until tk_registry_unload. */
const struct tk_plugin *tk_registry_item(const struct tk_registry *reg, const char *name);
const struct tk_plugin *tk_registry_transport(const struct tk_registry *reg, const char *name);
/* The item type whose bulk spec names COMMAND; *bulk set.  NULL if none. */
const struct tk_plugin *tk_registry_bulk(const struct tk_registry *reg, const char *command,
                                         const struct tk_bulk_spec **bulk);

/* ---- the checks, exposed for the loader's files and unit tests -------- */

/* Set ERR to "plugin PATH: refused: " and FMT; returns TK_ERR (check.c). */
int tk_plugin_refuse(struct tk_error *err, const char *path, const char *fmt, ...) TK_PRINTF(3, 4);

/* Check a descriptor header read from PATH: ABI version, size against the
 * frozen 1.0 size of its kind, kind, name, version and description. */
int tk_plugin_check_header(const struct tk_plugin_header *h, const char *path,
                           struct tk_error *err);
/* Check the kind-specific rest of P's descriptor (check.c): every name the
 * host routes by, every text it prints, the compiled-in templates. */
int tk_plugin_check_body(struct tk_plugin *p, struct tk_error *err);
/* Check what two plugins may not share (Lua verbs, bulk commands) between
 * P and those before it in REG. */
int tk_plugin_check_clash(const struct tk_registry *reg, const struct tk_plugin *p,
                          struct tk_error *err);
/* Refuse FD (the file PATH) unless it is an ELF shared object of this
 * machine that defines tk_plugin_entry; read from the file, before dlopen()
 * runs any of its code. */
int tk_plugin_check_elf(int fd, const char *path, struct tk_error *err);
/* The same for a descriptor whose size the caller has from fstat. */
int tk_plugin_check_elf_sized(int fd, off_t size, const char *path, struct tk_error *err);
/* StrictModes for folder DIR: DIR is owned by root or the running user and
 * not writable by group or others, and so is every folder above it up to
 * /, except that a folder above DIR may be group/other-writable when it is
 * sticky (/tmp).  ERR: "plugin folder DIR: refused: ...". */
int tk_plugin_check_folder(const char *dir, struct tk_error *err);
/* Open NAME in the folder DIRFD (shown as PATH) for loading: not following
 * a link, a regular file owned by root or the running user, not writable by
 * group or others.  *fd: caller closes. */
int tk_plugin_open_file(int dirfd, const char *name, const char *path, int *fd,
                        struct tk_error *err);
/* The same, with the descriptor's fstat in *ST. */
int tk_plugin_open_file_stat(int dirfd, const char *name, const char *path, int *fd,
                             struct stat *st, struct tk_error *err);

/* ---- the check cache (checkcache.c) --------------------------------------- */

/* Whether tk_registry_load may skip the parse of a plugin file's
 * compiled-in templates that passed before (default: yes).  `tickler
 * check` turns it off.  Process-wide, set once at start. */
void tk_plugin_check_cache_use(int on);
/* Read the cache file into CC (never fails: a missing or unreadable file,
 * or another host's, is an empty cache). */
void tk_plugin_check_cache_begin(struct tk_check_cache *cc);
/* Set P's line from ST (the fstat of the descriptor loaded) and its
 * templates; 1 when the cache has it, i.e. these very templates of this
 * very file passed the check of this very host before. */
int tk_plugin_check_cache_lookup(const struct tk_check_cache *cc, struct tk_plugin *p,
                                 const struct stat *st);
/* Add REG's plugins that were checked in full to the file (failures are
 * ignored: the next command checks again). */
void tk_plugin_check_cache_end(const struct tk_check_cache *cc, const struct tk_registry *reg);
/* Add LINE (no newline) to the file, first, unless it has it. */
void tk_plugin_check_cache_add(const struct tk_check_cache *cc, const char *line);
/* The cache's 64-bit hash: H and then the N bytes at DATA. */
uint64_t tk_plugin_hash(uint64_t h, const void *data, size_t n);

/* ---- the plugin set's snapshot (loader.c) -------------------------------- */

/* Load only what a command needs: the item type TYPE (NULL: none) and the
 * active transport (CFG's transport_plugin), when the check cache holds a
 * snapshot of this very plugin set that passed a whole tk_registry_load
 * with tk_config_check_plugins: the same files (path, name and fstat of
 * each *.so of each folder, in load order), the same configuration of
 * the plugins (every entry outside [transport], [plugins] allow_override
 * and memory_limit_mb, the transport's name), this very host (the cache's
 * first line).  The plugins loaded get every check of tk_registry_load
 * (the folders' StrictModes too); the others' sections count as claimed,
 * as they were.  Anything else (no cache, no snapshot, TYPE not in it, any
 * failure) means the whole tk_registry_load, with its result and its
 * refusal: so a file the snapshot does not have (new, replaced, edited,
 * broken) is loaded and checked as before.  REG->partial says which. */
int tk_registry_load_known(struct tk_registry *reg, struct tk_config *cfg, const char *type,
                           struct tk_error *err);
/* After a whole tk_registry_load of the configured path and
 * tk_config_check_plugins passed: record REG's snapshot in the check cache
 * (nothing when a plugin logged, when one replaced another, or when the
 * cache is off; failures are ignored). */
void tk_registry_snapshot_save(const struct tk_registry *reg, const struct tk_config *cfg);

/* ---- host services (host.c, alloc.c) ------------------------------------ */

/* Fill P's struct tk_host; P->cfg must be set.  Internal to the loader. */
void tk_plugin_host_init(struct tk_plugin *p);
/* The capped allocator behind host->alloc/realloc/free. */
void *tk_plugin_alloc(const struct tk_host *h, size_t n);
void *tk_plugin_realloc(const struct tk_host *h, void *p, size_t n);
void tk_plugin_free(const struct tk_host *h, void *p);
/* A line from the host about plugin P, through the plugin log. */
void tk_plugin_log(const struct tk_plugin *p, int level, const char *fmt, ...) TK_PRINTF(3, 4);

/* ---- folders (path.c) ----------------------------------------------------- */

/* The installed plugins folder: ../lib/tickler/plugins beside the running
 * binary.  Caller frees. */
char *tk_plugin_default_dir(void);
/* The default search path: the installed folder, then
 * SYSCONFDIR/tickler/plugins (for plugins the package does not own).
 * Caller frees. */
char *tk_plugin_default_path(void);
/* Folder beside the running binary: ../REL.  Caller frees. */
char *tk_path_beside_binary(const char *rel);

/* Context handed to item-type callbacks through the host's accessors. */
struct tk_item_ctx {
    struct tk_kv *fields;      /* the item's fields (writable in prepare) */
    struct tk_kv *vars;        /* template variables (writable in vars) */
    const struct tk_kv *facts; /* "id", "title", "state", "language", ... */
    const char *type;          /* prefix for var names */
    int phase;                 /* 1 prepare, 2 vars, 3 section */
    void *engine;              /* for sequence_next */
    int (*seq_next)(void *engine, const char *type, const char *name, int64_t *out,
                    struct tk_error *err);
};

#endif
