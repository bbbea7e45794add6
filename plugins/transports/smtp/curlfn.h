/*
 * curlfn.h - libcurl, opened when the smtp transport starts, not linked.
 *
 * Internal to the smtp transport plugin.  Linked, libcurl brought its 22
 * libraries (GnuTLS, Kerberos, LDAP ...) into every tickler command that
 * loads the plugin folder, whichever transport the configuration names:
 * 20M of the 23M instructions of `tickler show 1` on a file-transport
 * deployment (bench/RESULTS.md, update 5).  The plugin opens it
 * (tk_curl_load, smtp.c need_curl) only for the paths that use it: TLS,
 * AUTH, pipelining = off and `tickler check`'s probe; the plain path
 * (wire.c) never does.  Every libcurl call goes through a pointer of the
 * function's own declared type (the macros below), so the compiler checks
 * each call as before.  The build defines CURL_DISABLE_TYPECHECK: curl's type-checking
 * macros would hide the names redefined here.
 */
#ifndef TK_SMTP_CURLFN_H
#define TK_SMTP_CURLFN_H

#include <curl/curl.h>
#include <stddef.h>

#define TK_CURL_FUNCS(X)                                                                           \
    X(curl_easy_cleanup)                                                                           \
    X(curl_easy_getinfo)                                                                           \
    X(curl_easy_init)                                                                              \
    X(curl_easy_perform)                                                                           \
    X(curl_easy_setopt)                                                                            \
    X(curl_easy_strerror)                                                                          \
    X(curl_free)                                                                                   \
    X(curl_global_cleanup)                                                                         \
    X(curl_global_init)                                                                            \
    X(curl_slist_append)                                                                           \
    X(curl_slist_free_all)                                                                         \
    X(curl_url)                                                                                    \
    X(curl_url_cleanup)                                                                            \
    X(curl_url_get)                                                                                \
    X(curl_url_set)                                                                                \
    X(curl_url_strerror)

struct tk_curl_fns {
#define TK_CURL_POINTER(f) __typeof__(f) *f;
    TK_CURL_FUNCS(TK_CURL_POINTER)
#undef TK_CURL_POINTER
};
extern struct tk_curl_fns tk_curl;

/* Open libcurl.so.4 once; 0 when every function is there, else non-zero
 * with WHY (SIZE bytes) saying what is missing.  Call from init (the main
 * thread), before curl_global_init. */
int tk_curl_load(char *why, size_t size);

/* curl.h's own three-argument checks of these two go: the pointers take
 * their place */
#undef curl_easy_getinfo
#undef curl_easy_setopt
#define curl_easy_cleanup(...) (*tk_curl.curl_easy_cleanup)(__VA_ARGS__)
#define curl_easy_getinfo(...) (*tk_curl.curl_easy_getinfo)(__VA_ARGS__)
#define curl_easy_init(...) (*tk_curl.curl_easy_init)(__VA_ARGS__)
#define curl_easy_perform(...) (*tk_curl.curl_easy_perform)(__VA_ARGS__)
#define curl_easy_setopt(...) (*tk_curl.curl_easy_setopt)(__VA_ARGS__)
#define curl_easy_strerror(...) (*tk_curl.curl_easy_strerror)(__VA_ARGS__)
#define curl_free(...) (*tk_curl.curl_free)(__VA_ARGS__)
#define curl_global_cleanup(...) (*tk_curl.curl_global_cleanup)(__VA_ARGS__)
#define curl_global_init(...) (*tk_curl.curl_global_init)(__VA_ARGS__)
#define curl_slist_append(...) (*tk_curl.curl_slist_append)(__VA_ARGS__)
#define curl_slist_free_all(...) (*tk_curl.curl_slist_free_all)(__VA_ARGS__)
#define curl_url(...) (*tk_curl.curl_url)(__VA_ARGS__)
#define curl_url_cleanup(...) (*tk_curl.curl_url_cleanup)(__VA_ARGS__)
#define curl_url_get(...) (*tk_curl.curl_url_get)(__VA_ARGS__)
#define curl_url_set(...) (*tk_curl.curl_url_set)(__VA_ARGS__)
#define curl_url_strerror(...) (*tk_curl.curl_url_strerror)(__VA_ARGS__)

#endif
