/* test_fault_alloc_engine.c - out of memory anywhere on the way from a
 * command to its queued emails (fields, template variables, rendering, the
 * mail builder, the store's records) fails the command and changes nothing.
 *
 * Every engine operation runs with the Nth allocation of the core failing,
 * N = 1, 2, ...: each attempt runs in its own transaction, rolled back on
 * failure; a failure must say why and leave every stored row as it was.  A
 * "success" during which the fault was spent means an allocation failure was
 * ignored and something (a template variable, a header) may be missing from
 * what was written: it is rolled back, counted and must not happen.
 * The loop ends at the first attempt that succeeds without the fault.
 * Allocations inside plugins and sqlite are not counted (shared objects). */
#include "tk_engine_fixture.h"
#include "tk_fault.h"

#define MAX_FAULTS 5000

static int alloc_loop(const char *what, op_fn op, int own_tx)
{
    struct tk_buf before = {0}, after = {0};
    int n, faults = -1, swallowed = 0;
    for (n = 1; n <= MAX_FAULTS; n++) {
        struct tk_error err = {0};
        int rc;
        long left;
        snapshot(&before);
        if (own_tx) {
            countdown = n;
            rc = op(&err);
            left = pause_faults();
        } else {
            rc = tk_engine_begin(eng, TK_TX_IMMEDIATE, &err);
            countdown = n;
            if (!rc)
                rc = op(&err);
            left = pause_faults();
            if (!rc && left == 0) {
                /* the fault was spent and ignored: not a real success */
                if (swallowed++ < 5)
                    fprintf(stderr, "%s: allocation failure %d was ignored\n", what, n);
                tk_engine_rollback(eng);
                continue;
            }
            if (!rc)
                rc = tk_engine_commit(eng, &err);
            if (rc)
                tk_engine_rollback(eng);
        }
        if (rc == 0) {
            if (left == 0 && swallowed++ < 5)
                fprintf(stderr, "%s: allocation failure %d was ignored\n", what, n);
            faults = n - 1;
            break;
        }
        if (left != 0 || !err.msg[0])
            fprintf(stderr, "%s: N=%d rc=%d left=%ld msg='%s'\n", what, n, rc, left, err.msg);
        TK_CHECK_INT(left, 0);
        TK_CHECK(err.msg[0] != '\0');
        snapshot(&after);
        if (before.len != after.len || memcmp(before.data, after.data, before.len) != 0) {
            fprintf(stderr, "%s: store changed after allocation failure %d (%s)\n", what, n,
                    err.msg);
            TK_CHECK(!"store unchanged after a failed command");
            break;
        }
    }
    printf("%-28s %d allocation failures, then success; %d ignored\n", what, faults, swallowed);
    TK_CHECK(faults > 0);
    TK_CHECK_INT(swallowed, 0);
    tk_buf_free(&before);
    tk_buf_free(&after);
    return faults;
}

TK_TEST(send_invoice)
{
    alloc_loop("send invoice", op_send_invoice, 0);
    TK_CHECK_INT(count("SELECT COUNT(*) FROM items WHERE type = 'invoice'"), 1);
    TK_CHECK_INT(count("SELECT COUNT(*) FROM item_fields WHERE value = 'INV-000001'"), 1);
    TK_CHECK_INT(count("SELECT COUNT(*) FROM outbox WHERE kind = 'notification' AND item_id = "
                       "(SELECT id FROM items WHERE type = 'invoice')"),
                 2);
    /* the whole message made it: greeting with the contact's name, amount */
    TK_CHECK_INT(count("SELECT COUNT(*) FROM outbox WHERE kind = 'notification' AND "
                       "recipient = 'bob@acme.example' AND data LIKE '%Bob%' AND "
                       "data LIKE '%INV-000001%' AND data LIKE '%450.00%'"),
                 1);
}

TK_TEST(resend)
{
    eng->now = T0 + TK_DAY;
    alloc_loop("resend", op_resend, 0);
    TK_CHECK_INT(count("SELECT COUNT(*) FROM outbox WHERE kind = 'resend'"), 2);
}

TK_TEST(set_reminders)
{
    alloc_loop("set reminders", op_set_reminders, 0);
    TK_CHECK_INT(count("SELECT rem_every_days FROM items WHERE type = 'invoice'"), 2);
}

TK_TEST(bulk_request_approvals)
{
    alloc_loop("bulk request-approvals", op_bulk, 0);
    TK_CHECK_INT(count("SELECT COUNT(*) FROM outbox WHERE kind = 'request-approvals' AND "
                       "data LIKE '%Annual accounts 2026%' AND data LIKE '%Tax return 2026%'"),
                 2);
}

TK_TEST(schedule)
{
    eng->now = T0 + 10 * TK_DAY;
    alloc_loop("schedule (one batch)", op_schedule, 1);
    TK_CHECK_INT(scheduled, 3);
    TK_CHECK_INT(count("SELECT COUNT(*) FROM outbox WHERE kind = 'reminder'"), 6);
}

TK_TEST(event_paid)
{
    eng->now = T0 + 11 * TK_DAY;
    alloc_loop("event paid", op_event_paid, 0);
    TK_CHECK_INT(count("SELECT COUNT(*) FROM items WHERE type = 'invoice' AND state = 'paid'"), 1);
}

int main(void)
{
    if (setup()) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    TK_RUN(send_invoice);
    TK_RUN(resend);
    TK_RUN(set_reminders);
    TK_RUN(bulk_request_approvals);
    TK_RUN(schedule);
    TK_RUN(event_paid);
    teardown();
    return tk_test_done();
}
