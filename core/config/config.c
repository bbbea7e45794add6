/* config.c - the one inih adapter: core keys are checked against a table
 * while parsing, plugin sections are copied aside with their line numbers
 * (config_entries.c routes them to plugins once those are loaded). */
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "calendar/calendar.h"
#include "mail/mail.h"

/* inih's default line buffer is 200 bytes and silently splits longer lines;
 * we raise it and refuse anything longer ourselves, with FILE:LINE. */
#define LINE_MAX_CHARS 4096

enum kind {
    K_STR,      /* non-empty text */
    K_OPT,      /* text; empty means unset (NULL) */
    K_PATH,     /* K_OPT resolved against the config's folder */
    K_INT,      /* integer in [min, max] */
    K_ENUM,     /* one of choices ("a|b|c") */
    K_FROM,     /* "addr" or "Name <addr>" */
    K_PATHS,    /* folders separated by ':', each resolved as K_PATH */
    K_BOOL,     /* yes|no (also on|off, true|false) into an int */
    K_ZONE,     /* an IANA time zone the calendar module knows */
    K_WINDOW,   /* a send window spec, stored in its canonical form */
    K_HOLIDAYS, /* nl | none | FILE.ics (resolved as K_PATH) */
};

struct keydef {
    const char *section, *key;
    int kind;
    size_t off;
    int64_t min, max;
    const char *choices;
};

#define S(sec, k, kind, field)                                                                     \
    {                                                                                              \
        sec, k, kind, offsetof(struct tk_config, field), 0, 0, NULL                                \
    }
#define I(sec, k, field, lo, hi)                                                                   \
    {                                                                                              \
        sec, k, K_INT, offsetof(struct tk_config, field), lo, hi, NULL                             \
    }
#define E(sec, k, field, ch)                                                                       \
    {                                                                                              \
        sec, k, K_ENUM, offsetof(struct tk_config, field), 0, 0, ch                                \
    }

static const struct keydef keys[] = {
    E("store", "driver", store_driver, "sqlite|postgres"),
    S("store", "path", K_PATH, store_path),
    S("store", "dsn", K_OPT, store_dsn),
    S("transport", "plugin", K_STR, transport_plugin),
    S("transport", "from", K_FROM, transport_from),
    I("transport", "connections", transport_connections, 1, 64),
    S("plugins", "dir", K_PATH, plugins_dir),
    S("plugins", "path", K_PATHS, plugins_path),
    S("plugins", "allow_override", K_BOOL, plugins_allow_override),
    I("plugins", "memory_limit_mb", plugins_memory_limit_mb, 1, 65536),
    S("templates", "dir", K_PATH, templates_dir),
    S("firm", "name", K_STR, firm_name),
    S("firm", "portal_url", K_OPT, firm_portal_url),
    I("reminders", "default_every_days", default_every_days, 1, 365),
    I("reminders", "default_count", default_count, 0, 100),
    I("reminders", "escalate_after_days", escalate_after_days, 0, 3650),
    S("reminders", "digest", K_BOOL, reminders_digest),
    S("calendar", "timezone", K_ZONE, calendar_timezone),
    S("calendar", "window", K_WINDOW, calendar_window),
    S("calendar", "holidays", K_HOLIDAYS, calendar_holidays),
    I("scheduler", "poll_seconds", poll_seconds, 1, 86400),
    I("scheduler", "batch_size", batch_size, 1, 100000),
    I("delivery", "retry_base_seconds", retry_base_seconds, 1, 86400),
    I("delivery", "retry_cap_seconds", retry_cap_seconds, 1, 604800),
    I("delivery", "max_age_seconds", max_age_seconds, 60, 31536000),
    I("delivery", "max_attempts", max_attempts, 0, 1000),
    I("delivery", "lease_seconds", lease_seconds, 1, 86400),
    I("delivery", "unrecorded_max", unrecorded_max, 1, 64),
    I("retention", "message_days", retention_message_days, 0, 36500),
    S("lua", "scripts", K_PATH, lua_scripts),
    I("lua", "memory_limit_mb", lua_memory_limit_mb, 1, 4096),
    I("lua", "instruction_limit", lua_instruction_limit, 1000, 2000000000),
    I("lua", "time_limit_ms", lua_time_limit_ms, 1, 3600000),
    S("inbound", "url", K_OPT, inbound_url),
    S("inbound", "username", K_OPT, inbound_username),
    S("inbound", "password", K_OPT, inbound_password),
    I("inbound", "poll_seconds", inbound_poll_seconds, 1, 86400),
    E("inbound", "tls", inbound_tls, "none|starttls|tls"),
    S("inbound", "ca_file", K_PATH, inbound_ca_file),
    S("inbound", "done_folder", K_OPT, inbound_done_folder),
    I("inbound", "max_kb", inbound_max_kb, 1, 1048576),
    S("inbound", "secret", K_OPT, inbound_secret),
    S("inbound", "return_path", K_OPT, inbound_return_path),
    I("inbound", "reply_hold_days", inbound_reply_hold_days, 0, 365),
    S("inbound", "forward_to", K_OPT, inbound_forward_to),
    I("inbound", "suppress_after", inbound_suppress_after, 1, 100),
    I("http", "session_hours", http_session_hours, 1, 8760),
    S("log", "file", K_PATH, log_file),
    E("log", "level", log_level, "error|warn|info|debug"),
    S("http", "listen", K_OPT, http_listen),
    S("http", "tls_cert", K_PATH, http_tls_cert),
    S("http", "tls_key", K_PATH, http_tls_key),
    I("http", "max_body_kb", http_max_body_kb, 1, 65536),
    E("log", "target", log_target, "stderr|file|syslog|journal"),
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const char *const core_sections[] = {
    "store",    "plugins",   "templates", "firm", "reminders", "scheduler",
    "delivery", "retention", "lua",       "log",  "http",      "calendar",
};

int tk_config_section_reserved(const char *name)
{
    if (!name)
        return 0;
    /* [transport] is core's too: its plugin keys are routed to the active
     * transport, never to an item type that happens to be called so. */
    if (strcmp(name, "transport") == 0 || strcmp(name, "hooks") == 0)
        return 1;
    for (size_t i = 0; i < sizeof core_sections / sizeof core_sections[0]; i++)
        if (strcmp(core_sections[i], name) == 0)
            return 1;
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].section, name) == 0)
            return 1;
    return 0;
}

struct parse {
    struct tk_config *cfg;
    FILE *f;
    int line;
    int failed_line; /* first error we reported, 0: none */
    struct tk_error err;
    char seen[NKEYS];
    char *buf; /* getline buffer */
    size_t bufcap;
};

static char **str_at(struct tk_config *c, size_t off)
{
    return (char **)((char *)c + off);
}
static int *int_at(struct tk_config *c, size_t off)
{
    return (int *)((char *)c + off);
}

static int fail(struct parse *p, int code, const char *fmt, ...) TK_PRINTF(3, 4);
static int fail(struct parse *p, int code, const char *fmt, ...)
{
    char msg[TK_ERROR_MAX];
    va_list ap;
    if (p->failed_line)
        return 0;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->failed_line = p->line;
    tk_error_set(&p->err, code, "%s:%d: %s", p->cfg->path, p->line, msg);
    return 0;
}

/* Counting lines ourselves is the only way to learn them: Debian's inih is
 * built without INI_HANDLER_LINENO. */
static char *reader(char *str, int num, void *stream)
{
    struct parse *p = stream;
    ssize_t n = getline(&p->buf, &p->bufcap, p->f);
    if (n < 0)
        return NULL;
    p->line++;
    if (n >= num - 1) {
        fail(p, TK_EINVAL, "line too long (at most %d characters)", num - 3);
        n = 0; /* hand inih an empty line: nothing half-parsed */
    }
    memcpy(str, p->buf, (size_t)n);
    str[n] = '\0';
    return str;
}

static int choice_ok(const char *choices, const char *v)
{
    size_t len = strlen(v);
    const char *c = choices;
    while (*c) {
        const char *bar = strchr(c, '|');
        size_t n = bar ? (size_t)(bar - c) : strlen(c);
        if (n == len && strncmp(c, v, n) == 0)
            return 1;
        c += n + (bar ? 1 : 0);
    }
    return 0;
}

/* "addr" or "Name <addr>", with an address the mail builder can send
 * (tk_mail_check_address): refused here, with FILE:LINE, rather than by
 * every message later.  WHY gets the reason. */
static int from_ok(const char *v, struct tk_error *why)
{
    char *name = NULL, *addr = NULL;
    int rc = tk_mail_parse_address(v, &name, &addr, why);
    free(name);
    free(addr);
    return rc == 0;
}

/* "a:b/c:/d" with each folder resolved against the config's folder.  An
 * empty entry is refused: in PATH it would mean the current folder, which
 * is never where plugins should come from. */
static int set_paths(struct parse *p, const struct keydef *k, const char *v)
{
    struct tk_config *c = p->cfg;
    struct tk_buf out = {0};
    const char *s = v;
    for (;;) {
        const char *colon = strchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : strlen(s);
        char *part = tk_strndup(s, n), *abs = NULL;
        if (!part || !*part) {
            free(part);
            tk_buf_free(&out);
            if (!part)
                return fail(p, TK_ENOMEM, "out of memory");
            return fail(p, TK_EINVAL, "bad value '%s' for %s: an empty folder in the list", v,
                        k->key);
        }
        abs = tk_config_path(c, part);
        free(part);
        if (!abs || tk_buf_printf(&out, "%s%s", out.len ? ":" : "", abs)) {
            free(abs);
            tk_buf_free(&out);
            return fail(p, TK_ENOMEM, "out of memory");
        }
        free(abs);
        if (!colon)
            break;
        s = colon + 1;
    }
    free(*str_at(c, k->off));
    *str_at(c, k->off) = tk_buf_steal(&out);
    return *str_at(c, k->off) ? 1 : fail(p, TK_ENOMEM, "out of memory");
}

static int set_value(struct parse *p, const struct keydef *k, const char *v)
{
    struct tk_config *c = p->cfg;
    char *copy = NULL;
    int64_t n;

    switch (k->kind) {
    case K_INT:
        if (tk_parse_int(v, k->min, k->max, &n) != 0)
            return fail(p, TK_EINVAL,
                        "bad value '%s' for %s: expected an integer from %lld to %lld", v, k->key,
                        (long long)k->min, (long long)k->max);
        *int_at(c, k->off) = (int)n;
        return 1;
    case K_ENUM:
        if (!choice_ok(k->choices, v))
            return fail(p, TK_EINVAL, "bad value '%s' for %s: expected one of %s", v, k->key,
                        k->choices);
        break;
    case K_STR:
        if (!*v)
            return fail(p, TK_EINVAL, "bad value '' for %s: expected a non-empty value", k->key);
        break;
    case K_BOOL:
        if (choice_ok("yes|on|true", v))
            *int_at(c, k->off) = 1;
        else if (choice_ok("no|off|false", v))
            *int_at(c, k->off) = 0;
        else
            return fail(p, TK_EINVAL, "bad value '%s' for %s: expected yes or no", v, k->key);
        return 1;
    case K_PATHS:
        return set_paths(p, k, v);
    case K_ZONE:
    case K_WINDOW:
    case K_HOLIDAYS: {
        /* Checked by the calendar module that will use them, so that a
         * bad zone or window is named with FILE:LINE at startup, never
         * at the first reminder. */
        struct tk_error why = {0};
        char canon[TK_CALENDAR_WINDOW_MAX];
        int bad = k->kind == K_ZONE     ? tk_calendar_check_zone(v, &why)
                  : k->kind == K_WINDOW ? tk_calendar_check_window(v, canon, sizeof canon, &why)
                                        : tk_calendar_check_holidays(v, c->dir, &why);
        if (bad)
            return fail(p, why.code == TK_ENOMEM ? TK_ENOMEM : TK_EINVAL, "bad value for %s: %s",
                        k->key, why.msg);
        if (k->kind == K_WINDOW)
            copy = tk_strdup(canon);
        else if (k->kind == K_HOLIDAYS && strcmp(v, "nl") != 0 && strcmp(v, "none") != 0)
            copy = tk_config_path(c, v);
        else
            copy = tk_strdup(v);
        if (!copy)
            return fail(p, TK_ENOMEM, "out of memory");
        free(*str_at(c, k->off));
        *str_at(c, k->off) = copy;
        return 1;
    }
    case K_FROM: {
        struct tk_error why = {0};
        if (!from_ok(v, &why))
            /* the reason shows the address with bad bytes escaped; the
             * raw value only when it is text */
            return fail(p, why.code == TK_ENOMEM ? TK_ENOMEM : TK_EINVAL,
                        "bad value '%s' for %s: expected an address or \"Name <address>\" (%s)",
                        tk_utf8_valid(v, strlen(v)) ? v : "...", k->key, why.msg);
        break;
    }
    default:
        break;
    }
    if (*v) {
        copy = k->kind == K_PATH ? tk_config_path(c, v) : tk_strdup(v);
        if (!copy)
            return fail(p, TK_ENOMEM, "out of memory");
    }
    free(*str_at(c, k->off));
    *str_at(c, k->off) = copy;
    return 1;
}

static int add_entry(struct parse *p, const char *section, const char *name, const char *v)
{
    struct tk_config *c = p->cfg;
    struct tk_config_entry *e, *grown;
    for (size_t i = 0; i < c->nentries; i++)
        if (strcmp(c->entries[i].section, section) == 0 && strcmp(c->entries[i].key, name) == 0)
            return fail(p, TK_EINVAL, "duplicate key '%s' in [%s] (first set on line %d)", name,
                        section, c->entries[i].line);
    grown = realloc(c->entries, (c->nentries + 1) * sizeof *grown);
    if (!grown)
        return fail(p, TK_ENOMEM, "out of memory");
    c->entries = grown;
    e = &c->entries[c->nentries];
    memset(e, 0, sizeof *e);
    e->section = tk_strdup(section);
    e->key = tk_strdup(name);
    e->value = tk_strdup(v);
    e->line = p->line;
    c->nentries++;
    if (!e->section || !e->key || !e->value)
        return fail(p, TK_ENOMEM, "out of memory");
    return 1;
}

/* [hooks] NAME = SECRET: one inbound webhook each (docs/webhooks.md).  The
 * name goes into a URL path (/hooks/NAME), so it is kept to a safe
 * alphabet; the secret is never echoed in a message. */
static int add_hook(struct parse *p, const char *name, const char *v)
{
    size_t n = strlen(name);
    int ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '-' || name[i] == '_';
    if (!ok)
        return fail(p, TK_EINVAL, "bad hook name '%s' in [hooks]: 1 to 64 of a-z, 0-9, '-' and '_'",
                    tk_utf8_valid(name, n) ? name : "...");
    if (strlen(v) < 16)
        return fail(p, TK_EINVAL, "[hooks] %s: the secret must be at least 16 characters", name);
    int rc = add_entry(p, "hooks", name, v);
    if (rc == 1)
        p->cfg->entries[p->cfg->nentries - 1].used = 1; /* core's, not a plugin's */
    return rc;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    char v[LINE_MAX_CHARS];
    size_t n;

    if (p->failed_line)
        return 1; /* report the first error only */
    /* value = "quoted" keeps outer spaces; inih has already cut an inline
     * comment (whitespace then ;) before we see the quotes. */
    n = tk_strlcpy(v, value ? value : "", sizeof v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        memmove(v, v + 1, n - 2);
        v[n - 2] = '\0';
    }
    if (!*section)
        return fail(p, TK_EINVAL, "key '%s' is outside any [section]", name);
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].section, section) != 0 || strcmp(keys[i].key, name) != 0)
            continue;
        if (p->seen[i])
            return fail(p, TK_EINVAL, "duplicate key '%s' in [%s]", name, section);
        p->seen[i] = 1;
        if (strcmp(section, "plugins") == 0 &&
            (strcmp(name, "path") == 0 || strcmp(name, "dir") == 0) &&
            (p->cfg->plugins_path || p->cfg->plugins_dir))
            return fail(p, TK_EINVAL,
                        "[plugins] path and dir are both set: dir is the one-folder form of path, "
                        "keep one");
        return set_value(p, &keys[i], v);
    }
    /* Other [transport] keys belong to the transport plugin. */
    if (strcmp(section, "transport") == 0)
        return add_entry(p, section, name, v);
    if (strcmp(section, "hooks") == 0)
        return add_hook(p, name, v);
    for (size_t i = 0; i < sizeof core_sections / sizeof core_sections[0]; i++)
        if (strcmp(core_sections[i], section) == 0)
            return fail(p, TK_EINVAL, "unknown key '%s' in [%s]", name, section);
    return add_entry(p, section, name, v);
}

static int set_defaults(struct tk_config *c)
{
    c->store_driver = tk_strdup("sqlite");
    c->transport_plugin = tk_strdup("file");
    c->transport_from = tk_strdup("tickler <tickler@localhost>");
    c->firm_name = tk_strdup("Your accountant");
    c->log_level = tk_strdup("info");
    c->transport_connections = 1;
    c->default_every_days = 3;
    c->default_count = 1;
    c->escalate_after_days = 3;
    c->poll_seconds = 60;
    c->batch_size = 500;
    c->retry_base_seconds = 30;
    c->retry_cap_seconds = 3600;
    c->max_age_seconds = 3 * 86400;
    c->max_attempts = 0;
    c->lease_seconds = 300;
    c->unrecorded_max = 8;
    c->retention_message_days = 400;
    c->lua_memory_limit_mb = 16;
    c->lua_instruction_limit = 50000000;
    c->lua_time_limit_ms = 1000;
    c->plugins_memory_limit_mb = 64;
    c->http_session_hours = 12;
    c->http_max_body_kb = 256;
    c->inbound_poll_seconds = 60;
    c->inbound_max_kb = 10240;
    c->inbound_reply_hold_days = 7;
    c->inbound_suppress_after = 1;
    return c->store_driver && c->transport_plugin && c->transport_from && c->firm_name &&
                   c->log_level
               ? 0
               : TK_ENOMEM;
}

/* The config's folder as an absolute path, so that resolved paths stay
 * right after a chdir (the daemon). */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char cwd[4096];
    char *rel =
        slash ? tk_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : tk_strdup(".");
    char *abs;
    if (!rel || rel[0] == '/')
        return rel;
    if (!getcwd(cwd, sizeof cwd)) {
        return rel;
    }
    abs = strcmp(rel, ".") == 0 ? tk_strdup(cwd) : tk_strprintf("%s/%s", cwd, rel);
    free(rel);
    return abs;
}

static int parse_file(struct tk_config *c, FILE *f, struct tk_error *err)
{
    struct parse p;
    bool old_ml = ini_allow_multiline, old_stack = ini_use_stack;
    int old_max = ini_max_line, old_init = ini_initial_alloc, rc;

    memset(&p, 0, sizeof p);
    p.cfg = c;
    p.f = f;
    /* Indented lines are ordinary lines here, not continuations that would
     * look like duplicate keys. */
    ini_allow_multiline = false;
    ini_use_stack = false;
    ini_max_line = ini_initial_alloc = LINE_MAX_CHARS;
    rc = ini_parse_stream(reader, &p, handler, &p);
    ini_allow_multiline = old_ml;
    ini_use_stack = old_stack;
    ini_max_line = old_max;
    ini_initial_alloc = old_init;
    free(p.buf);

    if (rc == -2)
        return tk_error_set(err, TK_ENOMEM, "out of memory reading %s", c->path);
    if (rc > 0 && (!p.failed_line || rc < p.failed_line))
        return tk_error_set(err, TK_EINVAL,
                            "%s:%d: syntax error: expected [section] or key = value", c->path, rc);
    if (p.failed_line) {
        if (err)
            *err = p.err;
        return p.err.code;
    }
    if (ferror(f))
        return tk_error_set(err, TK_EIO, "cannot read %s: %s", c->path, strerror(errno));
    return 0;
}

int tk_config_load(const char *path, int allow_missing, struct tk_config *out, struct tk_error *err)
{
    FILE *f;
    const char *dsn;
    int rc;

    memset(out, 0, sizeof *out);
    if (!path)
        return tk_error_set(err, TK_EINVAL, "no configuration file given");
    out->path = tk_strdup(path);
    out->dir = out->path ? folder_of(path) : NULL;
    if (!out->dir || set_defaults(out) != 0)
        return tk_error_set(err, TK_ENOMEM, "out of memory");

    f = fopen(path, "r");
    if (!f) {
        if (!(allow_missing && errno == ENOENT))
            return tk_error_set(err, TK_EIO, "cannot read %s: %s", path, strerror(errno));
    } else {
        rc = parse_file(out, f, err);
        fclose(f);
        if (rc != 0)
            return rc;
    }

    if (!out->store_path && !(out->store_path = tk_config_path(out, "tickler.db")))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    dsn = getenv("TICKLER_DSN");
    if (dsn && *dsn) {
        free(out->store_dsn);
        if (!(out->store_dsn = tk_strdup(dsn)))
            return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    if (out->log_target && strcmp(out->log_target, "file") == 0 && !out->log_file)
        return tk_error_set(err, TK_EINVAL, "%s: [log] target = file needs [log] file", path);
    if (out->retry_cap_seconds < out->retry_base_seconds)
        return tk_error_set(err, TK_EINVAL,
                            "%s: retry_cap_seconds (%d) is less than retry_base_seconds (%d)", path,
                            out->retry_cap_seconds, out->retry_base_seconds);
    return 0;
}

void tk_config_free(struct tk_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].kind != K_INT && keys[i].kind != K_BOOL)
            free(*str_at(cfg, keys[i].off));
    for (size_t i = 0; i < cfg->nentries; i++) {
        free(cfg->entries[i].section);
        free(cfg->entries[i].key);
        free(cfg->entries[i].value);
    }
    free(cfg->entries);
    free(cfg->path);
    free(cfg->dir);
    memset(cfg, 0, sizeof *cfg);
}

char *tk_config_path(const struct tk_config *cfg, const char *p)
{
    if (!p)
        return NULL;
    if (p[0] == '/' || !cfg || !cfg->dir)
        return tk_strdup(p);
    return tk_strprintf("%s/%s", cfg->dir, p);
}
