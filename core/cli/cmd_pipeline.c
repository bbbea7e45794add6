/* cmd_pipeline.c - `tickler pipeline list` and `tickler pipeline check FILE`. */
#include <stdio.h>

#include "commands.h"
#include "lua/pipeline.h"

/* Either prints each declaration, or collects the pipelines as JSON in ARR
 * and counts the handlers. */
struct decl_out {
    json_t *arr;
    size_t handlers;
};

static int pipeline_out(void *u, const struct tk_pipeline_info *d)
{
    struct decl_out *o = u;
    if (o->arr) {
        json_array_append_new(o->arr, tk_json_pipeline(d));
        return 0;
    }
    printf("%s  (%s:%d)\n", tk_cli_text(d->name), tk_cli_text(d->script), d->line);
    for (size_t i = 0; i < d->nstages; i++)
        printf("  %zu. %s%s%s\n", i + 1, tk_cli_text(d->stages[i].name),
               d->stages[i].automation ? "  [automation]" : "",
               d->stages[i].when_done ? "  [advances when done]" : "");
    return 0;
}

static int handler_out(void *u, const struct tk_handler_info *h)
{
    struct decl_out *o = u;
    o->handlers++;
    if (!o->arr)
        printf("on %s.%s  (%s)\n", tk_cli_text(h->type), tk_cli_text(h->event),
               tk_cli_text(h->script));
    return 0;
}

int tk_cmd_pipeline_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 0, 0, "pipeline list", a, err);
}

int tk_cmd_pipeline_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    (void)a;
    struct tk_pipelines *p = c->pipelines, *own = NULL;
    /* Listing needs no store: load the scripts here when main() did not. */
    if (!p && c->e) {
        int rc = tk_pipelines_open(c->e, &own, err);
        if (rc)
            return rc;
        p = own;
    }
    struct decl_out o = {c->json ? json_array() : NULL, 0};
    struct tk_pipeline_visitor v = {pipeline_out, handler_out, &o};
    int rc = tk_pipelines_each(p, &v, err);
    if (o.arr) {
        if (rc == 0)
            tk_cli_emit(o.arr);
        else
            json_decref(o.arr);
    } else if (!p) {
        printf("no pipelines: set [lua] scripts = FOLDER in the configuration\n");
    }
    /* What loaded is listed; a broken script fails the command. */
    if (rc == 0 && tk_pipelines_broken(p, 0))
        rc = tk_error_set(err, TK_EINVAL, "%s", tk_pipelines_broken(p, 0));
    tk_pipelines_close(own);
    return rc;
}

int tk_cmd_pipeline_check_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 1, 1, "pipeline check FILE", a, err);
}

int tk_cmd_pipeline_check(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct decl_out o = {c->json ? json_array() : NULL, 0};
    struct tk_pipeline_visitor v = {pipeline_out, handler_out, &o};
    int rc = tk_pipeline_check(c->e, a->pos.v[0], &v, err);
    if (rc == 0) {
        if (c->json) {
            json_t *r = json_object();
            json_object_set_new(r, "file", tk_json_str(a->pos.v[0]));
            json_object_set_new(r, "ok", json_true());
            json_object_set_new(r, "pipelines", o.arr);
            json_object_set_new(r, "handlers", json_integer((json_int_t)o.handlers));
            tk_cli_emit(r);
            o.arr = NULL;
        } else {
            printf("%s: ok\n", tk_cli_text(a->pos.v[0]));
        }
    }
    if (o.arr)
        json_decref(o.arr);
    return rc;
}
