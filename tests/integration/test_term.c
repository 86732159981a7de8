/*
 * End-to-end: what reaches the terminal. The binary against a scripted
 * server (tests/support/fake_server.h) that sends control bytes where a
 * real server would not: in LIST names, in NO texts, in POP3 UIDLs.
 * Nothing the binary prints may hold a raw control byte (LF ends lines
 * and nothing else); the bytes show in an escaped form.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/fake_server.h"
#include "support/run.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static struct run_result r;
static struct fake_server fs;
static char *cfg_path;

static void cleanup(void)
{
	run_result_free(&r);
	fake_server_reset(&fs);
	test_forget_temp(&cfg_path);
}

TestSuite(term, .fini = cleanup, .timeout = 60);

/* A config with account "t" of `kind` (imap or pop3) on the fake server. */
static const char *write_config(const char *kind, const char *password)
{
	cfg_path = test_account_config(&(struct test_account){.name = "t",
	                                                      .kind = kind,
	                                                      .port = fs.port,
	                                                      .tls = "none",
	                                                      .user = "tbuser",
	                                                      .password = password});
	return cfg_path;
}

/* No byte below 0x20 but LF, no DEL, no C1 control (raw or as UTF-8). */
static void assert_no_controls(const char *what, const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		bool bad = (*p < 0x20 && *p != '\n') || *p == 0x7f ||
		           (*p >= 0x80 && *p < 0xa0 && p[-1] != 0xc3) ||
		           (*p == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0);
		cr_assert(!bad, "%s holds the raw byte 0x%02x at offset %zu:\n%s", what, *p,
		          (size_t)((const char *)p - text), text);
	}
}

static void assert_terminal_safe(void)
{
	assert_no_controls("stdout", r.out);
	assert_no_controls("stderr", r.err);
}

#define IMAP_GREETING "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR LIST-STATUS] ready\r\n"

Test(term, list_names_with_esc_and_crlf_are_escaped)
{
	static const struct fake_rule rules[] = {
	    {"AUTHENTICATE", "$T OK logged in\r\n", false},
	    {"LIST",
	     "* LIST () \"/\" INBOX\r\n"
	     "* STATUS INBOX (MESSAGES 1)\r\n"
	     "* LIST () \"/\" \"Evil\x1b[31mRed\"\r\n"
	     "* STATUS \"Evil\x1b[31mRed\" (MESSAGES 2)\r\n"
	     "* LIST () \"/\" {20}\r\nForged\r\nfake line\x9b"
	     "2J\r\n"
	     "$T OK listed\r\n",
	     false},
	    {"LOGOUT", "* BYE bye\r\n$T OK\r\n", true},
	    {NULL, NULL, false},
	};

	fs.greeting = IMAP_GREETING;
	fs.rules = rules;
	fs.no_rule = "$T OK\r\n";
	fake_server_start(&fs);
	run_twinbox(ARGS("-vv", "list-folders", "--config", write_config("imap", "pw-xyz"), "t"), 30, &r);
	fake_server_stop(&fs);
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	assert_terminal_safe();
	cr_assert(strstr(r.out, "Evil\\x1b[31mRed "), "%s", r.out);
	cr_assert(strstr(r.out, "Forged\\x0d\\x0afake line\\x9b2J"), "%s", r.out);
	/* the -vv trace shows the server's lines escaped as well */
	cr_assert(strstr(r.err, "S: * LIST () \"/\" \"Evil\\x1b[31mRed\""), "%s", r.err);
}

Test(term, no_text_with_controls_is_escaped)
{
	static const struct fake_rule rules[] = {
	    {"AUTHENTICATE", "$T NO [AUTHENTICATIONFAILED] bad\x1b]0;pwned\x07 pass\tword\x9b\r\n", false},
	    {"LOGOUT", "* BYE bye\x1b[2J\r\n$T OK\r\n", true},
	    {NULL, NULL, false},
	};

	fs.greeting = IMAP_GREETING;
	fs.rules = rules;
	fs.no_rule = "$T OK\r\n";
	fake_server_start(&fs);
	run_twinbox(ARGS("list-folders", "--config", write_config("imap", "pw-xyz"), "t"), 30, &r);
	fake_server_stop(&fs);
	cr_assert_eq(r.status, 2, "stdout: %s\nstderr: %s", r.out, r.err);
	assert_terminal_safe();
	cr_assert(strstr(r.err, "bad\\x1b]0;pwned\\x07 pass\\x09word\\x9b"), "%s", r.err);
}

/* `sync` of a POP3 account on a scripted maildrop of `n` messages of 10
 * bytes whose UIDL listing is `uidls` (lines, each CRLF-terminated). */
static void pop3_sync(const char *verbosity, unsigned n, const char *uidls)
{
	static char stat[32], uidl[512], list[256];
	static struct fake_rule rules[] = {
	    {"CAPA", "+OK\r\nUSER\r\nUIDL\r\n.\r\n", false},
	    {"USER", "+OK\r\n", false},
	    {"PASS", "+OK\r\n", false},
	    {"STAT", stat, false},
	    {"UIDL", uidl, false},
	    {"LIST", list, false},
	    {"QUIT", "+OK bye\r\n", true},
	    {NULL, NULL, false},
	};
	size_t len;

	snprintf(stat, sizeof(stat), "+OK %u %u\r\n", n, 10 * n);
	snprintf(uidl, sizeof(uidl), "+OK\r\n%s.\r\n", uidls);
	len = (size_t)snprintf(list, sizeof(list), "+OK\r\n");
	for (unsigned i = 1; i <= n; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%u 10\r\n", i);
	snprintf(list + len, sizeof(list) - len, ".\r\n");
	fs.greeting = "+OK ready\r\n";
	fs.rules = rules;
	fs.no_rule = "-ERR what\r\n";
	fake_server_start(&fs);
	run_twinbox(ARGS(verbosity, "sync", "--config", write_config("pop3", "pw-xyz")), 30, &r);
	fake_server_stop(&fs);
}

Test(term, pop3_uidl_with_controls_is_escaped)
{
	pop3_sync("-vv", 1, "1 abc\x1b[2Jdef\x9b\r\n");
	assert_terminal_safe();
	cr_assert(strstr(r.err, "S: 1 abc\\x1b[2Jdef\\x9b"), "stdout: %s\nstderr: %s", r.out, r.err);
}

/* Each unusable UIDL is named, with the rule it breaks (RFC 1939: 1 to
 * 70 characters 0x21-0x7E) or the reason a duplicate cannot be used. */
Test(term, pop3_unusable_uidls_are_named_with_the_rule_they_break)
{
	pop3_sync("-v", 4,
	          "1 ctl\x1bx\r\n"
	          "2 12345678901234567890123456789012345678901234567890123456789012345678901\r\n"
	          "3 same\r\n4 same\r\n");
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(strstr(r.err, "message 1 is skipped: its UIDL \"ctl\\x1bx\" cannot be used: it contains a "
	                        "character outside 0x21-0x7E, printable ASCII (RFC 1939 allows 1 to 70 "
	                        "characters 0x21-0x7E); it is never downloaded or deleted"),
	          "%s", r.err);
	cr_assert(strstr(r.err, "message 2 is skipped: its UIDL \"1234567890"), "%s", r.err);
	cr_assert(strstr(r.err, "cannot be used: it is longer than 70 characters (RFC 1939 allows 1 to 70 "
	                        "characters 0x21-0x7E)"),
	          "%s", r.err);
	cr_assert(strstr(r.err, "message 3 is skipped: its UIDL \"same\" is used by another message too, so "
	                        "the two cannot be told apart"),
	          "%s", r.err);
	cr_assert_null(strstr(r.err, "its UIDL it"), "%s", r.err);
}

/* Standard output goes through the escaping filter in blocks (it is a
 * pipe here): a character cut by a block boundary must come out whole.
 * 600 folder names of two-byte characters make some 40 KB of output. */
Test(term, long_utf8_output_is_not_broken_at_block_boundaries)
{
	static char list[64 * 1024];
	static struct fake_rule rules[] = {
	    {"AUTHENTICATE", "$T OK logged in\r\n", false},
	    {"LIST", list, false},
	    {"LOGOUT", "* BYE bye\r\n$T OK\r\n", true},
	    {NULL, NULL, false},
	};
	size_t len = 0;
	char want[64];

	for (int i = 0; i < 600; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len,
		                        "* LIST () \"/\" \"&AOkA6QDp-%03d\"\r\n"
		                        "* STATUS \"&AOkA6QDp-%03d\" (MESSAGES %d)\r\n",
		                        i, i, i);
	snprintf(list + len, sizeof(list) - len, "$T OK listed\r\n");
	fs.greeting = IMAP_GREETING;
	fs.rules = rules;
	fs.no_rule = "$T OK\r\n";
	fake_server_start(&fs);
	run_twinbox(ARGS("list-folders", "--config", write_config("imap", "pw-xyz"), "t"), 30, &r);
	fake_server_stop(&fs);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_gt(strlen(r.out), 3 * BUFSIZ);
	cr_assert_null(strstr(r.out, "\\x"), "a character was escaped as broken:\n%s", r.out);
	for (int i = 0; i < 600; i++) {
		snprintf(want, sizeof(want), "\xc3\xa9\xc3\xa9\xc3\xa9%03d ", i);
		cr_assert(strstr(r.out, want), "%s missing", want);
	}
}
