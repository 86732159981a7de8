/* Loading the config: the top level, accounts, maildir, folders, sync. */
#include "twinbox/config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config_p.h"
#include "schema_p.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

static const char *const top_keys[] = {"accounts", "state_dir", "hooks", NULL};
static const char *const account_keys[] = {"imap",    "pop3", "maildir", "source", "target",
                                           "folders", "sync", "hooks",   "watch",  NULL};
static const char *const maildir_keys[] = {"path", "layout", NULL};
static const char *const folders_keys[] = {"include", "exclude", "rename", "special_use", NULL};
static const char *const sync_keys[] = {"direction",      "flags",    "expunge", "create",
                                        "remove_folders", "max_size", NULL};
static const char *const where_names[] = {"none", "remote", "local", "both", NULL};

static const char *account_hint(const char *key)
{
	static const char *const conn_keys[] = {
	    "host",
	    "port",
	    "tls",
	    "user",
	    "password",
	    "password_command",
	    "auth",
	    "ca_file",
	    "fingerprint",
	    "timeout",
	    "leave_on_server",
	    "delete_after_days",
	    "delete_after_download",
	    "folder",
	    NULL,
	};

	for (size_t i = 0; conn_keys[i] != NULL; i++)
		if (strcmp(key, conn_keys[i]) == 0)
			return "connection keys go under imap: or pop3:";
	if (strcmp(key, "path") == 0 || strcmp(key, "layout") == 0)
		return "it goes under maildir:";
	if (strcmp(key, "after_sync") == 0 || strcmp(key, "new_mail") == 0)
		return "it goes under hooks:";
	if (strcmp(key, "connections") == 0 || strcmp(key, "poll") == 0 || strcmp(key, "notify") == 0)
		return "it goes under watch:";
	return NULL;
}

static const char *top_hint(const char *key)
{
	(void)key;
	return "accounts are listed under \"accounts:\"";
}

/* Two IMAP accounts syncing one Maildir tree would each see the other's
 * folders and messages as new and copy them to their server. A POP3
 * account only delivers, so it may feed any Maildir, also an IMAP
 * account's (getmail + mbsync style: POP3 mail then reaches the server). */
static int check_maildir_overlap(struct loader *ld, const struct config *cfg, const struct config_account *a,
                                 const struct ynode *at)
{
	const char *p = a->side[SIDE_B].maildir.path;

	for (size_t i = 0; i < cfg->account_count; i++) {
		const struct config_account *o = &cfg->accounts[i];
		const char *q = o->side[SIDE_B].maildir.path;
		size_t lp, lq;

		if (o == a || o->side[SIDE_A].store == CONFIG_STORE_POP3 ||
		    a->side[SIDE_A].store == CONFIG_STORE_POP3 ||
		    o->side[SIDE_B].store != CONFIG_STORE_MAILDIR)
			continue;
		lp = strlen(p);
		lq = strlen(q);
		if (strcmp(p, q) == 0)
			return ld_fail(
			    ld, at,
			    "maildir path %s is also used by account \"%s\" (line %u); each account needs "
			    "its own Maildir",
			    p, o->name, o->side[SIDE_B].maildir.pos.line);
		if ((lq < lp && strncmp(p, q, lq) == 0 && (p[lq] == '/' || lq == 1)) ||
		    (lp < lq && strncmp(p, q, lp) == 0 && (q[lp] == '/' || lp == 1)))
			return ld_fail(
			    ld, at,
			    "maildir path %s overlaps the Maildir %s of account \"%s\" (line %u); each "
			    "account needs its own Maildir, not one inside another",
			    p, q, o->name, o->side[SIDE_B].maildir.pos.line);
	}
	return 0;
}

static int load_maildir(struct loader *ld, const struct section *acct, struct config_account *a,
                        const char *where)
{
	static const char *const layouts[] = {"maildir++", "nested", NULL};
	const struct ynode *key = NULL, *v = ld_find(acct, "maildir", &key);
	struct section s;
	int layout = CONFIG_LAYOUT_MAILDIRPP;
	int rc;

	if (v == NULL)
		return ld_missing(ld, acct, "maildir");
	a->side[SIDE_B].store = CONFIG_STORE_MAILDIR;
	if (ld_section(ld, key, v, where, &s) < 0 || ld_check_keys(ld, &s, maildir_keys, NULL) < 0)
		return -1;
	rc = ld_path(ld, &s, "path", &a->side[SIDE_B].maildir.path);
	if (rc <= 0)
		return rc < 0 ? -1 : ld_missing(ld, &s, "path");
	v = ld_find(&s, "path", NULL);
	a->side[SIDE_B].maildir.pos.line = v->line;
	a->side[SIDE_B].maildir.pos.column = v->column;
	if (check_maildir_overlap(ld, ld->cfg, a, v) < 0)
		return -1;
	if (ld_enum(ld, &s, "layout", layouts, &layout) < 0)
		return -1;
	a->side[SIDE_B].maildir.layout = (enum config_layout)layout;
	return 0;
}

/* A folder name of `rename:` (`n` a key or a value of it). */
static int rename_name(struct loader *ld, const struct ynode *n, const char *what, char **names, size_t count)
{
	if (ld_scalar(ld, "rename", n) < 0)
		return -1;
	if (n->len == 0 || n->text[0] == '/' || n->text[n->len - 1] == '/' || strstr(n->text, "//"))
		return ld_fail(ld, n,
		               "\"%s\" is not a folder name; write levels separated by one '/', as "
		               "`twinbox list-folders` shows them",
		               n->text);
	if (strcasecmp(n->text, "INBOX") == 0)
		return ld_fail(ld, n, "INBOX cannot be renamed: it is the inbox on every server");
	for (size_t i = 0; i < count; i++)
		if (strcmp(names[i], n->text) == 0)
			return ld_fail(ld, n,
			               "\"%s\" is named twice as %s in `rename:`; two folders "
			               "cannot become one",
			               n->text, what);
	return 0;
}

static int load_renames(struct loader *ld, const struct section *s, struct config_folders *f)
{
	const struct ynode *v = ld_find(s, "rename", NULL);

	if (!v)
		return 0;
	if (v->kind != YNODE_MAP)
		return ld_fail(ld, v,
		               "expected a mapping for \"rename\" (source folder: target folder), got %s",
		               ynode_describe(v));
	f->rename_from = xcalloc(v->count + 1, sizeof(char *));
	f->rename_to = xcalloc(v->count + 1, sizeof(char *));
	for (size_t i = 0; i < v->count; i++) {
		const struct ynode *from = v->items[2 * i], *to = v->items[2 * i + 1];
		if (rename_name(ld, from, "a folder to rename", f->rename_from, f->rename_count) < 0 ||
		    rename_name(ld, to, "a new name", f->rename_to, f->rename_count) < 0)
			return -1;
		f->rename_from[f->rename_count] = xstrdup(from->text);
		f->rename_to[f->rename_count++] = xstrdup(to->text);
	}
	return 0;
}

static int load_folders(struct loader *ld, const struct section *acct, struct config_account *a,
                        const char *where)
{
	const struct ynode *key = NULL, *v = ld_find(acct, "folders", &key);
	struct section s;

	a->folders.include = xcalloc(2, sizeof(char *));
	a->folders.include[0] = xstrdup("*");
	a->folders.include_count = 1;
	a->folders.special_use = a->two_servers || a->maildir_source;
	if (v == NULL)
		return 0;
	if (a->side[SIDE_A].store == CONFIG_STORE_POP3)
		return ld_fail(ld, key,
		               "\"folders\" is not used for POP3 accounts: POP3 has one folder; set "
		               "\"folder:\" under pop3: to choose the local folder instead");
	if (ld_section(ld, key, v, where, &s) < 0 || ld_check_keys(ld, &s, folders_keys, NULL) < 0)
		return -1;
	if (ld_string_list(ld, &s, "include", &a->folders.include, &a->folders.include_count) < 0 ||
	    ld_string_list(ld, &s, "exclude", &a->folders.exclude, &a->folders.exclude_count) < 0)
		return -1;
	if (a->folders.include_count == 0)
		return ld_fail(ld, ld_find(&s, "include", NULL),
		               "\"include\" is empty, so nothing would be synced; leave it out for [\"*\"] "
		               "(all folders)");
	if (ld_bool(ld, &s, "special_use", &a->folders.special_use) < 0)
		return -1;
	return load_renames(ld, &s, &a->folders);
}

/* Rules written with the source as remote, for an account whose
 * source is side B: pull and push, remote and local exchanged. */
static void turn_around(struct config_sync *s)
{
	unsigned e = s->expunge, c = s->create;

	if (s->direction != CONFIG_DIRECTION_BOTH)
		s->direction =
		    s->direction == CONFIG_DIRECTION_PULL ? CONFIG_DIRECTION_PUSH : CONFIG_DIRECTION_PULL;
	s->expunge = (enum config_where)(((e & CONFIG_WHERE_REMOTE) ? CONFIG_WHERE_LOCAL : 0) |
	                                 ((e & CONFIG_WHERE_LOCAL) ? CONFIG_WHERE_REMOTE : 0));
	s->create = (enum config_where)(((c & CONFIG_WHERE_REMOTE) ? CONFIG_WHERE_LOCAL : 0) |
	                                ((c & CONFIG_WHERE_LOCAL) ? CONFIG_WHERE_REMOTE : 0));
}

static int load_sync(struct loader *ld, const struct section *acct, struct config_account *a,
                     const char *where)
{
	static const char *const directions[] = {"both", "pull", "push", NULL};
	const struct ynode *key = NULL, *v = ld_find(acct, "sync", &key);
	struct section s;
	int direction = CONFIG_DIRECTION_BOTH, expunge = CONFIG_WHERE_BOTH, create = CONFIG_WHERE_BOTH;

	if (a->side[SIDE_A].store == CONFIG_STORE_POP3) {
		a->sync.direction = CONFIG_DIRECTION_PULL;
		a->sync.flags = false;
		a->sync.expunge = CONFIG_WHERE_NONE;
		a->sync.create = CONFIG_WHERE_LOCAL;
	} else {
		a->sync.direction = CONFIG_DIRECTION_BOTH;
		a->sync.flags = true;
		a->sync.expunge = CONFIG_WHERE_BOTH;
		a->sync.create = CONFIG_WHERE_BOTH;
	}
	a->sync.max_size = 0;
	a->sync.remove_folders = false;
	if (v == NULL)
		return 0;
	if (ld_section(ld, key, v, where, &s) < 0 || ld_check_keys(ld, &s, sync_keys, NULL) < 0)
		return -1;
	if (a->side[SIDE_A].store == CONFIG_STORE_POP3) {
		for (size_t i = 0; i < s.map->count; i++) {
			const struct ynode *k = s.map->items[2 * i];
			if (strcmp(k->text, "max_size") != 0)
				return ld_fail(
				    ld, k,
				    "\"%s\" in sync is not used for POP3 accounts: POP3 has one folder and "
				    "is only downloaded; only \"max_size\" applies (set \"folder:\" under "
				    "pop3: to choose the local folder)",
				    k->text);
		}
		return ld_size(ld, &s, "max_size", &a->sync.max_size) < 0 ? -1 : 0;
	}
	if (ld_enum(ld, &s, "direction", directions, &direction) < 0 ||
	    ld_bool(ld, &s, "flags", &a->sync.flags) < 0 ||
	    ld_enum(ld, &s, "expunge", where_names, &expunge) < 0 ||
	    ld_enum(ld, &s, "create", where_names, &create) < 0 ||
	    ld_bool(ld, &s, "remove_folders", &a->sync.remove_folders) < 0 ||
	    ld_size(ld, &s, "max_size", &a->sync.max_size) < 0)
		return -1;
	a->sync.direction = (enum config_direction)direction;
	a->sync.expunge = (enum config_where)expunge;
	a->sync.create = (enum config_where)create;
	if (a->maildir_source)
		turn_around(&a->sync);
	return 0;
}

static int load_remote(struct loader *ld, const struct section *acct, struct config_account *a)
{
	const struct ynode *ik = NULL, *pk = NULL, *iv = ld_find(acct, "imap", &ik),
	                   *pv = ld_find(acct, "pop3", &pk);
	const struct ynode *key, *v;
	struct section s;

	if (iv != NULL && pv != NULL)
		return ld_fail(
		    ld, ik->line > pk->line ? ik : pk,
		    "account \"%s\" has both imap: and pop3:; an account has exactly one remote side "
		    "(make a second account for the other)",
		    a->name);
	if (iv == NULL && pv == NULL)
		return ld_fail(ld, acct->key,
		               "account \"%s\" has no remote side; add imap: or pop3: (or source: and "
		               "target: for two servers)",
		               a->name);
	a->side[SIDE_A].store = iv != NULL ? CONFIG_STORE_IMAP : CONFIG_STORE_POP3;
	key = iv != NULL ? ik : pk;
	v = iv != NULL ? iv : pv;
	if (ld_section(ld, key, v, a->side[SIDE_A].store == CONFIG_STORE_IMAP ? "in imap" : "in pop3", &s) <
	    0)
		return -1;
	return config_load_conn(ld, &s, a, SIDE_A);
}

/* A POP3 source's own keys that a migration has no use for: it leaves
 * the mail on the old server, and it lands in the target's INBOX. */
static int check_pop3_source(struct loader *ld, const struct section *ps)
{
	static const char *const unused[] = {"leave_on_server", "delete_after_days", "delete_after_download",
	                                     "folder", NULL};

	for (size_t i = 0; unused[i]; i++) {
		const struct ynode *k = NULL;
		if (ld_find(ps, unused[i], &k))
			return ld_fail(
			    ld, k,
			    "\"%s\" is not used for a POP3 source: its mail is copied into the "
			    "target's INBOX and left on the old server; write the account as pop3: + "
			    "maildir: to import with deletions",
			    unused[i]);
	}
	return 0;
}

/* `source:` (`source`) or `target:` of an account written so: a mapping
 * with one `imap:`, or for the source one `pop3:` or `maildir:`. A
 * server goes to side `into`; a Maildir source is side B (the account is
 * then an IMAP server and a Maildir, a->maildir_source). */
static int load_end(struct loader *ld, const struct section *acct, struct config_account *a, bool source,
                    enum side into)
{
	static const char *const target_keys[] = {"imap", NULL};
	static const char *const source_keys[] = {"imap", "pop3", "maildir", NULL};
	const char *what = source ? "source" : "target";
	const struct ynode *key = NULL, *v = ld_find(acct, what, &key), *ik = NULL, *pk = NULL, *iv, *pv;
	char where[CONFIG_NAME_MAX + 32];
	struct section s, is;
	size_t kinds = 0;

	snprintf(where, sizeof(where), "in %s of account \"%s\"", what, a->name);
	if (v == NULL)
		return ld_fail(ld, acct->key,
		               "account \"%s\" has %s but no %s:; an account with two servers names both, "
		               "each with an imap: section",
		               a->name, source ? "target:" : "source:", what);
	if (ld_section(ld, key, v, where, &s) < 0)
		return -1;
	for (size_t i = 0; i < s.map->count; i++) {
		const struct ynode *k = s.map->items[2 * i];
		if (!source && (strcmp(k->text, "pop3") == 0 || strcmp(k->text, "maildir") == 0))
			return ld_fail(ld, k,
			               "target: takes imap: only (a %s as target is not supported yet; for a "
			               "Maildir, write the account as imap: + maildir:)",
			               strcmp(k->text, "pop3") == 0 ? "POP3 server" : "Maildir");
		kinds += strcmp(k->text, "imap") == 0 || strcmp(k->text, "pop3") == 0 ||
		         strcmp(k->text, "maildir") == 0;
		if (kinds > 1)
			return ld_fail(ld, k,
			               "source: has more than one of imap:, pop3: and maildir:; a source "
			               "is one store");
	}
	if (ld_check_keys(ld, &s, source ? source_keys : target_keys, NULL) < 0)
		return -1;
	if (source && ld_find(&s, "maildir", NULL)) {
		a->maildir_source = true;
		snprintf(where, sizeof(where), "in maildir of source");
		return load_maildir(ld, &s, a, where);
	}
	iv = ld_find(&s, "imap", &ik);
	pv = source ? ld_find(&s, "pop3", &pk) : NULL;
	if (iv == NULL && pv == NULL)
		return ld_missing(ld, &s, "imap");
	a->side[into].store = iv ? CONFIG_STORE_IMAP : CONFIG_STORE_POP3;
	snprintf(where, sizeof(where), "in %s of %s", iv ? "imap" : "pop3", what);
	if (ld_section(ld, iv ? ik : pk, iv ? iv : pv, where, &is) < 0)
		return -1;
	if (pv && check_pop3_source(ld, &is) < 0)
		return -1;
	return config_load_conn(ld, &is, a, into);
}

/* The account's two sides: imap: or pop3: with maildir:, or source: and
 * target: (config.h). */
static int load_sides(struct loader *ld, const struct section *acct, struct config_account *a)
{
	static const char *const classic[] = {"imap", "pop3", "maildir", NULL};
	const struct ynode *src = ld_find(acct, "source", NULL), *dst = ld_find(acct, "target", NULL);
	char sub[CONFIG_NAME_MAX + 32];

	if (src == NULL && dst == NULL) {
		if (load_remote(ld, acct, a) < 0)
			return -1;
		snprintf(sub, sizeof(sub), "in maildir of account \"%s\"", a->name);
		return load_maildir(ld, acct, a, sub);
	}
	for (size_t i = 0; classic[i] != NULL; i++) {
		const struct ynode *k = NULL;
		if (ld_find(acct, classic[i], &k) != NULL)
			return ld_fail(ld, k,
			               "account \"%s\" has source:/target: and %s:; an account is either "
			               "imap: or pop3: with maildir:, or source: with target:",
			               a->name, classic[i]);
	}
	if (load_end(ld, acct, a, true, SIDE_A) < 0)
		return -1;
	/* A Maildir source: the target server is side A, as in imap: +
	 * maildir: (load_sync turns the rules around). */
	a->two_servers = !a->maildir_source;
	return load_end(ld, acct, a, false, a->maildir_source ? SIDE_A : SIDE_B);
}

static int load_account(struct loader *ld, const struct ynode *name, const struct ynode *value)
{
	struct config *cfg = ld->cfg;
	struct config_account *a;
	char where[CONFIG_NAME_MAX + 32], sub[CONFIG_NAME_MAX + 32], q[CONFIG_QUOTE_SIZE];
	struct section s;

	if (!config_account_name_valid(name->text) || strlen(name->text) != name->len) {
		config_quote(q, name->text, name->len);
		return ld_fail(
		    ld, name,
		    "invalid account name \"%s\": use 1 to %d letters, digits, \"_\", \".\" and \"-\"", q,
		    CONFIG_NAME_MAX);
	}
	/* The account is added before it is filled so that config_free()
	 * releases a half-loaded one. */
	cfg->accounts = xrealloc(cfg->accounts, (cfg->account_count + 1) * sizeof(*cfg->accounts));
	a = &cfg->accounts[cfg->account_count++];
	memset(a, 0, sizeof(*a));
	a->name = xstrdup(name->text);
	a->pos.line = name->line;
	a->pos.column = name->column;
	snprintf(where, sizeof(where), "in account \"%s\"", a->name);
	if (ld_section(ld, name, value, where, &s) < 0 ||
	    ld_check_keys(ld, &s, account_keys, account_hint) < 0)
		return -1;
	if (load_sides(ld, &s, a) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "in folders of account \"%s\"", a->name);
	if (load_folders(ld, &s, a, sub) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "in sync of account \"%s\"", a->name);
	if (load_sync(ld, &s, a, sub) < 0)
		return -1;
	if (config_load_watch(ld, &s, a) < 0)
		return -1;
	return config_load_hooks(ld, &s, &cfg->hooks, a, &a->hooks);
}

char *config_default_state_dir(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	/* The XDG spec says to ignore a relative XDG_STATE_HOME. */
	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/twinbox", xdg);
	if (home != NULL && home[0] == '/')
		return xasprintf("%s/.local/state/twinbox", home);
	return NULL;
}

static int default_state_dir(struct loader *ld, const struct section *top)
{
	ld->cfg->state_dir = config_default_state_dir();
	if (ld->cfg->state_dir == NULL)
		return ld_fail(
		    ld, top->map,
		    "cannot choose a state directory: neither XDG_STATE_HOME nor HOME is set to an "
		    "absolute path; set \"state_dir:\"");
	return 0;
}

static int load_top(struct loader *ld, const struct ynode *root)
{
	const struct ynode *key = NULL, *accounts;
	struct section top = {root, NULL, "at the top level"}, s;

	if (root == NULL || ynode_is_null(root))
		return ld_fail(ld, root, "the config is empty; expected a mapping with an \"accounts:\" key");
	if (root->kind != YNODE_MAP)
		return ld_fail(ld, root,
		               "expected a mapping with an \"accounts:\" key at the top level, got %s",
		               ynode_describe(root));
	if (ld_check_keys(ld, &top, top_keys, top_hint) < 0)
		return -1;
	if (ld_path(ld, &top, "state_dir", &ld->cfg->state_dir) < 0)
		return -1;
	if (ld->cfg->state_dir == NULL && default_state_dir(ld, &top) < 0)
		return -1;
	if (config_load_hooks(ld, &top, NULL, NULL, &ld->cfg->hooks) < 0)
		return -1;
	accounts = ld_find(&top, "accounts", &key);
	if (accounts == NULL)
		return ld_missing(ld, &top, "accounts");
	if (ld_section(ld, key, accounts, "in accounts", &s) < 0 || ld_check_duplicates(ld, &s) < 0)
		return -1;
	if (accounts->count == 0)
		return ld_fail(ld, accounts, "\"accounts\" is empty; define at least one account");
	for (size_t i = 0; i < accounts->count; i++)
		if (load_account(ld, accounts->items[2 * i], accounts->items[2 * i + 1]) < 0)
			return -1;
	return 0;
}

struct config *config_load_buffer(const char *name, const char *text, size_t len, struct error *err)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	struct loader ld = {.file = name, .err = err, .cfg = cfg};
	struct ynode *root;

	cfg->file = xstrdup(name);
	if (yaml_tree_parse(name, text, len, &root, err) < 0) {
		config_free(cfg);
		return NULL;
	}
	if (load_top(&ld, root) < 0) {
		yaml_tree_free(root);
		config_free(cfg);
		return NULL;
	}
	yaml_tree_free(root);
	return cfg;
}

struct config *config_load(const char *path, struct error *err)
{
	struct config *cfg;
	struct stat st;
	char *text;
	size_t len;

	if (fs_read_file(path, CONFIG_FILE_MAX, &text, &len, err) < 0) {
		error_escalate(err, ERR_FATAL);
		return NULL;
	}
	cfg = config_load_buffer(path, text, len, err);
	free(text);
	if (cfg == NULL)
		return NULL;
	if (stat(path, &st) < 0) {
		error_errno(err, ERR_FATAL, errno, "cannot stat %s", path);
		config_free(cfg);
		return NULL;
	}
	if ((st.st_mode & 077) == 0)
		return cfg;
	/* A password in a file others can read is worth a warning at each
	 * place it is written, not a refusal: the user may have reasons
	 * (a single-user machine) and the fix is theirs to choose. */
	for (size_t n = 0; n < cfg->account_count * SIDES; n++) {
		size_t i = n / SIDES;
		const struct config_conn *c = &cfg->accounts[i].side[n % SIDES].conn;
		char *w;

		if (c->password == NULL)
			continue;
		w = xasprintf(
		    "%s:%u:%u: \"password\" of account \"%s\" is in a file that group or others can "
		    "read (mode %04o); run chmod 600 %s, or use password_command",
		    path, c->password_pos.line, c->password_pos.column, cfg->accounts[i].name,
		    (unsigned)(st.st_mode & 07777), path);
		cfg->warnings = xrealloc(cfg->warnings, (cfg->warning_count + 1) * sizeof(*cfg->warnings));
		cfg->warnings[cfg->warning_count++] = w;
	}
	return cfg;
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->account_count; i++) {
		struct config_account *a = &cfg->accounts[i];
		free(a->name);
		config_free_conn(a);
		free(a->side[SIDE_B].maildir.path);
		ld_free_strings(a->folders.include, a->folders.include_count);
		ld_free_strings(a->folders.exclude, a->folders.exclude_count);
		ld_free_strings(a->folders.rename_from, a->folders.rename_count);
		ld_free_strings(a->folders.rename_to, a->folders.rename_count);
		config_free_hooks(&a->hooks);
		ld_free_strings(a->watch.folders, a->watch.folder_count);
	}
	config_free_hooks(&cfg->hooks);
	free(cfg->accounts);
	for (size_t i = 0; i < cfg->warning_count; i++)
		free(cfg->warnings[i]);
	free(cfg->warnings);
	free(cfg->state_dir);
	free(cfg->file);
	free(cfg);
}

const struct config_account *config_find_account(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->account_count; i++)
		if (strcmp(cfg->accounts[i].name, name) == 0)
			return &cfg->accounts[i];
	return NULL;
}

char *config_default_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/twinbox/config.yaml", xdg);
	if (home != NULL && home[0] != '\0')
		return xasprintf("%s/.config/twinbox/config.yaml", home);
	return NULL;
}

char *config_state_path(const struct config *cfg, const struct config_account *acct)
{
	return xasprintf("%s/%s.db", cfg->state_dir, acct->name);
}
