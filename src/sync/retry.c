/*
 * Trying a run's work again when a server said "not now" (engine_p.h,
 * engine_retry): the back-off's wait (backoff.h), the stores connected
 * again, the work done again. Work is a folder's sync or the run's
 * listing, both safe to do twice: the state records each step as it is
 * done, so a second try carries on where the first stopped.
 */
#include "engine_p.h"
#include "events_p.h"

/* Connect again each store whose connection ended. */
static int reconnect(struct store *a, struct store *b, struct error *err)
{
	struct store *stores[SIDES] = {a, b};

	for (int s = 0; s < SIDES; s++)
		if (stores[s]->ops->reconnect && stores[s]->ops->reconnect(stores[s], err) < 0)
			return -1;
	return 0;
}

int engine_retry(const struct sync_options *o, struct store *a, struct store *b, const char *what, bool yield,
                 int (*work)(void *ctx, struct error *err), void (*again)(void *ctx), void *ctx,
                 struct error *err)
{
	unsigned tries = 0;
	int rc = work(ctx, err);

	while (rc < 0) {
		if (!sync_backoff_wait(o->backoff, what, &tries, err))
			return yield && err->retry != ERR_RETRY_NO ? 1 : -1;
		if (reconnect(a, b, err) < 0) {
			/* A worker's connection is one of several: the others go
			 * on. The run's own tries again while the back-off lets it. */
			if (yield)
				return 1;
			error_escalate(err, ERR_ACCOUNT);
			continue;
		}
		engine_event_note(o, what, "retry", err->text);
		if (again)
			again(ctx);
		rc = work(ctx, err);
	}
	sync_backoff_success(o->backoff);
	return 0;
}
