/*
 * The POP3 client's life and I/O core: creation, reading replies through
 * the parser, the greeting, CAPA, STLS, close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client_p.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct pop3_client *pop3_client_new(struct conn *c, const struct pop3_options *opts)
{
	struct pop3_client *p = xcalloc(1, sizeof(*p));

	p->conn = c;
	p->opts = *opts;
	p->opts.conn.host = xstrdup(opts->conn.host ? opts->conn.host : "the server");
	p->opts.conn.ca_file = dup_or_null(opts->conn.ca_file);
	p->opts.conn.fingerprint = dup_or_null(opts->conn.fingerprint);
	p->opts.user = dup_or_null(opts->user);
	p->opts.password = dup_or_null(opts->password);
	if (p->opts.mech_count > POP3_MECH_MAX)
		p->opts.mech_count = POP3_MECH_MAX;
	if (!p->opts.max_messages)
		p->opts.max_messages = POP3_DEFAULT_MAX_MESSAGES;
	p->peer = opts->conn.port ? xasprintf("%s:%u", p->opts.conn.host, opts->conn.port)
	                          : xstrdup(p->opts.conn.host);
	conn_set_peer(c, p->peer);
	p->parser = pop3_parser_new(NULL);
	p->rbuf = xmalloc(POP3_READ_CHUNK);
	p->state = POP3_STATE_AUTHORIZATION;
	return p;
}

static void capa_clear(struct pop3_client *p)
{
	for (size_t i = 0; i < p->capa_count; i++)
		free(p->capa[i]);
	free(p->capa);
	p->capa = NULL;
	p->capa_count = 0;
	p->capa_known = false;
	buf_free(&p->capa_text);
}

void pop3_close(struct pop3_client *p)
{
	if (!p)
		return;
	conn_close(p->conn);
	pop3_parser_free(p->parser);
	free(p->rbuf);
	free((char *)p->opts.conn.host);
	free((char *)p->opts.conn.ca_file);
	free((char *)p->opts.conn.fingerprint);
	free((char *)p->opts.user);
	if (p->opts.password) {
		explicit_bzero((char *)p->opts.password, strlen(p->opts.password));
		free((char *)p->opts.password);
	}
	free(p->peer);
	free(p->greeting);
	free(p->timestamp);
	capa_clear(p);
	free(p->sizes);
	free(p);
}

static const char *state_name(enum pop3_state s)
{
	switch (s) {
	case POP3_STATE_AUTHORIZATION:
		return "AUTHORIZATION";
	case POP3_STATE_TRANSACTION:
		return "TRANSACTION";
	case POP3_STATE_DONE:
		break;
	}
	return "DONE";
}

void pop3_set_state(struct pop3_client *p, enum pop3_state state)
{
	if (p->state != state)
		log_debug("pop3: %s: %s -> %s", p->peer, state_name(p->state), state_name(state));
	p->state = state;
}

int pop3_fail(struct pop3_client *p, struct error *err)
{
	error_escalate(err, ERR_ACCOUNT);
	if (!p->failed) {
		p->failed = true;
		p->failure = *err;
		pop3_set_state(p, POP3_STATE_DONE);
	}
	return -1;
}

int pop3_usable(struct pop3_client *p, struct error *err)
{
	if (p->failed) {
		*err = p->failure;
		return -1;
	}
	if (p->state == POP3_STATE_DONE)
		return error_set(err, ERR_ACCOUNT, "the POP3 session with %s has already ended (QUIT)",
		                 p->peer);
	return 0;
}

int pop3_send(struct pop3_client *p, const char *line, const char *trace, struct error *err)
{
	char *text = xasprintf("%s\r\n", line);
	int rc = conn_write_str(p->conn, text, err);

	explicit_bzero(text, strlen(text)); /* may hold a password */
	free(text);
	log_trace("C: %s", trace ? trace : line);
	return rc < 0 ? pop3_fail(p, err) : 0;
}

void pop3_expect(struct pop3_client *p, enum pop3_reply_kind kind)
{
	pop3_parser_expect(p->parser, kind);
	p->data_bytes = 0;
}

static void trace_event(struct pop3_client *p, const struct pop3_event *ev)
{
	switch (ev->type) {
	case POP3_EV_STATUS:
	case POP3_EV_CONTINUE:
		log_trace("S: %s", ev->line);
		break;
	case POP3_EV_LINE:
		log_trace("S: %s%s", ev->text[0] == '.' ? "." : "", ev->text);
		break;
	case POP3_EV_DATA:
		p->data_bytes += ev->len;
		break;
	case POP3_EV_END:
		if (p->data_bytes)
			log_trace("S: {%llu bytes}", (unsigned long long)p->data_bytes);
		log_trace("S: .");
		break;
	}
}

int pop3_next(struct pop3_client *p, struct pop3_event *ev, struct error *err)
{
	for (;;) {
		ssize_t n;
		int r = pop3_parser_next(p->parser, ev, err);

		if (r > 0) {
			trace_event(p, ev);
			return 0;
		}
		if (r < 0) {
			error_prefix(err, "%s", p->peer);
			return pop3_fail(p, err);
		}
		n = conn_read(p->conn, p->rbuf, p->careful ? 1 : POP3_READ_CHUNK, err);
		if (n < 0)
			return pop3_fail(p, err);
		if (n == 0) {
			error_set(err, ERR_ACCOUNT, "%s closed the connection in the middle of a POP3 reply",
			          p->peer);
			return pop3_fail(p, err);
		}
		pop3_parser_feed(p->parser, p->rbuf, (size_t)n);
	}
}

int pop3_command(struct pop3_client *p, const char *line, const char *trace, enum pop3_reply_kind kind,
                 struct pop3_event *ev, struct error *err)
{
	if (pop3_usable(p, err) < 0)
		return -1;
	if (!pop3_parser_idle(p->parser)) {
		/* Bytes after the last reply: POP3 has no tags, so they
		 * would pass for the reply to this command. */
		if (pop3_parser_next(p->parser, ev, err) >= 0)
			error_set(err, ERR_ACCOUNT, "the server sent data nobody asked for");
		error_prefix(err, "%s", p->peer);
		return pop3_fail(p, err);
	}
	if (pop3_send(p, line, trace, err) < 0)
		return -1;
	pop3_expect(p, kind);
	if (pop3_next(p, ev, err) < 0)
		return -1;
	if (ev->type != POP3_EV_STATUS) {
		/* Only a SASL exchange can continue; the caller handles it. */
		return 0;
	}
	return ev->ok ? 0 : 1;
}

int pop3_drain(struct pop3_client *p, struct error *err)
{
	struct pop3_event ev;

	do {
		if (pop3_next(p, &ev, err) < 0)
			return -1;
	} while (!ev.last);
	return 0;
}

const char *pop3_said(const struct pop3_event *ev)
{
	return ev->line[0] ? ev->line : "-ERR";
}

int pop3_parse_number(const char *s, uint64_t max, uint64_t *n_r, const char **end_r)
{
	uint64_t n = 0;
	const char *c = s;

	if (*c < '0' || *c > '9')
		return -1;
	for (; *c >= '0' && *c <= '9'; c++) {
		n = n * 10 + (uint64_t)(*c - '0');
		if (n > max)
			return -1;
	}
	*n_r = n;
	if (end_r)
		*end_r = c;
	return 0;
}

/* The APOP timestamp: "<...>" in the greeting's text (RFC 1939 7). */
static char *find_timestamp(const char *text)
{
	const char *open = strchr(text, '<'), *close;

	if (!open || !(close = strchr(open, '>')) || close - open + 1 > POP3_TIMESTAMP_MAX ||
	    close == open + 1)
		return NULL;
	for (const char *c = open + 1; c < close; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '<')
			return NULL;
	return xstrndup(open, (size_t)(close - open + 1));
}

static int read_greeting(struct pop3_client *p, struct error *err)
{
	struct pop3_event ev;
	char esc[200];

	pop3_expect(p, POP3_REPLY_STATUS);
	if (pop3_next(p, &ev, err) < 0) {
		error_prefix(err, "waiting for the POP3 greeting (is it a POP3 server? check host and port)");
		p->failure = *err;
		return -1;
	}
	p->greeting = xstrdup(ev.line);
	if (!ev.ok) {
		pop3_escape(ev.line, strlen(ev.line), esc, sizeof(esc));
		if (ev.code == POP3_CODE_IN_USE || ev.code == POP3_CODE_SYS_TEMP ||
		    ev.code == POP3_CODE_LOGIN_DELAY)
			error_set(err, ERR_ACCOUNT,
			          "%s turned the connection away for now (\"%s\"); try again later", p->peer,
			          esc);
		else
			error_set(err, ERR_ACCOUNT, "%s refused the connection (\"%s\")", p->peer, esc);
		return pop3_fail(p, err);
	}
	p->timestamp = find_timestamp(ev.text);
	return 0;
}

int pop3_capa(struct pop3_client *p, struct error *err)
{
	struct pop3_event ev;
	int rc;

	capa_clear(p);
	rc = pop3_command(p, "CAPA", NULL, POP3_REPLY_LINES, &ev, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0; /* -ERR: an RFC 1939-only server */
	for (;;) {
		if (pop3_next(p, &ev, err) < 0)
			return -1;
		if (ev.type == POP3_EV_END)
			break;
		if (p->capa_count >= POP3_CAPA_MAX) {
			error_set(err, ERR_ACCOUNT, "%s sent more than %d CAPA lines", p->peer,
			          POP3_CAPA_MAX);
			return pop3_fail(p, err);
		}
		p->capa = xrealloc(p->capa, (p->capa_count + 1) * sizeof(*p->capa));
		p->capa[p->capa_count++] = xstrdup(ev.text);
		buf_printf(&p->capa_text, "%s%s", p->capa_text.len ? ", " : "", ev.text);
	}
	p->capa_known = true;
	return 0;
}

bool pop3_capa_known(const struct pop3_client *p)
{
	return p->capa_known;
}

const char *pop3_capa_arg(const struct pop3_client *p, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < p->capa_count; i++) {
		const char *c = p->capa[i];
		if (strncasecmp(c, name, n) == 0 && (c[n] == '\0' || c[n] == ' ')) {
			c += n;
			while (*c == ' ')
				c++;
			return c;
		}
	}
	return NULL;
}

bool pop3_has_capa(const struct pop3_client *p, const char *name)
{
	return pop3_capa_arg(p, name) != NULL;
}

const char *pop3_capabilities(const struct pop3_client *p)
{
	return buf_cstr(&p->capa_text);
}

static int stls(struct pop3_client *p, struct error *err)
{
	struct tls_options tls = conn_tls_options(&p->opts.conn, p->opts.conn.timeouts.io_ms);
	struct pop3_event ev;
	int rc;

	/* Without CAPA nothing says STLS is missing: asking is harmless. */
	if (p->capa_known && !pop3_has_capa(p, "STLS"))
		return error_set(err, ERR_ACCOUNT,
		                 "%s does not offer STLS, and tls: starttls is configured; refusing to "
		                 "continue without TLS (use tls: implicit with port 995 if the server "
		                 "supports it)",
		                 p->peer);
	/* Read the reply one byte at a time so that nothing after its line
	 * reaches the parser: such bytes come from before the handshake,
	 * i.e. from anyone on the path; conn_starttls drops them. */
	p->careful = true;
	rc = pop3_command(p, "STLS", NULL, POP3_REPLY_STATUS, &ev, err);
	p->careful = false;
	if (rc < 0)
		return -1;
	if (rc > 0)
		return error_set(err, ERR_ACCOUNT,
		                 "%s refused STLS (\"%s\"), and tls: starttls is configured; refusing to "
		                 "continue without TLS",
		                 p->peer, ev.line);
	if (conn_starttls(p->conn, &tls, &p->discarded, err) < 0)
		return pop3_fail(p, err);
	if (p->discarded)
		log_warn("%s sent %zu bytes after accepting STLS, before the TLS handshake; they were "
		         "discarded unread (someone on the path may be tampering with the connection)",
		         p->peer, p->discarded);
	/* Capabilities seen in plain text cannot be trusted. */
	return pop3_capa(p, err);
}

int pop3_client_open(struct pop3_client *p, struct error *err)
{
	if (read_greeting(p, err) < 0 || pop3_capa(p, err) < 0)
		return -1;
	if (p->opts.conn.tls == TLS_STARTTLS && !conn_is_tls(p->conn) && stls(p, err) < 0)
		return -1;
	if (!p->opts.user)
		return 0;
	if (pop3_login(p, err) < 0)
		return -1;
	pop3_set_state(p, POP3_STATE_TRANSACTION);
	return pop3_capa(p, err);
}

struct pop3_client *pop3_connect(const struct pop3_options *opts, struct error *err)
{
	struct pop3_client *p;
	struct conn *c = conn_open(&opts->conn, err);

	if (!c)
		return NULL;
	p = pop3_client_new(c, opts);
	if (pop3_client_open(p, err) < 0) {
		pop3_close(p);
		return NULL;
	}
	return p;
}

enum pop3_state pop3_client_state(const struct pop3_client *p)
{
	return p->state;
}

struct conn *pop3_client_conn(struct pop3_client *p)
{
	return p->conn;
}

const char *pop3_greeting(const struct pop3_client *p)
{
	return p->greeting ? p->greeting : "";
}

size_t pop3_stls_discarded(const struct pop3_client *p)
{
	return p->discarded;
}
