/*
 * The POP3 client against the fixture Dovecot, over implicit TLS (pop3s)
 * and plain POP3 + STLS: logging in, wrong passwords, STAT/LIST/UIDL of
 * seeded messages, RETR byte-identical to what the server stores, TOP,
 * and deletion only at a successful QUIT.
 *
 * POP3 always opens INBOX, which other tests may use too: every test
 * here starts its own Dovecot.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "support/dovecot.h"
#include "twinbox/pop3/client.h"
#include "twinbox/util/buf.h"

TestSuite(pop3_dovecot, .timeout = 120);

static struct dovecot *d;
static struct error err;

static struct pop3_options opts_for(enum tls_mode tls, enum pop3_mech mech)
{
	struct pop3_options o = {
	    .conn.host = "127.0.0.1",
	    .conn.port = tls == TLS_IMPLICIT ? d->pop3s_port : d->pop3_port,
	    .conn.tls = tls,
	    .conn.ca_file = tls == TLS_NONE ? NULL : d->ca_file,
	    .conn.timeouts = {.connect_ms = 5000, .io_ms = 10000},
	    .user = d->user,
	    .password = d->password,
	};

	if (mech) {
		o.mechs[0] = mech;
		o.mech_count = 1;
	}
	return o;
}

static struct pop3_client *connect_or_fail(enum tls_mode tls, enum pop3_mech mech)
{
	struct pop3_options o = opts_for(tls, mech);
	struct pop3_client *p = pop3_connect(&o, &err);

	cr_assert_not_null(p, "connect: %s", err.text);
	cr_assert_eq(pop3_client_state(p), POP3_STATE_TRANSACTION);
	cr_assert(conn_is_tls(pop3_client_conn(p)) == (tls != TLS_NONE));
	return p;
}

static void start(unsigned seeded, size_t attach_size)
{
	d = dovecot_start();
	if (seeded)
		dovecot_seed(d, "INBOX", seeded, 4200, attach_size);
}

static void stop(void)
{
	dovecot_stop(d);
	d = NULL;
}

/* A sink that keeps one message. */
struct kept {
	struct buf content;
	unsigned ends;
};

static int kept_chunk(void *ctx, const void *data, size_t len, struct error *e)
{
	struct kept *k = ctx;

	(void)e;
	buf_append(&k->content, data, len);
	return 0;
}

static int kept_end(void *ctx, uint32_t msgno, struct error *e)
{
	struct kept *k = ctx;

	(void)msgno, (void)e;
	k->ends++;
	return 0;
}

static void logs_in(enum tls_mode tls, enum pop3_mech mech)
{
	struct pop3_client *p;
	uint32_t count;
	uint64_t size;

	start(3, 0);
	p = connect_or_fail(tls, mech);
	cr_assert(pop3_has_capa(p, "UIDL"), "%s", pop3_capabilities(p));
	cr_assert_eq(pop3_stat(p, &count, &size, &err), 0, "%s", err.text);
	cr_assert_eq(count, 3);
	cr_assert_eq(pop3_quit(p, &err), 0, "%s", err.text);
	pop3_close(p);
	stop();
}

Test(pop3_dovecot, login_user_pass_over_implicit_tls)
{
	logs_in(TLS_IMPLICIT, POP3_MECH_USER);
}

Test(pop3_dovecot, login_auth_plain_over_stls)
{
	logs_in(TLS_STARTTLS, POP3_MECH_PLAIN);
}

Test(pop3_dovecot, login_default_and_auth_login)
{
	logs_in(TLS_IMPLICIT, 0);
	logs_in(TLS_STARTTLS, POP3_MECH_LOGIN);
}

Test(pop3_dovecot, wrong_password_is_reported_as_such)
{
	struct pop3_options o;

	start(0, 0);
	o = opts_for(TLS_IMPLICIT, POP3_MECH_USER);
	o.password = "not-the-password";
	cr_assert_null(pop3_connect(&o, &err));
	cr_assert_eq(err.scope, ERR_ACCOUNT);
	cr_assert(strstr(err.text, "refused the user name or password"), "%s", err.text);
	cr_assert(strstr(err.text, "[AUTH]"), "Dovecot sends the AUTH code: %s", err.text);
	cr_assert_null(strstr(err.text, "locked"), "%s", err.text);
	cr_assert_null(strstr(err.text, "not-the-password"), "%s", err.text);
	o.mechs[0] = POP3_MECH_PLAIN;
	cr_assert_null(pop3_connect(&o, &err));
	cr_assert(strstr(err.text, "refused the user name or password"), "%s", err.text);
	stop();
}

Test(pop3_dovecot, stat_list_uidl_of_seeded_messages)
{
	struct pop3_list_entry *list;
	struct pop3_uidl_entry *uidls;
	struct dovecot_msg *msgs;
	size_t n, nu, nm;
	struct pop3_client *p;
	uint32_t count;
	uint64_t size, total = 0;

	start(7, 2000);
	msgs = dovecot_list(d, "INBOX", false, &nm);
	p = connect_or_fail(TLS_IMPLICIT, 0);
	cr_assert_eq(pop3_stat(p, &count, &size, &err), 0, "%s", err.text);
	cr_assert_eq(count, 7);
	cr_assert_eq(pop3_list(p, &list, &n, &err), 0, "%s", err.text);
	cr_assert_eq(n, 7);
	cr_assert_eq(pop3_uidl(p, &uidls, &nu, &err), 0, "%s", err.text);
	cr_assert_eq(nu, 7);
	cr_assert_eq(pop3_uidl_check(uidls, nu, &err), 0, "%s", err.text);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(list[i].msgno, i + 1);
		cr_assert_eq(list[i].size, msgs[i].size, "message %zu", i + 1);
		cr_assert_eq(uidls[i].msgno, i + 1);
		cr_assert_eq(strlen(uidls[i].uidl), 16, "%s", uidls[i].uidl);
		total += list[i].size;
	}
	cr_assert_eq(size, total);
	free(list);
	free(uidls);
	dovecot_msgs_free(msgs, nm);
	pop3_close(p);
	stop();
}

Test(pop3_dovecot, retr_is_byte_identical_to_the_stored_message)
{
	struct dovecot_msg *msgs;
	struct pop3_list_entry *list;
	struct pop3_client *p;
	size_t nm, n;

	start(6, 300000);
	msgs = dovecot_list(d, "INBOX", true, &nm);
	cr_assert_eq(nm, 6);
	p = connect_or_fail(TLS_STARTTLS, 0);
	cr_assert_eq(pop3_list(p, &list, &n, &err), 0, "%s", err.text);
	for (uint32_t i = 1; i <= nm; i++) {
		struct kept k = {BUF_INIT, 0};
		struct pop3_sink sink = {.ctx = &k, .chunk = kept_chunk, .end = kept_end};
		cr_assert_eq(pop3_retr(p, i, &sink, &err), 0, "%s", err.text);
		cr_assert_eq(k.ends, 1);
		cr_assert_eq(k.content.len, msgs[i - 1].body_len, "message %u", i);
		cr_assert_eq(memcmp(k.content.data, msgs[i - 1].body, k.content.len), 0, "message %u", i);
		cr_assert_eq(k.content.len, list[i - 1].size, "LIST size of message %u", i);
		buf_free(&k.content);
	}
	free(list);
	dovecot_msgs_free(msgs, nm);
	cr_assert_eq(pop3_quit(p, &err), 0, "%s", err.text);
	pop3_close(p);
	stop();
}

/* Collects every message of a retr_many in one buffer, in order. */
struct all {
	struct buf content;
	unsigned ends, fails;
};

static int all_chunk(void *ctx, const void *data, size_t len, struct error *e)
{
	(void)e;
	buf_append(&((struct all *)ctx)->content, data, len);
	return 0;
}

static int all_end(void *ctx, uint32_t msgno, struct error *e)
{
	(void)msgno, (void)e;
	((struct all *)ctx)->ends++;
	return 0;
}

static void all_failed(void *ctx, uint32_t msgno, const struct error *e)
{
	(void)msgno, (void)e;
	((struct all *)ctx)->fails++;
}

Test(pop3_dovecot, retr_many_pipelined_matches_the_server)
{
	struct all a = {BUF_INIT, 0, 0};
	struct pop3_sink sink = {.ctx = &a, .chunk = all_chunk, .end = all_end, .failed = all_failed};
	struct dovecot_msg *msgs;
	struct pop3_client *p;
	uint32_t msgnos[50];
	struct buf want = BUF_INIT;
	size_t nm;

	start(50, 10000);
	msgs = dovecot_list(d, "INBOX", true, &nm);
	for (size_t i = 0; i < nm; i++) {
		msgnos[i] = (uint32_t)i + 1;
		buf_append(&want, msgs[i].body, msgs[i].body_len);
	}
	p = connect_or_fail(TLS_IMPLICIT, 0);
	cr_assert(pop3_has_capa(p, "PIPELINING"), "%s", pop3_capabilities(p));
	cr_assert_eq(pop3_retr_many(p, msgnos, 50, &sink, &err), 0, "%s", err.text);
	cr_assert_eq(a.ends, 50);
	cr_assert_eq(a.fails, 0);
	cr_assert_eq(a.content.len, want.len);
	cr_assert_eq(memcmp(a.content.data, want.data, want.len), 0);
	buf_free(&a.content);
	buf_free(&want);
	dovecot_msgs_free(msgs, nm);
	pop3_close(p);
	stop();
}

Test(pop3_dovecot, top_gives_the_headers)
{
	struct kept k = {BUF_INIT, 0};
	struct pop3_sink sink = {.ctx = &k, .chunk = kept_chunk, .end = kept_end};
	struct dovecot_msg *msgs;
	struct pop3_client *p;
	const char *blank;
	size_t nm;

	start(2, 0);
	msgs = dovecot_list(d, "INBOX", true, &nm);
	blank = memmem(msgs[1].body, msgs[1].body_len, "\r\n\r\n", 4);
	cr_assert_not_null(blank);
	p = connect_or_fail(TLS_IMPLICIT, 0);
	cr_assert_eq(pop3_top(p, 2, 0, &sink, &err), 0, "%s", err.text);
	cr_assert_eq(k.content.len, (size_t)(blank - msgs[1].body) + 4);
	cr_assert_eq(memcmp(k.content.data, msgs[1].body, k.content.len), 0);
	cr_assert(strstr(buf_cstr(&k.content), "Subject: Test message"), "%s", buf_cstr(&k.content));
	buf_free(&k.content);
	dovecot_msgs_free(msgs, nm);
	pop3_close(p);
	stop();
}

Test(pop3_dovecot, retr_of_a_missing_message_is_a_message_error)
{
	struct kept k = {BUF_INIT, 0};
	struct pop3_sink sink = {.ctx = &k, .chunk = kept_chunk, .end = kept_end};
	struct pop3_client *p;

	start(1, 0);
	p = connect_or_fail(TLS_IMPLICIT, 0);
	cr_assert_eq(pop3_retr(p, 5, &sink, &err), -1);
	cr_assert_eq(err.scope, ERR_MESSAGE);
	cr_assert_eq(pop3_noop(p, &err), 0, "%s", err.text);
	pop3_close(p);
	stop();
}

static unsigned *uids_of(size_t *n_r)
{
	struct dovecot_msg *msgs = dovecot_list(d, "INBOX", false, n_r);
	unsigned *uids = calloc(*n_r + 1, sizeof(*uids));

	for (size_t i = 0; i < *n_r; i++)
		uids[i] = msgs[i].uid;
	dovecot_msgs_free(msgs, *n_r);
	return uids;
}

Test(pop3_dovecot, dele_and_quit_removes_the_message)
{
	struct pop3_client *p;
	unsigned *before, *after;
	size_t nb, na;

	start(3, 0);
	before = uids_of(&nb);
	p = connect_or_fail(TLS_IMPLICIT, 0);
	cr_assert_eq(pop3_dele(p, 2, &err), 0, "%s", err.text);
	cr_assert_eq(pop3_quit(p, &err), 0, "%s", err.text);
	pop3_close(p);
	after = uids_of(&na);
	cr_assert_eq(na, 2);
	cr_assert_eq(after[0], before[0]);
	cr_assert_eq(after[1], before[2]);
	free(before);
	free(after);
	stop();
}

Test(pop3_dovecot, dele_and_close_without_quit_removes_nothing)
{
	struct pop3_client *p;
	size_t n;
	unsigned *uids;

	start(3, 0);
	p = connect_or_fail(TLS_STARTTLS, 0);
	cr_assert_eq(pop3_dele(p, 1, &err), 0, "%s", err.text);
	cr_assert_eq(pop3_dele(p, 3, &err), 0, "%s", err.text);
	pop3_close(p);
	uids = uids_of(&n);
	cr_assert_eq(n, 3);
	free(uids);
	stop();
}

Test(pop3_dovecot, rset_undoes_dele)
{
	struct pop3_client *p;
	size_t n;
	unsigned *uids;

	start(2, 0);
	p = connect_or_fail(TLS_IMPLICIT, 0);
	cr_assert_eq(pop3_dele(p, 1, &err), 0, "%s", err.text);
	cr_assert_eq(pop3_dele(p, 1, &err), -1, "already marked");
	cr_assert_eq(err.scope, ERR_MESSAGE);
	cr_assert_eq(pop3_rset(p, &err), 0, "%s", err.text);
	cr_assert_eq(pop3_quit(p, &err), 0, "%s", err.text);
	pop3_close(p);
	uids = uids_of(&n);
	cr_assert_eq(n, 2);
	free(uids);
	stop();
}
