/* perms.c - who may have written the code we are about to run.
 *
 * A plugin runs with the daemon's rights, so whoever can change a plugin
 * file, its folder, or any folder above it (by renaming a parent away and
 * putting their own in its place) owns the daemon.  The rule is sshd's
 * StrictModes: every folder from the plugins folder up to / and the file
 * itself belong to root or to the user tickler runs as, and group and
 * others cannot write to them.
 *
 * One exception, above the plugins folder only: a sticky folder (/tmp,
 * mode 1777) may be writable by others, because the sticky bit keeps them
 * from renaming or removing what they do not own, so a folder of ours in it
 * cannot be replaced.  The plugins folder itself never gets the exception:
 * others could still drop a new .so into it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin.h"

static int owner_ok(const struct stat *st)
{
    return st->st_uid == 0 || st->st_uid == geteuid();
}

static int folder_refused(struct tk_error *err, const char *dir, const char *fmt, ...)
    TK_PRINTF(3, 4);
static int folder_refused(struct tk_error *err, const char *dir, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tk_error_setv(err, TK_ERR, fmt, ap);
    va_end(ap);
    tk_error_prefix(err, "plugin folder %s: refused", dir);
    return TK_ERR;
}

/* WHAT names the folder in the message: "it" for DIR itself. */
static int folder_ok(const struct stat *st, int above, const char *what, const char *dir,
                     struct tk_error *err)
{
    if (!owner_ok(st))
        return folder_refused(err, dir, "%s is owned by uid %u, neither root nor the running user",
                              what, (unsigned)st->st_uid);
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(above && (st->st_mode & S_ISVTX)))
        return folder_refused(err, dir, "%s is writable by group or others (mode %04o)", what,
                              (unsigned)(st->st_mode & 07777));
    return 0;
}

int tk_plugin_check_folder(const char *dir, struct tk_error *err)
{
    char *real = realpath(dir, NULL), *slash;
    struct stat st;
    int rc = 0;

    if (!real)
        return tk_error_set(err, errno == ENOMEM ? TK_ENOMEM : TK_EIO,
                            "cannot open plugins folder %s: %s", dir, strerror(errno));
    if (stat(real, &st) != 0)
        rc = tk_error_set(err, TK_EIO, "cannot open plugins folder %s: %s", dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        rc = tk_error_set(err, TK_EIO, "cannot open plugins folder %s: not a folder", dir);
    else
        rc = folder_ok(&st, 0, "it", dir, err);
    /* realpath() resolved every link, so walking up the text walks the
     * folders that are really crossed. */
    while (!rc && (slash = strrchr(real, '/')) != NULL) {
        char what[PATH_MAX + 16];
        if (slash == real) {
            if (real[1] == '\0')
                break;
            real[1] = '\0'; /* the root itself, last */
        } else {
            *slash = '\0';
        }
        if (stat(real, &st) != 0) {
            rc = tk_error_set(err, TK_EIO, "cannot open plugins folder %s: %s: %s", dir, real,
                              strerror(errno));
            break;
        }
        snprintf(what, sizeof what, "%s above it", real);
        rc = folder_ok(&st, 1, what, dir, err);
    }
    free(real);
    return rc;
}

static int file_refused(struct tk_error *err, const char *path, const char *fmt, ...)
    TK_PRINTF(3, 4);
static int file_refused(struct tk_error *err, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tk_error_setv(err, TK_ERR, fmt, ap);
    va_end(ap);
    tk_error_prefix(err, "plugin %s: refused", path);
    return TK_ERR;
}

int tk_plugin_open_file(int dirfd, const char *name, const char *path, int *out,
                        struct tk_error *err)
{
    struct stat st;
    return tk_plugin_open_file_stat(dirfd, name, path, out, &st, err);
}

int tk_plugin_open_file_stat(int dirfd, const char *name, const char *path, int *out,
                             struct stat *stp, struct tk_error *err)
{
    struct stat st;
    /* O_NOFOLLOW: a link could be pointed elsewhere after the check, so only
     * real files load; O_NONBLOCK: a FIFO named x.so must not hang us. */
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    *out = -1;
    if (fd < 0) {
        if (errno == ELOOP)
            return file_refused(err, path,
                                "not a regular file (a symbolic link): copy the file "
                                "into the folder instead");
        return file_refused(err, path, "cannot open: %s", strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        close(fd);
        return file_refused(err, path, "cannot stat: %s", strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return file_refused(err, path, "not a regular file");
    }
    if (!owner_ok(&st)) {
        close(fd);
        return file_refused(err, path,
                            "the file is owned by uid %u, neither root nor the running user",
                            (unsigned)st.st_uid);
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        close(fd);
        return file_refused(err, path, "the file is writable by group or others (mode %04o)",
                            (unsigned)(st.st_mode & 07777));
    }
    *stp = st;
    *out = fd;
    return 0;
}
