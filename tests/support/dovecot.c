/*
 * Lifecycle of the Dovecot fixture: directory, configuration, start,
 * readiness, stop, the watchdog and the run-wide shared instance.
 *
 * Watchdog: every instance directory gets a small /bin/sh process in its
 * own session, reading a pipe whose write end only the owner holds (the
 * test worker for dovecot_start(), the Criterion runner for the shared
 * instance). dovecot_stop() writes "q" and the watchdog exits. If the owner
 * dies first (crash, timeout kill, Ctrl-C), the pipe reads EOF and the
 * watchdog kills the master's process group and removes the directory. A
 * script instead of a forked C function because the runner has threads
 * (nanomsg): after fork() only exec is safe there. The watchdog, the
 * process handling and doveadm runs live in dovecot_run.c; seeding and
 * reading back in dovecot_admin.c; certificates in dovecot_certs.c.
 */
#include "dovecot_p.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

#define TB_USER          "tbuser"
#define TB_PASSWORD      "tb-Secret-42"
#define START_TIMEOUT_MS 10000
#define LOCK_TIMEOUT_MS  30000
#define PORT_ATTEMPTS    5
#define SHARED_ENV       "TWINBOX_DOVECOT"
#define TMP_BASE_MAX     48 /* keeps base_dir socket paths under 108 bytes */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *dovecot_log_tail(const struct dovecot *d, size_t max)
{
	int fd = d && d->log_file ? open(d->log_file, O_RDONLY | O_CLOEXEC) : -1;
	char *text = xmalloc(max + 1);
	ssize_t n = 0;

	if (fd >= 0) {
		off_t end = lseek(fd, 0, SEEK_END);

		if (end > 0 && lseek(fd, end > (off_t)max ? end - (off_t)max : 0, SEEK_SET) >= 0)
			n = read(fd, text, max);
		close(fd);
	}
	text[n > 0 ? n : 0] = '\0';
	return text;
}

const char *dv_fail_text(const struct dovecot *d, const char *fmt, ...)
{
	/* Static so that a failed test leaks nothing (the assertion does not
	 * return). */
	static char msg[8192];
	char *tail = dovecot_log_tail(d, 3000);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, "\n--- last lines of %s ---\n%s",
		         d && d->log_file ? d->log_file : "dovecot.log", tail);
	free(tail);
	return msg;
}

void (*dv_fail_handler)(const char *msg);

void dv_abort(const char *msg)
{
	if (dv_fail_handler)
		dv_fail_handler(msg);
	cr_assert_fail("%s", msg);
	abort(); /* not reached: the assertion ends the test */
}

/* ---- directory and identity ---------------------------------------- */

static const char *tmp_base(void)
{
	const char *t = getenv("TMPDIR");
	struct stat st;

	/* The path ends up in dovecot.conf and in a shell command line, and
	 * as root the unprivileged Dovecot processes must traverse it. */
	if (!t || t[0] != '/' || strlen(t) > TMP_BASE_MAX ||
	    strspn(t, "abcdefghijklmnopqrstuvwxyz"
	              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") != strlen(t))
		return "/tmp";
	if (stat(t, &st) < 0 || !S_ISDIR(st.st_mode) || (geteuid() == 0 && !(st.st_mode & S_IXOTH)))
		return "/tmp";
	return t;
}

static char *make_temp_dir(struct error *err)
{
	char *dir = xasprintf("%s/twinbox-dovecot-XXXXXX", tmp_base());

	if (!mkdtemp(dir)) {
		error_errno(err, ERR_FATAL, errno, "Cannot create a directory like %s", dir);
		free(dir);
		return NULL;
	}
	return dir;
}

static struct dovecot *dv_alloc(const char *dir)
{
	struct dovecot *d = xcalloc(1, sizeof(*d));

	d->dir = xstrdup(dir);
	d->ca_file = xasprintf("%s/" DV_SSL "/ca.pem", dir);
	d->other_ca_file = xasprintf("%s/" DV_SSL "/other-ca.pem", dir);
	d->cert_file = xasprintf("%s/" DV_SSL "/server.pem", dir);
	d->conf_file = xasprintf("%s/" DV_CONF, dir);
	d->log_file = xasprintf("%s/" DV_LOG, dir);
	d->user = xstrdup(TB_USER);
	d->password = xstrdup(TB_PASSWORD);
	d->watchdog_fd = -1;
	return d;
}

static void dv_free(struct dovecot *d)
{
	free(d->dir);
	free(d->ca_file);
	free(d->other_ca_file);
	free(d->cert_file);
	free(d->conf_file);
	free(d->log_file);
	free(d->user);
	free(d->password);
	free(d->extra_conf);
	free(d);
}

/* Who the Dovecot processes run as. Dovecot refuses to serve mail as
 * root, so as root mail belongs to "nobody" and the internal/login
 * processes use the users the Debian package created; otherwise
 * everything runs as the current user. */
struct identity {
	char internal_user[64], internal_group[64], login_user[64];
	uid_t uid;
	gid_t gid;
};

static int identity_get(struct identity *id, struct error *err)
{
	const struct passwd *pw;
	const struct group *gr;

	if (geteuid() == 0) {
		if (!getpwnam("dovecot") || !getpwnam("dovenull"))
			return error_set(err, ERR_FATAL,
			                 "The system users dovecot and dovenull are missing; "
			                 "install the Debian package dovecot-core.");
		pw = getpwnam("nobody");
		if (!pw)
			return error_set(err, ERR_FATAL, "There is no user \"nobody\" to own the test mail.");
		gr = getgrgid(pw->pw_gid);
		snprintf(id->internal_user, sizeof(id->internal_user), "dovecot");
		snprintf(id->login_user, sizeof(id->login_user), "dovenull");
		snprintf(id->internal_group, sizeof(id->internal_group), "%s",
		         getgrnam("dovecot") ? "dovecot"
		         : gr                ? gr->gr_name
		                             : "nogroup");
		id->uid = pw->pw_uid;
		id->gid = pw->pw_gid;
		return 0;
	}
	pw = getpwuid(geteuid());
	gr = getgrgid(getegid());
	if (!pw || !gr)
		return error_set(err, ERR_FATAL,
		                 "The current uid %u or gid %u has no name; Dovecot needs "
		                 "user and group names to run.",
		                 (unsigned)geteuid(), (unsigned)getegid());
	snprintf(id->internal_user, sizeof(id->internal_user), "%s", pw->pw_name);
	snprintf(id->login_user, sizeof(id->login_user), "%s", pw->pw_name);
	snprintf(id->internal_group, sizeof(id->internal_group), "%s", gr->gr_name);
	id->uid = geteuid();
	id->gid = getegid();
	return 0;
}

static int free_ports(unsigned ports[4], struct error *err)
{
	int fds[4] = {-1, -1, -1, -1};
	int rc = 0;

	/* All four bound at once so that they differ; Dovecot binds them a
	 * moment later (start retries if something else took one). */
	for (int i = 0; i < 4 && rc == 0; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
		socklen_t len = sizeof(sa);

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(fds[i], (struct sockaddr *)&sa, &len) < 0)
			rc = error_errno(err, ERR_FATAL, errno, "Cannot find a free port on 127.0.0.1");
		else
			ports[i] = ntohs(sa.sin_port);
	}
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

static char *config_text(const struct dovecot *d, const struct identity *id)
{
	struct buf b = BUF_INIT;
	const char *dir = d->dir;

	buf_printf(&b,
	           "# Written by tests/support/dovecot.c for one test instance.\n"
	           "base_dir = %s/" DV_RUN "\n"
	           "state_dir = %s/state\n"
	           "log_path = %s\n"
	           "protocols = imap pop3\n"
	           "listen = 127.0.0.1, " DOVECOT_ADDR_WRONG_NAME ", " DOVECOT_ADDR_EXPIRED
	           ", " DOVECOT_ADDR_NO_STARTTLS "\n"
	           "default_internal_user = %s\n"
	           "default_internal_group = %s\n"
	           "default_login_user = %s\n"
	           "first_valid_uid = %u\nlast_valid_uid = %u\n"
	           "first_valid_gid = %u\nlast_valid_gid = %u\n",
	           dir, dir, d->log_file, id->internal_user, id->internal_group, id->login_user,
	           (unsigned)id->uid, (unsigned)id->uid, (unsigned)id->gid, (unsigned)id->gid);
	buf_printf(&b,
	           "ssl = yes\n"
	           "ssl_cert = <%s/" DV_SSL "/server.pem\n"
	           "ssl_key = <%s/" DV_SSL "/server.key\n"
	           "ssl_min_protocol = TLSv1.2\n"
	           "disable_plaintext_auth = no\n"
	           "auth_mechanisms = plain login\n"
	           "auth_failure_delay = 0\n"
	           "auth_verbose = yes\n"
	           "passdb {\n  driver = passwd-file\n  args = scheme=PLAIN %s/" DV_PASSWD "\n}\n"
	           "userdb {\n  driver = passwd-file\n  args = %s/" DV_PASSWD "\n}\n",
	           dir, dir, dir, dir);
	buf_printf(&b, "mail_location = maildir:~/Maildir:LAYOUT=fs\n"
	               "mail_fsync = never\n"
	               "mail_save_crlf = yes\n"
	               "mail_max_userip_connections = 100\n"
	               "pop3_uidl_format = %%08Xu%%08Xv\n"
	               "namespace inbox {\n"
	               "  inbox = yes\n"
	               "  separator = /\n"
	               "  mailbox Drafts {\n    special_use = \\Drafts\n  }\n"
	               "  mailbox Junk {\n    special_use = \\Junk\n  }\n"
	               "  mailbox Sent {\n    special_use = \\Sent\n  }\n"
	               "  mailbox Trash {\n    special_use = \\Trash\n  }\n"
	               "}\n");
	/* No chroot anywhere: it needs root, and the tests need none of its
	 * protection. The auth process stays (see launch()). */
	buf_printf(&b,
	           "service anvil {\n  chroot =\n}\n"
	           "service ipc {\n  chroot =\n}\n"
	           "service auth {\n  idle_kill = 24 hours\n}\n"
	           "service imap-login {\n  chroot =\n"
	           "  inet_listener imap {\n    port = %u\n  }\n"
	           "  inet_listener imaps {\n    port = %u\n    ssl = yes\n  }\n}\n"
	           "service pop3-login {\n  chroot =\n"
	           "  inet_listener pop3 {\n    port = %u\n  }\n"
	           "  inet_listener pop3s {\n    port = %u\n    ssl = yes\n  }\n}\n",
	           d->imap_port, d->imaps_port, d->pop3_port, d->pop3s_port);
	buf_printf(&b,
	           "local " DOVECOT_ADDR_WRONG_NAME " {\n"
	           "  ssl_cert = <%s/" DV_SSL "/wrong-name.pem\n  ssl_key = <%s/" DV_SSL
	           "/wrong-name.key\n}\n"
	           "local " DOVECOT_ADDR_EXPIRED " {\n"
	           "  ssl_cert = <%s/" DV_SSL "/expired.pem\n  ssl_key = <%s/" DV_SSL "/expired.key\n}\n"
	           "local " DOVECOT_ADDR_NO_STARTTLS " {\n  ssl = no\n}\n",
	           dir, dir, dir, dir);
	if (d->extra_conf)
		buf_printf(&b, "# dovecot_start_with():\n%s\n", d->extra_conf);
	return buf_detach(&b, NULL);
}

/* Everything but the configuration, which depends on the ports. */
static int prepare_dir(struct dovecot *d, const struct identity *id, struct error *err)
{
	char *ssl = xasprintf("%s/" DV_SSL, d->dir);
	char *home = xasprintf("%s/" DV_HOME, d->dir);
	char *passwd = xasprintf("%s/" DV_PASSWD, d->dir);
	char *line = xasprintf("%s:{PLAIN}%s:%u:%u::%s::\n", d->user, d->password, (unsigned)id->uid,
	                       (unsigned)id->gid, home);
	int rc = -1;

	d->mail_uid = id->uid;
	d->mail_gid = id->gid;
	/* As root, dovenull and dovecot must get through to run/ and read
	 * the passwd-file; 0711 lets them without listing anything. */
	if (geteuid() == 0 && chmod(d->dir, 0711) < 0)
		error_errno(err, ERR_FATAL, errno, "Cannot chmod %s", d->dir);
	else if (mkdir(ssl, 0700) < 0)
		error_errno(err, ERR_FATAL, errno, "Cannot create %s", ssl);
	else if (dv_certs_create(ssl, err) == 0 &&
	         dv_write_file(passwd, line, strlen(line), 0644, err) == 0) {
		if (mkdir(home, 0700) < 0)
			error_errno(err, ERR_FATAL, errno, "Cannot create %s", home);
		else if (geteuid() == 0 && chown(home, id->uid, id->gid) < 0)
			error_errno(err, ERR_FATAL, errno, "Cannot chown %s", home);
		else
			rc = 0;
	}
	free(ssl);
	free(home);
	free(passwd);
	free(line);
	return rc;
}

void dovecot_as_user(struct dovecot *d, const char *user)
{
	free(d->user);
	d->user = xstrdup(user);
}

/* ---- start ---------------------------------------------------------- */

/* Connect to 127.0.0.1:port; with `want`, read lines until one starts
 * with it (the first login can be preceded by an untagged "* OK Waiting
 * for authentication" line). Returns 1 when ready, 0 to retry, -1 on a
 * hard error. */
static int probe_port(unsigned port, const char *want, long long deadline)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char line[2048];
	size_t len = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return 0;
	}
	while (want) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long long left = deadline - now_ms();
		ssize_t n;
		char *nl;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		n = read(fd, line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
		while ((nl = strchr(line, '\n'))) {
			if (strncmp(line, want, strlen(want)) == 0) {
				close(fd);
				return 1;
			}
			len -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, len + 1);
		}
		if (len == sizeof(line) - 1)
			break;
	}
	close(fd);
	return want ? 0 : 1;
}

static int wait_ready(struct dovecot *d, long long deadline, struct error *err)
{
	const struct {
		unsigned port;
		const char *want;
	} probes[] = {
	    {d->imap_port, "* OK [CAPABILITY "},
	    {d->pop3_port, "+OK"},
	    {d->imaps_port, NULL},
	    {d->pop3s_port, NULL},
	};

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]);) {
		int rc = probe_port(probes[i].port, probes[i].want, deadline);

		if (rc < 0)
			return error_errno(err, ERR_FATAL, errno, "Cannot create a socket");
		if (rc > 0) {
			i++;
			continue;
		}
		if (!dv_is_master(d->pid, d->conf_file))
			return error_set(err, ERR_FATAL, "Dovecot (pid %d) exited while starting up.",
			                 (int)d->pid);
		if (now_ms() >= deadline)
			return error_set(err, ERR_FATAL,
			                 "Dovecot did not answer on 127.0.0.1:%u within %d ms.",
			                 probes[i].port, START_TIMEOUT_MS);
		usleep(5000);
	}
	return 0;
}

static int settle(struct dovecot *d, long long deadline, struct error *err);

/* Write the config for fresh ports and start the master; retried when a
 * port was taken between our probe and Dovecot's bind. */
static int launch(struct dovecot *d, const struct identity *id, struct error *err)
{
	char dovecot[DV_TOOL_PATH_MAX];
	const char *argv[] = {dovecot, "-c", d->conf_file, NULL};
	long long deadline = now_ms() + START_TIMEOUT_MS;

	dv_tool("dovecot", dovecot);
	for (int attempt = 1;; attempt++) {
		char *out_path = xasprintf("%s/" DV_START_OUT, d->dir);
		char *output = NULL;
		unsigned ports[4];
		char *conf;
		int status;

		if (free_ports(ports, err) < 0)
			return -1;
		d->imap_port = ports[0];
		d->imaps_port = ports[1];
		d->pop3_port = ports[2];
		d->pop3s_port = ports[3];
		conf = config_text(d, id);
		unlink(d->conf_file);
		status = dv_write_file(d->conf_file, conf, strlen(conf), 0644, err);
		free(conf);
		if (status == 0)
			status = dv_run_daemon(argv, out_path, START_TIMEOUT_MS, err);
		if (status > 0 && fs_read_file(out_path, 65536, &output, NULL, err) < 0)
			output = xstrdup("");
		if (status > 0 && strstr(output, "Address already in use") && attempt < PORT_ATTEMPTS)
			status = -2;
		else if (status > 0)
			error_set(err, ERR_FATAL, "%s -c %s exited with status %d: %s", dovecot, d->conf_file,
			          status, output);
		free(output);
		free(out_path);
		if (status == 0)
			break;
		if (status != -2)
			return -1;
	}
	return settle(d, deadline, err);
}

/* After the master's start: its pid, and every listener answering. */
static int settle(struct dovecot *d, long long deadline, struct error *err)
{
	/* After a failed login Dovecot's auth process delays the next login
	 * from the same IP by 4 s and more ("auth penalty", kept by anvil),
	 * which would slow down every test sharing the instance. No setting
	 * turns it off, but the auth process runs without penalties when it
	 * finds no anvil-auth-penalty socket at its start. The master has
	 * bound its sockets by now, and the auth process starts only with
	 * the first login connection (the probe below). */
	{
		char *penalty = xasprintf("%s/" DV_RUN "/anvil-auth-penalty", d->dir);

		unlink(penalty);
		free(penalty);
	}
	/* The foreground process exits once the daemon runs; the pid file
	 * follows a moment later. */
	while ((d->pid = dv_read_pid_file(d->dir)) == 0 || !dv_is_master(d->pid, d->conf_file)) {
		if (now_ms() >= deadline)
			return error_set(err, ERR_FATAL,
			                 "Dovecot started but wrote no pid file %s/" DV_PID_FILE
			                 " within %d ms.",
			                 d->dir, START_TIMEOUT_MS);
		usleep(2000);
	}
	return wait_ready(d, deadline, err);
}

static int write_info(const struct dovecot *d, struct error *err)
{
	char *tmp = xasprintf("%s/" DV_INFO ".tmp", d->dir);
	char *path = xasprintf("%s/" DV_INFO, d->dir);
	char *text = xasprintf("imap_port %u\nimaps_port %u\npop3_port %u\npop3s_port %u\npid %d\n"
	                       "mail_uid %u\nmail_gid %u\n",
	                       d->imap_port, d->imaps_port, d->pop3_port, d->pop3s_port, (int)d->pid,
	                       (unsigned)d->mail_uid, (unsigned)d->mail_gid);
	int rc;

	unlink(tmp);
	rc = dv_write_file(tmp, text, strlen(text), 0644, err);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = error_errno(err, ERR_FATAL, errno, "Cannot rename %s", tmp);
	free(tmp);
	free(path);
	free(text);
	return rc;
}

/* Fill ports etc. from the info file of a started instance; -1 when there
 * is none or its master is gone. */
static int read_info(struct dovecot *d)
{
	char *path = xasprintf("%s/" DV_INFO, d->dir);
	FILE *f = fopen(path, "re");
	char key[32];
	unsigned long v;
	int found = 0;

	free(path);
	if (!f)
		return -1;
	while (fscanf(f, "%31s %lu", key, &v) == 2) {
		found++;
		if (strcmp(key, "imap_port") == 0)
			d->imap_port = (unsigned)v;
		else if (strcmp(key, "imaps_port") == 0)
			d->imaps_port = (unsigned)v;
		else if (strcmp(key, "pop3_port") == 0)
			d->pop3_port = (unsigned)v;
		else if (strcmp(key, "pop3s_port") == 0)
			d->pop3s_port = (unsigned)v;
		else if (strcmp(key, "pid") == 0)
			d->pid = (pid_t)v;
		else if (strcmp(key, "mail_uid") == 0)
			d->mail_uid = (uid_t)v;
		else if (strcmp(key, "mail_gid") == 0)
			d->mail_gid = (gid_t)v;
		else
			found--;
	}
	fclose(f);
	if (found == 7 && dv_is_master(d->pid, d->conf_file))
		return 0;
	d->pid = 0;
	return -1;
}

static int start_in(struct dovecot *d, struct error *err)
{
	struct identity id;
	struct error ignored;

	if (identity_get(&id, err) < 0 || prepare_dir(d, &id, err) < 0)
		return -1;
	if (launch(d, &id, err) == 0 && write_info(d, err) == 0)
		return 0;
	/* Whatever got started must not outlive the failure. */
	dv_kill_master(d->pid ? d->pid : dv_read_pid_file(d->dir), d->conf_file, &ignored);
	return -1;
}

/* Fail the test after removing what a failed start left. */
static void start_failed(struct dovecot *d, const struct error *err)
{
	const char *msg = dv_fail_text(d, "Cannot start the Dovecot test fixture: %s", err->text);
	struct error ignored;

	dv_watchdog_dismiss(d->watchdog, d->watchdog_fd);
	dv_rmtree(d->dir, &ignored);
	dv_free(d);
	dv_abort(msg);
}

struct dovecot *dovecot_start(void)
{
	return dovecot_start_with(NULL);
}

struct dovecot *dovecot_start_with(const char *extra_conf)
{
	struct error err = {0};
	char *dir = make_temp_dir(&err);
	struct dovecot *d;

	if (!dir)
		dv_abort(err.text);
	d = dv_alloc(dir);
	d->extra_conf = extra_conf ? xstrdup(extra_conf) : NULL;
	free(dir);
	if (dv_watchdog_spawn(d->dir, &d->watchdog, &d->watchdog_fd, &err) < 0 || start_in(d, &err) < 0)
		start_failed(d, &err);
	return d;
}

/* Whether the log holds `what` after its first `from` bytes. */
static bool logged_since(const struct dovecot *d, size_t from, const char *what)
{
	char *text = NULL;
	size_t len = 0;
	struct error err;
	bool found;

	if (fs_read_file(d->log_file, 64 * 1024 * 1024, &text, &len, &err) < 0)
		return false;
	found = len > from && strstr(text + from, what) != NULL;
	free(text);
	return found;
}

void dovecot_reconfigure(struct dovecot *d, const char *extra_conf)
{
	char doveadm[DV_TOOL_PATH_MAX];
	const char *argv[] = {doveadm, "-c", d->conf_file, "reload", NULL};
	struct buf out = BUF_INIT, errout = BUF_INIT;
	struct error err = {0};
	struct identity id;
	struct stat st;
	size_t from = stat(d->log_file, &st) == 0 ? (size_t)st.st_size : 0;
	long long deadline = now_ms() + START_TIMEOUT_MS;
	char *conf;
	int status;

	cr_assert(!d->shared, "the shared instance is not reconfigured: start one of your own");
	free(d->extra_conf);
	d->extra_conf = extra_conf ? xstrdup(extra_conf) : NULL;
	if (identity_get(&id, &err) < 0)
		dv_abort(dv_fail_text(d, "Cannot reconfigure Dovecot: %s", err.text));
	conf = config_text(d, &id);
	unlink(d->conf_file);
	status = dv_write_file(d->conf_file, conf, strlen(conf), 0644, &err);
	free(conf);
	dv_tool("doveadm", doveadm);
	if (status == 0)
		status = dv_run(argv, NULL, 0, DV_TOOL_TIMEOUT_MS, 4096, &out, &errout, &err);
	if (status != 0)
		dv_abort(dv_fail_text(d, "doveadm reload failed (%d): %s %s", status,
		                      status < 0 ? err.text : "", buf_cstr(&errout)));
	buf_free(&out);
	buf_free(&errout);
	/* The master reloads on its SIGHUP and says so; logins after that
	 * get the new settings. */
	while (!logged_since(d, from, "SIGHUP received")) {
		if (now_ms() >= deadline)
			dv_abort(dv_fail_text(d, "Dovecot did not reload its configuration within %d ms.",
			                      START_TIMEOUT_MS));
		usleep(5000);
	}
}

void dovecot_kill(struct dovecot *d)
{
	struct error err = {0};

	cr_assert(!d->shared, "the shared instance is not killed: start one of your own");
	if (dv_kill_master(d->pid, d->conf_file, &err) < 0)
		dv_abort(dv_fail_text(d, "Cannot kill Dovecot: %s", err.text));
	d->pid = 0;
}

void dovecot_restart(struct dovecot *d)
{
	char dovecot[DV_TOOL_PATH_MAX];
	const char *argv[] = {dovecot, "-c", d->conf_file, NULL};
	char *out_path = xasprintf("%s/" DV_START_OUT, d->dir);
	long long deadline = now_ms() + START_TIMEOUT_MS;
	struct error err = {0};
	int status;

	cr_assert(!d->shared && d->pid == 0, "dovecot_restart is for an instance dovecot_kill stopped");
	dv_tool("dovecot", dovecot);
	unlink(out_path);
	/* Its pid may still name a zombie (ours to reap, or init's), which
	 * Dovecot would take for itself running. */
	{
		char *pid_file = xasprintf("%s/" DV_PID_FILE, d->dir);
		unlink(pid_file);
		free(pid_file);
	}
	status = dv_run_daemon(argv, out_path, START_TIMEOUT_MS, &err);
	free(out_path);
	if (status > 0)
		error_set(&err, ERR_FATAL, "%s -c %s exited with status %d", dovecot, d->conf_file, status);
	if (status != 0 || settle(d, deadline, &err) < 0 || write_info(d, &err) < 0)
		dv_abort(dv_fail_text(d, "Cannot start Dovecot again: %s", err.text));
}

void dovecot_stop(struct dovecot *d)
{
	struct error err = {0};
	static char text[ERROR_TEXT_MAX + 64];
	int rc;

	if (!d || d->shared)
		return;
	dv_watchdog_dismiss(d->watchdog, d->watchdog_fd);
	rc = dv_kill_master(d->pid, d->conf_file, &err);
	if (dv_rmtree(d->dir, rc == 0 ? &err : NULL) < 0)
		rc = -1;
	snprintf(text, sizeof(text), "Cannot stop the Dovecot test fixture: %s", err.text);
	dv_free(d);
	if (rc < 0)
		dv_abort(text);
}

/* ---- the shared instance ------------------------------------------ */

/* Runner side: the directory and its watchdog. */
static struct {
	char *dir;
	pid_t watchdog;
	int fd;
} runner_slot = {NULL, 0, -1};

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	struct error err = {0};
	char *owner, *pid;

	(void)set;
	runner_slot.dir = make_temp_dir(&err);
	if (runner_slot.dir &&
	    dv_watchdog_spawn(runner_slot.dir, &runner_slot.watchdog, &runner_slot.fd, &err) < 0) {
		rmdir(runner_slot.dir);
		free(runner_slot.dir);
		runner_slot.dir = NULL;
	}
	if (!runner_slot.dir) {
		fprintf(stderr, "twinbox tests: no shared Dovecot, each test process starts its own: %s\n",
		        err.text);
		unsetenv(SHARED_ENV);
		return;
	}
	owner = xasprintf("%s/" DV_OWNER, runner_slot.dir);
	pid = xasprintf("%d\n", (int)getpid());
	if (dv_write_file(owner, pid, strlen(pid), 0644, &err) < 0)
		fprintf(stderr, "twinbox tests: %s\n", err.text);
	else
		setenv(SHARED_ENV, runner_slot.dir, 1);
	free(owner);
	free(pid);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	struct error err = {0};
	char *conf;

	(void)stats;
	if (!runner_slot.dir)
		return;
	dv_watchdog_dismiss(runner_slot.watchdog, runner_slot.fd);
	conf = xasprintf("%s/" DV_CONF, runner_slot.dir);
	if (dv_kill_master(dv_read_pid_file(runner_slot.dir), conf, &err) < 0 ||
	    dv_rmtree(runner_slot.dir, &err) < 0)
		fprintf(stderr, "twinbox tests: stopping the shared Dovecot: %s\n", err.text);
	free(conf);
	free(runner_slot.dir);
	runner_slot.dir = NULL;
	unsetenv(SHARED_ENV);
}

/* Whether the runner that made the shared directory still runs: a
 * worker left over from a killed run must not start a server that nobody
 * would stop. */
static bool owner_running(const struct dovecot *d)
{
	char *path = xasprintf("%s/" DV_OWNER, d->dir);
	char *text = NULL;
	long pid = 0;

	if (fs_read_file(path, 64, &text, NULL, NULL) == 0)
		pid = strtol(text, NULL, 10);
	free(text);
	free(path);
	return pid > 1 && dv_pid_running((pid_t)pid);
}

/* Worker side: take the directory's lock, start Dovecot there unless a
 * sibling worker already has. */
static int shared_attach(struct dovecot *d, struct error *err)
{
	char *lock = xasprintf("%s/" DV_LOCK, d->dir);
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	long long deadline = now_ms() + LOCK_TIMEOUT_MS;
	int rc = 0;

	free(lock);
	if (fd < 0)
		return error_errno(err, ERR_FATAL, errno, "Cannot open the lock of the shared Dovecot in %s",
		                   d->dir);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (now_ms() >= deadline) {
			close(fd);
			return error_set(err, ERR_FATAL,
			                 "Another test held the lock of the shared Dovecot "
			                 "in %s for %d ms.",
			                 d->dir, LOCK_TIMEOUT_MS);
		}
		usleep(5000);
	}
	if (read_info(d) == 0) {
		/* A sibling worker started it. */
	} else if (!owner_running(d)) {
		rc = error_set(err, ERR_FATAL, "The test runner that owns the shared Dovecot in %s is gone.",
		               d->dir);
	} else {
		/* Nothing usable yet, or a worker was killed halfway through
		 * starting: clear its leftovers and start afresh. */
		static const char *const leftovers[] = {DV_SSL, DV_RUN, "state", DV_HOME};
		static const char *const files[] = {DV_CONF, DV_PASSWD, DV_INFO, DV_LOG, DV_START_OUT};
		struct error ignored;

		dv_kill_master(dv_read_pid_file(d->dir), d->conf_file, &ignored);
		for (size_t i = 0; i < sizeof(leftovers) / sizeof(leftovers[0]); i++) {
			char *p = xasprintf("%s/%s", d->dir, leftovers[i]);

			dv_rmtree(p, &ignored);
			free(p);
		}
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			char *p = xasprintf("%s/%s", d->dir, files[i]);

			unlink(p);
			free(p);
		}
		rc = start_in(d, err);
	}
	close(fd);
	return rc;
}

struct dovecot *dovecot_shared(void)
{
	/* One per process: the worker keeps it until it exits. */
	static struct dovecot *shared;
	struct error err = {0};
	const char *dir = getenv(SHARED_ENV);

	if (shared)
		return shared;
	if (!dir || dir[0] != '/') {
		/* Not under our runner: a private instance that the watchdog
		 * removes when this process exits. */
		shared = dovecot_start();
		shared->shared = true;
		return shared;
	}
	shared = dv_alloc(dir);
	shared->shared = true;
	if (shared_attach(shared, &err) < 0) {
		const char *msg = dv_fail_text(shared, "Cannot start the shared Dovecot: %s", err.text);

		dv_free(shared);
		shared = NULL;
		dv_abort(msg);
	}
	return shared;
}
