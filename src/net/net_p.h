/* Helpers shared by the files of the net layer only. */
#ifndef TWINBOX_NET_NET_P_H
#define TWINBOX_NET_NET_P_H

#include <stdio.h>
#include <time.h>

#define NET_DEFAULT_TIMEOUT_MS 30000

static inline int net_timeout_or_default(int ms)
{
	return ms > 0 ? ms : NET_DEFAULT_TIMEOUT_MS;
}

/* "30 s" for whole seconds, else "200 ms", as timeouts appear in messages. */
static inline const char *net_duration(int ms, char out[32])
{
	if (ms % 1000 == 0)
		snprintf(out, 32, "%d s", ms / 1000);
	else
		snprintf(out, 32, "%d ms", ms);
	return out;
}

/* Milliseconds on the monotonic clock, for deadlines that survive EINTR. */
static inline long long net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
