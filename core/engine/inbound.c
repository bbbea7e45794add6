/*
 * inbound.c - acting on what comes back (issue 15): the one engine function
 * that both ways in (`tickler inbound` on standard input, the IMAP poll of
 * `tickler run`) feed.  core/inbound/ classifies; this file decides what
 * tickler does about it, in the caller's transaction, and records the
 * message under its key so that a message handed over twice has one
 * effect (docs/inbound.md, "Recording once").
 *
 * Trust: only a hard bounce whose VERP tag verifies for the address it
 * reports, naming an outbox row that was sent to that very address, may
 * suppress anything.  Replies are tied to an item only through the
 * Message-IDs tickler itself sent (In-Reply-To / References).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inbound/inbound.h"
#include "internal.h"
#include "mail/mail.h"

/* S into DST (SIZE bytes), cut if need be (a log line, an audit word). */
static void set(char *dst, size_t size, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= size)
        n = size - 1;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

/* The outbox row a reply or an automatic reply answers: the first of its
 * In-Reply-To / References ids that tickler sent.  *FOUND 0: none. */
static int match_reply(struct tk_engine *e, const struct tk_inbound_result *r,
                       struct tk_outbox_row *row, int *found, struct tk_error *err)
{
    *found = 0;
    for (size_t i = 0; i < r->references.n; i++) {
        int rc = tk_store_outbox_by_message_id(e->db, r->references.v[i], row, err);
        if (rc == 0) {
            /* a reply to a staff notice is staff talking, not a client */
            if (row->kind && strcmp(row->kind, "staff-notice") == 0) {
                tk_outbox_row_free(row);
                continue;
            }
            *found = 1;
            return 0;
        }
        if (rc != TK_ENOTFOUND)
            return rc;
    }
    return 0;
}

/* The row a bounce is about: the one its VERP tag names, else (for the
 * audit trail only, never to act on) the returned original's Message-ID. */
static int match_bounce(struct tk_engine *e, const struct tk_inbound_result *r,
                        struct tk_outbox_row *row, int *found, struct tk_error *err)
{
    int rc = TK_ENOTFOUND;
    *found = 0;
    if (r->verp.present && r->verp.outbox_id > 0)
        rc = tk_store_outbox_get(e->db, r->verp.outbox_id, row, err);
    if (rc == TK_ENOTFOUND && r->original_message_id)
        rc = tk_store_outbox_by_message_id(e->db, r->original_message_id, row, err);
    if (rc == 0)
        *found = 1;
    return rc == TK_ENOTFOUND ? 0 : rc;
}

/* The first failed recipient's status and diagnostic, for the reason. */
static void bounce_reason(const struct tk_inbound_result *r, const char *addr, char *out,
                          size_t size)
{
    const struct tk_inbound_rcpt *best = NULL;
    for (size_t i = 0; i < r->n_rcpts; i++)
        if (!best || (addr && r->rcpts[i].address && strcasecmp(r->rcpts[i].address, addr) == 0))
            best = &r->rcpts[i];
    snprintf(out, size, "hard bounce %s%s%s", best && best->status ? best->status : "5.0.0",
             best && best->diagnostic ? ": " : "",
             best && best->diagnostic ? best->diagnostic : "");
}

/* A hard bounce: suppress the address if, and only if, everything ties up. */
static int act_hard(struct tk_engine *e, const struct tk_inbound_result *r,
                    const struct tk_outbox_row *row, int found,
                    struct tk_engine_inbound_outcome *out, struct tk_error *err)
{
    char reason[600], detail[900];
    const char *why = NULL;
    if (!r->verp.present)
        why = "no VERP tag";
    else if (!r->verp.verified)
        why = "its VERP tag does not verify for any address it reports";
    else if (!found || row->id != r->verp.outbox_id)
        why = "its VERP tag names no message of ours";
    else if (!row->recipient || strcasecmp(row->recipient, r->verp.rcpt) != 0)
        why = "the address it reports is not the one we wrote to";
    if (why) {
        set(out->action, sizeof out->action, "ignored");
        snprintf(detail, sizeof detail, "hard bounce from %s not acted on: %s",
                 r->from ? r->from : "(no sender)", why);
        set(out->detail, sizeof out->detail, detail);
        return found && row->item_id ? tk_engine_audit(e, row->account_id, row->item_id, 0,
                                                       "bounce-unverified", detail, err)
                                     : 0;
    }
    bounce_reason(r, r->verp.rcpt, reason, sizeof reason);
    set(out->action, sizeof out->action, "suppressed");
    snprintf(detail, sizeof detail, "%s suppressed: %s", r->verp.rcpt, reason);
    set(out->detail, sizeof out->detail, detail);
    return tk_engine_suppress(e, r->verp.rcpt, reason, "bounce", row->id, row->account_id,
                              row->item_id, NULL, err);
}

/* Hand the reply to the item's plugin: its on_reply slot (ABI 1.2) names
 * an event to record, "" nothing more; NULL or no slot: the host's
 * default, a hold of the item's reminders. */
static int plugin_reply(struct tk_engine *e, const struct tk_inbound_result *r, int64_t item_id,
                        struct tk_engine_inbound_outcome *out, struct tk_error *err)
{
    struct tk_item it;
    struct tk_account acc = {0};
    const struct tk_plugin *p;
    const char *event = NULL;
    int rc;

    memset(&it, 0, sizeof it);
    if ((rc = tk_store_item_get(e->db, item_id, &it, err)) == TK_ENOTFOUND) {
        rc = 0;
        goto out;
    }
    if (rc || (rc = tk_store_account_get(e->db, it.account_id, &acc, err)))
        goto out;
    if (!(p = tk_engine_type(e, it.type, err))) {
        /* a type no longer loaded: the reply stays recorded */
        rc = 0;
        goto out;
    }
    if (strcmp(it.state, "pending") != 0 || it.archived)
        goto out; /* nothing left to remind about */
    if (TK_DESCR_HAS(p->item, on_reply) && p->item->on_reply) {
        struct tk_item_ctx ctx;
        struct tk_kv fields = {0}, facts = {0};
        for (size_t i = 0; rc == 0 && i < it.fields.n; i++)
            if (tk_kv_set(&fields, it.fields.keys[i], it.fields.vals[i]))
                rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        if (rc == 0 &&
            (rc = tk_ctx_init(e, &ctx, &it, &fields, &facts, NULL, acc.language, err)) == 0)
            event =
                p->item->on_reply(p->state, &ctx, r->from ? r->from : "", r->body ? r->body : "");
        tk_kv_free(&fields);
        tk_kv_free(&facts);
        if (rc)
            goto out;
    }
    if (event && *event) {
        rc = tk_engine_event(e, it.id, event, err);
        if (rc == 0)
            snprintf(out->action, sizeof out->action, "event:%s", event);
        else if (rc == TK_EINVAL || rc == TK_ECONFLICT) {
            /* a plugin naming an event it does not have, or one the item's
             * state refuses: the reply stays recorded, the plugin is named */
            tk_engine_warn(e, "item %lld: %s's on_reply: %s", (long long)it.id, it.type,
                           err ? err->msg : "refused");
            rc = 0;
        }
    } else if (!event) {
        /* No plugin verdict: the item's automatic reminders wait
         * [inbound] reply_hold_days (0: no hold) so that staff can answer
         * before the next one goes out. */
        int days = e->cfg.inbound_reply_hold_days;
        set(out->action, sizeof out->action, "replied");
        if (days > 0) {
            rc = tk_engine_hold_item(e, it.id, e->now + (tk_time)days * 86400, "client replied",
                                     err);
            if (rc == 0)
                snprintf(out->action, sizeof out->action, "held:%dd", days);
            else if (rc == TK_EINVAL || rc == TK_ECONFLICT) {
                tk_engine_warn(e, "item %lld: reply hold refused: %s", (long long)it.id,
                               err ? err->msg : "refused");
                rc = 0;
            }
        }
    }
out:
    tk_item_free(&it);
    tk_account_free(&acc);
    return rc;
}

/* A person's reply to one of our messages: record it, forward it to
 * staff, hand it to the plugin. */
static int act_reply(struct tk_engine *e, const struct tk_inbound_result *r,
                     const struct tk_outbox_row *row, struct tk_engine_inbound_outcome *out,
                     struct tk_error *err)
{
    struct tk_buf text = {0};
    char detail[900], subject[1200], key[400];
    int rc;
    snprintf(detail, sizeof detail, "reply from %s%s%s%s", r->from ? r->from : "(no sender)",
             r->subject ? " (\"" : "", r->subject ? r->subject : "", r->subject ? "\")" : "");
    set(out->action, sizeof out->action, "replied");
    set(out->detail, sizeof out->detail, detail);
    if ((rc = tk_engine_audit(e, row->account_id, row->item_id, 0, "reply", detail, err)))
        return rc;
    snprintf(subject, sizeof subject, "Reply from %s: %s", r->from ? r->from : "a client",
             r->subject ? r->subject : "(no subject)");
    if (tk_buf_printf(&text,
                      "%s%s%s wrote, in answer to tickler's %s about item %lld (sent to %s):\n\n",
                      r->from_name ? r->from_name : "", r->from_name ? " " : "",
                      r->from ? r->from : "(no sender)", row->kind ? row->kind : "message",
                      (long long)row->item_id, row->recipient ? row->recipient : "?") ||
        tk_buf_append(&text, r->body ? r->body : "", r->body_len) ||
        tk_buf_printf(&text, "%s\n-- \nForwarded by tickler; answer the client directly%s%s.\n",
                      r->body_truncated ? "\n[... cut: the reply is longer]" : "",
                      r->reply_to || r->from ? " at " : "",
                      r->reply_to ? r->reply_to
                      : r->from   ? r->from
                                  : "")) {
        tk_buf_free(&text);
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    snprintf(key, sizeof key, "reply/%s", r->key);
    rc = tk_engine_staff_notice(e, row->account_id, row->item_id, key, subject, text.data, NULL,
                                NULL, err);
    tk_buf_free(&text);
    if (rc == 0 && row->item_id)
        rc = plugin_reply(e, r, row->item_id, out, err);
    return rc;
}

int tk_engine_inbound(struct tk_engine *e, const struct tk_engine_inbound_req *rq,
                      struct tk_engine_inbound_outcome *out, struct tk_error *err)
{
    struct tk_inbound_options opt;
    struct tk_inbound_result r;
    struct tk_outbox_row row;
    struct tk_inbound_record rec;
    char detail[900];
    int found = 0, seen = 0, rc;

    memset(out, 0, sizeof *out);
    memset(&r, 0, sizeof r);
    memset(&row, 0, sizeof row);
    memset(&opt, 0, sizeof opt);
    opt.max_bytes = (size_t)(e->cfg.inbound_max_kb > 0 ? e->cfg.inbound_max_kb : 10240) * 1024;
    opt.secret = e->cfg.inbound_secret;
    opt.return_path = e->cfg.inbound_return_path;
    opt.envelope_rcpt = rq->envelope_rcpt;
    opt.headers_only = rq->headers_only;
    if ((rc = tk_inbound_classify(rq->data, rq->len, &opt, &r, err)))
        goto done;
    set(out->cls, sizeof out->cls, tk_inbound_class_name(r.cls));
    if ((rc = tk_store_inbound_seen(e->db, r.key, &seen, err)))
        goto done;
    if (seen) {
        out->duplicate = 1;
        set(out->action, sizeof out->action, "duplicate");
        snprintf(out->detail, sizeof out->detail, "message %s was recorded before: nothing done",
                 r.key);
        goto done;
    }

    switch (r.cls) {
    case TK_INBOUND_HARD_BOUNCE:
    case TK_INBOUND_SOFT_BOUNCE:
        if ((rc = match_bounce(e, &r, &row, &found, err)))
            goto done;
        if (r.cls == TK_INBOUND_HARD_BOUNCE) {
            rc = act_hard(e, &r, &row, found, out, err);
            break;
        }
        set(out->action, sizeof out->action, found ? "recorded" : "unmatched");
        snprintf(detail, sizeof detail, "delivery delayed or failed for now (%s)%s", r.reason,
                 r.verp.verified ? "" : "; not verified");
        set(out->detail, sizeof out->detail, detail);
        if (found && row.item_id)
            rc = tk_engine_audit(e, row.account_id, row.item_id, 0, "bounce-soft", detail, err);
        break;
    case TK_INBOUND_AUTO_REPLY:
        if ((rc = match_reply(e, &r, &row, &found, err)))
            goto done;
        set(out->action, sizeof out->action, found ? "recorded" : "unmatched");
        snprintf(detail, sizeof detail, "automatic reply from %s%s%s%s",
                 r.from ? r.from : "(no sender)", r.subject ? " (\"" : "",
                 r.subject ? r.subject : "", r.subject ? "\")" : "");
        set(out->detail, sizeof out->detail, detail);
        if (found && row.item_id)
            rc = tk_engine_audit(e, row.account_id, row.item_id, 0, "auto-reply", detail, err);
        break;
    case TK_INBOUND_REPLY:
        if ((rc = match_reply(e, &r, &row, &found, err)))
            goto done;
        if (found) {
            rc = act_reply(e, &r, &row, out, err);
            break;
        }
        /* a reply to nothing of ours is for staff */
        __attribute__((fallthrough));
    default:
        set(out->action, sizeof out->action, "unmatched");
        snprintf(out->detail, sizeof out->detail,
                 "%s from %s (%s) matches nothing tickler sent: left for staff (%s)",
                 tk_inbound_class_name(r.cls), r.from ? r.from : "(no sender)",
                 r.subject ? r.subject : "no subject", r.reason);
        break;
    }
    if (rc)
        goto done;
    if (found) {
        out->item_id = row.item_id;
        out->outbox_id = row.id;
    }
    memset(&rec, 0, sizeof rec);
    rec.key = r.key;
    rec.cls = out->cls;
    rec.reason = r.reason;
    rec.sender = r.from;
    rec.subject = r.subject;
    rec.action = out->action;
    rec.at = e->now;
    rec.item_id = out->item_id;
    rec.account_id = found ? row.account_id : 0;
    rec.outbox_id = out->outbox_id;
    rc = tk_store_inbound_add(e->db, &rec, err);
done:
    tk_outbox_row_free(&row);
    tk_inbound_result_free(&r);
    return rc;
}

int tk_engine_inbound_polls(const struct tk_engine *e)
{
    return e->cfg.inbound_url && *e->cfg.inbound_url;
}

struct poll_ctx {
    struct tk_engine *e;
    struct tk_engine_poll_stats *st;
};

/* One fetched message in its own transaction: the IMAP side flags it only
 * after this returns 0, that is after the commit. */
static int poll_one(void *u, const struct tk_inbound_fetched *m, struct tk_error *err)
{
    struct poll_ctx *pc = u;
    struct tk_engine *e = pc->e;
    struct tk_engine_inbound_req rq = {m->data, m->len, NULL, m->oversize};
    struct tk_engine_inbound_outcome out;
    int rc = tk_db_begin(e->db, TK_TX_IMMEDIATE, err);
    if (rc)
        return rc;
    if ((rc = tk_engine_inbound(e, &rq, &out, err)) || (rc = tk_db_commit(e->db, err))) {
        tk_db_rollback(e->db);
        return rc;
    }
    if (out.duplicate)
        pc->st->duplicates++;
    if (strcmp(out.action, "unmatched") == 0)
        tk_engine_warn(e, "inbound: %s", out.detail);
    return 0;
}

int tk_engine_inbound_poll(struct tk_engine *e, struct tk_engine_poll_stats *stats,
                           struct tk_error *err)
{
    struct tk_engine_poll_stats local;
    struct tk_inbound_imap_config cfg;
    struct tk_inbound_imap_stats is = {0};
    struct poll_ctx pc = {e, stats ? stats : &local};
    const struct tk_config *c = &e->cfg;
    int rc;

    memset(pc.st, 0, sizeof *pc.st);
    memset(&cfg, 0, sizeof cfg);
    cfg.url = c->inbound_url;
    cfg.username = c->inbound_username;
    cfg.password = c->inbound_password;
    cfg.tls = c->inbound_tls;
    cfg.ca_file = c->inbound_ca_file;
    cfg.done_folder = c->inbound_done_folder;
    cfg.max_bytes = (size_t)(c->inbound_max_kb > 0 ? c->inbound_max_kb : 10240) * 1024;
    rc = tk_inbound_imap_poll(&cfg, poll_one, &pc, &is, err);
    pc.st->found = is.found;
    pc.st->processed = is.processed;
    pc.st->failed = is.failed;
    return rc;
}

/* Check [inbound] as the engine opens: VERP keys and the mailbox. */
int tk_engine_inbound_check(const struct tk_config *c, struct tk_error *err)
{
    int rc = 0;
    if ((c->inbound_return_path && *c->inbound_return_path) ||
        (c->inbound_secret && *c->inbound_secret))
        rc = tk_inbound_verp_check(c->inbound_secret, c->inbound_return_path, err);
    if (rc == 0 && c->inbound_url && *c->inbound_url) {
        struct tk_inbound_imap_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.url = c->inbound_url;
        cfg.username = c->inbound_username;
        cfg.password = c->inbound_password;
        cfg.tls = c->inbound_tls;
        cfg.ca_file = c->inbound_ca_file;
        cfg.done_folder = c->inbound_done_folder;
        rc = tk_inbound_imap_check(&cfg, err);
    }
    if (rc == 0 && c->inbound_forward_to && *c->inbound_forward_to &&
        tk_mail_check_address(c->inbound_forward_to, err)) {
        tk_error_prefix(err, "[inbound] forward_to");
        rc = TK_EINVAL;
    }
    if (rc)
        tk_error_prefix(err, "%s", c->path);
    return rc;
}
