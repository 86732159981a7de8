/*
 * Sources for any store: the store's own, or its fetch run in a thread
 * ahead of the reader (see store/source.h).
 *
 * The fetch thread is the producer. Each begin makes an item, queued in
 * the order the messages come: a small one is filled whole into its own
 * buffer (the fetch first waits until the held bytes leave room for it),
 * a big one streams through the ring, one at a time (the fetch waits at
 * its begin until the reader gave the one before back). The reader takes
 * items from the head of the queue. Once the reader gave a message back
 * or closed everything, the producer drops what is left of it instead of
 * waiting, so the fetch reads every message to its end and the
 * connection stays in step.
 */
#include "twinbox/store/source.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/util/xmalloc.h"

struct item {
	struct item *next; /* in the queue, then in `given` */
	struct store_sources *ss;
	size_t ix;            /* in the caller's msgs[] */
	bool held;            /* whole in `data`, else through the ring */
	char *data;           /* held: the bytes so far */
	size_t len, cap, pos; /* held: filled, allocated, read */
	uint64_t size;        /* as the fetch announced it */
	bool complete;        /* its end came */
	bool dropped;         /* given back: the rest is not wanted */
};

struct keyed {
	struct store_id id;
	size_t ix;
};

struct store_sources {
	struct store *s;
	struct store_folder *f;
	const struct store_msg *msgs;
	size_t n;
	bool direct;         /* the store's own sources, no thread */
	size_t next_direct;  /* direct: the next of msgs[] to open */
	struct keyed *order; /* msgs[] by id, for begin */
	bool *came;          /* begin came for msgs[i] */
	size_t missing_at;   /* the next index to check for "never came" */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct item *head, *tail; /* came, not yet given */
	struct item *all;         /* every item, freed at close */
	struct item *cur;         /* being written by the fetch */
	struct item *streaming;   /* the big one not yet given back */
	uint64_t held;            /* bytes held for items not yet given back */
	char *ring;               /* STORE_SOURCE_BUFFER bytes, for big ones */
	size_t rhead, rfill;
	bool finished; /* the fetch returned */
	bool closed;   /* the reader is gone: drop everything */
	int rc;        /* the fetch's result */
	struct error err;
};

static int keyed_cmp(const void *x, const void *y)
{
	return store_id_cmp(((const struct keyed *)x)->id, ((const struct keyed *)y)->id);
}

/* The index in msgs[] of the message begin names; n if none. */
static size_t find(const struct store_sources *ss, const struct store_msg *msg)
{
	struct store_id id = {msg->uid, msg->name};
	size_t lo = 0, hi = ss->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = store_id_cmp(ss->order[mid].id, id);
		if (c == 0)
			return ss->order[mid].ix;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return ss->n;
}

/* --- the producer --------------------------------------------------------- */

static int fa_begin(void *ctx, const struct store_msg *msg, struct error *err)
{
	struct store_sources *ss = ctx;
	size_t ix = find(ss, msg);
	bool held = msg->size <= STORE_SOURCE_HOLD;
	struct item *it;

	(void)err;
	pthread_mutex_lock(&ss->lock);
	ss->cur = NULL;
	if (ix == ss->n || ss->came[ix] || ss->closed) {
		pthread_mutex_unlock(&ss->lock); /* not asked for, sent twice, or not wanted */
		return 0;
	}
	ss->came[ix] = true;
	/* Room first: held bytes below the bound (one message alone may
	 * always come), or the ring free of the big one before. */
	while (!ss->closed &&
	       (held ? ss->held > 0 && ss->held + msg->size > STORE_SOURCE_AHEAD : ss->streaming != NULL))
		pthread_cond_wait(&ss->cond, &ss->lock);
	if (ss->closed) {
		pthread_mutex_unlock(&ss->lock);
		return 0;
	}
	it = xcalloc(1, sizeof(*it));
	it->ss = ss;
	it->ix = ix;
	it->held = held;
	it->size = msg->size;
	if (held) {
		it->cap = msg->size > 0 ? (size_t)msg->size : 1;
		it->data = xmalloc(it->cap);
		ss->held += msg->size;
	} else {
		if (!ss->ring)
			ss->ring = xmalloc(STORE_SOURCE_BUFFER);
		ss->rhead = ss->rfill = 0;
		ss->streaming = it;
	}
	it->next = NULL;
	if (ss->tail)
		ss->tail->next = it;
	else
		ss->head = it;
	ss->tail = it;
	ss->cur = it;
	pthread_cond_broadcast(&ss->cond);
	pthread_mutex_unlock(&ss->lock);
	return 0;
}

static void ring_write(struct store_sources *ss, struct item *it, const char *p, size_t len)
{
	while (len > 0 && !it->dropped && !ss->closed) {
		size_t room = STORE_SOURCE_BUFFER - ss->rfill, at, n;

		if (room == 0) {
			pthread_cond_wait(&ss->cond, &ss->lock);
			continue;
		}
		at = (ss->rhead + ss->rfill) % STORE_SOURCE_BUFFER;
		n = len < room ? len : room;
		if (n > STORE_SOURCE_BUFFER - at)
			n = STORE_SOURCE_BUFFER - at;
		memcpy(ss->ring + at, p, n);
		ss->rfill += n;
		p += n;
		len -= n;
		pthread_cond_broadcast(&ss->cond);
	}
}

static int fa_chunk(void *ctx, const void *data, size_t len, struct error *err)
{
	struct store_sources *ss = ctx;
	struct item *it;

	(void)err;
	pthread_mutex_lock(&ss->lock);
	it = ss->cur;
	if (it && it->held && !it->dropped && !ss->closed) {
		/* The announced size is what was reserved; a fetch that sends
		 * more still gets it all held (the reader sees the real size). */
		if (len > it->cap - it->len) {
			while (len > it->cap - it->len)
				it->cap *= 2;
			it->data = xrealloc(it->data, it->cap);
		}
		memcpy(it->data + it->len, data, len);
		it->len += len;
	} else if (it && !it->held) {
		ring_write(ss, it, data, len);
	}
	pthread_mutex_unlock(&ss->lock);
	return 0;
}

static int fa_end(void *ctx, struct error *err)
{
	struct store_sources *ss = ctx;

	(void)err;
	pthread_mutex_lock(&ss->lock);
	if (ss->cur)
		ss->cur->complete = true;
	ss->cur = NULL;
	pthread_cond_broadcast(&ss->cond);
	pthread_mutex_unlock(&ss->lock);
	return 0;
}

static void *fa_run(void *arg)
{
	struct store_sources *ss = arg;
	struct store_sink sink = {.ctx = ss, .begin = fa_begin, .chunk = fa_chunk, .end = fa_end};
	struct error err;
	int rc;

	error_clear(&err);
	rc = ss->s->ops->fetch(ss->f, ss->msgs, ss->n, &sink, &err);
	pthread_mutex_lock(&ss->lock);
	ss->rc = rc;
	ss->err = err;
	ss->finished = true;
	ss->cur = NULL;
	pthread_cond_broadcast(&ss->cond);
	pthread_mutex_unlock(&ss->lock);
	return NULL;
}

/* --- the reader ----------------------------------------------------------- */

static long long held_read(void *ctx, void *data, size_t len, struct error *err)
{
	struct item *it = ctx;
	size_t n = it->len - it->pos;

	(void)err;
	if (n > len)
		n = len;
	memcpy(data, it->data + it->pos, n);
	it->pos += n;
	return (long long)n;
}

static int held_rewind(void *ctx, struct error *err)
{
	struct item *it = ctx;

	(void)err;
	it->pos = 0;
	return 0;
}

static long long ring_read(void *ctx, void *data, size_t len, struct error *err)
{
	struct item *it = ctx;
	struct store_sources *ss = it->ss;
	long long got = 0;

	pthread_mutex_lock(&ss->lock);
	while (ss->rfill == 0 && !it->complete && !ss->finished)
		pthread_cond_wait(&ss->cond, &ss->lock);
	if (ss->rfill > 0) {
		size_t n = len < ss->rfill ? len : ss->rfill;

		if (n > STORE_SOURCE_BUFFER - ss->rhead)
			n = STORE_SOURCE_BUFFER - ss->rhead;
		memcpy(data, ss->ring + ss->rhead, n);
		ss->rhead = (ss->rhead + n) % STORE_SOURCE_BUFFER;
		ss->rfill -= n;
		got = (long long)n;
		pthread_cond_broadcast(&ss->cond);
	} else if (!it->complete) {
		/* The fetch ended inside the message. */
		if (ss->rc < 0)
			*err = ss->err;
		else
			error_set(err, ERR_ACCOUNT, "the server's answer ended inside a message");
		got = -1;
	}
	pthread_mutex_unlock(&ss->lock);
	return got;
}

struct store_sources *store_sources_open(struct store *s, struct store_folder *f,
                                         const struct store_msg *msgs, size_t n)
{
	struct store_sources *ss = xcalloc(1, sizeof(*ss));

	ss->s = s;
	ss->f = f;
	ss->msgs = msgs;
	ss->n = n;
	ss->direct = s->ops->open_source != NULL;
	pthread_mutex_init(&ss->lock, NULL);
	pthread_cond_init(&ss->cond, NULL);
	if (ss->direct || n == 0)
		return ss;
	ss->order = xcalloc(n, sizeof(*ss->order));
	ss->came = xcalloc(n, sizeof(*ss->came));
	for (size_t i = 0; i < n; i++)
		ss->order[i] = (struct keyed){{msgs[i].uid, msgs[i].name}, i};
	qsort(ss->order, n, sizeof(*ss->order), keyed_cmp);
	if (pthread_create(&ss->thread, NULL, fa_run, ss) != 0) {
		ss->finished = true;
		ss->rc = -1;
		error_set(&ss->err, ERR_FATAL, "cannot start a thread to copy messages");
		return ss;
	}
	ss->started = true;
	return ss;
}

/* The head `it` leaves the queue (kept in `all` until the close). */
static void unqueue(struct store_sources *ss, struct item *it)
{
	ss->head = it->next;
	if (!ss->head)
		ss->tail = NULL;
	it->next = ss->all;
	ss->all = it;
}

static void give(struct store_sources *ss, struct item *it, struct store_new_msg *src_r)
{
	const struct store_msg *m = &ss->msgs[it->ix];

	unqueue(ss, it);
	memset(src_r, 0, sizeof(*src_r));
	src_r->flags = m->flags;
	src_r->keywords = m->keywords;
	src_r->date = m->date;
	src_r->date_zone = m->date_zone;
	src_r->size = it->held ? it->len : it->size;
	src_r->ctx = it;
	src_r->read = it->held ? held_read : ring_read;
	src_r->rewind = it->held ? held_rewind : NULL;
}

static int next_direct(struct store_sources *ss, struct store_new_msg *src_r, size_t *ix_r, struct error *err)
{
	if (ss->next_direct == ss->n)
		return 0;
	*ix_r = ss->next_direct++;
	return ss->s->ops->open_source(ss->f, &ss->msgs[*ix_r], src_r, err) < 0 ? -1 : 1;
}

int store_sources_next(struct store_sources *ss, bool wait, struct store_new_msg *src_r, size_t *ix_r,
                       struct error *err)
{
	int rc = 0;

	if (ss->direct)
		return next_direct(ss, src_r, ix_r, err);
	pthread_mutex_lock(&ss->lock);
	for (;;) {
		struct item *it = ss->head;

		if (it && it->held && it->complete) {
			*ix_r = it->ix;
			give(ss, it, src_r);
			rc = 1;
			break;
		}
		if (it && !it->held && wait) {
			*ix_r = it->ix;
			give(ss, it, src_r);
			rc = 1;
			break;
		}
		if (it && it->held && ss->finished) {
			/* The fetch ended inside it: it is dropped with the
			 * failure reported below. */
			unqueue(ss, it);
			ss->held -= it->size;
			free(it->data);
			it->data = NULL;
			continue;
		}
		if (!wait)
			break;
		if (!it && ss->finished) {
			if (ss->rc < 0) {
				*err = ss->err;
				if (err->scope <= ERR_MESSAGE)
					error_escalate(err, ERR_MAILBOX);
				rc = -1;
				break;
			}
			/* Those that never came are gone, one per call. */
			while (ss->missing_at < ss->n && ss->came[ss->missing_at])
				ss->missing_at++;
			if (ss->missing_at < ss->n) {
				*ix_r = ss->missing_at;
				ss->came[ss->missing_at] = true;
				error_set(err, ERR_MESSAGE, "the message is no longer there");
				rc = -1;
			}
			break;
		}
		pthread_cond_wait(&ss->cond, &ss->lock);
	}
	pthread_mutex_unlock(&ss->lock);
	return rc;
}

void store_sources_done(struct store_sources *ss, struct store_new_msg *src)
{
	struct item *it = src->ctx;

	if (ss->direct) {
		ss->s->ops->close_source(src);
		return;
	}
	if (!it)
		return;
	pthread_mutex_lock(&ss->lock);
	it->dropped = true;
	if (it->held) {
		ss->held -= it->size;
		free(it->data);
		it->data = NULL;
	} else if (ss->streaming == it) {
		ss->streaming = NULL;
		ss->rhead = ss->rfill = 0;
	}
	pthread_cond_broadcast(&ss->cond);
	pthread_mutex_unlock(&ss->lock);
	memset(src, 0, sizeof(*src));
}

static void free_items(struct item *it)
{
	while (it) {
		struct item *next = it->next;
		free(it->data);
		free(it);
		it = next;
	}
}

void store_sources_close(struct store_sources *ss)
{
	if (!ss)
		return;
	pthread_mutex_lock(&ss->lock);
	ss->closed = true;
	pthread_cond_broadcast(&ss->cond);
	pthread_mutex_unlock(&ss->lock);
	if (ss->started)
		pthread_join(ss->thread, NULL);
	free_items(ss->head);
	free_items(ss->all);
	pthread_mutex_destroy(&ss->lock);
	pthread_cond_destroy(&ss->cond);
	free(ss->ring);
	free(ss->order);
	free(ss->came);
	free(ss);
}

/* --- one message ------------------------------------------------------------ */

int store_source_open(struct store *s, struct store_folder *f, const struct store_msg *msg,
                      struct store_new_msg *src_r, struct error *err)
{
	struct store_sources *ss;
	size_t ix;
	int rc;

	if (s->ops->open_source)
		return s->ops->open_source(f, msg, src_r, err);
	ss = store_sources_open(s, f, msg, 1);
	rc = store_sources_next(ss, true, src_r, &ix, err);
	if (rc == 1)
		return 0;
	if (rc == 0)
		error_set(err, ERR_MESSAGE, "the message is no longer there");
	store_sources_close(ss);
	return -1;
}

void store_source_close(struct store *s, struct store_new_msg *src)
{
	struct item *it = src->ctx;

	if (s->ops->open_source) {
		s->ops->close_source(src);
		return;
	}
	if (it) {
		struct store_sources *ss = it->ss;
		store_sources_done(ss, src);
		store_sources_close(ss);
	}
	memset(src, 0, sizeof(*src));
}
