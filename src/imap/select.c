/*
 * Session-level commands: what follows the login (COMPRESS, ENABLE, ID,
 * NAMESPACE), SELECT / EXAMINE with CONDSTORE and QRESYNC, leaving a
 * mailbox, NOOP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_p.h"
#include "twinbox/imap/commands.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

static void namespace_response(struct imap_cmd *cmd, const struct imap_response *resp)
{
	struct imap_session *s = cmd->ctx;
	const struct imap_namespace_class *p = &resp->ns.personal;

	free(s->ns_prefix);
	s->ns_prefix = NULL;
	s->ns_delim = 0;
	if (p->count > 0) {
		s->ns_prefix = xstrndup(p->v[0].prefix, p->v[0].prefix_len);
		s->ns_delim = p->v[0].delimiter;
	}
}

static const struct imap_cmd_ops namespace_ops = {.response = namespace_response};

static void build_namespace(struct imap_session *s, struct imap_cmd *cmd)
{
	imap_cmd_init(cmd, "NAMESPACE");
	cmd->ops = &namespace_ops;
	cmd->ctx = s;
	cmd->wants = 1u << IMAP_DATA_NAMESPACE;
}

static void build_id(struct imap_cmd *cmd)
{
	imap_cmd_init(cmd, "ID");
	imap_cmd_add(cmd, " (\"name\" \"twinbox\" \"version\" \"%s\")", TWINBOX_VERSION);
}

/* ENABLE what is offered of `want`; false when nothing is. */
static bool build_enable(struct imap_session *s, struct imap_cmd *cmd, const char *want)
{
	char *copy = xstrdup(want), *save = NULL;
	bool any = false;

	imap_cmd_init(cmd, "ENABLE");
	for (char *e = strtok_r(copy, " ", &save); e; e = strtok_r(NULL, " ", &save)) {
		if (!imap_has_cap(s, e))
			continue;
		imap_cmd_add(cmd, " %s", e);
		any = true;
	}
	free(copy);
	return any;
}

int imap_after_login(struct imap_session *s, struct error *err)
{
	struct imap_cmd cmds[3];
	size_t n = 0;
	int rc = 0;

	if (!s->caps_known && imap_capability(s, err) < 0)
		return -1;
	/* First, so that all that follows is compressed. */
	if (imap_compress(s, err) < 0)
		return -1;
	/* One round trip for all three; none of them is essential. */
	if (!s->opts.no_enable && imap_has_cap(s, "ENABLE")) {
		if (build_enable(s, &cmds[n], "CONDSTORE QRESYNC UTF8=ACCEPT"))
			n++;
		else
			imap_cmd_free(&cmds[n]);
	}
	if (!s->opts.no_id && imap_has_cap(s, "ID"))
		build_id(&cmds[n++]);
	if (imap_has_cap(s, "NAMESPACE"))
		build_namespace(s, &cmds[n++]);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = imap_send(s, &cmds[i], err);
	for (size_t i = 0; i < n; i++) {
		struct error e;
		if (rc == 0 && imap_wait(s, &cmds[i], &e) < 0) {
			if (s->failed) {
				*err = e;
				rc = -1;
			} else {
				log_debug("imap: %s", e.text);
			}
		}
		imap_cmd_free(&cmds[i]);
	}
	return rc;
}

int imap_enable(struct imap_session *s, const char *ext, struct error *err)
{
	struct imap_cmd cmd;
	int rc = 0;

	if (build_enable(s, &cmd, ext))
		rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	return rc;
}

int imap_namespace(struct imap_session *s, struct error *err)
{
	struct imap_cmd cmd;
	int rc;

	build_namespace(s, &cmd);
	rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	return rc;
}

int imap_id(struct imap_session *s, struct error *err)
{
	struct imap_cmd cmd;
	int rc;

	build_id(&cmd);
	rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	return rc;
}

int imap_noop(struct imap_session *s, struct error *err)
{
	struct imap_cmd cmd;
	int rc;

	imap_cmd_init(&cmd, "NOOP");
	rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	return rc;
}

int imap_select(struct imap_session *s, const char *name, bool readonly, const struct imap_qresync *qr,
                struct error *err)
{
	struct imap_cmd cmd;
	int rc;

	if (imap_drain(s, err) < 0)
		return -1;
	imap_cmd_init(&cmd, readonly ? "EXAMINE" : "SELECT");
	if (imap_cmd_add_mailbox(s, &cmd, name, err) < 0) {
		imap_cmd_free(&cmd);
		return -1;
	}
	if (qr && qr->uidvalidity && qr->modseq && (s->enabled & IMAP_ENABLED_QRESYNC)) {
		imap_cmd_add(&cmd, " (QRESYNC (%u %llu", qr->uidvalidity, (unsigned long long)qr->modseq);
		if (qr->known_uids && qr->known_uids->count) {
			struct buf set = BUF_INIT;
			imap_uidset_format(qr->known_uids, &set);
			imap_cmd_add(&cmd, " %s", buf_cstr(&set));
			buf_free(&set);
		}
		imap_cmd_add(&cmd, "))");
	} else if (imap_has_cap(s, "CONDSTORE") && !(s->enabled & IMAP_ENABLED_CONDSTORE)) {
		imap_cmd_add(&cmd, " (CONDSTORE)");
	}
	cmd.is_select = true;
	cmd.scope = ERR_MAILBOX;
	imap_seqmap_reset(s);
	free(s->mbox_name);
	s->mbox_name = NULL;
	rc = imap_run(s, &cmd, err);
	if (rc == 0) {
		s->mbox_name = xstrdup(name);
		imap_set_state(s, IMAP_STATE_SELECTED);
		log_debug("imap: %s: %u messages, UIDVALIDITY %u, UIDNEXT %u, HIGHESTMODSEQ %llu%s",
		          buf_cstr(&cmd.what), s->mbox.exists, s->mbox.uidvalidity, s->mbox.uidnext,
		          (unsigned long long)s->mbox.highestmodseq, s->mbox.readonly ? " (read-only)" : "");
	} else if (!s->failed) {
		imap_seqmap_reset(s);
		imap_set_state(s, IMAP_STATE_AUTHENTICATED);
	}
	imap_cmd_free(&cmd);
	return rc;
}

int imap_unselect(struct imap_session *s, struct error *err)
{
	struct imap_cmd cmd;
	int rc;

	if (s->state != IMAP_STATE_SELECTED)
		return 0;
	if (!imap_has_cap(s, "UNSELECT") && !s->mbox.readonly) {
		char *name = xstrdup(s->mbox_name ? s->mbox_name : "INBOX");
		rc = imap_select(s, name, true, NULL, err);
		free(name);
		if (rc < 0)
			return -1;
	}
	if (imap_drain(s, err) < 0)
		return -1;
	imap_cmd_init(&cmd, imap_has_cap(s, "UNSELECT") ? "UNSELECT" : "CLOSE");
	cmd.scope = ERR_MAILBOX;
	rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	if (rc == 0 || !s->failed) {
		imap_seqmap_reset(s);
		imap_set_state(s, IMAP_STATE_AUTHENTICATED);
	}
	return rc;
}
