/*
 * COMPRESS=DEFLATE (RFC 4978) in the IMAP session over a scripted server
 * that compresses with zlib streams of its own: sent right after login
 * when offered, the switch at the OK's line end, a server that refuses,
 * `compress: false`, IDLE and the trace over compression, a corrupt
 * stream.
 */
#include "support/log_capture.h"
#include "test_deflate_support.h"
#include "test_imap_session_support.h"

#include "twinbox/util/buf.h"

static struct zpeer server, mirror; /* the server's streams; the client's, mirrored */

static void setup(void)
{
	zpeer_init(&server);
	zpeer_init(&mirror);
}

static void teardown(void)
{
	log_capture_stop();
	stop_session();
	zpeer_end(&server);
	zpeer_end(&mirror);
}

TestSuite(imap_compress, .init = setup, .fini = teardown);

#define COMPRESS_CAPS BASIC_CAPS " COMPRESS=DEFLATE"

/* The server sends `text` compressed (one flushed write). */
static void zsend(const char *text)
{
	struct buf z = BUF_INIT;

	zpeer_deflate(&server, text, strlen(text), &z);
	script_send_bytes(sc, z.data, z.len);
	buf_free(&z);
}

/* The client must write `text` as one compressed write. */
static void zexpect(const char *text)
{
	struct buf z = BUF_INIT;

	zpeer_deflate(&mirror, text, strlen(text), &z);
	script_expect_bytes(sc, z.data, z.len);
	buf_free(&z);
}

/* Greeting and login (A1) as login_with_caps() has them, with
 * COMPRESS=DEFLATE offered. */
static void greet_offering_compress(const struct imap_session_options *o)
{
	start_session(o);
	script_send(sc, "* OK [CAPABILITY " COMPRESS_CAPS "] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "A1 OK [CAPABILITY " COMPRESS_CAPS "] Logged in\r\n");
}

/* Then COMPRESS (A2) accepted: the OK's line and the first compressed
 * response arrive in one read, as a server that answers at once sends
 * them. */
static void open_compressed(const struct imap_session_options *o)
{
	struct buf z = BUF_INIT;

	greet_offering_compress(o);
	script_expect(sc, "A2 COMPRESS DEFLATE\r\n");
	buf_append_str(&z, "A2 OK DEFLATE active\r\n");
	zpeer_deflate(&server, "* 7 EXISTS\r\n", 12, &z);
	script_send_bytes(sc, z.data, z.len);
	buf_free(&z);
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	cr_assert(conn_is_compressed(imap_session_conn(s)));
}

/* Open the session as scripted so far, then a NOOP (`tag`) in clear. */
static void open_then_noop_uncompressed(const char *tag)
{
	script_expectf(sc, "%s NOOP\r\n", tag);
	script_sendf(sc, "%s OK done\r\n", tag);
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	cr_assert_not(conn_is_compressed(imap_session_conn(s)));
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	assert_played();
}

Test(imap_compress, on_right_after_login_when_offered)
{
	struct imap_session_options o = test_options();

	open_compressed(&o);
	zexpect("A3 NOOP\r\n");
	zsend("* 8 EXISTS\r\nA3 OK NOOP completed\r\n");
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	cr_assert_eq(imap_session_state(s), IMAP_STATE_AUTHENTICATED);
	assert_played();
}

Test(imap_compress, trace_shows_the_protocol_not_the_compressed_bytes)
{
	struct imap_session_options o = test_options();
	const char *t;

	log_capture_start(LOG_TRACE);
	open_compressed(&o);
	zexpect("A3 NOOP\r\n");
	zsend("A3 OK NOOP completed\r\n");
	cr_assert_eq(imap_noop(s, &err), 0, "%s", err.text);
	t = log_capture_text();
	cr_assert(strstr(t, "C: A2 COMPRESS DEFLATE\n"), "%s", t);
	cr_assert(strstr(t, "mail.test:143: COMPRESS=DEFLATE on\n"), "the debug log says so: %s", t);
	cr_assert(strstr(t, "S: * 7 EXISTS\n"), "%s", t);
	cr_assert(strstr(t, "C: A3 NOOP\n"), "%s", t);
	cr_assert(strstr(t, "S: A3 OK NOOP completed\n"), "%s", t);
	assert_played();
}

Test(imap_compress, refused_goes_on_uncompressed)
{
	struct imap_session_options o = test_options();
	static const char *const answers[] = {"A2 NO [CANNOT] not now\r\n", "A2 BAD unknown command\r\n"};

	for (int i = 0; i < 2; i++) {
		stop_session();
		greet_offering_compress(&o);
		script_expect(sc, "A2 COMPRESS DEFLATE\r\n");
		script_send(sc, answers[i]);
		open_then_noop_uncompressed("A3");
	}
}

Test(imap_compress, off_when_the_config_says_so)
{
	struct imap_session_options o = test_options();

	o.no_compress = true;
	greet_offering_compress(&o);
	open_then_noop_uncompressed("A2");
}

/* Before ENABLE, ID and NAMESPACE, which then go out compressed in one
 * write. */
Test(imap_compress, comes_before_what_follows_the_login)
{
	struct imap_session_options o = test_options();

	start_session(&o);
	script_send(sc, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n");
	script_expect(sc, "A1 AUTHENTICATE PLAIN " PLAIN_IR "\r\n");
	script_send(sc, "A1 OK Logged in\r\n");
	script_expect(sc, "A2 CAPABILITY\r\n");
	script_send(sc, "* CAPABILITY IMAP4rev1 ENABLE QRESYNC NAMESPACE COMPRESS=DEFLATE\r\nA2 OK done\r\n");
	script_expect(sc, "A3 COMPRESS DEFLATE\r\n");
	script_send(sc, "A3 OK DEFLATE active\r\n");
	zexpect("A4 ENABLE QRESYNC\r\nA5 NAMESPACE\r\n");
	zsend("* ENABLED QRESYNC\r\nA4 OK enabled\r\n* NAMESPACE ((\"\" \"/\")) NIL NIL\r\nA5 OK done\r\n");
	cr_assert_eq(imap_session_open(s, &err), 0, "%s", err.text);
	cr_assert(conn_is_compressed(imap_session_conn(s)));
	cr_assert(imap_session_enabled(s) & IMAP_ENABLED_QRESYNC);
	cr_assert_eq(imap_delimiter(s), '/');
	assert_played();
}

/* IDLE waits on the connection: a response that arrives compressed, one
 * byte at a time behind an empty flush block, wakes it; the rest of a
 * flush (its empty block) is no news. */
Test(imap_compress, idle_sees_news_byte_by_byte)
{
	struct imap_session_options o = test_options();

	open_compressed(&o);
	zexpect("A3 IDLE\r\n");
	zsend("+ idling\r\n");
	script_send_bytes(sc, "\x00\x00\x00\xff\xff", 5);
	zsend("* 9 EXISTS\r\n");
	cr_assert_eq(imap_idle_start(s, &err), 0, "%s", err.text);
	script_set_chunk(sc, 1);
	cr_assert_eq(imap_idle_wait(s, 1000, &err), 1, "%s", err.text);
	cr_assert_eq(imap_selected(s)->exists, 9);
	zexpect("DONE\r\n");
	zsend("A3 OK IDLE terminated\r\n");
	cr_assert_eq(imap_idle_wait(s, 0, &err), 0, "the end of a flush is no news: %s", err.text);
	script_set_chunk(sc, 0);
	cr_assert_eq(imap_idle_done(s, &err), 0, "%s", err.text);
	assert_played();
}

Test(imap_compress, corrupt_stream_ends_the_session_naming_the_server)
{
	struct imap_session_options o = test_options();

	open_compressed(&o);
	zexpect("A3 NOOP\r\n");
	script_send_bytes(sc, "\x07garbage", 8);
	cr_assert_eq(imap_noop(s, &err), -1);
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "mail.test:143 sent a corrupt compressed stream"), "%s", err.text);
	cr_assert_eq(imap_session_state(s), IMAP_STATE_LOGOUT);
}
