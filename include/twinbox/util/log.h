/*
 * Logging with levels, and terminal safety.
 *
 * Lower layers log through these functions and never print directly; the
 * CLI decides where lines go by installing a sink (default: stderr).
 *
 * Secrets are kept out at their source, not by rewriting lines: whoever
 * logs a command that carries a password, a token or a SASL payload logs
 * "***" in its place (the IMAP and POP3 traces do; see their headers).
 * The log itself changes no text but control characters, so a path or an
 * account name that happens to contain the password text shows as it is.
 *
 * Terminal safety: text from a server (folder names, response texts,
 * greetings, UIDLs) or from a file name may hold bytes that drive a
 * terminal (ESC sequences, CR that overwrites a line, LF that forges
 * one). Nobody has to remember to escape such text: log_vmsg() escapes
 * every line before the sink sees it, and the CLI passes all of its
 * standard output through the same rule (cli/term.c), LF kept there as
 * the end of its lines: so a value that could hold an LF (a folder name
 * as listed, a file name) is printed through log_escape() as well. The
 * rule, applied byte by byte:
 *   - a byte below 0x20 (TAB, CR and LF included) and 0x7f become "\xHH";
 *   - a byte that is not part of well-formed UTF-8 becomes "\xHH": so a
 *     lone 0x80-0x9f, which a terminal not in UTF-8 mode reads as a C1
 *     control (0x9b is CSI), never reaches it raw;
 *   - a well-formed UTF-8 character is kept, except the C1 controls
 *     U+0080-U+009F, which UTF-8 terminals obey: each of their two bytes
 *     becomes "\xHH" (U+009B is shown as \xc2\x9b).
 * What comes out is well-formed UTF-8 with no control character in it.
 * Backslashes are kept as they are (flags such as \Seen read better that
 * way), so "\x1b" on the terminal may also be those four characters sent
 * as such; nothing printed can drive the terminal either way.
 */
#ifndef TWINBOX_UTIL_LOG_H
#define TWINBOX_UTIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf;

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,  /* default: one line per account/folder */
	LOG_DEBUG, /* -v */
	LOG_TRACE, /* -vv: protocol trace */
};

/* A sink receives each finished line, already escaped (no newline, no
 * control character). */
typedef void (*log_sink_fn)(enum log_level level, const char *line, void *ctx);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
int log_enabled(enum log_level level);
/* NULL restores the default sink (stderr, "twinbox: " prefix for
 * warnings and errors). */
void log_set_sink(log_sink_fn sink, void *ctx);

/* Time stamps: with `on`, every line a sink prints starts with the
 * local time it is printed at, ISO 8601 to the millisecond with the
 * zone, and a space ("2024-05-01T09:30:00.250+02:00 "), for a log
 * read later (a service's standard error in a file, or in journald
 * for a `--output=cat` reader). Off by default; set once, before any
 * thread starts. log_stamp() gives that prefix into `buf` (or "" when
 * off) for a sink to print first. */
#define LOG_STAMP_MAX 40
void log_set_timestamps(bool on);
const char *log_stamp(char buf[LOG_STAMP_MAX]);

/* `text` escaped by the rule above, as a fresh string (caller frees). */
char *log_escape(const char *text);

/* The rule for a stream: escape `len` bytes at `data` onto `out`, and
 * return how many were consumed. Without LOG_ESCAPE_FINAL, an incomplete
 * but so far well-formed UTF-8 sequence at the end (at most 3 bytes) is
 * left for the next call, which passes it again with the bytes that
 * follow; with it, everything is consumed. LOG_ESCAPE_KEEP_LF keeps LF
 * (for text made of lines: the CLI's standard output). */
#define LOG_ESCAPE_FINAL   1u
#define LOG_ESCAPE_KEEP_LF 2u
size_t log_escape_append(struct buf *out, const char *data, size_t len, unsigned flags);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...) log_msg(LOG_TRACE, __VA_ARGS__)

#endif
