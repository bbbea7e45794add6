/*
 * test_webhooks_in.c - inbound webhooks through the one engine function,
 * tk_engine_webhook_receive (issue 13): a real engine on a temporary
 * SQLite store with the real item plugins and templates, the shipped
 * example scripts (scripts/webhooks/payments.lua and esign.lua) and a few
 * of the test's own, and real HMAC-SHA256 signatures.  "Nothing changed"
 * is checked on the whole store, row by row.
 */
#define _GNU_SOURCE 1
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/internal.h"
#include "engine/webhooks.h"
#include "lua/internal.h"
#include "lua/pipeline.h"
#include "tk_test.h"
#include "util/hmac.h"

#define T0 ((tk_time)1796115600) /* 2026-12-01T09:00:00Z */
#define PAY_SECRET "pay-secret-0123456789"
#define SIGN_SECRET "esign-secret-0123456789"
#define TEST_SECRET "test-secret-0123456789"

static struct tk_engine *eng;
static struct tk_pipelines *pl;
static sqlite3 *peek;
static char dir[256];
static int64_t account_id, invoice_id, invoice2_id, signature_id;
static struct tk_buf warnings;

static void warn(void *u, const char *msg)
{
    (void)u;
    tk_buf_printf(&warnings, "%s\n", msg);
}

static void snapshot(struct tk_buf *out)
{
    sqlite3_stmt *tables = NULL, *rows;
    tk_buf_reset(out);
    sqlite3_prepare_v2(peek, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
                       -1, &tables, NULL);
    while (tables && sqlite3_step(tables) == SQLITE_ROW) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY rowid",
                 (const char *)sqlite3_column_text(tables, 0));
        if (sqlite3_prepare_v2(peek, sql, -1, &rows, NULL) != SQLITE_OK)
            continue;
        while (sqlite3_step(rows) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(rows); c++) {
                const unsigned char *v = sqlite3_column_text(rows, c);
                tk_buf_printf(out, "%s|", v ? (const char *)v : "");
            }
            tk_buf_putc(out, '\n');
        }
        sqlite3_finalize(rows);
    }
    sqlite3_finalize(tables);
}

static long long count(const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(peek, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static const char *item_state(int64_t id)
{
    static char buf[64];
    sqlite3_stmt *st = NULL;
    buf[0] = '\0';
    if (sqlite3_prepare_v2(peek, "SELECT state FROM items WHERE id = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW)
            tk_strlcpy(buf, (const char *)sqlite3_column_text(st, 0), sizeof buf);
    }
    sqlite3_finalize(st);
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int copy_file(const char *from, const char *to)
{
    char buf[8192];
    size_t n;
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    int rc = a && b ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, a)) > 0)
        if (fwrite(buf, 1, n, b) != n)
            rc = -1;
    if (a)
        fclose(a);
    if (b)
        fclose(b);
    return rc;
}

static int setup(void)
{
    struct tk_error err = {0};
    const char *plugins = getenv("TK_PLUGIN_DIR"), *src = getenv("TK_SOURCE_DIR");
    char ini[300], path[400], from[400];
    struct tk_kv fields = {0};
    if (!plugins || !src)
        return fprintf(stderr, "TK_PLUGIN_DIR and TK_SOURCE_DIR must be set\n"), 1;
    snprintf(dir, sizeof dir, "/tmp/tk_webhooks_in.XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/scripts", dir);
    mkdir(path, 0700);
    const char *examples[] = {"payments.lua", "esign.lua"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(from, sizeof from, "%s/scripts/webhooks/%s", src, examples[i]);
        snprintf(path, sizeof path, "%s/scripts/%s", dir, examples[i]);
        if (copy_file(from, path))
            return fprintf(stderr, "cannot copy %s\n", from), 1;
    }
    snprintf(path, sizeof path, "%s/scripts/tests.lua", dir);
    write_file(path,
               "webhook('test', function(req)\n"
               "  local j = req.json or {}\n"
               "  if j.mode == 'ignore' then return nil end\n"
               "  if j.mode == 'boom' then error('boom') end\n"
               "  if j.mode == 'half' then event(j.item, 'paid'); error('after a write') end\n"
               "  if j.mode == 'event' then return {item = j.item, event = j.event} end\n"
               "  if j.mode == 'echo' then\n"
               "    assert(req.headers['x-custom'] == 'Yes', 'headers lower-case')\n"
               "    assert(req.body == '{\"mode\":\"echo\"}', 'raw body')\n"
               "    assert(req.content_type == 'application/json')\n"
               "    return nil\n"
               "  end\n"
               "  if j.mode == 'badret' then return 42 end\n"
               "  return {item = j.item, event = 'paid'}\n"
               "end)\n"
               "webhook('nosecret', function(req) return nil end)\n");
    snprintf(ini, sizeof ini, "%s/tickler.ini", dir);
    FILE *f = fopen(ini, "w");
    if (!f)
        return 1;
    fprintf(f,
            "[store]\npath = %s/tk.db\n\n[transport]\nplugin = file\ndir = %s/spool\n"
            "from = Bakker & Co <office@bakker.example>\n\n[firm]\nname = Bakker & Co\n\n"
            "[plugins]\ndir = %s\n\n[templates]\ndir = %s/etc/templates\n\n"
            "[lua]\nscripts = %s/scripts\n\n"
            "[hooks]\npayments = " PAY_SECRET "\nesign = " SIGN_SECRET "\ntest = " TEST_SECRET
            "\nnoscript = no-script-secret-0123\n",
            dir, dir, plugins, src, dir);
    fclose(f);
    if (tk_engine_open(&eng, ini, T0, 0, &err) || tk_pipelines_open(eng, &pl, &err) ||
        tk_pipelines_broken(pl, 0)) {
        fprintf(stderr, "open: %s %s\n", err.msg, pl ? tk_pipelines_broken(pl, 0) : "");
        return 1;
    }
    tk_engine_set_warn(eng, warn, NULL);
    snprintf(path, sizeof path, "%s/tk.db", dir);
    if (sqlite3_open_v2(path, &peek, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return 1;
    sqlite3_busy_timeout(peek, 2000);
    tk_kv_set(&fields, "amount", "450.00");
    tk_kv_set(&fields, "currency", "EUR");
    struct tk_send_req inv = {.type = "invoice",
                              .title = "Fees",
                              .reminders = 1,
                              .every_days = 3,
                              .count = 2,
                              .fields = &fields};
    struct tk_send_req sig = {.type = "signature",
                              .title = "Engagement letter",
                              .reminders = 1,
                              .every_days = 3,
                              .count = 2};
    if (tk_engine_begin(eng, TK_TX_IMMEDIATE, &err) ||
        tk_engine_account_add(eng, "Acme BV", "en", &account_id, &err) ||
        tk_engine_contact_add(eng, account_id, "ann@acme.example", "Ann", 1, NULL, &err))
        goto fail;
    inv.account_id = sig.account_id = account_id;
    if (tk_engine_send(eng, &inv, &invoice_id, &err) ||
        tk_engine_send(eng, &inv, &invoice2_id, &err) ||
        tk_engine_send(eng, &sig, &signature_id, &err) || tk_engine_commit(eng, &err))
        goto fail;
    tk_kv_free(&fields);
    return 0;
fail:
    fprintf(stderr, "seed: %s\n", err.msg);
    tk_engine_rollback(eng);
    tk_kv_free(&fields);
    return 1;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    sqlite3_close(peek);
    tk_pipelines_close(pl);
    tk_engine_close(eng);
    tk_buf_free(&warnings);
    if (dir[0])
        nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- one delivery --------------------------------------------------------- */

struct delivery {
    const char *hook, *secret, *body, *content_type;
    size_t body_len;        /* 0: strlen(body) */
    const char *sig_header; /* NULL: X-Tickler-Signature */
    const char *prefix;     /* NULL: "sha256=" */
    const char *sig;        /* NULL: the right one */
    const char *delivery_id;
    int upper;     /* send the digest in upper case */
    int unsigned_; /* no signature header at all */
    const char *extra_name, *extra_value;
};

static int deliver(const struct delivery *d, struct tk_webhook_reply *out)
{
    struct tk_error err = {0};
    struct tk_webhook_header h[4];
    size_t nh = 0, len = d->body_len ? d->body_len : strlen(d->body);
    char hex[TK_HMAC_HEX], sig[200];
    /* the body is handed over in a buffer of exactly LEN bytes: the engine
     * must not read a NUL after it */
    char *body = malloc(len ? len : 1);
    memcpy(body, d->body, len);
    TK_CHECK_INT(tk_hmac_sha256_hex(d->secret, strlen(d->secret), body, len, hex, &err), 0);
    if (d->upper)
        for (char *p = hex; *p; p++)
            if (*p >= 'a' && *p <= 'f')
                *p = (char)(*p - 32);
    snprintf(sig, sizeof sig, "%s%s", d->prefix ? d->prefix : "sha256=", d->sig ? d->sig : hex);
    if (!d->unsigned_)
        h[nh++] =
            (struct tk_webhook_header){d->sig_header ? d->sig_header : "X-Tickler-Signature", sig};
    h[nh++] = (struct tk_webhook_header){"Content-Type",
                                         d->content_type ? d->content_type : "application/json"};
    if (d->delivery_id)
        h[nh++] = (struct tk_webhook_header){"X-Tickler-Delivery", d->delivery_id};
    if (d->extra_name)
        h[nh++] = (struct tk_webhook_header){d->extra_name, d->extra_value};
    struct tk_webhook_request req = {h, nh, body, len, NULL};
    TK_CHECK_INT(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err), 0);
    int rc = tk_engine_webhook_receive(eng, d->hook, &req, out, &err);
    if (rc == 0)
        TK_CHECK_INT(tk_engine_commit(eng, &err), 0);
    else
        tk_engine_rollback(eng);
    free(body);
    return rc;
}

static char *payment(int64_t item, const char *id)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"id\": \"%s\", \"type\": \"invoice.paid\", \"data\": {\"amount\": \"450.00\", "
             "\"metadata\": {\"tickler_item\": %lld}}}",
             id, (long long)item);
    return buf;
}

/* ---- the tests -------------------------------------------------------------- */

TK_TEST(valid_signature_records_the_event_with_the_hook_as_actor)
{
    struct tk_webhook_reply r;
    struct delivery d = {
        .hook = "payments", .secret = PAY_SECRET, .body = payment(invoice_id, "pay_evt_1")};
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK_INT(r.status, 200);
    TK_CHECK(strstr(r.body, "\"ok\"") != NULL);
    TK_CHECK_STR(item_state(invoice_id), "paid");
    TK_CHECK_INT(count("SELECT COUNT(*) FROM audit WHERE actor = 'webhook:payments' AND "
                       "action = 'event' AND item_id = (SELECT MAX(id) FROM items WHERE "
                       "title = 'Fees' AND state = 'paid')"),
                 1);
    /* reminders stopped (R11) */
    TK_CHECK_INT(count("SELECT next_at IS NULL OR next_at = 0 FROM items WHERE state = 'paid'"), 1);
    TK_CHECK_STR(tk_engine_actor(eng), "cli"); /* restored */
}

TK_TEST(replay_is_200_and_changes_nothing)
{
    struct tk_webhook_reply r;
    struct tk_buf before = {0}, after = {0};
    struct delivery d = {
        .hook = "payments", .secret = PAY_SECRET, .body = payment(invoice_id, "pay_evt_1")};
    snapshot(&before);
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK_INT(r.status, 200);
    TK_CHECK(strstr(r.body, "duplicate") != NULL);
    snapshot(&after);
    TK_CHECK_STR(after.data, before.data);
    /* the same id for another item is a replay too: nothing happens */
    d.body = payment(invoice2_id, "pay_evt_1");
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK_INT(r.status, 200);
    TK_CHECK_STR(item_state(invoice2_id), "pending");
    tk_buf_free(&before);
    tk_buf_free(&after);
}

TK_TEST(replay_window_is_24_hours)
{
    struct tk_webhook_reply r;
    struct delivery d = {.hook = "test",
                         .secret = TEST_SECRET,
                         .delivery_id = "del-window",
                         .body = "{\"mode\":\"ignore\"}"};
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK(strstr(r.body, "ignored") != NULL);
    tk_engine_set_now(eng, T0 + TK_DAY - 1);
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK(strstr(r.body, "duplicate") != NULL);
    tk_engine_set_now(eng, T0 + 2 * TK_DAY);
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK(strstr(r.body, "ignored") != NULL);
    tk_engine_set_now(eng, T0);
}

TK_TEST(bad_or_missing_signature_is_401_logged_and_changes_nothing)
{
    struct tk_webhook_reply r;
    struct tk_buf before = {0}, after = {0};
    const char *body = payment(invoice2_id, "pay_evt_2");
    struct delivery bad[] = {
        {.hook = "payments", .secret = "wrong-secret-0123456789", .body = body},
        {.hook = "payments", .secret = PAY_SECRET, .body = body, .unsigned_ = 1},
        {.hook = "payments", .secret = PAY_SECRET, .body = body, .prefix = "sha1="},
        {.hook = "payments", .secret = PAY_SECRET, .body = body, .prefix = ""},
        {.hook = "payments", .secret = PAY_SECRET, .body = body, .sig = "00"},
        {.hook = "payments",
         .secret = PAY_SECRET,
         .body = body,
         .sig = "zz00000000000000000000000000000000000000000000000000000000000000"},
        /* the signature of another hook's secret */
        {.hook = "payments", .secret = SIGN_SECRET, .body = body},
        /* the right header for another hook */
        {.hook = "esign", .secret = SIGN_SECRET, .body = "status=completed", .prefix = ""},
    };
    snapshot(&before);
    tk_buf_reset(&warnings);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        TK_CHECK_INT(deliver(&bad[i], &r), 0);
        TK_CHECK_INT(r.status, 401);
        TK_CHECK(strstr(r.body, "\"error\"") != NULL);
    }
    snapshot(&after);
    TK_CHECK_STR(after.data, before.data);
    TK_CHECK(warnings.data && strstr(warnings.data, "webhook payments: bad signature"));
    TK_CHECK(warnings.data && strstr(warnings.data, "webhook payments: no signature header"));
    /* never the secret or the body in the log */
    TK_CHECK(warnings.data && !strstr(warnings.data, PAY_SECRET));
    TK_CHECK(warnings.data && !strstr(warnings.data, "pay_evt_2"));
    TK_CHECK(warnings.data && !strstr(warnings.data, "invoice.paid"));
    tk_buf_free(&before);
    tk_buf_free(&after);
}

TK_TEST(upper_case_digest_is_accepted)
{
    struct tk_webhook_reply r;
    struct delivery d = {
        .hook = "test", .secret = TEST_SECRET, .upper = 1, .body = "{\"mode\":\"ignore\"}"};
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK_INT(r.status, 200);
}

TK_TEST(unknown_hook_is_404)
{
    struct tk_webhook_reply r;
    const char *names[] = {"nope", "noscript", "nosecret", "", "../payments", "PAYMENTS"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct delivery d = {.hook = names[i], .secret = PAY_SECRET, .body = "{}"};
        TK_CHECK_INT(deliver(&d, &r), 0);
        TK_CHECK_INT(r.status, 404);
    }
}

TK_TEST(unknown_item_or_event_is_422_and_changes_nothing)
{
    struct tk_webhook_reply r;
    struct tk_buf before = {0}, after = {0};
    char body[200];
    snapshot(&before);
    struct delivery d = {
        .hook = "payments", .secret = PAY_SECRET, .body = payment(999999, "pay_evt_3")};
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK_INT(r.status, 422);
    TK_CHECK(strstr(r.body, "no item 999999") != NULL);
    snprintf(body, sizeof body, "{\"mode\":\"event\",\"item\":%lld,\"event\":\"bogus\"}",
             (long long)invoice2_id);
    struct delivery d2 = {
        .hook = "test", .secret = TEST_SECRET, .body = body, .delivery_id = "del-422"};
    TK_CHECK_INT(deliver(&d2, &r), 0);
    TK_CHECK_INT(r.status, 422);
    TK_CHECK(strstr(r.body, "no event 'bogus'") != NULL);
    snapshot(&after);
    TK_CHECK_STR(after.data, before.data); /* the replay record rolled back too */
    /* the provider may retry the refused delivery later: not a duplicate */
    snprintf(body, sizeof body, "{\"mode\":\"event\",\"item\":%lld,\"event\":\"paid\"}",
             (long long)invoice2_id);
    TK_CHECK_INT(deliver(&d2, &r), 0);
    TK_CHECK_INT(r.status, 200);
    TK_CHECK_STR(item_state(invoice2_id), "paid");
    tk_buf_free(&before);
    tk_buf_free(&after);
}

TK_TEST(handler_errors_are_422_and_roll_back_their_writes)
{
    struct tk_webhook_reply r;
    struct tk_buf before = {0}, after = {0};
    char body[200];
    snapshot(&before);
    struct delivery d = {.hook = "test", .secret = TEST_SECRET, .body = "{\"mode\":\"boom\"}"};
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK_INT(r.status, 422);
    TK_CHECK(strstr(r.body, "boom") != NULL);
    TK_CHECK(strstr(r.body, "tests.lua:") != NULL); /* script and line */
    /* event() wrote, then the handler failed: the event is undone */
    snprintf(body, sizeof body, "{\"mode\":\"half\",\"item\":%lld}", (long long)signature_id);
    d.body = body;
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK_INT(r.status, 422);
    d.body = "{\"mode\":\"badret\"}";
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK_INT(r.status, 422);
    TK_CHECK(strstr(r.body, "returned a number") != NULL);
    /* the payment example refuses a payload without the item */
    struct delivery p = {.hook = "payments",
                         .secret = PAY_SECRET,
                         .body = "{\"id\":\"x1\",\"type\":\"invoice.paid\",\"data\":{}}"};
    TK_CHECK_INT(deliver(&p, &r), 0);
    TK_CHECK_INT(r.status, 422);
    snapshot(&after);
    TK_CHECK_STR(after.data, before.data);
    tk_buf_free(&before);
    tk_buf_free(&after);
}

TK_TEST(form_encoded_provider_with_its_own_header)
{
    struct tk_webhook_reply r;
    char body[200];
    snprintf(body, sizeof body, "event_id=ev-7731&status=completed&tickler_item=%lld&note=a+b%%21",
             (long long)signature_id);
    struct delivery d = {.hook = "esign",
                         .secret = SIGN_SECRET,
                         .body = body,
                         .content_type = "application/x-www-form-urlencoded; charset=utf-8",
                         .sig_header = "x-esign-signature",
                         .prefix = ""};
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK_INT(r.status, 200);
    TK_CHECK_STR(item_state(signature_id), "signed");
    TK_CHECK_INT(count("SELECT COUNT(*) FROM audit WHERE actor = 'webhook:esign' AND "
                       "action = 'event'"),
                 1);
    TK_CHECK_INT(count("SELECT COUNT(*) FROM webhook_seen WHERE hook = 'esign' AND "
                       "delivery = 'ev-7731'"),
                 1);
    TK_CHECK_INT(deliver(&d, &r), 0); /* replay */
    TK_CHECK(strstr(r.body, "duplicate") != NULL);
    /* other statuses are ignored */
    struct delivery o = d;
    o.body = "event_id=ev-1&status=viewed";
    TK_CHECK_INT(deliver(&o, &r), 0);
    TK_CHECK(strstr(r.body, "ignored") != NULL);
}

TK_TEST(request_fields_reach_the_handler)
{
    struct tk_webhook_reply r;
    struct delivery d = {.hook = "test",
                         .secret = TEST_SECRET,
                         .body = "{\"mode\":\"echo\"}",
                         .extra_name = "X-CUSTOM",
                         .extra_value = "Yes"};
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK_INT(r.status, 200);
    TK_CHECK(strstr(r.body, "ignored") != NULL);
}

TK_TEST(hostile_bodies_are_refused_cleanly)
{
    struct tk_webhook_reply r;
    /* NULs inside, not valid JSON, deep nesting: 200 ignored or 422, never a crash */
    static const char nul[] = "{\"mode\":\"ignore\"}\0tail";
    struct delivery d = {
        .hook = "test", .secret = TEST_SECRET, .body = nul, .body_len = sizeof nul - 1};
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK(r.status == 200 || r.status == 422);
    struct tk_buf deep = {0};
    for (int i = 0; i < 5000; i++)
        tk_buf_puts(&deep, "[");
    d.body = deep.data;
    d.body_len = deep.len;
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK(r.status == 200 || r.status == 422);
    tk_buf_reset(&deep);
    tk_buf_puts(&deep, "{\"a\":");
    for (int i = 0; i < 100; i++)
        tk_buf_puts(&deep, "{\"a\":");
    tk_buf_puts(&deep, "1");
    for (int i = 0; i < 101; i++)
        tk_buf_puts(&deep, "}");
    d.body = deep.data;
    d.body_len = deep.len;
    TK_CHECK_INT(deliver(&d, &r), 0);
    TK_CHECK_INT(r.status, 422); /* nested deeper than 32 */
    tk_buf_free(&deep);
    /* a delivery id over 200 bytes from the header is not used */
    char longid[400];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    struct delivery l = {.hook = "test",
                         .secret = TEST_SECRET,
                         .body = "{\"mode\":\"ignore\"}",
                         .delivery_id = longid};
    TK_CHECK_INT(deliver(&l, &r), 0);
    TK_CHECK_INT(r.status, 200);
}

TK_TEST(constant_time_compare)
{
    char want[TK_HMAC_HEX];
    memset(want, 'a', 64);
    want[64] = '\0';
    TK_CHECK(tk_hmac_hex_equal(want, 64, want));
    TK_CHECK(tk_hmac_hex_equal("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                               64, want));
    TK_CHECK(!tk_hmac_hex_equal(want, 63, want));
    TK_CHECK(!tk_hmac_hex_equal(NULL, 0, want));
    TK_CHECK(!tk_hmac_hex_equal("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
                                64, want));
    /* RFC 4231 test case 2 */
    struct tk_error err = {0};
    char hex[TK_HMAC_HEX];
    TK_CHECK_INT(tk_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, hex, &err), 0);
    TK_CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TK_TEST(declarations_are_checked_when_the_script_loads)
{
    static const char *const bad[][2] = {
        {"webhook('a', function() end) webhook('a', function() end)", "declared twice"},
        {"webhook('Bad Name', function() end)", "a name is 1 to 64"},
        {"webhook('a', {header = 'X Sig'}, function() end)", "printable ASCII"},
        {"webhook('a', {bogus = 1}, function() end)", "unknown option"},
        {"webhook('a', {header = 42}, function() end)", "must be a string"},
        {"webhook('a')", "function expected"},
        {"event(1, 'paid')", "only be called from a webhook() handler"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tk_script *sc = NULL;
        struct tk_error err = {0};
        TK_CHECK(tk_script_load_text(&sc, "t.lua", bad[i][0], strlen(bad[i][0]), NULL, NULL, NULL,
                                     &err) != 0);
        if (!strstr(err.msg, bad[i][1]))
            fprintf(stderr, "script %zu: %s\n", i, err.msg);
        TK_CHECK(strstr(err.msg, bad[i][1]) != NULL);
        TK_CHECK(strstr(err.msg, "t.lua:1:") != NULL);
        tk_script_free(sc);
    }
    /* a script with webhooks only is a script */
    struct tk_script *sc = NULL;
    struct tk_error err = {0};
    const char *ok = "webhook('a', {prefix = ''}, function(req) return nil end)";
    TK_CHECK_INT(tk_script_load_text(&sc, "t.lua", ok, strlen(ok), NULL, NULL, NULL, &err), 0);
    TK_CHECK(sc && sc->nhooks == 1 && sc->hooks[0].spec.has_prefix && !sc->hooks[0].spec.prefix[0]);
    tk_script_free(sc);
}

int main(void)
{
    if (setup()) {
        teardown();
        return 1;
    }
    TK_RUN(valid_signature_records_the_event_with_the_hook_as_actor);
    TK_RUN(replay_is_200_and_changes_nothing);
    TK_RUN(replay_window_is_24_hours);
    TK_RUN(bad_or_missing_signature_is_401_logged_and_changes_nothing);
    TK_RUN(upper_case_digest_is_accepted);
    TK_RUN(unknown_hook_is_404);
    TK_RUN(unknown_item_or_event_is_422_and_changes_nothing);
    TK_RUN(handler_errors_are_422_and_roll_back_their_writes);
    TK_RUN(form_encoded_provider_with_its_own_header);
    TK_RUN(request_fields_reach_the_handler);
    TK_RUN(hostile_bodies_are_refused_cleanly);
    TK_RUN(constant_time_compare);
    TK_RUN(declarations_are_checked_when_the_script_loads);
    teardown();
    return tk_test_done();
}
