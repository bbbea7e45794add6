/*
 * invoice.c - the invoice item type: the client must pay.
 *
 * R11: reminders stop when the client pays in full; a partial payment is
 * recorded and the reminders go on.  R3: an invoice can be resent paid or
 * unpaid, and a paid one goes out as a copy, never as a payment reminder.
 */
#include <inttypes.h>

#include "item_common.h"
#include "tk_templates_invoice.h"

#define NUMBER_PREFIX_MAX 32
#define NUMBER_MAX 64

struct invoice_state {
    struct item_state base; /* first: item_state_fini frees the whole */
    char prefix[NUMBER_PREFIX_MAX + 1];
};

static int invoice_init(const struct tk_host *host, void **state, struct tk_error *err)
{
    struct invoice_state *st;
    const char *prefix;
    size_t i, n;
    int rc = item_state_init(host, sizeof *st, state, err);
    if (rc)
        return rc;
    st = *state;
    prefix = host->config_get(host, "number_prefix");
    if (!prefix)
        prefix = "INV-";
    /* The prefix ends up in subjects and file names: keep it short and
     * printable, and say so now rather than at the first send. */
    n = strlen(prefix);
    for (i = 0; i < n; i++)
        if ((unsigned char)prefix[i] < 0x21 || prefix[i] == 0x7f)
            break;
    if (n > NUMBER_PREFIX_MAX || i < n) {
        item_state_fini(st);
        *state = NULL;
        return host->error_set(err, TK_EINVAL,
                               "[invoice] number_prefix must be at most %d printable "
                               "characters without spaces",
                               NUMBER_PREFIX_MAX);
    }
    memcpy(st->prefix, prefix, n + 1);
    return TK_OK;
}

/* An amount in the core's form (at most 12 digits, 2 decimals; the core
 * checked it) as cents; -1 when absent. */
static int64_t cents(const char *v)
{
    int64_t n = 0;
    int decimals = -1;
    if (!v)
        return -1;
    for (; *v; v++) {
        if (*v == '.') {
            decimals = 0;
        } else {
            n = n * 10 + (*v - '0');
            decimals += decimals >= 0;
        }
    }
    for (; decimals < 2; decimals = decimals < 0 ? 1 : decimals + 1)
        n *= 10;
    return n;
}

static int invoice_prepare(void *state, struct tk_item_ctx *ctx, struct tk_error *err)
{
    struct invoice_state *st = state;
    const struct tk_host *h = st->base.host;
    const char *number = h->field_get(ctx, "number");
    char buf[NUMBER_MAX + 1];
    int64_t seq;
    int rc, n;

    /* Partial payments add up in `paid` (the engine sums an amount given
     * with an event); more than the invoice's amount is a typing error,
     * and payment in full is the `paid` event's job. */
    int64_t amount = cents(h->field_get(ctx, "amount")), paid = cents(h->field_get(ctx, "paid"));
    if (paid >= 0 && amount >= 0 && paid > amount)
        return h->error_set(err, TK_EINVAL,
                            "invoice: payments of %s exceed the amount of %s (use the event "
                            "'paid' for payment in full)",
                            h->field_get(ctx, "paid"), h->field_get(ctx, "amount"));
    if (number) {
        if (!*number || strlen(number) > NUMBER_MAX)
            return h->error_set(err, TK_EINVAL, "invoice: number must be 1 to %d characters",
                                NUMBER_MAX);
        return TK_OK;
    }
    /* Numbered inside the creating transaction: a refused send rolls the
     * counter back too, so invoice numbers have no gaps. */
    rc = h->sequence_next(ctx, "number", &seq, err);
    if (rc)
        return rc;
    n = snprintf(buf, sizeof buf, "%s%06" PRId64, st->prefix, seq);
    if (n < 0 || (size_t)n >= sizeof buf)
        return h->error_set(err, TK_ERR, "invoice: number %" PRId64 " too long", seq);
    return h->field_set(ctx, "number", buf, err);
}

/* invoice.balance (amount minus payments, "250.00") and
 * invoice.balance_text in the item's language and currency: what a
 * reminder asks for after a partial payment. */
static int invoice_balance(const struct tk_host *h, struct tk_item_ctx *ctx, struct tk_error *err)
{
    const char *currency = h->field_get(ctx, "currency");
    int64_t amount = cents(h->field_get(ctx, "amount")), paid = cents(h->field_get(ctx, "paid"));
    char num[48], text[64];
    int rc;
    if (amount < 0)
        return TK_OK;
    if (paid > 0)
        amount = paid > amount ? 0 : amount - paid;
    snprintf(num, sizeof num, "%" PRId64 ".%02" PRId64, amount / 100, amount % 100);
    if ((rc = h->var_set(ctx, "balance", num, err)))
        return rc;
    if (currency && h->format_amount(ctx, num, currency, text, sizeof text, NULL) == TK_OK &&
        (rc = h->var_set(ctx, "balance_text", text, err)))
        return rc;
    if (paid > 0 && currency &&
        h->format_amount(ctx, h->field_get(ctx, "paid"), currency, text, sizeof text, NULL) ==
            TK_OK)
        return h->var_set(ctx, "paid_text", text, err);
    return TK_OK;
}

static int invoice_vars(void *state, struct tk_item_ctx *ctx, struct tk_error *err)
{
    const struct tk_host *h = ((struct item_state *)state)->host;
    int rc = item_set_amount_text(h, ctx, err);
    if (rc || (rc = invoice_balance(h, ctx, err)))
        return rc;
    return item_set_due_text(h, ctx, err);
}

static const char *invoice_section(void *state, struct tk_item_ctx *ctx, const char *kind)
{
    const struct tk_host *h = ((struct item_state *)state)->host;
    const char *s = h->item_get(ctx, "state");
    if (s && strcmp(s, "pending") == 0)
        return kind;
    /* R3: "send invoice by email" works on a paid invoice too, as a copy;
     * a voided invoice is not sent again and nothing reminds after payment. */
    if (s && strcmp(s, "paid") == 0 && strcmp(kind, "resend") == 0)
        return "copy";
    return NULL;
}

static const struct tk_event_spec invoice_events[] = {
    {"paid", "paid", "The client paid the invoice in full: reminders stop (R11)"},
    {"partially-paid", NULL, "The client paid part of the invoice: reminders go on"},
    {"voided", "void", "The firm voided the invoice: reminders stop, no resend"},
    {"viewed", NULL, "The client opened the invoice"},
    {NULL, NULL, NULL},
};

static const struct tk_field_spec invoice_fields[] = {
    {"number", TK_FIELD_TEXT, 0,
     "Invoice number; assigned as [invoice] number_prefix + 6 digits when absent"},
    {"amount", TK_FIELD_AMOUNT, TK_FIELD_REQUIRED, "Amount due, e.g. 450.00"},
    {"currency", TK_FIELD_CURRENCY, TK_FIELD_REQUIRED, "ISO 4217 currency, e.g. EUR"},
    {"due_date", TK_FIELD_DATE, 0, "Date the payment is due, e.g. 2026-12-31"},
    {"paid", TK_FIELD_AMOUNT, 0,
     "Amount paid so far; each `event ITEM partially-paid --set paid=AMOUNT` adds to it"},
    {NULL, 0, 0, NULL},
};

static const struct tk_config_key invoice_config[] = {
    {"number_prefix", "Text before the sequence number of assigned numbers (default INV-)"},
    {NULL, NULL},
};

static const struct tk_item_type invoice_type = {
    .hdr = TK_PLUGIN_HEADER_INIT(struct tk_item_type, TK_PLUGIN_ITEM, "invoice", "1.0",
                                 "Invoices the client must pay"),
    .lua_verb = "create_invoice",
    .events = invoice_events,
    .fields = invoice_fields,
    .templates = tk_templates_invoice,
    .bulk = NULL,
    .config_keys = invoice_config,
    .init = invoice_init,
    .fini = item_state_fini,
    .prepare = invoice_prepare,
    .vars = invoice_vars,
    .section = invoice_section,
};

TK_PLUGIN_EXPORT const struct tk_plugin_header *tk_plugin_entry(void)
{
    return &invoice_type.hdr;
}
