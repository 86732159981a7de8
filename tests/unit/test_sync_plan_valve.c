/* The planner's safety nets: the mass-delete valve, refused inputs, notes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/util/buf.h"
#include "unit/test_sync_plan.h"

/*
 * A folder of `total` paired messages (uid i <-> local "m<i>") where the
 * first `gone_remote` are gone from the server and the next `gone_local`
 * are gone locally.
 */
static void plan_deletions(size_t total, size_t gone_remote, size_t gone_local, const char *rules,
                           struct plan *plan_r)
{
	struct buf state = BUF_INIT, remote = BUF_INIT, local = BUF_INIT;

	for (size_t i = 1; i <= total; i++) {
		buf_printf(&state, "%zu/m%zu:S ", i, i);
		if (i > gone_remote)
			buf_printf(&remote, "%zu:S ", i);
		if (i <= gone_remote || i > gone_remote + gone_local)
			buf_printf(&local, "m%zu:S ", i);
	}
	free(plan_world(buf_cstr(&state), buf_cstr(&remote), buf_cstr(&local), rules, plan_r));
	buf_free(&state);
	buf_free(&remote);
	buf_free(&local);
}

static size_t count(const struct plan *plan, enum plan_kind kind, enum side side)
{
	size_t n;

	plan_actions(plan, kind, side, &n);
	return n;
}

static bool has_note(const struct plan *plan, enum plan_note_kind kind, const char *text)
{
	for (size_t i = 0; i < plan->note_count; i++)
		if (plan->notes[i].kind == kind && strstr(plan->notes[i].text, text))
			return true;
	return false;
}

Test(sync_plan_valve, deletions_under_either_threshold_go_ahead)
{
	struct plan plan;

	/* 21 deletions, but only 21% of 100. */
	plan_deletions(100, 21, 0, "", &plan);
	cr_assert_eq(plan.status, PLAN_OK);
	cr_assert_eq(count(&plan, PLAN_DELETE, SIDE_B), 21);
	cr_assert_eq(plan.side[SIDE_B].deletions, 21);
	cr_assert_eq(plan.side[SIDE_B].total, 100);
	cr_assert_not(plan.side[SIDE_B].blocked);
	plan_free(&plan);

	/* 50% of the folder, but only 20 messages. */
	plan_deletions(40, 20, 0, "", &plan);
	cr_assert_eq(plan.status, PLAN_OK);
	cr_assert_eq(count(&plan, PLAN_DELETE, SIDE_B), 20);
	plan_free(&plan);

	/* Exactly 25% is not more than 25%. */
	plan_deletions(84, 21, 0, "", &plan);
	cr_assert_eq(plan.status, PLAN_OK);
	cr_assert_eq(count(&plan, PLAN_DELETE, SIDE_B), 21);
	plan_free(&plan);
}

Test(sync_plan_valve, deletions_over_both_thresholds_are_blocked_and_kept)
{
	struct plan plan;

	plan_deletions(80, 21, 0, "", &plan);
	cr_assert_eq(plan.status, PLAN_MASS_DELETE_BLOCKED);
	cr_assert(plan.side[SIDE_B].blocked);
	cr_assert_not(plan.side[SIDE_A].blocked);
	cr_assert_eq(plan.side[SIDE_B].deletions, 21, "the count the user is told about");
	cr_assert_eq(count(&plan, PLAN_DELETE, SIDE_B), 0, "no local deletion in the plan");
	cr_assert_eq(count(&plan, PLAN_UPDATE_PAIR, SIDE_A), 0, "the pairs are kept as they were");
	cr_assert_eq(count(&plan, PLAN_FORGET, SIDE_A), 0);
	cr_assert(has_note(&plan, PLAN_NOTE_MASS_DELETE, "--allow-mass-delete"));
	cr_assert(has_note(&plan, PLAN_NOTE_MASS_DELETE, "21 of the 80 local messages"));
	plan_free(&plan);
}

Test(sync_plan_valve, each_side_is_judged_on_its_own)
{
	struct plan plan;

	/* 30 deleted locally (of 100 on the server: blocked), 5 deleted on
	 * the server (of 70 local: fine). */
	plan_deletions(100, 5, 30, "", &plan);
	cr_assert_eq(plan.status, PLAN_MASS_DELETE_BLOCKED);
	cr_assert(plan.side[SIDE_A].blocked);
	cr_assert_not(plan.side[SIDE_B].blocked);
	cr_assert_eq(plan.side[SIDE_A].deletions, 30);
	cr_assert_eq(plan.side[SIDE_A].total, 95);
	cr_assert_eq(count(&plan, PLAN_DELETE, SIDE_A), 0);
	cr_assert_eq(count(&plan, PLAN_DELETE, SIDE_B), 5, "the other side's deletions still happen");
	cr_assert(has_note(&plan, PLAN_NOTE_MASS_DELETE, "on the server"));
	plan_free(&plan);
}

Test(sync_plan_valve, allow_mass_delete_and_thresholds_from_the_rules)
{
	struct plan plan;

	plan_deletions(80, 60, 0, "allow", &plan);
	cr_assert_eq(plan.status, PLAN_OK);
	cr_assert_eq(count(&plan, PLAN_DELETE, SIDE_B), 60);
	cr_assert_eq(plan.side[SIDE_B].deletions, 60);
	plan_free(&plan);

	plan_deletions(10, 3, 0, "pct=10 min=2", &plan);
	cr_assert_eq(plan.status, PLAN_MASS_DELETE_BLOCKED);
	plan_free(&plan);

	/* A whole folder emptied: the classic "missing Maildir" accident. */
	plan_deletions(500, 0, 500, "", &plan);
	cr_assert_eq(plan.status, PLAN_MASS_DELETE_BLOCKED);
	cr_assert_eq(plan.action_count, 0);
	plan_free(&plan);
}

Test(sync_plan_valve, copies_back_are_not_deletions)
{
	struct plan plan;
	struct buf state = BUF_INIT, local = BUF_INIT;

	/* 50 of 60 gone on the server, all changed locally: copied back. */
	for (size_t i = 1; i <= 60; i++) {
		buf_printf(&state, "%zu/m%zu:S ", i, i);
		buf_printf(&local, "m%zu:%s ", i, i <= 50 ? "FS" : "S");
	}
	free(plan_world(buf_cstr(&state), "51:S 52:S 53:S 54:S 55:S 56:S 57:S 58:S 59:S 60:S",
	                buf_cstr(&local), "", &plan));
	cr_assert_eq(plan.status, PLAN_OK);
	cr_assert_eq(count(&plan, PLAN_COPY, SIDE_A), 50);
	cr_assert_eq(plan.side[SIDE_B].deletions, 0);
	buf_free(&state);
	buf_free(&local);
	plan_free(&plan);
}

/* A folder emptied on one side: every other message is held back,
 * however few, unless allowed or \Trash / \Junk. */
static const struct plan_row emptied_rows[] = {
    {"server emptied: no local deletion", "5/a:S 6/b:S 7/c:S 8/d:S 9/e:S", "", "a:S b:S c:S d:S e:S", "", ""},
    {"local emptied: no server deletion", "5/a:S 6/b:S 7/c:S 8/d:S 9/e:S", "5:S 6:S 7:S 8:S 9:S", "", "", ""},
    {"two messages are enough", "5/a:S 6/b:S", "", "a:S b:S", "", ""},
    {"server emptied, a new local message still goes up", "5/a:S 6/b:S", "", "a:S b:S n:F", "", "copyR n:F"},
    {"every server message gone, a new one came: it still comes down", "5/a:S 6/b:S", "7:S", "a:S b:S", "",
     "copyL 7:S"},
    {"a changed message is copied back, the others held", "5/a:S 6/b:S 7/c:S", "", "a:S b:S c:FS", "",
     "copyR c:FS p3"},
    {"one message is no accident", "5/a:S", "", "a:S", "", "delL a p1"},
    {"one of one on the server", "5/a:S", "5:S", "", "", "delR 5 p1"},
    {"some left on both sides", "5/a:S 6/b:S 7/c:S", "7:S", "a:S b:S c:S", "", "delL a p1; delL b p2"},
    {"--allow-mass-delete", "5/a:S 6/b:S 7/c:S", "", "a:S b:S c:S", "allow",
     "delL a p1; delL b p2; delL c p3"},
    {"--allow-mass-delete, other way", "5/a:S 6/b:S", "5:S 6:S", "", "allow", "delR 5 p1; delR 6 p2"},
    {"\\Trash is emptied routinely", "5/a:S 6/b:S 7/c:S", "", "a:S b:S c:S", "use=trash",
     "delL a p1; delL b p2; delL c p3"},
    {"\\Trash, other way", "5/a:S 6/b:S", "5:S 6:S", "", "use=trash", "delR 5 p1; delR 6 p2"},
    {"\\Junk too", "5/a:S 6/b:S", "", "a:S b:S", "use=junk", "delL a p1; delL b p2"},
    {"\\Junk, other way", "5/a:S 6/b:S", "5:S 6:S", "", "use=junk", "delR 5 p1; delR 6 p2"},
    {"no expunge: nothing to hold", "5/a:S 6/b:S", "", "a:S b:S", "exp=none", "upd p1 -R; upd p2 -R"},
};

Test(sync_plan_valve, a_folder_emptied_on_one_side_is_not_emptied_on_the_other)
{
	check_rows(emptied_rows, sizeof(emptied_rows) / sizeof(emptied_rows[0]));
}

Test(sync_plan_valve, an_emptied_side_says_why_and_what_to_do)
{
	struct plan plan;

	free(plan_world("5/a:S 6/b:S 7/c:S 8/d:S 9/e:S", "", "a:S b:S c:S d:S e:S", "", &plan));
	cr_assert_eq(plan.status, PLAN_MASS_DELETE_BLOCKED);
	cr_assert(plan.side[SIDE_B].blocked && plan.side[SIDE_B].emptied);
	cr_assert_not(plan.side[SIDE_A].blocked);
	cr_assert_eq(plan.side[SIDE_B].deletions, 5, "the count the user is told about");
	cr_assert_eq(plan.action_count, 0, "the pairs stay as they were: nothing forgotten");
	cr_assert(has_note(&plan, PLAN_NOTE_MASS_DELETE, "delete all 5 local messages"));
	cr_assert(has_note(&plan, PLAN_NOTE_MASS_DELETE, "empty on the server"));
	cr_assert(has_note(&plan, PLAN_NOTE_MASS_DELETE, "--allow-mass-delete"));
	plan_free(&plan);

	free(plan_world("5/a:S 6/b:S", "5:S 6:S", "", "", &plan));
	cr_assert(plan.side[SIDE_A].blocked && plan.side[SIDE_A].emptied);
	cr_assert_not(plan.side[SIDE_B].blocked);
	cr_assert(has_note(&plan, PLAN_NOTE_MASS_DELETE, "delete all 2 messages on the server"));
	cr_assert(has_note(&plan, PLAN_NOTE_MASS_DELETE, "local folder is now empty"));
	cr_assert(has_note(&plan, PLAN_NOTE_MASS_DELETE, "--allow-mass-delete"));
	plan_free(&plan);

	/* A new local message: the server's emptying is still what counts. */
	free(plan_world("5/a:S 6/b:S", "", "a:S b:S n:S", "", &plan));
	cr_assert(plan.side[SIDE_B].emptied);
	cr_assert(has_note(&plan, PLAN_NOTE_MASS_DELETE, "delete 2 of the 3 local messages"));
	plan_free(&plan);

	/* Over the old threshold too: the emptied wording wins. */
	plan_deletions(500, 0, 500, "", &plan);
	cr_assert(plan.side[SIDE_A].emptied);
	cr_assert_eq(plan.note_count, 1);
	plan_free(&plan);

	/* Over the threshold only: not emptied. */
	plan_deletions(80, 21, 0, "", &plan);
	cr_assert(plan.side[SIDE_B].blocked);
	cr_assert_not(plan.side[SIDE_B].emptied);
	plan_free(&plan);

	free(plan_world("5/a:S 6/b:S", "", "a:S b:S", "use=trash", &plan));
	cr_assert_eq(plan.status, PLAN_OK);
	cr_assert_not(plan.side[SIDE_B].emptied);
	cr_assert_eq(plan.note_count, 0);
	plan_free(&plan);
}

static void expect_refused(const char *state, const char *remote, const char *local, const char *why)
{
	struct world w;
	struct plan_rules rules;
	struct plan plan;
	struct plan_input in;
	struct error err;

	world_parse(&w, state, remote, local);
	rules_parse(&rules, "");
	in = world_input(&w);
	cr_assert_eq(plan_build(&in, &rules, &plan, &err), -1, "%s: refused", why);
	cr_assert_eq(err.scope, ERR_MAILBOX, "%s: the folder is skipped, not the run", why);
	cr_assert_eq(plan.action_count, 0, "%s: an empty plan", why);
	cr_assert_null(plan.actions);
	plan_free(&plan);
	world_free(&w);
}

Test(sync_plan_valve, contradictory_input_is_refused)
{
	expect_refused("", "5 5", "", "a UID twice on the server");
	expect_refused("", "0", "", "UID 0");
	expect_refused("", "", "a b a", "a local id twice");
	expect_refused("5/a 5/b", "", "", "a UID twice in the state");
	expect_refused("5/a 6/a", "", "", "a local id twice in the state");
	expect_refused("0/-", "", "", "a pair with no side");

	struct world w;
	struct plan_rules rules;
	struct plan plan;
	struct plan_input in;
	struct error err;

	world_parse(&w, "", "", "a");
	w.local[0].id.name = "";
	rules_parse(&rules, "");
	in = world_input(&w);
	cr_assert_eq(plan_build(&in, &rules, &plan, &err), -1);
	cr_assert(strstr(err.text, "skipping this folder"), "%s", err.text);
	plan_free(&plan);
	world_free(&w);
}

Test(sync_plan_valve, notes_explain_what_was_not_done)
{
	struct plan plan;

	free(plan_world("5/a:S", "", "a:FS", "", &plan));
	cr_assert(has_note(&plan, PLAN_NOTE_CHANGED_WINS, "copying it back"));
	plan_free(&plan);

	free(plan_world("5/a:S", "", "a:S", "exp=none", &plan));
	cr_assert(has_note(&plan, PLAN_NOTE_NOT_DELETED, "expunge does not include local"));
	cr_assert_eq(plan.notes[0].pair_id, 1);
	cr_assert_eq(plan.notes[0].id[SIDE_A].uid, 5);
	cr_assert_str_eq(plan.notes[0].id[SIDE_B].name, "a");
	plan_free(&plan);

	free(plan_world("5/a:S", "5:S", "", "dir=pull", &plan));
	cr_assert(has_note(&plan, PLAN_NOTE_NOT_DELETED, "direction pull"));
	plan_free(&plan);

	free(plan_world("", "9:SF@k", "b:ST@k", "", &plan));
	cr_assert(has_note(&plan, PLAN_NOTE_FLAGS_MERGED, "\\Seen \\Flagged"));
	plan_free(&plan);

	free(plan_world("5/a:S@k", "7:S@k", "a:S@k", "", &plan));
	cr_assert(has_note(&plan, PLAN_NOTE_REATTACHED, "UID 7"));
	plan_free(&plan);

	free(plan_world("", "9 10", "b", "first", &plan));
	cr_assert(has_note(&plan, PLAN_NOTE_NO_KEY, "2 messages on the server and 1 local"));
	plan_free(&plan);

	free(plan_world("", "9 10", "", "first", &plan));
	cr_assert_eq(plan.note_count, 0, "nothing to duplicate on an empty side");
	plan_free(&plan);

	free(plan_world("5/a:S", "5:S", "a:S", "", &plan));
	cr_assert_eq(plan.note_count, 0, "a quiet sync writes no note");
	plan_free(&plan);
}

Test(sync_plan_valve, default_rules_are_the_config_defaults)
{
	struct plan_rules rules;

	plan_rules_init(&rules);
	cr_assert_eq(rules.direction, PLAN_DIRECTION_BOTH);
	cr_assert(rules.flags);
	cr_assert_eq(rules.expunge, PLAN_WHERE_BOTH, "the config's default: deletions are carried over");
	cr_assert_eq(rules.create, PLAN_WHERE_BOTH);
	cr_assert_eq(rules.max_size, 0);
	cr_assert_not(rules.allow_mass_delete);
	cr_assert_not(rules.first_sync);
	cr_assert_not(rules.remove_folders);
	cr_assert_eq(rules.mass_delete_percent, 25);
	cr_assert_eq(rules.mass_delete_min, 20);
}
