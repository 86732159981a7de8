/*
 * The latency scenario's proxy: a process listening on a free 127.0.0.1
 * port that forwards every connection to the server's port, holding each
 * chunk of bytes for BENCH_PROXY_DELAY_MS in each direction (a delay
 * line: round trips cost twice the delay, throughput is not limited).
 * TLS passes through untouched, so certificates still verify.
 *
 * With a link (bench_link_new), the proxy also limits throughput: every
 * connection of every proxy on that link shares one token bucket per
 * direction, as the connections of a tool share the line of the machine
 * it runs on. A chunk is sent once the line has carried it (its last
 * byte at the link's rate, after the chunks before it in that
 * direction), and the proxy holds little ahead of the line (LINK_HELD_MAX,
 * a short queue, as a modem's), so a round trip behind a busy line costs
 * what it would on one.
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
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
/* On a link: about 40 ms of a 50 Mbit/s line. */
#define LINK_HELD_MAX (256u << 10)
/* What the line may carry at once after it was idle (a bucket's depth). */
#define LINK_BURST 65536

/* Shared (MAP_SHARED) by the proxies forked after it was made, and by
 * their pumps. Times in nanoseconds on CLOCK_MONOTONIC, which all
 * processes share. */
struct bench_link {
	unsigned mbit;
	int64_t ns_per_kbyte;          /* 1024 bytes at the link's rate */
	_Atomic int64_t free_at_ns[2]; /* when the line is idle again: to the servers, to the tools */
};

struct chunk {
	struct chunk *next;
	double due;
	size_t len;
	char data[];
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double now_ms(void)
{
	return (double)now_ns() / 1e6;
}

/* Book `len` bytes on the line in direction `dir`: returns when (ms)
 * their last byte has passed. An idle line has LINK_BURST bytes to
 * spare; a busy one queues the bytes behind those booked before. */
static double link_book(struct bench_link *l, int dir, size_t len)
{
	int64_t now = now_ns(), cost = (int64_t)len * l->ns_per_kbyte / 1024;
	int64_t burst = (int64_t)LINK_BURST * l->ns_per_kbyte / 1024;
	int64_t old = atomic_load(&l->free_at_ns[dir]), start, end;

	do {
		start = old > now - burst ? old : now - burst;
		end = start + cost;
	} while (!atomic_compare_exchange_weak(&l->free_at_ns[dir], &old, end));
	return (double)end / 1e6;
}

struct bench_link *bench_link_new(unsigned mbit_per_s)
{
	struct bench_link *l =
	    mmap(NULL, sizeof(*l), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (l == MAP_FAILED)
		bench_fail("cannot map the link's shared state: %s", strerror(errno));
	l->mbit = mbit_per_s;
	/* 8192 bits per KiB; mbit_per_s * 1e6 bits per second. */
	l->ns_per_kbyte = (int64_t)(8192.0 * 1e9 / ((double)mbit_per_s * 1e6));
	atomic_init(&l->free_at_ns[0], 0);
	atomic_init(&l->free_at_ns[1], 0);
	return l;
}

void bench_link_free(struct bench_link *l)
{
	if (l)
		munmap(l, sizeof(*l));
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

/* One direction, src to dst, until src ends and everything held is sent;
 * `dir` is the link's direction (0: to the server). */
static void pump(int src, int dst, unsigned delay_ms, struct bench_link *link, int dir)
{
	size_t held_max = link ? LINK_HELD_MAX : HELD_MAX;
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
		if (eof || held >= held_max)
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
			if (link) {
				double passed = link_book(link, dir, c->len);
				if (passed > c->due)
					c->due = passed;
			}
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

static void serve(int listen_fd, unsigned server_port, unsigned delay_ms, struct bench_link *link)
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
			pump(client, upstream, delay_ms, link, 0);
		}
		if (fork() == 0) {
			close(listen_fd);
			pump(upstream, client, delay_ms, link, 1);
		}
		close(client);
		close(upstream);
	}
}

pid_t bench_proxy_start(unsigned server_port, unsigned delay_ms, unsigned *port_r)
{
	return bench_proxy_start_link(server_port, delay_ms, NULL, port_r);
}

pid_t bench_proxy_start_link(unsigned server_port, unsigned delay_ms, struct bench_link *link,
                             unsigned *port_r)
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
		serve(fd, server_port, delay_ms, link);
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
