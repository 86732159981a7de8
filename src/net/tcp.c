/*
 * Plain TCP. The socket stays non-blocking for its whole life: every
 * connect, read and write that would block waits in poll() with a
 * deadline, so no peer can hang twinbox longer than the configured
 * timeouts, and a signal (EINTR) never shortens or restarts a wait.
 */
#include "twinbox/net/tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_p.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* Reads are buffered: GnuTLS asks for a record's 5-byte header and then
 * its body, two recv() calls per record of often only a few KB; one
 * recv() of up to this much serves many. */
#define TCP_READ_BUF (64 * 1024)

/* With this many bytes announced (transport `expect`), a read waits for
 * up to that many at once (SO_RCVLOWAT), not for each packet: a server
 * that sends a message in 4 KB records would otherwise wake twinbox
 * (and pay for waking it) once a record. At most a quarter of the
 * socket's receive buffer, so that the kernel never grows the buffer
 * (and narrows the window) for it. The wait for them is short: were
 * the announcement ever wrong, or the network slow, the read falls
 * back to waking at the first byte. */
#define LOWAT_MAX     (32 * 1024)
#define LOWAT_MIN     4096
#define LOWAT_WAIT_MS 100

struct tcp_transport {
	struct transport base;
	int fd;
	int io_ms;
	int cancel_fd;       /* net_timeouts.cancel_fd */
	char *peer;          /* "host:port" for messages */
	unsigned char *rbuf; /* TCP_READ_BUF bytes, made at the first read */
	size_t rpos, rlen;   /* rbuf[rpos .. rlen) received, not yet read */
	uint64_t expected;   /* bytes certain to arrive still (expect), less received */
	int lowat;           /* the socket's SO_RCVLOWAT: 1 unless a read waits in bulk */
	int lowat_max;       /* LOWAT_MAX or a quarter of the receive buffer */
};

/* Wait for `events` on `fd` for at most `timeout_ms` (< 0 = forever),
 * or until `cancel_fd` (> 0) is readable. Returns 1 when ready, 0 on
 * timeout, -1 with errno set (ECANCELED: cancel_fd). */
static int wait_fd(int fd, short events, int timeout_ms, int cancel_fd)
{
	long long deadline = net_now_ms() + timeout_ms;
	struct pollfd pfd[2] = {{.fd = fd, .events = events}, {.fd = cancel_fd, .events = POLLIN}};

	for (;;) {
		int left = -1;
		int r;

		if (timeout_ms >= 0) {
			long long rem = deadline - net_now_ms();

			left = rem > 0 ? (int)rem : 0;
		}
		r = poll(pfd, cancel_fd > 0 ? 2 : 1, left);
		if (r > 0 && cancel_fd > 0 && pfd[1].revents) {
			errno = ECANCELED;
			return -1;
		}
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static void set_lowat(struct tcp_transport *tt, int lowat)
{
	if (tt->lowat != lowat && setsockopt(tt->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)) == 0)
		tt->lowat = lowat;
}

/* Wait until the socket is readable: with bytes expected, first for
 * many of them at once (briefly), then for any. Every other wait for
 * input goes through set_lowat(tt, 1) first. */
static int wait_readable(struct tcp_transport *tt)
{
	uint64_t want = tt->expected < (uint64_t)tt->lowat_max ? tt->expected : (uint64_t)tt->lowat_max;

	if (want >= LOWAT_MIN && tt->io_ms > LOWAT_WAIT_MS) {
		/* Whole 4 KB steps: fewer changes of the option. */
		set_lowat(tt, (int)(want & ~(uint64_t)(LOWAT_MIN - 1)));
		if (tt->lowat > 1) {
			int r = wait_fd(tt->fd, POLLIN, LOWAT_WAIT_MS, tt->cancel_fd);

			if (r != 0)
				return r;
			set_lowat(tt, 1);
			return wait_fd(tt->fd, POLLIN, tt->io_ms - LOWAT_WAIT_MS, tt->cancel_fd);
		}
	}
	set_lowat(tt, 1);
	return wait_fd(tt->fd, POLLIN, tt->io_ms, tt->cancel_fd);
}

static void set_socket_options(int fd)
{
	int one = 1;

	/* Commands are written whole; waiting for more (Nagle) would only
	 * add a round trip to each pipelined batch. Keepalive lets a long
	 * IDLE notice a peer that vanished. Both are best effort. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

/* Hand out buffered bytes: up to `len` of them. */
static size_t take_buffered(struct tcp_transport *tt, void *data, size_t len)
{
	size_t n = tt->rlen - tt->rpos;

	if (n > len)
		n = len;
	memcpy(data, tt->rbuf + tt->rpos, n);
	tt->rpos += n;
	return n;
}

/* A failure that another connection later may not have (util/error.h):
 * `err` marked ERR_RETRY_LOST; returns rc. */
static int lost(struct error *err, int rc)
{
	if (err)
		err->retry = ERR_RETRY_LOST;
	return rc;
}

/* A wait of `what` ("waiting for data from") that failed: cancelled
 * (net_timeouts.cancel_fd) or a poll() error. Returns -1. */
static int wait_failed(const struct tcp_transport *tt, const char *what, struct error *err)
{
	if (errno == ECANCELED)
		return error_set(err, ERR_ACCOUNT, "%s %s was cancelled", what, tt->peer);
	return error_errno(err, ERR_ACCOUNT, errno, "%s %s failed", what, tt->peer);
}

static ssize_t tcp_read(struct transport *t, void *data, size_t len, struct error *err)
{
	struct tcp_transport *tt = (struct tcp_transport *)t;
	char dur[32];
	bool direct;

	if (tt->rpos < tt->rlen)
		return (ssize_t)take_buffered(tt, data, len);
	/* A large read goes straight to the caller's memory. */
	direct = len >= TCP_READ_BUF;
	if (!direct && !tt->rbuf)
		tt->rbuf = xmalloc(TCP_READ_BUF);
	for (;;) {
		ssize_t n = direct ? recv(tt->fd, data, len, 0) : recv(tt->fd, tt->rbuf, TCP_READ_BUF, 0);
		int r;

		if (n > 0)
			tt->expected -= (uint64_t)n < tt->expected ? (uint64_t)n : tt->expected;
		if (n > 0 && !direct) {
			tt->rpos = 0;
			tt->rlen = (size_t)n;
			return (ssize_t)take_buffered(tt, data, len);
		}
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET)
			return lost(err, error_set(err, ERR_ACCOUNT,
			                           "the connection to %s was reset by the server", tt->peer));
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return error_errno(err, ERR_ACCOUNT, errno, "reading from %s failed", tt->peer);
		r = wait_readable(tt);
		if (r == 0)
			return lost(err, error_set(err, ERR_ACCOUNT,
			                           "%s did not answer within %s; if the server is just slow, "
			                           "raise `timeout:`",
			                           tt->peer, net_duration(tt->io_ms, dur)));
		if (r < 0)
			return wait_failed(tt, "waiting for data from", err);
	}
}

static int tcp_write(struct transport *t, const void *data, size_t len, struct error *err)
{
	struct tcp_transport *tt = (struct tcp_transport *)t;
	const char *p = data;
	char dur[32];

	while (len > 0) {
		/* MSG_NOSIGNAL: a peer that closed must give EPIPE here, not
		 * kill the whole process with SIGPIPE. */
		ssize_t n = send(tt->fd, p, len, MSG_NOSIGNAL);
		int r;

		if (n >= 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET)
			return lost(err, error_set(err, ERR_ACCOUNT,
			                           "%s closed the connection while twinbox was sending",
			                           tt->peer));
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return error_errno(err, ERR_ACCOUNT, errno, "sending to %s failed", tt->peer);
		r = wait_fd(tt->fd, POLLOUT, tt->io_ms, tt->cancel_fd);
		if (r == 0)
			return lost(err, error_set(err, ERR_ACCOUNT,
			                           "sending to %s timed out after %s (the server stopped "
			                           "reading); if the server is just slow, raise `timeout:`",
			                           tt->peer, net_duration(tt->io_ms, dur)));
		if (r < 0)
			return wait_failed(tt, "waiting to send to", err);
	}
	return 0;
}

static int tcp_poll(struct transport *t, int timeout_ms, struct error *err)
{
	struct tcp_transport *tt = (struct tcp_transport *)t;
	int r;

	if (tt->rpos < tt->rlen)
		return 1;
	set_lowat(tt, 1);
	r = wait_fd(tt->fd, POLLIN, timeout_ms < 0 ? tt->io_ms : timeout_ms, tt->cancel_fd);
	if (r < 0)
		return wait_failed(tt, "waiting for data from", err);
	return r;
}

static void tcp_expect(struct transport *t, uint64_t bytes)
{
	struct tcp_transport *tt = (struct tcp_transport *)t;
	size_t buffered = tt->rlen - tt->rpos;

	tt->expected = bytes > buffered ? bytes - buffered : 0;
}

static void tcp_close(struct transport *t)
{
	struct tcp_transport *tt = (struct tcp_transport *)t;

	close(tt->fd);
	free(tt->peer);
	free(tt->rbuf);
	free(tt);
}

static const struct transport_ops tcp_ops = {
    .name = "tcp",
    .read = tcp_read,
    .write = tcp_write,
    .poll = tcp_poll,
    .expect = tcp_expect,
    .close = tcp_close,
};

static struct transport *tcp_new(int fd, const struct net_timeouts *to, char *peer)
{
	struct tcp_transport *tt = xcalloc(1, sizeof(*tt));
	int rcvbuf = 0;
	socklen_t optlen = sizeof(rcvbuf);

	tt->base.ops = &tcp_ops;
	tt->fd = fd;
	tt->io_ms = net_timeout_or_default(to ? to->io_ms : 0);
	tt->cancel_fd = to ? to->cancel_fd : 0;
	tt->peer = peer;
	tt->lowat = 1;
	tt->lowat_max = LOWAT_MAX;
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &optlen) == 0 && rcvbuf / 4 < LOWAT_MAX)
		tt->lowat_max = rcvbuf / 4;
	return &tt->base;
}

/* "host:port", with brackets around an IPv6 literal. */
static char *peer_name(const char *host, unsigned port)
{
	if (strchr(host, ':'))
		return xasprintf("[%s]:%u", host, port);
	return xasprintf("%s:%u", host, port);
}

static void numeric_addr(const struct sockaddr *sa, socklen_t len, char out[NI_MAXHOST])
{
	if (getnameinfo(sa, len, out, NI_MAXHOST, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(out, NI_MAXHOST, "?");
}

/* Connect to one address. Returns the socket, or -1 with the cause in
 * *errno_r (ETIMEDOUT when our own deadline passed). */
static int connect_one(const struct addrinfo *ai, int timeout_ms, int cancel_fd, int *errno_r)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	int soerr = 0;
	socklen_t slen = sizeof(soerr);
	int r;

	if (fd < 0) {
		*errno_r = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		goto connected;
	/* On a non-blocking socket EINTR, like EINPROGRESS, means the
	 * connection goes on in the background. */
	if (errno != EINPROGRESS && errno != EINTR) {
		*errno_r = errno;
		close(fd);
		return -1;
	}
	r = wait_fd(fd, POLLOUT, timeout_ms, cancel_fd);
	if (r <= 0) {
		*errno_r = r == 0 ? ETIMEDOUT : errno;
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) < 0)
		soerr = errno;
	if (soerr != 0) {
		*errno_r = soerr;
		close(fd);
		return -1;
	}
connected:
	set_socket_options(fd);
	return fd;
}

static void append_cause(struct buf *b, int e, int timeout_ms)
{
	char dur[32];

	switch (e) {
	case ETIMEDOUT:
		buf_printf(b, "timed out after %s", net_duration(timeout_ms, dur));
		break;
	case ECONNREFUSED:
		buf_append_str(b, "connection refused");
		break;
	case ENETUNREACH:
		buf_append_str(b, "network is unreachable");
		break;
	case EHOSTUNREACH:
		buf_append_str(b, "host is unreachable");
		break;
	default:
		buf_printf(b, "%s", strerror(e));
	}
}

static void resolve_error(const char *host, const char *peer, int rc, struct error *err)
{
	const char *why = rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc);

	if (rc == EAI_AGAIN)
		error_set(err, ERR_ACCOUNT,
		          "could not resolve \"%s\" (for %s): %s; the name server did not answer, try again "
		          "later",
		          host, peer, why);
	else
		error_set(err, ERR_ACCOUNT, "could not resolve \"%s\" (for %s): %s; check `host:`", host,
		          peer, why);
}

struct transport *tcp_connect(const char *host, unsigned port, const struct net_timeouts *to,
                              struct error *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	struct buf causes = BUF_INIT;
	int connect_ms = net_timeout_or_default(to ? to->connect_ms : 0);
	int cancel_fd = to ? to->cancel_fd : 0;
	bool refused = false, timed_out = false;
	size_t tried = 0;
	char portstr[16];
	char *peer;
	int rc;

	if (!host || !*host) {
		error_set(err, ERR_ACCOUNT, "no server to connect to; set `host:`");
		return NULL;
	}
	if (port == 0 || port > 65535) {
		error_set(err, ERR_ACCOUNT, "port %u of %s is not a TCP port; `port:` must be 1 to 65535",
		          port, host);
		return NULL;
	}
	peer = peer_name(host, port);
	snprintf(portstr, sizeof(portstr), "%u", port);
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		resolve_error(host, peer, rc, err);
		free(peer);
		return NULL;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		char addr[NI_MAXHOST];
		int e = 0;
		int fd;

		numeric_addr(ai->ai_addr, ai->ai_addrlen, addr);
		log_debug("connecting to %s at %s", peer, addr);
		fd = connect_one(ai, connect_ms, cancel_fd, &e);
		if (fd >= 0) {
			freeaddrinfo(res);
			buf_free(&causes);
			log_debug("connected to %s at %s", peer, addr);
			return tcp_new(fd, to, peer);
		}
		if (e == ECANCELED) {
			freeaddrinfo(res);
			buf_free(&causes);
			error_set(err, ERR_ACCOUNT, "connecting to %s was cancelled", peer);
			free(peer);
			return NULL;
		}
		refused |= e == ECONNREFUSED;
		timed_out |= e == ETIMEDOUT;
		if (tried++ > 0)
			buf_append_str(&causes, "; ");
		append_cause(&causes, e, connect_ms);
		buf_printf(&causes, " (%s)", addr);
		log_debug("connecting to %s at %s failed: %s", peer, addr, strerror(e));
	}
	freeaddrinfo(res);
	error_set(err, ERR_ACCOUNT, "could not connect to %s: %s; %s", peer, buf_cstr(&causes),
	          refused     ? "is the server running, and are `host:` and `port:` right?"
	          : timed_out ? "is the server reachable from here (a firewall?), or does `timeout:` need to "
	                        "be longer?"
	                      : "check `host:` and the network");
	if (refused || timed_out)
		lost(err, -1);
	buf_free(&causes);
	free(peer);
	return NULL;
}

struct transport *tcp_from_fd(int fd, const struct net_timeouts *to)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[NI_MAXHOST] = "?";
	unsigned port = 0;
	int flags;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
		numeric_addr((struct sockaddr *)&ss, len, addr);
		if (ss.ss_family == AF_INET)
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		(void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return tcp_new(fd, to, peer_name(addr, port));
}
