/* cmd_why.c - `tickler why ITEM`: the item's state, reminder settings,
 * next email and last failure, so that staff can tell why a client did or
 * did not get a reminder without reading the audit trail.  The data comes
 * from tk_engine_why (engine/why.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

/* The item's last emails (outbox rows), newest first: its own rows and the
 * digests its reminders went in (those name no item), WHY_EMAILS of each
 * kept, the newest WHY_EMAILS of both shown. */
#define WHY_EMAILS 5
struct ring {
    struct tk_outbox_row v[WHY_EMAILS];
    size_t n, total;
};
struct emails {
    struct ring own, digests;
    const struct tk_outbox_row *top[WHY_EMAILS]; /* borrowed from the rings */
    size_t n;
};

static int keep_email(void *u, const struct tk_outbox_row *r)
{
    struct ring *x = u;
    struct tk_outbox_row *slot = &x->v[x->total++ % WHY_EMAILS];
    if (x->n == WHY_EMAILS)
        tk_outbox_row_free(slot);
    else
        x->n++;
    memset(slot, 0, sizeof *slot);
    slot->id = r->id;
    slot->step = r->step;
    slot->state = r->state;
    slot->attempts = r->attempts;
    slot->created_at = r->created_at;
    slot->sent_at = r->sent_at;
    slot->reply_code = r->reply_code;
    if (!(slot->kind = tk_strdup(r->kind ? r->kind : "")) ||
        !(slot->recipient = tk_strdup(r->recipient ? r->recipient : "")) ||
        (r->last_reply && !(slot->last_reply = tk_strdup(r->last_reply))))
        return TK_ENOMEM;
    return 0;
}

/* The I-th newest kept row of X, or NULL. */
static const struct tk_outbox_row *ring_at(const struct ring *x, size_t i)
{
    return i < x->n ? &x->v[(x->total - 1 - i) % WHY_EMAILS] : NULL;
}

/* X->top: the newest rows of both rings, by id (ids grow with time). */
static void pick_newest(struct emails *x)
{
    size_t a = 0, b = 0;
    for (x->n = 0; x->n < WHY_EMAILS; x->n++) {
        const struct tk_outbox_row *o = ring_at(&x->own, a), *d = ring_at(&x->digests, b);
        if (!o && !d)
            break;
        if (o && (!d || o->id > d->id))
            x->top[x->n] = o, a++;
        else
            x->top[x->n] = d, b++;
    }
}

static const struct tk_outbox_row *email_at(const struct emails *x, size_t i)
{
    return x->top[i];
}

static json_t *emails_json(const struct emails *x)
{
    json_t *a = json_array();
    for (size_t i = 0; i < x->n; i++) {
        const struct tk_outbox_row *r = email_at(x, i);
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(r->id));
        json_object_set_new(o, "kind", tk_json_str(r->kind));
        json_object_set_new(o, "step", json_integer(r->step));
        json_object_set_new(o, "recipient", tk_json_str(r->recipient));
        json_object_set_new(o, "state", json_string(tk_json_outbox_state(r->state)));
        json_object_set_new(o, "attempts", json_integer(r->attempts));
        json_object_set_new(o, "created_at", tk_json_time(r->created_at));
        json_object_set_new(o, "sent_at", r->sent_at ? tk_json_time(r->sent_at) : json_null());
        json_object_set_new(o, "last_error",
                            r->state != TK_OUTBOX_SENT && r->last_reply ? tk_json_str(r->last_reply)
                                                                        : json_null());
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *why_json(const struct tk_engine_why *w, const struct emails *x)
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
    if (w->has_send) {
        json_t *n = json_object();
        json_object_set_new(n, "at", tk_json_time(w->send_at));
        json_object_set_new(n, "local", tk_json_str(w->send_local));
        json_object_set_new(n, "kind", tk_json_str(w->send_kind));
        json_object_set_new(n, "step", json_integer(w->send_step));
        json_object_set_new(n, "count", json_integer(w->send_count));
        json_object_set_new(n, "recipients", json_integer((json_int_t)w->send_recipients));
        json_object_set_new(n, "moved",
                            w->send_moved[0] ? tk_json_str(w->send_moved) : json_null());
        json_object_set_new(n, "error",
                            w->send_error[0] ? tk_json_str(w->send_error) : json_null());
        /* issue 14: inside the digest of its moment, to these addresses */
        json_object_set_new(n, "digest", json_boolean(w->send_digest));
        json_object_set_new(o, "next_send", n);
    } else {
        json_object_set_new(o, "next_send", json_null());
    }
    json_object_set_new(o, "notify_on", json_integer((json_int_t)w->notify_on));
    json_t *sup = json_array();
    for (size_t i = 0; i < w->suppressed.n; i++) {
        json_t *c = json_object();
        json_object_set_new(c, "email", tk_json_str(w->suppressed.v[i].email));
        json_object_set_new(c, "reason", tk_json_str(w->suppressed.v[i].suppressed_reason));
        json_object_set_new(c, "at", tk_json_time(w->suppressed.v[i].suppressed_at));
        json_array_append_new(sup, c);
    }
    json_object_set_new(o, "suppressed", sup);
    json_object_set_new(o, "emails", emails_json(x));
    return o;
}

static void why_text(const struct tk_engine_why *w, const struct emails *x)
{
    const struct tk_item *it = &w->item;
    char a[32];
    printf("item %lld: %s \"%s\", account %s (%lld)\n", (long long)it->id, tk_cli_text(it->type),
           tk_cli_text(it->title), tk_cli_text(w->account.name), (long long)it->account_id);
    printf("  state:         %s%s\n", tk_cli_text(it->state),
           it->archived ? " (job archived)" : "");
    if (it->rem.nsched > 0) {
        /* issue 14: an anchored schedule: the steps' days around the due date */
        char sched[TK_SCHEDULE_TEXT_MAX];
        const char *due = tk_kv_get(&it->fields, "due_date");
        printf("  reminders:     %s, schedule %s days from due %s, %d of %d sent\n",
               it->rem.enabled ? "on" : "off",
               tk_schedule_text_format(it->rem.sched, it->rem.nsched, sched, sizeof sched),
               due ? tk_cli_text(due) : "(none)", it->rem.sent, it->rem.count);
    } else {
        printf("  reminders:     %s, every %d days, %d of %d sent\n",
               it->rem.enabled ? "on" : "off", it->rem.every_days, it->rem.sent, it->rem.count);
    }
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
    /* issue 14: the next automatic email as `preview` sees it, and what moves it */
    if (!w->has_send) {
        printf("  next send:     none");
        if (it->hold.since && !it->hold.until)
            printf(" (on hold until released)");
        else if (!it->rem.enabled)
            printf(" (reminders are off)");
        else if (it->rem.sent >= it->rem.count)
            printf(" (all %d reminders sent)", it->rem.count);
        else if (strcmp(it->state, "pending") != 0)
            printf(" (the item is %s)", tk_cli_text(it->state));
        printf("\n");
    } else {
        printf("  next send:     %s (%s), ", tk_time_format(w->send_at, a, sizeof a),
               tk_cli_text(w->send_local));
        if (strcmp(w->send_kind, "notification") == 0)
            printf("the notification (first email to new contacts)");
        else if (strcmp(w->send_kind, "escalation") == 0)
            printf("the escalation (after reminder %d of %d)", w->send_step, w->send_count);
        else
            printf("reminder %d of %d", w->send_step, w->send_count);
        if (w->send_recipients)
            printf(" to %zu recipient%s\n", w->send_recipients, w->send_recipients == 1 ? "" : "s");
        else
            printf(" to nobody\n");
        if (w->send_digest)
            printf("  digest:        the reminder goes out inside the day's digest to %s (one "
                   "email listing every reminder due for that address then; its own reminder "
                   "when it is the only one)\n",
                   tk_cli_text(w->send_to));
        if (w->send_moved[0])
            printf("  moved by:      %s\n", tk_cli_text(w->send_moved));
        if (w->send_error[0])
            printf("  will fail:     %s\n", tk_cli_text(w->send_error));
    }
    if (!w->notify_on)
        printf("  nobody:        no contact of the account has notify on: reminders go to "
               "nobody (contact notify ACCOUNT EMAIL on)\n");
    for (size_t i = 0; i < w->suppressed.n; i++)
        printf("  suppressed:    %s (%s): not written to\n", tk_cli_text(w->suppressed.v[i].email),
               tk_cli_text(w->suppressed.v[i].suppressed_reason));
    if (!x->n)
        printf("  emails:        none\n");
    for (size_t i = 0; i < x->n; i++) {
        const struct tk_outbox_row *r = email_at(x, i);
        printf("  email %lld:     %s %d to %s, %s, %d attempt%s", (long long)r->id,
               tk_cli_text(r->kind), r->step, tk_cli_text(r->recipient),
               tk_json_outbox_state(r->state), r->attempts, r->attempts == 1 ? "" : "s");
        if (r->state != TK_OUTBOX_SENT && r->last_reply)
            printf(", last error: %s", tk_cli_text(r->last_reply));
        printf("\n");
    }
}

int tk_cmd_why_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    int rc = tk_cli_words(argc, argv, 1, 1, "why ITEM", a, err);
    return rc ? rc : tk_cli_id(argv[0], "ITEM", &a->id, err);
}

int tk_cmd_why(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_engine_why w;
    struct emails x;
    int64_t id = a->id;
    int rc;
    memset(&w, 0, sizeof w);
    memset(&x, 0, sizeof x);
    if ((rc = tk_engine_why(c->e, id, &w, err)))
        goto out;
    if ((rc = tk_engine_outbox_each(c->e, 0, id, keep_email, &x.own, err)) ||
        (rc = tk_engine_item_digests_each(c->e, id, keep_email, &x.digests, err))) {
        if (rc == TK_ENOMEM)
            tk_error_set(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    pick_newest(&x);
    if (c->json)
        tk_cli_emit(why_json(&w, &x));
    else
        why_text(&w, &x);
out:
    for (size_t i = 0; i < x.own.n; i++)
        tk_outbox_row_free(&x.own.v[i]);
    for (size_t i = 0; i < x.digests.n; i++)
        tk_outbox_row_free(&x.digests.v[i]);
    tk_engine_why_free(&w);
    return rc;
}
