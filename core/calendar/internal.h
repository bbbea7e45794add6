/*
 * internal.h - what the calendar's own files share: civil date arithmetic,
 * zones (TZif data as an immutable transition table), send windows and
 * holiday sets.  Not for other modules: they use calendar.h.
 */
#ifndef TK_CALENDAR_INTERNAL_H
#define TK_CALENDAR_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "calendar.h"

/* ---- civil dates (civil.c): proleptic Gregorian, no time zone ---------- */

/* Day number of Y-M-D (no checks; M 1-12, D 1-31). */
tk_date tk_civil_days(int64_t y, int m, int d);
void tk_civil_ymd(tk_date day, int *y, int *m, int *d);
/* 0 = Monday ... 6 = Sunday. */
int tk_civil_weekday(tk_date day);
int tk_civil_month_days(int64_t y, int m);
/* floor(a / b) for b > 0, also for negative a (dates before 1970). */
static inline int64_t tk_civil_floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* ---- caches ------------------------------------------------------------ */

/* A cached zone or holiday file is looked at again (stat) at most this
 * often, in seconds: a changed file reaches calendars built afterwards. */
#define TK_CALENDAR_RECHECK 60
/* Seconds on a monotonic clock that costs no system call. */
int64_t tk_calendar_clock(void);

/* ---- zones (tzif.c reads, zone.c caches and converts) ------------------- */

#define TK_TZ_ABBR_MAX 16
#define TK_TZ_FILE_MAX (256 * 1024) /* real TZif files are under 4 KiB */

struct tk_tz_type {
    int32_t off; /* seconds east of UTC */
    int isdst;
    char abbr[TK_TZ_ABBR_MAX];
};

/* One zone: the offsets in force between transitions, from the TZif file's
 * explicit transitions and then its footer rule, unrolled up to the end of
 * the calendar's range, so that a lookup is one binary search.  Immutable
 * after tk_tz_parse(); shared by reference count. */
struct tk_tz {
    atomic_int refs;
    char *name;
    struct tk_tz_type *types;
    size_t ntypes;
    int64_t *at;    /* transition instants, strictly ascending */
    uint16_t *type; /* types[type[i]] is in force from at[i] */
    size_t n;
    uint16_t first; /* in force before at[0] (or always, when n == 0) */
};

/* Parse TZif DATA (SIZE bytes, borrowed) into a new zone with one
 * reference; NAME (copied) goes into messages.  TK_EINVAL for anything that
 * is not a well-formed TZif file without leap seconds. */
int tk_tz_parse(const void *data, size_t size, const char *name, struct tk_tz **out,
                struct tk_error *err);
/* The zone called NAME from the system's tz database (cached).  On success
 * the caller owns one reference and gives it back with tk_tz_release(). */
int tk_tz_get(const char *name, struct tk_tz **out, struct tk_error *err);
void tk_tz_release(struct tk_tz *tz);
void tk_tz_cache_clear(void);
/* The type in force at T; *NEXT (may be NULL) = the next transition after
 * T, INT64_MAX when none. */
const struct tk_tz_type *tk_tz_find(const struct tk_tz *tz, int64_t t, int64_t *next);
/* The first instant at which the wall clock reads LOCAL (seconds since
 * 1970-01-01 00:00 local) or, in a gap, the first instant past it. */
int64_t tk_tz_from_local(const struct tk_tz *tz, int64_t local);

/* ---- send windows (window.c) ------------------------------------------ */

#define TK_WINDOW_SPANS 8 /* per weekday, after merging */

/* Per weekday (0 = Monday), sorted disjoint spans [start, end) in minutes
 * after local midnight. */
struct tk_window {
    uint8_t n[7];
    uint16_t start[7][TK_WINDOW_SPANS], end[7][TK_WINDOW_SPANS];
};

int tk_window_parse(const char *spec, struct tk_window *out, struct tk_error *err);
/* Canonical text of W into BUF (TK_CALENDAR_WINDOW_MAX suffices). */
void tk_window_format(const struct tk_window *w, char *buf, size_t size);
/* 1 when second SEC of a day with weekday WDAY is inside W. */
int tk_window_contains(const struct tk_window *w, int wday, int sec);
/* Second of the day at which the first span starting after SEC (-1: any)
 * begins on weekday WDAY, or -1 when none does. */
int tk_window_next_start(const struct tk_window *w, int wday, int sec);

/* ---- holidays (holidays.c, ics.c) -------------------------------------- */

/* The Dutch public holidays: the name of DAY's holiday, or NULL. */
const char *tk_holidays_nl(tk_date day);

struct tk_holiday_day {
    tk_date day;
    uint32_t name; /* offset into names */
};

/* The days of an .ics file, sorted and unique.  Immutable after
 * tk_ics_parse(); shared by reference count. */
struct tk_holiday_set {
    atomic_int refs;
    struct tk_holiday_day *days;
    size_t n;
    char *names; /* NUL-separated SUMMARY texts */
};

#define TK_ICS_FILE_MAX (1024 * 1024)
#define TK_ICS_DAYS_MAX 100000 /* holiday days one file may expand to */

/* Parse iCalendar DATA (SIZE bytes, borrowed) with libical into a new set
 * with one reference.  NAME (the file's path) starts every message, with
 * ":LINE" where the line is known.  Serialised by a mutex: libical keeps
 * process-wide state. */
int tk_ics_parse(const char *data, size_t size, const char *name, struct tk_holiday_set **out,
                 struct tk_error *err);
/* The set read from PATH (cached by path, reread when the file changed). */
int tk_ics_get(const char *path, struct tk_holiday_set **out, struct tk_error *err);
void tk_holiday_set_release(struct tk_holiday_set *set);
void tk_ics_cache_clear(void);
/* The name of DAY's holiday in SET, or NULL. */
const char *tk_holiday_set_find(const struct tk_holiday_set *set, tk_date day);

#endif /* TK_CALENDAR_INTERNAL_H */
