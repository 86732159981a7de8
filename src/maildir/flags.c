#include "twinbox/maildir/flags.h"

#include <string.h>

#include "twinbox/util/mailflags.h"

uint64_t maildir_flag_bit(char c)
{
	return MAILDIR_FLAG_BIT(c);
}

uint64_t maildir_flags_parse(const char *s, size_t len)
{
	uint64_t flags = 0;

	for (size_t i = 0; i < len; i++)
		flags |= MAILDIR_FLAG_BIT(s[i]);
	return flags;
}

size_t maildir_flags_format(uint64_t flags, char out[MAILDIR_FLAGS_MAX + 1])
{
	size_t n = 0;

	for (unsigned bit = 0; bit < 52; bit++) {
		if (!(flags & (UINT64_C(1) << bit)))
			continue;
		out[n++] = bit < 26 ? (char)('A' + bit) : (char)('a' + bit - 26);
	}
	out[n] = '\0';
	return n;
}

const char *maildir_flag_to_imap(char letter)
{
	const struct mail_flag_def *d = mail_flag_by_letter(letter);

	return d ? d->imap : NULL;
}

char maildir_flag_from_imap(const char *flag)
{
	const struct mail_flag_def *d = mail_flag_by_imap(flag, strlen(flag));

	return d ? d->letter : 0;
}

uint64_t maildir_flags_of_mail(unsigned flags, const char *keywords)
{
	uint64_t letters = 0;

	for (const struct mail_flag_def *d = mail_flag_defs; d->imap; d++)
		if (d->bit ? (flags & d->bit) != 0 : mail_keywords_has(keywords, d->imap))
			letters |= maildir_flag_bit(d->letter);
	return letters;
}
