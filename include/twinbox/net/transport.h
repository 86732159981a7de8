/*
 * A transport moves bytes to and from a peer. Three implementations:
 * plain TCP (tcp.h), GnuTLS wrapping another transport (tls.h), and an
 * in-memory scripted peer for protocol tests (script.h). Protocol code
 * never sees which one it has; it uses `struct conn` (conn.h) on top.
 */
#ifndef TWINBOX_NET_TRANSPORT_H
#define TWINBOX_NET_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "twinbox/util/error.h"

struct transport;

struct transport_ops {
	const char *name; /* "tcp", "tls", "script" */
	/* Read up to `len` (> 0) bytes. Returns the number read (> 0), 0 when
	 * the peer closed the connection, or -1 with `err` filled (scope
	 * ERR_ACCOUNT; a timeout says how long was waited). A reset or a
	 * timeout is ERR_RETRY_LOST (util/error.h). */
	ssize_t (*read)(struct transport *t, void *data, size_t len, struct error *err);
	/* Write all `len` bytes or fail with -1 (ERR_ACCOUNT; a peer that
	 * closed or a timeout is ERR_RETRY_LOST). */
	int (*write)(struct transport *t, const void *data, size_t len, struct error *err);
	/* Wait until bytes (or EOF) can be read, at most `timeout_ms`
	 * milliseconds; 0 only checks, < 0 means the transport's own I/O
	 * timeout. Returns 1 when a read would find something, 0 when the
	 * time ran out, -1 on error (ERR_ACCOUNT). TLS uses it for GnuTLS's
	 * pull-timeout callback; protocols use it (via conn_wait) to wait
	 * longer than the I/O timeout, e.g. in IMAP IDLE. */
	int (*poll)(struct transport *t, int timeout_ms, struct error *err);
	/* Optional (NULL: ignored). A hint that at least `bytes` more bytes
	 * will certainly arrive for reads (the rest of a literal): a read may
	 * then wait for many of them at once instead of waking for every
	 * packet. Never an error; a read still returns what is there. 0 says
	 * nothing is known. Holds until the next call. */
	void (*expect)(struct transport *t, uint64_t bytes);
	/* Close the connection and free the transport (and any inner one). */
	void (*close)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
};

static inline ssize_t transport_read(struct transport *t, void *data, size_t len, struct error *err)
{
	return t->ops->read(t, data, len, err);
}

static inline int transport_write(struct transport *t, const void *data, size_t len, struct error *err)
{
	return t->ops->write(t, data, len, err);
}

static inline int transport_poll(struct transport *t, int timeout_ms, struct error *err)
{
	return t->ops->poll(t, timeout_ms, err);
}

static inline void transport_expect(struct transport *t, uint64_t bytes)
{
	if (t->ops->expect)
		t->ops->expect(t, bytes);
}

static inline void transport_close(struct transport *t)
{
	if (t)
		t->ops->close(t);
}

#endif
