/*
 * libFuzzer target for the POP3 reply parser. The first byte chooses
 * which kinds of reply the parser is told to expect, in turn; the rest is
 * server output. Each input is parsed twice, fed whole and in pieces of
 * 1..7 bytes, and the two runs must agree: both fail, or both succeed
 * with the same events and the same content.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/pop3/reply.h"
#include "twinbox/util/error.h"

static const enum pop3_reply_kind kinds[] = {POP3_REPLY_STATUS, POP3_REPLY_SASL, POP3_REPLY_LINES,
                                             POP3_REPLY_DATA};

struct outcome {
	uint64_t digest; /* over event types, flags and bytes */
	int failed;
};

static void mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		*h = (*h ^ b[i]) * 0x100000001b3ULL;
}

static struct outcome run(const uint8_t *data, size_t size, uint8_t plan, int pieces)
{
	struct pop3_parser *p = pop3_parser_new(NULL);
	struct outcome o = {0xcbf29ce484222325ULL, 0};
	struct pop3_event ev;
	struct error err;
	size_t pos = 0, turn = 0, step = 1;
	int rc;

	pop3_parser_expect(p, kinds[plan & 3]);
	while (pos < size && !o.failed) {
		size_t n = pieces ? step : size - pos;
		if (n > size - pos)
			n = size - pos;
		step = step % 7 + 1;
		pop3_parser_feed(p, data + pos, n);
		pos += n;
		while ((rc = pop3_parser_next(p, &ev, &err)) == 1) {
			unsigned char t = (unsigned char)ev.type;
			/* Content is hashed byte by byte without its event
			 * boundaries, so the digest does not depend on how the
			 * input was cut. */
			if (ev.type == POP3_EV_DATA) {
				mix(&o.digest, ev.data, ev.len);
			} else {
				mix(&o.digest, &t, 1);
				if (ev.text)
					mix(&o.digest, ev.text, strlen(ev.text));
			}
			if (ev.last) {
				turn++;
				pop3_parser_expect(p, kinds[(plan >> (2 * (turn % 4))) & 3]);
			}
		}
		if (rc < 0)
			o.failed = 1;
	}
	pop3_parser_free(p);
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, pieces;

	if (size < 1)
		return 0;
	whole = run(data + 1, size - 1, data[0], 0);
	pieces = run(data + 1, size - 1, data[0], 1);
	if (whole.failed != pieces.failed)
		abort();
	/* A failed run stops at its first error, which may come at a different
	 * byte depending on the cut; successful runs must see the same. */
	if (!whole.failed && whole.digest != pieces.digest)
		abort();
	return 0;
}
