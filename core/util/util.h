/*
 * util.h - small helpers every core module uses: errors, growable buffers,
 * strings, numbers and the clock.  Internal to core (not part of the SDK).
 */
#ifndef TK_UTIL_H
#define TK_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tickler/plugin.h"

#if defined(__GNUC__)
#define TK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TK_PRINTF(a, b)
#endif

/* ---- errors ---------------------------------------------------------- */

/* Fill ERR (may be NULL) with CODE and a printf-formatted one-line message;
 * returns CODE so that `return tk_error_set(err, TK_EINVAL, ...)` reads well.
 * Newlines in the result are replaced by spaces. */
int tk_error_set(struct tk_error *err, int code, const char *fmt, ...) TK_PRINTF(3, 4);
int tk_error_setv(struct tk_error *err, int code, const char *fmt, va_list ap) TK_PRINTF(3, 0);
/* Prefix ERR's message with "PREFIX: " (for adding a file name once). */
void tk_error_prefix(struct tk_error *err, const char *fmt, ...) TK_PRINTF(2, 3);
void tk_error_clear(struct tk_error *err);

/* ---- growable buffer ------------------------------------------------- */

/* A byte buffer that grows up to `max` bytes (0: TK_BUF_DEFAULT_MAX).  Always
 * NUL-terminated after a successful append.  The owner frees with
 * tk_buf_free(); a zeroed struct is an empty buffer. */
#define TK_BUF_DEFAULT_MAX ((size_t)64 << 20)
struct tk_buf {
    char *data;
    size_t len, cap, max;
};
int tk_buf_append(struct tk_buf *b, const void *p, size_t n);
int tk_buf_puts(struct tk_buf *b, const char *s);
int tk_buf_putc(struct tk_buf *b, char c);
int tk_buf_printf(struct tk_buf *b, const char *fmt, ...) TK_PRINTF(2, 3);
/* Make room for N more bytes (plus the NUL) without changing the content,
 * so that a run of appends does not reallocate; 0 or TK_ENOMEM. */
int tk_buf_reserve(struct tk_buf *b, size_t n);
void tk_buf_reset(struct tk_buf *b);
void tk_buf_free(struct tk_buf *b);
/* Hand the data over: caller frees with free(); the buffer is left empty.
 * Returns "" (allocated) for an empty buffer, NULL on out of memory. */
char *tk_buf_steal(struct tk_buf *b);

/* ---- strings --------------------------------------------------------- */

/* strdup that returns NULL for NULL.  Caller frees. */
char *tk_strdup(const char *s);
char *tk_strndup(const char *s, size_t n);
/* printf into a new string; caller frees; NULL on out of memory. */
char *tk_strprintf(const char *fmt, ...) TK_PRINTF(1, 2);
/* Copy at most size-1 bytes and NUL-terminate; returns strlen(src). */
size_t tk_strlcpy(char *dst, const char *src, size_t size);
int tk_streq(const char *a, const char *b); /* NULL-safe equality */
/* Whether KEY equals "%s<SEP>%s<SEP>%s" of A, B, C (NULL as printf's
 * "(null)"), without building it: the calendar and template caches' lookup. */
int tk_str_key3_is(const char *key, char sep, const char *a, const char *b, const char *c);
/* Text built piece by piece into BUF (SIZE bytes) without printf:
 * tk_str_put appends S (NULL as printf's "(null)") at AT, tk_str_put_i64
 * V in decimal; each keeps BUF NUL-terminated, stops at SIZE - 1 bytes as
 * snprintf truncates, and returns the new AT (at most SIZE - 1; 0 when
 * SIZE is 0).  A chain of them writes exactly what one snprintf of the
 * whole format would (the reminder's idempotency key and audit text,
 * once per reminder: issue 17). */
size_t tk_str_put(char *buf, size_t size, size_t at, const char *s);
size_t tk_str_put_i64(char *buf, size_t size, size_t at, int64_t v);
/* Parse a whole decimal integer in [min, max]; 0 on success. */
int tk_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);
/* 1 when S is valid UTF-8. */
int tk_utf8_valid(const char *s, size_t n);
/* 1 when S is a plausible bare address local@domain with no spaces, angle
 * brackets, quotes or control characters. */
int tk_email_valid(const char *s);
/* Copy S (N bytes) to DST with each run of spaces and controls (bytes up to
 * 0x20, and 0x7f) as one space, and none at the start or the end, as a
 * header line wants it.  Returns the length written, at most N; adds no
 * NUL.  DST may be S itself: the copy never overtakes the reading. */
size_t tk_str_squeeze_space(char *dst, const char *s, size_t n);

/* A growable array of owned strings. */
struct tk_strv {
    char **v;
    size_t n, cap;
};
int tk_strv_push(struct tk_strv *sv, const char *s); /* copies S */
void tk_strv_free(struct tk_strv *sv);

/* An ordered list of owned key/value pairs (fields, template variables).
 * Each pair is one allocation that keys[i] owns and vals[i] points into:
 * change a tk_kv only with the functions below. */
struct tk_kv {
    char **keys, **vals;
    size_t n, cap;
};
/* Set KEY to VAL (copies both; replaces an existing key; VAL NULL removes). */
int tk_kv_set(struct tk_kv *kv, const char *key, const char *val);
const char *tk_kv_get(const struct tk_kv *kv, const char *key); /* borrowed */
void tk_kv_free(struct tk_kv *kv);

/* ---- growable arrays (array.c) ----------------------------------------- */

/* Make room for NEED elements of SIZE bytes in the array whose pointer is at
 * PV (a `T **`, passed as void *), capacity *CAP: the capacity doubles from
 * FIRST until it holds NEED.  0, or TK_ENOMEM with the array and *CAP
 * unchanged.  The owner frees the array with free(). */
int tk_array_grow(void *pv, size_t *cap, size_t need, size_t size, size_t first);

/* A growable array of ids; a zeroed struct is empty; the owner frees it
 * with tk_ids_free(). */
struct tk_ids {
    int64_t *v;
    size_t n, cap;
};
int tk_ids_push(struct tk_ids *ids, int64_t id); /* 0 or TK_ENOMEM */
void tk_ids_free(struct tk_ids *ids);

/* ---- time ------------------------------------------------------------ */

/* Seconds since the epoch, UTC. */
typedef int64_t tk_time;
#define TK_DAY 86400

/* Parse ISO 8601 UTC: 2026-12-01T09:00:00Z, 2026-12-01T09:00Z, 2026-12-01
 * (midnight), also with +HH:MM offsets.  0 on success. */
int tk_time_parse(const char *s, tk_time *out);
/* The N decimal digits at S as *OUT; -1 (OUT untouched) if one is not a digit. */
int tk_parse_digits(const char *s, int n, int *out);
/* Format as 2026-12-01T09:00:00Z into BUF (at least 21 bytes). */
char *tk_time_format(tk_time t, char *buf, size_t size);
/* Real time now. */
tk_time tk_time_real(void);
/* Real time now, in milliseconds since the epoch (what is left of a lease,
 * core/engine/dispatch.h: a whole-second clock loses up to a second of it). */
int64_t tk_time_real_ms(void);

/* ---- randomness ------------------------------------------------------ */

/* Fill BUF with N random bytes from getrandom(2) (falls back to /dev/urandom). */
int tk_random_bytes(void *buf, size_t n);

/* ---- UTF-8 (utf8.c) --------------------------------------------------- */

/* The character at S (N > 0 bytes left): its length (1 to 4) when it is a
 * well-formed UTF-8 sequence, its code point in *CP (may be NULL); 0 when
 * S starts an ill-formed sequence, and then *BAD (may be NULL) is the
 * length of its maximal subpart (1 to 3 bytes): what one U+FFFD replaces
 * (Unicode 15, section 3.9, "U+FFFD substitution of maximal subparts"). */
size_t tk_utf8_char(const char *s, size_t n, uint32_t *cp, size_t *bad);
/* S (N bytes) with each ill-formed sequence replaced by U+FFFD, as a new
 * NUL-terminated string of *LEN bytes (LEN may be NULL); the caller frees
 * it.  NULL when out of memory. */
char *tk_utf8_repair(const char *s, size_t n, size_t *len);

/* ---- anchored schedules (schedule_text.c, issue 14) ------------------- */

#define TK_SCHEDULE_MAX 32       /* offsets in an anchored schedule */
#define TK_SCHEDULE_LIMIT 3650   /* an offset is -3650 .. 3650 days */
#define TK_SCHEDULE_TEXT_MAX 256 /* "-7,0,7" for 32 offsets */

/* Parse "-7,0,7" (a comma list of whole days relative to a due date,
 * -LIMIT .. LIMIT, at most MAX of them, no duplicates; spaces around items
 * allowed) into OFFS sorted ascending, *N of them.  0, or TK_EINVAL with a
 * one-line message in ERR (may be NULL). */
int tk_schedule_text_parse(const char *s, int *offs, int max, int limit, int *n,
                           struct tk_error *err);
/* OFFS (N of them) as "-7,0,7" into BUF of SIZE bytes; "" when N is 0. */
char *tk_schedule_text_format(const int *offs, int n, char *buf, size_t size);

#endif /* TK_UTIL_H */
