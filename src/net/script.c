/*
 * The scripted peer: a list of steps replayed against the client's reads
 * and writes, strict in order, so protocol tests see exactly what the
 * client sent and when.
 */
#include "twinbox/net/script.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/error.h"
#include "twinbox/util/xmalloc.h"

enum step_kind {
	STEP_EXPECT,
	STEP_EXPECT_ANY,
	STEP_SEND,
	STEP_CLOSE,
	STEP_FAIL,
};

struct step {
	enum step_kind kind;
	char *data; /* bytes to expect or send; the message for STEP_FAIL */
	size_t len;
};

struct script {
	struct step *steps;
	size_t count, cap;
	size_t cur;      /* index of the step being played */
	size_t pos;      /* bytes of steps[cur] already played */
	size_t chunk;    /* max bytes per read; 0 = no limit */
	char *why;       /* first mismatch, or NULL */
	char *check_why; /* message handed out by script_check */
	/* The script is shared by the test and the transport; whichever
	 * lets go last frees it, so the order of script_free() and
	 * transport_close() does not matter. */
	int refs;
};

struct script_transport {
	struct transport base;
	struct script *s;
};

/* At most this much of each side goes into a mismatch message. */
#define SHOW_MAX 200

static void add_step(struct script *s, enum step_kind kind, const void *data, size_t len)
{
	struct step *st;

	/* An empty send would read as EOF, an empty expect would block a
	 * read; neither means anything, so they are dropped. */
	if ((kind == STEP_SEND || kind == STEP_EXPECT) && len == 0)
		return;
	s->steps = xgrow(s->steps, &s->cap, s->count + 1, sizeof(*s->steps));
	st = &s->steps[s->count++];
	st->kind = kind;
	st->len = len;
	st->data = xmalloc(len + 1);
	if (len > 0)
		memcpy(st->data, data, len);
	st->data[len] = '\0';
}

struct script *script_new(void)
{
	struct script *s = xcalloc(1, sizeof(*s));

	s->refs = 1;
	return s;
}

void script_expect(struct script *s, const char *client_bytes)
{
	add_step(s, STEP_EXPECT, client_bytes, strlen(client_bytes));
}

void script_expect_bytes(struct script *s, const void *data, size_t len)
{
	add_step(s, STEP_EXPECT, data, len);
}

void script_expect_any(struct script *s)
{
	add_step(s, STEP_EXPECT_ANY, NULL, 0);
}

void script_expectf(struct script *s, const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	add_step(s, STEP_EXPECT, text, strlen(text));
	free(text);
}

void script_sendf(struct script *s, const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	add_step(s, STEP_SEND, text, strlen(text));
	free(text);
}

void script_send(struct script *s, const char *server_bytes)
{
	add_step(s, STEP_SEND, server_bytes, strlen(server_bytes));
}

void script_send_bytes(struct script *s, const void *data, size_t len)
{
	add_step(s, STEP_SEND, data, len);
}

void script_close(struct script *s)
{
	add_step(s, STEP_CLOSE, NULL, 0);
}

void script_fail(struct script *s, const char *message)
{
	add_step(s, STEP_FAIL, message, strlen(message));
}

void script_set_chunk(struct script *s, size_t max_read)
{
	s->chunk = max_read;
}

/* Append `data` as a C string literal body, cut after SHOW_MAX bytes. */
static void show(struct buf *b, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t n = len < SHOW_MAX ? len : SHOW_MAX;

	buf_append_byte(b, '"');
	for (size_t i = 0; i < n; i++) {
		switch (p[i]) {
		case '\r':
			buf_append_str(b, "\\r");
			break;
		case '\n':
			buf_append_str(b, "\\n");
			break;
		case '\t':
			buf_append_str(b, "\\t");
			break;
		case '"':
		case '\\':
			buf_append_byte(b, '\\');
			buf_append_byte(b, (char)p[i]);
			break;
		default:
			if (p[i] < 0x20 || p[i] >= 0x7f)
				buf_printf(b, "\\x%02x", p[i]);
			else
				buf_append_byte(b, (char)p[i]);
		}
	}
	buf_append_byte(b, '"');
	if (n < len)
		buf_printf(b, "... (%zu bytes)", len);
}

static const char *kind_verb(enum step_kind kind)
{
	switch (kind) {
	case STEP_EXPECT:
		return "to write";
	case STEP_EXPECT_ANY:
		return "to write something";
	case STEP_SEND:
		return "to read";
	case STEP_CLOSE:
		return "to see the peer close";
	case STEP_FAIL:
		return "to see a failure";
	}
	return "?";
}

/* Describe step `i` for messages: `step 3 of 5 (expects the client to
 * write "a LOGOUT\r\n")`. */
static void describe_step(struct buf *b, const struct script *s, size_t i)
{
	const struct step *st = &s->steps[i];

	buf_printf(b, "step %zu of %zu (expects the client %s", i + 1, s->count, kind_verb(st->kind));
	if (st->kind == STEP_EXPECT || st->kind == STEP_SEND || st->kind == STEP_FAIL) {
		buf_append_byte(b, ' ');
		show(b, st->data, st->len);
	}
	buf_append_byte(b, ')');
}

/* Record the first thing that went wrong and report it to the client. */
static int mismatch(struct script *s, struct buf *msg, struct error *err)
{
	if (!s->why)
		s->why = buf_detach(msg, NULL);
	else
		buf_free(msg);
	return error_set(err, ERR_ACCOUNT, "script: %s", s->why);
}

static ssize_t script_read(struct transport *t, void *data, size_t len, struct error *err)
{
	struct script *s = ((struct script_transport *)t)->s;
	struct buf msg = BUF_INIT;
	struct step *st;
	size_t n;

	if (s->why)
		return error_set(err, ERR_ACCOUNT, "script: %s", s->why);
	if (s->cur == s->count) {
		buf_append_str(&msg, "the client read after the end of the script");
		return mismatch(s, &msg, err);
	}
	st = &s->steps[s->cur];
	switch (st->kind) {
	case STEP_SEND:
		n = st->len - s->pos;
		if (n > len)
			n = len;
		if (s->chunk > 0 && n > s->chunk)
			n = s->chunk;
		memcpy(data, st->data + s->pos, n);
		s->pos += n;
		if (s->pos == st->len) {
			s->cur++;
			s->pos = 0;
		}
		return (ssize_t)n;
	case STEP_CLOSE:
		/* A closed peer stays closed: the step is played and stays. */
		s->pos = 1;
		return 0;
	case STEP_FAIL:
		s->pos = 1;
		return error_set(err, ERR_ACCOUNT, "%s", st->data);
	case STEP_EXPECT:
	case STEP_EXPECT_ANY:
		break;
	}
	buf_append_str(&msg, "the client read while ");
	describe_step(&msg, s, s->cur);
	if (s->pos > 0)
		buf_printf(&msg, " was written only up to byte %zu", s->pos);
	return mismatch(s, &msg, err);
}

/* Match one write against the expected bytes; it may cover part of a
 * step or run on over several consecutive expect steps. */
static int script_write(struct transport *t, const void *data, size_t len, struct error *err)
{
	struct script *s = ((struct script_transport *)t)->s;
	const char *p = data;
	struct buf msg = BUF_INIT;

	if (s->why)
		return error_set(err, ERR_ACCOUNT, "script: %s", s->why);
	while (len > 0) {
		struct step *st;
		size_t n;

		if (s->cur == s->count) {
			buf_append_str(&msg, "the client wrote ");
			show(&msg, p, len);
			buf_append_str(&msg, " after the end of the script");
			return mismatch(s, &msg, err);
		}
		st = &s->steps[s->cur];
		if (st->kind == STEP_FAIL) {
			s->pos = 1;
			return error_set(err, ERR_ACCOUNT, "%s", st->data);
		}
		if (st->kind == STEP_EXPECT_ANY) {
			s->cur++;
			s->pos = 0;
			return 0;
		}
		if (st->kind != STEP_EXPECT) {
			buf_append_str(&msg, "the client wrote ");
			show(&msg, p, len);
			buf_append_str(&msg, " while ");
			describe_step(&msg, s, s->cur);
			return mismatch(s, &msg, err);
		}
		n = st->len - s->pos;
		if (n > len)
			n = len;
		if (memcmp(st->data + s->pos, p, n) != 0) {
			buf_printf(&msg, "step %zu of %zu: the client wrote ", s->cur + 1, s->count);
			show(&msg, p, len);
			buf_append_str(&msg, ", expected ");
			show(&msg, st->data + s->pos, st->len - s->pos);
			if (s->pos > 0)
				buf_printf(&msg, " (after the step's first %zu bytes)", s->pos);
			return mismatch(s, &msg, err);
		}
		s->pos += n;
		p += n;
		len -= n;
		if (s->pos == st->len) {
			s->cur++;
			s->pos = 0;
		}
	}
	return 0;
}

static int script_poll(struct transport *t, int timeout_ms, struct error *err)
{
	struct script *s = ((struct script_transport *)t)->s;
	struct buf msg = BUF_INIT;

	if (s->why)
		return error_set(err, ERR_ACCOUNT, "script: %s", s->why);
	if (s->cur < s->count) {
		enum step_kind k = s->steps[s->cur].kind;

		if (k == STEP_SEND || k == STEP_CLOSE || k == STEP_FAIL)
			return 1;
	}
	/* Nothing will ever arrive; a check reads as "not yet", a real wait
	 * would hang forever against a live peer, so it is a script error. */
	if (timeout_ms == 0)
		return 0;
	if (s->cur == s->count) {
		buf_append_str(&msg, "the client waited for data after the end of the script");
	} else {
		buf_append_str(&msg, "the client waited for data while ");
		describe_step(&msg, s, s->cur);
	}
	return mismatch(s, &msg, err);
}

static void script_unref(struct script *s)
{
	if (--s->refs > 0)
		return;
	for (size_t i = 0; i < s->count; i++)
		free(s->steps[i].data);
	free(s->steps);
	free(s->why);
	free(s->check_why);
	free(s);
}

static void script_transport_close(struct transport *t)
{
	struct script_transport *st = (struct script_transport *)t;

	script_unref(st->s);
	free(st);
}

static const struct transport_ops script_ops = {
    .name = "script",
    .read = script_read,
    .write = script_write,
    .poll = script_poll,
    .close = script_transport_close,
};

struct transport *script_transport(struct script *s)
{
	struct script_transport *st = xcalloc(1, sizeof(*st));

	st->base.ops = &script_ops;
	st->s = s;
	s->refs++;
	return &st->base;
}

bool script_check(struct script *s, const char **why_r)
{
	struct buf msg = BUF_INIT;
	size_t cur = s->cur;

	free(s->check_why);
	s->check_why = NULL;
	if (s->why) {
		s->check_why = xstrdup(s->why);
	} else if (cur < s->count) {
		const struct step *st = &s->steps[cur];

		/* A close or failure that was hit counts as played, but
		 * nothing after it can be. */
		if ((st->kind == STEP_CLOSE || st->kind == STEP_FAIL) && s->pos > 0) {
			if (cur + 1 == s->count)
				return true;
			describe_step(&msg, s, cur);
			buf_printf(&msg, " ended the script, but %zu steps follow it", s->count - cur - 1);
		} else if (s->pos > 0) {
			describe_step(&msg, s, cur);
			buf_printf(&msg, " was played only up to byte %zu", s->pos);
		} else {
			describe_step(&msg, s, cur);
			buf_append_str(&msg, " was never played");
		}
		if (cur + 1 < s->count && !(st->kind == STEP_CLOSE || st->kind == STEP_FAIL))
			buf_printf(&msg, ", nor the %zu after it", s->count - cur - 1);
		s->check_why = buf_detach(&msg, NULL);
	} else {
		return true;
	}
	if (why_r)
		*why_r = s->check_why;
	return false;
}

void script_free(struct script *s)
{
	if (s)
		script_unref(s);
}
