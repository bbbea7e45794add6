/* cmd_calendar.c - the client's calendar (account set/show, the calendar
 * options of account add) and holds (hold, release): issue 14. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#define SETTINGS_USAGE                                                                             \
    "[--timezone ZONE] [--window SPEC] [--holidays nl|none|FILE.ics] [--manager EMAIL] "           \
    "[--digest on|off]"

/* --digest of A into *DIGEST; TK_EUSAGE when it is none of on, off, default. */
static int digest_from(const struct tk_cli_args *a, int *digest, struct tk_error *err)
{
    const char *d = tk_cli_opt(a, "digest");
    *digest = TK_ACCOUNT_KEEP;
    if (!d)
        return 0;
    if (strcmp(d, "on") == 0)
        *digest = 1;
    else if (strcmp(d, "off") == 0)
        *digest = 0;
    else if (strcmp(d, "default") == 0)
        *digest = -1;
    else
        return tk_error_set(err, TK_EUSAGE, "--digest: '%s' is neither on nor off", d);
    return 0;
}

/* The calendar options of A (digest_from checked) into S, checked. */
static int settings_from(struct tk_cli *c, const struct tk_cli_args *a,
                         struct tk_account_settings *s, struct tk_error *err)
{
    int rc;
    memset(s, 0, sizeof *s);
    s->timezone = tk_cli_opt(a, "timezone");
    s->window = tk_cli_opt(a, "window");
    s->holidays = tk_cli_opt(a, "holidays");
    s->manager = tk_cli_opt(a, "manager");
    if ((rc = digest_from(a, &s->digest, err)))
        return rc;
    return tk_engine_account_settings_check(c->e, s, err);
}

int tk_cmd_account_add_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {
        "language=", "timezone=", "window=", "holidays=", "manager=", "digest=", NULL};
    const char *lang;
    int digest, rc;
    if ((rc = tk_cli_parse(argc, argv, spec, a, err)))
        return rc;
    if (a->pos.n != 1)
        return tk_error_set(err, TK_EUSAGE,
                            "usage: tickler account add NAME [--language en|nl] " SETTINGS_USAGE);
    lang = tk_cli_opt(a, "language");
    if (lang && strcmp(lang, "en") != 0 && strcmp(lang, "nl") != 0)
        return tk_error_set(err, TK_EUSAGE, "--language: '%s' is not one of en, nl", lang);
    return digest_from(a, &digest, err);
}

int tk_cmd_account_add(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account_settings s;
    const char *lang = tk_cli_opt(a, "language");
    int64_t id;
    int rc;
    if ((rc = settings_from(c, a, &s, err)) ||
        (rc = tk_engine_account_add(c->e, a->pos.v[0], lang ? lang : "en", &id, err)) ||
        (rc = tk_engine_account_set(c->e, id, &s, err)))
        return rc;
    tk_cli_print_id(c, id);
    return 0;
}

/* A with the defaults in effect filled in, for presenting (strings
 * borrowed from A and the configuration). */
static struct tk_account effective(struct tk_cli *c, const struct tk_account *a)
{
    struct tk_account_view v;
    struct tk_account x = *a;
    tk_engine_account_view(c->e, a, &v);
    x.timezone = (char *)v.timezone;
    x.window = (char *)v.window;
    x.holidays = (char *)v.holidays;
    return x;
}

json_t *tk_cli_json_account(struct tk_cli *c, const struct tk_account *a,
                            const struct tk_contacts *cs)
{
    struct tk_account x = effective(c, a);
    json_t *o = tk_json_account(&x, cs);
    json_object_set_new(o, "digest_effective", json_boolean(tk_engine_digest_effective(c->e, a)));
    return o;
}

static int show_account(struct tk_cli *c, const struct tk_account *acc, struct tk_error *err)
{
    struct tk_contacts cs = {0};
    struct tk_account x = effective(c, acc);
    char local[300];
    int rc = tk_engine_contacts_list(c->e, acc->id, 0, &cs, err);
    if (rc)
        return rc;
    if (c->json) {
        json_t *o = tk_json_account(&x, &cs);
        json_object_set_new(o, "digest_effective",
                            json_boolean(tk_engine_digest_effective(c->e, acc)));
        json_object_set_new(o, "created_at", tk_json_time(acc->created_at));
        tk_cli_emit(o);
    } else {
        tk_engine_account_local_time(c->e, acc, tk_engine_now(c->e), local, sizeof local);
        printf("account %lld: %s\n", (long long)acc->id, tk_cli_text(acc->name));
        printf("  language:   %s\n", tk_cli_text(acc->language));
        printf("  timezone:   %s%s (now %s)\n", tk_cli_text(x.timezone),
               acc->timezone ? "" : " (default)", tk_cli_text(local));
        printf("  window:     %s%s\n", tk_cli_text(x.window), acc->window ? "" : " (default)");
        printf("  holidays:   %s%s\n", tk_cli_text(x.holidays), acc->holidays ? "" : " (default)");
        printf("  manager:    %s\n", acc->manager ? tk_cli_text(acc->manager) : "none");
        printf("  digest:     %s\n", acc->digest == 1   ? "on"
                                     : acc->digest == 0 ? "off"
                                                        : "default");
        printf("  contacts:   %zu\n", cs.n);
    }
    tk_contacts_free(&cs);
    return 0;
}

int tk_cmd_account_set_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {
        "timezone=", "window=", "holidays=", "manager=", "digest=", NULL};
    int digest, rc;
    if ((rc = tk_cli_parse(argc, argv, spec, a, err)))
        return rc;
    if (a->pos.n != 1)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler account set ACCOUNT " SETTINGS_USAGE);
    return digest_from(a, &digest, err);
}

int tk_cmd_account_set(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account_settings s;
    struct tk_account acc = {0}, now = {0};
    int rc;
    if ((rc = settings_from(c, a, &s, err)) || (rc = tk_cli_account(c, a->pos.v[0], &acc, err)) ||
        (rc = tk_engine_account_set(c->e, acc.id, &s, err)) ||
        (rc = tk_engine_account_get(c->e, acc.id, &now, err)))
        goto out;
    rc = show_account(c, &now, err);
out:
    tk_account_free(&now);
    tk_account_free(&acc);
    return rc;
}

int tk_cmd_account_show_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 1, 1, "account show ACCOUNT", a, err);
}

int tk_cmd_account_show(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    int rc;
    if ((rc = tk_cli_account(c, a->pos.v[0], &acc, err)) == 0)
        rc = show_account(c, &acc, err);
    tk_account_free(&acc);
    return rc;
}

/* ---- holds --------------------------------------------------------------- */

static void print_count(struct tk_cli *c, const char *what, const struct tk_account *acc, size_t n)
{
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "account", json_integer(acc->id));
        json_object_set_new(o, "result", tk_json_str(what));
        json_object_set_new(o, "items", json_integer((json_int_t)n));
        tk_cli_emit(o);
    } else {
        printf("account %s: %zu item%s %s\n", tk_cli_text(acc->name), n, n == 1 ? "" : "s", what);
    }
}

static void print_item(struct tk_cli *c, int64_t id, const char *what)
{
    struct tk_item it;
    struct tk_error err;
    memset(&it, 0, sizeof it);
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "result", tk_json_str(what));
        if (tk_engine_item_get(c->e, id, &it, &err) == 0) {
            json_t *full = tk_json_item(&it, NULL);
            json_object_set(o, "hold", json_object_get(full, "hold"));
            json_decref(full);
        }
        tk_cli_emit(o);
    } else {
        printf("item %lld: %s\n", (long long)id, what);
    }
    tk_item_free(&it);
}

/* --until of A into *UNTIL (0 when not given). */
static int until_from(const struct tk_cli_args *a, tk_time *until, struct tk_error *err)
{
    const char *v = tk_cli_opt(a, "until");
    *until = 0;
    if (v && tk_time_parse(v, until))
        return tk_error_set(err, TK_EUSAGE,
                            "--until: '%s' is not a time like 2026-12-24 or 2026-12-24T09:00:00Z",
                            v);
    return 0;
}

int tk_cmd_hold_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"account=", "until=", "reason=", NULL};
    tk_time until;
    int rc;
    if ((rc = tk_cli_parse(argc, argv, spec, a, err)))
        return rc;
    if ((a->pos.n == 1) == (tk_cli_opt(a, "account") != NULL))
        return tk_error_set(err, TK_EUSAGE,
                            "usage: tickler hold ITEM|--account ACCOUNT [--until TIME] "
                            "[--reason TEXT]");
    if ((rc = until_from(a, &until, err)))
        return rc;
    return a->pos.n == 1 ? tk_cli_id(a->pos.v[0], "ITEM", &a->id, err) : 0;
}

int tk_cmd_hold(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    const char *reason = tk_cli_opt(a, "reason");
    tk_time until;
    size_t n = 0;
    int rc;
    if ((rc = until_from(a, &until, err)))
        return rc;
    if (a->id) {
        if ((rc = tk_engine_hold_item(c->e, a->id, until, reason, err)))
            goto out;
        print_item(c, a->id, "on hold");
    } else {
        if ((rc = tk_cli_account(c, tk_cli_opt(a, "account"), &acc, err)) ||
            (rc = tk_engine_hold_account(c->e, acc.id, until, reason, &n, err)))
            goto out;
        print_count(c, "on hold", &acc, n);
    }
out:
    tk_account_free(&acc);
    return rc;
}

int tk_cmd_release_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"account=", NULL};
    int rc;
    if ((rc = tk_cli_parse(argc, argv, spec, a, err)))
        return rc;
    if ((a->pos.n == 1) == (tk_cli_opt(a, "account") != NULL))
        return tk_error_set(err, TK_EUSAGE, "usage: tickler release ITEM|--account ACCOUNT");
    return a->pos.n == 1 ? tk_cli_id(a->pos.v[0], "ITEM", &a->id, err) : 0;
}

int tk_cmd_release(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    size_t n = 0;
    int rc;
    if (a->id) {
        if ((rc = tk_engine_release_item(c->e, a->id, err)))
            goto out;
        print_item(c, a->id, "released");
    } else {
        if ((rc = tk_cli_account(c, tk_cli_opt(a, "account"), &acc, err)) ||
            (rc = tk_engine_release_account(c->e, acc.id, &n, err)))
            goto out;
        print_count(c, "released", &acc, n);
    }
out:
    tk_account_free(&acc);
    return rc;
}
