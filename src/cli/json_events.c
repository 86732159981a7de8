/*
 * --json: every event of a sync as one JSON object on a line of its
 * own (docs/json.md). Strings go through the log's escaping rule first
 * (util/log.h): what a server or a file name holds cannot forge a line,
 * drive a terminal or make the line invalid JSON; a control character
 * or a byte that is not UTF-8 reads "\xHH" as in the log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "twinbox/state/lock.h"
#include "twinbox/state/run.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/mailflags.h"
#include "twinbox/util/xmalloc.h"

static void put_key(struct buf *b, const char *key)
{
	buf_printf(b, ",\"%s\":", key);
}

static void put_str(struct buf *b, const char *key, const char *value)
{
	char *clean;

	if (!value)
		return;
	clean = log_escape(value);
	put_key(b, key);
	buf_append_byte(b, '"');
	for (const char *p = clean; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_append_byte(b, '\\');
		buf_append_byte(b, *p);
	}
	buf_append_byte(b, '"');
	free(clean);
}

static void put_num(struct buf *b, const char *key, unsigned long long v)
{
	put_key(b, key);
	buf_printf(b, "%llu", v);
}

static void put_bool(struct buf *b, const char *key, bool v)
{
	put_key(b, key);
	buf_printf(b, "%s", v ? "true" : "false");
}

static void begin(struct buf *b, const char *event, const char *account)
{
	buf_printf(b, "{\"schema\":%d", JSON_SCHEMA);
	put_str(b, "event", event);
	put_str(b, "account", account);
}

static void finish(struct buf *b)
{
	buf_append(b, "}\n", 2);
	flockfile(stdout);
	fwrite(b->data, 1, b->len, stdout);
	fflush(stdout);
	funlockfile(stdout);
	buf_free(b);
}

static const char *side_word(enum side s)
{
	return s == SIDE_A ? "remote" : "local";
}

static void put_flags(struct buf *b, const char *key, unsigned bits, const char *keywords)
{
	char *text = mail_flags_format(bits, keywords);

	put_str(b, key, text);
	free(text);
}

/* Make the members written since `at` (each with its leading comma,
 * at least one) an object. */
static void close_object(struct buf *b, size_t at)
{
	b->data[at] = '{'; /* the first member's comma */
	buf_append_byte(b, '}');
}

/* "remote": {"uid": 12}, "local": {"name": "..."}: each side's id, where known. */
static void put_ids(struct buf *b, const struct store_id *id)
{
	for (int s = 0; s < SIDES; s++) {
		size_t at;
		if (!store_id_known(id[s]))
			continue;
		put_key(b, side_word((enum side)s));
		at = b->len;
		if (id[s].uid)
			put_num(b, "uid", id[s].uid);
		put_str(b, "name", id[s].name);
		close_object(b, at);
	}
}

static void put_counts(struct buf *b, const struct sync_counts *c)
{
	put_num(b, "pulled", c->to_local);
	put_num(b, "pushed", c->to_remote);
	put_num(b, "flags_local", c->flags_local);
	put_num(b, "flags_remote", c->flags_remote);
	put_num(b, "deleted_local", c->deleted_local);
	put_num(b, "deleted_remote", c->deleted_remote);
	put_num(b, "matched", c->paired);
	put_num(b, "too_big", c->too_big);
}

/* "not_kept": {"local": {"messages": 3, "flags": "$Label7", "kept":
 * "\\Seen \\Deleted"}}: copies that left out flags their side cannot
 * keep, by that side; no key when there were none. */
static void put_not_kept(struct buf *b, const struct sync_not_kept *nk)
{
	size_t at = 0;

	for (int s = 0; s < SIDES; s++) {
		size_t side_at;
		char *kept;
		if (!nk[s].messages)
			continue;
		if (!at) {
			put_key(b, "not_kept");
			at = b->len;
		}
		put_key(b, side_word((enum side)s));
		side_at = b->len;
		put_num(b, "messages", nk[s].messages);
		put_flags(b, "flags", nk[s].flags, nk[s].keywords[0] ? nk[s].keywords : NULL);
		kept =
		    mail_flags_format(nk[s].kept_flags, nk[s].kept_keywords[0] ? nk[s].kept_keywords : NULL);
		if (nk[s].kept_any_keyword) {
			char *with = xasprintf("%s%s\\*", kept, *kept ? " " : "");
			free(kept);
			kept = with;
		}
		put_str(b, "kept", kept);
		free(kept);
		close_object(b, side_at);
	}
	if (at)
		close_object(b, at);
}

static void put_report(struct buf *b, const struct sync_folder_report *r)
{
	struct sync_counts done = {.to_local = r->to_local,
	                           .to_remote = r->to_remote,
	                           .flags_local = r->flags_local,
	                           .flags_remote = r->flags_remote,
	                           .deleted_local = r->deleted_local,
	                           .deleted_remote = r->deleted_remote,
	                           .paired = r->paired,
	                           .too_big = r->too_big};
	size_t at;

	put_counts(b, &done);
	put_num(b, "reuploaded", r->reuploaded);
	put_num(b, "failed_messages", r->message_failures);
	put_not_kept(b, r->not_kept);
	put_key(b, "planned");
	at = b->len;
	put_counts(b, &r->planned);
	close_object(b, at);
}

static void put_progress(struct buf *b, const char *key, const struct sync_progress *p)
{
	size_t at;

	put_key(b, key);
	at = b->len;
	put_num(b, "messages_done", p->messages_done);
	put_num(b, "messages_total", p->messages_total);
	put_num(b, "bytes_done", p->bytes_done);
	put_num(b, "bytes_total", p->bytes_total);
	close_object(b, at);
}

static void put_action(struct buf *b, const struct sync_event *ev)
{
	put_str(b, "action", plan_kind_name(ev->action, ev->side));
	put_str(b, "side", side_word(ev->side));
	put_ids(b, ev->id);
	if (ev->size)
		put_num(b, "size", ev->size);
	if (ev->change) {
		put_flags(b, "add", ev->change->add, ev->change->add_keywords);
		put_flags(b, "remove", ev->change->remove, ev->change->remove_keywords);
	} else if (ev->action == PLAN_COPY || ev->action == PLAN_PAIR_EXISTING) {
		put_flags(b, "flags", ev->flags, ev->keywords);
	}
	if (ev->lost_flags || ev->lost_keywords)
		put_flags(b, "not_kept", ev->lost_flags, ev->lost_keywords);
}

void json_event(const char *account, const struct sync_event *ev)
{
	struct buf b = BUF_INIT;

	begin(&b, sync_event_name(ev->kind), account);
	put_str(&b, "folder", ev->folder);
	switch (ev->kind) {
	case SYNC_EVENT_ACCOUNT_BEGIN:
		put_bool(&b, "dry_run", ev->dry_run);
		break;
	case SYNC_EVENT_ACCOUNT_END:
		put_num(&b, "folders_synced", ev->folders_synced);
		put_num(&b, "folders_failed", ev->folders_failed);
		if (ev->totals)
			put_report(&b, ev->totals);
		put_str(&b, "error", ev->text);
		break;
	case SYNC_EVENT_FOLDER_END:
		put_bool(&b, "dry_run", ev->dry_run);
		put_bool(&b, "failed", ev->report->failed);
		if (ev->report->failed)
			put_str(&b, "error", ev->report->err.text);
		put_report(&b, ev->report);
		break;
	case SYNC_EVENT_FOLDER_CREATED:
	case SYNC_EVENT_FOLDER_REMOVED:
		put_str(&b, "side", side_word(ev->side));
		put_bool(&b, "dry_run", ev->dry_run);
		break;
	case SYNC_EVENT_FOLDER_SKIPPED:
		put_str(&b, "reason", ev->text);
		break;
	case SYNC_EVENT_PLANNED:
	case SYNC_EVENT_DONE:
		put_action(&b, ev);
		break;
	case SYNC_EVENT_FAILED:
		put_action(&b, ev);
		put_str(&b, "error", ev->text);
		break;
	case SYNC_EVENT_NOTE:
		put_str(&b, "note", ev->note);
		put_ids(&b, ev->id);
		put_str(&b, "text", ev->text);
		break;
	case SYNC_EVENT_PROGRESS:
		put_progress(&b, "progress", &ev->progress);
		put_progress(&b, "account_progress", &ev->account_progress);
		break;
	case SYNC_EVENT_FOLDER_BEGIN:
	case SYNC_EVENT_KIND_COUNT:
		break;
	}
	finish(&b);
}

void json_log(enum log_level level, const char *line)
{
	struct buf b = BUF_INIT;

	begin(&b, level == LOG_ERROR ? "error" : "warning", NULL);
	put_str(&b, "message", line);
	finish(&b);
}

void json_import(const char *account, const char *folder, const struct pop3_import_report *r, bool dry_run)
{
	struct buf b = BUF_INIT;

	begin(&b, "pop3_import", account);
	put_str(&b, "folder", folder);
	put_bool(&b, "dry_run", dry_run);
	put_num(&b, "on_server", r->on_server);
	put_num(&b, "downloaded", r->downloaded);
	put_num(&b, "deleted", r->deleted);
	put_num(&b, "marked", r->marked);
	put_num(&b, "failed_messages", r->failed);
	put_num(&b, "unusable", r->unusable);
	put_num(&b, "too_big", r->too_big_count);
	finish(&b);
}

void json_verify(const char *account, const struct sync_verify_report *r, size_t folders, bool failed)
{
	struct buf b = BUF_INIT;
	static const char *const side_key[SIDES] = {"source", "target"};

	begin(&b, r->name ? "verify_folder" : "verify_end", account);
	put_str(&b, "folder", r->name);
	if (!r->name)
		put_num(&b, "folders", folders);
	if (r->failed || failed) {
		put_bool(&b, "failed", true);
		put_str(&b, "error", r->failed ? r->err.text : NULL);
	}
	for (int s = 0; s < SIDES; s++) {
		put_key(&b, side_key[s]);
		buf_printf(&b, "{\"messages\":%zu,\"bytes\":%llu}", r->count[s],
		           (unsigned long long)r->bytes[s]);
	}
	if (r->absent)
		put_bool(&b, "absent", true);
	put_num(&b, "matched", r->matched);
	put_num(&b, "missing", r->missing);
	put_num(&b, "missing_bytes", r->missing_bytes);
	finish(&b);
}

/* "key": {"pid": 12, "host": "box", "since": 1700000000}, when `p` is. */
static void put_process(struct buf *b, const char *key, const struct state_process *p)
{
	size_t at;

	if (!p || !p->known)
		return;
	put_key(b, key);
	at = b->len;
	put_num(b, "pid", (unsigned long long)p->pid);
	put_str(b, "host", p->host);
	put_num(b, "since", (unsigned long long)p->since);
	close_object(b, at);
}

/* "key": {"remote": N, "local": N}, the sides whose count is known. */
static void put_sides(struct buf *b, const char *key, const int64_t count[SIDES])
{
	size_t at;

	if (count[SIDE_A] < 0 && count[SIDE_B] < 0)
		return;
	put_key(b, key);
	at = b->len;
	for (int s = 0; s < SIDES; s++)
		if (count[s] >= 0)
			put_num(b, side_word((enum side)s), (unsigned long long)count[s]);
	close_object(b, at);
}

void json_status_account(const struct status_account_view *v)
{
	struct buf b = BUF_INIT;

	begin(&b, "status_account", v->account);
	put_bool(&b, "two_servers", v->two_servers);
	if (v->never_synced)
		put_bool(&b, "never_synced", true);
	put_str(&b, "error", v->error);
	if (v->run && v->run->started) {
		size_t at;
		put_key(&b, "last_run");
		at = b.len;
		put_num(&b, "started", (unsigned long long)v->run->started);
		put_num(&b, "ended", (unsigned long long)v->run->ended);
		put_str(&b, "result", state_run_result_name(v->run->result));
		put_str(&b, "error", v->run->error);
		close_object(&b, at);
		put_num(&b, "last_ok", (unsigned long long)v->run->last_ok);
	}
	put_process(&b, "running", v->running);
	put_process(&b, "watcher", v->watcher);
	if (!v->never_synced && !v->error) {
		put_num(&b, "pending", (unsigned long long)v->pending);
		put_num(&b, "failed_messages", (unsigned long long)v->failed_messages);
	}
	if (v->downloaded >= 0)
		put_num(&b, "downloaded", (unsigned long long)v->downloaded);
	finish(&b);
}

void json_status_folder(const struct status_folder_view *v)
{
	struct buf b = BUF_INIT;

	begin(&b, "status_folder", v->account);
	put_str(&b, "folder", v->folder);
	put_num(&b, "last_sync", (unsigned long long)v->last_sync);
	put_sides(&b, "messages", v->seen);
	put_sides(&b, "now", v->now);
	put_num(&b, "pending", (unsigned long long)v->pending);
	put_num(&b, "failed_messages", (unsigned long long)v->failed_messages);
	if (v->error) {
		put_str(&b, "error", v->error);
		put_num(&b, "error_time", (unsigned long long)v->error_time);
	}
	finish(&b);
}

void json_status_quota(const char *account, enum side side, const struct store_quota *q, unsigned percent,
                       bool nearly_full)
{
	struct buf b = BUF_INIT;

	begin(&b, "status_quota", account);
	put_str(&b, "side", side_word(side));
	put_str(&b, "root", q->root);
	put_str(&b, "where", q->where);
	if (q->has_bytes) {
		put_num(&b, "used_bytes", q->used_bytes);
		put_num(&b, "limit_bytes", q->limit_bytes);
	}
	if (q->has_messages) {
		put_num(&b, "used_messages", q->used_messages);
		put_num(&b, "limit_messages", q->limit_messages);
	}
	put_num(&b, "percent", percent);
	put_bool(&b, "nearly_full", nearly_full);
	finish(&b);
}
