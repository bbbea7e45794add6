/*
 * suppress.c - addresses tickler stops writing to (issue 15): a verified
 * hard bounce or [inbound] suppress_after permanent refusals at RCPT
 * suppress an address for every account; staff are told once; an account
 * whose every notify-on contact is suppressed has "nobody left", and its
 * automatic reminders wait instead of going to nobody.
 *
 * Staff notices (a forwarded reply, a suppression, nobody left) go through
 * the outbox like every email, so that they survive crashes and outages;
 * the outbox's UNIQUE idempotency key makes "told once" hold across
 * retries and duplicates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inbound/inbound.h"
#include "internal.h"
#include "mail/mail.h"

int tk_engine_verp_sender(struct tk_engine *e, int64_t outbox_id, const char *rcpt,
                          struct tk_error *err)
{
    const char *rp = e->cfg.inbound_return_path;
    char tag[TK_INBOUND_VERP_MAX];
    int rc;
    if (!rp || !*rp)
        return 0;
    if ((rc = tk_inbound_verp_make(e->cfg.inbound_secret, rp, outbox_id, rcpt, tag, sizeof tag,
                                   err))) {
        tk_error_prefix(err, "[inbound] return_path");
        return rc;
    }
    return tk_store_outbox_set_sender(e->db, outbox_id, tag, err);
}

/* Who hears about an account: its manager once the account setting
 * exists (issue 15 leaves that to the reminders work), today
 * [inbound] forward_to.  NULL: nobody, the notice is only in the audit
 * trail. */
/* Who on staff hears about ACCOUNT: its manager (`account set
 * --manager`), else [inbound] forward_to; NULL for nobody.  The manager's
 * address is copied into BUF of SIZE bytes. */
static const char *staff_address(struct tk_engine *e, int64_t account, char *buf, size_t size)
{
    const char *to = e->cfg.inbound_forward_to;
    struct tk_account acc = {0};
    struct tk_error probe = {0};
    if (account && tk_store_account_get(e->db, account, &acc, &probe) == 0 && acc.manager &&
        *acc.manager && strlen(acc.manager) < size) {
        memcpy(buf, acc.manager, strlen(acc.manager) + 1);
        to = buf;
    }
    tk_account_free(&acc);
    return to && *to ? to : NULL;
}

int tk_engine_staff_row_add(struct tk_engine *e, int64_t account, int64_t item, const char *to,
                            const char *idem, const char *msgid, const char *message, int *dup,
                            struct tk_error *err)
{
    struct tk_outbox_row row;
    int64_t id = 0;
    memset(&row, 0, sizeof row);
    row.item_id = item;
    row.account_id = account;
    row.kind = "staff-notice";
    row.recipient = (char *)to;
    row.idem_key = (char *)idem;
    row.message_id = (char *)msgid;
    row.sender = e->from_addr;
    row.data = (char *)message;
    row.state = TK_OUTBOX_QUEUED;
    row.created_at = e->now;
    row.next_attempt_at = e->now;
    return tk_store_outbox_add(e->db, &row, &id, dup, err);
}

int tk_engine_staff_notice(struct tk_engine *e, int64_t account, int64_t item, const char *idem_key,
                           const char *subject, const char *text, const char *in_reply_to,
                           int *sent, struct tk_error *err)
{
    char manager[TK_ERROR_MAX];
    const char *to = staff_address(e, account, manager, sizeof manager);
    struct tk_buf msg = {0};
    struct tk_mail m;
    char msgid[256], idem[700], item_hdr[32];
    const char *extra[5];
    int dup = 0, rc;

    if (sent)
        *sent = 0;
    if (!to)
        return 0;
    if ((rc = tk_mail_message_id(e->msgid_domain, e->now, msgid, sizeof msgid, err)))
        return rc;
    snprintf(item_hdr, sizeof item_hdr, "%lld", (long long)item);
    extra[0] = "X-Tickler-Kind";
    extra[1] = "staff-notice";
    extra[2] = item ? "X-Tickler-Item" : NULL;
    extra[3] = item_hdr;
    extra[4] = NULL;
    memset(&m, 0, sizeof m);
    m.from_name = e->from_name;
    m.from_addr = e->from_addr;
    m.to_addr = to;
    m.subject = subject;
    m.text = text;
    m.message_id = msgid;
    m.in_reply_to = in_reply_to;
    m.date = e->now;
    m.auto_submitted = 1;
    m.extra = extra;
    if ((rc = tk_mail_build(&m, &msg, err)))
        goto out;
    snprintf(idem, sizeof idem, "staff/%s/%s", idem_key, to);
    if ((rc = tk_engine_staff_row_add(e, account, item, to, idem, msgid, msg.data, &dup, err)) ==
            0 &&
        sent)
        *sent = !dup;
out:
    tk_buf_free(&msg);
    return rc;
}

/* From CS, every contact of an account: whether each notify-on one is
 * suppressed (*NOBODY), and the latest suppression (*MARK). */
static void nobody_in(const struct tk_contacts *cs, int *nobody, int64_t *mark)
{
    size_t on = 0, gone = 0;
    *mark = 0;
    for (size_t i = 0; i < cs->n; i++) {
        if (!cs->v[i].notify)
            continue;
        on++;
        if (cs->v[i].suppressed_reason) {
            gone++;
            if (cs->v[i].suppressed_at > *mark)
                *mark = cs->v[i].suppressed_at;
        }
    }
    *nobody = on > 0 && gone == on;
}

/* Whether ACCOUNT has notify-on contacts and every one is suppressed;
 * *MARK: the newest suppression among them (told once per such moment). */
static int nobody_left(struct tk_engine *e, int64_t account, int *nobody, int64_t *mark,
                       struct tk_error *err)
{
    struct tk_contacts cs = {0};
    int rc = tk_store_contact_list(e->db, account, 0, &cs, err);
    *nobody = 0;
    *mark = 0;
    if (rc)
        return rc;
    nobody_in(&cs, nobody, mark);
    tk_contacts_free(&cs);
    return 0;
}

int tk_engine_account_nobody_left(struct tk_engine *e, int64_t account, int *nobody,
                                  struct tk_error *err)
{
    int64_t mark = 0;
    return nobody_left(e, account, nobody, &mark, err);
}

/* Tell staff once that ACCOUNT has nobody left to write to. */
static int tell_nobody_left(struct tk_engine *e, int64_t account, int64_t item,
                            struct tk_error *err)
{
    struct tk_account acc = {0};
    char key[96], subject[400], text[800];
    int nobody = 0, sent = 0, rc;
    int64_t mark = 0;
    if ((rc = nobody_left(e, account, &nobody, &mark, err)) || !nobody)
        return rc;
    if ((rc = tk_store_account_get(e->db, account, &acc, err)))
        return rc;
    snprintf(key, sizeof key, "nobody-left/%lld/%lld", (long long)account, (long long)mark);
    snprintf(subject, sizeof subject, "tickler: nobody left to remind at %s", acc.name);
    snprintf(text, sizeof text,
             "Every contact of %s who is notified has an address that bounced and is "
             "suppressed.\n\nAutomatic reminders for %s wait until a contact can be reached "
             "again: add a contact, or lift a suppression with\n\n"
             "    tickler contact unsuppress ACCOUNT EMAIL\n",
             acc.name, acc.name);
    rc = tk_engine_staff_notice(e, account, item, key, subject, text, NULL, &sent, err);
    if (rc == 0 && sent)
        rc = tk_engine_audit(e, account, 0, 0, "nobody-left",
                             "every notify-on contact is suppressed: automatic reminders wait; "
                             "staff told",
                             err);
    tk_account_free(&acc);
    return rc;
}

int tk_engine_suppress(struct tk_engine *e, const char *email, const char *reason,
                       const char *source, int64_t outbox_id, int64_t account, int64_t item,
                       int *added, struct tk_error *err)
{
    char detail[1200], key[600], subject[600], text[1600];
    int64_t *accs = NULL;
    size_t nacc = 0;
    int fresh = 0, rc;
    struct tk_suppression s = {0};

    if (added)
        *added = 0;
    if ((rc = tk_store_suppression_add(e->db, email, reason, source, outbox_id, e->now, &fresh,
                                       err)))
        return rc;
    if (!fresh) {
        snprintf(detail, sizeof detail, "%s is suppressed already (%s)", email, reason);
        return tk_engine_audit(e, account, item, 0, "bounce", detail, err);
    }
    if (added)
        *added = 1;
    if ((rc = tk_store_suppression_get(e->db, email, &s, err)))
        return rc;
    snprintf(detail, sizeof detail, "address %s suppressed: %s", s.email, reason);
    if ((rc = tk_engine_audit(e, account, item, 0, "suppressed", detail, err)))
        goto out;
    /* Every account that has the address hears of it, once per
     * suppression (the key names it), and may now have nobody left. */
    if ((rc = tk_store_contact_accounts_nocase(e->db, s.email, &accs, &nacc, err)))
        goto out;
    for (size_t i = 0; rc == 0 && i < nacc; i++) {
        struct tk_account acc = {0};
        if ((rc = tk_store_account_get(e->db, accs[i], &acc, err)))
            break;
        if (accs[i] != account)
            rc = tk_engine_audit(e, accs[i], 0, 0, "suppressed", detail, err);
        snprintf(key, sizeof key, "suppressed/%lld/%lld", (long long)accs[i], (long long)s.id);
        snprintf(subject, sizeof subject, "tickler: %s bounced and is suppressed (%s)", s.email,
                 acc.name);
        snprintf(text, sizeof text,
                 "tickler will not write to %s again, for any account.\n\n"
                 "Account: %s\nReason: %s\n\n"
                 "When the address works again, lift the suppression with\n\n"
                 "    tickler contact unsuppress %lld %s\n",
                 s.email, acc.name, reason, (long long)acc.id, s.email);
        if (rc == 0)
            rc = tk_engine_staff_notice(e, accs[i], accs[i] == account ? item : 0, key, subject,
                                        text, NULL, NULL, err);
        if (rc == 0)
            rc = tell_nobody_left(e, accs[i], accs[i] == account ? item : 0, err);
        tk_account_free(&acc);
    }
out:
    free(accs);
    tk_suppression_free(&s);
    return rc;
}

int tk_engine_contact_unsuppress(struct tk_engine *e, int64_t account, const char *email,
                                 struct tk_error *err)
{
    struct tk_contacts cs = {0};
    char detail[600];
    int found = 0, rc;
    if ((rc = tk_store_contact_list(e->db, account, 0, &cs, err)))
        return rc;
    for (size_t i = 0; i < cs.n; i++)
        if (email && strcasecmp(cs.v[i].email, email) == 0)
            found = 1;
    tk_contacts_free(&cs);
    if (!found)
        return tk_error_set(err, TK_ENOTFOUND, "account %lld has no contact %s", (long long)account,
                            email ? email : "(none)");
    if ((rc = tk_store_suppression_remove(e->db, email, err)))
        return rc;
    snprintf(detail, sizeof detail, "address %s no longer suppressed", email);
    return tk_engine_audit(e, account, 0, 0, "unsuppressed", detail, err);
}

int tk_engine_suppress_after_failure(struct tk_engine *e, const struct tk_outbox_row *row,
                                     int reply_code, const char *reply, struct tk_error *err)
{
    int64_t n = 0;
    char reason[TK_ERROR_MAX + 80];
    int rc;
    if (!row->recipient || !row->account_id || reply_code < 500 || reply_code > 599 ||
        (row->kind && strcmp(row->kind, "staff-notice") == 0))
        return 0;
    if ((rc = tk_store_outbox_hard_failures(e->db, row->recipient, &n, err)))
        return rc;
    if (n < (e->cfg.inbound_suppress_after > 0 ? e->cfg.inbound_suppress_after : 1))
        return 0;
    snprintf(reason, sizeof reason, "refused at RCPT %lld time%s: %d %s", (long long)n,
             n == 1 ? "" : "s", reply_code, reply ? reply : "");
    return tk_engine_suppress(e, row->recipient, reason, "rcpt", row->id, row->account_id,
                              row->item_id, NULL, err);
}

static int reminder_waits(struct tk_engine *e, struct tk_item *it, int *waits,
                          struct tk_error *err);

int tk_engine_reminder_waits(struct tk_engine *e, struct tk_item *it, int *waits,
                             struct tk_error *err)
{
    int nobody = 0, rc;
    int64_t mark = 0;
    *waits = 0;
    if ((rc = nobody_left(e, it->account_id, &nobody, &mark, err)) || !nobody)
        return rc;
    return reminder_waits(e, it, waits, err);
}

int tk_engine_reminder_waits_in(struct tk_engine *e, struct tk_item *it,
                                const struct tk_contacts *all, int *waits, struct tk_error *err)
{
    int nobody = 0;
    int64_t mark = 0;
    *waits = 0;
    nobody_in(all, &nobody, &mark);
    return nobody ? reminder_waits(e, it, waits, err) : 0;
}

/* Every notify-on contact of IT's account is suppressed: the step waits. */
static int reminder_waits(struct tk_engine *e, struct tk_item *it, int *waits, struct tk_error *err)
{
    int rc;
    *waits = 1;
    /* Look again in a day: not every tick, and not never (a contact may be
     * added or unsuppressed meanwhile). */
    it->rem.next_at = e->now + 86400;
    if ((rc = tk_store_item_update_reminder(e->db, it, err)) ||
        (rc = tk_engine_audit(e, it->account_id, it->id, it->job_id, "reminder-waiting",
                              "automatic reminder waits: every notify-on contact is suppressed "
                              "(nobody left)",
                              err)))
        return rc;
    return tell_nobody_left(e, it->account_id, it->id, err);
}
