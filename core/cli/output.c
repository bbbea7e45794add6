/* output.c - JSON documents for --json. */
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

json_t *tk_cli_json_time(tk_time t)
{
    char buf[32];
    if (!t)
        return json_null();
    return json_string(tk_time_format(t, buf, sizeof buf));
}

json_t *tk_cli_json_item(struct tk_cli *c, const struct tk_item *it)
{
    json_t *o = json_object(), *fields = json_object(), *rem = json_object();
    (void)c;
    json_object_set_new(o, "id", json_integer(it->id));
    json_object_set_new(o, "type", json_string(it->type));
    json_object_set_new(o, "account", json_integer(it->account_id));
    json_object_set_new(o, "title", json_string(it->title));
    json_object_set_new(o, "state", json_string(it->state));
    for (size_t i = 0; i < it->fields.n; i++)
        json_object_set_new(fields, it->fields.keys[i], json_string(it->fields.vals[i]));
    json_object_set_new(o, "fields", fields);
    json_object_set_new(rem, "enabled", json_boolean(it->rem.enabled));
    json_object_set_new(rem, "every_days", json_integer(it->rem.every_days));
    json_object_set_new(rem, "count", json_integer(it->rem.count));
    json_object_set_new(rem, "sent", json_integer(it->rem.sent));
    json_object_set_new(rem, "next_at", tk_cli_json_time(it->rem.next_at));
    json_object_set_new(rem, "last_mail_at", tk_cli_json_time(it->rem.last_mail_at));
    json_object_set_new(o, "reminders", rem);
    json_object_set_new(o, "template", json_string(it->template_name));
    json_object_set_new(o, "job", it->job_id ? json_integer(it->job_id) : json_null());
    json_object_set_new(o, "archived", json_boolean(it->archived));
    json_object_set_new(o, "resends", json_integer(it->resends));
    json_object_set_new(o, "created_at", tk_cli_json_time(it->created_at));
    json_object_set_new(o, "completed_at", tk_cli_json_time(it->completed_at));
    return o;
}
