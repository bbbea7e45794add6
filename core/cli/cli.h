/*
 * cli.h - the command-line front end: global options, the command table and
 * output helpers shared by the cmd_*.c files.
 *
 * A command has two functions: parse checks its own arguments (after the
 * command words) before anything is opened, run does the work with them,
 * inside one transaction opened by main() when the command has TK_CMD_TX.
 * Either reports failure by returning non-zero with ERR filled: main
 * prints "tickler: MESSAGE" on stderr, rolls back and exits 1 (2 for
 * TK_EUSAGE).  Output goes to stdout: human text, or with --json exactly one
 * JSON document (tk_cli_emit()).
 */
#ifndef TK_CLI_H
#define TK_CLI_H

#include "engine/engine.h"
#include "json/json.h"

struct tk_pipelines;

struct tk_cli {
    struct tk_engine *e;            /* NULL for TK_CMD_NO_ENGINE commands */
    struct tk_pipelines *pipelines; /* Lua pipelines, NULL when none configured */
    int json;                       /* --json given */
    const char *config_path;        /* -c FILE or NULL */
    const char *now_arg;            /* --now as given, or NULL */
    tk_time now;
    int dispatch; /* main(): deliver the outbox after commit */
};

enum {
    TK_CMD_TX = 1,            /* run inside one immediate transaction */
    TK_CMD_NO_ENGINE = 2,     /* needs neither config nor store */
    TK_CMD_NO_STORE = 4,      /* config and plugins, no store */
    TK_CMD_SENDS = 8,         /* may enqueue mail: dispatch after commit */
    TK_CMD_OWN_TX = 16,       /* manages its own transactions (tick, run) */
    TK_CMD_AUTOMATIONS = 64,  /* may run automations: loads the Lua pipelines */
    TK_CMD_ALL_PLUGINS = 128, /* loads every plugin at start, not at first use */
};
/* Commands start with only the configuration and the store: the plugins
 * load when the command first needs one (TK_OPEN_LAZY), all at once and
 * with every check, and the Lua pipelines only for TK_CMD_AUTOMATIONS.
 * tick, run and init keep TK_CMD_ALL_PLUGINS so that a broken plugin stops
 * the daemon (and a new deployment) at start. */

/* ---- option parsing for commands ------------------------------------ */

/* A command's arguments as its parse phase checked them (below). */
struct tk_cli_args {
    struct tk_strv pos;   /* positionals in order (every word for tk_cli_words) */
    struct tk_kv opts;    /* last value of each option ("" for flags) */
    struct tk_strv multi; /* repeated "set" values, in order */
    int64_t id;           /* the ITEM/JOB/ID argument when parse checked one, else 0 */
};

/* Every command runs in two phases.  PARSE sees only the command's own
 * arguments ARGV[0..ARGC) (borrowed until run returns) and fills A; it
 * reports usage errors (TK_EUSAGE: unknown option, missing or extra
 * argument, a value of the wrong form) and nothing else, and runs before
 * main() reads the configuration or opens the store: a usage error creates
 * no store file and contacts no database server (it.test_usage_no_store).
 * RUN then does the work with A, which main() frees. */
struct tk_cli_command {
    const char *name; /* "send", "account" */
    const char *sub;  /* "add" for "account add", NULL for none */
    int flags;
    int (*parse)(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
    int (*run)(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
    const char *usage; /* "account add NAME [--language en|nl]" */
    const char *help;  /* one line */
};

/* The table, ended by a NULL name (cli/commands.c). */
extern const struct tk_cli_command tk_cli_commands[];

/* Walk ARGV: options of the form --name VALUE / --flag, positionals kept
 * in order.  SPEC lists options: "account=", "json", "set=*" (repeatable),
 * NULL-terminated.  Unknown option: TK_EUSAGE.  OUT is cleared first. */
int tk_cli_parse(int argc, char **argv, const char *const *spec, struct tk_cli_args *out,
                 struct tk_error *err);
/* For commands that take words, not options: MIN..MAX words, each kept as
 * given (a word starting with "--" is a word) in OUT->pos; otherwise
 * TK_EUSAGE "usage: tickler USAGE".  OUT is cleared first. */
int tk_cli_words(int argc, char **argv, int min, int max, const char *usage,
                 struct tk_cli_args *out, struct tk_error *err);
/* Frees what A holds (A itself is the caller's); A may be zeroed. */
void tk_cli_args_free(struct tk_cli_args *a);
/* Option value or NULL. */
const char *tk_cli_opt(const struct tk_cli_args *a, const char *name);

/* Parse an id argument ("12"); TK_EUSAGE naming WHAT when not a positive integer. */
int tk_cli_id(const char *s, const char *what, int64_t *out, struct tk_error *err);
/* ACCOUNT argument: id or name. */
int tk_cli_account(struct tk_cli *c, const char *s, struct tk_account *out, struct tk_error *err);

/* A list command's rows (output.c): with --json they go into one array,
 * printed once the walk over the store succeeded; in text each row prints
 * as it comes.  The row callbacks of tk_engine_*_each get the list as
 * their user pointer and look at ARR to choose. */
struct tk_cli_list {
    struct tk_cli *c;
    json_t *arr;          /* the --json array, NULL in text */
    int n;                /* rows so far (the callbacks count) */
    struct tk_error *err; /* the command's, for callbacks that can fail */
};
/* L ready for C's output (an empty array with --json). */
void tk_cli_list_begin(struct tk_cli_list *l, struct tk_cli *c, struct tk_error *err);
/* End of the walk that returned RC: with --json the array is printed when
 * RC is 0 and dropped otherwise.  Returns RC. */
int tk_cli_list_end(struct tk_cli_list *l, int rc);

/* A new record's id: alone on its line, or {"id": N} with --json. */
void tk_cli_print_id(struct tk_cli *c, int64_t id);
/* Print one JSON document (json/json.h builds them) to stdout and take
 * ownership of J. */
void tk_cli_emit(json_t *j);

/* ---- text for a terminal (text.c) ------------------------------------ */

/* S for human-readable output: control characters, C1 controls and bytes
 * that are not UTF-8 escaped ("\x1b", "\u009b", "\xff"); NULL gives "".
 * Returns S itself when nothing needs escaping, else one of 16 rotating
 * static buffers: valid until 16 more calls, main thread only.  Every
 * name, title, address, detail or reply printed as text goes through it. */
const char *tk_cli_text(const char *s);
/* The same into OUT (reset first), for any thread; 0 or TK_ENOMEM. */
int tk_cli_escape(struct tk_buf *out, const char *s);

/* ---- operator surface (help.c, version.c, notify.c) ------------------ */

/* 1 when ARGV (a command's own arguments) asks for help: --help or -h
 * before any "--". */
int tk_cli_wants_help(int argc, char **argv);
/* Print the usage of the command ARGV[0] (ARGV[1] may name a sub-command)
 * from the table, reading no configuration; 0, or 2 for an unknown
 * sub-command. */
int tk_cli_command_help(int argc, char **argv);
/* `tickler --version`: version, plugin ABI and library versions; JSON:
 * {"version", "abi", "sqlite", "libcurl", "lua", "jansson", "libpq" (null
 * without the PostgreSQL driver), "sd_notify" (built with libsystemd)}. */
void tk_cli_print_version(int json);
/* sd_notify for `tickler run` under systemd (no-ops without libsystemd or
 * $NOTIFY_SOCKET).  STATUS: one line, borrowed for the call. */
void tk_cli_notify_ready(const char *status);
void tk_cli_notify_reloading(void);
void tk_cli_notify_stopping(void);

#endif
