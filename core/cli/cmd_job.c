/* cmd_job.c - `tickler job add|move|archive|show|list`: jobs moving through
 * the stages of a pipeline (docs/lua.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "lua/pipeline.h"

static int need_pipelines(struct tk_cli *c, struct tk_error *err)
{
    return tk_pipelines_need(c->pipelines, err);
}

int tk_cmd_job_add_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"account=", "title=", "stage=", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (!rc && (a->pos.n != 1 || !tk_cli_opt(a, "account")))
        rc = tk_error_set(err, TK_EUSAGE,
                          "usage: tickler job add PIPELINE --account ACCOUNT "
                          "[--title TITLE] [--stage STAGE]");
    return rc;
}

int tk_cmd_job_add(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    const char *title = tk_cli_opt(a, "title");
    int64_t id = 0;
    int rc;
    if ((rc = tk_pipeline_job_title_check(title, err)))
        goto out;
    if ((rc = need_pipelines(c, err)) ||
        (rc = tk_cli_account(c, tk_cli_opt(a, "account"), &acc, err)))
        goto out;
    if ((rc = tk_pipeline_job_add(c->pipelines, a->pos.v[0], acc.id, title, tk_cli_opt(a, "stage"),
                                  &id, err)))
        goto out;
    tk_cli_print_id(c, id);
out:
    tk_account_free(&acc);
    return rc;
}

int tk_cmd_job_move_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    int rc = tk_cli_words(argc, argv, 2, 2, "job move JOB STAGE", a, err);
    return rc ? rc : tk_cli_id(argv[0], "job", &a->id, err);
}

int tk_cmd_job_move(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    int64_t id = a->id;
    int rc;
    if ((rc = need_pipelines(c, err)) ||
        (rc = tk_pipeline_job_move(c->pipelines, id, a->pos.v[1], err)))
        return rc;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "stage", tk_json_str(a->pos.v[1]));
        tk_cli_emit(o);
    } else {
        printf("job %lld is in stage '%s'\n", (long long)id, tk_cli_text(a->pos.v[1]));
    }
    return 0;
}

int tk_cmd_job_archive_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    int rc = tk_cli_words(argc, argv, 1, 1, "job archive JOB", a, err);
    return rc ? rc : tk_cli_id(argv[0], "job", &a->id, err);
}

int tk_cmd_job_archive(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    int64_t id = a->id;
    int rc;
    if ((rc = need_pipelines(c, err)) || (rc = tk_pipeline_job_archive(c->pipelines, id, err)))
        return rc;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "state", json_string("archived"));
        tk_cli_emit(o);
    } else {
        printf("job %lld archived; reminders of its items stopped\n", (long long)id);
    }
    return 0;
}

/* The job as JSON, or printed; items read from the store. */
static int job_out(struct tk_cli *c, const struct tk_job *j, json_t *arr, int verbose,
                   struct tk_error *err)
{
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = tk_engine_job_items(c->e, j->id, &ids, &n, err);
    if (rc)
        return rc;
    if (arr) {
        json_array_append_new(arr, tk_json_job(j, ids, n));
    } else if (verbose) {
        printf("job %lld: %s\n", (long long)j->id, tk_cli_text(j->title));
        printf("  pipeline: %s\n  stage:    %s\n  account:  %lld\n  state:    %s\n  items:   ",
               tk_cli_text(j->pipeline), tk_cli_text(j->stage), (long long)j->account_id,
               tk_cli_text(j->state));
        for (size_t i = 0; i < n; i++)
            printf(" %lld", (long long)ids[i]);
        printf("%s\n", n ? "" : " none");
    } else {
        printf("%-6lld %-8s %-24s %-16s account %-6lld %s\n", (long long)j->id,
               tk_cli_text(j->state), tk_cli_text(j->pipeline), tk_cli_text(j->stage),
               (long long)j->account_id, tk_cli_text(j->title));
    }
    free(ids);
    return 0;
}

int tk_cmd_job_show_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    int rc = tk_cli_words(argc, argv, 1, 1, "job show JOB", a, err);
    return rc ? rc : tk_cli_id(argv[0], "job", &a->id, err);
}

int tk_cmd_job_show(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_job j;
    int rc;
    if ((rc = tk_engine_job_get(c->e, a->id, &j, err)))
        return rc;
    json_t *arr = c->json ? json_array() : NULL;
    rc = job_out(c, &j, arr, 1, err);
    tk_job_free(&j);
    if (arr) {
        if (!rc)
            tk_cli_emit(json_incref(json_array_get(arr, 0)));
        json_decref(arr);
    }
    return rc;
}

static int list_one(void *u, const struct tk_job *j)
{
    struct tk_cli_list *l = u;
    return job_out(l->c, j, l->arr, 0, l->err);
}

int tk_cmd_job_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"account=", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (!rc && a->pos.n != 0)
        rc = tk_error_set(err, TK_EUSAGE, "usage: tickler job list [--account ACCOUNT]");
    return rc;
}

int tk_cmd_job_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    int rc = 0;
    const char *account = tk_cli_opt(a, "account");
    if (account && (rc = tk_cli_account(c, account, &acc, err)))
        goto out;
    struct tk_cli_list l;
    tk_cli_list_begin(&l, c, err);
    rc = tk_cli_list_end(&l, tk_engine_jobs_each(c->e, acc.id, list_one, &l, err));
out:
    tk_account_free(&acc);
    return rc;
}
