/* array.c - growable arrays: the one place that doubles a capacity.
 *
 * Every list the engine collects (ids of a bulk command, accounts that
 * share an address, digest members, preview entries) grows the same way:
 * double from a small first size when full, leave the array untouched when
 * memory runs out.  tk_array_grow does that for an array of any element
 * type; struct tk_ids is the common case of 64-bit ids. */
#include <stdlib.h>
#include <string.h>

#include "util.h"

int tk_array_grow(void *pv, size_t *cap, size_t need, size_t size, size_t first)
{
    void *v, *nv;
    size_t ncap = *cap ? *cap : first;
    if (need <= *cap)
        return 0;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return TK_ENOMEM;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / size)
        return TK_ENOMEM;
    memcpy(&v, pv, sizeof v);
    if (!(nv = realloc(v, ncap * size)))
        return TK_ENOMEM;
    memcpy(pv, &nv, sizeof nv);
    *cap = ncap;
    return 0;
}

int tk_ids_push(struct tk_ids *ids, int64_t id)
{
    if (ids->n == ids->cap && tk_array_grow(&ids->v, &ids->cap, ids->n + 1, sizeof *ids->v, 16))
        return TK_ENOMEM;
    ids->v[ids->n++] = id;
    return 0;
}

void tk_ids_free(struct tk_ids *ids)
{
    free(ids->v);
    ids->v = NULL;
    ids->n = ids->cap = 0;
}
