/*
 * calendar.h - a client's calendar: the time zone its clock runs in, the
 * send window (days and hours in that zone) and the holidays on which
 * nothing automatic goes out; and the questions the scheduler, digests,
 * preview and the mail builder ask of it.  docs/calendar.md is the user's
 * side of all this (grammar, DST rules, .ics format).
 *
 * A struct tk_calendar is immutable once built: every function that takes
 * a `const struct tk_calendar *` may run in any number of threads at once
 * without a lock, and none of them reads the environment, the process's TZ
 * or the file system.  Zones and .ics files are read when a calendar is
 * built, through process-wide caches guarded by a mutex, so that building
 * the same calendar again is cheap (no file is parsed twice unless it
 * changed on disk).
 *
 * Times are tk_time (UTC seconds since the epoch).  Dates are tk_date: a
 * day number, 0 being 1970-01-01, so that the number of days between two
 * dates is their difference.  Both must lie in 1900-01-01 .. 2199-12-31
 * (TK_CALENDAR_MIN_TIME .. TK_CALENDAR_MAX_TIME); outside that, functions
 * fail with TK_EINVAL instead of guessing.
 *
 * Errors follow the house rule: an int status (0 or an enum tk_status) and
 * an optional caller-provided struct tk_error with a one-line message that
 * names the zone, the window spec or the file and line.
 */
#ifndef TK_CALENDAR_H
#define TK_CALENDAR_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* A calendar date: days since 1970-01-01 (negative before). */
typedef int64_t tk_date;

#define TK_CALENDAR_MIN_TIME ((tk_time)-2208988800) /* 1900-01-01T00:00:00Z */
#define TK_CALENDAR_MAX_TIME ((tk_time)7258118400)  /* 2200-01-01T00:00:00Z, excluded */
#define TK_CALENDAR_MIN_DATE ((tk_date)-25567)      /* 1900-01-01 */
#define TK_CALENDAR_MAX_DATE ((tk_date)84005)       /* 2199-12-31 */

/* How far next_opening looks ahead before it gives up: a window that does
 * not open within this many local days is an error, never an endless
 * search. */
#define TK_CALENDAR_HORIZON_DAYS 400

/* Buffer sizes that always suffice for the formatting functions. */
#define TK_CALENDAR_LOCAL_MAX 300      /* "2026-12-07 09:00 America/New_York" */
#define TK_CALENDAR_DATE_HEADER_MAX 40 /* "Mon, 07 Dec 2026 09:00:00 -0500" */
#define TK_CALENDAR_WINDOW_MAX 1024    /* a canonical window spec */

struct tk_calendar;

/* What a calendar is built from.  Every field may be NULL or "" for its
 * default, which keeps a deployment without [calendar] settings behaving as
 * before: UTC, always open, no holidays. */
struct tk_calendar_spec {
    const char *zone;     /* IANA name from the system tz database: "Europe/Amsterdam" (default
                             "UTC") */
    const char *window;   /* "mon-fri 09:00-17:00", "always" (default) ... see docs/calendar.md */
    const char *holidays; /* "nl", "none" (default) or a path to an iCalendar file ending in .ics */
    const char *base_dir; /* folder a relative .ics path is read from (the config file's folder);
                             NULL: the working directory */
};

/* ---- building -------------------------------------------------------- */

/* Build a calendar from SPEC (borrowed for the call; the calendar keeps its
 * own copies).  On success *OUT is a new calendar the caller frees with
 * tk_calendar_free(); on failure *OUT is NULL and ERR names the piece that
 * is wrong (TK_EINVAL), the file that could not be read (TK_EIO) or
 * TK_ENOMEM. */
int tk_calendar_new(const struct tk_calendar_spec *spec, struct tk_calendar **out,
                    struct tk_error *err);
/* Free CAL (NULL is fine).  Other threads must be done with it. */
void tk_calendar_free(struct tk_calendar *cal);

/* Check one option the way tk_calendar_new() would, for the CLI and the
 * config loader to refuse a bad value with a clear message before anything
 * changes.  0 when good; TK_EINVAL (TK_EIO for an unreadable file) with a
 * one-line message otherwise.  A zone or file that checks out stays cached,
 * so the tk_calendar_new() that follows does not read it again. */
int tk_calendar_check_zone(const char *zone, struct tk_error *err);
/* CANON (may be NULL; SIZE >= TK_CALENDAR_WINDOW_MAX always suffices)
 * receives the canonical form, e.g. "Mon-Fri 9:00-17:00;sat 10:00-12:00"
 * gives "mon-fri 09:00-17:00; sat 10:00-12:00": store that one. */
int tk_calendar_check_window(const char *spec, char *canon, size_t size, struct tk_error *err);
/* BASE_DIR as in struct tk_calendar_spec. */
int tk_calendar_check_holidays(const char *spec, const char *base_dir, struct tk_error *err);

/* The calendar's pieces as strings, borrowed until tk_calendar_free(CAL):
 * the zone name, the canonical window, the holidays as given ("nl", "none"
 * or the .ics path as resolved against base_dir). */
const char *tk_calendar_zone(const struct tk_calendar *cal);
const char *tk_calendar_window(const struct tk_calendar *cal);
const char *tk_calendar_holidays(const struct tk_calendar *cal);

/* Drop every cached zone and holiday file (calendars still alive keep
 * theirs).  For a daemon that wants new tzdata without a restart, and for
 * tests that check for leaks.  Thread-safe. */
void tk_calendar_cache_clear(void);

/* ---- the scheduler's questions ----------------------------------------- */

/* Why an instant is closed, or that it is open. */
enum tk_calendar_state {
    TK_CALENDAR_OPEN = 0,
    TK_CALENDAR_CLOSED_HOURS = 1,   /* outside the window's days or hours */
    TK_CALENDAR_CLOSED_HOLIDAY = 2, /* the local date is a holiday */
};

/* The first instant >= T that is inside the window, on a local date that is
 * not a holiday, in the calendar's zone: T itself when T is open.  A window
 * start that falls in a DST gap opens at the first instant after the gap
 * (a 02:30 start on a spring-forward day opens at 03:00).  Cost: a few
 * binary searches and at most TK_CALENDAR_HORIZON_DAYS day steps, no
 * I/O.  TK_ENOTFOUND when the calendar does not open within
 * TK_CALENDAR_HORIZON_DAYS local days (or before TK_CALENDAR_MAX_TIME);
 * TK_EINVAL when T is out of range. */
int tk_calendar_next_opening(const struct tk_calendar *cal, tk_time t, tk_time *out,
                             struct tk_error *err);

/* *STATE = whether T is open and, if not, why.  0 or TK_EINVAL (range). */
int tk_calendar_state_at(const struct tk_calendar *cal, tk_time t, enum tk_calendar_state *state,
                         struct tk_error *err);

/* *OPEN = 1 when T is inside the window on a non-holiday, else 0. */
int tk_calendar_is_open(const struct tk_calendar *cal, tk_time t, int *open, struct tk_error *err);

/* The first opening on local date DATE, or the next one after it when DATE
 * is a holiday or a closed weekday: what an anchored schedule step ("on
 * its day, at the window's opening") uses.  Same as next_opening() from the
 * local midnight that starts DATE. */
int tk_calendar_day_opening(const struct tk_calendar *cal, tk_date date, tk_time *out,
                            struct tk_error *err);

/* ---- local time -------------------------------------------------------- */

/* An instant as the client's clock shows it. */
struct tk_calendar_local {
    int year, month, day;     /* local date, month 1-12 */
    int hour, minute, second; /* local wall-clock time */
    int weekday;              /* ISO 8601: 1 = Monday ... 7 = Sunday */
    tk_date date;             /* the local date as a day number */
    int utc_offset;           /* seconds east of UTC in force at that instant */
    int is_dst;               /* 1 in daylight-saving time */
    char abbr[16];            /* the zone's abbreviation then: "CET", "EDT", "+0545" */
};

/* T as local time in CAL's zone.  0 or TK_EINVAL (range). */
int tk_calendar_to_local(const struct tk_calendar *cal, tk_time t, struct tk_calendar_local *out,
                         struct tk_error *err);

/* The instant at which CAL's clock first reads local date DATE, MINUTE
 * minutes after midnight (0 .. 1440; 1440 is the next midnight).  A local
 * time that occurs twice (autumn overlap) gives the earlier instant; one
 * that does not occur (spring gap) gives the first instant after the gap
 * (02:30 on a spring-forward day in Europe/Amsterdam is 03:00 CEST).
 * 0 or TK_EINVAL (range). */
int tk_calendar_local_start(const struct tk_calendar *cal, tk_date date, int minute, tk_time *out,
                            struct tk_error *err);

/* *DATE = T's local date in CAL's zone: "the same local day" for digests. */
int tk_calendar_local_date(const struct tk_calendar *cal, tk_time t, tk_date *date,
                           struct tk_error *err);

/* *DAYS = DATE minus T's local date: 7 a week before a due DATE, 0 on the
 * day, negative after it ({{item.days_to_due}}). */
int tk_calendar_days_until(const struct tk_calendar *cal, tk_time t, tk_date date, int64_t *days,
                           struct tk_error *err);

/* Write T as "2026-12-07 09:00 America/New_York" (local date and time to the
 * minute, then the zone name) into BUF of SIZE bytes (TK_CALENDAR_LOCAL_MAX
 * suffices; a shorter buffer gets a truncated, terminated string).  0 or
 * TK_EINVAL (range). */
int tk_calendar_format_local(const struct tk_calendar *cal, tk_time t, char *buf, size_t size,
                             struct tk_error *err);

/* Write T as an RFC 5322 Date header value in CAL's zone, e.g.
 * "Mon, 07 Dec 2026 09:00:00 -0500", into BUF (TK_CALENDAR_DATE_HEADER_MAX
 * suffices).  The rare historical offset with seconds (local mean time) is
 * cut to whole minutes and the clock shown with it, so that the header
 * always names exactly T.  0 or TK_EINVAL (range). */
int tk_calendar_format_date_header(const struct tk_calendar *cal, tk_time t, char *buf, size_t size,
                                   struct tk_error *err);

/* ---- holidays and dates ------------------------------------------------ */

/* 1 when DATE is a holiday in CAL (its name, "Christmas Day" or the .ics
 * event's SUMMARY, copied into NAME of SIZE bytes when NAME is not NULL),
 * 0 when it is not or DATE is out of range. */
int tk_calendar_holiday(const struct tk_calendar *cal, tk_date date, char *name, size_t size);

/* Dates without a calendar.  from_ymd: 0, or TK_EINVAL for a date that does
 * not exist or lies outside 1900-2199.  parse: strict "YYYY-MM-DD", same
 * errors with a message.  format: "YYYY-MM-DD" into BUF (11 bytes), returns
 * BUF.  weekday: ISO 8601, 1 = Monday ... 7 = Sunday. */
int tk_calendar_date_from_ymd(int year, int month, int day, tk_date *out);
void tk_calendar_date_to_ymd(tk_date date, int *year, int *month, int *day);
int tk_calendar_date_parse(const char *s, tk_date *out, struct tk_error *err);
char *tk_calendar_date_format(tk_date date, char *buf, size_t size);
int tk_calendar_date_weekday(tk_date date);

/* Easter Sunday of YEAR (Gregorian, 1900-2199), as the nl holidays use it. */
tk_date tk_calendar_easter(int year);

#endif /* TK_CALENDAR_H */
