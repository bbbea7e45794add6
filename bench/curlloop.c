/*
 * curlloop.c - baseline for the smtp transport (bench only): the same
 * message sent N times through one libcurl easy handle (one SMTP session),
 * the way a libcurl-based transport does it, with nothing else around it.
 *
 *   curlloop smtp://127.0.0.1:PORT FILE N FROM RCPT
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *data;
static size_t len, off;

static size_t on_read(char *buf, size_t size, size_t nmemb, void *u)
{
    (void)u;
    size_t k = size * nmemb;
    if (k > len - off)
        k = len - off;
    memcpy(buf, data + off, k);
    off += k;
    return k;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: curlloop URL FILE N FROM RCPT\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f)
        return perror(argv[2]), 1;
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    rewind(f);
    data = malloc(len + 1);
    if (!data || fread(data, 1, len, f) != len)
        return perror("read"), 1;
    fclose(f);
    long n = strtol(argv[3], NULL, 10);
    CURL *c = curl_easy_init();
    struct curl_slist *rcpt = curl_slist_append(NULL, argv[5]);
    curl_easy_setopt(c, CURLOPT_URL, argv[1]);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, argv[4]);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    for (long i = 0; i < n; i++) {
        off = 0;
        CURLcode rc = curl_easy_perform(c);
        if (rc != CURLE_OK) {
            fprintf(stderr, "curlloop: %s\n", curl_easy_strerror(rc));
            return 1;
        }
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(rcpt);
    free(data);
    return 0;
}
