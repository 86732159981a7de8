#include "twinbox/imap/utf7.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* The name in messages: escaped and shortened, never raw bytes. */
static void show(const char *s, size_t len, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 8 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

static int fail(struct error *err, const char *kind, const char *in, size_t len, const char *why)
{
	char s[128];

	show(in, len, s, sizeof(s));
	return error_set(err, ERR_MAILBOX, "the mailbox name \"%s\" is not valid %s: %s", s, kind, why);
}

/* Next code point of UTF-8 at s[*i]; -1 when malformed. */
static int32_t utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char c = s[*i];
	int32_t cp, min;
	size_t n;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3, cp = c & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	if (n >= len - *i)
		return -1;
	for (size_t k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[*i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n + 1;
	return cp;
}

static void utf8_put(struct buf *b, uint32_t cp)
{
	char o[4];
	size_t n;

	if (cp < 0x80) {
		o[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6)), o[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12)), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	} else {
		o[0] = (char)(0xf0 | (cp >> 18)), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	}
	buf_append(b, o, n);
}

struct b64_out {
	uint32_t bits;
	unsigned nbits;
	int open;
};

static void b64_put16(struct buf *b, struct b64_out *st, uint32_t unit)
{
	if (!st->open) {
		buf_append_byte(b, '&');
		st->open = 1;
	}
	st->bits = (st->bits << 16) | unit;
	st->nbits += 16;
	while (st->nbits >= 6) {
		st->nbits -= 6;
		buf_append_byte(b, b64[(st->bits >> st->nbits) & 0x3f]);
	}
	st->bits &= (1u << st->nbits) - 1;
}

static void b64_close(struct buf *b, struct b64_out *st)
{
	if (!st->open)
		return;
	if (st->nbits)
		buf_append_byte(b, b64[(st->bits << (6 - st->nbits)) & 0x3f]);
	buf_append_byte(b, '-');
	st->bits = 0;
	st->nbits = 0;
	st->open = 0;
}

int imap_utf7_encode(const char *in, size_t len, char **out_r, struct error *err)
{
	const unsigned char *s = (const unsigned char *)in;
	struct b64_out st = {0, 0, 0};
	struct buf b = BUF_INIT;
	size_t i = 0;

	*out_r = NULL;
	while (i < len) {
		int32_t cp = utf8_next(s, len, &i);
		if (cp < 0) {
			buf_free(&b);
			return fail(err, "UTF-8", in, len, "it contains a malformed UTF-8 sequence");
		}
		if (cp == 0) {
			buf_free(&b);
			return fail(err, "UTF-8", in, len, "it contains a NUL character");
		}
		if (cp >= 0x20 && cp <= 0x7e) {
			b64_close(&b, &st);
			if (cp == '&')
				buf_append_str(&b, "&-");
			else
				buf_append_byte(&b, (char)cp);
		} else if (cp >= 0x10000) {
			cp -= 0x10000;
			b64_put16(&b, &st, 0xd800 | ((uint32_t)cp >> 10));
			b64_put16(&b, &st, 0xdc00 | ((uint32_t)cp & 0x3ff));
		} else {
			b64_put16(&b, &st, (uint32_t)cp);
		}
	}
	b64_close(&b, &st);
	*out_r = buf_detach(&b, NULL);
	return 0;
}

/* Decode the shift at in[*i] (just after '&', not "&-") up to its '-'. */
static const char *decode_shift(const char *in, size_t len, size_t *i, struct buf *out)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;
	size_t units = 0;

	for (; *i < len && in[*i] != '-'; (*i)++) {
		int v = b64_value((unsigned char)in[*i]);
		if (v < 0)
			return "a character outside the modified base64 alphabet follows '&'";
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		units++;
		if (high) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return "a UTF-16 high surrogate is not followed by a low one";
			utf8_put(out, 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00));
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return "a UTF-16 low surrogate comes without a high one";
		} else if (unit == '/') {
			return "a \"/\" is base64-encoded (&AC8-), which modified UTF-7 does not "
			       "allow: the server may mean a \"/\" inside a level name";
		} else if (unit >= 0x20 && unit <= 0x7e) {
			return "a printable ASCII character is base64-encoded";
		} else if (unit == 0) {
			return "it contains a NUL character";
		} else {
			utf8_put(out, unit);
		}
	}
	if (*i >= len)
		return "a '&' shift is not closed with '-'";
	if (high)
		return "a UTF-16 high surrogate ends the shift";
	if (nbits >= 6 || bits != 0)
		return "a shift ends with leftover bits";
	if (units == 0)
		return "an empty '&' shift";
	(*i)++; /* '-' */
	return NULL;
}

int imap_utf7_decode(const char *in, size_t len, char **out_r, struct error *err)
{
	struct buf b = BUF_INIT;
	const char *why = NULL;
	size_t i = 0;
	char *again;

	*out_r = NULL;
	while (i < len && !why) {
		unsigned char c = (unsigned char)in[i];
		if (c < 0x20 || c == 0x7f) {
			why = "it contains a control character";
		} else if (c > 0x7e) {
			why = "it contains a byte outside printable US-ASCII";
		} else if (c != '&') {
			buf_append_byte(&b, (char)c);
			i++;
		} else if (i + 1 < len && in[i + 1] == '-') {
			buf_append_byte(&b, '&');
			i += 2;
		} else {
			i++;
			why = decode_shift(in, len, &i, &b);
		}
	}
	if (why) {
		buf_free(&b);
		return fail(err, "modified UTF-7", in, len, why);
	}
	/* One-to-one: a valid name is the encoding of what it decodes to.
	 * This catches the rest, e.g. "&AOk-&AOk-" for "&AOkA6Q-". */
	if (imap_utf7_encode(b.data ? b.data : "", b.len, &again, NULL) < 0 || strlen(again) != len ||
	    memcmp(again, in, len) != 0) {
		free(again);
		buf_free(&b);
		return fail(err, "modified UTF-7", in, len, "it is not in canonical form");
	}
	free(again);
	*out_r = buf_detach(&b, NULL);
	return 0;
}
