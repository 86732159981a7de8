/* TLS pieces that need no server: fingerprints, setup failures, a peer
 * that does not speak TLS. Handshakes with real certificates are in
 * tests/integration/test_tls.c. */
#include <criterion/criterion.h>
#include <string.h>

#include "twinbox/net/script.h"
#include "twinbox/net/tls.h"

static const unsigned char want_fp[32] = {0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0x00, 0x11, 0x22,
                                          0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                                          0xee, 0xff, 0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78};

#define FP_COLONS                                                                                            \
	"AB:CD:EF:01:23:45:67:89:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:0F:1E:2D:3C:4B:5A:69:78"
#define FP_PLAIN "abcdef0123456789001122334455667788 99aabbccddeeff0f1e2d3c4b5a6978"

Test(net_tls, fingerprint_with_colons_upper_case)
{
	unsigned char fp[32];
	struct error err = {0};

	cr_assert_eq(tls_parse_fingerprint("sha256:" FP_COLONS, fp, &err), 0, "%s", err.text);
	cr_assert_eq(memcmp(fp, want_fp, 32), 0);
}

Test(net_tls, fingerprint_lower_case_without_colons)
{
	unsigned char fp[32];
	struct error err = {0};

	cr_assert_eq(tls_parse_fingerprint("SHA256:abcdef0123456789001122334455667788"
	                                   "99aabbccddeeff0f1e2d3c4b5a6978",
	                                   fp, &err),
	             0, "%s", err.text);
	cr_assert_eq(memcmp(fp, want_fp, 32), 0);
}

Test(net_tls, fingerprint_format_round_trips)
{
	char text[TLS_FINGERPRINT_TEXT_SIZE];
	unsigned char fp[32];
	struct error err = {0};

	tls_format_fingerprint(want_fp, text);
	cr_assert_str_eq(text, "sha256:" FP_COLONS);
	cr_assert_eq(tls_parse_fingerprint(text, fp, &err), 0, "%s", err.text);
	cr_assert_eq(memcmp(fp, want_fp, 32), 0);
}

static void assert_bad(const char *text, const char *why)
{
	unsigned char fp[32];
	struct error err = {0};

	cr_assert_eq(tls_parse_fingerprint(text, fp, &err), -1, "\"%s\" must be refused", text);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, why), "\"%s\": got: %s", text, err.text);
	cr_assert(strstr(err.text, "64 hex digits"), "the message shows the right form: %s", err.text);
}

Test(net_tls, fingerprint_bad_forms_are_refused_with_the_right_form)
{
	assert_bad("", "empty");
	assert_bad(FP_COLONS, "is not valid");
	assert_bad("sha1:AB:CD:EF:01:23:45:67:89:00:11:22:33:44:55:66:77:88:99:AA:BB", "weak hash");
	assert_bad("sha256:" FP_PLAIN, "' ' is not a hex digit");
	assert_bad("sha256:" FP_COLONS ":00", "more than 64");
	assert_bad("sha256:AB:CD", "4 hex digits, not 64");
	assert_bad("sha256:" FP_COLONS "G", "'G' is not a hex digit");
	/* one digit short */
	assert_bad("sha256:bcdef0123456789001122334455667788"
	           "99aabbccddeeff0f1e2d3c4b5a6978",
	           "63 hex digits");
}

Test(net_tls, describe_is_null_for_other_transports)
{
	struct script *s = script_new();
	struct transport *t = script_transport(s);

	cr_assert_null(tls_describe(t));
	cr_assert_null(tls_describe(NULL));
	transport_close(t);
	script_free(s);
}

/* Failures before the handshake send nothing: the script has no steps,
 * so any write would be recorded as off-script. */
Test(net_tls, unreadable_ca_file_fails_before_sending)
{
	struct script *s = script_new();
	struct tls_options opts = {.host = "imap.example.com", .ca_file = "/nonexistent/ca.pem"};
	struct error err = {0};
	const char *why = NULL;

	cr_assert_null(tls_wrap(script_transport(s), &opts, &err));
	cr_assert(strstr(err.text, "`ca_file: /nonexistent/ca.pem`"), "got: %s", err.text);
	cr_assert(strstr(err.text, "No such file"), "got: %s", err.text);
	cr_assert(script_check(s, &why), "%s", why);
	script_free(s);
}

Test(net_tls, ca_file_without_certificates_is_refused)
{
	struct script *s = script_new();
	struct tls_options opts = {.host = "imap.example.com", .ca_file = "/etc/hostname"};
	struct error err = {0};

	cr_assert_null(tls_wrap(script_transport(s), &opts, &err));
	cr_assert(strstr(err.text, "holds no usable certificate"), "got: %s", err.text);
	cr_assert(strstr(err.text, "PEM"), "got: %s", err.text);
	script_free(s);
}

Test(net_tls, bad_pin_fails_before_sending)
{
	struct script *s = script_new();
	struct tls_options opts = {.host = "imap.example.com", .fingerprint = "sha256:12"};
	struct error err = {0};

	cr_assert_null(tls_wrap(script_transport(s), &opts, &err));
	cr_assert(strstr(err.text, "`fingerprint: sha256:12` is not valid"), "got: %s", err.text);
	cr_assert(script_check(s, NULL));
	script_free(s);
}

Test(net_tls, missing_host_is_refused)
{
	struct script *s = script_new();
	struct tls_options opts = {.host = NULL};
	struct error err = {0};

	cr_assert_null(tls_wrap(script_transport(s), &opts, &err));
	cr_assert(strstr(err.text, "`host:`"), "got: %s", err.text);
	script_free(s);
}

Test(net_tls, plain_text_server_is_reported_as_not_tls)
{
	struct script *s = script_new();
	struct tls_options opts = {.host = "mail.example.com", .port = 993};
	struct error err = {0};

	script_expect_any(s);
	script_send(s, "* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n");
	cr_assert_null(tls_wrap(script_transport(s), &opts, &err));
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "mail.example.com:993 did not answer in TLS"), "got: %s", err.text);
	cr_assert(strstr(err.text, "check `tls:` and `port:`"), "got: %s", err.text);
	script_free(s);
}

Test(net_tls, transport_failure_during_handshake_names_the_cause)
{
	struct script *s = script_new();
	struct tls_options opts = {.host = "mail.example.com", .port = 993};
	struct error err = {0};

	script_expect_any(s);
	script_fail(s, "mail.example.com:993 did not answer: timed out after 30 s waiting for data");
	cr_assert_null(tls_wrap(script_transport(s), &opts, &err));
	cr_assert(strstr(err.text, "TLS handshake with mail.example.com:993 failed"), "got: %s", err.text);
	cr_assert(strstr(err.text, "timed out after 30 s"), "got: %s", err.text);
	script_free(s);
}
