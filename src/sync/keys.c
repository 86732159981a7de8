/*
 * Content keys (store/content_key.h) for the messages of a folder run
 * that no pair knows, so that the planner can match copies the state
 * does not record (a first sync, a lost state, a renumbered folder).
 */
#include <stdlib.h>
#include <string.h>

#include "engine_p.h"
#include "twinbox/store/content_key.h"
#include "twinbox/util/xmalloc.h"

struct key_sink {
	char **keys;
	const struct store_snapshot *snap;
	bool by_uid;
	struct content_key_builder b;
	size_t index;
	uint64_t size;
	bool active;
};

static int key_begin(void *ctx, const struct store_msg *msg, struct error *err)
{
	struct key_sink *k = ctx;
	size_t lo = 0, hi = k->snap->count;

	(void)err;
	k->active = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct store_msg *m = &k->snap->msgs[mid];
		int c = k->by_uid ? (m->uid > msg->uid) - (m->uid < msg->uid) : strcmp(m->name, msg->name);
		if (c == 0) {
			k->index = mid;
			k->active = true;
			break;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	k->size = msg->size;
	content_key_init(&k->b);
	return 0;
}

static int key_chunk(void *ctx, const void *data, size_t len, struct error *err)
{
	struct key_sink *k = ctx;

	(void)err;
	content_key_feed(&k->b, data, len);
	return 0;
}

static int key_end(void *ctx, struct error *err)
{
	struct key_sink *k = ctx;
	char *key = content_key_finish(&k->b, k->size);

	(void)err;
	content_key_free(&k->b);
	if (k->active && !k->keys[k->index])
		k->keys[k->index] = key;
	else
		free(key);
	return 0;
}

/* Content keys of the messages at `want` (indexes into the snapshot),
 * into *keys_r, made parallel to the snapshot (NULL while no message of
 * the folder needs a key: a resync seldom does). */
static int compute_keys(struct store *s, struct store_folder *f, const struct store_snapshot *snap,
                        char ***keys_r, const size_t *want, size_t n, struct error *err)
{
	struct key_sink k = {.snap = snap, .by_uid = s->ops->key == STORE_KEY_UID};
	struct store_sink sink = {&k, key_begin, key_chunk, key_end};
	struct store_msg *msgs;
	int rc;

	if (n == 0)
		return 0;
	k.keys = *keys_r = xcalloc(snap->count + 1, sizeof(char *));
	msgs = xmalloc(n * sizeof(*msgs));
	for (size_t i = 0; i < n; i++)
		msgs[i] = snap->msgs[want[i]];
	rc = s->ops->fetch_headers(f, msgs, n, &sink, err);
	free(msgs);
	return rc;
}

int engine_keys_of(struct store *s, struct store_folder *f, const struct store_snapshot *snap,
                   const size_t *want, size_t n, char ***keys_r, struct error *err)
{
	*keys_r = NULL;
	return compute_keys(s, f, snap, keys_r, want, n, err);
}

/* Whether pair `p` lost its message on side `s` (no id there, or one
 * the side no longer lists) while its message on the other side is
 * still there: a new message on side `s` may be the same one again. */
static bool lost_side(const struct folder_run *r, const struct state_pair *p, enum side s)
{
	enum side o = side_other(s);

	return run_msg(r, o, p->side[o], NULL) && !run_msg(r, s, p->side[s], NULL);
}

/*
 * Keys are needed where the planner may match messages no pair knows:
 * on one side's unpaired messages when the other side has unpaired
 * messages, or when a pair lost its partner on that side (re-attach: a
 * UID changed, a message another device put back, a renamed file). A
 * pair that may be re-attached but has no key of its own gets the key
 * of the message it still has.
 */
int engine_content_keys(struct folder_run *r, struct error *err)
{
	size_t *rwant = xmalloc((r->snap[SIDE_A].count + 1) * sizeof(size_t));
	size_t *lwant = xmalloc((r->snap[SIDE_B].count + 1) * sizeof(size_t));
	size_t nr = 0, nl = 0, nr_new, nl_new;
	bool pair_without_remote = false, pair_without_local = false;
	int rc = 0;

	for (size_t i = 0; i < r->snap[SIDE_A].count; i++)
		if (!state_pairs_find(&r->pairs, SIDE_A,
		                      (struct store_id){r->snap[SIDE_A].msgs[i].uid, NULL}))
			rwant[nr++] = i;
	for (size_t i = 0; i < r->snap[SIDE_B].count; i++)
		if (!state_pairs_find(&r->pairs, SIDE_B, (struct store_id){0, r->snap[SIDE_B].msgs[i].name}))
			lwant[nl++] = i;
	nr_new = nr;
	nl_new = nl;
	for (size_t i = 0; i < r->pairs.count; i++) {
		const struct state_pair *p = &r->pairs.pairs[i];
		size_t at;

		if (lost_side(r, p, SIDE_A)) {
			pair_without_remote = true;
			if (!p->content_key && nr_new && run_msg(r, SIDE_B, p->side[SIDE_B], &at))
				lwant[nl++] = at;
		} else if (lost_side(r, p, SIDE_B)) {
			pair_without_local = true;
			if (!p->content_key && nl_new && run_msg(r, SIDE_A, p->side[SIDE_A], &at))
				rwant[nr++] = at;
		}
	}
	if (nr && (nl_new || pair_without_remote || nr > nr_new))
		rc = compute_keys(r->store[SIDE_A], r->folder[SIDE_A], &r->snap[SIDE_A], &r->keys[SIDE_A],
		                  rwant, nr, err);
	if (rc == 0 && nl && (nr_new || pair_without_local || nl > nl_new))
		rc = compute_keys(r->store[SIDE_B], r->folder[SIDE_B], &r->snap[SIDE_B], &r->keys[SIDE_B],
		                  lwant, nl, err);
	if (rc < 0)
		error_prefix(err, "reading message headers to match messages");
	free(rwant);
	free(lwant);
	return rc;
}

void engine_free_keys(struct folder_run *r)
{
	char **sides[2] = {r->keys[SIDE_A], r->keys[SIDE_B]};
	size_t counts[2] = {r->snap[SIDE_A].count, r->snap[SIDE_B].count};

	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; sides[k] && i < counts[k]; i++)
			free(sides[k][i]);
		free(sides[k]);
	}
	r->keys[SIDE_A] = r->keys[SIDE_B] = NULL;
}
