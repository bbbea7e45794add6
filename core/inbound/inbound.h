/*
 * inbound.h - what comes back: bounces, automatic replies and people's
 * replies, read from one RFC 5322 message or from an IMAP mailbox, and the
 * VERP tags that tie a bounce to the outbox row that caused it.
 *
 * The module decides and reports; it changes nothing of tickler's state.
 * The engine acts on a struct tk_inbound_result (suppress, hold, forward,
 * record): see docs/inbound.md for the rules and for what the engine must
 * store to record each message once.
 *
 * Every message is hostile input.  Messages are parsed by GMime 3, never by
 * hand, after a linear pre-scan that caps what the parser can be made to
 * build (size, nesting, parts, header lines); every string in a result is
 * valid UTF-8, bounded, and single-line fields hold no control characters.
 * Nothing in a message is ever executed, opened or fetched.
 *
 * Thread safety: every function may be called from several threads at once
 * on different results.  GMime is initialised once per process, on first
 * use (tk_inbound_init), and never shut down: its one-time allocations live
 * until exit.
 */
#ifndef TK_INBOUND_H
#define TK_INBOUND_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* [inbound] max_kb = 10240: messages above this are read as their header
 * section only (oversize). */
#define TK_INBOUND_MAX_BYTES_DEFAULT ((size_t)10240 * 1024)
/* The reply text handed on for forwarding is cut at this many bytes. */
#define TK_INBOUND_BODY_MAX_DEFAULT ((size_t)64 * 1024)
/* Shortest [inbound] secret accepted for VERP tags, in bytes. */
#define TK_INBOUND_SECRET_MIN 16
/* Buffer size that always holds a tag address from tk_inbound_verp_make. */
#define TK_INBOUND_VERP_MAX 320

/* ---- process set-up -------------------------------------------------- */

/* Initialise GMime once per process; safe to
 * call from any thread, any number of times (pthread_once).  Every entry
 * point below calls it, so callers never need to. */
void tk_inbound_init(void);

/* ---- classification ------------------------------------------------- */

enum tk_inbound_class {
    TK_INBOUND_UNMATCHED = 0, /* nothing recognised (junk, a new conversation, unreadable) */
    TK_INBOUND_HARD_BOUNCE,   /* delivery failed for good: DSN 5.x.x, or a 5xx bounce */
    TK_INBOUND_SOFT_BOUNCE,   /* delayed or failed for now: DSN 4.x.x, delay warnings */
    TK_INBOUND_AUTO_REPLY,    /* out of office and other automatic answers (RFC 3834) */
    TK_INBOUND_REPLY,         /* a person's answer to something (threaded, not automatic) */
};

/* "unmatched", "hard-bounce", "soft-bounce", "auto-reply", "reply"; a static
 * string, "unmatched" for any other value. */
const char *tk_inbound_class_name(enum tk_inbound_class c);

struct tk_inbound_options {
    /* Larger input is classified from its header section alone and marked
     * oversize.  0: TK_INBOUND_MAX_BYTES_DEFAULT. */
    size_t max_bytes;
    /* Bound of result.body in bytes.  0: TK_INBOUND_BODY_MAX_DEFAULT. */
    size_t max_body;
    /* [inbound] secret and return_path ("bounces@firm.example").  NULL or
     * empty: no VERP tag is looked for and nothing is ever verified. */
    const char *secret;
    const char *return_path;
    /* The envelope recipient, as the MTA gave it (Postfix ${recipient}).
     * NULL: taken from Delivered-To, then X-Original-To, then To. */
    const char *envelope_rcpt;
    /* 1: DATA is only the header section of a larger message (an IMAP
     * message above max_bytes); the result is marked oversize. */
    int headers_only;
};

/* One recipient a bounce reports on. */
struct tk_inbound_rcpt {
    char *address;    /* Final-Recipient, or the address a text bounce names */
    char *original;   /* Original-Recipient, or NULL */
    char *action;     /* DSN Action (failed, delayed, delivered, relayed, expanded) or NULL */
    char *status;     /* "5.1.1"; from a text bounce the enhanced code found or "5.0.0" */
    char *diagnostic; /* Diagnostic-Code or the text line with the reply, or NULL */
    enum tk_inbound_class cls; /* HARD_BOUNCE, SOFT_BOUNCE, or UNMATCHED (delivered, relayed) */
    int verified;              /* the VERP tag's MAC verifies for this address or its original */
};

struct tk_inbound_result {
    enum tk_inbound_class cls;
    char reason[200]; /* the rule that decided, for logs and the audit trail */

    /* Recording the message once: the engine stores KEY and ignores a
     * message whose key it has seen.  KEY is the Message-ID ("<id>") when
     * the message has a usable one, else "sha256:" and the hex SHA-256 of
     * the bytes given. */
    char *key;
    char *message_id; /* "<id>" or NULL */

    char *envelope_rcpt; /* the recipient it was delivered to, or NULL */
    char *from;          /* sender's address (From, else Sender), or NULL */
    char *from_name;     /* sender's display name, UTF-8, or NULL */
    char *reply_to;      /* first Reply-To address, or NULL */
    char *subject;       /* decoded to UTF-8, one line, or NULL */

    /* Threading, to match against the Message-IDs tickler sent: every
     * "<id>" of In-Reply-To, then of References, each once, at most 64;
     * IN_REPLY_TO is the first In-Reply-To id or NULL. */
    char *in_reply_to;
    struct tk_strv references;

    /* Bounces: the returned original (message/rfc822, text/rfc822-headers
     * or the copy in a text bounce): its Message-ID and tickler's headers. */
    char *original_message_id; /* "<id>" or NULL */
    char *original_kind;       /* X-Tickler-Kind or NULL */
    int64_t original_item;     /* X-Tickler-Item, 0 when absent */

    /* Bounces: each recipient reported, at most 64. */
    struct tk_inbound_rcpt *rcpts;
    size_t n_rcpts;

    /* The VERP tag of the envelope recipient.  PRESENT: the recipient is
     * return_path's local part + "+TAG"; OUTBOX_ID is the row the tag names
     * (not yet trusted).  VERIFIED: its MAC verifies for RCPT, one of the
     * recipients this bounce reports as failed or delayed; only then may the
     * engine act on RCPT. */
    struct {
        int present, verified;
        int64_t outbox_id;
        char *rcpt;
    } verp;

    /* Non-bounces: the plain text (text/plain, else text/html without its
     * tags), UTF-8 with LF line ends, quoted history cut off when it is
     * recognisable, at most max_body bytes (BODY_TRUNCATED then). */
    char *body;
    size_t body_len;
    int body_truncated;

    int oversize;    /* only the header section was read */
    int too_complex; /* a limit was hit: parts, nesting or header lines */
};

/* Parse and classify one message of LEN bytes (a leading mbox "From " line
 * is skipped).  OPT may be NULL (all defaults).  Fills OUT, which the
 * caller frees with tk_inbound_result_free even on failure.
 * Returns 0 for every input, classified or not (unreadable input is
 * TK_INBOUND_UNMATCHED with the reason); TK_ENOMEM when memory runs out,
 * TK_EINVAL when DATA is NULL.  DATA is borrowed for the call. */
int tk_inbound_classify(const char *data, size_t len, const struct tk_inbound_options *opt,
                        struct tk_inbound_result *out, struct tk_error *err);

/* Free what a result owns and zero it; a zeroed result is fine. */
void tk_inbound_result_free(struct tk_inbound_result *r);

/* ---- VERP tags ------------------------------------------------------ */

/* Write into OUT (SIZE bytes, TK_INBOUND_VERP_MAX is always enough) the
 * envelope sender for outbox row OUTBOX_ID (> 0) sent to RCPT:
 * "LOCAL+ID-MAC@DOMAIN" where RETURN_PATH is "LOCAL@DOMAIN", ID is decimal
 * and MAC the first 80 bits of HMAC-SHA256(SECRET, "tickler-verp-1" NUL ID
 * NUL lowercase(RCPT)) in lowercase base32 (16 characters), so the tag
 * survives MTAs that lower-case local parts and cannot be moved to another
 * row or address.  TK_EINVAL (with the reason) for a secret shorter than
 * TK_INBOUND_SECRET_MIN, a bad return path or recipient, a local part
 * that would exceed 64 bytes, or SIZE too small. */
int tk_inbound_verp_make(const char *secret, const char *return_path, int64_t outbox_id,
                         const char *rcpt, char *out, size_t size, struct tk_error *err);

/* Check ADDRESS (angle brackets allowed) against RETURN_PATH and SECRET.
 * 0: it is a tag of RETURN_PATH whose MAC verifies for RCPT; *OUTBOX_ID is
 * the row.  TK_ENOTFOUND: ADDRESS is no tag of RETURN_PATH (another
 * address, domain or form).  TK_EINVAL: it has a tag's form but the MAC
 * does not verify for RCPT (forged, another recipient or another secret);
 * *OUTBOX_ID is still set, for the log.  Compares in constant time. */
int tk_inbound_verp_parse(const char *secret, const char *return_path, const char *address,
                          const char *rcpt, int64_t *outbox_id, struct tk_error *err);

/* Check the [inbound] secret and return_path as the engine loads its
 * configuration: 0, or TK_EINVAL naming the key and the problem. */
int tk_inbound_verp_check(const char *secret, const char *return_path, struct tk_error *err);

/* ---- IMAP ----------------------------------------------------------- */

struct tk_inbound_imap_config {
    const char *url;      /* imap://host[:port]/MAILBOX or imaps://...; no user info */
    const char *username; /* required */
    const char *password; /* required */
    /* none, starttls or tls, as [transport] tls of the smtp transport.
     * NULL: tls for imaps://, none for imap://. */
    const char *tls;
    const char *ca_file; /* PEM CA certificates instead of the system's, or NULL */
    /* Move each processed message to this folder (created if missing).
     * NULL: leave it in place, flagged $TicklerDone (and \Seen). */
    const char *done_folder;
    long connect_timeout;  /* seconds to connect, TLS and login included; 0: 10 */
    long timeout;          /* seconds for each IMAP command, a whole download included; 0: 60 */
    size_t max_bytes;      /* 0: TK_INBOUND_MAX_BYTES_DEFAULT; larger messages: header only */
    unsigned max_messages; /* handed over per poll, oldest first; 0: 100 */
};

/* A fetched message, borrowed for the callback only. */
struct tk_inbound_fetched {
    const char *data; /* the message (or its header section when OVERSIZE) */
    size_t len;
    size_t size;          /* RFC822.SIZE the server announced */
    int oversize;         /* larger than max_bytes: DATA holds the header section */
    uint32_t uid;         /* the message's UID ... */
    uint32_t uidvalidity; /* ... valid under this UIDVALIDITY of the mailbox */
};

/* The callback records one message.  Return 0 once it is recorded (or
 * deliberately ignored): only then is the message marked processed.  Any
 * other status leaves it unprocessed, to be handed over again at a later
 * poll; fill ERR with the reason. */
typedef int (*tk_inbound_imap_fn)(void *ctx, const struct tk_inbound_fetched *m,
                                  struct tk_error *err);

struct tk_inbound_imap_stats {
    unsigned found;     /* unprocessed messages in the mailbox */
    unsigned processed; /* accepted by the callback and marked */
    unsigned failed;    /* refused by the callback, left unprocessed */
    unsigned gone;      /* expunged by someone else between search and fetch */
};

/* One poll: connect, log in, select the mailbox, hand each unprocessed
 * message (UID SEARCH UNDELETED NOT KEYWORD $TicklerDone; with a server
 * that keeps no keywords and a done_folder: every undeleted message) to FN
 * in UID order, and after FN returns 0 mark it (STORE +FLAGS ($TicklerDone
 * \Seen), then MOVE to done_folder).  A crash between FN and the mark hands
 * the message over again at the next poll: at least once, never lost.
 * Every wait is bounded (connect_timeout, timeout).  STATS (may be NULL)
 * counts what happened.
 * Returns 0 when the session worked and FN accepted every message;
 * otherwise the first failure, in one line naming the mailbox URL (the
 * password never appears): TK_EINVAL for configuration, a refused login
 * or an untrusted certificate, TK_ETEMP for the network or the server,
 * FN's own status (and message, after "message UID N: ") for a refusal by
 * FN (the poll goes on with the next message after a refusal). */
int tk_inbound_imap_poll(const struct tk_inbound_imap_config *cfg, tk_inbound_imap_fn fn, void *ctx,
                         struct tk_inbound_imap_stats *stats, struct tk_error *err);

/* Check CFG without connecting (as the engine loads its configuration):
 * 0, or TK_EINVAL naming the [inbound] key and the problem. */
int tk_inbound_imap_check(const struct tk_inbound_imap_config *cfg, struct tk_error *err);

/* Copy URL into OUT (SIZE bytes, NUL-terminated, cut if needed) with any
 * password in its user info replaced by "***": "imaps://ann:***@host/INBOX".
 * Returns OUT. */
char *tk_inbound_url_mask(const char *url, char *out, size_t size);

/* ---- a message's text ------------------------------------------------- */

/* The text of MSG's first text/plain part (LEN bytes, a whole message as
 * core/mail builds it): transfer encoding undone, UTF-8, LF line ends.
 * Malloc'ed, the caller frees it; NULL when there is none, MSG is beyond
 * the parser's limits, or memory ran out. */
char *tk_inbound_text_of(const char *msg, size_t len);

#endif /* TK_INBOUND_H */
