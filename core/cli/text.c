/* text.c - text for a terminal.  Names, titles, details, addresses and
 * server replies come from users, clients and mail servers; an escape
 * sequence among them would reach the terminal of whoever runs tickler
 * (clear the screen, retitle the window, hide a line).  Human-readable
 * output shows them escaped instead: "\x1b" for a control byte, "\u009b"
 * for a C1 control, "\xff" for each byte of text that is not UTF-8.
 * Backslashes themselves are left alone, so ordinary text prints as it
 * always did. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Whether the character at S (of length *LEN, or the ill-formed sequence
 * of that many bytes) is shown escaped. */
static int needs_escape(const char *s, size_t n, size_t *len, uint32_t *cp)
{
    unsigned char c = (unsigned char)*s;
    size_t bad = 1;
    if (c < 0x80) {
        *len = 1;
        *cp = c;
        return c < 0x20 || c == 0x7f;
    }
    if (!(*len = tk_utf8_char(s, n, cp, &bad))) {
        *len = bad;
        *cp = UINT32_MAX; /* not UTF-8 */
        return 1;
    }
    return *cp >= 0x80 && *cp <= 0x9f;
}

int tk_cli_escape(struct tk_buf *out, const char *s)
{
    size_t n = s ? strlen(s) : 0, i = 0, len;
    uint32_t cp;
    int rc = 0;
    tk_buf_reset(out);
    while (i < n && rc == 0) {
        if (!needs_escape(s + i, n - i, &len, &cp)) {
            rc = tk_buf_append(out, s + i, len);
        } else if (cp == UINT32_MAX) {
            for (size_t k = 0; k < len && rc == 0; k++)
                rc = tk_buf_printf(out, "\\x%02x", (unsigned char)s[i + k]);
        } else {
            rc = tk_buf_printf(out, cp < 0x80 ? "\\x%02x" : "\\u%04x", (unsigned)cp);
        }
        i += len;
    }
    if (rc == 0 && !out->data)
        rc = tk_buf_append(out, "", 0);
    return rc;
}

const char *tk_cli_text(const char *s)
{
    /* a few printf arguments at a time: one printf never takes more */
    static struct tk_buf ring[16];
    static unsigned next;
    size_t n, i, len;
    uint32_t cp;
    if (!s)
        return "";
    n = strlen(s);
    for (i = 0; i < n; i += len)
        if (needs_escape(s + i, n - i, &len, &cp))
            break;
    if (i == n)
        return s; /* nothing to escape: the string itself */
    struct tk_buf *b = &ring[next++ % (sizeof ring / sizeof ring[0])];
    if (tk_cli_escape(b, s) != 0)
        return "?"; /* out of memory: never the raw text */
    return b->data;
}
