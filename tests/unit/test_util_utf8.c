#include <criterion/criterion.h>
#include <string.h>

#include "twinbox/util/utf8.h"

Test(util_utf8, accepts_well_formed_text)
{
	static const char *good[] = {"",
	                             "INBOX",
	                             "Entw\xc3\xbc"
	                             "rfe",
	                             "\xe2\x82\xac",
	                             "\xf0\x9f\x93\xa7",
	                             "\xf4\x8f\xbf\xbf"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(utf8_valid(good[i], strlen(good[i])), "refused case %zu", i);
}

Test(util_utf8, refuses_malformed_text)
{
	static const char *bad[] = {
	    "\xc0\xaf",         /* overlong '/' */
	    "\xe0\x80\xaf",     /* overlong, three bytes */
	    "\xed\xa0\x80",     /* surrogate */
	    "\xf4\x90\x80\x80", /* above U+10FFFF */
	    "\xc3",             /* truncated */
	    "a\x80",            /* stray continuation byte */
	    "\xff",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(utf8_valid(bad[i], strlen(bad[i])), "accepted case %zu", i);
}
