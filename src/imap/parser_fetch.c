/*
 * FETCH: body item names and the typed items (UID, FLAGS, RFC822.SIZE,
 * INTERNALDATE, MODSEQ). Items are typed in batches, whenever the
 * tokenizer stops at a body or at the end of the response, so a response
 * with several bodies is still typed in one pass.
 */
#include <string.h>
#include <strings.h>

#include "parser_p.h"

static int has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && strncasecmp(s, prefix, n) == 0;
}

static int equals(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

int imap_is_body_item(const char *name, size_t len)
{
	return has_prefix(name, len, "BODY[") || has_prefix(name, len, "BODY.PEEK[") ||
	       has_prefix(name, len, "BINARY[") || has_prefix(name, len, "BINARY.PEEK[") ||
	       equals(name, len, "RFC822") || equals(name, len, "RFC822.HEADER") ||
	       equals(name, len, "RFC822.TEXT");
}

int imap_body_setup(struct imap_parser *p, const struct imap_arg *name)
{
	struct imap_body *b = &p->body;
	const char *s = name->str, *open, *close;
	size_t len = name->len;

	memset(b, 0, sizeof(*b));
	if (!strchr(s, '[')) {
		/* RFC822, RFC822.HEADER, RFC822.TEXT */
		b->name = s;
		b->section = len > 7 ? s + 7 : "";
		return 0;
	}
	b->binary = has_prefix(s, len, "BINARY");
	open = strchr(s, '[');
	close = strrchr(s, ']');
	if (!close || close < open)
		return imap_fail(p, "the FETCH item name %s has no closing ']'", s);
	if (close[1] == '<') {
		/* "<origin>" of a partial fetch */
		uint64_t origin;
		const char *num = close + 2, *end = s + len - 1;
		if (*end != '>' || imap_parse_number(num, (size_t)(end - num), UINT32_MAX, &origin) < 0)
			return imap_fail(p, "the FETCH item name %s has a malformed <origin>", s);
		b->has_origin = 1;
		b->origin = (uint32_t)origin;
	} else if (close[1] != '\0') {
		return imap_fail(p, "unexpected characters after ']' in the FETCH item name %s", s);
	}
	b->name = imap_arena_strdup(&p->arena, s, (size_t)(close - s) + 1);
	b->section = imap_arena_strdup(&p->arena, open + 1, (size_t)(close - open) - 1);
	return 0;
}

static int days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return days[month - 1] + (month == 2 && leap);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int digits(const char *s, size_t len, size_t *i, size_t n, int *v_r)
{
	int v = 0;

	for (size_t k = 0; k < n; k++, (*i)++) {
		if (*i >= len || s[*i] < '0' || s[*i] > '9')
			return -1;
		v = v * 10 + (s[*i] - '0');
	}
	*v_r = v;
	return 0;
}

static int expect(const char *s, size_t len, size_t *i, char c)
{
	if (*i >= len || s[*i] != c)
		return -1;
	(*i)++;
	return 0;
}

int imap_parse_internaldate(const char *s, size_t len, time_t *time_r, int *tz_minutes_r)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int day, month = 0, year, hh, mm, ss, zh, zm, sign;
	size_t i = 0;

	/* "dd-Mon-yyyy hh:mm:ss +zzzz", the day possibly " 7" or "7" */
	if (i < len && s[i] == ' ')
		i++;
	if (i + 1 < len && s[i + 1] == '-') {
		if (digits(s, len, &i, 1, &day) < 0)
			return -1;
	} else if (digits(s, len, &i, 2, &day) < 0) {
		return -1;
	}
	if (expect(s, len, &i, '-') < 0 || i + 3 > len)
		return -1;
	for (int m = 0; m < 12; m++)
		if (strncasecmp(s + i, months + 3 * m, 3) == 0)
			month = m + 1;
	i += 3;
	if (!month || expect(s, len, &i, '-') < 0 || digits(s, len, &i, 4, &year) < 0 ||
	    expect(s, len, &i, ' ') < 0 || digits(s, len, &i, 2, &hh) < 0 || expect(s, len, &i, ':') < 0 ||
	    digits(s, len, &i, 2, &mm) < 0 || expect(s, len, &i, ':') < 0 || digits(s, len, &i, 2, &ss) < 0 ||
	    expect(s, len, &i, ' ') < 0 || i >= len || (s[i] != '+' && s[i] != '-'))
		return -1;
	sign = s[i++] == '-' ? -1 : 1;
	if (digits(s, len, &i, 2, &zh) < 0 || digits(s, len, &i, 2, &zm) < 0 || i != len)
		return -1;
	if (day < 1 || day > days_in_month(year, month) || hh > 23 || mm > 59 || ss > 60 || zh > 23 ||
	    zm > 59)
		return -1;
	*tz_minutes_r = sign * (zh * 60 + zm);
	*time_r = (time_t)(days_from_civil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss) -
	          (time_t)*tz_minutes_r * 60;
	return 0;
}

static int fetch_item(struct imap_parser *p, const struct imap_arg *name, const struct imap_arg *value)
{
	struct imap_fetch *f = &p->fetch;
	char show[64];

	if (imap_is_body_item(name->str, name->len))
		return 0; /* delivered as BODY_* events */
	if (imap_arg_is_atom(name, "UID")) {
		if (imap_arg_uint32(p, value, 1, "FETCH UID", &f->uid) < 0)
			return -1;
		f->have |= IMAP_FETCH_UID;
	} else if (imap_arg_is_atom(name, "FLAGS")) {
		if (imap_flag_list(p, value, "FETCH FLAGS", &f->flags) < 0)
			return -1;
		f->have |= IMAP_FETCH_FLAGS;
	} else if (imap_arg_is_atom(name, "RFC822.SIZE")) {
		if (imap_arg_number(p, value, IMAP_MODSEQ_MAX, 0, "FETCH RFC822.SIZE", &f->size) < 0)
			return -1;
		f->have |= IMAP_FETCH_SIZE;
	} else if (imap_arg_is_atom(name, "INTERNALDATE")) {
		if (value->type != IMAP_ARG_QUOTED && value->type != IMAP_ARG_LITERAL)
			return imap_fail(p, "FETCH INTERNALDATE: expected a quoted date, got %s",
			                 imap_arg_show(value, show, sizeof(show)));
		/* A date we cannot read is no reason to drop the connection:
		 * the bit stays unset and the raw string is in items. */
		if (imap_parse_internaldate(value->str, value->len, &f->internaldate, &f->tz_minutes) == 0)
			f->have |= IMAP_FETCH_INTERNALDATE;
	} else if (imap_arg_is_atom(name, "MODSEQ")) {
		if (value->type != IMAP_ARG_LIST || value->count != 1)
			return imap_fail(p, "FETCH MODSEQ: expected (number), got %s",
			                 imap_arg_show(value, show, sizeof(show)));
		if (imap_arg_number(p, value + 1, IMAP_MODSEQ_MAX, 0, "FETCH MODSEQ", &f->modseq) < 0)
			return -1;
		f->have |= IMAP_FETCH_MODSEQ;
	}
	return 0;
}

int imap_fetch_convert(struct imap_parser *p)
{
	/* Only called where every item pair before p->nargs is complete. */
	while (p->fetch_conv + 1 < p->nargs) {
		const struct imap_arg *name = &p->args[p->fetch_conv];
		const struct imap_arg *value = name + 1;

		if (fetch_item(p, name, value) < 0)
			return -1;
		p->fetch_conv = (size_t)(imap_arg_next(value) - p->args);
	}
	return 0;
}
