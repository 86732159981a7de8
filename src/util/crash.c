#include "twinbox/util/crash.h"

#include <stdlib.h>
#include <unistd.h>

#include "twinbox/util/log.h"

static unsigned long passed;
static unsigned long crash_at;
static int configured;

static void configure(void)
{
	const char *v = getenv("TWINBOX_TEST_CRASH_AT");
	char *end;

	configured = 1;
	if (!v || !*v)
		return;
	crash_at = strtoul(v, &end, 10);
	if (*end)
		crash_at = 0;
}

void crash_point(const char *what)
{
	if (!configured)
		configure();
	passed++;
	log_debug("durable step %lu: %s", passed, what);
	if (crash_at && passed == crash_at)
		_exit(CRASH_EXIT_CODE);
}

unsigned long crash_points_passed(void)
{
	return passed;
}
