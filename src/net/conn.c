/*
 * A transport with a read buffer. Protocol parsers want lines and byte
 * counts; transports hand out whatever arrived. The buffer bridges the
 * two without a read system call (or TLS record) per byte.
 */
#include "twinbox/net/conn.h"

#include <stdlib.h>
#include <string.h>

#include "net_p.h"
#include "twinbox/net/deflate.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* One TLS record's worth of plaintext: a full record per read. */
#define CONN_BUF_SIZE 16384

struct conn {
	struct transport *t;   /* the top of the stack; NULL after a failed upgrade */
	struct transport *tls; /* the TLS layer within t, or NULL (owned through t) */
	const char *lost_by;   /* what made t NULL, for messages */
	bool compressed;       /* t is a deflate transport (conn_compress) */
	char *peer;            /* "host:port" or NULL */
	unsigned char buf[CONN_BUF_SIZE];
	size_t start, end; /* unread bytes are buf[start..end) */
	bool heard;        /* a byte came: the first ones were checked */
};

static struct conn *conn_new(struct transport *t)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->t = t;
	c->tls = tls_describe(t) ? t : NULL;
	return c;
}

struct conn *conn_from_transport(struct transport *t)
{
	return conn_new(t);
}

void conn_set_peer(struct conn *c, const char *peer)
{
	free(c->peer);
	c->peer = peer ? xstrdup(peer) : NULL;
}

static const char *peer_or_server(const struct conn *c)
{
	return c->peer ? c->peer : "the server";
}

struct tls_options conn_tls_options(const struct conn_options *opts, int timeout_ms)
{
	struct tls_options tls = {
	    .host = opts->host,
	    .port = opts->port,
	    .ca_file = opts->ca_file,
	    .fingerprint = opts->fingerprint,
	    .timeout_ms = timeout_ms,
	};

	return tls;
}

struct conn *conn_open(const struct conn_options *opts, struct error *err)
{
	struct transport *t;
	struct conn *c;

	t = tcp_connect(opts->host, opts->port, &opts->timeouts, err);
	if (!t)
		return NULL;
	if (opts->tls == TLS_IMPLICIT) {
		struct tls_options tls = conn_tls_options(opts, opts->timeouts.connect_ms);

		t = tls_wrap(t, &tls, err);
		if (!t)
			return NULL;
	}
	c = conn_new(t);
	c->peer = strchr(opts->host, ':') ? xasprintf("[%s]:%u", opts->host, opts->port)
	                                  : xasprintf("%s:%u", opts->host, opts->port);
	return c;
}

void conn_close(struct conn *c)
{
	if (!c)
		return;
	transport_close(c->t);
	free(c->peer);
	free(c);
}

static int check_usable(const struct conn *c, struct error *err)
{
	if (c->t)
		return 0;
	return error_set(err, ERR_ACCOUNT, "the connection to %s is unusable after %s", peer_or_server(c),
	                 c->lost_by);
}

/* A TLS record starts with its type (0x16 handshake, 0x15 alert) and
 * the major version 3. No IMAP or POP3 greeting does: a server that
 * sends one where plain text was expected speaks TLS from the first
 * byte, and its parser would only say it met a control character. */
static ssize_t first_read(struct conn *c, unsigned char *data, size_t len, struct error *err)
{
	ssize_t n = transport_read(c->t, data, len, err);

	if (n <= 0 || c->heard)
		return n;
	c->heard = true;
	if ((data[0] == 0x16 || data[0] == 0x15) && (n == 1 || data[1] == 0x03) && !conn_is_tls(c))
		return error_set(err, ERR_ACCOUNT,
		                 "%s answered with TLS on a connection twinbox opened in plain text: the "
		                 "port looks like one for implicit TLS; use `tls: implicit` (usually port "
		                 "993 for IMAP, 995 for POP3)",
		                 peer_or_server(c));
	return n;
}

/* Read more into the buffer. Returns bytes added, 0 at EOF, -1 error. */
static ssize_t fill(struct conn *c, struct error *err)
{
	ssize_t n;

	if (check_usable(c, err) < 0)
		return -1;
	if (c->start == c->end) {
		c->start = c->end = 0;
	} else if (c->end == CONN_BUF_SIZE) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	n = first_read(c, c->buf + c->end, CONN_BUF_SIZE - c->end, err);
	if (n > 0)
		c->end += (size_t)n;
	return n;
}

ssize_t conn_read(struct conn *c, void *data, size_t len, struct error *err)
{
	size_t avail = c->end - c->start;
	ssize_t n;

	if (len == 0)
		return 0;
	if (avail == 0) {
		if (check_usable(c, err) < 0)
			return -1;
		/* Big reads (message bodies) skip the copy through the buffer. */
		if (len >= CONN_BUF_SIZE)
			return first_read(c, data, len, err);
		n = fill(c, err);
		if (n <= 0)
			return n;
		avail = c->end - c->start;
	}
	if (len > avail)
		len = avail;
	memcpy(data, c->buf + c->start, len);
	c->start += len;
	return (ssize_t)len;
}

static int line_too_long(const struct conn *c, size_t max, struct error *err)
{
	return error_set(err, ERR_ACCOUNT, "%s sent a line longer than %zu bytes; twinbox gives up on it",
	                 peer_or_server(c), max);
}

int conn_readline(struct conn *c, struct buf *line, size_t max, struct error *err)
{
	buf_reset(line);
	for (;;) {
		unsigned char *p = c->buf + c->start;
		size_t avail = c->end - c->start;
		unsigned char *nl = avail ? memchr(p, '\n', avail) : NULL;
		size_t take = nl ? (size_t)(nl - p) : avail;
		size_t total;
		ssize_t n;

		/* `max` counts the line without its end; one more byte may be
		 * the CR of a CRLF split across reads. */
		total = line->len + take;
		if (total > max && total - max > 1)
			return line_too_long(c, max, err);
		if (buf_append(line, p, take) < 0)
			return line_too_long(c, line->limit, err);
		c->start += take;
		if (nl) {
			c->start++;
			if (line->len > 0 && line->data[line->len - 1] == '\r')
				buf_truncate(line, line->len - 1);
			if (line->len > max)
				return line_too_long(c, max, err);
			return 0;
		}
		n = fill(c, err);
		if (n < 0)
			return -1;
		if (n == 0) {
			if (line->len > 0)
				return error_set(
				    err, ERR_ACCOUNT,
				    "%s closed the connection in the middle of a line (after %zu "
				    "bytes of it)",
				    peer_or_server(c), line->len);
			return error_set(err, ERR_ACCOUNT, "%s closed the connection", peer_or_server(c));
		}
	}
}

int conn_write(struct conn *c, const void *data, size_t len, struct error *err)
{
	if (check_usable(c, err) < 0)
		return -1;
	if (len == 0)
		return 0;
	return transport_write(c->t, data, len, err);
}

int conn_write_str(struct conn *c, const char *s, struct error *err)
{
	return conn_write(c, s, strlen(s), err);
}

size_t conn_buffered(const struct conn *c)
{
	return c->end - c->start;
}

void conn_expect(struct conn *c, uint64_t bytes)
{
	size_t avail = c->end - c->start;

	if (c->t)
		transport_expect(c->t, bytes > avail ? bytes - avail : 0);
}

int conn_wait(struct conn *c, int timeout_ms, struct error *err)
{
	if (c->end > c->start)
		return 1;
	if (check_usable(c, err) < 0)
		return -1;
	return transport_poll(c->t, timeout_ms, err);
}

int conn_starttls(struct conn *c, const struct tls_options *opts, size_t *discarded_r, struct error *err)
{
	size_t discarded = c->end - c->start;
	struct transport *t;

	if (discarded_r)
		*discarded_r = discarded;
	if (check_usable(c, err) < 0)
		return -1;
	/* The caller gets the count and decides how loudly to tell. */
	if (discarded > 0)
		log_debug("%s sent %zu bytes before the TLS handshake; discarded", peer_or_server(c),
		          discarded);
	c->start = c->end = 0;
	t = tls_wrap(c->t, opts, err);
	c->t = c->tls = t;
	if (!t)
		c->lost_by = "its TLS upgrade failed";
	return t ? 0 : -1;
}

int conn_compress(struct conn *c, struct error *err)
{
	if (check_usable(c, err) < 0)
		return -1;
	if (c->compressed)
		return 0;
	/* What is buffered came after the server's OK: compressed already. */
	c->t = deflate_wrap(c->t, c->buf + c->start, c->end - c->start, peer_or_server(c), err);
	c->start = c->end = 0;
	if (!c->t) {
		c->tls = NULL;
		c->lost_by = "turning compression on failed";
		return -1;
	}
	c->compressed = true;
	return 0;
}

bool conn_is_compressed(const struct conn *c)
{
	return c->t && c->compressed;
}

bool conn_is_tls(const struct conn *c)
{
	return c->t && c->tls;
}

const char *conn_security(const struct conn *c)
{
	return conn_is_tls(c) ? tls_describe(c->tls) : "plain";
}
