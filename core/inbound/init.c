/* init.c - GMime set-up, once per process (libcurl: util/curlfn.c).
 *
 * g_mime_init() is not thread-safe and must run before any other GMime
 * call; pthread_once makes the first caller do it while others wait.  It is
 * never undone: g_mime_shutdown() would free what another thread may still
 * use, and GLib's type system cannot be torn down anyway.  Its one-time
 * allocations (types, charset tables, the iconv cache) stay reachable from
 * static pointers until exit, which LeakSanitizer does not count as leaks:
 * test_inbound, tk_inbound_driver and fuzz_inbound run leak-free under
 * ASan with detect_leaks=1 and no suppression file.  Should a GLib update
 * change that, add a suppression naming the GLib function only (e.g.
 * "leak:g_type_register_static"), never a tickler one.
 */
#include <pthread.h>

#include "internal.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static GMimeParserOptions *options;

/* GObject classes are built on first use, under GLib's own locks.  Built
 * here instead, inside pthread_once, every class a parse can instantiate is
 * complete before any thread parses, and the hand-over is one that every
 * tool (ThreadSanitizer included) can see.  The references are kept. */
static GType (*const classes[])(void) = {
    g_mime_object_get_type,
    g_mime_part_get_type,
    g_mime_text_part_get_type,
    g_mime_multipart_get_type,
    g_mime_multipart_signed_get_type,
    g_mime_multipart_encrypted_get_type,
    g_mime_message_get_type,
    g_mime_message_part_get_type,
    g_mime_message_partial_get_type,
    g_mime_application_pkcs7_mime_get_type,
    g_mime_data_wrapper_get_type,
    g_mime_content_type_get_type,
    g_mime_content_disposition_get_type,
    g_mime_header_get_type,
    g_mime_header_list_get_type,
    g_mime_param_get_type,
    g_mime_param_list_get_type,
    g_mime_parser_get_type,
    g_mime_stream_get_type,
    g_mime_stream_mem_get_type,
    g_mime_stream_filter_get_type,
    g_mime_stream_null_get_type,
    g_mime_stream_cat_get_type,
    g_mime_filter_get_type,
    g_mime_filter_basic_get_type,
    g_mime_filter_charset_get_type,
    g_mime_filter_dos2unix_get_type,
    g_mime_filter_unix2dos_get_type,
    g_mime_filter_from_get_type,
    g_mime_filter_strip_get_type,
    g_mime_filter_best_get_type,
    g_mime_filter_checksum_get_type,
    g_mime_filter_windows_get_type,
    g_mime_filter_yenc_get_type,
    internet_address_get_type,
    internet_address_list_get_type,
    internet_address_mailbox_get_type,
    internet_address_group_get_type,
};

static void init_once(void)
{
    /* Text in headers without an encoded word and in bodies without a
     * charset is tried as UTF-8, then as Windows-1252 (what Dutch and
     * English mail programs send when they send neither). */
    static const char *fallback[] = {"UTF-8", "windows-1252", NULL};
    g_mime_init();
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        GType t = classes[i]();
        if (G_TYPE_IS_CLASSED(t))
            g_type_class_ref(t);
    }
    options = g_mime_parser_options_new();
    g_mime_parser_options_set_fallback_charsets(options, fallback);
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
