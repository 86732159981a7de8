/*
 * IMAP IDLE as an event source of `twinbox watch` (watch.h): a thread
 * per watched folder, over a session of its own, that only listens.
 *
 * Every wait of the thread (to connect, to read, the back-off between
 * tries) also watches its wake-up eventfd: fired, it cuts the session
 * short. That is how its server's thread stops it and how the loop
 * makes it connect again at once.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/store/imap_store.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"
#include "watch.h"

struct watch_idle {
	const struct config_account *a;
	enum side side;
	char *folder; /* the account's name for it */
	char *who;    /* "ACCOUNT: FOLDER" for messages */
	struct watch_target t;
	struct watch_wake wake;
	bool changed; /* the folder changed since the last note (handlers below) */
	pthread_t thread;
};

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

static int news(void *ctx, struct error *err)
{
	struct watch_idle *w = ctx;

	(void)err;
	if (w->changed) {
		w->changed = false;
		watch_target_note(&w->t, w->folder);
	}
	return 0;
}

/* Connect, log in, EXAMINE the folder and idle until the session ends;
 * returns with `err` set. */
static void listen_once(struct watch_idle *w, struct watch_backoff *b, struct error *err)
{
	struct store *st = watch_open_imap(w->a, w->side, w->wake.fd, err);
	struct imap_session *s = imap_store_session(st);
	char *wire;

	if (!st)
		return;
	wire = imap_store_server_name(st, w->folder, err);
	imap_session_set_handlers(s, &(struct imap_session_handlers){.ctx = w,
	                                                             .exists = on_exists,
	                                                             .expunge = on_expunge,
	                                                             .vanished = on_vanished,
	                                                             .fetch = on_fetch});
	if (wire && imap_select(s, wire, true, NULL, err) == 0) {
		log_debug("%s: watching %s with IDLE", w->a->name, w->folder);
		watch_backoff_reset(b);
		/* What came while no one listened. */
		w->changed = false;
		watch_target_note(&w->t, w->folder);
		watch_idle_loop(s, news, w, err);
	}
	free(wire);
	st->ops->close(st);
}

static void *idle_main(void *arg)
{
	struct watch_idle *w = arg;
	struct watch_backoff b;

	watch_backoff_init(&b, (unsigned)watch_now_ms() ^ (unsigned)(uintptr_t)w);
	while (!watch_stopping(&w->wake)) {
		struct error err;

		error_clear(&err);
		(void)watch_woken(&w->wake); /* a wake before this try is no reason to end it */
		listen_once(w, &b, &err);
		if (watch_stopping(&w->wake))
			break;
		if (watch_woken(&w->wake)) { /* asked to connect again, at once */
			log_debug("%s: IDLE connects again", w->who);
			watch_backoff_reset(&b);
			continue;
		}
		char why[ERROR_TEXT_MAX + 32];
		snprintf(why, sizeof(why), "IDLE stopped: %s", err.text);
		watch_backoff_pause(&b, &w->wake, w->who, why);
	}
	return NULL;
}

struct watch_idle *watch_idle_start(const struct config_account *a, enum side side, const char *folder,
                                    const struct watch_target *t)
{
	struct watch_idle *w = xcalloc(1, sizeof(*w));

	w->a = a;
	w->side = side;
	w->folder = xstrdup(folder);
	w->who = xasprintf("%s: %s", a->name, folder);
	w->t = *t;
	if (watch_wake_init(&w->wake) < 0 || pthread_create(&w->thread, NULL, idle_main, w) != 0) {
		watch_wake_close(&w->wake);
		free(w->folder);
		free(w->who);
		free(w);
		return NULL;
	}
	return w;
}

void watch_idle_reconnect(struct watch_idle *w)
{
	watch_wake_fire(&w->wake);
}

void watch_idle_stop(struct watch_idle *w)
{
	if (!w)
		return;
	watch_wake_stop(&w->wake);
	pthread_join(w->thread, NULL);
	watch_wake_close(&w->wake);
	free(w->folder);
	free(w->who);
	free(w);
}
