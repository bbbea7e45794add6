/* text.c - the readable text of a message tickler built, for the staff
 * console's "next reminder" and bulk confirm pages: the first text/plain
 * part, its transfer encoding undone and its charset turned into UTF-8 by
 * GMime, line ends as LF.  The messages are ours (core/mail), so the
 * pre-scan's limits (parse.c) are never near; they are checked anyway. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static GMimeTextPart *first_text(GMimeObject *o, int depth)
{
    if (!o || depth > 8)
        return NULL;
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++) {
            GMimeTextPart *t = first_text(g_mime_multipart_get_part(mp, i), depth + 1);
            if (t)
                return t;
        }
        return NULL;
    }
    if (GMIME_IS_TEXT_PART(o)) {
        GMimeContentType *ct = g_mime_object_get_content_type(o);
        if (ct && g_mime_content_type_is_type(ct, "text", "plain"))
            return GMIME_TEXT_PART(o);
    }
    return NULL;
}

char *tk_inbound_text_of(const char *msg, size_t len)
{
    char why[128];
    if (!msg || tk_inb_prescan(msg, len, why, sizeof why) != 0)
        return NULL;
    GMimeMessage *m = tk_inb_parse(msg, len);
    if (!m)
        return NULL;
    char *out = NULL;
    GMimeTextPart *t = first_text(g_mime_message_get_mime_part(m), 0);
    char *text = t ? g_mime_text_part_get_text(t) : NULL;
    if (text) {
        size_t n = strlen(text), k = 0;
        if ((out = malloc(n + 1))) {
            for (size_t i = 0; i < n; i++)
                if (!(text[i] == '\r' && text[i + 1] == '\n'))
                    out[k++] = text[i];
            out[k] = '\0';
        }
        g_free(text);
    }
    g_object_unref(m);
    return out;
}
