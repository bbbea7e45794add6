/* fuzz_inbound.c - hostile mail for tk_inbound_classify.
 *
 * The input is one message.  Its first byte also picks options: an
 * envelope recipient that is a genuine VERP tag (for jane@client.example,
 * outbox 1), a tiny body bound, header-only reading, a tiny size limit.
 * Whatever the message, classification succeeds and every promise of
 * inbound.h holds: valid UTF-8 everywhere, no control characters in
 * single-line fields, addresses that pass tk_email_valid, ids in angle
 * brackets, bounded lists and body, and "verified" only for a recipient
 * the tag really names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inbound/inbound.h"

#define SECRET "fuzz-secret-0123456789abcdef"
#define RP "bounces@bakker.example"

static void line(const char *s)
{
    if (!s)
        return;
    if (!tk_utf8_valid(s, strlen(s)))
        abort();
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            abort();
}

static void address(const char *s)
{
    if (s && (!tk_email_valid(s) || !tk_utf8_valid(s, strlen(s))))
        abort();
}

static void msgid(const char *s)
{
    if (!s)
        return;
    size_t n = strlen(s);
    if (n < 3 || s[0] != '<' || s[n - 1] != '>' || strpbrk(s, " \t\r\n"))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer's entry */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char tag[TK_INBOUND_VERP_MAX];
    struct tk_inbound_options o = {0};
    struct tk_inbound_result r;
    unsigned mode = size ? data[0] : 0;

    if (!tag[0] &&
        tk_inbound_verp_make(SECRET, RP, 1, "jane@client.example", tag, sizeof tag, NULL) != 0)
        abort();
    o.secret = SECRET;
    o.return_path = RP;
    o.envelope_rcpt = mode & 1 ? tag : NULL;
    o.max_body = mode & 2 ? 7 : 0;
    o.headers_only = (mode & 12) == 4;
    o.max_bytes = (mode & 12) == 8 ? 64 : 0;

    if (tk_inbound_classify((const char *)data, size, &o, &r, NULL) != 0)
        abort();
    if (r.cls > TK_INBOUND_REPLY || !r.key || !r.reason[0])
        abort();
    line(r.reason);
    line(r.subject);
    line(r.from_name);
    line(r.original_kind);
    address(r.from);
    address(r.reply_to);
    address(r.envelope_rcpt);
    msgid(r.message_id);
    msgid(r.in_reply_to);
    msgid(r.original_message_id);
    if (r.references.n > 64 || r.n_rcpts > 64)
        abort();
    for (size_t i = 0; i < r.references.n; i++)
        msgid(r.references.v[i]);
    int verified_rcpt = 0;
    for (size_t i = 0; i < r.n_rcpts; i++) {
        const struct tk_inbound_rcpt *x = &r.rcpts[i];
        if (!x->address)
            abort();
        address(x->address);
        address(x->original);
        line(x->action);
        line(x->status);
        line(x->diagnostic);
        if (x->verified) {
            int64_t id = 0;
            /* a verified recipient is the one the tag was made for */
            if (!r.verp.present ||
                (tk_inbound_verp_parse(SECRET, RP, r.envelope_rcpt, x->address, &id, NULL) != 0 &&
                 (!x->original ||
                  tk_inbound_verp_parse(SECRET, RP, r.envelope_rcpt, x->original, &id, NULL) != 0)))
                abort();
            verified_rcpt = 1;
        }
    }
    if (r.verp.verified && (!r.verp.present || !r.verp.rcpt || !verified_rcpt ||
                            strcasecmp(r.verp.rcpt, "jane@client.example") != 0))
        abort();
    if (r.body) {
        size_t max = o.max_body ? o.max_body : TK_INBOUND_BODY_MAX_DEFAULT;
        if (r.body_len != strlen(r.body) || r.body_len > max || !tk_utf8_valid(r.body, r.body_len))
            abort();
        for (const unsigned char *p = (const unsigned char *)r.body; *p; p++)
            if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
                abort();
    }
    if (r.oversize && r.body)
        abort();
    tk_inbound_result_free(&r);
    return 0;
}
