/*
 * webhooks_in.c - inbound webhooks: POST /hooks/NAME as one engine
 * function (engine/webhooks.h, docs/webhooks.md).
 *
 * The order matters: the hook must exist, then the signature must be
 * right (checked in constant time, before any of the body is parsed or
 * any script runs), then the handler runs inside a savepoint, so that a
 * handler that fails, names an unknown item or event, or turns out to be
 * a replay leaves nothing behind, while the caller's transaction (and
 * whatever the front end wrote into it, such as a request log) goes on.
 *
 * The delivery id: the handler's returned `id` (the provider's own id for
 * the delivery, which its retries repeat), else the X-Tickler-Delivery
 * header (senders that follow our own convention); neither: no replay
 * protection for that delivery.  An id is kept 24 h per hook
 * (webhook_seen).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "engine/webhooks.h"
#include "internal.h"
#include "json/json.h"
#include "store/webhooks.h"
#include "util/hmac.h"

#define SEEN_WINDOW TK_DAY
#define ID_MAX 200

void tk_engine_set_webhook_handler(struct tk_engine *e, const struct tk_webhook_handler *h, void *u)
{
    e->hook_handler = h;
    e->hook_data = u;
}

void *tk_engine_webhook_handler_data(const struct tk_engine *e)
{
    return e->hook_handler ? e->hook_data : NULL;
}

const char *tk_webhook_header(const struct tk_webhook_request *req, const char *name)
{
    for (size_t i = 0; req->headers && i < req->nheaders; i++)
        if (req->headers[i].name && req->headers[i].value &&
            strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* OUT = STATUS and {"KEY": TEXT}, TEXT repaired to UTF-8 and escaped. */
static int reply(struct tk_webhook_reply *out, int status, const char *key, const char *text)
{
    json_t *o = json_object();
    out->status = status;
    tk_strlcpy(out->body, "{}", sizeof out->body);
    if (o && tk_json_set(o, key, tk_json_str(text)) == 0) {
        char *s = json_dumps(o, JSON_COMPACT);
        if (s && strlen(s) < sizeof out->body)
            tk_strlcpy(out->body, s, sizeof out->body);
        free(s);
    }
    json_decref(o);
    return 0;
}

static int ok_reply(struct tk_webhook_reply *out, const char *status, int64_t item)
{
    if (item > 0)
        snprintf(out->body, sizeof out->body, "{\"status\":\"%s\",\"item\":%lld}", status,
                 (long long)item);
    else
        snprintf(out->body, sizeof out->body, "{\"status\":\"%s\"}", status);
    out->status = 200;
    return 0;
}

/* Whether the signature header of REQ is the HMAC of its body. */
static int signed_ok(const struct tk_webhook_request *req, const struct tk_webhook_spec *spec,
                     const char *secret, const char **why, struct tk_error *err)
{
    const char *hname = spec->header[0] ? spec->header : "X-Tickler-Signature";
    const char *prefix = spec->has_prefix ? spec->prefix : "sha256=";
    const char *got = tk_webhook_header(req, hname);
    char want[TK_HMAC_HEX];
    size_t pl = strlen(prefix);
    *why = NULL;
    if (!got) {
        *why = "no signature header";
        return 0;
    }
    if (strncasecmp(got, prefix, pl) != 0) {
        *why = "bad signature";
        return 0;
    }
    if (tk_hmac_sha256_hex(secret, strlen(secret), req->body ? req->body : "", req->body_len, want,
                           err))
        return -1;
    if (!tk_hmac_hex_equal(got + pl, strlen(got + pl), want)) {
        *why = "bad signature";
        return 0;
    }
    return 1;
}

static int savepoint(struct tk_engine *e, const char *sql, struct tk_error *err)
{
    return tk_db_exec(e->db, err, sql, "");
}

int tk_engine_webhook_receive(struct tk_engine *e, const char *name,
                              const struct tk_webhook_request *req, struct tk_webhook_reply *out,
                              struct tk_error *err)
{
    struct tk_webhook_spec spec;
    struct tk_webhook_result res;
    struct tk_error herr = {0};
    const char *secret, *why = NULL, *actor;
    char actor_buf[80];
    int rc, seen = 0;

    memset(out, 0, sizeof *out);
    memset(&spec, 0, sizeof spec);
    if (!name || !*name || strlen(name) > 64 ||
        !(secret = tk_config_plugin_find(&e->cfg, "hooks", name)) || !e->hook_handler ||
        e->hook_handler->find(e->hook_data, name, &spec) != 0)
        return reply(out, 404, "error", "no such webhook");
    rc = signed_ok(req, &spec, secret, &why, err);
    if (rc < 0)
        return TK_ERR;
    if (rc == 0) {
        /* the hook's name is from our configuration, safe to print; never
         * the secret, the signature sent or the body */
        tk_engine_warn(e, "webhook %s: %s; delivery refused (401)", name, why);
        return reply(out, 401, "error", why);
    }
    if ((rc = savepoint(e, "SAVEPOINT tk_webhook", err)))
        return rc;
    snprintf(actor_buf, sizeof actor_buf, "webhook:%s", name);
    actor = tk_engine_actor(e);
    tk_engine_set_actor(e, actor_buf);
    memset(&res, 0, sizeof res);
    rc = e->hook_handler->run(e->hook_data, e, name, req, &res, &herr);
    if (rc == 0 && !res.id[0]) {
        const char *h = tk_webhook_header(req, "X-Tickler-Delivery");
        if (h && *h && strlen(h) <= ID_MAX)
            tk_strlcpy(res.id, h, sizeof res.id);
    }
    if (rc == 0 && res.id[0]) {
        if (strlen(res.id) > ID_MAX || !tk_utf8_valid(res.id, strlen(res.id)))
            rc = tk_error_set(&herr, TK_EINVAL,
                              "webhook %s: the delivery id is not 1 to %d "
                              "characters of UTF-8",
                              name, ID_MAX);
        else if ((rc = tk_store_webhook_seen(e->db, name, res.id, e->now, SEEN_WINDOW, &seen,
                                             &herr)) == 0 &&
                 seen)
            rc = -1; /* a replay: undo what the handler did, answer 200 */
    }
    if (rc == 0 && !res.ignore && res.item > 0)
        rc = tk_engine_event(e, res.item, res.event, &herr);
    tk_engine_set_actor(e, actor);
    if (rc == 0)
        return savepoint(e, "RELEASE SAVEPOINT tk_webhook", err) ? TK_ERR
               : res.ignore                                      ? ok_reply(out, "ignored", 0)
                                                                 : ok_reply(out, "ok", res.item);
    /* Nothing of this delivery stays: the handler's writes, the event,
     * the replay record. */
    if (savepoint(e, "ROLLBACK TO SAVEPOINT tk_webhook", err) ||
        savepoint(e, "RELEASE SAVEPOINT tk_webhook", err))
        return TK_ERR;
    if (rc == -1)
        return ok_reply(out, "duplicate", 0);
    switch (herr.code) {
    case TK_ENOMEM:
    case TK_EIO:
        if (err)
            *err = herr;
        return herr.code; /* the store or the machine: the caller answers 503 */
    case TK_ECONFLICT:
        return reply(out, 409, "error", herr.msg);
    default:
        return reply(out, 422, "error", herr.msg);
    }
}
