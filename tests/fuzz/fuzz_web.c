/* fuzz_web.c - the staff console's parser and escapers (core/web): the
 * input is a form body (or query string) as a browser or an attacker
 * sends it.  Whatever tk_web_form_parse accepts, every name and value
 * escaped for HTML holds no raw < > " ' or &-less entity start, is valid
 * UTF-8 with no control characters but tab and newline; escaped as a URL
 * component it holds only unreserved bytes and %XX; a link target the
 * checker accepts is a site path or an http(s) URL without spaces or
 * controls.  A refused body gets a one-line reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"

static void check_html(const char *s)
{
    struct tk_buf b = {0};
    if (tk_web_html(&b, s))
        abort();
    for (size_t i = 0; i < b.len; i++) {
        unsigned char c = (unsigned char)b.data[i];
        if (c == '<' || c == '>' || c == '"' || c == '\'')
            abort();
        if (c < 0x20 && c != '\t' && c != '\n')
            abort();
        if (c == '&' && strncmp(b.data + i, "&amp;", 5) && strncmp(b.data + i, "&lt;", 4) &&
            strncmp(b.data + i, "&gt;", 4) && strncmp(b.data + i, "&quot;", 6) &&
            strncmp(b.data + i, "&#39;", 5))
            abort();
    }
    if (b.len && !tk_utf8_valid(b.data, b.len))
        abort();
    tk_buf_free(&b);
}

static void check_url(const char *s)
{
    struct tk_buf b = {0};
    if (tk_web_url(&b, s))
        abort();
    for (size_t i = 0; i < b.len; i++) {
        char c = b.data[i];
        if (c == '%') {
            if (i + 2 >= b.len)
                abort();
            i += 2;
            continue;
        }
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '~'))
            abort();
    }
    tk_buf_free(&b);
    if (tk_web_url_safe(s)) {
        if (!(s[0] == '/' && s[1] != '/') && strncmp(s, "http://", 7) && strncmp(s, "https://", 8))
            abort();
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
            if (*p <= 0x20 || *p == 0x7f)
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tk_kv kv = {0};
    struct tk_error err = {0};
    if (tk_web_form_parse((const char *)data, size, &kv, &err) == 0) {
        for (size_t i = 0; i < kv.n; i++) {
            check_html(kv.keys[i]);
            check_html(kv.vals[i]);
            check_url(kv.vals[i]);
            if (strlen(kv.vals[i]) == TK_WEB_CSRF_LEN &&
                tk_web_csrf_ok("0123456789abcdef0123456789abcdef", kv.vals[i])) {
                char want[TK_WEB_CSRF_LEN + 1];
                tk_web_csrf("0123456789abcdef0123456789abcdef", want);
                if (strcmp(want, kv.vals[i]))
                    abort();
            }
        }
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    tk_kv_free(&kv);
    return 0;
}
