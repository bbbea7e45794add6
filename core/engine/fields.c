/* fields.c - checking item fields against the kinds their plugin declares.
 * The plugin states what a field is; core checks the value's form so that
 * every type gets the same, well-tested validation. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static int valid_amount(const char *v)
{
    /* 123, 123.4, 123.45; positive, no sign, no thousands separators */
    const char *p = v;
    int digits = 0, decimals = -1, nonzero = 0;
    for (; *p; p++) {
        if (*p == '.') {
            if (decimals >= 0 || !digits)
                return 0;
            decimals = 0;
        } else if (isdigit((unsigned char)*p)) {
            if (decimals >= 0 && ++decimals > 2)
                return 0;
            if (decimals < 0 && ++digits > 12)
                return 0;
            nonzero |= *p != '0';
        } else {
            return 0;
        }
    }
    return digits && decimals != 0 && nonzero;
}

static int valid_currency(const char *v)
{
    return strlen(v) == 3 && isupper((unsigned char)v[0]) && isupper((unsigned char)v[1]) &&
           isupper((unsigned char)v[2]);
}

static int valid_date(const char *v)
{
    tk_time t;
    return strlen(v) == 10 && tk_time_parse(v, &t) == 0;
}

static int valid_text(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return tk_utf8_valid(v, strlen(v)) && strlen(v) <= 1000;
}

static const char *kind_hint(int kind)
{
    switch (kind) {
    case TK_FIELD_AMOUNT:
        return "an amount like 450.00";
    case TK_FIELD_CURRENCY:
        return "a currency code like EUR";
    case TK_FIELD_DATE:
        return "a date like 2026-12-31";
    case TK_FIELD_INTEGER:
        return "a whole number";
    case TK_FIELD_URL:
        return "an http:// or https:// URL";
    default:
        return "one line of text";
    }
}

static int valid_value(int kind, const char *v)
{
    int64_t n;
    if (!valid_text(v))
        return 0;
    switch (kind) {
    case TK_FIELD_AMOUNT:
        return valid_amount(v);
    case TK_FIELD_CURRENCY:
        return valid_currency(v);
    case TK_FIELD_DATE:
        return valid_date(v);
    case TK_FIELD_INTEGER:
        return tk_parse_int(v, 0, INT64_MAX, &n) == 0;
    case TK_FIELD_URL:
        return (!strncmp(v, "http://", 7) || !strncmp(v, "https://", 8)) && !strchr(v, ' ');
    default:
        return *v != '\0';
    }
}

/* Fields every type accepts, whatever its plugin declares (issue 14):
 * due_date anchors a schedule (`send --due DATE`) and gives templates
 * {{item.days_to_due}}.  A plugin that declares the field itself (invoice,
 * proposal, organizer) keeps its own spec and flags. */
static const struct tk_field_spec core_fields[] = {
    {"due_date", TK_FIELD_DATE, 0, "the due date (any type): --due, anchors --schedule"},
    {NULL, 0, 0, NULL},
};

static const struct tk_field_spec *find_spec(const struct tk_item_type *t, const char *name)
{
    for (const struct tk_field_spec *f = t->fields; f && f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    for (const struct tk_field_spec *f = core_fields; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

int tk_fields_check(const struct tk_item_type *t, const struct tk_kv *fields, int after_prepare,
                    struct tk_error *err)
{
    for (size_t i = 0; i < fields->n; i++) {
        const struct tk_field_spec *f = find_spec(t, fields->keys[i]);
        if (!f) {
            struct tk_buf names = {0};
            for (const struct tk_field_spec *s = t->fields; s && s->name; s++)
                tk_buf_printf(&names, "%s%s", names.len ? ", " : "", s->name);
            tk_error_set(err, TK_EINVAL, "%s has no field '%s' (fields: %s)", t->hdr.name,
                         fields->keys[i], names.len ? names.data : "none");
            tk_buf_free(&names);
            return TK_EINVAL;
        }
        if (!valid_value(f->kind, fields->vals[i]))
            return tk_error_set(err, TK_EINVAL, "%s field %s: '%s' is not %s", t->hdr.name, f->name,
                                fields->vals[i], kind_hint(f->kind));
    }
    if (after_prepare)
        for (const struct tk_field_spec *f = t->fields; f && f->name; f++)
            if ((f->flags & TK_FIELD_REQUIRED) && !tk_kv_get(fields, f->name))
                return tk_error_set(err, TK_EINVAL, "%s needs field %s (--set %s=%s)", t->hdr.name,
                                    f->name, f->name,
                                    f->kind == TK_FIELD_AMOUNT     ? "450.00"
                                    : f->kind == TK_FIELD_CURRENCY ? "EUR"
                                    : f->kind == TK_FIELD_DATE     ? "2026-12-31"
                                                                   : "VALUE");
    return 0;
}

/* An amount as cents (valid_amount's form: at most 12 digits, 2 decimals,
 * so that a sum of two fits easily). */
static int64_t cents(const char *v)
{
    int64_t n = 0;
    int decimals = -1;
    for (const char *p = v; *p; p++) {
        if (*p == '.') {
            decimals = 0;
            continue;
        }
        n = n * 10 + (*p - '0');
        if (decimals >= 0)
            decimals++;
    }
    for (; decimals < 2; decimals = decimals < 0 ? 1 : decimals + 1)
        n *= 10;
    return n;
}

int tk_fields_merge_event(const struct tk_item_type *t, struct tk_kv *stored,
                          const struct tk_kv *given, struct tk_buf *detail, struct tk_error *err)
{
    int rc = tk_fields_check(t, given, 0, err);
    for (size_t i = 0; rc == 0 && i < given->n; i++) {
        const struct tk_field_spec *f = find_spec(t, given->keys[i]);
        const char *old = tk_kv_get(stored, f->name);
        char sum[48];
        const char *v = given->vals[i];
        if (f->kind == TK_FIELD_AMOUNT && old && valid_value(TK_FIELD_AMOUNT, old)) {
            int64_t c = cents(old) + cents(v);
            if (c >= (int64_t)1000000000000 * 100)
                return tk_error_set(err, TK_EINVAL, "%s field %s: the sum is too large",
                                    t->hdr.name, f->name);
            snprintf(sum, sizeof sum, "%lld.%02lld", (long long)(c / 100), (long long)(c % 100));
            if (tk_buf_printf(detail, "%s%s +%s = %s", detail->len ? ", " : "", f->name, v, sum))
                return tk_error_set(err, TK_ENOMEM, "out of memory");
            v = sum;
        } else if (tk_buf_printf(detail, "%s%s = %s", detail->len ? ", " : "", f->name, v)) {
            return tk_error_set(err, TK_ENOMEM, "out of memory");
        }
        if (tk_kv_set(stored, f->name, v))
            return tk_error_set(err, TK_ENOMEM, "out of memory");
    }
    return rc;
}
