/* test_plugin_loader.c - the real loader against real shared objects: the
 * bad-plugin fixtures of tests/fixtures/plugins (built into
 * $TK_FIXTURE_DIR/plugins/CASE/), the good "widget" fixture, and the real
 * plugins folder ($TK_PLUGIN_DIR) when it has any. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "plugin/plugin.h"
#include "tk_test.h"

static const char *fixtures;
static char tmpdir[] = "/tmp/tk_test_loader_XXXXXX";
static struct tk_buf logbuf;

static void sink(void *data, int level, const char *plugin, const char *msg)
{
    tk_buf_printf(data, "%s: %s\n", plugin, msg);
}

static char *case_dir(const char *name)
{
    return tk_strprintf("%s/plugins/%s", fixtures, name);
}

/* Load fixture folder NAME and expect a refusal naming FILE and WHY. */
static void expect_refused(const char *name, const char *file, const char *why)
{
    struct tk_registry reg;
    struct tk_error err = {0, ""};
    char *dir = case_dir(name);
    char *path = tk_strprintf("%s/%s", dir, file);
    char *named = tk_strprintf("plugin %s: ", path);
    TK_CHECK(tk_registry_load(&reg, dir, NULL, &err) != 0);
    if (!strstr(err.msg, named) || !strstr(err.msg, why)) {
        fprintf(stderr, "  case %s\n  got:  %s\n  want: %s...%s\n", name, err.msg, named, why);
        TK_CHECK(!"refusal message");
    }
    TK_CHECK_INT(reg.n, 0);
    TK_CHECK(reg.v == NULL);
    free(named);
    free(path);
    free(dir);
}

TK_TEST(test_bad_fixtures)
{
    expect_refused("wrong_abi", "widget.so",
                   "refused: built for ABI 99.0, this tickler speaks ABI 1.0");
    expect_refused("newer_minor", "widget.so",
                   "refused: built for ABI 1.7, newer than this tickler's ABI 1.0");
    expect_refused("short_struct", "widget.so", "refused: descriptor is 8 bytes");
    expect_refused("no_entry", "widget.so",
                   "refused: not a tickler plugin: no tk_plugin_entry symbol");
    expect_refused("unresolved", "widget.so",
                   "refused: cannot load: undefined symbol: tk_fixture_missing_symbol");
    expect_refused("bad_name", "widget.so", "refused: bad plugin name 'Widget!'");
    expect_refused("bad_kind", "widget.so", "refused: unknown plugin kind 7");
    expect_refused("no_events", "widget.so", "refused: item type 'widget' declares no events");
    expect_refused("null_descriptor", "widget.so", "refused: tk_plugin_entry returned NULL");
    expect_refused("init_fails", "widget.so", "init failed: database of colours is missing");
}

TK_TEST(test_duplicate)
{
    char *dir = case_dir("duplicate");
    char *want = tk_strprintf("type 'dupe' claimed by both %s/dup_a.so and %s/dup_b.so", dir, dir);
    expect_refused("duplicate", "dup_b.so", want);
    free(want);
    free(dir);
}

TK_TEST(test_missing_dir)
{
    struct tk_registry reg;
    struct tk_error err = {0, ""};
    TK_CHECK(tk_registry_load(&reg, "/nonexistent/plugins", NULL, &err) != 0);
    TK_CHECK_STR(err.msg,
                 "cannot open plugins folder /nonexistent/plugins: No such file or directory");
    TK_CHECK_INT(reg.n, 0);
}

static int seq_next(void *engine, const char *type, const char *name, int64_t *out,
                    struct tk_error *err)
{
    int *counter = engine;
    if (strcmp(type, "widget") != 0 || strcmp(name, "number") != 0)
        return tk_error_set(err, TK_EINVAL, "unexpected counter %s.%s", type, name);
    *out = ++*counter;
    return 0;
}

static char *write_cfg(const char *text)
{
    char *path = tk_strprintf("%s/tickler.ini", tmpdir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

TK_TEST(test_good_plugin)
{
    struct tk_registry reg;
    struct tk_error err = {0, ""};
    struct tk_config cfg;
    char *dir = case_dir("good");
    char *ini = write_cfg("[widget]\ncolour = blue\n\n[gadget]\nx = 1\n");
    const struct tk_plugin *p;
    const struct tk_bulk_spec *bulk = NULL;
    struct tk_kv fields = {0}, vars = {0}, facts = {0};
    int counter = 41;
    struct tk_item_ctx ctx = {&fields, &vars, &facts, "widget", 1, &counter, seq_next};

    TK_CHECK_INT(tk_config_load(ini, 0, &cfg, &err), 0);
    tk_buf_reset(&logbuf);
    TK_CHECK_INT(tk_registry_load(&reg, dir, &cfg, &err), 0);
    TK_CHECK_STR(err.msg, "");
    TK_CHECK_INT(reg.n, 1);
    /* init ran, with its host, reading its own section. */
    TK_CHECK(logbuf.data && strstr(logbuf.data, "widget: init colour=blue\n"));
    p = tk_registry_item(&reg, "widget");
    TK_CHECK(p != NULL);
    TK_CHECK(tk_registry_transport(&reg, "widget") == NULL);
    TK_CHECK(tk_registry_item(&reg, "gadget") == NULL);
    TK_CHECK(tk_registry_bulk(&reg, "nudge-widgets", &bulk) == p);
    TK_CHECK(bulk && strcmp(bulk->section, "nudge") == 0);
    TK_CHECK(tk_registry_bulk(&reg, "nudge-gadgets", &bulk) == NULL);
    /* [widget] was claimed; the unclaimed [gadget] is still reported. */
    TK_CHECK(tk_config_check_plugins(&cfg, &err) != 0);
    TK_CHECK(strstr(err.msg, ":5: unknown section [gadget]") != NULL);
    /* No transport in this folder: the configured one is missing. */
    TK_CHECK(tk_registry_claim_transport(&reg, &cfg, &err) != 0);
    {
        char *want = tk_strprintf("no transport plugin 'file' in %s", dir);
        TK_CHECK_STR(err.msg, want);
        free(want);
    }

    if (p) {
        /* The host accessors, through the plugin's own callbacks. */
        TK_CHECK_INT(p->item->prepare(p->state, &ctx, &err), 0);
        TK_CHECK_STR(tk_kv_get(&fields, "number"), "W-42");
        TK_CHECK(p->item->vars(p->state, &ctx, &err) != 0); /* var_set: wrong phase */
        TK_CHECK(strstr(err.msg, "var_set is only allowed in vars()") != NULL);
        ctx.phase = 2;
        tk_kv_set(&facts, "title", "Blue widget");
        TK_CHECK_INT(p->item->vars(p->state, &ctx, &err), 0);
        TK_CHECK_STR(tk_kv_get(&vars, "widget.colour"), "blue");
        TK_CHECK_STR(tk_kv_get(&vars, "widget.shout"), "Blue widget");
        TK_CHECK(p->item->prepare(p->state, &ctx, &err) != 0); /* sequence: wrong phase */
        TK_CHECK_INT(err.code, TK_EINVAL);
        TK_CHECK(p->host.field_set(&ctx, "x", "y", &err) == TK_EINVAL);
        TK_CHECK_STR(p->host.field_get(&ctx, "number"), "W-42");
        TK_CHECK_STR(p->host.item_get(&ctx, "title"), "Blue widget");
        TK_CHECK(p->host.item_get(&ctx, "nothing") == NULL);
    }
    tk_registry_unload(&reg);
    TK_CHECK(logbuf.data && strstr(logbuf.data, "widget: fini\n") != NULL);
    TK_CHECK_INT(reg.n, 0);
    tk_kv_free(&fields);
    tk_kv_free(&vars);
    tk_kv_free(&facts);
    tk_config_free(&cfg);
    unlink(ini);
    free(ini);
    free(dir);
}

TK_TEST(test_unknown_plugin_key)
{
    struct tk_registry reg;
    struct tk_error err = {0, ""};
    struct tk_config cfg;
    char *dir = case_dir("good");
    char *ini = write_cfg("[widget]\ncolour = blue\nshape = round\n");
    TK_CHECK_INT(tk_config_load(ini, 0, &cfg, &err), 0);
    tk_buf_reset(&logbuf);
    TK_CHECK(tk_registry_load(&reg, dir, &cfg, &err) != 0);
    TK_CHECK(strstr(err.msg, ":3: unknown key 'shape' in [widget] (accepted: colour)") != NULL);
    /* Refused before init: the plugin never ran. */
    TK_CHECK(logbuf.data == NULL || strstr(logbuf.data, "init") == NULL);
    TK_CHECK_INT(reg.n, 0);
    tk_config_free(&cfg);
    unlink(ini);
    free(ini);
    free(dir);
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[8192];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    return rc;
}

TK_TEST(test_unsafe_permissions)
{
    struct tk_registry reg;
    struct tk_error err = {0, ""};
    char *good = case_dir("good");
    char *src = tk_strprintf("%s/widget.so", good);
    char *dir = tk_strprintf("%s/perm", tmpdir);
    char *so = tk_strprintf("%s/widget.so", dir);
    char *link = tk_strprintf("%s/link", tmpdir);
    char *lso = tk_strprintf("%s/widget.so", link);

    TK_CHECK_INT(mkdir(dir, 0755), 0);
    TK_CHECK_INT(chmod(dir, 0755), 0);
    TK_CHECK_INT(copy_file(src, so), 0);

    TK_CHECK_INT(chmod(so, 0664), 0);
    TK_CHECK(tk_registry_load(&reg, dir, NULL, &err) != 0);
    TK_CHECK(strstr(err.msg, so) &&
             strstr(err.msg, "the file is writable by group or others (mode 0664)"));
    TK_CHECK_INT(chmod(so, 0646), 0);
    TK_CHECK(tk_plugin_check_perms(so, &err) != 0);
    TK_CHECK(strstr(err.msg, "writable by group or others (mode 0646)") != NULL);

    TK_CHECK_INT(chmod(so, 0644), 0);
    TK_CHECK_INT(chmod(dir, 0777), 0);
    TK_CHECK(tk_registry_load(&reg, dir, NULL, &err) != 0);
    TK_CHECK(strstr(err.msg, "its folder is writable by group or others (mode 0777)") != NULL);
    TK_CHECK_INT(chmod(dir, 0775), 0);
    TK_CHECK(tk_plugin_check_perms(so, &err) != 0);

    TK_CHECK_INT(chmod(dir, 0755), 0);
    tk_buf_reset(&logbuf);
    TK_CHECK_INT(tk_registry_load(&reg, dir, NULL, &err), 0);
    TK_CHECK_INT(reg.n, 1);
    /* No config: config_get finds nothing and the plugin copes. */
    TK_CHECK(logbuf.data && strstr(logbuf.data, "widget: init colour=none"));
    tk_registry_unload(&reg);

    /* A symlinked plugin is refused: only regular files load. */
    TK_CHECK_INT(mkdir(link, 0755), 0);
    TK_CHECK_INT(chmod(link, 0755), 0);
    TK_CHECK_INT(symlink(so, lso), 0);
    TK_CHECK(tk_registry_load(&reg, link, NULL, &err) != 0);
    TK_CHECK(strstr(err.msg, "not a regular file") != NULL);

    unlink(lso);
    rmdir(link);
    unlink(so);
    rmdir(dir);
    free(lso);
    free(link);
    free(so);
    free(dir);
    free(src);
    free(good);
}

TK_TEST(test_check_header_direct)
{
    struct tk_plugin_header h =
        TK_PLUGIN_HEADER_INIT(struct tk_item_type, TK_PLUGIN_ITEM, "ok", "1", "d");
    struct tk_error err = {0, ""};
    TK_CHECK_INT(tk_plugin_check_header(&h, "/x.so", &err), 0);
    h.name = "this-name-is-far-too-long-for-a-plugin";
    TK_CHECK(tk_plugin_check_header(&h, "/x.so", &err) != 0);
    TK_CHECK(strstr(err.msg, "plugin /x.so: refused: bad plugin name") != NULL);
    h.name = "ok";
    h.kind = TK_PLUGIN_TRANSPORT;
    h.size = sizeof(struct tk_transport) - 1;
    TK_CHECK(tk_plugin_check_header(&h, "/x.so", &err) != 0);
    TK_CHECK(strstr(err.msg, "an ABI 1.0 transport needs at least") != NULL);
    h.size = sizeof(struct tk_transport);
    TK_CHECK_INT(tk_plugin_check_header(&h, "/x.so", &err), 0);
    h.abi_major = 0;
    TK_CHECK(tk_plugin_check_header(&h, "/x.so", &err) != 0);
    TK_CHECK(strstr(err.msg, "built for ABI 0.0, this tickler speaks ABI 1.0") != NULL);
}

TK_TEST(test_paths)
{
    char *d = tk_plugin_default_dir();
    char *s = tk_path_beside_binary("share/tickler");
    TK_CHECK(d && d[0] == '/' && strstr(d, "/lib/tickler/plugins"));
    TK_CHECK(s && s[0] == '/' && strstr(s, "/share/tickler"));
    free(d);
    free(s);
    TK_CHECK_INT(tk_log_level_parse("warn"), TK_LOG_WARN);
    TK_CHECK_INT(tk_log_level_parse("loud"), -1);
}

/* The real item plugins, written elsewhere in the tree: they must all pass
 * the same loader.  Transports load but are not inited (no active one). */
TK_TEST(test_real_plugins)
{
    const char *dir = getenv("TK_PLUGIN_DIR");
    struct tk_registry reg;
    struct tk_error err = {0, ""};
    struct tk_config cfg;
    char *absent = tk_strprintf("%s/absent.ini", tmpdir);
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *de;
    int nso = 0;
    while (d && (de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".so"))
            nso++;
    if (d)
        closedir(d);
    if (!nso) {
        printf("skip: no plugins in %s\n", dir ? dir : "$TK_PLUGIN_DIR (unset)");
        free(absent);
        return;
    }
    TK_CHECK_INT(tk_config_load(absent, 1, &cfg, &err), 0);
    free(cfg.transport_plugin);
    cfg.transport_plugin = tk_strdup("no-such-transport");
    TK_CHECK_INT(tk_registry_load(&reg, dir, &cfg, &err), 0);
    if (err.msg[0])
        fprintf(stderr, "  %s\n", err.msg);
    TK_CHECK_INT(reg.n, nso);
    for (size_t i = 0; i < reg.n; i++) {
        const struct tk_plugin *p = reg.v[i];
        TK_CHECK(p->item || p->transport);
        TK_CHECK_INT(p->inited, p->item ? 1 : 0);
    }
    tk_registry_unload(&reg);
    tk_config_free(&cfg);
    free(absent);
}

int main(void)
{
    fixtures = getenv("TK_FIXTURE_DIR");
    if (!fixtures) {
        fprintf(stderr, "TK_FIXTURE_DIR is not set (run through ctest)\n");
        return 1;
    }
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    tk_plugin_log_configure(TK_LOG_DEBUG, sink, &logbuf);
    TK_RUN(test_bad_fixtures);
    TK_RUN(test_duplicate);
    TK_RUN(test_missing_dir);
    TK_RUN(test_good_plugin);
    TK_RUN(test_unknown_plugin_key);
    TK_RUN(test_unsafe_permissions);
    TK_RUN(test_check_header_direct);
    TK_RUN(test_paths);
    TK_RUN(test_real_plugins);
    tk_buf_free(&logbuf);
    rmdir(tmpdir);
    return tk_test_done();
}
