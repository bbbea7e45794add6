/* test_config.c - the inih adapter: defaults, every kind of refusal with
 * FILE:LINE, path resolution and the routing of plugin sections. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "tk_test.h"

static char tmpdir[] = "/tmp/tk_test_config_XXXXXX";
static char ini[256];

/* Write TEXT to tmpdir/tickler.ini; returns its path. */
static const char *write_ini(const char *text)
{
    FILE *f;
    snprintf(ini, sizeof ini, "%s/tickler.ini", tmpdir);
    f = fopen(ini, "w");
    if (!f) {
        perror(ini);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    return ini;
}

/* Load TEXT and expect failure with message "PATH:LINE: WANT..." */
static void expect_error(const char *text, int line, const char *want)
{
    struct tk_config cfg;
    struct tk_error err = {0, ""};
    char prefix[600];
    int rc = tk_config_load(write_ini(text), 0, &cfg, &err);
    snprintf(prefix, sizeof prefix, "%s:%d: ", ini, line);
    TK_CHECK(rc != 0);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || !strstr(err.msg, want)) {
        fprintf(stderr, "  got: %s\n  want: %s%s\n", err.msg, prefix, want);
        TK_CHECK(!"error message");
    }
    tk_config_free(&cfg);
}

TK_TEST(test_defaults_missing_allowed)
{
    struct tk_config cfg;
    struct tk_error err = {0, ""};
    char path[600], want[600];
    snprintf(path, sizeof path, "%s/absent.ini", tmpdir);
    unsetenv("TICKLER_DSN");
    TK_CHECK_INT(tk_config_load(path, 1, &cfg, &err), 0);
    TK_CHECK_STR(cfg.store_driver, "sqlite");
    snprintf(want, sizeof want, "%s/tickler.db", tmpdir);
    TK_CHECK_STR(cfg.store_path, want);
    TK_CHECK(cfg.store_dsn == NULL);
    TK_CHECK_STR(cfg.transport_plugin, "file");
    TK_CHECK_STR(cfg.transport_from, "tickler <tickler@localhost>");
    TK_CHECK_INT(cfg.transport_connections, 1);
    TK_CHECK(cfg.plugins_dir == NULL);
    TK_CHECK(cfg.templates_dir == NULL);
    TK_CHECK_STR(cfg.firm_name, "Your accountant");
    TK_CHECK(cfg.firm_portal_url == NULL);
    TK_CHECK_INT(cfg.default_every_days, 3);
    TK_CHECK_INT(cfg.default_count, 1);
    TK_CHECK_INT(cfg.poll_seconds, 60);
    TK_CHECK_INT(cfg.batch_size, 500);
    TK_CHECK_INT(cfg.retry_base_seconds, 30);
    TK_CHECK_INT(cfg.retry_cap_seconds, 3600);
    TK_CHECK_INT(cfg.max_age_seconds, 259200);
    TK_CHECK_INT(cfg.max_attempts, 0);
    TK_CHECK_INT(cfg.lease_seconds, 300);
    TK_CHECK_INT(cfg.unrecorded_max, 8);
    TK_CHECK(cfg.lua_scripts == NULL);
    TK_CHECK_INT(cfg.lua_memory_limit_mb, 16);
    TK_CHECK_INT(cfg.lua_instruction_limit, 50000000);
    TK_CHECK_INT(cfg.lua_time_limit_ms, 1000);
    TK_CHECK(cfg.log_file == NULL);
    TK_CHECK_STR(cfg.log_level, "info");
    TK_CHECK_INT(cfg.nentries, 0);
    tk_config_free(&cfg);
}

TK_TEST(test_missing_refused)
{
    struct tk_config cfg;
    struct tk_error err = {0, ""};
    char path[600], want[700];
    snprintf(path, sizeof path, "%s/absent.ini", tmpdir);
    TK_CHECK(tk_config_load(path, 0, &cfg, &err) != 0);
    snprintf(want, sizeof want, "cannot read %s: No such file or directory", path);
    TK_CHECK_STR(err.msg, want);
    tk_config_free(&cfg);
}

TK_TEST(test_all_keys)
{
    struct tk_config cfg;
    struct tk_error err = {0, ""};
    char want[700];
    unsetenv("TICKLER_DSN");
    write_ini("; a full configuration\n"
              "[store]\ndriver = postgres\npath = data/t.db\ndsn = \"host=db dbname=t\"\n"
              "[transport]\nplugin = smtp\nfrom = Acme Tax <office@acme.example>\n"
              "connections = 4\nurl = smtp://localhost:2525\n"
              "[plugins]\ndir = /opt/tk/plugins\n"
              "[templates]\ndir = tmpl\n"
              "[firm]\nname = Acme Tax\nportal_url = https://portal.acme.example\n"
              "[reminders]\ndefault_every_days = 7\ndefault_count = 0\n"
              "[scheduler]\npoll_seconds = 5\nbatch_size = 100\n"
              "[delivery]\nretry_base_seconds = 10\nretry_cap_seconds = 600\n"
              "max_age_seconds = 3600\nmax_attempts = 5\nlease_seconds = 60\nunrecorded_max = 2\n"
              "[lua]\nscripts = ../scripts\nmemory_limit_mb = 32\n"
              "instruction_limit = 1000000\ntime_limit_ms = 250\n"
              "[log]\nfile = tickler.log\nlevel = debug\n"
              "[invoice]\nnumber_prefix = INV-\n");
    TK_CHECK_INT(tk_config_load(ini, 0, &cfg, &err), 0);
    TK_CHECK_STR(err.msg, "");
    TK_CHECK_STR(cfg.store_driver, "postgres");
    snprintf(want, sizeof want, "%s/data/t.db", tmpdir);
    TK_CHECK_STR(cfg.store_path, want);
    TK_CHECK_STR(cfg.store_dsn, "host=db dbname=t");
    TK_CHECK_STR(cfg.transport_plugin, "smtp");
    TK_CHECK_STR(cfg.transport_from, "Acme Tax <office@acme.example>");
    TK_CHECK_INT(cfg.transport_connections, 4);
    TK_CHECK_STR(cfg.plugins_dir, "/opt/tk/plugins");
    snprintf(want, sizeof want, "%s/tmpl", tmpdir);
    TK_CHECK_STR(cfg.templates_dir, want);
    TK_CHECK_STR(cfg.firm_name, "Acme Tax");
    TK_CHECK_STR(cfg.firm_portal_url, "https://portal.acme.example");
    TK_CHECK_INT(cfg.default_every_days, 7);
    TK_CHECK_INT(cfg.default_count, 0);
    TK_CHECK_INT(cfg.poll_seconds, 5);
    TK_CHECK_INT(cfg.batch_size, 100);
    TK_CHECK_INT(cfg.retry_base_seconds, 10);
    TK_CHECK_INT(cfg.retry_cap_seconds, 600);
    TK_CHECK_INT(cfg.max_age_seconds, 3600);
    TK_CHECK_INT(cfg.max_attempts, 5);
    TK_CHECK_INT(cfg.lease_seconds, 60);
    TK_CHECK_INT(cfg.unrecorded_max, 2);
    snprintf(want, sizeof want, "%s/../scripts", tmpdir);
    TK_CHECK_STR(cfg.lua_scripts, want);
    TK_CHECK_INT(cfg.lua_memory_limit_mb, 32);
    TK_CHECK_INT(cfg.lua_instruction_limit, 1000000);
    TK_CHECK_INT(cfg.lua_time_limit_ms, 250);
    snprintf(want, sizeof want, "%s/tickler.log", tmpdir);
    TK_CHECK_STR(cfg.log_file, want);
    TK_CHECK_STR(cfg.log_level, "debug");
    /* Plugin keys are kept raw, with their lines, for the plugins. */
    TK_CHECK_INT(cfg.nentries, 2);
    TK_CHECK_STR(cfg.entries[0].section, "transport");
    TK_CHECK_STR(cfg.entries[0].key, "url");
    TK_CHECK_INT(cfg.entries[0].line, 10);
    TK_CHECK_STR(cfg.entries[1].section, "invoice");
    TK_CHECK_STR(cfg.entries[1].value, "INV-");
    TK_CHECK_STR(tk_config_plugin_get(&cfg, "transport", "url"), "smtp://localhost:2525");
    TK_CHECK(tk_config_plugin_get(&cfg, "transport", "nope") == NULL);
    tk_config_free(&cfg);
}

TK_TEST(test_env_dsn_overrides)
{
    struct tk_config cfg;
    struct tk_error err = {0, ""};
    setenv("TICKLER_DSN", "host=other", 1);
    write_ini("[store]\ndsn = host=file\n");
    TK_CHECK_INT(tk_config_load(ini, 0, &cfg, &err), 0);
    TK_CHECK_STR(cfg.store_dsn, "host=other");
    tk_config_free(&cfg);
    unsetenv("TICKLER_DSN");
}

TK_TEST(test_bad_values)
{
    static const struct {
        const char *section, *key, *value, *want;
    } cases[] = {
        {"reminders", "default_count", "abc",
         "bad value 'abc' for default_count: expected an integer from 0 to 100"},
        {"reminders", "default_count", "101", "expected an integer from 0 to 100"},
        {"reminders", "default_every_days", "0", "expected an integer from 1 to 365"},
        {"reminders", "default_every_days", "3 days", "bad value '3 days'"},
        {"scheduler", "poll_seconds", "-1", "expected an integer from 1 to 86400"},
        {"scheduler", "batch_size", "100001", "expected an integer from 1 to 100000"},
        {"transport", "connections", "65", "expected an integer from 1 to 64"},
        {"transport", "from", "not an address", "bad value 'not an address' for from"},
        {"transport", "from", "Acme <broken>", "expected an address"},
        {"transport", "plugin", "", "expected a non-empty value"},
        {"store", "driver", "mysql",
         "bad value 'mysql' for driver: expected one of sqlite|postgres"},
        {"log", "level", "loud", "expected one of error|warn|info|debug"},
        {"lua", "memory_limit_mb", "0", "expected an integer from 1 to 4096"},
        {"lua", "memory_limit_mb", "4097", "expected an integer from 1 to 4096"},
        {"delivery", "max_attempts", "x", "bad value 'x' for max_attempts"},
        {"delivery", "unrecorded_max", "0", "expected an integer from 1 to 64"},
        {"delivery", "unrecorded_max", "65", "expected an integer from 1 to 64"},
        {"firm", "name", "", "bad value '' for name"},
    };
    char text[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "# comment\n[%s]\n%s = %s\n", cases[i].section, cases[i].key,
                 cases[i].value);
        expect_error(text, 3, cases[i].want);
    }
}

TK_TEST(test_unknown_and_duplicate)
{
    struct tk_config cfg;
    struct tk_error err = {0, ""};
    char want[700];

    expect_error("[store]\ndriver = sqlite\ncolour = red\n", 3, "unknown key 'colour' in [store]");
    expect_error("[reminders]\n\ndefault_count = 2\ndefault_count = 3\n", 4,
                 "duplicate key 'default_count' in [reminders]");
    expect_error("[invoice]\nprefix = A\n[store]\ndriver = sqlite\n[invoice]\nprefix = B\n", 6,
                 "duplicate key 'prefix' in [invoice] (first set on line 2)");
    expect_error("driver = sqlite\n", 1, "key 'driver' is outside any [section]");
    expect_error("[store]\ndriver = sqlite\nthis line has no equals sign\n", 3, "syntax error");
    expect_error("[store\n", 1, "syntax error");
    /* Only the first error is reported. */
    expect_error("[log]\nlevel = loud\nbogus\n", 2, "bad value 'loud'");

    /* An unknown section is kept for the plugins, reported only by
     * tk_config_check_plugins when no plugin claimed it. */
    write_ini("[firm]\nname = A\n\n[gadget]\nsize = 3\n");
    TK_CHECK_INT(tk_config_load(ini, 0, &cfg, &err), 0);
    TK_CHECK(tk_config_check_plugins(&cfg, &err) != 0);
    snprintf(want, sizeof want, "%s:5: unknown section [gadget]", ini);
    TK_CHECK(strncmp(err.msg, want, strlen(want)) == 0);
    tk_config_free(&cfg);
}

TK_TEST(test_retry_cap_below_base)
{
    struct tk_config cfg;
    struct tk_error err = {0, ""};
    write_ini("[delivery]\nretry_base_seconds = 100\nretry_cap_seconds = 10\n");
    TK_CHECK(tk_config_load(ini, 0, &cfg, &err) != 0);
    TK_CHECK(strstr(err.msg, "retry_cap_seconds (10) is less than retry_base_seconds (100)"));
    tk_config_free(&cfg);
}

TK_TEST(test_long_line_and_quotes)
{
    struct tk_config cfg;
    struct tk_error err = {0, ""};
    char *text = malloc(6000);
    /* A 300-character value is fine (inih's default limit is 200)... */
    snprintf(text, 6000,
             "[firm]\nportal_url = https://x.example/%0300d\nname = \" Acme;Co \" ; comment\n", 0);
    write_ini(text);
    TK_CHECK_INT(tk_config_load(ini, 0, &cfg, &err), 0);
    TK_CHECK(cfg.firm_portal_url && strlen(cfg.firm_portal_url) == 318);
    TK_CHECK_STR(cfg.firm_name, " Acme;Co ");
    tk_config_free(&cfg);
    /* ...a 5000-character line is refused, not split in two. */
    snprintf(text, 6000, "[firm]\n\nportal_url = https://x.example/%05000d\n", 0);
    expect_error(text, 3, "line too long");
    free(text);
    /* Indented lines are ordinary lines, not continuations. */
    write_ini("[reminders]\n  default_count = 4\n");
    TK_CHECK_INT(tk_config_load(ini, 0, &cfg, &err), 0);
    TK_CHECK_INT(cfg.default_count, 4);
    tk_config_free(&cfg);
}

TK_TEST(test_relative_config_path)
{
    struct tk_config cfg;
    struct tk_error err = {0, ""};
    char cwd[1024], want[700];
    TK_CHECK(getcwd(cwd, sizeof cwd) != NULL);
    write_ini("[store]\npath = rel.db\n[plugins]\ndir = /abs/plugins\n");
    TK_CHECK_INT(chdir(tmpdir), 0);
    TK_CHECK_INT(tk_config_load("tickler.ini", 0, &cfg, &err), 0);
    /* Resolved against the config's folder, made absolute. */
    snprintf(want, sizeof want, "%s/rel.db", tmpdir);
    TK_CHECK_STR(cfg.store_path, want);
    TK_CHECK_STR(cfg.plugins_dir, "/abs/plugins");
    TK_CHECK_STR(cfg.dir, tmpdir);
    {
        char *p = tk_config_path(&cfg, "x/y");
        snprintf(want, sizeof want, "%s/x/y", tmpdir);
        TK_CHECK_STR(p, want);
        free(p);
    }
    tk_config_free(&cfg);
    TK_CHECK_INT(chdir(cwd), 0);
}

TK_TEST(test_plugin_claims)
{
    struct tk_config cfg;
    struct tk_error err = {0, ""};
    static const char *const both[] = {"prefix", "start", NULL};
    static const char *const one[] = {"prefix", NULL};
    static const char *const url[] = {"url", NULL};
    char want[700];

    write_ini("[transport]\nplugin = smtp\nurl = smtp://x\n\n"
              "[invoice]\nprefix = INV-\nstart = 1000\n");
    TK_CHECK_INT(tk_config_load(ini, 0, &cfg, &err), 0);
    /* Before any claim, everything is unknown. */
    TK_CHECK(tk_config_check_plugins(&cfg, &err) != 0);
    snprintf(want, sizeof want, "%s:3: unknown key 'url' in [transport]", ini);
    TK_CHECK(strncmp(err.msg, want, strlen(want)) == 0);

    /* A plugin that accepts fewer keys than the section has: the first
     * stranger is named with its line and the accepted keys. */
    TK_CHECK(tk_config_claim(&cfg, "invoice", one, 1, &err) != 0);
    snprintf(want, sizeof want, "%s:7: unknown key 'start' in [invoice] (accepted: prefix)", ini);
    TK_CHECK_STR(err.msg, want);
    TK_CHECK(tk_config_claim(&cfg, "invoice", NULL, 0, &err) != 0);
    TK_CHECK(strstr(err.msg, "this section accepts no keys") != NULL);

    TK_CHECK_INT(tk_config_claim(&cfg, "invoice", both, 2, &err), 0);
    TK_CHECK_INT(tk_config_claim(&cfg, "transport", url, 1, &err), 0);
    TK_CHECK_INT(tk_config_check_plugins(&cfg, &err), 0);
    TK_CHECK_STR(tk_config_plugin_get(&cfg, "invoice", "start"), "1000");
    /* Claiming a section the file does not have is fine. */
    TK_CHECK_INT(tk_config_claim(&cfg, "chat", both, 2, &err), 0);
    tk_config_free(&cfg);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    TK_RUN(test_defaults_missing_allowed);
    TK_RUN(test_missing_refused);
    TK_RUN(test_all_keys);
    TK_RUN(test_env_dsn_overrides);
    TK_RUN(test_bad_values);
    TK_RUN(test_unknown_and_duplicate);
    TK_RUN(test_retry_cap_below_base);
    TK_RUN(test_long_line_and_quotes);
    TK_RUN(test_relative_config_path);
    TK_RUN(test_plugin_claims);
    snprintf(ini, sizeof ini, "%s/tickler.ini", tmpdir);
    unlink(ini);
    rmdir(tmpdir);
    return tk_test_done();
}
