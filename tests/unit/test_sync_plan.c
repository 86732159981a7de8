/* The message planner, table by table: see test_sync_plan.h for the notation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit/test_sync_plan.h"

#define ROWS(rows) check_rows(rows, sizeof(rows) / sizeof(rows[0]))

Test(sync_plan, nothing_to_do_when_both_sides_match_the_state)
{
	static const struct plan_row rows[] = {
	    {"empty folder", "", "", "", "", ""},
	    {"in sync", "5/a:S@k 6/b:F+$Junk", "5:S@k 6:F+$Junk", "a:S@k b:F+$junk", "", ""},
	    {"keywords compare without case", "5/a:+Work", "5:+work", "a:+WORK", "", ""},
	    {"flags off, in sync", "5/a:S", "5:S", "a:S", "flags=off", ""},
	};
	ROWS(rows);
}

Test(sync_plan, a_flag_changed_on_one_side_goes_to_the_other)
{
	static const struct plan_row rows[] = {
	    {"server set \\Flagged", "5/a:S", "5:FS", "a:S", "", "setL a +F; upd p1 :FS"},
	    {"local cleared \\Seen", "5/a:S", "5:S", "a:", "", "setR 5 -S; upd p1 :"},
	    {"each side set another flag", "5/a:", "5:F", "a:S", "", "setL a +F; setR 5 +S; upd p1 :FS"},
	    {"both set the same flag", "5/a:", "5:F", "a:F", "", "upd p1 :F"},
	    {"both cleared the same flag", "5/a:FS", "5:S", "a:S", "", "upd p1 :S"},
	    {"\\Deleted is an ordinary flag", "5/a:S", "5:ST", "a:S", "", "setL a +T; upd p1 :ST"},
	    {"\\Deleted cleared locally", "5/a:ST", "5:ST", "a:S", "", "setR 5 -T; upd p1 :S"},
	    {"\\Draft and \\Answered", "5/a:D", "5:", "a:DR", "", "setL a -D; setR 5 +R; upd p1 :R"},
	    {"keywords merge per keyword", "5/a:S+work", "5:S+$Junk+work", "a:S", "",
	     "setL a +$Junk; setR 5 -work; upd p1 :S+$Junk"},
	    {"keyword case change is no change; canonical spelling", "5/a:+Work", "5:+WORK", "a:+Work+todo",
	     "", "setR 5 +todo; upd p1 :+todo+WORK"},
	};
	ROWS(rows);
}

Test(sync_plan, direction_limits_where_flags_change)
{
	static const struct plan_row rows[] = {
	    {"pull: a local change stays local", "5/a:S", "5:S", "a:FS", "dir=pull", ""},
	    {"pull: server changes come down", "5/a:S", "5:RS", "a:FS", "dir=pull", "setL a +R; upd p1 :RS"},
	    {"push: a server change stays there", "5/a:S", "5:RS", "a:S", "dir=push", ""},
	    {"push: local changes go up", "5/a:S", "5:RS", "a:FS", "dir=push", "setR 5 +F; upd p1 :FS"},
	    {"flags off: nothing", "5/a:S", "5:FS", "a:", "flags=off", ""},
	    {"flags off: no last-synced update", "5/a:S", "5:F", "a:F", "flags=off", ""},
	};
	ROWS(rows);
}

Test(sync_plan, first_sync_merges_flags_without_a_base)
{
	static const struct plan_row rows[] = {
	    {"set wins, \\Deleted clear wins", "", "9:SF@k", "b:ST@k", "first",
	     "pair 9/b:ST; setL b +F-T; upd 9/b :FS"},
	    {"union of keywords", "", "9:+$Junk@k", "b:+work@k", "",
	     "pair 9/b:; setL b +$Junk; setR 9 +work; upd 9/b :+$Junk+work"},
	    {"known pair under first_sync", "5/a:S", "5:FS", "a:ST", "first",
	     "pair p1 5/a:ST; setL a +F-T; upd p1 :FS"},
	    {"first_sync, sides agree, base differs", "5/a:S", "5:F", "a:F", "first", "pair p1 5/a:F"},
	    {"first_sync, all agree", "5/a:S", "5:S", "a:S", "first", ""},
	    {"first_sync, base already right", "5/a:S", "5:FS", "a:S", "first", "setL a +F; upd p1 :FS"},
	    {"pull: only the local side changes", "", "9:S@k", "b:FT@k", "dir=pull",
	     "pair 9/b:T; setL b +S-T; upd 9/b :S"},
	    {"pull: \\Deleted on the server stays", "", "9:T@k", "b:@k", "dir=pull", "pair 9/b:T"},
	    {"push: \\Deleted cleared on the server", "", "9:T@k", "b:@k", "dir=push",
	     "pair 9/b:T; setR 9 -T; upd 9/b :"},
	    {"flags off: recorded, nothing changed", "", "9:S@k", "b:F@k", "flags=off", "pair 9/b:"},
	};
	ROWS(rows);
}

Test(sync_plan, a_deletion_reaches_the_other_side_when_expunge_allows)
{
	static const struct plan_row rows[] = {
	    {"server deletion, local unchanged", "5/a:S", "", "a:S", "", "delL a p1"},
	    {"local deletion, server unchanged", "5/a:S", "5:S", "", "", "delR 5 p1"},
	    {"setting \\Deleted is no change", "5/a:S", "", "a:ST", "", "delL a p1"},
	    {"flags off: flag changes do not count", "5/a:S", "", "a:FS", "flags=off", "delL a p1"},
	    {"exp=local only", "5/a:S", "", "a:S", "exp=local", "delL a p1"},
	    {"exp=remote only", "5/a:S", "5:S", "", "exp=remote", "delR 5 p1"},
	};
	ROWS(rows);
}

Test(sync_plan, changed_wins_over_a_deletion)
{
	static const struct plan_row rows[] = {
	    {"local changed: copied back", "5/a:S@k", "", "a:FS@k", "", "copyR a:FS p1"},
	    {"local cleared \\Deleted: copied back", "5/a:ST", "", "a:S", "", "copyR a:S p1"},
	    {"server changed: copied back", "5/a:S", "5:FS", "", "", "copyL 5:FS p1"},
	    {"server keyword: copied back", "5/a:S", "5:S+$Important", "", "", "copyL 5:S+$Important p1"},
	    {"pull cannot copy back", "5/a:S", "", "a:FS", "dir=pull", "upd p1 -R"},
	    {"push cannot copy back", "5/a:S", "5:FS", "", "dir=push", "upd p1 -L"},
	    {"too big to copy back", "5/a:S", "", "a:FS#500", "max=100", "big L a; upd p1 -R"},
	    {"first sync: no base, so changed", "5/a:S", "", "a:S", "first", "copyR a:S p1"},
	};
	ROWS(rows);
}

Test(sync_plan, a_deletion_not_carried_over_keeps_the_other_copy)
{
	static const struct plan_row rows[] = {
	    {"exp=none, server deletion", "5/a:S", "", "a:S", "exp=none", "upd p1 -R"},
	    {"exp=none, local deletion", "5/a:S", "5:S", "", "exp=none", "upd p1 -L"},
	    {"exp=remote, server deletion", "5/a:S", "", "a:S", "exp=remote", "upd p1 -R"},
	    {"exp=local, local deletion", "5/a:S", "5:S", "", "exp=local", "upd p1 -L"},
	    {"exp=none, changed: not copied back", "5/a:S", "", "a:FS", "exp=none", "upd p1 -R"},
	    {"push never deletes locally", "5/a:S", "", "a:S", "dir=push", "upd p1 -R"},
	    {"pull never deletes on the server", "5/a:S", "5:S", "", "dir=pull", "upd p1 -L"},
	};
	ROWS(rows);
}

Test(sync_plan, a_pair_with_one_side_is_left_alone_or_forgotten)
{
	static const struct plan_row rows[] = {
	    {"both sides gone", "5/a:S", "", "", "", "forget p1"},
	    {"remote-only pair, remote there", "5/-:S", "5:S", "", "", ""},
	    {"remote-only pair, flags changed", "5/-:S", "5:FS", "", "", ""},
	    {"remote-only pair, remote gone", "5/-:S", "", "", "", "forget p1"},
	    {"local-only pair, local there", "0/a:S", "", "a:S", "", ""},
	    {"local-only pair is never uploaded again", "0/a:S", "", "a:FS", "", ""},
	    {"local-only pair, local gone", "0/a:S", "", "", "", "forget p1"},
	    {"several at once", "5/a 6/- 0/c 7/d", "5 6", "a c", "exp=none", "forget p4"},
	};
	ROWS(rows);
}

Test(sync_plan, new_messages_are_copied_where_the_direction_allows)
{
	static const struct plan_row rows[] = {
	    {"new on the server", "", "9:S@k", "", "", "copyL 9:S"},
	    {"new locally", "", "", "b:FS@k", "", "copyR b:FS"},
	    {"both, different keys", "", "9@k1", "b@k2", "", "copyL 9:; copyR b:"},
	    {"both, no keys: never matched", "", "9:S", "b:S", "", "copyL 9:S; copyR b:S"},
	    {"push: server message stays", "", "9", "b", "dir=push", "copyR b:"},
	    {"pull: local message stays", "", "9", "b", "dir=pull", "copyL 9:"},
	    {"beside known pairs", "5/a:S", "5:S 9:S", "a:S b", "", "copyL 9:S; copyR b:"},
	};
	ROWS(rows);
}

Test(sync_plan, max_size_skips_big_messages_and_never_deletes_them)
{
	static const struct plan_row rows[] = {
	    {"bigger than max", "", "9#101", "b#5000", "max=100", "big L b; big R 9"},
	    {"exactly max", "", "9#100", "b#100", "max=100", "copyL 9:; copyR b:"},
	    {"no limit", "", "9#999999999", "", "max=0", "copyL 9:"},
	    {"big but on both sides: paired", "", "9@k#500", "b@k#500", "max=100", "pair 9/b:"},
	    {"big and direction forbids: silent", "", "9#500", "", "max=100 dir=push", ""},
	};
	ROWS(rows);
}

Test(sync_plan, same_content_key_pairs_instead_of_copying)
{
	static const struct plan_row rows[] = {
	    {"one to one", "", "9:S@k", "b:S@k", "", "pair 9/b:S"},
	    {"direction does not matter", "", "9:S@k", "b:S@k", "dir=push", "pair 9/b:S"},
	    {"pull with extra local flag", "", "9:S@k", "b:FS@k", "dir=pull", "pair 9/b:S"},
	    {"duplicates pair count-wise (more remote)", "", "9@k 10@k 11@k", "a@k b@k", "",
	     "copyL 11:; pair 10/b:; pair 9/a:"},
	    {"duplicates pair count-wise (more local)", "", "9@k", "c@k a@k b@k", "",
	     "copyR b:; copyR c:; pair 9/a:"},
	    {"input order does not matter", "", "11@k 9@k", "b@k a@k", "", "pair 11/b:; pair 9/a:"},
	    {"mixed keys", "", "9@x 10@y", "a@y b@x c", "", "copyR c:; pair 10/a:; pair 9/b:"},
	    {"a NULL key matches nothing", "", "9 10@k", "a b@k", "", "copyL 9:; copyR a:; pair 10/b:"},
	};
	ROWS(rows);
}

Test(sync_plan, a_new_message_re_attaches_to_a_pair_that_lost_its_partner)
{
	static const struct plan_row rows[] = {
	    {"UID changed", "5/a:S@k", "7:S@k", "a:S@k", "", "pair p1 7/a:S"},
	    {"Maildir file renamed", "5/a:S@k", "5:S@k", "b:S@k", "", "pair p1 5/b:S"},
	    {"local-only pair meets its message again", "0/a:S@k", "9:S@k", "a:S@k", "", "pair p1 9/a:S"},
	    {"remote-only pair meets its message again", "5/-:S@k", "5:S@k", "b:S@k", "", "pair p1 5/b:S"},
	    {"flags merged without a base", "5/a:S@k", "7:FS@k", "a:S@k", "",
	     "pair p1 7/a:S; setL a +F; upd p1 :FS"},
	    {"key known only to the state", "5/a:S@k", "7:S@k", "a:S", "", "pair p1 7/a:S"},
	    {"pairs come before new messages", "5/a:@k", "9@k", "a@k b@k", "", "copyR b:; pair p1 9/a:"},
	    {"no re-attach when the other side is gone too", "5/a:@k", "9@k", "", "", "copyL 9:; forget p1"},
	    {"two half pairs are not merged", "5/-:@k 0/b:@k", "5@k", "b@k", "", ""},
	};
	ROWS(rows);
}

/*
 * Issue 13: device 1 changed X's flags, X left the server, device 1 put
 * it back (a new UID, device 1's flags); device 2 changed X's flags too
 * and syncs now. Its pair lost UID 5; the server's UID 9 has the pair's
 * content key: it is X again, so X is re-attached (not copied back a
 * second time), and the flags merge against the last-synced ones, each
 * device's change kept (a cleared \Seen stays cleared).
 */
Test(sync_plan, a_message_put_back_by_another_device_is_re_attached_and_merged)
{
	static const struct plan_row rows[] = {
	    {"put back with \\Flagged; here \\Answered set, \\Seen cleared", "5/a:S@k", "9:FS@k", "a:R", "",
	     "pair p1 9/a:S; setL a +F; setR 9 +R-S; upd p1 :FR"},
	    {"whatever expunge says", "5/a:S@k", "9:FS@k", "a:R", "exp=none",
	     "pair p1 9/a:S; setL a +F; setR 9 +R-S; upd p1 :FR"},
	    {"the other device cleared a flag", "5/a:FS@k", "9:S@k", "a:FS", "",
	     "pair p1 9/a:FS; setL a -F; upd p1 :S"},
	    {"a file renamed by a mail reader keeps its changes", "5/a:FS@k", "5:S@k", "b:FRS@k", "",
	     "pair p1 5/b:FS; setL b -F; setR 5 +R; upd p1 :RS"},
	    {"first sync: no base, the set wins", "5/a:S@k", "9:FS@k", "a:R", "first",
	     "pair p1 9/a:; setL a +FS; setR 9 +R; upd p1 :FRS"},
	};
	ROWS(rows);
}

/*
 * Issue 13: after a UIDVALIDITY change (or another server), a message the
 * server no longer has is uploaded again, whatever expunge says; one it
 * still has is re-attached; one deleted on the server before (uid 0 but
 * not renumbered) stays deleted there; nothing is deleted anywhere.
 */
Test(sync_plan, a_renumbered_server_gets_back_what_it_lost)
{
	static const struct plan_row rows[] = {
	    {"lost: uploaded again", "?/a:S@k", "", "a:S", "", "copyR a:S p1 again"},
	    {"whatever expunge says", "?/a:S@k", "", "a:S", "exp=none", "copyR a:S p1 again"},
	    {"under first_sync too", "?/a:S@k", "", "a:S", "first", "copyR a:S p1 again"},
	    {"still there: re-attached, flags merged without a base", "?/a:S@k", "3:F@k", "a:S", "",
	     "pair p1 3/a:; setL a +F; setR 3 +S; upd p1 :FS"},
	    {"deleted on the server before: not uploaded", "0/a:S@k", "", "a:S", "", ""},
	    {"deleted locally too: forgotten", "?/a:S@k", "", "", "", "forget p1"},
	    {"direction pull: kept back", "?/a:S@k", "", "a:S", "dir=pull", ""},
	    {"over max_size", "?/a:S@k#500", "", "a:S#500", "max=100", "big L a"},
	    {"new on the server: downloaded, nothing deleted", "?/a:S@k", "7@j", "a:S", "",
	     "copyL 7:; copyR a:S p1 again"},
	};
	ROWS(rows);
}

Test(sync_plan, the_plan_is_grouped_by_kind_in_execution_order)
{
	struct plan plan;
	char *text = plan_world("1/a:S 2/b 3/c 4/d", "1:FS 2 3 4 9 10@k", "b:S c:S d:F e f@k", "", &plan);
	enum plan_kind last = 0;
	size_t n;

	cr_assert_str_eq(text,
	                 "copyL 1:FS p1; copyL 9:; copyR e:; pair 10/f:; setR 2 +S; setR 3 +S; setR 4 +F; "
	                 "upd p2 :S; upd p3 :S; upd p4 :F");
	free(text);
	for (size_t i = 0; i < plan.action_count; i++) {
		cr_assert_geq(plan.actions[i].kind, last, "actions are sorted by kind");
		last = plan.actions[i].kind;
	}
	cr_assert_eq(plan.slot_start[PLAN_SLOTS], plan.action_count);
	const struct plan_action *a = plan_actions(&plan, PLAN_SET_FLAGS, SIDE_A, &n);
	cr_assert_eq(n, 3);
	cr_assert_eq(PLAN_SLOT(a[0].kind, a[0].side), PLAN_SLOT(PLAN_SET_FLAGS, SIDE_A));
	cr_assert_eq(a[2].id[SIDE_A].uid, 4);
	plan_actions(&plan, PLAN_PAIR_EXISTING, SIDE_A, &n);
	cr_assert_eq(n, 1);
	plan_actions(&plan, PLAN_FORGET, SIDE_A, &n);
	cr_assert_eq(n, 0);
	cr_assert_str_eq(plan_kind_name(PLAN_COPY, SIDE_B), "copy-to-local");
	cr_assert_str_eq(plan_kind_name(PLAN_SKIP_TOO_BIG, SIDE_B), "skip-too-big");
	plan_free(&plan);
}

Test(sync_plan, remote_flag_changes_group_into_one_store_per_change)
{
	struct plan plan;
	struct plan_flag_group *g;
	char *text = plan_world("1/a 2/b 3/c 4/d 5/e:S+x 6/f:S+x", "1 2 3 4 5:S+x 6:S+x",
	                        "a:S b:S c:F d:S e:+x f:+x", "", &plan);
	size_t n = plan_flag_groups(&plan, SIDE_A, &g);

	free(text);
	cr_assert_eq(n, 3, "+S, +F and -S make three groups");
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		total += g[i].count;
		for (size_t j = 0; j < g[i].count; j++) {
			cr_assert_eq(PLAN_SLOT(g[i].actions[j].kind, g[i].actions[j].side),
			             PLAN_SLOT(PLAN_SET_FLAGS, SIDE_A));
			cr_assert_eq(g[i].actions[j].change.add, g[i].change->add);
			cr_assert_eq(g[i].actions[j].change.remove, g[i].change->remove);
			if (j)
				cr_assert_gt(g[i].actions[j].id[SIDE_A].uid,
				             g[i].actions[j - 1].id[SIDE_A].uid, "uids ascend in a group");
		}
		if (g[i].change->add == MAIL_FLAG_SEEN) {
			cr_assert_eq(g[i].count, 3);
			cr_assert_eq(g[i].actions[0].id[SIDE_A].uid, 1);
			cr_assert_eq(g[i].actions[1].id[SIDE_A].uid, 2);
			cr_assert_eq(g[i].actions[2].id[SIDE_A].uid, 4);
		} else if (g[i].change->remove == MAIL_FLAG_SEEN) {
			cr_assert_eq(g[i].count, 2);
			cr_assert_null(g[i].change->add_keywords);
		} else {
			cr_assert_eq(g[i].change->add, MAIL_FLAG_FLAGGED);
			cr_assert_eq(g[i].count, 1);
		}
	}
	cr_assert_eq(total, 6);
	free(g);
	cr_assert_eq(plan_flag_groups(&plan, SIDE_B, &g), 0);
	cr_assert_null(g);
	plan_free(&plan);
}

Test(sync_plan, copies_carry_what_the_executor_needs)
{
	struct plan plan;
	char *text = plan_world("", "9:S+$Junk@key9#1234", "b:F@keyb#77", "", &plan);
	size_t n;
	const struct plan_action *a = plan_actions(&plan, PLAN_COPY, SIDE_B, &n);

	free(text);
	cr_assert_eq(n, 1);
	cr_assert_eq(a->id[SIDE_A].uid, 9);
	cr_assert_eq(a->size, 1234);
	cr_assert_str_eq(a->content_key, "key9");
	cr_assert_eq(a->flags, MAIL_FLAG_SEEN);
	cr_assert_str_eq(a->keywords, "$Junk");
	cr_assert_eq(a->time, 1000, "the server's internal date is kept");
	cr_assert_eq(a->pair_id, 0, "a new pair");
	a = plan_actions(&plan, PLAN_COPY, SIDE_A, &n);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(a->id[SIDE_B].name, "b");
	cr_assert_eq(a->size, 77);
	cr_assert_eq(a->time, 2000, "the file's mtime becomes the internal date");
	cr_assert_null(a->keywords);
	plan_free(&plan);
}

/* A side that cannot keep some flags (its server's PERMANENTFLAGS):
 * copies leave them out and say so, and the pair records what both
 * sides hold, so no later run tries again or reads their absence as a
 * change. */
Test(sync_plan, flags_a_side_cannot_keep_are_left_out_once)
{
	static const struct plan_row rows[] = {
	    {"copy without the keywords", "", "9:S+$Label7+Project-X", "", "keepL=ST",
	     "copyL 9:S lost:+$Label7+Project-X"},
	    {"system flags too", "", "9:SF+$Label7", "", "keepL=ST", "copyL 9:S lost:F+$Label7"},
	    {"a keyword listed is kept", "", "9:S+$Label7+work", "", "keepL=S+$label7",
	     "copyL 9:S+$Label7 lost:+work"},
	    {"\\* keeps any keyword", "", "9:S+$Label7", "", "keepL=DFRST+*", "copyL 9:S+$Label7"},
	    {"either way", "", "", "b:S+$Junk", "keepR=S", "copyR b:S lost:+$Junk"},
	    {"the next run has nothing to do", "9/a:S", "9:S+$Label7", "a:S", "keepL=ST", ""},
	    {"a flag kept for the session only is no change", "9/a:S", "9:S", "a:S+$Label7", "keepL=ST", ""},
	    {"an older record's keyword missing there is not cleared elsewhere", "9/a:S+$Label7",
	     "9:S+$Label7", "a:S", "keepL=ST", "upd p1 :S"},
	    {"flags it keeps still go", "9/a:S", "9:SF+$Label7", "a:S", "keepL=SF", "setL a +F; upd p1 :FS"},
	    {"once it keeps them, they go", "9/a:S", "9:S+$Label7", "a:S", "",
	     "setL a +$Label7; upd p1 :S+$Label7"},
	    {"no base: set wins where kept", "", "9:S+$Label7@k", "b:@k", "first keepL=S",
	     "pair 9/b:; setL b +S; upd 9/b :S"},
	};
	ROWS(rows);
}

/* A side with room for N new keywords (a Maildir folder's free keyword
 * letters) keeps the first N the other side brings, in canonical order,
 * and no more: the plan never counts on a letter it cannot have. */
Test(sync_plan, room_for_new_keywords_goes_to_the_first_ones_in_order)
{
	struct plan_msg msgs[3] = {
	    {.id = {.uid = 1}, .keywords = "$Junk Zeta"},
	    {.id = {.uid = 2}, .keywords = "alpha $junk Beta"},
	    {.id = {.uid = 3}, .keywords = NULL},
	};
	struct store_keep keep = {
	    .limited = true, .flags = MAIL_FLAGS_ALL, .keywords = "$Forwarded Beta", .new_keywords_room = 2};
	char *text = plan_keep_room(&keep, msgs, 3);

	cr_assert_not_null(text);
	cr_expect_str_eq(keep.keywords, "$Forwarded $Junk alpha Beta", "$Junk and alpha, not Zeta");
	cr_expect_eq(keep.new_keywords_room, 0);
	cr_expect(store_keeps_keyword(&keep, "$JUNK", 5));
	cr_expect_not(store_keeps_keyword(&keep, "Zeta", 4));
	free(text);

	/* No room, or nothing new: unchanged. */
	keep = (struct store_keep){.limited = true, .keywords = "A", .new_keywords_room = 0};
	cr_expect_null(plan_keep_room(&keep, msgs, 3));
	cr_expect_str_eq(keep.keywords, "A");
	keep = (struct store_keep){.limited = false, .new_keywords_room = 3};
	cr_expect_null(plan_keep_room(&keep, msgs, 3));
}
