/*
 * A real Dovecot 2.3 (IMAP + POP3) for tests, in a fresh temporary
 * directory, on free 127.0.0.1 ports, with its own CA.
 *
 * Listeners (all on 127.0.0.1 unless said):
 *   imap_port   plain IMAP, STARTTLS offered        (like 143)
 *   imaps_port  implicit TLS                         (like 993)
 *   pop3_port   plain POP3, STLS offered             (like 110)
 *   pop3s_port  implicit TLS                         (like 995)
 * Certificates: the server certificate is issued by the fixture CA
 * (ca_file) for "localhost" and 127.0.0.1. Extra loopback addresses give
 * misbehaving certificates on the same ports:
 *   DOVECOT_ADDR_WRONG_NAME   "127.0.0.2": cert only for wrong.example
 *   DOVECOT_ADDR_EXPIRED      "127.0.0.3": cert for 127.0.0.3, expired
 *   DOVECOT_ADDR_NO_STARTTLS  "127.0.0.4": no TLS at all (no STARTTLS/STLS;
 *                                          the TLS ports close at once)
 * All certificates are ECDSA P-256, signed by the fixture CA.
 * Login: user/password below (PLAIN and LOGIN, plaintext allowed without
 * TLS), passwd-file; mail in Maildir (fs layout) under dir, '/' is the
 * hierarchy separator, messages are stored with CRLF line ends. Started as
 * root, the mail processes run as "nobody"; otherwise as the current user.
 * Auth failures are answered without delay. CONDSTORE/QRESYNC, UIDPLUS,
 * MOVE etc. as Dovecot offers them by default; POP3 UIDLs are
 * "%08Xu%08Xv" (UID then UIDVALIDITY, hex).
 *
 * Every function aborts the running test (cr_assert) on failure, with the
 * cause and the tail of Dovecot's log in the message. Nothing of an
 * instance outlives the process that started it: if that process dies
 * without dovecot_stop() (crash, timeout, Ctrl-C), a watchdog kills the
 * server and removes the directory.
 */
#ifndef TWINBOX_TESTS_DOVECOT_H
#define TWINBOX_TESTS_DOVECOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DOVECOT_ADDR_WRONG_NAME  "127.0.0.2"
#define DOVECOT_ADDR_EXPIRED     "127.0.0.3"
#define DOVECOT_ADDR_NO_STARTTLS "127.0.0.4"

struct dovecot {
	char *dir;           /* temporary directory; removed by dovecot_stop() */
	char *ca_file;       /* PEM of the fixture CA */
	char *other_ca_file; /* PEM of a CA that signed nothing the server uses */
	char *cert_file;     /* server certificate (for fingerprint tests) */
	char *user;          /* "tbuser" */
	char *password;
	unsigned imap_port, imaps_port, pop3_port, pop3s_port;
	pid_t pid; /* master process, read from its pid file */

	/* For the fixture itself and for debugging a failed test. */
	char *conf_file; /* dovecot.conf: `doveadm -c <conf_file> ...` works by hand */
	char *log_file;  /* everything Dovecot logs */
	uid_t mail_uid;  /* owner of the mail files */
	gid_t mail_gid;
	bool shared;    /* the run-wide instance: dovecot_stop() leaves it alone */
	pid_t watchdog; /* see "watchdog" in dovecot.c; 0 for the shared one */
	int watchdog_fd;
	char *extra_conf; /* dovecot_start_with() */
};

/* Start a fresh instance (about 0.1 s). */
struct dovecot *dovecot_start(void);
/* The same with `extra_conf` appended to the configuration (a later
 * setting overrides the fixture's, e.g. "mail_max_userip_connections = 1"). */
struct dovecot *dovecot_start_with(const char *extra_conf);
/* Replace the text dovecot_start_with() appended to the configuration
 * (NULL: none) and reload it (doveadm reload); logins from then on get
 * the new settings (a quota rule, say). Not for the shared instance. */
void dovecot_reconfigure(struct dovecot *d, const char *extra_conf);

/* dovecot_start_with() text for the quota plugin with the `count`
 * backend and the quota rule `rule` ("*:storage=100K",
 * "*:messages=10"); GETQUOTAROOT then names the root "User quota". */
#define DOVECOT_QUOTA_CONF(rule)                                                                             \
	"mail_plugins = $mail_plugins quota\n"                                                               \
	"protocol imap {\n  mail_plugins = $mail_plugins quota imap_quota\n}\n"                              \
	"plugin {\n  quota = count:User quota\n  quota_rule = " rule "\n  quota_vsizes = yes\n}\n"

/* Stop by pid, wait until the master is gone (bounded), remove the
 * directory, free `d`. Stopping is a SIGKILL to Dovecot's process group:
 * nothing of the instance is kept, and Dovecot's graceful shutdown costs a
 * second or more. Does nothing for the shared instance. */
void dovecot_stop(struct dovecot *d);

/* Kill the instance as a crash would (SIGKILL to all its processes:
 * clients see their connections reset), keeping its directory, ports,
 * users and mail; dovecot_restart() starts it again on the same ports.
 * Nothing but dovecot_drop() works in between. Not for the shared
 * instance. */
void dovecot_kill(struct dovecot *d);
void dovecot_restart(struct dovecot *d);

/* The instance shared by the whole test run. The runner process prepares
 * a directory before any test (ReportHook PRE_ALL) and passes it to the
 * test workers in the environment variable TWINBOX_DOVECOT; the first test
 * that calls this starts Dovecot there (so runs without integration tests
 * never start it); the runner stops it and removes the directory after
 * all tests (POST_ALL). The result stays valid for the whole test; do not
 * free or stop it. Tests that only need "a server" use this, each with its
 * own mailbox names (tests run in parallel); tests that change server-wide
 * state (UIDVALIDITY resets, stopping the server) start their own.
 * Without TWINBOX_DOVECOT (another runner), a private instance is started
 * for this process and removed when the process exits. */
struct dovecot *dovecot_shared(void);

/* The last `max` bytes of Dovecot's log (caller frees), for assertion
 * messages. */
char *dovecot_log_tail(const struct dovecot *d, size_t max);

/* More mail users of the instance (names of [A-Za-z0-9_.-]), with the
 * instance's password and a home each; they can log in on return (up
 * to a second later than called). The seeding and reading helpers below
 * act on d->user: switch it with dovecot_as_user(). */
void dovecot_add_users(struct dovecot *d, const char *const *users, size_t count);
/* Make d->user `user` (the fixture's own, or one added). */
void dovecot_as_user(struct dovecot *d, const char *user);

/* Seeding and reading back, through doveadm with the instance's config.
 * Mailbox names are Dovecot's names in UTF-8 with '/' as separator
 * ("INBOX", "Work/Projects"); they must not contain the wildcards '*' or
 * '%'. Missing mailboxes are created (with missing parents). Nothing here
 * is safe against other writers appending to the same mailbox meanwhile:
 * give each test its own mailboxes. */
void dovecot_create_mailbox(struct dovecot *d, const char *mailbox);
/* Append a raw RFC 5322 message (stored with CRLF line ends); returns its
 * UID. `flags` is an IMAP flag list without parentheses
 * ("\\Seen \\Flagged $Label1") or NULL. */
unsigned dovecot_append(struct dovecot *d, const char *mailbox, const char *message, size_t len,
                        const char *flags);
/* Append `count` (<= 1000000) generated messages, delivered straight into
 * the Maildir and indexed before returning: message i (0-based) is
 * test_message(seed + i, a) where a = attach_size for every fifth message
 * (i % 5 == 4) and 0 for the others. UIDs follow i, no flags are set.
 * Seeding 2000 messages takes about a second (disk bound). */
void dovecot_seed(struct dovecot *d, const char *mailbox, unsigned count, unsigned seed, size_t attach_size);

/* The directory of `mailbox`'s Maildir (caller frees; created if need
 * be), for dovecot_drop(). */
char *dovecot_maildir(struct dovecot *d, const char *mailbox);
/* dovecot_seed's messages written into new/ of the Maildir at
 * `maildir`, as a delivery agent writes them, without a word to Dovecot
 * (which finds them when a client next looks): works while the server
 * is down (dovecot_kill). */
void dovecot_drop(struct dovecot *d, const char *maildir, unsigned count, unsigned seed, size_t attach_size);

struct dovecot_msg {
	unsigned uid;
	char *flags; /* space separated as doveadm prints them, without \Recent */
	size_t size; /* RFC822.SIZE, as an IMAP client sees it */
	char *body;  /* whole raw message (as IMAP BODY[] returns it) when
	              * fetched with bodies, else NULL */
	size_t body_len;
};
/* Read back every message of `mailbox` in UID order; `*count_r` messages,
 * free with dovecot_msgs_free(). A mailbox that does not exist fails the
 * test. Reading does not change flags. */
struct dovecot_msg *dovecot_list(struct dovecot *d, const char *mailbox, bool bodies, size_t *count_r);
/* The messages `mailbox` holds now (doveadm mailbox status): safe while
 * another client changes it, unlike dovecot_list. */
unsigned long dovecot_message_count(struct dovecot *d, const char *mailbox);
void dovecot_msgs_free(struct dovecot_msg *msgs, size_t count);
/* Whether `flag` ("\\Seen", "$Label1"; case-insensitive) is set on `m`. */
bool dovecot_msg_has_flag(const struct dovecot_msg *m, const char *flag);
/* Mailboxes in UTF-8, sorted (strcmp), NULL-terminated array; includes
 * parents that exist only as hierarchy (\Noselect, e.g. "Work" of
 * "Work/Projects"). Free with dovecot_strv_free(). */
char **dovecot_mailboxes(struct dovecot *d);

/* Change the server as another client would: `op` is "add", "remove" or
 * "replace" for doveadm flags; expunge one UID; set UIDVALIDITY (doveadm
 * mailbox update --uid-validity, which renumbers nothing but makes every
 * client's UIDs stale). */
void dovecot_flags(struct dovecot *d, const char *mailbox, unsigned uid, const char *op, const char *flags);
void dovecot_expunge(struct dovecot *d, const char *mailbox, unsigned uid);
void dovecot_set_uidvalidity(struct dovecot *d, const char *mailbox, unsigned uidvalidity);
/* Delete a mailbox with its messages (doveadm mailbox delete). */
void dovecot_delete_mailbox(struct dovecot *d, const char *mailbox);
void dovecot_strv_free(char **v);

/* Sessions and passwords. dovecot_set_password: d->user's password
 * from now on (d->password too); returns once logins with it work, as
 * an expiring token is replaced at a provider. dovecot_kick: end every
 * IMAP and POP3 session of d->user (doveadm kick). dovecot_imap_pids:
 * the IMAP session processes of the instance now (at most `max`, into
 * `pids`), for a test that freezes one (SIGSTOP) as a server that went
 * silent. */
void dovecot_set_password(struct dovecot *d, const char *password);
void dovecot_kick(struct dovecot *d);
size_t dovecot_imap_pids(const struct dovecot *d, pid_t *pids, size_t max);

/* Generated message text (caller frees; `*len_r` bytes plus a NUL):
 * RFC 5322 with CRLF line ends, Message-ID <seed.N@twinbox.test> (N =
 * `seed`), From, To, Subject "Test message N", Date (derived from N),
 * MIME-Version, a text body whose length varies with N; with
 * attach_size > 0 a multipart/mixed message whose second part is an
 * attachment of attach_size bytes in base64 (lines of 76). The same
 * arguments always give the same bytes. */
char *test_message(unsigned seed, size_t attach_size, size_t *len_r);

/* `len` pseudo-random bytes from `seed` (xorshift): no shift or
 * reordering of a chunk of them reproduces another. */
void test_fill_pattern(unsigned char *p, size_t len, uint32_t seed);

#endif
