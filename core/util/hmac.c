/* hmac.c - HMAC-SHA256 through libcrypto opened on demand (see hmac.h). */
#include "util/hmac.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>

/* The two functions used, each through a pointer of its declared type, so
 * the compiler checks every call as if it were linked. */
static struct {
    __typeof__(HMAC) *hmac;
    __typeof__(EVP_sha256) *sha256;
    char why[160];
} lib;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    /* The handle stays open for the life of the process. */
    void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(lib.why, sizeof lib.why, "cannot load libcrypto.so.3: %s", dlerror());
        return;
    }
    *(void **)&lib.hmac = dlsym(h, "HMAC");
    *(void **)&lib.sha256 = dlsym(h, "EVP_sha256");
    if (!lib.hmac || !lib.sha256) {
        lib.hmac = NULL;
        snprintf(lib.why, sizeof lib.why, "libcrypto.so.3 has no HMAC or EVP_sha256");
    }
}

int tk_hmac_sha256_hex(const void *key, size_t klen, const void *msg, size_t len,
                       char hex[TK_HMAC_HEX], struct tk_error *err)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    hex[0] = '\0';
    pthread_once(&once, load);
    if (!lib.hmac)
        return tk_error_set(err, TK_ERR, "webhook signature: %s", lib.why);
    if (klen > 0x7fffffff || !lib.hmac(lib.sha256(), key, (int)klen, msg, len, md, &mdlen) ||
        mdlen != sizeof md)
        return tk_error_set(err, TK_ERR, "webhook signature: HMAC-SHA256 failed");
    for (size_t i = 0; i < sizeof md; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    return 0;
}

int tk_hmac_hex_equal(const char *got, size_t glen, const char want[TK_HMAC_HEX])
{
    /* The length is public (a digest is always 64 digits); the content is
     * compared in full, OR-ing the differences, with no early exit. */
    if (!got || glen != 64)
        return 0;
    unsigned diff = 0;
    for (size_t i = 0; i < 64; i++) {
        unsigned c = (unsigned char)got[i];
        c |= (c >= 'A' && c <= 'F') ? 0x20u : 0u; /* lower-case A-F only */
        diff |= c ^ (unsigned char)want[i];
    }
    return diff == 0;
}
