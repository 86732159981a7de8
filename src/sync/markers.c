/*
 * A side of a folder by the markers the state recorded for it
 * (engine_p.h): its directory times, its counts, its listing. Read by
 * the account level (folders skipped unopened), the read-ahead and the
 * changes-only resync alike.
 */
#include "engine_p.h"
#include "twinbox/util/clock.h"

bool engine_times_recorded(const struct state_marks *m)
{
	struct timespec zero = {0, 0};

	return !(clock_same_time(&m->marks[0], &zero) && clock_same_time(&m->marks[1], &zero));
}

bool engine_times_same(const struct state_marks *m, const struct store_folder_info *info)
{
	return engine_times_recorded(m) && clock_same_time(&m->marks[0], &info->marks[0]) &&
	       clock_same_time(&m->marks[1], &info->marks[1]);
}

bool engine_counts_same(const struct state_marks *m, const struct store_folder_info *info)
{
	return m->uidnext && m->highestmodseq && m->uidvalidity == info->uidvalidity &&
	       m->uidnext == info->uidnext && m->messages == info->exists &&
	       m->highestmodseq == info->highestmodseq;
}

bool engine_listing_same(const struct state_marks *m, const struct store_listing *now)
{
	return m->files >= 0 && now->digest == m->digest && now->files == (uint64_t)m->files;
}
