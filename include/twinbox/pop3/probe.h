/*
 * A connection check for a POP3 server, without logging in: connect,
 * read the +OK greeting, CAPA, STLS when configured (refused when the
 * server does not list STLS), CAPA again over TLS, QUIT.
 * A server without CAPA (RFC 1939 only) is reported with empty
 * capabilities; with tls: starttls it is refused (STLS needs CAPA).
 */
#ifndef TWINBOX_POP3_PROBE_H
#define TWINBOX_POP3_PROBE_H

#include "twinbox/net/conn.h"
#include "twinbox/net/probe.h"
#include "twinbox/util/error.h"

int pop3_probe(const struct conn_options *opts, struct server_probe *probe_r, struct error *err);
int pop3_probe_conn(struct conn *c, const struct conn_options *opts, struct server_probe *probe_r,
                    struct error *err);

#endif
