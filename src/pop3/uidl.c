/*
 * UIDL (RFC 1939 7): the unique-id listing, the rules a UIDL must keep
 * to be used as a message id, and the duplicate check that leave-on-server
 * mode depends on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_p.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* Bytes of a UIDL kept in the list: enough to show a bad one in a
 * message; the verdict is made on the whole value. */
#define UIDL_KEEP 128

const char *pop3_uidl_invalid(const char *uidl, size_t len)
{
	bool dots_only = true;

	if (len == 0)
		return "it is empty";
	if (len > POP3_UIDL_MAX)
		return "it is longer than 70 characters (RFC 1939 allows 1 to 70 characters 0x21-0x7E)";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)uidl[i];
		if (c < 0x21 || c > 0x7e)
			return "it contains a character outside 0x21-0x7E, printable ASCII (RFC 1939 allows "
			       "1 to 70 characters 0x21-0x7E)";
		if (c != '.')
			dots_only = false;
	}
	if (dots_only)
		return "it is made of dots only, which could read as a path";
	return NULL;
}

struct uidl_tmp {
	uint32_t msgno;
	size_t off, len; /* in the string pool */
	const char *invalid;
};

static int by_uidl(const void *a, const void *b)
{
	const struct pop3_uidl_entry *x = *(const struct pop3_uidl_entry *const *)a;
	const struct pop3_uidl_entry *y = *(const struct pop3_uidl_entry *const *)b;
	int c = strcmp(x->uidl, y->uidl);

	return c ? c : (x->msgno > y->msgno) - (x->msgno < y->msgno);
}

static void mark_duplicates(struct pop3_uidl_entry *list, size_t n)
{
	struct pop3_uidl_entry **v;

	if (n < 2)
		return;
	v = xmalloc(n * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = &list[i];
	qsort(v, n, sizeof(*v), by_uidl);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i - 1]->uidl, v[i]->uidl) == 0)
			v[i - 1]->duplicate = v[i]->duplicate = true;
	free(v);
}

/* One allocation: the entries, then their strings. */
static struct pop3_uidl_entry *pack(const struct uidl_tmp *tmp, size_t n, const struct buf *pool)
{
	struct pop3_uidl_entry *list = xmalloc(n * sizeof(*list) + pool->len + 1);
	char *strings = (char *)(list + n);

	memcpy(strings, buf_cstr(pool), pool->len + 1);
	for (size_t i = 0; i < n; i++) {
		list[i].msgno = tmp[i].msgno;
		list[i].uidl = strings + tmp[i].off;
		list[i].invalid = tmp[i].invalid;
		list[i].duplicate = false;
	}
	mark_duplicates(list, n);
	return list;
}

static int uidl_refused(struct pop3_client *p, const struct pop3_event *ev, struct error *err)
{
	char said[300];

	pop3_escape(ev->line, strlen(ev->line), said, sizeof(said));
	if (ev->code == POP3_CODE_SYS_TEMP || ev->code == POP3_CODE_IN_USE)
		return error_set(err, ERR_ACCOUNT, "%s refused UIDL for now (\"%s\"); try again later",
		                 p->peer, said);
	return error_set(err, ERR_ACCOUNT,
	                 "%s does not support UIDL (it answered \"%s\"): without unique message ids "
	                 "twinbox cannot tell which messages it already downloaded, so leave_on_server "
	                 "cannot work with this server; set delete_after_download: true to import and "
	                 "delete each message",
	                 p->peer, said);
}

int pop3_require_uidl(struct pop3_client *p, struct error *err)
{
	if (!p->capa_known || pop3_has_capa(p, "UIDL"))
		return 0;
	return error_set(err, ERR_ACCOUNT,
	                 "%s does not offer UIDL (its capabilities: %s): without unique message ids "
	                 "twinbox cannot tell which messages it already downloaded, so leave_on_server "
	                 "cannot work with this server; set delete_after_download: true to import and "
	                 "delete each message",
	                 p->peer, pop3_capabilities(p));
}

int pop3_uidl(struct pop3_client *p, struct pop3_uidl_entry **list_r, size_t *n_r, struct error *err)
{
	struct uidl_tmp *tmp = NULL;
	struct buf pool = BUF_INIT;
	size_t n = 0, cap = 0;
	struct pop3_event ev;
	int rc = pop3_command(p, "UIDL", NULL, POP3_REPLY_LINES, &ev, err);

	*list_r = NULL;
	*n_r = 0;
	if (rc != 0)
		return rc < 0 ? -1 : uidl_refused(p, &ev, err);
	for (;;) {
		uint64_t msgno;
		const char *rest;
		size_t len;
		if (pop3_next(p, &ev, err) < 0)
			goto fail;
		if (ev.type == POP3_EV_END)
			break;
		if (pop3_parse_number(ev.text, p->opts.max_messages, &msgno, &rest) < 0 || msgno == 0 ||
		    (n && msgno <= tmp[n - 1].msgno) || *rest != ' ') {
			char esc[200];
			pop3_escape(ev.text, ev.len, esc, sizeof(esc));
			error_set(err, ERR_ACCOUNT,
			          "%s answered UIDL with \"%s\", which is not a unique-id listing (message "
			          "numbers increasing, within bounds)",
			          p->peer, esc);
			pop3_fail(p, err);
			goto fail;
		}
		while (*rest == ' ')
			rest++;
		len = strlen(rest);
		while (len && rest[len - 1] == ' ')
			len--;
		tmp = xgrow(tmp, &cap, n + 1, sizeof(*tmp));
		tmp[n].msgno = (uint32_t)msgno;
		tmp[n].invalid = pop3_uidl_invalid(rest, len);
		tmp[n].off = pool.len;
		tmp[n].len = len < UIDL_KEEP ? len : UIDL_KEEP;
		buf_append(&pool, rest, tmp[n].len);
		buf_append_byte(&pool, '\0');
		n++;
	}
	if (n)
		*list_r = pack(tmp, n, &pool);
	*n_r = n;
	free(tmp);
	buf_free(&pool);
	return 0;
fail:
	free(tmp);
	buf_free(&pool);
	return -1;
}

int pop3_uidl_check(const struct pop3_uidl_entry *list, size_t n, struct error *err)
{
	size_t bad = 0, first = n, dups = 0, first_dup = n;
	char esc[200];

	for (size_t i = 0; i < n; i++) {
		if (list[i].invalid && bad++ == 0)
			first = i;
		if (list[i].duplicate && dups++ == 0)
			first_dup = i;
	}
	if (bad) {
		pop3_escape(list[first].uidl, strlen(list[first].uidl), esc, sizeof(esc));
		return error_set(err, ERR_ACCOUNT,
		                 "the server gave message %u the UIDL \"%s\", which cannot be used: %s%s",
		                 list[first].msgno, esc, list[first].invalid,
		                 bad > 1 ? " (and more messages have unusable UIDLs)" : "");
	}
	if (dups) {
		const struct pop3_uidl_entry *a = &list[first_dup];
		uint32_t other = 0;
		for (size_t i = first_dup + 1; i < n && !other; i++)
			if (list[i].duplicate && strcmp(list[i].uidl, a->uidl) == 0)
				other = list[i].msgno;
		pop3_escape(a->uidl, strlen(a->uidl), esc, sizeof(esc));
		return error_set(
		    err, ERR_ACCOUNT,
		    "the server gave messages %u and %u the same UIDL \"%s\" (%zu messages share "
		    "a UIDL with another): the ids are not unique, so twinbox cannot tell which "
		    "messages it already downloaded",
		    a->msgno, other, esc, dups);
	}
	return 0;
}
