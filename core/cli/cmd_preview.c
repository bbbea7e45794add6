/* cmd_preview.c - `tickler preview [--account A] [--days N] [--render]`:
 * every automatic email the next N days would send (issue 14), from
 * tk_engine_preview (engine/preview.c), which changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#define DEFAULT_DAYS 7

struct out {
    struct tk_cli *c;
    json_t *list;
    int render;
    size_t n;
};

static json_t *preview_json(const struct tk_preview *p, int render)
{
    json_t *o = json_object(), *to = json_array(), *mails = json_array();
    json_object_set_new(o, "at", tk_json_time(p->at));
    json_object_set_new(o, "local", tk_json_str(p->local));
    json_object_set_new(o, "item", json_integer(p->item_id));
    json_object_set_new(o, "type", tk_json_str(p->type));
    json_object_set_new(o, "title", tk_json_str(p->title));
    json_object_set_new(o, "account_id", json_integer(p->account_id));
    json_object_set_new(o, "account", tk_json_str(p->account_name));
    json_object_set_new(o, "step", json_integer(p->step));
    json_object_set_new(o, "count", json_integer(p->count));
    for (size_t i = 0; i < p->nmails; i++) {
        json_t *m = json_object();
        json_array_append_new(to, tk_json_str(p->mails[i].to));
        json_object_set_new(m, "to", tk_json_str(p->mails[i].to));
        json_object_set_new(m, "subject", tk_json_str(p->mails[i].subject));
        if (render)
            json_object_set_new(m, "message", tk_json_str(p->mails[i].message));
        json_array_append_new(mails, m);
    }
    json_object_set_new(o, "recipients", to);
    json_object_set_new(o, "subject", p->nmails ? tk_json_str(p->mails[0].subject) : json_null());
    json_object_set_new(o, "emails", mails);
    json_object_set_new(o, "moved", p->moved ? tk_json_str(p->moved) : json_null());
    json_object_set_new(o, "error", p->error ? tk_json_str(p->error) : json_null());
    return o;
}

/* The message for a terminal: each line escaped, CRLF as one line end. */
static void print_message(const char *msg)
{
    char *copy = tk_strdup(msg ? msg : ""), *line, *save = NULL;
    if (!copy)
        return;
    for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r')
            line[n - 1] = '\0';
        printf("    | %s\n", tk_cli_text(line));
    }
    free(copy);
}

static int one(void *u, const struct tk_preview *p)
{
    struct out *o = u;
    char at[32];
    o->n++;
    if (o->list)
        return json_array_append_new(o->list, preview_json(p, o->render)) ? TK_ENOMEM : 0;
    printf("%s  (%s)  item %lld  reminder %d of %d  %s: %s \"%s\"\n",
           tk_time_format(p->at, at, sizeof at), tk_cli_text(p->local), (long long)p->item_id,
           p->step, p->count, tk_cli_text(p->account_name), tk_cli_text(p->type),
           tk_cli_text(p->title));
    if (p->moved)
        printf("  moved:   %s\n", tk_cli_text(p->moved));
    if (p->error) {
        printf("  error:   %s (not sent; the tick retries it)\n", tk_cli_text(p->error));
        return 0;
    }
    if (!p->nmails)
        printf("  to:      nobody (no contact has notify on)\n");
    for (size_t i = 0; i < p->nmails; i++) {
        printf("  to:      %s\n", tk_cli_text(p->mails[i].to));
        printf("  subject: %s\n", tk_cli_text(p->mails[i].subject));
        if (o->render)
            print_message(p->mails[i].message);
    }
    return 0;
}

/* The days of --days (checked by the parse phase). */
static long preview_days(const struct tk_cli_args *a)
{
    const char *v = tk_cli_opt(a, "days");
    return v ? strtol(v, NULL, 10) : DEFAULT_DAYS;
}

int tk_cmd_preview_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"account=", "days=", "render", NULL};
    const char *v;
    int rc;

    if ((rc = tk_cli_parse(argc, argv, spec, a, err)))
        return rc;
    if (a->pos.n)
        return tk_error_set(err, TK_EUSAGE,
                            "usage: tickler preview [--account A] [--days N] [--render]");
    if ((v = tk_cli_opt(a, "days"))) {
        char *end = NULL;
        long days = strtol(v, &end, 10);
        if (!*v || *end || days < 1 || days > TK_PREVIEW_DAYS_MAX)
            return tk_error_set(err, TK_EUSAGE, "--days: '%s' is not a number of days from 1 to %d",
                                v, TK_PREVIEW_DAYS_MAX);
    }
    return 0;
}

int tk_cmd_preview(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    struct out o = {c, NULL, 0, 0};
    const char *v;
    long days = preview_days(a);
    int rc;

    if ((v = tk_cli_opt(a, "account")) && (rc = tk_cli_account(c, v, &acc, err))) {
        if (rc == TK_ENOTFOUND)
            rc = err->code = TK_EUSAGE; /* a bad option value: a usage error (exit 2) */
        goto out;
    }
    o.render = tk_cli_opt(a, "render") != NULL;
    if (c->json && !(o.list = json_array())) {
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = tk_engine_preview(c->e, acc.id, (int)days, o.render, (size_t)-1, one, &o, err)))
        goto out;
    if (o.list) {
        tk_cli_emit(o.list);
        o.list = NULL;
    } else if (!o.n) {
        printf("no automatic email in the next %ld day%s\n", days, days == 1 ? "" : "s");
    }
out:
    json_decref(o.list);
    tk_account_free(&acc);
    return rc;
}
