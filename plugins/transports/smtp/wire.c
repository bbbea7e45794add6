/*
 * wire.c - plain-TCP SMTP with PIPELINING for the smtp transport.
 *
 * Why not libcurl here: curl sends MAIL, RCPT, DATA and the body each in its
 * own round trip and pays a fixed setup cost per curl_easy_perform(); on a
 * local relay that caps delivery at about half of what the relay takes.  With
 * PIPELINING the envelope is one write and one round trip, the body another.
 * The send() ABI gives one message at a time and wants its verdict before it
 * returns, so two round trips per message is the floor here.
 *
 * Failures go through the same table as the libcurl path (classify.c): each
 * local failure is named by the CURLcode curl would have used for it, and a
 * 4xx/5xx reply decides on its own.  Once the last byte of the body is
 * written, a lost connection or a timeout is UNKNOWN.
 *
 * A broken connection (I/O error, timeout, 421, an answer out of step) is
 * dropped where it is noticed, without QUIT; the next send() connects
 * again.
 */
#include "wire.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "classify.h"
#include "resolve.h"

struct reply {
    int code;
    char text[TK_ERROR_MAX]; /* the last line, control characters blanked */
};

struct tk_smtp_wire {
    struct tk_smtp_wire_cfg cfg;
    int fd;           /* -1: not connected */
    int pipelining;   /* the server advertised PIPELINING */
    int smtputf8;     /* the server advertised SMTPUTF8 (RFC 6531) */
    int64_t deadline; /* CLOCK_MONOTONIC ms: end of the current operation */
    size_t replies;   /* replies read in the current transaction */
    int awaiting;     /* put_out sent something: its reply is not here yet */
    char rbuf[4096];
    size_t rpos, rlen;
    char *out; /* what goes out next: malloc'd, grows */
    size_t outlen, outcap;
    char why[TK_ERROR_MAX]; /* the local reason of the last failure */
    struct reply last;      /* the last reply read */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void why_set(struct tk_smtp_wire *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void why_set(struct tk_smtp_wire *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->why, sizeof w->why, fmt, ap);
    va_end(ap);
}

static void drop(struct tk_smtp_wire *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    w->rpos = w->rlen = 0;
    w->pipelining = w->smtputf8 = w->awaiting = 0;
}

static CURLcode wait_fd(struct tk_smtp_wire *w, short events)
{
    for (;;) {
        int64_t left = w->deadline - now_ms();
        if (left <= 0) {
            why_set(w, "timed out");
            drop(w);
            return CURLE_OPERATION_TIMEDOUT;
        }
        /* in slices of a second, to see the host stopping in time; the
         * stop is looked at after a slice with nothing to read, so that a
         * reply on its way (the 250 that says a message was taken) is read
         * first, not cut off and sent twice */
        struct pollfd p = {w->fd, events, 0};
        int n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (n > 0)
            return CURLE_OK; /* also on POLLERR/POLLHUP: the next call tells */
        if (n == 0 && w->cfg.stopping && w->cfg.stopping(w->cfg.stopping_data)) {
            why_set(w, "host stopping");
            drop(w);
            return CURLE_OPERATION_TIMEDOUT;
        }
        if (n < 0 && errno != EINTR) {
            why_set(w, "poll: %s", strerror(errno));
            drop(w);
            return CURLE_RECV_ERROR;
        }
    }
}

static CURLcode put_all(struct tk_smtp_wire *w, const char *p, size_t len)
{
    while (len) {
        ssize_t n = send(w->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            CURLcode rc = wait_fd(w, POLLOUT);
            if (rc != CURLE_OK)
                return rc;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            why_set(w, "connection lost while sending: %s", n < 0 ? strerror(errno) : "closed");
            drop(w);
            return CURLE_SEND_ERROR;
        }
    }
    return CURLE_OK;
}

static CURLcode put_out(struct tk_smtp_wire *w)
{
    CURLcode rc = put_all(w, w->out, w->outlen);
    w->outlen = 0;
    w->awaiting = rc == CURLE_OK;
    return rc;
}

static int out_reserve(struct tk_smtp_wire *w, size_t more)
{
    if (more <= w->outcap - w->outlen)
        return 0;
    size_t cap = w->outcap ? w->outcap : 4096;
    while (cap - w->outlen < more) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    char *p = realloc(w->out, cap);
    if (!p)
        return -1;
    w->out = p;
    w->outcap = cap;
    return 0;
}

/* Appends A, B and C (B may be NULL). */
static int out_add(struct tk_smtp_wire *w, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0, lc = strlen(c);
    if (out_reserve(w, la + lb + lc) != 0)
        return -1;
    memcpy(w->out + w->outlen, a, la);
    if (lb)
        memcpy(w->out + w->outlen + la, b, lb);
    memcpy(w->out + w->outlen + la + lb, c, lc);
    w->outlen += la + lb + lc;
    return 0;
}

/* The body with a dot doubled at the start of every line (RFC 5321
 * 4.5.2), then the end-of-data line.  Lines start after CRLF, as curl
 * counts them, so the bytes arrive exactly as given. */
static int out_body(struct tk_smtp_wire *w, const char *d, size_t len)
{
    size_t dots = len && d[0] == '.';
    for (const char *p = d, *end = d + len; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        if (p > d && p[-1] == '\r' && p + 1 < end && p[1] == '.')
            dots++;
    if (out_reserve(w, len + dots + 5) != 0)
        return -1;
    char *o = w->out + w->outlen;
    size_t i = 0;
    if (len && d[0] == '.')
        *o++ = '.';
    while (i < len) {
        const char *nl = memchr(d + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (d + i)) + 1 : len - i;
        memcpy(o, d + i, n);
        o += n;
        i += n;
        if (nl && nl > d && nl[-1] == '\r' && i < len && d[i] == '.')
            *o++ = '.';
    }
    if (len < 2 || d[len - 2] != '\r' || d[len - 1] != '\n') {
        *o++ = '\r';
        *o++ = '\n';
    }
    memcpy(o, ".\r\n", 3);
    o += 3;
    w->outlen = (size_t)(o - w->out);
    return 0;
}

/* One line into LINE (cut to SIZE - 1 bytes, CR and LF removed). */
static CURLcode get_line(struct tk_smtp_wire *w, char *line, size_t size)
{
    size_t n = 0;
    for (;;) {
        while (w->rpos < w->rlen) {
            unsigned char ch = (unsigned char)w->rbuf[w->rpos++];
            if (ch == '\n') {
                line[n] = '\0';
                return CURLE_OK;
            }
            if (ch != '\r' && n + 1 < size)
                line[n++] = ch < ' ' || ch == 0x7f ? ' ' : (char)ch;
        }
        /* The reply to what was just sent has almost never arrived yet
         * (the server has to read it first): wait, then read, instead of a
         * read that finds nothing, the wait and the read again (issue 17:
         * about 1 system call less a reply at 4 connections,
         * bench/RESULTS.md update 64). */
        if (w->awaiting) {
            w->awaiting = 0;
            /* (past the deadline, the read alone: a reply already there
             * is read, as it was, not timed out) */
            CURLcode rc = w->deadline > now_ms() ? wait_fd(w, POLLIN) : CURLE_OK;
            if (rc != CURLE_OK)
                return rc;
        }
        ssize_t r = recv(w->fd, w->rbuf, sizeof w->rbuf, 0);
        if (r > 0) {
            w->rpos = 0;
            w->rlen = (size_t)r;
        } else if (r == 0) {
            why_set(w, "the server closed the connection");
            drop(w);
            return CURLE_RECV_ERROR;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            CURLcode rc = wait_fd(w, POLLIN);
            if (rc != CURLE_OK)
                return rc;
        } else if (errno != EINTR) {
            why_set(w, "connection lost while reading: %s", strerror(errno));
            drop(w);
            return CURLE_RECV_ERROR;
        }
    }
}

static int code_of(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* Whether the EHLO line LINE ("250-KEYWORD params") announces KEYWORD. */
static int announces(const char *line, const char *keyword)
{
    size_t n = strlen(keyword);
    return strncasecmp(line + 4, keyword, n) == 0 && (line[4 + n] == '\0' || line[4 + n] == ' ');
}

/* The EHLO extensions tickler uses. */
struct caps {
    int pipelining, smtputf8;
};

/* One reply, multi-line ("250-...") included, into R and w->last.  With
 * CAPS (EHLO), notes the extensions its lines announce. */
static CURLcode get_reply(struct tk_smtp_wire *w, struct reply *r, struct caps *caps)
{
    char line[TK_ERROR_MAX];
    for (;;) {
        CURLcode rc = get_line(w, line, sizeof line);
        if (rc != CURLE_OK)
            return rc;
        int code = code_of(line);
        if (!code || (line[3] && line[3] != ' ' && line[3] != '-')) {
            why_set(w, "not an SMTP reply: \"%.200s\"", line);
            drop(w);
            return CURLE_WEIRD_SERVER_REPLY;
        }
        if (caps && announces(line, "PIPELINING"))
            caps->pipelining = 1;
        if (caps && announces(line, "SMTPUTF8"))
            caps->smtputf8 = 1;
        if (line[3] != '-') {
            r->code = code;
            memcpy(r->text, line, sizeof r->text);
            w->last = *r;
            w->replies++;
            return CURLE_OK;
        }
    }
}

static CURLcode hello(struct tk_smtp_wire *w, struct reply *v)
{
    struct caps caps = {0, 0};
    CURLcode rc = get_reply(w, v, NULL);
    if (rc != CURLE_OK)
        return rc;
    if (v->code / 100 != 2)
        return CURLE_WEIRD_SERVER_REPLY;
    if (out_add(w, "EHLO ", w->cfg.helo, "\r\n") != 0)
        return CURLE_OUT_OF_MEMORY;
    if ((rc = put_out(w)) != CURLE_OK || (rc = get_reply(w, v, &caps)) != CURLE_OK)
        return rc;
    if (v->code / 100 != 2) {
        /* An old server without ESMTP: HELO, and no extensions. */
        caps.pipelining = caps.smtputf8 = 0;
        if (out_add(w, "HELO ", w->cfg.helo, "\r\n") != 0)
            return CURLE_OUT_OF_MEMORY;
        if ((rc = put_out(w)) != CURLE_OK || (rc = get_reply(w, v, NULL)) != CURLE_OK)
            return rc;
        if (v->code / 100 != 2)
            return CURLE_WEIRD_SERVER_REPLY;
    }
    w->pipelining = caps.pipelining;
    w->smtputf8 = caps.smtputf8;
    return CURLE_OK;
}

/* The name lookup, non-blocking connect to each address in turn, then
 * greeting and EHLO, all within connect_timeout (and the message's own
 * deadline). */
static CURLcode connect_to(struct tk_smtp_wire *w, struct reply *v)
{
    struct addrinfo hints, *ai = NULL;
    int late = 0;
    int64_t whole = w->deadline, cd = now_ms() + (int64_t)w->cfg.connect_timeout * 1000;
    if (cd < w->deadline)
        w->deadline = cd;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = tk_smtp_resolve(w->cfg.host, w->cfg.port, &hints, w->deadline, &ai, &late);
    if (g != 0) {
        w->deadline = whole;
        if (late) {
            why_set(w, "Resolving host name %s timed out", w->cfg.host);
            return CURLE_OPERATION_TIMEDOUT;
        }
        why_set(w, "Couldn't resolve host name %s: %s", w->cfg.host, gai_strerror(g));
        return CURLE_COULDNT_RESOLVE_HOST;
    }
    const char *why = "no address";
    for (struct addrinfo *a = ai; a && w->fd < 0; a = a->ai_next) {
        int fd =
            socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            why = strerror(errno);
            continue;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        w->fd = fd;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            if (errno != EINPROGRESS)
                soerr = errno;
            else if (wait_fd(w, POLLOUT) != CURLE_OK)
                soerr = ETIMEDOUT;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
                soerr = errno;
        }
        if (soerr) {
            why = strerror(soerr);
            drop(w);
        }
    }
    freeaddrinfo(ai);
    CURLcode rc = CURLE_OK;
    if (w->fd < 0) {
        /* curl's words for the same event, so that logs read (and are
         * matched) alike on both paths. */
        why_set(w, "Couldn't connect to server %s port %s: %s", w->cfg.host, w->cfg.port, why);
        rc = CURLE_COULDNT_CONNECT;
    } else {
        int one = 1;
        /* Each write is a whole command group or body: send it now rather
         * than wait for the ACK of the last one (Nagle). */
        setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        rc = hello(w, v);
        if (rc != CURLE_OK)
            drop(w);
    }
    w->deadline = whole;
    return rc;
}

static int ok2(const struct reply *r)
{
    return r->code / 100 == 2;
}

/* MAIL, RCPT, DATA: in one write when pipelining, else one at a time.
 * On a refusal *V is the refusing reply and the result CURLE_SEND_ERROR
 * (the code decides); CURLE_OK means the server waits for the body.  MAIL
 * asks for SMTPUTF8 when an address needs it (checked offered before). */
static CURLcode envelope(struct tk_smtp_wire *w, const struct tk_smtp_envelope *env,
                         struct reply *v)
{
    const char *tail[3] = {env->utf8_addr ? "> SMTPUTF8\r\n" : ">\r\n", ">\r\n", "\r\n"};
    const char *head[3] = {"MAIL FROM:<", "RCPT TO:<", "DATA"};
    const char *arg[3] = {env->from, env->rcpt, NULL};
    struct reply r[3];
    CURLcode rc;
    int n = 0;
    if (w->pipelining) {
        for (int i = 0; i < 3; i++)
            if (out_add(w, head[i], arg[i], tail[i]) != 0)
                return CURLE_OUT_OF_MEMORY;
        if ((rc = put_out(w)) != CURLE_OK)
            return rc;
        /* Every command is answered, refused or not: read all three to
         * stay in step, unless the server is closing (421). */
        for (; n < 3; n++) {
            if ((rc = get_reply(w, &r[n], NULL)) != CURLE_OK)
                return rc;
            if (r[n].code == 421) {
                n++;
                break;
            }
        }
    } else {
        for (; n < 3; n++) {
            if (out_add(w, head[n], arg[n], tail[n]) != 0)
                return CURLE_OUT_OF_MEMORY;
            if ((rc = put_out(w)) != CURLE_OK || (rc = get_reply(w, &r[n], NULL)) != CURLE_OK)
                return rc;
            if (n < 2 ? !ok2(&r[n]) : r[n].code != 354) {
                n++;
                break;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        if (i < 2 ? ok2(&r[i]) : r[i].code == 354)
            continue;
        *v = r[i];
        if (n == 3 && r[2].code == 354) {
            /* DATA accepted although MAIL or RCPT was not: the server is
             * out of step with us; never let it take a body. */
            why_set(w, "the server accepted DATA after refusing the envelope");
            drop(w);
            return CURLE_WEIRD_SERVER_REPLY;
        }
        return v->code >= 400 ? CURLE_SEND_ERROR : CURLE_WEIRD_SERVER_REPLY;
    }
    return CURLE_OK;
}

/* A refused transaction leaves the server holding a partial envelope. */
static void reset(struct tk_smtp_wire *w)
{
    struct reply r;
    if (w->fd < 0)
        return;
    if (w->last.code == 421 || out_add(w, "RSET", NULL, "\r\n") != 0 || put_out(w) != CURLE_OK ||
        get_reply(w, &r, NULL) != CURLE_OK || !ok2(&r))
        drop(w);
}

static CURLcode transact(struct tk_smtp_wire *w, const struct tk_message *m,
                         const struct tk_smtp_envelope *env, struct reply *v, int *body_sent)
{
    CURLcode rc = envelope(w, env, v);
    if (rc == CURLE_SEND_ERROR || rc == CURLE_WEIRD_SERVER_REPLY)
        reset(w);
    if (rc != CURLE_OK)
        return rc;
    if (out_body(w, m->data, m->len) != 0)
        return CURLE_OUT_OF_MEMORY;
    if ((rc = put_out(w)) != CURLE_OK)
        return rc;
    *body_sent = 1;
    if ((rc = get_reply(w, v, NULL)) != CURLE_OK)
        return rc;
    if (ok2(v))
        return CURLE_OK;
    if (v->code == 421)
        drop(w);
    return v->code >= 400 ? CURLE_SEND_ERROR : CURLE_WEIRD_SERVER_REPLY;
}

/* Whether a kept connection still looks usable: a server says nothing
 * between transactions unless it is closing (EOF, or 421 before it). */
static int alive(struct tk_smtp_wire *w)
{
    struct pollfd p = {w->fd, POLLIN, 0};
    return w->rpos == w->rlen && poll(&p, 1, 0) == 0;
}

void tk_smtp_reply_set(struct tk_delivery_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reply, sizeof res->reply, fmt, ap);
    va_end(ap);
}

void tk_smtp_reply_failed(struct tk_delivery_result *res, const char *why, const char *last)
{
    const char *lead =
        res->status == TK_UNKNOWN ? "connection lost after the message was sent: " : "";
    if (last && last[0])
        tk_smtp_reply_set(res, "%s%s (last reply: %s)", lead, why, last);
    else
        tk_smtp_reply_set(res, "%s%s", lead, why);
}

/* The same result as the libcurl path gives for the same events. */
static void fill(struct tk_smtp_wire *w, CURLcode rc, const struct reply *v, int body_sent,
                 struct tk_delivery_result *res)
{
    int code = rc == CURLE_OK || v->code >= 400 ? v->code : 0;
    res->status = tk_smtp_classify(rc, code, body_sent);
    res->reply_code = code >= 100 && code <= 599 ? code : 0;
    if (rc == CURLE_OK || code >= 400) {
        tk_smtp_reply_set(res, "%s", v->text);
        return;
    }
    if (rc == CURLE_OUT_OF_MEMORY)
        why_set(w, "out of memory");
    else if (rc == CURLE_WEIRD_SERVER_REPLY && v->code)
        why_set(w, "unexpected reply");
    tk_smtp_reply_failed(res, w->why, w->last.text);
}

void tk_smtp_wire_send(struct tk_smtp_wire *w, const struct tk_message *m,
                       const struct tk_smtp_envelope *env, struct tk_delivery_result *res)
{
    struct reply v;
    int body_sent = 0, reused = 0;
    CURLcode rc = CURLE_OK;
    memset(res, 0, sizeof *res);
    memset(&v, 0, sizeof v);
    w->deadline = now_ms() + (int64_t)w->cfg.timeout * 1000;
    w->why[0] = '\0';
    w->last.text[0] = '\0';
    w->outlen = 0;
    if (w->fd >= 0 && !alive(w))
        drop(w);
    reused = w->fd >= 0;
    for (int tries = 0; tries < 2; tries++) {
        w->replies = 0;
        if (w->fd < 0 && (rc = connect_to(w, &v)) != CURLE_OK)
            break;
        if (env->utf8_addr && !w->smtputf8) {
            /* never send a UTF-8 address to a server that did not say it
             * takes one: refused here, the connection stays usable */
            tk_smtp_envelope_no_smtputf8(env, res);
            return;
        }
        rc = transact(w, m, env, &v, &body_sent);
        if (rc == CURLE_OUT_OF_MEMORY)
            drop(w); /* a half-written group would leave the server out of step */
        /* A kept connection that died unnoticed before the server said a
         * word about this message: nothing can have been taken, try once
         * on a fresh one. */
        if (!(reused && rc != CURLE_OK && rc != CURLE_OPERATION_TIMEDOUT && w->replies == 0 &&
              !body_sent && w->fd < 0))
            break;
        reused = 0;
    }
    fill(w, rc, &v, body_sent, res);
}

int tk_smtp_wire_open(const struct tk_smtp_wire_cfg *cfg, struct tk_smtp_wire **out)
{
    struct tk_smtp_wire *w = calloc(1, sizeof *w);
    *out = NULL;
    if (!w)
        return TK_ENOMEM;
    w->cfg = *cfg;
    w->fd = -1;
    *out = w;
    return 0;
}

void tk_smtp_wire_close(struct tk_smtp_wire *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        struct reply r;
        long t = w->cfg.timeout < 5 ? w->cfg.timeout : 5;
        w->deadline = now_ms() + (int64_t)t * 1000;
        w->outlen = 0;
        /* Wait for the 221 so that the server sees an orderly end. */
        if (out_add(w, "QUIT", NULL, "\r\n") == 0 && put_out(w) == CURLE_OK)
            get_reply(w, &r, NULL);
        drop(w);
    }
    free(w->out);
    free(w);
}
