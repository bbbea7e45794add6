/* cmd_run.c - init, the scheduler (tick, run), plugins and the outbox. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "http/http.h"
#include "lua/pipeline.h"

int tk_cmd_init(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    struct tk_engine_store_info si;
    if (argc)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler init");
    /* tk_engine_open() already brought the schema up to date. */
    tk_engine_store_info(c->e, &si);
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "store", tk_json_str(si.driver));
        json_object_set_new(o, "schema_version", json_integer(si.schema_version));
        tk_cli_emit(o);
    } else {
        printf("store ready: %s %s (schema version %d)\n", tk_cli_text(si.driver),
               tk_cli_text(si.path), si.schema_version);
    }
    return 0;
}

struct tick_result {
    size_t reminders;
    struct tk_dispatch_stats st;
    int64_t queued, dead;
};

static int tick_once(struct tk_cli *c, struct tick_result *r, struct tk_error *err)
{
    int rc;
    memset(r, 0, sizeof *r);
    if ((rc = tk_engine_tick(c->e, &r->reminders, &r->st, err)))
        return rc;
    return tk_engine_outbox_counts(c->e, &r->queued, &r->dead, err);
}

int tk_cmd_tick(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    struct tick_result r;
    char when[32];
    int rc;
    if (argc)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler tick");
    tk_engine_check_templates(c->e);
    if ((rc = tick_once(c, &r, err)))
        return rc;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "now", tk_json_time(c->now));
        json_object_set_new(o, "reminders", json_integer((json_int_t)r.reminders));
        json_object_set_new(o, "delivered", json_integer((json_int_t)r.st.delivered));
        json_object_set_new(o, "deferred",
                            json_integer((json_int_t)(r.st.temporary + r.st.unknown)));
        json_object_set_new(o, "failed", json_integer((json_int_t)r.st.permanent));
        json_object_set_new(o, "queued", json_integer(r.queued));
        json_object_set_new(o, "dead", json_integer(r.dead));
        tk_cli_emit(o);
    } else {
        printf("tick %s: %zu reminder%s due, %zu message%s delivered, %zu deferred, %zu failed; "
               "%lld queued, %lld dead\n",
               tk_time_format(c->now, when, sizeof when), r.reminders, r.reminders == 1 ? "" : "s",
               r.st.delivered, r.st.delivered == 1 ? "" : "s", r.st.temporary + r.st.unknown,
               r.st.permanent, (long long)r.queued, (long long)r.dead);
    }
    if (r.queued && r.st.temporary + r.st.unknown)
        fprintf(stderr, "tickler: warning: %lld message%s stay queued for a later tick\n",
                (long long)r.queued, r.queued == 1 ? "" : "s");
    return 0;
}

static volatile sig_atomic_t g_stop, g_reload;
static volatile int g_stop_flag;
/* set by the HTTP worker after it committed writes: tick now, so that the
 * mail they enqueued goes out without waiting for the poll */
static int g_wake;

static void on_signal(int sig)
{
    if (sig == SIGHUP) {
        g_reload = 1;
    } else {
        g_stop = 1;
        /* read by the worker threads too (tk_engine_stopping): atomic; a
         * lock-free int store is async-signal-safe */
        __atomic_store_n(&g_stop_flag, 1, __ATOMIC_RELAXED);
    }
}

static void logf_line(const char *fmt, ...) TK_PRINTF(1, 2);
static void logf_line(const char *fmt, ...)
{
    char when[32], line[2 * TK_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* one line per event: what it quotes is escaped (text.c) */
    fprintf(stderr, "%s tickler: %s\n", tk_time_format(tk_time_real(), when, sizeof when),
            tk_cli_text(line));
}

/* Set once the log could not be opened: stderr is closed then, and
 * later reopens are not tried (as before, the daemon runs on). */
static int g_log_lost;

static void reopen_log(struct tk_cli *c)
{
    const char *file = tk_engine_config(c->e)->log_file;
    if (!file || g_log_lost)
        return;
    if (!freopen(file, "a", stderr)) {
        g_log_lost = 1;
        return;
    }
    /* A reopened stderr is a plain file and would be fully buffered: a
     * crash would lose the last lines, the ones that matter. */
    setvbuf(stderr, NULL, _IOLBF, 0);
}

/* Each pipeline script that failed to load, one line each: the daemon
 * keeps running, but automations are refused until it is fixed. */
static void log_broken_scripts(struct tk_cli *c)
{
    const char *why;
    for (size_t i = 0; (why = tk_pipelines_broken(c->pipelines, i)) != NULL; i++)
        logf_line("pipeline script failed to load: %s; job add, job move and event are refused "
                  "until it is fixed",
                  why);
}

/* Called on the server's threads: a buffer of its own per line
 * (tk_cli_text's ring belongs to the main thread), one fprintf per line. */
static void http_log(void *u, const char *msg)
{
    struct tk_buf b = {0};
    char when[32];
    (void)u;
    fprintf(stderr, "%s tickler: http: %s\n", tk_time_format(tk_time_real(), when, sizeof when),
            tk_cli_escape(&b, msg) == 0 ? b.data : "?");
    tk_buf_free(&b);
}

static void http_wrote(void *u)
{
    (void)u;
    __atomic_store_n(&g_wake, 1, __ATOMIC_RELAXED);
}

/* The listener of [http] listen, when it is set (*out stays NULL else). */
static int start_http(struct tk_cli *c, struct tk_http_server **out, struct tk_error *err)
{
    struct tk_http_config hc = {http_log, NULL, http_wrote, NULL};
    *out = NULL;
    if (!tk_engine_config(c->e)->http_listen)
        return 0;
    if (tk_http_start(out, c->e, &hc, err))
        return err->code ? err->code : TK_ERR;
    logf_line("http: listening on %s", tk_http_address(*out));
    return 0;
}

/* Sleep up to SECONDS, waking early on a signal. */
static void nap(double seconds)
{
    while (seconds > 0 && !g_stop && !g_reload && !__atomic_load_n(&g_wake, __ATOMIC_RELAXED)) {
        double step = seconds < 0.05 ? seconds : 0.05;
        struct timespec ts = {(time_t)step, (long)((step - (double)(time_t)step) * 1e9)};
        nanosleep(&ts, NULL);
        seconds -= step;
    }
}

int tk_cmd_run(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    const struct tk_config *cfg = tk_engine_config(c->e);
    struct tk_engine_store_info si;
    struct tk_http_server *http = NULL;
    struct sigaction sa;
    struct tick_result r;
    char when[32];
    if (argc)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler run");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    tk_engine_set_stop(c->e, &g_stop_flag);
    reopen_log(c);
    tk_engine_tick_clock(c->e);
    tk_engine_store_info(c->e, &si);
    logf_line("running: clock %s, poll every %d s, transport %s, store %s",
              tk_time_format(tk_engine_now(c->e), when, sizeof when), cfg->poll_seconds,
              cfg->transport_plugin, si.driver);
    tk_engine_check_templates(c->e);
    log_broken_scripts(c);
    if (start_http(c, &http, err)) {
        tk_engine_set_stop(c->e, NULL);
        return err->code;
    }
    tk_cli_notify_ready("running");
    while (!g_stop) {
        struct tk_error terr = {0};
        tk_time wake = 0;
        double wait = cfg->poll_seconds;
        if (g_reload) {
            g_reload = 0;
            tk_cli_notify_reloading();
            reopen_log(c);
            tk_engine_reload_templates(c->e);
            if (http)
                tk_http_reload(http);
            if (tk_pipelines_reload(c->e, &c->pipelines, &terr) != 0)
                logf_line("SIGHUP: pipeline scripts not reloaded: %s", terr.msg);
            logf_line("SIGHUP: log reopened, templates reloaded, pipeline scripts reloaded");
            tk_engine_check_templates(c->e);
            log_broken_scripts(c);
            tk_cli_notify_ready("running");
        }
        __atomic_store_n(&g_wake, 0, __ATOMIC_RELAXED);
        tk_engine_tick_clock(c->e);
        c->now = tk_engine_now(c->e);
        if (tick_once(c, &r, &terr)) {
            logf_line("tick failed: %s; retrying in %d s", terr.msg, cfg->poll_seconds);
        } else if (r.reminders || r.st.delivered || r.st.temporary || r.st.permanent ||
                   r.st.unknown || r.st.stale) {
            logf_line(
                "tick %s: %zu reminders due, %zu delivered, %zu deferred, %zu failed, %zu stale; "
                "%lld queued, %lld dead",
                tk_time_format(c->now, when, sizeof when), r.reminders, r.st.delivered,
                r.st.temporary + r.st.unknown, r.st.permanent, r.st.stale, (long long)r.queued,
                (long long)r.dead);
        }
        /* Wake for whatever comes first: the poll, the next reminder or the
         * next retry. */
        if (tk_engine_next_due(c->e, &wake, &terr) == 0) {
            tk_time now;
            tk_engine_tick_clock(c->e);
            now = tk_engine_now(c->e);
            if (wake && (double)(wake - now) < wait)
                wait = wake > now ? (double)(wake - now) : 0.2;
        }
        nap(wait);
    }
    tk_cli_notify_stopping();
    logf_line("stopping: signal received, exiting");
    tk_http_stop(http);
    tk_engine_set_stop(c->e, NULL);
    return 0;
}

int tk_cmd_serve(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    struct tk_http_server *http = NULL;
    struct sigaction sa;
    (void)argv;
    if (argc)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler serve");
    if (!tk_engine_config(c->e)->http_listen)
        return tk_error_set(
            err, TK_EUSAGE,
            "tickler serve needs [http] listen = ADDRESS:PORT in the configuration");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    tk_engine_set_stop(c->e, &g_stop_flag);
    reopen_log(c);
    tk_engine_check_templates(c->e);
    log_broken_scripts(c);
    if (start_http(c, &http, err)) {
        tk_engine_set_stop(c->e, NULL);
        return err->code;
    }
    logf_line("serving HTTP only: no scheduling, no delivery (tickler run does both)");
    tk_cli_notify_ready("serving");
    while (!g_stop) {
        if (g_reload) {
            g_reload = 0;
            reopen_log(c);
            tk_http_reload(http);
            logf_line("SIGHUP: log reopened, HTTP worker reloads templates and scripts");
        }
        __atomic_store_n(&g_wake, 0, __ATOMIC_RELAXED);
        nap(1.0);
    }
    tk_cli_notify_stopping();
    logf_line("stopping: signal received, exiting");
    tk_http_stop(http);
    tk_engine_set_stop(c->e, NULL);
    return 0;
}

int tk_cmd_plugins(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    const struct tk_registry *reg = tk_engine_plugins(c->e);
    json_t *arr = c->json ? json_array() : NULL;
    if (argc)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler plugins");
    for (size_t i = 0; i < reg->n; i++) {
        const struct tk_plugin *p = reg->v[i];
        if (arr)
            json_array_append_new(arr, tk_json_plugin(p));
        else
            printf("%-12s %-10s ABI %u.%-3u %s\n", tk_cli_text(p->hdr->name),
                   p->item ? "item" : "transport", p->hdr->abi_major, p->hdr->abi_minor,
                   tk_cli_text(p->path));
    }
    if (arr)
        tk_cli_emit(arr);
    return 0;
}

static int outbox_one(void *u, const struct tk_outbox_row *r)
{
    json_t *arr = u;
    char a[32], b[32];
    if (arr) {
        json_array_append_new(arr, tk_json_outbox(r));
    } else {
        printf("%-6lld %-6s item %-6lld %-14s %-30s attempts %d  %s%s%s\n", (long long)r->id,
               tk_json_outbox_state(r->state), (long long)r->item_id, tk_cli_text(r->kind),
               tk_cli_text(r->recipient), r->attempts,
               r->state == TK_OUTBOX_SENT     ? tk_time_format(r->sent_at, a, sizeof a)
               : r->state == TK_OUTBOX_QUEUED ? tk_time_format(r->next_attempt_at, b, sizeof b)
                                              : "",
               r->last_reply ? "  " : "", tk_cli_text(r->last_reply));
    }
    return 0;
}

int tk_cmd_outbox(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    static const char *const spec[] = {"failed", "item=", NULL};
    struct tk_cli_args a;
    json_t *arr = c->json ? json_array() : NULL;
    int64_t item = 0;
    int rc;
    if ((rc = tk_cli_parse(argc, argv, spec, &a, err)))
        goto out;
    if (a.pos.n) {
        rc = tk_error_set(err, TK_EUSAGE, "usage: tickler outbox [--failed] [--item ITEM]");
        goto out;
    }
    if (tk_cli_opt(&a, "item") && (rc = tk_cli_id(tk_cli_opt(&a, "item"), "ITEM", &item, err)))
        goto out;
    rc = tk_engine_outbox_each(c->e, tk_cli_opt(&a, "failed") != NULL, item, outbox_one, arr, err);
    if (arr && !rc) {
        tk_cli_emit(arr);
        arr = NULL;
    }
out:
    if (arr)
        json_decref(arr);
    tk_cli_args_free(&a);
    return rc;
}

int tk_cmd_outbox_retry(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    static const char *const spec[] = {"all-failed", NULL};
    struct tk_cli_args a;
    size_t n = 1;
    int rc;
    if ((rc = tk_cli_parse(argc, argv, spec, &a, err)))
        goto out;
    if ((a.pos.n != 1) == !tk_cli_opt(&a, "all-failed")) {
        rc = tk_error_set(err, TK_EUSAGE, "usage: tickler outbox retry ID|--all-failed");
        goto out;
    }
    if (a.pos.n == 1) {
        int64_t id;
        if ((rc = tk_cli_id(a.pos.v[0], "ID", &id, err)) ||
            (rc = tk_engine_outbox_retry(c->e, id, err)))
            goto out;
    } else if ((rc = tk_engine_outbox_retry_failed(c->e, &n, err))) {
        goto out;
    }
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "retried", json_integer((json_int_t)n));
        tk_cli_emit(o);
    } else {
        printf("%zu message%s queued again\n", n, n == 1 ? "" : "s");
    }
out:
    tk_cli_args_free(&a);
    return rc;
}
