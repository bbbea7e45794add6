/*
 * config.h - the INI configuration, read once through inih.
 *
 * Core sections and keys are known here and checked while parsing; an
 * unknown core key, a bad value or a duplicate is an error naming FILE:LINE.
 * Sections that belong to plugins ([transport] keys other than plugin/from,
 * [invoice], ...) are kept as raw entries with their line numbers and
 * checked by tk_config_check_plugins() once the plugins are loaded, because
 * only then is it known which keys they accept.
 */
#ifndef TK_CONFIG_H
#define TK_CONFIG_H

#include "util/util.h"

/* One raw entry of a plugin section. */
struct tk_config_entry {
    char *section, *key, *value;
    int line;
    int used; /* claimed by a loaded plugin */
};

struct tk_config {
    char *path; /* the file read (absolute or as given) */
    char *dir;  /* its folder: relative paths resolve here */

    /* [store] */
    char *store_driver; /* "sqlite" (default) | "postgres" */
    char *store_path;   /* sqlite file; default tickler.db beside the config */
    char *store_dsn;    /* postgres DSN; $TICKLER_DSN overrides */

    /* [transport] */
    char *transport_plugin;    /* "file" (default) | "smtp" | another plugin */
    char *transport_from;      /* From: header, "Name <addr>" or addr */
    int transport_connections; /* parallel connections, default 1 */

    /* [plugins] */
    char *plugins_dir;           /* one folder: the older, one-entry form of path */
    char *plugins_path;          /* folders, ':'-separated and resolved; NULL: default */
    int plugins_allow_override;  /* a later folder may replace a plugin: 0 */
    int plugins_memory_limit_mb; /* per plugin, through host->alloc: 64 */

    /* [templates] */
    char *templates_dir; /* NULL: beside the binary (../share/tickler/templates) */

    /* [firm] */
    char *firm_name;       /* default "Your accountant" */
    char *firm_portal_url; /* optional link in emails */

    /* [reminders] */
    int default_every_days;  /* 3 */
    int default_count;       /* 1 */
    int escalate_after_days; /* 3: days after the last automatic reminder before the
                              * account's manager is told (issue 14); 0: never */
    int reminders_digest;    /* 0: an account's digest setting "default" means off
                              * (issue 14: one digest per person, digest.c) */

    /* [calendar]: the defaults of accounts that set none (issue 14); NULL:
     * UTC, always open, no holidays (today's behaviour) */
    char *calendar_timezone;
    char *calendar_window;   /* canonical form */
    char *calendar_holidays; /* "nl", "none" or an absolute .ics path */

    /* [scheduler] */
    int poll_seconds; /* 60 */
    int batch_size;   /* items per claim/transaction, 500 */

    /* [delivery] */
    int retry_base_seconds; /* 30 */
    int retry_cap_seconds;  /* 3600 */
    int max_age_seconds;    /* 3 days */
    int max_attempts;       /* 0: no limit but max_age */
    int lease_seconds;      /* 300 */
    int unrecorded_max;     /* per connection, with connections > 1; 8 */

    /* [retention] */
    int retention_message_days; /* sent texts dropped after this many days: 400; 0 never */

    /* [lua] */
    char *lua_scripts;         /* folder of pipeline scripts; NULL: none */
    int lua_memory_limit_mb;   /* 16 */
    int lua_instruction_limit; /* per call, default 50 million */
    int lua_time_limit_ms;     /* wall clock per call, default 1000 */

    /* [inbound] (issue 15, docs/inbound.md): what comes back */
    char *inbound_url;           /* imaps://host/INBOX: `tickler run` polls it; NULL: no polling */
    char *inbound_username;      /* IMAP login */
    char *inbound_password;      /* IMAP password */
    int inbound_poll_seconds;    /* between polls of the mailbox, 60 */
    char *inbound_tls;           /* none|starttls|tls; NULL: by the URL's scheme */
    char *inbound_ca_file;       /* PEM CA certificates; NULL: the system's */
    char *inbound_done_folder;   /* move processed messages here; NULL: flag them */
    int inbound_max_kb;          /* larger messages are read as their header, 10240 */
    char *inbound_secret;        /* VERP HMAC key, >= 16 characters */
    char *inbound_return_path;   /* bounces@firm.example: VERP envelope senders when set */
    int inbound_reply_hold_days; /* a reply holds an item's reminders this long, 7 */
    char *inbound_forward_to;    /* replies and notices go here (no manager known) */
    int inbound_suppress_after;  /* synchronous 5xx at RCPT before suppressing, 1 */
    /* [http] (the staff console's part; docs/configuration.md) */
    int http_session_hours; /* a console session's life, default 12 */

    /* [log] */
    char *log_file;   /* NULL: stderr */
    char *log_level;  /* error|warn|info|debug, default info */
    char *log_target; /* stderr|file|syslog|journal; NULL: file if log_file, else stderr */

    /* [http] (docs/api.md) */
    char *http_listen;   /* "127.0.0.1:8025", "[::1]:8025"; NULL: no listener */
    char *http_tls_cert; /* PEM files; both or neither */
    char *http_tls_key;
    int http_max_body_kb; /* request bodies, default 256 */

    /* plugin sections and [transport] plugin keys, in file order */
    struct tk_config_entry *entries;
    size_t nentries;
};

/* Read PATH into *out (caller frees with tk_config_free, also on failure).
 * A missing file is an error, except when ALLOW_MISSING: then defaults. */
int tk_config_load(const char *path, int allow_missing, struct tk_config *out,
                   struct tk_error *err);
void tk_config_free(struct tk_config *cfg);

/* The value of KEY in plugin SECTION, or NULL; marks the entry used.
 * Borrowed until tk_config_free. */
const char *tk_config_plugin_get(struct tk_config *cfg, const char *section, const char *key);
/* The same without marking anything: safe from several threads at once
 * (a transport's send() reading its keys). */
const char *tk_config_plugin_find(const struct tk_config *cfg, const char *section,
                                  const char *key);

/* 1 when NAME is a section of core ([store], [transport], [plugins], ...):
 * no plugin may claim it. */
int tk_config_section_reserved(const char *name);

/* Claim the keys a plugin accepts in SECTION; report the first entry of
 * SECTION whose key is not in KEYS (NULL-terminated) as FILE:LINE. */
int tk_config_claim(struct tk_config *cfg, const char *section, const char *const *keys,
                    size_t nkeys, struct tk_error *err);

/* After all plugins claimed their keys: the first unclaimed entry is an
 * error "FILE:LINE: unknown section [x]" or "unknown key y in [x]". */
int tk_config_check_plugins(const struct tk_config *cfg, struct tk_error *err);
/* 1 when CFG has an entry outside [transport] that no core module reads
 * and no plugin has claimed yet (a plugin's section, or an unknown one):
 * only the plugins can tell which, so a lazy engine loads them at once. */
int tk_config_has_plugin_sections(const struct tk_config *cfg);

/* The configuration file a command reads: ARG (-c FILE) when not NULL,
 * else $TICKLER_CONFIG when set and not empty, else ./tickler.ini when it
 * exists, else tk_config_system_path() when it exists (find.c).  *OUT:
 * caller frees.  TK_EIO naming both defaults when neither exists. */
int tk_config_find(const char *arg, char **out, struct tk_error *err);
/* SYSCONFDIR/tickler/tickler.ini, fixed at build time.  Static storage. */
const char *tk_config_system_path(void);

/* Resolve P relative to the config's folder; caller frees. */
char *tk_config_path(const struct tk_config *cfg, const char *p);

#endif
