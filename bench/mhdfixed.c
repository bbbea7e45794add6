/* mhdfixed.c - the baseline of the API benchmark: the least a
 * libmicrohttpd server can do per request (internal epoll threads, a pool
 * of 2): read the request, drain its body, answer a fixed JSON body.
 * tickler ran the same pool of 2 until bench/RESULTS.md update 49 and now
 * runs one listener thread of its own (core/http/server.c, listen_main); the baseline
 * keeps its pool so that every update's ratio is against the same server.
 *
 *   mhdfixed PORT        serves until SIGTERM/SIGINT */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char body[] = "{\"id\":1,\"state\":\"pending\"}\n";
static struct MHD_Response *fixed;
static volatile sig_atomic_t stop;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **state)
{
    static int first;
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)data;
    if (!*state) {
        *state = &first;
        return MHD_YES;
    }
    if (*size) {
        *size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(c, 200, fixed);
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    struct MHD_Daemon *d;
    if (argc != 2) {
        fprintf(stderr, "usage: mhdfixed PORT\n");
        return 2;
    }
    fixed = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(fixed, "Content-Type", "application/json");
    d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, (uint16_t)atoi(argv[1]), NULL, NULL,
                         on_request, NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)15, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mhdfixed: cannot listen on %s\n", argv[1]);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("READY\n");
    fflush(stdout);
    while (!stop)
        pause();
    MHD_stop_daemon(d);
    MHD_destroy_response(fixed);
    return 0;
}
