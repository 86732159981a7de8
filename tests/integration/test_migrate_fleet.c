/*
 * Many accounts from one fleet file: `twinbox migrate --fleet`, and the
 * GNU parallel recipe shipped in contrib/migrate-fleet, over 20
 * accounts of two Dovecots; a row's mistakes named by file and line.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/two_servers.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

TestSuite(migrate_fleet, .timeout = 600);

#define ACCOUNTS 20

static char *user_name(unsigned i)
{
	return xasprintf("user%02u", i);
}

/* The fleet file of the 20 users from a to b: a header in another
 * order, a comment, quoted cells. */
static char *fleet_file(const struct dovecot *a, const struct dovecot *b)
{
	struct buf t = BUF_INIT;
	char *path;

	buf_printf(&t, "to,from,\"to-password-command\",from-password-command,from-ca-file,to-ca-file\n"
	               "# the accounts of example.org\n");
	for (unsigned i = 0; i < ACCOUNTS; i++) {
		char *u = user_name(i);
		buf_printf(&t,
		           "imaps://%s@127.0.0.1:%u,imaps://%s@127.0.0.1:%u,\"printf %%s '%s'\","
		           "\"printf %%s '%s'\",%s,%s\r\n",
		           u, b->imaps_port, u, a->imaps_port, b->password, a->password, a->ca_file,
		           b->ca_file);
		free(u);
	}
	path = test_write_temp("fleet.csv", buf_cstr(&t), 0600);
	buf_free(&t);
	return path;
}

/* The recipe's summary, a line per row: row, account, folders synced,
 * folders failed, messages copied, missing after the copy, error. Each
 * row's checked; the rows (counted) and *copied_r (summed) returned. */
static size_t read_summary(FILE *p, size_t *copied_r)
{
	char line[512], account[64], rest[256];
	unsigned row, synced, failed, pulled, missing;
	size_t rows = 0;

	*copied_r = 0;
	while (fgets(line, sizeof(line), p)) {
		rest[0] = '\0';
		cr_assert_geq(sscanf(line, "%u\t%63s\t%u\t%u\t%u\t%u\t%255[^\n]", &row, account, &synced,
		                     &failed, &pulled, &missing, rest),
		              6, "not a summary line: %s", line);
		cr_assert(strncmp(account, "migrate-", 8) == 0, "%s", line);
		cr_assert(synced >= 1 && failed == 0 && missing == 0 && !rest[0], "row %u: %s", row, line);
		*copied_r += pulled;
		rows++;
	}
	return rows;
}

Test(migrate_fleet, twenty_accounts_under_gnu_parallel)
{
	struct dovecot *a = dovecot_start(), *b = dovecot_start();
	char *fleet = fleet_file(a, b), *out = xasprintf("%s/out", a->dir),
	     *state = xasprintf("%s/state", a->dir);
	char *cmd;
	struct run_result r = {0};
	int status;
	FILE *p;
	size_t rows = 0, copied, expected = 0;
	char *users[ACCOUNTS];

	for (unsigned i = 0; i < ACCOUNTS; i++)
		users[i] = user_name(i);
	dovecot_add_users(a, (const char *const *)users, ACCOUNTS);
	dovecot_add_users(b, (const char *const *)users, ACCOUNTS);
	for (unsigned i = 0; i < ACCOUNTS; i++) {
		char *u = users[i];
		dovecot_as_user(a, u);
		dovecot_seed(a, "INBOX", 1 + i % 4, 1000 + 10 * i, 0);
		expected += 1 + i % 4 + (i % 5 == 0 ? 2 : 0);
		if (i % 5 == 0) {
			dovecot_create_mailbox(a, "Sent");
			dovecot_seed(a, "Sent", 2, 1500 + 10 * i, 0);
		}
	}

	run_twinbox((const char *const[]){"migrate", "--fleet", fleet, "--list", NULL}, 30, &r);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	for (const char *s = r.out; *s; s++)
		rows += *s == '\n';
	cr_assert_eq(rows, ACCOUNTS, "--list: %s", r.out);

	cmd = xasprintf(
	    "cd '%s' && TWINBOX='%s' TWINBOX_OPTIONS='--state-dir %s' contrib/migrate-fleet '%s' '%s' "
	    "--jobs 4 2>&1",
	    getenv("TWINBOX_SRCDIR"), getenv("TWINBOX_BIN"), state, fleet, out);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	rows = read_summary(p, &copied);
	status = pclose(p);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "migrate-fleet exit %d", status);
	cr_assert_eq(rows, ACCOUNTS, "one summary line per row");
	cr_assert_eq(copied, expected, "messages copied in all");

	for (unsigned i = 0; i < ACCOUNTS; i++) {
		char *u = user_name(i);
		dovecot_as_user(a, u);
		dovecot_as_user(b, u);
		two_assert_twins(a, "INBOX", b, "INBOX", 1 + i % 4);
		if (i % 5 == 0)
			two_assert_twins(a, "Sent", b, "Sent", 2);
		free(u);
	}

	/* The same again: each row resumes from its state and copies
	 * nothing. */
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_eq(read_summary(p, &copied), ACCOUNTS);
	cr_assert_eq(pclose(p), 0);
	cr_assert_eq(copied, 0, "nothing copied again");
	for (unsigned i = 0; i < ACCOUNTS; i++) {
		char *u = user_name(i);
		dovecot_as_user(b, u);
		cr_assert_eq(two_count(b, "INBOX"), 1 + i % 4, "%s copied twice", u);
		free(u);
	}

	for (unsigned i = 0; i < ACCOUNTS; i++)
		free(users[i]);
	free(cmd);
	run_result_free(&r);
	test_forget_temp(&fleet);
	free(out);
	free(state);
	dovecot_stop(a);
	dovecot_stop(b);
}

/* A fleet file's mistakes: named by file and line, nothing run. */
Test(migrate_fleet, bad_fleet_files_are_refused)
{
	static const struct {
		const char *text, *message;
		int status;
	} cases[] = {
	    {"from,to\nimaps://a@h,imaps://a@g\n", "fleet.csv:1: no column \"from-password-command\"", 78},
	    {"from,to,from-password-command,to-password-command,color\n", "unknown column \"color\"", 78},
	    {"from,to,from-password-command,to-password-command\n\"imaps://a@h,x,y,z\n",
	     "fleet.csv:2: a quoted field is not closed", 78},
	    {"from,to,from-password-command,to-password-command\nimaps://a@h,imaps://a@g,x\n",
	     "fleet.csv:2: row 0 has no \"to-password-command\"", 78},
	    {"from,to,from-password-command,to-password-command\na,b,c,d,e\n",
	     "fleet.csv:2: more fields than the header row names (4)", 78},
	    {"from,to,from-password-command,to-password-command\npop://a@h,imaps://a@g,x,y\n",
	     "fleet.csv:2 (row 0): --from: expected imaps://", 78},
	};
	struct run_result r = {0};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *path = test_write_temp("fleet.csv", cases[i].text, 0600);
		run_twinbox((const char *const[]){"migrate", "--fleet", path, "--index", "0", NULL}, 30, &r);
		cr_assert_eq(r.status, cases[i].status, "case %zu: status %d, stderr: %s", i, r.status,
		             r.err);
		cr_assert(strstr(r.err, cases[i].message), "case %zu: stderr: %s", i, r.err);
		run_result_free(&r);
		test_forget_temp(&path);
	}
	{
		char *path = test_write_temp("fleet.csv",
		                             "from,to,from-password-command,to-password-command\n"
		                             "imaps://a@h,imaps://a@g,x,y\n",
		                             0600);
		run_twinbox((const char *const[]){"migrate", "--fleet", path, "--index", "1", NULL}, 30, &r);
		cr_assert_eq(r.status, 64, "stderr: %s", r.err);
		cr_assert(strstr(r.err, "--index 1: expected a row of"), "stderr: %s", r.err);
		run_result_free(&r);
		run_twinbox((const char *const[]){"migrate", "--fleet", path, "--index", "0", "--from",
		                                  "imaps://x@y", NULL},
		            30, &r);
		cr_assert_eq(r.status, 64, "stderr: %s", r.err);
		cr_assert(strstr(r.err, "leave out --from, --to"), "stderr: %s", r.err);
		run_result_free(&r);
		test_forget_temp(&path);
	}
}
