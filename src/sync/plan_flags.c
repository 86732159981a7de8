/*
 * Merging the flags of one message. System flags are bits; keywords are
 * treated as more bits, one per keyword, found by merging the three
 * canonical keyword lists (remote, local, base). Both go through the
 * same per-flag decision, decide().
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plan_p.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

enum { IN_REMOTE = 1, IN_LOCAL = 2, IN_BASE = 4 };

struct decision {
	bool remote, local; /* the value each side ends up with */
	bool record;        /* what the pair records now (no base) */
	bool synced;        /* the last-synced value once both sides are done */
};

/*
 * One flag. With a base, the side that changed wins; without one, the set
 * wins (`clear_wins` false) or the clear wins (\Deleted). A side the
 * direction keeps unchanged keeps its value. Where the sides end up
 * different, the last-synced value stays what it was (with a base) or
 * what recording now gives: in both cases the next run sees the same
 * side as "changed" again and decides the same way, so plans are stable.
 */
static struct decision decide(bool r, bool l, bool b, bool has_base, bool clear_wins, bool allow_remote,
                              bool allow_local)
{
	struct decision d;
	bool want;

	if (has_base) {
		d.record = b;
		want = r != b ? r : l;
	} else {
		d.record = clear_wins ? r || l : r && l;
		want = clear_wins ? r && l : r || l;
	}
	d.remote = allow_remote ? want : r;
	d.local = allow_local ? want : l;
	d.synced = d.remote == d.local ? d.remote : d.record;
	return d;
}

bool plan_change_empty(const struct plan_flag_change *c)
{
	return !c->add && !c->remove && !c->add_keywords && !c->remove_keywords;
}

bool plan_flags_equal(const struct plan_flags *a, const struct plan_flags *b)
{
	return a->bits == b->bits && mail_keywords_equal(a->keywords, b->keywords);
}

bool plan_flags_changed(const struct plan_flags *cur, const struct plan_flags *base)
{
	unsigned diff = cur->bits ^ base->bits;

	if (!mail_keywords_equal(cur->keywords, base->keywords))
		return true;
	/* Setting \Deleted is on the way to the deletion, not against it. */
	if (diff == MAIL_FLAG_DELETED && (cur->bits & MAIL_FLAG_DELETED))
		return false;
	return diff != 0;
}

/* ---- keywords ---- */

struct kw {
	const char *s;
	size_t len;
	unsigned in; /* IN_* */
};

struct kw_list {
	struct kw *v;
	size_t n, cap;
};

static void kw_split(struct kw_list *list, const char *text, unsigned in)
{
	const char *p = text ? text : "";

	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			return;
		const char *start = p;
		while (*p && *p != ' ')
			p++;
		list->v = xgrow(list->v, &list->cap, list->n + 1, sizeof(*list->v));
		list->v[list->n++] = (struct kw){start, (size_t)(p - start), in};
	}
}

/* The canonical order of flags.h. */
static int kw_cmp(const void *a, const void *b)
{
	const struct kw *x = a, *y = b;

	return mail_keyword_cmp(x->s, x->len, y->s, y->len);
}

static void kw_out(struct buf *b, const struct kw *k)
{
	if (b->len)
		buf_append_byte(b, ' ');
	buf_append(b, k->s, k->len);
}

static const char *kw_finish(struct plan_pool *pool, struct buf *b)
{
	const char *s = b->len ? plan_pool_dupn(pool, b->data, b->len) : NULL;

	buf_free(b);
	return s;
}

enum { OUT_ADD_R, OUT_DEL_R, OUT_ADD_L, OUT_DEL_L, OUT_RECORD, OUT_SYNCED, OUT_COUNT };

static void merge_keywords(struct plan_pool *pool, const struct plan_flags *r, const struct plan_flags *l,
                           const struct plan_flags *base, bool allow_remote, bool allow_local,
                           struct plan_merge *m)
{
	struct kw_list list = {NULL, 0, 0};
	struct buf out[OUT_COUNT];

	for (int i = 0; i < OUT_COUNT; i++)
		buf_init(&out[i], 0);
	kw_split(&list, r->keywords, IN_REMOTE);
	kw_split(&list, l->keywords, IN_LOCAL);
	if (base)
		kw_split(&list, base->keywords, IN_BASE);
	if (list.n)
		qsort(list.v, list.n, sizeof(*list.v), kw_cmp);

	for (size_t i = 0; i < list.n;) {
		/* One keyword in any spelling; the first (by bytes) names it,
		 * as the canonical form does. */
		const struct kw *k = &list.v[i];
		unsigned in = 0;
		size_t j = i;

		while (j < list.n && list.v[j].len == k->len && strncasecmp(list.v[j].s, k->s, k->len) == 0)
			in |= list.v[j++].in;
		i = j;

		bool rr = in & IN_REMOTE, ll = in & IN_LOCAL;
		struct decision d =
		    decide(rr, ll, in & IN_BASE, base != NULL, false, allow_remote, allow_local);

		if (d.remote && !rr)
			kw_out(&out[OUT_ADD_R], k);
		if (!d.remote && rr)
			kw_out(&out[OUT_DEL_R], k);
		if (d.local && !ll)
			kw_out(&out[OUT_ADD_L], k);
		if (!d.local && ll)
			kw_out(&out[OUT_DEL_L], k);
		if (d.record)
			kw_out(&out[OUT_RECORD], k);
		if (d.synced)
			kw_out(&out[OUT_SYNCED], k);
	}
	free(list.v);
	m->to_remote.add_keywords = kw_finish(pool, &out[OUT_ADD_R]);
	m->to_remote.remove_keywords = kw_finish(pool, &out[OUT_DEL_R]);
	m->to_local.add_keywords = kw_finish(pool, &out[OUT_ADD_L]);
	m->to_local.remove_keywords = kw_finish(pool, &out[OUT_DEL_L]);
	m->record.keywords = kw_finish(pool, &out[OUT_RECORD]);
	m->synced.keywords = kw_finish(pool, &out[OUT_SYNCED]);
}

void plan_merge_flags(struct plan_pool *pool, const struct plan_flags *r, const struct plan_flags *l,
                      const struct plan_flags *base, bool allow_remote, bool allow_local,
                      struct plan_merge *m)
{
	unsigned target_r = 0, target_l = 0;

	memset(m, 0, sizeof(*m));
	m->differed = !plan_flags_equal(r, l);
	for (unsigned bit = 1; bit & MAIL_FLAGS_ALL; bit <<= 1) {
		struct decision d = decide(r->bits & bit, l->bits & bit, base && (base->bits & bit),
		                           base != NULL, bit == MAIL_FLAG_DELETED, allow_remote, allow_local);

		target_r |= d.remote ? bit : 0;
		target_l |= d.local ? bit : 0;
		m->record.bits |= d.record ? bit : 0;
		m->synced.bits |= d.synced ? bit : 0;
	}
	m->to_remote.add = target_r & ~r->bits;
	m->to_remote.remove = r->bits & ~target_r;
	m->to_local.add = target_l & ~l->bits;
	m->to_local.remove = l->bits & ~target_l;

	/* Most messages have no keywords, or the same on every side: then
	 * nothing needs the keyword merge or a new string. */
	bool same_kw = mail_keywords_equal(r->keywords, l->keywords) &&
	               (!base || mail_keywords_equal(r->keywords, base->keywords));
	if (same_kw) {
		m->record.keywords = r->keywords;
		m->synced.keywords = r->keywords;
	} else {
		merge_keywords(pool, r, l, base, allow_remote, allow_local, m);
	}
}

const char *plan_flags_text(struct plan_pool *pool, const struct plan_flags *f)
{
	char *s = mail_flags_format(f->bits, f->keywords);
	const char *p = plan_pool_dup(pool, *s ? s : "(none)");

	free(s);
	return p;
}
