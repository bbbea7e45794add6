/*
 * organizer.c - the organizer item type: the client must fill in and submit
 * a questionnaire.  R9: reminders stop when the client submits it or the
 * firm seals it; merely opening it changes nothing.
 */
#include "item_common.h"
#include "tk_templates_organizer.h"

static int organizer_init(const struct tk_host *host, void **state, struct tk_error *err)
{
    return item_state_init(host, sizeof(struct item_state), state, err);
}

static int organizer_prepare(void *state, struct tk_item_ctx *ctx, struct tk_error *err)
{
    const struct tk_host *h = ((struct item_state *)state)->host;
    const char *year = h->field_get(ctx, "tax_year");
    int64_t y = 0;
    int i;
    /* The host checked it is a decimal integer; a typo such as 20226 would
     * still reach the client in every subject line. */
    if (year) {
        for (i = 0; year[i] >= '0' && year[i] <= '9' && y < 100000; i++)
            y = y * 10 + (year[i] - '0');
        if (year[i] || y < 1900 || y > 2999)
            return h->error_set(err, TK_EINVAL,
                                "organizer: tax_year '%s' is not a year between 1900 and 2999",
                                year);
    }
    return TK_OK;
}

static int organizer_vars(void *state, struct tk_item_ctx *ctx, struct tk_error *err)
{
    return item_set_due_text(((struct item_state *)state)->host, ctx, err);
}

static const struct tk_event_spec organizer_events[] = {
    {"submitted", "submitted", "The client submitted the organizer: reminders stop (R9)"},
    {"sealed", "sealed", "The firm sealed the organizer: reminders stop (R9)"},
    {"opened", NULL, "The client opened the organizer; reminders go on"},
    {NULL, NULL, NULL},
};

static const struct tk_field_spec organizer_fields[] = {
    {"tax_year", TK_FIELD_INTEGER, 0, "Tax year the organizer is about, e.g. 2026"},
    {"due_date", TK_FIELD_DATE, 0, "Date by which the organizer should be submitted"},
    {"portal_url", TK_FIELD_URL, 0, "Direct link to this organizer in the client portal"},
    {NULL, 0, 0, NULL},
};

static const struct tk_item_type organizer_type = {
    .hdr = TK_PLUGIN_HEADER_INIT(struct tk_item_type, TK_PLUGIN_ITEM, "organizer", "1.0",
                                 "Questionnaires the client must fill in and submit"),
    .lua_verb = "create_organizer",
    .events = organizer_events,
    .fields = organizer_fields,
    .templates = tk_templates_organizer,
    .init = organizer_init,
    .fini = item_state_fini,
    .prepare = organizer_prepare,
    .vars = organizer_vars,
    .section = NULL, /* host default: the kind while pending, nothing after */
};

TK_PLUGIN_EXPORT const struct tk_plugin_header *tk_plugin_entry(void)
{
    return &organizer_type.hdr;
}
