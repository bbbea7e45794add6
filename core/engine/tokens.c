/* tokens.c - API tokens, idempotency records and the metrics' counts
 * (engine/api.h).
 *
 * A token is 256 random bits shown once as "tk_" and 64 hex digits; the
 * store keeps only its SHA-256.  Looking a token up by its hash leaks no
 * timing about the token itself (the index is searched with a hash the
 * caller cannot steer byte by byte), and the hash found is compared again
 * with CRYPTO_memcmp so that the last step is constant-time too. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "engine/api.h"
#include "internal.h"

static const char *const scopes[] = {"read", "write", "admin"};

static int scope_rank(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (tk_streq(s, scopes[i]))
            return i + 1;
    return 0;
}

int tk_engine_token_scope_check(const char *scope, struct tk_error *err)
{
    if (!scope_rank(scope))
        return tk_error_set(err, TK_EINVAL, "--scope: '%s' is not one of read, write, admin",
                            scope ? scope : "");
    return 0;
}

int tk_engine_scope_allows(const char *have, const char *need)
{
    int h = scope_rank(have), n = scope_rank(need);
    return h && n && h >= n;
}

static int name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static void hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* SHA-256 fetched once: OpenSSL 3 looks an implicit EVP_sha256() up
 * again on every digest, a fifth of an API read's instructions
 * (callgrind, bench/RESULTS.md). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* The hex SHA-256 of S into OUT (65 bytes). */
static int sha256_hex(const char *s, size_t n, char out[65], struct tk_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    pthread_once(&sha256_once, sha256_fetch);
    if (!EVP_Digest(s, n, md, &len, sha256_md ? sha256_md : EVP_sha256(), NULL) || len != 32)
        return tk_error_set(err, TK_ERR, "SHA-256 failed");
    hex(md, 32, out);
    return 0;
}

int tk_engine_token_add(struct tk_engine *e, const char *name, const char *scope,
                        char token[TK_TOKEN_CHARS + 1], int64_t *id, struct tk_error *err)
{
    unsigned char raw[32];
    char hash[65], detail[128];
    int64_t tid = 0;
    int rc;
    token[0] = '\0';
    if (!name_ok(name))
        return tk_error_set(err, TK_EINVAL,
                            "token name '%s' must be 1 to 64 letters, digits, '.', '_' or '-'",
                            name ? name : "");
    if ((rc = tk_engine_token_scope_check(scope, err)))
        return rc;
    if (tk_random_bytes(raw, sizeof raw))
        return tk_error_set(err, TK_EIO, "no random bytes for a token");
    memcpy(token, "tk_", 3);
    hex(raw, sizeof raw, token + 3);
    OPENSSL_cleanse(raw, sizeof raw);
    if ((rc = sha256_hex(token, TK_TOKEN_CHARS, hash, err)) ||
        (rc = tk_store_token_add(e->db, name, scope, hash, e->now, &tid, err))) {
        OPENSSL_cleanse(token, TK_TOKEN_CHARS);
        token[0] = '\0';
        return rc;
    }
    if (id)
        *id = tid;
    snprintf(detail, sizeof detail, "token %s, scope %s", name, scope);
    return tk_engine_audit(e, 0, 0, 0, "token-added", detail, err);
}

int tk_engine_token_revoke(struct tk_engine *e, const char *name, struct tk_error *err)
{
    char detail[128];
    int rc;
    if ((rc = tk_store_token_delete(e->db, name ? name : "", err)))
        return rc;
    snprintf(detail, sizeof detail, "token %s", name);
    return tk_engine_audit(e, 0, 0, 0, "token-revoked", detail, err);
}

int tk_engine_tokens_each(struct tk_engine *e, int (*fn)(void *u, const struct tk_api_token *t),
                          void *u, struct tk_error *err)
{
    return tk_store_token_each(e->db, fn, u, err);
}

int tk_engine_token_hash(const char *token, char hash[65], struct tk_error *err)
{
    hash[0] = '\0';
    if (!token || strlen(token) != TK_TOKEN_CHARS)
        return tk_error_set(err, TK_ENOTFOUND, "bad token");
    return sha256_hex(token, TK_TOKEN_CHARS, hash, err) ? TK_ERR : 0;
}

int tk_engine_token_by_hash(struct tk_engine *e, const char *hash, struct tk_api_token *out,
                            struct tk_error *err)
{
    char stored[65] = "";
    int r;
    memset(out, 0, sizeof *out);
    if (!hash || strlen(hash) != 64)
        return tk_error_set(err, TK_ENOTFOUND, "bad token");
    r = tk_store_token_by_hash(e->db, hash, out, stored, err);
    if (r < 0)
        return err && err->code ? err->code : TK_EIO;
    if (r == 0 || strlen(stored) != 64 || CRYPTO_memcmp(stored, hash, 64) != 0) {
        tk_api_token_free(out);
        return tk_error_set(err, TK_ENOTFOUND, "bad token");
    }
    return 0;
}

int tk_engine_token_check(struct tk_engine *e, const char *token, struct tk_api_token *out,
                          struct tk_error *err)
{
    char hash[65];
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = tk_engine_token_hash(token, hash, err)))
        return rc;
    return tk_engine_token_by_hash(e, hash, out, err);
}

int tk_engine_token_touch(struct tk_engine *e, int64_t id, tk_time now, struct tk_error *err)
{
    return tk_store_token_touch(e->db, id, now, err);
}

/* ---- idempotency ----------------------------------------------------- */

int tk_engine_idem_get(struct tk_engine *e, const char *token, const char *key,
                       struct tk_api_idem *out, struct tk_error *err)
{
    return tk_store_idem_get(e->db, token, key, e->now - TK_IDEM_KEEP, out, err);
}

int tk_engine_idem_put(struct tk_engine *e, const char *token, const char *key,
                       const char *request_hash, int status, const char *body, struct tk_error *err)
{
    return tk_store_idem_put(e->db, token, key, request_hash, status, body, e->now, err);
}

int tk_engine_idem_prune(struct tk_engine *e, struct tk_error *err)
{
    int rc;
    if ((rc = tk_db_begin(e->db, TK_TX_IMMEDIATE, err)))
        return rc;
    if ((rc = tk_store_idem_prune(e->db, e->now - TK_IDEM_KEEP, NULL, err)) ||
        (rc = tk_db_commit(e->db, err)))
        tk_db_rollback(e->db);
    return rc;
}

/* ---- metrics ----------------------------------------------------------- */

static const int bounds[TK_METRICS_LATENCY_BUCKETS] = {1,   5,    15,    60,    300,
                                                       900, 3600, 21600, 86400, 259200};

const int *tk_engine_metrics_bounds(void)
{
    return bounds;
}

int tk_engine_metrics(struct tk_engine *e, struct tk_engine_metrics *out,
                      int (*items)(void *u, const char *type, const char *state, int64_t n),
                      void *u, struct tk_error *err)
{
    int rc;
    memset(out, 0, sizeof *out);
    if (!(rc = tk_store_item_counts(e->db, items, u, err)) &&
        !(rc = tk_store_reminders_sent(e->db, &out->reminders_sent, err)) &&
        !(rc = tk_engine_outbox_counts(e, &out->outbox_queued, &out->outbox_dead, err)) &&
        !(rc = tk_store_outbox_sent(e->db, &out->outbox_sent, err)))
        rc = tk_store_outbox_latency(e->db, bounds, TK_METRICS_LATENCY_BUCKETS, out->latency_le,
                                     &out->latency_count, &out->latency_sum, err);
    return rc;
}
