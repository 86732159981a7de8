#include "twinbox/util/crash.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twinbox/util/log.h"

/* Worker threads pass points too: the count is atomic. */
static atomic_ulong passed;
static unsigned long crash_at;
static const char *crash_at_step; /* the step's name instead of its number */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void configure(void)
{
	const char *v = getenv("TWINBOX_TEST_CRASH_AT");
	char *end;

	if (!v || !*v)
		return;
	crash_at = strtoul(v, &end, 10);
	if (*end) {
		crash_at = 0;
		crash_at_step = v;
	}
}

void crash_point(const char *what)
{
	unsigned long n;

	pthread_once(&once, configure);
	n = atomic_fetch_add(&passed, 1) + 1;
	log_debug("durable step %lu: %s", n, what);
	if ((crash_at && n == crash_at) || (crash_at_step && strcmp(crash_at_step, what) == 0))
		_exit(CRASH_EXIT_CODE);
}

unsigned long crash_points_passed(void)
{
	return passed;
}
