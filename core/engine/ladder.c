/* ladder.c - the tone ladder (issue 14): which section a reminder step uses.
 *
 * A template may carry [reminder.1], [reminder.2], ... and [reminder.last]
 * beside [reminder].  Step N (1-based, the reminder about to be sent) uses,
 * in this order:
 *   1. [reminder.last] when N is the item's last step (N == count);
 *   2. [reminder.N];
 *   3. [reminder].
 * `last` wins over a numbered section on the last step: the count is set per
 * item (--count, a pipeline, the API) and may be shorter than the ladder, and
 * the final notice must still be the last email.  Templates are looked at as
 * render.c looks them up: the item's template first, then the type's
 * "default"; the first of the two that has any reminder section decides, so
 * a named template's own [reminder] is never replaced by the default's
 * ladder. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The ladder section of T for STEP of COUNT, or NULL when T has none of
 * [reminder.last] (on the last step), [reminder.STEP], [reminder]. */
static const char *pick(const struct tk_template *t, int step, int count)
{
    const struct tk_template_section *s = NULL;
    char name[32];
    if (step >= 1 && step == count)
        s = tk_template_section(t, "reminder.last");
    if (!s && step >= 1) {
        tk_str_put_i64(name, sizeof name, tk_str_put(name, sizeof name, 0, "reminder."), step);
        s = tk_template_section(t, name);
    }
    if (!s)
        s = tk_template_section(t, "reminder");
    return s ? s->name : NULL;
}

int tk_ladder_section(struct tk_engine *e, const struct tk_plugin *p, const struct tk_item *it,
                      const char *language, const char **section, struct tk_error *err)
{
    const char *names[2] = {it->template_name ? it->template_name : "default", "default"};
    int step = it->rem.sent + 1;
    for (int i = 0; i < 2; i++) {
        const struct tk_template *t;
        struct tk_error why = {0};
        const char *got;
        int rc;
        if (i == 1 && strcmp(names[0], "default") == 0)
            break;
        rc = tk_catalog_find(e->catalog, p->item, language, names[i], &t, &why);
        if (rc == TK_ENOMEM) {
            *err = why;
            return rc;
        }
        /* a template that does not load keeps [reminder]: rendering then
         * reports the failure on the item (tick.c) */
        if (rc)
            return 0;
        if ((got = pick(t, step, it->rem.count))) {
            *section = got; /* borrowed from the catalog, as the template */
            return 0;
        }
    }
    return 0;
}
