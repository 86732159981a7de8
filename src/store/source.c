/*
 * Sources for any store: the store's own, or its fetch run in a thread
 * and handed over through a bounded buffer (see store/source.h).
 *
 * The fetch thread is the producer: begin records the size and wakes the
 * opener; each chunk waits for room in the buffer; end (or the fetch
 * returning without a begin: the message is gone) finishes. The reader
 * is the consumer. Once the reader closes, the producer drops what is
 * left of the message instead of waiting, so the fetch reads the
 * message to its end and the connection stays in step.
 */
#include "twinbox/store/source.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/util/xmalloc.h"

struct bridge {
	struct store *s;
	struct store_folder *f;
	struct store_msg msg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *buf; /* a ring of STORE_SOURCE_BUFFER bytes */
	size_t head, fill;
	uint64_t size; /* as the fetch announced it */
	bool begun;    /* begin came */
	bool finished; /* the fetch returned: no more bytes */
	bool closed;   /* the reader is gone: drop the rest */
	int rc;        /* the fetch's result */
	struct error err;
};

static int br_begin(void *ctx, const struct store_msg *msg, struct error *err)
{
	struct bridge *b = ctx;

	(void)err;
	pthread_mutex_lock(&b->lock);
	b->size = msg->size;
	b->begun = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static int br_chunk(void *ctx, const void *data, size_t len, struct error *err)
{
	struct bridge *b = ctx;
	const char *p = data;

	(void)err;
	pthread_mutex_lock(&b->lock);
	while (len > 0 && !b->closed) {
		size_t room = STORE_SOURCE_BUFFER - b->fill, at, n;

		if (room == 0) {
			pthread_cond_wait(&b->cond, &b->lock);
			continue;
		}
		at = (b->head + b->fill) % STORE_SOURCE_BUFFER;
		n = len < room ? len : room;
		if (n > STORE_SOURCE_BUFFER - at)
			n = STORE_SOURCE_BUFFER - at;
		memcpy(b->buf + at, p, n);
		b->fill += n;
		p += n;
		len -= n;
		pthread_cond_broadcast(&b->cond);
	}
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static int br_end(void *ctx, struct error *err)
{
	(void)ctx;
	(void)err;
	return 0;
}

static void *br_run(void *arg)
{
	struct bridge *b = arg;
	struct store_sink sink = {.ctx = b, .begin = br_begin, .chunk = br_chunk, .end = br_end};
	struct error err;
	int rc;

	error_clear(&err);
	rc = b->s->ops->fetch(b->f, &b->msg, 1, &sink, &err);
	pthread_mutex_lock(&b->lock);
	b->rc = rc;
	b->err = err;
	b->finished = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

static long long br_read(void *ctx, void *data, size_t len, struct error *err)
{
	struct bridge *b = ctx;
	long long got = 0;

	pthread_mutex_lock(&b->lock);
	while (b->fill == 0 && !b->finished)
		pthread_cond_wait(&b->cond, &b->lock);
	if (b->fill > 0) {
		size_t n = len < b->fill ? len : b->fill;

		if (n > STORE_SOURCE_BUFFER - b->head)
			n = STORE_SOURCE_BUFFER - b->head;
		memcpy(data, b->buf + b->head, n);
		b->head = (b->head + n) % STORE_SOURCE_BUFFER;
		b->fill -= n;
		got = (long long)n;
		pthread_cond_broadcast(&b->cond);
	} else if (b->rc < 0) {
		*err = b->err;
		got = -1;
	}
	pthread_mutex_unlock(&b->lock);
	return got;
}

static void bridge_free(struct bridge *b)
{
	pthread_mutex_lock(&b->lock);
	b->closed = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	free(b->buf);
	free(b);
}

int store_source_open(struct store *s, struct store_folder *f, const struct store_msg *msg,
                      struct store_new_msg *src_r, struct error *err)
{
	struct bridge *b;
	int rc = 0;

	if (s->ops->open_source)
		return s->ops->open_source(f, msg, src_r, err);
	memset(src_r, 0, sizeof(*src_r));
	b = xcalloc(1, sizeof(*b));
	b->s = s;
	b->f = f;
	b->msg = *msg;
	b->buf = xmalloc(STORE_SOURCE_BUFFER);
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	if (pthread_create(&b->thread, NULL, br_run, b) != 0) {
		pthread_mutex_destroy(&b->lock);
		pthread_cond_destroy(&b->cond);
		free(b->buf);
		free(b);
		return error_set(err, ERR_FATAL, "cannot start a thread to copy a message");
	}
	/* Wait for the fetch to say the message is there, and how big. */
	pthread_mutex_lock(&b->lock);
	while (!b->begun && !b->finished)
		pthread_cond_wait(&b->cond, &b->lock);
	if (!b->begun) {
		if (b->rc < 0)
			*err = b->err;
		else
			error_set(err, ERR_MESSAGE, "the message is no longer there");
		rc = -1;
	}
	pthread_mutex_unlock(&b->lock);
	if (rc < 0) {
		bridge_free(b);
		return -1;
	}
	src_r->flags = msg->flags;
	src_r->keywords = msg->keywords;
	src_r->date = msg->date;
	src_r->date_zone = msg->date_zone;
	src_r->size = b->size;
	src_r->ctx = b;
	src_r->read = br_read;
	src_r->rewind = NULL;
	return 0;
}

void store_source_close(struct store *s, struct store_new_msg *src)
{
	if (s->ops->open_source) {
		s->ops->close_source(src);
		return;
	}
	if (src->ctx)
		bridge_free(src->ctx);
	memset(src, 0, sizeof(*src));
}
