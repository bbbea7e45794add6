/* test_fault_alloc.c - "no crash, no leak, no half-written output on out of
 * memory", proved by failing the Nth allocation of an operation for
 * N = 1, 2, ... until the operation gets through untouched.
 *
 * The test is linked with -Wl,--wrap=malloc,realloc,calloc,strdup
 * (tests/CMakeLists.txt), so every allocation made by this file and by the
 * core modules linked in goes through the countdown below; allocations
 * inside shared libraries (libc itself, sqlite, ...) do not.  Each failure
 * must return TK_ENOMEM with a message and leave the output as the module
 * documents it; leaks are LeakSanitizer's job (the sanitizer build runs
 * this test too). */
#include <stdlib.h>

#include "mail/mail.h"
#include "template/template.h"
#include "tk_fault.h"
#include "tk_test.h"

#define MAX_FAULTS 100000

/* ---- the loop ------------------------------------------------------------ */

/* An operation appends to OUT (which holds "KEEP" when it starts) or fills
 * its own result; it returns its status. */
typedef int (*op_fn)(const void *arg, struct tk_buf *out, struct tk_error *err);

/* Fail allocation N = 1, 2, ... of OP until it succeeds; every failure must
 * be TK_ENOMEM with a message and leave OUT exactly "KEEP".  On success the
 * output must equal the fault-free one (SAME_LEN_ONLY: same length, for
 * output with random parts).  Returns the number of failures. */
static long fault_loop(const char *what, op_fn op, const void *arg, int same_len_only)
{
    struct tk_buf ref = {0};
    struct tk_error err = {0};
    long n, faults = -1;

    TK_CHECK_INT(tk_buf_puts(&ref, "KEEP"), 0);
    TK_CHECK_INT(op(arg, &ref, &err), 0);
    for (n = 1; n <= MAX_FAULTS; n++) {
        struct tk_buf out = {0};
        int rc;
        long left;
        tk_error_clear(&err);
        TK_CHECK_INT(tk_buf_puts(&out, "KEEP"), 0);
        countdown = n;
        rc = op(arg, &out, &err);
        left = countdown;
        countdown = 0;
        if (rc == 0) {
            /* success with the fault spent: an allocation failure was
             * ignored, so the output must still be the full one */
            TK_CHECK(left > 0);
            if (same_len_only)
                TK_CHECK_INT(out.len, ref.len);
            else
                TK_CHECK(out.len == ref.len && memcmp(out.data, ref.data, ref.len) == 0);
            faults = n - 1;
            tk_buf_free(&out);
            break;
        }
        if (rc != TK_ENOMEM || err.code != TK_ENOMEM || !err.msg[0] || left != 0)
            fprintf(stderr, "%s: N=%ld rc=%d code=%d left=%ld msg='%s'\n", what, n, rc, err.code,
                    left, err.msg);
        TK_CHECK_INT(left, 0);
        TK_CHECK_INT(rc, TK_ENOMEM);
        TK_CHECK_INT(err.code, TK_ENOMEM);
        TK_CHECK(err.msg[0] != '\0');
        if (out.len != 4 || memcmp(out.data, "KEEP", 5) != 0)
            fprintf(stderr, "%s: N=%ld left output '%.60s'\n", what, n, out.data);
        TK_CHECK(out.len == 4 && memcmp(out.data, "KEEP", 5) == 0);
        tk_buf_free(&out);
    }
    printf("%-32s %ld allocation failures, then success\n", what, faults);
    TK_CHECK(faults > 0);
    tk_buf_free(&ref);
    return faults;
}

/* ---- mail ----------------------------------------------------------------- */

static int op_mail(const void *arg, struct tk_buf *out, struct tk_error *err)
{
    return tk_mail_build(arg, out, err);
}

static const char *const extra[] = {"X-Tickler-Item", "42", "X-Tickler-Kind",
                                    "reminder \xe2\x80\x94 2", NULL};

TK_TEST(mail_plain_ascii)
{
    struct tk_mail m = {.from_addr = "office@bakker.example",
                        .to_addr = "ann@acme.example",
                        .subject = "Invoice INV-000001 from Bakker",
                        .text = "Dear Ann,\n\nPlease pay.\n\nKind regards\n",
                        .message_id = "<a1.b2@bakker.example>",
                        .date = 1796115600};
    fault_loop("mail plain ASCII (7bit)", op_mail, &m, 0);
}

TK_TEST(mail_plain_utf8_qp)
{
    static char body[4096];
    struct tk_mail m = {
        .from_name = "Bakker & Co \xe2\x80\x94 Accountants",
        .from_addr = "office@bakker.example",
        .to_name = "\xc3\x85sa Str\xc3\xb6m, \"CFO\"",
        .to_addr = "asa@acme.example",
        .subject = "Herinnering: factuur \xe2\x82\xac 1.250,00 van Bakker & Co \xe2\x80\x94 "
                   "betaal v\xc3\xb3\xc3\xb3r 31 december, met vriendelijke groet \xf0\x9f\x98\x80 "
                   "en nog wat tekst om te vouwen",
        .message_id = "<c3.d4@bakker.example>",
        .in_reply_to = "<a1.b2@bakker.example>",
        .date = 1796115600,
        .auto_submitted = 1,
        .extra = extra,
    };
    size_t n = 0;
    /* long lines, UTF-8, trailing blanks, an invalid byte: quoted-printable */
    while (n + 200 < sizeof body) {
        n += (size_t)snprintf(body + n, sizeof body - n,
                              "Geachte heer, het bedrag van \xe2\x82\xac 1.250,00 staat nog open "
                              "= zie bijlage. %s \n",
                              n % 3 ? "Dank u wel" : "\xff");
    }
    m.text = body;
    fault_loop("mail UTF-8 subject, QP body", op_mail, &m, 0);
}

TK_TEST(mail_html)
{
    struct tk_mail m = {.from_addr = "office@bakker.example",
                        .to_addr = "ann@acme.example",
                        .subject = "Ihre Rechnung \xc3\xbc"
                                   "ber 100 \xe2\x82\xac",
                        .text = "Hallo,\n\nbitte zahlen.\n",
                        .html = "<p>Hallo,</p>\n<p>bitte <b>zahlen</b> \xe2\x80\x94 danke.</p>\n",
                        .message_id = "<e5.f6@bakker.example>",
                        .date = 1796115600};
    /* the MIME boundary is random: compare lengths */
    fault_loop("mail multipart/alternative", op_mail, &m, 1);
}

static int op_address(const void *arg, struct tk_buf *out, struct tk_error *err)
{
    char *name = NULL, *addr = NULL;
    int rc = tk_mail_parse_address(arg, &name, &addr, err);
    if (!rc) {
        long saved = pause_faults();
        TK_CHECK(name && addr);
        TK_CHECK_INT(tk_buf_printf(out, "%s|%s", name ? name : "", addr ? addr : ""), 0);
        resume_faults(saved);
    } else {
        TK_CHECK(name == NULL && addr == NULL);
    }
    free(name);
    free(addr);
    return rc;
}

TK_TEST(mail_parse_address)
{
    fault_loop("mail parse \"quoted\" address", op_address,
               "\"Bakker \\\"&\\\" Co\" <office@bakker.example>", 0);
    fault_loop("mail parse Name <address>", op_address, "  Bakker Co  <office@bakker.example> ", 0);
}

/* ---- templates ------------------------------------------------------------ */

static const char tmpl_text[] = "# a template\n"
                                "description = Invoice with payment reminders \xe2\x82\xac\n"
                                "reminders = on\n"
                                "every_days = 7\n"
                                "count = 3\n"
                                "\n"
                                "[notification]\n"
                                "Subject: Invoice {{invoice.number}} from {{firm.name}}\n"
                                "\n"
                                "Dear {{contact.name}},\n"
                                "{{#invoice.due_text}}\n"
                                "Please pay by {{invoice.due_text}}.\n"
                                "{{/invoice.due_text}}\n"
                                "\\[not a section]\n"
                                "\n"
                                "[reminder]\n"
                                "Subject: Reminder: {{invoice.number}}\n"
                                "\n"
                                "{{^paid}}Still open.{{/paid}}\n"
                                "\n\n"
                                "[resend]\n"
                                "Subject: Copy\n"
                                "\n";

static int op_parse(const void *arg, struct tk_buf *out, struct tk_error *err)
{
    struct tk_template t;
    int rc;
    memset(&t, 0xa5, sizeof t);
    rc = tk_template_parse(arg, strlen(arg), "fault.tmpl", &t, err);
    if (rc) {
        /* a failed parse leaves nothing to free */
        TK_CHECK(t.sections == NULL && t.origin == NULL && t.description == NULL &&
                 t.nsections == 0);
        return rc;
    }
    long saved = pause_faults();
    TK_CHECK_INT(t.nsections, 3);
    for (size_t i = 0; i < t.nsections; i++)
        TK_CHECK_INT(tk_buf_printf(out, "[%s|%s|%s]", t.sections[i].name, t.sections[i].subject,
                                   t.sections[i].body),
                     0);
    TK_CHECK_INT(tk_buf_printf(out, "%s|%d|%d|%d", t.description, t.rem_enabled, t.rem_every_days,
                               t.rem_count),
                 0);
    resume_faults(saved);
    tk_template_free(&t);
    return 0;
}

TK_TEST(template_parse)
{
    fault_loop("template parse", op_parse, tmpl_text, 0);
}

static struct tk_kv vars;

static int op_render(const void *arg, struct tk_buf *out, struct tk_error *err)
{
    return tk_template_render(arg, &vars, out, err);
}

static int op_render_subject(const void *arg, struct tk_buf *out, struct tk_error *err)
{
    return tk_template_render_subject(arg, &vars, out, err);
}

TK_TEST(template_render)
{
    static char big[8192];
    size_t n = 0;
    tk_kv_free(&vars);
    TK_CHECK_INT(tk_kv_set(&vars, "contact.name", "\xc3\x85sa {{firm.name}}"), 0);
    TK_CHECK_INT(tk_kv_set(&vars, "firm.name", "Bakker & Co"), 0);
    TK_CHECK_INT(tk_kv_set(&vars, "invoice.number", "INV-000001"), 0);
    TK_CHECK_INT(tk_kv_set(&vars, "invoice.due_text", "31 December 2026"), 0);
    /* enough text that the output buffer has to grow several times */
    while (n + 300 < sizeof big)
        n += (size_t)snprintf(big + n, sizeof big - n,
                              "Dear {{contact.name}},\n{{#invoice.due_text}}\n"
                              "Pay {{invoice.number}} by {{invoice.due_text}}.\n"
                              "{{/invoice.due_text}}\n{{^paid}}Open.{{/paid}} {{unknown}}\n");
    fault_loop("template render", op_render, big, 0);
    fault_loop("template render subject", op_render_subject,
               "  Invoice {{invoice.number}}\n from   {{firm.name}} for {{contact.name}}, "
               "due {{invoice.due_text}}:\tplease   pay {{invoice.number}} before "
               "{{invoice.due_text}} to {{firm.name}}  ",
               0);
    tk_kv_free(&vars);
}

/* ---- util helpers --------------------------------------------------------- */

/* Build a kv past two growths, replace and remove; on failure the kv must be
 * exactly what it was before the failed call (checked by the dump). */
static int op_kv(const void *arg, struct tk_buf *out, struct tk_error *err)
{
    struct tk_kv kv = {0};
    char k[16], v[16];
    int rc = 0;
    (void)arg;
    for (int i = 0; i < 20 && !rc; i++) {
        struct tk_buf before = {0}, after = {0};
        int brc;
        snprintf(k, sizeof k, "key%d", i % 17);
        snprintf(v, sizeof v, "val%d", i);
        /* dump with the countdown paused: the dump's own allocations do not
         * count */
        long saved = pause_faults();
        for (size_t j = 0; j < kv.n; j++)
            tk_buf_printf(&before, "%s=%s;", kv.keys[j], kv.vals[j]);
        resume_faults(saved);
        rc = tk_kv_set(&kv, k, i == 19 ? NULL : v);
        saved = pause_faults();
        if (rc) {
            for (size_t j = 0; j < kv.n; j++)
                tk_buf_printf(&after, "%s=%s;", kv.keys[j], kv.vals[j]);
            brc = before.len == after.len &&
                  (before.len == 0 || memcmp(before.data, after.data, before.len) == 0);
            TK_CHECK(brc);
        }
        tk_buf_free(&before);
        tk_buf_free(&after);
        resume_faults(saved);
    }
    if (!rc) {
        long saved = pause_faults();
        for (size_t j = 0; j < kv.n; j++)
            TK_CHECK_INT(tk_buf_printf(out, "%s=%s;", kv.keys[j], kv.vals[j]), 0);
        resume_faults(saved);
    }
    tk_kv_free(&kv);
    return rc ? tk_error_set(err, TK_ENOMEM, "out of memory") : 0;
}

static int op_strv(const void *arg, struct tk_buf *out, struct tk_error *err)
{
    struct tk_strv sv = {0};
    int rc = 0;
    (void)arg;
    for (int i = 0; i < 20 && !rc; i++) {
        size_t n = sv.n;
        rc = tk_strv_push(&sv, "item title");
        TK_CHECK_INT(sv.n, rc ? n : n + 1);
    }
    if (!rc) {
        long saved = pause_faults();
        for (size_t j = 0; j < sv.n; j++)
            TK_CHECK_INT(tk_buf_puts(out, sv.v[j]), 0);
        resume_faults(saved);
    }
    tk_strv_free(&sv);
    return rc ? tk_error_set(err, TK_ENOMEM, "out of memory") : 0;
}

/* tk_ids (tk_array_grow) grows through several doublings; a failed push
 * leaves the ids, their count and the capacity as they were. */
static int op_ids(const void *arg, struct tk_buf *out, struct tk_error *err)
{
    struct tk_ids ids = {0};
    int rc = 0;
    (void)arg;
    for (int64_t i = 0; i < 100 && !rc; i++) {
        size_t n = ids.n, cap = ids.cap;
        rc = tk_ids_push(&ids, 1000 + i);
        TK_CHECK_INT(ids.n, rc ? n : n + 1);
        if (rc)
            TK_CHECK_INT(ids.cap, cap);
        TK_CHECK(ids.n <= ids.cap);
    }
    if (!rc) {
        long saved = pause_faults();
        for (size_t j = 0; j < ids.n; j++) {
            TK_CHECK(ids.v[j] == 1000 + (int64_t)j);
            TK_CHECK_INT(tk_buf_printf(out, "%lld,", (long long)ids.v[j]), 0);
        }
        resume_faults(saved);
    }
    tk_ids_free(&ids);
    TK_CHECK(ids.v == NULL && ids.n == 0 && ids.cap == 0);
    return rc ? tk_error_set(err, TK_ENOMEM, "out of memory") : 0;
}

/* tk_buf appends grow geometrically; a failed append leaves the buffer as it
 * was (length and contents). */
static int op_buf(const void *arg, struct tk_buf *out, struct tk_error *err)
{
    struct tk_buf b = {0};
    char *s, *p = NULL, *d = NULL;
    int rc = 0;
    (void)arg;
    for (int i = 0; i < 200 && !rc; i++) {
        size_t len = b.len;
        rc = i % 2 ? tk_buf_printf(&b, "line %d of the buffer test\n", i)
                   : tk_buf_puts(&b, "some text to make it grow\n");
        if (rc)
            TK_CHECK_INT(b.len, len);
    }
    if (!rc && !(s = tk_buf_steal(&b)))
        rc = TK_ENOMEM;
    else if (!rc) {
        TK_CHECK(b.data == NULL && b.len == 0);
        p = tk_strprintf("%zu", strlen(s));
        d = tk_strdup(s);
        if (!p || !d) {
            rc = TK_ENOMEM;
        } else {
            long saved = pause_faults();
            TK_CHECK_INT(tk_buf_puts(out, p), 0);
            TK_CHECK_INT(tk_buf_puts(out, d), 0);
            resume_faults(saved);
        }
        free(s);
    }
    free(p);
    free(d);
    tk_buf_free(&b);
    return rc ? tk_error_set(err, TK_ENOMEM, "out of memory") : 0;
}

TK_TEST(util_helpers)
{
    fault_loop("tk_kv set/replace/remove", op_kv, NULL, 0);
    fault_loop("tk_strv push", op_strv, NULL, 0);
    fault_loop("tk_ids push (tk_array_grow)", op_ids, NULL, 0);
    fault_loop("tk_buf append/printf/steal", op_buf, NULL, 0);
}

/* The harness itself: the wrappers really fail, and only when armed. */
TK_TEST(wrappers_fail_when_armed)
{
    /* volatile: the compiler may otherwise drop a malloc/free pair */
    void *volatile p;
    char *volatile s;
    countdown = 2;
    p = malloc(8);
    TK_CHECK(p != NULL);
    free(p);
    p = malloc(8);
    TK_CHECK(p == NULL);
    TK_CHECK_INT(countdown, 0);
    p = malloc(8);
    TK_CHECK(p != NULL);
    free(p);
    countdown = 1;
    s = tk_strdup("x");
    TK_CHECK(s == NULL);
    countdown = 1;
    s = strdup("x");
    TK_CHECK(s == NULL);
    countdown = 1;
    p = calloc(2, 8);
    TK_CHECK(p == NULL);
    countdown = 0;
}

int main(void)
{
    TK_RUN(wrappers_fail_when_armed);
    TK_RUN(mail_plain_ascii);
    TK_RUN(mail_plain_utf8_qp);
    TK_RUN(mail_html);
    TK_RUN(mail_parse_address);
    TK_RUN(template_parse);
    TK_RUN(template_render);
    TK_RUN(util_helpers);
    return tk_test_done();
}
