/* why.c - what an item is waiting for and why: its state, its reminder
 * settings, when the next email about it is due, and the last failure to
 * make one (tick.c records it).  `tickler why ITEM` prints it; reminders
 * (issue 14) adds the calendar's reasons here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void tk_engine_why_free(struct tk_engine_why *w)
{
    if (!w)
        return;
    tk_item_free(&w->item);
    tk_account_free(&w->account);
    tk_item_fault_free(&w->fault);
    tk_contacts_free(&w->suppressed);
    memset(w, 0, sizeof *w);
}

static int first_send(void *u, const struct tk_preview *p)
{
    struct tk_engine_why *w = u;
    w->has_send = 1;
    w->send_at = p->at;
    w->send_step = p->step;
    w->send_count = p->count;
    w->send_recipients = p->nmails;
    tk_strlcpy(w->send_kind, p->kind ? p->kind : "reminder", sizeof w->send_kind);
    tk_strlcpy(w->send_local, p->local ? p->local : "", sizeof w->send_local);
    tk_strlcpy(w->send_moved, p->moved ? p->moved : "", sizeof w->send_moved);
    tk_strlcpy(w->send_error, p->error ? p->error : "", sizeof w->send_error);
    w->send_to[0] = '\0';
    for (size_t i = 0; i < p->nmails; i++) {
        size_t n = strlen(w->send_to);
        snprintf(w->send_to + n, sizeof w->send_to - n, "%s%s", i ? ", " : "", p->mails[i].to);
    }
    return TK_PREVIEW_STOP;
}

/* The account's notify-on contacts: how many, and which are suppressed. */
static int recipients(struct tk_engine *e, struct tk_engine_why *w, struct tk_error *err)
{
    struct tk_contacts cs = {0};
    int rc = tk_store_contact_list(e->db, w->item.account_id, 0, &cs, err);
    for (size_t i = 0; rc == 0 && i < cs.n; i++) {
        if (!cs.v[i].notify)
            continue;
        w->notify_on++;
        if (!cs.v[i].suppressed_reason)
            continue;
        struct tk_contact *v =
            realloc(w->suppressed.v, (w->suppressed.n + 1) * sizeof *w->suppressed.v);
        if (!v) {
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
            break;
        }
        w->suppressed.v = v;
        v[w->suppressed.n++] = cs.v[i]; /* moved: its strings now belong to W */
        memset(&cs.v[i], 0, sizeof cs.v[i]);
    }
    tk_contacts_free(&cs);
    return rc;
}

int tk_engine_why(struct tk_engine *e, int64_t item, struct tk_engine_why *out,
                  struct tk_error *err)
{
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = tk_store_item_get(e->db, item, &out->item, err)) ||
        (rc = tk_store_account_get(e->db, out->item.account_id, &out->account, err)) ||
        (rc = tk_store_item_fault_get(e->db, item, &out->fault, err)) ||
        (rc = tk_engine_account_nobody_left(e, out->item.account_id, &out->nobody_left, err))) {
        tk_engine_why_free(out);
        return rc;
    }
    if ((rc = tk_engine_escalated(e, &out->item, &out->escalated, err))) {
        tk_engine_why_free(out);
        return rc;
    }
    {
        struct tk_contacts cs = {0};
        if ((rc = tk_store_contact_list(e->db, out->item.account_id, 1, &cs, err))) {
            tk_engine_why_free(out);
            return rc;
        }
        out->nobody_notified = cs.n == 0 && !out->nobody_left;
        tk_contacts_free(&cs);
    }
    if (!out->escalated && tk_engine_escalation_due(e, &out->item))
        out->escalation =
            out->item.rem.next_at ? out->item.rem.next_at : tk_engine_escalate_at(e, &out->item);
    /* the plugins load lazily: load them to tell (a refusal: none loaded) */
    struct tk_error perr = {0};
    int plugins = tk_engine_load_plugins(e, &perr) == 0;
    out->type_loaded = plugins && tk_registry_item(&e->plugins, out->item.type) != NULL;
    out->next = out->item.rem.next_at;
    out->retry = out->next && out->fault.count > 0;
    /* a moment already past is due at the next tick (D3): "now" */
    out->due_now = out->next && out->next <= e->now;
    if ((rc = recipients(e, out, err)) ||
        (plugins &&
         (rc = tk_engine_preview_item(e, item, TK_PREVIEW_DAYS_MAX, 0, 1, first_send, out, err)))) {
        tk_engine_why_free(out);
        return rc;
    }
    /* issue 14: a digest account's reminder goes out inside the digest */
    out->send_digest =
        out->has_send && out->send_recipients &&
        (strcmp(out->send_kind, "reminder") == 0 || strcmp(out->send_kind, "digest") == 0) &&
        tk_engine_digest_on(e, &out->account);
    return 0;
}
