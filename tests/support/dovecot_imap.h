/* Options for the IMAP session of a test against the fixture (dovecot.h). */
#ifndef TWINBOX_TESTS_DOVECOT_IMAP_H
#define TWINBOX_TESTS_DOVECOT_IMAP_H

#include "support/dovecot.h"
#include "twinbox/imap/session.h"

/* Options for an IMAP session (imaps, the fixture's CA, its user) to
 * `d`; the strings are d's. */
struct imap_session_options dovecot_imap_options(const struct dovecot *d);

#endif
