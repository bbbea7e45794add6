/* tick.c - the scheduler: enqueue every automatic reminder that is due.
 *
 * Due items come from the items_due index (next_at <= now), so the cost of a
 * tick follows what is due, not what is stored.  Work is done in
 * transactions of [scheduler] batch_size items taken with BEGIN IMMEDIATE:
 * a reminder step is enqueued exactly once, because the same transaction
 * that writes its outbox rows moves the item's next_at on.  A tick with
 * several connections calls tk_engine_remind_due from the dispatching
 * thread instead, inside the transactions that also record the workers'
 * results (settle.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int remind(struct tk_engine *e, int64_t id, struct tk_error *err)
{
    const struct tk_plugin *p;
    struct tk_item it;
    struct tk_account acc = {0};
    struct tk_contacts rcpts = {0};
    struct tk_render_req rq;
    const char *section;
    char *who = NULL, detail[TK_ERROR_MAX];
    int rc;

    memset(&it, 0, sizeof it);
    if ((rc = tk_store_item_get(e->db, id, &it, err)) ||
        (rc = tk_store_account_get(e->db, it.account_id, &acc, err)))
        goto out;
    if (!(p = tk_engine_type(e, it.type, err))) {
        rc = TK_ENOTFOUND;
        goto out;
    }
    section = NULL;
    if (tk_schedule_next(&it) != 0 &&
        (rc = tk_render_section(e, p, &it, acc.language, "reminder", &section, err)))
        goto out;
    if (!section) {
        it.rem.next_at = 0; /* nothing due after all: stop looking at it */
        rc = tk_store_item_update_reminder(e->db, &it, err);
        goto out;
    }
    it.rem.sent++;
    if ((rc = tk_store_contact_list(e->db, it.account_id, 1, &rcpts, err)))
        goto out;
    memset(&rq, 0, sizeof rq);
    rq.plugin = p;
    rq.it = &it;
    rq.account = &acc;
    rq.kind = "reminder";
    rq.section = section;
    rq.step = it.rem.sent;
    rq.auto_submitted = 1;
    if ((rc = tk_render_enqueue(e, &rq, &rcpts, err)))
        goto out;
    /* D3: a late tick sends once and counts the next period from now. */
    it.rem.last_mail_at = e->now;
    it.rem.next_at = tk_schedule_next(&it);
    if ((rc = tk_recipients_text(&rcpts, &who, err)))
        goto out;
    snprintf(detail, sizeof detail, "automatic reminder %d of %d sent to %s", it.rem.sent,
             it.rem.count, who);
    if ((rc = tk_store_item_update_reminder(e->db, &it, err)) ||
        (rc = tk_store_audit_add(e->db, e->now, e->actor, it.account_id, it.id, it.job_id,
                                 "reminder", detail, err)) ||
        (rc = tk_webhook_emit(e, e->db, "reminder.sent", it.id, err)))
        goto out;
out:
    free(who);
    tk_contacts_free(&rcpts);
    tk_item_free(&it);
    tk_account_free(&acc);
    return rc;
}

int tk_engine_remind_due(struct tk_engine *e, int64_t item_id, struct tk_error *err)
{
    const char *actor = e->actor;
    int rc;
    e->actor = "scheduler";
    rc = remind(e, item_id, err);
    e->actor = actor;
    return rc;
}

/* One transaction: the reminders of up to LIMIT due items.  *GOT: items
 * handled; fewer than LIMIT means none is left due. */
static int schedule_batch(struct tk_engine *e, size_t limit, size_t *got, struct tk_error *err)
{
    int64_t *ids = malloc((limit ? limit : 1) * sizeof *ids);
    int rc;

    *got = 0;
    if (!ids)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    if ((rc = tk_db_begin(e->db, TK_TX_IMMEDIATE, err)) == 0) {
        size_t n = 0;
        rc = tk_store_item_due(e->db, e->now, ids, limit, &n, err);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = tk_engine_remind_due(e, ids[i], err);
        if (rc)
            tk_db_rollback(e->db);
        else if ((rc = tk_db_commit(e->db, err)) == 0)
            *got = n;
    }
    free(ids);
    return rc;
}

int tk_engine_schedule(struct tk_engine *e, size_t *n, struct tk_error *err)
{
    size_t batch = e->cfg.batch_size > 0 ? (size_t)e->cfg.batch_size : 500, got;
    int rc;

    *n = 0;
    do {
        if ((rc = schedule_batch(e, batch, &got, err)))
            break;
        *n += got;
    } while (got == batch && !tk_engine_stopping(e));
    return rc;
}
