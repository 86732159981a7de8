/*
 * The sync engine's folder level: a folder's state row, UIDVALIDITY
 * changes, recovery of a killed run's intents, the snapshots (changes.c:
 * the server's changes only, where they suffice; keys.c: content keys
 * for unpaired messages), then the plan (exec.c carries it out). The
 * account level, which folders to sync, is account.c.
 */
#include "twinbox/sync/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine_p.h"
#include "events_p.h"
#include "twinbox/state/folder.h"
#include "twinbox/state/intent.h"
#include "twinbox/util/crash.h"
#include "twinbox/util/log.h"
#include "twinbox/util/mailflags.h"
#include "twinbox/util/xmalloc.h"

/* ---- recovery ------------------------------------------------------ */

/* A deletion the killed run was carrying to the server (its local file
 * was gone). Where the server's copy went, the pair's local side is
 * forgotten with the intent: a file put back under its name since is a
 * message to upload, not the pair's, unchanged, to delete as well.
 * Where the server still has it, the plan decides again. */
static int recover_delete(struct folder_run *r, const struct state_intent *in, struct error *err)
{
	if (!in->pair_id || !store_id_known(in->msg[SIDE_A]) || run_msg(r, SIDE_A, in->msg[SIDE_A], NULL))
		return state_intent_resolve(r->st, in->id, err);
	if (state_begin(r->st, err) < 0)
		return -1;
	if (state_pair_drop_side(r->st, in->pair_id, SIDE_B, err) < 0 ||
	    state_intent_resolve(r->st, in->id, err) < 0 || state_commit(r->st, err) < 0) {
		state_rollback(r->st);
		return -1;
	}
	return 0;
}

/*
 * A killed run left intents. A delivery whose file exists is recorded
 * as the pair it was meant to be, with the flags it was delivered with
 * as the last-synced ones (the user may have changed the file's since,
 * the server its own: both are changes to carry over), what is left of
 * the others removed; everything else is dropped: an append that reached
 * the server is matched by content key below, like any message both
 * sides hold, so nothing is copied twice; one whose local file is gone
 * since is looked for on the server once the pairs are loaded
 * (recover.c).
 */
static int recover_intents(struct folder_run *r, struct error *err)
{
	struct state_intents set = {0};
	size_t found = 0, count;
	int rc = 0;

	if (state_intent_list(r->st, r->folder_id, &set, err) < 0)
		return -1;
	count = set.count; /* state_intents_free() clears set */
	for (size_t i = 0; i < set.count && rc == 0; i++) {
		const struct state_intent *in = &set.intents[i];
		const struct store_msg *lm = NULL;

		if (engine_append_pending(r, in))
			continue; /* engine_recover_appends, once the pairs are loaded */
		if (state_intent_is(in, STATE_INTENT_DELETE, SIDE_A)) {
			rc = recover_delete(r, in, err);
			continue;
		}
		if (state_intent_is(in, STATE_INTENT_COPY, SIDE_B) && in->msg[SIDE_B].name) {
			/* Its tmp/ file, or a second link of a file that made it. */
			engine_clean_leftovers(r, in->msg[SIDE_B].name);
			lm = run_msg(r, SIDE_B, in->msg[SIDE_B], NULL);
		}
		if (lm) {
			const struct store_msg *rm = run_msg(r, SIDE_A, in->msg[SIDE_A], NULL);
			unsigned flags = lm->flags;
			char *keywords = NULL;
			/* An intent of an older version has no flags: the file's. */
			bool delivered = state_intent_flags_parse(in->remote, &flags, &keywords);
			struct state_pair p = {
			    .id = in->pair_id,
			    .folder_id = r->folder_id,
			    .side = {{in->msg[SIDE_A].uid, NULL}, {0, lm->name}},
			    .flags = flags,
			    .keywords = delivered ? keywords : lm->keywords,
			    .size = rm ? rm->size : 0,
			    .content_key = in->content_key,
			};
			rc = state_intent_resolve_pair(r->st, in->id, &p, err);
			found++;
			free(keywords);
		} else {
			rc = state_intent_resolve(r->st, in->id, err);
		}
	}
	state_intents_free(&set);
	/* Said as it is: the run that left them was killed or stopped by an
	 * error, and only some of what it set out to do had happened. */
	if (rc == 0 && count)
		log_info("%s: %s stopped part-way (%s): %zu message%s it had copied %s recorded now, %zu "
		         "step%s it had not finished %s left to this %s",
		         r->rep->name, r->again ? "the last try" : "the last run",
		         r->again ? "the server failed" : "killed, or stopped by an error", found,
		         found == 1 ? "" : "s", found == 1 ? "is" : "are", count - found,
		         count - found == 1 ? "" : "s", count - found == 1 ? "is" : "are",
		         r->again ? "one" : "run");
	if (rc == 0 && count)
		crash_point("intents of an interrupted run reconciled");
	return rc;
}

/* ---- one folder ---------------------------------------------------- */

/* The planner's view of the snapshots. Nothing reads a snapshot's
 * entries after this (their strings stay, the plan points into them), so
 * each side's entries are dropped as soon as they are converted: the
 * plan is built with one copy of a large folder's messages, not two. */
static struct plan_msg *plan_msgs(struct store_snapshot *snap, char **keys)
{
	struct plan_msg *pm = xcalloc(snap->count + 1, sizeof(*pm));

	for (size_t i = 0; i < snap->count; i++) {
		const struct store_msg *m = &snap->msgs[i];
		pm[i] = (struct plan_msg){{m->uid, m->name},     m->flags, m->keywords, m->size,
		                          keys ? keys[i] : NULL, m->date,  m->date_zone};
	}
	free(snap->msgs);
	snap->msgs = NULL;
	return pm;
}

/* Open one side of folder `name`. A dry run's folder that would be
 * created on that side (`absent`, as the folder lists said) is taken as
 * empty (*f_r NULL). */
static int open_side(struct store *s, const char *name, const char *side, bool absent,
                     struct store_folder **f_r, struct store_folder_info *info, struct error *err)
{
	bool missing = false;

	*f_r = NULL;
	if (absent) {
		memset(info, 0, sizeof(*info));
		return 0;
	}
	if (s->ops->open_folder(s, name, f_r, info, &missing, err) == 0)
		return 0;
	*f_r = NULL;
	if (missing)
		error_prefix(err, "the %s folder is missing", side);
	return -1;
}

/* The rules as the state keeps them with a folder's markers: what, with
 * nothing changed on either side, could make a sync do something else.
 * "kw=1": Maildir folders keep keywords as letters since; markers taken
 * before would let the server's keywords on unchanged messages stay
 * behind, so the first run after reads each folder whole once. */
static void rules_text(const struct plan_rules *r, char out[96])
{
	snprintf(out, 96, "direction=%d flags=%d expunge=%d max_size=%llu kw=1", (int)r->direction,
	         (int)r->flags, (int)r->expunge, (unsigned long long)r->max_size);
}

/* Whether the folder's markers in the state may be used at all: taken
 * under these rules, with a UIDVALIDITY, and no intent of a killed run
 * pending. */
bool engine_markers_apply(const struct state_folder *sf, const struct plan_rules *rules)
{
	char text[96];

	rules_text(rules, text);
	return !sf->pending && sf->rules && strcmp(sf->rules, text) == 0 && sf->side[SIDE_A].uidvalidity;
}

/*
 * The modseq since which the server's changes tell its side of the
 * folder (0: read it whole). The state's pairs are then the server's
 * messages as of that modseq: finish_folder records it at the start of
 * a run that went through without a failed message, and whatever a run
 * changes afterwards, even one killed half-way, has a later modseq on
 * the server or is an intent still pending. Only where the pairs hold
 * the server's flags: the same rules, a base to merge against, and no
 * flag change kept back from the server's side (plan.h: direction push,
 * or flags not synced, leave the server's flags apart from the pair's).
 */
static uint64_t changes_since(const struct state_folder *sf, const struct store_folder_info *rinfo,
                              const struct plan_rules *rules)
{
	if (rules->first_sync || rules->direction == PLAN_DIRECTION_PUSH || !rules->flags ||
	    !engine_markers_apply(sf, rules) || sf->side[SIDE_A].uidvalidity != rinfo->uidvalidity ||
	    sf->side[SIDE_A].highestmodseq > rinfo->highestmodseq)
		return 0;
	return sf->side[SIDE_A].highestmodseq;
}

/* Side s of the folder renumbered (its UIDVALIDITY in the state was
 * `was`, it is `now`): told, and its ids forgotten (a dry run forgets
 * them in memory once the pairs are loaded). */
static int side_renumbered(struct folder_run *r, const char *name, enum side s, uint32_t was, uint32_t now,
                           struct plan_rules *rules, struct error *err)
{
	const struct plan_side_words *w = &rules->words[s];
	char *why = xasprintf("%s's UIDVALIDITY changed from %u to %u: %s renumbered the folder, or was "
	                      "restored or replaced; matching its messages again by content, and copying "
	                      "there again the %s it no longer has (nothing is deleted on either side)",
	                      w->the_side, was, now, w->the_side, rules->words[side_other(s)].messages);

	if (!r->o->quiet)
		log_warn("%s: %s", name, why);
	engine_event_note(r->o, name, "uidvalidity-changed", why);
	free(why);
	rules->first_sync = true;
	r->renumber[s] = r->o->dry_run;
	return r->o->dry_run ? 0 : state_folder_reset_ids(r->st, r->folder_id, s, now, err);
}

/* The folder's state row (made on first sync), each side's UIDVALIDITY
 * checked, and the modseq to read side A's changes from (*since_r, 0:
 * none). `info` is each side's folder as opened. */
static int folder_row(struct folder_run *r, const char *name, const struct store_folder_info info[SIDES],
                      struct plan_rules *rules, uint64_t *since_r, struct error *err)
{
	struct state_folder sf;
	int found = state_folder_find_remote(r->st, name, &sf, err);

	*since_r = 0;
	if (found < 0)
		return -1;
	if (!found) {
		rules->first_sync = true;
		if (r->o->dry_run) {
			r->folder_id = 0;
			return 0;
		}
		/* The UIDVALIDITY the pairs this run records belong to, known
		 * from the start: a run killed before the end must not leave
		 * pairs whose numbering a later change could not be told by. */
		if (state_folder_add(r->st, name, name, &r->folder_id, err) < 0)
			return -1;
		for (int s = 0; s < SIDES; s++)
			if (info[s].uidvalidity &&
			    state_folder_reset_ids(r->st, r->folder_id, s, info[s].uidvalidity, err) < 0)
				return -1;
		return 0;
	}
	r->folder_id = sf.id;
	/* A dry run after a server change: sync_run's real run would have
	 * forgotten the old server's UIDs and UIDVALIDITY. */
	r->renumber[SIDE_A] = r->o->renumber;
	for (int s = 0; s < SIDES && found >= 0; s++) {
		uint32_t was = sf.side[s].uidvalidity, now = info[s].uidvalidity;
		if (!r->renumber[s] && was && now && was != now)
			found = side_renumbered(r, name, s, was, now, rules, err);
	}
	if (found < 0) {
		state_folder_clear(&sf);
		return -1;
	}
	*since_r = r->renumber[SIDE_A] || r->renumber[SIDE_B] ? 0 : changes_since(&sf, &info[SIDE_A], rules);
	/* The read-ahead's pairs, unless the state's changed under them
	 * (prefetch.c) or are about to be read otherwise. */
	if (r->pre.have_pairs &&
	    (r->pre.folder_id != sf.id || r->pre.uidvalidity != sf.side[SIDE_A].uidvalidity || sf.pending ||
	     rules->first_sync || r->renumber[SIDE_A] || r->renumber[SIDE_B])) {
		state_pairs_free(&r->pre.pairs);
		r->pre.have_pairs = false;
	}
	state_folder_clear(&sf);
	return 0;
}

/*
 * Record the folder as synced. Its markers are those read when it was
 * opened, before anything was read or changed, so they can only be older
 * than what the sync saw. A side's markers (UIDNEXT and count, or the
 * directory times) are kept only when this run changed nothing there,
 * every message went through, and the store says they tell (an IMAP
 * folder with a HIGHESTMODSEQ; Maildir times settled); else 0, "not known", and the next run looks at the
 * whole folder again (and records them then). HIGHESTMODSEQ is the
 * exception: it is kept whenever every message went through, since the
 * next run asks the server what changed after it (changes_since); with
 * UIDNEXT 0 it never makes the folder look unchanged (unchanged()). So
 * is the Maildir folder's listing, which its store kept through this
 * run's own changes: equal to the folder's next time, it proves that
 * nobody else changed it, however soon that is (changes.c).
 */
/* Whether r's run changed side s (copied, flagged or deleted there). */
static bool changed_side(const struct sync_folder_report *rep, enum side s)
{
	return s == SIDE_A ? rep->to_remote || rep->flags_remote || rep->deleted_remote
	                   : rep->to_local || rep->flags_local || rep->deleted_local;
}

/* Side s's markers in `m` as `info` (the folder as opened) shows them,
 * where they can be trusted (finish_folder). */
static void side_markers(struct folder_run *r, enum side s, const struct store_folder_info *info,
                         struct state_marks *m)
{
	const struct store_ops *ops = r->store[s]->ops;
	bool clean = r->rep->message_failures == 0;
	bool same = clean && !changed_side(r->rep, s);
	bool counted = same && info->uidnext && info->highestmodseq;
	struct timespec zero = {0, 0};
	struct store_listing listing;
	bool listed = clean && ops->listing && ops->listing(r->folder[s], &listing);

	m->uidvalidity = info->uidvalidity;
	m->uidnext = counted ? info->uidnext : 0;
	m->highestmodseq = clean ? info->highestmodseq : 0;
	m->messages = counted ? info->exists : 0;
	for (int i = 0; i < 2; i++)
		m->marks[i] = same && info->marks_settled ? info->marks[i] : zero;
	m->digest = listed ? listing.digest : 0;
	m->files = listed ? (int64_t)listing.files : -1;
}

/* What the folder's sync did to its two sides, for people: the messages
 * each holds now, how many failed and the last one's reason (the
 * state's copy of the report, state/folder.h). */
static void outcome(const struct folder_run *r, struct state_folder *sf, int64_t now)
{
	const struct sync_folder_report *rep = r->rep;
	size_t came[SIDES] = {rep->to_remote, rep->to_local};
	size_t went[SIDES] = {rep->deleted_remote, rep->deleted_local};

	for (int s = 0; s < SIDES; s++)
		sf->seen[s] = r->held[s] + came[s] > went[s] ? (int64_t)(r->held[s] + came[s] - went[s]) : 0;
	sf->failed_messages = (int64_t)rep->message_failures;
	free(sf->error);
	sf->error = NULL;
	sf->error_time = 0;
	if (rep->message_failures) {
		sf->error = rep->message_err.text[0]
		                ? xstrdup(rep->message_err.text)
		                : xasprintf("%zu message%s failed", rep->message_failures,
		                            rep->message_failures == 1 ? "" : "s");
		sf->error_time = now;
	}
}

/* The folder's sync failed with `err`: said in the state, for people,
 * as far as the folder is known there (a folder new to the state that
 * failed before its row was made is not). Best effort: the failure
 * itself is what the caller reports. */
static void record_failure(struct folder_run *r, const char *name, const struct error *why)
{
	struct state_folder sf = {0};
	struct error err;
	int64_t id = r->folder_id;

	if (r->o->dry_run || state_in_transaction(r->st))
		return;
	if (!id && state_folder_find_remote(r->st, name, &sf, &err) == 1)
		id = sf.id;
	state_folder_clear(&sf);
	if (id && state_folder_set_error(r->st, id, why->text[0] ? why->text : "failed",
	                                 (int64_t)r->rep->message_failures, (int64_t)time(NULL), &err) < 0)
		log_debug("%s: the failure was not recorded: %s", name, err.text);
}

static int finish_folder(struct folder_run *r, const struct store_folder_info info[SIDES],
                         const struct plan_rules *rules, struct error *err)
{
	char text[96];
	struct state_folder sf;
	int found;

	if (r->o->dry_run)
		return 0;
	found = state_folder_get(r->st, r->folder_id, &sf, err);
	if (found <= 0)
		return found < 0
		           ? -1
		           : error_set(err, ERR_FATAL, "folder %s vanished from the state", r->rep->name);
	rules_text(rules, text);
	for (int s = 0; s < SIDES; s++)
		side_markers(r, s, &info[s], &sf.side[s]);
	free(sf.rules);
	sf.rules = xstrdup(text);
	sf.last_sync = (int64_t)time(NULL);
	outcome(r, &sf, sf.last_sync);
	found = state_folder_update(r->st, &sf, err);
	state_folder_clear(&sf);
	if (found == 0)
		crash_point("folder markers recorded");
	return found;
}

/* Whether carrying the plan out changes a store (not only the state). */
static bool plan_has_work(const struct plan *plan)
{
	static const enum plan_kind work[] = {PLAN_SET_FLAGS, PLAN_COPY, PLAN_DELETE};

	for (size_t i = 0; i < sizeof(work) / sizeof(work[0]); i++)
		if (plan_count(plan, work[i]) > 0)
			return true;
	return false;
}

/* Before a plan changes anything: the listing the state holds for a
 * side's folder (a Maildir's) goes with the pairs as they are, so it is forgotten
 * before either changes (state_folder_drop_listing) and recorded again
 * by finish_folder. A plain commit: the stores' first change comes after
 * it in the log or behind a durable intent. */
static int drop_listing(struct folder_run *r, struct error *err)
{
	if (state_begin(r->st, err) < 0)
		return -1;
	for (int s = 0; s < SIDES; s++)
		if (r->store[s]->ops->listing && state_folder_drop_listing(r->st, r->folder_id, s, err) < 0) {
			state_rollback(r->st);
			return -1;
		}
	if (state_commit(r->st, err) < 0) {
		state_rollback(r->st);
		return -1;
	}
	return 0;
}

/* The folder is not synced: the valve held deletions back (plan.h); its
 * notes say why and what to do. */
static void blocked_error(const struct plan *plan, struct error *err)
{
	const char *why[2] = {"", ""};
	size_t n = 0;

	for (size_t i = 0; i < plan->note_count && n < 2; i++)
		if (plan->notes[i].kind == PLAN_NOTE_MASS_DELETE)
			why[n++] = plan->notes[i].text;
	error_set(err, ERR_MAILBOX, "not synced: %s%s%s", why[0], n > 1 ? ". Also: " : "", why[1]);
}

int sync_folder(struct store *rs, struct store *ls, struct state *st, const struct sync_options *o,
                const struct sync_folder_job *job, struct sync_folder_report *rep, struct error *err)
{
	const char *name = job->name;
	struct folder_run r = {
	    .o = o, .st = st, .store = {rs, ls}, .rep = rep, .again = job->again, .files_read = -1};
	struct plan_rules rules = o->rules;
	struct store_folder_info info[SIDES];
	struct plan_msg *pm[SIDES] = {NULL, NULL};
	char *keep_text[SIDES] = {NULL, NULL};
	struct plan plan = {0};
	uint64_t since;
	bool told = false;
	int rc = -1;

	rules.use = job->use;
	if (open_side(rs, name, "remote", o->dry_run && rep->created_remote, &r.folder[SIDE_A], &info[SIDE_A],
	              err) < 0)
		goto out;
	if (prefetch_take(o->prefetch, name, &r.pre)) {
		r.folder[SIDE_B] = r.pre.lf;
		info[SIDE_B] = r.pre.linfo;
	} else if (open_side(ls, name, "local", o->dry_run && rep->created_local, &r.folder[SIDE_B],
	                     &info[SIDE_B], err) < 0) {
		goto out;
	}
	if (folder_row(&r, name, info, &rules, &since, err) < 0)
		goto out;
	if (!o->dry_run && !r.partial)
		engine_clean_leftovers(&r, NULL);
	if (since && r.folder[SIDE_A] && rs->ops->changes &&
	    engine_remote_changes(&r, since, &info[SIDE_A], &info[SIDE_B], &told, err) < 0)
		goto out;
	if ((!told && r.folder[SIDE_A] && rs->ops->snapshot(r.folder[SIDE_A], &r.snap[SIDE_A], err) < 0) ||
	    (r.folder[SIDE_B] && !r.partial && engine_local_snapshot(&r, err) < 0))
		goto out;
	/* With the server's changes told there was no intent to recover
	 * (changes_since), and the pairs are loaded. */
	if (r.folder_id && !o->dry_run && !told && recover_intents(&r, err) < 0)
		goto out;
	if (r.folder_id && !told && engine_load_pairs(&r, err) < 0)
		goto out;
	if (r.folder_id && !o->dry_run && !told && engine_recover_appends(&r, err) < 0)
		goto out;
	for (int s = 0; s < SIDES; s++)
		if (r.renumber[s])
			state_pairs_renumber_side(&r.pairs, s);
	if (engine_fill_pair_keys(&r, err) < 0 || engine_content_keys(&r, err) < 0)
		goto out;
	struct plan_input in = {
	    r.pairs.pairs, r.pairs.count, {NULL, NULL}, {r.snap[SIDE_A].count, r.snap[SIDE_B].count}};
	for (int s = 0; s < SIDES; s++) {
		/* Of the changes alone (r.partial), the totals are the folder's. */
		r.held[s] = r.total[s] > in.count[s] ? r.total[s] : in.count[s];
		in.msgs[s] = pm[s] = plan_msgs(&r.snap[s], r.keys[s]);
		rules.total[s] = r.total[s];
	}
	for (int s = 0; s < SIDES; s++) {
		if (r.folder[s] && r.store[s]->ops->keeps) {
			enum side o_side = side_other(s);

			r.store[s]->ops->keeps(r.folder[s], &rules.keep[s]);
			/* Room for new keywords goes to those the other side has. */
			keep_text[s] = plan_keep_room(&rules.keep[s], in.msgs[o_side], in.count[o_side]);
			engine_not_kept_keep(&rep->not_kept[s], &rules.keep[s]);
		}
	}
	if (plan_build(&in, &rules, &plan, err) < 0)
		goto out;
	engine_planned_counts(&plan, &rep->planned);
	engine_plan_events(o, rep, &plan);
	if (!o->quiet)
		engine_log_notes(name, &plan, o->dry_run);
	if (plan.status == PLAN_OK && plan_has_work(&plan) && job->has_work)
		job->has_work(job->ctx);
	if (o->dry_run) {
		if (o->show_plan)
			o->show_plan(o->ctx, name, &plan);
		rc = 0;
		goto out;
	}
	if (plan.status == PLAN_MASS_DELETE_BLOCKED) {
		blocked_error(&plan, err);
		goto out;
	}
	if ((plan_has_work(&plan) && drop_listing(&r, err) < 0) || exec_plan(&r, &plan, err) < 0)
		goto out;
	rc = finish_folder(&r, info, &rules, err);
out:
	if (rc < 0)
		record_failure(&r, name, err);
	plan_free(&plan);
	engine_free_keys(&r);
	engine_free_pair_keys(&r);
	state_pairs_free(&r.pairs);
	r.pre.lf = NULL; /* r.folder[SIDE_B] */
	prefetched_free(ls, &r.pre);
	for (int s = 0; s < SIDES; s++) {
		free(pm[s]);
		free(keep_text[s]);
		store_snapshot_free(&r.snap[s]);
		if (r.folder[s])
			r.store[s]->ops->close_folder(r.folder[s]);
	}
	return rc;
}
