/*
 * test_store_lifecycle.c - the store side of the data lifecycle (issue 16)
 * against a real migrated SQLite file: erasure of an address (a folded To:
 * header, names, other texts, idempotency keys kept unique, the audit),
 * cancellation under a dispatcher's claim (its late outcome refused),
 * retention through its partial index, and the removal of an account.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tk_store_fixture.h"
#include "tk_test.h"

/* An outbox row to RCPT of item ITEM with TEXT; its id. */
static int64_t add_msg(struct tk_db *db, int64_t account, int64_t item, int step, const char *rcpt,
                       const char *text)
{
    struct tk_outbox_row r;
    struct tk_error err = {0};
    char key[200];
    int64_t id = 0;
    memset(&r, 0, sizeof r);
    snprintf(key, sizeof key, "%lld/notification/%d/%s", (long long)item, step, rcpt);
    r.item_id = item;
    r.account_id = account;
    r.kind = "notification";
    r.step = step;
    r.recipient = (char *)rcpt;
    r.idem_key = key;
    r.message_id = "<m@x>";
    r.sender = "office@x.example";
    r.data = (char *)text;
    r.created_at = 1000;
    if (tk_store_outbox_add(db, &r, &id, NULL, &err))
        fprintf(stderr, "outbox_add: %s\n", err.msg);
    return id;
}

static char *text_of(struct tk_db *db, int64_t id)
{
    struct tk_outbox_row r;
    struct tk_error err = {0};
    char *s = NULL;
    if (tk_store_outbox_get(db, id, &r, &err) == 0) {
        s = r.data ? strdup(r.data) : NULL;
        tk_outbox_row_free(&r);
    }
    return s;
}

static void test_erase(void)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    struct tk_store_erased r;
    struct tk_outbox_row row;
    int64_t acc = 0, other = 0, c = 0, m1, m2, m3, n = 0;
    TK_CHECK(db != NULL);
    if (!db)
        return;
    TK_CHECK_INT(tk_store_account_add(db, "Acme", "en", 1, &acc, &err), 0);
    TK_CHECK_INT(tk_store_account_add(db, "Other", "en", 1, &other, &err), 0);
    TK_CHECK_INT(tk_store_contact_add(db, acc, "ann@acme.example", "Ann Acme", 1, 1, &c, &err), 0);
    TK_CHECK_INT(tk_store_contact_add(db, other, "ann@acme.example", NULL, 1, 1, &c, &err), 0);
    TK_CHECK_INT(tk_store_contact_add(db, acc, "bob@acme.example", NULL, 1, 1, &c, &err), 0);
    /* a To: header folded over two lines, the name in the body */
    m1 = add_msg(db, acc, 1, 0, "ann@acme.example",
                 "Date: x\r\nTo: =?utf-8?q?Ann_Acme?=\r\n <ann@acme.example>\r\nSubject: s\r\n"
                 "\r\nDear Ann Acme,\r\nTo: not a header\r\n");
    /* Bob's copy names Ann's address in its body */
    m2 = add_msg(db, acc, 1, 0, "bob@acme.example",
                 "To: <bob@acme.example>\r\n\r\nCc'd ann@acme.example today.\r\n");
    m3 = add_msg(db, other, 2, 0, "ann@acme.example", "To: <ann@acme.example>\r\n\r\nHi\r\n");
    TK_CHECK_INT(tk_store_audit_add(db, 5, "cli", acc, 0, 0, "contact-added",
                                    "contact ann@acme.example added", &err),
                 0);
    TK_CHECK_INT(tk_store_audit_add(db, 6, "cli", acc, 0, 0, "x", "nothing here", &err), 0);
    /* what came back about her (issue 15): a suppression, a reply record */
    TK_CHECK_INT(
        tk_store_suppression_add(db, "Ann@Acme.example", "550 5.1.1", "bounce", m1, 7, NULL, &err),
        0);
    struct tk_inbound_record in = {.key = "<r1@acme.example>",
                                   .cls = "reply",
                                   .sender = "Ann Acme <ann@acme.example>",
                                   .subject = "Re: ann@acme.example's invoice",
                                   .action = "replied",
                                   .at = 8};
    TK_CHECK_INT(tk_store_inbound_add(db, &in, &err), 0);

    TK_CHECK_INT(tk_store_erase_address(db, "ann@acme.example", "erased-1@invalid",
                                        (const char *const[]){"Ann Acme", NULL}, &r, &err),
                 0);
    TK_CHECK_INT(r.contacts, 2);
    TK_CHECK_INT(r.messages, 2);
    TK_CHECK_INT(r.audit, 1);
    char *t1 = text_of(db, m1), *t2 = text_of(db, m2), *t3 = text_of(db, m3);
    TK_CHECK_STR(t1, "Date: x\r\nTo: erased-1@invalid\r\nSubject: s\r\n\r\nDear erased-1@invalid,"
                     "\r\nTo: not a header\r\n");
    TK_CHECK_STR(t2, "To: <bob@acme.example>\r\n\r\nCc'd erased-1@invalid today.\r\n");
    TK_CHECK_STR(t3, "To: erased-1@invalid\r\n\r\nHi\r\n");
    free(t1);
    free(t2);
    free(t3);
    TK_CHECK_INT(tk_store_outbox_get(db, m1, &row, &err), 0);
    TK_CHECK_STR(row.recipient, "erased-1@invalid");
    TK_CHECK_STR(row.idem_key, "1/notification/0/erased-1@invalid");
    tk_outbox_row_free(&row);
    TK_CHECK_INT(tk_db_int(db, &n, &err, "SELECT COUNT(*) FROM contacts", ""), 0);
    TK_CHECK_INT(n, 1);
    TK_CHECK_INT(tk_db_int(db, &n, &err,
                           "SELECT COUNT(*) FROM audit WHERE detail LIKE '%ann@acme.example%'", ""),
                 0);
    TK_CHECK_INT(n, 0);
    TK_CHECK_INT(tk_db_int(db, &n, &err, "SELECT COUNT(*) FROM suppressions", ""), 0);
    TK_CHECK_INT(n, 0);
    TK_CHECK_INT(tk_db_int(db, &n, &err,
                           "SELECT COUNT(*) FROM inbound WHERE sender LIKE '%ann@acme%' OR "
                           "subject LIKE '%ann@acme%' OR sender NOT LIKE '%erased-1@invalid%'",
                           ""),
                 0);
    TK_CHECK_INT(n, 0);
    /* a second address erased on the same item, kind and step: the keys
     * stay unique (each erasure its own marker) */
    TK_CHECK_INT(tk_store_erase_address(db, "bob@acme.example", "erased-2@invalid", NULL, &r, &err),
                 0);
    TK_CHECK_INT(tk_db_int(db, &n, &err, "SELECT COUNT(DISTINCT idem_key) FROM outbox", ""), 0);
    TK_CHECK_INT(n, 3);
    /* nothing to erase: nothing changes, no error */
    TK_CHECK_INT(tk_store_erase_address(db, "zed@x.example", "erased-3@invalid", NULL, &r, &err),
                 0);
    TK_CHECK_INT(r.contacts + r.messages + r.texts + r.audit, 0);
    tk_db_close(db);
}

/* Erasing nn@acme.example must not touch ann@acme.example, nn@acme.example.org
 * or x.nn@acme.example: only the address standing whole. */
static void test_erase_whole_addresses_only(void)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    struct tk_store_erased r;
    struct tk_cursor *cur = NULL;
    int64_t m;
    TK_CHECK(db != NULL);
    if (!db)
        return;
    m = add_msg(db, 1, 1, 0, "ann@acme.example",
                "To: <ann@acme.example>\r\n\r\nann@acme.example, nn@acme.example.org, "
                "x.nn@acme.example; but <nn@acme.example> and nn@acme.example.\r\n"
                "nn@acme.example");
    TK_CHECK_INT(tk_store_audit_add(db, 5, "cli", 1, 0, 0, "a",
                                    "sent to ann@acme.example, nn@acme.example", &err),
                 0);
    TK_CHECK_INT(tk_store_erase_address(db, "nn@acme.example", "erased-9@invalid", NULL, &r, &err),
                 0);
    TK_CHECK_INT(r.texts, 1);
    TK_CHECK_INT(r.audit, 1);
    char *t = text_of(db, m);
    TK_CHECK_STR(t, "To: <ann@acme.example>\r\n\r\nann@acme.example, nn@acme.example.org, "
                    "x.nn@acme.example; but <erased-9@invalid> and erased-9@invalid.\r\n"
                    "erased-9@invalid");
    free(t);
    TK_CHECK_INT(tk_db_query(db, &cur, &err, "SELECT detail FROM audit", ""), 0);
    TK_CHECK(cur && tk_cursor_next(cur, &err) > 0);
    if (cur)
        TK_CHECK_STR(tk_cursor_text(cur, 0), "sent to ann@acme.example, erased-9@invalid");
    tk_cursor_close(cur);
    tk_db_close(db);
}

static void test_cancel_beats_a_claim(void)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    struct tk_outbox_row *rows = NULL;
    size_t n = 0;
    int64_t cancelled = 0, id;
    TK_CHECK(db != NULL);
    if (!db)
        return;
    id = add_msg(db, 1, 7, 0, "ann@acme.example", "To: <ann@acme.example>\r\n\r\nx\r\n");
    add_msg(db, 1, 7, 0, "bob@acme.example", "To: <bob@acme.example>\r\n\r\nx\r\n");
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_store_outbox_claim(db, 2000, 300, 10, &rows, &n, &err), 0);
    TK_CHECK_INT(tk_db_commit(db, &err), 0);
    TK_CHECK_INT((int64_t)n, 2);
    TK_CHECK_INT(tk_store_outbox_in_flight(db, "ann@acme.example", 2000, &cancelled, &err), 0);
    TK_CHECK_INT(cancelled, 1);
    /* the lease runs out: not in flight any more */
    TK_CHECK_INT(tk_store_outbox_in_flight(db, "ann@acme.example", 2300, &cancelled, &err), 0);
    TK_CHECK_INT(cancelled, 0);
    TK_CHECK_INT(
        tk_store_outbox_cancel(db, 0, 0, "ann@acme.example", "cancelled: test", &cancelled, &err),
        0);
    TK_CHECK_INT(cancelled, 1);
    /* the dispatcher that claimed it reports late: refused, the row stays
     * cancelled; Bob's goes through */
    for (size_t i = 0; i < n; i++) {
        int want = rows[i].id == id ? TK_ECONFLICT : 0;
        TK_CHECK_INT(tk_store_outbox_finish(db, rows[i].id, rows[i].lease_token, TK_OUTBOX_SENT,
                                            2001, 0, 250, "ok", &err),
                     want);
        tk_outbox_row_free(&rows[i]);
    }
    free(rows);
    struct tk_outbox_row r;
    TK_CHECK_INT(tk_store_outbox_get(db, id, &r, &err), 0);
    TK_CHECK_INT(r.state, TK_OUTBOX_CANCELLED);
    TK_CHECK_STR(r.last_reply, "cancelled: test");
    tk_outbox_row_free(&r);
    /* never claimed again, never retried */
    TK_CHECK_INT(tk_store_outbox_claim(db, 99999, 300, 10, &rows, &n, &err), 0);
    TK_CHECK_INT((int64_t)n, 0);
    TK_CHECK(tk_store_outbox_retry(db, id, 3000, &err) != 0);
    tk_db_close(db);
}

static void test_retention(void)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    struct tk_cursor *cur = NULL;
    struct tk_outbox_row *rows = NULL;
    size_t n = 0, got = 0;
    int64_t id[5];
    TK_CHECK(db != NULL);
    if (!db)
        return;
    for (int i = 0; i < 5; i++)
        id[i] = add_msg(db, 1, 1, i, "ann@acme.example", "To: x\r\n\r\nbody\r\n");
    /* sent at 100, 200, 300; the fourth dead, the fifth queued */
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_store_outbox_claim(db, 5000, 300, 10, &rows, &n, &err), 0);
    TK_CHECK_INT(tk_db_commit(db, &err), 0);
    for (size_t i = 0; i < n; i++) {
        if (i < 3)
            tk_store_outbox_finish(db, rows[i].id, rows[i].lease_token, TK_OUTBOX_SENT,
                                   (tk_time)(100 * (i + 1)), 0, 250, "ok", &err);
        else if (i == 3)
            tk_store_outbox_finish(db, rows[i].id, rows[i].lease_token, TK_OUTBOX_DEAD, 100, 0, 550,
                                   "no", &err);
        else
            tk_store_outbox_release(db, rows[i].id, rows[i].lease_token, &err);
        tk_outbox_row_free(&rows[i]);
    }
    free(rows);
    /* the pass reads the partial index, not the table */
    TK_CHECK_INT(tk_db_query(db, &cur, &err,
                             "EXPLAIN QUERY PLAN SELECT id FROM outbox WHERE state = 1 AND "
                             "data_dropped_at IS NULL AND sent_at < ? ORDER BY sent_at LIMIT ?",
                             "ii", (int64_t)1, (int64_t)1),
                 0);
    int uses_index = 0;
    while (cur && tk_cursor_next(cur, &err) > 0)
        uses_index |= tk_cursor_text(cur, 3) && strstr(tk_cursor_text(cur, 3), "outbox_retention");
    tk_cursor_close(cur);
    TK_CHECK(uses_index);
    /* before 250: the two oldest, one per call when the limit is 1 */
    TK_CHECK_INT(tk_store_outbox_drop_texts(db, 250, 7000, 1, &got, &err), 0);
    TK_CHECK_INT((int64_t)got, 1);
    TK_CHECK_INT(tk_store_outbox_drop_texts(db, 250, 7000, 10, &got, &err), 0);
    TK_CHECK_INT((int64_t)got, 1);
    TK_CHECK_INT(tk_store_outbox_drop_texts(db, 250, 7000, 10, &got, &err), 0);
    TK_CHECK_INT((int64_t)got, 0);
    struct tk_outbox_row r;
    for (int i = 0; i < 5; i++) {
        TK_CHECK_INT(tk_store_outbox_get(db, id[i], &r, &err), 0);
        TK_CHECK(i < 2 ? r.data == NULL && r.data_dropped_at == 7000
                       : r.data != NULL && r.data_dropped_at == 0);
        tk_outbox_row_free(&r);
    }
    tk_db_close(db);
}

static void test_account_delete(void)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    struct tk_store_removed r;
    struct tk_item it;
    int64_t acc = 0, keep = 0, c = 0, n = 0;
    TK_CHECK(db != NULL);
    if (!db)
        return;
    TK_CHECK_INT(tk_store_account_add(db, "Acme", "en", 1, &acc, &err), 0);
    TK_CHECK_INT(tk_store_account_add(db, "Keep", "en", 1, &keep, &err), 0);
    TK_CHECK_INT(tk_store_contact_add(db, acc, "ann@acme.example", NULL, 1, 1, &c, &err), 0);
    memset(&it, 0, sizeof it);
    it.type = "invoice";
    it.account_id = acc;
    it.title = "Fees";
    it.template_name = "default";
    it.state = "pending";
    TK_CHECK_INT(tk_store_item_insert(db, &it, 1, &err), 0);
    TK_CHECK_INT(tk_store_item_field_set(db, it.id, "amount", "1.00", &err), 0);
    add_msg(db, acc, it.id, 0, "ann@acme.example", "x");
    add_msg(db, keep, 0, 0, "z@keep.example", "y");
    TK_CHECK_INT(tk_store_audit_add(db, 5, "cli", acc, it.id, 0, "sent", "d", &err), 0);
    TK_CHECK_INT(tk_store_account_rename(db, acc, "Keep", &err), TK_ECONFLICT);
    TK_CHECK_INT(tk_store_account_rename(db, acc, "Acme 2", &err), 0);
    TK_CHECK_INT(tk_store_account_rename(db, 999, "Nobody", &err), TK_ENOTFOUND);
    TK_CHECK_INT(tk_store_account_delete(db, acc, &r, &err), 0);
    TK_CHECK_INT(r.contacts, 1);
    TK_CHECK_INT(r.items, 1);
    TK_CHECK_INT(r.messages, 1);
    TK_CHECK_INT(tk_db_int(db, &n, &err, "SELECT COUNT(*) FROM outbox_data", ""), 0);
    TK_CHECK_INT(n, 1); /* Keep's */
    TK_CHECK_INT(tk_db_int(db, &n, &err, "SELECT COUNT(*) FROM item_fields", ""), 0);
    TK_CHECK_INT(n, 0);
    TK_CHECK_INT(tk_db_int(db, &n, &err, "SELECT COUNT(*) FROM audit", ""), 0);
    TK_CHECK_INT(n, 1); /* the audit stays */
    TK_CHECK_INT(tk_store_account_delete(db, acc, &r, &err), TK_ENOTFOUND);
    tk_db_close(db);
}

int main(void)
{
    if (tk_store_fixture_init("tk-test-life"))
        return 1;
    TK_RUN(test_erase);
    TK_RUN(test_erase_whole_addresses_only);
    TK_RUN(test_cancel_beats_a_claim);
    TK_RUN(test_retention);
    TK_RUN(test_account_delete);
    tk_store_fixture_done();
    return tk_test_done();
}
