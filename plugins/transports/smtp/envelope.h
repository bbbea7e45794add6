/*
 * envelope.h - the envelope of one message as the smtp plugin sends it.
 *
 * Internal to the smtp plugin.  The host hands over the addresses as they
 * were written (a contact's, [transport] from's), checked by core's
 * tk_mail_check_address; on the wire a domain must be ASCII, so an
 * international one is converted to A-labels (punycode) with libidn2 and
 * the flags core uses, and a local part that is not ASCII can only travel
 * with SMTPUTF8 (RFC 6531), which both clients ask for when the server
 * offers it and refuse locally otherwise.
 */
#ifndef TK_SMTP_ENVELOPE_H
#define TK_SMTP_ENVELOPE_H

#include "tickler/transport.h"

#define TK_SMTP_PATH_MAX 320 /* 254 bytes of address, with room for IDN growth */

struct tk_smtp_envelope {
    char from[TK_SMTP_PATH_MAX]; /* bare, domain in A-labels; "" for the null sender */
    char rcpt[TK_SMTP_PATH_MAX];
    const char *utf8_addr; /* the address (from or rcpt, as given) whose
                              local part is not ASCII; NULL: SMTPUTF8 not needed */
};

/* Fill ENV from MSG.  Returns 0, or -1 with RES set to TK_PERMANENT and its
 * reason when an address could end an SMTP command early (controls, '<',
 * '>', a space outside a quoted local part) or its domain does not
 * convert.  ENV->utf8_addr borrows from MSG. */
int tk_smtp_envelope_make(const struct tk_message *msg, struct tk_smtp_envelope *env,
                          struct tk_delivery_result *res);

/* RES for a message that needs SMTPUTF8 from a server that does not offer
 * it: TK_PERMANENT, reply code 0, the reason naming the address. */
void tk_smtp_envelope_no_smtputf8(const struct tk_smtp_envelope *env,
                                  struct tk_delivery_result *res);

#endif
