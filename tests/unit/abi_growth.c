/* abi_growth.c - the SDK's first minor bump must not refuse older plugins.
 *
 * This test is built (tests/CMakeLists.txt, test_abi_growth) from the real
 * loader, host, config and template sources compiled with
 * -DTK_TEST_ABI_GROWTH: a host of ABI 1.4 whose struct tk_host, struct
 * tk_item_type and struct tk_transport each have a field appended, as the
 * next minor would.  Into it go, from one folder:
 *   legacy.so  built against tests/fixtures/sdk-1.0 (the headers of ABI 1.0)
 *   widget.so  built against today's headers (ABI 1.3)
 *   grown.so   built with -DTK_TEST_ABI_GROWTH too (ABI 1.4)
 * All three must load, see their host, and work; the host reads the
 * appended descriptor field only of the plugin whose descriptor has it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/plugin.h"
#include "tk_test.h"

#ifndef TK_TEST_ABI_GROWTH
#error "build with -DTK_TEST_ABI_GROWTH"
#endif

static const char *fixtures;
static char tmpdir[] = "/tmp/tk_test_growth_XXXXXX";
static struct tk_buf logbuf;

static void sink(void *data, int level, const char *plugin, const char *msg)
{
    tk_buf_printf(data, "%s: %s\n", plugin, msg);
}

static int copy(const char *fixture_case, const char *file)
{
    char *src = tk_strprintf("%s/plugins/%s/%s", fixtures, fixture_case, file);
    char *dst = tk_strprintf("%s/%s", tmpdir, file);
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
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
        rc = chmod(dst, 0755);
    free(src);
    free(dst);
    return rc;
}

static int seq_next(void *engine, const char *type, const char *name, int64_t *out,
                    struct tk_error *err)
{
    *out = ++*(int *)engine;
    return 0;
}

/* Create and render-prepare one item of TYPE through the plugin. */
static void exercise(const struct tk_plugin *p, const char *type)
{
    struct tk_kv fields = {0}, vars = {0}, facts = {0};
    int counter = 0;
    struct tk_item_ctx ctx = {&fields, &vars, &facts, type, 1, &counter, seq_next};
    struct tk_error err = {0, ""};
    char key[64];
    TK_CHECK_INT(p->item->prepare(p->state, &ctx, &err), 0);
    TK_CHECK_STR(tk_kv_get(&fields, "number"), "W-1");
    ctx.phase = 2;
    tk_kv_set(&facts, "title", "T");
    tk_kv_set(&facts, "language", "nl");
    tk_kv_set(&fields, "due_date", "2026-12-31");
    TK_CHECK_INT(p->item->vars(p->state, &ctx, &err), 0);
    snprintf(key, sizeof key, "%s.shout", type);
    TK_CHECK_STR(tk_kv_get(&vars, key), "T");
    /* 1.1 and later use the host's format_date; 1.0 has no such service */
    snprintf(key, sizeof key, "%s.due_text", type);
    if (p->hdr->abi_minor >= 1)
        TK_CHECK_STR(tk_kv_get(&vars, key), "31 december 2026");
    else
        TK_CHECK(tk_kv_get(&vars, key) == NULL);
    tk_kv_free(&fields);
    tk_kv_free(&vars);
    tk_kv_free(&facts);
}

TK_TEST(test_older_plugins_load_into_a_grown_host)
{
    struct tk_registry reg;
    struct tk_error err = {0, ""};
    const struct tk_plugin *legacy, *widget, *grown;

    TK_CHECK_INT(TK_ABI_MINOR, 4);
    TK_CHECK(sizeof(struct tk_host) > TK_HOST_SIZE_1_0);
    TK_CHECK(sizeof(struct tk_item_type) > TK_ITEM_TYPE_SIZE_1_0);
    TK_CHECK(sizeof(struct tk_transport) > TK_TRANSPORT_SIZE_1_0);
    TK_CHECK_INT(copy("sdk10", "legacy.so"), 0);
    TK_CHECK_INT(copy("good", "widget.so"), 0);
    TK_CHECK_INT(copy("grown", "grown.so"), 0);

    TK_CHECK_INT(tk_registry_load(&reg, tmpdir, NULL, &err), 0);
    if (err.msg[0])
        fprintf(stderr, "  %s\n", err.msg);
    TK_CHECK_INT(reg.n, 3);
    legacy = tk_registry_item(&reg, "legacy");
    widget = tk_registry_item(&reg, "widget");
    grown = tk_registry_item(&reg, "grown");
    TK_CHECK(legacy && widget && grown);
    if (!legacy || !widget || !grown)
        goto out;
    TK_CHECK_INT(legacy->hdr->abi_minor, 0);
    TK_CHECK_INT(widget->hdr->abi_minor, 3);
    TK_CHECK_INT(grown->hdr->abi_minor, 4);
    /* ABI 1.2's on_reply (issue 15): a 1.0 descriptor ends before it, so
     * the host gives such a plugin's items the hold instead */
    TK_CHECK(!TK_DESCR_HAS(legacy->item, on_reply));
    TK_CHECK(TK_DESCR_HAS(widget->item, on_reply));
    /* Shorter descriptors than the host's struct, read only as far as they
     * go: the appended field exists in the grown plugin's alone. */
    TK_CHECK(legacy->hdr->size < sizeof(struct tk_item_type));
    TK_CHECK(widget->hdr->size < sizeof(struct tk_item_type));
    TK_CHECK_INT(grown->hdr->size, sizeof(struct tk_item_type));
    TK_CHECK(!TK_DESCR_HAS(legacy->item, test_growth));
    TK_CHECK(!TK_DESCR_HAS(widget->item, test_growth));
    TK_CHECK(TK_DESCR_HAS(grown->item, test_growth));
    TK_CHECK_STR(grown->item->test_growth, "from the plugin");
    /* Each saw the grown host; the grown plugin found the new field. */
    TK_CHECK(logbuf.data && strstr(logbuf.data, "legacy: init colour=none abi=1.0 host=1.4\n"));
    TK_CHECK(logbuf.data && strstr(logbuf.data, "widget: init colour=none abi=1.3 host=1.4\n"));
    TK_CHECK(logbuf.data && strstr(logbuf.data, "grown: init colour=none abi=1.4 host=1.4\n"));
    TK_CHECK(logbuf.data && strstr(logbuf.data, "grown: host grew: grown\n"));
    exercise(legacy, "legacy");
    exercise(widget, "widget");
    exercise(grown, "grown");
out:
    tk_registry_unload(&reg);
}

int main(void)
{
    fixtures = getenv("TK_FIXTURE_DIR");
    if (!fixtures) {
        fprintf(stderr, "TK_FIXTURE_DIR is not set (run through ctest)\n");
        return 1;
    }
    if (!mkdtemp(tmpdir) || chmod(tmpdir, 0755) != 0) {
        perror("mkdtemp");
        return 1;
    }
    tk_plugin_log_configure(TK_LOG_DEBUG, sink, &logbuf);
    TK_RUN(test_older_plugins_load_into_a_grown_host);
    tk_buf_free(&logbuf);
    {
        char *cmd = tk_strprintf("rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
        free(cmd);
    }
    return tk_test_done();
}
