/* cmd_webhook.c - outbound webhook subscriptions (issue 13,
 * docs/webhooks.md): webhook add, list, remove. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "engine/webhooks.h"

int tk_cmd_webhook_add_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"events=", "secret=", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (rc)
        return rc;
    if (a->pos.n != 1 || !tk_cli_opt(a, "events") || !tk_cli_opt(a, "secret"))
        return tk_error_set(
            err, TK_EUSAGE,
            "usage: tickler webhook add URL --events EVENT[,EVENT...] --secret SECRET "
            "(events: " TK_WEBHOOK_EVENTS ")");
    return 0;
}

int tk_cmd_webhook_add(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    int64_t id = 0;
    int rc = tk_engine_webhook_add(c->e, a->pos.v[0], tk_cli_opt(a, "events"),
                                   tk_cli_opt(a, "secret"), &id, err);
    if (!rc)
        tk_cli_print_id(c, id);
    return rc;
}

static int print_one(void *u, const struct tk_webhook_info *w)
{
    struct tk_cli_list *l = u;
    char at[32];
    if (l->arr) {
        json_array_append_new(l->arr, tk_json_webhook(w));
        return 0;
    }
    tk_time_format(w->created_at, at, sizeof at);
    printf("%-6lld %s  %s  (since %s)\n", (long long)w->id, tk_cli_text(w->url),
           tk_cli_text(w->events), at);
    return 0;
}

int tk_cmd_webhook_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 0, 0, "webhook list", a, err);
}

int tk_cmd_webhook_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_cli_list l;
    (void)a;
    tk_cli_list_begin(&l, c, err);
    return tk_cli_list_end(&l, tk_engine_webhooks_each(c->e, print_one, &l, err));
}

int tk_cmd_webhook_remove_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    int rc = tk_cli_words(argc, argv, 1, 1, "webhook remove ID", a, err);
    return rc ? rc : tk_cli_id(argv[0], "ID", &a->id, err);
}

int tk_cmd_webhook_remove(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    int64_t id = a->id;
    int rc;
    if ((rc = tk_engine_webhook_remove(c->e, id, err)))
        return rc;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "removed", json_integer(id));
        tk_cli_emit(o);
    } else {
        printf("webhook %lld removed\n", (long long)id);
    }
    return 0;
}
