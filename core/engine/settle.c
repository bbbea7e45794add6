/* settle.c - the store side of a dispatch: claims, results and give-backs,
 * each in its own short transaction or, with several connections, in group
 * commits on the dispatching thread (the hub), which in a tick also writes
 * the due reminders into the same transactions.
 *
 * Every result is guarded by the claim's fencing token: a dispatcher that
 * was frozen past its lease finds its rows taken over and its late result
 * refused (docs/delivery.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

static uint32_t jitter(void)
{
    uint32_t r = 0;
    tk_random_bytes(&r, sizeof r);
    return r;
}

static void count(struct tk_dispatch_stats *st, int status)
{
    switch (status) {
    case TK_DELIVERED:
        st->delivered++;
        break;
    case TK_PERMANENT:
        st->permanent++;
        break;
    case TK_UNKNOWN:
        st->unknown++;
        break;
    default:
        st->temporary++;
        break;
    }
}

/* Record RES for R inside the caller's transaction on DB, counting into D.
 * A stale token is no error (fencing: the newer claim's outcome stands) and
 * writes nothing, so the transaction stays usable.  ALONE: the transaction
 * holds this result only and is committed right after (task_tx), so where
 * the outbox row's UPDATE is all there is to write, the driver may send the
 * COMMIT with it (tk_db_last_statement: one round trip on PostgreSQL).
 * REPLY: the server's reply, valid UTF-8 (settle_body). */
static int settle_body_text(struct tk_engine *e, struct tk_db *db, const struct tk_outbox_row *r,
                            const struct tk_delivery_result *res, const char *reply,
                            struct tk_dispatch_stats *d, int alone, struct tk_error *err)
{
    const struct tk_config *c = &e->cfg;
    int state = TK_OUTBOX_SENT, rc;
    tk_time next = 0;

    if (res->status == TK_PERMANENT) {
        state = TK_OUTBOX_DEAD;
    } else if (res->status != TK_DELIVERED) {
        state = TK_OUTBOX_QUEUED;
        next = e->now +
               tk_backoff_delay(r->attempts, c->retry_base_seconds, c->retry_cap_seconds, jitter());
        if ((c->max_age_seconds > 0 && e->now - r->created_at >= c->max_age_seconds) ||
            (c->max_attempts > 0 && r->attempts >= c->max_attempts))
            state = TK_OUTBOX_DEAD;
    }
    /* a dead row writes more (audit, webhook, suppression) after it */
    if (alone && state != TK_OUTBOX_DEAD)
        tk_db_last_statement(db);
    rc = tk_store_outbox_finish(db, r->id, r->lease_token, state, e->now, next, res->reply_code,
                                reply, err);
    if (rc == TK_ECONFLICT) {
        d->stale++;
        tk_engine_warn(e, "outbox %lld: stale completion refused (lease token %lld was taken over)",
                       (long long)r->id, (long long)r->lease_token);
        return 0;
    }
    if (rc == 0 && state == TK_OUTBOX_DEAD) {
        char detail[TK_ERROR_MAX + 128];
        snprintf(detail, sizeof detail,
                 "delivery of %s to %s failed for good after %d attempt%s: %s", r->kind,
                 r->recipient, r->attempts, r->attempts == 1 ? "" : "s", reply);
        rc = tk_store_audit_add(db, e->now, "dispatcher", r->account_id, r->item_id, 0,
                                "delivery-failed", detail, err);
        /* an email given up on tells the subscribers; a webhook event given
         * up on does not (it would only feed itself) */
        if (rc == 0 && !tk_webhook_is_row(r))
            rc = tk_webhook_emit(e, db, "delivery.dead", r->item_id, err);
        /* a permanent 5xx at RCPT counts towards suppressing the address
         * ([inbound] suppress_after, issue 15) */
        if (rc == 0 && res->status == TK_PERMANENT)
            rc = tk_engine_suppress_after_failure(e, r, res->reply_code, reply, err);
    }
    if (rc)
        return rc;
    count(d, res->status);
    if (state == TK_OUTBOX_DEAD && res->status != TK_PERMANENT)
        d->permanent++;
    return 0;
}

/* The server's reply is the transport's text, from a stranger: it is made
 * valid UTF-8 (U+FFFD for each ill-formed sequence) before it is stored,
 * audited or matched, so that PostgreSQL's text type takes it and every
 * front end shows the same characters (issue 11: "keep JSON honest"). */
static int settle_body(struct tk_engine *e, struct tk_db *db, const struct tk_outbox_row *r,
                       const struct tk_delivery_result *res, struct tk_dispatch_stats *d, int alone,
                       struct tk_error *err)
{
    const char *reply = res->reply;
    char *fixed = NULL;
    int rc;
    if (reply && !tk_utf8_valid(reply, strlen(reply))) {
        if (!(fixed = tk_utf8_repair(reply, strlen(reply), NULL)))
            return tk_error_set(err, TK_ENOMEM, "out of memory");
        reply = fixed;
    }
    rc = settle_body_text(e, db, r, res, reply, d, alone, err);
    free(fixed);
    return rc;
}

int tk_send_inline_record(struct tk_engine *e, struct tk_db *db, struct tk_outbox_row *rows,
                          size_t n, const struct tk_delivery_result *res, int64_t token,
                          tk_time due_at, tk_time until, struct tk_dispatch_stats *d,
                          struct tk_error *err)
{
    int rc = 0;
    size_t i = 0;
    while (i < n && rc == 0) {
        /* a run of plain deliveries: their claims and results in one
         * statement (the rows are consecutive in ROWS) */
        enum { RUN = 64 };
        int codes[RUN];
        const char *replies[RUN];
        size_t k = 0;
        while (i + k < n && k < RUN && res[i + k].status == TK_DELIVERED &&
               tk_utf8_valid(res[i + k].reply, strlen(res[i + k].reply))) {
            codes[k] = res[i + k].reply_code;
            replies[k] = res[i + k].reply;
            k++;
        }
        if (k > 0) {
            rc = tk_store_outbox_sent_unleased(db, &rows[i], k, token, due_at, e->now, codes,
                                               replies, err);
            for (size_t j = 0; j < k && rc == 0; j++)
                count(d, TK_DELIVERED);
            i += k;
            continue;
        }
        /* anything else: the claim's lease, then the claimed row's settle */
        if ((rc = tk_store_outbox_lease(db, &rows[i], 1, token, until, err)) == 0)
            rc = settle_body(e, db, &rows[i], &res[i], d, 0, err);
        i++;
    }
    return rc;
}

static int release_body(struct tk_db *db, const struct tk_outbox_row *r,
                        struct tk_dispatch_stats *d, int alone, struct tk_error *err)
{
    if (alone)
        tk_db_last_statement(db);
    int rc = tk_store_outbox_release(db, r->id, r->lease_token, err);
    if (rc == TK_ECONFLICT) {
        d->stale++;
        return 0;
    }
    return rc;
}

/* ALONE: T is the only thing in the transaction, committed right after
 * (task_tx); else a group commit. */
static int task_body(struct tk_db *db, struct tk_send_task *t, int alone)
{
    struct tk_engine *e = t->w->e;
    int rc = 0;
    int one = alone && t->n == t->from + 1; /* a give-back of one row */
    switch (t->kind) {
    case TASK_CLAIM: {
        /* The lease ends at a whole second (the store keeps seconds): the
         * first at or after now + lease_seconds, so that it lasts at least
         * lease_seconds (cut at now's whole second, a 1 s lease claimed at
         * .9 would have 0.1 s: given back at once by lease_left, claimed
         * again, until the next second). */
        int64_t ms = tk_dispatch_clock_ms(e);
        tk_time now = (tk_time)(ms / 1000 - (ms % 1000 < 0));
        int up = ms - (int64_t)now * 1000 > 0;
        rc = tk_store_outbox_claim(db, now, e->cfg.lease_seconds + up, TK_CLAIM_BATCH, &t->claimed,
                                   &t->nclaimed, &t->err);
        break;
    }
    case TASK_SETTLE:
        rc = settle_body(e, db, &t->rows[t->from], t->why, &t->d, alone, &t->err);
        break;
    default:
        for (size_t i = t->from; i < t->n && !rc; i++)
            /* a webhook row is not the transport's: its failure is not
             * the webhook's, so it goes back without a counted attempt */
            rc = t->why && !tk_webhook_is_row(&t->rows[i])
                     ? settle_body(e, db, &t->rows[i], t->why, &t->d, one, &t->err)
                     : release_body(db, &t->rows[i], &t->d, one, &t->err);
        break;
    }
    return rc;
}

/* Undo what a rolled-back body left in J, so that it can run again. */
static void task_reset(struct tk_send_task *t)
{
    if (t->claimed)
        tk_dispatch_rows_free(t->claimed, t->nclaimed);
    t->claimed = NULL;
    t->nclaimed = 0;
    memset(&t->d, 0, sizeof t->d);
}

/* Results and give-backs alone may be committed without waiting for the
 * store's disk (TK_TX_RESULT, db.h); a claim takes a fencing token, which
 * must never be handed out twice. */
static int task_tx(struct tk_db *db, struct tk_send_task *t, struct tk_error *err)
{
    int rc = tk_db_begin(db, t->kind == TASK_CLAIM ? TK_TX_IMMEDIATE : TK_TX_RESULT, err);
    if (rc)
        return rc;
    if ((rc = task_body(db, t, 1)) == 0)
        return tk_db_commit(db, err);
    tk_db_rollback(db);
    return rc;
}

/* A release gives rows back one transaction each: best effort, as rows
 * given back are not sent anyway.  It stops at the first row it cannot
 * write: that row and the rest wait for their leases.  (With the store
 * gone, going on would spend a whole reconnect wait per row, and a daemon
 * asked to stop would not.) */
void tk_send_task_run_alone(struct tk_db *db, struct tk_send_task *t)
{
    t->rc = 0;
    task_reset(t);
    if (t->kind != TASK_RELEASE) {
        if ((t->rc = task_tx(db, t, &t->err)))
            task_reset(t);
        return;
    }
    for (size_t i = t->from; i < t->n; i++) {
        struct tk_send_task one = *t;
        struct tk_error err;
        one.from = i;
        one.n = i + 1;
        memset(&one.d, 0, sizeof one.d);
        if (task_tx(db, &one, &err) != 0)
            break;
        tk_dispatch_stats_add(&t->d, &one.d);
    }
}

static void run_each_alone(struct tk_db *db, struct tk_send_task *list)
{
    for (struct tk_send_task *t = list; t; t = t->next)
        tk_send_task_run_alone(db, t);
}

/* Group commit: the tasks of LIST go into the transaction open on DB, which
 * is then committed, so N workers pay one commit (and never wait for each
 * other's write lock) instead of N.  ALONE: LIST is all the transaction
 * holds (no reminders before it) and has one task, which may then tell the
 * driver where the transaction ends (task_body), as task_tx does: one
 * dispatcher on PostgreSQL records each result through the hub, one task a
 * commit, and paid BEGIN, SET LOCAL, UPDATE and COMMIT in two round trips
 * per message for what task_tx sends in one (bench/RESULTS.md).  A worker never has more than
 * [delivery] unrecorded_max delivered-but-unrecorded messages: it waits
 * for older results to be committed first (dispatch.c).  If a task or the
 * commit fails, everything in the transaction is rolled back and every task
 * runs alone, so that one task's failure (a full disk) is reported to its
 * worker only.  Returns 0 when committed, -1 when a task failed, or the
 * failed commit's status (ERR says why). */
static int commit_tasks(struct tk_db *db, struct tk_send_task *list, int alone,
                        struct tk_error *err)
{
    int rc = 0;
    alone = alone && list && !list->next;
    for (struct tk_send_task *t = list; t && rc == 0; t = t->next)
        rc = task_body(db, t, alone) ? -1 : 0;
    if (rc == 0 && (rc = tk_db_commit(db, err)) == 0)
        return 0;
    tk_db_rollback(db);
    run_each_alone(db, list);
    return rc;
}

/* LIST in a transaction of its own (commit_tasks); TK_TX_RESULT unless it
 * claims (see task_tx). */
static void commit_group(struct tk_db *db, struct tk_send_task *list)
{
    struct tk_error err;
    int mode = TK_TX_RESULT;
    for (struct tk_send_task *t = list; t; t = t->next)
        if (t->kind == TASK_CLAIM)
            mode = TK_TX_IMMEDIATE;
    if (tk_db_begin(db, mode, &err) == 0)
        commit_tasks(db, list, 1, &err);
    else
        run_each_alone(db, list);
}

void tk_send_tasks_run_group(struct tk_db *db, struct tk_send_task *list)
{
    if (list && !list->next)
        tk_send_task_run_alone(db, list); /* the same transaction as ever */
    else
        commit_group(db, list);
    for (struct tk_send_task *t = list; t; t = t->next)
        t->done = 1;
}

/* Under MU: the tasks waiting, taken off the queue. */
static struct tk_send_task *take_tasks(struct hub *h)
{
    struct tk_send_task *list = h->head;
    h->head = NULL;
    h->tail = &h->head;
    h->queued = 0;
    return list;
}

void tk_hub_post(struct hub *h, struct tk_send_task *t)
{
    pthread_mutex_lock(&h->mu);
    t->next = NULL;
    *h->tail = t;
    h->tail = &t->next;
    /* the settler wakes when a commit is due (commit_due), not for every
     * result: each wake-up was a commit of 4 results (issue 17) */
    if (++h->queued >= h->lazy || t->kind != TASK_SETTLE)
        pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->mu);
}

void tk_hub_wait(struct hub *h, struct tk_send_task *t)
{
    pthread_mutex_lock(&h->mu);
    if (!t->done) {
        /* what the settler, writing reminders, looks at (commit_now) */
        int *waiting = t->idle ? &h->idle : &h->blocked;
        __atomic_add_fetch(waiting, 1, __ATOMIC_RELAXED);
        pthread_cond_signal(&h->work); /* a commit is due now (commit_due) */
        while (!t->done)
            pthread_cond_wait(&t->w->settled, &h->mu);
        __atomic_sub_fetch(waiting, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&h->mu);
}

void tk_hub_leave(struct hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->active--;
    pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->mu);
}

/* Items per scheduling transaction in a tick with several connections, at
 * most; a transaction ends sooner when a worker waits (commit_now). */
#ifndef TICK_BATCH
#define TICK_BATCH 32
#endif
/* Reminders written, at least, before a worker waiting with rows left to
 * send gets its commit: about 160 us.  Committing after every reminder
 * rewrites the same pages in each commit (indexes, the outbox's last
 * page): on 2 cores, 5000 due, unrecorded_max = 2, 1 made a tick 0.46 s,
 * 4 made it 0.40 s (bench/RESULTS.md). */
#define BLOCKED_MIN 4

/* Whether the settler, writing reminders into its open transaction, should
 * stop and commit: a worker with rows left to send waits for a result, a
 * worker out of rows waits and half a batch of new rows is there for it,
 * or the batch is full.  Read without MU: a stale value costs one
 * reminder's time (about 40 us). */
static int commit_now(struct hub *h, size_t written)
{
    if (written >= h->batch)
        return 1;
    if (written >= BLOCKED_MIN && __atomic_load_n(&h->blocked, __ATOMIC_RELAXED) > 0)
        return 1;
    return written >= h->fill && __atomic_load_n(&h->idle, __ATOMIC_RELAXED) > 0;
}

/* Write reminders into the open transaction until commit_now or none is
 * left; *WRITTEN: how many.  Non-zero: the store failed (the caller rolls
 * back). */
static int write_reminders(struct hub *h, size_t *written, struct tk_error *err)
{
    struct tk_engine *e = h->e;
    int64_t ids[TICK_BATCH];
    size_t n = 0, i;
    int rc = tk_store_item_due(h->db, e->now, ids, h->batch, &n, err);
    *written = 0;
    tk_engine_digest_discard(e);
    if (rc)
        return rc;
    if (n == 0)
        h->producing = 0;
    for (i = 0; i < n && (i == 0 || !commit_now(h, i)); i++)
        if ((rc = tk_engine_remind_due(e, ids[i], err))) {
            tk_engine_digest_discard(e);
            return rc;
        }
    /* the digests of these steps, in the same transaction (digest.c) */
    long more = tk_engine_digest_take_count(e);
    if ((rc = tk_engine_digest_flush(e, err)))
        return rc;
    *written = more > 0 || (size_t)-more <= i ? (size_t)((long)i + more) : 0;
    return 0;
}

/* A round of the settler while reminders are left (a tick): one
 * transaction that writes reminders until a worker needs a commit, then
 * records the tasks waiting at that moment and commits both.  So a worker
 * waits for a few reminders at most (BLOCKED_MIN), not for a whole batch,
 * and one commit serves both.  Failures stay apart: if the reminders or
 * the commit fail, scheduling stops with that error (and the tasks are
 * recorded on their own); if a task fails, the tasks run alone and the
 * reminders are written again next round.  Returns the tasks it took. */
static struct tk_send_task *write_round(struct hub *h)
{
    struct tk_error err;
    struct tk_send_task *list;
    size_t written = 0, held = h->e->deferred;
    int rc = tk_db_begin(h->db, TK_TX_IMMEDIATE, &err);

    if (rc == 0 && (rc = write_reminders(h, &written, &err)))
        tk_db_rollback(h->db);
    pthread_mutex_lock(&h->mu);
    list = take_tasks(h);
    pthread_mutex_unlock(&h->mu);
    if (rc) {
        if (list)
            commit_group(h->db, list);
    } else if ((rc = commit_tasks(h->db, list, 0, &err)) != 0) {
        /* a failed task (-1) is its worker's to report; a failed commit
         * of reminders is the store's failure, and stops the scheduling */
        if (rc < 0 || written == 0)
            rc = 0;
        written = 0;
    }
    if (rc) {
        h->prod_rc = rc;
        h->prod_err = err;
        h->producing = 0;
        written = 0;
    }
    /* items the calendar or a hold moved on sent nothing (holds.c) */
    held = h->e->deferred - held;
    h->reminders += written > held ? written - held : 0;
    if (tk_engine_stopping(h->e))
        h->producing = 0;
    return list;
}

/* Under MU: LIST is committed.  Its tasks are done, except claims that
 * found nothing while reminders may still come (PRODUCING): those wait,
 * and run again once more are written. */
static void settle_done(struct hub *h, struct tk_send_task *list, int producing)
{
    while (list) {
        struct tk_send_task *k = list;
        list = k->next;
        if (k->kind == TASK_CLAIM && k->rc == 0 && k->nclaimed == 0 && producing) {
            k->next = h->parked;
            h->parked = k;
            continue;
        }
        k->done = 1;
        pthread_cond_signal(&k->w->settled); /* its worker only: no herd */
    }
}

/* Under MU: run the parked claims again (new rows, or no more coming). */
static void unpark(struct hub *h)
{
    while (h->parked) {
        struct tk_send_task *k = h->parked;
        h->parked = k->next;
        k->next = NULL;
        *h->tail = k;
        h->tail = &k->next;
        h->queued++;
    }
}

/* Under MU: whether the tasks waiting should be committed now, rather than
 * when more have come: a worker waits for one of them (or for any task:
 * a claim or a give-back is waited for at once), or LAZY results wait.
 * A worker never has more than [delivery] unrecorded_max results
 * unrecorded either way: it waits when it would (dispatch.c).  Letting
 * results gather saves commits: at 4 connections a commit was made for
 * every 4.2 results, each about 42k instructions and 7 WAL pages. */
static int commit_due(const struct hub *h)
{
    return h->head && (h->queued >= h->lazy || h->active == 0 ||
                       __atomic_load_n(&h->blocked, __ATOMIC_RELAXED) > 0 ||
                       __atomic_load_n(&h->idle, __ATOMIC_RELAXED) > 0);
}

/* The log's checkpoints on a thread of their own (db.h, tk_ckpt_*): done on
 * the settler's thread, each one's flushes held up the reminders and every
 * worker's results behind them (issue 17, bench/RESULTS.md).  Asked after
 * every commit once the log has SQLite's 1000 pages (the checkpointer
 * starts at the first ask, not at every tick).  From 4000 pages (16 MiB)
 * the settler copies what is left itself (little; a PASSIVE checkpoint
 * gives up at once while the checkpointer's runs, and is tried again after
 * the next commit), so that the next write starts the log over: SQLite
 * does that only at a write that finds it all copied, which the
 * checkpointer beside a settler that keeps writing never gets to. */
static void ckpt_failed(void *u, const char *msg)
{
    tk_engine_warn(u, "the store's log: no checkpointer connection, the settler checkpoints: %s",
                   msg);
}

static const struct tk_ckpt_policy hub_ckpt = {
    .pages = 1000, .max_pages = 4000, .failed = ckpt_failed};

/* The settler: runs until every worker has left, no task is waiting and no
 * reminder is left to schedule. */
void tk_hub_settle(struct hub *h)
{
    pthread_mutex_lock(&h->mu);
    for (;;) {
        struct tk_send_task *list;
        while (!commit_due(h) && (h->head || h->active > 0) && !h->producing)
            pthread_cond_wait(&h->work, &h->mu);
        if (h->producing) {
            pthread_mutex_unlock(&h->mu);
            list = write_round(h);
            tk_ckpt_ask(h->ck);
            pthread_mutex_lock(&h->mu);
            settle_done(h, list, 1);
            unpark(h);
            continue;
        }
        if (!(list = take_tasks(h)))
            break;
        pthread_mutex_unlock(&h->mu);
        commit_group(h->db, list);
        tk_ckpt_ask(h->ck);
        pthread_mutex_lock(&h->mu);
        settle_done(h, list, 0);
    }
    pthread_mutex_unlock(&h->mu);
}

int tk_hub_init(struct hub *h, struct tk_engine *e, struct worker *ws, int nw, int schedule)
{
    int i;
    memset(h, 0, sizeof *h);
    h->e = e;
    h->db = e->db;
    h->tail = &h->head;
    h->active = nw;
    h->lazy = 1; /* tk_hub_lazy */
    if (schedule) {
        size_t cfg = (size_t)e->cfg.batch_size; /* 1-100000, checked by config.c */
        h->producing = 1;
        h->batch = cfg > 0 && cfg < TICK_BATCH ? cfg : TICK_BATCH;
        h->fill = h->batch >= 2 ? h->batch / 2 : 1;
    }
    if (pthread_mutex_init(&h->mu, NULL))
        return -1;
    for (i = 0; i < nw; i++)
        if (pthread_cond_init(&ws[i].settled, NULL))
            break;
    if (i == nw && pthread_cond_init(&h->work, NULL) == 0) {
        struct tk_error err; /* no memory: the settler checkpoints, as SQLite does */
        (void)tk_ckpt_start(&h->ck, &e->cfg, h->db, &hub_ckpt, e, &err);
        return 0;
    }
    while (i-- > 0)
        pthread_cond_destroy(&ws[i].settled);
    pthread_mutex_destroy(&h->mu);
    return -1;
}

void tk_hub_lazy(struct hub *h, size_t window)
{
    size_t n = (size_t)h->active * (window > 1 ? window - 1 : 1) / 2;
    h->lazy = n > 0 ? n : 1;
}

void tk_hub_destroy(struct hub *h, struct worker *ws, int nw)
{
    tk_ckpt_stop(h->ck);
    for (int i = 0; i < nw; i++)
        pthread_cond_destroy(&ws[i].settled);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->work);
}
