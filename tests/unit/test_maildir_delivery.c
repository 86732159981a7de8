/* Delivering messages: tmp/ -> new/ or cur/, complete or not at all. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "test_maildir.h"
#include "twinbox/maildir/delivery.h"
#include "twinbox/maildir/flags.h"
#include "twinbox/maildir/folder.h"
#include "twinbox/maildir/maildir.h"
#include "twinbox/util/xmalloc.h"

static struct maildir *md;
static struct maildir_folder *f;

static void setup(void)
{
	char *root;
	struct error err;

	tm_setup();
	root = tm_path("mail");
	md = maildir_new(root, MAILDIR_LAYOUT_MAILDIRPP, '/');
	free(root);
	cr_assert_eq(maildir_folder_create(md, "INBOX", &err), 0, "%s", err.text);
	cr_assert_eq(maildir_folder_open(md, "INBOX", NULL, &f, &err), 0, "%s", err.text);
	/* Scanned, as a sync does before delivering: deliveries then enter
	 * the snapshot (see only_a_scanned_folder_records_its_deliveries). */
	cr_assert_eq(maildir_folder_scan(f, 0, &err), 0, "%s", err.text);
}

static void teardown(void)
{
	maildir_folder_close(f);
	maildir_free(md);
	tm_teardown();
}

TestSuite(maildir_delivery, .init = setup, .fini = teardown);

static const struct maildir_delivery_opts plain = {NULL, MAILDIR_SIZE_UNKNOWN, 0, 0, 0, 0, 0};

static struct maildir_delivery *begin(const struct maildir_delivery_opts *o)
{
	struct maildir_delivery *d;
	struct error err;

	cr_assert_eq(maildir_delivery_begin(f, o, &d, &err), 0, "%s", err.text);
	return d;
}

static void write_str(struct maildir_delivery *d, const char *s)
{
	struct error err;

	cr_assert_eq(maildir_delivery_write(d, s, strlen(s), &err), 0, "%s", err.text);
}

static void commit(struct maildir_delivery *d)
{
	struct error err;

	cr_assert_eq(maildir_delivery_commit(d, &err), 0, "%s", err.text);
}

Test(maildir_delivery, appears_in_new_only_when_complete)
{
	struct maildir_delivery *d = begin(&plain);
	char *id = xstrdup(maildir_delivery_id(d)), *rel, *body;
	struct maildir_msg m;
	struct stat st;
	size_t i;

	cr_expect_str_eq(maildir_delivery_name(d), id, "no flags: a plain name in new/");
	cr_expect_eq(maildir_delivery_subdir(d), MAILDIR_NEW);
	write_str(d, "Subject: one\n\n");
	cr_expect_eq(tm_count("mail/new") + tm_count("mail/cur"), 0, "nothing visible while writing");
	cr_expect_eq(tm_count("mail/tmp"), 1);
	write_str(d, "body\n");
	cr_expect_eq(tm_count("mail/new") + tm_count("mail/cur"), 0);
	commit(d);
	cr_expect_eq(tm_count("mail/tmp"), 0, "tmp/ is empty after the commit");
	rel = xasprintf("mail/new/%s", id);
	body = tm_read(rel);
	cr_expect_str_eq(body, "Subject: one\n\nbody\n");
	free(body);
	body = tm_path(rel);
	cr_assert_eq(lstat(body, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
	cr_assert(maildir_folder_find(f, id, &i), "the snapshot knows it");
	maildir_folder_msg(f, i, &m);
	cr_expect_eq(m.size, 19);
	cr_expect_eq(m.subdir, MAILDIR_NEW);
	free(body);
	free(rel);
	free(id);
}

Test(maildir_delivery, flags_put_it_in_cur)
{
	struct maildir_delivery_opts o = plain;
	struct maildir_delivery *d;
	char *rel;

	o.flags = MAILDIR_FLAG_SEEN | MAILDIR_FLAG_FLAGGED;
	o.id = "1700000000.M1P2Q3.host";
	d = begin(&o);
	cr_expect_str_eq(maildir_delivery_name(d), "1700000000.M1P2Q3.host:2,FS");
	cr_expect_eq(maildir_delivery_subdir(d), MAILDIR_CUR);
	write_str(d, "x");
	commit(d);
	cr_expect(tm_exists("mail/cur/1700000000.M1P2Q3.host:2,FS"));

	o = plain;
	o.to_cur = 1;
	d = begin(&o);
	rel = xasprintf("mail/cur/%s:2,", maildir_delivery_id(d));
	commit(d);
	cr_expect(tm_exists(rel), "unseen, not new: cur/ with an empty info");
	free(rel);
}

Test(maildir_delivery, the_name_is_known_before_writing)
{
	struct maildir_delivery_opts o = plain;
	char *id = maildir_unique_id(4);
	struct maildir_delivery *d;
	struct error err;

	cr_expect(strstr(id, ",S=4"), "%s", id);
	o.id = id;
	o.flags = MAILDIR_FLAG_SEEN;
	d = begin(&o);
	cr_expect_str_eq(maildir_delivery_id(d), id);
	write_str(d, "abcd");
	commit(d);
	cr_assert_eq(maildir_folder_scan(f, 0, &err), 0);
	cr_expect(maildir_folder_find(f, id, &(size_t){0}));
	free(id);
}

Test(maildir_delivery, abort_leaves_nothing)
{
	struct maildir_delivery *d = begin(&plain);

	write_str(d, "half a mess");
	maildir_delivery_abort(d);
	cr_expect_eq(tm_count("mail/tmp") + tm_count("mail/new") + tm_count("mail/cur"), 0);
	maildir_delivery_abort(NULL);
}

Test(maildir_delivery, never_overwrites_an_existing_file)
{
	struct maildir_delivery_opts o = plain;
	struct maildir_delivery *d;
	struct error err;
	char *body;

	tm_write("mail/cur/taken:2,S", "the original");
	o.id = "taken";
	o.flags = MAILDIR_FLAG_SEEN;
	d = begin(&o); /* not scanned, so begin cannot know yet */
	write_str(d, "an impostor");
	cr_expect_eq(maildir_delivery_commit(d, &err), -1);
	cr_expect_eq(err.scope, ERR_MESSAGE);
	cr_expect(strstr(err.text, "already exists"), "%s", err.text);
	body = tm_read("mail/cur/taken:2,S");
	cr_expect_str_eq(body, "the original");
	free(body);
	cr_expect_eq(tm_count("mail/tmp"), 0);
	/* once scanned, begin refuses the id at once */
	cr_assert_eq(maildir_folder_scan(f, 0, &err), 0);
	cr_expect_eq(maildir_delivery_begin(f, &o, &d, &err), -1);
	cr_expect_null(d);
	cr_expect_eq(err.scope, ERR_MESSAGE);
}

Test(maildir_delivery, refuses_ids_it_must_not_write)
{
	static const char *bad[] = {"", ".hidden", "a/b", "../x", "a:2,S", "a\nb"};
	struct maildir_delivery_opts o = plain;
	struct maildir_delivery *d;
	struct error err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.id = bad[i];
		cr_expect_eq(maildir_delivery_begin(f, &o, &d, &err), -1, "\"%s\"", bad[i]);
		cr_expect_null(d);
	}
	cr_expect_eq(tm_count("mail/tmp"), 0);
}

Test(maildir_delivery, a_promised_size_is_kept)
{
	struct maildir_delivery_opts o = plain;
	struct maildir_delivery *d;
	struct error err;

	o.size = 5;
	d = begin(&o);
	cr_expect(strstr(maildir_delivery_id(d), ",S=5"), "%s", maildir_delivery_id(d));
	write_str(d, "abc");
	cr_expect_eq(maildir_delivery_write(d, "def", 3, &err), -1, "past the promised size");
	cr_expect_eq(err.scope, ERR_MESSAGE);
	cr_expect_eq(maildir_delivery_commit(d, &err), -1);
	cr_expect_eq(tm_count("mail/tmp") + tm_count("mail/new"), 0);

	d = begin(&o);
	write_str(d, "abcd");
	cr_expect_eq(maildir_delivery_commit(d, &err), -1, "short of the promised size");
	cr_expect(strstr(err.text, "4 bytes"), "%s", err.text);
	cr_expect_eq(tm_count("mail/tmp") + tm_count("mail/new"), 0);

	/* an id naming another size than the caller announces */
	o.id = "x,S=9";
	cr_expect_eq(maildir_delivery_begin(f, &o, &d, &err), -1);
	/* an id with a size and no announcement: the id's size is the promise */
	o.id = "y,S=2";
	o.size = MAILDIR_SIZE_UNKNOWN;
	d = begin(&o);
	cr_expect_eq(maildir_delivery_write(d, "abc", 3, &err), -1);
	cr_expect_eq(maildir_delivery_commit(d, &err), -1);
	cr_expect_eq(tm_count("mail/tmp") + tm_count("mail/new"), 0);
}

Test(maildir_delivery, sets_the_internal_date_as_mtime)
{
	struct maildir_delivery_opts o = plain;
	struct maildir_delivery *d;
	struct error err;
	time_t mtime;
	char *id;

	o.has_mtime = 1;
	o.mtime = 1234567890;
	d = begin(&o);
	id = xstrdup(maildir_delivery_id(d));
	write_str(d, "x");
	commit(d);
	cr_assert_eq(maildir_folder_stat(f, id, NULL, &mtime, &err), 0, "%s", err.text);
	cr_expect_eq(mtime, 1234567890);
	free(id);
}

Test(maildir_delivery, streams_a_large_message_in_chunks)
{
	enum { CHUNK = 65536, CHUNKS = 160 };
	struct maildir_delivery_opts o = plain;
	char *chunk = xmalloc(CHUNK);
	struct maildir_delivery *d;
	struct error err;
	uint64_t size;
	char *id;

	memset(chunk, 'm', CHUNK);
	o.size = (uint64_t)CHUNK * CHUNKS;
	o.defer_dir_sync = 1;
	d = begin(&o);
	id = xstrdup(maildir_delivery_id(d));
	for (int i = 0; i < CHUNKS; i++)
		cr_assert_eq(maildir_delivery_write(d, chunk, CHUNK, &err), 0, "%s", err.text);
	commit(d);
	cr_assert_eq(maildir_folder_sync(f, &err), 0, "%s", err.text);
	cr_assert_eq(maildir_folder_stat(f, id, &size, NULL, &err), 0);
	cr_expect_eq(size, (uint64_t)CHUNK * CHUNKS);
	free(chunk);
	free(id);
}

Test(maildir_delivery, a_leftover_of_the_same_id_is_replaced)
{
	struct maildir_delivery_opts o = plain;
	struct maildir_delivery *d;
	char *body;

	tm_write("mail/tmp/retry.M1P1Q1.host", "from the killed attempt, half");
	o.id = "retry.M1P1Q1.host";
	d = begin(&o);
	write_str(d, "complete");
	commit(d);
	body = tm_read("mail/new/retry.M1P1Q1.host");
	cr_expect_str_eq(body, "complete");
	free(body);
	cr_expect_eq(tm_count("mail/tmp"), 0);
}

Test(maildir_delivery, a_kill_midway_leaves_only_a_tmp_leftover)
{
	struct error err;
	size_t removed;
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct maildir_delivery *d;
		if (maildir_delivery_begin(f, &plain, &d, &err) < 0 ||
		    maildir_delivery_write(d, "Subject: cut\n", 13, &err) < 0)
			_exit(2);
		_exit(0); /* killed before commit */
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_expect_eq(tm_count("mail/new") + tm_count("mail/cur"), 0, "no partial message is visible");
	cr_expect_eq(tm_count("mail/tmp"), 1);
	cr_assert_eq(maildir_folder_scan(f, 0, &err), 0);
	cr_expect_eq(maildir_folder_count(f), 0);
	cr_assert_eq(maildir_folder_clean_tmp(f, time(NULL) + MAILDIR_TMP_MAX_AGE + 1, &removed, &err), 0);
	cr_expect_eq(removed, 1);
	cr_expect_eq(tm_count("mail/tmp"), 0);
}

Test(maildir_delivery, refuses_a_folder_removed_meanwhile)
{
	struct maildir_delivery *d = begin(&plain);
	char *cmd = xasprintf("rm -rf '%s/mail/new' '%s/mail/cur'", tm_dir, tm_dir);
	struct error err;

	write_str(d, "x");
	cr_assert_eq(system(cmd), 0);
	cr_expect_eq(maildir_delivery_commit(d, &err), -1, "the message would vanish with the directory");
	cr_expect_eq(err.scope, ERR_MAILBOX);
	cr_expect_eq(tm_count("mail/tmp"), 0);
	cr_expect_eq(maildir_delivery_begin(f, &plain, &d, &err), -1);
	free(cmd);
}

/* A group made durable together (one sync of the file system): every
 * message lands complete in new/, and one that cannot be linked fails
 * alone, naming itself, with nothing overwritten. */
Test(maildir_delivery, a_group_is_made_durable_together_and_fails_one_by_one)
{
	struct maildir_delivery *ds[4];
	int rcs[4];
	struct error errs[4], err;
	char *ids[4];
	char *body;

	tm_write("mail/new/taken", "the original");
	for (size_t i = 0; i < 4; i++) {
		struct maildir_delivery_opts o = plain;
		char *text = xasprintf("Subject: %zu\n\nbody %zu\n", i, i);

		o.id = i == 2 ? "taken" : NULL;
		ds[i] = begin(&o);
		ids[i] = xstrdup(maildir_delivery_id(ds[i]));
		write_str(ds[i], text);
		cr_assert_eq(maildir_delivery_seal(ds[i], &err), 0, "%s", err.text);
		free(text);
	}
	maildir_delivery_persist_group(ds, 4, rcs, errs);
	for (size_t i = 0; i < 4; i++) {
		if (i == 2) {
			cr_expect_eq(rcs[i], -1);
			cr_expect_eq(errs[i].scope, ERR_MESSAGE);
			cr_expect(strstr(errs[i].text, "taken") && strstr(errs[i].text, "already exists"),
			          "%s", errs[i].text);
			maildir_delivery_abort(ds[i]);
			continue;
		}
		cr_assert_eq(rcs[i], 0, "%s", errs[i].text);
		maildir_delivery_finish(ds[i]);
		char *rel = xasprintf("mail/new/%s", ids[i]);
		char *want = xasprintf("Subject: %zu\n\nbody %zu\n", i, i);
		body = tm_read(rel);
		cr_expect_str_eq(body, want);
		free(body);
		free(want);
		free(rel);
	}
	body = tm_read("mail/new/taken");
	cr_expect_str_eq(body, "the original");
	free(body);
	cr_expect_eq(tm_count("mail/tmp"), 0);
	cr_expect_eq(tm_count("mail/new"), 4);
	for (size_t i = 0; i < 4; i++)
		free(ids[i]);
}

/* tm_dir/rel, all of it (binary; caller frees). */
static unsigned char *read_bytes(const char *rel, size_t *len_r)
{
	char *p = tm_path(rel);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	unsigned char *data;
	struct stat st;
	size_t got = 0;

	cr_assert_geq(fd, 0, "cannot open %s", p);
	cr_assert_eq(fstat(fd, &st), 0);
	data = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
		cr_assert_gt(n, 0, "reading %s", p);
		got += (size_t)n;
	}
	close(fd);
	free(p);
	*len_r = got;
	return data;
}

static size_t visible(void)
{
	return tm_count("mail/new") + tm_count("mail/cur");
}

/* A message of several times the 64 KB write buffer, given in turn to
 * write() and, without a copy, through room/advance, in pieces of sizes
 * that are multiples of nothing (and some of exactly the room left, or
 * of whole and almost whole buffers): the file holds exactly the bytes
 * in order, with or without a promised size. */
Test(maildir_delivery, room_and_advance_mix_with_write_byte_for_byte)
{
	enum { LEN = 1500007, BUF = 65536, ALL_ROOM = 0 };
	/* W: write, R: room/advance (a size over the room is cut to it) */
	static const struct {
		char how;
		size_t len;
	} steps[] = {
	    {'W', 5},     {'R', 65537},    {'R', 1000},   {'W', 65536},    {'R', ALL_ROOM},     {'W', 131077},
	    {'R', 31},    {'W', 70001},    {'R', 4099},   {'R', ALL_ROOM}, {'W', BUF - 1},      {'R', 1},
	    {'R', 3},     {'W', 1},        {'W', 131072}, {'R', 65535},    {'W', 2 * BUF + 17}, {'R', 9973},
	    {'W', 12289}, {'R', ALL_ROOM},
	};
	unsigned char *want = xmalloc(LEN);

	test_fill_pattern(want, LEN, 2463534242u);
	for (int announced = 0; announced < 2; announced++) {
		struct maildir_delivery_opts o = plain;
		struct maildir_delivery *d;
		struct maildir_msg m;
		struct error err;
		unsigned char *got;
		size_t pos = 0, len, i, rooms = 0;
		char *id, *rel;

		o.size = announced ? LEN : MAILDIR_SIZE_UNKNOWN;
		d = begin(&o);
		id = xstrdup(maildir_delivery_id(d));
		for (size_t k = 0; pos < LEN; k++) {
			size_t n = steps[k % (sizeof(steps) / sizeof(steps[0]))].len;

			if (n > LEN - pos)
				n = LEN - pos;
			if (steps[k % (sizeof(steps) / sizeof(steps[0]))].how == 'W') {
				cr_assert_eq(maildir_delivery_write(d, want + pos, n, &err), 0,
				             "step %zu: %s", k, err.text);
			} else {
				size_t room;
				unsigned char *out = maildir_delivery_room(d, &room);

				cr_assert_not_null(out, "step %zu", k);
				cr_assert_geq(room, 1, "step %zu", k);
				if (n == ALL_ROOM || n > room)
					n = room < LEN - pos ? room : LEN - pos;
				memcpy(out, want + pos, n);
				cr_assert_eq(maildir_delivery_advance(d, n, &err), 0, "step %zu: %s", k,
				             err.text);
				rooms++;
			}
			pos += n;
		}
		cr_assert_geq(rooms, 15, "the table went round more than once (%zu)", rooms);
		commit(d);
		rel = xasprintf("mail/new/%s", id);
		got = read_bytes(rel, &len);
		cr_assert_eq(len, LEN, "announced %d", announced);
		for (i = 0; i < LEN && got[i] == want[i]; i++)
			;
		cr_assert_eq(i, LEN, "announced %d: the first wrong byte is at %zu", announced, i);
		cr_assert(maildir_folder_find(f, id, &i));
		maildir_folder_msg(f, i, &m);
		cr_expect_eq(m.size, LEN);
		cr_expect_eq(tm_count("mail/tmp"), 0);
		free(got);
		free(rel);
		free(id);
	}
	free(want);
}

/* Advancing past the room a caller was given means it wrote past the
 * buffer: the delivery fails (ERR_MESSAGE), takes no more bytes and
 * publishes nothing, wherever in the buffer it stood. */
Test(maildir_delivery, advance_past_the_room_fails_and_publishes_nothing)
{
	static const size_t before[] = {0, 1000, 65535, 65536 + 7};
	unsigned char *pad = xmalloc(65536 + 7);
	struct maildir_delivery *d;
	struct error err;
	size_t room;

	memset(pad, 'p', 65536 + 7);
	for (size_t k = 0; k < sizeof(before) / sizeof(before[0]); k++) {
		d = begin(&plain);
		cr_assert_eq(maildir_delivery_write(d, pad, before[k], &err), 0, "%s", err.text);
		cr_assert_not_null(maildir_delivery_room(d, &room));
		cr_assert_geq(room, 1, "after %zu bytes", before[k]);
		cr_expect_eq(maildir_delivery_advance(d, room + 1, &err), -1, "after %zu bytes", before[k]);
		cr_expect_eq(err.scope, ERR_MESSAGE);
		cr_expect_null(maildir_delivery_room(d, &room), "no room in a failed delivery");
		cr_expect_eq(room, 0);
		cr_expect_eq(maildir_delivery_advance(d, 1, &err), -1);
		cr_expect_eq(maildir_delivery_write(d, "x", 1, &err), -1);
		cr_expect_eq(maildir_delivery_commit(d, &err), -1, "after %zu bytes", before[k]);
		cr_expect_eq(visible(), 0);
		cr_expect_eq(tm_count("mail/tmp"), 0);
	}
	/* abort instead of commit: the same */
	d = begin(&plain);
	cr_assert_not_null(maildir_delivery_room(d, &room));
	cr_expect_eq(maildir_delivery_advance(d, SIZE_MAX, &err), -1);
	maildir_delivery_abort(d);
	cr_expect_eq(visible() + tm_count("mail/tmp"), 0);
	free(pad);
}

/* room/advance keeps a promised size as write does: one byte more fails
 * at once, however it is split, and nothing is published. */
Test(maildir_delivery, advance_keeps_a_promised_size)
{
	enum { LEN = 70000 };
	struct maildir_delivery_opts o = plain;
	unsigned char *want = xmalloc(LEN + 1), *got;
	struct maildir_delivery *d;
	struct error err;
	size_t room, n, len;
	unsigned char *out;
	char *rel;

	test_fill_pattern(want, LEN + 1, 2463534242u);
	/* 4 written + 7 advanced against a promise of 10 */
	o.size = 10;
	d = begin(&o);
	write_str(d, "abcd");
	out = maildir_delivery_room(d, &room);
	cr_assert_not_null(out);
	cr_assert_geq(room, 7);
	memcpy(out, "efghijk", 7);
	cr_expect_eq(maildir_delivery_advance(d, 7, &err), -1);
	cr_expect_eq(err.scope, ERR_MESSAGE);
	cr_expect(strstr(err.text, "longer than the 10 bytes announced"), "%s", err.text);
	cr_expect_eq(maildir_delivery_commit(d, &err), -1);
	cr_expect_eq(visible() + tm_count("mail/tmp"), 0);

	/* exactly the promise across the buffer's end, then one byte more */
	o.size = LEN;
	d = begin(&o);
	rel = xasprintf("mail/new/%s", maildir_delivery_id(d));
	for (size_t pos = 0; pos < LEN; pos += n) {
		out = maildir_delivery_room(d, &room);
		cr_assert_not_null(out);
		n = room < LEN - pos ? room : LEN - pos;
		memcpy(out, want + pos, n);
		cr_assert_eq(maildir_delivery_advance(d, n, &err), 0, "%s", err.text);
	}
	cr_assert_eq(maildir_delivery_advance(d, 0, &err), 0, "nothing more is not more");
	out = maildir_delivery_room(d, &room);
	cr_assert_not_null(out);
	out[0] = want[LEN];
	cr_expect_eq(maildir_delivery_advance(d, 1, &err), -1, "one byte past the promise");
	cr_expect_eq(err.scope, ERR_MESSAGE);
	cr_expect_eq(maildir_delivery_commit(d, &err), -1);
	cr_expect_eq(visible() + tm_count("mail/tmp"), 0);

	/* and the same without the extra byte commits exactly */
	o.size = LEN;
	d = begin(&o);
	free(rel);
	rel = xasprintf("mail/new/%s", maildir_delivery_id(d));
	for (size_t pos = 0; pos < LEN; pos += n) {
		out = maildir_delivery_room(d, &room);
		n = room < LEN - pos ? room : LEN - pos;
		if (n > 3001)
			n = 3001;
		memcpy(out, want + pos, n);
		cr_assert_eq(maildir_delivery_advance(d, n, &err), 0, "%s", err.text);
	}
	commit(d);
	got = read_bytes(rel, &len);
	cr_assert_eq(len, LEN);
	cr_expect_eq(memcmp(got, want, LEN), 0);
	free(got);
	free(rel);
	free(want);
}

/* A folder whose directory was replaced (renamed away, a new one made at
 * its path) right after its deliveries began: the commit fails, although
 * the last passed check of the folder is only milliseconds old, and no
 * message lands in either directory; later deliveries then fail at their
 * start. The same for a group made durable together. */
Test(maildir_delivery, a_commit_into_a_replaced_folder_fails_at_once)
{
	struct maildir_delivery *d = begin(&plain); /* a passed check: fresh from here on */
	char *from = tm_path("mail"), *to = tm_path("mail.away");
	struct error err;

	/* commit: seal, persist and finish in one */
	write_str(d, "Subject: lost?\n\nbody\n");
	cr_assert_eq(rename(from, to), 0);
	tm_maildir("mail");
	cr_expect_eq(maildir_delivery_commit(d, &err), -1, "the message would be lost");
	cr_expect_eq(err.scope, ERR_MAILBOX);
	cr_expect(strstr(err.text, "removed or replaced"), "%s", err.text);
	cr_expect_eq(visible() + tm_count("mail.away/new") + tm_count("mail.away/cur"), 0);
	cr_expect_eq(tm_count("mail.away/tmp"), 0, "the tmp/ file is removed");
	free(to);

	/* seal, then persist one by one or as a group, each in a folder
	 * handle of its own, checked milliseconds before */
	for (int group = 0; group < 2; group++) {
		struct maildir_delivery *ds[2];
		struct maildir_folder *g;
		struct error errs[2];
		char *rel;
		int rcs[2];

		to = xasprintf("%s/mail.away%d", tm_dir, group);
		cr_assert_eq(maildir_folder_open(md, "INBOX", NULL, &g, &err), 0, "%s", err.text);
		for (int i = 0; i < 2; i++) {
			/* the first begin checks the folder; the second relies on that */
			cr_assert_eq(maildir_delivery_begin(g, &plain, &ds[i], &err), 0, "%s", err.text);
			write_str(ds[i], "Subject: lost?\n\nbody\n");
			cr_assert_eq(maildir_delivery_seal(ds[i], &err), 0, "%s", err.text);
		}
		cr_assert_eq(rename(from, to), 0);
		tm_maildir("mail");

		if (group) {
			maildir_delivery_persist_group(ds, 2, rcs, errs);
		} else {
			for (int i = 0; i < 2; i++)
				rcs[i] = maildir_delivery_persist(ds[i], &errs[i]);
		}
		for (int i = 0; i < 2; i++) {
			cr_expect_eq(rcs[i], -1, "group %d, message %d would be lost", group, i);
			cr_expect_eq(errs[i].scope, ERR_MAILBOX);
			cr_expect(strstr(errs[i].text, "removed or replaced"), "%s", errs[i].text);
			maildir_delivery_abort(ds[i]);
		}
		cr_expect_eq(visible() + tm_count("mail/tmp"), 0);
		rel = xasprintf("mail.away%d", group);
		cr_expect_eq(tm_count(rel), 3, "only tmp/, new/ and cur/");
		free(rel);
		rel = xasprintf("mail.away%d/new", group);
		cr_expect_eq(tm_count(rel), 0);
		free(rel);
		rel = xasprintf("mail.away%d/cur", group);
		cr_expect_eq(tm_count(rel), 0);
		free(rel);
		rel = xasprintf("mail.away%d/tmp", group);
		cr_expect_eq(tm_count(rel), 0, "the tmp/ files are removed");
		free(rel);
		cr_expect_eq(maildir_delivery_begin(g, &plain, &d, &err), -1,
		             "a failed check is not forgotten");
		cr_expect_null(d);
		cr_expect_eq(err.scope, ERR_MAILBOX);
		maildir_folder_close(g);
		free(to);
	}
	free(from);
}

/* A handle that only delivers (a POP3 import) keeps no record per
 * message: its deliveries are on disk, and a later scan finds them. */
Test(maildir_delivery, only_a_scanned_folder_records_its_deliveries)
{
	struct maildir_folder *g;
	struct maildir_delivery *d;
	struct error err;
	char *ids[3];
	size_t i;

	cr_assert_eq(maildir_folder_open(md, "INBOX", NULL, &g, &err), 0, "%s", err.text);
	for (int k = 0; k < 3; k++) {
		cr_assert_eq(maildir_delivery_begin(g, &plain, &d, &err), 0, "%s", err.text);
		ids[k] = xstrdup(maildir_delivery_id(d));
		write_str(d, "Subject: unrecorded\n\nbody\n");
		commit(d);
	}
	cr_expect_eq(maildir_folder_count(g), 0, "nothing recorded before a scan");
	cr_expect_eq(tm_count("mail/new"), 3, "all three delivered");
	cr_assert_eq(maildir_folder_scan(g, 0, &err), 0, "%s", err.text);
	cr_expect_eq(maildir_folder_count(g), 3);
	for (int k = 0; k < 3; k++) {
		cr_expect(maildir_folder_find(g, ids[k], &i), "the scan finds %s", ids[k]);
		free(ids[k]);
	}
	/* Scanned now: the next delivery is recorded at once. */
	cr_assert_eq(maildir_delivery_begin(g, &plain, &d, &err), 0, "%s", err.text);
	ids[0] = xstrdup(maildir_delivery_id(d));
	write_str(d, "Subject: recorded\n\nbody\n");
	commit(d);
	cr_expect_eq(maildir_folder_count(g), 4);
	cr_expect(maildir_folder_find(g, ids[0], &i));
	free(ids[0]);
	maildir_folder_close(g);
}
