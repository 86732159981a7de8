#include "twinbox/imap/parser.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parser_p.h"
#include "twinbox/util/xmalloc.h"

#define ARENA_BLOCK  16384
#define ARENA_ALIGN  16
#define RETAIN_BYTES (256 * 1024) /* memory kept between responses */

_Static_assert((IMAP_CTX_SIZE & (IMAP_CTX_SIZE - 1)) == 0, "the context ring needs a power of two");

/* ---- arena --------------------------------------------------------- */

void *imap_arena_alloc(struct imap_arena *a, size_t size)
{
	struct imap_arena_block *b = a->head;
	size_t off;

	if (size == 0)
		size = 1;
	if (b) {
		off = (b->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
		if (off <= b->size && b->size - off >= size) {
			b->used = off + size;
			return b->data + off;
		}
	}
	/* A new block in front; the old one keeps its tail unused. Sizes
	 * double so that a response needs O(log n) blocks. */
	size_t bsize = b ? b->size * 2 : ARENA_BLOCK;
	if (bsize < size)
		bsize = size;
	b = xmalloc(sizeof(*b) + bsize);
	b->size = bsize;
	b->used = size;
	b->next = a->head;
	a->head = b;
	return b->data;
}

void *imap_arena_calloc(struct imap_arena *a, size_t count, size_t size)
{
	void *mem;

	if (size && count > SIZE_MAX / size)
		abort(); /* counts are bounded by the limits long before this */
	mem = imap_arena_alloc(a, count * size);
	memset(mem, 0, count * size);
	return mem;
}

char *imap_arena_strdup(struct imap_arena *a, const void *s, size_t len)
{
	char *d = imap_arena_alloc(a, len + 1);

	if (len)
		memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

void imap_arena_reset(struct imap_arena *a)
{
	struct imap_arena_block *b = a->head, *keep = NULL;

	/* Keep the newest (biggest) block for the next response, unless an
	 * exceptional response made it big. */
	if (b && b->size <= RETAIN_BYTES) {
		keep = b;
		b = b->next;
		keep->next = NULL;
		keep->used = 0;
	}
	while (b) {
		struct imap_arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = keep;
}

void imap_arena_free(struct imap_arena *a)
{
	imap_arena_reset(a);
	free(a->head);
	a->head = NULL;
}

/* ---- errors -------------------------------------------------------- */

void imap_escape(const void *s, size_t len, char *out, size_t outsz)
{
	const unsigned char *c = s;
	size_t o = 0;

	if (outsz == 0)
		return;
	for (size_t i = 0; i < len; i++) {
		char tmp[8];
		int n;

		if (c[i] == '"' || c[i] == '\\')
			n = snprintf(tmp, sizeof(tmp), "\\%c", c[i]);
		else if (c[i] == '\r')
			n = snprintf(tmp, sizeof(tmp), "\\r");
		else if (c[i] == '\n')
			n = snprintf(tmp, sizeof(tmp), "\\n");
		else if (c[i] < 0x20 || c[i] >= 0x7f)
			n = snprintf(tmp, sizeof(tmp), "\\x%02x", c[i]);
		else
			n = snprintf(tmp, sizeof(tmp), "%c", c[i]);
		if (o + (size_t)n + 1 > outsz)
			break;
		memcpy(out + o, tmp, (size_t)n);
		o += (size_t)n;
	}
	out[o] = '\0';
}

const char *imap_arg_show(const struct imap_arg *arg, char *out, size_t outsz)
{
	char esc[48];

	switch (arg->type) {
	case IMAP_ARG_LIST:
		return "a parenthesised list";
	case IMAP_ARG_BODY:
		return "a message body";
	case IMAP_ARG_QUOTED:
	case IMAP_ARG_LITERAL:
	case IMAP_ARG_ATOM:
		break;
	}
	imap_escape(arg->str, arg->len > 32 ? 32 : arg->len, esc, sizeof(esc));
	snprintf(out, outsz, "\"%s%s\"", esc, arg->len > 32 ? "..." : "");
	return out;
}

/* Which response the error belongs to, so the session can tell whose
 * command it broke. The head tokens are atoms at node indexes 0..2. */
static void where(const struct imap_parser *p, char *out, size_t outsz)
{
	char esc[80];
	size_t kw = p->numeric ? 2 : 1;

	if (p->resp.kind == IMAP_RESP_TAGGED && p->resp.tag) {
		imap_escape(p->resp.tag, strlen(p->resp.tag), esc, sizeof(esc));
		snprintf(out, outsz, " (in the response to tag %s)", esc);
	} else if (p->resp.kind == IMAP_RESP_UNTAGGED && p->nargs > kw && p->args[kw].type == IMAP_ARG_ATOM) {
		imap_escape(p->args[kw].str, p->args[kw].len, esc, sizeof(esc));
		snprintf(out, outsz, " (in an untagged %s response)", esc);
	} else if (p->resp.kind == IMAP_RESP_UNTAGGED) {
		snprintf(out, outsz, " (in an untagged response)");
	} else if (p->resp.kind == IMAP_RESP_CONTINUATION) {
		snprintf(out, outsz, " (in a continuation request)");
	} else {
		out[0] = '\0';
	}
}

static int vfail(struct imap_parser *p, int with_ctx, const char *fmt, va_list ap)
{
	char what[512], near[IMAP_CTX_SIZE * 4 + 64], tagctx[128];
	unsigned char raw[IMAP_CTX_SIZE];
	size_t n = 0;

	vsnprintf(what, sizeof(what), fmt, ap);
	where(p, tagctx, sizeof(tagctx));
	near[0] = '\0';
	if (with_ctx) {
		/* The last bytes read. Not the ones after: what has been fed
		 * depends on how the input was split, the message must not. */
		size_t have = p->ctx_total < IMAP_CTX_SIZE ? p->ctx_total : IMAP_CTX_SIZE;
		for (size_t i = p->ctx_total - have; i < p->ctx_total; i++)
			raw[n++] = p->ctx[i & (IMAP_CTX_SIZE - 1)];
		char esc[IMAP_CTX_SIZE * 4 + 16];
		if (n > 0) {
			imap_escape(raw, n, esc, sizeof(esc));
			snprintf(near, sizeof(near), ", near \"%s\"", esc);
		}
	}
	p->failed = 1;
	error_set(&p->err, ERR_ACCOUNT, "malformed IMAP response from the server: %s%s%s", what, near,
	          tagctx);
	return -1;
}

int imap_fail_at(struct imap_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(p, 1, fmt, ap);
	va_end(ap);
	return -1;
}

int imap_fail(struct imap_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(p, 0, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- args ---------------------------------------------------------- */

const struct imap_arg *imap_arg_next(const struct imap_arg *arg)
{
	return arg + 1 + (arg->type == IMAP_ARG_LIST ? arg->span : 0);
}

int imap_arg_is_atom(const struct imap_arg *arg, const char *atom)
{
	return arg->type == IMAP_ARG_ATOM && strlen(atom) == arg->len && strcasecmp(arg->str, atom) == 0;
}

int imap_arg_is_nil(const struct imap_arg *arg)
{
	return imap_arg_is_atom(arg, "NIL");
}

int imap_arg_is_string(const struct imap_arg *arg)
{
	return arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_QUOTED || arg->type == IMAP_ARG_LITERAL;
}

/* ---- the parser ---------------------------------------------------- */

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	if (limits)
		p->lim = *limits;
	if (!p->lim.max_line)
		p->lim.max_line = IMAP_PARSER_DEFAULT_MAX_LINE;
	if (!p->lim.max_literal)
		p->lim.max_literal = IMAP_PARSER_DEFAULT_MAX_LITERAL;
	if (!p->lim.max_body)
		p->lim.max_body = IMAP_PARSER_DEFAULT_MAX_BODY;
	if (!p->lim.max_depth)
		p->lim.max_depth = IMAP_PARSER_DEFAULT_MAX_DEPTH;
	if (!p->lim.max_args)
		p->lim.max_args = IMAP_PARSER_DEFAULT_MAX_ARGS;
	if (!p->lim.max_flags)
		p->lim.max_flags = IMAP_PARSER_DEFAULT_MAX_FLAGS;
	p->stack = xcalloc(p->lim.max_depth, sizeof(*p->stack));
	buf_init(&p->tok, 0);
	buf_init(&p->pending, 0);
	p->need_reset = 1;
	return p;
}

void imap_parser_free(struct imap_parser *p)
{
	if (!p)
		return;
	imap_arena_free(&p->arena);
	buf_free(&p->tok);
	buf_free(&p->pending);
	free(p->args);
	free(p->stack);
	free(p);
}

void imap_parser_feed(struct imap_parser *p, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (p->in_len == 0) {
		buf_reset(&p->pending);
		p->in = data;
		p->in_len = len;
		return;
	}
	/* Bytes of the previous feed are still unread: keep them and the new
	 * ones in our own buffer. */
	if (p->pending.len && p->in >= (const unsigned char *)p->pending.data &&
	    p->in < (const unsigned char *)p->pending.data + p->pending.len) {
		buf_consume(&p->pending, (size_t)(p->in - (const unsigned char *)p->pending.data));
	} else {
		buf_reset(&p->pending);
		buf_append(&p->pending, p->in, p->in_len);
	}
	buf_append(&p->pending, data, len);
	p->in = (const unsigned char *)p->pending.data;
	p->in_len = p->pending.len;
}

static void reset_response(struct imap_parser *p)
{
	imap_arena_reset(&p->arena);
	/* After an exceptionally big response, give the memory back rather
	 * than hold it for the life of the connection. */
	if (p->tok.cap > RETAIN_BYTES)
		buf_free(&p->tok);
	buf_reset(&p->tok);
	if (p->args_cap * sizeof(*p->args) > RETAIN_BYTES) {
		free(p->args);
		p->args = NULL;
		p->args_cap = 0;
	}
	p->need_reset = 0;
	p->phase = PH_LEX;
	p->st = LX_TOKEN_START;
	p->signal = SIG_NONE;
	p->line_bytes = 0;
	p->nargs = 0;
	p->depth = 0;
	p->top_count = 0;
	p->text_next = 0;
	p->after_list = 0;
	p->numeric = 0;
	p->is_fetch = 0;
	p->fetch_list_seen = 0;
	p->fetch_list = 0;
	memset(&p->resp, 0, sizeof(p->resp));
	p->lit_size = 0;
	p->lit_digits = 0;
	p->lit8 = 0;
	p->lit_left = 0;
	p->body_item = 0;
	p->body_value = 0;
	p->fetch_begun = 0;
	p->fetch_conv = 0;
	memset(&p->fetch, 0, sizeof(p->fetch));
	memset(&p->body, 0, sizeof(p->body));
	p->body_left = 0;
	p->inline_data = NULL;
	p->inline_len = 0;
	p->ctx_total = 0;
}

int imap_parser_idle(const struct imap_parser *p)
{
	return !p->failed && (p->need_reset || (p->phase == PH_LEX && p->line_bytes == 0));
}

uint64_t imap_parser_literal_left(const struct imap_parser *p)
{
	uint64_t left = 0;

	if (p->failed || p->need_reset)
		return 0;
	if (p->phase == PH_BODY_STREAM)
		left = p->body_left;
	else if (p->phase == PH_LEX && p->st == LX_LIT_DATA)
		left = p->lit_left;
	return left > p->in_len ? left - p->in_len : 0;
}

static void emit(struct imap_parser *p, struct imap_event *ev, enum imap_event_type type)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	if (type == IMAP_EV_RESPONSE) {
		ev->resp = &p->resp;
		return;
	}
	ev->fetch = &p->fetch;
	if (type == IMAP_EV_BODY_START || type == IMAP_EV_BODY_CHUNK || type == IMAP_EV_BODY_END)
		ev->body = &p->body;
}

/* The final CRLF of a response was read: type it and emit its event (1),
 * or for a FETCH whose FETCH_BEGIN is out already, only move on to
 * PH_FETCH_END (0). */
static int finish_response(struct imap_parser *p, struct imap_event *ev)
{
	if (p->is_fetch) {
		if (imap_fetch_convert(p) < 0)
			return -1;
		p->phase = PH_FETCH_END;
		if (!p->fetch_begun) {
			p->fetch_begun = 1;
			emit(p, ev, IMAP_EV_FETCH_BEGIN);
			return 1;
		}
		return 0; /* step() goes on to PH_FETCH_END */
	}
	if (p->resp.kind == IMAP_RESP_CONTINUATION) {
		p->resp.text = imap_arena_strdup(&p->arena, p->tok.data, p->tok.len);
	} else if (p->resp.cond != IMAP_COND_NONE) {
		if (imap_build_resp_text(p, p->tok.data ? p->tok.data : "", p->tok.len) < 0)
			return -1;
	} else {
		p->resp.args = p->args + 1;
		p->resp.arg_count = p->top_count - 1;
		if (imap_build_data(p) < 0)
			return -1;
	}
	emit(p, ev, IMAP_EV_RESPONSE);
	p->need_reset = 1;
	return 1;
}

static int step(struct imap_parser *p, struct imap_event *ev)
{
	for (;;) {
		switch (p->phase) {
		case PH_LEX: {
			int r = imap_lex_run(p);
			if (r <= 0)
				return r;
			enum imap_lex_signal sig = p->signal;
			p->signal = SIG_NONE;
			if (sig == SIG_DONE) {
				int r2 = finish_response(p, ev);
				if (r2 != 0)
					return r2;
				break;
			}
			p->phase = PH_BODY_BEGIN;
			p->body.nil = sig == SIG_BODY_NIL;
			p->body_left = sig == SIG_BODY_STREAM ? p->body.size : 0;
			if (sig == SIG_BODY_INLINE)
				p->body.size = p->inline_len;
			if (imap_fetch_convert(p) < 0)
				return -1;
			break;
		}
		case PH_BODY_BEGIN:
			if (!p->fetch_begun) {
				p->fetch_begun = 1;
				emit(p, ev, IMAP_EV_FETCH_BEGIN);
				return 1;
			}
			emit(p, ev, IMAP_EV_BODY_START);
			if (p->body.nil)
				p->phase = PH_BODY_END;
			else if (p->inline_data)
				p->phase = PH_BODY_INLINE;
			else
				p->phase = PH_BODY_STREAM;
			return 1;
		case PH_BODY_STREAM: {
			if (p->body_left == 0) {
				p->phase = PH_BODY_END;
				break;
			}
			if (p->in_len == 0)
				return 0;
			size_t n = p->in_len;
			if ((uint64_t)n > p->body_left)
				n = (size_t)p->body_left;
			emit(p, ev, IMAP_EV_BODY_CHUNK);
			ev->chunk = p->in;
			ev->chunk_len = n;
			p->in += n;
			p->in_len -= n;
			p->body_left -= n;
			return 1;
		}
		case PH_BODY_INLINE:
			p->phase = PH_BODY_END;
			if (p->inline_len == 0)
				break;
			emit(p, ev, IMAP_EV_BODY_CHUNK);
			ev->chunk = p->inline_data;
			ev->chunk_len = p->inline_len;
			return 1;
		case PH_BODY_END:
			emit(p, ev, IMAP_EV_BODY_END);
			p->inline_data = NULL;
			p->inline_len = 0;
			p->phase = PH_LEX;
			return 1;
		case PH_FETCH_END:
			p->fetch.items = p->args + p->fetch_list + 1;
			p->fetch.item_count = p->args[p->fetch_list].count;
			emit(p, ev, IMAP_EV_FETCH_END);
			p->need_reset = 1;
			return 1;
		}
	}
}

int imap_parser_next(struct imap_parser *p, struct imap_event *ev_r, struct error *err)
{
	int r;

	if (!p->failed) {
		if (p->need_reset)
			reset_response(p);
		r = step(p, ev_r);
		if (r >= 0)
			return r;
	}
	if (err) {
		err->scope = p->err.scope;
		memcpy(err->text, p->err.text, sizeof(err->text));
	}
	return -1;
}

/* ---- names --------------------------------------------------------- */

const char *imap_event_type_name(enum imap_event_type type)
{
	switch (type) {
	case IMAP_EV_RESPONSE:
		return "RESPONSE";
	case IMAP_EV_FETCH_BEGIN:
		return "FETCH_BEGIN";
	case IMAP_EV_BODY_START:
		return "BODY_START";
	case IMAP_EV_BODY_CHUNK:
		return "BODY_CHUNK";
	case IMAP_EV_BODY_END:
		return "BODY_END";
	case IMAP_EV_FETCH_END:
		return "FETCH_END";
	}
	return "?";
}

const char *imap_cond_name(enum imap_cond cond)
{
	switch (cond) {
	case IMAP_COND_NONE:
		return "NONE";
	case IMAP_COND_OK:
		return "OK";
	case IMAP_COND_NO:
		return "NO";
	case IMAP_COND_BAD:
		return "BAD";
	case IMAP_COND_BYE:
		return "BYE";
	case IMAP_COND_PREAUTH:
		return "PREAUTH";
	}
	return "?";
}
