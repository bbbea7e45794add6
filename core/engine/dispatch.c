/* dispatch.c - from the outbox to the transport.
 *
 * A dispatcher claims a small batch with a lease and a fencing token (one
 * short immediate transaction), hands each message to the transport, and
 * records each result in its own short transaction, guarded by the token: a
 * dispatcher that was frozen past its lease finds its rows taken over and
 * its late result refused.  A message is marked sent only after the
 * transport accepted it; a crash between the two resends it later with the
 * same Message-ID (at-least-once, see docs/delivery.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CLAIM_BATCH 64

static uint32_t jitter(void)
{
    uint32_t r = 0;
    tk_random_bytes(&r, sizeof r);
    return r;
}

/* Dead after the maximum age or attempt count; else queued again later. */
static int settle(struct tk_engine *e, struct tk_outbox_row *r,
                  const struct tk_delivery_result *res, struct tk_dispatch_stats *st,
                  struct tk_error *err)
{
    int state = TK_OUTBOX_SENT, rc;
    tk_time next = 0;
    const struct tk_config *c = &e->cfg;

    if (res->status == TK_PERMANENT) {
        state = TK_OUTBOX_DEAD;
    } else if (res->status != TK_DELIVERED) {
        state = TK_OUTBOX_QUEUED;
        next = e->now + tk_backoff_delay(r->attempts, c->retry_base_seconds, c->retry_cap_seconds,
                                         jitter());
        if ((c->max_age_seconds > 0 && e->now - r->created_at >= c->max_age_seconds) ||
            (c->max_attempts > 0 && r->attempts >= c->max_attempts))
            state = TK_OUTBOX_DEAD;
    }
    if ((rc = tk_db_begin(e->db, TK_TX_IMMEDIATE, err)))
        return rc;
    rc = tk_store_outbox_finish(e->db, r->id, r->lease_token, state, e->now, next,
                                res->reply_code, res->reply, err);
    if (rc == TK_ECONFLICT) {
        tk_db_rollback(e->db);
        st->stale++;
        return 0;
    }
    if (rc == 0 && state == TK_OUTBOX_DEAD) {
        char detail[TK_ERROR_MAX + 128];
        snprintf(detail, sizeof detail, "delivery of %s to %s failed for good after %d attempt%s: %s",
                 r->kind, r->recipient, r->attempts, r->attempts == 1 ? "" : "s", res->reply);
        rc = tk_store_audit_add(e->db, e->now, "dispatcher", r->account_id, r->item_id, 0,
                                "delivery-failed", detail, err);
    }
    if (rc) {
        tk_db_rollback(e->db);
        return rc;
    }
    if ((rc = tk_db_commit(e->db, err)))
        return rc;
    switch (res->status) {
    case TK_DELIVERED: st->delivered++; break;
    case TK_PERMANENT: st->permanent++; break;
    case TK_UNKNOWN: st->unknown++; break;
    default: st->temporary++; break;
    }
    if (state == TK_OUTBOX_DEAD && res->status != TK_PERMANENT)
        st->permanent++;
    return 0;
}

static void release_rest(struct tk_engine *e, struct tk_outbox_row *rows, size_t from, size_t n,
                         const struct tk_delivery_result *why, struct tk_dispatch_stats *st)
{
    struct tk_error err;
    for (size_t i = from; i < n; i++) {
        if (why)
            settle(e, &rows[i], why, st, &err);
        else if (tk_db_begin(e->db, TK_TX_IMMEDIATE, &err) == 0) {
            if (tk_store_outbox_release(e->db, rows[i].id, rows[i].lease_token, &err) == 0)
                tk_db_commit(e->db, &err);
            else
                tk_db_rollback(e->db);
        }
    }
}

int tk_engine_dispatch(struct tk_engine *e, struct tk_dispatch_stats *st, struct tk_error *err)
{
    const struct tk_plugin *tp = tk_registry_transport(&e->plugins, e->cfg.transport_plugin);
    struct tk_outbox_row *rows = NULL;
    void *conn = NULL;
    int opened = 0, rc = 0;
    size_t n = 0;

    memset(st, 0, sizeof *st);
    if (!tp)
        return tk_error_set(err, TK_EINVAL, "no transport plugin '%s' loaded",
                            e->cfg.transport_plugin ? e->cfg.transport_plugin : "");
    while (!(e->stop && *e->stop)) {
        size_t i;
        int broken = 0;
        if ((rc = tk_db_begin(e->db, TK_TX_IMMEDIATE, err)))
            break;
        rc = tk_store_outbox_claim(e->db, e->now, e->cfg.lease_seconds, CLAIM_BATCH, &rows, &n, err);
        if (rc || (rc = tk_db_commit(e->db, err))) {
            tk_db_rollback(e->db);
            break;
        }
        if (n == 0)
            break;
        if (!opened) {
            struct tk_error oerr = {0};
            if (tp->transport->open(tp->state, &conn, &oerr)) {
                struct tk_delivery_result res;
                memset(&res, 0, sizeof res);
                res.status = TK_TEMPORARY;
                tk_strlcpy(res.reply, oerr.msg, sizeof res.reply);
                release_rest(e, rows, 0, n, &res, st);
                tk_engine_warn(e, "transport %s: %s; %zu message%s stay queued", tp->hdr->name,
                               oerr.msg, n, n == 1 ? "" : "s");
                break;
            }
            opened = 1;
        }
        for (i = 0; i < n && !(e->stop && *e->stop) && !broken; i++) {
            struct tk_outbox_row *r = &rows[i];
            struct tk_message m = {r->message_id, r->sender, r->recipient, r->data, strlen(r->data)};
            struct tk_delivery_result res;
            struct tk_error serr = {0};
            memset(&res, 0, sizeof res);
            if (tp->transport->send(conn, &m, &res, &serr)) {
                res.status = TK_TEMPORARY;
                if (!res.reply[0])
                    tk_strlcpy(res.reply, serr.msg, sizeof res.reply);
            }
            if ((rc = settle(e, r, &res, st, err)))
                break;
            /* The server is unreachable: the rest of the batch would fail the
             * same way; leave it for the backoff instead of hammering. */
            if (res.status == TK_TEMPORARY && res.reply_code == 0) {
                broken = 1;
                release_rest(e, rows, i + 1, n, &res, st);
                tk_engine_warn(e, "transport %s: %s; queued messages go out on a later tick",
                               tp->hdr->name, res.reply);
            }
        }
        if (!rc && !broken && i < n)
            release_rest(e, rows, i, n, NULL, st); /* stopping: give the rest back */
        for (size_t j = 0; j < n; j++)
            tk_outbox_row_free(&rows[j]);
        free(rows);
        rows = NULL;
        if (rc || broken)
            break;
    }
    if (opened)
        tp->transport->close(conn);
    return rc;
}
