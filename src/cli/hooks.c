/*
 * An account's hooks (hooks.h): what the events of a run say, kept
 * within bounds, and the commands run from it. A new message's header is
 * read from its file in the Maildir once the run is over, only for the
 * messages that get a call of their own: the engine reads headers only
 * where it matches messages by content, and a copy streams bytes it
 * does not parse, so reading the few files afterwards is the cheapest
 * way that tells exactly what arrived.
 */
#include "hooks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twinbox/maildir/flags.h"
#include "twinbox/maildir/folder.h"
#include "twinbox/maildir/maildir.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/command.h"
#include "twinbox/util/header.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* Bytes of a message's start read for its header block. */
#define HEADER_READ_MAX (64 * 1024)

/* A message copied into the Maildir that gets a call of its own. */
struct new_msg {
	char *folder; /* the engine's name */
	char *target; /* the Maildir's name for that folder */
	char *name;   /* the message's Maildir id */
	uint64_t letters;
};

/* Folder names, deduplicated when used (sorted then). */
struct names {
	char **v;
	size_t n, cap;
};

struct hooks {
	const struct config_account *a;
	const struct config_hooks *cfg;
	struct maildir *md; /* side B's Maildir, where new mail is read */
	/* after_sync */
	bool changed;
	size_t pulled, pushed, flags, deleted;
	struct names folders;
	/* new_mail */
	struct new_msg *msgs; /* the first new_mail_max */
	size_t msg_count, count;
	struct names more; /* the folders of the others */
};

static void names_add(struct names *s, const char *name)
{
	/* Copies come folder by folder: most repeats are the last name. */
	if (s->n && strcmp(s->v[s->n - 1], name) == 0)
		return;
	s->v = xgrow(s->v, &s->cap, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = xstrdup(name);
}

static void names_clear(struct names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names sorted, each once, made inert, one per line, at most
 * HOOKS_FOLDERS_MAX bytes of whole names (fresh). */
static char *names_lines(struct names *s)
{
	struct buf b;

	buf_init(&b, HOOKS_FOLDERS_MAX);
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), cmp_name);
	for (size_t i = 0; i < s->n; i++) {
		char *shown;
		size_t mark = b.len;
		if (i && strcmp(s->v[i], s->v[i - 1]) == 0)
			continue;
		shown = header_inert(s->v[i]);
		if ((b.len && buf_append_byte(&b, '\n') < 0) || buf_append_str(&b, shown) < 0)
			buf_truncate(&b, mark);
		free(shown);
	}
	return buf_detach(&b, NULL);
}

struct hooks *hooks_new(const struct config_account *a, bool dry_run)
{
	const struct config_side *b = &a->side[SIDE_B];
	struct hooks *h;

	if (dry_run || (!a->hooks.after_sync && !a->hooks.new_mail))
		return NULL;
	h = xcalloc(1, sizeof(*h));
	h->a = a;
	h->cfg = &a->hooks;
	/* The config gives new_mail only to accounts that copy into a
	 * Maildir, side B (config.h). */
	if (h->cfg->new_mail && b->store == CONFIG_STORE_MAILDIR)
		h->md = maildir_new(b->maildir.path,
		                    b->maildir.layout == CONFIG_LAYOUT_NESTED ? MAILDIR_LAYOUT_NESTED
		                                                              : MAILDIR_LAYOUT_MAILDIRPP,
		                    '/');
	return h;
}

static void forget(struct hooks *h)
{
	for (size_t i = 0; i < h->msg_count; i++) {
		free(h->msgs[i].folder);
		free(h->msgs[i].target);
		free(h->msgs[i].name);
	}
	h->msg_count = h->count = 0;
	h->changed = false;
	h->pulled = h->pushed = h->flags = h->deleted = 0;
	names_clear(&h->folders);
	names_clear(&h->more);
}

void hooks_free(struct hooks *h)
{
	if (!h)
		return;
	forget(h);
	free(h->msgs);
	free(h->folders.v);
	free(h->more.v);
	if (h->md)
		maildir_free(h->md);
	free(h);
}

static void folder_changed(struct hooks *h, const char *folder)
{
	h->changed = true;
	names_add(&h->folders, folder);
}

static void new_message(struct hooks *h, const struct sync_event *ev)
{
	const char *name = ev->id[SIDE_B].name;

	h->count++;
	if (!name || h->msg_count >= h->cfg->new_mail_max) {
		names_add(&h->more, ev->folder);
		return;
	}
	if (!h->msgs)
		h->msgs = xcalloc(h->cfg->new_mail_max, sizeof(*h->msgs));
	h->msgs[h->msg_count++] = (struct new_msg){
	    .folder = xstrdup(ev->folder),
	    .target = xstrdup(ev->target_folder ? ev->target_folder : ev->folder),
	    .name = xstrdup(name),
	    .letters = maildir_flags_of_mail(ev->flags, ev->keywords),
	};
}

void hooks_event(struct hooks *h, const struct sync_event *ev)
{
	const struct sync_folder_report *r = ev->report;

	if (!h || ev->dry_run)
		return;
	switch (ev->kind) {
	case SYNC_EVENT_FOLDER_END:
		if (!r)
			break;
		h->pulled += r->to_local;
		h->pushed += r->to_remote;
		h->flags += r->flags_local + r->flags_remote;
		h->deleted += r->deleted_local + r->deleted_remote;
		if (r->to_local || r->to_remote || r->flags_local || r->flags_remote || r->deleted_local ||
		    r->deleted_remote || r->created_local || r->created_remote)
			folder_changed(h, ev->folder);
		break;
	case SYNC_EVENT_FOLDER_REMOVED:
		folder_changed(h, ev->folder);
		break;
	case SYNC_EVENT_DONE:
		if (ev->action == PLAN_COPY && ev->side == SIDE_B && h->md)
			new_message(h, ev);
		break;
	default:
		break;
	}
}

void hooks_import(struct hooks *h, const char *folder, const struct pop3_import_report *r)
{
	if (!h)
		return;
	h->pulled += r->downloaded;
	h->deleted += r->deleted;
	if (r->downloaded || r->deleted)
		folder_changed(h, folder);
}

/* ---- running ---- */

/* Run hook `hook` (its command `command`) with `env`; a failure is a
 * warning. */
static void run_hook(const struct hooks *h, const char *hook, const char *command, const char *const *env)
{
	int timeout_ms = h->cfg->timeout_ms > 0 ? h->cfg->timeout_ms : CONFIG_HOOKS_TIMEOUT_DEFAULT_S * 1000;
	struct command_options o = {.timeout_ms = timeout_ms, .env = env};
	struct command_result r;
	char note[COMMAND_NOTE_SIZE];
	const char *acct = h->a->name;

	log_debug("%s: running the %s hook", acct, hook);
	if (command_run(command, &o, &r) < 0) {
		struct error err;
		error_errno(&err, ERR_MESSAGE, errno, "%s: the %s hook could not be started", acct, hook);
		log_warn("%s", err.text);
		return;
	}
	command_stderr_note(&r, note, sizeof(note));
	if (r.end == COMMAND_TIMED_OUT)
		log_warn("%s: the %s hook did not finish within %d s and was killed (hooks: timeout)%s", acct,
		         hook, timeout_ms / 1000, note);
	else if (r.end == COMMAND_SIGNALED)
		log_warn("%s: the %s hook was killed by signal %d (%s)%s", acct, hook, r.status,
		         strsignal(r.status), note);
	else if (r.end != COMMAND_EXITED)
		log_warn(
		    "%s: lost the exit status of the %s hook (it was collected elsewhere); this is a bug",
		    acct, hook);
	else if (r.status != 0)
		log_warn("%s: the %s hook failed with exit status %d%s%s", acct, hook, r.status,
		         r.status == 127   ? ", command not found"
		         : r.status == 126 ? ", command not executable"
		                           : "",
		         note);
	command_result_free(&r);
}

/* An environment: entries added with env_add, NULL-terminated. */
struct env {
	char *v[16];
	size_t n;
};

static void env_add(struct env *e, const char *name, const char *value)
{
	e->v[e->n++] = xasprintf("%s=%s", name, value ? value : "");
	e->v[e->n] = NULL;
}

static void env_count(struct env *e, const char *name, size_t n)
{
	char text[32];

	snprintf(text, sizeof(text), "%zu", n);
	env_add(e, name, text);
}

static void env_free(struct env *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	e->n = 0;
}

static void after_sync(struct hooks *h)
{
	struct env e = {.n = 0};
	char *folders = names_lines(&h->folders);

	env_add(&e, "TWINBOX_HOOK", "after_sync");
	env_add(&e, "TWINBOX_ACCOUNT", h->a->name);
	env_add(&e, "TWINBOX_FOLDERS", folders);
	env_count(&e, "TWINBOX_PULLED", h->pulled);
	env_count(&e, "TWINBOX_PUSHED", h->pushed);
	env_count(&e, "TWINBOX_FLAGS", h->flags);
	env_count(&e, "TWINBOX_DELETED", h->deleted);
	run_hook(h, "after_sync", h->cfg->after_sync, (const char *const *)e.v);
	env_free(&e);
	free(folders);
}

/* What new_mail says of one message. */
struct shown {
	char *path, *from, *subject, *date, *message_id;
};

static void shown_free(struct shown *s)
{
	free(s->path);
	free(s->from);
	free(s->subject);
	free(s->date);
	free(s->message_id);
}

/* The header block at the start of `fd` (up to the first empty line,
 * at most HEADER_READ_MAX bytes) into b. */
static void read_header(int fd, struct buf *b)
{
	char chunk[4096];
	ssize_t n;

	while (b->len < HEADER_READ_MAX && !strstr(buf_cstr(b), "\n\n") && !strstr(buf_cstr(b), "\n\r\n")) {
		size_t want =
		    HEADER_READ_MAX - b->len < sizeof(chunk) ? HEADER_READ_MAX - b->len : sizeof(chunk);
		n = read(fd, chunk, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_append(b, chunk, (size_t)n);
	}
}

static char *field(const struct buf *b, const char *name)
{
	char *raw = header_field(b->data ? b->data : "", b->len, name);
	char *shown = raw ? header_display(raw) : NULL;

	free(raw);
	return shown;
}

/* Find message `m` in the Maildir and read its header. What cannot be
 * read stays NULL ("" in the environment): a mail reader may have moved
 * or deleted the file since. */
static void read_message(const struct hooks *h, const struct new_msg *m, struct shown *s)
{
	struct maildir_folder *f = NULL;
	struct maildir_msg mm;
	struct buf b = BUF_INIT;
	struct error err;
	char file[MAILDIR_NAME_MAX + 1];
	size_t i;
	int fd;

	error_clear(&err);
	if (maildir_folder_open(h->md, m->target, NULL, &f, &err) < 0 ||
	    maildir_folder_adopt(f, m->name, m->letters, &i, &err) != 1) {
		log_debug("%s: %s: new message %s not found for the new_mail hook%s%s", h->a->name, m->folder,
		          m->name, err.text[0] ? ": " : "", err.text);
		maildir_folder_close(f);
		return;
	}
	maildir_folder_msg(f, i, &mm);
	maildir_folder_file_name(f, i, file);
	s->path =
	    xasprintf("%s/%s/%s", maildir_folder_path(f), mm.subdir == MAILDIR_CUR ? "cur" : "new", file);
	if (maildir_folder_open_msg(f, m->name, &fd, NULL, NULL, &err) == 0) {
		read_header(fd, &b);
		close(fd);
		s->from = field(&b, "From");
		s->subject = field(&b, "Subject");
		s->date = field(&b, "Date");
		s->message_id = field(&b, "Message-ID");
	}
	buf_free(&b);
	maildir_folder_close(f);
}

/* The calls of new_mail: the message `s` in `folder`, or (more > 0) the
 * others, in `folder`s. */
static void new_mail(struct hooks *h, const char *folder, const struct shown *s, size_t more)
{
	struct env e = {.n = 0};
	char *shown_folder = more ? NULL : header_inert(folder);

	env_add(&e, "TWINBOX_HOOK", "new_mail");
	env_add(&e, "TWINBOX_ACCOUNT", h->a->name);
	env_add(&e, "TWINBOX_FOLDER", more ? folder : shown_folder);
	env_add(&e, "TWINBOX_FROM", s->from);
	env_add(&e, "TWINBOX_SUBJECT", s->subject);
	env_add(&e, "TWINBOX_DATE", s->date);
	env_add(&e, "TWINBOX_MESSAGE_ID", s->message_id);
	env_add(&e, "TWINBOX_PATH", s->path);
	env_count(&e, "TWINBOX_COUNT", h->count);
	env_count(&e, "TWINBOX_MORE", more);
	run_hook(h, "new_mail", h->cfg->new_mail, (const char *const *)e.v);
	env_free(&e);
	free(shown_folder);
}

static void new_mails(struct hooks *h)
{
	size_t more = h->count - h->msg_count;

	for (size_t i = 0; i < h->msg_count; i++) {
		struct shown s = {0};
		read_message(h, &h->msgs[i], &s);
		new_mail(h, h->msgs[i].folder, &s, 0);
		shown_free(&s);
	}
	if (more) {
		struct shown s = {0};
		char *folders = names_lines(&h->more);
		s.from = xstrdup("twinbox");
		s.subject = xasprintf("%zu more new message%s", more, more == 1 ? "" : "s");
		new_mail(h, folders, &s, more);
		shown_free(&s);
		free(folders);
	}
}

void hooks_run(struct hooks *h)
{
	if (!h)
		return;
	if (h->changed && h->cfg->after_sync)
		after_sync(h);
	if (h->count && h->cfg->new_mail)
		new_mails(h);
	forget(h);
}
