/*
 * Seeding and reading back a fixture instance through doveadm (with the
 * instance's own config, so the system Dovecot is never involved).
 *
 * Output formats used: "-f tab" (a header line of field names, then one
 * tab separated line per row) for status, and "-f pager" for fetch:
 * records separated by "\f\n", one "field: value" line per field, except
 * "text:" which is followed by the raw message. We take exactly
 * size.physical bytes of it, so any byte in a message parses right.
 */
#include "dovecot_p.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

#define SMALL_OUTPUT  (1024 * 1024)
#define BODIES_OUTPUT ((size_t)1 << 30)
#define SEED_MAX      1000000u

/* Run doveadm with the instance config; returns the exit status, stderr
 * in `errout`. Fails the test if it could not run at all. */
static int doveadm(struct dovecot *d, const char *const *args, const void *in, size_t in_len,
                   size_t out_limit, struct buf *out, struct buf *errout)
{
	char tool[DV_TOOL_PATH_MAX];
	const char *argv[16];
	struct error err = {0};
	size_t n = 0;
	int status;

	dv_tool("doveadm", tool);
	argv[n++] = tool;
	argv[n++] = "-c";
	argv[n++] = d->conf_file;
	for (; *args && n < sizeof(argv) / sizeof(argv[0]) - 1; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	status = dv_run(argv, in, in_len, DV_TOOL_TIMEOUT_MS, out_limit, out, errout, &err);
	if (status < 0) {
		const char *msg = dv_fail_text(d, "%s", err.text);

		buf_free(out);
		buf_free(errout);
		dv_abort(msg);
	}
	return status;
}

/* Like doveadm(), failing the test unless it exits 0. */
static void doveadm_ok(struct dovecot *d, const char *const *args, const void *in, size_t in_len,
                       size_t out_limit, struct buf *out)
{
	struct buf errout = BUF_INIT;
	int status = doveadm(d, args, in, in_len, out_limit, out, &errout);

	if (status != 0) {
		struct buf cmd = BUF_INIT;
		const char *msg;

		for (const char *const *a = args; *a; a++)
			buf_printf(&cmd, " %s", *a);
		msg = dv_fail_text(d, "doveadm%s exited with status %d: %s", buf_cstr(&cmd), status,
		                   buf_cstr(&errout));
		buf_free(&cmd);
		buf_free(&errout);
		buf_free(out);
		dv_abort(msg);
	}
	buf_free(&errout);
}

static bool is_inbox(const char *mailbox)
{
	return strcasecmp(mailbox, "INBOX") == 0;
}

void dovecot_create_mailbox(struct dovecot *d, const char *mailbox)
{
	const char *args[] = {"mailbox", "create", "-u", d->user, mailbox, NULL};
	struct buf out = BUF_INIT, errout = BUF_INIT;
	int status;

	if (is_inbox(mailbox))
		return;
	status = doveadm(d, args, NULL, 0, SMALL_OUTPUT, &out, &errout);
	buf_free(&out);
	if (status != 0 && !strstr(buf_cstr(&errout), "Mailbox already exists")) {
		const char *msg = dv_fail_text(d, "Cannot create mailbox \"%s\" (doveadm status %d): %s",
		                               mailbox, status, buf_cstr(&errout));

		buf_free(&errout);
		dv_abort(msg);
	}
	buf_free(&errout);
}

/* One field of the single row that "-f tab mailbox status" prints. */
static unsigned long status_field(struct dovecot *d, const char *mailbox, const char *field)
{
	const char *args[] = {"-f", "tab", "mailbox", "status", "-u", d->user, field, mailbox, NULL};
	struct buf out = BUF_INIT;
	const char *text, *row;
	char *end;
	unsigned long v;
	int col = 0;

	doveadm_ok(d, args, NULL, 0, SMALL_OUTPUT, &out);
	text = buf_cstr(&out);
	row = strchr(text, '\n');
	/* Its column in the header; the value is the last column, as the
	 * mailbox name (first) might contain anything but a tab. */
	for (const char *p = text; row && p < row; p++)
		col += *p == '\t';
	for (row = row ? row + 1 : NULL; row && col > 0; col--)
		row = strchr(row, '\t') ? strchr(row, '\t') + 1 : NULL;
	errno = 0;
	v = row ? strtoul(row, &end, 10) : 0;
	if (!row || errno || end == row || (*end != '\n' && *end != '\0')) {
		const char *msg = dv_fail_text(d, "Unexpected output of doveadm mailbox status %s \"%s\": %s",
		                               field, mailbox, text);

		buf_free(&out);
		dv_abort(msg);
	}
	buf_free(&out);
	return v;
}

unsigned dovecot_append(struct dovecot *d, const char *mailbox, const char *message, size_t len,
                        const char *flags)
{
	const char *save[] = {"save", "-u", d->user, "-m", mailbox, NULL};
	struct buf out = BUF_INIT;
	unsigned long uid;

	dovecot_create_mailbox(d, mailbox);
	doveadm_ok(d, save, message, len, SMALL_OUTPUT, &out);
	buf_free(&out);
	/* doveadm save does not print the UID; nobody else appends here
	 * (see the header), so it is the one before UIDNEXT. */
	uid = status_field(d, mailbox, "uidnext") - 1;
	if (uid == 0)
		dv_abort(dv_fail_text(d, "No UID after saving into \"%s\".", mailbox));
	if (flags && *flags) {
		char uid_text[24];
		const char *add[] = {"flags",   "add",   "-u",  d->user,  flags,
		                     "mailbox", mailbox, "uid", uid_text, NULL};

		snprintf(uid_text, sizeof(uid_text), "%lu", uid);
		doveadm_ok(d, add, NULL, 0, SMALL_OUTPUT, &out);
		buf_free(&out);
	}
	return (unsigned)uid;
}

static char *mailbox_path(struct dovecot *d, const char *mailbox)
{
	const char *args[] = {"mailbox", "path", "-u", d->user, mailbox, NULL};
	struct buf out = BUF_INIT;
	char *path;
	size_t len;

	doveadm_ok(d, args, NULL, 0, SMALL_OUTPUT, &out);
	path = buf_detach(&out, &len);
	while (len > 0 && (path[len - 1] == '\n' || path[len - 1] == '\r'))
		path[--len] = '\0';
	if (path[0] != '/' || strchr(path, '\n')) {
		const char *msg =
		    dv_fail_text(d, "doveadm mailbox path \"%s\" printed \"%s\".", mailbox, path);

		free(path);
		dv_abort(msg);
	}
	return path;
}

/* Deliver one message the Maildir way: write into tmp/, then rename into
 * new/. Returns 0 or an errno value. */
static int deliver(const struct dovecot *d, const char *maildir, const char *name, const char *msg,
                   size_t len)
{
	char *tmp = xasprintf("%s/tmp/%s", maildir, name);
	char *dst = xasprintf("%s/new/%s", maildir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	int rc = 0;

	if (fd < 0) {
		rc = errno;
	} else {
		struct error err;

		/* As root, files must belong to the mail user, whom Dovecot
		 * runs as when it moves them to cur/. */
		if (fs_write_all(fd, msg, len, tmp, &err) < 0)
			rc = EIO;
		else if (geteuid() == 0 && fchown(fd, d->mail_uid, d->mail_gid) < 0)
			rc = errno;
		if (close(fd) < 0 && rc == 0)
			rc = errno;
		if (rc == 0 && rename(tmp, dst) < 0)
			rc = errno;
		if (rc != 0)
			unlink(tmp);
	}
	free(tmp);
	free(dst);
	return rc;
}

char *dovecot_maildir(struct dovecot *d, const char *mailbox)
{
	dovecot_create_mailbox(d, mailbox);
	/* Also makes Dovecot create INBOX's Maildir on first use. */
	(void)status_field(d, mailbox, "messages");
	return mailbox_path(d, mailbox);
}

void dovecot_drop(struct dovecot *d, const char *maildir, unsigned count, unsigned seed, size_t attach_size)
{
	static unsigned calls;
	long long stamp = (long long)time(NULL);

	if (count > SEED_MAX)
		dv_abort(dv_fail_text(d, "dovecot_drop: count %u is above %u.", count, SEED_MAX));
	calls++;
	for (unsigned i = 0; i < count; i++) {
		size_t len;
		char *msg = test_message(seed + i, i % 5 == 4 ? attach_size : 0, &len);
		/* Dovecot gives new files UIDs in the order of the time in
		 * their names (seconds, then the M microseconds field), so
		 * i in that field makes UIDs follow i. */
		char *name = xasprintf("%lld.M%06uP%dQ%u.twinbox,S=%zu", stamp, i, (int)getpid(), calls, len);
		int rc = deliver(d, maildir, name, msg, len);

		free(msg);
		free(name);
		if (rc != 0)
			dv_abort(dv_fail_text(d, "Cannot deliver message %u into %s: %s", i, maildir,
			                      strerror(rc)));
	}
}

void dovecot_seed(struct dovecot *d, const char *mailbox, unsigned count, unsigned seed, size_t attach_size)
{
	unsigned long before, after;
	char *maildir;

	if (count > SEED_MAX)
		dv_abort(dv_fail_text(d, "dovecot_seed: count %u is above %u.", count, SEED_MAX));
	maildir = dovecot_maildir(d, mailbox);
	before = status_field(d, mailbox, "messages");
	dovecot_drop(d, maildir, count, seed, attach_size);
	free(maildir);
	/* Status makes Dovecot pick the new files up and assign UIDs now,
	 * not when the code under test first looks. */
	after = status_field(d, mailbox, "messages");
	if (after != before + count)
		dv_abort(dv_fail_text(d, "Seeded %u messages into \"%s\" but Dovecot counts %lu (was %lu).",
		                      count, mailbox, after, before));
}

/* Parse one "key: value\n" line at *p (within end); the value is
 * NUL-free text up to the newline. */
static bool pager_field(const char **p, const char *end, const char *key, const char **value_r, size_t *len_r)
{
	size_t klen = strlen(key);
	const char *nl;

	if ((size_t)(end - *p) < klen + 1 || memcmp(*p, key, klen) != 0 || (*p)[klen] != ':')
		return false;
	nl = memchr(*p + klen + 1, '\n', (size_t)(end - *p - (ptrdiff_t)klen - 1));
	if (!nl)
		return false;
	*value_r = *p + klen + 1;
	if (*value_r < nl && **value_r == ' ')
		(*value_r)++;
	*len_r = (size_t)(nl - *value_r);
	*p = nl + 1;
	return true;
}

static bool pager_number(const char **p, const char *end, const char *key, unsigned long *v_r)
{
	const char *v;
	size_t len;
	char tmp[24];
	char *e;

	if (!pager_field(p, end, key, &v, &len) || len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	errno = 0;
	*v_r = strtoul(tmp, &e, 10);
	return errno == 0 && *e == '\0';
}

/* The flags without \Recent, which only says which session saw the
 * message first. */
static char *clean_flags(const char *v, size_t len)
{
	struct buf b = BUF_INIT;
	char *copy = xstrndup(v, len), *save = NULL;

	for (char *f = strtok_r(copy, " ", &save); f; f = strtok_r(NULL, " ", &save))
		if (strcasecmp(f, "\\Recent") != 0)
			buf_printf(&b, "%s%s", b.len ? " " : "", f);
	free(copy);
	return buf_detach(&b, NULL);
}

/* One record; returns false on anything unexpected. */
static bool parse_record(const char **p, const char *end, bool bodies, struct dovecot_msg *m)
{
	unsigned long uid, vsize, psize = 0;
	const char *flags;
	size_t flags_len;

	if (!pager_number(p, end, "uid", &uid) || uid == 0 || uid > 0xffffffffUL ||
	    !pager_field(p, end, "flags", &flags, &flags_len) ||
	    !pager_number(p, end, "size.virtual", &vsize))
		return false;
	if (bodies) {
		if (!pager_number(p, end, "size.physical", &psize) || (size_t)(end - *p) < 6 ||
		    memcmp(*p, "text:\n", 6) != 0 || (size_t)(end - *p - 6) < psize)
			return false;
		*p += 6;
		m->body = xmalloc(psize + 1);
		memcpy(m->body, *p, psize);
		m->body[psize] = '\0';
		m->body_len = psize;
		*p += psize;
	}
	m->uid = (unsigned)uid;
	m->flags = clean_flags(flags, flags_len);
	m->size = vsize;
	/* The separator: "\f\n", after a "\n" that doveadm adds when the
	 * value did not end with one. */
	if (*p < end && **p == '\n' && (end - *p == 1 || (*p)[1] == '\f'))
		(*p)++;
	if (*p == end)
		return true;
	if (end - *p >= 2 && memcmp(*p, "\f\n", 2) == 0) {
		*p += 2;
		return true;
	}
	return false;
}

struct dovecot_msg *dovecot_list(struct dovecot *d, const char *mailbox, bool bodies, size_t *count_r)
{
	const char *fields = bodies ? "uid flags size.virtual size.physical text" : "uid flags size.virtual";
	const char *args[] = {"-f", "pager", "fetch", "-u", d->user, fields, "mailbox", mailbox, "all", NULL};
	struct buf out = BUF_INIT;
	struct dovecot_msg *msgs = NULL;
	size_t count = 0, cap = 0;
	/* Fails the test for a missing mailbox, which fetch would list as
	 * empty; also the count to check the parse against. */
	unsigned long expected = status_field(d, mailbox, "messages");
	const char *p, *end;

	doveadm_ok(d, args, NULL, 0, bodies ? BODIES_OUTPUT : SMALL_OUTPUT * 64, &out);
	p = out.data ? out.data : "";
	end = p + out.len;
	while (p < end) {
		msgs = xgrow(msgs, &cap, count + 1, sizeof(*msgs));
		memset(&msgs[count], 0, sizeof(msgs[count]));
		if (!parse_record(&p, end, bodies, &msgs[count])) {
			const char *msg =
			    dv_fail_text(d,
			                 "Cannot parse doveadm fetch output for \"%s\" at byte %zu "
			                 "(record %zu).",
			                 mailbox, (size_t)(p - out.data), count + 1);

			dovecot_msgs_free(msgs, count + 1);
			buf_free(&out);
			dv_abort(msg);
		}
		count++;
	}
	buf_free(&out);
	if (count != expected) {
		const char *msg = dv_fail_text(d,
		                               "doveadm fetch gave %zu messages of \"%s\", status said %lu; "
		                               "was the mailbox changed meanwhile?",
		                               count, mailbox, expected);

		dovecot_msgs_free(msgs, count);
		dv_abort(msg);
	}
	*count_r = count;
	return msgs;
}

void dovecot_msgs_free(struct dovecot_msg *msgs, size_t count)
{
	for (size_t i = 0; msgs && i < count; i++) {
		free(msgs[i].flags);
		free(msgs[i].body);
	}
	free(msgs);
}

bool dovecot_msg_has_flag(const struct dovecot_msg *m, const char *flag)
{
	size_t len = strlen(flag);

	for (const char *p = m->flags; p && *p;) {
		size_t n = strcspn(p, " ");

		if (n == len && strncasecmp(p, flag, len) == 0)
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **dovecot_mailboxes(struct dovecot *d)
{
	const char *args[] = {"mailbox", "list", "-u", d->user, NULL};
	struct buf out = BUF_INIT;
	char **v = NULL;
	size_t count = 0, cap = 0;
	char *save = NULL;

	doveadm_ok(d, args, NULL, 0, SMALL_OUTPUT, &out);
	for (char *line = out.data ? strtok_r(out.data, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		v = xgrow(v, &cap, count + 2, sizeof(*v));
		v[count++] = xstrdup(line);
	}
	buf_free(&out);
	v = xgrow(v, &cap, count + 1, sizeof(*v));
	v[count] = NULL;
	qsort(v, count, sizeof(*v), cmp_str);
	return v;
}

void dovecot_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* ---- changing the server behind the client's back ------------------- */

void dovecot_flags(struct dovecot *d, const char *mailbox, unsigned uid, const char *op, const char *flags)
{
	char uid_text[24];
	const char *args[] = {"flags", op, "-u", d->user, flags, "mailbox", mailbox, "uid", uid_text, NULL};
	struct buf out = BUF_INIT;

	snprintf(uid_text, sizeof(uid_text), "%u", uid);
	doveadm_ok(d, args, NULL, 0, SMALL_OUTPUT, &out);
	buf_free(&out);
}

void dovecot_expunge(struct dovecot *d, const char *mailbox, unsigned uid)
{
	char uid_text[24];
	const char *args[] = {"expunge", "-u", d->user, "mailbox", mailbox, "uid", uid_text, NULL};
	struct buf out = BUF_INIT;

	snprintf(uid_text, sizeof(uid_text), "%u", uid);
	doveadm_ok(d, args, NULL, 0, SMALL_OUTPUT, &out);
	buf_free(&out);
}

void dovecot_set_uidvalidity(struct dovecot *d, const char *mailbox, unsigned uidvalidity)
{
	char value[24];
	const char *args[] = {"mailbox", "update", "-u", d->user, "--uid-validity", value, mailbox, NULL};
	struct buf out = BUF_INIT;

	snprintf(value, sizeof(value), "%u", uidvalidity);
	doveadm_ok(d, args, NULL, 0, SMALL_OUTPUT, &out);
	buf_free(&out);
}

void dovecot_delete_mailbox(struct dovecot *d, const char *mailbox)
{
	const char *args[] = {"mailbox", "delete", "-u", d->user, mailbox, NULL};
	struct buf out = BUF_INIT;

	doveadm_ok(d, args, NULL, 0, SMALL_OUTPUT, &out);
	buf_free(&out);
}

/* ---- more users ----------------------------------------------------- */

/* Wait (at most 5 s) until `doveadm args` succeeds: Dovecot took a
 * change of the passwd-file; else fail the test with `what`. */
static void passwd_read_again(struct dovecot *d, const char *const *args, const char *what)
{
	for (int tries = 0;; tries++) {
		struct buf out = BUF_INIT, errout = BUF_INIT;
		int status = doveadm(d, args, NULL, 0, SMALL_OUTPUT, &out, &errout);

		buf_free(&out);
		buf_free(&errout);
		if (status == 0)
			return;
		if (tries == 50)
			dv_abort(dv_fail_text(d, "%s after 5 s (doveadm %s %s)", what, args[0], args[1]));
		usleep(100 * 1000);
	}
}

static void add_user_line(struct dovecot *d, FILE *f, const char *user)
{
	char *home = xasprintf("%s/" DV_HOME "-%s", d->dir, user);

	if (strspn(user, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(user))
		dv_abort(dv_fail_text(d, "bad user name %s", user));
	if (mkdir(home, 0700) < 0 || (geteuid() == 0 && chown(home, d->mail_uid, d->mail_gid) < 0))
		dv_abort(dv_fail_text(d, "cannot make %s: %s", home, strerror(errno)));
	fprintf(f, "%s:{PLAIN}%s:%u:%u::%s::\n", user, d->password, (unsigned)d->mail_uid,
	        (unsigned)d->mail_gid, home);
	free(home);
}

void dovecot_add_users(struct dovecot *d, const char *const *users, size_t count)
{
	char *passwd = xasprintf("%s/" DV_PASSWD, d->dir);
	FILE *f = fopen(passwd, "a");

	if (!f)
		dv_abort(dv_fail_text(d, "cannot open %s: %s", passwd, strerror(errno)));
	for (size_t i = 0; i < count; i++)
		add_user_line(d, f, users[i]);
	if (fclose(f) != 0)
		dv_abort(dv_fail_text(d, "cannot write %s: %s", passwd, strerror(errno)));
	free(passwd);
	/* Dovecot reads the passwd-file again when it changed, looking at
	 * most once a second: wait until it knows the last one. */
	if (count)
		passwd_read_again(d, (const char *const[]){"user", users[count - 1], NULL},
		                  "Dovecot does not know the new user");
}

unsigned long dovecot_message_count(struct dovecot *d, const char *mailbox)
{
	return status_field(d, mailbox, "messages");
}

/* ---- sessions and passwords ---------------------------------------- */

void dovecot_set_password(struct dovecot *d, const char *password)
{
	char *passwd = xasprintf("%s/" DV_PASSWD, d->dir), *text = NULL, *tmp;
	size_t len = 0, ulen = strlen(d->user);
	struct buf out = BUF_INIT;
	struct error err;

	if (fs_read_file(passwd, 1 << 20, &text, &len, &err) < 0)
		dv_abort(dv_fail_text(d, "%s", err.text));
	for (char *line = text, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		/* "user:{PLAIN}password:uid:gid::home::" */
		if (strncmp(line, d->user, ulen) == 0 && strncmp(line + ulen, ":{PLAIN}", 8) == 0) {
			char *rest = strchr(line + ulen + 8, ':');
			buf_append(&out, line, ulen + 8);
			buf_append_str(&out, password);
			buf_append(&out, rest, (size_t)(nl + 1 - rest));
		} else {
			buf_append(&out, line, (size_t)(nl + 1 - line));
		}
	}
	free(text);
	/* Replaced whole (a new inode), so Dovecot sees the change. */
	tmp = xasprintf("%s.new", passwd);
	unlink(tmp);
	if (dv_write_file(tmp, out.data, out.len, 0644, &err) < 0 || rename(tmp, passwd) < 0)
		dv_abort(dv_fail_text(d, "cannot write %s: %s", passwd, err.text));
	buf_free(&out);
	free(tmp);
	free(passwd);
	free(d->password);
	d->password = xstrdup(password);
	/* Likewise: wait until the new password works. */
	passwd_read_again(d, (const char *const[]){"auth", "test", d->user, password, NULL},
	                  "the new password does not work");
}

void dovecot_kick(struct dovecot *d)
{
	const char *args[] = {"kick", d->user, NULL};
	struct buf out = BUF_INIT;

	doveadm_ok(d, args, NULL, 0, SMALL_OUTPUT, &out);
	buf_free(&out);
}

size_t dovecot_imap_pids(const struct dovecot *d, pid_t *pids, size_t max)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;
	size_t n = 0;

	if (!dir)
		dv_abort(dv_fail_text(d, "cannot read /proc: %s", strerror(errno)));
	while ((e = readdir(dir)) != NULL && n < max) {
		char path[300], stat[512], comm[64];
		int pid, ppid;
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		/* "pid (comm) state ppid ...": Dovecot's mail processes are
		 * "imap" children of the master. */
		if (fgets(stat, sizeof(stat), f) &&
		    sscanf(stat, "%d (%63[^)]) %*c %d", &pid, comm, &ppid) == 3 && ppid == d->pid &&
		    strcmp(comm, "imap") == 0)
			pids[n++] = pid;
		fclose(f);
	}
	closedir(dir);
	return n;
}
