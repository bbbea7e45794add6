/* envelope.c - envelope addresses as they go on the wire (see envelope.h). */
#include "envelope.h"

#include <dlfcn.h>
#include <idn2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* As core/mail/address.c: IDNA2008 with the UTS #46 mapping,
 * non-transitional; an address core accepted converts here too. */
#define IDN_FLAGS (IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL)

/* As core/mail/address.c too, libidn2 is opened the first time a domain
 * needs it, not linked: linked, it and libunistring were mapped and
 * relocated by every command that loads the plugins (`send` among them),
 * for the rare international domain (bench/RESULTS.md).  Kept open for the
 * life of the process.  What idn2_to_ascii_8z returns is freed with free():
 * idn2_free is free() on this platform. */
#define IDN_LIBRARY "libidn2.so.0"
static struct {
    __typeof__(idn2_to_ascii_8z) *to_ascii_8z;
    __typeof__(idn2_strerror) *error_text;
} idn;
static char idn_failed[256]; /* why libidn2 could not be loaded */
static pthread_once_t idn_once = PTHREAD_ONCE_INIT;

static void idn_load(void)
{
    void *h = dlopen(IDN_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(idn_failed, sizeof idn_failed, "cannot load %s: %s", IDN_LIBRARY, dlerror());
        return;
    }
    *(void **)&idn.to_ascii_8z = dlsym(h, "idn2_to_ascii_8z");
    *(void **)&idn.error_text = dlsym(h, "idn2_strerror");
    if (!idn.to_ascii_8z || !idn.error_text)
        snprintf(idn_failed, sizeof idn_failed, "%s has no idn2_to_ascii_8z", IDN_LIBRARY);
}

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
        pthread_once(&idn_once, idn_load);
        if (idn_failed[0]) {
            /* not the address's fault: the message stays queued */
            res->status = TK_TEMPORARY;
            tk_smtp_reply_set(res, "the domain of the %s address: %s", what, idn_failed);
            return -1;
        }
        rc = idn.to_ascii_8z(at + 1, &domain, IDN_FLAGS);
        if (rc != IDN2_OK) {
            tk_smtp_reply_set(res, "the domain of the %s address cannot be written in ASCII: %s",
                              what, idn.error_text(rc));
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
