/* test_calendar_property.c - for random windows, zones, holidays and
 * instants, tk_calendar_next_opening() answers an instant that is inside the
 * window, not on a holiday, not before the question, and no earlier opening
 * exists: every minute between is checked by brute force.
 *
 * The test keeps its own copy of each window (the spans it wrote into the
 * spec), so the check does not go through the window parser; it reads the
 * local time with tk_calendar_to_local(), which test_calendar_zones checks
 * against Python's zoneinfo, and holidays with tk_calendar_holiday(), which
 * test_calendar checks against tables.  Fixed seed: the same cases every
 * run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "tk_test.h"

#define CASES 5000
#define SEED 0x7469636b6c657231ull

static uint64_t rng = SEED;

static uint64_t next_random(void)
{
    /* xorshift64*: small, seedable, good enough to pick cases */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static int pick(int n)
{
    return (int)(next_random() % (uint64_t)n);
}

/* Zones with the awkward cases: DST at midnight (Havana, Santiago, Beirut),
 * half-hour DST (Lord Howe), odd offsets (Kathmandu, Chatham, St Johns),
 * negative DST (Dublin, Casablanca), a two-hour DST jump (Troll), a
 * skipped day (Apia 2011), DST that stopped (Sao Paulo 2019). */
static const char *const zones[] = {
    "UTC",
    "Europe/Amsterdam",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/Havana",
    "America/Santiago",
    "Asia/Beirut",
    "Africa/Casablanca",
    "Europe/Dublin",
    "Pacific/Apia",
    "America/St_Johns",
    "Antarctica/Troll",
    "America/Nuuk",
};

static const char *const days[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

struct model {
    int n[7];
    int start[7][16], end[7][16]; /* minutes */
    char spec[512];
};

static void add(char *buf, size_t size, const char *s)
{
    size_t len = strlen(buf);
    snprintf(buf + len, size - len, "%s", s);
}

/* A random window as a spec and as the test's own table. */
static void random_window(struct model *m)
{
    memset(m, 0, sizeof *m);
    if (pick(20) == 0) {
        snprintf(m->spec, sizeof m->spec, "always");
        for (int d = 0; d < 7; d++) {
            m->n[d] = 1;
            m->end[d][0] = 1440;
        }
        return;
    }
    int rules = 1 + pick(3);
    for (int r = 0; r < rules; r++) {
        int mask = 0, spans = 1 + pick(3), start[3], end[3];
        char part[200] = "";
        if (r)
            add(m->spec, sizeof m->spec, "; ");
        switch (pick(4)) {
        case 0: /* a range, maybe wrapping past sunday */
        {
            int a = pick(7), b = pick(7);
            for (int d = a;; d = (d + 1) % 7) {
                mask |= 1 << d;
                if (d == b)
                    break;
            }
            snprintf(part, sizeof part, "%s-%s ", days[a], days[b]);
            break;
        }
        case 1: /* no days: every day */
            mask = 0x7f;
            break;
        default: /* a list */
            while (!mask)
                mask = pick(128);
            for (int d = 0; d < 7; d++)
                if (mask & 1 << d) {
                    add(part, sizeof part, part[0] ? "," : "");
                    add(part, sizeof part, days[d]);
                }
            add(part, sizeof part, " ");
        }
        add(m->spec, sizeof m->spec, part);
        if (mask != 0x7f && pick(8) == 0) {
            spans = 0; /* days alone: the whole day */
        } else {
            for (int i = 0; i < spans; i++) {
                /* on the hour, on the half hour, or any minute */
                int gran = pick(3) == 0 ? 1 : pick(2) ? 60 : 30;
                start[i] = pick(1440 / gran) * gran;
                end[i] = start[i] + gran * (1 + pick(600 / gran));
                if (end[i] > 1440)
                    end[i] = 1440;
                snprintf(part, sizeof part, "%s%02d:%02d-%02d:%02d", i ? "," : "", start[i] / 60,
                         start[i] % 60, end[i] / 60, end[i] % 60);
                add(m->spec, sizeof m->spec, part);
            }
        }
        if (!spans) {
            start[0] = 0;
            end[0] = 1440;
            spans = 1;
        }
        for (int d = 0; d < 7; d++)
            if (mask & 1 << d)
                for (int i = 0; i < spans && m->n[d] < 16; i++) {
                    m->start[d][m->n[d]] = start[i];
                    m->end[d][m->n[d]++] = end[i];
                }
    }
}

/* Open at T by the test's own reckoning. */
static int model_open(const struct tk_calendar *cal, const struct model *m, tk_time t)
{
    struct tk_calendar_local l;
    if (tk_calendar_to_local(cal, t, &l, NULL))
        return -1;
    int wd = l.weekday - 1, sec = l.hour * 3600 + l.minute * 60 + l.second, in = 0;
    for (int i = 0; i < m->n[wd]; i++)
        in |= sec >= m->start[wd][i] * 60 && sec < m->end[wd][i] * 60;
    return in && !tk_calendar_holiday(cal, l.date, NULL, 0);
}

TK_TEST(next_opening_is_the_first_open_minute)
{
    const char *src = getenv("TK_SOURCE_DIR");
    char fixtures[1024];
    static const char *const holidays[] = {"none", "nl", "office.ics"};
    long minutes = 0, failures = 0, longest = 0;
    tk_time lo = 946684800 /* 2000 */, hi = 4102444800 /* 2100 */;

    snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures/calendar", src ? src : ".");
    for (int c = 0; c < CASES && failures < 10; c++) {
        struct model m;
        struct tk_calendar_spec spec;
        struct tk_calendar *cal = NULL;
        struct tk_error err = {0};
        tk_time t, o = 0;
        int open = 0;

        random_window(&m);
        spec.zone = zones[pick(sizeof zones / sizeof *zones)];
        spec.window = m.spec;
        spec.holidays = holidays[pick(3)];
        spec.base_dir = fixtures;
        t = lo + (tk_time)(next_random() % (uint64_t)(hi - lo));
        if (tk_calendar_new(&spec, &cal, &err)) {
            fprintf(stderr, "case %d: %s\n", c, err.msg);
            failures++;
            continue;
        }
        if (tk_calendar_next_opening(cal, t, &o, &err)) {
            fprintf(stderr, "case %d (%s, \"%s\", %s, %lld): %s\n", c, spec.zone, m.spec,
                    spec.holidays, (long long)t, err.msg);
            failures++;
            tk_calendar_free(cal);
            continue;
        }
        /* inside the window, not a holiday, not before T */
        if (o < t || model_open(cal, &m, o) != 1 || tk_calendar_is_open(cal, o, &open, NULL) ||
            !open) {
            fprintf(stderr, "case %d (%s, \"%s\", %s, %lld): %lld is not open\n", c, spec.zone,
                    m.spec, spec.holidays, (long long)t, (long long)o);
            failures++;
        }
        /* nothing earlier: T itself, then every minute up to O (openings
         * fall on local minutes or on transitions, and every offset of
         * these zones since 2000 is whole minutes) */
        for (tk_time x = t; x < o; x = x - (x % 60 + 60) % 60 + 60) {
            minutes++;
            if (model_open(cal, &m, x) != 0) {
                fprintf(stderr, "case %d (%s, \"%s\", %s, %lld): open at %lld, before %lld\n", c,
                        spec.zone, m.spec, spec.holidays, (long long)t, (long long)x, (long long)o);
                failures++;
                break;
            }
        }
        if (o - t > longest)
            longest = (long)(o - t);
        /* an open instant answers itself */
        tk_time again = 0;
        if (tk_calendar_next_opening(cal, o, &again, NULL) || again != o) {
            fprintf(stderr, "case %d: next_opening(%lld) = %lld\n", c, (long long)o,
                    (long long)again);
            failures++;
        }
        tk_calendar_free(cal);
    }
    fprintf(stderr, "property: %d cases, %ld minutes checked, longest wait %ld s\n", CASES, minutes,
            longest);
    TK_CHECK_INT(failures, 0);
    TK_CHECK(minutes > CASES); /* the brute force did run */
}

int main(void)
{
    TK_RUN(next_opening_is_the_first_open_minute);
    tk_calendar_cache_clear();
    return tk_test_done();
}
