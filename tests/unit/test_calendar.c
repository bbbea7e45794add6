/* test_calendar.c - core/calendar: next opening across weekends, holidays
 * and DST changes; the window grammar; Dutch holidays; .ics files through
 * libical; local time formatting; errors; several threads at once.
 *
 * Expected instants were computed with Python's zoneinfo; each is written
 * as the local time it stands for. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calendar/calendar.h"
#include "tk_test.h"

static char fixtures[1024];

static struct tk_calendar *cal_new(const char *zone, const char *window, const char *holidays)
{
    struct tk_calendar_spec spec = {zone, window, holidays, fixtures};
    struct tk_calendar *cal = NULL;
    struct tk_error err = {0};
    if (tk_calendar_new(&spec, &cal, &err))
        fprintf(stderr, "tk_calendar_new(%s, %s, %s): %s\n", zone, window, holidays, err.msg);
    return cal;
}

static tk_time at(const char *iso)
{
    tk_time t = 0;
    if (tk_time_parse(iso, &t))
        fprintf(stderr, "bad time in test: %s\n", iso);
    return t;
}

static tk_date day(int y, int m, int d)
{
    tk_date out = 0;
    if (tk_calendar_date_from_ymd(y, m, d, &out))
        fprintf(stderr, "bad date in test: %d-%d-%d\n", y, m, d);
    return out;
}

static tk_time next(const struct tk_calendar *cal, tk_time t)
{
    tk_time out = -1;
    struct tk_error err = {0};
    if (tk_calendar_next_opening(cal, t, &out, &err))
        fprintf(stderr, "next_opening: %s\n", err.msg);
    return out;
}

static int is_open(const struct tk_calendar *cal, tk_time t)
{
    int open = -1;
    tk_calendar_is_open(cal, t, &open, NULL);
    return open;
}

static const char *local(const struct tk_calendar *cal, tk_time t)
{
    static char buf[TK_CALENDAR_LOCAL_MAX];
    if (tk_calendar_format_local(cal, t, buf, sizeof buf, NULL))
        return "(error)";
    return buf;
}

/* The first case: a reminder due on Friday evening in New York goes
 * out on Monday at 09:00 New York time, and not a second before. */
TK_TEST(new_york_friday_evening_waits_for_monday_nine)
{
    struct tk_calendar *ny = cal_new("America/New_York", "mon-fri 09:00-17:00", "none");
    tk_time friday = at("2026-12-04T18:30:00-05:00"), monday = at("2026-12-07T09:00:00-05:00");
    TK_CHECK(ny != NULL);
    if (!ny)
        return;
    TK_CHECK_INT(next(ny, friday), monday);
    TK_CHECK_STR(local(ny, next(ny, friday)), "2026-12-07 09:00 America/New_York");
    TK_CHECK_INT(next(ny, monday - 1), monday);
    TK_CHECK_INT(next(ny, monday), monday);
    TK_CHECK_INT(is_open(ny, monday - 1), 0);
    TK_CHECK_INT(is_open(ny, monday), 1);
    TK_CHECK_INT(is_open(ny, at("2026-12-05T12:00:00-05:00")), 0); /* Saturday noon */
    /* inside the window: at once; 17:00 itself is closed (ranges end before) */
    TK_CHECK_INT(next(ny, at("2026-12-04T16:59:59-05:00")), at("2026-12-04T16:59:59-05:00"));
    TK_CHECK_INT(is_open(ny, at("2026-12-04T17:00:00-05:00")), 0);
    /* the same UTC instant is Saturday 00:30 in Amsterdam: no window there */
    TK_CHECK_INT(is_open(ny, at("2026-12-04T23:30:00Z")), 0);
    tk_calendar_free(ny);
}

/* Christmas in Amsterdam with nl: Thursday evening 24 December 2026 waits
 * past Christmas Day (Friday) and the weekend (Boxing Day is a Saturday). */
TK_TEST(amsterdam_christmas_is_skipped)
{
    struct tk_calendar *ams = cal_new("Europe/Amsterdam", "mon-fri 09:00-17:00", "nl");
    enum tk_calendar_state st = TK_CALENDAR_OPEN;
    char name[64] = "";
    TK_CHECK(ams != NULL);
    if (!ams)
        return;
    TK_CHECK_INT(next(ams, at("2026-12-24T17:30:00+01:00")), at("2026-12-28T09:00:00+01:00"));
    TK_CHECK_INT(tk_calendar_state_at(ams, at("2026-12-25T10:00:00+01:00"), &st, NULL), 0);
    TK_CHECK_INT(st, TK_CALENDAR_CLOSED_HOLIDAY);
    TK_CHECK_INT(tk_calendar_state_at(ams, at("2026-12-26T10:00:00+01:00"), &st, NULL), 0);
    TK_CHECK_INT(st, TK_CALENDAR_CLOSED_HOURS); /* a Saturday: closed anyway */
    TK_CHECK_INT(tk_calendar_holiday(ams, day(2026, 12, 25), name, sizeof name), 1);
    TK_CHECK_STR(name, "Christmas Day");
    TK_CHECK_INT(tk_calendar_holiday(ams, day(2026, 12, 28), name, sizeof name), 0);
    /* 2025: Christmas Thursday, Boxing Day Friday: Monday 29 December */
    TK_CHECK_INT(next(ams, at("2025-12-24T17:30:00+01:00")), at("2025-12-29T09:00:00+01:00"));
    /* New Year's Day 2027 is a Friday: from Thursday evening to Monday 4 January */
    TK_CHECK_INT(next(ams, at("2026-12-31T17:00:00+01:00")), at("2027-01-04T09:00:00+01:00"));
    tk_calendar_free(ams);
}

/* Last Sunday of March 2026: 02:00 CET becomes 03:00 CEST. */
TK_TEST(amsterdam_spring_forward)
{
    struct tk_calendar *ams = cal_new("Europe/Amsterdam", "mon-fri 09:00-17:00", "nl");
    struct tk_calendar *night = cal_new("Europe/Amsterdam", "sun 02:30-04:00", "none");
    struct tk_calendar *gap = cal_new("Europe/Amsterdam", "sun 02:00-02:45", "none");
    tk_time t = 0;
    TK_CHECK(ams && night && gap);
    if (!ams || !night || !gap)
        goto out;
    /* the weekend changes the offset: Monday 09:00 is 07:00 UTC, not 08:00 */
    TK_CHECK_INT(next(ams, at("2026-03-27T18:00:00+01:00")), at("2026-03-30T09:00:00+02:00"));
    /* 02:30 does not exist that day: the window opens when the clock shows 03:00 */
    TK_CHECK_INT(next(night, at("2026-03-28T23:00:00Z")), at("2026-03-29T03:00:00+02:00"));
    TK_CHECK_INT(tk_calendar_local_start(night, day(2026, 3, 29), 150, &t, NULL), 0);
    TK_CHECK_INT(t, at("2026-03-29T03:00:00+02:00"));
    TK_CHECK_INT(tk_calendar_local_start(night, day(2026, 3, 29), 120, &t, NULL), 0);
    TK_CHECK_INT(t, at("2026-03-29T03:00:00+02:00"));
    TK_CHECK_INT(tk_calendar_local_start(night, day(2026, 3, 29), 119, &t, NULL), 0);
    TK_CHECK_INT(t, at("2026-03-29T01:59:00+01:00"));
    /* a window wholly inside the gap does not open that day at all */
    TK_CHECK_INT(next(gap, at("2026-03-28T23:00:00Z")), at("2026-04-05T02:00:00+02:00"));
    TK_CHECK_STR(local(ams, at("2026-03-29T01:00:00Z")), "2026-03-29 03:00 Europe/Amsterdam");
out:
    tk_calendar_free(ams);
    tk_calendar_free(night);
    tk_calendar_free(gap);
}

/* Last Sunday of October 2026: 03:00 CEST becomes 02:00 CET; the hour from
 * 02:00 to 03:00 happens twice, and a window in it is open twice. */
TK_TEST(amsterdam_fall_back)
{
    struct tk_calendar *ams = cal_new("Europe/Amsterdam", "mon-fri 09:00-17:00", "nl");
    struct tk_calendar *twice = cal_new("Europe/Amsterdam", "sun 02:15-02:30", "none");
    struct tk_calendar_local l;
    tk_time t = 0;
    TK_CHECK(ams && twice);
    if (!ams || !twice)
        goto out;
    TK_CHECK_INT(next(ams, at("2026-10-23T18:00:00+02:00")), at("2026-10-26T09:00:00+01:00"));
    TK_CHECK_INT(next(twice, at("2026-10-25T02:00:00+02:00")), at("2026-10-25T02:15:00+02:00"));
    TK_CHECK_INT(next(twice, at("2026-10-25T02:30:00+02:00")), at("2026-10-25T02:15:00+01:00"));
    TK_CHECK_INT(next(twice, at("2026-10-25T02:30:00+01:00")), at("2026-11-01T02:15:00+01:00"));
    /* a repeated local time means its first occurrence */
    TK_CHECK_INT(tk_calendar_local_start(twice, day(2026, 10, 25), 135, &t, NULL), 0);
    TK_CHECK_INT(t, at("2026-10-25T02:15:00+02:00"));
    TK_CHECK_INT(tk_calendar_to_local(ams, at("2026-10-25T02:15:00+01:00"), &l, NULL), 0);
    TK_CHECK_INT(l.hour, 2);
    TK_CHECK_INT(l.minute, 15);
    TK_CHECK_INT(l.utc_offset, 3600);
    TK_CHECK_INT(l.is_dst, 0);
    TK_CHECK_STR(l.abbr, "CET");
    TK_CHECK_INT(tk_calendar_to_local(ams, at("2026-10-25T02:15:00+02:00"), &l, NULL), 0);
    TK_CHECK_STR(l.abbr, "CEST");
    TK_CHECK_INT(l.weekday, 7);
out:
    tk_calendar_free(ams);
    tk_calendar_free(twice);
}

/* Samoa skipped Friday 30 December 2011: a window only on Fridays waits a
 * week, and that day's local times map to the first instant after it. */
TK_TEST(apia_skipped_day)
{
    struct tk_calendar *apia = cal_new("Pacific/Apia", "fri 09:00-17:00", "none");
    tk_time t = 0;
    TK_CHECK(apia != NULL);
    if (!apia)
        return;
    TK_CHECK_INT(next(apia, at("2011-12-29T23:00:00-10:00")), at("2012-01-06T09:00:00+14:00"));
    TK_CHECK_INT(tk_calendar_local_start(apia, day(2011, 12, 30), 9 * 60, &t, NULL), 0);
    TK_CHECK_INT(t, at("2011-12-31T00:00:00+14:00"));
    tk_calendar_free(apia);
}

/* Easter Sunday 2000-2050 from ncal -e (FreeBSD's own implementation). */
TK_TEST(easter_matches_the_table)
{
    static const char *const table =
        "0423 0415 0331 0420 0411 0327 0416 0408 0323 0412 0404 0424 0408 0331 0420 0405 0327 "
        "0416 0401 0421 0412 0404 0417 0409 0331 0420 0405 0328 0416 0401 0421 0413 0328 0417 "
        "0409 0325 0413 0405 0425 0410 0401 0421 0406 0329 0417 0409 0325 0414 0405 0418 0410";
    for (int y = 2000; y <= 2050; y++) {
        const char *e = table + (y - 2000) * 5;
        int m = (e[0] - '0') * 10 + (e[1] - '0'), d = (e[2] - '0') * 10 + (e[3] - '0');
        if (tk_calendar_easter(y) != day(y, m, d)) {
            fprintf(stderr, "Easter %d: expected %02d-%02d\n", y, m, d);
            TK_CHECK(0);
        }
    }
    TK_CHECK_INT(tk_calendar_easter(1900), day(1900, 4, 15));
    TK_CHECK_INT(tk_calendar_easter(2199), day(2199, 4, 14));
}

static int count_nl(struct tk_calendar *nl, int year, char *names, size_t size)
{
    int n = 0;
    names[0] = '\0';
    for (tk_date d = day(year, 1, 1); d <= day(year, 12, 31); d++) {
        char name[64], ymd[16];
        if (tk_calendar_holiday(nl, d, name, sizeof name)) {
            size_t len = strlen(names);
            snprintf(names + len, size - len, "%s%s %s", n ? ", " : "",
                     tk_calendar_date_format(d, ymd, sizeof ymd), name);
            n++;
        }
    }
    return n;
}

TK_TEST(dutch_holidays)
{
    struct tk_calendar *nl = cal_new("Europe/Amsterdam", "always", "nl");
    char names[2048];
    TK_CHECK(nl != NULL);
    if (!nl)
        return;
    TK_CHECK_INT(count_nl(nl, 2026, names, sizeof names), 10);
    TK_CHECK_STR(names, "2026-01-01 New Year's Day, 2026-04-05 Easter Sunday, 2026-04-06 Easter "
                        "Monday, 2026-04-27 King's Day, 2026-05-05 Liberation Day, 2026-05-14 "
                        "Ascension Day, 2026-05-24 Whit Sunday, 2026-05-25 Whit Monday, 2026-12-25 "
                        "Christmas Day, 2026-12-26 Boxing Day");
    /* King's Day on a Sunday moves to Saturday the 26th */
    TK_CHECK_INT(tk_calendar_holiday(nl, day(2025, 4, 27), NULL, 0), 0);
    TK_CHECK_INT(tk_calendar_holiday(nl, day(2025, 4, 26), NULL, 0), 1);
    TK_CHECK_INT(tk_calendar_holiday(nl, day(2031, 4, 26), NULL, 0), 1);
    TK_CHECK_INT(tk_calendar_holiday(nl, day(2014, 4, 26), NULL, 0), 1);
    TK_CHECK_INT(tk_calendar_holiday(nl, day(2026, 4, 26), NULL, 0), 0);
    /* Queen's Day before 2014: 30 April, on a Sunday the 29th (1980 on) or 1 May */
    TK_CHECK_INT(tk_calendar_holiday(nl, day(2013, 4, 30), NULL, 0), 1);
    TK_CHECK_INT(tk_calendar_holiday(nl, day(2013, 4, 27), NULL, 0), 0);
    TK_CHECK_INT(tk_calendar_holiday(nl, day(2006, 4, 29), NULL, 0), 1);
    TK_CHECK_INT(tk_calendar_holiday(nl, day(1950, 5, 1), NULL, 0), 1);
    /* Liberation Day every year, not only every fifth */
    TK_CHECK_INT(tk_calendar_holiday(nl, day(2027, 5, 5), NULL, 0), 1);
    /* Good Friday is not a Dutch public holiday */
    TK_CHECK_INT(tk_calendar_holiday(nl, day(2026, 4, 3), NULL, 0), 0);
    /* 2027: King's Day Tuesday, Ascension 6 May, Whit Monday 17 May */
    TK_CHECK_INT(count_nl(nl, 2027, names, sizeof names), 10);
    TK_CHECK(strstr(names, "2027-04-27 King's Day") != NULL);
    TK_CHECK(strstr(names, "2027-05-06 Ascension Day") != NULL);
    TK_CHECK(strstr(names, "2027-05-17 Whit Monday") != NULL);
    tk_calendar_free(nl);
}

/* tests/fixtures/calendar/office.ics: a yearly two-day event, a multi-day
 * event, a BYDAY rule with an EXDATE and a RECURRENCE-ID override, an
 * RDATE, a cancelled event and a VTODO that must be ignored. */
TK_TEST(ics_holidays)
{
    struct tk_calendar *cal = cal_new("Europe/Amsterdam", "mon-fri 09:00-17:00", "office.ics");
    char name[128];
    TK_CHECK(cal != NULL);
    if (!cal)
        return;
    TK_CHECK(strstr(tk_calendar_holidays(cal), "/office.ics") != NULL);
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2026, 12, 25), name, sizeof name), 1);
    TK_CHECK_STR(name, "Christmas (office closed)");
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2026, 12, 26), NULL, 0), 1);
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2000, 12, 26), NULL, 0), 1);
    TK_CHECK_INT(tk_calendar_holiday(cal, day(1999, 12, 25), NULL, 0), 0); /* before DTSTART */
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2199, 12, 26), NULL, 0), 1);
    /* four days from DTSTART to the exclusive DTEND; the folded SUMMARY unfolded */
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2026, 12, 28), name, sizeof name), 1);
    TK_CHECK_STR(name, "Office closed between Christmas and New Year, a long summary that is "
                       "folded onto a second line as RFC 5545 allows");
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2026, 12, 31), NULL, 0), 1);
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2027, 1, 1), NULL, 0), 0); /* not in the file */
    /* second Friday of June; 2027 excluded; 2028 moved from the 9th to the 16th */
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2026, 6, 12), NULL, 0), 1);
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2027, 6, 11), NULL, 0), 0);
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2028, 6, 9), NULL, 0), 0);
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2028, 6, 16), name, sizeof name), 1);
    TK_CHECK_STR(name, "Founders' day (moved)");
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2029, 6, 8), NULL, 0), 1);
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2026, 5, 4), NULL, 0), 1);
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2027, 5, 3), NULL, 0), 1);
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2026, 12, 1), NULL, 0), 0); /* cancelled */
    TK_CHECK_INT(tk_calendar_holiday(cal, day(2026, 12, 2), NULL, 0), 0); /* a VTODO */
    /* Thursday 24 December: Christmas, weekend, closed to the 31st, then
     * Friday 1 January is open (the file has no New Year's Day) */
    TK_CHECK_INT(next(cal, at("2026-12-24T17:30:00+01:00")), at("2027-01-01T09:00:00+01:00"));
    tk_calendar_free(cal);
}

/* An .ics file with CRLF line ends, a DURATION, and an absolute path (not
 * resolved against base_dir); then changed on disk. */
TK_TEST(ics_crlf_and_absolute_path)
{
    char path[] = "/tmp/tk-calendar-XXXXXX.ics";
    const char *text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
                       "BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Closing\r\n day\r\n"
                       "DTSTART;VALUE=DATE:20270102\r\nDURATION:P2D\r\nEND:VEVENT\r\n"
                       "END:VCALENDAR\r\n";
    int fd = mkstemps(path, 4);
    char name[64];
    TK_CHECK(fd >= 0);
    if (fd < 0)
        return;
    TK_CHECK((size_t)write(fd, text, strlen(text)) == strlen(text));
    close(fd);
    struct tk_calendar *cal = cal_new("UTC", "always", path);
    TK_CHECK(cal != NULL);
    if (cal) {
        TK_CHECK_STR(tk_calendar_holidays(cal), path);
        TK_CHECK_INT(tk_calendar_holiday(cal, day(2027, 1, 2), name, sizeof name), 1);
        TK_CHECK_STR(name, "Closingday");
        TK_CHECK_INT(tk_calendar_holiday(cal, day(2027, 1, 3), NULL, 0), 1);
        TK_CHECK_INT(tk_calendar_holiday(cal, day(2027, 1, 4), NULL, 0), 0);
        TK_CHECK_INT(next(cal, at("2027-01-02T12:00:00Z")), at("2027-01-04T00:00:00Z"));
    }
    /* a changed file reaches the calendars built after the cache lets go
     * of it; the calendar built before keeps what it read */
    const char *other = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\nBEGIN:VEVENT\nUID:b\n"
                        "DTSTART;VALUE=DATE:20270105\nEND:VEVENT\nEND:VCALENDAR\n";
    fd = open(path, O_WRONLY | O_TRUNC);
    TK_CHECK(fd >= 0 && (size_t)write(fd, other, strlen(other)) == strlen(other));
    if (fd >= 0)
        close(fd);
    tk_calendar_cache_clear();
    struct tk_calendar *again = cal_new("UTC", "always", path);
    TK_CHECK(again != NULL);
    if (again) {
        TK_CHECK_INT(tk_calendar_holiday(again, day(2027, 1, 2), NULL, 0), 0);
        TK_CHECK_INT(tk_calendar_holiday(again, day(2027, 1, 5), name, sizeof name), 1);
        TK_CHECK_STR(name, "holiday"); /* no SUMMARY */
    }
    if (cal)
        TK_CHECK_INT(tk_calendar_holiday(cal, day(2027, 1, 2), NULL, 0), 1);
    tk_calendar_free(again);
    tk_calendar_free(cal);
    unlink(path);
}

static const char *refusal(const char *zone, const char *window, const char *holidays, int *code)
{
    static struct tk_error err;
    struct tk_calendar_spec spec = {zone, window, holidays, fixtures};
    struct tk_calendar *cal = (struct tk_calendar *)&err; /* must become NULL */
    memset(&err, 0, sizeof err);
    *code = tk_calendar_new(&spec, &cal, &err);
    if (*code == 0 || cal != NULL)
        return "(accepted)";
    return err.msg;
}

TK_TEST(bad_zone_window_and_file_are_refused)
{
    int code = 0;
    char buf[2048];
    TK_CHECK_STR(refusal("Europe/Amsterdm", NULL, NULL, &code),
                 "unknown time zone \"Europe/Amsterdm\" (not in /usr/share/zoneinfo; names look "
                 "like Europe/Amsterdam or America/New_York)");
    TK_CHECK_INT(code, TK_EINVAL);
    TK_CHECK_STR(refusal("../../etc/passwd", NULL, NULL, &code),
                 "bad time zone \"../../etc/passwd\": expected an IANA name such as "
                 "Europe/Amsterdam or America/New_York");
    TK_CHECK(strstr(refusal("right/Europe/Amsterdam", NULL, NULL, &code), "bad time zone") != NULL);
    TK_CHECK(strstr(refusal("zone1970.tab", NULL, NULL, &code), "bad time zone") != NULL);
    TK_CHECK(strstr(refusal("Europe", NULL, NULL, &code), "unknown time zone") != NULL);
    TK_CHECK(strstr(refusal("localtime", NULL, NULL, &code), "bad time zone") != NULL);

    TK_CHECK_STR(refusal(NULL, "mon-fri 9-17", NULL, &code),
                 "bad window \"mon-fri 9-17\": expected a time HH:MM at \"9-17\"");
    TK_CHECK_INT(code, TK_EINVAL);
    TK_CHECK_STR(refusal(NULL, "monday 09:00-17:00", NULL, &code),
                 "bad window \"monday 09:00-17:00\": unknown day \"monday\" (days are mon tue wed "
                 "thu fri sat sun)");
    TK_CHECK_STR(refusal(NULL, "mon-fri 17:00-09:00", NULL, &code),
                 "bad window \"mon-fri 17:00-09:00\": 17:00-09:00 ends before it starts (a range "
                 "stays within one day: for nights use 22:00-24:00 and 00:00-06:00)");
    TK_CHECK_STR(refusal(NULL, "mon 09:00-25:00", NULL, &code),
                 "bad window \"mon 09:00-25:00\": no such time (00:00 .. 24:00) at \"25:00\"");
    TK_CHECK_STR(refusal(NULL, "mon-fri 09:00-17:00 sat", NULL, &code),
                 "bad window \"mon-fri 09:00-17:00 sat\": expected \";\" before the next rule at "
                 "\"sat\"");
    TK_CHECK_STR(refusal(NULL, " ; ", NULL, &code),
                 "bad window \" ; \": expected days (mon-fri) or hours (09:00-17:00) at \"; \"");
    TK_CHECK_STR(refusal(NULL,
                         "mon 00:00-01:00,02:00-03:00,04:00-05:00,06:00-07:00,08:00-09:00,"
                         "10:00-11:00,12:00-13:00,14:00-15:00,16:00-17:00",
                         NULL, &code),
                 "bad window \"mon 00:00-01:00,02:00-03:00,04:00-05:00,06:00-07:00,08:00-09:00,10:"
                 "00-11:00,12:0...\": more than 8 separate time ranges on mon");
    TK_CHECK_STR(refusal(NULL, "mon\n09:00", NULL, &code),
                 "bad window \"mon?09:00\": expected \";\" before the next rule at \"?09:00\"");

    TK_CHECK_STR(refusal(NULL, NULL, "de", &code),
                 "bad holidays \"de\": expected nl, none or the path of an .ics file");
    snprintf(buf, sizeof buf, "holidays file %s/missing.ics: No such file or directory", fixtures);
    TK_CHECK_STR(refusal(NULL, NULL, "missing.ics", &code), buf);
    TK_CHECK_INT(code, TK_EIO);
    snprintf(buf, sizeof buf,
             "%s/bad_timed.ics:12: event \"Team meeting\" starts at a time of day; holidays are "
             "all-day events (DTSTART;VALUE=DATE:YYYYMMDD)",
             fixtures);
    TK_CHECK_STR(refusal(NULL, NULL, "bad_timed.ics", &code), buf);
    TK_CHECK_INT(code, TK_EINVAL);
    snprintf(buf, sizeof buf,
             "%s/bad_syntax.ics:8: libical: Got a data line, but could not find a property name or "
             "component begin tag: this line is no property at all",
             fixtures);
    TK_CHECK_STR(refusal(NULL, NULL, "bad_syntax.ics", &code), buf);
    snprintf(buf, sizeof buf, "%s/bad_date.ics:7: DTSTART is not a real date", fixtures);
    TK_CHECK_STR(refusal(NULL, NULL, "bad_date.ics", &code), buf);
    snprintf(buf, sizeof buf,
             "%s/not_a_calendar.ics: not an iCalendar file (no complete BEGIN:VCALENDAR ... "
             "END:VCALENDAR)",
             fixtures);
    TK_CHECK_STR(refusal(NULL, NULL, "not_a_calendar.ics", &code), buf);

    /* BEGIN and END must pair up, checked before libical guesses */
    static const struct {
        const char *text, *msg;
    } nesting[] = {
        {"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20261225\nEND:VTODO\nEND:VCALENDAR\n",
         ":4: END:VTODO where BEGIN:VEVENT of line 2 should end"},
        {"END:VEVENT\n", ":1: END:VEVENT without a BEGIN before it"},
        {"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n", ":2: BEGIN:VEVENT is never closed"},
        {"BEGIN:VCALENDAR\nSUMMARY:\x1b[31mred\nEND:VCALENDAR\nBEGIN:VCALENDAR\x1b\n",
         ":4: BEGIN:VCALENDAR? is never closed"},
    };
    for (size_t i = 0; i < sizeof nesting / sizeof *nesting; i++) {
        char path[] = "/tmp/tk-nesting-XXXXXX.ics";
        int fd = mkstemps(path, 4);
        TK_CHECK(fd >= 0);
        if (fd < 0)
            continue;
        TK_CHECK((size_t)write(fd, nesting[i].text, strlen(nesting[i].text)) ==
                 strlen(nesting[i].text));
        close(fd);
        snprintf(buf, sizeof buf, "%s%s", path, nesting[i].msg);
        TK_CHECK_STR(refusal(NULL, NULL, path, &code), buf);
        unlink(path);
    }

    /* the per-option checks say the same, for the CLI */
    struct tk_error err = {0};
    TK_CHECK_INT(tk_calendar_check_zone("Mars/Olympus_Mons", &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "Mars/Olympus_Mons") != NULL);
    TK_CHECK_INT(tk_calendar_check_zone("America/New_York", &err), 0);
    TK_CHECK_INT(tk_calendar_check_zone(NULL, &err), 0); /* the default, UTC */
    TK_CHECK_INT(tk_calendar_check_window("mon-fri 9-17", buf, sizeof buf, &err), TK_EINVAL);
    TK_CHECK_INT(tk_calendar_check_holidays("bad_timed.ics", fixtures, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "bad_timed.ics:12:") != NULL);
    TK_CHECK_INT(tk_calendar_check_holidays("office.ics", fixtures, &err), 0);
    TK_CHECK_INT(tk_calendar_check_holidays("NL", NULL, &err), 0);
    TK_CHECK_INT(tk_calendar_check_holidays("none", NULL, &err), 0);
}

static const char *canon(const char *spec)
{
    static char buf[TK_CALENDAR_WINDOW_MAX];
    static struct tk_error err;
    if (tk_calendar_check_window(spec, buf, sizeof buf, &err))
        return err.msg;
    return buf;
}

TK_TEST(window_grammar_and_canonical_form)
{
    TK_CHECK_STR(canon("always"), "always");
    TK_CHECK_STR(canon("  ALWAYS "), "always");
    TK_CHECK_STR(canon("mon-sun 00:00-24:00"), "always");
    TK_CHECK_STR(canon("Mon-Fri 9:00-17:00;sat 10:00-12:00"),
                 "mon-fri 09:00-17:00; sat 10:00-12:00");
    TK_CHECK_STR(canon("mon,wed 10:00-12:00"), "mon,wed 10:00-12:00");
    TK_CHECK_STR(canon("mon-fri 09:00-12:00,13:00-17:00"), "mon-fri 09:00-12:00,13:00-17:00");
    /* touching and overlapping ranges merge; day ranges wrap past sunday */
    TK_CHECK_STR(canon("fri-mon 08:00-12:00, 12:00-13:00 ,11:00-12:30"), "mon,fri-sun 08:00-13:00");
    TK_CHECK_STR(canon("09:00-17:00"), "mon-sun 09:00-17:00");
    TK_CHECK_STR(canon("sat , sun"), "sat,sun 00:00-24:00");
    TK_CHECK_STR(canon("mon-fri 09:00-17:00; mon 18:00-24:00"),
                 "mon 09:00-17:00,18:00-24:00; tue-fri 09:00-17:00");
    TK_CHECK_STR(canon("tue,thu 09:00-10:00; mon,wed,fri 09:00-10:00"), "mon-fri 09:00-10:00");

    /* the spans hold from the start, up to and not including the end */
    struct tk_calendar *c = cal_new("UTC", "mon 09:00-09:01,23:59-24:00", "none");
    TK_CHECK(c != NULL);
    if (!c)
        return;
    TK_CHECK_INT(is_open(c, at("2026-12-07T09:00:00Z")), 1);
    TK_CHECK_INT(is_open(c, at("2026-12-07T09:00:59Z")), 1);
    TK_CHECK_INT(is_open(c, at("2026-12-07T09:01:00Z")), 0);
    TK_CHECK_INT(is_open(c, at("2026-12-07T23:59:59Z")), 1);
    TK_CHECK_INT(is_open(c, at("2026-12-08T00:00:00Z")), 0);
    TK_CHECK_INT(next(c, at("2026-12-07T09:01:00Z")), at("2026-12-07T23:59:00Z"));
    TK_CHECK_INT(next(c, at("2026-12-08T00:00:00Z")), at("2026-12-14T09:00:00Z"));
    tk_calendar_free(c);
}

TK_TEST(defaults_keep_todays_behaviour)
{
    struct tk_calendar_spec spec = {NULL, NULL, NULL, NULL};
    struct tk_calendar *cal = NULL;
    TK_CHECK_INT(tk_calendar_new(&spec, &cal, NULL), 0);
    if (!cal)
        return;
    TK_CHECK_STR(tk_calendar_zone(cal), "UTC");
    TK_CHECK_STR(tk_calendar_window(cal), "always");
    TK_CHECK_STR(tk_calendar_holidays(cal), "none");
    for (tk_time t = at("2026-12-24T00:00:00Z"); t < at("2027-01-02T00:00:00Z"); t += 3599)
        if (next(cal, t) != t) {
            TK_CHECK(0);
            break;
        }
    tk_calendar_free(cal);
}

TK_TEST(local_time_dates_and_headers)
{
    struct tk_calendar *ny = cal_new("America/New_York", NULL, NULL);
    struct tk_calendar *ams = cal_new("Europe/Amsterdam", NULL, NULL);
    struct tk_calendar *ktm = cal_new("Asia/Kathmandu", NULL, NULL);
    char buf[TK_CALENDAR_DATE_HEADER_MAX], ymd[16];
    tk_date d = 0;
    int64_t days = 0;
    TK_CHECK(ny && ams && ktm);
    if (!ny || !ams || !ktm)
        goto out;
    TK_CHECK_INT(
        tk_calendar_format_date_header(ny, at("2026-12-07T14:00:00Z"), buf, sizeof buf, NULL), 0);
    TK_CHECK_STR(buf, "Mon, 07 Dec 2026 09:00:00 -0500");
    tk_calendar_format_date_header(ny, at("2026-07-04T16:05:09Z"), buf, sizeof buf, NULL);
    TK_CHECK_STR(buf, "Sat, 04 Jul 2026 12:05:09 -0400");
    tk_calendar_format_date_header(ktm, at("2026-12-07T03:15:00Z"), buf, sizeof buf, NULL);
    TK_CHECK_STR(buf, "Mon, 07 Dec 2026 09:00:00 +0545");
    /* summer 1920 Amsterdam ran at +01:19:32: the header says +0119 and the
     * clock that goes with it, so it still names the same instant */
    tk_calendar_format_date_header(ams, at("1920-06-01T12:00:00Z"), buf, sizeof buf, NULL);
    TK_CHECK_STR(buf, "Tue, 01 Jun 1920 13:19:00 +0119");
    TK_CHECK_STR(local(ktm, at("2026-12-07T03:15:00Z")), "2026-12-07 09:00 Asia/Kathmandu");

    /* Christmas Day 00:30 in Amsterdam is still 24 December in UTC */
    tk_time t = at("2026-12-24T23:30:00Z");
    TK_CHECK_INT(tk_calendar_local_date(ams, t, &d, NULL), 0);
    TK_CHECK_STR(tk_calendar_date_format(d, ymd, sizeof ymd), "2026-12-25");
    TK_CHECK_INT(tk_calendar_local_date(ny, t, &d, NULL), 0);
    TK_CHECK_STR(tk_calendar_date_format(d, ymd, sizeof ymd), "2026-12-24");
    TK_CHECK_INT(tk_calendar_days_until(ams, t, day(2026, 12, 31), &days, NULL), 0);
    TK_CHECK_INT(days, 6);
    TK_CHECK_INT(tk_calendar_days_until(ny, t, day(2026, 12, 31), &days, NULL), 0);
    TK_CHECK_INT(days, 7);
    TK_CHECK_INT(tk_calendar_days_until(ny, t, day(2026, 12, 20), &days, NULL), 0);
    TK_CHECK_INT(days, -4);

    /* the anchored-schedule question: a step on its day at the opening */
    struct tk_calendar *office = cal_new("Europe/Amsterdam", "mon-fri 09:00-17:00", "nl");
    TK_CHECK(office != NULL);
    if (office) {
        TK_CHECK_INT(tk_calendar_day_opening(office, day(2026, 12, 7), &t, NULL), 0);
        TK_CHECK_INT(t, at("2026-12-07T09:00:00+01:00"));
        TK_CHECK_INT(tk_calendar_day_opening(office, day(2026, 12, 25), &t, NULL), 0);
        TK_CHECK_INT(t, at("2026-12-28T09:00:00+01:00"));
        tk_calendar_free(office);
    }
out:
    tk_calendar_free(ny);
    tk_calendar_free(ams);
    tk_calendar_free(ktm);
}

TK_TEST(dates)
{
    tk_date d = 0;
    int y = 0, m = 0, dd = 0;
    struct tk_error err = {0};
    char buf[16];
    TK_CHECK_INT(tk_calendar_date_parse("2026-12-31", &d, &err), 0);
    TK_CHECK_INT(d, 20818);
    tk_calendar_date_to_ymd(d, &y, &m, &dd);
    TK_CHECK(y == 2026 && m == 12 && dd == 31);
    TK_CHECK_INT(tk_calendar_date_weekday(d), 4);
    TK_CHECK_INT(tk_calendar_date_parse("2028-02-29", &d, &err), 0);
    TK_CHECK_INT(tk_calendar_date_parse("2027-02-29", &d, &err), TK_EINVAL);
    TK_CHECK_STR(err.msg, "bad date '2027-02-29' (no such day in 1900-2199)");
    TK_CHECK_INT(tk_calendar_date_parse("2026-1-5", &d, &err), TK_EINVAL);
    TK_CHECK_STR(err.msg, "bad date '2026-1-5' (expected YYYY-MM-DD)");
    TK_CHECK_INT(tk_calendar_date_parse("1899-12-31", &d, &err), TK_EINVAL);
    TK_CHECK_INT(tk_calendar_date_from_ymd(1900, 1, 1, &d), 0);
    TK_CHECK_INT(d, TK_CALENDAR_MIN_DATE);
    TK_CHECK_INT(tk_calendar_date_from_ymd(2199, 12, 31, &d), 0);
    TK_CHECK_INT(d, TK_CALENDAR_MAX_DATE);
    TK_CHECK_INT(tk_calendar_date_from_ymd(2100, 2, 29, &d), TK_EINVAL);
    TK_CHECK_STR(tk_calendar_date_format(-1, buf, sizeof buf), "1969-12-31");
    TK_CHECK_INT(tk_calendar_date_weekday(0), 4); /* 1970-01-01, a Thursday */
}

/* Bounded work: a calendar that never opens fails, at once, and times
 * outside 1900-2199 are refused rather than guessed. */
TK_TEST(never_open_and_out_of_range)
{
    struct tk_calendar *closed = cal_new("Europe/Amsterdam", "always", "every_day.ics");
    struct tk_calendar *utc = cal_new("UTC", "mon 09:00-10:00", "none");
    struct tk_error err = {0};
    tk_time out = 0;
    TK_CHECK(closed && utc);
    if (!closed || !utc)
        goto out;
    TK_CHECK_INT(tk_calendar_next_opening(closed, at("2026-12-01T00:00:00Z"), &out, &err),
                 TK_ENOTFOUND);
    TK_CHECK(strstr(err.msg, "does not open within 400 days after 2026-12-01T00:00:00Z") != NULL);
    TK_CHECK(strstr(err.msg, "every_day.ics") != NULL);
    /* 1999-12-31 is before the file's first day: open then */
    TK_CHECK_INT(tk_calendar_next_opening(closed, at("1999-12-31T12:00:00Z"), &out, &err), 0);
    TK_CHECK_INT(tk_calendar_next_opening(utc, TK_CALENDAR_MAX_TIME, &out, &err), TK_EINVAL);
    TK_CHECK_STR(err.msg, "time 7258118400 is outside the calendar's range (1900-2199)");
    TK_CHECK_INT(tk_calendar_next_opening(utc, TK_CALENDAR_MIN_TIME - 1, &out, &err), TK_EINVAL);
    TK_CHECK_INT(tk_calendar_next_opening(utc, TK_CALENDAR_MIN_TIME, &out, &err), 0);
    TK_CHECK_INT(out, at("1900-01-01T09:00:00Z")); /* a Monday */
    /* 2199-12-31 is a Tuesday: no Monday opening left before 2200 */
    TK_CHECK_INT(tk_calendar_next_opening(utc, at("2199-12-31T00:00:00Z"), &out, &err),
                 TK_ENOTFOUND);
    TK_CHECK_INT(tk_calendar_local_start(utc, TK_CALENDAR_MAX_DATE + 1, 0, &out, &err), TK_EINVAL);
    TK_CHECK_INT(tk_calendar_local_start(utc, 0, 1441, &out, &err), TK_EINVAL);
    TK_CHECK_INT(tk_calendar_holiday(closed, TK_CALENDAR_MAX_DATE + 1, NULL, 0), 0);
out:
    tk_calendar_free(closed);
    tk_calendar_free(utc);
}

/* Calendars are used from several threads at once, while others build
 * and drop calendars and the caches are cleared under them: TSan (CI's
 * -DTK_TSAN=ON run) fails this on any data race. */
struct worker {
    int id;
    long errors;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    static const char *const zones[] = {"Europe/Amsterdam", "America/New_York", "Asia/Kolkata",
                                        "Australia/Lord_Howe"};
    for (int round = 0; round < 40; round++) {
        struct tk_calendar *cal = cal_new(zones[(w->id + round) % 4], "mon-fri 09:00-17:00",
                                          round % 2 ? "nl" : "office.ics");
        if (!cal) {
            w->errors++;
            continue;
        }
        tk_time t = at("2026-01-01T00:00:00Z") + (tk_time)round * 86400 * 9, o;
        for (int i = 0; i < 200; i++, t += 7919) {
            if (tk_calendar_next_opening(cal, t, &o, NULL) || o < t || !is_open(cal, o))
                w->errors++;
        }
        if (w->id == 0 && round % 10 == 9)
            tk_calendar_cache_clear();
        tk_calendar_free(cal);
    }
    return NULL;
}

TK_TEST(threads_share_calendars_and_caches)
{
    pthread_t th[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i].id = i;
        w[i].errors = 0;
        TK_CHECK_INT(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        TK_CHECK_INT(w[i].errors, 0);
    }
}

int main(void)
{
    const char *src = getenv("TK_SOURCE_DIR");
    snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures/calendar", src ? src : ".");
    TK_RUN(new_york_friday_evening_waits_for_monday_nine);
    TK_RUN(amsterdam_christmas_is_skipped);
    TK_RUN(amsterdam_spring_forward);
    TK_RUN(amsterdam_fall_back);
    TK_RUN(apia_skipped_day);
    TK_RUN(easter_matches_the_table);
    TK_RUN(dutch_holidays);
    TK_RUN(ics_holidays);
    TK_RUN(ics_crlf_and_absolute_path);
    TK_RUN(bad_zone_window_and_file_are_refused);
    TK_RUN(window_grammar_and_canonical_form);
    TK_RUN(defaults_keep_todays_behaviour);
    TK_RUN(local_time_dates_and_headers);
    TK_RUN(dates);
    TK_RUN(never_open_and_out_of_range);
    TK_RUN(threads_share_calendars_and_caches);
    tk_calendar_cache_clear();
    return tk_test_done();
}
