/*
 * curlfn.h - libcurl opened at its first use (dlopen of libcurl.so.4)
 * rather than linked: linked, it brings 25 libraries into every tickler
 * command and their symbol lookups were 12M of the 32M instructions of
 * `tickler show 1` (bench/RESULTS.md, update 10).  Webhook delivery and the
 * inbound mailbox use it; the smtp plugin has its own (curlfn.c there).
 * Thread-safe.
 */
#ifndef TK_UTIL_CURLFN_H
#define TK_UTIL_CURLFN_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

/* The functions used, each through a pointer of its declared type, so the
 * compiler checks every call as if it were linked. */
struct tk_curl {
    __typeof__(curl_easy_init) *init;
    __typeof__(curl_easy_setopt) *setopt;
    __typeof__(curl_easy_perform) *perform;
    __typeof__(curl_easy_getinfo) *getinfo;
    __typeof__(curl_easy_cleanup) *cleanup;
    __typeof__(curl_easy_strerror) *strerror;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
};

/* libcurl, loaded and globally initialised once per process (the handle
 * stays open); NULL with *WHY set to the reason ("cannot load
 * libcurl.so.4: ...") when it cannot be. */
const struct tk_curl *tk_curl(const char **why);

#endif
