/* test_event_fields.c - fields given with a client event (issue 14):
 * tk_fields_merge_event checks them against the type's specs, adds
 * amounts exactly (partial payments add up, never through floating point)
 * and replaces the rest. */
#include <stdint.h>

#include "engine/internal.h"
#include "tk_test.h"

static const struct tk_field_spec fields[] = {
    {"amount", TK_FIELD_AMOUNT, TK_FIELD_REQUIRED, "amount"},
    {"paid", TK_FIELD_AMOUNT, 0, "paid so far"},
    {"note", TK_FIELD_TEXT, 0, "a note"},
    {NULL, 0, 0, NULL},
};

static struct tk_item_type type;

static int merge(struct tk_kv *stored, const char *name, const char *value, struct tk_buf *detail,
                 struct tk_error *err)
{
    struct tk_kv given = {0};
    int rc;
    tk_kv_set(&given, name, value);
    rc = tk_fields_merge_event(&type, stored, &given, detail, err);
    tk_kv_free(&given);
    return rc;
}

TK_TEST(amounts_add_up_exactly)
{
    static const char *const cases[][3] = {
        {"200.00", "50", "250.00"}, {"0.1", "0.2", "0.30"},
        {"0.01", "0.99", "1.00"},   {"19.99", "0.01", "20.00"},
        {"1", "2.5", "3.50"},       {"999999999998.99", "1", "999999999999.99"},
        {"100", "0.05", "100.05"},  {"7.10", "7.9", "15.00"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tk_kv stored = {0};
        struct tk_buf detail = {0};
        struct tk_error err = {0};
        tk_kv_set(&stored, "paid", cases[i][0]);
        TK_CHECK_INT(merge(&stored, "paid", cases[i][1], &detail, &err), 0);
        TK_CHECK_STR(tk_kv_get(&stored, "paid"), cases[i][2]);
        TK_CHECK(detail.data && strstr(detail.data, cases[i][2]));
        tk_kv_free(&stored);
        tk_buf_free(&detail);
    }
}

TK_TEST(first_amount_and_other_kinds_replace)
{
    struct tk_kv stored = {0};
    struct tk_buf detail = {0};
    struct tk_error err = {0};
    TK_CHECK_INT(merge(&stored, "paid", "12.5", &detail, &err), 0);
    TK_CHECK_STR(tk_kv_get(&stored, "paid"), "12.5");
    TK_CHECK_INT(merge(&stored, "note", "first", &detail, &err), 0);
    TK_CHECK_INT(merge(&stored, "note", "second", &detail, &err), 0);
    TK_CHECK_STR(tk_kv_get(&stored, "note"), "second");
    tk_kv_free(&stored);
    tk_buf_free(&detail);
}

TK_TEST(bad_input_changes_nothing)
{
    static const char *const bad[][2] = {
        {"paid", "-5"}, {"paid", "1.234"}, {"paid", "abc"},  {"paid", "0"},
        {"paid", ""},   {"tip", "5.00"},   {"note", "a\nb"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tk_kv stored = {0};
        struct tk_buf detail = {0};
        struct tk_error err = {0};
        tk_kv_set(&stored, "paid", "10.00");
        TK_CHECK_INT(merge(&stored, bad[i][0], bad[i][1], &detail, &err), TK_EINVAL);
        TK_CHECK_STR(tk_kv_get(&stored, "paid"), "10.00");
        TK_CHECK(err.msg[0] != '\0');
        tk_kv_free(&stored);
        tk_buf_free(&detail);
    }
}

TK_TEST(sum_too_large_is_refused)
{
    struct tk_kv stored = {0};
    struct tk_buf detail = {0};
    struct tk_error err = {0};
    tk_kv_set(&stored, "paid", "999999999999.99");
    TK_CHECK_INT(merge(&stored, "paid", "0.01", &detail, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "too large") != NULL);
    tk_kv_free(&stored);
    tk_buf_free(&detail);
}

int main(void)
{
    type.hdr.name = "invoice";
    type.fields = fields;
    TK_RUN(amounts_add_up_exactly);
    TK_RUN(first_amount_and_other_kinds_replace);
    TK_RUN(bad_input_changes_nothing);
    TK_RUN(sum_too_large_is_refused);
    return tk_test_done();
}
