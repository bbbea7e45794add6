/*
 * transport_driver.c - load a transport plugin the way the host does and
 * push messages through one batch.  Compiled by test_transports.py.
 *
 *   transport_driver [--fsize BYTES] [--step] PLUGIN.so [key=value]... --
 *                    FROM RCPT=FILE[=MESSAGE-ID]...
 *
 * Prints one line per step on stdout:
 *   INIT-FAILED <code> <message>     (exit 3)
 *   OPEN-FAILED <code> <message>     (exit 4)
 *   SENT <i> <status> <reply_code> <reply> [| <send rc> <err>]
 * --step waits for a line on stdin before each message, so that the test
 * can restart a server in the middle of a batch.  --fsize sets
 * RLIMIT_FSIZE (writes past it fail with EFBIG) to simulate a full disk.
 * A message's Message-ID (the host's, which a transport may use: the file
 * transport names files from it) is "<test@tickler.example>" unless the
 * spec gives one after a second "=".
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "tickler/transport.h"

static int g_argc;
static char **g_argv;

static void host_log(const struct tk_host *h, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "log[%d]: ", level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const char *host_config_get(const struct tk_host *h, const char *key)
{
    size_t n = strlen(key);
    for (int i = 0; i < g_argc; i++)
        if (strncmp(g_argv[i], key, n) == 0 && g_argv[i][n] == '=')
            return g_argv[i] + n + 1;
    return NULL;
}

static void *host_alloc(const struct tk_host *h, size_t n)
{
    return malloc(n);
}
static void *host_realloc(const struct tk_host *h, void *p, size_t n)
{
    return realloc(p, n);
}
static void host_free(const struct tk_host *h, void *p)
{
    free(p);
}

static int host_error_set(struct tk_error *err, int code, const char *fmt, ...)
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

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    char chunk[4096];
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (n + r + 1 > cap) {
            cap = (n + r + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        memcpy(buf + n, chunk, r);
        n += r;
    }
    fclose(f);
    if (!buf)
        buf = calloc(1, 1);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    int step = 0, i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0 && argv[i][2]; i++) {
        if (strcmp(argv[i], "--step") == 0) {
            step = 1;
        } else if (strcmp(argv[i], "--fsize") == 0 && i + 1 < argc) {
            struct rlimit rl;
            rl.rlim_cur = rl.rlim_max = strtoull(argv[++i], NULL, 10);
            signal(SIGXFSZ, SIG_IGN); /* get EFBIG instead of dying */
            setrlimit(RLIMIT_FSIZE, &rl);
        }
    }
    if (i >= argc)
        return 2;
    const char *so = argv[i++];
    int sep = i;
    while (sep < argc && strcmp(argv[sep], "--") != 0)
        sep++;
    g_argc = sep - i;
    g_argv = argv + i;
    if (sep + 1 >= argc)
        return 2;
    const char *from = argv[sep + 1];

    void *dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    tk_plugin_entry_fn entry = (tk_plugin_entry_fn)dlsym(dl, TK_PLUGIN_ENTRY_NAME);
    if (!entry)
        return 2;
    const struct tk_plugin_header *hdr = entry();
    if (hdr->abi_major != TK_ABI_MAJOR || hdr->kind != TK_PLUGIN_TRANSPORT ||
        hdr->size < sizeof(struct tk_transport)) {
        fprintf(stderr, "bad descriptor\n");
        return 2;
    }
    const struct tk_transport *t = (const struct tk_transport *)hdr;

    struct tk_host host = {
        .size = sizeof host,
        .abi_major = TK_ABI_MAJOR,
        .abi_minor = TK_ABI_MINOR,
        .log = host_log,
        .config_get = host_config_get,
        .alloc = host_alloc,
        .realloc = host_realloc,
        .free = host_free,
        .error_set = host_error_set,
    };
    struct tk_error err = {0, ""};
    void *state = NULL, *conn = NULL;
    if (t->init && t->init(&host, &state, &err) != 0) {
        printf("INIT-FAILED %d %s\n", err.code, err.msg);
        dlclose(dl);
        return 3;
    }
    if (t->open(state, &conn, &err) != 0) {
        printf("OPEN-FAILED %d %s\n", err.code, err.msg);
        t->close(conn);
        if (t->fini)
            t->fini(state);
        dlclose(dl);
        return 4;
    }
    for (int m = sep + 2; m < argc; m++) {
        char line[64];
        if (step) {
            printf("READY %d\n", m - sep - 2);
            fflush(stdout);
            if (!fgets(line, sizeof line, stdin))
                break;
        }
        char *spec = argv[m], *eq = strchr(spec, '=');
        if (!eq)
            return 2;
        *eq = '\0';
        char *mid = strchr(eq + 1, '=');
        if (mid)
            *mid++ = '\0';
        size_t len = 0;
        char *data = slurp(eq + 1, &len);
        if (!data)
            return 2;
        struct tk_message msg = {mid ? mid : "<test@tickler.example>", from, spec, data, len};
        struct tk_delivery_result res;
        memset(&res, 0x5a, sizeof res); /* send() must fill it all */
        res.reply[sizeof res.reply - 1] = '\0';
        struct tk_error serr = {0, ""};
        int rc = t->send(conn, &msg, &res, &serr);
        if (rc)
            printf("SENT %d %d %d %s | %d %s\n", m - sep - 2, res.status, res.reply_code, res.reply,
                   rc, serr.msg);
        else
            printf("SENT %d %d %d %s\n", m - sep - 2, res.status, res.reply_code, res.reply);
        fflush(stdout);
        free(data);
    }
    t->close(conn);
    if (t->fini)
        t->fini(state);
    dlclose(dl);
    return 0;
}
