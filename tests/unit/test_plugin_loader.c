/* test_plugin_loader.c - the real loader against real shared objects: the
 * bad-plugin fixtures of tests/fixtures/plugins (built into
 * $TK_FIXTURE_DIR/plugins/CASE/), the good "widget" fixture, and the real
 * plugins folder ($TK_PLUGIN_DIR) when it has any: refusals, the search
 * path and the permission walk.  The host services are in
 * test_plugin_host.c. */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
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
    /* one line, nothing of the bad string's control characters */
    for (const char *c = err.msg; *c; c++)
        TK_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
    TK_CHECK_INT(reg.n, 0);
    TK_CHECK(reg.v == NULL);
    free(named);
    free(path);
    free(dir);
}

TK_TEST(test_bad_fixtures)
{
    char want[256];
    snprintf(want, sizeof want, "refused: built for ABI 99.%d, this tickler speaks ABI 1.%d",
             TK_ABI_MINOR, TK_ABI_MINOR);
    expect_refused("wrong_abi", "widget.so", want);
    snprintf(want, sizeof want, "refused: built for ABI 1.%d, newer than this tickler's ABI 1.%d",
             TK_ABI_MINOR + 7, TK_ABI_MINOR);
    expect_refused("newer_minor", "widget.so", want);
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

/* Issue 11: every descriptor string the host prints or routes by. */
TK_TEST(test_bad_strings)
{
    expect_refused("bad_event", "widget.so", "refused: bad event name 'done\\x0ax'");
    expect_refused("esc_description", "widget.so",
                   "refused: bad description 'Test \\x1b[31mwidgets': expected one line");
    expect_refused("reserved_transport", "widget.so",
                   "refused: item type 'transport' has the name of a tickler config section");
    expect_refused("reserved_store", "widget.so",
                   "refused: item type 'store' has the name of a tickler config section");
    expect_refused("bad_verb", "widget.so", "refused: bad Lua verb 'create-widget'");
    expect_refused("keyword_verb", "widget.so", "refused: bad Lua verb 'end'");
    expect_refused("job_verb", "widget.so", "refused: Lua verb 'move' is a method or field of job");
    expect_refused("cli_bulk", "widget.so", "refused: bulk command 'list' is a tickler command");
    expect_refused("pending_final", "widget.so",
                   "refused: event 'done': bad final state 'pending'");
    expect_refused("bad_field", "widget.so", "refused: bad field name 'Size'");
    expect_refused("bad_key", "widget.so", "refused: bad config key 'col our'");
    /* a plugin of a newer minor than the host's (the growth test's) */
    expect_refused("grown", "grown.so", "newer than this tickler's ABI 1.3: upgrade tickler");
}

/* Issue 16: the compiled-in templates are parsed at load. */
TK_TEST(test_broken_template)
{
    expect_refused("broken_template", "widget.so", "refused: template en/default:4: ");
}

TK_TEST(test_duplicate)
{
    char *dir = case_dir("duplicate");
    char *want = tk_strprintf("type 'dupe' claimed by both %s/dup_a.so and %s/dup_b.so", dir, dir);
    expect_refused("duplicate", "dup_b.so", want);
    free(want);
    free(dir);
    dir = case_dir("verb_clash");
    want = tk_strprintf("Lua verb 'create_widget' claimed by both %s/a_widget.so and "
                        "%s/b_widget.so",
                        dir, dir);
    expect_refused("verb_clash", "b_widget.so", want);
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
    TK_CHECK(logbuf.data && strstr(logbuf.data, "widget: init colour=blue abi=1.3 host=1.3\n"));
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
    if (rc == 0)
        rc = chmod(to, 0755);
    return rc;
}

/* A folder TMPDIR/NAME (mode 0755) holding a copy of the good widget.so,
 * or of fixture CASE's FILE.  Returns the folder; caller frees. */
static char *deploy(const char *name, const char *fixture_case, const char *file)
{
    char *dir = tk_strprintf("%s/%s", tmpdir, name);
    char *src = tk_strprintf("%s/plugins/%s/%s", fixtures, fixture_case, file);
    char *dst = tk_strprintf("%s/%s", dir, file);
    mkdir(dir, 0755);
    TK_CHECK_INT(chmod(dir, 0755), 0);
    TK_CHECK_INT(copy_file(src, dst), 0);
    free(src);
    free(dst);
    return dir;
}

static void remove_tree(const char *dir)
{
    char *cmd = tk_strprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(cmd);
}

/* Load DIR (a path) with no config and expect a refusal containing WHY. */
static void load_refused(const char *dir, const char *why)
{
    struct tk_registry reg;
    struct tk_error err = {0, ""};
    TK_CHECK(tk_registry_load(&reg, dir, NULL, &err) != 0);
    if (!strstr(err.msg, why)) {
        fprintf(stderr, "  got:  %s\n  want: ...%s\n", err.msg, why);
        TK_CHECK(!"refusal message");
    }
    TK_CHECK_INT(reg.n, 0);
}

static void load_ok(const char *dir, size_t n)
{
    struct tk_registry reg;
    struct tk_error err = {0, ""};
    TK_CHECK_INT(tk_registry_load(&reg, dir, NULL, &err), 0);
    if (err.msg[0])
        fprintf(stderr, "  %s\n", err.msg);
    TK_CHECK_INT(reg.n, n);
    tk_registry_unload(&reg);
}

TK_TEST(test_unsafe_permissions)
{
    char *dir = deploy("perm", "good", "widget.so");
    char *so = tk_strprintf("%s/widget.so", dir);
    char *want;

    TK_CHECK_INT(chmod(so, 0664), 0);
    want =
        tk_strprintf("plugin %s: refused: the file is writable by group or others (mode 0664)", so);
    load_refused(dir, want);
    free(want);
    TK_CHECK_INT(chmod(so, 0646), 0);
    load_refused(dir, "the file is writable by group or others (mode 0646)");
    TK_CHECK_INT(chmod(so, 0644), 0);

    /* the plugins folder itself: never, not even sticky */
    TK_CHECK_INT(chmod(dir, 0777), 0);
    want = tk_strprintf("plugin folder %s: refused: it is writable by group or others (mode 0777)",
                        dir);
    load_refused(dir, want);
    free(want);
    TK_CHECK_INT(chmod(dir, 01777), 0);
    load_refused(dir, "it is writable by group or others (mode 1777)");
    TK_CHECK_INT(chmod(dir, 0775), 0);
    load_refused(dir, "it is writable by group or others (mode 0775)");
    TK_CHECK_INT(chmod(dir, 0755), 0);

    tk_buf_reset(&logbuf);
    load_ok(dir, 1);
    /* No config: config_get finds nothing and the plugin copes. */
    TK_CHECK(logbuf.data && strstr(logbuf.data, "widget: init colour=none"));
    free(so);
    free(dir);
}

/* StrictModes: every folder above the plugins folder counts too. */
TK_TEST(test_parent_folders)
{
    char *top = tk_strprintf("%s/top", tmpdir);
    char *mid = tk_strprintf("%s/top/mid", tmpdir);
    char *dir, *want;
    TK_CHECK_INT(mkdir(top, 0755), 0);
    TK_CHECK_INT(mkdir(mid, 0755), 0);
    dir = deploy("top/mid/plugins", "good", "widget.so");
    load_ok(dir, 1);

    TK_CHECK_INT(chmod(mid, 0777), 0);
    want = tk_strprintf("plugin folder %s: refused: %s above it is writable by group or others "
                        "(mode 0777)",
                        dir, mid);
    load_refused(dir, want);
    free(want);
    TK_CHECK_INT(chmod(mid, 0775), 0);
    load_refused(dir, "above it is writable by group or others (mode 0775)");
    /* sticky, like /tmp: others cannot rename what is ours in it */
    TK_CHECK_INT(chmod(mid, 01777), 0);
    load_ok(dir, 1);
    TK_CHECK_INT(chmod(mid, 0755), 0);

    if (geteuid() == 0) {
        /* Owned by someone else (nobody): refused, file and folders alike. */
        char *so = tk_strprintf("%s/widget.so", dir);
        TK_CHECK_INT(chown(top, 65534, 65534), 0);
        want = tk_strprintf("%s above it is owned by uid 65534, neither root nor the running user",
                            top);
        load_refused(dir, want);
        free(want);
        TK_CHECK_INT(chown(top, 0, 0), 0);
        TK_CHECK_INT(chown(dir, 65534, 65534), 0);
        load_refused(dir, "refused: it is owned by uid 65534");
        TK_CHECK_INT(chown(dir, 0, 0), 0);
        TK_CHECK_INT(chown(so, 65534, 65534), 0);
        load_refused(dir, "refused: the file is owned by uid 65534");
        TK_CHECK_INT(chown(so, 0, 0), 0);
        load_ok(dir, 1);
        free(so);
    } else {
        printf("skip: ownership cases need root to chown\n");
    }
    remove_tree(top);
    free(dir);
    free(mid);
    free(top);
}

TK_TEST(test_links_and_odd_files)
{
    char *dir = deploy("links", "good", "widget.so");
    char *real = tk_strprintf("%s/widget.so", dir);
    char *ldir = tk_strprintf("%s/linkdir", tmpdir);
    char *lso = tk_strprintf("%s/lso", tmpdir);
    char *lsofile = tk_strprintf("%s/lso/zz.so", tmpdir);
    char *fifo;

    /* A link to the plugins folder is followed: its real folders are
     * what gets checked. */
    TK_CHECK_INT(symlink(dir, ldir), 0);
    load_ok(ldir, 1);
    TK_CHECK_INT(chmod(dir, 0777), 0);
    load_refused(ldir, "it is writable by group or others (mode 0777)");
    TK_CHECK_INT(chmod(dir, 0755), 0);

    /* A symlinked plugin file is refused: only regular files load. */
    TK_CHECK_INT(mkdir(lso, 0755), 0);
    TK_CHECK_INT(chmod(lso, 0755), 0);
    TK_CHECK_INT(symlink(real, lsofile), 0);
    load_refused(lso, "zz.so: refused: not a regular file (a symbolic link)");
    unlink(lsofile);

    /* A FIFO named x.so: refused at once, no hang waiting for a writer. */
    fifo = tk_strprintf("%s/x.so", lso);
    TK_CHECK_INT(mkfifo(fifo, 0644), 0);
    load_refused(lso, "x.so: refused: not a regular file");
    unlink(fifo);
    free(fifo);

    remove_tree(lso);
    unlink(ldir);
    remove_tree(dir);
    free(lsofile);
    free(lso);
    free(ldir);
    free(real);
    free(dir);
}

/* The file checked is the file loaded: the object mapped in this process
 * is the inode of the descriptor the loader checked, and it stays so when
 * the name is pointed at another file after the load. */
TK_TEST(test_loaded_file_is_checked_file)
{
    char *dir = deploy("ident", "good", "widget.so");
    char *so = tk_strprintf("%s/widget.so", dir);
    struct tk_registry reg;
    struct tk_error err = {0, ""};
    struct stat st;
    FILE *maps;
    char line[4096];
    int mapped = 0;

    TK_CHECK_INT(tk_registry_load(&reg, dir, NULL, &err), 0);
    TK_CHECK_INT(reg.n, 1);
    if (reg.n == 1) {
        TK_CHECK(reg.v[0]->fd >= 0);
        TK_CHECK_INT(fstat(reg.v[0]->fd, &st), 0);
        /* replace the name: the loaded object must not change */
        unlink(so);
        maps = fopen("/proc/self/maps", "r");
        while (maps && fgets(line, sizeof line, maps)) {
            unsigned long long ino = 0;
            char dev[32];
            if (sscanf(line, "%*s %*s %*s %31s %llu", dev, &ino) == 2 &&
                ino == (unsigned long long)st.st_ino && strstr(line, "widget.so"))
                mapped = 1;
        }
        if (maps)
            fclose(maps);
        TK_CHECK(mapped);
        TK_CHECK_STR(reg.v[0]->path, so);
    }
    tk_registry_unload(&reg);
    remove_tree(dir);
    free(so);
    free(dir);
}

/* Issue 16: [plugins] path, a colon list; a later folder may not shadow an
 * earlier one unless allow_override. */
TK_TEST(test_search_path)
{
    char *a = deploy("path_a", "good", "widget.so");
    char *b = deploy("path_b", "good", "widget.so");
    char *c = deploy("path_c", "sdk10", "legacy.so");
    char *ab = tk_strprintf("%s:%s", a, b), *ac = tk_strprintf("%s:%s", a, c);
    char *missing = tk_strprintf("%s:%s/nothing", a, tmpdir);
    char *ini, *want;
    struct tk_registry reg;
    struct tk_error err = {0, ""};
    struct tk_config cfg;

    load_ok(ac, 2);
    want = tk_strprintf("plugin %s/widget.so: refused: type 'widget' is already loaded from "
                        "%s/widget.so, an earlier folder of the plugin path (set [plugins] "
                        "allow_override = yes to let it replace that one)",
                        b, a);
    load_refused(ab, want);
    free(want);
    want = tk_strprintf("cannot open plugins folder %s/nothing: No such file or directory", tmpdir);
    load_refused(missing, want);
    free(want);

    /* through the configuration: path, and allow_override */
    ini = tk_strprintf("[plugins]\npath = %s\nallow_override = yes\n", ab);
    free(write_cfg(ini));
    free(ini);
    ini = tk_strprintf("%s/tickler.ini", tmpdir);
    TK_CHECK_INT(tk_config_load(ini, 0, &cfg, &err), 0);
    tk_buf_reset(&logbuf);
    TK_CHECK_INT(tk_registry_load(&reg, NULL, &cfg, &err), 0);
    TK_CHECK_INT(reg.n, 1);
    if (reg.n == 1) {
        want = tk_strprintf("%s/widget.so", b);
        TK_CHECK_STR(reg.v[0]->path, want);
        free(want);
    }
    want =
        tk_strprintf("plugin %s/widget.so replaces %s/widget.so ([plugins] allow_override)", b, a);
    TK_CHECK(logbuf.data && strstr(logbuf.data, want));
    free(want);
    TK_CHECK_STR(reg.path, ab);
    tk_registry_unload(&reg);
    tk_config_free(&cfg);

    /* [plugins] dir keeps working as a one-folder path */
    want = tk_strprintf("[plugins]\ndir = %s\n", c);
    free(write_cfg(want));
    free(want);
    TK_CHECK_INT(tk_config_load(ini, 0, &cfg, &err), 0);
    TK_CHECK_INT(tk_registry_load(&reg, NULL, &cfg, &err), 0);
    TK_CHECK_INT(reg.n, 1);
    TK_CHECK(tk_registry_item(&reg, "legacy") != NULL);
    tk_registry_unload(&reg);
    tk_config_free(&cfg);
    unlink(ini);

    remove_tree(a);
    remove_tree(b);
    remove_tree(c);
    free(ini);
    free(missing);
    free(ab);
    free(ac);
    free(a);
    free(b);
    free(c);
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
    h.version = "1\n2";
    TK_CHECK(tk_plugin_check_header(&h, "/x.so", &err) != 0);
    TK_CHECK(strstr(err.msg, "refused: bad version '1\\x0a2'") != NULL);
    h.version = "1.0 \xc2\x9b"; /* C1 CSI */
    TK_CHECK(tk_plugin_check_header(&h, "/x.so", &err) != 0);
    h.version = "1.0 caf\xc3\xa9"; /* UTF-8 text is fine */
    TK_CHECK_INT(tk_plugin_check_header(&h, "/x.so", &err), 0);
    h.description = "\xff";
    TK_CHECK(tk_plugin_check_header(&h, "/x.so", &err) != 0);
    h.description = NULL;
    TK_CHECK_INT(tk_plugin_check_header(&h, "/x.so", &err), 0);
    /* the frozen 1.0 sizes: a 1.0 descriptor loads, one byte less does not */
    h.size = (uint32_t)TK_ITEM_TYPE_SIZE_1_0;
    TK_CHECK_INT(tk_plugin_check_header(&h, "/x.so", &err), 0);
    h.size = (uint32_t)TK_ITEM_TYPE_SIZE_1_0 - 1;
    TK_CHECK(tk_plugin_check_header(&h, "/x.so", &err) != 0);
    TK_CHECK(strstr(err.msg, "an ABI 1.0 item type needs at least 128") != NULL);
    /* ... and a descriptor from a later minor's longer struct is fine */
    h.size = (uint32_t)sizeof(struct tk_item_type) + 64;
    h.abi_minor = 0;
    TK_CHECK_INT(tk_plugin_check_header(&h, "/x.so", &err), 0);
    h.kind = TK_PLUGIN_TRANSPORT;
    h.size = (uint32_t)TK_TRANSPORT_SIZE_1_0 - 1;
    TK_CHECK(tk_plugin_check_header(&h, "/x.so", &err) != 0);
    TK_CHECK(strstr(err.msg, "an ABI 1.0 transport needs at least") != NULL);
    h.size = (uint32_t)TK_TRANSPORT_SIZE_1_0;
    TK_CHECK_INT(tk_plugin_check_header(&h, "/x.so", &err), 0);
    /* 1.1 appended probe: a 1.0 transport ends before it, a 1.1 one after */
    TK_CHECK(TK_TRANSPORT_SIZE_1_0 <= offsetof(struct tk_transport, probe));
    h.size = (uint32_t)sizeof(struct tk_transport);
    TK_CHECK_INT(tk_plugin_check_header(&h, "/x.so", &err), 0);
    h.abi_major = 0;
    TK_CHECK(tk_plugin_check_header(&h, "/x.so", &err) != 0);
    TK_CHECK(strstr(err.msg, "built for ABI 0.0, this tickler speaks ABI 1.3") != NULL);
}

/* tk_plugin_check_elf reads the file with pread (elf.c): the first 4 KiB
 * at once, anything beyond apart.  A made-up ELF whose symbol table lies
 * in the first bytes, across the 4 KiB boundary and far beyond it must
 * read the same (bench/RESULTS.md update 51). */
static int elf_case(size_t at, const char *symname, size_t cut)
{
    char strs[64];
    size_t nstrs;
    Elf64_Sym sym[2];
    Elf64_Shdr sh[3];
    Elf64_Ehdr eh;
    char *path = tk_strprintf("%s/elf_case.so", tmpdir);
    struct tk_error err = {0, ""};
    size_t size, shoff;
    unsigned char *m;
    int fd, rc;

    nstrs = 1 + strlen(symname) + 1;
    strs[0] = '\0';
    memcpy(strs + 1, symname, strlen(symname) + 1);
    memset(sym, 0, sizeof sym);
    sym[1].st_name = 1;
    sym[1].st_shndx = 1;
    shoff = at + sizeof sym + nstrs;
    shoff = (shoff + 7) & ~(size_t)7;
    size = shoff + sizeof sh;
    memset(&eh, 0, sizeof eh);
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_type = ET_DYN;
    eh.e_shentsize = sizeof(Elf64_Shdr);
    eh.e_shoff = shoff;
    eh.e_shnum = 3;
    memset(sh, 0, sizeof sh);
    sh[1].sh_type = SHT_DYNSYM;
    sh[1].sh_offset = at;
    sh[1].sh_size = sizeof sym;
    sh[1].sh_entsize = sizeof(Elf64_Sym);
    sh[1].sh_link = 2;
    sh[2].sh_type = SHT_STRTAB;
    sh[2].sh_offset = at + sizeof sym;
    sh[2].sh_size = nstrs;
    m = calloc(1, size);
    memcpy(m, &eh, sizeof eh);
    memcpy(m + at, sym, sizeof sym);
    memcpy(m + at + sizeof sym, strs, nstrs);
    memcpy(m + shoff, sh, sizeof sh);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    TK_CHECK(fd >= 0 && write(fd, m, cut ? cut : size) == (ssize_t)(cut ? cut : size));
    rc = tk_plugin_check_elf(fd, path, &err);
    if (rc && !strstr(err.msg, "no tk_plugin_entry symbol"))
        rc = -1;
    close(fd);
    unlink(path);
    free(m);
    free(path);
    return rc == 0 ? 1 : rc == -1 ? -1 : 0;
}

TK_TEST(test_check_elf_reads)
{
#if UINTPTR_MAX == 0xffffffffffffffffu && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const size_t at[] = {64, 4096 - 24, 4096 - 8, 4096, 4104, 3 * 4096 + 40, 70000};
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        TK_CHECK_INT(elf_case(at[i], "tk_plugin_entry", 0), 1);
        TK_CHECK_INT(elf_case(at[i], "tk_plugin_entryX", 0), 0);
        TK_CHECK_INT(elf_case(at[i], "tk_plugin_entr", 0), 0);
        /* the section table cut off: not an ELF file of this machine */
        TK_CHECK_INT(elf_case(at[i], "tk_plugin_entry", at[i] + 8), -1);
    }
#endif
}

TK_TEST(test_paths)
{
    char *d = tk_plugin_default_dir();
    char *s = tk_path_beside_binary("share/tickler");
    char *p = tk_plugin_default_path();
    char *want = tk_strprintf("%s:", d ? d : "");
    TK_CHECK(d && d[0] == '/' && strstr(d, "/lib/tickler/plugins"));
    TK_CHECK(s && s[0] == '/' && strstr(s, "/share/tickler"));
    /* the installed folder first, then SYSCONFDIR/tickler/plugins */
    TK_CHECK(p && strncmp(p, want, strlen(want)) == 0);
    TK_CHECK(p && strlen(p) > 16 && strcmp(p + strlen(p) - 16, "/tickler/plugins") == 0);
    free(want);
    free(p);
    free(d);
    free(s);
    TK_CHECK_INT(tk_log_level_parse("warn"), TK_LOG_WARN);
    TK_CHECK_INT(tk_log_level_parse("loud"), -1);
}

/* The real plugins, written elsewhere in the tree: they must all pass
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
        TK_CHECK_INT(p->hdr->abi_minor, TK_ABI_MINOR);
    }
    tk_registry_unload(&reg);
    tk_config_free(&cfg);
    free(absent);
}

int main(void)
{
    /* what the CLI reserves (core/cli/main.c), for the cli_bulk case */
    static const char *const commands[] = {"help", "send", "list", "show", NULL};
    fixtures = getenv("TK_FIXTURE_DIR");
    if (!fixtures) {
        fprintf(stderr, "TK_FIXTURE_DIR is not set (run through ctest)\n");
        return 1;
    }
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    tk_plugin_reserve_commands(commands);
    tk_plugin_log_configure(TK_LOG_DEBUG, sink, &logbuf);
    TK_RUN(test_bad_fixtures);
    TK_RUN(test_bad_strings);
    TK_RUN(test_broken_template);
    TK_RUN(test_duplicate);
    TK_RUN(test_missing_dir);
    TK_RUN(test_good_plugin);
    TK_RUN(test_unknown_plugin_key);
    TK_RUN(test_unsafe_permissions);
    TK_RUN(test_parent_folders);
    TK_RUN(test_links_and_odd_files);
    TK_RUN(test_loaded_file_is_checked_file);
    TK_RUN(test_search_path);
    TK_RUN(test_check_header_direct);
    TK_RUN(test_check_elf_reads);
    TK_RUN(test_paths);
    TK_RUN(test_real_plugins);
    tk_buf_free(&logbuf);
    remove_tree(tmpdir);
    return tk_test_done();
}
