/* envelope.c - envelope addresses as they go on the wire (see envelope.h). */
#include "envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/idnfn.h"
#include "wire.h"

/* Domains go out in A-labels through libidn2, opened at the first
 * international domain by core/util/idnfn.c, compiled into this plugin: the
 * same loader and flags as core's address checker, so an address core
 * accepted converts here too. */

/* The '@' before the domain, or NULL when S is not "local@domain" with
 * nothing that could end "MAIL FROM:<...>" early: no control characters,
 * no '<' or '>', and spaces only inside a quoted local part. */
static const char *path_at(const char *s)
{
    const char *p = s;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++)
            if (*p == '\\' && p[1])
                p++;
        if (*p != '"')
            return NULL;
        p++;
    }
    for (const char *q = s; *q; q++) {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || (c == ' ' && q >= p))
            return NULL;
    }
    const char *at = strrchr(s, '@');
    return at && at >= p && at > s && at[1] ? at : NULL;
}

static int ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* ADDR into OUT with its domain in A-labels; 0, or -1 with RES filled. */
static int convert(const char *what, const char *addr, char *out, size_t size,
                   struct tk_delivery_result *res)
{
    const char *at = path_at(addr);
    char *domain = NULL;
    int rc = 0;
    if (!at) {
        tk_smtp_reply_set(res, "invalid envelope address");
        return -1;
    }
    if (!ascii(at + 1, strlen(at + 1))) {
        const char *why = tk_idn_load();
        if (why) {
            /* not the address's fault: the message stays queued.  451
             * (RFC 5321: local error in processing), as reply code 0
             * would tell the host the relay is down, and it would hold
             * every other message of the batch back with this one. */
            res->status = TK_TEMPORARY;
            res->reply_code = 451;
            tk_smtp_reply_set(res, "the domain of the %s address: %s", what, why);
            return -1;
        }
        rc = tk_idn_to_ascii(at + 1, &domain);
        if (rc != IDN2_OK) {
            tk_smtp_reply_set(res, "the domain of the %s address cannot be written in ASCII: %s",
                              what, tk_idn_strerror(rc));
            return -1;
        }
    }
    int n = snprintf(out, size, "%.*s@%s", (int)(at - addr), addr, domain ? domain : at + 1);
    free(domain);
    if (n < 0 || (size_t)n >= size) {
        tk_smtp_reply_set(res, "the %s address is too long", what);
        return -1;
    }
    return 0;
}

int tk_smtp_envelope_make(const struct tk_message *msg, struct tk_smtp_envelope *env,
                          struct tk_delivery_result *res)
{
    memset(env, 0, sizeof *env);
    res->status = TK_PERMANENT;
    res->reply_code = 0;
    if (!msg->from || !msg->rcpt || !*msg->rcpt) {
        tk_smtp_reply_set(res, "invalid envelope address");
        return -1;
    }
    if ((*msg->from && convert("sender", msg->from, env->from, sizeof env->from, res) != 0) ||
        convert("recipient", msg->rcpt, env->rcpt, sizeof env->rcpt, res) != 0)
        return -1;
    if (!ascii(env->from, strlen(env->from)))
        env->utf8_addr = msg->from;
    else if (!ascii(env->rcpt, strlen(env->rcpt)))
        env->utf8_addr = msg->rcpt;
    res->status = TK_DELIVERED;
    return 0;
}

void tk_smtp_envelope_no_smtputf8(const struct tk_smtp_envelope *env,
                                  struct tk_delivery_result *res)
{
    res->status = TK_PERMANENT;
    res->reply_code = 0;
    tk_smtp_reply_set(res,
                      "the server does not offer SMTPUTF8, which the address %s needs (its part "
                      "before the '@' is not ASCII)",
                      env->utf8_addr ? env->utf8_addr : "");
}
