/* peer.c - a second engine handle on the same configuration and plugins
 * (the HTTP server's worker thread), savepoints for its group commits and
 * a store ping for the health check.
 *
 * Why share rather than open again: loading the plugins a second time would
 * run their init twice and double their memory; the configuration is
 * read-only once loaded.  What is not thread-safe is per handle: the store
 * connection, the template cache (parsed on first use), the clock and the
 * actor. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/api.h"
#include "internal.h"
#include "mail/mail.h"

int tk_engine_open_peer(struct tk_engine **out, struct tk_engine *parent, struct tk_error *err)
{
    struct tk_engine *e;
    int rc;
    *out = NULL;
    if (!parent || !parent->db)
        return tk_error_set(err, TK_EINVAL, "a peer engine needs a parent with a store");
    /* a parent opened with TK_OPEN_LAZY loads them now, in its own thread:
     * the peer shares them and never loads anything itself */
    if ((rc = tk_engine_load_plugins(parent, err)))
        return rc;
    if (!(e = calloc(1, sizeof *e)))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    *out = e;
    /* shallow copies: the parent owns every pointer in them (e->peer) */
    e->cfg = parent->cfg;
    e->plugins = parent->plugins;
    e->peer = 1;
    e->plugins_state = 1;
    e->now = parent->now;
    e->clock_offset = parent->clock_offset;
    e->actor = "cli";
    e->warn = parent->warn;
    e->warn_data = parent->warn_data;
    e->stop = parent->stop;
    e->from_name = tk_strdup(parent->from_name);
    e->from_addr = tk_strdup(parent->from_addr);
    e->msgid_domain = tk_strdup(parent->msgid_domain);
    if ((parent->from_name && !e->from_name) || !e->from_addr || !e->msgid_domain)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    if ((rc = tk_catalog_open(tk_catalog_dir(parent->catalog), &e->catalog, err)))
        return rc;
    if ((rc = tk_db_open(&e->cfg, &e->db, err)))
        return rc;
    return 0;
}

int tk_engine_ckpt_start(struct tk_engine *e, const struct tk_ckpt_policy *policy, void *arg,
                         struct tk_ckpt **out, struct tk_error *err)
{
    return tk_ckpt_start(out, &e->cfg, e->db, policy, arg, err);
}

int tk_engine_savepoint(struct tk_engine *e, struct tk_error *err)
{
    return tk_db_exec(e->db, err, "SAVEPOINT tk_request", "");
}

int tk_engine_savepoint_release(struct tk_engine *e, struct tk_error *err)
{
    return tk_db_exec(e->db, err, "RELEASE SAVEPOINT tk_request", "");
}

void tk_engine_savepoint_rollback(struct tk_engine *e)
{
    struct tk_error ignored = {0};
    /* ROLLBACK TO keeps the savepoint open: release it as well, so that
     * the next request's SAVEPOINT is not nested in it. */
    if (tk_db_exec(e->db, &ignored, "ROLLBACK TO SAVEPOINT tk_request", "") == 0)
        tk_db_exec(e->db, &ignored, "RELEASE SAVEPOINT tk_request", "");
}

int tk_engine_store_ping(struct tk_engine *e, struct tk_error *err)
{
    struct tk_engine_store_info si;
    int64_t v = 0;
    if (!e->db)
        return tk_error_set(err, TK_EIO, "no store open");
    /* An open SQLite connection goes on reading its file after the file
     * was removed or replaced: ask the file system too, or a deployment
     * whose store vanished would look healthy. */
    tk_engine_store_info(e, &si);
    if (si.path && access(si.path, R_OK | W_OK) != 0)
        return tk_error_set(err, TK_EIO, "store: %s: %s", si.path, strerror(errno));
    return tk_db_int(e->db, &v, err, "SELECT COALESCE(MAX(version), 0) FROM schema_version", "");
}
