/*
 * The protocol trace of what the server sends: one "S: " line per
 * response line, literals replaced by "{N bytes}" (a message body never
 * reaches the log), long lines shortened. It follows the byte stream on
 * its own (CRLF and "{n}" at a line's end), independent of the parser,
 * so it also shows what the parser then refuses.
 */
#include <stdlib.h>
#include <string.h>

#include "session_p.h"
#include "twinbox/util/log.h"

static void emit(struct imap_trace *t)
{
	if (t->line.len && t->line.data[t->line.len - 1] == '\r')
		buf_truncate(&t->line, t->line.len - 1);
	if (t->line_bytes > IMAP_TRACE_LINE_MAX)
		log_trace("S: %s... (%zu bytes)", buf_cstr(&t->line), t->line_bytes);
	else
		log_trace("S: %s", buf_cstr(&t->line));
	buf_reset(&t->line);
	t->line_bytes = 0;
}

/* If the collected line ends with "{n}", "{n+}" or "{n-}" (before CR),
 * return 1 with n; the marker is rewritten as "{n bytes}". */
static int literal_at_end(struct imap_trace *t, uint64_t *n_r)
{
	char *s = t->line.data;
	size_t len = t->line.len;
	size_t open;
	uint64_t n = 0;

	if (len && s[len - 1] == '\r')
		len--;
	if (len < 3 || s[len - 1] != '}')
		return 0;
	open = len - 1;
	while (open > 0 && s[open - 1] != '{')
		open--;
	if (open == 0)
		return 0;
	for (size_t i = open; i < len - 1; i++) {
		if (s[i] >= '0' && s[i] <= '9' && n < UINT64_MAX / 10)
			n = n * 10 + (uint64_t)(s[i] - '0');
		else if (!((s[i] == '+' || s[i] == '-') && i == len - 2 && i > open))
			return 0;
	}
	if (open == len - 1)
		return 0;
	buf_truncate(&t->line, open - 1);
	buf_printf(&t->line, "{%llu bytes}", (unsigned long long)n);
	*n_r = n;
	return 1;
}

void imap_trace_server(struct imap_session *s, const unsigned char *data, size_t len)
{
	struct imap_trace *t = &s->trace;

	while (len > 0) {
		const unsigned char *lf;
		size_t take;
		uint64_t n;

		if (t->literal_left) {
			take = len < t->literal_left ? len : (size_t)t->literal_left;
			t->literal_left -= take;
			data += take;
			len -= take;
			continue;
		}
		lf = memchr(data, '\n', len);
		take = lf ? (size_t)(lf - data) : len;
		if (t->line.len + take <= IMAP_TRACE_LINE_MAX)
			buf_append(&t->line, data, take);
		else if (t->line.len < IMAP_TRACE_LINE_MAX)
			buf_append(&t->line, data, IMAP_TRACE_LINE_MAX - t->line.len);
		t->line_bytes += take;
		data += take;
		len -= take;
		if (!lf)
			break;
		data++;
		len--;
		if (t->line_bytes <= IMAP_TRACE_LINE_MAX && literal_at_end(t, &n))
			t->literal_left = n;
		else
			emit(t);
	}
}

void imap_trace_free(struct imap_trace *t)
{
	buf_free(&t->line);
}
