/*
 * IMAP IDLE as an event source of `twinbox watch` (watch.h): a thread
 * per watched folder, over a session of its own, that only listens.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "twinbox/config/password.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"
#include "watch.h"

/* How long one wait for news lasts: also how soon a dead connection
 * that sends nothing is noticed, by the NOOP-like renewal below. */
#define IDLE_WAIT_MS (60 * 1000)

struct watch_idle {
	const struct config_account *a;
	size_t account;
	char *folder;
	int fd;
	pthread_t thread;
};

static long long now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Connect, log in and EXAMINE the folder; NULL with `err`. */
static struct imap_session *open_session(struct watch_idle *w, struct error *err)
{
	struct imap_session_options o;
	struct imap_session *s;
	char *password = config_side_password(w->a, SIDE_A, err);

	if (!password)
		return NULL;
	cli_imap_options(&w->a->side[SIDE_A].conn, password, &o);
	s = imap_connect(&o, err);
	password_free(password);
	if (s && imap_select(s, w->folder, true, NULL, err) < 0) {
		imap_session_free(s);
		return NULL;
	}
	return s;
}

/* Idle on an open session until it fails: news notified, IDLE renewed
 * before the server's limit. Returns with `err` set. */
static void idle_listen(struct watch_idle *w, struct imap_session *s, struct error *err)
{
	for (;;) {
		long long started = now_s();
		if (imap_idle_start(s, err) < 0)
			return;
		while (now_s() - started < WATCH_IDLE_RENEW_S) {
			int r = imap_idle_wait(s, IDLE_WAIT_MS, err);
			if (r < 0)
				return;
			if (r > 0)
				watch_notify(w->fd, w->account, w->folder);
		}
		/* DONE and IDLE again: the server's 29 minutes, and a check
		 * that the connection still answers. */
		if (imap_idle_done(s, err) < 0)
			return;
	}
}

static void *idle_main(void *arg)
{
	struct watch_idle *w = arg;
	unsigned wait_s = 1;

	for (;;) {
		struct error err;
		struct imap_session *s;

		error_clear(&err);
		s = open_session(w, &err);
		if (s) {
			log_debug("%s: watching %s with IDLE", w->a->name, w->folder);
			wait_s = 1;
			/* What came while no one listened. */
			watch_notify(w->fd, w->account, w->folder);
			idle_listen(w, s, &err);
			imap_session_free(s);
		}
		log_warn("%s: %s: IDLE stopped: %s; connecting again in %u s", w->a->name, w->folder,
		         err.text, wait_s);
		/* Jitter: many watchers cut at once do not come back at once. */
		usleep((useconds_t)(wait_s * 1000000ULL + (unsigned)(rand() % 250) * 1000ULL));
		wait_s = wait_s * 2 > WATCH_IDLE_BACKOFF_MAX_S ? WATCH_IDLE_BACKOFF_MAX_S : wait_s * 2;
	}
	return NULL;
}

struct watch_idle *watch_idle_start(const struct config_account *a, size_t account, const char *folder,
                                    int fd)
{
	struct watch_idle *w = xcalloc(1, sizeof(*w));

	w->a = a;
	w->account = account;
	w->folder = xstrdup(folder);
	w->fd = fd;
	if (pthread_create(&w->thread, NULL, idle_main, w) != 0) {
		free(w->folder);
		free(w);
		return NULL;
	}
	pthread_detach(w->thread);
	return w;
}
