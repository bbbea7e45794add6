/*
 * tickler/transport.h - the transport plugin ABI.
 *
 * A transport takes complete RFC 5322 messages and hands them on: to an SMTP
 * server (smtp), into a spool folder (file), or anywhere else.  The host
 * opens one connection per batch (a tick, a command), sends every message of
 * the batch through it and closes it, so a transport can reuse one SMTP
 * session for the whole batch.
 *
 * Each message has one envelope recipient: tickler writes one message per
 * contact, so a result is always per recipient.
 *
 * Keys of the [transport] section other than `plugin` and `from` are the
 * transport's own; it declares them in config_keys and reads them with
 * host->config_get().
 */
#ifndef TICKLER_TRANSPORT_H
#define TICKLER_TRANSPORT_H

#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One message to deliver.  Everything is borrowed for the send() call. */
struct tk_message {
    const char *message_id; /* "<...@...>", as in the Message-ID header */
    const char *from;       /* envelope sender, bare address */
    const char *rcpt;       /* envelope recipient, bare address */
    const char *data;       /* the whole message, CRLF line ends */
    size_t len;
};

/* What became of a message. */
enum tk_delivery {
    TK_DELIVERED = 0, /* accepted by the next hop: mark sent */
    TK_TEMPORARY = 1, /* not accepted, try again later (4xx, refused, timeout) */
    TK_PERMANENT = 2, /* refused for good (5xx, bad address, auth refused) */
    TK_UNKNOWN = 3,   /* may or may not have been accepted (connection lost
                         after the body was sent): retry, a duplicate keeps
                         its Message-ID */
};

struct tk_delivery_result {
    int status;               /* enum tk_delivery */
    int reply_code;           /* SMTP reply code, 0 when none */
    char reply[TK_ERROR_MAX]; /* server reply or local reason, one line */
};

struct tk_transport {
    struct tk_plugin_header hdr;             /* kind = TK_PLUGIN_TRANSPORT */
    const struct tk_config_key *config_keys; /* its keys of [transport] */

    /* Check the configuration once after loading (e.g. `url` set, `dir`
     * exists); a failure refuses the configuration.  HOST is borrowed until
     * the process exits.  May be NULL. */
    int (*init)(const struct tk_host *host, void **state, struct tk_error *err);
    void (*fini)(void *state);

    /* Start a batch.  *conn is passed to send() and close(). */
    int (*open)(void *state, void **conn, struct tk_error *err);
    /* Deliver one message; always fill RESULT.  Returns 0 when RESULT says
     * what happened, non-zero only for a failure of the transport itself
     * (then RESULT says TK_TEMPORARY and ERR why). */
    int (*send)(void *conn, const struct tk_message *msg, struct tk_delivery_result *result,
                struct tk_error *err);
    /* End the batch; may be called after a failed open with *conn NULL. */
    void (*close)(void *conn);
};

#ifdef __cplusplus
}
#endif
#endif /* TICKLER_TRANSPORT_H */
