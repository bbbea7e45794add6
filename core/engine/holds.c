/* holds.c - holds (issue 14): an item on hold gets no automatic email
 * until it is released or its hold ends by itself at UNTIL; notifications
 * and manual resends still go out (staff chose the moment).
 *
 * A hold keeps the scheduler O(due): an item held without an end leaves
 * the due index (next_at NULL); one held until T is due at T, when the
 * tick ends the hold (audit "hold-ended") and then treats the item as
 * usual, deferring to the next opening when it must (tick.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define REASON_MAX 500

static int check(struct tk_engine *e, tk_time until, const char *reason, struct tk_error *err)
{
    if (until && until <= e->now)
        return tk_error_set(err, TK_EINVAL, "--until must lie in the future");
    if (reason && (strlen(reason) > REASON_MAX || !tk_utf8_valid(reason, strlen(reason)) ||
                   strpbrk(reason, "\r\n")))
        return tk_error_set(err, TK_EINVAL, "a hold reason is one line of at most %d characters",
                            REASON_MAX);
    return 0;
}

static int audit(struct tk_engine *e, const struct tk_item *it, const char *action,
                 const char *detail, struct tk_error *err)
{
    return tk_engine_audit(e, it->account_id, it->id, e->job_id ? e->job_id : it->job_id, action,
                           detail, err);
}

/* IT (loaded) on hold; *CHANGED 0 when it is not pending (left alone). */
static int hold_one(struct tk_engine *e, struct tk_item *it, tk_time until, const char *reason,
                    struct tk_error *err)
{
    char detail[TK_ERROR_MAX], when[32];
    char *copy = NULL;
    if (reason && *reason && !(copy = tk_strdup(reason)))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    if (!it->hold.since)
        it->hold.since = e->now;
    it->hold.until = until;
    free(it->hold.reason);
    it->hold.reason = copy;
    it->rem.next_at = until; /* 0: out of the due index until released */
    snprintf(detail, sizeof detail, "on hold %s%s%s%s", until ? "until " : "until released",
             until ? tk_time_format(until, when, sizeof when) : "", copy ? ": " : "",
             copy ? copy : "");
    int rc = tk_store_item_set_hold(e->db, it, err);
    return rc ? rc : audit(e, it, "hold", detail, err);
}

int tk_engine_hold_item(struct tk_engine *e, int64_t item, tk_time until, const char *reason,
                        struct tk_error *err)
{
    struct tk_item it;
    int rc;
    memset(&it, 0, sizeof it);
    if ((rc = check(e, until, reason, err)) || (rc = tk_store_item_get(e->db, item, &it, err)))
        goto out;
    if (strcmp(it.state, "pending") != 0 || it.archived) {
        rc = tk_error_set(err, TK_ECONFLICT, "item %lld is %s; only pending items can be held",
                          (long long)it.id, it.archived ? "archived" : it.state);
        goto out;
    }
    rc = hold_one(e, &it, until, reason, err);
out:
    tk_item_free(&it);
    return rc;
}

/* IT released: the reminder it would have had comes back (D1 from the last
 * email); one already past is due at the next tick, inside the window. */
static int release_one(struct tk_engine *e, struct tk_item *it, const char *how,
                       struct tk_error *err)
{
    int rc;
    it->hold.since = 0;
    it->rem.next_at = tk_engine_next_at(e, it);
    if ((rc = tk_store_item_set_hold(e->db, it, err)))
        return rc;
    return audit(e, it, strcmp(how, "released") == 0 ? "released" : "hold-ended", how, err);
}

int tk_engine_release_item(struct tk_engine *e, int64_t item, struct tk_error *err)
{
    struct tk_item it;
    int rc;
    memset(&it, 0, sizeof it);
    if ((rc = tk_store_item_get(e->db, item, &it, err)))
        goto out;
    if (!it.hold.since) {
        rc = tk_error_set(err, TK_ECONFLICT, "item %lld is not on hold", (long long)it.id);
        goto out;
    }
    rc = release_one(e, &it, "released", err);
out:
    tk_item_free(&it);
    return rc;
}

struct account_ctx {
    struct tk_engine *e;
    tk_time until;
    const char *reason;
    int release;
    size_t n;
    struct tk_error *err;
};

static int account_one(void *u, struct tk_item *it)
{
    struct account_ctx *x = u;
    int rc;
    if (it->archived)
        return 0;
    if (x->release) {
        if (!it->hold.since)
            return 0;
        rc = release_one(x->e, it, "released", x->err);
    } else {
        rc = hold_one(x->e, it, x->until, x->reason, x->err);
    }
    if (rc == 0)
        x->n++;
    return rc;
}

static int account_walk(struct tk_engine *e, int64_t account, struct account_ctx *x,
                        struct tk_error *err)
{
    struct tk_item_filter f;
    struct tk_account a = {0};
    int rc = tk_store_account_get(e->db, account, &a, err);
    tk_account_free(&a);
    if (rc)
        return rc;
    memset(&f, 0, sizeof f);
    f.account_id = account;
    f.pending_only = 1;
    return tk_store_item_each(e->db, &f, account_one, x, err);
}

int tk_engine_hold_account(struct tk_engine *e, int64_t account, tk_time until, const char *reason,
                           size_t *n, struct tk_error *err)
{
    struct account_ctx x = {e, until, reason, 0, 0, err};
    int rc = check(e, until, reason, err);
    if (rc == 0)
        rc = account_walk(e, account, &x, err);
    if (n)
        *n = x.n;
    return rc;
}

int tk_engine_release_account(struct tk_engine *e, int64_t account, size_t *n, struct tk_error *err)
{
    struct account_ctx x = {e, 0, NULL, 1, 0, err};
    int rc = account_walk(e, account, &x, err);
    if (n)
        *n = x.n;
    return rc;
}

int tk_engine_hold_check_due(struct tk_engine *e, struct tk_item *it, int *held,
                             struct tk_error *err)
{
    char how[64], when[32];
    *held = 0;
    if (!it->hold.since)
        return 0;
    if (!it->hold.until || e->now < it->hold.until) {
        /* still held: wait for its end (or for a release) */
        *held = 1;
        it->rem.next_at = it->hold.until;
        return tk_store_item_set_hold(e->db, it, err);
    }
    snprintf(how, sizeof how, "hold ended (until %s)",
             tk_time_format(it->hold.until, when, sizeof when));
    it->hold.since = 0;
    it->hold.until = 0;
    it->rem.next_at = tk_engine_next_at(e, it);
    int rc = tk_store_item_set_hold(e->db, it, err);
    return rc ? rc : audit(e, it, "hold-ended", how, err);
}

int tk_engine_reminder_decide(struct tk_engine *e, const struct tk_item *it,
                              const struct tk_account *acc, struct tk_gate *g, struct tk_error *err)
{
    struct tk_item copy;
    tk_time natural;
    int rc;

    memset(g, 0, sizeof *g);
    if (it->hold.since) {
        if (!it->hold.until || e->now < it->hold.until) {
            g->action = TK_GATE_HELD; /* wait for its end, or for a release */
            g->next = it->hold.until;
            return 0;
        }
        g->hold_ended = 1; /* ends now; then decided as any item */
    }
    copy = *it;
    copy.hold.since = copy.hold.until = 0;
    natural = tk_engine_schedule_next(e, &copy, acc, NULL);
    if (natural == 0 || natural > e->now) {
        /* Not due after all (a hold ended early, settings changed): wait
         * for the step's own moment, or stop looking (0). */
        g->action = TK_GATE_WAIT;
        g->next = natural;
        return 0;
    }
    if ((rc = tk_engine_defer(e, acc, &g->next, g->why, sizeof g->why, err)))
        return rc;
    g->action = g->next ? TK_GATE_DEFER : TK_GATE_GO;
    return 0;
}

int tk_engine_reminder_gate(struct tk_engine *e, struct tk_item *it, const struct tk_account *acc,
                            int *go, struct tk_error *err)
{
    char detail[TK_CALENDAR_LOCAL_MAX + 400];
    struct tk_gate g;
    int held = 0, rc;

    *go = 0;
    if ((rc = tk_engine_reminder_decide(e, it, acc, &g, err)))
        return rc;
    /* the writing part: the hold (kept or ended, with its audit entry) ... */
    if ((g.action == TK_GATE_HELD || g.hold_ended) &&
        ((rc = tk_engine_hold_check_due(e, it, &held, err)) || held))
        return rc;
    switch (g.action) {
    case TK_GATE_GO:
        *go = 1;
        return 0;
    case TK_GATE_WAIT:
        if (it->rem.next_at != g.next) {
            it->rem.next_at = g.next;
            rc = tk_store_item_update_reminder(e->db, it, err);
        }
        return rc;
    case TK_GATE_DEFER:
        break;
    default:
        return 0;
    }
    /* Defer, never skip: the step is not spent and D1 will count from the
     * email actually sent.  next_at = the opening takes the item out of the
     * due index until then (O(due)). */
    it->rem.next_at = g.next;
    snprintf(detail, sizeof detail, "automatic reminder %d of %d deferred to %s", it->rem.sent + 1,
             it->rem.count, g.why);
    if ((rc = tk_store_item_update_reminder(e->db, it, err)) == 0)
        rc = audit(e, it, "deferred", detail, err);
    return rc;
}
