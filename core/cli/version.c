/* version.c - `tickler -V` / `--version`: what this binary is and what it
 * runs on.  The library versions are read at run time where the library
 * can say (a Debian security update changes them without a rebuild); Lua
 * only has its header's version.  A library linked from its static archive
 * (TK_STATIC_LIBS, packaging/README.md) is listed in "linked_in": its
 * version is the archive's, and an update of it needs a rebuild. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <lua.h>
#include <sqlite3.h>
#ifdef TK_HAVE_POSTGRES
#include <libpq-fe.h>
#endif

#include "cli.h"

#ifndef TK_VERSION
#define TK_VERSION "unknown"
#endif
#ifndef TK_LINKED_IN
#define TK_LINKED_IN ""
#endif

/* libcurl and libpq are not linked into the binary: each brings twenty-odd
 * shared libraries (GnuTLS, Kerberos, LDAP ...) that every command would
 * load and relocate at start (bench/RESULTS.md, update 5).  The smtp plugin
 * and the PostgreSQL driver open them when they are used; --version opens
 * them to ask.  NULL when the library cannot be loaded. */
static void *library_function(const char *lib, const char *name)
{
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    return h ? dlsym(h, name) : NULL; /* kept open: the process ends soon */
}

/* TK_LINKED_IN ("sqlite lua jansson inih", or fewer) as a JSON array. */
static json_t *linked_in(void)
{
    json_t *a = json_array();
    const char *p = TK_LINKED_IN;
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n)
            json_array_append_new(a, json_stringn(p, n));
        p += n;
        p += strspn(p, " ");
    }
    return a;
}

static const char *curl_text(void)
{
    __typeof__(curl_version_info) *fn = NULL;
    *(void **)&fn = library_function("libcurl.so.4", "curl_version_info");
    const curl_version_info_data *v = fn ? fn(CURLVERSION_NOW) : NULL;
    return v && v->version ? v->version : "unknown";
}

#ifdef TK_HAVE_POSTGRES
/* PQlibVersion(): 150004 for 15.4 (10 and later: major * 10000 + minor). */
static void libpq_text(char *buf, size_t size)
{
    __typeof__(PQlibVersion) *fn = NULL;
    *(void **)&fn = library_function("libpq.so.5", "PQlibVersion");
    if (fn) {
        int v = fn();
        snprintf(buf, size, "%d.%d", v / 10000, v % 10000);
    }
}
#endif

void tk_cli_print_version(int json)
{
    char pq[32] = "";
#ifdef TK_HAVE_POSTGRES
    libpq_text(pq, sizeof pq);
#endif
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "version", json_string(TK_VERSION));
        json_object_set_new(o, "abi", json_sprintf("%d.%d", TK_ABI_MAJOR, TK_ABI_MINOR));
        json_object_set_new(o, "sqlite", json_string(sqlite3_libversion()));
        json_object_set_new(o, "libcurl", json_string(curl_text()));
        json_object_set_new(
            o, "lua", json_string(LUA_VERSION_MAJOR "." LUA_VERSION_MINOR "." LUA_VERSION_RELEASE));
        json_object_set_new(o, "jansson", json_string(jansson_version_str()));
        json_object_set_new(o, "libpq", pq[0] ? json_string(pq) : json_null());
        json_object_set_new(o, "linked_in", linked_in());
#ifdef TK_HAVE_SYSTEMD
        json_object_set_new(o, "sd_notify", json_true());
#else
        json_object_set_new(o, "sd_notify", json_false());
#endif
        tk_cli_emit(o);
        return;
    }
    printf("tickler %s (plugin ABI %d.%d)\n", TK_VERSION, TK_ABI_MAJOR, TK_ABI_MINOR);
    printf("SQLite %s, libcurl %s, %s, jansson %s%s%s\n", sqlite3_libversion(), curl_text(),
           LUA_RELEASE, jansson_version_str(), pq[0] ? ", libpq " : "", pq);
}
