/*
 * What the threads of `twinbox watch`'s sources share (watch.h): the
 * wake-up eventfd, the back-off, a server connection that any wake cuts
 * short, and IDLE renewed until it fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "twinbox/config/password.h"
#include "twinbox/imap/commands.h"
#include "twinbox/store/imap_store.h"
#include "twinbox/sync/engine.h"
#include "twinbox/util/log.h"
#include "watch.h"

long long watch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long watch_test_ms(const char *name, long long dflt, long long max)
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

int watch_wake_init(struct watch_wake *w)
{
	atomic_init(&w->stopping, false);
	w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->fd == 0) { /* 0 means "none" to the network layer */
		w->fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
		close(0);
	}
	return w->fd < 0 ? -1 : 0;
}

void watch_wake_fire(struct watch_wake *w)
{
	uint64_t one = 1;

	if (write(w->fd, &one, sizeof(one)) < 0)
		log_debug("watch: cannot wake a source's thread: %s", strerror(errno));
}

void watch_wake_stop(struct watch_wake *w)
{
	atomic_store(&w->stopping, true);
	watch_wake_fire(w);
}

bool watch_stopping(struct watch_wake *w)
{
	return atomic_load(&w->stopping);
}

void watch_wake_close(struct watch_wake *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

bool watch_woken(struct watch_wake *w)
{
	uint64_t n;

	return read(w->fd, &n, sizeof(n)) == (ssize_t)sizeof(n);
}

bool watch_pause(struct watch_wake *w, long long ms)
{
	struct pollfd p = {w->fd, POLLIN, 0};
	long long until = watch_now_ms() + ms;

	for (long long left; (left = until - watch_now_ms()) > 0;) {
		int r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return true;
		if (r < 0 && errno != EINTR)
			break;
	}
	return false;
}

void watch_backoff_init(struct watch_backoff *b, unsigned seed)
{
	b->first = watch_test_ms("TWINBOX_TEST_BACKOFF_MS", 1000, 60000);
	b->max = b->first * WATCH_IDLE_BACKOFF_MAX_S;
	b->wait = b->first;
	b->seed = seed;
}

bool watch_backoff_pause(struct watch_backoff *b, struct watch_wake *w, const char *who, const char *why)
{
	long long wait = b->wait;

	log_warn("%s: %s; connecting again in %lld s", who, why, (wait + 999) / 1000);
	b->wait = b->wait * 2 > b->max ? b->max : b->wait * 2;
	/* Jitter: many watchers cut at once do not come back at once. */
	return watch_pause(w, wait + rand_r(&b->seed) % (wait / 4 + 1));
}

struct store *watch_open_imap(const struct config_account *a, enum side side, int cancel_fd,
                              struct error *err)
{
	struct imap_session_options o;
	struct store *st;
	char *password = config_side_password(a, side, err);

	if (!password)
		return NULL;
	cli_imap_options(&a->side[side].conn, password, &o);
	o.conn.timeouts.cancel_fd = cancel_fd;
	st = imap_store_open(&o, err);
	password_free(password);
	return st;
}

bool watch_synced_folder(const struct config_account *a, const char *name)
{
	const struct config_folders *f = &a->folders;
	bool in = false;

	for (size_t i = 0; i < f->include_count && !in; i++)
		in = sync_pattern_match(f->include[i], name);
	for (size_t i = 0; i < f->exclude_count && in; i++)
		in = !sync_pattern_match(f->exclude[i], name);
	return in;
}

int watch_idle_loop(struct imap_session *s, int (*news)(void *ctx, struct error *err), void *ctx,
                    struct error *err)
{
	long long renew_ms = watch_test_ms("TWINBOX_TEST_IDLE_RENEW_MS", WATCH_IDLE_RENEW_S * 1000LL,
	                                   WATCH_IDLE_RENEW_S * 1000LL);

	for (;;) {
		long long renew_at = watch_now_ms() + renew_ms;
		if (imap_idle_start(s, err) < 0)
			return -1;
		for (long long left; (left = renew_at - watch_now_ms()) > 0;) {
			if (imap_idle_wait(s, left > INT32_MAX ? INT32_MAX : (int)left, err) < 0 ||
			    news(ctx, err) < 0)
				return -1;
		}
		/* DONE and IDLE again: the server's 29 minutes, and a check
		 * that the connection still answers (watch.h). */
		if (imap_idle_done(s, err) < 0)
			return -1;
	}
}
