/*
 * What a killed run, or a state written by an older twinbox, left
 * incomplete in a folder's pairs, made whole before planning: pairs
 * without a content key get the key of their local file, so that a
 * server that renumbers the folder later (UIDVALIDITY) has every
 * message matched again instead of copied twice; appends of a killed
 * run are found on the server by content key: those whose local file
 * went away since, and those that recorded the flags they were appended
 * with (the pair's base, so that a flag changed on either side since is
 * a change, not a difference merged by "set wins").
 */
#include <stdlib.h>
#include <string.h>

#include "engine_p.h"
#include "twinbox/util/crash.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* Write the keys filled in to the state, one transaction. */
static int record_keys(struct folder_run *r, const size_t *pair_ix, const size_t *want, size_t n,
                       struct error *err)
{
	size_t written = 0;

	if (state_begin(r->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct state_pair *p = &r->pairs.pairs[pair_ix[i]];
		if (!r->pair_keys[want[i]])
			continue;
		if (state_pair_update(r->st, p, err) < 0) {
			state_rollback(r->st);
			return -1;
		}
		written++;
	}
	if (state_commit(r->st, err) < 0) {
		state_rollback(r->st);
		return -1;
	}
	if (written)
		crash_point("content keys of pairs recorded");
	return 0;
}

int engine_fill_pair_keys(struct folder_run *r, struct error *err)
{
	size_t *pair_ix = NULL, *want = NULL, n = 0;
	struct error kerr;
	int rc = 0;

	for (size_t i = 0; i < r->pairs.count; i++) {
		const struct state_pair *p = &r->pairs.pairs[i];
		size_t at;

		if (p->content_key || !run_msg(r, SIDE_B, p->side[SIDE_B], &at))
			continue;
		if (!want) {
			pair_ix = xmalloc(r->pairs.count * sizeof(*pair_ix));
			want = xmalloc(r->pairs.count * sizeof(*want));
		}
		pair_ix[n] = i;
		want[n++] = at;
	}
	if (n == 0)
		return 0;
	if (engine_keys_of(r->store[SIDE_B], r->folder[SIDE_B], &r->snap[SIDE_B], want, n, &r->pair_keys,
	                   &kerr) < 0) {
		/* A file gone or unreadable meanwhile: the others keep their
		 * keys, and that one is tried again next run. */
		error_prefix(&kerr, "reading message headers for the content keys of known messages");
		if (kerr.scope > ERR_MESSAGE) {
			*err = kerr;
			rc = -1;
			goto out;
		}
		log_warn("%s: %s", r->rep->name, kerr.text);
	}
	for (size_t i = 0; i < n && r->pair_keys; i++)
		r->pairs.pairs[pair_ix[i]].content_key = r->pair_keys[want[i]];
	if (!r->o->dry_run && r->pair_keys)
		rc = record_keys(r, pair_ix, want, n, err);
out:
	free(pair_ix);
	free(want);
	return rc;
}

void engine_free_pair_keys(struct folder_run *r)
{
	for (size_t i = 0; r->pair_keys && i < r->snap[SIDE_B].count; i++)
		free(r->pair_keys[i]);
	free(r->pair_keys);
	r->pair_keys = NULL;
}

/* ---- appends of a killed run --------------------------------------- */

bool engine_append_orphaned(const struct folder_run *r, const struct state_intent *in)
{
	return state_intent_is(in, STATE_INTENT_COPY, SIDE_A) && in->msg[SIDE_B].name && in->content_key &&
	       !run_msg(r, SIDE_B, in->msg[SIDE_B], NULL);
}

bool engine_append_pending(const struct folder_run *r, const struct state_intent *in)
{
	unsigned bits;
	char *keywords = NULL;
	bool based;

	if (!state_intent_is(in, STATE_INTENT_COPY, SIDE_A) || !in->msg[SIDE_B].name || !in->content_key)
		return false;
	if (engine_append_orphaned(r, in))
		return true;
	based = state_intent_flags_parse(in->remote, &bits, &keywords);
	free(keywords);
	return based;
}

/* The remote message no pair knows (and not yet claimed) whose key is
 * `key`; its index in r->snap[SIDE_A], or r->snap[SIDE_A].count. */
static size_t find_copy(const struct folder_run *r, char **keys, const char *key, bool *claimed)
{
	for (size_t i = r->snap[SIDE_A].count; keys && i-- > 0;)
		if (keys[i] && !claimed[i] && strcmp(keys[i], key) == 0)
			return i;
	return r->snap[SIDE_A].count;
}

/* Resolve each pending append of `set`: the pair of its server copy
 * (with the flags it was appended with as the last-synced ones, where
 * its local file is still there), or nothing. *moved_r counts the pairs
 * whose file went away, *found_r the others. */
static int resolve_appends(struct folder_run *r, const struct state_intents *set, char **keys,
                           size_t *moved_r, size_t *found_r, struct error *err)
{
	bool *claimed = xcalloc(r->snap[SIDE_A].count + 1, sizeof(*claimed));
	int rc = 0;

	for (size_t i = 0; i < set->count && rc == 0; i++) {
		const struct state_intent *in = &set->intents[i];
		bool orphan = engine_append_orphaned(r, in);
		size_t at;

		if (!engine_append_pending(r, in))
			continue;
		at = find_copy(r, keys, in->content_key, claimed);
		if (at < r->snap[SIDE_A].count) {
			const struct store_msg *rm = &r->snap[SIDE_A].msgs[at];
			unsigned flags = rm->flags;
			char *keywords = NULL;
			struct state_pair p = {.id = in->pair_id,
			                       .folder_id = r->folder_id,
			                       .side = {{rm->uid, NULL}, {0, in->msg[SIDE_B].name}},
			                       .size = rm->size,
			                       .content_key = in->content_key};

			if (!orphan)
				state_intent_flags_parse(in->remote, &flags, &keywords);
			p.flags = flags;
			p.keywords = orphan ? rm->keywords : keywords;
			claimed[at] = true;
			rc = state_intent_resolve_pair(r->st, in->id, &p, err);
			free(keywords);
			if (rc == 0)
				*(orphan ? moved_r : found_r) += 1;
		} else {
			rc = state_intent_resolve(r->st, in->id, err);
		}
	}
	free(claimed);
	return rc;
}

int engine_recover_appends(struct folder_run *r, struct error *err)
{
	struct state_intents set = {0};
	size_t *want = NULL, n = 0, pending = 0, moved = 0, found = 0;
	char **keys = NULL;
	int rc = -1;

	if (state_intent_list(r->st, r->folder_id, &set, err) < 0)
		return -1;
	for (size_t i = 0; i < set.count; i++)
		pending += engine_append_pending(r, &set.intents[i]);
	if (pending == 0) {
		state_intents_free(&set);
		return 0;
	}
	want = xmalloc((r->snap[SIDE_A].count + 1) * sizeof(*want));
	for (size_t i = 0; i < r->snap[SIDE_A].count; i++)
		if (!state_pairs_find(&r->pairs, SIDE_A,
		                      (struct store_id){r->snap[SIDE_A].msgs[i].uid, NULL}))
			want[n++] = i;
	if (engine_keys_of(r->store[SIDE_A], r->folder[SIDE_A], &r->snap[SIDE_A], want, n, &keys, err) < 0) {
		error_prefix(err, "looking on the server for messages an interrupted run appended");
		goto out;
	}
	if (resolve_appends(r, &set, keys, &moved, &found, err) < 0)
		goto out;
	crash_point("appends of an interrupted run looked for on the server");
	if (moved)
		log_info("%s: %zu message%s appended by an interrupted run and since removed from this "
		         "folder locally; carrying that over to the server",
		         r->rep->name, moved, moved == 1 ? "" : "s");
	if (found)
		log_debug("%s: %zu message%s appended by an interrupted run found on the server",
		          r->rep->name, found, found == 1 ? "" : "s");
	rc = 0;
	if (moved || found) {
		/* state_pairs_load replaces a set without freeing it */
		state_pairs_free(&r->pairs);
		rc = state_pairs_load(r->st, r->folder_id, &r->pairs, err);
	}
out:
	for (size_t i = 0; keys && i < r->snap[SIDE_A].count; i++)
		free(keys[i]);
	free(keys);
	free(want);
	state_intents_free(&set);
	return rc;
}
