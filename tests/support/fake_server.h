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
 *
 * Proxy mode (`backend_port` set): a fault injector in front of a real
 * server (Dovecot) on 127.0.0.1:backend_port. Clients are served at
 * once, each in a thread with a connection of its own to the backend,
 * until fake_server_stop; they get the backend's greeting and answers,
 * bytes unchanged (literals in both directions are passed as they are,
 * never read as lines), except for the commands a fault matches by their
 * first line (`rules`, `greeting` and `no_rule` are not used): such a
 * command goes to the backend as "<tag> NOOP" instead (the rest of it,
 * its non-synchronizing literals, is dropped), and its tagged answer
 * comes back as the fault's reply, in the order the backend answered. So
 * "$T NO [UNAVAILABLE] later\r\n" fails just that command, and "* BYE
 * going down\r\n" with `hang_up` ends the session right there. A fault
 * with `times` applies to the first `times` commands it matches (over
 * all connections); later ones go on to the next faults, or to the
 * backend. `heard` keeps the first line of each command. With
 * `connections`, clients after that many are closed before the greeting
 * (0: no limit).
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

/* Proxy mode's rules. */
struct fake_fault {
	const char *match;
	const char *reply;
	bool hang_up;
	unsigned times; /* 0: every matching command */
};

struct fake_conn; /* private */

struct fake_server {
	/* set by the test */
	const char *greeting;
	const struct fake_rule *rules; /* ends with a rule whose match is NULL */
	const char *no_rule;
	int connections;
	/* proxy mode (see above) */
	unsigned backend_port;
	const struct fake_fault *faults; /* ends with a fault whose match is NULL */

	/* set by fake_server_start */
	unsigned port;
	int lfd;
	pthread_t th;
	pthread_mutex_t lock;
	struct buf heard;  /* the client's lines, LF-terminated; read after stop */
	unsigned *used;    /* proxy mode: how often each fault applied */
	unsigned accepted; /* proxy mode: connections accepted */
	bool stopping;     /* proxy mode: fake_server_stop was called */
	struct fake_conn **conns;
	size_t conn_count;
};

/* Listen (cr_assert on failure) and start the thread. */
void fake_server_start(struct fake_server *f);
/* Wait for the thread (it gives up on a client silent for 10 s) and close
 * the listener; in proxy mode stop accepting and wait for the clients'
 * threads (each ends when its client or the backend closes). `heard`
 * stays until fake_server_free. */
void fake_server_stop(struct fake_server *f);
void fake_server_free(struct fake_server *f);
/* Stop it if it runs, free it, and zero it for the next test (a zeroed
 * server that never started is fine). */
void fake_server_reset(struct fake_server *f);
/* How often `text` occurs in the client's lines (safe while it runs). */
size_t fake_server_heard(struct fake_server *f, const char *text);

#endif
