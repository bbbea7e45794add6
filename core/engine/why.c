/* why.c - what an item is waiting for and why: its state, its reminder
 * settings, when the next email about it is due, and the last failure to
 * make one (tick.c records it).  `tickler why ITEM` prints it; reminders
 * (issue 14) adds the calendar's reasons here. */
#include <string.h>

#include "internal.h"

void tk_engine_why_free(struct tk_engine_why *w)
{
    if (!w)
        return;
    tk_item_free(&w->item);
    tk_account_free(&w->account);
    tk_item_fault_free(&w->fault);
    memset(w, 0, sizeof *w);
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
    out->type_loaded = tk_registry_item(&e->plugins, out->item.type) != NULL;
    out->next = out->item.rem.next_at;
    out->retry = out->next && out->fault.count > 0;
    /* a moment already past is due at the next tick (D3): "now" */
    out->due_now = out->next && out->next <= e->now;
    return 0;
}
