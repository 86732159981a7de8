/*
 * Authentication: the LOGIN command and AUTHENTICATE PLAIN / LOGIN /
 * XOAUTH2 / OAUTHBEARER (RFC 4616, draft-murchison-sasl-login, Google's
 * XOAUTH2, RFC 7628), with SASL-IR (RFC 4959) when offered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_p.h"
#include "twinbox/net/sasl.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define SASL_ROUNDS_MAX 4

static const char *mech_name(enum imap_mech m)
{
	switch (m) {
	case IMAP_MECH_PLAIN:
		return "PLAIN";
	case IMAP_MECH_LOGIN:
		return "LOGIN";
	case IMAP_MECH_XOAUTH2:
		return "XOAUTH2";
	case IMAP_MECH_OAUTHBEARER:
		return "OAUTHBEARER";
	case IMAP_MECH_LOGIN_CMD:
		break;
	}
	return "the LOGIN command";
}

struct sasl {
	struct imap_session *s;
	enum imap_mech mech;
	char *first;  /* base64: the initial response (PLAIN, OAuth) or the user (LOGIN) */
	char *second; /* base64 password (LOGIN) */
	bool first_sent;
	int rounds;
};

static enum sasl_mech sasl_of(enum imap_mech mech)
{
	switch (mech) {
	case IMAP_MECH_LOGIN:
		return SASL_LOGIN;
	case IMAP_MECH_XOAUTH2:
		return SASL_XOAUTH2;
	case IMAP_MECH_OAUTHBEARER:
		return SASL_OAUTHBEARER;
	case IMAP_MECH_PLAIN:
	case IMAP_MECH_LOGIN_CMD:
		break;
	}
	return SASL_PLAIN;
}

static char *first_payload(struct imap_session *s, enum imap_mech mech)
{
	return sasl_initial_response(sasl_of(mech), s->opts.user, s->opts.password, s->opts.conn.host,
	                             s->opts.conn.port);
}

static int sasl_continue(struct imap_cmd *cmd, const char *text, struct buf *out, bool *secret_r,
                         struct error *err)
{
	struct sasl *a = cmd->ctx;

	(void)err;
	if (++a->rounds > SASL_ROUNDS_MAX) {
		buf_append_str(out, "*"); /* cancel: the server keeps asking */
		return 0;
	}
	if (!a->first_sent) {
		a->first_sent = true;
		buf_append_str(out, a->first);
		*secret_r = true;
		return 0;
	}
	if (a->mech == IMAP_MECH_LOGIN && a->second) {
		buf_append_str(out, a->second);
		*secret_r = true;
		sasl_free(a->second);
		a->second = NULL;
		return 0;
	}
	/* A challenge after the whole exchange: the OAuth mechanisms send
	 * their error this way and want an empty (XOAUTH2) or ^A
	 * (OAUTHBEARER) reply before the tagged NO. */
	log_debug("imap: %s sent an authentication challenge: %.200s", imap_peer(a->s), text);
	if (a->mech == IMAP_MECH_OAUTHBEARER)
		buf_append_str(out, "AQ==");
	else if (a->mech != IMAP_MECH_XOAUTH2)
		buf_append_str(out, "*");
	return 0;
}

static const struct imap_cmd_ops sasl_ops = {.continuation = sasl_continue};

/* Pick how to log in: *mech_r, and whether by the LOGIN command. */
static int choose(struct imap_session *s, enum imap_mech *mech_r, bool *login_cmd_r, struct error *err)
{
	static const enum imap_mech best[] = {IMAP_MECH_PLAIN, IMAP_MECH_LOGIN_CMD, IMAP_MECH_LOGIN};
	const enum imap_mech *list = s->opts.mech_count ? s->opts.mechs : best;
	size_t n = s->opts.mech_count ? s->opts.mech_count : sizeof(best) / sizeof(best[0]);
	bool login_ok = !imap_has_cap(s, "LOGINDISABLED");
	struct buf names = BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		enum imap_mech m = list[i];
		char cap[32];
		snprintf(cap, sizeof(cap), "AUTH=%s", mech_name(m));
		*mech_r = m;
		*login_cmd_r = false;
		if (m != IMAP_MECH_LOGIN_CMD && imap_has_cap(s, cap))
			return 0;
		*login_cmd_r = true;
		if (login_ok && (m == IMAP_MECH_PLAIN || m == IMAP_MECH_LOGIN || m == IMAP_MECH_LOGIN_CMD))
			return 0;
	}
	for (size_t i = 0; i < n; i++)
		buf_printf(&names, "%s%s", i ? ", " : "", mech_name(list[i]));
	if (!login_ok)
		error_set(
		    err, ERR_ACCOUNT,
		    "%s does not allow LOGIN on this connection (LOGINDISABLED) and offers none of %s for "
		    "AUTHENTICATE (it offers: %s)",
		    imap_peer(s), buf_cstr(&names), imap_capabilities(s));
	else
		error_set(err, ERR_ACCOUNT,
		          "%s offers none of the authentication mechanisms %s (it offers: %s)", imap_peer(s),
		          buf_cstr(&names), imap_capabilities(s));
	buf_free(&names);
	return -1;
}

static int auth_error(struct imap_session *s, const struct imap_cmd *cmd, struct error *err)
{
	const char *user = s->opts.user;

	if (cmd->cond == IMAP_COND_NONE || cmd->cb_failed)
		return imap_cmd_error(s, cmd, err);
	switch (cmd->code.type) {
	case IMAP_CODE_UNAVAILABLE:
		error_set(err, ERR_ACCOUNT, "authentication at %s is temporarily unavailable (%s)",
		          imap_peer(s), cmd->status);
		err->retry = ERR_RETRY_BUSY;
		return -1;
	case IMAP_CODE_LIMIT:
	case IMAP_CODE_INUSE:
		/* Dovecot: "NO [LIMIT] Maximum number of connections from
		 * user+IP exceeded". Not a wrong password. */
		error_set(err, ERR_ACCOUNT, "%s allows \"%s\" no more connections or logins for now (%s)",
		          imap_peer(s), user, cmd->status);
		err->retry = ERR_RETRY_BUSY;
		return -1;
	case IMAP_CODE_AUTHORIZATIONFAILED:
		return error_set(err, ERR_ACCOUNT,
		                 "%s accepted the password but does not let \"%s\" log in (%s)", imap_peer(s),
		                 user, cmd->status);
	case IMAP_CODE_EXPIRED:
		return error_set(err, ERR_ACCOUNT, "%s says the password of \"%s\" has expired (%s)",
		                 imap_peer(s), user, cmd->status);
	case IMAP_CODE_PRIVACYREQUIRED:
		return error_set(err, ERR_ACCOUNT, "%s requires an encrypted connection to log in (%s)",
		                 imap_peer(s), cmd->status);
	default:
		break;
	}
	return error_set(err, ERR_ACCOUNT,
	                 "%s refused the user name or password for \"%s\" (%s); check user and password "
	                 "(or password_command)",
	                 imap_peer(s), user, cmd->status);
}

int imap_authenticate(struct imap_session *s, struct error *err)
{
	struct sasl a = {.s = s};
	struct imap_cmd cmd;
	enum imap_mech mech;
	bool login_cmd;
	int rc;

	if (!s->opts.password)
		return error_set(err, ERR_ACCOUNT, "no password to log in to %s as \"%s\"", imap_peer(s),
		                 s->opts.user);
	if (s->opts.conn.tls != TLS_NONE && !conn_is_tls(s->conn))
		return error_set(
		    err, ERR_ACCOUNT,
		    "refusing to send the password to %s over a connection without TLS (use tls: "
		    "implicit or starttls; tls: none allows plain text explicitly)",
		    imap_peer(s));
	if (choose(s, &mech, &login_cmd, err) < 0)
		return -1;
	log_debug("imap: logging in to %s as \"%s\" with %s", imap_peer(s), s->opts.user,
	          login_cmd ? "the LOGIN command" : mech_name(mech));
	if (login_cmd) {
		imap_cmd_init(&cmd, "LOGIN");
		imap_cmd_add_string(s, &cmd, s->opts.user, strlen(s->opts.user), false);
		imap_cmd_add_string(s, &cmd, s->opts.password, strlen(s->opts.password), true);
	} else {
		a.mech = mech;
		a.first = first_payload(s, mech);
		if (mech == IMAP_MECH_LOGIN)
			a.second = sasl_secret_base64(s->opts.password);
		imap_cmd_init(&cmd, "AUTHENTICATE");
		imap_cmd_add(&cmd, " %s", mech_name(mech));
		if (mech != IMAP_MECH_LOGIN && imap_has_cap(s, "SASL-IR") && !s->opts.no_sasl_ir) {
			/* The initial response rides on the command line; the
			 * trace shows it as *** via the registered secret. */
			buf_printf(&cmd.text, " %s", a.first);
			buf_append_str(&cmd.what, " ***");
			a.first_sent = true;
		}
		cmd.ops = &sasl_ops;
		cmd.ctx = &a;
	}
	cmd.accept = 1ull << IMAP_CODE_CAPABILITY | 1ull << IMAP_CODE_AUTHENTICATIONFAILED |
	             1ull << IMAP_CODE_UNAVAILABLE | 1ull << IMAP_CODE_LIMIT | 1ull << IMAP_CODE_INUSE |
	             1ull << IMAP_CODE_AUTHORIZATIONFAILED | 1ull << IMAP_CODE_EXPIRED |
	             1ull << IMAP_CODE_PRIVACYREQUIRED;
	/* What the server offers after login may differ (RFC 3501 6.2.2);
	 * the tagged OK usually carries the new list. */
	imap_caps_clear(s);
	s->caps_known = false;
	rc = imap_run(s, &cmd, err);
	if (rc < 0)
		auth_error(s, &cmd, err);
	else
		imap_set_state(s, IMAP_STATE_AUTHENTICATED);
	imap_cmd_free(&cmd);
	sasl_free(a.first);
	sasl_free(a.second);
	return rc;
}
