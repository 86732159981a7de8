/*
 * Maildir file names: "<id>[:<info>]".
 *
 * The id (the "unique name" of the Maildir specification) is everything
 * before the first ':'; it names a message for as long as it exists, while
 * other programs move it from new/ to cur/ and change its flags. The info
 * "2,<letters>" carries the flags (see flags.h); other info forms
 * (":1,..." experimental semantics, anything else) carry no flags.
 *
 * Names written by other programs are read liberally:
 *   1700000000.M20P3Q4.host,S=4321,W=4400:2,FS   Dovecot (",S=" is the size)
 *   1700000000.12345_1.host:2,S                  mutt, neomutt, notmuch
 *   1700000000.1234_1.host,U=12:2,S              mbsync
 *   1700000000.M20P3Q4.host                      any MDA, in new/
 * Names twinbox creates are "<sec>.M<usec>P<pid>Q<counter>.<host>[,S=<size>]".
 */
#ifndef TWINBOX_MAILDIR_NAME_H
#define TWINBOX_MAILDIR_NAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Longest file name a directory entry can have (NAME_MAX on Linux). */
#define MAILDIR_NAME_MAX 255
/* Longest id twinbox creates or accepts from a caller: leaves room for
 * ":2," and all 52 flag letters within MAILDIR_NAME_MAX. */
#define MAILDIR_ID_MAX 200
/* Size "not known without a stat". */
#define MAILDIR_SIZE_UNKNOWN UINT64_MAX
/* A ",S=" field above this is not believed (treated as absent). */
#define MAILDIR_SIZE_LIMIT (UINT64_C(1) << 40)

struct maildir_name {
	size_t id_len;    /* the id is the first id_len bytes of the name */
	const char *info; /* points into the parsed name after the ':', or NULL */
	int has_flags;    /* the info starts with "2," */
	uint64_t flags;   /* the letters after ":2,"; 0 without them */
	uint64_t size;    /* from ",S=<n>" in the id, or MAILDIR_SIZE_UNKNOWN */
};

/* Parse the name of a file found in new/ or cur/. Returns 0, or -1 when
 * the name is not one of a message: empty, a dotfile, longer than
 * MAILDIR_NAME_MAX, or with an empty id. `r->info` points into `fname`. */
int maildir_name_parse(const char *fname, struct maildir_name *r);

/* 1 if `id` may name a message that twinbox writes: 1..MAILDIR_ID_MAX
 * bytes of printable ASCII without '/', ':' or space, not starting with
 * '.'; else 0. */
int maildir_id_valid(const char *id);

/* Build "<id>:2,<info letters>" into `out`: the letters of `flags`, merged
 * in ASCII order with any bytes other than letters that `old_info` (the
 * info of the file being renamed, or NULL) had after "2,", so characters
 * twinbox does not understand survive a flag change. Returns the length,
 * or -1 if the result would be longer than MAILDIR_NAME_MAX. */
int maildir_name_build(const char *id, size_t id_len, uint64_t flags, const char *old_info,
                       char out[MAILDIR_NAME_MAX + 1]);

/* A fresh unique id "<sec>.M<usec>P<pid>Q<counter>.<host>[,S=<size>]" for
 * a message of `size` bytes (or MAILDIR_SIZE_UNKNOWN: no ",S=" field),
 * from the current time, pid, a per-process counter and the host name.
 * Caller frees. Safe to call from several threads. */
char *maildir_unique_id(uint64_t size);

/* The same from explicit parts (for tests and for callers that need
 * determinism). The host name is sanitised as qmail does: '/' becomes
 * "\057", ':' "\072"; twinbox also writes ',' as "\054", '\\' as "\134"
 * and bytes outside printable ASCII in octal, and cuts it to 64 bytes; an
 * empty host name becomes "localhost". */
char *maildir_unique_id_from(const struct timespec *now, pid_t pid, unsigned long counter, const char *host,
                             uint64_t size);

#endif
