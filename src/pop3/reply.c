/*
 * The POP3 reply parser (see reply.h): status lines with extended
 * response codes, dot-terminated lists, and dot-terminated content
 * streamed and unstuffed across any split of the input.
 */
#include "twinbox/pop3/reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pop3_p.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

#define CODE_MAX 64 /* bytes of a response code's name */

enum state {
	S_IDLE = 0,
	S_STATUS,   /* reading the status line */
	S_LINE,     /* reading a line of a LINES reply */
	S_DATA_BOL, /* content, at the beginning of a line */
	S_DATA_DOT, /* content, after a leading "." */
	S_DATA_DOT_CR,
	S_DATA_MID, /* content, inside a line */
	S_FAILED,
};

struct pop3_parser {
	struct pop3_parser_limits limits;
	enum pop3_reply_kind kind;
	enum state state;
	const unsigned char *in; /* fed bytes, not owned */
	size_t in_len, pos;
	struct buf line; /* the line being collected */
	bool line_ready; /* `line` holds a whole line already returned */
	char code[CODE_MAX];
	uint64_t data_size;
	struct error error; /* the failure, repeated on every later call */
};

void pop3_escape(const void *data, size_t len, char *out, size_t outsz)
{
	const unsigned char *s = data;
	size_t o = 0;

	if (outsz < 8) {
		if (outsz)
			out[0] = '\0';
		return;
	}
	for (size_t i = 0; i < len; i++) {
		char tmp[8];
		unsigned char c = s[i];
		if (c == '\r')
			snprintf(tmp, sizeof(tmp), "\\r");
		else if (c == '\n')
			snprintf(tmp, sizeof(tmp), "\\n");
		else if (c == '"' || c == '\\')
			snprintf(tmp, sizeof(tmp), "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			snprintf(tmp, sizeof(tmp), "\\x%02X", c);
		else
			snprintf(tmp, sizeof(tmp), "%c", c);
		if (o + strlen(tmp) + 4 > outsz) {
			memcpy(out + o, "...", 4);
			return;
		}
		memcpy(out + o, tmp, strlen(tmp));
		o += strlen(tmp);
	}
	out[o] = '\0';
}

struct pop3_parser *pop3_parser_new(const struct pop3_parser_limits *limits)
{
	struct pop3_parser *p = xcalloc(1, sizeof(*p));

	if (limits)
		p->limits = *limits;
	if (!p->limits.max_line)
		p->limits.max_line = POP3_PARSER_DEFAULT_MAX_LINE;
	if (!p->limits.max_data)
		p->limits.max_data = POP3_PARSER_DEFAULT_MAX_DATA;
	buf_init(&p->line, p->limits.max_line);
	return p;
}

void pop3_parser_free(struct pop3_parser *p)
{
	if (!p)
		return;
	buf_free(&p->line);
	free(p);
}

void pop3_parser_expect(struct pop3_parser *p, enum pop3_reply_kind kind)
{
	if (p->state == S_FAILED)
		return;
	if (p->state != S_IDLE)
		abort(); /* a bug in the caller: a reply is still being read */
	p->kind = kind;
	if (kind != POP3_REPLY_NONE)
		p->state = S_STATUS;
}

void pop3_parser_feed(struct pop3_parser *p, const void *data, size_t len)
{
	p->in = data;
	p->in_len = len;
	p->pos = 0;
}

bool pop3_parser_idle(const struct pop3_parser *p)
{
	return p->state == S_IDLE && p->pos == p->in_len && (p->line.len == 0 || p->line_ready);
}

uint64_t pop3_parser_data_size(const struct pop3_parser *p)
{
	return p->data_size;
}

const char *pop3_code_name(enum pop3_code code)
{
	switch (code) {
	case POP3_CODE_IN_USE:
		return "IN-USE";
	case POP3_CODE_LOGIN_DELAY:
		return "LOGIN-DELAY";
	case POP3_CODE_SYS_TEMP:
		return "SYS/TEMP";
	case POP3_CODE_SYS_PERM:
		return "SYS/PERM";
	case POP3_CODE_AUTH:
		return "AUTH";
	case POP3_CODE_NONE:
	case POP3_CODE_OTHER:
		break;
	}
	return "";
}

static int fail(struct pop3_parser *p, struct error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct pop3_parser *p, struct error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(&p->error, ERR_ACCOUNT, fmt, ap);
	va_end(ap);
	p->state = S_FAILED;
	if (err)
		*err = p->error;
	return -1;
}

/* Collect bytes up to a line end into p->line. 1 when a whole line is
 * there (line end removed), 0 when more bytes are needed, -1 on error. */
static int take_line(struct pop3_parser *p, struct error *err)
{
	const unsigned char *start = p->in + p->pos;
	size_t avail = p->in_len - p->pos;
	const unsigned char *nl = memchr(start, '\n', avail);
	size_t n = nl ? (size_t)(nl - start) + 1 : avail;

	if (p->line_ready) {
		buf_reset(&p->line);
		p->line_ready = false;
	}
	if (buf_append(&p->line, start, n) < 0) {
		char esc[100];
		pop3_escape(p->line.data, p->line.len < 60 ? p->line.len : 60, esc, sizeof(esc));
		return fail(p, err, "the server sent a line longer than %zu bytes (starting \"%s\")",
		            p->limits.max_line, esc);
	}
	p->pos += n;
	if (!nl)
		return 0;
	buf_truncate(&p->line, p->line.len - 1);
	if (p->line.len && p->line.data[p->line.len - 1] == '\r')
		buf_truncate(&p->line, p->line.len - 1);
	p->line_ready = true;
	if (memchr(p->line.data, '\0', p->line.len)) {
		char esc[100];
		pop3_escape(p->line.data, p->line.len, esc, sizeof(esc));
		return fail(p, err, "the server sent a line with a NUL byte (\"%s\")", esc);
	}
	return 1;
}

static enum pop3_code code_of(const char *name)
{
	static const enum pop3_code known[] = {POP3_CODE_IN_USE, POP3_CODE_LOGIN_DELAY, POP3_CODE_SYS_TEMP,
	                                       POP3_CODE_SYS_PERM, POP3_CODE_AUTH};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcasecmp(name, pop3_code_name(known[i])) == 0)
			return known[i];
	return POP3_CODE_OTHER;
}

/* "[CODE] text": set the code and return the text after it; text
 * without a well-formed code is returned whole. */
static const char *parse_code(struct pop3_parser *p, const char *text, struct pop3_event *ev)
{
	size_t n = 0;

	p->code[0] = '\0';
	ev->code = POP3_CODE_NONE;
	if (text[0] != '[')
		return text;
	for (n = 1; text[n] && text[n] != ']'; n++)
		if ((unsigned char)text[n] <= 0x20 || (unsigned char)text[n] >= 0x7f || text[n] == '[')
			return text;
	if (text[n] != ']' || n == 1 || n > CODE_MAX)
		return text;
	memcpy(p->code, text + 1, n - 1);
	p->code[n - 1] = '\0';
	ev->code = code_of(p->code);
	text += n + 1;
	while (*text == ' ')
		text++;
	return text;
}

static int status_line(struct pop3_parser *p, struct pop3_event *ev, struct error *err)
{
	const char *s = buf_cstr(&p->line);
	const char *text;

	ev->line = s;
	ev->code_name = p->code;
	p->code[0] = '\0';
	if (p->kind == POP3_REPLY_SASL && s[0] == '+' && (s[1] == ' ' || s[1] == '\0')) {
		ev->type = POP3_EV_CONTINUE;
		ev->text = s[1] ? s + 2 : "";
		ev->last = true;
		p->state = S_IDLE;
		p->kind = POP3_REPLY_NONE;
		return 1;
	}
	if (strncmp(s, "+OK", 3) == 0 && (s[3] == ' ' || s[3] == '\0')) {
		ev->ok = true;
		text = s + 3;
	} else if (strncmp(s, "-ERR", 4) == 0 && (s[4] == ' ' || s[4] == '\0')) {
		text = s + 4;
	} else {
		char esc[100];
		pop3_escape(s, strlen(s), esc, sizeof(esc));
		return fail(
		    p, err,
		    "the server sent \"%s\" where a POP3 status (+OK or -ERR) was expected (not a POP3 "
		    "status: is it a POP3 server? check host and port)",
		    esc);
	}
	while (*text == ' ')
		text++;
	ev->type = POP3_EV_STATUS;
	ev->text = parse_code(p, text, ev);
	if (!ev->ok || p->kind == POP3_REPLY_STATUS || p->kind == POP3_REPLY_SASL) {
		ev->last = true;
		p->state = S_IDLE;
		p->kind = POP3_REPLY_NONE;
	} else {
		p->data_size = 0;
		p->state = p->kind == POP3_REPLY_LINES ? S_LINE : S_DATA_BOL;
	}
	return 1;
}

static void end_reply(struct pop3_parser *p, struct pop3_event *ev)
{
	ev->type = POP3_EV_END;
	ev->last = true;
	p->state = S_IDLE;
	p->kind = POP3_REPLY_NONE;
}

static int list_line(struct pop3_parser *p, struct pop3_event *ev)
{
	const char *s = buf_cstr(&p->line);

	if (strcmp(s, ".") == 0) {
		end_reply(p, ev);
		return 1;
	}
	if (s[0] == '.')
		s++;
	ev->type = POP3_EV_LINE;
	ev->text = ev->data = s;
	ev->len = strlen(s);
	return 1;
}

static int data_chunk(struct pop3_parser *p, struct pop3_event *ev, const void *data, size_t len,
                      struct error *err)
{
	if (len > p->limits.max_data - p->data_size)
		return fail(p, err, "the server sent a message larger than %llu bytes",
		            (unsigned long long)p->limits.max_data);
	p->data_size += len;
	ev->type = POP3_EV_DATA;
	ev->data = data;
	ev->len = len;
	return 1;
}

/* One step through content. 1 with an event, 0 when a byte was consumed
 * without one, -1 on error. Stuffing dots are skipped by ending a chunk
 * just before them, so chunks are runs of the fed bytes. */
static int data_step(struct pop3_parser *p, struct pop3_event *ev, struct error *err)
{
	const unsigned char *s = p->in + p->pos;
	size_t avail = p->in_len - p->pos, n;

	switch (p->state) {
	case S_DATA_BOL:
		if (s[0] == '.') {
			p->pos++;
			p->state = S_DATA_DOT;
			return 0;
		}
		p->state = S_DATA_MID;
		return 0;
	case S_DATA_DOT:
		if (s[0] == '\r') {
			p->pos++;
			p->state = S_DATA_DOT_CR;
			return 0;
		}
		if (s[0] == '\n') {
			p->pos++;
			end_reply(p, ev);
			return 1;
		}
		p->state = S_DATA_MID; /* the dot was a stuffing dot */
		return 0;
	case S_DATA_DOT_CR:
		if (s[0] == '\n') {
			p->pos++;
			end_reply(p, ev);
			return 1;
		}
		/* "." CR and more: a stuffed line starting with CR. */
		p->state = S_DATA_MID;
		return data_chunk(p, ev, "\r", 1, err);
	case S_DATA_MID:
		break;
	default:
		abort();
	}
	/* Up to and including the next LF, and on through every following
	 * line that does not start with a dot. */
	n = 0;
	for (;;) {
		const unsigned char *nl = memchr(s + n, '\n', avail - n);
		if (!nl) {
			n = avail;
			break;
		}
		n = (size_t)(nl - s) + 1;
		if (n == avail || s[n] == '.') {
			p->state = S_DATA_BOL;
			break;
		}
	}
	p->pos += n;
	return data_chunk(p, ev, s, n, err);
}

int pop3_parser_next(struct pop3_parser *p, struct pop3_event *ev, struct error *err)
{
	int r;

	memset(ev, 0, sizeof(*ev));
	ev->code_name = "";
	ev->text = ev->line = "";
	if (p->state == S_FAILED) {
		if (err)
			*err = p->error;
		return -1;
	}
	while (p->pos < p->in_len) {
		switch (p->state) {
		case S_IDLE: {
			char esc[100];
			size_t n = p->in_len - p->pos;
			pop3_escape(p->in + p->pos, n < 60 ? n : 60, esc, sizeof(esc));
			return fail(p, err, "the server sent \"%s\" without being asked", esc);
		}
		case S_STATUS:
			r = take_line(p, err);
			if (r != 0)
				return r < 0 ? -1 : status_line(p, ev, err);
			break;
		case S_LINE:
			r = take_line(p, err);
			if (r != 0)
				return r < 0 ? -1 : list_line(p, ev);
			break;
		case S_FAILED:
			abort();
		default:
			r = data_step(p, ev, err);
			if (r != 0)
				return r;
			break;
		}
	}
	return 0;
}
