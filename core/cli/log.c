/* log.c - the daemon's log (log.h).
 *
 * A file target is put on descriptor 2 with dup2, so that a stray write to
 * stderr (a library's, or a crash report) lands in it too.  A reopen opens
 * the new file first and only then replaces descriptor 2: if the open
 * fails (the folder gone, a permission changed by logrotate) the old file
 * stays in use and the failure is written into it, instead of losing the
 * log (issue 11 item 6).  Lines are written with one write(2) each, under
 * a mutex: worker threads log through plugins (host->log). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "plugin/plugin.h"

enum target { T_STDERR, T_FILE, T_SYSLOG, T_JOURNAL };

static struct {
    enum target target;
    int level;
    char *file;
    int (*journal_send)(const char *format, ...);
    pthread_mutex_t mu;
} lg = {T_STDERR, TK_LOG_INFO, NULL, NULL, PTHREAD_MUTEX_INITIALIZER};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* O_APPEND, created 0600 whatever the umask; an existing file keeps its
 * mode (an admin may have given it to a group: 0640). */
static int open_file(const char *path, struct tk_error *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd >= 0) {
        if (fchmod(fd, 0600) != 0) {
            tk_error_set(err, TK_EIO, "log file %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        return fd;
    }
    if (errno == EEXIST)
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        tk_error_set(err, TK_EIO, "cannot open log file %s: %s", path, strerror(errno));
    return fd;
}

static int put_on_stderr(int fd, struct tk_error *err)
{
    if (dup2(fd, STDERR_FILENO) < 0) {
        int e = errno;
        close(fd);
        return tk_error_set(err, TK_EIO, "log: dup2: %s", strerror(e));
    }
    close(fd);
    return 0;
}

static int open_journal(struct tk_error *err)
{
#ifdef TK_HAVE_SYSTEMD
    void *h = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
    if (h)
        *(void **)&lg.journal_send = dlsym(h, "sd_journal_send");
    if (!lg.journal_send)
        return tk_error_set(err, TK_EIO, "[log] target = journal: cannot load libsystemd.so.0: %s",
                            dlerror());
    return 0;
#else
    return tk_error_set(err, TK_EINVAL,
                        "[log] target = journal: this tickler was built without libsystemd");
#endif
}

static void plugin_line(void *u, int level, const char *plugin, const char *msg)
{
    (void)u;
    tk_log_write(level, plugin, msg);
}

int tk_log_open(const struct tk_config *cfg, struct tk_error *err)
{
    const char *t = cfg->log_target ? cfg->log_target : cfg->log_file ? "file" : "stderr";
    int level = tk_log_level_parse(cfg->log_level);
    lg.level = level >= 0 ? level : TK_LOG_INFO;
    free(lg.file);
    lg.file = NULL;
    if (strcmp(t, "file") == 0) {
        int fd;
        if (!(lg.file = tk_strdup(cfg->log_file)))
            return tk_error_set(err, TK_ENOMEM, "out of memory");
        if ((fd = open_file(lg.file, err)) < 0 || put_on_stderr(fd, err))
            return err ? err->code : TK_EIO;
        /* a plain file would be fully buffered: a crash would lose the
         * last lines, the ones that matter */
        setvbuf(stderr, NULL, _IOLBF, 0);
        lg.target = T_FILE;
    } else if (strcmp(t, "syslog") == 0) {
        openlog("tickler", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        lg.target = T_SYSLOG;
    } else if (strcmp(t, "journal") == 0) {
        int rc = open_journal(err);
        if (rc)
            return rc;
        lg.target = T_JOURNAL;
    } else {
        lg.target = T_STDERR;
    }
    tk_plugin_log_configure(lg.level, plugin_line, NULL);
    return 0;
}

int tk_log_reopen(void)
{
    struct tk_error err = {0};
    int fd;
    if (lg.target != T_FILE)
        return 0;
    if ((fd = open_file(lg.file, &err)) < 0 || put_on_stderr(fd, &err)) {
        tk_log_printf(TK_LOG_ERROR, "SIGHUP: %s; going on with the log file open before", err.msg);
        return -1;
    }
    return 0;
}

const char *tk_log_target(void)
{
    static const char *const names[] = {"stderr", "file", "syslog", "journal"};
    return names[lg.target];
}

static int syslog_priority(int level)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    return prio[level];
}

void tk_log_write(int level, const char *source, const char *msg)
{
    struct tk_buf text = {0}, line = {0};
    char when[32];
    if (level < TK_LOG_ERROR)
        level = TK_LOG_ERROR;
    if (level > TK_LOG_DEBUG)
        level = TK_LOG_DEBUG;
    if (level > lg.level)
        return;
    if (tk_cli_escape(&text, msg) != 0)
        goto out;
    pthread_mutex_lock(&lg.mu);
    switch (lg.target) {
    case T_SYSLOG:
        syslog(syslog_priority(level), "%s%s%s", source ? source : "", source ? ": " : "",
               text.data ? text.data : "");
        break;
    case T_JOURNAL:
        lg.journal_send("MESSAGE=%s%s%s", source ? source : "", source ? ": " : "",
                        text.data ? text.data : "", "PRIORITY=%d", syslog_priority(level),
                        "SYSLOG_IDENTIFIER=tickler", NULL);
        break;
    default:
        if (tk_buf_printf(&line, "%s %s tickler[%ld]: %s%s%s\n",
                          tk_time_format(tk_time_real(), when, sizeof when), level_names[level],
                          (long)getpid(), source ? source : "", source ? ": " : "",
                          text.data ? text.data : "") == 0) {
            fflush(stderr);
            ssize_t w = write(STDERR_FILENO, line.data, line.len);
            (void)w; /* nowhere left to report a failed log write */
        }
        break;
    }
    pthread_mutex_unlock(&lg.mu);
out:
    tk_buf_free(&text);
    tk_buf_free(&line);
}

void tk_log_printf(int level, const char *fmt, ...)
{
    char msg[2 * TK_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tk_log_write(level, NULL, msg);
}
