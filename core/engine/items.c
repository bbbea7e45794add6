/* items.c - what staff and pipelines do to items: send (R1, R5), resend
 * (R2, R3, D2), change reminder settings (R6, D4), record client events
 * (R9-R14).  Everything runs in the caller's transaction; a failure leaves
 * the store as it was once the caller rolls back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Longest free text of a bulk request ({{message}}): 10 MiB. */
#define TK_BULK_MESSAGE_MAX (10 * 1024 * 1024)

static int audit(struct tk_engine *e, const struct tk_item *it, const char *action,
                 const char *detail, struct tk_error *err)
{
    return tk_store_audit_add(e->db, e->now, e->actor, it->account_id, it->id,
                              e->job_id ? e->job_id : it->job_id, action, detail, err);
}

static int load(struct tk_engine *e, int64_t id, struct tk_item *it, const struct tk_plugin **p,
                struct tk_account *acc, struct tk_error *err)
{
    int rc = tk_store_item_get(e->db, id, it, err);
    if (rc)
        return rc;
    if (!(*p = tk_engine_type(e, it->type, err)))
        return TK_ENOTFOUND;
    return acc ? tk_store_account_get(e->db, it->account_id, acc, err) : 0;
}

static void resolve_reminders(struct tk_engine *e, const struct tk_send_req *rq,
                              const struct tk_template *t, struct tk_reminders *r)
{
    /* automation or command line > template (R8) > config */
    if (rq->reminders >= 0)
        r->enabled = rq->reminders;
    else if (rq->every_days > 0 || rq->count >= 0)
        r->enabled = 1; /* --every or --count alone asks for reminders: never silently none */
    else
        r->enabled = t->has_reminders ? t->rem_enabled : 0;
    if (rq->every_days > 0)
        r->every_days = rq->every_days;
    else if (t->rem_every_days > 0)
        r->every_days = t->rem_every_days;
    else
        r->every_days = e->cfg.default_every_days;
    if (rq->count >= 0)
        r->count = rq->count;
    else if (t->rem_count >= 0 && t->has_reminders)
        r->count = t->rem_count;
    else
        r->count = e->cfg.default_count;
}

/* Issue 14: the due date and the anchored schedule of a new item.  DUE
 * sets the due_date field (any type); SCHEDULE (the request's, else the
 * template's) replaces every N days, count = its number of steps.  The
 * command line's --every or --count over a template's schedule: every N
 * days (the request wins, R8).  A request's schedule with --every/--count,
 * or with no due date, is refused; a template's schedule with no due date
 * falls back to every/count with a warning (the template still works for
 * items without a deadline). */
static int resolve_schedule(struct tk_engine *e, const struct tk_send_req *rq,
                            const struct tk_template *t, struct tk_item *it, struct tk_error *err)
{
    struct tk_reminders *r = &it->rem;
    const char *have = tk_kv_get(&it->fields, "due_date");
    tk_date date;
    int rc;
    if (rq->due) {
        if (tk_calendar_date_parse(rq->due, &date, NULL) != 0 || strlen(rq->due) != 10)
            return tk_error_set(err, TK_EINVAL, "due date '%s' is not a date like 2026-12-31",
                                rq->due);
        if (have && strcmp(have, rq->due) != 0)
            return tk_error_set(err, TK_EINVAL,
                                "due date %s and field due_date=%s disagree: give one", rq->due,
                                have);
        if (tk_kv_set(&it->fields, "due_date", rq->due))
            return tk_error_set(err, TK_ENOMEM, "out of memory");
        have = rq->due;
    }
    r->nsched = 0;
    if (rq->schedule && strcmp(rq->schedule, "none") != 0) {
        if (rq->every_days > 0 || rq->count >= 0)
            return tk_error_set(err, TK_EINVAL,
                                "--schedule replaces --every and --count: give one or the other");
        if ((rc = tk_schedule_text_parse(rq->schedule, r->sched, TK_SCHEDULE_MAX, TK_SCHEDULE_LIMIT,
                                         &r->nsched, err)))
            return rc;
        if (!have)
            return tk_error_set(err, TK_EINVAL,
                                "a schedule counts days from the due date: give --due YYYY-MM-DD "
                                "(or the field due_date)");
        if (rq->reminders < 0)
            r->enabled = 1; /* --schedule alone asks for reminders, as --every */
    } else if (!rq->schedule && t->rem_nsched > 0 && rq->every_days <= 0 && rq->count < 0) {
        if (!have) {
            tk_engine_warn(e,
                           "template %s has a schedule but the item has no due date: every %d "
                           "days instead",
                           t->origin, r->every_days);
            return 0;
        }
        memcpy(r->sched, t->rem_sched, sizeof r->sched);
        r->nsched = t->rem_nsched;
    }
    if (r->nsched)
        r->count = r->nsched;
    return 0;
}

static int prepare_fields(struct tk_engine *e, const struct tk_plugin *p, struct tk_item *it,
                          const char *lang, struct tk_error *err)
{
    struct tk_item_ctx ctx;
    struct tk_kv facts = {0};
    int rc = tk_fields_check(p->item, &it->fields, 0, err);
    if (rc)
        return rc;
    if (p->item->prepare) {
        if ((rc = tk_ctx_init(e, &ctx, it, &it->fields, &facts, NULL, lang, err)) == 0) {
            ctx.phase = 1;
            rc = p->item->prepare(p->state, &ctx, err);
        }
        tk_kv_free(&facts);
        if (rc)
            return rc;
    }
    return tk_fields_check(p->item, &it->fields, 1, err);
}

static int notify(struct tk_engine *e, const struct tk_plugin *p, const struct tk_item *it,
                  const struct tk_account *acc, const char *kind, const char *section, int step,
                  const char *message, struct tk_contacts *rcpts, struct tk_error *err)
{
    struct tk_render_req rq;
    int rc = tk_store_contact_list(e->db, it->account_id, 1, rcpts, err);
    if (rc)
        return rc;
    memset(&rq, 0, sizeof rq);
    rq.plugin = p;
    rq.it = it;
    rq.account = acc;
    rq.kind = kind;
    rq.section = section;
    rq.step = step;
    rq.message = message;
    rq.auto_submitted = strcmp(kind, "reminder") == 0 || strcmp(e->actor, "cli") != 0;
    return tk_render_enqueue(e, &rq, rcpts, err);
}

int tk_engine_send(struct tk_engine *e, const struct tk_send_req *rq, int64_t *item_id,
                   struct tk_error *err)
{
    const struct tk_plugin *p;
    const struct tk_template *t;
    struct tk_account acc = {0};
    struct tk_item it;
    struct tk_contacts rcpts = {0};
    char *who = NULL, detail[TK_ERROR_MAX];
    int rc;

    memset(&it, 0, sizeof it);
    if (!(p = tk_engine_type(e, rq->type, err)))
        return TK_EINVAL;
    if (!rq->title || !*rq->title || strlen(rq->title) > 500 ||
        !tk_utf8_valid(rq->title, strlen(rq->title)) || strpbrk(rq->title, "\r\n"))
        return tk_error_set(err, TK_EINVAL, "a title is one line of 1 to 500 characters");
    if (rq->every_days == 0 || rq->every_days > 365 || rq->count > 100)
        return tk_error_set(err, TK_EINVAL, "reminders: every is 1 to 365 days, count 0 to 100");
    if ((rc = tk_store_account_get(e->db, rq->account_id, &acc, err)))
        return rc;
    if ((rc = tk_catalog_find(e->catalog, p->item, acc.language,
                              rq->template_name ? rq->template_name : "default", &t, err)))
        goto out;

    it.type = (char *)rq->type;
    it.account_id = rq->account_id;
    it.job_id = rq->job_id ? rq->job_id : e->job_id;
    it.title = (char *)rq->title;
    it.template_name = (char *)(rq->template_name ? rq->template_name : "default");
    it.state = "pending";
    it.created_at = e->now;
    if (rq->fields)
        for (size_t i = 0; i < rq->fields->n; i++)
            if ((rc = tk_kv_set(&it.fields, rq->fields->keys[i], rq->fields->vals[i]))) {
                tk_error_set(err, rc, "out of memory");
                goto out;
            }
    resolve_reminders(e, rq, t, &it.rem);
    if ((rc = resolve_schedule(e, rq, t, &it, err)))
        goto out;
    it.rem.last_mail_at = e->now; /* D1: the notification */
    if ((rc = prepare_fields(e, p, &it, acc.language, err)))
        goto out;
    it.rem.next_at = tk_engine_schedule_next(e, &it, &acc, NULL); /* after prepare: its due_date */
    if ((rc = tk_store_sequence_next(e->db, "todo", &it.todo_seq, err)) ||
        (rc = tk_store_item_insert(e->db, &it, e->now, err)) ||
        (rc = notify(e, p, &it, &acc, "notification", "notification", 0, NULL, &rcpts, err)) ||
        (rc = tk_recipients_text(&rcpts, &who, err)))
        goto out;
    snprintf(detail, sizeof detail, "%s '%s' sent to %s; reminders %s", it.type, it.title, who,
             it.rem.enabled ? "on" : "off");
    if (it.rem.enabled && it.rem.nsched) {
        char sched[TK_SCHEDULE_TEXT_MAX];
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail),
                 ", schedule %s days from due %s",
                 tk_schedule_text_format(it.rem.sched, it.rem.nsched, sched, sizeof sched),
                 tk_kv_get(&it.fields, "due_date"));
    } else if (it.rem.enabled)
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail),
                 ", every %d days, %d reminder%s", it.rem.every_days, it.rem.count,
                 it.rem.count == 1 ? "" : "s");
    if ((rc = audit(e, &it, "sent", detail, err)) ||
        (rc = tk_webhook_emit(e, e->db, "item.sent", it.id, err)))
        goto out;
    if (!rcpts.n)
        tk_engine_warn(e,
                       "item %lld: account '%s' has no contact with notify on; nobody was notified",
                       (long long)it.id, acc.name);
    *item_id = it.id;
out:
    free(who);
    tk_contacts_free(&rcpts);
    tk_kv_free(&it.fields);
    tk_account_free(&acc);
    return rc;
}

int tk_engine_resend(struct tk_engine *e, int64_t item_id, struct tk_error *err)
{
    const struct tk_plugin *p;
    struct tk_item it;
    struct tk_account acc = {0};
    struct tk_contacts rcpts = {0};
    const char *section;
    char *who = NULL, detail[TK_ERROR_MAX];
    int rc;

    memset(&it, 0, sizeof it);
    if ((rc = load(e, item_id, &it, &p, &acc, err)))
        goto out;
    /* An archived job's items are off the client's to-do list (R2 b cannot
     * hold): refused rather than a resend that claims to move it to the
     * top (issue 11 item 10, docs/cli.md). */
    if (it.archived) {
        rc = tk_error_set(err, TK_ECONFLICT,
                          "item %lld belongs to archived job %lld and is not on the client's "
                          "to-do list; it cannot be resent",
                          (long long)it.id, (long long)it.job_id);
        goto out;
    }
    if ((rc = tk_render_section(e, p, &it, acc.language, "resend", &section, err)))
        goto out;
    if (!section) {
        rc = tk_error_set(err, TK_ECONFLICT, "item %lld is %s; only pending items can be resent",
                          (long long)it.id, it.state);
        goto out;
    }
    it.resends++;
    if ((rc = tk_store_sequence_next(e->db, "todo", &it.todo_seq, err)) ||
        (rc = notify(e, p, &it, &acc, "resend", section, it.resends, NULL, &rcpts, err)))
        goto out;
    /* D2: not one of the automatic reminders; the next one waits a full
     * period from now. */
    it.rem.last_mail_at = e->now;
    it.rem.next_at = tk_engine_next_at(e, &it);
    if ((rc = tk_recipients_text(&rcpts, &who, err)))
        goto out;
    snprintf(detail, sizeof detail, "resent (%s%s) to %s; moved to the top of the to-do list",
             strcmp(section, "resend") == 0 ? "manual resend" : section,
             strcmp(section, "resend") == 0 ? "" : " of a completed item", who);
    if ((rc = tk_store_item_update(e->db, &it, err)) || (rc = audit(e, &it, "resent", detail, err)))
        goto out;
    if (it.hold.since)
        tk_engine_warn(e, "item %lld is on hold: resent anyway; automatic reminders stay held",
                       (long long)it.id);
    if (!rcpts.n)
        tk_engine_warn(e,
                       "item %lld: account '%s' has no contact with notify on; nobody was notified",
                       (long long)it.id, acc.name);
out:
    free(who);
    tk_contacts_free(&rcpts);
    tk_item_free(&it);
    tk_account_free(&acc);
    return rc;
}

int tk_engine_set_reminders(struct tk_engine *e, int64_t item_id, int enabled, int every, int count,
                            struct tk_error *err)
{
    return tk_engine_set_reminders_ex(e, item_id, enabled, every, count, NULL, NULL, err);
}

int tk_engine_set_reminders_ex(struct tk_engine *e, int64_t item_id, int enabled, int every,
                               int count, const char *schedule, const char *due,
                               struct tk_error *err)
{
    struct tk_item it;
    char detail[TK_ERROR_MAX], when[32], sched[TK_SCHEDULE_TEXT_MAX];
    int offs[TK_SCHEDULE_MAX], n = 0, rc;
    tk_date date;

    memset(&it, 0, sizeof it);
    if ((every != -1 && (every < 1 || every > 365)) || (count != -1 && (count < 0 || count > 100)))
        return tk_error_set(err, TK_EINVAL, "reminders: every is 1 to 365 days, count 0 to 100");
    if (schedule && strcmp(schedule, "none") != 0) {
        if (every != -1 || count != -1)
            return tk_error_set(err, TK_EINVAL,
                                "--schedule replaces --every and --count: give one or the other");
        if ((rc = tk_schedule_text_parse(schedule, offs, TK_SCHEDULE_MAX, TK_SCHEDULE_LIMIT, &n,
                                         err)))
            return rc;
    }
    if (due && (strlen(due) != 10 || tk_calendar_date_parse(due, &date, NULL) != 0))
        return tk_error_set(err, TK_EINVAL, "due date '%s' is not a date like 2026-12-31", due);
    /* No plugin needed: an item whose type's plugin was removed can still
     * have its reminders switched off (withdrawn, docs/cli.md). */
    if ((rc = tk_store_item_get(e->db, item_id, &it, err)))
        goto out;
    if (due && tk_kv_set(&it.fields, "due_date", due)) {
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    it.rem.enabled = enabled;
    if (every != -1)
        it.rem.every_days = every;
    if (count != -1)
        it.rem.count = count;
    if (n) {
        if (!tk_kv_get(&it.fields, "due_date")) {
            rc = tk_error_set(err, TK_EINVAL,
                              "item %lld has no due date: a schedule counts days from it (give "
                              "--due YYYY-MM-DD)",
                              (long long)it.id);
            goto out;
        }
        memcpy(it.rem.sched, offs, sizeof offs);
        it.rem.nsched = n;
        it.rem.count = n;
        /* the steps whose day is already covered by the last email are
         * skipped (schedule.c); the ones still to come are counted from 0 */
        it.rem.sent = 0;
    } else if ((schedule && strcmp(schedule, "none") == 0) ||
               (it.rem.nsched && (every != -1 || count != -1))) {
        /* back to every N days (--every/--count switch a schedule off) */
        if (it.rem.nsched && count == -1)
            it.rem.count = it.rem.nsched;
        it.rem.nsched = 0;
    }
    if (due && it.rem.nsched)
        it.rem.sent = 0; /* a moved due date: its steps from the start (still skipping the past) */
    it.rem.next_at = tk_engine_next_at(e, &it); /* D4; after the last: the escalation */
    if (it.rem.nsched)
        snprintf(detail, sizeof detail, "reminders %s, schedule %s days from due %s (%d sent)",
                 enabled ? "on" : "off",
                 tk_schedule_text_format(it.rem.sched, it.rem.nsched, sched, sizeof sched),
                 tk_kv_get(&it.fields, "due_date"), it.rem.sent);
    else
        snprintf(detail, sizeof detail, "reminders %s, every %d days, %d reminder%s (%d sent)",
                 enabled ? "on" : "off", it.rem.every_days, it.rem.count,
                 it.rem.count == 1 ? "" : "s", it.rem.sent);
    snprintf(detail + strlen(detail), sizeof detail - strlen(detail), "; next %s",
             !it.rem.next_at            ? "none"
             : it.rem.next_at <= e->now ? "now" /* overdue: the next tick (D3) */
                                        : tk_time_format(it.rem.next_at, when, sizeof when));
    if ((rc = tk_store_item_update(e->db, &it, err)) ||
        (due && (rc = tk_store_item_field_set(e->db, it.id, "due_date", due, err))) ||
        (rc = audit(e, &it, "reminders", detail, err)))
        goto out;
    if (strcmp(it.state, "pending") != 0)
        tk_engine_warn(e, "item %lld is %s: settings saved, nothing will be sent", (long long)it.id,
                       it.state);
out:
    tk_item_free(&it);
    return rc;
}

static const struct tk_event_spec *find_event(const struct tk_item_type *t, const char *name)
{
    for (const struct tk_event_spec *ev = t->events; ev && ev->name; ev++)
        if (strcmp(ev->name, name) == 0)
            return ev;
    return NULL;
}

int tk_engine_event(struct tk_engine *e, int64_t item_id, const char *event, struct tk_error *err)
{
    return tk_engine_event_fields(e, item_id, event, NULL, err);
}

/* Merge FIELDS into IT as tk_engine_event_fields says, check the whole
 * item with the plugin, and write the changed fields. */
static int event_fields(struct tk_engine *e, const struct tk_plugin *p, struct tk_item *it,
                        const struct tk_kv *fields, struct tk_buf *what, struct tk_error *err)
{
    struct tk_account acc = {0};
    int rc;
    if ((rc = tk_fields_merge_event(p->item, &it->fields, fields, what, err)) ||
        (rc = tk_store_account_get(e->db, it->account_id, &acc, err)) ||
        (rc = prepare_fields(e, p, it, acc.language, err)))
        goto out;
    for (size_t i = 0; i < fields->n && rc == 0; i++)
        rc = tk_store_item_field_set(e->db, it->id, fields->keys[i],
                                     tk_kv_get(&it->fields, fields->keys[i]), err);
out:
    tk_account_free(&acc);
    return rc;
}

/* The event; OUT: see tk_engine_event_item (NULL: not wanted). */
static int event_do(struct tk_engine *e, int64_t item_id, const char *event,
                    const struct tk_kv *fields, struct tk_item *out, struct tk_error *err)
{
    const struct tk_plugin *p;
    const struct tk_event_spec *ev;
    struct tk_item it;
    struct tk_buf what = {0};
    char detail[TK_ERROR_MAX], when[32], *due_before = NULL;
    int moved = 0, rc, stale = 0;

    memset(&it, 0, sizeof it);
    if ((rc = load(e, item_id, &it, &p, NULL, err)))
        goto out;
    if (!(ev = find_event(p->item, event))) {
        struct tk_buf names = {0};
        for (const struct tk_event_spec *s = p->item->events; s->name; s++)
            tk_buf_printf(&names, "%s%s", names.len ? ", " : "", s->name);
        rc = tk_error_set(err, TK_EINVAL, "%s has no event '%s' (events: %s)", it.type, event,
                          names.data ? names.data : "none");
        tk_buf_free(&names);
        goto out;
    }
    if (strcmp(it.state, "pending") != 0 && ev->final_state) {
        if (strcmp(it.state, ev->final_state) == 0) {
            tk_engine_warn(e, "item %lld is already %s; nothing changed", (long long)it.id,
                           it.state);
            goto out; /* a repeated completing event is harmless */
        }
        rc = tk_error_set(err, TK_ECONFLICT, "item %lld is already %s; '%s' cannot follow",
                          (long long)it.id, it.state, event);
        goto out;
    }
    if (fields && fields->n && tk_kv_get(fields, "due_date") &&
        !(due_before = tk_strdup(
              tk_kv_get(&it.fields, "due_date") ? tk_kv_get(&it.fields, "due_date") : ""))) {
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    if (fields && fields->n && (rc = event_fields(e, p, &it, fields, &what, err)))
        goto out;
    if (!ev->final_state && due_before && tk_kv_get(&it.fields, "due_date") &&
        strcmp(due_before, tk_kv_get(&it.fields, "due_date")) != 0) {
        /* a new due date moves the reminders as `reminders ITEM on --due`
         * does: an anchored schedule's steps from the start (still
         * skipping the past, schedule.c); every N days keeps its moment */
        if (it.rem.nsched)
            it.rem.sent = 0;
        it.rem.next_at = tk_engine_next_at(e, &it);
        if ((rc = tk_store_item_update(e->db, &it, err)))
            goto out;
        moved = 1;
    }
    if (ev->final_state) {
        free(it.state);
        if (!(it.state = tk_strdup(ev->final_state))) {
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
            goto out;
        }
        it.completed_at = e->now;
        it.rem.next_at = 0; /* stops at once */
        snprintf(detail, sizeof detail, "client event '%s': item %s; reminders stopped", event,
                 it.state);
        rc = tk_store_item_update(e->db, &it, err);
    } else {
        snprintf(detail, sizeof detail, "client event '%s' recorded; item stays %s", event,
                 it.state);
    }
    if (!rc && what.len)
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail), " (%s)", what.data);
    if (!rc && moved)
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail), "; next reminder %s",
                 !it.rem.next_at            ? "none"
                 : it.rem.next_at <= e->now ? "now"
                                            : tk_time_format(it.rem.next_at, when, sizeof when));
    if (rc || (rc = audit(e, &it, "event", detail, err)))
        goto out;
    if (ev->final_state && (rc = tk_webhook_emit(e, e->db, "item.completed", it.id, err)))
        goto out;
    if (e->on_event) {
        /* whether it may write more than this item as it stands here */
        stale =
            it.job_id || !e->on_event_quiet || !e->on_event_quiet(e->on_event_data, it.type, event);
        rc = e->on_event(e->on_event_data, e, &it, event, err);
    }
out:
    if (rc == 0 && out) {
        if (stale) {
            rc = 1;
        } else {
            *out = it; /* as written (or as read: nothing to change) */
            memset(&it, 0, sizeof it);
        }
    }
    free(due_before);
    tk_buf_free(&what);
    tk_item_free(&it);
    return rc;
}

int tk_engine_event_fields(struct tk_engine *e, int64_t item_id, const char *event,
                           const struct tk_kv *fields, struct tk_error *err)
{
    return event_do(e, item_id, event, fields, NULL, err);
}

int tk_engine_event_item(struct tk_engine *e, int64_t item_id, const char *event,
                         struct tk_item *out, struct tk_error *err)
{
    memset(out, 0, sizeof *out);
    return event_do(e, item_id, event, NULL, out, err);
}

struct bulk_collect {
    struct tk_engine *e;
    struct tk_ids ids;
    struct tk_strv titles;
};

static int bulk_add(void *u, struct tk_item *it)
{
    struct bulk_collect *bc = u;
    if (tk_ids_push(&bc->ids, it->id))
        return TK_ENOMEM;
    return tk_strv_push(&bc->titles, it->title);
}

/* What a bulk command covers and to whom it goes, read without writing:
 * the checks, the account, its pending items of the command's type, its
 * recipients and the render request (the step peeked when DRY, taken
 * otherwise).  Freed with bulk_run_free also on failure. */
struct bulk_run {
    const struct tk_plugin *p;
    struct bulk_collect bc;
    struct tk_account acc;
    struct tk_contacts rcpts;
    struct tk_render_req rq;
};

static void bulk_run_free(struct bulk_run *r)
{
    tk_ids_free(&r->bc.ids);
    tk_strv_free(&r->bc.titles);
    tk_contacts_free(&r->rcpts);
    tk_account_free(&r->acc);
}

static int bulk_prepare(struct tk_engine *e, const char *command, int64_t account_id,
                        const char *message, int dry, struct bulk_run *r, struct tk_error *err)
{
    const struct tk_bulk_spec *bulk;
    struct tk_item_filter f;
    int64_t step;
    int rc;

    memset(r, 0, sizeof *r);
    if ((rc = tk_engine_load_plugins(e, err)))
        return rc;
    if (!(r->p = tk_registry_bulk(&e->plugins, command, &bulk)))
        return tk_error_set(err, TK_EUSAGE, "unknown command '%s'", command);
    /* The mail builder encodes bodies of any size (quoted-printable, lines
     * of at most 76 characters); the limit only keeps a mistake from filling
     * the outbox.  The command line itself caps an argument at 128 KiB. */
    if (message &&
        (strlen(message) > TK_BULK_MESSAGE_MAX || !tk_utf8_valid(message, strlen(message))))
        return tk_error_set(err, TK_EINVAL, "the message must be UTF-8 text of at most %d bytes",
                            TK_BULK_MESSAGE_MAX);
    if ((rc = tk_store_account_get(e->db, account_id, &r->acc, err)))
        return rc;
    memset(&f, 0, sizeof f);
    f.account_id = account_id;
    f.type = r->p->hdr->name;
    f.pending_only = 1;
    if ((rc = tk_store_item_each(e->db, &f, bulk_add, &r->bc, err))) {
        if (rc == TK_ENOMEM)
            tk_error_set(err, rc, "out of memory");
        return rc;
    }
    if (!r->bc.ids.n)
        return tk_error_set(err, TK_ENOTFOUND, "account '%s' has no pending %s items; nothing sent",
                            r->acc.name, r->p->hdr->name);
    if ((rc =
             (dry ? tk_store_sequence_peek : tk_store_sequence_next)(e->db, command, &step, err)) ||
        (rc = tk_store_contact_list(e->db, account_id, 1, &r->rcpts, err)))
        return rc;
    r->rq.plugin = r->p;
    r->rq.account = &r->acc;
    r->rq.kind = command;
    r->rq.section = bulk->section;
    r->rq.step = (int)step;
    r->rq.message = message;
    r->rq.bulk_titles = &r->bc.titles;
    return 0;
}

int tk_engine_bulk(struct tk_engine *e, const char *command, int64_t account_id,
                   const char *message, int *n_items, struct tk_error *err)
{
    struct bulk_run r;
    char *who = NULL, detail[TK_ERROR_MAX];
    int rc;

    if ((rc = bulk_prepare(e, command, account_id, message, 0, &r, err)) ||
        (rc = tk_render_enqueue(e, &r.rq, &r.rcpts, err)) ||
        (rc = tk_recipients_text(&r.rcpts, &who, err)))
        goto out;
    /* Each item counts as resent (R2): top of the to-do list, audit entry,
     * and D2 for its next automatic reminder. */
    for (size_t i = 0; i < r.bc.ids.n && rc == 0; i++) {
        struct tk_item it;
        memset(&it, 0, sizeof it);
        if ((rc = tk_store_item_get(e->db, r.bc.ids.v[i], &it, err)) == 0 &&
            (rc = tk_store_sequence_next(e->db, "todo", &it.todo_seq, err)) == 0) {
            it.rem.last_mail_at = e->now;
            it.rem.next_at = tk_engine_next_at(e, &it);
            snprintf(detail, sizeof detail, "%s: one request for %zu item%s sent to %s%s", command,
                     r.bc.ids.n, r.bc.ids.n == 1 ? "" : "s", who, message ? " with a message" : "");
            if ((rc = tk_store_item_update(e->db, &it, err)) == 0)
                rc = audit(e, &it, "resent", detail, err);
        }
        tk_item_free(&it);
    }
    if (!rc && !r.rcpts.n)
        tk_engine_warn(e, "account '%s' has no contact with notify on; nobody was notified",
                       r.acc.name);
    *n_items = (int)r.bc.ids.n;
out:
    free(who);
    bulk_run_free(&r);
    return rc;
}

/* tk_render_preview's callback: each recipient's message kept. */
struct bulk_mails {
    struct tk_preview_mail *v;
    size_t n, cap;
};

static int bulk_mail_add(void *u, const struct tk_contact *c, const char *subject,
                         const char *message)
{
    struct bulk_mails *m = u;
    struct tk_preview_mail *x;
    if (m->n == m->cap && tk_array_grow(&m->v, &m->cap, m->n + 1, sizeof *m->v, 4))
        return TK_ENOMEM;
    x = &m->v[m->n];
    x->to = strdup(c->email);
    x->subject = strdup(subject);
    x->message = strdup(message);
    if (!x->to || !x->subject || !x->message) {
        free((char *)x->to);
        free((char *)x->subject);
        free((char *)x->message);
        return TK_ENOMEM;
    }
    m->n++;
    return 0;
}

int tk_engine_bulk_preview(struct tk_engine *e, const char *command, int64_t account_id,
                           const char *message, int (*fn)(void *u, const struct tk_bulk_preview *p),
                           void *u, struct tk_error *err)
{
    struct bulk_run r;
    struct bulk_mails m = {0};
    struct tk_bulk_preview p;
    int rc;

    if ((rc = bulk_prepare(e, command, account_id, message, 1, &r, err)) == 0 &&
        (rc = tk_render_preview(e, &r.rq, &r.rcpts, 1, bulk_mail_add, &m, err)) == TK_ENOMEM)
        tk_error_set(err, rc, "out of memory");
    if (rc == 0) {
        memset(&p, 0, sizeof p);
        p.command = command;
        p.type = r.p->hdr->name;
        p.account_id = account_id;
        p.account_name = r.acc.name;
        p.nitems = r.bc.ids.n;
        p.item_ids = r.bc.ids.v;
        p.titles = (const char *const *)r.bc.titles.v;
        p.nmails = m.n;
        p.mails = m.v;
        rc = fn(u, &p);
    }
    for (size_t i = 0; i < m.n; i++) {
        free((char *)m.v[i].to);
        free((char *)m.v[i].subject);
        free((char *)m.v[i].message);
    }
    free(m.v);
    bulk_run_free(&r);
    return rc;
}

struct stop_ctx {
    struct tk_engine *e;
    struct tk_error *err;
};

static int stop_one(void *u, struct tk_item *it)
{
    struct stop_ctx *x = u;
    int rc;
    if (it->archived)
        return 0;
    it->archived = 1;
    it->rem.next_at = 0;
    if ((rc = tk_store_item_update(x->e->db, it, x->err)))
        return rc;
    return audit(x->e, it, "archived", "job archived; reminders stopped", x->err);
}

int tk_engine_stop_job_items(struct tk_engine *e, int64_t job_id, struct tk_error *err)
{
    struct tk_item_filter f;
    struct stop_ctx x = {e, err};
    memset(&f, 0, sizeof f);
    f.job_id = job_id;
    return tk_store_item_each(e->db, &f, stop_one, &x, err);
}
