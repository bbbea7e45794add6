/* test_inbound.c - core/inbound: the classifier over real and hand-made
 * messages (tests/fixtures/inbound, see its README for where each comes
 * from), VERP tags, the bounds on hostile input, quote stripping, URL
 * masking and the IMAP configuration check.  The IMAP session itself is
 * tested against a real dovecot in tests/integration/test_inbound_imap.py. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "inbound/inbound.h"
#include "inbound/internal.h"
#include "tk_test.h"

#define SECRET "fixture-secret-0123456789abcdef"
#define RP "bounces@bakker.example"

static char *fixture(const char *name, size_t *len)
{
    const char *src = getenv("TK_SOURCE_DIR");
    char path[1024];
    struct tk_buf b = {0};
    char chunk[8192];
    size_t n;
    snprintf(path, sizeof path, "%s/tests/fixtures/inbound/%s", src ? src : "../..", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        tk_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return b.data;
}

/* Classify fixture NAME with the test secret and return path. */
static int classify_file(const char *name, const char *rcpt, struct tk_inbound_result *r)
{
    struct tk_inbound_options o = {0};
    struct tk_error err = {0};
    size_t len = 0;
    char *data = fixture(name, &len);
    o.secret = SECRET;
    o.return_path = RP;
    o.envelope_rcpt = rcpt;
    int rc = data ? tk_inbound_classify(data, len, &o, r, &err) : -1;
    if (rc)
        fprintf(stderr, "%s: %s\n", name, err.msg);
    free(data);
    return rc;
}

static int classify_str(const char *msg, const struct tk_inbound_options *o,
                        struct tk_inbound_result *r)
{
    struct tk_error err = {0};
    return tk_inbound_classify(msg, strlen(msg), o, r, &err);
}

static const struct tk_inbound_rcpt *rcpt_of(const struct tk_inbound_result *r, const char *addr)
{
    for (size_t i = 0; i < r->n_rcpts; i++)
        if (strcmp(r->rcpts[i].address, addr) == 0)
            return &r->rcpts[i];
    return NULL;
}

/* ---- fixtures made by real MTAs --------------------------------------- */

TK_TEST(postfix_hard_bounce_verified)
{
    struct tk_inbound_result r;
    TK_CHECK_INT(classify_file("postfix-dsn-hard.eml", NULL, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_HARD_BOUNCE);
    TK_CHECK_STR(r.envelope_rcpt, "bounces+1-uqtkfqnof7ziswcd@bakker.example"); /* from To */
    TK_CHECK_INT(r.n_rcpts, 1);
    TK_CHECK_STR(r.rcpts[0].address, "jane@client.example");
    TK_CHECK_STR(r.rcpts[0].status, "5.1.1");
    TK_CHECK_STR(r.rcpts[0].action, "failed");
    TK_CHECK(r.rcpts[0].diagnostic && strstr(r.rcpts[0].diagnostic, "550 5.1.1") &&
             strstr(r.rcpts[0].diagnostic, "User unknown") && !strchr(r.rcpts[0].diagnostic, '\n'));
    TK_CHECK(r.rcpts[0].verified);
    TK_CHECK(r.verp.present && r.verp.verified);
    TK_CHECK_INT(r.verp.outbox_id, 1);
    TK_CHECK_STR(r.verp.rcpt, "jane@client.example");
    /* the returned original is tickler's own message */
    TK_CHECK_STR(r.original_message_id, "<80c43cfaf64109c12416b3c8163cd78d.tpb7g8@bakker.example>");
    TK_CHECK_STR(r.original_kind, "notification");
    TK_CHECK_INT(r.original_item, 1);
    TK_CHECK_STR(r.key, "<20261130095257.09D75A73FFE@mx.bakker.example>");
    TK_CHECK(r.body == NULL); /* bounces are not forwarded as text */
    tk_inbound_result_free(&r);
}

TK_TEST(postfix_delay_is_soft)
{
    struct tk_inbound_result r;
    TK_CHECK_INT(classify_file("postfix-dsn-delay.eml", NULL, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_SOFT_BOUNCE);
    TK_CHECK_INT(r.n_rcpts, 1);
    TK_CHECK_STR(r.rcpts[0].address, "slow@client.example");
    TK_CHECK_STR(r.rcpts[0].status, "4.2.1");
    TK_CHECK_STR(r.rcpts[0].action, "delayed");
    TK_CHECK(r.verp.verified);
    TK_CHECK_INT(r.verp.outbox_id, 2);
    /* a delay warning returns text/rfc822-headers */
    TK_CHECK(r.original_message_id && strstr(r.original_message_id, "@bakker.example>"));
    TK_CHECK_INT(r.original_item, 1);
    tk_inbound_result_free(&r);
}

TK_TEST(exchange_ndr_from_corpus)
{
    struct tk_inbound_result r;
    TK_CHECK_INT(classify_file("sisimai-exchange2007-04.eml", NULL, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_HARD_BOUNCE);
    const struct tk_inbound_rcpt *x = rcpt_of(&r, "neko-nyaan@example.jp");
    TK_CHECK(x != NULL);
    if (x) {
        TK_CHECK_STR(x->original, "neko-nyaan@cat.example.jp");
        TK_CHECK_STR(x->status, "5.7.1");
        TK_CHECK(!x->verified);
    }
    TK_CHECK(!r.verp.present && !r.verp.verified);
    TK_CHECK_STR(r.envelope_rcpt, "kijitora@example.com"); /* Delivered-To */
    TK_CHECK_STR(r.original_message_id, "<78f44d2b2ea5763064d21edacd9d8d18@example.net>");
    /* iso-2022-jp encoded words decoded to UTF-8 */
    TK_CHECK(r.subject && tk_inb_prefix(r.subject, "Undeliverable: ") &&
             tk_utf8_valid(r.subject, strlen(r.subject)) && strlen(r.subject) > 20);
    tk_inbound_result_free(&r);
}

TK_TEST(exim_text_bounce_from_corpus)
{
    struct tk_inbound_result r;
    TK_CHECK_INT(classify_file("sisimai-exim-02.eml", NULL, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_HARD_BOUNCE); /* despite Auto-Submitted: auto-replied */
    TK_CHECK_INT(r.n_rcpts, 2);
    const struct tk_inbound_rcpt *k = rcpt_of(&r, "kijitora@example.jp");
    const struct tk_inbound_rcpt *s = rcpt_of(&r, "sabatora@example.jp");
    TK_CHECK(k && s);
    if (k && s) {
        TK_CHECK_STR(k->status, "5.1.1");
        TK_CHECK_STR(s->status, "5.2.1");
        TK_CHECK(k->diagnostic && strstr(k->diagnostic, "550 5.1.1"));
    }
    TK_CHECK(!r.verp.present);
    TK_CHECK_STR(r.original_message_id, "<E1X58pB-0004bW-2s@marutamachi.example.org>");
    tk_inbound_result_free(&r);
}

TK_TEST(exim_text_bounce_to_a_verp_tag)
{
    struct tk_inbound_result r;
    char tag[TK_INBOUND_VERP_MAX];
    TK_CHECK_INT(tk_inbound_verp_make(SECRET, RP, 7, "kijitora@example.jp", tag, sizeof tag, NULL),
                 0);
    TK_CHECK_INT(classify_file("sisimai-exim-02.eml", tag, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_HARD_BOUNCE);
    TK_CHECK(r.verp.present && r.verp.verified);
    TK_CHECK_INT(r.verp.outbox_id, 7);
    TK_CHECK_STR(r.verp.rcpt, "kijitora@example.jp");
    const struct tk_inbound_rcpt *k = rcpt_of(&r, "kijitora@example.jp");
    const struct tk_inbound_rcpt *s = rcpt_of(&r, "sabatora@example.jp");
    TK_CHECK(k && k->verified);
    TK_CHECK(s && !s->verified); /* the tag names kijitora's row only */
    tk_inbound_result_free(&r);
}

/* ---- forged bounces ---------------------------------------------------- */

TK_TEST(forged_bounces_do_not_verify)
{
    struct tk_inbound_result r;
    /* a wrong MAC: the last character of the real tag changed */
    TK_CHECK_INT(
        classify_file("postfix-dsn-hard.eml", "bounces+1-uqtkfqnof7ziswca@bakker.example", &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_HARD_BOUNCE);
    TK_CHECK(r.verp.present && !r.verp.verified && !r.verp.rcpt);
    TK_CHECK(!r.rcpts[0].verified);
    TK_CHECK(strstr(r.reason, "does not verify"));
    tk_inbound_result_free(&r);
    /* jane's genuine tag moved to another outbox row */
    TK_CHECK_INT(
        classify_file("postfix-dsn-hard.eml", "bounces+2-uqtkfqnof7ziswcd@bakker.example", &r), 0);
    TK_CHECK(r.verp.present && !r.verp.verified);
    tk_inbound_result_free(&r);
    /* jane's genuine tag on a DSN naming a contact we never wrote to */
    TK_CHECK_INT(classify_file("forged-dsn.eml", NULL, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_HARD_BOUNCE);
    TK_CHECK_STR(r.rcpts[0].address, "boss@other.example");
    TK_CHECK(!r.rcpts[0].verified && r.verp.present && !r.verp.verified && !r.verp.rcpt);
    tk_inbound_result_free(&r);
    /* the right tag under another secret */
    struct tk_inbound_options o = {0};
    size_t len;
    char *data = fixture("postfix-dsn-hard.eml", &len);
    o.secret = "another-secret-0123456789abcdef";
    o.return_path = RP;
    TK_CHECK_INT(tk_inbound_classify(data, len, &o, &r, NULL), 0);
    TK_CHECK(r.verp.present && !r.verp.verified);
    tk_inbound_result_free(&r);
    /* and without a secret nothing is ever verified */
    o.secret = NULL;
    TK_CHECK_INT(tk_inbound_classify(data, len, &o, &r, NULL), 0);
    TK_CHECK(!r.verp.verified);
    tk_inbound_result_free(&r);
    free(data);
}

/* ---- replies and automatic replies ------------------------------------ */

TK_TEST(human_reply)
{
    struct tk_inbound_result r;
    TK_CHECK_INT(classify_file("reply-human.eml", NULL, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_REPLY);
    TK_CHECK_STR(r.from, "jane@client.example");
    TK_CHECK_STR(r.from_name, "Jane Client");
    TK_CHECK_STR(r.in_reply_to, "<80c43cfaf64109c12416b3c8163cd78d.tpb7g8@bakker.example>");
    TK_CHECK_INT(r.references.n, 2);
    TK_CHECK_STR(r.references.v[1], "<0000aaaa1111bbbb2222cccc3333dddd.tpa000@bakker.example>");
    TK_CHECK_STR(r.key, "<CAF=yD-LwX9y1zq3pQ@mail.client.example>");
    /* text/plain chosen, QP and UTF-8 decoded, the quote cut off */
    TK_CHECK_STR(r.body,
                 "Hello,\n\nI will pay the invoice on Monday, after the caf\xc3\xa9 receipts "
                 "are in.\n\nJane");
    TK_CHECK_INT(r.body_len, strlen(r.body));
    TK_CHECK(!r.body_truncated);
    tk_inbound_result_free(&r);
}

TK_TEST(chat_reply_html_only)
{
    struct tk_inbound_result r;
    TK_CHECK_INT(classify_file("reply-chat.eml", NULL, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_REPLY);
    TK_CHECK_STR(r.in_reply_to, "<c4a1e2f3b5d64e7f8091a2b3c4d5e6f7.tc4h5j@bakker.example>");
    /* HTML without tags and entities, Outlook's Van:/Verzonden: block cut */
    TK_CHECK_STR(r.body, "De bonnetjes staan in de map \"bonnen 2026\" & de facturen volgen "
                         "vrijdag.\n\nGroet,\nPieter");
    tk_inbound_result_free(&r);
}

TK_TEST(out_of_office_en_nl)
{
    struct tk_inbound_result r;
    TK_CHECK_INT(classify_file("ooo-en.eml", NULL, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_AUTO_REPLY);
    TK_CHECK(strstr(r.reason, "Auto-Submitted"));
    TK_CHECK_STR(r.in_reply_to, "<5d0e3a2b7c9f41e08a6b2c3d4e5f6a7b.tq1x2y@bakker.example>");
    tk_inbound_result_free(&r);
    TK_CHECK_INT(classify_file("ooo-nl.eml", NULL, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_AUTO_REPLY);
    TK_CHECK(strstr(r.reason, "subject"));
    TK_CHECK_STR(r.from_name, "Jos\xc3\xa9 de Vries"); /* iso-8859-1 encoded word */
    TK_CHECK(r.body && strstr(r.body, "Mari\xc3\xablle"));
    tk_inbound_result_free(&r);
}

TK_TEST(junk_is_unmatched)
{
    struct tk_inbound_result r;
    TK_CHECK_INT(classify_file("junk.eml", NULL, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_UNMATCHED);
    TK_CHECK(r.n_rcpts == 0 && !r.verp.present && !r.in_reply_to);
    tk_inbound_result_free(&r);
}

#define HDR                                                                                        \
    "From: Ann <ann@acme.example>\nTo: office@bakker.example\nMessage-ID: <x1@acme.example>\n"

TK_TEST(automatic_reply_rules)
{
    static const struct {
        const char *headers;
        enum tk_inbound_class want;
    } cases[] = {
        {"Auto-Submitted: auto-replied\nSubject: hello\n", TK_INBOUND_AUTO_REPLY},
        {"Auto-Submitted: auto-generated (vacation)\nSubject: hello\n", TK_INBOUND_AUTO_REPLY},
        {"Auto-Submitted: no\nSubject: Re: hello\nIn-Reply-To: <a@b>\n", TK_INBOUND_REPLY},
        {"X-Autoreply: yes\nSubject: hello\n", TK_INBOUND_AUTO_REPLY},
        {"X-Autorespond: hello\nSubject: hello\n", TK_INBOUND_AUTO_REPLY},
        {"Precedence: bulk\nSubject: Re: hello\nIn-Reply-To: <a@b>\n", TK_INBOUND_AUTO_REPLY},
        {"Precedence: auto_reply\nSubject: hello\n", TK_INBOUND_AUTO_REPLY},
        {"Precedence: junk\nSubject: hello\n", TK_INBOUND_AUTO_REPLY},
        {"Precedence: list\nSubject: hello\n", TK_INBOUND_UNMATCHED},
        {"Subject: Out of Office: Invoice 12\n", TK_INBOUND_AUTO_REPLY},
        {"Subject: Automatic reply: Invoice 12\n", TK_INBOUND_AUTO_REPLY},
        {"Subject: AutoReply: Invoice 12\n", TK_INBOUND_AUTO_REPLY},
        {"Subject: Afwezig: Herinnering\n", TK_INBOUND_AUTO_REPLY},
        {"Subject: Automatisch antwoord: Factuur 12\n", TK_INBOUND_AUTO_REPLY},
        {"Subject: Buiten kantoor: Factuur 12\n", TK_INBOUND_AUTO_REPLY},
        {"Subject: [EXTERNAL] Out of office\n", TK_INBOUND_AUTO_REPLY},
        {"Subject: =?utf-8?q?Automatisch_antwoord=3A_Factuur?=\n", TK_INBOUND_AUTO_REPLY},
        /* a person writing about office hours is a person */
        {"Subject: Re: out of office hours\nIn-Reply-To: <a@b>\n", TK_INBOUND_REPLY},
        {"Subject: Antw: Factuur 12\n", TK_INBOUND_REPLY},
        {"Subject: Re: Factuur 12\n", TK_INBOUND_REPLY},
        {"Subject: Factuur 12\nReferences: <a@b> <c@d>\n", TK_INBOUND_REPLY},
        {"Subject: Factuur 12\n", TK_INBOUND_UNMATCHED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tk_inbound_result r;
        struct tk_buf m = {0};
        tk_buf_printf(&m, "%s%s\nbody\n", HDR, cases[i].headers);
        TK_CHECK_INT(classify_str(m.data, NULL, &r), 0);
        if (r.cls != cases[i].want)
            fprintf(stderr, "case %zu (%s): %s, %s\n", i, cases[i].headers,
                    tk_inbound_class_name(r.cls), r.reason);
        TK_CHECK_INT(r.cls, cases[i].want);
        tk_inbound_result_free(&r);
        tk_buf_free(&m);
    }
}

/* A qmail-style text bounce, sent to the tag from an ordinary address
 * (rule 4): only the VERP tag makes it a bounce. */
TK_TEST(text_bounce_to_verp_from_ordinary_sender)
{
    char tag[TK_INBOUND_VERP_MAX], msg[2048];
    struct tk_inbound_options o = {0};
    struct tk_inbound_result r;
    tk_inbound_verp_make(SECRET, RP, 42, "piet@klant.example", tag, sizeof tag, NULL);
    snprintf(msg, sizeof msg,
             "From: relay@klant.example\nTo: %s\nSubject: failure notice\nMessage-ID: <q1@k>\n\n"
             "Hi. This is the qmail-send program at klant.example.\n"
             "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
             "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
             "<piet@klant.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
             "--- Below this line is a copy of the message.\n\n"
             "Message-ID: <orig.9@bakker.example>\nX-Tickler-Item: 12\n\nhi\n",
             tag);
    o.secret = SECRET;
    o.return_path = RP;
    TK_CHECK_INT(classify_str(msg, &o, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_HARD_BOUNCE);
    TK_CHECK(r.verp.verified);
    TK_CHECK_STR(r.verp.rcpt, "piet@klant.example");
    TK_CHECK_STR(r.rcpts[0].status, "5.1.1");
    TK_CHECK_STR(r.original_message_id, "<orig.9@bakker.example>");
    TK_CHECK_INT(r.original_item, 12);
    tk_inbound_result_free(&r);
    /* the same words to the plain address are just a message */
    snprintf(msg, sizeof msg,
             "From: relay@klant.example\nTo: office@bakker.example\nSubject: hello\n\n"
             "<piet@klant.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n");
    TK_CHECK_INT(classify_str(msg, &o, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_UNMATCHED);
    TK_CHECK_INT(r.n_rcpts, 0);
    tk_inbound_result_free(&r);
    /* an out-of-office reply sent to the tag (vacation programs answer the
     * envelope sender) stays an automatic reply */
    snprintf(msg, sizeof msg,
             "From: piet@klant.example\nTo: %s\nSubject: Afwezig: Factuur\n"
             "Auto-Submitted: auto-replied\n\nIk ben terug op 5.1.26\n",
             tag);
    TK_CHECK_INT(classify_str(msg, &o, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_AUTO_REPLY);
    tk_inbound_result_free(&r);
}

TK_TEST(success_dsn_is_not_a_bounce)
{
    struct tk_inbound_result r;
    const char *msg = "From: MAILER-DAEMON@x.example\nTo: office@bakker.example\n"
                      "Subject: Successful Mail Delivery Report\nMIME-Version: 1.0\n"
                      "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
                      "--b\nContent-Type: text/plain\n\ndelivered\n--b\n"
                      "Content-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n"
                      "Final-Recipient: rfc822; jane@client.example\nAction: delivered\n"
                      "Status: 2.0.0\n\n--b--\n";
    TK_CHECK_INT(classify_str(msg, NULL, &r), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_UNMATCHED);
    TK_CHECK(strstr(r.reason, "without a failure"));
    TK_CHECK_INT(r.n_rcpts, 1);
    tk_inbound_result_free(&r);
}

/* ---- VERP tags ------------------------------------------------------------ */

TK_TEST(verp_tags)
{
    char out[TK_INBOUND_VERP_MAX];
    struct tk_error err = {0};
    int64_t id = 0;
    /* the vector the fixture generator computed in Python */
    TK_CHECK_INT(tk_inbound_verp_make(SECRET, RP, 1, "jane@client.example", out, sizeof out, &err),
                 0);
    TK_CHECK_STR(out, "bounces+1-uqtkfqnof7ziswcd@bakker.example");
    TK_CHECK_INT(tk_inbound_verp_parse(SECRET, RP, out, "jane@client.example", &id, &err), 0);
    TK_CHECK_INT(id, 1);
    /* an MTA that upper-cases local parts, angle brackets, another case in
     * the recipient */
    TK_CHECK_INT(tk_inbound_verp_parse(SECRET, RP, "<BOUNCES+1-UQTKFQNOF7ZISWCD@Bakker.Example>",
                                       "Jane@Client.Example", &id, &err),
                 0);
    /* another recipient, another row, a mangled MAC */
    TK_CHECK_INT(tk_inbound_verp_parse(SECRET, RP, out, "boss@client.example", &id, &err),
                 TK_EINVAL);
    TK_CHECK_INT(id, 1);
    TK_CHECK(strstr(err.msg, "does not verify"));
    TK_CHECK_INT(tk_inbound_verp_parse(SECRET, RP, "bounces+2-uqtkfqnof7ziswcd@bakker.example",
                                       "jane@client.example", &id, &err),
                 TK_EINVAL);
    TK_CHECK_INT(tk_inbound_verp_parse(SECRET, RP, "bounces+1-uqtkfqnof7ziswce@bakker.example",
                                       "jane@client.example", &id, &err),
                 TK_EINVAL);
    /* not tags of ours */
    static const char *const not_tags[] = {
        "bounces@bakker.example",
        "office@bakker.example",
        "bounces+1-uqtkfqnof7ziswcd@other.example",
        "bounces+01-uqtkfqnof7ziswcd@bakker.example",
        "bounces+1-uqtkfqnof7ziswc@bakker.example",
        "bounces+1-uqtkfqnof7ziswcd1@bakker.example",
        "bounces+1-uqtkfqnof7ziswc1@bakker.example",
        "bounces+x-uqtkfqnof7ziswcd@bakker.example",
        "bounces+99999999999999999999-uqtkfqnof7ziswcd@bakker.example",
        "bouncesx1-uqtkfqnof7ziswcd@bakker.example",
        "",
    };
    for (size_t i = 0; i < sizeof not_tags / sizeof not_tags[0]; i++)
        TK_CHECK_INT(
            tk_inbound_verp_parse(SECRET, RP, not_tags[i], "jane@client.example", &id, NULL),
            TK_ENOTFOUND);
    /* configuration */
    TK_CHECK_INT(tk_inbound_verp_check("short", RP, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "[inbound] secret"));
    TK_CHECK_INT(tk_inbound_verp_check(SECRET, "bounces+x@bakker.example", &err), TK_EINVAL);
    TK_CHECK_INT(tk_inbound_verp_check(SECRET, "not an address", &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "[inbound] return_path"));
    TK_CHECK_INT(
        tk_inbound_verp_check(SECRET, "a-very-long-local-part-for-bounces@bakker.example", &err),
        TK_EINVAL);
    TK_CHECK_INT(tk_inbound_verp_check(SECRET, RP, &err), 0);
    TK_CHECK_INT(tk_inbound_verp_make(SECRET, RP, 0, "jane@client.example", out, sizeof out, &err),
                 TK_EINVAL);
    TK_CHECK_INT(tk_inbound_verp_make(SECRET, RP, 1, "not an address", out, sizeof out, &err),
                 TK_EINVAL);
    TK_CHECK_INT(tk_inbound_verp_make(SECRET, RP, 1, "jane@client.example", out, 20, &err),
                 TK_EINVAL);
    /* the largest id fits and round-trips; the local part stays <= 64 */
    TK_CHECK_INT(
        tk_inbound_verp_make(SECRET, RP, INT64_MAX, "jane@client.example", out, sizeof out, &err),
        0);
    TK_CHECK(strchr(out, '@') - out <= 64);
    TK_CHECK_INT(tk_inbound_verp_parse(SECRET, RP, out, "jane@client.example", &id, &err), 0);
    TK_CHECK_INT(id, INT64_MAX);
    /* only lower-case letters, digits, '+', '-' in the local part */
    for (const char *p = out; *p != '@'; p++)
        TK_CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '+' || *p == '-');
}

/* ---- hostile input --------------------------------------------------------- */

TK_TEST(bounds_on_hostile_input)
{
    struct tk_inbound_result r;
    struct tk_inbound_options o = {0};
    struct tk_buf m = {0};
    /* 200 nested multiparts: GMime would recurse 200 deep; refused by the
     * pre-scan, the header still read */
    tk_buf_puts(&m, "From: a@b.example\nSubject: nest\nMessage-ID: <n@b>\n");
    for (int i = 0; i < 200; i++)
        tk_buf_printf(&m, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
    tk_buf_puts(&m, "Content-Type: text/plain\n\nx\n");
    TK_CHECK_INT(classify_str(m.data, NULL, &r), 0);
    TK_CHECK(r.too_complex);
    TK_CHECK_INT(r.cls, TK_INBOUND_UNMATCHED);
    TK_CHECK_STR(r.subject, "nest");
    TK_CHECK(strstr(r.reason, "too complex"));
    tk_inbound_result_free(&r);
    tk_buf_free(&m);

    /* 60000 header lines */
    tk_buf_puts(&m, "From: a@b.example\nSubject: many\n");
    for (int i = 0; i < 60000; i++)
        tk_buf_puts(&m, "X-A: b\n");
    tk_buf_puts(&m, "\nbody\n");
    TK_CHECK_INT(classify_str(m.data, NULL, &r), 0);
    TK_CHECK(r.too_complex);
    TK_CHECK_INT(r.cls, TK_INBOUND_UNMATCHED);
    tk_inbound_result_free(&r);
    tk_buf_free(&m);

    /* 30000 empty parts of one multipart */
    tk_buf_puts(&m, "From: a@b.example\nContent-Type: multipart/mixed; boundary=z\n\n");
    for (int i = 0; i < 30000; i++)
        tk_buf_puts(&m, "--z\n\n");
    TK_CHECK_INT(classify_str(m.data, NULL, &r), 0);
    TK_CHECK(r.too_complex);
    tk_inbound_result_free(&r);
    tk_buf_free(&m);

    /* over max_bytes: the header section only, still classified */
    size_t len;
    char *data = fixture("reply-human.eml", &len);
    o.max_bytes = 600;
    TK_CHECK_INT(tk_inbound_classify(data, len, &o, &r, NULL), 0);
    TK_CHECK(r.oversize);
    TK_CHECK_INT(r.cls, TK_INBOUND_REPLY);
    TK_CHECK(r.body == NULL);
    TK_CHECK_STR(r.key, "<CAF=yD-LwX9y1zq3pQ@mail.client.example>");
    TK_CHECK(strstr(r.reason, "header section"));
    tk_inbound_result_free(&r);
    /* the body bound: cut at a character, flagged */
    o.max_bytes = 0;
    o.max_body = 52; /* inside the two bytes of the e-acute */
    TK_CHECK_INT(tk_inbound_classify(data, len, &o, &r, NULL), 0);
    TK_CHECK(r.body_truncated);
    TK_CHECK(r.body_len <= 52 && r.body_len == strlen(r.body));
    TK_CHECK(tk_utf8_valid(r.body, r.body_len));
    tk_inbound_result_free(&r);
    free(data);

    /* nothing, garbage, NUL bytes, no header, an mbox postmark */
    TK_CHECK_INT(tk_inbound_classify(NULL, 0, NULL, &r, NULL), 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_UNMATCHED);
    TK_CHECK(r.key && tk_inb_prefix(r.key, "sha256:") && strlen(r.key) == 7 + 64);
    tk_inbound_result_free(&r);
    TK_CHECK_INT(tk_inbound_classify(NULL, 5, NULL, &r, NULL), TK_EINVAL);
    tk_inbound_result_free(&r);
    static const char nul[] = "Subject: a\0b\nFrom: x@y.example\n\n\0\0\0body";
    TK_CHECK_INT(tk_inbound_classify(nul, sizeof nul - 1, NULL, &r, NULL), 0);
    tk_inbound_result_free(&r);
    TK_CHECK_INT(classify_str("From sender@x Mon Nov 30 09:00:00 2026\nFrom: a@b.example\n"
                              "Subject: Re: x\nMessage-ID: <p@b>\n\nhi\n",
                              NULL, &r),
                 0);
    TK_CHECK_INT(r.cls, TK_INBOUND_REPLY);
    TK_CHECK_STR(r.from, "a@b.example");
    tk_inbound_result_free(&r);
    /* controls and invalid UTF-8 in single-line fields */
    TK_CHECK_INT(classify_str("From: \"A\x1b[31mB\" <a@b.example>\nSubject: x\x07y\xff\xc2\x9bz\n\n"
                              "b\x01ody\r\n",
                              NULL, &r),
                 0);
    TK_CHECK(r.subject && !strchr(r.subject, '\x07') &&
             tk_utf8_valid(r.subject, strlen(r.subject)));
    TK_CHECK(r.subject && !strstr(r.subject, "\xc2\x9b"));
    TK_CHECK(r.from_name && !strchr(r.from_name, '\x1b'));
    TK_CHECK_STR(r.body, "body");
    tk_inbound_result_free(&r);
}

TK_TEST(keys)
{
    struct tk_inbound_result a, b, c;
    const char *m1 = "From: a@b.example\nSubject: x\n\nbody 1\n";
    const char *m2 = "From: a@b.example\nSubject: x\n\nbody 2\n";
    classify_str(m1, NULL, &a);
    classify_str(m1, NULL, &b);
    classify_str(m2, NULL, &c);
    TK_CHECK(tk_inb_prefix(a.key, "sha256:"));
    TK_CHECK_STR(a.key, b.key);
    TK_CHECK(strcmp(a.key, c.key) != 0);
    tk_inbound_result_free(&a);
    tk_inbound_result_free(&b);
    tk_inbound_result_free(&c);
    /* an unusable Message-ID is no key */
    classify_str("From: a@b.example\nMessage-ID: <a b@c>\n\nx\n", NULL, &a);
    TK_CHECK(a.message_id == NULL && tk_inb_prefix(a.key, "sha256:"));
    tk_inbound_result_free(&a);
}

/* ---- quoted history ---------------------------------------------------------- */

static void check_strip(const char *in, const char *want)
{
    char *s = tk_strdup(in);
    size_t n = tk_inb_strip_quotes(s, strlen(s));
    s[n] = '\0';
    if (strcmp(s, want) != 0)
        fprintf(stderr, "strip(%s) = [%s], want [%s]\n", in, s, want);
    TK_CHECK_STR(s, want);
    free(s);
}

TK_TEST(quote_stripping)
{
    check_strip("Thanks!\n\nOn Mon, 30 Nov 2026 at 09:52, Bakker <o@b.example> wrote:\n> Dear\n",
                "Thanks!");
    check_strip("Prima.\n\nOp ma 30 nov. 2026 om 09:52 schreef Bakker & Co <o@b.example>:\n\n> "
                "Beste\n",
                "Prima.");
    check_strip("Ok\n\n-----Original Message-----\nFrom: x\n", "Ok");
    check_strip("Ok\n\n-----Oorspronkelijk bericht-----\nVan: x\n", "Ok");
    check_strip("Ok\n\n________________________________\nFrom: Bakker\nSent: Monday\nTo: Jane\n"
                "Subject: Invoice\n\nDear Jane\n",
                "Ok");
    check_strip("Goed\n\nVan: Bakker\nVerzonden: maandag\nAan: Jane\nOnderwerp: Factuur\n", "Goed");
    check_strip("See below.\n> quoted\n> more\n\n", "See below.");
    /* inline answers keep their quotes; only a trailing block goes */
    check_strip("> question 1\nanswer 1\n> question 2\nanswer 2\n",
                "> question 1\nanswer 1\n> question 2\nanswer 2");
    /* bottom-posted: nothing above the quote, keep it all */
    check_strip("On Mon, Bakker wrote:\n> Dear\n\nMy answer\n",
                "On Mon, Bakker wrote:\n> Dear\n\nMy answer");
    /* a sentence that merely starts with "On" */
    check_strip("On Monday I will pay.\nJane\n", "On Monday I will pay.\nJane");
    check_strip("From: my accountant's view: fine.\n", "From: my accountant's view: fine.");
}

/* ---- IMAP configuration and URL masking ------------------------------------- */

TK_TEST(url_masking)
{
    char out[128];
    TK_CHECK_STR(tk_inbound_url_mask("imaps://ann:s3cret@mail.example/INBOX", out, sizeof out),
                 "imaps://ann:***@mail.example/INBOX");
    TK_CHECK_STR(tk_inbound_url_mask("imap://u:p@ss@host:143/", out, sizeof out),
                 "imap://u:***@host:143/");
    TK_CHECK_STR(tk_inbound_url_mask("imaps://mail.example/INBOX", out, sizeof out),
                 "imaps://mail.example/INBOX");
    TK_CHECK_STR(tk_inbound_url_mask("imaps://ann@mail.example/", out, sizeof out),
                 "imaps://ann@mail.example/");
    TK_CHECK_STR(tk_inbound_url_mask(NULL, out, sizeof out), "");
    TK_CHECK_STR(tk_inbound_url_mask("imaps://ann:secretpassword@mail.example/INBOX", out, 12),
                 "imaps://ann");
}

TK_TEST(imap_config_check)
{
    struct tk_inbound_imap_config c = {0};
    struct tk_error err = {0};
    c.url = "imaps://mail.bakker.example/INBOX";
    c.username = "bounces";
    c.password = "pw-secret";
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), 0);
    c.tls = "starttls";
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "[inbound] tls"));
    c.url = "imap://mail.bakker.example/INBOX";
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), 0);
    c.tls = "maybe";
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), TK_EINVAL);
    c.tls = NULL;
    c.url = "pop3://mail.bakker.example/";
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "[inbound] url"));
    c.url = "imaps://bounces:pw-secret@mail.bakker.example/INBOX";
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "***") && !strstr(err.msg, "pw-secret"));
    c.url = "imaps://mail.bakker.example/INBOX;UIDVALIDITY=1";
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), TK_EINVAL);
    c.url = "imaps://mail.bakker.example/INBOX/";
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), TK_EINVAL);
    c.url = "imaps://mail.bakker.example/INBOX/Bounces"; /* a nested mailbox */
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), 0);
    c.url = "imaps:///INBOX";
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), TK_EINVAL);
    c.url = "imaps://mail.bakker.example/";
    c.done_folder = "Done \"x\"";
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "[inbound] done_folder"));
    c.done_folder = "INBOX";
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), TK_EINVAL);
    c.done_folder = "Processed";
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), 0);
    c.password = NULL;
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "[inbound] password"));
    c.password = "x";
    c.ca_file = "/nonexistent/ca.pem";
    TK_CHECK_INT(tk_inbound_imap_check(&c, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "[inbound] ca_file"));
}

/* ---- threads ------------------------------------------------------------------- */

/* Only messages in UTF-8 and US-ASCII: a charset glibc converts with a
 * loadable iconv module (ISO-2022-JP, Windows-1252) has it dlopen()ed and
 * dlclose()d under the loader's lock, which ThreadSanitizer cannot see and
 * can deadlock on while it reports; the single-threaded tests cover those
 * charsets. */
static void *classify_many(void *arg)
{
    static const char *const files[] = {"postfix-dsn-hard.eml", "reply-human.eml", "junk.eml",
                                        "ooo-en.eml"};
    static const enum tk_inbound_class want[] = {TK_INBOUND_HARD_BOUNCE, TK_INBOUND_REPLY,
                                                 TK_INBOUND_UNMATCHED, TK_INBOUND_AUTO_REPLY};
    long bad = 0;
    for (int i = 0; i < 40; i++) {
        struct tk_inbound_result r;
        size_t k = (size_t)(i + (long)(intptr_t)arg) % 4;
        if (classify_file(files[k], NULL, &r) || r.cls != want[k])
            bad++;
        tk_inbound_result_free(&r);
    }
    return (void *)(intptr_t)bad;
}

/* The first calls race for GMime's initialisation (pthread_once). */
TK_TEST(threads)
{
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, classify_many, (void *)i);
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        TK_CHECK_INT((intptr_t)bad, 0);
    }
}

int main(void)
{
    TK_RUN(threads); /* first: the initialisation race */
    TK_RUN(postfix_hard_bounce_verified);
    TK_RUN(postfix_delay_is_soft);
    TK_RUN(exchange_ndr_from_corpus);
    TK_RUN(exim_text_bounce_from_corpus);
    TK_RUN(exim_text_bounce_to_a_verp_tag);
    TK_RUN(forged_bounces_do_not_verify);
    TK_RUN(human_reply);
    TK_RUN(chat_reply_html_only);
    TK_RUN(out_of_office_en_nl);
    TK_RUN(junk_is_unmatched);
    TK_RUN(automatic_reply_rules);
    TK_RUN(text_bounce_to_verp_from_ordinary_sender);
    TK_RUN(success_dsn_is_not_a_bounce);
    TK_RUN(verp_tags);
    TK_RUN(bounds_on_hostile_input);
    TK_RUN(keys);
    TK_RUN(quote_stripping);
    TK_RUN(url_masking);
    TK_RUN(imap_config_check);
    return tk_test_done();
}
