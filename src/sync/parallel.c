/*
 * Parallel folders (--jobs): the folders of a run form a queue that this
 * thread and up to jobs-1 workers take from. A worker runs over handles
 * of its own (sync_options.open_worker): its own connection to the
 * server, its own Maildir store and state connection, so nothing below
 * the engine is shared between threads except what is made for it (the
 * state's writer lock, the logger's secrets, the crash-point count).
 *
 * Workers are only as many as can ever be busy at once
 * (pool_workers_for), and start only once there is work to share: at
 * once when a folder is new to the state (a first sync copies), else
 * when a folder's plan turns out to change a store while other folders
 * wait (pool_wake). A run that finds nothing to do, on a server whose
 * folders must all be read (no CONDSTORE), then costs no connection
 * beyond its own. The workers' connections are made while this thread
 * carries out its folder's plan. With workers, folders are taken
 * largest first: the run lasts at least as long as its largest folder,
 * so that one starts at once, on the connection already open, and the
 * smaller ones fill in beside it. Reports go through the pool's lock,
 * one at a time.
 *
 * A server that says "not now" (sync_options.backoff): a folder whose
 * sync fails so is synced again after the back-off's wait, over
 * connections made again (engine_retry). A worker that cannot go on (the
 * back-off gave up, or its connection cannot be made again: a server
 * that lowered its limit) gives its folder back to the queue and ends:
 * the other threads take it, and only the run's own thread, which never
 * ends so, fails a folder for such a reason. Threads therefore leave the
 * queue only when every folder is taken and none is in flight. Workers
 * that cannot connect at all are said once, not once each.
 *
 * Memory: a folder in flight holds a few hundred bytes per message
 * (snapshots, pairs, plan), so large folders are not run side by side.
 * The messages of the folders in flight, the largest of them left out,
 * stay within PARALLEL_MESSAGES: one folder of any size runs, beside
 * smaller ones up to the budget, and the peak is about the largest
 * folder's plus the budget's. A thread that finds nothing that fits
 * waits for a folder to end. Folders of unknown size (weight 0) always
 * fit. When no two folders fit together, no worker is started at all:
 * its connection, state connection and thread would only add to the
 * peak.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine_p.h"
#include "events_p.h"
#include "twinbox/store/mapped_store.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define PARALLEL_MESSAGES 4096

struct pool_worker {
	struct sync_pool *p;
	pthread_t thread;
};

struct sync_pool {
	const struct sync_options *o;
	struct sync_options wo; /* o, with show_plan behind the lock */
	pthread_mutex_t lock;
	pthread_cond_t ready; /* published, or a folder ended */
	/* Under lock: */
	bool published; /* the queue is set (maybe empty): take from it */
	bool stop;      /* a folder failed in a way that stops the run */
	struct error stop_err;
	const char *const *names;
	const size_t *weights; /* expected messages per folder, 0 = unknown */
	const enum plan_special_use *uses;
	size_t *order; /* the folders' indexes in the order taken */
	bool *taken;
	bool *active;       /* being synced */
	bool *begun;        /* its FOLDER_BEGIN was told */
	size_t count, next; /* order[0 .. next) are all taken */
	size_t in_flight;   /* folders being synced */
	struct sync_result *res;
	size_t fewer; /* workers that could not connect, or gave up */

	struct pool_worker *workers;
	size_t n_workers;
	size_t want;  /* workers to start when there is work to share */
	bool started; /* under lock: they were started (or tried) */
};

static void locked_show_plan(void *ctx, const char *folder, const struct plan *plan)
{
	struct sync_pool *p = ctx;

	pthread_mutex_lock(&p->lock);
	p->o->show_plan(p->o->ctx, folder, plan);
	pthread_mutex_unlock(&p->lock);
}

static void pool_init(struct sync_pool *p, const struct sync_options *o)
{
	memset(p, 0, sizeof(*p));
	p->o = o;
	p->wo = *o;
	if (o->show_plan) {
		p->wo.show_plan = locked_show_plan;
		p->wo.ctx = p;
	}
	error_clear(&p->stop_err);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->ready, NULL);
}

/* Whether the messages of a set of folders (`sum` in all, `largest` the
 * most of one) fit the budget. */
static bool within_budget(size_t sum, size_t largest)
{
	return sum - largest <= PARALLEL_MESSAGES;
}

/* Under lock: whether folder i may start beside those in flight (with
 * none in flight it is its own largest: it always may). */
static bool fits(const struct sync_pool *p, size_t i)
{
	size_t sum = p->weights[i], largest = p->weights[i];

	for (size_t k = 0; k < p->count; k++)
		if (p->active[k]) {
			sum += p->weights[k];
			if (p->weights[k] > largest)
				largest = p->weights[k];
		}
	return within_budget(sum, largest);
}

/* Under lock: the first folder not taken that fits beside those in
 * flight, or SIZE_MAX (none left: p->next == p->count; or none fits). */
static size_t next_folder(struct sync_pool *p)
{
	while (p->next < p->count && p->taken[p->order[p->next]])
		p->next++;
	for (size_t k = p->next; k < p->count; k++) {
		size_t i = p->order[k];
		if (!p->taken[i] && fits(p, i))
			return i;
	}
	return SIZE_MAX;
}

static void pool_wake(void *ctx);

/* Under lock: a worker goes (it could not connect, or cannot go on:
 * `why`); said once a run, the further ones with -v. */
static void one_fewer(struct sync_pool *p, const struct error *why)
{
	if (p->fewer++ == 0)
		log_info("%s; going on with fewer connections for parallel folders", why->text);
	else
		log_debug("one more connection fewer for parallel folders: %s", why->text);
}

/* One folder's sync, for engine_retry. */
struct folder_try {
	struct sync_pool *p;
	struct store *rs, *ls;
	struct state *st;
	struct sync_folder_job job;
	struct sync_folder_report *rep;
};

static int try_folder(void *ctx, struct error *err)
{
	struct folder_try *t = ctx;

	return sync_folder(t->rs, t->ls, t->st, &t->p->wo, &t->job, t->rep, err);
}

/* Before a folder's next try: what its report said of the last one's
 * plan, failures and progress goes (the new plan has what is left);
 * what was done stays counted. */
static void try_again(void *ctx)
{
	struct folder_try *t = ctx;

	t->job.again = true;
	t->rep->message_failures = 0;
	memset(&t->rep->planned, 0, sizeof(t->rep->planned));
	memset(&t->rep->progress, 0, sizeof(t->rep->progress));
	error_clear(&t->rep->err);
}

/* Sync folders from the queue until every folder is done or the run
 * stops; a worker (`worker`) also ends when it cannot go on. */
static void take_folders(struct sync_pool *p, struct store *rs, struct store *ls, struct state *st,
                         bool worker)
{
	pthread_mutex_lock(&p->lock);
	while (!p->published)
		pthread_cond_wait(&p->ready, &p->lock);
	while (!p->stop) {
		size_t i = next_folder(p);
		if (i != SIZE_MAX && engine_stopping(p->o, &p->stop_err)) {
			p->stop = true;
			break;
		}
		if (i == SIZE_MAX) {
			/* A folder in flight may yet be given back. */
			if (p->next >= p->count && p->in_flight == 0)
				break;
			pthread_cond_wait(&p->ready, &p->lock);
			continue;
		}
		const char *name = p->names[i];
		struct sync_folder_report rep = {.name = name, .dry_run = p->o->dry_run};
		struct folder_try t = {p, rs, ls, st, {name, p->uses[i], pool_wake, p, false}, &rep};
		struct error stop;
		bool begin = !p->begun[i];
		int rc;

		p->taken[i] = p->active[i] = p->begun[i] = true;
		p->in_flight++;
		/* Under the lock, so the lines come in the order taken. */
		if (p->weights[i])
			log_debug("%s: starting (%zu messages on the server)", name, p->weights[i]);
		pthread_mutex_unlock(&p->lock);
		error_clear(&rep.err);
		if (begin)
			engine_event_folder(p->o, SYNC_EVENT_FOLDER_BEGIN, name, SIDE_A, NULL);
		rc = engine_retry(p->o, rs, ls, name, worker, try_folder, try_again, &t, &rep.err);
		pthread_mutex_lock(&p->lock);
		p->active[i] = false;
		p->in_flight--;
		pthread_cond_broadcast(&p->ready);
		if (rc > 0) {
			/* Given back: another thread takes it. */
			p->taken[i] = false;
			p->next = 0;
			if (!p->stop)
				one_fewer(p, &rep.err);
			break;
		}
		if (rc == 0) {
			p->res->folders_synced++;
			engine_report(p->o, &rep);
		} else if (engine_folder_failed(p->o, p->res, &rep, &stop) < 0 && !p->stop) {
			p->stop = true;
			p->stop_err = stop;
			/* Nobody waits for a server any longer. */
			sync_backoff_cancel(p->o->backoff);
		}
	}
	pthread_mutex_unlock(&p->lock);
}

static void *worker_main(void *arg)
{
	struct pool_worker *w = arg;
	struct sync_pool *p = w->p;
	struct sync_worker h = {NULL, NULL, NULL};
	struct store *mapped;
	struct error err;

	error_clear(&err);
	if (p->o->open_worker(p->o->worker_ctx, &h, &err) < 0) {
		/* Most often a server's limit on connections per user: the
		 * other threads sync this worker's share. */
		pthread_mutex_lock(&p->lock);
		one_fewer(p, &err);
		pthread_mutex_unlock(&p->lock);
		return NULL;
	}
	/* Side B under the run's folder mapping, as the run sees it. */
	mapped = p->o->map ? mapped_store_new(h.local, p->o->map) : NULL;
	take_folders(p, h.remote, mapped ? mapped : h.local, h.st, true);
	if (mapped)
		mapped_store_free(mapped);
	p->o->close_worker(p->o->worker_ctx, &h);
	return NULL;
}

static int weight_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

size_t pool_workers_for(const size_t *weights, size_t count)
{
	size_t *v, fit = 1, sum;

	if (count < 2)
		return 0;
	/* The most folders in flight at once: the smallest ones together. */
	v = xmalloc(count * sizeof(*v));
	memcpy(v, weights, count * sizeof(*v));
	qsort(v, count, sizeof(*v), weight_cmp);
	sum = v[0];
	while (fit < count && within_budget(sum + v[fit], v[fit]))
		sum += v[fit++];
	free(v);
	return fit - 1;
}

/* Under lock: start the workers, no more than there are folders left
 * for them. */
static void start_workers(struct sync_pool *p, size_t left)
{
	size_t n = p->want < left ? p->want : left;

	p->started = true;
	p->workers = xcalloc(n + 1, sizeof(*p->workers));
	for (size_t i = 0; i < n; i++) {
		struct pool_worker *w = &p->workers[p->n_workers];
		w->p = p;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			log_debug("cannot start a thread for parallel folders; going on with %zu",
			          p->n_workers);
			break;
		}
		p->n_workers++;
	}
}

struct sync_pool *pool_start(const struct sync_options *o, size_t workers, bool at_once)
{
	struct sync_pool *p;

	if (o->jobs <= 1 || !o->open_worker || !o->close_worker || workers == 0)
		return NULL;
	p = xmalloc(sizeof(*p));
	pool_init(p, o);
	p->want = workers < o->jobs - 1 ? workers : o->jobs - 1;
	if (at_once) {
		pthread_mutex_lock(&p->lock);
		start_workers(p, p->want);
		pthread_mutex_unlock(&p->lock);
	}
	return p;
}

/* A folder's plan has work for a store (sync_folder_job.has_work): start the
 * workers if they have not started and folders wait for them. */
static void pool_wake(void *ctx)
{
	struct sync_pool *p = ctx;
	size_t left = 0;

	pthread_mutex_lock(&p->lock);
	if (!p->started && p->published) {
		for (size_t k = p->next; k < p->count; k++)
			left += !p->taken[p->order[k]];
		if (left > 0) {
			log_debug(
			    "a folder has work and %zu wait%s: opening connections for parallel folders",
			    left, left == 1 ? "s" : "");
			start_workers(p, left);
		}
	}
	pthread_mutex_unlock(&p->lock);
}

struct weighed {
	size_t weight, index;
};

static int heavier_first(const void *a, const void *b)
{
	const struct weighed *x = a, *y = b;

	if (x->weight != y->weight)
		return x->weight < y->weight ? 1 : -1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Folders by expected messages, most first; in queue order among
 * equals. */
static void largest_first(size_t *order, const size_t *weights, size_t count)
{
	struct weighed *w = xcalloc(count + 1, sizeof(*w));

	for (size_t i = 0; i < count; i++)
		w[i] = (struct weighed){weights[i], i};
	qsort(w, count, sizeof(*w), heavier_first);
	for (size_t i = 0; i < count; i++)
		order[i] = w[i].index;
	free(w);
}

static void publish(struct sync_pool *p, const char *const *names, const size_t *weights,
                    const enum plan_special_use *uses, size_t count, struct sync_result *res)
{
	pthread_mutex_lock(&p->lock);
	p->names = names;
	p->weights = weights;
	p->uses = uses;
	p->order = xcalloc(count + 1, sizeof(*p->order));
	for (size_t i = 0; i < count; i++)
		p->order[i] = i;
	if (p->want > 0)
		largest_first(p->order, weights, count);
	p->taken = xcalloc(count + 1, sizeof(*p->taken));
	p->active = xcalloc(count + 1, sizeof(*p->active));
	p->begun = xcalloc(count + 1, sizeof(*p->begun));
	p->count = count;
	p->next = 0;
	p->res = res;
	p->published = true;
	pthread_cond_broadcast(&p->ready);
	pthread_mutex_unlock(&p->lock);
}

static void pool_end(struct sync_pool *p)
{
	for (size_t i = 0; i < p->n_workers; i++)
		pthread_join(p->workers[i].thread, NULL);
	free(p->workers);
	free(p->order);
	free(p->taken);
	free(p->active);
	free(p->begun);
	pthread_cond_destroy(&p->ready);
	pthread_mutex_destroy(&p->lock);
}

int pool_run(struct sync_pool *p, const struct sync_options *o, struct store *rs, struct store *ls,
             struct state *st, const char *const *names, const size_t *weights,
             const enum plan_special_use *uses, size_t count, struct sync_result *res, struct error *err)
{
	struct sync_pool alone;
	int rc = 0;

	if (!p) {
		pool_init(&alone, o);
		p = &alone;
	}
	publish(p, names, weights, uses, count, res);
	take_folders(p, rs, ls, st, false);
	pool_end(p);
	if (p->stop) {
		*err = p->stop_err;
		rc = -1;
	}
	if (p != &alone)
		free(p);
	return rc;
}

void pool_abandon(struct sync_pool *p)
{
	if (!p)
		return;
	publish(p, NULL, NULL, NULL, 0, NULL);
	pool_end(p);
	free(p);
}
