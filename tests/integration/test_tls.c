/*
 * TLS against a real Dovecot: implicit TLS and STARTTLS/STLS for IMAP and
 * POP3, and every way verification must refuse a server, each with a
 * message that names the failed check and the config key that fixes it.
 */
#include <criterion/criterion.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>

#include "support/dovecot.h"
#include "twinbox/net/conn.h"
#include "twinbox/util/fs.h"

enum proto { IMAP, POP3 };

static struct dovecot *d;

static void setup(void)
{
	d = dovecot_shared();
}

TestSuite(net_tls_server, .init = setup, .timeout = 60);

static unsigned tls_port(enum proto p)
{
	return p == IMAP ? d->imaps_port : d->pop3s_port;
}

static const char *greeting(enum proto p)
{
	return p == IMAP ? "* OK" : "+OK";
}

static struct conn *open_tls(enum proto p, const char *host, const char *ca_file, const char *fingerprint,
                             struct error *err)
{
	struct conn_options opts = {
	    .host = host,
	    .port = tls_port(p),
	    .tls = TLS_IMPLICIT,
	    .timeouts = {.connect_ms = 10000, .io_ms = 10000},
	    .ca_file = ca_file,
	    .fingerprint = fingerprint,
	};

	return conn_open(&opts, err);
}

static void read_line(struct conn *c, struct buf *line)
{
	struct error err = {0};

	cr_assert_eq(conn_readline(c, line, 8192, &err), 0, "%s", err.text);
}

static void assert_prefix(const struct buf *line, const char *prefix)
{
	cr_assert_eq(strncmp(buf_cstr(line), prefix, strlen(prefix)), 0, "expected \"%s...\", got \"%s\"",
	             prefix, buf_cstr(line));
}

static void assert_greets_over_tls(enum proto p, const char *host, const char *ca_file, const char *fp)
{
	struct error err = {0};
	struct buf line = BUF_INIT;
	struct conn *c = open_tls(p, host, ca_file, fp, &err);

	cr_assert_not_null(c, "%s", err.text);
	cr_assert(conn_is_tls(c));
	cr_assert(strstr(conn_security(c), "TLS1.") == conn_security(c), "security: %s", conn_security(c));
	read_line(c, &line);
	assert_prefix(&line, greeting(p));
	cr_assert_eq(conn_write_str(c, p == IMAP ? "z LOGOUT\r\n" : "QUIT\r\n", &err), 0, "%s", err.text);
	read_line(c, &line);
	assert_prefix(&line, p == IMAP ? "* BYE" : "+OK");
	conn_close(c);
	buf_free(&line);
}

/* Open must fail, and the message must contain every one of `want`
 * (NULL-terminated). */
static void assert_refused(enum proto p, const char *host, const char *ca_file, const char *fp,
                           const char *const *want)
{
	struct error err = {0};
	struct conn *c = open_tls(p, host, ca_file, fp, &err);

	cr_assert_null(c, "connecting to %s must fail", host);
	cr_log_info("%s: %s", host, err.text);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	for (size_t i = 0; want[i]; i++)
		cr_assert(strstr(err.text, want[i]), "expected \"%s\" in: %s", want[i], err.text);
}

/* The server certificate's SHA-256 fingerprints, computed independently
 * of the code under test: of the DER certificate and of its public key
 * (SubjectPublicKeyInfo). */
static void server_fingerprints(char cert_fp[TLS_FINGERPRINT_TEXT_SIZE],
                                char key_fp[TLS_FINGERPRINT_TEXT_SIZE])
{
	struct error err = {0};
	char *pem = NULL;
	size_t len = 0;
	gnutls_datum_t in, der = {NULL, 0}, spki = {NULL, 0};
	gnutls_x509_crt_t crt;
	gnutls_pubkey_t pub;
	unsigned char h[32];

	cr_assert_eq(fs_read_file(d->cert_file, 1 << 20, &pem, &len, &err), 0, "%s", err.text);
	in.data = (unsigned char *)pem;
	in.size = (unsigned)len;
	cr_assert_eq(gnutls_x509_crt_init(&crt), 0);
	cr_assert_eq(gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM), 0);
	cr_assert_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), 0);
	cr_assert_eq(gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, h), 0);
	tls_format_fingerprint(h, cert_fp);
	cr_assert_eq(gnutls_pubkey_init(&pub), 0);
	cr_assert_eq(gnutls_pubkey_import_x509(pub, crt, 0), 0);
	cr_assert_eq(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki), 0);
	cr_assert_eq(gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, h), 0);
	tls_format_fingerprint(h, key_fp);
	cr_assert_str_neq(cert_fp, key_fp);
	gnutls_free(der.data);
	gnutls_free(spki.data);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	free(pem);
}

/* ---- implicit TLS ---- */

Test(net_tls_server, imaps_with_ca_file_by_name)
{
	assert_greets_over_tls(IMAP, "localhost", d->ca_file, NULL);
}

Test(net_tls_server, imaps_with_ca_file_by_ip_address)
{
	assert_greets_over_tls(IMAP, "127.0.0.1", d->ca_file, NULL);
}

Test(net_tls_server, pop3s_with_ca_file)
{
	assert_greets_over_tls(POP3, "localhost", d->ca_file, NULL);
}

/* ---- STARTTLS / STLS ---- */

static struct conn *open_plain(unsigned port, struct buf *line)
{
	struct conn_options opts = {
	    .host = "localhost",
	    .port = port,
	    .tls = TLS_STARTTLS,
	    .timeouts = {.connect_ms = 10000, .io_ms = 10000},
	};
	struct error err = {0};
	struct conn *c = conn_open(&opts, &err);

	cr_assert_not_null(c, "%s", err.text);
	cr_assert_not(conn_is_tls(c));
	cr_assert_str_eq(conn_security(c), "plain");
	read_line(c, line);
	return c;
}

static void upgrade(struct conn *c, unsigned port)
{
	struct tls_options tls = {.host = "localhost", .port = port, .ca_file = d->ca_file};
	struct error err = {0};
	size_t discarded = 99;

	cr_assert_eq(conn_starttls(c, &tls, &discarded, &err), 0, "%s", err.text);
	cr_assert_eq(discarded, 0);
	cr_assert(conn_is_tls(c));
}

Test(net_tls_server, imap_starttls_then_capability_over_tls)
{
	struct buf line = BUF_INIT;
	struct error err = {0};
	struct conn *c = open_plain(d->imap_port, &line);

	assert_prefix(&line, "* OK");
	cr_assert_eq(conn_write_str(c, "a STARTTLS\r\n", &err), 0, "%s", err.text);
	read_line(c, &line);
	assert_prefix(&line, "a OK");
	upgrade(c, d->imap_port);
	cr_assert_eq(conn_write_str(c, "b CAPABILITY\r\n", &err), 0, "%s", err.text);
	read_line(c, &line);
	assert_prefix(&line, "* CAPABILITY");
	cr_assert_null(strstr(buf_cstr(&line), "STARTTLS"), "no STARTTLS once in TLS: %s", buf_cstr(&line));
	read_line(c, &line);
	assert_prefix(&line, "b OK");
	conn_close(c);
	buf_free(&line);
}

Test(net_tls_server, pop3_stls_then_capa_over_tls)
{
	struct buf line = BUF_INIT;
	struct error err = {0};
	struct conn *c = open_plain(d->pop3_port, &line);
	int lines = 0;

	assert_prefix(&line, "+OK");
	cr_assert_eq(conn_write_str(c, "STLS\r\n", &err), 0, "%s", err.text);
	read_line(c, &line);
	assert_prefix(&line, "+OK");
	upgrade(c, d->pop3_port);
	cr_assert_eq(conn_write_str(c, "CAPA\r\n", &err), 0, "%s", err.text);
	read_line(c, &line);
	assert_prefix(&line, "+OK");
	do {
		read_line(c, &line);
		cr_assert_lt(++lines, 100, "CAPA never ended");
	} while (strcmp(buf_cstr(&line), ".") != 0);
	conn_close(c);
	buf_free(&line);
}

/* ---- refusals ---- */

Test(net_tls_server, unknown_ca_with_the_system_store)
{
	char cert_fp[TLS_FINGERPRINT_TEXT_SIZE], key_fp[TLS_FINGERPRINT_TEXT_SIZE];
	char pin_hint[160];

	server_fingerprints(cert_fp, key_fp);
	snprintf(pin_hint, sizeof(pin_hint), "`fingerprint: %s`", cert_fp);
	{
		const char *const want[] = {"localhost:", "signed by an unknown authority", "`ca_file:`",
		                            pin_hint, NULL};

		assert_refused(IMAP, "localhost", NULL, NULL, want);
		assert_refused(POP3, "localhost", NULL, NULL, want);
	}
}

Test(net_tls_server, unknown_ca_with_another_ca_file)
{
	char want_ca[1024];
	const char *const want[] = {"not by the CA in", want_ca, "fingerprint: sha256:", NULL};

	snprintf(want_ca, sizeof(want_ca), "`ca_file: %s`", d->other_ca_file);
	assert_refused(IMAP, "localhost", d->other_ca_file, NULL, want);
	assert_refused(POP3, "localhost", d->other_ca_file, NULL, want);
}

Test(net_tls_server, wrong_host_name)
{
	const char *const want[] = {"TLS certificate of " DOVECOT_ADDR_WRONG_NAME ":",
	                            "not valid for the name \"" DOVECOT_ADDR_WRONG_NAME "\"",
	                            "(it is for wrong.example)",
	                            "check `host:`",
	                            "`fingerprint:",
	                            NULL};

	assert_refused(IMAP, DOVECOT_ADDR_WRONG_NAME, d->ca_file, NULL, want);
	assert_refused(POP3, DOVECOT_ADDR_WRONG_NAME, d->ca_file, NULL, want);
}

Test(net_tls_server, expired_certificate)
{
	const char *const want[] = {"TLS certificate of " DOVECOT_ADDR_EXPIRED ":", "expired on 20", NULL};

	assert_refused(IMAP, DOVECOT_ADDR_EXPIRED, d->ca_file, NULL, want);
	assert_refused(POP3, DOVECOT_ADDR_EXPIRED, d->ca_file, NULL, want);
}

Test(net_tls_server, expired_certificate_is_refused_even_when_pinned)
{
	/* Expiry is checked before the pin: with a pin that does not match,
	 * the refusal still names the expiry, so no pin can get past it. */
	const char *const want[] = {"expired on", NULL};
	struct error err = {0};

	assert_refused(IMAP, DOVECOT_ADDR_EXPIRED, NULL,
	               "sha256:0000000000000000000000000000000000000000000000000000000000000000", want);
	cr_assert_null(open_tls(POP3, DOVECOT_ADDR_EXPIRED, NULL,
	                        "sha256:0000000000000000000000000000000000000000000000000000000000000000",
	                        &err));
	cr_assert_null(strstr(err.text, "does not match"), "got: %s", err.text);
}

Test(net_tls_server, fingerprint_mismatch_shows_the_servers)
{
	char cert_fp[TLS_FINGERPRINT_TEXT_SIZE], key_fp[TLS_FINGERPRINT_TEXT_SIZE];
	static const char pin[] = "sha256:00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF";

	server_fingerprints(cert_fp, key_fp);
	{
		const char *const want[] = {"does not match `fingerprint: "
		                            "sha256:0011",
		                            cert_fp, key_fp, "update `fingerprint:`", NULL};

		/* A pin is a pin: a valid CA chain does not excuse a mismatch. */
		assert_refused(IMAP, "localhost", d->ca_file, pin, want);
		assert_refused(POP3, "localhost", NULL, pin, want);
	}
}

Test(net_tls_server, certificate_pin_replaces_ca_and_name_checks)
{
	char cert_fp[TLS_FINGERPRINT_TEXT_SIZE], key_fp[TLS_FINGERPRINT_TEXT_SIZE];

	server_fingerprints(cert_fp, key_fp);
	assert_greets_over_tls(IMAP, "localhost", NULL, cert_fp);
	assert_greets_over_tls(POP3, "127.0.0.1", NULL, cert_fp);
}

Test(net_tls_server, public_key_pin_works_too)
{
	char cert_fp[TLS_FINGERPRINT_TEXT_SIZE], key_fp[TLS_FINGERPRINT_TEXT_SIZE];

	server_fingerprints(cert_fp, key_fp);
	assert_greets_over_tls(IMAP, "localhost", NULL, key_fp);
	assert_greets_over_tls(POP3, "localhost", d->ca_file, key_fp);
}

Test(net_tls_server, server_without_tls_hangs_up_during_the_handshake)
{
	/* The listener closes at once: a reset or an EOF, depending on
	 * timing; either way the message says so and points at `tls:`. */
	const char *const want[] = {DOVECOT_ADDR_NO_STARTTLS ":", "TLS handshake", "check `tls:` and `port:`",
	                            NULL};
	enum proto protos[] = {IMAP, POP3};

	for (int i = 0; i < 2; i++) {
		struct error err = {0};

		assert_refused(protos[i], DOVECOT_ADDR_NO_STARTTLS, d->ca_file, NULL, want);
		cr_assert_null(open_tls(protos[i], DOVECOT_ADDR_NO_STARTTLS, d->ca_file, NULL, &err));
		cr_assert(strstr(err.text, "reset by the server") ||
		              strstr(err.text, "closed the connection"),
		          "got: %s", err.text);
	}
}

Test(net_tls_server, implicit_tls_to_a_plain_port_is_explained)
{
	struct conn_options opts = {
	    .host = "localhost",
	    .port = d->imap_port,
	    .tls = TLS_IMPLICIT,
	    .timeouts = {.connect_ms = 10000, .io_ms = 10000},
	    .ca_file = d->ca_file,
	};
	struct error err = {0};

	cr_assert_null(conn_open(&opts, &err));
	cr_assert(strstr(err.text, "did not answer in TLS") || strstr(err.text, "closed the connection"),
	          "got: %s", err.text);
	cr_assert(strstr(err.text, "`tls:`"), "got: %s", err.text);
}
