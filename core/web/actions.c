/*
 * actions.c - the console's POST forms (web.h): each is one call of the
 * same engine function the CLI command calls (resend, reminders, event,
 * outbox retry, a bulk request once confirmed), so the console adds no rule of its own.  The
 * caller has checked the session, the CSRF token and the origin.
 */
#include <stdio.h>
#include <string.h>

#include "web.h"

/* "/PREFIX/ID/VERB" (VERB NULL: "/PREFIX/ID"): 1 and *ID when PATH is so. */
static int match(const char *path, const char *prefix, const char *verb, int64_t *id)
{
    size_t n = strlen(prefix);
    char num[24];
    const char *p, *slash;
    if (strncmp(path, prefix, n) != 0)
        return 0;
    p = path + n;
    slash = strchr(p, '/');
    if (!verb ? slash != NULL : !slash || strcmp(slash + 1, verb) != 0)
        return 0;
    n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n >= sizeof num)
        return 0;
    memcpy(num, p, n);
    num[n] = '\0';
    return tk_parse_int(num, 1, INT64_MAX, id) == 0;
}

/* Form field NAME as an integer in [LO, HI]; TK_EINVAL naming it. */
static int form_int(const struct tk_kv *form, const char *name, int lo, int hi, int *out,
                    struct tk_error *err)
{
    const char *v = tk_kv_get(form, name);
    int64_t x;
    if (!v || tk_parse_int(v, lo, hi, &x) != 0)
        return tk_error_set(err, TK_EINVAL, "%s: a whole number from %d to %d", name, lo, hi);
    *out = (int)x;
    return 0;
}

static int reminders(struct tk_engine *e, int64_t id, const struct tk_kv *form,
                     struct tk_web_action_result *res, struct tk_error *err)
{
    const char *op = tk_kv_get(form, "op");
    struct tk_item it = {0};
    int every = -1, count = -1, enabled, rc;
    if (!op || (strcmp(op, "on") != 0 && strcmp(op, "off") != 0 && strcmp(op, "save") != 0))
        return tk_error_set(err, TK_EINVAL, "op: one of on, off, save");
    /* switching off keeps the numbers as they are (like `reminders ITEM off`) */
    if (strcmp(op, "off") != 0 && ((rc = form_int(form, "every_days", 1, 365, &every, err)) ||
                                   (rc = form_int(form, "count", 0, 100, &count, err))))
        return rc;
    if (strcmp(op, "save") == 0) {
        if ((rc = tk_engine_item_get(e, id, &it, err)))
            return rc;
        enabled = it.rem.enabled;
        tk_item_free(&it);
    } else {
        enabled = strcmp(op, "on") == 0;
    }
    if ((rc = tk_engine_set_reminders(e, id, enabled, every, count, err)))
        return rc;
    snprintf(res->notice, sizeof res->notice, "item %lld: reminders %s", (long long)id,
             enabled ? "on" : "off");
    return 0;
}

int tk_web_action(struct tk_engine *e, const char *lang, const char *path, const struct tk_kv *form,
                  struct tk_web_action_result *res, struct tk_error *err)
{
    int64_t id = 0;
    int rc;
    (void)lang;
    memset(res, 0, sizeof *res);
    if (match(path, "/items/", "resend", &id)) {
        if ((rc = tk_engine_resend(e, id, err)))
            return rc;
        res->dispatch = 1;
        snprintf(res->notice, sizeof res->notice, "item %lld: resent", (long long)id);
    } else if (match(path, "/items/", "reminders", &id)) {
        if ((rc = reminders(e, id, form, res, err)))
            return rc;
    } else if (match(path, "/items/", "event", &id)) {
        const char *ev = tk_kv_get(form, "event");
        if (!ev || !*ev)
            return tk_error_set(err, TK_EINVAL, "event: missing");
        if ((rc = tk_engine_event(e, id, ev, err)))
            return rc;
        res->dispatch = 1; /* a pipeline may send on the event */
        snprintf(res->notice, sizeof res->notice, "item %lld: %.64s recorded", (long long)id, ev);
    } else if (match(path, "/outbox/", "retry", &id)) {
        if ((rc = tk_engine_outbox_retry(e, id, err)))
            return rc;
        res->dispatch = 1;
        snprintf(res->notice, sizeof res->notice, "message %lld queued again", (long long)id);
        snprintf(res->redirect, sizeof res->redirect, "/outbox");
        return 0;
    } else if (strcmp(path, "/outbox/retry-all") == 0) {
        size_t n = 0;
        if ((rc = tk_engine_outbox_retry_failed(e, &n, err)))
            return rc;
        res->dispatch = 1;
        snprintf(res->notice, sizeof res->notice, "%zu failed message%s queued again", n,
                 n == 1 ? "" : "s");
        snprintf(res->redirect, sizeof res->redirect, "/outbox");
        return 0;
    } else if (match(path, "/accounts/", "bulk/confirm", &id)) {
        const char *cmd = tk_kv_get(form, "command"), *msg = tk_kv_get(form, "message");
        int n = 0;
        if (!cmd || !*cmd)
            return tk_error_set(err, TK_EINVAL, "command: missing");
        if ((rc = tk_engine_bulk(e, cmd, id, msg && *msg ? msg : NULL, &n, err)))
            return rc;
        res->dispatch = 1;
        snprintf(res->notice, sizeof res->notice, "%.64s: %d item%s", cmd, n, n == 1 ? "" : "s");
        snprintf(res->redirect, sizeof res->redirect, "/accounts/%lld", (long long)id);
        return 0;
    } else {
        return tk_error_set(err, TK_ENOTFOUND, "no such action");
    }
    snprintf(res->redirect, sizeof res->redirect, "/items/%lld", (long long)id);
    return 0;
}
