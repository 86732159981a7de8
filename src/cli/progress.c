/*
 * The live progress line on a terminal: standard error shows, for every
 * account whose copies are under way, messages and bytes done of total,
 * the rate and the time left, on one line redrawn in place (CR, then
 * erase to the end of the line) at most 10 times a second. Other output
 * to the terminal erases it first (progress_pause); it is drawn again at
 * the next update, and erased for good when the last account ends. Off
 * unless progress_enable() was called (sync.c: standard error is a
 * terminal, no --json, no -q).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "render.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

#define REDRAW_NS 100000000LL /* 10 times a second at most */

static struct {
	pthread_mutex_t lock;
	bool enabled, shown;
	struct timespec last;
	struct progress_account *list;
} line = {.lock = PTHREAD_MUTEX_INITIALIZER};

void progress_enable(void)
{
	line.enabled = true;
}

static long long ns_since(const struct timespec *t0, const struct timespec *t1)
{
	return (long long)(t1->tv_sec - t0->tv_sec) * 1000000000LL + (t1->tv_nsec - t0->tv_nsec);
}

static void put_bytes(struct buf *b, double n)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	size_t u = 0;

	while (n >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		n /= 1000;
		u++;
	}
	buf_printf(b, u ? "%.1f %s" : "%.0f %s", n, units[u]);
}

static void put_account(struct buf *b, const struct progress_account *a, const struct timespec *now)
{
	const struct sync_progress *p = &a->p;
	double secs = (double)ns_since(&a->start, now) / 1e9;
	double rate = secs > 0.2 ? (double)p->bytes_done / secs : 0;

	buf_printf(b, "%s: %zu of %zu messages, ", a->name, p->messages_done, p->messages_total);
	put_bytes(b, (double)p->bytes_done);
	buf_printf(b, " of ");
	put_bytes(b, (double)p->bytes_total);
	if (rate > 0) {
		unsigned long long left =
		    (unsigned long long)((double)(p->bytes_total - p->bytes_done) / rate + 0.5);
		buf_printf(b, ", ");
		put_bytes(b, rate);
		buf_printf(b, "/s, ETA %llu:%02llu", left / 60, left % 60);
	}
}

static size_t columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		return ws.ws_col;
	return 80;
}

/* Under the lock. */
static void erase(void)
{
	if (line.shown)
		fputs("\r\033[K", stderr);
	line.shown = false;
}

/* Under the lock: the line as it is now (cut to the terminal's width,
 * so that CR goes back to its start). */
static void draw(const struct timespec *now)
{
	struct buf b = BUF_INIT;
	size_t width = columns() - 1;

	for (struct progress_account *a = line.list; a; a = a->next) {
		if (!a->active || !a->p.messages_total)
			continue;
		if (b.len)
			buf_printf(&b, "; ");
		put_account(&b, a, now);
	}
	if (b.len > width) {
		size_t cut = width;
		while (cut > 0 && ((unsigned char)b.data[cut] & 0xc0) == 0x80)
			cut--; /* between characters */
		buf_truncate(&b, cut);
	}
	if (b.len) {
		fputs("\r", stderr);
		fwrite(b.data, 1, b.len, stderr);
		fputs("\033[K", stderr);
		fflush(stderr);
		line.shown = true;
		line.last = *now;
	} else {
		erase();
	}
	buf_free(&b);
}

void progress_begin(struct progress_account *a, const char *account)
{
	if (!line.enabled)
		return;
	pthread_mutex_lock(&line.lock);
	a->name = log_escape(account);
	memset(&a->p, 0, sizeof(a->p));
	clock_gettime(CLOCK_MONOTONIC, &a->start);
	a->active = true;
	a->next = line.list;
	line.list = a;
	pthread_mutex_unlock(&line.lock);
}

void progress_update(struct progress_account *a, const struct sync_progress *p)
{
	struct timespec now;

	if (!line.enabled || !a->active)
		return;
	pthread_mutex_lock(&line.lock);
	a->p = *p;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (ns_since(&line.last, &now) >= REDRAW_NS)
		draw(&now);
	pthread_mutex_unlock(&line.lock);
}

void progress_end(struct progress_account *a)
{
	if (!line.enabled || !a->active)
		return;
	pthread_mutex_lock(&line.lock);
	for (struct progress_account **pp = &line.list; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	a->active = false;
	free(a->name);
	a->name = NULL;
	erase();
	fflush(stderr);
	pthread_mutex_unlock(&line.lock);
}

void progress_pause(void)
{
	if (!line.enabled)
		return;
	pthread_mutex_lock(&line.lock);
	erase();
	fflush(stderr);
}

void progress_resume(void)
{
	if (line.enabled)
		pthread_mutex_unlock(&line.lock);
}
