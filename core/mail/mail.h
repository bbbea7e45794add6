/*
 * mail.h - building RFC 5322 / MIME messages.
 *
 * Every message tickler writes goes through tk_mail_build: CRLF line ends,
 * UTF-8 display names and subjects as RFC 2047 encoded words (at most 75
 * characters each, never splitting a UTF-8 character), header lines folded
 * under 78 characters, a body in 7bit when it is short-lined ASCII and in
 * quoted-printable UTF-8 otherwise, Date, a Message-ID given by the caller,
 * MIME-Version and, for automatic mail, Auto-Submitted: auto-generated.
 *
 * Caller data can never add or change a header: CR, LF and NUL in names and
 * subjects become spaces before encoding, addresses are checked with
 * tk_mail_check_address and refused otherwise.  Address domains are
 * written as IDNA A-labels (punycode); a local part that is not ASCII is
 * written as UTF-8 (RFC 6532), so such a message needs SMTPUTF8.
 */
#ifndef TK_MAIL_H
#define TK_MAIL_H

#include "util/util.h"

struct tk_mail {
    const char *from_name; /* may be NULL */
    const char *from_addr;
    const char *to_name; /* may be NULL */
    const char *to_addr;
    const char *subject;     /* UTF-8 */
    const char *text;        /* UTF-8 body; LF or CRLF line ends */
    const char *html;        /* optional HTML alternative, NULL: none */
    const char *message_id;  /* "<id@domain>" */
    const char *in_reply_to; /* optional "<id@domain>": threads reminders */
    tk_time date;
    int auto_submitted; /* 1: Auto-Submitted: auto-generated */
    /* Extra "X-Tickler-..." headers, pairs name,value, NULL-terminated;
     * values are sanitized like the subject. */
    const char *const *extra;
    /* Optional Date header value already formatted in the recipient's
     * zone ("Mon, 07 Dec 2026 09:00:00 -0500", tk_calendar_format_date_header);
     * NULL: DATE in UTC (+0000).  Printable ASCII only, else refused. */
    const char *date_text;
};

/* Append the whole message to OUT. */
int tk_mail_build(const struct tk_mail *m, struct tk_buf *out, struct tk_error *err);

/* A new unique Message-ID "<time.count.random@DOMAIN>" into BUF (>= 128
 * bytes): NOW in base 36, this thread's count of IDs made at NOW (5 base-36
 * digits), 128 random bits as 26 base-32 digits (0-9a-v, the first 0-7).
 * IDs made one after another sort in that order, so the store's index of
 * Message-IDs grows at its right edge.  Before 2026-12 the form was "<" 32
 * hex "." time "@" DOMAIN ">" (stored rows keep it). */
int tk_mail_message_id(const char *domain, tk_time now, char *buf, size_t size,
                       struct tk_error *err);

/* Whether ADDR (a bare address: a contact's, [transport] from's) can be
 * sent: a dot-atom or quoted local part (RFC 5321/5322) of at most 64
 * bytes, "@", a host name or an international domain name that converts
 * to A-labels (IDNA2008 with UTS #46, libidn2), at most 254 bytes in all;
 * valid UTF-8 without control characters; UTF-8 in the local part
 * (RFC 6531, needs SMTPUTF8).  Refused: address literals ([192.0.2.1]),
 * '<' and '>' even quoted, a dot at either end of the local part or two in
 * a row, a domain without a dot (except localhost).  Returns 0, or
 * TK_EINVAL with ERR (may be NULL) saying "invalid email address 'ADDR':
 * why" (bytes that are not UTF-8 and controls shown as \xNN). */
int tk_mail_check_address(const char *addr, struct tk_error *err);

/* Append ADDR to OUT as it goes on the wire: the domain as A-labels
 * ("user@xn--bcher-kva.example" for "user@b\xc3\xbccher.example"), an ASCII
 * domain as written, the local part unchanged.  *UTF8_LOCAL (may be NULL)
 * is set to 1 when the local part is not ASCII.  Checks ADDR as
 * tk_mail_check_address does; on failure OUT is unchanged. */
int tk_mail_ascii_address(struct tk_buf *out, const char *addr, int *utf8_local,
                          struct tk_error *err);

/* Split "Name <addr>" or "addr" into owned *name (NULL when none) and *addr.
 * Checks the address with tk_mail_check_address. */
int tk_mail_parse_address(const char *s, char **name, char **addr, struct tk_error *err);

/* Encoders, exposed for tests and the fuzz target. */
/* Append S as a header value: plain when it is printable ASCII, else RFC 2047
 * encoded words; FOLD_AT is the column the value starts at. */
int tk_mail_encode_header(struct tk_buf *out, const char *s, size_t fold_at);
/* Append S (LEN bytes) as quoted-printable with CRLF line ends. */
int tk_mail_encode_qp(struct tk_buf *out, const char *s, size_t len);

/* Shared by the mail files and tests (additions). */
/* Append "NAME <ADDR>" (or "<ADDR>" when NAME is NULL or blank) as an
 * address header value: NAME plain, quoted-string or encoded words, folded
 * so that lines stay under 78 columns; FOLD_AT as above.  ADDR is not
 * checked here (tk_mail_build checks it). */
int tk_mail_encode_address(struct tk_buf *out, const char *name, const char *addr, size_t fold_at);
/* Append S (LEN bytes) with every invalid UTF-8 byte replaced by U+FFFD. */
int tk_mail_repair_utf8(struct tk_buf *out, const char *s, size_t len);
/* Length of the longest valid UTF-8 prefix of S (LEN bytes): LEN when S is
 * valid throughout, so that callers can skip tk_mail_repair_utf8's copy. */
size_t tk_mail_utf8_prefix(const char *s, size_t len);

#endif
