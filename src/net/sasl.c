/*
 * SASL payloads for IMAP and POP3 (see sasl.h).
 */
#include "twinbox/net/sasl.h"

#include <stdlib.h>
#include <string.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

const char *sasl_mech_name(enum sasl_mech mech)
{
	switch (mech) {
	case SASL_PLAIN:
		return "PLAIN";
	case SASL_LOGIN:
		return "LOGIN";
	case SASL_XOAUTH2:
		return "XOAUTH2";
	case SASL_OAUTHBEARER:
		return "OAUTHBEARER";
	}
	return "?";
}

char *sasl_base64(const void *data, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *in = data;
	char *out = xmalloc(4 * ((len + 2) / 3) + 1), *o = out;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		*o++ = tab[(v >> 18) & 63];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? tab[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* base64 of a secret payload; the plain payload is wiped. */
static char *secret_base64(struct buf *payload)
{
	char *b = sasl_base64(payload->data ? payload->data : "", payload->len);

	if (payload->data)
		explicit_bzero(payload->data, payload->len);
	buf_free(payload);
	return b;
}

char *sasl_initial_response(enum sasl_mech mech, const char *user, const char *secret, const char *host,
                            unsigned port)
{
	struct buf p = BUF_INIT;

	switch (mech) {
	case SASL_PLAIN:
		buf_append_byte(&p, '\0');
		buf_append_str(&p, user);
		buf_append_byte(&p, '\0');
		buf_append_str(&p, secret);
		break;
	case SASL_XOAUTH2:
		buf_printf(&p, "user=%s\001auth=Bearer %s\001\001", user, secret);
		break;
	case SASL_OAUTHBEARER:
		/* gs2 header: the authzid's ',' and '=' must be escaped. */
		buf_append_str(&p, "n,a=");
		for (const char *c = user; *c; c++) {
			if (*c == ',')
				buf_append_str(&p, "=2C");
			else if (*c == '=')
				buf_append_str(&p, "=3D");
			else
				buf_append_byte(&p, *c);
		}
		buf_printf(&p, ",\001host=%s\001port=%u\001auth=Bearer %s\001\001", host ? host : "", port,
		           secret);
		break;
	case SASL_LOGIN:
		buf_append_str(&p, user);
		break;
	}
	return secret_base64(&p);
}

char *sasl_secret_base64(const char *secret)
{
	struct buf p = BUF_INIT;

	buf_append_str(&p, secret);
	return secret_base64(&p);
}

void sasl_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}
