/* outbox.c - what staff may do to the outbox: queue failed messages again,
 * each with its audit entry, in the caller's transaction.  (Claims and
 * results are the dispatcher's: dispatch.c, settle.c.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int tk_engine_outbox_retry(struct tk_engine *e, int64_t id, struct tk_error *err)
{
    struct tk_outbox_row r;
    char detail[256];
    int rc;
    memset(&r, 0, sizeof r);
    if ((rc = tk_store_outbox_retry(e->db, id, e->now, err)) ||
        (rc = tk_store_outbox_get(e->db, id, &r, err)))
        return rc;
    snprintf(detail, sizeof detail, "outbox %lld (%s to %s) queued again by hand", (long long)id,
             r.kind, r.recipient);
    rc = tk_engine_audit(e, r.account_id, r.item_id, 0, "delivery-retry", detail, err);
    tk_outbox_row_free(&r);
    return rc;
}

static int collect_dead(void *u, const struct tk_outbox_row *r)
{
    return tk_ids_push(u, r->id);
}

int tk_engine_outbox_retry_failed(struct tk_engine *e, size_t *n, struct tk_error *err)
{
    struct tk_ids d = {0};
    int rc = tk_store_outbox_each(e->db, 1, 0, collect_dead, &d, err);
    if (rc == TK_ENOMEM)
        tk_error_set(err, rc, "out of memory");
    for (size_t i = 0; rc == 0 && i < d.n; i++)
        rc = tk_engine_outbox_retry(e, d.v[i], err);
    if (rc == 0 && n)
        *n = d.n;
    tk_ids_free(&d);
    return rc;
}
