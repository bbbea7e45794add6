/* cmd_item.c - sending items and everything staff do to them afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static int parse_onoff(const char *v, const char *what, int *out, struct tk_error *err)
{
    if (tk_streq(v, "on"))
        *out = 1;
    else if (tk_streq(v, "off"))
        *out = 0;
    else
        return tk_error_set(err, TK_EUSAGE, "%s: '%s' is neither on nor off", what, v ? v : "");
    return 0;
}

static int parse_num(const char *v, const char *what, int min, int max, int *out,
                     struct tk_error *err)
{
    int64_t n;
    if (tk_parse_int(v, min, max, &n))
        return tk_error_set(err, TK_EUSAGE, "%s: '%s' is not a number from %d to %d", what, v, min,
                            max);
    *out = (int)n;
    return 0;
}

int tk_cmd_send(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    static const char *const spec[] = {
        "account=", "title=", "template=", "reminders=", "every=", "count=", "set=*", NULL};
    struct tk_cli_args a;
    struct tk_account acc = {0};
    struct tk_send_req rq;
    struct tk_kv fields = {0};
    const char *v;
    int64_t id = 0;
    int rc;

    memset(&rq, 0, sizeof rq);
    rq.reminders = rq.every_days = rq.count = -1;
    if ((rc = tk_cli_parse(argc, argv, spec, &a, err)))
        goto out;
    if (a.pos.n != 1 || !tk_cli_opt(&a, "account") || !tk_cli_opt(&a, "title")) {
        rc = tk_error_set(err, TK_EUSAGE,
                          "usage: tickler send TYPE --account ACCOUNT --title TITLE "
                          "[--template NAME] [--reminders on|off] [--every DAYS] "
                          "[--count N] [--set FIELD=VALUE]...");
        goto out;
    }
    if ((v = tk_cli_opt(&a, "reminders")) &&
        (rc = parse_onoff(v, "--reminders", &rq.reminders, err)))
        goto out;
    if ((v = tk_cli_opt(&a, "every")) &&
        (rc = parse_num(v, "--every", 1, 365, &rq.every_days, err)))
        goto out;
    if ((v = tk_cli_opt(&a, "count")) && (rc = parse_num(v, "--count", 0, 100, &rq.count, err)))
        goto out;
    for (size_t i = 0; i < a.multi.n; i++) {
        char *eq = strchr(a.multi.v[i], '=');
        if (!eq || eq == a.multi.v[i]) {
            rc = tk_error_set(err, TK_EUSAGE, "--set: '%s' is not FIELD=VALUE", a.multi.v[i]);
            goto out;
        }
        *eq = '\0';
        if (tk_kv_get(&fields, a.multi.v[i])) {
            rc = tk_error_set(err, TK_EUSAGE, "--set: field %s given twice", a.multi.v[i]);
            goto out;
        }
        if ((rc = tk_kv_set(&fields, a.multi.v[i], eq + 1))) {
            tk_error_set(err, rc, "out of memory");
            goto out;
        }
    }
    if ((rc = tk_cli_account(c, tk_cli_opt(&a, "account"), &acc, err)))
        goto out;
    rq.type = a.pos.v[0];
    rq.account_id = acc.id;
    rq.title = tk_cli_opt(&a, "title");
    rq.template_name = tk_cli_opt(&a, "template");
    rq.fields = &fields;
    if ((rc = tk_engine_send(c->e, &rq, &id, err)))
        goto out;
    tk_cli_print_id(c, id);
out:
    tk_kv_free(&fields);
    tk_account_free(&acc);
    tk_cli_args_free(&a);
    return rc;
}

static int one_id(int argc, char **argv, int want, const char *use, int64_t *id,
                  struct tk_error *err)
{
    if (argc < want)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler %s", use);
    return tk_cli_id(argv[0], "ITEM", id, err);
}

static void print_ok(struct tk_cli *c, int64_t id, const char *what)
{
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "result", tk_json_str(what));
        tk_cli_emit(o);
    } else {
        printf("item %lld: %s\n", (long long)id, tk_cli_text(what));
    }
}

int tk_cmd_resend(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    int64_t id;
    int rc;
    if (argc != 1)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler resend ITEM");
    if ((rc = one_id(argc, argv, 1, "resend ITEM", &id, err)) ||
        (rc = tk_engine_resend(c->e, id, err)))
        return rc;
    print_ok(c, id, "resent");
    return 0;
}

int tk_cmd_reminders(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    static const char *const spec[] = {"every=", "count=", NULL};
    struct tk_cli_args a;
    int64_t id;
    int on = 0, every = -1, count = -1, rc;
    const char *v;
    if ((rc = tk_cli_parse(argc, argv, spec, &a, err)))
        goto out;
    if (a.pos.n != 2) {
        rc = tk_error_set(err, TK_EUSAGE,
                          "usage: tickler reminders ITEM on|off [--every DAYS] [--count N]");
        goto out;
    }
    if ((rc = tk_cli_id(a.pos.v[0], "ITEM", &id, err)) ||
        (rc = parse_onoff(a.pos.v[1], "reminders", &on, err)))
        goto out;
    if ((v = tk_cli_opt(&a, "every")) && (rc = parse_num(v, "--every", 1, 365, &every, err)))
        goto out;
    if ((v = tk_cli_opt(&a, "count")) && (rc = parse_num(v, "--count", 0, 100, &count, err)))
        goto out;
    if ((rc = tk_engine_set_reminders(c->e, id, on, every, count, err)))
        goto out;
    print_ok(c, id, on ? "reminders on" : "reminders off");
out:
    tk_cli_args_free(&a);
    return rc;
}

int tk_cmd_event(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    int64_t id;
    int rc;
    if (argc != 2)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler event ITEM EVENT");
    if ((rc = one_id(argc, argv, 2, "event ITEM EVENT", &id, err)) ||
        (rc = tk_engine_event(c->e, id, argv[1], err)))
        return rc;
    print_ok(c, id, argv[1]);
    return 0;
}

static void print_item_text(const struct tk_item *it, const char *account)
{
    char a[32], b[32];
    printf("item %lld: %s \"%s\"\n", (long long)it->id, tk_cli_text(it->type),
           tk_cli_text(it->title));
    printf("  account:    %s (%lld)\n", tk_cli_text(account), (long long)it->account_id);
    printf("  state:      %s%s\n", tk_cli_text(it->state), it->archived ? " (job archived)" : "");
    printf("  template:   %s\n", tk_cli_text(it->template_name));
    if (it->job_id)
        printf("  job:        %lld\n", (long long)it->job_id);
    printf("  sent:       %s\n", tk_time_format(it->created_at, a, sizeof a));
    if (it->completed_at)
        printf("  completed:  %s\n", tk_time_format(it->completed_at, a, sizeof a));
    for (size_t i = 0; i < it->fields.n; i++)
        printf("  %-11s %s\n", tk_cli_text(it->fields.keys[i]), tk_cli_text(it->fields.vals[i]));
    printf("  reminders:  %s, every %d days, %d of %d sent, next %s\n",
           it->rem.enabled ? "on" : "off", it->rem.every_days, it->rem.sent, it->rem.count,
           it->rem.next_at ? tk_time_format(it->rem.next_at, b, sizeof b) : "none");
    printf("  resends:    %d\n", it->resends);
}

int tk_cmd_show(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    struct tk_item it;
    struct tk_account acc = {0};
    int64_t id;
    int rc;
    memset(&it, 0, sizeof it);
    if (argc != 1)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler show ITEM");
    if ((rc = tk_cli_id(argv[0], "ITEM", &id, err)) ||
        (rc = tk_engine_item_get(c->e, id, &it, err)) ||
        (rc = tk_engine_account_get(c->e, it.account_id, &acc, err)))
        goto out;
    if (c->json) {
        tk_cli_emit(tk_json_item(&it, acc.name));
    } else {
        print_item_text(&it, acc.name);
    }
out:
    tk_account_free(&acc);
    tk_item_free(&it);
    return rc;
}

struct each_ctx {
    struct tk_cli *c;
    json_t *arr;
    int n;
};

static int list_one(void *u, const struct tk_item *it)
{
    struct each_ctx *x = u;
    char when[32];
    x->n++;
    if (x->arr) {
        json_t *o = tk_json_item(it, NULL);
        json_object_set_new(o, "position", json_integer(x->n));
        json_array_append_new(x->arr, o);
    } else {
        printf("%3d. %-6lld %-10s %-10s %-36s reminders %s%s%s\n", x->n, (long long)it->id,
               tk_cli_text(it->type), tk_cli_text(it->state), tk_cli_text(it->title),
               it->rem.enabled ? "on" : "off", it->rem.next_at ? ", next " : "",
               it->rem.next_at ? tk_time_format(it->rem.next_at, when, sizeof when) : "");
    }
    return 0;
}

static int run_list(struct tk_cli *c, const struct tk_item_filter *f, const char *empty,
                    struct tk_error *err)
{
    struct each_ctx x = {c, c->json ? json_array() : NULL, 0};
    int rc = tk_engine_items_each(c->e, f, list_one, &x, err);
    if (x.arr) {
        if (rc)
            json_decref(x.arr);
        else
            tk_cli_emit(x.arr);
    } else if (!rc && !x.n) {
        printf("%s\n", empty);
    }
    return rc;
}

int tk_cmd_list(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    static const char *const spec[] = {"account=", "type=", "pending", NULL};
    struct tk_error terr;
    struct tk_cli_args a;
    struct tk_account acc = {0};
    struct tk_item_filter f;
    int rc;
    memset(&f, 0, sizeof f);
    if ((rc = tk_cli_parse(argc, argv, spec, &a, err)))
        goto out;
    if (a.pos.n) {
        rc = tk_error_set(err, TK_EUSAGE,
                          "usage: tickler list [--account A] [--type T] [--pending]");
        goto out;
    }
    if (tk_cli_opt(&a, "account")) {
        if ((rc = tk_cli_account(c, tk_cli_opt(&a, "account"), &acc, err)))
            goto out;
        f.account_id = acc.id;
    }
    /* A type whose plugin is not loaded still lists its stored items (they
     * wait for the plugin to return), with a warning in case of a typo. */
    if ((f.type = tk_cli_opt(&a, "type")) && !tk_engine_type(c->e, f.type, &terr))
        fprintf(stderr, "tickler: warning: %s; listing the stored items of type '%s'\n",
                tk_cli_text(terr.msg), tk_cli_text(f.type));
    f.pending_only = tk_cli_opt(&a, "pending") != NULL;
    rc = run_list(c, &f, "no items", err);
out:
    tk_account_free(&acc);
    tk_cli_args_free(&a);
    return rc;
}

int tk_cmd_todo(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    struct tk_account acc = {0};
    struct tk_item_filter f;
    int rc;
    memset(&f, 0, sizeof f);
    if (argc != 1)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler todo ACCOUNT");
    if ((rc = tk_cli_account(c, argv[0], &acc, err)))
        return rc;
    f.account_id = acc.id;
    f.pending_only = 1;
    f.todo_order = 1;
    if (!c->json)
        printf("to-do list of %s (most recent on top):\n", tk_cli_text(acc.name));
    rc = run_list(c, &f, "  nothing to do", err);
    tk_account_free(&acc);
    return rc;
}

static int audit_one(void *u, const struct tk_audit_entry *ae)
{
    struct each_ctx *x = u;
    char when[32];
    tk_time_format(ae->at, when, sizeof when);
    if (x->arr) {
        json_array_append_new(x->arr, tk_json_audit(ae));
    } else {
        char item[32] = "-";
        if (ae->item_id)
            snprintf(item, sizeof item, "item %lld", (long long)ae->item_id);
        char rec[64] = "";
        /* business time (--now) and real time apart: show both */
        if (ae->recorded_at && (ae->recorded_at - ae->at > 60 || ae->at - ae->recorded_at > 60)) {
            char r[32];
            snprintf(rec, sizeof rec, " (recorded %s)",
                     tk_time_format(ae->recorded_at, r, sizeof r));
        }
        printf("%s%s  %-10s %-10s %-15s %s\n", when, rec, tk_cli_text(ae->actor), item,
               tk_cli_text(ae->action), tk_cli_text(ae->detail));
    }
    x->n++;
    return 0;
}

int tk_cmd_audit(struct tk_cli *c, int argc, char **argv, struct tk_error *err)
{
    static const char *const spec[] = {"account=", NULL};
    struct tk_cli_args a;
    struct tk_account acc = {0};
    struct each_ctx x = {c, NULL, 0};
    int64_t item = 0;
    int rc;
    if ((rc = tk_cli_parse(argc, argv, spec, &a, err)))
        goto out;
    if (a.pos.n > 1 || (a.pos.n == 1 && tk_cli_opt(&a, "account"))) {
        rc = tk_error_set(err, TK_EUSAGE, "usage: tickler audit [ITEM | --account A]");
        goto out;
    }
    if (a.pos.n == 1) {
        struct tk_item it;
        memset(&it, 0, sizeof it);
        if ((rc = tk_cli_id(a.pos.v[0], "ITEM", &item, err)) ||
            (rc = tk_engine_item_get(c->e, item, &it, err)))
            goto out;
        tk_item_free(&it);
    }
    if (tk_cli_opt(&a, "account") && (rc = tk_cli_account(c, tk_cli_opt(&a, "account"), &acc, err)))
        goto out;
    x.arr = c->json ? json_array() : NULL;
    rc = tk_engine_audit_each(c->e, acc.id, item, audit_one, &x, err);
    if (x.arr) {
        if (rc)
            json_decref(x.arr);
        else
            tk_cli_emit(x.arr);
    }
out:
    tk_account_free(&acc);
    tk_cli_args_free(&a);
    return rc;
}
