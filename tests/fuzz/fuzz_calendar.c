/* fuzz_calendar.c - the calendar's three parsers: send-window specs, .ics
 * holiday files (through libical) and TZif zone files.  The first byte of
 * the input picks one; the rest is its text.
 *
 *   0  window spec: a spec that parses prints a canonical form that parses
 *      to the same window and prints the same again
 *   1  .ics: a file that loads gives sorted, unique days in 1900-2199
 *   2  TZif: a zone that loads has ascending transitions and valid type
 *      indices, and lookups stay inside its tables
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/internal.h"

static void window(const uint8_t *data, size_t size)
{
    char *spec = malloc(size + 1), canon[TK_CALENDAR_WINDOW_MAX], again[TK_CALENDAR_WINDOW_MAX];
    struct tk_window w, w2;
    struct tk_error err;
    if (!spec)
        return;
    memcpy(spec, data, size);
    spec[size] = '\0';
    if (tk_window_parse(spec, &w, &err) == 0) {
        tk_window_format(&w, canon, sizeof canon);
        if (tk_window_parse(canon, &w2, &err) != 0)
            abort();
        tk_window_format(&w2, again, sizeof again);
        if (strcmp(canon, again) != 0 || memcmp(&w, &w2, sizeof w) != 0)
            abort();
        for (int d = 0; d < 7; d++)
            for (int i = 0; i < w.n[d]; i++)
                if (w.start[d][i] >= w.end[d][i] || w.end[d][i] > 1440 ||
                    (i && w.start[d][i] <= w.end[d][i - 1]))
                    abort();
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort(); /* a refusal always says why, on one line */
    }
    free(spec);
}

static void ics(const uint8_t *data, size_t size)
{
    struct tk_holiday_set *set;
    struct tk_error err;
    if (tk_ics_parse((const char *)data, size, "fuzz.ics", &set, &err) != 0) {
        if (!err.msg[0] || strchr(err.msg, '\n'))
            abort();
        return;
    }
    for (size_t i = 0; i < set->n; i++) {
        if (set->days[i].day < TK_CALENDAR_MIN_DATE || set->days[i].day > TK_CALENDAR_MAX_DATE ||
            (i && set->days[i].day <= set->days[i - 1].day))
            abort();
        if (!tk_holiday_set_find(set, set->days[i].day))
            abort();
    }
    tk_holiday_set_release(set);
}

static void tzif(const uint8_t *data, size_t size)
{
    struct tk_tz *tz;
    struct tk_error err;
    if (tk_tz_parse(data, size, "fuzz", &tz, &err) != 0)
        return;
    for (size_t i = 1; i < tz->n; i++)
        if (tz->at[i] <= tz->at[i - 1] || tz->type[i] >= tz->ntypes)
            abort();
    if (tz->first >= tz->ntypes)
        abort();
    /* lookups stay inside the table (ASan watches) for any instant */
    static const int64_t probes[] = {INT64_MIN / 2, -2208988800, 0, 1796630400, 7258118399};
    for (size_t i = 0; i < sizeof probes / sizeof *probes; i++) {
        int64_t next;
        const struct tk_tz_type *ty = tk_tz_find(tz, probes[i], &next);
        if (ty < tz->types || ty >= tz->types + tz->ntypes || next <= probes[i])
            abort();
        (void)tk_tz_from_local(tz, probes[i]);
    }
    tk_tz_release(tz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        window(data + 1, size - 1);
        break;
    case 1:
        ics(data + 1, size - 1);
        break;
    default:
        tzif(data + 1, size - 1);
        break;
    }
    return 0;
}
