/* time.c - the clock as seconds since the epoch, ISO 8601 in and out. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Days from civil date (Howard Hinnant's algorithm): no timegm/TZ games. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int tk_parse_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int tk_time_parse(const char *s, tk_time *out)
{
    int y, mo, d, h = 0, mi = 0, se = 0, oh = 0, om = 0, sign = 0;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || strlen(s) < 10 || tk_parse_digits(s, 4, &y) || s[4] != '-' ||
        tk_parse_digits(s + 5, 2, &mo) || s[7] != '-' || tk_parse_digits(s + 8, 2, &d))
        return TK_EINVAL;
    s += 10;
    if (*s == 'T' || *s == ' ') {
        if (tk_parse_digits(s + 1, 2, &h) || s[3] != ':' || tk_parse_digits(s + 4, 2, &mi))
            return TK_EINVAL;
        s += 6;
        if (*s == ':') {
            if (tk_parse_digits(s + 1, 2, &se))
                return TK_EINVAL;
            s += 3;
            if (*s == '.') /* fractions are dropped */
                for (s++; *s >= '0' && *s <= '9'; s++)
                    ;
        }
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            sign = *s == '+' ? 1 : -1;
            if (tk_parse_digits(s + 1, 2, &oh) || s[3] != ':' || tk_parse_digits(s + 4, 2, &om))
                return TK_EINVAL;
            s += 6;
        } else {
            return TK_EINVAL; /* a time must say it is UTC */
        }
    }
    if (*s || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
        return TK_EINVAL;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return TK_EINVAL;
    *out = days_from_civil(y, (unsigned)mo, (unsigned)d) * TK_DAY + h * 3600 + mi * 60 + se -
           sign * (oh * 3600 + om * 60);
    return 0;
}

/* DIGITS decimal digits of V at P, zero-padded. */
static void put_digits(char *p, unsigned v, int digits)
{
    while (digits--) {
        p[digits] = (char)('0' + v % 10);
        v /= 10;
    }
}

char *tk_time_format(tk_time t, char *buf, size_t size)
{
    /* years 1000 to 9999 by arithmetic (Howard Hinnant's civil_from_days,
     * the inverse of days_from_civil): gmtime_r and strftime were most
     * of an item's JSON (bench/RESULTS.md update 14); the same bytes,
     * unit.test_time_format.  Anything else as before. */
    if (t >= -30610224000LL && t <= 253402300799LL && size >= 21) {
        int64_t days = (t >= 0 ? t : t - 86399) / 86400, z = days + 719468;
        unsigned secs = (unsigned)(t - days * 86400);
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned)(z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;
        unsigned d = doy - (153 * mp + 2) / 5 + 1;
        unsigned m = mp < 10 ? mp + 3 : mp - 9;
        int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
        put_digits(buf, (unsigned)y, 4);
        buf[4] = '-';
        put_digits(buf + 5, m, 2);
        buf[7] = '-';
        put_digits(buf + 8, d, 2);
        buf[10] = 'T';
        put_digits(buf + 11, secs / 3600, 2);
        buf[13] = ':';
        put_digits(buf + 14, secs / 60 % 60, 2);
        buf[16] = ':';
        put_digits(buf + 17, secs % 60, 2);
        buf[19] = 'Z';
        buf[20] = '\0';
        return buf;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

tk_time tk_time_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (tk_time)ts.tv_sec;
}

int64_t tk_time_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tk_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r <= 0)
            return TK_EIO;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}
