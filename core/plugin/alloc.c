/* alloc.c - host->alloc, realloc and free: malloc with a cap per plugin.
 *
 * Each block carries a header with its size, so that free and realloc can
 * give back exactly what alloc counted; the count is per plugin, kept with
 * atomics because a transport allocates on all its connections' threads at
 * once.  An allocation that would take a plugin past [plugins]
 * memory_limit_mb gets NULL, as Lua's allocator hook does for a state
 * (docs/style.md lesson 11), and the first refusal is logged with the plugin's
 * file; the loader adds it to an init failure.  Only what goes through the
 * host is counted: libraries a plugin links (libcurl) allocate on their
 * own. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

/* The header keeps the block aligned for anything malloc's would be. */
union block {
    size_t size;
    max_align_t align;
};
#define HDR sizeof(union block)

static struct tk_plugin *owner(const struct tk_host *h)
{
    return h ? h->host_data : NULL;
}

/* Count N more bytes for P; 0, or -1 (nothing counted) when over its cap. */
static int take(struct tk_plugin *p, size_t n)
{
    size_t used = __atomic_load_n(&p->mem_used, __ATOMIC_RELAXED);
    do {
        if (n > p->mem_limit || used > p->mem_limit - n) {
            if (__atomic_fetch_add(&p->mem_refused, 1, __ATOMIC_RELAXED) == 0)
                tk_plugin_log(p, TK_LOG_WARN,
                              "plugin %s: allocation of %zu bytes refused: it holds %zu bytes, "
                              "[plugins] memory_limit_mb is %zu",
                              p->path ? p->path : "?", n, used, p->mem_limit >> 20);
            return -1;
        }
    } while (!__atomic_compare_exchange_n(&p->mem_used, &used, used + n, 1, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    return 0;
}

static void give(struct tk_plugin *p, size_t n)
{
    __atomic_sub_fetch(&p->mem_used, n, __ATOMIC_RELAXED);
}

void *tk_plugin_alloc(const struct tk_host *h, size_t n)
{
    struct tk_plugin *p = owner(h);
    union block *b;
    if (!p)
        return NULL;
    if (n == 0)
        n = 1; /* malloc(0) may return NULL, which a plugin reads as failure */
    if (n > SIZE_MAX - HDR || take(p, n))
        return NULL;
    if (!(b = malloc(HDR + n))) {
        give(p, n);
        return NULL;
    }
    b->size = n;
    return (char *)b + HDR;
}

void tk_plugin_free(const struct tk_host *h, void *ptr)
{
    struct tk_plugin *p = owner(h);
    union block *b;
    if (!ptr || !p)
        return;
    b = (union block *)((char *)ptr - HDR);
    give(p, b->size);
    free(b);
}

void *tk_plugin_realloc(const struct tk_host *h, void *ptr, size_t n)
{
    struct tk_plugin *p = owner(h);
    union block *b, *nb;
    size_t old;
    if (!ptr)
        return tk_plugin_alloc(h, n);
    if (!p)
        return NULL;
    if (n == 0)
        n = 1; /* keep the block: realloc(p, 0) freeing it invites a double free */
    b = (union block *)((char *)ptr - HDR);
    old = b->size;
    if (n > SIZE_MAX - HDR || (n > old && take(p, n - old)))
        return NULL; /* PTR is untouched, as with realloc */
    if (!(nb = realloc(b, HDR + n))) {
        if (n > old)
            give(p, n - old);
        return NULL;
    }
    if (n < old)
        give(p, old - n);
    nb->size = n;
    return (char *)nb + HDR;
}
