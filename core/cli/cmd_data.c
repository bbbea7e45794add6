/* cmd_data.c - the data lifecycle (docs/data.md): account rename and
 * remove, contact remove, export, erase, backup and restore. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

int tk_cmd_account_rename_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 2, 2, "account rename ACCOUNT NEWNAME", a, err);
}

int tk_cmd_account_rename(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    int rc;
    if ((rc = tk_engine_account_check(a->pos.v[1], NULL, err)) ||
        (rc = tk_cli_account(c, a->pos.v[0], &acc, err)) ||
        (rc = tk_engine_account_rename(c->e, acc.id, a->pos.v[1], err)))
        goto out;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(acc.id));
        json_object_set_new(o, "name", tk_json_str(a->pos.v[1]));
        json_object_set_new(o, "was", tk_json_str(acc.name));
        tk_cli_emit(o);
    } else {
        printf("account %lld: '%s' is now '%s'\n", (long long)acc.id, tk_cli_text(acc.name),
               tk_cli_text(a->pos.v[1]));
    }
out:
    tk_account_free(&acc);
    return rc;
}

int tk_cmd_account_remove_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"force", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (!rc && a->pos.n != 1)
        rc = tk_error_set(err, TK_EUSAGE, "usage: tickler account remove ACCOUNT [--force]");
    return rc;
}

int tk_cmd_account_remove(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    struct tk_account_removal r;
    int rc;
    if ((rc = tk_cli_account(c, a->pos.v[0], &acc, err)) ||
        (rc = tk_engine_account_remove(c->e, acc.id, tk_cli_opt(a, "force") != NULL, &r, err)))
        goto out;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(acc.id));
        json_object_set_new(o, "contacts", json_integer(r.contacts));
        json_object_set_new(o, "items", json_integer(r.items));
        json_object_set_new(o, "withdrawn", json_integer(r.withdrawn));
        json_object_set_new(o, "jobs", json_integer(r.jobs));
        json_object_set_new(o, "messages", json_integer(r.messages));
        tk_cli_emit(o);
    } else {
        printf("account %lld '%s' removed: %lld contacts, %lld items (%lld withdrawn), %lld jobs, "
               "%lld messages; the audit trail keeps its entries\n",
               (long long)acc.id, tk_cli_text(acc.name), (long long)r.contacts, (long long)r.items,
               (long long)r.withdrawn, (long long)r.jobs, (long long)r.messages);
    }
out:
    tk_account_free(&acc);
    return rc;
}

int tk_cmd_contact_remove_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 2, 2, "contact remove ACCOUNT EMAIL", a, err);
}

int tk_cmd_contact_remove(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    int64_t cancelled = 0;
    int rc;
    if ((rc = tk_cli_account(c, a->pos.v[0], &acc, err)) ||
        (rc = tk_engine_contact_remove(c->e, acc.id, a->pos.v[1], &cancelled, err)))
        goto out;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "account", json_integer(acc.id));
        json_object_set_new(o, "email", tk_json_str(a->pos.v[1]));
        json_object_set_new(o, "cancelled", json_integer(cancelled));
        tk_cli_emit(o);
    } else {
        printf("%s removed from %s; %lld queued message%s cancelled\n", tk_cli_text(a->pos.v[1]),
               tk_cli_text(acc.name), (long long)cancelled, cancelled == 1 ? "" : "s");
    }
out:
    tk_account_free(&acc);
    return rc;
}

/* ---- export ----------------------------------------------------------- */

struct export_ctx {
    struct tk_cli *c;
    json_t *arr;
    struct tk_error *err;
};

static int export_item(void *u, const struct tk_item *it)
{
    struct export_ctx *x = u;
    return json_array_append_new(x->arr, tk_json_item(it, NULL)) ? TK_ENOMEM : 0;
}

static int export_job(void *u, const struct tk_job *j)
{
    struct export_ctx *x = u;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = tk_engine_job_items(x->c->e, j->id, &ids, &n, x->err);
    if (rc == 0) {
        json_t *o = tk_json_job(j, ids, n);
        json_object_set_new(o, "created_at", tk_json_time(j->created_at));
        json_object_set_new(o, "updated_at", tk_json_time(j->updated_at));
        rc = json_array_append_new(x->arr, o) ? TK_ENOMEM : 0;
    }
    free(ids);
    return rc;
}

static int export_audit(void *u, const struct tk_audit_entry *ae)
{
    struct export_ctx *x = u;
    return json_array_append_new(x->arr, tk_json_audit(ae)) ? TK_ENOMEM : 0;
}

/* The outbox record as `outbox --json` shows it, plus what the export owes
 * the client: the envelope, the idempotency key and the text itself. */
static int export_message(void *u, const struct tk_outbox_row *r)
{
    struct export_ctx *x = u;
    json_t *o = tk_json_outbox(r);
    json_object_set_new(o, "sender", tk_json_str(r->sender));
    json_object_set_new(o, "idem_key", tk_json_str(r->idem_key));
    json_object_set_new(o, "text", r->data ? tk_json_str(r->data) : json_null());
    json_object_set_new(o, "text_dropped_at", tk_json_time(r->data_dropped_at));
    return json_array_append_new(x->arr, o) ? TK_ENOMEM : 0;
}

static json_t *array_at(json_t *doc, const char *key)
{
    json_t *a = json_array();
    json_object_set_new(doc, key, a);
    return a;
}

int tk_cmd_export_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"account=", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (!rc && (a->pos.n != 0 || !tk_cli_opt(a, "account")))
        rc = tk_error_set(err, TK_EUSAGE, "usage: tickler export --account ACCOUNT");
    return rc;
}

int tk_cmd_export(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    struct tk_contacts cs = {0};
    struct tk_engine_store_info si;
    struct tk_item_filter f = {0};
    struct export_ctx x = {c, NULL, err};
    json_t *doc = NULL, *acc_o, *arr;
    int rc, tx = 0;
    /* One read transaction: every part from the same moment. */
    if ((rc = tk_engine_begin(c->e, TK_TX_SNAPSHOT, err)))
        goto out;
    tx = 1;
    if ((rc = tk_cli_account(c, tk_cli_opt(a, "account"), &acc, err)) ||
        (rc = tk_engine_contacts_list(c->e, acc.id, 0, &cs, err)))
        goto out;
    tk_engine_store_info(c->e, &si);
    doc = json_object();
    json_object_set_new(doc, "tickler_export", json_integer(1));
    json_object_set_new(doc, "schema_version", json_integer(si.schema_version));
    json_object_set_new(doc, "exported_at", tk_json_time(tk_engine_now(c->e)));
    acc_o = tk_json_account(&acc, &cs);
    json_object_set_new(acc_o, "created_at", tk_json_time(acc.created_at));
    json_object_set_new(doc, "account", acc_o);
    arr = array_at(doc, "contacts");
    for (size_t i = 0; i < cs.n; i++)
        json_array_append_new(arr, tk_json_contact(&cs.v[i]));
    f.account_id = acc.id;
    x.arr = array_at(doc, "items");
    if ((rc = tk_engine_items_each(c->e, &f, export_item, &x, err)))
        goto out;
    x.arr = array_at(doc, "jobs");
    if ((rc = tk_engine_jobs_each(c->e, acc.id, export_job, &x, err)))
        goto out;
    x.arr = array_at(doc, "audit");
    if ((rc = tk_engine_audit_each(c->e, acc.id, 0, export_audit, &x, err)))
        goto out;
    x.arr = array_at(doc, "outbox");
    if ((rc = tk_engine_account_outbox_each(c->e, acc.id, export_message, &x, err)))
        goto out;
    tk_cli_emit(doc);
    doc = NULL;
out:
    if (rc == TK_ENOMEM && !err->msg[0])
        tk_error_set(err, TK_ENOMEM, "export: out of memory");
    if (tx)
        tk_engine_rollback(c->e); /* read only: nothing to keep */
    json_decref(doc);
    tk_contacts_free(&cs);
    tk_account_free(&acc);
    return rc;
}

int tk_cmd_erase_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"contact=", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (!rc && (a->pos.n != 0 || !tk_cli_opt(a, "contact")))
        rc = tk_error_set(err, TK_EUSAGE, "usage: tickler erase --contact EMAIL");
    return rc;
}

int tk_cmd_erase(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_erasure r;
    int rc;
    if ((rc = tk_engine_erase_contact(c->e, tk_cli_opt(a, "contact"), &r, err)))
        return rc;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "marker", tk_json_str(r.marker));
        json_object_set_new(o, "accounts", json_integer(r.accounts));
        json_object_set_new(o, "contacts", json_integer(r.contacts));
        json_object_set_new(o, "messages", json_integer(r.messages));
        json_object_set_new(o, "cancelled", json_integer(r.cancelled));
        json_object_set_new(o, "audit", json_integer(r.audit));
        tk_cli_emit(o);
    } else {
        printf("erased: now %s; %lld contact%s removed from %lld account%s, %lld message%s kept "
               "without the address (%lld queued cancelled), %lld audit entr%s rewritten\n",
               r.marker, (long long)r.contacts, r.contacts == 1 ? "" : "s", (long long)r.accounts,
               r.accounts == 1 ? "" : "s", (long long)r.messages, r.messages == 1 ? "" : "s",
               (long long)r.cancelled, (long long)r.audit, r.audit == 1 ? "y" : "ies");
    }
    return 0;
}

int tk_cmd_backup_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    int rc = tk_cli_words(argc, argv, 1, 1, "backup FILE", a, err);
    if (!rc && (!argv[0][0] || argv[0][0] == '-'))
        rc = tk_error_set(err, TK_EUSAGE, "usage: tickler backup FILE");
    return rc;
}

int tk_cmd_backup(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    int rc;
    if ((rc = tk_engine_backup(c->e, a->pos.v[0], err)))
        return rc;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "file", tk_json_str(a->pos.v[0]));
        tk_cli_emit(o);
    } else {
        printf("backup written to %s\n", tk_cli_text(a->pos.v[0]));
    }
    return 0;
}

int tk_cmd_restore_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    int rc = tk_cli_words(argc, argv, 1, 1, "restore FILE", a, err);
    if (!rc && (!argv[0][0] || argv[0][0] == '-'))
        rc = tk_error_set(err, TK_EUSAGE, "usage: tickler restore FILE");
    return rc;
}

int tk_cmd_restore(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    int rc, version = 0;
    if ((rc = tk_engine_restore(c->e, a->pos.v[0], &version, err)))
        return rc;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "file", tk_json_str(a->pos.v[0]));
        json_object_set_new(o, "schema_version", json_integer(version));
        tk_cli_emit(o);
    } else {
        printf("store restored from %s (schema version %d)\n", tk_cli_text(a->pos.v[0]), version);
    }
    return 0;
}
