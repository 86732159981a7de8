/*
 * Typed access to the YAML tree for the config loader, private to config/.
 *
 * Every getter looks a key up in a section (a mapping plus the key that
 * named it) and returns 1 when the key is there and its value was stored,
 * 0 when the key is absent (the output is left alone, so the caller sets
 * the default first), or -1 with a positioned message in the loader's
 * error. Messages follow one pattern: what was expected, for which key,
 * and what was found.
 */
#ifndef TWINBOX_CONFIG_SCHEMA_P_H
#define TWINBOX_CONFIG_SCHEMA_P_H

#include <stdbool.h>
#include <stdint.h>

#include "twinbox/config/config.h"
#include "yaml_tree_p.h"

struct loader {
	const char *file;
	struct error *err;
	struct config *cfg; /* receives warnings */
};

struct section {
	const struct ynode *map; /* a YNODE_MAP */
	const struct ynode *key; /* the key naming it; NULL for the top level */
	const char *where;       /* "in imap", "at the top level" ... */
};

/* Set a positioned error at `at` (NULL: the start of the file). Returns -1. */
int ld_fail(struct loader *ld, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Add a positioned warning to the config. */
void ld_warn(struct loader *ld, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fill `s` for the value of `key` after checking it is a mapping. */
int ld_section(struct loader *ld, const struct ynode *key, const struct ynode *value, const char *where,
               struct section *s);

/* Refuse duplicate keys and keys not in `allowed` (NULL-terminated). For an
 * unknown key, `hint` (may be NULL) can return extra advice; otherwise the
 * nearest allowed key is suggested when it is a likely typo. */
int ld_check_keys(struct loader *ld, const struct section *s, const char *const *allowed,
                  const char *(*hint)(const char *key));

/* Only the duplicate check of ld_check_keys (for mappings of names). */
int ld_check_duplicates(struct loader *ld, const struct section *s);

/* The value of `key` (and the key node in *key_r if not NULL), or NULL. */
const struct ynode *ld_find(const struct section *s, const char *key, const struct ynode **key_r);

/* "missing required key "<key>" <where>" at the section's key. */
int ld_missing(struct loader *ld, const struct section *s, const char *key);

/* A non-null scalar for `key`: NULs are refused. */
int ld_scalar(struct loader *ld, const char *key, const struct ynode *value);

int ld_string(struct loader *ld, const struct section *s, const char *key, char **out);
int ld_bool(struct loader *ld, const struct section *s, const char *key, bool *out);
/* `names` is NULL-terminated; *out receives the index of the match. */
int ld_enum(struct loader *ld, const struct section *s, const char *key, const char *const *names, int *out);
int ld_uint(struct loader *ld, const struct section *s, const char *key, uint64_t min, uint64_t max,
            uint64_t *out);
/* Seconds within [min, max]. */
int ld_duration(struct loader *ld, const struct section *s, const char *key, uint64_t min, uint64_t max,
                uint64_t *out);
int ld_size(struct loader *ld, const struct section *s, const char *key, uint64_t *out);
/* An absolute path or one starting with "~/", expanded, trailing '/' cut. */
int ld_path(struct loader *ld, const struct section *s, const char *key, char **out);
/* A list of non-empty strings (a single string is a list of one). The
 * array and strings are fresh; on error nothing is allocated. */
int ld_string_list(struct loader *ld, const struct section *s, const char *key, char ***items_r,
                   size_t *count_r);

void ld_free_strings(char **items, size_t count);

#endif
