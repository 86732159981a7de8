/*
 * The world of the randomized test: devices, the second IMAP client, the
 * seeded random numbers, the oracle and the step log. See random_world.h.
 */
#include "random_world.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "support/dovecot.h"
#include "support/dovecot_imap.h"
#include "support/sync_harness.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

const char *const rw_folder_names[RW_FOLDERS] = {"INBOX", "Archive", "Work"};
const char rw_flag_letters[RW_FLAGS + 1] = "DFRS";
const char *const rw_imap_flags[RW_FLAGS] = {"\\Draft", "\\Flagged", "\\Answered", "\\Seen"};

/* splitmix64: every seed, 0 included, gives a good stream. */
static uint64_t next_random(struct rw_world *w)
{
	uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

unsigned rw_rand(struct rw_world *w, unsigned n)
{
	return n ? (unsigned)(next_random(w) % n) : 0;
}

void rw_log(struct rw_world *w, const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_append(&w->log, line, strlen(line));
	buf_append_byte(&w->log, '\n');
}

void rw_fail(struct rw_world *w, const char *fmt, ...)
{
	va_list ap;
	char what[2048];

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	buf_append_byte(&w->log, '\0');
	fprintf(stderr, "---- random sync test, seed %u: the steps taken ----\n%s---- end of steps ----\n",
	        w->seed, (const char *)w->log.data);
	cr_assert_fail("seed %u: %s\n(replay: TWINBOX_RANDOM_SEED=%u TWINBOX_RANDOM_SEEDS=1, same "
	               "TWINBOX_RANDOM_ROUNDS; the steps are on stderr)",
	               w->seed, what, w->seed);
	abort(); /* not reached */
}

/* ---- the oracle ---- */

struct rw_msg *rw_msg_find(struct rw_world *w, const char *id)
{
	for (size_t i = 0; i < w->count; i++)
		if (strcmp(w->msgs[i].id, id) == 0)
			return &w->msgs[i];
	return NULL;
}

static const char *actor_name(unsigned actor)
{
	static const char *const names[] = {"dev1", "dev2", "dev3", "server"};

	return actor <= RW_SERVER ? names[actor] : "?";
}

char *rw_msg_new(struct rw_world *w, unsigned actor, unsigned folder, unsigned flags)
{
	unsigned n = ++w->next_msg;
	struct rw_msg *m;

	w->msgs = xgrow(w->msgs, &w->cap, w->count + 1, sizeof(*w->msgs));
	m = &w->msgs[w->count++];
	memset(m, 0, sizeof(*m));
	m->id = xasprintf("<r%u.%u@twinbox.test>", w->seed, n);
	m->home = folder;
	m->placed = 1u << folder;
	m->initial = flags;
	/* Sizes differ between messages, as real mail does. */
	return xasprintf(
	    "Message-ID: %s\n"
	    "From: %s <%s@twinbox.test>\n"
	    "To: user@twinbox.test\n"
	    "Subject: random message %u of seed %u\n"
	    "Date: Mon, 7 Dec 2026 10:%02u:%02u +0000\n"
	    "\n"
	    "Written by %s into %s.\n%.*s\n",
	    m->id, actor_name(actor), actor_name(actor), n, w->seed, n / 60 % 60, n % 60, actor_name(actor),
	    rw_folder_names[folder], (int)(n * 7 % 200),
	    "....................................................................................."
	    "....................................................................................."
	    "..............................");
}

void rw_note_flag(struct rw_world *w, const char *id, unsigned actor, unsigned f, bool value)
{
	struct rw_msg *m = rw_msg_find(w, id);

	if (!m)
		rw_fail(w, "%s changed a flag of %s, which nobody added", actor_name(actor), id);
	m->changers[f] |= 1u << actor;
	m->value[f] = value;
}

unsigned rw_flags_of_letters(const char *letters)
{
	unsigned bits = 0;

	for (unsigned f = 0; f < RW_FLAGS; f++)
		if (strchr(letters, rw_flag_letters[f]))
			bits |= 1u << f;
	return bits;
}

unsigned rw_flags_of_imap(const char *list)
{
	unsigned bits = 0;

	for (unsigned f = 0; f < RW_FLAGS; f++) {
		size_t n = strlen(rw_imap_flags[f]);
		for (const char *p = list; (p = strcasestr(p, rw_imap_flags[f])) != NULL; p += n)
			if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
				bits |= 1u << f;
	}
	return bits;
}

void rw_letters(unsigned flags, char out[RW_FLAGS + 1])
{
	size_t n = 0;

	for (unsigned f = 0; f < RW_FLAGS; f++)
		if (flags & (1u << f))
			out[n++] = rw_flag_letters[f];
	out[n] = '\0';
}

/* ---- set-up ---- */

void rw_use_device(struct rw_world *w, unsigned dev)
{
	sh.cfg = w->dev_cfg[dev];
	sh.mail = w->dev_mail[dev];
	sh.db = w->dev_db[dev];
}

static void make_device(struct rw_world *w, unsigned dev)
{
	struct error err;
	char *account, *text;

	w->dev_dir[dev] = xasprintf("%s/s%u/dev%u", sh.dir, w->seed, dev + 1);
	w->dev_cfg[dev] = xasprintf("%s/config.yaml", w->dev_dir[dev]);
	w->dev_mail[dev] = xasprintf("%s/mail", w->dev_dir[dev]);
	w->dev_db[dev] = xasprintf("%s/state/t.db", w->dev_dir[dev]);
	cr_assert_eq(fs_mkdir_p(w->dev_dir[dev], 0700, &err), 0, "%s", err.text);
	account = account_config("t", w->dev_mail[dev]);
	text = xasprintf("state_dir: %s/state\n"
	                 "accounts:\n"
	                 "%s"
	                 "    sync:\n"
	                 "      expunge: both\n",
	                 w->dev_dir[dev], account);
	cr_assert_eq(fs_write_atomic(w->dev_cfg[dev], text, strlen(text), 0600, &err), 0, "%s", err.text);
	free(text);
	free(account);
}

static struct imap_session *second_client(void)
{
	struct imap_session_options o = dovecot_imap_options(sh.d);
	struct error err;
	struct imap_session *s = imap_connect(&o, &err);

	cr_assert_not_null(s, "the second IMAP client cannot connect: %s", err.text);
	return s;
}

void rw_server_append(struct rw_world *w, unsigned folder, unsigned flags, const char *text)
{
	char list[64] = "";
	struct imap_append_msg m = {0};
	struct error err;
	size_t len;
	char *crlf = crlf_of(text, &len);

	for (unsigned f = 0; f < RW_FLAGS; f++)
		if (flags & (1u << f)) {
			if (*list)
				strcat(list, " ");
			strcat(list, rw_imap_flags[f]);
		}
	m.data = crlf;
	m.len = len;
	m.flags = *list ? list : NULL;
	if (imap_append(w->imap, rw_folder_names[folder], &m, &err) != 0)
		rw_fail(w, "APPEND to %s failed: %s", rw_folder_names[folder], err.text);
	free(crlf);
}

void rw_init(struct rw_world *w, unsigned seed, bool sigkill)
{
	struct error err;

	memset(w, 0, sizeof(*w));
	w->seed = seed;
	w->rng = seed;
	w->sigkill = sigkill;
	w->log = (struct buf)BUF_INIT;
	w->saved_cfg = sh.cfg;
	w->saved_mail = sh.mail;
	w->saved_db = sh.db;
	dovecot_stop(sh.d); /* a fresh server for every seed */
	sh.d = dovecot_start();
	for (unsigned dev = 0; dev < RW_DEVICES; dev++)
		make_device(w, dev);
	w->imap = second_client();
	for (unsigned f = 1; f < RW_FOLDERS; f++)
		cr_assert_eq(imap_create(w->imap, rw_folder_names[f], &err), 0, "%s", err.text);
	for (unsigned f = 0; f < RW_FOLDERS; f++) {
		unsigned n = 4 + rw_rand(w, 4);
		for (unsigned i = 0; i < n; i++) {
			unsigned flags = rw_rand(w, 1u << RW_FLAGS);
			char *text = rw_msg_new(w, RW_SERVER, f, flags);
			rw_server_append(w, f, flags, text);
			free(text);
		}
		rw_log(w, "server: %s starts with %u messages", rw_folder_names[f], n);
	}
}

void rw_free(struct rw_world *w)
{
	sh.cfg = w->saved_cfg;
	sh.mail = w->saved_mail;
	sh.db = w->saved_db;
	if (w->imap)
		imap_session_close(w->imap);
	for (unsigned dev = 0; dev < RW_DEVICES; dev++) {
		free(w->dev_dir[dev]);
		free(w->dev_cfg[dev]);
		free(w->dev_mail[dev]);
		free(w->dev_db[dev]);
	}
	for (size_t i = 0; i < w->count; i++)
		free(w->msgs[i].id);
	free(w->msgs);
	buf_free(&w->log);
	memset(w, 0, sizeof(*w));
}
