/* test_text.c - UTF-8 repair (util/utf8.c), the JSON strings built on it
 * (json/value.c) and text escaped for a terminal (cli/text.c). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tk_test.h"

static void check_repair(const char *in, size_t n, const char *want)
{
    size_t len = 0;
    char *got = tk_utf8_repair(in, n, &len);
    TK_CHECK(got != NULL);
    if (!got)
        return;
    TK_CHECK_STR(got, want);
    TK_CHECK_INT(len, strlen(want));
    free(got);
}

/* The example of the Unicode standard, section 3.9 (U+FFFD substitution of
 * maximal subparts): F1 80 80 is one truncated sequence, E1 80 another, C2
 * a third; a lone continuation byte is one each. */
TK_TEST(repair_replaces_maximal_subparts)
{
    check_repair("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", 13,
                 "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                 "b\xEF\xBF\xBD"
                 "c\xEF\xBF\xBD\xEF\xBF\xBD"
                 "d");
    /* overlong, surrogate and beyond U+10FFFF: every byte on its own */
    check_repair("\xC0\xAF", 2, "\xEF\xBF\xBD\xEF\xBF\xBD");
    check_repair("\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    check_repair("\xF4\x90\x80\x80", 4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    /* valid text is left as it is, four-byte characters included */
    check_repair("caf\xC3\xA9 \xF0\x9F\x98\x80", 10, "caf\xC3\xA9 \xF0\x9F\x98\x80");
    check_repair("", 0, "");
}

TK_TEST(char_reports_code_point_or_bad_length)
{
    uint32_t cp = 0;
    size_t bad = 0;
    TK_CHECK_INT(tk_utf8_char("\xE2\x82\xAC", 3, &cp, &bad), 3);
    TK_CHECK_INT(cp, 0x20AC);
    TK_CHECK_INT(tk_utf8_char("\xE2\x82", 2, &cp, &bad), 0); /* cut short */
    TK_CHECK_INT(bad, 2);
    TK_CHECK_INT(tk_utf8_char("\xFF", 1, &cp, &bad), 0);
    TK_CHECK_INT(bad, 1);
}

TK_TEST(json_strings_never_vanish)
{
    json_t *o = json_object();
    json_object_set_new(o, "detail", tk_json_str("550 mailbox \xFF unknown"));
    json_object_set_new(o, "none", tk_json_str(NULL));
    TK_CHECK_INT(tk_json_set(o, "k\xC3", tk_json_str("v")), 0);
    TK_CHECK_STR(json_string_value(json_object_get(o, "detail")),
                 "550 mailbox \xEF\xBF\xBD unknown");
    TK_CHECK(json_is_null(json_object_get(o, "none")));
    TK_CHECK(json_object_get(o, "k\xEF\xBF\xBD") != NULL);
    json_decref(o);
}

TK_TEST(terminal_text_is_escaped)
{
    const char *plain = "Acme BV \xC3\xA9t\xC3\xA9 \\x1b";
    TK_CHECK(tk_cli_text(plain) == plain); /* nothing to do: no copy */
    TK_CHECK_STR(tk_cli_text("a\x1b[2Jb\x07"), "a\\x1b[2Jb\\x07");
    TK_CHECK_STR(tk_cli_text("tab\there\nline\x7f"), "tab\\x09here\\x0aline\\x7f");
    TK_CHECK_STR(tk_cli_text("csi\xC2\x9B"
                             "31m"),
                 "csi\\u009b31m");
    TK_CHECK_STR(tk_cli_text("bad\xFF\xC3"), "bad\\xff\\xc3");
    TK_CHECK_STR(tk_cli_text(NULL), "");
}

int main(void)
{
    TK_RUN(repair_replaces_maximal_subparts);
    TK_RUN(char_reports_code_point_or_bad_length);
    TK_RUN(json_strings_never_vanish);
    TK_RUN(terminal_text_is_escaped);
    return tk_test_done();
}
