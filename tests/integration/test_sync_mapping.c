/*
 * Folders matched by meaning between unlike servers: a Dovecot that
 * looks like Courier (prefix "INBOX.", '.' between levels, no
 * SPECIAL-USE) and one with '/' and SPECIAL-USE, each way; explicit
 * renames and views from the config. Checked on both servers, through
 * `twinbox migrate`, `twinbox sync` and `twinbox verify`.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
	run_result_free(&r);
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

/* A POP3-only old provider into an IMAP new one (source: pop3:): every
 * message copied once into the target's INBOX byte for byte, the one
 * the target already had matched by content; later runs copy only what
 * is new; nothing is deleted on either server. */
Test(sync_mapping, a_pop3_source_into_an_imap_target)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start();
	char *state = xasprintf("%s/state", a->dir);
	char *text = xasprintf(
	    "state_dir: %s\n"
	    "accounts:\n"
	    "  move:\n"
	    "    source:\n"
	    "      pop3: {host: 127.0.0.1, port: %u, user: %s, password: \"%s\", ca_file: \"%s\"}\n"
	    "    target:\n"
	    "      imap: {host: 127.0.0.1, port: %u, user: %s, password: \"%s\", ca_file: \"%s\"}\n",
	    state, a->pop3s_port, a->user, a->password, a->ca_file, b->imaps_port, b->user, b->password,
	    b->ca_file);
	char *cfg = test_write_temp("config.yaml", text, 0600);
	struct run_result r = {0};

	dovecot_seed(a, "INBOX", 5, 1100, 200 * 1024);
	dovecot_seed(b, "INBOX", 1, 1100, 0);

	run_twinbox((const char *const[]){"--config", cfg, "sync", NULL}, 120, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.out, "4 copied to the target"), "stdout: %s", r.out);
	cr_assert_eq(two_count(b, "INBOX"), 5, "4 copied, 1 matched by content");
	two_assert_same_bytes(a, "INBOX", b, "INBOX");

	run_result_free(&r);
	run_twinbox((const char *const[]){"--config", cfg, "sync", NULL}, 120, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert_eq(two_count(b, "INBOX"), 5, "nothing copied again");

	dovecot_seed(a, "INBOX", 1, 1200, 0);
	dovecot_expunge(a, "INBOX", 1);
	dovecot_flags(b, "INBOX", 2, "add", "\\Seen");
	run_result_free(&r);
	run_twinbox((const char *const[]){"--config", cfg, "sync", NULL}, 120, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert_eq(two_count(b, "INBOX"), 6, "the new one copied, none deleted");
	cr_assert_eq(two_count(a, "INBOX"), 5, "nothing deleted on the POP3 server");

	test_forget_temp(&cfg);
	free(text);
	run_result_free(&r);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
}

/* The one-liner from a POP3 server: `migrate --from pop3s://...`. */
Test(sync_mapping, migrate_from_a_pop3_server)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start();
	char *state = xasprintf("%s/state", a->dir);
	char *from = xasprintf("pop3s://%s@127.0.0.1:%u", a->user, a->pop3s_port);
	char *to = xasprintf("imaps://%s@127.0.0.1:%u", b->user, b->imaps_port);
	char *pw = xasprintf("printf %%s '%s'", a->password);
	const char *args[] = {"migrate",  "--from",
	                      from,       "--to",
	                      to,         "--from-password-command",
	                      pw,         "--to-password-command",
	                      pw,         "--from-ca-file",
	                      a->ca_file, "--to-ca-file",
	                      b->ca_file, "--state-dir",
	                      state,      NULL};
	struct run_result r = {0};

	dovecot_seed(a, "INBOX", 3, 1300, 0);
	run_twinbox(args, 120, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	/* (Dovecot's POP3 marks what it sent \Seen: compare the bytes.) */
	cr_assert_eq(two_count(b, "INBOX"), 3);
	two_assert_same_bytes(a, "INBOX", b, "INBOX");
	run_result_free(&r);
	run_twinbox(args, 120, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert_eq(two_count(b, "INBOX"), 3, "the same command copies nothing again");

	run_result_free(&r);
	free(from);
	free(to);
	free(pw);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
}

/* Make Maildir folder `dir` (new/, cur/, tmp/) and write message
 * `seed` into its cur/ with the flags `info` ("S", "FS", ""), LF line
 * ends as mail programs write them. */
static void put_file(const char *dir, unsigned seed, const char *info)
{
	static const char *const subs[] = {"", "/new", "/cur", "/tmp"};
	size_t len, n = 0;
	char *msg = test_message(seed, 0, &len), *path;
	FILE *f;

	for (size_t i = 0; i < 4; i++) {
		char *d = xasprintf("%s%s", dir, subs[i]);
		mkdir(d, 0700);
		free(d);
	}
	for (size_t i = 0; i < len; i++)
		if (msg[i] != '\r')
			msg[n++] = msg[i];
	path = xasprintf("%s/cur/%u.M%uP1.archive:2,%s", dir, 1700000000 + seed, seed, info);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(msg, 1, n, f), n);
	cr_assert_eq(fclose(f), 0);
	free(path);
	free(msg);
}

/* A Maildir archive into an IMAP server (source: maildir:), one way
 * (direction: pull, from source to target): every message uploaded
 * once with its flags, the archive's Sent matched with the target's
 * "Sent Items" (a Courier-like server), nothing of the target comes
 * back into the archive. */
Test(sync_mapping, a_maildir_archive_into_an_imap_target)
{
	struct dovecot *b = dovecot_start_with(TWO_COURIER_CONF);
	char *dir = xasprintf("%s/archive", b->dir), *sent = xasprintf("%s/.Sent", dir);
	char *text =
	    xasprintf("state_dir: %s/state\n"
	              "accounts:\n"
	              "  upload:\n"
	              "    source:\n"
	              "      maildir: {path: %s}\n"
	              "    target:\n"
	              "      imap: {host: 127.0.0.1, port: %u, user: %s, password: \"%s\", ca_file: \"%s\"}\n"
	              "    sync:\n"
	              "      direction: pull\n",
	              b->dir, dir, b->imaps_port, b->user, b->password, b->ca_file);
	char *cfg = test_write_temp("config.yaml", text, 0600);
	struct run_result r = {0};
	size_t n;
	struct dovecot_msg *m;

	for (unsigned i = 0; i < 3; i++)
		put_file(dir, 1400 + i, i == 0 ? "FS" : "S");
	put_file(sent, 1410, "S");
	put_file(sent, 1411, "S");
	dovecot_create_mailbox(b, "INBOX.Sent Items");
	dovecot_seed(b, "INBOX", 1, 1420, 0);

	run_twinbox((const char *const[]){"--config", cfg, "sync", NULL}, 120, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.err, "\"Sent Items\" on the server is \"Sent\" on the Maildir"), "stderr: %s",
	          r.err);
	cr_assert_eq(two_count(b, "INBOX"), 4, "the archive's 3 and the server's own 1");
	cr_assert_eq(two_count(b, "INBOX.Sent Items"), 2);
	m = dovecot_list(b, "INBOX", false, &n);
	{
		size_t flagged = 0, seen = 0;
		for (size_t i = 0; i < n; i++) {
			flagged += dovecot_msg_has_flag(&m[i], "\\Flagged");
			seen += dovecot_msg_has_flag(&m[i], "\\Seen");
		}
		cr_assert_eq(flagged, 1);
		cr_assert_eq(seen, 3);
	}
	dovecot_msgs_free(m, n);

	/* One way: the server's own message stays out of the archive; a
	 * second run does nothing. */
	run_result_free(&r);
	run_twinbox((const char *const[]){"--config", cfg, "sync", NULL}, 120, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert_eq(two_count(b, "INBOX"), 4);
	{
		char *cur = xasprintf("%s/cur", dir), *cmd = xasprintf("ls %s | wc -l", cur);
		FILE *p = popen(cmd, "r");
		unsigned files = 0;
		cr_assert_eq(fscanf(p, "%u", &files), 1);
		pclose(p);
		cr_assert_eq(files, 3, "nothing came back into the archive");
		free(cur);
		free(cmd);
	}

	test_forget_temp(&cfg);
	free(text);
	free(dir);
	free(sent);
	run_result_free(&r);
	dovecot_stop(b);
}

/* A migration with a folder mapping killed at each of its durable
 * steps, then run again: everything arrives once, in its mapped folder,
 * the target's own copy matched; the run after that copies nothing. */
Test(sync_mapping, a_migration_killed_at_every_step_loses_and_duplicates_nothing)
{
	struct run_result r = {0};
	unsigned step;

	for (step = 1; step < 100; step++) {
		struct dovecot *a = dovecot_start(), *b = dovecot_start_with(TWO_COURIER_CONF);
		char *state = xasprintf("%s/state", a->dir);
		char n[16];
		int status;

		dovecot_seed(a, "INBOX", 3, 1500, 0);
		dovecot_create_mailbox(a, "Sent");
		dovecot_seed(a, "Sent", 2, 1510, 0);
		dovecot_create_mailbox(a, "Work/Projects");
		dovecot_seed(a, "Work/Projects", 2, 1520, 0);
		dovecot_create_mailbox(b, "INBOX.Sent Items");
		dovecot_seed(b, "INBOX", 1, 1500, 0); /* the source's first, copied before */
		snprintf(n, sizeof(n), "%u", step);
		setenv("TWINBOX_TEST_CRASH_AT", n, 1);
		status = two_migrate(a, b, state, "-q", &r);
		unsetenv("TWINBOX_TEST_CRASH_AT");
		if (status != 0) {
			cr_assert_eq(status, 86, "step %u: exit %d: %s", step, status, r.err);
			cr_assert_eq(two_migrate(a, b, state, "-q", &r), 0, "resume after step %u: %s", step,
			             r.err);
		}
		two_assert_twins(a, "INBOX", b, "INBOX", 3);
		two_assert_twins(a, "Sent", b, "INBOX.Sent Items", 2);
		two_assert_twins(a, "Work/Projects", b, "INBOX.Work.Projects", 2);
		cr_assert_eq(two_migrate(a, b, state, NULL, &r), 0, "after step %u: %s", step, r.err);
		cr_assert(strstr(r.out, ": 0 copied to the target"),
		          "a further run after a crash at step %u: %s", step, r.out);
		free(state);
		dovecot_stop(a);
		dovecot_stop(b);
		if (status == 0)
			break;
	}
	run_result_free(&r);
	cr_log_info("migration with a mapping: killed at each of %u durable steps", step - 1);
	cr_assert_gt(step, 8, "the hook fired at only %u steps", step - 1);
	cr_assert_lt(step, 100);
}
