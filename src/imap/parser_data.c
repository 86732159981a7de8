/*
 * Typing complete untagged data responses from their token list, and the
 * number and set parsers the other parts share. Everything here works on
 * a finished token array, so it is plain (non-incremental) code; all
 * arrays come from the response's arena.
 */
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "parser_p.h"

int imap_parse_number(const char *s, size_t len, uint64_t max, uint64_t *value_r)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > max)
		return -1;
	*value_r = v;
	return 0;
}

int imap_arg_number(struct imap_parser *p, const struct imap_arg *arg, uint64_t max, int nonzero,
                    const char *what, uint64_t *value_r)
{
	char show[64];
	size_t i;

	if (arg->type != IMAP_ARG_ATOM)
		return imap_fail(p, "%s: expected a number, got %s", what,
		                 imap_arg_show(arg, show, sizeof(show)));
	for (i = 0; i < arg->len && arg->str[i] >= '0' && arg->str[i] <= '9'; i++)
		;
	if (i == 0 || i != arg->len)
		return imap_fail(p, "%s: expected a number, got %s", what,
		                 imap_arg_show(arg, show, sizeof(show)));
	if (imap_parse_number(arg->str, arg->len, max, value_r) < 0)
		return imap_fail(p, "%s: the number %s is larger than %" PRIu64, what,
		                 imap_arg_show(arg, show, sizeof(show)), max);
	if (nonzero && *value_r == 0)
		return imap_fail(p, "%s: the number must not be 0", what);
	return 0;
}

int imap_arg_uint32(struct imap_parser *p, const struct imap_arg *arg, int nonzero, const char *what,
                    uint32_t *value_r)
{
	uint64_t v;

	if (imap_arg_number(p, arg, UINT32_MAX, nonzero, what, &v) < 0)
		return -1;
	*value_r = (uint32_t)v;
	return 0;
}

static int set_number(struct imap_parser *p, const char *s, size_t len, const char *what, uint32_t *v_r)
{
	uint64_t v;
	char show[64];

	if (imap_parse_number(s, len, UINT32_MAX, &v) < 0 || v == 0) {
		imap_escape(s, len > 24 ? 24 : len, show, sizeof(show));
		return imap_fail(p, "%s: expected a UID set, found \"%s\" in it", what, show);
	}
	*v_r = (uint32_t)v;
	return 0;
}

int imap_parse_uid_set(struct imap_parser *p, const char *s, size_t len, const char *what,
                       struct imap_uid_set *set_r)
{
	struct imap_uid_range *r;
	size_t count = 1, n = 0, i = 0;

	for (size_t k = 0; k < len; k++)
		count += s[k] == ',';
	r = imap_arena_calloc(&p->arena, count, sizeof(*r));
	while (n < count) {
		size_t start = i, colon = 0;
		while (i < len && s[i] != ',') {
			if (s[i] == ':' && !colon)
				colon = i;
			i++;
		}
		if (colon) {
			if (set_number(p, s + start, colon - start, what, &r[n].first) < 0 ||
			    set_number(p, s + colon + 1, i - colon - 1, what, &r[n].last) < 0)
				return -1;
			if (r[n].first > r[n].last) {
				uint32_t t = r[n].first;
				r[n].first = r[n].last;
				r[n].last = t;
			}
		} else {
			if (set_number(p, s + start, i - start, what, &r[n].first) < 0)
				return -1;
			r[n].last = r[n].first;
		}
		n++;
		i++; /* the ',' */
	}
	set_r->ranges = r;
	set_r->count = count;
	return 0;
}

static int arg_uid_set(struct imap_parser *p, const struct imap_arg *arg, const char *what,
                       struct imap_uid_set *set_r)
{
	char show[64];

	if (arg->type != IMAP_ARG_ATOM)
		return imap_fail(p, "%s: expected a UID set, got %s", what,
		                 imap_arg_show(arg, show, sizeof(show)));
	return imap_parse_uid_set(p, arg->str, arg->len, what, set_r);
}

int imap_flag_list(struct imap_parser *p, const struct imap_arg *list, const char *what,
                   struct imap_atoms *atoms_r)
{
	const struct imap_arg *a;
	const char **v;
	char show[64];

	if (list->type != IMAP_ARG_LIST)
		return imap_fail(p, "%s: expected a parenthesised list of flags, got %s", what,
		                 imap_arg_show(list, show, sizeof(show)));
	if (list->count > p->lim.max_flags)
		return imap_fail(p, "%s: %zu flags, more than the limit of %zu", what, list->count,
		                 p->lim.max_flags);
	v = imap_arena_calloc(&p->arena, list->count, sizeof(*v));
	a = list + 1;
	for (size_t i = 0; i < list->count; i++, a = imap_arg_next(a)) {
		if (a->type != IMAP_ARG_ATOM)
			return imap_fail(p, "%s: expected a flag, got %s", what,
			                 imap_arg_show(a, show, sizeof(show)));
		v[i] = a->str;
	}
	atoms_r->v = v;
	atoms_r->count = list->count;
	return 0;
}

enum imap_cond imap_cond_parse(const char *s)
{
	if (strcasecmp(s, "OK") == 0)
		return IMAP_COND_OK;
	if (strcasecmp(s, "NO") == 0)
		return IMAP_COND_NO;
	if (strcasecmp(s, "BAD") == 0)
		return IMAP_COND_BAD;
	if (strcasecmp(s, "BYE") == 0)
		return IMAP_COND_BYE;
	if (strcasecmp(s, "PREAUTH") == 0)
		return IMAP_COND_PREAUTH;
	return IMAP_COND_NONE;
}

/* ---- one builder per response type; `a` is the first token after the
 * keyword, `n` how many there are ---------------------------------------- */

static int build_atoms(struct imap_parser *p, const struct imap_arg *a, size_t n, struct imap_atoms *atoms_r)
{
	const char **v = imap_arena_calloc(&p->arena, n, sizeof(*v));
	char show[64];

	for (size_t i = 0; i < n; i++, a = imap_arg_next(a)) {
		if (a->type != IMAP_ARG_ATOM)
			return imap_fail(p, "expected an atom, got %s", imap_arg_show(a, show, sizeof(show)));
		v[i] = a->str;
	}
	atoms_r->v = v;
	atoms_r->count = n;
	return 0;
}

/* A QUOTED-CHAR delimiter or NIL. */
static int delimiter(struct imap_parser *p, const struct imap_arg *a, const char *what, char *delim_r)
{
	char show[64];

	if (imap_arg_is_nil(a)) {
		*delim_r = 0;
		return 0;
	}
	if ((a->type != IMAP_ARG_QUOTED && a->type != IMAP_ARG_LITERAL) || a->len != 1 || a->str[0] == '\0')
		return imap_fail(p, "%s: expected a one-character hierarchy delimiter or NIL, got %s", what,
		                 imap_arg_show(a, show, sizeof(show)));
	*delim_r = a->str[0];
	return 0;
}

static int mailbox_name(struct imap_parser *p, const struct imap_arg *a, const char *what,
                        const char **name_r, size_t *len_r)
{
	char show[64];

	if (!imap_arg_is_string(a))
		return imap_fail(p, "%s: expected a mailbox name, got %s", what,
		                 imap_arg_show(a, show, sizeof(show)));
	*name_r = a->str;
	*len_r = a->len;
	return 0;
}

static int build_list(struct imap_parser *p, const struct imap_arg *a, size_t n)
{
	struct imap_list_data *l = &p->resp.list;

	/* flags, delimiter, name, and RFC 5258 extended data we ignore */
	if (n < 3 || n > 4)
		return imap_fail(p, "LIST: expected attributes, a delimiter and a name");
	if (imap_flag_list(p, a, "LIST", &l->flags) < 0)
		return -1;
	a = imap_arg_next(a);
	if (delimiter(p, a, "LIST", &l->delimiter) < 0)
		return -1;
	a = imap_arg_next(a);
	return mailbox_name(p, a, "LIST", &l->name, &l->name_len);
}

static int build_status(struct imap_parser *p, const struct imap_arg *a, size_t n)
{
	static const struct {
		const char *name;
		unsigned bit;
	} items[] = {
	    {"MESSAGES", IMAP_STATUS_MESSAGES}, {"RECENT", IMAP_STATUS_RECENT},
	    {"UIDNEXT", IMAP_STATUS_UIDNEXT},   {"UIDVALIDITY", IMAP_STATUS_UIDVALIDITY},
	    {"UNSEEN", IMAP_STATUS_UNSEEN},     {"HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ},
	    {"SIZE", IMAP_STATUS_SIZE},         {"DELETED", IMAP_STATUS_DELETED},
	};
	struct imap_mailbox_status *st = &p->resp.status;
	const struct imap_arg *list, *k;
	char show[64];

	if (n != 2)
		return imap_fail(p, "STATUS: expected a mailbox name and a list of items");
	if (mailbox_name(p, a, "STATUS", &st->name, &st->name_len) < 0)
		return -1;
	list = imap_arg_next(a);
	if (list->type != IMAP_ARG_LIST || list->count % 2)
		return imap_fail(p, "STATUS: expected a list of item names and values, got %s",
		                 imap_arg_show(list, show, sizeof(show)));
	k = list + 1;
	for (size_t i = 0; i < list->count; i += 2) {
		const struct imap_arg *v = imap_arg_next(k);
		size_t j;
		uint64_t num;

		if (k->type != IMAP_ARG_ATOM)
			return imap_fail(p, "STATUS: expected an item name, got %s",
			                 imap_arg_show(k, show, sizeof(show)));
		for (j = 0; j < sizeof(items) / sizeof(items[0]); j++)
			if (strcasecmp(k->str, items[j].name) == 0)
				break;
		if (j < sizeof(items) / sizeof(items[0])) {
			unsigned bit = items[j].bit;
			uint64_t max = bit == IMAP_STATUS_HIGHESTMODSEQ || bit == IMAP_STATUS_SIZE
			                   ? IMAP_MODSEQ_MAX
			                   : UINT32_MAX;
			if (imap_arg_number(p, v, max, 0, k->str, &num) < 0)
				return -1;
			st->have |= bit;
			switch (bit) {
			case IMAP_STATUS_MESSAGES:
				st->messages = (uint32_t)num;
				break;
			case IMAP_STATUS_RECENT:
				st->recent = (uint32_t)num;
				break;
			case IMAP_STATUS_UIDNEXT:
				st->uidnext = (uint32_t)num;
				break;
			case IMAP_STATUS_UIDVALIDITY:
				st->uidvalidity = (uint32_t)num;
				break;
			case IMAP_STATUS_UNSEEN:
				st->unseen = (uint32_t)num;
				break;
			case IMAP_STATUS_HIGHESTMODSEQ:
				st->highestmodseq = num;
				break;
			case IMAP_STATUS_SIZE:
				st->size = num;
				break;
			default:
				st->deleted = (uint32_t)num;
				break;
			}
		}
		k = imap_arg_next(v);
	}
	return 0;
}

/* "(MODSEQ n)" after SEARCH results (RFC 7162). */
static int search_modseq(struct imap_parser *p, const struct imap_arg *a, uint64_t *modseq_r)
{
	if (a->count != 2 || !imap_arg_is_atom(a + 1, "MODSEQ"))
		return imap_fail(p, "SEARCH: expected (MODSEQ n) after the numbers");
	return imap_arg_number(p, a + 2, IMAP_MODSEQ_MAX, 0, "SEARCH MODSEQ", modseq_r);
}

static int build_search(struct imap_parser *p, const struct imap_arg *a, size_t n)
{
	struct imap_search *s = &p->resp.search;
	uint32_t *v = imap_arena_calloc(&p->arena, n, sizeof(*v));

	for (size_t i = 0; i < n; i++, a = imap_arg_next(a)) {
		if (i == n - 1 && a->type == IMAP_ARG_LIST) {
			if (search_modseq(p, a, &s->modseq) < 0)
				return -1;
			break;
		}
		if (imap_arg_uint32(p, a, 1, "SEARCH", &v[s->count]) < 0)
			return -1;
		s->count++;
	}
	s->v = v;
	return 0;
}

static int build_esearch(struct imap_parser *p, const struct imap_arg *a, size_t n)
{
	struct imap_esearch *e = &p->resp.esearch;
	size_t i = 0;
	char show[64];

	if (n > 0 && a->type == IMAP_ARG_LIST) {
		if (a->count != 2 || !imap_arg_is_atom(a + 1, "TAG") || !imap_arg_is_string(a + 2))
			return imap_fail(p, "ESEARCH: expected (TAG \"tag\") first");
		e->tag = a[2].str;
		a = imap_arg_next(a);
		i++;
	}
	if (i < n && imap_arg_is_atom(a, "UID")) {
		e->uid = 1;
		a = imap_arg_next(a);
		i++;
	}
	for (; i < n; i += 2) {
		const struct imap_arg *v;

		if (i + 1 >= n || a->type != IMAP_ARG_ATOM)
			return imap_fail(p, "ESEARCH: expected a result name and its value, got %s",
			                 imap_arg_show(a, show, sizeof(show)));
		v = imap_arg_next(a);
		if (imap_arg_is_atom(a, "MIN")) {
			if (imap_arg_uint32(p, v, 1, "ESEARCH MIN", &e->min) < 0)
				return -1;
			e->have |= IMAP_ESEARCH_MIN;
		} else if (imap_arg_is_atom(a, "MAX")) {
			if (imap_arg_uint32(p, v, 1, "ESEARCH MAX", &e->max) < 0)
				return -1;
			e->have |= IMAP_ESEARCH_MAX;
		} else if (imap_arg_is_atom(a, "COUNT")) {
			if (imap_arg_uint32(p, v, 0, "ESEARCH COUNT", &e->count) < 0)
				return -1;
			e->have |= IMAP_ESEARCH_COUNT;
		} else if (imap_arg_is_atom(a, "ALL")) {
			if (arg_uid_set(p, v, "ESEARCH ALL", &e->all) < 0)
				return -1;
			e->have |= IMAP_ESEARCH_ALL;
		} else if (imap_arg_is_atom(a, "MODSEQ")) {
			uint64_t m;
			if (imap_arg_number(p, v, IMAP_MODSEQ_MAX, 0, "ESEARCH MODSEQ", &m) < 0)
				return -1;
			e->modseq = m;
			e->have |= IMAP_ESEARCH_MODSEQ;
		}
		a = imap_arg_next(v);
	}
	return 0;
}

static int namespace_class(struct imap_parser *p, const struct imap_arg *a, struct imap_namespace_class *c)
{
	struct imap_namespace_entry *v;
	const struct imap_arg *e;

	if (imap_arg_is_nil(a))
		return 0;
	if (a->type != IMAP_ARG_LIST || a->count == 0)
		return imap_fail(p, "NAMESPACE: expected NIL or a list of namespaces");
	v = imap_arena_calloc(&p->arena, a->count, sizeof(*v));
	e = a + 1;
	for (size_t i = 0; i < a->count; i++, e = imap_arg_next(e)) {
		/* (prefix delimiter *(extension)) */
		if (e->type != IMAP_ARG_LIST || e->count < 2 || !imap_arg_is_string(e + 1))
			return imap_fail(
			    p, "NAMESPACE: expected (\"prefix\" \"delimiter\") in a namespace list");
		v[i].prefix = e[1].str;
		v[i].prefix_len = e[1].len;
		if (delimiter(p, imap_arg_next(e + 1), "NAMESPACE", &v[i].delimiter) < 0)
			return -1;
	}
	c->v = v;
	c->count = a->count;
	return 0;
}

static int build_namespace(struct imap_parser *p, const struct imap_arg *a, size_t n)
{
	struct imap_namespace *ns = &p->resp.ns;

	if (n != 3)
		return imap_fail(p, "NAMESPACE: expected three namespace classes, got %zu", n);
	if (namespace_class(p, a, &ns->personal) < 0)
		return -1;
	a = imap_arg_next(a);
	if (namespace_class(p, a, &ns->other) < 0)
		return -1;
	return namespace_class(p, imap_arg_next(a), &ns->shared);
}

static int build_id(struct imap_parser *p, const struct imap_arg *a, size_t n)
{
	struct imap_id_param *v;
	const struct imap_arg *k;

	if (n != 1)
		return imap_fail(p, "ID: expected NIL or one list of fields and values");
	if (imap_arg_is_nil(a))
		return 0;
	if (a->type != IMAP_ARG_LIST || a->count % 2)
		return imap_fail(p, "ID: expected NIL or a list of fields and values");
	v = imap_arena_calloc(&p->arena, a->count / 2, sizeof(*v));
	k = a + 1;
	for (size_t i = 0; i < a->count / 2; i++) {
		const struct imap_arg *val = imap_arg_next(k);
		if (k->type != IMAP_ARG_QUOTED && k->type != IMAP_ARG_LITERAL)
			return imap_fail(p, "ID: expected a field name string");
		if (imap_arg_is_nil(val))
			v[i].value = NULL;
		else if (val->type == IMAP_ARG_QUOTED || val->type == IMAP_ARG_LITERAL)
			v[i].value = val->str;
		else
			return imap_fail(p, "ID: expected a string or NIL as the value of a field");
		v[i].key = k->str;
		k = imap_arg_next(val);
	}
	p->resp.id.v = v;
	p->resp.id.count = a->count / 2;
	return 0;
}

static int build_vanished(struct imap_parser *p, const struct imap_arg *a, size_t n)
{
	struct imap_vanished *vn = &p->resp.vanished;

	if (n == 2) {
		if (a->type != IMAP_ARG_LIST || a->count != 1 || !imap_arg_is_atom(a + 1, "EARLIER"))
			return imap_fail(p, "VANISHED: expected (EARLIER) before the UID set");
		vn->earlier = 1;
		a = imap_arg_next(a);
	} else if (n != 1) {
		return imap_fail(p, "VANISHED: expected a UID set");
	}
	return arg_uid_set(p, a, "VANISHED", &vn->uids);
}

/* A quota root's name: a string without NUL (RFC 9208 quota-root-name
 * is an astring; a NUL would make two names look the same). */
static int quota_root(struct imap_parser *p, const struct imap_arg *a, const char *what, const char **root_r)
{
	char show[64];

	if (!imap_arg_is_string(a) || strlen(a->str) != a->len)
		return imap_fail(p, "%s: expected a quota root name, got %s", what,
		                 imap_arg_show(a, show, sizeof(show)));
	*root_r = a->str;
	return 0;
}

/* "QUOTA root (STORAGE 10 512 MESSAGE 3 100)" */
static int build_quota(struct imap_parser *p, const struct imap_arg *a, size_t n)
{
	struct imap_quota *q = &p->resp.quota;
	struct imap_quota_resource *v;
	const struct imap_arg *list, *k;
	char show[64];

	if (n != 2)
		return imap_fail(p, "QUOTA: expected a quota root name and a list of resources");
	if (quota_root(p, a, "QUOTA", &q->root) < 0)
		return -1;
	list = imap_arg_next(a);
	if (list->type != IMAP_ARG_LIST || list->count % 3)
		return imap_fail(p, "QUOTA: expected a list of resource names, usages and limits, got %s",
		                 imap_arg_show(list, show, sizeof(show)));
	v = imap_arena_calloc(&p->arena, list->count / 3, sizeof(*v));
	k = list + 1;
	for (size_t i = 0; i < list->count / 3; i++) {
		const struct imap_arg *usage = imap_arg_next(k), *limit = imap_arg_next(usage);
		if (k->type != IMAP_ARG_ATOM)
			return imap_fail(p, "QUOTA: expected a resource name, got %s",
			                 imap_arg_show(k, show, sizeof(show)));
		v[i].name = k->str;
		if (imap_arg_number(p, usage, IMAP_QUOTA_MAX, 0, "QUOTA usage", &v[i].usage) < 0 ||
		    imap_arg_number(p, limit, IMAP_QUOTA_MAX, 0, "QUOTA limit", &v[i].limit) < 0)
			return -1;
		k = imap_arg_next(limit);
	}
	q->v = v;
	q->count = list->count / 3;
	return 0;
}

/* "QUOTAROOT mailbox root..." */
static int build_quotaroot(struct imap_parser *p, const struct imap_arg *a, size_t n)
{
	struct imap_quotaroot *qr = &p->resp.quotaroot;
	const char **roots;

	if (n < 1)
		return imap_fail(p, "QUOTAROOT: expected a mailbox name");
	if (mailbox_name(p, a, "QUOTAROOT", &qr->mailbox, &qr->mailbox_len) < 0)
		return -1;
	roots = imap_arena_calloc(&p->arena, n - 1, sizeof(*roots));
	for (size_t i = 0; i < n - 1; i++) {
		a = imap_arg_next(a);
		if (quota_root(p, a, "QUOTAROOT", &roots[i]) < 0)
			return -1;
	}
	qr->roots = roots;
	qr->count = n - 1;
	return 0;
}

int imap_build_data(struct imap_parser *p)
{
	struct imap_response *r = &p->resp;
	const struct imap_arg *a;
	size_t n;

	/* The tokens after the keyword ("* 3 EXISTS" has none). */
	a = r->args;
	n = r->arg_count;
	for (int skip = p->numeric ? 2 : 1; skip > 0 && n > 0; skip--) {
		a = imap_arg_next(a);
		n--;
	}
	switch (r->type) {
	case IMAP_DATA_CAPABILITY:
	case IMAP_DATA_ENABLED:
		return build_atoms(p, a, n, &r->capability);
	case IMAP_DATA_FLAGS:
		if (n != 1)
			return imap_fail(p, "FLAGS: expected one list of flags");
		return imap_flag_list(p, a, "FLAGS", &r->flags);
	case IMAP_DATA_LIST:
	case IMAP_DATA_LSUB:
		return build_list(p, a, n);
	case IMAP_DATA_STATUS:
		return build_status(p, a, n);
	case IMAP_DATA_SEARCH:
		return build_search(p, a, n);
	case IMAP_DATA_ESEARCH:
		return build_esearch(p, a, n);
	case IMAP_DATA_NAMESPACE:
		return build_namespace(p, a, n);
	case IMAP_DATA_ID:
		return build_id(p, a, n);
	case IMAP_DATA_VANISHED:
		return build_vanished(p, a, n);
	case IMAP_DATA_QUOTA:
		return build_quota(p, a, n);
	case IMAP_DATA_QUOTAROOT:
		return build_quotaroot(p, a, n);
	case IMAP_DATA_EXISTS:
	case IMAP_DATA_RECENT:
	case IMAP_DATA_EXPUNGE:
		if (n != 0)
			return imap_fail(p, "unexpected data after the message count");
		return 0;
	default:
		return 0;
	}
}
