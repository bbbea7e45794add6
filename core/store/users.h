/*
 * users.h - the staff console's users and their sessions (issue 18).  Same
 * rules as store.h: every function runs on the caller's transaction;
 * records are owned by the caller and freed with tk_user_free().
 *
 * The store keeps no secret in clear: a user's password only as the
 * Argon2id string the engine computed, a session only as the hash of its
 * cookie value.
 */
#ifndef TK_STORE_USERS_H
#define TK_STORE_USERS_H

#include "store/store.h"

struct tk_user {
    int64_t id;
    char *name;
    char *language; /* "en" | "nl" */
    tk_time created_at;
};
void tk_user_free(struct tk_user *u);

/* Insert a user; TK_ECONFLICT when NAME exists.  *id (may be NULL): the
 * new id.  Strings are borrowed for the call. */
int tk_store_user_add(struct tk_db *db, const char *name, const char *language, const char *pw_hash,
                      tk_time now, int64_t *id, struct tk_error *err);
/* The user NAME (exact), and when PW_HASH is not NULL its password hash
 * (caller frees with free()).  TK_ENOTFOUND "no user 'NAME'". */
int tk_store_user_get(struct tk_db *db, const char *name, struct tk_user *out, char **pw_hash,
                      struct tk_error *err);
int tk_store_user_set_password(struct tk_db *db, int64_t id, const char *pw_hash,
                               struct tk_error *err);
/* Remove user ID and every session of it. */
int tk_store_user_remove(struct tk_db *db, int64_t id, struct tk_error *err);
/* Every user by name; FN returning non-zero stops with that value. */
int tk_store_user_each(struct tk_db *db, int (*fn)(void *u, const struct tk_user *us), void *u,
                       struct tk_error *err);

/* Sessions: TOKEN_HASH is the hex hash of the cookie value. */
int tk_store_session_add(struct tk_db *db, const char *token_hash, int64_t user, tk_time now,
                         tk_time expires_at, struct tk_error *err);
/* The user of the session TOKEN_HASH that has not expired at NOW;
 * TK_ENOTFOUND when there is none. */
int tk_store_session_user(struct tk_db *db, const char *token_hash, tk_time now,
                          struct tk_user *out, struct tk_error *err);
int tk_store_session_remove(struct tk_db *db, const char *token_hash, struct tk_error *err);
/* Every session of USER (0: none) and every session expired at NOW. */
int tk_store_session_purge(struct tk_db *db, int64_t user, tk_time now, struct tk_error *err);

#endif
