/* cmd_why.c - `tickler why ITEM`: the item's state, reminder settings,
 * next email and last failure, so that staff can tell why a client did or
 * did not get a reminder without reading the audit trail.  The data comes
 * from tk_engine_why (engine/why.c). */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static json_t *why_json(const struct tk_engine_why *w)
{
    json_t *o = json_object();
    json_object_set_new(o, "item", tk_json_item(&w->item, w->account.name));
    json_object_set_new(o, "type_loaded", json_boolean(w->type_loaded));
    json_object_set_new(o, "next", w->next ? tk_json_time(w->next) : json_null());
    json_object_set_new(o, "due_now", json_boolean(w->due_now));
    json_object_set_new(o, "retry", json_boolean(w->retry));
    json_object_set_new(o, "nobody_left", json_boolean(w->nobody_left));
    json_object_set_new(o, "escalation", w->escalation ? tk_json_time(w->escalation) : json_null());
    json_object_set_new(o, "escalated", json_boolean(w->escalated));
    json_object_set_new(o, "nobody_notified", json_boolean(w->nobody_notified));
    if (w->fault.count > 0) {
        json_t *f = json_object();
        json_object_set_new(f, "at", tk_json_time(w->fault.at));
        json_object_set_new(f, "count", json_integer(w->fault.count));
        json_object_set_new(f, "error", tk_json_str(w->fault.text));
        json_object_set_new(o, "last_failure", f);
    } else {
        json_object_set_new(o, "last_failure", json_null());
    }
    return o;
}

static void why_text(const struct tk_engine_why *w)
{
    const struct tk_item *it = &w->item;
    char a[32];
    printf("item %lld: %s \"%s\", account %s (%lld)\n", (long long)it->id, tk_cli_text(it->type),
           tk_cli_text(it->title), tk_cli_text(w->account.name), (long long)it->account_id);
    printf("  state:         %s%s\n", tk_cli_text(it->state),
           it->archived ? " (job archived)" : "");
    printf("  reminders:     %s, every %d days, %d of %d sent\n", it->rem.enabled ? "on" : "off",
           it->rem.every_days, it->rem.sent, it->rem.count);
    if (!w->next)
        printf("  next:          none\n");
    else if (w->due_now)
        printf("  next:          now (at the next tick)%s\n", w->retry ? ", a retry" : "");
    else
        printf("  next:          %s%s\n", tk_time_format(w->next, a, sizeof a),
               w->retry ? ", a retry" : "");
    if (w->escalation)
        printf("  escalation:    every automatic reminder is sent; the account's manager is told "
               "at %s unless it is completed first\n",
               tk_time_format(w->escalation, a, sizeof a));
    else if (w->escalated)
        printf("  escalation:    the account's manager was told (see the audit trail)\n");
    if (it->hold.since) {
        printf("  hold:          since %s", tk_time_format(it->hold.since, a, sizeof a));
        if (it->hold.until)
            printf(", until %s", tk_time_format(it->hold.until, a, sizeof a));
        printf("%s%s: no automatic email until it ends\n", it->hold.reason ? ", " : "",
               it->hold.reason ? tk_cli_text(it->hold.reason) : "");
    }
    if (w->nobody_left)
        printf("  recipients:    every notify-on contact of the account is suppressed: reminders "
               "wait (contact unsuppress, or add a contact)\n");
    if (w->nobody_notified)
        printf("  recipients:    no contact of the account has notify on: reminders wait, no "
               "step is spent (add a contact, or switch one to notify on)\n");
    if (!w->type_loaded)
        printf("  type:          no plugin for '%s' is loaded: the item waits until it is\n",
               tk_cli_text(it->type));
    if (w->fault.count > 0)
        printf("  last failure:  %s (%d in a row): %s\n", tk_time_format(w->fault.at, a, sizeof a),
               w->fault.count, tk_cli_text(w->fault.text));
    else
        printf("  last failure:  none\n");
}

int tk_cmd_why_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    int rc = tk_cli_words(argc, argv, 1, 1, "why ITEM", a, err);
    return rc ? rc : tk_cli_id(argv[0], "ITEM", &a->id, err);
}

int tk_cmd_why(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_engine_why w;
    int rc;
    memset(&w, 0, sizeof w);
    if ((rc = tk_engine_why(c->e, a->id, &w, err)))
        goto out;
    if (c->json)
        tk_cli_emit(why_json(&w));
    else
        why_text(&w);
out:
    tk_engine_why_free(&w);
    return rc;
}
