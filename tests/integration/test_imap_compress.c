/*
 * COMPRESS=DEFLATE (RFC 4978) against a real Dovecot with its imap_zlib
 * plugin: the session compresses over implicit TLS and over STARTTLS,
 * messages go up and come back byte for byte (the debug log's counts
 * show the wire carried fewer bytes than the protocol), IDLE still
 * wakes, no_compress keeps it off; and `twinbox sync` compresses unless
 * the account says `compress: false`.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/dovecot.h"
#include "support/dovecot_imap.h"
#include "support/log_capture.h"
#include "support/sync_harness.h"
#include "twinbox/imap/commands.h"
#include "twinbox/imap/session.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

/* Dovecot 2.3 offers COMPRESS=DEFLATE with these plugins. */
#define ZLIB_CONF                                                                                            \
	"mail_plugins = $mail_plugins zlib\n"                                                                \
	"protocol imap {\n"                                                                                  \
	"  mail_plugins = $mail_plugins imap_zlib\n"                                                         \
	"}\n"

TestSuite(imap_compress_dovecot, .timeout = 120);

static struct error err;
static struct imap_session *connect_or_fail(const struct imap_session_options *o)
{
	struct imap_session *s = imap_connect(o, &err);

	cr_assert_not_null(s, "connect: %s", err.text);
	return s;
}

/* The counts deflate_close logs: the wire's bytes and the protocol's,
 * each way, summed over the sessions closed since the log was reset. */
struct counts {
	unsigned long long wire_in, plain_in, wire_out, plain_out;
	int sessions;
};

static struct counts logged_counts(void)
{
	struct counts c = {0};
	const char *p = log_capture_text();

	while ((p = strstr(p, "COMPRESS=DEFLATE with ")) != NULL) {
		unsigned long long wi, pi, po, wo;
		const char *q = strstr(p, ": received ");

		cr_assert_not_null(q, "%s", p);
		cr_assert_eq(
		    sscanf(q, ": received %llu bytes for %llu, sent %llu for %llu", &wi, &pi, &wo, &po), 4,
		    "%s", q);
		c.wire_in += wi;
		c.plain_in += pi;
		c.wire_out += wo;
		c.plain_out += po;
		c.sessions++;
		p = q;
	}
	return c;
}

struct collect {
	struct buf body;
	int messages;
};

static int collect_begin(void *ctx, uint32_t uid, uint64_t size, struct error *e)
{
	struct collect *k = ctx;

	(void)uid;
	(void)size;
	(void)e;
	buf_reset(&k->body);
	return 0;
}

static int collect_chunk(void *ctx, const void *data, size_t len, struct error *e)
{
	(void)e;
	buf_append(&((struct collect *)ctx)->body, data, len);
	return 0;
}

static int collect_end(void *ctx, const struct imap_fetch *f, struct error *e)
{
	(void)f;
	(void)e;
	((struct collect *)ctx)->messages++;
	return 0;
}

/* A large message of text lines (compresses well) with an attachment
 * (base64 of pseudo-random bytes, compresses little). */
static char *big_message(size_t *len_r)
{
	struct buf b = BUF_INIT;
	char *attached;
	size_t attached_len;

	buf_append_str(&b, "From: a@twinbox.test\r\nTo: b@twinbox.test\r\nSubject: big and compressed\r\n"
	                   "Message-ID: <compress-big@twinbox.test>\r\nMIME-Version: 1.0\r\n"
	                   "Content-Type: text/plain\r\n\r\n");
	for (unsigned i = 0; b.len < 2 * 1024 * 1024; i++)
		buf_printf(&b, "line %07u: the quick brown fox jumps over the lazy dog\r\n", i);
	attached = test_message(77, 512 * 1024, &attached_len);
	buf_append(&b, attached, attached_len);
	free(attached);
	return buf_detach(&b, len_r);
}

Test(imap_compress_dovecot, messages_go_up_and_come_back_byte_for_byte)
{
	struct dovecot *d = dovecot_start_with(ZLIB_CONF);
	struct imap_session_options o = dovecot_imap_options(d);
	struct imap_append_msg m[4];
	struct collect k = {.body = BUF_INIT};
	struct imap_body_handler h = {
	    .ctx = &k, .begin = collect_begin, .chunk = collect_chunk, .end = collect_end};
	struct dovecot_msg *stored;
	struct imap_session *s;
	struct counts c;
	size_t n;

	log_capture_start(LOG_DEBUG);
	s = connect_or_fail(&o);
	cr_assert(conn_is_compressed(imap_session_conn(s)), "Dovecot offers COMPRESS=DEFLATE after login");
	cr_assert(conn_is_tls(imap_session_conn(s)), "TLS stays under the compression");
	cr_assert(strstr(log_capture_text(), "COMPRESS=DEFLATE on"), "%s", log_capture_text());
	cr_assert_eq(imap_create(s, "Compressed", &err), 0, "%s", err.text);
	memset(m, 0, sizeof(m));
	m[0].data = big_message(&m[0].len);
	for (int i = 1; i < 4; i++)
		m[i].data = test_message(100 + (unsigned)i, i == 3 ? 100000 : 0, &m[i].len);
	cr_assert_eq(imap_append_many(s, "Compressed", m, 4, NULL, &err), 0, "%s", err.text);
	cr_assert_eq(imap_select(s, "Compressed", false, NULL, &err), 0, "%s", err.text);
	stored = dovecot_list(d, "Compressed", true, &n);
	cr_assert_eq(n, 4);
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(stored[i].body_len, m[i].len, "message %zu as Dovecot stored it", i);
		cr_assert_eq(memcmp(stored[i].body, m[i].data, m[i].len), 0, "message %zu went up intact", i);
		cr_assert_eq(imap_fetch_bodies(s, &m[i].uid, 1, &h, NULL, &err), 0, "%s", err.text);
		cr_assert_eq(k.body.len, m[i].len, "message %zu came back whole", i);
		cr_assert_eq(memcmp(k.body.data, m[i].data, m[i].len), 0, "message %zu came back intact", i);
	}
	cr_assert_eq(k.messages, 4);
	imap_session_close(s);
	c = logged_counts();
	cr_assert_eq(c.sessions, 1, "%s", log_capture_text());
	cr_log_info("compressed: received %llu bytes for %llu, sent %llu for %llu", c.wire_in, c.plain_in,
	            c.wire_out, c.plain_out);
	cr_assert_gt(c.plain_out, m[0].len, "the big message went through the compressor");
	cr_assert_lt(c.wire_out * 2, c.plain_out, "uploads shrank: %llu for %llu", c.wire_out, c.plain_out);
	cr_assert_lt(c.wire_in * 2, c.plain_in, "downloads shrank: %llu for %llu", c.wire_in, c.plain_in);
	log_capture_stop();
	for (int i = 0; i < 4; i++)
		free((void *)m[i].data);
	dovecot_msgs_free(stored, n);
	buf_free(&k.body);
	dovecot_stop(d);
}

static uint32_t idle_exists;

static void on_exists(void *ctx, uint32_t count)
{
	(void)ctx;
	idle_exists = count;
}

Test(imap_compress_dovecot, starttls_then_compress_and_idle_wakes)
{
	struct dovecot *d = dovecot_start_with(ZLIB_CONF);
	struct imap_session_options o = dovecot_imap_options(d);
	struct imap_session_handlers h = {.exists = on_exists};
	const char *msg = "Subject: idle\r\n\r\nwake up\r\n";
	struct imap_session *s;
	time_t start;

	o.conn.tls = TLS_STARTTLS;
	o.conn.port = d->imap_port;
	dovecot_append(d, "INBOX", msg, strlen(msg), NULL);
	s = connect_or_fail(&o);
	cr_assert(conn_is_compressed(imap_session_conn(s)));
	cr_assert(conn_is_tls(imap_session_conn(s)));
	cr_assert_eq(imap_select(s, "INBOX", false, NULL, &err), 0, "%s", err.text);
	cr_assert_eq(imap_selected(s)->exists, 1);
	imap_session_set_handlers(s, &h);
	cr_assert_eq(imap_idle_start(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_idle_wait(s, 200, &err), 0, "no news yet: %s", err.text);
	dovecot_append(d, "INBOX", msg, strlen(msg), NULL);
	start = time(NULL);
	while (idle_exists != 2 && time(NULL) - start < 10)
		cr_assert_geq(imap_idle_wait(s, 1000, &err), 0, "%s", err.text);
	cr_assert_eq(idle_exists, 2, "IDLE saw the new message through the decompressor");
	cr_assert_eq(imap_idle_done(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	imap_session_close(s);
	dovecot_stop(d);
}

Test(imap_compress_dovecot, off_when_turned_off_or_not_offered)
{
	struct dovecot *d = dovecot_start_with(ZLIB_CONF);
	struct imap_session_options o = dovecot_imap_options(d);
	struct imap_session *s;

	o.no_compress = true;
	s = connect_or_fail(&o);
	cr_assert(imap_has_cap(s, "COMPRESS=DEFLATE"), "offered: %s", imap_capabilities(s));
	cr_assert_not(conn_is_compressed(imap_session_conn(s)), "no_compress keeps it off");
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	imap_session_close(s);
	dovecot_stop(d);

	o = dovecot_imap_options(dovecot_shared());
	s = connect_or_fail(&o);
	cr_assert_not(imap_has_cap(s, "COMPRESS=DEFLATE"), "the shared fixture has no imap_zlib");
	cr_assert_not(conn_is_compressed(imap_session_conn(s)));
	imap_session_close(s);
}

/* ---- twinbox sync ---------------------------------------------------- */

TestSuite(sync_compress, .init = NULL, .fini = sync_harness_teardown, .timeout = 180);

/* The harness's config with `compress: false` in the account's imap:. */
static void write_config_compress_off(void)
{
	struct error e;
	char *text;
	size_t len;

	write_config(NULL);
	cr_assert_eq(fs_read_file(sh.cfg, 1 << 20, &text, &len, &e), 0, "%s", e.text);
	{
		char *at = strstr(text, "      timeout: 20s\n");
		char *edited;

		cr_assert_not_null(at, "%s", text);
		at += strlen("      timeout: 20s\n");
		edited = xasprintf("%.*s      compress: false\n%s", (int)(at - text), text, at);
		cr_assert_eq(fs_write_atomic(sh.cfg, edited, strlen(edited), 0600, &e), 0, "%s", e.text);
		free(edited);
	}
	free(text);
}

Test(sync_compress, sync_compresses_unless_the_account_says_not)
{
	char *text;
	size_t len;

	sync_harness_setup_with(ZLIB_CONF);
	dovecot_seed(sh.d, "INBOX", 30, 500, 200000);
	dovecot_seed(sh.d, "Archive", 10, 600, 0);
	cr_assert_eq(sync_run_args("-v"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert(strstr(sh.r.err, "COMPRESS=DEFLATE on"), "-v says compression is on: %s", sh.r.err);
	assert_twins("INBOX", 30);
	assert_twins("Archive", 10);

	write_config_compress_off();
	text = test_message(700, 0, &len);
	dovecot_append(sh.d, "INBOX", text, len, NULL);
	free(text);
	cr_assert_eq(sync_run_args("-v"), 0, "stdout: %s\nstderr: %s", sh.r.out, sh.r.err);
	cr_assert_null(strstr(sh.r.err, "COMPRESS=DEFLATE"), "compress: false keeps it off: %s", sh.r.err);
	assert_twins("INBOX", 31);
}
