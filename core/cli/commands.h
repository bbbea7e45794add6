/*
 * commands.h - every command of the command line (the table in
 * commands.c, the contract in docs/cli.md), one function each.
 *
 * tk_cmd_X_parse checks its own arguments ARGV[0..ARGC) (after the command
 * words, borrowed) into A before anything is opened; tk_cmd_X runs with
 * A as cli.h describes (inside main()'s transaction for a
 * TK_CMD_TX command), prints to stdout, and returns 0 or a status with ERR
 * filled for main() to print.
 */
#ifndef TK_CLI_COMMANDS_H
#define TK_CLI_COMMANDS_H

#include "cli.h"

/* cmd_run.c: the store, the scheduler and the outbox */
int tk_cmd_init_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_init(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_tick_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_tick(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_run_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_run(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_plugins_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_plugins(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_outbox_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_outbox(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_outbox_retry_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_outbox_retry(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);

/* cmd_account.c: accounts and contacts */
int tk_cmd_account_add_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_account_add(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_account_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_account_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
/* cmd_calendar.c: the client's calendar and holds (issue 14) */
int tk_cmd_account_set_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_account_set(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_account_show_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_account_show(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_hold_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_hold(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_release_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_release(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
/* The account's JSON with its calendar as in effect (defaults filled in). */
json_t *tk_cli_json_account(struct tk_cli *c, const struct tk_account *a,
                            const struct tk_contacts *cs);
int tk_cmd_contact_add_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_contact_add(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_contact_notify_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_contact_notify(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_contact_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_contact_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_contact_unsuppress_parse(int argc, char **argv, struct tk_cli_args *a,
                                    struct tk_error *err);
int tk_cmd_contact_unsuppress(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);

/* cmd_inbound.c: what comes back (issue 15) */
int tk_cmd_inbound_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_inbound(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);

/* cmd_data.c: the data lifecycle (docs/data.md) */
int tk_cmd_account_rename_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_account_rename(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_account_remove_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_account_remove(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_contact_remove_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_contact_remove(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_export_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_export(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_erase_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_erase(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_backup_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_backup(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_restore_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_restore(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);

/* cmd_item.c: items */
int tk_cmd_send_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_send(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_resend_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_resend(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_reminders_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_reminders(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_event_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_event(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_show_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_show(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_todo_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_todo(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_audit_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_audit(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_why_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_why(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_preview_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_preview(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);

/* cmd_pipeline.c, cmd_job.c: Lua pipelines and their jobs */
int tk_cmd_pipeline_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_pipeline_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_pipeline_check_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_pipeline_check(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_job_add_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_job_add(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_job_move_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_job_move(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_job_archive_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_job_archive(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_job_show_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_job_show(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_job_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_job_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);

/* cmd_webhook.c: outbound webhook subscriptions */
int tk_cmd_webhook_add_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_webhook_add(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_webhook_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_webhook_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_webhook_remove_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_webhook_remove(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);

/* cmd_user.c: the staff console's users */
int tk_cmd_user_add_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_user_add(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_user_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_user_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_user_remove_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_user_remove(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_user_password_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_user_password(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);

/* cmd_token.c: API tokens */
int tk_cmd_token_add_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_token_add(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_token_list_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_token_list(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_token_revoke_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_token_revoke(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);

/* cmd_run.c: the HTTP server alone (tickler run serves it beside ticks) */
int tk_cmd_serve_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_serve(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);

/* cmd_migrate.c */
int tk_cmd_migrate_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_migrate(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);

/* cmd_check.c: every part of a deployment, each problem listed */
int tk_cmd_check_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err);
int tk_cmd_check(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err);

#endif
