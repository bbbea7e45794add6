/*
 * webhook_post.c - one outbound webhook event on the wire: an HTTP POST
 * through libcurl (docs/webhooks.md, "Delivery").
 *
 * libcurl is opened at the first event (util/curlfn.c: dlopen of
 * libcurl.so.4), not linked: linked, it brought its 22 libraries into every command
 * (bench/RESULTS.md, update 5; the smtp transport does the same in
 * plugins/transports/smtp/curlfn.c).  Every wait is bounded (connect 10 s,
 * whole request 30 s, well inside [delivery] lease_seconds), redirects
 * are not followed (a 3xx is an answer that is not 2xx: retried), only
 * http and https are spoken, and the URL's password never reaches a
 * message.  One easy handle per event: the rate of webhook events is that
 * of item changes, not of bulk mail.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "util/curlfn.h"

#define CONNECT_TIMEOUT_S 10L
#define TIMEOUT_S 30L

/* The response body is not kept: a receiver's answer is its status. */
static size_t discard(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

static void fail(struct tk_delivery_result *res, const char *fmt, ...) TK_PRINTF(2, 3);
static void fail(struct tk_delivery_result *res, const char *fmt, ...)
{
    va_list ap;
    res->status = TK_TEMPORARY;
    res->reply_code = 0;
    va_start(ap, fmt);
    vsnprintf(res->reply, sizeof res->reply, fmt, ap);
    va_end(ap);
}

int tk_webhook_post(const struct tk_outbox_row *r, struct tk_delivery_result *res)
{
    char url[2100], masked[2100], sig[128], evhdr[128], idhdr[128], errbuf[CURL_ERROR_SIZE];
    const char *data = r->data ? r->data : "";
    const char *nl1 = strchr(data, '\n'), *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
    struct curl_slist *hdr = NULL, *h;
    CURL *c;
    CURLcode cc;
    long code = 0;

    memset(res, 0, sizeof *res);
    if (!nl1 || !nl2 || (size_t)(nl1 - data) >= sizeof url || nl2 - nl1 - 1 != 64) {
        res->status = TK_PERMANENT; /* not written by this tickler: cannot be sent */
        tk_strlcpy(res->reply, "webhook row is malformed", sizeof res->reply);
        return 0;
    }
    memcpy(url, data, (size_t)(nl1 - data));
    url[nl1 - data] = '\0';
    if (tk_webhook_mask_url(url, masked, sizeof masked))
        tk_strlcpy(masked, "(webhook URL)", sizeof masked);
    const char *why = NULL;
    const struct tk_curl *cu = tk_curl(&why);
    if (!cu) {
        fail(res, "%s", why);
        return 0;
    }
    snprintf(sig, sizeof sig, "X-Tickler-Signature: sha256=%.64s", nl1 + 1);
    snprintf(evhdr, sizeof evhdr, "X-Tickler-Event: %s", r->kind + 8);
    snprintf(idhdr, sizeof idhdr, "X-Tickler-Delivery: %s", r->message_id ? r->message_id : "");
    if (!(c = cu->init())) {
        fail(res, "libcurl: cannot create a handle (out of memory)");
        return 0;
    }
    const char *lines[] = {"Content-Type: application/json", sig, evhdr, idhdr, "Expect:",
                           "User-Agent: tickler/" TK_VERSION};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!(h = cu->slist_append(hdr, lines[i]))) {
            cu->slist_free_all(hdr);
            cu->cleanup(c);
            fail(res, "libcurl: out of memory");
            return 0;
        }
        hdr = h;
    }
    errbuf[0] = '\0';
    int ok = cu->setopt(c, CURLOPT_URL, url) == CURLE_OK &&
             cu->setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
             cu->setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
             cu->setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
             cu->setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S) == CURLE_OK &&
             cu->setopt(c, CURLOPT_TIMEOUT, TIMEOUT_S) == CURLE_OK &&
             cu->setopt(c, CURLOPT_HTTPHEADER, hdr) == CURLE_OK &&
             cu->setopt(c, CURLOPT_POSTFIELDS, nl2 + 1) == CURLE_OK &&
             cu->setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(nl2 + 1)) == CURLE_OK &&
             cu->setopt(c, CURLOPT_WRITEFUNCTION, discard) == CURLE_OK &&
             cu->setopt(c, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK;
    if (!ok) {
        fail(res, "webhook %.300s: libcurl refused an option", masked);
    } else if ((cc = cu->perform(c)) != CURLE_OK) {
        /* curl's messages name the host, never the password; the URL we
         * print is masked */
        fail(res, "webhook %.300s: %.180s", masked, errbuf[0] ? errbuf : cu->strerror(cc));
    } else {
        cu->getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code < 300) {
            res->status = TK_DELIVERED;
            res->reply_code = (int)code;
            snprintf(res->reply, sizeof res->reply, "HTTP %ld", code);
        } else {
            res->status = TK_TEMPORARY;
            res->reply_code = (int)code;
            snprintf(res->reply, sizeof res->reply, "webhook %.300s: HTTP %ld", masked, code);
        }
    }
    cu->slist_free_all(hdr);
    cu->cleanup(c);
    return 0;
}
