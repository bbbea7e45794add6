/* render.c - placeholders: {{name}}, {{#name}}...{{/name}} and
 * {{^name}}...{{/name}}.
 *
 * One pass over the source; values are copied verbatim and never scanned
 * again, so a client name containing "{{firm.name}}" stays literal.  A
 * section tag alone on its line takes the whole line with it ("standalone",
 * as in Mustache), so that conditional paragraphs leave no blank lines. */
#include <string.h>

#include "template/template.h"

#define MAX_DEPTH 32
#define MAX_NAME 128

enum { TAG_VAR, TAG_OPEN, TAG_INVERT, TAG_CLOSE };

struct tag {
    int kind;
    const char *name;
    size_t nlen;
    size_t start, end; /* "{{" ... past "}}" */
};

/* A placeholder name's bytes: a-z, A-Z, 0-9, '_', '.' and '-'.  A table
 * rather than six comparisons a byte: every command that may send checks
 * the plugins' compiled-in templates at each start, and this loop was a
 * third of that check (bench/RESULTS.md update 62). */
#define N1(c) [c] = 1
#define N10(c)                                                                                     \
    N1(c), N1(c + 1), N1(c + 2), N1(c + 3), N1(c + 4), N1(c + 5), N1(c + 6), N1(c + 7), N1(c + 8), \
        N1(c + 9)
static const unsigned char name_chars[256] = {
    N10('0'),      N10('A'),     N10('A' + 10), N1('A' + 20), N1('A' + 21),
    N1('A' + 22),  N1('A' + 23), N1('A' + 24),  N1('A' + 25), N10('a'),
    N10('a' + 10), N1('a' + 20), N1('a' + 21),  N1('a' + 22), N1('a' + 23),
    N1('a' + 24),  N1('a' + 25), N1('_'),       N1('.'),      N1('-'),
};
#undef N10
#undef N1

static int name_char(char c)
{
    return name_chars[(unsigned char)c];
}

/* The next tag at or after FROM: 1 found, 0 none, -1 malformed (T->start
 * set). */
static int next_tag(const char *s, size_t from, struct tag *t)
{
    /* strchr then a look at the next byte: cheaper than strstr for a
     * two-byte needle in text with few braces */
    const char *p = strchr(s + from, '{'), *q;
    while (p && p[1] != '{')
        p = strchr(p + 1, '{');
    if (!p)
        return 0;
    t->start = (size_t)(p - s);
    q = p + 2;
    while (*q == ' ')
        q++;
    t->kind = *q == '#' ? TAG_OPEN : *q == '^' ? TAG_INVERT : *q == '/' ? TAG_CLOSE : TAG_VAR;
    if (t->kind != TAG_VAR)
        for (q++; *q == ' ';)
            q++;
    t->name = q;
    while (name_char(*q))
        q++;
    t->nlen = (size_t)(q - t->name);
    while (*q == ' ')
        q++;
    if (t->nlen == 0 || t->nlen > MAX_NAME || q[0] != '}' || q[1] != '}')
        return -1;
    t->end = (size_t)(q + 2 - s);
    return 1;
}

static size_t line_of(const char *s, size_t at)
{
    size_t n = 1;
    for (size_t i = 0; i < at; i++)
        n += s[i] == '\n';
    return n;
}

/* A section tag alone on its line (blanks around it): *LS is where its line
 * starts, *AFTER where the next line starts. */
static int standalone(const char *s, size_t pos, const struct tag *t, size_t *ls, size_t *after)
{
    size_t i = t->start;
    if (t->kind == TAG_VAR)
        return 0;
    while (i > pos && (s[i - 1] == ' ' || s[i - 1] == '\t'))
        i--;
    /* not at a line start also when another tag ends just before */
    if (!(i == 0 || s[i - 1] == '\n'))
        return 0;
    *ls = i;
    i = t->end;
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    if (s[i] == '\r' && s[i + 1] == '\n')
        i++;
    if (s[i] != '\n' && s[i] != '\0')
        return 0;
    *after = s[i] ? i + 1 : i;
    return 1;
}

/* As tk_kv_get with the name in place (the first match), without copying
 * it out of the source first. */
static const char *value(const struct tk_kv *vars, const struct tag *t)
{
    for (size_t i = 0; vars && i < vars->n; i++) {
        const char *k = vars->keys[i];
        if (k[0] == t->name[0] && strncmp(k, t->name, t->nlen) == 0 && k[t->nlen] == '\0')
            return vars->vals[i];
    }
    return NULL;
}

/* Walk SRC; OUT NULL only checks. */
static int walk(const char *src, const struct tk_kv *vars, struct tk_buf *out, size_t *line,
                struct tk_error *err)
{
    struct tag stack[MAX_DEPTH];
    size_t pos = 0, depth = 0, skip = 0;
    struct tag t;
    int r;
    while ((r = next_tag(src, pos, &t)) != 0) {
        size_t ls = t.start, after = t.end;
        const char *v;
        if (r < 0) {
            if (line)
                *line = line_of(src, t.start);
            return tk_error_set(err, TK_EINVAL, "malformed placeholder '%.40s'", src + t.start);
        }
        if (!standalone(src, pos, &t, &ls, &after)) {
            ls = t.start;
            after = t.end;
        }
        if (out && !skip && tk_buf_append(out, src + pos, ls - pos))
            return tk_error_set(err, TK_ENOMEM, "template output too large");
        pos = after;
        switch (t.kind) {
        case TAG_VAR:
            v = value(vars, &t);
            if (out && !skip && v && tk_buf_puts(out, v))
                return tk_error_set(err, TK_ENOMEM, "template output too large");
            break;
        case TAG_OPEN:
        case TAG_INVERT:
            if (depth == MAX_DEPTH) {
                if (line)
                    *line = line_of(src, t.start);
                return tk_error_set(err, TK_EINVAL, "sections nested deeper than %d", MAX_DEPTH);
            }
            stack[depth++] = t;
            if (skip) {
                skip++;
            } else {
                v = value(vars, &t);
                if ((t.kind == TAG_OPEN) != (v && *v))
                    skip = 1;
            }
            break;
        case TAG_CLOSE:
            if (!depth || stack[depth - 1].nlen != t.nlen ||
                memcmp(stack[depth - 1].name, t.name, t.nlen) != 0) {
                if (line)
                    *line = line_of(src, t.start);
                return tk_error_set(err, TK_EINVAL, "{{/%.*s}} closes no open section", (int)t.nlen,
                                    t.name);
            }
            depth--;
            if (skip)
                skip--;
            break;
        }
    }
    if (depth) {
        if (line)
            *line = line_of(src, stack[depth - 1].start);
        return tk_error_set(err, TK_EINVAL, "{{%c%.*s}} is never closed",
                            stack[depth - 1].kind == TAG_OPEN ? '#' : '^',
                            (int)stack[depth - 1].nlen, stack[depth - 1].name);
    }
    if (out && tk_buf_puts(out, src + pos))
        return tk_error_set(err, TK_ENOMEM, "template output too large");
    return 0;
}

size_t tk_template_names(const char *src, struct tk_template_name *v, size_t max)
{
    struct tag t;
    size_t n = 0, at = 0;
    int r;
    while ((r = next_tag(src, at, &t)) > 0) {
        if (t.kind != TAG_CLOSE) {
            if (n < max) {
                v[n].name = t.name;
                v[n].len = t.nlen;
            }
            n++;
        }
        at = t.end;
    }
    return r < 0 ? (size_t)-1 : n;
}

int tk_template_check(const char *src, size_t *line, struct tk_error *err)
{
    return walk(src, NULL, NULL, line, err);
}

/* Room for about SRC's length up front, so that a body is not copied
 * through every doubling; only a hint, so never beyond OUT's ceiling
 * (skipped sections can make the output shorter than SRC). */
static int reserve_hint(struct tk_buf *out, size_t n)
{
    size_t max = out->max ? out->max : TK_BUF_DEFAULT_MAX;
    if (out->len > max || n > max - out->len)
        return 0;
    return tk_buf_reserve(out, n);
}

int tk_template_render(const char *src, const struct tk_kv *vars, struct tk_buf *out,
                       struct tk_error *err)
{
    size_t start = out->len, line = 0;
    int rc;
    if (!src)
        src = "";
    if (reserve_hint(out, strlen(src) + 64))
        return tk_error_set(err, TK_ENOMEM, "template output too large");
    rc = walk(src, vars, out, &line, err);
    if (rc) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        if (rc == TK_EINVAL)
            tk_error_prefix(err, "line %zu", line);
    }
    return rc;
}

int tk_template_render_subject(const char *src, const struct tk_kv *vars, struct tk_buf *out,
                               struct tk_error *err)
{
    struct tk_buf tmp = {0};
    int rc = tk_template_render(src, vars, &tmp, err);
    size_t start = out->len, n = 0;
    /* squeezed in place, then appended: OUT's ceiling counts the subject
     * as it will be, not the text before */
    if (!rc && tmp.data)
        n = tk_str_squeeze_space(tmp.data, tmp.data, tmp.len);
    if (!rc && tk_buf_append(out, n ? tmp.data : "", n))
        rc = tk_error_set(err, TK_ENOMEM, "template output too large");
    if (rc) {
        /* as tk_template_render: never half a subject */
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    tk_buf_free(&tmp);
    return rc;
}
