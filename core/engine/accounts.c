/* accounts.c - accounts and contacts (R1: who is notified): the changes a
 * front end can ask for, each with its audit entry, in the caller's
 * transaction.  The rules on names and addresses live here, so that every
 * front end refuses the same input with the same words. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mail/mail.h"

/* Longest account or contact name, in bytes. */
#define NAME_MAX_BYTES 200

int tk_engine_account_check(const char *name, const char *language, struct tk_error *err)
{
    if (!name || !*name || strlen(name) > NAME_MAX_BYTES || strpbrk(name, "\r\n\t") ||
        !tk_utf8_valid(name, strlen(name)))
        return tk_error_set(err, TK_EINVAL, "an account name is one line of 1 to 200 characters");
    if (name[strspn(name, "0123456789")] == '\0')
        return tk_error_set(err, TK_EINVAL,
                            "an account name cannot be only digits (ids are numbers)");
    if (language && strcmp(language, "en") != 0 && strcmp(language, "nl") != 0)
        return tk_error_set(err, TK_EINVAL, "language: '%s' is not one of en, nl", language);
    return 0;
}

int tk_engine_account_add(struct tk_engine *e, const char *name, const char *language, int64_t *id,
                          struct tk_error *err)
{
    int64_t v = 0;
    int rc;
    if (!language)
        language = "en";
    if ((rc = tk_engine_account_check(name, language, err)) ||
        (rc = tk_store_account_add(e->db, name, language, e->now, &v, err)) ||
        (rc = tk_engine_audit(e, v, 0, 0, "account-added", name, err)))
        return rc;
    if (id)
        *id = v;
    return 0;
}

int tk_engine_contact_check(const char *email, const char *name, struct tk_error *err)
{
    int rc;
    /* only what the mail builder will send (core/mail/address.c) */
    if ((rc = tk_mail_check_address(email ? email : "", err)))
        return rc;
    if (name && (strlen(name) > NAME_MAX_BYTES || !tk_utf8_valid(name, strlen(name)) ||
                 strpbrk(name, "\r\n")))
        return tk_error_set(err, TK_EINVAL, "a contact name is one line of at most 200 characters");
    return 0;
}

/* Domains are case-insensitive: contacts are stored with the domain
 * lower-cased, so that one person is one contact.  Caller frees. */
static char *normal_email(const char *email)
{
    char *s = tk_strdup(email ? email : "");
    for (char *at = s ? strrchr(s, '@') : NULL; at && *at; at++)
        *at = (char)tolower((unsigned char)*at);
    return s;
}

int tk_engine_contact_add(struct tk_engine *e, int64_t account, const char *email, const char *name,
                          int notify, int64_t *id, struct tk_error *err)
{
    char *addr = NULL, detail[600];
    int64_t v = 0;
    int rc;
    if ((rc = tk_engine_contact_check(email, name, err)))
        return rc;
    if (!(addr = normal_email(email)))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    snprintf(detail, sizeof detail, "contact %s added, notify %s", addr, notify ? "on" : "off");
    if ((rc = tk_store_contact_add(e->db, account, addr, name && *name ? name : NULL, notify,
                                   e->now, &v, err)) == 0 &&
        (rc = tk_engine_audit(e, account, 0, 0, "contact-added", detail, err)) == 0 && id)
        *id = v;
    free(addr);
    return rc;
}

int tk_engine_contact_set_notify(struct tk_engine *e, int64_t account, const char *email,
                                 int notify, struct tk_contact *out, struct tk_error *err)
{
    struct tk_contacts cs = {0};
    char *addr = NULL, detail[600];
    int rc;
    if (out)
        memset(out, 0, sizeof *out);
    if (!(addr = normal_email(email)))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    snprintf(detail, sizeof detail, "contact %s: notify %s", addr, notify ? "on" : "off");
    if ((rc = tk_store_contact_notify(e->db, account, addr, notify, err)) ||
        (rc = tk_engine_audit(e, account, 0, 0, "contact-notify", detail, err)) || !out ||
        (rc = tk_store_contact_list(e->db, account, 0, &cs, err)))
        goto done;
    for (size_t i = 0; i < cs.n; i++)
        if (strcmp(cs.v[i].email, addr) == 0) {
            *out = cs.v[i]; /* moved out: the list forgets it */
            cs.v[i] = cs.v[--cs.n];
            break;
        }
    if (!out->email)
        rc = tk_error_set(err, TK_ENOTFOUND, "account %lld has no contact %s", (long long)account,
                          addr);
done:
    tk_contacts_free(&cs);
    free(addr);
    return rc;
}
