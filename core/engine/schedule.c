/* schedule.c - when the next reminder is due (D1-D4) and how long a failed
 * delivery waits.  Pure functions: the unit tests exercise them directly. */
#include <string.h>

#include "engine.h"

tk_time tk_schedule_next(const struct tk_item *it)
{
    const struct tk_reminders *r = &it->rem;
    if (!r->enabled || it->archived || !it->state || strcmp(it->state, "pending") != 0)
        return 0;
    if (r->sent >= r->count || r->every_days <= 0)
        return 0; /* D4: a count at or below what was sent ends them, silently */
    /* D1: from the previous email about the item (notification, last reminder
     * or manual resend, D2); a moment already past is due at the next tick
     * (D3, D4). */
    return r->last_mail_at + (tk_time)r->every_days * TK_DAY;
}

tk_time tk_backoff_delay(int attempt, int base, int cap, uint32_t random)
{
    /* Exponential with full jitter (AWS architecture blog's "full jitter"):
     * uniform in [base, min(cap, base * 2^(attempt-1))]. */
    int64_t ceiling = base > 0 ? base : 1;
    for (int i = 1; i < attempt && ceiling < cap; i++)
        ceiling *= 2;
    if (ceiling > cap)
        ceiling = cap;
    if (ceiling <= base)
        return base;
    return base + (tk_time)(random % (uint32_t)(ceiling - base + 1));
}
