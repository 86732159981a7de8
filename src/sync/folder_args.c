/*
 * Which folders a run takes: the include and exclude patterns, and the
 * folder arguments (`twinbox sync ACCOUNT:FOLDER`): which folders they
 * name, and the near matches of one that names none.
 *
 * A folder is named by its store name ("Lists/dev", levels joined by
 * '/'), INBOX in any case; also, since that is what the server's own
 * tools and other mail programs show, by its levels joined by the
 * server's usual delimiters '.' or '\' ("Lists.dev"), optionally after
 * the namespace prefix "INBOX." of servers that put every folder below
 * INBOX. An exact spelling wins over the others: "Lists.dev" names a
 * folder of that name where there is one.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine_p.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

#define NEAR_SHOWN 5 /* near matches named in the error */

bool sync_pattern_match(const char *pattern, const char *name)
{
	/* INBOX is case-insensitive (RFC 3501 5.1); compare it that way. */
	if (strcasecmp(name, "INBOX") == 0 && strcasecmp(pattern, "INBOX") == 0)
		return true;
	for (;; pattern++, name++) {
		if (*pattern == '*' || *pattern == '%') {
			bool any = *pattern == '*';
			for (const char *n = name;; n++) {
				if (sync_pattern_match(pattern + 1, n))
					return true;
				if (*n == '\0' || (!any && *n == '/'))
					return false;
			}
		}
		if (*pattern != *name)
			return false;
		if (*name == '\0')
			return true;
	}
}

bool engine_folder_selected(const struct sync_options *o, const char *name)
{
	bool in = o->include_count == 0;

	for (size_t i = 0; i < o->skip_count; i++)
		if (strcmp(o->skip[i], name) == 0)
			return false;
	for (size_t i = 0; i < o->include_count && !in; i++)
		in = sync_pattern_match(o->include[i], name);
	for (size_t i = 0; i < o->exclude_count && in; i++)
		in = !sync_pattern_match(o->exclude[i], name);
	if (in && o->only_count) {
		in = false;
		for (size_t i = 0; i < o->only_count && !in; i++)
			in = engine_same_folder(o->only[i], name);
	}
	return in;
}

bool engine_same_folder(const char *a, const char *b)
{
	return strcmp(a, b) == 0 || (strcasecmp(a, "INBOX") == 0 && strcasecmp(b, "INBOX") == 0);
}

/* Whether `arg` is `name` with its '/' written as `d`. */
static bool spelled_with(const char *arg, const char *name, char d)
{
	for (; *name; name++, arg++)
		if (*name == '/' ? *arg != d : *arg != *name)
			return false;
	return *arg == '\0';
}

static bool other_spelling(const char *arg, const char *name)
{
	static const char delims[] = {'.', '\\'};

	for (size_t i = 0; i < sizeof(delims); i++)
		if (spelled_with(arg, name, delims[i]))
			return true;
	return false;
}

/* `arg` without a leading "INBOX." or "INBOX\" (any case), or NULL. */
static const char *past_prefix(const char *arg)
{
	if (strncasecmp(arg, "INBOX", 5) == 0 && (arg[5] == '.' || arg[5] == '\\') && arg[6])
		return arg + 6;
	return NULL;
}

/* The distinct names of both lists (pointers into them). */
static const char **all_names(char **rnames, char **lnames, size_t *count_r)
{
	size_t n = 0, cap = 1;
	const char **v;

	for (char **p = rnames; *p; p++)
		cap++;
	for (char **p = lnames; *p; p++)
		cap++;
	v = xcalloc(cap, sizeof(*v));
	for (int side = 0; side < 2; side++) {
		for (char **p = side ? lnames : rnames; *p; p++) {
			bool seen = false;
			for (size_t i = 0; i < n && !seen; i++)
				seen = engine_same_folder(v[i], *p);
			if (!seen)
				v[n++] = *p;
		}
	}
	*count_r = n;
	return v;
}

/* Edit distance, case-insensitive, capped at `cap` (beyond it: cap + 1). */
static size_t distance(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row, best;

	if ((la > lb ? la - lb : lb - la) > cap)
		return cap + 1;
	row = xcalloc(lb + 1, sizeof(*row));
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t sub =
			    diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
			size_t del = row[j] + 1, ins = row[j - 1] + 1;
			row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
			diag = up;
		}
	}
	best = row[lb];
	free(row);
	return best > cap ? cap + 1 : best;
}

/* How near `name` is to `arg` (0 the nearest), or SIZE_MAX when it is
 * not near: the same but for case, one the start of the other, or a few
 * letters apart (a third of the argument, at least 2). */
static size_t nearness(const char *arg, const char *name)
{
	size_t la = strlen(arg), ln = strlen(name);
	size_t cap = la / 3 > 2 ? la / 3 : 2;
	size_t d;

	if (strcasecmp(arg, name) == 0)
		return 0;
	d = distance(arg, name, cap);
	if (d <= cap)
		return d;
	if (strncasecmp(arg, name, la < ln ? la : ln) == 0 && (la < ln ? la : ln) >= 3)
		return cap + 1;
	return SIZE_MAX;
}

struct near {
	const char *name;
	size_t score;
};

static int cmp_near(const void *a, const void *b)
{
	const struct near *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The error for `arg`, naming no folder of `names`. */
static int no_such_folder(const char *arg, const char **names, size_t n, struct error *err)
{
	struct near *v = xcalloc(n + 1, sizeof(*v));
	struct buf b = BUF_INIT;
	size_t nv = 0;
	char *text;

	for (size_t i = 0; i < n; i++) {
		size_t s = nearness(arg, names[i]);
		const char *rest = past_prefix(arg);
		/* "Lists.dev" for "Lists/dev2": compare in the store's spelling. */
		if (s == SIZE_MAX) {
			char *slashed = xstrdup(rest ? rest : arg);
			for (char *p = slashed; *p; p++)
				if (*p == '.' || *p == '\\')
					*p = '/';
			s = nearness(slashed, names[i]);
			free(slashed);
		}
		if (s != SIZE_MAX)
			v[nv++] = (struct near){names[i], s};
	}
	qsort(v, nv, sizeof(*v), cmp_near);
	buf_printf(&b, "no folder \"%s\" on the server or in the Maildir", arg);
	for (size_t i = 0; i < nv && i < NEAR_SHOWN; i++)
		buf_printf(&b, "%s\"%s\"",
		           i == 0                               ? "; did you mean "
		           : i + 1 == nv || i + 1 == NEAR_SHOWN ? " or "
		                                                : ", ",
		           v[i].name);
	buf_printf(&b, "%s (`twinbox list-folders ACCOUNT` shows the server's folders as sync takes them)",
	           nv ? "?" : "");
	text = buf_detach(&b, NULL);
	error_set(err, ERR_ACCOUNT, "%s", text);
	free(text);
	free(v);
	return -1;
}

static bool add_name(char ***v, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], name) == 0)
			return true;
	*v = xrealloc(*v, (*n + 2) * sizeof(**v));
	(*v)[(*n)++] = xstrdup(name);
	(*v)[*n] = NULL;
	return true;
}

int engine_resolve_only(const struct sync_options *o, char **rnames, char **lnames, char ***names_r,
                        size_t *count_r, struct error *err)
{
	size_t n_all, n = 0;
	const char **names = all_names(rnames, lnames, &n_all);
	char **out = xcalloc(1, sizeof(*out));
	int rc = 0;

	for (size_t a = 0; a < o->only_count && rc == 0; a++) {
		const char *arg = o->only[a], *rest = past_prefix(arg);
		bool found = false;

		for (size_t i = 0; i < n_all; i++)
			if (engine_same_folder(arg, names[i]))
				found = add_name(&out, &n, names[i]);
		for (size_t i = 0; i < n_all && !found; i++)
			if (other_spelling(arg, names[i]))
				found = add_name(&out, &n, names[i]);
		for (size_t i = 0; i < n_all && !found && rest; i++)
			if (other_spelling(rest, names[i]) || strcmp(rest, names[i]) == 0)
				found = add_name(&out, &n, names[i]);
		if (!found)
			rc = no_such_folder(arg, names, n_all, err);
	}
	free(names);
	if (rc < 0) {
		store_names_free(out);
		return -1;
	}
	*names_r = out;
	*count_r = n;
	return 0;
}
