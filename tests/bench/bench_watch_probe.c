/*
 * make bench-watch's probes (bench_watch.h): the changes the bench makes
 * on either side, the two observers that see them arrive on the other,
 * and the check that a Maildir and its server are twins.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "bench_watch.h"
#include "support/dovecot_imap.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/mailflags.h"
#include "twinbox/util/xmalloc.h"

/* Headers longer than this are not the bench's. */
#define HEADER_MAX 16384
/* The server observer's NOOP while a change is awaited, and its full
 * check, news or not. */
#define SERVER_POLL_MS  20
#define SERVER_CHECK_MS 250

/* ---- the probes ---------------------------------------------------------- */

void probes_init(struct probes *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
}

void probes_free(struct probes *p)
{
	free(p->v);
	free(p->ids);
	free(p->uids);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
}

size_t probes_add(struct probes *p, const struct probe *pr)
{
	size_t i;

	pthread_mutex_lock(&p->mu);
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
	}
	i = p->n++;
	p->v[i] = *pr;
	p->v[i].sent = p->v[i].seen = 0;
	pthread_mutex_unlock(&p->mu);
	return i;
}

void probes_sent(struct probes *p, size_t i)
{
	double now = bench_now();

	pthread_mutex_lock(&p->mu);
	p->v[i].sent = now;
	pthread_mutex_unlock(&p->mu);
}

size_t probes_wait(struct probes *p, size_t from, double deadline)
{
	size_t unseen;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		double left = deadline - bench_now();
		struct timespec ts;

		unseen = 0;
		for (size_t i = from; i < p->n; i++)
			unseen += p->v[i].seen == 0;
		if (unseen == 0 || left <= 0)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		left = left > 0.5 ? 0.5 : left;
		ts.tv_nsec += (long)(left * 1e9);
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
	}
	pthread_mutex_unlock(&p->mu);
	return unseen;
}

void probes_cancel(struct probes *p, size_t i)
{
	pthread_mutex_lock(&p->mu);
	if (i + 1 == p->n)
		p->n--;
	pthread_mutex_unlock(&p->mu);
}

/* Under the lock. */
static void learn_uid(struct probes *p, const char *msgid, uint32_t uid)
{
	if (p->n_ids == p->cap_ids) {
		p->cap_ids = p->cap_ids ? 2 * p->cap_ids : 256;
		p->ids = xrealloc(p->ids, p->cap_ids * sizeof(*p->ids));
		p->uids = xrealloc(p->uids, p->cap_ids * sizeof(*p->uids));
	}
	snprintf(p->ids[p->n_ids], PROBE_MSGID_MAX, "%s", msgid);
	p->uids[p->n_ids++] = uid;
}

uint32_t probes_uid_of(struct probes *p, const char *msgid)
{
	uint32_t uid = 0;

	pthread_mutex_lock(&p->mu);
	for (size_t i = p->n_ids; i-- > 0 && !uid;)
		if (strcmp(p->ids[i], msgid) == 0)
			uid = p->uids[i];
	pthread_mutex_unlock(&p->mu);
	return uid;
}

bool probes_pending(struct probes *p, const char *msgid)
{
	bool pending = false;

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->n && !pending; i++)
		pending = p->v[i].seen == 0 && strcmp(p->v[i].msgid, msgid) == 0;
	pthread_mutex_unlock(&p->mu);
	return pending;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank percentile `q` of `n` sorted values. */
static double rank(const double *v, size_t n, double q)
{
	size_t k = (size_t)(q * (double)n + 0.999999);

	return v[k == 0 ? 0 : k > n ? n - 1 : k - 1];
}

void probes_latency(struct probes *p, size_t from, size_t to, unsigned kinds, struct latency *l_r)
{
	double *v = xcalloc(to - from + 1, sizeof(*v));
	size_t n = 0, lost = 0;

	pthread_mutex_lock(&p->mu);
	for (size_t i = from; i < to && i < p->n; i++) {
		const struct probe *pr = &p->v[i];

		if (!(kinds & PROBE_BIT(pr->kind)))
			continue;
		if (pr->seen <= 0) {
			lost++;
			continue;
		}
		/* A change seen before the bench took the time of its
		 * making: the tool was faster than the clock's reading. */
		v[n++] = pr->seen > pr->sent ? pr->seen - pr->sent : 0;
	}
	pthread_mutex_unlock(&p->mu);
	qsort(v, n, sizeof(*v), cmp_double);
	*l_r = (struct latency){.run = true, .n = n, .lost = lost};
	if (n) {
		l_r->median = rank(v, n, 0.5);
		l_r->p90 = rank(v, n, 0.9);
		l_r->p99 = rank(v, n, 0.99);
		l_r->max = v[n - 1];
	}
	free(v);
}

/* Stamp the unseen probes of `kind` about `msgid` seen at `t`. */
static void seen_msgid(struct probes *p, enum probe_kind kind, const char *msgid, double t)
{
	bool any = false;

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->n; i++) {
		struct probe *pr = &p->v[i];
		if (pr->kind == kind && pr->seen == 0 && strcmp(pr->msgid, msgid) == 0) {
			pr->seen = t;
			any = true;
		}
	}
	if (any)
		pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* ---- Message-IDs ---------------------------------------------------------- */

/* The Message-ID in a header block (`len` bytes), without brackets. */
static bool header_msgid(const char *h, size_t len, char msgid_r[PROBE_MSGID_MAX])
{
	for (size_t i = 0; i + 11 < len;) {
		const char *eol = memchr(h + i, '\n', len - i);
		size_t end = eol ? (size_t)(eol - h) : len;

		if (end == i || (end == i + 1 && h[i] == '\r'))
			return false; /* the header's end */
		if (strncasecmp(h + i, "Message-ID:", 11) == 0) {
			const char *lt = memchr(h + i, '<', len - i);
			const char *gt = lt ? memchr(lt, '>', len - (size_t)(lt - h)) : NULL;
			size_t n = gt ? (size_t)(gt - lt - 1) : 0;

			if (!gt || n == 0 || n >= PROBE_MSGID_MAX)
				return false;
			memcpy(msgid_r, lt + 1, n);
			msgid_r[n] = '\0';
			return true;
		}
		i = end + 1;
	}
	return false;
}

bool watch_file_msgid(const char *path, char msgid_r[PROBE_MSGID_MAX])
{
	char h[HEADER_MAX];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, h, sizeof(h));
	close(fd);
	return n > 0 && header_msgid(h, (size_t)n, msgid_r);
}

/* Headers of FETCHed messages, one at a time (fetch_headers). */
struct header_sink {
	void (*each)(void *ctx, uint32_t uid, unsigned flags, const char *msgid);
	void *ctx;
	uint32_t uid;
	struct buf h;
};

static int header_begin(void *ctx, uint32_t uid, uint64_t size, struct error *err)
{
	struct header_sink *k = ctx;

	(void)size;
	(void)err;
	k->uid = uid;
	buf_reset(&k->h);
	return 0;
}

static int header_chunk(void *ctx, const void *data, size_t len, struct error *err)
{
	struct header_sink *k = ctx;

	(void)err;
	if (k->h.len + len <= HEADER_MAX)
		buf_append(&k->h, data, len);
	return 0;
}

static int header_end(void *ctx, const struct imap_fetch *fetch, struct error *err)
{
	struct header_sink *k = ctx;
	char msgid[PROBE_MSGID_MAX] = "";
	char *keywords = NULL;
	unsigned flags = imap_flags_parse(&fetch->flags, &keywords);

	(void)err;
	free(keywords);
	header_msgid(k->h.data ? k->h.data : "", k->h.len, msgid);
	k->each(k->ctx, k->uid ? k->uid : fetch->uid, flags & MAIL_FLAGS_ALL, msgid);
	return 0;
}

/* Each message of the selected folder with a UID above `above`: its
 * UID, flags and Message-ID ("" when it has none) to `each`. Returns
 * the highest UID seen (`above` when none); ends the bench on an error,
 * `what` naming who asked. */
static uint32_t fetch_headers(struct imap_session *s, uint32_t above,
                              void (*each)(void *ctx, uint32_t uid, unsigned flags, const char *msgid),
                              void *ctx, const char *what)
{
	static const struct imap_body_handler h0 = {
	    .begin = header_begin, .chunk = header_chunk, .end = header_end, .section = "HEADER"};
	struct imap_body_handler h = h0;
	struct header_sink k = {each, ctx, 0, BUF_INIT};
	struct imap_msg_info *msgs = NULL;
	size_t count = 0, n = 0;
	uint32_t *uids, max = above;
	struct error err;

	if (imap_fetch_info(s, above + 1, 0, 0, 0, &msgs, &count, &err) < 0)
		bench_fail("%s: %s", what, err.text);
	uids = xcalloc(count + 1, sizeof(*uids));
	/* "N:*" names the last message even when its UID is below N. */
	for (size_t i = 0; i < count; i++)
		if (msgs[i].uid > above)
			uids[n++] = msgs[i].uid;
	imap_msg_info_free(msgs, count);
	h.ctx = &k;
	if (n && imap_fetch_bodies(s, uids, n, &h, NULL, &err) < 0)
		bench_fail("%s: %s", what, err.text);
	for (size_t i = 0; i < n; i++)
		max = uids[i] > max ? uids[i] : max;
	buf_free(&k.h);
	free(uids);
	return max;
}

/* ---- the Maildir observer ------------------------------------------------- */

struct maildir_observer {
	struct probes *p;
	char *dirs[2]; /* new/, cur/ */
	int wd[2];
	int fd, stop[2];
	pthread_t thread;
};

static void on_file(struct maildir_observer *o, const char *dir, const char *name, double t)
{
	char *path = xasprintf("%s/%s", dir, name);
	char msgid[PROBE_MSGID_MAX];

	/* Not complete yet when only created: its close comes later. */
	if (watch_file_msgid(path, msgid))
		seen_msgid(o->p, PROBE_DELIVERY, msgid, t);
	free(path);
}

static void *maildir_observer_main(void *arg)
{
	struct maildir_observer *o = arg;
	char buf[64 * (sizeof(struct inotify_event) + NAME_MAX + 1)] __attribute__((aligned(8)));

	for (;;) {
		struct pollfd fds[2] = {{o->fd, POLLIN, 0}, {o->stop[0], POLLIN, 0}};
		ssize_t n;
		double t;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			bench_fail("the Maildir observer: poll: %s", strerror(errno));
		if (fds[1].revents)
			return NULL;
		t = bench_now();
		while ((n = read(o->fd, buf, sizeof(buf))) > 0) {
			for (char *q = buf; q < buf + n;) {
				const struct inotify_event *ev = (const struct inotify_event *)q;
				q += sizeof(*ev) + ev->len;
				if (!ev->len || ev->name[0] == '.' || (ev->mask & IN_ISDIR))
					continue;
				on_file(o, ev->wd == o->wd[0] ? o->dirs[0] : o->dirs[1], ev->name, t);
			}
		}
	}
}

struct maildir_observer *maildir_observer_start(const char *folder_dir, struct probes *p)
{
	struct maildir_observer *o = xcalloc(1, sizeof(*o));

	o->p = p;
	o->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (o->fd < 0 || pipe2(o->stop, O_CLOEXEC) < 0)
		bench_fail("the Maildir observer: %s", strerror(errno));
	for (int k = 0; k < 2; k++) {
		o->dirs[k] = xasprintf("%s/%s", folder_dir, k ? "cur" : "new");
		o->wd[k] = inotify_add_watch(o->fd, o->dirs[k], IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE);
		if (o->wd[k] < 0)
			bench_fail("cannot watch %s: %s", o->dirs[k], strerror(errno));
	}
	if (pthread_create(&o->thread, NULL, maildir_observer_main, o) != 0)
		bench_fail("cannot start the Maildir observer");
	return o;
}

void maildir_observer_stop(struct maildir_observer *o)
{
	if (!o)
		return;
	if (write(o->stop[1], "x", 1) != 1)
		bench_fail("cannot stop the Maildir observer: %s", strerror(errno));
	pthread_join(o->thread, NULL);
	close(o->fd);
	close(o->stop[0]);
	close(o->stop[1]);
	free(o->dirs[0]);
	free(o->dirs[1]);
	free(o);
}

/* ---- the server observer -------------------------------------------------- */

struct server_observer {
	struct probes *p;
	struct dovecot *d;
	struct imap_session *s;
	uint32_t max_uid; /* the highest UID whose Message-ID is known */
	double news_at;   /* when untagged news came since the last check; 0: none */
	volatile bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool ready;
	pthread_t thread;
};

/* A message's Message-ID learned (fetch_headers): its UID noted, and
 * the probe of a new local message with it seen at ctx's `t`. */
struct learning {
	struct server_observer *o;
	double t;
};

static void learned(void *ctx, uint32_t uid, unsigned flags, const char *msgid)
{
	struct learning *l = ctx;

	(void)flags;
	if (!*msgid)
		return;
	pthread_mutex_lock(&l->o->p->mu);
	learn_uid(l->o->p, msgid, uid);
	pthread_mutex_unlock(&l->o->p->mu);
	if (l->t > 0)
		seen_msgid(l->o->p, PROBE_LOCAL_NEW, msgid, l->t);
}

/* The Message-IDs of the messages above max_uid; probes of new local
 * messages among them seen at `t` (0: none to stamp). */
static void learn_new(struct server_observer *o, double t)
{
	struct learning l = {o, t};

	o->max_uid = fetch_headers(o->s, o->max_uid, learned, &l, "the server observer");
}

/* The flag and deletion probes not seen yet, checked at `t`. */
static void check_changed(struct server_observer *o, double t)
{
	struct probes *p = o->p;

	for (size_t i = 0;; i++) {
		struct imap_msg_info *msgs = NULL, *m;
		size_t count = 0;
		struct probe pr = {0};
		struct error err;
		bool met;

		pthread_mutex_lock(&p->mu);
		while (i < p->n && (p->v[i].seen != 0 || p->v[i].sent == 0 ||
		                    (p->v[i].kind != PROBE_LOCAL_FLAG && p->v[i].kind != PROBE_LOCAL_DELETE)))
			i++;
		if (i < p->n)
			pr = p->v[i];
		pthread_mutex_unlock(&p->mu);
		if (i >= p->n)
			return;
		if (imap_fetch_info(o->s, pr.uid, pr.uid, 0, 0, &msgs, &count, &err) < 0)
			bench_fail("the server observer: %s", err.text);
		/* Its answer may hold unsolicited FETCHes of other messages. */
		for (m = msgs; m < msgs + count && m->uid != pr.uid; m++)
			;
		met = m == msgs + count               ? true /* gone */
		      : pr.kind == PROBE_LOCAL_DELETE ? (m->flags & MAIL_FLAG_DELETED) != 0
		                                      : ((m->flags & MAIL_FLAG_FLAGGED) != 0) == pr.flagged;
		if (met) {
			pthread_mutex_lock(&p->mu);
			/* A flag change whose message is gone is never seen. */
			p->v[i].seen = pr.kind == PROBE_LOCAL_FLAG && m == msgs + count ? -1 : t;
			pthread_cond_broadcast(&p->cv);
			pthread_mutex_unlock(&p->mu);
		}
		imap_msg_info_free(msgs, count);
	}
}

/* Untagged news (the session's handlers): its time, when none came
 * since the last check. */
static void on_news(struct server_observer *o)
{
	if (o->news_at == 0)
		o->news_at = bench_now();
}

static void news_exists(void *ctx, uint32_t count)
{
	(void)count;
	on_news(ctx);
}

static void news_expunge(void *ctx, uint32_t seq, uint32_t uid)
{
	(void)seq;
	(void)uid;
	on_news(ctx);
}

static void news_vanished(void *ctx, const struct imap_uid_set *uids, bool earlier)
{
	(void)uids;
	(void)earlier;
	on_news(ctx);
}

static void news_fetch(void *ctx, const struct imap_fetch *fetch)
{
	(void)fetch;
	on_news(ctx);
}

/* Whether a local probe made is not seen yet. */
static bool local_pending(struct probes *p)
{
	bool pending = false;

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->n && !pending; i++)
		pending = p->v[i].kind != PROBE_DELIVERY && p->v[i].sent != 0 && p->v[i].seen == 0;
	pthread_mutex_unlock(&p->mu);
	return pending;
}

static void *server_observer_main(void *arg)
{
	struct server_observer *o = arg;
	struct imap_session_handlers h = {.ctx = o,
	                                  .exists = news_exists,
	                                  .expunge = news_expunge,
	                                  .vanished = news_vanished,
	                                  .fetch = news_fetch};
	double next_check = 0;
	struct error err;

	o->s = watch_session(o->d, "INBOX", true);
	imap_session_set_handlers(o->s, &h);
	learn_new(o, 0);
	o->news_at = 0;
	pthread_mutex_lock(&o->mu);
	o->ready = true;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
	while (!o->stop) {
		double t;

		/* Not IDLE: Dovecot tells an idling client of another's
		 * change only after a delay (500 ms), which would be counted
		 * against the tool. A NOOP shows what changed at once. */
		if (!local_pending(o->p)) {
			nanosleep(&(struct timespec){0, SERVER_POLL_MS * 1000000L}, NULL);
			continue;
		}
		if (imap_noop(o->s, &err) < 0)
			bench_fail("the server observer: %s", err.text);
		/* A FETCH of another client's flags that arrives during the
		 * bench's own FETCH is taken as part of its answer, not as
		 * news: a full check now and then all the same. */
		if (o->news_at == 0 && bench_now() < next_check) {
			nanosleep(&(struct timespec){0, SERVER_POLL_MS * 1000000L}, NULL);
			continue;
		}
		t = o->news_at ? o->news_at : bench_now();
		o->news_at = 0;
		learn_new(o, t);
		check_changed(o, t);
		next_check = bench_now() + SERVER_CHECK_MS / 1000.0;
	}
	imap_session_close(o->s);
	return NULL;
}

struct server_observer *server_observer_start(struct dovecot *d, struct probes *p)
{
	struct server_observer *o = xcalloc(1, sizeof(*o));

	o->p = p;
	o->d = d;
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	if (pthread_create(&o->thread, NULL, server_observer_main, o) != 0)
		bench_fail("cannot start the server observer");
	pthread_mutex_lock(&o->mu);
	while (!o->ready)
		pthread_cond_wait(&o->cv, &o->mu);
	pthread_mutex_unlock(&o->mu);
	return o;
}

void server_observer_stop(struct server_observer *o)
{
	if (!o)
		return;
	o->stop = true;
	pthread_join(o->thread, NULL);
	pthread_mutex_destroy(&o->mu);
	pthread_cond_destroy(&o->cv);
	free(o);
}

/* ---- changes ------------------------------------------------------------- */

void watch_rng_seed(struct watch_rng *r, uint64_t seed)
{
	r->s = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static uint64_t rng_next(struct watch_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 2685821657736338717ull;
}

double watch_rng_uniform(struct watch_rng *r, double lo, double hi)
{
	return lo + (hi - lo) * (double)(rng_next(r) >> 11) / 9007199254740992.0;
}

size_t watch_rng_below(struct watch_rng *r, size_t n)
{
	return n ? (size_t)(rng_next(r) % n) : 0;
}

void watch_sleep_until(double t)
{
	double left;

	while ((left = t - bench_now()) > 0) {
		struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
		nanosleep(&ts, NULL);
	}
}

struct imap_session *watch_session(struct dovecot *d, const char *mailbox, bool examine)
{
	struct imap_session_options o = dovecot_imap_options(d);
	struct imap_session *s;
	struct error err;

	s = imap_connect(&o, &err);
	if (!s || (mailbox && imap_select(s, mailbox, examine, NULL, &err) < 0))
		bench_fail("cannot open a session on the bench's Dovecot: %s", err.text);
	return s;
}

/* About 2 KB of plain text, CRLF line ends, as a short mail is. */
static char *message_text(const char *msgid, size_t *len_r)
{
	struct buf b = BUF_INIT;

	buf_printf(&b,
	           "From: Bench <bench@twinbox.test>\r\nTo: User <tbuser@twinbox.test>\r\n"
	           "Subject: watch probe %s\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\n"
	           "Message-ID: <%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
	           msgid, msgid);
	for (int i = 0; i < 30; i++)
		buf_printf(&b, "Line %02d of a message the watch bench made to see how fast it travels.\r\n",
		           i);
	return buf_detach(&b, len_r);
}

void watch_deliver(struct imap_session *s, const char *msgid)
{
	struct imap_append_msg m = {0};
	struct error err;
	size_t len;
	char *text = message_text(msgid, &len);

	m.data = text;
	m.len = len;
	if (imap_append(s, "INBOX", &m, &err) < 0)
		bench_fail("APPEND of a probe: %s", err.text);
	free(text);
}

char *watch_folder_dir(const char *root, const char *name, bool subdirs)
{
	char *dir;

	if (!subdirs && strcmp(name, "INBOX") == 0)
		return xstrdup(root);
	dir = xasprintf("%s/%s%s", root, subdirs ? "" : ".", name);
	for (char *c = dir + strlen(root) + 1; *c; c++)
		if (*c == '/')
			*c = '.';
	return dir;
}

void watch_local_new(const char *folder_dir, const char *msgid)
{
	static unsigned n;
	size_t len;
	char *text = message_text(msgid, &len);
	char *name = xasprintf("%lld.B%uP%d.bench", (long long)time(NULL), n++, (int)getpid());
	char *tmp = xasprintf("%s/tmp/%s", folder_dir, name), *to = xasprintf("%s/new/%s", folder_dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) != 0)
		bench_fail("cannot write %s: %s", tmp, strerror(errno));
	if (rename(tmp, to) != 0)
		bench_fail("cannot move %s to %s: %s", tmp, to, strerror(errno));
	free(text);
	free(name);
	free(tmp);
	free(to);
}

/* The message files of `dir` (names; fresh, NULL-terminated). */
static char **list_files(const char *dir, size_t *count_r)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t n = 0, cap = 0;

	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n + 1 >= cap) {
			cap = cap ? 2 * cap : 256;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = xstrdup(e->d_name);
	}
	if (d)
		closedir(d);
	*count_r = n;
	return v;
}

static void free_files(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

bool watch_local_pick(const char *folder_dir, struct watch_rng *r, struct probes *p, bool need_uid,
                      char **path_r, char msgid_r[PROBE_MSGID_MAX])
{
	char *dirs[2] = {xasprintf("%s/new", folder_dir), xasprintf("%s/cur", folder_dir)};
	size_t counts[2];
	char **names[2] = {list_files(dirs[0], &counts[0]), list_files(dirs[1], &counts[1])};
	bool found = false;

	for (int tries = 0; tries < 50 && !found && counts[0] + counts[1] > 0; tries++) {
		size_t k = watch_rng_below(r, counts[0] + counts[1]);
		int d = k >= counts[0];
		char *path = xasprintf("%s/%s", dirs[d], names[d][d ? k - counts[0] : k]);

		found = watch_file_msgid(path, msgid_r) && (!p || !probes_pending(p, msgid_r)) &&
		        (!need_uid || probes_uid_of(p, msgid_r) != 0);
		if (found)
			*path_r = path;
		else
			free(path);
	}
	for (int d = 0; d < 2; d++) {
		free_files(names[d], counts[d]);
		free(dirs[d]);
	}
	return found;
}

bool watch_toggle_flagged(const char *path, bool *flagged_r)
{
	const char *slash = strrchr(path, '/');
	const char *info = strstr(slash, ":2,");
	size_t stem = info ? (size_t)(info - slash - 1) : strlen(slash + 1);
	char letters[32] = "", out[32];
	size_t n = 0;
	bool had;
	char *to;
	int rc;

	if (info)
		snprintf(letters, sizeof(letters), "%s", info + 3);
	had = strchr(letters, 'F') != NULL;
	/* The letters in ASCII order, as the Maildir spec asks. */
	for (char c = 'A'; c <= 'z'; c++)
		if (c == 'F' ? !had : strchr(letters, c) != NULL)
			out[n++] = c;
	out[n] = '\0';
	/* slash - 4: the folder, without "/new" or "/cur". */
	to = xasprintf("%.*s/cur/%.*s:2,%s", (int)(slash - 4 - path), path, (int)stem, slash + 1, out);
	rc = rename(path, to);
	if (rc != 0 && errno != ENOENT)
		bench_fail("cannot rename %s to %s: %s", path, to, strerror(errno));
	free(to);
	*flagged_r = !had;
	return rc == 0;
}

/* ---- twins -------------------------------------------------------------- */

struct msg_entry {
	char msgid[PROBE_MSGID_MAX];
	unsigned flags;
};

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct msg_entry *)a)->msgid, ((const struct msg_entry *)b)->msgid);
}

struct listing {
	struct msg_entry *v;
	size_t n, cap;
};

static void listing_add(struct listing *l, const char *msgid, unsigned flags)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	snprintf(l->v[l->n].msgid, PROBE_MSGID_MAX, "%s", msgid);
	l->v[l->n++].flags = flags;
}

/* The Maildir side of a folder. */
static void maildir_listing(const char *folder_dir, struct listing *l)
{
	for (int d = 0; d < 2; d++) {
		char *dir = xasprintf("%s/%s", folder_dir, d ? "cur" : "new");
		size_t count;
		char **names = list_files(dir, &count);

		for (size_t i = 0; i < count; i++) {
			char *path = xasprintf("%s/%s", dir, names[i]);
			const char *info = strstr(names[i], ":2,");
			char msgid[PROBE_MSGID_MAX] = "(no Message-ID)";
			unsigned flags = 0;

			watch_file_msgid(path, msgid);
			for (const char *c = info ? info + 3 : ""; *c; c++) {
				const struct mail_flag_def *f = mail_flag_by_letter(*c);
				flags |= f ? f->bit : 0;
			}
			listing_add(l, msgid, flags);
			free(path);
		}
		free_files(names, count);
		free(dir);
	}
}

static void listed(void *ctx, uint32_t uid, unsigned flags, const char *msgid)
{
	(void)uid;
	listing_add(ctx, *msgid ? msgid : "(no Message-ID)", flags);
}

/* The server side of a folder. */
static void server_listing(struct imap_session *s, const char *name, struct listing *l)
{
	struct error err;

	if (imap_select(s, name, true, NULL, &err) < 0)
		bench_fail("the twins check, %s: %s", name, err.text);
	fetch_headers(s, 0, listed, l, "the twins check");
}

/* The first difference between two sorted listings of a folder, into
 * `why`; false when there is one. */
static bool same_listing(const char *name, const struct listing *srv, const struct listing *md, char *why,
                         size_t why_len)
{
	size_t i = 0, k = 0;

	for (size_t j = 1; j < srv->n; j++)
		if (strcmp(srv->v[j].msgid, srv->v[j - 1].msgid) == 0) {
			snprintf(why, why_len, "%s: <%s> twice on the server", name, srv->v[j].msgid);
			return false;
		}
	for (size_t j = 1; j < md->n; j++)
		if (strcmp(md->v[j].msgid, md->v[j - 1].msgid) == 0) {
			snprintf(why, why_len, "%s: <%s> twice in the Maildir", name, md->v[j].msgid);
			return false;
		}
	while (i < srv->n || k < md->n) {
		int c = i == srv->n ? 1 : k == md->n ? -1 : strcmp(srv->v[i].msgid, md->v[k].msgid);

		if (c != 0) {
			snprintf(why, why_len, "%s: <%s> only %s", name,
			         c < 0 ? srv->v[i].msgid : md->v[k].msgid,
			         c < 0 ? "on the server" : "in the Maildir");
			return false;
		}
		if (srv->v[i].flags != md->v[k].flags) {
			snprintf(why, why_len, "%s: <%s> has flags %#x on the server, %#x in the Maildir",
			         name, srv->v[i].msgid, srv->v[i].flags, md->v[k].flags);
			return false;
		}
		i++;
		k++;
	}
	return true;
}

bool watch_twins(struct dovecot *d, const char *root, const char *const *names, size_t count,
                 const size_t *expect, char *why, size_t why_len)
{
	struct imap_session *s = watch_session(d, NULL, false);
	bool same = true;

	for (size_t f = 0; f < count && same; f++) {
		struct listing srv = {0}, md = {0};
		char *dir = watch_folder_dir(root, names[f], false);

		server_listing(s, names[f], &srv);
		maildir_listing(dir, &md);
		qsort(srv.v, srv.n, sizeof(*srv.v), cmp_entry);
		qsort(md.v, md.n, sizeof(*md.v), cmp_entry);
		same = same_listing(names[f], &srv, &md, why, why_len);
		if (same && expect && expect[f] != SIZE_MAX && srv.n != expect[f]) {
			snprintf(why, why_len, "%s: %zu messages on both sides, %zu expected", names[f],
			         srv.n, expect[f]);
			same = false;
		}
		free(srv.v);
		free(md.v);
		free(dir);
	}
	imap_session_close(s);
	return same;
}
