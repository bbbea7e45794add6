/*
 * web.h - the staff console (issue 18, docs/console.md): a front end like
 * core/cli.  It reads and changes the store only through engine/engine.h
 * (tests/style/layers.sh), and knows no HTTP server: the server's glue
 * (routes.c) hands it a parsed request and sends what it renders.
 *
 *   escape.c     text for HTML text, attributes and URLs
 *   form.c       application/x-www-form-urlencoded bodies and queries
 *   csrf.c       CSRF tokens bound to the session
 *   limit.c      the login rate limiter (in memory, per address and user)
 *   i18n.c       the console's words in en and nl
 *   layout.c     the page frame; chart.c the dashboard's SVG chart
 *   page_*.c     one renderer per page: engine reads into HTML
 *   actions.c    the POST forms: the same engine functions as the CLI
 *   assets.c     the vendored CSS and JS (static/)
 *
 * Every function that writes HTML appends to a caller's struct tk_buf and
 * returns 0, TK_ENOMEM or the engine's status with ERR filled.
 */
#ifndef TK_WEB_H
#define TK_WEB_H

#include "engine/engine.h"

/* ---- escaping (escape.c) ------------------------------------------------
 *
 * Every value that did not come from this file's own literals goes through
 * one of these, chosen by where it lands.  Text that is not UTF-8 is
 * repaired (U+FFFD per ill-formed sequence), and control characters other
 * than tab and newline become U+FFFD, so nothing invisible reaches a page. */

/* S (NULL: nothing) for HTML text and for a double-quoted attribute value:
 * & < > " ' escaped as character references. */
int tk_web_html(struct tk_buf *b, const char *s);
/* The same, for an attribute value that must be double-quoted by the
 * caller (attribute names are never taken from data). */
int tk_web_attr(struct tk_buf *b, const char *s);
/* S percent-encoded as one URL component (a path segment or a query
 * value): every byte but A-Z a-z 0-9 - . _ ~ becomes %XX. */
int tk_web_url(struct tk_buf *b, const char *s);
/* Whether S may be the target of a link: a path on this site ("/x", not
 * "//host"), or an absolute http: or https: URL.  javascript:, data: and
 * every other scheme are refused (and then shown as text). */
int tk_web_url_safe(const char *s);

/* ---- forms (form.c) ----------------------------------------------------- */

/* Parse an application/x-www-form-urlencoded BODY of LEN bytes (a query
 * string too) into OUT: '+' is a space, %XX a byte, CR LF one LF; a name given twice
 * keeps its last value.  At most 64 fields of at most 64 KiB each;
 * TK_EINVAL for a malformed escape or too much.  OUT is the caller's,
 * freed with tk_kv_free also on failure. */
int tk_web_form_parse(const char *body, size_t len, struct tk_kv *out, struct tk_error *err);

/* ---- CSRF (csrf.c) ------------------------------------------------------ */

#define TK_WEB_CSRF_LEN 64
/* The CSRF token of the session SESSION_TOKEN: a keyed BLAKE2b hash of a
 * fixed label under the session's secret, in hex, into OUT
 * (TK_WEB_CSRF_LEN + 1 bytes).  Bound to the session without storage: a
 * token of another session never matches. */
void tk_web_csrf(const char *session_token, char *out);
/* 1 when GIVEN is the CSRF token of SESSION_TOKEN (constant time). */
int tk_web_csrf_ok(const char *session_token, const char *given);

/* ---- the login rate limiter (limit.c) -----------------------------------
 *
 * In memory, per process: TK_WEB_LOGIN_FAILURES failed logins within
 * TK_WEB_LOGIN_WINDOW seconds from one address, or for one user name,
 * lock that address or name out until the window of its first failure has
 * passed.  A restart forgets it (docs/console.md says so).  Thread-safe. */
#define TK_WEB_LOGIN_FAILURES 5
#define TK_WEB_LOGIN_WINDOW (15 * 60)
struct tk_web_limiter;
/* NULL when out of memory; free with tk_web_limiter_free. */
struct tk_web_limiter *tk_web_limiter_new(void);
void tk_web_limiter_free(struct tk_web_limiter *l);
/* Seconds until ADDR or USER (either may be NULL) may try again; 0: now. */
int64_t tk_web_limiter_wait(struct tk_web_limiter *l, const char *addr, const char *user,
                            tk_time now);
/* Count one failure for ADDR and for USER. */
void tk_web_limiter_fail(struct tk_web_limiter *l, const char *addr, const char *user, tk_time now);
/* A successful login: USER's failures are forgotten (the address's stay). */
void tk_web_limiter_success(struct tk_web_limiter *l, const char *user);

/* ---- words (i18n.c) ----------------------------------------------------- */

/* The word KEY ("nav.accounts") in LANG ("en", "nl"; anything else: en);
 * KEY itself when there is none.  Static storage. */
const char *tk_web_t(const char *lang, const char *key);

/* The word table's size, and its Nth key into *KEY (for tests). */
size_t tk_web_words(const char **key, size_t n);

/* ---- pages -------------------------------------------------------------- */

/* What a page is rendered for.  All borrowed for the call. */
struct tk_web_ctx {
    struct tk_engine *e;
    const struct tk_user *user; /* NULL: not logged in (login page only) */
    const char *lang;           /* the user's language */
    const char *csrf;           /* the session's CSRF token, for forms */
    const char *notice;         /* one line shown on top (a done action), may be NULL */
    const char *error;          /* one line shown on top (a refused action), may be NULL */
    struct tk_buf *out;         /* the page is appended here */
};

int tk_web_page_dashboard(struct tk_web_ctx *c, struct tk_error *err);
/* QUERY: the search box (NULL: all); PAGE from 0. */
int tk_web_page_accounts(struct tk_web_ctx *c, const char *query, size_t page,
                         struct tk_error *err);
int tk_web_page_account(struct tk_web_ctx *c, int64_t id, struct tk_error *err);
int tk_web_page_item(struct tk_web_ctx *c, int64_t id, struct tk_error *err);
int tk_web_page_upcoming(struct tk_web_ctx *c, struct tk_error *err);
int tk_web_page_outbox(struct tk_web_ctx *c, struct tk_error *err);
/* The confirm step of bulk command COMMAND on account ACCOUNT with MESSAGE
 * (NULL: none): the items, recipients, subject and text it would send
 * (tk_engine_bulk_preview: nothing written), a form that sends the same
 * choice (data-action="bulk-confirm") and a way back (bulk-cancel). */
int tk_web_page_bulk(struct tk_web_ctx *c, int64_t account, const char *command,
                     const char *message, struct tk_error *err);
/* USERNAME: the name typed before (kept after a failure), may be NULL. */
int tk_web_page_login(struct tk_web_ctx *c, const char *username, struct tk_error *err);
/* A page with one error line (404, 403 ...), STATUS for its title. */
int tk_web_page_error(struct tk_web_ctx *c, int status, const char *message);
/* The text of outbox message ID as it was sent, into OUT (text/plain). */
int tk_web_message_text(struct tk_engine *e, int64_t id, struct tk_buf *out, struct tk_error *err);

/* ---- actions (actions.c) -------------------------------------------------
 *
 * A POST of the console.  PATH is the request path ("/items/12/resend"),
 * FORM its parsed body.  The caller has checked the session, the CSRF
 * token and the origin, has set the engine's actor to "staff:NAME" and
 * opened a transaction (tk_engine_begin, TK_TX_IMMEDIATE); it commits on
 * 0 and rolls back otherwise.  On 0, REDIRECT (a buffer of the caller)
 * holds where to send the browser (303) and NOTICE what was done; on
 * failure ERR holds the one line the CLI would print.  *DISPATCH is set
 * when mail was enqueued (deliver after the commit).  TK_ENOTFOUND for a
 * path that is no action. */
struct tk_web_action_result {
    char redirect[256];
    char notice[256];
    int dispatch;
};
int tk_web_action(struct tk_engine *e, const char *lang, const char *path, const struct tk_kv *form,
                  struct tk_web_action_result *res, struct tk_error *err);

/* ---- static files (assets.c) --------------------------------------------- */

/* The vendored file NAME ("console.css", "console.js"): its bytes, their
 * length and content type; NULL when there is no such file.  Static. */
const char *tk_web_asset(const char *name, size_t *len, const char **content_type);

#endif
