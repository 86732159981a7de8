/* The planner tests' little language: see test_sync_plan.h. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"
#include "unit/test_sync_plan.h"

static const struct {
	char letter;
	unsigned bit;
} letters[] = {
    {'D', MAIL_FLAG_DRAFT}, {'F', MAIL_FLAG_FLAGGED}, {'R', MAIL_FLAG_ANSWERED},
    {'S', MAIL_FLAG_SEEN},  {'T', MAIL_FLAG_DELETED},
};

char *world_keep(struct world *w, char *s)
{
	if (!s)
		return NULL;
	w->strings = xgrow(w->strings, &w->string_cap, w->string_count + 1, sizeof(*w->strings));
	w->strings[w->string_count++] = s;
	return s;
}

/* Flags text "SF+$Junk" up to the end of `s` into bits and canonical keywords. */
static void parse_flags(struct world *w, const char *s, size_t len, unsigned *bits_r, const char **kw_r)
{
	struct buf kw = BUF_INIT;
	struct error err;
	size_t i = 0;
	char *canon;

	*bits_r = 0;
	for (; i < len && s[i] != '+'; i++) {
		size_t k = 0;

		while (k < sizeof(letters) / sizeof(letters[0]) && letters[k].letter != s[i])
			k++;
		cr_assert(k < sizeof(letters) / sizeof(letters[0]), "bad flag letter '%c' in test input",
		          s[i]);
		*bits_r |= letters[k].bit;
	}
	for (; i < len; i++)
		buf_append_byte(&kw, s[i] == '+' ? ' ' : s[i]);
	cr_assert_eq(mail_keywords_canon(buf_cstr(&kw), &canon, &err), 0, "%s", err.text);
	buf_free(&kw);
	*kw_r = world_keep(w, canon);
}

struct token_parts {
	char *id;
	unsigned flags;
	const char *keywords, *key;
	uint64_t size;
};

/* "<id>[:flags][@key][#size]" */
static void parse_token(struct world *w, const char *tok, struct token_parts *t)
{
	size_t id_len = strcspn(tok, ":@#");
	const char *p = tok + id_len;

	memset(t, 0, sizeof(*t));
	t->size = 100;
	t->id = world_keep(w, xstrndup(tok, id_len));
	if (*p == ':') {
		size_t n = strcspn(p + 1, "@#");
		parse_flags(w, p + 1, n, &t->flags, &t->keywords);
		p += 1 + n;
	}
	if (*p == '@') {
		size_t n = strcspn(p + 1, "#");
		t->key = world_keep(w, xstrndup(p + 1, n));
		p += 1 + n;
	}
	if (*p == '#')
		t->size = strtoull(p + 1, NULL, 10);
}

/* Call fn for each space-separated token of `text`. */
static void each_token(struct world *w, const char *text, void (*fn)(struct world *, const char *))
{
	char *copy = xstrdup(text ? text : ""), *save = NULL;

	for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		fn(w, tok);
	free(copy);
}

static size_t pair_cap, remote_cap, local_cap;

static void add_pair(struct world *w, const char *tok)
{
	struct token_parts t;
	char *slash;
	struct state_pair *p;

	parse_token(w, tok, &t);
	slash = strchr(t.id, '/');
	cr_assert(slash, "a state token needs <uid>/<local>: %s", tok);
	*slash = '\0';
	w->pairs = xgrow(w->pairs, &pair_cap, w->pair_count + 1, sizeof(*w->pairs));
	p = &w->pairs[w->pair_count++];
	*p = (struct state_pair){.id = (int64_t)w->pair_count,
	                         .folder_id = 1,
	                         .side = {{(uint32_t)strtoul(t.id, NULL, 10), NULL},
	                                  {0, strcmp(slash + 1, "-") ? slash + 1 : NULL}},
	                         .flags = t.flags,
	                         .keywords = t.keywords,
	                         .size = t.size,
	                         .content_key = t.key,
	                         .renumbered = t.id[0] == '?'};
}

static void add_remote(struct world *w, const char *tok)
{
	struct token_parts t;

	parse_token(w, tok, &t);
	w->remote = xgrow(w->remote, &remote_cap, w->remote_count + 1, sizeof(*w->remote));
	w->remote[w->remote_count++] = (struct plan_msg){
	    {(uint32_t)strtoul(t.id, NULL, 10), NULL}, t.flags, t.keywords, t.size, t.key, 1000, 0};
}

static void add_local(struct world *w, const char *tok)
{
	struct token_parts t;

	parse_token(w, tok, &t);
	w->local = xgrow(w->local, &local_cap, w->local_count + 1, sizeof(*w->local));
	w->local[w->local_count++] =
	    (struct plan_msg){{0, t.id}, t.flags, t.keywords, t.size, t.key, 2000, 0};
}

void world_parse(struct world *w, const char *state, const char *remote, const char *local)
{
	memset(w, 0, sizeof(*w));
	pair_cap = remote_cap = local_cap = 0;
	each_token(w, state, add_pair);
	each_token(w, remote, add_remote);
	each_token(w, local, add_local);
}

void world_free(struct world *w)
{
	for (size_t i = 0; i < w->string_count; i++)
		free(w->strings[i]);
	free(w->strings);
	free(w->pairs);
	free(w->remote);
	free(w->local);
	memset(w, 0, sizeof(*w));
}

struct plan_input world_input(const struct world *w)
{
	return (struct plan_input){
	    w->pairs, w->pair_count, {w->remote, w->local}, {w->remote_count, w->local_count}};
}

static enum plan_where parse_where(const char *v)
{
	if (strcmp(v, "none") == 0)
		return PLAN_WHERE_NONE;
	if (strcmp(v, "remote") == 0)
		return PLAN_WHERE_REMOTE;
	if (strcmp(v, "local") == 0)
		return PLAN_WHERE_LOCAL;
	cr_assert_str_eq(v, "both", "bad where value in test rules");
	return PLAN_WHERE_BOTH;
}

/* "keepR=ST+$Forwarded", "keepL=S+*" (any keyword): what a side keeps.
 * The keywords live in `buf` (a side's own, as long as the test). */
static void parse_keep(struct store_keep *k, char *buf, size_t cap, const char *v)
{
	unsigned bits = 0;
	struct buf kw = BUF_INIT;
	const char *p = v;
	char *canon = NULL;
	struct error err;

	for (; *p && *p != '+'; p++) {
		size_t i = 0;
		while (i < sizeof(letters) / sizeof(letters[0]) && letters[i].letter != *p)
			i++;
		cr_assert(i < sizeof(letters) / sizeof(letters[0]), "bad flag letter '%c' in keep", *p);
		bits |= letters[i].bit;
	}
	memset(k, 0, sizeof(*k));
	while (*p == '+') {
		size_t n = strcspn(++p, "+");
		if (n == 1 && *p == '*')
			k->new_keywords = true;
		else
			buf_printf(&kw, "%s%.*s", kw.len ? " " : "", (int)n, p);
		p += n;
	}
	cr_assert_eq(mail_keywords_canon(buf_cstr(&kw), &canon, &err), 0, "%s", err.text);
	snprintf(buf, cap, "%s", canon ? canon : "");
	free(canon);
	buf_free(&kw);
	k->limited = true;
	k->flags = bits;
	k->keywords = buf[0] ? buf : NULL;
}

void rules_parse(struct plan_rules *rules, const char *text)
{
	static char keep_buf[SIDES][256];
	char *copy = xstrdup(text ? text : ""), *save = NULL;

	plan_rules_init(rules);
	rules->expunge = PLAN_WHERE_BOTH;
	for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		const char *v = eq ? eq + 1 : "";

		if (eq)
			*eq = '\0';
		if (strcmp(tok, "dir") == 0)
			rules->direction = strcmp(v, "pull") == 0   ? PLAN_DIRECTION_PULL
			                   : strcmp(v, "push") == 0 ? PLAN_DIRECTION_PUSH
			                                            : PLAN_DIRECTION_BOTH;
		else if (strcmp(tok, "exp") == 0)
			rules->expunge = parse_where(v);
		else if (strcmp(tok, "create") == 0)
			rules->create = parse_where(v);
		else if (strcmp(tok, "flags") == 0)
			rules->flags = strcmp(v, "off") != 0;
		else if (strcmp(tok, "max") == 0)
			rules->max_size = strtoull(v, NULL, 10);
		else if (strcmp(tok, "pct") == 0)
			rules->mass_delete_percent = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(tok, "min") == 0)
			rules->mass_delete_min = strtoul(v, NULL, 10);
		else if (strcmp(tok, "allow") == 0)
			rules->allow_mass_delete = true;
		else if (strcmp(tok, "first") == 0)
			rules->first_sync = true;
		else if (strcmp(tok, "rmfolders") == 0)
			rules->remove_folders = true;
		else if (strcmp(tok, "keepR") == 0)
			parse_keep(&rules->keep[SIDE_A], keep_buf[SIDE_A], sizeof(keep_buf[SIDE_A]), v);
		else if (strcmp(tok, "keepL") == 0)
			parse_keep(&rules->keep[SIDE_B], keep_buf[SIDE_B], sizeof(keep_buf[SIDE_B]), v);
		else if (strcmp(tok, "use") == 0)
			rules->use = strcmp(v, "trash") == 0  ? PLAN_USE_TRASH
			             : strcmp(v, "junk") == 0 ? PLAN_USE_JUNK
			                                      : PLAN_USE_NONE;
		else
			cr_assert_fail("bad rule \"%s\" in test rules", tok);
	}
	free(copy);
}

char *flags_text(unsigned bits, const char *keywords)
{
	struct buf b = BUF_INIT;
	const char *p = keywords ? keywords : "";

	for (size_t k = 0; k < sizeof(letters) / sizeof(letters[0]); k++)
		if (bits & letters[k].bit)
			buf_append_byte(&b, letters[k].letter);
	while (*p) {
		size_t n = strcspn(p, " ");
		buf_printf(&b, "+%.*s", (int)n, p);
		p += n;
		p += *p == ' ';
	}
	return buf_detach(&b, NULL);
}

static void keywords_out(struct buf *b, char sign, const char *kw)
{
	const char *p = kw ? kw : "";

	while (*p) {
		size_t n = strcspn(p, " ");
		buf_printf(b, " %c%.*s", sign, (int)n, p);
		p += n;
		p += *p == ' ';
	}
}

static void change_out(struct buf *b, const struct plan_flag_change *c)
{
	char *add = flags_text(c->add, NULL), *del = flags_text(c->remove, NULL);

	if (*add || *del)
		buf_append_byte(b, ' ');
	if (*add)
		buf_printf(b, "+%s", add);
	if (*del)
		buf_printf(b, "-%s", del);
	keywords_out(b, '+', c->add_keywords);
	keywords_out(b, '-', c->remove_keywords);
	free(add);
	free(del);
}

/* The notation names side A "R" (its ids are UIDs) and side B "L". */
static const char side_letter[SIDES] = {'R', 'L'};

/* Message id[s] of the action: its UID or its name ("5" or "a"); an
 * unknown id prints as "0" on side A and "-" on side B. */
static void id_out(struct buf *b, enum side s, const struct plan_action *a)
{
	if (a->id[s].name)
		buf_append_str(b, a->id[s].name);
	else if (a->id[s].uid || s == SIDE_A)
		buf_printf(b, "%" PRIu32, a->id[s].uid);
	else
		buf_append_str(b, "-");
}

static void pair_ref(struct buf *b, const struct plan_action *a)
{
	if (a->pair_id) {
		buf_printf(b, "p%" PRId64, a->pair_id);
		return;
	}
	id_out(b, SIDE_A, a);
	buf_append_byte(b, '/');
	id_out(b, SIDE_B, a);
}

static char *action_text(const struct plan_action *a)
{
	struct buf b = BUF_INIT;
	char *f = flags_text(a->flags, a->keywords);
	enum side from = side_other(a->side);

	switch (a->kind) {
	case PLAN_PAIR_EXISTING:
		buf_append_str(&b, "pair ");
		if (a->pair_id)
			buf_printf(&b, "p%" PRId64 " ", a->pair_id);
		id_out(&b, SIDE_A, a);
		buf_append_byte(&b, '/');
		id_out(&b, SIDE_B, a);
		buf_printf(&b, ":%s", f);
		break;
	case PLAN_SET_FLAGS:
		buf_printf(&b, "set%c ", side_letter[a->side]);
		id_out(&b, a->side, a);
		change_out(&b, &a->change);
		break;
	case PLAN_UPDATE_PAIR:
		buf_append_str(&b, "upd ");
		pair_ref(&b, a);
		if (a->update & PLAN_UPDATE_FLAGS)
			buf_printf(&b, " :%s", f);
		if (a->update & plan_update_drop(SIDE_A))
			buf_append_str(&b, " -R");
		if (a->update & plan_update_drop(SIDE_B))
			buf_append_str(&b, " -L");
		break;
	case PLAN_COPY:
		buf_printf(&b, "copy%c ", side_letter[a->side]);
		id_out(&b, from, a);
		buf_printf(&b, ":%s", f);
		if (a->pair_id)
			buf_printf(&b, " p%" PRId64, a->pair_id);
		if (a->reupload)
			buf_append_str(&b, " again");
		if (a->lost_flags || a->lost_keywords) {
			char *lost = flags_text(a->lost_flags, a->lost_keywords);
			buf_printf(&b, " lost:%s", lost);
			free(lost);
		}
		break;
	case PLAN_DELETE:
		buf_printf(&b, "del%c ", side_letter[a->side]);
		id_out(&b, a->side, a);
		buf_printf(&b, " p%" PRId64, a->pair_id);
		break;
	case PLAN_FORGET:
		buf_printf(&b, "forget p%" PRId64, a->pair_id);
		break;
	case PLAN_SKIP_TOO_BIG:
		buf_printf(&b, "big %c ", side_letter[from]);
		id_out(&b, from, a);
		break;
	default:
		cr_assert_fail("unknown action kind %d", a->kind);
	}
	free(f);
	return buf_detach(&b, NULL);
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *plan_text(const struct plan *plan)
{
	char **v = xcalloc(plan->action_count + 1, sizeof(*v));
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < plan->action_count; i++)
		v[i] = action_text(&plan->actions[i]);
	qsort(v, plan->action_count, sizeof(*v), str_ptr_cmp);
	for (size_t i = 0; i < plan->action_count; i++) {
		if (i)
			buf_append_str(&b, "; ");
		buf_append_str(&b, v[i]);
		free(v[i]);
	}
	free(v);
	return buf_detach(&b, NULL);
}

char *plan_world(const char *state, const char *remote, const char *local, const char *rules_text,
                 struct plan *plan_r)
{
	struct world w;
	struct plan_rules rules;
	struct plan plan;
	struct plan_input in;
	struct error err;
	char *text;

	world_parse(&w, state, remote, local);
	rules_parse(&rules, rules_text);
	in = world_input(&w);
	cr_assert_eq(plan_build(&in, &rules, &plan, &err), 0, "planner refused the input: %s", err.text);
	text = plan_text(&plan);
	if (plan_r)
		*plan_r = plan; /* its strings are its own: the world may go */
	else
		plan_free(&plan);
	world_free(&w);
	return text;
}

void check_rows(const struct plan_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct plan_row *r = &rows[i];
		char *got = plan_world(r->state, r->remote, r->local, r->rules, NULL);

		cr_expect_str_eq(got, r->expect,
		                 "row \"%s\": state [%s] remote [%s] local [%s] rules [%s]\n"
		                 "   got: %s\nwanted: %s",
		                 r->name, r->state, r->remote, r->local, r->rules ? r->rules : "", got,
		                 r->expect);
		free(got);
	}
}
