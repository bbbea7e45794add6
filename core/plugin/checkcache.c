/* checkcache.c - remember which plugin files' compiled-in templates passed
 * the check, so that a command does not parse them again (issue 17: the
 * parse was 17 % of the instructions of a `tickler send`).
 *
 * Only that one check (check.c's check_templates) is ever skipped: every
 * other check of the header and body runs on every load, and a plugin's
 * templates are parsed again by the catalog when an email needs them.
 *
 * An entry is one line, written only after the whole body check passed:
 *
 *   DEV INO SIZE MTIME.NS CTIME.NS HASH
 *
 * the fstat() of the very descriptor that is loaded (a file replaced by a
 * rename has another inode; one edited in place has a new ctime, which
 * `touch -r` cannot put back), and HASH, a 64-bit hash of what
 * check_templates reads (each template's language, name and text, in
 * order).  A hit needs all of them to match, plus the file's first line:
 * the format, the plugin ABI and the GNU build ID of the object that holds
 * the template parser (a rebuilt tickler may refuse what the old one
 * passed).  A host without a build ID never uses the file.
 *
 * The file is $XDG_CACHE_HOME/tickler/plugin-check, else
 * $HOME/.cache/tickler/plugin-check (absolute paths only; neither: no
 * cache).  It is written whole to a temporary file and renamed, at most
 * MAX_ENTRIES lines, the newest first.  Any failure to read or write it
 * means "check", never an error: it is safe to delete at any time.  No
 * allocation: the allocation-failure tests see the loader's own. */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin.h"
#include "template/template.h"

#define MAX_ENTRIES 64
#define FORMAT "tickler-plugin-check 1"

static int cache_off; /* tk_plugin_check_cache_use(0) */

void tk_plugin_check_cache_use(int on)
{
    cache_off = !on;
}

/* ---- the host's identity ------------------------------------------------ */

struct find_id {
    uintptr_t addr;
    char *hex; /* out: the build ID as hex, "" when none */
    size_t size;
};

/* The notes of one PT_NOTE segment, padded to ALIGN (4, or 8 in a segment
 * aligned to 8). */
static void note_build_id(const unsigned char *p, size_t n, size_t align, struct find_id *f)
{
    static const char hex[] = "0123456789abcdef";
    while (n >= sizeof(ElfW(Nhdr))) {
        const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
        size_t namesz = (nh->n_namesz + align - 1) & ~(align - 1),
               descsz = (nh->n_descsz + align - 1) & ~(align - 1);
        size_t total = sizeof *nh + namesz + descsz;
        if (total > n)
            return;
        if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
            memcmp(p + sizeof *nh, "GNU", 4) == 0 && nh->n_descsz >= 8 &&
            nh->n_descsz * 2 < f->size) {
            const unsigned char *d = p + sizeof *nh + namesz;
            for (size_t i = 0; i < nh->n_descsz; i++) {
                f->hex[2 * i] = hex[d[i] >> 4];
                f->hex[2 * i + 1] = hex[d[i] & 15];
            }
            f->hex[2 * nh->n_descsz] = '\0';
            return;
        }
        p += total;
        n -= total;
    }
}

static int each_object(struct dl_phdr_info *info, size_t size, void *data)
{
    struct find_id *f = data;
    int mine = 0;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && f->addr >= start && f->addr - start < ph->p_memsz)
            mine = 1;
    }
    if (!mine)
        return 0;
    for (int i = 0; i < info->dlpi_phnum && !f->hex[0]; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_NOTE)
            note_build_id((const unsigned char *)(info->dlpi_addr + ph->p_vaddr), ph->p_memsz,
                          ph->p_align == 8 ? 8 : 4, f);
    }
    return 1;
}

/* The build ID of the object that holds the template parser, as hex. */
static int host_id(char *hex, size_t size)
{
    struct find_id f;
    int (*parse)(const char *, size_t, const char *, struct tk_template *, struct tk_error *) =
        tk_template_parse;
    f.addr = (uintptr_t)parse;
    f.hex = hex;
    f.size = size;
    hex[0] = '\0';
    dl_iterate_phdr(each_object, &f);
    return hex[0] ? 0 : -1;
}

/* ---- the file ----------------------------------------------------------- */

static int cache_path(char *out, size_t size, int dir_only)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(out, size, "%s/tickler%s", xdg, dir_only ? "" : "/plugin-check");
    else if (home && home[0] == '/')
        n = snprintf(out, size, "%s/.cache/tickler%s", home, dir_only ? "" : "/plugin-check");
    else
        return -1;
    return n > 0 && (size_t)n < size ? 0 : -1;
}

void tk_plugin_check_cache_begin(struct tk_check_cache *cc)
{
    char path[PATH_MAX];
    size_t got = 0;
    int fd;

    memset(cc, 0, sizeof *cc);
    if (cache_off || host_id(cc->host, sizeof cc->host) != 0)
        return;
    cc->on = 1;
    snprintf(cc->header, sizeof cc->header, FORMAT " abi %d.%d host %s\n", TK_ABI_MAJOR,
             TK_ABI_MINOR, cc->host);
    if (cache_path(path, sizeof path, 0) != 0)
        return;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return;
    while (got < sizeof cc->text - 1) {
        size_t want = sizeof cc->text - 1 - got;
        ssize_t n = read(fd, cc->text + got, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        if ((size_t)n < want)
            break; /* a regular file's end (a short read at worst loses lines) */
    }
    close(fd);
    cc->text[got] = '\0';
    /* another host, ABI or format: nothing in it counts (and it is
     * replaced at the next write) */
    if (strncmp(cc->text, cc->header, strlen(cc->header)) != 0)
        cc->text[0] = '\0';
}

uint64_t tk_plugin_hash(uint64_t h, const void *data, size_t n)
{
    const unsigned char *s = data;
    uint64_t w;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15u;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w ^ ((uint64_t)n << 56)) * 0x9e3779b97f4a7c15u;
    return h ^ (h >> 29);
}

/* What check_templates reads of T, hashed. */
static uint64_t templates_hash(const struct tk_item_type *t)
{
    uint64_t h = 0x6a09e667f3bcc908u;
    for (const struct tk_template_text *tt = t->templates; tt && tt->lang; tt++) {
        h = tk_plugin_hash(h, tt->lang, strlen(tt->lang) + 1);
        h = tk_plugin_hash(h, tt->name ? tt->name : "", tt->name ? strlen(tt->name) + 1 : 0);
        h = tk_plugin_hash(h, tt->text ? tt->text : "", tt->text ? strlen(tt->text) + 1 : 0);
    }
    return h;
}

/* The line of the file at P: "\n" before it or the start, "\n" after. */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = strstr(text, line); p; p = strstr(p + 1, line))
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

int tk_plugin_check_cache_lookup(const struct tk_check_cache *cc, struct tk_plugin *p,
                                 const struct stat *st)
{
    const struct tk_item_type *t = (const struct tk_item_type *)p->hdr;
    int n;
    p->check_line[0] = '\0';
    p->check_hit = 0;
    if (!cc || !cc->on || !p->hdr || p->hdr->kind != TK_PLUGIN_ITEM)
        return 0;
    n = snprintf(
        p->check_line, sizeof p->check_line, "%llu %llu %lld %lld.%09ld %lld.%09ld %016llx",
        (unsigned long long)st->st_dev, (unsigned long long)st->st_ino, (long long)st->st_size,
        (long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
        (long)st->st_ctim.tv_nsec, (unsigned long long)templates_hash(t));
    if (n <= 0 || (size_t)n >= sizeof p->check_line) {
        p->check_line[0] = '\0';
        return 0;
    }
    p->check_hit = cc->text[0] && has_line(cc->text, p->check_line);
    return p->check_hit;
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The new lines (LINE, then REG's plugins checked in full just now), then
 * the old ones, MAX_ENTRIES in all. */
static int write_entries(int fd, const struct tk_check_cache *cc, const struct tk_registry *reg,
                         const char *line)
{
    size_t lines = 0;
    const char *s;
    if (write_all(fd, cc->header, strlen(cc->header)) != 0)
        return -1;
    if (line) {
        if (write_all(fd, line, strlen(line)) != 0 || write_all(fd, "\n", 1) != 0)
            return -1;
        lines++;
    }
    for (size_t i = reg ? reg->n : 0; i > 0 && lines < MAX_ENTRIES; i--) {
        const struct tk_plugin *p = reg->v[i - 1];
        if (!p->check_line[0] || p->check_hit)
            continue;
        if (write_all(fd, p->check_line, strlen(p->check_line)) != 0 || write_all(fd, "\n", 1))
            return -1;
        lines++;
    }
    s = cc->text[0] ? strchr(cc->text, '\n') : NULL;
    while (s && *++s && lines < MAX_ENTRIES) {
        const char *end = strchr(s, '\n');
        int again = 0;
        if (!end)
            break; /* a cut last line */
        again =
            line && strlen(line) == (size_t)(end - s) && memcmp(line, s, (size_t)(end - s)) == 0;
        for (size_t i = 0; reg && i < reg->n && !again; i++) {
            const struct tk_plugin *p = reg->v[i];
            again = p->check_line[0] && !p->check_hit &&
                    strlen(p->check_line) == (size_t)(end - s) &&
                    memcmp(p->check_line, s, (size_t)(end - s)) == 0;
        }
        if (!again) {
            if (write_all(fd, s, (size_t)(end - s) + 1) != 0)
                return -1;
            lines++;
        }
        s = end;
    }
    return 0;
}

/* Write the file anew: the header, LINE and REG's fresh lines, then the
 * old lines. */
static void rewrite(const struct tk_check_cache *cc, const struct tk_registry *reg,
                    const char *line)
{
    char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 16];
    int fd, rc;

    if (cache_path(dir, sizeof dir, 1) != 0 || cache_path(path, sizeof path, 0) != 0)
        return;
    if (mkdir(dir, 0700) != 0 && errno == ENOENT) {
        /* $HOME/.cache itself is missing: make it as the XDG spec says */
        char *slash = strrchr(dir, '/');
        *slash = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return;
        *slash = '/';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return;
    }
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0)
        return;
    rc = write_entries(fd, cc, reg, line);
    if (close(fd) != 0 || rc != 0 || rename(tmp, path) != 0)
        unlink(tmp);
}

void tk_plugin_check_cache_end(const struct tk_check_cache *cc, const struct tk_registry *reg)
{
    size_t fresh = 0;

    if (!cc->on)
        return;
    for (size_t i = 0; i < reg->n; i++)
        fresh += reg->v[i]->check_line[0] && !reg->v[i]->check_hit;
    if (fresh)
        rewrite(cc, reg, NULL);
}

void tk_plugin_check_cache_add(const struct tk_check_cache *cc, const char *line)
{
    if (cc->on && !has_line(cc->text, line))
        rewrite(cc, NULL, line);
}
