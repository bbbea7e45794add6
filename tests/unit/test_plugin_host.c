/* test_plugin_host.c - the services of struct tk_host as plugins get them
 * from the real loader: the allocation cap ([plugins] memory_limit_mb),
 * the ABI 1.1 services (format_date, format_amount, check_template), and
 * a plugin built against the ABI 1.0 headers (tests/fixtures/sdk-1.0)
 * working in today's grown host. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "plugin/plugin.h"
#include "tk_test.h"

static const char *fixtures;
static char tmpdir[] = "/tmp/tk_test_host_XXXXXX";
static struct tk_buf logbuf;

static void sink(void *data, int level, const char *plugin, const char *msg)
{
    tk_buf_printf(data, "%s: %s\n", plugin, msg);
}

static char *case_dir(const char *name)
{
    return tk_strprintf("%s/plugins/%s", fixtures, name);
}

/* Load fixture CASE with a config of TEXT; 0 and *cfg loaded, or the
 * loader's status. */
static int load(const char *fixture_case, const char *text, struct tk_config *cfg,
                struct tk_registry *reg, struct tk_error *err)
{
    char *dir = case_dir(fixture_case);
    char *ini = tk_strprintf("%s/tickler.ini", tmpdir);
    FILE *f = fopen(ini, "w");
    int rc;
    fputs(text, f);
    fclose(f);
    rc = tk_config_load(ini, 0, cfg, err);
    if (rc == 0)
        rc = tk_registry_load(reg, dir, cfg, err);
    unlink(ini);
    free(ini);
    free(dir);
    return rc;
}

static int seq_next(void *engine, const char *type, const char *name, int64_t *out,
                    struct tk_error *err)
{
    *out = ++*(int *)engine;
    return 0;
}

TK_TEST(test_memory_cap)
{
    struct tk_registry reg;
    struct tk_config cfg;
    struct tk_error err = {0, ""};
    const struct tk_host *h;
    struct tk_plugin *p;
    size_t base;
    char *a, *b, *c;

    TK_CHECK_INT(load("good", "[plugins]\nmemory_limit_mb = 1\n", &cfg, &reg, &err), 0);
    TK_CHECK_INT(reg.n, 1);
    if (reg.n != 1)
        goto out;
    p = reg.v[0];
    h = &p->host;
    TK_CHECK_INT(p->mem_limit, 1 << 20);
    base = p->mem_used; /* the widget's state from init */
    TK_CHECK(base > 0);
    tk_buf_reset(&logbuf);
    a = h->alloc(h, 600 * 1024);
    TK_CHECK(a != NULL);
    TK_CHECK_INT(p->mem_used, base + 600 * 1024);
    b = h->alloc(h, 600 * 1024); /* over the cap: refused, logged once */
    TK_CHECK(b == NULL);
    TK_CHECK(h->alloc(h, 600 * 1024) == NULL);
    TK_CHECK_INT(p->mem_refused, 2);
    TK_CHECK(logbuf.data &&
             strstr(logbuf.data, "widget.so: allocation of 614400 bytes refused: "
                                 "it holds ") &&
             strstr(logbuf.data, "[plugins] memory_limit_mb is 1\n"));
    TK_CHECK(logbuf.data && !strstr(strstr(logbuf.data, "refused") + 1, "refused"));
    /* realloc: growing past the cap fails and leaves the block as it was */
    memset(a, 'x', 600 * 1024);
    TK_CHECK(h->realloc(h, a, 1200 * 1024) == NULL);
    TK_CHECK(a[600 * 1024 - 1] == 'x');
    TK_CHECK_INT(p->mem_used, base + 600 * 1024);
    c = h->realloc(h, a, 100); /* shrinking gives back */
    TK_CHECK(c != NULL && c[99] == 'x');
    TK_CHECK_INT(p->mem_used, base + 100);
    b = h->alloc(h, 600 * 1024); /* room again */
    TK_CHECK(b != NULL);
    h->free(h, b);
    h->free(h, c);
    h->free(h, NULL);
    TK_CHECK_INT(p->mem_used, base);
    /* zero bytes is one byte, never NULL; overflow is refused */
    a = h->alloc(h, 0);
    TK_CHECK(a != NULL);
    h->free(h, a);
    TK_CHECK(h->alloc(h, (size_t)-8) == NULL);
    TK_CHECK_INT(p->mem_used, base);
    /* aligned like malloc */
    a = h->alloc(h, 3);
    TK_CHECK(((uintptr_t)a % _Alignof(max_align_t)) == 0);
    h->free(h, a);
out:
    tk_registry_unload(&reg);
    tk_config_free(&cfg);
}

/* A plugin that keeps allocating is stopped by the cap, and the loader
 * says so when its init fails. */
TK_TEST(test_memory_hog)
{
    struct tk_registry reg;
    struct tk_config cfg;
    struct tk_error err = {0, ""};
    TK_CHECK(load("hog", "[plugins]\nmemory_limit_mb = 2\n", &cfg, &reg, &err) != 0);
    TK_CHECK(strstr(err.msg, "hog/widget.so: init failed: out of memory at 4194304 bytes (it "
                             "reached [plugins] memory_limit_mb = 2)") != NULL);
    if (!strstr(err.msg, "memory_limit_mb = 2"))
        fprintf(stderr, "  got: %s\n", err.msg);
    TK_CHECK_INT(reg.n, 0);
    tk_config_free(&cfg);
}

TK_TEST(test_format_services)
{
    struct tk_registry reg;
    struct tk_config cfg;
    struct tk_error err = {0, ""};
    struct tk_kv facts = {0};
    struct tk_item_ctx ctx = {NULL, NULL, &facts, "widget", 2, NULL, NULL};
    const struct tk_host *h;
    char out[64];

    TK_CHECK_INT(load("good", "", &cfg, &reg, &err), 0);
    if (reg.n != 1)
        goto out;
    h = &reg.v[0]->host;
    TK_CHECK(TK_HOST_HAS(h, format_date) && TK_HOST_HAS(h, format_amount) &&
             TK_HOST_HAS(h, check_template));
    TK_CHECK_INT(h->abi_minor, TK_ABI_MINOR);
    TK_CHECK_INT(h->size, sizeof(struct tk_host));

    tk_kv_set(&facts, "language", "en");
    TK_CHECK_INT(h->format_date(&ctx, "2026-12-31", out, sizeof out, &err), 0);
    TK_CHECK_STR(out, "31 December 2026");
    TK_CHECK_INT(h->format_amount(&ctx, "1234.50", "EUR", out, sizeof out, &err), 0);
    TK_CHECK_STR(out, "\xe2\x82\xac"
                      "1,234.50");
    TK_CHECK_INT(h->format_amount(&ctx, "1234567.5", "CHF", out, sizeof out, &err), 0);
    TK_CHECK_STR(out, "CHF 1,234,567.50");
    TK_CHECK_INT(h->format_amount(&ctx, "007", "GBP", out, sizeof out, &err), 0);
    TK_CHECK_STR(out, "\xc2\xa3"
                      "7.00");
    tk_kv_set(&facts, "language", "nl");
    TK_CHECK_INT(h->format_date(&ctx, "2027-03-01", out, sizeof out, &err), 0);
    TK_CHECK_STR(out, "1 maart 2027");
    TK_CHECK_INT(h->format_amount(&ctx, "1234.50", "EUR", out, sizeof out, &err), 0);
    TK_CHECK_STR(out, "\xe2\x82\xac 1.234,50");
    TK_CHECK_INT(h->format_amount(&ctx, "999", "USD", out, sizeof out, &err), 0);
    TK_CHECK_STR(out, "$ 999,00");
    /* no ctx: English */
    TK_CHECK_INT(h->format_date(NULL, "2028-02-29", out, sizeof out, &err), 0);
    TK_CHECK_STR(out, "29 February 2028");
    /* refusals: not a date, not an amount, too small a buffer */
    TK_CHECK_INT(h->format_date(&ctx, "2027-02-29", out, sizeof out, &err), TK_EINVAL);
    TK_CHECK_STR(out, "");
    TK_CHECK_STR(err.msg, "'2027-02-29' is not a date like 2026-12-31");
    TK_CHECK_INT(h->format_date(&ctx, "2026-13-01", out, sizeof out, &err), TK_EINVAL);
    TK_CHECK_INT(h->format_amount(&ctx, "1.234", "EUR", out, sizeof out, &err), TK_EINVAL);
    TK_CHECK_INT(h->format_amount(&ctx, "-5", "EUR", out, sizeof out, &err), TK_EINVAL);
    TK_CHECK_INT(h->format_amount(&ctx, "5.", "EUR", out, sizeof out, &err), TK_EINVAL);
    TK_CHECK_INT(h->format_amount(&ctx, "5", "eur", out, sizeof out, &err), TK_EINVAL);
    TK_CHECK_INT(h->format_date(&ctx, "2026-12-31", out, 8, &err), TK_ERR);
    TK_CHECK_STR(out, "");
    TK_CHECK_INT(h->format_amount(&ctx, "1234.50", "EUR", out, 6, NULL), TK_ERR);

    /* check_template: the host's own parser, errors as ORIGIN:LINE */
    TK_CHECK_INT(
        h->check_template(h, "[notification]\nSubject: Hi {{item.title}}\n\nBody\n", "mine", &err),
        0);
    TK_CHECK(h->check_template(h, "[notification]\nSubject: Hi\n\nDear {{contact.name}\n", "mine",
                               &err) != 0);
    TK_CHECK(strncmp(err.msg, "mine:4: ", 8) == 0);
out:
    tk_kv_free(&facts);
    tk_registry_unload(&reg);
    tk_config_free(&cfg);
}

/* A plugin compiled against the ABI 1.0 headers, in today's host. */
TK_TEST(test_sdk10_plugin)
{
    struct tk_registry reg;
    struct tk_config cfg;
    struct tk_error err = {0, ""};
    struct tk_kv fields = {0}, vars = {0}, facts = {0};
    int counter = 6;
    struct tk_item_ctx ctx = {&fields, &vars, &facts, "legacy", 1, &counter, seq_next};
    const struct tk_plugin *p;

    tk_buf_reset(&logbuf);
    TK_CHECK_INT(load("sdk10", "[legacy]\ncolour = red\n", &cfg, &reg, &err), 0);
    if (err.msg[0])
        fprintf(stderr, "  %s\n", err.msg);
    p = tk_registry_item(&reg, "legacy");
    TK_CHECK(p != NULL);
    if (!p)
        goto out;
    /* built for 1.0: its descriptor is exactly the frozen 1.0 size, which
     * today's struct may outgrow; the host is 1.1 */
    TK_CHECK_INT(p->hdr->abi_minor, 0);
    TK_CHECK_INT(p->hdr->size, TK_ITEM_TYPE_SIZE_1_0);
    TK_CHECK(TK_DESCR_HAS(p->item, section));
    TK_CHECK(logbuf.data && strstr(logbuf.data, "legacy: init colour=red abi=1.0 host=1.3\n"));
    TK_CHECK_INT(p->item->prepare(p->state, &ctx, &err), 0);
    TK_CHECK_STR(tk_kv_get(&fields, "number"), "W-7");
    ctx.phase = 2;
    tk_kv_set(&facts, "title", "Old widget");
    TK_CHECK_INT(p->item->vars(p->state, &ctx, &err), 0);
    TK_CHECK_STR(tk_kv_get(&vars, "legacy.colour"), "red");
    TK_CHECK_STR(tk_kv_get(&vars, "legacy.shout"), "Old widget");
out:
    tk_registry_unload(&reg);
    TK_CHECK(logbuf.data && strstr(logbuf.data, "legacy: fini\n"));
    tk_kv_free(&fields);
    tk_kv_free(&vars);
    tk_kv_free(&facts);
    tk_config_free(&cfg);
}

/* The presence helpers themselves, on a host and a descriptor shorter than
 * today's structs (what a 1.0 host or plugin hands over). */
TK_TEST(test_presence_helpers)
{
    struct tk_host h;
    struct tk_item_type t;
    memset(&h, 0, sizeof h);
    memset(&t, 0, sizeof t);
    h.size = (uint32_t)TK_HOST_SIZE_1_0;
    TK_CHECK(TK_HOST_HAS(&h, config_dir));
    TK_CHECK(!TK_HOST_HAS(&h, format_date));
    h.size = (uint32_t)sizeof h;
    TK_CHECK(TK_HOST_HAS(&h, check_template));
    TK_CHECK(!TK_HOST_HAS((const struct tk_host *)NULL, log));
    t.hdr.size = (uint32_t)TK_ITEM_TYPE_SIZE_1_0;
    TK_CHECK(TK_DESCR_HAS(&t, section));
    t.hdr.size = (uint32_t)TK_ITEM_TYPE_SIZE_1_0 - 1;
    TK_CHECK(!TK_DESCR_HAS(&t, section));
    TK_CHECK(TK_DESCR_HAS(&t, vars));
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
    TK_RUN(test_memory_cap);
    TK_RUN(test_memory_hog);
    TK_RUN(test_format_services);
    TK_RUN(test_sdk10_plugin);
    TK_RUN(test_presence_helpers);
    tk_buf_free(&logbuf);
    rmdir(tmpdir);
    return tk_test_done();
}
