/*
 * template.h - email templates: parsing, lookup and rendering.
 *
 * A template is a small text file (format in docs/templates.md):
 *
 *     # comment
 *     description = Invoice with payment reminders
 *     reminders = on            R8: the template's reminder defaults
 *     every_days = 7
 *     count = 3
 *
 *     [notification]
 *     Subject: Invoice {{invoice.number}} from {{firm.name}}
 *
 *     Dear {{contact.name}},
 *     ...
 *     [reminder]
 *     Subject: ...
 *
 * Header lines (key = value) come before the first [section]; each section
 * is a Subject: line, a blank line and the body up to the next line that
 * starts with `[` (write `\[` for a body line that must start with one).
 * Placeholders: {{name}} (unknown or unset: empty), {{#name}}...{{/name}}
 * (only when name is non-empty), {{^name}}...{{/name}} (only when empty).
 *
 * Lookup (the catalog): DIR/LANG/TYPE/NAME.tmpl in the templates folder,
 * else the template compiled into the type's plugin for LANG, else the same
 * for "en".  An unknown NAME is an error.
 */
#ifndef TK_TEMPLATE_H
#define TK_TEMPLATE_H

#include "util/util.h"

struct tk_item_type;

/* The tone ladder: [reminder.N] for N from 1 to this (the most a count may
 * be), and [reminder.last]. */
#define TK_TEMPLATE_MAX_STEP 1000

/* A name a tag uses (tk_template_names): NAME, LEN bytes, borrowed from
 * the text. */
struct tk_template_name {
    const char *name;
    size_t len;
};

/* The most names a section keeps for the engine (below). */
#define TK_TEMPLATE_NAMES_MAX 32

struct tk_template_section {
    char *name;    /* "notification", "reminder", "reminder.2", "reminder.last", "resend", "copy" */
    char *subject; /* raw, with placeholders */
    char *body;
    /* The names the subject's tags use, then the body's (tk_template_names
     * of each, borrowed from them), made once when the section is parsed:
     * the engine makes only those variables for a message, and counting
     * them for every message was about 1.1k instructions (issue 17).
     * NSUBJECT_NAMES and NBODY_NAMES of them.  NULL when not made (none,
     * more than TK_TEMPLATE_NAMES_MAX, or no memory): count them from the
     * texts, as before.  Freed by tk_template_free. */
    struct tk_template_name *names;
    size_t nsubject_names, nbody_names;
};

struct tk_template {
    char *origin; /* "PATH" or "plugin invoice (nl)" for messages */
    char *description;
    int has_reminders;                          /* the header set reminders = on|off */
    int rem_enabled, rem_every_days, rem_count; /* -1: not set */
    int rem_nsched;                             /* schedule = -7,0,7; 0: not set */
    int rem_sched[TK_SCHEDULE_MAX];
    struct tk_template_section *sections;
    size_t nsections;
};

/* Parse TEXT (LEN bytes).  ORIGIN names it in errors ("ORIGIN:LINE: ...").
 * *out is filled on success; caller frees with tk_template_free. */
int tk_template_parse(const char *text, size_t len, const char *origin, struct tk_template *out,
                      struct tk_error *err);
void tk_template_free(struct tk_template *t);
/* The section NAME, or NULL. Borrowed from T. */
const struct tk_template_section *tk_template_section(const struct tk_template *t,
                                                      const char *name);

/* Render SRC replacing placeholders from VARS; appends to OUT. */
int tk_template_render(const char *src, const struct tk_kv *vars, struct tk_buf *out,
                       struct tk_error *err);
/* Render a subject: as tk_template_render, then every run of whitespace
 * (newlines included) becomes one space and the ends are trimmed, so the
 * result is one line. */
int tk_template_render_subject(const char *src, const struct tk_kv *vars, struct tk_buf *out,
                               struct tk_error *err);
/* The names SRC's tags use ({{name}}, {{#name}}, {{^name}}; in order,
 * repeats included), the first MAX into V (borrowed from SRC): how many
 * there are, which may exceed MAX; (size_t)-1 when SRC is malformed. */
size_t tk_template_names(const char *src, struct tk_template_name *v, size_t max);
/* Check SRC's placeholders without rendering.  0, or TK_EINVAL with ERR set
 * to the message and *LINE (may be NULL) to the 1-based line within SRC. */
int tk_template_check(const char *src, size_t *line, struct tk_error *err);

/* ---- dates and amounts in the reader's language (format.c) ------------ */

/* 1 when LANG ("nl", "nl-BE") is Dutch; anything else reads as English. */
int tk_format_is_dutch(const char *lang);
/* "2026-12-31" -> "31 December 2026" (en) / "31 december 2026" (nl) into OUT
 * (SIZE bytes, NUL included).  TK_EINVAL for anything but a real date of that
 * shape, TK_ERR when OUT is too small; OUT is "" on failure. */
int tk_format_date(const char *lang, const char *date, char *out, size_t size,
                   struct tk_error *err);
/* "1234.5" in "EUR" -> "€1,234.50" (en) / "€ 1.234,50" (nl); currencies
 * without a symbol here as their code: "CHF 1,234.50".  AMOUNT as
 * TK_FIELD_AMOUNT allows it (digits, at most two decimals), CURRENCY three
 * capitals.  Errors as tk_format_date. */
int tk_format_amount(const char *lang, const char *amount, const char *currency, char *out,
                     size_t size, struct tk_error *err);

/* ---- catalog ---------------------------------------------------------- */

struct tk_catalog;

/* DIR may be NULL (plugin defaults only).  Caller closes. */
int tk_catalog_open(const char *dir, struct tk_catalog **out, struct tk_error *err);
void tk_catalog_close(struct tk_catalog *cat);
/* The folder CAT reads (NULL: plugin defaults only); borrowed until close. */
const char *tk_catalog_dir(const struct tk_catalog *cat);
/* Forget cached files (SIGHUP): the next find reads them again. */
void tk_catalog_reload(struct tk_catalog *cat);
/* Find template NAME ("default" when NULL) for TYPE in LANG.  *out is
 * borrowed until tk_catalog_close/reload. */
int tk_catalog_find(struct tk_catalog *cat, const struct tk_item_type *type, const char *lang,
                    const char *name, const struct tk_template **out, struct tk_error *err);

/* Called with each broken template file; E ("FILE:LINE: why") is borrowed
 * until the call returns. */
typedef void (*tk_catalog_problem_fn)(void *u, const struct tk_error *e);
/* Parse every DIR/LANG/TYPE/NAME.tmpl of the templates folder, whether or
 * not a loaded type uses it, without caching anything.  EACH (may be NULL)
 * gets every file that does not parse or read; *NBAD counts them.  Returns
 * non-zero only when the check itself fails (out of memory, an unreadable
 * folder). */
int tk_catalog_check(struct tk_catalog *cat, tk_catalog_problem_fn each, void *u, size_t *nbad,
                     struct tk_error *err);
/* The same, and every file that parses is kept as the entry
 * tk_catalog_find makes for its (TYPE, LANG, NAME) (that lookup reads this
 * very file first), so that a process that renders right after the check
 * (one CLI command) reads and parses each file once.  A daemon keeps
 * tk_catalog_check: it parses a file at its first use, after the check. */
int tk_catalog_check_keep(struct tk_catalog *cat, tk_catalog_problem_fn each, void *u, size_t *nbad,
                          struct tk_error *err);

#endif
