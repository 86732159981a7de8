#include "twinbox/util/clock.h"

#include <stdio.h>
#include <stdlib.h>

time_t clock_now(void)
{
	const char *v = getenv("TWINBOX_TEST_NOW");
	char *end;
	long long t;

	if (v && *v) {
		t = strtoll(v, &end, 10);
		if (*end == '\0' && t > 0)
			return (time_t)t;
	}
	return time(NULL);
}

bool clock_same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

void clock_local_text(time_t t, char out[CLOCK_TEXT_SIZE])
{
	struct tm tm;

	if (!localtime_r(&t, &tm) || strftime(out, CLOCK_TEXT_SIZE, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, CLOCK_TEXT_SIZE, "?");
}
