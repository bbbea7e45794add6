/* test_mail_address.c - what tk_mail_check_address accepts and refuses
 * (and why), the wire form of international domains, and the mail
 * builder's use of both. */
#include <stdlib.h>
#include <string.h>

#include "mail/mail.h"
#include "tk_test.h"

/* The checker's verdict on A: 0, or TK_EINVAL with a reason holding WHY. */
static int refused_for(const char *a, const char *why)
{
    struct tk_error err = {0};
    int rc = tk_mail_check_address(a, &err);
    if (rc != TK_EINVAL) {
        fprintf(stderr, "accepted: %s\n", a);
        return 0;
    }
    if (!strstr(err.msg, why)) {
        fprintf(stderr, "'%s': %s (wanted \"%s\")\n", a, err.msg, why);
        return 0;
    }
    return 1;
}

static int accepted(const char *a)
{
    struct tk_error err = {0};
    int rc = tk_mail_check_address(a, &err);
    if (rc)
        fprintf(stderr, "refused: %s\n", err.msg);
    return rc == 0;
}

/* The wire form of A, or NULL; *UTF8 as tk_mail_ascii_address sets it. */
static char *ascii_of(const char *a, int *utf8)
{
    struct tk_buf b = {0};
    if (tk_mail_ascii_address(&b, a, utf8, NULL)) {
        tk_buf_free(&b);
        return NULL;
    }
    return tk_buf_steal(&b);
}

TK_TEST(test_accepts_what_can_be_sent)
{
    static const char *const ok[] = {
        "ann@example.com",
        "a=?b+c@acme.example", /* atext: legal local-part characters */
        "o'brien.x-y_z@mail-1.acme.example",
        "!#$%&'*+-/=?^_`{|}~@example.com",
        "\"john doe\"@example.com",
        "\"jo.\"@example.com",           /* a dot at the end is fine when quoted */
        "\"a\\\"b\"@example.com",        /* quoted-pair */
        "\"a@b\"@example.com",           /* the last '@' separates */
        "\xc3\xbcn\xc3\xaf@example.com", /* UTF-8 local part (RFC 6531) */
        "user@b\xc3\xbc"
        "cher.example", /* IDN */
        "x@xn--bcher-kva.example",
        "tickler@localhost",
        "ab--c@ab--c.example", /* ASCII host names are taken as written */
        NULL,
    };
    for (int i = 0; ok[i]; i++)
        TK_CHECK(accepted(ok[i]));
    /* 64 bytes of local part and 254 in all are the limits */
    char local[80], whole[300];
    memset(local, 'a', 64);
    strcpy(local + 64, "@example.com");
    TK_CHECK(accepted(local));
    memset(local, 'a', 65);
    strcpy(local + 65, "@example.com");
    TK_CHECK(refused_for(local, "more than 64 bytes before the '@'"));
    memset(whole, 'a', 254);
    whole[254] = '\0';
    whole[10] = '@';
    for (int i = 20; i < 254; i += 20)
        whole[i] = '.';
    TK_CHECK(accepted(whole));
    whole[253] = 'a';
    strcpy(whole + 254, "b");
    TK_CHECK(refused_for(whole, "longer than 254 bytes"));
}

TK_TEST(test_refuses_with_a_reason)
{
    TK_CHECK(refused_for("jo.@example.com", "ends with a dot"));
    TK_CHECK(refused_for(".jo@example.com", "starts with a dot"));
    TK_CHECK(refused_for("a..b@example.com", "two dots in a row"));
    TK_CHECK(refused_for("a\xff"
                         "b@example.com",
                         "not valid UTF-8"));
    TK_CHECK(refused_for("a\xff"
                         "b@example.com",
                         "'a\\xffb@example.com'")); /* shown escaped */
    TK_CHECK(refused_for("a\xc3(b@example.com", "not valid UTF-8"));
    TK_CHECK(refused_for("a\x01"
                         "b@example.com",
                         "control character"));
    TK_CHECK(refused_for("a\xc2\x85"
                         "b@example.com",
                         "control character")); /* C1 NEL */
    TK_CHECK(refused_for("a b@example.com", "space"));
    TK_CHECK(refused_for("a(b)@example.com", "'(' is not allowed"));
    TK_CHECK(refused_for("a,b@example.com", "',' is not allowed"));
    TK_CHECK(refused_for("\"a<b\"@example.com", "'<' is not allowed"));
    TK_CHECK(refused_for("\"a\"b@example.com", "quoted part must be the whole part"));
    TK_CHECK(refused_for("\"\"@example.com", "nothing between the quotes"));
    TK_CHECK(refused_for("\"a\"b\"@example.com", "not escaped"));
    TK_CHECK(refused_for("\"a\\\"@example.com", "backslash"));
    TK_CHECK(refused_for("ann", "no '@'"));
    TK_CHECK(refused_for("@example.com", "nothing before the '@'"));
    TK_CHECK(refused_for("ann@", "nothing after the '@'"));
    TK_CHECK(refused_for("ann@example", "no dot"));
    TK_CHECK(refused_for("ann@example.com.", "not a host name"));
    TK_CHECK(refused_for("ann@[192.0.2.1]", "not a host name"));
    TK_CHECK(refused_for("ann@-acme.example", "not a host name"));
    TK_CHECK(refused_for("ann@acme_example.com", "not a host name"));
    TK_CHECK(refused_for("ann@acme/example.com", "not a host name"));
    TK_CHECK(refused_for("jcne@x.expl=?UTF-8?B?", "not a host name"));
    TK_CHECK(refused_for("x@xn--zz.example", "not a valid international name"));
    TK_CHECK(refused_for("x@\xe2\x98\x83.example", "not a valid international name")); /* snowman */
    TK_CHECK(refused_for("x@b\xc3\xbc_cher.example", "not a host name"));
    TK_CHECK(refused_for("x@\xc3\xbc\xc3\xbc--x.example", "not a valid international name"));
    TK_CHECK_INT(tk_mail_check_address("", NULL), TK_EINVAL);
    TK_CHECK_INT(tk_mail_check_address(NULL, NULL), TK_EINVAL);
}

/* Found by fuzz_address: a long address of bad bytes and UTF-8 made a
 * message that was cut inside a character.  The address is shown cut
 * short, with "...", and the message stays one line of valid UTF-8. */
TK_TEST(test_long_refusal_is_valid_text)
{
    char addr[400];
    struct tk_error err = {0};
    size_t n = 0;
    memcpy(addr, "guser@b\xc3\xbc", 9);
    n = 9;
    while (n < 300)
        addr[n++] = (char)0xff;
    memcpy(addr + n,
           "\xc3\xbc"
           "cher.example\xc2\x85@e.m",
           20);
    addr[n + 20] = '\0';
    TK_CHECK_INT(tk_mail_check_address(addr, &err), TK_EINVAL);
    TK_CHECK(tk_utf8_valid(err.msg, strlen(err.msg)));
    TK_CHECK(strstr(err.msg, "...': not valid UTF-8") != NULL);
    TK_CHECK(strstr(err.msg, "'guser@b\xc3\xbc\\xff\\xff") != NULL);
    /* C1 controls are escaped too */
    TK_CHECK(refused_for("a\xc2\x85"
                         "b@example.com",
                         "'a\\xc2\\x85b@example.com'"));
}

TK_TEST(test_ascii_form)
{
    int utf8 = -1;
    char *a = ascii_of("user@b\xc3\xbc"
                       "cher.example",
                       &utf8);
    TK_CHECK_STR(a, "user@xn--bcher-kva.example");
    TK_CHECK_INT(utf8, 0);
    free(a);
    a = ascii_of("user@B\xc3\x9c"
                 "CHER.Example",
                 &utf8); /* mapped to lower case */
    TK_CHECK_STR(a, "user@xn--bcher-kva.example");
    free(a);
    a = ascii_of("x@stra\xc3\x9f"
                 "e.de",
                 &utf8); /* non-transitional: ß stays */
    TK_CHECK_STR(a, "x@xn--strae-oqa.de");
    free(a);
    a = ascii_of("\xc3\xbcn\xc3\xaf@m\xc3\xbcnchen.de", &utf8);
    TK_CHECK_STR(a, "\xc3\xbcn\xc3\xaf@xn--mnchen-3ya.de");
    TK_CHECK_INT(utf8, 1);
    free(a);
    a = ascii_of("Ann@Example.COM", &utf8); /* ASCII goes as written */
    TK_CHECK_STR(a, "Ann@Example.COM");
    TK_CHECK_INT(utf8, 0);
    free(a);
    a = ascii_of("\"a@b\"@b\xc3\xbc"
                 "cher.example",
                 &utf8);
    TK_CHECK_STR(a, "\"a@b\"@xn--bcher-kva.example");
    free(a);
    TK_CHECK(ascii_of("jo.@example.com", &utf8) == NULL);
}

static char *build(const char *from, const char *to, struct tk_error *err)
{
    struct tk_mail m = {0};
    struct tk_buf out = {0};
    m.from_name = "Bakker";
    m.from_addr = from;
    m.to_name = "Ann";
    m.to_addr = to;
    m.subject = "Hi";
    m.text = "Body\n";
    m.message_id = "<a.1@bakker.example>";
    if (tk_mail_build(&m, &out, err)) {
        tk_buf_free(&out);
        return NULL;
    }
    return tk_buf_steal(&out);
}

TK_TEST(test_builder_headers)
{
    struct tk_error err = {0};
    char *msg = build("office@b\xc3\xbc"
                      "cher.example",
                      "ann@m\xc3\xbcnchen.de", &err);
    TK_CHECK(msg != NULL);
    if (msg) {
        TK_CHECK(strstr(msg, "\r\nFrom: Bakker <office@xn--bcher-kva.example>\r\n") != NULL);
        TK_CHECK(strstr(msg, "\r\nTo: Ann <ann@xn--mnchen-3ya.de>\r\n") != NULL);
        for (const char *p = msg; *p; p++)
            TK_CHECK((unsigned char)*p < 0x80); /* an ASCII local part needs no SMTPUTF8 */
    }
    free(msg);
    /* RFC 6532: the UTF-8 local part as UTF-8, the domain in A-labels */
    msg = build("office@bakker.example",
                "\xc3\xbcn\xc3\xaf@b\xc3\xbc"
                "cher.example",
                &err);
    TK_CHECK(msg && strstr(msg, "\r\nTo: Ann <\xc3\xbcn\xc3\xaf@xn--bcher-kva.example>\r\n"));
    free(msg);
    msg = build("office@bakker.example", "jo.@example.com", &err);
    TK_CHECK(msg == NULL);
    TK_CHECK_STR(err.msg, "mail: invalid To address 'jo.@example.com': the part before the '@' "
                          "ends with a dot");
    msg = build("office@bakker.example", "a\xff@example.com", &err);
    TK_CHECK(msg == NULL);
    TK_CHECK_STR(err.msg, "mail: invalid To address 'a\\xff@example.com': not valid UTF-8");
    msg = build("of..fice@bakker.example", "ann@example.com", &err);
    TK_CHECK(msg == NULL && strstr(err.msg, "mail: invalid From address 'of..fice@"));
}

TK_TEST(test_message_id_idn_domain)
{
    char id[160];
    TK_CHECK_INT(tk_mail_message_id("b\xc3\xbc"
                                    "cher.example",
                                    1, id, sizeof id, NULL),
                 0);
    TK_CHECK(strstr(id, "@xn--bcher-kva.example>") != NULL);
    TK_CHECK_INT(tk_mail_message_id("\xe2\x98\x83.example", 1, id, sizeof id, NULL), TK_EINVAL);
}

TK_TEST(test_parse_address_reasons)
{
    char *n = NULL, *a = NULL;
    struct tk_error err = {0};
    TK_CHECK_INT(tk_mail_parse_address("Bakker <office@b\xc3\xbc"
                                       "cher.example>",
                                       &n, &a, &err),
                 0);
    TK_CHECK_STR(a, "office@b\xc3\xbc"
                    "cher.example"); /* kept as written */
    free(n);
    free(a);
    TK_CHECK_INT(tk_mail_parse_address("Jo <jo.@example.com>", &n, &a, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "ends with a dot") != NULL);
    TK_CHECK(n == NULL && a == NULL);
}

int main(void)
{
    TK_RUN(test_accepts_what_can_be_sent);
    TK_RUN(test_refuses_with_a_reason);
    TK_RUN(test_long_refusal_is_valid_text);
    TK_RUN(test_ascii_form);
    TK_RUN(test_builder_headers);
    TK_RUN(test_message_id_idn_domain);
    TK_RUN(test_parse_address_reasons);
    return tk_test_done();
}
