/*
 * webhooks.c - outbound webhooks: subscriptions and their events
 * (docs/webhooks.md).
 *
 * An event is written by the change that causes it, in that change's
 * transaction (a transactional outbox): one outbox row per subscription
 * that asked for the event's type, kind "webhook:TYPE", step = the
 * subscription's id, recipient = its URL with any password masked, the
 * event id in message_id.  The row's text is everything the POST needs,
 * so that a dispatcher (possibly on another machine, possibly after a
 * crash) sends exactly the bytes that were signed:
 *
 *     URL LF SIGNATURE-HEX LF BODY
 *
 * The body is signed here, once: a retry sends the same body, the same
 * signature and the same event id.  A subscription removed later takes its
 * undelivered rows with it (store/webhooks.c).
 *
 * The item in "data" is tk_json_item's object (json/), the one `tickler
 * --json show` prints.  json/ sits above the engine in the layer picture
 * only because it reads the engine's record types; calling its pure
 * function from here makes no cycle of behaviour (docs/ARCHITECTURE.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/webhooks.h"
#include "internal.h"
#include "json/json.h"
#include "store/webhooks.h"
#include "util/hmac.h"

#define URL_MAX 2000
#define SECRET_MAX 200

int tk_webhook_mask_url(const char *url, char *buf, size_t size)
{
    /* scheme://user:password@host/... -> scheme://user:***@host/... */
    const char *s = strstr(url, "://");
    const char *auth = s ? s + 3 : url;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL, *colon = NULL;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            at = auth + i; /* the last '@' ends the user information */
    if (at)
        colon = memchr(auth, ':', (size_t)(at - auth));
    int n = colon ? snprintf(buf, size, "%.*s:***%s", (int)(colon - url), url, at)
                  : snprintf(buf, size, "%s", url);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int tk_webhook_is_row(const struct tk_outbox_row *r)
{
    return r->kind && strncmp(r->kind, "webhook:", 8) == 0;
}

/* Whether TYPE is one of EVENTS ("a,b,c"). */
static int wants(const char *events, const char *type)
{
    size_t tl = strlen(type);
    for (const char *p = events; *p;) {
        size_t n = strcspn(p, ",");
        if (n == tl && memcmp(p, type, n) == 0)
            return 1;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int check_events(const char *events, struct tk_error *err)
{
    if (!events || !*events)
        return tk_error_set(err, TK_EINVAL, "--events: name at least one of %s", TK_WEBHOOK_EVENTS);
    for (const char *p = events; *p;) {
        size_t n = strcspn(p, ",");
        char one[64];
        if (n == 0 || n >= sizeof one)
            return tk_error_set(err, TK_EINVAL, "--events: bad list '%.100s' (events: %s)", events,
                                TK_WEBHOOK_EVENTS);
        memcpy(one, p, n);
        one[n] = '\0';
        if (!wants(TK_WEBHOOK_EVENTS, one))
            return tk_error_set(err, TK_EINVAL, "--events: unknown event '%s' (events: %s)",
                                tk_utf8_valid(one, n) ? one : "?", TK_WEBHOOK_EVENTS);
        p += n;
        if (*p == ',' && !*++p)
            return tk_error_set(err, TK_EINVAL, "--events: bad list '%.100s' (events: %s)", events,
                                TK_WEBHOOK_EVENTS);
    }
    return 0;
}

static int check_url(const char *url, struct tk_error *err)
{
    size_t n = url ? strlen(url) : 0;
    if (n == 0 || n > URL_MAX)
        return tk_error_set(err, TK_EINVAL, "webhook URL: 1 to %d characters", URL_MAX);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return tk_error_set(err, TK_EINVAL, "webhook URL: must start with http:// or https://");
    const char *host = strstr(url, "://") + 3;
    if (!*host || *host == '/' || *host == '?' || *host == '#')
        return tk_error_set(err, TK_EINVAL, "webhook URL: no host");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return tk_error_set(err, TK_EINVAL,
                                "webhook URL: spaces, control characters and non-ASCII "
                                "characters must be percent-encoded");
    return 0;
}

int tk_engine_webhook_add(struct tk_engine *e, const char *url, const char *events,
                          const char *secret, int64_t *id, struct tk_error *err)
{
    char masked[URL_MAX + 16], detail[URL_MAX + 200];
    int64_t v = 0;
    int rc;
    size_t sl = secret ? strlen(secret) : 0;
    if ((rc = check_url(url, err)) || (rc = check_events(events, err)))
        return rc;
    if (sl == 0 || sl > SECRET_MAX)
        return tk_error_set(err, TK_EINVAL, "--secret: 1 to %d characters", SECRET_MAX);
    for (size_t i = 0; i < sl; i++)
        if ((unsigned char)secret[i] < 0x20 || secret[i] == 0x7f)
            return tk_error_set(err, TK_EINVAL, "--secret: no control characters");
    if (tk_webhook_mask_url(url, masked, sizeof masked))
        return tk_error_set(err, TK_EINVAL, "webhook URL: too long");
    if ((rc = tk_store_webhook_add(e->db, url, events, secret, e->now, &v, err)))
        return rc;
    snprintf(detail, sizeof detail, "webhook %lld: %s for %s", (long long)v, masked, events);
    if ((rc = tk_engine_audit(e, 0, 0, 0, "webhook-added", detail, err)))
        return rc;
    if (id)
        *id = v;
    return 0;
}

int tk_engine_webhook_remove(struct tk_engine *e, int64_t id, struct tk_error *err)
{
    int64_t dropped = 0;
    char detail[128];
    int rc = tk_store_webhook_remove(e->db, id, &dropped, err);
    if (rc)
        return rc;
    snprintf(detail, sizeof detail, "webhook %lld removed; %lld undelivered event%s dropped",
             (long long)id, (long long)dropped, dropped == 1 ? "" : "s");
    return tk_engine_audit(e, 0, 0, 0, "webhook-removed", detail, err);
}

struct each_ctx {
    int (*fn)(void *u, const struct tk_webhook_info *w);
    void *u;
};

static int each_one(void *u, const struct tk_webhook_sub *s)
{
    struct each_ctx *c = u;
    char masked[URL_MAX + 16];
    if (tk_webhook_mask_url(s->url, masked, sizeof masked))
        tk_strlcpy(masked, "(too long)", sizeof masked);
    struct tk_webhook_info w = {s->id, masked, s->events, s->created_at};
    return c->fn(c->u, &w);
}

int tk_engine_webhooks_each(struct tk_engine *e,
                            int (*fn)(void *u, const struct tk_webhook_info *w), void *u,
                            struct tk_error *err)
{
    struct each_ctx c = {fn, u};
    return tk_store_webhook_each(e->db, each_one, &c, err);
}

/* ---- events ---------------------------------------------------------- */

struct emit_ctx {
    const char *type;
    struct tk_webhook_sub *subs;
    size_t n;
    struct tk_error *err;
    size_t seen; /* subscriptions read, wanted or not */
};

static int collect(void *u, const struct tk_webhook_sub *s)
{
    struct emit_ctx *c = u;
    c->seen++;
    if (!wants(s->events, c->type))
        return 0;
    struct tk_webhook_sub *v = realloc(c->subs, (c->n + 1) * sizeof *v);
    if (!v)
        return tk_error_set(c->err, TK_ENOMEM, "out of memory");
    c->subs = v;
    v[c->n] = (struct tk_webhook_sub){s->id, tk_strdup(s->url), NULL, tk_strdup(s->secret), 0};
    c->n++;
    if (!v[c->n - 1].url || !v[c->n - 1].secret)
        return tk_error_set(c->err, TK_ENOMEM, "out of memory");
    return 0;
}

/* The body of event TYPE about IT: {"id", "type", "created_at", "data"}. */
static char *event_body(const char *evid, const char *type, tk_time at, const struct tk_item *it,
                        const char *account_name)
{
    json_t *o = json_object();
    char *s = NULL;
    if (o && json_object_set_new(o, "id", json_string(evid)) == 0 &&
        json_object_set_new(o, "type", json_string(type)) == 0 &&
        json_object_set_new(o, "created_at", tk_json_time(at)) == 0 &&
        json_object_set_new(o, "data", tk_json_item(it, account_name)) == 0)
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

static int enqueue(struct tk_engine *e, struct tk_db *db, const char *type, const char *evid,
                   const struct tk_item *it, const struct tk_webhook_sub *s, const char *body,
                   struct tk_error *err)
{
    char hex[TK_HMAC_HEX], masked[URL_MAX + 16], kind[64], key[128];
    struct tk_outbox_row row;
    int rc = tk_hmac_sha256_hex(s->secret, strlen(s->secret), body, strlen(body), hex, err);
    if (rc)
        return rc;
    if (tk_webhook_mask_url(s->url, masked, sizeof masked))
        tk_strlcpy(masked, "(too long)", sizeof masked);
    snprintf(kind, sizeof kind, "webhook:%s", type);
    snprintf(key, sizeof key, "webhook/%s/%lld", evid, (long long)s->id);
    memset(&row, 0, sizeof row);
    row.item_id = it->id;
    row.account_id = it->account_id;
    row.kind = kind;
    row.step = (int)s->id;
    row.recipient = masked;
    row.idem_key = key;
    row.message_id = (char *)evid;
    row.created_at = e->now;
    row.next_attempt_at = e->now;
    if (!(row.data = tk_strprintf("%s\n%s\n%s", s->url, hex, body)))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    rc = tk_store_outbox_add(db, &row, NULL, NULL, err);
    free(row.data);
    return rc;
}

int tk_webhook_emit(struct tk_engine *e, struct tk_db *db, const char *type, int64_t item_id,
                    struct tk_error *err)
{
    struct emit_ctx c = {type, NULL, 0, err, 0};
    struct tk_item it;
    struct tk_account acc = {0};
    unsigned char rnd[16];
    char evid[40], *body = NULL;
    int rc;

    if (item_id <= 0)
        return 0;
    /* No subscription read at this serial (tk_db_tx_serial): none yet.  A
     * tick asks once a reminder, in transactions that add none (issue 17:
     * 2.5k instructions a reminder for the read). */
    uint64_t serial = tk_db_tx_serial(db);
    if (serial && __atomic_load_n(&e->webhooks_none_serial, __ATOMIC_RELAXED) == serial)
        return 0;
    memset(&it, 0, sizeof it);
    rc = tk_store_webhook_each(db, collect, &c, err);
    if (rc == 0 && c.seen == 0 && serial)
        __atomic_store_n(&e->webhooks_none_serial, serial, __ATOMIC_RELAXED);
    if (rc || c.n == 0)
        goto out;
    if ((rc = tk_store_item_get(db, item_id, &it, err)) ||
        (rc = tk_store_account_get(db, it.account_id, &acc, err)))
        goto out;
    /* The event id: random, written once into every row of this event, so
     * that a retry (or a duplicate after a crash) carries the same id. */
    if (tk_random_bytes(rnd, sizeof rnd)) {
        rc = tk_error_set(err, TK_EIO, "webhook: no random bytes for an event id");
        goto out;
    }
    memcpy(evid, "evt_", 4);
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(evid + 4 + 2 * i, 3, "%02x", rnd[i]);
    if (!(body = event_body(evid, type, e->now, &it, acc.name))) {
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < c.n && rc == 0; i++)
        rc = enqueue(e, db, type, evid, &it, &c.subs[i], body, err);
out:
    free(body);
    for (size_t i = 0; i < c.n; i++)
        tk_webhook_sub_free(&c.subs[i]);
    free(c.subs);
    tk_item_free(&it);
    tk_account_free(&acc);
    return rc;
}
