/*
 * accounts.c - accounts (the firm's clients) and their contacts.
 *
 * Names are unique and matched exactly; e-mail addresses are stored as the
 * engine gives them (it lower-cases the domain before calling), because a
 * case-folding unique index is not portable between SQLite and PostgreSQL.
 */
#include "store/store.h"
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

#define ACCOUNT_COLS                                                                               \
    "id, name, language, created_at, timezone, send_window, holidays, manager, COALESCE(digest, "  \
    "-1)"

/* Copy a text column; *OOM is set when a non-NULL value could not be copied. */
char *tk_store_col_dup(struct tk_cursor *cur, int col, int *oom)
{
    const char *s = tk_cursor_text(cur, col);
    char *d = tk_strdup(s);
    if (s && !d)
        *oom = 1;
    return d;
}

void tk_account_free(struct tk_account *a)
{
    if (!a)
        return;
    free(a->name);
    free(a->language);
    free(a->timezone);
    free(a->window);
    free(a->holidays);
    free(a->manager);
    memset(a, 0, sizeof *a);
}

static int read_account(struct tk_cursor *cur, struct tk_account *a, struct tk_error *err)
{
    int oom = 0;
    memset(a, 0, sizeof *a);
    a->id = tk_cursor_int(cur, 0);
    a->name = tk_store_col_dup(cur, 1, &oom);
    a->language = tk_store_col_dup(cur, 2, &oom);
    a->created_at = tk_cursor_int(cur, 3);
    a->timezone = tk_store_col_dup(cur, 4, &oom);
    a->window = tk_store_col_dup(cur, 5, &oom);
    a->holidays = tk_store_col_dup(cur, 6, &oom);
    a->manager = tk_store_col_dup(cur, 7, &oom);
    a->digest = (int)tk_cursor_int(cur, 8);
    if (oom) {
        tk_account_free(a);
        return tk_error_set(err, TK_ENOMEM, "store: out of memory");
    }
    return 0;
}

/* One account row from SQL bound to a single value; 1 found, 0 not, <0 error. */
static int load_one(struct tk_db *db, const char *sql, const char *types, int64_t i, const char *s,
                    struct tk_account *out, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc = types[0] == 'i' ? tk_db_query(db, &cur, err, sql, types, i)
                             : tk_db_query(db, &cur, err, sql, types, s);
    if (rc != 0)
        return -1;
    int r = tk_cursor_next(cur, err);
    if (r > 0 && read_account(cur, out, err) != 0)
        r = -1;
    tk_cursor_close(cur);
    return r;
}

int tk_store_account_add(struct tk_db *db, const char *name, const char *lang, tk_time now,
                         int64_t *id, struct tk_error *err)
{
    if (!name || !*name)
        return tk_error_set(err, TK_EINVAL, "account name is empty");
    int64_t existing = 0;
    int rc = tk_db_int(db, &existing, err, "SELECT id FROM accounts WHERE name = ?", "s", name);
    if (rc == 0)
        return tk_error_set(err, TK_ECONFLICT, "account '%s' exists already (id %lld)", name,
                            (long long)existing);
    if (rc != TK_ENOTFOUND)
        return rc;
    int64_t new_id = 0;
    rc = tk_db_insert(db, &new_id, err,
                      "INSERT INTO accounts (name, language, created_at) VALUES (?, ?, ?)", "ssi",
                      name, lang && *lang ? lang : "en", (int64_t)now);
    if (rc != 0)
        return rc;
    if (id)
        *id = new_id;
    return 0;
}

int tk_store_account_set_calendar(struct tk_db *db, const struct tk_account *a,
                                  struct tk_error *err)
{
    const char *s[4] = {a->timezone, a->window, a->holidays, a->manager};
    struct tk_db_value v[6];
    int64_t changed = 0;
    for (int i = 0; i < 4; i++)
        v[i] = s[i] ? tk_db_value_text(s[i]) : tk_db_value_null();
    v[4] = a->digest < 0 ? tk_db_value_null() : tk_db_value_int(a->digest);
    v[5] = tk_db_value_int(a->id);
    int rc = tk_db_exec_v(db, err,
                          "UPDATE accounts SET timezone = ?, send_window = ?, holidays = ?, "
                          "manager = ?, digest = ? WHERE id = ?",
                          v, 6);
    if (rc == 0)
        tk_db_changes(db, &changed);
    if (rc == 0 && changed == 0)
        rc = tk_error_set(err, TK_ENOTFOUND, "no account %lld", (long long)a->id);
    return rc;
}

int tk_store_account_get(struct tk_db *db, int64_t id, struct tk_account *out, struct tk_error *err)
{
    int r =
        load_one(db, "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = ?", "i", id, NULL, out, err);
    if (r < 0)
        return err ? err->code : TK_EIO;
    if (r == 0)
        return tk_error_set(err, TK_ENOTFOUND, "no account %lld", (long long)id);
    return 0;
}

int tk_store_account_name(struct tk_db *db, int64_t id, char **name, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int r, oom = 0;
    *name = NULL;
    if (tk_db_query(db, &cur, err, "SELECT name FROM accounts WHERE id = ?", "i", id) != 0)
        return err ? err->code : TK_EIO;
    r = tk_cursor_next(cur, err);
    if (r > 0)
        *name = tk_store_col_dup(cur, 0, &oom);
    tk_cursor_close(cur);
    if (r < 0)
        return err ? err->code : TK_EIO;
    if (r == 0)
        return tk_error_set(err, TK_ENOTFOUND, "no account %lld", (long long)id);
    if (oom)
        return tk_error_set(err, TK_ENOMEM, "store: out of memory");
    return 0;
}

struct account_fn {
    int (*fn)(void *u, struct tk_account *a);
    void *u;
    struct tk_error *err;
};

static int account_row(void *u, struct tk_cursor *cur)
{
    struct account_fn *f = u;
    struct tk_account a;
    int rc = read_account(cur, &a, f->err);
    return rc ? rc : f->fn(f->u, &a);
}

int tk_store_accounts_each_in(struct tk_db *db, const int64_t *ids, size_t n,
                              int (*fn)(void *u, struct tk_account *a), void *u,
                              struct tk_error *err)
{
    struct account_fn f = {fn, u, err};
    return tk_store_each_in(db, "SELECT " ACCOUNT_COLS " FROM accounts WHERE id IN ", NULL, 0, ids,
                            n, account_row, &f, err);
}

int tk_store_account_find(struct tk_db *db, const char *id_or_name, struct tk_account *out,
                          struct tk_error *err)
{
    int64_t id = 0;
    int r = 0;
    if (!id_or_name)
        return tk_error_set(err, TK_EINVAL, "no account given");
    /* All digits: an id first; a client may still be named "2024". */
    if (tk_parse_int(id_or_name, 1, INT64_MAX, &id) == 0 && id_or_name[0] != '+' &&
        id_or_name[0] != '-')
        r = load_one(db, "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = ?", "i", id, NULL, out,
                     err);
    if (r == 0)
        r = load_one(db, "SELECT " ACCOUNT_COLS " FROM accounts WHERE name = ?", "s", 0, id_or_name,
                     out, err);
    if (r < 0)
        return err ? err->code : TK_EIO;
    if (r == 0)
        return tk_error_set(err, TK_ENOTFOUND, "no account '%s'", id_or_name);
    return 0;
}

int tk_store_account_each(struct tk_db *db, int (*fn)(void *u, const struct tk_account *a), void *u,
                          struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    int rc = tk_db_query(db, &cur, err, "SELECT " ACCOUNT_COLS " FROM accounts ORDER BY id", "");
    if (rc != 0)
        return rc;
    int r;
    while (rc == 0 && (r = tk_cursor_next(cur, err)) != 0) {
        struct tk_account a;
        if (r < 0 || read_account(cur, &a, err) != 0) {
            rc = err ? err->code : TK_EIO;
            break;
        }
        rc = fn(u, &a);
        tk_account_free(&a);
    }
    tk_cursor_close(cur);
    return rc;
}

/* ---- contacts --------------------------------------------------------- */

void tk_contact_free(struct tk_contact *c)
{
    if (!c)
        return;
    free(c->email);
    free(c->name);
    free(c->suppressed_reason);
    memset(c, 0, sizeof *c);
}

void tk_contacts_free(struct tk_contacts *cs)
{
    if (!cs)
        return;
    for (size_t i = 0; i < cs->n; i++)
        tk_contact_free(&cs->v[i]);
    free(cs->v);
    cs->v = NULL;
    cs->n = 0;
}

int tk_store_contact_add(struct tk_db *db, int64_t account, const char *email, const char *name,
                         int notify, tk_time now, int64_t *id, struct tk_error *err)
{
    if (!email || !*email)
        return tk_error_set(err, TK_EINVAL, "contact e-mail address is empty");
    int64_t v = 0;
    int rc = tk_db_int(db, &v, err, "SELECT id FROM accounts WHERE id = ?", "i", account);
    if (rc == TK_ENOTFOUND)
        return tk_error_set(err, TK_ENOTFOUND, "no account %lld", (long long)account);
    if (rc != 0)
        return rc;
    rc = tk_db_int(db, &v, err, "SELECT id FROM contacts WHERE account_id = ? AND email = ?", "is",
                   account, email);
    if (rc == 0)
        return tk_error_set(err, TK_ECONFLICT, "account %lld has contact %s already (id %lld)",
                            (long long)account, email, (long long)v);
    if (rc != TK_ENOTFOUND)
        return rc;
    rc = tk_db_insert(db, &v, err,
                      "INSERT INTO contacts (account_id, email, name, notify, created_at) "
                      "VALUES (?, ?, ?, ?, ?)",
                      "issii", account, email, name, (int64_t)(notify != 0), (int64_t)now);
    if (rc == 0 && id)
        *id = v;
    return rc;
}

int tk_store_contact_notify(struct tk_db *db, int64_t account, const char *email, int notify,
                            struct tk_error *err)
{
    int rc =
        tk_db_exec(db, err, "UPDATE contacts SET notify = ? WHERE account_id = ? AND email = ?",
                   "iis", (int64_t)(notify != 0), account, email);
    if (rc != 0)
        return rc;
    int64_t n = 0;
    tk_db_changes(db, &n);
    if (n == 0)
        return tk_error_set(err, TK_ENOTFOUND, "account %lld has no contact %s", (long long)account,
                            email ? email : "(none)");
    return 0;
}

struct contact_fn {
    int (*fn)(void *u, struct tk_contact *c);
    void *u;
};

static int contact_row(void *u, struct tk_cursor *cur)
{
    struct contact_fn *f = u;
    struct tk_contact c;
    int oom = 0;
    memset(&c, 0, sizeof c);
    c.id = tk_cursor_int(cur, 0);
    c.account_id = tk_cursor_int(cur, 1);
    c.email = tk_store_col_dup(cur, 2, &oom);
    c.name = tk_store_col_dup(cur, 3, &oom);
    c.notify = tk_cursor_int(cur, 4) != 0;
    c.suppressed_reason = tk_store_col_dup(cur, 5, &oom);
    c.suppressed_at = tk_cursor_int(cur, 6);
    if (oom) {
        tk_contact_free(&c);
        return TK_ENOMEM;
    }
    return f->fn(f->u, &c);
}

int tk_store_contacts_each_in(struct tk_db *db, const int64_t *accounts, size_t n,
                              int (*fn)(void *u, struct tk_contact *c), void *u,
                              struct tk_error *err)
{
    struct contact_fn f = {fn, u};
    /* tk_store_contact_list's `all` query (suppressions.email is UNIQUE:
     * one row a contact), for N accounts at once */
    int rc = tk_store_each_in(db,
                              "SELECT c.id, c.account_id, c.email, c.name, c.notify, s.reason, "
                              "s.at FROM contacts c LEFT JOIN suppressions s ON s.email = "
                              "lower(c.email) WHERE c.account_id IN ",
                              NULL, 0, accounts, n, contact_row, &f, err);
    if (rc == TK_ENOMEM)
        return tk_error_set(err, TK_ENOMEM, "store: out of memory");
    return rc;
}

int tk_store_contact_list(struct tk_db *db, int64_t account, int notify_only,
                          struct tk_contacts *out, struct tk_error *err)
{
    /* Sorted by id here, not by ORDER BY: the rows come from the UNIQUE
     * (account_id, email) index in email order, and SQLite would start a
     * sorter for every call (about 5k instructions of a reminder's 180k,
     * for an account's few contacts). */
    /* A suppressed address (issue 15) is never a recipient: the notify-on
     * list leaves it out, for every email of every account. */
    static const char *const all =
        "SELECT c.id, c.account_id, c.email, c.name, c.notify, s.reason, s.at FROM contacts c "
        "LEFT JOIN suppressions s ON s.email = lower(c.email) WHERE c.account_id = ?";
    static const char *const on =
        "SELECT c.id, c.account_id, c.email, c.name, c.notify, NULL, 0 FROM contacts c "
        "WHERE c.account_id = ? AND c.notify <> 0 AND NOT EXISTS "
        "(SELECT 1 FROM suppressions s WHERE s.email = lower(c.email))";
    struct tk_cursor *cur = NULL;
    out->v = NULL;
    out->n = 0;
    int rc = tk_db_query(db, &cur, err, notify_only ? on : all, "i", account);
    if (rc != 0)
        return rc;
    size_t cap = 0;
    int r, oom = 0;
    while ((r = tk_cursor_next(cur, err)) > 0) {
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct tk_contact *nv = realloc(out->v, ncap * sizeof *nv);
            if (!nv) {
                oom = 1;
                break;
            }
            out->v = nv;
            cap = ncap;
        }
        struct tk_contact *c = &out->v[out->n++];
        c->id = tk_cursor_int(cur, 0);
        c->account_id = tk_cursor_int(cur, 1);
        c->email = tk_store_col_dup(cur, 2, &oom);
        c->name = tk_store_col_dup(cur, 3, &oom);
        c->notify = tk_cursor_int(cur, 4) != 0;
        c->suppressed_reason = tk_store_col_dup(cur, 5, &oom);
        c->suppressed_at = tk_cursor_int(cur, 6);
        if (oom)
            break;
    }
    tk_cursor_close(cur);
    if (oom)
        rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
    else if (r < 0)
        rc = err ? err->code : TK_EIO;
    if (rc != 0) {
        tk_contacts_free(out);
        return rc;
    }
    /* insertion sort: an account has a handful of contacts */
    for (size_t i = 1; i < out->n; i++) {
        struct tk_contact c = out->v[i];
        size_t j = i;
        for (; j > 0 && out->v[j - 1].id > c.id; j--)
            out->v[j] = out->v[j - 1];
        out->v[j] = c;
    }
    return 0;
}
