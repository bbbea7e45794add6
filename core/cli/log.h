/*
 * log.h - the daemon's log ([log] target, file, level): one line per event
 * with the time (except under journald, which adds its own), the level and
 * the pid, to standard error, a file, syslog(3) or the journal.  Core lines
 * and plugin lines (host->log) go through the same filter.
 */
#ifndef TK_CLI_LOG_H
#define TK_CLI_LOG_H

#include "config/config.h"

/* Open the log CFG names (borrowed for the call).  A file is opened with
 * O_APPEND, created 0600 whatever the umask, and put on standard error
 * (dup2), so that nothing written there is lost.  Non-zero when it cannot
 * be opened (ERR names the file and why): a startup error. */
int tk_log_open(const struct tk_config *cfg, struct tk_error *err);
/* SIGHUP: open the file again (after a rotation) before replacing the old
 * one; if that fails, the old one is kept and says so.  0 when reopened
 * (or nothing to reopen). */
int tk_log_reopen(void);
/* Write MSG (one line; control characters are escaped) at LEVEL (enum
 * tk_log_level) if [log] level lets it through.  SOURCE: NULL for core, a
 * plugin's name for its lines. */
void tk_log_write(int level, const char *source, const char *msg);
void tk_log_printf(int level, const char *fmt, ...) TK_PRINTF(2, 3);
/* The target's name ("stderr", "file", "syslog", "journal"). */
const char *tk_log_target(void);

#endif
