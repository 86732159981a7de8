/*
 * End-to-end: `twinbox sync` of a POP3 account against the fixture
 * Dovecot's POP3 (implicit TLS and STLS), checked in the Maildir, on the
 * server and in the state.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/sync_harness.h"
#include "twinbox/state/pop3.h"
#include "twinbox/state/state.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

TestSuite(pop3_import, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

#define T0 1800000000LL /* the controlled clock: some day in 2027 */

/* `extra`: more keys under pop3:; `sync`: a sync: section, or NULL. */
static void pop3_config_sync(const char *tls, const char *extra, const char *sync)
{
	char *text = xasprintf("state_dir: %s/state\n"
	                       "accounts:\n"
	                       "  t:\n"
	                       "    pop3:\n"
	                       "      host: localhost\n"
	                       "      port: %u\n"
	                       "      tls: %s\n"
	                       "      user: %s\n"
	                       "      password: \"%s\"\n"
	                       "      ca_file: \"%s\"\n"
	                       "%s"
	                       "    maildir:\n"
	                       "      path: %s\n"
	                       "%s",
	                       sh.dir, strcmp(tls, "implicit") == 0 ? sh.d->pop3s_port : sh.d->pop3_port, tls,
	                       sh.d->user, sh.d->password, sh.d->ca_file, extra ? extra : "", sh.mail,
	                       sync ? sync : "");
	struct error err;

	cr_assert_eq(fs_write_atomic(sh.cfg, text, strlen(text), 0600, &err), 0, "%s", err.text);
	free(text);
}

static void pop3_config(const char *tls, const char *extra)
{
	pop3_config_sync(tls, extra, NULL);
}

static void at(long long t)
{
	char v[32];

	snprintf(v, sizeof(v), "%lld", t);
	setenv("TWINBOX_TEST_NOW", v, 1);
}

/* Every server message is in the Maildir exactly once, byte for byte
 * (CRLF -> LF), and the state knows its UIDL. */
static void assert_imported(size_t expect_local)
{
	struct local_msg *lm;
	size_t nl = local_list("INBOX", &lm), ns;
	struct dovecot_msg *sm = dovecot_list(sh.d, "INBOX", true, &ns);

	cr_assert_eq(nl, expect_local, "%zu local messages, expected %zu", nl, expect_local);
	for (size_t i = 0; i < ns; i++) {
		char *id = message_id(sm[i].body), *lf = lf_of(sm[i].body, sm[i].body_len);
		size_t found = 0;
		for (size_t j = 0; j < nl; j++) {
			char *lid = message_id(lm[j].data);
			if (strcmp(id, lid) == 0) {
				found++;
				cr_assert_str_eq(lm[j].data, lf, "%s differs", id);
			}
			free(lid);
		}
		cr_assert_eq(found, 1, "%s is %zu times in the Maildir", id, found);
		free(id);
		free(lf);
	}
	dovecot_msgs_free(sm, ns);
	local_free(lm, nl);
}

static size_t state_uidls(void)
{
	struct state *st;
	struct state_pop3_set set = {0};
	struct error err;
	size_t n;

	cr_assert_eq(state_open(sh.db, 0, &st, &err), 0, "%s", err.text);
	cr_assert_eq(state_pop3_load(st, &set, &err), 0, "%s", err.text);
	n = set.count;
	state_pop3_set_free(&set);
	state_close(st);
	return n;
}

/* 1,100 messages: three batches of downloads (500, 500, 100), each
 * recorded on its own. */
Test(pop3_import, import_1100_then_nothing_then_only_the_new)
{
	pop3_config("implicit", NULL);
	dovecot_seed(sh.d, "INBOX", 1100, 2000, 3000);
	sync_ok();
	cr_assert(strstr(sh.r.out, "1100 downloaded"), "%s", sh.r.out);
	assert_imported(1100);
	cr_assert_eq(state_uidls(), 1100);
	cr_assert_eq(server_count("INBOX"), 1100, "leave_on_server is the default");
	sync_ok();
	cr_assert(strstr(sh.r.out, "0 downloaded"), "a rerun downloads nothing: %s", sh.r.out);
	dovecot_seed(sh.d, "INBOX", 3, 9000, 0);
	sync_ok();
	cr_assert(strstr(sh.r.out, "3 downloaded"), "%s", sh.r.out);
	assert_imported(1103);
}

Test(pop3_import, stls_works_too)
{
	pop3_config("starttls", NULL);
	dovecot_seed(sh.d, "INBOX", 5, 4000, 0);
	sync_ok();
	assert_imported(5);
}

Test(pop3_import, delete_after_days_counts_from_the_download)
{
	pop3_config("implicit", "      delete_after_days: 3\n");
	dovecot_seed(sh.d, "INBOX", 6, 5000, 0);
	at(T0);
	sync_ok();
	at(T0 + 2 * 86400);
	dovecot_seed(sh.d, "INBOX", 2, 6000, 0); /* downloaded two days later */
	sync_ok();
	cr_assert_eq(server_count("INBOX"), 8, "nothing is three days old yet");
	at(T0 + 3 * 86400 + 60);
	sync_ok();
	cr_assert(strstr(sh.r.out, "6 deleted from the server"), "%s", sh.r.out);
	cr_assert_eq(server_count("INBOX"), 2, "only the first six were downloaded three days ago");
	cr_assert_eq(local_message_count("INBOX"), 8, "the local copies stay");
	at(T0 + 6 * 86400);
	sync_ok();
	cr_assert_eq(server_count("INBOX"), 0);
	cr_assert_eq(local_message_count("INBOX"), 8);
	unsetenv("TWINBOX_TEST_NOW");
}

Test(pop3_import, delete_after_download_empties_the_server)
{
	pop3_config("implicit", "      leave_on_server: false\n");
	dovecot_seed(sh.d, "INBOX", 7, 7000, 0);
	sync_ok();
	cr_assert_eq(server_count("INBOX"), 0);
	cr_assert_eq(local_message_count("INBOX"), 7);
}

Test(pop3_import, max_size_skips_and_lists_never_deletes)
{
	pop3_config_sync("implicit", "      leave_on_server: false\n", "    sync:\n      max_size: 20KB\n");
	dovecot_seed(sh.d, "INBOX", 10, 8000, 60000); /* every fifth has a 60 kB attachment */
	sync_ok();
	cr_assert(strstr(sh.r.out, "2 over max_size"), "%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "not downloaded, over max_size: message 5"), "%s", sh.r.out);
	cr_assert_eq(local_message_count("INBOX"), 8);
	cr_assert_eq(server_count("INBOX"), 2, "skipped messages stay on the server");
}

Test(pop3_import, preview_lists_what_is_new)
{
	pop3_config("implicit", NULL);
	dovecot_seed(sh.d, "INBOX", 3, 9000, 0);
	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, "preview", "t"), 60, &sh.r);
	cr_assert_eq(sh.r.status, 0, "%s", sh.r.err);
	cr_assert(strstr(sh.r.out, "SUBJECT"), "%s", sh.r.out);
	cr_assert(strstr(sh.r.out, "3 of 3 messages on the server not downloaded yet"), "%s", sh.r.out);
	cr_assert_eq(local_message_count("INBOX"), 0, "preview downloads nothing");
	sync_ok();
	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, "preview", "t"), 60, &sh.r);
	cr_assert(strstr(sh.r.out, "0 of 3 messages"), "%s", sh.r.out);
}

Test(pop3_import, mark_seen_adopts_without_downloading)
{
	pop3_config("implicit", NULL);
	dovecot_seed(sh.d, "INBOX", 4, 10000, 0);
	cr_assert_eq(sync_run_args("--mark-seen"), 0, "%s", sh.r.err);
	cr_assert(strstr(sh.r.out, "4 marked"), "%s", sh.r.out);
	cr_assert_eq(local_message_count("INBOX"), 0);
	dovecot_seed(sh.d, "INBOX", 1, 11000, 0);
	sync_ok();
	cr_assert(strstr(sh.r.out, "1 downloaded"), "%s", sh.r.out);
	cr_assert_eq(local_message_count("INBOX"), 1);
}

Test(pop3_import, wrong_password_is_a_clear_error)
{
	char *text;
	struct error err;
	char *data;
	size_t len;

	pop3_config("implicit", NULL);
	cr_assert_eq(fs_read_file(sh.cfg, 1 << 16, &data, &len, &err), 0);
	char *pw = strstr(data, sh.d->password);
	cr_assert_not_null(pw);
	memcpy(pw, "wrong", 5);
	text = data;
	cr_assert_eq(fs_write_atomic(sh.cfg, text, strlen(text), 0600, &err), 0);
	free(data);
	cr_assert_eq(sync_run_args(NULL), 2);
	cr_assert(strstr(sh.r.err, "t: "), "%s", sh.r.err);
	cr_assert_eq(local_message_count("INBOX"), 0);
}

/* Killed at each durable step in turn, resumed: never lost, never
 * downloaded twice, and a further run downloads nothing. */
Test(pop3_import, crash_at_every_step)
{
	unsigned step;

	for (step = 1; step < 60; step++) {
		char n[16];
		int status;
		if (step > 1) {
			char *cmd = xasprintf("rm -rf '%s/mail' '%s/state'", sh.dir, sh.dir);
			dovecot_stop(sh.d);
			cr_assert_eq(system(cmd), 0);
			free(cmd);
			sh.d = dovecot_start();
		}
		pop3_config("implicit", "      leave_on_server: false\n");
		dovecot_seed(sh.d, "INBOX", 12, 12000, 2000);
		snprintf(n, sizeof(n), "%u", step);
		setenv("TWINBOX_TEST_CRASH_AT", n, 1);
		status = sync_run_args(NULL);
		unsetenv("TWINBOX_TEST_CRASH_AT");
		if (status == 0)
			break;
		cr_assert_eq(status, 86, "step %u: exit %d: %s", step, status, sh.r.err);
		sync_ok();
		cr_assert_eq(local_message_count("INBOX"), 12, "after a crash at step %u", step);
		cr_assert_eq(server_count("INBOX"), 0, "after a crash at step %u", step);
		sync_ok();
		cr_assert(strstr(sh.r.out, "0 downloaded"), "step %u: %s", step, sh.r.out);
		cr_assert_eq(local_message_count("INBOX"), 12);
		cr_assert_eq(tmp_count("INBOX"), 0, "files left in tmp/ after a crash at step %u", step);
	}
	cr_log_info("pop3 crash test: killed at each of %u durable steps", step - 1);
	cr_assert_gt(step, 4, "the hook fired at only %u steps", step - 1);
	cr_assert_eq(local_message_count("INBOX"), 12);
}

/* Killed with SIGKILL four times at random moments of an import of 2,000
 * small messages (seeded: TWINBOX_TEST_SEED replays one), then run to the
 * end: each message once, nothing left in tmp/. */
Test(pop3_import, killed_at_random_leaves_nothing_behind)
{
	uint32_t seed = sync_test_seed(), first = seed;
	unsigned killed;

	pop3_config("implicit", NULL);
	dovecot_seed(sh.d, "INBOX", 2000, 14000, 0);
	killed = sync_kill_randomly(&seed, 4, "INBOX", 2000);
	sync_ok();
	cr_log_info("seed %u: %u of 4 runs killed while running", first, killed);
	assert_imported(2000);
	cr_assert_eq(state_uidls(), 2000, "seed %u", first);
	cr_assert_eq(tmp_count("INBOX"), 0, "seed %u: files were left in tmp/", first);
	sync_ok();
	cr_assert(strstr(sh.r.out, "0 downloaded"), "%s", sh.r.out);
}

Test(pop3_import, local_deletions_never_reach_the_server)
{
	struct local_msg *lm;
	size_t n;

	pop3_config("implicit", NULL);
	dovecot_seed(sh.d, "INBOX", 4, 13000, 0);
	sync_ok();
	n = local_list("INBOX", &lm);
	cr_assert_eq(n, 4);
	cr_assert_eq(unlink(lm[0].path), 0);
	local_free(lm, n);
	sync_ok();
	cr_assert(strstr(sh.r.out, "0 downloaded, 0 deleted from the server"), "%s", sh.r.out);
	cr_assert_eq(server_count("INBOX"), 4, "a local deletion must not delete on the server");
	cr_assert_eq(local_message_count("INBOX"), 3, "nor bring the message back");
}

Test(pop3_import, list_folders_refuses_a_pop3_account)
{
	pop3_config("implicit", NULL);
	run_result_free(&sh.r);
	run_twinbox(ARGS("--config", sh.cfg, "list-folders", "t"), 30, &sh.r);
	cr_assert_eq(sh.r.status, 64);
	cr_assert(strstr(sh.r.err, "POP3 has no folders"), "%s", sh.r.err);
}

/* The hooks see a POP3 account's downloads as a sync's copies: one
 * new_mail call per message, with its file; after_sync with the counts,
 * the server's deletions among them. */
Test(pop3_import, hooks_tell_downloads)
{
	char *hooks = xasprintf("    hooks:\n"
	                        "      after_sync: \"printf '%%s|%%s|%%s\\\\n' \\\"$TWINBOX_FOLDERS\\\" "
	                        "\\\"$TWINBOX_PULLED\\\" \\\"$TWINBOX_DELETED\\\" >> %s/after.log\"\n"
	                        "      new_mail: \"test -f \\\"$TWINBOX_PATH\\\" && printf '%%s|%%s\\\\n' "
	                        "\\\"$TWINBOX_FOLDER\\\" \\\"$TWINBOX_SUBJECT\\\" >> %s/new.log\"\n",
	                        sh.dir, sh.dir);
	char *path = xasprintf("%s/after.log", sh.dir), *text;
	struct error err;
	size_t len;

	pop3_config_sync("implicit", "      leave_on_server: false\n", hooks);
	dovecot_seed(sh.d, "INBOX", 3, 8000, 0);
	sync_ok();
	cr_assert_eq(fs_read_file(path, 4096, &text, &len, &err), 0, "%s; stderr: %s", err.text, sh.r.err);
	cr_assert_str_eq(text, "INBOX|3|3\n");
	free(text);
	free(path);
	path = xasprintf("%s/new.log", sh.dir);
	cr_assert_eq(fs_read_file(path, 4096, &text, &len, &err), 0, "%s; stderr: %s", err.text, sh.r.err);
	cr_assert(strncmp(text, "INBOX|", 6) == 0, "%s", text);
	len = 0;
	for (size_t i = 0; text[i]; i++)
		len += text[i] == '\n';
	cr_assert_eq(len, 3, "one call per download, each with its file: %s", text);
	free(text);
	free(path);
	free(hooks);
}
