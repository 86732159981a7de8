#include "yaml_tree_p.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "twinbox/config/config.h"
#include "twinbox/util/xmalloc.h"

struct tree_builder {
	const char *name;
	const char *text;
	size_t len;
	struct error *err;
	struct ynode *root;
	struct ynode *stack[CONFIG_DEPTH_MAX];
	size_t depth;
	int documents;
};

static int fail_at(struct tree_builder *tb, unsigned line, unsigned column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(struct tree_builder *tb, unsigned line, unsigned column, const char *fmt, ...)
{
	char msg[ERROR_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error_set(tb->err, ERR_FATAL, "%s:%u:%u: %s", tb->name, line, column, msg);
}

void yaml_tree_free(struct ynode *node)
{
	if (node == NULL)
		return;
	for (size_t i = 0; i < node->n_items; i++)
		yaml_tree_free(node->items[i]);
	free(node->items);
	free(node->text);
	free(node);
}

bool ynode_is_null(const struct ynode *node)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	if (node->kind != YNODE_SCALAR || !node->plain)
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(node->text, nulls[i]) == 0)
			return true;
	return false;
}

const char *ynode_describe(const struct ynode *node)
{
	switch (node->kind) {
	case YNODE_LIST:
		return "a list";
	case YNODE_MAP:
		return "a mapping";
	case YNODE_SCALAR:
		break;
	}
	return ynode_is_null(node) ? "nothing (null)" : "a string";
}

/* Byte offset of the start of 0-based line `line`, or `len` if the text is
 * shorter. Lines end at "\n" (which also covers "\r\n"). */
static size_t line_start(const char *text, size_t len, size_t line)
{
	size_t off = 0;

	while (line > 0 && off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		if (nl == NULL)
			return len;
		off = (size_t)(nl - text) + 1;
		line--;
	}
	return off;
}

/* libyaml's complaint about a tab ("found character that cannot start any
 * token") does not tell a user what is wrong; name it when the problem line
 * is indented with a tab or the problem character is one. */
static bool explain_tab(struct tree_builder *tb, const yaml_mark_t *mark)
{
	size_t start = line_start(tb->text, tb->len, mark->line);

	for (size_t i = start; i < tb->len && (tb->text[i] == ' ' || tb->text[i] == '\t'); i++) {
		if (tb->text[i] == '\t') {
			fail_at(tb, (unsigned)mark->line + 1, (unsigned)(i - start) + 1,
			        "tab character in indentation; YAML indentation must use spaces");
			return true;
		}
	}
	if (start + mark->column < tb->len && tb->text[start + mark->column] == '\t') {
		fail_at(tb, (unsigned)mark->line + 1, (unsigned)mark->column + 1,
		        "tab character where YAML does not allow one; use spaces");
		return true;
	}
	return false;
}

static int parser_failure(struct tree_builder *tb, const yaml_parser_t *p)
{
	const char *problem = p->problem != NULL ? p->problem : "unknown problem";

	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		size_t off = p->problem_offset < tb->len ? p->problem_offset : tb->len;
		unsigned line = 1, column = 1;
		for (size_t i = 0; i < off; i++) {
			if (tb->text[i] == '\n') {
				line++;
				column = 1;
			} else {
				column++;
			}
		}
		return fail_at(tb, line, column, "the file is not valid YAML text: %s", problem);
	}
	if (explain_tab(tb, &p->problem_mark))
		return -1;
	if (p->context != NULL)
		return fail_at(tb, (unsigned)p->problem_mark.line + 1, (unsigned)p->problem_mark.column + 1,
		               "YAML syntax error: %s (%s started at line %u, column %u)", problem,
		               p->context, (unsigned)p->context_mark.line + 1,
		               (unsigned)p->context_mark.column + 1);
	return fail_at(tb, (unsigned)p->problem_mark.line + 1, (unsigned)p->problem_mark.column + 1,
	               "YAML syntax error: %s", problem);
}

static int refuse_decorations(struct tree_builder *tb, const yaml_event_t *ev, const yaml_char_t *anchor,
                              const yaml_char_t *tag)
{
	unsigned line = (unsigned)ev->start_mark.line + 1, column = (unsigned)ev->start_mark.column + 1;

	if (anchor != NULL)
		return fail_at(tb, line, column,
		               "YAML anchors (&%.40s) are not supported in the config; write the value out",
		               anchor);
	if (tag != NULL)
		return fail_at(tb, line, column,
		               "YAML tags (%.40s) are not supported in the config; remove it", tag);
	return 0;
}

/* Hang `node` under the innermost open container (or make it the root).
 * The tree owns the node from here on, also when this fails. */
static int attach(struct tree_builder *tb, struct ynode *node)
{
	struct ynode *parent;

	if (tb->depth == 0) {
		tb->root = node;
		return 0;
	}
	parent = tb->stack[tb->depth - 1];
	parent->items = xrealloc(parent->items, (parent->n_items + 1) * sizeof(*parent->items));
	parent->items[parent->n_items++] = node;
	if (parent->kind == YNODE_LIST) {
		parent->count = parent->n_items;
		if (parent->count > CONFIG_ITEMS_MAX)
			return fail_at(tb, node->line, node->column, "more than %d entries in one list",
			               CONFIG_ITEMS_MAX);
		return 0;
	}
	parent->count = parent->n_items / 2;
	if (parent->n_items % 2 == 1) {
		if (node->kind != YNODE_SCALAR)
			return fail_at(tb, node->line, node->column, "a key must be a plain name, not %s",
			               ynode_describe(node));
		if (parent->count + 1 > CONFIG_ITEMS_MAX)
			return fail_at(tb, node->line, node->column, "more than %d entries in one mapping",
			               CONFIG_ITEMS_MAX);
	}
	return 0;
}

static struct ynode *new_node(enum ynode_kind kind, const yaml_event_t *ev)
{
	struct ynode *node = xcalloc(1, sizeof(*node));

	node->kind = kind;
	node->line = (unsigned)ev->start_mark.line + 1;
	node->column = (unsigned)ev->start_mark.column + 1;
	return node;
}

static int open_container(struct tree_builder *tb, enum ynode_kind kind, const yaml_event_t *ev)
{
	struct ynode *node = new_node(kind, ev);

	if (attach(tb, node) < 0)
		return -1;
	if (tb->depth == CONFIG_DEPTH_MAX)
		return fail_at(tb, node->line, node->column, "nesting deeper than %d levels",
		               CONFIG_DEPTH_MAX);
	tb->stack[tb->depth++] = node;
	return 0;
}

/* One event; returns 1 at the end of the stream, 0 to go on, -1 on error. */
static int handle_event(struct tree_builder *tb, const yaml_event_t *ev)
{
	struct ynode *node;

	switch (ev->type) {
	case YAML_NO_EVENT:
	case YAML_STREAM_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
		return 0;
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (++tb->documents > 1)
			return fail_at(tb, (unsigned)ev->start_mark.line + 1,
			               (unsigned)ev->start_mark.column + 1,
			               "a second YAML document; the config must be a single document");
		return 0;
	case YAML_ALIAS_EVENT:
		return fail_at(tb, (unsigned)ev->start_mark.line + 1, (unsigned)ev->start_mark.column + 1,
		               "YAML aliases (*%.40s) are not supported in the config; write the value out",
		               ev->data.alias.anchor);
	case YAML_SCALAR_EVENT:
		if (refuse_decorations(tb, ev, ev->data.scalar.anchor, ev->data.scalar.tag) < 0)
			return -1;
		node = new_node(YNODE_SCALAR, ev);
		node->len = ev->data.scalar.length;
		node->text = xmalloc(node->len + 1);
		memcpy(node->text, ev->data.scalar.value, node->len);
		node->text[node->len] = '\0';
		node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		return attach(tb, node);
	case YAML_SEQUENCE_START_EVENT:
		if (refuse_decorations(tb, ev, ev->data.sequence_start.anchor, ev->data.sequence_start.tag) <
		    0)
			return -1;
		return open_container(tb, YNODE_LIST, ev);
	case YAML_MAPPING_START_EVENT:
		if (refuse_decorations(tb, ev, ev->data.mapping_start.anchor, ev->data.mapping_start.tag) < 0)
			return -1;
		return open_container(tb, YNODE_MAP, ev);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (tb->depth > 0)
			tb->depth--;
		return 0;
	}
	return 0;
}

int yaml_tree_parse(const char *name, const char *text, size_t len, struct ynode **root_r, struct error *err)
{
	struct tree_builder tb = {.name = name, .text = text, .len = len, .err = err};
	yaml_parser_t parser;
	int rc = 0;

	*root_r = NULL;
	if (!yaml_parser_initialize(&parser))
		return error_set(err, ERR_FATAL, "%s: cannot initialise the YAML parser (out of memory)",
		                 name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	for (;;) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev)) {
			rc = parser_failure(&tb, &parser);
			break;
		}
		rc = handle_event(&tb, &ev);
		yaml_event_delete(&ev);
		if (rc != 0)
			break;
	}
	yaml_parser_delete(&parser);
	if (rc < 0) {
		yaml_tree_free(tb.root);
		return -1;
	}
	*root_r = tb.root;
	return 0;
}
