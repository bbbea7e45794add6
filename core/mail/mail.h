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
 * tk_email_valid and refused otherwise.
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
};

/* Append the whole message to OUT. */
int tk_mail_build(const struct tk_mail *m, struct tk_buf *out, struct tk_error *err);

/* A new unique Message-ID "<random.time@DOMAIN>" into BUF (>= 128 bytes). */
int tk_mail_message_id(const char *domain, tk_time now, char *buf, size_t size,
                       struct tk_error *err);

/* Split "Name <addr>" or "addr" into owned *name (NULL when none) and *addr.
 * Checks the address. */
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
