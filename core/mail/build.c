/* build.c - whole RFC 5322 / MIME messages and Message-IDs. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

#include "mail/mail.h"

#define BODY_LINE_MAX 998 /* RFC 5322 2.1.1 "MUST" */

static int bad(const char *what, struct tk_error *err)
{
    return tk_error_set(err, TK_EINVAL, "mail: invalid %s", what);
}

/* Whether a Message-ID's byte C may stand between its "<" and ">". */
static int msgid_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '<' && c != '>';
}

/* "<left@right>" with printable ASCII and no spaces: the caller's ids go
 * into headers unencoded, so they must not carry anything else.  Every
 * message has one or two (Message-ID, In-Reply-To); with SSE2 their
 * bytes are checked 16 at a time (issue 17: 0.4k instructions an ID byte
 * by byte). */
static int msgid_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0, i = 1;
    if (n < 5 || n > 250 || s[0] != '<' || s[n - 1] != '>' || !memchr(s, '@', n))
        return 0;
#if defined(__SSE2__) && defined(__GNUC__)
    for (; n - 1 - i >= 16; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i bad = _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x21)),
                                   _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f)));
        bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8('<')));
        bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8('>')));
        if (_mm_movemask_epi8(bad))
            return 0;
    }
#endif
    for (; i + 1 < n; i++)
        if (!msgid_char((unsigned char)s[i]))
            return 0;
    return 1;
}

/* A preformatted Date value: printable ASCII and spaces, at most 64 bytes,
 * so that it can never end the header or add one. */
static int date_text_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 10 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

/* "X-" and token characters: extra headers may never name a standard one. */
static int xname_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 64 || (s[0] != 'X' && s[0] != 'x') || s[1] != '-')
        return 0;
    for (size_t i = 2; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

static char *put_digits(char *d, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        d[i] = (char)('0' + v % 10);
    return d + width;
}

/* Fixed English names: strftime would follow the locale.  Formatted by
 * hand: this runs once per message and printf costs more than the rest. */
static int put_date(struct tk_buf *out, tk_time t)
{
    static const char wd[] = "SunMonTueWedThuFriSat";
    static const char mo[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    time_t tt = (time_t)t;
    struct tm tm;
    char line[48], *d = line;
    if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 < 1900 || tm.tm_year + 1900 > 9999) {
        tt = 0;
        gmtime_r(&tt, &tm);
    }
    memcpy(d, "Date: ", 6);
    memcpy(d + 6, wd + 3 * tm.tm_wday, 3);
    memcpy(d + 9, ", ", 2);
    d = put_digits(d + 11, (unsigned)tm.tm_mday, 2);
    *d++ = ' ';
    memcpy(d, mo + 3 * tm.tm_mon, 3);
    d += 3;
    *d++ = ' ';
    d = put_digits(d, (unsigned)(tm.tm_year + 1900), 4);
    *d++ = ' ';
    d = put_digits(d, (unsigned)tm.tm_hour, 2);
    *d++ = ':';
    d = put_digits(d, (unsigned)tm.tm_min, 2);
    *d++ = ':';
    d = put_digits(d, (unsigned)tm.tm_sec, 2);
    memcpy(d, " +0000\r\n", 8);
    return tk_buf_append(out, line, (size_t)(d + 8 - line));
}

static int put_header(struct tk_buf *out, const char *name, const char *value)
{
    size_t n = strlen(name);
    if (tk_buf_append(out, name, n) || tk_buf_append(out, ": ", 2) ||
        tk_mail_encode_header(out, value, n + 2) || tk_buf_append(out, "\r\n", 2))
        return TK_ENOMEM;
    return 0;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* The high bit of each byte of W that is below 0x20 or 0x7f and above:
 * (w - 0x20..) & ~w flags the low ones, (w + 0x01..) | w the high ones.
 * Borrows and carries only run towards later bytes (in memory order on a
 * little-endian machine), so the first flagged byte is always a real one;
 * later flags may be spurious and are never relied on. */
static uint64_t special_bytes(uint64_t w)
{
    return (((w - 0x20 * ONES) & ~w) | (w + ONES) | w) & HIGHS;
}

/* How many bytes at the start of W are plain (0x20-0x7e): 8 when all;
 * elsewhere than little-endian GCC/clang, 0 for "look byte by byte". */
static size_t plain_prefix(uint64_t w)
{
    uint64_t hit = special_bytes(w);
    if (!hit)
        return 8;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(hit) / 8;
#else
    return 0;
#endif
}

/* The scan's state: where the current line starts, how many LFs had no
 * CR before them, and where the first BARE_KEPT of those are, so that the
 * copy (put_7bit) need not look for them again. */
#define BARE_KEPT 64
struct scan7 {
    size_t start, lf;
    size_t at[BARE_KEPT];
};

/* Byte I of S (N bytes), one that is not plain (0x20-0x7e): 1 when a 7bit
 * body may hold it there.  A line's length is checked at its LF (a CR can
 * only stand right before one) and at the end (body_is_7bit). */
static int special_ok(const char *s, size_t n, size_t i, struct scan7 *sc)
{
    unsigned char c = (unsigned char)s[i];
    if (c == '\n') {
        int cr = i > sc->start && s[i - 1] == '\r';
        if (i - sc->start - (size_t)cr > BODY_LINE_MAX)
            return 0;
        if (!cr && sc->lf < BARE_KEPT)
            sc->at[sc->lf] = i;
        sc->lf += !cr;
        sc->start = i + 1;
        return 1;
    }
    if (c == '\r')
        return i + 1 < n && s[i + 1] == '\n';
    return c == '\t';
}

#if defined(__SSE2__) && defined(__GNUC__)
/* The bits of the bytes at P (16) that are plain (0x20-0x7e): 0x60 added
 * (mod 256) takes them to 0x80-0xde, as signed bytes -128 to -34, and
 * every other byte to -33 or above; 33 more (saturating) leaves only the
 * plain ones negative, and the sign bits are the mask. */
static uint64_t plain16(const char *p)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    x = _mm_adds_epi8(_mm_add_epi8(x, _mm_set1_epi8(0x60)), _mm_set1_epi8(33));
    return (uint64_t)(unsigned)_mm_movemask_epi8(x);
}
#endif

/* 7bit is allowed for ASCII whose lines fit and whose CRs all end lines;
 * other controls than TAB also go to quoted-printable, to be safe with
 * transports.  SC gets the LFs without a CR before them (scan7).  With
 * SSE2 (every x86-64) 64 bytes are classified at a time in a few
 * instructions and only the bytes flagged are looked at, line ends among
 * them (a 2 KiB body took 3.3k instructions 8 bytes at a time, issue 17);
 * elsewhere runs of plain bytes are skipped 16 and 8 at a time.  memcpy
 * and unaligned loads keep the reads legal at any alignment. */
static int body_is_7bit(const char *s, size_t n, struct scan7 *sc)
{
    size_t i = 0;
    sc->start = sc->lf = 0;
#if defined(__SSE2__) && defined(__GNUC__)
    while (n - i >= 16) {
        uint64_t m = ~plain16(s + i) & 0xffff;
        size_t step = 16;
        if (n - i >= 64) {
            m = ~(plain16(s + i) | plain16(s + i + 16) << 16 | plain16(s + i + 32) << 32 |
                  plain16(s + i + 48) << 48);
            step = 64;
        }
        for (; m; m &= m - 1)
            if (!special_ok(s, n, i + (size_t)__builtin_ctzll(m), sc))
                return 0;
        i += step;
    }
#endif
    while (i < n) {
        unsigned char c;
        uint64_t w, w2;
        if (n - i >= 16) {
            memcpy(&w, s + i, 8);
            memcpy(&w2, s + i + 8, 8);
            if (!(special_bytes(w) | special_bytes(w2))) {
                i += 16;
                continue;
            }
        }
        if (n - i >= 8) {
            size_t k;
            memcpy(&w, s + i, 8);
            k = plain_prefix(w);
            i += k;
            if (k == 8)
                continue;
        }
        c = (unsigned char)s[i];
        if ((c < 0x20 || c >= 0x7f) && !special_ok(s, n, i, sc))
            return 0;
        i++;
    }
    return n - sc->start <= BODY_LINE_MAX;
}

/* S (N bytes, 7bit as above, SC its scan) with CRLF line ends and a final
 * line end, written into room reserved once for exactly that size.  A CR
 * goes before each LF the scan kept; past them, LFs are looked for. */
static int put_7bit(struct tk_buf *out, const char *s, size_t n, const struct scan7 *sc)
{
    const char *e = s + n, *from = s;
    size_t bare = sc->lf, tail = n && s[n - 1] != '\n' ? 2 : 0;
    char *d;
    if (n > SIZE_MAX / 2 || tk_buf_reserve(out, n + bare + tail))
        return TK_ENOMEM;
    d = out->data + out->len;
    for (size_t k = 0; k < bare && k < BARE_KEPT; k++) {
        size_t len = (size_t)(s + sc->at[k] - from);
        memcpy(d, from, len);
        memcpy(d + len, "\r\n", 2);
        d += len + 2;
        from = s + sc->at[k] + 1;
    }
    s = from;
    if (bare <= BARE_KEPT) {
        memcpy(d, s, (size_t)(e - s));
        d += e - s;
    } else {
        while (s < e) {
            const char *nl = memchr(s, '\n', (size_t)(e - s));
            size_t k = nl ? (size_t)(nl - s) : (size_t)(e - s);
            memcpy(d, s, k);
            d += k;
            s += k;
            if (!nl)
                break;
            if (k == 0 || nl[-1] != '\r')
                *d++ = '\r';
            *d++ = '\n';
            s++;
        }
    }
    if (tail) {
        memcpy(d, "\r\n", 2);
        d += 2;
    }
    out->len = (size_t)(d - out->data);
    out->data[out->len] = '\0';
    return 0;
}

/* Append the string literal L (its length known at compile time). */
#define PUT_LIT(out, l) tk_buf_append((out), (l), sizeof(l) - 1)

/* A text part's Content-* headers, the blank line and the body, ending
 * with CRLF.  Valid UTF-8 (the usual case) is used in place; only a body
 * that needs repair is copied. */
static int put_body(struct tk_buf *out, int html, const char *text)
{
    /* its headers and the blank line that ends them (the message's or the
     * part's), whole: [html][quoted-printable] */
    static const char *const hdr[2][2] = {
        {"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
         "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
         "quoted-printable\r\n\r\n"},
        {"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
         "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: "
         "quoted-printable\r\n\r\n"}};
    struct tk_buf clean = {0};
    struct scan7 sc;
    const char *s = text ? text : "";
    size_t n = strlen(s);
    /* repair leaves ASCII alone and turns bad bytes into U+FFFD, so the
     * body is 7bit exactly when the repaired one would be */
    int rc, seven = body_is_7bit(s, n, &sc);
    if (!seven && tk_mail_utf8_prefix(s, n) != n) {
        if (tk_mail_repair_utf8(&clean, s, n)) {
            tk_buf_free(&clean);
            return TK_ENOMEM;
        }
        s = clean.data;
        n = clean.len;
    }
    rc = tk_buf_puts(out, hdr[html != 0][!seven]);
    if (!rc && seven) {
        rc = put_7bit(out, s, n, &sc);
    } else if (!rc) {
        rc = tk_mail_encode_qp(out, s, n);
        if (!rc && n && s[n - 1] != '\n')
            rc = tk_buf_append(out, "\r\n", 2);
    }
    tk_buf_free(&clean);
    return rc ? TK_ENOMEM : 0;
}

/* Random bytes for Message-IDs and boundaries come from a per-thread pool
 * refilled from the kernel RANDOM_POOL bytes at a time, instead of one
 * getrandom call per message.  Bytes are wiped as they are handed out, so
 * nothing is ever given twice.  A forked child must not hand out the bytes
 * its parent will also use: the fork generation, bumped in every child by
 * a pthread_atfork handler, empties a pool that predates the fork. */
#define RANDOM_POOL 256

static _Atomic unsigned long fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_failed;

static void on_fork_child(void)
{
    fork_gen++;
}

static void atfork_register(void)
{
    atfork_failed = pthread_atfork(NULL, NULL, on_fork_child) != 0;
}

static _Thread_local struct {
    unsigned char b[RANDOM_POOL];
    size_t avail; /* the last AVAIL bytes of b are unused */
    unsigned long gen;
} pool;

static int pool_bytes(unsigned char *dst, size_t n)
{
    size_t at;
    if (n > RANDOM_POOL)
        return tk_random_bytes(dst, n);
    pthread_once(&atfork_once, atfork_register);
    /* without the fork hook a pool could be shared: fetch each time */
    if (atfork_failed)
        return tk_random_bytes(dst, n);
    if (pool.gen != fork_gen) {
        explicit_bzero(pool.b, sizeof pool.b);
        pool.avail = 0;
        pool.gen = fork_gen;
    }
    if (pool.avail < n) {
        if (tk_random_bytes(pool.b, sizeof pool.b))
            return TK_EIO;
        pool.avail = sizeof pool.b;
    }
    at = sizeof pool.b - pool.avail;
    memcpy(dst, pool.b + at, n);
    explicit_bzero(pool.b + at, n);
    pool.avail -= n;
    return 0;
}

static int random_hex(char *buf, size_t nbytes)
{
    static const char hx[] = "0123456789abcdef";
    unsigned char r[32];
    if (nbytes > sizeof r || pool_bytes(r, nbytes))
        return TK_ERR;
    for (size_t i = 0; i < nbytes; i++) {
        buf[2 * i] = hx[r[i] >> 4];
        buf[2 * i + 1] = hx[r[i] & 15];
    }
    buf[2 * nbytes] = '\0';
    explicit_bzero(r, sizeof r);
    return 0;
}

/* 16 random bytes as 26 digits of base 32 ("0"-"9", "a"-"v", RFC 4648's
 * extended hex alphabet in lower case) into BUF (27 bytes): the 128 bits
 * after two zero bits, so the first digit is 0-7.  Six characters fewer
 * than 32 hex digits for the same bits (a Message-ID's length, below). */
static int random_b32(char *buf)
{
    static const char b32[] = "0123456789abcdefghijklmnopqrstuv";
    unsigned char r[16];
    unsigned acc = 0;
    int nb = 2; /* the two zero bits in front */
    size_t o = 0;
    if (pool_bytes(r, sizeof r))
        return TK_ERR;
    for (size_t i = 0; i < sizeof r; i++) {
        acc = (acc << 8) | r[i];
        for (nb += 8; nb >= 5; nb -= 5)
            buf[o++] = b32[(acc >> (nb - 5)) & 31];
    }
    buf[o] = '\0';
    explicit_bzero(r, sizeof r);
    return 0;
}

/* "mail: invalid To address 'x@y': why": the checker's reason, with the
 * header it was meant for. */
static int bad_addr(const char *header, const char *addr, struct tk_error *err)
{
    struct tk_error why;
    int rc = tk_mail_check_address(addr, &why);
    if (!rc)
        return 0;
    if (rc == TK_ENOMEM)
        return tk_error_set(err, rc, "out of memory");
    /* not the address's fault (libidn2 cannot be loaded): the checker's
     * reason, which names the library, and not "invalid" */
    if (rc == TK_EIO)
        return tk_error_set(err, rc, "mail: %s address: %s", header, why.msg);
    /* "invalid email address '...': ..." -> "mail: invalid To address '...': ..." */
    return tk_error_set(err, rc, "mail: invalid %s address%s", header,
                        strncmp(why.msg, "invalid email address", 21) == 0 ? why.msg + 21 : "");
}

/* The last From address this thread found valid: every message of a tick
 * has the same one, and checking it (libidn2's conversion included) was
 * about 0.9k instructions a message (issue 17).  Only a valid address is
 * kept, so any other is checked and refused with its reason as before. */
static _Thread_local char from_ok[256];

static int bad_from(const char *addr, struct tk_error *err)
{
    int rc;
    if (addr && from_ok[0] && strcmp(addr, from_ok) == 0)
        return 0;
    if ((rc = bad_addr("From", addr, err)) == 0 && addr && strlen(addr) < sizeof from_ok)
        memcpy(from_ok, addr, strlen(addr) + 1);
    return rc;
}

static int check(const struct tk_mail *m, struct tk_error *err)
{
    int rc;
    if ((rc = bad_from(m->from_addr, err)) || (rc = bad_addr("To", m->to_addr, err)))
        return rc;
    if (!msgid_valid(m->message_id))
        return bad("Message-ID", err);
    if (m->date_text && !date_text_valid(m->date_text))
        return tk_error_set(err, TK_EINVAL, "mail: bad Date header value");
    if (m->in_reply_to && !msgid_valid(m->in_reply_to))
        return bad("In-Reply-To", err);
    for (const char *const *x = m->extra; x && x[0]; x += 2)
        if (!xname_valid(x[0]) || !x[1])
            return tk_error_set(err, TK_EINVAL, "mail: invalid extra header '%.64s'", x[0]);
    return 0;
}

/* An address header: the domain as A-labels (punycode), since a header
 * with a UTF-8 domain is only allowed in a message that travels with
 * SMTPUTF8, and an ASCII local part needs none.  ASCII addresses, nearly
 * all, are used in place. */
static int put_address(struct tk_buf *out, const char *header, const char *name, const char *addr)
{
    struct tk_buf ascii = {0};
    size_t n = strlen(header);
    int rc = tk_buf_append(out, header, n) || tk_buf_append(out, ": ", 2);
    for (const char *p = addr; !rc && *p; p++)
        if ((unsigned char)*p >= 0x80) {
            if (tk_mail_ascii_address(&ascii, addr, NULL, NULL))
                rc = TK_ENOMEM; /* checked before: only memory can fail */
            addr = ascii.data;
            break;
        }
    if (!rc)
        rc = tk_mail_encode_address(out, name, addr, n + 2) || tk_buf_append(out, "\r\n", 2);
    tk_buf_free(&ascii);
    return rc ? TK_ENOMEM : 0;
}

static int build(const struct tk_mail *m, struct tk_buf *out, struct tk_error *err)
{
    char boundary[64] = "";
    int rc;
    size_t irt = m->in_reply_to ? strlen(m->in_reply_to) : 0;
    if ((m->date_text
             ? PUT_LIT(out, "Date: ") || tk_buf_puts(out, m->date_text) || PUT_LIT(out, "\r\n")
             : put_date(out, m->date)) ||
        put_address(out, "From", m->from_name, m->from_addr) ||
        put_address(out, "To", m->to_name, m->to_addr) || put_header(out, "Subject", m->subject))
        return TK_ENOMEM;
    if (PUT_LIT(out, "Message-ID: ") || tk_buf_puts(out, m->message_id) || PUT_LIT(out, "\r\n"))
        return TK_ENOMEM;
    if (irt && (PUT_LIT(out, "In-Reply-To: ") || tk_buf_append(out, m->in_reply_to, irt) ||
                PUT_LIT(out, "\r\nReferences: ") || tk_buf_append(out, m->in_reply_to, irt) ||
                PUT_LIT(out, "\r\n")))
        return TK_ENOMEM;
    if (m->auto_submitted && PUT_LIT(out, "Auto-Submitted: auto-generated\r\n"))
        return TK_ENOMEM;
    for (const char *const *x = m->extra; x && x[0]; x += 2)
        if (put_header(out, x[0], x[1]))
            return TK_ENOMEM;
    if (PUT_LIT(out, "MIME-Version: 1.0\r\n"))
        return TK_ENOMEM;
    if (!m->html)
        return put_body(out, 0, m->text);

    /* "=_" never occurs in quoted-printable output, and 7bit parts are
     * checked, so the boundary cannot collide with content */
    do {
        memcpy(boundary, "=_tk_", 5);
        if (random_hex(boundary + 5, 16))
            return tk_error_set(err, TK_EIO, "mail: no random bytes for a MIME boundary");
    } while ((m->text && strstr(m->text, boundary)) || strstr(m->html, boundary));
    rc = tk_buf_printf(out,
                       "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n"
                       "This is a multi-part message in MIME format.\r\n\r\n--%s\r\n",
                       boundary, boundary);
    if (!rc)
        rc = put_body(out, 0, m->text);
    if (!rc)
        rc = tk_buf_printf(out, "\r\n--%s\r\n", boundary);
    if (!rc)
        rc = put_body(out, 1, m->html);
    if (!rc)
        rc = tk_buf_printf(out, "\r\n--%s--\r\n", boundary);
    return rc ? TK_ENOMEM : 0;
}

int tk_mail_build(const struct tk_mail *m, struct tk_buf *out, struct tk_error *err)
{
    size_t start = out->len, room, max = out->max ? out->max : TK_BUF_DEFAULT_MAX,
           hint = (m->text ? strlen(m->text) : 0) + (m->html ? strlen(m->html) : 0);
    int rc = check(m, err);
    if (rc)
        return rc;
    /* One allocation for the usual message: its texts, a sixteenth more for
     * CRs added to line ends, and its headers, instead of about nine
     * reallocations doubling from 64 bytes (issue 17).  Only where OUT's
     * ceiling allows it: a message that fits it is built as before; a
     * failure then is the memory's. */
    room = hint < TK_BUF_DEFAULT_MAX ? hint + hint / 16 + 1024 : SIZE_MAX;
    if (start <= max && room <= max - start && tk_buf_reserve(out, room))
        return tk_error_set(err, TK_ENOMEM, "mail: message too large or out of memory");
    rc = build(m, out, err);
    if (rc) {
        /* leave OUT as it was: a half message must never be sent */
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        if (rc == TK_ENOMEM)
            return tk_error_set(err, TK_ENOMEM, "mail: message too large or out of memory");
    }
    return rc;
}

/* An international domain (the From address's) in its A-label form: a
 * Message-ID is ASCII. */
static int idn_message_id(const char *domain, tk_time now, char *buf, size_t size,
                          struct tk_error *err)
{
    struct tk_buf u = {0}, a = {0};
    int rc;
    if (tk_buf_puts(&u, "x@") || tk_buf_puts(&u, domain))
        rc = tk_error_set(err, TK_ENOMEM, "out of memory");
    else if (tk_mail_ascii_address(&a, u.data, NULL, NULL) != 0)
        rc = tk_error_set(err, TK_EINVAL, "mail: invalid Message-ID domain");
    else
        rc = tk_mail_message_id(a.data + 2, now, buf, size, err);
    tk_buf_free(&u);
    tk_buf_free(&a);
    return rc;
}

/* A Message-ID's two leading parts, the second of NOW and a count, make
 * each new ID sort after the IDs made before it (the outbox_msgid index of
 * the store): a tick's messages go into the index's right edge, sharing its
 * leaves, instead of each into a random leaf of an index that grows by a
 * tick's messages (about 0.8 log frames and 0.2 page reads a message at 1M
 * items / 100k due; issue 17, bench/RESULTS.md update 59).  The count is
 * per thread and starts again at each new second of NOW; it orders IDs,
 * the 128 random bits make them unique.  The bits are in base 32, so the ID
 * is as long as the older "<" 32 hex "." time "@" domain ">": a message's
 * length decides how many of them share a page of the store. */
#define MSGID_SEQ_DIGITS 5 /* base 36: 60M IDs a thread a second before it wraps */

static _Thread_local struct {
    tk_time now;
    uint64_t n;
} msgid_seq;

int tk_mail_message_id(const char *domain, tk_time now, char *buf, size_t size,
                       struct tk_error *err)
{
    static const char b36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    char rnd[32], t36[16], seq[MSGID_SEQ_DIGITS];
    size_t n = domain ? strlen(domain) : 0, tl = 0, w;
    uint64_t t = now > 0 ? (uint64_t)now : 0, q;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)domain[i] >= 0x80)
            return idn_message_id(domain, now, buf, size, err);
    if (n == 0 || n > 200 || domain[0] == '.' || domain[0] == '-')
        return tk_error_set(err, TK_EINVAL, "mail: invalid Message-ID domain");
    for (size_t i = 0; i < n; i++)
        if (!((domain[i] >= 'a' && domain[i] <= 'z') || (domain[i] >= 'A' && domain[i] <= 'Z') ||
              (domain[i] >= '0' && domain[i] <= '9') || domain[i] == '.' || domain[i] == '-'))
            return tk_error_set(err, TK_EINVAL, "mail: invalid Message-ID domain '%.200s'", domain);
    if (random_b32(rnd))
        return tk_error_set(err, TK_EIO, "mail: no random bytes for a Message-ID");
    do {
        t36[tl++] = b36[t % 36];
        t /= 36;
    } while (t);
    for (size_t i = 0; i < tl / 2; i++) {
        char c = t36[i];
        t36[i] = t36[tl - 1 - i];
        t36[tl - 1 - i] = c;
    }
    if (msgid_seq.now != now) {
        msgid_seq.now = now;
        msgid_seq.n = 0;
    }
    q = msgid_seq.n++;
    for (int i = MSGID_SEQ_DIGITS - 1; i >= 0; i--, q /= 36)
        seq[i] = b36[q % 36];
    /* "<" time "." count "." 26 base-32 digits "@" domain ">" */
    w = 1 + tl + 1 + MSGID_SEQ_DIGITS + 1 + 26 + 1 + n + 1;
    if (w >= size) {
        /* the same truncated text snprintf always gave here */
        snprintf(buf, size, "<%.*s.%.*s.%s@%s>", (int)tl, t36, MSGID_SEQ_DIGITS, seq, rnd, domain);
        explicit_bzero(rnd, sizeof rnd);
        return tk_error_set(err, TK_EINVAL, "mail: Message-ID buffer too small");
    }
    char *p = buf;
    *p++ = '<';
    memcpy(p, t36, tl);
    p += tl;
    *p++ = '.';
    memcpy(p, seq, MSGID_SEQ_DIGITS);
    p += MSGID_SEQ_DIGITS;
    *p++ = '.';
    memcpy(p, rnd, 26);
    p += 26;
    *p++ = '@';
    memcpy(p, domain, n);
    memcpy(p + n, ">", 2);
    explicit_bzero(rnd, sizeof rnd);
    return 0;
}
