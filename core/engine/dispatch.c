/* dispatch.c - from the outbox to the transport: the workers.
 *
 * A dispatcher claims a small batch with a lease and a fencing token (one
 * short immediate transaction), hands each message to the transport, and
 * records each result in its own short transaction, guarded by the token: a
 * dispatcher that was frozen past its lease finds its rows taken over and
 * its late result refused.  A message is marked sent only after the
 * transport accepted it; a crash between the two resends it later with the
 * same Message-ID (at-least-once, see docs/delivery.md).
 *
 * With [transport] connections = N > 1, N worker threads each keep their
 * own transport connection, and the dispatching thread does all their store
 * work on the engine's connection, committing whatever they handed over
 * since its last commit in one transaction (settle.c) once a worker waits
 * or half their unrecorded window has arrived (commit_due).  With one
 * connection on a store behind a server (PostgreSQL, where every record is
 * a round trip), the one worker runs on a thread the same way, with a
 * window of 2: a message goes out while the previous result is recorded
 * (dispatch_run).  Separate store
 * connections per worker spent most of their time waiting for SQLite's one
 * write lock (a busy handler that sleeps), and paid one commit per message.
 * Between processes the store still is the only thing shared (leases,
 * tokens). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

static int stopping(const struct worker *w)
{
    return tk_engine_stopping(w->e) || __atomic_load_n(w->halt, __ATOMIC_RELAXED);
}

/* One connection, idempotent transport: commit the results posted so far
 * in one transaction (tk_send_tasks_run_group). */
static void unrec_commit(struct worker *w)
{
    struct tk_send_task *list = w->unrec;
    w->unrec = NULL;
    w->unrec_tail = &w->unrec;
    if (list)
        tk_send_tasks_run_group(w->db, list);
}

/* Start J for its worker: through the hub when workers share the store
 * connection (it may still be running on return), else on the worker's
 * own connection: at once, or, for a result with a window above one (one
 * connection to a TK_TRANSPORT_IDEMPOTENT transport), when it or a later
 * result is waited for or before the next claim or give-back, so that the
 * store keeps the order of events. */
static void task_post(struct tk_send_task *t)
{
    struct worker *w = t->w;
    t->rc = 0;
    t->done = 0;
    if (w->hub) {
        tk_hub_post(w->hub, t);
    } else if (t->kind == TASK_SETTLE && w->nslot > 1 && !tk_webhook_is_row(&t->rows[t->from])) {
        /* (a webhook event posted twice is two requests: recorded at once) */
        t->next = NULL;
        if (!w->unrec_tail)
            w->unrec_tail = &w->unrec;
        *w->unrec_tail = t;
        w->unrec_tail = &t->next;
    } else {
        unrec_commit(w);
        tk_send_task_run_alone(w->db, t);
        t->done = 1;
    }
}

/* Wait for J; its counts go to the worker. */
static int task_wait(struct tk_send_task *t)
{
    if (t->w->hub)
        tk_hub_wait(t->w->hub, t);
    else if (!t->done)
        unrec_commit(t->w);
    tk_dispatch_stats_add(&t->w->st, &t->d);
    return t->rc;
}

static int run_task(struct tk_send_task *t)
{
    task_post(t);
    return task_wait(t);
}

/* Give rows back.  WHY set: they count as failed attempts (the server is
 * unreachable); NULL: the attempt never happened (stopping, lease nearly
 * out), so the claim's attempt is taken back. */
static void release_rest(struct worker *w, struct tk_outbox_row *rows, size_t from, size_t n,
                         const struct tk_delivery_result *why)
{
    struct tk_send_task t = {
        .w = w, .kind = TASK_RELEASE, .rows = rows, .from = from, .n = n, .why = why};
    if (from < n)
        run_task(&t);
}

/* Whether the lease on R leaves time to send: a send that starts when the
 * lease is about to run out would likely race the dispatcher that takes it
 * over.  More than a quarter of the lease must be left (a 300 s lease keeps
 * 75 s, more than the smtp transport's default timeout), measured to the
 * millisecond: another dispatcher may take R from the second lease_until
 * on.  (In whole seconds, with lease_seconds / 4 truncated, a 5 s lease
 * kept 1 s and one of 1-3 s none: a send could start in the lease's last
 * instant.) */
static int lease_left(const struct worker *w, const struct tk_outbox_row *r)
{
    int64_t left_ms = (int64_t)r->lease_until * 1000 - tk_dispatch_clock_ms(w->e);
    return 4 * left_ms > (int64_t)w->e->cfg.lease_seconds * 1000;
}

static int claim(struct worker *w, struct tk_outbox_row **rows, size_t *n)
{
    struct tk_send_task t = {.w = w, .kind = TASK_CLAIM, .idle = 1};
    int rc = run_task(&t);
    if (rc)
        w->err = t.err;
    *rows = t.claimed;
    *n = t.nclaimed;
    return rc;
}

/* Wait for the results of rows [*waited, upto) of a batch to be recorded;
 * the first failure goes to the worker.  IDLE: the worker has nothing to
 * send meanwhile (settle.c may then wait to commit more at once).  Returns
 * non-zero if one failed. */
static int wait_settled(struct worker *w, size_t *waited, size_t upto, int idle)
{
    int failed = 0;
    for (; *waited < upto; (*waited)++) {
        struct tk_send_task *t = &w->slot[*waited % w->nslot].task;
        t->idle = idle;
        if (task_wait(t) && !failed) {
            failed = 1;
            if (!w->rc) {
                w->rc = t->rc;
                w->err = t->err;
            }
        }
    }
    return failed;
}

/* A webhook subscription found unreachable earlier in this run: its
 * failure, else NULL. */
static const struct tk_delivery_result *hook_down(const struct worker *w, int64_t sub)
{
    for (size_t k = 0; k < w->nhook_down; k++)
        if (w->hook_down[k].sub == sub)
            return &w->hook_down[k].res;
    return NULL;
}

static int webhooks_after(const struct tk_outbox_row *rows, size_t from, size_t n)
{
    for (size_t k = from; k < n; k++)
        if (tk_webhook_is_row(&rows[k]))
            return 1;
    return 0;
}

/* Deliver row R (an email through the transport, a webhook event with
 * tk_webhook_post) into RES.  Returns 1 when something was tried, 0 when
 * R failed at once because its destination was found unreachable earlier
 * in this run (RES is then that failure). */
static int deliver(struct worker *w, void **conn, int *opened, const struct tk_outbox_row *r,
                   struct tk_delivery_result *res, int *noconn)
{
    const struct tk_plugin *tp = w->tp;
    struct tk_message m = {r->message_id, r->sender, r->recipient, r->data,
                           r->data ? strlen(r->data) : 0};
    struct tk_error serr = {0};
    const struct tk_delivery_result *known;
    memset(res, 0, sizeof *res);
    *noconn = 0;
    if (!r->data) {
        /* its outbox_data row is gone (removed by hand): nothing to send,
         * and no retry brings it back */
        res->status = TK_PERMANENT;
        tk_strlcpy(res->reply, "the message text is missing from the store", sizeof res->reply);
        return 0;
    }
    if (tk_webhook_is_row(r)) {
        if ((known = hook_down(w, r->step))) {
            *res = *known;
            return 0;
        }
        tk_webhook_post(r, res);
        if (res->status == TK_TEMPORARY && res->reply_code == 0 &&
            w->nhook_down < sizeof w->hook_down / sizeof w->hook_down[0]) {
            w->hook_down[w->nhook_down].sub = r->step;
            w->hook_down[w->nhook_down++].res = *res;
        }
        return 1;
    }
    if (w->mail_down) {
        *res = w->mail_res;
        return 0;
    }
    /* The transport is opened at the first email, so that a batch of
     * webhook events never waits for (or fails with) the mail relay. */
    if (!*opened) {
        if (tp->transport->open(tp->state, conn, &serr)) {
            res->status = TK_TEMPORARY;
            tk_strlcpy(res->reply, serr.msg, sizeof res->reply);
            *noconn = 1;
            return 1;
        }
        *opened = 1;
    }
    if (tp->transport->send(*conn, &m, res, &serr)) {
        res->status = TK_TEMPORARY;
        if (!res->reply[0])
            tk_strlcpy(res->reply, serr.msg, sizeof res->reply);
    }
    return 1;
}

/* Send one claimed batch; returns non-zero to end this worker's run.
 * Row i's result is handed over once row i is sent; before that, the
 * worker waits for the results of the rows before i + 2 - W to be
 * recorded, W being [delivery] unrecorded_max (w->nslot).  So a worker
 * never has more than W delivered rows whose results are not yet
 * committed, which bounds the duplicates after a crash (docs/delivery.md);
 * with one connection a result is committed before task_post returns (W is
 * 1), unless the transport is TK_TRANSPORT_IDEMPOTENT (W results, then one
 * commit: task_post) or the store is remote (W is 2, through the hub:
 * dispatch_run).  Every posted task is waited for before this returns: the slots are
 * the worker's. */
static int send_batch(struct worker *w, void **conn, int *opened, struct tk_outbox_row *rows,
                      size_t n)
{
    struct tk_engine *e = w->e;
    const struct tk_plugin *tp = w->tp;
    size_t i, waited = 0, win = w->nslot, tried = 0;
    for (i = 0; i < n && !stopping(w) && lease_left(w, &rows[i]); i++) {
        struct pending *p = &w->slot[i % win];
        struct tk_outbox_row *r = &rows[i];
        size_t upto = i + 2 > win ? i + 2 - win : 0;
        int failed, down, noconn;
        if (upto > i)
            upto = i; /* W = 1: row i itself, once posted (below) */
        tried += (size_t)deliver(w, conn, opened, r, &p->res, &noconn);
        down = !tk_webhook_is_row(r) && !w->mail_down && p->res.status == TK_TEMPORARY &&
               p->res.reply_code == 0;
        failed = wait_settled(w, &waited, upto, i + 1 == n);
        p->task = (struct tk_send_task){
            .w = w, .kind = TASK_SETTLE, .rows = rows, .from = i, .why = &p->res};
        task_post(&p->task);
        if (win < 2 || failed || down)
            failed |= wait_settled(w, &waited, i + 1, 1);
        if (failed) {
            release_rest(w, rows, i + 1, n, NULL);
            return 1;
        }
        /* The server is unreachable: the rest of the batch would fail the
         * same way; leave it for the backoff instead of hammering, and tell
         * the other workers (once this batch's webhook events, which do not
         * need the relay, are posted). */
        if (down) {
            if (noconn)
                tk_engine_warn(e, "transport %s: %s; %zu message%s stay queued", tp->hdr->name,
                               p->res.reply, n - i, n - i == 1 ? "" : "s");
            else
                tk_engine_warn(e, "transport %s: %s; queued messages go out on a later tick",
                               tp->hdr->name, p->res.reply);
            if (webhooks_after(rows, i + 1, n)) {
                w->mail_down = 1;
                w->mail_res = p->res;
                continue;
            }
            __atomic_store_n(w->halt, 1, __ATOMIC_RELAXED);
            release_rest(w, rows, i + 1, n, &p->res);
            return 1;
        }
    }
    if (wait_settled(w, &waited, i, 1)) {
        release_rest(w, rows, i, n, NULL);
        return 1;
    }
    if (i < n)
        release_rest(w, rows, i, n, NULL); /* stopping or lease nearly out: give back */
    if (w->mail_down)
        __atomic_store_n(w->halt, 1, __ATOMIC_RELAXED);
    /* nothing of this batch could be tried (every destination in it is
     * down): end the run rather than claim the same rows again */
    return stopping(w) || w->mail_down || (tried == 0 && i == n);
}

/* Claim a batch and send it; returns non-zero to end this worker's run. */
static int claim_and_send(struct worker *w, void **conn, int *opened)
{
    struct tk_outbox_row *rows = NULL;
    size_t n = 0;
    int done;
    if ((w->rc = claim(w, &rows, &n)) || n == 0)
        return 1;
    done = send_batch(w, conn, opened, rows, n);
    tk_dispatch_rows_free(rows, n);
    return done;
}

static void *work(void *u)
{
    struct worker *w = u;
    const struct tk_plugin *tp = w->tp;
    void *conn = NULL;
    int opened = 0;

    while (!stopping(w) && !claim_and_send(w, &conn, &opened))
        ;
    if (opened)
        tp->transport->close(conn);
    return NULL;
}

/* What inline_round did: delivered a round and more may be due; nothing
 * more to do (nothing due, stopping, the transport down, a failure in
 * w->rc); or found a webhook event, to go the claimed way. */
enum { INLINE_MORE, INLINE_DONE, INLINE_CLAIM };

/* One round of work_inline: in one immediate transaction, read up to W
 * rows due (W = [delivery] unrecorded_max), write them through the
 * transport, record them, commit.  The fencing token is a claim's: one
 * for up to TK_CLAIM_BATCH rows, as a claim of that many would have, drawn
 * again when another claim drew one meanwhile (*TOKEN, *LEFT: the rows it
 * may still cover), so the rows' tokens are the claimed path's. */
static int inline_round(struct worker *w, void **conn, int *opened, struct tk_outbox_row *rows,
                        struct tk_delivery_result *res, int64_t *token, size_t *left)
{
    struct tk_engine *e = w->e;
    struct tk_db *db = w->db;
    struct tk_dispatch_stats d = {0};
    size_t win = w->nslot, limit, n = 0, i;
    int64_t ms = tk_dispatch_clock_ms(e), next = 0;
    tk_time now = (tk_time)(ms / 1000 - (ms % 1000 < 0));
    int up = ms - (int64_t)now * 1000 > 0; /* the lease ends at a whole second (settle.c) */
    tk_time until = now + e->cfg.lease_seconds + up;
    int ret = INLINE_MORE, rc;

    if ((rc = tk_db_begin(db, TK_TX_IMMEDIATE, &w->err)) != 0) {
        w->rc = rc;
        return INLINE_DONE;
    }
    if (*left && (rc = tk_store_sequence_peek(db, "lease", &next, &w->err)) == 0 &&
        next != *token + 1)
        *left = 0;
    limit = *left && *left < win ? *left : win;
    if (rc == 0)
        rc = tk_store_outbox_due(db, now, limit, rows, &n, &w->err);
    for (i = 0; rc == 0 && i < n; i++)
        if (tk_webhook_is_row(&rows[i]))
            ret = INLINE_CLAIM; /* POSTed with no transaction open */
    if (rc == 0 && n > 0 && ret == INLINE_MORE && *left == 0) {
        rc = tk_store_sequence_next(db, "lease", token, &w->err);
        *left = TK_CLAIM_BATCH;
    }
    if (rc != 0 || n == 0 || ret != INLINE_MORE) {
        tk_db_rollback(db); /* nothing written */
        for (i = 0; i < n; i++)
            tk_outbox_row_free(&rows[i]);
        w->rc = rc;
        *left = 0;
        return rc == 0 && n > 0 ? ret : INLINE_DONE;
    }
    *left -= n;
    for (i = 0; i < n && !stopping(w); i++) {
        int noconn = 0;
        deliver(w, conn, opened, &rows[i], &res[i], &noconn);
        if (res[i].status == TK_TEMPORARY && res[i].reply_code == 0) {
            /* the transport is unreachable: the rest would fail the same
             * way (send_batch) */
            if (noconn)
                tk_engine_warn(e, "transport %s: %s; %zu message%s stay queued", w->tp->hdr->name,
                               res[i].reply, n - i, n - i == 1 ? "" : "s");
            else
                tk_engine_warn(e, "transport %s: %s; queued messages go out on a later tick",
                               w->tp->hdr->name, res[i].reply);
            for (size_t j = i + 1; j < n; j++)
                res[j] = res[i];
            __atomic_store_n(w->halt, 1, __ATOMIC_RELAXED);
            i = n;
            ret = INLINE_DONE;
            break;
        }
    }
    if (i < n)
        ret = INLINE_DONE; /* stopping: the rest untouched, not even leased */
    rc = tk_send_inline_record(e, db, rows, i, res, *token, now, until, &d, &w->err);
    if (rc == 0)
        rc = tk_db_commit(db, &w->err);
    if (rc != 0) {
        tk_db_rollback(db);
        w->rc = rc;
        ret = INLINE_DONE;
    } else {
        tk_dispatch_stats_add(&w->st, &d);
    }
    for (i = 0; i < n; i++)
        tk_outbox_row_free(&rows[i]);
    return ret;
}

/* One connection to a TK_TRANSPORT_IDEMPOTENT transport (the file spool)
 * on a store with serial claims (SQLite), with unrecorded_max above 1:
 * the rows are read, written and recorded in one transaction of up to
 * unrecorded_max rows (inline_round), so a delivered row is written once
 * (its claim and its result together) instead of twice, and no claim of
 * its own is committed.  A crash in the transaction undoes all of it: the
 * rows stay queued, with no lease to wait for, and the next dispatcher
 * writes the same files again under the same names (their repeat
 * replaces the first copy); at most unrecorded_max, as before.  Meanwhile
 * the store's write lock is held while the files are written (a few
 * milliseconds; with fsync on, unrecorded_max flushes).  A webhook event
 * is POSTed with no transaction open: a round that finds one claims as
 * before. */
static void work_inline(struct worker *w)
{
    const struct tk_plugin *tp = w->tp;
    void *conn = NULL;
    int opened = 0, r = INLINE_MORE;
    int64_t token = 0;
    size_t left = 0;
    struct tk_outbox_row *rows = calloc(w->nslot, sizeof *rows);
    struct tk_delivery_result *res = calloc(w->nslot, sizeof *res);

    if (!rows || !res)
        w->rc = tk_error_set(&w->err, TK_ENOMEM, "dispatch: out of memory");
    while (rows && res && !stopping(w) && r != INLINE_DONE) {
        r = inline_round(w, &conn, &opened, rows, res, &token, &left);
        if (r == INLINE_CLAIM && claim_and_send(w, &conn, &opened))
            break;
    }
    free(rows);
    free(res);
    if (opened)
        tp->transport->close(conn);
}

static void *work_thread(void *u)
{
    struct worker *w = u;
    work(w);
    tk_hub_leave(w->hub);
    return NULL;
}

/* Deliver with the configured number of connections; with PRODUCE_TOO,
 * also enqueue the due reminders (tk_engine_tick). */
static int dispatch_run(struct tk_engine *e, int produce_too, size_t *reminders,
                        struct tk_dispatch_stats *st, struct tk_error *err)
{
    const struct tk_plugin *tp = NULL;
    int nw = e->cfg.transport_connections > 1 ? e->cfg.transport_connections : 1;
    struct worker *ws;
    struct pending *slots;
    pthread_t *th;
    struct hub hub;
    volatile int halt = 0;
    int rc = 0, started = 0;

    memset(st, 0, sizeof *st);
    if (reminders)
        *reminders = 0;
    /* delivering needs the transport alone; scheduling every type */
    if ((rc = produce_too ? tk_engine_load_plugins(e, err)
                          : tk_engine_load_plugins_for(e, NULL, err)))
        return rc;
    if (produce_too)
        e->skips.n = 0;
    if (!(tp = tk_registry_transport(&e->plugins, e->cfg.transport_plugin)))
        return tk_error_set(err, TK_EINVAL, "no transport plugin '%s' loaded",
                            e->cfg.transport_plugin ? e->cfg.transport_plugin : "");
    /* One connection: enqueue everything first, then deliver. */
    if (produce_too && nw == 1 && (rc = tk_engine_schedule(e, reminders, err)))
        return rc;
    /* One connection records each result before the next send (window 1),
     * unless delivering a message twice leaves one copy (the file
     * transport): then, as with several, up to unrecorded_max results are
     * committed at once. */
    int idem =
        TK_DESCR_HAS(tp->transport, flags) && (tp->transport->flags & TK_TRANSPORT_IDEMPOTENT) != 0;
    /* One connection to a store behind a server (PostgreSQL), where each
     * record is a round trip: the worker sends on a thread of its own and
     * this thread records its results, one transaction each, as with
     * several connections, but with a window of 2: the result of message i
     * is recorded while message i + 1 goes to the relay, and waited for
     * before i + 1's is handed over.  A crash then resends at most 2
     * messages, not 1 (docs/delivery.md); unrecorded_max = 1 keeps 1. */
    int overlap = nw == 1 && !idem && e->cfg.unrecorded_max > 1 && tk_db_dialect(e->db)->remote;
    int hubbed = nw > 1 || overlap;
    size_t win = (nw > 1 || idem) && e->cfg.unrecorded_max > 1 ? (size_t)e->cfg.unrecorded_max
                 : overlap                                     ? 2
                                                               : 1;
    ws = calloc((size_t)nw, sizeof *ws);
    th = calloc((size_t)nw, sizeof *th);
    slots = calloc((size_t)nw * win, sizeof *slots);
    if (!ws || !th || !slots || (hubbed && tk_hub_init(&hub, e, ws, nw, produce_too && nw > 1))) {
        free(ws);
        free(th);
        free(slots);
        return tk_error_set(err, TK_ENOMEM, "dispatch: out of memory");
    }
    if (nw > 1)
        tk_hub_lazy(&hub, win);
    for (int i = 0; i < nw; i++) {
        ws[i].e = e;
        ws[i].tp = tp;
        ws[i].halt = &halt;
        ws[i].db = e->db;
        ws[i].hub = hubbed ? &hub : NULL;
        ws[i].slot = slots + (size_t)i * win;
        ws[i].nslot = win;
    }
    if (hubbed) {
        /* Every worker on its own thread, this thread settles (and, with
         * several, schedules); if a thread cannot start, fewer workers
         * deliver. */
        for (int i = 0; i < nw; i++) {
            if (pthread_create(&th[i], NULL, work_thread, &ws[i]) != 0) {
                tk_engine_warn(e,
                               "dispatch: cannot start worker %d; delivering with %d connection%s",
                               i + 1, i > 0 ? i : 1, i > 1 ? "s" : "");
                pthread_mutex_lock(&hub.mu);
                hub.active -= nw - i;
                pthread_mutex_unlock(&hub.mu);
                break;
            }
            started++;
        }
        tk_hub_settle(&hub); /* with no worker, this still schedules them all */
        for (int i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        if (produce_too && reminders && nw > 1) /* the items skipped sent nothing */
            *reminders = hub.reminders > e->skips.n ? hub.reminders - e->skips.n : 0;
        if (hub.prod_rc) {
            rc = hub.prod_rc;
            if (err)
                *err = hub.prod_err;
        }
    }
    if (started == 0 && rc == 0) {
        /* one connection, or no worker thread at all: deliver from here */
        ws[0].hub = NULL;
        if (hubbed) /* no settler: the store's connection checkpoints again */
            tk_db_log_defer_checkpoints(e->db, 0);
        if (overlap)
            ws[0].nslot = 1; /* each result before the next send */
        if (idem && win > 1 && tk_db_dialect(e->db)->claim == TK_DB_CLAIM_SERIAL)
            work_inline(&ws[0]);
        else
            work(&ws[0]);
        started = 1;
    }
    for (int i = 0; i < started; i++) {
        tk_dispatch_stats_add(st, &ws[i].st);
        if (ws[i].rc && !rc) {
            rc = ws[i].rc;
            if (err)
                *err = ws[i].err;
        }
    }
    if (hubbed)
        tk_hub_destroy(&hub, ws, nw);
    free(ws);
    free(th);
    free(slots);
    return rc;
}

int tk_engine_dispatch(struct tk_engine *e, struct tk_dispatch_stats *st, struct tk_error *err)
{
    return dispatch_run(e, 0, NULL, st, err);
}

int tk_engine_tick(struct tk_engine *e, size_t *reminders, struct tk_dispatch_stats *st,
                   struct tk_error *err)
{
    struct tk_error rerr = {0};
    size_t dropped = 0;
    /* [retention] first: one index probe when nothing is old (lifecycle.c).
     * Its failure (a busy store) must not hold up reminders: it says so and
     * the next tick tries again. */
    if (tk_engine_retention(e, &dropped, &rerr) != 0)
        tk_engine_warn(e, "retention: %s; texts are dropped at a later tick", rerr.msg);
    return dispatch_run(e, 1, reminders, st, err);
}
