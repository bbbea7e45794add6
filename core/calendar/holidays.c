/* holidays.c - the Dutch public holidays by rule, and holiday files by
 * path, cached.
 *
 * nl: what a Dutch client does not expect a reminder on.  Liberation Day
 * (5 May) counts every year: it is a national holiday every year, even if
 * collective agreements give the day off only every fifth year; a firm
 * that wants otherwise lists its own days in an .ics file.  Good Friday is
 * not a general day off in the Netherlands and is left out.  The monarch's
 * day follows the rules in force each year since 1949 (docs/calendar.md).
 *
 * .ics files are parsed once (ics.c) and shared, like zones: the cache
 * keys them by path and rereads a file whose size, inode or mtime changed,
 * looking at the file at most once every TK_CALENDAR_RECHECK seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

const char *tk_holidays_nl(tk_date day)
{
    int y, m, d;
    tk_civil_ymd(day, &y, &m, &d);
    if (m == 1 && d == 1)
        return "New Year's Day";
    if (m == 12 && d == 25)
        return "Christmas Day";
    if (m == 12 && d == 26)
        return "Boxing Day";
    if (m == 5 && d == 5 && y >= 1945)
        return "Liberation Day";
    if (y >= 2014) {
        /* King's Day: 27 April, or Saturday 26 April when the 27th is a Sunday */
        tk_date k = tk_civil_days(y, 4, 27);
        if (tk_civil_weekday(k) == 6)
            k--;
        if (day == k)
            return "King's Day";
    } else if (y >= 1949) {
        /* Queen's Day: 30 April; on a Sunday moved to Monday 1 May until
         * 1979, to Saturday 29 April from 1980 */
        tk_date q = tk_civil_days(y, 4, 30);
        if (tk_civil_weekday(q) == 6)
            q += y >= 1980 ? -1 : 1;
        if (day == q)
            return "Queen's Day";
    }
    if (m >= 3 && m <= 6) {
        tk_date e = tk_calendar_easter(y);
        if (day == e)
            return "Easter Sunday";
        if (day == e + 1)
            return "Easter Monday";
        if (day == e + 39)
            return "Ascension Day";
        if (day == e + 49)
            return "Whit Sunday";
        if (day == e + 50)
            return "Whit Monday";
    }
    return NULL;
}

const char *tk_holiday_set_find(const struct tk_holiday_set *set, tk_date day)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (set->days[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < set->n && set->days[lo].day == day ? set->names + set->days[lo].name : NULL;
}

void tk_holiday_set_release(struct tk_holiday_set *set)
{
    if (!set || atomic_fetch_sub(&set->refs, 1) != 1)
        return;
    free(set->days);
    free(set->names);
    free(set);
}

/* ---- the file cache ------------------------------------------------------ */

struct entry {
    struct entry *next;
    char *path;
    struct tk_holiday_set *set; /* the cache's reference */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int64_t checked;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *entries;

static int read_all(int fd, const char *path, struct tk_buf *b, struct tk_error *err)
{
    char chunk[16384];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return tk_error_set(err, TK_EIO, "%s: %s", path, strerror(errno));
        if (r == 0)
            return 0;
        if (b->len + (size_t)r > TK_ICS_FILE_MAX)
            return tk_error_set(err, TK_EINVAL, "%s: larger than %d KiB, not a holiday list", path,
                                TK_ICS_FILE_MAX / 1024);
        if (tk_buf_append(b, chunk, (size_t)r))
            return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
}

int tk_ics_get(const char *path, struct tk_holiday_set **out, struct tk_error *err)
{
    struct stat st;
    struct entry *e;
    struct tk_buf b = {0};
    int64_t now;
    int fd, rc;

    *out = NULL;
    pthread_mutex_lock(&lock);
    for (e = entries; e; e = e->next)
        if (!strcmp(e->path, path))
            break;
    now = tk_calendar_clock();
    if (e && now - e->checked < TK_CALENDAR_RECHECK) {
        atomic_fetch_add(&e->set->refs, 1);
        *out = e->set;
        pthread_mutex_unlock(&lock);
        return 0;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e0 = errno;
        pthread_mutex_unlock(&lock);
        return tk_error_set(err, TK_EIO, "holidays file %s: %s", path, strerror(e0));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        pthread_mutex_unlock(&lock);
        close(fd);
        return tk_error_set(err, TK_EIO, "holidays file %s: not a regular file", path);
    }
    if (e && e->dev == st.st_dev && e->ino == st.st_ino && e->size == st.st_size &&
        e->mtime.tv_sec == st.st_mtim.tv_sec && e->mtime.tv_nsec == st.st_mtim.tv_nsec) {
        e->checked = now;
        atomic_fetch_add(&e->set->refs, 1);
        *out = e->set;
        pthread_mutex_unlock(&lock);
        close(fd);
        return 0;
    }
    b.max = TK_ICS_FILE_MAX + 1;
    rc = read_all(fd, path, &b, err);
    close(fd);
    if (rc == 0)
        rc = tk_ics_parse(b.data ? b.data : "", b.len, path, out, err);
    tk_buf_free(&b);
    if (rc == 0) {
        if (!e) {
            e = calloc(1, sizeof *e);
            if (e && !(e->path = tk_strdup(path))) {
                free(e);
                e = NULL;
            }
            if (!e) {
                tk_holiday_set_release(*out);
                *out = NULL;
                pthread_mutex_unlock(&lock);
                return tk_error_set(err, TK_ENOMEM, "out of memory");
            }
            e->next = entries;
            entries = e;
        }
        tk_holiday_set_release(e->set); /* a changed file: calendars keep the old set */
        e->set = *out;
        e->dev = st.st_dev;
        e->ino = st.st_ino;
        e->size = st.st_size;
        e->mtime = st.st_mtim;
        e->checked = now;
        atomic_fetch_add(&e->set->refs, 1);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void tk_ics_cache_clear(void)
{
    pthread_mutex_lock(&lock);
    while (entries) {
        struct entry *e = entries;
        entries = e->next;
        tk_holiday_set_release(e->set);
        free(e->path);
        free(e);
    }
    pthread_mutex_unlock(&lock);
}
