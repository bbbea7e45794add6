/*
 * users.c - the staff console's users and sessions (engine.h).
 *
 * Passwords: libsodium's crypto_pwhash_str (Argon2id) at its "interactive"
 * limits (64 MiB, 2 passes): a memory-hard hash from a well-kept library,
 * and fast enough (~0.1 s) for a login form.  The string it returns
 * carries its own salt and parameters, so a later build may raise them and
 * old hashes still verify.
 *
 * Sessions: the cookie value is 256 random bits in hex; the store keeps
 * only its BLAKE2b hash (crypto_generichash), so that a copy of the store
 * opens no session.  A lookup by hash needs no constant-time compare: the
 * hash of a guess tells nothing about the hash of the secret.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define USER_MAX_BYTES 64
#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024

static int need_sodium(struct tk_error *err)
{
    /* thread-safe and idempotent; fails only without a random source */
    if (sodium_init() < 0)
        return tk_error_set(err, TK_ERR, "libsodium could not be initialised");
    return 0;
}

int tk_engine_user_check(const char *name, const char *language, struct tk_error *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > USER_MAX_BYTES || name[0] == '-' ||
        name[strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")])
        return tk_error_set(err, TK_EINVAL,
                            "a user name is 1 to 64 letters, digits, '.', '_', '-' or '@', "
                            "not starting with '-'");
    if (language && strcmp(language, "en") != 0 && strcmp(language, "nl") != 0)
        return tk_error_set(err, TK_EINVAL, "language: '%s' is not one of en, nl", language);
    return 0;
}

int tk_engine_password_check(const char *password, size_t len, struct tk_error *err)
{
    if (!password || len < PASSWORD_MIN || len > PASSWORD_MAX || memchr(password, '\0', len))
        return tk_error_set(err, TK_EINVAL, "a password is 8 to 1024 bytes");
    return 0;
}

/* PASSWORD's Argon2id string into OUT. */
static int hash_password(const char *password, char out[crypto_pwhash_STRBYTES],
                         struct tk_error *err)
{
    int rc;
    if ((rc = need_sodium(err)) ||
        (rc = tk_engine_password_check(password, password ? strlen(password) : 0, err)))
        return rc;
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return tk_error_set(err, TK_ENOMEM, "out of memory hashing the password");
    return 0;
}

int tk_engine_user_add(struct tk_engine *e, const char *name, const char *language,
                       const char *password, int64_t *id, struct tk_error *err)
{
    char hash[crypto_pwhash_STRBYTES];
    int rc;
    if (!language)
        language = "en";
    if ((rc = tk_engine_user_check(name, language, err)) ||
        (rc = hash_password(password, hash, err)))
        return rc;
    rc = tk_store_user_add(e->db, name, language, hash, e->now, id, err);
    sodium_memzero(hash, sizeof hash);
    if (rc == 0)
        rc = tk_engine_audit(e, 0, 0, 0, "user-added", name, err);
    return rc;
}

int tk_engine_user_remove(struct tk_engine *e, const char *name, struct tk_error *err)
{
    struct tk_user u = {0};
    int rc;
    if ((rc = tk_engine_user_check(name, NULL, err)) == 0 &&
        (rc = tk_store_user_get(e->db, name, &u, NULL, err)) == 0 &&
        (rc = tk_store_user_remove(e->db, u.id, err)) == 0)
        rc = tk_engine_audit(e, 0, 0, 0, "user-removed", name, err);
    tk_user_free(&u);
    return rc;
}

int tk_engine_user_set_password(struct tk_engine *e, const char *name, const char *password,
                                struct tk_error *err)
{
    char hash[crypto_pwhash_STRBYTES];
    struct tk_user u = {0};
    int rc;
    if ((rc = tk_engine_user_check(name, NULL, err)) ||
        (rc = tk_store_user_get(e->db, name, &u, NULL, err)) ||
        (rc = hash_password(password, hash, err)))
        goto out;
    rc = tk_store_user_set_password(e->db, u.id, hash, err);
    sodium_memzero(hash, sizeof hash);
    /* a new password ends every session the old one opened */
    if (rc == 0 && (rc = tk_store_session_purge(e->db, u.id, e->now, err)) == 0)
        rc = tk_engine_audit(e, 0, 0, 0, "user-password", name, err);
out:
    tk_user_free(&u);
    return rc;
}

int tk_engine_users_each(struct tk_engine *e, int (*fn)(void *u, const struct tk_user *us), void *u,
                         struct tk_error *err)
{
    return tk_store_user_each(e->db, fn, u, err);
}

/* TOKEN's hash as hex into OUT (65 bytes). */
static void token_hash(const char *token, char out[2 * crypto_generichash_BYTES + 1])
{
    unsigned char h[crypto_generichash_BYTES];
    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
    sodium_bin2hex(out, 2 * crypto_generichash_BYTES + 1, h, sizeof h);
}

static int token_form(const char *token)
{
    return token && strlen(token) == TK_SESSION_TOKEN_LEN &&
           token[strspn(token, "0123456789abcdef")] == '\0';
}

/* Verified when the user does not exist, so that a wrong name takes as
 * long as a wrong password (no user enumeration by timing).  Made once
 * per process, by whichever thread logs in first. */
static char dummy[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    if (crypto_pwhash_str(dummy, "not a password", 14, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        dummy[0] = '\0';
}

int tk_engine_login(struct tk_engine *e, const char *name, const char *password, char *token,
                    struct tk_user *out, struct tk_error *err)
{
    char hash_hex[2 * crypto_generichash_BYTES + 1];
    unsigned char raw[TK_SESSION_TOKEN_LEN / 2];
    char *pw_hash = NULL, actor[16 + USER_MAX_BYTES];
    const struct tk_config *cfg = tk_engine_config(e);
    int rc, known, ok;
    memset(out, 0, sizeof *out);
    token[0] = '\0';
    if ((rc = need_sodium(err)))
        return rc;
    pthread_once(&dummy_once, make_dummy);
    if (!dummy[0])
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    if (!password)
        password = "";
    known = tk_engine_user_check(name, NULL, NULL) == 0 &&
            (rc = tk_store_user_get(e->db, name, out, &pw_hash, err)) == 0;
    if (!known && rc != 0 && rc != TK_ENOTFOUND)
        return rc;
    ok = crypto_pwhash_str_verify(known ? pw_hash : dummy, password,
                                  strnlen(password, PASSWORD_MAX + 1)) == 0;
    free(pw_hash);
    if (!known || !ok || strlen(password) > PASSWORD_MAX) {
        tk_user_free(out);
        return tk_error_set(err, TK_EINVAL, "wrong user name or password");
    }
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(token, TK_SESSION_TOKEN_LEN + 1, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    token_hash(token, hash_hex);
    snprintf(actor, sizeof actor, "staff:%s", out->name);
    if ((rc = tk_store_session_purge(e->db, 0, e->now, err)) ||
        (rc = tk_store_session_add(e->db, hash_hex, out->id, e->now,
                                   e->now + (tk_time)cfg->http_session_hours * 3600, err)) ||
        (rc = tk_store_audit_add(e->db, e->now, actor, 0, 0, 0, "login", out->name, err))) {
        sodium_memzero(token, TK_SESSION_TOKEN_LEN + 1);
        tk_user_free(out);
    }
    return rc;
}

int tk_engine_session_user(struct tk_engine *e, const char *token, struct tk_user *out,
                           struct tk_error *err)
{
    char hash_hex[2 * crypto_generichash_BYTES + 1];
    int rc;
    memset(out, 0, sizeof *out);
    if (!token_form(token))
        return tk_error_set(err, TK_ENOTFOUND, "no session");
    if ((rc = need_sodium(err)))
        return rc;
    token_hash(token, hash_hex);
    return tk_store_session_user(e->db, hash_hex, e->now, out, err);
}

int tk_engine_logout(struct tk_engine *e, const char *token, struct tk_error *err)
{
    char hash_hex[2 * crypto_generichash_BYTES + 1];
    struct tk_user u = {0};
    int rc;
    if (!token_form(token) || tk_engine_session_user(e, token, &u, NULL) != 0)
        return 0;
    token_hash(token, hash_hex);
    if ((rc = tk_store_session_remove(e->db, hash_hex, err)) == 0)
        rc = tk_engine_audit(e, 0, 0, 0, "logout", u.name, err);
    tk_user_free(&u);
    return rc;
}
