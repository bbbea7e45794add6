/* curlfn.c - libcurl through dlopen (see curlfn.h). */
#include "util/curlfn.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static struct tk_curl cu;
static int loaded;
static char why_text[200];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    __typeof__(curl_global_init) *global_init = NULL;
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why_text, sizeof why_text, "cannot load libcurl.so.4: %s", dlerror());
        return;
    }
#define SYM(field, name)                                                                           \
    if (!(*(void **)&(field) = dlsym(h, name))) {                                                  \
        snprintf(why_text, sizeof why_text, "libcurl.so.4 has no %s", name);                       \
        return;                                                                                    \
    }
    SYM(cu.init, "curl_easy_init")
    SYM(cu.setopt, "curl_easy_setopt")
    SYM(cu.perform, "curl_easy_perform")
    SYM(cu.getinfo, "curl_easy_getinfo")
    SYM(cu.cleanup, "curl_easy_cleanup")
    SYM(cu.strerror, "curl_easy_strerror")
    SYM(cu.slist_append, "curl_slist_append")
    SYM(cu.slist_free_all, "curl_slist_free_all")
    SYM(global_init, "curl_global_init")
#undef SYM
    /* once, before any handle, on whichever thread gets here first (under
     * pthread_once): libcurl asks for that; reference-counted by curl and
     * balanced by nothing (the smtp plugin's own init/cleanup pairs keep
     * their count) */
    if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(why_text, sizeof why_text, "libcurl: global initialisation failed");
        return;
    }
    loaded = 1;
}

const struct tk_curl *tk_curl(const char **why)
{
    pthread_once(&once, load);
    if (!loaded) {
        if (why)
            *why = why_text;
        return NULL;
    }
    return &cu;
}
