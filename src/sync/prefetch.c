/*
 * The local read-ahead. A run waits on the server before its first
 * folder: TLS, login, the folder list, SELECT (tens of milliseconds on
 * a fast server, more on a far one). Meanwhile a thread reads the local
 * side of the first folder the state knows whose Maildir changed since
 * the last sync, as sync_folder would read it: the folder opened
 * (its times then), its listing read and, where that differs from the
 * state's, the folder read whole and its pairs loaded from the state
 * over a connection of the thread's own. The engine then takes the
 * opened folder and what was read instead of reading it itself, so a
 * resync of a changed Maildir costs the server's time, not both added.
 *
 * What the engine takes is the folder as it was when the thread opened
 * it, its times from then: the same as a run that opened it earlier.
 * Anything changed later gives later times or another listing, which the
 * next run sees (finish_folder records only what this run read).
 *
 * The pairs are the state's at the time they were loaded. Only this
 * folder's own sync writes its pairs, except a new UIDVALIDITY or
 * server (which set the folder's uidvalidity to another value) and the
 * recovery of a killed run's intents (a folder with intents is not read
 * ahead): the engine takes them only when the folder's UIDVALIDITY in
 * the state is still the one read before them (engine.c).
 *
 * Then the thread copies what the last run left in the state's log into
 * its file (state_checkpoint), which closing the state leaves undone.
 *
 * One folder at most is read whole, so memory stays that of one folder;
 * a few more may have their listing read (PREFETCH_FOLDERS open folders
 * in all). A folder the engine asks for first is not read ahead any more
 * (prefetch_take).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine_p.h"
#include "twinbox/state/folder.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define PREFETCH_FOLDERS 8 /* folders handed over, each with its files open */

struct prefetch_entry {
	char *name;
	struct prefetched pf;
};

struct sync_prefetch {
	struct store *local;
	char *db;
	struct sync_options o; /* include, exclude, only: the run's folders */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t done;
	/* Under lock: */
	bool stop;
	char *working;  /* the folder being read ahead, or NULL */
	char **claimed; /* folders the engine opened itself: not to read */
	size_t claimed_count;
	struct prefetch_entry ready[PREFETCH_FOLDERS]; /* name NULL: none, or taken */
	size_t ready_count;
};

static bool claimed(const struct sync_prefetch *p, const char *name)
{
	for (size_t i = 0; i < p->claimed_count; i++)
		if (engine_same_folder(p->claimed[i], name))
			return true;
	return p->stop;
}

/* Start on folder `name` unless the engine took it first or the run
 * stops. */
static bool begin(struct sync_prefetch *p, const char *name)
{
	bool go;

	pthread_mutex_lock(&p->lock);
	go = !claimed(p, name);
	if (go)
		p->working = xstrdup(name);
	pthread_mutex_unlock(&p->lock);
	return go;
}

/*
 * Read folder `sf`'s local side as the engine would (changes.c,
 * local_same): nothing when its times are those the state recorded (it
 * is as the last sync left it); its listing when the state has one
 * (times not recorded) and that is the same; else the folder read whole
 * and its pairs. Returns whether *pf holds something to hand over.
 */
static bool read_ahead(struct sync_prefetch *p, struct state *st, const struct state_folder *sf, bool whole,
                       struct prefetched *pf)
{
	const struct store_ops *ops = p->local->ops;
	struct store_listing now;
	struct error err;
	bool missing;

	memset(pf, 0, sizeof(*pf));
	if (ops->open_folder(p->local, sf->remote_name, &pf->lf, &pf->linfo, &missing, &err) < 0)
		return false;
	if (engine_times_same(&sf->side[SIDE_B], &pf->linfo))
		goto none;
	if (!engine_times_recorded(&sf->side[SIDE_B]) && sf->side[SIDE_B].files >= 0 && ops->read_listing) {
		if (ops->read_listing(pf->lf, &now, &err) <= 0)
			goto none;
		pf->listed = true;
		if (engine_listing_same(&sf->side[SIDE_B], &now))
			return true;
	}
	if (!whole || ops->snapshot(pf->lf, &pf->lsnap, &err) < 0)
		goto none;
	pf->scanned = true;
	pf->listed = ops->listing != NULL; /* a read whole tells the listing too */
	if (state_pairs_load(st, sf->id, &pf->pairs, &err) == 0) {
		pf->have_pairs = true;
		pf->folder_id = sf->id;
		pf->uidvalidity = sf->side[SIDE_A].uidvalidity;
	}
	return true;
none:
	prefetched_free(p->local, pf);
	return false;
}

static void *prefetch_main(void *arg)
{
	struct sync_prefetch *p = arg;
	struct state_folder *known = NULL;
	struct state *st = NULL;
	struct prefetched pf;
	struct error err;
	size_t n = 0, held = 0;
	bool whole = true; /* no folder read whole yet */

	if (state_open(p->db, 0, &st, &err) < 0 || state_folder_list(st, &known, &n, &err) < 0)
		n = 0;
	for (size_t i = 0; i < n && held < PREFETCH_FOLDERS; i++) {
		const struct state_folder *sf = &known[i];
		bool got;

		if (sf->pending || !engine_folder_selected(&p->o, sf->remote_name) ||
		    !begin(p, sf->remote_name))
			continue;
		got = read_ahead(p, st, sf, whole, &pf);
		pthread_mutex_lock(&p->lock);
		free(p->working);
		p->working = NULL;
		if (got) {
			p->ready[held++] = (struct prefetch_entry){xstrdup(sf->remote_name), pf};
			p->ready_count = held;
			whole = whole && !pf.scanned;
			log_debug("%s: read ahead while the server answers: %s%s", sf->remote_name,
			          pf.scanned ? "the Maildir folder read whole" : "its listing read",
			          pf.have_pairs ? " and its pairs loaded" : "");
		}
		pthread_cond_broadcast(&p->done);
		pthread_mutex_unlock(&p->lock);
	}
	state_folder_list_free(known, n);
	/* What the last run left in the state's log goes into its file
	 * now, while the run still waits on the server (state_close). */
	if (st)
		state_checkpoint(st);
	state_close(st);
	return NULL;
}

struct sync_prefetch *sync_prefetch_start(struct store *local, const char *db, const struct sync_options *o)
{
	struct sync_prefetch *p;

	if (!local || !local->ops->read_listing || !db)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->local = local;
	p->db = xstrdup(db);
	p->o = *o;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->done, NULL);
	if (pthread_create(&p->thread, NULL, prefetch_main, p) != 0) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->done);
		free(p->db);
		free(p);
		return NULL; /* the engine reads every folder itself */
	}
	return p;
}

bool prefetch_take(struct sync_prefetch *p, const char *name, struct prefetched *pf_r)
{
	bool got = false;

	memset(pf_r, 0, sizeof(*pf_r));
	if (!p)
		return false;
	pthread_mutex_lock(&p->lock);
	/* The folder being read: wait for it, it is the quicker way. */
	while (p->working && engine_same_folder(p->working, name))
		pthread_cond_wait(&p->done, &p->lock);
	for (size_t i = 0; i < p->ready_count && !got; i++) {
		struct prefetch_entry *e = &p->ready[i];
		if (e->name && engine_same_folder(e->name, name)) {
			*pf_r = e->pf;
			memset(&e->pf, 0, sizeof(e->pf));
			free(e->name);
			e->name = NULL;
			got = true;
		}
	}
	if (!got) {
		p->claimed = xrealloc(p->claimed, (p->claimed_count + 1) * sizeof(*p->claimed));
		p->claimed[p->claimed_count++] = xstrdup(name);
	}
	pthread_mutex_unlock(&p->lock);
	return got;
}

void prefetched_free(struct store *local, struct prefetched *pf)
{
	store_snapshot_free(&pf->lsnap);
	state_pairs_free(&pf->pairs);
	if (pf->lf)
		local->ops->close_folder(pf->lf);
	memset(pf, 0, sizeof(*pf));
}

void sync_prefetch_stop(struct sync_prefetch *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	for (size_t i = 0; i < p->ready_count; i++) {
		prefetched_free(p->local, &p->ready[i].pf);
		free(p->ready[i].name);
	}
	for (size_t i = 0; i < p->claimed_count; i++)
		free(p->claimed[i]);
	free(p->claimed);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->done);
	free(p->db);
	free(p);
}
