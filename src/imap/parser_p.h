/*
 * Private parts of the IMAP response parser, shared by its files:
 *
 *   parser.c        public API, event phases, arena, error text
 *   parser_lex.c    the byte-level tokenizer and the response head
 *   parser_data.c   typed untagged data (LIST, STATUS, SEARCH...) and numbers
 *   parser_code.c   status text and response codes
 *   parser_fetch.c  FETCH items and body item names
 */
#ifndef TWINBOX_IMAP_PARSER_P_H
#define TWINBOX_IMAP_PARSER_P_H

#include <stddef.h>
#include <stdint.h>

#include "twinbox/imap/parser.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/error.h"

/*
 * Per-response storage with stable addresses: strings and typed arrays
 * handed out in events are carved from blocks that are never moved and
 * are released all at once when the next response starts.
 */
struct imap_arena_block {
	struct imap_arena_block *next;
	size_t size, used;
	unsigned char data[];
};

struct imap_arena {
	struct imap_arena_block *head;
};

void *imap_arena_alloc(struct imap_arena *a, size_t size);
void *imap_arena_calloc(struct imap_arena *a, size_t count, size_t size);
/* Copy `len` bytes and add a NUL. */
char *imap_arena_strdup(struct imap_arena *a, const void *s, size_t len);
/* Keep the first block, free the others. */
void imap_arena_reset(struct imap_arena *a);
void imap_arena_free(struct imap_arena *a);

enum imap_lex_state {
	LX_TOKEN_START = 0,
	LX_AFTER_TOKEN,
	LX_ATOM,
	LX_BRACKET,
	LX_BRACKET_QUOTED,
	LX_BRACKET_ESCAPE,
	LX_TILDE,
	LX_QUOTED,
	LX_QUOTED_ESCAPE,
	LX_LIT_SIZE,
	LX_LIT_PLUS,
	LX_LIT_CR,
	LX_LIT_LF,
	LX_LIT_DATA,
	LX_TEXT,
	LX_LF,
};

/* What the tokenizer stopped for (besides "need more input"). */
enum imap_lex_signal {
	SIG_NONE = 0,
	SIG_DONE,        /* the response's final CRLF was read */
	SIG_BODY_STREAM, /* a body literal starts: p->body_left bytes follow */
	SIG_BODY_INLINE, /* a body sent as a quoted string: p->inline_* */
	SIG_BODY_NIL,    /* a body sent as NIL */
};

enum imap_phase {
	PH_LEX = 0,
	PH_BODY_BEGIN,
	PH_BODY_STREAM,
	PH_BODY_INLINE,
	PH_BODY_END,
	PH_FETCH_END,
};

struct imap_list_level {
	size_t node;  /* index of the LIST node in args */
	size_t count; /* children so far */
};

#define IMAP_CTX_SIZE 64 /* a power of two: the ring below */

struct imap_parser {
	struct imap_parser_limits lim;

	/* Unconsumed input: the caller's bytes, or `pending` when the caller
	 * fed again before everything was consumed. */
	const unsigned char *in;
	size_t in_len;
	struct buf pending;

	int failed;
	struct error err;

	/* ---- the response being parsed (reset between responses) ---- */
	int need_reset;
	enum imap_phase phase;
	enum imap_lex_state st;
	enum imap_lex_signal signal;
	size_t line_bytes; /* bytes of this response outside streamed bodies */
	struct imap_arena arena;
	struct buf tok; /* the token being read */

	struct imap_arg *args;
	size_t nargs, args_cap;
	struct imap_list_level *stack; /* max_depth entries */
	size_t depth;
	size_t top_count; /* tokens at depth 0 */

	/* head: "tag OK", "* 3 FETCH", "+ text" */
	int text_next;  /* the next SP switches to raw text */
	int after_list; /* the last token read was a closed list */
	int numeric;    /* "* <n> KEYWORD" */
	int is_fetch;
	int fetch_list_seen;
	size_t fetch_list; /* node index of the FETCH item list */
	struct imap_response resp;

	/* literals */
	uint64_t lit_size;
	unsigned lit_digits;
	int lit8;
	uint64_t lit_left;

	/* FETCH */
	int body_item;  /* the item name just read is a body section */
	int body_value; /* the token being read is a body's value */
	int fetch_begun;
	size_t fetch_conv; /* node index of the next item to type */
	struct imap_fetch fetch;
	struct imap_body body;
	uint64_t body_left;
	const unsigned char *inline_data;
	size_t inline_len;

	/* the last bytes read, for error messages */
	unsigned char ctx[IMAP_CTX_SIZE];
	size_t ctx_total;
};

/* Fail with what was expected; the text gets the bytes around the
 * current position and the response's tag appended. Returns -1. */
int imap_fail_at(struct imap_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fail while typing a complete response (no byte position). Returns -1. */
int imap_fail(struct imap_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Escape up to `max` bytes of `s` for an error message into out (NUL
 * terminated, at most outsz bytes). */
void imap_escape(const void *s, size_t len, char *out, size_t outsz);
/* A token, escaped and shortened, for messages: `out` (64 bytes are
 * plenty) or a constant string. */
const char *imap_arg_show(const struct imap_arg *arg, char *out, size_t outsz);

/* parser_lex.c: run the tokenizer over p->in until it has a signal (1),
 * needs more input (0) or fails (-1). */
int imap_lex_run(struct imap_parser *p);

/* parser_data.c */
int imap_parse_number(const char *s, size_t len, uint64_t max, uint64_t *value_r);
int imap_arg_number(struct imap_parser *p, const struct imap_arg *arg, uint64_t max, int nonzero,
                    const char *what, uint64_t *value_r);
int imap_arg_uint32(struct imap_parser *p, const struct imap_arg *arg, int nonzero, const char *what,
                    uint32_t *value_r);
int imap_parse_uid_set(struct imap_parser *p, const char *s, size_t len, const char *what,
                       struct imap_uid_set *set_r);
int imap_flag_list(struct imap_parser *p, const struct imap_arg *list, const char *what,
                   struct imap_atoms *atoms_r);
int imap_build_data(struct imap_parser *p);
enum imap_cond imap_cond_parse(const char *s);

/* parser_code.c: split raw status text into code and human text. */
int imap_build_resp_text(struct imap_parser *p, const char *text, size_t len);

/* parser_fetch.c */
int imap_is_body_item(const char *name, size_t len);
int imap_body_setup(struct imap_parser *p, const struct imap_arg *name);
/* Type the complete item pairs not typed yet. */
int imap_fetch_convert(struct imap_parser *p);
int imap_parse_internaldate(const char *s, size_t len, time_t *time_r, int *tz_minutes_r);

#define IMAP_MODSEQ_MAX ((uint64_t)INT64_MAX)

#endif
