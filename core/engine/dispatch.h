/* dispatch.h - what the two halves of a dispatch share; engine-internal.
 *
 * dispatch.c runs the workers: each claims rows, sends them through the
 * transport and reports each result.  settle.c does their store work: as
 * a task of its own transaction (one connection), or, with [transport]
 * connections > 1, through the hub, where the dispatching thread commits
 * the tasks of all workers in groups and, in a tick, also schedules.
 *
 * A task (struct tk_send_task) is the dispatcher's unit of store work: a
 * claim, a result to record (settle) or rows to give back (release).  It
 * has nothing to do with a pipeline's job (store/jobs.h).
 *
 * Ownership: a task belongs to the worker that posts it (it lives on the
 * worker's stack) until it is done; the hub only links it into its queue
 * meanwhile.  Rows returned by a claim belong to the worker, which frees
 * them with tk_dispatch_rows_free. */
#ifndef TK_ENGINE_DISPATCH_H
#define TK_ENGINE_DISPATCH_H

#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

#define TK_CLAIM_BATCH 64 /* rows per claim */

struct hub;
struct pending;

struct worker {
    struct tk_engine *e;
    const struct tk_plugin *tp;
    struct tk_db *db;   /* e->db (used directly only with one connection) */
    struct hub *hub;    /* shared store access with N > 1 connections, else NULL */
    volatile int *halt; /* shared: the transport is unreachable */
    struct tk_dispatch_stats st;
    struct tk_error err;
    int rc;
    pthread_cond_t settled; /* with a hub: one of this worker's tasks is done */
    struct pending *slot;   /* NSLOT results in flight, [delivery] unrecorded_max */
    size_t nslot;
    /* One connection to a TK_TRANSPORT_IDEMPOTENT transport (no hub, NSLOT
     * > 1): results posted but not yet committed, oldest first; committed
     * in one transaction when one of them is waited for (dispatch.c). */
    struct tk_send_task *unrec, **unrec_tail;
    /* This run's unreachable destinations (dispatch.c): the mail relay,
     * while the rest of a batch holds webhook events to post, and webhook
     * receivers (by subscription), whose further events in this run fail
     * the same way without another connection timeout. */
    int mail_down;
    struct tk_delivery_result mail_res;
    struct {
        int64_t sub;
        struct tk_delivery_result res;
    } hook_down[8];
    size_t nhook_down;
};

/* The store work a worker asks for.  Run alone (connections = 1, or after a
 * failed group) each task keeps its own short transactions, as it always
 * did; run in a group (see commit_group) all tasks share one. */
enum { TASK_CLAIM, TASK_SETTLE, TASK_RELEASE };

struct tk_send_task {
    struct worker *w;
    int kind;
    struct tk_outbox_row *rows; /* SETTLE: rows[from]; RELEASE: rows[from, n) */
    size_t from, n;
    const struct tk_delivery_result *why; /* SETTLE: the result; RELEASE: NULL or the failure */
    struct tk_outbox_row *claimed;        /* CLAIM: out, the caller frees */
    size_t nclaimed;
    struct tk_dispatch_stats d; /* counted once committed */
    struct tk_error err;
    int rc, done;
    int idle; /* its worker has nothing to send meanwhile */
    struct tk_send_task *next;
};

/* A delivered row's result, waiting to be recorded by its task. */
struct pending {
    struct tk_send_task task;
    struct tk_delivery_result res;
};

/* Workers of one dispatch share the engine's store connection through
 * this: they post tasks, and the dispatching thread (the settler) commits
 * every task waiting in one transaction (commit_group).
 *
 * In a tick (tk_engine_tick) the settler is also the scheduler: it writes
 * due reminders one by one into an open transaction until a worker waits
 * with rows left to send (BLOCKED), a worker out of rows (IDLE) has a few
 * new rows to take, or a batch is full; then it records the tasks waiting
 * and commits it all (write_round in settle.c).  So the workers deliver the first reminders
 * while later ones are still being written, and one commit serves both.
 * A claim that finds the outbox empty meanwhile is parked until more are
 * written, instead of ending its worker.  (Reading and rendering on a
 * thread of their own, with a second store connection, was tried: on two
 * cores it cost more CPU than it saved; bench/RESULTS.md.)  The scheduler's
 * fields are the settler's own; BLOCKED and IDLE change under MU and are
 * read without it; the rest is under MU. */
struct hub {
    pthread_mutex_t mu;
    pthread_cond_t work;
    struct tk_db *db;
    struct tk_send_task *head, **tail;
    struct tk_send_task *parked; /* empty claims waiting for more reminders */
    size_t queued;               /* tasks in head's list */
    size_t lazy;                 /* results that may wait for more (commit_due) */
    int active;                  /* workers still running */
    struct tk_engine *e;
    int blocked;      /* workers waiting, with rows left to send */
    int idle;         /* workers waiting, out of rows (claims too) */
    int producing;    /* due reminders may be left */
    size_t batch;     /* items per scheduling transaction, at most */
    size_t fill;      /* rows written before a waiting claim is served */
    size_t reminders; /* items scheduled */
    int prod_rc;
    struct tk_error prod_err;
    /* The log's checkpointer (SQLite; NULL elsewhere): the store
     * connection's commits never wait for a checkpoint's flushes on this
     * thread, which every worker waits for (settle.c). */
    struct tk_ckpt *ck;
};

/* The engine's clock as it is now, not as it was when the tick began:
 * leases run in real time.  e->now itself stays put, so a command run with
 * --now records the times it was given.  In milliseconds: a lease ends at
 * a whole second (settle.c, the claim) but what is left of it is measured
 * to the millisecond, since a whole-second clock overstates it by up to a
 * second, most of a short lease's margin (dispatch.c, lease_left). */
static inline int64_t tk_dispatch_clock_ms(const struct tk_engine *e)
{
    return tk_time_real_ms() + e->clock_offset * 1000;
}

static inline void tk_dispatch_rows_free(struct tk_outbox_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tk_outbox_row_free(&rows[i]);
    free(rows);
}

static inline void tk_dispatch_stats_add(struct tk_dispatch_stats *to,
                                         const struct tk_dispatch_stats *from)
{
    to->delivered += from->delivered;
    to->temporary += from->temporary;
    to->permanent += from->permanent;
    to->unknown += from->unknown;
    to->stale += from->stale;
}

/* Run J on DB in its own transaction(s), as with one connection. */
void tk_send_task_run_alone(struct tk_db *db, struct tk_send_task *t);
/* Run the tasks of LIST (linked by next) on DB in one transaction, as the
 * hub's group commit does (each runs alone if the group fails); all are
 * done on return. */
void tk_send_tasks_run_group(struct tk_db *db, struct tk_send_task *list);

/* One connection to a TK_TRANSPORT_IDEMPOTENT transport on a store with
 * serial claims (dispatch.c, work_inline): record RES[i] for ROWS[i], i <
 * N, rows read by tk_store_outbox_due at DUE_AT in the caller's open
 * immediate transaction and sent while it was open: the claims and results
 * of consecutive delivered rows in one statement, one write a row
 * (tk_store_outbox_sent_unleased); any other result is
 * the lease (TOKEN, until UNTIL) and then the same settle as a claimed
 * row's.  Counts into D; non-zero: the store failed (the caller rolls
 * back). */
int tk_send_inline_record(struct tk_engine *e, struct tk_db *db, struct tk_outbox_row *rows,
                          size_t n, const struct tk_delivery_result *res, int64_t token,
                          tk_time due_at, tk_time until, struct tk_dispatch_stats *d,
                          struct tk_error *err);

/* The hub of NW workers WS (their `settled` conditions included); with
 * SCHEDULE the settler also enqueues the due reminders (a tick). */
int tk_hub_init(struct hub *h, struct tk_engine *e, struct worker *ws, int nw, int schedule);
void tk_hub_destroy(struct hub *h, struct worker *ws, int nw);
/* Let up to half of the results the workers may leave unrecorded (WINDOW
 * each, [delivery] unrecorded_max) gather before the settler commits them,
 * unless a worker waits first; by default every task is committed at once. */
void tk_hub_lazy(struct hub *h, size_t window);
/* A worker: hand J over; wait until it is committed; leave for good. */
void tk_hub_post(struct hub *h, struct tk_send_task *t);
void tk_hub_wait(struct hub *h, struct tk_send_task *t);
void tk_hub_leave(struct hub *h);
/* The dispatching thread: commit (and schedule) until every worker has
 * left and nothing is left to do. */
void tk_hub_settle(struct hub *h);

#endif
