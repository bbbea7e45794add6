/* cmd_token.c - API tokens (tickler token add/list/revoke): the engine
 * makes and stores them (engine/api.h); the CLI shows a new token once. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "engine/api.h"

int tk_cmd_token_add_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"scope=", NULL};
    int rc;
    if ((rc = tk_cli_parse(argc, argv, spec, a, err)))
        return rc;
    if (a->pos.n != 1 || !tk_cli_opt(a, "scope"))
        return tk_error_set(err, TK_EUSAGE,
                            "usage: tickler token add NAME --scope read|write|admin");
    if (tk_engine_token_scope_check(tk_cli_opt(a, "scope"), err))
        return err->code = TK_EUSAGE;
    return 0;
}

int tk_cmd_token_add(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    char token[TK_TOKEN_CHARS + 1];
    int64_t id = 0;
    int rc;
    if ((rc = tk_engine_token_add(c->e, a->pos.v[0], tk_cli_opt(a, "scope"), token, &id, err)))
        goto out;
    /* The token is printed once, alone on the last line: scripts take the
     * last line (tail -n 1); it is never stored and cannot be shown again. */
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "name", tk_json_str(a->pos.v[0]));
        json_object_set_new(o, "scope", tk_json_str(tk_cli_opt(a, "scope")));
        json_object_set_new(o, "token", tk_json_str(token));
        tk_cli_emit(o);
    } else {
        printf("token %s (scope %s) added; it is shown once, store it now:\n%s\n",
               tk_cli_text(a->pos.v[0]), tk_cli_opt(a, "scope"), token);
    }
    memset(token, 0, sizeof token);
out:
    return rc;
}

static int list_one(void *u, const struct tk_api_token *t)
{
    json_t *arr = ((struct tk_cli_list *)u)->arr;
    char a[32];
    if (arr) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(t->id));
        json_object_set_new(o, "name", tk_json_str(t->name));
        json_object_set_new(o, "scope", tk_json_str(t->scope));
        json_object_set_new(o, "created_at", tk_json_time(t->created_at));
        json_object_set_new(o, "last_used_at", tk_json_time(t->last_used_at));
        json_array_append_new(arr, o);
    } else {
        char b[32];
        printf("%-24s %-6s created %s, last used %s\n", tk_cli_text(t->name), tk_cli_text(t->scope),
               tk_time_format(t->created_at, a, sizeof a),
               t->last_used_at ? tk_time_format(t->last_used_at, b, sizeof b) : "never");
    }
    return 0;
}

int tk_cmd_token_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 0, 0, "token list", a, err);
}

int tk_cmd_token_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_cli_list l;
    (void)a;
    tk_cli_list_begin(&l, c, err);
    return tk_cli_list_end(&l, tk_engine_tokens_each(c->e, list_one, &l, err));
}

int tk_cmd_token_revoke_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 1, 1, "token revoke NAME", a, err);
}

int tk_cmd_token_revoke(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    int rc;
    if ((rc = tk_engine_token_revoke(c->e, a->pos.v[0], err)))
        return rc;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "name", tk_json_str(a->pos.v[0]));
        json_object_set_new(o, "revoked", json_true());
        tk_cli_emit(o);
    } else {
        printf("token %s revoked\n", tk_cli_text(a->pos.v[0]));
    }
    return 0;
}
