/*
 * lifecycle.c - an account's data after it was added (issue 16,
 * docs/data.md): rename, contact removal, withdrawal of an item, removal of
 * an account, erasure of an address, and the retention of message texts.
 * The changes run in the caller's transaction with their audit entries;
 * the retention pass runs in short transactions of its own, from the tick.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Messages dropped per retention transaction: short enough not to hold up
 * the dispatcher, large enough that a backlog clears in a few ticks. */
#define RETENTION_BATCH 500
/* Per tick: the rest waits for the next one, so that a first run over a
 * large old store does not stall reminders (each tick stays bounded). */
#define RETENTION_PER_TICK 5000

/* As contacts are stored: the domain lower-cased.  Caller frees. */
static char *normal_email(const char *email)
{
    char *s = tk_strdup(email ? email : "");
    for (char *at = s ? strrchr(s, '@') : NULL; at && *at; at++)
        *at = (char)tolower((unsigned char)*at);
    return s;
}

int tk_engine_account_rename(struct tk_engine *e, int64_t account, const char *name,
                             struct tk_error *err)
{
    struct tk_account acc = {0};
    char detail[600];
    int rc;
    if ((rc = tk_engine_account_check(name, NULL, err)) ||
        (rc = tk_store_account_get(e->db, account, &acc, err)))
        goto out;
    if (strcmp(acc.name, name) == 0)
        goto out; /* nothing to change, nothing to record */
    snprintf(detail, sizeof detail, "account renamed from '%s' to '%s'", acc.name, name);
    if ((rc = tk_store_account_rename(e->db, account, name, err)) == 0)
        rc = tk_engine_audit(e, account, 0, 0, "account-renamed", detail, err);
out:
    tk_account_free(&acc);
    return rc;
}

int tk_engine_contact_remove(struct tk_engine *e, int64_t account, const char *email,
                             int64_t *cancelled, struct tk_error *err)
{
    char *addr = normal_email(email), detail[700];
    int64_t n = 0;
    int rc;
    if (cancelled)
        *cancelled = 0;
    if (!addr)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    if ((rc = tk_store_contact_remove(e->db, account, addr, err)) ||
        (rc = tk_store_outbox_cancel(e->db, 0, account, addr, "cancelled: contact removed", &n,
                                     err)))
        goto out;
    snprintf(detail, sizeof detail, "contact %s removed; %lld queued message%s cancelled", addr,
             (long long)n, n == 1 ? "" : "s");
    if ((rc = tk_engine_audit(e, account, 0, 0, "contact-removed", detail, err)) == 0 && cancelled)
        *cancelled = n;
out:
    free(addr);
    return rc;
}

int tk_engine_item_withdraw(struct tk_engine *e, int64_t item, struct tk_error *err)
{
    struct tk_item it;
    char detail[200];
    int64_t n = 0;
    int rc;
    memset(&it, 0, sizeof it);
    if ((rc = tk_store_item_get(e->db, item, &it, err)))
        return rc;
    if (strcmp(it.state, "pending") != 0) {
        rc = tk_error_set(err, TK_ECONFLICT, "item %lld is %s, not pending; nothing to withdraw",
                          (long long)it.id, it.state);
        goto out;
    }
    free(it.state);
    if (!(it.state = tk_strdup("withdrawn"))) {
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    it.completed_at = e->now;
    it.rem.next_at = 0; /* no more reminders; off the to-do list (not pending) */
    if ((rc = tk_store_item_update(e->db, &it, err)) ||
        (rc = tk_store_outbox_cancel(e->db, it.id, 0, NULL, "cancelled: item withdrawn", &n, err)))
        goto out;
    snprintf(detail, sizeof detail,
             "item withdrawn; reminders stopped, %lld queued message%s cancelled", (long long)n,
             n == 1 ? "" : "s");
    rc = tk_store_audit_add(e->db, e->now, e->actor, it.account_id, it.id, it.job_id, "withdrawn",
                            detail, err);
out:
    tk_item_free(&it);
    return rc;
}

struct pending {
    struct tk_ids ids;
    int oom;
};

static int collect_pending(void *u, struct tk_item *it)
{
    struct pending *p = u;
    if (it->archived)
        return 0;
    if (tk_ids_push(&p->ids, it->id)) {
        p->oom = 1;
        return 1;
    }
    return 0;
}

int tk_engine_account_remove(struct tk_engine *e, int64_t account, int force,
                             struct tk_account_removal *out, struct tk_error *err)
{
    struct tk_item_filter f = {.account_id = account, .pending_only = 1};
    struct tk_account acc = {0};
    struct pending p = {0};
    struct tk_store_removed r = {0};
    char detail[800];
    int rc;
    if (out)
        memset(out, 0, sizeof *out);
    if ((rc = tk_store_account_get(e->db, account, &acc, err)) ||
        (rc = tk_store_item_each(e->db, &f, collect_pending, &p, err)))
        goto out;
    if (p.oom) {
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    if (p.ids.n && !force) {
        rc = tk_error_set(err, TK_ECONFLICT,
                          "account '%s' has %zu pending item%s; complete or withdraw them, or "
                          "remove with --force (withdraws them)",
                          acc.name, p.ids.n, p.ids.n == 1 ? "" : "s");
        goto out;
    }
    for (size_t i = 0; rc == 0 && i < p.ids.n; i++)
        rc = tk_engine_item_withdraw(e, p.ids.v[i], err);
    if (rc || (rc = tk_store_account_delete(e->db, account, &r, err)))
        goto out;
    /* The audit trail is the firm's record and stays; this entry says
     * what went, not who it was (the name may be a person's). */
    snprintf(detail, sizeof detail,
             "account %lld removed: %lld contact%s, %lld item%s (%zu withdrawn), %lld job%s, "
             "%lld message%s",
             (long long)account, (long long)r.contacts, r.contacts == 1 ? "" : "s",
             (long long)r.items, r.items == 1 ? "" : "s", p.ids.n, (long long)r.jobs,
             r.jobs == 1 ? "" : "s", (long long)r.messages, r.messages == 1 ? "" : "s");
    if ((rc = tk_engine_audit(e, account, 0, 0, "account-removed", detail, err)))
        goto out;
    if (out) {
        out->contacts = r.contacts;
        out->items = r.items;
        out->withdrawn = (int64_t)p.ids.n;
        out->jobs = r.jobs;
        out->messages = r.messages;
    }
out:
    tk_ids_free(&p.ids);
    tk_account_free(&acc);
    return rc;
}

int tk_engine_erase_contact(struct tk_engine *e, const char *email, struct tk_erasure *out,
                            struct tk_error *err)
{
    struct tk_store_erased r = {0};
    struct tk_contacts all = {0};
    int64_t *accounts = NULL, seq = 0, busy = 0, cancelled = 0, anything = 0;
    const char **names = NULL;
    size_t nacc = 0, nnames = 0;
    char *addr = NULL, marker[64], detail[400];
    int rc;
    if (out)
        memset(out, 0, sizeof *out);
    /* Only the form: an address stored before today's checks must still
     * be erasable.  What is replaced is only ever an exact recipient or
     * contact address found below, never a fragment such as "@". */
    if (!email || strlen(email) < 3 || strlen(email) > 320 || !strchr(email, '@') ||
        strpbrk(email, " \t\r\n<>"))
        return tk_error_set(err, TK_EINVAL, "erase --contact: '%s' is not an email address",
                            email ? email : "");
    if (!(addr = normal_email(email)))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    /* Also when only the audit trail still names it (a contact removed
     * with its account): whether it stands there whole is known once the
     * rewrite ran; nothing rewritten is TK_ENOTFOUND, and the caller rolls
     * back. */
    if ((rc = tk_store_contact_accounts(e->db, addr, &accounts, &nacc, err)) ||
        (rc = tk_db_int(e->db, &anything, err,
                        "SELECT (SELECT COUNT(*) FROM outbox WHERE recipient = ?) + "
                        "(SELECT COUNT(*) FROM audit WHERE detail <> REPLACE(detail, ?, ''))",
                        "ss", addr, addr)))
        goto out;
    if (!nacc && !anything) {
        rc = tk_error_set(err, TK_ENOTFOUND,
                          "no contact, message or audit entry has the address %s", addr);
        goto out;
    }
    /* A message a dispatcher holds may be on the wire now: erasing under it
     * would promise what cannot be kept.  Its lease ends within
     * [delivery] lease_seconds (and less than a second: settle.c). */
    if ((rc = tk_store_outbox_in_flight(e->db, addr, e->now, &busy, err)))
        goto out;
    if (busy) {
        rc = tk_error_set(err, TK_ECONFLICT,
                          "%lld message%s to %s %s being delivered right now; try again in a "
                          "minute",
                          (long long)busy, busy == 1 ? "" : "s", addr, busy == 1 ? "is" : "are");
        goto out;
    }
    /* The names of the contacts that go, to be found in their messages. */
    if (!(names = calloc(nacc * 1 + 1, sizeof *names)) && nacc) {
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; rc == 0 && i < nacc; i++) {
        struct tk_contacts cs = {0};
        if ((rc = tk_store_contact_list(e->db, accounts[i], 0, &cs, err)))
            break;
        for (size_t j = 0; j < cs.n; j++)
            if (strcmp(cs.v[j].email, addr) == 0 && cs.v[j].name && nnames < nacc) {
                /* moved into ALL, which owns it until the end */
                struct tk_contact *nv = realloc(all.v, (all.n + 1) * sizeof *nv);
                if (!nv) {
                    rc = tk_error_set(err, TK_ENOMEM, "out of memory");
                    break;
                }
                all.v = nv;
                all.v[all.n] = cs.v[j];
                memset(&cs.v[j], 0, sizeof cs.v[j]);
                names[nnames++] = all.v[all.n++].name;
            }
        tk_contacts_free(&cs);
    }
    if (rc || (rc = tk_store_sequence_next(e->db, "erasure", &seq, err)))
        goto out;
    /* RFC 2606's .invalid: an address no mail system delivers to, so that
     * a field that must hold an address still holds one. */
    snprintf(marker, sizeof marker, "erased-%lld@invalid", (long long)seq);
    if ((rc = tk_store_outbox_cancel(e->db, 0, 0, addr, "cancelled: recipient erased", &cancelled,
                                     err)) ||
        (rc = tk_store_erase_address(e->db, addr, marker, names, &r, err)))
        goto out;
    if (!nacc && !r.messages && !r.texts && !r.audit) {
        rc = tk_error_set(err, TK_ENOTFOUND,
                          "no contact, message or audit entry has the address %s", addr);
        goto out;
    }
    snprintf(detail, sizeof detail,
             "a contact's address was erased and is now %s: %lld contact%s removed, %lld "
             "message%s to it kept without it (%lld queued cancelled), %lld audit entr%s "
             "rewritten",
             marker, (long long)r.contacts, r.contacts == 1 ? "" : "s", (long long)r.messages,
             r.messages == 1 ? "" : "s", (long long)cancelled, (long long)r.audit,
             r.audit == 1 ? "y" : "ies");
    /* One entry on each account that had the contact (none on any other,
     * whose export stays the same), or one without an account. */
    for (size_t i = 0; rc == 0 && i < nacc; i++)
        rc = tk_engine_audit(e, accounts[i], 0, 0, "contact-erased", detail, err);
    if (rc == 0 && !nacc)
        rc = tk_engine_audit(e, 0, 0, 0, "contact-erased", detail, err);
    /* The rows it rewrote must not stay behind in tickler.db-wal. */
    if (rc == 0)
        tk_db_purge_log(e->db);
    if (rc == 0 && out) {
        snprintf(out->marker, sizeof out->marker, "%s", marker);
        out->accounts = (int64_t)nacc;
        out->contacts = r.contacts;
        out->messages = r.messages;
        out->cancelled = cancelled;
        out->audit = r.audit;
    }
out:
    tk_contacts_free(&all);
    free(names);
    free(accounts);
    free(addr);
    return rc;
}

int tk_engine_account_outbox_each(struct tk_engine *e, int64_t account,
                                  int (*fn)(void *u, const struct tk_outbox_row *r), void *u,
                                  struct tk_error *err)
{
    return tk_store_outbox_each_account(e->db, account, fn, u, err);
}

int tk_engine_retention(struct tk_engine *e, size_t *n, struct tk_error *err)
{
    int days = e->cfg.retention_message_days;
    size_t got = 0;
    int rc = 0;
    *n = 0;
    if (days <= 0)
        return 0; /* keep for ever */
    tk_time cutoff = e->now - (tk_time)days * TK_DAY;
    do {
        if ((rc = tk_db_begin(e->db, TK_TX_IMMEDIATE, err)))
            break;
        if ((rc = tk_store_outbox_drop_texts(e->db, cutoff, e->now, RETENTION_BATCH, &got, err)) ||
            (rc = tk_db_commit(e->db, err))) {
            tk_db_rollback(e->db);
            break;
        }
        *n += got;
    } while (got == RETENTION_BATCH && *n < RETENTION_PER_TICK && !tk_engine_stopping(e));
    return rc;
}
