/* test_json_item.c - tk_json_item_dump writes exactly the bytes of
 * json_dumps(tk_json_item(...), JSON_COMPACT | JSON_PRESERVE_ORDER) (what
 * `tickler --json show` and GET /api/v1/items/ID print), for plain and
 * hostile strings; what it cannot write exactly it leaves to the tree. */
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "tk_test.h"

static void same(const struct tk_item *it, const char *account_name)
{
    struct tk_buf b = {0};
    json_t *j = tk_json_item(it, account_name);
    char *want = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    TK_CHECK_INT(tk_json_item_dump(&b, it, account_name), 0);
    TK_CHECK(tk_buf_putc(&b, '\0') == 0);
    TK_CHECK_STR(b.data, want);
    free(want);
    json_decref(j);
    tk_buf_free(&b);
}

static struct tk_item base(void)
{
    struct tk_item it;
    memset(&it, 0, sizeof it);
    it.id = 42;
    it.account_id = 7;
    it.type = "invoice";
    it.title = "Fees";
    it.state = "pending";
    it.template_name = "default";
    it.rem.enabled = 1;
    it.rem.every_days = 3;
    it.rem.count = 2;
    it.rem.sent = 1;
    it.rem.next_at = 1796115600;
    it.rem.last_mail_at = 1796000000;
    it.created_at = 1795000000;
    return it;
}

TK_TEST(test_plain)
{
    struct tk_item it = base();
    same(&it, "Acme BV");
    same(&it, NULL);
    tk_kv_set(&it.fields, "amount", "450.00");
    tk_kv_set(&it.fields, "currency", "EUR");
    it.job_id = 9;
    it.archived = 1;
    it.resends = 3;
    it.completed_at = 1796200000;
    it.rem.enabled = 0;
    it.rem.next_at = 0;
    same(&it, "Acme BV");
    it.hold.since = 1796100000;
    same(&it, "Acme BV");
    it.hold.until = 1796300000;
    it.hold.reason = "waiting for the \"client\"";
    same(&it, "Acme BV");
    /* issue 14: a due date and an anchored schedule */
    tk_kv_set(&it.fields, "due_date", "2026-12-31");
    same(&it, "Acme BV");
    it.rem.nsched = 3;
    it.rem.sched[0] = -7;
    it.rem.sched[1] = 0;
    it.rem.sched[2] = 3650;
    same(&it, "Acme BV");
    it.id = INT64_MAX;
    it.account_id = -1;
    it.resends = -5;
    same(&it, "");
    tk_kv_free(&it.fields);
}

TK_TEST(test_hostile_strings)
{
    struct tk_item it = base();
    char ctl[40];
    for (int i = 0; i < 31; i++)
        ctl[i] = (char)(i + 1);
    ctl[31] = '\0';
    it.title = ctl;
    same(&it, "Acme");
    it.title = "quote \" back \\ slash / del \x7f tab\t nl\n cr\r ff\f bs\b";
    it.type = "";
    it.state = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8";
    tk_kv_set(&it.fields, "n\"ote\n", "line1\nline2\x01");
    tk_kv_set(&it.fields, "", "");
    tk_kv_set(&it.fields, "\xc3\xa9t\xc3\xa9", "</script>");
    same(&it, "A \"B\" \\ C\x1f");
    it.type = NULL; /* null, as tk_json_str gives */
    it.title = NULL;
    it.template_name = NULL;
    same(&it, "Acme");
    tk_kv_free(&it.fields);
}

TK_TEST(test_left_to_the_tree)
{
    struct tk_item it = base();
    struct tk_buf b = {0};
    it.title = "bad \xff utf-8";
    TK_CHECK_INT(tk_json_item_dump(&b, &it, "Acme"), 1);
    TK_CHECK_INT((int)b.len, 0);
    it.title = "Fees";
    TK_CHECK_INT(tk_json_item_dump(&b, &it, "bad \xc3"), 1);
    tk_kv_set(&it.fields, "k", "v\xed\xa0\x80"); /* a surrogate */
    TK_CHECK_INT(tk_json_item_dump(&b, &it, "Acme"), 1);
    tk_kv_free(&it.fields);
    TK_CHECK_INT((int)b.len, 0);
    tk_buf_free(&b);
}

/* The one string writer (tk_json_write_strn, and tk_json_write_str on it)
 * against jansson's dump of the same string, with and without
 * JSON_ENSURE_ASCII: every byte 1..255 alone, every kind of sequence,
 * and pseudo-random strings (repaired to UTF-8 first, as tk_json_str). */
static void same_str(const char *s)
{
    size_t n = strlen(s), len;
    char *fixed = tk_utf8_repair(s, n, &len);
    json_t *j = json_stringn(fixed, len);
    for (int ascii = 0; ascii < 2; ascii++) {
        struct tk_buf b = {0};
        char *want = json_dumps(j, JSON_ENCODE_ANY | (ascii ? JSON_ENSURE_ASCII : 0));
        if (ascii)
            TK_CHECK_INT(tk_json_write_str(&b, s), 0);
        else
            TK_CHECK_INT(tk_json_write_strn(&b, fixed, len, 0), 0);
        TK_CHECK(tk_buf_putc(&b, '\0') == 0);
        TK_CHECK_STR(b.data, want);
        free(want);
        tk_buf_free(&b);
    }
    json_decref(j);
    free(fixed);
}

TK_TEST(test_one_string_writer)
{
    static const char *const v[] = {"",
                                    "plain",
                                    "quote \" back \\ slash / del \x7f tab\t nl\n cr\r ff\f bs\b",
                                    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8",
                                    "\xef\xbf\xbf \xf4\x8f\xbf\xbf \xc2\x80 \xdf\xbf",
                                    "bad \xff \xc3 \xed\xa0\x80 \xc0\xaf \xf8\x88\x80\x80",
                                    "\x01\x1f\x1e x\x02"};
    char one[2] = {0, 0};
    unsigned seed = 12345;
    struct tk_buf b = {0};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        same_str(v[i]);
    for (int c = 1; c < 256; c++) {
        one[0] = (char)c;
        same_str(one);
    }
    for (int r = 0; r < 2000; r++) {
        char s[24];
        size_t n = (size_t)(r % 23);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            s[i] = (char)(1 + (seed >> 16) % 255);
        }
        s[n] = '\0';
        same_str(s);
    }
    TK_CHECK_INT(tk_json_write_str(&b, NULL), 0);
    TK_CHECK_INT((int)b.len, 4);
    TK_CHECK(memcmp(b.data, "null", 4) == 0);
    tk_buf_free(&b);
}

int main(void)
{
    TK_RUN(test_one_string_writer);
    TK_RUN(test_plain);
    TK_RUN(test_hostile_strings);
    TK_RUN(test_left_to_the_tree);
    return tk_test_done();
}
