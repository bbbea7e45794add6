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

/* Every --set FIELD=VALUE of A into FIELDS (in place: A's strings are cut
 * at '='). */
static int parse_sets(struct tk_cli_args *a, struct tk_kv *fields, struct tk_error *err)
{
    for (size_t i = 0; i < a->multi.n; i++) {
        char *eq = strchr(a->multi.v[i], '=');
        if (!eq || eq == a->multi.v[i])
            return tk_error_set(err, TK_EUSAGE, "--set: '%s' is not FIELD=VALUE", a->multi.v[i]);
        *eq = '\0';
        if (tk_kv_get(fields, a->multi.v[i]))
            return tk_error_set(err, TK_EUSAGE, "--set: field %s given twice", a->multi.v[i]);
        if (tk_kv_set(fields, a->multi.v[i], eq + 1))
            return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    return 0;
}

/* --due DATE and --schedule OFFSETS (issue 14), checked in the parse
 * phase: a bad date, a bad list or --schedule with --every/--count is a
 * usage error and nothing is opened. */
static int deadline_settings(const struct tk_cli_args *a, const char **due, const char **schedule,
                             struct tk_error *err)
{
    int offs[TK_SCHEDULE_MAX], n;
    tk_time t;
    *due = tk_cli_opt(a, "due");
    *schedule = tk_cli_opt(a, "schedule");
    if (*due && (strlen(*due) != 10 || tk_time_parse(*due, &t) != 0))
        return tk_error_set(err, TK_EUSAGE, "--due: '%s' is not a date like 2026-12-31", *due);
    if (*schedule && !tk_streq(*schedule, "none")) {
        if (tk_cli_opt(a, "every") || tk_cli_opt(a, "count"))
            return tk_error_set(err, TK_EUSAGE,
                                "--schedule replaces --every and --count: give one or the other");
        struct tk_error why = {0};
        if (tk_schedule_text_parse(*schedule, offs, TK_SCHEDULE_MAX, TK_SCHEDULE_LIMIT, &n, &why))
            return tk_error_set(err, TK_EUSAGE, "--%s", why.msg);
    }
    return 0;
}

/* send's --reminders, --every and --count into RQ (-1 where not given). */
static int send_settings(const struct tk_cli_args *a, struct tk_send_req *rq, struct tk_error *err)
{
    const char *v;
    int rc = 0;
    rq->reminders = rq->every_days = rq->count = -1;
    if ((v = tk_cli_opt(a, "reminders")) &&
        (rc = parse_onoff(v, "--reminders", &rq->reminders, err)))
        return rc;
    if ((v = tk_cli_opt(a, "every")) &&
        (rc = parse_num(v, "--every", 1, 365, &rq->every_days, err)))
        return rc;
    if ((v = tk_cli_opt(a, "count")) && (rc = parse_num(v, "--count", 0, 100, &rq->count, err)))
        return rc;
    return deadline_settings(a, &rq->due, &rq->schedule, err);
}

/* --set FIELD=VALUE of A checked (without cutting A's strings). */
static int check_sets(const struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_cli_args copy = {0};
    struct tk_kv fields = {0};
    int rc = 0;
    for (size_t i = 0; i < a->multi.n && !rc; i++)
        if (tk_strv_push(&copy.multi, a->multi.v[i]))
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
    if (!rc)
        rc = parse_sets(&copy, &fields, err);
    tk_kv_free(&fields);
    tk_cli_args_free(&copy);
    return rc;
}

int tk_cmd_send_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"account=", "title=", "template=", "reminders=", "every=",
                                       "count=",   "due=",   "schedule=", "set=*",      NULL};
    struct tk_send_req rq;
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (rc)
        return rc;
    if (a->pos.n != 1 || !tk_cli_opt(a, "account") || !tk_cli_opt(a, "title"))
        return tk_error_set(err, TK_EUSAGE,
                            "usage: tickler send TYPE --account ACCOUNT --title TITLE "
                            "[--template NAME] [--reminders on|off] [--every DAYS] "
                            "[--count N] [--due DATE] [--schedule OFFSETS] "
                            "[--set FIELD=VALUE]...");
    if ((rc = send_settings(a, &rq, err)))
        return rc;
    if (rq.schedule && !tk_streq(rq.schedule, "none") && !rq.due) {
        int due_set = 0;
        for (size_t i = 0; i < a->multi.n; i++)
            due_set |= strncmp(a->multi.v[i], "due_date=", 9) == 0;
        if (!due_set)
            return tk_error_set(err, TK_EUSAGE,
                                "--schedule counts days from the due date: give --due "
                                "YYYY-MM-DD");
    }
    return check_sets(a, err);
}

int tk_cmd_send(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    struct tk_send_req rq;
    struct tk_kv fields = {0};
    int64_t id = 0;
    int rc;

    memset(&rq, 0, sizeof rq);
    if ((rc = send_settings(a, &rq, err)) || (rc = parse_sets(a, &fields, err)) ||
        (rc = tk_cli_account(c, tk_cli_opt(a, "account"), &acc, err)))
        goto out;
    rq.type = a->pos.v[0];
    rq.account_id = acc.id;
    rq.title = tk_cli_opt(a, "title");
    rq.template_name = tk_cli_opt(a, "template");
    rq.fields = &fields;
    if ((rc = tk_engine_send(c->e, &rq, &id, err)))
        goto out;
    tk_cli_print_id(c, id);
out:
    tk_kv_free(&fields);
    tk_account_free(&acc);
    return rc;
}

/* ITEM alone: its id into A. */
static int one_item(int argc, char **argv, const char *use, struct tk_cli_args *a,
                    struct tk_error *err)
{
    int rc = tk_cli_words(argc, argv, 1, 1, use, a, err);
    return rc ? rc : tk_cli_id(argv[0], "ITEM", &a->id, err);
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

int tk_cmd_resend_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return one_item(argc, argv, "resend ITEM", a, err);
}

int tk_cmd_resend(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    int rc = tk_engine_resend(c->e, a->id, err);
    if (!rc)
        print_ok(c, a->id, "resent");
    return rc;
}

/* reminders' --every and --count (-1 where not given). */
static int reminder_numbers(const struct tk_cli_args *a, int *every, int *count,
                            struct tk_error *err)
{
    const char *v;
    int rc;
    *every = *count = -1;
    if ((v = tk_cli_opt(a, "every")) && (rc = parse_num(v, "--every", 1, 365, every, err)))
        return rc;
    if ((v = tk_cli_opt(a, "count")) && (rc = parse_num(v, "--count", 0, 100, count, err)))
        return rc;
    return 0;
}

int tk_cmd_reminders_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"every=", "count=", "due=", "schedule=", NULL};
    const char *due, *schedule;
    int on, every, count;
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (rc)
        return rc;
    if (a->pos.n != 2)
        return tk_error_set(err, TK_EUSAGE,
                            "usage: tickler reminders ITEM on|off [--every DAYS] [--count N] "
                            "[--schedule OFFSETS|none] [--due DATE]");
    if ((rc = tk_cli_id(a->pos.v[0], "ITEM", &a->id, err)) ||
        (rc = parse_onoff(a->pos.v[1], "reminders", &on, err)) ||
        (rc = reminder_numbers(a, &every, &count, err)))
        return rc;
    return deadline_settings(a, &due, &schedule, err);
}

int tk_cmd_reminders(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    int on = tk_streq(a->pos.v[1], "on"), every, count, rc;
    const char *due, *schedule;
    if ((rc = reminder_numbers(a, &every, &count, err)) ||
        (rc = deadline_settings(a, &due, &schedule, err)) ||
        (rc = tk_engine_set_reminders_ex(c->e, a->id, on, every, count, schedule, due, err)))
        return rc;
    print_ok(c, a->id, on ? "reminders on" : "reminders off");
    return 0;
}

int tk_cmd_event_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"set=*", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (rc)
        return rc;
    if (a->pos.n != 2)
        return tk_error_set(err, TK_EUSAGE,
                            "usage: tickler event ITEM EVENT [--set FIELD=VALUE]...");
    if ((rc = tk_cli_id(a->pos.v[0], "ITEM", &a->id, err)))
        return rc;
    return check_sets(a, err);
}

int tk_cmd_event(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_kv fields = {0};
    int rc;
    if ((rc = parse_sets(a, &fields, err)) ||
        (rc = tk_engine_event_fields(c->e, a->id, a->pos.v[1], &fields, err)))
        goto out;
    print_ok(c, a->id, a->pos.v[1]);
out:
    tk_kv_free(&fields);
    return rc;
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
    if (it->hold.since)
        printf("  hold:       since %s, %s%s%s%s\n", tk_time_format(it->hold.since, a, sizeof a),
               it->hold.until ? "until " : "until released",
               it->hold.until ? tk_time_format(it->hold.until, b, sizeof b) : "",
               it->hold.reason ? ": " : "", it->hold.reason ? tk_cli_text(it->hold.reason) : "");
}

int tk_cmd_show_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return one_item(argc, argv, "show ITEM", a, err);
}

int tk_cmd_show(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_item it;
    struct tk_account acc = {0};
    int rc;
    memset(&it, 0, sizeof it);
    if ((rc = tk_engine_item_get(c->e, a->id, &it, err)) ||
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

static int list_one(void *u, const struct tk_item *it)
{
    struct tk_cli_list *x = u;
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
    struct tk_cli_list x;
    int rc;
    tk_cli_list_begin(&x, c, err);
    rc = tk_engine_items_each(c->e, f, list_one, &x, err);
    if (!rc && !x.arr && !x.n)
        printf("%s\n", empty);
    return tk_cli_list_end(&x, rc);
}

int tk_cmd_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"account=", "type=", "pending", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (!rc && a->pos.n)
        rc = tk_error_set(err, TK_EUSAGE,
                          "usage: tickler list [--account A] [--type T] [--pending]");
    return rc;
}

int tk_cmd_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_error terr;
    struct tk_account acc = {0};
    struct tk_item_filter f;
    int rc;
    memset(&f, 0, sizeof f);
    if (tk_cli_opt(a, "account")) {
        if ((rc = tk_cli_account(c, tk_cli_opt(a, "account"), &acc, err)))
            goto out;
        f.account_id = acc.id;
    }
    /* A type whose plugin is not loaded still lists its stored items (they
     * wait for the plugin to return), with a warning in case of a typo. */
    if ((f.type = tk_cli_opt(a, "type")) && !tk_engine_type(c->e, f.type, &terr))
        fprintf(stderr, "tickler: warning: %s; listing the stored items of type '%s'\n",
                tk_cli_text(terr.msg), tk_cli_text(f.type));
    f.pending_only = tk_cli_opt(a, "pending") != NULL;
    rc = run_list(c, &f, "no items", err);
out:
    tk_account_free(&acc);
    return rc;
}

int tk_cmd_todo_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    return tk_cli_words(argc, argv, 1, 1, "todo ACCOUNT", a, err);
}

int tk_cmd_todo(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    struct tk_item_filter f;
    int rc;
    memset(&f, 0, sizeof f);
    if ((rc = tk_cli_account(c, a->pos.v[0], &acc, err)))
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
    struct tk_cli_list *x = u;
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

int tk_cmd_audit_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"account=", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (rc)
        return rc;
    if (a->pos.n > 1 || (a->pos.n == 1 && tk_cli_opt(a, "account")))
        return tk_error_set(err, TK_EUSAGE, "usage: tickler audit [ITEM | --account A]");
    return a->pos.n == 1 ? tk_cli_id(a->pos.v[0], "ITEM", &a->id, err) : 0;
}

int tk_cmd_audit(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    struct tk_cli_list x;
    int64_t item = a->id;
    int rc;
    if (item) {
        struct tk_item it;
        memset(&it, 0, sizeof it);
        if ((rc = tk_engine_item_get(c->e, item, &it, err)))
            goto out;
        tk_item_free(&it);
    }
    if (tk_cli_opt(a, "account") && (rc = tk_cli_account(c, tk_cli_opt(a, "account"), &acc, err)))
        goto out;
    tk_cli_list_begin(&x, c, err);
    rc = tk_cli_list_end(&x, tk_engine_audit_each(c->e, acc.id, item, audit_one, &x, err));
out:
    tk_account_free(&acc);
    return rc;
}
