/*
 * A small YAML tree built from libyaml events, private to config/.
 *
 * The config loader needs the position of every key and value and a few
 * refusals (aliases, anchors, tags, tabs in indentation, a second
 * document) that libyaml's document API does not give, so the tree is
 * built from the event stream here. Positions are 1-based.
 */
#ifndef TWINBOX_CONFIG_YAML_TREE_P_H
#define TWINBOX_CONFIG_YAML_TREE_P_H

#include <stdbool.h>
#include <stddef.h>

#include "twinbox/util/error.h"

enum ynode_kind {
	YNODE_SCALAR,
	YNODE_LIST,
	YNODE_MAP,
};

struct ynode {
	enum ynode_kind kind;
	unsigned line, column;
	/* YNODE_SCALAR: the bytes (NUL-terminated, may hold NULs inside),
	 * and whether it was written plain (unquoted, so "~" means null). */
	char *text;
	size_t len;
	bool plain;
	/* YNODE_LIST: `count` items. YNODE_MAP: `count` pairs stored as
	 * items[2 * i] (key, always a scalar) and items[2 * i + 1] (value). */
	struct ynode **items;
	size_t count;
	size_t n_items; /* entries used in `items` (2 * count for a map) */
};

/* Parse `len` bytes into a tree (*root_r; yaml_tree_free it). An empty
 * stream (only comments or blanks) gives *root_r == NULL and returns 0.
 * Returns -1 with "<name>:<line>:<col>: ..." in `err` (ERR_FATAL) for a
 * syntax error, anchor, alias, tag, second document, too deep nesting or
 * too many entries. Duplicate keys are left to the caller, which knows
 * what a key means. */
int yaml_tree_parse(const char *name, const char *text, size_t len, struct ynode **root_r, struct error *err);

void yaml_tree_free(struct ynode *node);

/* A plain scalar that YAML reads as null: "", "~", "null", "Null", "NULL". */
bool ynode_is_null(const struct ynode *node);

/* "a string", "a list", "a mapping", "nothing (null)" for messages. */
const char *ynode_describe(const struct ynode *node);

#endif
