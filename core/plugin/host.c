/* host.c - the services each plugin gets through its struct tk_host.  One
 * struct per plugin, so that host_data can say whose log line, config
 * lookup or allocation (alloc.c) it is without the plugin passing its
 * name. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "plugin.h"
#include "template/template.h"

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

static volatile int *stop_flag;

void tk_plugin_set_stop(volatile int *flag)
{
    __atomic_store_n(&stop_flag, flag, __ATOMIC_RELAXED);
}

static int host_stopping(const struct tk_host *h)
{
    volatile int *f = __atomic_load_n(&stop_flag, __ATOMIC_RELAXED);
    (void)h;
    return f && __atomic_load_n(f, __ATOMIC_RELAXED) != 0;
}

static const char *name_of(const struct tk_plugin *p)
{
    return p && p->hdr && p->hdr->name ? p->hdr->name : "plugin";
}

static void emit(const struct tk_plugin *p, int level, const char *fmt, va_list ap) TK_PRINTF(3, 0);
static void emit(const struct tk_plugin *p, int level, const char *fmt, va_list ap)
{
    char msg[TK_ERROR_MAX];
    if (level > log_level)
        return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (log_fn)
        log_fn(log_data, level, name_of(p), msg);
    else
        fprintf(stderr, "tickler: %s: %s\n", name_of(p), msg);
}

void tk_plugin_log(const struct tk_plugin *p, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(p, level, fmt, ap);
    va_end(ap);
}

static void host_log(const struct tk_host *h, int level, const char *fmt, ...) TK_PRINTF(3, 4);
static void host_log(const struct tk_host *h, int level, const char *fmt, ...)
{
    struct tk_plugin *p = h ? h->host_data : NULL;
    va_list ap;
    /* whatever the level: a snapshot of the plugin set is never taken
     * when a plugin logs (tk_registry_snapshot_save) */
    if (p)
        __atomic_add_fetch(&p->logged, 1, __ATOMIC_RELAXED);
    va_start(ap, fmt);
    emit(h ? h->host_data : NULL, level, fmt, ap);
    va_end(ap);
}

/* Read-only lookup: transports call this from several threads at once.
 * The loader already marked the plugin's keys used when it claimed its
 * section. */
static const char *host_config_get(const struct tk_host *h, const char *key)
{
    const struct tk_plugin *p = h ? h->host_data : NULL;
    if (!p || !p->cfg)
        return NULL;
    /* A transport's keys live in [transport], an item type's in [NAME]. */
    return tk_config_plugin_find(p->cfg, p->transport ? "transport" : p->hdr->name, key);
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

static const char *language_of(struct tk_item_ctx *ctx)
{
    return ctx && ctx->facts ? tk_kv_get(ctx->facts, "language") : NULL;
}

static int host_format_date(struct tk_item_ctx *ctx, const char *date, char *out, size_t size,
                            struct tk_error *err)
{
    return tk_format_date(language_of(ctx), date, out, size, err);
}

static int host_format_amount(struct tk_item_ctx *ctx, const char *amount, const char *currency,
                              char *out, size_t size, struct tk_error *err)
{
    return tk_format_amount(language_of(ctx), amount, currency, out, size, err);
}

static int host_check_template(const struct tk_host *h, const char *text, const char *origin,
                               struct tk_error *err)
{
    struct tk_template t;
    int rc;
    if (!text)
        return tk_error_set(err, TK_EINVAL, "%s: no template text", origin ? origin : "template");
    rc = tk_template_parse(text, strlen(text), origin ? origin : "template", &t, err);
    if (rc == 0)
        tk_template_free(&t);
    return rc;
}

void tk_plugin_host_init(struct tk_plugin *p)
{
    struct tk_host *h = &p->host;
    memset(h, 0, sizeof *h);
    h->size = (uint32_t)sizeof *h;
    h->abi_major = TK_ABI_MAJOR;
    h->abi_minor = TK_ABI_MINOR;
    /* ABI 1.0 */
    h->log = host_log;
    h->config_get = host_config_get;
    h->alloc = tk_plugin_alloc;
    h->realloc = tk_plugin_realloc;
    h->free = tk_plugin_free;
    h->field_get = host_field_get;
    h->field_set = host_field_set;
    h->var_set = host_var_set;
    h->item_get = host_item_get;
    h->sequence_next = host_sequence_next;
    h->error_set = host_error_set;
    h->host_data = p;
    h->config_dir = p->cfg ? p->cfg->dir : NULL;
    /* ABI 1.1 */
    h->format_date = host_format_date;
    h->format_amount = host_format_amount;
    h->check_template = host_check_template;
    h->stopping = host_stopping;
#ifdef TK_TEST_ABI_GROWTH
    h->test_growth = "grown";
#endif
    p->mem_limit =
        (size_t)(p->cfg && p->cfg->plugins_memory_limit_mb > 0 ? p->cfg->plugins_memory_limit_mb
                                                               : 64)
        << 20;
}
