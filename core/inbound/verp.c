/* verp.c - envelope senders that name the outbox row, and cannot be forged.
 *
 *   bounces+4242-k5gq3xw2m7ab4cde@firm.example
 *           ^id  ^80-bit HMAC-SHA256, lowercase base32
 *
 * The MAC covers a version label, the row id and the recipient (lower
 * case), under [inbound] secret: a tag seen by a recipient (it is in the
 * Return-Path of every message) cannot be moved to another row or made to
 * name another address.  80 bits cannot be searched online, one bounce per
 * guess.  Lowercase base32 and decimal survive MTAs that fold the case of
 * local parts, and use no character that needs quoting. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "internal.h"

#define MAC_BYTES 10 /* 80 bits */
#define MAC_CHARS 16 /* base32 of 10 bytes */

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static int mac(const char *secret, int64_t id, const char *rcpt, unsigned char out[MAC_BYTES])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    struct tk_buf m = {0};
    char num[24];
    int rc;
    snprintf(num, sizeof num, "%lld", (long long)id);
    rc = tk_buf_append(&m, "tickler-verp-1", 15); /* with its NUL: a separator */
    if (!rc)
        rc = tk_buf_append(&m, num, strlen(num) + 1);
    for (const char *p = rcpt; !rc && *p; p++)
        rc = tk_buf_putc(&m, (char)tolower((unsigned char)*p));
    if (!rc && !HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)m.data,
                     m.len, md, &mdlen))
        rc = TK_ERR;
    tk_buf_free(&m);
    if (!rc)
        memcpy(out, md, MAC_BYTES);
    OPENSSL_cleanse(md, sizeof md);
    return rc;
}

static void base32(const unsigned char in[MAC_BYTES], char out[MAC_CHARS + 1])
{
    for (size_t i = 0; i < MAC_CHARS; i++) {
        size_t bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = (unsigned)in[byte] << 8 | (byte + 1 < MAC_BYTES ? in[byte + 1] : 0);
        out[i] = b32[(v >> (11 - shift)) & 31];
    }
    out[MAC_CHARS] = '\0';
}

/* Split RETURN_PATH into its local part and domain. */
static int split(const char *return_path, const char **at, struct tk_error *err)
{
    if (!return_path || !*return_path)
        return tk_error_set(err, TK_EINVAL, "[inbound] return_path: required for VERP tags");
    if (!tk_email_valid(return_path))
        return tk_error_set(err, TK_EINVAL, "[inbound] return_path: \"%s\" is not an address",
                            return_path);
    *at = strrchr(return_path, '@');
    if (memchr(return_path, '+', (size_t)(*at - return_path)))
        return tk_error_set(err, TK_EINVAL,
                            "[inbound] return_path: \"%s\" already has a '+' in its local part",
                            return_path);
    return 0;
}

int tk_inbound_verp_check(const char *secret, const char *return_path, struct tk_error *err)
{
    const char *at;
    if (!secret || strlen(secret) < TK_INBOUND_SECRET_MIN)
        return tk_error_set(err, TK_EINVAL, "[inbound] secret: at least %d characters required",
                            TK_INBOUND_SECRET_MIN);
    int rc = split(return_path, &at, err);
    if (rc)
        return rc;
    /* local + "+" + 19 digits + "-" + 16 */
    if ((size_t)(at - return_path) + 1 + 19 + 1 + MAC_CHARS > 64)
        return tk_error_set(err, TK_EINVAL,
                            "[inbound] return_path: local part \"%.*s\" too long for a tag "
                            "(at most %d characters)",
                            (int)(at - return_path), return_path, 64 - 1 - 19 - 1 - MAC_CHARS);
    return 0;
}

int tk_inbound_verp_make(const char *secret, const char *return_path, int64_t outbox_id,
                         const char *rcpt, char *out, size_t size, struct tk_error *err)
{
    unsigned char m[MAC_BYTES];
    char tag[MAC_CHARS + 1];
    const char *at;
    int rc = tk_inbound_verp_check(secret, return_path, err);
    if (rc)
        return rc;
    if (outbox_id <= 0)
        return tk_error_set(err, TK_EINVAL, "VERP tag: outbox id %lld is not positive",
                            (long long)outbox_id);
    if (!rcpt || !tk_email_valid(rcpt))
        return tk_error_set(err, TK_EINVAL, "VERP tag: recipient \"%s\" is not an address",
                            rcpt ? rcpt : "");
    at = strrchr(return_path, '@');
    if (mac(secret, outbox_id, rcpt, m))
        return tk_error_set(err, TK_ERR, "VERP tag: HMAC-SHA256 failed");
    base32(m, tag);
    int n = snprintf(out, size, "%.*s+%lld-%s%s", (int)(at - return_path), return_path,
                     (long long)outbox_id, tag, at);
    if (n < 0 || (size_t)n >= size)
        return tk_error_set(err, TK_EINVAL, "VERP tag: buffer of %zu bytes too small", size);
    return 0;
}

int tk_inbound_verp_parse(const char *secret, const char *return_path, const char *address,
                          const char *rcpt, int64_t *outbox_id, struct tk_error *err)
{
    const char *at, *rp_at;
    char addr[320], num[24], tag[MAC_CHARS + 1];
    unsigned char want[MAC_BYTES];
    size_t n;

    *outbox_id = 0;
    if (!address || split(return_path, &rp_at, NULL))
        return tk_error_set(err, TK_ENOTFOUND, "no VERP return path configured");
    while (*address == ' ' || *address == '\t' || *address == '<')
        address++;
    n = strcspn(address, "> \t\r\n");
    if (n >= sizeof addr)
        return tk_error_set(err, TK_ENOTFOUND, "not a VERP address");
    memcpy(addr, address, n);
    addr[n] = '\0';
    at = strrchr(addr, '@');
    size_t local = (size_t)(rp_at - return_path);
    /* LOCAL "+" ID "-" MAC "@" DOMAIN, local part and domain in any case */
    if (!at || strcasecmp(at, rp_at) != 0 || (size_t)(at - addr) < local + 1 ||
        strncasecmp(addr, return_path, local) != 0 || addr[local] != '+')
        return tk_error_set(err, TK_ENOTFOUND, "not a VERP address of %s", return_path);
    const char *p = addr + local + 1;
    size_t digits = strspn(p, "0123456789");
    if (digits == 0 || digits >= sizeof num || p[0] == '0' || p[digits] != '-' ||
        (size_t)(at - (p + digits + 1)) != MAC_CHARS)
        return tk_error_set(err, TK_ENOTFOUND, "not a VERP address of %s", return_path);
    memcpy(num, p, digits);
    num[digits] = '\0';
    for (size_t i = 0; i < MAC_CHARS; i++) {
        char c = (char)tolower((unsigned char)p[digits + 1 + i]);
        if (!c || !strchr(b32, c))
            return tk_error_set(err, TK_ENOTFOUND, "not a VERP address of %s", return_path);
        tag[i] = c;
    }
    tag[MAC_CHARS] = '\0';
    if (tk_parse_int(num, 1, INT64_MAX, outbox_id))
        return tk_error_set(err, TK_ENOTFOUND, "not a VERP address of %s", return_path);
    if (!secret || strlen(secret) < TK_INBOUND_SECRET_MIN || !rcpt || !*rcpt)
        return tk_error_set(err, TK_EINVAL, "VERP tag for outbox %lld cannot be verified",
                            (long long)*outbox_id);
    char want_tag[MAC_CHARS + 1];
    if (mac(secret, *outbox_id, rcpt, want))
        return tk_error_set(err, TK_ERR, "VERP tag: HMAC-SHA256 failed");
    base32(want, want_tag);
    if (CRYPTO_memcmp(want_tag, tag, MAC_CHARS) != 0)
        return tk_error_set(err, TK_EINVAL, "VERP tag for outbox %lld does not verify for %s",
                            (long long)*outbox_id, rcpt);
    return 0;
}
