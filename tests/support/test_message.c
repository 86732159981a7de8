/*
 * Deterministic test messages: the same seed gives the same bytes on
 * every machine and run, so a test can regenerate what it expects.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "dovecot.h"
#include "twinbox/util/buf.h"

#define BASE_TIME  1704067200LL /* 2024-01-01 00:00:00 UTC */
#define B64_LINE   76
#define BODY_LINES 37

static const char *const words[] = {
    "mail",  "sync",   "folder", "offline", "server", "twin",  "flag", "message",
    "local", "remote", "state",  "plan",    "quick",  "brown", "fox",  "lazy",
};

/* RFC 5322 date from the seed, without the locale that strftime uses. */
static void format_date(unsigned seed, char out[40])
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(BASE_TIME + (long long)(seed % 100000u) * 3607);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
	         months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static uint32_t next_random(uint32_t *state)
{
	/* xorshift32: plenty for filler, and identical everywhere. */
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

static void body_text(struct buf *b, unsigned seed)
{
	unsigned lines = 1 + (unsigned)(((uint64_t)seed * 7919u) % BODY_LINES);
	uint32_t state = seed * 2654435761u ^ 0x9e3779b9u;

	if (state == 0)
		state = 1;
	buf_printf(b, "Hello,\r\n\r\nthis is test message %u.\r\n", seed);
	for (unsigned i = 0; i < lines; i++) {
		unsigned n = 2 + next_random(&state) % 9;

		buf_printf(b, "%u:", i + 1);
		for (unsigned w = 0; w < n; w++)
			buf_printf(b, " %s", words[next_random(&state) % (sizeof(words) / sizeof(words[0]))]);
		buf_append_str(b, "\r\n");
	}
	buf_append_str(b, "-- \r\ntwinbox tests\r\n");
}

static void base64_blob(struct buf *b, unsigned seed, size_t size)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t state = seed * 2246822519u ^ 0x85ebca6bu;
	size_t col = 0;

	if (state == 0)
		state = 1;
	for (size_t i = 0; i < size; i += 3) {
		unsigned char in[3] = {0, 0, 0};
		size_t n = size - i < 3 ? size - i : 3;
		char out[4];

		for (size_t k = 0; k < n; k++)
			in[k] = (unsigned char)next_random(&state);
		out[0] = alphabet[in[0] >> 2];
		out[1] = alphabet[((in[0] & 3) << 4) | (in[1] >> 4)];
		out[2] = n > 1 ? alphabet[((in[1] & 15) << 2) | (in[2] >> 6)] : '=';
		out[3] = n > 2 ? alphabet[in[2] & 63] : '=';
		buf_append(b, out, 4);
		col += 4;
		if (col == B64_LINE) {
			buf_append_str(b, "\r\n");
			col = 0;
		}
	}
	if (col > 0)
		buf_append_str(b, "\r\n");
}

char *test_message(unsigned seed, size_t attach_size, size_t *len_r)
{
	struct buf b = BUF_INIT;
	char date[40];

	format_date(seed, date);
	buf_printf(&b,
	           "Message-ID: <seed.%u@twinbox.test>\r\n"
	           "Date: %s\r\n"
	           "From: Test Sender <sender@twinbox.test>\r\n"
	           "To: Test User <tbuser@localhost>\r\n"
	           "Subject: Test message %u\r\n"
	           "MIME-Version: 1.0\r\n",
	           seed, date, seed);
	if (attach_size == 0) {
		buf_append_str(&b, "Content-Type: text/plain; charset=us-ascii\r\n"
		                   "Content-Transfer-Encoding: 7bit\r\n\r\n");
		body_text(&b, seed);
		return buf_detach(&b, len_r);
	}
	buf_printf(&b,
	           "Content-Type: multipart/mixed; boundary=\"=_twinbox_%u\"\r\n\r\n"
	           "This is a multi-part message in MIME format.\r\n\r\n"
	           "--=_twinbox_%u\r\n"
	           "Content-Type: text/plain; charset=us-ascii\r\n"
	           "Content-Transfer-Encoding: 7bit\r\n\r\n",
	           seed, seed);
	body_text(&b, seed);
	buf_printf(&b,
	           "\r\n--=_twinbox_%u\r\n"
	           "Content-Type: application/octet-stream; name=\"blob-%u.bin\"\r\n"
	           "Content-Transfer-Encoding: base64\r\n"
	           "Content-Disposition: attachment; filename=\"blob-%u.bin\"\r\n\r\n",
	           seed, seed, seed);
	base64_blob(&b, seed, attach_size);
	buf_printf(&b, "--=_twinbox_%u--\r\n", seed);
	return buf_detach(&b, len_r);
}

void test_fill_pattern(unsigned char *p, size_t len, uint32_t seed)
{
	uint32_t x = seed ? seed : 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}
