#include "twinbox/store/store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void store_snapshot_free(struct store_snapshot *snap)
{
	if (!snap)
		return;
	free(snap->msgs);
	if (snap->free_priv)
		snap->free_priv(snap->priv);
	else
		free(snap->priv);
	memset(snap, 0, sizeof(*snap));
}

void store_changes_free(struct store_changes *c)
{
	if (!c)
		return;
	store_snapshot_free(&c->changed);
	free(c->gone);
	memset(c, 0, sizeof(*c));
}

void store_names_free(char **names)
{
	if (!names)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}

bool store_keeps_flag(const struct store_keep *keep, unsigned bit)
{
	return !keep->limited || (keep->flags & bit) == bit;
}

bool store_keeps_keyword(const struct store_keep *keep, const char *kw, size_t len)
{
	const char *p = keep->keywords;

	if (!keep->limited || keep->new_keywords)
		return true;
	/* Canonical text: one space between keywords; IMAP compares them
	 * without regard to case. */
	while (p && *p) {
		size_t n = strcspn(p, " ");
		if (n == len && strncasecmp(p, kw, len) == 0)
			return true;
		p += n;
		p += *p == ' ';
	}
	return false;
}

void store_quota_free(struct store_quota *roots, size_t count)
{
	for (size_t i = 0; i < count && roots; i++) {
		free(roots[i].root);
		free(roots[i].where);
	}
	free(roots);
}
