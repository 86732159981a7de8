/*
 * The Dovecot fixture itself: that it starts and stops cleanly, serves
 * the greetings and certificates its header promises on every address,
 * and that what it seeds reads back exactly.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/dovecot.h"
#include "support/dovecot_p.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

#define IO_TIMEOUT_S 5

/* Nothing here may hang a run; a killed worker's instance goes with it. */
TestSuite(fixture, .timeout = 60);

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Gone, or a zombie waiting for init: either way no longer running. */
static bool pid_running(pid_t pid)
{
	char path[64], stat[512] = "";
	FILE *f;
	bool running;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	running = fgets(stat, sizeof(stat), f) && !strstr(stat, ") Z ");
	fclose(f);
	return running;
}

static bool path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int tcp_connect(const char *addr, unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {IO_TIMEOUT_S, 0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Read until `until` appears (or EOF/timeout); returns what was read. */
static char *read_until(int fd, const char *until)
{
	struct buf b = BUF_INIT;
	char c[512];
	ssize_t n;

	buf_init(&b, 1 << 20);
	while (!strstr(buf_cstr(&b), until) && (n = read(fd, c, sizeof(c))) > 0)
		buf_append(&b, c, (size_t)n);
	return buf_detach(&b, NULL);
}

static void send_text(int fd, const char *text)
{
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* Greeting plus CAPABILITY (IMAP) or CAPA (POP3) on a plain port. */
static char *plain_capabilities(const char *addr, unsigned port, bool imap)
{
	int fd = tcp_connect(addr, port);
	char *greeting, *caps, *all;

	cr_assert_geq(fd, 0, "connect %s:%u: %s", addr, port, strerror(errno));
	greeting = read_until(fd, "\r\n");
	send_text(fd, imap ? "a CAPABILITY\r\n" : "CAPA\r\n");
	caps = read_until(fd, imap ? "a OK" : "\r\n.\r\n");
	all = xasprintf("%s%s", greeting, caps);
	free(greeting);
	free(caps);
	close(fd);
	return all;
}

struct tls_result {
	bool handshake;     /* the TLS handshake completed */
	unsigned status;    /* gnutls verification status against the CA and name */
	char greeting[256]; /* first line after the handshake */
};

/* TLS on `fd` (already past STARTTLS/STLS if any), trusting only `ca`
 * and checking the name `host`; then sends `command` if not NULL and
 * keeps the first line that comes back (the greeting if there was no
 * command). */
static void tls_check(int fd, const char *ca, const char *host, const char *command, struct tls_result *r)
{
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	ssize_t n;
	int rc, tries = 0;

	memset(r, 0, sizeof(*r));
	cr_assert_eq(gnutls_certificate_allocate_credentials(&cred), 0);
	cr_assert_gt(gnutls_certificate_set_x509_trust_file(cred, ca, GNUTLS_X509_FMT_PEM), 0);
	cr_assert_eq(gnutls_init(&s, GNUTLS_CLIENT), 0);
	gnutls_set_default_priority(s);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, IO_TIMEOUT_S * 1000);
	do
		rc = gnutls_handshake(s);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc == 0) {
		r->handshake = true;
		cr_assert_eq(gnutls_certificate_verify_peers3(s, host, &r->status), 0);
		if (command)
			cr_assert_eq(gnutls_record_send(s, command, strlen(command)),
			             (ssize_t)strlen(command));
		/* The socket's receive timeout bounds each try. */
		do
			n = gnutls_record_recv(s, r->greeting, sizeof(r->greeting) - 1);
		while (n < 0 && !gnutls_error_is_fatal((int)n) && ++tries < 3);
		r->greeting[n > 0 ? n : 0] = '\0';
		gnutls_bye(s, GNUTLS_SHUT_WR);
	}
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
}

static void tls_probe(const char *addr, unsigned port, const char *ca, const char *host, struct tls_result *r)
{
	int fd = tcp_connect(addr, port);

	cr_assert_geq(fd, 0, "connect %s:%u: %s", addr, port, strerror(errno));
	tls_check(fd, ca, host, NULL, r);
	close(fd);
}

/* ---- lifecycle -------------------------------------------------------- */

Test(fixture, start_then_stop_leaves_nothing_behind)
{
	double t0 = now_s();
	struct dovecot *d = dovecot_start();
	double started = now_s();
	pid_t pid = d->pid;
	char *dir = xstrdup(d->dir);
	unsigned ports[] = {d->imap_port, d->imaps_port, d->pop3_port, d->pop3s_port};
	double stopped;
	int fd;

	cr_assert(pid_running(pid), "master %d is not running", (int)pid);
	cr_assert(path_exists(d->ca_file) && path_exists(d->other_ca_file) && path_exists(d->cert_file));
	cr_assert_str_eq(d->user, "tbuser");
	for (int i = 0; i < 4; i++) {
		cr_assert_gt(ports[i], 0);
		for (int j = 0; j < i; j++)
			cr_assert_neq(ports[i], ports[j], "two listeners share port %u", ports[i]);
	}
	dovecot_stop(d);
	stopped = now_s();
	cr_log_info("fixture start %.3f s, stop %.3f s", started - t0, stopped - started);
	cr_assert_not(pid_running(pid), "master %d still runs after dovecot_stop()", (int)pid);
	cr_assert_not(path_exists(dir), "%s still exists after dovecot_stop()", dir);
	for (int i = 0; i < 4; i++) {
		fd = tcp_connect("127.0.0.1", ports[i]);
		cr_assert_lt(fd, 0, "port %u still accepts connections", ports[i]);
	}
	free(dir);
}

/* In a forked child Criterion must not be called: report and leave. */
static void child_fail(const char *msg)
{
	fprintf(stderr, "child: %s\n", msg);
	_exit(3);
}

Test(fixture, a_crashed_owner_leaves_nothing_behind)
{
	int p[2];
	pid_t child, pid = 0;
	char dir[256] = "";
	int status;
	FILE *f;
	double deadline;

	cr_assert_eq(pipe(p), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		/* Start and die without dovecot_stop(), as a crashing test. */
		struct dovecot *d;

		close(p[0]);
		dv_fail_handler = child_fail;
		d = dovecot_start();

		dprintf(p[1], "%d %s\n", (int)d->pid, d->dir);
		_exit(0);
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	cr_assert_eq(fscanf(f, "%d %255s", &pid, dir), 2, "the child did not start Dovecot");
	fclose(f);
	cr_assert_eq(waitpid(child, &status, 0), child);
	deadline = now_s() + 10;
	while ((pid_running(pid) || path_exists(dir)) && now_s() < deadline)
		usleep(20000);
	cr_assert_not(pid_running(pid), "master %d outlived its owner", (int)pid);
	cr_assert_not(path_exists(dir), "%s outlived its owner", dir);
}

Test(fixture, shared_instance_is_one_for_the_run)
{
	struct dovecot *d = dovecot_shared();
	const char *env = getenv("TWINBOX_DOVECOT");

	cr_assert_not_null(env, "the runner hook did not set TWINBOX_DOVECOT");
	cr_assert_str_eq(d->dir, env);
	cr_assert_eq(dovecot_shared(), d);
	cr_assert(pid_running(d->pid));
	dovecot_stop(d); /* must leave the shared instance alone */
	cr_assert(pid_running(d->pid));
	cr_assert(path_exists(d->conf_file));
}

Test(fixture, shared_instance_is_seen_by_a_second_test)
{
	struct dovecot *d = dovecot_shared();
	char *conf = xasprintf("%s/dovecot.conf", getenv("TWINBOX_DOVECOT"));

	cr_assert_str_eq(d->conf_file, conf);
	cr_assert(pid_running(d->pid));
	free(conf);
}

/* ---- what clients see --------------------------------------------------- */

Test(fixture, plain_ports_greet_and_offer_starttls)
{
	struct dovecot *d = dovecot_shared();
	char *imap = plain_capabilities("127.0.0.1", d->imap_port, true);
	char *pop3 = plain_capabilities("127.0.0.1", d->pop3_port, false);

	cr_assert(strncmp(imap, "* OK [CAPABILITY IMAP4rev1", 26) == 0, "IMAP greeting: %s", imap);
	cr_assert(strstr(imap, "STARTTLS") && strstr(imap, "AUTH=PLAIN") && strstr(imap, "a OK"), "%s", imap);
	cr_assert(strncmp(pop3, "+OK", 3) == 0, "POP3 greeting: %s", pop3);
	cr_assert(strstr(pop3, "\r\nSTLS\r\n") && strstr(pop3, "\r\nUIDL\r\n"), "%s", pop3);
	free(imap);
	free(pop3);
}

Test(fixture, no_starttls_address_offers_no_tls_at_all)
{
	struct dovecot *d = dovecot_shared();
	char *imap = plain_capabilities(DOVECOT_ADDR_NO_STARTTLS, d->imap_port, true);
	char *pop3 = plain_capabilities(DOVECOT_ADDR_NO_STARTTLS, d->pop3_port, false);
	struct tls_result r;

	cr_assert(strncmp(imap, "* OK [CAPABILITY IMAP4rev1", 26) == 0, "IMAP greeting: %s", imap);
	cr_assert_null(strstr(imap, "STARTTLS"), "%s", imap);
	cr_assert(strncmp(pop3, "+OK", 3) == 0 && strstr(pop3, "\r\nUIDL\r\n"), "%s", pop3);
	cr_assert_null(strstr(pop3, "STLS"), "%s", pop3);
	tls_probe(DOVECOT_ADDR_NO_STARTTLS, d->imaps_port, d->ca_file, DOVECOT_ADDR_NO_STARTTLS, &r);
	cr_assert_not(r.handshake, "implicit TLS IMAP on %s completed a handshake", DOVECOT_ADDR_NO_STARTTLS);
	tls_probe(DOVECOT_ADDR_NO_STARTTLS, d->pop3s_port, d->ca_file, DOVECOT_ADDR_NO_STARTTLS, &r);
	cr_assert_not(r.handshake, "implicit TLS POP3 on %s completed a handshake", DOVECOT_ADDR_NO_STARTTLS);
	free(imap);
	free(pop3);
}

Test(fixture, tls_ports_serve_a_certificate_the_ca_vouches_for)
{
	struct dovecot *d = dovecot_shared();
	struct tls_result r;

	tls_probe("127.0.0.1", d->imaps_port, d->ca_file, "localhost", &r);
	cr_assert(r.handshake);
	cr_assert_eq(r.status, 0, "verification status 0x%x", r.status);
	cr_assert(strncmp(r.greeting, "* OK [CAPABILITY IMAP4rev1", 26) == 0, "%s", r.greeting);
	cr_assert_null(strstr(r.greeting, "STARTTLS"), "STARTTLS offered inside TLS: %s", r.greeting);

	tls_probe("127.0.0.1", d->pop3s_port, d->ca_file, "127.0.0.1", &r);
	cr_assert(r.handshake);
	cr_assert_eq(r.status, 0, "verification status 0x%x", r.status);
	cr_assert(strncmp(r.greeting, "+OK", 3) == 0, "%s", r.greeting);

	tls_probe("127.0.0.1", d->imaps_port, d->other_ca_file, "localhost", &r);
	cr_assert(r.handshake);
	cr_assert(r.status & GNUTLS_CERT_SIGNER_NOT_FOUND, "other CA accepted: status 0x%x", r.status);
}

Test(fixture, starttls_and_stls_upgrade)
{
	struct dovecot *d = dovecot_shared();
	struct tls_result r;
	int fd = tcp_connect("127.0.0.1", d->imap_port);
	char *text;

	cr_assert_geq(fd, 0);
	free(read_until(fd, "\r\n"));
	send_text(fd, "a STARTTLS\r\n");
	text = read_until(fd, "\r\n");
	cr_assert(strncmp(text, "a OK", 4) == 0, "%s", text);
	free(text);
	tls_check(fd, d->ca_file, "localhost", "a CAPABILITY\r\n", &r);
	cr_assert(r.handshake && r.status == 0, "status 0x%x", r.status);
	cr_assert(strncmp(r.greeting, "* CAPABILITY IMAP4rev1", 22) == 0, "%s", r.greeting);
	cr_assert_null(strstr(r.greeting, "STARTTLS"), "STARTTLS offered again: %s", r.greeting);
	close(fd);

	fd = tcp_connect("127.0.0.1", d->pop3_port);
	cr_assert_geq(fd, 0);
	free(read_until(fd, "\r\n"));
	send_text(fd, "STLS\r\n");
	text = read_until(fd, "\r\n");
	cr_assert(strncmp(text, "+OK", 3) == 0, "%s", text);
	free(text);
	tls_check(fd, d->ca_file, "localhost", "CAPA\r\n", &r);
	cr_assert(r.handshake && r.status == 0, "status 0x%x", r.status);
	cr_assert(strncmp(r.greeting, "+OK", 3) == 0, "%s", r.greeting);
	close(fd);
}

Test(fixture, misbehaving_addresses_serve_bad_certificates)
{
	struct dovecot *d = dovecot_shared();
	struct tls_result r;

	tls_probe(DOVECOT_ADDR_WRONG_NAME, d->imaps_port, d->ca_file, DOVECOT_ADDR_WRONG_NAME, &r);
	cr_assert(r.handshake);
	cr_assert(r.status & GNUTLS_CERT_UNEXPECTED_OWNER, "status 0x%x", r.status);
	cr_assert_not(r.status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_SIGNER_NOT_FOUND), "status 0x%x",
	              r.status);
	tls_probe(DOVECOT_ADDR_WRONG_NAME, d->imaps_port, d->ca_file, "wrong.example", &r);
	cr_assert_eq(r.status, 0, "the cert should be fine for wrong.example: status 0x%x", r.status);

	tls_probe(DOVECOT_ADDR_EXPIRED, d->pop3s_port, d->ca_file, DOVECOT_ADDR_EXPIRED, &r);
	cr_assert(r.handshake);
	cr_assert(r.status & GNUTLS_CERT_EXPIRED, "status 0x%x", r.status);
	cr_assert_not(r.status & (GNUTLS_CERT_UNEXPECTED_OWNER | GNUTLS_CERT_SIGNER_NOT_FOUND), "status 0x%x",
	              r.status);
}

Test(fixture, login_with_the_fixture_password)
{
	struct dovecot *d = dovecot_shared();
	int fd = tcp_connect("127.0.0.1", d->imap_port);
	char *cmd, *text;
	double t0;

	cr_assert_geq(fd, 0);
	free(read_until(fd, "\r\n"));
	t0 = now_s();
	/* A password never tried before: Dovecot forgives repeats. */
	cmd = xasprintf("a LOGIN %s \"wrong-%d\"\r\n", d->user, (int)getpid());
	send_text(fd, cmd);
	text = read_until(fd, "\r\n");
	cr_assert(strncmp(text, "a NO", 4) == 0, "%s", text);
	cr_assert_lt(now_s() - t0, 1.5, "a failed login took %.1f s", now_s() - t0);
	free(cmd);
	free(text);
	cmd = xasprintf("b LOGIN %s \"%s\"\r\nc LOGOUT\r\n", d->user, d->password);
	send_text(fd, cmd);
	text = read_until(fd, "c OK");
	cr_assert(strstr(text, "b OK") && strstr(text, "CONDSTORE") && strstr(text, "QRESYNC"), "%s", text);
	cr_log_info("imap logins %.3f s", now_s() - t0);
	cr_assert_lt(now_s() - t0, 2.0, "a login after a failed one took %.1f s (auth penalty?)",
	             now_s() - t0);
	free(cmd);
	free(text);
	close(fd);

	fd = tcp_connect("127.0.0.1", d->pop3_port);
	cr_assert_geq(fd, 0);
	free(read_until(fd, "\r\n"));
	cmd = xasprintf("USER %s\r\nPASS %s\r\nQUIT\r\n", d->user, d->password);
	send_text(fd, cmd);
	text = read_until(fd, "Logging out");
	cr_assert(strstr(text, "+OK Logged in"), "%s", text);
	cr_log_info("pop3 login %.3f s", now_s() - t0);
	free(cmd);
	free(text);
	close(fd);
}

/* ---- seeding and reading back ------------------------------------------ */

Test(fixture, append_reads_back_uids_flags_and_bodies)
{
	struct dovecot *d = dovecot_shared();
	const char *mbox = "fixture-append";
	size_t len[3], n;
	char *msg[3];
	unsigned uid[3];
	struct dovecot_msg *m;

	msg[0] = test_message(1, 0, &len[0]);
	msg[1] = test_message(2, 5000, &len[1]);
	msg[2] = xstrdup("Subject: bare LF\n\nline one\nline two\n");
	len[2] = strlen(msg[2]);
	uid[0] = dovecot_append(d, mbox, msg[0], len[0], NULL);
	uid[1] = dovecot_append(d, mbox, msg[1], len[1], "\\Seen \\Flagged $Label1");
	uid[2] = dovecot_append(d, mbox, msg[2], len[2], "\\Answered");
	cr_assert(uid[0] > 0 && uid[1] == uid[0] + 1 && uid[2] == uid[1] + 1, "uids %u %u %u", uid[0], uid[1],
	          uid[2]);

	m = dovecot_list(d, mbox, false, &n);
	cr_assert_eq(n, 3);
	cr_assert_eq(m[0].uid, uid[0]);
	cr_assert_str_eq(m[0].flags, "");
	cr_assert_null(m[0].body);
	cr_assert(dovecot_msg_has_flag(&m[1], "\\seen") && dovecot_msg_has_flag(&m[1], "\\Flagged") &&
	              dovecot_msg_has_flag(&m[1], "$Label1"),
	          "flags: %s", m[1].flags);
	cr_assert_not(dovecot_msg_has_flag(&m[1], "\\Answered"));
	cr_assert_not(dovecot_msg_has_flag(&m[1], "\\Recent"));
	cr_assert_str_eq(m[2].flags, "\\Answered");
	cr_assert_eq(m[0].size, len[0]);
	cr_assert_eq(m[1].size, len[1]);
	dovecot_msgs_free(m, n);

	m = dovecot_list(d, mbox, true, &n);
	cr_assert_eq(n, 3);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(m[i].body_len, len[i]);
		cr_assert(memcmp(m[i].body, msg[i], len[i]) == 0, "message %d differs", i);
	}
	/* Stored with CRLF, as IMAP shows it. */
	cr_assert_str_eq(m[2].body, "Subject: bare LF\r\n\r\nline one\r\nline two\r\n");
	cr_assert_eq(m[2].size, m[2].body_len);
	cr_assert_str_eq(m[0].flags, "", "reading bodies must not set \\Seen");
	dovecot_msgs_free(m, n);
	for (int i = 0; i < 3; i++)
		free(msg[i]);
}

Test(fixture, odd_bodies_read_back_exactly)
{
	struct dovecot *d = dovecot_shared();
	const char *mbox = "fixture-odd";
	static const char no_newline[] = "Subject: no final newline\r\n\r\nlast line";
	static const char form_feed[] = "Subject: form feed\r\n\r\n\f\r\ntext: \f\r\nuid: 7\r\n";
	struct dovecot_msg *m;
	size_t n;

	dovecot_append(d, mbox, no_newline, sizeof(no_newline) - 1, NULL);
	dovecot_append(d, mbox, form_feed, sizeof(form_feed) - 1, "\\Deleted");
	m = dovecot_list(d, mbox, true, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(m[0].body_len, sizeof(no_newline) - 1);
	cr_assert(memcmp(m[0].body, no_newline, m[0].body_len) == 0, "%s", m[0].body);
	cr_assert_eq(m[1].body_len, sizeof(form_feed) - 1);
	cr_assert(memcmp(m[1].body, form_feed, m[1].body_len) == 0, "%s", m[1].body);
	cr_assert_str_eq(m[1].flags, "\\Deleted");
	dovecot_msgs_free(m, n);
}

Test(fixture, hierarchy_with_slash_separator)
{
	struct dovecot *d = dovecot_shared();
	size_t len, n;
	char *msg = test_message(7, 0, &len);
	char **boxes;
	bool inbox = false, parent = false, child = false;
	struct dovecot_msg *m;

	dovecot_create_mailbox(d, "Fixture/Projects");
	dovecot_create_mailbox(d, "Fixture/Projects"); /* twice is fine */
	cr_assert_eq(dovecot_append(d, "Fixture/Projects", msg, len, NULL), 1);
	boxes = dovecot_mailboxes(d);
	for (size_t i = 0; boxes[i]; i++) {
		inbox |= strcmp(boxes[i], "INBOX") == 0;
		parent |= strcmp(boxes[i], "Fixture") == 0;
		child |= strcmp(boxes[i], "Fixture/Projects") == 0;
		if (i > 0)
			cr_assert_lt(strcmp(boxes[i - 1], boxes[i]), 0, "not sorted");
	}
	cr_assert(inbox && parent && child);
	dovecot_strv_free(boxes);

	/* Names are UTF-8 (Dovecot stores them in modified UTF-7). */
	dovecot_create_mailbox(d, "Fixture/Ünïcode Ordner");
	boxes = dovecot_mailboxes(d);
	child = false;
	for (size_t i = 0; boxes[i]; i++)
		child |= strcmp(boxes[i], "Fixture/Ünïcode Ordner") == 0;
	cr_assert(child, "the UTF-8 mailbox is missing from the list");
	dovecot_strv_free(boxes);
	cr_assert_eq(dovecot_append(d, "Fixture/Ünïcode Ordner", msg, len, NULL), 1);
	m = dovecot_list(d, "Fixture/Projects", true, &n);
	cr_assert_eq(n, 1);
	cr_assert_eq(m[0].body_len, len);
	dovecot_msgs_free(m, n);
	free(msg);
}

Test(fixture, seeding_2000_messages_is_fast_and_ordered)
{
	struct dovecot *d = dovecot_shared();
	const char *mbox = "fixture-seed";
	double t0 = now_s(), seeded;
	struct dovecot_msg *m;
	size_t n;

	dovecot_seed(d, mbox, 2000, 1000, 3000);
	seeded = now_s();
	cr_log_info("seeding 2000 messages: %.3f s", seeded - t0);
	cr_assert_lt(seeded - t0, 10.0, "seeding 2000 messages took %.1f s", seeded - t0);

	m = dovecot_list(d, mbox, true, &n);
	cr_log_info("reading 2000 messages back with bodies: %.3f s", now_s() - seeded);
	cr_assert_eq(n, 2000);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *expect = test_message(1000 + (unsigned)i, i % 5 == 4 ? 3000 : 0, &len);

		cr_assert_eq(m[i].uid, i + 1, "message %zu has uid %u", i, m[i].uid);
		cr_assert_str_eq(m[i].flags, "");
		cr_assert_eq(m[i].size, len);
		cr_assert(m[i].body_len == len && memcmp(m[i].body, expect, len) == 0, "message %zu differs",
		          i);
		free(expect);
	}
	dovecot_msgs_free(m, n);

	/* A second batch continues the UIDs. */
	dovecot_seed(d, mbox, 3, 5000, 0);
	m = dovecot_list(d, mbox, false, &n);
	cr_assert_eq(n, 2003);
	cr_assert_eq(m[2002].uid, 2003);
	dovecot_msgs_free(m, n);
}

Test(fixture, seeding_inbox_of_a_fresh_instance)
{
	struct dovecot *d = dovecot_start();
	struct dovecot_msg *m;
	size_t n;

	dovecot_seed(d, "INBOX", 5, 1, 0);
	m = dovecot_list(d, "INBOX", false, &n);
	cr_assert_eq(n, 5);
	cr_assert_eq(m[4].uid, 5);
	dovecot_msgs_free(m, n);
	dovecot_stop(d);
}

/* ---- generated messages ---------------------------------------------- */

Test(fixture, test_message_is_deterministic_rfc5322)
{
	size_t a_len, b_len, c_len;
	char *a = test_message(42, 1000, &a_len);
	char *b = test_message(42, 1000, &b_len);
	char *c = test_message(43, 0, &c_len);
	size_t b64 = 0, line = 0;
	bool in_b64 = false;

	cr_assert(a_len == b_len && memcmp(a, b, a_len) == 0, "same seed, different bytes");
	cr_assert(a_len != c_len || memcmp(a, c, a_len) != 0);
	cr_assert_not_null(strstr(a, "Message-ID: <seed.42@twinbox.test>\r\n"));
	cr_assert_not_null(strstr(c, "Subject: Test message 43\r\n"));
	cr_assert_not_null(strstr(a, "Content-Type: multipart/mixed;"));
	cr_assert_not_null(strstr(c, "MIME-Version: 1.0\r\n"));
	cr_assert(strncmp(strstr(a, "Date: "), "Date: ", 6) == 0);
	for (size_t i = 0; i < a_len; i++) {
		if (a[i] == '\n') {
			cr_assert(i > 0 && a[i - 1] == '\r', "bare LF at %zu", i);
			cr_assert_leq(line, 78, "line of %zu characters", line);
			line = 0;
			continue;
		}
		if (a[i] != '\r')
			line++;
	}
	/* 1000 bytes of base64: 1336 characters, lines of 76. */
	for (const char *p = strstr(a, "filename=\"blob-42.bin\"\r\n\r\n") + 26; *p != '-'; p++) {
		in_b64 = true;
		if (*p != '\r' && *p != '\n')
			b64++;
	}
	cr_assert(in_b64);
	cr_assert_eq(b64, 1336);
	free(a);
	free(b);
	free(c);
}
