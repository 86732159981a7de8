/*
 * The latency scenario's proxy: a process listening on a free 127.0.0.1
 * port that forwards every connection to the server's port, holding each
 * chunk of bytes for BENCH_PROXY_DELAY_MS in each direction (a delay
 * line: round trips cost twice the delay, throughput is not limited).
 * TLS passes through untouched, so certificates still verify.
 *
 * Processes, not threads: the proxy is forked while the bench is small,
 * forks one process per connection and direction, and dies with the
 * bench (PR_SET_PDEATHSIG).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "twinbox/util/xmalloc.h"

/* Bytes held in one direction before the proxy stops reading (back
 * pressure instead of unbounded memory). */
#define HELD_MAX (16u << 20)
#define CHUNK    65536

struct chunk {
	struct chunk *next;
	double due;
	size_t len;
	char data[];
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* One direction, src to dst, until src ends and everything held is sent. */
static void pump(int src, int dst, unsigned delay_ms)
{
	struct chunk *head = NULL, **tail = &head;
	size_t held = 0;
	bool eof = false;

	while (!eof || head) {
		double t = now_ms();
		int timeout = -1;
		struct pollfd p = {.fd = src, .events = POLLIN};

		while (head && head->due <= t) {
			struct chunk *c = head;

			if (!write_all(dst, c->data, c->len))
				_exit(0);
			head = c->next;
			if (!head)
				tail = &head;
			held -= c->len;
			free(c);
		}
		if (head)
			timeout = (int)(head->due - t) + 1;
		if (eof || held >= HELD_MAX)
			p.fd = -1;
		if (!head && p.fd < 0)
			break;
		if (poll(&p, 1, timeout) < 0 && errno != EINTR)
			_exit(1);
		if (p.fd >= 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
			struct chunk *c = xmalloc(sizeof(*c) + CHUNK);
			ssize_t n = read(src, c->data, CHUNK);

			if (n <= 0) {
				free(c);
				eof = true;
				continue;
			}
			c->len = (size_t)n;
			c->due = now_ms() + delay_ms;
			c->next = NULL;
			*tail = c;
			tail = &c->next;
			held += c->len;
		}
	}
	shutdown(dst, SHUT_WR);
	_exit(0);
}

static int connect_server(unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void serve(int listen_fd, unsigned server_port, unsigned delay_ms)
{
	signal(SIGCHLD, SIG_IGN); /* the pumps reap themselves */
	for (;;) {
		int one = 1;
		int client = accept(listen_fd, NULL, NULL);
		int upstream;

		if (client < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		upstream = connect_server(server_port);
		if (upstream < 0) {
			close(client);
			continue;
		}
		setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (fork() == 0) {
			close(listen_fd);
			pump(client, upstream, delay_ms);
		}
		if (fork() == 0) {
			close(listen_fd);
			pump(upstream, client, delay_ms);
		}
		close(client);
		close(upstream);
	}
}

pid_t bench_proxy_start(unsigned server_port, unsigned delay_ms, unsigned *port_r)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t len = sizeof(a);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	pid_t parent = getpid(), pid;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		bench_fail("cannot set up the latency proxy: %s", strerror(errno));
	*port_r = ntohs(a.sin_port);
	pid = fork();
	if (pid < 0)
		bench_fail("cannot fork the latency proxy: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		serve(fd, server_port, delay_ms);
	}
	close(fd);
	return pid;
}

void bench_proxy_stop(pid_t pid)
{
	/* The pumps of finished connections are gone already; a tool
	 * still connected would be a bug of the bench. */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
