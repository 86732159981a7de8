/*
 * twinbox preview ACCOUNT: the messages of a POP3 account that the next
 * sync would download, with From, Subject, Date and size, read with TOP
 * (headers only): nothing is downloaded, deleted or recorded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "twinbox/config/password.h"
#include "twinbox/state/pop3.h"
#include "twinbox/state/state.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define PREVIEW_HEADER_MAX (256 * 1024) /* header bytes kept per message */
#define FIELD_SHOWN        60           /* characters of a field printed */

static const char preview_usage[] = "Usage: twinbox preview ACCOUNT\n";

static int head_chunk(void *ctx, const void *data, size_t len, struct error *err)
{
	(void)err;
	buf_append(ctx, data, len); /* past the cap the rest is dropped */
	return 0;
}

/* The unfolded value of header field `name` (fresh), "" when absent;
 * control characters become spaces so a server cannot drive the
 * terminal. */
static char *field(const char *head, const char *name)
{
	size_t nlen = strlen(name);
	struct buf out = BUF_INIT;

	for (const char *line = head; *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		if (len == 0 || (len == 1 && line[0] == '\r'))
			break; /* end of the header block */
		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *p = line + nlen + 1;
			for (;;) {
				const char *end = eol ? eol : p + strlen(p);
				for (; p < end; p++)
					buf_append_byte(&out,
					                (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
				if (!eol || (eol[1] != ' ' && eol[1] != '\t'))
					break;
				p = eol + 1;
				eol = strchr(p, '\n');
			}
			break;
		}
		line = eol ? eol + 1 : line + len;
	}
	/* Trim and cut for the table. */
	char *s = buf_detach(&out, NULL), *start = s;
	while (*start == ' ')
		start++;
	size_t len = strlen(start);
	while (len && start[len - 1] == ' ')
		start[--len] = '\0';
	char *res = len > FIELD_SHOWN ? xasprintf("%.*s...", FIELD_SHOWN - 3, start) : xstrdup(start);
	free(s);
	return res;
}

static int preview_account(const struct config *cfg, const struct config_account *a)
{
	struct pop3_options po;
	struct pop3_client *p = NULL;
	struct pop3_uidl_entry *ul = NULL;
	struct pop3_list_entry *ll = NULL;
	struct state_pop3_set known = {0};
	struct state *st = NULL;
	struct error err;
	char *db = config_state_path(cfg, a), *password = NULL;
	size_t nu = 0, nl = 0, shown = 0;
	int rc = EXIT_FAILED;

	error_clear(&err);
	/* A missing state means nothing was downloaded yet: all is new. */
	if (state_open(db, 0, &st, &err) == 0 && state_pop3_load(st, &known, &err) < 0)
		goto fail;
	error_clear(&err);
	if (!(password = config_resolve_password(a, &err)))
		goto fail;
	cli_pop3_options(&a->side[SIDE_A].conn, password, &po);
	if (!(p = pop3_connect(&po, &err)) || pop3_uidl(p, &ul, &nu, &err) < 0 ||
	    pop3_list(p, &ll, &nl, &err) < 0)
		goto fail;
	printf("%-6s %9s  %-25s %-30s %s\n", "MSG", "SIZE", "DATE", "FROM", "SUBJECT");
	for (size_t i = 0, j = 0; i < nu; i++) {
		struct buf head;
		struct pop3_sink sink = {&head, NULL, head_chunk, NULL, NULL};
		uint64_t size = 0;
		if (ul[i].invalid || ul[i].duplicate || state_pop3_set_find(&known, ul[i].uidl))
			continue;
		while (j < nl && ll[j].msgno < ul[i].msgno)
			j++;
		if (j < nl && ll[j].msgno == ul[i].msgno)
			size = ll[j].size;
		buf_init(&head, PREVIEW_HEADER_MAX);
		if (pop3_top(p, ul[i].msgno, 0, &sink, &err) < 0) {
			buf_free(&head);
			if (err.scope > ERR_MESSAGE)
				goto fail;
			log_warn("%s: message %u: %s", a->name, ul[i].msgno, err.text);
			continue;
		}
		char *date = field(buf_cstr(&head), "Date"), *from = field(buf_cstr(&head), "From"),
		     *subject = field(buf_cstr(&head), "Subject");
		printf("%-6u %9llu  %-25.25s %-30.30s %s\n", ul[i].msgno, (unsigned long long)size, date,
		       from, subject);
		free(date);
		free(from);
		free(subject);
		buf_free(&head);
		shown++;
	}
	printf("%zu of %zu message%s on the server not downloaded yet\n", shown, nu, nu == 1 ? "" : "s");
	pop3_quit(p, &err);
	rc = EXIT_OK;
	goto out;
fail:
	log_error("%s: %s", a->name, err.text);
out:
	pop3_close(p);
	free(ul);
	free(ll);
	state_pop3_set_free(&known);
	state_close(st);
	password_free(password);
	free(db);
	return rc;
}

int cmd_preview(struct cli_options *opts)
{
	return cli_account_command(opts, preview_usage, CONFIG_STORE_POP3,
	                           "preview is for POP3 accounts; for IMAP use list-folders",
	                           preview_account);
}
