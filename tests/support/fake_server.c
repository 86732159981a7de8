#include "fake_server.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
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

/* ---- proxy mode ---- */

#define PENDING_MAX   64
#define PROXY_IDLE_MS 60000 /* a client (or backend) silent this long is dropped */

struct fake_conn {
	struct fake_server *f;
	int cfd, bfd;
	pthread_t th;
	struct buf cin, bin; /* bytes read from the client / the backend, not yet handled */
	uint64_t clit, blit; /* literal bytes to pass on (or drop) before the next line */
	bool in_cmd;         /* the client's next line goes on with a command */
	bool drop;           /* ... one replaced by a NOOP: drop it */
	struct {
		char tag[64];
		const struct fake_fault *fault;
	} pending[PENDING_MAX]; /* replaced commands, their NOOPs not answered yet */
	size_t npending;
};

/* The size of a literal announced at the end of `line` ("{12}\r\n",
 * "{12+}\r\n"); *sync_r whether it waits for "+". 0: none. */
static uint64_t literal_at_end(const char *line, size_t len, bool *sync_r)
{
	size_t end = len;
	uint64_t n = 0, scale = 1;

	while (end > 0 && (line[end - 1] == '\n' || line[end - 1] == '\r'))
		end--;
	if (end < 3 || line[end - 1] != '}')
		return 0;
	end--;
	*sync_r = line[end - 1] != '+';
	if (!*sync_r)
		end--;
	while (end > 0 && line[end - 1] >= '0' && line[end - 1] <= '9') {
		n += (uint64_t)(line[end - 1] - '0') * scale;
		scale *= 10;
		end--;
	}
	return end > 0 && line[end - 1] == '{' ? n : 0;
}

/* Under lock: the fault for a command's first line, counted. */
static const struct fake_fault *fault_for(struct fake_server *f, const char *line)
{
	for (size_t k = 0; f->faults && f->faults[k].match; k++) {
		const struct fake_fault *r = &f->faults[k];
		if (strstr(line, r->match) && (r->times == 0 || f->used[k] < r->times)) {
			f->used[k]++;
			return r;
		}
	}
	return NULL;
}

/* A line of the client's: passed on, or its command replaced. */
static void client_line(struct fake_conn *c, const char *line, size_t len)
{
	bool sync = false;
	uint64_t lit = literal_at_end(line, len, &sync);

	if (!c->in_cmd) {
		struct fake_server *f = c->f;
		char *text = strndup(line, len);
		const struct fake_fault *r;
		size_t tag_len = strcspn(text, " \r\n");

		pthread_mutex_lock(&f->lock);
		buf_append(&f->heard, line, len);
		r = fault_for(f, text);
		pthread_mutex_unlock(&f->lock);
		c->drop = r && tag_len < sizeof(c->pending[0].tag) && c->npending < PENDING_MAX;
		if (c->drop) {
			memcpy(c->pending[c->npending].tag, text, tag_len);
			c->pending[c->npending].tag[tag_len] = '\0';
			c->pending[c->npending++].fault = r;
			send_all(c->bfd, text, tag_len);
			send_all(c->bfd, " NOOP\r\n", 7);
		}
		free(text);
	}
	if (!c->drop)
		send_all(c->bfd, line, len);
	/* A replaced command's synchronizing literal never comes: the
	 * client waits for a "+" and gets the fault's reply instead. */
	c->clit = lit && !(c->drop && sync) ? lit : 0;
	c->in_cmd = c->clit > 0;
}

/* A line of the backend's: passed on, or the answer of a replaced
 * command's NOOP turned into the fault's reply. false: hang up. */
static bool backend_line(struct fake_conn *c, const char *line, size_t len)
{
	bool sync = false;

	c->blit = literal_at_end(line, len, &sync);
	for (size_t i = 0; i < c->npending; i++) {
		size_t t = strlen(c->pending[i].tag);
		if (len > t && memcmp(line, c->pending[i].tag, t) == 0 && line[t] == ' ') {
			const struct fake_fault *r = c->pending[i].fault;
			answer(c->cfd, r->reply, line);
			c->pending[i] = c->pending[--c->npending];
			return !r->hang_up;
		}
	}
	send_all(c->cfd, line, len);
	return true;
}

/* Handle what `in` holds from one side: literal bytes passed on (or
 * dropped), whole lines to `on_line`. false: hang up. */
static bool pump(struct fake_conn *c, struct buf *in, uint64_t *lit, int to, bool drop_lit,
                 bool (*on_line)(struct fake_conn *, const char *, size_t))
{
	while (in->len > 0) {
		char *lf;
		size_t n;
		if (*lit > 0) {
			n = *lit < in->len ? (size_t)*lit : in->len;
			if (!drop_lit || !c->drop)
				send_all(to, in->data, n);
			buf_consume(in, n);
			*lit -= n;
			continue;
		}
		lf = memchr(in->data, '\n', in->len);
		if (!lf)
			return true;
		n = (size_t)(lf - in->data) + 1;
		if (!on_line(c, in->data, n))
			return false;
		buf_consume(in, n);
	}
	return true;
}

static bool client_line_ok(struct fake_conn *c, const char *line, size_t len)
{
	client_line(c, line, len);
	return true;
}

static void *proxy_conn(void *arg)
{
	struct fake_conn *c = arg;
	char chunk[16384];

	for (;;) {
		struct pollfd pfd[2] = {{.fd = c->cfd, .events = POLLIN}, {.fd = c->bfd, .events = POLLIN}};
		bool ok = true;
		if (poll(pfd, 2, PROXY_IDLE_MS) <= 0)
			break;
		for (int i = 0; i < 2 && ok; i++) {
			ssize_t n;
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = recv(pfd[i].fd, chunk, sizeof(chunk), 0);
			if (n <= 0) {
				ok = false;
			} else if (i == 0) {
				buf_append(&c->cin, chunk, (size_t)n);
				ok = pump(c, &c->cin, &c->clit, c->bfd, true, client_line_ok);
			} else {
				buf_append(&c->bin, chunk, (size_t)n);
				ok = pump(c, &c->bin, &c->blit, c->cfd, false, backend_line);
			}
		}
		if (!ok)
			break;
	}
	shutdown(c->cfd, SHUT_RDWR);
	shutdown(c->bfd, SHUT_RDWR);
	return NULL;
}

static int connect_backend(unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void *run_proxy(void *arg)
{
	struct fake_server *f = arg;

	while (!__atomic_load_n(&f->stopping, __ATOMIC_SEQ_CST)) {
		struct pollfd pfd = {.fd = f->lfd, .events = POLLIN};
		struct fake_conn *c;
		int fd;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&f->lock);
		if (f->connections && f->accepted >= (unsigned)f->connections) {
			/* Over the limit: closed before the greeting. */
			pthread_mutex_unlock(&f->lock);
			close(fd);
			continue;
		}
		pthread_mutex_unlock(&f->lock);
		c = calloc(1, sizeof(*c));
		c->f = f;
		c->cfd = fd;
		c->bfd = connect_backend(f->backend_port);
		pthread_mutex_lock(&f->lock);
		f->accepted++;
		f->conns = realloc(f->conns, (f->conn_count + 1) * sizeof(*f->conns));
		f->conns[f->conn_count++] = c;
		pthread_mutex_unlock(&f->lock);
		if (c->bfd < 0 || pthread_create(&c->th, NULL, proxy_conn, c) != 0) {
			close(c->cfd);
			c->cfd = -1;
		}
	}
	return NULL;
}

static void stop_proxy(struct fake_server *f)
{
	__atomic_store_n(&f->stopping, true, __ATOMIC_SEQ_CST);
	pthread_join(f->th, NULL);
	for (size_t i = 0; i < f->conn_count; i++) {
		struct fake_conn *c = f->conns[i];
		if (c->cfd >= 0) {
			pthread_join(c->th, NULL);
			close(c->cfd);
		}
		if (c->bfd >= 0)
			close(c->bfd);
		buf_free(&c->cin);
		buf_free(&c->bin);
		free(c);
	}
	free(f->conns);
	f->conns = NULL;
	f->conn_count = 0;
}

/* ---- the scripted server ---- */

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
	if (f->connections == 0 && !f->backend_port)
		f->connections = 1;
	if (f->backend_port) {
		size_t n = 0;
		while (f->faults && f->faults[n].match)
			n++;
		f->used = calloc(n + 1, sizeof(*f->used));
	}
	cr_assert_eq(pthread_create(&f->th, NULL, f->backend_port ? run_proxy : run, f), 0);
}

void fake_server_stop(struct fake_server *f)
{
	if (f->backend_port)
		stop_proxy(f);
	else
		pthread_join(f->th, NULL);
	close(f->lfd);
	f->lfd = -1;
}

void fake_server_free(struct fake_server *f)
{
	buf_free(&f->heard);
	free(f->used);
	f->used = NULL;
	pthread_mutex_destroy(&f->lock);
}

size_t fake_server_heard(struct fake_server *f, const char *text)
{
	size_t n = 0;

	pthread_mutex_lock(&f->lock);
	for (const char *p = f->heard.data;
	     p && (p = memmem(p, f->heard.len - (size_t)(p - f->heard.data), text, strlen(text))) != NULL;
	     p++)
		n++;
	pthread_mutex_unlock(&f->lock);
	return n;
}

void fake_server_reset(struct fake_server *f)
{
	if (f->lfd > 0)
		fake_server_stop(f);
	if (f->port)
		fake_server_free(f);
	memset(f, 0, sizeof(*f));
}
