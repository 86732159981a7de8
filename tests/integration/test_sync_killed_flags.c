/*
 * Flags changed by the user between a killed run and the next one, on a
 * message that the killed run had delivered into the Maildir but not yet
 * recorded in the state. Found by the randomized test (seed 22 of its
 * SIGKILL variant, 20 rounds): the next run recorded the pair with the
 * file's flags of that moment as the last-synced ones, so the user's
 * change looked like no change and the server's older flags were copied
 * over it.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/sync_harness.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_killed_flags, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 120);

static const char msg[] = "Message-ID: <killed-flags@twinbox.test>\r\n"
                          "Subject: delivered by a run that was killed\r\n"
                          "\r\n"
                          "body\r\n";
static const char id[] = "<killed-flags@twinbox.test>";

/* The server has the message with `flags`; a run delivers it and is
 * killed before it records the pair. Returns the delivered file's path
 * (fresh). */
static char *delivered_by_a_killed_run(const char *flags)
{
	dovecot_append(sh.d, "INBOX", msg, strlen(msg), flags);
	/* Step 1 records the intent, step 2 follows the delivery. */
	setenv("TWINBOX_TEST_CRASH_AT", "2", 1);
	sync_run_args(NULL);
	unsetenv("TWINBOX_TEST_CRASH_AT");
	cr_assert_eq(sh.r.status, 86, "the run should be killed after the delivery: %d %s", sh.r.status,
	             sh.r.err);
	return local_find("INBOX", id);
}

/* The message's system flags on the server are those of `server` (in
 * any order), its Maildir letters `letters`. */
static void assert_flags(const char *server, const char *letters)
{
	static const char *const all[] = {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"};
	char *flags = NULL;
	char *path = local_find("INBOX", id);
	const char *info = strstr(path, ":2,");

	server_find("INBOX", id, &flags);
	for (size_t i = 0; i < sizeof(all) / sizeof(*all); i++)
		cr_assert_eq(has_flag(flags, all[i]), has_flag(server, all[i]),
		             "server flags \"%s\", expected \"%s\"", flags, server);
	cr_assert_str_eq(info ? info + 3 : "", letters, "local flags");
	free(flags);
	free(path);
}

Test(sync_killed_flags, a_flag_set_locally_meanwhile_reaches_the_server)
{
	char *path = delivered_by_a_killed_run("\\Seen");

	free(local_set_flags(path, "FS"));
	sync_ok();
	cr_assert(strstr(sh.r.err, "1 message it had copied is recorded now"),
	          "the run should have recovered the delivery: %s\n%s", sh.r.out, sh.r.err);
	assert_flags("\\Seen \\Flagged", "FS");
	sync_ok();
	assert_nothing_done();
	free(path);
}

Test(sync_killed_flags, a_flag_cleared_locally_meanwhile_is_cleared_on_the_server)
{
	char *path = delivered_by_a_killed_run("\\Seen \\Answered");

	free(local_set_flags(path, "R"));
	sync_ok();
	assert_flags("\\Answered", "R");
	sync_ok();
	assert_nothing_done();
	free(path);
}

Test(sync_killed_flags, changes_on_both_sides_meanwhile_are_merged)
{
	char *path = delivered_by_a_killed_run("\\Seen");
	unsigned uid = server_find("INBOX", id, NULL);

	dovecot_flags(sh.d, "INBOX", uid, "add", "\\Answered");
	free(local_set_flags(path, "F"));
	sync_ok();
	assert_flags("\\Answered \\Flagged", "FR");
	free(path);
}
