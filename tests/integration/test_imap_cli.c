/*
 * End-to-end: `twinbox list-folders ACCOUNT` against the fixture Dovecot.
 */
#include <criterion/criterion.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "twinbox/util/xmalloc.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static struct run_result r;
static char *cfg_path;

static void cleanup(void)
{
	run_result_free(&r);
	if (cfg_path) {
		char *dir = xstrdup(cfg_path);
		test_rmtree(dirname(dir));
		free(dir);
		free(cfg_path);
		cfg_path = NULL;
	}
}

TestSuite(list_folders, .fini = cleanup, .timeout = 60);

/* A config with one IMAP account "work" on the fixture. */
static const char *write_config(unsigned port, const char *tls, const char *password)
{
	struct dovecot *d = dovecot_shared();
	char *text = xasprintf("state_dir: /tmp/twinbox-state-unused\n"
	                       "accounts:\n"
	                       "  work:\n"
	                       "    imap:\n"
	                       "      host: \"127.0.0.1\"\n"
	                       "      port: %u\n"
	                       "      tls: %s\n"
	                       "      user: %s\n"
	                       "      password: \"%s\"\n"
	                       "%s%s%s"
	                       "      timeout: 10s\n"
	                       "    maildir:\n"
	                       "      path: /tmp/twinbox-mail-unused/work\n"
	                       "  old:\n"
	                       "    pop3:\n"
	                       "      host: \"127.0.0.1\"\n"
	                       "      user: x\n"
	                       "      password: x\n"
	                       "    maildir:\n"
	                       "      path: /tmp/twinbox-mail-unused/old\n",
	                       port, tls, d->user, password, strcmp(tls, "none") ? "      ca_file: \"" : "",
	                       strcmp(tls, "none") ? d->ca_file : "", strcmp(tls, "none") ? "\"\n" : "");

	cfg_path = test_write_temp("config.yaml", text, 0600);
	free(text);
	return cfg_path;
}

/* The output line of folder `name`, or NULL. */
static const char *line_of(const char *out, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, len) == 0 && p[len] == ' ')
			return p;
	return NULL;
}

/* The last field of the line at `l` (the message count), in `out`. */
static void last_field(const char *l, char *out, size_t size)
{
	const char *end = strchr(l, '\n'), *start;

	cr_assert_not_null(end);
	start = end;
	while (start > l && start[-1] != ' ')
		start--;
	snprintf(out, size, "%.*s", (int)(end - start), start);
}

Test(list_folders, lists_names_and_counts)
{
	struct dovecot *d = dovecot_shared();
	const char *path = write_config(d->imaps_port, "implicit", d->password);
	const char *l;
	char count[32];

	dovecot_seed(d,
	             "CliList/Gr\xc3\xbc\xc3\x9f"
	             "e",
	             3, 7, 0);
	dovecot_create_mailbox(d, "CliList/Empty");
	run_twinbox(ARGS("list-folders", "--config", path, "work"), 30, &r);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert(strncmp(r.out, "FOLDER", 6) == 0, "%s", r.out);
	l = line_of(r.out, "CliList/Gr\xc3\xbc\xc3\x9f"
	                   "e");
	cr_assert_not_null(l, "UTF-8 name missing: %s", r.out);
	last_field(l, count, sizeof(count));
	cr_assert_str_eq(count, "3");
	l = line_of(r.out, "CliList/Empty");
	cr_assert_not_null(l, "%s", r.out);
	last_field(l, count, sizeof(count));
	cr_assert_str_eq(count, "0");
	/* "CliList" exists only as a parent: not selectable, no count */
	l = line_of(r.out, "CliList");
	if (l) {
		last_field(l, count, sizeof(count));
		cr_assert(strcmp(count, "-") == 0 || strcmp(count, "0") == 0, "%s", count);
	}
	cr_assert_not_null(line_of(r.out, "INBOX"), "%s", r.out);
}

Test(list_folders, works_over_starttls)
{
	struct dovecot *d = dovecot_shared();
	const char *path = write_config(d->imap_port, "starttls", d->password);

	run_twinbox(ARGS("list-folders", "work", "--config", path), 30, &r);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_not_null(line_of(r.out, "INBOX"), "%s", r.out);
}

Test(list_folders, wrong_password_exit_2)
{
	struct dovecot *d = dovecot_shared();
	const char *path = write_config(d->imaps_port, "implicit", "wrong-password-123");

	run_twinbox(ARGS("list-folders", "--config", path, "work"), 30, &r);
	cr_assert_eq(r.status, 2, "stdout: %s stderr: %s", r.out, r.err);
	cr_assert(strstr(r.err, "refused the user name or password"), "%s", r.err);
	cr_assert_null(strstr(r.err, "wrong-password-123"), "%s", r.err);
	cr_assert_null(strstr(r.out, "FOLDER"), "%s", r.out);
}

Test(list_folders, trace_never_shows_the_password)
{
	struct dovecot *d = dovecot_shared();
	const char *path = write_config(d->imaps_port, "implicit", d->password);

	run_twinbox(ARGS("-vv", "list-folders", "--config", path, "work"), 30, &r);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert(strstr(r.err, "C: A"), "no protocol trace: %s", r.err);
	cr_assert(strstr(r.err, "AUTHENTICATE PLAIN ***"), "%s", r.err);
	cr_assert_null(strstr(r.err, d->password), "password in the trace");
}

Test(list_folders, usage_unknown_account_and_pop3)
{
	struct dovecot *d = dovecot_shared();
	const char *path = write_config(d->imaps_port, "implicit", d->password);

	run_twinbox(ARGS("list-folders", "--config", path), 10, &r);
	cr_assert_eq(r.status, 64);
	cr_assert(strstr(r.err, "Usage: twinbox list-folders ACCOUNT"), "%s", r.err);
	run_result_free(&r);
	run_twinbox(ARGS("list-folders", "--config", path, "home"), 10, &r);
	cr_assert_eq(r.status, 64);
	cr_assert(strstr(r.err, "no account named \"home\""), "%s", r.err);
	run_result_free(&r);
	run_twinbox(ARGS("list-folders", "--config", path, "old"), 10, &r);
	cr_assert_eq(r.status, 64);
	cr_assert(strstr(r.err, "POP3"), "%s", r.err);
	run_result_free(&r);
	run_twinbox(ARGS("list-folders", "--config", "/tmp/twinbox-no-such/config.yaml", "work"), 10, &r);
	cr_assert_eq(r.status, 78);
}
