/* textbounce.c - bounces without a DSN: Exim's "Mail delivery failed",
 * qmail's "failure notice", Domino and the like, in plain text.
 *
 * Such a text names each failed recipient on a line of its own (Exim:
 * "  jane@client.example", qmail: "<jane@client.example>:") followed by the
 * remote server's reply ("550 5.1.1 User unknown", "(#5.1.1)").  The scan
 * stops at the returned copy of the message ("This is a copy of the
 * message", "Below this line is a copy of the message"), whose headers then
 * give the original's Message-ID. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static const char *const copy_markers[] = {"copy of the message",      "original message follows",
                                           "unsent message below",     "original message headers",
                                           "returned message follows", NULL};
static const char *const hard_words[] = {"permanent error",
                                         "permanent failure",
                                         "permanently",
                                         "user unknown",
                                         "unknown user",
                                         "no such user",
                                         "no mailbox here",
                                         "mailbox unavailable",
                                         "does not exist",
                                         "address rejected",
                                         "not listed",
                                         "account has been disabled",
                                         NULL};
static const char *const soft_words[] = {"delayed",
                                         "will be retried",
                                         "will keep trying",
                                         "still trying",
                                         "not yet been delivered",
                                         "temporary failure",
                                         "temporarily",
                                         NULL};

static int contains(const char *s, size_t n, const char *const *words)
{
    for (size_t k = 0; words[k]; k++) {
        size_t w = strlen(words[k]);
        for (size_t i = 0; i + w <= n; i++)
            if (strncasecmp(s + i, words[k], w) == 0)
                return 1;
    }
    return 0;
}

/* An SMTP reply code ("550 ", "451-") or an enhanced status ("5.1.1",
 * "#4.2.2") standing as a word of LINE: the enhanced one when both, copied
 * into STATUS ("5.1.1", or "5.0.0" for a bare 550).  0 when none. */
static int find_code(const char *s, size_t n, char *status, size_t size)
{
    int basic = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != '4' && c != '5')
            continue;
        if (i > 0 && !strchr(" \t:(#[<;", s[i - 1]))
            continue; /* inside a number, an address or an IP */
        size_t a = 0, b = 0;
        if (i + 1 < n && s[i + 1] == '.') {
            while (i + 2 + a < n && a < 4 && isdigit((unsigned char)s[i + 2 + a]))
                a++;
            if (a >= 1 && a <= 3 && i + 2 + a < n && s[i + 2 + a] == '.') {
                while (i + 3 + a + b < n && b < 4 && isdigit((unsigned char)s[i + 3 + a + b]))
                    b++;
                size_t e = i + 3 + a + b;
                if (b >= 1 && b <= 3 && (e >= n || !isalnum((unsigned char)s[e])) &&
                    (e >= n || s[e] != '.')) {
                    snprintf(status, size, "%.*s", (int)(e - i), s + i);
                    return c;
                }
            }
            continue;
        }
        if (!basic && i + 2 < n && isdigit((unsigned char)s[i + 1]) &&
            isdigit((unsigned char)s[i + 2]) &&
            (i + 3 >= n || s[i + 3] == ' ' || s[i + 3] == '-' || s[i + 3] == '\r'))
            basic = c;
    }
    if (basic)
        snprintf(status, size, "%c.0.0", basic);
    return basic;
}

/* A line that is nothing but an address: "jane@x", "<jane@x>", "<jane@x>:" */
static char *address_line(const char *s, size_t n, int *oom)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    if (!n || n > 300 || memchr(s, ' ', n) || memchr(s, '\t', n))
        return NULL;
    return tk_inb_address(s, n, 0, oom);
}

int tk_inb_text_bounce(const char *text, struct tk_inbound_result *r, enum tk_inbound_class *cls,
                       const char **copy)
{
    size_t n = strlen(text), first = r->n_rcpts;
    const char *p = text, *end = text + (n < TK_INB_TEXT_SCAN_MAX ? n : TK_INB_TEXT_SCAN_MAX);
    char global_status[16] = "";
    int global_code = 0, hard = 0, soft = 0, oom = 0, rc = 0;
    struct tk_inbound_rcpt cur = {0};
    int cur_open = 0;

    *cls = TK_INBOUND_UNMATCHED;
    *copy = NULL;
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t len = (size_t)(le - p);
        char status[16];
        char *addr;
        if (contains(p, len, copy_markers)) {
            *copy = nl ? nl + 1 : end;
            break;
        }
        hard |= contains(p, len, hard_words);
        soft |= contains(p, len, soft_words);
        if ((addr = address_line(p, len, &oom))) {
            if (cur_open)
                rc = tk_inb_rcpt_add(r, &cur);
            memset(&cur, 0, sizeof cur);
            cur.address = addr;
            cur_open = 1;
        } else if (find_code(p, len, status, sizeof status)) {
            if (cur_open && !cur.status) {
                char *line = tk_strndup(p, len);
                cur.status = tk_strdup(status);
                cur.diagnostic = tk_inb_line(line, &oom);
                cur.cls = tk_inb_status_class(status);
                free(line);
                oom |= !cur.status;
            } else if (!cur_open && !global_code) {
                global_code = status[0];
                memcpy(global_status, status, sizeof status);
            }
        }
        p = nl ? nl + 1 : end;
    }
    if (cur_open && !rc)
        rc = tk_inb_rcpt_add(r, &cur);
    else
        tk_inb_rcpt_free(&cur);
    if (oom && !rc)
        rc = TK_ENOMEM;

    /* Recipients without a reply of their own get the message's. */
    enum tk_inbound_class fallback = global_code == '5'   ? TK_INBOUND_HARD_BOUNCE
                                     : global_code == '4' ? TK_INBOUND_SOFT_BOUNCE
                                     : hard               ? TK_INBOUND_HARD_BOUNCE
                                     : soft               ? TK_INBOUND_SOFT_BOUNCE
                                                          : TK_INBOUND_UNMATCHED;
    const char *fallback_status = global_code                          ? global_status
                                  : fallback == TK_INBOUND_HARD_BOUNCE ? "5.0.0"
                                  : fallback == TK_INBOUND_SOFT_BOUNCE ? "4.0.0"
                                                                       : NULL;
    int any_hard = 0, any_soft = 0;
    for (size_t i = first; i < r->n_rcpts && !rc; i++) {
        struct tk_inbound_rcpt *x = &r->rcpts[i];
        if (x->cls == TK_INBOUND_UNMATCHED && fallback != TK_INBOUND_UNMATCHED) {
            x->cls = fallback;
            if (!x->status && !(x->status = tk_strdup(fallback_status)))
                rc = TK_ENOMEM;
        }
        any_hard |= x->cls == TK_INBOUND_HARD_BOUNCE;
        any_soft |= x->cls == TK_INBOUND_SOFT_BOUNCE;
    }
    *cls = any_hard   ? TK_INBOUND_HARD_BOUNCE
           : any_soft ? TK_INBOUND_SOFT_BOUNCE
                      : (r->n_rcpts == first ? fallback : TK_INBOUND_UNMATCHED);
    return rc;
}
