/*
 * wire.h - the smtp transport's own SMTP client for plain connections.
 *
 * Internal to the smtp plugin (hidden visibility, never exported).  Used
 * instead of libcurl when tls = none and no AUTH is configured: it keeps one
 * TCP connection per batch and, when the server advertises PIPELINING (RFC
 * 2920), sends MAIL FROM, RCPT TO and DATA in one write, so a message costs
 * two round trips instead of libcurl's four.  Results are classified with
 * the same table as the libcurl path (classify.c).
 */
#ifndef TK_SMTP_WIRE_H
#define TK_SMTP_WIRE_H

#include "envelope.h"
#include "tickler/transport.h"

/* Where and how to connect.  All strings borrowed for the session's life. */
struct tk_smtp_wire_cfg {
    const char *host;     /* name or address, without brackets */
    const char *port;     /* service, e.g. "25" */
    const char *helo;     /* EHLO name, already validated */
    long timeout;         /* seconds for one message, connecting included */
    long connect_timeout; /* seconds to connect, greeting and EHLO included */
    /* Called about once a second while waiting: non-zero ends the wait as
     * a timeout would ("host stopping").  NULL: never. */
    int (*stopping)(void *data);
    void *stopping_data;
};

struct tk_smtp_wire;

/* A session that connects on its first send.  *out is freed by
 * tk_smtp_wire_close().  TK_ENOMEM is the only failure. */
int tk_smtp_wire_open(const struct tk_smtp_wire_cfg *cfg, struct tk_smtp_wire **out);

/* Deliver MSG's data to ENV's addresses (tk_smtp_envelope_make) and fill
 * RES.  Connects, or reconnects after a broken connection, first.  An
 * ENV that needs SMTPUTF8 is refused (TK_PERMANENT) without a MAIL when
 * the server does not offer it. */
void tk_smtp_wire_send(struct tk_smtp_wire *w, const struct tk_message *msg,
                       const struct tk_smtp_envelope *env, struct tk_delivery_result *res);

/* QUIT on a live connection and free W (NULL is fine). */
void tk_smtp_wire_close(struct tk_smtp_wire *w);

/* Format RES->reply (cut at its size), for both clients of this plugin:
 * vsnprintf, as gcc flags the intended truncation of snprintf. */
void tk_smtp_reply_set(struct tk_delivery_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* RES->reply of an attempt that failed without a verdict from the server:
 * WHY, after "connection lost after the message was sent: " when
 * RES->status is TK_UNKNOWN, and the server's LAST reply if there was one. */
void tk_smtp_reply_failed(struct tk_delivery_result *res, const char *why, const char *last);

#endif
