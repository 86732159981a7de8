/*
 * The maildir store's committer: a thread per folder that makes
 * downloaded messages durable (fsync, close, link into new/ or cur/)
 * while the folder's own thread goes on receiving the next ones. Without
 * it every message's fsync would wait in the thread that reads the
 * network.
 *
 * Order is kept where it matters: store flush (mdc_drain) returns only
 * when every queued message is linked, and then the directories are
 * synced; the engine records a message in the state only after that.
 * A message that cannot be made durable fails the flush (ERR_MAILBOX at
 * least: the folder's batch is not recorded, and the next run reconciles
 * its intents), and its tmp/ file is removed.
 *
 * The queue is bounded: a folder's thread waits when COMMIT_QUEUE
 * messages are pending, so open files stay few (at most twice that: a
 * batch being made durable and a full queue).
 *
 * The thread takes everything queued at once and makes it durable
 * together (maildir_delivery_persist_group: one sync of the file system
 * instead of an fsync per file where that is as safe). Messages arrive
 * one at a time when the disk keeps up, so batches grow only when it
 * does not.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "maildir_store_p.h"
#include "twinbox/maildir/delivery.h"
#include "twinbox/util/xmalloc.h"

#define COMMIT_QUEUE 32

struct mds_committer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* to the thread: work, or stop */
	pthread_cond_t room; /* to the folder's thread: room in the queue, or all done */
	struct maildir_delivery *queue[COMMIT_QUEUE];
	size_t head, count;
	bool busy; /* the thread holds one taken from the queue */
	bool stop;
	/* Persisted, to be finished by the folder's thread. */
	struct maildir_delivery **done;
	size_t done_count, done_cap;
	bool failed;
	struct error first;
};

static void *committer_main(void *arg)
{
	struct mds_committer *c = arg;
	struct maildir_delivery *batch[COMMIT_QUEUE];
	int rcs[COMMIT_QUEUE];
	struct error errs[COMMIT_QUEUE];

	pthread_mutex_lock(&c->lock);
	for (;;) {
		size_t n;

		while (c->count == 0 && !c->stop)
			pthread_cond_wait(&c->wake, &c->lock);
		if (c->count == 0)
			break;
		/* Everything queued, made durable together (group commit):
		 * when the network outruns the disk, batches grow. */
		n = c->count;
		for (size_t i = 0; i < n; i++)
			batch[i] = c->queue[(c->head + i) % COMMIT_QUEUE];
		c->head = (c->head + n) % COMMIT_QUEUE;
		c->count = 0;
		c->busy = true;
		pthread_cond_broadcast(&c->room);
		pthread_mutex_unlock(&c->lock);
		maildir_delivery_persist_group(batch, n, rcs, errs);
		for (size_t i = 0; i < n; i++)
			if (rcs[i] < 0)
				maildir_delivery_abort(batch[i]);
		pthread_mutex_lock(&c->lock);
		c->busy = false;
		for (size_t i = 0; i < n; i++) {
			if (rcs[i] == 0) {
				c->done = xgrow(c->done, &c->done_cap, c->done_count + 1, sizeof(*c->done));
				c->done[c->done_count++] = batch[i];
			} else if (!c->failed) {
				c->failed = true;
				c->first = errs[i];
			}
		}
		pthread_cond_broadcast(&c->room);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static struct mds_committer *committer_start(void)
{
	struct mds_committer *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	pthread_cond_init(&c->room, NULL);
	error_clear(&c->first);
	if (pthread_create(&c->thread, NULL, committer_main, c) != 0) {
		pthread_cond_destroy(&c->room);
		pthread_cond_destroy(&c->wake);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return NULL;
	}
	return c;
}

int mdc_commit(struct store_folder *f, struct maildir_delivery *d, struct error *err)
{
	struct mds_committer *c;

	if (maildir_delivery_seal(d, err) < 0) {
		maildir_delivery_abort(d);
		return -1;
	}
	if (!f->committer)
		f->committer = committer_start();
	c = f->committer;
	if (!c) {
		/* No thread to be had: durable here and now. */
		if (maildir_delivery_persist(d, err) < 0) {
			maildir_delivery_abort(d);
			return -1;
		}
		maildir_delivery_finish(d);
		return 0;
	}
	pthread_mutex_lock(&c->lock);
	while (c->count == COMMIT_QUEUE)
		pthread_cond_wait(&c->room, &c->lock);
	c->queue[(c->head + c->count) % COMMIT_QUEUE] = d;
	c->count++;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int mdc_drain(struct store_folder *f, struct error *err)
{
	struct mds_committer *c = f->committer;
	struct maildir_delivery **done;
	size_t n;
	bool failed;
	struct error first;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	while (c->count || c->busy)
		pthread_cond_wait(&c->room, &c->lock);
	done = c->done;
	n = c->done_count;
	c->done = NULL;
	c->done_count = c->done_cap = 0;
	failed = c->failed;
	first = c->first;
	c->failed = false;
	error_clear(&c->first);
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < n; i++)
		maildir_delivery_finish(done[i]);
	free(done);
	if (!failed)
		return 0;
	*err = first;
	error_prefix(err, "a downloaded message could not be stored");
	if (err->scope < ERR_MAILBOX)
		error_escalate(err, ERR_MAILBOX);
	return -1;
}

void mdc_stop(struct store_folder *f)
{
	struct mds_committer *c = f->committer;
	struct error ignored;

	if (!c)
		return;
	mdc_drain(f, &ignored);
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->room);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c);
	f->committer = NULL;
}
