/*
 * cmd_inbound.c - `tickler inbound`: one message that came back (a bounce,
 * an automatic reply, a client's reply), read from standard input as a
 * Postfix pipe, procmail or sieve hands it over; or, with --poll, one poll
 * of the [inbound] url mailbox.  Both go through tk_engine_inbound.
 *
 * Exit status, for the MTA: 0 when the message was recorded or
 * deliberately ignored (junk, a duplicate), 1 when it could not be
 * processed (the store, memory): the MTA keeps it and tries again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

/* Standard input, at most LIMIT bytes kept; the rest is read and dropped
 * (a pipe must be drained) and *CUT set: the message is then classified
 * from its header section. */
static int read_stdin(size_t limit, struct tk_buf *out, int *cut, struct tk_error *err)
{
    char chunk[65536];
    *cut = 0;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return tk_error_set(err, TK_EIO, "reading the message on standard input: %s",
                                strerror(errno));
        if (n == 0)
            return 0;
        size_t keep = out->len < limit ? limit - out->len : 0;
        if ((size_t)n > keep)
            *cut = 1;
        if (keep && tk_buf_append(out, chunk, (size_t)n < keep ? (size_t)n : keep))
            return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
}

static void print_outcome(struct tk_cli *c, const struct tk_engine_inbound_outcome *o)
{
    if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "class", tk_json_str(o->cls));
        json_object_set_new(j, "action", tk_json_str(o->action));
        json_object_set_new(j, "duplicate", json_boolean(o->duplicate));
        json_object_set_new(j, "item", o->item_id ? json_integer(o->item_id) : json_null());
        json_object_set_new(j, "outbox", o->outbox_id ? json_integer(o->outbox_id) : json_null());
        json_object_set_new(j, "detail", tk_json_str(o->detail));
        tk_cli_emit(j);
    } else {
        printf("%s: %s%s%s\n", o->cls, o->action, o->detail[0] ? ": " : "", tk_cli_text(o->detail));
    }
}

static int poll_once(struct tk_cli *c, struct tk_error *err)
{
    struct tk_engine_poll_stats st;
    int rc;
    if (!tk_engine_inbound_polls(c->e))
        return tk_error_set(err, TK_EUSAGE,
                            "inbound --poll: no mailbox configured ([inbound] url)");
    rc = tk_engine_inbound_poll(c->e, &st, err);
    if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "found", json_integer(st.found));
        json_object_set_new(j, "processed", json_integer(st.processed));
        json_object_set_new(j, "failed", json_integer(st.failed));
        json_object_set_new(j, "duplicates", json_integer(st.duplicates));
        tk_cli_emit(j);
    } else {
        printf("%u found, %u processed (%u seen before), %u failed\n", st.found, st.processed,
               st.duplicates, st.failed);
    }
    return rc;
}

int tk_cmd_inbound_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"recipient=", "poll", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (!rc && (a->pos.n || (tk_cli_opt(a, "poll") && tk_cli_opt(a, "recipient"))))
        rc = tk_error_set(err, TK_EUSAGE, "usage: tickler inbound [--recipient ADDRESS] [--poll]");
    return rc;
}

int tk_cmd_inbound(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    const struct tk_config *cfg = tk_engine_config(c->e);
    struct tk_engine_inbound_outcome o;
    struct tk_engine_inbound_req rq;
    struct tk_buf msg = {0};
    int cut = 0, rc;

    if (tk_cli_opt(a, "poll")) {
        rc = poll_once(c, err);
        goto out;
    }
    if ((rc = read_stdin((size_t)(cfg->inbound_max_kb > 0 ? cfg->inbound_max_kb : 10240) * 1024,
                         &msg, &cut, err)))
        goto out;
    memset(&rq, 0, sizeof rq);
    rq.data = msg.data ? msg.data : "";
    rq.len = msg.len;
    rq.envelope_rcpt = tk_cli_opt(a, "recipient");
    rq.headers_only = cut;
    if ((rc = tk_engine_begin(c->e, TK_TX_IMMEDIATE, err)))
        goto out;
    if ((rc = tk_engine_inbound(c->e, &rq, &o, err)) || (rc = tk_engine_commit(c->e, err))) {
        tk_engine_rollback(c->e);
        goto out;
    }
    if (strcmp(o.action, "unmatched") == 0)
        tk_engine_warn(c->e, "inbound: %s", o.detail);
    print_outcome(c, &o);
out:
    tk_buf_free(&msg);
    /* 1, never 2, for a message that could not be processed: the MTA
     * defers it (a usage error is the administrator's, and says so) */
    return rc;
}
