/*
 * Folder commands: LIST (SPECIAL-USE, LIST-STATUS), STATUS, CREATE,
 * DELETE, RENAME, SUBSCRIBE / UNSUBSCRIBE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session_p.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/mailbox_name.h"
#include "twinbox/imap/pipeline.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

#define STATUS_WINDOW 64 /* STATUS commands in flight without LIST-STATUS */

static const struct {
	const char *name;
	unsigned attr;
	enum imap_special_use use;
} list_attrs[] = {
    {"\\Noselect", IMAP_FOLDER_NOSELECT, IMAP_SPECIAL_NONE},
    {"\\NonExistent", IMAP_FOLDER_NOSELECT, IMAP_SPECIAL_NONE},
    {"\\Noinferiors", IMAP_FOLDER_NOINFERIORS, IMAP_SPECIAL_NONE},
    {"\\HasChildren", IMAP_FOLDER_HASCHILDREN, IMAP_SPECIAL_NONE},
    {"\\HasNoChildren", IMAP_FOLDER_HASNOCHILDREN, IMAP_SPECIAL_NONE},
    {"\\Subscribed", IMAP_FOLDER_SUBSCRIBED, IMAP_SPECIAL_NONE},
    {"\\Marked", IMAP_FOLDER_MARKED, IMAP_SPECIAL_NONE},
    {"\\Unmarked", IMAP_FOLDER_UNMARKED, IMAP_SPECIAL_NONE},
    {"\\All", 0, IMAP_SPECIAL_ALL},
    {"\\Archive", 0, IMAP_SPECIAL_ARCHIVE},
    {"\\Drafts", 0, IMAP_SPECIAL_DRAFTS},
    {"\\Flagged", 0, IMAP_SPECIAL_FLAGGED},
    {"\\Junk", 0, IMAP_SPECIAL_JUNK},
    {"\\Sent", 0, IMAP_SPECIAL_SENT},
    {"\\Trash", 0, IMAP_SPECIAL_TRASH},
};

const char *imap_special_use_name(enum imap_special_use use)
{
	for (size_t i = 0; i < sizeof(list_attrs) / sizeof(list_attrs[0]); i++)
		if (list_attrs[i].use == use && use != IMAP_SPECIAL_NONE)
			return list_attrs[i].name;
	return "";
}

struct list_ctx {
	struct imap_session *s;
	struct imap_folder *v;
	size_t count, cap;
	bool overflow;
};

static void fill_status(struct imap_status_info *dst, const struct imap_mailbox_status *st)
{
	dst->have = st->have;
	dst->messages = st->messages;
	dst->recent = st->recent;
	dst->uidnext = st->uidnext;
	dst->uidvalidity = st->uidvalidity;
	dst->unseen = st->unseen;
	dst->highestmodseq = st->highestmodseq;
}

static void add_folder(struct list_ctx *l, const struct imap_list_data *d)
{
	struct imap_folder *f;
	struct error err;

	if (memchr(d->name, '\0', d->name_len)) {
		log_debug("imap: %s listed a mailbox name with a NUL byte; ignored", imap_peer(l->s));
		return;
	}
	if (l->count >= IMAP_LIST_MAX) {
		l->overflow = true;
		return;
	}
	l->v = xgrow(l->v, &l->cap, l->count + 1, sizeof(*l->v));
	f = &l->v[l->count++];
	memset(f, 0, sizeof(*f));
	f->raw = xstrndup(d->name, d->name_len);
	f->delimiter = d->delimiter;
	if (imap_mailbox_decode(d->name, d->name_len, (l->s->enabled & IMAP_ENABLED_UTF8) != 0, &f->name,
	                        &err) < 0)
		f->why = xstrdup(err.text);
	for (size_t i = 0; i < d->flags.count; i++) {
		for (size_t k = 0; k < sizeof(list_attrs) / sizeof(list_attrs[0]); k++) {
			if (strcasecmp(d->flags.v[i], list_attrs[k].name) != 0)
				continue;
			f->attrs |= list_attrs[k].attr;
			if (list_attrs[k].use != IMAP_SPECIAL_NONE)
				f->special_use = list_attrs[k].use;
		}
	}
}

static void list_response(struct imap_cmd *cmd, const struct imap_response *resp)
{
	struct list_ctx *l = cmd->ctx;

	if (resp->type == IMAP_DATA_LIST || resp->type == IMAP_DATA_LSUB) {
		add_folder(l, &resp->list);
		return;
	}
	/* LIST-STATUS: the STATUS follows its LIST; look from the end. */
	for (size_t i = l->count; i-- > 0;) {
		if (strlen(l->v[i].raw) == resp->status.name_len &&
		    memcmp(l->v[i].raw, resp->status.name, resp->status.name_len) == 0) {
			fill_status(&l->v[i].status, &resp->status);
			return;
		}
	}
}

static const struct imap_cmd_ops list_ops = {.response = list_response};

static unsigned status_items(const struct imap_session *s)
{
	unsigned items =
	    IMAP_STATUS_MESSAGES | IMAP_STATUS_UIDNEXT | IMAP_STATUS_UIDVALIDITY | IMAP_STATUS_UNSEEN;

	if (imap_has_cap(s, "CONDSTORE"))
		items |= IMAP_STATUS_HIGHESTMODSEQ;
	return items;
}

static void add_status_items(struct imap_cmd *cmd, unsigned items)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
	    {IMAP_STATUS_MESSAGES, "MESSAGES"}, {IMAP_STATUS_RECENT, "RECENT"},
	    {IMAP_STATUS_UIDNEXT, "UIDNEXT"},   {IMAP_STATUS_UIDVALIDITY, "UIDVALIDITY"},
	    {IMAP_STATUS_UNSEEN, "UNSEEN"},     {IMAP_STATUS_HIGHESTMODSEQ, "HIGHESTMODSEQ"},
	};
	const char *sep = "";

	imap_cmd_add(cmd, " (");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (items & names[i].bit) {
			imap_cmd_add(cmd, "%s%s", sep, names[i].name);
			sep = " ";
		}
	}
	imap_cmd_add(cmd, ")");
}

static void status_response(struct imap_cmd *cmd, const struct imap_response *resp)
{
	fill_status(cmd->ctx, &resp->status);
}

static const struct imap_cmd_ops status_ops = {.response = status_response};

static int build_status(struct imap_session *s, struct imap_cmd *cmd, const char *name, unsigned items,
                        struct imap_status_info *info, struct error *err)
{
	imap_cmd_init(cmd, "STATUS");
	cmd->scope = ERR_MAILBOX;
	cmd->ops = &status_ops;
	cmd->ctx = info;
	cmd->wants = 1u << IMAP_DATA_STATUS;
	if (imap_cmd_add_mailbox(s, cmd, name, err) < 0)
		return -1;
	if (!imap_has_cap(s, "CONDSTORE"))
		items &= ~(unsigned)IMAP_STATUS_HIGHESTMODSEQ;
	add_status_items(cmd, items);
	return 0;
}

int imap_status(struct imap_session *s, const char *name, unsigned items, struct imap_status_info *info_r,
                struct error *err)
{
	struct imap_cmd cmd;
	int rc;

	memset(info_r, 0, sizeof(*info_r));
	rc = build_status(s, &cmd, name, items, info_r, err);
	if (rc == 0)
		rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	return rc;
}

struct status_run {
	struct imap_session *s;
	struct imap_folder *v;
	size_t count, next;
};

static int status_next(void *ctx, struct imap_window_cmd *wc, struct error *err)
{
	struct status_run *r = ctx;

	(void)err;
	for (; r->next < r->count; r->next++) {
		struct imap_folder *f = &r->v[r->next];
		struct error e;
		if (!f->name || (f->attrs & IMAP_FOLDER_NOSELECT))
			continue;
		if (build_status(r->s, &wc->cmd, f->name, status_items(r->s), &f->status, &e) == 0) {
			wc->first = r->next++;
			wc->count = 1;
			return 1;
		}
		log_debug("imap: %s", e.text);
		imap_cmd_free(&wc->cmd);
	}
	return 0;
}

/* A folder whose STATUS fails is left out; only a lost session ends the
 * run (the window stops at it by itself). */
static int status_done(void *ctx, struct imap_window_cmd *wc, int rc, const struct error *err)
{
	(void)ctx;
	(void)wc;
	if (rc < 0)
		log_debug("imap: %s", err->text);
	return 0;
}

/* STATUS of every selectable folder, pipelined; a folder whose STATUS
 * fails keeps status.have == 0. Only a broken session is an error. */
static int status_each(struct imap_session *s, struct imap_folder *v, size_t count, struct error *err)
{
	struct status_run r = {.s = s, .v = v, .count = count};
	struct imap_window_ops ops = {.ctx = &r, .next = status_next, .done = status_done};

	return imap_window_run(s, STATUS_WINDOW, &ops, err);
}

int imap_list(struct imap_session *s, const char *pattern, unsigned flags, struct imap_folder **folders_r,
              size_t *count_r, struct error *err)
{
	struct list_ctx l = {.s = s};
	bool extended = imap_has_cap(s, "LIST-EXTENDED");
	bool list_status = (flags & IMAP_LIST_STATUS) && imap_has_cap(s, "LIST-STATUS");
	bool special = extended && imap_has_cap(s, "SPECIAL-USE");
	struct imap_cmd cmd;
	int rc;

	*folders_r = NULL;
	*count_r = 0;
	if ((flags & IMAP_LIST_SUBSCRIBED) && !extended) {
		imap_cmd_init(&cmd, "LSUB");
		cmd.wants = 1u << IMAP_DATA_LSUB;
	} else {
		imap_cmd_init(&cmd, "LIST");
		if (flags & IMAP_LIST_SUBSCRIBED)
			imap_cmd_add(&cmd, " (SUBSCRIBED)");
		cmd.wants = 1u << IMAP_DATA_LIST | 1u << IMAP_DATA_STATUS;
	}
	imap_cmd_add(&cmd, " \"\"");
	if (imap_cmd_add_mailbox(s, &cmd, pattern, err) < 0) {
		imap_cmd_free(&cmd);
		return -1;
	}
	if (cmd.wants & (1u << IMAP_DATA_LIST) && (special || list_status)) {
		imap_cmd_add(&cmd, " RETURN (%s", special ? "SPECIAL-USE" : "");
		if (list_status) {
			imap_cmd_add(&cmd, "%sSTATUS", special ? " " : "");
			add_status_items(&cmd, status_items(s));
		}
		imap_cmd_add(&cmd, ")");
	}
	cmd.ops = &list_ops;
	cmd.ctx = &l;
	rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	if (rc == 0 && l.overflow)
		rc = error_set(err, ERR_ACCOUNT, "%s listed more than %d mailboxes; twinbox stops there",
		               imap_peer(s), IMAP_LIST_MAX);
	if (rc == 0 && (flags & IMAP_LIST_STATUS) && !list_status)
		rc = status_each(s, l.v, l.count, err);
	if (rc < 0) {
		imap_folders_free(l.v, l.count);
		return -1;
	}
	*folders_r = l.v;
	*count_r = l.count;
	return 0;
}

void imap_folders_free(struct imap_folder *folders, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(folders[i].name);
		free(folders[i].why);
		free(folders[i].raw);
	}
	free(folders);
}

static int simple(struct imap_session *s, const char *verb, const char *a, const char *b, struct error *err)
{
	struct imap_cmd cmd;
	int rc;

	imap_cmd_init(&cmd, verb);
	cmd.scope = ERR_MAILBOX;
	rc = imap_cmd_add_mailbox(s, &cmd, a, err);
	if (rc == 0 && b)
		rc = imap_cmd_add_mailbox(s, &cmd, b, err);
	if (rc == 0)
		rc = imap_run(s, &cmd, err);
	imap_cmd_free(&cmd);
	return rc;
}

int imap_create(struct imap_session *s, const char *name, struct error *err)
{
	return simple(s, "CREATE", name, NULL, err);
}

int imap_delete(struct imap_session *s, const char *name, struct error *err)
{
	return simple(s, "DELETE", name, NULL, err);
}

int imap_rename(struct imap_session *s, const char *from, const char *to, struct error *err)
{
	return simple(s, "RENAME", from, to, err);
}

int imap_subscribe(struct imap_session *s, const char *name, bool subscribe, struct error *err)
{
	return simple(s, subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE", name, NULL, err);
}
