/*
 * consolepages.c - the staff console's pages rendered server-side against
 * a store (bench/ `--only console`; not built by CMake): each page of
 * core/web rendered RUNS times by the same functions the HTTP routes call,
 * in a read transaction, printing per page the median and the slowest
 * wall-clock milliseconds, the page's size, and the median CPU
 * milliseconds of the process (on a shared machine the wall clock
 * includes the time other processes ran).
 *
 *   consolepages CONFIG NOW RUNS ACCOUNT ITEM
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "web/web.h"

static double clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { DASH, ACCOUNTS, SEARCH, ACCOUNT, ITEM, UPCOMING, OUTBOX, NPAGES };
static const char *const names[] = {
    "/", "/accounts", "/accounts?q=bench-77", "/accounts/ID", "/items/ID", "/upcoming", "/outbox"};

int main(int argc, char **argv)
{
    struct tk_engine *e = NULL;
    struct tk_error err = {0};
    struct tk_user u = {.id = 1, .name = "bench", .language = "en"};
    struct tk_buf out = {0};
    struct tk_web_ctx c = {NULL, &u, "en", "token", NULL, NULL, &out};
    int runs;
    int64_t account, item;
    if (argc != 6) {
        fprintf(stderr, "usage: consolepages CONFIG NOW RUNS ACCOUNT ITEM\n");
        return 2;
    }
    runs = atoi(argv[3]) > 0 ? atoi(argv[3]) : 10;
    account = strtoll(argv[4], NULL, 10);
    item = strtoll(argv[5], NULL, 10);
    if (tk_engine_open(&e, argv[1], (tk_time)strtoll(argv[2], NULL, 10), 0, &err)) {
        fprintf(stderr, "consolepages: %s\n", err.msg);
        return 1;
    }
    c.e = e;
    double *t = calloc((size_t)runs, sizeof *t), *cpu = calloc((size_t)runs, sizeof *cpu);
    for (int p = 0; p < NPAGES; p++) {
        for (int r = 0; r < runs; r++) {
            int rc;
            tk_buf_reset(&out);
            double t0 = clock_ms(CLOCK_MONOTONIC), c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
            if (tk_engine_begin(e, TK_TX_DEFERRED, &err))
                return 1;
            switch (p) {
            case DASH:
                rc = tk_web_page_dashboard(&c, &err);
                break;
            case ACCOUNTS:
                rc = tk_web_page_accounts(&c, NULL, 0, &err);
                break;
            case SEARCH:
                rc = tk_web_page_accounts(&c, "bench-77", 0, &err);
                break;
            case ACCOUNT:
                rc = tk_web_page_account(&c, account, &err);
                break;
            case ITEM:
                rc = tk_web_page_item(&c, item, &err);
                break;
            case UPCOMING:
                rc = tk_web_page_upcoming(&c, &err);
                break;
            default:
                rc = tk_web_page_outbox(&c, &err);
                break;
            }
            tk_engine_rollback(e);
            t[r] = clock_ms(CLOCK_MONOTONIC) - t0;
            cpu[r] = clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
            if (rc) {
                fprintf(stderr, "consolepages: %s: %s\n", names[p], err.msg);
                return 1;
            }
        }
        qsort(t, (size_t)runs, sizeof *t, cmp);
        qsort(cpu, (size_t)runs, sizeof *cpu, cmp);
        printf("%s %.3f %.3f %zu %.3f\n", names[p], t[runs / 2], t[runs - 1], out.len,
               cpu[runs / 2]);
    }
    free(t);
    free(cpu);
    tk_buf_free(&out);
    tk_engine_close(e);
    return 0;
}
