/* resolve.c - getaddrinfo with a deadline (see resolve.h).
 *
 * The lookup runs in a detached thread; the caller waits on a condition
 * variable until it is done or the deadline passes.  A lookup that is
 * abandoned cannot be cancelled (glibc has no way), so whichever side
 * finishes last frees the job: the thread when the caller gave up, the
 * caller otherwise. */
#include "resolve.h"
#include "curlfn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, abandoned, rc;
    struct addrinfo hints, *ai;
    char *host, *port; /* copies: the caller's strings may go first */
};

static void job_free(struct job *j)
{
    if (j->ai)
        freeaddrinfo(j->ai);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j->host);
    free(j->port);
    free(j);
}

static void *lookup(void *arg)
{
    struct job *j = arg;
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(j->host, j->port, &j->hints, &ai);
    pthread_mutex_lock(&j->mu);
    j->rc = rc;
    j->ai = rc == 0 ? ai : NULL;
    j->done = 1;
    if (j->abandoned) {
        pthread_mutex_unlock(&j->mu);
        job_free(j);
        return NULL;
    }
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

static struct job *job_new(const char *host, const char *port, const struct addrinfo *hints)
{
    struct job *j = calloc(1, sizeof *j);
    pthread_condattr_t ca;
    if (!j)
        return NULL;
    j->hints = *hints;
    j->host = strdup(host);
    j->port = strdup(port);
    if (!j->host || !j->port || pthread_condattr_init(&ca) != 0) {
        free(j->host);
        free(j->port);
        free(j);
        return NULL;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int bad = pthread_cond_init(&j->cv, &ca) != 0;
    pthread_condattr_destroy(&ca);
    if (bad || pthread_mutex_init(&j->mu, NULL) != 0) {
        if (!bad)
            pthread_cond_destroy(&j->cv);
        free(j->host);
        free(j->port);
        free(j);
        return NULL;
    }
    return j;
}

int tk_smtp_resolve(const char *host, const char *port, const struct addrinfo *hints,
                    int64_t deadline_ms, struct addrinfo **out, int *timed_out)
{
    struct addrinfo numeric = *hints;
    pthread_attr_t attr;
    pthread_t tid;
    struct job *j;
    int rc;
    *out = NULL;
    *timed_out = 0;
    numeric.ai_flags |= AI_NUMERICHOST;
    if (getaddrinfo(host, port, &numeric, out) == 0)
        return 0;
    if (!(j = job_new(host, port, hints)))
        return getaddrinfo(host, port, hints, out); /* no memory for a thread: wait */
    if (pthread_attr_init(&attr) != 0) {
        job_free(j);
        return getaddrinfo(host, port, hints, out);
    }
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&tid, &attr, lookup, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        job_free(j);
        return getaddrinfo(host, port, hints, out);
    }
    struct timespec until = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000};
    pthread_mutex_lock(&j->mu);
    while (!j->done)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &until) == ETIMEDOUT && !j->done)
            break;
    if (!j->done) {
        j->abandoned = 1; /* the thread frees the job */
        pthread_mutex_unlock(&j->mu);
        *timed_out = 1;
        return EAI_AGAIN;
    }
    pthread_mutex_unlock(&j->mu);
    rc = j->rc;
    *out = j->ai;
    j->ai = NULL;
    job_free(j);
    return rc;
}

CURLcode tk_smtp_resolve_pin(const char *host, const char *port, int64_t deadline_ms,
                             struct curl_slist **list, char *why, size_t size)
{
    struct addrinfo hints, *ai = NULL;
    unsigned char probe[sizeof(struct in6_addr)];
    char entry[1024];
    int late = 0;
    size_t n;
    if (host[0] == '[' || inet_pton(AF_INET, host, probe) == 1)
        return CURLE_OK;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = tk_smtp_resolve(host, port, &hints, deadline_ms, &ai, &late);
    if (g != 0) {
        if (late) {
            snprintf(why, size, "Resolving host name %s timed out", host);
            return CURLE_OPERATION_TIMEDOUT;
        }
        snprintf(why, size, "Couldn't resolve host name %s: %s", host, gai_strerror(g));
        return CURLE_COULDNT_RESOLVE_HOST;
    }
    n = (size_t)snprintf(entry, sizeof entry, "%s:%s:", host, port);
    for (struct addrinfo *a = ai; a && n < sizeof entry - 64; a = a->ai_next) {
        char addr[INET6_ADDRSTRLEN];
        const void *src = a->ai_family == AF_INET6
                              ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
                              : (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;
        if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
            !inet_ntop(a->ai_family, src, addr, sizeof addr))
            continue;
        n += (size_t)snprintf(entry + n, sizeof entry - n,
                              a->ai_family == AF_INET6 ? "%s[%s]" : "%s%s",
                              entry[n - 1] == ':' ? "" : ",", addr);
    }
    freeaddrinfo(ai);
    if (entry[n - 1] == ':') {
        snprintf(why, size, "Couldn't resolve host name %s: no address", host);
        return CURLE_COULDNT_RESOLVE_HOST;
    }
    struct curl_slist *l = curl_slist_append(*list, entry);
    if (!l) {
        snprintf(why, size, "out of memory");
        return CURLE_OUT_OF_MEMORY;
    }
    *list = l;
    return CURLE_OK;
}
