/* test_calendar_tzdir.c - zones from $TZDIR: a zone given only by its
 * footer rule (a "slim" TZif file with no transitions) agrees with the
 * system's full file, and UTC works where the folder has no UTC file.
 *
 * Its own executable: $TZDIR is read once, when the first zone loads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calendar/calendar.h"
#include "tk_test.h"

static char dir[] = "/tmp/tk-tzdir-XXXXXX";

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A TZif v2 file with no transitions, one type (OFF, ABBR) and FOOTER. */
static int write_slim(const char *name, int32_t off, const char *abbr, const char *footer)
{
    unsigned char buf[512];
    size_t n = 0, alen = strlen(abbr) + 1;
    for (int block = 0; block < 2; block++) {
        memset(buf + n, 0, 44);
        memcpy(buf + n, "TZif2", 5);
        be32(buf + n + 36, 1);              /* typecnt */
        be32(buf + n + 40, (uint32_t)alen); /* charcnt */
        n += 44;
        be32(buf + n, (uint32_t)off);
        buf[n + 4] = 0;
        buf[n + 5] = 0;
        n += 6;
        memcpy(buf + n, abbr, alen);
        n += alen;
    }
    n += (size_t)snprintf((char *)buf + n, sizeof buf - n, "\n%s\n", footer);
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fwrite(buf, 1, n, f);
    return fclose(f);
}

static int copy(const char *from, const char *to)
{
    char path[256], data[16384];
    FILE *in = fopen(from, "rb"), *out;
    size_t n;
    if (!in)
        return -1;
    n = fread(data, 1, sizeof data, in);
    fclose(in);
    snprintf(path, sizeof path, "%s/%s", dir, to);
    if (!(out = fopen(path, "wb")))
        return -1;
    fwrite(data, 1, n, out);
    return fclose(out);
}

static struct tk_calendar *zone(const char *name)
{
    struct tk_calendar_spec spec = {name, NULL, NULL, NULL};
    struct tk_calendar *cal = NULL;
    struct tk_error err = {0};
    if (tk_calendar_new(&spec, &cal, &err))
        fprintf(stderr, "%s: %s\n", name, err.msg);
    return cal;
}

TK_TEST(footer_only_zone_matches_the_full_file)
{
    char sub[300];
    snprintf(sub, sizeof sub, "%s/Europe", dir);
    TK_CHECK_INT(mkdir(sub, 0700), 0);
    TK_CHECK_INT(copy("/usr/share/zoneinfo/Europe/Amsterdam", "Europe/Amsterdam"), 0);
    TK_CHECK_INT(write_slim("Slim", 3600, "CET", "CET-1CEST,M3.5.0,M10.5.0/3"), 0);
    /* a southern zone whose rule crosses the new year, with a quoted name
     * and a half-hour DST (Lord Howe's rule) */
    TK_CHECK_INT(write_slim("South", 37800, "+1030", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0"), 0);
    TK_CHECK_INT(copy("/usr/share/zoneinfo/Australia/Lord_Howe", "Lord_Howe"), 0);

    struct tk_calendar *full = zone("Europe/Amsterdam"), *slim = zone("Slim");
    struct tk_calendar *south = zone("South"), *howe = zone("Lord_Howe");
    TK_CHECK(full && slim && south && howe);
    if (full && slim && south && howe) {
        long diff = 0, n = 0;
        /* every 3 hours 17 minutes from 1997 (the EU rule) to 2199 */
        for (tk_time t = 852076800; t < TK_CALENDAR_MAX_TIME; t += 11820, n++) {
            struct tk_calendar_local a, b, c, d;
            tk_calendar_to_local(full, t, &a, NULL);
            tk_calendar_to_local(slim, t, &b, NULL);
            tk_calendar_to_local(howe, t, &c, NULL);
            tk_calendar_to_local(south, t, &d, NULL);
            if (a.utc_offset != b.utc_offset || strcmp(a.abbr, b.abbr) != 0)
                diff++;
            if (t >= 1230768000 /* 2009, Lord Howe's current rule */ &&
                (c.utc_offset != d.utc_offset || strcmp(c.abbr, d.abbr) != 0))
                diff++;
        }
        TK_CHECK(n > 500000);
        TK_CHECK_INT(diff, 0);
    }
    tk_calendar_free(full);
    tk_calendar_free(slim);
    tk_calendar_free(south);
    tk_calendar_free(howe);
}

TK_TEST(utc_without_a_utc_file)
{
    struct tk_calendar *utc = zone("UTC");
    struct tk_calendar_local l;
    struct tk_error err = {0};
    TK_CHECK(utc != NULL);
    if (utc) {
        TK_CHECK_INT(tk_calendar_to_local(utc, 1796630400, &l, NULL), 0);
        TK_CHECK_INT(l.utc_offset, 0);
        TK_CHECK_STR(l.abbr, "UTC");
        TK_CHECK_STR(tk_calendar_zone(utc), "UTC");
    }
    tk_calendar_free(utc);
    /* the folder is $TZDIR's, not /usr/share/zoneinfo */
    TK_CHECK_INT(tk_calendar_check_zone("America/New_York", &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, dir) != NULL);
}

TK_TEST(broken_zone_files_are_refused)
{
    struct tk_error err = {0};
    TK_CHECK_INT(write_slim("Nodst", 3600, "CET", "CET-1CEST"), 0); /* DST without rules */
    TK_CHECK_INT(tk_calendar_check_zone("Nodst", &err), TK_EINVAL);
    TK_CHECK_STR(err.msg, "time zone \"Nodst\": not a usable TZif file (bad TZ string in footer)");
    char path[300];
    snprintf(path, sizeof path, "%s/Text", dir);
    FILE *f = fopen(path, "w");
    TK_CHECK(f != NULL);
    if (f) {
        fputs("not a zone\n", f);
        fclose(f);
    }
    TK_CHECK_INT(tk_calendar_check_zone("Text", &err), TK_EINVAL);
    TK_CHECK_STR(err.msg, "time zone \"Text\": not a usable TZif file (no TZif header)");
    TK_CHECK_INT(tk_calendar_check_zone("Europe", &err), TK_EINVAL); /* a folder */
    TK_CHECK(strstr(err.msg, "unknown time zone \"Europe\"") != NULL);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    setenv("TZDIR", dir, 1); /* before the first zone is loaded */
    TK_RUN(footer_only_zone_matches_the_full_file);
    TK_RUN(utc_without_a_utc_file);
    TK_RUN(broken_zone_files_are_refused);
    tk_calendar_cache_clear();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return tk_test_done();
}
