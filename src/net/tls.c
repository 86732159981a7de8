/*
 * TLS with GnuTLS over any inner transport. GnuTLS reaches the network
 * only through the push/pull callbacks below, which call the inner
 * transport; so its timeouts, EINTR handling and SIGPIPE avoidance apply
 * here too, and the scripted transport can stand in for a server.
 *
 * The peer is verified after the handshake, by hand rather than through
 * gnutls_session_set_verify_cert(), so that each failure can say which
 * check failed, what the certificate says instead, and which config key
 * fixes it. No application data is sent before verification succeeds.
 */
#include "twinbox/net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "net_p.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* TLS 1.2 is the oldest version still considered safe. */
#define TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Non-fatal records (warning alerts, renegotiation requests) tolerated in
 * a row before the peer is considered hostile. */
#define MAX_NONFATAL_IN_A_ROW 64

struct tls_transport {
	struct transport base;
	struct transport *inner;
	gnutls_session_t session;
	gnutls_certificate_credentials_t cred;
	char *peer; /* "host:port" (or "host") for messages */
	/* An error of the inner transport, seen inside a GnuTLS callback;
	 * reported instead of GnuTLS's generic "pull/push error". */
	struct error io_err;
	bool io_failed;
	bool eof; /* the inner transport reported the peer's close */
	bool handshake_done;
	bool broken; /* a fatal error: no close_notify at close */
	char desc[96];
};

static const struct transport_ops tls_ops;

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
	struct tls_transport *tt = ptr;
	ssize_t n = transport_read(tt->inner, data, len, &tt->io_err);

	if (n < 0) {
		tt->io_failed = true;
		gnutls_transport_set_errno(tt->session, EIO);
	} else if (n == 0) {
		tt->eof = true;
	}
	return n;
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
	struct tls_transport *tt = ptr;

	if (transport_write(tt->inner, data, len, &tt->io_err) < 0) {
		tt->io_failed = true;
		gnutls_transport_set_errno(tt->session, EIO);
		return -1;
	}
	return (ssize_t)len;
}

/* GnuTLS's default would select() on the transport pointer as if it were
 * a file descriptor; ask the inner transport instead. */
static int tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
	struct tls_transport *tt = ptr;
	int wait = ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : ms > INT_MAX ? INT_MAX : (int)ms;
	int r = transport_poll(tt->inner, wait, &tt->io_err);

	if (r < 0) {
		tt->io_failed = true;
		gnutls_transport_set_errno(tt->session, EIO);
	}
	return r;
}

static bool is_ip_literal(const char *host)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

void tls_format_fingerprint(const unsigned char fp[32], char out[TLS_FINGERPRINT_TEXT_SIZE])
{
	char *p = out + 7;

	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++) {
		sprintf(p, "%02X", fp[i]);
		p += 2;
		if (i < 31)
			*p++ = ':';
	}
	*p = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int tls_parse_fingerprint(const char *text, unsigned char out[32], struct error *err)
{
	static const char form[] = "expected \"sha256:\" and 64 hex digits, colons allowed, as in "
	                           "\"sha256:AB:CD:...\"";
	size_t digits = 0;

	if (!text || !*text)
		return error_set(err, ERR_ACCOUNT, "`fingerprint:` is empty; %s", form);
	if (strncasecmp(text, "sha256:", 7) != 0) {
		if (strncasecmp(text, "sha1:", 5) == 0 || strncasecmp(text, "md5:", 4) == 0)
			return error_set(
			    err, ERR_ACCOUNT,
			    "`fingerprint: %.120s` uses a weak hash; only SHA-256 is accepted, %s", text,
			    form);
		return error_set(err, ERR_ACCOUNT, "`fingerprint: %.120s` is not valid: %s", text, form);
	}
	for (const char *p = text + 7; *p; p++) {
		int v;

		if (*p == ':')
			continue;
		v = hex_value(*p);
		if (v < 0)
			return error_set(err, ERR_ACCOUNT,
			                 "`fingerprint: %.120s` is not valid: '%c' is not a hex digit; %s",
			                 text, (*p >= 0x20 && *p < 0x7f) ? *p : '?', form);
		if (digits == 64)
			return error_set(err, ERR_ACCOUNT,
			                 "`fingerprint: %.120s` is not valid: more than 64 hex digits; %s",
			                 text, form);
		if (digits % 2 == 0)
			out[digits / 2] = (unsigned char)(v << 4);
		else
			out[digits / 2] |= (unsigned char)v;
		digits++;
	}
	if (digits != 64)
		return error_set(err, ERR_ACCOUNT,
		                 "`fingerprint: %.120s` is not valid: %zu hex digits, not 64; %s", text,
		                 digits, form);
	return 0;
}

/* Copy certificate text into a message, keeping only printable ASCII. */
static void append_clean(struct buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len && s[i]; i++)
		buf_append_byte(b, (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?');
}

/* The names a certificate is valid for: its DNS and IP subject
 * alternative names, else its common name; at most 8. */
static void cert_names(gnutls_x509_crt_t crt, struct buf *out)
{
	size_t shown = 0;

	for (unsigned seq = 0; shown < 8; seq++) {
		char name[256];
		size_t size = sizeof(name);
		int type = gnutls_x509_crt_get_subject_alt_name(crt, seq, name, &size, NULL);

		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type == GNUTLS_SAN_DNSNAME) {
			buf_append_str(out, shown++ ? ", " : "");
			append_clean(out, name, size);
		} else if (type == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16)) {
			char ip[INET6_ADDRSTRLEN];

			if (inet_ntop(size == 4 ? AF_INET : AF_INET6, name, ip, sizeof(ip)))
				buf_printf(out, "%s%s", shown++ ? ", " : "", ip);
		}
	}
	if (shown == 0) {
		char cn[256];
		size_t size = sizeof(cn);

		if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &size) == 0)
			append_clean(out, cn, size);
		else
			buf_append_str(out, "no name at all");
	}
}

static void format_date(time_t t, char out[32])
{
	struct tm tm;

	if (t == (time_t)-1 || !gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(out, 32, "an unreadable date");
}

struct peer_cert {
	gnutls_x509_crt_t crt;
	unsigned char cert_fp[32];
	unsigned char key_fp[32];
	char cert_fp_text[TLS_FINGERPRINT_TEXT_SIZE];
	char key_fp_text[TLS_FINGERPRINT_TEXT_SIZE];
};

static int load_peer_cert(struct tls_transport *tt, struct peer_cert *pc, struct error *err)
{
	const gnutls_datum_t *certs;
	unsigned count = 0;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t spki = {NULL, 0};
	int rc;

	certs = gnutls_certificate_get_peers(tt->session, &count);
	if (!certs || count == 0)
		return error_set(err, ERR_ACCOUNT, "%s sent no TLS certificate, so it cannot be verified",
		                 tt->peer);
	if ((rc = gnutls_x509_crt_init(&pc->crt)) < 0 ||
	    (rc = gnutls_x509_crt_import(pc->crt, &certs[0], GNUTLS_X509_FMT_DER)) < 0 ||
	    (rc = gnutls_pubkey_init(&pub)) < 0 || (rc = gnutls_pubkey_import_x509(pub, pc->crt, 0)) < 0 ||
	    (rc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki)) < 0 ||
	    (rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, certs[0].data, certs[0].size, pc->cert_fp)) < 0 ||
	    (rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, pc->key_fp)) < 0) {
		gnutls_free(spki.data);
		gnutls_pubkey_deinit(pub);
		return error_set(err, ERR_ACCOUNT, "the TLS certificate of %s could not be read: %s",
		                 tt->peer, gnutls_strerror(rc));
	}
	gnutls_free(spki.data);
	gnutls_pubkey_deinit(pub);
	tls_format_fingerprint(pc->cert_fp, pc->cert_fp_text);
	tls_format_fingerprint(pc->key_fp, pc->key_fp_text);
	return 0;
}

static int check_validity(struct tls_transport *tt, gnutls_x509_crt_t crt, struct error *err)
{
	time_t now = time(NULL);
	time_t not_before = gnutls_x509_crt_get_activation_time(crt);
	time_t not_after = gnutls_x509_crt_get_expiration_time(crt);
	char date[32];

	if (not_after == (time_t)-1 || not_before == (time_t)-1)
		return error_set(err, ERR_ACCOUNT,
		                 "the TLS certificate of %s has an unreadable validity period", tt->peer);
	if (now > not_after) {
		format_date(not_after, date);
		return error_set(
		    err, ERR_ACCOUNT,
		    "the TLS certificate of %s expired on %s; the server's administrator must renew "
		    "it (an expired certificate is never accepted, pinned or not)",
		    tt->peer, date);
	}
	if (now < not_before) {
		format_date(not_before, date);
		return error_set(
		    err, ERR_ACCOUNT,
		    "the TLS certificate of %s is not valid before %s; check this computer's clock", tt->peer,
		    date);
	}
	return 0;
}

static int chain_error(struct tls_transport *tt, const struct tls_options *opts, struct peer_cert *pc,
                       unsigned status, struct error *err)
{
	gnutls_datum_t text = {NULL, 0};
	struct buf issuer = BUF_INIT;
	int r;

	if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
		gnutls_datum_t dn = {NULL, 0};
		bool self_signed = gnutls_x509_crt_check_issuer(pc->crt, pc->crt) != 0;

		if (gnutls_x509_crt_get_issuer_dn2(pc->crt, &dn) >= 0)
			append_clean(&issuer, (const char *)dn.data, dn.size);
		gnutls_free(dn.data);
		if (opts->ca_file)
			r = error_set(
			    err, ERR_ACCOUNT,
			    "the TLS certificate of %s is %s\"%s\", not by the CA in `ca_file: %s`; set "
			    "`ca_file:` to the CA that signed it, or, if you trust this certificate, pin "
			    "it with `fingerprint: %s`",
			    tt->peer, self_signed ? "self-signed by " : "signed by ", buf_cstr(&issuer),
			    opts->ca_file, pc->cert_fp_text);
		else
			r = error_set(
			    err, ERR_ACCOUNT,
			    "the TLS certificate of %s is %s (\"%s\"), not by an authority in the system "
			    "trust store; set `ca_file:` to the CA that signed it, or, if you trust this "
			    "certificate, pin it with `fingerprint: %s`",
			    tt->peer, self_signed ? "self-signed" : "signed by an unknown authority",
			    buf_cstr(&issuer), pc->cert_fp_text);
		buf_free(&issuer);
		return r;
	}
	if (status & GNUTLS_CERT_REVOKED)
		return error_set(err, ERR_ACCOUNT, "the TLS certificate of %s has been revoked", tt->peer);
	if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED))
		return error_set(err, ERR_ACCOUNT,
		                 "a CA certificate in the chain of %s is %s; the server's administrator must "
		                 "install a current chain",
		                 tt->peer, (status & GNUTLS_CERT_EXPIRED) ? "expired" : "not valid yet");
	if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
		return error_set(
		    err, ERR_ACCOUNT,
		    "the TLS certificate of %s is signed with an insecure algorithm; pin it with "
		    "`fingerprint: %s` only if you must",
		    tt->peer, pc->cert_fp_text);
	if (status & GNUTLS_CERT_SIGNER_NOT_CA)
		return error_set(err, ERR_ACCOUNT,
		                 "the TLS certificate of %s is signed by a certificate that is not a CA; set "
		                 "`ca_file:` to the real CA, or pin it with `fingerprint: %s`",
		                 tt->peer, pc->cert_fp_text);
	if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) >= 0)
		r = error_set(err, ERR_ACCOUNT, "the TLS certificate of %s is not trusted: %s", tt->peer,
		              (const char *)text.data);
	else
		r = error_set(err, ERR_ACCOUNT, "the TLS certificate of %s is not trusted (status 0x%x)",
		              tt->peer, status);
	gnutls_free(text.data);
	return r;
}

static int verify_peer(struct tls_transport *tt, const struct tls_options *opts, const unsigned char *pin,
                       struct error *err)
{
	struct peer_cert pc = {0};
	unsigned status = 0;
	int rc, r = -1;

	if (load_peer_cert(tt, &pc, err) < 0)
		goto out;
	log_debug("TLS certificate of %s: %s, public key %s", tt->peer, pc.cert_fp_text, pc.key_fp_text);
	if (check_validity(tt, pc.crt, err) < 0)
		goto out;
	if (pin) {
		/* A pin is the user's explicit trust in one certificate or
		 * key; it replaces the CA and name checks. */
		if (memcmp(pin, pc.cert_fp, 32) == 0 || memcmp(pin, pc.key_fp, 32) == 0) {
			r = 0;
			goto out;
		}
		error_set(
		    err, ERR_ACCOUNT,
		    "the TLS certificate of %s does not match `fingerprint: %s` (the server's certificate "
		    "is %s, its public key %s); if the server's certificate changed on purpose, update "
		    "`fingerprint:`, otherwise someone may be intercepting the connection",
		    tt->peer, opts->fingerprint, pc.cert_fp_text, pc.key_fp_text);
		goto out;
	}
	rc = gnutls_certificate_verify_peers2(tt->session, &status);
	if (rc < 0) {
		error_set(err, ERR_ACCOUNT, "the TLS certificate of %s could not be verified: %s", tt->peer,
		          gnutls_strerror(rc));
		goto out;
	}
	if (status != 0) {
		chain_error(tt, opts, &pc, status, err);
		goto out;
	}
	if (!gnutls_x509_crt_check_hostname2(pc.crt, opts->host, 0)) {
		struct buf names = BUF_INIT;

		cert_names(pc.crt, &names);
		error_set(err, ERR_ACCOUNT,
		          "the TLS certificate of %s is not valid for the name \"%s\" (it is for %s); check "
		          "`host:`, or, if you trust this certificate, pin it with `fingerprint: %s`",
		          tt->peer, opts->host, buf_cstr(&names), pc.cert_fp_text);
		buf_free(&names);
		goto out;
	}
	r = 0;
out:
	if (pc.crt)
		gnutls_x509_crt_deinit(pc.crt);
	return r;
}

static int load_trust(struct tls_transport *tt, const struct tls_options *opts, struct error *err)
{
	int rc = gnutls_certificate_allocate_credentials(&tt->cred);

	if (rc < 0)
		return error_set(err, ERR_ACCOUNT, "TLS setup failed: %s", gnutls_strerror(rc));
	if (opts->ca_file) {
		FILE *f = fopen(opts->ca_file, "r");

		/* GnuTLS only says "file error"; fopen says why. */
		if (!f)
			return error_errno(err, ERR_ACCOUNT, errno, "cannot read `ca_file: %s`",
			                   opts->ca_file);
		fclose(f);
		rc = gnutls_certificate_set_x509_trust_file(tt->cred, opts->ca_file, GNUTLS_X509_FMT_PEM);
		if (rc <= 0)
			return error_set(
			    err, ERR_ACCOUNT,
			    "`ca_file: %s` holds no usable certificate (%s); it must be a PEM file "
			    "with \"-----BEGIN CERTIFICATE-----\" blocks",
			    opts->ca_file, rc < 0 ? gnutls_strerror(rc) : "none found");
	} else if (!opts->fingerprint) {
		rc = gnutls_certificate_set_x509_system_trust(tt->cred);
		if (rc < 0)
			return error_set(err, ERR_ACCOUNT,
			                 "cannot load the system's trusted CA certificates (%s); install "
			                 "ca-certificates or set `ca_file:`",
			                 gnutls_strerror(rc));
		if (rc == 0)
			log_warn(
			    "the system trust store holds no CA certificates; install ca-certificates or "
			    "set `ca_file:`");
	}
	return 0;
}

static int handshake_error(struct tls_transport *tt, int rc, int timeout_ms, struct error *err)
{
	char dur[32];

	if (tt->io_failed) {
		/* A server that drops or ignores a ClientHello usually does
		 * not speak TLS on that port. */
		return error_set(err, tt->io_err.scope,
		                 "TLS handshake with %s failed: %s; check `tls:` and `port:` (implicit TLS "
		                 "is usually on ports 993 and 995, STARTTLS on 143 and 110)",
		                 tt->peer, tt->io_err.text);
	}
	switch (rc) {
	case GNUTLS_E_TIMEDOUT:
		return error_set(err, ERR_ACCOUNT, "TLS handshake with %s timed out after %s", tt->peer,
		                 net_duration(timeout_ms, dur));
	case GNUTLS_E_PREMATURE_TERMINATION:
		return error_set(
		    err, ERR_ACCOUNT,
		    "%s closed the connection during the TLS handshake; check `tls:` and `port:` "
		    "(implicit TLS is usually on ports 993 and 995, STARTTLS on 143 and 110)",
		    tt->peer);
	case GNUTLS_E_UNEXPECTED_PACKET:
	case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
	case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
	case GNUTLS_E_RECORD_OVERFLOW:
		return error_set(err, ERR_ACCOUNT,
		                 "%s did not answer in TLS (%s); the port may expect plain text or STARTTLS: "
		                 "check `tls:` and `port:`",
		                 tt->peer, gnutls_strerror(rc));
	case GNUTLS_E_FATAL_ALERT_RECEIVED: {
		gnutls_alert_description_t alert = gnutls_alert_get(tt->session);

		return error_set(err, ERR_ACCOUNT, "%s refused the TLS handshake (alert: %s)%s", tt->peer,
		                 gnutls_alert_get_name(alert),
		                 (alert == GNUTLS_A_PROTOCOL_VERSION || alert == GNUTLS_A_HANDSHAKE_FAILURE ||
		                  alert == GNUTLS_A_INSUFFICIENT_SECURITY)
		                     ? "; the server may not offer TLS 1.2 or later, which twinbox requires"
		                     : "");
	}
	case GNUTLS_E_NO_CIPHER_SUITES:
	case GNUTLS_E_UNKNOWN_CIPHER_SUITE:
	case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
		return error_set(
		    err, ERR_ACCOUNT,
		    "%s and twinbox share no TLS version or cipher (%s); twinbox requires TLS 1.2 "
		    "or later",
		    tt->peer, gnutls_strerror(rc));
	default:
		return error_set(err, ERR_ACCOUNT, "TLS handshake with %s failed: %s", tt->peer,
		                 gnutls_strerror(rc));
	}
}

static void tls_free(struct tls_transport *tt)
{
	if (tt->session)
		gnutls_deinit(tt->session);
	if (tt->cred)
		gnutls_certificate_free_credentials(tt->cred);
	transport_close(tt->inner);
	free(tt->peer);
	free(tt);
}

static int tls_setup(struct tls_transport *tt, const struct tls_options *opts, struct error *err)
{
	const char *errpos = NULL;
	int rc;

	if ((rc = gnutls_init(&tt->session, GNUTLS_CLIENT)) < 0)
		return error_set(err, ERR_ACCOUNT, "TLS setup failed: %s", gnutls_strerror(rc));
	if ((rc = gnutls_priority_set_direct(tt->session, TLS_PRIORITY, &errpos)) < 0)
		return error_set(err, ERR_ACCOUNT, "TLS setup failed: priority string rejected at \"%s\": %s",
		                 errpos ? errpos : "?", gnutls_strerror(rc));
	if ((rc = gnutls_credentials_set(tt->session, GNUTLS_CRD_CERTIFICATE, tt->cred)) < 0)
		return error_set(err, ERR_ACCOUNT, "TLS setup failed: %s", gnutls_strerror(rc));
	/* SNI carries host names only (RFC 6066). */
	if (!is_ip_literal(opts->host) &&
	    (rc = gnutls_server_name_set(tt->session, GNUTLS_NAME_DNS, opts->host, strlen(opts->host))) < 0)
		return error_set(err, ERR_ACCOUNT, "TLS setup failed for host name \"%s\": %s", opts->host,
		                 gnutls_strerror(rc));
	gnutls_transport_set_ptr(tt->session, tt);
	gnutls_transport_set_push_function(tt->session, tls_push);
	gnutls_transport_set_pull_function(tt->session, tls_pull);
	gnutls_transport_set_pull_timeout_function(tt->session, tls_pull_timeout);
	gnutls_handshake_set_timeout(tt->session, (unsigned)net_timeout_or_default(opts->timeout_ms));
	return 0;
}

struct transport *tls_wrap(struct transport *inner, const struct tls_options *opts, struct error *err)
{
	struct tls_transport *tt = xcalloc(1, sizeof(*tt));
	unsigned char pin[32];
	int timeout_ms = net_timeout_or_default(opts->timeout_ms);
	int rc, nonfatal = 0;

	tt->base.ops = &tls_ops;
	tt->inner = inner;
	if (!opts->host || !*opts->host) {
		error_set(err, ERR_ACCOUNT, "TLS needs the server's name to verify it; set `host:`");
		goto fail;
	}
	tt->peer = opts->port == 0           ? xstrdup(opts->host)
	           : strchr(opts->host, ':') ? xasprintf("[%s]:%u", opts->host, opts->port)
	                                     : xasprintf("%s:%u", opts->host, opts->port);
	if (opts->fingerprint && tls_parse_fingerprint(opts->fingerprint, pin, err) < 0)
		goto fail;
	if (load_trust(tt, opts, err) < 0 || tls_setup(tt, opts, err) < 0)
		goto fail;
	do {
		tt->io_failed = false;
		rc = gnutls_handshake(tt->session);
	} while (rc < 0 && !gnutls_error_is_fatal(rc) && rc != GNUTLS_E_TIMEDOUT &&
	         ++nonfatal < MAX_NONFATAL_IN_A_ROW);
	if (rc < 0) {
		handshake_error(tt, rc, timeout_ms, err);
		goto fail;
	}
	tt->handshake_done = true;
	snprintf(tt->desc, sizeof(tt->desc), "%s, %s",
	         gnutls_protocol_get_name(gnutls_protocol_get_version(tt->session)),
	         gnutls_cipher_get_name(gnutls_cipher_get(tt->session)));
	if (verify_peer(tt, opts, opts->fingerprint ? pin : NULL, err) < 0) {
		/* Tell the server why we hang up, as a TLS client should. */
		gnutls_alert_send(tt->session, GNUTLS_AL_FATAL, GNUTLS_A_BAD_CERTIFICATE);
		tt->broken = true;
		goto fail;
	}
	log_debug("TLS with %s established: %s", tt->peer, tt->desc);
	return &tt->base;
fail:
	tls_free(tt);
	return NULL;
}

static ssize_t tls_read(struct transport *t, void *data, size_t len, struct error *err)
{
	struct tls_transport *tt = (struct tls_transport *)t;
	int nonfatal = 0;

	for (;;) {
		ssize_t n;

		tt->io_failed = false;
		tt->eof = false;
		n = gnutls_record_recv(tt->session, data, len);
		if (n > 0) {
			/* Hand out whole decrypted records already buffered
			 * in GnuTLS without touching the network. */
			while ((size_t)n < len && gnutls_record_check_pending(tt->session) > 0) {
				ssize_t m =
				    gnutls_record_recv(tt->session, (char *)data + n, len - (size_t)n);

				if (m <= 0)
					break;
				n += m;
			}
			return n;
		}
		/* A missing close_notify is a plain EOF for IMAP and POP3:
		 * their own framing shows any truncation. So is a close in
		 * the middle of a record, which GnuTLS reports as a record it
		 * cannot decode: the peer hung up, whatever the record. */
		if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION)
			return 0;
		if (tt->eof && !tt->io_failed) {
			tt->broken = true;
			return 0;
		}
		if (!gnutls_error_is_fatal((int)n) && n != GNUTLS_E_TIMEDOUT &&
		    ++nonfatal < MAX_NONFATAL_IN_A_ROW)
			continue;
		tt->broken = true;
		if (tt->io_failed) {
			if (err)
				*err = tt->io_err;
			return -1;
		}
		return error_set(err, ERR_ACCOUNT, "TLS error reading from %s: %s", tt->peer,
		                 gnutls_strerror((int)n));
	}
}

static int tls_write(struct transport *t, const void *data, size_t len, struct error *err)
{
	struct tls_transport *tt = (struct tls_transport *)t;
	const char *p = data;
	int nonfatal = 0;

	while (len > 0) {
		ssize_t n;

		tt->io_failed = false;
		n = gnutls_record_send(tt->session, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if ((n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) && ++nonfatal < MAX_NONFATAL_IN_A_ROW)
			continue;
		tt->broken = true;
		if (tt->io_failed) {
			if (err)
				*err = tt->io_err;
			return -1;
		}
		return error_set(err, ERR_ACCOUNT, "TLS error sending to %s: %s", tt->peer,
		                 gnutls_strerror((int)n));
	}
	return 0;
}

static int tls_poll(struct transport *t, int timeout_ms, struct error *err)
{
	struct tls_transport *tt = (struct tls_transport *)t;

	if (gnutls_record_check_pending(tt->session) > 0)
		return 1;
	return transport_poll(tt->inner, timeout_ms, err);
}

/* Plaintext still to come is at least as many bytes on the wire, less
 * what GnuTLS holds: decrypted bytes not yet handed out, and at most one
 * record received only in part (counted as the largest record TLS 1.2
 * allows, to be safe). */
#define TLS_RECORD_MAX_WIRE (5 + 16384 + 2048)

static void tls_expect(struct transport *t, uint64_t bytes)
{
	struct tls_transport *tt = (struct tls_transport *)t;
	uint64_t held = (uint64_t)gnutls_record_check_pending(tt->session) + TLS_RECORD_MAX_WIRE;

	transport_expect(tt->inner, bytes > held ? bytes - held : 0);
}

static void tls_close(struct transport *t)
{
	struct tls_transport *tt = (struct tls_transport *)t;

	/* close_notify is a courtesy; a dead connection must not delay the
	 * close, and SHUT_WR does not wait for the server's answer. */
	if (tt->handshake_done && !tt->broken)
		(void)gnutls_bye(tt->session, GNUTLS_SHUT_WR);
	tls_free(tt);
}

static const struct transport_ops tls_ops = {
    .name = "tls",
    .read = tls_read,
    .write = tls_write,
    .poll = tls_poll,
    .expect = tls_expect,
    .close = tls_close,
};

const char *tls_describe(struct transport *t)
{
	if (!t || t->ops != &tls_ops)
		return NULL;
	return ((struct tls_transport *)t)->desc;
}
