/* test_mail.c - the message builder: headers, encodings, injection, sizes. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mail/mail.h"
#include "tk_test.h"

#define T_2026_12_01_0900 ((tk_time)1796115600)

static void base_mail(struct tk_mail *m)
{
    memset(m, 0, sizeof *m);
    m->from_name = "Acme Accountants";
    m->from_addr = "office@acme.example";
    m->to_name = "Jane Doe";
    m->to_addr = "jane@client.example";
    m->subject = "Your invoice";
    m->text = "Hello Jane,\n\nPlease pay.\n";
    m->message_id = "<abc.123@acme.example>";
    m->date = T_2026_12_01_0900;
}

/* Wire rules: CR only before LF, LF only after CR, lines <= 998. */
static int wire_ok(const char *s, size_t n)
{
    size_t line = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            if (i + 1 >= n || s[i + 1] != '\n')
                return 0;
        } else if (s[i] == '\n') {
            if (i == 0 || s[i - 1] != '\r')
                return 0;
            line = 0;
            continue;
        } else if (s[i] == '\0') {
            return 0;
        }
        if (s[i] != '\r' && ++line > 998)
            return 0;
    }
    return 1;
}

/* Length of the header block (up to and including the blank line). */
static size_t header_len(const char *s)
{
    const char *e = strstr(s, "\r\n\r\n");
    return e ? (size_t)(e - s) + 4 : strlen(s);
}

/* Number of header fields called NAME (at the start of a line). */
static int count_header(const char *msg, const char *name)
{
    size_t hl = header_len(msg), nl = strlen(name);
    int n = 0;
    for (size_t i = 0; i < hl; i++)
        if ((i == 0 || msg[i - 1] == '\n') && strncasecmp(msg + i, name, nl) == 0 &&
            msg[i + nl] == ':')
            n++;
    return n;
}

static int header_lines_ok(const char *msg)
{
    size_t hl = header_len(msg), line = 0;
    for (size_t i = 0; i < hl; i++) {
        if (msg[i] == '\r')
            continue;
        if (msg[i] == '\n') {
            line = 0;
            continue;
        }
        if (++line > 78)
            return 0;
    }
    return 1;
}

/* The unfolded value of header NAME into OUT (a fresh buffer). */
static int header_value(const char *msg, const char *name, struct tk_buf *out)
{
    size_t hl = header_len(msg), nl = strlen(name);
    for (size_t i = 0; i < hl; i++) {
        if ((i == 0 || msg[i - 1] == '\n') && strncasecmp(msg + i, name, nl) == 0 &&
            msg[i + nl] == ':') {
            size_t j = i + nl + 1;
            for (; j < hl; j++) {
                if (msg[j] == '\r' && msg[j + 1] == '\n') {
                    if (msg[j + 2] != ' ' && msg[j + 2] != '\t')
                        return 0;
                    j++;
                    continue;
                }
                /* unfolded, leading blanks are not part of the value */
                if (out->len || (msg[j] != ' ' && msg[j] != '\t'))
                    tk_buf_putc(out, msg[j]);
            }
        }
    }
    return -1;
}

static int b64val(char c)
{
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = strchr(a, c);
    return c && p ? (int)(p - a) : -1;
}

/* Decode an unfolded header value made of B encoded words separated by
 * spaces, or plain text; checks each word's length and that it holds whole
 * UTF-8 characters.  Returns 0 when all is well. */
static int decode_words(const char *v, struct tk_buf *out)
{
    int bad = 0;
    if (strncmp(v, "=?", 2) != 0) {
        tk_buf_puts(out, v);
        return 0;
    }
    while (*v) {
        const char *end;
        struct tk_buf w = {0};
        unsigned acc = 0;
        int bits = 0;
        if (strncmp(v, "=?UTF-8?B?", 10) != 0)
            return 1;
        end = strstr(v + 10, "?=");
        if (!end || end - v + 2 > 75)
            return 1;
        for (const char *p = v + 10; p < end; p++) {
            int x;
            if (*p == '=')
                break;
            x = b64val(*p);
            if (x < 0)
                return 1;
            acc = (acc << 6) | (unsigned)x;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                tk_buf_putc(&w, (char)((acc >> bits) & 0xff));
            }
        }
        if (w.len && !tk_utf8_valid(w.data, w.len))
            bad = 1;
        if (w.len)
            tk_buf_append(out, w.data, w.len);
        tk_buf_free(&w);
        v = end + 2;
        while (*v == ' ')
            v++;
    }
    if (!out->data)
        tk_buf_puts(out, "");
    return bad;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode quoted-printable S into OUT with LF line ends; checks line
 * lengths (<= 76) and that no line ends in a blank. */
static int qp_decode(const char *s, size_t n, struct tk_buf *out)
{
    size_t i = 0;
    tk_buf_puts(out, "");
    while (i < n) {
        const char *e = memchr(s + i, '\r', n - i);
        size_t ln = e ? (size_t)(e - (s + i)) : n - i;
        if (ln > 76 || (ln && (s[i + ln - 1] == ' ' || s[i + ln - 1] == '\t')))
            return 1;
        if (e && e[1] != '\n')
            return 1;
        for (size_t k = 0; k < ln; k++) {
            char c = s[i + k];
            if (c == '=') {
                if (k + 1 == ln) /* soft break */
                    goto soft;
                if (k + 2 >= ln)
                    return 1;
                if (hexval(s[i + k + 1]) < 0 || hexval(s[i + k + 2]) < 0)
                    return 1;
                tk_buf_putc(out, (char)(hexval(s[i + k + 1]) * 16 + hexval(s[i + k + 2])));
                k += 2;
            } else {
                tk_buf_putc(out, c);
            }
        }
        if (e)
            tk_buf_putc(out, '\n');
    soft:
        i += ln + (e ? 2 : 0);
    }
    return 0;
}

TK_TEST(test_basic_headers)
{
    struct tk_mail m;
    struct tk_buf b = {0};
    struct tk_error err = {0};
    base_mail(&m);
    m.auto_submitted = 1;
    TK_CHECK_INT(tk_mail_build(&m, &b, &err), 0);
    TK_CHECK(strstr(b.data, "Date: Tue, 01 Dec 2026 09:00:00 +0000\r\n") == b.data);
    TK_CHECK(strstr(b.data, "\r\nFrom: Acme Accountants <office@acme.example>\r\n"));
    TK_CHECK(strstr(b.data, "\r\nTo: Jane Doe <jane@client.example>\r\n"));
    TK_CHECK(strstr(b.data, "\r\nSubject: Your invoice\r\n"));
    TK_CHECK(strstr(b.data, "\r\nMessage-ID: <abc.123@acme.example>\r\n"));
    TK_CHECK(strstr(b.data, "\r\nMIME-Version: 1.0\r\n"));
    TK_CHECK(strstr(b.data, "\r\nAuto-Submitted: auto-generated\r\n"));
    TK_CHECK(strstr(b.data, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    TK_CHECK(strstr(
        b.data, "\r\nContent-Transfer-Encoding: 7bit\r\n\r\nHello Jane,\r\n\r\nPlease pay.\r\n"));
    TK_CHECK_INT(count_header(b.data, "In-Reply-To"), 0);
    TK_CHECK(wire_ok(b.data, b.len));
    tk_buf_free(&b);

    m.auto_submitted = 0;
    m.in_reply_to = "<first.1@acme.example>";
    m.from_name = NULL;
    TK_CHECK_INT(tk_mail_build(&m, &b, &err), 0);
    TK_CHECK(strstr(b.data, "\r\nIn-Reply-To: <first.1@acme.example>\r\n"));
    TK_CHECK(strstr(b.data, "\r\nReferences: <first.1@acme.example>\r\n"));
    TK_CHECK(strstr(b.data, "\r\nFrom: <office@acme.example>\r\n"));
    TK_CHECK_INT(count_header(b.data, "Auto-Submitted"), 0);
    tk_buf_free(&b);
}

TK_TEST(test_display_names)
{
    struct tk_buf b = {0}, v = {0};
    tk_mail_encode_address(&b, "Doe, Jane \"JD\"", "j@x.example", 4);
    TK_CHECK_STR(b.data, "\"Doe, Jane \\\"JD\\\"\" <j@x.example>");
    tk_buf_reset(&b);
    tk_mail_encode_address(&b, "  ", "j@x.example", 4);
    TK_CHECK_STR(b.data, "<j@x.example>");
    tk_buf_reset(&b);
    tk_mail_encode_address(&b, "J\xc3\xb6rg M\xc3\xbcller", "j@x.example", 4);
    TK_CHECK(strncmp(b.data, "=?UTF-8?B?", 10) == 0);
    TK_CHECK(strstr(b.data, "?= <j@x.example>"));
    /* the phrase decodes back */
    *strstr(b.data, " <j@") = '\0';
    TK_CHECK_INT(decode_words(b.data, &v), 0);
    TK_CHECK_STR(v.data, "J\xc3\xb6rg M\xc3\xbcller");
    tk_buf_free(&b);
    tk_buf_free(&v);
}

/* Subjects of every length in 1-, 2-, 3- and 4-byte characters: words
 * <= 75, whole characters, lines <= 78, decoding gives the input back. */
TK_TEST(test_encoded_words)
{
    static const char *chars[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", " "};
    for (int len = 1; len < 160; len += 3) {
        for (int mix = 0; mix < 5; mix++) {
            struct tk_buf s = {0}, b = {0}, v = {0}, d = {0};
            struct tk_mail m;
            struct tk_error err = {0};
            tk_buf_puts(&s, "\xc3\xa9");
            for (int i = 0; i < len; i++)
                tk_buf_puts(&s, chars[(i * 7 + mix * 3 + i / 5) % (mix == 4 ? 5 : 4)]);
            tk_buf_puts(&s, "x");
            base_mail(&m);
            m.subject = s.data;
            TK_CHECK_INT(tk_mail_build(&m, &b, &err), 0);
            TK_CHECK(header_lines_ok(b.data));
            TK_CHECK_INT(count_header(b.data, "Subject"), 1);
            header_value(b.data, "Subject", &v);
            TK_CHECK_INT(decode_words(v.data, &d), 0);
            TK_CHECK(d.data && strcmp(d.data, s.data) == 0);
            tk_buf_free(&s);
            tk_buf_free(&b);
            tk_buf_free(&v);
            tk_buf_free(&d);
        }
    }
}

TK_TEST(test_ascii_folding)
{
    struct tk_buf s = {0}, b = {0}, v = {0};
    struct tk_mail m;
    base_mail(&m);
    for (int i = 0; i < 40; i++)
        tk_buf_printf(&s, "%sword%d", i ? " " : "", i);
    m.subject = s.data;
    TK_CHECK_INT(tk_mail_build(&m, &b, NULL), 0);
    TK_CHECK(header_lines_ok(b.data));
    TK_CHECK(strstr(b.data, "Subject: word0 word1"));
    header_value(b.data, "Subject", &v);
    TK_CHECK_STR(v.data, s.data); /* folding at spaces unfolds losslessly */
    tk_buf_free(&b);
    tk_buf_free(&v);

    /* an unbreakable 100-character word goes into encoded words */
    tk_buf_reset(&s);
    tk_buf_puts(&s, "Ref ");
    for (int i = 0; i < 100; i++)
        tk_buf_putc(&s, (char)('a' + i % 26));
    m.subject = s.data;
    TK_CHECK_INT(tk_mail_build(&m, &b, NULL), 0);
    TK_CHECK(header_lines_ok(b.data));
    {
        struct tk_buf d = {0};
        header_value(b.data, "Subject", &v);
        TK_CHECK(strncmp(v.data, "=?UTF-8?B?", 10) == 0);
        TK_CHECK_INT(decode_words(v.data, &d), 0);
        TK_CHECK_STR(d.data, s.data);
        tk_buf_free(&d);
    }
    /* a 70-character word still plain, folded after "Subject:" to fit 78 */
    tk_buf_reset(&s);
    for (int i = 0; i < 70; i++)
        tk_buf_putc(&s, (char)('a' + i % 26));
    m.subject = s.data;
    tk_buf_reset(&b);
    tk_buf_reset(&v);
    TK_CHECK_INT(tk_mail_build(&m, &b, NULL), 0);
    TK_CHECK(header_lines_ok(b.data));
    header_value(b.data, "Subject", &v);
    TK_CHECK_STR(v.data, s.data);
    /* a long extra header name: the value moves to the next line */
    {
        static const char *const extra[] = {
            "X-Tickler-A-Very-Long-Header-Name-That-Takes-Most-Of-The-Line", "some value here",
            "X-Tickler-Another-Very-Long-Header-Name-That-Takes-The-Line", "\xc3\xa9t\xc3\xa9",
            NULL};
        struct tk_buf d = {0};
        m.extra = extra;
        tk_buf_reset(&b);
        tk_buf_reset(&v);
        TK_CHECK_INT(tk_mail_build(&m, &b, NULL), 0);
        TK_CHECK(header_lines_ok(b.data));
        header_value(b.data, extra[0], &v);
        TK_CHECK_STR(v.data, "some value here");
        tk_buf_reset(&v);
        header_value(b.data, extra[2], &v);
        TK_CHECK_INT(decode_words(v.data, &d), 0);
        TK_CHECK_STR(d.data, "\xc3\xa9t\xc3\xa9");
        tk_buf_free(&d);
    }
    tk_buf_free(&s);
    tk_buf_free(&b);
    tk_buf_free(&v);
}

TK_TEST(test_header_injection)
{
    struct tk_mail m;
    struct tk_buf b = {0};
    static const char *const extra[] = {"X-Tickler-Item", "42\r\nBcc: evil@x.example", NULL};
    base_mail(&m);
    m.subject = "Hi\r\nBcc: x@y.example\r\n\r\nbody";
    m.to_name = "Eve\nBcc: x@y.example";
    m.from_name = "Mallory\rTo: z@y.example";
    m.extra = extra;
    TK_CHECK_INT(tk_mail_build(&m, &b, NULL), 0);
    TK_CHECK_INT(count_header(b.data, "Bcc"), 0);
    TK_CHECK_INT(count_header(b.data, "To"), 1);
    TK_CHECK_INT(count_header(b.data, "From"), 1);
    TK_CHECK_INT(count_header(b.data, "Subject"), 1);
    TK_CHECK_INT(count_header(b.data, "Date"), 1);
    TK_CHECK_INT(count_header(b.data, "Message-ID"), 1);
    TK_CHECK_INT(count_header(b.data, "X-Tickler-Item"), 1);
    TK_CHECK(strstr(b.data, "\r\nSubject: Hi Bcc: x@y.example body\r\n"));
    TK_CHECK(strstr(b.data, "\r\nX-Tickler-Item: 42 Bcc: evil@x.example\r\n"));
    TK_CHECK(wire_ok(b.data, b.len));
    tk_buf_free(&b);

    /* an embedded NUL ends the C string: nothing after it can appear */
    m.subject = "Hi\0\r\nBcc: x@y.example";
    m.extra = NULL;
    TK_CHECK_INT(tk_mail_build(&m, &b, NULL), 0);
    TK_CHECK(strstr(b.data, "\r\nSubject: Hi\r\n"));
    TK_CHECK_INT(count_header(b.data, "Bcc"), 0);
    tk_buf_free(&b);
}

TK_TEST(test_refusals)
{
    struct tk_mail m;
    struct tk_buf b = {0};
    struct tk_error err = {0};
    static const char *const bad_extra[] = {"Bcc", "x@y.example", NULL};
    tk_buf_puts(&b, "keep");
    base_mail(&m);
    m.to_addr = "jane@client.example\r\nBcc: x@y.example";
    TK_CHECK_INT(tk_mail_build(&m, &b, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "To address") != NULL);
    base_mail(&m);
    m.to_addr = "j\xffne@x.example";
    TK_CHECK_INT(tk_mail_build(&m, &b, &err), TK_EINVAL);
    base_mail(&m);
    m.from_addr = "Jane <jane@x.example>";
    TK_CHECK_INT(tk_mail_build(&m, &b, &err), TK_EINVAL);
    base_mail(&m);
    m.message_id = "<a b@c>";
    TK_CHECK_INT(tk_mail_build(&m, &b, &err), TK_EINVAL);
    base_mail(&m);
    m.in_reply_to = "<x@y>\r\nBcc: a@b.example";
    TK_CHECK_INT(tk_mail_build(&m, &b, &err), TK_EINVAL);
    base_mail(&m);
    m.extra = bad_extra;
    TK_CHECK_INT(tk_mail_build(&m, &b, &err), TK_EINVAL);
    TK_CHECK_STR(b.data, "keep");
    /* a too-small buffer ceiling leaves OUT as it was */
    base_mail(&m);
    b.max = 64;
    TK_CHECK_INT(tk_mail_build(&m, &b, &err), TK_ENOMEM);
    TK_CHECK_STR(b.data, "keep");
    tk_buf_free(&b);
}

/* The From address a thread found valid is not checked again (build.c
 * from_ok): valid and invalid From addresses in turn, each built as the
 * checker says, with the checker's reason; a valid one after an invalid
 * one, and one that differs from the kept one by a byte, are checked. */
TK_TEST(from_memo_as_checked)
{
    static const char *const froms[] = {
        "office@bakker.example", "office@bakker.example",        "Jane <jane@x.example>",
        "office@bakker.example", "office@bakker.exampl",         "office@bakker..example",
        "office@bakker.example", "office@b\xc3\xa4kker.example", "off ice@bakker.example",
        "office@bakker.example", "\xff@bakker.example",          "office@bakker.example",
    };
    for (size_t k = 0; k < 3; k++)
        for (size_t i = 0; i < sizeof froms / sizeof *froms; i++) {
            struct tk_mail m;
            struct tk_buf b = {0};
            struct tk_error err = {0}, why = {0};
            int want = tk_mail_check_address(froms[i], &why);
            base_mail(&m);
            m.from_addr = froms[i];
            TK_CHECK_INT(tk_mail_build(&m, &b, &err), want);
            if (want)
                TK_CHECK(strstr(err.msg, "From address") != NULL);
            else
                TK_CHECK(b.data && strstr(b.data, "\r\nFrom: ") != NULL);
            tk_buf_free(&b);
        }
}

TK_TEST(test_invalid_utf8)
{
    struct tk_mail m;
    struct tk_buf b = {0}, v = {0}, d = {0}, body = {0};
    base_mail(&m);
    m.subject = "caf\xc3 \xff ok";
    m.text = "bad \xe2\x82 end\n";
    TK_CHECK_INT(tk_mail_build(&m, &b, NULL), 0);
    header_value(b.data, "Subject", &v);
    TK_CHECK_INT(decode_words(v.data, &d), 0);
    TK_CHECK_STR(d.data, "caf\xef\xbf\xbd \xef\xbf\xbd ok");
    TK_CHECK(strstr(b.data, "Content-Transfer-Encoding: quoted-printable\r\n"));
    TK_CHECK_INT(qp_decode(b.data + header_len(b.data), b.len - header_len(b.data), &body), 0);
    TK_CHECK_STR(body.data, "bad \xef\xbf\xbd\xef\xbf\xbd end\n");
    tk_buf_free(&b);
    tk_buf_free(&v);
    tk_buf_free(&d);
    tk_buf_free(&body);
}

TK_TEST(test_qp_round_trip)
{
    uint32_t seed = 12345;
    for (int round = 0; round < 200; round++) {
        struct tk_buf in = {0}, enc = {0}, dec = {0}, want = {0};
        size_t n = (size_t)(round * 7 % 400);
        for (size_t i = 0; i < n; i++) {
            static const char pool[] = "ab =\t\n.\xc3\xa9\r";
            seed = seed * 1103515245u + 12345u;
            char c = (seed >> 16) % 5 == 0 ? (char)(seed >> 8) : pool[(seed >> 16) % 11];
            tk_buf_putc(&in, c);
        }
        tk_buf_puts(&in, "");
        /* the decoder's view: CRLF and LF are both line ends */
        for (size_t i = 0; i < in.len; i++)
            if (!(in.data[i] == '\r' && i + 1 < in.len && in.data[i + 1] == '\n'))
                tk_buf_putc(&want, in.data[i]);
        tk_buf_puts(&want, "");
        TK_CHECK_INT(tk_mail_encode_qp(&enc, in.data, in.len), 0);
        tk_buf_puts(&enc, "");
        TK_CHECK(wire_ok(enc.data, enc.len));
        TK_CHECK_INT(qp_decode(enc.data, enc.len, &dec), 0);
        TK_CHECK(dec.len == want.len && memcmp(dec.data, want.data, want.len) == 0);
        tk_buf_free(&in);
        tk_buf_free(&enc);
        tk_buf_free(&dec);
        tk_buf_free(&want);
    }
    {
        struct tk_buf enc = {0};
        tk_mail_encode_qp(&enc, "trail \nx=y\t\n", 12);
        TK_CHECK_STR(enc.data, "trail=20\r\nx=3Dy=09\r\n");
        tk_buf_free(&enc);
    }
}

/* A body of N bytes, ASCII or not: lines <= 998, CRLF only, and the body
 * decodes back to the input with CRLF line ends. */
static void check_size(size_t n, int ascii, int long_lines)
{
    struct tk_buf in = {0}, b = {0}, dec = {0};
    struct tk_mail m;
    size_t hl, i = 0;
    while (in.len < n) {
        if (!long_lines && i % 61 == 60)
            tk_buf_putc(&in, '\n');
        else if (!ascii && i % 13 == 0 && in.len + 2 <= n)
            tk_buf_puts(&in, "\xc3\xa9");
        else
            tk_buf_putc(&in, (char)('a' + i % 26));
        i++;
    }
    base_mail(&m);
    m.text = in.data;
    TK_CHECK_INT(tk_mail_build(&m, &b, NULL), 0);
    TK_CHECK(wire_ok(b.data, b.len));
    hl = header_len(b.data);
    if (ascii && !long_lines) {
        TK_CHECK(strstr(b.data, "Content-Transfer-Encoding: 7bit\r\n") != NULL);
        /* 7bit: the body is the input with CRLF and a final line end */
        for (size_t k = 0; k < in.len; k++) {
            if (in.data[k] == '\n')
                tk_buf_putc(&dec, '\r');
            tk_buf_putc(&dec, in.data[k]);
        }
        tk_buf_puts(&dec, "\r\n");
        TK_CHECK(b.len - hl == dec.len && memcmp(b.data + hl, dec.data, dec.len) == 0);
    } else {
        TK_CHECK(strstr(b.data, "Content-Transfer-Encoding: quoted-printable\r\n") != NULL);
        TK_CHECK_INT(qp_decode(b.data + hl, b.len - hl, &dec), 0);
        TK_CHECK(dec.len == in.len + 1 && memcmp(dec.data, in.data, in.len) == 0);
    }
    tk_buf_free(&in);
    tk_buf_free(&b);
    tk_buf_free(&dec);
}

TK_TEST(test_body_sizes)
{
    static const size_t sizes[] = {65535, 65536, 65537, (size_t)10 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        check_size(sizes[k], 1, 0);
        check_size(sizes[k], 0, 0);
        check_size(sizes[k], 1, 1); /* one huge line: QP soft breaks */
    }
}

TK_TEST(test_body_line_ends)
{
    struct tk_mail m;
    struct tk_buf b = {0};
    base_mail(&m);
    m.text = "a\r\nb\nc";
    TK_CHECK_INT(tk_mail_build(&m, &b, NULL), 0);
    TK_CHECK(strstr(b.data, "7bit\r\n\r\na\r\nb\r\nc\r\n"));
    tk_buf_free(&b);
    m.text = "bare\rcr\n";
    TK_CHECK_INT(tk_mail_build(&m, &b, NULL), 0);
    TK_CHECK(strstr(b.data, "quoted-printable\r\n\r\nbare=0Dcr\r\n"));
    TK_CHECK(wire_ok(b.data, b.len));
    tk_buf_free(&b);
}

TK_TEST(test_multipart)
{
    struct tk_mail m;
    struct tk_buf b = {0};
    char bnd[80], *p, *q;
    base_mail(&m);
    m.html = "<p>Hello \xc3\xa9</p>\n";
    TK_CHECK_INT(tk_mail_build(&m, &b, NULL), 0);
    p = strstr(b.data, "Content-Type: multipart/alternative; boundary=\"");
    TK_CHECK(p != NULL);
    if (p) {
        p += strlen("Content-Type: multipart/alternative; boundary=\"");
        q = strchr(p, '"');
        snprintf(bnd, sizeof bnd, "\r\n--%.*s\r\nContent-Type: text/html", (int)(q - p), p);
        TK_CHECK(strstr(b.data, bnd) != NULL);
        snprintf(bnd, sizeof bnd, "\r\n--%.*s--\r\n", (int)(q - p), p);
        TK_CHECK(strstr(b.data, bnd) != NULL);
    }
    TK_CHECK(strstr(b.data, "<p>Hello =C3=A9</p>"));
    TK_CHECK_INT(count_header(b.data, "Content-Type"), 1);
    TK_CHECK(wire_ok(b.data, b.len));
    tk_buf_free(&b);
}

/* "<" time "." count "." 26 base-32 digits "@" domain ">": ID's checks of
 * the parts after the time, at AT (the first "."). */
static int b32_part(const char *id, size_t at)
{
    if (id[at] != '.' || id[at + 6] != '.' || id[at + 33] != '@' || id[at + 7] < '0' ||
        id[at + 7] > '7')
        return 0;
    for (size_t i = at + 1; i < at + 6; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z')))
            return 0;
    for (size_t i = at + 7; i < at + 33; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'v')))
            return 0;
    return 1;
}

TK_TEST(test_message_id)
{
    char id[128], id2[128];
    struct tk_error err = {0};
    TK_CHECK_INT(tk_mail_message_id("acme.example", 36 * 36 + 35, id, sizeof id, &err), 0);
    /* as long as the older "<" 32 hex "." time "@" domain ">" */
    TK_CHECK_INT(strlen(id), 1 + 3 + 1 + 5 + 1 + 26 + 1 + 12 + 1);
    TK_CHECK_INT(strlen(id), 1 + 32 + 1 + 3 + 1 + 12 + 1);
    TK_CHECK(strncmp(id, "<10z.", 5) == 0 && b32_part(id, 4));
    TK_CHECK(strcmp(id + 37, "@acme.example>") == 0);
    TK_CHECK_INT(tk_mail_message_id("acme.example", 36 * 36 + 35, id2, sizeof id2, &err), 0);
    TK_CHECK(strcmp(id, id2) != 0);
    TK_CHECK_INT(tk_mail_message_id("bad domain", 1, id, sizeof id, &err), TK_EINVAL);
    TK_CHECK_INT(tk_mail_message_id("acme.example", 1, id, 20, &err), TK_EINVAL);
}

static int cmp_id(const void *a, const void *b);

/* IDs sort in the order they were made (the store's outbox_msgid grows at
 * its right edge, bench/RESULTS.md update 59): at one NOW by their count,
 * which starts again at a new NOW; a later NOW sorts after.  The 128
 * random bits stay: two IDs never share them, and every bit is used. */
TK_TEST(test_message_id_order)
{
    static char ids[3000][128];
    const tk_time t0 = T_2026_12_01_0900;
    int first[8] = {0};
    unsigned ored = 0;
    TK_CHECK_INT(tk_mail_message_id("acme.example", 1, ids[0], sizeof ids[0], NULL), 0);
    for (int i = 0; i < 3000; i++)
        TK_CHECK_INT(
            tk_mail_message_id("acme.example", i < 2000 ? t0 : t0 + 1, ids[i], sizeof ids[i], NULL),
            0);
    TK_CHECK(strncmp(ids[0], "<tpczo0.00000.", 14) == 0);
    TK_CHECK(strncmp(ids[1], "<tpczo0.00001.", 14) == 0);
    TK_CHECK(strncmp(ids[1999], "<tpczo0.001jj.", 14) == 0); /* 1999 in base 36 */
    TK_CHECK(strncmp(ids[2000], "<tpczo1.00000.", 14) == 0);
    for (int i = 1; i < 3000; i++)
        TK_CHECK(strcmp(ids[i - 1], ids[i]) < 0);
    for (int i = 0; i < 3000; i++) {
        TK_CHECK(b32_part(ids[i], 7));
        first[ids[i][14] - '0']++;
        for (int k = 15; k < 40; k++)
            ored |= 1u << (ids[i][k] <= '9' ? ids[i][k] - '0' : ids[i][k] - 'a' + 10);
        memmove(ids[i], ids[i] + 14, 26);
        ids[i][26] = '\0';
    }
    for (int d = 0; d < 8; d++)
        TK_CHECK(first[d] > 0);    /* the first digit's 3 bits take every value */
    TK_CHECK(ored == 0xffffffffu); /* the others take all 32 */
    qsort(ids, 3000, sizeof ids[0], cmp_id);
    for (int i = 1; i < 3000; i++)
        TK_CHECK(strcmp(ids[i - 1], ids[i]) != 0);
}

TK_TEST(test_parse_address)
{
    char *n = NULL, *a = NULL;
    TK_CHECK_INT(tk_mail_parse_address("Jane Doe <jane@x.example>", &n, &a, NULL), 0);
    TK_CHECK_STR(n, "Jane Doe");
    TK_CHECK_STR(a, "jane@x.example");
    free(n);
    free(a);
    TK_CHECK_INT(tk_mail_parse_address("  jane@x.example ", &n, &a, NULL), 0);
    TK_CHECK(n == NULL);
    TK_CHECK_STR(a, "jane@x.example");
    free(a);
    TK_CHECK_INT(tk_mail_parse_address("\"Doe, Jane \\\"JD\\\"\" <jane@x.example>", &n, &a, NULL),
                 0);
    TK_CHECK_STR(n, "Doe, Jane \"JD\"");
    TK_CHECK_STR(a, "jane@x.example");
    free(n);
    free(a);
    TK_CHECK_INT(tk_mail_parse_address("<jane@x.example>", &n, &a, NULL), 0);
    TK_CHECK(n == NULL);
    free(a);
    TK_CHECK_INT(tk_mail_parse_address("Jane <jane@x.example> extra", &n, &a, NULL), TK_EINVAL);
    TK_CHECK_INT(tk_mail_parse_address("Jane <jane@x.example", &n, &a, NULL), TK_EINVAL);
    TK_CHECK_INT(tk_mail_parse_address("\"Jane <jane@x.example>", &n, &a, NULL), TK_EINVAL);
    TK_CHECK_INT(tk_mail_parse_address("not an address", &n, &a, NULL), TK_EINVAL);
    TK_CHECK(n == NULL && a == NULL);
}

/* Found by fuzz_mail: a domain with '=' and '?' passed the address check. */
TK_TEST(address_domain_characters)
{
    TK_CHECK(!tk_email_valid("jcne@x.expl=?UTF-8?B?"));
    TK_CHECK(!tk_email_valid("ann@acme/example.com"));
    TK_CHECK(!tk_email_valid("ann@acme_example.com"));
    TK_CHECK(tk_email_valid("ann@mail-1.acme.example"));
    TK_CHECK(tk_email_valid("a=?b+c@acme.example")); /* legal local-part characters */
    TK_CHECK(tk_email_valid("jan@b\xc3\xbc"
                            "cher.example")); /* an international domain */
}

/* The word-at-a-time paths (UTF-8 check, 7bit check) around their 8- and
 * 16-byte boundaries: one odd byte at every position of short texts. */
TK_TEST(test_fast_path_boundaries)
{
    static const size_t lens[] = {1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33};
    static const struct {
        const char *b;
        int valid, seven;
    } odd[] = {
        {"\xff", 0, 0},
        {"\x80", 0, 0},
        {"\xe2\x82", 0, 0},
        {"\xc3\xa9", 1, 0},
        {"\xf0\x9f\x98\x80", 1, 0},
        {"\x01", 1, 0},
        {"\x7f", 1, 0},
        {"\r", 1, 0},
        {"\t", 1, 1},
        {"~", 1, 1},
        {" ", 1, 1},
        {"\r\n", 1, 1},
    };
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
        for (size_t pos = 0; pos < lens[li]; pos++)
            for (size_t k = 0; k < sizeof odd / sizeof odd[0]; k++) {
                char text[80], want[96];
                size_t ol = strlen(odd[k].b), n = 0;
                struct tk_buf b = {0}, msg = {0};
                struct tk_mail m;
                for (size_t i = 0; i < lens[li]; i++) {
                    if (i == pos) {
                        memcpy(text + n, odd[k].b, ol);
                        n += ol;
                    }
                    text[n++] = (char)('a' + i % 26);
                }
                text[n] = '\0';
                TK_CHECK_INT(tk_mail_utf8_prefix(text, n), odd[k].valid ? n : pos);
                TK_CHECK_INT(tk_mail_repair_utf8(&b, text, n), 0);
                if (odd[k].valid) {
                    TK_CHECK(b.len == n && memcmp(b.data, text, n) == 0);
                } else {
                    /* each bad byte becomes one U+FFFD */
                    size_t w = 0;
                    memcpy(want, text, pos);
                    w = pos;
                    for (size_t i = 0; i < ol; i++) {
                        memcpy(want + w, "\xef\xbf\xbd", 3);
                        w += 3;
                    }
                    memcpy(want + w, text + pos + ol, n - pos - ol);
                    w += n - pos - ol;
                    TK_CHECK(b.len == w && memcmp(b.data, want, w) == 0);
                }
                base_mail(&m);
                m.text = text;
                TK_CHECK_INT(tk_mail_build(&m, &msg, NULL), 0);
                TK_CHECK(msg.data && wire_ok(msg.data, msg.len));
                TK_CHECK((strstr(msg.data, "Content-Transfer-Encoding: 7bit\r\n") != NULL) ==
                         odd[k].seven);
                tk_buf_free(&b);
                tk_buf_free(&msg);
            }
}

/* 998 characters is the longest 7bit line, wherever the line starts
 * relative to the 8-byte words, with LF, CRLF or no line end. */
TK_TEST(test_line_limit_alignment)
{
    static const char *const ends[] = {"\n", "\r\n", ""};
    for (size_t shift = 0; shift < 17; shift++)
        for (size_t len = 997; len <= 999; len++)
            for (size_t e = 0; e < 3; e++) {
                struct tk_buf text = {0}, msg = {0};
                struct tk_mail m;
                const char *body;
                for (size_t i = 0; i < shift; i++)
                    TK_CHECK_INT(tk_buf_putc(&text, 'x'), 0);
                if (shift)
                    TK_CHECK_INT(tk_buf_putc(&text, '\n'), 0);
                for (size_t i = 0; i < len; i++)
                    TK_CHECK_INT(tk_buf_putc(&text, (char)('a' + i % 26)), 0);
                TK_CHECK_INT(tk_buf_puts(&text, ends[e]), 0);
                base_mail(&m);
                m.text = text.data;
                TK_CHECK_INT(tk_mail_build(&m, &msg, NULL), 0);
                TK_CHECK(wire_ok(msg.data, msg.len));
                TK_CHECK((strstr(msg.data, "Content-Transfer-Encoding: 7bit\r\n") != NULL) ==
                         (len <= 998));
                body = strstr(msg.data, "\r\n\r\n");
                TK_CHECK(body != NULL);
                if (body && len <= 998) {
                    /* LF became CRLF, CRLF stayed, a last line got its end */
                    size_t want = shift + (shift ? 2 : 0) + len + 2;
                    TK_CHECK_INT(strlen(body + 4), want);
                }
                tk_buf_free(&text);
                tk_buf_free(&msg);
            }
}

#define ID_THREADS 4
#define ID_PER_THREAD 300

static void *make_ids(void *arg)
{
    char(*ids)[128] = arg;
    for (int i = 0; i < ID_PER_THREAD; i++)
        if (tk_mail_message_id("acme.example", T_2026_12_01_0900, ids[i], sizeof ids[i], NULL))
            ids[i][0] = '\0';
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Message-IDs come from a per-thread pool of random bytes: never the same
 * bytes twice, across threads and across a fork. */
TK_TEST(test_message_id_pool)
{
    static char ids[ID_THREADS * ID_PER_THREAD][128];
    pthread_t th[ID_THREADS];
    char parent[128], child[128] = "";
    int fd[2], status = 0;
    pid_t pid;
    for (int t = 0; t < ID_THREADS; t++)
        TK_CHECK_INT(pthread_create(&th[t], NULL, make_ids, ids[t * ID_PER_THREAD]), 0);
    for (int t = 0; t < ID_THREADS; t++)
        pthread_join(th[t], NULL);
    qsort(ids, ID_THREADS * ID_PER_THREAD, sizeof ids[0], cmp_id);
    for (int i = 0; i < ID_THREADS * ID_PER_THREAD; i++) {
        TK_CHECK(ids[i][0] == '<' && b32_part(ids[i], 7));
        if (i)
            TK_CHECK(strcmp(ids[i - 1], ids[i]) != 0);
    }

    /* fill this thread's pool, then fork: the child must not hand out the
     * bytes the parent hands out next */
    TK_CHECK_INT(tk_mail_message_id("acme.example", 1, parent, sizeof parent, NULL), 0);
    TK_CHECK_INT(pipe(fd), 0);
    fflush(NULL);
    pid = fork();
    TK_CHECK(pid >= 0);
    if (pid == 0) {
        char id[128] = "";
        ssize_t w;
        tk_mail_message_id("acme.example", 1, id, sizeof id, NULL);
        w = write(fd[1], id, sizeof id);
        _exit(w == (ssize_t)sizeof id ? 0 : 1);
    }
    close(fd[1]);
    TK_CHECK_INT(read(fd[0], child, sizeof child), (long long)sizeof child);
    close(fd[0]);
    waitpid(pid, &status, 0);
    TK_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    TK_CHECK_INT(tk_mail_message_id("acme.example", 1, parent, sizeof parent, NULL), 0);
    TK_CHECK(child[0] == '<');
    TK_CHECK(strcmp(parent, child) != 0);
}

/* A too small buffer is refused; one byte more is enough. */
TK_TEST(test_message_id_size)
{
    char buf[128];
    size_t need;
    TK_CHECK_INT(tk_mail_message_id("acme.example", 36, buf, sizeof buf, NULL), 0);
    need = strlen(buf) + 1; /* "<10.count.26 base-32 digits@acme.example>" */
    TK_CHECK_INT(need, 1 + 2 + 1 + 5 + 1 + 26 + 1 + 12 + 1 + 1);
    TK_CHECK_INT(tk_mail_message_id("acme.example", 36, buf, need - 1, NULL), TK_EINVAL);
    TK_CHECK_INT(tk_mail_message_id("acme.example", 36, buf, need, NULL), 0);
    TK_CHECK_INT(strlen(buf), need - 1);
    TK_CHECK(strncmp(buf, "<10.", 4) == 0 && b32_part(buf, 3));
    TK_CHECK(strcmp(buf + 36, "@acme.example>") == 0);
}

/* ---- the old paths, kept as references for the fast ones ----------- */

/* build.c's 7bit check and CRLF copy before SSE2 (bench/RESULTS.md update
 * 72), byte by byte in the way its comments define them. */
#define OLD_LINE_MAX 998
static int old_body_is_7bit(const char *s, size_t n, size_t *bare)
{
    size_t start = 0, lf = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            int cr = i > start && s[i - 1] == '\r';
            if (i - start - (size_t)cr > OLD_LINE_MAX)
                return 0;
            lf += !cr;
            start = i + 1;
        } else if (c == '\r') {
            if (i + 1 >= n || s[i + 1] != '\n')
                return 0;
        } else if (c >= 0x80 || c == 0x7f || (c < 0x20 && c != '\t')) {
            return 0;
        }
    }
    if (n - start > OLD_LINE_MAX)
        return 0;
    *bare = lf;
    return 1;
}

/* The text part as put_body wrote it: headers, blank line, body. */
static void old_put_body(struct tk_buf *out, const char *text)
{
    struct tk_buf clean = {0};
    const char *s = text;
    size_t n = strlen(s), bare = 0;
    int seven = old_body_is_7bit(s, n, &bare);
    if (!seven && tk_mail_utf8_prefix(s, n) != n) {
        tk_mail_repair_utf8(&clean, s, n);
        s = clean.data;
        n = clean.len;
    }
    tk_buf_puts(out, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: ");
    tk_buf_puts(out, seven ? "7bit\r\n\r\n" : "quoted-printable\r\n\r\n");
    if (seven) {
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
                tk_buf_putc(out, '\r');
            tk_buf_putc(out, s[i]);
        }
        if (n && s[n - 1] != '\n')
            tk_buf_puts(out, "\r\n");
    } else {
        tk_mail_encode_qp(out, s, n);
        if (n && s[n - 1] != '\n')
            tk_buf_puts(out, "\r\n");
    }
    tk_buf_free(&clean);
}

/* build.c's Message-ID check before SSE2, as it was. */
static int old_msgid_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 5 || n > 250 || s[0] != '<' || s[n - 1] != '>' || !memchr(s, '@', n))
        return 0;
    for (size_t i = 1; i + 1 < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '<' ||
            s[i] == '>')
            return 0;
    return 1;
}

static uint32_t rnd_next(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 8;
}

/* One body through tk_mail_build and through the old encoder: the text
 * part (from its Content-Type to the end) byte for byte the same. */
static int body_as_before(const char *text)
{
    struct tk_buf msg = {0}, want = {0};
    struct tk_mail m;
    const char *part;
    int same;
    base_mail(&m);
    m.text = text;
    old_put_body(&want, text);
    if (tk_mail_build(&m, &msg, NULL) != 0 || !msg.data) {
        tk_buf_free(&msg);
        tk_buf_free(&want);
        return 0;
    }
    part = strstr(msg.data, "Content-Type: text/plain");
    same = part && strlen(part) == want.len && memcmp(part, want.data, want.len) == 0;
    tk_buf_free(&msg);
    tk_buf_free(&want);
    return same;
}

/* The body encoder (SSE2 classification, the old 8-byte words elsewhere)
 * against the old byte-by-byte one: edge bodies (empty, CR, LF, CRLF, bare
 * CR, a NUL that ends the text, 8-bit valid and not, DEL, TAB, lines of
 * 997-1000 bytes at every 16-byte offset, dots at line start), then
 * random bodies of 0-3000 bytes over those bytes.  Fails when the fast
 * scan misses a byte (checked: with the TAB case allowed as any control,
 * and with the line length off by one, it fails). */
TK_TEST(body_encoder_as_before)
{
    static const char *const edge[] = {
        "",
        "\r",
        "\n",
        "\r\n",
        "a\rb",
        "a\r",
        "\ra\n",
        "a\r\r\n",
        "a\nb\r\nc\n\n",
        "abc\0def",
        "\t\t\n",
        "\x7f",
        "caf\xc3\xa9\n",
        "caf\xe9\n",
        "\x01\x02\n",
        ".\n..\n.a\r\n.",
        "line\n.\n",
        "no end",
        "0123456789abcdef0123456789abcdef\n",
    };
    static const char pool[] = "abcdefghij .\t\n\r\n\r\x7f\x01\xc3\xa9\xff\x80=";
    uint32_t seed = 2026;
    for (size_t k = 0; k < sizeof edge / sizeof edge[0]; k++)
        TK_CHECK(body_as_before(edge[k]));
    for (size_t len = 995; len <= 1001; len++)
        for (size_t shift = 0; shift < 17; shift++)
            for (int end = 0; end < 3; end++) {
                struct tk_buf t = {0};
                for (size_t i = 0; i < shift; i++)
                    tk_buf_putc(&t, i % 5 == 4 ? '\n' : 'x');
                for (size_t i = 0; i < len; i++)
                    tk_buf_putc(&t, i == 0 ? '.' : (char)('a' + i % 26));
                tk_buf_puts(&t, end == 0 ? "\n" : end == 1 ? "\r\n" : "");
                TK_CHECK(body_as_before(t.data));
                tk_buf_free(&t);
            }
    for (int round = 0; round < 3000; round++) {
        struct tk_buf t = {0};
        size_t n = rnd_next(&seed) % (round < 1000 ? 70 : 3000);
        /* mostly plain text, so that the fast runs are long */
        unsigned odd = rnd_next(&seed) % 4 == 0 ? 4 : 60;
        tk_buf_puts(&t, "");
        for (size_t i = 0; i < n; i++) {
            uint32_t r = rnd_next(&seed);
            char c =
                r % odd == 0 ? pool[(r >> 8) % (sizeof pool - 1)] : (char)('a' + (r >> 8) % 26);
            if (c == '\0')
                c = 'z';
            tk_buf_putc(&t, c);
        }
        TK_CHECK(body_as_before(t.data));
        tk_buf_free(&t);
    }
}

/* The Message-ID check (16 bytes at a time with SSE2) against the old one
 * on the IDs tk_mail_build is given: valid ones of every length 5-250 and
 * each with one bad byte at every position, and random strings. */
TK_TEST(msgid_check_as_before)
{
    static const char bad[] = " <>\x7f\x01\x80\xff\t\"@.";
    uint32_t seed = 7;
    char id[260];
    for (size_t len = 3; len <= 252; len++) {
        for (size_t i = 0; i < len; i++)
            id[i] = (char)('a' + i % 26);
        id[0] = '<';
        id[len - 1] = '>';
        id[len / 2] = '@';
        id[len] = '\0';
        /* pos == len: the ID as it is; else one bad byte at pos */
        for (size_t pos = 0; pos <= len; pos++)
            for (size_t k = 0; k < (pos < len ? sizeof bad - 1 : 1); k++) {
                char was = pos < len ? id[pos] : 0;
                struct tk_buf msg = {0}, msg2 = {0};
                struct tk_mail m;
                if (pos < len)
                    id[pos] = bad[k];
                base_mail(&m);
                m.message_id = id;
                TK_CHECK_INT(tk_mail_build(&m, &msg, NULL) == 0, old_msgid_valid(id));
                m.message_id = "<abc.123@acme.example>";
                m.in_reply_to = id;
                TK_CHECK_INT(tk_mail_build(&m, &msg2, NULL) == 0, old_msgid_valid(id));
                if (pos < len)
                    id[pos] = was;
                tk_buf_free(&msg);
                tk_buf_free(&msg2);
            }
    }
    for (int round = 0; round < 20000; round++) {
        size_t len = 5 + rnd_next(&seed) % 60;
        struct tk_buf msg = {0};
        struct tk_mail m;
        for (size_t i = 0; i < len; i++) {
            uint32_t r = rnd_next(&seed);
            id[i] = r % 40 == 0 ? bad[(r >> 8) % (sizeof bad - 1)] : (char)('!' + (r >> 8) % 94);
        }
        id[0] = '<';
        id[len - 1] = '>';
        id[len] = '\0';
        base_mail(&m);
        m.message_id = id;
        TK_CHECK_INT(tk_mail_build(&m, &msg, NULL) == 0, old_msgid_valid(id));
        tk_buf_free(&msg);
    }
}

/* The room reserved for a whole message is a hint: a buffer with content
 * before, one whose ceiling is below the hint, and a fresh one hold the
 * same message; a ceiling below the message still refuses it and leaves
 * the buffer as it was. */
TK_TEST(message_room_is_a_hint)
{
    struct tk_buf fresh = {0}, before = {0}, tight = {0}, small = {0};
    struct tk_mail m;
    char body[3000];
    memset(body, 'a', sizeof body - 1);
    for (size_t i = 60; i < sizeof body - 1; i += 61)
        body[i] = '\n';
    body[sizeof body - 1] = '\0';
    base_mail(&m);
    m.text = body;
    TK_CHECK_INT(tk_mail_build(&m, &fresh, NULL), 0);
    tk_buf_puts(&before, "previous");
    TK_CHECK_INT(tk_mail_build(&m, &before, NULL), 0);
    TK_CHECK(before.len == fresh.len + 8 && memcmp(before.data + 8, fresh.data, fresh.len) == 0);
    /* the hint is the body + a sixteenth + 1024: more than the message */
    tight.max = fresh.len + 1;
    TK_CHECK(tight.max < sizeof body + sizeof body / 16 + 1024);
    TK_CHECK_INT(tk_mail_build(&m, &tight, NULL), 0);
    TK_CHECK(tight.len == fresh.len && memcmp(tight.data, fresh.data, fresh.len) == 0);
    tk_buf_puts(&small, "kept");
    small.max = fresh.len / 2;
    TK_CHECK_INT(tk_mail_build(&m, &small, NULL), TK_ENOMEM);
    TK_CHECK_STR(small.data, "kept");
    tk_buf_free(&fresh);
    tk_buf_free(&before);
    tk_buf_free(&tight);
    tk_buf_free(&small);
}

int main(void)
{
    TK_RUN(address_domain_characters);
    TK_RUN(test_basic_headers);
    TK_RUN(test_display_names);
    TK_RUN(test_encoded_words);
    TK_RUN(test_ascii_folding);
    TK_RUN(test_header_injection);
    TK_RUN(test_refusals);
    TK_RUN(from_memo_as_checked);
    TK_RUN(test_invalid_utf8);
    TK_RUN(test_qp_round_trip);
    TK_RUN(test_body_sizes);
    TK_RUN(test_body_line_ends);
    TK_RUN(test_multipart);
    TK_RUN(test_message_id);
    TK_RUN(test_message_id_order);
    TK_RUN(test_parse_address);
    TK_RUN(test_fast_path_boundaries);
    TK_RUN(test_line_limit_alignment);
    TK_RUN(test_message_id_pool);
    TK_RUN(test_message_id_size);
    TK_RUN(body_encoder_as_before);
    TK_RUN(msgid_check_as_before);
    TK_RUN(message_room_is_a_hint);
    return tk_test_done();
}
