/* zone.c - zones by IANA name from the system's tz database, cached.
 *
 * A daemon builds calendars for many accounts on every tick; the zone file
 * behind each is read and parsed once and then shared.  The cache is a
 * small hash table under one mutex, touched only while a calendar is
 * built; conversions never lock (a struct tk_tz is immutable).  An entry
 * remembers the file's identity (device, inode, size, mtime) and looks at
 * the file again at most once every TK_CALENDAR_RECHECK seconds, so that
 * building calendars in a loop costs no system call, while a tzdata
 * upgrade still reaches the calendars built a minute later (those built
 * before keep the zone they hold a reference to).
 *
 * The folder is $TZDIR when set when the first zone is loaded (as glibc
 * and Python read it), else /usr/share/zoneinfo. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define NAME_MAX_LEN 128
#define BUCKETS 64

struct entry {
    struct entry *next;
    struct tk_tz *tz; /* the cache's reference */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int64_t checked; /* tk_calendar_clock() when the file was last looked at */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table[BUCKETS];
static pthread_once_t dir_once = PTHREAD_ONCE_INIT;
static char zonedir[512] = "/usr/share/zoneinfo";

static void read_tzdir(void)
{
    const char *d = getenv("TZDIR");
    if (d && *d == '/' && strlen(d) < sizeof zonedir)
        tk_strlcpy(zonedir, d, sizeof zonedir);
}

int64_t tk_calendar_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* vDSO: no system call */
    return ts.tv_sec;
}

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

/* An IANA name: components of letters, digits, '_', '-' and '+', each
 * starting with a letter, separated by single slashes.  This keeps the
 * name inside the zone folder ("..", "/etc/passwd") and away from the
 * folder's other files (zone.tab, tzdata.zi), which all have a dot.  The
 * posix/ and right/ copies and "localtime" are not IANA names. */
static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return 0;
    if (!strncmp(s, "posix/", 6) || !strncmp(s, "right/", 6) || !strcmp(s, "localtime") ||
        !strcmp(s, "posixrules"))
        return 0;
    int start = 1;
    for (; *s; s++) {
        char c = *s;
        int letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        if (start) {
            if (!letter)
                return 0;
            start = 0;
        } else if (c == '/') {
            start = 1;
        } else if (!letter && !(c >= '0' && c <= '9') && c != '_' && c != '-' && c != '+') {
            return 0;
        }
    }
    return !start;
}

static int read_file(int fd, const char *name, struct tk_tz **out, struct tk_error *err)
{
    static unsigned char buf[TK_TZ_FILE_MAX]; /* guarded by lock */
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return tk_error_set(err, TK_EIO, "time zone \"%s\": %s/%s: %s", name, zonedir, name,
                                strerror(errno));
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == sizeof buf)
            return tk_error_set(err, TK_EINVAL, "time zone \"%s\": %s/%s is too large", name,
                                zonedir, name);
    }
    return tk_tz_parse(buf, n, name, out, err);
}

/* Without tzdata installed, "UTC" still works: the built-in default must. */
static int builtin_utc(struct tk_tz **out, struct tk_error *err)
{
    struct tk_tz *tz = calloc(1, sizeof *tz);
    if (tz) {
        atomic_init(&tz->refs, 1);
        tz->ntypes = 1;
        tz->types = calloc(1, sizeof *tz->types);
        tz->name = tk_strdup("UTC");
    }
    if (!tz || !tz->types || !tz->name) {
        tk_tz_release(tz);
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    tk_strlcpy(tz->types[0].abbr, "UTC", sizeof tz->types[0].abbr);
    *out = tz;
    return 0;
}

int tk_tz_get(const char *name, struct tk_tz **out, struct tk_error *err)
{
    char path[sizeof zonedir + NAME_MAX_LEN + 2];
    struct stat st;
    struct entry *e, **slot;
    int64_t now;
    int fd, rc;

    *out = NULL;
    if (!name || !*name)
        name = "UTC";
    if (!valid_name(name))
        return tk_error_set(err, TK_EINVAL,
                            "bad time zone \"%s\": expected an IANA name such as "
                            "Europe/Amsterdam or America/New_York",
                            name);
    pthread_once(&dir_once, read_tzdir);
    snprintf(path, sizeof path, "%s/%s", zonedir, name);

    pthread_mutex_lock(&lock);
    slot = &table[hash(name)];
    for (e = *slot; e; e = e->next)
        if (!strcmp(e->tz->name, name))
            break;
    now = tk_calendar_clock();
    if (e && now - e->checked < TK_CALENDAR_RECHECK) {
        atomic_fetch_add(&e->tz->refs, 1);
        *out = e->tz;
        pthread_mutex_unlock(&lock);
        return 0;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e0 = fd < 0 ? errno : EISDIR;
        if (fd >= 0)
            close(fd);
        pthread_mutex_unlock(&lock);
        if (e0 == ENOENT && !strcmp(name, "UTC"))
            return builtin_utc(out, err);
        if (e0 == ENOENT || e0 == ENOTDIR || e0 == EISDIR)
            return tk_error_set(err, TK_EINVAL,
                                "unknown time zone \"%s\" (not in %s; names look like "
                                "Europe/Amsterdam or America/New_York)",
                                name, zonedir);
        return tk_error_set(err, TK_EIO, "time zone \"%s\": %s: %s", name, path, strerror(e0));
    }
    if (e && e->dev == st.st_dev && e->ino == st.st_ino && e->size == st.st_size &&
        e->mtime.tv_sec == st.st_mtim.tv_sec && e->mtime.tv_nsec == st.st_mtim.tv_nsec) {
        e->checked = now;
        atomic_fetch_add(&e->tz->refs, 1);
        *out = e->tz;
        close(fd);
        pthread_mutex_unlock(&lock);
        return 0;
    }
    rc = read_file(fd, name, out, err);
    close(fd);
    if (rc == 0) {
        if (!e && !(e = calloc(1, sizeof *e))) {
            tk_tz_release(*out);
            *out = NULL;
            pthread_mutex_unlock(&lock);
            return tk_error_set(err, TK_ENOMEM, "out of memory");
        }
        if (e->tz) {
            tk_tz_release(e->tz); /* the file changed: calendars keep the old one */
        } else {
            e->next = *slot;
            *slot = e;
        }
        e->tz = *out;
        e->dev = st.st_dev;
        e->ino = st.st_ino;
        e->size = st.st_size;
        e->mtime = st.st_mtim;
        e->checked = now;
        atomic_fetch_add(&e->tz->refs, 1);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void tk_tz_cache_clear(void)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < BUCKETS; i++) {
        while (table[i]) {
            struct entry *e = table[i];
            table[i] = e->next;
            tk_tz_release(e->tz);
            free(e);
        }
    }
    pthread_mutex_unlock(&lock);
}
