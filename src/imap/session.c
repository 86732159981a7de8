/*
 * The session's life: creation, the greeting, STARTTLS, COMPRESS, the
 * state machine, capabilities, LOGOUT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session_p.h"
#include "twinbox/imap/commands.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct imap_session *imap_session_new(struct conn *c, const struct imap_session_options *opts)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));

	s->conn = c;
	s->opts = *opts;
	s->opts.conn.host = xstrdup(opts->conn.host ? opts->conn.host : "the server");
	s->opts.conn.ca_file = dup_or_null(opts->conn.ca_file);
	s->opts.conn.fingerprint = dup_or_null(opts->conn.fingerprint);
	s->opts.user = dup_or_null(opts->user);
	s->opts.password = dup_or_null(opts->password);
	if (s->opts.mech_count > IMAP_MECH_MAX)
		s->opts.mech_count = IMAP_MECH_MAX;
	s->peer = opts->conn.port ? xasprintf("%s:%u", s->opts.conn.host, opts->conn.port)
	                          : xstrdup(s->opts.conn.host);
	conn_set_peer(c, s->peer);
	snprintf(s->tag_prefix, sizeof(s->tag_prefix), "%s", opts->tag_prefix ? opts->tag_prefix : "A");
	s->opts.tag_prefix = s->tag_prefix;
	s->parser = imap_parser_new(&opts->limits);
	s->rbuf = xmalloc(IMAP_READ_CHUNK);
	s->state = IMAP_STATE_NOT_AUTHENTICATED;
	return s;
}

void imap_session_free(struct imap_session *s)
{
	if (!s)
		return;
	if (s->idle_cmd) {
		imap_cmd_free(s->idle_cmd);
		free(s->idle_cmd);
	}
	conn_close(s->conn);
	imap_parser_free(s->parser);
	free(s->rbuf);
	buf_free(&s->wbuf);
	free((char *)s->opts.conn.host);
	free((char *)s->opts.conn.ca_file);
	free((char *)s->opts.conn.fingerprint);
	free((char *)s->opts.user);
	if (s->opts.password) {
		explicit_bzero((char *)s->opts.password, strlen(s->opts.password));
		free((char *)s->opts.password);
	}
	free(s->peer);
	free(s->bye_text);
	imap_caps_clear(s);
	free(s->caps);
	buf_free(&s->caps_text);
	free(s->greeting);
	free(s->ns_prefix);
	free(s->seqmap);
	free(s->mbox_name);
	free(s->perm_keywords);
	imap_trace_free(&s->trace);
	free(s);
}

void imap_session_close(struct imap_session *s)
{
	struct imap_cmd cmd;
	struct error err;

	if (!s)
		return;
	if (s->idle_cmd && imap_idle_done(s, &err) < 0)
		log_debug("imap: %s", err.text);
	/* LOGOUT is sent, not waited for: its answer tells nothing a run
	 * still needs (every earlier command was waited for; LOGOUT expunges
	 * nothing), and waiting costs a round trip per connection. */
	if (!s->failed && s->state != IMAP_STATE_LOGOUT) {
		imap_cmd_init(&cmd, "LOGOUT");
		if (imap_send(s, &cmd, &err) < 0 || imap_flush(s, &err) < 0)
			log_debug("imap: %s", err.text);
		imap_set_state(s, IMAP_STATE_LOGOUT);
		imap_cmd_free(&cmd);
	}
	imap_session_free(s);
}

const char *imap_state_name(enum imap_state state)
{
	switch (state) {
	case IMAP_STATE_NOT_AUTHENTICATED:
		return "NOT_AUTHENTICATED";
	case IMAP_STATE_AUTHENTICATED:
		return "AUTHENTICATED";
	case IMAP_STATE_SELECTED:
		return "SELECTED";
	case IMAP_STATE_LOGOUT:
		return "LOGOUT";
	}
	return "?";
}

void imap_set_state(struct imap_session *s, enum imap_state state)
{
	if (s->state == state)
		return;
	log_debug("imap %s: %s -> %s", s->peer, imap_state_name(s->state), imap_state_name(state));
	s->state = state;
}

const char *imap_peer(const struct imap_session *s)
{
	return s->peer;
}

void imap_caps_clear(struct imap_session *s)
{
	for (size_t i = 0; i < s->cap_count; i++)
		free(s->caps[i]);
	s->cap_count = 0;
	buf_reset(&s->caps_text);
}

void imap_caps_set_atoms(struct imap_session *s, const struct imap_atoms *atoms)
{
	size_t n = atoms->count > IMAP_CAPS_MAX ? IMAP_CAPS_MAX : atoms->count;

	imap_caps_clear(s);
	free(s->caps);
	s->caps = xcalloc(n ? n : 1, sizeof(*s->caps));
	for (size_t i = 0; i < n; i++) {
		s->caps[s->cap_count++] = xstrdup(atoms->v[i]);
		buf_printf(&s->caps_text, "%s%s", i ? " " : "", atoms->v[i]);
	}
	s->caps_known = true;
}

bool imap_has_cap(const struct imap_session *s, const char *cap)
{
	for (size_t i = 0; i < s->cap_count; i++)
		if (strcasecmp(s->caps[i], cap) == 0)
			return true;
	return false;
}

int imap_capability(struct imap_session *s, struct error *err)
{
	struct imap_cmd cmd;
	int rc;

	imap_cmd_init(&cmd, "CAPABILITY");
	rc = imap_run(s, &cmd, err);
	if (rc < 0 && (cmd.cond == IMAP_COND_NO || cmd.cond == IMAP_COND_BAD))
		error_set(err, ERR_ACCOUNT, "%s refused CAPABILITY: %s", s->peer, cmd.status);
	imap_cmd_free(&cmd);
	return rc;
}

void imap_bad_greeting(struct imap_session *s, struct error *err)
{
	char *got = imap_quote_for_message(s->greet_head, s->greet_head_len);

	error_set(err, ERR_ACCOUNT, "%s did not greet like an IMAP server (got %s); check host and port",
	          s->peer, got);
	free(got);
}

static int read_greeting(struct imap_session *s, struct error *err)
{
	while (!s->greeted) {
		if (imap_step(s, err) < 0) {
			if (!strstr(err->text, "greet"))
				error_prefix(
				    err,
				    "waiting for the IMAP greeting (is it an IMAP server? check host and "
				    "port)");
			return -1;
		}
	}
	return 0;
}

/* Run a command whose OK switches the connection (STARTTLS, COMPRESS).
 * Its reply is read one byte at a time, so that nothing after the OK's
 * line reaches the parser: such bytes belong to what comes after the
 * switch and stay in the connection's buffer for it to judge. */
static int run_switch(struct imap_session *s, struct imap_cmd *cmd, struct error *err)
{
	int rc;

	s->careful = true;
	rc = imap_run(s, cmd, err);
	s->careful = false;
	if (rc == 0 && !imap_parser_idle(s->parser))
		return error_set(err, ERR_ACCOUNT, "%s sent a partial response after %s", s->peer,
		                 buf_cstr(&cmd->what));
	return rc;
}

static int starttls(struct imap_session *s, struct error *err)
{
	struct tls_options tls = conn_tls_options(&s->opts.conn, s->opts.conn.timeouts.io_ms);
	struct imap_cmd cmd;
	int rc;

	if (!imap_has_cap(s, "STARTTLS"))
		return error_set(
		    err, ERR_ACCOUNT,
		    "%s does not offer STARTTLS, and tls: starttls is configured; refusing to "
		    "continue without TLS (use tls: implicit with port 993 if the server supports it)",
		    s->peer);
	imap_cmd_init(&cmd, "STARTTLS");
	/* Bytes after the OK come from before the handshake, i.e. from
	 * anyone on the path: conn_starttls discards them. */
	rc = run_switch(s, &cmd, err);
	imap_cmd_free(&cmd);
	if (rc < 0)
		return -1;
	if (conn_starttls(s->conn, &tls, &s->discarded, err) < 0) {
		imap_session_fail(s, err);
		return -1;
	}
	if (s->discarded)
		log_debug("imap: %s sent %zu bytes after accepting STARTTLS; discarded unread", s->peer,
		          s->discarded);
	/* Capabilities seen in plain text cannot be trusted. */
	imap_caps_clear(s);
	s->caps_known = false;
	return imap_capability(s, err);
}

int imap_compress(struct imap_session *s, struct error *err)
{
	struct imap_cmd cmd;
	bool refused;
	int rc;

	/* RFC 4978 forbids COMPRESS over TLS-level compression; GnuTLS has
	 * none (removed in 3.6), so only the capability and the config
	 * decide. */
	if (s->opts.no_compress || !imap_has_cap(s, "COMPRESS=DEFLATE") || conn_is_compressed(s->conn))
		return 0;
	imap_cmd_init(&cmd, "COMPRESS DEFLATE");
	/* Bytes after the OK are compressed already: conn_compress takes
	 * them. */
	rc = run_switch(s, &cmd, err);
	refused = rc < 0 && (cmd.cond == IMAP_COND_NO || cmd.cond == IMAP_COND_BAD);
	if (refused)
		log_debug("imap: %s refused COMPRESS DEFLATE (%s); going on uncompressed", s->peer,
		          cmd.status);
	imap_cmd_free(&cmd);
	if (refused)
		return 0;
	if (rc < 0)
		return -1;
	if (conn_compress(s->conn, err) < 0) {
		imap_session_fail(s, err);
		return -1;
	}
	log_debug("imap: %s: COMPRESS=DEFLATE on", s->peer);
	return 0;
}

int imap_session_open(struct imap_session *s, struct error *err)
{
	if (read_greeting(s, err) < 0)
		return -1;
	if (s->preauth && s->opts.conn.tls != TLS_NONE && !conn_is_tls(s->conn))
		return error_set(
		    err, ERR_ACCOUNT,
		    "%s sent PREAUTH on a connection without TLS: the session would run "
		    "unencrypted; refusing (use tls: implicit, or tls: none if plain text is really "
		    "intended)",
		    s->peer);
	if ((!s->caps_known || s->opts.ask_capability) && imap_capability(s, err) < 0)
		return -1;
	if (s->opts.conn.tls == TLS_STARTTLS && !conn_is_tls(s->conn) && starttls(s, err) < 0)
		return -1;
	if (s->preauth)
		imap_set_state(s, IMAP_STATE_AUTHENTICATED);
	if (!s->opts.user)
		return 0; /* a connection check */
	if (!s->preauth && imap_authenticate(s, err) < 0)
		return -1;
	return imap_after_login(s, err);
}

struct imap_session *imap_connect(const struct imap_session_options *opts, struct error *err)
{
	struct imap_session *s;
	struct conn *c = conn_open(&opts->conn, err);

	if (!c)
		return NULL;
	s = imap_session_new(c, opts);
	if (imap_session_open(s, err) < 0) {
		imap_session_free(s);
		return NULL;
	}
	return s;
}

struct imap_session *imap_reconnect(const struct imap_session *s, struct error *err)
{
	return imap_connect(&s->opts, err);
}

void imap_session_set_handlers(struct imap_session *s, const struct imap_session_handlers *h)
{
	if (h)
		s->handlers = *h;
	else
		memset(&s->handlers, 0, sizeof(s->handlers));
}

enum imap_state imap_session_state(const struct imap_session *s)
{
	return s->state;
}

const char *imap_capabilities(const struct imap_session *s)
{
	return buf_cstr(&s->caps_text);
}

unsigned imap_session_enabled(const struct imap_session *s)
{
	return s->enabled;
}

const char *imap_greeting(const struct imap_session *s)
{
	return s->greeting ? s->greeting : "";
}

size_t imap_starttls_discarded(const struct imap_session *s)
{
	return s->discarded;
}

const char *imap_namespace_prefix(const struct imap_session *s)
{
	return s->ns_prefix ? s->ns_prefix : "";
}

char imap_delimiter(const struct imap_session *s)
{
	return s->ns_delim;
}

const struct imap_mailbox_info *imap_selected(const struct imap_session *s)
{
	return &s->mbox;
}

uint32_t imap_seq_to_uid(const struct imap_session *s, uint32_t seq)
{
	return seq >= 1 && seq <= s->mbox.exists ? s->seqmap[seq - 1] : 0;
}

struct conn *imap_session_conn(struct imap_session *s)
{
	return s->conn;
}
