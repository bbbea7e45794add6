/*
 * assets.c - the vendored CSS and JS (core/web/static/), compiled into the
 * binary (the build turns them into web_assets.h), so that the console
 * needs no file at run time and no build step of its own.
 */
#include <string.h>

#include "web.h"
#include "web_assets.h"

const char *tk_web_asset(const char *name, size_t *len, const char **content_type)
{
    if (name && strcmp(name, "console.css") == 0) {
        *len = sizeof tk_web_console_css - 1;
        *content_type = "text/css; charset=utf-8";
        return tk_web_console_css;
    }
    if (name && strcmp(name, "console.js") == 0) {
        *len = sizeof tk_web_console_js - 1;
        *content_type = "text/javascript; charset=utf-8";
        return tk_web_console_js;
    }
    return NULL;
}
