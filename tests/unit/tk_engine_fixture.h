/*
 * tk_engine_fixture.h - a real engine on a temporary SQLite store for the
 * fault-injection tests: the real item plugins ($TK_PLUGIN_DIR), the real
 * templates ($TK_SOURCE_DIR/etc/templates), the file transport (fsync =
 * off: its flushes are no store call, and were most of test_fault_store's
 * time), and a second read-only sqlite3 connection that sees what was
 * committed.
 *
 * Seeded with account "Acme BV" (en), two notify-on contacts and one that
 * is off, and two pending approvals with reminders on.  Include in one file
 * per test: it defines static state.
 */
#ifndef TK_ENGINE_FIXTURE_H
#define TK_ENGINE_FIXTURE_H

#define _GNU_SOURCE 1
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/internal.h" /* sets the engine up by hand */
#include "tk_test.h"

#define T0 ((tk_time)1796115600) /* 2026-12-01T09:00:00Z */

static struct tk_engine *eng;
static sqlite3 *peek, *saved_store;
static char dir[256], dbpath[300];
static int64_t account_id, invoice_id;
static struct tk_kv invoice_fields; /* built once: the test's own allocations */

/* Every row of every table, in rowid order, as text: two snapshots are equal
 * exactly when the stored data is. */
static void snapshot(struct tk_buf *out)
{
    sqlite3_stmt *tables = NULL, *rows;
    tk_buf_reset(out);
    TK_CHECK_INT(sqlite3_prepare_v2(peek,
                                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                                    "ORDER BY name",
                                    -1, &tables, NULL),
                 SQLITE_OK);
    while (tables && sqlite3_step(tables) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(tables, 0);
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY rowid", name);
        tk_buf_printf(out, "[%s]\n", name);
        if (sqlite3_prepare_v2(peek, sql, -1, &rows, NULL) != SQLITE_OK) {
            TK_CHECK(!"snapshot query");
            continue;
        }
        while (sqlite3_step(rows) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(rows); c++) {
                /* the real time an audit entry was written: differs from
                 * run to run by nature */
                if (strcmp(sqlite3_column_name(rows, c), "recorded_at") == 0)
                    continue;
                const unsigned char *v = sqlite3_column_text(rows, c);
                tk_buf_printf(out, "%d:%s|", sqlite3_column_type(rows, c),
                              v ? (const char *)v : "");
            }
            tk_buf_putc(out, '\n');
        }
        sqlite3_finalize(rows);
    }
    sqlite3_finalize(tables);
}

static long long count(const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(peek, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        fprintf(stderr, "query failed: %s: %s\n", sql, sqlite3_errmsg(peek));
    sqlite3_finalize(st);
    return n;
}

/* ---- fixture ------------------------------------------------------------- */

static void quiet(void *u, const char *msg)
{
    (void)u;
    (void)msg;
}

static int setup(void)
{
    struct tk_error err = {0};
    const char *plugins = getenv("TK_PLUGIN_DIR"), *src = getenv("TK_SOURCE_DIR");
    char ini[300];
    FILE *f;
    struct tk_send_req rq = {.type = "approval", .reminders = 1, .every_days = 3, .count = 1};
    int64_t id;

    if (!plugins || !src) {
        fprintf(stderr, "TK_PLUGIN_DIR and TK_SOURCE_DIR must be set (ctest sets them)\n");
        return 1;
    }
    /* $TMPDIR if set (a tmpfs keeps concurrent runs off a slow disk) */
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/tk_fault_store.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return 1;
    snprintf(dbpath, sizeof dbpath, "%s/tk.db", dir);
    snprintf(ini, sizeof ini, "%s/tickler.ini", dir);
    if (!(f = fopen(ini, "w")))
        return 1;
    fprintf(f,
            "[store]\npath = %s\n\n[transport]\nplugin = file\ndir = %s/spool\nfsync = off\n"
            "from = Bakker & Co <office@bakker.example>\n\n"
            "[firm]\nname = Bakker & Co\n\n[scheduler]\nbatch_size = 1000\n\n"
            "[plugins]\ndir = %s\n\n[templates]\ndir = %s/etc/templates\n",
            dbpath, dir, plugins, src);
    fclose(f);
    if (tk_engine_open(&eng, ini, T0, 0, &err)) {
        fprintf(stderr, "engine: %s\n", err.msg);
        return 1;
    }
    eng->warn = quiet;
    if (sqlite3_open_v2(dbpath, &peek, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return 1;
    sqlite3_busy_timeout(peek, 2000);

    /* seed without faults: an account, two notify-on contacts, one that is
     * off, and two pending approvals for the bulk request */
    if (tk_engine_begin(eng, TK_TX_IMMEDIATE, &err) ||
        tk_store_account_add(eng->db, "Acme BV", "en", T0, &account_id, &err) ||
        tk_store_contact_add(eng->db, account_id, "ann@acme.example", "Ann \xc3\x85str\xc3\xb6m", 1,
                             T0, NULL, &err) ||
        tk_store_contact_add(eng->db, account_id, "bob@acme.example", "Bob", 1, T0, NULL, &err) ||
        tk_store_contact_add(eng->db, account_id, "cy@acme.example", "Cy", 0, T0, NULL, &err))
        goto fail;
    rq.account_id = account_id;
    if (tk_kv_set(&invoice_fields, "amount", "450.00") ||
        tk_kv_set(&invoice_fields, "currency", "EUR") ||
        tk_kv_set(&invoice_fields, "due_date", "2026-12-31"))
        goto fail;
    rq.title = "Annual accounts 2026";
    if (tk_engine_send(eng, &rq, &id, &err))
        goto fail;
    rq.title = "Tax return 2026";
    if (tk_engine_send(eng, &rq, &id, &err) || tk_engine_commit(eng, &err))
        goto fail;
    return 0;
fail:
    fprintf(stderr, "seed: %s\n", err.msg);
    tk_engine_rollback(eng);
    return 1;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    sqlite3_close(peek);
    sqlite3_close(saved_store);
    tk_kv_free(&invoice_fields);
    tk_engine_close(eng);
    if (dir[0] && nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* The length of a Message-ID tickler makes at P (N bytes) up to its "@",
 * 0 for anything else: "<" time "." 5-digit count "." 26 base-32 digits
 * "@", or the older "<" 32 hex "." time "@" (tk_mail_message_id). */
static inline size_t own_message_id(const char *p, size_t n)
{
    size_t k = 1, t;
    if (n < 2 || p[0] != '<')
        return 0;
    while (k <= 32 && k < n && p[k] && strchr("0123456789abcdef", p[k]))
        k++;
    if (k == 33 && k < n && p[k] == '.')
        return k;
    for (k = 1; k < n && k <= 8 && p[k] && strchr("0123456789abcdefghijklmnopqrstuvwxyz", p[k]);)
        k++;
    if (k < 2 || k > 8 || k >= n || p[k] != '.')
        return 0;
    for (t = ++k;
         k < n && k < t + 5 && p[k] && strchr("0123456789abcdefghijklmnopqrstuvwxyz", p[k]);)
        k++;
    if (k != t + 5 || k >= n || p[k] != '.')
        return 0;
    for (t = ++k; k < n && k < t + 26 && p[k] && strchr("0123456789abcdefghijklmnopqrstuv", p[k]);)
        k++;
    return k == t + 26 && k < n && p[k] == '@' ? k : 0;
}

/* Message-IDs are random (own_message_id): replace each with "<ID>" so
 * that two runs of the same command compare equal. */
static inline void mask_message_ids(struct tk_buf *b)
{
    size_t r = 0, w = 0;
    while (r < b->len) {
        if (own_message_id(b->data + r, b->len - r)) {
            const char *gt = memchr(b->data + r, '>', b->len - r);
            if (gt) {
                memcpy(b->data + w, "<ID>", 4);
                w += 4;
                r = (size_t)(gt - b->data) + 1;
                continue;
            }
        }
        b->data[w++] = b->data[r++];
    }
    b->len = w;
    if (b->data)
        b->data[w] = '\0';
}

/* Copy the whole store aside (sqlite3 backup into memory) and back, for
 * undoing a command that committed.  The engine must have no transaction
 * open. */
static inline int save_store(void)
{
    sqlite3_backup *bk;
    int rc;
    if (!saved_store && sqlite3_open(":memory:", &saved_store) != SQLITE_OK)
        return 1;
    if (!(bk = sqlite3_backup_init(saved_store, "main", peek, "main")))
        return 1;
    rc = sqlite3_backup_step(bk, -1);
    sqlite3_backup_finish(bk);
    return rc != SQLITE_DONE;
}

static inline int restore_store(void)
{
    sqlite3 *rw;
    sqlite3_backup *bk;
    int rc = 1;
    if (sqlite3_open_v2(dbpath, &rw, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(rw);
        return 1;
    }
    sqlite3_busy_timeout(rw, 2000);
    if ((bk = sqlite3_backup_init(rw, "main", saved_store, "main"))) {
        rc = sqlite3_backup_step(bk, -1) != SQLITE_DONE;
        sqlite3_backup_finish(bk);
    }
    sqlite3_close(rw);
    return rc;
}

/* The operations under test: each runs in the caller's transaction except
 * op_schedule (its own, in batches). */
typedef int (*op_fn)(struct tk_error *err);

/* ---- the operations ----------------------------------------------------- */

static int op_send_invoice(struct tk_error *err)
{
    struct tk_send_req rq = {.type = "invoice",
                             .title = "Invoice Q4 \xe2\x82\xac",
                             .reminders = 1,
                             .every_days = 3,
                             .count = 2};
    rq.account_id = account_id;
    rq.fields = &invoice_fields;
    return tk_engine_send(eng, &rq, &invoice_id, err);
}

static int op_resend(struct tk_error *err)
{
    return tk_engine_resend(eng, invoice_id, err);
}

static int op_set_reminders(struct tk_error *err)
{
    return tk_engine_set_reminders(eng, invoice_id, 1, 2, 3, err);
}

static int op_event_paid(struct tk_error *err)
{
    return tk_engine_event(eng, invoice_id, "paid", err);
}

static int op_bulk(struct tk_error *err)
{
    int n = 0;
    int rc =
        tk_engine_bulk(eng, "request-approvals", account_id, "Please see both, thanks!", &n, err);
    if (!rc && n != 2)
        fprintf(stderr, "bulk covered %d items\n", n);
    return rc;
}

static size_t scheduled;
static int op_schedule(struct tk_error *err)
{
    return tk_engine_schedule(eng, &scheduled, err);
}

#endif
