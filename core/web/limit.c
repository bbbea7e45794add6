/*
 * limit.c - the login rate limiter (web.h): a fixed table of counters, one
 * per address ("a:" ADDR) and per user name ("u:" NAME), in memory.
 *
 * Fixed size so that a flood of made-up names cannot grow the process: a
 * key hashes to a run of 8 slots; a new key takes a free or expired slot
 * there, else the slot whose window started longest ago.  An attacker who
 * floods the table can so make the limiter forget a name early, but never
 * make it lock out a name it did not fail for.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

#define SLOTS 4096
#define PROBE 8
#define KEY_MAX 96

struct slot {
    char key[KEY_MAX];
    tk_time first; /* the window's start: the first failure in it */
    int failures;
};

struct tk_web_limiter {
    pthread_mutex_t lock;
    struct slot slot[SLOTS];
};

struct tk_web_limiter *tk_web_limiter_new(void)
{
    struct tk_web_limiter *l = calloc(1, sizeof *l);
    if (l && pthread_mutex_init(&l->lock, NULL) != 0) {
        free(l);
        return NULL;
    }
    return l;
}

void tk_web_limiter_free(struct tk_web_limiter *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* "a:ADDR" or "u:NAME", cut to KEY_MAX - 1 bytes. */
static void make_key(char *key, char kind, const char *s)
{
    key[0] = kind;
    key[1] = ':';
    tk_strlcpy(key + 2, s, KEY_MAX - 2);
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot of KEY, or NULL (CREATE: a new one, reusing the stalest). */
static struct slot *find(struct tk_web_limiter *l, const char *key, tk_time now, int create)
{
    uint32_t h = hash(key);
    struct slot *victim = NULL;
    for (int i = 0; i < PROBE; i++) {
        struct slot *s = &l->slot[(h + (uint32_t)i) % SLOTS];
        int expired = s->key[0] && now - s->first >= TK_WEB_LOGIN_WINDOW;
        if (s->key[0] && !expired && strcmp(s->key, key) == 0)
            return s;
        if (!s->key[0] || expired) {
            if (!victim || victim->key[0])
                victim = s;
        } else if (!victim || (victim->key[0] && s->first < victim->first)) {
            victim = s;
        }
    }
    if (!create)
        return NULL;
    memset(victim, 0, sizeof *victim);
    tk_strlcpy(victim->key, key, KEY_MAX);
    victim->first = now;
    return victim;
}

static int64_t wait_for(struct tk_web_limiter *l, char kind, const char *s, tk_time now)
{
    char key[KEY_MAX];
    struct slot *sl;
    if (!s)
        return 0;
    make_key(key, kind, s);
    sl = find(l, key, now, 0);
    if (!sl || sl->failures < TK_WEB_LOGIN_FAILURES)
        return 0;
    return sl->first + TK_WEB_LOGIN_WINDOW - now;
}

int64_t tk_web_limiter_wait(struct tk_web_limiter *l, const char *addr, const char *user,
                            tk_time now)
{
    int64_t a, u;
    pthread_mutex_lock(&l->lock);
    a = wait_for(l, 'a', addr, now);
    u = wait_for(l, 'u', user, now);
    pthread_mutex_unlock(&l->lock);
    return a > u ? a : u;
}

void tk_web_limiter_fail(struct tk_web_limiter *l, const char *addr, const char *user, tk_time now)
{
    char key[KEY_MAX];
    pthread_mutex_lock(&l->lock);
    if (addr) {
        make_key(key, 'a', addr);
        find(l, key, now, 1)->failures++;
    }
    if (user) {
        make_key(key, 'u', user);
        find(l, key, now, 1)->failures++;
    }
    pthread_mutex_unlock(&l->lock);
}

void tk_web_limiter_success(struct tk_web_limiter *l, const char *user)
{
    char key[KEY_MAX];
    struct slot *s;
    if (!user)
        return;
    make_key(key, 'u', user);
    pthread_mutex_lock(&l->lock);
    /* now = 0: expiry is not the question here */
    for (int i = 0; i < PROBE; i++) {
        s = &l->slot[(hash(key) + (uint32_t)i) % SLOTS];
        if (strcmp(s->key, key) == 0)
            memset(s, 0, sizeof *s);
    }
    pthread_mutex_unlock(&l->lock);
}
