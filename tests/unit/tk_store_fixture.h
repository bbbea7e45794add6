/* tk_store_fixture.h - a fresh, migrated SQLite store in a temporary
 * folder for the store's unit tests (test_store.c, test_store_lifecycle.c).
 *
 *   if (tk_store_fixture_init("tk-test-store")) return 1;   in main()
 *   struct tk_db *db = fresh();                               in each test
 *   tk_store_fixture_done();                                  before exit
 *
 * fresh() deletes the previous store (and its -wal, -shm) first; the
 * caller closes the handle it returns. */
#ifndef TK_STORE_FIXTURE_H
#define TK_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "store/store.h"

static char dir[64];
static char path[128];

static void cleanup(void)
{
    char p[160];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

/* A fresh migrated store; NULL (and a line on stderr) when it cannot be
 * made. */
static struct tk_db *fresh(void)
{
    struct tk_config cfg;
    struct tk_error err = {0};
    struct tk_db *db = NULL;
    cleanup();
    memset(&cfg, 0, sizeof cfg);
    cfg.store_driver = "sqlite";
    cfg.store_path = path;
    if (tk_db_open(&cfg, &db, &err) != 0 || tk_db_migrate(db, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        tk_db_close(db);
        return NULL;
    }
    return db;
}

/* The temporary folder /tmp/NAME-XXXXXX; non-zero when it cannot be made. */
static int tk_store_fixture_init(const char *name)
{
    snprintf(dir, sizeof dir, "/tmp/%s-XXXXXX", name);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/tk.db", dir);
    return 0;
}

static void tk_store_fixture_done(void)
{
    cleanup();
    rmdir(dir);
}

#endif
