/*
 * classify.h - what became of one SMTP transaction, from libcurl's answer.
 *
 * Internal to the smtp transport plugin (compiled with hidden visibility,
 * never exported).  A pure function so that the unit test can include
 * classify.c directly and check every row of the table.
 */
#ifndef TK_SMTP_CLASSIFY_H
#define TK_SMTP_CLASSIFY_H

#include <curl/curl.h>

/*
 * Map the result of one curl_easy_perform() to an enum tk_delivery.
 *
 * RC is what curl_easy_perform() returned; REPLY_CODE the last SMTP reply
 * code of that transfer (CURLINFO_RESPONSE_CODE, 0 when the server said
 * nothing); BODY_SENT is non-zero once curl has read the whole message
 * through the read callback, i.e. the server may already hold it.
 *
 * First matching row wins: CURLE_OK is DELIVERED; a 4xx reply TEMPORARY and a
 * 5xx reply PERMANENT whatever curl made of it; then per curl code (see the
 * table in classify.c); anything unknown is TEMPORARY.
 */
int tk_smtp_classify(CURLcode rc, long reply_code, int body_sent);

/* "delivered", "temporary", "permanent", "unknown" or "invalid": static. */
const char *tk_smtp_delivery_name(int status);

#endif
