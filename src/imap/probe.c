/*
 * IMAP connection check. A deliberately small line-based exchange: only
 * greeting, CAPABILITY, STARTTLS and LOGOUT, whose responses never carry
 * literals. The full session (parser, pipelining, login) builds on the
 * response parser instead.
 */
#include "twinbox/imap/probe.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define PROBE_LINE_MAX     (64 * 1024)
#define PROBE_UNTAGGED_MAX 1000 /* untagged lines accepted before a tagged reply */

static bool starts_with_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* True when the space-separated `caps` holds the atom `name`. */
static bool has_capability(const char *caps, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = caps; p && *p;) {
		while (*p == ' ')
			p++;
		if (strncasecmp(p, name, len) == 0 && (p[len] == ' ' || p[len] == '\0'))
			return true;
		p = strchr(p, ' ');
	}
	return false;
}

static int read_line(struct conn *c, struct buf *line, struct error *err)
{
	if (conn_readline(c, line, PROBE_LINE_MAX, err) < 0)
		return -1;
	log_trace("S: %s", buf_cstr(line));
	return 0;
}

static int send_command(struct conn *c, const char *tag, const char *command, struct error *err)
{
	char *text = xasprintf("%s %s\r\n", tag, command);
	int rc = conn_write_str(c, text, err);

	log_trace("C: %s %s", tag, command);
	free(text);
	return rc;
}

/*
 * Send a command and read up to its tagged reply. A "* CAPABILITY" line
 * on the way replaces *caps_r. A tagged NO/BAD or a BYE is an error.
 */
static int run_command(struct conn *c, const char *tag, const char *command, char **caps_r, struct error *err)
{
	struct buf line = BUF_INIT;
	size_t tag_len = strlen(tag);
	int rc = -1;

	if (send_command(c, tag, command, err) < 0)
		return -1;
	for (int untagged = 0;; untagged++) {
		const char *s;
		if (untagged > PROBE_UNTAGGED_MAX) {
			error_set(err, ERR_ACCOUNT, "server sent more than %d lines in reply to %s",
			          PROBE_UNTAGGED_MAX, command);
			break;
		}
		if (read_line(c, &line, err) < 0) {
			error_prefix(err, "waiting for the reply to %s", command);
			break;
		}
		s = buf_cstr(&line);
		if (caps_r && starts_with_ci(s, "* CAPABILITY ")) {
			free(*caps_r);
			*caps_r = xstrdup(s + 13);
		} else if (starts_with_ci(s, "* BYE")) {
			error_set(err, ERR_ACCOUNT, "server closed the session in reply to %s: %s", command,
			          s);
			break;
		} else if (strncmp(s, tag, tag_len) == 0 && s[tag_len] == ' ') {
			if (starts_with_ci(s + tag_len + 1, "OK"))
				rc = 0;
			else
				error_set(err, ERR_ACCOUNT, "server refused %s: %s", command,
				          s + tag_len + 1);
			break;
		}
	}
	buf_free(&line);
	return rc;
}

/* Capabilities in a greeting's "[CAPABILITY ...]" response code, if any. */
static char *greeting_capabilities(const char *greeting)
{
	const char *p = strchr(greeting, '[');
	const char *end;

	if (!p || !starts_with_ci(p + 1, "CAPABILITY "))
		return NULL;
	p += 12;
	end = strchr(p, ']');
	return end ? xstrndup(p, (size_t)(end - p)) : NULL;
}

int imap_probe_conn(struct conn *c, const struct conn_options *opts, struct server_probe *probe_r,
                    struct error *err)
{
	struct buf line = BUF_INIT;
	char *caps = NULL;
	const char *g;
	bool preauth;

	memset(probe_r, 0, sizeof(*probe_r));
	if (read_line(c, &line, err) < 0) {
		error_prefix(err, "waiting for the IMAP greeting of %s:%u", opts->host, opts->port);
		goto fail;
	}
	g = buf_cstr(&line);
	probe_r->greeting = xstrdup(g);
	if (starts_with_ci(g, "* BYE")) {
		error_set(err, ERR_ACCOUNT, "%s:%u refused the connection: %s", opts->host, opts->port, g);
		goto fail;
	}
	preauth = starts_with_ci(g, "* PREAUTH");
	if (!preauth && !starts_with_ci(g, "* OK")) {
		error_set(err, ERR_ACCOUNT,
		          "%s:%u did not greet like an IMAP server (got \"%.80s\"); check host and port",
		          opts->host, opts->port, g);
		goto fail;
	}
	if (preauth && opts->tls == TLS_STARTTLS) {
		error_set(err, ERR_ACCOUNT,
		          "%s:%u sent PREAUTH before STARTTLS: the session would run unencrypted; "
		          "refusing (use tls: implicit, or tls: none if plain text is really intended)",
		          opts->host, opts->port);
		goto fail;
	}
	caps = greeting_capabilities(g);
	if (run_command(c, "T1", "CAPABILITY", &caps, err) < 0)
		goto fail;
	if (opts->tls == TLS_STARTTLS) {
		struct tls_options tls = {
		    .host = opts->host,
		    .port = opts->port,
		    .ca_file = opts->ca_file,
		    .fingerprint = opts->fingerprint,
		    .timeout_ms = opts->timeouts.io_ms,
		};
		if (!caps || !has_capability(caps, "STARTTLS")) {
			error_set(err, ERR_ACCOUNT,
			          "%s:%u does not offer STARTTLS, and tls: starttls is configured; refusing "
			          "to continue without TLS (use tls: implicit with port 993 if the server "
			          "supports it)",
			          opts->host, opts->port);
			goto fail;
		}
		if (run_command(c, "T2", "STARTTLS", NULL, err) < 0 ||
		    conn_starttls(c, &tls, &probe_r->discarded, err) < 0)
			goto fail;
		if (probe_r->discarded)
			log_warn("%s:%u sent %zu bytes after accepting STARTTLS; they were discarded",
			         opts->host, opts->port, probe_r->discarded);
		/* Capabilities seen before TLS cannot be trusted: ask again. */
		free(caps);
		caps = NULL;
		if (run_command(c, "T3", "CAPABILITY", &caps, err) < 0)
			goto fail;
	}
	probe_r->capabilities = caps ? caps : xstrdup("");
	probe_r->security = xstrdup(conn_security(c));
	/* LOGOUT is a courtesy; its failure changes nothing. */
	struct error ignored;
	run_command(c, "T4", "LOGOUT", NULL, &ignored);
	buf_free(&line);
	return 0;
fail:
	free(caps);
	buf_free(&line);
	server_probe_free(probe_r);
	return -1;
}

int imap_probe(const struct conn_options *opts, struct server_probe *probe_r, struct error *err)
{
	return server_probe_run(opts, imap_probe_conn, probe_r, err);
}
