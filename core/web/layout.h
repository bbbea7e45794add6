/*
 * layout.h - what the page renderers of core/web share (not for other
 * modules).  Each appends to c->out and returns 0 or TK_ENOMEM.
 */
#ifndef TK_WEB_LAYOUT_H
#define TK_WEB_LAYOUT_H

#include "web.h"

/* <!DOCTYPE ...> up to the page's <h1>: the word TITLE_KEY and, when not
 * NULL, ": TITLE_EXTRA" (escaped). */
int tk_web_begin(struct tk_web_ctx *c, const char *title_key, const char *title_extra);
int tk_web_end(struct tk_web_ctx *c);
/* The hidden csrf input of a form. */
int tk_web_csrf_input(struct tk_web_ctx *c);
/* The word KEY in the page's language, escaped. */
int tk_web_word(struct tk_web_ctx *c, const char *key);
/* T as "2026-12-01 09:00 UTC" in a <time>; a dash for 0. */
int tk_web_time(struct tk_web_ctx *c, tk_time t);
/* The body of the whole message MSG (headers, a blank line, the body as
 * built) as HTML text, its CR LF line ends as LF (a CR would show as
 * U+FFFD).  The body is shown as encoded: non-ASCII text appears
 * quoted-printable. */
int tk_web_mail_body(struct tk_buf *b, const char *msg);
/* RC as a status with ERR filled for TK_ENOMEM (other statuses have it). */
int tk_web_fail(int rc, struct tk_error *err);

/* The dashboard's chart: two series of N days as an inline SVG. */
int tk_web_chart(struct tk_web_ctx *c, const int64_t *sent, const int64_t *completed, int n,
                 tk_time first_day);

/* One outbox row in a table of emails (page_item.c; the outbox page too):
 * id, kind, recipient, state, time, reply, and with RETRY a Retry button
 * when it failed. */
int tk_web_outbox_row(struct tk_web_ctx *c, const struct tk_outbox_row *o, int retry);

#endif
