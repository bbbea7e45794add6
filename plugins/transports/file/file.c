/*
 * file.c - the file transport: writes each message into a spool folder.
 *
 * Every message becomes DIR/<name>.eml, written as DIR/tmp/<name>.tmp,
 * flushed, then renamed: a reader of DIR never sees half a message, and a
 * crash leaves at most a stray file in DIR/tmp.  With fsync = on the file
 * and then DIR are flushed before send() reports DELIVERED, so "sent" in
 * the store never outlives a power cut that lost the file.
 *
 * A message tickler made has a name that comes from its Message-ID ("<"
 * the second it was made, in base 36, "." a count of 5 base-36 digits "."
 * 128 random bits as 26 base-32 digits "@" domain ">", tk_mail_message_id;
 * rows made before 2026-12 keep their "<" 32 random hex digits "." second
 * "@" domain ">"), which the host keeps for every retry of one outbox row
 * and never gives two rows: <that second in ns since 1970, 20 digits>-<the
 * 128 bits as 32 hex digits>, for both forms (an old row's file keeps its
 * name).  So a re-delivery of the same row (after a crash lost its result)
 * renames over the same DIR/<name>.eml instead of adding a second file,
 * which lets the host record results in groups (TK_TRANSPORT_IDEMPOTENT).
 * Names sort by the second the message was made.  A Message-ID of another
 * form (never from tickler) gets a name from the time of writing, as
 * before: <ns since 1970, 20 digits>-<pid>-<counter>, sorting in write
 * order.
 *
 * The temporary file is DIR/tmp/<name>.<pid>-<counter>.tmp: two writers of
 * one row (a send that outlasted its lease) never share it, and a stray one
 * left by a crash never blocks the row's retry.
 *
 * Nothing here is PERMANENT: a full disk, a missing or unwritable folder
 * are all fixed by an operator, after which the message should go out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "tickler/transport.h"

/* Shared by every connection (transport.h, "Threads"): read-only after
 * init but for the counter, which is atomic. */
struct file_state {
    const struct tk_host *host;
    char *dir;     /* absolute; host alloc, freed in fini */
    char *written; /* "written DIR/", the start of every reply; host alloc */
    size_t written_len;
    int fsync;
    int chmod; /* the umask takes bits of 0640 away (or it is unknown): fchmod each file */
    unsigned long counter; /* atomic: connections may send in parallel */
};

/* One per connection, used by one thread at a time. */
struct file_conn {
    struct file_state *st;
    int dir_fd, tmp_fd;
    long long last_ns; /* keeps time names increasing if the clock steps back */
    long pid;          /* read once per connection: a system call per message saved */
    char pid_text[24]; /* "." pid "-": the middle of every temporary name */
    size_t pid_len;
};

static const struct tk_config_key file_keys[] = {
    {"dir", "spool folder; relative paths are relative to the config file; created when missing "
            "(required)"},
    {"fsync", "on or off: flush every message to disk before reporting it sent (default on)"},
    {NULL, NULL},
};

static int fail(struct tk_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct tk_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

/* Whether the process's umask clears any bit of 0640, so that a file
 * created 0640 needs an fchmod to get that mode.  Read from /proc (Linux
 * 4.7 and later) rather than with umask(2), which would change it for
 * every thread meanwhile; unknown counts as yes.  Tickler never changes
 * its umask after start. */
static int umask_narrows(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    int narrows = 1;
    if (!f)
        return 1;
    while (fgets(line, sizeof line, f)) {
        unsigned mask;
        if (sscanf(line, "Umask: %o", &mask) == 1) {
            narrows = (mask & 0640) != 0;
            break;
        }
    }
    fclose(f);
    return narrows;
}

static void file_fini(void *state)
{
    struct file_state *st = state;
    if (!st)
        return;
    st->host->free(st->host, st->dir);
    st->host->free(st->host, st->written);
    st->host->free(st->host, st);
}

static int file_init(const struct tk_host *host, void **state, struct tk_error *err)
{
    *state = NULL;
    const char *dir = host->config_get(host, "dir");
    const char *fs = host->config_get(host, "fsync");
    if (!dir || !*dir)
        return fail(err, TK_EINVAL, "[transport] dir: required (the spool folder)");
    int on;
    if (!fs || strcmp(fs, "on") == 0)
        on = 1;
    else if (strcmp(fs, "off") == 0)
        on = 0;
    else
        return fail(err, TK_EINVAL, "[transport] fsync: \"%s\" is not on or off", fs);

    /* Relative to the configuration file, like every path tickler reads;
     * a missing spool folder is created (its parent must exist). */
    char joined[4096];
    if (dir[0] != '/' && TK_HOST_HAS(host, config_dir) && host->config_dir) {
        int n = snprintf(joined, sizeof joined, "%s/%s", host->config_dir, dir);
        if (n < 0 || (size_t)n >= sizeof joined)
            return fail(err, TK_EINVAL, "[transport] dir: path too long");
        dir = joined;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 && errno == ENOENT && mkdir(dir, 0750) != 0 && errno != EEXIST)
        return fail(err, TK_EINVAL, "[transport] dir: cannot create %s: %s", dir, strerror(errno));
    if (stat(dir, &sb) != 0)
        return fail(err, TK_EINVAL, "[transport] dir: %s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return fail(err, TK_EINVAL, "[transport] dir: %s: not a folder", dir);

    struct file_state *st = host->alloc(host, sizeof *st);
    if (!st)
        return fail(err, TK_ENOMEM, "file: out of memory");
    memset(st, 0, sizeof *st);
    st->host = host;
    st->fsync = on;
    st->chmod = umask_narrows();
    /* Resolve once, so that a later chdir() of the host cannot move the
     * spool. */
    char *abs = realpath(dir, NULL);
    if (!abs) {
        int e = errno;
        file_fini(st);
        return fail(err, e == ENOMEM ? TK_ENOMEM : TK_EINVAL, "[transport] dir: %s: %s", dir,
                    strerror(e));
    }
    size_t n = strlen(abs) + 1;
    st->dir = host->alloc(host, n);
    if (st->dir)
        memcpy(st->dir, abs, n);
    free(abs);               /* realpath() allocates with malloc */
    st->written_len = n + 8; /* "written " DIR "/" */
    st->written = st->dir ? host->alloc(host, st->written_len + 1) : NULL;
    if (st->written) {
        memcpy(st->written, "written ", 8);
        memcpy(st->written + 8, st->dir, n - 1);
        memcpy(st->written + 8 + n - 1, "/", 2);
    }
    if (!st->dir || !st->written) {
        file_fini(st);
        return fail(err, TK_ENOMEM, "file: out of memory");
    }
    *state = st;
    return 0;
}

static void file_close(void *conn)
{
    struct file_conn *c = conn;
    if (!c)
        return;
    if (c->dir_fd >= 0)
        close(c->dir_fd);
    if (c->tmp_fd >= 0)
        close(c->tmp_fd);
    c->st->host->free(c->st->host, c);
}

static char *put_digits(char *p, unsigned long long v, int width);

static int file_open(void *state, void **conn, struct tk_error *err)
{
    struct file_state *st = state;
    *conn = NULL;
    struct file_conn *c = st->host->alloc(st->host, sizeof *c);
    if (!c)
        return fail(err, TK_ENOMEM, "file: out of memory");
    memset(c, 0, sizeof *c);
    c->st = st;
    c->tmp_fd = -1;
    c->pid = (long)getpid();
    c->pid_text[0] = '.';
    c->pid_len = (size_t)(put_digits(c->pid_text + 1, (unsigned long long)c->pid, 1) - c->pid_text);
    c->pid_text[c->pid_len++] = '-';
    c->dir_fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->dir_fd < 0) {
        fail(err, TK_ETEMP, "file: spool folder %s: %s", st->dir, strerror(errno));
        file_close(c);
        return TK_ETEMP;
    }
    if (mkdirat(c->dir_fd, "tmp", 0750) != 0 && errno != EEXIST) {
        fail(err, TK_ETEMP, "file: cannot create %s/tmp: %s", st->dir, strerror(errno));
        file_close(c);
        return TK_ETEMP;
    }
    c->tmp_fd = openat(c->dir_fd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->tmp_fd < 0) {
        fail(err, TK_ETEMP, "file: %s/tmp: %s", st->dir, strerror(errno));
        file_close(c);
        return TK_ETEMP;
    }
    *conn = c;
    return 0;
}

/* The N parts of IOV, whole: one writev(2) for the usual short write. */
static int write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* The seconds in base 36 at S up to the byte END (1-7 digits), or 0. */
static unsigned long long base36_seconds(const char *s, char end, size_t *len)
{
    unsigned long long t = 0;
    size_t digits = 0;
    for (; s[digits] != end; digits++) {
        char ch = s[digits];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'z' ? ch - 'a' + 10 : -1;
        if (d < 0 || digits >= 7) /* 36^7 s is past the limit below */
            return 0;
        t = t * 36 + (unsigned)d;
    }
    *len = digits;
    return digits && t <= 9999999999ULL ? t : 0; /* its ns in 20 digits (year 2286) */
}

static int hex32(const char *s)
{
    for (size_t i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* The value of base-32 digit C (0-9a-v), 32 for any other byte. */
static unsigned b32_value(unsigned char c)
{
    return c >= '0' && c <= '9'   ? (unsigned)(c - '0')
           : c >= 'a' && c <= 'v' ? (unsigned)(c - 'a' + 10)
                                  : 32;
}

/* The 26 base-32 digits at S (0-9a-v, the first 0-7: 128 bits after two
 * zero bits) as 32 hex digits into HEX; 0 when they are not that.  Each
 * digit adds 5 bits, so at most one byte is complete after it. */
static int b32_to_hex(const char *s, char *hex)
{
    static const char hx[] = "0123456789abcdef";
    unsigned acc = 0, d = b32_value((unsigned char)s[0]);
    int nb = 3; /* the first digit's two leading zero bits are dropped */
    size_t o = 0;
    if (d > 7)
        return 0;
    acc = d;
    for (size_t i = 1; i < 26; i++) {
        if ((d = b32_value((unsigned char)s[i])) > 31)
            return 0;
        acc = (acc << 5) | d;
        nb += 5;
        if (nb >= 8) {
            unsigned byte = (acc >> (nb - 8)) & 255;
            nb -= 8;
            hex[o] = hx[byte >> 4];
            hex[o + 1] = hx[byte & 15];
            o += 2;
        }
    }
    return o == 32;
}

/* The seconds since 1970 in a Message-ID tickler made, with its 128 random
 * bits as 32 hex digits in HEX, or 0 for any other form: an order for
 * names, never a time anything depends on.  Two forms (tk_mail_message_id):
 * "<" seconds in base 36 "." a 5-digit count "." 26 base-32 digits "@"
 * domain ">" (made since 2026-12), and "<" 32 hex "." seconds "@" domain
 * ">" (rows stored before it, whose files keep their names). */
static unsigned long long made_at(const char *id, char *hex)
{
    unsigned long long t;
    size_t len, i;
    if (id[0] != '<')
        return 0;
    if (hex32(id + 1) && id[33] == '.') {
        memcpy(hex, id + 1, 32);
        return base36_seconds(id + 34, '@', &len);
    }
    if (!(t = base36_seconds(id + 1, '.', &len)))
        return 0;
    for (i = 1 + len + 1; i < 1 + len + 1 + 5; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z')))
            return 0;
    if (id[i] != '.' || !b32_to_hex(id + i + 1, hex) || id[i + 27] != '@')
        return 0;
    return t;
}

/* Append the decimal digits of V to P, at least WIDTH of them (zeros in
 * front), as "%0*llu" would; returns the end.  P has room for 20 digits. */
static char *put_digits(char *p, unsigned long long v, int width)
{
    char d[20];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (width-- > n)
        *p++ = '0';
    while (n)
        *p++ = d[--n];
    return p;
}

/* NAME for message ID (see the top), and the same with ".eml" in EML and
 * with ".<pid>-<counter>.tmp" in TMP (NAME_SIZE bytes each, TMP_SIZE for
 * TMP).  A name from tickler's own Message-ID is built by hand: snprintf
 * took 4 of the 8 us of a message's own work here (callgrind, issue 17);
 * the bytes are the same (it.test_spool_crash). */
#define NAME_SIZE 96
#define TMP_SIZE (NAME_SIZE + 48)
static void message_name(struct file_conn *c, const char *id, char *name, char *tmp, char *eml)
{
    unsigned long count = __atomic_add_fetch(&c->st->counter, 1, __ATOMIC_RELAXED);
    char hex[32];
    unsigned long long made = made_at(id, hex);
    size_t len;
    if (made) {
        /* "%020llu-%.32s" of MADE in ns: made_at checked the 32 hex
         * digits and that MADE has at most 10 digits, so its 11 digits and
         * nine zeros are the 20 */
        char *p = put_digits(name, made, 11);
        memcpy(p, "000000000-", 10);
        p += 10;
        memcpy(p, hex, 32);
        len = (size_t)(p + 32 - name);
        name[len] = '\0';
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
        if (ns <= c->last_ns)
            ns = c->last_ns + 1;
        c->last_ns = ns;
        int n = snprintf(name, NAME_SIZE, "%020lld-%ld-%06lu", ns, c->pid, count);
        len = n < 0 ? 0 : (size_t)n < NAME_SIZE - 30 ? (size_t)n : NAME_SIZE - 31;
        name[len] = '\0';
    }
    /* "%s.%ld-%06lu.tmp" (the pid is positive) */
    char *t = tmp;
    memcpy(t, name, len);
    t += len;
    memcpy(t, c->pid_text, c->pid_len);
    t = put_digits(t + c->pid_len, count, 6);
    memcpy(t, ".tmp", 5);
    memcpy(eml, name, len);
    memcpy(eml + len, ".eml", 5);
}

/* Report a failed step with the system's reason; errno is read before
 * anything else can change it. */
static int failed(struct tk_delivery_result *res, int status, const char *what, const char *dir,
                  const char *sub, const char *name, const char *ext)
{
    int e = errno;
    res->status = status;
    snprintf(res->reply, sizeof res->reply, "%s %s/%s%s%s: %s", what, dir, sub, name, ext,
             strerror(e));
    return 0;
}

static int file_send(void *conn, const struct tk_message *msg, struct tk_delivery_result *res,
                     struct tk_error *err)
{
    struct file_conn *c = conn;
    struct file_state *st = c->st;
    char name[NAME_SIZE], tmp[TMP_SIZE], eml[NAME_SIZE];
    /* what a result holds (a string in reply), not all 520 bytes of it */
    res->status = 0;
    res->reply_code = 0;
    res->reply[0] = '\0';
    message_name(c, msg->message_id ? msg->message_id : "", name, tmp, eml);

    int fd = openat(c->tmp_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        return failed(res, TK_TEMPORARY, "create", st->dir, "tmp/", tmp, "");
    const char *what = NULL;
    /* 0640 whatever the umask (a message is client data): the owner and
     * the file's group (the daemon's, or the folder's when it is setgid),
     * for a pickup process in that group; never others.  A umask like 277
     * would otherwise leave a file the owner cannot even rewrite.  When
     * the umask leaves 0640 whole, O_CREAT gave that mode already. */
    if (st->chmod && fchmod(fd, 0640) != 0)
        what = "chmod";
    /* The envelope sender goes in first as Return-Path, as a delivery
     * agent writes it (RFC 5321 4.4): with [inbound] return_path it is the
     * message's VERP address, which a file spool would otherwise lose.
     * (A sender too long for the 600-byte line this was once formatted
     * into is left out, as it always was.) */
    size_t fromlen = msg->from ? strlen(msg->from) : 0;
    struct iovec iov[4];
    int niov = 0;
    if (fromlen && fromlen + 17 < 600 && !strpbrk(msg->from, "\r\n")) {
        iov[niov++] = (struct iovec){"Return-Path: <", 14};
        iov[niov++] = (struct iovec){(void *)msg->from, fromlen};
        iov[niov++] = (struct iovec){">\r\n", 3};
    }
    iov[niov++] = (struct iovec){(void *)msg->data, msg->len};
    if (!what && write_all(fd, iov, niov) != 0)
        what = "write";
    else if (!what && st->fsync && fsync(fd) != 0)
        what = "fsync";
    int saved = errno;
    /* close() is where NFS and quotas may report a failed write. */
    if (close(fd) != 0 && !what) {
        what = "close";
        saved = errno;
    }
    if (!what && renameat(c->tmp_fd, tmp, c->dir_fd, eml) != 0) {
        what = "rename";
        saved = errno;
    }
    if (what) {
        unlinkat(c->tmp_fd, tmp, 0);
        errno = saved;
        return failed(res, TK_TEMPORARY, what, st->dir, "tmp/", tmp, "");
    }
    /* The file is already visible in DIR, only not known to be durable:
     * UNKNOWN, so that it is retried and a duplicate keeps its Message-ID. */
    if (st->fsync && fsync(c->dir_fd) != 0)
        return failed(res, TK_UNKNOWN, "fsync folder of", st->dir, "", name, ".eml");
    res->status = TK_DELIVERED;
    /* "written %s/%s", cut where snprintf would cut it */
    size_t at = st->written_len < sizeof res->reply ? st->written_len : sizeof res->reply - 1;
    size_t elen = strlen(eml);
    memcpy(res->reply, st->written, at);
    if (elen > sizeof res->reply - 1 - at)
        elen = sizeof res->reply - 1 - at;
    memcpy(res->reply + at, eml, elen);
    res->reply[at + elen] = '\0';
    return 0;
}

/* tickler check: the spool takes a message now.  A file is really created
 * and removed in DIR/tmp: access(2) answers yes to root whatever a
 * read-only mount (ProtectSystem=) or a full disk would say. */
static int file_probe(void *state, struct tk_error *err)
{
    void *conn = NULL;
    int rc = file_open(state, &conn, err);
    if (rc != 0)
        return rc;
    struct file_conn *c = conn;
    char probe[96];
    snprintf(probe, sizeof probe, "probe-%ld-%06lu.probe", c->pid,
             __atomic_add_fetch(&c->st->counter, 1, __ATOMIC_RELAXED));
    int fd = openat(c->tmp_fd, probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        rc = fail(err, TK_ETEMP, "file: cannot write into the spool folder %s/tmp: %s", c->st->dir,
                  strerror(errno));
    } else {
        close(fd);
        unlinkat(c->tmp_fd, probe, 0);
    }
    file_close(c);
    return rc;
}

static const struct tk_transport file_transport = {
    .hdr = TK_PLUGIN_HEADER_INIT(struct tk_transport, TK_PLUGIN_TRANSPORT, "file", "1.0",
                                 "write each message as a .eml file into a spool folder"),
    .config_keys = file_keys,
    .init = file_init,
    .fini = file_fini,
    .open = file_open,
    .send = file_send,
    .close = file_close,
    .probe = file_probe,
    .flags = TK_TRANSPORT_IDEMPOTENT,
};

TK_PLUGIN_EXPORT const struct tk_plugin_header *tk_plugin_entry(void)
{
    return &file_transport.hdr;
}
