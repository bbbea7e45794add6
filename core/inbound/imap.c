/* imap.c - read a mailbox through libcurl's IMAP, marking each message only
 * once the caller has recorded it.
 *
 * One easy handle per poll: libcurl keeps the connection (and the selected
 * mailbox) between performs, so a poll is one IMAP session.  Commands with
 * short answers (SEARCH, FETCH RFC822.SIZE, STORE, MOVE) go as custom
 * requests, whose untagged lines reach the write callback.  A message
 * itself is fetched through the URL form (";UIDVALIDITY=V/;UID=N"), where
 * libcurl reads the literal by its announced size and checks UIDVALIDITY:
 * a custom "UID FETCH ... BODY.PEEK[]" would have libcurl 7.88 read the
 * message line by line as protocol, and a line in it that looks like the
 * command's tag would end the command early.  The URL form sends BODY[],
 * which sets \Seen: that is why "processed" is the keyword $TicklerDone
 * (or the move to done_folder), never \Seen.
 *
 * What the server says outside the data (UIDVALIDITY, PERMANENTFLAGS,
 * CAPABILITY, a refusal's text) is read from the debug callback's incoming
 * lines; outgoing lines, which hold the password, are never looked at. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"
#include "util/curlfn.h"

#define KEYWORD "$TicklerDone"
#define CMD_MAX ((size_t)8 << 20) /* a command's untagged answer: 1M UIDs */

enum tls_mode { TLS_NONE, TLS_STARTTLS, TLS_IMPLICIT };

struct session {
    const struct tk_inbound_imap_config *cfg;
    const struct tk_curl *cu; /* util/curlfn.h */
    CURL *h;
    char *base;    /* "imap://host:port/" with the scheme the tls mode needs */
    char *mailbox; /* the URL path naming the mailbox, as configured */
    char masked[256];
    enum tls_mode tls;
    long timeout, connect_timeout;
    size_t max_bytes;
    unsigned max_messages;

    struct tk_buf body; /* what the current perform wrote */
    size_t cap;
    int capped;
    char errbuf[CURL_ERROR_SIZE];
    char refusal[200]; /* the server's last tagged NO/BAD line */

    uint32_t uidvalidity;
    int have_uidvalidity, have_permflags, keywords, move, uidplus;
};

/* ---- configuration ---------------------------------------------------- */

char *tk_inbound_url_mask(const char *url, char *out, size_t size)
{
    if (!size)
        return out;
    if (!url) {
        tk_strlcpy(out, "", size);
        return out;
    }
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + alen; p++)
        if (*p == '@')
            at = p; /* the last '@': a password may hold one */
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon) {
        tk_strlcpy(out, url, size);
        return out;
    }
    snprintf(out, size, "%.*s:***%s", (int)(colon - url), url, at);
    return out;
}

static int bad(struct tk_error *err, const char *key, const char *fmt, ...) TK_PRINTF(3, 4);

static int bad(struct tk_error *err, const char *key, const char *fmt, ...)
{
    char msg[TK_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tk_error_set(err, TK_EINVAL, "[inbound] %s: %s", key, msg);
}

/* A folder name to quote in MOVE/COPY/CREATE: printable ASCII without the
 * characters a quoted string or a LIST pattern would interpret. */
static int folder_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200)
        return 0;
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e || strchr("\"\\%*", *s))
            return 0;
    return 1;
}

static int configure(struct session *s, const struct tk_inbound_imap_config *cfg,
                     struct tk_error *err)
{
    const char *url = cfg->url;
    int implicit;
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    tk_inbound_url_mask(url, s->masked, sizeof s->masked);
    if (!url || !*url)
        return bad(err, "url", "required (imap://host/INBOX or imaps://host/INBOX)");
    if (strncasecmp(url, "imaps://", 8) == 0)
        implicit = 1;
    else if (strncasecmp(url, "imap://", 7) == 0)
        implicit = 0;
    else
        return bad(err, "url", "\"%s\" must start with imap:// or imaps://", s->masked);
    const char *auth = url + (implicit ? 8 : 7);
    size_t alen = strcspn(auth, "/?#");
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return bad(err, "url", "\"%s\" contains white space or control characters", s->masked);
    if (alen == 0)
        return bad(err, "url", "\"%s\" names no host", s->masked);
    if (memchr(auth, '@', alen))
        return bad(err, "url", "\"%s\": put the login in username and password, not in the URL",
                   s->masked);
    const char *path = auth + alen;
    if (*path == '/')
        path++;
    if (strpbrk(path, ";?#") || (*path && path[strlen(path) - 1] == '/'))
        return bad(err, "url", "\"%s\": the path must name one mailbox (e.g. /INBOX), nothing else",
                   s->masked);

    if (!cfg->tls)
        s->tls = implicit ? TLS_IMPLICIT : TLS_NONE;
    else if (strcmp(cfg->tls, "none") == 0)
        s->tls = TLS_NONE;
    else if (strcmp(cfg->tls, "starttls") == 0)
        s->tls = TLS_STARTTLS;
    else if (strcmp(cfg->tls, "tls") == 0)
        s->tls = TLS_IMPLICIT;
    else
        return bad(err, "tls", "\"%s\" is not none, starttls or tls", cfg->tls);
    if (implicit && s->tls != TLS_IMPLICIT)
        return bad(err, "tls", "\"%s\" contradicts an imaps:// url (imaps is always tls)",
                   cfg->tls);
    if (!cfg->username || !*cfg->username)
        return bad(err, "username", "required");
    if (!cfg->password)
        return bad(err, "password", "required");
    if (cfg->ca_file && access(cfg->ca_file, R_OK) != 0)
        return bad(err, "ca_file", "%s: %s", cfg->ca_file, strerror(errno));
    if (cfg->done_folder && !folder_ok(cfg->done_folder))
        return bad(err, "done_folder",
                   "\"%s\" must be 1-200 printable ASCII characters without \" \\ %% *",
                   cfg->done_folder);
    if (cfg->done_folder && strcasecmp(cfg->done_folder, *path ? path : "INBOX") == 0)
        return bad(err, "done_folder", "\"%s\" is the mailbox being read", cfg->done_folder);
    if (cfg->timeout < 0 || cfg->timeout > 86400)
        return tk_error_set(err, TK_EINVAL, "[inbound] timeout: %ld is not 1-86400 seconds",
                            cfg->timeout);
    if (cfg->connect_timeout < 0 || cfg->connect_timeout > 3600)
        return tk_error_set(err, TK_EINVAL, "[inbound] connect_timeout: %ld is not 1-3600 seconds",
                            cfg->connect_timeout);
    s->timeout = cfg->timeout ? cfg->timeout : 60;
    s->connect_timeout = cfg->connect_timeout ? cfg->connect_timeout : 10;
    s->max_bytes = cfg->max_bytes ? cfg->max_bytes : TK_INBOUND_MAX_BYTES_DEFAULT;
    s->max_messages = cfg->max_messages ? cfg->max_messages : 100;

    /* tls = tls on an imap:// URL: implicit TLS on that port, which curl
     * does only for the imaps scheme */
    s->base =
        tk_strprintf("%s%.*s/", s->tls == TLS_IMPLICIT ? "imaps://" : "imap://", (int)alen, auth);
    s->mailbox = tk_strdup(*path ? path : "INBOX");
    if (!s->base || !s->mailbox)
        return tk_error_set(err, TK_ENOMEM, "inbound: out of memory");
    return 0;
}

int tk_inbound_imap_check(const struct tk_inbound_imap_config *cfg, struct tk_error *err)
{
    struct session s;
    int rc = configure(&s, cfg, err);
    free(s.base);
    free(s.mailbox);
    return rc;
}

/* ---- talking ---------------------------------------------------------- */

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    struct session *s = userp;
    size_t n = size * nmemb;
    if (s->body.len + n > s->cap) {
        s->capped = 1;
        return 0; /* libcurl stops the transfer: CURLE_WRITE_ERROR */
    }
    return tk_buf_append(&s->body, data, n) ? 0 : n;
}

static int word_in(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(s + i, w, k) == 0 && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '[') &&
            (i + k == n || s[i + k] == ' ' || s[i + k] == ']' || s[i + k] == '\r' ||
             s[i + k] == '\n'))
            return 1;
    return 0;
}

static const char *find_n(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(s + i, w, k) == 0)
            return s + i;
    return NULL;
}

/* Incoming protocol lines (never the outgoing ones: LOGIN carries the
 * password). */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *userp)
{
    struct session *s = userp;
    const char *p;
    if (type != CURLINFO_HEADER_IN)
        return 0;
    if ((p = find_n(data, size, "[UIDVALIDITY "))) {
        char *end;
        unsigned long v = strtoul(p + 13, &end, 10);
        if (end > p + 13 && v > 0 && v <= 0xffffffffUL) {
            s->uidvalidity = (uint32_t)v;
            s->have_uidvalidity = 1;
        }
    }
    if ((p = find_n(data, size, "[PERMANENTFLAGS ("))) {
        const char *close = memchr(p, ')', size - (size_t)(p - data));
        size_t len = close ? (size_t)(close - p) : size - (size_t)(p - data);
        s->have_permflags = 1;
        s->keywords = find_n(p, len, "\\*") != NULL || find_n(p, len, KEYWORD) != NULL;
    }
    if ((p = find_n(data, size, "CAPABILITY "))) {
        size_t len = size - (size_t)(p - data);
        s->move = word_in(p, len, "MOVE");
        s->uidplus = word_in(p, len, "UIDPLUS");
    }
    /* "A005 NO [TRYCREATE] ...": a tagged refusal, kept for the error */
    size_t t = 0;
    while (t < size && t < 8 && isalnum((unsigned char)data[t]))
        t++;
    if (t > 0 && data[0] != '*' && t + 1 < size && data[t] == ' ' &&
        (tk_inb_prefix(data + t + 1, "NO ") || tk_inb_prefix(data + t + 1, "BAD "))) {
        size_t len = size - t - 1;
        while (len && (data[t + 1 + len - 1] == '\n' || data[t + 1 + len - 1] == '\r'))
            len--;
        if (len >= sizeof s->refusal)
            len = sizeof s->refusal - 1;
        for (size_t i = 0; i < len; i++) {
            char c = data[t + 1 + i];
            s->refusal[i] = (unsigned char)c < 0x20 || c == 0x7f ? ' ' : c;
        }
        s->refusal[len] = '\0';
    }
    return 0;
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (s->cu->setopt(s->h, opt, val) != CURLE_OK)                                             \
            return tk_error_set(err, TK_ERR, "inbound: libcurl refused %s", #opt);                 \
    } while (0)

static int open_handle(struct session *s, struct tk_error *err)
{
    const char *why = NULL;
    if (!(s->cu = tk_curl(&why)))
        return tk_error_set(err, TK_ERR, "inbound: %s", why);
    s->h = s->cu->init();
    if (!s->h)
        return tk_error_set(err, TK_ENOMEM, "inbound: libcurl could not create a handle");
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(CURLOPT_PROTOCOLS_STR, "imap,imaps");
#else
    SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_IMAP | CURLPROTO_IMAPS));
#endif
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT, s->connect_timeout);
    SETOPT(CURLOPT_TIMEOUT, s->timeout);
    SETOPT(CURLOPT_SERVER_RESPONSE_TIMEOUT, s->timeout);
    SETOPT(CURLOPT_USE_SSL, s->tls == TLS_NONE ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
    SETOPT(CURLOPT_USERNAME, s->cfg->username);
    SETOPT(CURLOPT_PASSWORD, s->cfg->password);
    if (s->cfg->ca_file)
        SETOPT(CURLOPT_CAINFO, s->cfg->ca_file);
    SETOPT(CURLOPT_WRITEFUNCTION, on_write);
    SETOPT(CURLOPT_WRITEDATA, s);
    SETOPT(CURLOPT_ERRORBUFFER, s->errbuf);
    /* the debug callback is how curl shows the server's lines; it runs in
     * verbose mode only, and then replaces curl's own stderr output */
    SETOPT(CURLOPT_DEBUGFUNCTION, on_debug);
    SETOPT(CURLOPT_DEBUGDATA, s);
    SETOPT(CURLOPT_VERBOSE, 1L);
    return 0;
}

/* Never let the password reach a message, whatever a server echoes. */
static void scrub(struct tk_error *err, const char *password)
{
    size_t n = password ? strlen(password) : 0;
    char *p;
    if (!err || n < 3)
        return;
    while ((p = strstr(err->msg, password)))
        memset(p, '*', n);
}

static int fail(struct session *s, CURLcode rc, const char *what, struct tk_error *err)
{
    int code = TK_ETEMP;
    switch (rc) {
    case CURLE_LOGIN_DENIED:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CERTPROBLEM:
        code = TK_EINVAL; /* the configuration or the account: retrying will not help */
        break;
    default:
        break;
    }
    const char *why = s->errbuf[0] ? s->errbuf : s->cu->strerror(rc);
    if (rc == CURLE_WRITE_ERROR && s->capped)
        why = "answer too long";
    if (s->refusal[0])
        tk_error_set(err, code, "%s: %s: %s (server: %s)", s->masked, what, why, s->refusal);
    else
        tk_error_set(err, code, "%s: %s: %s", s->masked, what, why);
    scrub(err, s->cfg->password);
    return code;
}

/* One command on the mailbox (CUSTOM, or NULL with URL for a fetch); what
 * the server wrote is in s->body, at most CAP bytes. */
static CURLcode perform(struct session *s, const char *url, const char *custom, size_t cap)
{
    tk_buf_reset(&s->body);
    s->cap = cap;
    s->capped = 0;
    s->errbuf[0] = '\0';
    s->refusal[0] = '\0';
    if (s->cu->setopt(s->h, CURLOPT_URL, url) != CURLE_OK ||
        s->cu->setopt(s->h, CURLOPT_CUSTOMREQUEST, custom) != CURLE_OK)
        return CURLE_FAILED_INIT;
    return s->cu->perform(s->h);
}

static CURLcode command(struct session *s, const char *fmt, ...) TK_PRINTF(2, 3);

static CURLcode command(struct session *s, const char *fmt, ...)
{
    char cmd[512], url[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(url, sizeof url, "%s%s", s->base, s->mailbox);
    return perform(s, url, cmd, CMD_MAX);
}

/* The UIDs of every "* SEARCH ..." line of the last answer, ascending, at
 * most MAX (the oldest first: UIDs grow with arrival). */
static int search_uids(struct session *s, uint32_t **out, size_t *n, size_t *total, unsigned max)
{
    const char *p = s->body.data, *end = p ? p + s->body.len : NULL;
    uint32_t *v = NULL;
    size_t k = 0, cap = 0;
    *out = NULL;
    *n = 0;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le - p >= 8 && strncasecmp(p, "* SEARCH", 8) == 0) {
            const char *q = p + 8;
            while (q < le) {
                while (q < le && !isdigit((unsigned char)*q))
                    q++;
                unsigned long u = 0;
                int digits = 0;
                while (q < le && isdigit((unsigned char)*q) && digits < 11) {
                    u = u * 10 + (unsigned long)(*q++ - '0');
                    digits++;
                }
                if (!digits || u == 0 || u > 0xffffffffUL)
                    continue;
                if (k == cap) {
                    size_t nc = cap ? cap * 2 : 64;
                    uint32_t *nv = realloc(v, nc * sizeof *nv);
                    if (!nv) {
                        free(v);
                        return TK_ENOMEM;
                    }
                    v = nv;
                    cap = nc;
                }
                v[k++] = (uint32_t)u;
            }
        }
        p = le + 1;
    }
    /* ascending; servers send them so, but a list is cheap to sort */
    for (size_t i = 1; i < k; i++) {
        uint32_t x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    *out = v;
    *n = k < max ? k : max;
    if (total)
        *total = k;
    return 0;
}

/* RFC822.SIZE of UID from "* N FETCH (UID u RFC822.SIZE s)"; 0 when the
 * answer has no such line (the message is gone). */
static int fetch_size(struct session *s, uint32_t uid, size_t *size)
{
    const char *p = s->body.data, *end = p ? p + s->body.len : NULL;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *f = find_n(p, (size_t)(le - p), " FETCH (");
        const char *u = f ? find_n(f, (size_t)(le - f), "UID ") : NULL;
        const char *z = f ? find_n(f, (size_t)(le - f), "RFC822.SIZE ") : NULL;
        if (u && z && strtoul(u + 4, NULL, 10) == uid) {
            *size = (size_t)strtoull(z + 12, NULL, 10);
            return 1;
        }
        p = le + 1;
    }
    return 0;
}

static int move(struct session *s, uint32_t uid, struct tk_error *err)
{
    const char *f = s->cfg->done_folder;
    CURLcode rc;
    if (s->move) {
        rc = command(s, "UID MOVE %u \"%s\"", uid, f);
        return rc ? fail(s, rc, "moving a message", err) : 0;
    }
    if ((rc = command(s, "UID COPY %u \"%s\"", uid, f)) ||
        (rc = command(s, "UID STORE %u +FLAGS.SILENT (\\Deleted)", uid)))
        return fail(s, rc, "moving a message", err);
    rc = s->uidplus ? command(s, "UID EXPUNGE %u", uid) : command(s, "EXPUNGE");
    return rc ? fail(s, rc, "moving a message", err) : 0;
}

/* A crash between the keyword and the move leaves processed messages in
 * the mailbox: finish their move first. */
static int sweep(struct session *s, struct tk_error *err)
{
    uint32_t *uids;
    size_t n;
    CURLcode c = command(s, "UID SEARCH UNDELETED KEYWORD " KEYWORD);
    if (c)
        return fail(s, c, "searching", err);
    if (search_uids(s, &uids, &n, NULL, s->max_messages))
        return tk_error_set(err, TK_ENOMEM, "inbound: out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = move(s, uids[i], err);
    free(uids);
    return rc;
}

static int one(struct session *s, uint32_t uid, tk_inbound_imap_fn fn, void *ctx,
               struct tk_inbound_imap_stats *st, struct tk_error *first, struct tk_error *err)
{
    char url[1200];
    size_t size = 0;
    CURLcode c = command(s, "UID FETCH %u (RFC822.SIZE)", uid);
    if (c)
        return fail(s, c, "reading a message's size", err);
    if (!fetch_size(s, uid, &size)) {
        st->gone++;
        return 0;
    }
    struct tk_inbound_fetched m = {0};
    m.uid = uid;
    m.uidvalidity = s->uidvalidity;
    m.size = size;
    m.oversize = size > s->max_bytes;
    snprintf(url, sizeof url, "%s%s;UIDVALIDITY=%u/;UID=%u%s", s->base, s->mailbox, s->uidvalidity,
             uid, m.oversize ? ";SECTION=HEADER" : "");
    c = perform(s, url, NULL, m.oversize ? TK_INB_HEADER_MAX : s->max_bytes);
    if (c == CURLE_WRITE_ERROR && s->capped) {
        m.oversize = 1; /* more than the server announced: keep what fits */
    } else if (c == CURLE_REMOTE_FILE_NOT_FOUND && s->uidvalidity == m.uidvalidity) {
        st->gone++; /* expunged since the size was read */
        return 0;
    } else if (c) {
        return fail(s, c, "fetching a message", err);
    }
    m.data = s->body.data ? s->body.data : "";
    m.len = s->body.len;

    struct tk_error e = {0};
    int rc = fn(ctx, &m, &e);
    if (rc) {
        st->failed++;
        if (!first->code)
            tk_error_set(first, rc, "%s: message UID %u: %s", s->masked, uid,
                         e.msg[0] ? e.msg : "not recorded");
        return 0;
    }
    if (s->keywords && (c = command(s, "UID STORE %u +FLAGS.SILENT (\\Seen " KEYWORD ")", uid)))
        return fail(s, c, "marking a message processed", err);
    if (s->cfg->done_folder && (rc = move(s, uid, err)))
        return rc;
    st->processed++;
    return 0;
}

int tk_inbound_imap_poll(const struct tk_inbound_imap_config *cfg, tk_inbound_imap_fn fn, void *ctx,
                         struct tk_inbound_imap_stats *stats, struct tk_error *err)
{
    struct session s;
    struct tk_inbound_imap_stats st = {0};
    struct tk_error first = {0};
    uint32_t *uids = NULL;
    size_t n = 0, total = 0;
    CURLcode c;
    int rc;

    tk_inbound_init();
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (!cfg || !fn)
        return tk_error_set(err, TK_EINVAL, "inbound: no mailbox or no callback");
    if ((rc = configure(&s, cfg, err)) || (rc = open_handle(&s, err)))
        goto out;

    /* log in and select: the SELECT answer brings UIDVALIDITY and the
     * flags the mailbox keeps */
    if ((c = command(&s, "NOOP"))) {
        rc = fail(&s, c, "opening the mailbox", err);
        goto out;
    }
    /* no PERMANENTFLAGS: every flag may be stored (RFC 3501 7.1) */
    if (!s.have_permflags)
        s.keywords = 1;
    if (!s.have_uidvalidity) {
        rc = tk_error_set(err, TK_ETEMP, "%s: the server announced no UIDVALIDITY", s.masked);
        goto out;
    }
    if (s.have_permflags && !s.keywords && !cfg->done_folder) {
        rc = tk_error_set(err, TK_EINVAL,
                          "%s: the mailbox keeps no keywords (" KEYWORD
                          "); set [inbound] done_folder to move processed messages instead",
                          s.masked);
        goto out;
    }
    if (cfg->done_folder) {
        /* the capabilities after login (MOVE, UIDPLUS); the folder may
         * exist already, so CREATE may fail */
        if ((c = command(&s, "CAPABILITY"))) {
            rc = fail(&s, c, "asking for capabilities", err);
            goto out;
        }
        command(&s, "CREATE \"%s\"", cfg->done_folder);
        if (s.keywords && (rc = sweep(&s, err)))
            goto out;
    }
    c = s.keywords ? command(&s, "UID SEARCH UNDELETED NOT KEYWORD " KEYWORD)
                   : command(&s, "UID SEARCH UNDELETED");
    if (c) {
        rc = fail(&s, c, "searching", err);
        goto out;
    }
    if (search_uids(&s, &uids, &n, &total, s.max_messages)) {
        rc = tk_error_set(err, TK_ENOMEM, "inbound: out of memory");
        goto out;
    }
    st.found = (unsigned)total;
    for (size_t i = 0; i < n && !rc; i++)
        rc = one(&s, uids[i], fn, ctx, &st, &first, err);
    if (!rc && first.code) {
        rc = first.code;
        if (err)
            *err = first;
    }
out:
    if (stats)
        *stats = st;
    free(uids);
    if (s.h)
        s.cu->cleanup(s.h); /* LOGOUT on a live connection */
    tk_buf_free(&s.body);
    free(s.base);
    free(s.mailbox);
    scrub(err, cfg ? cfg->password : NULL);
    return rc;
}
