/* dispatch.c - from the outbox to the transport.
 *
 * A dispatcher claims a small batch with a lease and a fencing token (one
 * short immediate transaction), hands each message to the transport, and
 * records each result in its own short transaction, guarded by the token: a
 * dispatcher that was frozen past its lease finds its rows taken over and
 * its late result refused.  A message is marked sent only after the
 * transport accepted it; a crash between the two resends it later with the
 * same Message-ID (at-least-once, see docs/delivery.md).
 *
 * With [transport] connections = N > 1, N workers run side by side, each
 * with its own store connection and transport connection; they share
 * nothing but the store, which is also what keeps two `tickler run`
 * processes apart, so one mechanism covers threads and processes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CLAIM_BATCH 64

struct worker {
    struct tk_engine *e;
    const struct tk_plugin *tp;
    struct tk_db *db;          /* e->db for the first worker, else its own */
    volatile int *halt;        /* shared: the transport is unreachable */
    struct tk_dispatch_stats st;
    struct tk_error err;
    int rc;
};

static uint32_t jitter(void)
{
    uint32_t r = 0;
    tk_random_bytes(&r, sizeof r);
    return r;
}

static int stopping(const struct worker *w)
{
    return (w->e->stop && *w->e->stop) || __atomic_load_n(w->halt, __ATOMIC_RELAXED);
}

/* The engine's clock as it is now, not as it was when the tick began:
 * leases run in real time.  e->now itself stays put, so a command run with
 * --now records the times it was given. */
static tk_time clock_now(const struct tk_engine *e)
{
    return tk_time_real() + e->clock_offset;
}

static void count(struct tk_dispatch_stats *st, int status)
{
    switch (status) {
    case TK_DELIVERED: st->delivered++; break;
    case TK_PERMANENT: st->permanent++; break;
    case TK_UNKNOWN: st->unknown++; break;
    default: st->temporary++; break;
    }
}

/* Dead after the maximum age or attempt count; else queued again later. */
static int settle(struct worker *w, struct tk_outbox_row *r, const struct tk_delivery_result *res,
                  struct tk_error *err)
{
    struct tk_engine *e = w->e;
    const struct tk_config *c = &e->cfg;
    int state = TK_OUTBOX_SENT, rc;
    tk_time next = 0;

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
    if ((rc = tk_db_begin(w->db, TK_TX_IMMEDIATE, err)))
        return rc;
    rc = tk_store_outbox_finish(w->db, r->id, r->lease_token, state, e->now, next,
                                res->reply_code, res->reply, err);
    if (rc == TK_ECONFLICT) {
        /* Our lease ran out and another dispatcher owns the row now: its
         * outcome stands, ours is dropped (fencing). */
        tk_db_rollback(w->db);
        w->st.stale++;
        tk_engine_warn(e, "outbox %lld: stale completion refused (lease token %lld was taken over)",
                       (long long)r->id, (long long)r->lease_token);
        return 0;
    }
    if (rc == 0 && state == TK_OUTBOX_DEAD) {
        char detail[TK_ERROR_MAX + 128];
        snprintf(detail, sizeof detail, "delivery of %s to %s failed for good after %d attempt%s: %s",
                 r->kind, r->recipient, r->attempts, r->attempts == 1 ? "" : "s", res->reply);
        rc = tk_store_audit_add(w->db, e->now, "dispatcher", r->account_id, r->item_id, 0,
                                "delivery-failed", detail, err);
    }
    if (rc) {
        tk_db_rollback(w->db);
        return rc;
    }
    if ((rc = tk_db_commit(w->db, err)))
        return rc;
    count(&w->st, res->status);
    if (state == TK_OUTBOX_DEAD && res->status != TK_PERMANENT)
        w->st.permanent++;
    return 0;
}

/* Give rows back.  WHY set: they count as failed attempts (the server is
 * unreachable); NULL: the attempt never happened (stopping, lease nearly
 * out), so the claim's attempt is taken back. */
static void release_rest(struct worker *w, struct tk_outbox_row *rows, size_t from, size_t n,
                         const struct tk_delivery_result *why)
{
    struct tk_error err;
    for (size_t i = from; i < n; i++) {
        if (why) {
            settle(w, &rows[i], why, &err);
        } else if (tk_db_begin(w->db, TK_TX_IMMEDIATE, &err) == 0) {
            int rc = tk_store_outbox_release(w->db, rows[i].id, rows[i].lease_token, &err);
            if (rc == 0) {
                tk_db_commit(w->db, &err);
            } else {
                tk_db_rollback(w->db);
                if (rc == TK_ECONFLICT)
                    w->st.stale++;
            }
        }
    }
}

static void free_rows(struct tk_outbox_row *rows, size_t n)
{
    for (size_t j = 0; j < n; j++)
        tk_outbox_row_free(&rows[j]);
    free(rows);
}

/* Whether the lease on R leaves time to send: a send that starts when the
 * lease is about to run out would likely race the dispatcher that takes it
 * over.  A quarter of the lease is the margin (a 300 s lease keeps 75 s,
 * more than the smtp transport's default timeout). */
static int lease_left(const struct worker *w, const struct tk_outbox_row *r)
{
    return clock_now(w->e) + w->e->cfg.lease_seconds / 4 < r->lease_until;
}

static int claim(struct worker *w, struct tk_outbox_row **rows, size_t *n)
{
    int rc = tk_db_begin(w->db, TK_TX_IMMEDIATE, &w->err);
    if (rc)
        return rc;
    rc = tk_store_outbox_claim(w->db, clock_now(w->e), w->e->cfg.lease_seconds, CLAIM_BATCH, rows,
                               n, &w->err);
    if (rc || (rc = tk_db_commit(w->db, &w->err))) {
        tk_db_rollback(w->db);
        if (*rows)
            free_rows(*rows, *n);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

/* Send one claimed batch; returns non-zero to end this worker's run. */
static int send_batch(struct worker *w, void *conn, struct tk_outbox_row *rows, size_t n)
{
    struct tk_engine *e = w->e;
    const struct tk_plugin *tp = w->tp;
    size_t i;
    for (i = 0; i < n && !stopping(w) && lease_left(w, &rows[i]); i++) {
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
        if ((w->rc = settle(w, r, &res, &w->err))) {
            release_rest(w, rows, i + 1, n, NULL);
            return 1;
        }
        /* The server is unreachable: the rest of the batch would fail the
         * same way; leave it for the backoff instead of hammering, and tell
         * the other workers. */
        if (res.status == TK_TEMPORARY && res.reply_code == 0) {
            __atomic_store_n(w->halt, 1, __ATOMIC_RELAXED);
            release_rest(w, rows, i + 1, n, &res);
            tk_engine_warn(e, "transport %s: %s; queued messages go out on a later tick",
                           tp->hdr->name, res.reply);
            return 1;
        }
    }
    if (i < n)
        release_rest(w, rows, i, n, NULL); /* stopping or lease nearly out: give back */
    return stopping(w);
}

static void *work(void *u)
{
    struct worker *w = u;
    const struct tk_plugin *tp = w->tp;
    void *conn = NULL;
    int opened = 0;

    while (!stopping(w)) {
        struct tk_outbox_row *rows = NULL;
        size_t n = 0;
        int done;
        if ((w->rc = claim(w, &rows, &n)) || n == 0)
            break;
        if (!opened) {
            struct tk_error oerr = {0};
            if (tp->transport->open(tp->state, &conn, &oerr)) {
                struct tk_delivery_result res;
                memset(&res, 0, sizeof res);
                res.status = TK_TEMPORARY;
                tk_strlcpy(res.reply, oerr.msg, sizeof res.reply);
                __atomic_store_n(w->halt, 1, __ATOMIC_RELAXED);
                release_rest(w, rows, 0, n, &res);
                tk_engine_warn(w->e, "transport %s: %s; %zu message%s stay queued", tp->hdr->name,
                               oerr.msg, n, n == 1 ? "" : "s");
                free_rows(rows, n);
                break;
            }
            opened = 1;
        }
        done = send_batch(w, conn, rows, n);
        free_rows(rows, n);
        if (done)
            break;
    }
    if (opened)
        tp->transport->close(conn);
    return NULL;
}

static void add_stats(struct tk_dispatch_stats *to, const struct tk_dispatch_stats *from)
{
    to->delivered += from->delivered;
    to->temporary += from->temporary;
    to->permanent += from->permanent;
    to->unknown += from->unknown;
    to->stale += from->stale;
}

int tk_engine_dispatch(struct tk_engine *e, struct tk_dispatch_stats *st, struct tk_error *err)
{
    const struct tk_plugin *tp = tk_registry_transport(&e->plugins, e->cfg.transport_plugin);
    int nw = e->cfg.transport_connections > 1 ? e->cfg.transport_connections : 1;
    struct worker *ws;
    pthread_t *th;
    volatile int halt = 0;
    int rc = 0, started = 1;

    memset(st, 0, sizeof *st);
    if (!tp)
        return tk_error_set(err, TK_EINVAL, "no transport plugin '%s' loaded",
                            e->cfg.transport_plugin ? e->cfg.transport_plugin : "");
    ws = calloc((size_t)nw, sizeof *ws);
    th = calloc((size_t)nw, sizeof *th);
    if (!ws || !th) {
        free(ws);
        free(th);
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    for (int i = 0; i < nw; i++) {
        ws[i].e = e;
        ws[i].tp = tp;
        ws[i].halt = &halt;
        ws[i].db = e->db;
    }
    /* Extra workers open their own store connections; if one cannot, fewer
     * workers deliver (the first one always runs on the engine's own). */
    for (int i = 1; i < nw; i++) {
        struct tk_error oerr = {0};
        if (tk_db_open(&e->cfg, &ws[i].db, &oerr)) {
            tk_engine_warn(e, "dispatch: worker %d: %s; delivering with %d connection%s", i + 1,
                           oerr.msg, i, i == 1 ? "" : "s");
            ws[i].db = NULL;
            break;
        }
        if (pthread_create(&th[i], NULL, work, &ws[i]) != 0) {
            tk_db_close(ws[i].db);
            ws[i].db = NULL;
            break;
        }
        started++;
    }
    work(&ws[0]);
    for (int i = 1; i < started; i++) {
        pthread_join(th[i], NULL);
        tk_db_close(ws[i].db);
    }
    for (int i = 0; i < started; i++) {
        add_stats(st, &ws[i].st);
        if (ws[i].rc && !rc) {
            rc = ws[i].rc;
            if (err)
                *err = ws[i].err;
        }
    }
    free(ws);
    free(th);
    return rc;
}
