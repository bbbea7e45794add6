/* nobody.c - a reminder with nobody to send to (issue 14): an item whose
 * account has no contact with notify on does not spend its step on nobody.
 * The step waits: next_at moves one day on (looked at once a day, not at
 * every tick: O(due)), audit "reminder-waiting", `why` says so, and staff
 * (the account's manager, else [inbound] forward_to) are told once per
 * account and set of contacts.  (Every notify-on contact suppressed is
 * issue 15's "nobody left", suppress.c; the same waiting.)
 *
 * A contact added later, or switched to notify on, has had no email about
 * the item: it gets the item's notification first (kind "notification"),
 * never "reminder 2 of 2".  When nobody had any email yet, that
 * notification is all that goes out and no step is spent, so the
 * reminders' numbers continue from what was actually sent; when others
 * had, they get the step's reminder and the newcomer the notification. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int tk_engine_recipients_split(struct tk_engine *e, const struct tk_item *it,
                               const struct tk_contacts *all, struct tk_contacts *fresh,
                               struct tk_contacts *known, struct tk_error *err)
{
    return tk_engine_recipients_split_ids(e, it, all, fresh, known, NULL, err);
}

int tk_engine_recipients_split_ids(struct tk_engine *e, const struct tk_item *it,
                                   const struct tk_contacts *all, struct tk_contacts *fresh,
                                   struct tk_contacts *known, char ***known_firsts,
                                   struct tk_error *err)
{
    char first[256];
    char **ids = NULL;
    int rc = 0;
    memset(fresh, 0, sizeof *fresh);
    memset(known, 0, sizeof *known);
    if (known_firsts)
        *known_firsts = NULL;
    if (!all->n)
        return 0;
    fresh->v = malloc(all->n * sizeof *fresh->v);
    known->v = malloc(all->n * sizeof *known->v);
    if (known_firsts)
        ids = calloc(all->n, sizeof *ids);
    if (!fresh->v || !known->v || (known_firsts && !ids)) {
        free(ids);
        tk_engine_recipients_split_free(fresh, known);
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < all->n && rc == 0; i++) {
        if ((rc = tk_store_outbox_first_message_id(e->db, it->id, all->v[i].email, first,
                                                   sizeof first, err)))
            break;
        if (!first[0]) {
            fresh->v[fresh->n++] = all->v[i];
            continue;
        }
        if (ids && !(ids[known->n] = tk_strdup(first)))
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        known->v[known->n++] = all->v[i]; /* borrowed */
    }
    if (rc) {
        tk_engine_first_ids_free(ids, known->n);
        tk_engine_recipients_split_free(fresh, known);
        return rc;
    }
    if (known_firsts)
        *known_firsts = ids;
    return 0;
}

void tk_engine_first_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

void tk_engine_recipients_split_free(struct tk_contacts *fresh, struct tk_contacts *known)
{
    free(fresh->v);
    free(known->v);
    memset(fresh, 0, sizeof *fresh);
    memset(known, 0, sizeof *known);
}

int tk_engine_contacts_notify_on(const struct tk_contacts *all, struct tk_contacts *on,
                                 struct tk_error *err)
{
    memset(on, 0, sizeof *on);
    if (!all->n)
        return 0;
    if (!(on->v = malloc(all->n * sizeof *on->v)))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    /* tk_store_contact_list's notify-on query: notify <> 0 and no
     * suppression of the address (a suppression's reason is NOT NULL);
     * such a row reads as reason NULL, time 0 there too */
    for (size_t i = 0; i < all->n; i++)
        if (all->v[i].notify && !all->v[i].suppressed_reason)
            on->v[on->n++] = all->v[i]; /* borrowed */
    return 0;
}

void tk_engine_contacts_view_free(struct tk_contacts *on)
{
    free(on->v);
    memset(on, 0, sizeof *on);
}

/* The newest contact id of ACCOUNT (0: none): a new contact makes a new
 * "nobody notified" episode, so staff hear of it again. */
static int contacts_mark(struct tk_engine *e, int64_t account, int64_t *mark, struct tk_error *err)
{
    struct tk_contacts cs = {0};
    int rc = tk_store_contact_list(e->db, account, 0, &cs, err);
    *mark = 0;
    for (size_t i = 0; rc == 0 && i < cs.n; i++)
        if (cs.v[i].id > *mark)
            *mark = cs.v[i].id;
    tk_contacts_free(&cs);
    return rc;
}

int tk_engine_nobody_notified(struct tk_engine *e, struct tk_item *it, const struct tk_account *acc,
                              struct tk_error *err)
{
    char key[96], subject[400], text[900], detail[200];
    int64_t mark = 0;
    int sent = 0, rc;

    it->rem.next_at = e->now + TK_DAY; /* look again tomorrow */
    snprintf(detail, sizeof detail,
             "automatic reminder %d of %d waits: no contact of the account has notify on",
             it->rem.sent + 1, it->rem.count);
    if ((rc = tk_store_item_update_reminder(e->db, it, err)) ||
        (rc = tk_engine_audit(e, it->account_id, it->id, it->job_id, "reminder-waiting", detail,
                              err)) ||
        (rc = contacts_mark(e, it->account_id, &mark, err)))
        return rc;
    snprintf(key, sizeof key, "nobody-notified/%lld/%lld", (long long)it->account_id,
             (long long)mark);
    snprintf(subject, sizeof subject, "tickler: nobody to remind at %s", acc->name);
    snprintf(text, sizeof text,
             "%s has no contact with notify on, so its automatic reminders wait instead of "
             "going to nobody.\n\nAdd a contact (tickler contact add ACCOUNT EMAIL) or switch "
             "one to notify on: it gets each waiting item's notification first.\n",
             acc->name);
    rc = tk_engine_staff_notice(e, it->account_id, it->id, key, subject, text, NULL, &sent, err);
    if (rc == 0 && sent)
        rc = tk_engine_audit(e, it->account_id, 0, 0, "nobody-notified",
                             "no contact has notify on: automatic reminders wait; staff told", err);
    return rc;
}
