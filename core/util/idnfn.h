/*
 * idnfn.h - libidn2, opened the first time a domain needs it.
 *
 * Linked, libidn2 and libunistring were mapped and relocated by every
 * command (570 symbol lookups and two more libraries at start, bench/
 * RESULTS.md updates 6 and 28) for the rare international domain.  One
 * loader serves core (mail/address.c: the address checker) and the smtp
 * transport (envelope.c), which compiles this file into itself, as plugins
 * do not link core.  Both convert with the same flags, so an address core
 * accepted converts in the transport too.  Self-contained: no core header.
 */
#ifndef TK_IDNFN_H
#define TK_IDNFN_H

#include <idn2.h>

/* IDNA2008 with the UTS #46 mapping, non-transitional (ß stays ß): what
 * browsers and mail clients resolve. */
#define TK_IDN_FLAGS (IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL)

/* Open libidn2.so.0 once (thread-safe; kept open for the life of the
 * process, as a linked library is).  NULL when it is usable, else why not,
 * one line naming the library: "cannot load libidn2.so.0: <dlerror>" or
 * "libidn2.so.0 has no idn2_to_ascii_8z" (a static string).
 *
 * For tests only: $TK_TEST_IDN_LIBRARY, when set and not empty, is the
 * file dlopen()ed instead (a path that does not exist makes libidn2
 * unloadable for that process: it.test_lazy_start).  The messages still
 * say libidn2.so.0; dlerror's part names the file. */
const char *tk_idn_load(void);
/* After tk_idn_load returned NULL: idn2_to_ascii_8z(DOMAIN, OUT,
 * TK_IDN_FLAGS), libidn2's code (IDN2_OK: *OUT is the caller's, freed with
 * free(); idn2_free is free() on this platform), and that code's text. */
int tk_idn_to_ascii(const char *domain, char **out);
const char *tk_idn_strerror(int rc);

#endif
