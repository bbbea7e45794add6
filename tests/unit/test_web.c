/*
 * test_web.c - the staff console's parts that need no HTTP (core/web):
 * escaping by context against XSS payloads and broken UTF-8, form parsing,
 * CSRF tokens bound to the session, the login rate limiter, the word
 * table, staff users and sessions in the engine, and every page rendered
 * from a real engine over hostile data.
 */
/* the fixture first (it sets _GNU_SOURCE); its fault operations are not
 * used here */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tk_engine_fixture.h"

#include <string.h>

#include "engine/internal.h" /* tk_engine_suppress: a bounce without the mail */
#include "mail/mail.h"
#include "web/layout.h"
#include "web/web.h"

static const char *esc(int (*fn)(struct tk_buf *, const char *), const char *s)
{
    static struct tk_buf b;
    tk_buf_reset(&b);
    TK_CHECK_INT(fn(&b, s), 0);
    tk_buf_append(&b, "", 0);
    return b.data ? b.data : "";
}

TK_TEST(html_escapes_every_payload)
{
    TK_CHECK_STR(esc(tk_web_html, "<script>alert(1)</script>"),
                 "&lt;script&gt;alert(1)&lt;/script&gt;");
    TK_CHECK_STR(esc(tk_web_attr, "\"><img src=x onerror=alert(1)>"),
                 "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
    TK_CHECK_STR(esc(tk_web_html, "a'b&c"), "a&#39;b&amp;c");
    /* ill-formed UTF-8 and controls become U+FFFD; tab and newline stay */
    TK_CHECK_STR(esc(tk_web_html, "x\xff\xc3y\x01\t\n\xc2\x9b"),
                 "x\xef\xbf\xbd\xef\xbf\xbdy\xef\xbf\xbd\t\n\xef\xbf\xbd");
    TK_CHECK_STR(esc(tk_web_html, "caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");
    TK_CHECK_STR(esc(tk_web_html, NULL), "");
}

TK_TEST(url_component_and_link_targets)
{
    TK_CHECK_STR(esc(tk_web_url, "a b&c=d/\xc3\xa9~._-"), "a%20b%26c%3Dd%2F%C3%A9~._-");
    TK_CHECK_STR(esc(tk_web_url, "javascript:alert(1)"), "javascript%3Aalert%281%29");
    TK_CHECK(tk_web_url_safe("/items/1"));
    TK_CHECK(tk_web_url_safe("https://portal.example/x"));
    TK_CHECK(!tk_web_url_safe("javascript:alert(1)"));
    TK_CHECK(!tk_web_url_safe("JaVaScRiPt:alert(1)"));
    TK_CHECK(!tk_web_url_safe(" javascript:alert(1)"));
    TK_CHECK(!tk_web_url_safe("java\tscript:alert(1)"));
    TK_CHECK(!tk_web_url_safe("//evil.example/"));
    TK_CHECK(!tk_web_url_safe("/\\evil.example"));
    TK_CHECK(!tk_web_url_safe("data:text/html,<b>"));
    TK_CHECK(!tk_web_url_safe(""));
}

TK_TEST(form_parse)
{
    struct tk_kv kv = {0};
    struct tk_error err = {0};
    const char *body = "a=1&b=x+y%21&&c&a=2&e=";
    TK_CHECK_INT(tk_web_form_parse(body, strlen(body), &kv, &err), 0);
    TK_CHECK_STR(tk_kv_get(&kv, "a"), "2");
    TK_CHECK_STR(tk_kv_get(&kv, "b"), "x y!");
    TK_CHECK_STR(tk_kv_get(&kv, "c"), "");
    TK_CHECK_STR(tk_kv_get(&kv, "e"), "");
    tk_kv_free(&kv);
    /* a textarea's CR LF line breaks become LF; a lone CR stays */
    TK_CHECK_INT(tk_web_form_parse("m=a%0D%0Ab%0Dc%0A", 17, &kv, &err), 0);
    TK_CHECK_STR(tk_kv_get(&kv, "m"), "a\nb\rc\n");
    tk_kv_free(&kv);
    TK_CHECK_INT(tk_web_form_parse("a=%4", 4, &kv, &err), TK_EINVAL);
    tk_kv_free(&kv);
    TK_CHECK_INT(tk_web_form_parse("a=%zz", 5, &kv, &err), TK_EINVAL);
    tk_kv_free(&kv);
    TK_CHECK_INT(tk_web_form_parse("a=%00", 5, &kv, &err), TK_EINVAL);
    tk_kv_free(&kv);
    struct tk_buf many = {0};
    for (int i = 0; i < 65; i++)
        tk_buf_printf(&many, "f%d=1&", i);
    TK_CHECK_INT(tk_web_form_parse(many.data, many.len, &kv, &err), TK_EINVAL);
    tk_kv_free(&kv);
    tk_buf_free(&many);
}

TK_TEST(csrf_bound_to_session)
{
    const char *s1 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const char *s2 = "f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char t1[TK_WEB_CSRF_LEN + 1], t2[TK_WEB_CSRF_LEN + 1];
    tk_web_csrf(s1, t1);
    tk_web_csrf(s2, t2);
    TK_CHECK_INT((int)strlen(t1), TK_WEB_CSRF_LEN);
    TK_CHECK(strcmp(t1, t2) != 0);
    TK_CHECK(strstr(t1, s1) == NULL);
    TK_CHECK(tk_web_csrf_ok(s1, t1));
    TK_CHECK(!tk_web_csrf_ok(s1, t2));
    TK_CHECK(!tk_web_csrf_ok(s2, t1));
    TK_CHECK(!tk_web_csrf_ok(s1, ""));
    TK_CHECK(!tk_web_csrf_ok(s1, NULL));
    TK_CHECK(!tk_web_csrf_ok(NULL, t1));
    TK_CHECK(!tk_web_csrf_ok("", t1));
    t1[5] ^= 1;
    TK_CHECK(!tk_web_csrf_ok(s1, t1));
}

TK_TEST(limiter_per_address_and_user)
{
    struct tk_web_limiter *l = tk_web_limiter_new();
    TK_CHECK(l != NULL);
    for (int i = 0; i < TK_WEB_LOGIN_FAILURES - 1; i++)
        tk_web_limiter_fail(l, "10.0.0.1", "ann", T0);
    TK_CHECK_INT((int)tk_web_limiter_wait(l, "10.0.0.1", "ann", T0), 0);
    tk_web_limiter_fail(l, "10.0.0.1", "ann", T0 + 10);
    /* the window started with the first failure */
    TK_CHECK_INT((int)tk_web_limiter_wait(l, "10.0.0.1", NULL, T0 + 10), TK_WEB_LOGIN_WINDOW - 10);
    /* the user is locked from another address too, the address for another user */
    TK_CHECK(tk_web_limiter_wait(l, "10.0.0.2", "ann", T0 + 10) > 0);
    TK_CHECK(tk_web_limiter_wait(l, "10.0.0.1", "bob", T0 + 10) > 0);
    TK_CHECK_INT((int)tk_web_limiter_wait(l, "10.0.0.2", "bob", T0 + 10), 0);
    /* after the window, both may try again */
    TK_CHECK_INT((int)tk_web_limiter_wait(l, "10.0.0.1", "ann", T0 + TK_WEB_LOGIN_WINDOW), 0);
    /* a success forgets the user's failures, not the address's */
    for (int i = 0; i < TK_WEB_LOGIN_FAILURES; i++)
        tk_web_limiter_fail(l, "10.0.0.3", "cy", T0);
    tk_web_limiter_success(l, "cy");
    TK_CHECK_INT((int)tk_web_limiter_wait(l, "10.0.0.4", "cy", T0 + 1), 0);
    TK_CHECK(tk_web_limiter_wait(l, "10.0.0.3", NULL, T0 + 1) > 0);
    /* a flood of names stays in the fixed table and locks out nobody else */
    char name[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "u%d", i);
        tk_web_limiter_fail(l, NULL, name, T0 + 2);
    }
    TK_CHECK_INT((int)tk_web_limiter_wait(l, "10.0.0.9", "dana", T0 + 3), 0);
    tk_web_limiter_free(l);
}

TK_TEST(words_sorted_and_translated)
{
    const char *prev = NULL, *key = NULL;
    size_t n = tk_web_words(&key, 0);
    TK_CHECK(n > 20);
    for (size_t i = 0; i < n; i++) {
        tk_web_words(&key, i);
        if (prev)
            TK_CHECK(strcmp(prev, key) < 0);
        if (*key) {
            TK_CHECK(*tk_web_t("en", key));
            TK_CHECK(*tk_web_t("nl", key));
        }
        prev = key;
    }
    TK_CHECK_STR(tk_web_t("nl", "logout"), "Uitloggen");
    TK_CHECK_STR(tk_web_t("xx", "logout"), "Log out");
    TK_CHECK_STR(tk_web_t("en", "no.such.key"), "no.such.key");
}

TK_TEST(users_and_sessions)
{
    struct tk_error err = {0};
    struct tk_user u = {0};
    char token[TK_SESSION_TOKEN_LEN + 1], other[TK_SESSION_TOKEN_LEN + 1];
    int64_t id = 0;
    TK_CHECK_INT(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_engine_user_add(eng, "ann", "nl", "correct horse", &id, &err), 0);
    TK_CHECK_INT(tk_engine_user_add(eng, "ann", "nl", "correct horse", &id, &err), TK_ECONFLICT);
    TK_CHECK_INT(tk_engine_user_add(eng, "bob", NULL, "short", &id, &err), TK_EINVAL);
    TK_CHECK_INT(tk_engine_user_add(eng, "-x", NULL, "long enough", &id, &err), TK_EINVAL);
    TK_CHECK_INT(tk_engine_user_add(eng, "a b", NULL, "long enough", &id, &err), TK_EINVAL);
    TK_CHECK_INT(tk_engine_commit(eng, &err), 0);
    /* the store holds an Argon2id string, not the password */
    TK_CHECK(count("SELECT COUNT(*) FROM users WHERE name = 'ann' AND pw_hash LIKE "
                   "'$argon2id$%' AND pw_hash NOT LIKE '%correct horse%'") == 1);

    TK_CHECK_INT(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_engine_login(eng, "ann", "wrong horse", token, &u, &err), TK_EINVAL);
    TK_CHECK_STR(err.msg, "wrong user name or password");
    TK_CHECK_INT(tk_engine_login(eng, "nobody", "correct horse", token, &u, &err), TK_EINVAL);
    TK_CHECK_STR(err.msg, "wrong user name or password");
    TK_CHECK_INT(tk_engine_login(eng, "ann", "correct horse", token, &u, &err), 0);
    TK_CHECK_STR(u.name, "ann");
    TK_CHECK_STR(u.language, "nl");
    tk_user_free(&u);
    TK_CHECK_INT(tk_engine_login(eng, "ann", "correct horse", other, &u, &err), 0);
    tk_user_free(&u);
    TK_CHECK_INT(tk_engine_commit(eng, &err), 0);
    TK_CHECK_INT((int)strlen(token), TK_SESSION_TOKEN_LEN);
    TK_CHECK(strcmp(token, other) != 0);
    /* the store keeps the token's hash only */
    {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM sessions WHERE token_hash = '%s'", token);
        TK_CHECK(count(sql) == 0);
    }
    TK_CHECK(count("SELECT COUNT(*) FROM audit WHERE actor = 'staff:ann' AND action = 'login'") ==
             2);

    TK_CHECK_INT(tk_engine_session_user(eng, token, &u, &err), 0);
    TK_CHECK_STR(u.name, "ann");
    tk_user_free(&u);
    TK_CHECK_INT(tk_engine_session_user(eng, "not a token", &u, &err), TK_ENOTFOUND);
    /* expiry: [http] session_hours, 12 by default */
    tk_engine_set_now(eng, T0 + 12 * 3600 + 1);
    TK_CHECK_INT(tk_engine_session_user(eng, token, &u, &err), TK_ENOTFOUND);
    tk_engine_set_now(eng, T0);

    /* logout ends that session only */
    TK_CHECK_INT(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_engine_logout(eng, token, &err), 0);
    TK_CHECK_INT(tk_engine_commit(eng, &err), 0);
    TK_CHECK_INT(tk_engine_session_user(eng, token, &u, &err), TK_ENOTFOUND);
    TK_CHECK_INT(tk_engine_session_user(eng, other, &u, &err), 0);
    tk_user_free(&u);
    /* a new password ends every session */
    TK_CHECK_INT(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_engine_user_set_password(eng, "ann", "battery staple", &err), 0);
    TK_CHECK_INT(tk_engine_commit(eng, &err), 0);
    TK_CHECK_INT(tk_engine_session_user(eng, other, &u, &err), TK_ENOTFOUND);
}

static int contains(const struct tk_buf *b, const char *s)
{
    return b->data && strstr(b->data, s) != NULL;
}

/* No raw payload anywhere: a '<' from data would start with one of these. */
static void check_no_payload(const struct tk_buf *b)
{
    TK_CHECK(!contains(b, "<script>alert"));
    TK_CHECK(!contains(b, "<img src=x"));
    TK_CHECK(!contains(b, "\"><img"));
    TK_CHECK(!contains(b, "href=\"javascript:"));
}

TK_TEST(pages_escape_hostile_data)
{
    struct tk_error err = {0};
    struct tk_user u = {.id = 1, .name = "ann", .language = "en"};
    struct tk_buf out = {0};
    struct tk_web_ctx c = {eng, &u, "en", "csrftoken", NULL, NULL, &out};
    struct tk_send_req rq = {.type = "approval", .reminders = 1, .every_days = 2, .count = 3};
    const char *bad = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>javascript:x";
    int64_t acc = 0, item = 0;
    TK_CHECK_INT(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err), 0);
    TK_CHECK_INT(tk_engine_account_add(eng, bad, "en", &acc, &err), 0);
    TK_CHECK_INT(tk_engine_contact_add(eng, acc, "x@evil.example", bad, 1, NULL, &err), 0);
    rq.account_id = acc;
    rq.title = bad;
    TK_CHECK_INT(tk_engine_send(eng, &rq, &item, &err), 0);
    /* a suppression whose reason is a bounce's text (the client's server's) */
    TK_CHECK_INT(tk_engine_contact_add(eng, acc, "gone@evil.example", "Gone", 1, NULL, &err), 0);
    TK_CHECK_INT(tk_engine_suppress(eng, "gone@evil.example", bad, "bounce", 0, acc, 0, NULL, &err),
                 0);
    {
        struct tk_account_settings st = {.timezone = "Europe/Amsterdam",
                                         .window = NULL,
                                         .holidays = "nl",
                                         .manager = "boss@firm.example",
                                         .digest = 1};
        TK_CHECK_INT(tk_engine_account_set(eng, acc, &st, &err), 0);
    }
    TK_CHECK_INT(tk_engine_commit(eng, &err), 0);

    TK_CHECK_INT(tk_web_page_dashboard(&c, &err), 0);
    TK_CHECK(contains(&out, "<svg"));
    TK_CHECK(contains(&out, "data-action=\"logout\""));
    TK_CHECK(contains(&out, "name=\"csrf\" value=\"csrftoken\""));
    check_no_payload(&out);
    tk_buf_reset(&out);
    TK_CHECK_INT(tk_web_page_accounts(&c, "<script>", 0, &err), 0);
    TK_CHECK(contains(&out, "value=\"&lt;script&gt;\""));
    TK_CHECK(contains(&out, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    check_no_payload(&out);
    tk_buf_reset(&out);
    TK_CHECK_INT(tk_web_page_account(&c, acc, &err), 0);
    TK_CHECK(contains(&out, "data-item-id="));
    /* the calendar settings, own or the default, and who is suppressed */
    TK_CHECK(contains(&out, "data-setting=\"cal.timezone\""));
    TK_CHECK(contains(&out, "Europe/Amsterdam"));
    TK_CHECK(contains(&out, "boss@firm.example"));
    TK_CHECK(contains(&out, "Daily digest</th><td>on</td>"));
    TK_CHECK(contains(&out, "Send window</th><td>always <span class=\"meta\">(default)"));
    TK_CHECK(contains(&out, "data-suppressed=\"yes\">&lt;script&gt;alert(1)"));
    TK_CHECK(contains(&out, "data-suppressed=\"no\">-"));
    TK_CHECK(contains(&out, "since"));
    check_no_payload(&out);
    tk_buf_reset(&out);
    c.lang = "nl";
    TK_CHECK_INT(tk_web_page_account(&c, acc, &err), 0);
    TK_CHECK(contains(&out, "Tijdzone"));
    TK_CHECK(contains(&out, "Geblokkeerd"));
    TK_CHECK(contains(&out, "Verzendvenster</th><td>always <span class=\"meta\">(standaard)"));
    c.lang = "en";
    check_no_payload(&out);
    tk_buf_reset(&out);
    TK_CHECK_INT(tk_web_page_item(&c, item, &err), 0);
    TK_CHECK(contains(&out, "data-action=\"resend\""));
    TK_CHECK(contains(&out, "data-action=\"reminders-on\""));
    TK_CHECK(contains(&out, "data-action=\"reminders-off\""));
    TK_CHECK(contains(&out, "data-action=\"save-reminders\""));
    TK_CHECK(contains(&out, "data-action=\"event\""));
    TK_CHECK(contains(&out, "name=\"every_days\""));
    TK_CHECK(contains(&out, "name=\"count\""));
    check_no_payload(&out);
    tk_buf_reset(&out);
    TK_CHECK_INT(tk_web_page_upcoming(&c, &err), 0);
    TK_CHECK(contains(&out, "data-item-id="));
    check_no_payload(&out);
    tk_buf_reset(&out);
    TK_CHECK_INT(tk_web_page_outbox(&c, &err), 0);
    check_no_payload(&out);
    tk_buf_reset(&out);
    c.user = NULL;
    TK_CHECK_INT(tk_web_page_login(&c, bad, &err), 0);
    TK_CHECK(contains(&out, "name=\"username\""));
    TK_CHECK(contains(&out, "name=\"password\""));
    check_no_payload(&out);
    tk_buf_reset(&out);
    c.lang = "nl";
    TK_CHECK_INT(tk_web_page_login(&c, NULL, &err), 0);
    TK_CHECK(contains(&out, "Wachtwoord"));
    TK_CHECK(contains(&out, "lang=\"nl\""));
    TK_CHECK_INT(tk_web_page_item(&c, 999999, &err), TK_ENOTFOUND);
    tk_buf_free(&out);
}

TK_TEST(upcoming_expands_each_items_reminders)
{
    struct tk_error err = {0};
    struct tk_buf out = {0};
    struct tk_user u = {.id = 1, .name = "ann", .language = "en"};
    struct tk_web_ctx c = {eng, &u, "en", "t", NULL, NULL, &out};
    TK_CHECK_INT(tk_web_page_upcoming(&c, &err), 0);
    /* the hostile item above: every 2 days, 3 reminders, all within 14 days */
    TK_CHECK(contains(&out, "reminder 1/3"));
    TK_CHECK(contains(&out, "reminder 2/3"));
    TK_CHECK(contains(&out, "reminder 3/3"));
    tk_buf_free(&out);
}

TK_TEST(actions_call_the_engine)
{
    struct tk_error err = {0};
    struct tk_web_action_result res;
    struct tk_kv form = {0};
    struct tk_item it = {0};
    int64_t id = 1;
    TK_CHECK_INT(tk_engine_begin(eng, TK_TX_IMMEDIATE, &err), 0);
    tk_kv_set(&form, "op", "off");
    TK_CHECK_INT(tk_web_action(eng, "en", "/items/1/reminders", &form, &res, &err), 0);
    TK_CHECK_STR(res.redirect, "/items/1");
    tk_kv_set(&form, "op", "on");
    tk_kv_set(&form, "every_days", "5");
    tk_kv_set(&form, "count", "4");
    TK_CHECK_INT(tk_web_action(eng, "en", "/items/1/reminders", &form, &res, &err), 0);
    tk_kv_set(&form, "every_days", "0");
    TK_CHECK_INT(tk_web_action(eng, "en", "/items/1/reminders", &form, &res, &err), TK_EINVAL);
    TK_CHECK_INT(tk_web_action(eng, "en", "/items/1/resend", &form, &res, &err), 0);
    TK_CHECK(res.dispatch);
    TK_CHECK_INT(tk_web_action(eng, "en", "/items/1x/resend", &form, &res, &err), TK_ENOTFOUND);
    TK_CHECK_INT(tk_web_action(eng, "en", "/items/1/nothing", &form, &res, &err), TK_ENOTFOUND);
    TK_CHECK_INT(tk_web_action(eng, "en", "/outbox/1/retry", &form, &res, &err), TK_ECONFLICT);
    TK_CHECK_INT(tk_engine_commit(eng, &err), 0);
    TK_CHECK_INT(tk_engine_item_get(eng, id, &it, &err), 0);
    TK_CHECK_INT(it.rem.enabled, 1);
    TK_CHECK_INT(it.rem.every_days, 5);
    TK_CHECK_INT(it.rem.count, 4);
    tk_item_free(&it);
    tk_kv_free(&form);
}

/* the console shows an email's text as the client reads it: the text
 * part of a multipart message, quoted-printable and charset undone, and
 * escaped for HTML */
TK_TEST(mail_body_is_the_decoded_text_part)
{
    struct tk_buf msg = {0}, out = {0};
    struct tk_error err = {0};
    struct tk_mail m = {0};
    m.from_addr = "office@firm.example";
    m.to_addr = "ann@client.example";
    m.subject = "Herinnering";
    m.text = "Beste Ann,\n\nDe factuur van \xe2\x82\xac 450,00 staat nog open: "
             "<script>alert(1)</script> \xc3\xa9\xc3\xa9n regel die lang genoeg is om "
             "door quoted-printable te worden afgebroken, zeker weten.\n";
    m.html = "<p>html</p>";
    m.message_id = "<t.1@firm.example>";
    m.date = 1796000000;
    TK_CHECK_INT(tk_mail_build(&m, &msg, &err), 0);
    tk_buf_append(&msg, "", 0);
    TK_CHECK(strstr(msg.data, "=E2=82=AC") != NULL); /* it is quoted-printable */
    TK_CHECK_INT(tk_web_mail_body(&out, msg.data), 0);
    tk_buf_append(&out, "", 0);
    TK_CHECK_STR(out.data, "Beste Ann,\n\nDe factuur van \xe2\x82\xac 450,00 staat nog open: "
                           "&lt;script&gt;alert(1)&lt;/script&gt; \xc3\xa9\xc3\xa9n regel die lang "
                           "genoeg is om door quoted-printable te worden afgebroken, zeker "
                           "weten.\n");
    /* not MIME at all: the body as it is, escaped */
    tk_buf_reset(&out);
    TK_CHECK_INT(tk_web_mail_body(&out, "Subject: x\r\n\r\n<b>hi</b>\r\n"), 0);
    tk_buf_append(&out, "", 0);
    TK_CHECK(strstr(out.data, "&lt;b&gt;hi&lt;/b&gt;") != NULL);
    TK_CHECK(strstr(out.data, "<b>") == NULL);
    tk_buf_free(&msg);
    tk_buf_free(&out);
}

int main(void)
{
    TK_RUN(html_escapes_every_payload);
    TK_RUN(mail_body_is_the_decoded_text_part);
    TK_RUN(url_component_and_link_targets);
    TK_RUN(form_parse);
    TK_RUN(csrf_bound_to_session);
    TK_RUN(limiter_per_address_and_user);
    TK_RUN(words_sorted_and_translated);
    if (setup() != 0)
        return 1;
    TK_RUN(users_and_sessions);
    TK_RUN(pages_escape_hostile_data);
    TK_RUN(upcoming_expands_each_items_reminders);
    TK_RUN(actions_call_the_engine);
    teardown();
    return tk_test_done();
}
