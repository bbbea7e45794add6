/* cmd_account.c - accounts and contacts (R1: who is notified). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static int print_account(void *u, const struct tk_account *acc)
{
    struct tk_cli_list *l = u;
    struct tk_contacts cs = {0};
    struct tk_error err;
    size_t notified = 0;
    if (tk_engine_contacts_list(l->c->e, acc->id, 0, &cs, &err) == 0)
        for (size_t i = 0; i < cs.n; i++)
            notified += cs.v[i].notify != 0;
    if (l->arr) {
        json_array_append_new(l->arr, tk_cli_json_account(l->c, acc, &cs));
    } else {
        printf("%-6lld %-30s %-4s %zu contact%s, %zu notified\n", (long long)acc->id,
               tk_cli_text(acc->name), tk_cli_text(acc->language), cs.n, cs.n == 1 ? "" : "s",
               notified);
    }
    tk_contacts_free(&cs);
    return 0;
}

int tk_cmd_account_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 0, 0, "account list", a, err);
}

int tk_cmd_account_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_cli_list l;
    (void)a;
    tk_cli_list_begin(&l, c, err);
    return tk_cli_list_end(&l, tk_engine_accounts_each(c->e, print_account, &l, err));
}

int tk_cmd_contact_add_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"name=", "no-notify", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (!rc && a->pos.n != 2)
        rc = tk_error_set(err, TK_EUSAGE,
                          "usage: tickler contact add ACCOUNT EMAIL [--name NAME] [--no-notify]");
    return rc;
}

int tk_cmd_contact_add(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    const char *name = tk_cli_opt(a, "name");
    int64_t id;
    int rc;
    if ((rc = tk_engine_contact_check(a->pos.v[1], name, err)) ||
        (rc = tk_cli_account(c, a->pos.v[0], &acc, err)) ||
        (rc = tk_engine_contact_add(c->e, acc.id, a->pos.v[1], name, !tk_cli_opt(a, "no-notify"),
                                    &id, err)))
        goto out;
    tk_cli_print_id(c, id);
out:
    tk_account_free(&acc);
    return rc;
}

int tk_cmd_contact_notify_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char use[] = "contact notify ACCOUNT EMAIL on|off";
    int rc = tk_cli_words(argc, argv, 3, 3, use, a, err);
    if (!rc && strcmp(argv[2], "on") != 0 && strcmp(argv[2], "off") != 0)
        rc = tk_error_set(err, TK_EUSAGE, "usage: tickler %s", use);
    return rc;
}

int tk_cmd_contact_notify(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    struct tk_contact ct = {0};
    int on = strcmp(a->pos.v[2], "on") == 0, rc;
    if ((rc = tk_cli_account(c, a->pos.v[0], &acc, err)) ||
        (rc = tk_engine_contact_set_notify(c->e, acc.id, a->pos.v[1], on, &ct, err)))
        goto out;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "email", tk_json_str(ct.email));
        json_object_set_new(o, "notify", json_boolean(on));
        tk_cli_emit(o);
    } else {
        printf("%s: notify %s\n", tk_cli_text(ct.email), on ? "on" : "off");
    }
out:
    tk_contact_free(&ct);
    tk_account_free(&acc);
    return rc;
}

int tk_cmd_contact_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 1, 1, "contact list ACCOUNT", a, err);
}

int tk_cmd_contact_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    struct tk_contacts cs = {0};
    int rc;
    if ((rc = tk_cli_account(c, a->pos.v[0], &acc, err)) ||
        (rc = tk_engine_contacts_list(c->e, acc.id, 0, &cs, err)))
        goto out;
    if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < cs.n; i++)
            json_array_append_new(arr, tk_json_contact(&cs.v[i]));
        tk_cli_emit(arr);
    } else {
        printf("%s (%s): %zu contact%s\n", tk_cli_text(acc.name), tk_cli_text(acc.language), cs.n,
               cs.n == 1 ? "" : "s");
        for (size_t i = 0; i < cs.n; i++) {
            char when[32];
            printf("  %-36s %-28s %s", tk_cli_text(cs.v[i].email),
                   cs.v[i].name ? tk_cli_text(cs.v[i].name) : "-",
                   cs.v[i].notify ? "notified" : "not notified");
            if (cs.v[i].suppressed_reason)
                printf("  SUPPRESSED %s: %s",
                       tk_time_format(cs.v[i].suppressed_at, when, sizeof when),
                       tk_cli_text(cs.v[i].suppressed_reason));
            putchar('\n');
        }
    }
out:
    tk_contacts_free(&cs);
    tk_account_free(&acc);
    return rc;
}

int tk_cmd_contact_unsuppress_parse(int argc, char **argv, struct tk_cli_args *a,
                                    struct tk_error *err)
{
    return tk_cli_words(argc, argv, 2, 2, "contact unsuppress ACCOUNT EMAIL", a, err);
}

int tk_cmd_contact_unsuppress(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    const char *email = a->pos.v[1];
    int rc;
    if ((rc = tk_cli_account(c, a->pos.v[0], &acc, err)) ||
        (rc = tk_engine_contact_unsuppress(c->e, acc.id, email, err)))
        goto out;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "email", tk_json_str(email));
        json_object_set_new(o, "suppressed", json_null());
        tk_cli_emit(o);
    } else {
        printf("%s: no longer suppressed\n", tk_cli_text(email));
    }
out:
    tk_account_free(&acc);
    return rc;
}
