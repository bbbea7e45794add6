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
#include "log.h"
#include "lua/pipeline.h"

int tk_cmd_init_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 0, 0, "init", a, err);
}

int tk_cmd_init(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_engine_store_info si;
    (void)a;
    (void)err;
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
    size_t reminders, skipped, listed;
    const struct tk_engine_skip *skips;
    struct tk_dispatch_stats st;
    int64_t queued, dead;
};

static int tick_once(struct tk_cli *c, struct tick_result *r, struct tk_error *err)
{
    int rc;
    memset(r, 0, sizeof *r);
    rc = tk_engine_tick(c->e, &r->reminders, &r->st, err);
    r->skipped = tk_engine_skipped(c->e, &r->skips, &r->listed);
    if (rc)
        return rc;
    return tk_engine_outbox_counts(c->e, &r->queued, &r->dead, err);
}

int tk_cmd_tick_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 0, 0, "tick", a, err);
}

int tk_cmd_tick(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tick_result r;
    char when[32];
    int rc;
    (void)a;
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
        json_object_set_new(o, "skipped", json_integer((json_int_t)r.skipped));
        json_t *list = json_array();
        for (size_t i = 0; i < r.listed; i++) {
            json_t *k = json_object();
            json_object_set_new(k, "item", json_integer(r.skips[i].item));
            json_object_set_new(k, "account", json_integer(r.skips[i].account));
            json_object_set_new(k, "retry_at", tk_json_time(r.skips[i].retry_at));
            json_object_set_new(k, "error", tk_json_str(r.skips[i].why));
            json_array_append_new(list, k);
        }
        json_object_set_new(o, "skipped_items", list);
        tk_cli_emit(o);
    } else {
        printf("tick %s: %zu reminder%s due, %zu message%s delivered, %zu deferred, %zu failed; "
               "%lld queued, %lld dead\n",
               tk_time_format(c->now, when, sizeof when), r.reminders, r.reminders == 1 ? "" : "s",
               r.st.delivered, r.st.delivered == 1 ? "" : "s", r.st.temporary + r.st.unknown,
               r.st.permanent, (long long)r.queued, (long long)r.dead);
        if (r.skipped)
            printf("skipped %zu item%s:\n", r.skipped, r.skipped == 1 ? "" : "s");
        for (size_t i = 0; i < r.listed; i++)
            printf("  item %lld (account %lld), retry at %s: %s\n", (long long)r.skips[i].item,
                   (long long)r.skips[i].account,
                   tk_time_format(r.skips[i].retry_at, when, sizeof when),
                   tk_cli_text(r.skips[i].why));
        if (r.listed < r.skipped)
            printf("  ... and %zu more\n", r.skipped - r.listed);
    }
    if (r.queued && r.st.temporary + r.st.unknown)
        fprintf(stderr, "tickler: warning: %lld message%s stay queued for a later tick\n",
                (long long)r.queued, r.queued == 1 ? "" : "s");
    if (r.skipped)
        return tk_error_set(err, TK_ERR,
                            "%zu item%s skipped (the rest was done): see tickler why ITEM",
                            r.skipped, r.skipped == 1 ? "" : "s");
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

#define logf_line(...) tk_log_printf(TK_LOG_INFO, __VA_ARGS__)

/* The engine's warnings (an item skipped, a template broken) in the log. */
static void log_warning(void *u, const char *msg)
{
    (void)u;
    tk_log_write(TK_LOG_WARN, NULL, msg);
}

/* SIGTERM, SIGINT stop and SIGHUP reloads (run and serve); a client that
 * hangs up is a write error, not a signal. */
static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* The end of run and serve after a stop signal. */
static void stop_daemon(struct tk_cli *c, struct tk_http_server *http)
{
    tk_cli_notify_stopping();
    logf_line("stopping: signal received, exiting");
    tk_http_stop(http);
    tk_engine_set_stop(c->e, NULL);
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

int tk_cmd_run_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 0, 0, "run", a, err);
}

int tk_cmd_run(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    const struct tk_config *cfg = tk_engine_config(c->e);
    struct tk_engine_store_info si;
    struct tk_http_server *http = NULL;
    struct tick_result r;
    char when[32];
    tk_time next_poll = 0;
    (void)a;
    /* before anything else: a log that cannot be opened is a startup
     * error, not a daemon running with no log anywhere */
    if (tk_log_open(cfg, err))
        return err->code ? err->code : TK_EIO;
    tk_engine_set_warn(c->e, log_warning, NULL);
    /* so that `tickler restore` refuses while the daemon runs */
    if (tk_engine_daemon_lock(c->e, err))
        return err->code ? err->code : TK_ERR;
    catch_signals();
    tk_engine_set_stop(c->e, &g_stop_flag);
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
    /* After a failed or partial tick (an error, or items skipped) the next
     * one waits at least BACKOFF seconds, whatever is due: 1 s, doubling
     * on each such tick in a row up to poll_seconds; a clean tick resets
     * it.  Without it an overdue item that keeps failing would be the next
     * wake-up again at once, a busy loop (issue 11 item 3). */
    double backoff = 0;
    while (!g_stop) {
        struct tk_error terr = {0};
        tk_time wake = 0;
        double wait = cfg->poll_seconds;
        int failed;
        if (g_reload) {
            g_reload = 0;
            tk_cli_notify_reloading();
            int reopened = tk_log_reopen() == 0;
            tk_engine_reload_templates(c->e);
            if (http)
                tk_http_reload(http);
            if (tk_pipelines_reload(c->e, &c->pipelines, &terr) != 0)
                logf_line("SIGHUP: pipeline scripts not reloaded: %s", terr.msg);
            logf_line("SIGHUP: %s, templates reloaded, pipeline scripts reloaded",
                      reopened ? "log reopened" : "log NOT reopened");
            tk_engine_check_templates(c->e);
            log_broken_scripts(c);
            tk_cli_notify_ready("running");
        }
        __atomic_store_n(&g_wake, 0, __ATOMIC_RELAXED);
        /* What came back first ([inbound] url, issue 15), so that a
         * forwarded reply leaves in this tick and a suppression counts
         * before the reminders are written. */
        if (tk_engine_inbound_polls(c->e) && tk_time_real() >= next_poll) {
            struct tk_engine_poll_stats ps;
            tk_engine_tick_clock(c->e);
            if (tk_engine_inbound_poll(c->e, &ps, &terr))
                logf_line("inbound poll failed: %s; retrying in %d s", terr.msg,
                          cfg->inbound_poll_seconds);
            else if (ps.found)
                logf_line("inbound: %u found, %u processed (%u seen before), %u failed", ps.found,
                          ps.processed, ps.duplicates, ps.failed);
            next_poll = tk_time_real() + cfg->inbound_poll_seconds;
        }
        tk_engine_tick_clock(c->e);
        c->now = tk_engine_now(c->e);
        failed = tick_once(c, &r, &terr) != 0;
        if (failed || r.skipped)
            backoff = backoff <= 0 ? 1 : backoff * 2;
        else
            backoff = 0;
        if (backoff > cfg->poll_seconds)
            backoff = cfg->poll_seconds;
        if (failed) {
            tk_log_printf(TK_LOG_ERROR, "tick failed: %s; retrying in %.0f s at the earliest",
                          terr.msg, backoff);
        } else if (r.reminders || r.st.delivered || r.st.temporary || r.st.permanent ||
                   r.st.unknown || r.st.stale || r.skipped) {
            logf_line(
                "tick %s: %zu reminders due, %zu delivered, %zu deferred, %zu failed, %zu stale, "
                "%zu skipped; %lld queued, %lld dead",
                tk_time_format(c->now, when, sizeof when), r.reminders, r.st.delivered,
                r.st.temporary + r.st.unknown, r.st.permanent, r.st.stale, r.skipped,
                (long long)r.queued, (long long)r.dead);
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
        if (wait < backoff)
            wait = backoff;
        if (tk_engine_inbound_polls(c->e)) {
            double to_poll = (double)(next_poll - tk_time_real());
            if (to_poll < wait)
                wait = to_poll > 0 ? to_poll : 0.2;
        }
        nap(wait);
    }
    stop_daemon(c, http);
    return 0;
}

int tk_cmd_serve_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 0, 0, "serve", a, err);
}

int tk_cmd_serve(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_http_server *http = NULL;
    (void)a;
    if (!tk_engine_config(c->e)->http_listen)
        return tk_error_set(
            err, TK_EUSAGE,
            "tickler serve needs [http] listen = ADDRESS:PORT in the configuration");
    catch_signals();
    if (tk_log_open(tk_engine_config(c->e), err))
        return err->code ? err->code : TK_EIO;
    tk_engine_set_warn(c->e, log_warning, NULL);
    tk_engine_set_stop(c->e, &g_stop_flag);
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
            int reopened = tk_log_reopen() == 0;
            tk_http_reload(http);
            logf_line("SIGHUP: %s, HTTP worker reloads templates and scripts",
                      reopened ? "log reopened" : "log NOT reopened");
        }
        __atomic_store_n(&g_wake, 0, __ATOMIC_RELAXED);
        nap(1.0);
    }
    stop_daemon(c, http);
    return 0;
}

int tk_cmd_plugins_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 0, 0, "plugins", a, err);
}

int tk_cmd_plugins(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    const struct tk_registry *reg = tk_engine_plugins(c->e);
    json_t *arr = c->json ? json_array() : NULL;
    (void)a;
    (void)err;
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
    json_t *arr = ((struct tk_cli_list *)u)->arr;
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

int tk_cmd_outbox_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"failed", "item=", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (rc)
        return rc;
    if (a->pos.n)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler outbox [--failed] [--item ITEM]");
    return tk_cli_opt(a, "item") ? tk_cli_id(tk_cli_opt(a, "item"), "ITEM", &a->id, err) : 0;
}

int tk_cmd_outbox(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_cli_list l;
    tk_cli_list_begin(&l, c, err);
    return tk_cli_list_end(&l, tk_engine_outbox_each(c->e, tk_cli_opt(a, "failed") != NULL, a->id,
                                                     outbox_one, &l, err));
}

int tk_cmd_outbox_retry_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"all-failed", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (rc)
        return rc;
    if ((a->pos.n != 1) == !tk_cli_opt(a, "all-failed"))
        return tk_error_set(err, TK_EUSAGE, "usage: tickler outbox retry ID|--all-failed");
    return a->pos.n == 1 ? tk_cli_id(a->pos.v[0], "ID", &a->id, err) : 0;
}

int tk_cmd_outbox_retry(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    size_t n = 1;
    int rc = a->id ? tk_engine_outbox_retry(c->e, a->id, err)
                   : tk_engine_outbox_retry_failed(c->e, &n, err);
    if (rc)
        return rc;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "retried", json_integer((json_int_t)n));
        tk_cli_emit(o);
    } else {
        printf("%zu message%s queued again\n", n, n == 1 ? "" : "s");
    }
    return 0;
}
