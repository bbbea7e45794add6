/*
 * hmac.h - HMAC-SHA256 for webhooks (issue 13), from OpenSSL's libcrypto,
 * opened at the first use (dlopen of libcrypto.so.3) rather than linked:
 * every tickler command would otherwise load it, and only the dispatcher
 * (signing outbound events) and the HTTP front end (checking inbound ones)
 * need it.  Thread-safe.
 */
#ifndef TK_UTIL_HMAC_H
#define TK_UTIL_HMAC_H

#include "util/util.h"

#define TK_HMAC_HEX 65 /* 64 lower-case hex digits and a NUL */

/* HEX = lower-case hex HMAC-SHA256 of MSG (LEN bytes) under KEY (KLEN
 * bytes).  TK_ERR with the reason when libcrypto cannot be loaded. */
int tk_hmac_sha256_hex(const void *key, size_t klen, const void *msg, size_t len,
                       char hex[TK_HMAC_HEX], struct tk_error *err);

/* 1 when GOT (GLEN bytes, untrusted) equals the 64-digit hex digest WANT,
 * upper- or lower-case, in time that depends on GLEN only, never on where
 * the first difference lies. */
int tk_hmac_hex_equal(const char *got, size_t glen, const char want[TK_HMAC_HEX]);

#endif
