/* notify.c - telling systemd how the daemon is doing (Type=notify).
 *
 * sd_notify() writes to $NOTIFY_SOCKET and does nothing when it is unset,
 * so `tickler run` behaves the same outside systemd.  A build without
 * libsystemd (TK_HAVE_SYSTEMD undefined) keeps these as no-ops; the unit
 * must then say Type=simple. */
#include <time.h>

#ifdef TK_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "cli.h"

void tk_cli_notify_ready(const char *status)
{
#ifdef TK_HAVE_SYSTEMD
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
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
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
               (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
#endif
}

void tk_cli_notify_stopping(void)
{
#ifdef TK_HAVE_SYSTEMD
    sd_notify(0, "STOPPING=1");
#endif
}
