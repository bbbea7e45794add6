/*
 * test_store.c - every store function against a real migrated SQLite file:
 * accounts, contacts, items and fields, the due and to-do orders, the audit
 * trail, sequences and the outbox with its leases and fencing tokens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/stats.h"
#include "tk_store_fixture.h"
#include "tk_test.h"

static int64_t add_account(struct tk_db *db, const char *name)
{
    int64_t id = 0;
    struct tk_error err = {0};
    if (tk_store_account_add(db, name, "en", 1000, &id, &err) != 0)
        fprintf(stderr, "account_add: %s\n", err.msg);
    return id;
}

static int count_accounts(void *u, const struct tk_account *a)
{
    (void)a;
    ++*(int *)u;
    return 0;
}

TK_TEST(test_accounts)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    if (!db)
        return;
    int64_t acme = add_account(db, "Acme");
    int64_t other = 0;
    TK_CHECK(acme > 0);
    TK_CHECK_INT(tk_store_account_add(db, "Bakker BV", "nl", 2000, &other, &err), 0);
    TK_CHECK(other > acme);
    TK_CHECK_INT(tk_store_account_add(db, "Acme", "en", 3000, NULL, &err), TK_ECONFLICT);
    char want[80];
    snprintf(want, sizeof want, "account 'Acme' exists already (id %lld)", (long long)acme);
    TK_CHECK_STR(err.msg, want);
    TK_CHECK_INT(tk_store_account_add(db, "", "en", 3000, NULL, &err), TK_EINVAL);

    struct tk_account a;
    TK_CHECK_INT(tk_store_account_find(db, "Bakker BV", &a, &err), 0);
    TK_CHECK_INT(a.id, other);
    TK_CHECK_STR(a.language, "nl");
    TK_CHECK_INT(a.created_at, 2000);
    tk_account_free(&a);
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%lld", (long long)acme);
    TK_CHECK_INT(tk_store_account_find(db, idtext, &a, &err), 0);
    TK_CHECK_STR(a.name, "Acme");
    tk_account_free(&a);
    /* A name made of digits is still found when no id matches. */
    int64_t y2024 = add_account(db, "2024");
    TK_CHECK_INT(tk_store_account_find(db, "2024", &a, &err), 0);
    TK_CHECK_INT(a.id, y2024);
    tk_account_free(&a);
    TK_CHECK_INT(tk_store_account_find(db, "Nobody", &a, &err), TK_ENOTFOUND);
    TK_CHECK_STR(err.msg, "no account 'Nobody'");
    TK_CHECK_INT(tk_store_account_get(db, acme, &a, &err), 0);
    TK_CHECK_STR(a.name, "Acme");
    tk_account_free(&a);
    TK_CHECK_INT(tk_store_account_get(db, 999, &a, &err), TK_ENOTFOUND);
    int n = 0;
    TK_CHECK_INT(tk_store_account_each(db, count_accounts, &n, &err), 0);
    TK_CHECK_INT(n, 3);
    tk_db_close(db);
}

TK_TEST(test_contacts)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    if (!db)
        return;
    int64_t acme = add_account(db, "Acme"), other = add_account(db, "Other");
    int64_t c1 = 0, c2 = 0, c3 = 0;
    TK_CHECK_INT(tk_store_contact_add(db, acme, "ann@acme.example", "Ann", 1, 10, &c1, &err), 0);
    TK_CHECK_INT(tk_store_contact_add(db, acme, "bob@acme.example", NULL, 0, 10, &c2, &err), 0);
    TK_CHECK_INT(tk_store_contact_add(db, other, "ann@acme.example", "Ann", 1, 10, &c3, &err), 0);
    TK_CHECK(c1 > 0 && c2 > c1 && c3 > c2);
    TK_CHECK_INT(tk_store_contact_add(db, acme, "ann@acme.example", "Ann", 1, 10, NULL, &err),
                 TK_ECONFLICT);
    TK_CHECK_INT(tk_store_contact_add(db, 999, "x@y.example", "X", 1, 10, NULL, &err),
                 TK_ENOTFOUND);

    struct tk_contacts cs;
    TK_CHECK_INT(tk_store_contact_list(db, acme, 0, &cs, &err), 0);
    TK_CHECK_INT(cs.n, 2);
    if (cs.n == 2) {
        TK_CHECK_STR(cs.v[0].email, "ann@acme.example");
        TK_CHECK_STR(cs.v[0].name, "Ann");
        TK_CHECK_INT(cs.v[0].notify, 1);
        TK_CHECK(cs.v[1].name == NULL);
        TK_CHECK_INT(cs.v[1].notify, 0);
        TK_CHECK_INT(cs.v[1].account_id, acme);
    }
    tk_contacts_free(&cs);
    TK_CHECK_INT(tk_store_contact_list(db, acme, 1, &cs, &err), 0);
    TK_CHECK_INT(cs.n, 1);
    tk_contacts_free(&cs);

    TK_CHECK_INT(tk_store_contact_notify(db, acme, "bob@acme.example", 1, &err), 0);
    TK_CHECK_INT(tk_store_contact_notify(db, acme, "ann@acme.example", 0, &err), 0);
    TK_CHECK_INT(tk_store_contact_list(db, acme, 1, &cs, &err), 0);
    TK_CHECK_INT(cs.n, 1);
    if (cs.n == 1)
        TK_CHECK_STR(cs.v[0].email, "bob@acme.example");
    tk_contacts_free(&cs);
    TK_CHECK_INT(tk_store_contact_notify(db, acme, "zed@acme.example", 1, &err), TK_ENOTFOUND);
    TK_CHECK_INT(tk_store_contact_notify(db, other, "bob@acme.example", 1, &err), TK_ENOTFOUND);

    /* Listed by id (the order recipients get their mail in), not in the
     * (account_id, email) index's order the rows are read in. */
    int64_t c4 = 0;
    TK_CHECK_INT(tk_store_contact_add(db, acme, "aaron@acme.example", "Aaron", 1, 10, &c4, &err),
                 0);
    TK_CHECK_INT(tk_store_contact_list(db, acme, 0, &cs, &err), 0);
    TK_CHECK_INT(cs.n, 3);
    if (cs.n == 3) {
        TK_CHECK_INT(cs.v[0].id, c1);
        TK_CHECK_INT(cs.v[1].id, c2);
        TK_CHECK_INT(cs.v[2].id, c4);
    }
    tk_contacts_free(&cs);
    TK_CHECK_INT(tk_store_contact_list(db, acme, 1, &cs, &err), 0);
    TK_CHECK_INT(cs.n, 2);
    if (cs.n == 2) {
        TK_CHECK_STR(cs.v[0].email, "bob@acme.example");
        TK_CHECK_STR(cs.v[1].email, "aaron@acme.example");
    }
    tk_contacts_free(&cs);
    tk_db_close(db);
}

static int64_t add_item(struct tk_db *db, int64_t account, const char *type, tk_time next_at,
                        int64_t job)
{
    struct tk_item it;
    struct tk_error err = {0};
    memset(&it, 0, sizeof it);
    it.account_id = account;
    it.job_id = job;
    it.type = (char *)type;
    it.title = (char *)"Title";
    it.template_name = (char *)"default";
    it.rem.enabled = next_at != 0;
    it.rem.every_days = 3;
    it.rem.count = 2;
    it.rem.next_at = next_at;
    if (tk_store_item_insert(db, &it, 500, &err) != 0)
        fprintf(stderr, "item_insert: %s\n", err.msg);
    return it.id;
}

TK_TEST(test_items)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    if (!db)
        return;
    int64_t acme = add_account(db, "Acme");
    struct tk_item it;
    memset(&it, 0, sizeof it);
    it.account_id = acme;
    it.type = (char *)"invoice";
    it.title = (char *)"Invoice 2026-001";
    it.template_name = (char *)"invoice-default";
    it.rem = (struct tk_reminders){1, 3, 2, 0, 1000, 1000 + 3 * TK_DAY, 0, {0}};
    struct tk_kv fields = {0};
    tk_kv_set(&fields, "amount", "1210.00");
    tk_kv_set(&fields, "currency", "EUR");
    tk_kv_set(&fields, "a_note", "caf\xc3\xa9");
    it.fields = fields;
    TK_CHECK_INT(tk_store_item_insert(db, &it, 1000, &err), 0);
    tk_kv_free(&fields);
    TK_CHECK(it.id > 0);
    TK_CHECK(it.todo_seq > 0);

    struct tk_item got;
    TK_CHECK_INT(tk_store_item_get(db, it.id, &got, &err), 0);
    TK_CHECK_STR(got.type, "invoice");
    TK_CHECK_STR(got.title, "Invoice 2026-001");
    TK_CHECK_STR(got.template_name, "invoice-default");
    TK_CHECK_STR(got.state, "pending");
    TK_CHECK_INT(got.job_id, 0);
    TK_CHECK_INT(got.created_at, 1000);
    TK_CHECK_INT(got.completed_at, 0);
    TK_CHECK_INT(got.rem.enabled, 1);
    TK_CHECK_INT(got.rem.every_days, 3);
    TK_CHECK_INT(got.rem.count, 2);
    TK_CHECK_INT(got.rem.last_mail_at, 1000);
    TK_CHECK_INT(got.rem.next_at, 1000 + 3 * TK_DAY);
    TK_CHECK_INT(got.fields.n, 3);
    TK_CHECK_STR(tk_kv_get(&got.fields, "amount"), "1210.00");
    TK_CHECK_STR(tk_kv_get(&got.fields, "a_note"), "caf\xc3\xa9");
    if (got.fields.n == 3) /* insertion order kept */
        TK_CHECK_STR(got.fields.keys[0], "amount");

    /* Update writes back state and the schedule; 0 next_at becomes NULL. */
    free(got.state);
    got.state = tk_strdup("paid");
    got.completed_at = 5000;
    got.resends = 2;
    got.todo_seq = 77;
    got.rem.sent = 1;
    got.rem.next_at = 0;
    TK_CHECK_INT(tk_store_item_update(db, &got, &err), 0);
    tk_item_free(&got);
    TK_CHECK_INT(tk_store_item_get(db, it.id, &got, &err), 0);
    TK_CHECK_STR(got.state, "paid");
    TK_CHECK_INT(got.completed_at, 5000);
    TK_CHECK_INT(got.resends, 2);
    TK_CHECK_INT(got.todo_seq, 77);
    TK_CHECK_INT(got.rem.sent, 1);
    TK_CHECK_INT(got.rem.next_at, 0);
    int64_t nulls = 0;
    TK_CHECK_INT(
        tk_db_int(db, &nulls, &err, "SELECT COUNT(*) FROM items WHERE next_at IS NULL", ""), 0);
    TK_CHECK_INT(nulls, 1);

    /* Fields can be set, replaced and removed later. */
    TK_CHECK_INT(tk_store_item_field_set(db, it.id, "paid_amount", "100.00", &err), 0);
    TK_CHECK_INT(tk_store_item_field_set(db, it.id, "amount", "1300.00", &err), 0);
    TK_CHECK_INT(tk_store_item_field_set(db, it.id, "currency", NULL, &err), 0);
    TK_CHECK_INT(tk_store_item_field_set(db, 9999, "x", "y", &err), TK_ENOTFOUND);
    tk_item_free(&got);
    TK_CHECK_INT(tk_store_item_get(db, it.id, &got, &err), 0);
    TK_CHECK_INT(got.fields.n, 3);
    TK_CHECK_STR(tk_kv_get(&got.fields, "amount"), "1300.00");
    TK_CHECK(tk_kv_get(&got.fields, "currency") == NULL);
    if (got.fields.n == 3)
        TK_CHECK_STR(got.fields.keys[2], "paid_amount");
    tk_item_free(&got);
    /* Fields come in (pos, name) order: by position, a tie by name
     * (byte order), whatever order the rows are stored or indexed in. */
    TK_CHECK_INT(tk_db_exec(db, &err,
                            "INSERT INTO item_fields (item_id, name, value, pos) VALUES "
                            "(?, 'zz', '1', 9), (?, 'Zz', '2', 9), (?, 'aa', '3', 8)",
                            "iii", it.id, it.id, it.id),
                 0);
    TK_CHECK_INT(tk_store_item_get(db, it.id, &got, &err), 0);
    TK_CHECK_INT(got.fields.n, 6);
    if (got.fields.n == 6) {
        TK_CHECK_STR(got.fields.keys[3], "aa");
        TK_CHECK_STR(got.fields.keys[4], "Zz");
        TK_CHECK_STR(got.fields.keys[5], "zz");
    }
    tk_item_free(&got);
    TK_CHECK_INT(
        tk_db_exec(db, &err, "DELETE FROM item_fields WHERE item_id = ? AND pos >= 8", "i", it.id),
        0);

    TK_CHECK_INT(tk_store_item_get(db, 9999, &got, &err), TK_ENOTFOUND);
    got.id = 9999;
    got.state = NULL;
    TK_CHECK_INT(tk_store_item_update(db, &got, &err), TK_ENOTFOUND);
    /* Bad input and unknown accounts are refused. */
    memset(&it, 0, sizeof it);
    it.account_id = 4242;
    it.type = (char *)"invoice";
    it.template_name = (char *)"t";
    TK_CHECK_INT(tk_store_item_insert(db, &it, 1, &err), TK_ENOTFOUND);
    it.template_name = NULL;
    TK_CHECK_INT(tk_store_item_insert(db, &it, 1, &err), TK_EINVAL);
    tk_db_close(db);
}

struct seen {
    int64_t ids[16];
    int n;
};

static int collect(void *u, struct tk_item *it)
{
    struct seen *s = u;
    if (s->n < 16)
        s->ids[s->n++] = it->id;
    return 0;
}

/* A callback that rewrites the column the scan is ordered by. */
static int bump(void *u, struct tk_item *it)
{
    struct tk_db *db = u;
    it->todo_seq += 1000;
    return tk_store_item_update(db, it, NULL) == 0 ? 0 : -1;
}

static int stop_at_two(void *u, struct tk_item *it)
{
    (void)it;
    return ++*(int *)u == 2 ? 42 : 0;
}

TK_TEST(test_item_each_and_todo_order)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    if (!db)
        return;
    int64_t acme = add_account(db, "Acme"), other = add_account(db, "Other");
    int64_t i1 = add_item(db, acme, "invoice", 0, 0);
    int64_t i2 = add_item(db, acme, "proposal", 0, 7);
    int64_t i3 = add_item(db, acme, "invoice", 0, 7);
    int64_t i4 = add_item(db, other, "invoice", 0, 0);
    struct seen s = {0};
    struct tk_item_filter f = {0};
    TK_CHECK_INT(tk_store_item_each(db, &f, collect, &s, &err), 0);
    TK_CHECK_INT(s.n, 4);
    TK_CHECK(s.ids[0] == i1 && s.ids[3] == i4);

    /* To-do order: most recent on top; a resend (new todo_seq) moves up. */
    f.account_id = acme;
    f.todo_order = 1;
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_item_each(db, &f, collect, &s, &err), 0);
    TK_CHECK_INT(s.n, 3);
    TK_CHECK(s.ids[0] == i3 && s.ids[1] == i2 && s.ids[2] == i1);
    struct tk_item it;
    TK_CHECK_INT(tk_store_item_get(db, i1, &it, &err), 0);
    TK_CHECK_INT(tk_store_sequence_next(db, "todo", &it.todo_seq, &err), 0);
    TK_CHECK_INT(tk_store_item_update(db, &it, &err), 0);
    tk_item_free(&it);
    /* Done and archived items leave the list. */
    TK_CHECK_INT(tk_store_item_get(db, i2, &it, &err), 0);
    free(it.state);
    it.state = tk_strdup("signed");
    TK_CHECK_INT(tk_store_item_update(db, &it, &err), 0);
    tk_item_free(&it);
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_item_each(db, &f, collect, &s, &err), 0);
    TK_CHECK_INT(s.n, 2);
    TK_CHECK(s.ids[0] == i1 && s.ids[1] == i3);
    TK_CHECK_INT(tk_store_item_get(db, i3, &it, &err), 0);
    it.archived = 1;
    TK_CHECK_INT(tk_store_item_update(db, &it, &err), 0);
    tk_item_free(&it);
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_item_each(db, &f, collect, &s, &err), 0);
    TK_CHECK_INT(s.n, 1);

    /* Every filter combination binds correctly. */
    struct tk_item_filter g = {.type = "invoice"};
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_item_each(db, &g, collect, &s, &err), 0);
    TK_CHECK_INT(s.n, 3);
    g.job_id = 7;
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_item_each(db, &g, collect, &s, &err), 0);
    TK_CHECK(s.n == 1 && s.ids[0] == i3);
    g.account_id = other;
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_item_each(db, &g, collect, &s, &err), 0);
    TK_CHECK_INT(s.n, 0);
    struct tk_item_filter h = {.account_id = acme, .job_id = 7};
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_item_each(db, &h, collect, &s, &err), 0);
    TK_CHECK_INT(s.n, 2);
    struct tk_item_filter k = {.type = "proposal", .job_id = 7, .pending_only = 1};
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_item_each(db, &k, collect, &s, &err), 0);
    TK_CHECK_INT(s.n, 0);
    k.pending_only = 0;
    TK_CHECK_INT(tk_store_item_each(db, &k, collect, &s, &err), 0);
    TK_CHECK_INT(s.n, 1);

    /* A callback may update items mid-scan without rows coming back twice. */
    int calls = 0;
    TK_CHECK_INT(tk_store_item_each(db, NULL, bump, db, &err), 0);
    TK_CHECK_INT(tk_store_item_each(db, NULL, stop_at_two, &calls, &err), 42);
    TK_CHECK_INT(calls, 2);
    memset(&s, 0, sizeof s);
    struct tk_item_filter todo = {.todo_order = 1};
    TK_CHECK_INT(tk_store_item_each(db, &todo, collect, &s, &err), 0);
    TK_CHECK_INT(s.n, 2); /* i1 and i4 are pending and not archived */

    /* A keyset page: ids after after_id, at most limit of them. */
    struct tk_item_filter page = {.after_id = i1, .limit = 2};
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_item_each(db, &page, collect, &s, &err), 0);
    TK_CHECK(s.n == 2 && s.ids[0] == i2 && s.ids[1] == i3);
    page.after_id = i3;
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_item_each(db, &page, collect, &s, &err), 0);
    TK_CHECK(s.n == 1 && s.ids[0] == i4);
    struct tk_item_filter apage = {
        .account_id = acme, .type = "invoice", .after_id = i1, .limit = 5};
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_item_each(db, &apage, collect, &s, &err), 0);
    TK_CHECK(s.n == 1 && s.ids[0] == i3);
    /* ... searched, not scanned: the page's cost does not grow with after_id */
    {
        static const char *const plans[] = {
            "EXPLAIN QUERY PLAN SELECT id FROM items WHERE id > ? ORDER BY id LIMIT ?",
            "EXPLAIN QUERY PLAN SELECT id FROM items WHERE account_id = ? AND id > ? "
            "ORDER BY id LIMIT ?",
            "EXPLAIN QUERY PLAN SELECT id FROM items WHERE type = ? AND state = 'pending' AND "
            "archived = 0 AND id > ? ORDER BY id LIMIT ?",
        };
        for (size_t p = 0; p < sizeof plans / sizeof plans[0]; p++) {
            struct tk_cursor *cur = NULL;
            int r, searched = 0, scanned = 0;
            if (p == 0)
                TK_CHECK_INT(tk_db_query(db, &cur, &err, plans[p], "ii", (int64_t)1, (int64_t)2),
                             0);
            else if (p == 1)
                TK_CHECK_INT(
                    tk_db_query(db, &cur, &err, plans[p], "iii", acme, (int64_t)1, (int64_t)2), 0);
            else
                TK_CHECK_INT(
                    tk_db_query(db, &cur, &err, plans[p], "sii", "invoice", (int64_t)1, (int64_t)2),
                    0);
            while ((r = tk_cursor_next(cur, &err)) > 0) {
                const char *d = tk_cursor_text(cur, 3);
                if (d && strncmp(d, "SEARCH", 6) == 0)
                    searched = 1;
                if (d && strncmp(d, "SCAN", 4) == 0)
                    scanned = 1;
            }
            tk_cursor_close(cur);
            TK_CHECK(searched && !scanned);
        }
    }
    tk_db_close(db);
}

TK_TEST(test_due)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    if (!db)
        return;
    int64_t acme = add_account(db, "Acme");
    int64_t late = add_item(db, acme, "invoice", 300, 0);
    int64_t early = add_item(db, acme, "invoice", 100, 0);
    int64_t tie = add_item(db, acme, "invoice", 300, 0);
    add_item(db, acme, "invoice", 0, 0);    /* nothing scheduled */
    add_item(db, acme, "invoice", 9000, 0); /* not yet */
    tk_time next = 0;
    TK_CHECK_INT(tk_store_item_next_due(db, &next, &err), 0);
    TK_CHECK_INT(next, 100);
    int64_t ids[8];
    size_t n = 0;
    TK_CHECK_INT(tk_store_item_due(db, 500, ids, 8, &n, &err), 0);
    TK_CHECK_INT(n, 3);
    if (n == 3)
        TK_CHECK(ids[0] == early && ids[1] == late && ids[2] == tie);
    TK_CHECK_INT(tk_store_item_due(db, 500, ids, 2, &n, &err), 0);
    TK_CHECK_INT(n, 2);
    TK_CHECK_INT(tk_store_item_due(db, 99, ids, 8, &n, &err), 0);
    TK_CHECK_INT(n, 0);
    /* The due query is served by the partial index. */
    struct tk_cursor *cur = NULL;
    TK_CHECK_INT(tk_db_query(db, &cur, &err,
                             "EXPLAIN QUERY PLAN SELECT id FROM items WHERE next_at IS NOT NULL "
                             "AND next_at <= ? ORDER BY next_at, id LIMIT ?",
                             "ii", (int64_t)500, (int64_t)8),
                 0);
    int uses_index = 0;
    while (tk_cursor_next(cur, &err) > 0)
        if (strstr(tk_cursor_text(cur, 3), "items_due"))
            uses_index = 1;
    tk_cursor_close(cur);
    TK_CHECK(uses_index);

    tk_db_close(db);
    struct tk_db *empty = fresh();
    if (!empty)
        return;
    TK_CHECK_INT(tk_store_item_next_due(empty, &next, &err), 0);
    TK_CHECK_INT(next, 0);
    tk_db_close(empty);
}

/* The dashboard's counts (store/stats.c, the same SQL) read only an index
 * (schema v10): at 100k items a table read cost 26-78 ms each. */
TK_TEST(test_dashboard_counts_read_an_index)
{
    static const struct {
        const char *sql, *index;
    } plans[] = {
        {"EXPLAIN QUERY PLAN SELECT type, COUNT(*) FROM items WHERE state = 'pending' AND "
         "archived = 0 GROUP BY type ORDER BY type",
         "COVERING INDEX items_pending_state"},
        {"EXPLAIN QUERY PLAN SELECT rem_sent, COUNT(*) FROM items WHERE completed_at IS NOT NULL "
         "GROUP BY rem_sent ORDER BY rem_sent",
         "COVERING INDEX items_completed_after"},
    };
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    if (!db)
        return;
    int64_t acme = add_account(db, "Acme");
    for (int i = 0; i < 20; i++)
        add_item(db, acme, i % 2 ? "invoice" : "approval", 100 + i, 0);
    for (size_t p = 0; p < sizeof plans / sizeof plans[0]; p++) {
        struct tk_cursor *cur = NULL;
        int covered = 0, other = 0;
        TK_CHECK_INT(tk_db_query(db, &cur, &err, plans[p].sql, ""), 0);
        while (tk_cursor_next(cur, &err) > 0) {
            const char *d = tk_cursor_text(cur, 3);
            if (d && strstr(d, plans[p].index))
                covered = 1;
            else if (d && (strstr(d, "TEMP B-TREE") || strncmp(d, "SCAN items", 10) == 0))
                other = 1;
            if (!d || !strstr(d, plans[p].index))
                fprintf(stderr, "plan %zu: %s\n", p, d ? d : "(null)");
        }
        tk_cursor_close(cur);
        TK_CHECK(covered && !other);
    }
    /* items completed per day: a range count per day */
    tk_time now = 30 * TK_DAY + 3600;
    int64_t per_day[5];
    TK_CHECK_INT(tk_db_exec(db, &err,
                            "UPDATE items SET state = 'approved', completed_at = CASE WHEN id < 3 "
                            "THEN ? WHEN id < 4 THEN ? ELSE ? END WHERE id < 6",
                            "iii", now - TK_DAY, now, now - 40 * TK_DAY),
                 0);
    TK_CHECK_INT(tk_store_count_per_day(db, 0, now, 5, per_day, &err), 0);
    TK_CHECK(per_day[0] == 0 && per_day[1] == 0 && per_day[2] == 0 && per_day[3] == 2 &&
             per_day[4] == 1);
    tk_db_close(db);
}

TK_TEST(test_sequence)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    if (!db)
        return;
    int64_t a = 0, b = 0, c = 0;
    TK_CHECK_INT(tk_store_sequence_next(db, "x", &a, &err), 0);
    TK_CHECK_INT(tk_store_sequence_next(db, "x", &b, &err), 0);
    TK_CHECK_INT(tk_store_sequence_next(db, "y", &c, &err), 0);
    TK_CHECK_INT(a, 1);
    TK_CHECK_INT(b, 2);
    TK_CHECK_INT(c, 1);
    TK_CHECK_INT(tk_store_sequence_next(db, "", &c, &err), TK_EINVAL);
    tk_db_close(db);
}

struct audit_seen {
    int n;
    char actions[8][16];
    int64_t items[8];
};

static int collect_audit(void *u, const struct tk_audit_entry *e)
{
    struct audit_seen *s = u;
    if (s->n < 8) {
        tk_strlcpy(s->actions[s->n], e->action, sizeof s->actions[0]);
        s->items[s->n++] = e->item_id;
    }
    return 0;
}

TK_TEST(test_audit)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    if (!db)
        return;
    TK_CHECK_INT(tk_store_audit_add(db, 10, "cli", 1, 5, 0, "sent", "to ann@x", &err), 0);
    TK_CHECK_INT(tk_store_audit_add(db, 20, "scheduler", 1, 6, 3, "reminder", NULL, &err), 0);
    TK_CHECK_INT(tk_store_audit_add(db, 30, "cli", 2, 0, 0, "contact", "added", &err), 0);
    TK_CHECK_INT(tk_store_audit_add(db, 40, "cli", 1, 5, 0, "resent", "by hand", &err), 0);
    TK_CHECK_INT(tk_store_audit_add(db, 40, NULL, 1, 5, 0, "x", NULL, &err), TK_EINVAL);
    struct audit_seen s = {0};
    TK_CHECK_INT(tk_store_audit_each(db, 0, 5, collect_audit, &s, &err), 0);
    TK_CHECK_INT(s.n, 2);
    TK_CHECK_STR(s.actions[0], "sent");
    TK_CHECK_STR(s.actions[1], "resent");
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_audit_each(db, 1, 0, collect_audit, &s, &err), 0);
    TK_CHECK_INT(s.n, 3);
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_audit_each(db, 0, 0, collect_audit, &s, &err), 0);
    TK_CHECK_INT(s.n, 4);
    TK_CHECK_INT(s.items[2], 0); /* NULL item reads back as 0 */
    tk_db_close(db);
}

static struct tk_outbox_row msg(const char *key, tk_time at)
{
    struct tk_outbox_row r;
    memset(&r, 0, sizeof r);
    r.item_id = 1;
    r.account_id = 1;
    r.kind = (char *)"reminder";
    r.step = 1;
    r.recipient = (char *)"ann@acme.example";
    r.idem_key = (char *)key;
    r.message_id = (char *)"<m@x>";
    r.sender = (char *)"firm@x";
    r.data = (char *)"Subject: hi\r\n\r\nbody\r\n";
    r.created_at = at;
    r.next_attempt_at = at;
    return r;
}

static void free_rows(struct tk_outbox_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tk_outbox_row_free(&rows[i]);
    free(rows);
}

TK_TEST(test_outbox_add_and_get)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    if (!db)
        return;
    struct tk_outbox_row r = msg("1/reminder/1/ann", 100);
    int64_t id = 0, id2 = 0;
    int dup = -1;
    TK_CHECK_INT(tk_store_outbox_add(db, &r, &id, &dup, &err), 0);
    TK_CHECK(id > 0);
    TK_CHECK_INT(dup, 0);
    r.data = (char *)"different";
    TK_CHECK_INT(tk_store_outbox_add(db, &r, &id2, &dup, &err), 0);
    TK_CHECK_INT(id2, id);
    TK_CHECK_INT(dup, 1);
    struct tk_outbox_row got;
    TK_CHECK_INT(tk_store_outbox_get(db, id, &got, &err), 0);
    TK_CHECK_STR(got.data, "Subject: hi\r\n\r\nbody\r\n"); /* first one kept */
    TK_CHECK_STR(got.idem_key, "1/reminder/1/ann");
    TK_CHECK_STR(got.kind, "reminder");
    TK_CHECK_INT(got.state, TK_OUTBOX_QUEUED);
    TK_CHECK_INT(got.attempts, 0);
    TK_CHECK_INT(got.created_at, 100);
    TK_CHECK_INT(got.sent_at, 0);
    TK_CHECK(got.last_reply == NULL);
    tk_outbox_row_free(&got);
    TK_CHECK_INT(tk_store_outbox_get(db, 999, &got, &err), TK_ENOTFOUND);
    int64_t q = 0, d = 0;
    TK_CHECK_INT(tk_store_outbox_counts(db, &q, &d, &err), 0);
    TK_CHECK_INT(q, 1);
    TK_CHECK_INT(d, 0);
    r.idem_key = NULL;
    TK_CHECK_INT(tk_store_outbox_add(db, &r, &id2, &dup, &err), TK_EINVAL);
    tk_db_close(db);
}

TK_TEST(test_outbox_leases)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    if (!db)
        return;
    struct tk_outbox_row a = msg("a", 100), b = msg("b", 50), c = msg("c", 1000);
    int64_t ia = 0, ib = 0, ic = 0;
    tk_store_outbox_add(db, &a, &ia, NULL, &err);
    tk_store_outbox_add(db, &b, &ib, NULL, &err);
    tk_store_outbox_add(db, &c, &ic, NULL, &err);
    tk_time due = 0;
    TK_CHECK_INT(tk_store_outbox_next_due(db, &due, &err), 0);
    TK_CHECK_INT(due, 50);

    /* Claim at 200: b (due 50) then a (due 100); c is not due. */
    struct tk_outbox_row *rows = NULL;
    size_t n = 0;
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_store_outbox_claim(db, 200, 60, 10, &rows, &n, &err), 0);
    TK_CHECK_INT(tk_db_commit(db, &err), 0);
    TK_CHECK_INT(n, 2);
    if (n != 2) {
        free_rows(rows, n);
        tk_db_close(db);
        return;
    }
    TK_CHECK_INT(rows[0].id, ib);
    TK_CHECK_INT(rows[1].id, ia);
    TK_CHECK_INT(rows[0].attempts, 1);
    TK_CHECK_INT(rows[0].lease_until, 260);
    /* One fencing token per claimed batch; a takeover draws a larger one. */
    TK_CHECK(rows[0].lease_token > 0 && rows[1].lease_token == rows[0].lease_token);
    int64_t tok_b = rows[0].lease_token, tok_a = rows[1].lease_token;
    free_rows(rows, n);

    /* While leased, nobody else gets them. */
    TK_CHECK_INT(tk_store_outbox_claim(db, 210, 60, 10, &rows, &n, &err), 0);
    TK_CHECK_INT(n, 0);
    TK_CHECK(rows == NULL);
    TK_CHECK_INT(tk_store_outbox_next_due(db, &due, &err), 0);
    TK_CHECK_INT(due, 260); /* the lease end, not the past due time */

    /* b is sent. */
    TK_CHECK_INT(tk_store_outbox_finish(db, ib, tok_b, TK_OUTBOX_SENT, 220, 0, 250, "250 ok", &err),
                 0);
    struct tk_outbox_row got;
    TK_CHECK_INT(tk_store_outbox_get(db, ib, &got, &err), 0);
    TK_CHECK_INT(got.state, TK_OUTBOX_SENT);
    TK_CHECK_INT(got.sent_at, 220);
    TK_CHECK_INT(got.reply_code, 250);
    TK_CHECK_STR(got.last_reply, "250 ok");
    tk_outbox_row_free(&got);

    /* a's sender stalls past its lease; the next claim takes a over. */
    TK_CHECK_INT(tk_store_outbox_claim(db, 300, 60, 10, &rows, &n, &err), 0);
    TK_CHECK_INT(n, 1);
    int64_t tok_a2 = n == 1 ? rows[0].lease_token : 0;
    if (n == 1) {
        TK_CHECK_INT(rows[0].id, ia);
        TK_CHECK(tok_a2 > tok_a);
        TK_CHECK_INT(rows[0].attempts, 2);
        TK_CHECK_INT(rows[0].lease_until, 360);
    }
    free_rows(rows, n);
    /* The stale sender's outcome is refused and changes nothing. */
    TK_CHECK_INT(tk_store_outbox_finish(db, ia, tok_a, TK_OUTBOX_DEAD, 310, 0, 550, "no", &err),
                 TK_ECONFLICT);
    TK_CHECK(strstr(err.msg, "stale claim") != NULL);
    TK_CHECK_INT(tk_store_outbox_release(db, ia, tok_a, &err), TK_ECONFLICT);
    TK_CHECK_INT(tk_store_outbox_get(db, ia, &got, &err), 0);
    TK_CHECK_INT(got.state, TK_OUTBOX_QUEUED);
    TK_CHECK_INT(got.attempts, 2);
    TK_CHECK_INT(got.lease_token, tok_a2);
    TK_CHECK_INT(got.lease_until, 360);
    TK_CHECK(got.last_reply == NULL);
    tk_outbox_row_free(&got);

    /* A temporary failure: back to queued at a later time, lease cleared. */
    TK_CHECK_INT(
        tk_store_outbox_finish(db, ia, tok_a2, TK_OUTBOX_QUEUED, 320, 400, 451, "later", &err), 0);
    TK_CHECK_INT(tk_store_outbox_get(db, ia, &got, &err), 0);
    TK_CHECK_INT(got.state, TK_OUTBOX_QUEUED);
    TK_CHECK_INT(got.next_attempt_at, 400);
    TK_CHECK_INT(got.lease_until, 0);
    TK_CHECK_INT(got.reply_code, 451);
    tk_outbox_row_free(&got);
    TK_CHECK_INT(tk_store_outbox_claim(db, 399, 60, 10, &rows, &n, &err), 0);
    TK_CHECK_INT(n, 0);

    /* Release (shutdown) gives the attempt back. */
    TK_CHECK_INT(tk_store_outbox_claim(db, 400, 60, 1, &rows, &n, &err), 0);
    TK_CHECK_INT(n, 1);
    int64_t tok_a3 = n == 1 ? rows[0].lease_token : 0;
    if (n == 1)
        TK_CHECK_INT(rows[0].attempts, 3);
    free_rows(rows, n);
    TK_CHECK_INT(tk_store_outbox_release(db, ia, tok_a3, &err), 0);
    TK_CHECK_INT(tk_store_outbox_get(db, ia, &got, &err), 0);
    TK_CHECK_INT(got.attempts, 2);
    TK_CHECK_INT(got.lease_until, 0);
    tk_outbox_row_free(&got);

    /* Dead, counted, listed, retried. */
    TK_CHECK_INT(tk_store_outbox_claim(db, 401, 60, 1, &rows, &n, &err), 0);
    int64_t tok_a4 = n == 1 ? rows[0].lease_token : 0;
    free_rows(rows, n);
    TK_CHECK_INT(
        tk_store_outbox_finish(db, ia, tok_a4, TK_OUTBOX_DEAD, 402, 0, 550, "no such user", &err),
        0);
    TK_CHECK_INT(tk_store_outbox_finish(db, ia, tok_a4, 9, 402, 0, 0, NULL, &err), TK_EINVAL);
    int64_t q = 0, d = 0;
    TK_CHECK_INT(tk_store_outbox_counts(db, &q, &d, &err), 0);
    TK_CHECK_INT(q, 1); /* c */
    TK_CHECK_INT(d, 1);
    TK_CHECK_INT(tk_store_outbox_retry(db, ib, 500, &err), TK_ECONFLICT); /* sent */
    TK_CHECK_INT(tk_store_outbox_retry(db, 999, 500, &err), TK_ENOTFOUND);
    TK_CHECK_INT(tk_store_outbox_retry(db, ia, 500, &err), 0);
    TK_CHECK_INT(tk_store_outbox_get(db, ia, &got, &err), 0);
    TK_CHECK_INT(got.state, TK_OUTBOX_QUEUED);
    TK_CHECK_INT(got.attempts, 0);
    TK_CHECK_INT(got.next_attempt_at, 500);
    tk_outbox_row_free(&got);
    TK_CHECK_INT(tk_store_outbox_retry(db, ia, 500, &err), TK_ECONFLICT); /* queued now */
    tk_db_close(db);
}

struct ob_seen {
    int n;
    int64_t ids[8];
};

static int collect_ob(void *u, const struct tk_outbox_row *r)
{
    struct ob_seen *s = u;
    if (s->n < 8)
        s->ids[s->n++] = r->id;
    return 0;
}

/* Two outbox rows alike but for id and idem_key (every other column). */
static int ob_same(struct tk_db *db, int64_t a, int64_t b)
{
    struct tk_error err = {0};
    struct tk_outbox_row x, y;
    int same = 0;
    if (tk_store_outbox_get(db, a, &x, &err) != 0)
        return 0;
    if (tk_store_outbox_get(db, b, &y, &err) != 0) {
        tk_outbox_row_free(&x);
        return 0;
    }
#define OB_STR(f) ((x.f == NULL) == (y.f == NULL) && (!x.f || strcmp(x.f, y.f) == 0))
    same = x.item_id == y.item_id && x.account_id == y.account_id && OB_STR(kind) &&
           x.step == y.step && OB_STR(recipient) && OB_STR(message_id) && OB_STR(sender) &&
           OB_STR(data) && x.state == y.state && x.attempts == y.attempts &&
           x.created_at == y.created_at && x.next_attempt_at == y.next_attempt_at &&
           x.sent_at == y.sent_at && x.lease_token == y.lease_token &&
           x.lease_until == y.lease_until && x.reply_code == y.reply_code && OB_STR(last_reply) &&
           x.data_dropped_at == y.data_dropped_at;
#undef OB_STR
    if (!same)
        fprintf(stderr, "outbox rows %lld and %lld differ\n", (long long)a, (long long)b);
    tk_outbox_row_free(&x);
    tk_outbox_row_free(&y);
    return same;
}

/* tk_store_outbox_sent_unleased and tk_store_outbox_lease name a run of
 * consecutive ids as one range (id_run, outbox.c) instead of an IN list.
 * Every shape of batch, written at once to rows [1, K], against the same
 * rows of [K + 1, 2K] written one at a time (a single row always goes by
 * IN, the old statement): every column of every row the same, rows
 * outside the batch untouched.  Runs in order, shuffled, reversed, of 3
 * and of 64, two rows, a gap, and a repeated id that spans a run's width
 * (5, 5, 7: the range would take 6 too) which must be refused as before. */
TK_TEST(test_outbox_id_runs_as_in_lists)
{
    enum { K = 150 };
    static const int shapes[][66] = {
        /* count, then 1-based row numbers within [1, K] */
        {8, 3, 4, 5, 6, 7, 8, 9, 10},
        {8, 20, 17, 19, 14, 15, 18, 16, 13},
        {4, 30, 31, 32, 34},
        {3, 142, 140, 141},
        {2, 145, 146},
        {5, 40, 39, 38, 37, 36},
        {4, 50, 52, 53, 54},
    };
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    struct tk_outbox_row v[64];
    int codes[64];
    const char *replies[64];
    char reply_text[64][24], key[32];
    if (!db)
        return;
    for (int i = 1; i <= 2 * K; i++) {
        snprintf(key, sizeof key, "run/%d", i);
        struct tk_outbox_row r = msg(key, 100);
        int64_t id = 0;
        TK_CHECK_INT(tk_store_outbox_add(db, &r, &id, NULL, &err), 0);
        TK_CHECK_INT(id, i);
    }
    for (int i = 0; i < 64; i++) {
        snprintf(reply_text[i], sizeof reply_text[i], "written %d", i);
        replies[i] = reply_text[i];
        codes[i] = i % 3 ? 250 : 0;
    }
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int n = shapes[s][0];
        for (int half = 0; half < 2; half++) {
            memset(v, 0, sizeof v);
            for (int i = 0; i < n; i++)
                v[i].id = shapes[s][1 + i] + half * K;
            if (half == 0) {
                TK_CHECK_INT(tk_store_outbox_sent_unleased(db, v, (size_t)n, 77, 200, 205, codes,
                                                           replies, &err),
                             0);
                continue;
            }
            for (int i = 0; i < n; i++)
                TK_CHECK_INT(tk_store_outbox_sent_unleased(db, &v[i], 1, 77, 200, 205, &codes[i],
                                                           &replies[i], &err),
                             0);
        }
    }
    /* a run of 64 (the dispatcher's claim batch) by lease, shuffled */
    for (int half = 0; half < 2; half++) {
        memset(v, 0, sizeof v);
        for (int i = 0; i < 64; i++)
            v[i].id = 60 + (i * 37) % 64 + half * K;
        if (half == 0) {
            TK_CHECK_INT(tk_store_outbox_lease(db, v, 64, 91, 400, &err), 0);
            continue;
        }
        for (int i = 0; i < 64; i++)
            TK_CHECK_INT(tk_store_outbox_lease(db, &v[i], 1, 91, 400, &err), 0);
    }
    /* leases of a run of 5 and of a gap */
    for (int half = 0; half < 2; half++) {
        static const int lease_ids[] = {130, 129, 131, 128, 127, 135, 137, 136};
        memset(v, 0, sizeof v);
        for (int i = 0; i < 8; i++)
            v[i].id = lease_ids[i] + half * K;
        if (half == 0) {
            TK_CHECK_INT(tk_store_outbox_lease(db, v, 5, 92, 401, &err), 0);
            TK_CHECK_INT(tk_store_outbox_lease(db, &v[5], 3, 93, 402, &err), 0);
            continue;
        }
        for (int i = 0; i < 8; i++)
            TK_CHECK_INT(
                tk_store_outbox_lease(db, &v[i], 1, i < 5 ? 92 : 93, i < 5 ? 401 : 402, &err), 0);
    }
    for (int i = 1; i <= K; i++)
        TK_CHECK(ob_same(db, i, i + K));

    /* 5, 5, 7: refused (two rows changed, not three), 6 untouched; the
     * transaction is rolled back as the dispatcher does */
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    memset(v, 0, sizeof v);
    v[0].id = 148;
    v[1].id = 148;
    v[2].id = 150;
    TK_CHECK_INT(tk_store_outbox_sent_unleased(db, v, 3, 78, 200, 205, codes, replies, &err),
                 TK_ECONFLICT);
    TK_CHECK(ob_same(db, 149, 149 + K));
    TK_CHECK_INT(tk_store_outbox_lease(db, v, 3, 79, 500, &err), TK_ECONFLICT);
    TK_CHECK(ob_same(db, 149, 149 + K));
    tk_db_rollback(db);
    /* a run with a row no longer queued in it: refused */
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    for (int i = 0; i < 5; i++)
        v[i].id = 27 + i; /* 30 and 31 were sent above */
    TK_CHECK_INT(tk_store_outbox_sent_unleased(db, v, 5, 78, 200, 205, codes, replies, &err),
                 TK_ECONFLICT);
    tk_db_rollback(db);
    for (int i = 1; i <= K; i++)
        TK_CHECK(ob_same(db, i, i + K));
    tk_db_close(db);
}

/* The one-connection spool path (dispatch.c, work_inline): a row read
 * with tk_store_outbox_due and recorded with tk_store_outbox_sent_unleased
 * ends exactly as its twin claimed (tk_store_outbox_claim's lease) and
 * then finished as sent: one row write instead of two, the same row. */
TK_TEST(test_outbox_sent_unleased_matches_claim_and_finish)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    if (!db)
        return;
    struct tk_outbox_row a = msg("a", 100), b = msg("b", 100), c = msg("c", 100);
    int64_t ia = 0, ib = 0, ic = 0, token = 0;
    TK_CHECK_INT(tk_store_outbox_add(db, &a, &ia, NULL, &err), 0);
    TK_CHECK_INT(tk_store_outbox_add(db, &b, &ib, NULL, &err), 0);
    TK_CHECK_INT(tk_store_outbox_add(db, &c, &ic, NULL, &err), 0);
    /* an earlier attempt: b and c come back with an expired lease, as a
     * row does after a temporary failure */
    struct tk_outbox_row *rows = NULL;
    size_t n = 0;
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_store_outbox_claim(db, 100, 60, 10, &rows, &n, &err), 0);
    TK_CHECK_INT(n, 3);
    for (size_t i = 0; i < n; i++)
        TK_CHECK_INT(tk_store_outbox_finish(db, rows[i].id, rows[i].lease_token, TK_OUTBOX_QUEUED,
                                            100, 150, 451, "later", &err),
                     0);
    TK_CHECK_INT(tk_db_commit(db, &err), 0);
    free_rows(rows, n);

    /* a: claimed at 200, then sent (the claimed path) */
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_store_outbox_claim(db, 200, 60, 1, &rows, &n, &err), 0);
    TK_CHECK_INT(n, 1);
    TK_CHECK_INT(rows[0].id, ia);
    token = rows[0].lease_token;
    TK_CHECK_INT(tk_store_outbox_finish(db, ia, token, TK_OUTBOX_SENT, 205, 0, 0,
                                        "written /spool/x.eml \xc3\xa9", &err),
                 0);
    TK_CHECK_INT(tk_db_commit(db, &err), 0);
    free_rows(rows, n);

    /* b (and d beside it): read and sent in one transaction, one
     * statement, with the same token */
    struct tk_outbox_row dd = msg("d", 190), v[4];
    int64_t id_d = 0;
    TK_CHECK_INT(tk_store_outbox_add(db, &dd, &id_d, NULL, &err), 0);
    n = 0;
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_store_outbox_due(db, 200, 2, v, &n, &err), 0);
    TK_CHECK_INT(n, 2);
    TK_CHECK_INT(v[0].id, ib);
    TK_CHECK_INT(v[1].id, ic); /* due at 150, before d (190) */
    const int codes[2] = {0, 250};
    const char *const replies[2] = {"written /spool/x.eml \xc3\xa9", "250 ok"};
    TK_CHECK_INT(tk_store_outbox_sent_unleased(db, v, 1, token, 200, 205, codes, replies, &err), 0);
    /* a row no longer as read (leased meanwhile) is refused, unwritten */
    TK_CHECK_INT(tk_store_outbox_lease(db, &v[1], 1, token + 1, 260, &err), 0);
    TK_CHECK_INT(tk_store_outbox_sent_unleased(db, &v[1], 1, token, 200, 205, codes, replies, &err),
                 TK_ECONFLICT);
    /* two at once, each its own reply */
    struct tk_outbox_row w[4];
    size_t m = 0;
    struct tk_outbox_row ee = msg("e", 195);
    int64_t id_e = 0;
    TK_CHECK_INT(tk_store_outbox_add(db, &ee, &id_e, NULL, &err), 0);
    TK_CHECK_INT(tk_store_outbox_due(db, 200, 4, w, &m, &err), 0);
    TK_CHECK_INT(m, 2);
    TK_CHECK_INT(tk_store_outbox_sent_unleased(db, w, 2, token, 200, 206, codes, replies, &err), 0);
    TK_CHECK_INT(tk_db_commit(db, &err), 0);
    struct tk_outbox_row gd, ge;
    TK_CHECK_INT(tk_store_outbox_get(db, id_d, &gd, &err), 0);
    TK_CHECK_INT(tk_store_outbox_get(db, id_e, &ge, &err), 0);
    TK_CHECK_INT(gd.state, TK_OUTBOX_SENT);
    TK_CHECK_INT(ge.state, TK_OUTBOX_SENT);
    TK_CHECK_INT(gd.reply_code, 0);
    TK_CHECK_INT(ge.reply_code, 250);
    TK_CHECK(gd.last_reply && strcmp(gd.last_reply, replies[0]) == 0);
    TK_CHECK(ge.last_reply && strcmp(ge.last_reply, "250 ok") == 0);
    TK_CHECK_INT(gd.attempts, 1);
    TK_CHECK_INT(ge.lease_token, token);
    TK_CHECK_INT(ge.sent_at, 206);
    tk_outbox_row_free(&gd);
    tk_outbox_row_free(&ge);
    for (size_t i = 0; i < n; i++)
        tk_outbox_row_free(&v[i]);
    for (size_t i = 0; i < m; i++)
        tk_outbox_row_free(&w[i]);

    struct tk_outbox_row ga, gb, gc;
    TK_CHECK_INT(tk_store_outbox_get(db, ia, &ga, &err), 0);
    TK_CHECK_INT(tk_store_outbox_get(db, ib, &gb, &err), 0);
    TK_CHECK_INT(tk_store_outbox_get(db, ic, &gc, &err), 0);
    TK_CHECK_INT(gb.state, ga.state);
    TK_CHECK_INT(gb.state, TK_OUTBOX_SENT);
    TK_CHECK_INT(gb.attempts, ga.attempts);
    TK_CHECK_INT(gb.attempts, 2);
    TK_CHECK_INT(gb.sent_at, ga.sent_at);
    TK_CHECK_INT(gb.next_attempt_at, ga.next_attempt_at);
    TK_CHECK_INT(gb.lease_token, ga.lease_token);
    TK_CHECK_INT(gb.lease_until, ga.lease_until);
    TK_CHECK_INT(gb.lease_until, 0);
    TK_CHECK_INT(gb.reply_code, ga.reply_code);
    TK_CHECK(ga.last_reply && gb.last_reply && strcmp(ga.last_reply, gb.last_reply) == 0);
    TK_CHECK(ga.data && gb.data && strcmp(ga.data, gb.data) == 0);
    TK_CHECK_INT(gc.state, TK_OUTBOX_QUEUED); /* c: the lease only */
    TK_CHECK_INT(gc.lease_token, token + 1);
    TK_CHECK_INT(gc.attempts, 2);
    tk_outbox_row_free(&ga);
    tk_outbox_row_free(&gb);
    tk_outbox_row_free(&gc);
    /* and through SQL: the same values in every column but the keys */
    int64_t same = 0;
    TK_CHECK_INT(tk_db_int(db, &same, &err,
                           "SELECT COUNT(*) FROM outbox x JOIN outbox y ON x.id = ? AND y.id = ? "
                           "WHERE x.state IS y.state AND x.attempts IS y.attempts "
                           "AND x.sent_at IS y.sent_at AND x.reply_code IS y.reply_code "
                           "AND x.last_reply IS y.last_reply AND x.lease_token IS y.lease_token "
                           "AND x.lease_until IS y.lease_until "
                           "AND x.next_attempt_at IS y.next_attempt_at",
                           "ii", ia, ib),
                 0);
    TK_CHECK_INT(same, 1);
    tk_db_close(db);
}

TK_TEST(test_outbox_each)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    if (!db)
        return;
    struct tk_outbox_row a = msg("a", 10), b = msg("b", 10), c = msg("c", 10);
    c.item_id = 2;
    int64_t ia = 0, ib = 0, ic = 0;
    tk_store_outbox_add(db, &a, &ia, NULL, &err);
    tk_store_outbox_add(db, &b, &ib, NULL, &err);
    tk_store_outbox_add(db, &c, &ic, NULL, &err);
    struct tk_outbox_row *rows = NULL;
    size_t n = 0;
    TK_CHECK_INT(tk_store_outbox_claim(db, 20, 60, 3, &rows, &n, &err), 0);
    TK_CHECK_INT(n, 3);
    for (size_t i = 0; i < n; i++)
        if (rows[i].id != ia)
            tk_store_outbox_finish(db, rows[i].id, rows[i].lease_token, TK_OUTBOX_DEAD, 21, 0, 550,
                                   "x", &err);
    free_rows(rows, n);
    struct ob_seen s = {0};
    TK_CHECK_INT(tk_store_outbox_each(db, 0, 0, collect_ob, &s, &err), 0);
    TK_CHECK_INT(s.n, 3);
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_outbox_each(db, 1, 0, collect_ob, &s, &err), 0);
    TK_CHECK(s.n == 2 && s.ids[0] == ib && s.ids[1] == ic);
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_outbox_each(db, 0, 1, collect_ob, &s, &err), 0);
    TK_CHECK(s.n == 2 && s.ids[0] == ia && s.ids[1] == ib);
    memset(&s, 0, sizeof s);
    TK_CHECK_INT(tk_store_outbox_each(db, 1, 2, collect_ob, &s, &err), 0);
    TK_CHECK(s.n == 1 && s.ids[0] == ic);
    tk_time due = 0;
    TK_CHECK_INT(tk_store_outbox_next_due(db, &due, &err), 0);
    TK_CHECK_INT(due, 80); /* a: leased until 80 */
    tk_db_close(db);
}

/* A failing command in a transaction leaves nothing behind. */
TK_TEST(test_rollback_leaves_nothing)
{
    struct tk_db *db = fresh();
    struct tk_error err = {0};
    if (!db)
        return;
    TK_CHECK_INT(tk_db_begin(db, TK_TX_IMMEDIATE, &err), 0);
    int64_t acme = add_account(db, "Acme");
    add_item(db, acme, "invoice", 100, 0);
    TK_CHECK_INT(tk_store_account_add(db, "Acme", "en", 1, NULL, &err), TK_ECONFLICT);
    tk_db_rollback(db);
    struct tk_account a;
    TK_CHECK_INT(tk_store_account_find(db, "Acme", &a, &err), TK_ENOTFOUND);
    size_t n = 9;
    int64_t ids[4];
    TK_CHECK_INT(tk_store_item_due(db, 1000, ids, 4, &n, &err), 0);
    TK_CHECK_INT(n, 0);
    tk_db_close(db);
}

int main(void)
{
    if (tk_store_fixture_init("tk-test-store"))
        return 1;
    TK_RUN(test_accounts);
    TK_RUN(test_contacts);
    TK_RUN(test_items);
    TK_RUN(test_item_each_and_todo_order);
    TK_RUN(test_due);
    TK_RUN(test_dashboard_counts_read_an_index);
    TK_RUN(test_sequence);
    TK_RUN(test_audit);
    TK_RUN(test_outbox_add_and_get);
    TK_RUN(test_outbox_leases);
    TK_RUN(test_outbox_sent_unleased_matches_claim_and_finish);
    TK_RUN(test_outbox_id_runs_as_in_lists);
    TK_RUN(test_outbox_each);
    TK_RUN(test_rollback_leaves_nothing);
    tk_store_fixture_done();
    return tk_test_done();
}
