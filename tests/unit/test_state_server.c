/*
 * The server a state describes, and what forgetting its UIDs does to the
 * pairs (issue 13): a pair that lost its UID to a renumbering is marked,
 * one whose message was deleted on the server is not.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_state.h"
#include "twinbox/state/folder.h"
#include "twinbox/state/intent.h"
#include "twinbox/state/pair.h"
#include "twinbox/state/server.h"

TestSuite(state_server, .init = state_test_setup, .fini = state_test_teardown);

Test(state_server, recorded_read_back_and_compared)
{
	struct state *st = state_test_open("work.db");
	struct state_server a = {"imap.example.org", 993, "alice"}, got;
	struct state_server other_host = {"IMAP.example.org", 993, "alice"};
	struct state_server other_port = {"imap.example.org", 143, "alice"};
	struct state_server other_user = {"imap.example.org", 993, "Alice"};
	struct error err;

	cr_assert_eq(state_server_get(st, &got, &err), 0, "a new state records no server");
	cr_assert_eq(state_server_set(st, &a, &err), 0, "%s", err.text);
	cr_assert_eq(state_server_get(st, &got, &err), 1, "%s", err.text);
	cr_assert_str_eq(got.host, "imap.example.org");
	cr_assert_eq(got.port, 993);
	cr_assert_str_eq(got.user, "alice");
	cr_assert(state_server_same(&got, &a));
	cr_assert(state_server_same(&got, &other_host), "host names are not case-sensitive");
	cr_assert(!state_server_same(&got, &other_port));
	cr_assert(!state_server_same(&got, &other_user));
	state_server_clear(&got);

	cr_assert_eq(state_server_set(st, &other_port, &err), 0, "%s", err.text);
	cr_assert_eq(state_server_get(st, &got, &err), 1);
	cr_assert_eq(got.port, 143, "one server per state: replaced");
	state_server_clear(&got);
	state_close(st);
}

static void add_pairs(struct state *st, int64_t folder)
{
	struct state_pair both = {
	    .folder_id = folder, .side = {{10, NULL}, {0, "both"}}, .content_key = "k1"};
	struct state_pair remote_only = {
	    .folder_id = folder, .side = {{11, NULL}, {0, NULL}}, .content_key = "k2"};
	struct state_pair deleted_there = {
	    .folder_id = folder, .side = {{0, NULL}, {0, "kept"}}, .content_key = "k3"};
	struct error err;

	cr_assert_eq(state_pair_insert(st, &both, &err), 0, "%s", err.text);
	cr_assert_eq(state_pair_insert(st, &remote_only, &err), 0, "%s", err.text);
	cr_assert_eq(state_pair_insert(st, &deleted_there, &err), 0, "%s", err.text);
}

/* `set` after a reset: "kept" (deleted on the server long ago) is not
 * renumbered, "both" is, the remote-only pair is gone. */
static void assert_reset(const struct state_pairs *set)
{
	cr_assert_eq(set->count, 2, "the remote-only pair is forgotten");
	for (size_t i = 0; i < set->count; i++) {
		const struct state_pair *p = &set->pairs[i];
		cr_assert_eq(p->side[SIDE_A].uid, 0);
		cr_assert_eq(p->renumbered, strcmp(p->side[SIDE_B].name, "both") == 0, "%s",
		             p->side[SIDE_B].name);
	}
	cr_assert_not_null(state_pairs_find(set, SIDE_B, (struct store_id){0, "both"}));
	cr_assert_not_null(state_pairs_find(set, SIDE_B, (struct store_id){0, "kept"}));
}

Test(state_server, a_reset_marks_the_pairs_it_takes_the_uid_of)
{
	struct state *st = state_test_open("work.db");
	int64_t id = state_test_folder(st, "INBOX", "INBOX");
	struct state_pairs set;
	struct state_pair p;
	struct error err;

	add_pairs(st, id);
	cr_assert_eq(state_folder_reset_uids(st, id, 200, &err), 0, "%s", err.text);
	cr_assert_eq(state_pairs_load(st, id, &set, &err), 0, "%s", err.text);
	assert_reset(&set);
	/* Re-attached (or uploaded again): a UID, no longer renumbered. */
	p = *state_pairs_find(&set, SIDE_B, (struct store_id){0, "both"});
	p.side[SIDE_A].uid = 3;
	cr_assert_eq(state_pair_update(st, &p, &err), 0, "%s", err.text);
	state_pairs_free(&set);
	cr_assert_eq(state_pairs_load(st, id, &set, &err), 0, "%s", err.text);
	cr_assert(!state_pairs_find(&set, SIDE_A, (struct store_id){3, NULL})->renumbered);
	state_pairs_free(&set);
	state_close(st);
}

Test(state_server, the_same_reset_in_memory_for_a_dry_run)
{
	struct state *st = state_test_open("work.db");
	int64_t id = state_test_folder(st, "INBOX", "INBOX");
	struct state_pairs set;
	struct error err;

	add_pairs(st, id);
	cr_assert_eq(state_pairs_load(st, id, &set, &err), 0, "%s", err.text);
	state_pairs_renumber(&set);
	assert_reset(&set);
	state_pairs_free(&set);
	/* Nothing written. */
	cr_assert_eq(state_pairs_load(st, id, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.count, 3);
	cr_assert_not_null(state_pairs_find(&set, SIDE_A, (struct store_id){10, NULL}));
	state_pairs_free(&set);
	state_close(st);
}

Test(state_server, another_server_forgets_every_folders_uids)
{
	struct state *st = state_test_open("work.db");
	int64_t inbox = state_test_folder(st, "INBOX", "INBOX");
	int64_t work = state_test_folder(st, "Work", ".Work");
	struct state_server old = {"old.example.org", 993, "alice"}, now = {"new.example.org", 993, "alice"};
	struct state_server got;
	struct state_folder f;
	struct state_pairs set;
	struct error err;

	add_pairs(st, inbox);
	add_pairs(st, work);
	cr_assert_eq(state_folder_get(st, work, &f, &err), 1);
	f.side[SIDE_A].uidvalidity = 100;
	f.side[SIDE_A].uidnext = 12;
	f.side[SIDE_A].highestmodseq = 500;
	f.side[SIDE_A].messages = 2;
	cr_assert_eq(state_folder_update(st, &f, &err), 0);
	state_folder_clear(&f);
	cr_assert_eq(state_server_set(st, &old, &err), 0, "%s", err.text);

	cr_assert_eq(state_server_replace(st, &now, &err), 0, "%s", err.text);
	cr_assert_eq(state_server_get(st, &got, &err), 1);
	cr_assert_str_eq(got.host, "new.example.org");
	state_server_clear(&got);
	for (int64_t id = inbox; id <= work; id++) {
		cr_assert_eq(state_pairs_load(st, id, &set, &err), 0, "%s", err.text);
		assert_reset(&set);
		state_pairs_free(&set);
	}
	cr_assert_eq(state_folder_get(st, work, &f, &err), 1);
	cr_assert_eq(f.side[SIDE_A].uidvalidity, 0, "the new server's UIDVALIDITY is not known yet");
	cr_assert_eq(f.side[SIDE_A].uidnext, 0);
	cr_assert_eq(f.side[SIDE_A].highestmodseq, 0);
	cr_assert_eq(f.side[SIDE_A].messages, 0);
	state_folder_clear(&f);
	state_close(st);
}

/* A delivery a killed run left names a UID of the old numbering: after
 * the reset it names none, so its file is matched by content, never
 * paired with whatever message has that UID now. */
Test(state_server, a_reset_forgets_the_uids_of_pending_intents)
{
	struct state *st = state_test_open("work.db");
	int64_t inbox = state_test_folder(st, "INBOX", "INBOX");
	int64_t work = state_test_folder(st, "Work", ".Work");
	struct state_intent in = {.kind = STATE_INTENT_COPY, .side = SIDE_B, .msg = {{7, NULL}, {0, "f"}}};
	struct state_server srv = {"new.example.org", 993, "alice"};
	struct state_intents set;
	int64_t id;
	struct error err;

	in.folder_id = inbox;
	cr_assert_eq(state_intent_add(st, &in, &id, &err), 0, "%s", err.text);
	in.folder_id = work;
	cr_assert_eq(state_intent_add(st, &in, &id, &err), 0, "%s", err.text);

	cr_assert_eq(state_folder_reset_uids(st, inbox, 9, &err), 0, "%s", err.text);
	cr_assert_eq(state_intent_list(st, inbox, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.count, 1);
	cr_assert_eq(set.intents[0].msg[SIDE_A].uid, 0);
	cr_assert_str_eq(set.intents[0].msg[SIDE_B].name, "f");
	state_intents_free(&set);
	cr_assert_eq(state_intent_list(st, work, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.intents[0].msg[SIDE_A].uid, 7, "another folder's intents keep theirs");
	state_intents_free(&set);

	cr_assert_eq(state_server_replace(st, &srv, &err), 0, "%s", err.text);
	cr_assert_eq(state_intent_list(st, work, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.intents[0].msg[SIDE_A].uid, 0, "another server: every folder's");
	state_intents_free(&set);
	state_close(st);
}
