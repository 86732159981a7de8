/*
 * One IMAP side of an account, followed by `twinbox watch` (watch.h):
 * NOTIFY over one connection where the server offers it, else IDLE on
 * the folders within the budget (watch_idle.c, one thread each) and
 * STATUS of the others at an interval. The decisions are made here,
 * in the side's own thread, after each listing.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/store/imap_store.h"
#include "twinbox/sync/engine.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"
#include "watch.h"

/* What NOTIFY asks for: every personal mailbox, their messages coming
 * and going and their flags, and mailboxes made, renamed or removed. */
#define NOTIFY_EVENTS "(personal (MessageNew MessageExpunge FlagChange MailboxName))"

/* A folder as the last listing showed it. */
struct folder_seen {
	char *name;
	struct imap_status_info st;
};

struct watch_server {
	const struct config_account *a;
	enum side side;
	char *who; /* "ACCOUNT" or "ACCOUNT (target)" for messages */
	struct watch_target t;
	struct watch_wake wake;
	pthread_t thread;
	bool no_notify; /* the server refused NOTIFY once: IDLE from then on */
	/* The last listing (sorted by name); `listed` once there was one. */
	struct folder_seen *seen;
	size_t n_seen;
	bool listed;
	/* The IDLE threads (IDLE mode), changed by this thread only; the
	 * lock is for watch_server_reconnect from the loop. */
	pthread_mutex_t lock;
	struct watch_idle **idles;
	char **idle_names;
	size_t n_idles;
	/* NOTIFY: a NOTIFICATIONOVERFLOW came (the server stopped). */
	bool overflow;
	struct store *st; /* the connection in use, for names */
};

static int seen_cmp(const void *x, const void *y)
{
	return strcmp(((const struct folder_seen *)x)->name, ((const struct folder_seen *)y)->name);
}

static void seen_free(struct folder_seen *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static const struct folder_seen *seen_find(const struct folder_seen *v, size_t n, const char *name)
{
	struct folder_seen key = {.name = (char *)name};

	return n ? bsearch(&key, v, n, sizeof(*v), seen_cmp) : NULL;
}

/* Whether what STATUS says of a folder moved: its messages, their
 * flags (UNSEEN, HIGHESTMODSEQ), a renumbering. */
static bool status_moved(const struct imap_status_info *a, const struct imap_status_info *b)
{
	return a->have != b->have || a->messages != b->messages || a->uidnext != b->uidnext ||
	       a->uidvalidity != b->uidvalidity || a->unseen != b->unseen ||
	       a->highestmodseq != b->highestmodseq;
}

/* ---- IDLE mode ----------------------------------------------------- */

static bool is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

static bool idling(const struct watch_server *w, const char *name)
{
	for (size_t i = 0; i < w->n_idles; i++)
		if (strcmp(w->idle_names[i], name) == 0)
			return true;
	return false;
}

/* The folders to watch with IDLE: INBOX, then those `watch: folders`
 * names in its order, up to `watch: connections`; NULL-terminated
 * (pointers into w->seen). */
static const char **idle_wanted(const struct watch_server *w)
{
	const struct config_watch *cw = &w->a->watch;
	const char **v = xcalloc(w->n_seen + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < w->n_seen && n < cw->connections; i++)
		if (is_inbox(w->seen[i].name))
			v[n++] = w->seen[i].name;
	for (size_t p = 0; p < cw->folder_count; p++) {
		for (size_t i = 0; i < w->n_seen && n < cw->connections; i++) {
			const char *name = w->seen[i].name;
			bool have = false;
			for (size_t k = 0; k < n && !have; k++)
				have = v[k] == name;
			if (!have && sync_pattern_match(cw->folders[p], name))
				v[n++] = name;
		}
	}
	return v;
}

/* The IDLE threads made to match idle_wanted(): the ones no longer
 * wanted stopped, the missing ones started. */
static void plan_idles(struct watch_server *w)
{
	const char **want = idle_wanted(w);
	size_t k = 0;

	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->n_idles; i++) {
		bool keep = false;
		for (size_t j = 0; want[j] && !keep; j++)
			keep = strcmp(want[j], w->idle_names[i]) == 0;
		if (!keep) {
			watch_idle_stop(w->idles[i]);
			free(w->idle_names[i]);
			continue;
		}
		w->idles[k] = w->idles[i];
		w->idle_names[k++] = w->idle_names[i];
	}
	w->n_idles = k;
	for (size_t j = 0; want[j]; j++) {
		struct watch_idle *idle;
		if (idling(w, want[j]))
			continue;
		idle = watch_idle_start(w->a, w->side, want[j], &w->t);
		if (!idle) {
			log_warn("%s: cannot start watching %s with IDLE; it is checked every %u s", w->who,
			         want[j], w->a->watch.poll_s);
			continue;
		}
		w->idles = xrealloc(w->idles, (w->n_idles + 1) * sizeof(*w->idles));
		w->idle_names = xrealloc(w->idle_names, (w->n_idles + 1) * sizeof(*w->idle_names));
		w->idles[w->n_idles] = idle;
		w->idle_names[w->n_idles++] = xstrdup(want[j]);
	}
	pthread_mutex_unlock(&w->lock);
	free(want);
}

static void stop_idles(struct watch_server *w)
{
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->n_idles; i++) {
		watch_idle_stop(w->idles[i]);
		free(w->idle_names[i]);
	}
	free(w->idles);
	free(w->idle_names);
	w->idles = NULL;
	w->idle_names = NULL;
	w->n_idles = 0;
	pthread_mutex_unlock(&w->lock);
}

/* List the folders the account syncs with their STATUS, in one round
 * (LIST-STATUS, else pipelined STATUS): into *v_r, sorted. */
static int list_status(struct watch_server *w, struct store *st, struct folder_seen **v_r, size_t *n_r,
                       struct error *err)
{
	struct imap_session *s = imap_store_session(st);
	struct imap_folder *f;
	struct folder_seen *v;
	size_t n, k = 0;
	char *inbox;

	/* The namespace first: the names below are read with it. */
	if (!(inbox = imap_store_server_name(st, "INBOX", err)))
		return -1;
	free(inbox);
	if (imap_list(s, "*", IMAP_LIST_STATUS, &f, &n, err) < 0)
		return -1;
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		char *name;
		if ((f[i].attrs & IMAP_FOLDER_NOSELECT) || !f[i].raw)
			continue;
		name = imap_store_folder_name(st, f[i].raw, strlen(f[i].raw));
		if (!name || !watch_synced_folder(w->a, name)) {
			free(name);
			continue;
		}
		v[k].name = name;
		v[k++].st = f[i].status;
	}
	imap_folders_free(f, n);
	qsort(v, k, sizeof(*v), seen_cmp);
	/* A name twice ("INBOX" and "inbox"): the first counts. */
	n = 0;
	for (size_t i = 0; i < k; i++) {
		if (n && strcmp(v[n - 1].name, v[i].name) == 0)
			free(v[i].name);
		else
			v[n++] = v[i];
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

/* A listing compared with the last: a folder that came or went notes
 * the whole account; a folder without IDLE whose STATUS moved is
 * noted. The first listing only sets the baseline (the loop's full
 * sync has just run). */
static void compare(struct watch_server *w, const struct folder_seen *v, size_t n)
{
	bool whole = w->listed && n != w->n_seen;

	for (size_t i = 0; i < n && w->listed && !whole; i++) {
		const struct folder_seen *was = seen_find(w->seen, w->n_seen, v[i].name);
		if (!was) {
			whole = true;
		} else if (!idling(w, v[i].name) && status_moved(&was->st, &v[i].st)) {
			log_debug("%s: %s changed (STATUS)", w->who, v[i].name);
			watch_target_note(&w->t, v[i].name);
		}
	}
	if (whole) {
		log_debug("%s: folders came or went", w->who);
		watch_target_note(&w->t, NULL);
	}
}

/* One poll on `st`: the listing, compared, and the IDLE threads made
 * to match it. */
static int poll_once(struct watch_server *w, struct store *st, struct error *err)
{
	struct folder_seen *v;
	size_t n;

	if (list_status(w, st, &v, &n, err) < 0)
		return -1;
	compare(w, v, n);
	seen_free(w->seen, w->n_seen);
	w->seen = v;
	w->n_seen = n;
	if (!w->listed)
		log_debug("%s: %zu folders; IDLE on up to %u of them, the others checked every %u s", w->who,
		          n, w->a->watch.connections, w->a->watch.poll_s);
	w->listed = true;
	plan_idles(w);
	return 0;
}

/* ---- NOTIFY mode --------------------------------------------------- */

static void on_notify(void *ctx, const struct imap_response *resp)
{
	struct watch_server *w = ctx;
	char *name;

	switch (resp->type) {
	case IMAP_DATA_STATUS:
		name = imap_store_folder_name(w->st, resp->status.name, resp->status.name_len);
		if (name && watch_synced_folder(w->a, name)) {
			log_debug("%s: %s changed (NOTIFY)", w->who, name);
			watch_target_note(&w->t, name);
		}
		free(name);
		break;
	case IMAP_DATA_LIST: /* a folder made, renamed or removed */
		log_debug("%s: folders came or went (NOTIFY)", w->who);
		watch_target_note(&w->t, NULL);
		break;
	default:
		if (resp->code.type == IMAP_CODE_NOTIFICATIONOVERFLOW)
			w->overflow = true;
		break;
	}
}

static int notify_news(void *ctx, struct error *err)
{
	struct watch_server *w = ctx;

	if (!w->overflow)
		return 0;
	w->overflow = false;
	return error_set(err, ERR_ACCOUNT, "the server stopped notifying (NOTIFICATIONOVERFLOW)");
}

/* NOTIFY on `st`, idling until the session ends (-1 with err); 1 when
 * the server refuses NOTIFY (then IDLE from now on). */
static int notify_listen(struct watch_server *w, struct store *st, struct error *err)
{
	struct imap_session *s = imap_store_session(st);
	char *inbox = imap_store_server_name(st, "INBOX", err); /* the namespace, for names */

	if (!inbox)
		return -1;
	free(inbox);
	w->st = st;
	w->overflow = false;
	imap_session_set_handlers(s, &(struct imap_session_handlers){.ctx = w, .unsolicited = on_notify});
	if (imap_notify(s, NOTIFY_EVENTS, err) < 0) {
		if (err->scope > ERR_MAILBOX)
			return -1;
		log_info("%s: the server refused NOTIFY (%s); IDLE on up to %u folders instead", w->who,
		         err->text, w->a->watch.connections);
		w->no_notify = true;
		error_clear(err);
		return 1;
	}
	log_debug("%s: watching every folder with NOTIFY", w->who);
	/* What came while no one listened. */
	watch_target_note(&w->t, NULL);
	return watch_idle_loop(s, notify_news, w, err);
}

/* ---- the thread ---------------------------------------------------- */

static bool use_notify(const struct watch_server *w, struct store *st)
{
	return !w->no_notify && w->a->watch.notify && w->a->watch.connections > 0 &&
	       imap_has_cap(imap_store_session(st), "NOTIFY");
}

/* One connection's life: NOTIFY until it ends, or a poll. 0 after a
 * poll, -1 with err. */
static int connected(struct watch_server *w, struct store *st, struct watch_backoff *b, struct error *err)
{
	int rc;

	if (use_notify(w, st)) {
		stop_idles(w);
		watch_backoff_reset(b);
		rc = notify_listen(w, st, err);
		w->st = NULL;
		if (rc <= 0)
			return -1;
	}
	rc = poll_once(w, st, err);
	if (rc == 0)
		watch_backoff_reset(b);
	return rc;
}

static void *server_main(void *arg)
{
	struct watch_server *w = arg;
	struct watch_backoff b;
	bool reconnected = false;

	watch_backoff_init(&b, (unsigned)watch_now_ms() ^ (unsigned)(uintptr_t)w);
	while (!watch_stopping(&w->wake)) {
		struct error err;
		struct store *st;
		int rc = -1;

		error_clear(&err);
		(void)watch_woken(&w->wake);
		st = watch_open_imap(w->a, w->side, w->wake.fd, &err);
		if (st) {
			/* Polled folders may have changed while no one looked. */
			if (reconnected && w->listed && !use_notify(w, st))
				watch_target_note(&w->t, NULL);
			rc = connected(w, st, &b, &err);
			st->ops->close(st);
		}
		if (watch_stopping(&w->wake))
			break;
		if (rc == 0) { /* polled: the next poll, or sooner when woken */
			reconnected = false;
			watch_pause(&w->wake, (long long)w->a->watch.poll_s * 1000);
			continue;
		}
		reconnected = true;
		if (watch_woken(&w->wake)) { /* asked to connect again, at once */
			log_debug("%s: connects again", w->who);
			watch_backoff_reset(&b);
			continue;
		}
		watch_backoff_pause(&b, &w->wake, w->who, err.text);
	}
	stop_idles(w);
	return NULL;
}

struct watch_server *watch_server_start(const struct config_account *a, enum side side,
                                        const struct watch_target *t)
{
	struct watch_server *w = xcalloc(1, sizeof(*w));

	w->a = a;
	w->side = side;
	w->who = a->two_servers ? xasprintf("%s (%s)", a->name, side == SIDE_A ? "source" : "target")
	                        : xstrdup(a->name);
	w->t = *t;
	pthread_mutex_init(&w->lock, NULL);
	if (watch_wake_init(&w->wake) < 0 || pthread_create(&w->thread, NULL, server_main, w) != 0) {
		watch_wake_close(&w->wake);
		pthread_mutex_destroy(&w->lock);
		free(w->who);
		free(w);
		return NULL;
	}
	return w;
}

void watch_server_reconnect(struct watch_server *w)
{
	watch_wake_fire(&w->wake);
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->n_idles; i++)
		watch_idle_reconnect(w->idles[i]);
	pthread_mutex_unlock(&w->lock);
}

void watch_server_stop(struct watch_server *w)
{
	if (!w)
		return;
	watch_wake_stop(&w->wake);
	pthread_join(w->thread, NULL);
	watch_wake_close(&w->wake);
	pthread_mutex_destroy(&w->lock);
	seen_free(w->seen, w->n_seen);
	free(w->who);
	free(w);
}
