/* fuzz_address.c - hostile contact addresses for tk_mail_check_address.
 *
 * The input (up to its first NUL) is an address as `contact add` would get
 * it.  Whatever the checker accepts must go on the wire: its ASCII form
 * (tk_mail_ascii_address, punycode by libidn2) succeeds and has an ASCII
 * host name for a domain and the same local part; the mail builder makes a
 * message with it in To: and From:, with CRLF line ends, one To: header
 * holding exactly "<ascii form>", and nothing that could end an SMTP path
 * early; "Name <addr>" splits back into the same address.  Whatever it
 * refuses gets a one-line reason in valid UTF-8 and the builder refuses
 * it too, leaving its output untouched. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail.h"

static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
}

/* The unfolded value of header NAME in the header block of MSG. */
static char *header_value(const char *msg, const char *name)
{
    size_t n = strlen(name);
    const char *end = strstr(msg, "\r\n\r\n"), *p = msg;
    struct tk_buf v = {0};
    if (!end)
        abort();
    while (p < end && !(strncmp(p, name, n) == 0 && p[n] == ':'))
        p = strstr(p, "\r\n") + 2;
    if (p >= end)
        abort();
    for (p += n + 2; p < end + 2; p++) {
        if (p[0] == '\r' && p[1] == '\n') {
            if (p[2] != ' ' && p[2] != '\t')
                break;
            p++;
            continue;
        }
        if (tk_buf_putc(&v, *p))
            abort();
    }
    return tk_buf_steal(&v);
}

static void accepted(const char *addr)
{
    struct tk_buf ascii = {0}, out = {0}, named = {0};
    const char *at = strrchr(addr, '@'), *aat;
    char *to, *name, *back, want[300];
    int utf8 = -1;
    size_t local;

    if (!at || tk_mail_ascii_address(&ascii, addr, &utf8, NULL) != 0)
        abort();
    aat = strrchr(ascii.data, '@');
    local = (size_t)(at - addr);
    if (!aat || (size_t)(aat - ascii.data) != local || memcmp(ascii.data, addr, local) != 0)
        abort(); /* the local part goes out as it was given */
    if (ascii.len > 254 || local == 0 || local > 64 || !aat[1])
        abort();
    for (const char *p = aat + 1; *p; p++)
        if (!host_char(*p))
            abort(); /* the domain is an ASCII host name (punycode) */
    {
        int any = 0;
        for (size_t i = 0; i < local; i++)
            any |= (unsigned char)addr[i] >= 0x80;
        if (utf8 != any)
            abort(); /* SMTPUTF8 is asked for exactly when the local part needs it */
    }
    /* nothing that could end "RCPT TO:<...>" or "Name <...>" early, and
     * spaces only inside a quoted local part */
    for (const char *p = ascii.data; *p; p++)
        if (*p == '<' || *p == '>' || *p == '\r' || *p == '\n' ||
            (*p == ' ' && (addr[0] != '"' || p >= ascii.data + local)))
            abort();

    {
        struct tk_mail m = {0};
        m.from_addr = addr;
        m.to_addr = addr;
        m.to_name = "Jane";
        m.subject = "s";
        m.text = "body";
        m.message_id = "<abc.1@acme.example>";
        if (tk_mail_build(&m, &out, NULL) != 0)
            abort();
    }
    for (size_t i = 0; i < out.len; i++)
        if (out.data[i] == '\0' || (out.data[i] == '\n' && (i == 0 || out.data[i - 1] != '\r')) ||
            (out.data[i] == '\r' && out.data[i + 1] != '\n'))
            abort();
    to = header_value(out.data, "To");
    if (snprintf(want, sizeof want, "Jane <%s>", ascii.data) >= (int)sizeof want ||
        strcmp(to, want) != 0)
        abort();
    free(to);

    if (tk_buf_printf(&named, "Jane Doe <%s>", addr) ||
        tk_mail_parse_address(named.data, &name, &back, NULL) != 0 || strcmp(back, addr) != 0 ||
        !name || strcmp(name, "Jane Doe") != 0)
        abort();
    free(name);
    free(back);
    tk_buf_free(&named);
    tk_buf_free(&ascii);
    tk_buf_free(&out);
}

static void refused(const char *addr, const struct tk_error *err)
{
    struct tk_buf out = {0};
    struct tk_mail m = {0};
    size_t n = strlen(err->msg);
    if (err->code != TK_EINVAL || n == 0 || !tk_utf8_valid(err->msg, n))
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)err->msg[i] < 0x20 || err->msg[i] == 0x7f)
            abort(); /* one printable line */
    m.from_addr = "office@acme.example";
    m.to_addr = addr;
    m.subject = "s";
    m.text = "body";
    m.message_id = "<abc.1@acme.example>";
    if (tk_buf_puts(&out, "X") || tk_mail_build(&m, &out, NULL) != TK_EINVAL || out.len != 1)
        abort();
    tk_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *addr = malloc(size + 1);
    struct tk_error err = {0};
    if (!addr)
        return 0;
    memcpy(addr, data, size);
    addr[size] = '\0';
    if (tk_mail_check_address(addr, &err) == 0)
        accepted(addr);
    else
        refused(addr, &err);
    free(addr);
    return 0;
}
