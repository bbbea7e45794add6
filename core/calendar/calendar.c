/* calendar.c - struct tk_calendar and the questions asked of it.
 *
 * The one subtle part is next_opening(): the wall clock is not a monotonic
 * function of UTC.  Between two transitions of the zone it is UTC plus a
 * constant offset, so the search walks those stretches: within a stretch,
 * the next opening in wall-clock terms (window and holidays, a few day
 * steps) maps back to UTC by subtracting the offset; if that lands beyond
 * the stretch, the search starts again at the transition, where the clock
 * may have jumped forward over the opening (spring: the first instant after
 * the gap is the answer when the window is still open then) or back into
 * an open hour (autumn: the repeated hour is open twice).  Each step either
 * answers or moves to the next transition, so a call costs a few binary
 * searches and at most TK_CALENDAR_HORIZON_DAYS day checks. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

enum holidays_kind { HOLIDAYS_NONE, HOLIDAYS_NL, HOLIDAYS_ICS };

struct tk_calendar {
    struct tk_tz *tz;
    struct tk_window window;
    enum holidays_kind kind;
    struct tk_holiday_set *set;
    char *zone, *window_text, *holidays_text;
};

/* Every tk_time argument goes through this: outside 1900-2199 the tables
 * end, and an answer there would be a guess. */
static int check_time(tk_time t, struct tk_error *err)
{
    if (t >= TK_CALENDAR_MIN_TIME && t < TK_CALENDAR_MAX_TIME)
        return 0;
    return tk_error_set(err, TK_EINVAL, "time %lld is outside the calendar's range (1900-2199)",
                        (long long)t);
}

static int check_date(tk_date d, struct tk_error *err)
{
    if (d >= TK_CALENDAR_MIN_DATE && d <= TK_CALENDAR_MAX_DATE)
        return 0;
    return tk_error_set(err, TK_EINVAL, "date %lld is outside the calendar's range (1900-2199)",
                        (long long)d);
}

static const char *holiday_of(const struct tk_calendar *cal, tk_date day)
{
    switch (cal->kind) {
    case HOLIDAYS_NL:
        return tk_holidays_nl(day);
    case HOLIDAYS_ICS:
        return tk_holiday_set_find(cal->set, day);
    default:
        return NULL;
    }
}

/* LOCAL is seconds since 1970-01-01 00:00 on the client's wall clock. */
static int open_local(const struct tk_calendar *cal, int64_t local)
{
    tk_date day = tk_civil_floor_div(local, TK_DAY);
    int sec = (int)(local - day * TK_DAY);
    return tk_window_contains(&cal->window, tk_civil_weekday(day), sec) && !holiday_of(cal, day);
}

/* The next wall-clock moment after LOCAL at which the window opens on a
 * non-holiday, looking TK_CALENDAR_HORIZON_DAYS days ahead at most. */
static int next_open_local(const struct tk_calendar *cal, int64_t local, int64_t *out)
{
    tk_date today = tk_civil_floor_div(local, TK_DAY);
    int sec = (int)(local - today * TK_DAY);
    for (tk_date d = today; d <= today + TK_CALENDAR_HORIZON_DAYS; d++) {
        int wday = tk_civil_weekday(d);
        if (!cal->window.n[wday] || holiday_of(cal, d))
            continue;
        int start = tk_window_next_start(&cal->window, wday, d == today ? sec : -1);
        if (start >= 0) {
            *out = d * TK_DAY + start;
            return 0;
        }
    }
    return -1;
}

int tk_calendar_next_opening(const struct tk_calendar *cal, tk_time t, tk_time *out,
                             struct tk_error *err)
{
    int64_t u = t, next, w;
    char when[32];
    if (check_time(t, err))
        return TK_EINVAL;
    for (int i = 0; i < 1000 && u < TK_CALENDAR_MAX_TIME; i++) {
        const struct tk_tz_type *ty = tk_tz_find(cal->tz, u, &next);
        int64_t local = u + ty->off;
        if (open_local(cal, local)) {
            *out = u;
            return 0;
        }
        if (next_open_local(cal, local, &w))
            break;
        if (w - ty->off < next) {
            if (w - ty->off >= TK_CALENDAR_MAX_TIME)
                break;
            *out = w - ty->off;
            return 0;
        }
        u = next; /* the clock jumps here: look again from the transition */
    }
    return tk_error_set(err, TK_ENOTFOUND,
                        "the calendar (window \"%s\", holidays \"%s\") does not open within %d "
                        "days after %s",
                        cal->window_text, cal->holidays_text, TK_CALENDAR_HORIZON_DAYS,
                        tk_time_format(t, when, sizeof when));
}

int tk_calendar_state_at(const struct tk_calendar *cal, tk_time t, enum tk_calendar_state *state,
                         struct tk_error *err)
{
    if (check_time(t, err))
        return TK_EINVAL;
    int64_t local = t + tk_tz_find(cal->tz, t, NULL)->off;
    tk_date day = tk_civil_floor_div(local, TK_DAY);
    int sec = (int)(local - day * TK_DAY);
    /* a holiday is the reason only when the hours would be open */
    if (!tk_window_contains(&cal->window, tk_civil_weekday(day), sec))
        *state = TK_CALENDAR_CLOSED_HOURS;
    else if (holiday_of(cal, day))
        *state = TK_CALENDAR_CLOSED_HOLIDAY;
    else
        *state = TK_CALENDAR_OPEN;
    return 0;
}

int tk_calendar_is_open(const struct tk_calendar *cal, tk_time t, int *open, struct tk_error *err)
{
    enum tk_calendar_state st;
    if (tk_calendar_state_at(cal, t, &st, err))
        return TK_EINVAL;
    *open = st == TK_CALENDAR_OPEN;
    return 0;
}

int tk_calendar_local_start(const struct tk_calendar *cal, tk_date date, int minute, tk_time *out,
                            struct tk_error *err)
{
    if (check_date(date, err))
        return TK_EINVAL;
    if (minute < 0 || minute > 1440)
        return tk_error_set(err, TK_EINVAL, "minute %d is not a time of day (0-1440)", minute);
    tk_time t = tk_tz_from_local(cal->tz, date * TK_DAY + minute * 60);
    if (check_time(t, err))
        return TK_EINVAL;
    *out = t;
    return 0;
}

int tk_calendar_day_opening(const struct tk_calendar *cal, tk_date date, tk_time *out,
                            struct tk_error *err)
{
    tk_time t;
    if (tk_calendar_local_start(cal, date, 0, &t, err))
        return TK_EINVAL;
    return tk_calendar_next_opening(cal, t, out, err);
}

int tk_calendar_to_local(const struct tk_calendar *cal, tk_time t, struct tk_calendar_local *out,
                         struct tk_error *err)
{
    if (check_time(t, err))
        return TK_EINVAL;
    const struct tk_tz_type *ty = tk_tz_find(cal->tz, t, NULL);
    int64_t local = t + ty->off;
    tk_date day = tk_civil_floor_div(local, TK_DAY);
    int sec = (int)(local - day * TK_DAY);
    memset(out, 0, sizeof *out);
    tk_civil_ymd(day, &out->year, &out->month, &out->day);
    out->hour = sec / 3600;
    out->minute = sec / 60 % 60;
    out->second = sec % 60;
    out->weekday = tk_civil_weekday(day) + 1;
    out->date = day;
    out->utc_offset = ty->off;
    out->is_dst = ty->isdst;
    tk_strlcpy(out->abbr, ty->abbr, sizeof out->abbr);
    return 0;
}

int tk_calendar_local_date(const struct tk_calendar *cal, tk_time t, tk_date *date,
                           struct tk_error *err)
{
    if (check_time(t, err))
        return TK_EINVAL;
    *date = tk_civil_floor_div(t + tk_tz_find(cal->tz, t, NULL)->off, TK_DAY);
    return 0;
}

int tk_calendar_days_until(const struct tk_calendar *cal, tk_time t, tk_date date, int64_t *days,
                           struct tk_error *err)
{
    tk_date today;
    if (check_date(date, err) || tk_calendar_local_date(cal, t, &today, err))
        return TK_EINVAL;
    *days = date - today;
    return 0;
}

int tk_calendar_format_local(const struct tk_calendar *cal, tk_time t, char *buf, size_t size,
                             struct tk_error *err)
{
    struct tk_calendar_local l;
    if (tk_calendar_to_local(cal, t, &l, err))
        return TK_EINVAL;
    snprintf(buf, size, "%04d-%02d-%02d %02d:%02d %s", l.year, l.month, l.day, l.hour, l.minute,
             cal->zone);
    return 0;
}

int tk_calendar_format_date_header(const struct tk_calendar *cal, tk_time t, char *buf, size_t size,
                                   struct tk_error *err)
{
    static const char *const wd[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (check_time(t, err))
        return TK_EINVAL;
    /* RFC 5322 offsets are whole minutes: cut, and show the clock that
     * goes with the cut offset, so the header still names T exactly */
    int minutes = tk_tz_find(cal->tz, t, NULL)->off / 60;
    int64_t local = t + minutes * 60;
    tk_date day = tk_civil_floor_div(local, TK_DAY);
    int sec = (int)(local - day * TK_DAY), y, m, d, a = minutes < 0 ? -minutes : minutes;
    tk_civil_ymd(day, &y, &m, &d);
    snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d %c%02d%02d", wd[tk_civil_weekday(day)], d,
             mon[m - 1], y, sec / 3600, sec / 60 % 60, sec % 60, minutes < 0 ? '-' : '+', a / 60,
             a % 60);
    return 0;
}

int tk_calendar_holiday(const struct tk_calendar *cal, tk_date date, char *name, size_t size)
{
    const char *h;
    if (date < TK_CALENDAR_MIN_DATE || date > TK_CALENDAR_MAX_DATE || !(h = holiday_of(cal, date)))
        return 0;
    if (name && size)
        tk_strlcpy(name, h, size);
    return 1;
}

const char *tk_calendar_zone(const struct tk_calendar *cal)
{
    return cal->zone;
}

const char *tk_calendar_window(const struct tk_calendar *cal)
{
    return cal->window_text;
}

const char *tk_calendar_holidays(const struct tk_calendar *cal)
{
    return cal->holidays_text;
}

/* ---- building ------------------------------------------------------------- */

/* What SPEC names: *KIND, and for a file its path resolved against
 * BASE_DIR into PATH. */
static int parse_holidays(const char *spec, const char *base_dir, enum holidays_kind *kind,
                          char *path, size_t size, struct tk_error *err)
{
    size_t n;
    if (!spec || !*spec || !strcasecmp(spec, "none")) {
        *kind = HOLIDAYS_NONE;
        return 0;
    }
    if (!strcasecmp(spec, "nl")) {
        *kind = HOLIDAYS_NL;
        return 0;
    }
    n = strlen(spec);
    if (n < 5 || strcasecmp(spec + n - 4, ".ics") != 0) {
        char shown[64];
        size_t i = 0;
        for (; spec[i] && i + 1 < sizeof shown; i++)
            shown[i] = (unsigned char)spec[i] >= 0x20 && spec[i] != 0x7f ? spec[i] : '?';
        shown[i] = '\0';
        return tk_error_set(err, TK_EINVAL,
                            "bad holidays \"%s\": expected nl, none or the path of an .ics file",
                            shown);
    }
    *kind = HOLIDAYS_ICS;
    if (spec[0] == '/' || !base_dir || !*base_dir)
        n = (size_t)snprintf(path, size, "%s", spec);
    else
        n = (size_t)snprintf(path, size, "%s/%s", base_dir, spec);
    if (n >= size)
        return tk_error_set(err, TK_EINVAL, "bad holidays: the path is too long");
    return 0;
}

int tk_calendar_check_zone(const char *zone, struct tk_error *err)
{
    struct tk_tz *tz;
    int rc = tk_tz_get(zone, &tz, err);
    tk_tz_release(tz);
    return rc;
}

int tk_calendar_check_window(const char *spec, char *canon, size_t size, struct tk_error *err)
{
    struct tk_window w;
    int rc = tk_window_parse(spec, &w, err);
    if (rc == 0 && canon && size)
        tk_window_format(&w, canon, size);
    return rc;
}

int tk_calendar_check_holidays(const char *spec, const char *base_dir, struct tk_error *err)
{
    enum holidays_kind kind;
    char path[PATH_MAX];
    struct tk_holiday_set *set;
    int rc = parse_holidays(spec, base_dir, &kind, path, sizeof path, err);
    if (rc || kind != HOLIDAYS_ICS)
        return rc;
    rc = tk_ics_get(path, &set, err);
    tk_holiday_set_release(set);
    return rc;
}

int tk_calendar_new(const struct tk_calendar_spec *spec, struct tk_calendar **out,
                    struct tk_error *err)
{
    struct tk_calendar *cal;
    char path[PATH_MAX], canon[TK_CALENDAR_WINDOW_MAX];
    int rc;

    *out = NULL;
    cal = calloc(1, sizeof *cal);
    if (!cal)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    if ((rc = tk_window_parse(spec->window && *spec->window ? spec->window : "always", &cal->window,
                              err)) ||
        (rc = parse_holidays(spec->holidays, spec->base_dir, &cal->kind, path, sizeof path, err)) ||
        (rc = tk_tz_get(spec->zone, &cal->tz, err)) ||
        (cal->kind == HOLIDAYS_ICS && (rc = tk_ics_get(path, &cal->set, err)))) {
        tk_calendar_free(cal);
        return rc;
    }
    tk_window_format(&cal->window, canon, sizeof canon);
    cal->zone = tk_strdup(cal->tz->name);
    cal->window_text = tk_strdup(canon);
    cal->holidays_text = tk_strdup(cal->kind == HOLIDAYS_ICS  ? path
                                   : cal->kind == HOLIDAYS_NL ? "nl"
                                                              : "none");
    if (!cal->zone || !cal->window_text || !cal->holidays_text) {
        tk_calendar_free(cal);
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    *out = cal;
    return 0;
}

void tk_calendar_free(struct tk_calendar *cal)
{
    if (!cal)
        return;
    tk_tz_release(cal->tz);
    tk_holiday_set_release(cal->set);
    free(cal->zone);
    free(cal->window_text);
    free(cal->holidays_text);
    free(cal);
}

void tk_calendar_cache_clear(void)
{
    tk_tz_cache_clear();
    tk_ics_cache_clear();
}
