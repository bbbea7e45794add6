/* preview.c - every automatic email the next days will send, and what
 * each says, without sending or writing anything (`tickler preview`,
 * issue 14; the console's /upcoming and item page, issue 18).
 *
 * The preview is the scheduler played forward in memory: each item due
 * within the span is walked from its next_at through the same functions a
 * tick calls, with the engine's clock set to each moment in turn -
 * tk_engine_reminder_decide (holds, send window, holidays: the gate's
 * decision without its writes), tk_render_section (the template section
 * of the step), tk_schedule_next (the next step's moment, D1 from the
 * email just "sent") and tk_render_preview (the messages exactly as
 * tk_render_enqueue builds them, sequences peeked).  Whatever changes
 * those functions (ladders, anchored schedules) shows here by
 * construction.  Everything is read in one read transaction; nothing is
 * written.
 *
 * Exactly what the tick sends: a notify-on contact that has had no email
 * about the item gets its notification first (kind "notification",
 * nobody.c, tick.c's first_notification), and after the last step the
 * account's manager gets the escalation (kind "escalation", escalate.c).
 *
 * Cost (issue 14: 100k due items in < 1 s): the due items come a page at a
 * time from the due index with their fields (two queries a page), who has
 * had an email about them in one more query a page, the account's
 * contacts once per account; without --render only the subject is
 * rendered (no body, Message-ID, threading lookup or MIME text). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* how many decisions one item may take within the span (a hold, a
 * deferral and a reminder each take one; a span of 366 days of daily
 * "nobody left" waits stays under it) */
#define STEPS_MAX 2000
/* due items read at a time: the whole list's, and a short list's (the
 * console's, which stops early) */
#define PAGE 1024
#define PAGE_SHORT 256
/* local times remembered (a power of 2) */
#define LOCAL_CACHE 64

static const char KIND_NOTIFICATION[] = "notification";
static const char KIND_REMINDER[] = "reminder";
static const char KIND_ESCALATION[] = "escalation";
static const char KIND_DIGEST[] = "digest";

struct entry {
    struct tk_preview p;
    tk_time due; /* its item's next_at when the walk began (see by_time) */
    /* in the run's arena (account: the account cache's) */
    const char *type, *title, *account, *moved, *error;
    struct tk_preview_mail *mails;
    const char *local; /* in the arena, shared by the entries of a moment */
};

/* an account, its notify-on recipients (by id) and whether every
 * notify-on contact is suppressed */
struct acct {
    struct tk_account acc;
    struct tk_contacts rcpts;
    int nobody_left;
    size_t cap;      /* of rcpts.v while read */
    size_t on, gone; /* while read: notify-on contacts, and those suppressed */
};

/* an (item, recipient) with an email in the outbox */
struct mailed {
    int64_t item;
    char *to;
};

/* a block of the run's arena */
struct chunk {
    struct chunk *next;
    size_t size;
    char data[];
};

#define CHUNK 65536

struct run {
    struct tk_engine *e;
    /* the arena of the entries' strings and email lists: freed at once
     * when the walk is done (not two allocations and frees a string) */
    struct chunk *chunks;
    char *ap;
    size_t aleft;
    int64_t account; /* 0: all */
    tk_time until;
    tk_time due; /* the walked item's next_at when its walk began */
    int render;  /* 1: whole messages; 0: subjects; -1: who only (the console) */
    struct entry *v;
    size_t n, cap;
    /* the account of the item walked, its notify-on recipients and whether
     * every notify-on contact is suppressed (borrowed from the cache) */
    struct tk_account acc;
    struct tk_contacts rcpts;
    int nobody_left;
    /* every account met so far, by id: a page's new accounts are read with
     * one statement, their contacts with one more (not three statements
     * an item whenever the account changes: the console's timeline over
     * many accounts, where each is a round trip on PostgreSQL) */
    struct acct *accs;
    size_t naccs, acccap;
    size_t rmax; /* the size of had, fresh.v and known.v */
    /* the page's items' recipients with an email about them, by item */
    struct mailed *m;
    size_t nm, mcap;
    /* the page's items with an "escalated" audit entry, sorted */
    struct tk_ids esc;
    /* per recipient of the item walked: had an email about it; and the
     * two sets of a reminder's moment (borrowed contacts) */
    unsigned char *had;
    struct tk_contacts fresh, known;
    /* the local times made (by account and moment): thousands of entries
     * share a moment (items created in bulk, a window's opening) */
    struct {
        int64_t account;
        tk_time at;
        const char *local; /* in the arena */
    } lt[LOCAL_CACHE];
    /* the entry being filled by tk_render_preview's callback */
    struct entry *cur;
    size_t mailcap;
};

static int oom(struct tk_error *err)
{
    return tk_error_set(err, TK_ENOMEM, "out of memory");
}

/* N bytes (aligned for any type) from the arena; NULL out of memory. */
static void *aalloc(struct run *r, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > r->aleft) {
        size_t size = n > CHUNK ? n : CHUNK;
        struct chunk *c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->next = r->chunks;
        c->size = size;
        r->chunks = c;
        r->ap = c->data;
        r->aleft = size;
    }
    void *p = r->ap;
    r->ap += n;
    r->aleft -= n;
    return p;
}

static char *adup(struct run *r, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = aalloc(r, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void arena_free(struct run *r)
{
    while (r->chunks) {
        struct chunk *c = r->chunks;
        r->chunks = c->next;
        free(c);
    }
    r->ap = NULL;
    r->aleft = 0;
}

static int add_mail_to(struct run *r, const char *to, const char *subject, const char *message)
{
    struct entry *x = r->cur;
    if (x->p.nmails == r->mailcap) {
        size_t cap = r->mailcap ? 2 * r->mailcap : 4;
        struct tk_preview_mail *m = aalloc(r, cap * sizeof *m);
        if (!m)
            return TK_ENOMEM;
        if (x->p.nmails)
            memcpy(m, x->mails, x->p.nmails * sizeof *m);
        x->mails = m;
        r->mailcap = cap;
    }
    struct tk_preview_mail *m = &x->mails[x->p.nmails];
    memset(m, 0, sizeof *m);
    if (!(m->to = adup(r, to)) || !(m->subject = adup(r, subject)) ||
        (r->render > 0 && message && !(m->message = adup(r, message))))
        return TK_ENOMEM;
    x->p.nmails++;
    return 0;
}

static int add_mail(void *u, const struct tk_contact *c, const char *subject, const char *message)
{
    return add_mail_to(u, c->email, subject, message);
}

/* AT in the account's zone, as tk_engine_account_local_time writes it, in
 * the arena; NULL out of memory. */
static const char *local_time(struct run *r, tk_time at)
{
    size_t k = ((uint64_t)at / 60 ^ (uint64_t)r->acc.id * 31) & (LOCAL_CACHE - 1);
    if (r->lt[k].account != r->acc.id || r->lt[k].at != at || !r->lt[k].local) {
        char local[TK_CALENDAR_LOCAL_MAX];
        tk_engine_account_local_time(r->e, &r->acc, at, local, sizeof local);
        if (!(r->lt[k].local = adup(r, local)))
            return NULL;
        r->lt[k].account = r->acc.id;
        r->lt[k].at = at;
    }
    return r->lt[k].local;
}

static struct entry *new_entry(struct run *r, const struct tk_item *it, tk_time at,
                               const char *moved, const char *kind)
{
    if (r->n == r->cap && tk_array_grow(&r->v, &r->cap, r->n + 1, sizeof *r->v, 64))
        return NULL;
    struct entry *x = &r->v[r->n];
    const struct entry *prev = r->n ? &r->v[r->n - 1] : NULL;
    memset(x, 0, sizeof *x);
    if (prev && prev->p.item_id == it->id) { /* the item's entries share them */
        x->type = prev->type;
        x->title = prev->title;
    } else {
        x->type = adup(r, it->type);
        x->title = adup(r, it->title);
    }
    x->account = r->acc.name;
    x->moved = moved && *moved ? adup(r, moved) : NULL;
    if (!x->type || !x->title || (moved && *moved && !x->moved))
        return NULL;
    x->p.item_id = it->id;
    x->p.account_id = it->account_id;
    x->due = r->due;
    x->p.step = kind == KIND_REMINDER     ? it->rem.sent + 1
                : kind == KIND_ESCALATION ? it->rem.sent
                                          : 0;
    x->p.count = it->rem.count;
    x->p.at = at;
    x->p.kind = kind;
    if (!(x->local = local_time(r, at)))
        return NULL;
    r->n++;
    r->cur = x;
    r->mailcap = 0;
    return x;
}

/* The console's timeline lists the reminders only: the entry just made
 * goes when it is of another kind. */
static void timeline_only(struct run *r)
{
    if (r->render < 0 && r->n && r->v[r->n - 1].p.kind != KIND_REMINDER)
        r->n--; /* its strings stay in the arena */
}

static int id_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int acct_cmp(const void *a, const void *b)
{
    const struct acct *x = a, *y = b;
    return x->acc.id < y->acc.id ? -1 : x->acc.id > y->acc.id;
}

static struct acct *acct_find(const struct run *r, int64_t id)
{
    struct acct key;
    key.acc.id = id;
    return r->naccs ? bsearch(&key, r->accs, r->naccs, sizeof *r->accs, acct_cmp) : NULL;
}

static void accts_free(struct run *r)
{
    for (size_t i = 0; i < r->naccs; i++) {
        tk_account_free(&r->accs[i].acc);
        tk_contacts_free(&r->accs[i].rcpts);
    }
    free(r->accs);
    r->accs = NULL;
    r->naccs = r->acccap = 0;
}

/* Room for one more account at the end (r->accs is sorted again after). */
static struct acct *acct_new(struct run *r)
{
    if (r->naccs == r->acccap &&
        tk_array_grow(&r->accs, &r->acccap, r->naccs + 1, sizeof *r->accs, 16))
        return NULL;
    struct acct *a = &r->accs[r->naccs];
    memset(a, 0, sizeof *a);
    return a;
}

static int acct_row(void *u, struct tk_account *acc)
{
    struct run *r = u;
    struct acct *a = acct_new(r);
    if (!a) {
        tk_account_free(acc);
        return TK_ENOMEM;
    }
    a->acc = *acc;
    r->naccs++;
    return 0;
}

/* A contact of an account read with the page (r->accs sorted): kept when
 * it is a recipient (notify on, not suppressed), counted either way (the
 * tick's tk_engine_account_nobody_left). */
static int contact_row(void *u, struct tk_contact *c)
{
    struct run *r = u;
    struct acct *a = acct_find(r, c->account_id);
    if (a && c->notify) {
        a->on++;
        if (c->suppressed_reason)
            a->gone++;
    }
    if (!a || !c->notify || c->suppressed_reason) {
        tk_contact_free(c);
        return 0;
    }
    if (a->rcpts.n == a->cap &&
        tk_array_grow(&a->rcpts.v, &a->cap, a->rcpts.n + 1, sizeof *a->rcpts.v, 8)) {
        tk_contact_free(c);
        return TK_ENOMEM;
    }
    a->rcpts.v[a->rcpts.n++] = *c;
    return 0;
}

static int contact_id_cmp(const void *a, const void *b)
{
    const struct tk_contact *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The accounts of the N items V not read yet, with their contacts: two
 * statements for the page. */
static int accounts_load(struct run *r, const struct tk_item *v, size_t n, struct tk_error *err)
{
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    size_t nids = 0, old = r->naccs;
    int rc = 0;
    if (!ids)
        return oom(err);
    for (size_t i = 0; i < n; i++)
        if (!acct_find(r, v[i].account_id) && (nids == 0 || ids[nids - 1] != v[i].account_id))
            ids[nids++] = v[i].account_id;
    if (nids > 1) { /* distinct */
        size_t k = 0;
        qsort(ids, nids, sizeof *ids, id_cmp);
        for (size_t i = 0; i < nids; i++)
            if (k == 0 || ids[k - 1] != ids[i])
                ids[k++] = ids[i];
        nids = k;
    }
    if (nids)
        rc = tk_store_accounts_each_in(r->e->db, ids, nids, acct_row, r, err);
    if (r->naccs > 1)
        qsort(r->accs, r->naccs, sizeof *r->accs, acct_cmp);
    if (rc == 0 && r->naccs > old)
        rc = tk_store_contacts_each_in(r->e->db, ids, nids, contact_row, r, err);
    for (size_t i = 0; rc == 0 && i < nids; i++) {
        struct acct *a = acct_find(r, ids[i]);
        if (!a)
            continue; /* no such account: acct_get says so */
        if (a->rcpts.n > 1)
            qsort(a->rcpts.v, a->rcpts.n, sizeof *a->rcpts.v, contact_id_cmp);
        a->nobody_left = a->on > 0 && a->gone == a->on;
    }
    free(ids);
    return rc == TK_ENOMEM ? oom(err) : rc;
}

/* Account ID, read now when no page brought it (a single item's preview,
 * a digest's account) as the tick reads it. */
static int acct_get(struct run *r, int64_t id, struct acct **out, struct tk_error *err)
{
    struct acct *a;
    int rc;
    if ((*out = acct_find(r, id)))
        return 0;
    if (!(a = acct_new(r)))
        return oom(err);
    if ((rc = tk_store_account_get(r->e->db, id, &a->acc, err)) ||
        (rc = tk_store_contact_list(r->e->db, id, 1, &a->rcpts, err)) ||
        (rc = tk_engine_account_nobody_left(r->e, id, &a->nobody_left, err))) {
        tk_account_free(&a->acc);
        tk_contacts_free(&a->rcpts);
        return rc;
    }
    r->naccs++;
    qsort(r->accs, r->naccs, sizeof *r->accs, acct_cmp);
    *out = acct_find(r, id);
    return 0;
}

static int load_account(struct run *r, int64_t id, struct tk_error *err)
{
    struct acct *a;
    int rc;
    if (r->acc.id == id && r->acc.name)
        return 0;
    if ((rc = acct_get(r, id, &a, err)))
        return rc;
    /* borrowed: the cache owns them */
    r->acc = a->acc;
    r->rcpts = a->rcpts;
    r->nobody_left = a->nobody_left;
    if (r->rcpts.n > r->rmax || !r->had) {
        size_t n = r->rcpts.n ? r->rcpts.n : 1;
        unsigned char *had = realloc(r->had, n);
        if (had)
            r->had = had;
        struct tk_contact *f = realloc(r->fresh.v, n * sizeof *f);
        if (f)
            r->fresh.v = f;
        struct tk_contact *k = realloc(r->known.v, n * sizeof *k);
        if (k)
            r->known.v = k;
        if (!had || !f || !k) {
            memset(&r->acc, 0, sizeof r->acc);
            return oom(err);
        }
        r->rmax = n;
    }
    return 0;
}

static int mailed_add(void *u, int64_t item, const char *to)
{
    struct run *r = u;
    if (r->nm == r->mcap && tk_array_grow(&r->m, &r->mcap, r->nm + 1, sizeof *r->m, 256))
        return TK_ENOMEM;
    if (!(r->m[r->nm].to = tk_strdup(to)))
        return TK_ENOMEM;
    r->m[r->nm++].item = item;
    return 0;
}

static int mailed_cmp(const void *a, const void *b)
{
    const struct mailed *x = a, *y = b;
    return x->item < y->item ? -1 : x->item > y->item;
}

static void mailed_clear(struct run *r)
{
    for (size_t i = 0; i < r->nm; i++)
        free(r->m[i].to);
    r->nm = 0;
}

static int escalated_add(void *u, int64_t item)
{
    struct run *r = u;
    return tk_ids_push(&r->esc, item);
}

/* Who has had an email about the N items V, sorted by item, and which of
 * them were escalated already (tk_engine_escalated), sorted: two queries
 * for the page, not one per item. */
static int mailed_load(struct run *r, const struct tk_item *v, size_t n, struct tk_error *err)
{
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    int rc;
    mailed_clear(r);
    r->esc.n = 0;
    if (!ids)
        return oom(err);
    for (size_t i = 0; i < n; i++)
        ids[i] = v[i].id;
    rc = tk_store_outbox_recipients_each(r->e->db, ids, n, mailed_add, r, err);
    if (rc == 0)
        rc = tk_engine_escalated_each(r->e, ids, n, escalated_add, r, err);
    free(ids);
    if (rc == TK_ENOMEM)
        return oom(err);
    if (rc == 0 && r->nm > 1)
        qsort(r->m, r->nm, sizeof *r->m, mailed_cmp);
    if (rc == 0 && r->esc.n > 1)
        qsort(r->esc.v, r->esc.n, sizeof *r->esc.v, id_cmp);
    return rc;
}

/* IT has an "escalated" audit entry (the page's, from mailed_load). */
static int escalated(const struct run *r, const struct tk_item *it)
{
    return r->esc.n && bsearch(&it->id, r->esc.v, r->esc.n, sizeof *r->esc.v, id_cmp) != NULL;
}

/* r->had[k]: the account's recipient k has had an email about ITEM (the
 * tick's tk_engine_recipients_split: an outbox row with a Message-ID). */
static void mark_had(struct run *r, int64_t item)
{
    size_t lo = 0, hi = r->nm;
    memset(r->had, 0, r->rcpts.n ? r->rcpts.n : 1);
    while (lo < hi) { /* the first pair of ITEM */
        size_t mid = lo + (hi - lo) / 2;
        if (r->m[mid].item < item)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < r->nm && r->m[lo].item == item; lo++)
        for (size_t k = 0; k < r->rcpts.n; k++)
            if (strcmp(r->m[lo].to, r->rcpts.v[k].email) == 0)
                r->had[k] = 1;
}

/* The item's own failure (a broken template, a missing plugin): the tick
 * would skip it and retry later; the preview lists it with the error and
 * stops walking it. */
static int item_error(struct run *r, const struct tk_item *it, tk_time at, const char *moved,
                      const struct tk_error *why, struct tk_error *err)
{
    struct entry *x = new_entry(r, it, at, moved, KIND_REMINDER);
    if (!x || !(x->error = adup(r, why->msg[0] ? why->msg : "failed")))
        return oom(err);
    return 0;
}

/* The emails of kind RQ->kind to RCPTS into the entry just made: whole,
 * subject only, or who only (r->render).  A failure of the item's own is
 * the entry's error (*STOP: the walk of the item ends). */
static int entry_mails(struct run *r, const struct tk_render_req *rq,
                       const struct tk_contacts *rcpts, int *stop, struct tk_error *err)
{
    struct entry *x = r->cur;
    struct tk_error why = {0};
    int rc;
    *stop = 0;
    if (r->render < 0) {
        for (size_t k = 0; k < rcpts->n; k++)
            if (add_mail_to(r, rcpts->v[k].email, "", NULL))
                return oom(err);
        return 0;
    }
    if ((rc = tk_render_preview(r->e, rq, rcpts, r->render > 0, add_mail, r, &why)) == 0)
        return 0;
    if (rc == TK_ENOMEM)
        return oom(err);
    /* the tick would record the failure and retry: show it, stop */
    *stop = 1;
    x->error = adup(r, why.msg);
    return x->error ? 0 : oom(err);
}

/* After the last step (tk_engine_escalation_due at T): what the tick's
 * tk_engine_escalate decides, without its writes.  *T: the next moment
 * to look at the item (0: nothing more of it). */
static int escalation(struct run *r, struct tk_item *it, tk_time *t, char *moved, size_t size,
                      struct tk_error *err)
{
    struct tk_engine *e = r->e;
    struct tk_buf subject = {0}, msg = {0};
    char when[32], why[TK_CALENDAR_LOCAL_MAX + 256];
    tk_time at, next = 0;
    int rc = 0;

    if (it->hold.since) {
        if (!it->hold.until || e->now < it->hold.until) {
            if (it->hold.until)
                snprintf(moved, size, "on hold until %s",
                         tk_time_format(it->hold.until, when, sizeof when));
            *t = it->hold.until; /* held until released: nothing */
            return 0;
        }
        snprintf(moved, size, "on hold until %s",
                 tk_time_format(it->hold.until, when, sizeof when));
        it->hold.since = it->hold.until = 0;
    }
    *t = 0;
    at = tk_engine_escalate_at(e, it);
    if (at && at > e->now) { /* not yet */
        *t = at;
        return 0;
    }
    if (!at || escalated(r, it))
        return 0;
    if ((rc = tk_engine_defer(e, &r->acc, &next, why, sizeof why, err)))
        return rc;
    if (next) {
        size_t n = strlen(moved);
        if (n && strncmp(moved, "on hold", 7) == 0)
            snprintf(moved + n, size - n, "; then %s", why);
        else
            snprintf(moved, size, "%s", why);
        *t = next;
        return 0;
    }
    if (!new_entry(r, it, e->now, moved, KIND_ESCALATION))
        return oom(err);
    if (r->render >= 0 && r->acc.manager && *r->acc.manager) {
        struct tk_error ew = {0};
        rc = r->render > 0 ? tk_engine_escalation_build(e, it, &r->acc, r->acc.manager, &subject,
                                                        &msg, NULL, 0, &ew)
                           : tk_engine_escalation_text(e, it, &r->acc, &subject, &msg, &ew);
        if (rc == TK_ENOMEM) {
            rc = oom(err);
        } else if (rc) {
            rc = 0;
            if (!(r->cur->error = adup(r, ew.msg)))
                rc = oom(err);
        } else if (add_mail_to(r, r->acc.manager, subject.data ? subject.data : "",
                               r->render > 0 ? msg.data : NULL)) {
            rc = oom(err);
        }
    } else if (r->acc.manager && *r->acc.manager && add_mail_to(r, r->acc.manager, "", NULL)) {
        rc = oom(err);
    }
    timeline_only(r);
    tk_buf_free(&subject);
    tk_buf_free(&msg);
    return rc;
}

/* Walk item IT (the caller's; changed here) from its next_at to the span's
 * end, adding an entry per email it would send.  The engine's clock is the
 * caller's to restore. */
static int walk_item(struct run *r, struct tk_item *it, tk_time now, struct tk_error *err)
{
    struct tk_engine *e = r->e;
    const struct tk_plugin *p;
    struct tk_gate g;
    struct tk_error why = {0};
    char moved[sizeof g.why + 64] = "", when[32];
    tk_time t;
    int rc = 0, stop = 0;

    if ((rc = load_account(r, it->account_id, err)))
        return rc;
    mark_had(r, it->id);
    r->due = it->rem.next_at;
    t = it->rem.next_at > now ? it->rem.next_at : now; /* overdue: the next tick */
    if (!(p = tk_engine_type(e, it->type, &why)))
        return item_error(r, it, t, NULL, &why, err);
    for (int steps = 0; steps < STEPS_MAX && t < r->until; steps++) {
        e->now = t;
        /* after the last step: the manager's escalation (escalate.c) */
        if (tk_engine_escalation_due(e, it)) {
            if ((rc = escalation(r, it, &t, moved, sizeof moved, err)) || !t)
                return rc;
            continue;
        }
        if (!tk_engine_schedule_next(e, it, &r->acc, NULL))
            break;
        if ((rc = tk_engine_reminder_decide(e, it, &r->acc, &g, &why)))
            return item_error(r, it, t, moved, &why, err);
        if (g.hold_ended) {
            snprintf(moved, sizeof moved, "on hold until %s",
                     tk_time_format(it->hold.until, when, sizeof when));
            it->hold.since = it->hold.until = 0;
        }
        if (g.action == TK_GATE_HELD) {
            if (!g.next)
                break; /* held until released: nothing */
            snprintf(moved, sizeof moved, "on hold until %s",
                     tk_time_format(g.next, when, sizeof when));
            t = g.next;
            continue;
        }
        if (g.action == TK_GATE_WAIT) {
            if (!g.next)
                break;
            t = g.next;
            continue;
        }
        if (g.action == TK_GATE_DEFER) {
            size_t n = strlen(moved);
            if (n && strncmp(moved, "on hold", 7) == 0)
                snprintf(moved + n, sizeof moved - n, "; then %s", g.why);
            else
                snprintf(moved, sizeof moved, "%s", g.why);
            t = g.next;
            continue;
        }
        /* TK_GATE_GO: as tick.c's remind() */
        const char *section = NULL, *first = NULL;
        int step = 0;
        if (tk_engine_schedule_next(e, it, &r->acc, &step) && it->rem.nsched && step > 0)
            it->rem.sent = step - 1; /* passed anchored steps are skipped */
        if ((rc = tk_render_section(e, p, it, r->acc.language, "reminder", &section, &why)))
            return item_error(r, it, t, moved, &why, err);
        if (!section)
            break;
        if (r->nobody_left) {
            /* the reminder waits a day at a time (tk_engine_reminder_waits) */
            snprintf(moved, sizeof moved, "waiting: every notify-on contact is suppressed");
            t += TK_DAY;
            continue;
        }
        if (!r->rcpts.n) {
            /* nobody with notify on: the step waits a day at a time and
             * staff are told (nobody.c, tk_engine_nobody_notified) */
            snprintf(moved, sizeof moved, "waiting: no contact of the account has notify on");
            t += TK_DAY;
            continue;
        }
        /* a contact with no email about the item yet gets its notification
         * first; with nobody else, no step is spent (nobody.c) */
        r->fresh.n = r->known.n = 0;
        for (size_t k = 0; k < r->rcpts.n; k++) {
            if (r->had[k])
                r->known.v[r->known.n++] = r->rcpts.v[k];
            else
                r->fresh.v[r->fresh.n++] = r->rcpts.v[k];
        }
        struct tk_render_req rq;
        memset(&rq, 0, sizeof rq);
        rq.plugin = p;
        rq.it = it;
        rq.account = &r->acc;
        rq.auto_submitted = 1;
        if (r->fresh.n) {
            if ((rc = tk_render_section(e, p, it, r->acc.language, "notification", &first, &why)))
                return item_error(r, it, t, moved, &why, err);
            if (first) {
                if (!new_entry(r, it, t, moved, KIND_NOTIFICATION))
                    return oom(err);
                rq.kind = "notification";
                rq.section = first;
                if ((rc = entry_mails(r, &rq, &r->fresh, &stop, err)) || stop)
                    return rc;
                timeline_only(r);
                for (size_t k = 0; k < r->rcpts.n; k++)
                    r->had[k] = 1;
            }
            if (!r->known.n) {
                if (!first)
                    break; /* the tick sends nothing: nothing to list */
                moved[0] = '\0';
                it->rem.last_mail_at = t; /* no step spent; D1 from it */
                if (!(t = tk_engine_next_at(e, it)))
                    break;
                continue;
            }
        }
        if (!new_entry(r, it, t, moved, KIND_REMINDER))
            return oom(err);
        it->rem.sent++;
        rq.kind = "reminder";
        rq.section = section;
        rq.step = it->rem.sent;
        if ((rc = entry_mails(r, &rq, &r->known, &stop, err)) || stop)
            return rc;
        moved[0] = '\0';
        /* D1: the next step counts from this email; after the last, the
         * escalation */
        it->rem.last_mail_at = t;
        if (!(t = tk_engine_next_at(e, it)))
            break;
    }
    return rc;
}

static int kind_rank(const char *kind)
{
    return kind == KIND_NOTIFICATION ? 0 : kind == KIND_ESCALATION ? 2 : 1;
}

/* By time; at the same time in the order the walk (and the tick) takes
 * the items: by their next_at, then id.  That order lets enough() stop a
 * short list early even when thousands of items share one moment (created
 * in bulk, or all overdue). */
static int by_time(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->p.at != y->p.at)
        return x->p.at < y->p.at ? -1 : 1;
    if (x->due != y->due)
        return x->due < y->due ? -1 : 1;
    if (x->p.item_id != y->p.item_id)
        return x->p.item_id < y->p.item_id ? -1 : 1;
    if (kind_rank(x->p.kind) != kind_rank(y->p.kind))
        return kind_rank(x->p.kind) - kind_rank(y->p.kind);
    return x->p.step - y->p.step;
}

static int by_time_p(const void *a, const void *b)
{
    return by_time(*(const struct entry *const *)a, *(const struct entry *const *)b);
}

/* Keep the first LIMIT entries by time; 1 when none that is still to
 * come can enter them.  NEXT is the next item of the walk, NOW the
 * preview's start.  Items come by (next_at, id), so an item U still to
 * come has (U.next_at, U.id) > (NEXT's) and its entries are at or after
 * max(U.next_at, NOW) >= max(NEXT.next_at, NOW): each sorts (by_time)
 * after the key (max(NEXT.next_at, NOW), NEXT.next_at, NEXT.id). */
static int enough(struct run *r, size_t limit, const struct tk_item *next, tk_time now)
{
    if (!limit || limit >= r->n)
        return 0;
    qsort(r->v, r->n, sizeof *r->v, by_time);
    r->n = limit; /* the rest's strings stay in the arena */
    const struct entry *last = &r->v[limit - 1];
    tk_time at = next->rem.next_at > now ? next->rem.next_at : now;
    if (last->p.at != at)
        return last->p.at < at;
    if (last->due != next->rem.next_at)
        return last->due < next->rem.next_at;
    return last->p.item_id < next->id;
}

/* One email of a digest account's reminder entry: its address, moment
 * (one tick), local day, account, item, and where it is. */
struct dref {
    const char *to;
    tk_time at;
    tk_date day;
    int64_t account, item;
    size_t entry, mail;
};

static int dref_cmp(const void *a, const void *b)
{
    const struct dref *x = a, *y = b;
    int c = strcmp(x->to, y->to);
    if (c)
        return c;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if (x->account != y->account)
        return x->account < y->account ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* The group V[0..N) (one address, one moment, one local day; two items or
 * more) is one digest (digest.c): each entry becomes kind "digest" and its
 * email to that address gets the digest's subject (--render: its text). */
static int digest_group(struct run *r, const struct dref *v, size_t n, struct tk_error *err)
{
    struct acct *a = NULL;
    struct tk_digest_line *lines = calloc(n, sizeof *lines);
    struct tk_buf subject = {0}, text = {0};
    const char *who = v[0].to;
    int rc;
    if (!lines)
        return oom(err);
    if ((rc = acct_get(r, v[0].account, &a, err)))
        goto out;
    for (size_t k = 0; k < a->rcpts.n; k++) {
        const struct tk_contact *c = &a->rcpts.v[k];
        if (strcmp(c->email, v[0].to) == 0 && c->name && *c->name)
            who = c->name;
    }
    for (size_t i = 0; i < n; i++) {
        const struct entry *x = &r->v[v[i].entry];
        lines[i].title = x->title;
        lines[i].account_name = x->account;
        lines[i].account = v[i].account;
        lines[i].step = x->p.step;
        lines[i].count = x->p.count;
    }
    if ((rc = tk_engine_digest_text(r->e, a->acc.language, who, lines, n, &subject, &text, err)))
        goto out;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct entry *x = &r->v[v[i].entry];
        struct tk_preview_mail *m = &x->mails[v[i].mail];
        char *sub = adup(r, subject.data ? subject.data : "");
        char *msg = r->render > 0 ? adup(r, text.data ? text.data : "") : NULL;
        if (!sub || (r->render > 0 && !msg)) {
            rc = oom(err);
            break;
        }
        x->p.kind = KIND_DIGEST;
        m->subject = sub;
        if (r->render > 0)
            m->message = msg;
    }
out:
    tk_buf_free(&subject);
    tk_buf_free(&text);
    free(lines);
    return rc;
}

/* The tick puts a digest account's reminders due for one address at one
 * moment on one local day into one digest (digest.c): the same grouping
 * over the walk's reminder entries. */
static int digests(struct run *r, struct tk_error *err)
{
    struct tk_engine *e = r->e;
    struct tk_account acc = {0}; /* borrowed from the cache */
    const struct tk_calendar *cal = NULL;
    struct dref *v = NULL;
    size_t n = 0, cap = 0;
    int on = 0, rc = 0;

    for (size_t i = 0; i < r->n && rc == 0; i++) {
        struct entry *x = &r->v[i];
        if (x->p.kind != KIND_REMINDER || x->error || !x->p.nmails)
            continue;
        if (acc.id != x->p.account_id) {
            struct tk_error why = {0};
            struct acct *a;
            if ((rc = acct_get(r, x->p.account_id, &a, err)))
                break;
            acc = a->acc;
            on = tk_engine_digest_on(e, &acc);
            if (tk_engine_calendar_for(e, &acc, &cal, &why))
                cal = NULL;
        }
        if (!on)
            continue;
        tk_date day = (tk_date)(x->p.at / TK_DAY);
        if (cal)
            tk_calendar_local_date(cal, x->p.at, &day, NULL);
        for (size_t j = 0; j < x->p.nmails; j++) {
            if (n == cap) {
                size_t ncap = cap ? 2 * cap : 64;
                struct dref *nv = realloc(v, ncap * sizeof *nv);
                if (!nv) {
                    rc = oom(err);
                    break;
                }
                v = nv;
                cap = ncap;
            }
            v[n++] =
                (struct dref){x->mails[j].to, x->p.at, day, x->p.account_id, x->p.item_id, i, j};
        }
    }
    if (rc == 0 && n > 1)
        qsort(v, n, sizeof *v, dref_cmp);
    for (size_t i = 0, j; rc == 0 && i < n; i = j) {
        for (j = i + 1;
             j < n && strcmp(v[j].to, v[i].to) == 0 && v[j].at == v[i].at && v[j].day == v[i].day;
             j++)
            ;
        if (j - i > 1)
            rc = digest_group(r, &v[i], j - i, err);
    }
    free(v);
    return rc;
}

/* The walk, for ITEM (0: every item due in the span, of ACCOUNT or all). */
static int preview(struct tk_engine *e, int64_t account, int64_t item, int days, int render,
                   size_t limit, int (*fn)(void *u, const struct tk_preview *p), void *u,
                   struct tk_error *err)
{
    struct tk_db_base *base = (struct tk_db_base *)e->db;
    struct run r;
    struct tk_item *page = NULL;
    size_t npage = 0, pagesize = limit < 1000 ? PAGE_SHORT : PAGE;
    tk_time now = e->now, after_at = 0;
    int64_t after_id = 0;
    int own_tx = 0, dry = e->dry_run, rc, full = 0;

    if (days < 1 || days > TK_PREVIEW_DAYS_MAX)
        return tk_error_set(err, TK_EINVAL, "--days: a number of days from 1 to %d",
                            TK_PREVIEW_DAYS_MAX);
    memset(&r, 0, sizeof r);
    r.e = e;
    r.account = account;
    r.until = now + (tk_time)days * TK_DAY;
    r.render = render;
    if ((rc = tk_engine_load_plugins(e, err)))
        return rc;
    if (!base->in_tx) {
        if ((rc = tk_db_begin(e->db, TK_TX_SNAPSHOT, err)))
            return rc;
        own_tx = 1;
    }
    e->dry_run = 1;
    if (item) {
        struct tk_item it;
        memset(&it, 0, sizeof it);
        rc = tk_store_item_get(e->db, item, &it, err);
        if (rc == 0 && it.rem.next_at && it.rem.next_at < r.until &&
            (rc = mailed_load(&r, &it, 1, err)) == 0)
            rc = walk_item(&r, &it, now, err);
        e->now = now;
        tk_item_free(&it);
    }
    /* overdue items (next_at before now) go out at the next tick */
    while (rc == 0 && !item && !full) {
        if ((rc = tk_store_item_due_page(e->db, account, r.until, after_at, after_id, pagesize,
                                         &page, &npage, err)) ||
            !npage)
            break;
        after_at = page[npage - 1].rem.next_at;
        after_id = page[npage - 1].id;
        rc = accounts_load(&r, page, npage, err);
        if (rc == 0)
            rc = mailed_load(&r, page, npage, err);
        for (size_t i = 0; rc == 0 && i < npage; i++) {
            rc = walk_item(&r, &page[i], now, err);
            e->now = now;
            /* Items come by next_at and none sends before it: once LIMIT
             * emails are known no later than the next item's next_at, the
             * rest cannot enter the first LIMIT (the console's short
             * lists). */
            if (rc == 0 && (i & 63) == 63 && i + 1 < npage && enough(&r, limit, &page[i + 1], now))
                full = 1;
            if (full)
                break;
        }
        for (size_t i = 0; i < npage; i++)
            tk_item_free(&page[i]);
        free(page);
        page = NULL;
        if (npage < pagesize)
            break;
    }
    e->now = now;
    /* digests (not in the console's timeline, which lists who only) */
    if (rc == 0 && render >= 0)
        rc = digests(&r, err);
    e->dry_run = dry;
    if (own_tx)
        tk_db_rollback(e->db); /* read only: nothing to keep */
    /* sorted by pointer: an entry is large */
    struct entry **ord = rc == 0 ? malloc((r.n ? r.n : 1) * sizeof *ord) : NULL;
    if (rc == 0 && !ord)
        rc = oom(err);
    for (size_t i = 0; ord && i < r.n; i++)
        ord[i] = &r.v[i];
    if (ord && r.n > 1)
        qsort(ord, r.n, sizeof *ord, by_time_p);
    for (size_t i = 0; rc == 0 && i < r.n && i < limit; i++) {
        struct entry *x = ord[i];
        x->p.type = x->type;
        x->p.title = x->title;
        x->p.account_name = x->account;
        x->p.local = x->local;
        x->p.moved = x->moved;
        x->p.error = x->error;
        x->p.mails = x->mails;
        rc = fn(u, &x->p);
    }
    free(ord);
    arena_free(&r);
    free(r.v);
    mailed_clear(&r);
    free(r.m);
    tk_ids_free(&r.esc);
    free(r.had);
    free(r.fresh.v);
    free(r.known.v);
    accts_free(&r);
    return rc == TK_PREVIEW_STOP ? 0 : rc;
}

int tk_engine_preview(struct tk_engine *e, int64_t account, int days, int render, size_t limit,
                      int (*fn)(void *u, const struct tk_preview *p), void *u, struct tk_error *err)
{
    if (account) {
        struct tk_account a = {0};
        int rc = tk_store_account_get(e->db, account, &a, err);
        tk_account_free(&a);
        if (rc)
            return rc;
    }
    return preview(e, account, 0, days, render, limit, fn, u, err);
}

int tk_engine_preview_item(struct tk_engine *e, int64_t item, int days, int render, size_t limit,
                           int (*fn)(void *u, const struct tk_preview *p), void *u,
                           struct tk_error *err)
{
    return preview(e, 0, item, days, render, limit, fn, u, err);
}

/* The console's timeline (engine.h): the preview without the messages. */
struct upcoming {
    int (*fn)(void *u, const struct tk_upcoming *up);
    void *u;
};

static int upcoming_one(void *u, const struct tk_preview *p)
{
    struct upcoming *x = u;
    struct tk_upcoming up = {p->item_id,      p->account_id, p->type,  p->title,
                             p->account_name, p->step,       p->count, p->at};
    return x->fn(x->u, &up);
}

int tk_engine_upcoming(struct tk_engine *e, int days, size_t limit,
                       int (*fn)(void *u, const struct tk_upcoming *up), void *u,
                       struct tk_error *err)
{
    struct upcoming x = {fn, u};
    return preview(e, 0, 0, days, -1, limit, upcoming_one, &x, err);
}
