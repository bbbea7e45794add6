/* idnfn.c - libidn2 opened at first use (see idnfn.h). */
#define _GNU_SOURCE /* secure_getenv */
#include "idnfn.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define IDN_LIBRARY "libidn2.so.0"

static struct {
    __typeof__(idn2_to_ascii_8z) *to_ascii_8z;
    __typeof__(idn2_strerror) *error_text;
} idn;
static char idn_failed[256]; /* why libidn2 could not be loaded */
static pthread_once_t idn_once = PTHREAD_ONCE_INIT;

static void idn_open(void)
{
    /* Test-only knob (idnfn.h): the file opened in place of libidn2, so
     * that the tests can make it unloadable for one process.  Ignored by
     * secure_getenv in a set-user-ID process, as LD_LIBRARY_PATH is. */
    const char *file = secure_getenv("TK_TEST_IDN_LIBRARY");
    void *h = dlopen(file && *file ? file : IDN_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(idn_failed, sizeof idn_failed, "cannot load %s: %s", IDN_LIBRARY, dlerror());
        return;
    }
    *(void **)&idn.to_ascii_8z = dlsym(h, "idn2_to_ascii_8z");
    *(void **)&idn.error_text = dlsym(h, "idn2_strerror");
    if (!idn.to_ascii_8z || !idn.error_text)
        snprintf(idn_failed, sizeof idn_failed, "%s has no idn2_to_ascii_8z", IDN_LIBRARY);
}

const char *tk_idn_load(void)
{
    pthread_once(&idn_once, idn_open);
    return idn_failed[0] ? idn_failed : NULL;
}

int tk_idn_to_ascii(const char *domain, char **out)
{
    return idn.to_ascii_8z(domain, out, TK_IDN_FLAGS);
}

const char *tk_idn_strerror(int rc)
{
    return idn.error_text(rc);
}
