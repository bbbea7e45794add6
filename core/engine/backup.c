/*
 * backup.c - a copy of the store while the daemon runs, and the way back
 * (issue 16, docs/data.md).  The copying itself is the driver's (SQLite's
 * online backup API, db/sqlite.c); PostgreSQL has pg_dump and the driver
 * refuses with that advice.
 *
 * A restore replaces every row under a running daemon's feet: its
 * dispatcher's leases and fencing tokens, and the sequences they come from,
 * would go back in time.  So the daemon marks the store with a shared
 * flock(2) on the database file for as long as it runs, and a restore
 * takes it exclusively or refuses.  flock locks are apart from the POSIX
 * locks SQLite itself takes on the same file, so neither disturbs the
 * other.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "internal.h"

/* The SQLite file of E's store, or NULL (PostgreSQL, or no store). */
static const char *store_file(const struct tk_engine *e)
{
    struct tk_engine_store_info si;
    tk_engine_store_info(e, &si);
    return si.driver && strcmp(si.driver, "sqlite") == 0 ? si.path : NULL;
}

/* Open PATH and flock it with HOW (LOCK_SH / LOCK_EX, never waiting):
 * the descriptor, -1 with errno EWOULDBLOCK when someone holds it the
 * other way, -1 with another errno when it cannot be opened. */
static int lock_file(const char *path, int how)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (flock(fd, how | LOCK_NB) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int tk_engine_daemon_lock(struct tk_engine *e, struct tk_error *err)
{
    const char *path = store_file(e);
    if (!path || e->store_lock >= 0)
        return 0;
    if ((e->store_lock = lock_file(path, LOCK_SH)) < 0) {
        if (errno == EWOULDBLOCK)
            return tk_error_set(err, TK_ECONFLICT,
                                "store %s: a restore is replacing it; start again when it is done",
                                path);
        return tk_error_set(err, TK_EIO, "store %s: %s", path, strerror(errno));
    }
    return 0;
}

int tk_engine_backup(struct tk_engine *e, const char *file, struct tk_error *err)
{
    return tk_db_backup(e->db, file, err);
}

int tk_engine_restore(struct tk_engine *e, const char *file, int *version, struct tk_error *err)
{
    const char *path = store_file(e);
    int fd = -1, rc;
    if (path && (fd = lock_file(path, LOCK_EX)) < 0) {
        if (errno == EWOULDBLOCK)
            return tk_error_set(err, TK_ECONFLICT,
                                "restore: a daemon (tickler run) has the store %s open; stop it "
                                "first (systemctl stop tickler)",
                                path);
        return tk_error_set(err, TK_EIO, "restore: store %s: %s", path, strerror(errno));
    }
    rc = tk_db_restore(e->db, file, version, err);
    /* An older backup comes up to this build's schema, as tk_engine_open
     * would do at the next command anyway. */
    if (rc == 0)
        rc = tk_db_migrate(e->db, err);
    if (rc == 0) {
        char detail[600];
        snprintf(detail, sizeof detail, "store restored from %s (schema version %d)", file,
                 version ? *version : 0);
        if ((rc = tk_db_begin(e->db, TK_TX_IMMEDIATE, err)) == 0) {
            if ((rc = tk_engine_audit(e, 0, 0, 0, "store-restored", detail, err)) ||
                (rc = tk_db_commit(e->db, err)))
                tk_db_rollback(e->db);
        }
    }
    if (fd >= 0)
        close(fd);
    return rc;
}
