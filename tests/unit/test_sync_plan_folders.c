/* The folder-level planner. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"
#include "unit/test_sync_plan.h"

/*
 * Folders as "A B C"; known folders as "A B=r C=l D=rl", where r / l
 * mean the remote / local copy is unchanged since the last sync. The
 * plan prints as "create-local A; sync A*; ..." (* = first sync) and the
 * notes joined by " | ".
 */
struct folder_row {
	const char *name;
	const char *remote, *local, *known, *rules;
	const char *expect;
	const char *note; /* a part of the notes, or NULL for none */
};

static size_t split(char *text, const char **v, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(text, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		cr_assert_lt(n, max);
		v[n++] = t;
	}
	return n;
}

static void check_folders(const struct folder_row *rows, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct folder_row *row = &rows[i];
		char *rt = xstrdup(row->remote), *lt = xstrdup(row->local), *kt = xstrdup(row->known);
		const char *remote[16], *local[16], *known_text[16];
		struct plan_known_folder known[16];
		struct plan_folders_input in = {{remote, local}, {0, 0}, known, 0};
		struct plan_rules rules;
		struct plan_folders plan;
		struct buf got = BUF_INIT, notes = BUF_INIT;

		in.count[SIDE_A] = split(rt, remote, 16);
		in.count[SIDE_B] = split(lt, local, 16);
		in.known_count = split(kt, known_text, 16);
		for (size_t k = 0; k < in.known_count; k++) {
			char *eq = strchr(known_text[k], '=');
			known[k] = (struct plan_known_folder){known_text[k],
			                                      {eq && strchr(eq, 'r'), eq && strchr(eq, 'l')}};
			if (eq)
				*eq = '\0';
		}
		rules_parse(&rules, row->rules);
		plan_folders_build(&in, &rules, &plan);
		for (size_t a = 0; a < plan.action_count; a++)
			buf_printf(&got, "%s%s %s%s", a ? "; " : "",
			           plan_folder_kind_name(plan.actions[a].kind, plan.actions[a].side),
			           plan.actions[a].name, plan.actions[a].first_sync ? "*" : "");
		for (size_t k = 0; k < plan.note_count; k++)
			buf_printf(&notes, "%s%s", k ? " | " : "", plan.notes[k]);
		cr_expect_str_eq(buf_cstr(&got), row->expect, "row \"%s\"\n   got: %s\nwanted: %s", row->name,
		                 buf_cstr(&got), row->expect);
		if (row->note)
			cr_expect(strstr(buf_cstr(&notes), row->note), "row \"%s\": notes \"%s\" lack \"%s\"",
			          row->name, buf_cstr(&notes), row->note);
		else
			cr_expect_eq(plan.note_count, 0, "row \"%s\": unexpected notes: %s", row->name,
			             buf_cstr(&notes));
		buf_free(&got);
		buf_free(&notes);
		plan_folders_free(&plan);
		free(rt);
		free(lt);
		free(kt);
	}
}

#define FOLDER_ROWS(rows) check_folders(rows, sizeof(rows) / sizeof(rows[0]))

Test(sync_plan_folders, folders_on_both_sides_are_synced)
{
	static const struct folder_row rows[] = {
	    {"known", "INBOX Sent", "INBOX Sent", "INBOX Sent", "", "sync INBOX; sync Sent", NULL},
	    {"first time", "INBOX", "INBOX", "", "", "sync INBOX*", NULL},
	    {"INBOX in any case", "INBOX", "inbox", "Inbox", "", "sync INBOX", NULL},
	    {"other names are case-sensitive", "Work", "work", "", "create=none", "",
	     "folder \"Work\" exists only on the server"},
	    {"listed twice counts once", "A A", "A", "A A", "", "sync A", NULL},
	    {"nothing at all", "", "", "", "", "", NULL},
	    {"sorted by name", "b/x a c", "c a b/x", "", "", "sync a*; sync b/x*; sync c*", NULL},
	};
	FOLDER_ROWS(rows);
}

Test(sync_plan_folders, new_folders_are_created_where_the_rules_allow)
{
	static const struct folder_row rows[] = {
	    {"new on the server", "INBOX News", "INBOX", "INBOX", "",
	     "sync INBOX; create-local News; sync News*", NULL},
	    {"new locally", "INBOX", "INBOX Drafts", "INBOX", "",
	     "create-remote Drafts; sync Drafts*; sync INBOX", NULL},
	    {"create=remote: not locally", "A", "", "", "create=remote", "",
	     "not creating it locally (create does not include local)"},
	    {"create=local: not remotely", "", "A", "", "create=local", "",
	     "not creating it on the server (create does not include remote)"},
	    {"create=local", "A", "", "", "create=local", "create-local A; sync A*", NULL},
	    {"create=none", "A", "B", "", "create=none", "", "folder \"B\" exists only locally"},
	    {"pull never creates on the server", "A", "B", "", "dir=pull", "create-local A; sync A*",
	     "(direction pull)"},
	    {"push never creates locally", "A", "B", "", "dir=push", "create-remote B; sync B*",
	     "(direction push)"},
	};
	FOLDER_ROWS(rows);
}

Test(sync_plan_folders, a_missing_known_folder_is_never_read_as_all_deleted)
{
	static const struct folder_row rows[] = {
	    {"gone locally: not synced", "INBOX Old", "INBOX", "INBOX Old=rl", "", "sync INBOX",
	     "folder \"Old\" was synced before but is gone locally; not syncing it"},
	    {"gone on the server: not synced", "INBOX", "INBOX Old", "INBOX Old=rl", "", "sync INBOX",
	     "is gone on the server; not syncing it, so that nothing in it is deleted locally"},
	    {"not even recreated with create=both", "", "Old", "Old=rl", "create=both", "", "remove_folders"},
	    {"remove_folders, other copy unchanged", "Old", "", "Old=r", "rmfolders", "delete-remote Old",
	     NULL},
	    {"remove_folders, local copy unchanged", "", "Old", "Old=l", "rmfolders", "delete-local Old",
	     NULL},
	    {"remove_folders, other copy changed", "Old", "", "Old=l", "rmfolders", "",
	     "changed on the server since the last sync; not deleting it"},
	    {"remove_folders, but pull", "Old", "", "Old=rl", "rmfolders dir=pull", "",
	     "direction pull does not allow deleting it on the server"},
	    {"remove_folders, but push", "", "Old", "Old=rl", "rmfolders dir=push", "",
	     "direction push does not allow deleting it locally"},
	    {"gone on both sides: forgotten", "INBOX", "INBOX", "INBOX Old=rl", "", "sync INBOX; forget Old",
	     NULL},
	};
	FOLDER_ROWS(rows);
}

Test(sync_plan_folders, kind_names)
{
	cr_assert_str_eq(plan_folder_kind_name(PLAN_FOLDER_CREATE, SIDE_B), "create-local");
	cr_assert_str_eq(plan_folder_kind_name(PLAN_FOLDER_DELETE, SIDE_A), "delete-remote");
	cr_assert_str_eq(plan_folder_kind_name(PLAN_FOLDER_FORGET, SIDE_A), "forget");
	cr_assert_str_eq(plan_folder_kind_name((enum plan_folder_kind)99, SIDE_A), "unknown");
}

Test(sync_plan_folders, the_plan_owns_its_names)
{
	char *name = xstrdup("Archive/2024");
	const char *remote[] = {name};
	struct plan_folders_input in = {{remote, NULL}, {1, 0}, NULL, 0};
	struct plan_rules rules;
	struct plan_folders plan;

	plan_rules_init(&rules);
	plan_folders_build(&in, &rules, &plan);
	free(name);
	cr_assert_eq(plan.action_count, 2);
	cr_assert_str_eq(plan.actions[0].name, "Archive/2024");
	cr_assert_eq(plan.actions[0].kind, PLAN_FOLDER_CREATE);
	cr_assert_eq(plan.actions[0].side, SIDE_B);
	cr_assert_eq(plan.actions[1].kind, PLAN_FOLDER_SYNC);
	cr_assert(plan.actions[1].first_sync);
	plan_folders_free(&plan);
	plan_folders_free(&plan);
}
