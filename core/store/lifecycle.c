/*
 * lifecycle.c - the rows of an account's life after it was added: a new
 * name, a contact removed, the account removed with everything about it,
 * and the erasure of one address from every row that stores it (issue 16,
 * docs/data.md).  Like every store function, these run on the caller's
 * transaction.
 *
 * The SQL is portable: REPLACE() exists on both servers, and "x <> REPLACE(
 * x, a, b)" finds the rows that contain A without LIKE, whose % and _
 * would need escaping in an address.
 */
#include "store/store.h"
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

int tk_store_account_rename(struct tk_db *db, int64_t id, const char *name, struct tk_error *err)
{
    int64_t other = 0, changed = 0;
    int rc = tk_db_int(db, &other, err, "SELECT id FROM accounts WHERE name = ?", "s", name);
    if (rc == 0 && other != id)
        return tk_error_set(err, TK_ECONFLICT, "an account named '%s' exists already (id %lld)",
                            name, (long long)other);
    if (rc == 0) /* its own name: nothing to change */
        return 0;
    if (rc != TK_ENOTFOUND)
        return rc;
    if ((rc = tk_db_exec(db, err, "UPDATE accounts SET name = ? WHERE id = ?", "si", name, id)))
        return rc;
    tk_db_changes(db, &changed);
    return changed ? 0 : tk_error_set(err, TK_ENOTFOUND, "no account %lld", (long long)id);
}

/* Run SQL, whose every `?` is ID, and add the rows it changed to *N. */
static int exec_counted(struct tk_db *db, int64_t *n, struct tk_error *err, const char *sql,
                        int64_t id)
{
    struct tk_db_value v[4];
    size_t k = 0;
    int64_t changed = 0;
    for (const char *p = sql; *p && k < 4; p++)
        if (*p == '?')
            v[k++] = tk_db_value_int(id);
    int rc = tk_db_exec_v(db, err, sql, v, k);
    if (rc == 0) {
        tk_db_changes(db, &changed);
        if (n)
            *n += changed;
    }
    return rc;
}

int tk_store_account_delete(struct tk_db *db, int64_t id, struct tk_store_removed *out,
                            struct tk_error *err)
{
    struct tk_store_removed r = {0};
    int64_t gone = 0;
    int rc;
    /* Children first: the foreign keys (enforced on both servers) point
     * at accounts and items.  outbox_data goes with its outbox row (ON
     * DELETE CASCADE). */
    if ((rc = exec_counted(db, &r.messages, err,
                           "DELETE FROM outbox WHERE account_id = ? OR item_id IN "
                           "(SELECT id FROM items WHERE account_id = ?)",
                           id)) ||
        (rc = exec_counted(db, NULL, err,
                           "DELETE FROM item_fields WHERE item_id IN "
                           "(SELECT id FROM items WHERE account_id = ?)",
                           id)) ||
        (rc = exec_counted(db, &r.items, err, "DELETE FROM items WHERE account_id = ?", id)) ||
        (rc = exec_counted(db, &r.jobs, err, "DELETE FROM jobs WHERE account_id = ?", id)) ||
        (rc =
             exec_counted(db, &r.contacts, err, "DELETE FROM contacts WHERE account_id = ?", id)) ||
        (rc = exec_counted(db, &gone, err, "DELETE FROM accounts WHERE id = ?", id)))
        return rc;
    if (!gone)
        return tk_error_set(err, TK_ENOTFOUND, "no account %lld", (long long)id);
    if (out)
        *out = r;
    return 0;
}

int tk_store_contact_remove(struct tk_db *db, int64_t account, const char *email,
                            struct tk_error *err)
{
    int64_t changed = 0;
    int rc = tk_db_exec(db, err, "DELETE FROM contacts WHERE account_id = ? AND email = ?", "is",
                        account, email);
    if (rc)
        return rc;
    tk_db_changes(db, &changed);
    return changed ? 0
                   : tk_error_set(err, TK_ENOTFOUND, "account %lld has no contact %s",
                                  (long long)account, email);
}

static int contact_accounts(struct tk_db *db, const char *sql, const char *addr, int64_t **ids,
                            size_t *n, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    struct tk_ids v = {0};
    int rc, r = 0;
    *ids = NULL;
    *n = 0;
    if ((rc = tk_db_query(db, &cur, err, sql, "s", addr)))
        return rc;
    while ((r = tk_cursor_next(cur, err)) > 0) {
        if (tk_ids_push(&v, tk_cursor_int(cur, 0))) {
            rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
            break;
        }
    }
    tk_cursor_close(cur);
    if (rc == 0 && r < 0)
        rc = err ? err->code : TK_EIO;
    if (rc) {
        tk_ids_free(&v);
        return rc;
    }
    *ids = v.v;
    *n = v.n;
    return 0;
}

int tk_store_contact_accounts(struct tk_db *db, const char *addr, int64_t **ids, size_t *n,
                              struct tk_error *err)
{
    return contact_accounts(
        db, "SELECT DISTINCT account_id FROM contacts WHERE email = ? ORDER BY account_id", addr,
        ids, n, err);
}

int tk_store_contact_accounts_nocase(struct tk_db *db, const char *lower_addr, int64_t **ids,
                                     size_t *n, struct tk_error *err)
{
    /* a parameter inside lower() would be of no known type to PostgreSQL:
     * the caller lower-cases the address */
    return contact_accounts(db,
                            "SELECT DISTINCT account_id FROM contacts WHERE lower(email) = ? "
                            "ORDER BY account_id",
                            lower_addr, ids, n, err);
}

/* TEXT (a whole message, CRLF) with its To: header (and the lines that
 * continue it) replaced by "To: MARKER" into OUT; 0 when there is no To:
 * header in the header block.  The display name there may be encoded
 * (RFC 2047), so it is not searched for: the line goes whole. */
static int rewrite_to(const char *text, const char *marker, struct tk_buf *out)
{
    const char *end = strstr(text, "\r\n\r\n"), *p = text, *to = NULL, *q;
    if (!end)
        return 0;
    while (p < end) {
        if ((p == text || p[-1] == '\n') && strncmp(p, "To:", 3) == 0) {
            to = p;
            break;
        }
        q = strstr(p, "\r\n");
        if (!q || q >= end)
            break;
        p = q + 2;
    }
    if (!to)
        return 0;
    q = to;
    do { /* to the end of the header, continuation lines included */
        const char *eol = strstr(q, "\r\n");
        q = eol ? eol + 2 : q + strlen(q);
    } while (q < end + 2 && (*q == ' ' || *q == '\t'));
    out->len = 0;
    if (tk_buf_append(out, text, (size_t)(to - text)) || tk_buf_puts(out, "To: ") ||
        tk_buf_puts(out, marker) || tk_buf_puts(out, "\r\n") || tk_buf_puts(out, q))
        return -1;
    return 1;
}

/* The messages to ADDR: their To: header, and each of NAMES in their
 * text, become MARKER. */
static int rewrite_texts_to(struct tk_db *db, const char *addr, const char *marker,
                            const char *const *names, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    struct {
        int64_t id;
        char *text;
    } *v = NULL;
    size_t n = 0, cap = 0;
    struct tk_buf b = {0};
    int rc, r = 0;
    rc = tk_db_query(db, &cur, err,
                     "SELECT outbox_id, data FROM outbox_data WHERE outbox_id IN "
                     "(SELECT id FROM outbox WHERE recipient = ?) ORDER BY outbox_id",
                     "s", addr);
    if (rc)
        return rc;
    /* Read them all first: no statement stays open under the updates. */
    while ((r = tk_cursor_next(cur, err)) > 0) {
        int oom = 0;
        if (n == cap) {
            void *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
            if (!nv) {
                rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
                break;
            }
            v = nv;
        }
        v[n].id = tk_cursor_int(cur, 0);
        v[n].text = tk_store_col_dup(cur, 1, &oom);
        if (oom || !v[n].text) {
            free(v[n].text);
            rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
            break;
        }
        n++;
    }
    tk_cursor_close(cur);
    if (rc == 0 && r < 0)
        rc = err ? err->code : TK_EIO;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int w = rewrite_to(v[i].text, marker, &b);
        if (w < 0)
            rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
        else if (w > 0)
            rc = tk_db_exec(db, err, "UPDATE outbox_data SET data = ? WHERE outbox_id = ?", "si",
                            b.data, v[i].id);
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].text);
    free(v);
    tk_buf_free(&b);
    for (size_t i = 0; rc == 0 && names && names[i]; i++) {
        if (!*names[i])
            continue;
        rc = tk_db_exec(db, err,
                        "UPDATE outbox_data SET data = REPLACE(data, ?, ?) WHERE outbox_id IN "
                        "(SELECT id FROM outbox WHERE recipient = ?)",
                        "sss", names[i], marker, addr);
    }
    return rc;
}

/* Whether C may stand just before an address's local part (atext, RFC
 * 5322, or a dot inside one) and so would make the match part of a longer
 * address. */
static int addr_char_before(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

/* Whether the text at P continues a domain: a letter, digit, '-' or '_',
 * or a dot followed by one (a dot then a space ends a sentence). */
static int domain_goes_on(const char *p)
{
    unsigned char c = (unsigned char)p[0];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80 ||
        c == '-' || c == '_')
        return 1;
    if (c == '.') {
        unsigned char d = (unsigned char)p[1];
        return (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') || (d >= '0' && d <= '9') ||
               d >= 0x80;
    }
    return 0;
}

/* TEXT with every whole occurrence of ADDR (not a piece of a longer
 * address: erasing nn@x must not touch ann@x or nn@x.org) replaced by
 * MARKER, into OUT; how many, or -1 out of memory. */
static int replace_address(const char *text, const char *addr, const char *marker,
                           struct tk_buf *out)
{
    size_t alen = strlen(addr);
    const char *p = text, *hit;
    int n = 0;
    out->len = 0;
    if (tk_buf_puts(out, ""))
        return -1;
    while ((hit = strstr(p, addr)) != NULL) {
        int whole = (hit == text || !addr_char_before((unsigned char)hit[-1])) &&
                    !domain_goes_on(hit + alen);
        if (tk_buf_append(out, p, (size_t)(hit - p)) || tk_buf_puts(out, whole ? marker : addr))
            return -1;
        n += whole;
        p = hit + alen;
    }
    return tk_buf_puts(out, p) ? -1 : n;
}

/* Rewrite column COL of TABLE (key KEY) wherever it holds ADDR whole: the
 * server picks the rows that contain it at all (REPLACE, portable), this
 * decides where it stands alone.  *N: rows changed. */
static int rewrite_column(struct tk_db *db, const char *table, const char *key, const char *col,
                          const char *addr, const char *marker, int64_t *n, struct tk_error *err)
{
    struct tk_cursor *cur = NULL;
    struct {
        int64_t id;
        char *text;
    } *v = NULL;
    size_t cnt = 0, cap = 0;
    struct tk_buf b = {0};
    char sql[256];
    int rc, r = 0;
    *n = 0;
    snprintf(sql, sizeof sql, "SELECT %s, %s FROM %s WHERE %s <> REPLACE(%s, ?, '') ORDER BY %s",
             key, col, table, col, col, key);
    if ((rc = tk_db_query(db, &cur, err, sql, "s", addr)))
        return rc;
    while ((r = tk_cursor_next(cur, err)) > 0) {
        int oom = 0;
        if (cnt == cap) {
            void *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
            if (!nv) {
                rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
                break;
            }
            v = nv;
        }
        v[cnt].id = tk_cursor_int(cur, 0);
        v[cnt].text = tk_store_col_dup(cur, 1, &oom);
        if (oom || !v[cnt].text) {
            free(v[cnt].text);
            rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
            break;
        }
        cnt++;
    }
    tk_cursor_close(cur);
    if (rc == 0 && r < 0)
        rc = err ? err->code : TK_EIO;
    snprintf(sql, sizeof sql, "UPDATE %s SET %s = ? WHERE %s = ?", table, col, key);
    for (size_t i = 0; rc == 0 && i < cnt; i++) {
        int k = replace_address(v[i].text, addr, marker, &b);
        if (k < 0)
            rc = tk_error_set(err, TK_ENOMEM, "store: out of memory");
        else if (k > 0 && (rc = tk_db_exec(db, err, sql, "si", b.data, v[i].id)) == 0)
            ++*n;
    }
    for (size_t i = 0; i < cnt; i++)
        free(v[i].text);
    free(v);
    tk_buf_free(&b);
    return rc;
}

int tk_store_erase_address(struct tk_db *db, const char *addr, const char *marker,
                           const char *const *names, struct tk_store_erased *out,
                           struct tk_error *err)
{
    struct tk_store_erased r = {0};
    int64_t replies = 0;
    int rc;
    if ((rc = tk_db_int(db, &r.messages, err, "SELECT COUNT(*) FROM outbox WHERE recipient = ?",
                        "s", addr)) ||
        (rc = rewrite_texts_to(db, addr, marker, names, err)))
        return rc;
    /* Every text that still holds the address (another recipient's copy
     * may name it), the relay replies and the audit trail; then the rows.
     * The idempotency key ends in the recipient; a marker is new, so the
     * keys stay unique. */
    if ((rc =
             rewrite_column(db, "outbox_data", "outbox_id", "data", addr, marker, &r.texts, err)) ||
        (rc = rewrite_column(db, "outbox", "id", "last_reply", addr, marker, &replies, err)) ||
        (rc = rewrite_column(db, "audit", "id", "detail", addr, marker, &r.audit, err)) ||
        (rc = tk_db_exec(db, err,
                         "UPDATE outbox SET recipient = ?, idem_key = REPLACE(idem_key, ?, ?) "
                         "WHERE recipient = ?",
                         "ssss", marker, addr, marker, addr)))
        return rc;
    if ((rc = tk_db_exec(db, err, "DELETE FROM contacts WHERE email = ?", "s", addr)))
        return rc;
    tk_db_changes(db, &r.contacts);
    /* What came back about the address (issue 15): its suppression goes
     * (kept lower-cased), and the records of returned messages name the
     * marker instead. */
    int64_t inbound = 0;
    if ((rc = tk_db_exec(db, err, "DELETE FROM suppressions WHERE email = LOWER(?)", "s", addr)) ||
        (rc = rewrite_column(db, "inbound", "id", "sender", addr, marker, &inbound, err)) ||
        (rc = rewrite_column(db, "inbound", "id", "reason", addr, marker, &inbound, err)) ||
        (rc = rewrite_column(db, "inbound", "id", "subject", addr, marker, &inbound, err)))
        return rc;
    if (out)
        *out = r;
    return 0;
}
