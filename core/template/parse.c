/* parse.c - the template file format (docs/templates.md).
 *
 * Strict on purpose: a template is written by staff and read by a program
 * months later, so every surprise (a misspelt key, a section without a
 * Subject:, an unclosed {{#x}}) is an error naming the file and line rather
 * than an email that silently says the wrong thing. */
#include <stdlib.h>
#include <string.h>

#include "template/template.h"

#define MAX_SECTIONS 32
#define MAX_SECTION_NAME 32

enum { ST_HEADER, ST_SUBJECT, ST_BLANK, ST_BODY };

struct parser {
    const char *origin;
    struct tk_template *t;
    struct tk_error *err;
    int state;
    size_t lineno;
    size_t section_line, subject_line, body_line; /* of the open section */
    struct tk_buf body;
    unsigned seen;   /* header keys already set */
    int clean;       /* the whole text is UTF-8 without NUL: no line needs the checks */
    const char *end; /* of the text: a line ends before it or at a '\n' or "\r\n" */
};

static int fail(struct parser *p, size_t line, const char *msg)
{
    return tk_error_set(p->err, TK_EINVAL, "%s:%zu: %s", p->origin, line, msg);
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static int header_line(struct parser *p, const char *s, size_t n)
{
    static const char *const keys[] = {"description", "reminders", "every_days", "count",
                                       "schedule"};
    const char *eq = memchr(s, '=', n), *k = s, *v;
    size_t kn, vn, ki;
    char val[TK_SCHEDULE_TEXT_MAX];
    int64_t num;
    if (!eq)
        return fail(p, p->lineno, "expected 'key = value', a comment or a [section]");
    kn = (size_t)(eq - s);
    v = eq + 1;
    vn = n - kn - 1;
    trim(&k, &kn);
    trim(&v, &vn);
    for (ki = 0; ki < 5; ki++)
        if (strlen(keys[ki]) == kn && memcmp(keys[ki], k, kn) == 0)
            break;
    if (ki == 5)
        return tk_error_set(p->err, TK_EINVAL, "%s:%zu: unknown header key '%.*s'", p->origin,
                            p->lineno, (int)(kn > 64 ? 64 : kn), k);
    if (p->seen & (1u << ki))
        return tk_error_set(p->err, TK_EINVAL, "%s:%zu: '%s' is set twice", p->origin, p->lineno,
                            keys[ki]);
    p->seen |= 1u << ki;
    if (ki == 0) {
        free(p->t->description);
        p->t->description = tk_strndup(v, vn);
        return p->t->description ? 0 : tk_error_set(p->err, TK_ENOMEM, "out of memory");
    }
    tk_strlcpy(val, "", sizeof val);
    if (vn < sizeof val) {
        memcpy(val, v, vn);
        val[vn] = '\0';
    }
    if (ki == 1) {
        if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0)
            return fail(p, p->lineno, "reminders must be 'on' or 'off'");
        p->t->has_reminders = 1;
        p->t->rem_enabled = strcmp(val, "on") == 0;
    } else if (ki == 2) {
        if (tk_parse_int(val, 1, 3650, &num))
            return fail(p, p->lineno, "every_days must be a whole number from 1 to 3650");
        p->t->rem_every_days = (int)num;
    } else if (ki == 3) {
        if (tk_parse_int(val, 0, 1000, &num))
            return fail(p, p->lineno, "count must be a whole number from 0 to 1000");
        p->t->rem_count = (int)num;
    } else {
        /* issue 14: days relative to the item's due date, like -7,0,7 */
        struct tk_error why = {0};
        if (vn >= sizeof val)
            return fail(p, p->lineno, "schedule is too long");
        if (tk_schedule_text_parse(val, p->t->rem_sched, TK_SCHEDULE_MAX, TK_SCHEDULE_LIMIT,
                                   &p->t->rem_nsched, &why))
            return fail(p, p->lineno, why.msg);
    }
    return 0;
}

/* The names SEC's subject and body use, kept in SEC (template.h); left
 * NULL when there are none or too many.  0 or TK_ENOMEM. */
static int keep_names(struct tk_template_section *sec)
{
    struct tk_template_name v[TK_TEMPLATE_NAMES_MAX];
    size_t ns = tk_template_names(sec->subject, v, TK_TEMPLATE_NAMES_MAX), nb;
    if (ns > TK_TEMPLATE_NAMES_MAX)
        return 0;
    nb = tk_template_names(sec->body, v + ns, TK_TEMPLATE_NAMES_MAX - ns);
    if (nb > TK_TEMPLATE_NAMES_MAX - ns || ns + nb == 0)
        return 0;
    if (!(sec->names = malloc((ns + nb) * sizeof *v)))
        return TK_ENOMEM;
    memcpy(sec->names, v, (ns + nb) * sizeof *v);
    sec->nsubject_names = ns;
    sec->nbody_names = nb;
    return 0;
}

/* Close the open section: drop trailing blank lines, check placeholders. */
static int finish_section(struct parser *p)
{
    struct tk_template_section *sec;
    struct tk_error e = {0};
    size_t rel = 0;
    if (p->state == ST_HEADER)
        return 0;
    sec = &p->t->sections[p->t->nsections - 1];
    if (p->state == ST_SUBJECT)
        return tk_error_set(p->err, TK_EINVAL, "%s:%zu: section [%s] has no 'Subject:' line",
                            p->origin, p->section_line, sec->name);
    while (p->body.len &&
           (p->body.data[p->body.len - 1] == '\n' || p->body.data[p->body.len - 1] == ' ' ||
            p->body.data[p->body.len - 1] == '\t'))
        p->body.len--;
    if (p->body.data)
        p->body.data[p->body.len] = '\0';
    if (p->body.len && tk_buf_putc(&p->body, '\n'))
        return tk_error_set(p->err, TK_ENOMEM, "out of memory");
    sec->body = tk_buf_steal(&p->body);
    if (!sec->body)
        return tk_error_set(p->err, TK_ENOMEM, "out of memory");
    if (tk_template_check(sec->subject, &rel, &e))
        return tk_error_set(p->err, TK_EINVAL, "%s:%zu: %s", p->origin, p->subject_line, e.msg);
    if (tk_template_check(sec->body, &rel, &e))
        return tk_error_set(p->err, TK_EINVAL, "%s:%zu: %s", p->origin, p->body_line + rel - 1,
                            e.msg);
    if (keep_names(sec))
        return tk_error_set(p->err, TK_ENOMEM, "out of memory");
    return 0;
}

/* A dotted section name is a step of the tone ladder: reminder.N (N from
 * 1 to TK_TEMPLATE_MAX_STEP, no leading zero) or reminder.last. */
static int ladder_name(struct parser *p, const char *s, size_t n)
{
    const char *step = s + 9;
    size_t sn = n - 9, k;
    long num;
    if (n < 9 || memcmp(s, "reminder.", 9) != 0)
        return tk_error_set(p->err, TK_EINVAL,
                            "%s:%zu: section [%.*s]: only [reminder] has steps"
                            " ([reminder.1], [reminder.2], ..., [reminder.last])",
                            p->origin, p->lineno, (int)n, s);
    if (sn == 4 && memcmp(step, "last", 4) == 0)
        return 0;
    for (k = 0, num = 0; k < sn && k < 5 && step[k] >= '0' && step[k] <= '9'; k++)
        num = num * 10 + (step[k] - '0');
    if (sn && k == sn && step[0] != '0' && num <= TK_TEMPLATE_MAX_STEP)
        return 0;
    return tk_error_set(p->err, TK_EINVAL,
                        "%s:%zu: section [%.*s]: a reminder step is a number from 1 to %d"
                        " or 'last'",
                        p->origin, p->lineno, (int)n, s, TK_TEMPLATE_MAX_STEP);
}

static int section_line(struct parser *p, const char *s, size_t n)
{
    size_t i = 1, nl;
    struct tk_template_section *sec;
    int rc = finish_section(p);
    if (rc)
        return rc;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9' && i > 1) ||
                     ((s[i] == '_' || s[i] == '-' || s[i] == '.') && i > 1)))
        i++;
    nl = i - 1;
    if (nl == 0 || nl > MAX_SECTION_NAME || i >= n || s[i] != ']' ||
        !is_blank(s + i + 1, n - i - 1))
        return fail(p, p->lineno,
                    "malformed section header: expected [name] with a-z, 0-9, '_' or '-'"
                    " (write \\[ for a body line starting with '[')");
    if (memchr(s + 1, '.', nl) && (rc = ladder_name(p, s + 1, nl)))
        return rc;
    for (size_t k = 0; k < p->t->nsections; k++)
        if (strlen(p->t->sections[k].name) == nl && memcmp(p->t->sections[k].name, s + 1, nl) == 0)
            return tk_error_set(p->err, TK_EINVAL, "%s:%zu: section [%.*s] appears twice",
                                p->origin, p->lineno, (int)nl, s + 1);
    if (p->t->nsections == MAX_SECTIONS)
        return fail(p, p->lineno, "too many sections");
    if (!p->t->sections) {
        p->t->sections = calloc(MAX_SECTIONS, sizeof *p->t->sections);
        if (!p->t->sections)
            return tk_error_set(p->err, TK_ENOMEM, "out of memory");
    }
    sec = &p->t->sections[p->t->nsections++];
    sec->name = tk_strndup(s + 1, nl);
    if (!sec->name)
        return tk_error_set(p->err, TK_ENOMEM, "out of memory");
    tk_buf_reset(&p->body);
    p->section_line = p->lineno;
    p->state = ST_SUBJECT;
    return 0;
}

static int one_line(struct parser *p, const char *s, size_t n)
{
    struct tk_template_section *sec;
    if (!p->clean && memchr(s, '\0', n))
        return fail(p, p->lineno, "NUL byte in template");
    if (!p->clean && !tk_utf8_valid(s, n))
        return fail(p, p->lineno, "invalid UTF-8");
    if (n && s[0] == '[')
        return section_line(p, s, n);
    switch (p->state) {
    case ST_HEADER:
        if (is_blank(s, n))
            return 0;
        {
            const char *k = s;
            size_t kn = n;
            trim(&k, &kn);
            if (*k == '#')
                return 0;
        }
        return header_line(p, s, n);
    case ST_SUBJECT:
        sec = &p->t->sections[p->t->nsections - 1];
        if (n < 8 || memcmp(s, "Subject:", 8) != 0)
            return tk_error_set(p->err, TK_EINVAL,
                                "%s:%zu: expected 'Subject:' as the first line of [%s]", p->origin,
                                p->lineno, sec->name);
        s += 8;
        n -= 8;
        trim(&s, &n);
        sec->subject = tk_strndup(s, n);
        if (!sec->subject)
            return tk_error_set(p->err, TK_ENOMEM, "out of memory");
        p->subject_line = p->lineno;
        p->state = ST_BLANK;
        return 0;
    case ST_BLANK:
        if (!is_blank(s, n))
            return fail(p, p->lineno, "expected a blank line after 'Subject:'");
        p->body_line = p->lineno + 1;
        p->state = ST_BODY;
        /* Room for the whole body at once (it ends before the next line
         * that starts with '[', or with the text), instead of a realloc at
         * each doubling.  A body too long for a buffer is left to the
         * appends to refuse, as before; a failed allocation is one. */
        {
            const char *next = s;
            size_t room;
            while ((next = memchr(next, '[', (size_t)(p->end - next))) && next[-1] != '\n')
                next++;
            room = (size_t)((next ? next : p->end) - s);
            if (room < TK_BUF_DEFAULT_MAX && tk_buf_reserve(&p->body, room))
                return tk_error_set(p->err, TK_ENOMEM, "out of memory");
        }
        return 0;
    default:
        if (n >= 2 && s[0] == '\\' && s[1] == '[')
            s++, n--;
        /* the line and its '\n' in one append when the text has it there */
        if (s + n < p->end && s[n] == '\n') {
            if (tk_buf_append(&p->body, s, n + 1))
                return tk_error_set(p->err, TK_ENOMEM, "out of memory");
            return 0;
        }
        if (tk_buf_append(&p->body, s, n) || tk_buf_putc(&p->body, '\n'))
            return tk_error_set(p->err, TK_ENOMEM, "out of memory");
        return 0;
    }
}

int tk_template_parse(const char *text, size_t len, const char *origin, struct tk_template *out,
                      struct tk_error *err)
{
    struct parser p = {0};
    size_t i = 0;
    int rc = 0;
    memset(out, 0, sizeof *out);
    out->rem_enabled = out->rem_every_days = out->rem_count = -1;
    out->origin = tk_strdup(origin ? origin : "template");
    if (!out->origin)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    p.origin = out->origin;
    p.t = out;
    p.err = err;
    p.end = text + len;
    /* One pass over the text instead of one a line: every command that
     * sends parses the plugins' 26 compiled-in templates (bench/RESULTS.md
     * update 51).  A '\n' is never inside a UTF-8 sequence, so a valid text
     * has valid lines; otherwise each line is checked as before, and the
     * first bad one is named. */
    p.clean = !memchr(text, '\0', len) && tk_utf8_valid(text, len);
    while (!rc && i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        p.lineno++;
        rc = one_line(&p, text + i, n && text[i + n - 1] == '\r' ? n - 1 : n);
        i += n + (nl ? 1 : 0);
    }
    if (!rc) {
        if (p.lineno == 0)
            p.lineno = 1;
        rc = finish_section(&p);
    }
    if (!rc && out->nsections == 0)
        rc = fail(&p, p.lineno, "no [section] found");
    tk_buf_free(&p.body);
    if (rc)
        tk_template_free(out);
    return rc;
}

void tk_template_free(struct tk_template *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nsections; i++) {
        free(t->sections[i].name);
        free(t->sections[i].subject);
        free(t->sections[i].body);
        free(t->sections[i].names);
    }
    free(t->sections);
    free(t->origin);
    free(t->description);
    memset(t, 0, sizeof *t);
}

const struct tk_template_section *tk_template_section(const struct tk_template *t, const char *name)
{
    for (size_t i = 0; t && name && i < t->nsections; i++)
        if (strcmp(t->sections[i].name, name) == 0)
            return &t->sections[i];
    return NULL;
}
