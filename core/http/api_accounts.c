/* api_accounts.c - /api/v1/accounts: accounts, contacts, to-do lists and
 * the plugins' bulk commands, through the engine functions the CLI's
 * account, contact, todo and bulk commands call. */
#include <string.h>

#include "http/api.h"

int tk_api_account(struct tk_engine *e, const char *id_or_name, struct tk_account *out,
                   struct tk_error *err)
{
    return tk_engine_account_find(e, id_or_name ? id_or_name : "", out, err);
}

/* The account of the path's {account} (an id or a name). */
static int path_account(struct tk_http_ctx *x, struct tk_account *a, struct tk_error *err)
{
    return tk_api_account(x->e, tk_http_param(x->req, "account"), a, err);
}

static json_t *account_json(struct tk_engine *e, const struct tk_account *a)
{
    struct tk_contacts cs = {0};
    struct tk_error err = {0};
    json_t *j;
    tk_engine_contacts_list(e, a->id, 0, &cs, &err);
    j = tk_json_account(a, &cs);
    json_object_set_new(j, "digest_effective", json_boolean(tk_engine_digest_effective(e, a)));
    tk_contacts_free(&cs);
    return j;
}

static int each_account(void *u, const struct tk_account *a)
{
    void **p = u;
    json_array_append_new(p[1], account_json(p[0], a));
    return 0;
}

static int accounts_list(struct tk_http_ctx *x, struct tk_error *err)
{
    json_t *arr = json_array();
    void *p[2] = {x->e, arr};
    int rc = tk_engine_accounts_each(x->e, each_account, p, err);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    return tk_http_res_json(x->res, 200, arr);
}

static int accounts_add(struct tk_http_ctx *x, struct tk_error *err)
{
    static const char *const allowed[] = {"name", "language", NULL};
    json_t *b = NULL;
    const char *name, *lang;
    struct tk_account a = {0};
    int64_t id = 0;
    int rc;
    if ((rc = tk_api_body(x->req, 0, &b, err)) || (rc = tk_api_only(b, allowed, err)) ||
        (rc = tk_api_string(b, "name", 1, &name, err)) ||
        (rc = tk_api_string(b, "language", 0, &lang, err)) ||
        (rc = tk_engine_account_check(name, lang, err)) ||
        (rc = tk_engine_account_add(x->e, name, lang, &id, err)) ||
        (rc = tk_engine_account_get(x->e, id, &a, err)))
        goto out;
    rc = tk_http_res_json(x->res, 201, account_json(x->e, &a));
out:
    tk_account_free(&a);
    json_decref(b);
    return rc;
}

static int accounts_get(struct tk_http_ctx *x, struct tk_error *err)
{
    struct tk_account a = {0};
    int rc = path_account(x, &a, err);
    if (!rc)
        rc = tk_http_res_json(x->res, 200, account_json(x->e, &a));
    tk_account_free(&a);
    return rc;
}

static int contacts_list(struct tk_http_ctx *x, struct tk_error *err)
{
    struct tk_account a = {0};
    struct tk_contacts cs = {0};
    int rc;
    if (!(rc = path_account(x, &a, err)) &&
        !(rc = tk_engine_contacts_list(x->e, a.id, 0, &cs, err))) {
        json_t *arr = json_array();
        for (size_t i = 0; i < cs.n; i++)
            json_array_append_new(arr, tk_json_contact(&cs.v[i]));
        rc = tk_http_res_json(x->res, 200, arr);
    }
    tk_contacts_free(&cs);
    tk_account_free(&a);
    return rc;
}

/* The contact of ACCOUNT whose id is ID, as JSON (NULL when not found). */
static json_t *contact_json(struct tk_engine *e, int64_t account, int64_t id, struct tk_error *err)
{
    struct tk_contacts cs = {0};
    json_t *j = NULL;
    if (tk_engine_contacts_list(e, account, 0, &cs, err))
        return NULL;
    for (size_t i = 0; i < cs.n && !j; i++)
        if (cs.v[i].id == id)
            j = tk_json_contact(&cs.v[i]);
    tk_contacts_free(&cs);
    if (!j)
        tk_error_set(err, TK_ENOTFOUND, "no contact %lld", (long long)id);
    return j;
}

static int contacts_add(struct tk_http_ctx *x, struct tk_error *err)
{
    static const char *const allowed[] = {"email", "name", "notify", NULL};
    json_t *b = NULL, *j;
    const char *email, *name;
    struct tk_account a = {0};
    int notify = 1, rc;
    int64_t id = 0;
    if ((rc = tk_api_body(x->req, 0, &b, err)) || (rc = tk_api_only(b, allowed, err)) ||
        (rc = tk_api_string(b, "email", 1, &email, err)) ||
        (rc = tk_api_string(b, "name", 0, &name, err)) ||
        (rc = tk_api_bool(b, "notify", &notify, err)) ||
        (rc = tk_engine_contact_check(email, name, err)) || (rc = path_account(x, &a, err)) ||
        (rc = tk_engine_contact_add(x->e, a.id, email, name, notify, &id, err)))
        goto out;
    if (!(j = contact_json(x->e, a.id, id, err))) {
        rc = err->code ? err->code : TK_ERR;
        goto out;
    }
    rc = tk_http_res_json(x->res, 201, j);
out:
    tk_account_free(&a);
    json_decref(b);
    return rc;
}

static int contacts_patch(struct tk_http_ctx *x, struct tk_error *err)
{
    static const char *const allowed[] = {"notify", NULL};
    json_t *b = NULL;
    struct tk_account a = {0};
    struct tk_contact ct = {0};
    int notify = -1, rc;
    if ((rc = tk_api_body(x->req, 0, &b, err)) || (rc = tk_api_only(b, allowed, err)) ||
        (rc = tk_api_bool(b, "notify", &notify, err)))
        goto out;
    if (notify < 0) {
        rc = tk_error_set(err, TK_EINVAL, "field 'notify' is required");
        goto out;
    }
    if ((rc = path_account(x, &a, err)) ||
        (rc = tk_engine_contact_set_notify(x->e, a.id, tk_http_param(x->req, "email"), notify, &ct,
                                           err)))
        goto out;
    rc = tk_http_res_json(x->res, 200, tk_json_contact(&ct));
out:
    tk_contact_free(&ct);
    tk_account_free(&a);
    json_decref(b);
    return rc;
}

struct todo_ctx {
    json_t *arr;
    int n;
};

static int todo_one(void *u, const struct tk_item *it)
{
    struct todo_ctx *t = u;
    json_t *o = tk_json_item(it, NULL);
    json_object_set_new(o, "position", json_integer(++t->n));
    json_array_append_new(t->arr, o);
    return 0;
}

static int todo(struct tk_http_ctx *x, struct tk_error *err)
{
    struct tk_account a = {0};
    struct tk_item_filter f;
    struct todo_ctx t = {NULL, 0};
    int rc;
    memset(&f, 0, sizeof f);
    if ((rc = path_account(x, &a, err)))
        return rc;
    f.account_id = a.id;
    f.pending_only = 1;
    f.todo_order = 1;
    t.arr = json_array();
    if ((rc = tk_engine_items_each(x->e, &f, todo_one, &t, err)))
        json_decref(t.arr);
    else
        rc = tk_http_res_json(x->res, 200, t.arr);
    tk_account_free(&a);
    return rc;
}

/* ?dry_run=true: what the command would send, nothing written. */
static int bulk_dry(void *u, const struct tk_bulk_preview *p)
{
    json_t *o = u, *ids = json_array(), *mails = json_array();
    for (size_t i = 0; i < p->nitems; i++)
        json_array_append_new(ids, json_integer(p->item_ids[i]));
    for (size_t i = 0; i < p->nmails; i++) {
        json_t *m = json_object();
        json_object_set_new(m, "to", json_string(p->mails[i].to));
        json_object_set_new(m, "subject", json_string(p->mails[i].subject));
        json_object_set_new(m, "message", json_string(p->mails[i].message));
        json_array_append_new(mails, m);
    }
    json_object_set_new(o, "items", json_integer((json_int_t)p->nitems));
    json_object_set_new(o, "item_ids", ids);
    json_object_set_new(o, "mails", mails);
    return 0;
}

static int bulk(struct tk_http_ctx *x, struct tk_error *err)
{
    static const char *const allowed[] = {"message", NULL};
    const struct tk_bulk_spec *spec = NULL;
    const char *cmd = tk_http_param(x->req, "command"), *msg, *dry;
    struct tk_account a = {0};
    char db[16];
    json_t *b = NULL, *o = NULL;
    int n = 0, dry_run = 0, rc;
    err->code = 0;
    if ((dry = tk_http_query(x->req, "dry_run", db, sizeof db, err))) {
        if (strcmp(dry, "true") == 0)
            dry_run = 1;
        else if (strcmp(dry, "false") != 0)
            return tk_error_set(err, TK_EINVAL, "dry_run: '%s' is neither true nor false", dry);
    } else if (err->code) {
        return err->code;
    }
    if ((rc = tk_api_body(x->req, 1, &b, err)) || (rc = tk_api_only(b, allowed, err)) ||
        (rc = tk_api_string(b, "message", 0, &msg, err)))
        goto out;
    if (!tk_registry_bulk(tk_engine_plugins(x->e), cmd, &spec)) {
        rc = tk_error_set(err, TK_ENOTFOUND, "no bulk command '%s'", cmd);
        goto out;
    }
    if ((rc = path_account(x, &a, err)))
        goto out;
    o = json_object();
    json_object_set_new(o, "account", json_integer(a.id));
    if (dry_run) {
        json_object_set_new(o, "dry_run", json_true());
        rc = tk_engine_bulk_preview(x->e, cmd, a.id, msg, bulk_dry, o, err);
    } else if ((rc = tk_engine_bulk(x->e, cmd, a.id, msg, &n, err)) == 0) {
        json_object_set_new(o, "items", json_integer(n));
    }
    if (rc == 0) {
        rc = tk_http_res_json(x->res, 200, o);
        o = NULL;
    }
out:
    json_decref(o);
    tk_account_free(&a);
    json_decref(b);
    return rc;
}

static const struct tk_http_route routes[] = {
    {"GET", "/api/v1/accounts", TK_ROUTE_TOKEN, "read", accounts_list},
    {"POST", "/api/v1/accounts", TK_ROUTE_TOKEN | TK_ROUTE_WRITE, "write", accounts_add},
    {"GET", "/api/v1/accounts/{account}", TK_ROUTE_TOKEN, "read", accounts_get},
    {"GET", "/api/v1/accounts/{account}/contacts", TK_ROUTE_TOKEN, "read", contacts_list},
    {"POST", "/api/v1/accounts/{account}/contacts", TK_ROUTE_TOKEN | TK_ROUTE_WRITE, "write",
     contacts_add},
    {"PATCH", "/api/v1/accounts/{account}/contacts/{email}", TK_ROUTE_TOKEN | TK_ROUTE_WRITE,
     "write", contacts_patch},
    {"GET", "/api/v1/accounts/{account}/todo", TK_ROUTE_TOKEN, "read", todo},
    {"POST", "/api/v1/accounts/{account}/bulk/{command}", TK_ROUTE_TOKEN | TK_ROUTE_WRITE, "write",
     bulk},
};

int tk_http_api_accounts_routes(struct tk_http_router *r, struct tk_error *err)
{
    return tk_http_router_add(r, routes, sizeof routes / sizeof routes[0], err);
}
