/* token_cache.h - the tokens one HTTP worker checked lately.
 *
 * A hit costs no SHA-256 and no store read: the presented token is compared
 * in constant time (sodium_memcmp) with the raw token of each entry.  The
 * raw tokens live only in this worker's memory (never in the store, the log
 * or a file) and are wiped (sodium_memzero) when an entry is evicted,
 * refused or the cache is dropped.  An entry is trusted for
 * TK_TOKEN_CACHE_TTL seconds after its store lookup: a revoke (by another
 * process) takes effect within that time. */
#ifndef TK_HTTP_TOKEN_CACHE_H
#define TK_HTTP_TOKEN_CACHE_H

#include "engine/api.h"

#define TK_TOKEN_CACHE_SLOTS 32
#define TK_TOKEN_CACHE_TTL 1.0

struct tk_token_entry {
    unsigned char token[TK_TOKEN_CHARS]; /* raw; in use when id != 0 */
    int64_t id;
    char name[65];
    char scope[8];
    double checked;    /* the caller's clock at the store lookup */
    tk_time last_used; /* as far as this worker knows */
};

struct tk_token_cache {
    struct tk_token_entry v[TK_TOKEN_CACHE_SLOTS];
    unsigned long lookups; /* store lookups made (tests) */
};

/* The token looked up by its SHA-256 HASH (64 hex digits) into OUT, as
 * tk_engine_token_by_hash does: TK_ENOTFOUND when there is none. */
typedef int (*tk_token_lookup)(void *u, const char *hash, struct tk_api_token *out,
                               struct tk_error *err);

/* The entry of TOKEN (NUL-terminated, as presented) at time NOW (seconds,
 * any monotonic clock): from the cache when it was looked up less than
 * TK_TOKEN_CACHE_TTL ago, else hashed, looked up with LOOKUP and cached.
 * TK_ENOTFOUND "bad token": malformed or unknown (a cached entry of it is
 * wiped).  *OUT stays valid until the next call. */
int tk_token_cache_check(struct tk_token_cache *c, const char *token, double now,
                         tk_token_lookup lookup, void *u, struct tk_token_entry **out,
                         struct tk_error *err);

/* Wipe every entry (the raw tokens with them). */
void tk_token_cache_wipe(struct tk_token_cache *c);

#endif
