/* TCP transport and conn_open against listeners the test opens on
 * loopback. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "twinbox/net/conn.h"
#include "twinbox/net/tcp.h"

/* A listening socket on 127.0.0.1 with a kernel-chosen port. */
static int listen_loopback(int backlog, unsigned *port_r)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, backlog), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port_r = ntohs(sa.sin_port);
	return fd;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Test(net_tcp, refused_on_a_closed_port)
{
	struct net_timeouts to = {.connect_ms = 2000, .io_ms = 2000};
	struct error err = {0};
	unsigned port;
	char want[64];

	close(listen_loopback(1, &port)); /* nobody listens there now */
	cr_assert_null(tcp_connect("127.0.0.1", port, &to, &err));
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	snprintf(want, sizeof(want), "could not connect to 127.0.0.1:%u", port);
	cr_assert(strstr(err.text, want), "got: %s", err.text);
	cr_assert(strstr(err.text, "connection refused"), "got: %s", err.text);
	cr_assert(strstr(err.text, "`port:`"), "got: %s", err.text);
}

Test(net_tcp, unresolvable_name)
{
	struct error err = {0};

	cr_assert_null(tcp_connect("no-such-host.invalid", 993, NULL, &err));
	cr_assert(
	    strstr(err.text, "could not resolve \"no-such-host.invalid\" (for no-such-host.invalid:993)"),
	    "got: %s", err.text);
	cr_assert(strstr(err.text, "`host:`"), "got: %s", err.text);
}

Test(net_tcp, bad_port_and_empty_host)
{
	struct error err = {0};

	cr_assert_null(tcp_connect("127.0.0.1", 0, NULL, &err));
	cr_assert(strstr(err.text, "1 to 65535"), "got: %s", err.text);
	cr_assert_null(tcp_connect("", 993, NULL, &err));
	cr_assert(strstr(err.text, "`host:`"), "got: %s", err.text);
}

Test(net_tcp, read_times_out_when_the_server_never_answers)
{
	struct net_timeouts to = {.connect_ms = 2000, .io_ms = 200};
	struct error err = {0};
	unsigned port;
	int lfd = listen_loopback(4, &port); /* the kernel accepts; nobody speaks */
	struct transport *t = tcp_connect("127.0.0.1", port, &to, &err);
	long long start;
	char c;

	cr_assert_not_null(t, "%s", err.text);
	start = now_ms();
	cr_assert_eq(transport_read(t, &c, 1, &err), -1);
	cr_assert_geq(now_ms() - start, 150, "gave up too early");
	cr_assert_lt(now_ms() - start, 5000, "did not give up");
	cr_assert(strstr(err.text, "timed out after 200 ms"), "got: %s", err.text);
	cr_assert(strstr(err.text, "127.0.0.1:"), "got: %s", err.text);
	cr_assert_eq(transport_poll(t, 50, &err), 0, "poll times out quietly");
	transport_close(t);
	close(lfd);
}

Test(net_tcp, bytes_flow_both_ways_and_eof_reads_as_zero)
{
	struct error err = {0};
	unsigned port;
	int lfd = listen_loopback(4, &port);
	struct transport *t = tcp_connect("127.0.0.1", port, NULL, &err);
	char got[16] = {0};
	int sfd;

	cr_assert_not_null(t, "%s", err.text);
	sfd = accept(lfd, NULL, NULL);
	cr_assert_geq(sfd, 0);
	cr_assert_eq(transport_write(t, "ping\r\n", 6, &err), 0, "%s", err.text);
	cr_assert_eq(read(sfd, got, sizeof(got)), 6);
	cr_assert_str_eq(got, "ping\r\n");
	cr_assert_eq(write(sfd, "pong", 4), 4);
	cr_assert_eq(transport_poll(t, 2000, &err), 1);
	memset(got, 0, sizeof(got));
	cr_assert_eq(transport_read(t, got, sizeof(got), &err), 4, "%s", err.text);
	cr_assert_str_eq(got, "pong");
	close(sfd);
	cr_assert_eq(transport_read(t, got, sizeof(got), &err), 0);
	transport_close(t);
	close(lfd);
}

Test(net_tcp, every_address_of_a_name_is_tried)
{
	/* "localhost" may resolve to ::1 first; only 127.0.0.1 listens. */
	struct error err = {0};
	unsigned port;
	int lfd = listen_loopback(4, &port);
	struct transport *t = tcp_connect("localhost", port, NULL, &err);

	cr_assert_not_null(t, "%s", err.text);
	transport_close(t);
	close(lfd);
}

Test(net_tcp, writing_to_a_closed_peer_fails_without_sigpipe)
{
	struct error err = {0};
	unsigned port;
	int lfd = listen_loopback(4, &port);
	struct transport *t = tcp_connect("127.0.0.1", port, NULL, &err);
	static char block[65536];
	int sfd, r = 0;

	cr_assert_not_null(t, "%s", err.text);
	sfd = accept(lfd, NULL, NULL);
	close(sfd);
	/* The first writes may still be accepted by the kernel; the peer's
	 * RST then turns later ones into EPIPE, which must not kill us. */
	for (int i = 0; i < 100 && r == 0; i++) {
		r = transport_write(t, block, sizeof(block), &err);
		usleep(1000);
	}
	cr_assert_eq(r, -1);
	cr_assert(strstr(err.text, "closed the connection") || strstr(err.text, "reset"), "got: %s",
	          err.text);
	transport_close(t);
	close(lfd);
}

Test(net_tcp, connect_times_out_when_syns_go_unanswered)
{
	/* A listener whose accept queue is full drops new SYNs: the connect
	 * hangs as it would behind a firewall. */
	struct net_timeouts to = {.connect_ms = 300, .io_ms = 300};
	struct error err = {0};
	unsigned port;
	int lfd = listen_loopback(0, &port);
	struct transport *filler[4] = {0};
	struct transport *t;
	long long start;

	for (int i = 0; i < 4; i++)
		filler[i] = tcp_connect("127.0.0.1", port, &to, &err);
	start = now_ms();
	t = tcp_connect("127.0.0.1", port, &to, &err);
	/* Linux drops SYNs while the accept queue is full (unless
	 * net.ipv4.tcp_abort_on_overflow is set), which is what makes the
	 * connect hang here. A kernel that behaves otherwise fails the test
	 * rather than passing it unchecked. */
	cr_assert_null(t, "connected although the accept queue was full; is "
	                  "net.ipv4.tcp_abort_on_overflow set?");
	cr_assert(strstr(err.text, "timed out after 300 ms"), "got: %s", err.text);
	cr_assert(strstr(err.text, "`timeout:`"), "got: %s", err.text);
	cr_assert_lt(now_ms() - start, 5000);
	for (int i = 0; i < 4; i++)
		transport_close(filler[i]);
	close(lfd);
}

/* A plain-text server in a thread, for conn_open. */
struct greeter {
	int lfd;
	const char *greeting;
};

static void *greet(void *arg)
{
	struct greeter *g = arg;
	int fd = accept(g->lfd, NULL, NULL);
	char sink[256];

	if (fd < 0)
		return NULL;
	(void)!write(fd, g->greeting, strlen(g->greeting));
	/* Read until the client hangs up. */
	while (read(fd, sink, sizeof(sink)) > 0)
		;
	close(fd);
	return NULL;
}

Test(net_tcp, conn_open_plain_reads_the_greeting)
{
	struct greeter g = {.greeting = "+OK POP3 ready\r\n"};
	struct conn_options opts = {.host = "127.0.0.1", .tls = TLS_NONE};
	struct buf line = BUF_INIT;
	struct error err = {0};
	pthread_t th;
	struct conn *c;

	g.lfd = listen_loopback(4, &opts.port);
	cr_assert_eq(pthread_create(&th, NULL, greet, &g), 0);
	c = conn_open(&opts, &err);
	cr_assert_not_null(c, "%s", err.text);
	cr_assert_eq(conn_readline(c, &line, 100, &err), 0, "%s", err.text);
	cr_assert_str_eq(buf_cstr(&line), "+OK POP3 ready");
	cr_assert_str_eq(conn_security(c), "plain");
	conn_close(c);
	pthread_join(th, NULL);
	close(g.lfd);
	buf_free(&line);
}

Test(net_tcp, conn_open_implicit_tls_to_a_plain_port_says_so)
{
	struct greeter g = {.greeting = "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"};
	struct conn_options opts = {.host = "127.0.0.1", .tls = TLS_IMPLICIT};
	struct error err = {0};
	pthread_t th;
	char want[64];

	g.lfd = listen_loopback(4, &opts.port);
	cr_assert_eq(pthread_create(&th, NULL, greet, &g), 0);
	cr_assert_null(conn_open(&opts, &err));
	snprintf(want, sizeof(want), "127.0.0.1:%u did not answer in TLS", opts.port);
	cr_assert(strstr(err.text, want), "got: %s", err.text);
	pthread_join(th, NULL);
	close(g.lfd);
}

Test(net_tcp, conn_open_refused_names_host_and_port)
{
	struct conn_options opts = {.host = "127.0.0.1", .tls = TLS_IMPLICIT};
	struct error err = {0};
	char want[64];

	close(listen_loopback(1, &opts.port));
	cr_assert_null(conn_open(&opts, &err));
	snprintf(want, sizeof(want), "127.0.0.1:%u", opts.port);
	cr_assert(strstr(err.text, want) && strstr(err.text, "connection refused"), "got: %s", err.text);
}

Test(net_tcp, tls_handshake_with_a_silent_server_times_out)
{
	struct conn_options opts = {
	    .host = "127.0.0.1",
	    .tls = TLS_IMPLICIT,
	    .timeouts = {.connect_ms = 300, .io_ms = 10000},
	};
	struct error err = {0};
	int lfd = listen_loopback(4, &opts.port); /* accepted by the kernel, never answered */
	long long start = now_ms();
	char want[80];

	cr_assert_null(conn_open(&opts, &err));
	cr_assert_lt(now_ms() - start, 5000, "the handshake timeout, not the I/O timeout, applies");
	snprintf(want, sizeof(want), "TLS handshake with 127.0.0.1:%u timed out after 300 ms", opts.port);
	cr_assert(strstr(err.text, want), "got: %s", err.text);
	close(lfd);
}
