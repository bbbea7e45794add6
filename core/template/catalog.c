/* catalog.c - finding templates: the templates folder first, then the
 * plugin's compiled-in text, each in the wanted language and then in "en".
 *
 * Templates are parsed on first use and kept until reload, so a broken file
 * only breaks the emails that need it, and SIGHUP picks up edits.
 * tk_catalog_check() parses every file of the folder up front, so that a
 * typo is reported when a command starts, not at the first email that
 * needs the file. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/template.h"
#include "tickler/item.h"

#define MAX_FILE ((size_t)1 << 20)

struct entry {
    char *key; /* "TYPE/LANG/NAME" as asked for */
    struct tk_template *t;
};

struct tk_catalog {
    char *dir;
    struct entry *v;
    size_t n, cap;
};

int tk_catalog_open(const char *dir, struct tk_catalog **out, struct tk_error *err)
{
    struct tk_catalog *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c || (dir && !(c->dir = tk_strdup(dir)))) {
        free(c);
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    *out = c;
    return 0;
}

const char *tk_catalog_dir(const struct tk_catalog *cat)
{
    return cat ? cat->dir : NULL;
}

void tk_catalog_reload(struct tk_catalog *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->n; i++) {
        free(cat->v[i].key);
        tk_template_free(cat->v[i].t);
        free(cat->v[i].t);
    }
    free(cat->v);
    cat->v = NULL;
    cat->n = cat->cap = 0;
}

void tk_catalog_close(struct tk_catalog *cat)
{
    if (!cat)
        return;
    tk_catalog_reload(cat);
    free(cat->dir);
    free(cat);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names become path parts: keep them to [a-z0-9_-] so that nothing can
 * climb out of the templates folder. */
static int safe_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* Read PATH: 0 with *text, TK_ENOTFOUND when it does not exist, else an
 * error. */
static int read_file(const char *path, struct tk_buf *text, struct tk_error *err)
{
    FILE *f = fopen(path, "rb");
    char chunk[8192];
    size_t n;
    int rc = 0;
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR)
            return TK_ENOTFOUND;
        return tk_error_set(err, TK_EIO, "cannot read %s: %s", path, strerror(errno));
    }
    text->max = MAX_FILE;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (tk_buf_append(text, chunk, n))
            rc = tk_error_set(err, TK_EINVAL, "%s: larger than %zu bytes", path, MAX_FILE);
    if (!rc && ferror(f))
        rc = tk_error_set(err, TK_EIO, "cannot read %s: %s", path, strerror(errno));
    if (!rc && !text->data)
        rc = tk_buf_append(text, "", 0);
    fclose(f);
    return rc;
}

/* Look in one language: the folder, then the plugin.  TK_ENOTFOUND when
 * neither has it. */
static int load_lang(struct tk_catalog *cat, const struct tk_item_type *type, const char *lang,
                     const char *name, struct tk_template *t, struct tk_error *err)
{
    char origin[256];
    int rc;
    if (cat->dir) {
        struct tk_buf text = {0};
        char *path = tk_strprintf("%s/%s/%s/%s.tmpl", cat->dir, lang, type->hdr.name, name);
        if (!path)
            return tk_error_set(err, TK_ENOMEM, "out of memory");
        rc = read_file(path, &text, err);
        if (rc == 0)
            rc = tk_template_parse(text.data, text.len, path, t, err);
        free(path);
        tk_buf_free(&text);
        if (rc != TK_ENOTFOUND)
            return rc;
    }
    for (const struct tk_template_text *tt = type->templates; tt && tt->lang; tt++) {
        if (!tk_streq(tt->lang, lang) || !tk_streq(tt->name, name) || !tt->text)
            continue;
        snprintf(origin, sizeof origin, "plugin %s (%s/%s)", type->hdr.name, lang, name);
        return tk_template_parse(tt->text, strlen(tt->text), origin, t, err);
    }
    return TK_ENOTFOUND;
}

/* Room for one more entry. */
static int grow(struct tk_catalog *cat)
{
    if (cat->n == cat->cap) {
        size_t cap = cat->cap ? cat->cap * 2 : 16;
        struct entry *v = realloc(cat->v, cap * sizeof *v);
        if (!v)
            return -1;
        cat->v = v;
        cat->cap = cap;
    }
    return 0;
}

/* The entry of (TYPE, LANG, NAME), or NULL: tk_catalog_find's lookup and
 * keep()'s. */
static struct tk_template *find_entry(const struct tk_catalog *cat, const char *type,
                                      const char *lang, const char *name)
{
    for (size_t i = 0; i < cat->n; i++)
        if (tk_str_key3_is(cat->v[i].key, '/', type, lang, name))
            return cat->v[i].t;
    return NULL;
}

/* Append KEY and T (both the catalog's from then on); -1 when out of
 * memory, and then neither is taken. */
static int add_entry(struct tk_catalog *cat, char *key, struct tk_template *t)
{
    if (grow(cat) != 0)
        return -1;
    cat->v[cat->n].key = key;
    cat->v[cat->n].t = t;
    cat->n++;
    return 0;
}

int tk_catalog_find(struct tk_catalog *cat, const struct tk_item_type *type, const char *lang,
                    const char *name, const struct tk_template **out, struct tk_error *err)
{
    struct tk_template *t;
    char *key;
    int rc;
    *out = NULL;
    if (!name)
        name = "default";
    if (!lang || !*lang)
        lang = "en";
    if (!type || !type->hdr.name || !safe_name(type->hdr.name))
        return tk_error_set(err, TK_EINVAL, "template lookup without a valid item type");
    if (!safe_name(name))
        return tk_error_set(err, TK_EINVAL, "invalid template name '%.64s'", name);
    if (!safe_name(lang))
        return tk_error_set(err, TK_EINVAL, "invalid template language '%.64s'", lang);
    if ((*out = find_entry(cat, type->hdr.name, lang, name)) != NULL)
        return 0;
    key = tk_strprintf("%s/%s/%s", type->hdr.name, lang, name);
    if (!key)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    t = calloc(1, sizeof *t);
    if (!t) {
        free(key);
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    rc = load_lang(cat, type, lang, name, t, err);
    if (rc == TK_ENOTFOUND && strcmp(lang, "en") != 0)
        rc = load_lang(cat, type, "en", name, t, err);
    if (rc == TK_ENOTFOUND)
        tk_error_set(err, TK_ENOTFOUND, "no template %s for %s", name, type->hdr.name);
    if (!rc && add_entry(cat, key, t) != 0) {
        tk_template_free(t);
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    if (rc) {
        free(t);
        free(key);
        return rc;
    }
    *out = t;
    return 0;
}

/* The entries of folder PATH that SAFE names, sorted; NULL-safe on a
 * missing folder (an empty list). */
static int names_in(const char *path, const char *suffix, struct tk_strv *out, struct tk_error *err)
{
    DIR *d = opendir(path);
    struct dirent *de;
    size_t sl = suffix ? strlen(suffix) : 0;
    if (!d)
        return errno == ENOENT || errno == ENOTDIR
                   ? 0
                   : tk_error_set(err, TK_EIO, "cannot read %s: %s", path, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        char name[256];
        size_t n = tk_strlcpy(name, de->d_name, sizeof name);
        if (n >= sizeof name || n <= sl || (sl && strcmp(name + n - sl, suffix) != 0))
            continue;
        name[n - sl] = '\0';
        if (!safe_name(name))
            continue;
        if (tk_strv_push(out, name)) {
            closedir(d);
            return tk_error_set(err, TK_ENOMEM, "out of memory");
        }
    }
    closedir(d);
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, by_name);
    return 0;
}

/* Keep T, parsed from the folder's LANG/TYPE/NAME.tmpl, as the entry
 * tk_catalog_find makes for (TYPE, LANG, NAME): that lookup reads this
 * very file first.  T is the catalog's, or freed, either way. */
static int keep(struct tk_catalog *cat, const char *type, const char *lang, const char *name,
                struct tk_template *t)
{
    struct tk_template *copy;
    char *key;
    if (find_entry(cat, type, lang, name)) {
        tk_template_free(t); /* found before the check: that one stays */
        return 0;
    }
    key = tk_strprintf("%s/%s/%s", type, lang, name);
    copy = key ? malloc(sizeof *copy) : NULL;
    if (copy)
        *copy = *t;
    if (!copy || add_entry(cat, key, copy) != 0) {
        free(copy);
        free(key);
        tk_template_free(t);
        return TK_ENOMEM;
    }
    return 0;
}

/* Parse one file; a failure goes to EACH.  KEEP: what parses is kept
 * (keep()) for the lookup of (TYPE, LANG, NAME). */
static int check_file(struct tk_catalog *cat, int keep_parsed, const char *type, const char *lang,
                      const char *name, const char *path, tk_catalog_problem_fn each, void *u,
                      size_t *nbad)
{
    struct tk_buf text = {0};
    struct tk_template t;
    struct tk_error e = {0};
    int rc = read_file(path, &text, &e);
    if (rc == 0 && (rc = tk_template_parse(text.data, text.len, path, &t, &e)) == 0) {
        if (keep_parsed)
            rc = keep(cat, type, lang, name, &t);
        else
            tk_template_free(&t);
    }
    tk_buf_free(&text);
    if (rc == TK_ENOMEM)
        return rc;
    if (rc != 0 && rc != TK_ENOTFOUND) {
        (*nbad)++;
        if (each)
            each(u, &e);
    }
    return 0;
}

static int check_folder(struct tk_catalog *cat, int keep_parsed, tk_catalog_problem_fn each,
                        void *u, size_t *nbad, struct tk_error *err)
{
    struct tk_strv langs = {0};
    int rc = 0;
    *nbad = 0;
    if (!cat || !cat->dir)
        return 0;
    rc = names_in(cat->dir, NULL, &langs, err);
    for (size_t i = 0; rc == 0 && i < langs.n; i++) {
        struct tk_strv types = {0};
        char *ldir = tk_strprintf("%s/%s", cat->dir, langs.v[i]);
        rc = ldir ? names_in(ldir, NULL, &types, err)
                  : tk_error_set(err, TK_ENOMEM, "out of memory");
        for (size_t k = 0; rc == 0 && k < types.n; k++) {
            struct tk_strv files = {0};
            char *tdir = tk_strprintf("%s/%s", ldir, types.v[k]);
            rc = tdir ? names_in(tdir, ".tmpl", &files, err)
                      : tk_error_set(err, TK_ENOMEM, "out of memory");
            for (size_t f = 0; rc == 0 && f < files.n; f++) {
                char *path = tk_strprintf("%s/%s.tmpl", tdir, files.v[f]);
                rc = path ? check_file(cat, keep_parsed, types.v[k], langs.v[i], files.v[f], path,
                                       each, u, nbad)
                          : tk_error_set(err, TK_ENOMEM, "out of memory");
                if (rc == TK_ENOMEM)
                    tk_error_set(err, TK_ENOMEM, "out of memory");
                free(path);
            }
            tk_strv_free(&files);
            free(tdir);
        }
        tk_strv_free(&types);
        free(ldir);
    }
    tk_strv_free(&langs);
    return rc;
}

int tk_catalog_check(struct tk_catalog *cat, tk_catalog_problem_fn each, void *u, size_t *nbad,
                     struct tk_error *err)
{
    return check_folder(cat, 0, each, u, nbad, err);
}

int tk_catalog_check_keep(struct tk_catalog *cat, tk_catalog_problem_fn each, void *u, size_t *nbad,
                          struct tk_error *err)
{
    return check_folder(cat, 1, each, u, nbad, err);
}
