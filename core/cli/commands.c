/* commands.c - the command table: the CLI contract of docs/cli.md. */
#include "commands.h"

enum {
    TX = TK_CMD_TX,
    SENDS = TK_CMD_SENDS,
    NOSTORE = TK_CMD_NO_STORE,
    OWN = TK_CMD_OWN_TX,
    AUTO = TK_CMD_AUTOMATIONS,
    ALL = TK_CMD_ALL_PLUGINS,
};

/* Entries with a sub-command come before a bare entry of the same name
 * (outbox retry before outbox). */
const struct tk_cli_command tk_cli_commands[] = {
    /* init works even when a pipeline script is broken (it loads none): a
     * new deployment can always create its store first. */
    {"init", NULL, ALL, tk_cmd_init, "init", "create or upgrade the store (idempotent)"},
    {"account", "add", TX, tk_cmd_account_add, "account add NAME [--language en|nl]",
     "add an account; prints its id"},
    {"account", "list", 0, tk_cmd_account_list, "account list", "list accounts"},
    {"contact", "add", TX, tk_cmd_contact_add,
     "contact add ACCOUNT EMAIL [--name NAME] [--no-notify]", "add a contact"},
    {"contact", "notify", TX, tk_cmd_contact_notify, "contact notify ACCOUNT EMAIL on|off",
     "switch a contact's notify toggle"},
    {"contact", "list", 0, tk_cmd_contact_list, "contact list ACCOUNT",
     "contacts and who is notified (R1)"},
    {"send", NULL, TX | SENDS, tk_cmd_send,
     "send TYPE --account A --title T [--template N] [--reminders on|off] [--every D] [--count N] "
     "[--set F=V]...",
     "send an item now; prints its id"},
    {"resend", NULL, TX | SENDS, tk_cmd_resend, "resend ITEM", "resend by hand (R2, R3, D2)"},
    {"reminders", NULL, TX, tk_cmd_reminders, "reminders ITEM on|off [--every DAYS] [--count N]",
     "change reminder settings (R6, D4)"},
    {"event", NULL, TX | SENDS | AUTO, tk_cmd_event, "event ITEM EVENT",
     "record a client event: paid, signed, ..."},
    {"tick", NULL, OWN | AUTO | ALL, tk_cmd_tick, "tick",
     "send everything due at the clock's time, then exit"},
    {"run", NULL, OWN | AUTO | ALL, tk_cmd_run, "run",
     "daemon: tick every [scheduler] poll_seconds until SIGTERM/SIGINT"},
    {"show", NULL, 0, tk_cmd_show, "show ITEM", "one item"},
    {"list", NULL, 0, tk_cmd_list, "list [--account A] [--type T] [--pending]", "items"},
    {"todo", NULL, 0, tk_cmd_todo, "todo ACCOUNT", "the client's to-do list, most recent on top"},
    {"audit", NULL, 0, tk_cmd_audit, "audit [ITEM | --account A]", "the audit trail"},
    {"plugins", NULL, NOSTORE | ALL, tk_cmd_plugins, "plugins",
     "the loaded plugins: name, kind, ABI version, file"},
    {"outbox", "retry", TX, tk_cmd_outbox_retry, "outbox retry ID|--all-failed",
     "queue failed messages again"},
    {"outbox", "list", 0, tk_cmd_outbox, "outbox list [--failed] [--item ITEM]", "same as outbox"},
    {"outbox", NULL, 0, tk_cmd_outbox, "outbox [--failed] [--item ITEM]",
     "messages and their delivery state"},
    {"pipeline", "list", NOSTORE | ALL, tk_cmd_pipeline_list, "pipeline list",
     "pipelines and stages from the configured scripts"},
    {"pipeline", "check", NOSTORE | ALL, tk_cmd_pipeline_check, "pipeline check FILE",
     "load and validate a script only"},
    {"job", "add", TX | SENDS | AUTO, tk_cmd_job_add,
     "job add PIPELINE --account A [--title T] [--stage S]", "start a job; prints its id"},
    {"job", "move", TX | SENDS | AUTO, tk_cmd_job_move, "job move JOB STAGE",
     "enter STAGE and run its automations"},
    {"job", "archive", TX | AUTO, tk_cmd_job_archive, "job archive JOB",
     "archive a job: its items' reminders stop"},
    {"job", "show", 0, tk_cmd_job_show, "job show JOB", "one job"},
    {"job", "list", 0, tk_cmd_job_list, "job list [--account A]", "jobs"},
    {"migrate", NULL, TK_CMD_NO_ENGINE, tk_cmd_migrate,
     "migrate --from sqlite:PATH --to postgres:DSN", "copy a store into another"},
    /* check opens everything itself, one step at a time (cmd_check.c) */
    {"check", NULL, TK_CMD_NO_ENGINE, tk_cmd_check, "check [--json]",
     "check config, plugins, templates, scripts, store and transport; list every problem"},
    {NULL, NULL, 0, NULL, NULL, NULL},
};
