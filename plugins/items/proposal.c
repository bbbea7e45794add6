/*
 * proposal.c - the proposal item type: the client must sign a proposal or
 * engagement letter.  R10: reminders stop when the client signs (or, our
 * addition, declines: a declined proposal is done, reminding is pointless).
 */
#include "item_common.h"
#include "tk_templates_proposal.h"

static int proposal_init(const struct tk_host *host, void **state, struct tk_error *err)
{
    return item_state_init(host, sizeof(struct item_state), state, err);
}

static int proposal_prepare(void *state, struct tk_item_ctx *ctx, struct tk_error *err)
{
    const struct tk_host *h = ((struct item_state *)state)->host;
    /* An amount without a currency cannot be shown to a client unambiguously. */
    if (h->field_get(ctx, "amount") && !h->field_get(ctx, "currency"))
        return h->error_set(err, TK_EINVAL,
                            "proposal: currency is required when amount is given "
                            "(e.g. currency=EUR)");
    return TK_OK;
}

static int proposal_vars(void *state, struct tk_item_ctx *ctx, struct tk_error *err)
{
    const struct tk_host *h = ((struct item_state *)state)->host;
    int rc = item_set_amount_text(h, ctx, err);
    if (rc)
        return rc;
    return item_set_due_text(h, ctx, err);
}

static const struct tk_event_spec proposal_events[] = {
    {"signed", "signed", "The client signed the proposal: reminders stop (R10)"},
    {"declined", "declined", "The client declined the proposal: reminders stop"},
    {"viewed", NULL, "The client opened the proposal"},
    {NULL, NULL, NULL},
};

static const struct tk_field_spec proposal_fields[] = {
    {"amount", TK_FIELD_AMOUNT, 0, "Proposed fee, e.g. 1200.00 (needs currency)"},
    {"currency", TK_FIELD_CURRENCY, 0, "ISO 4217 currency of amount, e.g. EUR"},
    {"due_date", TK_FIELD_DATE, 0, "Date by which the proposal should be signed"},
    {NULL, 0, 0, NULL},
};

static const struct tk_item_type proposal_type = {
    .hdr = TK_PLUGIN_HEADER_INIT(struct tk_item_type, TK_PLUGIN_ITEM, "proposal", "1.0",
                                 "Proposals and engagement letters the client must sign"),
    .lua_verb = "send_proposal",
    .events = proposal_events,
    .fields = proposal_fields,
    .templates = tk_templates_proposal,
    .init = proposal_init,
    .fini = item_state_fini,
    .prepare = proposal_prepare,
    .vars = proposal_vars,
    .section = NULL, /* host default: the kind while pending, nothing after */
};

TK_PLUGIN_EXPORT const struct tk_plugin_header *tk_plugin_entry(void)
{
    return &proposal_type.hdr;
}
