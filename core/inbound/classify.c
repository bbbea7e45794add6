/* classify.c - one message in, one decision out.
 *
 * The rules, first match wins (docs/inbound.md keeps the same list):
 *  1. a delivery-status part (RFC 3464/6533): a bounce, hard when a
 *     recipient's Status is 5.x.x (or Action failed without a Status),
 *     soft when 4.x.x or delayed; a report of success only is unmatched;
 *  2. from a mailer daemon (MAILER-DAEMON@, postmaster@), with
 *     X-Failed-Recipients or a delivery-failure subject: the text is read
 *     as a bounce (Exim, qmail ...), hard for a 5xx / 5.x.x reply or
 *     "permanent" wording, soft for 4xx / 4.x.x or "delayed";
 *  3. automatic (Auto-Submitted other than "no", X-Autoreply and alike,
 *     Precedence auto_reply/bulk/junk, an out-of-office subject);
 *  4. sent to a VERP tag without any of the above: the text is read as a
 *     bounce as in 2 (some MTAs bounce from an ordinary address);
 *  5. from a valid address, with In-Reply-To/References or a reply
 *     subject (Re:, Antw:, AW:): a person's reply;
 *  6. anything else: unmatched.
 * Bounces come before automatic replies on purpose: Exim marks its
 * bounces "Auto-Submitted: auto-replied". */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "internal.h"

struct ctx {
    struct tk_inbound_options o;
    struct tk_inbound_result *r;
    GMimeMessage *m;
    char *raw_from; /* the From address as written, for the daemon test */
    int oom;
};

/* Bytes up to and including the blank line that ends the header section,
 * at most LIMIT (cut after the last complete line). */
static size_t header_end(const char *s, size_t n, size_t limit)
{
    size_t max = n < limit ? n : limit;
    for (size_t i = 0; i + 1 < max; i++) {
        if (s[i] != '\n')
            continue;
        if (s[i + 1] == '\n')
            return i + 2;
        if (s[i + 1] == '\r' && i + 2 < max && s[i + 2] == '\n')
            return i + 3;
    }
    if (max < n)
        while (max > 0 && s[max - 1] != '\n')
            max--;
    return max;
}

static void sha256_key(const char *s, size_t n, char *out, size_t size)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    size_t k = (size_t)snprintf(out, size, "sha256:");
    if (!EVP_Digest(s, n, md, &len, EVP_sha256(), NULL))
        len = 0;
    for (unsigned i = 0; i < len && k + 3 <= size; i++)
        k += (size_t)snprintf(out + k, size - k, "%02x", md[i]);
}

/* The first mailbox of LIST (groups opened), borrowed. */
static InternetAddressMailbox *first_mailbox(InternetAddressList *list, int depth)
{
    int n = list ? internet_address_list_length(list) : 0;
    for (int i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia))
            return INTERNET_ADDRESS_MAILBOX(ia);
        if (INTERNET_ADDRESS_IS_GROUP(ia) && depth < 2) {
            InternetAddressMailbox *mb = first_mailbox(
                internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), depth + 1);
            if (mb)
                return mb;
        }
    }
    return NULL;
}

static char *valid_address(const char *a, int *oom)
{
    return a && *a ? tk_inb_address(a, strlen(a), 0, oom) : NULL;
}

static void add_refs(struct ctx *c, const char *header, int is_in_reply_to)
{
    struct tk_inbound_result *r = c->r;
    const char *v = g_mime_object_get_header(GMIME_OBJECT(c->m), header);
    if (!v)
        return;
    GMimeReferences *refs = g_mime_references_parse(tk_inb_options(), v);
    int n = refs ? g_mime_references_length(refs) : 0;
    for (int i = 0; i < n && r->references.n < TK_INB_MAX_REFS && !c->oom; i++) {
        char *id = tk_inb_msgid(g_mime_references_get_message_id(refs, i), &c->oom);
        size_t k;
        if (!id)
            continue;
        for (k = 0; k < r->references.n && strcmp(r->references.v[k], id) != 0; k++)
            ;
        if (k == r->references.n && tk_strv_push(&r->references, id))
            c->oom = 1;
        if (is_in_reply_to && !r->in_reply_to) {
            r->in_reply_to = id;
            id = NULL;
        }
        free(id);
    }
    if (refs)
        g_mime_references_free(refs);
}

static void read_headers(struct ctx *c)
{
    struct tk_inbound_result *r = c->r;
    GMimeObject *o = GMIME_OBJECT(c->m);
    InternetAddressMailbox *mb;

    r->message_id = tk_inb_msgid(g_mime_message_get_message_id(c->m), &c->oom);
    r->subject = tk_inb_line(g_mime_message_get_subject(c->m), &c->oom);
    mb = first_mailbox(g_mime_message_get_from(c->m), 0);
    if (!mb)
        mb = first_mailbox(g_mime_message_get_sender(c->m), 0);
    if (mb) {
        const char *a = internet_address_mailbox_get_addr(mb);
        c->raw_from = tk_inb_line(a, &c->oom);
        r->from = valid_address(a, &c->oom);
        r->from_name = tk_inb_line(internet_address_get_name(INTERNET_ADDRESS(mb)), &c->oom);
    }
    mb = first_mailbox(g_mime_message_get_reply_to(c->m), 0);
    if (mb)
        r->reply_to = valid_address(internet_address_mailbox_get_addr(mb), &c->oom);
    add_refs(c, "In-Reply-To", 1);
    add_refs(c, "References", 0);

    if (c->o.envelope_rcpt) {
        r->envelope_rcpt = valid_address(c->o.envelope_rcpt, &c->oom);
    } else {
        const char *v = g_mime_object_get_header(o, "Delivered-To");
        if (!v)
            v = g_mime_object_get_header(o, "X-Original-To");
        if (v) {
            r->envelope_rcpt = valid_address(v, &c->oom);
        } else if ((mb = first_mailbox(g_mime_message_get_to(c->m), 0))) {
            r->envelope_rcpt = valid_address(internet_address_mailbox_get_addr(mb), &c->oom);
        }
    }
    if (r->envelope_rcpt && c->o.return_path && *c->o.return_path) {
        int64_t id = 0;
        if (tk_inbound_verp_parse(c->o.secret, c->o.return_path, r->envelope_rcpt, NULL, &id,
                                  NULL) != TK_ENOTFOUND) {
            r->verp.present = 1;
            r->verp.outbox_id = id;
        }
    }
}

/* Exim lists the failed recipients in a header too. */
static int failed_recipients_header(struct ctx *c)
{
    const char *v = g_mime_object_get_header(GMIME_OBJECT(c->m), "X-Failed-Recipients");
    InternetAddressList *list = v ? internet_address_list_parse(tk_inb_options(), v) : NULL;
    int n = list ? internet_address_list_length(list) : 0, rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
            continue;
        struct tk_inbound_rcpt rcpt = {0};
        rcpt.address =
            valid_address(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)), &c->oom);
        if (!rcpt.address)
            continue;
        rcpt.cls = TK_INBOUND_HARD_BOUNCE;
        rcpt.status = tk_strdup("5.0.0");
        rc = rcpt.status ? tk_inb_rcpt_add(c->r, &rcpt) : TK_ENOMEM;
        if (!rcpt.status)
            tk_inb_rcpt_free(&rcpt);
    }
    if (list)
        g_object_unref(list);
    return rc;
}

/* The bounce's class from its recipients: hard if any is hard. */
static enum tk_inbound_class rcpts_class(const struct tk_inbound_result *r)
{
    enum tk_inbound_class cls = TK_INBOUND_UNMATCHED;
    for (size_t i = 0; i < r->n_rcpts; i++) {
        if (r->rcpts[i].cls == TK_INBOUND_HARD_BOUNCE)
            return TK_INBOUND_HARD_BOUNCE;
        if (r->rcpts[i].cls == TK_INBOUND_SOFT_BOUNCE)
            cls = TK_INBOUND_SOFT_BOUNCE;
    }
    return cls;
}

/* Mark the recipients the VERP tag verifies for; the first failed or
 * delayed one of the message's class becomes verp.rcpt. */
static void verify(struct ctx *c)
{
    struct tk_inbound_result *r = c->r;
    int64_t id;
    if (!r->verp.present)
        return;
    for (size_t i = 0; i < r->n_rcpts; i++) {
        struct tk_inbound_rcpt *x = &r->rcpts[i];
        const char *cand[2] = {x->address, x->original};
        for (int k = 0; k < 2 && !x->verified; k++)
            if (cand[k] && tk_inbound_verp_parse(c->o.secret, c->o.return_path, r->envelope_rcpt,
                                                 cand[k], &id, NULL) == 0) {
                x->verified = 1;
                if (!r->verp.verified && x->cls == r->cls) {
                    r->verp.verified = 1;
                    r->verp.rcpt = tk_strdup(cand[k]);
                    c->oom |= !r->verp.rcpt;
                }
            }
    }
}

static int reply_subject(const char *s)
{
    static const char *const prefixes[] = {
        "re:", "re :", "antw:", "antw.:", "antwoord:", "aw:", "sv:", "réf:", "ref:", NULL};
    if (!s)
        return 0;
    for (size_t k = 0; prefixes[k]; k++)
        if (tk_inb_prefix(s, prefixes[k]))
            return 1;
    return 0;
}

static void bounce_reason(struct ctx *c, const char *how)
{
    struct tk_inbound_result *r = c->r;
    const struct tk_inbound_rcpt *x = NULL;
    for (size_t i = 0; i < r->n_rcpts && !x; i++)
        if (r->rcpts[i].cls == r->cls)
            x = &r->rcpts[i];
    snprintf(r->reason, sizeof r->reason, "%s%s%s%s%s%s", how, x && x->status ? ": " : "",
             x && x->status ? x->status : "", x ? " for " : "", x ? x->address : "",
             r->verp.present && !r->verp.verified ? "; VERP tag does not verify" : "");
}

/* Not a bounce after all: forget what a scan thought it saw. */
static void forget_rcpts(struct tk_inbound_result *r)
{
    for (size_t i = 0; i < r->n_rcpts; i++)
        tk_inb_rcpt_free(&r->rcpts[i]);
    r->n_rcpts = 0;
    r->cls = TK_INBOUND_UNMATCHED;
}

/* The copy of the message a text bounce returns, after its marker line. */
static void read_copy(struct tk_inb_facts *f, const char *copy)
{
    if (!copy)
        return;
    copy += strspn(copy, "\r\n \t");
    tk_inb_original_parse(f, copy, strlen(copy));
}

static int decide(struct ctx *c, struct tk_inb_facts *f)
{
    struct tk_inbound_result *r = c->r;
    const char *why;
    const char *copy = NULL;
    enum tk_inbound_class cls;
    int rc = 0;

    /* 1. a DSN */
    if (f->dsn) {
        if ((rc = tk_inb_dsn_parse(f->dsn, f->dsn_len, r)))
            return rc;
        r->cls = rcpts_class(r);
        if (r->cls != TK_INBOUND_UNMATCHED) {
            verify(c);
            bounce_reason(c, r->cls == TK_INBOUND_HARD_BOUNCE ? "DSN, failed" : "DSN, delayed");
        } else {
            snprintf(r->reason, sizeof r->reason,
                     "delivery report without a failure (delivered, relayed or expanded)");
        }
        return 0;
    }
    /* 2. a mailer daemon's text */
    why = tk_inb_bounce_sender(c->m, c->raw_from, r->subject);
    if (why && f->text) {
        if ((rc = tk_inb_text_bounce(f->text, r, &cls, &copy)) ||
            (rc = failed_recipients_header(c)))
            return rc;
        read_copy(f, copy);
        r->cls = r->n_rcpts ? rcpts_class(r) : cls;
        if (r->cls != TK_INBOUND_UNMATCHED) {
            verify(c);
            bounce_reason(c, "text bounce");
            return 0;
        }
        forget_rcpts(r);
    }
    /* 3. automatic */
    if ((why = tk_inb_auto_reply(c->m, r->subject))) {
        r->cls = TK_INBOUND_AUTO_REPLY;
        snprintf(r->reason, sizeof r->reason, "automatic reply: %s", why);
        return 0;
    }
    /* 4. a text bounce to a VERP tag, from an ordinary address */
    if (r->verp.present && f->text && !r->n_rcpts) {
        if ((rc = tk_inb_text_bounce(f->text, r, &cls, &copy)))
            return rc;
        read_copy(f, copy);
        r->cls = r->n_rcpts ? rcpts_class(r) : cls;
        if (r->cls != TK_INBOUND_UNMATCHED) {
            verify(c);
            bounce_reason(c, "text bounce to a VERP address");
            return 0;
        }
        forget_rcpts(r);
    }
    /* 5. a person */
    if (r->from && (r->references.n || reply_subject(r->subject))) {
        r->cls = TK_INBOUND_REPLY;
        snprintf(r->reason, sizeof r->reason, "reply: %s",
                 r->references.n ? "In-Reply-To/References" : "reply subject");
        return 0;
    }
    r->cls = TK_INBOUND_UNMATCHED;
    snprintf(r->reason, sizeof r->reason, "unmatched: %s",
             !r->from ? "no valid sender" : "not a bounce, not automatic, not threaded");
    return 0;
}

int tk_inbound_classify(const char *data, size_t len, const struct tk_inbound_options *opt,
                        struct tk_inbound_result *out, struct tk_error *err)
{
    struct ctx c;
    struct tk_inb_facts f;
    char key[80], why[128];
    int rc = 0;

    memset(out, 0, sizeof *out);
    memset(&f, 0, sizeof f);
    if (!data && len)
        return tk_error_set(err, TK_EINVAL, "inbound: no message given");
    if (!data)
        data = "";
    tk_inbound_init();
    memset(&c, 0, sizeof c);
    if (opt)
        c.o = *opt;
    if (!c.o.max_bytes)
        c.o.max_bytes = TK_INBOUND_MAX_BYTES_DEFAULT;
    if (!c.o.max_body)
        c.o.max_body = TK_INBOUND_BODY_MAX_DEFAULT;
    c.r = out;

    /* an mbox postmark ("From sender date") from a pipe or a spool */
    if (len >= 5 && memcmp(data, "From ", 5) == 0) {
        const char *nl = memchr(data, '\n', len);
        size_t skip = nl ? (size_t)(nl - data) + 1 : len;
        data += skip;
        len -= skip;
    }
    sha256_key(data, len, key, sizeof key);

    size_t n = len;
    if (len > c.o.max_bytes || c.o.headers_only) {
        out->oversize = 1;
        n = header_end(data, len, TK_INB_HEADER_MAX);
    }
    if (tk_inb_prescan(data, n, why, sizeof why)) {
        out->too_complex = 1;
        n = header_end(data, n, TK_INB_HEADER_MAX);
        if (tk_inb_prescan(data, n, why, sizeof why))
            n = 0; /* even the header section: read nothing */
    }
    c.m = n ? tk_inb_parse(data, n) : NULL;
    if (!c.m) {
        snprintf(out->reason, sizeof out->reason, "unmatched: %s",
                 out->too_complex ? why : "not a message");
        goto done;
    }
    read_headers(&c);
    if (!out->oversize && !out->too_complex && (rc = tk_inb_walk(c.m, &f)))
        goto done;
    if (f.limited)
        out->too_complex = 1;
    if (c.oom || (rc = decide(&c, &f)))
        goto done;
    if (out->cls != TK_INBOUND_HARD_BOUNCE && out->cls != TK_INBOUND_SOFT_BOUNCE &&
        (rc = tk_inb_body(f.text, f.html, c.o.max_body, out)))
        goto done;
    if (out->cls == TK_INBOUND_HARD_BOUNCE || out->cls == TK_INBOUND_SOFT_BOUNCE) {
        if (f.orig_msgid) {
            out->original_message_id = f.orig_msgid;
            f.orig_msgid = NULL;
        }
        if (f.orig_kind) {
            out->original_kind = f.orig_kind;
            f.orig_kind = NULL;
        }
        out->original_item = f.orig_item;
    }
    if (out->too_complex && !strstr(out->reason, "too complex")) {
        size_t k = strlen(out->reason);
        snprintf(out->reason + k, sizeof out->reason - k, " (%s)",
                 f.limited ? "too complex: parts or nesting over the limit" : why);
    }
    if (out->oversize) {
        size_t k = strlen(out->reason);
        snprintf(out->reason + k, sizeof out->reason - k, " (only the header section was read)");
    }
done:
    /* the reason's parts came from the message and snprintf may have cut
     * one inside a UTF-8 sequence: end it at the last whole character */
    for (size_t cut = strlen(out->reason); cut && !tk_utf8_valid(out->reason, cut);)
        out->reason[--cut] = '\0';
    if (!rc && c.oom)
        rc = TK_ENOMEM;
    if (!rc) {
        out->key = tk_strdup(out->message_id ? out->message_id : key);
        if (!out->key)
            rc = TK_ENOMEM;
    }
    if (c.m)
        g_object_unref(c.m);
    free(c.raw_from);
    tk_inb_facts_free(&f);
    if (rc)
        return tk_error_set(err, rc, "inbound: out of memory");
    return 0;
}

void tk_inbound_result_free(struct tk_inbound_result *r)
{
    if (!r)
        return;
    free(r->key);
    free(r->message_id);
    free(r->envelope_rcpt);
    free(r->from);
    free(r->from_name);
    free(r->reply_to);
    free(r->subject);
    free(r->in_reply_to);
    tk_strv_free(&r->references);
    free(r->original_message_id);
    free(r->original_kind);
    for (size_t i = 0; i < r->n_rcpts; i++)
        tk_inb_rcpt_free(&r->rcpts[i]);
    free(r->rcpts);
    free(r->verp.rcpt);
    free(r->body);
    memset(r, 0, sizeof *r);
}
