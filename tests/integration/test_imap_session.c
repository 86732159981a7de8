/*
 * The IMAP session against the fixture Dovecot: every way of logging in,
 * folder commands, a 20 MB message there and back with flat memory,
 * flags, expunge, COPYUID/APPENDUID, IDLE, and 1000 pipelined fetches.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

TestSuite(imap_dovecot, .timeout = 120);

static struct imap_session *s;
static struct error err;

static struct imap_session_options opts_for(struct dovecot *d, enum tls_mode tls)
{
	struct imap_session_options o = {
	    .conn.host = "127.0.0.1",
	    .conn.port = tls == TLS_IMPLICIT ? d->imaps_port : d->imap_port,
	    .conn.tls = tls,
	    .conn.ca_file = tls == TLS_NONE ? NULL : d->ca_file,
	    .conn.timeouts = {.connect_ms = 5000, .io_ms = 10000},
	    .user = d->user,
	    .password = d->password,
	};
	return o;
}

static struct imap_session *connect_or_fail(const struct imap_session_options *o)
{
	struct imap_session *x = imap_connect(o, &err);

	cr_assert_not_null(x, "connect: %s", err.text);
	return x;
}

static void logs_in(enum tls_mode tls, enum imap_mech mech, bool no_sasl_ir)
{
	struct dovecot *d = dovecot_shared();
	struct imap_session_options o = opts_for(d, tls);

	if (mech) {
		o.mechs[0] = mech;
		o.mech_count = 1;
	}
	o.no_sasl_ir = no_sasl_ir;
	s = connect_or_fail(&o);
	cr_assert_eq(imap_session_state(s), IMAP_STATE_AUTHENTICATED);
	cr_assert(conn_is_tls(imap_session_conn(s)) == (tls != TLS_NONE));
	cr_assert(imap_has_cap(s, "IMAP4rev1"));
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	imap_session_close(s);
}

Test(imap_dovecot, login_plain_sasl_ir_implicit_tls)
{
	logs_in(TLS_IMPLICIT, 0, false);
}

Test(imap_dovecot, login_plain_without_sasl_ir_starttls)
{
	logs_in(TLS_STARTTLS, IMAP_MECH_PLAIN, true);
}

Test(imap_dovecot, login_command_implicit_and_starttls)
{
	logs_in(TLS_IMPLICIT, IMAP_MECH_LOGIN_CMD, false);
	logs_in(TLS_STARTTLS, IMAP_MECH_LOGIN_CMD, false);
}

Test(imap_dovecot, authenticate_login_mechanism)
{
	logs_in(TLS_IMPLICIT, IMAP_MECH_LOGIN, false);
	logs_in(TLS_STARTTLS, IMAP_MECH_LOGIN, false);
}

Test(imap_dovecot, login_in_plain_text_when_configured)
{
	logs_in(TLS_NONE, 0, false);
}

Test(imap_dovecot, wrong_password_is_a_clear_error)
{
	struct dovecot *d = dovecot_shared();
	struct imap_session_options o = opts_for(d, TLS_IMPLICIT);

	o.password = "not-the-password";
	s = imap_connect(&o, &err);
	cr_assert_null(s);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "refused the user name or password for \"tbuser\""), "%s", err.text);
	cr_assert(strstr(err.text, "AUTHENTICATIONFAILED"), "%s", err.text);
	cr_assert_null(strstr(err.text, "not-the-password"), "%s", err.text);
}

Test(imap_dovecot, folders_create_list_rename_delete_select)
{
	struct dovecot *d = dovecot_shared();
	struct imap_session_options o = opts_for(d, TLS_IMPLICIT);
	struct imap_folder *f;
	size_t n;
	bool seen_child = false;
	char **boxes;

	s = connect_or_fail(&o);
	cr_assert_eq(imap_create(s, "SessFolders/Entw\xc3\xbcrfe", &err), 0, "%s", err.text);
	cr_assert_eq(imap_create(s, "SessFolders/Old", &err), 0, "%s", err.text);
	cr_assert_eq(imap_rename(s, "SessFolders/Old", "SessFolders/New", &err), 0, "%s", err.text);
	cr_assert_eq(imap_subscribe(s, "SessFolders/New", true, &err), 0, "%s", err.text);
	cr_assert_eq(imap_list(s, "SessFolders*", IMAP_LIST_STATUS, &f, &n, &err), 0, "%s", err.text);
	for (size_t i = 0; i < n; i++) {
		if (f[i].name && strcmp(f[i].name, "SessFolders/Entw\xc3\xbcrfe") == 0) {
			seen_child = true;
			cr_assert_eq(f[i].delimiter, '/');
			cr_assert(f[i].status.have & IMAP_STATUS_MESSAGES);
			cr_assert_eq(f[i].status.messages, 0);
		}
	}
	cr_assert(seen_child, "created folder not listed");
	imap_folders_free(f, n);
	boxes = dovecot_mailboxes(d);
	bool found = false;
	for (size_t i = 0; boxes[i]; i++)
		found = found || strcmp(boxes[i], "SessFolders/Entw\xc3\xbcrfe") == 0;
	dovecot_strv_free(boxes);
	cr_assert(found, "the UTF-8 name did not arrive as such on the server");
	cr_assert_eq(imap_select(s, "SessFolders/New", false, NULL, &err), 0, "%s", err.text);
	cr_assert_eq(imap_session_state(s), IMAP_STATE_SELECTED);
	cr_assert_neq(imap_selected(s)->uidvalidity, 0);
	cr_assert_neq(imap_selected(s)->highestmodseq, 0, "CONDSTORE/QRESYNC should be on with Dovecot");
	cr_assert_eq(imap_unselect(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_delete(s, "SessFolders/New", &err), 0, "%s", err.text);
	cr_assert_eq(imap_select(s, "SessFolders/Nope", false, NULL, &err), -1);
	cr_assert_eq(err.scope, ERR_MAILBOX);
	cr_assert(strstr(err.text, "SELECT \"SessFolders/Nope\" failed: NO"), "%s", err.text);
	imap_session_close(s);
}

/* ---- 20 MB there and back ------------------------------------------ */

static long vm_hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kb = -1;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

#define BIG_SIZE (20u * 1024 * 1024)

/* A 20 MB message with CRLF lines, written in pieces (never whole in
 * memory). */
static void write_big_message(int fd)
{
	char line[80];
	size_t written = 0;
	unsigned i = 0;
	const char *head = "From: a@twinbox.test\r\nTo: b@twinbox.test\r\nSubject: big\r\n"
	                   "Message-ID: <big@twinbox.test>\r\n\r\n";

	cr_assert_eq(write(fd, head, strlen(head)), (ssize_t)strlen(head));
	written = strlen(head);
	while (written < BIG_SIZE) {
		int len =
		    snprintf(line, sizeof(line), "line %08u abcdefghijklmnopqrstuvwxyz0123456789\r\n", i++);
		if (written + (size_t)len > BIG_SIZE)
			len = (int)(BIG_SIZE - written);
		if (len >= 2) {
			line[len - 2] = '\r';
			line[len - 1] = '\n';
		} else {
			line[0] = '\n';
		}
		cr_assert_eq(write(fd, line, (size_t)len), len);
		written += (size_t)len;
	}
}

static int fd_read(void *ctx, void *data, size_t len, size_t *got_r, struct error *e)
{
	ssize_t n = read(*(int *)ctx, data, len);

	if (n < 0)
		return error_set(e, ERR_MESSAGE, "read failed");
	*got_r = (size_t)n;
	return 0;
}

struct sink {
	int fd;
	uint64_t size;
	int messages;
};

static int sink_begin(void *ctx, uint32_t uid, uint64_t size, struct error *e)
{
	struct sink *k = ctx;

	(void)uid;
	(void)e;
	k->size = size;
	return 0;
}

static int sink_chunk(void *ctx, const void *data, size_t len, struct error *e)
{
	struct sink *k = ctx;

	if (write(k->fd, data, len) != (ssize_t)len)
		return error_set(e, ERR_FATAL, "write failed");
	return 0;
}

static int sink_end(void *ctx, const struct imap_fetch *f, struct error *e)
{
	struct sink *k = ctx;

	(void)f;
	(void)e;
	k->messages++;
	return 0;
}

static bool same_files(int a, int b)
{
	static char x[65536], y[65536];
	ssize_t n, m;

	lseek(a, 0, SEEK_SET);
	lseek(b, 0, SEEK_SET);
	do {
		n = read(a, x, sizeof(x));
		m = n > 0 ? read(b, y, (size_t)n) : read(b, y, 1);
		if (n != m || (n > 0 && memcmp(x, y, (size_t)n) != 0))
			return false;
	} while (n > 0);
	return true;
}

Test(imap_dovecot, append_and_fetch_20_mb_with_flat_memory)
{
	struct dovecot *d = dovecot_shared();
	struct imap_session_options o = opts_for(d, TLS_IMPLICIT);
	char in_path[] = "/tmp/twinbox-big-in-XXXXXX", out_path[] = "/tmp/twinbox-big-out-XXXXXX";
	int in = mkstemp(in_path), out = mkstemp(out_path);
	struct imap_literal_source src = {.size = BIG_SIZE, .read = fd_read, .ctx = &in};
	struct imap_append_msg m = {.source = &src, .flags = "\\Seen"};
	struct sink k = {.fd = out};
	struct imap_body_handler h = {.ctx = &k, .begin = sink_begin, .chunk = sink_chunk, .end = sink_end};
	long before, after;

	cr_assert(in >= 0 && out >= 0);
	unlink(in_path);
	unlink(out_path);
	write_big_message(in);
	lseek(in, 0, SEEK_SET);
	s = connect_or_fail(&o);
	cr_assert_eq(imap_create(s, "SessBig", &err), 0, "%s", err.text);
	before = vm_hwm_kb();
	cr_assert_eq(imap_append(s, "SessBig", &m, &err), 0, "%s", err.text);
	cr_assert_neq(m.uid, 0, "APPENDUID expected from Dovecot");
	cr_assert_eq(imap_select(s, "SessBig", false, NULL, &err), 0, "%s", err.text);
	cr_assert_eq(imap_fetch_bodies(s, &m.uid, 1, &h, NULL, &err), 0, "%s", err.text);
	after = vm_hwm_kb();
	cr_assert_eq(k.messages, 1);
	cr_assert_eq(k.size, BIG_SIZE);
	cr_assert(same_files(in, out), "the fetched message differs from the appended one");
	cr_log_info("20 MB append+fetch: peak RSS grew by %ld kB", after - before);
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's quarantine keeps every freed buffer (GnuTLS records...)
	 * resident for a while, so peak RSS measures the sanitizer there. */
	(void)before;
#else
	cr_assert_lt(after - before, 8 * 1024, "peak RSS grew by %ld kB", after - before);
#endif
	close(in);
	close(out);
	imap_session_close(s);
}

/* ---- flags, expunge, copy/move, append many ----------------------- */

static void select_seeded(struct dovecot *d, const char *box, unsigned count)
{
	struct imap_session_options o = opts_for(d, TLS_IMPLICIT);

	dovecot_seed(d, box, count, 100, 0);
	s = connect_or_fail(&o);
	cr_assert_eq(imap_select(s, box, false, NULL, &err), 0, "%s", err.text);
	cr_assert_eq(imap_selected(s)->exists, count);
}

static struct imap_uidset one(uint32_t uid)
{
	struct imap_uidset set = IMAP_UIDSET_INIT;

	imap_uidset_add(&set, uid);
	return set;
}

Test(imap_dovecot, store_flags_and_unchangedsince)
{
	struct dovecot *d = dovecot_shared();
	struct imap_uidset set = IMAP_UIDSET_INIT, modified = IMAP_UIDSET_INIT;
	struct imap_msg_info *mi;
	struct dovecot_msg *msgs;
	size_t n;

	select_seeded(d, "SessFlags", 5);
	imap_uidset_add(&set, 2);
	imap_uidset_add(&set, 4);
	cr_assert_eq(imap_store(s, &set, IMAP_STORE_ADD, "\\Flagged $Work", 0, NULL, &err), 0, "%s",
	             err.text);
	cr_assert_eq(imap_fetch_info(s, 1, 0, IMAP_FETCH_MODSEQ, 0, &mi, &n, &err), 0, "%s", err.text);
	cr_assert_eq(n, 5);
	cr_assert_eq(mi[1].flags & ~(unsigned)IMAP_FLAG_RECENT, MAIL_FLAG_FLAGGED);
	cr_assert_str_eq(mi[1].keywords, "$Work");
	/* a store conditional on an old modseq is refused for that UID */
	struct imap_uidset u1 = one(2);
	cr_assert_eq(imap_store(s, &u1, IMAP_STORE_ADD, "\\Seen", mi[1].modseq - 1, &modified, &err), 0, "%s",
	             err.text);
	cr_assert(imap_uidset_contains(&modified, 2), "MODIFIED should name UID 2");
	imap_msg_info_free(mi, n);
	msgs = dovecot_list(d, "SessFlags", false, &n);
	cr_assert_eq(n, 5);
	cr_assert(dovecot_msg_has_flag(&msgs[1], "\\Flagged"));
	cr_assert(dovecot_msg_has_flag(&msgs[3], "$Work"));
	cr_assert(!dovecot_msg_has_flag(&msgs[1], "\\Seen"));
	cr_assert(!dovecot_msg_has_flag(&msgs[0], "\\Flagged"));
	dovecot_msgs_free(msgs, n);
	imap_uidset_free(&set);
	imap_uidset_free(&u1);
	imap_uidset_free(&modified);
	imap_session_close(s);
}

Test(imap_dovecot, uid_expunge_removes_only_the_marked_uids)
{
	struct dovecot *d = dovecot_shared();
	struct imap_uidset both = IMAP_UIDSET_INIT, ours = one(2);
	struct dovecot_msg *msgs;
	size_t n;

	select_seeded(d, "SessExpunge", 5);
	imap_uidset_add(&both, 2);
	imap_uidset_add(&both, 3);
	cr_assert_eq(imap_store(s, &both, IMAP_STORE_ADD, "\\Deleted", 0, NULL, &err), 0, "%s", err.text);
	cr_assert_eq(imap_expunge_uids(s, &ours, &err), 0, "%s", err.text);
	cr_assert_eq(imap_selected(s)->exists, 4);
	/* the STORE's FETCH responses taught the map UIDs 2 and 3 */
	cr_assert_eq(imap_seq_to_uid(s, 2), 3);
	msgs = dovecot_list(d, "SessExpunge", false, &n);
	cr_assert_eq(n, 4);
	cr_assert_eq(msgs[1].uid, 3);
	cr_assert(dovecot_msg_has_flag(&msgs[1], "\\Deleted"), "UID 3 must stay, still marked");
	dovecot_msgs_free(msgs, n);
	imap_uidset_free(&both);
	imap_uidset_free(&ours);
	imap_session_close(s);
}

Test(imap_dovecot, copy_move_and_append_many_report_uids)
{
	struct dovecot *d = dovecot_shared();
	struct imap_uidset set = IMAP_UIDSET_INIT;
	struct imap_copy_result r;
	struct imap_append_msg m[5];
	struct imap_pipeline p = {.window = 3, .per_command = 2};
	size_t n;

	select_seeded(d, "SessCopy", 3);
	cr_assert_eq(imap_create(s, "SessCopy/Dest", &err), 0, "%s", err.text);
	imap_uidset_add_range(&set, 1, 2);
	cr_assert_eq(imap_copy(s, &set, "SessCopy/Dest", false, &r, &err), 0, "%s", err.text);
	cr_assert(r.have);
	cr_assert_eq(imap_uidset_size(&r.dst), 2);
	imap_copy_result_free(&r);
	cr_assert_eq(imap_copy(s, &set, "SessCopy/Dest", true, &r, &err), 0, "%s", err.text);
	cr_assert(r.have, "UID MOVE should report COPYUID");
	cr_assert_eq(imap_uidset_nth(&r.dst, 0), 3);
	cr_assert_eq(imap_selected(s)->exists, 1);
	imap_copy_result_free(&r);
	for (int i = 0; i < 5; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].data = xasprintf("Subject: m%d\r\n\r\nbody %d\r\n", i, i);
		m[i].len = strlen(m[i].data);
		m[i].flags = i % 2 ? "\\Seen" : NULL;
	}
	cr_assert_eq(imap_append_many(s, "SessCopy/Dest", m, 5, &p, &err), 0, "%s", err.text);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(m[i].uid, 5 + (uint32_t)i, "message %d got UID %u", i, m[i].uid);
		free((void *)m[i].data);
	}
	struct dovecot_msg *msgs = dovecot_list(d, "SessCopy/Dest", false, &n);
	cr_assert_eq(n, 9);
	cr_assert(dovecot_msg_has_flag(&msgs[5], "\\Seen"));
	dovecot_msgs_free(msgs, n);
	imap_uidset_free(&set);
	imap_session_close(s);
}

static uint32_t idle_exists;

static void on_exists(void *ctx, uint32_t count)
{
	(void)ctx;
	idle_exists = count;
}

Test(imap_dovecot, idle_sees_a_new_message)
{
	struct dovecot *d = dovecot_shared();
	struct imap_session_handlers h = {.exists = on_exists};
	const char *msg = "Subject: idle\r\n\r\nhi\r\n";
	time_t start;

	select_seeded(d, "SessIdle", 1);
	imap_session_set_handlers(s, &h);
	cr_assert_eq(imap_idle_start(s, &err), 0, "%s", err.text);
	dovecot_append(d, "SessIdle", msg, strlen(msg), NULL);
	start = time(NULL);
	while (idle_exists != 2 && time(NULL) - start < 10)
		cr_assert_geq(imap_idle_wait(s, 1000, &err), 0, "%s", err.text);
	cr_assert_eq(idle_exists, 2);
	cr_assert_eq(imap_idle_done(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	imap_session_close(s);
}

/* ---- 1000 pipelined fetches ---------------------------------------- */

Test(imap_dovecot, thousand_pipelined_fetches)
{
	struct dovecot *d = dovecot_shared();
	struct imap_msg_info *mi;
	size_t n;
	uint32_t *uids;
	struct sink k = {.fd = -1};
	struct imap_body_handler h = {.ctx = &k, .begin = sink_begin, .end = sink_end};
	struct imap_pipeline p = {.window = 100, .per_command = 1};
	struct timespec t0, t1;
	double ms;

	select_seeded(d, "SessThousand", 1000);
	cr_assert_eq(imap_fetch_info(s, 1, 0, IMAP_FETCH_SIZE, 0, &mi, &n, &err), 0, "%s", err.text);
	cr_assert_eq(n, 1000);
	uids = xcalloc(n, sizeof(*uids));
	for (size_t i = 0; i < n; i++)
		uids[i] = mi[i].uid;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(imap_fetch_bodies(s, uids, n, &h, &p, &err), 0, "%s", err.text);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	cr_assert_eq(k.messages, 1000);
	cr_assert_eq(k.size, mi[999].size);
	cr_log_info("1000 UID FETCH commands, 100 in flight: %.1f ms", ms);
	fprintf(stderr, "imap_dovecot: 1000 pipelined UID FETCH commands (window 100) took %.1f ms\n", ms);
	free(uids);
	imap_msg_info_free(mi, n);
	imap_session_close(s);
}
