/* Loading only the pairs of some UIDs (a resync of what changed), and
 * counting a folder's pairs by side without loading them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_state.h"
#include "twinbox/state/pair.h"

TestSuite(state_pairs_uids, .init = state_test_setup, .fini = state_test_teardown, .timeout = 120);

Test(state_pairs_uids, only_the_ranges_asked_for_and_those_without_a_uid)
{
	struct state *st = state_test_open("work.db");
	int64_t folder = state_test_folder(st, "INBOX", "INBOX");
	int64_t other = state_test_folder(st, "Other", "Other");
	struct state_uid_range ranges[] = {{2, 3}, {7, 7}, {9, 20}};
	struct state_pairs set;
	struct error err;
	size_t with[SIDES];

	for (uint32_t uid = 1; uid <= 10; uid++) {
		char id[16];
		struct state_pair p = {.folder_id = folder, .side = {{uid, NULL}, {0, id}}};
		struct state_pair q = {.folder_id = other, .side = {{uid, NULL}, {0, NULL}}};
		snprintf(id, sizeof(id), "m%u", uid);
		if (uid == 9)
			p.side[SIDE_B].name = NULL; /* remote side only */
		cr_assert_eq(state_pair_insert(st, &p, &err), 0, "%s", err.text);
		cr_assert_eq(state_pair_insert(st, &q, &err), 0, "%s", err.text);
	}
	{
		struct state_pair p = {.folder_id = folder, .side = {{0, NULL}, {0, "local-only"}}};
		cr_assert_eq(state_pair_insert(st, &p, &err), 0, "%s", err.text);
	}

	cr_assert_eq(state_pairs_load_uids(st, folder, ranges, 3, false, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.count, 5, "UIDs 2, 3, 7, 9 and 10 of this folder: %zu", set.count);
	cr_assert_eq(set.pairs[0].side[SIDE_A].uid, 2);
	cr_assert_eq(set.pairs[1].side[SIDE_A].uid, 3);
	cr_assert_eq(set.pairs[2].side[SIDE_A].uid, 7);
	cr_assert_eq(set.pairs[3].side[SIDE_A].uid, 9);
	cr_assert_null(set.pairs[3].side[SIDE_B].name);
	cr_assert_eq(set.pairs[4].side[SIDE_A].uid, 10);
	cr_assert_not_null(state_pairs_find(&set, SIDE_B, (struct store_id){0, "m7"}));
	cr_assert_null(state_pairs_find(&set, SIDE_B, (struct store_id){0, "m1"}));
	state_pairs_free(&set);

	cr_assert_eq(state_pairs_load_uids(st, folder, ranges, 1, true, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.count, 3, "%zu", set.count);
	cr_assert_eq(set.pairs[0].side[SIDE_A].uid, 0, "the pair without a remote side first");
	cr_assert_str_eq(set.pairs[0].side[SIDE_B].name, "local-only");
	cr_assert_eq(set.pairs[1].side[SIDE_A].uid, 2);
	cr_assert_eq(state_pairs_find(&set, SIDE_A, (struct store_id){3, NULL})->side[SIDE_A].uid, 3);
	state_pairs_free(&set);

	cr_assert_eq(state_pairs_load_uids(st, folder, NULL, 0, false, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.count, 0);
	state_pairs_free(&set);

	cr_assert_eq(state_pairs_count(st, folder, with, &err), 0, "%s", err.text);
	cr_assert_eq(with[SIDE_A], 10);
	cr_assert_eq(with[SIDE_B], 10);
	cr_assert_eq(state_pairs_count(st, other, with, &err), 0, "%s", err.text);
	cr_assert_eq(with[SIDE_A], 10);
	cr_assert_eq(with[SIDE_B], 0);
	state_close(st);
}
