/*
 * A connection check for an IMAP server, without logging in: the session
 * of session.h opened with no user. Connect (implicit TLS, or plain then
 * STARTTLS, or plain when the config says tls: none), read the greeting,
 * ask for CAPABILITY, upgrade with STARTTLS when configured and read
 * CAPABILITY again over TLS, LOGOUT (waiting for its answer). Commands
 * are tagged T1, T2...
 *
 * Refused, with a message saying what to change (the session's rules):
 *  - STARTTLS configured but not offered by the server;
 *  - a PREAUTH greeting when TLS is required (the session would start
 *    unencrypted before STARTTLS could run);
 *  - a BYE or garbage greeting; any response over 64 KiB; more than 1000
 *    untagged responses.
 */
#ifndef TWINBOX_IMAP_PROBE_H
#define TWINBOX_IMAP_PROBE_H

#include "twinbox/net/conn.h"
#include "twinbox/net/probe.h"
#include "twinbox/util/error.h"

/* Fills *probe_r (free with server_probe_free) and returns 0, or -1 with
 * err (ERR_ACCOUNT) and *probe_r zeroed. The greeting is reported as
 * the session read it ("* OK [CAPABILITY IMAP4rev1] ready"). */
int imap_probe(const struct conn_options *opts, struct server_probe *probe_r, struct error *err);

/* The same exchange over an already open connection (tests), which it
 * takes over: `c` is closed when it returns. */
int imap_probe_conn(struct conn *c, const struct conn_options *opts, struct server_probe *probe_r,
                    struct error *err);

#endif
