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
    struct tk_buf b; /* the entries' JSON not written yet */
    tk_time at;      /* the last entry's moment, formatted in ats */
    char ats[32];
};

/* Writers into room reserved beforehand (preview_json): no checks, no
 * calls per piece. */
#define LIT(b, s) put(b, s, sizeof s - 1)

static void put(struct tk_buf *b, const char *s, size_t n)
{
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* 1 for the bytes a JSON string holds as they are (tk_json_write_str's
 * plain printable ASCII) */
static unsigned char plain[256];

static void plain_init(void)
{
    for (int c = 0x20; c < 0x80; c++)
        plain[c] = c != '"' && c != '\\';
}

/* The room preview_json reserved for the whole entry: reserved again
 * after the general writer, whatever that took. */
static size_t need;

/* S as tk_json_write_str writes it (NULL: null); -1 out of memory. */
static int str(struct tk_buf *b, const char *s)
{
    size_t n = 0;
    if (!s) {
        LIT(b, "null");
        return 0;
    }
    while (plain[(unsigned char)s[n]])
        n++;
    if (s[n]) /* something to escape or check: the general writer */
        return tk_json_write_str(b, s) || tk_buf_reserve(b, need) ? -1 : 0;
    b->data[b->len++] = '"';
    put(b, s, n);
    b->data[b->len++] = '"';
    return 0;
}

/* Room for S written by str: at most 6 bytes a byte (\u escapes, a
 * repaired byte as \uFFFD), the quotes, or null. */
static size_t room(const char *s)
{
    return s ? 6 * strlen(s) + 8 : 8;
}

static void integer(struct tk_buf *b, long long v)
{
    char s[24], *p = s + sizeof s;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    put(b, p, (size_t)(s + sizeof s - p));
}

/* One entry as tk_cli_emit prints a JSON array's object (JSON_INDENT(2),
 * JSON_ENSURE_ASCII, keys in order), written as it comes rather than built
 * as a tree and dumped: a list of 100k entries would spend most of its
 * time in the tree (issue 14).  The room for the whole entry is reserved
 * first, then the pieces are copied in.  it.test_preview checks it is the
 * same document. */
static int preview_json(struct tk_buf *b, const struct tk_preview *p, const char *at, int render,
                        int first)
{
    const char *subject = p->nmails ? p->mails[0].subject : NULL;
    need = 512 + room(at) + room(p->local) + room(p->kind) + room(p->type) + room(p->title) +
           room(p->account_name) + room(subject) + room(p->moved) + room(p->error);
    int rc = 0;
    for (size_t i = 0; i < p->nmails; i++)
        need += 128 + 2 * room(p->mails[i].to) + room(p->mails[i].subject) +
                (render ? room(p->mails[i].message) : 0);
    if (!plain['a'])
        plain_init();
    if (tk_buf_reserve(b, need))
        return TK_ENOMEM;
    if (first)
        LIT(b, "\n  {\n    \"at\": ");
    else
        LIT(b, ",\n  {\n    \"at\": ");
    if (p->at)
        rc |= str(b, at);
    else
        LIT(b, "null");
    LIT(b, ",\n    \"local\": ");
    rc |= str(b, p->local);
    LIT(b, ",\n    \"item\": ");
    integer(b, p->item_id);
    LIT(b, ",\n    \"kind\": ");
    rc |= str(b, p->kind ? p->kind : "reminder");
    LIT(b, ",\n    \"type\": ");
    rc |= str(b, p->type);
    LIT(b, ",\n    \"title\": ");
    rc |= str(b, p->title);
    LIT(b, ",\n    \"account_id\": ");
    integer(b, p->account_id);
    LIT(b, ",\n    \"account\": ");
    rc |= str(b, p->account_name);
    LIT(b, ",\n    \"step\": ");
    integer(b, p->step);
    LIT(b, ",\n    \"count\": ");
    integer(b, p->count);
    LIT(b, ",\n    \"recipients\": [");
    for (size_t i = 0; i < p->nmails; i++) {
        if (i)
            LIT(b, ",\n      ");
        else
            LIT(b, "\n      ");
        rc |= str(b, p->mails[i].to);
    }
    if (p->nmails)
        LIT(b, "\n    ]");
    else
        LIT(b, "]");
    LIT(b, ",\n    \"subject\": ");
    rc |= str(b, subject);
    LIT(b, ",\n    \"emails\": [");
    for (size_t i = 0; i < p->nmails; i++) {
        if (i)
            LIT(b, ",\n      {\n        \"to\": ");
        else
            LIT(b, "\n      {\n        \"to\": ");
        rc |= str(b, p->mails[i].to);
        LIT(b, ",\n        \"subject\": ");
        rc |= str(b, p->mails[i].subject);
        if (render) {
            LIT(b, ",\n        \"message\": ");
            rc |= str(b, p->mails[i].message);
        }
        LIT(b, "\n      }");
    }
    if (p->nmails)
        LIT(b, "\n    ]");
    else
        LIT(b, "]");
    LIT(b, ",\n    \"moved\": ");
    rc |= str(b, p->moved);
    LIT(b, ",\n    \"error\": ");
    rc |= str(b, p->error);
    LIT(b, "\n  }");
    b->data[b->len] = '\0';
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

/* Write the JSON held (one write a FLUSH_AT, not one a stdio buffer). */
#define FLUSH_AT ((size_t)256 << 10)

static int flush(struct out *o)
{
    size_t n = o->b.len;
    o->b.len = 0;
    return n && fwrite(o->b.data, 1, n, stdout) != n ? TK_EIO : 0;
}

static int one(void *u, const struct tk_preview *p)
{
    struct out *o = u;
    char at[32];
    o->n++;
    if (o->json) {
        if (o->n == 1 && tk_buf_putc(&o->b, '['))
            return TK_ENOMEM;
        if (p->at && (o->at != p->at || !o->ats[0])) { /* entries share moments */
            tk_time_format(p->at, o->ats, sizeof o->ats);
            o->at = p->at;
        }
        size_t len = o->b.len;
        if (preview_json(&o->b, p, o->ats, o->render, o->n == 1)) {
            o->b.len = len; /* not half an entry */
            return TK_ENOMEM;
        }
        return o->b.len >= FLUSH_AT ? flush(o) : 0;
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
    if (o.json && flush(&o) && !rc)
        rc = TK_EIO;
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
