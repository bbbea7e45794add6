/*
 * test_remind_reads.c - the scheduler reads an account's contacts and each
 * recipient's first Message-ID once per reminder (issue 17, tick.c); each
 * read it saves must give what the read it replaces gave:
 *
 *  - the notify-on recipients taken from the list of every contact
 *    (tk_engine_contacts_notify_on) equal tk_store_contact_list's
 *    notify-on list, entry for entry, with suppressed addresses (one in
 *    capitals), notify off, and an account whose every notify-on contact
 *    is suppressed;
 *  - "the reminder waits" from that list (tk_engine_reminder_waits_in)
 *    equals tk_engine_reminder_waits, which reads the contacts itself;
 *  - the first Message-IDs the split hands to the renderer equal the
 *    lookups, and a message rendered with them is byte-identical (its own
 *    random Message-ID line aside) to one rendered with the lookups: the
 *    same In-Reply-To and References threading;
 *  - the Date header the renderer takes from the engine's memo
 *    (tk_engine_date_header, made once per zone and clock) equals
 *    tk_calendar_format_date_header's, for several zones (whole, half and
 *    three-quarter hour offsets, both sides of a DST change) with the
 *    clock moved back and forth between calendars;
 *  - a webhook event (tk_webhook_emit) is written whenever a subscription
 *    exists, though the scheduler no longer reads the webhooks table again
 *    inside a transaction that found it empty: a webhook added in that
 *    transaction, one added by another connection between transactions,
 *    and one removed in a savepoint that is rolled back are all seen.
 *
 *  - a message rendered from only the variables its section's subject and
 *    body use (render.c) is byte-identical (Message-IDs aside) to one
 *    rendered with every variable made (the path before, the engine's
 *    render_all_vars): a template that uses every kind of variable (the
 *    due date's days and words, the fields' TYPE.NAME, the numbers, the
 *    firm's and the account's, a {{#}} and a {{^}} section, a name nobody
 *    sets), one with more names than the list holds, one with no tag, one
 *    subject only, on and past the due date.
 *
 * SQLite only (the fixture's second connection reads the file); the reads
 * themselves go through the store API that unit.test_store checks on both
 * stores.
 */
/* the fixture defines helpers for other tests too */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tk_engine_fixture.h"

static void same_contacts(const struct tk_contacts *a, const struct tk_contacts *b)
{
    TK_CHECK_INT(a->n, b->n);
    for (size_t i = 0; i < a->n && i < b->n; i++) {
        const struct tk_contact *x = &a->v[i], *y = &b->v[i];
        TK_CHECK_INT(x->id, y->id);
        TK_CHECK_INT(x->account_id, y->account_id);
        TK_CHECK_STR(x->email, y->email);
        TK_CHECK((!x->name && !y->name) || (x->name && y->name && !strcmp(x->name, y->name)));
        TK_CHECK_INT(x->notify, y->notify);
        TK_CHECK(!x->suppressed_reason && !y->suppressed_reason);
        TK_CHECK_INT(x->suppressed_at, y->suppressed_at);
    }
}

/* Both ways for ACCOUNT: the notify-on lists, and whether a reminder of
 * its item ITEM waits (*WAITS). */
static void both_ways(int64_t account, int64_t item, int *waits)
{
    struct tk_error err = {0};
    struct tk_contacts all = {0}, on = {0}, view = {0};
    struct tk_item a, b;
    int wa = -1, wb = -2;
    TK_CHECK_INT(tk_store_contact_list(eng->db, account, 1, &on, &err), 0);
    TK_CHECK_INT(tk_store_contact_list(eng->db, account, 0, &all, &err), 0);
    TK_CHECK_INT(tk_engine_contacts_notify_on(&all, &view, &err), 0);
    same_contacts(&on, &view);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    TK_CHECK_INT(tk_store_item_get(eng->db, item, &a, &err), 0);
    TK_CHECK_INT(tk_store_item_get(eng->db, item, &b, &err), 0);
    /* each in a savepoint rolled back: a waiting reminder writes */
    TK_CHECK_INT(tk_db_savepoint(eng->db, "t", &err), 0);
    TK_CHECK_INT(tk_engine_reminder_waits(eng, &a, &wa, &err), 0);
    TK_CHECK_INT(tk_db_rollback_to(eng->db, "t", &err), 0);
    TK_CHECK_INT(tk_engine_reminder_waits_in(eng, &b, &all, &wb, &err), 0);
    TK_CHECK_INT(tk_db_rollback_to(eng->db, "t", &err), 0);
    TK_CHECK_INT(tk_db_release(eng->db, "t", &err), 0);
    TK_CHECK_INT(wa, wb);
    TK_CHECK_INT(a.rem.next_at, b.rem.next_at);
    *waits = wa;
    tk_item_free(&a);
    tk_item_free(&b);
    tk_engine_contacts_view_free(&view);
    tk_contacts_free(&all);
    tk_contacts_free(&on);
}

static int64_t first_item(int64_t account)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT MIN(id) FROM items WHERE account_id = %lld",
             (long long)account);
    return count(sql);
}

TK_TEST(notify_on_from_every_contact)
{
    struct tk_error err = {0};
    struct tk_send_req rq = {.type = "approval", .reminders = 1, .every_days = 3, .count = 1};
    int64_t other = 0, id = 0;
    int waits = -1;

    TK_CHECK_INT(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err), 0);
    /* Acme: ann, bob on, cy off (fixture); dee on in capitals and
     * suppressed in lower case, eve off and suppressed, bob suppressed */
    TK_CHECK_INT(
        tk_store_contact_add(eng->db, account_id, "Dee@Acme.EXAMPLE", NULL, 1, T0, NULL, &err), 0);
    TK_CHECK_INT(
        tk_store_contact_add(eng->db, account_id, "eve@acme.example", "Eve", 0, T0, NULL, &err), 0);
    TK_CHECK_INT(tk_store_suppression_add(eng->db, "dee@acme.example", "hard bounce", "dsn", 0, T0,
                                          NULL, &err),
                 0);
    TK_CHECK_INT(tk_store_suppression_add(eng->db, "eve@acme.example", "hard bounce", "dsn", 0, T0,
                                          NULL, &err),
                 0);
    TK_CHECK_INT(tk_store_suppression_add(eng->db, "bob@acme.example", "complaint", "imap", 0,
                                          T0 + 5, NULL, &err),
                 0);
    /* Gone BV: its only notify-on contact suppressed, one off */
    TK_CHECK_INT(tk_store_account_add(eng->db, "Gone BV", "en", T0, &other, &err), 0);
    TK_CHECK_INT(tk_store_contact_add(eng->db, other, "zed@gone.example", "Zed", 1, T0, NULL, &err),
                 0);
    TK_CHECK_INT(tk_store_contact_add(eng->db, other, "yo@gone.example", "Yo", 0, T0, NULL, &err),
                 0);
    rq.account_id = other;
    rq.title = "Payroll 2026";
    TK_CHECK_INT(tk_engine_send(eng, &rq, &id, &err), 0);
    TK_CHECK_INT(tk_store_suppression_add(eng->db, "zed@gone.example", "hard bounce", "dsn", 0,
                                          T0 + 9, NULL, &err),
                 0);
    both_ways(account_id, first_item(account_id), &waits);
    TK_CHECK_INT(waits, 0);
    both_ways(other, id, &waits);
    TK_CHECK_INT(waits, 1);
    tk_engine_rollback(eng);
}

/* The messages' text without their Message-ID lines (random each time). */
static void drop_message_ids(struct tk_buf *b)
{
    char *p, *end;
    int n = 0;
    while (b->data && (p = strstr(b->data, "\nMessage-ID:")) && (end = strchr(p + 1, '\n'))) {
        memmove(p, end, strlen(end) + 1);
        n++;
    }
    b->len = b->data ? strlen(b->data) : 0;
    TK_CHECK(n >= 2);
}

static int keep_message(void *u, const struct tk_contact *c, const char *subject,
                        const char *message)
{
    (void)c;
    (void)subject;
    struct tk_buf *b = u;
    return tk_buf_puts(b, message) || tk_buf_puts(b, "\n--\n");
}

TK_TEST(firsts_as_looked_up)
{
    struct tk_error err = {0};
    struct tk_contacts all = {0}, on = {0}, fresh = {0}, known = {0}, f2 = {0}, k2 = {0};
    struct tk_account acc = {0};
    struct tk_item it;
    struct tk_render_req rq;
    struct tk_buf with = {0}, without = {0};
    char **firsts = NULL, first[256];
    const struct tk_plugin *p;
    int64_t item = first_item(account_id);

    memset(&it, 0, sizeof it);
    TK_CHECK_INT(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err), 0);
    /* a contact added after the item's notification: fresh */
    TK_CHECK_INT(
        tk_store_contact_add(eng->db, account_id, "fay@acme.example", "Fay", 1, T0, NULL, &err), 0);
    TK_CHECK_INT(tk_store_item_get(eng->db, item, &it, &err), 0);
    TK_CHECK_INT(tk_store_account_get(eng->db, account_id, &acc, &err), 0);
    TK_CHECK_INT(tk_store_contact_list(eng->db, account_id, 0, &all, &err), 0);
    TK_CHECK_INT(tk_engine_contacts_notify_on(&all, &on, &err), 0);
    TK_CHECK_INT(tk_engine_recipients_split(eng, &it, &on, &f2, &k2, &err), 0);
    TK_CHECK_INT(tk_engine_recipients_split_ids(eng, &it, &on, &fresh, &known, &firsts, &err), 0);
    same_contacts(&fresh, &f2);
    same_contacts(&known, &k2);
    TK_CHECK_INT(fresh.n, 1);
    TK_CHECK(known.n >= 2);
    for (size_t i = 0; firsts && i < known.n; i++) {
        TK_CHECK_INT(tk_store_outbox_first_message_id(eng->db, item, known.v[i].email, first,
                                                      sizeof first, &err),
                     0);
        TK_CHECK(first[0] != '\0');
        TK_CHECK_STR(firsts[i], first);
    }
    TK_CHECK((p = tk_engine_type(eng, it.type, &err)) != NULL);
    memset(&rq, 0, sizeof rq);
    rq.plugin = p;
    rq.it = &it;
    rq.account = &acc;
    rq.kind = "reminder";
    rq.section = "reminder";
    rq.step = 1;
    rq.auto_submitted = 1;
    if (p) {
        TK_CHECK_INT(tk_render_preview(eng, &rq, &known, 1, keep_message, &without, &err), 0);
        rq.firsts = firsts;
        TK_CHECK_INT(tk_render_preview(eng, &rq, &known, 1, keep_message, &with, &err), 0);
    }
    TK_CHECK(with.data && strstr(with.data, "In-Reply-To:"));
    drop_message_ids(&with);
    drop_message_ids(&without);
    TK_CHECK_STR(with.data, without.data);
    tk_engine_rollback(eng);
    tk_buf_free(&with);
    tk_buf_free(&without);
    tk_engine_first_ids_free(firsts, known.n);
    tk_engine_recipients_split_free(&fresh, &known);
    tk_engine_recipients_split_free(&f2, &k2);
    tk_engine_contacts_view_free(&on);
    tk_contacts_free(&all);
    tk_item_free(&it);
    tk_account_free(&acc);
}

/* The memo of each cached calendar against the formatter it replaces. */
TK_TEST(date_header_as_formatted)
{
    static const char *const zones[] = {
        NULL, "UTC", "America/New_York", "Asia/Kolkata", "Australia/Eucla", "Europe/Amsterdam"};
    /* 2026-12-01 09:00Z, then the US and EU changes of 2027 (each side) */
    static const tk_time times[] = {T0,         T0,         T0 + 1,     1805007599, 1805007600,
                                    1805007601, 1806195599, 1806195600, T0,         T0 - 86400};
    const size_t nz = sizeof zones / sizeof *zones;
    struct tk_error err = {0};
    for (size_t r = 0; r < 3; r++)
        for (size_t k = 0; k < sizeof times / sizeof *times; k++)
            for (size_t z = 0; z < nz; z++) {
                /* R 1 walks the zones backwards: another calendar between two
                 * asks of one */
                struct tk_account acc = {0};
                const struct tk_calendar *cal = NULL;
                char memo[TK_CALENDAR_DATE_HEADER_MAX], direct[TK_CALENDAR_DATE_HEADER_MAX];
                acc.timezone = (char *)zones[r == 1 ? nz - 1 - z : z];
                TK_CHECK_INT(tk_engine_calendar_for(eng, &acc, &cal, &err), 0);
                if (!cal)
                    continue;
                memset(memo, 'x', sizeof memo);
                TK_CHECK_INT(tk_engine_date_header(eng, cal, times[k], memo, sizeof memo, &err), 0);
                TK_CHECK_INT(
                    tk_calendar_format_date_header(cal, times[k], direct, sizeof direct, &err), 0);
                TK_CHECK_STR(memo, direct);
            }
    /* a calendar the cache did not make is formatted, not remembered */
    struct tk_calendar_spec spec = {"Asia/Kolkata", "always", "none", NULL};
    struct tk_calendar *own = NULL;
    char a[TK_CALENDAR_DATE_HEADER_MAX], b[TK_CALENDAR_DATE_HEADER_MAX];
    TK_CHECK_INT(tk_calendar_new(&spec, &own, &err), 0);
    if (own) {
        TK_CHECK_INT(tk_engine_date_header(eng, own, T0, a, sizeof a, &err), 0);
        TK_CHECK_INT(tk_calendar_format_date_header(own, T0, b, sizeof b, &err), 0);
        TK_CHECK_STR(a, b);
        TK_CHECK_STR(a, "Tue, 01 Dec 2026 14:30:00 +0530");
    }
    tk_calendar_free(own);
}

/* Webhook events about ITEM in the open transaction's outbox. */
static int64_t events_of(int64_t item)
{
    struct tk_error err = {0};
    int64_t n = -1;
    TK_CHECK_INT(tk_db_int(eng->db, &n, &err,
                           "SELECT count(*) FROM outbox WHERE kind = 'webhook:reminder.sent' "
                           "AND item_id = ?",
                           "i", item),
                 0);
    return n;
}

static void emit(int64_t item)
{
    struct tk_error err = {0};
    TK_CHECK_INT(tk_webhook_emit(eng, eng->db, "reminder.sent", item, &err), 0);
}

TK_TEST(webhooks_seen_as_read)
{
    struct tk_error err = {0};
    int64_t item = first_item(account_id), hook = 0, before;
    sqlite3 *other = NULL;

    TK_CHECK_INT(tk_db_tx_serial(eng->db), 0); /* outside a transaction */
    /* none, then one added in the same transaction */
    TK_CHECK_INT(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err), 0);
    uint64_t s1 = tk_db_tx_serial(eng->db);
    TK_CHECK(s1 != 0);
    before = events_of(item);
    emit(item);
    emit(item);
    TK_CHECK_INT(events_of(item), before);
    TK_CHECK_INT(tk_db_tx_serial(eng->db), s1);
    TK_CHECK_INT(tk_engine_webhook_add(eng, "https://hooks.example/a", "reminder.sent", "s3cret",
                                       &hook, &err),
                 0);
    TK_CHECK(tk_db_tx_serial(eng->db) != s1);
    emit(item);
    TK_CHECK_INT(events_of(item), before + 1);
    tk_engine_rollback(eng);

    /* none in one transaction; another connection adds one; the next
     * transaction sees it */
    TK_CHECK_INT(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err), 0);
    emit(item);
    TK_CHECK_INT(events_of(item), before);
    TK_CHECK_INT(tk_engine_commit(eng, &err), 0);
    TK_CHECK_INT(sqlite3_open_v2(dbpath, &other, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(other, 2000);
    TK_CHECK_INT(sqlite3_exec(other,
                              "INSERT INTO webhooks (url, events, secret, created_at) VALUES "
                              "('https://hooks.example/b', 'reminder.sent', 'x', 0)",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(other);
    TK_CHECK_INT(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err), 0);
    hook = 0;
    TK_CHECK_INT(tk_db_int(eng->db, &hook, &err, "SELECT max(id) FROM webhooks", ""), 0);
    emit(item);
    TK_CHECK_INT(events_of(item), before + 1);

    /* removed in a savepoint: none there; rolled back: seen again */
    TK_CHECK_INT(tk_db_savepoint(eng->db, "w", &err), 0);
    TK_CHECK_INT(tk_engine_webhook_remove(eng, hook, &err), 0);
    emit(item);
    TK_CHECK_INT(events_of(item), before); /* the removal dropped its queued event */
    TK_CHECK_INT(tk_db_rollback_to(eng->db, "w", &err), 0);
    TK_CHECK_INT(tk_db_release(eng->db, "w", &err), 0);
    emit(item);
    TK_CHECK_INT(events_of(item), before + 2);
    tk_engine_rollback(eng);
}

/* FILE (under the catalog DIR/en/approval) holding TEXT. */
static void write_template(const char *root, const char *name, const char *text)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/en/approval/%s.tmpl", root, name);
    TK_CHECK((f = fopen(path, "w")) != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Every section of template NAME, for the item IT of the fixture's
 * account, rendered both ways: the same bytes. */
static void render_both_ways(struct tk_item *it, const char *name, const char *const *sections,
                             const char *must)
{
    struct tk_error err = {0};
    struct tk_contacts all = {0}, on = {0};
    struct tk_account acc = {0};
    const struct tk_plugin *p;
    char *saved = it->template_name;
    it->template_name = (char *)name;
    TK_CHECK_INT(tk_store_account_get(eng->db, account_id, &acc, &err), 0);
    TK_CHECK_INT(tk_store_contact_list(eng->db, account_id, 0, &all, &err), 0);
    TK_CHECK_INT(tk_engine_contacts_notify_on(&all, &on, &err), 0);
    TK_CHECK((p = tk_engine_type(eng, it->type, &err)) != NULL);
    for (size_t i = 0; p && sections[i]; i++) {
        struct tk_render_req rq;
        struct tk_buf used = {0}, every = {0};
        memset(&rq, 0, sizeof rq);
        rq.plugin = p;
        rq.it = it;
        rq.account = &acc;
        rq.kind = "reminder";
        rq.section = sections[i];
        rq.step = 1;
        rq.auto_submitted = 1;
        rq.message = "a note from the office";
        eng->render_all_vars = 0;
        TK_CHECK_INT(tk_render_preview(eng, &rq, &on, 1, keep_message, &used, &err), 0);
        eng->render_all_vars = 1;
        TK_CHECK_INT(tk_render_preview(eng, &rq, &on, 1, keep_message, &every, &err), 0);
        eng->render_all_vars = 0;
        TK_CHECK(used.data && every.data);
        drop_message_ids(&used);
        drop_message_ids(&every);
        TK_CHECK_STR(used.data ? used.data : "", every.data ? every.data : "");
        if (must && i == 0)
            TK_CHECK(used.data && strstr(used.data, must));
        tk_buf_free(&used);
        tk_buf_free(&every);
    }
    it->template_name = saved;
    tk_engine_contacts_view_free(&on);
    tk_contacts_free(&all);
    tk_account_free(&acc);
}

TK_TEST(vars_used_as_every_var)
{
    struct tk_error err = {0};
    struct tk_catalog *cat = NULL, *saved = eng->catalog;
    struct tk_item it;
    char root[300], sub[400];
    tk_time now = eng->now;
    snprintf(root, sizeof root, "%s/tmpl", dir);
    snprintf(sub, sizeof sub, "%s/tmpl/en/approval", dir);
    TK_CHECK(mkdir(root, 0700) == 0);
    snprintf(root, sizeof root, "%s/tmpl/en", dir);
    TK_CHECK(mkdir(root, 0700) == 0);
    TK_CHECK(mkdir(sub, 0700) == 0);
    snprintf(root, sizeof root, "%s/tmpl", dir);
    write_template(root, "every",
                   "[reminder]\nSubject: {{item.title}} for {{account.name}} ({{reminder.number}}/"
                   "{{reminder.count}})\n\n"
                   "Dear {{contact.name}} <{{contact.email}}>,\n{{firm.name}} {{firm.portal_url}} "
                   "{{message}}\nitem {{item.id}} {{item.type}} sent {{item.sent_date}} left "
                   "{{reminder.remaining}}\ndue {{item.due_text}} in {{item.days_to_due}} days"
                   "{{#item.overdue}}, {{item.days_overdue}} days late{{/item.overdue}}"
                   "{{^item.overdue}}, not late{{/item.overdue}}\n"
                   "amount {{approval.amount}} on {{approval.due_date}} {{nobody.sets_this}}\n"
                   "[resend]\nSubject: again {{item.title}}\n\nno tag at all\n"
                   "[notification]\nSubject: only {{item.title}} {{approval.amount}}\n\n\n");
    {
        /* more names than the list holds (32): every variable, as before */
        struct tk_buf t = {0};
        TK_CHECK_INT(tk_buf_puts(&t, "[reminder]\nSubject: {{item.title}}\n\n"), 0);
        for (int i = 0; i < 40; i++)
            TK_CHECK_INT(tk_buf_printf(&t, "{{item.due_text}} {{reminder.number}}\n"), 0);
        write_template(root, "many", t.data ? t.data : "");
        tk_buf_free(&t);
    }
    TK_CHECK_INT(tk_catalog_open(root, &cat, &err), 0);
    memset(&it, 0, sizeof it);
    TK_CHECK_INT(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_store_item_get(eng->db, first_item(account_id), &it, &err), 0);
    TK_CHECK_INT(tk_kv_set(&it.fields, "amount", "450.00"), 0);
    TK_CHECK_INT(tk_kv_set(&it.fields, "due_date", "2026-12-31"), 0);
    it.rem.sent = 1;
    it.rem.count = 3;
    if (cat) {
        static const char *const every[] = {"reminder", "resend", "notification", NULL};
        static const char *const one[] = {"reminder", NULL};
        eng->catalog = cat;
        render_both_ways(&it, "every", every, "31 December 2026 in 30 days, not late");
        render_both_ways(&it, "many", one, "31 December 2026 1\r\n");
        eng->now = now + 40 * TK_DAY; /* past the due date: the {{#}} section */
        render_both_ways(&it, "every", every, "days late");
        eng->now = now;
        eng->catalog = saved;
    }
    tk_engine_rollback(eng);
    tk_catalog_close(cat);
    tk_item_free(&it);
}

int main(void)
{
    if (setup()) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    TK_RUN(notify_on_from_every_contact);
    TK_RUN(firsts_as_looked_up);
    TK_RUN(date_header_as_formatted);
    TK_RUN(webhooks_seen_as_read);
    TK_RUN(vars_used_as_every_var);
    teardown();
    return tk_test_done();
}
