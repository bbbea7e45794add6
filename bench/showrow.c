/*
 * showrow.c - the limit of one CLI command (bench only).
 *
 *   showrow STORE ID
 *
 * What `tickler show ID` must do at the least: open the SQLite store and
 * print one item with its account, one line per column.  No
 * configuration, no plugins, no templates.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    if (argc != 3) {
        fprintf(stderr, "usage: showrow STORE ID\n");
        return 2;
    }
    if (sqlite3_open_v2(argv[1], &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h,
                           "SELECT i.*, a.name FROM items i JOIN accounts a ON a.id = i.account_id "
                           "WHERE i.id = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "showrow: %s\n", sqlite3_errmsg(h));
        return 1;
    }
    sqlite3_bind_int64(st, 1, strtoll(argv[2], NULL, 10));
    if (sqlite3_step(st) != SQLITE_ROW) {
        fprintf(stderr, "showrow: no item %s\n", argv[2]);
        return 1;
    }
    for (int c = 0; c < sqlite3_column_count(st); c++) {
        const unsigned char *v = sqlite3_column_text(st, c);
        printf("%s: %s\n", sqlite3_column_name(st, c), v ? (const char *)v : "");
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return 0;
}
