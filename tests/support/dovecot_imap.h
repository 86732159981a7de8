/* Options for the IMAP session and the POP3 client of a test against the
 * fixture (dovecot.h). */
#ifndef TWINBOX_TESTS_DOVECOT_IMAP_H
#define TWINBOX_TESTS_DOVECOT_IMAP_H

#include "support/dovecot.h"
#include "twinbox/imap/session.h"
#include "twinbox/pop3/client.h"

/* Options for an IMAP session (imaps, the fixture's CA, its user) to
 * `d`; the strings are d's. */
struct imap_session_options dovecot_imap_options(const struct dovecot *d);
/* The same for a POP3 client (pop3s). */
struct pop3_options dovecot_pop3_options(const struct dovecot *d);

#endif
