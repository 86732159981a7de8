/*
 * Private parts of the IMAP session, shared by its files:
 *
 *   session.c          lifecycle, state machine, greeting, STARTTLS, COMPRESS,
 *                      capabilities
 *   session_cmd.c      building commands (strings, literals, mailbox names)
 *   session_io.c       the write queue, reading, dispatch by tag, imap_wait
 *   session_untagged.c untagged data: the mailbox view, the seq <-> UID map
 *   session_trace.c    the protocol trace of server bytes
 *   auth.c             LOGIN and AUTHENTICATE
 *   mailbox_cmds.c     LIST, CREATE, DELETE, RENAME, SUBSCRIBE, STATUS
 *   select.c           SELECT/EXAMINE, UNSELECT, NOOP, ENABLE, ID, NAMESPACE
 *   fetch.c            UID FETCH helpers
 *   message_cmds.c     UID STORE, UID EXPUNGE, UID COPY/MOVE
 *   append.c           APPEND, pipelined and MULTIAPPEND
 *   pipeline.c         the window of pipelined commands the bulk helpers share
 *   idle.c             IDLE
 */
#ifndef TWINBOX_IMAP_SESSION_P_H
#define TWINBOX_IMAP_SESSION_P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twinbox/imap/session.h"
#include "twinbox/util/buf.h"

#define IMAP_READ_CHUNK        (64 * 1024)
#define IMAP_WRITE_FLUSH       (64 * 1024) /* write buffer flushed beyond this */
#define IMAP_LITERAL_MINUS_MAX 4096        /* LITERAL-: largest non-synchronizing literal */
#define IMAP_CAPS_MAX          1000        /* capabilities kept */
#define IMAP_SEQMAP_MAX        50000000u   /* messages in the selected mailbox we track */
#define IMAP_TRACE_LINE_MAX    2000        /* bytes of one traced line shown */
#define IMAP_GREETING_HEAD     101         /* bytes of a bad greeting kept for its message */
#define IMAP_TAG_PREFIX_MAX    4           /* characters of opts.tag_prefix used */

enum imap_lit_kind {
	IMAP_LIT_NONE = 0,
	IMAP_LIT_SYNC,   /* {n}: wait for "+" */
	IMAP_LIT_NOSYNC, /* {n+} */
};

/* A piece of a command: text, then optionally a literal. The text of a
 * part ends with the literal's "{n}\r\n" when there is one. */
struct imap_cmd_part {
	struct buf text;
	enum imap_lit_kind lit;
	const void *lit_data;
	const struct imap_literal_source *lit_src;
	uint64_t lit_len;
	bool lit_owned; /* lit_data is a copy the command frees */
};

struct imap_trace {
	struct buf line;       /* the line being collected */
	size_t line_bytes;     /* bytes of it seen (may exceed what is kept) */
	uint64_t literal_left; /* literal bytes still to skip */
};

struct imap_session {
	struct conn *conn;
	struct imap_session_options opts; /* strings owned (copies) */
	char *peer;                       /* "host:port" for messages */
	enum imap_state state;
	struct imap_session_handlers handlers;

	struct imap_parser *parser;
	unsigned char *rbuf; /* fed to the parser; stable until consumed */
	bool parser_pending; /* rbuf bytes fed but not all consumed */
	bool careful;        /* read one byte at a time (STARTTLS reply) */
	struct buf wbuf;     /* bytes not yet written */

	char tag_prefix[IMAP_TAG_PREFIX_MAX + 1];
	unsigned next_tag;
	struct imap_cmd *queue_head, *queue_tail; /* every QUEUED command, in order */
	struct imap_cmd *write_cursor;            /* first command not fully written */
	struct imap_cmd *cont_cmd;                /* the command a "+" is for */
	struct imap_cmd *fetch_owner;             /* gets the events of the current FETCH */

	bool failed;
	struct error fail_err; /* why the session ended (ERR_ACCOUNT) */
	char *bye_text;        /* text of an untagged BYE */

	char **caps;
	size_t cap_count;
	struct buf caps_text;
	bool caps_known; /* caps set since the last clear */
	bool greeted;
	char greet_head[IMAP_GREETING_HEAD]; /* the first bytes received, up to a line end */
	size_t greet_head_len;
	bool greet_head_done;       /* the line end was seen */
	unsigned prelogin_untagged; /* untagged responses while NOT_AUTHENTICATED */
	unsigned enabled;
	char *greeting;
	bool preauth;
	size_t discarded;
	char *ns_prefix;
	char ns_delim;

	struct imap_mailbox_info mbox;
	char *mbox_name;  /* UTF-8 name of the selected mailbox */
	char *perm_keywords; /* mbox.permanent_keywords */
	uint32_t *seqmap; /* seqmap[seq - 1] = UID, 0 unknown; mbox.exists entries */
	size_t seqmap_cap;

	bool idling;
	struct imap_cmd *idle_cmd;
	bool idle_news;

	struct imap_trace trace;
};

/* session.c */
void imap_set_state(struct imap_session *s, enum imap_state state);
void imap_caps_set_atoms(struct imap_session *s, const struct imap_atoms *atoms);
void imap_caps_clear(struct imap_session *s);
/* The session ends: every running command finishes with this error. */
void imap_session_fail(struct imap_session *s, const struct error *err);
/* "host:port" for messages. */
const char *imap_peer(const struct imap_session *s);
/* ask for CAPABILITY again */
int imap_capability(struct imap_session *s, struct error *err);
/* COMPRESS DEFLATE when the server offers it and opts.no_compress is
 * false; a NO or BAD leaves the session uncompressed (0). -1 when the
 * session failed. */
int imap_compress(struct imap_session *s, struct error *err);
/* "<peer> did not greet like an IMAP server (got \"...\"); check host and
 * port" into err, quoting the first line received. */
void imap_bad_greeting(struct imap_session *s, struct error *err);

/* session_io.c */
int imap_flush(struct imap_session *s, struct error *err);
/* Read and dispatch one event (blocking for bytes when needed). 0 or -1. */
int imap_step(struct imap_session *s, struct error *err);
bool imap_session_busy(const struct imap_session *s);
/* Dispatch one event from bytes already read: 1 done, 0 the parser needs
 * more bytes, -1 the session failed. */
int imap_step_nowait(struct imap_session *s, struct error *err);
/* Read one chunk (blocking up to the I/O timeout) and feed it. */
int imap_read_chunk(struct imap_session *s, struct error *err);
void imap_seqmap_reset(struct imap_session *s);

/* The session ends with a protocol error (ERR_ACCOUNT). */
void imap_fail_protocol(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The oldest command whose text went out, for which want(cmd, arg) holds. */
struct imap_cmd *imap_oldest_sent(struct imap_session *s, bool (*want)(const struct imap_cmd *, unsigned),
                                  unsigned arg);
bool imap_cmd_wants_type(const struct imap_cmd *c, unsigned type);
bool imap_cmd_wants_fetch(const struct imap_cmd *c, unsigned unused);
bool imap_cmd_is_select(const struct imap_cmd *c, unsigned unused);
bool imap_cmd_is_move(const struct imap_cmd *c, unsigned unused);
void imap_copy_code(struct imap_cmd_code *dst, const struct imap_resp_code *src);

/* session_untagged.c */
/* An [ALERT] (RFC 3501 7.1: it must be shown to the user): to the alert
 * handler, else a warning; dropped (debug only) before a STARTTLS
 * upgrade. */
void imap_alert(struct imap_session *s, const struct imap_response *resp);
void imap_on_untagged(struct imap_session *s, const struct imap_response *resp);
void imap_on_fetch_event(struct imap_session *s, const struct imap_event *ev);

/* session_cmd.c */
/* Finish the part being built (make it a part without literal). */
void imap_cmd_seal(struct imap_cmd *cmd);
/* Escaped, quoted, shortened form of bytes for messages ("\"Ar\\x01\""). */
char *imap_quote_for_message(const char *data, size_t len);

/* session_trace.c */
void imap_trace_server(struct imap_session *s, const unsigned char *data, size_t len);
void imap_trace_free(struct imap_trace *t);

/* message_cmds.c: a space separated flag list of valid atoms? -1 (ERR_MESSAGE) if not */
int imap_check_flags(const char *flags, struct error *err);

/* auth.c */
int imap_authenticate(struct imap_session *s, struct error *err);

/* select.c */
int imap_after_login(struct imap_session *s, struct error *err);

#endif
