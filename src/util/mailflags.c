#include "twinbox/util/mailflags.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

const struct mail_flag_def mail_flag_defs[] = {
    {MAIL_FLAG_SEEN, "\\Seen", 'S'},
    {MAIL_FLAG_ANSWERED, "\\Answered", 'R'},
    {MAIL_FLAG_FLAGGED, "\\Flagged", 'F'},
    {MAIL_FLAG_DELETED, "\\Deleted", 'T'},
    {MAIL_FLAG_DRAFT, "\\Draft", 'D'},
    {0, "$Forwarded", 'P'},
    {0, NULL, 0},
};

struct token {
	const char *s;
	size_t len;
};

const struct mail_flag_def *mail_flag_by_letter(char letter)
{
	for (const struct mail_flag_def *d = mail_flag_defs; d->imap; d++)
		if (d->letter == letter)
			return d;
	return NULL;
}

const struct mail_flag_def *mail_flag_by_imap(const char *name, size_t len)
{
	for (const struct mail_flag_def *d = mail_flag_defs; d->imap; d++)
		if (strlen(d->imap) == len && strncasecmp(d->imap, name, len) == 0)
			return d;
	return NULL;
}

const char *mail_flag_name(unsigned flag)
{
	for (const struct mail_flag_def *d = mail_flag_defs; d->imap; d++)
		if (d->bit && d->bit == flag)
			return d->imap;
	return NULL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 3501 ATOM-CHAR: printable ASCII except the atom-specials. */
static bool is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\]", c);
}

/* The next whitespace-separated token of *p, or false at the end. */
static bool next_token(const char **p, struct token *t)
{
	const char *s = *p;

	while (is_space(*s))
		s++;
	if (*s == '\0') {
		*p = s;
		return false;
	}
	t->s = s;
	while (*s && !is_space(*s))
		s++;
	t->len = (size_t)(s - t->s);
	*p = s;
	return true;
}

static int check_keyword(const struct token *t, struct error *err)
{
	if (t->len > MAIL_KEYWORD_MAX)
		return error_set(err, ERR_MESSAGE, "refusing a keyword longer than %d bytes (\"%.40s...\")",
		                 MAIL_KEYWORD_MAX, t->s);
	for (size_t i = 0; i < t->len; i++)
		if (!is_atom_char((unsigned char)t->s[i]))
			return error_set(
			    err, ERR_MESSAGE,
			    "refusing keyword \"%.*s\": IMAP keywords are printable ASCII without "
			    "spaces, parentheses, quotes, backslashes, '%%', '*', '{' or ']'",
			    (int)t->len, t->s);
	return 0;
}

int mail_keyword_check(const char *kw, size_t len, struct error *err)
{
	if (len == 0)
		return error_set(err, ERR_MESSAGE, "refusing an empty keyword");
	return check_keyword(&(struct token){kw, len}, err);
}

int mail_keyword_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = strncasecmp(a, b, n);

	if (c == 0 && alen != blen)
		c = alen < blen ? -1 : 1;
	if (c == 0)
		c = memcmp(a, b, n);
	return c;
}

/* Sorting in the canonical order makes the result independent of the
 * order the keywords came in. */
static int token_cmp(const void *a, const void *b)
{
	const struct token *x = a, *y = b;

	return mail_keyword_cmp(x->s, x->len, y->s, y->len);
}

static bool same_keyword(const struct token *x, const struct token *y)
{
	return x->len == y->len && strncasecmp(x->s, y->s, x->len) == 0;
}

/* Sort, deduplicate and join `tokens` into *canon_r (NULL when empty). */
static void join_canonical(struct token *tokens, size_t n, char **canon_r)
{
	struct buf out = BUF_INIT;

	*canon_r = NULL;
	if (n == 0)
		return;
	qsort(tokens, n, sizeof(*tokens), token_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && same_keyword(&tokens[i - 1], &tokens[i]))
			continue;
		if (out.len)
			buf_append_byte(&out, ' ');
		buf_append(&out, tokens[i].s, tokens[i].len);
	}
	*canon_r = buf_detach(&out, NULL);
}

/* Collect the tokens of `text`: system flags into *bits_r (when bits_r is
 * given; else they are refused as keywords), keywords into `tokens`. */
static int split(const char *text, unsigned *bits_r, struct token *tokens, size_t *n_r, struct error *err)
{
	const char *p = text ? text : "";
	struct token t;
	size_t n = 0;

	while (next_token(&p, &t)) {
		if (t.s[0] == '\\' && bits_r) {
			const struct mail_flag_def *d = mail_flag_by_imap(t.s, t.len);
			if (d)
				*bits_r |= d->bit;
			continue; /* \Recent, \*, extensions: not a message's lasting state */
		}
		if (check_keyword(&t, err) < 0)
			return -1;
		if (n == MAIL_KEYWORDS_MAX)
			return error_set(err, ERR_MESSAGE, "refusing more than %d keywords on one message",
			                 MAIL_KEYWORDS_MAX);
		tokens[n++] = t;
	}
	*n_r = n;
	return 0;
}

int mail_flags_parse(const char *text, unsigned *bits_r, char **keywords_r, struct error *err)
{
	struct token tokens[MAIL_KEYWORDS_MAX];
	unsigned bits = 0;
	size_t n;

	*bits_r = 0;
	*keywords_r = NULL;
	if (split(text, &bits, tokens, &n, err) < 0)
		return -1;
	*bits_r = bits;
	join_canonical(tokens, n, keywords_r);
	return 0;
}

int mail_keywords_canon(const char *text, char **canon_r, struct error *err)
{
	struct token tokens[MAIL_KEYWORDS_MAX];
	size_t n;

	*canon_r = NULL;
	if (split(text, NULL, tokens, &n, err) < 0)
		return -1;
	join_canonical(tokens, n, canon_r);
	return 0;
}

char *mail_flags_format(unsigned bits, const char *keywords)
{
	struct buf out = BUF_INIT;
	const char *p = keywords ? keywords : "";
	struct token t;

	for (const struct mail_flag_def *d = mail_flag_defs; d->imap; d++) {
		if (!(bits & d->bit))
			continue;
		if (out.len)
			buf_append_byte(&out, ' ');
		buf_append_str(&out, d->imap);
	}
	while (next_token(&p, &t)) {
		if (out.len)
			buf_append_byte(&out, ' ');
		buf_append(&out, t.s, t.len);
	}
	return buf_detach(&out, NULL);
}

bool mail_keywords_equal(const char *a, const char *b)
{
	return strcasecmp(a ? a : "", b ? b : "") == 0;
}

bool mail_keywords_has(const char *keywords, const char *keyword)
{
	const char *p = keywords ? keywords : "";
	struct token want = {keyword, strlen(keyword)}, t;

	while (next_token(&p, &t))
		if (same_keyword(&t, &want))
			return true;
	return false;
}
