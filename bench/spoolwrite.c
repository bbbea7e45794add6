/*
 * spoolwrite.c - baseline for the file transport (bench only).
 *
 *   spoolwrite SRC_DIR DST_DIR on|off
 *
 * Reads every *.eml of SRC_DIR into memory (untimed), then writes the same
 * bytes into DST_DIR exactly the way the file transport does: create
 * DST/tmp/NAME.tmp (O_EXCL), write, fsync when "on", close, rename to
 * DST/NAME.eml, fsync DST when "on".  Prints "seconds count".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct msg {
    char *data;
    size_t len;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int slurp(int dfd, const char *name, struct msg *m)
{
    struct stat sb;
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0)
        return -1;
    m->len = (size_t)sb.st_size;
    m->data = malloc(m->len ? m->len : 1);
    size_t got = 0;
    while (m->data && got < m->len) {
        ssize_t r = read(fd, m->data + got, m->len - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return m->data && got == m->len ? 0 : -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: spoolwrite SRC_DIR DST_DIR on|off\n");
        return 2;
    }
    int sync = strcmp(argv[3], "on") == 0;
    DIR *d = opendir(argv[1]);
    struct msg *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    if (!d)
        return perror(argv[1]), 1;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".eml") != 0)
            continue;
        if (n == cap && !(v = realloc(v, (cap = cap ? cap * 2 : 1024) * sizeof *v)))
            return perror("realloc"), 1;
        if (slurp(dirfd(d), de->d_name, &v[n]) != 0)
            return perror(de->d_name), 1;
        n++;
    }
    closedir(d);

    char tmpdir[4096];
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", argv[2]);
    mkdir(tmpdir, 0750);
    int dir_fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int tmp_fd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0 || tmp_fd < 0)
        return perror(argv[2]), 1;

    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        char tmp[64], eml[64];
        snprintf(tmp, sizeof tmp, "%020zu-%ld.tmp", i, (long)getpid());
        snprintf(eml, sizeof eml, "%020zu-%ld.eml", i, (long)getpid());
        int fd = openat(tmp_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (fd < 0 || write_all(fd, v[i].data, v[i].len) != 0 || (sync && fsync(fd) != 0) ||
            close(fd) != 0 || renameat(tmp_fd, tmp, dir_fd, eml) != 0 ||
            (sync && fsync(dir_fd) != 0))
            return perror(eml), 1;
    }
    printf("%.6f %zu\n", now_s() - t0, n);
    for (size_t i = 0; i < n; i++)
        free(v[i].data);
    free(v);
    close(tmp_fd);
    close(dir_fd);
    return 0;
}
