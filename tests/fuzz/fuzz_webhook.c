/* fuzz_webhook.c - hostile requests through the inbound webhook mapping,
 * from the request to the engine (tk_engine_webhook_receive): the
 * signature check, the request as a Lua table (headers, JSON, form), the
 * handler's answer and the event it asks the engine to record.
 *
 * A real engine on a temporary SQLite store with the real item plugins
 * ($TK_PLUGIN_DIR) and templates ($TK_SOURCE_DIR/etc/templates), an
 * account and an invoice, and a handler script that reads every part of
 * the request and returns the item, event and id the JSON names.  Each
 * input is one request, in a transaction that is rolled back afterwards,
 * so every input meets the same store.
 *
 * Input: byte 0 picks the hook (payments, esign, test, unknown) and
 * whether the signature is computed (so the fuzzer gets past it) or
 * taken from the input; byte 1 the content type; then NUL-separated
 * header lines "Name: value" up to an empty one, then the body.
 * Whatever the input:
 *   - the status is one of 200, 401, 404, 409, 422, and the reply body
 *     parses as JSON with "status" (200) or "error" (else);
 *   - a request whose signature was not computed from the secret is 401
 *     (or 404 for an unknown hook) - never handled;
 *   - no warning line holds the secret. */
#define _GNU_SOURCE 1
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "engine/webhooks.h"
#include "lua/pipeline.h"
#include "util/hmac.h"

#define SECRET "fuzz-secret-0123456789"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static struct tk_engine *eng;
static struct tk_pipelines *pl;
static int secret_logged;

static void warn(void *u, const char *msg)
{
    (void)u;
    if (strstr(msg, SECRET))
        secret_logged = 1;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs(text, f);
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *plugins = getenv("TK_PLUGIN_DIR"), *src = getenv("TK_SOURCE_DIR");
    char dir[] = "/tmp/tk_fuzz_webhook.XXXXXX", path[512], ini[4096];
    struct tk_error err = {0};
    int64_t acc = 0, item = 0;
    if (!plugins || !src) {
        fprintf(stderr, "fuzz_webhook: set TK_PLUGIN_DIR and TK_SOURCE_DIR\n");
        exit(2);
    }
    CHECK(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/scripts", dir);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/scripts/hooks.lua", dir);
    put(path, "local function walk(v, d)\n"
              "  if d > 40 or type(v) ~= 'table' then return end\n"
              "  for k, x in pairs(v) do walk(x, d + 1) end\n"
              "end\n"
              "local function handle(req)\n"
              "  walk(req.headers, 0); walk(req.form, 0); walk(req.json, 0)\n"
              "  local _ = #req.body\n"
              "  local j = req.json\n"
              "  if type(j) ~= 'table' then return nil end\n"
              "  if j.call then event(j.item, j.event) end\n"
              "  return {item = j.item, event = j.event, id = j.id}\n"
              "end\n"
              "webhook('payments', handle)\n"
              "webhook('esign', {header = 'X-Esign-Signature', prefix = ''}, handle)\n"
              "webhook('test', {header = 'Sig', prefix = 'v1,'}, handle)\n");
    snprintf(ini, sizeof ini,
             "[store]\npath = %s/tk.db\n\n[transport]\nplugin = file\ndir = %s/spool\n"
             "from = Bakker <office@bakker.example>\n\n[plugins]\ndir = %s\n\n"
             "[templates]\ndir = %s/etc/templates\n\n[lua]\nscripts = %s/scripts\n"
             "time_limit_ms = 200\n\n"
             "[hooks]\npayments = " SECRET "\nesign = " SECRET "\ntest = " SECRET "\n",
             dir, dir, plugins, src, dir);
    snprintf(path, sizeof path, "%s/tickler.ini", dir);
    put(path, ini);
    if (tk_engine_open(&eng, path, 1796115600, 0, &err) || tk_pipelines_open(eng, &pl, &err) ||
        tk_pipelines_broken(pl, 0)) {
        fprintf(stderr, "fuzz_webhook: %s %s\n", err.msg,
                pl && tk_pipelines_broken(pl, 0) ? tk_pipelines_broken(pl, 0) : "");
        exit(2);
    }
    tk_engine_set_warn(eng, warn, NULL);
    struct tk_kv f = {0};
    tk_kv_set(&f, "amount", "1.00");
    tk_kv_set(&f, "currency", "EUR");
    struct tk_send_req rq = {.type = "invoice",
                             .title = "Fees",
                             .reminders = 0,
                             .every_days = -1,
                             .count = -1,
                             .fields = &f};
    CHECK(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err) == 0);
    CHECK(tk_engine_account_add(eng, "Acme", "en", &acc, &err) == 0);
    rq.account_id = acc;
    CHECK(tk_engine_send(eng, &rq, &item, &err) == 0);
    CHECK(tk_engine_commit(eng, &err) == 0);
    tk_kv_free(&f);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const hooks[] = {"payments", "esign", "test", "unknown"};
    static const char *const sigh[] = {"X-Tickler-Signature", "X-Esign-Signature", "Sig", "X"};
    static const char *const pre[] = {"sha256=", "", "v1,", ""};
    static const char *const types[] = {"application/json", "application/x-www-form-urlencoded",
                                        "text/plain", "application/vnd.x+json; charset=utf-8"};
    struct tk_webhook_header h[17];
    struct tk_webhook_reply out;
    struct tk_error err = {0};
    char *copy, sig[128], hex[TK_HMAC_HEX];
    size_t nh = 0, at = 2;
    if (size < 2)
        return 0;
    int which = data[0] & 3, sign = (data[0] >> 2) & 1;
    copy = malloc(size + 1);
    CHECK(copy);
    memcpy(copy, data, size);
    copy[size] = '\0';
    /* headers: NUL-terminated "Name: value" lines until an empty one */
    while (at < size && nh < 15 && copy[at]) {
        char *line = copy + at, *colon = strchr(line, ':');
        at += strlen(line) + 1;
        if (colon) {
            *colon = '\0';
            h[nh++] = (struct tk_webhook_header){line, colon[1] == ' ' ? colon + 2 : colon + 1};
        }
    }
    if (at < size)
        at++; /* the empty line */
    const char *body = at < size ? copy + at : NULL;
    size_t blen = at < size ? size - at : 0;
    /* the body must not be read past its length: hand it over in a buffer
     * of exactly that size */
    char *b = blen ? malloc(blen) : NULL;
    if (blen)
        memcpy(b, body, blen);
    if (sign) {
        CHECK(tk_hmac_sha256_hex(SECRET, strlen(SECRET), b ? b : "", blen, hex, &err) == 0);
        snprintf(sig, sizeof sig, "%s%s", pre[which], hex);
        h[nh++] = (struct tk_webhook_header){sigh[which], sig};
    }
    h[nh++] = (struct tk_webhook_header){"Content-Type", types[data[1] & 3]};
    struct tk_webhook_request req = {h, nh, b, blen, NULL};
    CHECK(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err) == 0);
    int rc = tk_engine_webhook_receive(eng, hooks[which], &req, &out, &err);
    tk_engine_rollback(eng); /* the same store for every input */
    CHECK(rc == 0);
    CHECK(out.status == 200 || out.status == 401 || out.status == 404 || out.status == 409 ||
          out.status == 422);
    if (which == 3)
        CHECK(out.status == 404);
    json_error_t je;
    json_t *j = json_loads(out.body, 0, &je);
    CHECK(j && json_is_object(j));
    CHECK(json_object_get(j, out.status == 200 ? "status" : "error"));
    json_decref(j);
    CHECK(!secret_logged);
    free(b);
    free(copy);
    return 0;
}
