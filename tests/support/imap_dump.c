/* Event dumper and feeding harness shared by the IMAP parser tests. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "support/imap_dump.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

static void put_raw(struct buf *b, const void *s, size_t len)
{
	const unsigned char *c = s;

	for (size_t i = 0; i < len; i++) {
		if (c[i] == '"' || c[i] == '\\')
			buf_printf(b, "\\%c", c[i]);
		else if (c[i] == '\r')
			buf_append_str(b, "\\r");
		else if (c[i] == '\n')
			buf_append_str(b, "\\n");
		else if (c[i] < 0x20 || c[i] >= 0x7f)
			buf_printf(b, "\\x%02x", c[i]);
		else
			buf_append_byte(b, (char)c[i]);
	}
}

static void put_escaped(struct buf *b, const void *s, size_t len)
{
	buf_append_byte(b, '"');
	put_raw(b, s, len);
	buf_append_byte(b, '"');
}

static void put_args(struct buf *b, const struct imap_arg *a, size_t count)
{
	for (size_t i = 0; i < count; i++, a = imap_arg_next(a)) {
		if (i)
			buf_append_byte(b, ' ');
		switch (a->type) {
		case IMAP_ARG_ATOM:
			buf_append(b, a->str, a->len);
			break;
		case IMAP_ARG_QUOTED:
			put_escaped(b, a->str, a->len);
			break;
		case IMAP_ARG_LITERAL:
			buf_printf(b, "{%zu}", a->len);
			put_escaped(b, a->str, a->len);
			break;
		case IMAP_ARG_BODY:
			buf_printf(b, "<body %zu>", a->len);
			break;
		case IMAP_ARG_LIST:
			buf_append_byte(b, '(');
			put_args(b, a + 1, a->count);
			buf_append_byte(b, ')');
			break;
		}
	}
}

static void put_atoms(struct buf *b, const char *name, const struct imap_atoms *at)
{
	buf_printf(b, " %s=(", name);
	for (size_t i = 0; i < at->count; i++)
		buf_printf(b, "%s%s", i ? " " : "", at->v[i]);
	buf_append_byte(b, ')');
}

static void put_set(struct buf *b, const char *name, const struct imap_uid_set *s)
{
	buf_printf(b, " %s=", name);
	for (size_t i = 0; i < s->count; i++) {
		if (s->ranges[i].first == s->ranges[i].last)
			buf_printf(b, "%s%" PRIu32, i ? "," : "", s->ranges[i].first);
		else
			buf_printf(b, "%s%" PRIu32 ":%" PRIu32, i ? "," : "", s->ranges[i].first,
			           s->ranges[i].last);
	}
}

static void put_code(struct buf *b, const struct imap_resp_code *c)
{
	if (c->type == IMAP_CODE_NONE)
		return;
	buf_printf(b, " [%s", imap_code_name(c->type));
	if (c->type == IMAP_CODE_OTHER)
		buf_printf(b, " name=%s", c->name);
	switch (c->type) {
	case IMAP_CODE_UIDVALIDITY:
	case IMAP_CODE_UIDNEXT:
	case IMAP_CODE_UNSEEN:
		buf_printf(b, " n=%" PRIu32, c->number);
		break;
	case IMAP_CODE_HIGHESTMODSEQ:
		buf_printf(b, " modseq=%" PRIu64, c->modseq);
		break;
	case IMAP_CODE_APPENDUID:
		buf_printf(b, " v=%" PRIu32, c->uidvalidity);
		put_set(b, "dst", &c->dst);
		break;
	case IMAP_CODE_COPYUID:
		buf_printf(b, " v=%" PRIu32, c->uidvalidity);
		put_set(b, "src", &c->src);
		put_set(b, "dst", &c->dst);
		break;
	case IMAP_CODE_MODIFIED:
		put_set(b, "set", &c->src);
		break;
	case IMAP_CODE_CAPABILITY:
	case IMAP_CODE_PERMANENTFLAGS:
	case IMAP_CODE_BADEVENT:
		put_atoms(b, "atoms", &c->atoms);
		break;
	default:
		if (c->raw[0]) {
			buf_append_str(b, " raw=");
			put_escaped(b, c->raw, strlen(c->raw));
		}
		break;
	}
	buf_append_byte(b, ']');
}

static void put_ns(struct buf *b, const char *name, const struct imap_namespace_class *c)
{
	buf_printf(b, " %s=(", name);
	for (size_t i = 0; i < c->count; i++) {
		buf_append_str(b, i ? " " : "");
		put_escaped(b, c->v[i].prefix, c->v[i].prefix_len);
		buf_printf(b, ":%c", c->v[i].delimiter ? c->v[i].delimiter : '0');
	}
	buf_append_byte(b, ')');
}

static void put_data(struct buf *b, const struct imap_response *r)
{
	switch (r->type) {
	case IMAP_DATA_CAPABILITY:
	case IMAP_DATA_ENABLED:
		put_atoms(b, r->type == IMAP_DATA_ENABLED ? "ENABLED" : "CAPABILITY", &r->capability);
		break;
	case IMAP_DATA_FLAGS:
		put_atoms(b, "FLAGS", &r->flags);
		break;
	case IMAP_DATA_LIST:
	case IMAP_DATA_LSUB:
		buf_append_str(b, r->type == IMAP_DATA_LIST ? " LIST" : " LSUB");
		put_atoms(b, "attr", &r->list.flags);
		if (r->list.delimiter)
			buf_printf(b, " delim=%c", r->list.delimiter);
		else
			buf_append_str(b, " delim=NIL");
		buf_append_str(b, " name=");
		put_escaped(b, r->list.name, r->list.name_len);
		break;
	case IMAP_DATA_STATUS: {
		const struct imap_mailbox_status *s = &r->status;
		buf_append_str(b, " STATUS name=");
		put_escaped(b, s->name, s->name_len);
		if (s->have & IMAP_STATUS_MESSAGES)
			buf_printf(b, " messages=%" PRIu32, s->messages);
		if (s->have & IMAP_STATUS_RECENT)
			buf_printf(b, " recent=%" PRIu32, s->recent);
		if (s->have & IMAP_STATUS_UIDNEXT)
			buf_printf(b, " uidnext=%" PRIu32, s->uidnext);
		if (s->have & IMAP_STATUS_UIDVALIDITY)
			buf_printf(b, " uidvalidity=%" PRIu32, s->uidvalidity);
		if (s->have & IMAP_STATUS_UNSEEN)
			buf_printf(b, " unseen=%" PRIu32, s->unseen);
		if (s->have & IMAP_STATUS_HIGHESTMODSEQ)
			buf_printf(b, " highestmodseq=%" PRIu64, s->highestmodseq);
		if (s->have & IMAP_STATUS_SIZE)
			buf_printf(b, " size=%" PRIu64, s->size);
		if (s->have & IMAP_STATUS_DELETED)
			buf_printf(b, " deleted=%" PRIu32, s->deleted);
		break;
	}
	case IMAP_DATA_SEARCH:
		buf_append_str(b, " SEARCH");
		for (size_t i = 0; i < r->search.count; i++)
			buf_printf(b, " %" PRIu32, r->search.v[i]);
		if (r->search.modseq)
			buf_printf(b, " modseq=%" PRIu64, r->search.modseq);
		break;
	case IMAP_DATA_ESEARCH: {
		const struct imap_esearch *e = &r->esearch;
		buf_append_str(b, " ESEARCH");
		if (e->tag)
			buf_printf(b, " tag=%s", e->tag);
		if (e->uid)
			buf_append_str(b, " uid");
		if (e->have & IMAP_ESEARCH_MIN)
			buf_printf(b, " min=%" PRIu32, e->min);
		if (e->have & IMAP_ESEARCH_MAX)
			buf_printf(b, " max=%" PRIu32, e->max);
		if (e->have & IMAP_ESEARCH_COUNT)
			buf_printf(b, " count=%" PRIu32, e->count);
		if (e->have & IMAP_ESEARCH_ALL)
			put_set(b, "all", &e->all);
		if (e->have & IMAP_ESEARCH_MODSEQ)
			buf_printf(b, " modseq=%" PRIu64, e->modseq);
		break;
	}
	case IMAP_DATA_NAMESPACE:
		buf_append_str(b, " NAMESPACE");
		put_ns(b, "personal", &r->ns.personal);
		put_ns(b, "other", &r->ns.other);
		put_ns(b, "shared", &r->ns.shared);
		break;
	case IMAP_DATA_ID:
		buf_append_str(b, " ID");
		for (size_t i = 0; i < r->id.count; i++)
			buf_printf(b, " %s=%s", r->id.v[i].key, r->id.v[i].value ? r->id.v[i].value : "NIL");
		break;
	case IMAP_DATA_EXISTS:
		buf_printf(b, " EXISTS %" PRIu32, r->number);
		break;
	case IMAP_DATA_RECENT:
		buf_printf(b, " RECENT %" PRIu32, r->number);
		break;
	case IMAP_DATA_EXPUNGE:
		buf_printf(b, " EXPUNGE %" PRIu32, r->number);
		break;
	case IMAP_DATA_VANISHED:
		buf_printf(b, " VANISHED%s", r->vanished.earlier ? " earlier" : "");
		put_set(b, "uids", &r->vanished.uids);
		break;
	case IMAP_DATA_QUOTA:
		buf_append_str(b, " QUOTA root=");
		put_escaped(b, r->quota.root, strlen(r->quota.root));
		for (size_t i = 0; i < r->quota.count; i++)
			buf_printf(b, " %s=%" PRIu64 "/%" PRIu64, r->quota.v[i].name, r->quota.v[i].usage,
			           r->quota.v[i].limit);
		break;
	case IMAP_DATA_QUOTAROOT:
		buf_append_str(b, " QUOTAROOT name=");
		put_escaped(b, r->quotaroot.mailbox, r->quotaroot.mailbox_len);
		buf_append_str(b, " roots=(");
		for (size_t i = 0; i < r->quotaroot.count; i++) {
			buf_append_str(b, i ? " " : "");
			put_escaped(b, r->quotaroot.roots[i], strlen(r->quotaroot.roots[i]));
		}
		buf_append_byte(b, ')');
		break;
	default:
		buf_append_str(b, " OTHER");
		break;
	}
	buf_append_str(b, " args=");
	put_args(b, r->args, r->arg_count);
}

static void put_response(struct buf *b, const struct imap_response *r)
{
	switch (r->kind) {
	case IMAP_RESP_CONTINUATION:
		buf_append_str(b, "CONT text=");
		put_escaped(b, r->text, strlen(r->text));
		return;
	case IMAP_RESP_TAGGED:
		buf_printf(b, "TAGGED %s %s", r->tag, imap_cond_name(r->cond));
		break;
	case IMAP_RESP_UNTAGGED:
		buf_append_str(b, "*");
		if (r->type != IMAP_DATA_COND) {
			cr_assert_eq(r->cond, IMAP_COND_NONE);
			put_data(b, r);
			return;
		}
		buf_printf(b, " %s", imap_cond_name(r->cond));
		break;
	}
	put_code(b, &r->code);
	buf_append_str(b, " text=");
	put_escaped(b, r->text, strlen(r->text));
}

static void put_fetch(struct buf *b, const struct imap_fetch *f)
{
	buf_printf(b, " seq=%" PRIu32, f->seq);
	if (f->have & IMAP_FETCH_UID)
		buf_printf(b, " uid=%" PRIu32, f->uid);
	if (f->have & IMAP_FETCH_FLAGS)
		put_atoms(b, "flags", &f->flags);
	if (f->have & IMAP_FETCH_SIZE)
		buf_printf(b, " size=%" PRIu64, f->size);
	if (f->have & IMAP_FETCH_INTERNALDATE)
		buf_printf(b, " date=%lld%+d", (long long)f->internaldate, f->tz_minutes);
	if (f->have & IMAP_FETCH_MODSEQ)
		buf_printf(b, " modseq=%" PRIu64, f->modseq);
	if (f->items) {
		buf_append_str(b, " items=(");
		put_args(b, f->items, f->item_count);
		buf_append_byte(b, ')');
	}
}

static void put_event(struct buf *b, const struct imap_event *ev, int *in_chunk)
{
	if (ev->type == IMAP_EV_BODY_CHUNK) {
		cr_assert_gt(ev->chunk_len, 0);
		/* Chunk boundaries depend on how bytes were fed: merge them. */
		if (*in_chunk)
			buf_truncate(b, b->len - 2); /* the closing quote and newline */
		else
			buf_append_str(b, "BODY_DATA \"");
		put_raw(b, ev->chunk, ev->chunk_len);
		buf_append_str(b, "\"\n");
		*in_chunk = 1;
		return;
	}
	*in_chunk = 0;
	switch (ev->type) {
	case IMAP_EV_RESPONSE:
		put_response(b, ev->resp);
		break;
	case IMAP_EV_FETCH_BEGIN:
	case IMAP_EV_FETCH_END:
		buf_append_str(b, imap_event_type_name(ev->type));
		put_fetch(b, ev->fetch);
		break;
	case IMAP_EV_BODY_START:
		buf_printf(b, "BODY_START name=%s section=%s size=%" PRIu64, ev->body->name,
		           ev->body->section, ev->body->size);
		if (ev->body->has_origin)
			buf_printf(b, " origin=%" PRIu32, ev->body->origin);
		if (ev->body->binary)
			buf_append_str(b, " binary");
		if (ev->body->nil)
			buf_append_str(b, " nil");
		break;
	case IMAP_EV_BODY_END:
		buf_append_str(b, "BODY_END");
		break;
	default:
		buf_append_str(b, "?");
		break;
	}
	buf_append_byte(b, '\n');
}

/* Pull events until the parser wants input (0), fails (-1), or, with
 * `once`, after one event (1). */
static int drain(struct imap_parser *p, struct buf *out, int *in_chunk, int once)
{
	struct imap_event ev;
	struct error err;

	for (;;) {
		int r = imap_parser_next(p, &ev, &err);
		if (r < 0) {
			cr_assert_eq(err.scope, ERR_ACCOUNT);
			buf_printf(out, "ERROR: %s\n", err.text);
			return -1;
		}
		if (r == 0)
			return 0;
		put_event(out, &ev, in_chunk);
		if (once)
			return 1;
	}
}

char *imap_test_run(const char *input, size_t len, size_t piece, int lazy,
                    const struct imap_parser_limits *limits)
{
	struct imap_parser *p = imap_parser_new(limits);
	struct buf out = BUF_INIT;
	char *prev = NULL;
	int in_chunk = 0, r = 0;

	if (piece == 0)
		piece = len ? len : 1;
	for (size_t off = 0; off < len && r >= 0; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		char *copy = xmalloc(n);

		memcpy(copy, input + off, n);
		imap_parser_feed(p, copy, n);
		/* The parser copied what it had not read of the previous
		 * piece, or had read all of it: either way it is free now. */
		free(prev);
		prev = copy;
		r = drain(p, &out, &in_chunk, lazy);
		if (r == 0) {
			free(prev);
			prev = NULL;
		}
	}
	if (r >= 0)
		r = drain(p, &out, &in_chunk, 0);
	free(prev);
	if (r == 0 && !imap_parser_idle(p))
		buf_append_str(&out, "INCOMPLETE\n");
	if (r < 0) {
		/* A failed parser stays failed. */
		struct imap_event ev;
		struct error err;
		cr_assert_eq(imap_parser_next(p, &ev, &err), -1);
		cr_assert_eq(imap_parser_idle(p), 0);
	}
	imap_parser_free(p);
	return buf_detach(&out, NULL);
}

char *imap_test_parse(const char *input, size_t len, const struct imap_parser_limits *limits)
{
	char *whole = imap_test_run(input, len, 0, 0, limits);
	char *bytes = imap_test_run(input, len, 1, 0, limits);
	char *lazy = imap_test_run(input, len, 7, 1, limits);

	cr_assert_str_eq(bytes, whole, "fed one byte at a time:\n%s\nfed whole:\n%s", bytes, whole);
	cr_assert_str_eq(lazy, whole, "fed lazily:\n%s\nfed whole:\n%s", lazy, whole);
	free(bytes);
	free(lazy);
	return whole;
}

char *imap_test_parse_str(const char *input)
{
	return imap_test_parse(input, strlen(input), NULL);
}

const char *imap_test_error(const char *dump)
{
	const char *e = strstr(dump, "ERROR: ");

	return e ? e + 7 : "";
}
