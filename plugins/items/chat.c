/*
 * chat.c - the chat item type: a message thread the client must answer,
 * possibly with tasks to complete.  R14: reminders stop when the client has
 * answered or completed every task; merely reading the message does not
 * stop them, so "read" is recorded and the item stays pending.
 */
#include <stdint.h>

#include "item_common.h"
#include "tk_templates_chat.h"

static int chat_init(const struct tk_host *host, void **state, struct tk_error *err)
{
    return item_state_init(host, sizeof(struct item_state), state, err);
}

/* chat.tasks_text: "2 open tasks" / "2 openstaande taken", so that the
 * templates need no plural logic. */
static int chat_vars(void *state, struct tk_item_ctx *ctx, struct tk_error *err)
{
    const struct tk_host *h = ((struct item_state *)state)->host;
    const char *tasks = h->field_get(ctx, "tasks");
    int dutch = item_is_dutch(h, ctx);
    char buf[64];
    long n = 0;
    int i;
    if (!tasks)
        return TK_OK;
    for (i = 0; tasks[i] >= '0' && tasks[i] <= '9' && n < 1000000; i++)
        n = n * 10 + (tasks[i] - '0');
    if (tasks[i] || n == 0)
        return TK_OK;
    if (dutch)
        snprintf(buf, sizeof buf, "%ld %s", n, n == 1 ? "openstaande taak" : "openstaande taken");
    else
        snprintf(buf, sizeof buf, "%ld %s", n, n == 1 ? "open task" : "open tasks");
    return h->var_set(ctx, "tasks_text", buf, err);
}

static const struct tk_event_spec chat_events[] = {
    {"replied", "answered", "The client answered every message: reminders stop (R14)"},
    {"tasks-done", "done", "The client completed all tasks in the thread: reminders stop (R14)"},
    {"read", NULL, "The client read the message; reminders go on (R14)"},
    {NULL, NULL, NULL},
};

static const struct tk_field_spec chat_fields[] = {
    {"tasks", TK_FIELD_INTEGER, 0, "Number of tasks in the thread the client must complete"},
    {NULL, 0, 0, NULL},
};

/* A client's reply by email answers the thread (R14): record it as the
 * "replied" event, which stops the reminders, instead of the host's hold.
 * A one-message thread is the common case; a thread with open tasks is
 * finished by staff ("tasks-done") as before. */
static const char *chat_on_reply(void *state, struct tk_item_ctx *ctx, const char *from,
                                 const char *text)
{
    (void)state;
    (void)ctx;
    (void)from;
    (void)text;
    return "replied";
}

static const struct tk_item_type chat_type = {
    .hdr = TK_PLUGIN_HEADER_INIT(struct tk_item_type, TK_PLUGIN_ITEM, "chat", "1.0",
                                 "Message threads the client must answer"),
    .lua_verb = "send_message",
    .events = chat_events,
    .fields = chat_fields,
    .templates = tk_templates_chat,
    .init = chat_init,
    .fini = item_state_fini,
    .vars = chat_vars,
    .section = NULL, /* host default: the kind while pending, nothing after */
    /* ABI 1.2 */
    .on_reply = chat_on_reply,
};

TK_PLUGIN_EXPORT const struct tk_plugin_header *tk_plugin_entry(void)
{
    return &chat_type.hdr;
}
