/* ckpt.c - the checkpointer: a thread with a store connection of its own
 * that copies a writer's log into the store (a PASSIVE checkpoint) when the
 * writer asks, so that the writer's commits never wait for a checkpoint's
 * flushes (2-4 fdatasyncs, 1-30 ms each on the bench VM).  The HTTP
 * server's writer and the dispatcher's settler both use it (bench/RESULTS.md
 * updates 35 and the HTTP ones before it say why each needed it). */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <stdlib.h>

#include "db/db.h"

struct tk_ckpt {
    struct tk_ckpt_policy p;
    void *arg; /* p.failed's */
    const struct tk_config *cfg;
    struct tk_db *writer;
    int log;   /* the writer's: its checkpoints are deferred to the thread */
    int asked; /* the writer's: the log's pages at its last ask */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int started;        /* under mu (or before C is published): th runs */
    int failed;         /* under mu: th could not open its connection */
    int want, stopping; /* under mu */
};

/* Opens its connection on its own thread, so that the writer does not wait
 * for that either; if it cannot, the writer checkpoints itself again at its
 * next ask (tk_ckpt_ask). */
static void *run(void *u)
{
    struct tk_ckpt *c = u;
    struct tk_db *db = NULL;
    struct tk_error err;
    int failed;
    if (c->p.thread_name)
        pthread_setname_np(pthread_self(), c->p.thread_name);
    if ((failed = tk_db_open(c->cfg, &db, &err) != 0) && c->p.failed)
        c->p.failed(c->arg, err.msg);
    pthread_mutex_lock(&c->mu);
    c->failed = failed;
    while (!failed && !c->stopping) {
        if (!c->want) {
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        c->want = 0;
        pthread_mutex_unlock(&c->mu);
        tk_db_log_checkpoint(db);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    tk_db_close(db);
    return NULL;
}

/* Under mu, or before any other thread knows C.  Never once stopping: a
 * thread started then would never be joined. */
static int start(struct tk_ckpt *c)
{
    if (!c->started && !c->stopping && pthread_create(&c->th, NULL, run, c) == 0)
        c->started = 1;
    return c->started;
}

int tk_ckpt_start(struct tk_ckpt **out, const struct tk_config *cfg, struct tk_db *writer,
                  const struct tk_ckpt_policy *p, void *arg, struct tk_error *err)
{
    struct tk_ckpt *c;
    *out = NULL;
    if (!tk_db_log_defer_checkpoints(writer, 1))
        return 0; /* no log (PostgreSQL): nothing to copy */
    if (!(c = calloc(1, sizeof *c))) {
        tk_db_log_defer_checkpoints(writer, 0);
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    c->p = *p;
    c->arg = arg;
    c->cfg = cfg;
    c->writer = writer;
    c->log = 1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (p->eager)
        start(c); /* if it cannot, the first ask tries again (tk_ckpt_ask) */
    *out = c;
    return 0;
}

void tk_ckpt_ask(struct tk_ckpt *c)
{
    int pages, self;
    if (!c || !c->log)
        return;
    pages = tk_db_log_pages(c->writer);
    if (pages < c->asked)
        c->asked = 0; /* the log started again */
    if (pages < c->p.pages || pages < c->asked + c->p.again)
        return;
    pthread_mutex_lock(&c->mu);
    if (c->failed || !start(c))
        c->log = 0;
    self = !c->log || (c->p.max_pages > 0 && pages >= c->p.max_pages);
    if (!self) {
        c->asked = pages;
        c->want = 1;
        pthread_cond_signal(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    if (!c->log) /* no checkpointer: the writer checkpoints, as SQLite does */
        tk_db_log_defer_checkpoints(c->writer, 0);
    if (self)
        tk_db_log_checkpoint(c->writer);
}

void tk_ckpt_stop(struct tk_ckpt *c)
{
    int started;
    if (!c)
        return;
    /* started under mu, as the ask that set it wrote it: the thread that
     * stops need not be the writer's (db.h) */
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    started = c->started;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (started)
        pthread_join(c->th, NULL);
    tk_db_log_defer_checkpoints(c->writer, 0);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
