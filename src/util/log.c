#include "twinbox/util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

/* One logger per process: the CLI configures level and sink once at
 * start-up, before any thread starts. Secrets are added by whichever
 * thread logs in (parallel folders and accounts), so they are guarded. */
static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_level current_level = LOG_INFO;
static log_sink_fn current_sink;
static void *current_ctx;
static char **secrets;
static size_t n_secrets, cap_secrets;

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

void log_set_sink(log_sink_fn sink, void *ctx)
{
	current_sink = sink;
	current_ctx = ctx;
}

void log_add_secret(const char *secret)
{
	if (!secret || strlen(secret) < 3)
		return;
	pthread_mutex_lock(&secrets_lock);
	for (size_t i = 0; i < n_secrets; i++)
		if (strcmp(secrets[i], secret) == 0) {
			pthread_mutex_unlock(&secrets_lock);
			return;
		}
	secrets = xgrow(secrets, &cap_secrets, n_secrets + 1, sizeof(*secrets));
	secrets[n_secrets++] = xstrdup(secret);
	pthread_mutex_unlock(&secrets_lock);
}

void log_forget_secrets(void)
{
	pthread_mutex_lock(&secrets_lock);
	for (size_t i = 0; i < n_secrets; i++) {
		/* volatile so the wipe is not optimised away */
		volatile char *p = secrets[i];
		while (*p)
			*p++ = '\0';
		free(secrets[i]);
	}
	free(secrets);
	secrets = NULL;
	n_secrets = cap_secrets = 0;
	pthread_mutex_unlock(&secrets_lock);
}

/* Position and length of the earliest (then longest) secret in `text`. */
static const char *find_secret(const char *text, size_t *len_r)
{
	const char *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < n_secrets; i++) {
		const char *p = strstr(text, secrets[i]);
		size_t len = strlen(secrets[i]);
		if (p && (!best || p < best || (p == best && len > best_len))) {
			best = p;
			best_len = len;
		}
	}
	*len_r = best_len;
	return best;
}

char *log_redact(const char *text)
{
	struct buf out = BUF_INIT;
	const char *p = text;
	const char *hit;
	size_t len;

	pthread_mutex_lock(&secrets_lock);
	while ((hit = find_secret(p, &len)) != NULL) {
		buf_append(&out, p, (size_t)(hit - p));
		buf_append_str(&out, "***");
		p = hit + len;
	}
	pthread_mutex_unlock(&secrets_lock);
	buf_append_str(&out, p);
	return buf_detach(&out, NULL);
}

static void default_sink(enum log_level level, const char *line, void *ctx)
{
	(void)ctx;
	if (level <= LOG_WARN)
		fprintf(stderr, "twinbox: %s%s\n", level == LOG_WARN ? "warning: " : "", line);
	else
		fprintf(stderr, "%s\n", line);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char *raw, *clean;

	if (!log_enabled(level))
		return;
	raw = xvasprintf(fmt, ap);
	/* Redact before cutting, so a cut can never expose half a secret. */
	clean = log_redact(raw);
	if (strlen(clean) > LOG_LINE_MAX)
		strcpy(clean + LOG_LINE_MAX - 4, "...");
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
