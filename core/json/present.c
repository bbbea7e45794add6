/* present.c - the JSON object of each record (json.h).  The key order is
 * the order the CLI always printed; keep it. */
#include <stdio.h>
#include <string.h>

#include "json/json.h"

/* An id, or null for 0 ("none"). */
static json_t *id_or_null(int64_t id)
{
    return id ? json_integer(id) : json_null();
}

json_t *tk_json_item(const struct tk_item *it, const char *account_name)
{
    json_t *o = json_object(), *fields = json_object(), *rem = json_object();
    json_object_set_new(o, "id", json_integer(it->id));
    json_object_set_new(o, "type", tk_json_str(it->type));
    json_object_set_new(o, "account", json_integer(it->account_id));
    json_object_set_new(o, "title", tk_json_str(it->title));
    json_object_set_new(o, "state", tk_json_str(it->state));
    for (size_t i = 0; i < it->fields.n; i++)
        tk_json_set(fields, it->fields.keys[i], tk_json_str(it->fields.vals[i]));
    json_object_set_new(o, "fields", fields);
    json_object_set_new(rem, "enabled", json_boolean(it->rem.enabled));
    json_object_set_new(rem, "every_days", json_integer(it->rem.every_days));
    json_object_set_new(rem, "count", json_integer(it->rem.count));
    json_object_set_new(rem, "sent", json_integer(it->rem.sent));
    json_object_set_new(rem, "next_at", tk_json_time(it->rem.next_at));
    json_object_set_new(rem, "last_mail_at", tk_json_time(it->rem.last_mail_at));
    /* issue 14: the due date (any type's due_date field) and the anchored
     * schedule, days relative to it; each only when the item has one, so
     * that the object stays as it was for items without (scripts that
     * compare its keys) */
    const char *due = tk_kv_get(&it->fields, "due_date");
    if (due)
        json_object_set_new(rem, "due", tk_json_str(due));
    if (it->rem.nsched > 0) {
        json_t *sched = json_array();
        for (int i = 0; i < it->rem.nsched; i++)
            json_array_append_new(sched, json_integer(it->rem.sched[i]));
        json_object_set_new(rem, "schedule", sched);
    }
    json_object_set_new(o, "reminders", rem);
    json_object_set_new(o, "template", tk_json_str(it->template_name));
    json_object_set_new(o, "job", id_or_null(it->job_id));
    json_object_set_new(o, "archived", json_boolean(it->archived));
    json_object_set_new(o, "resends", json_integer(it->resends));
    json_object_set_new(o, "created_at", tk_json_time(it->created_at));
    json_object_set_new(o, "completed_at", tk_json_time(it->completed_at));
    if (it->hold.since) {
        json_t *h = json_object();
        json_object_set_new(h, "since", tk_json_time(it->hold.since));
        json_object_set_new(h, "until",
                            it->hold.until ? tk_json_time(it->hold.until) : json_null());
        json_object_set_new(h, "reason",
                            it->hold.reason ? tk_json_str(it->hold.reason) : json_null());
        json_object_set_new(o, "hold", h);
    } else {
        json_object_set_new(o, "hold", json_null());
    }
    if (account_name)
        json_object_set_new(o, "account_name", tk_json_str(account_name));
    return o;
}

/* ---- the item straight into a buffer ---------------------------------------
 *
 * The same bytes json_dumps(tk_json_item(...), JSON_COMPACT |
 * JSON_PRESERVE_ORDER) gives, without building the tree: a GET of one item
 * spent most of its instructions on the tree and its dump (bench/RESULTS.md).
 * Only for what it can write exactly: every string valid UTF-8 (jansson's
 * escaping below) and field names unique; anything else is left to the
 * tree (1). */

/* jansson's dump_string without JSON_ENSURE_ASCII (value.c) */
static int put_str(struct tk_buf *b, const char *s)
{
    return tk_json_write_strn(b, s, strlen(s), 0);
}

/* "KEY": -- KEY is a literal of ours (plain ASCII) */
#define KEY(k) tk_buf_append(b, "\"" k "\":", sizeof k + 2)

static int put_str_or_null(struct tk_buf *b, const char *s)
{
    return s ? put_str(b, s) : tk_buf_append(b, "null", 4);
}

/* "%lld" without printf (a third of an item's dump went to it) */
static int put_int(struct tk_buf *b, int64_t v)
{
    char n[24];
    size_t i = sizeof n;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        n[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        n[--i] = '-';
    return tk_buf_append(b, n + i, sizeof n - i);
}

static int put_bool(struct tk_buf *b, int v)
{
    return v ? tk_buf_append(b, "true", 4) : tk_buf_append(b, "false", 5);
}

static int put_time(struct tk_buf *b, tk_time t)
{
    char buf[32];
    if (!t)
        return tk_buf_append(b, "null", 4);
    return put_str(b, tk_time_format(t, buf, sizeof buf));
}

static int valid(const char *s)
{
    return !s || tk_utf8_valid(s, strlen(s));
}

int tk_json_item_dump(struct tk_buf *b, const struct tk_item *it, const char *account_name)
{
    size_t start = b->len;
    int bad = 0;
    if (!valid(it->type) || !valid(it->title) || !valid(it->state) || !valid(it->template_name) ||
        !valid(account_name) || (it->hold.since && !valid(it->hold.reason)))
        return 1;
    for (size_t i = 0; i < it->fields.n; i++) {
        if (!it->fields.keys[i] || !valid(it->fields.keys[i]) || !valid(it->fields.vals[i]))
            return 1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(it->fields.keys[i], it->fields.keys[j]) == 0)
                return 1;
    }
    bad |= tk_buf_putc(b, '{') || KEY("id") || put_int(b, it->id);
    bad |= tk_buf_putc(b, ',') || KEY("type") || put_str_or_null(b, it->type);
    bad |= tk_buf_putc(b, ',') || KEY("account") || put_int(b, it->account_id);
    bad |= tk_buf_putc(b, ',') || KEY("title") || put_str_or_null(b, it->title);
    bad |= tk_buf_putc(b, ',') || KEY("state") || put_str_or_null(b, it->state);
    bad |= tk_buf_putc(b, ',') || KEY("fields") || tk_buf_putc(b, '{');
    for (size_t i = 0; i < it->fields.n; i++)
        bad |= (i && tk_buf_putc(b, ',')) || put_str(b, it->fields.keys[i]) ||
               tk_buf_putc(b, ':') || put_str_or_null(b, it->fields.vals[i]);
    bad |= tk_buf_putc(b, '}');
    bad |= tk_buf_putc(b, ',') || KEY("reminders") || tk_buf_putc(b, '{') || KEY("enabled") ||
           put_bool(b, it->rem.enabled);
    bad |= tk_buf_putc(b, ',') || KEY("every_days") || put_int(b, it->rem.every_days);
    bad |= tk_buf_putc(b, ',') || KEY("count") || put_int(b, it->rem.count);
    bad |= tk_buf_putc(b, ',') || KEY("sent") || put_int(b, it->rem.sent);
    bad |= tk_buf_putc(b, ',') || KEY("next_at") || put_time(b, it->rem.next_at);
    bad |= tk_buf_putc(b, ',') || KEY("last_mail_at") || put_time(b, it->rem.last_mail_at);
    /* issue 14: as tk_json_item's "due" and "schedule", only when set */
    const char *due = tk_kv_get(&it->fields, "due_date");
    if (due)
        bad |= tk_buf_putc(b, ',') || KEY("due") || put_str_or_null(b, due);
    if (it->rem.nsched > 0) {
        bad |= tk_buf_putc(b, ',') || KEY("schedule") || tk_buf_putc(b, '[');
        for (int i = 0; i < it->rem.nsched; i++)
            bad |= (i && tk_buf_putc(b, ',')) || put_int(b, it->rem.sched[i]);
        bad |= tk_buf_putc(b, ']');
    }
    bad |= tk_buf_putc(b, '}');
    bad |= tk_buf_putc(b, ',') || KEY("template") || put_str_or_null(b, it->template_name);
    bad |= tk_buf_putc(b, ',') || KEY("job") ||
           (it->job_id ? put_int(b, it->job_id) : tk_buf_append(b, "null", 4));
    bad |= tk_buf_putc(b, ',') || KEY("archived") || put_bool(b, it->archived);
    bad |= tk_buf_putc(b, ',') || KEY("resends") || put_int(b, it->resends);
    bad |= tk_buf_putc(b, ',') || KEY("created_at") || put_time(b, it->created_at);
    bad |= tk_buf_putc(b, ',') || KEY("completed_at") || put_time(b, it->completed_at);
    bad |= tk_buf_putc(b, ',') || KEY("hold");
    if (it->hold.since) {
        bad |= tk_buf_putc(b, '{') || KEY("since") || put_time(b, it->hold.since);
        bad |= tk_buf_putc(b, ',') || KEY("until") ||
               (it->hold.until ? put_time(b, it->hold.until) : tk_buf_append(b, "null", 4));
        bad |= tk_buf_putc(b, ',') || KEY("reason") || put_str_or_null(b, it->hold.reason);
        bad |= tk_buf_putc(b, '}');
    } else {
        bad |= tk_buf_append(b, "null", 4);
    }
    if (account_name)
        bad |= tk_buf_putc(b, ',') || KEY("account_name") || put_str(b, account_name);
    bad |= tk_buf_putc(b, '}');
    if (bad) {
        b->len = start;
        return -1;
    }
    return 0;
}
#undef KEY

json_t *tk_json_account(const struct tk_account *a, const struct tk_contacts *cs)
{
    json_t *o = json_object();
    size_t n = cs ? cs->n : 0, notified = 0;
    for (size_t i = 0; i < n; i++)
        notified += cs->v[i].notify != 0;
    json_object_set_new(o, "id", json_integer(a->id));
    json_object_set_new(o, "name", tk_json_str(a->name));
    json_object_set_new(o, "language", tk_json_str(a->language));
    json_object_set_new(o, "contacts", json_integer((json_int_t)n));
    json_object_set_new(o, "notified", json_integer((json_int_t)notified));
    /* The client's calendar as in effect (front ends fill in the defaults
     * with tk_engine_account_view before presenting). */
    json_object_set_new(o, "timezone", tk_json_str(a->timezone ? a->timezone : "UTC"));
    json_object_set_new(o, "window", tk_json_str(a->window ? a->window : "always"));
    json_object_set_new(o, "holidays", tk_json_str(a->holidays ? a->holidays : "none"));
    json_object_set_new(o, "manager", a->manager ? tk_json_str(a->manager) : json_null());
    json_object_set_new(o, "digest", json_boolean(a->digest == 1));
    return o;
}

json_t *tk_json_contact(const struct tk_contact *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(c->id));
    json_object_set_new(o, "email", tk_json_str(c->email));
    json_object_set_new(o, "name", tk_json_str(c->name));
    json_object_set_new(o, "notify", json_boolean(c->notify));
    /* issue 15: {"reason", "at"} while the address is suppressed, else null */
    if (c->suppressed_reason) {
        json_t *s = json_object();
        json_object_set_new(s, "reason", tk_json_str(c->suppressed_reason));
        json_object_set_new(s, "at", tk_json_time(c->suppressed_at));
        json_object_set_new(o, "suppressed", s);
    } else {
        json_object_set_new(o, "suppressed", json_null());
    }
    return o;
}

json_t *tk_json_audit(const struct tk_audit_entry *ae)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(ae->id));
    json_object_set_new(o, "at", tk_json_time(ae->at));
    json_object_set_new(o, "actor", tk_json_str(ae->actor));
    json_object_set_new(o, "account", id_or_null(ae->account_id));
    json_object_set_new(o, "item", id_or_null(ae->item_id));
    json_object_set_new(o, "job", id_or_null(ae->job_id));
    json_object_set_new(o, "action", tk_json_str(ae->action));
    json_object_set_new(o, "detail", tk_json_str(ae->detail ? ae->detail : ""));
    json_object_set_new(o, "recorded_at",
                        ae->recorded_at ? tk_json_time(ae->recorded_at) : json_null());
    return o;
}

const char *tk_json_outbox_state(int state)
{
    return state == TK_OUTBOX_SENT        ? "sent"
           : state == TK_OUTBOX_DEAD      ? "dead"
           : state == TK_OUTBOX_CANCELLED ? "cancelled"
                                          : "queued";
}

json_t *tk_json_outbox(const struct tk_outbox_row *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "item", id_or_null(r->item_id));
    json_object_set_new(o, "account", json_integer(r->account_id));
    json_object_set_new(o, "kind", tk_json_str(r->kind));
    json_object_set_new(o, "step", json_integer(r->step));
    json_object_set_new(o, "recipient", tk_json_str(r->recipient));
    json_object_set_new(o, "message_id", tk_json_str(r->message_id));
    json_object_set_new(o, "sender", tk_json_str(r->sender));
    json_object_set_new(o, "state", json_string(tk_json_outbox_state(r->state)));
    json_object_set_new(o, "attempts", json_integer(r->attempts));
    json_object_set_new(o, "created_at", tk_json_time(r->created_at));
    json_object_set_new(o, "next_attempt_at",
                        r->state == TK_OUTBOX_QUEUED ? tk_json_time(r->next_attempt_at)
                                                     : json_null());
    json_object_set_new(o, "sent_at", tk_json_time(r->sent_at));
    json_object_set_new(o, "reply_code", r->reply_code ? json_integer(r->reply_code) : json_null());
    json_object_set_new(o, "reply", tk_json_str(r->last_reply));
    return o;
}

json_t *tk_json_job(const struct tk_job *j, const int64_t *items, size_t n)
{
    json_t *o = json_object(), *ids = json_array();
    json_object_set_new(o, "id", json_integer(j->id));
    json_object_set_new(o, "pipeline", tk_json_str(j->pipeline));
    json_object_set_new(o, "stage", tk_json_str(j->stage));
    json_object_set_new(o, "account", json_integer(j->account_id));
    json_object_set_new(o, "title", tk_json_str(j->title));
    json_object_set_new(o, "state", tk_json_str(j->state));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ids, json_integer(items[i]));
    json_object_set_new(o, "items", ids);
    json_object_set_new(o, "created_at", tk_json_time(j->created_at));
    json_object_set_new(o, "updated_at", tk_json_time(j->updated_at));
    return o;
}

/* What a plugin declares beyond its header (the bash completion reads
 * fields and bulk commands). */
static void plugin_declarations(json_t *o, const struct tk_plugin *p)
{
    static const char *const kinds[] = {"text", "amount", "currency", "date", "integer", "url"};
    const struct tk_config_key *keys = p->item ? p->item->config_keys : p->transport->config_keys;
    json_t *arr = json_array();
    for (const struct tk_config_key *k = keys; k && k->name; k++) {
        json_t *e = json_object();
        json_object_set_new(e, "name", tk_json_str(k->name));
        json_object_set_new(e, "description", tk_json_str(k->description ? k->description : ""));
        json_array_append_new(arr, e);
    }
    json_object_set_new(o, "config_keys", arr);
    if (!p->item)
        return;
    arr = json_array();
    for (const struct tk_field_spec *f = p->item->fields; f && f->name; f++) {
        json_t *e = json_object();
        json_object_set_new(e, "name", tk_json_str(f->name));
        json_object_set_new(e, "kind",
                            json_string(f->kind >= 0 && f->kind < 6 ? kinds[f->kind] : "unknown"));
        json_object_set_new(e, "required", json_boolean(f->flags & TK_FIELD_REQUIRED));
        json_object_set_new(e, "description", tk_json_str(f->description ? f->description : ""));
        json_array_append_new(arr, e);
    }
    json_object_set_new(o, "fields", arr);
    arr = json_array();
    for (const struct tk_bulk_spec *b = p->item->bulk; b && b->command; b++) {
        json_t *e = json_object();
        json_object_set_new(e, "command", tk_json_str(b->command));
        json_object_set_new(e, "section", tk_json_str(b->section ? b->section : ""));
        json_object_set_new(e, "description", tk_json_str(b->description ? b->description : ""));
        json_array_append_new(arr, e);
    }
    json_object_set_new(o, "bulk", arr);
}

json_t *tk_json_plugin(const struct tk_plugin *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", tk_json_str(p->hdr->name));
    json_object_set_new(o, "kind", json_string(p->item ? "item" : "transport"));
    json_object_set_new(o, "abi", json_sprintf("%u.%u", p->hdr->abi_major, p->hdr->abi_minor));
    json_object_set_new(o, "version", tk_json_str(p->hdr->version ? p->hdr->version : ""));
    json_object_set_new(o, "file", tk_json_str(p->path));
    json_object_set_new(o, "description",
                        tk_json_str(p->hdr->description ? p->hdr->description : ""));
    if (p->item) {
        json_t *ev = json_array();
        for (const struct tk_event_spec *s = p->item->events; s && s->name; s++) {
            json_t *e = json_object();
            json_object_set_new(e, "name", tk_json_str(s->name));
            json_object_set_new(e, "final_state", tk_json_str(s->final_state));
            json_array_append_new(ev, e);
        }
        json_object_set_new(o, "events", ev);
        json_object_set_new(o, "lua_verb", tk_json_str(p->item->lua_verb));
    }
    plugin_declarations(o, p);
    return o;
}

json_t *tk_json_pipeline(const struct tk_pipeline_info *pl)
{
    json_t *o = json_object(), *stages = json_array();
    json_object_set_new(o, "name", tk_json_str(pl->name));
    json_object_set_new(o, "script", tk_json_str(pl->script));
    json_object_set_new(o, "line", json_integer(pl->line));
    for (size_t i = 0; i < pl->nstages; i++) {
        json_t *s = json_object();
        json_object_set_new(s, "name", tk_json_str(pl->stages[i].name));
        json_object_set_new(s, "advance",
                            json_string(pl->stages[i].when_done ? "when_done" : "manual"));
        json_object_set_new(s, "automation", json_boolean(pl->stages[i].automation));
        json_array_append_new(stages, s);
    }
    json_object_set_new(o, "stages", stages);
    return o;
}

json_t *tk_json_user(const struct tk_user *u)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(u->id));
    json_object_set_new(o, "name", tk_json_str(u->name));
    json_object_set_new(o, "language", tk_json_str(u->language));
    json_object_set_new(o, "created_at", tk_json_time(u->created_at));
    return o;
}
