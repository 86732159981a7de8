/* Modified UTF-7 mailbox names (RFC 3501 5.1.3), both directions. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/imap/utf7.h"

static const struct {
	const char *utf8;
	const char *utf7;
} pairs[] = {
    {"", ""},
    {"INBOX", "INBOX"},
    {"&", "&-"},
    {"Tom & Jerry", "Tom &- Jerry"},
    {"Entw\xc3\xbcrfe", "Entw&APw-rfe"},
    /* RFC 3501's own example */
    {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
     "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
    {"\xf0\x9f\x98\x80", "&2D3eAA-"}, /* U+1F600: a surrogate pair */
    {"a\xf0\x9f\x98\x80"
     "b",
     "a&2D3eAA-b"},
    {"&\xc3\x9c&", "&-&ANw-&-"},
    {"\xd0\x92\xd1\x85\xd0\xbe\xd0\xb4\xd1\x8f\xd1\x89\xd0\xb8\xd0\xb5", "&BBIERQQ+BDQETwRJBDgENQ-"},
    {"x\x01y", "x&AAE-y"},
    {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e&", "&ZeVnLIqe-&-"},
    {"[Gmail]/Sent Mail", "[Gmail]/Sent Mail"},
};

Test(imap_utf7, decodes_known_names)
{
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct error err;
		char *out;

		cr_assert_eq(imap_utf7_decode(pairs[i].utf7, strlen(pairs[i].utf7), &out, &err), 0, "%s: %s",
		             pairs[i].utf7, err.text);
		cr_expect_str_eq(out, pairs[i].utf8, "decoding %s", pairs[i].utf7);
		free(out);
	}
}

Test(imap_utf7, encodes_known_names)
{
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct error err;
		char *out;

		cr_assert_eq(imap_utf7_encode(pairs[i].utf8, strlen(pairs[i].utf8), &out, &err), 0, "%s",
		             err.text);
		cr_expect_str_eq(out, pairs[i].utf7, "encoding %s", pairs[i].utf8);
		free(out);
	}
}

Test(imap_utf7, decode_refuses_malformed_names)
{
	static const struct {
		const char *in;
		const char *why;
	} bad[] = {
	    {"&AOk", "not closed with '-'"},
	    {"&", "not closed with '-'"},
	    {"a&-&", "not closed with '-'"},
	    {"&A-", "leftover bits"},                                 /* a third of a unit */
	    {"&AOl-", "leftover bits"},                               /* non-zero padding bits */
	    {"&AGE-", "printable ASCII character is base64-encoded"}, /* 'a' */
	    {"&ACY-", "printable ASCII"},                             /* '&' itself */
	    {"&2D3eAA", "not closed"},
	    {"&2D0AQQ-", "high surrogate is not followed by a low one"},
	    {"&2D3YPQ-", "high surrogate is not followed by a low one"},
	    {"&3gA-", "low surrogate comes without a high one"},
	    {"&2D0-", "high surrogate ends the shift"},
	    {"&2D3eAA-&2D3eAA-", "not in canonical form"},
	    {"&AOk-&AOk-", "not in canonical form"},
	    {"&AAA-", "NUL character"},
	    {"&*-", "outside the modified base64 alphabet"},
	    {"&&-", "outside the modified base64 alphabet"},
	    {"&AO/-", "outside the modified base64 alphabet"}, /* '/' is ',' here */
	    {"caf\xc3\xa9", "outside printable US-ASCII"},
	    {"a\tb", "contains a control character"},
	    {"a\x7f", "contains a control character"},
	    {"a&AC8-b", "a \"/\" is base64-encoded (&AC8-)"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct error err;
		char *out = (char *)"sentinel";

		cr_expect_eq(imap_utf7_decode(bad[i].in, strlen(bad[i].in), &out, &err), -1, "%s", bad[i].in);
		cr_expect_null(out);
		cr_expect_eq(err.scope, ERR_MAILBOX);
		cr_expect(strstr(err.text, bad[i].why) != NULL, "%s: %s", bad[i].in, err.text);
		cr_expect(strstr(err.text, "is not valid modified UTF-7") != NULL, "%s", err.text);
	}
}

Test(imap_utf7, decode_refuses_an_embedded_nul_byte)
{
	struct error err;
	char *out;

	cr_assert_eq(imap_utf7_decode("a\0b", 3, &out, &err), -1);
	cr_assert(strstr(err.text, "a\\x00b"), "%s", err.text);
}

Test(imap_utf7, encode_refuses_invalid_utf8)
{
	static const char *const bad[] = {
	    "\xff",
	    "\xc0\xaf", /* overlong '/' */
	    "\xe0\x80\xaf",
	    "\xed\xa0\x80",     /* a UTF-16 surrogate */
	    "\xf4\x90\x80\x80", /* above U+10FFFF */
	    "\xe6\x97",         /* truncated */
	    "a\x80",
	    "\xc3(",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct error err;
		char *out;

		cr_expect_eq(imap_utf7_encode(bad[i], strlen(bad[i]), &out, &err), -1, "case %zu", i);
		cr_expect(strstr(err.text, "malformed UTF-8") != NULL, "%s", err.text);
	}
	{
		struct error err;
		char *out;
		cr_expect_eq(imap_utf7_encode("a\0b", 3, &out, &err), -1);
		cr_expect(strstr(err.text, "NUL") != NULL, "%s", err.text);
	}
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Random names mixing ASCII, '&', BMP and astral characters survive the
 * round trip, and the encoding is plain printable ASCII. */
Test(imap_utf7, random_names_round_trip)
{
	uint32_t seed = 12345;

	for (int round = 0; round < 2000; round++) {
		char name[256], *enc, *dec;
		size_t len = 0;
		struct error err;
		int n;

		seed = seed * 1103515245 + 12345;
		n = (int)(seed >> 16) % 20;
		for (int k = 0; k < n; k++) {
			uint32_t cp;
			seed = seed * 1103515245 + 12345;
			switch ((seed >> 16) % 4) {
			case 0:
				cp = 0x20 + (seed >> 8) % 0x5f;
				break;
			case 1:
				cp = '&';
				break;
			case 2:
				cp = 0x80 + (seed >> 4) % 0xd700;
				break;
			default:
				cp = 0x10000 + (seed >> 4) % 0xfffff;
				break;
			}
			len += put_utf8(name + len, cp);
		}
		cr_assert_eq(imap_utf7_encode(name, len, &enc, &err), 0, "%s", err.text);
		for (const char *c = enc; *c; c++)
			cr_assert(*c >= 0x20 && *c <= 0x7e);
		cr_assert_eq(imap_utf7_decode(enc, strlen(enc), &dec, &err), 0, "%s: %s", enc, err.text);
		cr_assert_eq(strlen(dec), len);
		cr_assert_eq(memcmp(dec, name, len), 0);
		free(enc);
		free(dec);
	}
}
