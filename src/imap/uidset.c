/*
 * Owned UID sets.
 */
#include "twinbox/imap/uidset.h"

#include <stdlib.h>
#include <string.h>

#include "twinbox/util/xmalloc.h"

void imap_uidset_free(struct imap_uidset *set)
{
	free(set->v);
	set->v = NULL;
	set->count = set->cap = 0;
}

void imap_uidset_clear(struct imap_uidset *set)
{
	set->count = 0;
}

void imap_uidset_add_range(struct imap_uidset *set, uint32_t first, uint32_t last)
{
	struct imap_uid_range *tail = set->count ? &set->v[set->count - 1] : NULL;

	if (first > last) {
		uint32_t t = first;
		first = last;
		last = t;
	}
	/* Extend the last range when the new one follows or overlaps it. */
	if (tail && first >= tail->first && (first <= tail->last || first - 1 == tail->last)) {
		if (last > tail->last)
			tail->last = last;
		return;
	}
	set->v = xgrow(set->v, &set->cap, set->count + 1, sizeof(*set->v));
	set->v[set->count].first = first;
	set->v[set->count].last = last;
	set->count++;
}

void imap_uidset_add(struct imap_uidset *set, uint32_t uid)
{
	imap_uidset_add_range(set, uid, uid);
}

void imap_uidset_copy(struct imap_uidset *dst, const struct imap_uid_set *src)
{
	imap_uidset_clear(dst);
	if (src->count == 0)
		return;
	dst->v = xgrow(dst->v, &dst->cap, src->count, sizeof(*dst->v));
	memcpy(dst->v, src->ranges, src->count * sizeof(*dst->v));
	dst->count = src->count;
}

static int by_first(const void *a, const void *b)
{
	const struct imap_uid_range *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

void imap_uidset_normalize(struct imap_uidset *set)
{
	size_t n = 0;

	if (set->count)
		qsort(set->v, set->count, sizeof(*set->v), by_first);
	for (size_t i = 0; i < set->count; i++) {
		if (n && (uint64_t)set->v[i].first <= (uint64_t)set->v[n - 1].last + 1) {
			if (set->v[i].last > set->v[n - 1].last)
				set->v[n - 1].last = set->v[i].last;
		} else {
			set->v[n++] = set->v[i];
		}
	}
	set->count = n;
}

bool imap_uidset_contains(const struct imap_uidset *set, uint32_t uid)
{
	for (size_t i = 0; i < set->count; i++)
		if (uid >= set->v[i].first && uid <= set->v[i].last)
			return true;
	return false;
}

uint64_t imap_uidset_size(const struct imap_uidset *set)
{
	uint64_t n = 0;

	for (size_t i = 0; i < set->count; i++)
		n += (uint64_t)set->v[i].last - set->v[i].first + 1;
	return n;
}

uint32_t imap_uidset_nth(const struct imap_uidset *set, uint64_t n)
{
	for (size_t i = 0; i < set->count; i++) {
		uint64_t len = (uint64_t)set->v[i].last - set->v[i].first + 1;
		if (n < len)
			return set->v[i].first + (uint32_t)n;
		n -= len;
	}
	return 0;
}

void imap_uidset_format(const struct imap_uidset *set, struct buf *out)
{
	for (size_t i = 0; i < set->count; i++) {
		const struct imap_uid_range *r = &set->v[i];
		if (r->first == r->last)
			buf_printf(out, "%s%u", i ? "," : "", r->first);
		else
			buf_printf(out, "%s%u:%u", i ? "," : "", r->first, r->last);
	}
}
