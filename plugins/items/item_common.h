/*
 * item_common.h - helpers the built-in item-type plugins share.
 *
 * Compiled into each plugin (every function is static), never a shared
 * library: a plugin must link against nothing but libc, so that it loads in
 * any host of the same ABI.  Everything here talks to the host only through
 * the struct tk_host the plugin received at init.
 */
#ifndef TK_ITEM_COMMON_H
#define TK_ITEM_COMMON_H

#include <stdio.h>
#include <string.h>

#include "tickler/item.h"

/* The state every built-in plugin keeps: the host it was given.  Plugins
 * with more state embed this as their first member. */
struct item_state {
    const struct tk_host *host;
};

/* Refuse a host of another ABI major before touching anything in it (its
 * function pointers may sit elsewhere), or one too old to have the ABI 1.1
 * services these plugins use (format_date, format_amount); else allocate
 * SIZE zeroed bytes through the host's allocator and remember HOST.
 * *state: freed by item_state_fini. */
static inline int item_state_init(const struct tk_host *host, size_t size, void **state,
                                  struct tk_error *err)
{
    struct item_state *st;
    if (!host || host->abi_major != TK_ABI_MAJOR || !TK_HOST_HAS(host, format_amount)) {
        if (err) {
            err->code = TK_ERR;
            snprintf(err->msg, sizeof err->msg, "host ABI %u.%u lacks the ABI %d.1 services",
                     host ? (unsigned)host->abi_major : 0u, host ? (unsigned)host->abi_minor : 0u,
                     TK_ABI_MAJOR);
        }
        return TK_ERR;
    }
    st = host->alloc(host, size);
    if (!st)
        return host->error_set(err, TK_ENOMEM, "out of memory");
    memset(st, 0, size);
    st->host = host;
    *state = st;
    return TK_OK;
}

static inline void item_state_fini(void *state)
{
    struct item_state *st = state;
    if (st)
        st->host->free(st->host, st);
}

static inline int item_is_pending(const struct tk_host *h, struct tk_item_ctx *ctx)
{
    const char *s = h->item_get(ctx, "state");
    return s && strcmp(s, "pending") == 0;
}

/* The language of the item's emails; anything but Dutch reads as English,
 * which is also the catalog's fallback. */
static inline int item_is_dutch(const struct tk_host *h, struct tk_item_ctx *ctx)
{
    const char *l = h->item_get(ctx, "language");
    return l && strncmp(l, "nl", 2) == 0;
}

/* Set TYPE.due_text to the due date in the item's language ("31 December
 * 2026") when the item has a due_date.  A value the host cannot format is
 * left out rather than shown as garbage. */
static inline int item_set_due_text(const struct tk_host *h, struct tk_item_ctx *ctx,
                                    struct tk_error *err)
{
    char buf[64];
    const char *due = h->field_get(ctx, "due_date");
    if (!due || h->format_date(ctx, due, buf, sizeof buf, NULL) != TK_OK)
        return TK_OK;
    return h->var_set(ctx, "due_text", buf, err);
}

/* Set TYPE.amount_text to the amount in the item's language and currency
 * ("€1,234.50") when the item has an amount and a currency. */
static inline int item_set_amount_text(const struct tk_host *h, struct tk_item_ctx *ctx,
                                       struct tk_error *err)
{
    char buf[64];
    const char *amount = h->field_get(ctx, "amount");
    const char *currency = h->field_get(ctx, "currency");
    if (!amount || !currency ||
        h->format_amount(ctx, amount, currency, buf, sizeof buf, NULL) != TK_OK)
        return TK_OK;
    return h->var_set(ctx, "amount_text", buf, err);
}

#endif
