/* upgrade_check.h - one test for both store drivers: a store made by
 * schema version 1, with queued and sent messages in it, upgraded to the
 * newest schema keeps every message text and still delivers the queued
 * one.  DB must be new and empty.  Included by test_db_contract.c, which
 * runs it on every driver. */
#ifndef TK_UPGRADE_CHECK_H
#define TK_UPGRADE_CHECK_H

#include <string.h>

#include "db/db.h"
#include "store/store.h"
#include "tk_test.h"

static int64_t upgrade_one(struct tk_db *db, const char *sql)
{
    int64_t v = -1;
    struct tk_error err = {0};
    if (tk_db_int(db, &v, &err, sql, "") != 0)
        fprintf(stderr, "upgrade_check: %s: %s\n", sql, err.msg);
    return v;
}

static void upgrade_check_v1(struct tk_db *db)
{
    static const char *const body[] = {"Subject: queued\r\n\r\nStill to go.\r\n",
                                       "Subject: sent\r\n\r\nGone already.\r\n"};
    struct tk_error err = {0};
    struct tk_outbox_row row, *claimed = NULL;
    int64_t ids[2] = {0, 0};
    size_t n = 0;

    TK_CHECK_INT(tk_db_migrate_to(db, 1, &err), 0);
    TK_CHECK_INT(upgrade_one(db, "SELECT MAX(version) FROM schema_version"), 1);
    TK_CHECK_INT(tk_db_exec(db, &err,
                            "INSERT INTO accounts (id, name, created_at) VALUES (1, 'Acme', 0)",
                            ""),
                 0);
    for (int i = 0; i < 2; i++)
        TK_CHECK_INT(tk_db_int(db, &ids[i], &err,
                               "INSERT INTO outbox (account_id, kind, recipient, idem_key, "
                               "message_id, sender, data, state, created_at) "
                               "VALUES (1, 'notification', 'ann@acme.example', ?, '<m@x>', "
                               "'firm@x.example', ?, ?, 0) RETURNING id",
                               "sss", body[i], body[i], i ? "1" : "0"),
                     0);
    TK_CHECK_INT(tk_db_migrate(db, &err), 0);
    TK_CHECK_INT(upgrade_one(db, "SELECT MAX(version) FROM schema_version"),
                 tk_db_schema_version());
    TK_CHECK_INT(upgrade_one(db, "SELECT COUNT(*) FROM outbox_data"), 2);
    for (int i = 0; i < 2; i++) {
        TK_CHECK_INT(tk_store_outbox_get(db, ids[i], &row, &err), 0);
        TK_CHECK_STR(row.data, body[i]);
        tk_outbox_row_free(&row);
    }
    /* the queued one is still claimed, with its text */
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_store_outbox_claim(db, 10, 60, 8, &claimed, &n, &err), 0);
    TK_CHECK_INT(tk_db_commit(db, &err), 0);
    TK_CHECK_INT((int64_t)n, 1);
    if (n == 1) {
        TK_CHECK_INT(claimed[0].id, ids[0]);
        TK_CHECK_STR(claimed[0].data, body[0]);
    }
    for (size_t i = 0; i < n; i++)
        tk_outbox_row_free(&claimed[i]);
    free(claimed);
    /* and a new message lands in the new table */
    memset(&row, 0, sizeof row);
    row.account_id = 1;
    row.kind = "notification";
    row.recipient = "bob@acme.example";
    row.idem_key = "new";
    row.message_id = "<n@x>";
    row.sender = "firm@x.example";
    row.data = "Subject: new\r\n\r\nNew.\r\n";
    int64_t id = 0;
    int dup = 1;
    TK_CHECK_INT(tk_store_outbox_add(db, &row, &id, &dup, &err), 0);
    TK_CHECK_INT(dup, 0);
    TK_CHECK_INT(upgrade_one(db, "SELECT COUNT(*) FROM outbox_data"), 3);
    /* the same message again is a duplicate and adds no text */
    TK_CHECK_INT(tk_store_outbox_add(db, &row, &id, &dup, &err), 0);
    TK_CHECK_INT(dup, 1);
    TK_CHECK_INT(upgrade_one(db, "SELECT COUNT(*) FROM outbox_data"), 3);
}

#endif
