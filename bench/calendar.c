/* calendar.c - what one core/calendar question costs (bench/calendar.sh).
 *
 * For each case: 100,000 calls over instants spread through 2026-2027,
 * timed five times; prints the median in ns per call.  Phase 2 asks
 * next_opening() once per due automatic email, so a tick over 100k due
 * items pays 100k times the figure printed here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calendar/calendar.h"

#define CALLS 100000
#define RUNS 5

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static tk_time instants[CALLS];
static volatile tk_time sink;

enum op { NEXT_OPENING, TO_LOCAL, DATE_HEADER, NEW_CALENDAR };

static double measure(struct tk_calendar *cal, const struct tk_calendar_spec *spec, enum op op)
{
    double runs[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (int i = 0; i < CALLS; i++) {
            tk_time out = 0;
            struct tk_calendar_local l;
            char buf[TK_CALENDAR_DATE_HEADER_MAX];
            struct tk_calendar *c;
            switch (op) {
            case NEXT_OPENING:
                if (tk_calendar_next_opening(cal, instants[i], &out, NULL))
                    abort();
                break;
            case TO_LOCAL:
                tk_calendar_to_local(cal, instants[i], &l, NULL);
                out = l.hour;
                break;
            case DATE_HEADER:
                tk_calendar_format_date_header(cal, instants[i], buf, sizeof buf, NULL);
                out = buf[0];
                break;
            case NEW_CALENDAR:
                if (tk_calendar_new(spec, &c, NULL))
                    abort();
                tk_calendar_free(c);
                break;
            }
            sink = out;
        }
        runs[r] = (now_ns() - t0) / CALLS;
    }
    qsort(runs, RUNS, sizeof *runs, cmp);
    return runs[RUNS / 2];
}

int main(int argc, char **argv)
{
    const char *fixtures = argc > 1 ? argv[1] : "tests/fixtures/calendar";
    static const struct {
        const char *what, *zone, *window, *holidays;
        enum op op;
    } cases[] = {
        {"next_opening, always open (UTC, always, none)", "UTC", "always", "none", NEXT_OPENING},
        {"next_opening, office hours (Amsterdam, mon-fri 09:00-17:00, nl)", "Europe/Amsterdam",
         "mon-fri 09:00-17:00", "nl", NEXT_OPENING},
        {"next_opening, office hours (New York, mon-fri 09:00-12:00,13:00-17:00, .ics)",
         "America/New_York", "mon-fri 09:00-12:00,13:00-17:00", "office.ics", NEXT_OPENING},
        {"next_opening, one hour a week (Lord Howe, sat 02:00-03:00, nl)", "Australia/Lord_Howe",
         "sat 02:00-03:00", "nl", NEXT_OPENING},
        {"to_local (Amsterdam)", "Europe/Amsterdam", "always", "none", TO_LOCAL},
        {"format_date_header (New York)", "America/New_York", "always", "none", DATE_HEADER},
        {"tk_calendar_new + free, cached zone and .ics", "Europe/Amsterdam", "mon-fri 09:00-17:00",
         "office.ics", NEW_CALENDAR},
    };
    uint64_t x = 88172645463325252ull;
    tk_time from = 1767225600; /* 2026-01-01 */
    for (int i = 0; i < CALLS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        instants[i] = from + (tk_time)(x % (2 * 365 * 86400ull));
    }
    printf("| question | ns per call (median of %d x %d calls) |\n|---|---|\n", RUNS, CALLS);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        struct tk_calendar_spec spec = {cases[c].zone, cases[c].window, cases[c].holidays,
                                        fixtures};
        struct tk_calendar *cal;
        struct tk_error err;
        if (tk_calendar_new(&spec, &cal, &err)) {
            fprintf(stderr, "bench: %s\n", err.msg);
            return 1;
        }
        printf("| %s | %.0f |\n", cases[c].what, measure(cal, &spec, cases[c].op));
        tk_calendar_free(cal);
    }
    tk_calendar_cache_clear();
    return 0;
}
