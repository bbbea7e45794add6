/*
 * signature.c - the signature item type: the client must e-sign a document.
 * R12: reminders stop when the client signs; the settings may still be
 * changed afterwards (the host handles that without sending anything).
 */
#include "item_common.h"
#include "tk_templates_signature.h"

static const struct tk_event_spec signature_events[] = {
    {"signed", "signed", "The client signed the document: reminders stop (R12)"},
    {"declined", "declined", "The client declined to sign: reminders stop"},
    {"viewed", NULL, "The client opened the document"},
    {NULL, NULL, NULL},
};

static const struct tk_field_spec signature_fields[] = {
    {"document", TK_FIELD_TEXT, 0, "Name of the document to sign, e.g. engagement-2026.pdf"},
    {NULL, 0, 0, NULL},
};

/* No state and no callbacks: the host's defaults (send while pending,
 * nothing after signing) are exactly this type's rules. */
static const struct tk_item_type signature_type = {
    .hdr = TK_PLUGIN_HEADER_INIT(struct tk_item_type, TK_PLUGIN_ITEM, "signature", "1.0",
                                 "Documents the client must e-sign"),
    .lua_verb = "request_signature",
    .events = signature_events,
    .fields = signature_fields,
    .templates = tk_templates_signature,
};

TK_PLUGIN_EXPORT const struct tk_plugin_header *tk_plugin_entry(void)
{
    return &signature_type.hdr;
}
