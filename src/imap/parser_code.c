/*
 * resp-text: "[CODE args] human text" after OK/NO/BAD/BYE/PREAUTH. The
 * text was read raw up to CRLF (it may hold anything, unbalanced quotes
 * and parentheses included), so this is a small parser over a complete
 * string.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "parser_p.h"

static const struct {
	const char *name;
	enum imap_code_type type;
} codes[] = {
    {"ALERT", IMAP_CODE_ALERT},
    {"PARSE", IMAP_CODE_PARSE},
    {"READ-ONLY", IMAP_CODE_READ_ONLY},
    {"READ-WRITE", IMAP_CODE_READ_WRITE},
    {"TRYCREATE", IMAP_CODE_TRYCREATE},
    {"UIDNOTSTICKY", IMAP_CODE_UIDNOTSTICKY},
    {"NOMODSEQ", IMAP_CODE_NOMODSEQ},
    {"CLOSED", IMAP_CODE_CLOSED},
    {"UIDVALIDITY", IMAP_CODE_UIDVALIDITY},
    {"UIDNEXT", IMAP_CODE_UIDNEXT},
    {"UNSEEN", IMAP_CODE_UNSEEN},
    {"HIGHESTMODSEQ", IMAP_CODE_HIGHESTMODSEQ},
    {"APPENDUID", IMAP_CODE_APPENDUID},
    {"COPYUID", IMAP_CODE_COPYUID},
    {"MODIFIED", IMAP_CODE_MODIFIED},
    {"CAPABILITY", IMAP_CODE_CAPABILITY},
    {"PERMANENTFLAGS", IMAP_CODE_PERMANENTFLAGS},
    {"BADCHARSET", IMAP_CODE_BADCHARSET},
    {"UNAVAILABLE", IMAP_CODE_UNAVAILABLE},
    {"AUTHENTICATIONFAILED", IMAP_CODE_AUTHENTICATIONFAILED},
    {"AUTHORIZATIONFAILED", IMAP_CODE_AUTHORIZATIONFAILED},
    {"EXPIRED", IMAP_CODE_EXPIRED},
    {"PRIVACYREQUIRED", IMAP_CODE_PRIVACYREQUIRED},
    {"CONTACTADMIN", IMAP_CODE_CONTACTADMIN},
    {"NOPERM", IMAP_CODE_NOPERM},
    {"INUSE", IMAP_CODE_INUSE},
    {"EXPUNGEISSUED", IMAP_CODE_EXPUNGEISSUED},
    {"CORRUPTION", IMAP_CODE_CORRUPTION},
    {"SERVERBUG", IMAP_CODE_SERVERBUG},
    {"CLIENTBUG", IMAP_CODE_CLIENTBUG},
    {"CANNOT", IMAP_CODE_CANNOT},
    {"LIMIT", IMAP_CODE_LIMIT},
    {"OVERQUOTA", IMAP_CODE_OVERQUOTA},
    {"ALREADYEXISTS", IMAP_CODE_ALREADYEXISTS},
    {"NONEXISTENT", IMAP_CODE_NONEXISTENT},
    {"NOTIFICATIONOVERFLOW", IMAP_CODE_NOTIFICATIONOVERFLOW},
    {"BADEVENT", IMAP_CODE_BADEVENT},
};

const char *imap_code_name(enum imap_code_type type)
{
	if (type == IMAP_CODE_NONE)
		return "NONE";
	if (type == IMAP_CODE_OTHER)
		return "OTHER";
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].type == type)
			return codes[i].name;
	return "?";
}

bool imap_code_is_temporary(enum imap_code_type type)
{
	return type == IMAP_CODE_UNAVAILABLE || type == IMAP_CODE_LIMIT || type == IMAP_CODE_INUSE;
}

/* The words of `s` split at spaces, in the arena. */
static size_t split_words(struct imap_parser *p, const char *s, size_t len, const char ***words_r,
                          size_t **lens_r)
{
	size_t n = 0, i = 0;
	const char **w;
	size_t *l;

	for (size_t k = 0; k < len; k++)
		if (s[k] != ' ' && (k == 0 || s[k - 1] == ' '))
			n++;
	w = imap_arena_calloc(&p->arena, n, sizeof(*w));
	l = imap_arena_calloc(&p->arena, n, sizeof(*l));
	for (size_t k = 0; k < n; k++) {
		while (s[i] == ' ')
			i++;
		size_t start = i;
		while (i < len && s[i] != ' ')
			i++;
		w[k] = imap_arena_strdup(&p->arena, s + start, i - start);
		l[k] = i - start;
	}
	*words_r = w;
	*lens_r = l;
	return n;
}

static int code_fail(struct imap_parser *p, const char *name, const char *expected, const char *raw)
{
	char show[64];

	imap_escape(raw, strlen(raw) > 40 ? 40 : strlen(raw), show, sizeof(show));
	return imap_fail(p, "response code %s: expected %s, got \"%s\"", name, expected, show);
}

static int code_number(struct imap_parser *p, struct imap_resp_code *c, const char *s, size_t len,
                       uint64_t max, int nonzero, uint64_t *v_r)
{
	if (imap_parse_number(s, len, max, v_r) < 0 || (nonzero && *v_r == 0))
		return code_fail(p, c->name,
		                 max == UINT32_MAX
		                     ? (nonzero ? "a non-zero 32-bit number" : "a 32-bit number")
		                     : "a 63-bit number",
		                 c->raw);
	return 0;
}

static int code_args(struct imap_parser *p, struct imap_resp_code *c, size_t raw_len)
{
	const char **w;
	size_t *l, n;
	uint64_t v;

	switch (c->type) {
	case IMAP_CODE_UIDVALIDITY:
	case IMAP_CODE_UIDNEXT:
	case IMAP_CODE_UNSEEN:
		if (code_number(p, c, c->raw, raw_len, UINT32_MAX, 1, &v) < 0)
			return -1;
		c->number = (uint32_t)v;
		return 0;
	case IMAP_CODE_HIGHESTMODSEQ:
		return code_number(p, c, c->raw, raw_len, IMAP_MODSEQ_MAX, 0, &c->modseq);
	case IMAP_CODE_APPENDUID:
	case IMAP_CODE_COPYUID:
		n = split_words(p, c->raw, raw_len, &w, &l);
		if (n != (c->type == IMAP_CODE_APPENDUID ? 2u : 3u))
			return code_fail(p, c->name,
			                 c->type == IMAP_CODE_APPENDUID ? "a UIDVALIDITY and a UID set"
			                                                : "a UIDVALIDITY and two UID sets",
			                 c->raw);
		if (code_number(p, c, w[0], l[0], UINT32_MAX, 1, &v) < 0)
			return -1;
		c->uidvalidity = (uint32_t)v;
		if (n == 3 && imap_parse_uid_set(p, w[1], l[1], c->name, &c->src) < 0)
			return -1;
		return imap_parse_uid_set(p, w[n - 1], l[n - 1], c->name, &c->dst);
	case IMAP_CODE_MODIFIED:
		n = split_words(p, c->raw, raw_len, &w, &l);
		if (n != 1)
			return code_fail(p, c->name, "a set", c->raw);
		return imap_parse_uid_set(p, w[0], l[0], c->name, &c->src);
	case IMAP_CODE_CAPABILITY:
		n = split_words(p, c->raw, raw_len, &w, &l);
		c->atoms.v = w;
		c->atoms.count = n;
		return 0;
	case IMAP_CODE_PERMANENTFLAGS:
	case IMAP_CODE_BADEVENT: {
		const char *what = c->type == IMAP_CODE_BADEVENT ? "events" : "flags";
		char expected[40];
		snprintf(expected, sizeof(expected), "a parenthesised list of %s", what);
		if (raw_len < 2 || c->raw[0] != '(' || c->raw[raw_len - 1] != ')')
			return code_fail(p, c->name, expected, c->raw);
		n = split_words(p, c->raw + 1, raw_len - 2, &w, &l);
		if (n > p->lim.max_flags)
			return imap_fail(p, "response code %s: %zu %s, more than the limit of %zu", c->name,
			                 n, what, p->lim.max_flags);
		for (size_t i = 0; i < n; i++)
			if (strpbrk(w[i], "()\"{"))
				return code_fail(p, c->name, expected, c->raw);
		c->atoms.v = w;
		c->atoms.count = n;
		return 0;
	}
	default:
		return 0;
	}
}

int imap_build_resp_text(struct imap_parser *p, const char *text, size_t len)
{
	struct imap_resp_code *c = &p->resp.code;
	size_t i = 1, name_end, args_start, close;

	if (len == 0 || text[0] != '[') {
		p->resp.text = imap_arena_strdup(&p->arena, text, len);
		return 0;
	}
	while (i < len && text[i] != ' ' && text[i] != ']')
		i++;
	name_end = i;
	if (name_end == 1)
		return imap_fail(p, "empty response code \"[]\"");
	for (size_t k = 1; k < name_end; k++) {
		unsigned char ch = (unsigned char)text[k];
		if (ch <= 0x20 || ch >= 0x7f || strchr("(){%*\"\\[", ch))
			return imap_fail(p, "the response code name contains the invalid character 0x%02x",
			                 ch);
	}
	args_start = name_end < len && text[name_end] == ' ' ? name_end + 1 : name_end;
	for (close = args_start; close < len && text[close] != ']'; close++)
		;
	if (close >= len)
		return imap_fail(p, "the response code after '[' is not closed with ']'");
	c->name = imap_arena_strdup(&p->arena, text + 1, name_end - 1);
	c->raw = imap_arena_strdup(&p->arena, text + args_start, close - args_start);
	c->type = IMAP_CODE_OTHER;
	for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++) {
		if (strcasecmp(c->name, codes[k].name) == 0) {
			c->type = codes[k].type;
			break;
		}
	}
	if (code_args(p, c, close - args_start) < 0)
		return -1;
	i = close + 1;
	if (i < len && text[i] == ' ')
		i++;
	p->resp.text = imap_arena_strdup(&p->arena, text + i, len - i);
	return 0;
}
