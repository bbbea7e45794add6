/* body.c - the words of a reply, for forwarding to the firm's staff.
 *
 * Plain text when the message has it, else its HTML with the tags taken
 * out (script, style and quoted blockquotes dropped); then the quoted
 * history cut off where a mail program marks it ("On ... wrote:", "Op ...
 * schreef ...:", "-----Original Message-----", Outlook's From:/Sent:
 * block, trailing "> " lines), but only when words are left above it: a
 * bottom-posted answer is kept whole. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

/* Valid UTF-8, LF line ends, no controls but tab and newline. */
static int put_clean(struct tk_buf *b, const char *s, size_t n)
{
    gchar *v = g_utf8_make_valid(s, (gssize)n);
    const unsigned char *p = (const unsigned char *)v;
    size_t len = strlen(v);
    int rc = tk_buf_reserve(b, len);
    for (size_t i = 0; i < len && !rc; i++) {
        unsigned char c = p[i];
        if (c == '\r') {
            if (i + 1 < len && p[i + 1] == '\n')
                continue;
            c = '\n';
        }
        if (c == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
            i++; /* a C1 control */
            continue;
        }
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            continue;
        rc = tk_buf_putc(b, (char)c);
    }
    g_free(v);
    return rc;
}

static int put_entity(struct tk_buf *b, const char *s, size_t n, size_t *used)
{
    static const struct {
        const char *name, *text;
    } named[] = {{"amp;", "&"},
                 {"lt;", "<"},
                 {"gt;", ">"},
                 {"quot;", "\""},
                 {"apos;", "'"},
                 {"nbsp;", " "},
                 {"euro;", "\xe2\x82\xac"},
                 {"eacute;", "\xc3\xa9"},
                 {"euml;", "\xc3\xab"},
                 {NULL, NULL}};
    for (size_t k = 0; named[k].name; k++) {
        size_t w = strlen(named[k].name);
        if (n >= w && strncasecmp(s, named[k].name, w) == 0) {
            *used = w;
            return tk_buf_puts(b, named[k].text);
        }
    }
    if (n >= 3 && s[0] == '#') {
        int hex = s[1] == 'x' || s[1] == 'X';
        size_t i = hex ? 2 : 1;
        unsigned long cp = 0;
        size_t digits = 0;
        while (i < n && digits < 8 &&
               (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i]))) {
            cp = cp * (hex ? 16 : 10) +
                 (unsigned long)(isdigit((unsigned char)s[i])
                                     ? s[i] - '0'
                                     : (tolower((unsigned char)s[i]) - 'a' + 10));
            i++;
            digits++;
        }
        if (digits && i < n && s[i] == ';' && cp >= 0x20 && cp <= 0x10ffff &&
            g_unichar_validate((gunichar)cp)) {
            char u[8];
            int k = g_unichar_to_utf8((gunichar)cp, u);
            *used = i + 1;
            return tk_buf_append(b, u, (size_t)k);
        }
    }
    *used = 0;
    return tk_buf_putc(b, '&');
}

/* The name of the tag at S ("<br/>" -> "br", "</P " -> "/p"), lower case. */
static void tag_name(const char *s, size_t n, char *name, size_t size)
{
    size_t k = 0, i = 1;
    if (i < n && s[i] == '/') {
        name[k++] = '/';
        i++;
    }
    while (i < n && k + 1 < size && isalnum((unsigned char)s[i]))
        name[k++] = (char)tolower((unsigned char)s[i++]);
    name[k] = '\0';
}

static int html_text(struct tk_buf *b, const char *s, size_t n)
{
    static const char *const breaks[] = {"br",  "p",   "/p",  "div", "/div",   "tr",
                                         "/tr", "li",  "/li", "h1",  "h2",     "h3",
                                         "/h1", "/h2", "/h3", "hr",  "/table", NULL};
    static const char *const skipped[] = {"script", "style", "head", "title", "blockquote", NULL};
    struct tk_buf raw = {0};
    int rc = 0, space = 0;
    for (size_t i = 0; i < n && !rc;) {
        char c = s[i];
        if (c == '<') {
            char name[16];
            const char *close = memchr(s + i, '>', n - i);
            if (!close)
                break;
            tag_name(s + i, (size_t)(close - s - i), name, sizeof name);
            i = (size_t)(close - s) + 1;
            for (size_t k = 0; skipped[k]; k++) {
                if (strcmp(name, skipped[k]) != 0)
                    continue;
                /* to the matching end tag, nesting counted (blockquotes nest) */
                size_t w = strlen(name), depth = 1;
                while (i < n && depth) {
                    const char *lt = memchr(s + i, '<', n - i);
                    if (!lt) {
                        i = n;
                        break;
                    }
                    i = (size_t)(lt - s) + 1;
                    if (i + w <= n && strncasecmp(s + i, name, w) == 0)
                        depth++;
                    else if (i + w + 1 <= n && s[i] == '/' && strncasecmp(s + i + 1, name, w) == 0)
                        depth--;
                }
                const char *gt = i < n ? memchr(s + i, '>', n - i) : NULL;
                i = gt ? (size_t)(gt - s) + 1 : n;
                break;
            }
            for (size_t k = 0; breaks[k]; k++)
                if (strcmp(name, breaks[k]) == 0) {
                    rc = tk_buf_putc(&raw, '\n');
                    space = 0;
                    break;
                }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (!space && raw.len && raw.data[raw.len - 1] != '\n')
                rc = tk_buf_putc(&raw, ' ');
            space = 1;
            i++;
            continue;
        }
        space = 0;
        if (c == '&') {
            size_t used;
            rc = put_entity(&raw, s + i + 1, n - i - 1, &used);
            i += 1 + used;
            continue;
        }
        rc = tk_buf_putc(&raw, c);
        i++;
    }
    if (!rc && raw.len)
        rc = put_clean(b, raw.data, raw.len);
    tk_buf_free(&raw);
    return rc;
}

static size_t line_end(const char *s, size_t n, size_t i)
{
    const char *nl = memchr(s + i, '\n', n - i);
    return nl ? (size_t)(nl - s) : n;
}

static int has_word(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(s + i, w, k) == 0)
            return 1;
    return 0;
}

static size_t trim_right(const char *s, size_t n)
{
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n;
}

/* "On Mon, 1 Dec 2026, Bakker <x@y> wrote:" over one or two lines, and its
 * Dutch, German and French forms. */
static int attribution(const char *s, size_t n, size_t i, size_t e)
{
    static const char *const starts[] = {"on ", "op ", "am ", "le ", NULL};
    static const char *const verbs[] = {"wrote", "schreef", "schrieb", "crit", NULL};
    size_t k;
    for (k = 0; starts[k] && !tk_inb_prefix(s + i, starts[k]); k++)
        ;
    if (!starts[k])
        return 0;
    size_t e2 = e < n ? line_end(s, n, e + 1) : e;
    for (size_t pass = 0; pass < 2; pass++) {
        size_t end = trim_right(s, pass ? e2 : e);
        if (end <= i || s[end - 1] != ':')
            continue;
        for (k = 0; verbs[k]; k++)
            if (has_word(s + i, end - i, verbs[k]))
                return 1;
    }
    return 0;
}

/* A separator line such as "-----Original Message-----". */
static int separator(const char *s, size_t i, size_t e)
{
    static const char *const phrases[] = {"original message",  "oorspronkelijk bericht",
                                          "origineel bericht", "ursprüngliche nachricht",
                                          "message d'origine", NULL};
    if (s[i] != '-' && s[i] != '_' && s[i] != '*')
        return 0;
    for (size_t k = 0; phrases[k]; k++)
        if (has_word(s + i, e - i, phrases[k]))
            return 1;
    return 0;
}

/* Outlook's block: "From:"/"Van:" then within four lines both a date and a
 * recipient or subject line. */
static int header_block(const char *s, size_t n, size_t i)
{
    static const char *const from[] = {"from:", "van:", "von:", "de :", NULL};
    static const char *const date[] = {
        "sent:", "verzonden:", "date:", "datum:", "gesendet:", "envoy", NULL};
    static const char *const to[] = {
        "to:", "aan:", "an:", "subject:", "onderwerp:", "betreff:", "objet", "cc:", NULL};
    size_t k;
    int have_date = 0, have_to = 0;
    for (k = 0; from[k] && !tk_inb_prefix(s + i, from[k]); k++)
        ;
    if (!from[k])
        return 0;
    size_t p = line_end(s, n, i);
    for (int line = 0; line < 4 && p < n; line++) {
        p++;
        while (p < n && (s[p] == ' ' || s[p] == '\t' || s[p] == '*'))
            p++;
        for (k = 0; date[k]; k++)
            have_date |= tk_inb_prefix(s + p, date[k]);
        for (k = 0; to[k]; k++)
            have_to |= tk_inb_prefix(s + p, to[k]);
        p = line_end(s, n, p);
    }
    return have_date && have_to;
}

size_t tk_inb_strip_quotes(char *s, size_t n)
{
    size_t cut = n, prev = n;
    for (size_t i = 0; i < n;) {
        size_t e = line_end(s, n, i), j = i;
        while (j < e && (s[j] == ' ' || s[j] == '\t' || s[j] == '*'))
            j++;
        if (attribution(s, n, j, e) || separator(s, j, e) || header_block(s, n, j)) {
            /* Outlook draws a line of underscores above its block */
            cut =
                prev < i && strspn(s + prev, "_ \t") >= (i - prev - 1) && i - prev > 10 ? prev : i;
            break;
        }
        prev = i;
        i = e + 1;
    }
    /* then trailing quoted lines and blank lines */
    size_t end = cut;
    for (;;) {
        size_t t = end;
        while (t && (s[t - 1] == '\n' || s[t - 1] == ' ' || s[t - 1] == '\t'))
            t--;
        size_t start = t;
        while (start && s[start - 1] != '\n')
            start--;
        size_t q = start;
        while (q < t && (s[q] == ' ' || s[q] == '\t'))
            q++;
        if (t == 0 || q >= t || s[q] != '>') {
            end = t;
            break;
        }
        end = start;
    }
    size_t lead = strspn(s, " \t\n");
    if (end <= lead) { /* nothing above the quote: keep it all */
        while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        return n;
    }
    return end;
}

int tk_inb_body(const char *text, const char *html, size_t max, struct tk_inbound_result *r)
{
    struct tk_buf b = {0};
    int rc;
    if (text)
        rc = put_clean(&b, text, strlen(text));
    else if (html)
        rc = html_text(&b, html, strlen(html));
    else
        return 0;
    if (rc) {
        tk_buf_free(&b);
        return rc;
    }
    size_t n = b.len ? tk_inb_strip_quotes(b.data, b.len) : 0;
    size_t lead = 0;
    while (lead < n && (b.data[lead] == '\n' || b.data[lead] == ' ' || b.data[lead] == '\t'))
        lead++;
    if (lead == n) { /* no words at all: no body */
        tk_buf_free(&b);
        return 0;
    }
    /* keep the indentation of the first line that has words */
    while (lead > 0 && b.data[lead - 1] != '\n')
        lead--;
    if (n - lead > max) {
        n = lead + max;
        while (n > lead && ((unsigned char)b.data[n] & 0xc0) == 0x80)
            n--;
        r->body_truncated = 1;
    }
    r->body = tk_strndup(b.data + lead, n - lead);
    r->body_len = r->body ? n - lead : 0;
    tk_buf_free(&b);
    return r->body ? 0 : TK_ENOMEM;
}
