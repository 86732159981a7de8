/*
 * The configuration: a YAML file loaded into typed structs.
 *
 * config_load() reads the file (at most CONFIG_FILE_MAX bytes), checks every
 * key against the schema in DESIGN.md ("Config shape"), fills in defaults
 * and returns a `struct config` that owns all its strings. Every error is
 * scope ERR_FATAL and its message starts with "<file>:<line>:<column>: "
 * (1-based, the place a user has to edit), then says what was expected:
 *
 *   config.yaml:12:7: unknown key "hots" in imap (did you mean "host"?)
 *
 * Loading stops at the first error. Lower layers never print, so things a
 * user should hear about but that do not stop the load (a `password:` in a
 * file others can read, `tls: none`) come back as `warnings`, each a full
 * line in the same "<file>:<line>:<column>: text" form; the CLI prints them
 * (no need to warn again about `tls: none`: its warning is in the list).
 *
 * `tls: none` is only ever the result of writing it: conn.tls ==
 * CONFIG_TLS_NONE is the explicit permission to send a password in clear;
 * ca_file and fingerprint are refused with it.
 *
 * Keys beyond DESIGN.md: `password_command_timeout` (next to
 * password_command), the IMAP-only `compress` (a boolean, default true:
 * COMPRESS=DEFLATE, RFC 4978, when the server offers it), and the
 * POP3-only `auth` values `apop` and `user` (USER/PASS).
 *
 * YAML subset: one document; anchors, aliases and tags are refused (they
 * buy nothing in a config file and aliases open the "billion laughs"
 * expansion); a tab in indentation is an error; nesting is bounded to
 * CONFIG_DEPTH_MAX levels and every mapping or list to CONFIG_ITEMS_MAX
 * entries. A key with no value (`host:`, `host: ~`) is an error: leave the
 * key out to get its default. Where a list is expected, a single string is
 * taken as a list of one (`include: INBOX`).
 *
 * Value syntax:
 *   booleans   true | false
 *   durations  a whole number with a unit: 30s, 5m, 2h, 30d; a bare number
 *              is seconds
 *   sizes      a whole number with an optional unit, 1024-based whatever
 *              the spelling: B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB
 *              (case-insensitive); a bare number is bytes. "50MB" is
 *              52428800 bytes, because mail clients and servers count that
 *              way.
 *   paths      absolute, or starting with "~/" (expanded with $HOME)
 * Negative numbers and values that overflow are errors.
 *
 * Hooks: `hooks:` at the top level and in an account (struct
 * config_hooks; cli/hooks.h runs them). An account's keys replace the
 * top level's one by one; an empty command ("") turns a hook of the top
 * level off for that account. `new_mail` tells of mail copied into a
 * Maildir, so an account whose Maildir is a source or that has none
 * (source: + target:) refuses its own `new_mail`, and one from the top
 * level does not apply to it (struct config_hooks).
 *
 * POP3 accounts: POP3 has exactly one folder and is imported one way, so
 * `folders:` and every `sync:` key except `max_size` are refused with a
 * message saying so; the receiving local folder is `pop3.folder`.
 * Their `sync` is filled with what POP3 does: direction pull, flags false,
 * expunge none, create local.
 *
 * POP3 deletion: `leave_on_server: true` (default) keeps every message on
 * the server, deleted only once it is `delete_after_days` old (0 = never).
 * `delete_after_download: true` deletes a message as soon as it is safely
 * in the Maildir; it is the same as `leave_on_server: false` and may not be
 * combined with an explicit `leave_on_server: true` nor with a non-zero
 * `delete_after_days` (both would be contradictions, refused with a
 * message rather than guessed).
 */
#ifndef TWINBOX_CONFIG_CONFIG_H
#define TWINBOX_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/state/side.h"
#include "twinbox/util/error.h"

#define CONFIG_FILE_MAX  (1024 * 1024) /* bytes of YAML */
#define CONFIG_DEPTH_MAX 32            /* nesting of mappings and lists */
#define CONFIG_ITEMS_MAX 1000          /* entries in one mapping or list */
#define CONFIG_NAME_MAX  64            /* bytes in an account name */

/* 1-based position in the config file. */
struct config_pos {
	unsigned line;
	unsigned column;
};

enum config_store {
	CONFIG_STORE_IMAP,
	CONFIG_STORE_POP3,
	CONFIG_STORE_MAILDIR,
};

enum config_tls {
	CONFIG_TLS_IMPLICIT, /* TLS from the first byte (993, 995) */
	CONFIG_TLS_STARTTLS, /* plain connect, STARTTLS/STLS required */
	CONFIG_TLS_NONE,     /* only when written explicitly; see warnings */
};

/* Authentication mechanisms in `auth:`. APOP and USER (the POP3
 * USER/PASS pair) are accepted for POP3 accounts only. */
enum config_auth {
	CONFIG_AUTH_PLAIN,
	CONFIG_AUTH_LOGIN,
	CONFIG_AUTH_XOAUTH2,
	CONFIG_AUTH_OAUTHBEARER,
	CONFIG_AUTH_APOP,
	CONFIG_AUTH_USER,
	CONFIG_AUTH_COUNT
};

/* Connection keys shared by `imap:` and `pop3:`. */
struct config_conn {
	char *host;
	unsigned port; /* 1..65535; default by store and tls */
	enum config_tls tls;
	char *user;
	/* Exactly one of these two is set. `password` is the literal from the
	 * file (not yet registered as a log secret: see password.h). */
	char *password;
	char *password_command;
	int password_command_timeout_ms; /* 1 s .. 1 h, default 30 s */
	struct config_pos password_pos;  /* where `password:` is written */
	/* Mechanisms in the order written; auth_count == 0 means "the best
	 * the server offers". No duplicates. */
	enum config_auth auth[CONFIG_AUTH_COUNT];
	size_t auth_count;
	char *ca_file;     /* NULL = system trust store; readable at load */
	char *fingerprint; /* NULL, or text accepted by tls_parse_fingerprint */
	int timeout_ms;    /* 1 s .. 1 h, default 30 s */
	bool compress;     /* IMAP: COMPRESS=DEFLATE when the server offers it; default
	                      true (imap: only; false for pop3:) */
};

enum config_layout {
	CONFIG_LAYOUT_MAILDIRPP, /* ".A.B" folders under the root */
	CONFIG_LAYOUT_NESTED,    /* "A/B" directories */
};

struct config_maildir {
	/* Absolute, "~" expanded, no trailing '/'. Two IMAP accounts never
	 * share a Maildir or nest one in the other; a POP3 account may
	 * deliver into any (also an IMAP account's). */
	char *path;
	struct config_pos pos; /* where the path is written */
	enum config_layout layout;
};

/* IMAP LIST-style patterns ("*", "%", literal names). */
struct config_folders {
	char **include; /* default {"*"}; never empty */
	size_t include_count;
	char **exclude; /* default empty */
	size_t exclude_count;
	/* `rename:` side A's folder -> side B's (and the folders under it),
	 * in the order written; no name twice on either side, no INBOX. */
	char **rename_from, **rename_to;
	size_t rename_count;
	/* `special_use:` match side A's Sent, Drafts, Trash, Junk and
	 * Archive with side B's by special use and well-known names, leave
	 * views (\All, \Flagged) out; default true for an account of two
	 * servers, false otherwise. */
	bool special_use;
};

enum config_direction {
	CONFIG_DIRECTION_BOTH,
	CONFIG_DIRECTION_PULL, /* remote -> local only */
	CONFIG_DIRECTION_PUSH, /* local -> remote only */
};

/* Where an action is carried out; a bit set so that
 * `where & CONFIG_WHERE_REMOTE` reads naturally. */
enum config_where {
	CONFIG_WHERE_NONE = 0,
	CONFIG_WHERE_REMOTE = 1,
	CONFIG_WHERE_LOCAL = 2,
	CONFIG_WHERE_BOTH = 3,
};

struct config_sync {
	enum config_direction direction; /* default both */
	bool flags;                      /* default true */
	enum config_where expunge;       /* default both (IMAP), none (POP3) */
	enum config_where create;        /* default both */
	bool remove_folders;             /* a folder gone on one side is removed on the
	                                    other when that copy is unchanged; default false */
	uint64_t max_size;               /* bytes; 0 = no limit (default) */
};

struct config_pop3 {
	bool leave_on_server;       /* default true */
	unsigned delete_after_days; /* 0 = never (default); <= 36500 */
	bool delete_after_download; /* == !leave_on_server */
	char *folder;               /* default "INBOX" */
};

/* Commands run after an account's sync (cli/hooks.h), as /bin/sh -c. */
#define CONFIG_HOOKS_TIMEOUT_DEFAULT_S 60
#define CONFIG_NEW_MAIL_MAX_DEFAULT    10
#define CONFIG_NEW_MAIL_MAX_LIMIT      1000
struct config_hooks {
	char *after_sync; /* after a run that changed something; NULL: none */
	/* per message copied into the Maildir; NULL: none (always NULL for
	 * an account of two servers or with a Maildir source) */
	char *new_mail;
	int timeout_ms;        /* each call's; 1 s .. 1 h, default 60 s */
	unsigned new_mail_max; /* new_mail calls per run, then one for the rest; 0 .. 1000, default 10 */
	struct config_pos pos; /* where `hooks:` is written (0:0 when it is not) */
};

/* `watch:` of an account: how `twinbox watch` follows its servers
 * (cli/watch.c). With no `watch:` key, the defaults: IDLE on INBOX
 * (or one NOTIFY connection), STATUS of the other folders every 5
 * minutes. A POP3 server takes only `poll`. */
#define CONFIG_WATCH_CONNECTIONS_DEFAULT 3
#define CONFIG_WATCH_CONNECTIONS_MAX     20
#define CONFIG_WATCH_POLL_DEFAULT_S      (5 * 60)
struct config_watch {
	/* Folders to watch with IDLE after INBOX, as patterns of
	 * `folders: include` ('*', '%'), in order of preference; default
	 * none. Only folders the account syncs are watched. */
	char **folders;
	size_t folder_count;
	/* Connections held open to each IMAP server of the account for
	 * IDLE, one per folder, INBOX first (0: none, every folder polled);
	 * 0 .. CONFIG_WATCH_CONNECTIONS_MAX, default 3. */
	unsigned connections;
	/* NOTIFY (RFC 5465) instead, where the server offers it: one
	 * connection for every folder; default true. */
	bool notify;
	/* How often the folders without IDLE are checked (STATUS), and a
	 * POP3 server for new mail; 10 s .. 24 h, default 5 min. */
	unsigned poll_s;
};

/* One side of an account: a server (`imap:`, `pop3:`) or a Maildir. */
struct config_side {
	enum config_store store;
	struct config_conn conn;       /* IMAP and POP3 */
	struct config_maildir maildir; /* Maildir */
};

/*
 * An account's two sides, as the sync engine takes them (state/side.h):
 *   imap: + maildir:     side A the IMAP server, side B the Maildir;
 *   pop3: + maildir:     side A the POP3 server, side B the Maildir;
 *   source: + target:    each holds `imap:` (the source `pop3:` too);
 *                        side A the source, side B the target
 *                        (`two_servers`);
 *   source: {maildir:} + target: {imap:}
 *                        side A the target, side B the Maildir source
 *                        (`maildir_source`).
 * The sync rules call side A remote and side B local whatever the form;
 * as written, `sync:` of source: + target: calls the source remote.
 */
struct config_account {
	char *name;            /* [A-Za-z0-9_.-]+, at most CONFIG_NAME_MAX bytes */
	struct config_pos pos; /* where the name is written */
	struct config_side side[SIDES];
	bool two_servers; /* written as source: + target:, both servers */
	/* written as source: {maildir:} + target: {imap:}: side A is the
	 * target server, side B the Maildir source; `sync:` was written with
	 * source and target (direction pull: from the Maildir to the server)
	 * and is stored turned around (direction push), as for imap: +
	 * maildir:. */
	bool maildir_source;
	struct config_pop3 pop3;       /* only for a POP3 side A */
	struct config_folders folders; /* unused for POP3 (defaults) */
	struct config_sync sync;
	struct config_hooks hooks; /* its own, over the top level's */
	struct config_watch watch;
};

struct config {
	char *file;                      /* the name used in messages (as given to the loader) */
	char *state_dir;                 /* absolute; default $XDG_STATE_HOME/twinbox */
	struct config_hooks hooks;       /* the top level's (each account has them merged in) */
	struct config_account *accounts; /* in file order; names unique */
	size_t account_count;
	char **warnings; /* "<file>:<line>:<col>: text" */
	size_t warning_count;
};

/* Load and check the file at `path`. Returns the config (config_free it),
 * or NULL with `err` filled (ERR_FATAL). Adds a warning for each
 * `password:` when the file can be read by group or others. */
struct config *config_load(const char *path, struct error *err);

/* The same from memory: `name` is used in messages only; no permission
 * check. `text` need not be NUL-terminated. */
struct config *config_load_buffer(const char *name, const char *text, size_t len, struct error *err);

/* Free everything; the literal passwords are wiped first. NULL is fine. */
void config_free(struct config *cfg);

/* The account called `name`, or NULL. Valid while `cfg` is. */
const struct config_account *config_find_account(const struct config *cfg, const char *name);

/* "$XDG_CONFIG_HOME/twinbox/config.yaml", else "~/.config/twinbox/config.yaml"
 * expanded; NULL when neither XDG_CONFIG_HOME nor HOME is set. Caller frees. */
char *config_default_path(void);

/* $XDG_STATE_HOME/twinbox, else ~/.local/state/twinbox (fresh); NULL
 * when neither XDG_STATE_HOME nor HOME is an absolute path. */
char *config_default_state_dir(void);

/*
 * A one-off migration from the command line (`twinbox migrate`): two
 * IMAP servers given as URLs, imaps://USER@HOST[:PORT] (TLS from the
 * first byte, port 993) or imap://USER@HOST[:PORT] (STARTTLS, port 143);
 * USER may hold '@' (the last one ends it) or be percent-encoded. Their
 * passwords come from commands only, never from the command line.
 */
struct config_migration {
	const char *url[SIDES];              /* side A the source, B the target */
	const char *password_command[SIDES]; /* required */
	const char *ca_file[SIDES];          /* NULL: the system trust store */
	const char *fingerprint[SIDES];      /* NULL: none */
	const char *state_dir;               /* NULL: config_default_state_dir() */
};

/* A config of one account of two servers (two_servers) made from `m`:
 * one way from source to target (direction pull, flags carried, nothing
 * deleted on either side, folders made on the target only), every
 * folder, timeouts as the config's defaults; the account is named
 * "migrate-" and 16 hex digits of a hash of the two servers (scheme,
 * user, host and port of each), so the same command finds the same
 * state and resumes. NULL with `err` (ERR_FATAL)
 * naming the option to fix. */
struct config *config_for_migration(const struct config_migration *m, struct error *err);

/* "<state_dir>/<account>.db", fresh (caller frees). */
char *config_state_path(const struct config *cfg, const struct config_account *acct);

/* Value syntax, exported for the CLI (e.g. `--timeout 5m`) and for tests.
 * Each returns 0, or -1 with a message (ERR_FATAL) that says which form
 * is expected without any position. Durations are seconds; both refuse
 * negative numbers, empty text, junk after the unit and overflow. */
int config_parse_duration(const char *text, uint64_t *seconds_r, struct error *err);
int config_parse_size(const char *text, uint64_t *bytes_r, struct error *err);

/* Whether `name` is a valid account name (see struct config_account). */
bool config_account_name_valid(const char *name);

/* "imap"/"pop3", "implicit"/"starttls"/"none", "plain"/"login"/..., for
 * messages; static strings. */
const char *config_store_name(enum config_store store);
const char *config_tls_name(enum config_tls tls);
const char *config_auth_name(enum config_auth auth);

#endif
