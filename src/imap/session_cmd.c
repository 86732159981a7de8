/*
 * Building commands: text, strings (quoted or literal), mailbox names,
 * literals. A command is a list of parts, each a piece of text optionally
 * followed by a literal, so that the writer can stop before a
 * synchronizing literal and go on after the server's "+".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_p.h"
#include "twinbox/imap/mailbox_name.h"
#include "twinbox/util/xmalloc.h"

/* How much of a command its messages and traces show. */
#define WHAT_MAX 300

static void what_append(struct imap_cmd *cmd, const char *text, size_t len)
{
	struct buf *w = &cmd->what;

	if (w->len >= WHAT_MAX)
		return;
	if (w->len + len > WHAT_MAX) {
		buf_append(w, text, WHAT_MAX - w->len);
		buf_append_str(w, "...");
		return;
	}
	buf_append(w, text, len);
}

void imap_cmd_init(struct imap_cmd *cmd, const char *verb)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->scope = ERR_ACCOUNT;
	buf_append_str(&cmd->text, verb);
	what_append(cmd, verb, strlen(verb));
}

void imap_cmd_add(struct imap_cmd *cmd, const char *fmt, ...)
{
	size_t before = cmd->text.len;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&cmd->text, fmt, ap);
	va_end(ap);
	what_append(cmd, cmd->text.data + before, cmd->text.len - before);
}

static void push_part(struct imap_cmd *cmd, enum imap_lit_kind lit, const void *data,
                      const struct imap_literal_source *src, uint64_t len)
{
	struct imap_cmd_part *p;

	cmd->parts = xgrow(cmd->parts, &cmd->part_cap, cmd->part_count + 1, sizeof(*cmd->parts));
	p = &cmd->parts[cmd->part_count++];
	memset(p, 0, sizeof(*p));
	p->text = cmd->text;
	p->lit = lit;
	p->lit_data = data;
	p->lit_src = src;
	p->lit_len = len;
	memset(&cmd->text, 0, sizeof(cmd->text));
}

static enum imap_lit_kind literal_kind(const struct imap_session *s, uint64_t len)
{
	if (imap_has_cap(s, "LITERAL+"))
		return IMAP_LIT_NOSYNC;
	if (imap_has_cap(s, "LITERAL-") && len <= IMAP_LITERAL_MINUS_MAX)
		return IMAP_LIT_NOSYNC;
	return IMAP_LIT_SYNC;
}

/* With `copy`, the command keeps its own copy of `data` (strings). */
static void add_literal(struct imap_session *s, struct imap_cmd *cmd, const void *data,
                        const struct imap_literal_source *src, uint64_t len, const char *shown, bool copy)
{
	enum imap_lit_kind kind = literal_kind(s, len);
	char *w;

	buf_printf(&cmd->text, " {%llu%s}\r\n", (unsigned long long)len, kind == IMAP_LIT_NOSYNC ? "+" : "");
	if (copy) {
		void *own = xmalloc(len ? len : 1);
		memcpy(own, data, len);
		push_part(cmd, kind, own, NULL, len);
		cmd->parts[cmd->part_count - 1].lit_owned = true;
	} else {
		push_part(cmd, kind, data, src, len);
	}
	w = shown ? xasprintf(" %s", shown) : xasprintf(" {%llu bytes}", (unsigned long long)len);
	what_append(cmd, w, strlen(w));
	free(w);
}

static bool quotable(const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c < 0x20 || c > 0x7e)
			return false;
	}
	return true;
}

/* `shown`: what messages and traces show instead of the wire form. */
static void add_astring(struct imap_session *s, struct imap_cmd *cmd, const char *data, size_t len,
                        const char *shown)
{
	size_t before;

	if (!quotable(data, len)) {
		add_literal(s, cmd, data, NULL, len, shown, true);
		return;
	}
	before = cmd->text.len;
	buf_append_str(&cmd->text, " \"");
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '"' || data[i] == '\\')
			buf_append_byte(&cmd->text, '\\');
		buf_append_byte(&cmd->text, data[i]);
	}
	buf_append_byte(&cmd->text, '"');
	if (shown) {
		what_append(cmd, " ", 1);
		what_append(cmd, shown, strlen(shown));
	} else {
		what_append(cmd, cmd->text.data + before, cmd->text.len - before);
	}
}

void imap_cmd_add_string(struct imap_session *s, struct imap_cmd *cmd, const char *data, size_t len,
                         bool secret)
{
	add_astring(s, cmd, data, len, secret ? "***" : NULL);
}

int imap_cmd_add_mailbox(struct imap_session *s, struct imap_cmd *cmd, const char *name, struct error *err)
{
	char *wire, *shown;

	if (imap_mailbox_encode(name, (s->enabled & IMAP_ENABLED_UTF8) != 0, &wire, err) < 0)
		return -1;
	shown = imap_quote_for_message(name, strlen(name));
	add_astring(s, cmd, wire, strlen(wire), shown);
	free(shown);
	free(wire);
	return 0;
}

void imap_cmd_add_literal(struct imap_session *s, struct imap_cmd *cmd, const void *data, size_t len)
{
	add_literal(s, cmd, data, NULL, len, NULL, false);
}

void imap_cmd_add_literal_source(struct imap_session *s, struct imap_cmd *cmd,
                                 const struct imap_literal_source *src)
{
	add_literal(s, cmd, NULL, src, src->size, NULL, false);
}

void imap_cmd_seal(struct imap_cmd *cmd)
{
	buf_append_str(&cmd->text, "\r\n");
	push_part(cmd, IMAP_LIT_NONE, NULL, NULL, 0);
}

void imap_cmd_free(struct imap_cmd *cmd)
{
	/* Parts may hold a password (LOGIN): wipe before freeing. */
	for (size_t i = 0; i < cmd->part_count; i++) {
		struct imap_cmd_part *p = &cmd->parts[i];
		if (p->text.data)
			explicit_bzero(p->text.data, p->text.len);
		buf_free(&p->text);
		if (p->lit_owned) {
			explicit_bzero((void *)p->lit_data, (size_t)p->lit_len);
			free((void *)p->lit_data);
		}
	}
	free(cmd->parts);
	cmd->parts = NULL;
	cmd->part_count = cmd->part_cap = 0;
	if (cmd->text.data)
		explicit_bzero(cmd->text.data, cmd->text.len);
	buf_free(&cmd->text);
	buf_free(&cmd->what);
	imap_uidset_free(&cmd->code.src);
	imap_uidset_free(&cmd->code.dst);
	free(cmd->status);
	cmd->status = NULL;
}

char *imap_quote_for_message(const char *data, size_t len)
{
	struct buf b = BUF_INIT;
	size_t shown = len > 100 ? 100 : len;

	buf_append_byte(&b, '"');
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c == '"' || c == '\\')
			buf_printf(&b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			buf_printf(&b, "\\x%02x", c);
		else
			buf_append_byte(&b, (char)c);
	}
	if (shown < len)
		buf_append_str(&b, "...");
	buf_append_byte(&b, '"');
	return buf_detach(&b, NULL);
}
