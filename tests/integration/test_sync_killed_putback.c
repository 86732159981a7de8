/*
 * A put-back interrupted by a kill, then done again. The server deletes
 * a message the user changed meanwhile, so the sync copies it back
 * ("changed wins"); the run is killed right after the APPEND, before it
 * records the new UID. The next run still sees the pair's UID gone and
 * the local copy changed, and copies it back once more, although the
 * server now holds an identical new message: two copies on the server
 * and, after the next pull, in the Maildir. Found by the randomized test
 * (seeds 3 and 11 of its durable-step variant, 40 rounds).
 *
 * The cause is the one of issue 13's "a put-back message duplicated by a
 * second device": the put-back path does not match by content before it
 * copies. Red until that is fixed, so kept out of `make check` by
 * CHECK_FILTER in the Makefile.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/sync_harness.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_killed_putback, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 120);

Test(sync_killed_putback, a_put_back_killed_after_the_append_is_not_done_twice)
{
	static const char msg[] = "Message-ID: <put-back@twinbox.test>\r\n"
	                          "Subject: deleted on the server, changed here\r\n"
	                          "\r\n"
	                          "body\r\n";
	unsigned uid = dovecot_append(sh.d, "INBOX", msg, strlen(msg), NULL);
	char *path;

	dovecot_seed(sh.d, "INBOX", 3, 4100, 0); /* so that INBOX is not emptied */
	sync_ok();
	path = local_find("INBOX", "<put-back@twinbox.test>");
	free(local_set_flags(path, "F"));
	dovecot_expunge(sh.d, "INBOX", uid);
	/* Step 1 records the intent, step 2 follows the APPEND. */
	setenv("TWINBOX_TEST_CRASH_AT", "2", 1);
	sync_run_args(NULL);
	unsetenv("TWINBOX_TEST_CRASH_AT");
	cr_assert_eq(sh.r.status, 86, "the run should be killed after the APPEND: %d %s", sh.r.status,
	             sh.r.err);
	cr_assert_eq(server_count("INBOX"), 4, "the killed run should have copied it back");
	sync_ok();
	sync_ok();
	server_find("INBOX", "<put-back@twinbox.test>", NULL); /* exactly once */
	assert_twins("INBOX", 4);
	free(path);
}
