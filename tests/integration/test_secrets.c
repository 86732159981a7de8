/*
 * End-to-end: passwords are kept out of the output at their source (the
 * LOGIN and AUTH arguments and the SASL data in the -vv trace), and the
 * output is not rewritten anywhere else: a name that contains the
 * password text shows as it is. Against the fixture Dovecot (PLAIN and
 * LOGIN, IMAP and POP3), and a scripted server for the LOGIN command,
 * XOAUTH2 and OAUTHBEARER, which the fixture does not offer.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "support/fake_server.h"
#include "support/run.h"
#include "twinbox/net/sasl.h"
#include "twinbox/util/xmalloc.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static struct run_result r;
static struct fake_server fs;
static char *cfg_path;

static void cleanup(void)
{
	run_result_free(&r);
	memset(&r, 0, sizeof(r));
	fake_server_reset(&fs);
	test_forget_temp(&cfg_path);
}

TestSuite(secrets, .fini = cleanup, .timeout = 120);

/* A config with one account `name` of `kind` (imap, pop3); `auth` the
 * auth: list or "" for the default. */
static const char *write_config(const char *name, const char *kind, unsigned port, const char *tls,
                                const char *ca_file, const char *user, const char *password, const char *auth)
{
	test_forget_temp(&cfg_path);
	cfg_path = test_account_config(&(struct test_account){.name = name,
	                                                      .kind = kind,
	                                                      .port = port,
	                                                      .tls = tls,
	                                                      .ca_file = ca_file,
	                                                      .user = user,
	                                                      .password = password,
	                                                      .auth = auth});
	return cfg_path;
}

static void assert_absent(const char *what, const char *needle)
{
	cr_assert_null(strstr(r.out, needle), "%s (%s) on stdout:\n%s", what, needle, r.out);
	cr_assert_null(strstr(r.err, needle), "%s (%s) on stderr:\n%s", what, needle, r.err);
}

/* Neither the password nor any base64 form the exchanges carry. */
static void assert_no_password(const char *user, const char *password)
{
	char *plain = xasprintf("%c%s%c%s", 1, user, 1, password);
	char *xoauth2 = xasprintf("user=%s\001auth=Bearer %s\001\001", user, password);
	char *b;

	assert_absent("the password", password);
	b = sasl_base64(password, strlen(password));
	assert_absent("the base64 of the password", b);
	free(b);
	plain[0] = plain[strlen(user) + 1] = '\0';
	b = sasl_base64(plain, 2 + strlen(user) + strlen(password));
	assert_absent("the base64 of the PLAIN payload", b);
	free(b);
	b = sasl_base64(xoauth2, strlen(xoauth2));
	assert_absent("the base64 of the XOAUTH2 payload", b);
	free(b);
	free(plain);
	free(xoauth2);
}

static void run_ok(const char *const *args)
{
	run_result_free(&r);
	run_twinbox(args, 60, &r);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
}

Test(secrets, imap_sasl_plain_and_login_on_dovecot)
{
	struct dovecot *d = dovecot_shared();
	static const char *const mechs[] = {"plain", "login"};
	static const char *const shown[] = {"AUTHENTICATE PLAIN ***", "AUTHENTICATE LOGIN"};

	for (int i = 0; i < 2; i++) {
		const char *path = write_config("t", "imap", d->imaps_port, "implicit", d->ca_file, d->user,
		                                d->password, mechs[i]);
		run_ok(ARGS("-vv", "list-folders", "--config", path, "t"));
		cr_assert(strstr(r.err, shown[i]), "%s: no trace of the exchange:\n%s", mechs[i], r.err);
		assert_no_password(d->user, d->password);
	}
	/* LOGIN's two steps both show as *** */
	cr_assert(strstr(r.err, "C: ***"), "%s", r.err);
}

Test(secrets, pop3_user_pass_plain_and_login_on_dovecot)
{
	struct dovecot *d = dovecot_shared();
	static const char *const mechs[] = {"user", "plain", "login"};
	static const char *const shown[] = {"C: PASS ***", "C: AUTH PLAIN ***", "C: AUTH LOGIN"};

	for (int i = 0; i < 3; i++) {
		const char *path = write_config("t", "pop3", d->pop3s_port, "implicit", d->ca_file, d->user,
		                                d->password, mechs[i]);
		run_ok(ARGS("-vv", "preview", "--config", path, "t"));
		cr_assert(strstr(r.err, shown[i]), "%s: no trace of the exchange:\n%s", mechs[i], r.err);
		assert_no_password(d->user, d->password);
	}
}

#define TOKEN "ya29.tok3n-Value"

static const struct fake_rule imap_rules[] = {
    {"AUTHENTICATE OAUTHBEARER\r", "+ \r\n", false},
    {"bixh", "A1 OK logged in\r\n", false}, /* the OAUTHBEARER payload: base64 of "n,a=" */
    {"AUTHENTICATE", "$T OK logged in\r\n", false},
    {"LOGIN", "$T OK logged in\r\n", false},
    {"LIST", "* LIST () \"/\" INBOX\r\n$T OK\r\n", false},
    {"STATUS", "* STATUS INBOX (MESSAGES 0)\r\n$T OK\r\n", false},
    {"LOGOUT", "* BYE bye\r\n$T OK\r\n", true},
    {NULL, NULL, false},
};

/* list-folders -vv against the scripted server offering `caps`; the
 * server must have heard `heard` (the exchange took place). */
static void scripted_login(const char *caps, const char *auth, const char *password, const char *shown,
                           const char *heard)
{
	char *greeting = xasprintf("* OK [CAPABILITY %s] ready\r\n", caps);
	const char *path;

	cleanup();
	fs.greeting = greeting;
	fs.rules = imap_rules;
	fs.no_rule = "$T OK\r\n";
	fake_server_start(&fs);
	path = write_config("t", "imap", fs.port, "none", NULL, "tbuser", password, auth);
	run_twinbox(ARGS("-vv", "list-folders", "--config", path, "t"), 30, &r);
	fake_server_stop(&fs);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.err, shown), "no trace of the exchange (%s):\n%s", shown, r.err);
	cr_assert(strstr(buf_cstr(&fs.heard), heard), "the server heard: %s", buf_cstr(&fs.heard));
	assert_no_password("tbuser", password);
	free(greeting);
}

Test(secrets, imap_login_command_xoauth2_and_oauthbearer_scripted)
{
	char *b;

	scripted_login("IMAP4rev1", "", "pw-Login-77", "C: A1 LOGIN \"tbuser\" ***", "\"pw-Login-77\"");
	b = sasl_base64("user=tbuser\001auth=Bearer " TOKEN "\001\001",
	                sizeof("user=tbuser\001auth=Bearer " TOKEN "\001\001") - 1);
	scripted_login("IMAP4rev1 AUTH=XOAUTH2 SASL-IR", "xoauth2", TOKEN, "AUTHENTICATE XOAUTH2 ***", b);
	free(b);
	scripted_login("IMAP4rev1 AUTH=OAUTHBEARER", "oauthbearer", TOKEN, "C: ***", "\r\nbixh");
}

/* The output is rewritten nowhere: an account named like the password,
 * with its Maildir under a directory of that name, shows as it is. */
Test(secrets, names_that_contain_the_password_text_show_unchanged)
{
	struct dovecot *d = dovecot_shared();
	const char *path = write_config(d->password, "imap", d->imaps_port, "implicit", d->ca_file, d->user,
	                                d->password, "");
	char *want = xasprintf("%s: logged in to 127.0.0.1:%u", d->password, d->imaps_port);

	run_ok(ARGS("list-folders", "--config", path, d->password));
	cr_assert(strstr(r.err, want), "%s", r.err);
	free(want);
}
