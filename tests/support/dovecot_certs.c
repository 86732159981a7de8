/*
 * Certificates for the Dovecot fixture, made with the GnuTLS API.
 *
 * Doing this in-process rather than with certtool/openssl keeps the
 * fixture free of extra packages and lets us backdate the expired
 * certificate directly (no faketime). ECDSA P-256 keys are generated in
 * well under a millisecond, so every instance gets fresh keys.
 */
#include "dovecot_p.h"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twinbox/util/xmalloc.h"

#define DAY (24 * 60 * 60)

struct cert_spec {
	const char *cn;
	const char *dns; /* subjectAltName dNSName or NULL */
	const char *ip;  /* subjectAltName iPAddress (IPv4) or NULL */
	time_t not_before;
	time_t not_after;
	bool ca;
};

struct keypair {
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
};

static int tls_fail(struct error *err, const char *what, int rc)
{
	return error_set(err, ERR_FATAL, "Cannot create the fixture certificates: %s failed: %s.", what,
	                 gnutls_strerror(rc));
}

static void keypair_free(struct keypair *kp)
{
	if (kp->crt)
		gnutls_x509_crt_deinit(kp->crt);
	if (kp->key)
		gnutls_x509_privkey_deinit(kp->key);
	kp->crt = NULL;
	kp->key = NULL;
}

static int set_serial(gnutls_x509_crt_t crt, struct error *err)
{
	unsigned char serial[16];
	int rc = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));

	if (rc < 0)
		return tls_fail(err, "gnutls_rnd", rc);
	serial[0] &= 0x7f; /* a DER INTEGER serial must be positive */
	serial[0] |= 0x01; /* and have no leading zero byte */
	rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
	return rc < 0 ? tls_fail(err, "gnutls_x509_crt_set_serial", rc) : 0;
}

static int set_names(gnutls_x509_crt_t crt, const struct cert_spec *spec, struct error *err)
{
	int rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, spec->cn,
	                                       (unsigned)strlen(spec->cn));

	if (rc < 0)
		return tls_fail(err, "setting the common name", rc);
	if (spec->dns) {
		rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, spec->dns,
		                                          (unsigned)strlen(spec->dns), GNUTLS_FSAN_APPEND);
		if (rc < 0)
			return tls_fail(err, "adding the DNS name", rc);
	}
	if (spec->ip) {
		struct in_addr a;

		if (inet_pton(AF_INET, spec->ip, &a) != 1)
			return error_set(err, ERR_FATAL, "Fixture bug: \"%s\" is not an IPv4 address.",
			                 spec->ip);
		rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, &a, sizeof(a),
		                                          GNUTLS_FSAN_APPEND);
		if (rc < 0)
			return tls_fail(err, "adding the IP address", rc);
	}
	return 0;
}

static int set_usage(gnutls_x509_crt_t crt, bool ca, struct error *err)
{
	int rc = gnutls_x509_crt_set_basic_constraints(crt, ca ? 1 : 0, ca ? 0 : -1);

	if (rc < 0)
		return tls_fail(err, "setting basic constraints", rc);
	rc = gnutls_x509_crt_set_key_usage(crt, ca ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN
	                                           : GNUTLS_KEY_DIGITAL_SIGNATURE);
	if (rc < 0)
		return tls_fail(err, "setting the key usage", rc);
	if (!ca) {
		rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
		if (rc < 0)
			return tls_fail(err, "setting the key purpose", rc);
	}
	return 0;
}

static int set_key_ids(gnutls_x509_crt_t crt, const struct keypair *issuer, struct error *err)
{
	unsigned char id[64];
	size_t id_len = sizeof(id);
	int rc = gnutls_x509_crt_get_key_id(crt, 0, id, &id_len);

	if (rc < 0)
		return tls_fail(err, "computing the key id", rc);
	rc = gnutls_x509_crt_set_subject_key_id(crt, id, id_len);
	if (rc < 0)
		return tls_fail(err, "setting the subject key id", rc);
	if (issuer) {
		id_len = sizeof(id);
		rc = gnutls_x509_crt_get_subject_key_id(issuer->crt, id, &id_len, NULL);
		if (rc < 0)
			return tls_fail(err, "reading the issuer key id", rc);
		rc = gnutls_x509_crt_set_authority_key_id(crt, id, id_len);
		if (rc < 0)
			return tls_fail(err, "setting the authority key id", rc);
	}
	return 0;
}

/* Make a key and a certificate for `spec`, signed by `issuer` (NULL:
 * self-signed). */
static int make_cert(const struct cert_spec *spec, const struct keypair *issuer, struct keypair *kp,
                     struct error *err)
{
	int rc;

	memset(kp, 0, sizeof(*kp));
	if ((rc = gnutls_x509_privkey_init(&kp->key)) < 0 ||
	    (rc = gnutls_x509_privkey_generate(kp->key, GNUTLS_PK_ECDSA,
	                                       GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0) {
		keypair_free(kp);
		return tls_fail(err, "generating a key", rc);
	}
	if ((rc = gnutls_x509_crt_init(&kp->crt)) < 0 || (rc = gnutls_x509_crt_set_version(kp->crt, 3)) < 0 ||
	    (rc = gnutls_x509_crt_set_key(kp->crt, kp->key)) < 0 ||
	    (rc = gnutls_x509_crt_set_activation_time(kp->crt, spec->not_before)) < 0 ||
	    (rc = gnutls_x509_crt_set_expiration_time(kp->crt, spec->not_after)) < 0) {
		keypair_free(kp);
		return tls_fail(err, "filling in a certificate", rc);
	}
	if (set_serial(kp->crt, err) < 0 || set_names(kp->crt, spec, err) < 0 ||
	    set_usage(kp->crt, spec->ca, err) < 0 || set_key_ids(kp->crt, issuer, err) < 0) {
		keypair_free(kp);
		return -1;
	}
	rc = issuer ? gnutls_x509_crt_sign2(kp->crt, issuer->crt, issuer->key, GNUTLS_DIG_SHA256, 0)
	            : gnutls_x509_crt_sign2(kp->crt, kp->crt, kp->key, GNUTLS_DIG_SHA256, 0);
	if (rc < 0) {
		keypair_free(kp);
		return tls_fail(err, "signing a certificate", rc);
	}
	return 0;
}

static int write_datum(const char *dir, const char *name, const gnutls_datum_t *d, mode_t mode,
                       struct error *err)
{
	char *path = xasprintf("%s/%s", dir, name);
	int rc = dv_write_file(path, d->data, d->size, mode, err);

	free(path);
	return rc;
}

/* Write `<base>.pem` and, unless `base_key` is NULL, its key as
 * `<base_key>.key` (PEM, mode 0600). */
static int write_pair(const char *dir, const struct keypair *kp, const char *base, const char *base_key,
                      struct error *err)
{
	gnutls_datum_t d = {NULL, 0};
	char *name;
	int rc = gnutls_x509_crt_export2(kp->crt, GNUTLS_X509_FMT_PEM, &d);

	if (rc < 0)
		return tls_fail(err, "exporting a certificate", rc);
	name = xasprintf("%s.pem", base);
	rc = write_datum(dir, name, &d, 0644, err);
	free(name);
	gnutls_free(d.data);
	if (rc < 0 || !base_key)
		return rc;
	d.data = NULL;
	rc = gnutls_x509_privkey_export2(kp->key, GNUTLS_X509_FMT_PEM, &d);
	if (rc < 0)
		return tls_fail(err, "exporting a key", rc);
	name = xasprintf("%s.key", base_key);
	rc = write_datum(dir, name, &d, 0600, err);
	free(name);
	gnutls_free(d.data);
	return rc;
}

int dv_certs_create(const char *ssl_dir, struct error *err)
{
	time_t now = time(NULL);
	/* An hour of slack in the past so that a clock a little behind the
	 * one that signed still accepts the certificates. */
	const struct cert_spec ca_spec = {"twinbox test CA", NULL, NULL, now - 3600, now + 30 * DAY, true};
	const struct cert_spec other_spec = {"twinbox unrelated CA", NULL, NULL, now - 3600,
	                                     now + 30 * DAY,         true};
	const struct cert_spec server_spec = {"localhost", "localhost",    "127.0.0.1",
	                                      now - 3600,  now + 30 * DAY, false};
	const struct cert_spec wrong_spec = {"wrong.example", "wrong.example", NULL,
	                                     now - 3600,      now + 30 * DAY,  false};
	const struct cert_spec expired_spec = {DOVECOT_ADDR_EXPIRED, NULL,           DOVECOT_ADDR_EXPIRED,
	                                       now - 60 * DAY,       now - 30 * DAY, false};
	struct keypair ca, other, leaf;
	int rc;

	if (make_cert(&ca_spec, NULL, &ca, err) < 0)
		return -1;
	rc = write_pair(ssl_dir, &ca, "ca", NULL, err);
	if (rc == 0 && (rc = make_cert(&other_spec, NULL, &other, err)) == 0) {
		rc = write_pair(ssl_dir, &other, "other-ca", NULL, err);
		keypair_free(&other);
	}
	if (rc == 0 && (rc = make_cert(&server_spec, &ca, &leaf, err)) == 0) {
		rc = write_pair(ssl_dir, &leaf, "server", "server", err);
		keypair_free(&leaf);
	}
	if (rc == 0 && (rc = make_cert(&wrong_spec, &ca, &leaf, err)) == 0) {
		rc = write_pair(ssl_dir, &leaf, "wrong-name", "wrong-name", err);
		keypair_free(&leaf);
	}
	if (rc == 0 && (rc = make_cert(&expired_spec, &ca, &leaf, err)) == 0) {
		rc = write_pair(ssl_dir, &leaf, "expired", "expired", err);
		keypair_free(&leaf);
	}
	keypair_free(&ca);
	return rc;
}
