/* ics.c - holiday days from an iCalendar file, read with libical.
 *
 * libical parses the file and expands recurrences (RRULE through its own
 * recurrence iterator, RDATE, EXDATE, RECURRENCE-ID overrides); this file
 * only turns all-day VEVENTs into a sorted array of dates in 1900-2199.
 *
 * libical's tree does not keep line numbers, so the text is also split
 * into content lines here (RFC 5545 section 3.1 unfolding) for one purpose
 * only: to name the line of a problem.  libical reports a bad line as an
 * X-LIC-ERROR property in the component around it, with the offending
 * text; we look for that text among the component's lines.
 *
 * Every call into libical happens under one mutex.  libical 3.0.16 guards
 * its own zone tables, but keeps other process-wide state (the
 * errors-are-fatal switch, the builtin zone list an event's TZID may load)
 * and was not written with concurrent parsers in mind.  Parsing happens
 * only when a calendar is built and the file is not cached yet, so the
 * lock costs nothing where it matters; converting times never touches
 * libical. */
#include <dlfcn.h>
#include <libical/ical.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#ifndef ICAL_LIBRARY
#define ICAL_LIBRARY "libical.so.3"
#endif

/* libical is opened at the first holiday file (dlopen of libical.so.3),
 * not linked: linked, it and ICU (libstdc++ with it) were 10 libraries and
 * 3.7M instructions of symbol lookups at the start of every tickler
 * command (bench/RESULTS.md, update 10).  Each function goes through a
 * pointer of its declared type, so the compiler checks every call as if
 * it were linked; the names below stand for those pointers. */
#define ICAL_FUNCTIONS                                                                             \
    F(icalcomponent_free)                                                                          \
    F(icalcomponent_get_dtend)                                                                     \
    F(icalcomponent_get_dtstart)                                                                   \
    F(icalcomponent_get_first_component)                                                           \
    F(icalcomponent_get_first_property)                                                            \
    F(icalcomponent_get_next_component)                                                            \
    F(icalcomponent_get_next_property)                                                             \
    F(icalcomponent_get_recurrenceid)                                                              \
    F(icalcomponent_get_status)                                                                    \
    F(icalcomponent_get_summary)                                                                   \
    F(icalcomponent_get_uid)                                                                       \
    F(icalcomponent_isa)                                                                           \
    F(icalerror_set_errors_are_fatal)                                                              \
    F(icalparser_parse_string)                                                                     \
    F(icalperiodtype_is_null_period)                                                               \
    F(icalproperty_get_exdate)                                                                     \
    F(icalproperty_get_rdate)                                                                      \
    F(icalproperty_get_rrule)                                                                      \
    F(icalproperty_get_xlicerror)                                                                  \
    F(icalrecur_iterator_free)                                                                     \
    F(icalrecur_iterator_new)                                                                      \
    F(icalrecur_iterator_next)                                                                     \
    F(icaltime_is_null_time)

static struct {
#define F(name) __typeof__(name) *p_##name;
    ICAL_FUNCTIONS
#undef F
} ical;
static char ical_why[200];
static pthread_once_t ical_once = PTHREAD_ONCE_INIT;

static void ical_load(void)
{
    void *h = dlopen(ICAL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(ical_why, sizeof ical_why, "cannot load %s: %s", ICAL_LIBRARY, dlerror());
        return;
    }
#define F(name)                                                                                    \
    if (!(*(void **)&ical.p_##name = dlsym(h, #name))) {                                           \
        snprintf(ical_why, sizeof ical_why, "%s has no %s", ICAL_LIBRARY, #name);                  \
        ical.p_icalparser_parse_string = NULL;                                                     \
        return;                                                                                    \
    }
    ICAL_FUNCTIONS
#undef F
}

/* from here on each name is its pointer */
#define icalcomponent_free (ical.p_icalcomponent_free)
#define icalcomponent_get_dtend (ical.p_icalcomponent_get_dtend)
#define icalcomponent_get_dtstart (ical.p_icalcomponent_get_dtstart)
#define icalcomponent_get_first_component (ical.p_icalcomponent_get_first_component)
#define icalcomponent_get_first_property (ical.p_icalcomponent_get_first_property)
#define icalcomponent_get_next_component (ical.p_icalcomponent_get_next_component)
#define icalcomponent_get_next_property (ical.p_icalcomponent_get_next_property)
#define icalcomponent_get_recurrenceid (ical.p_icalcomponent_get_recurrenceid)
#define icalcomponent_get_status (ical.p_icalcomponent_get_status)
#define icalcomponent_get_summary (ical.p_icalcomponent_get_summary)
#define icalcomponent_get_uid (ical.p_icalcomponent_get_uid)
#define icalcomponent_isa (ical.p_icalcomponent_isa)
#define icalerror_set_errors_are_fatal (ical.p_icalerror_set_errors_are_fatal)
#define icalparser_parse_string (ical.p_icalparser_parse_string)
#define icalperiodtype_is_null_period (ical.p_icalperiodtype_is_null_period)
#define icalproperty_get_exdate (ical.p_icalproperty_get_exdate)
#define icalproperty_get_rdate (ical.p_icalproperty_get_rdate)
#define icalproperty_get_rrule (ical.p_icalproperty_get_rrule)
#define icalproperty_get_xlicerror (ical.p_icalproperty_get_xlicerror)
#define icalrecur_iterator_free (ical.p_icalrecur_iterator_free)
#define icalrecur_iterator_new (ical.p_icalrecur_iterator_new)
#define icalrecur_iterator_next (ical.p_icalrecur_iterator_next)
#define icaltime_is_null_time (ical.p_icaltime_is_null_time)

/* Recurrence steps per file.  libical takes about 10 us a step, so a
 * daily rule from 2000 to 2199 costs most of a second, once per file: the
 * result is cached.  The fuzz build lowers the bound to keep its pace. */
#ifndef ITERATIONS_MAX
#define ITERATIONS_MAX 400000
#endif
#define SPAN_MAX 3660 /* days one event may cover */

static pthread_mutex_t ical_lock = PTHREAD_MUTEX_INITIALIZER;

/* Content lines, unfolded, with the number of the line each starts on. */
struct lines {
    struct tk_buf text; /* NUL-separated */
    size_t *off, *no, n, cap;
    size_t *ev_begin, *ev_end, nev, evcap; /* lines of each top-level VEVENT */
};

struct exclusion {
    const char *uid; /* borrowed from the libical tree */
    tk_date day;
};

struct load {
    const char *name;
    struct tk_error *err;
    struct lines lines;
    struct tk_holiday_day *days;
    size_t n, cap;
    struct tk_buf names;
    struct exclusion *ex;
    size_t nex, excap;
    long iterations;
};

static const char *line_text(const struct lines *l, size_t i)
{
    return l->text.data + l->off[i];
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return TK_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int split_lines(struct load *ld, const char *data, size_t size)
{
    struct lines *l = &ld->lines;
    size_t no = 0, depth = 0, cap2;
    const char *p = data, *end = data + size;

    l->text.max = 2 * size + 64;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        size_t len = (size_t)(e - p);
        if (len && p[len - 1] == '\r')
            len--;
        no++;
        if ((*p == ' ' || *p == '\t') && l->n && len) {
            /* a folded continuation: drop the NUL, append, end again */
            l->text.len--;
            if (tk_buf_append(&l->text, p + 1, len - 1) || tk_buf_putc(&l->text, '\0'))
                return TK_ENOMEM;
        } else {
            cap2 = l->cap;
            if (grow((void **)&l->off, &l->cap, l->n + 1, sizeof *l->off) ||
                grow((void **)&l->no, &cap2, l->n + 1, sizeof *l->no))
                return TK_ENOMEM;
            l->off[l->n] = l->text.len;
            l->no[l->n++] = no;
            if (tk_buf_append(&l->text, p, len) || tk_buf_putc(&l->text, '\0'))
                return TK_ENOMEM;
        }
        p = nl ? nl + 1 : end;
    }
    /* the top-level VEVENTs in order: they match libical's tree */
    for (size_t i = 0; i < l->n; i++) {
        const char *t = line_text(l, i);
        if (!strncasecmp(t, "BEGIN:", 6)) {
            if (depth == 1 && !strcasecmp(t + 6, "VEVENT")) {
                size_t c = l->evcap;
                if (grow((void **)&l->ev_begin, &l->evcap, l->nev + 1, sizeof(size_t)) ||
                    grow((void **)&l->ev_end, &c, l->nev + 1, sizeof(size_t)))
                    return TK_ENOMEM;
                l->ev_begin[l->nev] = i;
                l->ev_end[l->nev++] = l->n - 1;
            }
            depth++;
        } else if (!strncasecmp(t, "END:", 4) && depth) {
            depth--;
            if (depth == 1 && !strcasecmp(t + 4, "VEVENT") && l->nev)
                l->ev_end[l->nev - 1] = i;
        }
    }
    return 0;
}

static void free_lines(struct lines *l)
{
    tk_buf_free(&l->text);
    free(l->off);
    free(l->no);
    free(l->ev_begin);
    free(l->ev_end);
}

/* The line number of event K's first line whose text contains NEEDLE (or
 * starts with it, when PREFIX), else of its BEGIN:VEVENT; 0 when unknown. */
static size_t event_line(const struct load *ld, size_t k, const char *needle, int prefix)
{
    const struct lines *l = &ld->lines;
    size_t first = 0, last = l->n ? l->n - 1 : 0;
    if (k != (size_t)-1) {
        if (k >= l->nev)
            return 0;
        first = l->ev_begin[k];
        last = l->ev_end[k];
    }
    if (needle && *needle)
        for (size_t i = first; i <= last && i < l->n; i++) {
            const char *t = line_text(l, i);
            if (prefix ? !strncasecmp(t, needle, strlen(needle)) &&
                             (t[strlen(needle)] == ':' || t[strlen(needle)] == ';')
                       : strstr(t, needle) != NULL)
                return l->no[i];
        }
    return k != (size_t)-1 && first < l->n ? l->no[first] : 0;
}

/* Report at LINE (0: no line) of the file. */
static int failed(struct load *ld, size_t line, const char *fmt, ...) TK_PRINTF(3, 4);
static int failed(struct load *ld, size_t line, const char *fmt, ...)
{
    char what[TK_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    for (char *w = what; *w; w++) /* text from the file: nothing for a terminal to act on */
        if ((unsigned char)*w < 0x20 || *w == 0x7f)
            *w = '?';
    if (line)
        return tk_error_set(ld->err, TK_EINVAL, "%s:%zu: %s", ld->name, line, what);
    return tk_error_set(ld->err, TK_EINVAL, "%s: %s", ld->name, what);
}

/* BEGIN and END must pair up; libical would only warn on stderr and guess
 * where a component ends. */
#define DEPTH_MAX 16
static int check_nesting(struct load *ld)
{
    const struct lines *l = &ld->lines;
    size_t open[DEPTH_MAX], depth = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *t = line_text(l, i);
        if (!strncasecmp(t, "BEGIN:", 6)) {
            if (depth == DEPTH_MAX)
                return failed(ld, l->no[i], "components nested more than %d deep", DEPTH_MAX);
            open[depth++] = i;
        } else if (!strncasecmp(t, "END:", 4)) {
            if (!depth)
                return failed(ld, l->no[i], "%.40s without a BEGIN before it", t);
            const char *b = line_text(l, open[depth - 1]) + 6;
            if (strcasecmp(b, t + 4) != 0)
                return failed(ld, l->no[i], "%.40s where BEGIN:%.40s of line %zu should end", t, b,
                              l->no[open[depth - 1]]);
            depth--;
        }
    }
    if (depth)
        return failed(ld, l->no[open[depth - 1]], "BEGIN:%.40s is never closed",
                      line_text(l, open[depth - 1]) + 6);
    return 0;
}

/* A name that prints safely on one line: controls become spaces, and a
 * name that is not UTF-8 keeps its ASCII only. */
static int add_name(struct load *ld, const char *s, uint32_t *off)
{
    char buf[128];
    size_t n = 0;
    int utf8 = tk_utf8_valid(s, strlen(s));
    for (; *s && n + 1 < sizeof buf; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            buf[n++] = ' ';
        else if (c < 0x80 || utf8)
            buf[n++] = (char)c;
        else
            buf[n++] = '?';
    }
    /* never cut a UTF-8 sequence in two */
    while (utf8 && n && !tk_utf8_valid(buf, n))
        n--;
    buf[n] = '\0';
    *off = (uint32_t)ld->names.len;
    if (tk_buf_append(&ld->names, buf, n + 1))
        return TK_ENOMEM;
    return 0;
}

static int add_days(struct load *ld, tk_date first, int64_t len, uint32_t name)
{
    for (int64_t i = 0; i < len; i++) {
        tk_date d = first + i;
        if (d < TK_CALENDAR_MIN_DATE || d > TK_CALENDAR_MAX_DATE)
            continue;
        if (ld->n == TK_ICS_DAYS_MAX)
            return failed(ld, 0, "more than %d holiday days between 1900 and 2199",
                          TK_ICS_DAYS_MAX);
        if (grow((void **)&ld->days, &ld->cap, ld->n + 1, sizeof *ld->days))
            return tk_error_set(ld->err, TK_ENOMEM, "out of memory");
        ld->days[ld->n].day = d;
        ld->days[ld->n++].name = name;
    }
    return 0;
}

/* A DATE value's day number; -1 with a message when it is no real date. */
static int date_of(struct load *ld, size_t k, const char *prop, struct icaltimetype t, tk_date *out)
{
    if (t.year < 1583 || t.year > 9999 || t.month < 1 || t.month > 12 || t.day < 1 ||
        t.day > tk_civil_month_days(t.year, t.month))
        return failed(ld, event_line(ld, k, prop, 1), "%s is not a real date", prop);
    *out = tk_civil_days(t.year, t.month, t.day);
    return 0;
}

struct date_list {
    tk_date *v;
    size_t n, cap;
};

static int excluded(const struct load *ld, const char *uid, tk_date day,
                    const struct date_list *exdates)
{
    for (size_t i = 0; i < exdates->n; i++)
        if (exdates->v[i] == day)
            return 1;
    for (size_t i = 0; uid && i < ld->nex; i++)
        if (ld->ex[i].day == day && !strcmp(ld->ex[i].uid, uid))
            return 1;
    return 0;
}

static int occurrence(struct load *ld, const char *uid, tk_date day, int64_t len, uint32_t name,
                      const struct date_list *exdates)
{
    if (excluded(ld, uid, day, exdates))
        return 0;
    return add_days(ld, day, len, name);
}

static int load_event(struct load *ld, icalcomponent *ev, size_t k)
{
    struct icaltimetype s = icalcomponent_get_dtstart(ev), e;
    struct date_list exdates = {0};
    icalproperty *p;
    const char *summary = icalcomponent_get_summary(ev), *uid = icalcomponent_get_uid(ev);
    tk_date start = 0, stop;
    uint32_t name;
    int rc = 0;
    char label[80];

    if (icalcomponent_get_status(ev) == ICAL_STATUS_CANCELLED)
        return 0;
    snprintf(label, sizeof label, "%s", summary && *summary ? summary : "(no SUMMARY)");
    for (char *t = label; *t; t++)
        if ((unsigned char)*t < 0x20 || *t == 0x7f)
            *t = ' ';
    if (icaltime_is_null_time(s))
        return failed(ld, event_line(ld, k, NULL, 0), "event \"%s\" has no DTSTART", label);
    if (!s.is_date)
        return failed(ld, event_line(ld, k, "DTSTART", 1),
                      "event \"%s\" starts at a time of day; holidays are all-day events "
                      "(DTSTART;VALUE=DATE:YYYYMMDD)",
                      label);
    if (date_of(ld, k, "DTSTART", s, &start))
        return TK_EINVAL;
    stop = start + 1;
    e = icalcomponent_get_dtend(ev);
    if (!icaltime_is_null_time(e)) {
        const char *prop =
            icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY) ? "DTEND" : "DURATION";
        if (!e.is_date)
            return failed(ld, event_line(ld, k, prop, 1),
                          "event \"%s\": %s must be whole days for an all-day event", label, prop);
        if (date_of(ld, k, prop, e, &stop))
            return TK_EINVAL;
    }
    if (stop <= start || stop - start > SPAN_MAX)
        return failed(ld, event_line(ld, k, "DTEND", 1),
                      "event \"%s\" ends before it starts or lasts more than ten years", label);
    if (add_name(ld, summary && *summary ? summary : "holiday", &name))
        return tk_error_set(ld->err, TK_ENOMEM, "out of memory");

    for (p = icalcomponent_get_first_property(ev, ICAL_EXDATE_PROPERTY); p;
         p = icalcomponent_get_next_property(ev, ICAL_EXDATE_PROPERTY)) {
        tk_date d = 0;
        if (date_of(ld, k, "EXDATE", icalproperty_get_exdate(p), &d))
            goto out_einval;
        if (grow((void **)&exdates.v, &exdates.cap, exdates.n + 1, sizeof *exdates.v))
            goto out_enomem;
        exdates.v[exdates.n++] = d;
    }

    /* an override of one occurrence stands on its own: its master skips
     * the day it replaces (collected before the masters are expanded) */
    if (!icaltime_is_null_time(icalcomponent_get_recurrenceid(ev)))
        uid = NULL; /* an override: nothing of its own is replaced */
    if ((rc = occurrence(ld, uid, start, stop - start, name, &exdates)))
        goto out;
    for (p = icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY); p;
         p = icalcomponent_get_next_property(ev, ICAL_RDATE_PROPERTY)) {
        struct icaldatetimeperiodtype r = icalproperty_get_rdate(p);
        tk_date d;
        if (!icalperiodtype_is_null_period(r.period) || !r.time.is_date) {
            rc = failed(ld, event_line(ld, k, "RDATE", 1),
                        "event \"%s\": RDATE must list dates (RDATE;VALUE=DATE:YYYYMMDD)", label);
            goto out;
        }
        if (date_of(ld, k, "RDATE", r.time, &d))
            goto out_einval;
        if ((rc = occurrence(ld, uid, d, stop - start, name, &exdates)))
            goto out;
    }
    for (p = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY); p;
         p = icalcomponent_get_next_property(ev, ICAL_RRULE_PROPERTY)) {
        struct icalrecurrencetype rule = icalproperty_get_rrule(p);
        icalrecur_iterator *it;
        struct icaltimetype o;
        if (rule.freq < ICAL_DAILY_RECURRENCE || rule.freq > ICAL_YEARLY_RECURRENCE) {
            rc = failed(ld, event_line(ld, k, "RRULE", 1),
                        "event \"%s\": RRULE must repeat DAILY, WEEKLY, MONTHLY or YEARLY", label);
            goto out;
        }
        it = icalrecur_iterator_new(rule, s);
        if (!it) {
            rc = failed(ld, event_line(ld, k, "RRULE", 1),
                        "event \"%s\": libical cannot expand this RRULE", label);
            goto out;
        }
        while (!icaltime_is_null_time(o = icalrecur_iterator_next(it)) && o.year < 2200) {
            tk_date d;
            if (++ld->iterations > ITERATIONS_MAX) {
                icalrecur_iterator_free(it);
                rc = failed(ld, event_line(ld, k, "RRULE", 1),
                            "event \"%s\": the recurrences expand to more than %d steps", label,
                            ITERATIONS_MAX);
                goto out;
            }
            if (o.year < 1583 || o.month < 1 || o.month > 12 || o.day < 1 ||
                o.day > tk_civil_month_days(o.year, o.month))
                continue;
            d = tk_civil_days(o.year, o.month, o.day);
            if (d == start || d + (stop - start) <= TK_CALENDAR_MIN_DATE)
                continue; /* DTSTART was added above; before 1900 nothing is kept */
            if ((rc = occurrence(ld, uid, d, stop - start, name, &exdates))) {
                icalrecur_iterator_free(it);
                goto out;
            }
        }
        icalrecur_iterator_free(it);
    }
out:
    free(exdates.v);
    return rc;
out_einval:
    free(exdates.v);
    return TK_EINVAL;
out_enomem:
    free(exdates.v);
    return tk_error_set(ld->err, TK_ENOMEM, "out of memory");
}

/* The first X-LIC-ERROR anywhere under C: libical's word on a bad line. */
static icalproperty *first_error(icalcomponent *c, icalcomponent **where)
{
    icalproperty *p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY);
    if (p) {
        *where = c;
        return p;
    }
    for (icalcomponent *k = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT); k;
         k = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT))
        if ((p = first_error(k, where)))
            return p;
    return NULL;
}

static int cmp_day(const void *a, const void *b)
{
    const struct tk_holiday_day *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return x->name < y->name ? -1 : x->name > y->name;
}

static int walk(struct load *ld, icalcomponent *root)
{
    icalcomponent *cals[64], *where = NULL, *c, *ev;
    icalproperty *bad;
    size_t ncal = 0, k;
    int rc, pass;

    if (icalcomponent_isa(root) == ICAL_VCALENDAR_COMPONENT) {
        cals[ncal++] = root;
    } else if (icalcomponent_isa(root) == ICAL_XROOT_COMPONENT) {
        for (c = icalcomponent_get_first_component(root, ICAL_VCALENDAR_COMPONENT); c;
             c = icalcomponent_get_next_component(root, ICAL_VCALENDAR_COMPONENT)) {
            if (ncal == 64)
                return failed(ld, 0, "more than 64 VCALENDARs in one file");
            cals[ncal++] = c;
        }
    }
    if (!ncal)
        return failed(ld, 0, "not an iCalendar file (no BEGIN:VCALENDAR ... END:VCALENDAR)");
    if ((bad = first_error(root, &where))) {
        const char *msg = icalproperty_get_xlicerror(bad), *needle;
        size_t kev = (size_t)-1, line;
        char text[300];
        msg = msg ? msg : "parse error";
        needle = strrchr(msg, ':');
        needle = needle ? needle + 1 : NULL;
        while (needle && *needle == ' ')
            needle++;
        /* which top-level event holds it, to search its lines only */
        k = 0;
        for (size_t i = 0; i < ncal && kev == (size_t)-1; i++)
            for (ev = icalcomponent_get_first_component(cals[i], ICAL_VEVENT_COMPONENT); ev;
                 ev = icalcomponent_get_next_component(cals[i], ICAL_VEVENT_COMPONENT), k++)
                if (ev == where) {
                    kev = k;
                    break;
                }
        line = event_line(ld, kev, needle, 0);
        snprintf(text, sizeof text, "%s", msg);
        for (char *t = text; *t; t++)
            if ((unsigned char)*t < 0x20)
                *t = ' ';
        return failed(ld, line, "libical: %s", text);
    }
    /* pass 0 collects the occurrences that RECURRENCE-ID events replace,
     * pass 1 expands everything */
    for (pass = 0; pass < 2; pass++) {
        k = 0;
        for (size_t i = 0; i < ncal; i++) {
            for (ev = icalcomponent_get_first_component(cals[i], ICAL_VEVENT_COMPONENT); ev;
                 ev = icalcomponent_get_next_component(cals[i], ICAL_VEVENT_COMPONENT), k++) {
                struct icaltimetype rid = icalcomponent_get_recurrenceid(ev);
                const char *uid = icalcomponent_get_uid(ev);
                if (pass == 0) {
                    tk_date d = 0; /* set by date_of when it returns 0 */
                    if (icaltime_is_null_time(rid) || !uid)
                        continue;
                    if (date_of(ld, k, "RECURRENCE-ID", rid, &d))
                        return TK_EINVAL;
                    if (grow((void **)&ld->ex, &ld->excap, ld->nex + 1, sizeof *ld->ex))
                        return tk_error_set(ld->err, TK_ENOMEM, "out of memory");
                    ld->ex[ld->nex].uid = uid;
                    ld->ex[ld->nex++].day = d;
                } else if ((rc = load_event(ld, ev, k))) {
                    return rc;
                }
            }
        }
    }
    return 0;
}

int tk_ics_parse(const char *data, size_t size, const char *name, struct tk_holiday_set **out,
                 struct tk_error *err)
{
    struct load ld;
    struct tk_holiday_set *set = NULL;
    icalcomponent *root;
    char *text;
    int rc;

    *out = NULL;
    memset(&ld, 0, sizeof ld);
    ld.name = name;
    ld.err = err;
    if (size > TK_ICS_FILE_MAX)
        return tk_error_set(err, TK_EINVAL, "%s: larger than %d KiB, not a holiday list", name,
                            TK_ICS_FILE_MAX / 1024);
    if (memchr(data, '\0', size))
        return tk_error_set(err, TK_EINVAL, "%s: not a text file (it contains NUL bytes)", name);
    if (!(text = tk_strndup(data, size)))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    if (split_lines(&ld, data, size)) {
        free(text);
        free_lines(&ld.lines);
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    if ((rc = check_nesting(&ld))) {
        free(text);
        free_lines(&ld.lines);
        return rc;
    }

    pthread_once(&ical_once, ical_load);
    if (!ical.p_icalparser_parse_string) {
        free(text);
        free_lines(&ld.lines);
        return tk_error_set(err, TK_ERR, "%s: %s", name, ical_why);
    }
    pthread_mutex_lock(&ical_lock);
    icalerror_set_errors_are_fatal(0);
    root = icalparser_parse_string(text);
    if (!root)
        rc =
            failed(&ld, 0, "not an iCalendar file (no complete BEGIN:VCALENDAR ... END:VCALENDAR)");
    else
        rc = walk(&ld, root);
    if (root)
        icalcomponent_free(root);
    pthread_mutex_unlock(&ical_lock);
    free(text);
    free_lines(&ld.lines);
    free(ld.ex);

    if (rc == 0) {
        /* sorted, one entry per day (the first event's name wins) */
        if (ld.n)
            qsort(ld.days, ld.n, sizeof *ld.days, cmp_day);
        size_t w = 0;
        for (size_t i = 0; i < ld.n; i++)
            if (!w || ld.days[w - 1].day != ld.days[i].day)
                ld.days[w++] = ld.days[i];
        ld.n = w;
        set = calloc(1, sizeof *set);
        if (!set || (!ld.names.data && tk_buf_putc(&ld.names, '\0'))) {
            free(set);
            set = NULL;
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        }
    }
    if (rc) {
        free(ld.days);
        tk_buf_free(&ld.names);
        return rc;
    }
    atomic_init(&set->refs, 1);
    set->days = ld.days;
    set->n = ld.n;
    set->names = tk_buf_steal(&ld.names);
    if (!set->names) {
        free(set->days);
        free(set);
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    *out = set;
    return 0;
}
