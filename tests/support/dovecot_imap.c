#include "support/dovecot_imap.h"

/* TLS from the first byte to `port` of d, trusting the fixture's CA. */
static struct conn_options fixture_conn(const struct dovecot *d, unsigned port)
{
	struct conn_options c = {
	    .host = "127.0.0.1",
	    .port = port,
	    .tls = TLS_IMPLICIT,
	    .ca_file = d->ca_file,
	    .timeouts = {.connect_ms = 5000, .io_ms = 20000},
	};
	return c;
}

struct imap_session_options dovecot_imap_options(const struct dovecot *d)
{
	struct imap_session_options o = {
	    .conn = fixture_conn(d, d->imaps_port),
	    .user = d->user,
	    .password = d->password,
	};
	return o;
}

struct pop3_options dovecot_pop3_options(const struct dovecot *d)
{
	struct pop3_options o = {
	    .conn = fixture_conn(d, d->pop3s_port),
	    .user = d->user,
	    .password = d->password,
	};
	return o;
}
