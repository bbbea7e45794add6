/* curlfn.c - opening libcurl on demand (see curlfn.h). */
#include "curlfn.h"

#include <dlfcn.h>
#include <stdio.h>

struct tk_curl_fns tk_curl;

int tk_curl_load(char *why, size_t size)
{
    /* init runs on the main thread only (transport.h), and a second init
     * finds the table filled: no lock needed.  The handle stays open for
     * the life of the process, as a linked library would. */
    if (tk_curl.curl_url_strerror)
        return 0;
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, size, "cannot load libcurl.so.4: %s", dlerror());
        return -1;
    }
    struct tk_curl_fns t;
#define TK_CURL_RESOLVE(f)                                                                         \
    if (!(*(void **)&t.f = dlsym(h, #f))) {                                                        \
        snprintf(why, size, "libcurl.so.4 has no %s", #f);                                         \
        return -1;                                                                                 \
    }
    TK_CURL_FUNCS(TK_CURL_RESOLVE)
#undef TK_CURL_RESOLVE
    tk_curl = t;
    return 0;
}
