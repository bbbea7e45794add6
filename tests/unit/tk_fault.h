/*
 * tk_fault.h - allocation fault injection for the unit tests linked with
 * -Wl,--wrap=malloc,realloc,calloc,strdup (tests named test_fault_alloc*,
 * see tests/CMakeLists.txt).  Include it in exactly one file of the test:
 * it defines the __wrap_* functions.
 *
 *   countdown = N;   the Nth allocation from now fails (0: never)
 *   allocs           allocations seen while armed
 *   pause_faults() / resume_faults(saved)   for the test's own bookkeeping
 *
 * Only calls from objects linked into the executable (the test and tkcore)
 * are counted; allocations inside shared libraries (libc, sqlite, plugins)
 * are not.
 */
#ifndef TK_FAULT_H
#define TK_FAULT_H

#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_calloc(size_t a, size_t b);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_calloc(size_t a, size_t b);
char *__wrap_strdup(const char *s);

static long countdown; /* > 0: the allocation that brings it to 0 fails */
static long allocs;    /* allocations seen while armed */

/* unused in some tests */
static long pause_faults(void) __attribute__((unused));
static void resume_faults(long saved) __attribute__((unused));

static int fail_now(void)
{
    if (countdown <= 0)
        return 0;
    allocs++;
    return --countdown == 0;
}

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}
void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}
void *__wrap_calloc(size_t a, size_t b)
{
    return fail_now() ? NULL : __real_calloc(a, b);
}
char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}

/* The test's own bookkeeping (dumping a result, taking a snapshot) is not
 * under test: it runs with the countdown paused. */
static long pause_faults(void)
{
    long saved = countdown;
    countdown = 0;
    return saved;
}

static void resume_faults(long saved)
{
    countdown = saved;
}

#endif
