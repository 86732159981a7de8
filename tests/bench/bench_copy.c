/*
 * The migration's raw bound: what copying every message from one IMAP
 * server to another costs on the wire, with nothing else. Written on
 * twinbox's own IMAP session layer (imap/session.h, imap/commands.h),
 * one TLS connection to each server, folders one after the other:
 *
 *   source: LIST "*"; per folder EXAMINE,
 *           UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE), then
 *           UID FETCH 1:* BODY.PEEK[]
 *   target: per folder CREATE (not INBOX), then one APPEND of all the
 *           folder's messages (MULTIAPPEND, each with its flags and
 *           internal date, literals non-synchronizing with LITERAL+;
 *           without MULTIAPPEND, 64 APPENDs in flight)
 *
 * The two run at once: the source's side in the main thread writes each
 * body's bytes into a pipe as they stream in; a thread of the target's
 * side reads them out of it into the APPEND's literals. The APPEND needs
 * each message's flags, date and size before its bytes, hence the first,
 * small FETCH, which costs a round trip per folder: sent right behind it,
 * the second FETCH's bodies may come before the first one's data ends
 * (Dovecot answers both at once), and the APPEND could not start. Nothing
 * is stored, no state is kept, nothing is checked but the counts and
 * sizes: a migration tool cannot be much faster over one connection per
 * server.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bench.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

/* What the target's APPEND needs of one message. */
struct meta {
	char *flags; /* without \Recent, which no client may set */
	time_t date;
	int tz_minutes;
	uint64_t size;
};

/* One folder's copy, shared by the two threads. */
struct folder_copy {
	const char *name;
	struct imap_session *dst;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool meta_ready, meta_failed;
	struct meta *m;
	size_t count, cap;
	/* The source's side. */
	int pipe_w;
	size_t bodies; /* bodies begun */
	uint64_t bytes;
	/* The target's side. */
	int pipe_r;
	int rc;
	struct error err;
	size_t appended;
};

/* ---- the source's side ---------------------------------------------------- */

static void publish_meta(struct folder_copy *f, bool failed)
{
	pthread_mutex_lock(&f->lock);
	if (!f->meta_ready) {
		f->meta_ready = true;
		f->meta_failed = failed;
		pthread_cond_signal(&f->cond);
	}
	pthread_mutex_unlock(&f->lock);
}

static int on_meta(struct imap_cmd *cmd, const struct imap_event *ev, struct error *err)
{
	struct folder_copy *f = cmd->ctx;
	const struct imap_fetch *x = ev->fetch;
	struct buf flags = BUF_INIT;
	struct meta *m;

	if (ev->type != IMAP_EV_FETCH_END)
		return 0;
	if (!(x->have & IMAP_FETCH_SIZE) || !(x->have & IMAP_FETCH_INTERNALDATE))
		return error_set(err, ERR_ACCOUNT, "FETCH of UID %u without its size or date", x->uid);
	if (f->count == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 256;
		f->m = xrealloc(f->m, f->cap * sizeof(*f->m));
	}
	for (size_t k = 0; k < x->flags.count; k++)
		if (strcasecmp(x->flags.v[k], "\\Recent") != 0)
			buf_printf(&flags, "%s%s", flags.len ? " " : "", x->flags.v[k]);
	m = &f->m[f->count++];
	m->flags = xstrdup(buf_cstr(&flags));
	m->date = x->internaldate;
	m->tz_minutes = x->tz_minutes;
	m->size = x->size;
	buf_free(&flags);
	return 0;
}

static int write_all(int fd, const void *data, size_t len, struct error *err)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return error_set(err, ERR_ACCOUNT, "the target's side stopped reading: %s",
			                 n < 0 ? strerror(errno) : "short write");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int on_body(struct imap_cmd *cmd, const struct imap_event *ev, struct error *err)
{
	struct folder_copy *f = cmd->ctx;

	switch (ev->type) {
	case IMAP_EV_BODY_START:
		if (f->bodies >= f->count || ev->body->size != f->m[f->bodies].size)
			return error_set(
			    err, ERR_ACCOUNT, "body %zu of %zu: %llu bytes, RFC822.SIZE said %llu",
			    f->bodies + 1, f->count, (unsigned long long)ev->body->size,
			    f->bodies < f->count ? (unsigned long long)f->m[f->bodies].size : 0ULL);
		f->bodies++;
		return 0;
	case IMAP_EV_BODY_CHUNK:
		f->bytes += ev->chunk_len;
		return write_all(f->pipe_w, ev->chunk, ev->chunk_len, err);
	default:
		return 0;
	}
}

/* EXAMINE, both FETCHes (the metadata published between them); the
 * bodies go into f->pipe_w. */
static int source_side(struct imap_session *src, struct folder_copy *f, struct error *err)
{
	static const struct imap_cmd_ops meta_ops = {.fetch = on_meta}, body_ops = {.fetch = on_body};
	struct imap_cmd meta, body;
	int rc;

	if (imap_select(src, f->name, true, NULL, err) < 0)
		return -1;
	if (imap_selected(src)->exists == 0)
		return 0;
	imap_cmd_init(&meta, "UID FETCH");
	imap_cmd_add(&meta, " 1:* (FLAGS INTERNALDATE RFC822.SIZE)");
	meta.ops = &meta_ops;
	meta.ctx = f;
	imap_cmd_init(&body, "UID FETCH");
	imap_cmd_add(&body, " 1:* BODY.PEEK[]");
	body.ops = &body_ops;
	body.ctx = f;
	rc = imap_run(src, &meta, err);
	publish_meta(f, rc < 0);
	if (rc == 0)
		rc = imap_run(src, &body, err);
	imap_cmd_free(&meta);
	imap_cmd_free(&body);
	if (rc == 0 && f->bodies != f->count)
		rc = error_set(err, ERR_ACCOUNT, "%zu bodies for %zu messages", f->bodies, f->count);
	return rc;
}

/* ---- the target's side ---------------------------------------------------- */

struct pipe_source {
	int fd;
	uint64_t left;
};

static int pipe_read(void *ctx, void *data, size_t len, size_t *got_r, struct error *err)
{
	struct pipe_source *p = ctx;
	ssize_t n;

	if (len > p->left)
		len = (size_t)p->left;
	do
		n = read(p->fd, data, len);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return error_set(err, ERR_ACCOUNT, "the source's side stopped: %s",
		                 n < 0 ? strerror(errno) : "end of the bodies");
	p->left -= (uint64_t)n;
	*got_r = (size_t)n;
	return 0;
}

static void *target_side(void *arg)
{
	struct folder_copy *f = arg;
	struct imap_append_msg *msgs = NULL;
	struct imap_literal_source *srcs = NULL;
	struct pipe_source *pipes = NULL;

	f->rc = 0;
	if (strcmp(f->name, "INBOX") != 0 && imap_create(f->dst, f->name, &f->err) < 0) {
		f->rc = -1;
		goto out;
	}
	pthread_mutex_lock(&f->lock);
	while (!f->meta_ready)
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);
	if (f->meta_failed || f->count == 0)
		goto out;
	msgs = xcalloc(f->count, sizeof(*msgs));
	srcs = xcalloc(f->count, sizeof(*srcs));
	pipes = xcalloc(f->count, sizeof(*pipes));
	for (size_t i = 0; i < f->count; i++) {
		pipes[i] = (struct pipe_source){f->pipe_r, f->m[i].size};
		srcs[i] = (struct imap_literal_source){f->m[i].size, pipe_read, &pipes[i]};
		msgs[i].source = &srcs[i];
		msgs[i].flags = f->m[i].flags;
		msgs[i].has_date = true;
		msgs[i].internaldate = f->m[i].date;
		msgs[i].tz_minutes = f->m[i].tz_minutes;
	}
	f->rc = imap_append_many(f->dst, f->name, msgs, f->count,
	                         &(struct imap_pipeline){.window = 64, .per_command = (unsigned)f->count},
	                         &f->err);
	for (size_t i = 0; i < f->count; i++)
		f->appended += !msgs[i].failed;
out:
	/* A writer still at it gets EPIPE, not a pipe that never drains. */
	close(f->pipe_r);
	free(msgs);
	free(srcs);
	free(pipes);
	return NULL;
}

/* ---- one folder, the whole run -------------------------------------------- */

static int copy_folder(struct imap_session *src, struct imap_session *dst, const char *name,
                       size_t *messages_r, uint64_t *bytes_r, struct error *err)
{
	struct folder_copy f = {.name = name, .dst = dst};
	pthread_t t;
	int fds[2], rc;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return error_set(err, ERR_FATAL, "pipe: %s", strerror(errno));
	/* A pipe of 1 MB: the source's side rarely waits on the target's. */
	fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
	f.pipe_r = fds[0];
	f.pipe_w = fds[1];
	pthread_mutex_init(&f.lock, NULL);
	pthread_cond_init(&f.cond, NULL);
	if (pthread_create(&t, NULL, target_side, &f) != 0)
		return error_set(err, ERR_FATAL, "cannot start a thread");
	rc = source_side(src, &f, err);
	publish_meta(&f, rc < 0);
	/* The target's side sees the end of the bodies (or of a failed
	 * run) once the writer is closed. */
	close(f.pipe_w);
	pthread_join(t, NULL);
	if (rc == 0 && f.rc < 0) {
		*err = f.err;
		rc = -1;
	}
	if (rc == 0 && f.appended != f.count)
		rc = error_set(err, ERR_ACCOUNT, "%s: %zu of %zu messages appended", name, f.appended,
		               f.count);
	*messages_r += f.appended;
	*bytes_r += f.bytes;
	for (size_t i = 0; i < f.count; i++)
		free(f.m[i].flags);
	free(f.m);
	pthread_mutex_destroy(&f.lock);
	pthread_cond_destroy(&f.cond);
	return rc;
}

static struct imap_session *connect_to(const char *port, const char *ca_file, const char *user,
                                       const char *password, struct error *err)
{
	struct imap_session_options o = {
	    .conn.host = "localhost",
	    .conn.tls = TLS_IMPLICIT,
	    .conn.timeouts = {.connect_ms = 10000, .io_ms = 120000},
	    .conn.port = (unsigned)strtoul(port, NULL, 10),
	    .conn.ca_file = ca_file,
	    .user = user,
	    .password = password,
	    /* The bound for the scenarios whose servers offer no COMPRESS;
	     * never compress, as on loopback it would only cost. */
	    .no_compress = true,
	};

	return imap_connect(&o, err);
}

int bench_raw_copy_main(int argc, char **argv)
{
	struct imap_session *src = NULL, *dst = NULL;
	struct imap_folder *folders = NULL;
	size_t count = 0, messages = 0, expect;
	uint64_t bytes = 0;
	struct error err;
	int rc = 0;

	if (argc != 9) {
		fprintf(stderr, "usage: %s %s FROM_PORT FROM_CA TO_PORT TO_CA USER PASSWORD EXPECTED\n",
		        argv[0], BENCH_RAW_COPY_ARG);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	expect = (size_t)strtoull(argv[8], NULL, 10);
	src = connect_to(argv[2], argv[3], argv[6], argv[7], &err);
	if (src)
		dst = connect_to(argv[4], argv[5], argv[6], argv[7], &err);
	if (!src || !dst || imap_list(src, "*", 0, &folders, &count, &err) < 0) {
		fprintf(stderr, "raw copy: %s\n", err.text);
		imap_session_free(src);
		imap_session_free(dst);
		return 2;
	}
	for (size_t i = 0; i < count && rc == 0; i++) {
		if ((folders[i].attrs & IMAP_FOLDER_NOSELECT) || !folders[i].name)
			continue;
		rc = copy_folder(src, dst, folders[i].name, &messages, &bytes, &err);
	}
	imap_folders_free(folders, count);
	if (rc < 0) {
		fprintf(stderr, "raw copy: %s\n", err.text);
		imap_session_free(src);
		imap_session_free(dst);
		return 2;
	}
	imap_session_close(src);
	imap_session_close(dst);
	printf("raw copy: %zu messages, %llu bytes\n", messages, (unsigned long long)bytes);
	if (messages != expect) {
		fprintf(stderr, "raw copy: %zu messages copied, the source holds %zu\n", messages, expect);
		return 3;
	}
	return 0;
}
