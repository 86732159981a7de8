/*
 * IMAP IDLE as an event source of `twinbox watch` (watch.h): a thread
 * per watched folder, over a session of its own, that only listens.
 *
 * Every wait of the thread (to connect, to read, the back-off between
 * tries) also watches an eventfd, `wake`: written, it cuts the session
 * short (net_timeouts.cancel_fd). That is how the loop stops the thread
 * (`stopping` set first) and how it makes it connect again at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "twinbox/config/password.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"
#include "watch.h"

struct watch_idle {
	const struct config_account *a;
	enum side side;
	size_t account;
	char *folder;
	int fd;   /* the loop's pipe */
	int wake; /* eventfd: see above */
	atomic_bool stopping;
	bool changed; /* the folder changed since the last note (handlers below) */
	unsigned seed;
	pthread_t thread;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A test setting in milliseconds (1 to `max`), or `dflt`. */
static long long test_ms(const char *name, long long dflt, long long max)
{
	const char *v = getenv(name);
	char *end;
	long long ms;

	if (!v || !*v)
		return dflt;
	errno = 0;
	ms = strtoll(v, &end, 10);
	return *end || errno || ms < 1 || ms > max ? dflt : ms;
}

/* Whether the loop woke the thread since it last looked (and forget
 * it). */
static bool woken(struct watch_idle *w)
{
	uint64_t n;

	return read(w->wake, &n, sizeof(n)) == (ssize_t)sizeof(n);
}

/* Wait `ms`, or less when woken; whether it was. */
static bool pause_ms(struct watch_idle *w, long long ms)
{
	struct pollfd p = {w->wake, POLLIN, 0};
	long long until = now_ms() + ms;

	for (long long left; (left = until - now_ms()) > 0;) {
		int r = poll(&p, 1, (int)left);
		if (r > 0)
			return true;
		if (r < 0 && errno != EINTR)
			break;
	}
	return false;
}

/* The session's news: changes of the folder, not a server's "still
 * here". */
static void on_exists(void *ctx, uint32_t count)
{
	(void)count;
	((struct watch_idle *)ctx)->changed = true;
}

static void on_expunge(void *ctx, uint32_t seq, uint32_t uid)
{
	(void)seq;
	(void)uid;
	((struct watch_idle *)ctx)->changed = true;
}

static void on_vanished(void *ctx, const struct imap_uid_set *uids, bool earlier)
{
	(void)uids;
	(void)earlier;
	((struct watch_idle *)ctx)->changed = true;
}

static void on_fetch(void *ctx, const struct imap_fetch *fetch)
{
	(void)fetch;
	((struct watch_idle *)ctx)->changed = true;
}

/* Connect, log in and EXAMINE the folder; NULL with `err`. */
static struct imap_session *open_session(struct watch_idle *w, struct error *err)
{
	struct imap_session_options o;
	struct imap_session *s;
	char *password = config_side_password(w->a, w->side, err);

	if (!password)
		return NULL;
	cli_imap_options(&w->a->side[w->side].conn, password, &o);
	o.conn.timeouts.cancel_fd = w->wake;
	s = imap_connect(&o, err);
	password_free(password);
	if (!s)
		return NULL;
	imap_session_set_handlers(s, &(struct imap_session_handlers){.ctx = w,
	                                                             .exists = on_exists,
	                                                             .expunge = on_expunge,
	                                                             .vanished = on_vanished,
	                                                             .fetch = on_fetch});
	if (imap_select(s, w->folder, true, NULL, err) < 0) {
		imap_session_free(s);
		return NULL;
	}
	w->changed = false; /* EXAMINE's own EXISTS */
	return s;
}

/* Idle on an open session until it fails: news notified, IDLE renewed
 * before the server's limit. Returns with `err` set. */
static void idle_listen(struct watch_idle *w, struct imap_session *s, struct error *err)
{
	long long renew_ms =
	    test_ms("TWINBOX_TEST_IDLE_RENEW_MS", WATCH_IDLE_RENEW_S * 1000LL, WATCH_IDLE_RENEW_S * 1000LL);

	for (;;) {
		long long renew_at = now_ms() + renew_ms;
		if (imap_idle_start(s, err) < 0)
			return;
		for (long long left; (left = renew_at - now_ms()) > 0;) {
			if (imap_idle_wait(s, (int)left, err) < 0)
				return;
			if (w->changed) {
				w->changed = false;
				watch_notify(w->fd, w->account, w->folder);
			}
		}
		/* DONE and IDLE again: the server's 29 minutes, and a check
		 * that the connection still answers (watch.h). */
		if (imap_idle_done(s, err) < 0)
			return;
	}
}

static void *idle_main(void *arg)
{
	struct watch_idle *w = arg;
	long long first = test_ms("TWINBOX_TEST_BACKOFF_MS", 1000, 60000);
	long long max = first * WATCH_IDLE_BACKOFF_MAX_S, wait = first;

	while (!atomic_load(&w->stopping)) {
		struct error err;
		struct imap_session *s;

		error_clear(&err);
		(void)woken(w); /* a wake before this try is no reason to end it */
		s = open_session(w, &err);
		if (s) {
			log_debug("%s: watching %s with IDLE", w->a->name, w->folder);
			wait = first;
			/* What came while no one listened. */
			watch_notify(w->fd, w->account, w->folder);
			idle_listen(w, s, &err);
			imap_session_free(s);
		}
		if (atomic_load(&w->stopping))
			break;
		if (woken(w)) { /* asked to connect again, at once */
			log_debug("%s: %s: IDLE connects again", w->a->name, w->folder);
			wait = first;
			continue;
		}
		log_warn("%s: %s: IDLE stopped: %s; connecting again in %lld s", w->a->name, w->folder,
		         err.text, (wait + 999) / 1000);
		/* Jitter: many watchers cut at once do not come back at once. */
		if (pause_ms(w, wait + rand_r(&w->seed) % (wait / 4 + 1)))
			continue; /* woken: at once (or to stop) */
		wait = wait * 2 > max ? max : wait * 2;
	}
	return NULL;
}

struct watch_idle *watch_idle_start(const struct config_account *a, enum side side, size_t account,
                                    const char *folder, int fd)
{
	struct watch_idle *w = xcalloc(1, sizeof(*w));

	w->a = a;
	w->side = side;
	w->account = account;
	w->folder = xstrdup(folder);
	w->fd = fd;
	w->seed = (unsigned)now_ms() ^ (unsigned)account * 2654435761u;
	atomic_init(&w->stopping, false);
	w->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wake == 0) { /* 0 means "none" to the network layer */
		w->wake = fcntl(0, F_DUPFD_CLOEXEC, 3);
		close(0);
	}
	if (w->wake < 0 || pthread_create(&w->thread, NULL, idle_main, w) != 0) {
		if (w->wake >= 0)
			close(w->wake);
		free(w->folder);
		free(w);
		return NULL;
	}
	return w;
}

/* The eventfd written: every wait of the thread ends. */
static void wake(struct watch_idle *w)
{
	uint64_t one = 1;

	if (write(w->wake, &one, sizeof(one)) < 0)
		log_debug("watch: cannot wake an IDLE thread: %s", strerror(errno));
}

void watch_idle_reconnect(struct watch_idle *w)
{
	wake(w);
}

void watch_idle_stop(struct watch_idle *w)
{
	if (!w)
		return;
	atomic_store(&w->stopping, true);
	wake(w);
	pthread_join(w->thread, NULL);
	close(w->wake);
	free(w->folder);
	free(w);
}
