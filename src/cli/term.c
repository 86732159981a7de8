/*
 * Terminal safety for standard output: everything the commands print
 * goes through the escaping rule of util/log.h, LF kept, so a folder
 * name, a greeting or a file name that holds ESC, CR or a C1 control
 * cannot drive the terminal, whichever printf shows it. An LF inside a
 * value would still start a line of its own: values that may hold one
 * are printed through log_escape().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/log.h"

/* The real standard output, and the start of a character that a write
 * cut in two (at most 3 bytes), kept for the next write. */
struct term_out {
	FILE *real;
	char pending[4];
	size_t pending_len;
};

static struct term_out term;

static int put(struct term_out *t, const char *data, size_t len, unsigned final)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	size_t used;
	int rc = 0;

	buf_append(&in, t->pending, t->pending_len);
	buf_append(&in, data, len);
	used = log_escape_append(&out, in.data ? in.data : "", in.len, LOG_ESCAPE_KEEP_LF | final);
	t->pending_len = in.len - used;
	if (t->pending_len)
		memcpy(t->pending, in.data + used, t->pending_len);
	if (out.len && fwrite(out.data, 1, out.len, t->real) != out.len)
		rc = -1;
	if (fflush(t->real) != 0)
		rc = -1;
	buf_free(&in);
	buf_free(&out);
	return rc;
}

static ssize_t term_write(void *cookie, const char *data, size_t len)
{
	return put(cookie, data, len, 0) < 0 ? -1 : (ssize_t)len;
}

/* At exit: out with what is buffered and a character left incomplete,
 * and standard output is the real one again, for whatever runs later. */
static void restore_at_exit(void)
{
	fflush(stdout);
	put(&term, "", 0, LOG_ESCAPE_FINAL);
	stdout = term.real;
}

void cli_escape_stdout(void)
{
	cookie_io_functions_t io = {.write = term_write};
	FILE *f = fopencookie(&term, "w", io);

	if (!f)
		return;
	term.real = stdout;
	/* As the C library does for stdout: lines on a terminal, blocks into
	 * a pipe or file. */
	setvbuf(f, NULL, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, BUFSIZ);
	stdout = f;
	atexit(restore_at_exit);
}
