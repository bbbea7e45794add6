/* fuzz_template.c - template text for tk_template_parse and the renderer.
 *
 * A template that parses must render every section without error (the
 * parser checks placeholders), and a rendered subject must be one line.
 * The raw input also goes through tk_template_render directly, which must
 * fail cleanly or succeed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template/template.h"

/* libFuzzer calls it; declared for -Wmissing-prototypes */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tk_template t;
    struct tk_kv vars = {0};
    struct tk_buf out = {0};
    char *src;

    tk_kv_set(&vars, "firm.name", "Acme {{firm.name}}");
    tk_kv_set(&vars, "contact.name", "Jane\r\nDoe");
    tk_kv_set(&vars, "item.title", "T");
    tk_kv_set(&vars, "items", "- a\n- b\n");
    tk_kv_set(&vars, "empty", "");

    if (tk_template_parse((const char *)data, size, "fuzz", &t, NULL) == 0) {
        if (t.nsections == 0)
            abort();
        for (size_t i = 0; i < t.nsections; i++) {
            const struct tk_template_section *s = &t.sections[i];
            if (tk_template_section(&t, s->name) != s)
                abort();
            tk_buf_reset(&out);
            if (tk_template_render_subject(s->subject, &vars, &out, NULL) != 0)
                abort();
            if (strchr(out.data, '\n') || strchr(out.data, '\r'))
                abort();
            tk_buf_reset(&out);
            if (tk_template_render(s->body, &vars, &out, NULL) != 0)
                abort();
        }
        tk_template_free(&t);
    }

    src = malloc(size + 1);
    if (src) {
        memcpy(src, data, size);
        src[size] = '\0';
        tk_buf_reset(&out);
        tk_buf_puts(&out, "K");
        if (tk_template_render(src, &vars, &out, NULL) != 0 && strcmp(out.data, "K") != 0)
            abort(); /* a failed render leaves OUT as it was */
        free(src);
    }
    tk_buf_free(&out);
    tk_kv_free(&vars);
    return 0;
}
