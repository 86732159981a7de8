/*
 * A connection: a transport plus a read buffer, with line reading and the
 * two upgrades: STARTTLS and COMPRESS. IMAP and POP3 clients are written
 * against this.
 */
#ifndef TWINBOX_NET_CONN_H
#define TWINBOX_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "twinbox/net/tcp.h"
#include "twinbox/net/tls.h"
#include "twinbox/net/transport.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/error.h"

enum tls_mode {
	TLS_IMPLICIT = 0, /* TLS from the first byte (993, 995) */
	TLS_STARTTLS,     /* plain, upgraded by the protocol's STARTTLS/STLS */
	TLS_NONE,         /* plain text; only when the config says so */
};

struct conn_options {
	const char *host;
	unsigned port;
	enum tls_mode tls;
	struct net_timeouts timeouts;
	const char *ca_file;
	const char *fingerprint;
};

struct conn;

/* The TLS settings of `opts` (host, port, ca_file, fingerprint), the
 * handshake bounded by `timeout_ms`. Strings are borrowed from `opts`. */
struct tls_options conn_tls_options(const struct conn_options *opts, int timeout_ms);

/* Connect; with TLS_IMPLICIT also handshake and verify. NULL on failure
 * (ERR_ACCOUNT) with a message naming host:port and the cause. */
struct conn *conn_open(const struct conn_options *opts, struct error *err);

/* Wrap an existing transport (tests, scripted peers); takes ownership.
 * Messages call the peer "the server" until conn_set_peer() names it. */
struct conn *conn_from_transport(struct transport *t);

/* Name the peer in error messages ("host:port"; copied). */
void conn_set_peer(struct conn *c, const char *peer);

void conn_close(struct conn *c);

/* Read up to `len` bytes, from the buffer first. >0, 0 at EOF, -1 error. */
ssize_t conn_read(struct conn *c, void *data, size_t len, struct error *err);

/* Read one line into `line` (reset first), without its CRLF or LF.
 * A line longer than `max` bytes is an error (ERR_ACCOUNT, "line longer
 * than N bytes"); so is EOF before the line ends (the message says the
 * server closed the connection). Returns 0 or -1. */
int conn_readline(struct conn *c, struct buf *line, size_t max, struct error *err);

/* Write all bytes; -1 on failure (ERR_ACCOUNT). */
int conn_write(struct conn *c, const void *data, size_t len, struct error *err);
int conn_write_str(struct conn *c, const char *s, struct error *err);

/* Bytes already received but not yet consumed. */
size_t conn_buffered(const struct conn *c);

/* At least `bytes` more bytes (counted from the unread ones, buffered
 * included) are certain to come: the rest of a literal whose size the
 * peer announced. Lets the transport wait for them in bulk rather than
 * wake for each packet; 0 says nothing is known. Only a hint. */
void conn_expect(struct conn *c, uint64_t bytes);

/* Wait up to `timeout_ms` (< 0: the I/O timeout) until something can be
 * read: 1 when bytes are buffered or arrived (or the peer closed), 0 when
 * the time ran out, -1 on error. For waits longer than the I/O timeout
 * (IMAP IDLE); ordinary reads need no wait first. */
int conn_wait(struct conn *c, int timeout_ms, struct error *err);

/* Upgrade to TLS after the protocol's STARTTLS exchange. Bytes the peer
 * sent before the handshake and still buffered are discarded (they could
 * be an injection by a man in the middle); their count goes to
 * *discarded_r when not NULL. Returns 0, or -1 (ERR_ACCOUNT) after which
 * the connection is unusable: every read and write fails, only
 * conn_close remains. */
int conn_starttls(struct conn *c, const struct tls_options *opts, size_t *discarded_r, struct error *err);

/* Compress both directions with DEFLATE from now on (deflate.h), after
 * the protocol's COMPRESS exchange (IMAP COMPRESS=DEFLATE, RFC 4978).
 * Bytes already buffered came after the server's OK, so they are the
 * start of its compressed stream and are decompressed first. Reads,
 * writes, conn_wait and conn_expect keep their meaning, on the
 * decompressed bytes. Doing it twice does nothing. Returns 0, or -1
 * (ERR_ACCOUNT) after which the connection is unusable as after a failed
 * conn_starttls. */
int conn_compress(struct conn *c, struct error *err);
bool conn_is_compressed(const struct conn *c);

/* Whether TLS runs on the connection (under compression or not). */
bool conn_is_tls(const struct conn *c);
/* TLS description (tls_describe) or "plain"; compression is not part of
 * it (conn_is_compressed). */
const char *conn_security(const struct conn *c);

#endif
