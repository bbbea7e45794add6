/*
 * internal.h - shared by the files of core/inbound only.
 */
#ifndef TK_INBOUND_INTERNAL_H
#define TK_INBOUND_INTERNAL_H

#include <gmime/gmime.h>

#include "inbound.h"

/* Limits on what one message may make GMime build (GMime has none but its
 * own nesting limit of 1024, deeper than a stack under ASan likes). */
#define TK_INB_MAX_CONTAINERS 32               /* multipart/message declarations: nesting <= 2x */
#define TK_INB_MAX_DEPTH 64                    /* nesting walked */
#define TK_INB_MAX_PARTS 1000                  /* parts walked */
#define TK_INB_MAX_BOUNDARY_LINES 20000        /* lines that could delimit a part */
#define TK_INB_MAX_HEADER_LINES 50000          /* lines that could be a header field */
#define TK_INB_HEADER_MAX ((size_t)256 * 1024) /* header section kept when oversize */
#define TK_INB_MAX_RCPTS 64
#define TK_INB_MAX_REFS 64
#define TK_INB_LINE_MAX 998                       /* bytes of a single-line field */
#define TK_INB_TEXT_SCAN_MAX ((size_t)256 * 1024) /* bytes of a text bounce scanned */

/* GMime parser options shared read-only by every thread (fallback
 * charsets for undeclared 8-bit text); set up by tk_inbound_init. */
GMimeParserOptions *tk_inb_options(void);

/* Pre-scan S (N bytes) in one pass: 0 when GMime may parse it, else 1 with
 * WHY (one line) naming the limit. */
int tk_inb_prescan(const char *s, size_t n, char *why, size_t whysize);

/* Parse S (N bytes) as a message with GMime: a new reference the caller
 * drops with g_object_unref, or NULL when nothing could be parsed. */
GMimeMessage *tk_inb_parse(const char *s, size_t n);

/* What a walk over the MIME tree finds.  Strings are owned (malloc). */
struct tk_inb_facts {
    int report; /* a multipart/report was seen */
    char *dsn;  /* the first delivery-status body, decoded */
    size_t dsn_len;
    char *text; /* first inline text/plain, UTF-8 */
    char *html; /* first inline text/html, UTF-8 */
    /* the first returned or attached original (message/rfc822,
     * text/rfc822-headers, or the copy in a text bounce) */
    int have_original;
    char *orig_msgid;
    char *orig_kind;
    int64_t orig_item;
    size_t parts;
    int limited; /* the walk stopped at a limit */
    int oom;
};
/* Walk M's tree into F (zeroed first; free with tk_inb_facts_free);
 * TK_ENOMEM or 0. */
int tk_inb_walk(GMimeMessage *m, struct tk_inb_facts *f);
void tk_inb_facts_free(struct tk_inb_facts *f);
/* Read the original's Message-ID and X-Tickler-* headers from the message
 * or header block S (N bytes), if F has none yet. */
void tk_inb_original_parse(struct tk_inb_facts *f, const char *s, size_t n);

/* A DSN body (RFC 3464 / 6533): append one rcpt per per-recipient group to
 * R.  TK_ENOMEM or 0. */
int tk_inb_dsn_parse(const char *s, size_t n, struct tk_inbound_result *r);

/* A bounce without a DSN (Exim, qmail, Domino ...): recipients from the
 * lines that name one, the SMTP reply found after each, appended to R;
 * *CLS HARD_BOUNCE / SOFT_BOUNCE / UNMATCHED (nothing recognisable).
 * Also finds the returned copy of the message: *COPY points into TEXT.
 * TK_ENOMEM or 0. */
int tk_inb_text_bounce(const char *text, struct tk_inbound_result *r, enum tk_inbound_class *cls,
                       const char **copy);

/* A message looks like it came from a mailer daemon (sender, subject,
 * X-Failed-Recipients, null Return-Path): the reason, or NULL. */
const char *tk_inb_bounce_sender(GMimeMessage *m, const char *from, const char *subject);

/* RFC 3834 and the usual vacation headers and subjects: the rule that
 * matched (static text), or NULL. */
const char *tk_inb_auto_reply(GMimeMessage *m, const char *subject);

/* Reply text: TEXT (else HTML without tags), quoted history cut, bounded
 * by MAX; fills r->body, body_len, body_truncated.  TK_ENOMEM or 0. */
int tk_inb_body(const char *text, const char *html, size_t max, struct tk_inbound_result *r);
/* Exposed for the unit test: cut quoted history from S in place (UTF-8,
 * LF line ends); returns the new length. */
size_t tk_inb_strip_quotes(char *s, size_t n);

/* Strings ------------------------------------------------------------ */

/* A one-line UTF-8 copy of S: invalid bytes repaired, controls as spaces,
 * runs of space squeezed, at most TK_INB_LINE_MAX bytes (cut at a
 * character).  NULL for NULL or out of memory; *OOM set on the latter. */
char *tk_inb_line(const char *s, int *oom);
/* "<id>" from a message id with or without brackets, or NULL when it is
 * empty, too long or holds spaces, brackets or controls. */
char *tk_inb_msgid(const char *id, int *oom);
/* A bare address from "rfc822; a@b", "<a@b>", " a@b " (S, N bytes; with
 * XTEXT, "+XX" decoded as in Original-Recipient), or NULL when no
 * plausible address is left. */
char *tk_inb_address(const char *s, size_t n, int xtext, int *oom);
/* ASCII case-insensitive prefix test. */
int tk_inb_prefix(const char *s, const char *prefix);
/* Append a recipient (takes the strings, even on failure).  Duplicates by
 * address are merged; beyond TK_INB_MAX_RCPTS they are dropped. */
int tk_inb_rcpt_add(struct tk_inbound_result *r, struct tk_inbound_rcpt *rc);
void tk_inb_rcpt_free(struct tk_inbound_rcpt *rc);
/* Class of a status "5.1.1" / reply code "550": HARD, SOFT or UNMATCHED. */
enum tk_inbound_class tk_inb_status_class(const char *status);

#endif
