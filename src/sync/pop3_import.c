/*
 * The POP3 import (pop3_import.h) through the engine's copies: the
 * maildrop is a pop3 store (side A), the receiving folder a Maildir
 * store's (side B). The new UIDLs of each batch become copy actions that
 * the executor carries out as it does a sync's (copy.c: durable intents
 * naming the local files, the RETRs streamed into the Maildir, a flush,
 * then the records), recorded here as the state's UIDLs (state/pop3.h)
 * instead of pairs. Deletions go through the store's delete and flush
 * (DELE, then QUIT), only for what is recorded.
 */
#include "twinbox/sync/pop3_import.h"

#include <stdlib.h>
#include <string.h>

#include "engine_p.h"
#include "twinbox/state/intent.h"
#include "twinbox/state/pop3.h"
#include "twinbox/store/pop3_store.h"
#include "twinbox/util/crash.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* Messages per batch of copies: the copy actions and the names of a
 * batch are held until it is recorded (about 200 bytes a message). */
#define POP3_BATCH     500
#define UNUSABLE_SHOWN 10 /* unusable UIDLs named in warnings, per run */

struct import {
	struct folder_run run; /* the maildrop and the folder, for the executor */
	struct sync_options so;
	struct sync_folder_report frep;
	const struct pop3_import_options *o;
	struct pop3_import_report *rep;
};

void pop3_import_report_free(struct pop3_import_report *rep)
{
	for (size_t i = 0; i < rep->too_big_count; i++)
		free(rep->too_big[i].uidl);
	free(rep->too_big);
	rep->too_big = NULL;
	rep->too_big_count = 0;
}

static struct store *local_store(const struct import *im)
{
	return im->run.store[SIDE_B];
}

/* A copy of the maildrop's message `from` (its UIDL), made durable as
 * `to` in the Maildir (unknown: it failed): its UIDL is recorded as
 * downloaded into that file, and its intent resolved (copy.c). */
static int record_copy(void *ctx, int64_t intent, struct store_id from, struct store_id to, struct error *err)
{
	struct import *im = ctx;
	char *uidl = pop3_store_uidl(from.name);
	int rc = to.name ? state_pop3_record(im->run.st, uidl, to.name, im->o->now, err) : 0;

	free(uidl);
	return rc < 0 ? -1 : state_intent_resolve(im->run.st, intent, err);
}

/* The UIDL and the local file of a download intent a killed run left:
 * a copy to side B (this version), or a pop3-download of an older one. */
static bool download_intent(const struct state_intent *in, const char **uidl_r, const char **name_r)
{
	if (in->folder_id != 0)
		return false;
	*name_r = in->msg[SIDE_B].name;
	if (state_intent_is(in, STATE_INTENT_COPY, SIDE_B))
		*uidl_r = in->msg[SIDE_A].name; /* the store's name for it */
	else if (in->kind == STATE_INTENT_POP3_DOWNLOAD)
		*uidl_r = in->remote;
	else
		return false;
	return true;
}

/* A killed run's downloads: a file that exists is recorded, the rest
 * forgotten (they are downloaded again: nothing reached the Maildir);
 * what is left of them in tmp/ is removed. */
static int recover(struct import *im, struct error *err)
{
	struct state *st = im->run.st;
	struct state_intents set = {0};
	struct store_snapshot snap = {0};
	size_t pending = 0, found = 0;
	const char *uidl, *name;
	int rc = -1;

	if (state_intent_list(st, 0, &set, err) < 0)
		return -1;
	for (size_t i = 0; i < set.count; i++)
		pending += download_intent(&set.intents[i], &uidl, &name);
	if (pending == 0) {
		state_intents_free(&set);
		return 0;
	}
	if (local_store(im)->ops->snapshot(im->run.folder[SIDE_B], &snap, err) < 0 ||
	    state_begin(st, err) < 0)
		goto out;
	for (size_t i = 0; i < set.count; i++) {
		const struct state_intent *in = &set.intents[i];
		bool have = false;
		if (!download_intent(in, &uidl, &name))
			continue;
		if (name)
			engine_clean_leftovers(&im->run, name);
		for (size_t j = 0; j < snap.count && name && !have; j++)
			have = strcmp(snap.msgs[j].name, name) == 0;
		char *real = uidl && in->kind != STATE_INTENT_POP3_DOWNLOAD ? pop3_store_uidl(uidl) : NULL;
		int bad =
		    have && uidl && state_pop3_record(st, real ? real : uidl, name, in->created, err) < 0;
		free(real);
		if (bad || state_intent_resolve(st, in->id, err) < 0) {
			state_rollback(st);
			goto out;
		}
		found += have;
	}
	rc = engine_commit(&im->run, true, "interrupted downloads reconciled", err);
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

/* ---- downloads ---- */

/* The batch's copies, carried out by the executor; the report counts
 * what was downloaded and what failed. */
static int download_batch(struct import *im, const struct plan_action *a, size_t n, struct error *err)
{
	size_t done = im->frep.to_local, failed = im->frep.message_failures;
	int rc = engine_copy_actions(&im->run, a, n, SIDE_B, err);

	im->rep->downloaded += im->frep.to_local - done;
	im->rep->failed += im->frep.message_failures - failed;
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

/* Delete from the server what the rules say is due among the recorded
 * messages `m` (`n` of them, as listed): DELE, then the store's flush
 * (QUIT), and only then are they recorded as deleted. */
static int delete_due(struct import *im, const struct pop3_store_msg *m, size_t n, struct error *err)
{
	struct store *server = im->run.store[SIDE_A];
	struct state_pop3_set known = {0};
	struct store_msg *gone = xcalloc(n + 1, sizeof(*gone));
	size_t ng = 0;
	int rc = -1;

	/* Nothing can be due when all mail stays on the server for good:
	 * the state's UIDLs need not be read again. */
	if (!deletes_any(im->o)) {
		free(gone);
		return 0;
	}
	if (state_pop3_load(im->run.st, &known, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct state_pop3_msg *k;
		if (!m[i].unusable && (k = state_pop3_set_find(&known, m[i].uidl)) != NULL && due(im->o, k))
			gone[ng++] =
			    (struct store_msg){.name = xstrdup(m[i].uidl)}; /* m[] goes with the flush */
	}
	rc = 0;
	if (ng == 0)
		goto out;
	rc = -1;
	if (server->ops->delete (im->run.folder[SIDE_A], gone, ng, err) < 0)
		goto out;
	if (server->ops->flush(im->run.folder[SIDE_A], err) < 0) {
		error_prefix(err,
		             "%zu message%s marked for deletion stay on the server (tried again next run)",
		             ng, ng == 1 ? "" : "s");
		goto out;
	}
	crash_point("deletions confirmed by QUIT");
	if (state_begin(im->run.st, err) < 0)
		goto out;
	for (size_t i = 0; i < ng; i++) {
		char *uidl = pop3_store_uidl(gone[i].name);
		int bad = state_pop3_set_deleted(im->run.st, uidl, err) < 0;

		free(uidl);
		if (bad) {
			state_rollback(im->run.st);
			goto out;
		}
	}
	if (engine_commit(&im->run, false, "deletions recorded", err) < 0)
		goto out;
	im->rep->deleted = ng;
	rc = 0;
out:
	for (size_t i = 0; i < ng; i++)
		free((char *)gone[i].name);
	free(gone);
	state_pop3_set_free(&known);
	return rc;
}

/* ---- the import ---- */

/* The receiving folder, made when missing: an import only adds mail, so
 * making it loses nothing. */
static int open_local(struct import *im, struct error *err)
{
	struct store *local = local_store(im);
	struct store_folder_info info;
	bool missing = false;

	if (local->ops->open_folder(local, im->o->folder, &im->run.folder[SIDE_B], &info, &missing, err) == 0)
		return 0;
	if (!missing && err->scope < ERR_ACCOUNT)
		return -1;
	if (im->o->dry_run) { /* it would be made; a dry run makes nothing */
		error_clear(err);
		return 0;
	}
	if (local->ops->create_folder(local, im->o->folder, err) < 0)
		return -1;
	return local->ops->open_folder(local, im->o->folder, &im->run.folder[SIDE_B], &info, &missing, err);
}

static void note_unusable(const struct pop3_import_options *o, const struct pop3_store_msg *u, size_t shown)
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
		         o->folder, u->msgno, u->uidl, strlen(u->uidl) > 80 ? "..." : "",
		         u->invalid ? u->invalid : "the server's LIST does not show it");
}

/* --mark-seen: record a batch as downloaded without downloading it. */
static int mark_seen(struct import *im, const struct plan_action *a, size_t n, struct error *err)
{
	if (state_begin(im->run.st, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *uidl = pop3_store_uidl(a[i].id[SIDE_A].name);
		int rc = state_pop3_record(im->run.st, uidl, NULL, im->o->now, err);

		free(uidl);
		if (rc < 0) {
			state_rollback(im->run.st);
			return -1;
		}
	}
	if (engine_commit(&im->run, true, "messages marked as downloaded", err) < 0)
		return -1;
	im->rep->marked += n;
	return 0;
}

/* The batch of `n` new messages: counted (dry run), marked, or
 * downloaded. */
static int take_batch(struct import *im, const struct plan_action *a, size_t n, struct error *err)
{
	if (im->o->dry_run) {
		im->rep->downloaded += n; /* would be */
		return 0;
	}
	return im->o->mark_seen ? mark_seen(im, a, n, err) : download_batch(im, a, n, err);
}

/* Every new message of `m`, a batch at a time (memory stays that of a
 * batch whatever the number of new messages); unusable and too big
 * ones are reported on the way. */
static int import_new(struct import *im, const struct pop3_store_msg *m, size_t nm, struct error *err)
{
	const struct pop3_import_options *o = im->o;
	struct pop3_import_report *rep = im->rep;
	struct plan_action *batch = xcalloc(POP3_BATCH, sizeof(*batch));
	struct state_pop3_set known = {0};
	size_t n = 0, cap_big = 0;
	int rc = -1;

	if (state_pop3_load(im->run.st, &known, err) < 0)
		goto out;
	for (size_t i = 0; i < nm; i++) {
		const struct pop3_store_msg *u = &m[i];
		if (u->unusable) {
			note_unusable(o, u, rep->unusable++);
		} else if (state_pop3_set_find(&known, u->uidl)) {
			continue;
		} else if (o->max_size && u->size > o->max_size) {
			rep->too_big =
			    xgrow(rep->too_big, &cap_big, rep->too_big_count + 1, sizeof(*rep->too_big));
			rep->too_big[rep->too_big_count++] =
			    (struct pop3_skipped){u->msgno, xstrdup(u->uidl), u->size};
		} else {
			batch[n++] = (struct plan_action){.kind = PLAN_COPY,
			                                  .side = SIDE_B,
			                                  .id = {[SIDE_A] = {0, u->name}},
			                                  .size = u->size,
			                                  .time = o->now,
			                                  .zone = STORE_ZONE_UNKNOWN};
		}
		if (n == POP3_BATCH) {
			if (take_batch(im, batch, n, err) < 0)
				goto out;
			n = 0;
		}
	}
	rc = n ? take_batch(im, batch, n, err) : 0;
out:
	state_pop3_set_free(&known);
	free(batch);
	return rc;
}

int pop3_import(struct store *server, struct store *local, struct state *st,
                const struct pop3_import_options *o, struct pop3_import_report *rep, struct error *err)
{
	struct import im = {.o = o, .rep = rep};
	struct store_folder_info info;
	struct pop3_store_msg *msgs = NULL;
	size_t nm = 0;
	bool missing;
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	im.frep.name = o->folder;
	im.so.observer = o->observer;
	im.so.stop = o->stop;
	im.run = (struct folder_run){.o = &im.so,
	                             .st = st,
	                             .store = {server, local},
	                             .rep = &im.frep,
	                             .files_read = -1,
	                             .record_copy = record_copy,
	                             .record_ctx = &im};
	if (server->ops->open_folder(server, "INBOX", &im.run.folder[SIDE_A], &info, &missing, err) < 0 ||
	    open_local(&im, err) < 0)
		goto out;
	nm = pop3_store_messages(im.run.folder[SIDE_A], &msgs);
	rep->on_server = nm;
	if (!o->dry_run) {
		if (recover(&im, err) < 0)
			goto out;
		engine_clean_leftovers(&im.run, NULL);
	}
	if (import_new(&im, msgs, nm, err) < 0)
		goto out;
	rc = o->dry_run ? 0 : delete_due(&im, msgs, nm, err);
out:
	free(msgs);
	for (int s = 0; s < SIDES; s++)
		if (im.run.folder[s])
			im.run.store[s]->ops->close_folder(im.run.folder[s]);
	return rc;
}
