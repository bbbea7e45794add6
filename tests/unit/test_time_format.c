/* test_time_format.c - tk_time_format's arithmetic (years 1000 to 9999)
 * writes exactly what gmtime_r and strftime("%Y-%m-%dT%H:%M:%SZ") give:
 * every boundary of that range, month and leap-day edges, and a million
 * pseudo-random instants; outside the range it is strftime's text. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tk_test.h"
#include "util/util.h"

static void same(tk_time t)
{
    char got[32], want[32];
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
    TK_CHECK_STR(tk_time_format(t, got, sizeof got), want);
}

TK_TEST(test_edges)
{
    static const tk_time v[] = {0,
                                1,
                                -1,
                                59,
                                60,
                                86399,
                                86400,
                                -86400,
                                -86401,
                                951782400,
                                951868799,
                                951868800,
                                1796115600,
                                4107542399LL,
                                4107542400LL,
                                -30610224000LL,
                                -30610224001LL,
                                253402300799LL,
                                253402300800LL,
                                -62167219200LL,
                                1234567890123LL};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        same(v[i]);
        same(v[i] + 1);
        same(v[i] - 1);
    }
    for (tk_time t = -30610224000LL; t < 253402300800LL; t += 86400LL * 27 + 3601)
        same(t);
}

TK_TEST(test_random)
{
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 1000000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        same((tk_time)(x % 284012524800ULL) - 30610224000LL);
    }
}

int main(void)
{
    TK_RUN(test_edges);
    TK_RUN(test_random);
    return tk_test_done();
}
