/* token_cache.c - the tokens one HTTP worker checked lately
 * (token_cache.h). */
#include <sodium.h>
#include <string.h>

#include "http/token_cache.h"

static void wipe(struct tk_token_entry *k)
{
    sodium_memzero(k, sizeof *k);
}

int tk_token_cache_check(struct tk_token_cache *c, const char *token, double now,
                         tk_token_lookup lookup, void *u, struct tk_token_entry **out,
                         struct tk_error *err)
{
    struct tk_token_entry *k = NULL, *oldest = &c->v[0];
    struct tk_api_token t;
    char hash[65];
    tk_time last = 0;
    int rc;
    *out = NULL;
    /* a malformed token is refused before any compare; the length is the
     * only thing a compare below does not hide, and every token has it */
    if (!token || strnlen(token, TK_TOKEN_CHARS + 1) != TK_TOKEN_CHARS)
        return tk_error_set(err, TK_ENOTFOUND, "bad token");
    /* every slot is compared in full: no early exit on a match either */
    for (size_t i = 0; i < TK_TOKEN_CACHE_SLOTS; i++) {
        struct tk_token_entry *e = &c->v[i];
        if (e->id && sodium_memcmp(e->token, token, TK_TOKEN_CHARS) == 0)
            k = e;
        if (!e->id || (oldest->id && e->checked < oldest->checked))
            oldest = e;
    }
    if (k && now - k->checked < TK_TOKEN_CACHE_TTL && now >= k->checked) {
        *out = k;
        return 0;
    }
    c->lookups++;
    if ((rc = tk_engine_token_hash(token, hash, err)) || (rc = lookup(u, hash, &t, err))) {
        if (k)
            wipe(k);
        return rc;
    }
    if (k && k->id == t.id)
        last = k->last_used;
    if (!k)
        k = oldest;
    wipe(k);
    memcpy(k->token, token, TK_TOKEN_CHARS);
    k->id = t.id;
    tk_strlcpy(k->name, t.name ? t.name : "", sizeof k->name);
    tk_strlcpy(k->scope, t.scope ? t.scope : "", sizeof k->scope);
    k->checked = now;
    k->last_used = t.last_used_at > last ? t.last_used_at : last;
    tk_api_token_free(&t);
    *out = k;
    return 0;
}

void tk_token_cache_wipe(struct tk_token_cache *c)
{
    sodium_memzero(c, sizeof *c);
}
