/*
 * Sources fetched ahead (store/source.h), over a store whose fetch
 * plays a script: messages in the order it chooses, some never sent,
 * some too big to hold, a fetch that fails part-way.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twinbox/store/source.h"
#include "twinbox/util/xmalloc.h"

/* A message the script sends: which of the asked ones, its size and the
 * byte its bytes are made of. */
struct sent {
	size_t ix;
	size_t size;
};

struct script {
	const struct sent *sent;
	size_t count;
	bool fail_after;     /* the fetch fails once every message was sent */
	atomic_size_t begun; /* begins the sources took */
};

static struct script *playing;

static char byte_of(size_t ix, size_t at)
{
	return (char)('a' + (ix * 7 + at) % 26);
}

static int fake_fetch(struct store_folder *f, const struct store_msg *msgs, size_t count,
                      const struct store_sink *sink, struct error *err)
{
	struct script *sc = playing;
	char chunk[4096];

	(void)f;
	(void)count;
	for (size_t i = 0; i < sc->count; i++) {
		struct store_msg m = msgs[sc->sent[i].ix];
		size_t size = sc->sent[i].size;

		m.size = size;
		cr_assert_eq(sink->begin(sink->ctx, &m, err), 0);
		atomic_fetch_add(&sc->begun, 1);
		for (size_t at = 0; at < size;) {
			size_t n = size - at < sizeof(chunk) ? size - at : sizeof(chunk);
			for (size_t k = 0; k < n; k++)
				chunk[k] = byte_of(sc->sent[i].ix, at + k);
			cr_assert_eq(sink->chunk(sink->ctx, chunk, n, err), 0);
			at += n;
		}
		cr_assert_eq(sink->end(sink->ctx, err), 0);
	}
	if (sc->fail_after)
		return error_set(err, ERR_ACCOUNT, "the connection was lost");
	return 0;
}

static const struct store_ops fake_ops = {.kind = "fake", .fetch = fake_fetch};
static struct store fake = {&fake_ops};

static struct store_msg *asked(size_t n)
{
	struct store_msg *m = xcalloc(n, sizeof(*m));

	for (size_t i = 0; i < n; i++) {
		m[i].uid = (uint32_t)(100 + i);
		m[i].flags = (unsigned)i;
		m[i].date = (time_t)(1700000000 + i);
	}
	return m;
}

/* Read a source to its end; true when its bytes are those of message ix. */
static bool read_whole(struct store_new_msg *src, size_t ix, size_t size)
{
	char buf[3000];
	size_t at = 0;
	long long n;
	struct error err;

	while ((n = src->read(src->ctx, buf, sizeof(buf), &err)) > 0) {
		for (long long k = 0; k < n; k++)
			if (buf[k] != byte_of(ix, at + (size_t)k))
				return false;
		at += (size_t)n;
	}
	return n == 0 && at == size;
}

Test(store_source, messages_come_in_the_fetchs_order_and_the_gone_one_last)
{
	static const struct sent sent[] = {{2, 10}, {0, 5000}, {3, 0}};
	struct script sc = {sent, 3, false, 0};
	struct store_msg *msgs = asked(4);
	struct store_sources *ss;
	struct store_new_msg src;
	struct error err;
	size_t ix;

	playing = &sc;
	ss = store_sources_open(&fake, NULL, msgs, 4);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(store_sources_next(ss, true, &src, &ix, &err), 1);
		cr_assert_eq(ix, sent[i].ix, "message %zu came as %zu", sent[i].ix, ix);
		cr_assert_eq(src.size, sent[i].size);
		cr_assert_eq(src.flags, msgs[ix].flags, "its flags are those asked for");
		cr_assert_eq(src.date, msgs[ix].date);
		cr_assert_not_null(src.rewind, "a small message is held, so it can start again");
		cr_assert(read_whole(&src, ix, sent[i].size));
		cr_assert_eq(src.rewind(src.ctx, &err), 0);
		cr_assert(read_whole(&src, ix, sent[i].size), "the same bytes once more");
		store_sources_done(ss, &src);
	}
	cr_assert_eq(store_sources_next(ss, true, &src, &ix, &err), -1);
	cr_assert_eq(err.scope, ERR_MESSAGE, "a message never sent is gone: %s", err.text);
	cr_assert_eq(ix, 1);
	cr_assert_eq(store_sources_next(ss, true, &src, &ix, &err), 0, "then the end");
	store_sources_close(ss);
	free(msgs);
}

Test(store_source, a_big_message_streams_and_what_comes_after_it_is_held)
{
	size_t big = 3 * STORE_SOURCE_HOLD + 17;
	struct sent sent[] = {{0, 100}, {1, big}, {2, 200}, {3, big}};
	struct script sc = {sent, 4, false, 0};
	struct store_msg *msgs = asked(4);
	struct store_sources *ss;
	struct store_new_msg src, first;
	struct error err;
	size_t ix;

	playing = &sc;
	ss = store_sources_open(&fake, NULL, msgs, 4);
	cr_assert_eq(store_sources_next(ss, true, &first, &ix, &err), 1);
	cr_assert_eq(ix, 0);
	/* Without waiting, only a held message is given: the big one waits. */
	while (atomic_load(&sc.begun) < 2)
		usleep(1000);
	cr_assert_eq(store_sources_next(ss, false, &src, &ix, &err), 0);
	cr_assert(read_whole(&first, 0, 100));
	store_sources_done(ss, &first);

	cr_assert_eq(store_sources_next(ss, true, &src, &ix, &err), 1);
	cr_assert_eq(ix, 1);
	cr_assert_null(src.rewind, "a message too big to hold cannot start again");
	cr_assert_eq(src.size, big);
	cr_assert(read_whole(&src, 1, big), "the big message arrives whole through the ring");
	store_sources_done(ss, &src);

	cr_assert_eq(store_sources_next(ss, true, &src, &ix, &err), 1);
	cr_assert_eq(ix, 2);
	cr_assert(read_whole(&src, 2, 200));
	store_sources_done(ss, &src);

	/* The second big one given back unread: the fetch drops it. */
	cr_assert_eq(store_sources_next(ss, true, &src, &ix, &err), 1);
	cr_assert_eq(ix, 3);
	store_sources_done(ss, &src);
	cr_assert_eq(store_sources_next(ss, true, &src, &ix, &err), 0);
	store_sources_close(ss);
	free(msgs);
}

Test(store_source, the_fetch_waits_while_the_held_bytes_are_at_their_bound)
{
	enum { N = 20 };
	struct sent sent[N];
	struct script sc = {sent, N, false, 0};
	struct store_msg *msgs = asked(N);
	struct store_sources *ss;
	struct store_new_msg src;
	struct error err;
	size_t ix, got = 0;

	for (size_t i = 0; i < N; i++)
		sent[i] = (struct sent){i, STORE_SOURCE_HOLD};
	playing = &sc;
	ss = store_sources_open(&fake, NULL, msgs, N);
	usleep(300 * 1000); /* nobody reads: the fetch fills what it may */
	cr_assert_eq(atomic_load(&sc.begun), STORE_SOURCE_AHEAD / STORE_SOURCE_HOLD,
	             "held ahead: %zu messages of 1 MB", atomic_load(&sc.begun));
	while (store_sources_next(ss, true, &src, &ix, &err) == 1) {
		cr_assert_eq(ix, got);
		cr_assert(read_whole(&src, ix, STORE_SOURCE_HOLD));
		store_sources_done(ss, &src);
		got++;
	}
	cr_assert_eq(got, N);
	store_sources_close(ss);
	free(msgs);
}

Test(store_source, a_failed_fetch_gives_what_came_then_its_error)
{
	static const struct sent sent[] = {{1, 10}, {0, 20}};
	struct script sc = {sent, 2, true, 0};
	struct store_msg *msgs = asked(3);
	struct store_sources *ss;
	struct store_new_msg src;
	struct error err;
	size_t ix;

	playing = &sc;
	ss = store_sources_open(&fake, NULL, msgs, 3);
	for (size_t i = 0; i < 2; i++) {
		cr_assert_eq(store_sources_next(ss, true, &src, &ix, &err), 1);
		cr_assert_eq(ix, sent[i].ix);
		store_sources_done(ss, &src);
	}
	cr_assert_eq(store_sources_next(ss, true, &src, &ix, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT, "the connection's failure, not a message's: %s", err.text);
	cr_assert(strstr(err.text, "the connection was lost"), "%s", err.text);
	store_sources_close(ss);
	free(msgs);
}

Test(store_source, closing_early_drops_the_rest)
{
	enum { N = 30 };
	struct sent sent[N];
	struct script sc = {sent, N, false, 0};
	struct store_msg *msgs = asked(N);
	struct store_sources *ss;
	struct store_new_msg src;
	struct error err;
	size_t ix;

	for (size_t i = 0; i < N; i++)
		sent[i] = (struct sent){i, i % 3 ? 1000 : 2 * STORE_SOURCE_HOLD};
	playing = &sc;
	ss = store_sources_open(&fake, NULL, msgs, N);
	cr_assert_eq(store_sources_next(ss, true, &src, &ix, &err), 1);
	store_sources_done(ss, &src);
	store_sources_close(ss); /* returns: the fetch ran to its end */
	cr_assert_eq(atomic_load(&sc.begun), N);
	free(msgs);
}
