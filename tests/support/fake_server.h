/*
 * A scripted line server on 127.0.0.1 for end-to-end tests of the binary
 * against misbehaviour a real server will not produce (hostile names,
 * control bytes in texts, odd UIDLs). A thread accepts `connections`
 * clients one after the other; to each it sends `greeting`, then answers
 * every line the client sends by the first rule whose `match` occurs in
 * the line ("" matches every line): its `reply` with each "$T" replaced
 * by the line's first word (the IMAP tag), or, without a rule,
 * `no_rule` the same way. A rule with `hang_up` closes the connection
 * after its reply. Every line heard is kept for the test.
 */
#ifndef TWINBOX_TESTS_FAKE_SERVER_H
#define TWINBOX_TESTS_FAKE_SERVER_H

#include <pthread.h>
#include <stdbool.h>

#include "twinbox/util/buf.h"

struct fake_rule {
	const char *match;
	const char *reply;
	bool hang_up;
};

struct fake_server {
	/* set by the test */
	const char *greeting;
	const struct fake_rule *rules; /* ends with a rule whose match is NULL */
	const char *no_rule;
	int connections;

	/* set by fake_server_start */
	unsigned port;
	int lfd;
	pthread_t th;
	pthread_mutex_t lock;
	struct buf heard; /* the client's lines, LF-terminated; read after stop */
};

/* Listen (cr_assert on failure) and start the thread. */
void fake_server_start(struct fake_server *f);
/* Wait for the thread (it gives up on a client silent for 10 s) and close
 * the listener; `heard` stays until fake_server_free. */
void fake_server_stop(struct fake_server *f);
void fake_server_free(struct fake_server *f);
/* Stop it if it runs, free it, and zero it for the next test (a zeroed
 * server that never started is fine). */
void fake_server_reset(struct fake_server *f);

#endif
