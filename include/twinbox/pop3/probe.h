/*
 * A connection check for a POP3 server, without logging in: the client of
 * client.h opened with no user. Connect, read the +OK greeting, CAPA,
 * STLS when configured (refused when CAPA does not list STLS), CAPA
 * again over TLS, QUIT.
 * A server without CAPA (RFC 1939 only) is reported with empty
 * capabilities; with tls: starttls STLS is tried all the same, as the
 * import does.
 */
#ifndef TWINBOX_POP3_PROBE_H
#define TWINBOX_POP3_PROBE_H

#include "twinbox/net/conn.h"
#include "twinbox/net/probe.h"
#include "twinbox/util/error.h"

/* As imap_probe() and imap_probe_conn() (which takes `c` over). */
int pop3_probe(const struct conn_options *opts, struct server_probe *probe_r, struct error *err);
int pop3_probe_conn(struct conn *c, const struct conn_options *opts, struct server_probe *probe_r,
                    struct error *err);

#endif
