/*
 * The mapped store (mapped_store.h): the operations that take a folder
 * name translate it and call the inner store; those that take the store
 * pass the inner one; the rest are the inner store's own, since the
 * folder handles are its handles. (A new store op that takes the store
 * must be wrapped here.)
 */
#include "twinbox/store/mapped_store.h"

#include <stdlib.h>
#include <string.h>

#include "twinbox/util/xmalloc.h"

struct mapped_store {
	struct store base;
	struct store_ops ops;
	struct store *inner;
	const struct store_name_map *map;
};

static struct mapped_store *mapped(struct store *st)
{
	return (struct mapped_store *)st;
}

/* The length of `prefix` when `name` is it or a folder under it, else 0. */
static size_t under(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	if (n && strncmp(name, prefix, n) == 0 && (name[n] == '\0' || name[n] == '/'))
		return n;
	return 0;
}

/* The rename whose `outer` (by_outer) or `inner` holds `name` longest. */
static const struct store_rename *best(const struct store_name_map *map, const char *name, bool by_outer,
                                       size_t *len_r)
{
	const struct store_rename *r = NULL;

	*len_r = 0;
	for (size_t i = 0; i < map->rename_count; i++) {
		const struct store_rename *c = &map->renames[i];
		size_t n = under(name, by_outer ? c->outer : c->inner);
		if (n > *len_r) {
			*len_r = n;
			r = c;
		}
	}
	return r;
}

char *store_map_inner(const struct store_name_map *map, const char *outer)
{
	size_t n;
	const struct store_rename *r = best(map, outer, true, &n);

	return r ? xasprintf("%s%s", r->inner, outer + n) : NULL;
}

char *store_map_outer(const struct store_name_map *map, const char *inner)
{
	size_t n;
	const struct store_rename *r = best(map, inner, false, &n);

	if (r)
		return xasprintf("%s%s", r->outer, inner + n);
	for (size_t i = 0; i < map->hidden_count; i++)
		if (strcmp(inner, map->hidden[i]) == 0)
			return NULL;
	/* The inner store's own folder of a name the engine means another
	 * by. */
	if (best(map, inner, true, &n))
		return NULL;
	return xstrdup(inner);
}

/* The inner name of `outer` (*fresh_r to free, or NULL when it is
 * `outer` itself); NULL when the engine's name reaches no inner folder. */
static const char *inner_name(struct mapped_store *m, const char *outer, char **fresh_r)
{
	char *back;

	*fresh_r = store_map_inner(m->map, outer);
	if (*fresh_r)
		return *fresh_r;
	/* Not renamed itself, the name still reaches no inner folder when
	 * the inner folder of that name is another's (a rename's new name)
	 * or left out: two folders never become one. */
	back = store_map_outer(m->map, outer);
	if (!back || strcmp(back, outer) != 0) {
		free(back);
		return NULL;
	}
	free(back);
	return outer;
}

static int names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void store_map_names(const struct store_name_map *map, char **names)
{
	size_t n = 0;

	for (size_t i = 0; names[i]; i++) {
		char *outer = store_map_outer(map, names[i]);
		free(names[i]);
		if (outer)
			names[n++] = outer;
	}
	names[n] = NULL;
	qsort(names, n, sizeof(*names), names_cmp);
}

static int list_folders(struct store *st, char ***names_r, struct error *err)
{
	struct mapped_store *m = mapped(st);

	if (m->inner->ops->list_folders(m->inner, names_r, err) < 0)
		return -1;
	store_map_names(m->map, *names_r);
	return 0;
}

/* A name-taking operation: `call` with the inner name, or the error
 * for a name the map leaves out. */
#define WITH_INNER(m, outer, err, call)                                                                      \
	do {                                                                                                 \
		char *fresh_;                                                                                \
		const char *name_ = inner_name(m, outer, &fresh_);                                           \
		int rc_;                                                                                     \
		if (!name_)                                                                                  \
			return error_set(err, ERR_MAILBOX,                                                   \
			                 "the folder \"%s\" is left out by the folder mapping", outer);      \
		rc_ = (call);                                                                                \
		free(fresh_);                                                                                \
		return rc_;                                                                                  \
	} while (0)

static int create_folder(struct store *st, const char *name, struct error *err)
{
	struct mapped_store *m = mapped(st);

	WITH_INNER(m, name, err, m->inner->ops->create_folder(m->inner, name_, err));
}

static int delete_folder(struct store *st, const char *name, struct error *err)
{
	struct mapped_store *m = mapped(st);

	WITH_INNER(m, name, err, m->inner->ops->delete_folder(m->inner, name_, err));
}

static int folder_status(struct store *st, const char *name, struct store_folder_info *info_r,
                         struct error *err)
{
	struct mapped_store *m = mapped(st);
	char *fresh;
	const char *inner = inner_name(m, name, &fresh);
	int rc;

	if (!inner)
		return 0;
	rc = m->inner->ops->folder_status(m->inner, inner, info_r, err);
	free(fresh);
	return rc;
}

static void list_markers(struct store *st, bool want)
{
	struct mapped_store *m = mapped(st);

	m->inner->ops->list_markers(m->inner, want);
}

static enum store_special_use special_use(struct store *st, const char *name)
{
	struct mapped_store *m = mapped(st);
	char *fresh;
	const char *inner = inner_name(m, name, &fresh);
	enum store_special_use use;

	if (!inner)
		return STORE_USE_NONE;
	use = m->inner->ops->special_use(m->inner, inner);
	free(fresh);
	return use;
}

static int quota(struct store *st, const char *name, struct store_quota **roots_r, size_t *count_r,
                 struct error *err)
{
	struct mapped_store *m = mapped(st);
	char *fresh;
	const char *inner = inner_name(m, name, &fresh);
	int rc;

	*roots_r = NULL;
	*count_r = 0;
	if (!inner)
		return 0;
	rc = m->inner->ops->quota(m->inner, inner, roots_r, count_r, err);
	free(fresh);
	return rc;
}

static int open_folder(struct store *st, const char *name, struct store_folder **f_r,
                       struct store_folder_info *info_r, bool *missing_r, struct error *err)
{
	struct mapped_store *m = mapped(st);

	*missing_r = false;
	WITH_INNER(m, name, err, m->inner->ops->open_folder(m->inner, name_, f_r, info_r, missing_r, err));
}

static int reconnect(struct store *st, struct error *err)
{
	struct mapped_store *m = mapped(st);

	return m->inner->ops->reconnect(m->inner, err);
}

struct store *mapped_store_new(struct store *inner, const struct store_name_map *map)
{
	struct mapped_store *m = xcalloc(1, sizeof(*m));
	const struct store_ops *in = inner->ops;

	m->inner = inner;
	m->map = map;
	m->ops = *in;
	m->ops.list_folders = list_folders;
	m->ops.create_folder = in->create_folder ? create_folder : NULL;
	m->ops.delete_folder = in->delete_folder ? delete_folder : NULL;
	m->ops.folder_status = in->folder_status ? folder_status : NULL;
	m->ops.list_markers = in->list_markers ? list_markers : NULL;
	m->ops.special_use = in->special_use ? special_use : NULL;
	m->ops.quota = in->quota ? quota : NULL;
	m->ops.open_folder = open_folder;
	m->ops.reconnect = in->reconnect ? reconnect : NULL;
	m->ops.close = mapped_store_free;
	m->base.ops = &m->ops;
	return &m->base;
}

void mapped_store_free(struct store *st)
{
	free(st);
}
