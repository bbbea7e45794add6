/*
 * tickler/transport.h - the transport plugin ABI.
 *
 * A transport takes complete RFC 5322 messages and hands them on: to an SMTP
 * server (smtp), into a spool folder (file), or anywhere else.  The host
 * opens connections for a batch (a tick, a command), sends every message of
 * the batch through them and closes them, so a transport can reuse one SMTP
 * session for many messages.
 *
 * Each message has one envelope recipient: tickler writes one message per
 * contact, so a result is always per recipient.
 *
 * Keys of the [transport] section other than `plugin`, `from` and
 * `connections` are the transport's own; it declares them in config_keys
 * and reads them with host->config_get().
 *
 * Threads.  With [transport] connections = N (default 1) the host delivers
 * on N connections at once, each on its own worker thread, all sharing the
 * one `state` that init returned:
 *  - init and fini run on the host's main thread while no connection is
 *    open: init before the first open, fini after the last close.
 *  - open, send and close of one connection run on one thread, one call at
 *    a time: a `conn` is never used by two threads at once and needs no
 *    lock.
 *  - Calls on different connections run concurrently: open, send and
 *    close must treat `state` as read-only after init, or guard whatever
 *    they change in it (atomics, a mutex).  The same holds for any global
 *    or static the plugin keeps, and for libraries it calls (initialise
 *    them in init: curl_global_init() is not thread-safe).
 *  - Host services marked "any thread" in plugin.h (log, config_get,
 *    alloc, realloc, free, error_set) may be called from open, send and
 *    close.
 * The built-in smtp and file transports follow these rules; a transport
 * that cannot should say so in its docs and be run with connections = 1.
 */
#ifndef TICKLER_TRANSPORT_H
#define TICKLER_TRANSPORT_H

#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One message to deliver.  Everything is borrowed until send() returns. */
struct tk_message {
    /* ABI 1.0 */
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
    /* ABI 1.0 */
    int status;               /* enum tk_delivery */
    int reply_code;           /* SMTP reply code, 0 when none */
    char reply[TK_ERROR_MAX]; /* server reply or local reason, one line */
};

struct tk_transport {
    /* ABI 1.0 */
    struct tk_plugin_header hdr;             /* kind = TK_PLUGIN_TRANSPORT */
    const struct tk_config_key *config_keys; /* its keys of [transport] */

    /* Check the configuration once after loading (e.g. `url` set, `dir`
     * exists); a failure refuses the configuration.  Main thread.  HOST is
     * borrowed until fini returns.  On failure, init frees what it
     * allocated: fini is not called.  May be NULL. */
    int (*init)(const struct tk_host *host, void **state, struct tk_error *err);
    /* Undo init, when the host unloads the plugin; main thread, no
     * connection open.  May be NULL. */
    void (*fini)(void *state);

    /* Start a connection on the calling thread.  *conn is passed to send()
     * and close() on the same thread; it is the plugin's until close().
     * Up to [transport] connections of them are open at once, sharing
     * STATE. */
    int (*open)(void *state, void **conn, struct tk_error *err);
    /* Deliver one message; always fill RESULT.  Returns 0 when RESULT says
     * what happened, non-zero only for a failure of the transport itself
     * (then RESULT says TK_TEMPORARY and ERR why).  Runs concurrently with
     * send() on other connections. */
    int (*send)(void *conn, const struct tk_message *msg, struct tk_delivery_result *result,
                struct tk_error *err);
    /* End the connection and free CONN; may be called after a failed open
     * with conn NULL. */
    void (*close)(void *conn);

    /* ABI 1.1 */

    /* Check, without sending anything, that messages could be handed on
     * now: connect and greet the relay (smtp), write to the spool folder
     * (file).  Called by `tickler check` on the main thread, after init,
     * with no connection open.  0 when reachable; otherwise ERR says what
     * failed, in one line.  May be NULL: the transport has no such check.
     * The host calls it only when TK_DESCR_HAS(t, probe). */
    int (*probe)(void *state, struct tk_error *err);

    /* ABI 1.3 */

    /* TK_TRANSPORT_* bits, 0 for none.  The host reads them only when
     * TK_DESCR_HAS(t, flags). */
    unsigned flags;

#ifdef TK_TEST_ABI_GROWTH
    /* ABI 1.4 (test builds only, see TK_ABI_MINOR in plugin.h) */
    const char *test_growth;
#endif
};

/* flags: delivering the same message again (same message_id, after a
 * crash lost its result) replaces what the first delivery left instead of
 * adding a second copy (file: the same file name).  The host may then
 * record results in groups of up to [delivery] unrecorded_max even with
 * one connection (docs/delivery.md). */
#define TK_TRANSPORT_IDEMPOTENT 0x1u

/* The ABI 1.0 size of struct tk_transport: the end of its last 1.0 field.
 * The host refuses a transport whose hdr.size is smaller. */
#define TK_TRANSPORT_SIZE_1_0                                                                      \
    (offsetof(struct tk_transport, close) + sizeof(((struct tk_transport *)0)->close))

#ifdef __cplusplus
}
#endif
#endif /* TICKLER_TRANSPORT_H */
