/*
 * approval.c - the approval item type: the client must approve a document
 * (financial statements, a tax return).  R13: reminders stop when the client
 * approves (or rejects).  R4: one bulk command asks an account to approve
 * every document still pending, in one email.
 */
#include "item_common.h"
#include "tk_templates_approval.h"

static const struct tk_event_spec approval_events[] = {
    {"approved", "approved", "The client approved the document: reminders stop (R13)"},
    {"rejected", "rejected", "The client rejected the document: reminders stop"},
    {"viewed", NULL, "The client opened the document"},
    {NULL, NULL, NULL},
};

static const struct tk_field_spec approval_fields[] = {
    {"document", TK_FIELD_TEXT, 0,
     "Name of the document to approve, e.g. annual-accounts-2026.pdf"},
    {NULL, 0, 0, NULL},
};

static const struct tk_bulk_spec approval_bulk[] = {
    {"request-approvals", "request",
     "Ask an account to approve all documents pending approval (R4)"},
    {NULL, NULL, NULL},
};

/* No state and no callbacks: the host's defaults (send while pending,
 * nothing after approval) are exactly this type's rules. */
static const struct tk_item_type approval_type = {
    .hdr = TK_PLUGIN_HEADER_INIT(struct tk_item_type, TK_PLUGIN_ITEM, "approval", "1.0",
                                 "Documents the client must approve"),
    .lua_verb = "request_approval",
    .events = approval_events,
    .fields = approval_fields,
    .templates = tk_templates_approval,
    .bulk = approval_bulk,
};

TK_PLUGIN_EXPORT const struct tk_plugin_header *tk_plugin_entry(void)
{
    return &approval_type.hdr;
}
