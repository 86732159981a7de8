/*
 * The maildrop commands with short replies: STAT, LIST, DELE, RSET,
 * NOOP, QUIT. UIDL is in uidl.c, RETR and TOP in retr.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_p.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* Sizes above this are not believed (1 TiB). */
#define POP3_SIZE_MAX ((uint64_t)1 << 40)

/* A -ERR to a command about the whole maildrop. */
static int refused(struct pop3_client *p, const char *command, const struct pop3_event *ev, struct error *err)
{
	char said[300];

	pop3_escape(ev->line, strlen(ev->line), said, sizeof(said));
	if (ev->code == POP3_CODE_SYS_TEMP || ev->code == POP3_CODE_IN_USE)
		return error_set(err, ERR_ACCOUNT, "%s refused %s for now (\"%s\"); try again later", p->peer,
		                 command, said);
	return error_set(err, ERR_ACCOUNT, "%s refused %s (\"%s\")", p->peer, command, said);
}

static int bad_reply(struct pop3_client *p, const char *command, const char *what, const char *text,
                     struct error *err)
{
	char esc[200];

	pop3_escape(text, strlen(text), esc, sizeof(esc));
	error_set(err, ERR_ACCOUNT, "%s answered %s with \"%s\", which is not %s", p->peer, command, esc,
	          what);
	return pop3_fail(p, err);
}

int pop3_stat(struct pop3_client *p, uint32_t *count_r, uint64_t *size_r, struct error *err)
{
	struct pop3_event ev;
	uint64_t count, size;
	const char *rest;
	int rc = pop3_command(p, "STAT", NULL, POP3_REPLY_STATUS, &ev, err);

	if (rc != 0)
		return rc < 0 ? -1 : refused(p, "STAT", &ev, err);
	if (pop3_parse_number(ev.text, p->opts.max_messages, &count, &rest) < 0 || *rest != ' ' ||
	    pop3_parse_number(rest + 1, POP3_SIZE_MAX, &size, &rest) < 0 || (*rest && *rest != ' '))
		return bad_reply(p, "STAT", "a message count and size (within bounds)", ev.line, err);
	*count_r = (uint32_t)count;
	*size_r = size;
	return 0;
}

/* "msgno SP rest" of a listing line: the number must be above `prev`
 * (increasing order) and within max_messages. */
static int listing_number(struct pop3_client *p, const char *line, uint32_t prev, uint32_t *msgno_r,
                          const char **rest_r)
{
	uint64_t n;
	const char *rest;

	if (pop3_parse_number(line, p->opts.max_messages, &n, &rest) < 0 || n == 0 || n <= prev ||
	    *rest != ' ')
		return -1;
	while (*rest == ' ')
		rest++;
	*msgno_r = (uint32_t)n;
	*rest_r = rest;
	return 0;
}

/* Remember LIST sizes for RETR's begin() and the size cap. */
static void remember_sizes(struct pop3_client *p, const struct pop3_list_entry *list, size_t n)
{
	free(p->sizes);
	p->sizes = NULL;
	p->sizes_count = n ? list[n - 1].msgno : 0;
	if (!n)
		return;
	p->sizes = xcalloc(p->sizes_count, sizeof(*p->sizes));
	for (size_t i = 0; i < n; i++)
		p->sizes[list[i].msgno - 1] = list[i].size;
}

int pop3_list(struct pop3_client *p, struct pop3_list_entry **list_r, size_t *n_r, struct error *err)
{
	struct pop3_list_entry *list = NULL;
	size_t n = 0, cap = 0;
	struct pop3_event ev;
	int rc = pop3_command(p, "LIST", NULL, POP3_REPLY_LINES, &ev, err);

	*list_r = NULL;
	*n_r = 0;
	if (rc != 0)
		return rc < 0 ? -1 : refused(p, "LIST", &ev, err);
	for (;;) {
		uint32_t msgno;
		uint64_t size;
		const char *rest;
		if (pop3_next(p, &ev, err) < 0)
			goto fail;
		if (ev.type == POP3_EV_END)
			break;
		if (listing_number(p, ev.text, n ? list[n - 1].msgno : 0, &msgno, &rest) < 0 ||
		    pop3_parse_number(rest, POP3_SIZE_MAX, &size, &rest) < 0 || (*rest && *rest != ' ')) {
			bad_reply(p, "LIST", "a scan listing (message numbers increasing, within bounds)",
			          ev.text, err);
			goto fail;
		}
		list = xgrow(list, &cap, n + 1, sizeof(*list));
		list[n].msgno = msgno;
		list[n].size = size;
		n++;
	}
	remember_sizes(p, list, n);
	*list_r = list;
	*n_r = n;
	return 0;
fail:
	free(list);
	return -1;
}

static int msgno_ok(struct pop3_client *p, uint32_t msgno, struct error *err)
{
	if (msgno == 0 || msgno > p->opts.max_messages)
		return error_set(err, ERR_MESSAGE,
		                 "there is no message %u on %s (message numbers start at 1)", msgno, p->peer);
	return 0;
}

int pop3_dele(struct pop3_client *p, uint32_t msgno, struct error *err)
{
	struct pop3_event ev;
	char line[32], said[300];
	int rc;

	if (msgno_ok(p, msgno, err) < 0)
		return -1;
	snprintf(line, sizeof(line), "DELE %u", msgno);
	rc = pop3_command(p, line, NULL, POP3_REPLY_STATUS, &ev, err);
	if (rc <= 0)
		return rc;
	pop3_escape(ev.line, strlen(ev.line), said, sizeof(said));
	return error_set(err, ERR_MESSAGE, "%s refused to mark message %u for deletion (\"%s\")", p->peer,
	                 msgno, said);
}

int pop3_rset(struct pop3_client *p, struct error *err)
{
	struct pop3_event ev;
	int rc = pop3_command(p, "RSET", NULL, POP3_REPLY_STATUS, &ev, err);

	return rc <= 0 ? rc : refused(p, "RSET", &ev, err);
}

int pop3_noop(struct pop3_client *p, struct error *err)
{
	struct pop3_event ev;
	int rc = pop3_command(p, "NOOP", NULL, POP3_REPLY_STATUS, &ev, err);

	return rc <= 0 ? rc : refused(p, "NOOP", &ev, err);
}

int pop3_quit(struct pop3_client *p, struct error *err)
{
	struct pop3_event ev;
	char said[300];
	bool usable = pop3_usable(p, err) == 0;
	int rc;

	if (!usable)
		return -1;
	rc = pop3_command(p, "QUIT", NULL, POP3_REPLY_STATUS, &ev, err);
	if (rc < 0) {
		if (p->failed)
			error_prefix(
			    err,
			    "the connection to %s broke before the server confirmed QUIT, so whether "
			    "the messages marked for deletion were deleted is unknown",
			    p->peer);
		return -1;
	}
	pop3_set_state(p, POP3_STATE_DONE);
	if (rc == 0)
		return 0;
	pop3_escape(ev.line, strlen(ev.line), said, sizeof(said));
	return error_set(err, ERR_ACCOUNT,
	                 "%s could not finish the session at QUIT (\"%s\"): the messages marked for "
	                 "deletion are still on the server",
	                 p->peer, said);
}
