/* notify.c - telling systemd how the daemon is doing (Type=notify).
 *
 * sd_notify() writes to $NOTIFY_SOCKET and does nothing when it is unset,
 * so `tickler run` behaves the same outside systemd.  A build without
 * libsystemd (TK_HAVE_SYSTEMD undefined) keeps these as no-ops; the unit
 * must then say Type=simple. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef TK_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "cli.h"

#ifdef TK_HAVE_SYSTEMD
/* libsystemd is opened only where there is someone to tell
 * ($NOTIFY_SOCKET set): linked, it brought six more libraries (libgcrypt,
 * libzstd, liblzma ...) to the start of every command. */
static void notify(const char *text)
{
    static __typeof__(sd_notify) *fn;
    static int tried;
    if (!getenv("NOTIFY_SOCKET"))
        return;
    if (!tried) {
        void *h = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
        tried = 1;
        if (h)
            *(void **)&fn = dlsym(h, "sd_notify");
    }
    if (fn)
        fn(0, text);
}
#endif

void tk_cli_notify_ready(const char *status)
{
#ifdef TK_HAVE_SYSTEMD
    char text[512];
    snprintf(text, sizeof text, "READY=1\nSTATUS=%s", status);
    notify(text);
#else
    (void)status;
#endif
}

void tk_cli_notify_reloading(void)
{
#ifdef TK_HAVE_SYSTEMD
    /* systemd 253 and later want the reload's start time with RELOADING=1
     * (Type=notify-reload); earlier ones ignore it. */
    struct timespec ts;
    char text[96];
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(text, sizeof text, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    notify(text);
#endif
}

void tk_cli_notify_stopping(void)
{
#ifdef TK_HAVE_SYSTEMD
    notify("STOPPING=1");
#endif
}
