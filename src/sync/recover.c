/*
 * What a killed run, or a state written by an older twinbox, left
 * incomplete in a folder's pairs, made whole before planning: pairs
 * without a content key get the key of their local file, so that a
 * server that renumbers the folder later (UIDVALIDITY) has every
 * message matched again instead of copied twice.
 */
#include <stdlib.h>

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

		if (p->content_key || !p->local_id || !run_local_msg(r, p->local_id, &at))
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
	if (engine_local_keys(r, want, n, &r->pair_keys, &kerr) < 0) {
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
	for (size_t i = 0; r->pair_keys && i < r->lsnap.count; i++)
		free(r->pair_keys[i]);
	free(r->pair_keys);
	r->pair_keys = NULL;
}
