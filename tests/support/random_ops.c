/*
 * The random steps of the randomized test: what a user does in a mail
 * reader on a device (the Maildir), what another IMAP client does on the
 * server, and syncs that are killed at random moments. Each step is
 * written to the world's log and recorded in its oracle.
 *
 * Choices are made from sorted lists (by Message-ID), never in readdir
 * or server order, so a seed picks the same messages when replayed.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/random_world.h"
#include "support/sync_harness.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/util/crash.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

enum step { STEP_FLAG, STEP_DELETE, STEP_MOVE, STEP_ADD };

/* Flags 40 %, deletions 15 %, moves 20 %, new messages 25 %. */
static enum step pick_step(struct rw_world *w)
{
	unsigned r = rw_rand(w, 100);

	return r < 40 ? STEP_FLAG : r < 55 ? STEP_DELETE : r < 75 ? STEP_MOVE : STEP_ADD;
}

/* A folder other than `f`. */
static unsigned other_folder(struct rw_world *w, unsigned f)
{
	return (f + 1 + rw_rand(w, RW_FOLDERS - 1)) % RW_FOLDERS;
}

/* Flags of a new message: none half of the time, else any. */
static unsigned new_flags(struct rw_world *w)
{
	return rw_rand(w, 2) ? rw_rand(w, 1u << RW_FLAGS) : 0;
}

static struct rw_msg *known(struct rw_world *w, const char *who, const char *id)
{
	struct rw_msg *m = rw_msg_find(w, id);

	if (!m)
		rw_fail(w, "%s has a message nobody added: %s", who, id);
	return m;
}

/* ---- a device ---- */

struct local_pick {
	char *id;
	size_t index;
};

static int pick_cmp(const void *a, const void *b)
{
	const struct local_pick *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Index into `lm` of a random message, chosen from the list sorted by
 * Message-ID; `*id_r` gets its Message-ID (fresh). */
static size_t pick_local(struct rw_world *w, struct local_msg *lm, size_t n, char **id_r)
{
	struct local_pick *p = xcalloc(n, sizeof(*p));
	size_t chosen;

	for (size_t i = 0; i < n; i++)
		p[i] = (struct local_pick){message_id(lm[i].data), i};
	qsort(p, n, sizeof(*p), pick_cmp);
	chosen = rw_rand(w, (unsigned)n);
	*id_r = p[chosen].id;
	chosen = p[chosen].index;
	for (size_t i = 0; i < n; i++)
		if (p[i].id != *id_r)
			free(p[i].id);
	free(p);
	return chosen;
}

static void local_add(struct rw_world *w, unsigned dev, unsigned f)
{
	unsigned flags = new_flags(w);
	char *text = rw_msg_new(w, dev, f, flags);
	const struct rw_msg *m = &w->msgs[w->count - 1];
	char *dir = folder_dir(rw_folder_names[f]);
	char letters[RW_FLAGS + 1];
	char *path;
	struct error err;

	rw_letters(flags, letters);
	/* A reader that writes a message it has seen puts it into cur/. */
	if (flags)
		path = xasprintf("%s/cur/1765100000.R%u_%u.dev%u:2,%s", dir, w->seed, w->next_msg, dev + 1,
		                 letters);
	else
		path = xasprintf("%s/new/1765100000.R%u_%u.dev%u", dir, w->seed, w->next_msg, dev + 1);
	if (fs_write_atomic(path, text, strlen(text), 0600, &err) != 0)
		rw_fail(w, "dev%u cannot write %s: %s", dev + 1, path, err.text);
	rw_log(w, "dev%u: new %s in %s (flags \"%s\")", dev + 1, m->id, rw_folder_names[f], letters);
	free(path);
	free(dir);
	free(text);
}

static void local_step(struct rw_world *w, unsigned dev)
{
	enum step step = pick_step(w);
	unsigned f = rw_rand(w, RW_FOLDERS);
	const char *fname = rw_folder_names[f];
	struct local_msg *lm;
	size_t n = step == STEP_ADD ? 0 : local_list(fname, &lm);
	char *id;
	size_t i;
	struct rw_msg *m;

	if (n == 0) {
		local_add(w, dev, f);
		return;
	}
	i = pick_local(w, lm, n, &id);
	m = known(w, "a device", id);
	if (step == STEP_FLAG) {
		unsigned fl = rw_rand(w, RW_FLAGS);
		unsigned bits = rw_flags_of_letters(lm[i].flags) ^ (1u << fl);
		char letters[RW_FLAGS + 1];
		rw_letters(bits, letters);
		free(local_set_flags(lm[i].path, letters));
		rw_note_flag(w, id, dev, fl, bits & (1u << fl));
		rw_log(w, "dev%u: %s in %s: %c%c (now \"%s\")", dev + 1, id, fname,
		       bits & (1u << fl) ? '+' : '-', rw_flag_letters[fl], letters);
	} else if (step == STEP_DELETE) {
		if (unlink(lm[i].path) != 0)
			rw_fail(w, "dev%u cannot delete %s", dev + 1, lm[i].path);
		m->deleted = true;
		rw_log(w, "dev%u: delete %s in %s", dev + 1, id, fname);
	} else {
		unsigned g = other_folder(w, f);
		const char *name = strrchr(lm[i].path, '/') + 1;
		char *dir = folder_dir(rw_folder_names[g]);
		char *to = strstr(name, ":2,") ? xasprintf("%s/cur/%s", dir, name)
		                               : xasprintf("%s/cur/%s:2,", dir, name);
		/* A copy there already: the move makes a second one, which the
		 * user asked for. */
		bool twice = local_has_id(rw_folder_names[g], id);
		m->doubled |= twice;
		if (rename(lm[i].path, to) != 0)
			rw_fail(w, "dev%u cannot move %s to %s", dev + 1, lm[i].path, to);
		m->moved = true;
		m->placed |= 1u << g;
		rw_log(w, "dev%u: move %s from %s to %s%s", dev + 1, id, fname, rw_folder_names[g],
		       twice ? " (a copy is there already)" : "");
		free(to);
		free(dir);
	}
	free(id);
	local_free(lm, n);
}

void rw_local_steps(struct rw_world *w, unsigned dev)
{
	unsigned steps = 1 + rw_rand(w, 3);

	rw_use_device(w, dev);
	for (unsigned s = 0; s < steps; s++)
		local_step(w, dev);
}

/* ---- the second IMAP client ---- */

static void server_select(struct rw_world *w, const char *folder)
{
	struct error err;

	if (imap_select(w->imap, folder, false, NULL, &err) != 0)
		rw_fail(w, "the second client cannot select %s: %s", folder, err.text);
}

static void server_step(struct rw_world *w)
{
	enum step step = pick_step(w);
	unsigned f = rw_rand(w, RW_FOLDERS);
	const char *fname = rw_folder_names[f];
	size_t n = 0;
	struct dovecot_msg *sm = step == STEP_ADD ? NULL : dovecot_list(sh.d, fname, true, &n);
	struct local_msg *as_local;
	struct imap_uidset set = IMAP_UIDSET_INIT;
	struct error err;
	char *id;
	size_t i;
	struct rw_msg *m;
	int rc = 0;

	if (n == 0) {
		unsigned flags = new_flags(w);
		char *text = rw_msg_new(w, RW_SERVER, f, flags);
		char letters[RW_FLAGS + 1];
		rw_letters(flags, letters);
		rw_server_append(w, f, flags, text);
		rw_log(w, "server: APPEND %s to %s (flags \"%s\")", w->msgs[w->count - 1].id, fname, letters);
		free(text);
		dovecot_msgs_free(sm, n);
		return;
	}
	/* pick_local wants local_msg: borrow the bodies. */
	as_local = xcalloc(n, sizeof(*as_local));
	for (size_t k = 0; k < n; k++)
		as_local[k].data = sm[k].body;
	i = pick_local(w, as_local, n, &id);
	free(as_local);
	m = known(w, "the server", id);
	server_select(w, fname);
	imap_uidset_add(&set, sm[i].uid);
	if (step == STEP_FLAG) {
		unsigned fl = rw_rand(w, RW_FLAGS);
		bool value = !(rw_flags_of_imap(sm[i].flags) & (1u << fl));
		rc = imap_store(w->imap, &set, value ? IMAP_STORE_ADD : IMAP_STORE_REMOVE, rw_imap_flags[fl],
		                0, NULL, &err);
		rw_note_flag(w, id, RW_SERVER, fl, value);
		rw_log(w, "server: %s in %s (UID %u): STORE %cFLAGS %s", id, fname, sm[i].uid,
		       value ? '+' : '-', rw_imap_flags[fl]);
	} else if (step == STEP_DELETE) {
		rc = imap_store(w->imap, &set, IMAP_STORE_ADD, "\\Deleted", 0, NULL, &err);
		if (rc == 0)
			rc = imap_expunge_uids(w->imap, &set, &err);
		m->deleted = true;
		rw_log(w, "server: %s in %s (UID %u): EXPUNGE", id, fname, sm[i].uid);
	} else {
		unsigned g = other_folder(w, f);
		struct imap_copy_result r = {0};
		bool twice = server_has_id(rw_folder_names[g], id);
		m->doubled |= twice;
		rc = imap_copy(w->imap, &set, rw_folder_names[g], true, &r, &err);
		imap_copy_result_free(&r);
		m->moved = true;
		m->placed |= 1u << g;
		rw_log(w, "server: %s (UID %u): MOVE from %s to %s%s", id, sm[i].uid, fname,
		       rw_folder_names[g], twice ? " (a copy is there already)" : "");
	}
	if (rc != 0)
		rw_fail(w, "the second client failed: %s", err.text);
	imap_uidset_free(&set);
	free(id);
	dovecot_msgs_free(sm, n);
}

void rw_server_steps(struct rw_world *w)
{
	unsigned steps = 1 + rw_rand(w, 3);

	for (unsigned s = 0; s < steps; s++)
		server_step(w);
}

/* ---- syncs ---- */

/* `twinbox sync` of the current device (NULL-terminated, in a static
 * array). One folder at a time, so the N-th durable step is the same
 * one when a seed is replayed; with TWINBOX_RANDOM_VERBOSE set, -v (its
 * per-message lines go to the step log). */
static const char *const *sync_args(void)
{
	static const char *args[8];
	const char *verbose = getenv("TWINBOX_RANDOM_VERBOSE");
	size_t n = 0;

	if (verbose && *verbose)
		args[n++] = "-v";
	args[n++] = "--config";
	args[n++] = sh.cfg;
	args[n++] = "sync";
	args[n++] = "--allow-mass-delete";
	args[n++] = "--jobs";
	args[n++] = "1";
	args[n] = NULL;
	return args;
}

/* Start the sync, SIGKILL it after `delay_ms`, wait for it. */
static void sync_sigkilled(struct rw_world *w, unsigned delay_ms, struct run_result *r)
{
	char tag[32];
	struct timespec pause = {delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L};
	pid_t pid;

	snprintf(tag, sizeof(tag), "run%u", w->runs);
	pid = sync_spawn_args(tag, sync_args());
	nanosleep(&pause, NULL);
	kill(pid, SIGKILL); /* a zombie if it ended already: still ours */
	sync_wait(pid, tag, 120, r, NULL);
}

/* Indented copy of a run's output into the log. */
static void log_output(struct rw_world *w, const char *text)
{
	for (const char *p = text; p && *p;) {
		size_t len = strcspn(p, "\n");
		rw_log(w, "      | %.*s", (int)len, p);
		p += len + (p[len] == '\n');
	}
}

void rw_sync(struct rw_world *w, unsigned dev, bool may_kill)
{
	unsigned r = may_kill ? rw_rand(w, 10) : 10;
	unsigned crash_at = 1 + rw_rand(w, 8), delay_ms = rw_rand(w, 250);
	int expect_killed = 0;
	char how[64];

	rw_use_device(w, dev);
	run_result_free(&sh.r);
	w->runs++;
	if (r < 2 && w->sigkill) {
		snprintf(how, sizeof(how), "SIGKILL after %u ms", delay_ms);
		expect_killed = 128 + SIGKILL;
		sync_sigkilled(w, delay_ms, &sh.r);
	} else if (r < 6) {
		char n[16];
		snprintf(how, sizeof(how), "TWINBOX_TEST_CRASH_AT=%u", crash_at);
		snprintf(n, sizeof(n), "%u", crash_at);
		expect_killed = CRASH_EXIT_CODE;
		setenv("TWINBOX_TEST_CRASH_AT", n, 1);
		run_twinbox(sync_args(), 120, &sh.r);
		unsetenv("TWINBOX_TEST_CRASH_AT");
	} else {
		snprintf(how, sizeof(how), "not killed");
		run_twinbox(sync_args(), 120, &sh.r);
	}
	if (expect_killed && sh.r.status == expect_killed)
		w->kills++;
	rw_log(w, "dev%u: sync (%s): exit %d", dev + 1, how, sh.r.status);
	log_output(w, sh.r.out);
	log_output(w, sh.r.err);
	if (sh.r.status != 0 && sh.r.status != expect_killed)
		rw_fail(w, "dev%u: sync (%s) exited %d\nstdout: %s\nstderr: %s", dev + 1, how, sh.r.status,
		        sh.r.out, sh.r.err);
}
