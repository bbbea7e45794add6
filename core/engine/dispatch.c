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
 * With [transport] connections = N > 1, N worker threads each keep their
 * own transport connection, and the dispatching thread does all their store
 * work on the engine's connection, committing whatever they handed over
 * since its last commit in one transaction.  Separate store connections
 * per worker spent most of their time waiting for SQLite's one write lock
 * (a busy handler that sleeps), and paid one commit per message.  Between
 * processes the store still is the only thing shared (leases, tokens). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CLAIM_BATCH 64

struct hub;

struct worker {
    struct tk_engine *e;
    const struct tk_plugin *tp;
    struct tk_db *db;          /* e->db (used directly only with one connection) */
    struct hub *hub;           /* shared store access with N > 1 connections, else NULL */
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

static void free_rows(struct tk_outbox_row *rows, size_t n)
{
    for (size_t j = 0; j < n; j++)
        tk_outbox_row_free(&rows[j]);
    free(rows);
}

static void add_stats(struct tk_dispatch_stats *to, const struct tk_dispatch_stats *from)
{
    to->delivered += from->delivered;
    to->temporary += from->temporary;
    to->permanent += from->permanent;
    to->unknown += from->unknown;
    to->stale += from->stale;
}

/* Record RES for R inside the caller's transaction on DB, counting into D.
 * A stale token is no error (fencing: the newer claim's outcome stands) and
 * writes nothing, so the transaction stays usable. */
static int settle_body(struct tk_engine *e, struct tk_db *db, const struct tk_outbox_row *r,
                       const struct tk_delivery_result *res, struct tk_dispatch_stats *d,
                       struct tk_error *err)
{
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
    rc = tk_store_outbox_finish(db, r->id, r->lease_token, state, e->now, next, res->reply_code,
                                res->reply, err);
    if (rc == TK_ECONFLICT) {
        d->stale++;
        tk_engine_warn(e, "outbox %lld: stale completion refused (lease token %lld was taken over)",
                       (long long)r->id, (long long)r->lease_token);
        return 0;
    }
    if (rc == 0 && state == TK_OUTBOX_DEAD) {
        char detail[TK_ERROR_MAX + 128];
        snprintf(detail, sizeof detail, "delivery of %s to %s failed for good after %d attempt%s: %s",
                 r->kind, r->recipient, r->attempts, r->attempts == 1 ? "" : "s", res->reply);
        rc = tk_store_audit_add(db, e->now, "dispatcher", r->account_id, r->item_id, 0,
                                "delivery-failed", detail, err);
    }
    if (rc)
        return rc;
    count(d, res->status);
    if (state == TK_OUTBOX_DEAD && res->status != TK_PERMANENT)
        d->permanent++;
    return 0;
}

static int release_body(struct tk_db *db, const struct tk_outbox_row *r,
                        struct tk_dispatch_stats *d, struct tk_error *err)
{
    int rc = tk_store_outbox_release(db, r->id, r->lease_token, err);
    if (rc == TK_ECONFLICT) {
        d->stale++;
        return 0;
    }
    return rc;
}

/* The store work a worker asks for.  Run alone (connections = 1, or after a
 * failed group) each job keeps its own short transactions, as it always
 * did; run in a group (see commit_group) all jobs share one. */
enum { JOB_CLAIM, JOB_SETTLE, JOB_RELEASE };

struct job {
    struct worker *w;
    int kind;
    struct tk_outbox_row *rows;           /* SETTLE: rows[from]; RELEASE: rows[from, n) */
    size_t from, n;
    const struct tk_delivery_result *why; /* SETTLE: the result; RELEASE: NULL or the failure */
    struct tk_outbox_row *claimed;        /* CLAIM: out, the caller frees */
    size_t nclaimed;
    struct tk_dispatch_stats d;           /* counted once committed */
    struct tk_error err;
    int rc, done;
    struct job *next;
};

static int job_body(struct tk_db *db, struct job *j)
{
    struct tk_engine *e = j->w->e;
    int rc = 0;
    switch (j->kind) {
    case JOB_CLAIM:
        rc = tk_store_outbox_claim(db, clock_now(e), e->cfg.lease_seconds, CLAIM_BATCH,
                                   &j->claimed, &j->nclaimed, &j->err);
        break;
    case JOB_SETTLE:
        rc = settle_body(e, db, &j->rows[j->from], j->why, &j->d, &j->err);
        break;
    default:
        for (size_t i = j->from; i < j->n && !rc; i++)
            rc = j->why ? settle_body(e, db, &j->rows[i], j->why, &j->d, &j->err)
                        : release_body(db, &j->rows[i], &j->d, &j->err);
        break;
    }
    return rc;
}

/* Undo what a rolled-back body left in J, so that it can run again. */
static void job_reset(struct job *j)
{
    if (j->claimed)
        free_rows(j->claimed, j->nclaimed);
    j->claimed = NULL;
    j->nclaimed = 0;
    memset(&j->d, 0, sizeof j->d);
}

static int job_tx(struct tk_db *db, struct job *j, struct tk_error *err)
{
    int rc = tk_db_begin(db, TK_TX_IMMEDIATE, err);
    if (rc)
        return rc;
    if ((rc = job_body(db, j)) == 0)
        return tk_db_commit(db, err);
    tk_db_rollback(db);
    return rc;
}

/* A release gives rows back one transaction each: best effort, as rows
 * given back are not sent anyway.  It stops at the first row it cannot
 * write: that row and the rest wait for their leases.  (With the store
 * gone, going on would spend a whole reconnect wait per row, and a daemon
 * asked to stop would not.) */
static void job_alone(struct tk_db *db, struct job *j)
{
    j->rc = 0;
    job_reset(j);
    if (j->kind != JOB_RELEASE) {
        if ((j->rc = job_tx(db, j, &j->err)))
            job_reset(j);
        return;
    }
    for (size_t i = j->from; i < j->n; i++) {
        struct job one = *j;
        struct tk_error err;
        one.from = i;
        one.n = i + 1;
        memset(&one.d, 0, sizeof one.d);
        if (job_tx(db, &one, &err) != 0)
            break;
        add_stats(&j->d, &one.d);
    }
}

/* Group commit: all jobs that arrived since the last commit go into one
 * transaction, so N workers pay one commit (and never wait for each
 * other's write lock) instead of N.  Each worker still waits for its own
 * result to be committed before it sends again, so the window of
 * delivered-but-unrecorded messages stays one per worker.  If anything in
 * the group fails, the group is rolled back and every job runs alone, so
 * one job's failure (a full disk) is reported to its worker only. */
static void commit_group(struct tk_db *db, struct job *list)
{
    struct tk_error err;
    int rc = tk_db_begin(db, TK_TX_IMMEDIATE, &err);
    struct job *j;
    for (j = list; j && rc == 0; j = j->next)
        rc = job_body(db, j);
    if (rc == 0)
        rc = tk_db_commit(db, &err);
    else
        tk_db_rollback(db);
    if (rc == 0)
        return;
    for (j = list; j; j = j->next)
        job_alone(db, j);
}

/* Workers of one dispatch share the engine's store connection through
 * this: they post jobs, and the dispatching thread (the settler) commits
 * every job waiting in one transaction (commit_group). */
struct hub {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct tk_db *db;
    struct job *head, **tail;
    int active;                 /* workers still running */
};

static void hub_post(struct hub *h, struct job *j)
{
    pthread_mutex_lock(&h->mu);
    j->next = NULL;
    *h->tail = j;
    h->tail = &j->next;
    pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->mu);
}

static void hub_wait(struct hub *h, struct job *j)
{
    pthread_mutex_lock(&h->mu);
    while (!j->done)
        pthread_cond_wait(&h->done, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

static void hub_leave(struct hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->active--;
    pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->mu);
}

/* The settler: runs until every worker has left and no job is waiting. */
static void hub_settle(struct hub *h)
{
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->head && h->active > 0)
            pthread_cond_wait(&h->work, &h->mu);
        if (!h->head)
            break;
        struct job *list = h->head;
        h->head = NULL;
        h->tail = &h->head;
        pthread_mutex_unlock(&h->mu);
        commit_group(h->db, list);
        pthread_mutex_lock(&h->mu);
        for (struct job *k = list; k; k = k->next)
            k->done = 1;
        pthread_cond_broadcast(&h->done);
    }
    pthread_mutex_unlock(&h->mu);
}

/* Start J for its worker: through the hub when workers share the store
 * connection (it may still be running on return), else at once on the
 * worker's own connection. */
static void job_post(struct job *j)
{
    j->rc = 0;
    j->done = 0;
    if (j->w->hub) {
        hub_post(j->w->hub, j);
    } else {
        job_alone(j->w->db, j);
        j->done = 1;
    }
}

/* Wait for J; its counts go to the worker. */
static int job_wait(struct job *j)
{
    if (j->w->hub)
        hub_wait(j->w->hub, j);
    add_stats(&j->w->st, &j->d);
    return j->rc;
}

static int run_job(struct job *j)
{
    job_post(j);
    return job_wait(j);
}

/* Give rows back.  WHY set: they count as failed attempts (the server is
 * unreachable); NULL: the attempt never happened (stopping, lease nearly
 * out), so the claim's attempt is taken back. */
static void release_rest(struct worker *w, struct tk_outbox_row *rows, size_t from, size_t n,
                         const struct tk_delivery_result *why)
{
    struct job j = {.w = w, .kind = JOB_RELEASE, .rows = rows, .from = from, .n = n, .why = why};
    if (from < n)
        run_job(&j);
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
    struct job j = {.w = w, .kind = JOB_CLAIM};
    int rc = run_job(&j);
    if (rc)
        w->err = j.err;
    *rows = j.claimed;
    *n = j.nclaimed;
    return rc;
}

/* How many delivered messages a worker may have whose results are not yet
 * committed: 1 waits for each commit before sending again; 2 sends the next
 * message while the previous result is being committed (with connections >
 * 1; one connection always commits before it sends again).  This bounds the
 * duplicates after a crash: SETTLE_WINDOW per worker (docs/delivery.md). */
#ifndef SETTLE_WINDOW
#define SETTLE_WINDOW 2
#endif

struct pending {
    struct job j;
    struct tk_delivery_result res;
};

/* Send one claimed batch; returns non-zero to end this worker's run. */
static int send_batch(struct worker *w, void *conn, struct tk_outbox_row *rows, size_t n)
{
    struct tk_engine *e = w->e;
    const struct tk_plugin *tp = w->tp;
    struct pending slot[2], *prev = NULL;
    int failed = 0;
    size_t i;
    for (i = 0; i < n && !failed && !stopping(w) && lease_left(w, &rows[i]); i++) {
        struct pending *p = &slot[i & 1];
        struct tk_outbox_row *r = &rows[i];
        struct tk_message m = {r->message_id, r->sender, r->recipient, r->data, strlen(r->data)};
        struct tk_error serr = {0};
        memset(p, 0, sizeof *p);
        if (tp->transport->send(conn, &m, &p->res, &serr)) {
            p->res.status = TK_TEMPORARY;
            if (!p->res.reply[0])
                tk_strlcpy(p->res.reply, serr.msg, sizeof p->res.reply);
        }
        if (prev && job_wait(&prev->j) && !w->rc) {
            w->rc = prev->j.rc;
            w->err = prev->j.err;
            failed = 1;
        }
        p->j = (struct job){.w = w, .kind = JOB_SETTLE, .rows = rows, .from = i, .why = &p->res};
        job_post(&p->j);
        prev = p;
        if (SETTLE_WINDOW < 2 || failed || (p->res.status == TK_TEMPORARY && p->res.reply_code == 0)) {
            prev = NULL;
            if (job_wait(&p->j) && !w->rc) {
                w->rc = p->j.rc;
                w->err = p->j.err;
                failed = 1;
            }
        }
        if (failed) {
            release_rest(w, rows, i + 1, n, NULL);
            return 1;
        }
        /* The server is unreachable: the rest of the batch would fail the
         * same way; leave it for the backoff instead of hammering, and tell
         * the other workers. */
        if (p->res.status == TK_TEMPORARY && p->res.reply_code == 0) {
            __atomic_store_n(w->halt, 1, __ATOMIC_RELAXED);
            release_rest(w, rows, i + 1, n, &p->res);
            tk_engine_warn(e, "transport %s: %s; queued messages go out on a later tick",
                           tp->hdr->name, p->res.reply);
            return 1;
        }
    }
    if (prev && job_wait(&prev->j) && !w->rc) {
        w->rc = prev->j.rc;
        w->err = prev->j.err;
        release_rest(w, rows, i, n, NULL);
        return 1;
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

static void *work_thread(void *u)
{
    struct worker *w = u;
    work(w);
    hub_leave(w->hub);
    return NULL;
}

int tk_engine_dispatch(struct tk_engine *e, struct tk_dispatch_stats *st, struct tk_error *err)
{
    const struct tk_plugin *tp = tk_registry_transport(&e->plugins, e->cfg.transport_plugin);
    int nw = e->cfg.transport_connections > 1 ? e->cfg.transport_connections : 1;
    struct worker *ws;
    pthread_t *th;
    struct hub hub;
    volatile int halt = 0;
    int rc = 0, started = 1;

    memset(st, 0, sizeof *st);
    memset(&hub, 0, sizeof hub);
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
        ws[i].hub = nw > 1 ? &hub : NULL;
    }
    if (nw == 1) {
        work(&ws[0]);
    } else {
        hub.db = e->db;
        hub.tail = &hub.head;
        hub.active = nw;
        if (pthread_mutex_init(&hub.mu, NULL) || pthread_cond_init(&hub.work, NULL) ||
            pthread_cond_init(&hub.done, NULL)) {
            free(ws);
            free(th);
            return tk_error_set(err, TK_ENOMEM, "dispatch: cannot set up the workers' lock");
        }
        /* Every worker on its own thread, this thread settles; if a thread
         * cannot start, fewer workers deliver. */
        started = 0;
        for (int i = 0; i < nw; i++) {
            if (pthread_create(&th[i], NULL, work_thread, &ws[i]) != 0) {
                tk_engine_warn(e, "dispatch: cannot start worker %d; delivering with %d connection%s",
                               i + 1, i > 0 ? i : 1, i > 1 ? "s" : "");
                pthread_mutex_lock(&hub.mu);
                hub.active -= nw - i;
                pthread_mutex_unlock(&hub.mu);
                break;
            }
            started++;
        }
        hub_settle(&hub);
        for (int i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        if (started == 0) {
            ws[0].hub = NULL;
            work(&ws[0]);
            started = 1;
        }
        pthread_mutex_destroy(&hub.mu);
        pthread_cond_destroy(&hub.work);
        pthread_cond_destroy(&hub.done);
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
