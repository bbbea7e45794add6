/* fuzz_mail.c - hostile input for tk_mail_build.
 *
 * The input is split at NUL bytes into subject, from name, to name, to
 * address, text body, HTML body and an extra header value.  Whatever they
 * hold, a built message must have exactly one From, To, Subject, Date and
 * Message-ID, only headers tickler writes, CRLF line ends only, no line over
 * 998 bytes and encoded words of at most 75 characters; a refused message
 * must leave the output untouched. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail.h"

#define NFIELDS 7

static size_t header_len(const char *s, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++)
        if (memcmp(s + i, "\r\n\r\n", 4) == 0)
            return i + 4;
    abort(); /* every message has a blank line after its headers */
}

static int header_is(const char *line, const char *name)
{
    size_t n = strlen(name);
    return strncmp(line, name, n) == 0 && line[n] == ':';
}

static void check(const char *s, size_t n)
{
    static const char *const allowed[] = {"Date",
                                          "From",
                                          "To",
                                          "Subject",
                                          "Message-ID",
                                          "In-Reply-To",
                                          "References",
                                          "Auto-Submitted",
                                          "X-Tickler-Fuzz",
                                          "MIME-Version",
                                          "Content-Type",
                                          "Content-Transfer-Encoding",
                                          "X-Tickler-Fuzz-A-Very-Long-Header-Name-Filling-The-Line",
                                          NULL};
    /* MIME-Version comes after every caller value: a blank line injected
     * anywhere before it would end the headers early and lose it */
    static const char *const once[] = {"From", "To",         "Subject",
                                       "Date", "Message-ID", "MIME-Version"};
    int count[6] = {0};
    size_t hl = header_len(s, n), line = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0')
            abort();
        if (s[i] == '\r' && (i + 1 >= n || s[i + 1] != '\n'))
            abort(); /* bare CR */
        if (s[i] == '\n') {
            if (i == 0 || s[i - 1] != '\r')
                abort(); /* bare LF */
            line = 0;
            continue;
        }
        if (s[i] != '\r' && ++line > 998)
            abort();
    }
    for (size_t i = 0; i + 2 < hl; i++) {
        size_t k;
        if (i > 0 && s[i - 1] != '\n')
            continue;
        if (s[i] == ' ' || s[i] == '\t')
            continue; /* a folded line */
        for (k = 0; allowed[k] && !header_is(s + i, allowed[k]); k++)
            ;
        if (!allowed[k])
            abort(); /* a header tickler does not write: injected */
        for (k = 0; k < 6; k++)
            count[k] += header_is(s + i, once[k]);
    }
    for (size_t k = 0; k < 6; k++)
        if (count[k] != 1)
            abort();
    for (const char *p = s; p < s + hl;) {
        const char *w = strstr(p, "=?UTF-8?B?"), *e;
        if (!w || w >= s + hl)
            break;
        /* inside <addr-spec> the characters are the address's own (a local
         * part may legally contain "=?"), not an encoded word */
        const char *q = w;
        while (q > s && q[-1] != '\n' && q[-1] != '<' && q[-1] != '>')
            q--;
        if (q > s && q[-1] == '<') {
            p = w + 10;
            continue;
        }
        e = strstr(w + 10, "?=");
        if (!e || e + 2 - w > 75)
            abort();
        p = e + 2;
    }
}

/* libFuzzer calls it; declared for -Wmissing-prototypes */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1), *f[NFIELDS] = {0};
    const char *extra[3] = {"X-Tickler-Fuzz", NULL, NULL};
    struct tk_mail m = {0};
    struct tk_buf out = {0};
    size_t k = 0;
    int rc;
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    f[k++] = copy;
    for (size_t i = 0; i < size && k < NFIELDS; i++)
        if (copy[i] == '\0')
            f[k++] = copy + i + 1;
    m.subject = f[0];
    m.from_name = f[1];
    m.from_addr = "office@acme.example";
    m.to_name = f[2];
    m.to_addr = f[3] && *f[3] ? f[3] : "jane@client.example";
    m.text = f[4];
    m.html = f[5];
    extra[1] = f[6];
    if (size & 4)
        extra[0] = "X-Tickler-Fuzz-A-Very-Long-Header-Name-Filling-The-Line";
    m.extra = f[6] ? extra : NULL;
    m.message_id = "<abc.1@acme.example>";
    m.in_reply_to = size & 1 ? "<prev.1@acme.example>" : NULL;
    m.auto_submitted = (int)(size & 2);
    m.date = size ? (tk_time)data[0] << 24 : 0;

    tk_buf_puts(&out, "X");
    rc = tk_mail_build(&m, &out, NULL);
    if (rc == 0) {
        check(out.data + 1, out.len - 1);
    } else if (rc != TK_EINVAL || out.len != 1 || tk_mail_check_address(m.to_addr, NULL) == 0) {
        abort(); /* only a bad address may be refused, and it leaves OUT alone */
    }
    tk_buf_free(&out);
    free(copy);
    return 0;
}
