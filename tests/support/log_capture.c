#include "log_capture.h"

#include "twinbox/util/buf.h"

static struct buf lines;

static void capture(enum log_level level, const char *line, void *ctx)
{
	(void)level;
	(void)ctx;
	buf_append_str(&lines, line);
	buf_append_str(&lines, "\n");
}

void log_capture_start(enum log_level level)
{
	buf_reset(&lines);
	log_set_level(level);
	log_set_sink(capture, NULL);
}

const char *log_capture_text(void)
{
	return buf_cstr(&lines);
}

void log_capture_stop(void)
{
	log_set_sink(NULL, NULL);
	log_set_level(LOG_INFO);
	buf_free(&lines);
}
