/* cmd_user.c - the staff console's users (issue 18, docs/console.md).
 *
 * A password is read from stdin only (--password-stdin), never from
 * argv, where every user of the machine could read it in /proc. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

/* Longest password read, plus room to tell that it was longer. */
#define PASSWORD_BUF 1026

/* The password: stdin up to its end, one trailing newline (and a CR before
 * it) dropped, so that both `echo pw |` and `printf pw |` work.  The buffer
 * is wiped by the caller. */
static int read_password(char *buf, size_t size, struct tk_error *err)
{
    size_t n = fread(buf, 1, size - 1, stdin);
    if (ferror(stdin))
        return tk_error_set(err, TK_EIO, "--password-stdin: could not read stdin");
    buf[n] = '\0';
    if (n == size - 1 && fgetc(stdin) != EOF)
        return tk_error_set(err, TK_EINVAL, "a password is 8 to 1024 bytes");
    if (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (n && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return tk_engine_password_check(buf, n, err);
}

/* NAME --password-stdin [--language L]: what add and password share. */
static int parse(int argc, char **argv, const char *const *spec, const char *usage,
                 struct tk_cli_args *a, struct tk_error *err)
{
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (rc)
        return rc;
    if (a->pos.n != 1 || !tk_cli_opt(a, "password-stdin"))
        return tk_error_set(err, TK_EUSAGE, "usage: tickler %s", usage);
    return 0;
}

int tk_cmd_user_add_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"language=", "password-stdin", NULL};
    const char *lang;
    int rc = parse(argc, argv, spec, "user add NAME [--language en|nl] --password-stdin", a, err);
    if (rc)
        return rc;
    lang = tk_cli_opt(a, "language");
    if (lang && strcmp(lang, "en") != 0 && strcmp(lang, "nl") != 0)
        return tk_error_set(err, TK_EUSAGE, "--language: '%s' is not one of en, nl", lang);
    return 0;
}

int tk_cmd_user_add(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    char pw[PASSWORD_BUF];
    const char *lang = tk_cli_opt(a, "language");
    int64_t id;
    int rc;
    pw[0] = '\0';
    /* the name first: a bad name is refused before a password is asked */
    if ((rc = tk_engine_user_check(a->pos.v[0], lang, err)) ||
        (rc = read_password(pw, sizeof pw, err)) ||
        (rc = tk_engine_user_add(c->e, a->pos.v[0], lang, pw, &id, err)))
        goto out;
    tk_cli_print_id(c, id);
out:
    sodium_memzero(pw, sizeof pw);
    return rc;
}

int tk_cmd_user_password_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"password-stdin", NULL};
    return parse(argc, argv, spec, "user password NAME --password-stdin", a, err);
}

int tk_cmd_user_password(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    char pw[PASSWORD_BUF];
    const char *name = a->pos.v[0];
    int rc;
    pw[0] = '\0';
    if ((rc = tk_engine_user_check(name, NULL, err)) || (rc = read_password(pw, sizeof pw, err)) ||
        (rc = tk_engine_user_set_password(c->e, name, pw, err)))
        goto out;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "name", tk_json_str(name));
        json_object_set_new(o, "password", json_string("changed"));
        tk_cli_emit(o);
    } else {
        printf("%s: password changed\n", tk_cli_text(name));
    }
out:
    sodium_memzero(pw, sizeof pw);
    return rc;
}

static int print_user(void *u, const struct tk_user *us)
{
    struct tk_cli_list *l = u;
    char when[32];
    if (l->arr)
        json_array_append_new(l->arr, tk_json_user(us));
    else
        printf("%-6lld %-30s %-4s %s\n", (long long)us->id, tk_cli_text(us->name),
               tk_cli_text(us->language), tk_time_format(us->created_at, when, sizeof when));
    return 0;
}

int tk_cmd_user_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 0, 0, "user list", a, err);
}

int tk_cmd_user_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_cli_list l;
    (void)a;
    tk_cli_list_begin(&l, c, err);
    return tk_cli_list_end(&l, tk_engine_users_each(c->e, print_user, &l, err));
}

int tk_cmd_user_remove_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 1, 1, "user remove NAME", a, err);
}

int tk_cmd_user_remove(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    const char *name = a->pos.v[0];
    int rc;
    if ((rc = tk_engine_user_remove(c->e, name, err)))
        return rc;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "name", tk_json_str(name));
        json_object_set_new(o, "removed", json_true());
        tk_cli_emit(o);
    } else {
        printf("%s: removed\n", tk_cli_text(name));
    }
    return 0;
}
