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
 *   1. a new message of one side re-attaches to a pair that has only the
 *      other side's message left (its id changed: UIDVALIDITY, a server
 *      that renumbered, the message put back, a Maildir file renamed to
 *      a new unique name);
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

struct cand {
	const char *key;
	unsigned char side;
	unsigned char is_new; /* pairs (0) sort before new messages (1) */
	uint32_t uid;         /* a new message's id: uid ... */
	int64_t pair;         /* pair id (pairs) */
	const char *name;     /* ... or name */
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
	if (x->pair != y->pair)
		return x->pair < y->pair ? -1 : 1;
	return store_id_cmp((struct store_id){x->uid, x->name}, (struct store_id){y->uid, y->name});
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

		for (int s = 0; s < SIDES; s++) {
			size_t m = ctx->pair_msg[s][p];

			if (m == PLAN_NONE || ctx->pair_msg[side_other((enum side)s)][p] != PLAN_NONE)
				continue;
			const char *key = in->msgs[s][m].content_key;
			push(&v, &n, &cap,
			     (struct cand){key ? key : pair->content_key, (unsigned char)s, 0, 0, pair->id,
			                   NULL, p});
		}
	}
	for (int s = 0; s < SIDES; s++)
		for (size_t i = 0; i < in->count[s]; i++)
			if (ctx->msg_pair[s][i] == PLAN_NONE)
				push(&v, &n, &cap,
				     (struct cand){in->msgs[s][i].content_key, (unsigned char)s, 1,
				                   in->msgs[s][i].id.uid, 0, in->msgs[s][i].id.name, i});
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
	struct range pairs[SIDES], news[SIDES];
	size_t i = start;

	for (int s = 0; s < SIDES; s++) {
		pairs[s] = take(v, &i, end, (unsigned)s, 0);
		news[s] = take(v, &i, end, (unsigned)s, 1);
	}
	/* New messages of side s re-attach to pairs left with the other
	 * side only. */
	for (int s = 0; s < SIDES; s++) {
		struct range *rn = &news[s], *op = &pairs[side_other((enum side)s)];

		for (; rn->next < rn->end && op->next < op->end; rn->next++, op->next++) {
			size_t p = v[op->next].ix, m = v[rn->next].ix;

			ctx->attach[s][p] = (uint32_t)m;
			ctx->msg_pair[s][m] = (uint32_t)p;
		}
	}
	for (; news[SIDE_A].next < news[SIDE_A].end && news[SIDE_B].next < news[SIDE_B].end;
	     news[SIDE_A].next++, news[SIDE_B].next++) {
		size_t a = v[news[SIDE_A].next].ix, b = v[news[SIDE_B].next].ix;

		ctx->match[SIDE_A][a] = (uint32_t)b;
		ctx->match[SIDE_B][b] = (uint32_t)a;
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
