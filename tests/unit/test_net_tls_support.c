/* The TLS server, client and spy of test_net_tls.c (see test_net_tls.h). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "support/dovecot_p.h"
#include "test_net_tls.h"
#include "twinbox/util/xmalloc.h"

/* The longest any wait of the server may block. */
#define PEER_WAIT_S 10

static void bound_waits(int fd)
{
	struct timeval tv = {.tv_sec = PEER_WAIT_S};

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void tls_peer_init(struct tls_peer *p)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);
	struct error err = {0};
	char *cert, *key;
	int rc;

	memset(p, 0, sizeof(*p));
	strcpy(p->dir, "/tmp/twinbox-tls-XXXXXX");
	cr_assert_not_null(mkdtemp(p->dir));
	cr_assert_eq(dv_certs_create(p->dir, &err), 0, "%s", err.text);
	p->ca_file = xasprintf("%s/ca.pem", p->dir);
	cert = xasprintf("%s/server.pem", p->dir);
	key = xasprintf("%s/server.key", p->dir);
	cr_assert_eq(gnutls_certificate_allocate_credentials(&p->cred), 0);
	rc = gnutls_certificate_set_x509_key_file(p->cred, cert, key, GNUTLS_X509_FMT_PEM);
	free(cert);
	free(key);
	cr_assert_geq(rc, 0, "loading the server certificate: %s", gnutls_strerror(rc));

	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(p->lfd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(p->lfd, 4), 0);
	cr_assert_eq(getsockname(p->lfd, (struct sockaddr *)&sa, &salen), 0);
	p->port = ntohs(sa.sin_port);
	bound_waits(p->lfd); /* accept() too */
}

void tls_peer_forget_files(struct tls_peer *p)
{
	struct error err = {0};

	if (p->dir[0] == '\0')
		return;
	cr_assert_eq(dv_rmtree(p->dir, &err), 0, "%s", err.text);
	p->dir[0] = '\0';
}

void tls_peer_fini(struct tls_peer *p)
{
	tls_peer_forget_files(p);
	close(p->lfd);
	gnutls_certificate_free_credentials(p->cred);
	free(p->ca_file);
}

static ssize_t link_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
	struct tls_peer_link *l = ptr;
	ssize_t n = recv(l->fd, data, len, 0);

	/* A timeout too is the end: GnuTLS would retry EAGAIN forever. */
	if (n < 0)
		gnutls_transport_set_errno(l->session, errno == EINTR ? EINTR : EIO);
	return n;
}

static ssize_t link_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
	struct tls_peer_link *l = ptr;

	if (l->sealing) {
		if (l->sealed_len + len > l->sealed_cap) {
			l->sealed_cap = 2 * (l->sealed_len + len);
			l->sealed = xrealloc(l->sealed, l->sealed_cap);
		}
		memcpy(l->sealed + l->sealed_len, data, len);
		l->sealed_len += len;
		return (ssize_t)len;
	}
	if (tls_peer_write_wire(l, data, len) < 0) {
		gnutls_transport_set_errno(l->session, EIO);
		return -1;
	}
	return (ssize_t)len;
}

int tls_peer_accept(struct tls_peer *p, struct tls_peer_link *l)
{
	int one = 1, rc;

	memset(l, 0, sizeof(*l));
	l->fd = accept(p->lfd, NULL, NULL);
	if (l->fd < 0)
		return -1;
	/* Each piece goes out when written, as from a server with
	 * TCP_NODELAY. */
	(void)setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bound_waits(l->fd);
	if (gnutls_init(&l->session, GNUTLS_SERVER | GNUTLS_NO_TICKETS) < 0) {
		close(l->fd);
		return -1;
	}
	if (gnutls_set_default_priority(l->session) < 0 ||
	    gnutls_credentials_set(l->session, GNUTLS_CRD_CERTIFICATE, p->cred) < 0) {
		tls_peer_close(l);
		return -1;
	}
	gnutls_transport_set_ptr(l->session, l);
	gnutls_transport_set_pull_function(l->session, link_pull);
	gnutls_transport_set_push_function(l->session, link_push);
	do
		rc = gnutls_handshake(l->session);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0) {
		tls_peer_close(l);
		return -1;
	}
	return 0;
}

int tls_peer_send(struct tls_peer_link *l, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = gnutls_record_send(l->session, p, len);

		if (n < 0 && !gnutls_error_is_fatal((int)n))
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tls_peer_seal(struct tls_peer_link *l, const void *data, size_t len)
{
	ssize_t n;

	if (len == 0 || len > gnutls_record_get_max_size(l->session))
		return -1;
	l->sealing = true;
	n = gnutls_record_send(l->session, data, len);
	l->sealing = false;
	return n == (ssize_t)len ? 0 : -1;
}

int tls_peer_write_wire(struct tls_peer_link *l, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		/* MSG_NOSIGNAL: a client that hung up must not kill the
		 * test with SIGPIPE. */
		ssize_t n = send(l->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tls_peer_recv_byte(struct tls_peer_link *l)
{
	for (;;) {
		char c;
		ssize_t n = gnutls_record_recv(l->session, &c, 1);

		if (n == 1)
			return 0;
		if (n == 0 || gnutls_error_is_fatal((int)n))
			return -1;
	}
}

void tls_peer_drain(struct tls_peer_link *l)
{
	while (tls_peer_recv_byte(l) == 0)
		;
}

void tls_peer_close(struct tls_peer_link *l)
{
	gnutls_deinit(l->session);
	close(l->fd);
	free(l->sealed);
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

/* Encrypt all of tr->data into l->sealed, noting in `tr` where each
 * record ends; in send_wire_end[k] (if not NULL) where the wire bytes of
 * send k end; in *stop_wire where those of the send that ends at
 * stop_after end (-1 if none does). */
static int seal_all(struct tls_trickler *tr, struct tls_peer_link *l, size_t *send_wire_end,
                    size_t *stop_wire)
{
	size_t max = gnutls_record_get_max_size(l->session), pos = 0, cap = 0;

	for (size_t k = 0; pos < tr->len; k++) {
		size_t end = pos + tr->sends[k % tr->nsends];

		if (end > tr->len)
			end = tr->len;
		while (pos < end) {
			size_t n = end - pos < max ? end - pos : max;

			if (tls_peer_seal(l, tr->data + pos, n) < 0)
				return -1;
			pos += n;
			if (tr->nrec == cap) {
				cap = cap ? 2 * cap : 64;
				tr->rec_plain_end = xrealloc(tr->rec_plain_end, cap * sizeof(size_t));
				tr->rec_wire_end = xrealloc(tr->rec_wire_end, cap * sizeof(size_t));
			}
			tr->rec_plain_end[tr->nrec] = pos;
			tr->rec_wire_end[tr->nrec++] = l->sealed_len;
		}
		if (send_wire_end)
			send_wire_end[k] = l->sealed_len;
		if (pos == tr->stop_after)
			*stop_wire = l->sealed_len;
	}
	return tr->stop_after && !*stop_wire ? -1 : 0;
}

static void *trickle(void *arg)
{
	struct tls_trickler *tr = arg;
	struct tls_peer_link l;
	size_t *send_wire_end = NULL, stop = 0, pos = 0, k = 0;

	if (tls_peer_accept(tr->peer, &l) < 0)
		return NULL;
	if (!tr->pieces)
		send_wire_end = xcalloc(tr->len, sizeof(size_t)); /* at most one send a byte */
	if (seal_all(tr, &l, send_wire_end, &stop) < 0)
		goto out;
	while (pos < l.sealed_len) {
		size_t n = tr->pieces ? tr->pieces[k % tr->npieces] : send_wire_end[k] - pos;

		k++;
		if (n > l.sealed_len - pos)
			n = l.sealed_len - pos;
		if (stop && pos < stop && n > stop - pos)
			n = stop - pos;
		usleep((useconds_t)tr->pause_us);
		if (tls_peer_write_wire(&l, l.sealed + pos, n) < 0)
			goto out;
		pos += n;
		if (pos == stop && tls_peer_recv_byte(&l) < 0)
			goto out;
	}
	tr->ok = true;
	tls_peer_drain(&l);
out:
	free(send_wire_end);
	tls_peer_close(&l);
	return NULL;
}

void tls_trickler_start(struct tls_trickler *tr)
{
	cr_assert_eq(pthread_create(&tr->th, NULL, trickle, tr), 0);
}

void tls_trickler_join(struct tls_trickler *tr)
{
	pthread_join(tr->th, NULL);
	cr_assert(tr->ok, "the server did not get to send all it was asked to");
}

size_t tls_trickler_wire_through(const struct tls_trickler *tr, size_t plain)
{
	for (size_t i = 0; i < tr->nrec; i++)
		if (tr->rec_plain_end[i] >= plain)
			return tr->rec_wire_end[i];
	cr_assert_fail("no record holds byte %zu", plain);
	return 0;
}

size_t tls_trickler_plain_within(const struct tls_trickler *tr, size_t wire)
{
	size_t plain = 0;

	for (size_t i = 0; i < tr->nrec && tr->rec_wire_end[i] <= wire; i++)
		plain = tr->rec_plain_end[i];
	return plain;
}

void tls_trickler_free(struct tls_trickler *tr)
{
	free(tr->rec_plain_end);
	free(tr->rec_wire_end);
	tr->rec_plain_end = tr->rec_wire_end = NULL;
	tr->nrec = 0;
}

static void *serve_fetches(void *arg)
{
	struct tls_fetcher *fe = arg;
	struct tls_peer_link l;
	char head[64 + 1000];

	if (tls_peer_accept(fe->peer, &l) < 0)
		return NULL;
	for (int i = 0; i < fe->count; i++) {
		int n = snprintf(head, 64, "* %d FETCH (BODY[] {%zu}\r\n", i + 1, fe->len);

		memcpy(head + n, fe->body, 1000);
		if (tls_peer_recv_byte(&l) < 0 || tls_peer_send(&l, head, (size_t)n + 1000) < 0)
			goto out;
		usleep(5000);
		if (tls_peer_send(&l, fe->body + 1000, fe->len - 1000) < 0 ||
		    tls_peer_send(&l, ")\r\n", 3) < 0)
			goto out;
	}
	fe->ok = true;
	tls_peer_drain(&l);
out:
	tls_peer_close(&l);
	return NULL;
}

void tls_fetcher_start(struct tls_fetcher *fe)
{
	cr_assert_gt(fe->len, 1000);
	cr_assert_eq(pthread_create(&fe->th, NULL, serve_fetches, fe), 0);
}

void tls_fetcher_join(struct tls_fetcher *fe)
{
	pthread_join(fe->th, NULL);
	cr_assert(fe->ok, "the server did not get to send all it was asked to");
}

static ssize_t spy_read(struct transport *t, void *data, size_t len, struct error *err)
{
	struct tls_spy *s = (struct tls_spy *)t;
	ssize_t n = transport_read(s->inner, data, len, err);

	if (n > 0)
		s->read += (uint64_t)n;
	return n;
}

static int spy_write(struct transport *t, const void *data, size_t len, struct error *err)
{
	return transport_write(((struct tls_spy *)t)->inner, data, len, err);
}

static int spy_poll(struct transport *t, int timeout_ms, struct error *err)
{
	return transport_poll(((struct tls_spy *)t)->inner, timeout_ms, err);
}

static void spy_expect(struct transport *t, uint64_t bytes)
{
	struct tls_spy *s = (struct tls_spy *)t;

	cr_assert_lt(s->nhints, TLS_SPY_HINTS);
	s->hints[s->nhints].bytes = bytes;
	s->hints[s->nhints++].read = s->read;
	transport_expect(s->inner, bytes);
}

static void spy_close(struct transport *t)
{
	struct tls_spy *s = (struct tls_spy *)t;

	transport_close(s->inner);
	s->inner = NULL;
}

static const struct transport_ops spy_ops = {
    .name = "spy",
    .read = spy_read,
    .write = spy_write,
    .poll = spy_poll,
    .expect = spy_expect,
    .close = spy_close,
};

struct conn *tls_peer_connect(struct tls_peer *p, int io_ms)
{
	struct conn_options opts = {.host = "127.0.0.1",
	                            .port = p->port,
	                            .tls = TLS_IMPLICIT,
	                            .timeouts = {.connect_ms = 5000, .io_ms = io_ms},
	                            .ca_file = p->ca_file};
	struct error err = {0};
	struct conn *c = conn_open(&opts, &err);

	tls_peer_forget_files(p);
	cr_assert_not_null(c, "%s", err.text);
	cr_assert(conn_is_tls(c));
	return c;
}

struct transport *tls_peer_connect_spied(struct tls_peer *p, int io_ms, struct tls_spy *spy)
{
	struct net_timeouts to = {.connect_ms = 5000, .io_ms = io_ms};
	struct tls_options opts = {
	    .host = "127.0.0.1", .port = p->port, .ca_file = p->ca_file, .timeout_ms = to.connect_ms};
	struct error err = {0};
	struct transport *t = tcp_connect("127.0.0.1", p->port, &to, &err);

	if (t) {
		spy->base.ops = &spy_ops;
		spy->inner = t;
		t = tls_wrap(&spy->base, &opts, &err);
	}
	tls_peer_forget_files(p);
	cr_assert_not_null(t, "%s", err.text);
	spy->read = 0;
	spy->nhints = 0;
	return t;
}
