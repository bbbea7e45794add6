/* test_text.c - UTF-8 repair (util/utf8.c), the JSON strings built on it
 * (json/value.c), text escaped for a terminal (cli/text.c), the
 * key/value lists of template variables and text built without printf
 * (util/str.c). */
#include <stdint.h>
#include <stdio.h>
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

/* The byte-at-a-time check tk_utf8_valid had before its ASCII fast path:
 * the reference the fast path must agree with. */
static int utf8_valid_slow(const unsigned char *p, size_t n)
{
    const unsigned char *e = p + n;
    while (p < e) {
        unsigned c = *p, cp;
        size_t len;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            len = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4, cp = c & 0x07;
        else
            return 0;
        if ((size_t)(e - p) < len)
            return 0;
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += len;
    }
    return 1;
}

/* Every piece of UTF-8 (good and bad) at every offset of ASCII runs longer
 * and shorter than the eight bytes the fast path reads at once, cut at
 * every length: the same answer as the byte-at-a-time reference. */
TK_TEST(utf8_valid_fast_path_agrees)
{
    static const char *const pieces[] = {
        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3", "\xe2\x82",    "\x80",
        "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "\xe0\x80\x80"};
    unsigned char buf[64];
    size_t checked = 0, bad = 0;
    for (size_t k = 0; k < sizeof pieces / sizeof *pieces; k++)
        for (size_t at = 0; at < 24; at++)
            for (size_t total = 0; total <= 40; total++) {
                size_t pl = strlen(pieces[k]);
                memset(buf, 'a', sizeof buf);
                if (at + pl <= sizeof buf)
                    memcpy(buf + at, pieces[k], pl);
                int fast = tk_utf8_valid((const char *)buf, total);
                int slow = utf8_valid_slow(buf, total);
                TK_CHECK(fast == slow);
                checked++;
                bad += !slow;
            }
    TK_CHECK(checked > 1000 && bad > 100);
}

/* tk_buf_append and tk_buf_putc skip grow() when the bytes fit (RESULTS.md
 * update 42): the buffer as the old path leaves it, op by op, whatever
 * the ceiling, including one lowered after the buffer grew. */
static int old_grow(struct tk_buf *b, size_t need)
{
    size_t max = b->max ? b->max : TK_BUF_DEFAULT_MAX;
    size_t cap;
    char *p;
    if (need > max || need < b->len)
        return TK_ENOMEM;
    if (need + 1 <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need + 1)
        cap = cap > max / 2 ? max + 1 : cap * 2;
    p = realloc(b->data, cap);
    if (!p)
        return TK_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

static int old_append(struct tk_buf *b, const void *p, size_t n)
{
    if (old_grow(b, b->len + n))
        return TK_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

TK_TEST(buf_fast_path_agrees)
{
    static const size_t maxes[] = {0, 1, 63, 64, 65, 100, 127, 128, 1000, 4096};
    char src[600];
    unsigned st = 7;
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (char)('a' + i % 26);
    for (int round = 0; round < 400; round++) {
        struct tk_buf a = {0}, b = {0};
        st = st * 1103515245u + 12345u;
        a.max = b.max = maxes[(st >> 16) % (sizeof maxes / sizeof *maxes)];
        for (int op = 0; op < 300; op++) {
            int ra, rb;
            st = st * 1103515245u + 12345u;
            unsigned r = st >> 8;
            if (r % 50 == 0) { /* a lower or higher ceiling after growth */
                a.max = b.max = maxes[(r >> 8) % (sizeof maxes / sizeof *maxes)];
                continue;
            }
            if (r % 40 == 1) {
                tk_buf_reset(&b);
                a.len = 0;
                if (a.data)
                    a.data[0] = '\0';
                continue;
            }
            if (r % 3 == 0) {
                char c = (char)('A' + r % 26);
                ra = old_append(&a, &c, 1);
                rb = tk_buf_putc(&b, c);
            } else {
                size_t n = (r >> 4) % (r % 7 == 0 ? 300 : 9);
                ra = old_append(&a, src, n);
                rb = tk_buf_append(&b, src, n);
            }
            TK_CHECK_INT(rb, ra);
            TK_CHECK_INT(b.len, a.len);
            TK_CHECK_INT(b.cap, a.cap);
            TK_CHECK((a.data == NULL) == (b.data == NULL));
            if (a.data && b.data)
                TK_CHECK(memcmp(a.data, b.data, a.len + 1) == 0);
            if (rb != ra || b.len != a.len || b.cap != a.cap)
                break;
        }
        free(a.data);
        tk_buf_free(&b);
    }
}

/* tk_kv keeps each pair in one allocation (issue 17): against a plain
 * model, random sets, replacements (also with its own key and value as the
 * arguments) and removals keep the same pairs in the same order. */
#define KV_MODEL_MAX 24
TK_TEST(kv_pairs_as_a_model)
{
    static const char *const names[] = {"a",
                                        "b",
                                        "firm.name",
                                        "item.title",
                                        "contact.email",
                                        "x",
                                        "approval.amount",
                                        "reminder.number"};
    char mk[KV_MODEL_MAX][32], mv[KV_MODEL_MAX][64];
    size_t mn = 0;
    unsigned st = 11;
    struct tk_kv kv = {0};
    for (int op = 0; op < 4000; op++) {
        st = st * 1103515245u + 12345u;
        unsigned r = st >> 8;
        const char *key = names[r % 8];
        char val[64];
        snprintf(val, sizeof val, "v%u%.*s", r % 1000, (int)(r % 40),
                 "0123456789012345678901234567890123456789");
        size_t i;
        for (i = 0; i < mn && strcmp(mk[i], key) != 0; i++)
            ;
        if (r % 7 == 0) { /* remove */
            TK_CHECK_INT(tk_kv_set(&kv, key, NULL), 0);
            if (i < mn) {
                memmove(mk + i, mk + i + 1, (mn - i - 1) * sizeof *mk);
                memmove(mv + i, mv + i + 1, (mn - i - 1) * sizeof *mv);
                mn--;
            }
        } else if (r % 7 == 1 && kv.n) { /* its own key and another's value */
            size_t a = (r >> 4) % kv.n, b = (r >> 9) % kv.n;
            snprintf(val, sizeof val, "%s", kv.vals[b]);
            TK_CHECK_INT(tk_kv_set(&kv, kv.keys[a], kv.vals[b]), 0);
            snprintf(mv[a], sizeof mv[a], "%s", val);
        } else if (r % 7 == 2 && kv.n) { /* its own value again */
            size_t a = (r >> 4) % kv.n;
            TK_CHECK_INT(tk_kv_set(&kv, kv.keys[a], tk_kv_get(&kv, kv.keys[a])), 0);
        } else {
            TK_CHECK_INT(tk_kv_set(&kv, key, val), 0);
            if (i == mn && mn < KV_MODEL_MAX)
                snprintf(mk[mn++], sizeof mk[0], "%s", key);
            if (i < mn)
                snprintf(mv[i], sizeof mv[i], "%s", val);
        }
        TK_CHECK_INT(kv.n, mn);
        for (size_t k = 0; k < mn && k < kv.n; k++) {
            TK_CHECK_STR(kv.keys[k], mk[k]);
            TK_CHECK_STR(kv.vals[k], mv[k]);
            TK_CHECK_STR(tk_kv_get(&kv, mk[k]), mv[k]);
        }
        if (r % 500 == 3) { /* and again from nothing */
            tk_kv_free(&kv);
            mn = 0;
        }
    }
    tk_kv_free(&kv);
    TK_CHECK(kv.n == 0 && !kv.keys && !kv.vals);
}

/* tk_str_put / tk_str_put_i64 chains against one snprintf of the whole
 * format (the idempotency key's and the audit text's), at every buffer
 * size from 0 up to past the whole text, with the integers' edges. */
TK_TEST(str_put_as_snprintf)
{
    static const int64_t nums[] = {
        0,     1,      -1,        9,         10,        99,        100,
        12345, -12345, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, (int64_t)1 << 53};
    static const char *const strs[] = {"", "a", "reminder", "ann@acme.example", NULL};
    unsigned seed = 7;
    for (size_t k = 0; k < 4000; k++) {
        int64_t a = nums[k % (sizeof nums / sizeof *nums)];
        int64_t b =
            nums[(k / 3 + (seed = seed * 1103515245u + 12345u) % 7) % (sizeof nums / sizeof *nums)];
        const char *s = strs[k % 5], *t = strs[(k / 5) % 5];
        char want[160], got[160];
        size_t size = k % 90, at;
        memset(want, 'x', sizeof want);
        memset(got, 'x', sizeof got);
        /* snprintf prints NULL as "(null)" in glibc, which tk_str_put copies */
        snprintf(want, size, "%s%lld/%s/%lld/%s", k & 1 ? "" : "account-", (long long)a,
                 s ? s : "(null)", (long long)b, t ? t : "(null)");
        at = tk_str_put(got, size, 0, k & 1 ? "" : "account-");
        at = tk_str_put_i64(got, size, at, a);
        at = tk_str_put(got, size, at, "/");
        at = tk_str_put(got, size, at, s);
        at = tk_str_put(got, size, at, "/");
        at = tk_str_put_i64(got, size, at, b);
        at = tk_str_put(got, size, at, "/");
        at = tk_str_put(got, size, at, t);
        TK_CHECK(memcmp(want, got, sizeof want) == 0);
        TK_CHECK_INT(at, size ? strlen(got) : 0);
    }
}

int main(void)
{
    TK_RUN(utf8_valid_fast_path_agrees);
    TK_RUN(buf_fast_path_agrees);
    TK_RUN(kv_pairs_as_a_model);
    TK_RUN(str_put_as_snprintf);
    TK_RUN(repair_replaces_maximal_subparts);
    TK_RUN(char_reports_code_point_or_bad_length);
    TK_RUN(json_strings_never_vanish);
    TK_RUN(terminal_text_is_escaped);
    return tk_test_done();
}
