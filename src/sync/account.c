/*
 * The sync engine's account level: which folders (the include and
 * exclude patterns, folder arguments), the server the state describes,
 * the folder-level plan (create, remove, forget), and the queue of
 * folders that may need work, which parallel.c hands to
 * sync_folder() (engine.c).
 */
#include "twinbox/sync/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine_p.h"
#include "events_p.h"
#include "twinbox/state/folder.h"
#include "twinbox/state/server.h"
#include "twinbox/store/mapped_store.h"
#include "twinbox/util/crash.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* Whether side s of folder `sf` is as the last sync left it, by what its
 * store tells without opening it: its counts, or its directory times
 * (equal times prove "no change" because they were settled when
 * recorded, finish_folder: any later change gives a later time). */
static bool side_as_left(struct store *s, const struct state_marks *m, const char *name)
{
	struct store_folder_info info;
	struct error err;

	if ((!m->uidnext || !m->highestmodseq) && !engine_times_recorded(m))
		return false;
	if (!s->ops->folder_status || s->ops->folder_status(s, name, &info, &err) != 1)
		return false;
	return engine_counts_same(m, &info) || engine_times_same(m, &info);
}

/*
 * Whether folder `name` is just as the last sync left it on both sides,
 * so that syncing it could do nothing: the state holds markers for both
 * sides taken under the same rules, each store tells its side's without
 * opening it, they are equal, and no intent of a killed run waits.
 */
static bool unchanged(struct store *const store[SIDES], const struct state_folder *sf,
                      const struct plan_rules *rules)
{
	if (!sf || !engine_markers_apply(sf, rules))
		return false;
	for (int s = 0; s < SIDES; s++)
		if (!side_as_left(store[s], &sf->side[s], sf->remote_name))
			return false;
	return true;
}

/* The messages a folder is expected to hold, for the memory budget of
 * parallel folders: the server's count from the folder list, else the
 * count the state recorded; 0 when neither is known. */
static size_t folder_weight(struct store *remote, const struct state_folder *sf, const char *name)
{
	struct store_folder_info ri;
	struct error err;

	if (remote->ops->folder_status && remote->ops->folder_status(remote, name, &ri, &err) == 1)
		return ri.exists;
	return sf ? sf->side[SIDE_A].messages : 0;
}

/* ---- the account --------------------------------------------------- */

static bool listed(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (engine_same_folder(names[i], name))
			return true;
	return false;
}

/*
 * Whether one side's copy of a known folder is exactly as the last sync
 * left it: the same messages as the state's pairs, with the last-synced
 * flags. Only such a copy may be removed when the other side removed the
 * folder; anything new or changed in it keeps it. Any doubt is "changed".
 */
static bool side_unchanged(struct store *s, struct state *st, const struct state_folder *sf, enum side side)
{
	struct store_folder *f = NULL;
	struct store_folder_info info;
	struct store_snapshot snap = {0};
	struct state_pairs pairs = {0};
	struct error err;
	bool missing, same = false;
	size_t sides = 0;

	if (s->ops->open_folder(s, sf->remote_name, &f, &info, &missing, &err) < 0)
		return false;
	if (s->ops->snapshot(f, &snap, &err) < 0 || state_pairs_load(st, sf->id, &pairs, &err) < 0)
		goto out;
	if (sf->side[side].uidvalidity && info.uidvalidity != sf->side[side].uidvalidity)
		goto out;
	for (size_t i = 0; i < pairs.count; i++)
		sides += store_id_known(pairs.pairs[i].side[side]);
	same = sides == snap.count;
	for (size_t i = 0; i < snap.count && same; i++) {
		const struct store_msg *m = &snap.msgs[i];
		const struct state_pair *p =
		    state_pairs_find(&pairs, side, (struct store_id){m->uid, m->name});
		/* Keywords too: a Maildir keeps them as letters. One that a
		 * side could not keep is in neither the pair nor that side. */
		same = p && p->flags == m->flags && mail_keywords_equal(p->keywords, m->keywords);
	}
out:
	state_pairs_free(&pairs);
	store_snapshot_free(&snap);
	if (f)
		s->ops->close_folder(f);
	return same;
}

/* The special use of folder `name` as either store's folder list gave it. */
static enum plan_special_use folder_use(struct store *remote, struct store *local, const char *name)
{
	struct store *sides[2] = {remote, local};

	for (size_t i = 0; i < 2; i++) {
		if (!sides[i]->ops->special_use)
			continue;
		switch (sides[i]->ops->special_use(sides[i], name)) {
		case STORE_USE_TRASH:
			return PLAN_USE_TRASH;
		case STORE_USE_JUNK:
			return PLAN_USE_JUNK;
		default:
			break;
		}
	}
	return PLAN_USE_NONE;
}

/* Remove a folder the other side removed (the planner checked the rules
 * and that this copy is unchanged), then forget it. */
static int remove_folder(struct store *s, struct state *st, const struct state_folder *sf, bool remote,
                         const struct sync_options *o, struct error *err)
{
	const char *where = remote ? "the server" : "the Maildir";

	if (o->dry_run) {
		log_info("%s: would be removed from %s (removed on the other side, unchanged here)",
		         sf->remote_name, where);
		engine_event_folder(o, SYNC_EVENT_FOLDER_REMOVED, sf->remote_name, remote ? SIDE_A : SIDE_B,
		                    NULL);
		return 0;
	}
	if (s->ops->delete_folder(s, sf->remote_name, err) < 0)
		return -1;
	crash_point("folder removed");
	if (state_folder_delete(st, sf->id, err) < 0)
		return -1;
	log_info("%s: removed from %s: it was removed on the other side and was unchanged here",
	         sf->remote_name, where);
	engine_event_folder(o, SYNC_EVENT_FOLDER_REMOVED, sf->remote_name, remote ? SIDE_A : SIDE_B, NULL);
	return 0;
}

static const struct state_folder *known_folder(const struct state_folder *known, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(known[i].remote_name, name) == 0)
			return &known[i];
	return NULL;
}

static char **selected_names(char **names, const struct sync_options *o, size_t *count_r)
{
	size_t n = 0;

	for (char **p = names; *p; p++)
		if (engine_folder_selected(o, *p))
			names[n++] = *p;
		else
			free(*p);
	names[n] = NULL;
	*count_r = n;
	return names;
}

static int list_side(struct store *s, struct state *st, const char *side, bool dry_run, char ***names_r,
                     struct error *err)
{
	if (s->ops->list_folders(s, names_r, err) == 0)
		return 0;
	/* A Maildir that was never synced may not exist yet: make its root
	 * (INBOX) on the first run only. Later, a missing root is an
	 * unmounted disk or a moved directory, never "everything deleted".
	 * A dry run makes nothing: to it the Maildir has no folder yet. */
	if (state_is_new(st) && dry_run) {
		*names_r = xcalloc(1, sizeof(**names_r));
		return 0;
	}
	if (state_is_new(st) && s->ops->create_folder) {
		struct error cerr;
		if (s->ops->create_folder(s, "INBOX", &cerr) == 0)
			return s->ops->list_folders(s, names_r, err);
	}
	error_prefix(err, "listing the %s folders", side);
	return -1;
}

/* `o` with its folder arguments resolved to store names (*only_r, fresh)
 * in *ro; -1 with `err` for an argument that names no folder or one the
 * patterns leave out. */
static int only_folders(const struct sync_options *o, char **rnames, char **lnames, char ***only_r,
                        struct sync_options *ro, struct error *err)
{
	size_t n;

	if (engine_resolve_only(o, rnames, lnames, only_r, &n, err) < 0)
		return -1;
	*ro = *o;
	ro->only_count = 0;
	for (size_t i = 0; i < n; i++)
		if (!engine_folder_selected(ro, (*only_r)[i]))
			return error_set(err, ERR_ACCOUNT,
			                 "the folder \"%s\" is left out by the account's `folders:` include "
			                 "and exclude patterns; change them to sync it",
			                 (*only_r)[i]);
	ro->only = (const char *const *)*only_r;
	ro->only_count = n;
	return 0;
}

/*
 * Whether the state describes the server the account names now. A state
 * that records none (new, or from before twinbox recorded it) records
 * it. Another one: the old server's UIDs mean nothing on this one, so
 * they are forgotten (state_server_replace; a dry run plans as if), and
 * *changed_r is set. Said plainly, since it can be a mistake in the
 * config.
 */
static int check_server(struct state *st, const struct sync_options *o, bool *changed_r, struct error *err)
{
	struct state_server old;
	int found;

	*changed_r = false;
	if (!o->server)
		return 0;
	found = state_server_get(st, &old, err);
	if (found < 0)
		return -1;
	if (found && state_server_same(&old, o->server)) {
		state_server_clear(&old);
		return 0;
	}
	if (found) {
		log_warn("the state of this account describes the server %s@%s:%u, but the account now names "
		         "%s@%s:%u: %s every folder as renumbered: messages are matched with that server's "
		         "by content, local messages it lacks are uploaded to it, its messages the Maildir "
		         "lacks are downloaded, and nothing is deleted on either side",
		         old.user, old.host, old.port, o->server->user, o->server->host, o->server->port,
		         o->dry_run ? "a real run treats" : "treating");
		*changed_r = true;
		state_server_clear(&old);
	}
	if (o->dry_run)
		return 0;
	if ((found ? state_server_replace(st, o->server, err) : state_server_set(st, o->server, err)) < 0) {
		error_prefix(err, "recording the account's server in its state");
		return -1;
	}
	return 0;
}

/*
 * Whether the server's list should tell each folder's markers (IMAP:
 * LIST-STATUS), so that unchanged folders are skipped unopened and the
 * largest start first: unless the state knows exactly one of the run's
 * folders. A run of one folder opens it anyway when anything changed,
 * and then a server such as Dovecot reads the folder twice, for the
 * STATUS and for the SELECT (60 ms more at 50,000 messages after new
 * mail); when nothing changed, the SELECT costs about what the STATUS
 * would have. A first run lists with them: its folders' sizes order
 * the parallel ones.
 */
static bool markers_worth_it(const struct sync_options *o, const struct state_folder *known, size_t nk)
{
	size_t n = 0;

	for (size_t i = 0; i < nk && n < 2; i++)
		n += engine_folder_selected(o, known[i].remote_name);
	return n != 1;
}

/* One account's run: what its phases share. */
struct account_run {
	struct store *remote, *local;
	struct state *st;
	const struct sync_options *o;
	struct sync_result *res;
	char **rnames, **lnames; /* each side's folders; the selected ones first */
	size_t nr, nl;
	struct state_folder *known; /* the folders the state knows */
	size_t nk;
	bool server_changed;
	/* The folders to sync, in plan order, with the messages each is
	 * expected to hold and its special use, for the pool. */
	const char **queue;
	size_t *weights;
	enum plan_special_use *uses;
	size_t queued;
	bool first_sync; /* one of them is new to the state */
	/* With a folder mapping: side B seen through it (`local` is then
	 * that view), and what the map leaves out of side A. */
	struct folder_map map;
	struct store_name_map names;
	struct store *mapped;
};

/* Each listed folder's special use on store s. */
static enum store_special_use *uses_of(struct store *s, char **names, size_t n)
{
	enum store_special_use *uses = xcalloc(n + 1, sizeof(*uses));

	for (size_t i = 0; i < n && s->ops->special_use; i++)
		uses[i] = s->ops->special_use(s, names[i]);
	return uses;
}

void engine_build_map(struct store *a, char **a_names, struct store *b, char **b_names,
                      const struct sync_options *o, struct folder_map *m_r)
{
	size_t na = 0, nb = 0;
	enum store_special_use *au, *bu;

	while (a_names[na])
		na++;
	while (b_names[nb])
		nb++;
	au = uses_of(a, a_names, na);
	bu = uses_of(b, b_names, nb);
	folder_map_build(&(struct folder_map_side){(const char *const *)a_names, au, na},
	                 &(struct folder_map_side){(const char *const *)b_names, bu, nb}, o->mapping, m_r);
	free(au);
	free(bu);
	for (size_t i = 0; i < m_r->note_count; i++) {
		log_info("folder mapping: %s", m_r->notes[i]);
		engine_event_note(o, NULL, "folder-map", m_r->notes[i]);
	}
}

/* Match side B's folders with side A's (sync_options.mapping): side B
 * seen through the map from here on (`oo` names it for the workers),
 * side A's views left out. */
static void map_folders(struct account_run *ar, struct sync_options *oo)
{
	engine_build_map(ar->remote, ar->rnames, ar->local, ar->lnames, oo, &ar->map);
	oo->skip = (const char *const *)ar->map.skipped;
	oo->skip_count = ar->map.skipped_count;
	if (!ar->map.rename_count && !ar->map.hidden_count)
		return;
	ar->names = folder_map_names(&ar->map);
	ar->mapped = mapped_store_new(ar->local, &ar->names);
	ar->local = ar->mapped;
	oo->map = &ar->names;
	/* The read-ahead reads side B under the engine's names. */
	if (ar->map.rename_count)
		oo->prefetch = NULL;
	store_map_names(&ar->names, ar->lnames);
}

/* The selected folders the state knows, for the folder planner (fresh
 * array of *n_r). Only those: one left out of this run (by
 * ACCOUNT:FOLDER or the folder patterns) is on neither side's list, and
 * must not read as gone from both and be forgotten. */
static struct plan_known_folder *known_folders(const struct account_run *ar, size_t *n_r)
{
	const struct sync_options *o = ar->o;
	struct plan_known_folder *kf = xcalloc(ar->nk + 1, sizeof(*kf));
	size_t n = 0;

	for (size_t i = 0; i < ar->nk; i++) {
		const struct state_folder *sf = &ar->known[i];
		struct plan_known_folder *k = &kf[n];
		bool on_remote, on_local;

		/* On another server no folder is known at this level: one it
		 * lacks is created there (and filled again), never read as
		 * removed. */
		if (ar->server_changed || !engine_folder_selected(o, sf->remote_name))
			continue;
		on_remote = listed(ar->rnames, ar->nr, sf->remote_name);
		on_local = listed(ar->lnames, ar->nl, sf->remote_name);
		n++;
		k->name = sf->remote_name;
		/* Only a folder gone from one side can be removed from the
		 * other, and only with remove_folders: look no further else. */
		if (o->rules.remove_folders && on_remote != on_local) {
			if (on_remote)
				k->unchanged[SIDE_A] = side_unchanged(ar->remote, ar->st, sf, SIDE_A);
			else
				k->unchanged[SIDE_B] = side_unchanged(ar->local, ar->st, sf, SIDE_B);
		}
	}
	*n_r = n;
	return kf;
}

/* Past the actions after *i that are about the same folder as it. */
static void skip_folder(const struct plan_folders *fp, size_t *i)
{
	while (*i + 1 < fp->action_count && strcmp(fp->actions[*i + 1].name, fp->actions[*i].name) == 0)
		(*i)++;
}

/* Create a folder on the side the plan says (a dry run plans and reports
 * its sync against the empty side at once, and *i moves past it). */
static int create_folder(struct account_run *ar, const struct plan_folders *fp, size_t *i,
                         struct sync_folder_report *rep, struct error *err)
{
	const struct sync_options *o = ar->o;
	const struct plan_folder_action *a = &fp->actions[*i];
	struct store *side = a->side == SIDE_A ? ar->remote : ar->local;

	if (o->dry_run) {
		/* Planned here against an empty side: its SYNC cannot open
		 * what does not exist yet. */
		skip_folder(fp, i);
		rep->created_remote = side == ar->remote;
		rep->created_local = side == ar->local;
		engine_event_folder(o, SYNC_EVENT_FOLDER_CREATED, a->name, a->side, NULL);
		engine_event_folder(o, SYNC_EVENT_FOLDER_BEGIN, a->name, a->side, NULL);
		if (sync_folder(ar->remote, ar->local, ar->st, o,
		                &(struct sync_folder_job){.name = a->name,
		                                          .use = folder_use(ar->remote, ar->local, a->name)},
		                rep, &rep->err) == 0) {
			ar->res->folders_synced++;
			engine_report(o, rep);
			return 0;
		}
		return engine_folder_failed(o, ar->res, rep, err);
	}
	if (side->ops->create_folder(side, a->name, &rep->err) < 0) {
		skip_folder(fp, i);
		return engine_folder_failed(o, ar->res, rep, err);
	}
	log_info("%s: created on the %s side", a->name, side == ar->remote ? "remote" : "local");
	engine_event_folder(o, SYNC_EVENT_FOLDER_CREATED, a->name, a->side, NULL);
	return 0;
}

/* A folder to sync: skipped when neither side changed since the last
 * sync, else queued for the pool. */
static void queue_folder(struct account_run *ar, const struct plan_folder_action *a,
                         struct sync_folder_report *rep)
{
	const struct sync_options *o = ar->o;
	const struct state_folder *sf = known_folder(ar->known, ar->nk, a->name);

	if (!o->renumber && unchanged((struct store *const[SIDES]){ar->remote, ar->local}, sf, &o->rules)) {
		log_debug("%s: unchanged on both sides since the last sync", a->name);
		engine_event_folder(o, SYNC_EVENT_FOLDER_SKIPPED, a->name, SIDE_A,
		                    "unchanged on both sides since the last sync");
		ar->res->folders_synced++;
		engine_report(o, rep);
		return;
	}
	ar->weights[ar->queued] = folder_weight(ar->remote, sf, a->name);
	ar->uses[ar->queued] = folder_use(ar->remote, ar->local, a->name);
	ar->queue[ar->queued++] = a->name;
	/* A folder new to the state has its messages to copy: the workers
	 * are worth their connections at once. */
	ar->first_sync |= a->first_sync;
}

/* Carry out folder action *i of the plan (it may move *i past the
 * folder's other actions): -1 with `err` when the run must stop. */
static int folder_action(struct account_run *ar, const struct plan_folders *fp, size_t *i, struct error *err)
{
	const struct sync_options *o = ar->o;
	const struct plan_folder_action *a = &fp->actions[*i];
	struct sync_folder_report rep = {.name = a->name, .dry_run = o->dry_run};

	error_clear(&rep.err);
	switch (a->kind) {
	case PLAN_FOLDER_CREATE:
		return create_folder(ar, fp, i, &rep, err);
	case PLAN_FOLDER_SYNC:
		queue_folder(ar, a, &rep);
		return 0;
	case PLAN_FOLDER_FORGET:
		if (!o->dry_run)
			for (size_t k = 0; k < ar->nk; k++)
				if (strcmp(ar->known[k].remote_name, a->name) == 0 &&
				    state_folder_delete(ar->st, ar->known[k].id, &rep.err) < 0)
					log_warn("%s: %s", a->name, rep.err.text);
		return 0;
	case PLAN_FOLDER_DELETE:
		for (size_t k = 0; k < ar->nk; k++) {
			bool remote_side = a->side == SIDE_A;
			if (strcmp(ar->known[k].remote_name, a->name) != 0)
				continue;
			if (remove_folder(remote_side ? ar->remote : ar->local, ar->st, &ar->known[k],
			                  remote_side, o, &rep.err) < 0 &&
			    engine_folder_failed(o, ar->res, &rep, err) < 0)
				return -1;
		}
		return 0;
	}
	return 0;
}

/* The folders the run would sync, as the quota check plans them: those
 * to create (absent on that side) and those not known unchanged. */
static int quota_check(struct account_run *ar, const struct plan_folders *fp, struct error *err)
{
	const struct sync_options *o = ar->o;
	struct quota_folder *qf = xcalloc(fp->action_count + 1, sizeof(*qf));
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < fp->action_count; i++) {
		const struct plan_folder_action *a = &fp->actions[i];
		struct quota_folder *f = &qf[n];

		if (a->kind == PLAN_FOLDER_CREATE) {
			f->absent[a->side] = true;
			skip_folder(fp, &i);
		} else if (a->kind != PLAN_FOLDER_SYNC ||
		           (!o->renumber && unchanged((struct store *const[SIDES]){ar->remote, ar->local},
		                                      known_folder(ar->known, ar->nk, a->name), &o->rules))) {
			continue;
		}
		f->name = a->name;
		f->use = folder_use(ar->remote, ar->local, a->name);
		n++;
	}
	rc = engine_quota_check(ar->remote, ar->local, ar->st, o, qf, n, err);
	free(qf);
	return rc;
}

/* The run in three phases: both sides' folders listed (and the folder
 * arguments resolved), the folders planned and their actions carried
 * out (creations, removals; the folders to sync queued), then the queue
 * synced by the pool. */
static int run_account(struct store *remote, struct store *local, struct state *st,
                       const struct sync_options *opts, struct sync_result *res, struct error *err)
{
	struct sync_options oo = *opts;
	struct account_run ar = {.remote = remote, .local = local, .st = st, .o = &oo, .res = res};
	struct plan_known_folder *kf = NULL;
	struct plan_folders fp = {0};
	struct sync_pool *pool = NULL;
	struct sync_options ro; /* the options with the folder arguments resolved */
	char **only = NULL;
	size_t nkf = 0;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (check_server(st, ar.o, &ar.server_changed, err) < 0 ||
	    state_folder_list(st, &ar.known, &ar.nk, err) < 0)
		goto out;
	oo.renumber = ar.server_changed && oo.dry_run;
	if (remote->ops->list_markers)
		remote->ops->list_markers(remote, markers_worth_it(ar.o, ar.known, ar.nk));
	if (list_side(remote, st, "remote", false, &ar.rnames, err) < 0 ||
	    list_side(local, st, "local", oo.dry_run, &ar.lnames, err) < 0)
		goto out;
	if (oo.mapping)
		map_folders(&ar, &oo);
	if (oo.only_count) {
		if (only_folders(ar.o, ar.rnames, ar.lnames, &only, &ro, err) < 0) {
			res->unknown_folder = true;
			goto out;
		}
		ar.o = &ro;
	}
	selected_names(ar.rnames, ar.o, &ar.nr);
	selected_names(ar.lnames, ar.o, &ar.nl);

	kf = known_folders(&ar, &nkf);
	struct plan_folders_input in = {
	    {(const char *const *)ar.rnames, (const char *const *)ar.lnames}, {ar.nr, ar.nl}, kf, nkf};
	plan_folders_build(&in, &ar.o->rules, &fp);
	ar.queue = xcalloc(fp.action_count + 1, sizeof(*ar.queue));
	ar.weights = xcalloc(fp.action_count + 1, sizeof(*ar.weights));
	ar.uses = xcalloc(fp.action_count + 1, sizeof(*ar.uses));
	for (size_t i = 0; i < fp.note_count; i++) {
		log_warn("%s", fp.notes[i]);
		engine_event_note(ar.o, NULL, "folder", fp.notes[i]);
	}
	if (ar.o->quota_check && quota_check(&ar, &fp, err) < 0)
		goto out;
	for (size_t i = 0; i < fp.action_count; i++)
		if (folder_action(&ar, &fp, &i, err) < 0)
			goto out;

	pool = pool_start(ar.o, pool_workers_for(ar.weights, ar.queued), ar.first_sync);
	rc = pool_run(pool, ar.o, remote, ar.local, st, ar.queue, ar.weights, ar.uses, ar.queued, res, err);
	pool = NULL;
out:
	pool_abandon(pool);
	if (ar.mapped)
		mapped_store_free(ar.mapped);
	folder_map_free(&ar.map);
	free(ar.queue);
	free(ar.weights);
	free(ar.uses);
	plan_folders_free(&fp);
	free(kf);
	state_folder_list_free(ar.known, ar.nk);
	store_names_free(ar.rnames);
	store_names_free(ar.lnames);
	store_names_free(only);
	return rc;
}

/* The whole run, for engine_retry. */
struct account_try {
	struct store *remote, *local;
	struct state *st;
	const struct sync_options *o;
	struct sync_result *res;
};

static int try_account(void *ctx, struct error *err)
{
	struct account_try *t = ctx;

	if (run_account(t->remote, t->local, t->st, t->o, t->res, err) == 0)
		return 0;
	/* A folder's failure stopped it: that folder was tried again
	 * already, as far as the back-off allowed; the run is not. Only a
	 * failure before any folder (the listing) makes the run go again. */
	if (t->res->stop_reported)
		err->retry = ERR_RETRY_NO;
	return -1;
}

int sync_run(struct store *remote, struct store *local, struct state *st, const struct sync_options *opts,
             struct sync_result *res, struct error *err)
{
	struct sync_options o = *opts;
	struct engine_hub hub;
	struct sync_event end = {.kind = SYNC_EVENT_ACCOUNT_END};
	struct account_try t = {remote, local, st, &o, res};
	int rc;

	o.quota_run = engine_quota_run_new();
	engine_hub_start(&hub, &o);
	engine_emit(&o, &(struct sync_event){.kind = SYNC_EVENT_ACCOUNT_BEGIN});
	rc = engine_retry(&o, remote, local, NULL, false, try_account, NULL, &t, err);
	end.folders_synced = res->folders_synced;
	end.folders_failed = res->folders_failed;
	end.text = rc < 0 ? err->text : NULL;
	engine_emit(&o, &end);
	engine_hub_end(&hub, &o);
	engine_quota_run_free(o.quota_run);
	return rc;
}
