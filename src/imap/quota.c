/*
 * GETQUOTAROOT (RFC 9208, RFC 2087): the quota roots a mailbox is
 * under, and each root's usage and limits, from the QUOTAROOT and QUOTA
 * responses the command brings.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session_p.h"
#include "twinbox/imap/commands.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

struct quota_entry {
	struct imap_quota_root root;
	bool listed; /* named by QUOTAROOT */
};

struct quota_run {
	struct imap_session *s;
	struct quota_entry *v;
	size_t count, cap;
};

/* The entry of root `name`, made when new; NULL past the bound. */
static struct quota_entry *entry(struct quota_run *r, const char *name)
{
	for (size_t i = 0; i < r->count; i++)
		if (strcmp(r->v[i].root.name, name) == 0)
			return &r->v[i];
	if (r->count == IMAP_QUOTA_ROOTS_MAX) {
		log_debug("imap: %s names more than %d quota roots; the others are left out", imap_peer(r->s),
		          IMAP_QUOTA_ROOTS_MAX);
		return NULL;
	}
	r->v = xgrow(r->v, &r->cap, r->count + 1, sizeof(*r->v));
	memset(&r->v[r->count], 0, sizeof(r->v[r->count]));
	r->v[r->count].root.name = xstrdup(name);
	return &r->v[r->count++];
}

static void quota_response(struct imap_cmd *cmd, const struct imap_response *resp)
{
	struct quota_run *r = cmd->ctx;
	struct quota_entry *e;

	if (resp->type == IMAP_DATA_QUOTAROOT) {
		for (size_t i = 0; i < resp->quotaroot.count; i++)
			if ((e = entry(r, resp->quotaroot.roots[i])) != NULL)
				e->listed = true;
		return;
	}
	if (!(e = entry(r, resp->quota.root)))
		return;
	for (size_t i = 0; i < resp->quota.count; i++) {
		const struct imap_quota_resource *res = &resp->quota.v[i];
		struct imap_quota_root *q = &e->root;
		if (strcasecmp(res->name, "STORAGE") == 0) {
			q->have |= IMAP_QUOTA_STORAGE;
			q->storage_used = res->usage;
			q->storage_limit = res->limit;
		} else if (strcasecmp(res->name, "MESSAGE") == 0) {
			q->have |= IMAP_QUOTA_MESSAGE;
			q->message_used = res->usage;
			q->message_limit = res->limit;
		}
	}
}

static const struct imap_cmd_ops quota_ops = {.response = quota_response};

int imap_getquotaroot(struct imap_session *s, const char *mailbox, struct imap_quota_root **roots_r,
                      size_t *count_r, struct error *err)
{
	struct quota_run r = {.s = s};
	struct imap_cmd cmd;
	size_t n = 0;
	int rc;

	*roots_r = NULL;
	*count_r = 0;
	if (!imap_has_cap(s, "QUOTA"))
		return 0;
	imap_cmd_init(&cmd, "GETQUOTAROOT");
	cmd.scope = ERR_MAILBOX;
	cmd.ops = &quota_ops;
	cmd.ctx = &r;
	cmd.wants = 1u << IMAP_DATA_QUOTAROOT | 1u << IMAP_DATA_QUOTA;
	rc = imap_cmd_add_mailbox(s, &cmd, mailbox, err);
	if (rc == 0)
		rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	/* The roots QUOTAROOT named, in its order; QUOTA of others (sent
	 * unasked) is dropped. */
	for (size_t i = 0; i < r.count; i++) {
		if (rc == 0 && r.v[i].listed)
			r.v[n++].root = r.v[i].root;
		else
			free(r.v[i].root.name);
	}
	if (rc < 0 || n == 0) {
		free(r.v);
		return rc;
	}
	*roots_r = xcalloc(n, sizeof(**roots_r));
	for (size_t i = 0; i < n; i++)
		(*roots_r)[i] = r.v[i].root;
	*count_r = n;
	free(r.v);
	return 0;
}

void imap_quota_roots_free(struct imap_quota_root *roots, size_t count)
{
	for (size_t i = 0; i < count && roots; i++)
		free(roots[i].name);
	free(roots);
}
