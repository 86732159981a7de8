#include "support/dovecot_imap.h"

struct imap_session_options dovecot_imap_options(const struct dovecot *d)
{
	struct imap_session_options o = {
	    .conn.host = "127.0.0.1",
	    .conn.port = d->imaps_port,
	    .conn.tls = TLS_IMPLICIT,
	    .conn.ca_file = d->ca_file,
	    .conn.timeouts = {.connect_ms = 5000, .io_ms = 20000},
	    .user = d->user,
	    .password = d->password,
	};
	return o;
}
