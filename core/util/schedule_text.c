/* schedule_text.c - an anchored schedule's offsets as text ("-7,0,7"):
 * parsed the same way for the command line, templates, the store and the
 * API (Lua and JSON arrays are joined to this text first). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int tk_schedule_text_parse(const char *s, int *offs, int max, int limit, int *n,
                           struct tk_error *err)
{
    const char *p = s;
    int k = 0;
    *n = 0;
    if (!s || !*s)
        return tk_error_set(err, TK_EINVAL,
                            "schedule: empty; give days relative to the due date, like -7,0,7");
    for (;;) {
        char *end;
        long v;
        while (*p == ' ')
            p++;
        if (!((*p >= '0' && *p <= '9') || ((*p == '-' || *p == '+') && p[1] >= '0' && p[1] <= '9')))
            return tk_error_set(err, TK_EINVAL,
                                "schedule '%s': '%.20s' is not a whole number of days (like "
                                "-7,0,7)",
                                s, p);
        errno = 0;
        v = strtol(p, &end, 10);
        if (errno || v < -limit || v > limit)
            return tk_error_set(err, TK_EINVAL, "schedule '%s': an offset is %d to %d days", s,
                                -limit, limit);
        p = end;
        while (*p == ' ')
            p++;
        if (*p && *p != ',')
            return tk_error_set(err, TK_EINVAL,
                                "schedule '%s': '%.20s' is not a whole number of days (like "
                                "-7,0,7)",
                                s, p);
        if (k == max)
            return tk_error_set(err, TK_EINVAL, "schedule '%s': at most %d offsets", s, max);
        for (int i = 0; i < k; i++)
            if (offs[i] == (int)v)
                return tk_error_set(err, TK_EINVAL, "schedule '%s': day %ld is given twice", s, v);
        offs[k++] = (int)v;
        if (!*p)
            break;
        p++; /* the comma: another offset must follow */
    }
    qsort(offs, (size_t)k, sizeof *offs, cmp_int);
    *n = k;
    return 0;
}

char *tk_schedule_text_format(const int *offs, int n, char *buf, size_t size)
{
    size_t len = 0;
    if (size)
        buf[0] = '\0';
    for (int i = 0; i < n && len < size; i++) {
        int w = snprintf(buf + len, size - len, "%s%d", i ? "," : "", offs[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return buf;
}
