/* fuzz_json.c - hostile values in the JSON output of every record
 * (json/json.h): what --json and the HTTP API print.
 *
 * The input is split at NUL bytes into up to NFIELDS strings that may hold
 * anything: bytes that are not UTF-8, truncated and overlong sequences,
 * surrogates, control characters.  They fill an item (type, title, fields
 * with hostile names and values), an account and its contacts, an audit
 * entry, an outbox row, a job, a plugin and a pipeline.  Whatever they
 * hold, each object must
 *   - exist, with every key of its documented shape (none dropped),
 *   - carry each string as given when it is UTF-8, else repaired exactly
 *     as tk_utf8_repair does (well-formed, U+FFFD for each ill-formed
 *     sequence),
 *   - dump to JSON that parses back to an equal value, ASCII-only with
 *     JSON_ENSURE_ASCII and valid UTF-8 without. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

#define NFIELDS 12

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

/* S as the output must show it. */
static char *expected(const char *s)
{
    char *r = tk_utf8_repair(s, strlen(s), NULL);
    CHECK(r);
    return r;
}

static void check_str(json_t *o, const char *key, const char *given)
{
    json_t *v = json_object_get(o, key);
    CHECK(v);
    if (!given) {
        CHECK(json_is_null(v));
        return;
    }
    CHECK(json_is_string(v));
    char *want = expected(given);
    CHECK(json_string_length(v) == strlen(want));
    CHECK(memcmp(json_string_value(v), want, strlen(want)) == 0);
    CHECK(tk_utf8_valid(json_string_value(v), json_string_length(v)));
    if (tk_utf8_valid(given, strlen(given)))
        CHECK(strcmp(json_string_value(v), given) == 0);
    free(want);
}

static void check_keys(json_t *o, const char *const *keys)
{
    CHECK(o && json_is_object(o));
    for (; *keys; keys++)
        CHECK(json_object_get(o, *keys));
}

/* Dumped both ways, parsed back, equal; then released. */
static void check_dump(json_t *o)
{
    char *a = json_dumps(o, JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
    char *u = json_dumps(o, JSON_PRESERVE_ORDER);
    CHECK(a && u);
    for (const char *p = a; *p; p++)
        CHECK((unsigned char)*p < 0x80);
    CHECK(tk_utf8_valid(u, strlen(u)));
    json_t *back = json_loads(a, 0, NULL);
    CHECK(back && json_equal(back, o));
    json_decref(back);
    free(a);
    free(u);
    json_decref(o);
}

static void check_repair(const char *s, size_t n)
{
    size_t len, len2;
    char *r = tk_utf8_repair(s, n, &len), *r2;
    CHECK(r && r[len] == '\0' && len <= 3 * n);
    CHECK(tk_utf8_valid(r, len));
    if (tk_utf8_valid(s, n))
        CHECK(len == n && memcmp(r, s, n) == 0);
    r2 = tk_utf8_repair(r, len, &len2); /* repairing twice changes nothing */
    CHECK(r2 && len2 == len && memcmp(r2, r, len) == 0);
    free(r2);
    free(r);
}

/* The item written straight (the HTTP API's GET) is byte for byte what
 * the tree dumps compact; when it declines, a string was not UTF-8. */
static void check_item_dump(const struct tk_item *it, const char *account_name, json_t *o)
{
    struct tk_buf b = {0};
    char *want = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    int r = tk_json_item_dump(&b, it, account_name);
    CHECK(want);
    if (r == 0) {
        CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0);
    } else {
        CHECK(r == 1 && b.len == 0);
        CHECK(strstr(want, "\xef\xbf\xbd") != NULL); /* U+FFFD: a string was repaired */
    }
    tk_buf_free(&b);
    free(want);
}

/* libFuzzer calls it; declared for -Wmissing-prototypes */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *f[NFIELDS];
    size_t nf = 0, start = 0;
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (size_t i = 0; i <= size && nf < NFIELDS; i++)
        if (i == size || buf[i] == '\0') {
            f[nf++] = buf + start;
            start = i + 1;
        }
    while (nf < NFIELDS)
        f[nf++] = buf + size; /* "" */
    check_repair((const char *)data, size);

    /* an item whose field names and values are hostile too */
    struct tk_item it;
    memset(&it, 0, sizeof it);
    it.id = 7;
    it.type = f[0];
    it.title = f[1];
    it.state = f[2];
    it.template_name = f[3];
    it.created_at = 1796115600;
    if (tk_kv_set(&it.fields, f[4], f[5]) == 0 && tk_kv_set(&it.fields, "amount", f[6]) == 0) {
        static const char *const keys[] = {
            "id",       "type", "account",  "title",   "state",      "fields",       "reminders",
            "template", "job",  "archived", "resends", "created_at", "completed_at", NULL};
        json_t *o = tk_json_item(&it, f[7]);
        check_keys(o, keys);
        check_str(o, "type", f[0]);
        check_str(o, "title", f[1]);
        check_str(o, "account_name", f[7]);
        json_t *fields = json_object_get(o, "fields");
        int same = strcmp(f[4], "amount") == 0; /* one field, set twice */
        char *key = expected(f[4]);
        CHECK(json_object_size(fields) == (same ? 1u : 2u));
        check_str(fields, key, same ? f[6] : f[5]);
        check_str(fields, "amount", f[6]);
        free(key);
        check_item_dump(&it, f[7], o);
        it.hold.since = 1796115600; /* held, with a hostile reason */
        it.hold.reason = f[8];
        json_t *h = tk_json_item(&it, f[7]);
        CHECK(h);
        check_item_dump(&it, f[7], h);
        json_decref(h);
        it.hold.since = 0;
        it.hold.reason = NULL;
        check_dump(o);
    }
    tk_kv_free(&it.fields);

    struct tk_account acc = {3, f[8], f[9], 0};
    struct tk_contact cv[2] = {{1, 3, f[10], f[11], 1}, {2, 3, f[0], NULL, 0}};
    struct tk_contacts cs = {cv, 2};
    {
        static const char *const keys[] = {"id", "name", "language", "contacts", "notified", NULL};
        json_t *o = tk_json_account(&acc, &cs);
        check_keys(o, keys);
        check_str(o, "name", f[8]);
        check_str(o, "language", f[9]);
        check_dump(o);
    }
    for (size_t i = 0; i < 2; i++) {
        static const char *const keys[] = {"id", "email", "name", "notify", NULL};
        json_t *o = tk_json_contact(&cv[i]);
        check_keys(o, keys);
        check_str(o, "email", cv[i].email);
        check_str(o, "name", cv[i].name);
        check_dump(o);
    }
    {
        static const char *const keys[] = {"id",  "at",     "actor",  "account", "item",
                                           "job", "action", "detail", NULL};
        struct tk_audit_entry ae = {9, 1796115600, f[1], 3, 7, 0, f[2], f[3]};
        json_t *o = tk_json_audit(&ae);
        check_keys(o, keys);
        check_str(o, "actor", f[1]);
        check_str(o, "action", f[2]);
        check_str(o, "detail", f[3]);
        check_dump(o);
    }
    {
        static const char *const keys[] = {"id",
                                           "item",
                                           "account",
                                           "kind",
                                           "step",
                                           "recipient",
                                           "message_id",
                                           "state",
                                           "attempts",
                                           "created_at",
                                           "next_attempt_at",
                                           "sent_at",
                                           "reply_code",
                                           "reply",
                                           NULL};
        struct tk_outbox_row r;
        memset(&r, 0, sizeof r);
        r.id = 5;
        r.kind = f[4];
        r.recipient = f[10];
        r.message_id = f[5];
        r.last_reply = f[11];
        r.reply_code = 550;
        r.state = TK_OUTBOX_DEAD;
        json_t *o = tk_json_outbox(&r);
        check_keys(o, keys);
        check_str(o, "kind", f[4]);
        check_str(o, "recipient", f[10]);
        check_str(o, "reply", f[11]);
        check_dump(o);
    }
    {
        static const char *const keys[] = {"id",    "pipeline", "stage",      "account",    "title",
                                           "state", "items",    "created_at", "updated_at", NULL};
        struct tk_job j = {4, 3, f[6], f[7], f[8], f[9], 1796115600, 1796115600};
        int64_t items[2] = {7, 8};
        json_t *o = tk_json_job(&j, items, 2);
        check_keys(o, keys);
        check_str(o, "pipeline", f[6]);
        check_str(o, "stage", f[7]);
        check_str(o, "title", f[8]);
        check_dump(o);
    }
    {
        static const char *const keys[] = {"name",        "kind",        "abi",    "version",
                                           "file",        "description", "events", "lua_verb",
                                           "config_keys", "fields",      "bulk",   NULL};
        struct tk_config_key ck[] = {{f[7], f[8]}, {NULL, NULL}};
        struct tk_field_spec fs[2];
        struct tk_bulk_spec bs[2];
        struct tk_event_spec ev[] = {{f[0], f[1], NULL}, {NULL, NULL, NULL}};
        struct tk_item_type type;
        struct tk_plugin_header hdr = {1, 0, 0, TK_PLUGIN_ITEM, f[2], f[3], f[4]};
        struct tk_plugin p;
        memset(&type, 0, sizeof type);
        memset(&p, 0, sizeof p);
        memset(fs, 0, sizeof fs);
        memset(bs, 0, sizeof bs);
        fs[0].name = f[9];
        fs[0].description = f[10];
        fs[0].kind = 99; /* out of range: "unknown" */
        bs[0].command = f[11];
        bs[0].section = f[0];
        type.events = ev;
        type.lua_verb = f[5];
        type.config_keys = ck;
        type.fields = fs;
        type.bulk = bs;
        p.path = f[6];
        p.hdr = &hdr;
        p.item = &type;
        json_t *o = tk_json_plugin(&p);
        check_keys(o, keys);
        check_str(o, "name", f[2]);
        check_str(o, "file", f[6]);
        json_t *e = json_array_get(json_object_get(o, "events"), 0);
        check_str(e, "name", f[0]);
        check_str(e, "final_state", f[1]);
        check_str(json_array_get(json_object_get(o, "config_keys"), 0), "description", f[8]);
        check_str(json_array_get(json_object_get(o, "fields"), 0), "name", f[9]);
        check_str(json_array_get(json_object_get(o, "bulk"), 0), "command", f[11]);
        check_dump(o);
    }
    {
        static const char *const keys[] = {"name", "script", "line", "stages", NULL};
        struct tk_stage_info st[2] = {{f[9], 1, 0}, {f[10], 0, 1}};
        struct tk_pipeline_info pl = {f[7], f[8], 3, st, 2};
        json_t *o = tk_json_pipeline(&pl);
        check_keys(o, keys);
        check_str(o, "name", f[7]);
        check_str(json_array_get(json_object_get(o, "stages"), 1), "name", f[10]);
        check_dump(o);
    }
    free(buf);
    return 0;
}
