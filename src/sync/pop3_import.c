/*
 * The POP3 import (pop3_import.h): new UIDLs are downloaded behind
 * durable intents, recorded, and only then, where the rules say so,
 * deleted from the server at a confirmed QUIT.
 */
#include "twinbox/sync/pop3_import.h"

#include <stdlib.h>
#include <string.h>

#include "twinbox/state/intent.h"
#include "twinbox/state/pop3.h"
#include "twinbox/util/crash.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* Messages per batch of intents, downloads and records: each batch
 * empties the RETR pipeline once (a round trip), and its names are held
 * until it is recorded (about 100 bytes a message). */
#define POP3_BATCH     500
#define UNUSABLE_SHOWN 10 /* unusable UIDLs named in warnings, per run */

struct want {
	uint32_t msgno;
	const char *uidl;
	uint64_t size;
	char *name; /* the local file, reserved before the download */
	int64_t intent;
	bool done;
};

struct import {
	struct store *local;
	struct store_folder *lf;
	struct state *st;
	const struct pop3_import_options *o;
	struct pop3_import_report *rep;
	/* the batch being downloaded */
	struct want *w;
	size_t n;
	struct want *cur;
	void *writer;
};

void pop3_import_report_free(struct pop3_import_report *rep)
{
	for (size_t i = 0; i < rep->too_big_count; i++)
		free(rep->too_big[i].uidl);
	free(rep->too_big);
	rep->too_big = NULL;
	rep->too_big_count = 0;
}

static int commit(struct state *st, bool durable, const char *what, struct error *err)
{
	if ((durable ? state_commit_durable(st, err) : state_commit(st, err)) < 0) {
		state_rollback(st);
		return -1;
	}
	crash_point(what);
	return 0;
}

/* What a killed run left of the add under the reserved name `name`, or
 * (NULL) whatever is old enough to be abandoned: litter only, so a
 * failure is told and the import goes on. */
static void clean_leftovers(struct import *im, const char *name)
{
	struct error err;

	if (im->local->ops->clean_leftovers && im->local->ops->clean_leftovers(im->lf, name, &err) < 0)
		log_warn("%s: %s", im->o->folder, err.text);
}

/* A killed run's downloads: a file that exists is recorded, the rest
 * forgotten (they are downloaded again: nothing reached the Maildir);
 * what is left of them in tmp/ is removed. */
static int recover(struct import *im, struct error *err)
{
	struct state_intents set = {0};
	struct store_snapshot snap = {0};
	size_t pending = 0, found = 0;
	int rc = -1;

	if (state_intent_list(im->st, 0, &set, err) < 0)
		return -1;
	for (size_t i = 0; i < set.count; i++)
		pending += set.intents[i].kind == STATE_INTENT_POP3_DOWNLOAD;
	if (pending == 0) {
		state_intents_free(&set);
		return 0;
	}
	if (im->local->ops->snapshot(im->lf, &snap, err) < 0 || state_begin(im->st, err) < 0)
		goto out;
	for (size_t i = 0; i < set.count; i++) {
		const struct state_intent *in = &set.intents[i];
		bool have = false;
		if (in->kind != STATE_INTENT_POP3_DOWNLOAD)
			continue;
		if (in->msg[SIDE_B].name)
			clean_leftovers(im, in->msg[SIDE_B].name);
		for (size_t j = 0; j < snap.count && in->msg[SIDE_B].name && !have; j++)
			have = strcmp(snap.msgs[j].name, in->msg[SIDE_B].name) == 0;
		if ((have &&
		     state_pop3_record(im->st, in->remote, in->msg[SIDE_B].name, in->created, err) < 0) ||
		    state_intent_resolve(im->st, in->id, err) < 0) {
			state_rollback(im->st);
			goto out;
		}
		found += have;
	}
	rc = commit(im->st, true, "interrupted downloads reconciled", err);
	if (rc == 0)
		log_info("%s: the last run stopped part-way (killed, or stopped by an error): %zu "
		         "message%s it had downloaded %s recorded now, %zu it had not finished %s "
		         "downloaded again",
		         im->o->folder, found, found == 1 ? "" : "s", found == 1 ? "is" : "are",
		         pending - found, pending - found == 1 ? "is" : "are");
out:
	store_snapshot_free(&snap);
	state_intents_free(&set);
	return rc;
}

/* ---- the download sink: RETR -> Maildir writer ---- */

static int dl_begin(void *ctx, uint32_t msgno, uint64_t size, struct error *err)
{
	struct import *im = ctx;
	struct store_new_msg meta = {0};

	(void)size;
	im->cur = NULL;
	for (size_t i = 0; i < im->n && !im->cur; i++)
		if (im->w[i].msgno == msgno)
			im->cur = &im->w[i];
	if (!im->cur)
		return error_set(err, ERR_ACCOUNT, "the server sent message %u, which was not asked for",
		                 msgno);
	meta.name_r = im->cur->name;
	meta.date = im->o->now;
	return im->local->ops->write_begin(im->lf, &meta, &im->writer, err);
}

static int dl_chunk(void *ctx, const void *data, size_t len, struct error *err)
{
	struct import *im = ctx;

	return im->writer ? im->local->ops->write_chunk(im->writer, data, len, err) : 0;
}

static int dl_end(void *ctx, uint32_t msgno, struct error *err)
{
	struct import *im = ctx;
	char *name = NULL;
	int rc;

	(void)msgno;
	if (!im->writer)
		return 0;
	rc = im->local->ops->write_end(im->writer, true, &name, NULL, err);
	im->writer = NULL;
	if (rc == 0) {
		im->cur->done = true;
		free(name); /* the reserved name, which the want keeps */
	}
	return rc;
}

static void dl_failed(void *ctx, uint32_t msgno, const struct error *e)
{
	struct import *im = ctx;
	struct error ignored;

	if (im->writer) {
		im->local->ops->write_end(im->writer, false, NULL, NULL, &ignored);
		im->writer = NULL;
	}
	im->rep->failed++;
	/* A larger scope stops the import, and its caller says why. */
	if (e->scope == ERR_MESSAGE)
		log_warn("%s: message %u was not downloaded: %s", im->o->folder, msgno, e->text);
}

static int download_batch(struct import *im, struct pop3_client *p, struct want *w, size_t n,
                          struct error *err)
{
	struct pop3_sink sink = {im, dl_begin, dl_chunk, dl_end, dl_failed};
	uint32_t *msgnos = xcalloc(n, sizeof(*msgnos));
	int rc = -1;

	im->w = w;
	im->n = n;
	if (state_begin(im->st, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct state_intent in = {
		    .kind = STATE_INTENT_POP3_DOWNLOAD, .side = SIDE_B, .remote = w[i].uidl};
		w[i].name = im->local->ops->reserve_name(im->lf, w[i].size);
		in.msg[SIDE_B].name = w[i].name;
		msgnos[i] = w[i].msgno;
		if (state_intent_add(im->st, &in, &w[i].intent, err) < 0) {
			state_rollback(im->st);
			goto out;
		}
	}
	if (commit(im->st, true, "download intents recorded", err) < 0)
		goto out;
	if (pop3_retr_many(p, msgnos, n, &sink, err) < 0) {
		if (im->writer) {
			struct error ignored;
			im->local->ops->write_end(im->writer, false, NULL, NULL, &ignored);
			im->writer = NULL;
		}
		goto out;
	}
	if (im->local->ops->flush(im->lf, err) < 0)
		goto out;
	crash_point("downloaded messages delivered");
	/* Durable: deletions from the server may follow in this run. */
	if (state_begin(im->st, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if ((w[i].done && state_pop3_record(im->st, w[i].uidl, w[i].name, im->o->now, err) < 0) ||
		    state_intent_resolve(im->st, w[i].intent, err) < 0) {
			state_rollback(im->st);
			goto out;
		}
		im->rep->downloaded += w[i].done;
	}
	rc = commit(im->st, true, "downloads recorded", err);
out:
	/* A batch's names are recorded or given up by now: memory stays that
	 * of a batch, not of every message downloaded. */
	for (size_t i = 0; i < n; i++) {
		free(w[i].name);
		w[i].name = NULL;
	}
	free(msgnos);
	return rc;
}

/* ---- deletion ---- */

/* Whether the rules can make any message due for deletion at all. */
static bool deletes_any(const struct pop3_import_options *o)
{
	return o->delete_after_download || !o->leave_on_server || o->delete_after_days;
}

static bool due(const struct pop3_import_options *o, const struct state_pop3_msg *k)
{
	if (k->deleted || !deletes_any(o))
		return false;
	/* Deleting right after download applies to what twinbox itself
	 * downloaded, never to mail only marked as seen (--mark-seen). */
	if (o->delete_after_download || !o->leave_on_server)
		return k->local_id != NULL;
	return o->delete_after_days &&
	       (int64_t)o->now - k->downloaded >= (int64_t)o->delete_after_days * 86400;
}

static int delete_due(struct import *im, struct pop3_client *p, const struct pop3_uidl_entry *ul, size_t nu,
                      struct error *err)
{
	/* Nothing can be due when all mail stays on the server for good:
	 * the state's UIDLs need not be read again. */
	size_t scan = deletes_any(im->o) ? nu : 0;
	struct state_pop3_set known = {0};
	const char **gone = xcalloc(scan + 1, sizeof(*gone));
	size_t ng = 0;
	int rc = -1;

	if (scan && state_pop3_load(im->st, &known, err) < 0)
		goto out;
	for (size_t i = 0; i < scan; i++) {
		const struct state_pop3_msg *k;
		struct error derr;
		if (ul[i].invalid || ul[i].duplicate || !(k = state_pop3_set_find(&known, ul[i].uidl)) ||
		    !due(im->o, k))
			continue;
		if (pop3_dele(p, ul[i].msgno, &derr) < 0) {
			if (derr.scope > ERR_MESSAGE) {
				*err = derr;
				goto out;
			}
			log_warn("%s: %s", im->o->folder, derr.text);
			continue;
		}
		gone[ng++] = ul[i].uidl;
	}
	if (pop3_quit(p, err) < 0) {
		if (ng == 0) {
			rc = 0; /* nothing hung on it */
			goto out;
		}
		error_prefix(err,
		             "%zu message%s marked for deletion stay on the server (tried again next run)",
		             ng, ng == 1 ? "" : "s");
		goto out;
	}
	crash_point("deletions confirmed by QUIT");
	if (ng) {
		if (state_begin(im->st, err) < 0)
			goto out;
		for (size_t i = 0; i < ng; i++)
			if (state_pop3_set_deleted(im->st, gone[i], err) < 0) {
				state_rollback(im->st);
				goto out;
			}
		if (commit(im->st, false, "deletions recorded", err) < 0)
			goto out;
	}
	im->rep->deleted = ng;
	rc = 0;
out:
	free(gone);
	state_pop3_set_free(&known);
	return rc;
}

/* ---- the import ---- */

static int open_folder(struct import *im, struct error *err)
{
	struct store_folder_info info;
	bool missing = false;

	if (im->local->ops->open_folder(im->local, im->o->folder, &im->lf, &info, &missing, err) == 0)
		return 0;
	/* An import only adds mail: making a missing folder loses nothing. */
	if (!missing && err->scope < ERR_ACCOUNT)
		return -1;
	if (im->o->dry_run) { /* it would be made; a dry run makes nothing */
		error_clear(err);
		return 0;
	}
	if (im->local->ops->create_folder(im->local, im->o->folder, err) < 0)
		return -1;
	return im->local->ops->open_folder(im->local, im->o->folder, &im->lf, &info, &missing, err);
}

static void note_unusable(const struct pop3_import_options *o, const struct pop3_uidl_entry *u, size_t shown)
{
	if (shown >= UNUSABLE_SHOWN)
		return;
	if (u->duplicate)
		log_warn("%s: message %u is skipped: its UIDL \"%.80s\" is used by another message too, so "
		         "the two cannot be told apart; it is never downloaded or deleted",
		         o->folder, u->msgno, u->uidl);
	else
		log_warn("%s: message %u is skipped: its UIDL \"%.80s%s\" cannot be used: %s; it is never "
		         "downloaded or deleted",
		         o->folder, u->msgno, u->uidl, strlen(u->uidl) > 80 ? "..." : "", u->invalid);
}

/* The next up to POP3_BATCH messages to download, from UIDL entry *at
 * on (merged with the LIST sizes from *ll_at on), into `w`; unusable
 * and too big ones are reported on the way. Returns the count; 0 at the
 * end. A batch at a time: memory stays that of a batch whatever the
 * number of new messages. */
static size_t next_wants(const struct import *im, const struct pop3_uidl_entry *ul, size_t nu, size_t *at,
                         const struct pop3_list_entry *ll, size_t nl, size_t *ll_at,
                         const struct state_pop3_set *known, size_t *cap_big, struct want *w)
{
	const struct pop3_import_options *o = im->o;
	struct pop3_import_report *rep = im->rep;
	size_t nw = 0;

	for (; *at < nu && nw < POP3_BATCH; (*at)++) {
		const struct pop3_uidl_entry *u = &ul[*at];
		uint64_t size = 0;
		while (*ll_at < nl && ll[*ll_at].msgno < u->msgno)
			(*ll_at)++;
		if (*ll_at < nl && ll[*ll_at].msgno == u->msgno)
			size = ll[*ll_at].size;
		if (u->invalid || u->duplicate) {
			note_unusable(o, u, rep->unusable++);
		} else if (state_pop3_set_find(known, u->uidl)) {
			continue;
		} else if (o->max_size && size > o->max_size) {
			rep->too_big =
			    xgrow(rep->too_big, cap_big, rep->too_big_count + 1, sizeof(*rep->too_big));
			rep->too_big[rep->too_big_count++] =
			    (struct pop3_skipped){u->msgno, xstrdup(u->uidl), size};
		} else {
			w[nw++] = (struct want){.msgno = u->msgno, .uidl = u->uidl, .size = size};
		}
	}
	return nw;
}

/* --mark-seen: record a batch as downloaded without downloading it. */
static int mark_seen(struct import *im, const struct want *w, size_t n, struct error *err)
{
	if (state_begin(im->st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (state_pop3_record(im->st, w[i].uidl, NULL, im->o->now, err) < 0) {
			state_rollback(im->st);
			return -1;
		}
	if (commit(im->st, true, "messages marked as downloaded", err) < 0)
		return -1;
	im->rep->marked += n;
	return 0;
}

int pop3_import(struct pop3_client *p, struct store *local, struct state *st,
                const struct pop3_import_options *o, struct pop3_import_report *rep, struct error *err)
{
	struct import im = {.local = local, .st = st, .o = o, .rep = rep};
	struct pop3_uidl_entry *ul = NULL;
	struct pop3_list_entry *ll = NULL;
	struct state_pop3_set known = {0};
	struct want *want = xcalloc(POP3_BATCH, sizeof(*want));
	size_t nu = 0, nl = 0, nw, at = 0, ll_at = 0, cap_big = 0;
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	if (open_folder(&im, err) < 0)
		goto out;
	if (pop3_uidl(p, &ul, &nu, err) < 0 || pop3_list(p, &ll, &nl, err) < 0)
		goto out;
	if (!o->dry_run && recover(&im, err) < 0)
		goto out;
	if (!o->dry_run)
		clean_leftovers(&im, NULL);
	if (state_pop3_load(st, &known, err) < 0)
		goto out;
	rep->on_server = nu;
	while ((nw = next_wants(&im, ul, nu, &at, ll, nl, &ll_at, &known, &cap_big, want)) > 0) {
		if (o->dry_run)
			rep->downloaded += nw; /* would be */
		else if (o->mark_seen ? mark_seen(&im, want, nw, err) < 0
		                      : download_batch(&im, p, want, nw, err) < 0)
			goto out;
	}
	if (o->dry_run) {
		pop3_quit(p, &(struct error){0});
		rc = 0;
		goto out;
	}
	/* What the downloads needed goes before the deletions load the
	 * state's UIDLs again. */
	state_pop3_set_free(&known);
	free(ll);
	ll = NULL;
	rc = delete_due(&im, p, ul, nu, err);
out:
	free(want);
	state_pop3_set_free(&known);
	free(ul);
	free(ll);
	if (im.lf)
		local->ops->close_folder(im.lf);
	return rc;
}
