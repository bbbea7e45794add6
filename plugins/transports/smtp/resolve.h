/*
 * resolve.h - host name lookup with a deadline, for the smtp plugin's own
 * client.
 *
 * getaddrinfo() has no timeout: a resolver that does not answer holds it
 * for the resolv.conf timeout times attempts times name servers (30 s and
 * more), past timeout_seconds and past a SIGTERM's 10 s.  libcurl looks up
 * names in a thread of its own and reports a timeout at its connect
 * timeout, but then joins that thread: curl_easy_perform() still returns
 * only when the lookup does (measured: 30 s per message with a resolver
 * that does not answer).  So both clients look names up here, and the
 * libcurl path hands curl the addresses (CURLOPT_RESOLVE).
 */
#ifndef TK_SMTP_RESOLVE_H
#define TK_SMTP_RESOLVE_H

#include <curl/curl.h>
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>

/* getaddrinfo(HOST, PORT, HINTS) that returns by DEADLINE_MS
 * (CLOCK_MONOTONIC milliseconds).  0 and *OUT (caller frees with
 * freeaddrinfo), or getaddrinfo's EAI_* code, EAI_AGAIN with *TIMED_OUT set
 * when the deadline passed first (the lookup then finishes in the
 * background and frees what it got).  A numeric address needs no thread. */
int tk_smtp_resolve(const char *host, const char *port, const struct addrinfo *hints,
                    int64_t deadline_ms, struct addrinfo **out, int *timed_out);

/* For libcurl: HOST (as in the URL, "[...]" for IPv6) and PORT looked up
 * by DEADLINE_MS, appended to *LIST as a CURLOPT_RESOLVE entry
 * "HOST:PORT:ADDR,ADDR...".  Returns CURLE_OK (nothing appended for a
 * numeric address, which curl does not look up), or
 * CURLE_COULDNT_RESOLVE_HOST / CURLE_OPERATION_TIMEDOUT /
 * CURLE_OUT_OF_MEMORY with WHY (SIZE bytes) saying what happened, in
 * curl's words. */
CURLcode tk_smtp_resolve_pin(const char *host, const char *port, int64_t deadline_ms,
                             struct curl_slist **list, char *why, size_t size);

#endif
