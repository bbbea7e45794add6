/* output.c - printing: the one JSON document of --json, lists, new ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void tk_cli_emit(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(j);
}

void tk_cli_print_id(struct tk_cli *c, int64_t id)
{
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(id));
        tk_cli_emit(o);
    } else {
        printf("%lld\n", (long long)id);
    }
}

void tk_cli_list_begin(struct tk_cli_list *l, struct tk_cli *c, struct tk_error *err)
{
    l->c = c;
    l->arr = c->json ? json_array() : NULL;
    l->n = 0;
    l->err = err;
}

int tk_cli_list_end(struct tk_cli_list *l, int rc)
{
    if (l->arr) {
        if (rc)
            json_decref(l->arr);
        else
            tk_cli_emit(l->arr);
        l->arr = NULL;
    }
    return rc;
}
