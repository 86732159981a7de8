#include "twinbox/store/store.h"

#include <stdlib.h>
#include <string.h>

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

int store_id_cmp(struct store_id a, struct store_id b)
{
	if (a.uid != b.uid)
		return a.uid < b.uid ? -1 : 1;
	if (!a.name || !b.name)
		return a.name ? 1 : b.name ? -1 : 0;
	return strcmp(a.name, b.name);
}
