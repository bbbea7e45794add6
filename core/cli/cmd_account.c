/* cmd_account.c - accounts and contacts (R1: who is notified). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mail/mail.h"

int tk_cmd_account_add(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    static const char *const spec[] = {"language=", NULL};
    struct tk_cli_args a;
    const char *lang;
    int64_t id;
    int rc;
    if ((rc = tk_cli_parse(argc, argv, spec, &a, err)))
        goto out;
    lang = tk_cli_opt(&a, "language");
    if (a.pos.n != 1) {
        rc = tk_error_set(err, TK_EUSAGE, "usage: tickler account add NAME [--language en|nl]");
        goto out;
    }
    if (!lang)
        lang = "en";
    if (strcmp(lang, "en") != 0 && strcmp(lang, "nl") != 0) {
        rc = tk_error_set(err, TK_EUSAGE, "--language: '%s' is not one of en, nl", lang);
        goto out;
    }
    if (!*a.pos.v[0] || strlen(a.pos.v[0]) > 200 || strpbrk(a.pos.v[0], "\r\n\t") ||
        !tk_utf8_valid(a.pos.v[0], strlen(a.pos.v[0]))) {
        rc = tk_error_set(err, TK_EINVAL, "an account name is one line of 1 to 200 characters");
        goto out;
    }
    if (a.pos.v[0][strspn(a.pos.v[0], "0123456789")] == '\0') {
        rc =
            tk_error_set(err, TK_EINVAL, "an account name cannot be only digits (ids are numbers)");
        goto out;
    }
    if ((rc = tk_store_account_add(c->e->db, a.pos.v[0], lang, c->now, &id, err)) ||
        (rc = tk_store_audit_add(c->e->db, c->now, c->e->actor, id, 0, 0, "account-added",
                                 a.pos.v[0], err)))
        goto out;
    tk_cli_print_id(c, id);
out:
    tk_cli_args_free(&a);
    return rc;
}

struct list_ctx {
    struct tk_cli *c;
    json_t *arr;
};

static int print_account(void *u, const struct tk_account *acc)
{
    struct list_ctx *l = u;
    struct tk_contacts cs = {0};
    struct tk_error err;
    size_t notified = 0;
    if (tk_store_contact_list(l->c->e->db, acc->id, 0, &cs, &err) == 0)
        for (size_t i = 0; i < cs.n; i++)
            notified += cs.v[i].notify != 0;
    if (l->arr) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(acc->id));
        json_object_set_new(o, "name", json_string(acc->name));
        json_object_set_new(o, "language", json_string(acc->language));
        json_object_set_new(o, "contacts", json_integer((json_int_t)cs.n));
        json_object_set_new(o, "notified", json_integer((json_int_t)notified));
        json_array_append_new(l->arr, o);
    } else {
        printf("%-6lld %-30s %-4s %zu contact%s, %zu notified\n", (long long)acc->id, acc->name,
               acc->language, cs.n, cs.n == 1 ? "" : "s", notified);
    }
    tk_contacts_free(&cs);
    return 0;
}

int tk_cmd_account_list(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    struct list_ctx l = {c, c->json ? json_array() : NULL};
    int rc;
    if (argc)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler account list");
    rc = tk_store_account_each(c->e->db, print_account, &l, err);
    if (l.arr) {
        if (!rc)
            tk_cli_emit(l.arr);
        else
            json_decref(l.arr);
    }
    return rc;
}

/* Domains are case-insensitive: store them lower-cased so that one person is
 * one contact. */
static void lower_domain(char *email)
{
    char *at = strrchr(email, '@');
    for (; at && *at; at++)
        *at = (char)tolower((unsigned char)*at);
}

int tk_cmd_contact_add(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    static const char *const spec[] = {"name=", "no-notify", NULL};
    struct tk_cli_args a;
    struct tk_account acc = {0};
    const char *name;
    char *email = NULL, detail[600];
    int64_t id;
    int rc;
    if ((rc = tk_cli_parse(argc, argv, spec, &a, err)))
        goto out;
    if (a.pos.n != 2) {
        rc = tk_error_set(err, TK_EUSAGE,
                          "usage: tickler contact add ACCOUNT EMAIL [--name NAME] [--no-notify]");
        goto out;
    }
    name = tk_cli_opt(&a, "name");
    /* only what the mail builder will send (core/mail/address.c) */
    if ((rc = tk_mail_check_address(a.pos.v[1], err)))
        goto out;
    if (name &&
        (strlen(name) > 200 || !tk_utf8_valid(name, strlen(name)) || strpbrk(name, "\r\n"))) {
        rc = tk_error_set(err, TK_EINVAL, "a contact name is one line of at most 200 characters");
        goto out;
    }
    if (!(email = tk_strdup(a.pos.v[1]))) {
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    lower_domain(email);
    if ((rc = tk_cli_account(c, a.pos.v[0], &acc, err)) ||
        (rc = tk_store_contact_add(c->e->db, acc.id, email, name && *name ? name : NULL,
                                   !tk_cli_opt(&a, "no-notify"), c->now, &id, err)))
        goto out;
    snprintf(detail, sizeof detail, "contact %s added, notify %s", email,
             tk_cli_opt(&a, "no-notify") ? "off" : "on");
    if ((rc = tk_store_audit_add(c->e->db, c->now, c->e->actor, acc.id, 0, 0, "contact-added",
                                 detail, err)))
        goto out;
    tk_cli_print_id(c, id);
out:
    free(email);
    tk_account_free(&acc);
    tk_cli_args_free(&a);
    return rc;
}

int tk_cmd_contact_notify(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    struct tk_account acc = {0};
    char *email = NULL, detail[600];
    int on, rc;
    if (argc != 3 || (strcmp(argv[2], "on") != 0 && strcmp(argv[2], "off") != 0))
        return tk_error_set(err, TK_EUSAGE, "usage: tickler contact notify ACCOUNT EMAIL on|off");
    on = strcmp(argv[2], "on") == 0;
    if (!(email = tk_strdup(argv[1])))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    lower_domain(email);
    if ((rc = tk_cli_account(c, argv[0], &acc, err)) ||
        (rc = tk_store_contact_notify(c->e->db, acc.id, email, on, err)))
        goto out;
    snprintf(detail, sizeof detail, "contact %s: notify %s", email, on ? "on" : "off");
    if ((rc = tk_store_audit_add(c->e->db, c->now, c->e->actor, acc.id, 0, 0, "contact-notify",
                                 detail, err)))
        goto out;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "email", json_string(email));
        json_object_set_new(o, "notify", json_boolean(on));
        tk_cli_emit(o);
    } else {
        printf("%s: notify %s\n", email, on ? "on" : "off");
    }
out:
    free(email);
    tk_account_free(&acc);
    return rc;
}

int tk_cmd_contact_list(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    struct tk_account acc = {0};
    struct tk_contacts cs = {0};
    int rc;
    if (argc != 1)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler contact list ACCOUNT");
    if ((rc = tk_cli_account(c, argv[0], &acc, err)) ||
        (rc = tk_store_contact_list(c->e->db, acc.id, 0, &cs, err)))
        goto out;
    if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < cs.n; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "id", json_integer(cs.v[i].id));
            json_object_set_new(o, "email", json_string(cs.v[i].email));
            json_object_set_new(o, "name", cs.v[i].name ? json_string(cs.v[i].name) : json_null());
            json_object_set_new(o, "notify", json_boolean(cs.v[i].notify));
            json_array_append_new(arr, o);
        }
        tk_cli_emit(arr);
    } else {
        printf("%s (%s): %zu contact%s\n", acc.name, acc.language, cs.n, cs.n == 1 ? "" : "s");
        for (size_t i = 0; i < cs.n; i++)
            printf("  %-36s %-28s %s\n", cs.v[i].email, cs.v[i].name ? cs.v[i].name : "-",
                   cs.v[i].notify ? "notified" : "not notified");
    }
out:
    tk_contacts_free(&cs);
    tk_account_free(&acc);
    return rc;
}
