/*
 * console.c - the staff console on the HTTP server: sessions, CSRF and
 * origin checks, security headers, and the routes that hand each request
 * to core/web's page renderers and actions (docs/console.md).
 *
 * Handlers run on the server's worker thread, one at a time, on its
 * engine; a POST runs inside the worker's write transaction with a
 * savepoint of its own: an answer other than 2xx or 303 rolls it back, so
 * a refused action changes nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/console.h"
#include "web/web.h"

#define COOKIE "tk_session"

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                          "base-uri 'none'";

/* The login rate limiter: in memory, one per process (web.h says why). */
static struct tk_web_limiter *limiter;
static pthread_once_t limiter_once = PTHREAD_ONCE_INIT;

static void make_limiter(void)
{
    limiter = tk_web_limiter_new();
}

static int headers(struct tk_http_response *res)
{
    int rc = tk_http_res_header(res, "Content-Security-Policy", csp);
    rc |= tk_http_res_header(res, "X-Frame-Options", "DENY");
    /* X-Content-Type-Options: nosniff is the server's, on every answer */
    rc |= tk_http_res_header(res, "Referrer-Policy", "same-origin");
    rc |= tk_http_res_header(res, "Cache-Control", "no-store");
    return rc ? TK_ENOMEM : 0;
}

static int html(struct tk_http_ctx *x, int status, struct tk_buf *page)
{
    int rc = tk_http_res_html(x->res, status, page->data ? page->data : "", page->len);
    tk_buf_free(page);
    return rc | headers(x->res);
}

static int redirect(struct tk_http_ctx *x, const char *to)
{
    x->res->status = 303;
    x->res->content_type = "text/plain; charset=utf-8";
    return tk_http_res_header(x->res, "Location", to) | headers(x->res);
}

/* Whether the request came over TLS, here or at a reverse proxy in front. */
static int secure(const struct tk_http_request *rq)
{
    const char *proto = tk_http_header(rq, "x-forwarded-proto");
    return rq->tls || (proto && strcmp(proto, "https") == 0);
}

/* A POST must come from a page of this site: Origin (or, without one,
 * Referer) names the scheme and the Host the browser asked for. */
static int same_origin(const struct tk_http_request *rq)
{
    const char *host = tk_http_header(rq, "host"), *origin = tk_http_header(rq, "origin");
    const char *ref = tk_http_header(rq, "referer");
    char want[320];
    int n;
    if (!host || !*host)
        return 0;
    n = snprintf(want, sizeof want, "%s://%s", secure(rq) ? "https" : "http", host);
    if (n < 0 || (size_t)n >= sizeof want)
        return 0;
    if (origin)
        return strcmp(origin, want) == 0;
    return ref && strncmp(ref, want, (size_t)n) == 0 && (ref[n] == '/' || ref[n] == '\0');
}

/* The language for a page without a user: Accept-Language starting nl. */
static const char *guest_lang(const struct tk_http_request *rq)
{
    const char *al = tk_http_header(rq, "accept-language");
    return al && strncmp(al, "nl", 2) == 0 ? "nl" : "en";
}

struct who {
    struct tk_user user;
    const char *token; /* the cookie, borrowed from the request */
    char csrf[TK_WEB_CSRF_LEN + 1];
    int ok;
};

static void who_free(struct who *w)
{
    tk_user_free(&w->user);
}

/* The session's user, when the cookie names an open one. */
static int session(struct tk_http_ctx *x, struct who *w, struct tk_error *err)
{
    int rc;
    memset(w, 0, sizeof *w);
    w->token = tk_kv_get(&x->req->cookies, COOKIE);
    if (!w->token)
        return 0;
    rc = tk_engine_session_user(x->e, w->token, &w->user, err);
    if (rc == TK_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    tk_web_csrf(w->token, w->csrf);
    w->ok = 1;
    return 0;
}

/* An error page with the one-line message; a failure of the store or an
 * unexpected one gets a fixed line (the details are not the user's). */
static int fail_page(struct tk_http_ctx *x, const struct who *w, const struct tk_error *err)
{
    struct tk_buf page = {0};
    struct tk_web_ctx c = {x->e,
                           w && w->ok ? &w->user : NULL,
                           w && w->ok ? w->user.language : guest_lang(x->req),
                           w ? w->csrf : NULL,
                           NULL,
                           NULL,
                           &page};
    int status = tk_http_status_for(err->code);
    const char *msg = err->msg;
    if (err->code == TK_EIO || err->code == TK_ETEMP) {
        status = 503;
        msg = "the store is unavailable; try again";
    } else if (status >= 500) {
        msg = "internal error";
    }
    if (tk_web_page_error(&c, status, msg))
        return TK_ENOMEM;
    return html(x, status, &page);
}

static int refuse(struct tk_http_ctx *x, const struct who *w, int status, const char *msg)
{
    struct tk_buf page = {0};
    struct tk_web_ctx c = {x->e,
                           w && w->ok ? &w->user : NULL,
                           w && w->ok ? w->user.language : guest_lang(x->req),
                           w && w->ok ? w->csrf : NULL,
                           NULL,
                           NULL,
                           &page};
    if (tk_web_page_error(&c, status, msg))
        return TK_ENOMEM;
    return html(x, status, &page);
}

/* ---- pages ------------------------------------------------------------- */

enum page { DASHBOARD, ACCOUNTS, ACCOUNT, ITEM, UPCOMING, OUTBOX };

static int id_param(struct tk_http_ctx *x, int64_t *id)
{
    const char *s = tk_http_param(x->req, "id");
    return s && tk_parse_int(s, 1, INT64_MAX, id) == 0;
}

static int page(struct tk_http_ctx *x, enum page which, struct tk_error *err)
{
    struct tk_buf out = {0};
    struct who w;
    struct tk_web_ctx c;
    char q[256], pg[16], notice[256];
    int64_t id = 0, n = 0;
    int rc;
    if ((rc = session(x, &w, err)))
        return fail_page(x, NULL, err);
    if (!w.ok)
        return redirect(x, "/login");
    c = (struct tk_web_ctx){x->e, &w.user, w.user.language, w.csrf, NULL, NULL, &out};
    /* the notice of the action that redirected here (text, escaped) */
    if (tk_http_query(x->req, "done", notice, sizeof notice, NULL) && *notice)
        c.notice = notice;
    switch (which) {
    case DASHBOARD:
        rc = tk_web_page_dashboard(&c, err);
        break;
    case ACCOUNTS: {
        const char *query = tk_http_query(x->req, "q", q, sizeof q, NULL);
        const char *p = tk_http_query(x->req, "page", pg, sizeof pg, NULL);
        if (p && tk_parse_int(p, 0, 100000, &n) != 0)
            n = 0;
        rc = tk_web_page_accounts(&c, query && *query ? query : NULL, (size_t)n, err);
        break;
    }
    case ACCOUNT:
    case ITEM:
        if (!id_param(x, &id)) {
            rc = tk_error_set(err, TK_ENOTFOUND, "no such page");
            break;
        }
        rc = which == ACCOUNT ? tk_web_page_account(&c, id, err) : tk_web_page_item(&c, id, err);
        break;
    case UPCOMING:
        rc = tk_web_page_upcoming(&c, err);
        break;
    default:
        rc = tk_web_page_outbox(&c, err);
        break;
    }
    if (rc) {
        tk_buf_free(&out);
        rc = fail_page(x, &w, err);
    } else {
        rc = html(x, 200, &out);
    }
    who_free(&w);
    return rc;
}

static int get_dashboard(struct tk_http_ctx *x, struct tk_error *err)
{
    return page(x, DASHBOARD, err);
}
static int get_accounts(struct tk_http_ctx *x, struct tk_error *err)
{
    return page(x, ACCOUNTS, err);
}
static int get_account(struct tk_http_ctx *x, struct tk_error *err)
{
    return page(x, ACCOUNT, err);
}
static int get_item(struct tk_http_ctx *x, struct tk_error *err)
{
    return page(x, ITEM, err);
}
static int get_upcoming(struct tk_http_ctx *x, struct tk_error *err)
{
    return page(x, UPCOMING, err);
}
static int get_outbox(struct tk_http_ctx *x, struct tk_error *err)
{
    return page(x, OUTBOX, err);
}

/* /outbox/ID: the message as it was sent, as text (never rendered). */
static int get_message(struct tk_http_ctx *x, struct tk_error *err)
{
    struct who w;
    int64_t id;
    int rc;
    if ((rc = session(x, &w, err)))
        return fail_page(x, NULL, err);
    if (!w.ok)
        return redirect(x, "/login");
    if (!id_param(x, &id)) {
        tk_error_set(err, TK_ENOTFOUND, "no such page");
        rc = fail_page(x, &w, err);
    } else {
        tk_buf_reset(&x->res->body);
        if ((rc = tk_web_message_text(x->e, id, &x->res->body, err))) {
            rc = fail_page(x, &w, err);
        } else {
            x->res->status = 200;
            x->res->content_type = "text/plain; charset=utf-8";
            rc = headers(x->res);
        }
    }
    who_free(&w);
    return rc;
}

static int get_asset(struct tk_http_ctx *x, struct tk_error *err)
{
    const char *type = NULL, *data;
    size_t len = 0;
    (void)err;
    data = tk_web_asset(tk_http_param(x->req, "name"), &len, &type);
    if (!data) {
        x->res->status = 404;
        x->res->content_type = "text/plain; charset=utf-8";
        return tk_buf_puts(&x->res->body, "not found\n") | headers(x->res);
    }
    x->res->status = 200;
    x->res->content_type = type;
    tk_buf_reset(&x->res->body);
    if (tk_buf_append(&x->res->body, data, len))
        return TK_ENOMEM;
    return headers(x->res);
}

/* ---- login and logout ---------------------------------------------------- */

static int login_page(struct tk_http_ctx *x, int status, const char *username, const char *error,
                      struct tk_error *err)
{
    struct tk_buf out = {0};
    struct tk_web_ctx c = {x->e, NULL, guest_lang(x->req), NULL, NULL, error, &out};
    int rc = tk_web_page_login(&c, username, err);
    if (rc) {
        tk_buf_free(&out);
        return rc;
    }
    return html(x, status, &out);
}

static int get_login(struct tk_http_ctx *x, struct tk_error *err)
{
    struct who w;
    int rc;
    if ((rc = session(x, &w, err)))
        return fail_page(x, NULL, err);
    rc = w.ok ? redirect(x, "/") : login_page(x, 200, NULL, NULL, err);
    who_free(&w);
    return rc;
}

static int post_login(struct tk_http_ctx *x, struct tk_error *err)
{
    struct tk_kv form = {0};
    struct tk_user u = {0};
    char token[TK_SESSION_TOKEN_LEN + 1], cookie[256], msg[128];
    const char *name, *pw;
    int64_t wait;
    int rc;
    pthread_once(&limiter_once, make_limiter);
    if (!limiter)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    if (!same_origin(x->req))
        return refuse(x, NULL, 403, "refused: the form was not sent from this site");
    if (tk_web_form_parse(x->req->body, x->req->body_len, &form, err)) {
        tk_kv_free(&form);
        return login_page(x, 400, NULL, err->msg, err);
    }
    name = tk_kv_get(&form, "username");
    pw = tk_kv_get(&form, "password");
    wait = tk_web_limiter_wait(limiter, x->req->peer, name, tk_engine_now(x->e));
    if (wait > 0) {
        snprintf(msg, sizeof msg, "too many failed logins; try again in %lld minute%s",
                 (long long)(wait + 59) / 60, (wait + 59) / 60 == 1 ? "" : "s");
        snprintf(cookie, sizeof cookie, "%lld", (long long)wait);
        tk_http_res_header(x->res, "Retry-After", cookie);
        rc = login_page(x, 429, name, msg, err);
        tk_kv_free(&form);
        return rc;
    }
    rc = tk_engine_login(x->e, name ? name : "", pw ? pw : "", token, &u, err);
    if (rc == TK_EINVAL) {
        tk_web_limiter_fail(limiter, x->req->peer, name, tk_engine_now(x->e));
        rc = login_page(x, 401, name, err->msg, err);
    } else if (rc == 0) {
        tk_web_limiter_success(limiter, u.name);
        snprintf(cookie, sizeof cookie,
                 COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", token,
                 (long long)tk_engine_config(x->e)->http_session_hours * 3600,
                 secure(x->req) ? "; Secure" : "");
        rc = redirect(x, "/") | tk_http_res_header(x->res, "Set-Cookie", cookie);
    } else {
        rc = fail_page(x, NULL, err);
    }
    memset(token, 0, sizeof token);
    memset(cookie, 0, sizeof cookie);
    tk_user_free(&u);
    tk_kv_free(&form);
    return rc;
}

/* ---- the forms that change something ------------------------------------- */

/* Session, CSRF token and origin of a POST; 1 when it may go on, else the
 * refusal is answered already. */
static int post_allowed(struct tk_http_ctx *x, struct who *w, struct tk_kv *form,
                        struct tk_error *err)
{
    if (session(x, w, err)) {
        fail_page(x, NULL, err);
        return 0;
    }
    if (!w->ok) {
        refuse(x, NULL, 403, "refused: not logged in");
        return 0;
    }
    if (!same_origin(x->req)) {
        refuse(x, w, 403, "refused: the form was not sent from this site");
        return 0;
    }
    if (tk_web_form_parse(x->req->body, x->req->body_len, form, err)) {
        fail_page(x, w, err);
        return 0;
    }
    if (!tk_web_csrf_ok(w->token, tk_kv_get(form, "csrf"))) {
        refuse(x, w, 403,
               "refused: the form's security token is missing or wrong; reload the page");
        return 0;
    }
    return 1;
}

static int post_logout(struct tk_http_ctx *x, struct tk_error *err)
{
    struct tk_kv form = {0};
    struct who w;
    int rc = 0;
    if (post_allowed(x, &w, &form, err)) {
        static _Thread_local char actor[16 + 64];
        snprintf(actor, sizeof actor, "staff:%s", w.user.name);
        tk_engine_set_actor(x->e, actor);
        if ((rc = tk_engine_logout(x->e, w.token, err)))
            rc = fail_page(x, &w, err);
        else
            rc = redirect(x, "/login") |
                 tk_http_res_header(x->res, "Set-Cookie",
                                    COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    }
    who_free(&w);
    tk_kv_free(&form);
    return rc;
}

/* Resend, reminders, event, retry, bulk confirmed: core/web/actions.c with actor
 * staff:NAME, then back to the page with the notice. */
static int post_action(struct tk_http_ctx *x, struct tk_error *err)
{
    /* the actor is borrowed by the engine until the worker resets it after
     * this request: it must outlive the handler's frame */
    static _Thread_local char actor[16 + 64];
    struct tk_web_action_result res;
    struct tk_kv form = {0};
    struct tk_buf to = {0};
    struct who w;
    int rc = 0;
    if (post_allowed(x, &w, &form, err)) {
        snprintf(actor, sizeof actor, "staff:%s", w.user.name);
        tk_engine_set_actor(x->e, actor);
        if ((rc = tk_web_action(x->e, w.user.language, x->req->path, &form, &res, err))) {
            rc = fail_page(x, &w, err);
        } else {
            rc = tk_buf_puts(&to, res.redirect) | tk_buf_puts(&to, "?done=") |
                 tk_web_url(&to, res.notice);
            rc = rc ? TK_ENOMEM : redirect(x, to.data);
        }
    }
    tk_buf_free(&to);
    who_free(&w);
    tk_kv_free(&form);
    return rc;
}

/* POST /accounts/ID/bulk: the confirm step, what would go out (nothing
 * written, nothing audited); its form posts to /accounts/ID/bulk/confirm. */
static int post_bulk(struct tk_http_ctx *x, struct tk_error *err)
{
    struct tk_kv form = {0};
    struct tk_buf out = {0};
    struct tk_web_ctx c;
    struct who w;
    int64_t id;
    int rc = 0;
    if (post_allowed(x, &w, &form, err)) {
        const char *msg = tk_kv_get(&form, "message");
        c = (struct tk_web_ctx){x->e, &w.user, w.user.language, w.csrf, NULL, NULL, &out};
        if (!id_param(x, &id))
            rc = tk_error_set(err, TK_ENOTFOUND, "no such page");
        else
            rc = tk_web_page_bulk(&c, id, tk_kv_get(&form, "command"), msg && *msg ? msg : NULL,
                                  err);
        if (rc) {
            tk_buf_free(&out);
            rc = fail_page(x, &w, err);
        } else {
            rc = html(x, 200, &out);
        }
    }
    who_free(&w);
    tk_kv_free(&form);
    return rc;
}

/* ---- the table --------------------------------------------------------- */

enum { POST = TK_ROUTE_WRITE | TK_ROUTE_ANY_BODY | TK_ROUTE_SEE_OTHER };

static const struct tk_http_route routes[] = {
    {"GET", "/", 0, NULL, get_dashboard},
    {"GET", "/login", 0, NULL, get_login},
    {"POST", "/login", POST, NULL, post_login},
    {"POST", "/logout", POST, NULL, post_logout},
    {"GET", "/accounts", 0, NULL, get_accounts},
    {"GET", "/accounts/{id}", 0, NULL, get_account},
    {"POST", "/accounts/{id}/bulk", POST, NULL, post_bulk},
    {"POST", "/accounts/{id}/bulk/confirm", POST, NULL, post_action},
    {"GET", "/items/{id}", 0, NULL, get_item},
    {"POST", "/items/{id}/resend", POST, NULL, post_action},
    {"POST", "/items/{id}/reminders", POST, NULL, post_action},
    {"POST", "/items/{id}/event", POST, NULL, post_action},
    {"GET", "/upcoming", 0, NULL, get_upcoming},
    {"GET", "/outbox", 0, NULL, get_outbox},
    {"GET", "/outbox/{id}", 0, NULL, get_message},
    {"POST", "/outbox/{id}/retry", POST, NULL, post_action},
    {"POST", "/outbox/retry-all", POST, NULL, post_action},
    {"GET", "/static/{name}", TK_ROUTE_INLINE, NULL, get_asset},
};

int tk_http_console_routes(struct tk_http_router *r, struct tk_error *err)
{
    return tk_http_router_add(r, routes, sizeof routes / sizeof routes[0], err);
}
