/* cmd_preview.c - `tickler preview [--account A] [--days N] [--render]`:
 * every automatic email the next N days would send (issue 14), from
 * tk_engine_preview (engine/preview.c), which changes nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#define DEFAULT_DAYS 7

struct out {
    struct tk_cli *c;
    int json, render;
    size_t n;
    struct tk_buf b; /* one entry's JSON */
    tk_time at;      /* the last entry's moment, formatted in ats */
    char ats[32];
};

/* A new line and DEPTH levels of 2 spaces (at most 4). */
static int indent(struct tk_buf *b, int depth)
{
    return tk_buf_append(b, "\n        ", 1 + 2 * (size_t)depth);
}

/* KEY's line at DEPTH, then its value from the caller (one append). */
static int key(struct tk_buf *b, int depth, const char *k, int first)
{
    char t[96];
    size_t n = 0, len = strlen(k);
    if (len > 64)
        return -1; /* the keys are this file's own, all short */
    if (!first)
        t[n++] = ',';
    t[n++] = '\n';
    memset(t + n, ' ', 2 * (size_t)depth);
    n += 2 * (size_t)depth;
    t[n++] = '"';
    memcpy(t + n, k, len);
    n += len;
    memcpy(t + n, "\": ", 3);
    return tk_buf_append(b, t, n + 3);
}

static int integer(struct tk_buf *b, long long v)
{
    char s[24], *p = s + sizeof s;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    return tk_buf_append(b, p, (size_t)(s + sizeof s - p));
}

/* One entry as tk_cli_emit prints a JSON array's object (JSON_INDENT(2),
 * JSON_ENSURE_ASCII, keys in order), written as it comes rather than built
 * as a tree and dumped: a list of 100k entries would spend most of its
 * time in the tree (issue 14).  it.test_preview checks it is the same
 * document. */
static int preview_json(struct tk_buf *b, const struct tk_preview *p, const char *at, int render,
                        int first)
{
    int rc = tk_buf_puts(b, first ? "\n  {" : ",\n  {");
    rc |= key(b, 2, "at", 1);
    rc |= p->at ? tk_json_write_str(b, at) : tk_buf_puts(b, "null");
    rc |= key(b, 2, "local", 0) | tk_json_write_str(b, p->local);
    rc |= key(b, 2, "item", 0) | integer(b, p->item_id);
    rc |= key(b, 2, "kind", 0) | tk_json_write_str(b, p->kind ? p->kind : "reminder");
    rc |= key(b, 2, "type", 0) | tk_json_write_str(b, p->type);
    rc |= key(b, 2, "title", 0) | tk_json_write_str(b, p->title);
    rc |= key(b, 2, "account_id", 0) | integer(b, p->account_id);
    rc |= key(b, 2, "account", 0) | tk_json_write_str(b, p->account_name);
    rc |= key(b, 2, "step", 0) | integer(b, p->step);
    rc |= key(b, 2, "count", 0) | integer(b, p->count);
    rc |= key(b, 2, "recipients", 0) | tk_buf_putc(b, '[');
    for (size_t i = 0; i < p->nmails; i++) {
        rc |= tk_buf_puts(b, i ? "," : "") | indent(b, 3);
        rc |= tk_json_write_str(b, p->mails[i].to);
    }
    rc |= (p->nmails ? indent(b, 2) : 0) | tk_buf_putc(b, ']');
    rc |= key(b, 2, "subject", 0) | tk_json_write_str(b, p->nmails ? p->mails[0].subject : NULL);
    rc |= key(b, 2, "emails", 0) | tk_buf_putc(b, '[');
    for (size_t i = 0; i < p->nmails; i++) {
        rc |= tk_buf_puts(b, i ? "," : "") | indent(b, 3) | tk_buf_putc(b, '{');
        rc |= key(b, 4, "to", 1) | tk_json_write_str(b, p->mails[i].to);
        rc |= key(b, 4, "subject", 0) | tk_json_write_str(b, p->mails[i].subject);
        if (render)
            rc |= key(b, 4, "message", 0) | tk_json_write_str(b, p->mails[i].message);
        rc |= indent(b, 3) | tk_buf_putc(b, '}');
    }
    rc |= (p->nmails ? indent(b, 2) : 0) | tk_buf_putc(b, ']');
    rc |= key(b, 2, "moved", 0) | tk_json_write_str(b, p->moved);
    rc |= key(b, 2, "error", 0) | tk_json_write_str(b, p->error);
    rc |= indent(b, 1) | tk_buf_putc(b, '}');
    return rc ? TK_ENOMEM : 0;
}

/* The message for a terminal: each line escaped, CRLF as one line end. */
static void print_message(const char *msg)
{
    char *copy = tk_strdup(msg ? msg : ""), *line, *save = NULL;
    if (!copy)
        return;
    for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r')
            line[n - 1] = '\0';
        printf("    | %s\n", tk_cli_text(line));
    }
    free(copy);
}

static int one(void *u, const struct tk_preview *p)
{
    struct out *o = u;
    char at[32];
    o->n++;
    if (o->json) {
        o->b.len = 0;
        if (o->n == 1 && tk_buf_putc(&o->b, '['))
            return TK_ENOMEM;
        if (p->at && (o->at != p->at || !o->ats[0])) { /* entries share moments */
            tk_time_format(p->at, o->ats, sizeof o->ats);
            o->at = p->at;
        }
        if (preview_json(&o->b, p, o->ats, o->render, o->n == 1))
            return TK_ENOMEM;
        return fwrite(o->b.data, 1, o->b.len, stdout) == o->b.len ? 0 : TK_EIO;
    }
    if (p->kind && strcmp(p->kind, "notification") == 0)
        printf("%s  (%s)  item %lld  notification (first email to %s)  %s: %s \"%s\"\n",
               tk_time_format(p->at, at, sizeof at), tk_cli_text(p->local), (long long)p->item_id,
               p->nmails == 1 ? "this contact" : "these contacts", tk_cli_text(p->account_name),
               tk_cli_text(p->type), tk_cli_text(p->title));
    else if (p->kind && strcmp(p->kind, "escalation") == 0)
        printf("%s  (%s)  item %lld  escalation to the manager (after reminder %d of %d)  %s: "
               "%s \"%s\"\n",
               tk_time_format(p->at, at, sizeof at), tk_cli_text(p->local), (long long)p->item_id,
               p->step, p->count, tk_cli_text(p->account_name), tk_cli_text(p->type),
               tk_cli_text(p->title));
    else
        printf("%s  (%s)  item %lld  reminder %d of %d%s  %s: %s \"%s\"\n",
               tk_time_format(p->at, at, sizeof at), tk_cli_text(p->local), (long long)p->item_id,
               p->step, p->count,
               p->kind && strcmp(p->kind, "digest") == 0 ? " (inside the digest)" : "",
               tk_cli_text(p->account_name), tk_cli_text(p->type), tk_cli_text(p->title));
    if (p->moved)
        printf("  moved:   %s\n", tk_cli_text(p->moved));
    if (p->error) {
        printf("  error:   %s (not sent; the tick retries it)\n", tk_cli_text(p->error));
        return 0;
    }
    if (!p->nmails)
        printf("  to:      nobody (%s)\n", p->kind && strcmp(p->kind, "escalation") == 0
                                               ? "the account has no manager: only recorded"
                                               : "no contact has notify on");
    for (size_t i = 0; i < p->nmails; i++) {
        printf("  to:      %s\n", tk_cli_text(p->mails[i].to));
        printf("  subject: %s\n", tk_cli_text(p->mails[i].subject));
        if (o->render)
            print_message(p->mails[i].message);
    }
    return 0;
}

/* The days of --days (checked by the parse phase). */
static long preview_days(const struct tk_cli_args *a)
{
    const char *v = tk_cli_opt(a, "days");
    return v ? strtol(v, NULL, 10) : DEFAULT_DAYS;
}

int tk_cmd_preview_parse(int argc, char **argv, struct tk_cli_args *a, struct tk_error *err)
{
    static const char *const spec[] = {"account=", "days=", "render", NULL};
    const char *v;
    int rc;

    if ((rc = tk_cli_parse(argc, argv, spec, a, err)))
        return rc;
    if (a->pos.n)
        return tk_error_set(err, TK_EUSAGE,
                            "usage: tickler preview [--account A] [--days N] [--render]");
    if ((v = tk_cli_opt(a, "days"))) {
        char *end = NULL;
        long days = strtol(v, &end, 10);
        if (!*v || *end || days < 1 || days > TK_PREVIEW_DAYS_MAX)
            return tk_error_set(err, TK_EUSAGE, "--days: '%s' is not a number of days from 1 to %d",
                                v, TK_PREVIEW_DAYS_MAX);
    }
    return 0;
}

int tk_cmd_preview(struct tk_cli *c, struct tk_cli_args *a, struct tk_error *err)
{
    struct tk_account acc = {0};
    struct out o = {c, 0, 0, 0, {0}, 0, ""};
    const char *v;
    long days = preview_days(a);
    int rc;

    if ((v = tk_cli_opt(a, "account")) && (rc = tk_cli_account(c, v, &acc, err))) {
        if (rc == TK_ENOTFOUND)
            rc = err->code = TK_EUSAGE; /* a bad option value: a usage error (exit 2) */
        goto out;
    }
    o.render = tk_cli_opt(a, "render") != NULL;
    o.json = c->json;
    rc = tk_engine_preview(c->e, acc.id, (int)days, o.render, (size_t)-1, one, &o, err);
    /* the entries come after the walk: a failure before them prints
     * nothing, one while printing them (memory, a full disk) closes the
     * list printed so far */
    if (o.json && o.n)
        fputs("\n]\n", stdout);
    if (rc == TK_ENOMEM)
        tk_error_set(err, TK_ENOMEM, "out of memory");
    else if (rc == TK_EIO && !err->msg[0])
        tk_error_set(err, TK_EIO, "writing the list: %s", strerror(errno));
    if (rc)
        goto out;
    if (o.json && !o.n)
        fputs("[]\n", stdout);
    else if (!o.n)
        printf("no automatic email in the next %ld day%s\n", days, days == 1 ? "" : "s");
out:
    tk_buf_free(&o.b);
    tk_account_free(&acc);
    return rc;
}
