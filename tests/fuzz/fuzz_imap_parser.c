/*
 * libFuzzer target for the IMAP response parser and the modified UTF-7
 * codec. Build from the top of the tree:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *     -std=c11 -D_GNU_SOURCE -Iinclude tests/fuzz/fuzz_imap_parser.c \
 *     src/imap/parser.c src/imap/parser_lex.c src/imap/parser_data.c \
 *     src/imap/parser_code.c src/imap/parser_fetch.c src/imap/utf7.c \
 *     src/util/buf.c src/util/error.c src/util/xmalloc.c \
 *     -o build-fuzz/fuzz_imap_parser
 *   build-fuzz/fuzz_imap_parser -max_total_time=300 tests/fuzz/corpus/imap_parser
 *
 * Besides crashes and sanitizer reports, it checks properties and aborts
 * when one fails:
 *  - the events (and the error, if any) are the same whether the input is
 *    fed whole, in small pieces, or lazily (feeding before draining);
 *  - every pointer in every event is readable (pieces are freed as soon as
 *    the contract allows, so a parser that keeps them trips ASan);
 *  - a LIST name that decodes as modified UTF-7 encodes back to the same
 *    bytes, and any input that encodes decodes back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/imap/parser.h"
#include "twinbox/imap/utf7.h"

struct digest {
	uint64_t h;
};

static void mix(struct digest *d, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++) {
		d->h ^= c[i];
		d->h *= 0x100000001b3ull;
	}
}

static void mix_u64(struct digest *d, uint64_t v)
{
	mix(d, &v, sizeof(v));
}

static void mix_str(struct digest *d, const char *s)
{
	if (!s) {
		mix_u64(d, 0xdeadull);
		return;
	}
	size_t n = strlen(s);
	mix(d, s, n);
	mix_u64(d, n);
}

static void mix_atoms(struct digest *d, const struct imap_atoms *a)
{
	mix_u64(d, a->count);
	for (size_t i = 0; i < a->count; i++)
		mix_str(d, a->v[i]);
}

static void mix_set(struct digest *d, const struct imap_uid_set *s)
{
	mix_u64(d, s->count);
	for (size_t i = 0; i < s->count; i++) {
		if (s->ranges[i].first > s->ranges[i].last || s->ranges[i].first == 0)
			abort();
		mix_u64(d, s->ranges[i].first);
		mix_u64(d, s->ranges[i].last);
	}
}

static void mix_args(struct digest *d, const struct imap_arg *a, size_t count)
{
	for (size_t i = 0; i < count; i++, a = imap_arg_next(a)) {
		mix_u64(d, a->type);
		mix_u64(d, a->len);
		if (a->type == IMAP_ARG_LIST)
			mix_args(d, a + 1, a->count); /* depth is bounded by max_depth */
		else if (a->type != IMAP_ARG_BODY)
			mix(d, a->str, a->len + 1); /* NUL-terminated, as promised */
	}
}

static void check_utf7(const char *name, size_t len)
{
	char *dec, *enc;

	if (imap_utf7_decode(name, len, &dec, NULL) == 0) {
		if (imap_utf7_encode(dec, strlen(dec), &enc, NULL) != 0 || strlen(enc) != len ||
		    memcmp(enc, name, len) != 0)
			abort();
		free(enc);
		free(dec);
	}
	if (imap_utf7_encode(name, len, &enc, NULL) == 0) {
		if (imap_utf7_decode(enc, strlen(enc), &dec, NULL) != 0 || strlen(dec) != len ||
		    memcmp(dec, name, len) != 0)
			abort();
		free(enc);
		free(dec);
	}
}

static void mix_response(struct digest *d, const struct imap_response *r)
{
	mix_u64(d, r->kind);
	mix_u64(d, r->type);
	mix_u64(d, r->cond);
	mix_str(d, r->tag);
	mix_str(d, r->text);
	mix_u64(d, r->code.type);
	if (r->code.type != IMAP_CODE_NONE) {
		mix_str(d, r->code.name);
		mix_str(d, r->code.raw);
		mix_u64(d, r->code.number);
		mix_u64(d, r->code.modseq);
		mix_u64(d, r->code.uidvalidity);
		mix_set(d, &r->code.src);
		mix_set(d, &r->code.dst);
		mix_atoms(d, &r->code.atoms);
	}
	if (r->kind != IMAP_RESP_UNTAGGED || r->type == IMAP_DATA_COND)
		return;
	mix_args(d, r->args, r->arg_count);
	switch (r->type) {
	case IMAP_DATA_CAPABILITY:
	case IMAP_DATA_ENABLED:
	case IMAP_DATA_FLAGS:
		mix_atoms(d, &r->capability);
		break;
	case IMAP_DATA_LIST:
	case IMAP_DATA_LSUB:
		mix_atoms(d, &r->list.flags);
		mix_u64(d, (unsigned char)r->list.delimiter);
		mix(d, r->list.name, r->list.name_len);
		check_utf7(r->list.name, r->list.name_len);
		break;
	case IMAP_DATA_STATUS:
		mix(d, r->status.name, r->status.name_len);
		mix_u64(d, r->status.have);
		mix_u64(d, r->status.messages ^ r->status.uidnext ^ r->status.uidvalidity ^ r->status.unseen);
		mix_u64(d, r->status.highestmodseq ^ r->status.size);
		break;
	case IMAP_DATA_SEARCH:
		mix(d, r->search.v, r->search.count * sizeof(*r->search.v));
		mix_u64(d, r->search.modseq);
		break;
	case IMAP_DATA_ESEARCH:
		mix_str(d, r->esearch.tag);
		mix_u64(d, r->esearch.have);
		mix_set(d, &r->esearch.all);
		break;
	case IMAP_DATA_NAMESPACE: {
		const struct imap_namespace_class *c[3] = {&r->ns.personal, &r->ns.other, &r->ns.shared};
		for (int k = 0; k < 3; k++)
			for (size_t i = 0; i < c[k]->count; i++) {
				mix(d, c[k]->v[i].prefix, c[k]->v[i].prefix_len);
				mix_u64(d, (unsigned char)c[k]->v[i].delimiter);
			}
		break;
	}
	case IMAP_DATA_ID:
		for (size_t i = 0; i < r->id.count; i++) {
			mix_str(d, r->id.v[i].key);
			mix_str(d, r->id.v[i].value);
		}
		break;
	case IMAP_DATA_VANISHED:
		mix_u64(d, r->vanished.earlier);
		mix_set(d, &r->vanished.uids);
		break;
	case IMAP_DATA_QUOTA:
		mix_str(d, r->quota.root);
		for (size_t i = 0; i < r->quota.count; i++) {
			mix_str(d, r->quota.v[i].name);
			mix_u64(d, r->quota.v[i].usage ^ r->quota.v[i].limit);
		}
		break;
	case IMAP_DATA_QUOTAROOT:
		mix(d, r->quotaroot.mailbox, r->quotaroot.mailbox_len);
		for (size_t i = 0; i < r->quotaroot.count; i++)
			mix_str(d, r->quotaroot.roots[i]);
		break;
	default:
		mix_u64(d, r->number);
		break;
	}
}

static void mix_event(struct digest *d, const struct imap_event *ev)
{
	if (ev->type == IMAP_EV_BODY_CHUNK) {
		/* Only the bytes: chunk boundaries depend on the feeding. */
		if (ev->chunk_len == 0)
			abort();
		mix(d, ev->chunk, ev->chunk_len);
		return;
	}
	mix_u64(d, ev->type);
	if (ev->type == IMAP_EV_RESPONSE) {
		mix_response(d, ev->resp);
		return;
	}
	mix_u64(d, ev->fetch->seq);
	mix_u64(d, ev->fetch->have);
	mix_u64(d, ev->fetch->uid);
	mix_atoms(d, &ev->fetch->flags);
	mix_u64(d, ev->fetch->size ^ ev->fetch->modseq ^ (uint64_t)ev->fetch->internaldate);
	if (ev->fetch->items)
		mix_args(d, ev->fetch->items, ev->fetch->item_count);
	if (ev->body) {
		mix_str(d, ev->body->name);
		mix_str(d, ev->body->section);
		mix_u64(d, ev->body->size);
		mix_u64(d, ev->body->nil);
		mix_u64(d, ev->body->origin);
	}
}

/* Feed `data` in pieces (piece_max 0: whole), each a heap copy freed as
 * soon as the contract allows. Returns the digest of all events. */
static uint64_t run(const uint8_t *data, size_t size, size_t piece_max, int lazy,
                    const struct imap_parser_limits *lim)
{
	struct imap_parser *p = imap_parser_new(lim);
	struct digest d = {0xcbf29ce484222325ull};
	struct imap_event ev;
	struct error err;
	unsigned char *prev = NULL;
	size_t off = 0, k = 0;
	int r = 0;

	while (off < size && r >= 0) {
		size_t n = piece_max ? 1 + (data[k++ % size] % piece_max) : size;
		if (n > size - off)
			n = size - off;
		unsigned char *copy = malloc(n);
		memcpy(copy, data + off, n);
		imap_parser_feed(p, copy, n);
		free(prev);
		prev = copy;
		off += n;
		while ((r = imap_parser_next(p, &ev, &err)) == 1) {
			mix_event(&d, &ev);
			if (lazy)
				break;
		}
		if (r == 0) {
			free(prev);
			prev = NULL;
		}
	}
	while (r >= 0 && (r = imap_parser_next(p, &ev, &err)) == 1)
		mix_event(&d, &ev);
	free(prev);
	if (r < 0) {
		mix_str(&d, err.text);
		if (err.scope != ERR_ACCOUNT || imap_parser_next(p, &ev, &err) != -1)
			abort();
	} else {
		mix_u64(&d, imap_parser_idle(p));
	}
	imap_parser_free(p);
	return d.h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Small limits so that short inputs reach every bound. */
	static const struct imap_parser_limits small = {
	    .max_line = 600,
	    .max_literal = 100,
	    .max_body = 300,
	    .max_depth = 6,
	    .max_args = 120,
	    .max_flags = 8,
	};
	const struct imap_parser_limits *lim = size && (data[size - 1] & 1) ? &small : NULL;
	uint64_t whole, split, lazy;

	if (size == 0)
		return 0;
	whole = run(data, size, 0, 0, lim);
	split = run(data, size, 7, 0, lim);
	lazy = run(data, size, 13, 1, lim);
	if (whole != split || whole != lazy) {
		fprintf(stderr, "event streams differ: whole %016llx split %016llx lazy %016llx\n",
		        (unsigned long long)whole, (unsigned long long)split, (unsigned long long)lazy);
		abort();
	}
	return 0;
}
