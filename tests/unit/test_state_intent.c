#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_state.h"
#include "twinbox/state/folder.h"
#include "twinbox/state/intent.h"
#include "twinbox/state/pair.h"

TestSuite(state_intent, .init = state_test_setup, .fini = state_test_teardown);

static int64_t add_intent(struct state *st, const struct state_intent *in)
{
	struct error err;
	int64_t id;

	cr_assert_eq(state_intent_add(st, in, &id, &err), 0, "%s", err.text);
	cr_assert_gt(id, 0);
	return id;
}

static size_t pending(struct state *st, int64_t folder)
{
	struct state_intents set;
	struct error err;
	size_t n;

	cr_assert_eq(state_intent_list(st, folder, &set, &err), 0, "%s", err.text);
	n = set.count;
	state_intents_free(&set);
	return n;
}

Test(state_intent, add_list_and_resolve)
{
	struct state *st = state_test_open("work.db");
	int64_t inbox = state_test_folder(st, "INBOX", "INBOX");
	int64_t other = state_test_folder(st, "Other", "Other");
	struct state_intent deliver = {.folder_id = inbox,
	                               .kind = STATE_INTENT_COPY,
	                               .side = SIDE_B,
	                               .msg = {{42, NULL}, {0, "1732243879.M5P6.host"}},
	                               .content_key = "10 h <x@y>"};
	struct state_intent append = {
	    .folder_id = other, .kind = STATE_INTENT_COPY, .side = SIDE_A, .msg = {{0, NULL}, {0, "src"}}};
	struct state_intent pop3 = {.kind = STATE_INTENT_POP3_DELETE, .side = SIDE_A, .remote = "UIDL-1"};
	struct state_intents set;
	struct error err;
	time_t before = time(NULL);
	int64_t id1 = add_intent(st, &deliver);
	int64_t id2 = add_intent(st, &append);
	int64_t id3 = add_intent(st, &pop3);

	cr_assert_eq(state_intent_list(st, inbox, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.count, 1);
	cr_assert_eq(set.intents[0].id, id1);
	cr_assert_eq(set.intents[0].folder_id, inbox);
	cr_assert(state_intent_is(&set.intents[0], STATE_INTENT_COPY, SIDE_B));
	cr_assert_eq(set.intents[0].msg[SIDE_A].uid, 42);
	cr_assert_str_eq(set.intents[0].msg[SIDE_B].name, "1732243879.M5P6.host");
	cr_assert_str_eq(set.intents[0].content_key, "10 h <x@y>");
	cr_assert_null(set.intents[0].remote);
	cr_assert_eq(set.intents[0].pair_id, 0);
	cr_assert_geq(set.intents[0].created, before);
	cr_assert_leq(set.intents[0].created, time(NULL));
	state_intents_free(&set);

	cr_assert_eq(state_intent_list(st, 0, &set, &err), 0);
	cr_assert_eq(set.count, 3, "the whole account, with or without folder");
	cr_assert_eq(set.intents[0].id, id1, "oldest first");
	cr_assert_eq(set.intents[2].id, id3);
	cr_assert_eq(set.intents[2].folder_id, 0);
	cr_assert_str_eq(set.intents[2].remote, "UIDL-1");
	cr_assert_str_eq(state_intent_kind_name(set.intents[2].kind, set.intents[2].side), "pop3-delete");
	state_intents_free(&set);

	cr_assert_eq(state_intent_resolve(st, id2, &err), 0, "%s", err.text);
	cr_assert_eq(pending(st, other), 0);
	cr_assert_eq(state_intent_resolve(st, id2, &err), -1, "resolving twice is a bug");
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert_eq(pending(st, 0), 2);
	state_close(st);
}

Test(state_intent, kind_names)
{
	cr_assert_str_eq(state_intent_kind_name(STATE_INTENT_COPY, SIDE_A), "append-remote");
	cr_assert_str_eq(state_intent_kind_name(STATE_INTENT_COPY, SIDE_B), "deliver-local");
	cr_assert_str_eq(state_intent_kind_name(STATE_INTENT_POP3_DOWNLOAD, SIDE_B), "pop3-download");
	cr_assert_str_eq(state_intent_kind_name(STATE_INTENT_DELETE, SIDE_A), "delete-remote");
	cr_assert_str_eq(state_intent_kind_name(STATE_INTENT_DELETE, SIDE_B), "delete-local");
	cr_assert_null(state_intent_kind_name(0, SIDE_A));
	cr_assert_null(state_intent_kind_name(99, SIDE_A));
}

Test(state_intent, uncommitted_intent_is_gone_after_close_committed_one_stays)
{
	struct state *st = state_test_open("work.db");
	int64_t inbox = state_test_folder(st, "INBOX", "INBOX");
	struct state_intent in = {
	    .folder_id = inbox, .kind = STATE_INTENT_COPY, .side = SIDE_B, .msg = {{1, NULL}, {0, "f"}}};
	struct error err;

	cr_assert_eq(state_begin(st, &err), 0);
	add_intent(st, &in);
	state_close(st); /* no commit: as if the process stopped here */
	st = state_test_open("work.db");
	cr_assert_eq(pending(st, inbox), 0);

	cr_assert_eq(state_begin(st, &err), 0);
	add_intent(st, &in);
	cr_assert_eq(state_commit_durable(st, &err), 0, "%s", err.text);
	state_close(st);
	st = state_test_open("work.db");
	cr_assert_eq(pending(st, inbox), 1);
	state_close(st);
}

/* The real thing: a process killed mid-batch keeps what it committed. */
Test(state_intent, killed_process_keeps_committed_intents_only)
{
	struct state *st = state_test_open("work.db");
	int64_t inbox = state_test_folder(st, "INBOX", "INBOX");
	struct state_intents set;
	struct error err;
	int ready[2], status;
	pid_t pid;
	char c;

	state_close(st);
	cr_assert_eq(pipe(ready), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct state *child = state_test_open("work.db");
		struct state_intent a = {.folder_id = inbox,
		                         .kind = STATE_INTENT_COPY,
		                         .side = SIDE_A,
		                         .msg = {{0, NULL}, {0, "a"}}};
		struct state_intent b = {.folder_id = inbox,
		                         .kind = STATE_INTENT_COPY,
		                         .side = SIDE_A,
		                         .msg = {{0, NULL}, {0, "b"}}};
		int64_t id;
		if (state_begin(child, &err) < 0 || state_intent_add(child, &a, &id, &err) < 0 ||
		    state_commit(child, &err) < 0 || state_begin(child, &err) < 0 ||
		    state_intent_add(child, &b, &id, &err) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(2);
		pause();
		_exit(3);
	}
	cr_assert_eq(read(ready[0], &c, 1), 1);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status));

	st = state_test_open("work.db");
	cr_assert_eq(state_intent_list(st, inbox, &set, &err), 0, "%s", err.text);
	cr_assert_eq(set.count, 1);
	cr_assert_str_eq(set.intents[0].msg[SIDE_B].name, "a");
	state_intents_free(&set);
	state_close(st);
}

Test(state_intent, resolve_with_pair_is_atomic)
{
	struct state *st = state_test_open("work.db");
	int64_t inbox = state_test_folder(st, "INBOX", "INBOX");
	struct state_pair existing = {.folder_id = inbox, .side = {{7, NULL}, {0, "old"}}};
	struct state_intent in = {
	    .folder_id = inbox, .kind = STATE_INTENT_COPY, .side = SIDE_B, .msg = {{7, NULL}, {0, "new"}}};
	struct state_pair result = {.folder_id = inbox, .side = {{7, NULL}, {0, "new"}}};
	struct state_pairs set;
	struct error err;
	int64_t id;

	cr_assert_eq(state_pair_insert(st, &existing, &err), 0);
	id = add_intent(st, &in);

	/* Recording the result fails (uid 7 is taken): the intent stays. */
	cr_assert_eq(state_intent_resolve_pair(st, id, &result, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert_eq(result.id, 0, "nothing was inserted");
	cr_assert_eq(pending(st, inbox), 1, "the intent was not resolved either");
	cr_assert_not(state_in_transaction(st), "the savepoint is gone");

	result.side[SIDE_A].uid = 8;
	cr_assert_eq(state_intent_resolve_pair(st, id, &result, &err), 0, "%s", err.text);
	cr_assert_gt(result.id, 0);
	cr_assert_eq(pending(st, inbox), 0);
	cr_assert_eq(state_pairs_load(st, inbox, &set, &err), 0);
	cr_assert_eq(set.count, 2);
	cr_assert_str_eq(state_pairs_find(&set, SIDE_A, (struct store_id){8, NULL})->side[SIDE_B].name,
	                 "new");
	state_pairs_free(&set);

	/* An update of an existing pair, inside the caller's transaction. */
	in.msg[SIDE_A].uid = 0;
	in.kind = STATE_INTENT_COPY;
	in.side = SIDE_A;
	in.pair_id = existing.id;
	id = add_intent(st, &in);
	cr_assert_eq(state_begin(st, &err), 0);
	existing.side[SIDE_A].uid = 9;
	cr_assert_eq(state_intent_resolve_pair(st, id, &existing, &err), 0, "%s", err.text);
	cr_assert(state_in_transaction(st), "the caller's transaction stays open");
	state_rollback(st);
	cr_assert_eq(pending(st, inbox), 1, "rolled back with the caller's transaction");
	cr_assert_eq(state_pairs_load(st, inbox, &set, &err), 0);
	cr_assert_not_null(state_pairs_find(&set, SIDE_A, (struct store_id){7, NULL}),
	                   "update rolled back too");
	state_pairs_free(&set);
	state_close(st);
}

Test(state_intent, resolve_with_delete_is_atomic)
{
	struct state *st = state_test_open("work.db");
	int64_t inbox = state_test_folder(st, "INBOX", "INBOX");
	struct state_pair p = {.folder_id = inbox, .side = {{3, NULL}, {0, "m"}}};
	struct state_intent in = {
	    .folder_id = inbox, .kind = STATE_INTENT_DELETE, .side = SIDE_A, .msg = {{3, NULL}, {0, NULL}}};
	struct state_intents set;
	struct state_pairs pairs;
	struct error err;
	int64_t id;

	cr_assert_eq(state_pair_insert(st, &p, &err), 0);
	in.pair_id = p.id;
	id = add_intent(st, &in);
	cr_assert_eq(state_intent_resolve_delete(st, id, p.id + 100, &err), -1, "no such pair");
	cr_assert_eq(pending(st, inbox), 1);
	cr_assert_eq(state_intent_resolve_delete(st, id, p.id, &err), 0, "%s", err.text);
	cr_assert_eq(pending(st, inbox), 0);
	cr_assert_eq(state_pairs_load(st, inbox, &pairs, &err), 0);
	cr_assert_eq(pairs.count, 0);
	state_pairs_free(&pairs);

	/* Deleting a pair some other way clears the intent's reference. */
	p.id = 0;
	cr_assert_eq(state_pair_insert(st, &p, &err), 0);
	in.pair_id = p.id;
	add_intent(st, &in);
	cr_assert_eq(state_pair_delete(st, p.id, &err), 0, "%s", err.text);
	cr_assert_eq(state_intent_list(st, inbox, &set, &err), 0);
	cr_assert_eq(set.count, 1);
	cr_assert_eq(set.intents[0].pair_id, 0);
	state_intents_free(&set);
	state_close(st);
}

Test(state_intent, invalid_intents_are_refused)
{
	struct state *st = state_test_open("work.db");
	struct state_intent bad_kind = {.kind = 77};
	struct state_intent bad_name = {
	    .kind = STATE_INTENT_COPY, .side = SIDE_B, .msg = {{0, NULL}, {0, "a/b"}}};
	struct state_intent bad_folder = {
	    .folder_id = 55, .kind = STATE_INTENT_DELETE, .side = SIDE_B, .msg = {{0, NULL}, {0, "x"}}};
	struct error err;
	int64_t id;

	cr_assert_eq(state_intent_add(st, &bad_kind, &id, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert_eq(state_intent_add(st, &bad_name, &id, &err), -1);
	cr_assert_eq(err.scope, ERR_MESSAGE);
	cr_assert_eq(state_intent_add(st, &bad_folder, &id, &err), -1);
	cr_assert_eq(err.scope, ERR_FATAL);
	cr_assert_eq(id, 0);
	state_close(st);
}
