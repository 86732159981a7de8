/* Private to the engine: telling the observer (events.h) what happens.
 * Each call is a no-op when the run has no observer. */
#ifndef TWINBOX_SYNC_EVENTS_P_H
#define TWINBOX_SYNC_EVENTS_P_H

#include <pthread.h>

#include "twinbox/sync/engine.h"

/* The run's side of the observer (events.c): serializes the calls, and
 * adds up the account's progress and totals. */
struct engine_hub {
	pthread_mutex_t lock;
	struct sync_observer out; /* the caller's */
	struct sync_progress progress;
	struct sync_folder_report totals;
};

/* Put `hub` between `o`'s observer and the engine: *o's observer becomes
 * the hub's. Nothing when `o` has none. engine_hub_end() after the run. */
void engine_hub_start(struct engine_hub *hub, struct sync_options *o);
void engine_hub_end(struct engine_hub *hub, const struct sync_options *o);

void engine_emit(const struct sync_options *o, struct sync_event *ev);
/* An event about folder `folder` alone (FOLDER_*: `side`, `text` where
 * the kind has them). */
void engine_event_folder(const struct sync_options *o, enum sync_event_kind kind, const char *folder,
                         enum side side, const char *text);
void engine_event_note(const struct sync_options *o, const char *folder, const char *note, const char *text);
/* The event of `kind` about action `a` of `rep`'s folder. */
struct sync_event engine_action_event(enum sync_event_kind kind, const struct sync_folder_report *rep,
                                      const struct plan_action *a);
/* The plan of `rep`'s folder: its notes, each action PLANNED, and the
 * totals of its copies (rep->progress) (folder_report.c). */
void engine_plan_events(const struct sync_options *o, struct sync_folder_report *rep,
                        const struct plan *plan);
/* Actions `a`[0..n) are done (DONE each, as planned), or failed (FAILED
 * each, with `why`, which becomes rep->message_err). */
void engine_actions_done(const struct sync_options *o, const struct sync_folder_report *rep,
                         const struct plan_action *a, size_t n);
void engine_actions_failed(const struct sync_options *o, struct sync_folder_report *rep,
                           const struct plan_action *a, size_t n, const char *why);
/* Copy `a` is done: its message is `uid` / `name` on the target side,
 * of `size` bytes. */
void engine_copy_done(const struct sync_options *o, const struct sync_folder_report *rep,
                      const struct plan_action *a, uint32_t uid, const char *name, uint64_t size);
/* The flags left out of copies (sync_not_kept, folder_report.c): what
 * the folder keeps, from `keep`; copy `a` made (counted when it left
 * something out); `from` added to `to` (the account's totals). */
void engine_not_kept_keep(struct sync_not_kept *nk, const struct store_keep *keep);
void engine_not_kept_copy(struct sync_not_kept *nk, const struct plan_action *a);
void engine_not_kept_add(struct sync_not_kept *to, const struct sync_not_kept *from);
/* `messages` more copies of `bytes` reached their target store (the
 * total grows where the plan did not know a size: local files). */
void engine_progress(const struct sync_options *o, struct sync_folder_report *rep, size_t messages,
                     uint64_t bytes);

#endif
