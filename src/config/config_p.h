/*
 * Helpers shared by the files of config/, not part of its interface.
 */
#ifndef TWINBOX_CONFIG_CONFIG_P_H
#define TWINBOX_CONFIG_CONFIG_P_H

#include <stddef.h>

#include "twinbox/state/side.h"

/* Longest piece of a user's value quoted back in a message. */
#define CONFIG_QUOTE_MAX 60

/* Write `len` bytes of `text` into `out` (at least 4 * CONFIG_QUOTE_MAX + 8
 * bytes) for quoting in a message: printable ASCII and UTF-8 as is, other
 * bytes as \xNN, '"' and '\' escaped, cut at CONFIG_QUOTE_MAX bytes with
 * "...". Never used for a password. */
#define CONFIG_QUOTE_SIZE (4 * CONFIG_QUOTE_MAX + 8)
void config_quote(char *out, const char *text, size_t len);

struct loader;
struct section;
struct config_account;

/* Load the keys of `imap:` or `pop3:` (section `s`) into side `side`'s
 * conn of `acct` and, for POP3, `acct->pop3`; that side's store and
 * acct->name are already set. Returns 0 or -1 (loader error set).
 * (conn.c) */
int config_load_conn(struct loader *ld, const struct section *s, struct config_account *acct,
                     enum side side);

/* Whether a `ca_file` can be used: 0 when it is a regular file this
 * process can read, the errno when it cannot be opened, -1 when it is
 * not a regular file (conn.c). */
int config_ca_file_problem(const char *path);

/* `hooks:` of section `s` (the top level, or an account's, `acct`
 * then set) over `base` into *h: the keys written replace base's, the
 * rest is base's (copied). `base` NULL: the defaults. Returns 0 or -1
 * (loader error set); *h is filled either way (config_free_hooks it).
 * (hooks.c) */
struct config_hooks;
int config_load_hooks(struct loader *ld, const struct section *s, const struct config_hooks *base,
                      const struct config_account *acct, struct config_hooks *h);
void config_free_hooks(struct config_hooks *h);

/* `watch:` of account `acct` (section `s`) into acct->watch, the
 * defaults where not written; acct's sides are loaded. 0 or -1 (loader
 * error set). (watch.c) */
int config_load_watch(struct loader *ld, const struct section *s, struct config_account *acct);

/* Free what config_load_conn allocated (both sides), wiping the
 * passwords. */
void config_free_conn(struct config_account *acct);

#endif
