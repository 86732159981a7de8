/*
 * A connection check for an IMAP server, without logging in: connect
 * (implicit TLS, or plain then STARTTLS, or plain when the config says
 * tls: none), read the greeting, ask for CAPABILITY, upgrade with
 * STARTTLS when configured and read CAPABILITY again over TLS, LOGOUT.
 *
 * Refused, with a message saying what to change:
 *  - STARTTLS configured but not offered by the server;
 *  - a PREAUTH greeting when TLS is required (the session would start
 *    unencrypted before STARTTLS could run);
 *  - a BYE or garbage greeting; any line over 64 KiB.
 */
#ifndef TWINBOX_IMAP_PROBE_H
#define TWINBOX_IMAP_PROBE_H

#include "twinbox/net/conn.h"
#include "twinbox/net/probe.h"
#include "twinbox/util/error.h"

/* Fills *probe_r (free with server_probe_free) and returns 0, or -1 with
 * err (ERR_ACCOUNT). */
int imap_probe(const struct conn_options *opts, struct server_probe *probe_r, struct error *err);

/* The same exchange over an already open connection (tests). */
int imap_probe_conn(struct conn *c, const struct conn_options *opts, struct server_probe *probe_r,
                    struct error *err);

#endif
