/*
 * Matching by content key: which messages that have no partner on the
 * other side are in fact the same message as one there.
 *
 * Candidates are messages present on one side whose partner on the other
 * side is missing: new messages (no pair), and messages of pairs whose
 * other side is gone or was never there. One sort by (key, side, pairs
 * before new messages, id) brings each key's candidates together; each
 * key is then matched count-wise, never two into one:
 *
 *   1. a new remote message re-attaches to a pair that has only a local
 *      message left (the UID changed: UIDVALIDITY, a server that
 *      renumbered, the message put back), and the mirror image (a Maildir
 *      file renamed to a new unique name);
 *   2. new messages left on both sides pair up with each other.
 *
 * Pairs go first because keeping a pair keeps its history and needs
 * neither a deletion nor a copy. Two half pairs are never merged with
 * each other: that would need one of them forgotten, for little gain.
 */
#include <stdlib.h>
#include <string.h>

#include "plan_p.h"
#include "twinbox/util/xmalloc.h"

enum { SIDE_REMOTE = 0, SIDE_LOCAL = 1 };

struct cand {
	const char *key;
	unsigned char side;
	unsigned char is_new; /* pairs (0) sort before new messages (1) */
	int64_t order;        /* pair id, or uid of a new remote message */
	const char *order_id; /* local id of a new local message */
	size_t ix;            /* pair index or message index */
};

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	if (x->side != y->side)
		return x->side < y->side ? -1 : 1;
	if (x->is_new != y->is_new)
		return x->is_new < y->is_new ? -1 : 1;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	if (x->order_id && y->order_id)
		return strcmp(x->order_id, y->order_id);
	return 0;
}

static void push(struct cand **v, size_t *n, size_t *cap, struct cand c)
{
	if (!c.key)
		return;
	*v = xgrow(*v, cap, *n + 1, sizeof(**v));
	(*v)[(*n)++] = c;
}

static size_t collect(const struct plan_ctx *ctx, struct cand **v_r)
{
	const struct plan_input *in = ctx->in;
	struct cand *v = NULL;
	size_t n = 0, cap = 0;

	for (size_t p = 0; p < in->pair_count; p++) {
		const struct state_pair *pair = &in->pairs[p];
		size_t r = ctx->pair_r[p], l = ctx->pair_l[p];

		if (r != PLAN_NONE && l == PLAN_NONE) {
			const char *key = in->remote[r].content_key;
			push(&v, &n, &cap,
			     (struct cand){key ? key : pair->content_key, SIDE_REMOTE, 0, pair->id, NULL, p});
		} else if (l != PLAN_NONE && r == PLAN_NONE) {
			const char *key = in->local[l].content_key;
			push(&v, &n, &cap,
			     (struct cand){key ? key : pair->content_key, SIDE_LOCAL, 0, pair->id, NULL, p});
		}
	}
	for (size_t i = 0; i < in->remote_count; i++)
		if (ctx->remote_pair[i] == PLAN_NONE)
			push(&v, &n, &cap,
			     (struct cand){in->remote[i].content_key, SIDE_REMOTE, 1, in->remote[i].uid, NULL,
			                   i});
	for (size_t i = 0; i < in->local_count; i++)
		if (ctx->local_pair[i] == PLAN_NONE)
			push(&v, &n, &cap,
			     (struct cand){in->local[i].content_key, SIDE_LOCAL, 1, 0, in->local[i].local_id,
			                   i});
	*v_r = v;
	return n;
}

/* The bounds of one kind of candidate inside a key's group. */
struct range {
	size_t next, end;
};

static struct range take(const struct cand *v, size_t *i, size_t end, unsigned side, unsigned is_new)
{
	struct range r = {*i, *i};

	while (r.end < end && v[r.end].side == side && v[r.end].is_new == is_new)
		r.end++;
	*i = r.end;
	return r;
}

static void match_group(struct plan_ctx *ctx, const struct cand *v, size_t start, size_t end)
{
	size_t i = start;
	struct range rp = take(v, &i, end, SIDE_REMOTE, 0);
	struct range rn = take(v, &i, end, SIDE_REMOTE, 1);
	struct range lp = take(v, &i, end, SIDE_LOCAL, 0);
	struct range ln = take(v, &i, end, SIDE_LOCAL, 1);

	for (; rn.next < rn.end && lp.next < lp.end; rn.next++, lp.next++) {
		size_t p = v[lp.next].ix, r = v[rn.next].ix;

		ctx->attach_r[p] = r;
		ctx->remote_pair[r] = p;
	}
	for (; ln.next < ln.end && rp.next < rp.end; ln.next++, rp.next++) {
		size_t p = v[rp.next].ix, l = v[ln.next].ix;

		ctx->attach_l[p] = l;
		ctx->local_pair[l] = p;
	}
	for (; rn.next < rn.end && ln.next < ln.end; rn.next++, ln.next++) {
		ctx->remote_match[v[rn.next].ix] = v[ln.next].ix;
		ctx->local_matched[v[ln.next].ix] = true;
	}
}

void plan_match(struct plan_ctx *ctx)
{
	struct cand *v;
	size_t n = collect(ctx, &v);

	if (n)
		qsort(v, n, sizeof(*v), cand_cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && strcmp(v[j].key, v[i].key) == 0)
			j++;
		/* A key seen on one side only matches nothing. */
		if (v[i].side != v[j - 1].side)
			match_group(ctx, v, i, j);
		i = j;
	}
	free(v);
}
