/*
 * The folder map (sync/folder_map.h) by tables: each case gives both
 * sides' folders with their uses and the renames, views and notes
 * expected; and the name translation of the mapped store.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/store/mapped_store.h"
#include "twinbox/sync/folder_map.h"
#include "twinbox/util/xmalloc.h"

#define MAXF 8

struct side_case {
	const char *names[MAXF];
	enum store_special_use uses[MAXF];
};

struct map_case {
	const char *what;
	struct side_case a, b;
	bool by_use;
	const char *renames[MAXF]; /* "A=>B" expected, in order */
	const char *skipped[MAXF]; /* side A's views */
	const char *hidden[MAXF];  /* side B's views */
	const char *note;          /* a note expected among them, or NULL */
};

static const struct map_case cases[] = {
    {"attribute to attribute",
     {{"INBOX", "Sent"}, {0, STORE_USE_SENT}},
     {{"INBOX", "Sent Items"}, {0, STORE_USE_SENT}},
     true,
     {"Sent=>Sent Items"},
     {NULL},
     {NULL},
     "\"Sent\" on the source is \"Sent Items\" on the target (\\Sent, by attribute on the source, by "
     "attribute on the target)"},
    {"attribute to name (no SPECIAL-USE on the target)",
     {{"Drafts", "Junk", "Sent", "Trash"},
      {STORE_USE_DRAFTS, STORE_USE_JUNK, STORE_USE_SENT, STORE_USE_TRASH}},
     {{"Deleted Items", "Drafts", "Junk E-mail", "Sent Items"}, {0}},
     true,
     {"Sent=>Sent Items", "Drafts=>Drafts", "Trash=>Deleted Items", "Junk=>Junk E-mail"},
     {NULL},
     {NULL},
     NULL},
    {"names on both sides, Gmail's and localised ones",
     {{"INBOX", "[Gmail]/Sent Mail", "[Gmail]/Trash", "[Gmail]/All Mail", "[Gmail]/Starred"}, {0}},
     {{"INBOX", "Gesendete Objekte", "Papierkorb"}, {0}},
     true,
     {"[Gmail]/Sent Mail=>Gesendete Objekte", "[Gmail]/Trash=>Papierkorb"},
     {"[Gmail]/All Mail", "[Gmail]/Starred"},
     {NULL},
     "\"[Gmail]/All Mail\" on the source is not synced: it is a view (\\All by name)"},
    {"the target's name is also a source folder: both kept",
     {{"Sent", "Sent Items"}, {STORE_USE_SENT, 0}},
     {{"Sent Items"}, {STORE_USE_SENT}},
     true,
     {NULL},
     {NULL},
     {NULL},
     "the source has a folder \"Sent Items\" too, so each is synced under its own name"},
    {"an attribute beats a name",
     {{"Sent", "Sent Messages"}, {0, STORE_USE_SENT}},
     {{"Sent Items"}, {0}},
     true,
     {"Sent Messages=>Sent Items"},
     {NULL},
     {NULL},
     NULL},
    {"the likeliest name first",
     {{"Sent Messages", "Sent"}, {0}},
     {{"Sent Items"}, {0}},
     true,
     {"Sent=>Sent Items"},
     {NULL},
     {NULL},
     NULL},
    {"views of the target hidden",
     {{"INBOX"}, {0}},
     {{"INBOX", "All", "Flagged"}, {0, STORE_USE_ALL, STORE_USE_FLAGGED}},
     true,
     {NULL},
     {NULL},
     {"All", "Flagged"},
     "\"All\" on the target is left alone: it is a view (\\All by attribute)"},
    {"by use off: nothing",
     {{"Sent"}, {STORE_USE_SENT}},
     {{"Sent Items"}, {STORE_USE_SENT}},
     false,
     {NULL},
     {NULL},
     {NULL},
     NULL},
    {"INBOX is never mapped",
     {{"INBOX"}, {STORE_USE_SENT}},
     {{"Sent"}, {STORE_USE_SENT}},
     true,
     {NULL},
     {NULL},
     {NULL},
     NULL},
};

static size_t count_of(const char *const *v)
{
	size_t n = 0;

	while (n < MAXF && v[n])
		n++;
	return n;
}

ParameterizedTestParameters(folder_map, table)
{
	static size_t idx[sizeof(cases) / sizeof(*cases)];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, sizeof(idx) / sizeof(*idx));
}

ParameterizedTest(size_t *i, folder_map, table)
{
	const struct map_case *c = &cases[*i];
	struct folder_map m;
	struct folder_map_rules rules = {.by_use = c->by_use};
	struct folder_map_side a = {c->a.names, c->a.uses, count_of(c->a.names)},
	                       b = {c->b.names, c->b.uses, count_of(c->b.names)};
	bool noted = !c->note;
	/* "Drafts=>Drafts" in a case stands for "no rename": the same name. */
	size_t want = 0;

	folder_map_build(&a, &b, &rules, &m);
	for (size_t k = 0; k < count_of(c->renames); k++) {
		char *exp = xstrdup(c->renames[k]), *arrow = strstr(exp, "=>");
		*arrow = '\0';
		if (strcmp(exp, arrow + 2) != 0) {
			cr_assert_lt(want, m.rename_count, "[%s] too few renames", c->what);
			cr_assert_str_eq(m.renames[want].outer, exp, "[%s]", c->what);
			cr_assert_str_eq(m.renames[want].inner, arrow + 2, "[%s]", c->what);
			want++;
		}
		free(exp);
	}
	cr_assert_eq(m.rename_count, want, "[%s] %zu renames", c->what, m.rename_count);
	cr_assert_eq(m.skipped_count, count_of(c->skipped), "[%s]", c->what);
	for (size_t k = 0; k < m.skipped_count; k++)
		cr_assert_str_eq(m.skipped[k], c->skipped[k], "[%s]", c->what);
	cr_assert_eq(m.hidden_count, count_of(c->hidden), "[%s]", c->what);
	for (size_t k = 0; k < m.hidden_count; k++)
		cr_assert_str_eq(m.hidden[k], c->hidden[k], "[%s]", c->what);
	for (size_t k = 0; k < m.note_count && !noted; k++)
		noted = strstr(m.notes[k], c->note) != NULL;
	cr_assert(noted, "[%s] no note \"%s\" (%zu notes, first: %s)", c->what, c->note, m.note_count,
	          m.note_count ? m.notes[0] : "");
	folder_map_free(&m);
}

/* Renames from the config come first, with their note, and take the
 * names they use from the special-use step. */
Test(folder_map, renames_first)
{
	char sent[] = "Sent", outbox[] = "Outbox/Sent";
	struct store_rename r[] = {{sent, outbox}};
	struct folder_map_rules rules = {true, r, 1, {"the server", "the Maildir"}};
	const char *an[] = {"Sent"}, *bn[] = {"Sent Items"};
	enum store_special_use au[] = {STORE_USE_SENT}, bu[] = {STORE_USE_SENT};
	struct folder_map m;

	folder_map_build(&(struct folder_map_side){an, au, 1}, &(struct folder_map_side){bn, bu, 1}, &rules,
	                 &m);
	cr_assert_eq(m.rename_count, 1);
	cr_assert_str_eq(m.renames[0].inner, "Outbox/Sent");
	cr_assert_str_eq(m.notes[0],
	                 "\"Sent\" on the server is \"Outbox/Sent\" on the Maildir (`folders: rename:`)");
	folder_map_free(&m);
}

/* A view the account renames is synced as it says, not skipped. */
Test(folder_map, a_renamed_view_is_synced)
{
	char all[] = "[Gmail]/All Mail", archive[] = "Archive";
	struct store_rename r[] = {{all, archive}};
	struct folder_map_rules rules = {true, r, 1, {NULL, NULL}};
	const char *an[] = {"INBOX", "[Gmail]/All Mail"}, *bn[] = {"INBOX"};
	enum store_special_use au[] = {0, STORE_USE_ALL}, bu[] = {0};
	struct folder_map m;

	folder_map_build(&(struct folder_map_side){an, au, 2}, &(struct folder_map_side){bn, bu, 1}, &rules,
	                 &m);
	cr_assert_eq(m.skipped_count, 0);
	cr_assert_eq(m.rename_count, 1);
	folder_map_free(&m);
}

/* The mapped store's names: a rename takes the folders under it along,
 * the longest rename wins, the inner folder of a renamed name and the
 * hidden ones are left out, others pass unchanged. */
Test(folder_map, names_translate_both_ways)
{
	char n[][16] = {"Sent", "Sent Items", "Old", "Archive/Old", "Old/Keep", "Keep"};
	struct store_rename r[] = {{n[0], n[1]}, {n[2], n[3]}, {n[4], n[5]}};
	const char *hidden[] = {"All Mail"};
	struct store_name_map map = {r, 3, hidden, 1};
	static const char *const outer_inner[][2] = {
	    {"Sent", "Sent Items"}, {"Sent/2019", "Sent Items/2019"},
	    {"Old", "Archive/Old"}, {"Old/x/y", "Archive/Old/x/y"},
	    {"Old/Keep", "Keep"},   {"Old/Keep/z", "Keep/z"},
	    {"Sentinel", NULL},     {"Work", NULL},
	};

	for (size_t i = 0; i < sizeof(outer_inner) / sizeof(*outer_inner); i++) {
		char *in = store_map_inner(&map, outer_inner[i][0]), *back;
		if (!outer_inner[i][1]) {
			cr_assert_null(in, "%s", outer_inner[i][0]);
			back = store_map_outer(&map, outer_inner[i][0]);
			cr_assert_str_eq(back, outer_inner[i][0]);
			free(back);
			continue;
		}
		cr_assert_str_eq(in, outer_inner[i][1]);
		back = store_map_outer(&map, in);
		cr_assert_str_eq(back, outer_inner[i][0]);
		free(in);
		free(back);
	}
	cr_assert_null(store_map_outer(&map, "Sent"), "the inner store's own Sent is not the engine's");
	cr_assert_null(store_map_outer(&map, "Sent/2019"));
	cr_assert_null(store_map_outer(&map, "All Mail"));
}

/* Through the store: a source folder named like a rename's new name
 * ("Sent Items", while "Sent" is renamed to it) reaches nothing on the
 * inner store, so the two are not merged. */
static int fake_open(struct store *st, const char *name, struct store_folder **f_r,
                     struct store_folder_info *info_r, bool *missing_r, struct error *err)
{
	(void)st;
	(void)info_r;
	(void)missing_r;
	(void)err;
	*f_r = (struct store_folder *)(uintptr_t)(strcmp(name, "Sent Items") == 0 ? 1 : 2);
	return 0;
}

Test(folder_map, a_renamed_name_is_not_reached_twice)
{
	char n[][16] = {"Sent", "Sent Items"};
	struct store_rename r[] = {{n[0], n[1]}};
	struct store_name_map map = {r, 1, NULL, 0};
	struct store_ops ops = {.kind = "fake", .open_folder = fake_open};
	struct store inner = {&ops};
	struct store *m = mapped_store_new(&inner, &map);
	struct store_folder *f = NULL;
	struct store_folder_info info;
	struct error err;
	bool missing;

	cr_assert_eq(m->ops->open_folder(m, "Sent", &f, &info, &missing, &err), 0);
	cr_assert_eq((uintptr_t)f, 1, "Sent opens the inner Sent Items");
	cr_assert_eq(m->ops->open_folder(m, "Sent Items", &f, &info, &missing, &err), -1,
	             "the engine's own Sent Items reaches nothing");
	cr_assert(strstr(err.text, "left out by the folder mapping"), "%s", err.text);
	cr_assert_eq(m->ops->open_folder(m, "Work", &f, &info, &missing, &err), 0);
	mapped_store_free(m);
}
