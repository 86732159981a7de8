/*
 * The tokenizer: a byte-level state machine over p->in. It keeps no
 * pointer into the input across calls (a token in progress is copied into
 * p->tok), so input may end anywhere. Lists are an explicit stack bounded
 * by max_depth; nothing here recurses.
 */
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "parser_p.h"
#include "twinbox/util/xmalloc.h"

static int is_atom_char(unsigned char c)
{
	/* ATOM-CHAR plus what servers put in atoms of responses: flags
	 * ("\Seen"), '%' and '*' in names, ']' (ASTRING-CHAR) and 8-bit
	 * bytes (raw UTF-8 names from lax servers). */
	return c > 0x20 && c != 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

static int too_long(struct imap_parser *p)
{
	return imap_fail_at(p,
	                    "the response is longer than %zu bytes (the limit for one response, message "
	                    "bodies not counted)",
	                    p->lim.max_line);
}

/* Consume n input bytes of the response line, keeping the last few for
 * error messages. */
static int take(struct imap_parser *p, size_t n)
{
	size_t from;

	if (n > p->lim.max_line - p->line_bytes) {
		/* Read up to the limit first, so that the error comes at the
		 * same byte however the input was split. */
		take(p, p->lim.max_line - p->line_bytes);
		return too_long(p);
	}
	from = n > IMAP_CTX_SIZE ? n - IMAP_CTX_SIZE : 0;
	p->ctx_total += from;
	for (size_t i = from; i < n; i++)
		p->ctx[p->ctx_total++ & (IMAP_CTX_SIZE - 1)] = p->in[i];
	p->line_bytes += n;
	p->in += n;
	p->in_len -= n;
	return 0;
}

/* Consume n bytes into the current token. */
static int append(struct imap_parser *p, size_t n)
{
	const unsigned char *s = p->in;

	if (take(p, n) < 0)
		return -1;
	buf_append(&p->tok, s, n);
	return 0;
}

static int bad_byte(struct imap_parser *p, const char *expected)
{
	unsigned char c = p->in[0];

	if (c == '\0')
		return imap_fail_at(p, "unexpected NUL byte where %s was expected", expected);
	if (c == '\n')
		return imap_fail_at(
		    p, "a line ends with LF alone (IMAP lines end with CRLF) where %s was expected",
		    expected);
	if (c < 0x20 || c == 0x7f)
		return imap_fail_at(p, "unexpected control character 0x%02x where %s was expected", c,
		                    expected);
	return imap_fail_at(p, "expected %s, got '%c'", expected, c);
}

static size_t position(const struct imap_parser *p)
{
	return p->depth ? p->stack[p->depth - 1].count : p->top_count;
}

static struct imap_arg *add_arg(struct imap_parser *p, enum imap_arg_type type, const char *str, size_t len)
{
	struct imap_arg *a;

	p->after_list = 0;
	if (p->nargs >= p->lim.max_args) {
		imap_fail_at(p, "the response has more than %zu tokens", p->lim.max_args);
		return NULL;
	}
	p->args = xgrow(p->args, &p->args_cap, p->nargs + 1, sizeof(*p->args));
	a = &p->args[p->nargs++];
	a->type = type;
	a->str = str;
	a->len = len;
	a->count = 0;
	a->span = 0;
	if (p->depth)
		p->stack[p->depth - 1].count++;
	else
		p->top_count++;
	return a;
}

/* A token of `type` starts here: is that allowed at this position? */
static int check_start(struct imap_parser *p, enum imap_arg_type type)
{
	size_t pos = position(p);

	if (p->depth == 0) {
		if (pos == 0 && type != IMAP_ARG_ATOM)
			return imap_fail_at(p, "expected a tag, '*' or '+' at the start of a response");
		if (pos == 1 && type != IMAP_ARG_ATOM)
			return imap_fail_at(p, p->resp.kind == IMAP_RESP_TAGGED
			                           ? "expected OK, NO or BAD after the tag"
			                           : "expected a response name after '*'");
		if (pos == 2 && p->numeric && type != IMAP_ARG_ATOM)
			return imap_fail_at(p, "expected a response name after the message number");
		if (p->is_fetch && pos == 3 && type != IMAP_ARG_LIST)
			return imap_fail_at(p, "expected '(' after FETCH");
		if (p->is_fetch && pos >= 4)
			return imap_fail_at(p, "unexpected data after the FETCH item list");
		return 0;
	}
	if (p->is_fetch && p->depth == 1) {
		if (pos % 2 == 0) {
			p->body_item = 0;
			if (type != IMAP_ARG_ATOM)
				return imap_fail_at(p, "expected a FETCH item name");
		} else if (p->body_item) {
			if (type == IMAP_ARG_LIST)
				return imap_fail_at(p,
				                    "expected a string, a literal or NIL as the value of %s",
				                    p->args[p->nargs - 1].str);
			p->body_value = 1;
		}
	}
	return 0;
}

static int is_tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\+", c);
}

static int all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return len > 0;
}

static enum imap_data_type keyword_type(const char *s)
{
	static const struct {
		const char *name;
		enum imap_data_type type;
	} names[] = {
	    {"CAPABILITY", IMAP_DATA_CAPABILITY},
	    {"ENABLED", IMAP_DATA_ENABLED},
	    {"FLAGS", IMAP_DATA_FLAGS},
	    {"LIST", IMAP_DATA_LIST},
	    {"LSUB", IMAP_DATA_LSUB},
	    {"STATUS", IMAP_DATA_STATUS},
	    {"SEARCH", IMAP_DATA_SEARCH},
	    {"ESEARCH", IMAP_DATA_ESEARCH},
	    {"NAMESPACE", IMAP_DATA_NAMESPACE},
	    {"ID", IMAP_DATA_ID},
	    {"VANISHED", IMAP_DATA_VANISHED},
	    {"QUOTA", IMAP_DATA_QUOTA},
	    {"QUOTAROOT", IMAP_DATA_QUOTAROOT},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].name) == 0)
			return names[i].type;
	return IMAP_DATA_OTHER;
}

/* The first atoms of a response decide what follows. */
static int head_token(struct imap_parser *p, const struct imap_arg *a)
{
	size_t pos = p->top_count - 1;

	if (pos == 0) {
		if (a->len == 1 && a->str[0] == '*') {
			p->resp.kind = IMAP_RESP_UNTAGGED;
		} else if (a->len == 1 && a->str[0] == '+') {
			p->resp.kind = IMAP_RESP_CONTINUATION;
			p->text_next = 1;
		} else {
			for (size_t i = 0; i < a->len; i++)
				if (!is_tag_char((unsigned char)a->str[i]))
					return imap_fail_at(p,
					                    "the tag contains the invalid character 0x%02x",
					                    (unsigned char)a->str[i]);
			p->resp.kind = IMAP_RESP_TAGGED;
			p->resp.tag = a->str;
		}
		return 0;
	}
	if (pos == 1 && p->resp.kind == IMAP_RESP_TAGGED) {
		p->resp.cond = imap_cond_parse(a->str);
		if (p->resp.cond != IMAP_COND_OK && p->resp.cond != IMAP_COND_NO &&
		    p->resp.cond != IMAP_COND_BAD) {
			char show[64];
			return imap_fail_at(p, "expected OK, NO or BAD after the tag, got %s",
			                    imap_arg_show(a, show, sizeof(show)));
		}
		p->text_next = 1;
		return 0;
	}
	if (pos == 1) {
		p->resp.cond = imap_cond_parse(a->str);
		if (p->resp.cond != IMAP_COND_NONE) {
			p->resp.type = IMAP_DATA_COND;
			p->text_next = 1;
		} else if (all_digits(a->str, a->len)) {
			uint64_t n;
			if (imap_parse_number(a->str, a->len, UINT32_MAX, &n) < 0)
				return imap_fail_at(p, "the message number %s does not fit in 32 bits",
				                    a->str);
			p->numeric = 1;
			p->resp.number = (uint32_t)n;
			p->fetch.seq = (uint32_t)n;
		} else if (!((a->str[0] >= 'A' && a->str[0] <= 'Z') ||
		             (a->str[0] >= 'a' && a->str[0] <= 'z'))) {
			char show[64];
			return imap_fail_at(p, "expected a number or a response name after '*', got %s",
			                    imap_arg_show(a, show, sizeof(show)));
		} else {
			p->resp.type = keyword_type(a->str);
		}
		return 0;
	}
	if (pos == 2 && p->numeric) {
		if (strcasecmp(a->str, "EXISTS") == 0) {
			p->resp.type = IMAP_DATA_EXISTS;
		} else if (strcasecmp(a->str, "RECENT") == 0) {
			p->resp.type = IMAP_DATA_RECENT;
		} else if (strcasecmp(a->str, "EXPUNGE") == 0 || strcasecmp(a->str, "FETCH") == 0) {
			if (p->resp.number == 0)
				return imap_fail_at(p, "message sequence number 0 in %s", a->str);
			if (strcasecmp(a->str, "FETCH") == 0)
				p->is_fetch = 1;
			else
				p->resp.type = IMAP_DATA_EXPUNGE;
		} else {
			p->resp.type = IMAP_DATA_OTHER;
		}
	}
	return 0;
}

static int finish_atom(struct imap_parser *p)
{
	const char *s = imap_arena_strdup(&p->arena, p->tok.data, p->tok.len);
	struct imap_arg *a = add_arg(p, IMAP_ARG_ATOM, s, p->tok.len);

	buf_reset(&p->tok);
	if (!a)
		return -1;
	p->st = LX_AFTER_TOKEN;
	if (p->depth == 0)
		return head_token(p, a);
	if (p->is_fetch && p->depth == 1) {
		if ((p->stack[0].count - 1) % 2 == 0) {
			p->body_item = imap_is_body_item(a->str, a->len);
		} else if (p->body_value) {
			char show[64];
			p->body_value = p->body_item = 0;
			if (!imap_arg_is_nil(a))
				return imap_fail_at(
				    p, "expected a string, a literal or NIL as the value of %s, got %s",
				    a[-1].str, imap_arg_show(a, show, sizeof(show)));
			if (imap_body_setup(p, a - 1) < 0)
				return -1;
			p->signal = SIG_BODY_NIL;
		}
	}
	return 0;
}

static int finish_string(struct imap_parser *p, enum imap_arg_type type)
{
	const char *s = imap_arena_strdup(&p->arena, p->tok.data, p->tok.len);
	struct imap_arg *a = add_arg(p, type, s, p->tok.len);

	buf_reset(&p->tok);
	if (!a)
		return -1;
	p->st = LX_AFTER_TOKEN;
	if (p->body_value) {
		p->body_value = p->body_item = 0;
		if (imap_body_setup(p, a - 1) < 0)
			return -1;
		p->inline_data = (const unsigned char *)s;
		p->inline_len = a->len;
		p->signal = SIG_BODY_INLINE;
	}
	return 0;
}

static int open_list(struct imap_parser *p)
{
	size_t idx = p->nargs;

	if (p->depth >= p->lim.max_depth)
		return imap_fail_at(p, "parenthesised lists are nested deeper than %zu levels",
		                    p->lim.max_depth);
	if (!add_arg(p, IMAP_ARG_LIST, NULL, 0) || take(p, 1) < 0)
		return -1;
	p->stack[p->depth].node = idx;
	p->stack[p->depth].count = 0;
	p->depth++;
	if (p->is_fetch && p->depth == 1) {
		p->fetch_list_seen = 1;
		p->fetch_list = idx;
		p->fetch_conv = idx + 1;
	}
	return 0;
}

static int close_list(struct imap_parser *p)
{
	struct imap_list_level lvl;
	struct imap_arg *a;

	if (p->depth == 0)
		return imap_fail_at(p, "unexpected ')' without a matching '('");
	if (take(p, 1) < 0)
		return -1;
	lvl = p->stack[--p->depth];
	a = &p->args[lvl.node];
	a->count = lvl.count;
	a->span = p->nargs - lvl.node - 1;
	p->st = LX_AFTER_TOKEN;
	p->after_list = 1;
	if (p->is_fetch && p->depth == 0 && lvl.count % 2)
		return imap_fail(p, "the FETCH item %s has no value", p->args[p->nargs - 1].str);
	return 0;
}

static int check_literal_size(struct imap_parser *p)
{
	if (p->body_value) {
		if (p->lit_size > p->lim.max_body)
			return imap_fail_at(p,
			                    "the server announced a %" PRIu64
			                    "-byte literal for %s, more than the "
			                    "limit of %" PRIu64 " bytes for one message",
			                    p->lit_size, p->args[p->nargs - 1].str, p->lim.max_body);
		return 0;
	}
	if (p->lit_size > p->lim.max_literal)
		return imap_fail_at(p,
		                    "the server announced a %" PRIu64
		                    "-byte literal outside a message body, more "
		                    "than the limit of %zu bytes",
		                    p->lit_size, p->lim.max_literal);
	return 0;
}

static int token_start(struct imap_parser *p)
{
	unsigned char c = p->in[0];
	int line_start = p->top_count == 0 && p->depth == 0;

	switch (c) {
	case ' ':
		if (line_start)
			return imap_fail_at(p, "a response must not start with a space");
		return take(p, 1); /* lax: doubled or trailing spaces */
	case '\r':
		if (line_start)
			return imap_fail_at(p, "empty response line");
		p->st = LX_LF;
		return take(p, 1);
	case '(':
		if (check_start(p, IMAP_ARG_LIST) < 0)
			return -1;
		return open_list(p);
	case ')':
		return close_list(p);
	case '"':
		if (check_start(p, IMAP_ARG_QUOTED) < 0)
			return -1;
		p->st = LX_QUOTED;
		return take(p, 1);
	case '{':
		if (check_start(p, IMAP_ARG_LITERAL) < 0)
			return -1;
		p->lit8 = 0;
		p->lit_size = 0;
		p->lit_digits = 0;
		p->st = LX_LIT_SIZE;
		return take(p, 1);
	case '~':
		p->st = LX_TILDE;
		return take(p, 1);
	default:
		if (!is_atom_char(c))
			return bad_byte(p, "the start of a token");
		if (check_start(p, IMAP_ARG_ATOM) < 0)
			return -1;
		p->st = LX_ATOM;
		return 0;
	}
}

static int after_token(struct imap_parser *p)
{
	switch (p->in[0]) {
	case ' ':
		if (p->text_next) {
			p->text_next = 0;
			p->st = LX_TEXT;
		} else {
			p->st = LX_TOKEN_START;
		}
		return take(p, 1);
	case ')':
		return close_list(p);
	case '\r':
		p->st = LX_LF;
		return take(p, 1);
	case '(':
		/* ")(" without a space: RFC 2342 NAMESPACE and multipart
		 * BODYSTRUCTURE are written that way. */
		if (p->after_list) {
			p->st = LX_TOKEN_START;
			return 0;
		}
		return bad_byte(p, "a space, ')' or the end of the line after a token");
	default:
		return bad_byte(p, "a space, ')' or the end of the line after a token");
	}
}

/* In a FETCH item name "BODY[HEADER.FIELDS (A B)]<0>" the part in
 * brackets may hold spaces, parentheses and quoted strings. */
static int in_item_name(const struct imap_parser *p)
{
	return p->is_fetch && p->depth == 1 && p->stack[0].count % 2 == 0;
}

static int lex_atom(struct imap_parser *p)
{
	int bracket = in_item_name(p);
	size_t n = 0;

	while (n < p->in_len && is_atom_char(p->in[n]) && !(bracket && p->in[n] == '['))
		n++;
	if (n && append(p, n) < 0)
		return -1;
	if (p->in_len == 0)
		return 0;
	if (bracket && p->in[0] == '[') {
		p->st = LX_BRACKET;
		return append(p, 1);
	}
	return finish_atom(p);
}

static int lex_bracket(struct imap_parser *p)
{
	size_t n = 0;
	unsigned char c;

	if (p->st == LX_BRACKET_ESCAPE) {
		if (p->in[0] != '"' && p->in[0] != '\\')
			return bad_byte(p, "'\\\\' or '\"' after '\\\\' in a quoted string");
		p->st = LX_BRACKET_QUOTED;
		return append(p, 1);
	}
	while (n < p->in_len) {
		c = p->in[n];
		if (c < 0x20 || c == 0x7f || c == '"' || (p->st == LX_BRACKET ? c == ']' : c == '\\'))
			break;
		n++;
	}
	if (n && append(p, n) < 0)
		return -1;
	if (p->in_len == 0)
		return 0;
	c = p->in[0];
	if (p->st == LX_BRACKET && c == ']')
		p->st = LX_ATOM;
	else if (c == '"')
		p->st = p->st == LX_BRACKET ? LX_BRACKET_QUOTED : LX_BRACKET;
	else if (c == '\\')
		p->st = LX_BRACKET_ESCAPE;
	else
		return bad_byte(p, "']' to close the section of a FETCH item name");
	return append(p, 1);
}

static int lex_quoted(struct imap_parser *p)
{
	size_t n = 0;
	unsigned char c;

	if (p->st == LX_QUOTED_ESCAPE) {
		if (p->in[0] != '"' && p->in[0] != '\\')
			return bad_byte(p, "'\\\\' or '\"' after '\\\\' in a quoted string");
		p->st = LX_QUOTED;
		return append(p, 1);
	}
	while (n < p->in_len && (c = p->in[n]) != '"' && c != '\\' && c != '\r' && c != '\n' && c != '\0')
		n++;
	if (n && append(p, n) < 0)
		return -1;
	if (p->in_len == 0)
		return 0;
	switch (p->in[0]) {
	case '"':
		if (take(p, 1) < 0)
			return -1;
		return finish_string(p, IMAP_ARG_QUOTED);
	case '\\':
		p->st = LX_QUOTED_ESCAPE;
		return take(p, 1);
	case '\r':
		return imap_fail_at(p, "a quoted string is not closed at the end of the line");
	default:
		return bad_byte(p, "the closing '\"' of a quoted string");
	}
}

static int lex_literal_head(struct imap_parser *p)
{
	unsigned char c = p->in[0];

	switch (p->st) {
	case LX_TILDE:
		if (c == '{') {
			if (check_start(p, IMAP_ARG_LITERAL) < 0)
				return -1;
			p->lit8 = 1;
			p->lit_size = 0;
			p->lit_digits = 0;
			p->st = LX_LIT_SIZE;
			return take(p, 1);
		}
		/* A plain atom that starts with '~'. */
		if (check_start(p, IMAP_ARG_ATOM) < 0)
			return -1;
		buf_append(&p->tok, "~", 1);
		p->st = LX_ATOM;
		return 0;
	case LX_LIT_SIZE:
		if (c >= '0' && c <= '9') {
			if (p->lit_digits >= 20 || p->lit_size > (UINT64_MAX - (c - '0')) / 10)
				return imap_fail_at(p, "a literal size does not fit in 64 bits");
			p->lit_size = p->lit_size * 10 + (c - '0');
			p->lit_digits++;
			return take(p, 1);
		}
		if (p->lit_digits == 0)
			return bad_byte(p, "a digit after '{'");
		if (c == '+') {
			p->st = LX_LIT_PLUS;
			return take(p, 1);
		}
		if (c != '}')
			return bad_byte(p, "a digit or '}' in a literal size");
		if (check_literal_size(p) < 0)
			return -1;
		p->st = LX_LIT_CR;
		return take(p, 1);
	case LX_LIT_PLUS:
		if (c != '}')
			return bad_byte(p, "'}' after '+' in a literal size");
		if (check_literal_size(p) < 0)
			return -1;
		p->st = LX_LIT_CR;
		return take(p, 1);
	case LX_LIT_CR:
		if (c != '\r')
			return bad_byte(p, "CRLF after a literal size");
		p->st = LX_LIT_LF;
		return take(p, 1);
	default:
		break;
	}
	/* LX_LIT_LF */
	if (c != '\n')
		return bad_byte(p, "LF after CR after a literal size");
	if (take(p, 1) < 0)
		return -1;
	if (p->body_value) {
		struct imap_arg *a = add_arg(p, IMAP_ARG_BODY, NULL, (size_t)p->lit_size);
		p->body_value = p->body_item = 0;
		if (!a || imap_body_setup(p, a - 1) < 0)
			return -1;
		p->body.size = p->lit_size;
		p->st = LX_AFTER_TOKEN;
		p->signal = SIG_BODY_STREAM;
		return 0;
	}
	if (p->lit_size > p->lim.max_line - p->line_bytes)
		return too_long(p);
	p->lit_left = p->lit_size;
	if (p->lit_left == 0)
		return finish_string(p, IMAP_ARG_LITERAL);
	p->st = LX_LIT_DATA;
	return 0;
}

static int lex_literal_data(struct imap_parser *p)
{
	size_t n = p->in_len;

	if ((uint64_t)n > p->lit_left)
		n = (size_t)p->lit_left;
	if (append(p, n) < 0)
		return -1;
	p->lit_left -= n;
	if (p->lit_left == 0)
		return finish_string(p, IMAP_ARG_LITERAL);
	return 0;
}

static int lex_text(struct imap_parser *p)
{
	size_t n = 0;
	unsigned char c;

	while (n < p->in_len && (c = p->in[n]) != '\r' && c != '\n' && c != '\0')
		n++;
	if (n && append(p, n) < 0)
		return -1;
	if (p->in_len == 0)
		return 0;
	if (p->in[0] != '\r')
		return bad_byte(p, "text up to CRLF");
	p->st = LX_LF;
	return take(p, 1);
}

static int lex_end(struct imap_parser *p)
{
	if (p->in[0] != '\n')
		return bad_byte(p, "LF after CR at the end of the line");
	if (take(p, 1) < 0)
		return -1;
	if (p->depth)
		return imap_fail_at(p, "%zu parenthesised list%s not closed at the end of the line", p->depth,
		                    p->depth == 1 ? " is" : "s are");
	if (p->resp.kind == IMAP_RESP_TAGGED && p->resp.cond == IMAP_COND_NONE)
		return imap_fail_at(p, "expected OK, NO or BAD after the tag");
	if (p->resp.kind == IMAP_RESP_UNTAGGED && p->top_count == 1)
		return imap_fail_at(p, "expected a response name after '*'");
	if (p->numeric && p->top_count == 2)
		return imap_fail_at(p, "expected a response name after the message number");
	if (p->is_fetch && !p->fetch_list_seen)
		return imap_fail_at(p, "expected '(' after FETCH");
	p->signal = SIG_DONE;
	return 0;
}

int imap_lex_run(struct imap_parser *p)
{
	while (p->in_len > 0) {
		int r;

		switch (p->st) {
		case LX_TOKEN_START:
			r = token_start(p);
			break;
		case LX_AFTER_TOKEN:
			r = after_token(p);
			break;
		case LX_ATOM:
			r = lex_atom(p);
			break;
		case LX_BRACKET:
		case LX_BRACKET_QUOTED:
		case LX_BRACKET_ESCAPE:
			r = lex_bracket(p);
			break;
		case LX_QUOTED:
		case LX_QUOTED_ESCAPE:
			r = lex_quoted(p);
			break;
		case LX_TILDE:
		case LX_LIT_SIZE:
		case LX_LIT_PLUS:
		case LX_LIT_CR:
		case LX_LIT_LF:
			r = lex_literal_head(p);
			break;
		case LX_LIT_DATA:
			r = lex_literal_data(p);
			break;
		case LX_TEXT:
			r = lex_text(p);
			break;
		case LX_LF:
		default:
			r = lex_end(p);
			break;
		}
		if (r < 0)
			return -1;
		if (p->signal != SIG_NONE)
			return 1;
	}
	return 0;
}
