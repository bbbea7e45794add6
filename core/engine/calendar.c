/* calendar.c - the client's calendar in the engine (issue 14): an
 * account's time zone, send window, holidays, manager and digest setting
 * (tk_engine_account_set), the calendar each account's automatic email is
 * scheduled by, and the decision "send now or defer to the next opening".
 *
 * Calendars are cached per distinct (zone, window, holidays): the cache is
 * keyed by the settings themselves, so an account whose settings change
 * (here, in another process or by a later [calendar] default) simply maps
 * to another entry on its next lookup, and nothing can serve a stale one.
 * Entries are immutable and live until the engine closes: a calendar
 * handed out stays valid while other threads (the settler thread
 * schedules too) look up or add entries under the mutex.  The one thing
 * an entry changes is its remembered Date header (tk_engine_date_header),
 * read and written under the same mutex. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "internal.h"
#include "mail/mail.h"

struct cal_entry {
    char *key; /* "zone\nwindow\nholidays" */
    struct tk_calendar *cal;
    /* the Date header last made with CAL, for DATE_AT (tk_engine_date_header):
     * every email of a tick has the same clock, so one zone's text is made
     * once a tick, not once a message */
    int dated;
    tk_time date_at;
    char date[TK_CALENDAR_DATE_HEADER_MAX];
};

struct tk_engine_calcache {
    pthread_mutex_t lock;
    struct cal_entry *v;
    size_t n, cap;
};

static const char *pick(const char *own, const char *dflt, const char *builtin)
{
    if (own && *own)
        return own;
    return dflt && *dflt ? dflt : builtin;
}

void tk_engine_account_calendar_spec(const struct tk_engine *e, const struct tk_account *a,
                                     struct tk_calendar_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->zone = pick(a ? a->timezone : NULL, e->cfg.calendar_timezone, "UTC");
    spec->window = pick(a ? a->window : NULL, e->cfg.calendar_window, "always");
    spec->holidays = pick(a ? a->holidays : NULL, e->cfg.calendar_holidays, "none");
    spec->base_dir = e->cfg.dir;
}

void tk_engine_calcache_free(struct tk_engine *e)
{
    struct tk_engine_calcache *c = e->calcache;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].key);
        tk_calendar_free(c->v[i].cal);
    }
    free(c->v);
    pthread_mutex_destroy(&c->lock);
    free(c);
    e->calcache = NULL;
}

/* The cache itself is made on first use; the engine opens in one thread,
 * and its first schedule runs before the dispatcher's threads exist. */
static struct tk_engine_calcache *cache(struct tk_engine *e)
{
    if (!e->calcache) {
        struct tk_engine_calcache *c = calloc(1, sizeof *c);
        if (!c)
            return NULL;
        if (pthread_mutex_init(&c->lock, NULL)) {
            free(c);
            return NULL;
        }
        e->calcache = c;
    }
    return e->calcache;
}

int tk_engine_date_header(struct tk_engine *e, const struct tk_calendar *cal, tk_time t, char *buf,
                          size_t size, struct tk_error *err)
{
    struct tk_engine_calcache *c = e->calcache;
    struct cal_entry *hit = NULL;
    int rc = 0;
    if (!c || size < TK_CALENDAR_DATE_HEADER_MAX)
        return tk_calendar_format_date_header(cal, t, buf, size, err);
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n && !hit; i++)
        if (c->v[i].cal == cal)
            hit = &c->v[i];
    if (hit && hit->dated && hit->date_at == t) {
        memcpy(buf, hit->date, sizeof hit->date);
    } else if ((rc = tk_calendar_format_date_header(cal, t, buf, size, err)) == 0 && hit) {
        memcpy(hit->date, buf, sizeof hit->date);
        hit->dated = 1;
        hit->date_at = t;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int tk_engine_calendar_for(struct tk_engine *e, const struct tk_account *a,
                           const struct tk_calendar **out, struct tk_error *err)
{
    struct tk_calendar_spec spec;
    struct tk_engine_calcache *c = cache(e);
    struct tk_buf key = {0};
    struct tk_calendar *cal = NULL;
    int rc = 0;

    *out = NULL;
    if (!c)
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    tk_engine_account_calendar_spec(e, a, &spec);
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n && !*out; i++)
        if (tk_str_key3_is(c->v[i].key, '\n', spec.zone, spec.window, spec.holidays))
            *out = c->v[i].cal;
    if (!*out) {
        if (tk_buf_printf(&key, "%s\n%s\n%s", spec.zone, spec.window, spec.holidays) || !key.data) {
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
            goto unlock;
        }
        if ((rc = tk_calendar_new(&spec, &cal, err)) == 0) {
            if (c->n == c->cap && tk_array_grow(&c->v, &c->cap, c->n + 1, sizeof *c->v, 8)) {
                rc = tk_error_set(err, TK_ENOMEM, "out of memory");
                goto unlock;
            }
            memset(&c->v[c->n], 0, sizeof c->v[c->n]);
            c->v[c->n].key = tk_buf_steal(&key);
            c->v[c->n].cal = cal;
            c->n++;
            *out = cal;
            cal = NULL;
        } else if (a && a->name) {
            tk_error_prefix(err, "account '%s'", a->name);
        }
    }
unlock:
    pthread_mutex_unlock(&c->lock);
    tk_calendar_free(cal);
    tk_buf_free(&key);
    return rc;
}

int tk_engine_defer(struct tk_engine *e, const struct tk_account *a, tk_time *when, char *why,
                    size_t size, struct tk_error *err)
{
    const struct tk_calendar *cal;
    enum tk_calendar_state st = TK_CALENDAR_OPEN;
    char local[TK_CALENDAR_LOCAL_MAX], holiday[128] = "";
    tk_time open = 0;
    tk_date day = 0;
    int rc;

    *when = 0;
    if (why && size)
        why[0] = '\0';
    if ((rc = tk_engine_calendar_for(e, a, &cal, err))) {
        if (rc == TK_ENOMEM)
            return rc;
        /* The account's .ics file went missing or broke after it was
         * checked: never send outside a window we cannot read, never
         * lose the reminder; try again in an hour, and say why. */
        *when = e->now + 3600;
        if (why)
            snprintf(why, size, "an hour later: the calendar cannot be read: %s", err->msg);
        tk_engine_warn(e, "%s", err->msg);
        return 0;
    }
    if ((rc = tk_calendar_state_at(cal, e->now, &st, err)))
        return rc;
    if (st == TK_CALENDAR_OPEN)
        return 0;
    rc = tk_calendar_next_opening(cal, e->now, &open, err);
    if (rc == TK_ENOTFOUND) {
        /* Never skip and never spin: look again in a day, and say so. */
        *when = e->now + TK_DAY;
        if (why)
            snprintf(why, size, "the calendar does not open within %d days; looking again in a day",
                     TK_CALENDAR_HORIZON_DAYS);
        return 0;
    }
    if (rc)
        return rc;
    *when = open > e->now ? open : e->now + 1;
    if (!why)
        return 0;
    tk_calendar_format_local(cal, *when, local, sizeof local, NULL);
    if (st == TK_CALENDAR_CLOSED_HOLIDAY && tk_calendar_local_date(cal, e->now, &day, NULL) == 0)
        tk_calendar_holiday(cal, day, holiday, sizeof holiday);
    if (st == TK_CALENDAR_CLOSED_HOLIDAY)
        snprintf(why, size, "%s (holiday%s%s)", local, *holiday ? ": " : "", holiday);
    else
        snprintf(why, size, "%s (outside the send window %s)", local, tk_calendar_window(cal));
    return 0;
}

/* ---- account settings -------------------------------------------------- */

static int check_settings(const struct tk_engine *e, const struct tk_account_settings *s,
                          char *canon, size_t size, struct tk_error *err)
{
    int rc;
    if (s->timezone && *s->timezone && strcmp(s->timezone, "default") != 0 &&
        (rc = tk_calendar_check_zone(s->timezone, err)))
        return rc;
    if (s->window && *s->window && strcmp(s->window, "default") != 0 &&
        (rc = tk_calendar_check_window(s->window, canon, size, err)))
        return rc;
    if (s->holidays && *s->holidays && strcmp(s->holidays, "default") != 0 &&
        (rc = tk_calendar_check_holidays(s->holidays, e ? e->cfg.dir : NULL, err)))
        return rc;
    if (s->manager && *s->manager && strcmp(s->manager, "none") != 0 &&
        (rc = tk_mail_check_address(s->manager, err))) {
        tk_error_prefix(err, "manager");
        return rc;
    }
    if (s->digest < -2 || s->digest > 1)
        return tk_error_set(err, TK_EINVAL, "digest: on, off or default");
    return 0;
}

int tk_engine_account_settings_check(const struct tk_engine *e, const struct tk_account_settings *s,
                                     struct tk_error *err)
{
    char canon[TK_CALENDAR_WINDOW_MAX];
    return check_settings(e, s, canon, sizeof canon, err);
}

/* *SLOT = VALUE: NULL keeps, "" or "default" (or "none" for the manager)
 * goes back to the default; appends "KEY=VALUE" to the audit text. */
static int set_one(char **slot, const char *value, const char *key, int none_ok, struct tk_buf *d)
{
    char *v = NULL;
    if (!value)
        return 0;
    if (*value && strcmp(value, "default") != 0 && !(none_ok && strcmp(value, "none") == 0) &&
        !(v = tk_strdup(value)))
        return TK_ENOMEM;
    free(*slot);
    *slot = v;
    return tk_buf_printf(d, "%s%s=%s", d->len ? ", " : "", key,
                         v         ? v
                         : none_ok ? "none"
                                   : "default")
               ? TK_ENOMEM
               : 0;
}

struct redecide {
    struct tk_engine *e;
    const struct tk_account *acc;
    struct tk_db *db;
    struct tk_error *err;
};

/* An item deferred under the old calendar is due again at its own moment,
 * so that the next tick decides with the new one (a window made wider
 * sends at once, not at the old opening). */
static int redecide_one(void *u, struct tk_item *it)
{
    struct redecide *x = u;
    tk_time natural = tk_engine_schedule_next(x->e, it, x->acc, NULL);
    if (it->hold.since || !natural || !it->rem.next_at || it->rem.next_at <= natural)
        return 0;
    it->rem.next_at = natural;
    return tk_store_item_update_reminder(x->db, it, x->err);
}

int tk_engine_account_set(struct tk_engine *e, int64_t account, const struct tk_account_settings *s,
                          struct tk_error *err)
{
    struct tk_account a = {0};
    struct tk_buf d = {0};
    char canon[TK_CALENDAR_WINDOW_MAX] = "";
    char *manager = NULL;
    int rc;

    if ((rc = check_settings(e, s, canon, sizeof canon, err)) ||
        (rc = tk_store_account_get(e->db, account, &a, err)))
        goto out;
    if (s->manager && *s->manager && strcmp(s->manager, "none") != 0 &&
        !(manager = tk_strdup(s->manager))) {
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    if (manager) /* domains are case-insensitive, as for contacts */
        for (char *p = strrchr(manager, '@'); p && *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    if (set_one(&a.timezone, s->timezone, "timezone", 0, &d) ||
        set_one(&a.window, s->window && *canon ? canon : s->window, "window", 0, &d) ||
        set_one(&a.holidays, s->holidays, "holidays", 0, &d) ||
        set_one(&a.manager, manager ? manager : s->manager, "manager", 1, &d)) {
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
        goto out;
    }
    if (s->digest != TK_ACCOUNT_KEEP) {
        a.digest = s->digest;
        if (tk_buf_printf(&d, "%sdigest=%s", d.len ? ", " : "",
                          s->digest < 0 ? "default"
                          : s->digest   ? "on"
                                        : "off")) {
            rc = tk_error_set(err, TK_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (!d.len)
        goto out; /* nothing asked: nothing changed, no audit entry */
    /* A relative .ics path is kept as given: the calendar resolves it
     * against the configuration's folder, as for [calendar] holidays. */
    if ((rc = tk_store_account_set_calendar(e->db, &a, err)) == 0)
        rc = tk_engine_audit(e, a.id, 0, 0, "account-settings", d.data, err);
    if (rc == 0 && (s->timezone || s->window || s->holidays)) {
        struct tk_item_filter f;
        struct redecide x = {e, &a, e->db, err};
        memset(&f, 0, sizeof f);
        f.account_id = a.id;
        f.pending_only = 1;
        rc = tk_store_item_each(e->db, &f, redecide_one, &x, err);
    }
out:
    free(manager);
    tk_buf_free(&d);
    tk_account_free(&a);
    return rc;
}

void tk_engine_account_view(const struct tk_engine *e, const struct tk_account *a,
                            struct tk_account_view *out)
{
    struct tk_calendar_spec spec;
    tk_engine_account_calendar_spec(e, a, &spec);
    out->timezone = spec.zone;
    out->window = spec.window;
    out->holidays = spec.holidays;
}

int tk_engine_digest_effective(const struct tk_engine *e, const struct tk_account *a)
{
    return tk_engine_digest_on(e, a);
}

void tk_engine_account_local_time(struct tk_engine *e, const struct tk_account *a, tk_time t,
                                  char *buf, size_t size)
{
    const struct tk_calendar *cal;
    struct tk_error err = {0};
    if (size)
        buf[0] = '\0';
    if (tk_engine_calendar_for(e, a, &cal, &err) == 0)
        tk_calendar_format_local(cal, t, buf, size, NULL);
}
