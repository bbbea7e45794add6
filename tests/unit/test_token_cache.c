/* test_token_cache.c - the HTTP workers' token cache (http/token_cache.h)
 * with a fake store: a hit skips the digest and the store; an entry is
 * trusted for 1 s only, so a revoke takes effect within it, also for a
 * token that is cached; a wrong token of the same length is refused while
 * the right one is cached; eviction wipes the raw token. */
#define _GNU_SOURCE 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/token_cache.h"
#include "tk_test.h"

#define GOOD "tk_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define OTHER "tk_fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

/* the fake store: the hashes of the tokens that exist */
static char known[2][65];
static int revoked[2];
static int lookups;
static int many; /* other tokens: known when their hash does not start with 0 */

static int lookup(void *u, const char *hash, struct tk_api_token *out, struct tk_error *err)
{
    (void)u;
    lookups++;
    memset(out, 0, sizeof *out);
    for (int i = 0; i < 2; i++)
        if (strcmp(hash, known[i]) == 0) {
            if (revoked[i])
                return tk_error_set(err, TK_ENOTFOUND, "bad token");
            out->id = i + 1;
            out->name = tk_strdup(i ? "other" : "good");
            out->scope = tk_strdup("write");
            return 0;
        }
    if (!many || hash[0] == '0')
        return tk_error_set(err, TK_ENOTFOUND, "bad token");
    out->id = 100 + (int64_t)strtol((char[]){hash[1], hash[2], hash[3], 0}, NULL, 16);
    out->name = tk_strdup("many");
    out->scope = tk_strdup("read");
    return 0;
}

static void setup(void)
{
    struct tk_error err = {0};
    TK_CHECK_INT(tk_engine_token_hash(GOOD, known[0], &err), 0);
    TK_CHECK_INT(tk_engine_token_hash(OTHER, known[1], &err), 0);
    revoked[0] = revoked[1] = 0;
    lookups = 0;
    many = 0;
}

TK_TEST(test_hit_skips_the_store)
{
    static struct tk_token_cache c;
    struct tk_token_entry *k = NULL;
    struct tk_error err = {0};
    setup();
    tk_token_cache_wipe(&c);
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 100.0, lookup, NULL, &k, &err), 0);
    TK_CHECK(k && k->id == 1);
    TK_CHECK_STR(k->name, "good");
    TK_CHECK_STR(k->scope, "write");
    TK_CHECK_INT(lookups, 1);
    /* within the second: no digest, no store */
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 100.9, lookup, NULL, &k, &err), 0);
    TK_CHECK_INT(lookups, 1);
    TK_CHECK_INT((int)c.lookups, 1);
    /* after it: looked up again */
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 101.0, lookup, NULL, &k, &err), 0);
    TK_CHECK_INT(lookups, 2);
    tk_token_cache_wipe(&c);
}

TK_TEST(test_revoke_within_a_second_on_a_hit)
{
    static struct tk_token_cache c;
    struct tk_token_entry *k = NULL;
    struct tk_error err = {0};
    setup();
    tk_token_cache_wipe(&c);
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 10.0, lookup, NULL, &k, &err), 0);
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 10.5, lookup, NULL, &k, &err), 0); /* a hit */
    revoked[0] = 1;
    /* trusted until 1 s after the lookup ... */
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 10.99, lookup, NULL, &k, &err), 0);
    /* ... and refused from then on, and the entry (raw token too) wiped */
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 11.0, lookup, NULL, &k, &err), TK_ENOTFOUND);
    TK_CHECK(k == NULL);
    TK_CHECK_STR(err.msg, "bad token");
    for (size_t i = 0; i < TK_TOKEN_CACHE_SLOTS; i++) {
        TK_CHECK(c.v[i].id == 0);
        TK_CHECK(memmem(c.v[i].token, sizeof c.v[i].token, "tk_", 3) == NULL);
    }
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 11.1, lookup, NULL, &k, &err), TK_ENOTFOUND);
    /* a clock that went back is no reason to trust */
    revoked[0] = 0;
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 20.0, lookup, NULL, &k, &err), 0);
    revoked[0] = 1;
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 19.0, lookup, NULL, &k, &err), TK_ENOTFOUND);
    tk_token_cache_wipe(&c);
}

TK_TEST(test_wrong_token_refused)
{
    static struct tk_token_cache c;
    struct tk_token_entry *k = NULL;
    struct tk_error err = {0};
    char wrong[] = GOOD;
    setup();
    tk_token_cache_wipe(&c);
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 5.0, lookup, NULL, &k, &err), 0);
    /* the same length, one digit off (first, middle, last): refused
     * although GOOD is cached, and GOOD stays usable */
    for (size_t pos = 3; pos < TK_TOKEN_CHARS; pos += 31) {
        memcpy(wrong, GOOD, sizeof wrong);
        wrong[pos] = wrong[pos] == 'f' ? 'e' : 'f';
        memset(&err, 0, sizeof err);
        TK_CHECK_INT(tk_token_cache_check(&c, wrong, 5.1, lookup, NULL, &k, &err), TK_ENOTFOUND);
        TK_CHECK(k == NULL);
    }
    wrong[TK_TOKEN_CHARS - 1] = GOOD[TK_TOKEN_CHARS - 1] == '0' ? '1' : '0';
    TK_CHECK_INT(tk_token_cache_check(&c, wrong, 5.1, lookup, NULL, &k, &err), TK_ENOTFOUND);
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 5.2, lookup, NULL, &k, &err), 0);
    TK_CHECK(k && k->id == 1);
    /* a prefix, a longer one, empty, NULL: refused without a lookup */
    lookups = 0;
    TK_CHECK_INT(tk_token_cache_check(&c, "tk_0123", 5.3, lookup, NULL, &k, &err), TK_ENOTFOUND);
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD "0", 5.3, lookup, NULL, &k, &err), TK_ENOTFOUND);
    TK_CHECK_INT(tk_token_cache_check(&c, "", 5.3, lookup, NULL, &k, &err), TK_ENOTFOUND);
    TK_CHECK_INT(tk_token_cache_check(&c, NULL, 5.3, lookup, NULL, &k, &err), TK_ENOTFOUND);
    TK_CHECK_INT(lookups, 0);
    /* two tokens side by side, each its own entry */
    TK_CHECK_INT(tk_token_cache_check(&c, OTHER, 5.4, lookup, NULL, &k, &err), 0);
    TK_CHECK(k && k->id == 2);
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 5.5, lookup, NULL, &k, &err), 0);
    TK_CHECK(k && k->id == 1);
    tk_token_cache_wipe(&c);
}

TK_TEST(test_eviction_keeps_the_newest)
{
    static struct tk_token_cache c;
    struct tk_token_entry *k = NULL;
    struct tk_error err = {0};
    char tok[TK_TOKEN_CHARS + 1], hash[65];
    int n = 0;
    setup();
    many = 1;
    tk_token_cache_wipe(&c);
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 1.0, lookup, NULL, &k, &err), 0);
    /* more known tokens than slots, each newer than GOOD: GOOD (the
     * oldest) is evicted and its raw token wiped */
    for (int i = 0; n < 2 * TK_TOKEN_CACHE_SLOTS; i++) {
        snprintf(tok, sizeof tok, "tk_%064d", i);
        TK_CHECK_INT(tk_engine_token_hash(tok, hash, &err), 0);
        if (hash[0] == '0')
            continue;
        TK_CHECK_INT(tk_token_cache_check(&c, tok, 1.1 + n * 0.001, lookup, NULL, &k, &err), 0);
        n++;
    }
    for (size_t i = 0; i < TK_TOKEN_CACHE_SLOTS; i++) {
        TK_CHECK(c.v[i].id >= 100);
        TK_CHECK(memcmp(c.v[i].token, GOOD, TK_TOKEN_CHARS) != 0);
    }
    lookups = 0;
    TK_CHECK_INT(tk_token_cache_check(&c, GOOD, 1.2, lookup, NULL, &k, &err), 0);
    TK_CHECK_INT(lookups, 1); /* not cached any more: looked up */
    tk_token_cache_wipe(&c);
    for (size_t i = 0; i < TK_TOKEN_CACHE_SLOTS; i++)
        TK_CHECK(c.v[i].id == 0 && c.v[i].token[0] == 0);
}

int main(void)
{
    TK_RUN(test_hit_skips_the_store);
    TK_RUN(test_revoke_within_a_second_on_a_hit);
    TK_RUN(test_wrong_token_refused);
    TK_RUN(test_eviction_keeps_the_newest);
    return tk_test_done();
}
