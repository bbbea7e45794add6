/*
 * items.c - action items, their fields, the to-do order and the reminder
 * schedule.
 *
 * "None" in C (job_id 0, completed_at 0, last_mail_at 0, next_at 0) is SQL
 * NULL in the table, bound with 'z': that keeps the partial index items_due
 * down to the items that actually have a reminder scheduled, so the
 * scheduler's cost follows what is due, not how many items exist.
 */
#include "store/store.h"
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

#define ITEM_COLS                                                                                  \
    "SELECT id, type, account_id, job_id, title, template, state, archived, created_at, "          \
    "completed_at, resends, todo_seq, rem_enabled, rem_every_days, rem_count, rem_sent, "          \
    "last_mail_at, next_at, fail_count, hold_since, hold_until, hold_reason, rem_schedule FROM "   \
    "items "

/* R's anchored schedule as the rem_schedule column's text in BUF, or NULL
 * (SQL NULL) when it has none. */
static const char *sched_text(const struct tk_reminders *r, char *buf)
{
    if (r->nsched <= 0)
        return NULL;
    return tk_schedule_text_format(r->sched, r->nsched, buf, TK_SCHEDULE_TEXT_MAX);
}

void tk_item_free(struct tk_item *it)
{
    if (!it)
        return;
    free(it->type);
    free(it->title);
    free(it->template_name);
    free(it->state);
    tk_kv_free(&it->fields);
    free(it->hold.reason);
    memset(it, 0, sizeof *it);
}

/* The row at CUR (ITEM_COLS order) into IT, without fields. */
static int read_item(struct tk_cursor *cur, struct tk_item *it, struct tk_error *err)
{
    int oom = 0;
    memset(it, 0, sizeof *it);
    it->id = tk_cursor_int(cur, 0);
    it->type = tk_store_col_dup(cur, 1, &oom);
    it->account_id = tk_cursor_int(cur, 2);
    it->job_id = tk_cursor_int(cur, 3);
    it->title = tk_store_col_dup(cur, 4, &oom);
    it->template_name = tk_store_col_dup(cur, 5, &oom);
    it->state = tk_store_col_dup(cur, 6, &oom);
    it->archived = tk_cursor_int(cur, 7) != 0;
    it->created_at = tk_cursor_int(cur, 8);
    it->completed_at = tk_cursor_int(cur, 9);
    it->resends = (int)tk_cursor_int(cur, 10);
    it->todo_seq = tk_cursor_int(cur, 11);
    it->rem.enabled = tk_cursor_int(cur, 12) != 0;
    it->rem.every_days = (int)tk_cursor_int(cur, 13);
    it->rem.count = (int)tk_cursor_int(cur, 14);
    it->rem.sent = (int)tk_cursor_int(cur, 15);
    it->rem.last_mail_at = tk_cursor_int(cur, 16);
    it->rem.next_at = tk_cursor_int(cur, 17);
    it->fail_count = (int)tk_cursor_int(cur, 18);
    it->hold.since = tk_cursor_int(cur, 19);
    it->hold.until = tk_cursor_int(cur, 20);
    it->hold.reason = tk_store_col_dup(cur, 21, &oom);
    const char *sched = tk_cursor_text(cur, 22); /* NULL: every N days */
    if (sched && *sched &&
        tk_schedule_text_parse(sched, it->rem.sched, TK_SCHEDULE_MAX, TK_SCHEDULE_LIMIT,
                               &it->rem.nsched, NULL) != 0)
        it->rem.nsched = 0; /* written by sched_text: cannot happen */
    if (oom) {
        tk_item_free(it);
        return tk_error_set(err, TK_ENOMEM, "store: out of memory");
    }
    return 0;
}

static int load_page_fields(struct tk_db *db, struct tk_item *v, size_t n, struct tk_error *err);
static int load_one_fields(struct tk_db *db, struct tk_item *it, struct tk_error *err);

/* IT's fields in (pos, name) order, as load_page_fields reads a page's:
 * for one item without the page's IN list and id lookup (an item read:
 * each write through the API, each reminder).
 * test_db_contract's one_item_reads_as_a_page_reads_them holds the two
 * to the same fields in the same order on every driver. */
static int load_fields(struct tk_db *db, struct tk_item *it, struct tk_error *err)
{
    return it->fields.n ? load_page_fields(db, it, 1, err) : load_one_fields(db, it, err);
}

int tk_store_item_insert(struct tk_db *db, struct tk_item *it, tk_time now, struct tk_error *err)
{
    if (!it->type || !*it->type || !it->template_name || !*it->template_name)
        return tk_error_set(err, TK_EINVAL, "item needs a type and a template");
    int rc;
    /* A new item goes on top of the to-do list unless the caller chose. */
    if (it->todo_seq == 0 && (rc = tk_store_sequence_next(db, "todo", &it->todo_seq, err)) != 0)
        return rc;
    int64_t id = 0;
    char sbuf[TK_SCHEDULE_TEXT_MAX];
    rc = tk_db_insert(
        db, &id, err,
        "INSERT INTO items (type, account_id, job_id, title, template, state, "
        "archived, created_at, completed_at, resends, todo_seq, rem_enabled, "
        "rem_every_days, rem_count, rem_sent, last_mail_at, next_at, rem_schedule) "
        "VALUES (?, ?, ?, ?, ?, COALESCE(?, 'pending'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?)",
        "sizsssiiziiiiiizzs", it->type, it->account_id, it->job_id, it->title, it->template_name,
        it->state, (int64_t)(it->archived != 0), (int64_t)now, (int64_t)it->completed_at,
        (int64_t)it->resends, it->todo_seq, (int64_t)(it->rem.enabled != 0),
        (int64_t)it->rem.every_days, (int64_t)it->rem.count, (int64_t)it->rem.sent,
        (int64_t)it->rem.last_mail_at, (int64_t)it->rem.next_at, sched_text(&it->rem, sbuf));
    if (rc == TK_ECONFLICT)
        return tk_error_set(err, TK_ENOTFOUND, "no account %lld", (long long)it->account_id);
    if (rc != 0)
        return rc;
    it->id = id;
    it->created_at = now;
    for (size_t i = 0; i < it->fields.n; i++) {
        rc = tk_db_exec(db, err,
                        "INSERT INTO item_fields (item_id, name, value, pos) VALUES (?, ?, ?, ?)",
                        "issi", id, it->fields.keys[i], it->fields.vals[i], (int64_t)i);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int tk_store_item_set_hold(struct tk_db *db, const struct tk_item *it, struct tk_error *err)
{
    struct tk_db_value v[5];
    int64_t changed = 0;
    int held = it->hold.since != 0;
    v[0] = tk_db_value_id(held ? it->hold.since : 0);
    v[1] = tk_db_value_id(held ? it->hold.until : 0);
    v[2] = held && it->hold.reason ? tk_db_value_text(it->hold.reason) : tk_db_value_null();
    v[3] = tk_db_value_id(it->rem.next_at); /* NULL keeps it out of items_due */
    v[4] = tk_db_value_int(it->id);
    int rc = tk_db_exec_v(db, err,
                          "UPDATE items SET hold_since = ?, hold_until = ?, hold_reason = ?, "
                          "next_at = ? WHERE id = ?",
                          v, 5);
    if (rc == 0)
        tk_db_changes(db, &changed);
    if (rc == 0 && changed == 0)
        rc = tk_error_set(err, TK_ENOTFOUND, "no item %lld", (long long)it->id);
    return rc;
}

int tk_store_item_field_set(struct tk_db *db, int64_t item, const char *name, const char *value,
                            struct tk_error *err)
{
    if (!name || !*name)
        return tk_error_set(err, TK_EINVAL, "field name is empty");
    if (!value)
        return tk_db_exec(db, err, "DELETE FROM item_fields WHERE item_id = ? AND name = ?", "is",
                          item, name);
    int rc = tk_db_exec(db, err,
                        "INSERT INTO item_fields (item_id, name, value, pos) VALUES (?, ?, ?, "
                        "(SELECT COALESCE(MAX(pos), -1) + 1 FROM item_fields WHERE item_id = ?)) "
                        "ON CONFLICT (item_id, name) DO UPDATE SET value = excluded.value",
                        "issi", item, name, value, item);
    if (rc == TK_ECONFLICT)
        return tk_error_set(err, TK_ENOTFOUND, "no item %lld", (long long)item);
    return rc;
}

int tk_store_item_get(struct tk_db *db, int64_t id, struct tk_item *out, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    memset(out, 0, sizeof *out);
    /* Every change to an item is read-modify-write in the caller's
     * transaction.  Where one write lock serializes writers (SQLite's BEGIN
     * IMMEDIATE) that is enough; where writers run side by side (PostgreSQL
     * at READ COMMITTED) the dialect's lock_rows locks the row, or two nodes
     * changing one item at once would lose an update.  A read-only
     * snapshot (preview, why, export) changes nothing: no lock. */
    char sql[512];
    const char *lock = tk_db_read_only(db) ? "" : tk_db_dialect(db)->lock_rows, *q = sql;
    int rc = 0;
    /* no lock clause (SQLite): the text as it stands, no copy (once per
     * reminder, issue 17) */
    if (!lock || !*lock)
        q = ITEM_COLS "WHERE id = ?";
    else
        rc = tk_store_sql_with(sql, sizeof sql, ITEM_COLS "WHERE id = ?", lock, err);
    if (rc == 0)
        rc = tk_db_query(db, &cur, err, q, "i", id);
    if (rc != 0)
        return rc;
    int r = tk_cursor_next(cur, err);
    if (r < 0)
        rc = err ? err->code : TK_EIO;
    else if (r == 0)
        rc = tk_error_set(err, TK_ENOTFOUND, "no item %lld", (long long)id);
    else
        rc = read_item(cur, out, err);
    tk_cursor_close(cur);
    if (rc == 0 && (rc = load_fields(db, out, err)) != 0)
        tk_item_free(out);
    return rc;
}

int tk_store_item_update(struct tk_db *db, const struct tk_item *it, struct tk_error *err)
{
    char sbuf[TK_SCHEDULE_TEXT_MAX];
    int rc =
        tk_db_exec(db, err,
                   "UPDATE items SET state = ?, completed_at = ?, archived = ?, resends = ?, "
                   "todo_seq = ?, rem_enabled = ?, rem_every_days = ?, rem_count = ?, "
                   "rem_sent = ?, last_mail_at = ?, next_at = ?, rem_schedule = ? "
                   "WHERE id = ?",
                   "sziiiiiiizzsi", it->state ? it->state : "pending", (int64_t)it->completed_at,
                   (int64_t)(it->archived != 0), (int64_t)it->resends, it->todo_seq,
                   (int64_t)(it->rem.enabled != 0), (int64_t)it->rem.every_days,
                   (int64_t)it->rem.count, (int64_t)it->rem.sent, (int64_t)it->rem.last_mail_at,
                   (int64_t)it->rem.next_at, sched_text(&it->rem, sbuf), it->id);
    if (rc != 0)
        return rc;
    int64_t n = 0;
    tk_db_changes(db, &n);
    return n ? 0 : tk_error_set(err, TK_ENOTFOUND, "no item %lld", (long long)it->id);
}

/* Only the columns a reminder changes: an UPDATE that names todo_seq (as
 * tk_store_item_update's does) deletes and reinserts the item's items_todo
 * entry even when the value is the same, one more page written per
 * reminder. */
int tk_store_item_update_reminder(struct tk_db *db, const struct tk_item *it, struct tk_error *err)
{
    int rc = tk_db_exec(db, err,
                        "UPDATE items SET rem_sent = ?, last_mail_at = ?, next_at = ? WHERE id = ?",
                        "izzi", (int64_t)it->rem.sent, (int64_t)it->rem.last_mail_at,
                        (int64_t)it->rem.next_at, it->id);
    if (rc != 0)
        return rc;
    int64_t n = 0;
    tk_db_changes(db, &n);
    return n ? 0 : tk_error_set(err, TK_ENOTFOUND, "no item %lld", (long long)it->id);
}

void tk_item_fault_free(struct tk_item_fault *f)
{
    if (!f)
        return;
    free(f->text);
    memset(f, 0, sizeof *f);
}

int tk_store_item_fault_set(struct tk_db *db, int64_t id, int count, tk_time at, const char *text,
                            tk_time next_at, struct tk_error *err)
{
    int rc;
    if (count > 0)
        rc = tk_db_exec(db, err,
                        "UPDATE items SET fail_count = ?, fail_at = ?, fail_text = ?, next_at = ? "
                        "WHERE id = ?",
                        "iiszi", (int64_t)count, (int64_t)at, text ? text : "", (int64_t)next_at,
                        id);
    else
        rc = tk_db_exec(db, err,
                        "UPDATE items SET fail_count = 0, fail_at = NULL, fail_text = NULL "
                        "WHERE id = ?",
                        "i", id);
    if (rc != 0)
        return rc;
    int64_t n = 0;
    tk_db_changes(db, &n);
    return n ? 0 : tk_error_set(err, TK_ENOTFOUND, "no item %lld", (long long)id);
}

int tk_store_item_fault_get(struct tk_db *db, int64_t id, struct tk_item_fault *out,
                            struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc, r;
    memset(out, 0, sizeof *out);
    if ((rc =
             tk_db_query(db, &cur, err,
                         "SELECT fail_count, fail_at, fail_text FROM items WHERE id = ?", "i", id)))
        return rc;
    if ((r = tk_cursor_next(cur, err)) < 0)
        rc = err ? err->code : TK_EIO;
    else if (r == 0)
        rc = tk_error_set(err, TK_ENOTFOUND, "no item %lld", (long long)id);
    else if ((out->count = (int)tk_cursor_int(cur, 0)) > 0) {
        const char *text = tk_cursor_text(cur, 2);
        out->at = tk_cursor_int(cur, 1);
        if (!(out->text = tk_strdup(text ? text : "")))
            rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
    }
    tk_cursor_close(cur);
    if (rc)
        tk_item_fault_free(out);
    return rc;
}

/* The rows are read completely before the first callback, so a callback may
 * update items (even the columns the scan is ordered by) without the scan
 * seeing a row twice. */
int tk_store_item_each(struct tk_db *db, const struct tk_item_filter *f,
                       int (*fn)(void *u, struct tk_item *it), void *u, struct tk_error *err)
{
    static const struct tk_item_filter none = {0};
    struct tk_buf sql = {0};
    if (!f)
        f = &none;
    /* Each condition adds its `?` and, in the same order, its value. */
    struct tk_db_value vals[5];
    size_t nvals = 0;
    const char *glue = "WHERE ";
    int ok = tk_buf_puts(&sql, ITEM_COLS) == 0;
    if (f->account_id) {
        ok = ok && tk_buf_printf(&sql, "%saccount_id = ? ", glue) == 0;
        vals[nvals++] = tk_db_value_int(f->account_id);
        glue = "AND ";
    }
    if (f->type) {
        ok = ok && tk_buf_printf(&sql, "%stype = ? ", glue) == 0;
        vals[nvals++] = tk_db_value_text(f->type);
        glue = "AND ";
    }
    if (f->job_id) {
        ok = ok && tk_buf_printf(&sql, "%sjob_id = ? ", glue) == 0;
        vals[nvals++] = tk_db_value_int(f->job_id);
        glue = "AND ";
    }
    /* The to-do list is the pending, unarchived items, most recent on top. */
    if (f->pending_only || f->todo_order) {
        ok = ok && tk_buf_printf(&sql, "%sstate = 'pending' AND archived = 0 ", glue) == 0;
        glue = "AND ";
    }
    /* A keyset page: the primary key (or the filter's index, which ends in
     * the rowid) is searched from after_id on, so a page's cost does not
     * grow with how far it is into the list. */
    if (f->after_id && !f->todo_order) {
        ok = ok && tk_buf_printf(&sql, "%sid > ? ", glue) == 0;
        vals[nvals++] = tk_db_value_int(f->after_id);
    }
    ok = ok &&
         tk_buf_puts(&sql, f->todo_order ? "ORDER BY todo_seq DESC, id DESC" : "ORDER BY id") == 0;
    if (f->limit > 0) {
        ok = ok && tk_buf_puts(&sql, " LIMIT ?") == 0;
        vals[nvals++] = tk_db_value_int(f->limit);
    }
    if (!ok) {
        tk_buf_free(&sql);
        return tk_error_set(err, TK_ENOMEM, "store: out of memory");
    }

    struct tk_cursor *cur = NULL;
    int rc = tk_db_query_v(db, &cur, err, sql.data, vals, nvals);
    tk_buf_free(&sql);
    if (rc != 0)
        return rc;

    struct tk_item *v = NULL;
    size_t n = 0, cap = 0;
    int r;
    while ((r = tk_cursor_next(cur, err)) > 0) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct tk_item *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
                break;
            }
            v = nv;
            cap = ncap;
        }
        if ((rc = read_item(cur, &v[n], err)) != 0)
            break;
        n++;
    }
    if (rc == 0 && r < 0)
        rc = err ? err->code : TK_EIO;
    tk_cursor_close(cur);
    size_t i = 0;
    for (; rc == 0 && i < n; i++) {
        rc = load_fields(db, &v[i], err);
        if (rc == 0)
            rc = fn(u, &v[i]);
        tk_item_free(&v[i]);
    }
    for (; i < n; i++)
        tk_item_free(&v[i]);
    free(v);
    return rc;
}

int tk_store_item_due(struct tk_db *db, tk_time now, int64_t *ids, size_t limit, size_t *n,
                      struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    *n = 0;
    if (limit == 0)
        return 0;
    /* Where several schedulers run at once (PostgreSQL) each locks the due
     * items it takes and skips those another holds (the dialect's
     * skip_locked), so a reminder step is enqueued and audited once; where
     * one write lock serializes them (SQLite) the clause is empty. */
    char sql[512];
    int rc = tk_store_sql_with(sql, sizeof sql,
                               "SELECT id FROM items WHERE next_at IS NOT NULL AND next_at <= ? "
                               "ORDER BY next_at, id LIMIT ?",
                               tk_db_dialect(db)->skip_locked, err);
    if (rc == 0)
        rc = tk_db_query(db, &cur, err, sql, "ii", (int64_t)now, (int64_t)limit);
    if (rc != 0)
        return rc;
    int r = 0;
    while (*n < limit && (r = tk_cursor_next(cur, err)) > 0)
        ids[(*n)++] = tk_cursor_int(cur, 0);
    if (*n < limit && r < 0)
        rc = err ? err->code : TK_EIO;
    tk_cursor_close(cur);
    return rc;
}

int tk_store_item_due_account(struct tk_db *db, int64_t account, tk_time now, int64_t *ids,
                              size_t limit, size_t *n, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    char sql[512];
    int r = 0, rc;
    *n = 0;
    if (limit == 0)
        return 0;
    /* items_todo (account_id, ...) finds the account's items */
    rc = tk_store_sql_with(sql, sizeof sql,
                           "SELECT id FROM items WHERE account_id = ? AND next_at IS NOT NULL AND "
                           "next_at <= ? ORDER BY next_at, id LIMIT ?",
                           tk_db_dialect(db)->skip_locked, err);
    if (rc == 0)
        rc = tk_db_query(db, &cur, err, sql, "iii", account, (int64_t)now, (int64_t)limit);
    if (rc != 0)
        return rc;
    while (*n < limit && (r = tk_cursor_next(cur, err)) > 0)
        ids[(*n)++] = tk_cursor_int(cur, 0);
    if (*n < limit && r < 0)
        rc = err ? err->code : TK_EIO;
    tk_cursor_close(cur);
    return rc;
}

int tk_store_item_next_due(struct tk_db *db, tk_time *out, struct tk_error *err)
{
    int64_t v = 0;
    int rc = tk_db_int(db, &v, err, "SELECT MIN(next_at) FROM items WHERE next_at IS NOT NULL", "");
    *out = rc == 0 ? v : 0;
    return rc;
}

struct page_field {
    size_t item; /* index into the page */
    char *name, *value;
    int64_t pos;
};

static int page_field_cmp(const void *a, const void *b)
{
    const struct page_field *x = a, *y = b;
    if (x->item != y->item)
        return x->item < y->item ? -1 : 1;
    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The NF rows of F (RC: how reading them went) into the fields of V[f.item],
 * in (item, pos, name) order; F's strings are freed either way.  A tk_kv
 * pair is one allocation that keys[i] owns (core/util/str.c), so each goes
 * through tk_kv_set, never handed over as read. */
static int set_page_fields(struct tk_item *v, struct page_field *f, size_t nf, int rc,
                           struct tk_error *err)
{
    if (rc == 0 && nf > 1)
        qsort(f, nf, sizeof *f, page_field_cmp);
    for (size_t i = 0; i < nf; i++) {
        if (rc == 0 && tk_kv_set(&v[f[i].item].fields, f[i].name, f[i].value ? f[i].value : ""))
            rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
        free(f[i].name);
        free(f[i].value);
    }
    return rc;
}

struct page_id {
    int64_t id;
    size_t at;
};

static int page_id_cmp(const void *a, const void *b)
{
    const struct page_id *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The fields of the N items V in one query, each item's in (pos, name)
 * order, sorted here rather than by ORDER BY: the primary key (item_id,
 * name) gives the rows in name order, and SQLite would start a sorter for
 * every item read (a reminder reads one).  strcmp is SQLite's BINARY
 * collation; on PostgreSQL it no longer depends on the database's
 * locale. */
static int load_page_fields(struct tk_db *db, struct tk_item *v, size_t n, struct tk_error *err)
{
    struct tk_buf sql = {0};
    struct tk_db_value *vals = malloc(n * sizeof *vals);
    struct page_id *ids = malloc(n * sizeof *ids);
    struct page_field *f = NULL;
    struct tk_cursor *cur = NULL;
    size_t nf = 0, cap = 0;
    int rc = 0, r, oom = 0;

    if (!vals || !ids ||
        tk_buf_puts(&sql, "SELECT item_id, name, value, pos FROM item_fields "
                          "WHERE item_id IN ") ||
        tk_store_in_list(&sql, n)) {
        rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        vals[i] = tk_db_value_int(v[i].id);
        ids[i].id = v[i].id;
        ids[i].at = i;
    }
    qsort(ids, n, sizeof *ids, page_id_cmp);
    if ((rc = tk_db_query_v(db, &cur, err, sql.data, vals, n)))
        goto out;
    while ((r = tk_cursor_next(cur, err)) > 0) {
        struct page_id key = {tk_cursor_int(cur, 0), 0}, *hit;
        if (!(hit = bsearch(&key, ids, n, sizeof *ids, page_id_cmp)))
            continue;
        if (nf == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            struct page_field *nv = realloc(f, ncap * sizeof *nv);
            if (!nv) {
                oom = 1;
                break;
            }
            f = nv;
            cap = ncap;
        }
        f[nf].item = hit->at;
        f[nf].name = tk_store_col_dup(cur, 1, &oom);
        f[nf].value = tk_store_col_dup(cur, 2, &oom);
        f[nf].pos = tk_cursor_int(cur, 3);
        nf++;
        if (oom)
            break;
    }
    tk_cursor_close(cur);
    if (oom)
        rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
    else if (r < 0)
        rc = err ? err->code : TK_EIO;
    rc = set_page_fields(v, f, nf, rc, err);
out:
    free(f);
    free(ids);
    free(vals);
    tk_buf_free(&sql);
    return rc;
}

/* load_fields for an item without fields yet: the rows are read into F
 * (on the stack for up to 8) and set as load_page_fields sets a page's. */
static int load_one_fields(struct tk_db *db, struct tk_item *it, struct tk_error *err)
{
    struct page_field stack[8], *f = stack;
    struct tk_cursor *cur = NULL;
    size_t nf = 0, cap = sizeof stack / sizeof stack[0];
    int rc, r, oom = 0;

    if ((rc = tk_db_query(db, &cur, err,
                          "SELECT name, value, pos FROM item_fields WHERE item_id = ?", "i",
                          it->id)))
        return rc;
    while ((r = tk_cursor_next(cur, err)) > 0) {
        if (nf == cap) {
            struct page_field *nv =
                f == stack ? malloc(2 * cap * sizeof *nv) : realloc(f, 2 * cap * sizeof *nv);
            if (!nv) {
                oom = 1;
                break;
            }
            if (f == stack)
                memcpy(nv, stack, sizeof stack);
            f = nv;
            cap *= 2;
        }
        f[nf].item = 0;
        f[nf].name = tk_store_col_dup(cur, 0, &oom);
        f[nf].value = tk_store_col_dup(cur, 1, &oom);
        f[nf].pos = tk_cursor_int(cur, 2);
        nf++;
        if (oom)
            break;
    }
    tk_cursor_close(cur);
    if (oom)
        rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
    else if (r < 0)
        rc = err ? err->code : TK_EIO;
    rc = set_page_fields(it, f, nf, rc, err);
    if (f != stack)
        free(f);
    return rc;
}

/* The rows of SQL (VALS) appended to *V (*N of *CAP) as items. */
static int read_items(struct tk_db *db, const char *sql, const struct tk_db_value *vals,
                      size_t nvals, struct tk_item **v, size_t *n, size_t *cap,
                      struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc, r;
    if ((rc = tk_db_query_v(db, &cur, err, sql, vals, nvals)))
        return rc;
    while ((r = tk_cursor_next(cur, err)) > 0) {
        if (*n == *cap) {
            size_t ncap = *cap ? 2 * *cap : 64;
            struct tk_item *nv = realloc(*v, ncap * sizeof *nv);
            if (!nv) {
                rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
                break;
            }
            *v = nv;
            *cap = ncap;
        }
        if ((rc = read_item(cur, &(*v)[*n], err)))
            break;
        (*n)++;
    }
    if (rc == 0 && r < 0)
        rc = err ? err->code : TK_EIO;
    tk_cursor_close(cur);
    return rc;
}

int tk_store_item_due_page(struct tk_db *db, int64_t account, tk_time to, tk_time after_at,
                           int64_t after_id, size_t limit, struct tk_item **out, size_t *n,
                           struct tk_error *err)
{
    struct tk_db_value vals[5];
    size_t nvals = 0, cap = 0;
    struct tk_item *v = NULL;
    char sql[1024];
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (!limit)
        return 0;
    /* The due index gives (next_at, id) order (schema v12 on PostgreSQL);
     * "+account_id" keeps the planner on it (items_todo would read every
     * item of the account).  SQLite seeks the row value "(next_at, id) >
     * (?, ?)" on next_at alone, so the split below is kept on both stores.
     * Two queries, each a seek: the rest of AFTER_AT's items (the index
     * holds (next_at, id)), then the later ones.  One query with "next_at
     * >= ? AND (next_at > ? OR id > ?)" read every item of AFTER_AT before
     * the page again: thousands of items due at one moment (created in
     * bulk) made each page slower than the last (issue 14). */
    if (after_at < to) {
        snprintf(sql, sizeof sql,
                 ITEM_COLS "WHERE next_at IS NOT NULL AND next_at = ? AND id > ? "
                           "%sORDER BY next_at, id LIMIT ?",
                 account ? "AND +account_id = ? " : "");
        vals[nvals++] = tk_db_value_int(after_at);
        vals[nvals++] = tk_db_value_int(after_id);
        if (account)
            vals[nvals++] = tk_db_value_int(account);
        vals[nvals++] = tk_db_value_int((int64_t)limit);
        rc = read_items(db, sql, vals, nvals, &v, n, &cap, err);
    }
    if (rc == 0 && *n < limit) {
        nvals = 0;
        snprintf(sql, sizeof sql,
                 ITEM_COLS "WHERE next_at IS NOT NULL AND next_at > ? AND next_at < ? "
                           "%sORDER BY next_at, id LIMIT ?",
                 account ? "AND +account_id = ? " : "");
        vals[nvals++] = tk_db_value_int(after_at);
        vals[nvals++] = tk_db_value_int(to);
        if (account)
            vals[nvals++] = tk_db_value_int(account);
        vals[nvals++] = tk_db_value_int((int64_t)(limit - *n));
        rc = read_items(db, sql, vals, nvals, &v, n, &cap, err);
    }
    if (rc == 0 && *n)
        rc = load_page_fields(db, v, *n, err);
    if (rc) {
        for (size_t i = 0; i < *n; i++)
            tk_item_free(&v[i]);
        free(v);
        *n = 0;
        return rc;
    }
    *out = v;
    return 0;
}
