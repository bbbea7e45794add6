/* format.c - dates and amounts as the reader's language writes them, for
 * the host services format_date and format_amount (plugin.h, ABI 1.1).
 *
 * Hand-written rather than through the C library's locales: a server rarely
 * has nl_NL generated, strfmon() goes through a double, and two languages
 * with a handful of currency symbols do not need ICU.  Everything works on
 * the text: "1234.5" comes out as "€1,234.50", exactly as entered. */
#include <stdio.h>
#include <string.h>

#include "template/template.h"

static const char *const months_en[12] = {"January",   "February", "March",    "April",
                                          "May",       "June",     "July",     "August",
                                          "September", "October",  "November", "December"};
static const char *const months_nl[12] = {"januari",   "februari", "maart",    "april",
                                          "mei",       "juni",     "juli",     "augustus",
                                          "september", "oktober",  "november", "december"};

/* Currencies written with a symbol; any other code is written as itself. */
static const struct {
    const char *code, *symbol;
} symbols[] = {{"EUR", "\xe2\x82\xac"}, {"USD", "$"}, {"GBP", "\xc2\xa3"}};

int tk_format_is_dutch(const char *lang)
{
    return lang && strncmp(lang, "nl", 2) == 0 && (lang[2] == '\0' || lang[2] == '-');
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int too_small(char *out, size_t size, struct tk_error *err)
{
    if (size)
        out[0] = '\0';
    return tk_error_set(err, TK_ERR, "formatted text does not fit in %zu bytes", size);
}

int tk_format_date(const char *lang, const char *date, char *out, size_t size, struct tk_error *err)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d, n;
    if (size)
        out[0] = '\0';
    if (!date || strlen(date) != 10 || date[4] != '-' || date[7] != '-' || digits(date, 4, &y) ||
        digits(date + 5, 2, &m) || digits(date + 8, 2, &d) || m < 1 || m > 12 || d < 1 ||
        d > mdays[m - 1] || (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
        return tk_error_set(err, TK_EINVAL, "'%.32s' is not a date like 2026-12-31",
                            date ? date : "(null)");
    n = snprintf(out, size, "%d %s %d", d,
                 tk_format_is_dutch(lang) ? months_nl[m - 1] : months_en[m - 1], y);
    if (n < 0 || (size_t)n >= size)
        return too_small(out, size, err);
    return 0;
}

int tk_format_amount(const char *lang, const char *amount, const char *currency, char *out,
                     size_t size, struct tk_error *err)
{
    const char *sym = NULL, *dot, *whole;
    size_t nwhole, len, i;
    char num[48], cents[3] = {'0', '0', '\0'};
    int dutch = tk_format_is_dutch(lang), n;

    if (size)
        out[0] = '\0';
    /* The shape TK_FIELD_AMOUNT promises: digits, at most two decimals. */
    len = amount ? strlen(amount) : 0;
    dot = amount ? strchr(amount, '.') : NULL;
    nwhole = dot ? (size_t)(dot - amount) : len;
    if (!amount || nwhole == 0 || nwhole > 18 ||
        (dot && (len - nwhole - 1 < 1 || len - nwhole - 1 > 2)) ||
        strspn(amount, "0123456789") != nwhole ||
        (dot && strspn(dot + 1, "0123456789") != len - nwhole - 1))
        return tk_error_set(err, TK_EINVAL, "'%.32s' is not an amount like 1234.50",
                            amount ? amount : "(null)");
    if (!currency || strlen(currency) != 3 || strspn(currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
        return tk_error_set(err, TK_EINVAL, "'%.8s' is not a currency code like EUR",
                            currency ? currency : "(null)");
    for (i = 0; i < sizeof symbols / sizeof symbols[0]; i++)
        if (strcmp(symbols[i].code, currency) == 0)
            sym = symbols[i].symbol;
    if (dot) {
        cents[0] = dot[1];
        if (dot[2])
            cents[1] = dot[2];
    }
    /* Leading zeros go ("007" is 7), then a separator every three digits. */
    whole = amount;
    while (nwhole > 1 && *whole == '0')
        whole++, nwhole--;
    for (i = 0, len = 0; i < nwhole; i++) {
        if (i && (nwhole - i) % 3 == 0)
            num[len++] = dutch ? '.' : ',';
        num[len++] = whole[i];
    }
    num[len] = '\0';
    /* English: "€1,234.50", "CHF 1,234.50"; Dutch: "€ 1.234,50". */
    n = snprintf(out, size, "%s%s%s%c%s", sym ? sym : currency, sym && !dutch ? "" : " ", num,
                 dutch ? ',' : '.', cents);
    if (n < 0 || (size_t)n >= size)
        return too_small(out, size, err);
    return 0;
}
