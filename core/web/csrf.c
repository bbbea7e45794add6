/*
 * csrf.c - CSRF tokens bound to the session (web.h).
 *
 * The token is BLAKE2b keyed with the session's own secret (the cookie
 * value) over a fixed label: nothing to store, nothing shared between
 * sessions, and a page of one session holds no token another accepts.
 * The cookie itself never appears in a page; a token seen in a page does
 * not reveal the cookie (a keyed hash is one-way).
 */
#include <sodium.h>
#include <string.h>

#include "web.h"

static const char label[] = "tickler console csrf v1";

void tk_web_csrf(const char *session_token, char *out)
{
    unsigned char h[TK_WEB_CSRF_LEN / 2];
    size_t klen = session_token ? strlen(session_token) : 0;
    if (klen > crypto_generichash_KEYBYTES_MAX)
        klen = crypto_generichash_KEYBYTES_MAX;
    if (sodium_init() < 0 || klen < crypto_generichash_KEYBYTES_MIN) {
        /* no session: a token nothing accepts */
        memset(out, 'x', TK_WEB_CSRF_LEN);
        out[TK_WEB_CSRF_LEN] = '\0';
        return;
    }
    crypto_generichash(h, sizeof h, (const unsigned char *)label, sizeof label - 1,
                       (const unsigned char *)session_token, klen);
    sodium_bin2hex(out, TK_WEB_CSRF_LEN + 1, h, sizeof h);
}

int tk_web_csrf_ok(const char *session_token, const char *given)
{
    char want[TK_WEB_CSRF_LEN + 1];
    if (!given || strlen(given) != TK_WEB_CSRF_LEN || !session_token ||
        strlen(session_token) < crypto_generichash_KEYBYTES_MIN)
        return 0;
    tk_web_csrf(session_token, want);
    /* constant time: the comparison leaks no prefix of the right token */
    return sodium_memcmp(want, given, TK_WEB_CSRF_LEN) == 0;
}
