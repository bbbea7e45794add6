/* tick.c - the scheduler: enqueue every automatic reminder that is due.
 *
 * Due items come from the items_due index (next_at <= now), so the cost of a
 * tick follows what is due, not what is stored.  Work is done in
 * transactions of [scheduler] batch_size items taken with BEGIN IMMEDIATE:
 * a reminder step is enqueued exactly once, because the same transaction
 * that writes its outbox rows moves the item's next_at on.  A tick with
 * several connections calls tk_engine_remind_due from the dispatching
 * thread instead, inside the transactions that also record the workers'
 * results (settle.c).
 *
 * Each item's reminder runs inside a savepoint: a failure that is the
 * item's own (a contact address the mail builder refuses, a template that
 * is broken or gone, a type whose plugin is not loaded) undoes that item's
 * writes only, records the failure on the item with a retry time that
 * grows with each failure in a row ([delivery] retry_base_seconds up to
 * retry_cap_seconds), writes a "reminder-failed" audit entry and lets the
 * other items go on (issue 11, docs/delivery.md).  A failure of the store
 * or the machine (I/O, lock, out of memory) stops the tick as before. */
#define _GNU_SOURCE /* secure_getenv */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The item's notification to FRESH, contacts that have had no email about
 * it yet (nobody.c), and its audit entry.  ALONE: nobody else gets the
 * step's reminder, so D1 counts from this email and no step is spent. */
static int first_notification(struct tk_engine *e, const struct tk_plugin *p, struct tk_item *it,
                              const struct tk_account *acc, const struct tk_contacts *fresh,
                              int alone, struct tk_error *err)
{
    struct tk_render_req rq;
    const char *section = NULL;
    char *who = NULL, detail[TK_ERROR_MAX];
    int rc;
    if ((rc = tk_render_section(e, p, it, acc->language, "notification", &section, err)) ||
        !section)
        return rc;
    memset(&rq, 0, sizeof rq);
    rq.plugin = p;
    rq.it = it;
    rq.account = acc;
    rq.kind = "notification";
    rq.section = section;
    rq.auto_submitted = 1;
    if ((rc = tk_render_enqueue(e, &rq, fresh, err)) || (rc = tk_recipients_text(fresh, &who, err)))
        return rc;
    snprintf(detail, sizeof detail, "notification sent to %s (no earlier email about the item)%s",
             who, alone ? "; no reminder step spent" : "");
    free(who);
    if (alone) {
        it->rem.last_mail_at = e->now;
        it->rem.next_at = tk_engine_next_at(e, it);
        if ((rc = tk_store_item_update_reminder(e->db, it, err)))
            return rc;
    }
    return tk_store_audit_add(e->db, e->now, e->actor, it->account_id, it->id, it->job_id, "sent",
                              detail, err);
}

static int built_ok(void *u, const struct tk_contact *c, const char *subject, const char *message)
{
    (void)u;
    (void)c;
    (void)subject;
    (void)message;
    return 0;
}

static int remind(struct tk_engine *e, int64_t id, struct tk_error *err)
{
    const struct tk_plugin *p;
    struct tk_item it;
    struct tk_account acc = {0};
    struct tk_contacts all = {0}, rcpts = {0}, fresh = {0}, known = {0};
    struct tk_render_req rq;
    const char *section;
    char *who = NULL, detail[TK_ERROR_MAX], **firsts = NULL;
    int go = 0, waits = 0, digest = 0, rc;

    memset(&it, 0, sizeof it);
    if ((rc = tk_store_item_get(e->db, id, &it, err)) ||
        (rc = tk_store_account_get(e->db, it.account_id, &acc, err)))
        goto out;
    if (!(p = tk_engine_type(e, it.type, err))) {
        rc = TK_ENOTFOUND;
        goto out;
    }
    /* Issue 14: after the last step, the manager's escalation (escalate.c) */
    if (tk_engine_escalation_due(e, &it)) {
        rc = tk_engine_escalate(e, &it, &acc, err);
        e->deferred += rc == 0; /* not a reminder enqueued */
        goto out;
    }
    /* Issue 14: a hold, then the calendar, may move the step on without
     * spending it (tk_engine_reminder_gate). */
    if ((rc = tk_engine_reminder_gate(e, &it, &acc, &go, err)) || !go) {
        e->deferred += rc == 0; /* moved on, nothing sent: not a reminder enqueued */
        goto out;
    }
    section = NULL;
    int step = 0;
    if (tk_engine_schedule_next(e, &it, &acc, &step) != 0) {
        /* an anchored schedule's steps whose day passed are skipped
         * (schedule.c): this one is step STEP, for its ladder section */
        if (it.rem.nsched && step > 0)
            it.rem.sent = step - 1;
        if ((rc = tk_render_section(e, p, &it, acc.language, "reminder", &section, err)))
            goto out;
    }
    if (!section) {
        it.rem.next_at = 0; /* nothing due after all: stop looking at it */
        rc = tk_store_item_update_reminder(e->db, &it, err);
        goto out;
    }
    /* The account's contacts, read once (issue 17): what
     * tk_engine_reminder_waits and the notify-on list each read before. */
    if ((rc = tk_store_contact_list(e->db, it.account_id, 0, &all, err)))
        goto out;
    /* nobody left to write to (issue 15): the reminder waits */
    if ((rc = tk_engine_reminder_waits_in(e, &it, &all, &waits, err)) || waits)
        goto out;
    if ((rc = tk_engine_contacts_notify_on(&all, &rcpts, err)))
        goto out;
    /* nobody with notify on: the step waits, staff told once (nobody.c) */
    if (!rcpts.n) {
        rc = tk_engine_nobody_notified(e, &it, &acc, err);
        e->deferred += rc == 0; /* nothing sent */
        goto out;
    }
    /* a contact with no email about the item yet gets its notification
     * first; with nobody else, no step is spent (nobody.c) */
    if ((rc = tk_engine_recipients_split_ids(e, &it, &rcpts, &fresh, &known, &firsts, err)))
        goto out;
    if (fresh.n && (rc = first_notification(e, p, &it, &acc, &fresh, !known.n, err)))
        goto out;
    if (!known.n) {
        e->deferred++; /* a notification, not a reminder */
        goto out;
    }
    it.rem.sent++;
    /* digest on: the step is spent here, its emails and its audit entry
     * are written by tk_engine_digest_flush in this transaction */
    digest = tk_engine_digest_on(e, &acc);
    memset(&rq, 0, sizeof rq);
    rq.plugin = p;
    rq.it = &it;
    rq.account = &acc;
    rq.kind = "reminder";
    rq.section = section;
    rq.step = it.rem.sent;
    rq.auto_submitted = 1;
    rq.firsts = firsts; /* the split read them (issue 17: once per reminder) */
    /* digest: built here and dropped, so that what would fail for this
     * item alone (its template, an address the mail builder refuses) fails
     * in its savepoint, not in the digest's flush */
    if ((rc = digest ? tk_render_preview(e, &rq, &known, 1, built_ok, NULL, err)
                     : tk_render_enqueue(e, &rq, &known, err)))
        goto out;
    if (it.fail_count > 0 && (rc = tk_store_item_fault_set(e->db, it.id, 0, 0, NULL, 0, err)))
        goto out;
    /* D3: a late tick sends once and counts the next period from now. */
    it.rem.last_mail_at = e->now;
    it.rem.next_at = tk_engine_next_at(e, &it); /* after the last: the escalation */
    if ((rc = tk_store_item_update_reminder(e->db, &it, err)))
        goto out;
    if (!digest) {
        if ((rc = tk_recipients_text(&known, &who, err)))
            goto out;
        /* "automatic reminder %d of %d sent to %s" without printf */
        size_t at = tk_str_put(detail, sizeof detail, 0, "automatic reminder ");
        at = tk_str_put_i64(detail, sizeof detail, at, it.rem.sent);
        at = tk_str_put(detail, sizeof detail, at, " of ");
        at = tk_str_put_i64(detail, sizeof detail, at, it.rem.count);
        at = tk_str_put(detail, sizeof detail, at, " sent to ");
        tk_str_put(detail, sizeof detail, at, who);
        if ((rc = tk_store_audit_add(e->db, e->now, e->actor, it.account_id, it.id, it.job_id,
                                     "reminder", detail, err)))
            goto out;
    }
    if ((rc = tk_webhook_emit(e, e->db, "reminder.sent", it.id, err)) ||
        (rc = tk_engine_reminder_events(e, &it, err)))
        goto out;
    /* last: nothing after it can roll the item's savepoint back */
    if (digest)
        rc = tk_engine_digest_collect(e, &it, &acc, section, &known, err);
out:
    free(who);
    tk_engine_first_ids_free(firsts, known.n);
    tk_engine_recipients_split_free(&fresh, &known);
    tk_engine_contacts_view_free(&rcpts);
    tk_contacts_free(&all);
    tk_item_free(&it);
    tk_account_free(&acc);
    return rc;
}

/* Whether RC (ERR) is the item's own failure rather than the store's or
 * the machine's: store errors are TK_EIO ("store ..."), TK_ETEMP (a lock),
 * TK_ECONFLICT (a constraint) or TK_ENOMEM; a template file that cannot be
 * read is TK_EIO too, but the item's. */
static int own_failure(int rc, const struct tk_error *err)
{
    if (rc == TK_ENOMEM || rc == TK_ETEMP || rc == TK_ECONFLICT)
        return 0;
    if (rc == TK_EIO)
        return strncmp(err->msg, "store", 5) != 0;
    return 1;
}

/* Remember ITEM among the tick's skipped items (once; the list keeps the
 * first TK_ENGINE_SKIPS_MAX, the count goes on). */
static void note_skip(struct tk_engine *e, int64_t item, int64_t account, tk_time retry,
                      const char *why)
{
    struct tk_engine_skips *s = &e->skips;
    for (size_t i = 0; i < s->n && i < TK_ENGINE_SKIPS_MAX; i++)
        if (s->v[i].item == item) {
            s->v[i].retry_at = retry;
            snprintf(s->v[i].why, sizeof s->v[i].why, "%s", why);
            return;
        }
    if (s->n < TK_ENGINE_SKIPS_MAX) {
        struct tk_engine_skip *k = &s->v[s->n];
        k->item = item;
        k->account = account;
        k->retry_at = retry;
        snprintf(k->why, sizeof k->why, "%s", why);
    }
    s->n++;
}

static uint32_t jitter(void)
{
    uint32_t r = 0;
    tk_random_bytes(&r, sizeof r);
    return r;
}

/* After the item's writes were rolled back: its failure, its retry time
 * and the audit entry, inside the caller's transaction. */
static int record_failure(struct tk_engine *e, int64_t id, const struct tk_error *why,
                          struct tk_error *err)
{
    const struct tk_config *c = &e->cfg;
    struct tk_item_fault f;
    int64_t account = 0, job = 0;
    char detail[TK_ERROR_MAX + 160], when[32];
    struct tk_item it;
    tk_time retry;
    int rc;

    memset(&it, 0, sizeof it);
    if ((rc = tk_store_item_get(e->db, id, &it, err)))
        return rc;
    account = it.account_id;
    job = it.job_id;
    tk_item_free(&it);
    if ((rc = tk_store_item_fault_get(e->db, id, &f, err)))
        return rc;
    f.count++;
    retry =
        e->now + tk_backoff_delay(f.count, c->retry_base_seconds, c->retry_cap_seconds, jitter());
    rc = tk_store_item_fault_set(e->db, id, f.count, e->now, why->msg, retry, err);
    tk_item_fault_free(&f);
    if (rc)
        return rc;
    snprintf(detail, sizeof detail, "reminder not sent, retry at %s: %s",
             tk_time_format(retry, when, sizeof when), why->msg);
    if ((rc = tk_store_audit_add(e->db, e->now, e->actor, account, id, job, "reminder-failed",
                                 detail, err)))
        return rc;
    note_skip(e, id, account, retry, why->msg);
    tk_engine_warn(e, "item %lld skipped until %s: %s", (long long)id, when, why->msg);
    return 0;
}

#define ITEM_SAVEPOINT "tk_item"

static int remind_one(struct tk_engine *e, int64_t item_id, struct tk_error *err);

/* Up to this many of an account's other due steps join its digest in one
 * transaction; the rest go into the next one's. */
#define DIGEST_SIBLINGS_MAX 10000

/* ACCOUNT's due steps join the open transaction's digests now, wherever
 * the due index put them (so that one person's reminders are not split
 * over transactions). */
static int digest_siblings(struct tk_engine *e, int64_t account, struct tk_error *err)
{
    int64_t *ids = malloc(DIGEST_SIBLINGS_MAX * sizeof *ids);
    size_t n = 0;
    int rc;
    if (!ids)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    rc = tk_store_item_due_account(e->db, account, e->now, ids, DIGEST_SIBLINGS_MAX, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (tk_engine_digest_seen(e, ids[i]))
            continue;
        if ((rc = tk_engine_digest_mark(e, ids[i], err)) == 0) {
            tk_engine_digest_count(e, 1);
            rc = remind_one(e, ids[i], err);
        }
    }
    free(ids);
    return rc;
}

/* The digest members from FROM on came from one due step: pull in every
 * due step of their accounts, and of every digest-on account that shares
 * one of their addresses (issue 14: "across accounts that share the
 * contact"), each account and address once per transaction; the members
 * those bring are walked in turn. */
static int digest_spread(struct tk_engine *e, size_t from, struct tk_error *err)
{
    int rc = 0;
    e->digest_depth = 1;
    for (size_t i = from; rc == 0 && i < tk_engine_digest_members(e); i++) {
        int64_t account = 0, *ids = NULL;
        const char *addr = NULL;
        char *copy;
        size_t n = 0;
        if ((rc = tk_engine_digest_member(e, i, &account, &addr)))
            break;
        if (!(copy = tk_strdup(addr))) {
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
            break;
        }
        int first = 0;
        if ((rc = tk_engine_digest_account_mark(e, account, &first, err)) == 0 && first)
            rc = digest_siblings(e, account, err);
        if (rc == 0 && (rc = tk_engine_digest_address_mark(e, copy, &first, err)) == 0 && first)
            rc = tk_store_contact_accounts(e->db, copy, &ids, &n, err);
        for (size_t k = 0; rc == 0 && k < n; k++) {
            struct tk_account acc = {0};
            if (ids[k] == account || tk_engine_digest_seen(e, -ids[k]))
                continue;
            if ((rc = tk_store_account_get(e->db, ids[k], &acc, err)) == 0 &&
                tk_engine_digest_on(e, &acc) &&
                (rc = tk_engine_digest_account_mark(e, ids[k], &first, err)) == 0 && first)
                rc = digest_siblings(e, ids[k], err);
            tk_account_free(&acc);
        }
        free(ids);
        free(copy);
    }
    e->digest_depth = 0;
    return rc;
}

int tk_engine_remind_due(struct tk_engine *e, int64_t item_id, struct tk_error *err)
{
    size_t before = tk_engine_digest_members(e);
    int rc;
    if (tk_engine_digest_seen(e, item_id)) {
        tk_engine_digest_count(e, -1); /* handled as a sibling, counted there */
        return 0;
    }
    if ((rc = remind_one(e, item_id, err)) || e->digest_depth ||
        tk_engine_digest_members(e) == before)
        return rc;
    return digest_spread(e, before, err);
}

/* The item in a savepoint of its own: its own failure undoes its writes
 * only, and is recorded. */
static int remind_alone(struct tk_engine *e, int64_t item_id, struct tk_error *err)
{
    const char *actor = e->actor;
    struct tk_error why = {0};
    int rc;
    e->actor = "scheduler";
    if ((rc = tk_db_savepoint(e->db, ITEM_SAVEPOINT, err)) == 0) {
        if ((rc = remind(e, item_id, &why)) == 0)
            rc = tk_db_release(e->db, ITEM_SAVEPOINT, err);
        else if (!own_failure(rc, &why))
            *err = why;
        else if ((rc = tk_db_rollback_to(e->db, ITEM_SAVEPOINT, err)) == 0 &&
                 (rc = record_failure(e, item_id, &why, err)) == 0)
            rc = tk_db_release(e->db, ITEM_SAVEPOINT, err);
    }
    e->actor = actor;
    return rc;
}

/* Runs (issue 17).  A savepoint costs more than its two statements:
 * inside one, SQLite copies every page the item changes that existed when
 * it was taken into its statement journal, the same hot pages (the
 * outbox's last leaf, its indexes, the audit's) again for every item:
 * 6-11 % of the dispatching thread's time at 4 connections
 * (bench/RESULTS.md update 64).  So the items of a transaction share one
 * savepoint, RUN_SAVEPOINT, taken before the first, up to
 * TK_ENGINE_RUN_MAX items (so that its journal stays in memory), and
 * released after the last of the transaction (tk_engine_digest_flush,
 * before the digests and the workers' results are written): the store
 * copies each page once a run.  Failures are rare; when an item fails on
 * its own (own_failure), the run is rolled back and its earlier items are
 * written again, each in its own savepoint as before, then the failed
 * item's failure is recorded: the store ends as the item-by-item path
 * leaves it.
 *
 * Written again means remind() runs twice for those items, so an item
 * that did anything besides writing to this transaction is never kept in
 * a run: a run ends (RELEASE, its writes kept) after an item that warned
 * (tk_engine_warn) or joined a digest (digest.c keeps its members in
 * memory); with Lua reminder handlers (their state is the scripts'), in a
 * digest's siblings, on PostgreSQL (tk_db_tx_serial 0: no way to tell a
 * run from an earlier transaction's) and under TK_TEST_ITEM_SAVEPOINTS
 * (the guard test's old path) every item takes its own savepoint.  A run
 * is open while the transaction is the one it began in and nothing rolled
 * back to a savepoint since: tk_db_tx_serial unchanged. */
#define RUN_SAVEPOINT "tk_items"

static int runs_allowed(struct tk_engine *e)
{
    if (!e->run.mode)
        e->run.mode = secure_getenv("TK_TEST_ITEM_SAVEPOINTS") ? 2 : 1;
    return e->run.mode == 1 && !e->on_event && !e->digest_depth;
}

/* Keep the run's writes and end it: its items are never written again. */
int tk_engine_run_end(struct tk_engine *e, struct tk_error *err)
{
    if (!e->run.serial || e->run.serial != tk_db_tx_serial(e->db)) {
        e->run.serial = 0;
        return 0;
    }
    e->run.serial = 0;
    return tk_db_release(e->db, RUN_SAVEPOINT, err);
}

/* ITEM_ID failed on its own (WHY) inside the run: undo the run, write its
 * earlier items again one savepoint each, and record the failure as
 * remind_alone would have. */
static int run_redo(struct tk_engine *e, int64_t item_id, const struct tk_error *why,
                    struct tk_error *err)
{
    size_t n = e->run.n;
    int rc;
    e->run.serial = 0;
    if ((rc = tk_db_rollback_to(e->db, RUN_SAVEPOINT, err)) ||
        (rc = tk_db_release(e->db, RUN_SAVEPOINT, err)))
        return rc;
    e->deferred = e->run.deferred;
    for (size_t i = 0; i < n; i++)
        if ((rc = remind_alone(e, e->run.ids[i], err)))
            return rc;
    const char *actor = e->actor;
    e->actor = "scheduler";
    rc = record_failure(e, item_id, why, err);
    e->actor = actor;
    return rc;
}

static int remind_one(struct tk_engine *e, int64_t item_id, struct tk_error *err)
{
    uint64_t serial = tk_db_tx_serial(e->db);
    int rc;
    if (!serial || !runs_allowed(e)) {
        if ((rc = tk_engine_run_end(e, err)))
            return rc;
        return remind_alone(e, item_id, err);
    }
    if (e->run.serial == serial && e->run.n == TK_ENGINE_RUN_MAX &&
        (rc = tk_engine_run_end(e, err)))
        return rc;
    if (e->run.serial != serial) {
        if ((rc = tk_db_savepoint(e->db, RUN_SAVEPOINT, err)))
            return rc;
        e->run.serial = tk_db_tx_serial(e->db);
        e->run.n = 0;
        e->run.deferred = e->deferred;
        e->run.warns = __atomic_load_n(&e->warns, __ATOMIC_RELAXED);
    }
    const char *actor = e->actor;
    struct tk_error why = {0};
    size_t members = tk_engine_digest_members(e);
    e->actor = "scheduler";
    rc = remind(e, item_id, &why);
    e->actor = actor;
    if (rc && own_failure(rc, &why))
        return run_redo(e, item_id, &why, err);
    if (rc) {
        *err = why; /* the store's: the caller rolls the transaction back */
        e->run.serial = 0;
        return rc;
    }
    unsigned long warns = __atomic_load_n(&e->warns, __ATOMIC_RELAXED);
    if (warns != e->run.warns || tk_engine_digest_members(e) != members ||
        e->run.serial != tk_db_tx_serial(e->db))
        return tk_engine_run_end(e, err); /* never written again (see above) */
    e->run.ids[e->run.n++] = item_id;
    return 0;
}

size_t tk_engine_skipped(const struct tk_engine *e, const struct tk_engine_skip **list,
                         size_t *listed)
{
    *list = e->skips.v;
    *listed = e->skips.n < TK_ENGINE_SKIPS_MAX ? e->skips.n : TK_ENGINE_SKIPS_MAX;
    return e->skips.n;
}

/* One transaction: the reminders of up to LIMIT due items.  *GOT: items
 * handled; fewer than LIMIT means none is left due. */
static int schedule_batch(struct tk_engine *e, size_t limit, size_t *got, long *extra,
                          struct tk_error *err)
{
    int64_t *ids = malloc((limit ? limit : 1) * sizeof *ids);
    int rc;

    *got = 0;
    if (!ids)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    if ((rc = tk_db_begin(e->db, TK_TX_IMMEDIATE, err)) == 0) {
        size_t n = 0;
        tk_engine_digest_discard(e);
        rc = tk_store_item_due(e->db, e->now, ids, limit, &n, err);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = tk_engine_remind_due(e, ids[i], err);
        /* the digests of this transaction's steps, in it (digest.c) */
        long more = tk_engine_digest_take_count(e);
        if (rc == 0)
            rc = tk_engine_digest_flush(e, err);
        if (rc) {
            tk_engine_digest_discard(e);
            tk_db_rollback(e->db);
        } else if ((rc = tk_db_commit(e->db, err)) == 0) {
            *got = n;
            *extra += more;
        }
    }
    free(ids);
    return rc;
}

int tk_engine_schedule(struct tk_engine *e, size_t *n, struct tk_error *err)
{
    size_t batch = e->cfg.batch_size > 0 ? (size_t)e->cfg.batch_size : 500, got;
    size_t held = e->deferred;
    long extra = 0;
    int rc;

    *n = 0;
    e->skips.n = 0;
    do {
        if ((rc = schedule_batch(e, batch, &got, &extra, err)))
            break;
        *n += got;
    } while (got == batch && !tk_engine_stopping(e));
    if (extra > 0 || (size_t)-extra <= *n)
        *n = (size_t)((long)*n + extra);        /* digest siblings (digest.c) */
    *n = *n > e->skips.n ? *n - e->skips.n : 0; /* the items skipped sent nothing */
    /* the items a hold or the calendar moved on sent nothing (holds.c) */
    held = e->deferred - held;
    *n = *n > held ? *n - held : 0;
    return rc;
}
