/* inbound_driver.c - drives core/inbound for the integration tests, as the
 * engine will (phase 2): the real module, linked from tkcore.
 *
 *   tk_inbound_driver classify FILE [--secret S] [--return-path R]
 *                     [--rcpt ADDR] [--max-bytes N] [--headers-only]
 *       prints the result, one "name=value" per line
 *   tk_inbound_driver verp-make SECRET RETURN_PATH ID RCPT
 *   tk_inbound_driver poll --url U --user U --password P [--tls MODE]
 *                     [--ca-file F] [--done-folder F] [--max-bytes N]
 *                     [--max-messages N] [--timeout S] [--connect-timeout S]
 *                     [--calls FILE] [--record FILE] [--fail-match TEXT]
 *                     [--sleep-ms N]
 *       one tk_inbound_imap_poll.  The callback classifies each message,
 *       appends "key class uid uidvalidity oversize len" to --calls (every
 *       call, fsync'd), then records the key in --record unless it is there
 *       already (the idempotent store phase 2 will keep), sleeps --sleep-ms
 *       and refuses messages that contain --fail-match.  Prints
 *       "found=N processed=N failed=N gone=N".
 * Exit 0, or 1 with "tk_inbound_driver: MESSAGE" on stderr. */
#define _GNU_SOURCE /* memmem */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inbound/inbound.h"

struct poll_ctx {
    const char *calls, *record, *fail_match;
    long sleep_ms;
};

static int die(const char *msg)
{
    fprintf(stderr, "tk_inbound_driver: %s\n", msg);
    return 1;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct tk_buf b = {0};
    char chunk[65536];
    size_t n;
    if (!f)
        return NULL;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (tk_buf_append(&b, chunk, n)) {
            fclose(f);
            tk_buf_free(&b);
            return NULL;
        }
    fclose(f);
    *len = b.len;
    return b.data ? b.data : calloc(1, 1);
}

static void put(const char *name, const char *v)
{
    printf("%s=", name);
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p == '\\')
            fputs("\\\\", stdout);
        else
            putchar(*p);
    }
    putchar('\n');
}

static void dump(const struct tk_inbound_result *r)
{
    put("class", tk_inbound_class_name(r->cls));
    put("reason", r->reason);
    put("key", r->key);
    put("message_id", r->message_id);
    put("envelope_rcpt", r->envelope_rcpt);
    put("from", r->from);
    put("from_name", r->from_name);
    put("reply_to", r->reply_to);
    put("subject", r->subject);
    put("in_reply_to", r->in_reply_to);
    for (size_t i = 0; i < r->references.n; i++)
        put("reference", r->references.v[i]);
    put("original_message_id", r->original_message_id);
    put("original_kind", r->original_kind);
    printf("original_item=%lld\n", (long long)r->original_item);
    for (size_t i = 0; i < r->n_rcpts; i++) {
        const struct tk_inbound_rcpt *x = &r->rcpts[i];
        printf("rcpt=%s original=%s action=%s status=%s class=%s verified=%d\n", x->address,
               x->original ? x->original : "", x->action ? x->action : "",
               x->status ? x->status : "", tk_inbound_class_name(x->cls), x->verified);
        put("diagnostic", x->diagnostic);
    }
    printf("verp.present=%d\nverp.verified=%d\nverp.outbox_id=%lld\n", r->verp.present,
           r->verp.verified, (long long)r->verp.outbox_id);
    put("verp.rcpt", r->verp.rcpt);
    put("body", r->body);
    printf("body_truncated=%d\noversize=%d\ntoo_complex=%d\n", r->body_truncated, r->oversize,
           r->too_complex);
}

static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static int flag(int argc, char **argv, const char *name)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

static long num(int argc, char **argv, const char *name, long def)
{
    const char *v = opt(argc, argv, name);
    int64_t n;
    return v && tk_parse_int(v, 0, 1L << 40, &n) == 0 ? (long)n : def;
}

static int cmd_classify(int argc, char **argv)
{
    struct tk_inbound_options o = {0};
    struct tk_inbound_result r;
    struct tk_error err = {0};
    size_t len;
    char *data = slurp(argv[2], &len);
    if (!data)
        return die("cannot read the message file");
    o.secret = opt(argc, argv, "--secret");
    o.return_path = opt(argc, argv, "--return-path");
    o.envelope_rcpt = opt(argc, argv, "--rcpt");
    o.max_bytes = (size_t)num(argc, argv, "--max-bytes", 0);
    o.headers_only = flag(argc, argv, "--headers-only");
    int rc = tk_inbound_classify(data, len, &o, &r, &err);
    if (!rc)
        dump(&r);
    tk_inbound_result_free(&r);
    free(data);
    return rc ? die(err.msg) : 0;
}

/* Append LINE and make it durable before going on: the kill -9 test counts
 * on every line written before the callback returned. */
static int append(const char *path, const char *line)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd < 0)
        return -1;
    size_t n = strlen(line);
    int ok = write(fd, line, n) == (ssize_t)n && fsync(fd) == 0;
    close(fd);
    return ok ? 0 : -1;
}

static int recorded(const char *path, const char *key)
{
    size_t len;
    char *data = slurp(path, &len);
    int found = 0;
    if (!data)
        return 0;
    for (char *p = data; p && *p && !found;) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        found = n == strlen(key) && memcmp(p, key, n) == 0;
        p = nl ? nl + 1 : NULL;
    }
    free(data);
    return found;
}

static int on_message(void *vctx, const struct tk_inbound_fetched *m, struct tk_error *err)
{
    struct poll_ctx *c = vctx;
    struct tk_inbound_options o = {0};
    struct tk_inbound_result r;
    char line[1200];
    o.headers_only = m->oversize;
    int rc = tk_inbound_classify(m->data, m->len, &o, &r, err);
    if (rc)
        return rc;
    snprintf(line, sizeof line, "%s %s %u %u %d %zu\n", r.key, tk_inbound_class_name(r.cls), m->uid,
             m->uidvalidity, m->oversize, m->len);
    if (c->calls && append(c->calls, line))
        rc = tk_error_set(err, TK_EIO, "cannot write %s", c->calls);
    /* the idempotent record phase 2 keeps: a key is stored once */
    snprintf(line, sizeof line, "%s\n", r.key);
    if (!rc && c->record && !recorded(c->record, r.key) && append(c->record, line))
        rc = tk_error_set(err, TK_EIO, "cannot write %s", c->record);
    tk_inbound_result_free(&r);
    if (c->sleep_ms > 0) {
        struct timespec ts = {c->sleep_ms / 1000, (c->sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!rc && c->fail_match && m->len &&
        memmem(m->data, m->len, c->fail_match, strlen(c->fail_match)))
        rc = tk_error_set(err, TK_ETEMP, "refused by the test");
    return rc;
}

static int cmd_poll(int argc, char **argv)
{
    struct tk_inbound_imap_config cfg = {0};
    struct tk_inbound_imap_stats st;
    struct tk_error err = {0};
    struct poll_ctx c = {0};
    cfg.url = opt(argc, argv, "--url");
    cfg.username = opt(argc, argv, "--user");
    cfg.password = opt(argc, argv, "--password");
    cfg.tls = opt(argc, argv, "--tls");
    cfg.ca_file = opt(argc, argv, "--ca-file");
    cfg.done_folder = opt(argc, argv, "--done-folder");
    cfg.max_bytes = (size_t)num(argc, argv, "--max-bytes", 0);
    cfg.max_messages = (unsigned)num(argc, argv, "--max-messages", 0);
    cfg.timeout = num(argc, argv, "--timeout", 0);
    cfg.connect_timeout = num(argc, argv, "--connect-timeout", 0);
    c.calls = opt(argc, argv, "--calls");
    c.record = opt(argc, argv, "--record");
    c.fail_match = opt(argc, argv, "--fail-match");
    c.sleep_ms = num(argc, argv, "--sleep-ms", 0);
    int rc = tk_inbound_imap_poll(&cfg, on_message, &c, &st, &err);
    printf("found=%u processed=%u failed=%u gone=%u\n", st.found, st.processed, st.failed, st.gone);
    fflush(stdout);
    return rc ? die(err.msg) : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "classify") == 0)
        return cmd_classify(argc, argv);
    if (argc == 6 && strcmp(argv[1], "verp-make") == 0) {
        char out[TK_INBOUND_VERP_MAX];
        struct tk_error err = {0};
        int64_t id;
        if (tk_parse_int(argv[4], 1, INT64_MAX, &id))
            return die("bad id");
        if (tk_inbound_verp_make(argv[2], argv[3], id, argv[5], out, sizeof out, &err))
            return die(err.msg);
        puts(out);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "poll") == 0)
        return cmd_poll(argc, argv);
    fprintf(stderr, "usage: tk_inbound_driver classify FILE [...] | verp-make SECRET RP ID RCPT | "
                    "poll --url U --user U --password P [...]\n");
    return 2;
}
