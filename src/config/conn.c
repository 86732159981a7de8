/* The connection keys of `imap:` and `pop3:`, and the POP3 extras. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_p.h"
#include "schema_p.h"
#include "twinbox/net/tls.h"
#include "twinbox/util/xmalloc.h"

#define TIMEOUT_DEFAULT_S     30
#define TIMEOUT_MIN_S         1
#define TIMEOUT_MAX_S         3600
#define HOST_MAX              253
#define USER_MAX              1024
#define FOLDER_MAX            255
#define DELETE_AFTER_DAYS_MAX 36500

/* The connection keys that imap: and pop3: share. */
#define CONN_KEYS                                                                                            \
	"host", "port", "tls", "user", "password", "password_command", "password_command_timeout", "auth",   \
	    "ca_file", "fingerprint", "timeout"

static const char *const imap_keys[] = {CONN_KEYS, "compress", NULL};

static const char *const pop3_keys[] = {
    CONN_KEYS, "leave_on_server", "delete_after_days", "delete_after_download", "folder", NULL,
};

static const char *account_level_hint(const char *key)
{
	if (strcmp(key, "maildir") == 0 || strcmp(key, "folders") == 0 || strcmp(key, "sync") == 0)
		return "it belongs to the account, at the same indentation as imap: or pop3:";
	return NULL;
}

static const char *pop3_hint(const char *key)
{
	if (strcmp(key, "compress") == 0)
		return "it applies to imap: only; POP3 has no compression";
	return account_level_hint(key);
}

static const char *imap_hint(const char *key)
{
	for (size_t i = 0; pop3_keys[i] != NULL; i++)
		if (strcmp(key, pop3_keys[i]) == 0)
			return "it applies to pop3: accounts only";
	return account_level_hint(key);
}

static bool has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static int load_host_user(struct loader *ld, const struct section *s, struct config_conn *c)
{
	const struct ynode *v;
	int rc;

	rc = ld_string(ld, s, "host", &c->host);
	if (rc <= 0)
		return rc < 0 ? -1 : ld_missing(ld, s, "host");
	v = ld_find(s, "host", NULL);
	if (strlen(c->host) > HOST_MAX || strpbrk(c->host, " /") != NULL || has_control(c->host))
		return ld_fail(ld, v,
		               "\"host\" must be a host name or an address (no spaces, no \"/\", at most %d "
		               "bytes)",
		               HOST_MAX);
	rc = ld_string(ld, s, "user", &c->user);
	if (rc <= 0)
		return rc < 0 ? -1 : ld_missing(ld, s, "user");
	v = ld_find(s, "user", NULL);
	if (strlen(c->user) > USER_MAX || has_control(c->user))
		return ld_fail(ld, v, "\"user\" must be at most %d bytes without control characters",
		               USER_MAX);
	return 0;
}

static int load_password(struct loader *ld, const struct section *s, struct config_conn *c)
{
	const struct ynode *pk = NULL, *ck = NULL, *v;
	uint64_t secs = TIMEOUT_DEFAULT_S;

	ld_find(s, "password", &pk);
	ld_find(s, "password_command", &ck);
	if (pk != NULL && ck != NULL) {
		const struct ynode *second = pk->line > ck->line ? pk : ck;
		return ld_fail(ld, second, "both \"password\" and \"password_command\" %s; keep one",
		               s->where);
	}
	if (pk == NULL && ck == NULL)
		return ld_fail(ld, s->key, "missing \"password_command\" (or \"password\") %s", s->where);
	if (pk != NULL) {
		/* Messages about the password never quote it. */
		if (ld_string(ld, s, "password", &c->password) < 0)
			return -1;
		if (strpbrk(c->password, "\r\n") != NULL)
			return ld_fail(ld, ld_find(s, "password", NULL),
			               "\"password\" contains a line break");
		c->password_pos.line = pk->line;
		c->password_pos.column = pk->column;
	} else if (ld_string(ld, s, "password_command", &c->password_command) < 0) {
		return -1;
	}
	v = ld_find(s, "password_command_timeout", NULL);
	if (v != NULL && ck == NULL)
		return ld_fail(ld, v,
		               "\"password_command_timeout\" has no effect without \"password_command\"");
	if (ld_duration(ld, s, "password_command_timeout", TIMEOUT_MIN_S, TIMEOUT_MAX_S, &secs) < 0)
		return -1;
	c->password_command_timeout_ms = (int)secs * 1000;
	return 0;
}

static int load_auth(struct loader *ld, const struct section *s, enum config_store store,
                     struct config_conn *c)
{
	const struct ynode *v = ld_find(s, "auth", NULL);
	const struct ynode *const *items;
	size_t count;

	if (v == NULL)
		return 0;
	if (v->kind == YNODE_MAP || ynode_is_null(v))
		return ld_fail(ld, v, "expected a list of mechanisms for \"auth\", got %s",
		               ynode_describe(v));
	if (v->kind == YNODE_SCALAR) {
		items = (const struct ynode *const *)&v;
		count = 1;
	} else {
		items = (const struct ynode *const *)v->items;
		count = v->count;
	}
	for (size_t i = 0; i < count; i++) {
		const struct ynode *item = items[i];
		char q[CONFIG_QUOTE_SIZE];
		int mech = -1;

		if (ld_scalar(ld, "auth", item) < 0)
			return -1;
		for (int m = 0; m < CONFIG_AUTH_COUNT; m++)
			if (strcasecmp(item->text, config_auth_name((enum config_auth)m)) == 0)
				mech = m;
		config_quote(q, item->text, item->len);
		if (mech < 0)
			return ld_fail(ld, item, "unknown mechanism \"%s\" in \"auth\"; expected %s", q,
			               store == CONFIG_STORE_POP3
			                   ? "plain, login, xoauth2, oauthbearer, apop or user"
			                   : "plain, login, xoauth2 or oauthbearer");
		if ((mech == CONFIG_AUTH_APOP || mech == CONFIG_AUTH_USER) && store != CONFIG_STORE_POP3)
			return ld_fail(ld, item,
			               "\"%s\" in \"auth\" is a POP3 mechanism; IMAP accepts plain, login, "
			               "xoauth2 or oauthbearer",
			               q);
		for (size_t j = 0; j < c->auth_count; j++)
			if (c->auth[j] == (enum config_auth)mech)
				return ld_fail(ld, item, "\"%s\" is listed twice in \"auth\"", q);
		c->auth[c->auth_count++] = (enum config_auth)mech;
	}
	return 0;
}

int config_ca_file_problem(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		rc = -1;
	close(fd);
	return rc;
}

static int load_tls_extras(struct loader *ld, const struct section *s, struct config_conn *c)
{
	const struct ynode *v, *k = NULL;
	unsigned char pin[32];
	struct error perr;

	v = ld_find(s, "ca_file", &k);
	if (v != NULL && c->tls == CONFIG_TLS_NONE)
		return ld_fail(ld, k,
		               "\"ca_file\" has no effect with \"tls: none\"; remove it or use tls: implicit "
		               "or starttls");
	if (ld_path(ld, s, "ca_file", &c->ca_file) < 0)
		return -1;
	if (c->ca_file != NULL) {
		/* Checked now so that a typo is reported with its line, not
		 * as a TLS failure in the middle of a sync. */
		int e = config_ca_file_problem(c->ca_file);
		if (e > 0)
			return ld_fail(ld, v, "cannot read \"ca_file\" %s: %s", c->ca_file, strerror(e));
		if (e < 0)
			return ld_fail(ld, v, "\"ca_file\" %s is not a regular file", c->ca_file);
	}
	v = ld_find(s, "fingerprint", &k);
	if (v != NULL && c->tls == CONFIG_TLS_NONE)
		return ld_fail(ld, k,
		               "\"fingerprint\" has no effect with \"tls: none\"; remove it or use tls: "
		               "implicit or starttls");
	if (ld_string(ld, s, "fingerprint", &c->fingerprint) < 0)
		return -1;
	if (c->fingerprint != NULL) {
		error_clear(&perr);
		if (tls_parse_fingerprint(c->fingerprint, pin, &perr) < 0)
			return ld_fail(ld, v, "%s", perr.text);
	}
	return 0;
}

static bool folder_name_valid(const char *name)
{
	const char *p = name;

	if (strlen(name) > FOLDER_MAX || has_control(name))
		return false;
	/* Every '/'-separated part must be a real name: this folder becomes a
	 * path under the Maildir root. */
	for (;;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (p[n] == '\0')
			return true;
		p += n + 1;
	}
}

static int load_pop3(struct loader *ld, const struct section *s, struct config_account *a)
{
	const struct ynode *los_k = NULL, *dad_k = NULL, *days_v;
	bool los = true, dad = false, deleting;
	uint64_t days = 0;
	int r_los, r_dad;
	char q[CONFIG_QUOTE_SIZE];

	r_los = ld_bool(ld, s, "leave_on_server", &los);
	if (r_los < 0)
		return -1;
	r_dad = ld_bool(ld, s, "delete_after_download", &dad);
	if (r_dad < 0)
		return -1;
	if (ld_uint(ld, s, "delete_after_days", 0, DELETE_AFTER_DAYS_MAX, &days) < 0)
		return -1;
	ld_find(s, "leave_on_server", &los_k);
	ld_find(s, "delete_after_download", &dad_k);
	if (r_los == 1 && r_dad == 1 && los == dad) {
		const struct ynode *second = los_k->line > dad_k->line ? los_k : dad_k;
		return ld_fail(
		    ld, second,
		    "\"leave_on_server: %s\" contradicts \"delete_after_download: %s\"; keep only one "
		    "(delete_after_download: true is the same as leave_on_server: false)",
		    los ? "true" : "false", dad ? "true" : "false");
	}
	deleting = dad || !los;
	days_v = ld_find(s, "delete_after_days", NULL);
	if (days > 0 && deleting)
		return ld_fail(
		    ld, days_v,
		    "\"delete_after_days\" needs mail left on the server, but \"%s\" deletes it right "
		    "after download; remove one of them",
		    dad ? "delete_after_download: true" : "leave_on_server: false");
	a->pop3.leave_on_server = !deleting;
	a->pop3.delete_after_download = deleting;
	a->pop3.delete_after_days = (unsigned)days;
	a->pop3.folder = xstrdup("INBOX");
	if (ld_string(ld, s, "folder", &a->pop3.folder) < 0)
		return -1;
	if (!folder_name_valid(a->pop3.folder)) {
		const struct ynode *v = ld_find(s, "folder", NULL);
		config_quote(q, v->text, v->len);
		return ld_fail(ld, v,
		               "\"folder\" must be a folder name such as INBOX or Archive/old (no leading or "
		               "trailing \"/\", no \".\" or \"..\" parts), got \"%s\"",
		               q);
	}
	return 0;
}

int config_load_conn(struct loader *ld, const struct section *s, struct config_account *a, enum side side)
{
	static const char *const tls_names[] = {"implicit", "starttls", "none", NULL};
	struct config_conn *c = &a->side[side].conn;
	bool pop3 = a->side[side].store == CONFIG_STORE_POP3;
	int tls = CONFIG_TLS_IMPLICIT;
	uint64_t n;

	if (ld_check_keys(ld, s, pop3 ? pop3_keys : imap_keys, pop3 ? pop3_hint : imap_hint) < 0)
		return -1;
	c->compress = !pop3;
	if (!pop3 && ld_bool(ld, s, "compress", &c->compress) < 0)
		return -1;
	if (ld_enum(ld, s, "tls", tls_names, &tls) < 0)
		return -1;
	c->tls = (enum config_tls)tls;
	if (c->tls == CONFIG_TLS_IMPLICIT)
		n = pop3 ? 995 : 993;
	else
		n = pop3 ? 110 : 143;
	if (ld_uint(ld, s, "port", 1, 65535, &n) < 0)
		return -1;
	c->port = (unsigned)n;
	if (load_host_user(ld, s, c) < 0 || load_password(ld, s, c) < 0 ||
	    load_auth(ld, s, a->side[side].store, c) < 0)
		return -1;
	if (load_tls_extras(ld, s, c) < 0)
		return -1;
	n = TIMEOUT_DEFAULT_S;
	if (ld_duration(ld, s, "timeout", TIMEOUT_MIN_S, TIMEOUT_MAX_S, &n) < 0)
		return -1;
	c->timeout_ms = (int)n * 1000;
	if (c->tls == CONFIG_TLS_NONE)
		ld_warn(
		    ld, ld_find(s, "tls", NULL),
		    "\"tls: none\": the password and mail of account \"%s\" cross the network unencrypted",
		    a->name);
	if (pop3 && load_pop3(ld, s, a) < 0)
		return -1;
	return 0;
}

void config_free_conn(struct config_account *a)
{
	for (int side = 0; side < SIDES; side++) {
		struct config_conn *c = &a->side[side].conn;

		free(c->host);
		free(c->user);
		if (c->password != NULL) {
			explicit_bzero(c->password, strlen(c->password));
			free(c->password);
		}
		free(c->password_command);
		free(c->ca_file);
		free(c->fingerprint);
	}
	free(a->pop3.folder);
}
