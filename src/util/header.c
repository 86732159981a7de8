/* Header fields as text to show (header.h). */
#include "twinbox/util/header.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/utf8.h"
#include "twinbox/util/xmalloc.h"

/* Longest charset name of an encoded word taken seriously. */
#define CHARSET_MAX 64

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* The end of the line at `p` (its LF, or `end`). */
static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : end;
}

/* The line's length without its CR. */
static size_t line_len(const char *p, const char *eol)
{
	return (size_t)(eol - p) - (eol > p && eol[-1] == '\r');
}

/* Whether the line at `p` (`n` bytes) is field `name`: its value then
 * starts at *value_r. */
static bool field_is(const char *p, size_t n, const char *name, const char **value_r)
{
	size_t k = strlen(name), i;

	if (n < k + 1 || strncasecmp(p, name, k) != 0)
		return false;
	for (i = k; i < n && is_wsp(p[i]); i++) /* obsolete syntax: "Subject :" */
		;
	if (i == n || p[i] != ':')
		return false;
	*value_r = p + i + 1;
	return true;
}

char *header_field(const char *data, size_t len, const char *name)
{
	const char *p = data, *end = data + len, *value = NULL;
	struct buf b;

	buf_init(&b, HEADER_RAW_MAX);
	while (p < end) {
		const char *eol = line_end(p, end);
		size_t n = line_len(p, eol);

		if (n == 0)
			break; /* the end of the header block */
		if (value && !is_wsp(p[0]))
			break; /* the field's last continuation line was the one before */
		if (value) {
			if (buf_append(&b, p, n) < 0)
				break;
		} else if (field_is(p, n, name, &value)) {
			if (buf_append(&b, value, n - (size_t)(value - p)) < 0)
				break;
		}
		p = eol < end ? eol + 1 : end;
	}
	if (!value) {
		buf_free(&b);
		return NULL;
	}
	/* The white space around the value. */
	while (b.len && is_wsp(b.data[b.len - 1]))
		buf_truncate(&b, b.len - 1);
	{
		size_t lead = 0;
		while (lead < b.len && is_wsp(b.data[lead]))
			lead++;
		buf_consume(&b, lead);
	}
	return buf_detach(&b, NULL);
}

/* ---- encoded words ---- */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Q: "_" a space, "=XX" a byte. False on a bad escape. */
static bool decode_q(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			buf_append_byte(out, ' ');
		} else if (s[i] == '=') {
			int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
			int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
			if (lo < 0)
				return false;
			buf_append_byte(out, (char)(hi << 4 | lo));
			i += 2;
		} else {
			buf_append_byte(out, s[i]);
		}
	}
	return true;
}

/* B: base64, padding optional. False on a byte outside the alphabet. */
static bool decode_b(const char *s, size_t n, struct buf *out)
{
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		int v;
		if (s[i] == '=')
			break;
		if ((v = b64_value(s[i])) < 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_append_byte(out, (char)(acc >> bits & 0xff));
		}
	}
	return true;
}

/* `in` from `charset` to UTF-8, appended to `out`. False when iconv
 * does not know the charset or the text is not in it. */
static bool to_utf8(const char *charset, const struct buf *in, struct buf *out)
{
	iconv_t cd;
	char *ip = in->data, chunk[512];
	size_t left = in->len;
	bool ok = true;

	if (strcasecmp(charset, "utf-8") == 0 || strcasecmp(charset, "us-ascii") == 0 ||
	    strcasecmp(charset, "utf8") == 0)
		return utf8_valid(in->data ? in->data : "", in->len) &&
		       buf_append(out, in->data ? in->data : "", in->len) == 0;
	if ((cd = iconv_open("UTF-8", charset)) == (iconv_t)-1)
		return false;
	while (ok && left > 0) {
		char *op = chunk;
		size_t room = sizeof(chunk);
		size_t r = iconv(cd, &ip, &left, &op, &room);

		if (buf_append(out, chunk, sizeof(chunk) - room) < 0 || (r == (size_t)-1 && errno != E2BIG))
			ok = false;
	}
	iconv_close(cd);
	return ok;
}

/* The encoded word at `s` (up to `end`): its length, with its text
 * appended to `out`; or 0 when it is none or cannot be decoded
 * (nothing appended). */
static size_t encoded_word(const char *s, const char *end, struct buf *out)
{
	const char *cs = s + 2, *q1, *q2, *text, *close;
	char charset[CHARSET_MAX + 1];
	struct buf raw = BUF_INIT;
	size_t kept = out->len, cs_len;
	bool ok;

	if (end - s < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	q1 = memchr(cs, '?', (size_t)(end - cs));
	if (!q1 || q1 == cs || end - q1 < 4 || q1[2] != '?')
		return 0;
	q2 = q1 + 2;
	text = q2 + 1;
	for (close = text; close + 1 < end && !(close[0] == '?' && close[1] == '='); close++)
		if (is_wsp(*close) || *close == '?')
			return 0;
	if (close + 1 >= end)
		return 0;
	cs_len = (size_t)(q1 - cs);
	if (memchr(cs, '*', cs_len))
		cs_len = (size_t)((const char *)memchr(cs, '*', cs_len) - cs); /* RFC 2231 language */
	if (cs_len == 0 || cs_len > CHARSET_MAX || memchr(cs, ' ', cs_len))
		return 0;
	memcpy(charset, cs, cs_len);
	charset[cs_len] = '\0';
	buf_init(&raw, HEADER_RAW_MAX);
	ok = (q1[1] == 'Q' || q1[1] == 'q')   ? decode_q(text, (size_t)(close - text), &raw)
	     : (q1[1] == 'B' || q1[1] == 'b') ? decode_b(text, (size_t)(close - text), &raw)
	                                      : false;
	ok = ok && to_utf8(charset, &raw, out);
	buf_free(&raw);
	if (!ok) {
		buf_truncate(out, kept);
		return 0;
	}
	return (size_t)(close + 2 - s);
}

static void decode_words(const char *v, struct buf *out)
{
	const char *p = v, *end = v + strlen(v);
	bool after_word = false;

	while (p < end) {
		size_t n = *p == '=' ? encoded_word(p, end, out) : 0;

		if (n) {
			p += n;
			after_word = true;
			continue;
		}
		/* White space between two encoded words is not part of the text. */
		if (after_word && is_wsp(*p)) {
			const char *ws = p;
			while (ws < end && is_wsp(*ws))
				ws++;
			n = ws < end && *ws == '=' ? encoded_word(ws, end, out) : 0;
			if (n) {
				p = ws + n;
				continue;
			}
		}
		after_word = false;
		buf_append_byte(out, *p++);
	}
}

/* ---- inert text ---- */

/* The length of the well-formed UTF-8 character at `s` (`n` bytes
 * left), or 0. */
static size_t char_len(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	size_t k = c < 0x80                 ? 1
	           : c >= 0xc2 && c <= 0xdf ? 2
	           : c >= 0xe0 && c <= 0xef ? 3
	           : c >= 0xf0 && c <= 0xf4 ? 4
	                                    : 0;

	return k && k <= n && utf8_valid(s, k) ? k : 0;
}

/* `text` (`len` bytes) made inert, appended to `out` (header_inert). */
static void inert(const char *text, size_t len, struct buf *out)
{
	size_t i = 0, lead = 0;

	while (i < len) {
		size_t k = char_len(text + i, len - i);
		unsigned char c = (unsigned char)text[i];
		const char *piece = text + i;
		size_t plen = k;

		if (k == 0) { /* not UTF-8: U+FFFD */
			piece = "\xef\xbf\xbd";
			plen = 3;
			k = 1;
		} else if (c == '\t' || c == '\r' || c == '\n') {
			piece = " ";
		} else if (c < 0x20 || c == 0x7f || (c == 0xc2 && (unsigned char)text[i + 1] < 0xa0)) {
			plen = 0; /* C0, DEL, C1 (U+0080-U+009F) */
		}
		if (out->len + plen > HEADER_VALUE_MAX)
			break;
		buf_append(out, piece, plen);
		i += k;
	}
	while (out->len && out->data[out->len - 1] == ' ')
		buf_truncate(out, out->len - 1);
	while (lead < out->len && out->data[lead] == ' ')
		lead++;
	buf_consume(out, lead);
}

char *header_inert(const char *text)
{
	struct buf out = BUF_INIT;

	inert(text, strlen(text), &out);
	return buf_detach(&out, NULL);
}

char *header_display(const char *value)
{
	struct buf dec = BUF_INIT, out = BUF_INIT;

	decode_words(value, &dec);
	inert(dec.data ? dec.data : "", dec.len, &out);
	buf_free(&dec);
	return buf_detach(&out, NULL);
}
