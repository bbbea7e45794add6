/* main.c - tickler's entry point: global options, the command lookup, one
 * transaction per command, delivery of what the command queued, and the
 * mapping from failures to exit statuses (0 ok, 1 failure, 2 usage). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lua/pipeline.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tickler [-c FILE] [--now TIME] [--json] COMMAND ...\n"
            "  -c FILE        config; default $TICKLER_CONFIG, else ./tickler.ini, else\n"
            "                 %s\n"
            "  --now TIME     the clock, ISO 8601 UTC (2026-12-01T09:00:00Z); also $TICKLER_NOW\n"
            "  --json         machine-readable output on stdout, one JSON document\n"
            "  -V, --version  version, plugin ABI and library versions\n"
            "  -h, --help     this list; tickler COMMAND --help: one command\n\n"
            "commands:\n",
            tk_config_system_path());
    for (const struct tk_cli_command *c = tk_cli_commands; c->name; c++) {
        if (strlen(c->usage) > 58)
            fprintf(f, "  %s\n  %-58s %s\n", c->usage, "", c->help);
        else
            fprintf(f, "  %-58s %s\n", c->usage, c->help);
    }
    fputs("  COMMAND ACCOUNT [--message TEXT]                           bulk commands of the item "
          "plugins (request-approvals: R4)\n\n"
          "Exit status: 0 success, 1 failure, 2 usage error.  The manual: man tickler\n"
          "(tickler.ini(5) for the configuration, tickler-lua(7), tickler-plugin(7)).\n",
          f);
}

static const struct tk_cli_command *lookup(int argc, char **argv, int *used)
{
    for (const struct tk_cli_command *c = tk_cli_commands; c->name; c++) {
        if (strcmp(c->name, argv[0]) != 0)
            continue;
        if (!c->sub) {
            *used = 1;
            return c;
        }
        if (argc > 1 && strcmp(c->sub, argv[1]) == 0) {
            *used = 2;
            return c;
        }
    }
    return NULL;
}

static int has_subcommands(const char *name)
{
    for (const struct tk_cli_command *c = tk_cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0 && c->sub)
            return 1;
    return 0;
}

/* A plugin's bulk command may not be one of ours: the loader refuses it
 * (tk_plugin_reserve_commands).  "help" is ours too (tickler help). */
static void reserve_command_names(void)
{
    static const char *names[64];
    size_t n = 0;
    names[n++] = "help";
    for (const struct tk_cli_command *k = tk_cli_commands; k->name && n + 1 < 64; k++)
        if (strcmp(names[n - 1], k->name) != 0)
            names[n++] = k->name;
    names[n] = NULL;
    tk_plugin_reserve_commands(names);
}

static int fail(struct tk_error *err)
{
    fprintf(stderr, "tickler: %s\n", err->msg[0] ? tk_cli_text(err->msg) : "failed");
    return err->code == TK_EUSAGE ? 2 : 1;
}

/* The engine's warnings, escaped for the terminal; the dispatcher's
 * threads call this too, hence a buffer of its own per call. */
static void warn_line(void *u, const char *msg)
{
    struct tk_buf b = {0};
    (void)u;
    fprintf(stderr, "tickler: warning: %s\n", tk_cli_escape(&b, msg) == 0 ? b.data : "?");
    tk_buf_free(&b);
}

/* A bulk command declared by an item plugin: `tickler CMD ACCOUNT [--message T]`. */
static int parse_bulk(const char *cmd, int argc, char **argv, struct tk_cli_args *a,
                      struct tk_error *err)
{
    static const char *const spec[] = {"message=", NULL};
    int rc = tk_cli_parse(argc, argv, spec, a, err);
    if (rc)
        return rc;
    if (a->pos.n != 1)
        return tk_error_set(err, TK_EUSAGE, "usage: tickler %s ACCOUNT [--message TEXT]", cmd);
    return 0;
}

static int run_bulk(struct tk_cli *c, const char *cmd, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    int n = 0, rc;
    if ((rc = tk_cli_account(c, a->pos.v[0], &acc, err)) ||
        (rc = tk_engine_bulk(c->e, cmd, acc.id, tk_cli_opt(a, "message"), &n, err)))
        goto out;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "account", json_integer(acc.id));
        json_object_set_new(o, "items", json_integer(n));
        tk_cli_emit(o);
    } else {
        printf("%s: one request about %d item%s sent to account %s\n", tk_cli_text(cmd), n,
               n == 1 ? "" : "s", tk_cli_text(acc.name));
    }
out:
    tk_account_free(&acc);
    return rc;
}

/* A word that is none of our commands is a plugin's bulk command or a
 * usage error.  Only the plugins can tell, so they load with the
 * configuration alone (no store: an unknown command or a bulk command's
 * usage error creates no store file and contacts no database); the
 * caller opens the store afterwards.  Bulk commands are rare enough that
 * loading the plugins twice does not matter. */
static int check_bulk(struct tk_cli *c, const char *cmd, int argc, char **argv,
                      struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_engine *e = NULL;
    int rc;
    if ((rc = tk_engine_open(&e, c->config_path, c->now, TK_OPEN_NO_STORE | TK_OPEN_LAZY, err)))
        return rc;
    tk_engine_set_warn(e, warn_line, NULL);
    if (!(rc = tk_engine_load_plugins(e, err)) &&
        !tk_registry_bulk(tk_engine_plugins(e), cmd, &(const struct tk_bulk_spec *){0}))
        rc = tk_error_set(err, TK_EUSAGE, "unknown command '%s' (see tickler --help)", cmd);
    tk_engine_close(e);
    return rc ? rc : parse_bulk(cmd, argc, argv, a, err);
}

static int deliver(struct tk_cli *c)
{
    struct tk_dispatch_stats st;
    struct tk_error err = {0};
    int64_t queued = 0, dead = 0;
    if (tk_engine_dispatch(c->e, &st, &err)) {
        fprintf(stderr,
                "tickler: warning: delivery stopped: %s; queued mail goes out on a later tick\n",
                tk_cli_text(err.msg));
        return 0;
    }
    if (st.temporary + st.unknown > 0 && tk_engine_outbox_counts(c->e, &queued, &dead, &err) == 0 &&
        queued > 0)
        fprintf(stderr,
                "tickler: warning: %lld message%s could not be delivered now and stay%s "
                "queued for a later tick\n",
                (long long)queued, queued == 1 ? "" : "s", queued == 1 ? "s" : "");
    if (st.permanent)
        fprintf(stderr,
                "tickler: warning: %zu message%s refused for good; see tickler outbox --failed\n",
                st.permanent, st.permanent == 1 ? " was" : "s were");
    return 0;
}

int main(int argc, char **argv)
{
    struct tk_cli c;
    struct tk_cli_args args = {0};
    struct tk_error err = {0};
    const struct tk_cli_command *cmd = NULL;
    const char *env_now = getenv("TICKLER_NOW");
    int i, used = 0, rc = 0, flags, version = 0;

    /* glibc gives memory back to the kernel whenever 128 KiB lie free at
     * the top of the heap.  A command that renders and frees thousands of
     * messages then spent a third of its time in brk() and the page faults
     * after it (57,000 brk calls for a Lua stage creating 10,000 items,
     * bench/RESULTS.md).  Keep up to 8 MiB; the daemon stays near 10 MiB. */
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
    mallopt(M_TOP_PAD, 1 << 20);
    memset(&c, 0, sizeof c);
    reserve_command_names();
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (++i >= argc)
                return fprintf(stderr, "tickler: %s needs a file\n", a), 2;
            c.config_path = argv[i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            c.config_path = a + 9;
        } else if (strcmp(a, "--now") == 0) {
            if (++i >= argc)
                return fprintf(stderr, "tickler: --now needs a time\n"), 2;
            c.now_arg = argv[i];
        } else if (strncmp(a, "--now=", 6) == 0) {
            c.now_arg = a + 6;
        } else if (strcmp(a, "--json") == 0) {
            c.json = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            version = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "tickler: unknown option %s (see tickler --help)\n", tk_cli_text(a));
            return 2;
        } else {
            break;
        }
    }
    if (version) {
        tk_cli_print_version(c.json);
        return 0;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    /* Help never reads the configuration or touches the store. */
    if (strcmp(argv[i], "help") == 0) {
        if (i + 1 >= argc) {
            usage(stdout);
            return 0;
        }
        return tk_cli_command_help(argc - i - 1, argv + i + 1);
    }
    if (tk_cli_wants_help(argc - i - 1, argv + i + 1))
        return tk_cli_command_help(argc - i, argv + i);
    cmd = lookup(argc - i, argv + i, &used);
    if (!cmd && has_subcommands(argv[i])) {
        fprintf(stderr, "tickler: unknown command '%s %s' (see tickler --help)\n",
                tk_cli_text(argv[i]), i + 1 < argc ? tk_cli_text(argv[i + 1]) : "");
        return 2;
    }
    if (!c.now_arg && env_now && *env_now)
        c.now_arg = env_now;
    if (c.now_arg) {
        /* before 1970 or after 9999 a time is not one the store, the
         * Date header or the audit trail can hold (issue 11 item 10) */
        if (tk_time_parse(c.now_arg, &c.now) == 0 && (c.now < 0 || c.now > 253402300799LL)) {
            fprintf(stderr, "tickler: --now: '%s' is outside 1970-01-01 to 9999-12-31\n",
                    tk_cli_text(c.now_arg));
            return 2;
        }
        if (tk_time_parse(c.now_arg, &c.now)) {
            fprintf(stderr,
                    "tickler: --now: '%s' is not an ISO 8601 UTC time like 2026-12-01T09:00:00Z\n",
                    tk_cli_text(c.now_arg));
            return 2;
        }
    } else {
        c.now = tk_time_real();
    }
    flags = cmd ? cmd->flags : TK_CMD_TX | TK_CMD_SENDS;
    /* The arguments are checked before anything is opened (cli.h). */
    if (cmd)
        rc = cmd->parse(argc - i - used, argv + i + used, &args, &err);
    else
        rc = check_bulk(&c, argv[i], argc - i - 1, argv + i + 1, &args, &err);
    if (rc)
        goto done;
    if (flags & TK_CMD_NO_ENGINE) {
        rc = cmd->run(&c, &args, &err);
        goto done;
    }
    if ((rc = tk_engine_open(&c.e, c.config_path, c.now,
                             ((flags & TK_CMD_NO_STORE) ? TK_OPEN_NO_STORE : 0) |
                                 ((flags & TK_CMD_ALL_PLUGINS) ? 0 : TK_OPEN_LAZY),
                             &err)))
        goto done;
    tk_engine_set_warn(c.e, warn_line, NULL);
    if (c.now_arg)
        tk_engine_set_clock_offset(c.e, c.now - tk_time_real());
    /* A bulk command is declared by a plugin: they load first. */
    if (!cmd && (rc = tk_engine_load_plugins(c.e, &err)))
        goto done;
    /* A broken template file is reported by every command that may send
     * (tick and run report it themselves, into the daemon's log).  What
     * parses is kept for this command's emails: one read of each file. */
    if (flags & TK_CMD_SENDS)
        tk_engine_check_templates_keep(c.e);
    /* Only commands that may run an automation load the scripts (a broken
     * one refuses those only, test_lua_broken_script.py). */
    if (tk_engine_has_store(c.e) && (flags & TK_CMD_AUTOMATIONS) &&
        (rc = tk_pipelines_open(c.e, &c.pipelines, &err)))
        goto done;
    if (flags & TK_CMD_TX) {
        if ((rc = tk_engine_begin(c.e, TK_TX_IMMEDIATE, &err)))
            goto done;
        rc = cmd ? cmd->run(&c, &args, &err) : run_bulk(&c, argv[i], &args, &err);
        if (rc)
            tk_engine_rollback(c.e);
        else if ((rc = tk_engine_commit(c.e, &err)))
            tk_engine_rollback(c.e);
    } else {
        rc = cmd->run(&c, &args, &err);
    }
    fflush(stdout);
    if (!rc && (flags & TK_CMD_SENDS))
        deliver(&c);
done:
    if (c.pipelines)
        tk_pipelines_close(c.pipelines);
    tk_engine_close_at_exit(c.e); /* main returns next */
    tk_cli_args_free(&args);
    return rc ? fail(&err) : 0;
}
