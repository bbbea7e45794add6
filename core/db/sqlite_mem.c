/* sqlite_mem.c - SQLite's allocator: malloc behind a per-thread cache of
 * small freed blocks (see sqlite_mem.h for why).
 *
 * Each block is malloc's, with an 8-byte header before what SQLite gets
 * (SQLite's own mem1.c does the same; it needs 8-byte alignment): the
 * block's usable size while SQLite holds it, the next block of the list
 * while it is cached.  A cached block's usable bytes are poisoned under
 * AddressSanitizer, so a use after free stays visible; the store does not
 * install the cache there at all (sqlite.c), SQLite's own allocator then
 * being as before, but the unit test runs these methods in every build. */
#include "db/sqlite_mem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if TK_SQLITE_MEM_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

int tk_sqlite_mem_off;

#define HDR 8
#define NCLASS 7 /* 16, 32, ..., 1024 */

union hdr {
    sqlite3_int64 size; /* usable bytes, while SQLite holds the block */
    union hdr *next;    /* the next cached block of its class */
};

struct cache {
    union hdr *head[NCLASS];
    unsigned n[NCLASS];
    int keyed; /* the thread's key is set: its lists go when it ends */
};

static __thread struct cache tc;
static pthread_key_t key;
static int key_ok;

static void drop_lists(void *arg)
{
    struct cache *c = arg;
    for (int i = 0; i < NCLASS; i++) {
        while (c->head[i]) {
            union hdr *h = c->head[i];
            UNPOISON(h, HDR + ((size_t)TK_SQLITE_MEM_CLASS_MIN << i));
            c->head[i] = h->next;
            free(h);
        }
        c->n[i] = 0;
    }
    c->keyed = 0;
}

static void make_key(void)
{
    key_ok = pthread_key_create(&key, drop_lists) == 0;
}

/* The class of a block of SIZE usable bytes, SIZE a class's size. */
static int class_of(size_t size)
{
    return __builtin_ctzll(size) - 4;
}

/* N rounded up to a class's size (N <= the largest class), or to 8. */
static size_t round_up(size_t n)
{
    if (n <= TK_SQLITE_MEM_CLASS_MIN)
        return TK_SQLITE_MEM_CLASS_MIN;
    if (n <= TK_SQLITE_MEM_CLASS_MAX)
        return (size_t)1 << (64 - __builtin_clzll(n - 1));
    return (n + 7) & ~(size_t)7;
}

static void *mem_malloc(int n)
{
    size_t size;
    union hdr *h;
    if (n <= 0)
        n = 1; /* SQLite never asks for 0, but a block is a block */
    size = round_up((size_t)n);
    if (size <= TK_SQLITE_MEM_CLASS_MAX) {
        int c = class_of(size);
        if ((h = tc.head[c]) != NULL) {
            UNPOISON(h, HDR + size);
            tc.head[c] = h->next;
            tc.n[c]--;
            h->size = (sqlite3_int64)size;
            return (char *)h + HDR;
        }
    }
    if (!(h = malloc(HDR + size)))
        return NULL;
    h->size = (sqlite3_int64)size;
    return (char *)h + HDR;
}

/* Cache H, of class C, on a thread that has no key set yet: the key
 * makes its lists go with the thread (without one, which make_key failing
 * allows, they stay until the process ends).  Apart so that mem_free's
 * common path calls nothing. */
static __attribute__((noinline)) void push_first(union hdr *h, int c, size_t size)
{
    if (key_ok && pthread_setspecific(key, &tc) == 0)
        tc.keyed = 1;
    h->next = tc.head[c];
    tc.head[c] = h;
    tc.n[c]++;
    POISON(h, HDR + size);
}

static void mem_free(void *p)
{
    union hdr *h;
    size_t size;
    if (!p)
        return;
    h = (union hdr *)((char *)p - HDR);
    size = (size_t)h->size;
    if (size <= TK_SQLITE_MEM_CLASS_MAX) {
        int c = class_of(size);
        if (tc.n[c] < TK_SQLITE_MEM_LIST_MAX) {
            if (!tc.keyed) {
                push_first(h, c, size);
                return;
            }
            h->next = tc.head[c];
            tc.head[c] = h;
            tc.n[c]++;
            POISON(h, HDR + size);
            return;
        }
    }
    free(h);
}

static int mem_size(void *p)
{
    return p ? (int)((union hdr *)((char *)p - HDR))->size : 0;
}

static void *mem_realloc(void *p, int n)
{
    union hdr *h, *nh;
    size_t size, old;
    void *q;
    if (!p)
        return mem_malloc(n);
    if (n <= 0)
        n = 1;
    h = (union hdr *)((char *)p - HDR);
    old = (size_t)h->size;
    size = round_up((size_t)n);
    if (size == old)
        return p;
    if (old > TK_SQLITE_MEM_CLASS_MAX && size > TK_SQLITE_MEM_CLASS_MAX) {
        /* neither is cached: malloc's own realloc, which may grow in
         * place */
        if (!(nh = realloc(h, HDR + size)))
            return NULL;
        nh->size = (sqlite3_int64)size;
        return (char *)nh + HDR;
    }
    if (!(q = mem_malloc(n)))
        return NULL; /* P untouched, as SQLite expects of xRealloc */
    memcpy(q, p, old < size ? old : size);
    mem_free(p);
    return q;
}

static int mem_roundup(int n)
{
    return n <= 0 ? TK_SQLITE_MEM_CLASS_MIN : (int)round_up((size_t)n);
}

static int mem_init(void *app)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    (void)app;
    pthread_once(&once, make_key);
    return SQLITE_OK;
}

static void mem_shutdown(void *app)
{
    (void)app;
}

static const sqlite3_mem_methods methods = {
    mem_malloc, mem_free, mem_realloc, mem_size, mem_roundup, mem_init, mem_shutdown, NULL,
};

const sqlite3_mem_methods *tk_sqlite_mem_methods(void)
{
    return &methods;
}

unsigned tk_sqlite_mem_cached(void)
{
    unsigned n = 0;
    for (int i = 0; i < NCLASS; i++)
        n += tc.n[i];
    return n;
}

void tk_sqlite_mem_release(void)
{
    drop_lists(&tc);
}
