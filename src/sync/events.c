/*
 * The engine's events (events.h): made where the engine fills its
 * reports, and passed to the observer through the run's hub, which
 * serializes the calls of parallel folders and adds up the account's
 * progress and totals.
 */
#include <stdlib.h>
#include <string.h>

#include "events_p.h"

static const char *const event_names[SYNC_EVENT_KIND_COUNT] = {
    [SYNC_EVENT_ACCOUNT_BEGIN] = "account_begin",
    [SYNC_EVENT_ACCOUNT_END] = "account_end",
    [SYNC_EVENT_FOLDER_BEGIN] = "folder_begin",
    [SYNC_EVENT_FOLDER_END] = "folder_end",
    [SYNC_EVENT_FOLDER_CREATED] = "folder_created",
    [SYNC_EVENT_FOLDER_REMOVED] = "folder_removed",
    [SYNC_EVENT_FOLDER_SKIPPED] = "folder_skipped",
    [SYNC_EVENT_PLANNED] = "planned",
    [SYNC_EVENT_DONE] = "done",
    [SYNC_EVENT_NOTE] = "note",
    [SYNC_EVENT_FAILED] = "failed",
    [SYNC_EVENT_PROGRESS] = "progress",
};

const char *sync_event_name(enum sync_event_kind kind)
{
	return (unsigned)kind < SYNC_EVENT_KIND_COUNT ? event_names[kind] : "unknown";
}

static void add_counts(struct sync_counts *to, const struct sync_counts *c)
{
	to->to_local += c->to_local;
	to->to_remote += c->to_remote;
	to->flags_local += c->flags_local;
	to->flags_remote += c->flags_remote;
	to->deleted_local += c->deleted_local;
	to->deleted_remote += c->deleted_remote;
	to->paired += c->paired;
	to->too_big += c->too_big;
	to->bytes_to_local += c->bytes_to_local;
	to->bytes_to_remote += c->bytes_to_remote;
}

static void add_report(struct sync_folder_report *to, const struct sync_folder_report *r)
{
	to->to_local += r->to_local;
	to->to_remote += r->to_remote;
	to->flags_local += r->flags_local;
	to->flags_remote += r->flags_remote;
	to->deleted_local += r->deleted_local;
	to->deleted_remote += r->deleted_remote;
	to->paired += r->paired;
	to->too_big += r->too_big;
	to->reuploaded += r->reuploaded;
	to->message_failures += r->message_failures;
	for (int s = 0; s < SIDES; s++)
		engine_not_kept_add(&to->not_kept[s], &r->not_kept[s]);
	add_counts(&to->planned, &r->planned);
	to->progress.messages_done += r->progress.messages_done;
	to->progress.messages_total += r->progress.messages_total;
	to->progress.bytes_done += r->progress.bytes_done;
	to->progress.bytes_total += r->progress.bytes_total;
}

/* Under the hub's lock: the account's view of `ev`. */
static void account_view(struct engine_hub *hub, struct sync_event *ev)
{
	struct sync_progress *p = &hub->progress;

	switch (ev->kind) {
	case SYNC_EVENT_PLANNED:
		if (ev->action == PLAN_COPY && !ev->dry_run) {
			p->messages_total++;
			p->bytes_total += ev->size;
		}
		break;
	case SYNC_EVENT_PROGRESS:
		p->messages_done += ev->step_messages;
		p->bytes_done += ev->step_bytes;
		if (p->bytes_done > p->bytes_total)
			p->bytes_total = p->bytes_done;
		break;
	case SYNC_EVENT_FOLDER_END:
		/* What a failed folder did not copy is no longer to come. */
		if (ev->report) {
			const struct sync_progress *f = &ev->report->progress;
			p->messages_total -= f->messages_total - f->messages_done;
			p->bytes_total -= f->bytes_total - f->bytes_done;
			add_report(&hub->totals, ev->report);
		}
		break;
	case SYNC_EVENT_ACCOUNT_END:
		ev->totals = &hub->totals;
		break;
	default:
		break;
	}
	ev->account_progress = *p;
}

static void hub_fn(void *ctx, const struct sync_event *ev)
{
	struct engine_hub *hub = ctx;
	struct sync_event e = *ev;

	pthread_mutex_lock(&hub->lock);
	account_view(hub, &e);
	hub->out.fn(hub->out.ctx, &e);
	pthread_mutex_unlock(&hub->lock);
}

void engine_hub_start(struct engine_hub *hub, struct sync_options *o)
{
	memset(hub, 0, sizeof(*hub));
	if (!o->observer.fn)
		return;
	pthread_mutex_init(&hub->lock, NULL);
	hub->out = o->observer;
	o->observer = (struct sync_observer){hub_fn, hub};
}

void engine_hub_end(struct engine_hub *hub, const struct sync_options *o)
{
	if (o->observer.fn == hub_fn)
		pthread_mutex_destroy(&hub->lock);
}

void engine_emit(const struct sync_options *o, struct sync_event *ev)
{
	if (!o->observer.fn)
		return;
	ev->dry_run = o->dry_run;
	o->observer.fn(o->observer.ctx, ev);
}

void engine_event_folder(const struct sync_options *o, enum sync_event_kind kind, const char *folder,
                         enum side side, const char *text)
{
	engine_emit(o, &(struct sync_event){.kind = kind, .folder = folder, .side = side, .text = text});
}

void engine_event_note(const struct sync_options *o, const char *folder, const char *note, const char *text)
{
	engine_emit(
	    o, &(struct sync_event){.kind = SYNC_EVENT_NOTE, .folder = folder, .note = note, .text = text});
}

struct sync_event engine_action_event(enum sync_event_kind kind, const struct sync_folder_report *rep,
                                      const struct plan_action *a)
{
	return (struct sync_event){.kind = kind,
	                           .folder = rep->name,
	                           .action = a->kind,
	                           .side = a->side,
	                           .id = {a->id[SIDE_A], a->id[SIDE_B]},
	                           .size = a->size,
	                           .flags = a->flags,
	                           .keywords = a->keywords,
	                           .lost_flags = a->lost_flags,
	                           .lost_keywords = a->lost_keywords,
	                           .change = a->kind == PLAN_SET_FLAGS ? &a->change : NULL};
}

void engine_actions_done(const struct sync_options *o, const struct sync_folder_report *rep,
                         const struct plan_action *a, size_t n)
{
	for (size_t i = 0; i < n && o->observer.fn; i++) {
		struct sync_event ev = engine_action_event(SYNC_EVENT_DONE, rep, &a[i]);
		engine_emit(o, &ev);
	}
}

void engine_actions_failed(const struct sync_options *o, struct sync_folder_report *rep,
                           const struct plan_action *a, size_t n, const char *why)
{
	if (why && n)
		error_set(&rep->message_err, ERR_MESSAGE, "%s", why);
	for (size_t i = 0; i < n && o->observer.fn; i++) {
		struct sync_event ev = engine_action_event(SYNC_EVENT_FAILED, rep, &a[i]);
		ev.text = why;
		engine_emit(o, &ev);
	}
}

void engine_copy_done(const struct sync_options *o, const struct sync_folder_report *rep,
                      const struct plan_action *a, uint32_t uid, const char *name, uint64_t size)
{
	struct sync_event ev;
	char *inner;

	if (!o->observer.fn)
		return;
	ev = engine_action_event(SYNC_EVENT_DONE, rep, a);
	ev.id[a->side] = (struct store_id){uid, name};
	if (size)
		ev.size = size;
	/* Side B is the one the map renames (mapped_store.h). */
	inner = a->side == SIDE_B && o->map ? store_map_inner(o->map, rep->name) : NULL;
	ev.target_folder = inner ? inner : rep->name;
	engine_emit(o, &ev);
	free(inner);
}

void engine_progress(const struct sync_options *o, struct sync_folder_report *rep, size_t messages,
                     uint64_t bytes)
{
	rep->progress.messages_done += messages;
	rep->progress.bytes_done += bytes;
	if (rep->progress.bytes_done > rep->progress.bytes_total)
		rep->progress.bytes_total = rep->progress.bytes_done;
	engine_emit(o, &(struct sync_event){.kind = SYNC_EVENT_PROGRESS,
	                                    .folder = rep->name,
	                                    .progress = rep->progress,
	                                    .step_messages = messages,
	                                    .step_bytes = bytes});
}
