/* tzif.c - a TZif file (RFC 8536) as an immutable table of transitions.
 *
 * Why our own reader and not libical's or GLib's zone code: measured against
 * Python's zoneinfo on this machine's tzdata, libical 3.0.16 gives wrong
 * offsets for some zones (America/St_Johns from 2038 on, Africa/Cairo in
 * some years after 2040, Europe/London in 1977...) and serialises every
 * conversion on one process-wide mutex; GLib 2.74 gets Europe/Dublin wrong
 * after 2037 (its negative DST footer).  glibc's localtime_r() knows one zone
 * per process (TZ), and ICU carries its own copy of the tz data instead of
 * the system's.  docs/calendar.md has the figures.
 *
 * The format is small: a header with six counts, a 32-bit data block, then
 * (version 2+) the same block with 64-bit times, and a footer with a POSIX
 * TZ string for instants after the last transition.  The footer rule is
 * unrolled here into explicit transitions up to the end of the calendar's
 * range (2200), so that every lookup afterwards is one binary search over
 * one array, and the table never changes after this file built it.  Every
 * count, index, offset and string is checked: the fuzz target feeds this
 * parser arbitrary bytes. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HEADER 44
#define MAX_TIMES 50000
#define MAX_TYPES 256
#define MAX_CHARS 4096
#define FOOTER_MAX 256
#define RULE_FIRST_YEAR 1899
#define RULE_LAST_YEAR 2200

struct header {
    int version; /* 0 (v1), 2, 3, 4 */
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int bad(struct tk_error *err, const char *name, const char *why)
{
    return tk_error_set(err, TK_EINVAL, "time zone \"%s\": not a usable TZif file (%s)", name, why);
}

static int read_header(const unsigned char *p, size_t n, struct header *h)
{
    if (n < HEADER || memcmp(p, "TZif", 4) != 0)
        return -1;
    h->version = p[4] == 0 ? 0 : p[4] >= '2' && p[4] <= '9' ? p[4] - '0' : -1;
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    return h->version < 0 ? -1 : 0;
}

static size_t block_size(const struct header *h, size_t tsize)
{
    /* the counts are bounded before this is called, so no overflow */
    return h->timecnt * tsize + h->timecnt + h->typecnt * 6 + h->charcnt +
           h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

static const char *check_counts(const struct header *h)
{
    if (h->leapcnt)
        return "it counts leap seconds (a right/ zone)";
    if (h->typecnt < 1 || h->typecnt > MAX_TYPES || h->charcnt < 1 || h->charcnt > MAX_CHARS ||
        h->timecnt > MAX_TIMES)
        return "counts out of range";
    if ((h->isstdcnt && h->isstdcnt != h->typecnt) || (h->isutcnt && h->isutcnt != h->typecnt))
        return "counts out of range";
    return NULL;
}

/* ---- the footer: a POSIX TZ string, e.g. "CET-1CEST,M3.5.0,M10.5.0/3" ---- */

struct rule_date {
    char kind; /* 'J' (1-365, no Feb 29), 'D' (0-365 zero-based), 'M' (month.week.day) */
    int a, b, c;
    int32_t time; /* seconds after local midnight, -167h .. 167h */
};

struct rule {
    struct tk_tz_type std, dst;
    int has_dst;
    struct rule_date start, end;
};

static const char *parse_name(const char *s, char *out)
{
    size_t n = 0;
    if (*s == '<') {
        for (s++; *s && *s != '>'; s++, n++) {
            if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                  (*s >= '0' && *s <= '9') || *s == '+' || *s == '-'))
                return NULL;
            if (n + 1 < TK_TZ_ABBR_MAX)
                out[n] = *s;
        }
        if (*s != '>')
            return NULL;
        s++;
    } else {
        for (; (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'); s++, n++)
            if (n + 1 < TK_TZ_ABBR_MAX)
                out[n] = *s;
    }
    if (n < 3)
        return NULL;
    out[n < TK_TZ_ABBR_MAX ? n : TK_TZ_ABBR_MAX - 1] = '\0';
    return s;
}

/* [+-]h[h[h]][:mm[:ss]] with hours up to MAXH, as signed seconds. */
static const char *parse_hms(const char *s, int maxh, int32_t *out)
{
    int sign = 1, h = 0, m = 0, sec = 0, nd = 0;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    for (; *s >= '0' && *s <= '9' && nd < 3; s++, nd++)
        h = h * 10 + (*s - '0');
    if (nd == 0 || h > maxh)
        return NULL;
    if (*s == ':') {
        if (s[1] < '0' || s[1] > '5' || s[2] < '0' || s[2] > '9')
            return NULL;
        m = (s[1] - '0') * 10 + (s[2] - '0');
        s += 3;
        if (*s == ':') {
            if (s[1] < '0' || s[1] > '5' || s[2] < '0' || s[2] > '9')
                return NULL;
            sec = (s[1] - '0') * 10 + (s[2] - '0');
            s += 3;
        }
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    return s;
}

static const char *parse_num(const char *s, int min, int max, int *out)
{
    int v = 0, nd = 0;
    for (; *s >= '0' && *s <= '9' && nd < 4; s++, nd++)
        v = v * 10 + (*s - '0');
    if (nd == 0 || v < min || v > max)
        return NULL;
    *out = v;
    return s;
}

static const char *parse_date(const char *s, struct rule_date *d)
{
    memset(d, 0, sizeof *d);
    if (*s == 'J') {
        d->kind = 'J';
        s = parse_num(s + 1, 1, 365, &d->a);
    } else if (*s == 'M') {
        d->kind = 'M';
        if (!(s = parse_num(s + 1, 1, 12, &d->a)) || *s != '.' ||
            !(s = parse_num(s + 1, 1, 5, &d->b)) || *s != '.')
            return NULL;
        s = parse_num(s + 1, 0, 6, &d->c);
    } else {
        d->kind = 'D';
        s = parse_num(s, 0, 365, &d->a);
    }
    if (!s)
        return NULL;
    d->time = 7200; /* POSIX default: 02:00 */
    if (*s == '/')
        s = parse_hms(s + 1, 167, &d->time); /* RFC 8536 section 3.3.1 */
    return s;
}

static int parse_rule(const char *s, struct rule *r)
{
    int32_t off;
    memset(r, 0, sizeof *r);
    if (!(s = parse_name(s, r->std.abbr)) || !(s = parse_hms(s, 24, &off)))
        return -1;
    r->std.off = -off; /* POSIX counts hours west of Greenwich */
    if (!*s)
        return 0;
    if (!(s = parse_name(s, r->dst.abbr)))
        return -1;
    r->dst.isdst = 1;
    r->dst.off = r->std.off + 3600;
    if (*s && *s != ',') {
        if (!(s = parse_hms(s, 24, &off)))
            return -1;
        r->dst.off = -off;
    }
    /* a DST name without rules means "the US rules" to some libraries;
     * RFC 8536 footers always carry them, so anything else is refused */
    if (*s != ',' || !(s = parse_date(s + 1, &r->start)) || *s != ',' ||
        !(s = parse_date(s + 1, &r->end)) || *s)
        return -1;
    r->has_dst = 1;
    return 0;
}

static int64_t rule_day(const struct rule_date *d, int64_t y)
{
    tk_date jan1 = tk_civil_days(y, 1, 1);
    int leap = tk_civil_month_days(y, 2) == 29;
    if (d->kind == 'J')
        return jan1 + d->a - 1 + (leap && d->a >= 60);
    if (d->kind == 'D')
        return jan1 + d->a;
    tk_date first = tk_civil_days(y, d->a, 1);
    int sunday_based = (tk_civil_weekday(first) + 1) % 7;
    tk_date day = first + (d->c - sunday_based + 7) % 7 + 7 * (d->b - 1);
    while (day >= first + tk_civil_month_days(y, d->a))
        day -= 7; /* week 5 is "the last" */
    return day;
}

/* ---- building the table -------------------------------------------------- */

struct table {
    int64_t *at;
    uint16_t *type;
    size_t n, cap;
};

static int push(struct table *t, int64_t at, uint16_t type)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        int64_t *a = realloc(t->at, cap * sizeof *a);
        if (!a)
            return TK_ENOMEM;
        t->at = a;
        uint16_t *ty = realloc(t->type, cap * sizeof *ty);
        if (!ty)
            return TK_ENOMEM;
        t->type = ty;
        t->cap = cap;
    }
    t->at[t->n] = at;
    t->type[t->n++] = type;
    return 0;
}

/* Append the rule's transitions after LAST (INT64_MIN: all of them). */
static int unroll(struct table *t, const struct rule *r, uint16_t std, uint16_t dst, int64_t last)
{
    int64_t y0 = RULE_FIRST_YEAR;
    if (last != INT64_MIN) {
        int y, m, d;
        tk_civil_ymd(tk_civil_floor_div(last, TK_DAY), &y, &m, &d);
        y0 = y - 1 > RULE_FIRST_YEAR ? y - 1 : RULE_FIRST_YEAR;
    }
    for (int64_t y = y0; y <= RULE_LAST_YEAR; y++) {
        /* the start is said in standard time, the end in daylight time */
        int64_t s = rule_day(&r->start, y) * TK_DAY + r->start.time - r->std.off;
        int64_t e = rule_day(&r->end, y) * TK_DAY + r->end.time - r->dst.off;
        int64_t first = s <= e ? s : e, second = s <= e ? e : s;
        uint16_t tf = s <= e ? dst : std, ts = s <= e ? std : dst;
        /* a year boundary can make two transitions share an instant
         * ("all year DST" rules): the later one in rule order wins */
        if (first > last) {
            while (t->n && t->at[t->n - 1] >= first)
                t->n--;
            if (push(t, first, tf))
                return TK_ENOMEM;
        }
        if (second > last) {
            while (t->n && t->at[t->n - 1] >= second)
                t->n--;
            if (push(t, second, ts))
                return TK_ENOMEM;
        }
    }
    return 0;
}

int tk_tz_parse(const void *data, size_t size, const char *name, struct tk_tz **out,
                struct tk_error *err)
{
    const unsigned char *p = data;
    struct header h;
    const char *why;
    size_t tsize = 4, off;
    struct rule rule;
    int has_rule = 0;
    struct table t = {0};
    struct tk_tz *tz;

    *out = NULL;
    if (read_header(p, size, &h))
        return bad(err, name, "no TZif header");
    if ((why = check_counts(&h)))
        return bad(err, name, why);
    off = HEADER + block_size(&h, 4);
    if (off > size)
        return bad(err, name, "truncated");
    if (h.version >= 2) {
        /* skip the 32-bit block: the 64-bit one says everything */
        if (read_header(p + off, size - off, &h))
            return bad(err, name, "no second header");
        if ((why = check_counts(&h)))
            return bad(err, name, why);
        p += off;
        size -= off;
        tsize = 8;
        off = HEADER + block_size(&h, 8);
        if (off > size)
            return bad(err, name, "truncated");
        /* the footer: "\nTZ\n", TZ possibly empty */
        const char *f = (const char *)p + off;
        size_t left = size - off, len = 0;
        if (left < 2 || f[0] != '\n')
            return bad(err, name, "no footer");
        while (1 + len < left && f[1 + len] != '\n' && f[1 + len] != '\0' && len < FOOTER_MAX)
            len++;
        if (1 + len >= left || f[1 + len] != '\n')
            return bad(err, name, "bad footer");
        if (len) {
            char tzs[FOOTER_MAX + 1];
            memcpy(tzs, f + 1, len);
            tzs[len] = '\0';
            if (parse_rule(tzs, &rule))
                return bad(err, name, "bad TZ string in footer");
            has_rule = 1;
        }
    }

    const unsigned char *times = p + HEADER;
    const unsigned char *idx = times + h.timecnt * tsize;
    const unsigned char *info = idx + h.timecnt;
    const char *chars = (const char *)info + h.typecnt * 6;

    tz = calloc(1, sizeof *tz);
    if (!tz)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    atomic_init(&tz->refs, 1);
    tz->ntypes = h.typecnt + (has_rule ? 2 : 0);
    tz->types = calloc(tz->ntypes, sizeof *tz->types);
    tz->name = tk_strdup(name);
    if (!tz->types || !tz->name)
        goto nomem;
    for (uint32_t i = 0; i < h.typecnt; i++) {
        const unsigned char *q = info + i * 6;
        int32_t utoff = (int32_t)be32(q);
        unsigned desig = q[5];
        if (utoff < -89999 || utoff > 93599 || q[4] > 1 || desig >= h.charcnt ||
            !memchr(chars + desig, '\0', h.charcnt - desig)) {
            tk_tz_release(tz);
            return bad(err, name, "bad local time type");
        }
        tz->types[i].off = utoff;
        tz->types[i].isdst = q[4];
        tk_strlcpy(tz->types[i].abbr, chars + desig, TK_TZ_ABBR_MAX);
    }
    for (uint32_t i = 0; i < h.timecnt; i++) {
        int64_t at = tsize == 8 ? be64(times + i * 8) : (int32_t)be32(times + i * 4);
        if (idx[i] >= h.typecnt || (t.n && at <= t.at[t.n - 1])) {
            free(t.at);
            free(t.type);
            tk_tz_release(tz);
            return bad(err, name, "bad transition");
        }
        if (push(&t, at, idx[i]))
            goto nomem;
    }
    /* RFC 8536 section 3.2: type 0 before the first transition */
    tz->first = 0;
    if (has_rule) {
        uint16_t std = (uint16_t)h.typecnt, dst = (uint16_t)(h.typecnt + 1);
        tz->types[std] = rule.std;
        tz->types[dst] = rule.dst;
        if (rule.has_dst) {
            size_t before = t.n;
            if (unroll(&t, &rule, std, dst, t.n ? t.at[t.n - 1] : INT64_MIN))
                goto nomem;
            if (before == 0 && t.n)
                tz->first = t.type[0] == dst ? std : dst;
        } else if (t.n == 0) {
            tz->first = std; /* no transitions: the footer says it all */
        }
    }
    tz->at = t.at;
    tz->type = t.type;
    tz->n = t.n;
    *out = tz;
    return 0;

nomem:
    free(t.at);
    free(t.type);
    tk_tz_release(tz);
    return tk_error_set(err, TK_ENOMEM, "out of memory");
}

void tk_tz_release(struct tk_tz *tz)
{
    if (!tz || atomic_fetch_sub(&tz->refs, 1) != 1)
        return;
    free(tz->name);
    free(tz->types);
    free(tz->at);
    free(tz->type);
    free(tz);
}

const struct tk_tz_type *tk_tz_find(const struct tk_tz *tz, int64_t t, int64_t *next)
{
    /* the last transition at or before T */
    size_t lo = 0, hi = tz->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (next)
        *next = lo < tz->n ? tz->at[lo] : INT64_MAX;
    return &tz->types[lo ? tz->type[lo - 1] : tz->first];
}

int64_t tk_tz_from_local(const struct tk_tz *tz, int64_t local)
{
    /* Walk the stretches of constant offset from two days before (where
     * the wall clock surely reads less than LOCAL: offsets stay within
     * +-26 h) until one of them shows LOCAL, or until the clock jumps past
     * it at a transition (a gap): the first instant at or past LOCAL. */
    int64_t u = local - 2 * TK_DAY, next;
    for (int i = 0; i < 64; i++) {
        const struct tk_tz_type *ty = tk_tz_find(tz, u, &next);
        if (u + ty->off >= local)
            return u;
        if (local - ty->off < next)
            return local - ty->off;
        u = next;
    }
    return u; /* not reached with real data: 64 transitions in 3 days */
}
