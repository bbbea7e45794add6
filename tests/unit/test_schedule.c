/* test_schedule.c - tk_schedule_next (D1-D4) and tk_backoff_delay. */
#include <stdint.h>

#include "calendar/calendar.h"
#include "engine/engine.h"
#include "tk_test.h"

#define T0 ((tk_time)1796115600) /* 2026-12-01T09:00:00Z */

static struct tk_item pending(int every, int count, int sent, tk_time last)
{
    struct tk_item it;
    memset(&it, 0, sizeof it);
    it.state = "pending";
    it.rem.enabled = 1;
    it.rem.every_days = every;
    it.rem.count = count;
    it.rem.sent = sent;
    it.rem.last_mail_at = last;
    return it;
}

/* D1: from the previous email; each reminder moves the base along. */
TK_TEST(next_counts_from_last_mail)
{
    struct tk_item it = pending(3, 2, 0, T0);
    TK_CHECK_INT(tk_schedule_next(&it), T0 + 3 * TK_DAY);
    it.rem.sent = 1;
    it.rem.last_mail_at = T0 + 3 * TK_DAY + 600;
    TK_CHECK_INT(tk_schedule_next(&it), T0 + 6 * TK_DAY + 600);
}

/* D2: a resend is a mail about the item (pushes the next) but not a
 * reminder (the count is untouched by the caller, so the same count still
 * allows one). */
TK_TEST(next_after_resend_is_pushed)
{
    struct tk_item it = pending(3, 1, 0, T0 + 2 * TK_DAY);
    TK_CHECK_INT(tk_schedule_next(&it), T0 + 5 * TK_DAY);
}

/* D3: a missed moment stays in the past (due at the next tick, once); the
 * caller sends and then moves last_mail_at to when it sent. */
TK_TEST(next_missed_is_in_the_past)
{
    struct tk_item it = pending(1, 5, 0, T0 - 30 * TK_DAY);
    tk_time n = tk_schedule_next(&it);
    TK_CHECK(n != 0);
    TK_CHECK(n < T0);
}

/* D4: count reached or lowered to or below what was sent: none, silently;
 * switched off, done, archived: none. */
TK_TEST(next_stops)
{
    struct tk_item it = pending(3, 1, 1, T0);
    TK_CHECK_INT(tk_schedule_next(&it), 0);
    it = pending(3, 2, 3, T0);
    TK_CHECK_INT(tk_schedule_next(&it), 0);
    it = pending(3, 0, 0, T0);
    TK_CHECK_INT(tk_schedule_next(&it), 0);
    it = pending(3, 2, 0, T0);
    it.rem.enabled = 0;
    TK_CHECK_INT(tk_schedule_next(&it), 0);
    it = pending(3, 2, 0, T0);
    it.archived = 1;
    TK_CHECK_INT(tk_schedule_next(&it), 0);
    it = pending(3, 2, 0, T0);
    it.state = "paid";
    TK_CHECK_INT(tk_schedule_next(&it), 0);
    it = pending(0, 2, 0, T0);
    TK_CHECK_INT(tk_schedule_next(&it), 0);
    /* D4, switched on later: from the last mail, whatever the clock says. */
    it = pending(3, 2, 0, T0 - TK_DAY);
    TK_CHECK_INT(tk_schedule_next(&it), T0 + 2 * TK_DAY);
}

/* Every delay lies in [base, min(cap, base * 2^(attempt-1))]. */
TK_TEST(backoff_bounds)
{
    static const uint32_t rnd[] = {0, 1, 7, 29, 30, 31, 12345, 0x7fffffffu, 0xffffffffu};
    for (int a = 1; a <= 40; a++) {
        int64_t ceiling = 30;
        for (int i = 1; i < a && ceiling < 3600; i++)
            ceiling *= 2;
        if (ceiling > 3600)
            ceiling = 3600;
        for (size_t k = 0; k < sizeof rnd / sizeof rnd[0]; k++) {
            tk_time d = tk_backoff_delay(a, 30, 3600, rnd[k]);
            TK_CHECK(d >= 30);
            TK_CHECK(d <= ceiling);
        }
        /* The top of the window is reachable. */
        TK_CHECK_INT(tk_backoff_delay(a, 30, 3600, (uint32_t)(ceiling - 30)), ceiling);
    }
    /* The first retry waits exactly the base; nonsense attempts too. */
    TK_CHECK_INT(tk_backoff_delay(1, 30, 3600, 0xdeadbeefu), 30);
    TK_CHECK_INT(tk_backoff_delay(0, 30, 3600, 99), 30);
    TK_CHECK_INT(tk_backoff_delay(-5, 30, 3600, 99), 30);
}

/* The window doubles with each attempt until the cap. */
TK_TEST(backoff_growth_and_cap)
{
    TK_CHECK_INT(tk_backoff_delay(2, 30, 3600, 30), 60);
    TK_CHECK_INT(tk_backoff_delay(3, 30, 3600, 90), 120);
    TK_CHECK_INT(tk_backoff_delay(8, 30, 3600, 3570), 3600);    /* 30*128 = 3840 -> cap */
    TK_CHECK_INT(tk_backoff_delay(1000, 30, 3600, 3570), 3600); /* no overflow */
    TK_CHECK_INT(tk_backoff_delay(1000000, 30, 3600, 0xffffffffu) <= 3600, 1);
    TK_CHECK_INT(tk_backoff_delay(5, 60, 60, 12345), 60); /* cap == base */
    TK_CHECK_INT(tk_backoff_delay(5, 1, 2, 1), 2);
}

/* Full jitter: over many random draws the delays spread across the whole
 * window (no two dispatchers retry in lock step), with a mean near its
 * middle. */
TK_TEST(backoff_jitter_spread)
{
    enum { N = 20000, BUCKETS = 10 };
    int hist[BUCKETS] = {0};
    uint64_t x = 88172645463325252ull;
    double sum = 0;
    tk_time lo = 1 << 30, hi = 0;
    for (int i = 0; i < N; i++) {
        x ^= x << 13; /* xorshift64: fixed seed, so the test is repeatable */
        x ^= x >> 7;
        x ^= x << 17;
        tk_time d = tk_backoff_delay(7, 30, 3600, (uint32_t)(x >> 32)); /* window [30, 1920] */
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        sum += (double)d;
        hist[(d - 30) * BUCKETS / (1920 - 30 + 1)]++;
    }
    TK_CHECK(lo >= 30 && lo < 60);
    TK_CHECK(hi <= 1920 && hi > 1890);
    TK_CHECK(sum / N > 975 * 0.95 && sum / N < 975 * 1.05);
    for (int b = 0; b < BUCKETS; b++)
        TK_CHECK(hist[b] > N / BUCKETS * 8 / 10 && hist[b] < N / BUCKETS * 12 / 10);
}

/* ---- anchored schedules (issue 14) ------------------------------------- */

static struct tk_item anchored(const char *sched, const char *due, int sent, tk_time last,
                               struct tk_kv *fields)
{
    struct tk_item it = pending(0, 0, sent, last);
    TK_CHECK_INT(tk_schedule_text_parse(sched, it.rem.sched, TK_SCHEDULE_MAX, TK_SCHEDULE_LIMIT,
                                        &it.rem.nsched, NULL),
                 0);
    it.rem.count = it.rem.nsched;
    if (due)
        tk_kv_set(fields, "due_date", due);
    it.fields = *fields;
    return it;
}

TK_TEST(schedule_text)
{
    int o[TK_SCHEDULE_MAX], n = 0;
    char buf[TK_SCHEDULE_TEXT_MAX];
    struct tk_error err = {0};
    TK_CHECK_INT(tk_schedule_text_parse(" 7, -7 ,0,+3", o, TK_SCHEDULE_MAX, 3650, &n, NULL), 0);
    TK_CHECK_INT(n, 4);
    TK_CHECK_STR(tk_schedule_text_format(o, n, buf, sizeof buf), "-7,0,3,7");
    static const char *const bad[] = {"",    ",",   "-7,", ",0",   "1,,2",  "x",
                                      "-",   "1 2", "3,3", "3651", "-3651", "99999999999999999999",
                                      "1.5", NULL};
    for (int i = 0; bad[i]; i++) {
        TK_CHECK(tk_schedule_text_parse(bad[i], o, TK_SCHEDULE_MAX, 3650, &n, &err) == TK_EINVAL);
        TK_CHECK(err.msg[0] != '\0');
    }
    TK_CHECK_INT(tk_schedule_text_parse("1,2,3", o, 2, 3650, &n, &err), TK_EINVAL);
    TK_CHECK_INT(tk_schedule_text_parse(NULL, o, 2, 3650, &n, &err), TK_EINVAL);
}

/* UTC (no calendar): midnight of due + offset; steps at or before the
 * last email are skipped; none left: 0. */
TK_TEST(anchored_utc)
{
    struct tk_kv f = {0};
    int step = -1;
    tk_time due = 1798675200; /* 2026-12-31T00:00:00Z */
    struct tk_item it = anchored("-7,0,7", "2026-12-31", 0, T0, &f);
    TK_CHECK_INT(tk_schedule_next_in(&it, NULL, &step), due - 7 * TK_DAY);
    TK_CHECK_INT(step, 1);
    it.rem.sent = 1;
    it.rem.last_mail_at = due - 7 * TK_DAY + 9 * 3600;
    TK_CHECK_INT(tk_schedule_next_in(&it, NULL, &step), due);
    TK_CHECK_INT(step, 2);
    /* a tick long after: the first step after the last email, once */
    it.rem.sent = 0;
    it.rem.last_mail_at = due + 2 * TK_DAY;
    TK_CHECK_INT(tk_schedule_next_in(&it, NULL, &step), due + 7 * TK_DAY);
    TK_CHECK_INT(step, 3);
    it.rem.last_mail_at = due + 8 * TK_DAY;
    TK_CHECK_INT(tk_schedule_next_in(&it, NULL, &step), 0);
    TK_CHECK_INT(step, 0);
    /* no due date, a broken one, disabled: nothing */
    tk_kv_set(&it.fields, "due_date", "soon");
    it.rem.last_mail_at = T0;
    TK_CHECK_INT(tk_schedule_next(&it), 0);
    tk_kv_set(&it.fields, "due_date", "2026-12-31");
    it.rem.enabled = 0;
    TK_CHECK_INT(tk_schedule_next(&it), 0);
    tk_kv_free(&it.fields);
}

/* A calendar: the window's first opening on the local day; a closed day
 * (Christmas, then the weekend) moves to the next opening. */
TK_TEST(anchored_calendar)
{
    struct tk_calendar_spec spec = {"Europe/Amsterdam", "mon-fri 09:00-17:00", "nl", NULL};
    struct tk_calendar *cal = NULL;
    struct tk_kv f = {0};
    char buf[32];
    TK_CHECK_INT(tk_calendar_new(&spec, &cal, NULL), 0);
    if (!cal)
        return;
    struct tk_item it = anchored("-7,0,7", "2027-01-01", 0, T0, &f);
    TK_CHECK_STR(tk_time_format(tk_schedule_next_in(&it, cal, NULL), buf, sizeof buf),
                 "2026-12-28T08:00:00Z");
    it.rem.sent = 1;
    it.rem.last_mail_at = 1798444800 + 8 * 3600; /* Monday 28 December, 09:00 */
    TK_CHECK_STR(tk_time_format(tk_schedule_next_in(&it, cal, NULL), buf, sizeof buf),
                 "2027-01-04T08:00:00Z");
    tk_kv_free(&it.fields);
    tk_calendar_free(cal);
}

int main(void)
{
    TK_RUN(schedule_text);
    TK_RUN(anchored_utc);
    TK_RUN(anchored_calendar);
    TK_RUN(next_counts_from_last_mail);
    TK_RUN(next_after_resend_is_pushed);
    TK_RUN(next_missed_is_in_the_past);
    TK_RUN(next_stops);
    TK_RUN(backoff_bounds);
    TK_RUN(backoff_growth_and_cap);
    TK_RUN(backoff_jitter_spread);
    return tk_test_done();
}
