/* path.c - folders found relative to the running binary, so that the build
 * tree (bin/, lib/tickler/plugins/) and an installed prefix work alike, and
 * the default plugin search path. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"

/* Set by the build: CMAKE_INSTALL_FULL_SYSCONFDIR (/etc for a /usr
 * install, /usr/local/etc for /usr/local). */
#ifndef TK_SYSCONFDIR
#define TK_SYSCONFDIR "/etc"
#endif

char *tk_path_beside_binary(const char *rel)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash;
    if (n <= 0 || !rel)
        return NULL;
    exe[n] = '\0';
    /* PREFIX/bin/tickler -> PREFIX: drop the file, then bin/. */
    for (int i = 0; i < 2; i++) {
        slash = strrchr(exe, '/');
        if (!slash)
            return NULL;
        *slash = '\0';
    }
    return tk_strprintf("%s/%s", exe[0] ? exe : "", rel);
}

char *tk_plugin_default_dir(void)
{
    return tk_path_beside_binary("lib/tickler/plugins");
}

/* The package's folder first: a plugin dropped into the local folder
 * cannot silently replace a packaged one (that takes allow_override), and
 * a package upgrade never touches the local folder. */
char *tk_plugin_default_path(void)
{
    char *dir = tk_plugin_default_dir(), *path;
    if (!dir)
        return NULL;
    path = tk_strprintf("%s:%s/tickler/plugins", dir, TK_SYSCONFDIR);
    free(dir);
    return path;
}
