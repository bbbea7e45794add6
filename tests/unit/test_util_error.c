/* test_util_error.c - struct tk_error messages: one line, and no URL
 * password in them, however the message was made. */
#include <string.h>

#include "tk_test.h"
#include "util/util.h"

TK_TEST(test_url_passwords_masked)
{
    struct tk_error err;
    tk_error_set(&err, TK_EINVAL, "url: \"%s\" bad", "smtp://tickler:s3cret@mail.example:25");
    TK_CHECK_STR(err.msg, "url: \"smtp://tickler:***@mail.example:25\" bad");
    /* a '/' in the password, an '@' in it, two URLs, a short password */
    tk_error_set(&err, TK_EIO, "a smtps://u:se/cr@et@h/x b postgresql://p:x@db/t");
    TK_CHECK_STR(err.msg, "a smtps://u:***@h/x b postgresql://p:***@db/t");
    /* no password: left alone */
    tk_error_set(&err, TK_EIO, "smtp://user@h and https://example.com:8080/a and ://");
    TK_CHECK_STR(err.msg, "smtp://user@h and https://example.com:8080/a and ://");
    tk_error_set(&err, TK_EIO, "cannot connect");
    tk_error_prefix(&err, "store at postgresql://u:pw@h/db");
    TK_CHECK_STR(err.msg, "store at postgresql://u:***@h/db: cannot connect");
    /* newlines flattened, as before */
    tk_error_set(&err, TK_EIO, "a\nb\rc");
    TK_CHECK_STR(err.msg, "a b c");
}

TK_TEST(test_mask_at_the_buffer_end)
{
    struct tk_error err;
    char big[TK_ERROR_MAX * 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big + TK_ERROR_MAX - 20, "smtp://u:p@h", 12);
    tk_error_set(&err, TK_EIO, "%s", big);
    TK_CHECK(strlen(err.msg) == TK_ERROR_MAX - 1);
    TK_CHECK(strstr(err.msg, "u:p@") == NULL);
    memset(big, 'x', sizeof big - 1);
    memcpy(big + TK_ERROR_MAX - 12, "smtp://u:p@h", 12); /* cut after the '@' */
    tk_error_set(&err, TK_EIO, "%s", big);
    TK_CHECK(strlen(err.msg) == TK_ERROR_MAX - 1);
    TK_CHECK(strstr(err.msg, "u:p") == NULL);
}

int main(void)
{
    TK_RUN(test_url_passwords_masked);
    TK_RUN(test_mask_at_the_buffer_end);
    return tk_test_done();
}
