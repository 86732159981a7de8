/*
 * Logging with levels and redaction of secrets.
 *
 * Lower layers log through these functions and never print directly; the
 * CLI decides where lines go by installing a sink (default: stderr).
 * Every registered secret (a password, a token, the base64 of an AUTH
 * exchange) is replaced by "***" in every line before it reaches the sink,
 * whatever level or layer produced it.
 */
#ifndef TWINBOX_UTIL_LOG_H
#define TWINBOX_UTIL_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,  /* default: one line per account/folder */
	LOG_DEBUG, /* -v */
	LOG_TRACE, /* -vv: protocol trace */
};

/* A sink receives each finished, already redacted line (no newline). */
typedef void (*log_sink_fn)(enum log_level level, const char *line, void *ctx);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
int log_enabled(enum log_level level);
/* NULL restores the default sink (stderr, "twinbox: " prefix for
 * warnings and errors). */
void log_set_sink(log_sink_fn sink, void *ctx);

/* Register a secret to redact from now on. Strings shorter than 3 bytes
 * are ignored (they would redact ordinary text). The logger keeps its own
 * copy; log_forget_secrets() wipes and frees all of them. */
void log_add_secret(const char *secret);
void log_forget_secrets(void);

/* Redact registered secrets in `text` into a fresh string (caller frees). */
char *log_redact(const char *text);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...) log_msg(LOG_TRACE, __VA_ARGS__)

#endif
