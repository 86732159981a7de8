/*
 * Parallel folders (--jobs): the folders of a run form a queue that this
 * thread and up to jobs-1 workers take from. A worker runs over handles
 * of its own (sync_options.open_worker): its own connection to the
 * server, its own Maildir store and state connection, so nothing below
 * the engine is shared between threads except what is made for it (the
 * state's writer lock, the logger's secrets, the crash-point count).
 *
 * Workers start before the folders are known: their connections are
 * made while this thread lists and plans the folders. Reports go through
 * the pool's lock, one at a time.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine_p.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

struct pool_worker {
	struct sync_pool *p;
	pthread_t thread;
};

struct sync_pool {
	const struct sync_options *o;
	struct sync_options wo; /* o, with show_plan behind the lock */
	pthread_mutex_t lock;
	pthread_cond_t ready;
	/* Under lock: */
	bool published; /* the queue is set (maybe empty): take from it */
	bool stop;      /* a folder failed in a way that stops the run */
	struct error stop_err;
	const char *const *names;
	size_t count, next;
	struct sync_result *res;

	struct pool_worker *workers;
	size_t n_workers;
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

/* Sync folders from the queue until it is empty or the run stops. */
static void take_folders(struct sync_pool *p, struct store *rs, struct store *ls, struct state *st)
{
	pthread_mutex_lock(&p->lock);
	while (!p->published)
		pthread_cond_wait(&p->ready, &p->lock);
	while (!p->stop && p->next < p->count) {
		const char *name = p->names[p->next++];
		struct sync_folder_report rep = {.name = name, .dry_run = p->o->dry_run};
		struct error stop;
		int rc;

		pthread_mutex_unlock(&p->lock);
		error_clear(&rep.err);
		rc = engine_sync_folder(rs, ls, st, &p->wo, name, &rep, &rep.err);
		pthread_mutex_lock(&p->lock);
		if (rc == 0) {
			p->res->folders_synced++;
			engine_report(p->o, &rep);
		} else if (engine_folder_failed(p->o, p->res, &rep, &stop) < 0 && !p->stop) {
			p->stop = true;
			p->stop_err = stop;
		}
	}
	pthread_mutex_unlock(&p->lock);
}

static void *worker_main(void *arg)
{
	struct pool_worker *w = arg;
	struct sync_pool *p = w->p;
	struct sync_worker h = {NULL, NULL, NULL};
	struct error err;

	error_clear(&err);
	if (p->o->open_worker(p->o->worker_ctx, &h, &err) < 0) {
		/* Most often a server's limit on connections per user: the
		 * other threads sync this worker's share. */
		log_info("one connection fewer for parallel folders: %s", err.text);
		return NULL;
	}
	take_folders(p, h.remote, h.local, h.st);
	p->o->close_worker(p->o->worker_ctx, &h);
	return NULL;
}

struct sync_pool *pool_start(const struct sync_options *o, size_t workers)
{
	struct sync_pool *p;

	if (o->jobs <= 1 || !o->open_worker || !o->close_worker || workers == 0)
		return NULL;
	if (workers > o->jobs - 1)
		workers = o->jobs - 1;
	p = xmalloc(sizeof(*p));
	pool_init(p, o);
	p->workers = xcalloc(workers, sizeof(*p->workers));
	for (size_t i = 0; i < workers; i++) {
		struct pool_worker *w = &p->workers[p->n_workers];
		w->p = p;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			log_debug("cannot start a thread for parallel folders; going on with %zu",
			          p->n_workers);
			break;
		}
		p->n_workers++;
	}
	return p;
}

static void publish(struct sync_pool *p, const char *const *names, size_t count, struct sync_result *res)
{
	pthread_mutex_lock(&p->lock);
	p->names = names;
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
	pthread_cond_destroy(&p->ready);
	pthread_mutex_destroy(&p->lock);
}

int pool_run(struct sync_pool *p, const struct sync_options *o, struct store *rs, struct store *ls,
             struct state *st, const char *const *names, size_t count, struct sync_result *res,
             struct error *err)
{
	struct sync_pool alone;
	int rc = 0;

	if (!p) {
		pool_init(&alone, o);
		p = &alone;
	}
	publish(p, names, count, res);
	take_folders(p, rs, ls, st);
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
	publish(p, NULL, 0, NULL);
	pool_end(p);
	free(p);
}
