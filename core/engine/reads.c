/* reads.c - what front ends show: accounts, contacts, items, the audit
 * trail, the outbox and the store itself, read through the engine so that
 * no front end needs the store's or the driver's headers.  Each runs on the
 * caller's transaction when one is open, else on its own. */
#include <string.h>

#include "internal.h"

int tk_engine_account_find(struct tk_engine *e, const char *id_or_name, struct tk_account *out,
                           struct tk_error *err)
{
    return tk_store_account_find(e->db, id_or_name, out, err);
}

int tk_engine_account_get(struct tk_engine *e, int64_t id, struct tk_account *out,
                          struct tk_error *err)
{
    return tk_store_account_get(e->db, id, out, err);
}

int tk_engine_account_name(struct tk_engine *e, int64_t id, char **name, struct tk_error *err)
{
    return tk_store_account_name(e->db, id, name, err);
}

int tk_engine_accounts_each(struct tk_engine *e, int (*fn)(void *u, const struct tk_account *a),
                            void *u, struct tk_error *err)
{
    return tk_store_account_each(e->db, fn, u, err);
}

int tk_engine_contacts_list(struct tk_engine *e, int64_t account, int notify_only,
                            struct tk_contacts *out, struct tk_error *err)
{
    return tk_store_contact_list(e->db, account, notify_only, out, err);
}

int tk_engine_item_get(struct tk_engine *e, int64_t id, struct tk_item *out, struct tk_error *err)
{
    return tk_store_item_get(e->db, id, out, err);
}

/* The store lends each item writable (its own callers write them back);
 * a front end gets it read-only. */
struct items_each {
    int (*fn)(void *u, const struct tk_item *it);
    void *u;
};

static int item_one(void *u, struct tk_item *it)
{
    struct items_each *x = u;
    return x->fn(x->u, it);
}

int tk_engine_items_each(struct tk_engine *e, const struct tk_item_filter *f,
                         int (*fn)(void *u, const struct tk_item *it), void *u,
                         struct tk_error *err)
{
    struct items_each x = {fn, u};
    return tk_store_item_each(e->db, f, item_one, &x, err);
}

int tk_engine_audit_each(struct tk_engine *e, int64_t account, int64_t item,
                         int (*fn)(void *u, const struct tk_audit_entry *ae), void *u,
                         struct tk_error *err)
{
    return tk_store_audit_each(e->db, account, item, fn, u, err);
}

int tk_engine_outbox_get(struct tk_engine *e, int64_t id, struct tk_outbox_row *out,
                         struct tk_error *err)
{
    return tk_store_outbox_get(e->db, id, out, err);
}

int tk_engine_outbox_each(struct tk_engine *e, int failed_only, int64_t item,
                          int (*fn)(void *u, const struct tk_outbox_row *r), void *u,
                          struct tk_error *err)
{
    return tk_store_outbox_each(e->db, failed_only, item, fn, u, err);
}

int tk_engine_outbox_counts(struct tk_engine *e, int64_t *queued, int64_t *dead,
                            struct tk_error *err)
{
    return tk_store_outbox_counts(e->db, queued, dead, err);
}

int tk_engine_next_due(struct tk_engine *e, tk_time *out, struct tk_error *err)
{
    tk_time item = 0, mail = 0;
    int rc;
    *out = 0;
    if ((rc = tk_store_item_next_due(e->db, &item, err)) ||
        (rc = tk_store_outbox_next_due(e->db, &mail, err)))
        return rc;
    *out = item && (!mail || item < mail) ? item : mail;
    return 0;
}

void tk_engine_store_info(const struct tk_engine *e, struct tk_engine_store_info *out)
{
    memset(out, 0, sizeof *out);
    out->schema_version = tk_db_schema_version();
    if (!e->db)
        return;
    out->driver = tk_db_driver_name(e->db);
    /* a file only when the configuration names one: asked of the
     * configuration, not of the driver (db.h: no name checks above it) */
    if (!e->cfg.store_driver || strcmp(e->cfg.store_driver, "sqlite") == 0)
        out->path = e->cfg.store_path;
}

int tk_engine_store_check(const struct tk_config *cfg, struct tk_engine_store_check *out,
                          struct tk_error *err)
{
    struct tk_db *db = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    out->newest = tk_db_schema_version();
    rc = tk_db_open(cfg, &db, err);
    out->driver = tk_db_driver_name(db); /* the configured driver's, also on failure */
    if (rc == 0) {
        out->version = tk_db_store_version(db);
        tk_db_close(db);
    }
    return rc;
}
