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
 * function pointers may sit elsewhere), else allocate SIZE zeroed bytes
 * through the host's allocator and remember HOST.  *state: freed by
 * item_state_fini. */
static inline int item_state_init(const struct tk_host *host, size_t size, void **state,
                                  struct tk_error *err)
{
    struct item_state *st;
    if (!host || host->abi_major != TK_ABI_MAJOR ||
        host->size < offsetof(struct tk_host, host_data)) {
        if (err) {
            err->code = TK_ERR;
            snprintf(err->msg, sizeof err->msg, "host ABI %u.x is not the plugin's %d.%d",
                     host ? (unsigned)host->abi_major : 0u, TK_ABI_MAJOR, TK_ABI_MINOR);
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

/* "450" / "450.5" / "450.50" with CURRENCY "EUR" -> "EUR 450.00" (Dutch:
 * "EUR 450,00").  Works on the text, never through a double, so that an
 * amount is shown exactly as entered.  The host has already checked the
 * kind (digits, up to two decimals); 1 on success, 0 when it does not fit. */
static inline int item_format_amount(const char *currency, const char *amount, int dutch, char *buf,
                                     size_t size)
{
    const char *dot = strchr(amount, '.');
    size_t whole = dot ? (size_t)(dot - amount) : strlen(amount);
    char cents[3] = {'0', '0', '\0'};
    int n;
    if (dot) {
        if (dot[1])
            cents[0] = dot[1];
        if (dot[1] && dot[2])
            cents[1] = dot[2];
    }
    if (whole == 0 || whole > 18)
        return 0;
    n = snprintf(buf, size, "%s%s%.*s%c%s", currency ? currency : "", currency ? " " : "",
                 (int)whole, amount, dutch ? ',' : '.', cents);
    return n > 0 && (size_t)n < size;
}

/* "2026-12-31" -> "31 December 2026" / "31 december 2026".  0 when DATE is
 * not of that shape (then the caller shows nothing rather than garbage). */
static inline int item_format_date(const char *date, int dutch, char *buf, size_t size)
{
    static const char *const en[12] = {"January",   "February", "March",    "April",
                                       "May",       "June",     "July",     "August",
                                       "September", "October",  "November", "December"};
    static const char *const nl[12] = {"januari",   "februari", "maart",    "april",
                                       "mei",       "juni",     "juli",     "augustus",
                                       "september", "oktober",  "november", "december"};
    int y, m, d, n;
    char tail;
    if (!date || strlen(date) != 10 || date[4] != '-' || date[7] != '-')
        return 0;
    if (sscanf(date, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
        return 0;
    n = snprintf(buf, size, "%d %s %d", d, dutch ? nl[m - 1] : en[m - 1], y);
    return n > 0 && (size_t)n < size;
}

/* Set TYPE.NAME to the due date in words when the item has a due_date. */
static inline int item_set_due_text(const struct tk_host *h, struct tk_item_ctx *ctx,
                                    struct tk_error *err)
{
    char buf[64];
    const char *due = h->field_get(ctx, "due_date");
    if (!due || !item_format_date(due, item_is_dutch(h, ctx), buf, sizeof buf))
        return TK_OK;
    return h->var_set(ctx, "due_text", buf, err);
}

/* Set TYPE.amount_text when the item has an amount. */
static inline int item_set_amount_text(const struct tk_host *h, struct tk_item_ctx *ctx,
                                       struct tk_error *err)
{
    char buf[64];
    const char *amount = h->field_get(ctx, "amount");
    if (!amount || !item_format_amount(h->field_get(ctx, "currency"), amount, item_is_dutch(h, ctx),
                                       buf, sizeof buf))
        return TK_OK;
    return h->var_set(ctx, "amount_text", buf, err);
}

#endif
