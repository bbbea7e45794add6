/* test_template.c - template format, placeholders and the catalog. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "template/template.h"
#include "tickler/item.h"
#include "tk_test.h"

static const char good[] = "# an invoice template\n"
                           "description = Invoice with payment reminders\n"
                           "reminders = on\n"
                           "every_days = 7\n"
                           "count = 3\n"
                           "\n"
                           "[notification]\n"
                           "Subject: Invoice {{invoice.number}} from {{firm.name}}\n"
                           "\n"
                           "Dear {{contact.name}},\n"
                           "\\[not a section]\n"
                           "# not a comment in a body\n"
                           "\n"
                           "\n"
                           "[reminder]\r\n"
                           "Subject:   Reminder {{reminder.number}}  \r\n"
                           "\r\n"
                           "Still unpaid.\r\n";

static int parse(const char *text, struct tk_template *t, struct tk_error *err)
{
    return tk_template_parse(text, strlen(text), "t.tmpl", t, err);
}

TK_TEST(test_parse_good)
{
    struct tk_template t;
    struct tk_error err = {0};
    const struct tk_template_section *s;
    TK_CHECK_INT(parse(good, &t, &err), 0);
    TK_CHECK_STR(t.origin, "t.tmpl");
    TK_CHECK_STR(t.description, "Invoice with payment reminders");
    TK_CHECK_INT(t.has_reminders, 1);
    TK_CHECK_INT(t.rem_enabled, 1);
    TK_CHECK_INT(t.rem_every_days, 7);
    TK_CHECK_INT(t.rem_count, 3);
    TK_CHECK_INT(t.nsections, 2);
    s = tk_template_section(&t, "notification");
    TK_CHECK(s != NULL);
    if (s) {
        TK_CHECK_STR(s->subject, "Invoice {{invoice.number}} from {{firm.name}}");
        TK_CHECK_STR(s->body,
                     "Dear {{contact.name}},\n[not a section]\n# not a comment in a body\n");
    }
    s = tk_template_section(&t, "reminder");
    TK_CHECK(s != NULL);
    if (s) {
        TK_CHECK_STR(s->subject, "Reminder {{reminder.number}}");
        TK_CHECK_STR(s->body, "Still unpaid.\n");
    }
    TK_CHECK(tk_template_section(&t, "resend") == NULL);
    tk_template_free(&t);

    /* no header at all: reminder defaults unset */
    TK_CHECK_INT(parse("[notification]\nSubject: Hi\n", &t, &err), 0);
    TK_CHECK_INT(t.has_reminders, 0);
    TK_CHECK_INT(t.rem_enabled, -1);
    TK_CHECK_INT(t.rem_every_days, -1);
    TK_CHECK_INT(t.rem_count, -1);
    TK_CHECK(t.description == NULL);
    TK_CHECK_STR(t.sections[0].body, "");
    tk_template_free(&t);
}

/* bench/RESULTS.md update 62: a body line goes in with its '\n' in one
 * append when the text has a '\n' right after it; every other ending
 * ("\r\n", the text's last line, a length that stops short of the text's
 * NUL) takes the old append-then-'\n'.  Both give the same body. */
TK_TEST(test_parse_body_line_endings)
{
    static const char text[] = "[s]\nSubject: x\n\n"
                               "A\r\nB\n\\[C\r\n\\[D\n\nE\n[t]\r\nSubject: y\r\n\r\n"
                               "F\r\nG\nH";
    static const char cut[] = "[s]\nSubject: x\n\nA\nB\nC\n\nrest";
    struct tk_template t;
    struct tk_error err = {0};
    TK_CHECK_INT(parse(text, &t, &err), 0);
    TK_CHECK_INT(t.nsections, 2);
    if (t.nsections == 2) {
        TK_CHECK_STR(t.sections[0].body, "A\nB\n[C\n[D\n\nE\n");
        TK_CHECK_STR(t.sections[1].body, "F\nG\nH\n");
    }
    tk_template_free(&t);
    /* the text ends inside the buffer: "B" and then "C" are the last line */
    TK_CHECK_INT(tk_template_parse(cut, strlen("[s]\nSubject: x\n\nA\nB"), "t", &t, &err), 0);
    TK_CHECK_STR(t.sections[0].body, "A\nB\n");
    tk_template_free(&t);
    TK_CHECK_INT(tk_template_parse(cut, strlen("[s]\nSubject: x\n\nA\nB\nC"), "t", &t, &err), 0);
    TK_CHECK_STR(t.sections[0].body, "A\nB\nC\n");
    tk_template_free(&t);
}

/* The placeholder name's bytes come from a table (update 62): each byte
 * against the comparisons it replaced. */
TK_TEST(test_placeholder_name_bytes)
{
    for (int c = 1; c < 256; c++) {
        char src[16];
        size_t line = 0;
        struct tk_error err = {0};
        int old = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        snprintf(src, sizeof src, "{{a%cb}}", c);
        if ((tk_template_check(src, &line, &err) == 0) != old)
            fprintf(stderr, "byte 0x%02x: old %d\n", c, old);
        TK_CHECK_INT(tk_template_check(src, &line, &err) == 0, old);
    }
}

static void expect_error(const char *text, const char *msg)
{
    struct tk_template t;
    struct tk_error err = {0};
    TK_CHECK_INT(parse(text, &t, &err), TK_EINVAL);
    if (strcmp(err.msg, msg) != 0)
        fprintf(stderr, "  got \"%s\"\n  want \"%s\"\n", err.msg, msg);
    TK_CHECK_STR(err.msg, msg);
}

TK_TEST(test_parse_errors)
{
    expect_error("description = x\ncolour = red\n[a]\nSubject: x\n",
                 "t.tmpl:2: unknown header key 'colour'");
    expect_error("\n\njust words\n", "t.tmpl:3: expected 'key = value', a comment or a [section]");
    expect_error("reminders = yes\n", "t.tmpl:1: reminders must be 'on' or 'off'");
    expect_error("every_days = 0\n", "t.tmpl:1: every_days must be a whole number from 1 to 3650");
    expect_error("count = x\n", "t.tmpl:1: count must be a whole number from 0 to 1000");
    expect_error("count = 1\ncount = 2\n", "t.tmpl:2: 'count' is set twice");
    expect_error("# nothing\n", "t.tmpl:1: no [section] found");
    expect_error("[notification\nSubject: x\n",
                 "t.tmpl:1: malformed section header: expected [name] with a-z, 0-9, '_' or '-'"
                 " (write \\[ for a body line starting with '[')");
    expect_error("[a]\nSubject: x\n\nbody\n[Bad]\n",
                 "t.tmpl:5: malformed section header: expected [name] with a-z, 0-9, '_' or '-'"
                 " (write \\[ for a body line starting with '[')");
    /* the tone ladder: [reminder.N] (1..1000, no leading zero), [reminder.last] */
    expect_error("[a]\nSubject: x\n\n[reminder.0]\nSubject: y\n",
                 "t.tmpl:4: section [reminder.0]: a reminder step is a number from 1 to 1000"
                 " or 'last'");
    expect_error("[reminder.x]\nSubject: y\n",
                 "t.tmpl:1: section [reminder.x]: a reminder step is a number from 1 to 1000"
                 " or 'last'");
    expect_error("[reminder.007]\nSubject: y\n",
                 "t.tmpl:1: section [reminder.007]: a reminder step is a number from 1 to 1000"
                 " or 'last'");
    expect_error("[reminder.99999]\nSubject: y\n",
                 "t.tmpl:1: section [reminder.99999]: a reminder step is a number from 1 to 1000"
                 " or 'last'");
    expect_error("[reminder.2.1]\nSubject: y\n",
                 "t.tmpl:1: section [reminder.2.1]: a reminder step is a number from 1 to 1000"
                 " or 'last'");
    expect_error("[reminders.1]\nSubject: y\n",
                 "t.tmpl:1: section [reminders.1]: only [reminder] has steps ([reminder.1],"
                 " [reminder.2], ..., [reminder.last])");
    expect_error("[reminder]\nSubject: x\n\n[reminder.1]\nSubject: y\n\n[reminder.1]\nSubject: z\n",
                 "t.tmpl:7: section [reminder.1] appears twice");
    {
        static const char ok[] = "[reminder.1]\nSubject: a\n\n[reminder.1000]\nSubject: b\n\n"
                                 "[reminder.last]\nSubject: c\n";
        struct tk_template t;
        struct tk_error err = {0};
        TK_CHECK_INT(tk_template_parse(ok, sizeof ok - 1, "t.tmpl", &t, &err), 0);
        TK_CHECK(tk_template_section(&t, "reminder.1000") != NULL);
        TK_CHECK(tk_template_section(&t, "reminder.last") != NULL);
        tk_template_free(&t);
    }
    expect_error("[a]\nHello\n", "t.tmpl:2: expected 'Subject:' as the first line of [a]");
    expect_error("[a]\n[b]\nSubject: x\n", "t.tmpl:1: section [a] has no 'Subject:' line");
    expect_error("[a]\nSubject: x\nbody\n", "t.tmpl:3: expected a blank line after 'Subject:'");
    expect_error("[a]\nSubject: x\n\n[a]\nSubject: y\n", "t.tmpl:4: section [a] appears twice");
    expect_error("[a]\nSubject: {{x\n\nbody\n", "t.tmpl:2: malformed placeholder '{{x'");
    expect_error("[a]\nSubject: x\n\none\ntwo {{#paid}}\nthree\n\n[b]\nSubject: y\n",
                 "t.tmpl:5: {{#paid}} is never closed");
    expect_error("x = 1\n", "t.tmpl:1: unknown header key 'x'");
    expect_error("[a]\nSubject: x\n\n{{#a}}\n{{/b}}\n", "t.tmpl:5: {{/b}} closes no open section");
    expect_error("[a]\nSubject: x\n\nbad \xff byte\n", "t.tmpl:4: invalid UTF-8");
    /* the text is checked whole first (parse.c): the line named is still
     * the first bad one, and an earlier error still comes first */
    expect_error("[a]\nSubject: caf\xc3\xa9\n\ncaf\xc3\xa9\nbad \xc3\n", "t.tmpl:5: invalid UTF-8");
    expect_error("x = 1\n[a]\nSubject: \xff\n", "t.tmpl:1: unknown header key 'x'");
    expect_error("[a]\nSubject: x\n\n\xe2\x82\n\xac\n", "t.tmpl:4: invalid UTF-8");
    {
        static const char nul[] = "[a]\nSubject: x\n\nnul \0 here\n";
        struct tk_template t;
        struct tk_error err = {0};
        TK_CHECK_INT(tk_template_parse(nul, sizeof nul - 1, "n", &t, &err), TK_EINVAL);
        TK_CHECK_STR(err.msg, "n:4: NUL byte in template");
    }
}

static void render_is(const char *src, const struct tk_kv *vars, const char *want)
{
    struct tk_buf b = {0};
    struct tk_error err = {0};
    TK_CHECK_INT(tk_template_render(src, vars, &b, &err), 0);
    if (!b.data || strcmp(b.data, want) != 0)
        fprintf(stderr, "  render \"%s\" gave \"%s\", want \"%s\"\n", src, b.data, want);
    TK_CHECK_STR(b.data, want);
    tk_buf_free(&b);
}

TK_TEST(test_render)
{
    struct tk_kv v = {0};
    struct tk_buf b = {0};
    struct tk_error err = {0};
    tk_kv_set(&v, "firm.name", "Acme");
    tk_kv_set(&v, "contact.name", "{{firm.name}}");
    tk_kv_set(&v, "invoice.paid", "yes");
    tk_kv_set(&v, "empty", "");
    render_is("Hi {{ contact.name }} from {{firm.name}}{{unknown}}.", &v,
              "Hi {{firm.name}} from Acme.");
    render_is("a{{#invoice.paid}}PAID{{/invoice.paid}}b", &v, "aPAIDb");
    render_is("a{{^invoice.paid}}OPEN{{/invoice.paid}}b", &v, "ab");
    render_is("a{{#empty}}X{{/empty}}{{^empty}}Y{{/empty}}{{#nope}}Z{{/nope}}{{^nope}}W{{/nope}}",
              &v, "aYW");
    render_is("{{#nope}}{{#invoice.paid}}x{{/invoice.paid}}{{^x}}y{{/x}}{{/nope}}z", &v, "z");
    /* standalone section lines vanish with their line end */
    render_is("Dear X,\n{{#invoice.paid}}\nThanks.\n{{/invoice.paid}}\n  {{^invoice.paid}}  \n"
              "Pay.\n{{/invoice.paid}}\nBye\n",
              &v, "Dear X,\nThanks.\nBye\n");
    render_is("x {{#invoice.paid}}\ny{{/invoice.paid}}\n", NULL, "x \n");
    render_is("no vars: {{a}}", NULL, "no vars: ");
    render_is("single { brace } and }} alone", &v, "single { brace } and }} alone");
    tk_buf_puts(&b, "keep");
    TK_CHECK_INT(tk_template_render("x\n{{#a}}\n", &v, &b, &err), TK_EINVAL);
    TK_CHECK_STR(err.msg, "line 2: {{#a}} is never closed");
    TK_CHECK_STR(b.data, "keep");
    TK_CHECK_INT(tk_template_render("{{}}", &v, &b, &err), TK_EINVAL);
    TK_CHECK_INT(tk_template_render("{{a b}}", &v, &b, &err), TK_EINVAL);
    tk_buf_reset(&b);
    tk_kv_set(&v, "items", "- one\n- two\n");
    TK_CHECK_INT(tk_template_render_subject("  Your {{items}}\tnow  ", &v, &b, &err), 0);
    TK_CHECK_STR(b.data, "Your - one - two now");
    tk_buf_free(&b);
    tk_kv_free(&v);
}

TK_TEST(test_nesting_limit)
{
    struct tk_buf s = {0}, b = {0};
    struct tk_error err = {0};
    for (int i = 0; i < 40; i++)
        tk_buf_puts(&s, "{{#a}}");
    for (int i = 0; i < 40; i++)
        tk_buf_puts(&s, "{{/a}}");
    TK_CHECK_INT(tk_template_render(s.data, NULL, &b, &err), TK_EINVAL);
    TK_CHECK(strstr(err.msg, "nested deeper") != NULL);
    tk_buf_free(&s);
    tk_buf_free(&b);
}

/* ---- catalog ---------------------------------------------------------- */

static const struct tk_template_text plug_templates[] = {
    {"en", "default", "[notification]\nSubject: plugin en default\n\nbody\n"},
    {"nl", "default", "[notification]\nSubject: plugin nl default\n\nbody\n"},
    {"en", "engagement", "[notification]\nSubject: plugin en engagement\n\nbody\n"},
    {"en", "broken", "[notification]\nSubject: {{#x}}\n\nbody\n"},
    {NULL, NULL, NULL},
};

static const struct tk_item_type plug = {
    .hdr = TK_PLUGIN_HEADER_INIT(struct tk_item_type, TK_PLUGIN_ITEM, "invoice", "1", "test"),
    .templates = plug_templates,
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    TK_CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static const char *subject_of(const struct tk_template *t)
{
    return t && t->nsections ? t->sections[0].subject : "(none)";
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A test's template folder and everything in it. */
static void remove_tree(const char *dir)
{
    if (nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

TK_TEST(test_catalog)
{
    char dir[] = "/tmp/tk_tmplXXXXXX", path[512];
    struct tk_catalog *cat = NULL;
    const struct tk_template *t = NULL, *t2 = NULL;
    struct tk_error err = {0};
    TK_CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/en", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/en/invoice", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/en/invoice/default.tmpl", dir);
    write_file(path, "[notification]\nSubject: dir en default\n\nbody\n");
    snprintf(path, sizeof path, "%s/en/invoice/bad.tmpl", dir);
    write_file(path, "[notification]\nSubject: x\n\nline\n{{/nope}}\n");

    TK_CHECK_INT(tk_catalog_open(dir, &cat, &err), 0);
    /* the folder beats the plugin */
    TK_CHECK_INT(tk_catalog_find(cat, &plug, "en", NULL, &t, &err), 0);
    TK_CHECK_STR(subject_of(t), "dir en default");
    /* nl: no file, the plugin's nl text beats the folder's en file */
    TK_CHECK_INT(tk_catalog_find(cat, &plug, "nl", "default", &t, &err), 0);
    TK_CHECK_STR(subject_of(t), "plugin nl default");
    TK_CHECK_STR(t->origin, "plugin invoice (nl/default)");
    /* nl engagement: neither folder nor plugin has nl, so en */
    TK_CHECK_INT(tk_catalog_find(cat, &plug, "nl", "engagement", &t, &err), 0);
    TK_CHECK_STR(subject_of(t), "plugin en engagement");
    /* de: falls back to the folder's en file */
    TK_CHECK_INT(tk_catalog_find(cat, &plug, "de", "default", &t, &err), 0);
    TK_CHECK_STR(subject_of(t), "dir en default");
    /* unknown */
    TK_CHECK_INT(tk_catalog_find(cat, &plug, "nl", "nosuch", &t, &err), TK_ENOTFOUND);
    TK_CHECK_STR(err.msg, "no template nosuch for invoice");
    TK_CHECK(t == NULL);
    /* parse errors name the file and line */
    TK_CHECK_INT(tk_catalog_find(cat, &plug, "en", "bad", &t, &err), TK_EINVAL);
    snprintf(path, sizeof path, "%s/en/invoice/bad.tmpl:5: {{/nope}} closes no open section", dir);
    TK_CHECK_STR(err.msg, path);
    TK_CHECK_INT(tk_catalog_find(cat, &plug, "en", "broken", &t, &err), TK_EINVAL);
    TK_CHECK_STR(err.msg, "plugin invoice (en/broken):2: {{#x}} is never closed");
    /* path tricks are refused */
    TK_CHECK_INT(tk_catalog_find(cat, &plug, "en", "../x", &t, &err), TK_EINVAL);
    TK_CHECK_INT(tk_catalog_find(cat, &plug, "../../etc", "default", &t, &err), TK_EINVAL);

    /* cached until reload */
    TK_CHECK_INT(tk_catalog_find(cat, &plug, "en", "default", &t, &err), 0);
    snprintf(path, sizeof path, "%s/en/invoice/default.tmpl", dir);
    write_file(path, "[notification]\nSubject: edited\n\nbody\n");
    TK_CHECK_INT(tk_catalog_find(cat, &plug, "en", "default", &t2, &err), 0);
    TK_CHECK(t == t2);
    TK_CHECK_STR(subject_of(t2), "dir en default");
    tk_catalog_reload(cat);
    TK_CHECK_INT(tk_catalog_find(cat, &plug, "en", "default", &t2, &err), 0);
    TK_CHECK_STR(subject_of(t2), "edited");
    tk_catalog_close(cat);

    /* no folder: plugin texts only */
    TK_CHECK_INT(tk_catalog_open(NULL, &cat, &err), 0);
    TK_CHECK_INT(tk_catalog_find(cat, &plug, "nl", NULL, &t, &err), 0);
    TK_CHECK_STR(subject_of(t), "plugin nl default");
    TK_CHECK_INT(tk_catalog_find(cat, &plug, NULL, NULL, &t, &err), 0);
    TK_CHECK_STR(subject_of(t), "plugin en default");
    tk_catalog_close(cat);

    remove_tree(dir);
}

/* Names are looked up in place in the source: a key that only starts with
 * the name, or is a prefix of it, is a different variable. */
TK_TEST(test_render_lookup_in_place)
{
    struct tk_kv kv = {0};
    struct tk_buf out = {0};
    TK_CHECK_INT(tk_kv_set(&kv, "a.bc", "long"), 0);
    TK_CHECK_INT(tk_kv_set(&kv, "a", "short"), 0);
    TK_CHECK_INT(tk_kv_set(&kv, "b", "B"), 0);
    TK_CHECK_INT(tk_template_render("[{{a.b}}|{{a}}|{{a.bc}}|{{ b }}|{x}{{b}}}{]", &kv, &out, NULL),
                 0);
    TK_CHECK_STR(out.data, "[|short|long|B|{x}B}{]");
    tk_buf_reset(&out);
    TK_CHECK_INT(tk_template_render_subject("  {{a}}\t\r\n {{b}}  {{a.b}} ", &kv, &out, NULL), 0);
    TK_CHECK_STR(out.data, "short B");
    tk_buf_free(&out);
    tk_kv_free(&kv);
}

/* The output buffer's ceiling counts the output, not the source: a long
 * skipped section must not make a short result fail, and a result that
 * does not fit leaves the buffer as it was. */
TK_TEST(test_render_ceiling)
{
    struct tk_buf src = {0}, out = {0};
    struct tk_error err = {0};
    TK_CHECK_INT(tk_buf_puts(&src, "ok{{#no}}"), 0);
    for (int i = 0; i < 200; i++)
        TK_CHECK_INT(tk_buf_puts(&src, "skipped text "), 0);
    TK_CHECK_INT(tk_buf_puts(&src, "{{/no}}!"), 0);
    out.max = 100;
    TK_CHECK_INT(tk_buf_puts(&out, "KEEP"), 0);
    TK_CHECK_INT(tk_template_render(src.data, NULL, &out, &err), 0);
    TK_CHECK_STR(out.data, "KEEPok!");
    TK_CHECK_INT(tk_template_render_subject(src.data, NULL, &out, &err), 0);
    TK_CHECK_STR(out.data, "KEEPok!ok!");
    out.max = 12;
    TK_CHECK_INT(tk_template_render_subject(src.data, NULL, &out, &err), TK_ENOMEM);
    TK_CHECK_STR(out.data, "KEEPok!ok!");
    TK_CHECK_INT(tk_template_render("abc", NULL, &out, &err), TK_ENOMEM);
    TK_CHECK_STR(out.data, "KEEPok!ok!");
    tk_buf_free(&src);
    tk_buf_free(&out);
}

static int same_template(const struct tk_template *a, const struct tk_template *b)
{
    if (!tk_streq(a->origin, b->origin) || !tk_streq(a->description, b->description) ||
        a->has_reminders != b->has_reminders || a->rem_enabled != b->rem_enabled ||
        a->rem_every_days != b->rem_every_days || a->rem_count != b->rem_count ||
        a->rem_nsched != b->rem_nsched || a->nsections != b->nsections)
        return 0;
    for (int i = 0; i < a->rem_nsched; i++)
        if (a->rem_sched[i] != b->rem_sched[i])
            return 0;
    for (size_t i = 0; i < a->nsections; i++)
        if (!tk_streq(a->sections[i].name, b->sections[i].name) ||
            !tk_streq(a->sections[i].subject, b->sections[i].subject) ||
            !tk_streq(a->sections[i].body, b->sections[i].body))
            return 0;
    return 1;
}

static void problem_count(void *u, const struct tk_error *e)
{
    (void)e;
    (*(int *)u)++;
}

/* tk_catalog_check_keep (one CLI command: each file read and parsed once)
 * against the old path, tk_catalog_check then a first tk_catalog_find:
 * every lookup gives the same template or the same error. */
TK_TEST(test_catalog_check_keep)
{
    static const char *const langs[] = {"en", "nl", "de", NULL};
    static const char *const names[] = {"default", "engagement", "bad", "broken",
                                        "nosuch",  "only_nl",    NULL};
    char dir[] = "/tmp/tk_tmplXXXXXX", path[512];
    struct tk_catalog *kept = NULL, *plain = NULL;
    struct tk_error err = {0}, err2 = {0};
    size_t nbad = 0, nbad2 = 0;
    int calls = 0, calls2 = 0;
    TK_CHECK(mkdtemp(dir) != NULL);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, langs[i]);
        mkdir(path, 0700);
        snprintf(path, sizeof path, "%s/%s/invoice", dir, langs[i]);
        mkdir(path, 0700);
    }
    snprintf(path, sizeof path, "%s/en/invoice/default.tmpl", dir);
    write_file(path,
               "description = d\nreminders = on\nevery_days = 3\n\n[notification]\n"
               "Subject: dir en default\n\nbody {{item.title}}\n[reminder]\nSubject: r\n\nr\n");
    snprintf(path, sizeof path, "%s/en/invoice/bad.tmpl", dir);
    write_file(path, "[notification]\nSubject: x\n\nline\n{{/nope}}\n");
    snprintf(path, sizeof path, "%s/nl/invoice/only_nl.tmpl", dir);
    write_file(path, "[notification]\nSubject: alleen nl\n\nbody\n");

    TK_CHECK_INT(tk_catalog_open(dir, &kept, &err), 0);
    TK_CHECK_INT(tk_catalog_open(dir, &plain, &err), 0);
    TK_CHECK_INT(tk_catalog_check_keep(kept, problem_count, &calls, &nbad, &err), 0);
    TK_CHECK_INT(tk_catalog_check(plain, problem_count, &calls2, &nbad2, &err2), 0);
    TK_CHECK_INT((int)nbad, 1);
    TK_CHECK_INT((int)nbad, (int)nbad2);
    TK_CHECK_INT(calls, calls2);
    for (int l = 0; langs[l]; l++)
        for (int n = 0; names[n]; n++) {
            const struct tk_template *a = NULL, *b = NULL;
            int ra = tk_catalog_find(kept, &plug, langs[l], names[n], &a, &err);
            int rb = tk_catalog_find(plain, &plug, langs[l], names[n], &b, &err2);
            TK_CHECK_INT(ra, rb);
            if (ra == 0 && rb == 0)
                TK_CHECK(same_template(a, b));
            else
                TK_CHECK_STR(err.msg, err2.msg);
        }
    /* a second check keeps nothing twice */
    TK_CHECK_INT(tk_catalog_check_keep(kept, NULL, NULL, &nbad, &err), 0);
    tk_catalog_close(kept);
    tk_catalog_close(plain);

    remove_tree(dir);
}

/* The names a parsed section keeps for the engine (template.h) against
 * tk_template_names of its texts, the count the engine made for each
 * message before: the same names in the same order, with the subject's
 * count; NULL (the engine counts them again) exactly when there are none
 * or more than TK_TEMPLATE_NAMES_MAX. */
TK_TEST(section_names_as_counted)
{
    static const char *const subjects[] = {"Plain", "{{a}}", "{{a}} {{#b}}x{{/b}} {{^c}}y{{/c}}"};
    for (size_t si = 0; si < sizeof subjects / sizeof subjects[0]; si++)
        for (size_t nbody = 0; nbody <= TK_TEMPLATE_NAMES_MAX + 1; nbody++) {
            struct tk_buf text = {0};
            struct tk_template t;
            struct tk_error err = {0};
            struct tk_template_name v[TK_TEMPLATE_NAMES_MAX];
            tk_buf_puts(&text, "[s]\nSubject: ");
            tk_buf_puts(&text, subjects[si]);
            tk_buf_puts(&text, "\n\nDear {{x.y}}");
            for (size_t i = 1; i < nbody; i++)
                tk_buf_printf(&text, "%s{{n%zu}}", i % 3 ? " " : "\n", i % 7);
            tk_buf_puts(&text, "\n");
            TK_CHECK_INT(tk_template_parse(text.data, text.len, "t", &t, &err), 0);
            const struct tk_template_section *sec = tk_template_section(&t, "s");
            TK_CHECK(sec != NULL);
            if (sec) {
                size_t ns = tk_template_names(sec->subject, v, TK_TEMPLATE_NAMES_MAX);
                size_t nb = tk_template_names(sec->body, v + ns, TK_TEMPLATE_NAMES_MAX - ns);
                int kept = ns + nb > 0 && nb <= TK_TEMPLATE_NAMES_MAX - ns;
                TK_CHECK_INT(sec->names != NULL, kept);
                if (sec->names) {
                    TK_CHECK_INT(sec->nsubject_names, ns);
                    TK_CHECK_INT(sec->nbody_names, nb);
                    for (size_t i = 0; i < ns + nb; i++)
                        TK_CHECK(sec->names[i].name == v[i].name && sec->names[i].len == v[i].len);
                }
            }
            tk_template_free(&t);
            tk_buf_free(&text);
        }
}

int main(void)
{
    TK_RUN(test_parse_good);
    TK_RUN(section_names_as_counted);
    TK_RUN(test_parse_errors);
    TK_RUN(test_parse_body_line_endings);
    TK_RUN(test_placeholder_name_bytes);
    TK_RUN(test_render);
    TK_RUN(test_nesting_limit);
    TK_RUN(test_catalog);
    TK_RUN(test_catalog_check_keep);
    TK_RUN(test_render_lookup_in_place);
    TK_RUN(test_render_ceiling);
    return tk_test_done();
}
