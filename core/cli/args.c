/* args.c - option parsing shared by the commands, and argument lookups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *find_spec(const char *const *spec, const char *name, int *takes, int *multi)
{
    size_t n = strlen(name);
    for (; *spec; spec++) {
        if (strncmp(*spec, name, n) == 0 && ((*spec)[n] == '\0' || (*spec)[n] == '=')) {
            *takes = (*spec)[n] == '=';
            *multi = *takes && (*spec)[n + 1] == '*';
            return *spec;
        }
    }
    return NULL;
}

int tk_cli_parse(int argc, char **argv, const char *const *spec, struct tk_cli_args *out,
                 struct tk_error *err)
{
    int only_pos = 0;
    memset(out, 0, sizeof *out);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        char name[64];
        const char *eq, *val = NULL;
        int takes, multi;
        if (only_pos || a[0] != '-' || a[1] != '-' || a[2] == '\0') {
            if (!only_pos && strcmp(a, "--") == 0) {
                only_pos = 1;
                continue;
            }
            if (tk_strv_push(&out->pos, a))
                return tk_error_set(err, TK_ENOMEM, "out of memory");
            continue;
        }
        eq = strchr(a + 2, '=');
        tk_strlcpy(name, a + 2,
                   eq && (size_t)(eq - a - 2) < sizeof name ? (size_t)(eq - a - 2) + 1
                                                            : sizeof name);
        if (!find_spec(spec, name, &takes, &multi))
            return tk_error_set(err, TK_EUSAGE, "unknown option --%s", name);
        if (takes) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return tk_error_set(err, TK_EUSAGE, "option --%s needs a value", name);
        } else if (eq) {
            return tk_error_set(err, TK_EUSAGE, "option --%s takes no value", name);
        }
        if (multi && tk_strv_push(&out->multi, val))
            return tk_error_set(err, TK_ENOMEM, "out of memory");
        if (tk_kv_set(&out->opts, name, val ? val : ""))
            return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    return 0;
}

int tk_cli_words(int argc, char **argv, int min, int max, const char *usage,
                 struct tk_cli_args *out, struct tk_error *err)
{
    memset(out, 0, sizeof *out);
    if (argc < min || argc > max)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler %s", usage);
    for (int i = 0; i < argc; i++)
        if (tk_strv_push(&out->pos, argv[i]))
            return tk_error_set(err, TK_ENOMEM, "out of memory");
    return 0;
}

void tk_cli_args_free(struct tk_cli_args *a)
{
    tk_strv_free(&a->pos);
    tk_kv_free(&a->opts);
    tk_strv_free(&a->multi);
}

const char *tk_cli_opt(const struct tk_cli_args *a, const char *name)
{
    return tk_kv_get(&a->opts, name);
}

int tk_cli_id(const char *s, const char *what, int64_t *out, struct tk_error *err)
{
    if (!s || tk_parse_int(s, 1, INT64_MAX, out))
        return tk_error_set(err, TK_EUSAGE, "%s must be a positive number, not '%s'", what,
                            s ? s : "");
    return 0;
}

int tk_cli_account(struct tk_cli *c, const char *s, struct tk_account *out, struct tk_error *err)
{
    return tk_engine_account_find(c->e, s, out, err);
}
