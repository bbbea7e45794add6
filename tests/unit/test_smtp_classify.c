/*
 * test_smtp_classify.c - every row of the smtp transport's failure table.
 *
 * The classifier is a pure function, included here directly so that the
 * plugin keeps exporting nothing but tk_plugin_entry.
 */
#include "../../plugins/transports/smtp/classify.c"

#include "tk_test.h"

enum { BEFORE = 0, AFTER = 1 };

#define CLASS(rc, code, body) tk_smtp_classify((rc), (code), (body))

TK_TEST(ok_is_delivered)
{
    TK_CHECK_INT(CLASS(CURLE_OK, 250, AFTER), TK_DELIVERED);
    TK_CHECK_INT(CLASS(CURLE_OK, 0, BEFORE), TK_DELIVERED);
}

TK_TEST(reply_4xx_is_temporary)
{
    /* curl reports a refused RCPT as CURLE_SEND_ERROR */
    TK_CHECK_INT(CLASS(CURLE_SEND_ERROR, 451, BEFORE), TK_TEMPORARY);
    TK_CHECK_INT(CLASS(CURLE_SEND_ERROR, 450, BEFORE), TK_TEMPORARY);
    /* a 421 greeting, and a 452 after the body */
    TK_CHECK_INT(CLASS(CURLE_WEIRD_SERVER_REPLY, 421, BEFORE), TK_TEMPORARY);
    TK_CHECK_INT(CLASS(CURLE_WEIRD_SERVER_REPLY, 452, AFTER), TK_TEMPORARY);
    /* 454 temporary authentication failure beats LOGIN_DENIED's row */
    TK_CHECK_INT(CLASS(CURLE_LOGIN_DENIED, 454, BEFORE), TK_TEMPORARY);
}

TK_TEST(reply_5xx_is_permanent)
{
    TK_CHECK_INT(CLASS(CURLE_SEND_ERROR, 550, BEFORE), TK_PERMANENT);
    TK_CHECK_INT(CLASS(CURLE_SEND_ERROR, 553, BEFORE), TK_PERMANENT);
    /* the body was refused at the final dot */
    TK_CHECK_INT(CLASS(CURLE_WEIRD_SERVER_REPLY, 554, AFTER), TK_PERMANENT);
    TK_CHECK_INT(CLASS(CURLE_RECV_ERROR, 554, AFTER), TK_PERMANENT);
}

TK_TEST(cannot_reach_server_is_temporary)
{
    TK_CHECK_INT(CLASS(CURLE_COULDNT_CONNECT, 0, BEFORE), TK_TEMPORARY);
    TK_CHECK_INT(CLASS(CURLE_COULDNT_RESOLVE_HOST, 0, BEFORE), TK_TEMPORARY);
    TK_CHECK_INT(CLASS(CURLE_SSL_CONNECT_ERROR, 0, BEFORE), TK_TEMPORARY);
}

TK_TEST(timeout_depends_on_body)
{
    TK_CHECK_INT(CLASS(CURLE_OPERATION_TIMEDOUT, 0, BEFORE), TK_TEMPORARY);
    TK_CHECK_INT(CLASS(CURLE_OPERATION_TIMEDOUT, 250, BEFORE), TK_TEMPORARY);
    /* waiting for the reply to the final dot: the server may have it */
    TK_CHECK_INT(CLASS(CURLE_OPERATION_TIMEDOUT, 354, AFTER), TK_UNKNOWN);
}

TK_TEST(login_denied_is_permanent)
{
    TK_CHECK_INT(CLASS(CURLE_LOGIN_DENIED, 0, BEFORE), TK_PERMANENT);
    TK_CHECK_INT(CLASS(CURLE_LOGIN_DENIED, 535, BEFORE), TK_PERMANENT);
}

TK_TEST(untrusted_server_is_permanent)
{
    TK_CHECK_INT(CLASS(CURLE_PEER_FAILED_VERIFICATION, 0, BEFORE), TK_PERMANENT);
    TK_CHECK_INT(CLASS(CURLE_SSL_CACERT, 0, BEFORE), TK_PERMANENT);
    TK_CHECK_INT(CLASS(CURLE_SSL_CACERT_BADFILE, 0, BEFORE), TK_PERMANENT);
    TK_CHECK_INT(CLASS(CURLE_SSL_ISSUER_ERROR, 0, BEFORE), TK_PERMANENT);
    TK_CHECK_INT(CLASS(CURLE_SSL_PINNEDPUBKEYNOTMATCH, 0, BEFORE), TK_PERMANENT);
}

TK_TEST(broken_connection_after_body_is_unknown)
{
    TK_CHECK_INT(CLASS(CURLE_SEND_ERROR, 354, AFTER), TK_UNKNOWN);
    TK_CHECK_INT(CLASS(CURLE_RECV_ERROR, 354, AFTER), TK_UNKNOWN);
    TK_CHECK_INT(CLASS(CURLE_GOT_NOTHING, 354, AFTER), TK_UNKNOWN);
    TK_CHECK_INT(CLASS(CURLE_PARTIAL_FILE, 0, AFTER), TK_UNKNOWN);
}

TK_TEST(broken_connection_before_body_is_temporary)
{
    TK_CHECK_INT(CLASS(CURLE_SEND_ERROR, 250, BEFORE), TK_TEMPORARY);
    TK_CHECK_INT(CLASS(CURLE_RECV_ERROR, 0, BEFORE), TK_TEMPORARY);
    TK_CHECK_INT(CLASS(CURLE_GOT_NOTHING, 0, BEFORE), TK_TEMPORARY);
}

TK_TEST(anything_else_is_temporary)
{
    TK_CHECK_INT(CLASS(CURLE_OUT_OF_MEMORY, 0, BEFORE), TK_TEMPORARY);
    TK_CHECK_INT(CLASS(CURLE_USE_SSL_FAILED, 0, BEFORE), TK_TEMPORARY);
    TK_CHECK_INT(CLASS(CURLE_WEIRD_SERVER_REPLY, 0, BEFORE), TK_TEMPORARY);
    TK_CHECK_INT(CLASS(CURLE_ABORTED_BY_CALLBACK, 0, AFTER), TK_TEMPORARY);
    /* a code that is not an SMTP reply is ignored, not trusted */
    TK_CHECK_INT(CLASS(CURLE_SEND_ERROR, 5500, BEFORE), TK_TEMPORARY);
    TK_CHECK_INT(CLASS(CURLE_SEND_ERROR, -550, AFTER), TK_UNKNOWN);
}

TK_TEST(names)
{
    TK_CHECK_STR(tk_smtp_delivery_name(TK_DELIVERED), "delivered");
    TK_CHECK_STR(tk_smtp_delivery_name(TK_TEMPORARY), "temporary");
    TK_CHECK_STR(tk_smtp_delivery_name(TK_PERMANENT), "permanent");
    TK_CHECK_STR(tk_smtp_delivery_name(TK_UNKNOWN), "unknown");
    TK_CHECK_STR(tk_smtp_delivery_name(42), "invalid");
}

int main(void)
{
    TK_RUN(ok_is_delivered);
    TK_RUN(reply_4xx_is_temporary);
    TK_RUN(reply_5xx_is_permanent);
    TK_RUN(cannot_reach_server_is_temporary);
    TK_RUN(timeout_depends_on_body);
    TK_RUN(login_denied_is_permanent);
    TK_RUN(untrusted_server_is_permanent);
    TK_RUN(broken_connection_after_body_is_unknown);
    TK_RUN(broken_connection_before_body_is_temporary);
    TK_RUN(anything_else_is_temporary);
    TK_RUN(names);
    return tk_test_done();
}
