#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_state.h"
#include "twinbox/state/folder.h"
#include "twinbox/state/intent.h"
#include "twinbox/state/pair.h"

TestSuite(state_folder, .init = state_test_setup, .fini = state_test_teardown);

Test(state_folder, add_get_find_and_list)
{
	struct state *st = state_test_open("work.db");
	int64_t inbox = state_test_folder(st, "INBOX", "INBOX");
	int64_t archive = state_test_folder(st, "Archive/2024", ".Archive.2024");
	struct state_folder f, *list;
	struct error err;
	size_t n;

	cr_assert_neq(inbox, archive);
	cr_assert_eq(state_folder_get(st, archive, &f, &err), 1);
	cr_assert_eq(f.id, archive);
	cr_assert_str_eq(f.remote_name, "Archive/2024");
	cr_assert_str_eq(f.local_path, ".Archive.2024");
	cr_assert_eq(f.side[SIDE_A].uidvalidity, 0, "markers start unknown");
	cr_assert_eq(f.side[SIDE_A].highestmodseq, 0);
	cr_assert_eq(f.last_sync, 0);
	state_folder_clear(&f);
	cr_assert_null(f.remote_name);

	cr_assert_eq(state_folder_find_remote(st, "INBOX", &f, &err), 1);
	cr_assert_eq(f.id, inbox);
	state_folder_clear(&f);
	cr_assert_eq(state_folder_find_local(st, ".Archive.2024", &f, &err), 1);
	cr_assert_eq(f.id, archive);
	state_folder_clear(&f);
	cr_assert_eq(state_folder_find_remote(st, "inbox", &f, &err), 0, "names are exact");
	cr_assert_eq(state_folder_get(st, 999, &f, &err), 0);
	cr_assert_null(f.remote_name);

	cr_assert_eq(state_folder_list(st, &list, &n, &err), 0, "%s", err.text);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(list[0].remote_name, "Archive/2024", "ordered by remote name");
	cr_assert_str_eq(list[1].remote_name, "INBOX");
	state_folder_list_free(list, n);
	state_close(st);
}

Test(state_folder, empty_state_lists_nothing)
{
	struct state *st = state_test_open("work.db");
	struct state_folder *list;
	struct error err;
	size_t n = 99;

	cr_assert_eq(state_folder_list(st, &list, &n, &err), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(list);
	state_close(st);
}

Test(state_folder, update_keeps_markers_exactly)
{
	struct state *st = state_test_open("work.db");
	int64_t id = state_test_folder(st, "INBOX", "INBOX");
	struct state_folder f, back;
	struct error err;

	cr_assert_eq(state_folder_get(st, id, &f, &err), 1);
	f.side[SIDE_A].uidvalidity = 4294967295u;
	f.side[SIDE_A].uidnext = 4294967295u;
	f.side[SIDE_A].highestmodseq = INT64_MAX;
	f.side[SIDE_B].marks[1].tv_sec = 1732243879;
	f.side[SIDE_B].marks[1].tv_nsec = 123456789;
	f.side[SIDE_B].marks[0].tv_sec = 1732243880;
	f.side[SIDE_B].marks[0].tv_nsec = 999999999;
	f.last_sync = 1732243881;
	free(f.remote_name);
	f.remote_name = strdup("Renamed");
	cr_assert_eq(state_folder_update(st, &f, &err), 0, "%s", err.text);
	state_close(st);

	st = state_test_open("work.db");
	cr_assert_eq(state_folder_get(st, id, &back, &err), 1);
	cr_assert_str_eq(back.remote_name, "Renamed");
	cr_assert_eq(back.side[SIDE_A].uidvalidity, 4294967295u);
	cr_assert_eq(back.side[SIDE_A].uidnext, 4294967295u);
	cr_assert_eq(back.side[SIDE_A].highestmodseq, (uint64_t)INT64_MAX);
	cr_assert_eq(back.side[SIDE_B].marks[1].tv_sec, 1732243879);
	cr_assert_eq(back.side[SIDE_B].marks[1].tv_nsec, 123456789);
	cr_assert_eq(back.side[SIDE_B].marks[0].tv_sec, 1732243880);
	cr_assert_eq(back.side[SIDE_B].marks[0].tv_nsec, 999999999);
	cr_assert_eq(back.last_sync, 1732243881);
	state_folder_clear(&back);
	state_folder_clear(&f);
	state_close(st);
}

/* The Maildir folder's listing: not known in a new row, kept to the
 * last bit, and forgotten alone by state_folder_drop_listing. */
Test(state_folder, listing_is_kept_and_dropped)
{
	struct state *st = state_test_open("work.db");
	int64_t id = state_test_folder(st, "INBOX", "INBOX");
	struct state_folder f, back;
	struct error err;

	cr_assert_eq(state_folder_get(st, id, &f, &err), 1);
	cr_assert_eq(f.side[SIDE_B].files, -1);
	f.side[SIDE_B].digest = UINT64_MAX - 5;
	f.side[SIDE_B].files = 0;
	f.side[SIDE_A].uidnext = 9;
	cr_assert_eq(state_folder_update(st, &f, &err), 0, "%s", err.text);
	cr_assert_eq(state_folder_get(st, id, &back, &err), 1);
	cr_assert_eq(back.side[SIDE_B].digest, UINT64_MAX - 5);
	cr_assert_eq(back.side[SIDE_B].files, 0);
	state_folder_clear(&back);
	cr_assert_eq(state_folder_drop_listing(st, id, SIDE_B, &err), 0, "%s", err.text);
	cr_assert_eq(state_folder_get(st, id, &back, &err), 1);
	cr_assert_eq(back.side[SIDE_B].files, -1);
	cr_assert_eq(back.side[SIDE_A].uidnext, 9);
	state_folder_clear(&back);
	state_folder_clear(&f);
	state_close(st);
}

Test(state_folder, bad_markers_and_names_are_refused)
{
	struct state *st = state_test_open("work.db");
	int64_t id = state_test_folder(st, "INBOX", "INBOX");
	struct state_folder f;
	struct error err;
	char *long_name = malloc(STATE_NAME_MAX + 2);
	int64_t other;

	cr_assert_eq(state_folder_get(st, id, &f, &err), 1);
	f.side[SIDE_A].highestmodseq = (uint64_t)INT64_MAX + 1;
	cr_assert_eq(state_folder_update(st, &f, &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert(strstr(err.text, "HIGHESTMODSEQ"), "%s", err.text);
	f.side[SIDE_A].highestmodseq = 0;
	f.side[SIDE_B].marks[1].tv_nsec = 1000000000;
	cr_assert_eq(state_folder_update(st, &f, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	state_folder_clear(&f);

	memset(long_name, 'a', STATE_NAME_MAX + 1);
	long_name[STATE_NAME_MAX + 1] = '\0';
	cr_assert_eq(state_folder_add(st, long_name, "x", &other, &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert_eq(state_folder_add(st, "", "x", &other, &err), -1);
	free(long_name);

	cr_assert_eq(state_folder_add(st, "INBOX", "elsewhere", &other, &err), -1, "remote name is unique");
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert(strstr(err.text, "INBOX"), "%s", err.text);
	cr_assert_eq(state_folder_add(st, "Other", "INBOX", &other, &err), -1, "local path is unique");
	state_close(st);
}

Test(state_folder, delete_removes_its_pairs_only)
{
	struct state *st = state_test_open("work.db");
	int64_t a = state_test_folder(st, "A", "A");
	int64_t b = state_test_folder(st, "B", "B");
	struct state_pair pa = {.folder_id = a, .side = {{1, NULL}, {0, "x"}}};
	struct state_pair pb = {.folder_id = b, .side = {{1, NULL}, {0, "x"}}};
	struct state_pairs set;
	struct state_folder f;
	struct error err;

	cr_assert_eq(state_pair_insert(st, &pa, &err), 0, "%s", err.text);
	cr_assert_eq(state_pair_insert(st, &pb, &err), 0, "same ids in another folder: %s", err.text);
	cr_assert_eq(state_folder_delete(st, a, &err), 0, "%s", err.text);
	cr_assert_eq(state_folder_get(st, a, &f, &err), 0);
	cr_assert_eq(state_pairs_load(st, a, &set, &err), 0);
	cr_assert_eq(set.count, 0);
	state_pairs_free(&set);
	cr_assert_eq(state_pairs_load(st, b, &set, &err), 0);
	cr_assert_eq(set.count, 1);
	state_pairs_free(&set);
	cr_assert_eq(state_folder_delete(st, a, &err), -1, "already gone");
	cr_assert_eq(err.scope, ERR_FATAL);
	state_close(st);
}

Test(state_folder, delete_with_pending_intent_is_refused)
{
	struct state *st = state_test_open("work.db");
	int64_t a = state_test_folder(st, "A", "A");
	struct state_intent in = {
	    .folder_id = a, .kind = STATE_INTENT_COPY, .side = SIDE_B, .msg = {{3, NULL}, {0, "f"}}};
	struct state_folder f;
	struct error err;
	int64_t id;

	cr_assert_eq(state_intent_add(st, &in, &id, &err), 0, "%s", err.text);
	cr_assert_eq(state_folder_delete(st, a, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert(strstr(err.text, "intents still pending"), "%s", err.text);
	cr_assert_eq(state_folder_get(st, a, &f, &err), 1);
	state_folder_clear(&f);
	cr_assert_eq(state_intent_resolve(st, id, &err), 0);
	cr_assert_eq(state_folder_delete(st, a, &err), 0, "%s", err.text);
	state_close(st);
}

Test(state_folder, reset_uids_after_uidvalidity_change)
{
	struct state *st = state_test_open("work.db");
	int64_t id = state_test_folder(st, "INBOX", "INBOX");
	struct state_pair both = {.folder_id = id, .side = {{10, NULL}, {0, "both"}}, .content_key = "k1"};
	struct state_pair remote_only = {
	    .folder_id = id, .side = {{11, NULL}, {0, NULL}}, .content_key = "k2"};
	struct state_pair local_only = {
	    .folder_id = id, .side = {{0, NULL}, {0, "local"}}, .content_key = "k3"};
	struct state_pairs set;
	struct state_folder f;
	struct error err;

	cr_assert_eq(state_folder_get(st, id, &f, &err), 1);
	f.side[SIDE_A].uidvalidity = 100;
	f.side[SIDE_A].uidnext = 12;
	f.side[SIDE_A].highestmodseq = 500;
	cr_assert_eq(state_folder_update(st, &f, &err), 0);
	state_folder_clear(&f);
	cr_assert_eq(state_pair_insert(st, &both, &err), 0);
	cr_assert_eq(state_pair_insert(st, &remote_only, &err), 0);
	cr_assert_eq(state_pair_insert(st, &local_only, &err), 0);

	/* The caller's pattern: reset and re-map in one transaction. */
	cr_assert_eq(state_begin(st, &err), 0);
	cr_assert_eq(state_folder_reset_uids(st, id, 200, &err), 0, "%s", err.text);
	both.side[SIDE_A].uid = 1; /* re-matched by content key */
	cr_assert_eq(state_pair_update(st, &both, &err), 0, "%s", err.text);
	cr_assert_eq(state_commit(st, &err), 0);

	cr_assert_eq(state_folder_get(st, id, &f, &err), 1);
	cr_assert_eq(f.side[SIDE_A].uidvalidity, 200);
	cr_assert_eq(f.side[SIDE_A].uidnext, 0);
	cr_assert_eq(f.side[SIDE_A].highestmodseq, 0);
	state_folder_clear(&f);
	cr_assert_eq(state_pairs_load(st, id, &set, &err), 0);
	cr_assert_eq(set.count, 2, "the remote-only pair is forgotten");
	cr_assert_eq(set.pairs[0].side[SIDE_A].uid, 0);
	cr_assert_str_eq(set.pairs[0].side[SIDE_B].name, "local");
	cr_assert_eq(set.pairs[1].side[SIDE_A].uid, 1);
	cr_assert_str_eq(set.pairs[1].side[SIDE_B].name, "both");
	cr_assert_null(state_pairs_find(&set, SIDE_A, (struct store_id){10, NULL}));
	state_pairs_free(&set);
	state_close(st);
}
