/*
 * The IMAP client session: one connection, its state machine, pipelined
 * commands matched by tag, and untagged data dispatched whenever it
 * arrives. Higher-level commands (LIST, SELECT, FETCH, APPEND...) are in
 * commands.h; they are all built on imap_send() / imap_wait() below.
 *
 * States (transitions are traced at log_debug):
 *
 *   NOT_AUTHENTICATED --login--> AUTHENTICATED --SELECT ok--> SELECTED
 *          |  (PREAUTH greeting) ---^    ^---SELECT failed / CLOSE--'
 *          '-------------- BYE, LOGOUT, connection lost --> LOGOUT
 *
 * A session in LOGOUT is finished: every later call fails with the
 * error that ended it (ERR_ACCOUNT), and only imap_session_free remains
 * (imap_reconnect makes a new one like it).
 *
 * Trying again later (error.retry, util/error.h): a NO with [UNAVAILABLE],
 * [LIMIT] or [INUSE] to any command (LOGIN and AUTHENTICATE included) is
 * ERR_RETRY_BUSY; so is a session the server ended with BYE (at the
 * greeting or later). A connection refused, reset, timed out or closed
 * without BYE is ERR_RETRY_LOST.
 *
 * Security rules kept by imap_session_open():
 *  - with tls STARTTLS, the server must offer STARTTLS (else an error, it
 *    is never skipped); bytes received after the STARTTLS OK and before
 *    the handshake are discarded, never parsed; capabilities are asked
 *    again over TLS;
 *  - a PREAUTH greeting on a plain connection is refused unless tls is
 *    TLS_NONE (it would make STARTTLS impossible);
 *  - no password or token is sent on a connection without TLS unless tls
 *    is TLS_NONE (the config's explicit `tls: none`);
 *  - LOGINDISABLED is respected: the LOGIN command is then never sent.
 *
 * COMPRESS=DEFLATE (RFC 4978): right after login, when offered and not
 * turned off (no_compress), the connection is compressed both ways
 * (conn_compress); a NO or BAD to COMPRESS leaves it uncompressed. The
 * login is over by then, so no password goes through the compressor;
 * the trace below shows the protocol in clear, never compressed bytes.
 *
 * Not done: NOTIFY, the UTF8 APPEND data extension (messages are
 * appended as plain literals).
 *
 * Protocol trace: at log_trace every command line ("C: ...") and every
 * response line ("S: ...") is logged; the LOGIN password and every SASL
 * payload appear as "***" (the only place they are kept out of the log:
 * the log rewrites nothing), and literals appear as "{N bytes}", never
 * their content.
 */
#ifndef TWINBOX_IMAP_SESSION_H
#define TWINBOX_IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "twinbox/imap/parser.h"
#include "twinbox/imap/uidset.h"
#include "twinbox/net/conn.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/error.h"

enum imap_state {
	IMAP_STATE_NOT_AUTHENTICATED = 0,
	IMAP_STATE_AUTHENTICATED,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

/* How to authenticate (config `auth:`). PLAIN and LOGIN use
 * AUTHENTICATE with that mechanism when the server offers it, else the
 * LOGIN command (the same secret crosses the wire either way) unless the
 * server says LOGINDISABLED. IMAP_MECH_LOGIN_CMD forces the LOGIN
 * command. The OAuth mechanisms take the access token as the password
 * and are only used when listed. */
enum imap_mech {
	IMAP_MECH_PLAIN = 1,
	IMAP_MECH_LOGIN,
	IMAP_MECH_XOAUTH2,
	IMAP_MECH_OAUTHBEARER,
	IMAP_MECH_LOGIN_CMD,
};

#define IMAP_MECH_MAX 8

struct imap_session_options {
	/* How to connect (imap_connect passes it to conn_open); the session
	 * also takes host and port for messages and OAUTHBEARER, tls as the
	 * connection was opened, and ca_file and fingerprint for STARTTLS. */
	struct conn_options conn;
	const char *user;                    /* NULL: do not log in (connection checks) */
	const char *password;                /* password, or the OAuth2 access token */
	enum imap_mech mechs[IMAP_MECH_MAX]; /* in order of preference */
	size_t mech_count;                   /* 0: the best the server offers */
	bool no_sasl_ir;                     /* never send an initial response (tests) */
	bool no_enable;                      /* send no ENABLE (CONDSTORE, QRESYNC, UTF8=ACCEPT) */
	bool no_id;                          /* send no ID */
	bool no_compress;                    /* never send COMPRESS DEFLATE (config `compress: false`) */
	/* Connection checks (imap/probe.h) set these: */
	const char *tag_prefix;           /* tags are this and a number; NULL: "A" ("A1", "A2"...);
	                                     letters only, at most 4 of them are used */
	bool ask_capability;              /* ask CAPABILITY even when the greeting listed them */
	struct imap_parser_limits limits; /* for the responses; a field left 0 takes its default */
};

/* Extensions enabled with ENABLE (imap_session_enabled). */
enum {
	IMAP_ENABLED_CONDSTORE = 1 << 0,
	IMAP_ENABLED_QRESYNC = 1 << 1,
	IMAP_ENABLED_UTF8 = 1 << 2, /* UTF8=ACCEPT: mailbox names are UTF-8 */
};

/*
 * Session-wide handlers for unsolicited data, called while any command
 * is waited for (or during IDLE). The session has already updated its own
 * view (message count, sequence/UID map) when they run. Any may be NULL.
 */
struct imap_session_handlers {
	void *ctx;
	void (*exists)(void *ctx, uint32_t count);
	/* `uid` is 0 when the session never learned the message's UID. */
	void (*expunge)(void *ctx, uint32_t seq, uint32_t uid);
	void (*vanished)(void *ctx, const struct imap_uid_set *uids, bool earlier);
	/* A FETCH no running command claimed (flag changes by others,
	 * FLAGS/MODSEQ after STORE). Bodies are never handed here. */
	void (*fetch)(void *ctx, const struct imap_fetch *fetch);
	/* [ALERT] text (greeting, tagged or untagged): the server wants a
	 * human to read it. NULL: the session logs it as a warning (as RFC
	 * 3501 7.1 requires; the log escapes it). Never called for an alert
	 * that arrived in plain text before a STARTTLS upgrade: anyone on
	 * the path could have written it, so it is only logged at debug. */
	void (*alert)(void *ctx, const char *text);
	/* Untagged data that no running command wants, and an untagged
	 * OK [NOTIFICATIONOVERFLOW]: what NOTIFY (RFC 5465) sends, a STATUS
	 * or LIST of another mailbox. Valid during the call only. NULL: such
	 * data is logged at debug level and dropped. */
	void (*unsolicited)(void *ctx, const struct imap_response *resp);
};

/* What the server told about the selected mailbox. */
struct imap_mailbox_info {
	uint32_t exists, recent, uidvalidity, uidnext, unseen;
	uint64_t highestmodseq; /* 0 when NOMODSEQ or no CONDSTORE */
	bool nomodseq;
	bool readonly;
	/* PERMANENTFLAGS: the flags that stay on the messages beyond this
	 * session. Without one the server keeps every flag (RFC 3501 7.1);
	 * with one, flags not in it may be refused, dropped, or kept for
	 * the session only. */
	bool permanent_known;           /* the server sent PERMANENTFLAGS */
	unsigned permanent_flags;       /* MAIL_FLAG_* bits it lists */
	const char *permanent_keywords; /* keywords it lists, space separated as sent (NULL:
	                                   none); the session's, until the next SELECT */
	bool keywords_allowed;          /* it has "\*": new keywords may be created */
};

/* ---- commands ------------------------------------------------------ */

struct imap_cmd;

/* Per-command callbacks; any may be NULL. */
struct imap_cmd_ops {
	/* Untagged data of a type in cmd->wants (LIST, STATUS, SEARCH...),
	 * handed to the oldest running command that wants it. */
	void (*response)(struct imap_cmd *cmd, const struct imap_response *resp);
	/* FETCH events (FETCH_BEGIN ... FETCH_END with bodies streamed),
	 * handed to the oldest running command that has this callback. A
	 * return of -1 (with err set) stops further calls for this command;
	 * the stream is still read to its end so the session stays usable,
	 * and imap_wait() returns that error. */
	int (*fetch)(struct imap_cmd *cmd, const struct imap_event *ev, struct error *err);
	/* A "+" continuation for this command that the session does not
	 * handle itself (it handles synchronizing literals): put the reply
	 * line, without CRLF, into `out` and return 0 (set *secret_r to
	 * trace it as "***"); return 1 to send nothing (IDLE's "+ idling");
	 * -1 fails the session. A command with this callback is a barrier:
	 * nothing queued after it is written until it is DONE. */
	int (*continuation)(struct imap_cmd *cmd, const char *text, struct buf *out, bool *secret_r,
	                    struct error *err);
};

enum imap_cmd_state {
	IMAP_CMD_NEW = 0, /* being built */
	IMAP_CMD_QUEUED,  /* tag assigned, (partly) written or waiting to be */
	IMAP_CMD_DONE,    /* tagged response received, or the session failed */
};

/* A response code kept from a command's own responses (see accept). */
struct imap_cmd_code {
	enum imap_code_type type; /* IMAP_CODE_NONE when none was trusted */
	uint32_t number;
	uint64_t modseq;
	uint32_t uidvalidity;
	struct imap_uidset src, dst; /* owned */
};

struct imap_cmd_part; /* private */

/*
 * A command. The caller owns the struct (stack, array, heap), builds it
 * with imap_cmd_init() and imap_cmd_add*(), sends it with imap_send(),
 * reads the result after imap_wait(), and releases it with
 * imap_cmd_free(). It must not move or be freed while QUEUED.
 */
struct imap_cmd {
	/* Set by the caller after imap_cmd_init. */
	const struct imap_cmd_ops *ops;
	void *ctx;
	unsigned wants;       /* 1u << enum imap_data_type for ops->response */
	uint64_t accept;      /* 1ull << enum imap_code_type: codes trusted from this
	                         command's tagged response (and, for COPYUID with
	                         MOVE, its untagged OK) */
	enum err_scope scope; /* scope of a NO/BAD; default ERR_ACCOUNT */
	bool is_select;       /* SELECT/EXAMINE: untagged OK codes describe the mailbox */
	bool is_move;         /* untagged OK [COPYUID] belongs to it */

	/* Results, valid once state is DONE. */
	enum imap_cmd_state state;
	char tag[16];
	enum imap_cond cond;       /* OK / NO / BAD; NONE when the session failed */
	struct imap_cmd_code code; /* a trusted code from the tagged response */
	enum imap_code_type said;  /* the tagged response's code, trusted or not */
	char *status;              /* "NO [NONEXISTENT] Mailbox doesn't exist" (owned) */
	bool cb_failed;            /* a callback returned -1: */
	struct error cb_err;       /* its error */

	/* Private. */
	struct imap_cmd_part *parts;
	size_t part_count, part_cap;
	size_t write_part;     /* next part to write */
	uint64_t write_off;    /* bytes of its literal already written */
	bool text_done;        /* the text of write_part is written */
	bool awaiting_literal; /* stopped before a synchronizing literal */
	struct buf text;       /* text being built (becomes a part) */
	struct buf what;       /* human form for traces and messages */
	struct imap_cmd *next;
};

/* A literal's bytes produced on demand (APPEND of a message from a
 * file): `read` puts 1..len bytes in `data` and sets *got_r, or fails
 * with -1. It must produce exactly `size` bytes in total; a failure or
 * short source ends the session (the announced literal cannot be
 * completed). */
struct imap_literal_source {
	uint64_t size;
	int (*read)(void *ctx, void *data, size_t len, size_t *got_r, struct error *err);
	void *ctx;
};

/* ---- the session --------------------------------------------------- */

struct imap_session;

/* A session over `c` (owned from now on; closed by imap_session_free).
 * Strings in `opts` are copied. Nothing is read or written yet. */
struct imap_session *imap_session_new(struct conn *c, const struct imap_session_options *opts);

/* Read the greeting, CAPABILITY, STARTTLS when configured; unless
 * opts->user is NULL (a connection check, which ends here), authenticate
 * (unless the greeting was PREAUTH), then COMPRESS DEFLATE when offered
 * (unless opts->no_compress), ENABLE what is offered of
 * CONDSTORE/QRESYNC/UTF8=ACCEPT, ID and NAMESPACE.
 * -1 with ERR_ACCOUNT on any failure, with a message naming host:port
 * and the cause (a greeting that is not one quotes what came instead;
 * more than 1000 untagged responses before login end the session); an
 * authentication failure says whether the server
 * refused the user name or password ([AUTHENTICATIONFAILED]), is
 * temporarily unavailable ([UNAVAILABLE]), allows no more connections or
 * logins now ([LIMIT], [INUSE]: these three are ERR_RETRY_BUSY), or
 * forbids LOGIN (LOGINDISABLED). */
int imap_session_open(struct imap_session *s, struct error *err);

/* conn_open + imap_session_new + imap_session_open. */
struct imap_session *imap_connect(const struct imap_session_options *opts, struct error *err);

/* A new session to the server of `s` with the options `s` was made with
 * (imap_connect: connected, logged in with the same user and password),
 * for going on after `s` ended (a BYE, a lost connection). `s` is not
 * changed; the caller frees it. NULL with `err` as for imap_connect. */
struct imap_session *imap_reconnect(const struct imap_session *s, struct error *err);

/* LOGOUT (waiting for the reply), then free. Errors of the LOGOUT are
 * ignored: the session is over either way. NULL is fine. */
void imap_session_close(struct imap_session *s);
/* Free without LOGOUT (after a failure). NULL is fine. */
void imap_session_free(struct imap_session *s);

void imap_session_set_handlers(struct imap_session *s, const struct imap_session_handlers *h);

enum imap_state imap_session_state(const struct imap_session *s);
const char *imap_state_name(enum imap_state state);
/* Whether the current capabilities include `cap` (case-insensitive,
 * "IDLE", "AUTH=PLAIN"). */
bool imap_has_cap(const struct imap_session *s, const char *cap);
/* The capabilities, space separated (for display). Valid until they
 * change. */
const char *imap_capabilities(const struct imap_session *s);
unsigned imap_session_enabled(const struct imap_session *s);
/* The greeting as the session read it, without the leading "* "
 * ("OK [CAPABILITY IMAP4rev1] ready"), for display; "" before it came. */
const char *imap_greeting(const struct imap_session *s);
/* Bytes discarded after the STARTTLS OK (see above). */
size_t imap_starttls_discarded(const struct imap_session *s);
/* The personal namespace's prefix ("" or "INBOX.") and delimiter (0 when
 * the server has none or sent no NAMESPACE). */
const char *imap_namespace_prefix(const struct imap_session *s);
char imap_delimiter(const struct imap_session *s);
const struct imap_mailbox_info *imap_selected(const struct imap_session *s);
/* The UID of message `seq` in the selected mailbox, 0 when unknown. */
uint32_t imap_seq_to_uid(const struct imap_session *s, uint32_t seq);
struct conn *imap_session_conn(struct imap_session *s);

/* ---- building and running commands --------------------------------- */

/* Start a command: `verb` may hold arguments already ("UID FETCH").
 * Zeroes `cmd` first. */
void imap_cmd_init(struct imap_cmd *cmd, const char *verb);
/* Append raw protocol text (atoms, numbers, parentheses) as is; shown
 * in traces and messages as written. */
void imap_cmd_add(struct imap_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append " " and a string: quoted when it is printable ASCII, else a
 * literal (non-synchronizing with LITERAL+, or LITERAL- up to 4096
 * bytes; synchronizing otherwise). With `secret`, traces show "***". */
void imap_cmd_add_string(struct imap_session *s, struct imap_cmd *cmd, const char *data, size_t len,
                         bool secret);
/* Append " " and the UTF-8 mailbox `name` encoded for the wire (see
 * mailbox_name.h); messages show the UTF-8 name quoted. -1 with
 * ERR_MAILBOX for a name with CR, LF or NUL or invalid UTF-8. */
int imap_cmd_add_mailbox(struct imap_session *s, struct imap_cmd *cmd, const char *name, struct error *err);
/* Append " " and a literal of `len` bytes from memory (not copied: it
 * must stay valid until the command is DONE), or from a source (the
 * struct must stay valid likewise). */
void imap_cmd_add_literal(struct imap_session *s, struct imap_cmd *cmd, const void *data, size_t len);
void imap_cmd_add_literal_source(struct imap_session *s, struct imap_cmd *cmd,
                                 const struct imap_literal_source *src);
void imap_cmd_free(struct imap_cmd *cmd);

/* Queue `cmd`: assign its tag and write it (buffered; flushed before any
 * blocking read, or when the buffer is large). A command behind a
 * synchronizing literal waits in the queue until the server's "+".
 * -1 (ERR_ACCOUNT) when the session is finished or the write fails. */
int imap_send(struct imap_session *s, struct imap_cmd *cmd, struct error *err);

/* Read and dispatch responses until `cmd` is DONE. Returns 0 for OK;
 * -1 otherwise with err naming the command and the server's text:
 *   "SELECT \"Archive\" failed: NO [NONEXISTENT] Mailbox doesn't exist"
 * with cmd->scope for NO/BAD, ERR_ACCOUNT when the session failed (BYE,
 * connection lost, timeout, malformed response), or a callback's error.
 * A NO with [UNAVAILABLE], [LIMIT] or [INUSE] is ERR_RETRY_BUSY, and of
 * scope ERR_MAILBOX at least (the server refuses work for now, whatever
 * the message): "SELECT \"INBOX\" failed at host:993: NO [UNAVAILABLE]
 * Try later". */
int imap_wait(struct imap_session *s, struct imap_cmd *cmd, struct error *err);

/* imap_send + imap_wait. */
int imap_run(struct imap_session *s, struct imap_cmd *cmd, struct error *err);

/* Wait until no command is running. 0, or -1 when the session failed. */
int imap_drain(struct imap_session *s, struct error *err);

/* The error from a finished command (as imap_wait returns it). */
int imap_cmd_error(const struct imap_session *s, const struct imap_cmd *cmd, struct error *err);

#endif
