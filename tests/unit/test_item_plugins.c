/*
 * test_item_plugins.c - the six built-in item types, loaded for real with
 * dlopen from $TK_PLUGIN_DIR, checked against the contract the engine, the
 * Lua layer and the docs rely on: descriptor header, exported symbols,
 * event names and final states, fields, embedded templates (both
 * languages, parsed and rendered by the real template module) and the
 * callbacks, driven through a fake struct tk_host.
 */
#include <dlfcn.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/template.h"
#include "tickler/item.h"
#include "tk_test.h"

/* ---- the contract -------------------------------------------------------- */

struct ev {
    const char *name, *final_state; /* final NULL: the item stays pending */
};

struct named {
    const char *name;
    int every_days, count;
};

struct contract {
    const char *type, *verb;
    struct ev events[5];
    const char *sections[6]; /* beyond notification/reminder/resend */
    struct named named;      /* the template carrying reminder defaults (R8) */
};

static const struct contract contracts[] = {
    {"organizer",
     "create_organizer",
     {{"submitted", "submitted"}, {"sealed", "sealed"}, {"opened", NULL}},
     {NULL},
     {"annual", 5, 3}},
    {"proposal",
     "send_proposal",
     {{"signed", "signed"}, {"declined", "declined"}, {"viewed", NULL}},
     {NULL},
     {"engagement", 2, 2}},
    {"invoice",
     "create_invoice",
     {{"paid", "paid"}, {"partially-paid", NULL}, {"voided", "void"}, {"viewed", NULL}},
     {"copy", NULL},
     {"payment-reminders", 7, 3}},
    {"chat",
     "send_message",
     {{"replied", "answered"}, {"tasks-done", "done"}, {"read", NULL}},
     {NULL},
     {"welcome", 3, 1}},
    {"signature",
     "request_signature",
     {{"signed", "signed"}, {"declined", "declined"}, {"viewed", NULL}},
     {NULL},
     {"engagement-letter", 2, 3}},
    {"approval",
     "request_approval",
     {{"approved", "approved"}, {"rejected", "rejected"}, {"viewed", NULL}},
     {"request", NULL},
     {"financial-statements", 3, 2}},
};
#define NTYPES (sizeof contracts / sizeof contracts[0])

static const char *const langs[] = {"en", "nl"};

/* ---- a fake host ----------------------------------------------------------- */

struct tk_item_ctx {
    struct tk_kv fields, vars, facts;
    const char *type;
    int64_t seq;
};

static const char *cfg_prefix; /* [invoice] number_prefix */
static int live_allocs;

static void h_log(const struct tk_host *h, int level, const char *fmt, ...)
{
    (void)h, (void)level, (void)fmt;
}
static const char *h_config_get(const struct tk_host *h, const char *key)
{
    return strcmp(key, "number_prefix") == 0 ? cfg_prefix : NULL;
}
static void *h_alloc(const struct tk_host *h, size_t n)
{
    void *p = malloc(n);
    live_allocs += p != NULL;
    return p;
}
static void *h_realloc(const struct tk_host *h, void *p, size_t n)
{
    return realloc(p, n);
}
static void h_free(const struct tk_host *h, void *p)
{
    live_allocs -= p != NULL;
    free(p);
}
static const char *h_field_get(struct tk_item_ctx *ctx, const char *name)
{
    return tk_kv_get(&ctx->fields, name);
}
static int h_field_set(struct tk_item_ctx *ctx, const char *name, const char *value,
                       struct tk_error *err)
{
    return tk_kv_set(&ctx->fields, name, value) ? tk_error_set(err, TK_ENOMEM, "oom") : 0;
}
static int h_var_set(struct tk_item_ctx *ctx, const char *name, const char *value,
                     struct tk_error *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", ctx->type, name);
    return tk_kv_set(&ctx->vars, key, value) ? tk_error_set(err, TK_ENOMEM, "oom") : 0;
}
static const char *h_item_get(struct tk_item_ctx *ctx, const char *what)
{
    return tk_kv_get(&ctx->facts, what);
}
static int h_sequence_next(struct tk_item_ctx *ctx, const char *name, int64_t *out,
                           struct tk_error *err)
{
    if (strcmp(name, "number") != 0)
        return tk_error_set(err, TK_EINVAL, "unexpected sequence %s", name);
    *out = ++ctx->seq;
    return 0;
}
static int h_error_set(struct tk_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tk_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

/* ABI 1.1: the real formatting of core, in the fake item's language. */
static int h_format_date(struct tk_item_ctx *ctx, const char *date, char *out, size_t size,
                         struct tk_error *err)
{
    return tk_format_date(ctx ? tk_kv_get(&ctx->facts, "language") : NULL, date, out, size, err);
}
static int h_format_amount(struct tk_item_ctx *ctx, const char *amount, const char *currency,
                           char *out, size_t size, struct tk_error *err)
{
    return tk_format_amount(ctx ? tk_kv_get(&ctx->facts, "language") : NULL, amount, currency, out,
                            size, err);
}
static int h_check_template(const struct tk_host *h, const char *text, const char *origin,
                            struct tk_error *err)
{
    struct tk_template t;
    int rc = tk_template_parse(text, strlen(text), origin, &t, err);
    if (rc == 0)
        tk_template_free(&t);
    return rc;
}

static const struct tk_host host = {
    .size = sizeof(struct tk_host),
    .abi_major = TK_ABI_MAJOR,
    .abi_minor = TK_ABI_MINOR,
    .log = h_log,
    .config_get = h_config_get,
    .alloc = h_alloc,
    .realloc = h_realloc,
    .free = h_free,
    .field_get = h_field_get,
    .field_set = h_field_set,
    .var_set = h_var_set,
    .item_get = h_item_get,
    .sequence_next = h_sequence_next,
    .error_set = h_error_set,
    .format_date = h_format_date,
    .format_amount = h_format_amount,
    .check_template = h_check_template,
};

static void ctx_init(struct tk_item_ctx *c, const char *type, const char *state, const char *lang)
{
    memset(c, 0, sizeof *c);
    c->type = type;
    tk_kv_set(&c->facts, "state", state);
    tk_kv_set(&c->facts, "language", lang);
    tk_kv_set(&c->facts, "type", type);
}

static void ctx_free(struct tk_item_ctx *c)
{
    tk_kv_free(&c->fields);
    tk_kv_free(&c->vars);
    tk_kv_free(&c->facts);
}

/* ---- loading ---------------------------------------------------------------- */

static void *handles[NTYPES];
static const struct tk_item_type *types[NTYPES];

static void load_all(void)
{
    const char *dir = getenv("TK_PLUGIN_DIR");
    size_t i;
    for (i = 0; i < NTYPES; i++) {
        char path[4096];
        tk_plugin_entry_fn entry;
        snprintf(path, sizeof path, "%s/%s.so", dir ? dir : ".", contracts[i].type);
        handles[i] = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!handles[i]) {
            fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
            continue;
        }
        *(void **)&entry = dlsym(handles[i], TK_PLUGIN_ENTRY_NAME);
        if (entry)
            types[i] = (const struct tk_item_type *)entry();
    }
}

static const struct tk_item_type *type_of(const char *name)
{
    size_t i;
    for (i = 0; i < NTYPES; i++)
        if (strcmp(contracts[i].type, name) == 0)
            return types[i];
    return NULL;
}

/* ---- tests ------------------------------------------------------------------ */

TK_TEST(test_all_load)
{
    size_t i;
    for (i = 0; i < NTYPES; i++) {
        TK_CHECK(handles[i] != NULL);
        TK_CHECK(types[i] != NULL);
    }
}

TK_TEST(test_headers)
{
    size_t i;
    for (i = 0; i < NTYPES; i++) {
        const struct tk_item_type *t = types[i];
        if (!t)
            continue;
        TK_CHECK_INT(t->hdr.abi_major, TK_ABI_MAJOR);
        TK_CHECK(t->hdr.abi_minor <= TK_ABI_MINOR);
        TK_CHECK_INT(t->hdr.size, sizeof(struct tk_item_type));
        TK_CHECK_INT(t->hdr.kind, TK_PLUGIN_ITEM);
        TK_CHECK_STR(t->hdr.name, contracts[i].type);
        TK_CHECK(t->hdr.version && *t->hdr.version);
        TK_CHECK(t->hdr.description && *t->hdr.description);
        TK_CHECK_STR(t->lua_verb, contracts[i].verb);
    }
}

/* Only the entry may be visible: nothing internal may bind to the host's or
 * another plugin's symbols (lesson 1 of docs/style). */
TK_TEST(test_only_entry_exported)
{
    static const char *const internal[] = {
        "item_state_init",  "item_state_fini", "invoice_section",      "invoice_prepare",
        "proposal_prepare", "chat_vars",       "tk_templates_invoice", NULL};
    const char *dir = getenv("TK_PLUGIN_DIR");
    size_t i, k;
    for (i = 0; i < NTYPES; i++) {
        char cmd[4200], line[512];
        FILE *p;
        int n = 0, entry = 0;
        if (!handles[i])
            continue;
        for (k = 0; internal[k]; k++)
            TK_CHECK(dlsym(handles[i], internal[k]) == NULL);
        snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s/%s.so' 2>/dev/null", dir ? dir : ".",
                 contracts[i].type);
        p = popen(cmd, "r");
        if (!p)
            continue;
        while (fgets(line, sizeof line, p)) {
            char addr[64], kind[8], name[256];
            if (sscanf(line, "%63s %7s %255s", addr, kind, name) != 3)
                continue;
            n++;
            if (strcmp(name, TK_PLUGIN_ENTRY_NAME) == 0)
                entry = 1;
            else
                fprintf(stderr, "%s.so exports %s\n", contracts[i].type, name);
        }
        if (pclose(p) == 0) {
            TK_CHECK_INT(n, 1);
            TK_CHECK(entry);
        }
    }
}

TK_TEST(test_events)
{
    size_t i, k, n;
    for (i = 0; i < NTYPES; i++) {
        const struct tk_item_type *t = types[i];
        if (!t)
            continue;
        for (n = 0; t->events[n].name; n++)
            ;
        for (k = 0; contracts[i].events[k].name; k++) {
            const struct tk_event_spec *e;
            for (e = t->events; e->name; e++)
                if (strcmp(e->name, contracts[i].events[k].name) == 0)
                    break;
            TK_CHECK(e->name != NULL);
            if (!e->name) {
                fprintf(stderr, "%s: no event %s\n", t->hdr.name, contracts[i].events[k].name);
                continue;
            }
            if (contracts[i].events[k].final_state)
                TK_CHECK_STR(e->final_state, contracts[i].events[k].final_state);
            else
                TK_CHECK(e->final_state == NULL);
            TK_CHECK(e->description && *e->description);
        }
        TK_CHECK_INT(n, k);
    }
}

TK_TEST(test_fields_and_bulk)
{
    const struct tk_item_type *inv = type_of("invoice"), *ap = type_of("approval");
    const struct tk_field_spec *f;
    int seen = 0;
    if (inv) {
        for (f = inv->fields; f->name; f++) {
            if (strcmp(f->name, "amount") == 0) {
                TK_CHECK_INT(f->kind, TK_FIELD_AMOUNT);
                TK_CHECK(f->flags & TK_FIELD_REQUIRED);
                seen++;
            } else if (strcmp(f->name, "currency") == 0) {
                TK_CHECK_INT(f->kind, TK_FIELD_CURRENCY);
                TK_CHECK(f->flags & TK_FIELD_REQUIRED);
                seen++;
            } else if (strcmp(f->name, "number") == 0) {
                /* assigned in prepare, so it must not be required up front */
                TK_CHECK(!(f->flags & TK_FIELD_REQUIRED));
                seen++;
            }
        }
        TK_CHECK_INT(seen, 3);
        TK_CHECK(inv->bulk == NULL);
    }
    if (ap) {
        TK_CHECK(ap->bulk != NULL);
        if (ap->bulk) {
            TK_CHECK_STR(ap->bulk[0].command, "request-approvals");
            TK_CHECK_STR(ap->bulk[0].section, "request");
            TK_CHECK(ap->bulk[1].command == NULL);
        }
    }
}

static const struct tk_template_text *find_text(const struct tk_item_type *t, const char *lang,
                                                const char *name)
{
    const struct tk_template_text *x;
    for (x = t->templates; x && x->lang; x++)
        if (strcmp(x->lang, lang) == 0 && strcmp(x->name, name) == 0)
            return x;
    return NULL;
}

/* Render every section with every variable set, then with the optional
 * ones empty: no placeholder may survive, and the body must mention what
 * the client needs. */
static void check_render(const char *origin, const struct tk_template_section *s)
{
    static const char *const full[][2] = {
        {"firm.name", "Bakker & Co"},
        {"firm.portal_url", "https://portal.example"},
        {"account.name", "Acme BV"},
        {"contact.name", "Ann"},
        {"item.title", "2026 income tax"},
        {"item.id", "7"},
        {"invoice.number", "INV-000001"},
        {"invoice.amount_text", "\xe2\x82\xac"
                                "450.00"},
        {"invoice.due_text", "31 December 2026"},
        /* the invoice's vars() always sets the balance (issue 14) */
        {"invoice.balance_text", "\xe2\x82\xac"
                                 "450.00"},
        {"items", "- Annual accounts 2026"},
        {"message", "Please approve before Friday."},
    };
    struct tk_kv vars = {0};
    struct tk_buf out = {0};
    struct tk_error err = {0};
    size_t i;
    for (i = 0; i < sizeof full / sizeof full[0]; i++)
        tk_kv_set(&vars, full[i][0], full[i][1]);
    TK_CHECK_INT(tk_template_render(s->subject, &vars, &out, &err), 0);
    TK_CHECK(out.len > 0);
    TK_CHECK_INT(tk_template_render(s->body, &vars, &out, &err), 0);
    TK_CHECK(out.data && !strstr(out.data, "{{"));
    TK_CHECK(out.data && strstr(out.data, "Ann"));
    TK_CHECK(out.data && strstr(out.data, "Bakker & Co"));
    TK_CHECK(out.data && strstr(out.data, "https://portal.example"));
    if (strcmp(s->name, "request") == 0) {
        TK_CHECK(out.data && strstr(out.data, "- Annual accounts 2026"));
        TK_CHECK(out.data && strstr(out.data, "Please approve before Friday."));
    }
    if (out.data && strstr(out.data, "{{"))
        fprintf(stderr, "%s [%s]: placeholder left\n", origin, s->name);
    tk_buf_reset(&out);
    /* without a portal URL no dangling "portal: " may remain */
    tk_kv_set(&vars, "firm.portal_url", NULL);
    TK_CHECK_INT(tk_template_render(s->body, &vars, &out, &err), 0);
    TK_CHECK(out.data && !strstr(out.data, ": \n") && !strstr(out.data, ": .") &&
             !strstr(out.data, ":  "));
    TK_CHECK(out.data && !strstr(out.data, "https://portal.example"));
    tk_buf_free(&out);
    tk_kv_free(&vars);
}

static void check_template(const struct contract *c, const struct tk_item_type *t, const char *lang,
                           const char *name, int named)
{
    const struct tk_template_text *x = find_text(t, lang, name);
    struct tk_template tp;
    struct tk_error err = {0};
    char origin[128];
    const char *base[] = {"notification", "reminder", "resend"};
    size_t k;
    snprintf(origin, sizeof origin, "plugin %s (%s) %s", c->type, lang, name);
    TK_CHECK(x != NULL);
    if (!x) {
        fprintf(stderr, "missing template %s\n", origin);
        return;
    }
    TK_CHECK(tk_utf8_valid(x->text, strlen(x->text)));
    if (tk_template_parse(x->text, strlen(x->text), origin, &tp, &err) != 0) {
        fprintf(stderr, "%s: %s\n", origin, err.msg);
        TK_CHECK(!"template parses");
        return;
    }
    TK_CHECK(tp.description && *tp.description);
    for (k = 0; k < 3; k++)
        TK_CHECK(tk_template_section(&tp, base[k]) != NULL);
    for (k = 0; c->sections[k]; k++)
        TK_CHECK(tk_template_section(&tp, c->sections[k]) != NULL);
    {
        /* the tone ladder's steps ([reminder.N], [reminder.last]) come on
         * top; the shipped invoice and organizer reminder templates have
         * friendly, firm and final */
        size_t steps = 0;
        for (size_t s = 0; s < tp.nsections; s++)
            steps += strncmp(tp.sections[s].name, "reminder.", 9) == 0;
        TK_CHECK_INT(tp.nsections - steps, 3 + k);
        if (named && (strcmp(c->type, "invoice") == 0 || strcmp(c->type, "organizer") == 0)) {
            TK_CHECK_INT(steps, 3);
            TK_CHECK(tk_template_section(&tp, "reminder.1") != NULL);
            TK_CHECK(tk_template_section(&tp, "reminder.2") != NULL);
            TK_CHECK(tk_template_section(&tp, "reminder.last") != NULL);
        }
    }
    for (k = 0; k < tp.nsections; k++) {
        TK_CHECK(tp.sections[k].subject && *tp.sections[k].subject);
        TK_CHECK(tp.sections[k].body && strlen(tp.sections[k].body) > 40);
        check_render(origin, &tp.sections[k]);
    }
    if (named) {
        /* R8: the named template carries reminder defaults */
        TK_CHECK(tp.has_reminders);
        TK_CHECK_INT(tp.rem_enabled, 1);
        TK_CHECK_INT(tp.rem_every_days, c->named.every_days);
        TK_CHECK_INT(tp.rem_count, c->named.count);
    } else {
        /* default: reminders stay off unless asked */
        TK_CHECK(!tp.has_reminders || tp.rem_enabled != 1);
    }
    tk_template_free(&tp);
}

TK_TEST(test_templates)
{
    size_t i, l;
    for (i = 0; i < NTYPES; i++) {
        const struct tk_item_type *t = types[i];
        const struct tk_template_text *x;
        if (!t)
            continue;
        TK_CHECK(t->templates != NULL);
        for (l = 0; l < 2; l++) {
            check_template(&contracts[i], t, langs[l], "default", 0);
            check_template(&contracts[i], t, langs[l], contracts[i].named.name, 1);
        }
        /* every template exists in both languages */
        for (x = t->templates; x && x->lang; x++)
            TK_CHECK(find_text(t, strcmp(x->lang, "en") == 0 ? "nl" : "en", x->name) != NULL);
    }
}

static void *init_type(const struct tk_item_type *t)
{
    void *st = NULL;
    struct tk_error err = {0};
    if (t->init && t->init(&host, &st, &err) != 0) {
        fprintf(stderr, "%s init: %s\n", t->hdr.name, err.msg);
        TK_CHECK(!"init succeeds");
    }
    return st;
}

TK_TEST(test_invoice_section)
{
    const struct tk_item_type *t = type_of("invoice");
    struct tk_item_ctx ctx;
    void *st;
    if (!t)
        return;
    TK_CHECK(t->section != NULL);
    st = init_type(t);
    ctx_init(&ctx, "invoice", "pending", "en");
    TK_CHECK_STR(t->section(st, &ctx, "notification"), "notification");
    TK_CHECK_STR(t->section(st, &ctx, "reminder"), "reminder");
    TK_CHECK_STR(t->section(st, &ctx, "resend"), "resend");
    ctx_free(&ctx);
    /* R3: a paid invoice goes out as a copy, never as a payment reminder */
    ctx_init(&ctx, "invoice", "paid", "en");
    TK_CHECK_STR(t->section(st, &ctx, "resend"), "copy");
    TK_CHECK(t->section(st, &ctx, "reminder") == NULL);
    ctx_free(&ctx);
    ctx_init(&ctx, "invoice", "void", "en");
    TK_CHECK(t->section(st, &ctx, "resend") == NULL);
    TK_CHECK(t->section(st, &ctx, "reminder") == NULL);
    ctx_free(&ctx);
    if (t->fini)
        t->fini(st);
    TK_CHECK_INT(live_allocs, 0);
}

TK_TEST(test_invoice_prepare_and_vars)
{
    const struct tk_item_type *t = type_of("invoice");
    struct tk_item_ctx ctx;
    struct tk_error err = {0};
    void *st;
    if (!t)
        return;
    cfg_prefix = NULL;
    st = init_type(t);
    ctx_init(&ctx, "invoice", "pending", "en");
    tk_kv_set(&ctx.fields, "amount", "450");
    tk_kv_set(&ctx.fields, "currency", "EUR");
    tk_kv_set(&ctx.fields, "due_date", "2026-12-31");
    TK_CHECK_INT(t->prepare(st, &ctx, &err), 0);
    TK_CHECK_STR(tk_kv_get(&ctx.fields, "number"), "INV-000001");
    TK_CHECK_INT(t->vars(st, &ctx, &err), 0);
    TK_CHECK_STR(tk_kv_get(&ctx.vars, "invoice.amount_text"), "\xe2\x82\xac"
                                                              "450.00");
    TK_CHECK_STR(tk_kv_get(&ctx.vars, "invoice.due_text"), "31 December 2026");
    /* a second invoice takes the next number; a given number is kept */
    tk_kv_set(&ctx.fields, "number", NULL);
    TK_CHECK_INT(t->prepare(st, &ctx, &err), 0);
    TK_CHECK_STR(tk_kv_get(&ctx.fields, "number"), "INV-000002");
    tk_kv_set(&ctx.fields, "number", "2026/17");
    TK_CHECK_INT(t->prepare(st, &ctx, &err), 0);
    TK_CHECK_STR(tk_kv_get(&ctx.fields, "number"), "2026/17");
    TK_CHECK_INT(ctx.seq, 2);
    ctx_free(&ctx);
    /* Dutch formatting */
    ctx_init(&ctx, "invoice", "pending", "nl");
    tk_kv_set(&ctx.fields, "amount", "1234.5");
    tk_kv_set(&ctx.fields, "currency", "EUR");
    tk_kv_set(&ctx.fields, "due_date", "2027-03-01");
    TK_CHECK_INT(t->vars(st, &ctx, &err), 0);
    TK_CHECK_STR(tk_kv_get(&ctx.vars, "invoice.amount_text"), "\xe2\x82\xac 1.234,50");
    TK_CHECK_STR(tk_kv_get(&ctx.vars, "invoice.due_text"), "1 maart 2027");
    ctx_free(&ctx);
    t->fini(st);

    /* the configured prefix */
    cfg_prefix = "F";
    st = init_type(t);
    ctx_init(&ctx, "invoice", "pending", "en");
    ctx.seq = 41;
    TK_CHECK_INT(t->prepare(st, &ctx, &err), 0);
    TK_CHECK_STR(tk_kv_get(&ctx.fields, "number"), "F000042");
    ctx_free(&ctx);
    t->fini(st);

    /* a prefix with a space is refused at init, with the key named */
    cfg_prefix = "INV 2026-";
    st = NULL;
    TK_CHECK(t->init(&host, &st, &err) != 0);
    TK_CHECK(strstr(err.msg, "number_prefix") != NULL);
    TK_CHECK(st == NULL);
    cfg_prefix = NULL;
    TK_CHECK_INT(live_allocs, 0);
}

TK_TEST(test_proposal_prepare)
{
    const struct tk_item_type *t = type_of("proposal");
    struct tk_item_ctx ctx;
    struct tk_error err = {0};
    void *st;
    if (!t)
        return;
    st = init_type(t);
    ctx_init(&ctx, "proposal", "pending", "en");
    TK_CHECK_INT(t->prepare(st, &ctx, &err), 0); /* no amount: fine */
    tk_kv_set(&ctx.fields, "amount", "1200.00");
    TK_CHECK_INT(t->prepare(st, &ctx, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "currency") != NULL);
    TK_CHECK(strchr(err.msg, '\n') == NULL);
    tk_kv_set(&ctx.fields, "currency", "USD");
    TK_CHECK_INT(t->prepare(st, &ctx, &err), 0);
    TK_CHECK_INT(t->vars(st, &ctx, &err), 0);
    TK_CHECK_STR(tk_kv_get(&ctx.vars, "proposal.amount_text"), "$1,200.00");
    TK_CHECK(tk_kv_get(&ctx.vars, "proposal.due_text") == NULL);
    ctx_free(&ctx);
    t->fini(st);
    TK_CHECK_INT(live_allocs, 0);
}

TK_TEST(test_organizer_and_chat)
{
    const struct tk_item_type *o = type_of("organizer"), *c = type_of("chat");
    struct tk_item_ctx ctx;
    struct tk_error err = {0};
    void *st;
    if (o) {
        st = init_type(o);
        ctx_init(&ctx, "organizer", "pending", "en");
        tk_kv_set(&ctx.fields, "tax_year", "2026");
        TK_CHECK_INT(o->prepare(st, &ctx, &err), 0);
        tk_kv_set(&ctx.fields, "tax_year", "20226");
        TK_CHECK_INT(o->prepare(st, &ctx, &err), TK_EINVAL);
        TK_CHECK(strstr(err.msg, "tax_year") != NULL);
        ctx_free(&ctx);
        o->fini(st);
    }
    if (c) {
        st = init_type(c);
        ctx_init(&ctx, "chat", "pending", "nl");
        tk_kv_set(&ctx.fields, "tasks", "2");
        TK_CHECK_INT(c->vars(st, &ctx, &err), 0);
        TK_CHECK_STR(tk_kv_get(&ctx.vars, "chat.tasks_text"), "2 openstaande taken");
        ctx_free(&ctx);
        ctx_init(&ctx, "chat", "pending", "en");
        tk_kv_set(&ctx.fields, "tasks", "1");
        TK_CHECK_INT(c->vars(st, &ctx, &err), 0);
        TK_CHECK_STR(tk_kv_get(&ctx.vars, "chat.tasks_text"), "1 open task");
        ctx_free(&ctx);
        c->fini(st);
    }
    TK_CHECK_INT(live_allocs, 0);
}

/* A host of another ABI major is refused before the plugin touches it. */
TK_TEST(test_refuses_foreign_host)
{
    const struct tk_item_type *t = type_of("invoice");
    struct tk_host other = host;
    struct tk_error err = {0};
    void *st = NULL;
    if (!t)
        return;
    other.abi_major = TK_ABI_MAJOR + 1;
    TK_CHECK(t->init(&other, &st, &err) != 0);
    TK_CHECK(st == NULL);
    TK_CHECK(strstr(err.msg, "ABI") != NULL);
}

int main(void)
{
    size_t i;
    load_all();
    TK_RUN(test_all_load);
    TK_RUN(test_headers);
    TK_RUN(test_only_entry_exported);
    TK_RUN(test_events);
    TK_RUN(test_fields_and_bulk);
    TK_RUN(test_templates);
    TK_RUN(test_invoice_section);
    TK_RUN(test_invoice_prepare_and_vars);
    TK_RUN(test_proposal_prepare);
    TK_RUN(test_organizer_and_chat);
    TK_RUN(test_refuses_foreign_host);
    for (i = 0; i < NTYPES; i++)
        if (handles[i])
            dlclose(handles[i]);
    return tk_test_done();
}
