/*
 * Folders matched by meaning between unlike servers: a Dovecot that
 * looks like Courier (prefix "INBOX.", '.' between levels, no
 * SPECIAL-USE) and one with '/' and SPECIAL-USE, each way; explicit
 * renames and views from the config. Checked on both servers, through
 * `twinbox migrate`, `twinbox sync` and `twinbox verify`.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/two_servers.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_mapping, .timeout = 300);

static bool has_mailbox(struct dovecot *d, const char *name)
{
	char **v = dovecot_mailboxes(d);
	bool found = false;

	for (size_t i = 0; v[i] && !found; i++)
		found = strcmp(v[i], name) == 0;
	dovecot_strv_free(v);
	return found;
}

/* Source: '/' and SPECIAL-USE; target: Courier-like, with the folders
 * an Exchange-minded provider made ("Sent Items", "Deleted Items",
 * "Junk E-mail") and "Drafts". The dry run shows the mapping and copies
 * nothing; the run copies each folder to its counterpart, translating
 * levels and the prefix, non-ASCII names included; the next run has
 * nothing to do; verify finds nothing missing. */
Test(sync_mapping, migrate_maps_special_folders_delimiters_and_prefix)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start_with(TWO_COURIER_CONF);
	char *state = xasprintf("%s/state", a->dir);
	struct run_result r = {0};
	static const char *const pairs[][2] = {
	    {"INBOX", "INBOX"},
	    {"Sent", "INBOX.Sent Items"},
	    {"Trash", "INBOX.Deleted Items"},
	    {"Junk", "INBOX.Junk E-mail"},
	    {"Drafts", "INBOX.Drafts"},
	    {"Work/Projects", "INBOX.Work.Projects"},
	    {"Reisen/Zürich", "INBOX.Reisen.Zürich"},
	};
	size_t n = sizeof(pairs) / sizeof(*pairs);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(pairs[i][0], "INBOX") != 0)
			dovecot_create_mailbox(a, pairs[i][0]);
		dovecot_seed(a, pairs[i][0], 2 + (unsigned)i % 3, 700 + 10 * (unsigned)i, i == 1 ? 3000 : 0);
	}
	dovecot_flags(a, "Sent", 1, "add", "\\Seen $Label2");
	for (size_t i = 1; i <= 4; i++)
		dovecot_create_mailbox(b, pairs[i][1]);

	cr_assert_eq(two_migrate(a, b, state, "--dry-run", &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.err,
	                 "\"Sent\" on the source is \"Sent Items\" on the target (\\Sent, by attribute "
	                 "on the source, by name on the target)"),
	          "stderr: %s", r.err);
	cr_assert(strstr(r.err, "\"Trash\" on the source is \"Deleted Items\" on the target"), "stderr: %s",
	          r.err);
	cr_assert(strstr(r.err, "\"Junk\" on the source is \"Junk E-mail\" on the target"), "stderr: %s",
	          r.err);
	cr_assert_null(strstr(r.err, "\"Drafts\" on the source is"), "the same name needs no mapping: %s",
	               r.err);
	cr_assert_eq(two_count(b, "INBOX.Sent Items"), 0, "a dry run copies nothing");
	cr_assert(!has_mailbox(b, "INBOX.Work"), "a dry run creates nothing");

	cr_assert_eq(two_migrate(a, b, state, "-v", &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	for (size_t i = 0; i < n; i++)
		two_assert_twins(a, pairs[i][0], b, pairs[i][1], 2 + i % 3);
	two_assert_same_bytes(a, "Sent", b, "INBOX.Sent Items");
	cr_assert(!has_mailbox(b, "INBOX.Sent"), "Sent is copied to Sent Items, not to a new Sent");
	cr_assert(!has_mailbox(b, "INBOX.Trash"));
	cr_assert(!has_mailbox(b, "INBOX.Junk"));

	cr_assert_eq(two_migrate(a, b, state, NULL, &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.out, ": 0 copied to the target"), "stdout: %s", r.out);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(two_count(b, pairs[i][1]), 2 + i % 3, "%s copied again", pairs[i][1]);

	run_result_free(&r);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
}

/* The other way: a Courier-like source known by names only ("Sent
 * Messages", "Deleted Messages", Apple Mail's) into a server whose
 * folders carry the attributes; verify compares each folder with its
 * counterpart. */
Test(sync_mapping, migrate_maps_names_of_a_server_without_special_use)
{
	struct dovecot *a = dovecot_start_with(TWO_COURIER_CONF), *b = dovecot_start();
	char *state = xasprintf("%s/state", a->dir);
	struct run_result r = {0};
	char *cfg;

	dovecot_create_mailbox(a, "INBOX.Sent Messages");
	dovecot_seed(a, "INBOX.Sent Messages", 3, 800, 0);
	dovecot_create_mailbox(a, "INBOX.Deleted Messages");
	dovecot_seed(a, "INBOX.Deleted Messages", 2, 810, 0);
	dovecot_create_mailbox(a, "INBOX.Lists.dev");
	dovecot_seed(a, "INBOX.Lists.dev", 2, 820, 0);
	dovecot_create_mailbox(b, "Sent");
	dovecot_create_mailbox(b, "Trash");

	cr_assert_eq(two_migrate(a, b, state, NULL, &r), 0, "stdout: %s\nstderr: %s", r.out, r.err);
	two_assert_twins(a, "INBOX.Sent Messages", b, "Sent", 3);
	two_assert_twins(a, "INBOX.Deleted Messages", b, "Trash", 2);
	two_assert_twins(a, "INBOX.Lists.dev", b, "Lists/dev", 2);
	cr_assert(!has_mailbox(b, "Sent Messages"));
	cr_assert(!has_mailbox(b, "Deleted Messages"));

	/* verify, through a config of the same two servers: each folder
	 * with its counterpart; one message gone from the target's Sent is
	 * missing there. */
	cfg = two_config(a, b, state, NULL);
	run_twinbox((const char *const[]){"--config", cfg, "verify", "move", NULL}, 60, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	dovecot_expunge(b, "Sent", 1);
	run_result_free(&r);
	run_twinbox((const char *const[]){"--config", cfg, "verify", "move", NULL}, 60, &r);
	cr_assert_eq(r.status, 1, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.out, "missing 1"), "stdout: %s", r.out);

	test_forget_temp(&cfg);
	run_result_free(&r);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
}

/* An account of two servers, both ways, with a rename in its config and
 * a view (\All) on the source: the renamed folder is synced with its
 * new name both ways, the view is not copied, and the target's folder
 * of the old name is left alone. */
Test(sync_mapping, renames_and_views_from_the_config_both_ways)
{
	struct dovecot *a = dovecot_start_with("namespace inbox {\n"
	                                       "  mailbox \"All Mail\" {\n    special_use = \\All\n  }\n"
	                                       "}\n"),
	               *b = dovecot_start();
	char *state = xasprintf("%s/state", a->dir);
	char *cfg = two_config(a, b, state,
	                       "    folders:\n"
	                       "      rename:\n"
	                       "        \"Old/Stuff\": \"Archive/Old\"\n");
	struct run_result r = {0};

	dovecot_seed(a, "INBOX", 3, 900, 0);
	dovecot_create_mailbox(a, "All Mail");
	dovecot_seed(a, "All Mail", 3, 900, 0);
	dovecot_create_mailbox(a, "Old/Stuff");
	dovecot_seed(a, "Old/Stuff", 2, 910, 0);
	dovecot_create_mailbox(b, "Old/Stuff");
	dovecot_seed(b, "Old/Stuff", 1, 920, 0);

	run_twinbox((const char *const[]){"--config", cfg, "sync", NULL}, 120, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(
	    strstr(r.err, "\"All Mail\" on the source is not synced: it is a view (\\All by attribute)"),
	    "stderr: %s", r.err);
	cr_assert(strstr(r.err,
	                 "\"Old/Stuff\" on the source is \"Archive/Old\" on the target (`folders: rename:`)"),
	          "stderr: %s", r.err);
	two_assert_twins(a, "INBOX", b, "INBOX", 3);
	two_assert_twins(a, "Old/Stuff", b, "Archive/Old", 2);
	cr_assert(!has_mailbox(b, "All Mail"), "the view is not copied");
	cr_assert_eq(two_count(b, "Old/Stuff"), 1, "the target's own folder of that name is left alone");
	cr_assert_eq(two_count(a, "Old/Stuff"), 2, "... and not synced into the source's");

	/* Both ways: new mail in the renamed folder on the target reaches
	 * the source's folder of the old name. */
	dovecot_seed(b, "Archive/Old", 1, 930, 0);
	dovecot_flags(a, "Old/Stuff", 1, "add", "\\Flagged");
	run_result_free(&r);
	run_twinbox((const char *const[]){"--config", cfg, "sync", NULL}, 120, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	two_assert_twins(a, "Old/Stuff", b, "Archive/Old", 3);

	test_forget_temp(&cfg);
	run_result_free(&r);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
}
