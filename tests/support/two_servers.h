/*
 * Two Dovecots as the two sides of an account (migration tests): what
 * a folder holds on each, compared, and `twinbox migrate` between them.
 * Mailbox names are each server's own (doveadm's: "INBOX.Sent Items" on
 * one with the prefix "INBOX."). Failures abort the test.
 */
#ifndef TWINBOX_TESTS_TWO_SERVERS_H
#define TWINBOX_TESTS_TWO_SERVERS_H

#include <stddef.h>

#include "support/dovecot.h"
#include "support/run.h"

/* dovecot_start_with() text for a server that looks like Courier: the
 * personal namespace "INBOX." with '.' between levels, and no
 * SPECIAL-USE attributes (its folders are known by name only). The
 * fixture's default server is the other kind: '/' between levels, no
 * prefix, \Sent, \Drafts, \Trash and \Junk on the folders of those
 * names. */
#define TWO_COURIER_CONF                                                                                     \
	"namespace inbox {\n"                                                                                \
	"  prefix = INBOX.\n"                                                                                \
	"  separator = .\n"                                                                                  \
	"  mailbox Drafts {\n    special_use =\n  }\n"                                                       \
	"  mailbox Junk {\n    special_use =\n  }\n"                                                         \
	"  mailbox Sent {\n    special_use =\n  }\n"                                                         \
	"  mailbox Trash {\n    special_use =\n  }\n"                                                        \
	"}\n"

/* The Message-IDs of `mailbox` with their flags, sorted, one per line
 * (caller frees). */
char *two_contents(struct dovecot *d, const char *mailbox);
/* The messages of `mailbox`. */
size_t two_count(struct dovecot *d, const char *mailbox);
/* `ma` on a and `mb` on b hold the same messages with the same flags,
 * `expect` of them. */
void two_assert_twins(struct dovecot *a, const char *ma, struct dovecot *b, const char *mb, size_t expect);
/* Every message of `mf` on `from` is in `mt` on `to`, byte for byte. */
void two_assert_same_bytes(struct dovecot *from, const char *mf, struct dovecot *to, const char *mt);
/* A config file (in a fresh temporary directory; test_forget_temp it)
 * with account "move": source a, target b over TLS, its state in
 * `state_dir`, `account_extra` (or NULL) more lines of the account,
 * indented by four spaces ("    folders:\n      rename: ..."). */
char *two_config(const struct dovecot *a, const struct dovecot *b, const char *state_dir,
                 const char *account_extra);
/* `twinbox migrate` from a to b over TLS, passwords by command, state
 * in `state`, `extra` one more argument (or NULL); its exit status. */
int two_migrate(const struct dovecot *a, const struct dovecot *b, const char *state, const char *extra,
                struct run_result *r);

#endif
