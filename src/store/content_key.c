#include "twinbox/store/content_key.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "twinbox/util/xmalloc.h"

#define FNV_OFFSET UINT64_C(14695981039346656037)
#define FNV_PRIME  UINT64_C(1099511628211)

/* Room for "Message-ID:" plus the longest value kept; the rest of a longer
 * line is hashed but not looked at. */
#define LINE_KEEP 2048

/* Bits of `state`. */
#define ST_PENDING_CR 0x01 /* the last byte fed was a CR: a CRLF may be split across feeds */
#define ST_DONE       0x02 /* the empty line or the bound was reached: ignore the rest */
#define ST_IN_MSGID   0x04 /* the current field is the Message-ID (continuations belong to it) */
#define ST_HAVE_MSGID 0x08 /* a Message-ID field was seen; only the first one counts */
#define ST_LINE_LONG  0x10 /* the current line passed LINE_KEEP; only its start is kept */
#define ST_IN_IGNORED 0x20 /* the current field is left out (continuations belong to it) */

void content_key_init(struct content_key_builder *b)
{
	memset(b, 0, sizeof(*b));
	b->hash = FNV_OFFSET;
	buf_init(&b->msgid, CONTENT_KEY_MSGID_MAX);
	buf_init(&b->line, LINE_KEEP);
}

void content_key_free(struct content_key_builder *b)
{
	buf_free(&b->msgid);
	buf_free(&b->line);
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Append a piece of the Message-ID field body. Whitespace and control
 * bytes are dropped: a msg-id has none inside, and folding puts them
 * wherever the writer liked, so dropping them is what makes two copies of
 * one header agree. Bytes past the bound are dropped too (both sides cut
 * at the same place). */
static void msgid_add(struct content_key_builder *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == 0x7f)
			continue;
		if (buf_append_byte(&b->msgid, (char)c) < 0)
			return;
	}
}

static size_t field_name_len(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name), i;

	if (len < n || strncasecmp(line, name, n) != 0)
		return 0;
	for (i = n; i < len && is_wsp(line[i]); i++)
		;
	return i < len && line[i] == ':' ? i + 1 : 0;
}

/* Hash one byte of the normal form, up to the bound. */
static void hash_byte(struct content_key_builder *b, char c)
{
	if (b->seen >= CONTENT_KEY_HEADER_MAX)
		return;
	b->hash = (b->hash ^ (unsigned char)c) * FNV_PRIME;
	b->seen++;
}

static void hash_held(struct content_key_builder *b)
{
	for (size_t i = 0; i < b->line.len; i++)
		hash_byte(b, b->line.data[i]);
}

/*
 * A complete physical line of the header block: `line` holds it without
 * its LF (with the CR of the normal form), `lf` says whether the LF came
 * (not at a cut or at the end of the input). A line that fits in `line`
 * was held back unhashed until now, so that a field left out (mbsync's
 * X-TUID, which it adds to the copies it stores) is counted neither in
 * the hash nor in the size: the copy it made and the original agree. A
 * longer line is never left out; it was hashed as it came.
 */
static void end_line(struct content_key_builder *b, bool lf)
{
	const char *line = b->line.data ? b->line.data : "";
	size_t len = b->line.len, raw = b->line.len;
	size_t body;
	bool held = !(b->state & ST_LINE_LONG), ignored = false;

	if (held && len && line[len - 1] == '\r')
		len--;
	if (len == 0 && held) {
		b->state |= ST_DONE;
		b->state &= ~(ST_IN_MSGID | ST_IN_IGNORED);
	} else if (is_wsp(line[0])) {
		ignored = held && (b->state & ST_IN_IGNORED);
		if (b->state & ST_IN_MSGID)
			msgid_add(b, line, len);
	} else {
		b->state &= ~(ST_IN_MSGID | ST_IN_IGNORED);
		if (held && field_name_len(line, len, "X-TUID") > 0) {
			b->state |= ST_IN_IGNORED;
			ignored = true;
		} else if (!(b->state & ST_HAVE_MSGID) &&
		           (body = field_name_len(line, len, "Message-ID")) > 0) {
			b->state |= ST_IN_MSGID | ST_HAVE_MSGID;
			msgid_add(b, line + body, len - body);
		}
	}
	if (ignored) {
		b->ignored += raw + (lf ? 1 : 0);
	} else {
		if (held)
			hash_held(b);
		if (lf)
			hash_byte(b, '\n');
	}
	buf_reset(&b->line);
	b->state &= ~ST_LINE_LONG;
}

/* One byte of the normalised header block. */
static void emit(struct content_key_builder *b, char c)
{
	if (c == '\n') {
		end_line(b, true);
	} else if (b->state & ST_LINE_LONG) {
		hash_byte(b, c);
	} else if (buf_append_byte(&b->line, c) < 0) {
		/* Too long to hold: hash what was held and go on as it comes;
		 * the start stays in `line` for the Message-ID. */
		hash_held(b);
		hash_byte(b, c);
		b->state |= ST_LINE_LONG;
	}
	if (b->seen + b->ignored >= CONTENT_KEY_HEADER_MAX && !(b->state & ST_DONE)) {
		/* Cut here; a Message-ID on the cut line counts as far as it
		 * got, the same on both sides. */
		if (b->line.len || (b->state & ST_LINE_LONG))
			end_line(b, false);
		b->state |= ST_DONE;
	}
}

void content_key_feed(struct content_key_builder *b, const void *data, size_t len)
{
	const char *p = data;

	for (size_t i = 0; i < len && !(b->state & ST_DONE); i++) {
		char c = p[i];

		if (b->state & ST_PENDING_CR) {
			b->state &= ~ST_PENDING_CR;
			emit(b, '\r');
			if (c == '\n') {
				if (!(b->state & ST_DONE))
					emit(b, '\n');
				continue;
			}
			if (b->state & ST_DONE)
				break;
		}
		if (c == '\r')
			b->state |= ST_PENDING_CR;
		else if (c == '\n') {
			/* A bare LF counts as CRLF. */
			emit(b, '\r');
			if (!(b->state & ST_DONE))
				emit(b, '\n');
		} else {
			emit(b, c);
		}
	}
}

/* The msg-id proper: "<...>" when the field has one (dropping comments
 * around it), else whatever the field held. */
static void msgid_extract(const struct buf *m, const char **s_r, size_t *len_r)
{
	const char *s = m->data ? m->data : "";
	const char *lt = memchr(s, '<', m->len), *gt = NULL;

	*s_r = s;
	*len_r = m->len;
	if (lt)
		gt = memchr(lt, '>', m->len - (size_t)(lt - s));
	if (lt && gt) {
		*s_r = lt;
		*len_r = (size_t)(gt - lt) + 1;
	}
}

char *content_key_finish(struct content_key_builder *b, uint64_t size)
{
	const char *id;
	size_t id_len;

	if (!(b->state & ST_DONE)) {
		if (b->state & ST_PENDING_CR) {
			b->state &= ~ST_PENDING_CR;
			emit(b, '\r');
		}
		/* A header block without the empty line (a message that is
		 * all header, or one cut short). */
		if (!(b->state & ST_DONE) && (b->line.len || (b->state & ST_LINE_LONG)))
			end_line(b, false);
		b->state |= ST_DONE;
	}
	msgid_extract(&b->msgid, &id, &id_len);
	if (size >= b->ignored)
		size -= b->ignored;
	return xasprintf("%" PRIu64 " %016" PRIx64 " %.*s", size, b->hash, (int)id_len, id);
}
