/* Typed, positioned access to the YAML tree for the config loader. */
#include "schema_p.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_p.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

static void format_at(struct loader *ld, const struct ynode *at, char *out, size_t size, const char *fmt,
                      va_list ap) __attribute__((format(printf, 5, 0)));

static void format_at(struct loader *ld, const struct ynode *at, char *out, size_t size, const char *fmt,
                      va_list ap)
{
	int n = snprintf(out, size, "%s:%u:%u: ", ld->file, at != NULL ? at->line : 1,
	                 at != NULL ? at->column : 1);

	if (n < 0 || (size_t)n >= size)
		return;
	vsnprintf(out + n, size - (size_t)n, fmt, ap);
}

int ld_fail(struct loader *ld, const struct ynode *at, const char *fmt, ...)
{
	char msg[ERROR_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	format_at(ld, at, msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error_set(ld->err, ERR_FATAL, "%s", msg);
}

void ld_warn(struct loader *ld, const struct ynode *at, const char *fmt, ...)
{
	char msg[ERROR_TEXT_MAX];
	struct config *cfg = ld->cfg;
	va_list ap;

	va_start(ap, fmt);
	format_at(ld, at, msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cfg->warnings = xrealloc(cfg->warnings, (cfg->warning_count + 1) * sizeof(*cfg->warnings));
	cfg->warnings[cfg->warning_count++] = xstrdup(msg);
}

int ld_section(struct loader *ld, const struct ynode *key, const struct ynode *value, const char *where,
               struct section *s)
{
	if (value->kind != YNODE_MAP) {
		if (ynode_is_null(value))
			return ld_fail(ld, value, "no value given for \"%s\"; expected a mapping of keys",
			               key->text);
		return ld_fail(ld, value, "expected a mapping for \"%s\", got %s", key->text,
		               ynode_describe(value));
	}
	s->map = value;
	s->key = key;
	s->where = where;
	return 0;
}

/* Edit distance with adjacent transpositions ("hots" -> "host" is 1), used
 * only to suggest a key; both strings are short. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[3][33];

	if (la > 32 || lb > 32)
		return 99;
	/* Three rolling rows: previous-previous, previous, current. */
	for (size_t j = 0; j <= lb; j++)
		d[1][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = d[(i + 1) % 3], *prev = d[i % 3], *prev2 = d[(i + 2) % 3];
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (prev[j - 1] + cost < best)
				best = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
	}
	return d[(la + 1) % 3][lb];
}

int ld_check_duplicates(struct loader *ld, const struct section *s)
{
	const struct ynode *map = s->map;
	char q[CONFIG_QUOTE_SIZE];

	for (size_t i = 0; i < map->count; i++) {
		const struct ynode *key = map->items[2 * i];
		for (size_t j = 0; j < i; j++) {
			const struct ynode *other = map->items[2 * j];
			if (other->len == key->len && memcmp(other->text, key->text, key->len) == 0) {
				config_quote(q, key->text, key->len);
				return ld_fail(ld, key, "duplicate key \"%s\" (first at line %u)", q,
				               other->line);
			}
		}
	}
	return 0;
}

int ld_check_keys(struct loader *ld, const struct section *s, const char *const *allowed,
                  const char *(*hint)(const char *key))
{
	const struct ynode *map = s->map;

	if (ld_check_duplicates(ld, s) < 0)
		return -1;
	for (size_t i = 0; i < map->count; i++) {
		const struct ynode *key = map->items[2 * i];
		char q[CONFIG_QUOTE_SIZE];
		const char *best = NULL, *extra;
		size_t best_d = 3;
		bool known = false;

		config_quote(q, key->text, key->len);
		for (size_t j = 0; allowed[j] != NULL; j++) {
			size_t d;
			if (strlen(allowed[j]) == key->len && strcmp(allowed[j], key->text) == 0) {
				known = true;
				break;
			}
			d = edit_distance(key->text, allowed[j]);
			if (d < best_d && d < key->len) {
				best_d = d;
				best = allowed[j];
			}
		}
		if (known)
			continue;
		/* A slip of one letter is a typo; beyond that, a key of
		 * another section says where it goes ("poll" is no typo of
		 * "pop3", it goes under watch:). */
		extra = hint != NULL && key->len == strlen(key->text) ? hint(key->text) : NULL;
		if (extra != NULL && (best == NULL || best_d > 1))
			return ld_fail(ld, key, "unknown key \"%s\" %s (%s)", q, s->where, extra);
		if (best != NULL)
			return ld_fail(ld, key, "unknown key \"%s\" %s (did you mean \"%s\"?)", q, s->where,
			               best);
		return ld_fail(ld, key, "unknown key \"%s\" %s", q, s->where);
	}
	return 0;
}

const struct ynode *ld_find(const struct section *s, const char *key, const struct ynode **key_r)
{
	size_t len = strlen(key);

	for (size_t i = 0; i < s->map->count; i++) {
		const struct ynode *k = s->map->items[2 * i];
		if (k->len == len && memcmp(k->text, key, len) == 0) {
			if (key_r != NULL)
				*key_r = k;
			return s->map->items[2 * i + 1];
		}
	}
	return NULL;
}

int ld_missing(struct loader *ld, const struct section *s, const char *key)
{
	return ld_fail(ld, s->key != NULL ? s->key : s->map, "missing required key \"%s\" %s", key, s->where);
}

int ld_scalar(struct loader *ld, const char *key, const struct ynode *value)
{
	if (value->kind != YNODE_SCALAR)
		return ld_fail(ld, value, "expected a single value for \"%s\", got %s", key,
		               ynode_describe(value));
	if (ynode_is_null(value))
		return ld_fail(ld, value, "no value given for \"%s\"", key);
	if (strlen(value->text) != value->len)
		return ld_fail(ld, value, "the value of \"%s\" contains a NUL character", key);
	return 0;
}

int ld_string(struct loader *ld, const struct section *s, const char *key, char **out)
{
	const struct ynode *v = ld_find(s, key, NULL);

	if (v == NULL)
		return 0;
	if (ld_scalar(ld, key, v) < 0)
		return -1;
	if (v->len == 0)
		return ld_fail(ld, v, "\"%s\" is empty", key);
	free(*out);
	*out = xstrdup(v->text);
	return 1;
}

int ld_bool(struct loader *ld, const struct section *s, const char *key, bool *out)
{
	const struct ynode *v = ld_find(s, key, NULL);
	char q[CONFIG_QUOTE_SIZE];

	if (v == NULL)
		return 0;
	if (v->kind != YNODE_SCALAR || ynode_is_null(v))
		return ld_fail(ld, v, "expected a boolean (true/false) for \"%s\", got %s", key,
		               ynode_describe(v));
	/* Only true/false: YAML 1.1's yes/no/on/off surprise too many people
	 * ("NO" as a country code), so they are refused rather than guessed. */
	if (strcmp(v->text, "true") == 0 || strcmp(v->text, "True") == 0 || strcmp(v->text, "TRUE") == 0) {
		*out = true;
		return 1;
	}
	if (strcmp(v->text, "false") == 0 || strcmp(v->text, "False") == 0 || strcmp(v->text, "FALSE") == 0) {
		*out = false;
		return 1;
	}
	config_quote(q, v->text, v->len);
	return ld_fail(ld, v, "expected a boolean (true/false) for \"%s\", got \"%s\"", key, q);
}

int ld_enum(struct loader *ld, const struct section *s, const char *key, const char *const *names, int *out)
{
	const struct ynode *v = ld_find(s, key, NULL);
	char q[CONFIG_QUOTE_SIZE], list[256] = "";
	size_t n = 0;

	if (v == NULL)
		return 0;
	if (ld_scalar(ld, key, v) < 0)
		return -1;
	for (int i = 0; names[i] != NULL; i++) {
		if (strcmp(v->text, names[i]) == 0) {
			*out = i;
			return 1;
		}
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i > 0 ? ", " : "", names[i]);
		if (n >= sizeof(list))
			n = sizeof(list) - 1;
	}
	config_quote(q, v->text, v->len);
	return ld_fail(ld, v, "expected one of %s for \"%s\", got \"%s\"", list, key, q);
}

int ld_uint(struct loader *ld, const struct section *s, const char *key, uint64_t min, uint64_t max,
            uint64_t *out)
{
	const struct ynode *v = ld_find(s, key, NULL);
	char q[CONFIG_QUOTE_SIZE];
	uint64_t n = 0;
	size_t i = 0;

	if (v == NULL)
		return 0;
	if (ld_scalar(ld, key, v) < 0)
		return -1;
	config_quote(q, v->text, v->len);
	while (v->text[i] >= '0' && v->text[i] <= '9')
		i++;
	if (i == 0 || v->text[i] != '\0') {
		if (v->text[0] == '-')
			return ld_fail(ld, v, "\"%s\" cannot be negative, got \"%s\"", key, q);
		return ld_fail(ld, v, "expected a whole number for \"%s\", got \"%s\"", key, q);
	}
	for (i = 0; v->text[i] != '\0'; i++) {
		unsigned d = (unsigned)(v->text[i] - '0');
		if (n > (UINT64_MAX - d) / 10 || n * 10 + d > max)
			return ld_fail(ld, v, "\"%s\" must be between %llu and %llu, got %s", key,
			               (unsigned long long)min, (unsigned long long)max, q);
		n = n * 10 + d;
	}
	if (n < min)
		return ld_fail(ld, v, "\"%s\" must be between %llu and %llu, got %s", key,
		               (unsigned long long)min, (unsigned long long)max, q);
	*out = n;
	return 1;
}

static void format_duration(char *out, size_t size, uint64_t seconds)
{
	if (seconds % 86400 == 0)
		snprintf(out, size, "%llud", (unsigned long long)(seconds / 86400));
	else if (seconds % 3600 == 0)
		snprintf(out, size, "%lluh", (unsigned long long)(seconds / 3600));
	else if (seconds % 60 == 0)
		snprintf(out, size, "%llum", (unsigned long long)(seconds / 60));
	else
		snprintf(out, size, "%llus", (unsigned long long)seconds);
}

int ld_duration(struct loader *ld, const struct section *s, const char *key, uint64_t min, uint64_t max,
                uint64_t *out)
{
	const struct ynode *v = ld_find(s, key, NULL);
	char q[CONFIG_QUOTE_SIZE], lo[32], hi[32];
	struct error perr;
	uint64_t secs;

	if (v == NULL)
		return 0;
	if (ld_scalar(ld, key, v) < 0)
		return -1;
	error_clear(&perr);
	if (config_parse_duration(v->text, &secs, &perr) < 0)
		return ld_fail(ld, v, "invalid duration for \"%s\": %s", key, perr.text);
	if (secs < min || secs > max) {
		config_quote(q, v->text, v->len);
		format_duration(lo, sizeof(lo), min);
		format_duration(hi, sizeof(hi), max);
		return ld_fail(ld, v, "\"%s\" must be between %s and %s, got \"%s\"", key, lo, hi, q);
	}
	*out = secs;
	return 1;
}

int ld_size(struct loader *ld, const struct section *s, const char *key, uint64_t *out)
{
	const struct ynode *v = ld_find(s, key, NULL);
	struct error perr;

	if (v == NULL)
		return 0;
	if (ld_scalar(ld, key, v) < 0)
		return -1;
	error_clear(&perr);
	if (config_parse_size(v->text, out, &perr) < 0)
		return ld_fail(ld, v, "invalid size for \"%s\": %s", key, perr.text);
	return 1;
}

int ld_path(struct loader *ld, const struct section *s, const char *key, char **out)
{
	const struct ynode *v = ld_find(s, key, NULL);
	const char *home = getenv("HOME");
	char q[CONFIG_QUOTE_SIZE];
	char *path;
	size_t len;

	if (v == NULL)
		return 0;
	if (ld_scalar(ld, key, v) < 0)
		return -1;
	config_quote(q, v->text, v->len);
	if (v->text[0] == '~') {
		if (v->text[1] != '/' && v->text[1] != '\0')
			return ld_fail(
			    ld, v,
			    "\"~user\" paths are not supported in \"%s\"; write the full path, got \"%s\"",
			    key, q);
		if (home == NULL || home[0] != '/')
			return ld_fail(
			    ld, v, "cannot expand \"~\" in \"%s\": HOME is not set to an absolute path", key);
		path = fs_expand_home(v->text);
	} else if (v->text[0] == '/') {
		path = xstrdup(v->text);
	} else {
		return ld_fail(ld, v, "\"%s\" must be an absolute path or start with \"~/\", got \"%s\"", key,
		               q);
	}
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	free(*out);
	*out = path;
	return 1;
}

void ld_free_strings(char **items, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(items[i]);
	free(items);
}

int ld_string_list(struct loader *ld, const struct section *s, const char *key, char ***items_r,
                   size_t *count_r)
{
	const struct ynode *v = ld_find(s, key, NULL);
	const struct ynode *const *items;
	size_t count;
	char **out;

	if (v == NULL)
		return 0;
	if (v->kind == YNODE_MAP || ynode_is_null(v))
		return ld_fail(ld, v, "expected a list of strings for \"%s\", got %s", key,
		               ynode_describe(v));
	if (v->kind == YNODE_SCALAR) {
		items = (const struct ynode *const *)&v;
		count = 1;
	} else {
		items = (const struct ynode *const *)v->items;
		count = v->count;
	}
	for (size_t i = 0; i < count; i++) {
		if (items[i]->kind != YNODE_SCALAR || ynode_is_null(items[i]))
			return ld_fail(ld, items[i], "expected a string in the list \"%s\", got %s", key,
			               ynode_describe(items[i]));
		if (ld_scalar(ld, key, items[i]) < 0)
			return -1;
		if (items[i]->len == 0)
			return ld_fail(ld, items[i], "empty string in the list \"%s\"", key);
	}
	out = xcalloc(count + 1, sizeof(*out));
	for (size_t i = 0; i < count; i++)
		out[i] = xstrdup(items[i]->text);
	ld_free_strings(*items_r, *count_r);
	*items_r = out;
	*count_r = count;
	return 1;
}
