/*
 * The IMAP response parser: a pure, incremental state machine. It is fed
 * the bytes a server sent and yields parsed responses as events. It never
 * touches a socket, never prints, and never recurses on input depth.
 *
 * Use:
 *
 *	p = imap_parser_new(NULL);
 *	for (;;) {
 *		n = read(fd, buf, sizeof(buf));
 *		imap_parser_feed(p, buf, n);
 *		while ((r = imap_parser_next(p, &ev, &err)) == 1)
 *			handle(&ev);
 *		if (r < 0)
 *			drop the connection: err says why;
 *		// r == 0: every fed byte is consumed, buf may be reused
 *	}
 *
 * Events (the contract):
 *
 *  - Every response except an untagged FETCH yields exactly one
 *    IMAP_EV_RESPONSE, once its final CRLF has arrived.
 *  - An untagged FETCH ("* n FETCH (...)") always yields
 *
 *	FETCH_BEGIN  (BODY_START  BODY_CHUNK*  BODY_END)*  FETCH_END
 *
 *    with one BODY_START..BODY_END group per body item (BODY[section],
 *    BODY.PEEK[...], BINARY[...], RFC822, RFC822.HEADER, RFC822.TEXT), in
 *    the order the server sent them. The body's value may be a literal
 *    (streamed: never buffered whole, chunks point into the fed bytes), a
 *    quoted string (one chunk) or NIL (body->nil set, no chunk). A body of
 *    size 0 has no chunk. Other items may come before, between or after
 *    bodies ("* 1 FETCH (BODY[] {5}\r\nhello UID 7)").
 *  - ev->fetch is cumulative: at FETCH_BEGIN it holds the items that came
 *    before the first body (all items when there is no body); each later
 *    event sees the items parsed so far; FETCH_END holds every item of the
 *    response, and only then are fetch->items (the raw item list) set.
 *
 * Lifetime: every pointer reachable from an event (strings, arrays, the
 * response, body chunks) stays valid until the next call of
 * imap_parser_next(), imap_parser_feed() or imap_parser_free().
 *
 * Errors: a malformed response or an exceeded limit makes
 * imap_parser_next() return -1 with `err` filled (ERR_ACCOUNT; the text
 * says what was expected, near which bytes (escaped), and for which tag).
 * The byte stream cannot be resynchronised after that: the parser stays
 * failed, returning the same error on every later call, and the caller
 * must drop the connection.
 *
 * Strictness: the grammar of RFC 3501/9051 is enforced where a mistake
 * would desynchronise the stream or hide data (CRLF line ends, balanced
 * parentheses, literal syntax, quoted-string escapes, numbers that fit,
 * known response codes and data with well-formed arguments). Known server
 * habits are accepted: doubled or trailing spaces ("* SEARCH \r\n"),
 * ")(" without a space (NAMESPACE, BODYSTRUCTURE), 8-bit bytes in atoms
 * and quoted strings, "+\r\n" without text, lower-case keywords.
 *
 * Strings: every string is NUL-terminated for convenience, but its length
 * is authoritative where one is given (a literal may hold NUL bytes).
 * Mailbox names are raw bytes as sent (modified UTF-7 unless UTF8=ACCEPT
 * is in effect); see twinbox/imap/utf7.h for decoding.
 */
#ifndef TWINBOX_IMAP_PARSER_H
#define TWINBOX_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "twinbox/util/error.h"

/*
 * Bounds. A zero field means "use the default". Every count and length
 * that comes from the server is checked against one of these.
 */
struct imap_parser_limits {
	/* Bytes of one response, CRLF and small literals included, streamed
	 * bodies excluded. Dovecot sends long lines for big UID sets, hence
	 * the generous default. */
	size_t max_line;
	/* Largest literal that is not a FETCH body (mailbox names, ENVELOPE
	 * strings...); such literals are buffered. */
	size_t max_literal;
	/* Largest FETCH body literal; streamed, so this is a sanity bound. */
	uint64_t max_body;
	/* Nesting of parenthesised lists. */
	size_t max_depth;
	/* Tokens (atoms, strings, lists, numbers) in one response; this also
	 * bounds SEARCH results and list lengths. */
	size_t max_args;
	/* Flags in one FLAGS / PERMANENTFLAGS list or one message's FLAGS. */
	size_t max_flags;
};

#define IMAP_PARSER_DEFAULT_MAX_LINE    (1024 * 1024)
#define IMAP_PARSER_DEFAULT_MAX_LITERAL (64 * 1024)
#define IMAP_PARSER_DEFAULT_MAX_BODY    ((uint64_t)2 * 1024 * 1024 * 1024)
#define IMAP_PARSER_DEFAULT_MAX_DEPTH   32
#define IMAP_PARSER_DEFAULT_MAX_ARGS    200000
#define IMAP_PARSER_DEFAULT_MAX_FLAGS   1000

/* ---- raw tokens ---------------------------------------------------- */

enum imap_arg_type {
	IMAP_ARG_ATOM = 1, /* atoms, numbers, flags, NIL (see imap_arg_is_nil) */
	IMAP_ARG_QUOTED,   /* a quoted string, unescaped */
	IMAP_ARG_LITERAL,  /* {n} or ~{n} literal, buffered */
	IMAP_ARG_LIST,     /* ( ... ) */
	IMAP_ARG_BODY,     /* a FETCH body streamed as BODY_* events: str is
	                      NULL, len is its size */
};

/*
 * Tokens are stored flat, in the order they arrived (pre-order). A list
 * node is followed by its `span` descendants; its `count` direct children
 * are reached from arg + 1 with imap_arg_next().
 */
struct imap_arg {
	enum imap_arg_type type;
	const char *str; /* atom / string bytes (NUL-terminated) */
	size_t len;      /* bytes in str; body size for IMAP_ARG_BODY */
	size_t count;    /* LIST: direct children */
	size_t span;     /* LIST: all descendants */
};

/* The next sibling of `arg`. */
const struct imap_arg *imap_arg_next(const struct imap_arg *arg);
/* 1 if `arg` is the atom NIL (any case). */
int imap_arg_is_nil(const struct imap_arg *arg);
/* 1 if `arg` is an atom equal to `atom` (ASCII case-insensitive). */
int imap_arg_is_atom(const struct imap_arg *arg, const char *atom);
/* 1 if `arg` is a string (atom, quoted or literal). */
int imap_arg_is_string(const struct imap_arg *arg);

/* ---- typed pieces -------------------------------------------------- */

/* A UID or sequence set "1:3,7". first <= last always ("5:3" is stored
 * as 3..5). '*' is refused: servers never send it in responses. */
struct imap_uid_range {
	uint32_t first, last;
};

struct imap_uid_set {
	const struct imap_uid_range *ranges;
	size_t count;
};

/* A list of atoms: capabilities, flags, LIST attributes. */
struct imap_atoms {
	const char *const *v;
	size_t count;
};

enum imap_cond {
	IMAP_COND_NONE = 0,
	IMAP_COND_OK,
	IMAP_COND_NO,
	IMAP_COND_BAD,
	IMAP_COND_BYE,
	IMAP_COND_PREAUTH,
};

enum imap_code_type {
	IMAP_CODE_NONE = 0,
	IMAP_CODE_OTHER, /* unknown code: see name and raw */
	IMAP_CODE_ALERT,
	IMAP_CODE_PARSE,
	IMAP_CODE_READ_ONLY,
	IMAP_CODE_READ_WRITE,
	IMAP_CODE_TRYCREATE,
	IMAP_CODE_UIDNOTSTICKY,
	IMAP_CODE_NOMODSEQ,
	IMAP_CODE_CLOSED,
	IMAP_CODE_UIDVALIDITY,    /* number */
	IMAP_CODE_UIDNEXT,        /* number */
	IMAP_CODE_UNSEEN,         /* number */
	IMAP_CODE_HIGHESTMODSEQ,  /* modseq */
	IMAP_CODE_APPENDUID,      /* uidvalidity, dst */
	IMAP_CODE_COPYUID,        /* uidvalidity, src, dst */
	IMAP_CODE_MODIFIED,       /* src: the UIDs/sequence numbers not stored */
	IMAP_CODE_CAPABILITY,     /* atoms */
	IMAP_CODE_PERMANENTFLAGS, /* atoms (may contain "\\*") */
	IMAP_CODE_BADCHARSET,     /* raw */
	/* RFC 5530 */
	IMAP_CODE_UNAVAILABLE,
	IMAP_CODE_AUTHENTICATIONFAILED,
	IMAP_CODE_AUTHORIZATIONFAILED,
	IMAP_CODE_EXPIRED,
	IMAP_CODE_PRIVACYREQUIRED,
	IMAP_CODE_CONTACTADMIN,
	IMAP_CODE_NOPERM,
	IMAP_CODE_INUSE,
	IMAP_CODE_EXPUNGEISSUED,
	IMAP_CODE_CORRUPTION,
	IMAP_CODE_SERVERBUG,
	IMAP_CODE_CLIENTBUG,
	IMAP_CODE_CANNOT,
	IMAP_CODE_LIMIT,
	IMAP_CODE_OVERQUOTA,
	IMAP_CODE_ALREADYEXISTS,
	IMAP_CODE_NONEXISTENT,
	/* RFC 5465 (NOTIFY) */
	IMAP_CODE_NOTIFICATIONOVERFLOW, /* the server stopped notifying */
	IMAP_CODE_BADEVENT,             /* atoms: the events it can notify of */
};

/* "[CODE args]" at the start of a status response's text. Which fields
 * are set depends on type (see enum imap_code_type). */
struct imap_resp_code {
	enum imap_code_type type;
	const char *name; /* the code atom as sent; NULL when type is NONE */
	const char *raw;  /* everything between the atom and ']', "" if none */
	uint32_t number;
	uint64_t modseq;
	uint32_t uidvalidity;
	struct imap_uid_set src, dst;
	struct imap_atoms atoms;
};

/* LIST / LSUB */
struct imap_list_data {
	struct imap_atoms flags; /* attributes as sent: "\\HasNoChildren" */
	char delimiter;          /* 0 when the server sent NIL */
	const char *name;        /* raw bytes; may contain NUL if sent as literal */
	size_t name_len;
};

/* STATUS; `have` says which fields were sent. */
enum {
	IMAP_STATUS_MESSAGES = 1 << 0,
	IMAP_STATUS_RECENT = 1 << 1,
	IMAP_STATUS_UIDNEXT = 1 << 2,
	IMAP_STATUS_UIDVALIDITY = 1 << 3,
	IMAP_STATUS_UNSEEN = 1 << 4,
	IMAP_STATUS_HIGHESTMODSEQ = 1 << 5,
	IMAP_STATUS_SIZE = 1 << 6,
	IMAP_STATUS_DELETED = 1 << 7,
};

struct imap_mailbox_status {
	const char *name;
	size_t name_len;
	unsigned have;
	uint32_t messages, recent, uidnext, uidvalidity, unseen, deleted;
	uint64_t highestmodseq, size;
};

/* SEARCH: numbers are UIDs or sequence numbers, as asked; modseq is set
 * when the server appended "(MODSEQ n)" (CONDSTORE), else 0. */
struct imap_search {
	const uint32_t *v;
	size_t count;
	uint64_t modseq;
};

/* ESEARCH; `have` says which of MIN/MAX/COUNT/ALL/MODSEQ were sent. */
enum {
	IMAP_ESEARCH_MIN = 1 << 0,
	IMAP_ESEARCH_MAX = 1 << 1,
	IMAP_ESEARCH_COUNT = 1 << 2,
	IMAP_ESEARCH_ALL = 1 << 3,
	IMAP_ESEARCH_MODSEQ = 1 << 4,
};

struct imap_esearch {
	const char *tag; /* the (TAG "x") correlator, NULL if absent */
	int uid;         /* 1 if the UID indicator was sent */
	unsigned have;
	uint32_t min, max, count;
	struct imap_uid_set all;
	uint64_t modseq;
};

/* NAMESPACE: each class is a list of (prefix, delimiter); NIL is an empty
 * list. */
struct imap_namespace_entry {
	const char *prefix;
	size_t prefix_len;
	char delimiter; /* 0 for NIL */
};

struct imap_namespace_class {
	const struct imap_namespace_entry *v;
	size_t count;
};

struct imap_namespace {
	struct imap_namespace_class personal, other, shared;
};

/* ID: NIL gives count 0. A NIL value is NULL. */
struct imap_id_param {
	const char *key;
	const char *value;
};

struct imap_id {
	const struct imap_id_param *v;
	size_t count;
};

/* QUOTA (RFC 9208, RFC 2087): one quota root's resources, in the order
 * sent (a root without limits may come with none). Usage and limit are
 * as sent, at most IMAP_QUOTA_MAX each (the RFC's number64); STORAGE
 * counts units of 1024 octets, MESSAGE messages. */
#define IMAP_QUOTA_MAX ((uint64_t)INT64_MAX)

struct imap_quota_resource {
	const char *name; /* "STORAGE", "MESSAGE"... as sent */
	uint64_t usage, limit;
};

struct imap_quota {
	const char *root; /* the quota root's name ("" is a valid one); no NUL inside */
	const struct imap_quota_resource *v;
	size_t count;
};

/* QUOTAROOT: a mailbox and the quota roots it is under (none: no quota
 * applies to it). Root names hold no NUL. */
struct imap_quotaroot {
	const char *mailbox;
	size_t mailbox_len;
	const char *const *roots;
	size_t count;
};

/* VANISHED (QRESYNC) */
struct imap_vanished {
	int earlier; /* 1 for "VANISHED (EARLIER)" */
	struct imap_uid_set uids;
};

/* ---- responses ----------------------------------------------------- */

enum imap_resp_kind {
	IMAP_RESP_TAGGED = 1,
	IMAP_RESP_UNTAGGED,
	IMAP_RESP_CONTINUATION,
};

enum imap_data_type {
	IMAP_DATA_NONE = 0, /* tagged status, continuation */
	IMAP_DATA_COND,     /* untagged OK / NO / BAD / BYE / PREAUTH */
	IMAP_DATA_CAPABILITY,
	IMAP_DATA_ENABLED,
	IMAP_DATA_FLAGS,
	IMAP_DATA_LIST,
	IMAP_DATA_LSUB,
	IMAP_DATA_STATUS,
	IMAP_DATA_SEARCH,
	IMAP_DATA_ESEARCH,
	IMAP_DATA_NAMESPACE,
	IMAP_DATA_ID,
	IMAP_DATA_EXISTS,
	IMAP_DATA_RECENT,
	IMAP_DATA_EXPUNGE,
	IMAP_DATA_VANISHED,
	IMAP_DATA_QUOTA,     /* RFC 9208 */
	IMAP_DATA_QUOTAROOT, /* RFC 9208 */
	IMAP_DATA_OTHER,     /* anything else: only args is set */
};

struct imap_response {
	enum imap_resp_kind kind;
	enum imap_data_type type;
	const char *tag; /* TAGGED: the tag; NULL otherwise */
	/* Status responses (TAGGED, or UNTAGGED with type COND): */
	enum imap_cond cond;
	struct imap_resp_code code; /* type NONE when there was none */
	/* Status responses: the human text after the code ("" if none).
	 * CONTINUATION: the whole text after "+ " (a SASL challenge, say);
	 * no code is parsed from it. */
	const char *text;
	/* Untagged data other than COND: the raw tokens after "* ", the
	 * keyword (and leading number) included. */
	const struct imap_arg *args;
	size_t arg_count;
	/* The typed data; which member is set follows `type`. */
	union {
		struct imap_atoms capability; /* CAPABILITY, ENABLED */
		struct imap_atoms flags;      /* FLAGS */
		struct imap_list_data list;   /* LIST, LSUB */
		struct imap_mailbox_status status;
		struct imap_search search;
		struct imap_esearch esearch;
		struct imap_namespace ns;
		struct imap_id id;
		uint32_t number; /* EXISTS, RECENT, EXPUNGE */
		struct imap_vanished vanished;
		struct imap_quota quota;
		struct imap_quotaroot quotaroot;
	};
};

/* ---- FETCH --------------------------------------------------------- */

enum {
	IMAP_FETCH_UID = 1 << 0,
	IMAP_FETCH_FLAGS = 1 << 1,
	IMAP_FETCH_SIZE = 1 << 2,
	IMAP_FETCH_INTERNALDATE = 1 << 3,
	IMAP_FETCH_MODSEQ = 1 << 4,
};

struct imap_fetch {
	uint32_t seq;
	unsigned have; /* which of the fields below were sent */
	uint32_t uid;
	struct imap_atoms flags;
	uint64_t size;       /* RFC822.SIZE */
	time_t internaldate; /* seconds since the epoch, UTC; a date that
	                        cannot be read leaves its bit unset (the raw
	                        string is still in items) */
	int tz_minutes;      /* the date's zone, minutes east of UTC */
	uint64_t modseq;
	/* FETCH_END only (else NULL / 0): every item of the response, name
	 * then value, bodies as IMAP_ARG_BODY; for items this parser does
	 * not type (ENVELOPE, BODYSTRUCTURE, X-GM-LABELS...). */
	const struct imap_arg *items;
	size_t item_count;
};

struct imap_body {
	const char *name;    /* the item as sent, origin removed: "BODY[1.MIME]" */
	const char *section; /* inside the brackets: "", "HEADER", "1.MIME";
	                        RFC822.HEADER gives "HEADER", RFC822.TEXT "TEXT" */
	int binary;          /* BINARY[...] */
	int has_origin;      /* a partial fetch "<origin>" was sent */
	uint32_t origin;
	int nil;       /* the server sent NIL */
	uint64_t size; /* bytes that the chunks will carry */
};

enum imap_event_type {
	IMAP_EV_RESPONSE = 1, /* resp */
	IMAP_EV_FETCH_BEGIN,  /* fetch */
	IMAP_EV_BODY_START,   /* fetch, body */
	IMAP_EV_BODY_CHUNK,   /* fetch, body, chunk, chunk_len (> 0) */
	IMAP_EV_BODY_END,     /* fetch, body */
	IMAP_EV_FETCH_END,    /* fetch (complete, items set) */
};

struct imap_event {
	enum imap_event_type type;
	const struct imap_response *resp;
	const struct imap_fetch *fetch;
	const struct imap_body *body;
	const unsigned char *chunk;
	size_t chunk_len;
};

/* ---- the parser ---------------------------------------------------- */

struct imap_parser;

/* `limits` may be NULL (all defaults); it is copied. */
struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser *p);

/*
 * Hand the parser the next `len` bytes from the server. They are not
 * copied: the parser reads them during the following imap_parser_next()
 * calls, so `data` must stay valid and unchanged until imap_parser_next()
 * returns 0 (everything consumed) or -1, or until the next
 * imap_parser_feed(). Feeding before everything was consumed is allowed:
 * the parser then copies the unread rest (and the new bytes) into a
 * buffer of its own, which costs a copy but nothing else.
 */
void imap_parser_feed(struct imap_parser *p, const void *data, size_t len);

/*
 * Produce the next event into *ev_r. Returns 1 (event produced), 0 (all
 * fed bytes consumed, feed more) or -1 (err filled, see above).
 */
int imap_parser_next(struct imap_parser *p, struct imap_event *ev_r, struct error *err);

/* 1 when the parser is between responses (nothing partial is pending). */
int imap_parser_idle(const struct imap_parser *p);

/* Bytes of the literal being read (a message body or a string) that were
 * not fed yet: the server must still send at least that many. 0 outside
 * a literal. */
uint64_t imap_parser_literal_left(const struct imap_parser *p);

/* Names for traces and tests: "RESPONSE", "OK", "UIDNEXT"... */
const char *imap_event_type_name(enum imap_event_type type);
const char *imap_cond_name(enum imap_cond cond);
const char *imap_code_name(enum imap_code_type type);

/* Whether a NO with this code says "not now" rather than "not this"
 * (RFC 5530): UNAVAILABLE (the server or a backend is busy or down),
 * LIMIT (a limit was reached: of connections, of commands, of a rate)
 * and INUSE (someone else holds the mailbox). */
bool imap_code_is_temporary(enum imap_code_type type);

#endif
