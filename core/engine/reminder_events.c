/* reminder_events.c - the scheduler's Lua events (issue 14):
 * on("reminder.sent", fn(item, job, step)) after each automatic reminder
 * enqueued, and on("reminders.exhausted", fn(item, job)) right after the
 * item's last automatic reminder.
 *
 * Unlike on("TYPE.EVENT") handlers of a client event (a failure there rolls
 * the command back: staff see it and retry), a failing reminder handler
 * does NOT undo the reminder: the scheduler has no one to report to, and
 * undoing would retry the step - and the failing handler - at every tick,
 * so one broken script would stop every reminder.  Each handler call runs
 * in its own savepoint: what a failing handler wrote is undone, the
 * reminder stays, and the failure is logged as a warning with the sandbox's
 * "SCRIPT:LINE: message" (in function on(EVENT)).  Handlers run in the
 * scripts' sandbox with its memory, instruction and time limits. */
#include <string.h>

#include "internal.h"

#define EVENT_SAVEPOINT "tk_reminder_event"

static int one(struct tk_engine *e, const struct tk_item *it, const char *event,
               struct tk_error *err)
{
    struct tk_error why = {0};
    int rc = tk_db_savepoint(e->db, EVENT_SAVEPOINT, err);
    if (rc)
        return rc;
    if ((rc = e->on_event(e->on_event_data, e, it, event, &why)) == 0)
        return tk_db_release(e->db, EVENT_SAVEPOINT, err);
    if (rc == TK_ENOMEM) {
        *err = why;
        return rc;
    }
    if ((rc = tk_db_rollback_to(e->db, EVENT_SAVEPOINT, err)) ||
        (rc = tk_db_release(e->db, EVENT_SAVEPOINT, err)))
        return rc;
    tk_engine_warn(e, "item %lld: on(%s) failed, the reminder stays sent: %s", (long long)it->id,
                   event, why.msg);
    return 0;
}

int tk_engine_reminder_events(struct tk_engine *e, const struct tk_item *it, struct tk_error *err)
{
    int rc;
    if (!e->on_event)
        return 0;
    if ((rc = one(e, it, "reminder.sent", err)))
        return rc;
    if (it->rem.sent >= it->rem.count)
        rc = one(e, it, "reminders.exhausted", err);
    return rc;
}
