/* window.c - send windows: days and hours in the client's local time.
 *
 *   window = "always" | rule *( ";" rule )
 *   rule   = [ days ] [ spans ]          at least one of the two
 *   days   = day [ "-" day ] *( "," day [ "-" day ] )   mon tue wed thu fri sat sun
 *   spans  = HH:MM "-" HH:MM *( "," HH:MM "-" HH:MM )   00:00 .. 24:00, start < end
 *
 * A rule without days holds every day, one without spans the whole day; a
 * day range may wrap ("fri-mon").  Spaces may stand between any two tokens;
 * case does not matter.  Everything is merged into at most TK_WINDOW_SPANS
 * sorted, disjoint spans per weekday, and printed back in one canonical
 * form so that equal windows compare equal as text. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define SPEC_MAX 512
#define RAW_SPANS 32 /* per weekday before merging */

static const char *const day_names[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

struct raw {
    int n[7];
    uint16_t start[7][RAW_SPANS], end[7][RAW_SPANS];
};

struct parser {
    const char *spec, *s;
    struct tk_error *err;
};

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int is_letter(int c)
{
    c = lower(c);
    return c >= 'a' && c <= 'z';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static void skip_space(struct parser *p)
{
    while (*p->s == ' ' || *p->s == '\t')
        p->s++;
}

/* The spec as it can be shown in a one-line message: printable ASCII only,
 * cut at 80 characters. */
static const char *shown(const char *s, char *buf, size_t size)
{
    size_t i = 0;
    for (; *s && i + 4 < size && i < 80; s++)
        buf[i++] = (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?';
    if (*s && i + 4 < size) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

static int fail(struct parser *p, const char *what)
{
    char spec[96], at[96];
    if (!*p->s)
        return tk_error_set(p->err, TK_EINVAL, "bad window \"%s\": %s at the end",
                            shown(p->spec, spec, sizeof spec), what);
    return tk_error_set(p->err, TK_EINVAL, "bad window \"%s\": %s at \"%s\"",
                        shown(p->spec, spec, sizeof spec), what, shown(p->s, at, 24));
}

static int parse_day(struct parser *p, int *day)
{
    const char *s = p->s;
    size_t n = 0;
    while (is_letter(s[n]))
        n++;
    for (int d = 0; d < 7 && n == 3; d++) {
        if (lower(s[0]) == day_names[d][0] && lower(s[1]) == day_names[d][1] &&
            lower(s[2]) == day_names[d][2]) {
            *day = d;
            p->s += 3;
            return 0;
        }
    }
    char spec[96], word[32];
    if (n == 0)
        return fail(p, "expected a day (mon tue wed thu fri sat sun)");
    snprintf(word, sizeof word, "%.*s", (int)(n < 20 ? n : 20), s);
    return tk_error_set(p->err, TK_EINVAL,
                        "bad window \"%s\": unknown day \"%s\" (days are mon tue wed thu fri sat "
                        "sun)",
                        shown(p->spec, spec, sizeof spec), shown(word, word, sizeof word));
}

/* H:MM or HH:MM, as minutes after midnight; 24:00 only when END. */
static int parse_time(struct parser *p, int end, int *minutes)
{
    const char *s = p->s;
    int h, m;
    if (!is_digit(s[0]))
        return fail(p, "expected a time HH:MM");
    h = s[0] - '0';
    s++;
    if (is_digit(*s))
        h = h * 10 + (*s++ - '0');
    if (*s != ':' || !is_digit(s[1]) || !is_digit(s[2]) || is_digit(s[3]))
        return fail(p, "expected a time HH:MM");
    m = (s[1] - '0') * 10 + (s[2] - '0');
    if (h > 24 || m > 59 || (h == 24 && (m != 0 || !end)))
        return fail(p, end ? "no such time (00:00 .. 24:00)" : "no such time (00:00 .. 23:59)");
    p->s = s + 3;
    *minutes = h * 60 + m;
    return 0;
}

static int parse_rule(struct parser *p, struct raw *raw)
{
    int mask = 0, nspans = 0, rc;
    uint16_t start[RAW_SPANS], end[RAW_SPANS];

    skip_space(p);
    if (is_letter(*p->s)) {
        for (;;) {
            int a, b;
            if ((rc = parse_day(p, &a)))
                return rc;
            b = a;
            skip_space(p);
            if (*p->s == '-') {
                p->s++;
                skip_space(p);
                if ((rc = parse_day(p, &b)))
                    return rc;
                skip_space(p);
            }
            for (int d = a;; d = (d + 1) % 7) { /* "fri-mon" wraps past sunday */
                mask |= 1 << d;
                if (d == b)
                    break;
            }
            if (*p->s != ',')
                break;
            p->s++;
            skip_space(p);
        }
    }
    if (is_digit(*p->s)) {
        for (;;) {
            int a, b;
            const char *at = p->s;
            if ((rc = parse_time(p, 0, &a)))
                return rc;
            skip_space(p);
            if (*p->s != '-')
                return fail(p, "expected \"-\" and the end of the time range");
            p->s++;
            skip_space(p);
            if ((rc = parse_time(p, 1, &b)))
                return rc;
            if (b <= a) {
                char spec[96];
                return tk_error_set(p->err, TK_EINVAL,
                                    "bad window \"%s\": %.*s ends before it starts (a range "
                                    "stays within one day: for nights use 22:00-24:00 and "
                                    "00:00-06:00)",
                                    shown(p->spec, spec, sizeof spec), (int)(p->s - at), at);
            }
            if (nspans == RAW_SPANS)
                return fail(p, "too many time ranges");
            start[nspans] = (uint16_t)a;
            end[nspans++] = (uint16_t)b;
            skip_space(p);
            if (*p->s != ',')
                break;
            p->s++;
            skip_space(p);
        }
    }
    if (!mask && !nspans)
        return fail(p, "expected days (mon-fri) or hours (09:00-17:00)");
    if (!mask)
        mask = 0x7f;
    if (!nspans) {
        start[0] = 0;
        end[0] = 1440;
        nspans = 1;
    }
    for (int d = 0; d < 7; d++) {
        if (!(mask & 1 << d))
            continue;
        for (int i = 0; i < nspans; i++) {
            if (raw->n[d] == RAW_SPANS)
                return fail(p, "too many time ranges");
            raw->start[d][raw->n[d]] = start[i];
            raw->end[d][raw->n[d]++] = end[i];
        }
    }
    return 0;
}

/* Sort and merge one weekday's spans; touching spans join (12:00 ends one
 * and starts the next). */
static int merge(const struct raw *raw, int d, struct tk_window *w)
{
    uint16_t s[RAW_SPANS], e[RAW_SPANS];
    int n = raw->n[d], out = 0;
    memcpy(s, raw->start[d], sizeof s);
    memcpy(e, raw->end[d], sizeof e);
    for (int i = 1; i < n; i++) { /* insertion sort: a handful of spans */
        uint16_t ks = s[i], ke = e[i];
        int j = i - 1;
        for (; j >= 0 && s[j] > ks; j--) {
            s[j + 1] = s[j];
            e[j + 1] = e[j];
        }
        s[j + 1] = ks;
        e[j + 1] = ke;
    }
    for (int i = 0; i < n; i++) {
        if (out && s[i] <= w->end[d][out - 1]) {
            if (e[i] > w->end[d][out - 1])
                w->end[d][out - 1] = e[i];
            continue;
        }
        if (out == TK_WINDOW_SPANS)
            return -1;
        w->start[d][out] = s[i];
        w->end[d][out++] = e[i];
    }
    w->n[d] = (uint8_t)out;
    return 0;
}

int tk_window_parse(const char *spec, struct tk_window *out, struct tk_error *err)
{
    struct parser p = {spec ? spec : "", spec ? spec : "", err};
    struct raw raw;
    struct tk_window w;
    const char *s = p.s;
    size_t len;
    int rc;

    memset(&raw, 0, sizeof raw);
    memset(&w, 0, sizeof w);
    while (*s == ' ' || *s == '\t')
        s++;
    len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (strlen(p.spec) > SPEC_MAX)
        return tk_error_set(err, TK_EINVAL, "bad window: longer than %d characters", SPEC_MAX);
    if (len == 6 && !strncasecmp(s, "always", 6)) {
        for (int d = 0; d < 7; d++) {
            w.n[d] = 1;
            w.end[d][0] = 1440;
        }
        *out = w;
        return 0;
    }
    if (len == 0) {
        char sp[96];
        return tk_error_set(err, TK_EINVAL,
                            "bad window \"%s\": expected \"always\" or days and hours such as "
                            "\"mon-fri 09:00-17:00\"",
                            shown(p.spec, sp, sizeof sp));
    }
    for (;;) {
        if ((rc = parse_rule(&p, &raw)))
            return rc;
        skip_space(&p);
        if (!*p.s)
            break;
        if (*p.s != ';')
            return fail(&p, "expected \";\" before the next rule");
        p.s++;
    }
    for (int d = 0; d < 7; d++) {
        if (merge(&raw, d, &w)) {
            char sp[96];
            return tk_error_set(err, TK_EINVAL,
                                "bad window \"%s\": more than %d separate time ranges on %s",
                                shown(p.spec, sp, sizeof sp), TK_WINDOW_SPANS, day_names[d]);
        }
    }
    *out = w;
    return 0;
}

static int same_day(const struct tk_window *w, int a, int b)
{
    if (w->n[a] != w->n[b])
        return 0;
    for (int i = 0; i < w->n[a]; i++)
        if (w->start[a][i] != w->start[b][i] || w->end[a][i] != w->end[b][i])
            return 0;
    return 1;
}

static void put(char *buf, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n < size) {
        memcpy(buf + *len, s, n + 1);
        *len += n;
    }
}

void tk_window_format(const struct tk_window *w, char *buf, size_t size)
{
    size_t len = 0;
    int done = 0, always = 1;
    char tmp[32];

    if (size)
        buf[0] = '\0';
    for (int d = 0; d < 7; d++)
        always &= w->n[d] == 1 && w->start[d][0] == 0 && w->end[d][0] == 1440;
    if (always) {
        put(buf, size, &len, "always");
        return;
    }
    /* one rule per distinct set of spans, days in order, runs as "mon-fri" */
    for (int d = 0; d < 7; d++) {
        if (!w->n[d] || done & 1 << d)
            continue;
        int group = 0;
        for (int e = d; e < 7; e++)
            if (w->n[e] && same_day(w, d, e))
                group |= 1 << e;
        done |= group;
        if (len)
            put(buf, size, &len, "; ");
        int first = 1;
        for (int e = 0; e < 7; e++) {
            if (!(group & 1 << e))
                continue;
            int f = e;
            while (f + 1 < 7 && group & 1 << (f + 1))
                f++;
            if (!first)
                put(buf, size, &len, ",");
            first = 0;
            put(buf, size, &len, day_names[e]);
            if (f > e) {
                put(buf, size, &len, f == e + 1 ? "," : "-");
                put(buf, size, &len, day_names[f]);
            }
            e = f;
        }
        for (int i = 0; i < w->n[d]; i++) {
            snprintf(tmp, sizeof tmp, "%s%02d:%02d-%02d:%02d", i ? "," : " ", w->start[d][i] / 60,
                     w->start[d][i] % 60, w->end[d][i] / 60, w->end[d][i] % 60);
            put(buf, size, &len, tmp);
        }
    }
}

int tk_window_contains(const struct tk_window *w, int wday, int sec)
{
    for (int i = 0; i < w->n[wday]; i++)
        if (sec >= w->start[wday][i] * 60 && sec < w->end[wday][i] * 60)
            return 1;
    return 0;
}

int tk_window_next_start(const struct tk_window *w, int wday, int sec)
{
    for (int i = 0; i < w->n[wday]; i++)
        if (w->start[wday][i] * 60 > sec)
            return w->start[wday][i] * 60;
    return -1;
}
