/* A config made from `twinbox migrate`'s options (config.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_p.h"
#include "twinbox/config/config.h"
#include "twinbox/net/tls.h"
#include "twinbox/util/xmalloc.h"

#define MIGRATE_TIMEOUT_MS (30 * 1000)

static const char *const option_prefix[SIDES] = {"--from", "--to"};

/* `len` bytes of `s`, "%XX" decoded; NULL for a bad escape or a NUL. */
static char *unescape(const char *s, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		unsigned v;
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		if (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) ||
		    !isxdigit((unsigned char)s[i + 2]) || sscanf(s + i + 1, "%2x", &v) != 1 || v == 0) {
			free(out);
			return NULL;
		}
		*o++ = (char)v;
		i += 2;
	}
	*o = '\0';
	return out;
}

/* The URL schemes: the store, TLS and default port of each. POP3 only
 * for the source. */
static const struct scheme {
	const char *prefix;
	enum config_store store;
	enum config_tls tls;
	unsigned port;
} schemes[] = {
    {"imaps://", CONFIG_STORE_IMAP, CONFIG_TLS_IMPLICIT, 993},
    {"imap://", CONFIG_STORE_IMAP, CONFIG_TLS_STARTTLS, 143},
    {"pop3s://", CONFIG_STORE_POP3, CONFIG_TLS_IMPLICIT, 995},
    {"pop3://", CONFIG_STORE_POP3, CONFIG_TLS_STARTTLS, 110},
};

/* URL `url` of side `side` into `c` and *store_r. */
static int parse_url(enum side side, const char *url, struct config_conn *c, enum config_store *store_r,
                     struct error *err)
{
	const char *opt = option_prefix[side], *rest = NULL, *at, *colon, *end;
	char q[CONFIG_QUOTE_SIZE];
	unsigned long port;

	config_quote(q, url, strlen(url));
	for (size_t i = 0; i < sizeof(schemes) / sizeof(*schemes) && !rest; i++) {
		const struct scheme *k = &schemes[i];
		if (strncmp(url, k->prefix, strlen(k->prefix)) != 0 ||
		    (k->store == CONFIG_STORE_POP3 && side == SIDE_B))
			continue;
		*store_r = k->store;
		c->tls = k->tls;
		c->port = k->port;
		rest = url + strlen(k->prefix);
	}
	if (!rest)
		return error_set(err, ERR_FATAL,
		                 "%s: expected imaps://USER@HOST[:PORT] (TLS) or imap://USER@HOST[:PORT] "
		                 "(STARTTLS)%s, got \"%s\"",
		                 opt, side == SIDE_A ? ", or pop3s:// or pop3:// for a POP3 server" : "", q);
	end = rest + strcspn(rest, "/?#");
	if (*end && strcmp(end, "/") != 0)
		return error_set(err, ERR_FATAL, "%s: \"%s\" has a path or query; give only USER@HOST[:PORT]",
		                 opt, q);
	at = NULL;
	for (const char *p = rest; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at || at == rest)
		return error_set(err, ERR_FATAL, "%s: \"%s\" names no user; write it as USER@HOST", opt, q);
	c->user = unescape(rest, (size_t)(at - rest));
	if (!c->user)
		return error_set(err, ERR_FATAL, "%s: the user in \"%s\" has a bad %%-escape", opt, q);
	colon = memchr(at + 1, ':', (size_t)(end - at - 1));
	if (colon) {
		char *stop;
		errno = 0;
		port = strtoul(colon + 1, &stop, 10);
		if (stop != end || colon + 1 == end || errno || port < 1 || port > 65535)
			return error_set(err, ERR_FATAL,
			                 "%s: the port in \"%s\" is not a number from 1 to 65535", opt, q);
		c->port = (unsigned)port;
	}
	if ((colon ? colon : end) == at + 1)
		return error_set(err, ERR_FATAL, "%s: \"%s\" names no host", opt, q);
	c->host = xstrndup(at + 1, (size_t)((colon ? colon : end) - at - 1));
	return 0;
}

/* The TLS options of side `side`: a readable CA file, a valid pin. */
static int tls_options(const struct config_migration *m, enum side side, struct config_conn *c,
                       struct error *err)
{
	const char *opt = option_prefix[side];

	if (m->ca_file[side]) {
		int e = config_ca_file_problem(m->ca_file[side]);
		if (e > 0)
			return error_set(err, ERR_FATAL, "%s-ca-file: cannot read %s: %s", opt,
			                 m->ca_file[side], strerror(e));
		if (e < 0)
			return error_set(err, ERR_FATAL, "%s-ca-file: %s is not a regular file", opt,
			                 m->ca_file[side]);
		c->ca_file = xstrdup(m->ca_file[side]);
	}
	if (m->fingerprint[side]) {
		unsigned char pin[32];
		struct error perr;
		if (tls_parse_fingerprint(m->fingerprint[side], pin, &perr) < 0)
			return error_set(err, ERR_FATAL, "%s-fingerprint: %s", opt, perr.text);
		c->fingerprint = xstrdup(m->fingerprint[side]);
	}
	return 0;
}

/* FNV-1a, 64 bits, of the two servers as parsed (so that imaps://u@h
 * and imaps://u@h:993/ are one account): the account's name. */
static uint64_t name_hash(const struct config_account *acct)
{
	const struct config_conn *a = &acct->side[SIDE_A].conn, *b = &acct->side[SIDE_B].conn;
	/* "pop3 " marks a POP3 source; an IMAP one hashes as before. */
	char *text = xasprintf("%s%d %s@%s:%u\n%d %s@%s:%u",
	                       acct->side[SIDE_A].store == CONFIG_STORE_POP3 ? "pop3 " : "", (int)a->tls,
	                       a->user, a->host, a->port, (int)b->tls, b->user, b->host, b->port);
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const char *p = text; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	free(text);
	return h;
}

struct config *config_for_migration(const struct config_migration *m, struct error *err)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	struct config_account *a;

	cfg->file = xstrdup("the command line");
	cfg->accounts = xcalloc(1, sizeof(*cfg->accounts));
	cfg->account_count = 1;
	a = &cfg->accounts[0];
	a->two_servers = true;
	for (int s = 0; s < SIDES; s++) {
		struct config_conn *c = &a->side[s].conn;

		c->timeout_ms = c->password_command_timeout_ms = MIGRATE_TIMEOUT_MS;
		c->compress = true;
		if (!m->url[s]) {
			error_set(err, ERR_FATAL, "%s is missing: the %s server, as imaps://USER@HOST",
			          option_prefix[s], s == SIDE_A ? "source" : "target");
			goto fail;
		}
		if (parse_url(s, m->url[s], c, &a->side[s].store, err) < 0 || tls_options(m, s, c, err) < 0)
			goto fail;
		if (!m->password_command[s] || !*m->password_command[s]) {
			error_set(err, ERR_FATAL,
			          "%s-password-command is missing: a command that prints the %s server's "
			          "password (passwords are never taken on the command line)",
			          option_prefix[s], s == SIDE_A ? "source" : "target");
			goto fail;
		}
		c->password_command = xstrdup(m->password_command[s]);
	}
	a->name = xasprintf("migrate-%016" PRIx64, name_hash(a));
	a->folders.include = xcalloc(2, sizeof(char *));
	a->folders.include[0] = xstrdup("*");
	a->folders.include_count = 1;
	a->folders.special_use = true;
	if (a->side[SIDE_A].store == CONFIG_STORE_POP3) {
		a->folders.special_use = false; /* one folder: INBOX */
		a->pop3 = (struct config_pop3){.leave_on_server = true, .folder = xstrdup("INBOX")};
	}
	a->sync = (struct config_sync){.direction = CONFIG_DIRECTION_PULL,
	                               .flags = a->side[SIDE_A].store == CONFIG_STORE_IMAP,
	                               .expunge = CONFIG_WHERE_NONE,
	                               .create = CONFIG_WHERE_LOCAL};
	cfg->state_dir = m->state_dir ? xstrdup(m->state_dir) : config_default_state_dir();
	if (!cfg->state_dir) {
		error_set(err, ERR_FATAL,
		          "cannot choose a state directory: neither XDG_STATE_HOME nor HOME is set to an "
		          "absolute path; give --state-dir");
		goto fail;
	}
	if (cfg->state_dir[0] != '/') {
		error_set(err, ERR_FATAL, "--state-dir: give an absolute path, not \"%s\"", cfg->state_dir);
		goto fail;
	}
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}
