/* server.c - libmicrohttpd on one side, the worker thread on the other.
 *
 * The listener thread (ours, running libmicrohttpd's select loop: see
 * listen_main) reads requests, enforces the bounds and routes them; a
 * request that needs the store is queued for the worker and its
 * connection suspended, so a waiting request holds no thread and a slow
 * client holds nothing but its socket.  The worker owns a peer engine
 * (own store connection, own template cache) and its own Lua pipelines:
 * neither a SQLite connection nor a Lua state may be shared between
 * threads.  It takes every request queued at once and runs the writes in
 * ONE transaction, each inside a savepoint (a failing request rolls back
 * only itself), commits once, then runs the reads, then answers them all:
 * SQLite has one writer, and one commit per group instead of per request
 * is what makes the API fast (bench/RESULTS.md).  A third thread, the
 * checkpointer, copies the log into the store on its own connection when
 * it reaches 1000 pages, so the writer never waits for those flushes. */
#define _GNU_SOURCE /* pthread_setname_np */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/api.h"
#include "http/router.h"
#include "http/token_cache.h"
#include "lua/pipeline.h"

/* CONNECTION_MEMORY is libmicrohttpd's pool per connection: it holds the
 * request line and headers (the read buffer starts at half of it and grows
 * into the rest), so it bounds the header block; 32 KiB is libmicrohttpd's
 * own default and nginx's `large_client_header_buffers 4 8k` in all.
 * libmicrohttpd zeroes the whole pool after every keep-alive request, and
 * the read buffer's unused half when it shrinks it for the answer: 1.5
 * times this, per request (bench/RESULTS.md, update 45). */
#define CONNECTION_LIMIT 512    /* sockets, all clients: what each select round scans */
#define PER_IP_LIMIT 256        /* sockets per client address */
#define INACTIVITY_TIMEOUT 15   /* seconds without a byte: closed */
#define CONNECTION_MEMORY 32768 /* per connection: bounds the header block */
#define QUEUE_WAIT_LIMIT 10.0   /* seconds a request may wait for the worker: 503 */
#define QUEUE_LIMIT 4096        /* requests waiting for the worker: 503 beyond */
#define GROUP_MAX 64            /* writes per transaction */
#define SCRATCH 1024            /* decoded path parameters */
#define MAX_STATUS 600
#define TOUCH_PENDING 64 /* last_used_at writes waiting for the writer */

/* One listener thread, not a pool of two: one thread sees every
 * connection, so the writes it reads in one round are queued together
 * (bigger groups, fewer commits), and one thread is woken for the answers
 * of a group.  At 8 clients: 0.71 context switches and 12.6 system calls
 * a write against 1.16 and 13.9 with two threads, 20.2k writes a second
 * against 17.0k-17.9k (bench/RESULTS.md, update 49).
 *
 * That thread is ours, not libmicrohttpd's: MHD runs in an "external"
 * mode and listen_main drives it.  With its own thread MHD writes its
 * wake-up eventfd once for every MHD_resume_connection, and the first
 * write of a group wakes its thread while the worker is still resuming
 * the rest; in external mode MHD_resume_connection writes nothing
 * (MHD_USE_ITC is ignored there), so a worker resumes its whole group and
 * then wakes the listener once (s->wake): 0.2 eventfd writes a write
 * instead of 1.0, CPU lower in 11 of 15 pairs (update 53).
 *
 * The external mode is select, not epoll (update 60).  In epoll mode each
 * suspend and resume costs MHD an epoll_ctl DEL, an epoll_ctl ADD and an
 * empty recv (a resumed connection is marked readable): about 2.7 system
 * calls a write.  In select mode a suspended connection is only left out
 * of the next fd_set, and listen_main sends a resumed group's answers in
 * the round that queues them (a second MHD_run_from_select with the write
 * set), not a select round later.  At 8 clients, 6 pairs: 6.4-7.8
 * system calls a write against 10.1-11.2, CPU 50-60 us a write against
 * 59-68 (lower in 6 of 6).  The price: each round scans every open
 * connection, in the kernel and in MHD (CONNECTION_LIMIT bounds them):
 * with 200 idle keep-alive connections beside the 8 writers the CPU a
 * write was 80-96 us against epoll's 66-76, with 50 idle 69-76 against
 * 59-60, with 20 about even.  And MHD refuses, at accept, a socket numbered FD_SETSIZE (1024)
 * or more: the client sees its connection closed, MHD logs it, the rest
 * is served (it.test_http_api; docs/api.md). */

enum { READING, QUEUED, DONE, ANSWERED };

struct worker;

struct conn {
    struct tk_http_server *s;
    struct worker *w; /* the worker it is queued for */
    struct MHD_Connection *mc;
    char *uri; /* raw, as received: path and query */
    int state;
    struct tk_buf body;
    struct tk_http_request req;
    const struct tk_http_route *route;
    struct tk_http_response res;
    char scratch[SCRATCH];
    char actor[80];
    double queued_at;
    size_t too_big; /* bytes of body dropped past the limit */
    struct conn *next;
};

/* A thread with its own engine handle (own store connection, own Lua
 * states) and its own queue: the writer runs every request that changes
 * something, group-committed; the reader every other one, each in its own
 * read transaction (WAL: readers do not wait for the writer), so that a
 * GET never waits behind a group of writes. */
struct worker {
    struct tk_http_server *s;
    int writer;
    struct tk_engine *e;
    struct tk_pipelines *pipelines;
    pthread_t th;
    int started;
    pthread_cond_t cv;        /* under s->mu */
    struct conn *head, *tail; /* under s->mu */
    size_t queued;            /* under s->mu */
    int reload;               /* under s->mu */
    double last_prune;
    struct tk_token_cache tokens; /* this worker's only (token_cache.h) */
};

struct touch {
    int64_t id;
    tk_time at;
};

struct tk_http_server {
    struct MHD_Daemon *mhd;
    struct tk_engine *parent;
    struct tk_http_router *router;
    struct tk_http_config cfg;
    struct worker w[2]; /* [0] writes, [1] reads */
    pthread_mutex_t mu; /* the workers' queues and flags, and stopping */
    int stopping;
    pthread_mutex_t log_mu;
    size_t max_body;
    char address[96];
    char *tls_cert, *tls_key;
    uint64_t counts[MAX_STATUS];         /* answers by status, atomic */
    struct touch touches[TOUCH_PENDING]; /* under mu: for the writer */
    size_t ntouches;
    /* The checkpointer: its own store connection copies the writer's log
     * into the store, so that the writer (the one thread every write
     * waits for) never waits for a checkpoint's two flushes itself. */
    struct tk_ckpt *ckpt;
    /* The listener thread (listen_main): it waits in select on MHD's
     * sockets and on wake, an eventfd a worker writes once it has resumed
     * a group, and tk_http_stop writes to have it quiesce or stop. */
    pthread_t listener;
    int listening; /* the listener thread was started */
    int wake;      /* -1 when not made */
    int quiesce;   /* atomic: tk_http_stop asks for MHD_quiesce_daemon */
    int stop;      /* atomic: tk_http_stop asks the listener to end */
    int quiesced;  /* under mu, with quiesced_cv: done, lsock set */
    pthread_cond_t quiesced_cv;
    MHD_socket lsock;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The listener runs MHD_run next: resumed connections are answered, a
 * quiesce or stop asked for is done. */
static void wake_listener(struct tk_http_server *s)
{
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(s->wake, &one, sizeof one);
    while (n < 0 && errno == EINTR);
    /* EAGAIN: the counter is full, so the listener is due to wake anyway */
}

static void logf_s(struct tk_http_server *s, const char *fmt, ...) TK_PRINTF(2, 3);
static void logf_s(struct tk_http_server *s, const char *fmt, ...)
{
    char line[2 * TK_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&s->log_mu);
    if (s->cfg.log)
        s->cfg.log(s->cfg.log_data, line);
    else
        fprintf(stderr, "tickler: http: %s\n", line);
    pthread_mutex_unlock(&s->log_mu);
}

void tk_http_server_status_counts(struct tk_http_server *s,
                                  void (*fn)(void *u, int status, uint64_t n), void *u)
{
    for (int i = 100; i < MAX_STATUS; i++) {
        uint64_t n = __atomic_load_n(&s->counts[i], __ATOMIC_RELAXED);
        if (n)
            fn(u, i, n);
    }
}

/* ---- answering ----------------------------------------------------------- */

static enum MHD_Result send_response(struct conn *c)
{
    struct tk_http_response *res = &c->res;
    struct MHD_Response *r;
    enum MHD_Result ok;
    int status = res->status ? res->status : 200;
    r = MHD_create_response_from_buffer(res->body.len, res->body.data ? res->body.data : (void *)"",
                                        MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            res->content_type ? res->content_type : "application/json");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (strncmp(c->uri ? c->uri : "", "/api/", 5) == 0)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (size_t i = 0; i < res->headers.n; i++)
        MHD_add_response_header(r, res->headers.keys[i], res->headers.vals[i]);
    ok = MHD_queue_response(c->mc, (unsigned)status, r);
    MHD_destroy_response(r);
    if (status >= 100 && status < MAX_STATUS)
        __atomic_add_fetch(&c->s->counts[status], 1, __ATOMIC_RELAXED);
    c->state = ANSWERED;
    return ok;
}

static enum MHD_Result answer_now(struct conn *c, int status, const char *msg)
{
    tk_http_res_error(&c->res, status, msg);
    return send_response(c);
}

/* ---- MHD callbacks --------------------------------------------------------- */

/* The first thing MHD tells about a request: its raw URI, query included
 * (MHD's own `url` is decoded and without the query).  Returns the
 * request's state (con_cls). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
    struct conn *c = calloc(1, sizeof *c);
    (void)mc;
    if (!c)
        return NULL;
    c->s = cls;
    c->uri = tk_strdup(uri ? uri : "/");
    c->res.status = 200;
    return c;
}

static void conn_free(struct conn *c)
{
    if (!c)
        return;
    free(c->uri);
    tk_buf_free(&c->body);
    tk_kv_free(&c->req.headers);
    tk_kv_free(&c->req.cookies);
    tk_kv_free(&c->res.headers);
    tk_buf_free(&c->res.body);
    free((char *)c->req.method);
    free(c);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)mc;
    (void)why;
    conn_free(*con_cls);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[TK_ERROR_MAX];
    size_t n;
    vsnprintf(line, sizeof line, fmt, ap);
    n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    logf_s(cls, "%s", line);
}

/* The client's address as text, made once per connection (its socket
 * context, freed when it closes) rather than once per request: a
 * keep-alive connection's requests all come from the same address.
 * Without memory for it, the requests' peer is "" (as it is for an
 * address that is neither IPv4 nor IPv6). */
static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    const union MHD_ConnectionInfo *ci;
    char *peer;
    (void)cls;
    if (toe != MHD_CONNECTION_NOTIFY_STARTED) {
        free(*socket_context);
        *socket_context = NULL;
        return;
    }
    if (!(peer = calloc(1, INET6_ADDRSTRLEN)))
        return;
    ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        size_t n = INET6_ADDRSTRLEN;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, peer, n);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, peer,
                      n);
    }
    *socket_context = peer;
}

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    struct tk_kv *kv = cls;
    char name[128];
    size_t i;
    (void)kind;
    if (!key)
        return MHD_YES;
    for (i = 0; key[i] && i + 1 < sizeof name; i++)
        name[i] = (key[i] >= 'A' && key[i] <= 'Z') ? (char)(key[i] + 32) : key[i];
    name[i] = '\0';
    if (kind == MHD_COOKIE_KIND)
        tk_strlcpy(name, key, sizeof name);
    tk_kv_set(kv, name, value ? value : "");
    return MHD_YES;
}

/* Fill c->req from the connection once the whole request is in, and find
 * its route.  Non-zero: answered already (404, 405, 415, 400). */
static int prepare(struct conn *c, const char *method)
{
    struct tk_http_request *rq = &c->req;
    const union MHD_ConnectionInfo *ci;
    char *q;
    int known = 0;
    rq->method = tk_strdup(method);
    if (!rq->method) {
        answer_now(c, 500, "out of memory");
        return 1;
    }
    q = strchr(c->uri, '?');
    if (q) {
        *q = '\0';
        rq->query = q + 1;
    } else {
        rq->query = "";
    }
    rq->path = c->uri;
    MHD_get_connection_values(c->mc, MHD_HEADER_KIND, collect, &rq->headers);
    MHD_get_connection_values(c->mc, MHD_COOKIE_KIND, collect, &rq->cookies);
    if (tk_buf_putc(&c->body, '\0')) {
        answer_now(c, 500, "out of memory");
        return 1;
    }
    rq->body = c->body.data;
    rq->body_len = c->body.len - 1;
    ci = MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci && ci->socket_context)
        tk_strlcpy(rq->peer, ci->socket_context, sizeof rq->peer);
    rq->tls = c->s->tls_cert != NULL;
    c->route = tk_http_router_match(c->s->router, rq->method, rq->path, rq, c->scratch,
                                    sizeof c->scratch, &known);
    if (!c->route) {
        if (known) {
            answer_now(c, 405, "method not allowed");
        } else {
            answer_now(c, 404, "no such endpoint");
        }
        return 1;
    }
    if (rq->body_len && !(c->route->flags & TK_ROUTE_ANY_BODY)) {
        const char *ct = tk_http_header(rq, "content-type");
        if (!ct || strncmp(ct, "application/json", 16) != 0 ||
            (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
            answer_now(c, 415, "the body must be application/json");
            return 1;
        }
    }
    return 0;
}

static void run_inline(struct conn *c)
{
    struct tk_http_ctx x = {NULL, NULL, c->s, &c->req, &c->res};
    struct tk_error err = {0};
    if (c->route->fn(&x, &err))
        tk_http_res_error(&c->res, tk_http_status_for(err.code), err.msg);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    struct tk_http_server *s = cls;
    struct conn *c = *con_cls;
    struct worker *w;
    (void)url;
    (void)version;
    if (!c)
        return MHD_NO; /* on_uri could not allocate */
    c->mc = mc;
    if (c->state == ANSWERED) {
        *upload_size = 0; /* an answered request's body is dropped */
        return MHD_YES;
    }
    if (c->state == READING && !c->body.max) {
        /* first call: the headers are in, the body is not read yet */
        const char *cl =
            MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        int64_t n;
        c->body.max = s->max_body + 1;
        if (cl && (tk_parse_int(cl, 0, INT64_MAX, &n) || (uint64_t)n > s->max_body))
            return answer_now(c, 413, "the body is larger than [http] max_body_kb");
        return MHD_YES;
    }
    if (*upload_size) {
        /* A body without a Content-Length (chunked) that grows past the
         * limit: keep nothing more, read on until it ends to answer 413,
         * but not forever: past four times the limit the connection is
         * closed without an answer. */
        if (c->too_big || c->body.len + *upload_size > s->max_body) {
            c->too_big += *upload_size;
            *upload_size = 0;
            return c->too_big > 4 * s->max_body + 65536 ? MHD_NO : MHD_YES;
        }
        if (tk_buf_append(&c->body, upload_data, *upload_size))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (c->too_big && c->state == READING)
        return answer_now(c, 413, "the body is larger than [http] max_body_kb");
    if (c->state == DONE)
        return send_response(c);
    if (c->state != READING)
        return MHD_YES;
    if (prepare(c, method))
        return MHD_YES;
    if (c->route->flags & TK_ROUTE_INLINE) {
        run_inline(c);
        return send_response(c);
    }
    w = &s->w[(c->route->flags & TK_ROUTE_WRITE) ? 0 : 1];
    pthread_mutex_lock(&s->mu);
    if (s->stopping || w->queued >= QUEUE_LIMIT) {
        int stopping = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (!stopping)
            tk_http_res_header(&c->res, "Retry-After", "1");
        return answer_now(c, stopping ? 503 : 429,
                          stopping ? "the server is stopping" : "too many requests queued");
    }
    c->state = QUEUED;
    c->w = w;
    c->queued_at = mono();
    c->next = NULL;
    if (w->tail)
        w->tail->next = c;
    else
        w->head = c;
    w->tail = c;
    w->queued++;
    /* suspended before the worker can resume it: both under the lock */
    MHD_suspend_connection(mc);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&s->mu);
    return MHD_YES;
}

/* ---- the worker ------------------------------------------------------------ */

static void hex32(const unsigned char *md, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = d[md[i] >> 4];
        out[2 * i + 1] = d[md[i] & 15];
    }
    out[64] = '\0';
}

/* What an idempotency record is bound to: method, path, query and body. */
static int request_hash(const struct tk_http_request *rq, char out[65])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int ok = m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(m, rq->method, strlen(rq->method) + 1) &&
             EVP_DigestUpdate(m, rq->path, strlen(rq->path) + 1) &&
             EVP_DigestUpdate(m, rq->query, strlen(rq->query) + 1) &&
             EVP_DigestUpdate(m, rq->body, rq->body_len) && EVP_DigestFinal_ex(m, md, &len);
    EVP_MD_CTX_free(m);
    if (!ok || len != 32)
        return -1;
    hex32(md, out);
    return 0;
}

/* Answer for an engine failure: the user's one-line message for what the
 * user can fix; for the store and anything unexpected a fixed text (the
 * real one goes to the log, never an SQL text to the client). */
static void fail_answer(struct conn *c, const struct tk_error *err)
{
    int status = tk_http_status_for(err->code);
    if (err->code == TK_EIO || err->code == TK_ETEMP) {
        logf_s(c->s, "%s %s: %s", c->req.method, c->req.path, err->msg);
        tk_http_res_header(&c->res, "Retry-After", "1");
        tk_http_res_error(&c->res, 503, "the store is unavailable; try again");
    } else if (status == 500) {
        logf_s(c->s, "%s %s: %s", c->req.method, c->req.path, err->msg);
        tk_http_res_error(&c->res, 500, "internal error (logged)");
    } else {
        tk_http_res_error(&c->res, status, err->msg);
    }
}

/* Queue "token ID used at AT" for the writer (under s->mu; one entry per
 * token, a full queue drops the touch: last_used_at is a hint). */
static void queue_touch(struct tk_http_server *s, int64_t id, tk_time at)
{
    size_t i;
    pthread_mutex_lock(&s->mu);
    for (i = 0; i < s->ntouches && s->touches[i].id != id; i++)
        ;
    if (i < s->ntouches) {
        if (s->touches[i].at < at)
            s->touches[i].at = at;
    } else if (s->ntouches < TOUCH_PENDING) {
        s->touches[s->ntouches].id = id;
        s->touches[s->ntouches++].at = at;
    }
    pthread_cond_signal(&s->w[0].cv);
    pthread_mutex_unlock(&s->mu);
}

/* The writer: write the queued touches in one transaction of their own. */
static void write_touches(struct worker *w)
{
    struct tk_http_server *s = w->s;
    struct touch v[TOUCH_PENDING];
    struct tk_error err = {0};
    size_t n;
    int rc;
    pthread_mutex_lock(&s->mu);
    n = s->ntouches;
    memcpy(v, s->touches, n * sizeof v[0]);
    s->ntouches = 0;
    pthread_mutex_unlock(&s->mu);
    if (!n)
        return;
    if ((rc = tk_engine_begin(w->e, TK_TX_IMMEDIATE, &err)))
        goto fail;
    for (size_t i = 0; i < n && !rc; i++)
        rc = tk_engine_token_touch(w->e, v[i].id, v[i].at, &err);
    if (rc || (rc = tk_engine_commit(w->e, &err))) {
        tk_engine_rollback(w->e);
        goto fail;
    }
    return;
fail:
    logf_s(s, "recording tokens' last use: %s", err.msg);
}

static int lookup_token(void *u, const char *hash, struct tk_api_token *out, struct tk_error *err)
{
    return tk_engine_token_by_hash(u, hash, out, err);
}

/* The token check of a TK_ROUTE_TOKEN route; 0 when the request may go on. */
static int authorize(struct conn *c)
{
    struct tk_http_server *s = c->s;
    const char *h = tk_http_header(&c->req, "authorization");
    struct tk_token_entry *k = NULL;
    struct tk_error err = {0};
    tk_time now;
    int rc;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        tk_http_res_header(&c->res, "WWW-Authenticate", "Bearer");
        tk_http_res_error(&c->res, 401, "missing bearer token");
        logf_s(s, "401 %s %s from %s: no bearer token", c->req.method, c->req.path, c->req.peer);
        return 1;
    }
    h += 7;
    while (*h == ' ')
        h++;
    rc = tk_token_cache_check(&c->w->tokens, h, mono(), lookup_token, c->w->e, &k, &err);
    if (rc == TK_ENOTFOUND) {
        tk_http_res_header(&c->res, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        tk_http_res_error(&c->res, 401, "bad token");
        /* never the token itself: only that one was refused */
        logf_s(s, "401 %s %s from %s: bad token", c->req.method, c->req.path, c->req.peer);
        return 1;
    }
    if (rc) {
        fail_answer(c, &err);
        return 1;
    }
    /* last_used_at: at most once a minute per token, written by the writer
     * thread in a transaction of its own (a read stays a read) */
    now = tk_engine_now(c->w->e);
    if (now - k->last_used >= TK_TOKEN_TOUCH_EVERY) {
        k->last_used = now;
        queue_touch(s, k->id, now);
    }
    if (!tk_engine_scope_allows(k->scope, c->route->scope)) {
        char msg[160];
        snprintf(msg, sizeof msg, "token %s has scope %s; this needs %s", k->name, k->scope,
                 c->route->scope);
        tk_http_res_error(&c->res, 403, msg);
        return 1;
    }
    snprintf(c->actor, sizeof c->actor, "api:%s", k->name);
    /* token_name/scope point into c->actor (the name after "api:") */
    c->req.token_name = c->actor + 4;
    c->req.token_scope = c->route->scope;
    return 0;
}

/* Run one request's handler on the worker's engine; the caller opened the
 * transaction (and, for a write, the savepoint).  0: it succeeded (2xx). */
static int run_one(struct conn *c)
{
    struct tk_http_server *s = c->s;
    struct worker *w = c->w;
    struct tk_http_ctx x = {w->e, w->pipelines, s, &c->req, &c->res};
    struct tk_error err = {0};
    const char *key = NULL;
    char hash[65];
    int rc;
    if (mono() - c->queued_at > QUEUE_WAIT_LIMIT) {
        tk_http_res_header(&c->res, "Retry-After", "1");
        tk_http_res_error(&c->res, 503, "the server is too busy; try again");
        return 1;
    }
    c->actor[0] = '\0';
    if ((c->route->flags & TK_ROUTE_TOKEN) && authorize(c))
        return 1;
    tk_engine_set_actor(w->e, c->actor[0] ? c->actor : "api");
    if ((c->route->flags & TK_ROUTE_TOKEN) && strcmp(c->req.method, "POST") == 0 &&
        (key = tk_http_header(&c->req, "idempotency-key")) != NULL) {
        struct tk_api_idem rec;
        int r;
        if (!*key || strlen(key) > 255) {
            tk_http_res_error(&c->res, 400, "Idempotency-Key must be 1 to 255 characters");
            return 1;
        }
        if (request_hash(&c->req, hash)) {
            tk_http_res_error(&c->res, 500, "internal error (logged)");
            return 1;
        }
        r = tk_engine_idem_get(w->e, c->req.token_name, key, &rec, &err);
        if (r < 0) {
            fail_answer(c, &err);
            return 1;
        }
        if (r > 0) {
            int same = strcmp(rec.request_hash, hash) == 0;
            if (same) {
                c->res.status = rec.status;
                c->res.content_type = "application/json";
                tk_buf_reset(&c->res.body);
                tk_buf_puts(&c->res.body, rec.body);
                tk_http_res_header(&c->res, "Idempotent-Replayed", "true");
            } else {
                tk_http_res_error(&c->res, 422,
                                  "this Idempotency-Key was used with another request");
            }
            tk_api_idem_free(&rec);
            return !same;
        }
    }
    rc = c->route->fn(&x, &err);
    if (rc) {
        fail_answer(c, &err);
        return 1;
    }
    if (c->res.status >= 300 && !(c->res.status == 303 && (c->route->flags & TK_ROUTE_SEE_OTHER)))
        return 1;
    if (key && tk_engine_idem_put(w->e, c->req.token_name, key, hash, c->res.status,
                                  c->res.body.data ? c->res.body.data : "", &err)) {
        fail_answer(c, &err);
        return 1;
    }
    return 0;
}

static void run_writes(struct worker *w, struct conn **v, size_t n)
{
    struct tk_error err = {0};
    size_t ok = 0;
    if (tk_engine_begin(w->e, TK_TX_IMMEDIATE, &err)) {
        for (size_t i = 0; i < n; i++)
            fail_answer(v[i], &err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct tk_error serr = {0};
        if (tk_engine_savepoint(w->e, &serr)) {
            fail_answer(v[i], &serr);
            continue;
        }
        if (run_one(v[i])) {
            tk_engine_savepoint_rollback(w->e);
        } else if (tk_engine_savepoint_release(w->e, &serr)) {
            tk_engine_savepoint_rollback(w->e);
            fail_answer(v[i], &serr);
        } else {
            ok++;
        }
    }
    if (tk_engine_commit(w->e, &err)) {
        tk_engine_rollback(w->e);
        /* nothing of the group stayed: every answer says so, also a
         * failure answer (it changed nothing either way) */
        for (size_t i = 0; i < n; i++) {
            tk_kv_free(&v[i]->res.headers);
            fail_answer(v[i], &err);
        }
        return;
    }
    if (ok && w->s->cfg.wrote)
        w->s->cfg.wrote(w->s->cfg.wrote_data);
    tk_ckpt_ask(w->s->ckpt);
}

static void ckpt_failed(void *arg, const char *msg)
{
    logf_s(arg, "no checkpointer thread, the writer checkpoints: %s", msg);
}

/* The checkpointer (db.h, tk_ckpt_*): at SQLite's own 1000 pages, and
 * again once per 1000 pages the log grew: a checkpoint that ran while the
 * writer went on leaves the log long until the writer's next commit starts
 * it again, and asking after every commit meanwhile would run checkpoints
 * back to back, each with its two flushes, for a few pages each. */
static const struct tk_ckpt_policy http_ckpt = {
    .pages = 1000, .again = 1000, .eager = 1, .thread_name = "tk-http-ckpt", .failed = ckpt_failed};

static void run_read(struct worker *w, struct conn *c)
{
    struct tk_error err = {0};
    if (tk_engine_begin(w->e, TK_TX_DEFERRED, &err)) {
        fail_answer(c, &err);
        return;
    }
    run_one(c);
    tk_engine_rollback(w->e); /* a read changed nothing: ending it is enough */
}

static void reload(struct worker *w)
{
    struct tk_error err = {0};
    tk_engine_reload_templates(w->e);
    if (w->pipelines && tk_pipelines_reload(w->e, &w->pipelines, &err))
        logf_s(w->s, "SIGHUP: pipeline scripts not reloaded in the HTTP worker: %s", err.msg);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct tk_http_server *s = w->s;
    /* named for ps, top and perf (and it.test_http_api's strace) */
    pthread_setname_np(pthread_self(), w->writer ? "tk-http-write" : "tk-http-read");
    for (;;) {
        struct conn *batch, *c, *writes[GROUP_MAX], *rest = NULL, **rest_tail = &rest;
        size_t nw = 0;
        int stopping, want_reload;
        pthread_mutex_lock(&s->mu);
        if (!w->head && !s->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            /* a second without requests: housekeeping below */
            pthread_cond_timedwait(&w->cv, &s->mu, &ts);
        }
        batch = w->head;
        w->head = w->tail = NULL;
        w->queued = 0;
        stopping = s->stopping;
        want_reload = w->reload;
        w->reload = 0;
        pthread_mutex_unlock(&s->mu);
        tk_engine_tick_clock(w->e);
        if (want_reload)
            reload(w);
        if (w->writer)
            write_touches(w);
        if (!batch) {
            if (stopping)
                break;
            if (w->writer && mono() - w->last_prune > 600) {
                struct tk_error err = {0};
                w->last_prune = mono();
                if (tk_engine_idem_prune(w->e, &err))
                    logf_s(s, "pruning idempotency keys: %s", err.msg);
            }
            continue;
        }
        /* the writer: groups of GROUP_MAX in one transaction each; the
         * reader: one read transaction per request */
        while (batch) {
            c = batch;
            batch = c->next;
            c->next = NULL;
            if (stopping) {
                tk_http_res_error(&c->res, 503, "the server is stopping");
            } else if (w->writer) {
                writes[nw++] = c;
                if (nw == GROUP_MAX) {
                    run_writes(w, writes, nw);
                    nw = 0;
                }
            } else {
                run_read(w, c);
            }
            *rest_tail = c;
            rest_tail = &c->next;
        }
        if (nw)
            run_writes(w, writes, nw);
        tk_engine_set_actor(w->e, NULL);
        /* answer: MHD calls on_request again for each, which sends; in
         * external mode MHD_resume_connection only marks the connection,
         * and one wake makes the listener take them all */
        while (rest) {
            c = rest;
            rest = c->next;
            c->state = DONE;
            MHD_resume_connection(c->mc);
        }
        wake_listener(s);
    }
    return NULL;
}

/* ---- start and stop -------------------------------------------------------- */

/* "127.0.0.1:8025", "[::1]:8025", ":8025" (every IPv4 address). */
static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
                        struct tk_error *err)
{
    char host[64];
    const char *colon;
    int64_t port;
    memset(ss, 0, sizeof *ss);
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= sizeof host)
            goto bad;
        memcpy(host, spec + 1, (size_t)(end - spec - 1));
        host[end - spec - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon || (size_t)(colon - spec) >= sizeof host)
            goto bad;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
    }
    if (tk_parse_int(colon + 1, 0, 65535, &port))
        goto bad;
    if (spec[0] == '[') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            goto bad;
        *len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (host[0] == '\0' || strcmp(host, "*") == 0)
            a->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            goto bad;
        *len = sizeof *a;
    }
    return 0;
bad:
    return tk_error_set(err, TK_EINVAL,
                        "[http] listen: '%s' is not ADDRESS:PORT (127.0.0.1:8025, [::1]:8025)",
                        spec);
}

static char *read_pem(const char *path, struct tk_error *err)
{
    FILE *f = fopen(path, "r");
    struct tk_buf b = {0};
    char chunk[4096];
    size_t n;
    if (!f) {
        tk_error_set(err, TK_EIO, "[http] cannot read %s", path);
        return NULL;
    }
    b.max = 1 << 20;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (tk_buf_append(&b, chunk, n)) {
            fclose(f);
            tk_buf_free(&b);
            tk_error_set(err, TK_EIO, "[http] %s is too large", path);
            return NULL;
        }
    fclose(f);
    if (tk_buf_putc(&b, '\0')) {
        tk_buf_free(&b);
        return NULL;
    }
    return tk_buf_steal(&b);
}

static void server_free(struct tk_http_server *s)
{
    if (!s)
        return;
    tk_ckpt_stop(s->ckpt); /* before the writer's engine it borrows */
    for (int i = 0; i < 2; i++) {
        if (s->w[i].pipelines)
            tk_pipelines_close(s->w[i].pipelines);
        tk_engine_close(s->w[i].e);
        tk_token_cache_wipe(&s->w[i].tokens);
        pthread_cond_destroy(&s->w[i].cv);
    }
    tk_http_router_free(s->router);
    free(s->tls_cert);
    free(s->tls_key);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->log_mu);
    pthread_cond_destroy(&s->quiesced_cv);
    free(s);
}

/* The listener thread: MHD's event loop in external select mode.  Each
 * round it asks MHD for its descriptor sets (MHD_get_fdset2: the listening
 * socket, every connection that is not suspended), adds the wake eventfd,
 * and waits in select for as long as MHD_get_timeout allows (connection
 * time-outs); then MHD_run_from_select reads, calls on_request, resumes the
 * connections a worker resumed (on_request queues their answers), accepts
 * and closes idle connections.  A round the wake started (a worker resumed
 * a group) runs MHD_run_from_select once more with only MHD's write set:
 * the answers just queued go out now, not a select round later (a socket
 * just answered on is writable; a full one's send finds EAGAIN and waits in
 * the write set as before).  MHD_quiesce_daemon is called here too, as
 * MHD's calls are not made from two threads at once in this mode (resume
 * excepted: it is thread-safe). */
static void *listen_main(void *arg)
{
    struct tk_http_server *s = arg;
    pthread_setname_np(pthread_self(), "tk-http-listen");
    for (;;) {
        fd_set rs, ws, es;
        MHD_socket max = s->wake;
        MHD_UNSIGNED_LONG_LONG left;
        struct timeval tv, *tvp = NULL;
        int n, stop, woken = 0;
        FD_ZERO(&rs);
        FD_ZERO(&ws);
        FD_ZERO(&es);
        FD_SET(s->wake, &rs);
        /* MHD_NO: a socket did not fit; MHD refuses those at accept in
         * this mode (docs/api.md), and a listening socket that would not
         * fit makes MHD_start_daemon fail */
        (void)MHD_get_fdset2(s->mhd, &rs, &ws, &es, &max, FD_SETSIZE);
        if (MHD_get_timeout(s->mhd, &left) == MHD_YES) {
            tv.tv_sec = (time_t)(left / 1000);
            tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
            tvp = &tv;
        }
        n = select(max + 1, &rs, &ws, &es, tvp);
        if (n < 0) {
            /* EINTR: nothing is known ready; MHD_run_from_select still
             * resumes, times out and closes */
            FD_ZERO(&rs);
            FD_ZERO(&ws);
            FD_ZERO(&es);
        } else if (FD_ISSET(s->wake, &rs)) {
            uint64_t v;
            woken = 1;
            FD_CLR(s->wake, &rs);
            if (read(s->wake, &v, sizeof v) < 0) {
                /* EAGAIN: nothing to read after all */
            }
        }
        stop = __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE);
        if (__atomic_exchange_n(&s->quiesce, 0, __ATOMIC_ACQ_REL)) {
            MHD_socket l = MHD_quiesce_daemon(s->mhd);
            if (l != MHD_INVALID_SOCKET && l < FD_SETSIZE)
                FD_CLR(l, &rs); /* accept nothing more, also this round */
            pthread_mutex_lock(&s->mu);
            s->lsock = l;
            s->quiesced = 1;
            pthread_cond_broadcast(&s->quiesced_cv);
            pthread_mutex_unlock(&s->mu);
        }
        MHD_run_from_select(s->mhd, &rs, &ws, &es);
        if (woken) {
            /* the resumed group's answers, queued by the round above */
            max = 0;
            FD_ZERO(&rs);
            FD_ZERO(&ws);
            FD_ZERO(&es);
            (void)MHD_get_fdset2(s->mhd, &rs, &ws, &es, &max, FD_SETSIZE);
            FD_ZERO(&rs);
            FD_ZERO(&es);
            MHD_run_from_select(s->mhd, &rs, &ws, &es);
        }
        if (stop)
            return NULL;
    }
}

/* Makes the wake eventfd, before the workers start: they write it. */
static int listener_fds(struct tk_http_server *s)
{
    if ((s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return -1;
    if (s->wake >= FD_SETSIZE) {
        /* select cannot wait on it (see the connections' limit in docs/api.md) */
        errno = EMFILE;
        return -1;
    }
    return 0;
}

/* Ends the listener thread (after its last MHD run) and closes the wake
 * eventfd; nothing to do for one never started. */
static void stop_listener(struct tk_http_server *s)
{
    if (s->listening) {
        __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
        wake_listener(s);
        pthread_join(s->listener, NULL);
        s->listening = 0;
    }
    if (s->wake >= 0)
        close(s->wake);
    s->wake = -1;
}

int tk_http_start(struct tk_http_server **out, struct tk_engine *parent,
                  const struct tk_http_config *cfg, struct tk_error *err)
{
    const struct tk_config *conf = tk_engine_config(parent);
    struct tk_http_server *s;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    /* no MHD_USE_INTERNAL_POLLING_THREAD: listen_main runs the loop */
    unsigned flags = MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG; /* select */
    const union MHD_DaemonInfo *di;
    int rc;

    *out = NULL;
    if (!conf->http_listen)
        return tk_error_set(err, TK_EINVAL, "%s: [http] listen is not set", conf->path);
    if ((rc = parse_listen(conf->http_listen, &ss, &sslen, err)))
        return rc;
    if (!conf->http_tls_cert != !conf->http_tls_key)
        return tk_error_set(err, TK_EINVAL, "%s: [http] tls_cert and tls_key go together",
                            conf->path);
    if (!(s = calloc(1, sizeof *s)))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->log_mu, NULL);
    pthread_cond_init(&s->quiesced_cv, NULL);
    s->wake = -1;
    for (int i = 0; i < 2; i++) {
        s->w[i].s = s;
        s->w[i].writer = i == 0;
        pthread_cond_init(&s->w[i].cv, NULL);
    }
    if (cfg)
        s->cfg = *cfg;
    s->parent = parent;
    s->max_body = (size_t)conf->http_max_body_kb * 1024;
    if (conf->http_tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            server_free(s);
            return tk_error_set(err, TK_EINVAL,
                                "[http] tls_cert: this libmicrohttpd has no TLS; use a reverse "
                                "proxy (docs/api.md)");
        }
        if (!(s->tls_cert = read_pem(conf->http_tls_cert, err)) ||
            !(s->tls_key = read_pem(conf->http_tls_key, err))) {
            server_free(s);
            return TK_EIO;
        }
        flags |= MHD_USE_TLS;
    }
    if ((rc = tk_http_router_new(&s->router, err)) || (rc = tk_http_register_all(s->router, err)) ||
        (rc = tk_engine_open_peer(&s->w[0].e, parent, err)) ||
        (rc = tk_pipelines_open(s->w[0].e, &s->w[0].pipelines, err)) ||
        (rc = tk_engine_open_peer(&s->w[1].e, parent, err)) ||
        (rc = tk_pipelines_open(s->w[1].e, &s->w[1].pipelines, err))) {
        server_free(s);
        return rc;
    }
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&ss, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_IP_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)INACTIVITY_TIMEOUT, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        s->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->tls_cert,
        MHD_OPTION_HTTPS_MEM_KEY, s->tls_key, MHD_OPTION_END);
    if (!s->mhd) {
        server_free(s);
        return tk_error_set(err, TK_EIO, "[http] cannot listen on %s", conf->http_listen);
    }
    if (listener_fds(s)) {
        int e = errno;
        stop_listener(s);
        MHD_stop_daemon(s->mhd);
        server_free(s);
        return tk_error_set(err, TK_EIO, "[http] cannot make the listener's wake eventfd: %s",
                            strerror(e));
    }
    di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    {
        char host[64] = "";
        if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
            snprintf(s->address, sizeof s->address, "[%s]:%u", host, di ? (unsigned)di->port : 0u);
        } else {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
            snprintf(s->address, sizeof s->address, "%s:%u", host, di ? (unsigned)di->port : 0u);
        }
    }
    /* before the workers start (the writer reads s->ckpt unlocked); only
     * for a store with a log (SQLite), and without it the writer
     * checkpoints itself, as SQLite does */
    {
        struct tk_error cerr = {0};
        if (tk_engine_ckpt_start(s->w[0].e, &http_ckpt, s, &s->ckpt, &cerr) != 0)
            ckpt_failed(s, cerr.msg);
    }
    for (int i = 0; i < 2; i++) {
        if (pthread_create(&s->w[i].th, NULL, worker_main, &s->w[i]) != 0) {
            pthread_mutex_lock(&s->mu);
            s->stopping = 1;
            pthread_cond_broadcast(&s->w[0].cv);
            pthread_mutex_unlock(&s->mu);
            if (s->w[0].started)
                pthread_join(s->w[0].th, NULL);
            stop_listener(s);
            MHD_stop_daemon(s->mhd);
            server_free(s);
            return tk_error_set(err, TK_ERR, "cannot start the HTTP worker threads");
        }
        s->w[i].started = 1;
    }
    if ((rc = pthread_create(&s->listener, NULL, listen_main, s)) != 0) {
        pthread_mutex_lock(&s->mu);
        s->stopping = 1;
        for (int i = 0; i < 2; i++)
            pthread_cond_broadcast(&s->w[i].cv);
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < 2; i++)
            pthread_join(s->w[i].th, NULL);
        stop_listener(s);
        MHD_stop_daemon(s->mhd);
        server_free(s);
        return tk_error_set(err, TK_ERR, "cannot start the HTTP listener thread: %s", strerror(rc));
    }
    s->listening = 1;
    *out = s;
    return 0;
}

const char *tk_http_address(const struct tk_http_server *s)
{
    return s->address;
}

void tk_http_reload(struct tk_http_server *s)
{
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < 2; i++) {
        s->w[i].reload = 1;
        pthread_cond_signal(&s->w[i].cv);
    }
    pthread_mutex_unlock(&s->mu);
}

void tk_http_stop(struct tk_http_server *s)
{
    MHD_socket lsock;
    if (!s)
        return;
    /* stop accepting first (the listener does it: MHD's calls stay on
     * its thread); the listening socket is ours to close then */
    __atomic_store_n(&s->quiesce, 1, __ATOMIC_RELEASE);
    wake_listener(s);
    pthread_mutex_lock(&s->mu);
    while (!s->quiesced)
        pthread_cond_wait(&s->quiesced_cv, &s->mu);
    lsock = s->lsock;
    s->stopping = 1;
    for (int i = 0; i < 2; i++)
        pthread_cond_broadcast(&s->w[i].cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < 2; i++)
        if (s->w[i].started)
            pthread_join(s->w[i].th, NULL);
    /* the workers resumed every connection they had (503 when stopping);
     * the listener's last MHD_run answers what it can, then it ends */
    stop_listener(s);
    MHD_stop_daemon(s->mhd);
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    server_free(s);
}
