/*
 * Logging in: USER/PASS and APOP (RFC 1939), AUTH with SASL (RFC 5034),
 * and the errors a refusal becomes: a locked maildrop, a login delay and
 * wrong credentials must never read alike (RFC 2449 8, RFC 3206).
 */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client_p.h"
#include "twinbox/net/sasl.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define SASL_ROUNDS_MAX 4

static const char *mech_name(enum pop3_mech m)
{
	switch (m) {
	case POP3_MECH_USER:
		return "USER";
	case POP3_MECH_APOP:
		return "APOP";
	case POP3_MECH_PLAIN:
		return "PLAIN";
	case POP3_MECH_LOGIN:
		return "LOGIN";
	case POP3_MECH_XOAUTH2:
		return "XOAUTH2";
	case POP3_MECH_OAUTHBEARER:
		return "OAUTHBEARER";
	}
	return "?";
}

static enum sasl_mech sasl_of(enum pop3_mech m)
{
	switch (m) {
	case POP3_MECH_LOGIN:
		return SASL_LOGIN;
	case POP3_MECH_XOAUTH2:
		return SASL_XOAUTH2;
	case POP3_MECH_OAUTHBEARER:
		return SASL_OAUTHBEARER;
	default:
		break;
	}
	return SASL_PLAIN;
}

/* Whether the server offers `m`, as far as it tells. */
static bool offered(struct pop3_client *p, enum pop3_mech m)
{
	const char *list;
	size_t n = strlen(mech_name(m));

	switch (m) {
	case POP3_MECH_USER:
		/* USER is optional in RFC 1939 but near universal: without
		 * CAPA, try it. */
		return !p->capa_known || pop3_has_capa(p, "USER");
	case POP3_MECH_APOP:
		return p->timestamp != NULL;
	default:
		break;
	}
	list = pop3_capa_arg(p, "SASL");
	while (list && *list) {
		if (strncasecmp(list, mech_name(m), n) == 0 && (list[n] == ' ' || list[n] == '\0'))
			return true;
		list = strchr(list, ' ');
		while (list && *list == ' ')
			list++;
	}
	return false;
}

static int choose(struct pop3_client *p, enum pop3_mech *mech_r, struct error *err)
{
	static const enum pop3_mech best[] = {POP3_MECH_PLAIN, POP3_MECH_USER};
	static const enum pop3_mech best_plain[] = {POP3_MECH_APOP, POP3_MECH_PLAIN, POP3_MECH_USER};
	const enum pop3_mech *list = p->opts.mechs;
	size_t n = p->opts.mech_count;
	struct buf names = BUF_INIT;

	if (!n && conn_is_tls(p->conn)) {
		list = best;
		n = sizeof(best) / sizeof(best[0]);
	} else if (!n) {
		list = best_plain;
		n = sizeof(best_plain) / sizeof(best_plain[0]);
	}
	for (size_t i = 0; i < n; i++) {
		if (offered(p, list[i])) {
			*mech_r = list[i];
			return 0;
		}
	}
	for (size_t i = 0; i < n; i++)
		buf_printf(&names, "%s%s", i ? ", " : "", mech_name(list[i]));
	error_set(err, ERR_ACCOUNT, "%s offers none of the login methods %s (its capabilities: %s%s)",
	          p->peer, buf_cstr(&names), p->capa_known ? pop3_capabilities(p) : "unknown, no CAPA",
	          p->timestamp ? "; APOP" : "; no APOP timestamp in the greeting");
	buf_free(&names);
	return -1;
}

static bool text_has(const char *text, const char *word)
{
	return strcasestr(text, word) != NULL;
}

/* The login delay in whole minutes from CAPA "LOGIN-DELAY <seconds>";
 * 0 when unknown. */
static unsigned login_delay_minutes(struct pop3_client *p)
{
	const char *arg = pop3_capa_arg(p, "LOGIN-DELAY");
	uint64_t secs;

	if (!arg || pop3_parse_number(arg, 100u * 365 * 86400, &secs, NULL) < 0 || secs == 0)
		return 0;
	return (unsigned)((secs + 59) / 60);
}

/* Turn a -ERR to a login command into the error the user needs. */
static int auth_error(struct pop3_client *p, const struct pop3_event *ev, const char *method,
                      struct error *err)
{
	const char *user = p->opts.user;
	char said[300];
	unsigned minutes;

	pop3_escape(ev->line, strlen(ev->line), said, sizeof(said));
	switch (ev->code) {
	case POP3_CODE_IN_USE:
		return error_set(err, ERR_ACCOUNT,
		                 "%s: the mailbox of \"%s\" is locked by another client (another mail "
		                 "program is downloading from it); try again later (server said: \"%s\")",
		                 p->peer, user, said);
	case POP3_CODE_LOGIN_DELAY:
		minutes = login_delay_minutes(p);
		if (minutes)
			return error_set(err, ERR_ACCOUNT,
			                 "%s: the server allows only one login every %u minute%s for \"%s\", "
			                 "and the last one was more recent; try again later (server said: "
			                 "\"%s\")",
			                 p->peer, minutes, minutes == 1 ? "" : "s", user, said);
		return error_set(err, ERR_ACCOUNT,
		                 "%s: the server limits how often \"%s\" may log in, and the last login "
		                 "was too recent; try again later (server said: \"%s\")",
		                 p->peer, user, said);
	case POP3_CODE_SYS_TEMP:
		return error_set(err, ERR_ACCOUNT,
		                 "%s has a temporary problem and could not log in \"%s\"; try again later "
		                 "(server said: \"%s\")",
		                 p->peer, user, said);
	case POP3_CODE_SYS_PERM:
		return error_set(err, ERR_ACCOUNT,
		                 "%s has a permanent problem with the mailbox of \"%s\" (not the password); "
		                 "retrying will not help, ask the provider (server said: \"%s\")",
		                 p->peer, user, said);
	case POP3_CODE_AUTH:
		return error_set(err, ERR_ACCOUNT,
		                 "%s refused the user name or password for \"%s\" (%s); check user and "
		                 "password (or password_command) (server said: \"%s\")",
		                 p->peer, user, method, said);
	default:
		break;
	}
	/* No code: servers without RESP-CODES still say what is wrong in
	 * words; a lock must not be reported as a wrong password. */
	if (text_has(ev->text, "lock") || text_has(ev->text, "in use") || text_has(ev->text, "busy"))
		return error_set(err, ERR_ACCOUNT,
		                 "%s: the mailbox of \"%s\" seems to be locked by another client (another "
		                 "mail program may be downloading from it); try again later (server said: "
		                 "\"%s\")",
		                 p->peer, user, said);
	return error_set(err, ERR_ACCOUNT,
	                 "%s refused the login of \"%s\" (%s); most likely the user name or password is "
	                 "wrong: check user and password (or password_command) (server said: \"%s\", "
	                 "without a reason code)",
	                 p->peer, user, method, said);
}

/* Send a login command whose status decides; 0 on +OK. */
static int login_step(struct pop3_client *p, const char *line, const char *trace, const char *method,
                      struct error *err)
{
	struct pop3_event ev;
	int rc = pop3_command(p, line, trace, POP3_REPLY_STATUS, &ev, err);

	if (rc > 0)
		return auth_error(p, &ev, method, err);
	return rc;
}

static int user_pass(struct pop3_client *p, struct error *err)
{
	char *line = xasprintf("USER %s", p->opts.user);
	int rc = login_step(p, line, NULL, "USER/PASS", err);

	free(line);
	if (rc < 0)
		return -1;
	line = xasprintf("PASS %s", p->opts.password);
	rc = login_step(p, line, "PASS ***", "USER/PASS", err);
	explicit_bzero(line, strlen(line));
	free(line);
	return rc;
}

/* MD5(timestamp password) in lower-case hex (RFC 1939 7). */
static int apop_digest(const char *timestamp, const char *password, char out[33], struct error *err)
{
	unsigned char md[16];
	char *in = xasprintf("%s%s", timestamp, password);
	int rc = gnutls_hash_fast(GNUTLS_DIG_MD5, in, strlen(in), md);

	explicit_bzero(in, strlen(in));
	free(in);
	if (rc < 0)
		return error_set(err, ERR_ACCOUNT, "cannot compute the APOP digest (MD5): %s",
		                 gnutls_strerror(rc));
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	explicit_bzero(md, sizeof(md));
	return 0;
}

static int apop(struct pop3_client *p, struct error *err)
{
	char digest[33], *line, *trace;
	int rc;

	if (strchr(p->opts.user, ' '))
		return error_set(err, ERR_ACCOUNT,
		                 "the user name \"%s\" contains a space, which APOP cannot carry; use "
		                 "another login method (auth: [user] or [plain])",
		                 p->opts.user);
	if (apop_digest(p->timestamp, p->opts.password, digest, err) < 0)
		return -1;
	line = xasprintf("APOP %s %s", p->opts.user, digest);
	trace = xasprintf("APOP %s ***", p->opts.user);
	rc = login_step(p, line, trace, "APOP", err);
	explicit_bzero(line, strlen(line));
	explicit_bzero(digest, sizeof(digest));
	free(line);
	free(trace);
	return rc;
}

/* The SASL exchange after "AUTH <mech> [initial response]". */
static int sasl(struct pop3_client *p, enum pop3_mech m, struct error *err)
{
	const char *name = mech_name(m);
	char *first = sasl_initial_response(sasl_of(m), p->opts.user, p->opts.password, p->opts.conn.host,
	                                    p->opts.conn.port);
	char *second = m == POP3_MECH_LOGIN ? sasl_secret_base64(p->opts.password) : NULL;
	char *line = xasprintf("AUTH %s %s", name, first), *trace = xasprintf("AUTH %s ***", name);
	bool first_sent = true;
	struct pop3_event ev;
	int rc, rounds = 0;

	/* RFC 5034 4: an initial response that would make the command longer
	 * than 255 octets goes after an empty challenge instead; LOGIN has
	 * none (its first challenge asks for the user name). */
	if (m == POP3_MECH_LOGIN || strlen(line) + 2 > POP3_COMMAND_MAX) {
		explicit_bzero(line, strlen(line));
		free(line);
		free(trace);
		line = xasprintf("AUTH %s", name);
		trace = NULL;
		first_sent = false;
	}
	rc = pop3_command(p, line, trace, POP3_REPLY_SASL, &ev, err);
	while (rc == 0 && ev.type == POP3_EV_CONTINUE) {
		const char *reply;
		if (++rounds > SASL_ROUNDS_MAX) {
			reply = "*"; /* cancel: the server keeps asking */
		} else if (!first_sent) {
			reply = first;
			first_sent = true;
		} else if (second) {
			reply = second;
		} else {
			/* A challenge after the whole exchange: the OAuth
			 * mechanisms send their error this way and want an
			 * empty (XOAUTH2) or ^A (OAUTHBEARER) reply. */
			log_debug("pop3: %s sent an authentication challenge: %.200s", p->peer, ev.text);
			reply = m == POP3_MECH_OAUTHBEARER ? "AQ==" : m == POP3_MECH_XOAUTH2 ? "" : "*";
		}
		rc = pop3_command(p, reply, reply == first || reply == second ? "***" : NULL, POP3_REPLY_SASL,
		                  &ev, err);
		if (reply == second) {
			sasl_free(second);
			second = NULL;
		}
	}
	if (rc > 0)
		auth_error(p, &ev, name, err);
	explicit_bzero(line, strlen(line));
	free(line);
	free(trace);
	sasl_free(first);
	sasl_free(second);
	return rc == 0 ? 0 : -1;
}

static bool has_bad_bytes(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

int pop3_login(struct pop3_client *p, struct error *err)
{
	enum pop3_mech m;
	int rc;

	if (pop3_usable(p, err) < 0)
		return -1;
	if (!p->opts.password)
		return error_set(err, ERR_ACCOUNT, "no password to log in to %s as \"%s\"", p->peer,
		                 p->opts.user);
	if (has_bad_bytes(p->opts.user) || has_bad_bytes(p->opts.password))
		return error_set(err, ERR_ACCOUNT,
		                 "the user name or password for %s contains a line break, which POP3 "
		                 "cannot carry; check user and password (or password_command's output)",
		                 p->peer);
	if (p->opts.conn.tls != TLS_NONE && !conn_is_tls(p->conn))
		return error_set(err, ERR_ACCOUNT,
		                 "refusing to send the password to %s over a connection without TLS (use "
		                 "tls: implicit or starttls; tls: none allows plain text explicitly)",
		                 p->peer);
	if (choose(p, &m, err) < 0)
		return -1;
	log_debug("pop3: logging in to %s as \"%s\" with %s", p->peer, p->opts.user, mech_name(m));
	if (m == POP3_MECH_USER)
		rc = user_pass(p, err);
	else if (m == POP3_MECH_APOP)
		rc = apop(p, err);
	else
		rc = sasl(p, m, err);
	return rc;
}
