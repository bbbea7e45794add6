/* init.c - GMime and libcurl set-up, once per process.
 *
 * g_mime_init() is not thread-safe and must run before any other GMime
 * call; pthread_once makes the first caller do it while others wait.  It is
 * never undone: g_mime_shutdown() would free what another thread may still
 * use, and GLib's type system cannot be torn down anyway.  Its one-time
 * allocations (types, charset tables, the iconv cache) stay reachable
 * until exit, which LeakSanitizer does not report; tests/lsan.supp lists
 * the few GLib keeps only through thread-local or hashed pointers. */
#include <pthread.h>

#include <curl/curl.h>

#include "internal.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static GMimeParserOptions *options;

static void init_once(void)
{
    /* Text in headers without an encoded word and in bodies without a
     * charset is tried as UTF-8, then as Windows-1252 (what Dutch and
     * English mail programs send when they send neither). */
    static const char *fallback[] = {"UTF-8", "windows-1252", NULL};
    g_mime_init();
    options = g_mime_parser_options_new();
    g_mime_parser_options_set_fallback_charsets(options, fallback);
    /* Reference-counted by curl: balanced by nothing, like GMime (the
     * smtp plugin's own init/cleanup pairs keep their count). */
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void tk_inbound_init(void)
{
    pthread_once(&once, init_once);
}

GMimeParserOptions *tk_inb_options(void)
{
    tk_inbound_init();
    return options;
}

const char *tk_inbound_class_name(enum tk_inbound_class c)
{
    switch (c) {
    case TK_INBOUND_HARD_BOUNCE:
        return "hard-bounce";
    case TK_INBOUND_SOFT_BOUNCE:
        return "soft-bounce";
    case TK_INBOUND_AUTO_REPLY:
        return "auto-reply";
    case TK_INBOUND_REPLY:
        return "reply";
    case TK_INBOUND_UNMATCHED:
        break;
    }
    return "unmatched";
}
