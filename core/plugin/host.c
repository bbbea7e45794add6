/* host.c - the services each plugin gets through its struct tk_host.  One
 * struct per plugin, so that host_data can say whose log line or config
 * lookup it is without the plugin passing its name. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "plugin.h"

static int log_level = TK_LOG_INFO;
static tk_plugin_log_fn log_fn;
static void *log_data;

void tk_plugin_log_configure(int level, tk_plugin_log_fn fn, void *data)
{
    log_level = level;
    log_fn = fn;
    log_data = data;
}

void tk_plugin_log_set_level(int level)
{
    log_level = level;
}

int tk_log_level_parse(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static const char *plugin_name(const struct tk_host *h)
{
    const struct tk_plugin *p = h ? h->host_data : NULL;
    return p && p->hdr && p->hdr->name ? p->hdr->name : "plugin";
}

static void host_log(const struct tk_host *h, int level, const char *fmt, ...)
{
    char msg[TK_ERROR_MAX];
    va_list ap;
    if (level > log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_fn)
        log_fn(log_data, level, plugin_name(h), msg);
    else
        fprintf(stderr, "tickler: %s: %s\n", plugin_name(h), msg);
}

static const char *host_config_get(const struct tk_host *h, const char *key)
{
    const struct tk_plugin *p = h ? h->host_data : NULL;
    if (!p || !p->cfg)
        return NULL;
    /* A transport's keys live in [transport], an item type's in [NAME]. */
    return tk_config_plugin_get(p->cfg, p->transport ? "transport" : p->hdr->name, key);
}

/* The malloc family for now; the indirection is what lets the host count
 * and cap plugin memory later without touching any plugin. */
static void *host_alloc(const struct tk_host *h, size_t n)
{
    return malloc(n);
}
static void *host_realloc(const struct tk_host *h, void *ptr, size_t n)
{
    return realloc(ptr, n);
}
static void host_free(const struct tk_host *h, void *ptr)
{
    free(ptr);
}

static const char *host_field_get(struct tk_item_ctx *ctx, const char *name)
{
    return ctx && ctx->fields && name ? tk_kv_get(ctx->fields, name) : NULL;
}

static int host_field_set(struct tk_item_ctx *ctx, const char *name, const char *value,
                          struct tk_error *err)
{
    if (!ctx || !ctx->fields || !name || ctx->phase != 1)
        return tk_error_set(err, TK_EINVAL, "field_set is only allowed in prepare()");
    if (tk_kv_set(ctx->fields, name, value) != 0)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    return 0;
}

static int host_var_set(struct tk_item_ctx *ctx, const char *name, const char *value,
                        struct tk_error *err)
{
    char key[256];
    if (!ctx || !ctx->vars || !name || ctx->phase != 2)
        return tk_error_set(err, TK_EINVAL, "var_set is only allowed in vars()");
    if ((size_t)snprintf(key, sizeof key, "%s.%s", ctx->type ? ctx->type : "", name) >= sizeof key)
        return tk_error_set(err, TK_EINVAL, "variable name too long: %s", name);
    if (tk_kv_set(ctx->vars, key, value ? value : "") != 0)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    return 0;
}

static const char *host_item_get(struct tk_item_ctx *ctx, const char *what)
{
    return ctx && ctx->facts && what ? tk_kv_get(ctx->facts, what) : NULL;
}

static int host_sequence_next(struct tk_item_ctx *ctx, const char *name, int64_t *out,
                              struct tk_error *err)
{
    if (!ctx || !name || !out || ctx->phase != 1)
        return tk_error_set(err, TK_EINVAL, "sequence_next is only allowed in prepare()");
    if (!ctx->seq_next)
        return tk_error_set(err, TK_ERR, "no counters available here");
    return ctx->seq_next(ctx->engine, ctx->type, name, out, err);
}

static int host_error_set(struct tk_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tk_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void tk_plugin_host_init(struct tk_plugin *p)
{
    struct tk_host *h = &p->host;
    memset(h, 0, sizeof *h);
    h->size = (uint32_t)sizeof *h;
    h->abi_major = TK_ABI_MAJOR;
    h->abi_minor = TK_ABI_MINOR;
    h->log = host_log;
    h->config_get = host_config_get;
    h->alloc = host_alloc;
    h->realloc = host_realloc;
    h->free = host_free;
    h->field_get = host_field_get;
    h->field_set = host_field_set;
    h->var_set = host_var_set;
    h->item_get = host_item_get;
    h->sequence_next = host_sequence_next;
    h->error_set = host_error_set;
    h->host_data = p;
    h->config_dir = p->cfg ? p->cfg->dir : NULL;
}
