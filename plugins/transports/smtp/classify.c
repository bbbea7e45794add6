/*
 * classify.c - the failure table of the smtp transport.
 *
 * Why a table: the rules are policy, not control flow, and each row is one
 * unit test.  Rows are tried in order; the first match decides.
 *
 * Why a server reply wins over curl's code: curl folds every refused
 * MAIL/RCPT/DATA into CURLE_SEND_ERROR and a refused end of DATA into
 * CURLE_WEIRD_SERVER_REPLY, so only the SMTP code tells 4xx (try again) from
 * 5xx (give up).  That also makes "454 temporary authentication failure"
 * TEMPORARY while a plain CURLE_LOGIN_DENIED (535) stays PERMANENT.
 *
 * Why BODY_SENT matters: once the whole message went out, a lost connection
 * or a timeout leaves us not knowing whether the server queued it.  That is
 * UNKNOWN (retried; the Message-ID lets a duplicate be recognised), never
 * DELIVERED and never PERMANENT.
 */
#include "classify.h"

#include "tickler/transport.h"

#define ANY_FAILURE (-1) /* matches every CURLcode but CURLE_OK */

enum body_when { BODY_ANY, BODY_BEFORE, BODY_AFTER };

struct rule {
    int rc; /* a CURLcode or ANY_FAILURE */
    enum body_when body;
    long reply_min, reply_max;
    int status; /* enum tk_delivery */
};

static const struct rule rules[] = {
    {CURLE_OK, BODY_ANY, 0, 999, TK_DELIVERED},

    /* The server answered with a failure code: trust it. */
    {ANY_FAILURE, BODY_ANY, 400, 499, TK_TEMPORARY},
    {ANY_FAILURE, BODY_ANY, 500, 599, TK_PERMANENT},

    /* No usable reply: decide by what curl saw. */
    {CURLE_COULDNT_RESOLVE_HOST, BODY_ANY, 0, 999, TK_TEMPORARY},
    {CURLE_COULDNT_CONNECT, BODY_ANY, 0, 999, TK_TEMPORARY},
    {CURLE_SSL_CONNECT_ERROR, BODY_ANY, 0, 999, TK_TEMPORARY},
    {CURLE_OPERATION_TIMEDOUT, BODY_BEFORE, 0, 999, TK_TEMPORARY},
    {CURLE_OPERATION_TIMEDOUT, BODY_AFTER, 0, 999, TK_UNKNOWN},

    /* Refused credentials or an untrusted server: retrying cannot help. */
    {CURLE_LOGIN_DENIED, BODY_ANY, 0, 999, TK_PERMANENT},
    {CURLE_PEER_FAILED_VERIFICATION, BODY_ANY, 0, 999, TK_PERMANENT},
    {CURLE_SSL_CACERT_BADFILE, BODY_ANY, 0, 999, TK_PERMANENT},
    {CURLE_SSL_ISSUER_ERROR, BODY_ANY, 0, 999, TK_PERMANENT},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, BODY_ANY, 0, 999, TK_PERMANENT},

    /* The connection broke. */
    {CURLE_SEND_ERROR, BODY_AFTER, 0, 999, TK_UNKNOWN},
    {CURLE_RECV_ERROR, BODY_AFTER, 0, 999, TK_UNKNOWN},
    {CURLE_GOT_NOTHING, BODY_AFTER, 0, 999, TK_UNKNOWN},
    {CURLE_PARTIAL_FILE, BODY_AFTER, 0, 999, TK_UNKNOWN},
    {CURLE_SEND_ERROR, BODY_BEFORE, 0, 999, TK_TEMPORARY},
    {CURLE_RECV_ERROR, BODY_BEFORE, 0, 999, TK_TEMPORARY},

    /* Everything else: an outage until proven otherwise. */
    {ANY_FAILURE, BODY_ANY, 0, 999, TK_TEMPORARY},
};

static int rule_matches(const struct rule *r, CURLcode rc, long reply_code, int body_sent)
{
    if (r->rc == ANY_FAILURE ? rc == CURLE_OK : (int)rc != r->rc)
        return 0;
    if ((r->body == BODY_BEFORE && body_sent) || (r->body == BODY_AFTER && !body_sent))
        return 0;
    return reply_code >= r->reply_min && reply_code <= r->reply_max;
}

int tk_smtp_classify(CURLcode rc, long reply_code, int body_sent)
{
    /* Codes outside 0..999 are not SMTP replies; ignore them rather than
     * let them fall past every row. */
    if (reply_code < 0 || reply_code > 999)
        reply_code = 0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (rule_matches(&rules[i], rc, reply_code, body_sent))
            return rules[i].status;
    return TK_TEMPORARY;
}

const char *tk_smtp_delivery_name(int status)
{
    switch (status) {
    case TK_DELIVERED:
        return "delivered";
    case TK_TEMPORARY:
        return "temporary";
    case TK_PERMANENT:
        return "permanent";
    case TK_UNKNOWN:
        return "unknown";
    default:
        return "invalid";
    }
}
