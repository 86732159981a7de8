/*
 * Merging the flags of one message. System flags are bits; keywords are
 * treated as more bits, one per keyword, found by merging the three
 * canonical keyword lists (side A, side B, base). Both go through the
 * same per-flag decision, decide().
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plan_p.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

/* Where a keyword was found: IN_SIDE(s) on side s, or in the base. */
#define IN_SIDE(s) (1u << (s))
enum { IN_BASE = 4 };

struct decision {
	bool side[SIDES]; /* the value each side ends up with */
	bool record;      /* what the pair records now (no base) */
	bool synced;      /* the last-synced value once both sides are done */
};

/*
 * One flag, `v[s]` on side s, `b` in the base. With a base, the side that
 * changed wins; without one, the set wins (`clear_wins` false) or the
 * clear wins (\Deleted). A side the direction keeps unchanged keeps its
 * value. Where the sides end up different, the last-synced value stays
 * what it was (with a base) or what recording now gives: in both cases
 * the next run sees the same side as "changed" again and decides the
 * same way, so plans are stable.
 */
static struct decision decide(const bool v[SIDES], bool b, bool has_base, bool clear_wins,
                              const bool allow[SIDES])
{
	struct decision d;
	bool want;

	if (has_base) {
		d.record = b;
		/* Both changed means both changed it the same way. */
		want = v[SIDE_A] != b ? v[SIDE_A] : v[SIDE_B];
	} else {
		d.record = clear_wins ? v[SIDE_A] || v[SIDE_B] : v[SIDE_A] && v[SIDE_B];
		want = clear_wins ? v[SIDE_A] && v[SIDE_B] : v[SIDE_A] || v[SIDE_B];
	}
	for (int s = 0; s < SIDES; s++)
		d.side[s] = allow[s] ? want : v[s];
	d.synced = d.side[SIDE_A] == d.side[SIDE_B] ? d.side[SIDE_A] : d.record;
	return d;
}

/*
 * The same where a side cannot keep the flag (`kept`, store_keep): that
 * side has no say and gets no change, whatever it shows (a flag kept
 * for the session only); the other side keeps its value. The pair
 * records the flag as absent, what both sides hold for good: a copy
 * made without it then reads as unchanged at every later run (nothing
 * is tried again), and a side that learns to keep it (a server that now
 * offers "\*") gets it as the other side's change. Recording it as
 * present instead would read, on that day, as the user having cleared
 * it there, and clear it on the other side.
 */
static struct decision decide_kept(const bool v[SIDES], bool b, bool has_base, bool clear_wins,
                                   const bool allow[SIDES], const bool kept[SIDES])
{
	struct decision d;

	if (kept[SIDE_A] && kept[SIDE_B])
		return decide(v, b, has_base, clear_wins, allow);
	for (int s = 0; s < SIDES; s++)
		d.side[s] = v[s];
	d.record = d.synced = false;
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

/* The keyword lists merge_keywords() writes: per side what to add and
 * what to remove, then the two recorded ones. */
#define OUT_ADD(s) (2 * (s))
#define OUT_DEL(s) (2 * (s) + 1)
enum { OUT_RECORD = 2 * SIDES, OUT_SYNCED, OUT_COUNT };

static void merge_keywords(struct plan_pool *pool, const struct plan_flags f[SIDES],
                           const struct plan_flags *base, const bool allow[SIDES],
                           const struct store_keep keep[SIDES], struct plan_merge *m)
{
	struct kw_list list = {NULL, 0, 0};
	struct buf out[OUT_COUNT];

	for (int i = 0; i < OUT_COUNT; i++)
		buf_init(&out[i], 0);
	for (int s = 0; s < SIDES; s++)
		kw_split(&list, f[s].keywords, IN_SIDE(s));
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

		bool has[SIDES] = {in & IN_SIDE(SIDE_A), in & IN_SIDE(SIDE_B)};
		bool kept[SIDES] = {store_keeps_keyword(&keep[SIDE_A], k->s, k->len),
		                    store_keeps_keyword(&keep[SIDE_B], k->s, k->len)};
		struct decision d = decide_kept(has, in & IN_BASE, base != NULL, false, allow, kept);

		for (int s = 0; s < SIDES; s++) {
			if (d.side[s] && !has[s])
				kw_out(&out[OUT_ADD(s)], k);
			if (!d.side[s] && has[s])
				kw_out(&out[OUT_DEL(s)], k);
		}
		if (d.record)
			kw_out(&out[OUT_RECORD], k);
		if (d.synced)
			kw_out(&out[OUT_SYNCED], k);
	}
	free(list.v);
	for (int s = 0; s < SIDES; s++) {
		m->to[s].add_keywords = kw_finish(pool, &out[OUT_ADD(s)]);
		m->to[s].remove_keywords = kw_finish(pool, &out[OUT_DEL(s)]);
	}
	m->record.keywords = kw_finish(pool, &out[OUT_RECORD]);
	m->synced.keywords = kw_finish(pool, &out[OUT_SYNCED]);
}

void plan_merge_flags(struct plan_pool *pool, const struct plan_flags f[SIDES], const struct plan_flags *base,
                      const bool allow[SIDES], const struct store_keep keep[SIDES], struct plan_merge *m)
{
	unsigned target[SIDES] = {0, 0};

	memset(m, 0, sizeof(*m));
	m->differed = !plan_flags_equal(&f[SIDE_A], &f[SIDE_B]);
	for (unsigned bit = 1; bit & MAIL_FLAGS_ALL; bit <<= 1) {
		bool v[SIDES] = {f[SIDE_A].bits & bit, f[SIDE_B].bits & bit};
		bool kept[SIDES] = {store_keeps_flag(&keep[SIDE_A], bit),
		                    store_keeps_flag(&keep[SIDE_B], bit)};
		struct decision d = decide_kept(v, base && (base->bits & bit), base != NULL,
		                                bit == MAIL_FLAG_DELETED, allow, kept);

		for (int s = 0; s < SIDES; s++)
			target[s] |= d.side[s] ? bit : 0;
		m->record.bits |= d.record ? bit : 0;
		m->synced.bits |= d.synced ? bit : 0;
	}
	for (int s = 0; s < SIDES; s++) {
		m->to[s].add = target[s] & ~f[s].bits;
		m->to[s].remove = f[s].bits & ~target[s];
	}

	/* Most messages have no keywords, or the same on every side: then
	 * nothing needs the keyword merge or a new string. */
	bool same_kw = mail_keywords_equal(f[SIDE_A].keywords, f[SIDE_B].keywords) &&
	               (!base || mail_keywords_equal(f[SIDE_A].keywords, base->keywords));
	if (same_kw) {
		m->record.keywords = f[SIDE_A].keywords;
		m->synced.keywords = f[SIDE_A].keywords;
	} else {
		merge_keywords(pool, f, base, allow, keep, m);
	}
}

void plan_flags_keep(struct plan_pool *pool, const struct plan_flags *f, const struct store_keep *keep,
                     struct plan_flags *kept_r, struct plan_flags *lost_r)
{
	struct kw_list list = {NULL, 0, 0};
	struct buf out[2];

	kept_r->bits = f->bits & (keep->limited ? keep->flags : MAIL_FLAGS_ALL);
	lost_r->bits = f->bits & ~kept_r->bits;
	kept_r->keywords = f->keywords;
	lost_r->keywords = NULL;
	if (!keep->limited || keep->new_keywords || !f->keywords)
		return;
	/* In canonical order already: the outputs stay canonical. */
	kw_split(&list, f->keywords, 0);
	buf_init(&out[0], 0);
	buf_init(&out[1], 0);
	for (size_t i = 0; i < list.n; i++)
		kw_out(&out[!store_keeps_keyword(keep, list.v[i].s, list.v[i].len)], &list.v[i]);
	free(list.v);
	kept_r->keywords = kw_finish(pool, &out[0]);
	lost_r->keywords = kw_finish(pool, &out[1]);
}

char *plan_keep_room(struct store_keep *keep, const struct plan_msg *msgs, size_t count)
{
	struct kw_list list = {NULL, 0, 0};
	struct buf b;
	char *text = NULL;
	size_t chosen = 0;

	if (!keep->limited || keep->new_keywords || !keep->new_keywords_room)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		/* Neighbours often share one text: split it once. */
		if (!msgs[i].keywords || (i && msgs[i].keywords == msgs[i - 1].keywords))
			continue;
		size_t from = list.n;
		kw_split(&list, msgs[i].keywords, 0);
		for (size_t j = from; j < list.n;)
			if (store_keeps_keyword(keep, list.v[j].s, list.v[j].len))
				list.v[j] = list.v[--list.n];
			else
				j++;
	}
	buf_init(&b, 0);
	if (keep->keywords)
		buf_append(&b, keep->keywords, strlen(keep->keywords));
	if (list.n)
		qsort(list.v, list.n, sizeof(*list.v), kw_cmp);
	for (size_t i = 0; i < list.n && chosen < keep->new_keywords_room; i++) {
		if (i && list.v[i].len == list.v[i - 1].len &&
		    strncasecmp(list.v[i].s, list.v[i - 1].s, list.v[i].len) == 0)
			continue;
		kw_out(&b, &list.v[i]);
		chosen++;
	}
	free(list.v);
	/* Every part was canonical keyword text already. */
	if (b.len && mail_keywords_canon(b.data, &text, NULL) < 0)
		text = NULL;
	buf_free(&b);
	keep->keywords = text;
	keep->new_keywords_room = 0;
	return text;
}

const char *plan_flags_text(struct plan_pool *pool, const struct plan_flags *f)
{
	char *s = mail_flags_format(f->bits, f->keywords);
	const char *p = plan_pool_dup(pool, *s ? s : "(none)");

	free(s);
	return p;
}
