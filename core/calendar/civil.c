/* civil.c - Gregorian dates as day numbers, and Easter.
 *
 * Pure integer arithmetic (Howard Hinnant's days_from_civil and
 * civil_from_days), so that no date question ever goes through timegm(),
 * mktime() or the process's TZ. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

tk_date tk_civil_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void tk_civil_ymd(tk_date day, int *y, int *m, int *d)
{
    int64_t z = day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t dd = doy - (153 * mp + 2) / 5 + 1;
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (mm <= 2));
    *m = (int)mm;
    *d = (int)dd;
}

int tk_civil_weekday(tk_date day)
{
    /* 1970-01-01 was a Thursday (3 when Monday is 0) */
    int64_t w = (day + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

int tk_civil_month_days(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

tk_date tk_calendar_easter(int year)
{
    /* The anonymous Gregorian algorithm (Meeus, Astronomical Algorithms,
     * ch. 8); checked against a table for 2000-2050 in test_calendar. */
    int a = year % 19, b = year / 100, c = year % 100;
    int d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3;
    int h = (19 * a + b - d - g + 15) % 30;
    int i = c / 4, k = c % 4;
    int l = (32 + 2 * e + 2 * i - h - k) % 7;
    int m = (a + 11 * h + 22 * l) / 451;
    int month = (h + l - 7 * m + 114) / 31;
    int day = (h + l - 7 * m + 114) % 31 + 1;
    return tk_civil_days(year, month, day);
}

int tk_calendar_date_from_ymd(int year, int month, int day, tk_date *out)
{
    if (year < 1900 || year > 2199 || month < 1 || month > 12 || day < 1 ||
        day > tk_civil_month_days(year, month))
        return TK_EINVAL;
    *out = tk_civil_days(year, month, day);
    return 0;
}

void tk_calendar_date_to_ymd(tk_date date, int *year, int *month, int *day)
{
    tk_civil_ymd(date, year, month, day);
}

int tk_calendar_date_weekday(tk_date date)
{
    return tk_civil_weekday(date) + 1;
}

int tk_calendar_date_parse(const char *s, tk_date *out, struct tk_error *err)
{
    int y, m, d;
    if (!s || strlen(s) != 10 || tk_parse_digits(s, 4, &y) || s[4] != '-' ||
        tk_parse_digits(s + 5, 2, &m) || s[7] != '-' || tk_parse_digits(s + 8, 2, &d))
        return tk_error_set(err, TK_EINVAL, "bad date '%s' (expected YYYY-MM-DD)", s ? s : "");
    if (tk_calendar_date_from_ymd(y, m, d, out))
        return tk_error_set(err, TK_EINVAL, "bad date '%s' (no such day in 1900-2199)", s);
    return 0;
}

char *tk_calendar_date_format(tk_date date, char *buf, size_t size)
{
    int y, m, d;
    tk_civil_ymd(date, &y, &m, &d);
    snprintf(buf, size, "%04d-%02d-%02d", y, m, d);
    return buf;
}
