#include "fake_server.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MS 10000

static void send_all(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, text, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		text += n;
		len -= (size_t)n;
	}
}

/* `reply` with "$T" replaced by the first word of `line`. */
static void answer(int fd, const char *reply, const char *line)
{
	struct buf out = BUF_INIT;
	size_t tag_len = strcspn(line, " \r\n");

	for (const char *p = reply; *p; p++) {
		if (p[0] == '$' && p[1] == 'T') {
			buf_append(&out, line, tag_len);
			p++;
		} else {
			buf_append_byte(&out, *p);
		}
	}
	send_all(fd, out.data ? out.data : "", out.len);
	buf_free(&out);
}

static const struct fake_rule *rule_for(const struct fake_server *f, const char *line)
{
	for (const struct fake_rule *r = f->rules; r && r->match; r++)
		if (strstr(line, r->match))
			return r;
	return NULL;
}

/* Serve one client until it or a rule hangs up. */
static void serve(struct fake_server *f, int fd)
{
	struct buf in = BUF_INIT;
	char chunk[4096];

	if (f->greeting)
		send_all(fd, f->greeting, strlen(f->greeting));
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		char *lf;
		ssize_t n;

		while ((lf = memchr(in.data ? in.data : "", '\n', in.len)) != NULL) {
			size_t len = (size_t)(lf - in.data) + 1;
			char *line = strndup(in.data, len);
			const struct fake_rule *r = rule_for(f, line);
			pthread_mutex_lock(&f->lock);
			buf_append(&f->heard, line, len);
			pthread_mutex_unlock(&f->lock);
			buf_consume(&in, len);
			if (r || f->no_rule)
				answer(fd, r ? r->reply : f->no_rule, line);
			free(line);
			if (r && r->hang_up)
				goto out;
		}
		if (poll(&pfd, 1, WAIT_MS) <= 0)
			break;
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n <= 0)
			break;
		buf_append(&in, chunk, (size_t)n);
	}
out:
	buf_free(&in);
}

static void *run(void *arg)
{
	struct fake_server *f = arg;

	for (int i = 0; i < f->connections; i++) {
		struct pollfd pfd = {.fd = f->lfd, .events = POLLIN};
		int fd;
		if (poll(&pfd, 1, WAIT_MS) <= 0)
			break;
		fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			break;
		serve(f, fd);
		close(fd);
	}
	return NULL;
}

void fake_server_start(struct fake_server *f)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);

	buf_init(&f->heard, 0);
	pthread_mutex_init(&f->lock, NULL);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(f->lfd, 0);
	cr_assert_eq(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(f->lfd, 4), 0);
	cr_assert_eq(getsockname(f->lfd, (struct sockaddr *)&sa, &len), 0);
	f->port = ntohs(sa.sin_port);
	if (f->connections == 0)
		f->connections = 1;
	cr_assert_eq(pthread_create(&f->th, NULL, run, f), 0);
}

void fake_server_stop(struct fake_server *f)
{
	pthread_join(f->th, NULL);
	close(f->lfd);
	f->lfd = -1;
}

void fake_server_free(struct fake_server *f)
{
	buf_free(&f->heard);
	pthread_mutex_destroy(&f->lock);
}

void fake_server_reset(struct fake_server *f)
{
	if (f->lfd > 0)
		fake_server_stop(f);
	if (f->port)
		fake_server_free(f);
	memset(f, 0, sizeof(*f));
}
