/*
 * The sync engine's account and folder level: which folders, their state
 * rows, UIDVALIDITY changes, recovery of a killed run's intents, the
 * snapshots (changes.c: the server's changes only, where they suffice;
 * keys.c: content keys for unpaired messages), then the plan (exec.c
 * carries it out).
 */
#include "twinbox/sync/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine_p.h"
#include "twinbox/state/flags.h"
#include "twinbox/state/folder.h"
#include "twinbox/state/intent.h"
#include "twinbox/util/crash.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

bool sync_pattern_match(const char *pattern, const char *name)
{
	/* INBOX is case-insensitive (RFC 3501 5.1); compare it that way. */
	if (strcasecmp(name, "INBOX") == 0 && strcasecmp(pattern, "INBOX") == 0)
		return true;
	for (;; pattern++, name++) {
		if (*pattern == '*' || *pattern == '%') {
			bool any = *pattern == '*';
			for (const char *n = name;; n++) {
				if (sync_pattern_match(pattern + 1, n))
					return true;
				if (*n == '\0' || (!any && *n == '/'))
					return false;
			}
		}
		if (*pattern != *name)
			return false;
		if (*name == '\0')
			return true;
	}
}

static bool selected(const struct sync_options *o, const char *name)
{
	bool in = o->include_count == 0;

	for (size_t i = 0; i < o->include_count && !in; i++)
		in = sync_pattern_match(o->include[i], name);
	for (size_t i = 0; i < o->exclude_count && in; i++)
		in = !sync_pattern_match(o->exclude[i], name);
	if (in && o->only_count) {
		in = false;
		for (size_t i = 0; i < o->only_count && !in; i++)
			in = strcmp(o->only[i], name) == 0 ||
			     (strcasecmp(name, "INBOX") == 0 && strcasecmp(o->only[i], "INBOX") == 0);
	}
	return in;
}

const struct store_msg *run_remote_msg(const struct folder_run *r, uint32_t uid, size_t *index_r)
{
	size_t lo = 0, hi = r->rsnap.count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t u = r->rsnap.msgs[mid].uid;
		if (u == uid) {
			if (index_r)
				*index_r = mid;
			return &r->rsnap.msgs[mid];
		}
		if (u < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct store_msg *run_local_msg(const struct folder_run *r, const char *name, size_t *index_r)
{
	size_t lo = 0, hi = r->lsnap.count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->lsnap.msgs[mid].name, name);
		if (c == 0) {
			if (index_r)
				*index_r = mid;
			return &r->lsnap.msgs[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- recovery ------------------------------------------------------ */

/* Remove what a killed run left of an add under the reserved name
 * `name` (or, NULL, whatever is old enough to be abandoned): a failure
 * leaves only litter behind, so it is told and the run goes on. */
static void clean_leftovers(struct folder_run *r, const char *name)
{
	struct error err;

	if (r->ls->ops->clean_leftovers && r->ls->ops->clean_leftovers(r->lf, name, &err) < 0)
		log_warn("%s: %s", r->rep->name, err.text);
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

		if (engine_append_orphaned(r, in))
			continue; /* engine_recover_appends, once the pairs are loaded */
		if (in->kind == STATE_INTENT_DELIVER_LOCAL && in->local_id) {
			/* Its tmp/ file, or a second link of a file that made it. */
			clean_leftovers(r, in->local_id);
			lm = run_local_msg(r, in->local_id, NULL);
		}
		if (lm) {
			const struct store_msg *rm = run_remote_msg(r, in->uid, NULL);
			unsigned flags = lm->flags;
			char *keywords = NULL;
			/* An intent of an older version has no flags: the file's. */
			bool delivered = state_intent_flags_parse(in->remote, &flags, &keywords);
			struct state_pair p = {
			    .id = in->pair_id,
			    .folder_id = r->folder_id,
			    .uid = in->uid,
			    .flags = flags,
			    .local_id = lm->name,
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
		log_info("%s: the last run stopped part-way (killed, or stopped by an error): %zu "
		         "message%s it had copied %s recorded now, %zu step%s it had not finished %s left to "
		         "this run",
		         r->rep->name, found, found == 1 ? "" : "s", found == 1 ? "is" : "are", count - found,
		         count - found == 1 ? "" : "s", count - found == 1 ? "is" : "are");
	if (rc == 0 && count)
		crash_point("intents of an interrupted run reconciled");
	return rc;
}

/* ---- one folder ---------------------------------------------------- */

/* The planner's view of the snapshots. Nothing reads a snapshot's
 * entries after this (their strings stay, the plan points into them), so
 * each side's entries are dropped as soon as they are converted: the
 * plan is built with one copy of a large folder's messages, not two. */
static void plan_inputs(struct folder_run *r, struct plan_remote_msg **rm_r, struct plan_local_msg **lm_r)
{
	struct plan_remote_msg *rm = xcalloc(r->rsnap.count + 1, sizeof(*rm));
	struct plan_local_msg *lm;

	for (size_t i = 0; i < r->rsnap.count; i++) {
		const struct store_msg *m = &r->rsnap.msgs[i];
		rm[i] = (struct plan_remote_msg){
		    m->uid, m->flags, m->keywords, m->size, r->rkeys ? r->rkeys[i] : NULL, m->date};
	}
	free(r->rsnap.msgs);
	r->rsnap.msgs = NULL;
	lm = xcalloc(r->lsnap.count + 1, sizeof(*lm));
	for (size_t i = 0; i < r->lsnap.count; i++) {
		const struct store_msg *m = &r->lsnap.msgs[i];
		lm[i] = (struct plan_local_msg){
		    m->name, m->flags, m->keywords, m->size, r->lkeys ? r->lkeys[i] : NULL, m->date};
	}
	free(r->lsnap.msgs);
	r->lsnap.msgs = NULL;
	*rm_r = rm;
	*lm_r = lm;
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
 * nothing changed on either side, could make a sync do something else. */
static void rules_text(const struct plan_rules *r, char out[96])
{
	snprintf(out, 96, "direction=%d flags=%d expunge=%d max_size=%llu", (int)r->direction, (int)r->flags,
	         (int)r->expunge, (unsigned long long)r->max_size);
}

/* Whether the folder's markers in the state may be used at all: taken
 * under these rules, with a UIDVALIDITY, and no intent of a killed run
 * pending. */
static bool markers_apply(const struct state_folder *sf, const struct plan_rules *rules)
{
	char text[96];

	rules_text(rules, text);
	return !sf->pending && sf->rules && strcmp(sf->rules, text) == 0 && sf->uidvalidity;
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
	    !markers_apply(sf, rules) || sf->uidvalidity != rinfo->uidvalidity ||
	    sf->highestmodseq > rinfo->highestmodseq)
		return 0;
	return sf->highestmodseq;
}

/* The folder's state row (made on first sync), a UIDVALIDITY check, and
 * the modseq to read the server's changes from (*since_r, 0: none). */
static int folder_row(struct folder_run *r, const char *name, const struct store_folder_info *rinfo,
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
		return rinfo->uidvalidity
		           ? state_folder_reset_uids(r->st, r->folder_id, rinfo->uidvalidity, err)
		           : 0;
	}
	r->folder_id = sf.id;
	if (r->o->renumber) {
		/* A dry run after a server change: sync_run's real run would
		 * have forgotten the old server's UIDs and UIDVALIDITY. */
		r->renumber = true;
	} else if (sf.uidvalidity && rinfo->uidvalidity && sf.uidvalidity != rinfo->uidvalidity) {
		log_warn("%s: the server's UIDVALIDITY changed from %u to %u: the server renumbered the "
		         "folder, or was restored or replaced; matching its messages again by content, and "
		         "uploading again the local messages it no longer has (nothing is deleted on either "
		         "side)",
		         name, sf.uidvalidity, rinfo->uidvalidity);
		rules->first_sync = true;
		r->renumber = r->o->dry_run;
		if (!r->o->dry_run && state_folder_reset_uids(r->st, sf.id, rinfo->uidvalidity, err) < 0) {
			state_folder_clear(&sf);
			return -1;
		}
	}
	*since_r = r->renumber ? 0 : changes_since(&sf, rinfo, rules);
	state_folder_clear(&sf);
	return 0;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * Record the folder as synced. Its markers are those read when it was
 * opened, before anything was read or changed, so they can only be older
 * than what the sync saw. A side's markers are kept only when this run
 * changed nothing there, every message went through, and (Maildir) the
 * times were settled; else 0, "not known", and the next run looks at the
 * whole folder again (and records them then). HIGHESTMODSEQ is the
 * exception: it is kept whenever every message went through, since the
 * next run asks the server what changed after it (changes_since); with
 * UIDNEXT 0 it never makes the folder look unchanged (unchanged()).
 */
static int finish_folder(struct folder_run *r, const struct store_folder_info *rinfo,
                         const struct store_folder_info *linfo, const struct plan_rules *rules,
                         struct error *err)
{
	const struct sync_folder_report *rep = r->rep;
	bool clean = rep->message_failures == 0;
	bool remote_same = clean && !rep->to_remote && !rep->flags_remote && !rep->deleted_remote &&
	                   rinfo->uidnext && rinfo->highestmodseq;
	bool local_same =
	    clean && !rep->to_local && !rep->flags_local && !rep->deleted_local && linfo->marks_settled;
	struct timespec zero = {0, 0};
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
	sf.uidvalidity = rinfo->uidvalidity;
	sf.uidnext = remote_same ? rinfo->uidnext : 0;
	sf.highestmodseq = clean ? rinfo->highestmodseq : 0;
	sf.messages = remote_same ? rinfo->exists : 0;
	sf.new_mtime = local_same ? linfo->marks[0] : zero;
	sf.cur_mtime = local_same ? linfo->marks[1] : zero;
	free(sf.rules);
	sf.rules = xstrdup(text);
	sf.last_sync = (int64_t)time(NULL);
	found = state_folder_update(r->st, &sf, err);
	state_folder_clear(&sf);
	if (found == 0)
		crash_point("folder markers recorded");
	return found;
}

/*
 * Whether folder `name` is just as the last sync left it on both sides,
 * so that syncing it could do nothing: both stores tell its markers
 * without opening it, the state holds markers for both sides taken under
 * the same rules, they are equal, and no intent of a killed run waits.
 */
static bool unchanged(struct store *remote, struct store *local, const struct state_folder *sf,
                      const struct plan_rules *rules)
{
	struct store_folder_info ri, li;
	struct timespec zero = {0, 0};
	struct error err;

	if (!sf || !markers_apply(sf, rules) || !sf->uidnext || !sf->highestmodseq ||
	    (same_time(&sf->new_mtime, &zero) && same_time(&sf->cur_mtime, &zero)))
		return false;
	if (!remote->ops->folder_status ||
	    remote->ops->folder_status(remote, sf->remote_name, &ri, &err) != 1 ||
	    !local->ops->folder_status || local->ops->folder_status(local, sf->remote_name, &li, &err) != 1)
		return false;
	/* Equal times prove "no change" because they were settled when
	 * recorded (finish_folder): any later change gives a later time. */
	return ri.uidvalidity == sf->uidvalidity && ri.uidnext == sf->uidnext &&
	       ri.highestmodseq == sf->highestmodseq && ri.exists == sf->messages &&
	       same_time(&li.marks[0], &sf->new_mtime) && same_time(&li.marks[1], &sf->cur_mtime);
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
	return sf ? sf->messages : 0;
}

/* Whether carrying the plan out changes a store (not only the state). */
static bool plan_has_work(const struct plan *plan)
{
	static const enum plan_kind work[] = {PLAN_SET_FLAGS_REMOTE, PLAN_SET_FLAGS_LOCAL, PLAN_COPY_TO_LOCAL,
	                                      PLAN_COPY_TO_REMOTE,   PLAN_DELETE_REMOTE,   PLAN_DELETE_LOCAL};
	size_t n;

	for (size_t i = 0; i < sizeof(work) / sizeof(work[0]); i++)
		if (plan_actions(plan, work[i], &n) && n > 0)
			return true;
	return false;
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

int engine_sync_folder(struct store *rs, struct store *ls, struct state *st, const struct sync_options *o,
                       const char *name, enum plan_special_use use, struct sync_pool *pool,
                       struct sync_folder_report *rep, struct error *err)
{
	struct folder_run r = {.o = o, .st = st, .rs = rs, .ls = ls, .rep = rep};
	struct plan_rules rules = o->rules;
	struct store_folder_info rinfo, linfo;
	struct plan_remote_msg *rm = NULL;
	struct plan_local_msg *lm = NULL;
	struct plan plan = {0};
	uint64_t since;
	bool told = false;
	int rc = -1;

	rules.use = use;
	if (open_side(rs, name, "remote", o->dry_run && rep->created_remote, &r.rf, &rinfo, err) < 0 ||
	    open_side(ls, name, "local", o->dry_run && rep->created_local, &r.lf, &linfo, err) < 0)
		goto out;
	if (folder_row(&r, name, &rinfo, &rules, &since, err) < 0)
		goto out;
	if (!o->dry_run && !r.partial)
		clean_leftovers(&r, NULL);
	if (since && r.rf && rs->ops->changes &&
	    engine_remote_changes(&r, since, &rinfo, &linfo, &told, err) < 0)
		goto out;
	if ((!told && r.rf && rs->ops->snapshot(r.rf, &r.rsnap, err) < 0) ||
	    (r.lf && !r.partial && ls->ops->snapshot(r.lf, &r.lsnap, err) < 0))
		goto out;
	/* With the server's changes told there was no intent to recover
	 * (changes_since), and the pairs are loaded. */
	if (r.folder_id && !o->dry_run && !told && recover_intents(&r, err) < 0)
		goto out;
	if (r.folder_id && !told && state_pairs_load(st, r.folder_id, &r.pairs, err) < 0)
		goto out;
	if (r.folder_id && !o->dry_run && !told && engine_recover_appends(&r, err) < 0)
		goto out;
	if (r.renumber)
		state_pairs_renumber(&r.pairs);
	if (engine_fill_pair_keys(&r, err) < 0 || engine_content_keys(&r, err) < 0)
		goto out;
	plan_inputs(&r, &rm, &lm);
	struct plan_input in = {r.pairs.pairs, r.pairs.count, rm, r.rsnap.count, lm, r.lsnap.count};
	rules.remote_total = r.remote_total;
	rules.local_total = r.local_total;
	if (plan_build(&in, &rules, &plan, err) < 0)
		goto out;
	engine_planned_counts(&plan, &rep->planned);
	engine_log_notes(name, &plan, o->dry_run);
	if (plan.status == PLAN_OK && plan_has_work(&plan))
		pool_wake(pool);
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
	if (exec_plan(&r, &plan, err) < 0)
		goto out;
	rc = finish_folder(&r, &rinfo, &linfo, &rules, err);
out:
	plan_free(&plan);
	free(rm);
	free(lm);
	engine_free_keys(&r);
	engine_free_pair_keys(&r);
	state_pairs_free(&r.pairs);
	store_snapshot_free(&r.rsnap);
	store_snapshot_free(&r.lsnap);
	if (r.rf)
		rs->ops->close_folder(r.rf);
	if (r.lf)
		ls->ops->close_folder(r.lf);
	return rc;
}

/* ---- the account --------------------------------------------------- */

static bool listed(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0 ||
		    (strcasecmp(name, "INBOX") == 0 && strcasecmp(names[i], "INBOX") == 0))
			return true;
	return false;
}

/*
 * Whether one side's copy of a known folder is exactly as the last sync
 * left it: the same messages as the state's pairs, with the last-synced
 * flags. Only such a copy may be removed when the other side removed the
 * folder; anything new or changed in it keeps it. Any doubt is "changed".
 */
static bool side_unchanged(struct store *s, struct state *st, const struct state_folder *sf, bool remote)
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
	if (remote && sf->uidvalidity && info.uidvalidity != sf->uidvalidity)
		goto out;
	for (size_t i = 0; i < pairs.count; i++)
		sides += remote ? pairs.pairs[i].uid != 0 : pairs.pairs[i].local_id != NULL;
	same = sides == snap.count;
	for (size_t i = 0; i < snap.count && same; i++) {
		const struct store_msg *m = &snap.msgs[i];
		const struct state_pair *p =
		    remote ? state_pairs_find_uid(&pairs, m->uid) : state_pairs_find_local(&pairs, m->name);
		/* A Maildir keeps no keywords but $Forwarded: compare the flag
		 * bits there, bits and keywords on the server. */
		same =
		    p && p->flags == m->flags && (!remote || state_keywords_equal(p->keywords, m->keywords));
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
		case STORE_USE_NONE:
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
		return 0;
	}
	if (s->ops->delete_folder(s, sf->remote_name, err) < 0)
		return -1;
	crash_point("folder removed");
	if (state_folder_delete(st, sf->id, err) < 0)
		return -1;
	log_info("%s: removed from %s: it was removed on the other side and was unchanged here",
	         sf->remote_name, where);
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
		if (selected(o, *p))
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

void engine_report(const struct sync_options *o, const struct sync_folder_report *rep)
{
	if (o->report)
		o->report(o->ctx, rep);
}

int engine_folder_failed(const struct sync_options *o, struct sync_result *res,
                         struct sync_folder_report *rep, struct error *err)
{
	rep->failed = true;
	res->folders_failed++;
	engine_report(o, rep);
	if (rep->err.scope < ERR_ACCOUNT)
		return 0;
	*err = rep->err;
	res->stop_reported = true;
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
		if (!selected(ro, (*only_r)[i]))
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

int sync_run(struct store *remote, struct store *local, struct state *st, const struct sync_options *opts,
             struct sync_result *res, struct error *err)
{
	struct sync_options oo = *opts;
	const struct sync_options *o = &oo;
	char **rnames = NULL, **lnames = NULL;
	struct state_folder *known = NULL;
	struct plan_known_folder *kf = NULL;
	struct plan_folders fp = {0};
	struct sync_pool *pool = NULL;
	const char **queue = NULL;          /* the folders to sync, in plan order */
	size_t *weights = NULL;             /* and the messages each is expected to hold */
	enum plan_special_use *uses = NULL; /* and its special use */
	size_t nr, nl, nk = 0, nkf = 0, queued = 0;
	struct sync_options ro; /* o with the folder arguments resolved */
	char **only = NULL;
	bool first_sync = false;
	bool server_changed = false;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (check_server(st, o, &server_changed, err) < 0 || state_folder_list(st, &known, &nk, err) < 0)
		goto out;
	oo.renumber = server_changed && o->dry_run;
	if (list_side(remote, st, "remote", false, &rnames, err) < 0 ||
	    list_side(local, st, "local", o->dry_run, &lnames, err) < 0)
		goto out;
	if (o->only_count) {
		if (only_folders(o, rnames, lnames, &only, &ro, err) < 0) {
			res->unknown_folder = true;
			goto out;
		}
		o = &ro;
	}
	selected_names(rnames, o, &nr);
	selected_names(lnames, o, &nl);
	/* Only the selected known folders: one left out of this run (by
	 * ACCOUNT:FOLDER or the folder patterns) is on neither side's list,
	 * and must not read as gone from both and be forgotten. */
	kf = xcalloc(nk + 1, sizeof(*kf));
	for (size_t i = 0; i < nk; i++) {
		bool on_remote, on_local;
		struct plan_known_folder *k = &kf[nkf];

		/* On another server no folder is known at this level: one it
		 * lacks is created there (and filled again), never read as
		 * removed. */
		if (server_changed || !selected(o, known[i].remote_name))
			continue;
		on_remote = listed(rnames, nr, known[i].remote_name);
		on_local = listed(lnames, nl, known[i].remote_name);
		nkf++;
		k->name = known[i].remote_name;
		/* Only a folder gone from one side can be removed from the
		 * other, and only with remove_folders: look no further else. */
		if (o->rules.remove_folders && on_remote != on_local) {
			if (on_remote)
				k->remote_unchanged = side_unchanged(remote, st, &known[i], true);
			else
				k->local_unchanged = side_unchanged(local, st, &known[i], false);
		}
	}
	struct plan_folders_input in = {
	    (const char *const *)rnames, nr, (const char *const *)lnames, nl, kf, nkf};
	plan_folders_build(&in, &o->rules, &fp);
	queue = xcalloc(fp.action_count + 1, sizeof(*queue));
	weights = xcalloc(fp.action_count + 1, sizeof(*weights));
	uses = xcalloc(fp.action_count + 1, sizeof(*uses));
	for (size_t i = 0; i < fp.note_count; i++)
		log_warn("%s", fp.notes[i]);
	for (size_t i = 0; i < fp.action_count; i++) {
		const struct plan_folder_action *a = &fp.actions[i];
		struct sync_folder_report rep = {.name = a->name, .dry_run = o->dry_run};
		struct store *side = a->kind == PLAN_FOLDER_CREATE_REMOTE ? remote : local;

		error_clear(&rep.err);
		switch (a->kind) {
		case PLAN_FOLDER_CREATE_REMOTE:
		case PLAN_FOLDER_CREATE_LOCAL:
			if (o->dry_run) {
				/* Planned here against an empty side: its SYNC
				 * cannot open what does not exist yet. */
				while (i + 1 < fp.action_count &&
				       strcmp(fp.actions[i + 1].name, a->name) == 0)
					i++;
				rep.created_remote = side == remote;
				rep.created_local = side == local;
				if (engine_sync_folder(remote, local, st, o, a->name,
				                       folder_use(remote, local, a->name), NULL, &rep,
				                       &rep.err) == 0) {
					res->folders_synced++;
					engine_report(o, &rep);
				} else if (engine_folder_failed(o, res, &rep, err) < 0) {
					goto out;
				}
				continue;
			}
			if (side->ops->create_folder(side, a->name, &rep.err) < 0) {
				while (i + 1 < fp.action_count &&
				       strcmp(fp.actions[i + 1].name, a->name) == 0)
					i++;
				if (engine_folder_failed(o, res, &rep, err) < 0)
					goto out;
				continue;
			}
			log_info("%s: created on the %s side", a->name, side == remote ? "remote" : "local");
			continue;
		case PLAN_FOLDER_SYNC: {
			const struct state_folder *sf = known_folder(known, nk, a->name);
			if (!o->renumber && unchanged(remote, local, sf, &o->rules)) {
				log_debug("%s: unchanged on both sides since the last sync", a->name);
				res->folders_synced++;
				engine_report(o, &rep);
				continue;
			}
			weights[queued] = folder_weight(remote, sf, a->name);
			uses[queued] = folder_use(remote, local, a->name);
			queue[queued++] = a->name;
			/* A folder new to the state has its messages to copy:
			 * the workers are worth their connections at once. */
			first_sync |= a->first_sync;
			continue;
		}
		case PLAN_FOLDER_FORGET:
			if (!o->dry_run)
				for (size_t k = 0; k < nk; k++)
					if (strcmp(known[k].remote_name, a->name) == 0 &&
					    state_folder_delete(st, known[k].id, &rep.err) < 0)
						log_warn("%s: %s", a->name, rep.err.text);
			continue;
		case PLAN_FOLDER_DELETE_REMOTE:
		case PLAN_FOLDER_DELETE_LOCAL:
			for (size_t k = 0; k < nk; k++) {
				bool remote_side = a->kind == PLAN_FOLDER_DELETE_REMOTE;
				if (strcmp(known[k].remote_name, a->name) != 0)
					continue;
				if (remove_folder(remote_side ? remote : local, st, &known[k], remote_side, o,
				                  &rep.err) < 0) {
					if (engine_folder_failed(o, res, &rep, err) < 0)
						goto out;
				}
			}
			continue;
		}
	}
	pool = pool_start(o, pool_workers_for(weights, queued), first_sync);
	rc = pool_run(pool, o, remote, local, st, queue, weights, uses, queued, res, err);
	pool = NULL;
out:
	pool_abandon(pool);
	free(queue);
	free(weights);
	free(uses);
	plan_folders_free(&fp);
	free(kf);
	state_folder_list_free(known, nk);
	store_names_free(rnames);
	store_names_free(lnames);
	store_names_free(only);
	return rc;
}
