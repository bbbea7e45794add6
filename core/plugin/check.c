/* check.c - what a descriptor must hold before any of its code runs.
 *
 * Every string the host prints (names, versions, descriptions) reaches a
 * terminal, a log or JSON, and every name it routes by (type, event, field,
 * template, bulk command, Lua verb, config key) picks a config section, a
 * file or a command.  So each is checked against its pattern once, here,
 * and a bad one refuses the plugin with the file and the reason, rather
 * than an event name with a newline reaching `tickler list`, or an item
 * type named `transport` taking over [transport].  The compiled-in
 * templates are parsed too: a typo in one is a refusal at start, not a
 * failure at the first send. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "plugin.h"
#include "template/template.h"

#define NAME_MAX_LEN 32
#define VERSION_MAX 64
#define TEXT_MAX 200

static const char *const *reserved_commands;

void tk_plugin_reserve_commands(const char *const *names)
{
    reserved_commands = names;
}

int tk_plugin_refuse(struct tk_error *err, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tk_error_setv(err, TK_ERR, fmt, ap);
    va_end(ap);
    tk_error_prefix(err, "plugin %s: refused", path);
    return TK_ERR;
}

/* S for a message: at most 40 bytes, anything but printable ASCII as \xHH,
 * so that the refusal of a name with an escape sequence does not send the
 * sequence to the terminal itself. */
static const char *shown(const char *s, char *buf, size_t size)
{
    size_t n = 0;
    if (!s)
        return "(null)";
    for (; *s && n + 5 < size && n < 40; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f && c != '\\')
            buf[n++] = (char)c;
        else
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
    }
    buf[n] = '\0';
    if (*s && n + 4 < size)
        memcpy(buf + n, "...", 4);
    return buf;
}

/* [a-z][a-z0-9_-]* (without '-' when !DASH), at most MAX bytes. */
static int name_ok(const char *s, size_t max, int dash)
{
    size_t n;
    if (!s || !(*s >= 'a' && *s <= 'z'))
        return 0;
    for (n = 1; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_' ||
              (dash && s[n] == '-')))
            return 0;
    return n <= max;
}

/* One line of UTF-8 without control characters (C0, DEL and C1, whose
 * 0x9b is a terminal's CSI), at most MAX bytes.  NULL is fine: the host
 * prints "" for it. */
static int text_ok(const char *s, size_t max)
{
    size_t n;
    if (!s)
        return 1;
    n = strlen(s);
    if (n > max || !tk_utf8_valid(s, n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] < 0xa0))
            return 0;
    }
    return 1;
}

static int check_text(const char *s, size_t max, const char *what, const char *path,
                      struct tk_error *err)
{
    char b[200];
    if (text_ok(s, max))
        return 0;
    return tk_plugin_refuse(
        err, path,
        "bad %s '%s': expected one line of UTF-8 text without control characters, at "
        "most %zu bytes",
        what, shown(s, b, sizeof b), max);
}

int tk_plugin_check_header(const struct tk_plugin_header *h, const char *path, struct tk_error *err)
{
    size_t min;
    const char *kind;
    char b[200];

    if (!h)
        return tk_plugin_refuse(err, path, "%s returned NULL", TK_PLUGIN_ENTRY_NAME);
    if (h->abi_major != TK_ABI_MAJOR)
        return tk_plugin_refuse(err, path, "built for ABI %u.%u, this tickler speaks ABI %d.%d",
                                h->abi_major, h->abi_minor, TK_ABI_MAJOR, TK_ABI_MINOR);
    if (h->abi_minor > TK_ABI_MINOR)
        return tk_plugin_refuse(
            err, path, "built for ABI %u.%u, newer than this tickler's ABI %d.%d: upgrade tickler",
            h->abi_major, h->abi_minor, TK_ABI_MAJOR, TK_ABI_MINOR);
    if (h->size < sizeof *h)
        return tk_plugin_refuse(err, path,
                                "descriptor is %u bytes, shorter than its %zu-byte header",
                                (unsigned)h->size, sizeof *h);
    /* The frozen 1.0 sizes, not sizeof: a descriptor built against an older
     * minor is shorter than today's struct, and must still load. */
    if (h->kind == TK_PLUGIN_ITEM) {
        min = TK_ITEM_TYPE_SIZE_1_0;
        kind = "item type";
    } else if (h->kind == TK_PLUGIN_TRANSPORT) {
        min = TK_TRANSPORT_SIZE_1_0;
        kind = "transport";
    } else {
        return tk_plugin_refuse(err, path, "unknown plugin kind %d", h->kind);
    }
    if (h->size < min)
        return tk_plugin_refuse(err, path,
                                "descriptor is %u bytes, an ABI %d.0 %s needs at least %zu",
                                (unsigned)h->size, TK_ABI_MAJOR, kind, min);
    if (!name_ok(h->name, NAME_MAX_LEN, 1))
        return tk_plugin_refuse(err, path,
                                "bad plugin name '%s': expected [a-z][a-z0-9_-]*, at most 32 "
                                "characters",
                                shown(h->name, b, sizeof b));
    if (check_text(h->version, VERSION_MAX, "version", path, err) ||
        check_text(h->description, TEXT_MAX, "description", path, err))
        return TK_ERR;
    return 0;
}

static int is_lua_keyword(const char *s)
{
    static const char *const kw[] = {"and",   "break", "do",       "else", "elseif", "end",
                                     "false", "for",   "function", "goto", "if",     "in",
                                     "local", "nil",   "not",      "or",   "repeat", "return",
                                     "then",  "true",  "until",    "while"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strcmp(kw[i], s) == 0)
            return 1;
    return 0;
}

/* The methods and fields of a Lua job (core/lua/job.c): a verb of that
 * name would be silently shadowed or shadow a field. */
static int is_job_member(const char *s)
{
    static const char *const m[] = {"create",  "move",         "archive",  "id",
                                    "account", "title",        "stage",    "pipeline",
                                    "state",   "account_name", "language", "items"};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(m[i], s) == 0)
            return 1;
    return 0;
}

static int lua_identifier(const char *s)
{
    size_t n;
    if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return 0;
    for (n = 1; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
              (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
            return 0;
    return n <= 64 && !is_lua_keyword(s);
}

static int check_keys(const struct tk_config_key *k, int transport, const char *path,
                      struct tk_error *err)
{
    char b[200];
    size_t n = 0;
    for (; k && k->name; k++, n++) {
        if (!name_ok(k->name, NAME_MAX_LEN, 1))
            return tk_plugin_refuse(
                err, path, "bad config key '%s': expected [a-z][a-z0-9_-]*, at most 32 characters",
                shown(k->name, b, sizeof b));
        /* core reads these of [transport] itself: a plugin never sees them */
        if (transport && (strcmp(k->name, "plugin") == 0 || strcmp(k->name, "from") == 0 ||
                          strcmp(k->name, "connections") == 0))
            return tk_plugin_refuse(
                err, path, "config key '%s' is one of tickler's own in [transport]", k->name);
        if (check_text(k->description, TEXT_MAX, "config key description", path, err))
            return TK_ERR;
    }
    if (n > 64)
        return tk_plugin_refuse(err, path, "more than 64 config keys");
    return 0;
}

static int check_events(const struct tk_item_type *t, const char *path, struct tk_error *err)
{
    char b[200];
    if (!t->events || !t->events[0].name)
        return tk_plugin_refuse(err, path, "item type '%s' declares no events", t->hdr.name);
    for (const struct tk_event_spec *e = t->events; e->name; e++) {
        if (!name_ok(e->name, NAME_MAX_LEN, 1))
            return tk_plugin_refuse(
                err, path, "bad event name '%s': expected [a-z][a-z0-9_-]*, at most 32 characters",
                shown(e->name, b, sizeof b));
        if (e->final_state &&
            (!name_ok(e->final_state, NAME_MAX_LEN, 1) || strcmp(e->final_state, "pending") == 0))
            return tk_plugin_refuse(
                err, path,
                "event '%s': bad final state '%s': expected [a-z][a-z0-9_-]*, at most "
                "32 characters, not pending",
                e->name, shown(e->final_state, b, sizeof b));
        if (check_text(e->description, TEXT_MAX, "event description", path, err))
            return TK_ERR;
        for (const struct tk_event_spec *f = t->events; f < e; f++)
            if (strcmp(f->name, e->name) == 0)
                return tk_plugin_refuse(err, path, "event '%s' declared twice", e->name);
    }
    return 0;
}

static int check_fields(const struct tk_item_type *t, const char *path, struct tk_error *err)
{
    char b[200];
    for (const struct tk_field_spec *f = t->fields; f && f->name; f++) {
        if (!name_ok(f->name, NAME_MAX_LEN, 0))
            return tk_plugin_refuse(
                err, path, "bad field name '%s': expected [a-z][a-z0-9_]*, at most 32 characters",
                shown(f->name, b, sizeof b));
        if (f->kind < TK_FIELD_TEXT || f->kind > TK_FIELD_URL)
            return tk_plugin_refuse(err, path, "field '%s': unknown kind %d", f->name, f->kind);
        if (f->flags & ~TK_FIELD_REQUIRED)
            return tk_plugin_refuse(err, path, "field '%s': unknown flags 0x%x", f->name,
                                    (unsigned)f->flags);
        if (check_text(f->description, TEXT_MAX, "field description", path, err))
            return TK_ERR;
        for (const struct tk_field_spec *g = t->fields; g < f; g++)
            if (strcmp(g->name, f->name) == 0)
                return tk_plugin_refuse(err, path, "field '%s' declared twice", f->name);
    }
    return 0;
}

/* Parse each compiled-in template as the catalog will: the error names the
 * plugin file and "template LANG/NAME:LINE". */
static int check_templates(const struct tk_item_type *t, const char *path, struct tk_error *err)
{
    char b[200], c[200], origin[128];
    int en_default = 0;
    for (const struct tk_template_text *tt = t->templates; tt && tt->lang; tt++) {
        struct tk_template parsed;
        if (!name_ok(tt->lang, 16, 1) || !name_ok(tt->name, 64, 1))
            return tk_plugin_refuse(err, path,
                                    "bad template '%s/%s': language and name are [a-z][a-z0-9_-]*",
                                    shown(tt->lang, b, sizeof b), shown(tt->name, c, sizeof c));
        if (!tt->text)
            return tk_plugin_refuse(err, path, "template %s/%s has no text", tt->lang, tt->name);
        for (const struct tk_template_text *u = t->templates; u < tt; u++)
            if (strcmp(u->lang, tt->lang) == 0 && strcmp(u->name, tt->name) == 0)
                return tk_plugin_refuse(err, path, "template %s/%s declared twice", tt->lang,
                                        tt->name);
        snprintf(origin, sizeof origin, "template %s/%s", tt->lang, tt->name);
        if (tk_template_parse(tt->text, strlen(tt->text), origin, &parsed, err) != 0) {
            if (err && err->code == TK_ENOMEM)
                return TK_ENOMEM;
            tk_error_prefix(err, "plugin %s: refused", path);
            return TK_ERR;
        }
        tk_template_free(&parsed);
        en_default |= strcmp(tt->lang, "en") == 0 && strcmp(tt->name, "default") == 0;
    }
    if (!en_default)
        return tk_plugin_refuse(err, path, "item type '%s' has no default template in en",
                                t->hdr.name);
    return 0;
}

static int command_reserved(const char *s)
{
    for (const char *const *w = reserved_commands; w && *w; w++)
        if (strcmp(*w, s) == 0)
            return 1;
    return 0;
}

static int check_bulk(const struct tk_item_type *t, const char *path, struct tk_error *err)
{
    char b[200];
    for (const struct tk_bulk_spec *k = t->bulk; k && k->command; k++) {
        if (!name_ok(k->command, NAME_MAX_LEN, 1))
            return tk_plugin_refuse(err, path,
                                    "bad bulk command '%s': expected [a-z][a-z0-9_-]*, at most 32 "
                                    "characters",
                                    shown(k->command, b, sizeof b));
        if (command_reserved(k->command))
            return tk_plugin_refuse(err, path, "bulk command '%s' is a tickler command",
                                    k->command);
        if (!name_ok(k->section, NAME_MAX_LEN, 1))
            return tk_plugin_refuse(err, path, "bulk command '%s': bad template section '%s'",
                                    k->command, shown(k->section, b, sizeof b));
        if (check_text(k->description, TEXT_MAX, "bulk command description", path, err))
            return TK_ERR;
        for (const struct tk_bulk_spec *j = t->bulk; j < k; j++)
            if (strcmp(j->command, k->command) == 0)
                return tk_plugin_refuse(err, path, "bulk command '%s' declared twice", k->command);
    }
    return 0;
}

/* TEMPLATES_PASSED: the check cache (checkcache.c) has these very
 * templates of this very file as passed by this very host. */
static int check_item(const struct tk_item_type *t, int templates_passed, const char *path,
                      struct tk_error *err)
{
    char b[200];
    if (tk_config_section_reserved(t->hdr.name))
        return tk_plugin_refuse(err, path,
                                "item type '%s' has the name of a tickler config section: [%s] is "
                                "tickler's own",
                                t->hdr.name, t->hdr.name);
    if (t->lua_verb && !lua_identifier(t->lua_verb))
        return tk_plugin_refuse(
            err, path,
            "bad Lua verb '%s': expected a Lua identifier ([A-Za-z_][A-Za-z0-9_]*, at "
            "most 64 characters) that is not a keyword",
            shown(t->lua_verb, b, sizeof b));
    if (t->lua_verb && is_job_member(t->lua_verb))
        return tk_plugin_refuse(err, path, "Lua verb '%s' is a method or field of job",
                                t->lua_verb);
    if (check_events(t, path, err) || check_fields(t, path, err) || check_bulk(t, path, err) ||
        check_keys(t->config_keys, 0, path, err))
        return err ? err->code : TK_ERR;
    return templates_passed ? 0 : check_templates(t, path, err);
}

int tk_plugin_check_body(struct tk_plugin *p, struct tk_error *err)
{
    if (p->hdr->kind == TK_PLUGIN_ITEM) {
        p->item = (const struct tk_item_type *)p->hdr;
        return check_item(p->item, p->check_hit, p->path, err);
    }
    p->transport = (const struct tk_transport *)p->hdr;
    if (!p->transport->open || !p->transport->send || !p->transport->close)
        return tk_plugin_refuse(err, p->path, "transport '%s' lacks open, send or close",
                                p->hdr->name);
    return check_keys(p->transport->config_keys, 1, p->path, err);
}

int tk_plugin_check_clash(const struct tk_registry *reg, const struct tk_plugin *p,
                          struct tk_error *err)
{
    if (!p->item)
        return 0;
    /* only those before P: the message names the earlier file first */
    for (size_t i = 0; i < reg->n && reg->v[i] != p; i++) {
        const struct tk_plugin *q = reg->v[i];
        if (!q->item)
            continue;
        if (p->item->lua_verb && tk_streq(p->item->lua_verb, q->item->lua_verb))
            return tk_plugin_refuse(err, p->path, "Lua verb '%s' claimed by both %s and %s",
                                    p->item->lua_verb, q->path, p->path);
        for (const struct tk_bulk_spec *a = p->item->bulk; a && a->command; a++)
            for (const struct tk_bulk_spec *b = q->item->bulk; b && b->command; b++)
                if (strcmp(a->command, b->command) == 0)
                    return tk_plugin_refuse(err, p->path,
                                            "bulk command '%s' claimed by both %s and %s",
                                            a->command, q->path, p->path);
    }
    return 0;
}
