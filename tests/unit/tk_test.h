/*
 * tk_test.h - the unit-test harness: a handful of macros, no framework.
 *
 *   TK_TEST(name) { TK_CHECK(x == 1); TK_CHECK_STR(a, "b"); }
 *   int main(void) { TK_RUN(name); return tk_test_done(); }
 *
 * A failed check prints FILE:LINE and the expression and marks the test
 * failed; the run ends with "N passed, N failed" and exit status 1 on any
 * failure.
 */
#ifndef TK_TEST_H
#define TK_TEST_H

#include <stdio.h>
#include <string.h>

static int tk_test_failed_checks, tk_test_passed, tk_test_failed;

#define TK_TEST(name) static void name(void)
#define TK_CHECK(expr)                                                                             \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr);               \
            tk_test_failed_checks++;                                                               \
        }                                                                                          \
    } while (0)
#define TK_CHECK_INT(a, b)                                                                         \
    do {                                                                                           \
        long long tk_a_ = (long long)(a), tk_b_ = (long long)(b);                                  \
        if (tk_a_ != tk_b_) {                                                                      \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, tk_a_,   \
                    tk_b_);                                                                        \
            tk_test_failed_checks++;                                                               \
        }                                                                                          \
    } while (0)
#define TK_CHECK_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *tk_a_ = (a), *tk_b_ = (b);                                                     \
        if (!tk_a_ || !tk_b_ || strcmp(tk_a_, tk_b_) != 0) {                                       \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,      \
                    tk_a_ ? tk_a_ : "(null)", tk_b_ ? tk_b_ : "(null)");                           \
            tk_test_failed_checks++;                                                               \
        }                                                                                          \
    } while (0)
#define TK_RUN(name)                                                                               \
    do {                                                                                           \
        int tk_before_ = tk_test_failed_checks;                                                    \
        name();                                                                                    \
        if (tk_test_failed_checks == tk_before_) {                                                 \
            tk_test_passed++;                                                                      \
        } else {                                                                                   \
            tk_test_failed++;                                                                      \
            fprintf(stderr, "FAILED: %s\n", #name);                                                \
        }                                                                                          \
    } while (0)

static inline int tk_test_done(void)
{
    printf("%d passed, %d failed\n", tk_test_passed, tk_test_failed);
    return tk_test_failed ? 1 : 0;
}

#endif
