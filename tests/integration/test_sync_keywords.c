/*
 * End-to-end: IMAP keywords kept in step with the Maildir the way
 * Dovecot stores them (a folder's dovecot-keywords file, letters 'a'..'z'
 * after ":2,"), both ways, checked in that file, in the file names, on
 * the server and in the state; 27 keywords where 26 letters fit; and a
 * second Dovecot serving the synced Maildir reads the same keywords.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/run.h"
#include "support/sync_harness.h"
#include "twinbox/state/folder.h"
#include "twinbox/state/pair.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

TestSuite(sync_keywords, .init = sync_harness_setup, .fini = sync_harness_teardown, .timeout = 300);

/* The text of `folder`'s dovecot-keywords (fresh; "" when missing). */
static char *keywords_file(const char *folder)
{
	char *dir = folder_dir(folder), *path = xasprintf("%s/dovecot-keywords", dir), *data = NULL;
	struct error err;
	size_t len;

	if (fs_read_file(path, 1 << 20, &data, &len, &err) < 0)
		data = xstrdup("");
	free(path);
	free(dir);
	return data;
}

/* The letter dovecot-keywords of `folder` gives `kw` (exact spelling),
 * or 0. */
static char letter_of(const char *folder, const char *kw)
{
	char *text = keywords_file(folder), *save = NULL;
	char letter = 0;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		if (sp && strcmp(sp + 1, kw) == 0)
			letter = (char)('a' + atoi(line));
	}
	free(text);
	return letter;
}

/* The lines of `folder`'s dovecot-keywords. */
static size_t keyword_lines(const char *folder)
{
	char *text = keywords_file(folder);
	size_t n = 0;

	for (const char *p = text; *p; p++)
		n += *p == '\n';
	free(text);
	return n;
}

/* The letters after ":2," of the local copy of message `id` (fresh). */
static char *local_letters(const char *folder, const char *id)
{
	char *path = local_find(folder, id), *info = strstr(path, ":2,");
	char *letters = xstrdup(info ? info + 3 : "");

	free(path);
	return letters;
}

static bool has_letter(const char *letters, char c)
{
	return c && strchr(letters, c) != NULL;
}

/* Add (or remove) letter `c` on the local copy of `id`, as a mail reader
 * renames the file. */
static void local_letter(const char *folder, const char *id, char c, bool on)
{
	char *path = local_find(folder, id), *letters = local_letters(folder, id), *to;
	struct buf b = BUF_INIT;

	for (const char *p = letters; *p; p++)
		if (*p != c)
			buf_append_byte(&b, *p);
	if (on)
		buf_append_byte(&b, c);
	to = local_set_flags(path, b.data ? b.data : "");
	buf_free(&b);
	free(to);
	free(letters);
	free(path);
}

/* The keywords the state records as synced for server UID `uid` (fresh,
 * NULL for none). */
static char *state_keywords(const char *folder, unsigned uid)
{
	struct state *st;
	struct state_folder sf;
	struct state_pairs pairs = {0};
	struct error err;
	char *kw = NULL;
	bool found = false;

	cr_assert_eq(state_open(sh.db, 0, &st, &err), 0, "%s", err.text);
	cr_assert_eq(state_folder_find_remote(st, folder, &sf, &err), 1);
	cr_assert_eq(state_pairs_load(st, sf.id, &pairs, &err), 0, "%s", err.text);
	for (size_t i = 0; i < pairs.count; i++)
		if (pairs.pairs[i].side[SIDE_A].uid == uid) {
			found = true;
			kw = pairs.pairs[i].keywords ? xstrdup(pairs.pairs[i].keywords) : NULL;
		}
	cr_assert(found, "no pair for UID %u", uid);
	state_pairs_free(&pairs);
	state_folder_clear(&sf);
	state_close(st);
	return kw;
}

static char *server_flags(const char *mailbox, const char *id)
{
	char *flags = NULL;

	server_find(mailbox, id, &flags);
	return flags;
}

Test(sync_keywords, keywords_go_both_ways_as_dovecot_stores_them)
{
	const unsigned seed = 71000;
	const char *work = "Message-ID: <w1@kw.test>\r\nSubject: w\r\n\r\nw\r\n";
	char *id[3], *letters, *flags, *kw;
	char junk, label1, project, mine, label2;

	for (int i = 0; i < 3; i++)
		id[i] = seeded_id(seed, (unsigned)i);
	dovecot_seed(sh.d, "INBOX", 3, seed, 0);
	dovecot_flags(sh.d, "INBOX", 1, "add", "\\Seen $Junk $Label1");
	dovecot_flags(sh.d, "INBOX", 2, "add", "Project-X");
	dovecot_create_mailbox(sh.d, "Work");
	dovecot_append(sh.d, "Work", work, strlen(work), "$Label2");

	/* Server -> Maildir: letters in the names, lines in the table. */
	sync_ok();
	junk = letter_of("INBOX", "$Junk");
	label1 = letter_of("INBOX", "$Label1");
	project = letter_of("INBOX", "Project-X");
	cr_assert(junk && label1 && project, "dovecot-keywords: %s", keywords_file("INBOX"));
	cr_expect_eq(keyword_lines("INBOX"), 3);
	letters = local_letters("INBOX", id[0]);
	cr_expect(has_letter(letters, 'S') && has_letter(letters, junk) && has_letter(letters, label1) &&
	              !has_letter(letters, project),
	          "%s", letters);
	free(letters);
	letters = local_letters("INBOX", id[1]);
	cr_expect(has_letter(letters, project) && !has_letter(letters, junk), "%s", letters);
	free(letters);
	label2 = letter_of("Work", "$Label2");
	cr_expect(label2, "the subfolder has its own table: %s", keywords_file("Work"));
	letters = local_letters("Work", "<w1@kw.test>");
	cr_expect(has_letter(letters, label2), "%s", letters);
	free(letters);
	kw = state_keywords("INBOX", 1);
	cr_expect_str_eq(kw, "$Junk $Label1");
	free(kw);
	sync_ok();
	assert_nothing_done();

	/* Maildir -> server: a Maildir client adds a line and the letter,
	 * as Dovecot does. */
	{
		char *dir = folder_dir("INBOX"), *path = xasprintf("%s/dovecot-keywords", dir);
		char *text = keywords_file("INBOX"), *more = xasprintf("%s10 Local-Word\n", text);
		struct error err;

		cr_assert_eq(fs_write_atomic(path, more, strlen(more), 0600, &err), 0, "%s", err.text);
		free(more);
		free(text);
		free(path);
		free(dir);
	}
	mine = 'k';
	local_letter("INBOX", id[2], mine, true);
	local_letter("INBOX", id[0], junk, false);
	dovecot_flags(sh.d, "INBOX", 2, "remove", "Project-X");
	dovecot_flags(sh.d, "INBOX", 2, "add", "$label1");
	sync_ok();
	flags = server_flags("INBOX", id[2]);
	cr_expect(has_flag(flags, "Local-Word"), "%s", flags);
	free(flags);
	flags = server_flags("INBOX", id[0]);
	cr_expect(!has_flag(flags, "$Junk") && has_flag(flags, "$Label1"), "removed locally: %s", flags);
	free(flags);
	letters = local_letters("INBOX", id[1]);
	cr_expect(!has_letter(letters, project) && has_letter(letters, label1),
	          "removed and set on the server, any spelling: %s", letters);
	free(letters);
	cr_expect_eq(keyword_lines("INBOX"), 4, "no letter given twice: %s", keywords_file("INBOX"));
	kw = state_keywords("INBOX", 3);
	cr_expect_str_eq(kw, "Local-Word");
	free(kw);

	sync_ok();
	assert_nothing_done();
	for (int i = 0; i < 3; i++)
		free(id[i]);
}

/* A letter the table does not name is no keyword: it is never sent to
 * the server and stays in the file name. */
Test(sync_keywords, a_letter_without_a_line_is_left_alone)
{
	const unsigned seed = 72000;
	char *id = seeded_id(seed, 0), *letters, *flags;

	dovecot_seed(sh.d, "INBOX", 1, seed, 0);
	sync_ok();
	local_letter("INBOX", id, 'q', true);
	sync_ok();
	flags = server_flags("INBOX", id);
	cr_expect_str_eq(flags, "", "%s", flags);
	free(flags);
	dovecot_flags(sh.d, "INBOX", 1, "add", "$Junk");
	sync_ok();
	letters = local_letters("INBOX", id);
	cr_expect(has_letter(letters, 'q') && has_letter(letters, letter_of("INBOX", "$Junk")), "%s",
	          letters);
	cr_expect_neq(letter_of("INBOX", "$Junk"), 'q');
	free(letters);
	sync_ok();
	assert_nothing_done();
	free(id);
}

/* 27 keywords, 26 letters: the first 26 (in canonical order) are
 * written, the 27th is reported, stays on the server, and is not
 * recorded as synced, so no later run reads its absence here as a
 * removal; a second run changes nothing. */
Test(sync_keywords, a_27th_keyword_is_reported_and_kept_on_the_server)
{
	const char *msg = "Message-ID: <k27@kw.test>\r\nSubject: many\r\n\r\nbody\r\n";
	struct buf b = BUF_INIT;
	char *flags, *kw, *letters;

	for (int i = 1; i <= 27; i++)
		buf_printf(&b, "%sK%02d", i > 1 ? " " : "", i);
	dovecot_append(sh.d, "INBOX", msg, strlen(msg), b.data);
	flags = server_flags("INBOX", "<k27@kw.test>");
	cr_assert(has_flag(flags, "K27"), "the server keeps 27: %s", flags);
	free(flags);

	sync_ok();
	cr_expect(strstr(sh.r.out, "1 message lost keywords the Maildir cannot keep: K27;"), "%s", sh.r.out);
	cr_expect_eq(keyword_lines("INBOX"), 26);
	cr_expect_eq(letter_of("INBOX", "K01"), 'a');
	cr_expect_eq(letter_of("INBOX", "K26"), 'z');
	cr_expect_eq(letter_of("INBOX", "K27"), 0);
	letters = local_letters("INBOX", "<k27@kw.test>");
	cr_expect_str_eq(letters, "abcdefghijklmnopqrstuvwxyz");
	free(letters);
	flags = server_flags("INBOX", "<k27@kw.test>");
	cr_expect(has_flag(flags, "K27") && has_flag(flags, "K01"), "%s", flags);
	free(flags);
	kw = state_keywords("INBOX", 1);
	cr_expect(kw && strstr(kw, "K26") && !strstr(kw, "K27"), "%s", kw ? kw : "(none)");
	free(kw);

	sync_ok();
	assert_nothing_done();
	cr_expect_null(strstr(sh.r.out, "lost"), "%s", sh.r.out);

	/* A 28th set on the server later: no letter, nothing flaps. */
	dovecot_flags(sh.d, "INBOX", 1, "add", "K28");
	sync_ok();
	sync_ok();
	assert_nothing_done();
	flags = server_flags("INBOX", "<k27@kw.test>");
	cr_expect(has_flag(flags, "K27") && has_flag(flags, "K28"), "%s", flags);
	free(flags);
	buf_free(&b);
}

/* The real proof that the layout is Dovecot's: a second Dovecot serving
 * the synced Maildir itself reports the same keywords. */
Test(sync_keywords, a_dovecot_serving_the_synced_maildir_sees_the_keywords)
{
	const unsigned seed = 73000;
	const char *work = "Message-ID: <w2@kw.test>\r\nSubject: w\r\n\r\nw\r\n";
	char *conf, *id = seeded_id(seed, 0);
	struct dovecot *d2;
	struct dovecot_msg *m;
	size_t n;

	dovecot_seed(sh.d, "INBOX", 2, seed, 0);
	dovecot_flags(sh.d, "INBOX", 1, "add", "$Junk Project-X");
	dovecot_create_mailbox(sh.d, "Work");
	dovecot_append(sh.d, "Work", work, strlen(work), "$Label3");
	sync_ok();

	conf = xasprintf("mail_location = maildir:%s\n", sh.mail);
	d2 = dovecot_start_with(conf);
	/* As root, Dovecot reads mail as its own user: hand it the tree. */
	if (geteuid() == 0) {
		char *cmd = xasprintf("chmod 0711 '%s' && chown -R %u:%u '%s'", sh.dir,
		                      (unsigned)d2->mail_uid, (unsigned)d2->mail_gid, sh.mail);
		cr_assert_eq(system(cmd), 0, "%s", cmd);
		free(cmd);
	}
	m = dovecot_list(d2, "INBOX", false, &n);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		bool first = m[i].flags && has_flag(m[i].flags, "$Junk");
		cr_expect(!first || has_flag(m[i].flags, "Project-X"), "%s", m[i].flags);
	}
	cr_expect(has_flag(m[0].flags, "$Junk") || has_flag(m[1].flags, "$Junk"), "%s / %s", m[0].flags,
	          m[1].flags);
	dovecot_msgs_free(m, n);
	m = dovecot_list(d2, "Work", false, &n);
	cr_assert_eq(n, 1);
	cr_expect(has_flag(m[0].flags, "$Label3"), "%s", m[0].flags);
	dovecot_msgs_free(m, n);
	dovecot_stop(d2);
	free(conf);
	free(id);
}
