/*
 * The back-off for servers that say "not now" (sync/backoff.h): waits
 * that double up to a cap, each told once, a bounded number of tries,
 * the error's last words when they are spent, one wait shared by the
 * threads that fail during it, a success that starts the count again,
 * and a cancel that ends every wait.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "twinbox/sync/backoff.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/log.h"

static pthread_mutex_t told_lock = PTHREAD_MUTEX_INITIALIZER;
static struct buf told; /* the warnings, one line each */

static void sink(enum log_level level, const char *line, void *ctx)
{
	(void)ctx;
	if (level > LOG_WARN)
		return;
	pthread_mutex_lock(&told_lock);
	buf_printf(&told, "%s\n", line);
	pthread_mutex_unlock(&told_lock);
}

static void setup(void)
{
	log_set_sink(sink, NULL);
}

static void teardown(void)
{
	log_set_sink(NULL, NULL);
	buf_free(&told);
}

TestSuite(sync_backoff, .init = setup, .fini = teardown, .timeout = 30);

static size_t told_count(const char *text)
{
	size_t n = 0;

	pthread_mutex_lock(&told_lock);
	for (const char *p = told.data; p && (p = strstr(p, text)) != NULL; p++)
		n++;
	pthread_mutex_unlock(&told_lock);
	return n;
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

static struct error busy(const char *text)
{
	struct error e;

	error_set(&e, ERR_MAILBOX, "%s", text);
	e.retry = ERR_RETRY_BUSY;
	return e;
}

Test(sync_backoff, waits_double_up_to_the_cap_each_told_once_then_it_gives_up)
{
	struct sync_backoff_policy pol = {4, 10, 30};
	struct sync_backoff *b = sync_backoff_new(&pol);
	static const unsigned waits[] = {10, 20, 30, 30};
	unsigned tries = 0;
	struct error e;

	for (unsigned i = 0; i < 4; i++) {
		double t0 = now_ms();
		e = busy("SELECT failed: NO [UNAVAILABLE] later");
		cr_assert(sync_backoff_wait(b, "INBOX", &tries, &e));
		cr_assert_geq(now_ms() - t0, waits[i] - 1, "wait %u", i);
		cr_assert_eq(tries, i + 1);
		cr_assert_str_eq(e.text, "SELECT failed: NO [UNAVAILABLE] later",
		                 "the text is kept while it tries");
	}
	cr_assert_eq(
	    told_count("INBOX: SELECT failed: NO [UNAVAILABLE] later; retrying in 10 ms (retry 1 of 4)"), 1);
	cr_assert_eq(told_count("; retrying in 20 ms (retry 2 of 4)"), 1);
	cr_assert_eq(told_count("; retrying in 30 ms (retry 3 of 4)"), 1);
	cr_assert_eq(told_count("; retrying in 30 ms (retry 4 of 4)"), 1);
	cr_assert_eq(told_count("retrying"), 4);
	e = busy("SELECT failed: NO [UNAVAILABLE] later");
	cr_assert_not(sync_backoff_wait(b, "INBOX", &tries, &e));
	cr_assert_str_eq(e.text,
	                 "SELECT failed: NO [UNAVAILABLE] later; gave up after 4 retries: run twinbox "
	                 "again later (what was synced is kept, and the next run goes on from there)");
	cr_assert_eq(told_count("retrying"), 4, "giving up waits no more");
	sync_backoff_free(b);
}

Test(sync_backoff, the_defaults_are_the_documented_bounds)
{
	struct sync_backoff_policy pol = {SYNC_BACKOFF_ATTEMPTS, SYNC_BACKOFF_FIRST_MS, SYNC_BACKOFF_MAX_MS};

	cr_assert_eq(pol.attempts, 6);
	cr_assert_eq(pol.first_ms, 1000);
	cr_assert_eq(pol.max_ms, 60000);
	sync_backoff_free(sync_backoff_new(NULL));
}

Test(sync_backoff, failures_not_worth_a_wait_are_refused_at_once)
{
	struct sync_backoff_policy pol = {3, 5000, 5000};
	struct sync_backoff *b = sync_backoff_new(&pol);
	unsigned tries = 0;
	struct error e;
	double t0 = now_ms();

	error_set(&e, ERR_MAILBOX, "NO [NONEXISTENT] no such folder");
	cr_assert_not(sync_backoff_wait(b, "INBOX", &tries, &e));
	cr_assert_str_eq(e.text, "NO [NONEXISTENT] no such folder");
	e = busy("disk full");
	e.scope = ERR_FATAL;
	cr_assert_not(sync_backoff_wait(b, "INBOX", &tries, &e));
	e = busy("busy");
	cr_assert_not(sync_backoff_wait(NULL, "INBOX", &tries, &e));
	cr_assert_str_eq(e.text, "busy");
	cr_assert_eq(tries, 0);
	cr_assert_lt(now_ms() - t0, 1000);
	cr_assert_eq(told_count("retrying"), 0);
	sync_backoff_free(b);
}

Test(sync_backoff, a_server_failing_in_a_row_is_given_up_on_once_and_a_success_starts_again)
{
	struct sync_backoff_policy pol = {2, 1, 1};
	struct sync_backoff *b = sync_backoff_new(&pol);
	unsigned a = 0, c = 0, d = 0;
	struct error e;

	for (int i = 0; i < 2; i++) {
		e = busy("busy");
		cr_assert(sync_backoff_wait(b, "A", &a, &e));
	}
	cr_assert_eq(sync_backoff_count(b), 2);
	/* Another folder, never tried: the server failed twice in a row. */
	e = busy("busy");
	cr_assert_not(sync_backoff_wait(b, "B", &c, &e));
	cr_assert(strstr(e.text,
	                 "busy; not tried again: the server failed 2 times in a row: run twinbox again "
	                 "later"),
	          "%s", e.text);
	sync_backoff_success(b);
	cr_assert_eq(sync_backoff_count(b), 0);
	e = busy("busy");
	cr_assert(sync_backoff_wait(b, "C", &d, &e));
	cr_assert_eq(d, 1);
	sync_backoff_free(b);
}

struct waiter {
	struct sync_backoff *b;
	const char *what;
	unsigned tries;
	bool result;
	double took;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	struct error e = busy("BYE going down");
	double t0 = now_ms();

	w->result = sync_backoff_wait(w->b, w->what, &w->tries, &e);
	w->took = now_ms() - t0;
	return NULL;
}

Test(sync_backoff, a_failure_during_a_wait_joins_it_without_a_wait_of_its_own)
{
	struct sync_backoff_policy pol = {6, 300, 300};
	struct sync_backoff *b = sync_backoff_new(&pol);
	struct waiter w[3] = {{b, "INBOX", 0, false, 0}, {b, "Work", 0, false, 0}, {b, "Lists", 0, false, 0}};
	pthread_t th[3];
	double t0 = now_ms();

	cr_assert_eq(pthread_create(&th[0], NULL, wait_thread, &w[0]), 0);
	struct timespec pause = {0, 50 * 1000000L};
	nanosleep(&pause, NULL);
	for (int i = 1; i < 3; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, wait_thread, &w[i]), 0);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		cr_assert(w[i].result);
		cr_assert_eq(w[i].tries, 1);
	}
	/* One wait, one line, one count: not three. */
	cr_assert_eq(told_count("retrying in 300 ms (retry 1 of 6)"), 1);
	cr_assert_eq(told_count("retrying"), 1);
	cr_assert_eq(sync_backoff_count(b), 1);
	cr_assert_lt(w[1].took, 290, "the second failure waited %.0f ms of its own", w[1].took);
	cr_assert_lt(now_ms() - t0, 550);
	sync_backoff_free(b);
}

Test(sync_backoff, cancel_ends_every_wait_and_refuses_new_ones)
{
	struct sync_backoff_policy pol = {6, 20000, 20000};
	struct sync_backoff *b = sync_backoff_new(&pol);
	struct waiter w = {b, "INBOX", 0, true, 0};
	struct timespec pause = {0, 50 * 1000000L};
	pthread_t th;
	unsigned tries = 0;
	struct error e = busy("busy");

	cr_assert_eq(pthread_create(&th, NULL, wait_thread, &w), 0);
	nanosleep(&pause, NULL);
	sync_backoff_cancel(b);
	pthread_join(th, NULL);
	cr_assert_not(w.result);
	cr_assert_lt(w.took, 5000);
	cr_assert_not(sync_backoff_wait(b, "Work", &tries, &e));
	sync_backoff_free(b);
}
