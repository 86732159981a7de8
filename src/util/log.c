#include "twinbox/util/log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/utf8.h"
#include "twinbox/util/xmalloc.h"

/* One logger per process: the CLI configures level and sink once at
 * start-up, before any thread starts. */
static enum log_level current_level = LOG_INFO;
static bool timestamps;
static log_sink_fn current_sink;
static void *current_ctx;

#define LOG_LINE_MAX (64 * 1024)

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

int log_enabled(enum log_level level)
{
	return level <= current_level;
}

void log_set_timestamps(bool on)
{
	timestamps = on;
}

const char *log_stamp(char buf[LOG_STAMP_MAX])
{
	struct timespec ts;
	struct tm tm;
	char zone[8];
	size_t n;

	buf[0] = '\0';
	if (!timestamps || clock_gettime(CLOCK_REALTIME, &ts) < 0 || !localtime_r(&ts.tv_sec, &tm))
		return buf;
	n = strftime(buf, LOG_STAMP_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
	/* strftime's %z is "+0200"; ISO 8601's extended form wants "+02:00". */
	if (n == 0 || strftime(zone, sizeof(zone), "%z", &tm) != 5) {
		buf[0] = '\0';
		return buf;
	}
	snprintf(buf + n, LOG_STAMP_MAX - n, ".%03ld%.3s:%.2s ", ts.tv_nsec / 1000000, zone, zone + 3);
	return buf;
}

void log_set_sink(log_sink_fn sink, void *ctx)
{
	current_sink = sink;
	current_ctx = ctx;
}

/* Bytes of the UTF-8 sequence a lead byte starts (1 for ASCII and for
 * bytes that cannot start one). */
static size_t sequence_len(unsigned char c)
{
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 1;
}

/* Whether the `len` bytes after a lead byte could still grow into a
 * character (the full check is made once it is complete). */
static bool continues(const unsigned char *p, size_t len)
{
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return false;
	return true;
}

static void escape_bytes(struct buf *out, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "\\x%02x", p[i]);
}

size_t log_escape_append(struct buf *out, const char *data, size_t len, unsigned flags)
{
	bool final = flags & LOG_ESCAPE_FINAL, keep_lf = flags & LOG_ESCAPE_KEEP_LF;
	const unsigned char *p = (const unsigned char *)data;
	size_t i = 0;

	while (i < len) {
		size_t n = sequence_len(p[i]);
		if (p[i] < 0x80) {
			if ((p[i] < 0x20 && !(p[i] == '\n' && keep_lf)) || p[i] == 0x7f)
				escape_bytes(out, p + i, 1);
			else
				buf_append_byte(out, (char)p[i]);
			i++;
		} else if (n == 1) {
			escape_bytes(out, p + i, 1);
			i++;
		} else if (i + n > len && !final && continues(p + i, len - i)) {
			break; /* the rest of the character comes with the next call */
		} else if (i + n <= len && utf8_valid(data + i, n)) {
			/* C1 controls U+0080-U+009F are C2 80 - C2 9F. */
			if (p[i] == 0xc2 && p[i + 1] < 0xa0)
				escape_bytes(out, p + i, n);
			else
				buf_append(out, p + i, n);
			i += n;
		} else {
			escape_bytes(out, p + i, 1);
			i++;
		}
	}
	return i;
}

char *log_escape(const char *text)
{
	struct buf out = BUF_INIT;

	log_escape_append(&out, text, strlen(text), LOG_ESCAPE_FINAL);
	return buf_detach(&out, NULL);
}

static void default_sink(enum log_level level, const char *line, void *ctx)
{
	char stamp[LOG_STAMP_MAX];

	(void)ctx;
	if (level <= LOG_WARN)
		fprintf(stderr, "%stwinbox: %s%s\n", log_stamp(stamp), level == LOG_WARN ? "warning: " : "",
		        line);
	else
		fprintf(stderr, "%s%s\n", log_stamp(stamp), line);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char *raw, *clean;
	size_t cut;

	if (!log_enabled(level))
		return;
	raw = xvasprintf(fmt, ap);
	/* Escape before cutting, and cut between characters, so the line
	 * stays well-formed UTF-8. */
	clean = log_escape(raw);
	if (strlen(clean) > LOG_LINE_MAX) {
		cut = LOG_LINE_MAX - 4;
		while (cut > 0 && ((unsigned char)clean[cut] & 0xc0) == 0x80)
			cut--;
		strcpy(clean + cut, "...");
	}
	if (current_sink)
		current_sink(level, clean, current_ctx);
	else
		default_sink(level, clean, NULL);
	free(clean);
	free(raw);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
