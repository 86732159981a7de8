/*
 * Commands on messages by UID: STORE (with UNCHANGEDSINCE), EXPUNGE of
 * exactly the given UIDs, COPY and MOVE (COPYUID kept).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_p.h"
#include "twinbox/imap/commands.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* A flag: an atom, or "\" and an atom (RFC 3501 flag). */
static bool flag_ok(const char *f, size_t len)
{
	size_t i = 0;

	if (len && f[0] == '\\')
		i = 1;
	if (i == len)
		return false;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)f[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
			return false;
	}
	return true;
}

int imap_check_flags(const char *flags, struct error *err)
{
	const char *p = flags;

	while (*p) {
		size_t len = strcspn(p, " ");
		if (len && !flag_ok(p, len))
			return error_set(err, ERR_MESSAGE, "\"%.*s\" is not a valid IMAP flag",
			                 (int)(len > 100 ? 100 : len), p);
		p += len;
		while (*p == ' ')
			p++;
	}
	return 0;
}

int imap_cmd_uid_store(struct imap_cmd *cmd, const struct imap_uidset *uids, enum imap_store_op op,
                       const char *flags, uint64_t unchangedsince, struct error *err)
{
	struct buf set = BUF_INIT;
	const char *opname = op == IMAP_STORE_ADD      ? "+FLAGS.SILENT"
	                     : op == IMAP_STORE_REMOVE ? "-FLAGS.SILENT"
	                                               : "FLAGS.SILENT";

	imap_cmd_init(cmd, "UID STORE");
	if (imap_check_flags(flags ? flags : "", err) < 0)
		return -1;
	if (uids->count == 0)
		return error_set(err, ERR_MESSAGE, "UID STORE needs at least one UID");
	imap_uidset_format(uids, &set);
	imap_cmd_add(cmd, " %s", buf_cstr(&set));
	buf_free(&set);
	if (unchangedsince)
		imap_cmd_add(cmd, " (UNCHANGEDSINCE %llu)", (unsigned long long)unchangedsince);
	imap_cmd_add(cmd, " %s (%s)", opname, flags ? flags : "");
	cmd->accept = 1ull << IMAP_CODE_MODIFIED;
	cmd->scope = ERR_MAILBOX;
	return 0;
}

int imap_store(struct imap_session *s, const struct imap_uidset *uids, enum imap_store_op op,
               const char *flags, uint64_t unchangedsince, struct imap_uidset *modified_r, struct error *err)
{
	struct imap_cmd cmd;
	int rc;

	if (modified_r)
		imap_uidset_clear(modified_r);
	if (uids->count == 0)
		return 0;
	rc = imap_cmd_uid_store(&cmd, uids, op, flags, unchangedsince, err);
	if (rc == 0)
		rc = imap_run(s, &cmd, err);
	if (rc == 0 && modified_r && cmd.code.type == IMAP_CODE_MODIFIED) {
		imap_uidset_free(modified_r);
		*modified_r = cmd.code.src;
		memset(&cmd.code.src, 0, sizeof(cmd.code.src));
	}
	imap_cmd_free(&cmd);
	return rc;
}

/* ---- EXPUNGE ------------------------------------------------------- */

static void search_response(struct imap_cmd *cmd, const struct imap_response *resp)
{
	struct imap_uidset *found = cmd->ctx;

	for (size_t i = 0; i < resp->search.count; i++)
		imap_uidset_add(found, resp->search.v[i]);
}

static const struct imap_cmd_ops search_ops = {.response = search_response};

static int expunge_fallback(struct imap_session *s, const struct imap_uidset *uids, struct error *err)
{
	struct imap_uidset deleted = IMAP_UIDSET_INIT;
	struct imap_cmd cmd;
	uint64_t others = 0;
	int rc;

	imap_cmd_init(&cmd, "UID SEARCH DELETED");
	cmd.ops = &search_ops;
	cmd.ctx = &deleted;
	cmd.wants = 1u << IMAP_DATA_SEARCH;
	cmd.scope = ERR_MAILBOX;
	rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	for (size_t i = 0; rc == 0 && i < deleted.count; i++)
		for (uint64_t u = deleted.v[i].first; u <= deleted.v[i].last; u++)
			if (!imap_uidset_contains(uids, (uint32_t)u))
				others++;
	imap_uidset_free(&deleted);
	if (rc < 0)
		return -1;
	if (others)
		return error_set(
		    err, ERR_MAILBOX,
		    "%s lacks UIDPLUS, so EXPUNGE would remove every message marked \\Deleted, and "
		    "%llu message%s that twinbox did not mark carr%s \\Deleted; nothing was expunged "
		    "(expunge them in a mail client, or let the server remove them)",
		    imap_peer(s), (unsigned long long)others, others == 1 ? "" : "s",
		    others == 1 ? "ies" : "y");
	imap_cmd_init(&cmd, "EXPUNGE");
	cmd.scope = ERR_MAILBOX;
	rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	return rc;
}

int imap_expunge_uids(struct imap_session *s, const struct imap_uidset *uids, struct error *err)
{
	struct imap_cmd cmd;
	struct buf set = BUF_INIT;
	int rc;

	if (uids->count == 0)
		return 0;
	if (!imap_has_cap(s, "UIDPLUS"))
		return expunge_fallback(s, uids, err);
	imap_uidset_format(uids, &set);
	imap_cmd_init(&cmd, "UID EXPUNGE");
	imap_cmd_add(&cmd, " %s", buf_cstr(&set));
	cmd.scope = ERR_MAILBOX;
	rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	buf_free(&set);
	return rc;
}

/* ---- COPY / MOVE --------------------------------------------------- */

void imap_copy_result_free(struct imap_copy_result *r)
{
	imap_uidset_free(&r->src);
	imap_uidset_free(&r->dst);
	r->have = false;
}

static int copy_or_move(struct imap_session *s, const struct imap_uidset *uids, const char *dest, bool move,
                        struct imap_copy_result *r, struct error *err)
{
	struct imap_cmd cmd;
	struct buf set = BUF_INIT;
	int rc;

	imap_uidset_format(uids, &set);
	imap_cmd_init(&cmd, move ? "UID MOVE" : "UID COPY");
	imap_cmd_add(&cmd, " %s", buf_cstr(&set));
	buf_free(&set);
	rc = imap_cmd_add_mailbox(s, &cmd, dest, err);
	cmd.accept = 1ull << IMAP_CODE_COPYUID;
	cmd.is_move = move;
	cmd.scope = ERR_MAILBOX;
	if (rc == 0)
		rc = imap_run(s, &cmd, err);
	if (rc == 0 && r && cmd.code.type == IMAP_CODE_COPYUID) {
		r->have = true;
		r->uidvalidity = cmd.code.uidvalidity;
		r->src = cmd.code.src;
		r->dst = cmd.code.dst;
		memset(&cmd.code.src, 0, sizeof(cmd.code.src));
		memset(&cmd.code.dst, 0, sizeof(cmd.code.dst));
	}
	imap_cmd_free(&cmd);
	return rc;
}

int imap_copy(struct imap_session *s, const struct imap_uidset *uids, const char *dest, bool move,
              struct imap_copy_result *r, struct error *err)
{
	if (r)
		memset(r, 0, sizeof(*r));
	if (uids->count == 0)
		return 0;
	if (!move || imap_has_cap(s, "MOVE"))
		return copy_or_move(s, uids, dest, move, r, err);
	/* MOVE by hand; the copies exist before anything is removed. */
	if (copy_or_move(s, uids, dest, false, r, err) < 0)
		return -1;
	if (imap_store(s, uids, IMAP_STORE_ADD, "\\Deleted", 0, NULL, err) < 0)
		return -1;
	return imap_expunge_uids(s, uids, err);
}
