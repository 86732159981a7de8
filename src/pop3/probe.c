/*
 * POP3 connection check: greeting, CAPA, STLS, QUIT (RFC 1939, 2449,
 * 2595). Line based; the import's client has its own reply parser.
 */
#include "twinbox/pop3/probe.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define PROBE_LINE_MAX 4096 /* RFC 2449 allows 512; be lenient, but bounded */
#define PROBE_CAPA_MAX 200  /* CAPA lines accepted */

static int read_line(struct conn *c, struct buf *line, struct error *err)
{
	if (conn_readline(c, line, PROBE_LINE_MAX, err) < 0)
		return -1;
	log_trace("S: %s", buf_cstr(line));
	return 0;
}

enum reply { REPLY_OK = 0, REPLY_ERR = 1, REPLY_BROKEN = -1 };

/* Send `command` and read its status line. REPLY_ERR (-ERR, err set) and
 * REPLY_BROKEN (I/O failure or a line that is no status) are failures. */
static enum reply run_command(struct conn *c, const char *command, struct buf *line, struct error *err)
{
	char *text = xasprintf("%s\r\n", command);
	int rc = conn_write_str(c, text, err);

	free(text);
	log_trace("C: %s", command);
	if (rc < 0 || read_line(c, line, err) < 0)
		return REPLY_BROKEN;
	if (strncmp(buf_cstr(line), "+OK", 3) == 0)
		return REPLY_OK;
	if (strncmp(buf_cstr(line), "-ERR", 4) == 0) {
		error_set(err, ERR_ACCOUNT, "server refused %s: %s", command, buf_cstr(line));
		return REPLY_ERR;
	}
	error_set(err, ERR_ACCOUNT, "server answered %s with \"%.80s\", which is not a POP3 status", command,
	          buf_cstr(line));
	return REPLY_BROKEN;
}

/* CAPA: the capability lines joined by ", "; NULL when the server has no
 * CAPA command (-ERR). */
static int read_capa(struct conn *c, char **caps_r, bool *stls_r, struct error *err)
{
	struct buf line = BUF_INIT, caps = BUF_INIT;
	enum reply reply;

	*caps_r = NULL;
	*stls_r = false;
	reply = run_command(c, "CAPA", &line, err);
	if (reply != REPLY_OK) {
		buf_free(&line);
		/* -ERR: an RFC 1939-only server without CAPA. */
		return reply == REPLY_ERR ? 0 : -1;
	}
	for (int n = 0;; n++) {
		const char *s;
		if (n > PROBE_CAPA_MAX) {
			error_set(err, ERR_ACCOUNT, "server sent more than %d CAPA lines", PROBE_CAPA_MAX);
			goto fail;
		}
		if (read_line(c, &line, err) < 0) {
			error_prefix(err, "reading the CAPA list");
			goto fail;
		}
		s = buf_cstr(&line);
		if (strcmp(s, ".") == 0)
			break;
		if (s[0] == '.')
			s++; /* dot-stuffed */
		if (strcasecmp(s, "STLS") == 0)
			*stls_r = true;
		if (caps.len)
			buf_append_str(&caps, ", ");
		buf_append_str(&caps, s);
	}
	buf_free(&line);
	*caps_r = buf_detach(&caps, NULL);
	return 0;
fail:
	buf_free(&line);
	buf_free(&caps);
	return -1;
}

int pop3_probe_conn(struct conn *c, const struct conn_options *opts, struct server_probe *probe_r,
                    struct error *err)
{
	struct buf line = BUF_INIT;
	char *caps = NULL;
	bool stls;

	memset(probe_r, 0, sizeof(*probe_r));
	if (read_line(c, &line, err) < 0) {
		error_prefix(err, "waiting for the POP3 greeting of %s:%u", opts->host, opts->port);
		goto fail;
	}
	probe_r->greeting = xstrdup(buf_cstr(&line));
	if (strncmp(probe_r->greeting, "-ERR", 4) == 0) {
		error_set(err, ERR_ACCOUNT, "%s:%u refused the connection: %s", opts->host, opts->port,
		          probe_r->greeting);
		goto fail;
	}
	if (strncmp(probe_r->greeting, "+OK", 3) != 0) {
		error_set(err, ERR_ACCOUNT,
		          "%s:%u did not greet like a POP3 server (got \"%.80s\"); check host and port",
		          opts->host, opts->port, probe_r->greeting);
		goto fail;
	}
	if (read_capa(c, &caps, &stls, err) < 0)
		goto fail;
	if (opts->tls == TLS_STARTTLS) {
		struct tls_options tls = {
		    .host = opts->host,
		    .port = opts->port,
		    .ca_file = opts->ca_file,
		    .fingerprint = opts->fingerprint,
		    .timeout_ms = opts->timeouts.io_ms,
		};
		if (!stls) {
			error_set(err, ERR_ACCOUNT,
			          "%s:%u does not offer STLS, and tls: starttls is configured; refusing to "
			          "continue without TLS (use tls: implicit with port 995 if the server "
			          "supports it)",
			          opts->host, opts->port);
			goto fail;
		}
		if (run_command(c, "STLS", &line, err) != REPLY_OK ||
		    conn_starttls(c, &tls, &probe_r->discarded, err) < 0)
			goto fail;
		if (probe_r->discarded)
			log_warn("%s:%u sent %zu bytes after accepting STLS; they were discarded", opts->host,
			         opts->port, probe_r->discarded);
		free(caps);
		if (read_capa(c, &caps, &stls, err) < 0)
			goto fail;
	}
	probe_r->capabilities = caps ? caps : xstrdup("");
	probe_r->security = xstrdup(conn_security(c));
	struct error ignored;
	run_command(c, "QUIT", &line, &ignored);
	buf_free(&line);
	return 0;
fail:
	free(caps);
	buf_free(&line);
	server_probe_free(probe_r);
	return -1;
}

int pop3_probe(const struct conn_options *opts, struct server_probe *probe_r, struct error *err)
{
	return server_probe_run(opts, pop3_probe_conn, probe_r, err);
}
