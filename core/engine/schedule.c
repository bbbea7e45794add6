/* schedule.c - when the next reminder is due (D1-D4, and issue 14's
 * anchored schedules) and how long a failed delivery waits.  Pure
 * functions: the unit tests exercise them directly.
 *
 * Anchored schedule: the item carries day offsets relative to its due_date
 * field (-7,0,7).  Step k (1-based) is due at the first opening of the
 * client's window on local date due_date + offset_k (the next opening when
 * that day is closed: a weekend, a holiday); with the window `always` that
 * is local midnight; without a calendar (NULL) it is midnight UTC.  D1
 * does not apply: the steps are anchored to the date, not to the previous
 * email.  A step whose moment is not after the last email about the item
 * (the notification when it was made, a reminder, a resend) is skipped: its
 * day passed before or while the client was written to, and sending it
 * late would only repeat that email.  So an item made after some of its
 * steps' days starts at the first step still to come, and a late tick
 * sends one step, never a burst of old ones. */
#include <string.h>

#include "calendar/calendar.h"
#include "engine.h"

/* The moment of anchored offset OFF for due date DUE in CAL (NULL: UTC);
 * 0 when out of the calendar's range. */
static tk_time step_moment(const struct tk_calendar *cal, tk_date due, int off)
{
    tk_date d = due + off;
    tk_time t;
    if (d < TK_CALENDAR_MIN_DATE || d > TK_CALENDAR_MAX_DATE)
        return 0;
    if (!cal)
        return (tk_time)d * TK_DAY;
    if (tk_calendar_day_opening(cal, d, &t, NULL) != 0 &&
        tk_calendar_local_start(cal, d, 0, &t, NULL) != 0)
        return 0;
    return t;
}

tk_time tk_schedule_anchored(const struct tk_item *it, const struct tk_calendar *cal, int *step)
{
    const struct tk_reminders *r = &it->rem;
    const char *due = tk_kv_get(&it->fields, "due_date");
    tk_date date;
    if (step)
        *step = 0;
    if (!due || tk_calendar_date_parse(due, &date, NULL) != 0)
        return 0; /* refused at send; a due date removed later stops them */
    for (int k = r->sent; k < r->nsched; k++) {
        tk_time t = step_moment(cal, date, r->sched[k]);
        if (t && t > r->last_mail_at) {
            if (step)
                *step = k + 1;
            return t;
        }
    }
    return 0;
}

tk_time tk_schedule_next_in(const struct tk_item *it, const struct tk_calendar *cal, int *step)
{
    const struct tk_reminders *r = &it->rem;
    if (step)
        *step = 0;
    if (!r->enabled || it->archived || !it->state || strcmp(it->state, "pending") != 0)
        return 0;
    if (r->nsched > 0)
        return tk_schedule_anchored(it, cal, step);
    if (r->sent >= r->count || r->every_days <= 0)
        return 0; /* D4: a count at or below what was sent ends them, silently */
    if (step)
        *step = r->sent + 1;
    /* D1: from the previous email about the item (notification, last reminder
     * or manual resend, D2); a moment already past is due at the next tick
     * (D3, D4). */
    return r->last_mail_at + (tk_time)r->every_days * TK_DAY;
}

tk_time tk_schedule_next(const struct tk_item *it)
{
    return tk_schedule_next_in(it, NULL, NULL);
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
