/* help.c - `tickler COMMAND --help` and `tickler help COMMAND`: a command's
 * usage from the command table.  Nothing here reads the configuration,
 * loads a plugin or opens the store, so help works anywhere, even with a
 * broken configuration, and leaves no file behind. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int tk_cli_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

static void print_one(const struct tk_cli_command *c)
{
    printf("usage: tickler [-c FILE] [--now TIME] [--json] %s\n  %s\n", c->usage, c->help);
}

int tk_cli_command_help(int argc, char **argv)
{
    const struct tk_cli_command *bare = NULL, *exact = NULL;
    const char *sub = argc > 1 && argv[1][0] != '-' ? argv[1] : NULL;
    int family = 0;
    for (const struct tk_cli_command *c = tk_cli_commands; c->name; c++) {
        if (strcmp(c->name, argv[0]) != 0)
            continue;
        family++;
        if (!c->sub)
            bare = c;
        else if (sub && strcmp(c->sub, sub) == 0)
            exact = c;
    }
    if (!family) {
        /* Bulk commands are declared by item plugins, which help does not
         * load: describe the form every bulk command has. */
        printf("usage: tickler [-c FILE] [--json] %s ACCOUNT [--message TEXT]\n"
               "  if an item plugin declares the bulk command %s: one email to ACCOUNT about\n"
               "  all its pending items of that type (tickler plugins lists the plugins;\n"
               "  request-approvals is the approval plugin's, R4)\n",
               tk_cli_text(argv[0]), tk_cli_text(argv[0]));
    } else if (exact || bare) {
        print_one(exact ? exact : bare);
    } else if (sub) {
        fprintf(stderr, "tickler: unknown command '%s %s' (see tickler %s --help)\n",
                tk_cli_text(argv[0]), tk_cli_text(sub), tk_cli_text(argv[0]));
        return 2;
    } else {
        /* `tickler job --help`: the whole family. */
        printf("usage:\n");
        for (const struct tk_cli_command *c = tk_cli_commands; c->name; c++)
            if (strcmp(c->name, argv[0]) == 0)
                printf("  tickler %-52s %s\n", c->usage, c->help);
    }
    printf("\nExit status: 0 success, 1 failure, 2 usage error.  See tickler(1): man tickler.\n");
    return 0;
}
