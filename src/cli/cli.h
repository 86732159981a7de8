/*
 * Private to cli/: options shared by the sub-commands, and exit codes.
 */
#ifndef TWINBOX_CLI_CLI_H
#define TWINBOX_CLI_CLI_H

#include <stdbool.h>

#include "twinbox/config/config.h"
#include "twinbox/imap/session.h"
#include "twinbox/net/conn.h"
#include "twinbox/pop3/client.h"
#include "twinbox/sync/engine.h"
#include "twinbox/sync/plan.h"
#include "twinbox/util/log.h"

/* Exit codes (documented in --help, the man page and the README). */
enum exit_code {
	EXIT_OK = 0,      /* everything done */
	EXIT_PARTIAL = 1, /* some accounts or folders failed or stopped, after something was done */
	EXIT_FAILED = 2,  /* nothing could be done (e.g. no account reachable, nothing stored) */
	EXIT_USAGE = 64,  /* bad command line (EX_USAGE) */
	EXIT_BUSY = 75,   /* an account was being synced by another run: try again later (EX_TEMPFAIL) */
	EXIT_CONFIG = 78, /* the config file is missing or invalid (EX_CONFIG) */
};

struct cli_options {
	const char *config_path; /* NULL: default path */
	int verbosity;           /* -q = -1, default 0, -v = 1, -vv = 2 */
	/* The sub-command's own arguments, global options removed. */
	int argc;
	char **argv;
};

/* The log sink of every command (main.c): standard error, "twinbox:
 * error: " and "twinbox: warning: " before those lines. */
void cli_log_sink(enum log_level level, const char *line, void *ctx);

/* Path of the config file to read (caller frees); NULL when no default
 * can be made (neither XDG_CONFIG_HOME nor HOME set). */
char *cli_config_path(const struct cli_options *opts);

/* The lower layers' TLS mode for a config's `tls:`. */
enum tls_mode cli_tls_mode(enum config_tls tls);
/* How to connect to a server an account names (its `imap:` or `pop3:`
 * section, `c`); the strings are the config's. */
struct conn_options cli_conn_options(const struct config_conn *c);
/* Session options for an IMAP server; `password` is referenced, not
 * copied (keep it alive while `o` is used). */
void cli_imap_options(const struct config_conn *c, const char *password, struct imap_session_options *o);

/* Side `s` of account `a` as a store: its Maildir opened, its IMAP
 * server connected to with `io` (cli_imap_options of that side's
 * connection), or its POP3 server with io->password (the rest of `io`
 * unused). NULL with `err`. */
struct store;
struct store *cli_side_store(const struct config_account *a, enum side s,
                             const struct imap_session_options *io, struct error *err);

/* Side `s` of account `a` as cli_side_store() opens it, its password
 * resolved first (and dropped once logged in); NULL with `err`. */
struct store *cli_open_side(const struct config_account *a, enum side s, struct error *err);

/* The name `twinbox sync ACCOUNT:FOLDER` takes for server folder `f`
 * under personal namespace prefix `prefix` (fresh): the prefix left out,
 * levels joined by '/', as the IMAP store names folders. *note_r says
 * why sync leaves the folder out (then the name is as sent), or ""
 * (list_folders.c). */
struct imap_folder;
char *cli_imap_sync_name(const struct imap_folder *f, const char *prefix, const char **note_r);

/* POP3 client options for a POP3 server (password referenced). */
void cli_pop3_options(const struct config_conn *c, const char *password, struct pop3_options *o);
/* The sync rules of an account (the config's `sync:` section). */
void cli_plan_rules(const struct config_account *a, struct plan_rules *rules);

/* Which folders of account `a` a run takes (`folders:` include,
 * exclude, and the folder mapping of rename and special_use, kept in
 * *m), set in *o; *m must outlive o's use. Free with cli_folders_free. */
struct cli_folders {
	struct folder_map_rules rules;
	struct store_rename *renames;
};
void cli_folder_options(const struct config_account *a, struct cli_folders *m, struct sync_options *o);
void cli_folders_free(struct cli_folders *m);

/* Load the config (cli_config_path), printing its warnings. NULL after
 * printing why (the command then exits EXIT_CONFIG). *path_r gets the
 * path, or NULL, either way (caller frees). */
struct config *cli_load_config(const struct cli_options *opts, char **path_r);

/* The arguments of `twinbox CMD [OPTION...] [ACCOUNT...]`: the account
 * names, and which of `options` (NULL-terminated, e.g. "--connect")
 * were given (given[i] for options[i]). */
struct cli_accounts {
	const char **names;
	size_t count;
};
/* Parse opts' arguments so; -1 after printing `usage` for an option not
 * in `options` (the command then exits EXIT_USAGE). Free with
 * cli_accounts_free() either way. */
int cli_parse_accounts(const struct cli_options *opts, const char *command, const char *usage,
                       const char *const *options, bool *given, struct cli_accounts *r);
/* EXIT_OK when every name is an account of `cfg` (read from `path`),
 * else EXIT_USAGE after naming those that are not. */
int cli_check_accounts(const struct config *cfg, const char *path, const struct cli_accounts *r);
/* Whether `a` is named (no names: every account is). */
bool cli_account_wanted(const struct cli_accounts *r, const struct config_account *a);
void cli_accounts_free(struct cli_accounts *r);

/* A command on one account (`twinbox CMD ACCOUNT`) of kind `store`:
 * checks the arguments, loads the config, finds the account, refuses one
 * of another kind with `wrong_store`, and returns run()'s exit code. */
int cli_account_command(struct cli_options *opts, const char *usage, enum config_store store,
                        const char *wrong_store,
                        int (*run)(const struct config *cfg, const struct config_account *a));

/* From now on, standard output goes through the escaping rule of
 * util/log.h (cli/term.c); call once, before any thread starts. */
void cli_escape_stdout(void);

/* --jobs: folders (and accounts) at once. */
#define CLI_DEFAULT_JOBS 4
#define CLI_MAX_JOBS     32

/* The value `v` of --jobs of `command` into *jobs_r; -1 after saying
 * what it wants (with `usage`) when it is not a number from 1 to
 * CLI_MAX_JOBS (sync.c). */
int cli_parse_jobs(const char *command, const char *usage, const char *v, unsigned *jobs_r);

/* Sync the accounts of `cfg` (loaded from `path`, named in messages) as
 * `twinbox sync` does, with its options `c`: all of them, or those that
 * `targets` name (ACCOUNT or ACCOUNT:FOLDER). Returns the exit code. The
 * caller brackets it with render_start()/render_end(). */
struct sync_cli;
int cli_sync_accounts(const struct config *cfg, const char *path, const struct sync_cli *c,
                      const char *const *targets, size_t n_targets);

/* `twinbox verify` of account `a`: its lines (or, with `json`, its
 * verify_folder and verify_end objects) on stdout, with `quiet` only
 * those of folders that lack something; EXIT_OK when nothing
 * is missing, EXIT_PARTIAL when something is or a folder could not be
 * read, EXIT_FAILED when nothing could be checked. */
int cli_verify_account(const struct config_account *a, bool json, bool quiet);

/* Who else runs for an account (holders.c). */
struct state_process;
/* "process 12345 on host box since 2026-11-22 03:51:19", or "another
 * process" when `p` names none, into `out`. */
void cli_process_text(const struct state_process *p, char *out, size_t size);
/* `twinbox sync` of account `a` (state `db`) found it locked by
 * another process: when a watcher of the account runs (on this host,
 * not this process), ask it to sync everything now (SIGUSR1) and say so;
 * true when it was asked. */
bool cli_ask_watcher(const struct config_account *a, const char *db);
/* `twinbox watch` of accounts[0..count) registers itself as their
 * watcher (state_watch_register), and ends that; a watcher that already
 * runs for an account is warned about, not replaced. */
void cli_watch_register(const struct config *cfg, const struct config_account *const *accounts,
                        size_t count);
void cli_watch_unregister(void);

int cmd_check_config(struct cli_options *opts);
int cmd_migrate(struct cli_options *opts);
int cmd_verify(struct cli_options *opts);
int cmd_watch(struct cli_options *opts);
int cmd_list_folders(struct cli_options *opts);
int cmd_sync(struct cli_options *opts);
int cmd_preview(struct cli_options *opts);
int cmd_status(struct cli_options *opts);

#endif
