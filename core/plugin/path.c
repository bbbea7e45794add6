/* path.c - folders found relative to the running binary, so that the build
 * tree (bin/, lib/tickler/plugins/) and an installed prefix work alike. */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"

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
