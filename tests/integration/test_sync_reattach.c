/*
 * A pair re-attached by content whose two sides had different flags.
 * Found by the randomized test (seed 39 of its durable-step variant, 40
 * rounds): the re-attached pair was written with the new UID, then the
 * update of its merged flags wrote the pair back as it had been loaded,
 * with the old, vanished UID. From then on the device never recognised
 * the server's message as its own: its flags stopped syncing, and the
 * device and the server disagreed for good.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/sync_harness.h"
#include "twinbox/state/folder.h"
#include "twinbox/state/pair.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_reattach, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 120);

static const char msg[] = "Message-ID: <reattach@twinbox.test>\r\n"
                          "Subject: expunged and stored again by another client\r\n"
                          "\r\n"
                          "body\r\n";
static const char id[] = "<reattach@twinbox.test>";

/* Every pair of `folder` in the state names a UID the server has. */
static void assert_pairs_are_on_the_server(const char *folder)
{
	struct state *st;
	struct state_folder sf;
	struct state_pairs pairs = {0};
	struct error err;
	size_t n;
	struct dovecot_msg *sm = dovecot_list(sh.d, folder, false, &n);

	cr_assert_eq(state_open(sh.db, 0, &st, &err), 0, "%s", err.text);
	cr_assert_eq(state_folder_find_remote(st, folder, &sf, &err), 1);
	cr_assert_eq(state_pairs_load(st, sf.id, &pairs, &err), 0, "%s", err.text);
	for (size_t i = 0; i < pairs.count; i++) {
		bool found = false;
		for (size_t k = 0; k < n && !found; k++)
			found = sm[k].uid == pairs.pairs[i].side[SIDE_A].uid;
		cr_assert(found, "the state pairs %s with UID %u, which the server no longer has",
		          pairs.pairs[i].side[SIDE_B].name, pairs.pairs[i].side[SIDE_A].uid);
	}
	state_pairs_free(&pairs);
	state_folder_clear(&sf);
	state_close(st);
	dovecot_msgs_free(sm, n);
}

Test(sync_reattach, a_reattached_pair_keeps_its_new_uid)
{
	unsigned old_uid, new_uid;
	char *flags = NULL, *path;

	old_uid = dovecot_append(sh.d, "INBOX", msg, strlen(msg), NULL);
	dovecot_seed(sh.d, "INBOX", 2, 4200, 0);
	sync_ok();
	/* Another client stores the message again, read, and expunges the
	 * original; here a new message is written (so that the run looks
	 * for messages by content). */
	new_uid = dovecot_append(sh.d, "INBOX", msg, strlen(msg), "\\Seen");
	dovecot_expunge(sh.d, "INBOX", old_uid);
	write_local("INBOX", "1765200000.R1.laptop",
	            "Message-ID: <written-here@twinbox.test>\nSubject: new here\n\nhello\n");
	sync_ok();
	cr_assert(strstr(sh.r.err, "keeping them paired") || strstr(sh.r.out, "keeping them paired"),
	          "the message should have been re-attached by content: %s%s", sh.r.out, sh.r.err);
	assert_twins("INBOX", 4);
	assert_pairs_are_on_the_server("INBOX");
	/* The pair is the new UID's: a flag set on it reaches the Maildir. */
	dovecot_flags(sh.d, "INBOX", new_uid, "add", "\\Flagged");
	sync_ok();
	sync_ok();
	assert_twins("INBOX", 4);
	server_find("INBOX", id, &flags);
	path = local_find("INBOX", id);
	cr_assert(strstr(path, ":2,FS"), "the server's \\Flagged did not reach %s (server: %s)", path, flags);
	free(path);
	free(flags);
}
