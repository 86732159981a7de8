#include "twinbox/maildir/flags.h"

#include <strings.h>

static const struct {
	char letter;
	const char *imap;
} imap_flags[] = {
    {'D', "\\Draft"},    {'F', "\\Flagged"}, {'P', "$Forwarded"},
    {'R', "\\Answered"}, {'S', "\\Seen"},    {'T', "\\Deleted"},
};

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
	for (size_t i = 0; i < sizeof(imap_flags) / sizeof(imap_flags[0]); i++)
		if (imap_flags[i].letter == letter)
			return imap_flags[i].imap;
	return NULL;
}

char maildir_flag_from_imap(const char *flag)
{
	for (size_t i = 0; i < sizeof(imap_flags) / sizeof(imap_flags[0]); i++)
		if (strcasecmp(imap_flags[i].imap, flag) == 0)
			return imap_flags[i].letter;
	return 0;
}
