/* webhook_driver.c - one inbound webhook delivery through the engine, as
 * the HTTP front end does for POST /hooks/NAME (engine/webhooks.h): for
 * the integration tests, on any store (SQLite or PostgreSQL).
 *
 *   tk_webhook_driver CONFIG NOW NAME ['Header: value']... < BODY
 *
 * Opens the engine and the Lua pipelines of CONFIG with the clock at NOW
 * (ISO 8601), reads the raw body from standard input (any bytes), calls
 * tk_engine_webhook_receive inside one immediate transaction, commits, and
 * prints the status on the first line and the reply body on the second.
 * Warnings go to standard error.  Exit 0 when an answer was produced,
 * 1 with "tk_webhook_driver: MESSAGE" otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/webhooks.h"
#include "lua/pipeline.h"

static int die(const char *msg)
{
    fprintf(stderr, "tk_webhook_driver: %s\n", msg);
    return 1;
}

static void warn(void *u, const char *msg)
{
    (void)u;
    fprintf(stderr, "tickler: warning: %s\n", msg);
}

int main(int argc, char **argv)
{
    struct tk_engine *e = NULL;
    struct tk_pipelines *pl = NULL;
    struct tk_error err = {0};
    struct tk_webhook_header h[32];
    struct tk_webhook_reply out;
    struct tk_buf body = {.max = 16 << 20};
    char chunk[8192];
    size_t n, nh = 0;
    tk_time now;
    int rc = 1;

    if (argc < 4)
        return die("usage: tk_webhook_driver CONFIG NOW NAME ['Header: value']... < BODY");
    if (tk_time_parse(argv[2], &now))
        return die("bad NOW");
    for (int i = 4; i < argc && nh < 32; i++) {
        char *c = strchr(argv[i], ':');
        if (!c)
            return die("a header is 'Name: value'");
        *c = '\0';
        h[nh++] = (struct tk_webhook_header){argv[i], c[1] == ' ' ? c + 2 : c + 1};
    }
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (tk_buf_append(&body, chunk, n))
            return die("body too large");
    if (tk_engine_open(&e, argv[1], now, 0, &err) || tk_pipelines_open(e, &pl, &err)) {
        rc = die(err.msg);
        goto out;
    }
    tk_engine_set_warn(e, warn, NULL);
    struct tk_webhook_request req = {h, nh, body.data, body.len, NULL};
    if (tk_engine_begin(e, TK_TX_IMMEDIATE, &err) ||
        tk_engine_webhook_receive(e, argv[3], &req, &out, &err) || tk_engine_commit(e, &err)) {
        tk_engine_rollback(e);
        rc = die(err.msg);
        goto out;
    }
    printf("%d\n%s\n", out.status, out.body);
    rc = 0;
out:
    tk_pipelines_close(pl);
    tk_engine_close(e);
    tk_buf_free(&body);
    return rc;
}
