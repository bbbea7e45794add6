/* parse.c - from bytes to a GMime tree, bounded, and what the tree holds.
 *
 * GMime parses anything it is given and has no limits of its own apart from
 * a nesting depth of 1024 (deep recursion; too deep for an ASan stack), so
 * a linear pre-scan first counts what the parser could be made to build:
 * container types (which bound the nesting), lines that could delimit a
 * part, and lines that could be a header field.  A message over any limit
 * is not given to GMime whole (classify.c reads its header section only).
 * The counts over-estimate (a body line "Note: x" counts as a header line),
 * so the limits are set well above what real mail needs. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

/* Does this header line (or continuation) name a container type?  Any
 * mention counts, comments and parameters included: over-counting only
 * makes the limit stricter. */
static int mentions_container(const char *p, size_t n)
{
    static const char *const words[] = {"multipart", "message", NULL};
    for (size_t k = 0; words[k]; k++) {
        size_t w = strlen(words[k]);
        for (size_t i = 0; i + w <= n; i++)
            if (strncasecmp(p + i, words[k], w) == 0)
                return 1;
    }
    return 0;
}

/* field-name ":" (RFC 5322 ftext is %d33-57 / %d59-126), whitespace before
 * the colon tolerated as GMime tolerates it. */
static int header_like(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f && p[i] != ':')
        i++;
    if (i == 0)
        return 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i < n && p[i] == ':';
}

static int token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

int tk_inb_prescan(const char *s, size_t n, char *why, size_t whysize)
{
    size_t headers = 0, bounds = 0, containers = 0;
    int in_ct = 0, counted = 0;
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t len = (size_t)(le - p);
        if (len >= 2 && p[0] == '-' && p[1] == '-')
            bounds++;
        if (len && (p[0] == ' ' || p[0] == '\t')) {
            /* a folded Content-Type: the type may be on this line */
            if (in_ct && !counted && mentions_container(p, len)) {
                containers++;
                counted = 1;
            }
        } else {
            in_ct = 0;
            if (header_like(p, len))
                headers++;
            if (len >= 12 && strncasecmp(p, "content-type", 12) == 0 &&
                (len == 12 || !token_char(p[12]))) {
                in_ct = 1;
                counted = mentions_container(p + 12, len - 12);
                containers += (size_t)counted;
            }
        }
        p = le + 1;
    }
    if (containers > TK_INB_MAX_CONTAINERS)
        snprintf(why, whysize, "too complex: %zu multipart or message types (limit %d)", containers,
                 TK_INB_MAX_CONTAINERS);
    else if (bounds > TK_INB_MAX_BOUNDARY_LINES)
        snprintf(why, whysize, "too complex: %zu lines starting with \"--\" (limit %d)", bounds,
                 TK_INB_MAX_BOUNDARY_LINES);
    else if (headers > TK_INB_MAX_HEADER_LINES)
        snprintf(why, whysize, "too complex: %zu header-like lines (limit %d)", headers,
                 TK_INB_MAX_HEADER_LINES);
    else
        return 0;
    return 1;
}

GMimeMessage *tk_inb_parse(const char *s, size_t n)
{
    GMimeParserOptions *o = tk_inb_options();
    GMimeStream *st = g_mime_stream_mem_new_with_buffer(s, n);
    GMimeParser *p = g_mime_parser_new_with_stream(st);
    g_object_unref(st);
    g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
    GMimeMessage *m = g_mime_parser_construct_message(p, o);
    g_object_unref(p);
    return m;
}

/* The decoded content of a leaf part (transfer encoding undone, charset
 * untouched), NUL-terminated; NULL when it has none.  Decoding never
 * grows the content, so its size is bounded by the message's. */
static char *part_bytes(GMimePart *part, size_t *len, int *oom)
{
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    if (!w)
        return NULL;
    GMimeStream *mem = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(w, mem);
    GByteArray *a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    char *out = malloc(a->len + 1);
    if (out) {
        if (a->len)
            memcpy(out, a->data, a->len);
        out[a->len] = '\0';
        *len = a->len;
    } else {
        *oom = 1;
    }
    g_object_unref(mem);
    return out;
}

static int type_is(GMimeObject *o, const char *type, const char *subtype)
{
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    return ct && g_mime_content_type_is_type(ct, type, subtype);
}

static void original_from(struct tk_inb_facts *f, GMimeMessage *m)
{
    int64_t item;
    if (!m || f->have_original)
        return;
    f->have_original = 1;
    f->orig_msgid = tk_inb_msgid(g_mime_message_get_message_id(m), &f->oom);
    f->orig_kind =
        tk_inb_line(g_mime_object_get_header(GMIME_OBJECT(m), "X-Tickler-Kind"), &f->oom);
    const char *it = g_mime_object_get_header(GMIME_OBJECT(m), "X-Tickler-Item");
    if (it) {
        while (*it == ' ' || *it == '\t')
            it++;
        char buf[24];
        size_t n = strspn(it, "0123456789");
        if (n > 0 && n < sizeof buf) {
            memcpy(buf, it, n);
            buf[n] = '\0';
            if (tk_parse_int(buf, 1, INT64_MAX, &item) == 0)
                f->orig_item = item;
        }
    }
}

void tk_inb_original_parse(struct tk_inb_facts *f, const char *s, size_t n)
{
    char why[128];
    if (f->have_original || !s || !n)
        return;
    /* only the header block matters: cut at its end so that a returned
     * body cannot make the parser build anything */
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] == '\n' &&
            (s[i + 1] == '\n' || (s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n'))) {
            n = i + 1;
            break;
        }
    }
    if (n > TK_INB_HEADER_MAX)
        n = TK_INB_HEADER_MAX;
    if (tk_inb_prescan(s, n, why, sizeof why))
        return;
    GMimeMessage *m = tk_inb_parse(s, n);
    if (m) {
        original_from(f, m);
        g_object_unref(m);
    }
}

static char *text_of(GMimeObject *o, int *oom)
{
    char *t = g_mime_text_part_get_text(GMIME_TEXT_PART(o));
    if (!t)
        return NULL;
    char *out = tk_strdup(t);
    if (!out)
        *oom = 1;
    g_free(t);
    return out;
}

static void walk(GMimeObject *o, struct tk_inb_facts *f, int depth)
{
    if (f->oom)
        return;
    if (++f->parts > TK_INB_MAX_PARTS || depth > TK_INB_MAX_DEPTH) {
        f->limited = 1;
        return;
    }
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        if (type_is(o, "multipart", "report"))
            f->report = 1;
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n && !f->limited; i++)
            walk(g_mime_multipart_get_part(mp, i), f, depth + 1);
        return;
    }
    if (GMIME_IS_MESSAGE_PART(o)) {
        /* a returned or forwarded message: its headers only, never its
         * text (a forwarded mail's words are not the reply) */
        original_from(f, g_mime_message_part_get_message(GMIME_MESSAGE_PART(o)));
        return;
    }
    if (!GMIME_IS_PART(o))
        return;
    GMimePart *part = GMIME_PART(o);
    size_t len = 0;
    if (type_is(o, "message", "delivery-status") ||
        type_is(o, "message", "global-delivery-status")) {
        if (!f->dsn)
            f->dsn = part_bytes(part, &f->dsn_len, &f->oom);
    } else if (type_is(o, "text", "rfc822-headers") || type_is(o, "message", "global-headers")) {
        char *h = part_bytes(part, &len, &f->oom);
        tk_inb_original_parse(f, h, len);
        free(h);
    } else if (GMIME_IS_TEXT_PART(o) && !g_mime_part_is_attachment(part)) {
        if (type_is(o, "text", "plain") && !f->text)
            f->text = text_of(o, &f->oom);
        else if (type_is(o, "text", "html") && !f->html)
            f->html = text_of(o, &f->oom);
    }
}

int tk_inb_walk(GMimeMessage *m, struct tk_inb_facts *f)
{
    memset(f, 0, sizeof *f);
    GMimeObject *top = g_mime_message_get_mime_part(m);
    if (top)
        walk(top, f, 0);
    return f->oom ? TK_ENOMEM : 0;
}

void tk_inb_facts_free(struct tk_inb_facts *f)
{
    free(f->dsn);
    free(f->text);
    free(f->html);
    free(f->orig_msgid);
    free(f->orig_kind);
    memset(f, 0, sizeof *f);
}
