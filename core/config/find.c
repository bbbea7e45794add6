/* find.c - which configuration file a command reads.
 *
 * The order is the one docs/configuration.md promises: -c FILE, then
 * $TICKLER_CONFIG, then ./tickler.ini, then SYSCONFDIR/tickler/tickler.ini
 * (/etc/tickler/tickler.ini for a /usr install, the package's conffile).
 * The working directory comes before /etc so that a test deployment or a
 * second firm on the same machine never picks up the system's file by
 * accident once it has its own. */
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"

#ifndef TK_SYSCONFDIR
#define TK_SYSCONFDIR "/etc"
#endif

const char *tk_config_system_path(void)
{
    return TK_SYSCONFDIR "/tickler/tickler.ini";
}

int tk_config_find(const char *arg, char **out, struct tk_error *err)
{
    const char *env = getenv("TICKLER_CONFIG");
    const char *path;
    *out = NULL;
    if (arg)
        path = arg;
    else if (env && *env)
        path = env;
    else if (access("tickler.ini", F_OK) == 0)
        path = "tickler.ini";
    else if (access(tk_config_system_path(), F_OK) == 0)
        path = tk_config_system_path();
    else
        return tk_error_set(err, TK_EIO,
                            "no configuration: neither ./tickler.ini nor %s exists (give one "
                            "with -c FILE or $TICKLER_CONFIG; etc/tickler.ini is an example)",
                            tk_config_system_path());
    if (!(*out = tk_strdup(path)))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    return 0;
}
