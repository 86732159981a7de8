#include "twinbox/maildir/name.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "twinbox/maildir/flags.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/xmalloc.h"

/* Longest sanitised host name in an id we create. */
#define HOST_MAX 64

/* Dovecot writes ",S=<size>" (and ",W=<vsize>") after the unique part;
 * the first ",S=" with only digits up to the next ',' or the end counts. */
static uint64_t size_field(const char *id, size_t id_len)
{
	for (size_t i = 0; i + 3 <= id_len; i++) {
		uint64_t v = 0;
		size_t j;

		if (id[i] != ',' || id[i + 1] != 'S' || id[i + 2] != '=')
			continue;
		for (j = i + 3; j < id_len && id[j] >= '0' && id[j] <= '9'; j++) {
			v = v * 10 + (uint64_t)(id[j] - '0');
			if (v > MAILDIR_SIZE_LIMIT)
				return MAILDIR_SIZE_UNKNOWN;
		}
		if (j == i + 3 || (j < id_len && id[j] != ','))
			return MAILDIR_SIZE_UNKNOWN;
		return v;
	}
	return MAILDIR_SIZE_UNKNOWN;
}

int maildir_name_parse(const char *fname, struct maildir_name *r)
{
	size_t len = strnlen(fname, MAILDIR_NAME_MAX + 1);
	const char *colon;

	memset(r, 0, sizeof(*r));
	r->size = MAILDIR_SIZE_UNKNOWN;
	if (len == 0 || len > MAILDIR_NAME_MAX || fname[0] == '.' || fname[0] == ':')
		return -1;
	colon = memchr(fname, ':', len);
	r->id_len = colon ? (size_t)(colon - fname) : len;
	if (colon) {
		r->info = colon + 1;
		if (r->info[0] == '2' && r->info[1] == ',') {
			r->has_flags = 1;
			r->flags = maildir_flags_parse(r->info + 2, strlen(r->info + 2));
		}
	}
	r->size = size_field(fname, r->id_len);
	return 0;
}

int maildir_id_valid(const char *id)
{
	size_t len = strnlen(id, MAILDIR_ID_MAX + 1);

	if (len == 0 || len > MAILDIR_ID_MAX || id[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (id[i] <= ' ' || id[i] >= 0x7f || id[i] == '/' || id[i] == ':')
			return 0;
	return 1;
}

int maildir_name_build(const char *id, size_t id_len, uint64_t flags, const char *old_info,
                       char out[MAILDIR_NAME_MAX + 1])
{
	unsigned char present[256] = {0};
	size_t n;

	if (id_len + 3 > MAILDIR_NAME_MAX)
		return -1;
	memcpy(out, id, id_len);
	memcpy(out + id_len, ":2,", 3);
	n = id_len + 3;
	for (unsigned bit = 0; bit < 52; bit++)
		if (flags & (UINT64_C(1) << bit))
			present[bit < 26 ? 'A' + bit : 'a' + bit - 26] = 1;
	if (old_info && old_info[0] == '2' && old_info[1] == ',') {
		for (const unsigned char *p = (const unsigned char *)old_info + 2; *p; p++)
			if (!maildir_flag_bit((char)*p) && *p != '/')
				present[*p] = 1;
	}
	/* One pass in byte order keeps letters and kept bytes in ASCII order. */
	for (unsigned c = 1; c < 256; c++) {
		if (!present[c])
			continue;
		if (n >= MAILDIR_NAME_MAX)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return (int)n;
}

static void append_host(struct buf *b, const char *host)
{
	size_t start = b->len;

	if (!host || !*host)
		host = "localhost";
	for (const unsigned char *p = (const unsigned char *)host; *p; p++) {
		char esc[5];
		int plain = *p > ' ' && *p < 0x7f && *p != '/' && *p != ':' && *p != ',' && *p != '\\';

		if (plain) {
			esc[0] = (char)*p;
			esc[1] = '\0';
		} else {
			snprintf(esc, sizeof(esc), "\\%03o", *p);
		}
		/* Cut between escapes, never inside one. */
		if (b->len - start + strlen(esc) > HOST_MAX)
			break;
		buf_append_str(b, esc);
	}
}

char *maildir_unique_id_from(const struct timespec *now, pid_t pid, unsigned long counter, const char *host,
                             uint64_t size)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%lld.M%06ldP%ldQ%lu.", (long long)now->tv_sec, now->tv_nsec / 1000, (long)pid,
	           counter);
	append_host(&b, host);
	if (size != MAILDIR_SIZE_UNKNOWN)
		buf_printf(&b, ",S=%llu", (unsigned long long)size);
	return buf_detach(&b, NULL);
}

/* The host name and the pid are the same for every id of a process: read
 * once, not twice a message. A child of fork() has a pid of its own, so
 * it reads the pid again; the host name it may keep. */
static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static char host_name[256];
static atomic_long cached_pid; /* 0: read it again */

static void forget_pid(void)
{
	atomic_store(&cached_pid, 0);
}

static void read_host(void)
{
	if (gethostname(host_name, sizeof(host_name)) < 0)
		host_name[0] = '\0';
	host_name[sizeof(host_name) - 1] = '\0';
	pthread_atfork(NULL, NULL, forget_pid);
}

char *maildir_unique_id(uint64_t size)
{
	static atomic_ulong counter;
	struct timespec now;
	long pid;

	pthread_once(&host_once, read_host);
	pid = atomic_load(&cached_pid);
	if (pid == 0) {
		pid = (long)getpid();
		atomic_store(&cached_pid, pid);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	return maildir_unique_id_from(&now, (pid_t)pid, atomic_fetch_add(&counter, 1) + 1, host_name, size);
}
