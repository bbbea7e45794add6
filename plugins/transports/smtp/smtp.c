/*
 * smtp.c - the smtp transport: hands each message to a relay.
 *
 * Two clients behind one configuration.  With tls = none and no AUTH (a
 * local relay or MTA, the common self-hosted setup) and pipelining = auto,
 * the plugin speaks SMTP itself (wire.c): one connection per batch, MAIL,
 * RCPT and DATA in one write when the server offers PIPELINING.  Everything
 * else (TLS, STARTTLS, AUTH, user info in the URL, pipelining = off) goes
 * through libcurl, which the native client does not try to replace.
 *
 * libcurl: one easy handle per batch.  curl keeps the connection in the handle's
 * cache between curl_easy_perform() calls, so a batch of N messages is one
 * SMTP session (greeting, EHLO, STARTTLS and AUTH once, then MAIL/RCPT/DATA
 * per message).  After a failed transaction curl drops that connection and
 * the next perform on the same handle simply connects again.
 *
 * Options that never change are set once in open(); send() sets only the
 * envelope and rewinds the read state.
 *
 * Every wait is bounded by timeout_seconds, on both clients.  curl bounds
 * a transfer with CURLOPT_TIMEOUT, but after it timed out waiting for the
 * reply to the body it keeps the connection: the next message is sent
 * into it (the server is still busy with the last one), and
 * curl_easy_cleanup() sends it QUIT and waits up to
 * CURLOPT_SERVER_RESPONSE_TIMEOUT, 120 s by default, for the 221.  A relay
 * gone silent after the body held a send() and SIGTERM for 123 s.  So: a
 * connection whose transfer failed without a verdict from the server is
 * shut down (no QUIT, nothing reused), every reply including QUIT's is
 * awaited for at most timeout_seconds, and a progress callback, which curl
 * calls at least once a second while it waits, ends whatever is left of
 * a message once its timeout_seconds are up.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "curlfn.h"

#if LIBCURL_VERSION_NUM < 0x075000
#error "the smtp transport needs libcurl 7.80 or newer (CURLOPT_PREREQFUNCTION)"
#endif

#include "classify.h"
#include "envelope.h"
#include "resolve.h"
#include "tickler/transport.h"
#include "wire.h"

enum tls_mode { TLS_NONE, TLS_STARTTLS, TLS_IMPLICIT };

/* Shared by every connection (transport.h, "Threads"): written by init
 * only, read-only from open, send and close. */
struct smtp_state {
    const struct tk_host *host;
    char *url;            /* effective URL (scheme and EHLO name applied); host alloc */
    const char *username; /* borrowed from the host's config until fini */
    const char *password;
    const char *ca_file;
    enum tls_mode tls;
    long timeout, connect_timeout;
    int native;         /* use wire.c instead of libcurl */
    int wire_possible;  /* the URL is plain host[:port][/helo] */
    char *wire_strings; /* host alloc: wire.host, port, helo */
    struct tk_smtp_wire_cfg wire;
    char *curl_host, *curl_port; /* the URL's host and port (curl_free) */
    int curl_ready;              /* libcurl opened and initialised (need_curl) */
};

/* One per connection, used by one thread at a time. */
struct smtp_conn {
    struct smtp_state *st;
    CURL *curl;                /* NULL on the native path */
    struct curl_slist *pinned; /* CURLOPT_RESOLVE: the host's addresses for this batch */
    struct tk_smtp_wire *wire; /* NULL on the libcurl path */
    /* The message being sent: borrowed for one send(). */
    const char *data;
    size_t len, off;
    int read_called;
    const struct tk_smtp_envelope *env;
    int64_t deadline;  /* CLOCK_MONOTONIC ms: the end of this message's time */
    int late;          /* the progress callback ended the transfer at the deadline */
    int stopping;      /* ... or because the host is stopping */
    int64_t stop_seen; /* CLOCK_MONOTONIC ms the host was first seen stopping; 0: not yet */
    int no_smtputf8;   /* the pre-request callback refused: SMTPUTF8 needed, not offered */
    /* The last EHLO's answer, read from the server's lines: curl keeps
     * its capabilities to itself. */
    int in_ehlo, smtputf8;
    char last_reply[TK_ERROR_MAX]; /* last server line of this transfer */
    char fail_reply[TK_ERROR_MAX]; /* last 4xx/5xx line of this transfer */
    char errbuf[CURL_ERROR_SIZE];
};

static const struct tk_config_key smtp_keys[] = {
    {"url", "smtp://host:port or smtps://host:port of the relay (required)"},
    {"username", "user name for SMTP AUTH (optional)"},
    {"password", "password for SMTP AUTH (required with username)"},
    {"tls", "none, starttls or tls (default: tls for smtps://, none for smtp://)"},
    {"timeout_seconds", "longest time for one message, connection included (default 30)"},
    {"connect_timeout_seconds", "longest time to connect (default 10)"},
    {"ca_file", "PEM file of CA certificates to trust instead of the system's"},
    {"helo", "name to announce in EHLO (default: this host's name)"},
    {"pipelining", "auto (own SMTP client with PIPELINING when tls = none and no username) or off "
                   "(always libcurl); default auto"},
    {NULL, NULL},
};

static int fail(struct tk_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct tk_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

/* host->stopping, where the host has it (ABI 1.1); DATA: the host. */
static int host_stopping(void *data)
{
    const struct tk_host *host = data;
    return TK_HOST_HAS(host, stopping) && host->stopping && host->stopping(host);
}

/* URL without its password ("smtp://user:***@host"), for messages: the
 * whole URL is never written to an error or a log. */
static const char *masked(const char *url, char *buf, size_t size)
{
    const char *auth = strstr(url, "://");
    if (!auth)
        return url;
    auth += 3;
    /* the last '@' anywhere: a password may hold a '/' that was not
     * percent-encoded, and an smtp URL has no other use for '@' */
    const char *at = strrchr(auth, '@');
    if (!at)
        return url;
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    if (!colon)
        return url; /* a user name alone is no secret */
    snprintf(buf, size, "%.*s:***%s", (int)(colon - url), url, at);
    return buf;
}

static int parse_seconds(const char *key, const char *v, long def, long max, long *out,
                         struct tk_error *err)
{
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 1 || n > max)
        return fail(err, TK_EINVAL, "[transport] %s: \"%s\" is not a number of seconds (1-%ld)",
                    key, v, max);
    *out = n;
    return 0;
}

/* EHLO takes a domain or an address literal; curl sends the URL path as is,
 * so anything else could inject protocol text. */
static int helo_valid(const char *s)
{
    if (!*s || strlen(s) > 255)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(".-[]:_", *s))
            return 0;
    return 1;
}

/* Host, port and EHLO name for the native client, from the URL's authority
 * and path.  Anything it would have to interpret the way curl does (user
 * info, percent-encoding, a bare IPv6 address) leaves the URL to libcurl. */
static int wire_parse(struct smtp_state *st, const char *authority, size_t auth_len,
                      const char *path, const char *helo, struct tk_error *err)
{
    const char *host = authority, *port = "";
    size_t host_len = auth_len, port_len = 0;
    char local[256] = "localhost";
    if (memchr(authority, '@', auth_len))
        return 0;
    if (authority[0] == '[') {
        const char *close = memchr(authority, ']', auth_len);
        if (!close || (close + 1 < authority + auth_len && close[1] != ':'))
            return 0;
        host = authority + 1;
        host_len = (size_t)(close - host);
        if (close + 1 < authority + auth_len) {
            port = close + 2;
            port_len = (size_t)(authority + auth_len - port);
        }
    } else {
        const char *colon = memchr(authority, ':', auth_len);
        if (colon) {
            if (memchr(colon + 1, ':', (size_t)(authority + auth_len - colon - 1)))
                return 0;
            host_len = (size_t)(colon - authority);
            port = colon + 1;
            port_len = auth_len - host_len - 1;
        }
    }
    if (host_len == 0 || port_len > 5 || strspn(port, "0123456789") < port_len)
        return 0;
    if (!helo) {
        helo = local;
        if (*path)
            helo = path;
        else if (gethostname(local, sizeof local - 1) != 0 || !helo_valid(local))
            snprintf(local, sizeof local, "%s", "localhost");
        if (!helo_valid(helo))
            return 0;
    }
    size_t n = host_len + 1 + (port_len ? port_len : 2) + 1 + strlen(helo) + 1;
    char *p = st->host->alloc(st->host, n);
    if (!p)
        return fail(err, TK_ENOMEM, "smtp: out of memory");
    st->wire_strings = p;
    st->wire.host = p;
    memcpy(p, host, host_len);
    p[host_len] = '\0';
    p += host_len + 1;
    st->wire.port = p;
    if (port_len) {
        memcpy(p, port, port_len);
        p[port_len] = '\0';
    } else {
        memcpy(p, "25", 3);
    }
    p += strlen(p) + 1;
    st->wire.helo = p;
    memcpy(p, helo, strlen(helo) + 1);
    st->wire_possible = 1;
    return 0;
}

static int parse_url(struct smtp_state *st, const char *url, const char *tls, const char *helo,
                     struct tk_error *err)
{
    if (!url || !*url)
        return fail(err, TK_EINVAL,
                    "[transport] url: required (smtp://host:port or smtps://host:port)");
    char shown[TK_ERROR_MAX / 2];
    const char *m = masked(url, shown, sizeof shown);
    int implicit;
    size_t scheme_len;
    if (strncasecmp(url, "smtps://", 8) == 0) {
        implicit = 1;
        scheme_len = 8;
    } else if (strncasecmp(url, "smtp://", 7) == 0) {
        implicit = 0;
        scheme_len = 7;
    } else {
        return fail(err, TK_EINVAL, "[transport] url: \"%s\" must start with smtp:// or smtps://",
                    m);
    }
    const char *authority = url + scheme_len;
    size_t auth_len = strcspn(authority, "/?#");
    const char *host = authority; /* after the user info, if any */
    for (size_t i = 0; i < auth_len; i++)
        if (authority[i] == '@')
            host = authority + i + 1;
    if (auth_len == 0 || host == authority + auth_len || *host == ':')
        return fail(err, TK_EINVAL, "[transport] url: \"%s\" names no host", m);
    if (strpbrk(url, " \t\r\n"))
        return fail(err, TK_EINVAL, "[transport] url: \"%s\" contains white space", m);
    const char *path = authority + auth_len;
    if (*path == '/')
        path++;

    if (!tls)
        st->tls = implicit ? TLS_IMPLICIT : TLS_NONE;
    else if (strcmp(tls, "none") == 0)
        st->tls = TLS_NONE;
    else if (strcmp(tls, "starttls") == 0)
        st->tls = TLS_STARTTLS;
    else if (strcmp(tls, "tls") == 0)
        st->tls = TLS_IMPLICIT;
    else
        return fail(err, TK_EINVAL, "[transport] tls: \"%s\" is not none, starttls or tls", tls);
    if (implicit && st->tls != TLS_IMPLICIT)
        return fail(err, TK_EINVAL,
                    "[transport] tls: \"%s\" contradicts url %s (smtps:// is always tls)", tls, m);

    if (helo && !helo_valid(helo))
        return fail(err, TK_EINVAL, "[transport] helo: \"%s\" is not a host name", helo);
    if (helo && *path)
        return fail(err, TK_EINVAL,
                    "[transport] helo: url %s already names an EHLO host after the '/'", m);

    /* tls = tls on an smtp:// URL means implicit TLS on that port: curl
     * does that only for the smtps scheme. */
    const char *scheme = st->tls == TLS_IMPLICIT ? "smtps://" : "smtp://";
    size_t n = strlen(scheme) + auth_len + (helo ? strlen(helo) + 1 : strlen(path) + 1) + 1;
    st->url = st->host->alloc(st->host, n);
    if (!st->url)
        return fail(err, TK_ENOMEM, "smtp: out of memory");
    snprintf(st->url, n, "%s%.*s/%s", scheme, (int)auth_len, authority, helo ? helo : path);
    return st->tls == TLS_NONE ? wire_parse(st, authority, auth_len, path, helo, err) : 0;
}

/* The host and port curl will connect to, as curl reads the URL, for
 * looking the host up ourselves (resolve.h). */
static int curl_parts(struct smtp_state *st, const char *url, struct tk_error *err)
{
    char shown[TK_ERROR_MAX / 2];
    CURLU *u = curl_url();
    if (!u)
        return fail(err, TK_ENOMEM, "smtp: out of memory");
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, st->url, 0);
    if (rc == CURLUE_OK)
        rc = curl_url_get(u, CURLUPART_HOST, &st->curl_host, 0);
    if (rc == CURLUE_OK)
        rc = curl_url_get(u, CURLUPART_PORT, &st->curl_port, CURLU_DEFAULT_PORT);
    curl_url_cleanup(u);
    if (rc != CURLUE_OK)
        return fail(err, TK_EINVAL, "[transport] url: \"%s\" is not a URL: %s",
                    masked(url, shown, sizeof shown), curl_url_strerror(rc));
    return 0;
}

static void smtp_fini(void *state)
{
    struct smtp_state *st = state;
    if (!st)
        return;
    const struct tk_host *host = st->host;
    host->free(host, st->url);
    host->free(host, st->wire_strings);
    if (st->curl_ready) {
        curl_free(st->curl_host);
        curl_free(st->curl_port);
        curl_global_cleanup();
    }
    host->free(host, st);
}

/* libcurl for the paths that use it (TLS, AUTH, pipelining = off, and
 * `tickler check`'s probe): opened, initialised and given the URL's host
 * and port once.  The plain path (wire.c) never needs it, so a
 * deployment that sends through a local relay does not load it at all
 * (curlfn.h says what that saves).  Main thread only: init and probe. */
static int need_curl(struct smtp_state *st, struct tk_error *err)
{
    char why[256];
    if (st->curl_ready)
        return 0;
    if (tk_curl_load(why, sizeof why) != 0)
        return fail(err, TK_ERR, "smtp: %s", why);
    /* Reference-counted by curl; paired with the cleanup in fini. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return fail(err, TK_ERR, "smtp: libcurl failed to initialise");
    st->curl_ready = 1;
    return curl_parts(st, st->host->config_get(st->host, "url"), err);
}

static int smtp_init(const struct tk_host *host, void **state, struct tk_error *err)
{
    *state = NULL;
    struct smtp_state *st = host->alloc(host, sizeof *st);
    if (!st)
        return fail(err, TK_ENOMEM, "smtp: out of memory");
    memset(st, 0, sizeof *st);
    st->host = host;

    int rc = parse_url(st, host->config_get(host, "url"), host->config_get(host, "tls"),
                       host->config_get(host, "helo"), err);
    if (!rc)
        rc = parse_seconds("timeout_seconds", host->config_get(host, "timeout_seconds"), 30, 86400,
                           &st->timeout, err);
    if (!rc)
        rc = parse_seconds("connect_timeout_seconds",
                           host->config_get(host, "connect_timeout_seconds"), 10, 3600,
                           &st->connect_timeout, err);
    st->username = host->config_get(host, "username");
    st->password = host->config_get(host, "password");
    st->ca_file = host->config_get(host, "ca_file");
    if (!rc && st->password && !st->username)
        rc = fail(err, TK_EINVAL, "[transport] password: set, but username is not");
    if (!rc && st->username && !st->password)
        rc = fail(err, TK_EINVAL, "[transport] username: set, but password is not");
    if (!rc && st->ca_file && access(st->ca_file, R_OK) != 0)
        rc = fail(err, TK_EINVAL, "[transport] ca_file: %s: %s", st->ca_file, strerror(errno));
    const char *pipelining = host->config_get(host, "pipelining");
    if (!rc && pipelining && strcmp(pipelining, "auto") != 0 && strcmp(pipelining, "off") != 0)
        rc = fail(err, TK_EINVAL, "[transport] pipelining: \"%s\" is not auto or off", pipelining);
    if (!rc) {
        st->native =
            st->wire_possible && !st->username && (!pipelining || strcmp(pipelining, "auto") == 0);
        st->wire.timeout = st->timeout;
        st->wire.connect_timeout = st->connect_timeout;
        st->wire.stopping = host_stopping;
        st->wire.stopping_data = (void *)host;
    }
    if (!rc && !st->native)
        rc = need_curl(st, err);
    if (rc) {
        smtp_fini(st);
        return rc;
    }
    if (st->username && st->tls == TLS_NONE && host->log)
        host->log(host, TK_LOG_WARN,
                  "username set with tls = none: the password crosses the network in clear");
    *state = st;
    return 0;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *userp)
{
    struct smtp_conn *c = userp;
    size_t room = size * nitems, left = c->len - c->off;
    size_t n = left < room ? left : room;
    c->read_called = 1;
    memcpy(buf, c->data + c->off, n);
    c->off += n;
    return n;
}

static long reply_code_of(const char *line)
{
    if (!isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
        !isdigit((unsigned char)line[2]))
        return 0;
    return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Keep the server's lines: CURLOPT_ERRORBUFFER reduces a refusal to "RCPT
 * failed: 550", and after a failure curl closes with QUIT, so the refusal
 * is kept apart from the "221 Bye" that follows it.  The lines answering
 * EHLO say whether the server takes SMTPUTF8. */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *userp)
{
    struct smtp_conn *c = userp;
    if (type == CURLINFO_HEADER_OUT && size >= 4 && strncasecmp(data, "EHLO", 4) == 0) {
        c->in_ehlo = 1;
        c->smtputf8 = 0;
    }
    if (type != CURLINFO_HEADER_IN)
        return 0;
    if (c->in_ehlo && size >= 4) {
        if (size >= 12 && strncasecmp(data + 4, "SMTPUTF8", 8) == 0 &&
            (size == 12 || data[12] == ' ' || data[12] == '\r' || data[12] == '\n'))
            c->smtputf8 = 1;
        if (data[3] != '-')
            c->in_ehlo = 0;
    }
    while (size && (data[size - 1] == '\n' || data[size - 1] == '\r'))
        size--;
    if (size >= sizeof c->last_reply)
        size = sizeof c->last_reply - 1;
    for (size_t i = 0; i < size; i++)
        c->last_reply[i] = iscntrl((unsigned char)data[i]) ? ' ' : data[i];
    c->last_reply[size] = '\0';
    if (reply_code_of(c->last_reply) >= 400)
        memcpy(c->fail_reply, c->last_reply, size + 1);
    return 0;
}

#define STOP_GRACE_MS 2000 /* a stopping host still waits this long for a final reply */

/* Called at least once a second while curl waits (transfer, replies, the
 * QUIT after a failure): ends whatever is left once the message's time is
 * up. */
static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct smtp_conn *c = userp;
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    if (c->deadline && now_ms() >= c->deadline) {
        c->late = 1;
        return 1;
    }
    if (host_stopping((void *)c->st->host)) { /* curl calls this about once a second */
        /* Once the whole message is uploaded, its final reply is what says
         * whether it was taken: a server that answers at once (250) must
         * not be cut off, or a delivered message stays queued and goes out
         * twice.  So wait STOP_GRACE_MS for that reply, then give up (a
         * server that hangs after DATA: the message stays queued). */
        int64_t t = now_ms();
        if (!c->stop_seen)
            c->stop_seen = t;
        if (!(ultotal > 0 && ulnow >= ultotal) || t - c->stop_seen >= STOP_GRACE_MS) {
            c->stopping = 1;
            return 1;
        }
    }
    return 0;
}

/* After EHLO (and STARTTLS, AUTH), before MAIL: the one moment to refuse a
 * message that needs SMTPUTF8 from a server that did not offer it (curl
 * would send the UTF-8 address without it). */
static int on_prereq(void *userp, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
    struct smtp_conn *c = userp;
    (void)conn_primary_ip, (void)conn_local_ip, (void)conn_primary_port, (void)conn_local_port;
    if (c->env && c->env->utf8_addr && !c->smtputf8) {
        c->no_smtputf8 = 1;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

static void smtp_close(void *conn)
{
    struct smtp_conn *c = conn;
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl); /* sends QUIT on a live connection */
    if (c->pinned)
        curl_slist_free_all(c->pinned);
    tk_smtp_wire_close(c->wire);
    c->st->host->free(c->st->host, c);
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        CURLcode r_ = curl_easy_setopt(c->curl, opt, val);                                         \
        if (r_ != CURLE_OK) {                                                                      \
            fail(err, TK_ERR, "smtp: libcurl refused %s: %s", #opt, curl_easy_strerror(r_));       \
            smtp_close(c);                                                                         \
            return TK_ERR;                                                                         \
        }                                                                                          \
    } while (0)

/* A libcurl handle for C with what a batch and the probe share: the URL,
 * the protocols, the time limits, TLS, the login and the error and reply
 * capture.  On failure C is closed and ERR says why. */
static int curl_handle(struct smtp_conn *c, struct tk_error *err)
{
    const struct smtp_state *st = c->st;
    c->curl = curl_easy_init();
    if (!c->curl) {
        smtp_close(c);
        return fail(err, TK_ENOMEM, "smtp: libcurl could not create a handle");
    }
    SETOPT(CURLOPT_URL, st->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
    SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_TIMEOUT, st->timeout);
    SETOPT(CURLOPT_CONNECTTIMEOUT, st->connect_timeout);
    SETOPT(CURLOPT_USE_SSL, st->tls == TLS_NONE ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
    if (st->username) {
        SETOPT(CURLOPT_USERNAME, st->username);
        SETOPT(CURLOPT_PASSWORD, st->password);
    }
    if (st->ca_file)
        SETOPT(CURLOPT_CAINFO, st->ca_file);
    SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
    /* The debug callback is how curl shows the server's reply text; it is
     * only called in verbose mode, and then replaces curl's stderr output. */
    SETOPT(CURLOPT_DEBUGFUNCTION, on_debug);
    SETOPT(CURLOPT_DEBUGDATA, c);
    SETOPT(CURLOPT_VERBOSE, 1L);
    return 0;
}

static int smtp_open(void *state, void **conn, struct tk_error *err)
{
    struct smtp_state *st = state;
    *conn = NULL;
    struct smtp_conn *c = st->host->alloc(st->host, sizeof *c);
    if (!c)
        return fail(err, TK_ENOMEM, "smtp: out of memory");
    memset(c, 0, sizeof *c);
    c->st = st;
    if (st->native) {
        if (tk_smtp_wire_open(&st->wire, &c->wire) != 0) {
            smtp_close(c);
            return fail(err, TK_ENOMEM, "smtp: out of memory");
        }
        *conn = c;
        return 0;
    }
    if (curl_handle(c, err) != 0)
        return TK_ERR;
    /* Each reply, QUIT's included (also at curl_easy_cleanup), within
     * timeout_seconds instead of curl's 120 s. */
    SETOPT(CURLOPT_SERVER_RESPONSE_TIMEOUT, st->timeout);
    SETOPT(CURLOPT_NOPROGRESS, 0L);
    SETOPT(CURLOPT_XFERINFOFUNCTION, on_progress);
    SETOPT(CURLOPT_XFERINFODATA, c);
    SETOPT(CURLOPT_PREREQFUNCTION, on_prereq);
    SETOPT(CURLOPT_PREREQDATA, c);
    SETOPT(CURLOPT_UPLOAD, 1L);
    SETOPT(CURLOPT_READFUNCTION, on_read);
    SETOPT(CURLOPT_READDATA, c);
    *conn = c;
    return 0;
}

static void fill_result(struct smtp_conn *c, CURLcode rc, struct tk_delivery_result *res)
{
    long code = 0;
    if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code <= 0)
        code = reply_code_of(c->fail_reply[0] ? c->fail_reply : c->last_reply);
    res->status = tk_smtp_classify(rc, code, c->read_called && c->off == c->len);
    /* Only a reply that decided the outcome counts: the engine reads a
     * TEMPORARY without a code as "server unreachable" and stops the batch,
     * and the 250 to RCPT is no verdict on a connection that broke later. */
    res->reply_code = (rc == CURLE_OK || code >= 400) && code >= 100 && code <= 599 ? (int)code : 0;

    if (rc == CURLE_OK) {
        tk_smtp_reply_set(res, "%s", c->last_reply[0] ? c->last_reply : "accepted");
        return;
    }
    if (code >= 400 && reply_code_of(c->fail_reply) == code) {
        tk_smtp_reply_set(res, "%s", c->fail_reply);
        return;
    }
    tk_smtp_reply_failed(res, c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc), c->last_reply);
}

/* A transfer that failed without a verdict from the server (a timeout, a
 * lost connection, the deadline) may leave curl holding the connection
 * for the next message, and curl_easy_cleanup() would send it QUIT and
 * wait: shut it down instead, so that both find it dead at once. */
static void drop_broken(struct smtp_conn *c)
{
    curl_socket_t fd = CURL_SOCKET_BAD;
    if (curl_easy_getinfo(c->curl, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK && fd != CURL_SOCKET_BAD)
        shutdown(fd, SHUT_RDWR);
}

static int smtp_send(void *conn, const struct tk_message *msg, struct tk_delivery_result *res,
                     struct tk_error *err)
{
    struct smtp_conn *c = conn;
    struct tk_smtp_envelope env;
    memset(res, 0, sizeof *res);
    if (tk_smtp_envelope_make(msg, &env, res) != 0)
        return 0;
    if (c->wire) {
        tk_smtp_wire_send(c->wire, msg, &env, res);
        return 0;
    }
    c->deadline = now_ms() + (int64_t)c->st->timeout * 1000;
    if (!c->pinned) {
        /* curl's own lookup cannot be bounded (resolve.h): look the host
         * up once per batch, within the connect timeout */
        int64_t until = now_ms() + (int64_t)c->st->connect_timeout * 1000;
        CURLcode pc = tk_smtp_resolve_pin(c->st->curl_host, c->st->curl_port,
                                          until < c->deadline ? until : c->deadline, &c->pinned,
                                          c->errbuf, sizeof c->errbuf);
        if (pc == CURLE_OK && c->pinned)
            pc = curl_easy_setopt(c->curl, CURLOPT_RESOLVE, c->pinned);
        if (pc != CURLE_OK) {
            curl_slist_free_all(c->pinned);
            c->pinned = NULL;
            res->status = tk_smtp_classify(pc, 0, 0);
            tk_smtp_reply_set(
                res, "%s", pc == CURLE_UNKNOWN_OPTION ? "libcurl: no CURLOPT_RESOLVE" : c->errbuf);
            return 0;
        }
    }
    struct curl_slist *rcpt = curl_slist_append(NULL, env.rcpt);
    if (!rcpt) {
        res->status = TK_TEMPORARY;
        tk_smtp_reply_set(res, "out of memory");
        return fail(err, TK_ENOMEM, "smtp: out of memory");
    }
    c->data = msg->data;
    c->len = msg->len;
    c->off = 0;
    c->read_called = 0;
    c->last_reply[0] = '\0';
    c->fail_reply[0] = '\0';
    c->errbuf[0] = '\0';
    c->env = &env;
    c->late = c->stopping = c->no_smtputf8 = 0;
    c->stop_seen = 0;

    CURLcode rc = curl_easy_setopt(c->curl, CURLOPT_MAIL_FROM, env.from);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c->curl, CURLOPT_MAIL_RCPT, rcpt);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg->len);
    if (rc != CURLE_OK) {
        curl_easy_setopt(c->curl, CURLOPT_MAIL_RCPT, (struct curl_slist *)NULL);
        curl_slist_free_all(rcpt);
        res->status = TK_TEMPORARY;
        tk_smtp_reply_set(res, "libcurl: %s", curl_easy_strerror(rc));
        return fail(err, TK_ERR, "smtp: libcurl refused the envelope: %s", curl_easy_strerror(rc));
    }
    rc = curl_easy_perform(c->curl);
    if (rc == CURLE_ABORTED_BY_CALLBACK && (c->late || c->stopping)) {
        /* the same event as curl's own timeout, and classified alike: the
         * message stays queued (UNKNOWN once its data may have gone) */
        rc = CURLE_OPERATION_TIMEDOUT;
        if (c->stopping)
            snprintf(c->errbuf, sizeof c->errbuf, "host stopping");
        else
            snprintf(c->errbuf, sizeof c->errbuf, "Operation timed out after %ld seconds",
                     c->st->timeout);
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK && c->no_smtputf8)
        tk_smtp_envelope_no_smtputf8(&env, res);
    else
        fill_result(c, rc, res);
    if (rc != CURLE_OK && res->reply_code < 400)
        drop_broken(c);
    /* curl keeps the list pointer, not a copy: unhook it before freeing. */
    curl_easy_setopt(c->curl, CURLOPT_MAIL_RCPT, (struct curl_slist *)NULL);
    curl_slist_free_all(rcpt);
    c->data = NULL;
    c->env = NULL;
    c->deadline = 0;
    return 0;
}

/* The reply to NOOP arrives as "body": drop it (on_debug keeps the line). */
static size_t discard(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

/* tickler check: greet the relay as a batch would (EHLO, and STARTTLS and
 * AUTH when configured), then NOOP, through libcurl whichever client
 * sends, so that the TLS and credential settings are tried too.  No
 * envelope is given, so nothing can be sent. */
static int smtp_probe(void *state, struct tk_error *err)
{
    struct smtp_state *st = state;
    int ready = need_curl(st, err);
    if (ready != 0)
        return ready;
    struct smtp_conn *c = st->host->alloc(st->host, sizeof *c);
    if (!c)
        return fail(err, TK_ENOMEM, "smtp: out of memory");
    memset(c, 0, sizeof *c);
    c->st = st;
    if (curl_handle(c, err) != 0)
        return TK_ERR;
    SETOPT(CURLOPT_CUSTOMREQUEST, "NOOP");
    SETOPT(CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(c->curl);
    int status = 0;
    if (rc != CURLE_OK)
        /* not the URL: it may carry a password */
        status = fail(err, TK_ETEMP, "smtp: the relay did not answer EHLO and NOOP: %s%s%s",
                      c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc),
                      c->fail_reply[0] ? ": " : "", c->fail_reply);
    smtp_close(c);
    return status;
}

static const struct tk_transport smtp_transport = {
    .hdr = TK_PLUGIN_HEADER_INIT(
        struct tk_transport, TK_PLUGIN_TRANSPORT, "smtp", "1.0",
        "deliver through an SMTP relay, one session per batch (PIPELINING or libcurl)"),
    .config_keys = smtp_keys,
    .init = smtp_init,
    .fini = smtp_fini,
    .open = smtp_open,
    .send = smtp_send,
    .close = smtp_close,
    .probe = smtp_probe,
};

TK_PLUGIN_EXPORT const struct tk_plugin_header *tk_plugin_entry(void)
{
    return &smtp_transport.hdr;
}
