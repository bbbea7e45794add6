/* escalate.c - telling the account's manager when a client does not
 * respond (issue 14): once an item has used its last automatic reminder
 * and [reminders] escalate_after_days more days pass without completion,
 * the manager (`account set --manager`) gets ONE email naming the item,
 * the client and what was sent when; audit "escalated".
 *
 * The escalation rides the due index like a reminder: after the last step
 * the item's next_at is last_mail_at + escalate_after_days
 * (tk_engine_next_at), so a tick looks at it only when it is due (O(due)).
 * It is an automatic email: a hold keeps it back and the account's window
 * and holidays defer it (audit "deferred").  It is sent once: its outbox
 * row carries a UNIQUE idempotency key and is written in the transaction
 * that writes the audit entry and clears next_at, and an item with an
 * "escalated" entry is never escalated again (a release or a resend that
 * brings the moment back finds it).  Completion first cancels it: only
 * pending items escalate.  Without a manager it is recorded (audit and
 * log) once, and nothing is sent.
 *
 * The wording (en, nl by the account's language) is a template of its own
 * (type "escalation": built in below, overridable by the firm as
 * TEMPLATES_DIR/LANG/escalation/default.tmpl), not an item template's: it
 * is written to staff, not to the client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "internal.h"
#include "mail/mail.h"
#include "template/template.h"

tk_time tk_engine_escalate_at(const struct tk_engine *e, const struct tk_item *it)
{
    const struct tk_reminders *r = &it->rem;
    int days = e->cfg.escalate_after_days;
    if (days <= 0 || !r->enabled || it->archived || !it->state ||
        strcmp(it->state, "pending") != 0 || r->count <= 0 || r->sent < r->count ||
        !r->last_mail_at)
        return 0;
    return r->last_mail_at + (tk_time)days * TK_DAY;
}

tk_time tk_engine_schedule_next(struct tk_engine *e, const struct tk_item *it,
                                const struct tk_account *acc, int *step)
{
    struct tk_account own = {0};
    const struct tk_calendar *cal = NULL;
    tk_time t;
    if (it->rem.nsched <= 0)
        return tk_schedule_next_in(it, NULL, step);
    if (!acc && tk_store_account_get(e->db, it->account_id, &own, NULL) == 0)
        acc = &own;
    /* no calendar (cannot happen: settings are checked when set): UTC */
    if (acc && tk_engine_calendar_for(e, acc, &cal, NULL) != 0)
        cal = NULL;
    t = tk_schedule_next_in(it, cal, step);
    tk_account_free(&own);
    return t;
}

tk_time tk_engine_next_at(struct tk_engine *e, const struct tk_item *it)
{
    tk_time t = tk_engine_schedule_next(e, it, NULL, NULL);
    return t ? t : tk_engine_escalate_at(e, it);
}

static int found(void *u, int64_t item)
{
    (void)item;
    *(int *)u = 1;
    return 0;
}

int tk_engine_escalated(struct tk_engine *e, const struct tk_item *it, int *done,
                        struct tk_error *err)
{
    *done = 0;
    return tk_engine_escalated_each(e, &it->id, 1, found, done, err);
}

int tk_engine_escalated_each(struct tk_engine *e, const int64_t *ids, size_t n,
                             int (*fn)(void *u, int64_t item), void *u, struct tk_error *err)
{
    return tk_store_audit_items_with(e->db, ids, n, "escalated", fn, u, err);
}

struct sent_list {
    struct tk_engine *e;
    const struct tk_account *acc;
    int nl;
    struct tk_buf *out;
    size_t n;
    int failed;
};

static const char *label(const char *kind, int nl)
{
    if (strcmp(kind, "notification") == 0)
        return nl ? "melding" : "notification";
    if (strcmp(kind, "reminder") == 0)
        return nl ? "herinnering" : "reminder";
    if (strcmp(kind, "resend") == 0)
        return nl ? "opnieuw verstuurd" : "resent";
    return NULL;
}

static const char *state_text(int state, int nl)
{
    switch (state) {
    case TK_OUTBOX_SENT:
        return nl ? "afgeleverd" : "delivered";
    case TK_OUTBOX_DEAD:
        return nl ? "niet afgeleverd" : "failed";
    case TK_OUTBOX_CANCELLED:
        return nl ? "geannuleerd" : "cancelled";
    default:
        return nl ? "in de wachtrij" : "queued";
    }
}

/* One line per email to the client about the item: when (the client's
 * local time), what, to whom, its delivery state. */
static int sent_line(void *u, const struct tk_outbox_row *r)
{
    struct sent_list *s = u;
    const char *what = r->kind ? label(r->kind, s->nl) : NULL;
    char when[TK_CALENDAR_LOCAL_MAX + 8], step[32] = "";
    if (!what)
        return 0; /* staff notices, webhooks, bulk requests */
    tk_engine_account_local_time(s->e, s->acc, r->sent_at ? r->sent_at : r->created_at, when,
                                 sizeof when);
    if (r->step > 0 && strcmp(r->kind, "reminder") == 0)
        snprintf(step, sizeof step, " %d", r->step);
    if (tk_buf_printf(s->out, "  %s  %s%s %s %s (%s)\n", when, what, step, s->nl ? "aan" : "to",
                      r->recipient ? r->recipient : "", state_text(r->state, s->nl)))
        s->failed = 1;
    s->n++;
    return 0;
}

/* The escalation's wording: a template, type "escalation", name "default",
 * section [escalation], looked up like an item type's (the firm's
 * TEMPLATES_DIR/LANG/escalation/default.tmpl first, then these built-in
 * ones, then English).  Variables: account.name, item.title, item.type,
 * item.id, escalation.reminders (automatic reminders sent),
 * escalation.one_reminder (set when that is 1), escalation.last_email (the
 * client's local time), escalation.days, escalation.one_day,
 * escalation.sent (one line per email, "\n"-terminated; empty: none),
 * firm.name. */
static const char ESCALATION_EN[] =
    "description = Escalation to the account's manager (issue 14)\n"
    "\n"
    "[escalation]\n"
    "Subject: Escalation: no response from {{account.name}} on \"{{item.title}}\"\n"
    "\n"
    "{{account.name}} has not completed \"{{item.title}}\" ({{item.type}}, item {{item.id}}).\n"
    "\n"
    "All {{escalation.reminders}} automatic "
    "reminder{{^escalation.one_reminder}}s{{/escalation.one_reminder}} have been sent; the last "
    "email went out {{escalation.last_email}}, and {{escalation.days}} "
    "day{{^escalation.one_day}}s{{/escalation.one_day}} later it is still not completed.\n"
    "\n"
    "What was sent:\n"
    "{{#escalation.sent}}{{escalation.sent}}{{/escalation.sent}}"
    "{{^escalation.sent}}  (nothing)\n{{/escalation.sent}}\n"
    "More: tickler why {{item.id}}\n";

static const char ESCALATION_NL[] =
    "description = Escalatie naar de manager van het account (issue 14)\n"
    "\n"
    "[escalation]\n"
    "Subject: Escalatie: geen reactie van {{account.name}} op \"{{item.title}}\"\n"
    "\n"
    "{{account.name}} heeft \"{{item.title}}\" ({{item.type}}, item {{item.id}}) nog niet "
    "afgerond.\n"
    "\n"
    "Alle {{escalation.reminders}} automatische "
    "herinnering{{^escalation.one_reminder}}en{{/escalation.one_reminder}} zijn verstuurd; de "
    "laatste e-mail ging op {{escalation.last_email}}, en {{escalation.days}} "
    "dag{{^escalation.one_day}}en{{/escalation.one_day}} later is er nog geen afronding.\n"
    "\n"
    "Wat er is verstuurd:\n"
    "{{#escalation.sent}}{{escalation.sent}}{{/escalation.sent}}"
    "{{^escalation.sent}}  (niets)\n{{/escalation.sent}}\n"
    "Meer: tickler why {{item.id}}\n";

static const struct tk_template_text escalation_texts[] = {
    {"en", "default", ESCALATION_EN},
    {"nl", "default", ESCALATION_NL},
    {NULL, NULL, NULL},
};

static const struct tk_item_type escalation_type = {
    .hdr = TK_PLUGIN_HEADER_INIT(struct tk_item_type, TK_PLUGIN_ITEM, "escalation", "1.0",
                                 "The escalation email to an account's manager"),
    .templates = escalation_texts,
};

int tk_engine_escalation_text(struct tk_engine *e, const struct tk_item *it,
                              const struct tk_account *acc, struct tk_buf *subject,
                              struct tk_buf *text, struct tk_error *err)
{
    int nl = acc->language && strcmp(acc->language, "nl") == 0;
    int days = e->cfg.escalate_after_days, n = it->rem.sent, rc;
    struct tk_buf list = {0};
    struct sent_list s = {e, acc, nl, &list, 0, 0};
    struct tk_kv vars = {0};
    const struct tk_template *t = NULL;
    const struct tk_template_section *sec;
    char last[TK_CALENDAR_LOCAL_MAX + 8], id[32], nsent[16], ndays[16];

    if ((rc = tk_store_outbox_each(e->db, 0, it->id, sent_line, &s, err)))
        goto out;
    if (s.failed) {
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = tk_catalog_find(e->catalog, &escalation_type, acc->language, "default", &t, err)))
        goto out;
    if (!(sec = tk_template_section(t, "escalation"))) {
        rc = tk_error_set(err, TK_ENOTFOUND, "template %s has no section [escalation]",
                          t->origin ? t->origin : "escalation/default");
        goto out;
    }
    tk_engine_account_local_time(e, acc, it->rem.last_mail_at, last, sizeof last);
    snprintf(id, sizeof id, "%lld", (long long)it->id);
    snprintf(nsent, sizeof nsent, "%d", n);
    snprintf(ndays, sizeof ndays, "%d", days);
    const char *const pairs[] = {"firm.name",
                                 e->cfg.firm_name && *e->cfg.firm_name ? e->cfg.firm_name
                                                                       : "Your accountant",
                                 "account.name",
                                 acc->name,
                                 "item.title",
                                 it->title,
                                 "item.type",
                                 it->type,
                                 "item.id",
                                 id,
                                 "escalation.reminders",
                                 nsent,
                                 "escalation.one_reminder",
                                 n == 1 ? "yes" : NULL,
                                 "escalation.last_email",
                                 last,
                                 "escalation.days",
                                 ndays,
                                 "escalation.one_day",
                                 days == 1 ? "yes" : NULL,
                                 "escalation.sent",
                                 s.n ? list.data : NULL,
                                 NULL};
    for (const char *const *p = pairs; *p && rc == 0; p += 2)
        if (p[1] && tk_kv_set(&vars, p[0], p[1]))
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
    if (rc == 0 && (rc = tk_template_render_subject(sec->subject, &vars, subject, err)) == 0)
        rc = tk_template_render(sec->body, &vars, text, err);
out:
    tk_kv_free(&vars);
    tk_buf_free(&list);
    return rc;
}

int tk_engine_escalation_build(struct tk_engine *e, const struct tk_item *it,
                               const struct tk_account *acc, const char *to, struct tk_buf *subject,
                               struct tk_buf *msg, char *msgid, size_t size, struct tk_error *err)
{
    struct tk_buf text = {0};
    const struct tk_calendar *cal;
    struct tk_error why = {0};
    struct tk_mail m;
    char id[256], item_hdr[32], date[64];
    const char *extra[5];
    int rc;

    if (!msgid) {
        msgid = id;
        size = sizeof id;
    }
    if ((rc = tk_engine_escalation_text(e, it, acc, subject, &text, err)) ||
        (rc = tk_mail_message_id(e->msgid_domain, e->now, msgid, size, err)))
        goto out;
    /* the Date header in the client's zone, as every email of the account */
    if (tk_engine_calendar_for(e, acc, &cal, &why) ||
        tk_calendar_format_date_header(cal, e->now, date, sizeof date, NULL))
        date[0] = '\0';
    snprintf(item_hdr, sizeof item_hdr, "%lld", (long long)it->id);
    extra[0] = "X-Tickler-Kind";
    extra[1] = "escalation";
    extra[2] = "X-Tickler-Item";
    extra[3] = item_hdr;
    extra[4] = NULL;
    memset(&m, 0, sizeof m);
    m.from_name = e->from_name;
    m.from_addr = e->from_addr;
    m.to_addr = to;
    m.subject = subject->data;
    m.text = text.data;
    m.message_id = msgid;
    m.date = e->now;
    m.date_text = date[0] ? date : NULL;
    m.auto_submitted = 1;
    m.extra = extra;
    rc = tk_mail_build(&m, msg, err);
out:
    tk_buf_free(&text);
    return rc;
}

/* The escalation email of IT to TO, into the outbox (kind staff-notice:
 * a reply to it is staff talking, never the client's answer).  *DUP: it
 * was there already. */
static int enqueue(struct tk_engine *e, const struct tk_item *it, const struct tk_account *acc,
                   const char *to, int *dup, struct tk_error *err)
{
    struct tk_buf subject = {0}, msg = {0};
    char msgid[256], idem[600];
    int rc;

    if ((rc = tk_engine_escalation_build(e, it, acc, to, &subject, &msg, msgid, sizeof msgid,
                                         err)) == 0) {
        snprintf(idem, sizeof idem, "escalation/%lld/%s", (long long)it->id, to);
        rc =
            tk_engine_staff_row_add(e, it->account_id, it->id, to, idem, msgid, msg.data, dup, err);
    }
    tk_buf_free(&subject);
    tk_buf_free(&msg);
    return rc;
}

int tk_engine_escalation_due(const struct tk_engine *e, const struct tk_item *it)
{
    return tk_schedule_next(it) == 0 && tk_engine_escalate_at(e, it) != 0;
}

int tk_engine_escalate(struct tk_engine *e, struct tk_item *it, const struct tk_account *acc,
                       struct tk_error *err)
{
    char why[TK_CALENDAR_LOCAL_MAX + 256], detail[TK_CALENDAR_LOCAL_MAX + 700], last[32];
    tk_time at, when = 0;
    int held = 0, done = 0, dup = 0, rc;

    if ((rc = tk_engine_hold_check_due(e, it, &held, err)) || held)
        return rc;
    at = tk_engine_escalate_at(e, it);
    if (at && at > e->now) { /* not yet (a hold ended early, a resend) */
        it->rem.next_at = at;
        return tk_store_item_update_reminder(e->db, it, err);
    }
    if (at && (rc = tk_engine_escalated(e, it, &done, err)))
        return rc;
    if (!at || done) { /* completed, switched off, or told already: stop looking */
        it->rem.next_at = 0;
        return tk_store_item_update_reminder(e->db, it, err);
    }
    if ((rc = tk_engine_defer(e, acc, &when, why, sizeof why, err)))
        return rc;
    if (when) {
        it->rem.next_at = when;
        snprintf(detail, sizeof detail, "escalation to the account's manager deferred to %s", why);
        if ((rc = tk_store_item_update_reminder(e->db, it, err)) == 0)
            rc = tk_engine_audit(e, it->account_id, it->id, it->job_id, "deferred", detail, err);
        return rc;
    }
    tk_time_format(it->rem.last_mail_at, last, sizeof last);
    if (acc->manager && *acc->manager) {
        if ((rc = enqueue(e, it, acc, acc->manager, &dup, err)))
            return rc;
        snprintf(detail, sizeof detail,
                 "no completion %d day%s after the last automatic reminder (%d of %d, last email "
                 "%s): manager %s told%s",
                 e->cfg.escalate_after_days, e->cfg.escalate_after_days == 1 ? "" : "s",
                 it->rem.sent, it->rem.count, last, acc->manager, dup ? " (already queued)" : "");
    } else {
        snprintf(detail, sizeof detail,
                 "no completion %d day%s after the last automatic reminder (%d of %d, last email "
                 "%s): the account has no manager, nobody told (account set --manager)",
                 e->cfg.escalate_after_days, e->cfg.escalate_after_days == 1 ? "" : "s",
                 it->rem.sent, it->rem.count, last);
        tk_engine_warn(e, "item %lld: %s", (long long)it->id, detail);
    }
    it->rem.next_at = 0;
    if ((rc = tk_store_item_update_reminder(e->db, it, err)) == 0)
        rc = tk_engine_audit(e, it->account_id, it->id, it->job_id, "escalated", detail, err);
    return rc;
}
