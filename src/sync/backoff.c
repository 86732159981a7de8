/*
 * Back-off for a server that says "not now" (backoff.h): one count of
 * attempts in a row and one wait at a time for all the threads of a run,
 * on the monotonic clock.
 */
#include "twinbox/sync/backoff.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

struct sync_backoff {
	struct sync_backoff_policy pol;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the wait was cancelled */
	/* Under lock: */
	unsigned count;        /* waits started since the last success */
	struct timespec until; /* the running wait ends then; none when past */
	bool cancelled;
};

struct sync_backoff *sync_backoff_new(const struct sync_backoff_policy *policy)
{
	struct sync_backoff *b = xcalloc(1, sizeof(*b));
	pthread_condattr_t ca;

	b->pol =
	    (struct sync_backoff_policy){SYNC_BACKOFF_ATTEMPTS, SYNC_BACKOFF_FIRST_MS, SYNC_BACKOFF_MAX_MS};
	if (policy) {
		b->pol.attempts = policy->attempts;
		b->pol.first_ms = policy->first_ms ? policy->first_ms : b->pol.first_ms;
		b->pol.max_ms = policy->max_ms ? policy->max_ms : b->pol.max_ms;
	}
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->wake, &ca);
	pthread_condattr_destroy(&ca);
	return b;
}

void sync_backoff_free(struct sync_backoff *b)
{
	if (!b)
		return;
	pthread_cond_destroy(&b->wake);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static struct timespec now_plus(unsigned ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += (time_t)(ms / 1000);
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* The wait before attempt n (1 = the first). */
static unsigned wait_ms(const struct sync_backoff_policy *p, unsigned n)
{
	uint64_t ms = p->first_ms;

	for (unsigned i = 1; i < n && ms < p->max_ms; i++)
		ms *= 2;
	return ms > p->max_ms ? p->max_ms : (unsigned)ms;
}

/* "250 ms", "4 s", "1.5 s". */
static void say_duration(uint64_t ms, char out[32])
{
	if (ms < 1000)
		snprintf(out, 32, "%u ms", (unsigned)ms);
	else if (ms % 1000 == 0 || ms >= 100000)
		snprintf(out, 32, "%llu s", (unsigned long long)((ms + 500) / 1000));
	else
		snprintf(out, 32, "%.1f s", (double)ms / 1000.0);
}

/* Under lock: `e` ends with why it is not tried again. */
static void give_up(struct sync_backoff *b, unsigned tries, struct error *e)
{
	size_t len = strlen(e->text);

	if (tries)
		snprintf(e->text + len, sizeof(e->text) - len, "; gave up after %u %s", tries,
		         tries == 1 ? "retry" : "retries");
	else
		snprintf(e->text + len, sizeof(e->text) - len,
		         "; not tried again: the server failed %u times in a row", b->count);
	len = strlen(e->text);
	snprintf(e->text + len, sizeof(e->text) - len,
	         ": run twinbox again later (what was synced is kept, and the next run goes on from there)");
}

bool sync_backoff_wait(struct sync_backoff *b, const char *what, unsigned *tries, struct error *e)
{
	struct timespec now;
	bool waiting, go;

	if (!b || e->retry == ERR_RETRY_NO || e->scope >= ERR_FATAL)
		return false;
	pthread_mutex_lock(&b->lock);
	now = now_plus(0);
	waiting = before(&now, &b->until);
	if (b->cancelled) {
		pthread_mutex_unlock(&b->lock);
		return false;
	}
	if (*tries >= b->pol.attempts || (!waiting && b->count >= b->pol.attempts)) {
		give_up(b, *tries, e);
		pthread_mutex_unlock(&b->lock);
		return false;
	}
	if (!waiting) {
		/* As long as the longer of the server's failures in a row and
		 * this work's own. */
		unsigned n = ++b->count > *tries + 1 ? b->count : *tries + 1;
		unsigned ms = wait_ms(&b->pol, n);
		char dur[32];

		b->until = now_plus(ms);
		say_duration(ms, dur);
		log_warn("%s%s%s; retrying in %s (retry %u of %u)", what ? what : "", what ? ": " : "",
		         e->text, dur, *tries + 1, b->pol.attempts);
	} else {
		log_debug("%s%s%s; retrying with the others once the wait ends", what ? what : "",
		          what ? ": " : "", e->text);
	}
	(*tries)++;
	while (!b->cancelled && before(&now, &b->until)) {
		pthread_cond_timedwait(&b->wake, &b->lock, &b->until);
		now = now_plus(0);
	}
	go = !b->cancelled;
	pthread_mutex_unlock(&b->lock);
	return go;
}

void sync_backoff_success(struct sync_backoff *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	b->count = 0;
	pthread_mutex_unlock(&b->lock);
}

void sync_backoff_cancel(struct sync_backoff *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	b->cancelled = true;
	pthread_cond_broadcast(&b->wake);
	pthread_mutex_unlock(&b->lock);
}

unsigned sync_backoff_count(struct sync_backoff *b)
{
	unsigned n;

	pthread_mutex_lock(&b->lock);
	n = b->count;
	pthread_mutex_unlock(&b->lock);
	return n;
}
