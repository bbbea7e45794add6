/* test_plugin_known.c - an engine's partial plugin load (the check cache's
 * snapshot of the set, core/plugin/loader.c tk_registry_load_known) and
 * what follows it in the same process: a type that is not loaded brings
 * the whole set beside the first plugins, whose pointers stay valid; a
 * type the set lacks, or no snapshot, is the whole load at once. */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "plugin/plugin.h"
#include "tk_test.h"

#define T0 ((tk_time)1796115600) /* 2026-12-01T09:00:00Z */

static char dir[256], ini[300];
static size_t all; /* the *.so of $TK_PLUGIN_DIR */

static struct tk_engine *open_engine(void)
{
    struct tk_engine *e = NULL;
    struct tk_error err = {0, ""};
    if (tk_engine_open(&e, ini, T0, TK_OPEN_NO_STORE | TK_OPEN_LAZY, &err) != 0)
        fprintf(stderr, "open: %s\n", err.msg);
    TK_CHECK(e != NULL);
    return e;
}

static void warm(void)
{
    struct tk_engine *e = open_engine();
    struct tk_error err = {0, ""};
    TK_CHECK_INT(tk_engine_load_plugins(e, &err), 0);
    TK_CHECK_INT((int)tk_engine_plugins(e)->n, (int)all);
    tk_engine_close(e);
}

TK_TEST(partial_then_whole_set)
{
    struct tk_engine *e;
    struct tk_error err = {0, ""};
    const struct tk_plugin *approval, *chat;
    warm();
    e = open_engine();
    approval = tk_engine_type(e, "approval", &err);
    TK_CHECK(approval != NULL);
    /* the type and the active transport */
    TK_CHECK_INT((int)tk_engine_plugins(e)->n, 2);
    TK_CHECK_INT(tk_engine_plugins(e)->partial, 1);
    TK_CHECK(tk_registry_transport(tk_engine_plugins(e), "file") != NULL);
    /* delivering needs nothing more */
    TK_CHECK_INT(tk_engine_load_plugins_for(e, NULL, &err), 0);
    TK_CHECK_INT((int)tk_engine_plugins(e)->n, 2);
    /* another type: the whole set, beside the first */
    chat = tk_engine_type(e, "chat", &err);
    TK_CHECK(chat != NULL);
    TK_CHECK_INT((int)tk_engine_plugins(e)->n, (int)all);
    TK_CHECK_INT(tk_engine_plugins(e)->partial, 0);
    TK_CHECK(approval->inited && strcmp(approval->hdr->name, "approval") == 0);
    TK_CHECK(tk_engine_type(e, "approval", &err) != NULL);
    TK_CHECK_INT(tk_engine_load_plugins(e, &err), 0);
    tk_engine_close(e);
}

TK_TEST(transport_alone_then_a_type)
{
    struct tk_engine *e;
    struct tk_error err = {0, ""};
    warm();
    e = open_engine();
    TK_CHECK_INT(tk_engine_load_plugins_for(e, NULL, &err), 0);
    TK_CHECK_INT((int)tk_engine_plugins(e)->n, 1);
    TK_CHECK(tk_engine_type(e, "invoice", &err) != NULL);
    TK_CHECK_INT((int)tk_engine_plugins(e)->n, (int)all);
    tk_engine_close(e);
}

TK_TEST(unknown_type_is_the_whole_load)
{
    struct tk_engine *e;
    struct tk_error err = {0, ""};
    warm();
    e = open_engine();
    TK_CHECK(tk_engine_type(e, "nosuch", &err) == NULL);
    TK_CHECK(strstr(err.msg, "unknown item type 'nosuch' (loaded: approval, chat") != NULL);
    TK_CHECK_INT((int)tk_engine_plugins(e)->n, (int)all);
    TK_CHECK_INT(tk_engine_plugins(e)->partial, 0);
    tk_engine_close(e);
}

TK_TEST(no_snapshot_is_the_whole_load)
{
    struct tk_engine *e;
    struct tk_error err = {0, ""};
    char cache[400];
    snprintf(cache, sizeof cache, "%s/xdg/tickler/plugin-check", dir);
    unlink(cache);
    e = open_engine();
    TK_CHECK(tk_engine_type(e, "approval", &err) != NULL);
    TK_CHECK_INT((int)tk_engine_plugins(e)->n, (int)all);
    tk_engine_close(e);
    /* that load took the snapshot: the next one is partial */
    e = open_engine();
    TK_CHECK(tk_engine_type(e, "approval", &err) != NULL);
    TK_CHECK_INT((int)tk_engine_plugins(e)->n, 2);
    tk_engine_close(e);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    const char *plugins = getenv("TK_PLUGIN_DIR");
    char xdg[300];
    DIR *d;
    struct dirent *de;
    FILE *f;
    if (!plugins)
        return fprintf(stderr, "TK_PLUGIN_DIR must be set\n"), 1;
    snprintf(dir, sizeof dir, "/tmp/tk-known-XXXXXX");
    if (!mkdtemp(dir))
        return perror("mkdtemp"), 1;
    snprintf(xdg, sizeof xdg, "%s/xdg", dir);
    setenv("XDG_CACHE_HOME", xdg, 1);
    snprintf(ini, sizeof ini, "%s/tickler.ini", dir);
    if (!(f = fopen(ini, "w")))
        return perror("fopen"), 1;
    fprintf(f, "[transport]\nplugin = file\ndir = %s\n[plugins]\ndir = %s\n", dir, plugins);
    fclose(f);
    if (!(d = opendir(plugins)))
        return perror("opendir"), 1;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        all += de->d_name[0] != '.' && n > 3 && strcmp(de->d_name + n - 3, ".so") == 0;
    }
    closedir(d);
    TK_RUN(partial_then_whole_set);
    TK_RUN(transport_alone_then_a_type);
    TK_RUN(unknown_type_is_the_whole_load);
    TK_RUN(no_snapshot_is_the_whole_load);
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return tk_test_done();
}
