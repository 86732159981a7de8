/*
 * RETR and TOP: message content streamed from the socket to a sink,
 * never held whole; pipelined RETR when the server offers PIPELINING
 * (RFC 2449 6.6).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_p.h"
#include "twinbox/util/log.h"
#include "twinbox/util/xmalloc.h"

/* RETR commands in flight at once with PIPELINING: enough to keep a
 * distant line busy with small messages (32 moved 1,000 messages of
 * 60 KB on average in 2.7 s over a 50 ms round trip, 128 in 1.5 s), few
 * enough that their bytes always fit the socket buffers (so writing them
 * can never block on a server that is busy writing). */
#define RETR_WINDOW 128

static int discard_chunk(void *ctx, const void *data, size_t len, struct error *err)
{
	(void)ctx, (void)data, (void)len, (void)err;
	return 0;
}

/* Reads the replies still in flight after a stop. */
static const struct pop3_sink discard = {.chunk = discard_chunk};

static void report_failed(const struct pop3_sink *sink, uint32_t msgno, const struct error *err)
{
	if (sink->failed)
		sink->failed(sink->ctx, msgno, err);
}

/* A sink's error; a sink that forgot to set it fails this message. */
static void sink_error(struct error *err, uint32_t msgno, const char *what)
{
	if (err->scope == ERR_NONE)
		error_set(err, ERR_MESSAGE, "message %u: the receiver of the content failed in %s", msgno,
		          what);
}

/* Refused before any byte was asked for: number out of range, or LIST
 * said it is larger than the cap. */
static int precheck(struct pop3_client *p, uint32_t msgno, struct error *err)
{
	uint64_t size;

	if (msgno == 0 || msgno > p->opts.max_messages)
		return error_set(err, ERR_MESSAGE,
		                 "there is no message %u on %s (message numbers start at 1)", msgno, p->peer);
	size = msgno <= p->sizes_count ? p->sizes[msgno - 1] : 0;
	if (p->opts.max_message_size && size > p->opts.max_message_size)
		return error_set(err, ERR_MESSAGE,
		                 "message %u on %s is %llu bytes, more than the size limit of %llu bytes "
		                 "(max_size); skipped",
		                 msgno, p->peer, (unsigned long long)size,
		                 (unsigned long long)p->opts.max_message_size);
	return 0;
}

static uint64_t size_hint(struct pop3_client *p, uint32_t msgno, const char *text)
{
	uint64_t n;

	if (msgno <= p->sizes_count && p->sizes[msgno - 1])
		return p->sizes[msgno - 1];
	/* Many servers say "+OK 1234 octets". */
	if (pop3_parse_number(text, (uint64_t)1 << 40, &n, NULL) == 0)
		return n;
	return 0;
}

/*
 * Read the reply to the RETR or TOP already sent for `msgno` into `sink`.
 * 0: delivered whole (end() returned 0). -1: not delivered, failed() was
 * called, and `err` has ERR_MESSAGE when the session goes on, or the
 * larger scope of a broken session or a sink.
 */
static int read_message(struct pop3_client *p, const char *command, uint32_t msgno,
                        const struct pop3_sink *sink, struct error *err)
{
	struct pop3_event ev;
	struct error stop;
	bool stopped = false;
	uint64_t got = 0;

	error_clear(&stop);
	pop3_expect(p, POP3_REPLY_DATA);
	if (pop3_next(p, &ev, err) < 0)
		goto broken;
	if (!ev.ok) {
		char said[300];
		pop3_escape(ev.line, strlen(ev.line), said, sizeof(said));
		error_set(err, ERR_MESSAGE, "%s refused %s %u (\"%s\")%s", p->peer, command, msgno, said,
		          ev.code == POP3_CODE_SYS_TEMP ? "; try again later" : "");
		report_failed(sink, msgno, err);
		return -1;
	}
	if (sink->begin && sink->begin(sink->ctx, msgno, size_hint(p, msgno, ev.text), &stop) < 0) {
		sink_error(&stop, msgno, "begin");
		stopped = true;
	}
	for (;;) {
		if (pop3_next(p, &ev, err) < 0)
			goto broken;
		if (ev.type == POP3_EV_END)
			break;
		got += ev.len;
		if (stopped)
			continue; /* read to the end so the session stays usable */
		if (p->opts.max_message_size && got > p->opts.max_message_size) {
			error_set(&stop, ERR_MESSAGE,
			          "message %u on %s is larger than the size limit of %llu bytes (max_size); "
			          "skipped",
			          msgno, p->peer, (unsigned long long)p->opts.max_message_size);
			stopped = true;
		} else if (sink->chunk(sink->ctx, ev.data, ev.len, &stop) < 0) {
			sink_error(&stop, msgno, "chunk");
			stopped = true;
		}
	}
	if (!stopped && sink->end && sink->end(sink->ctx, msgno, &stop) < 0) {
		sink_error(&stop, msgno, "end");
		stopped = true;
	}
	if (stopped) {
		*err = stop;
		report_failed(sink, msgno, err);
		return -1;
	}
	return 0;
broken:
	/* The cause says whether the server hung up or stalled. */
	error_prefix(err, "%s %u broke off after %llu bytes, nothing of it is kept", command, msgno,
	             (unsigned long long)got);
	report_failed(sink, msgno, err);
	return -1;
}

int pop3_retr(struct pop3_client *p, uint32_t msgno, const struct pop3_sink *sink, struct error *err)
{
	char line[32];

	if (pop3_usable(p, err) < 0)
		return -1;
	if (precheck(p, msgno, err) < 0) {
		report_failed(sink, msgno, err);
		return -1;
	}
	snprintf(line, sizeof(line), "RETR %u", msgno);
	if (pop3_send(p, line, NULL, err) < 0)
		return -1;
	return read_message(p, "RETR", msgno, sink, err);
}

int pop3_top(struct pop3_client *p, uint32_t msgno, unsigned lines, const struct pop3_sink *sink,
             struct error *err)
{
	char line[48];

	if (pop3_usable(p, err) < 0)
		return -1;
	if (msgno == 0 || msgno > p->opts.max_messages) {
		error_set(err, ERR_MESSAGE, "there is no message %u on %s (message numbers start at 1)",
		          msgno, p->peer);
		report_failed(sink, msgno, err);
		return -1;
	}
	snprintf(line, sizeof(line), "TOP %u %u", msgno, lines);
	if (pop3_send(p, line, NULL, err) < 0)
		return -1;
	return read_message(p, "TOP", msgno, sink, err);
}

/* Write the commands for msgnos[*next..] until `window` are in flight;
 * the ones sent are queued in `ring`. Refused-before-sending messages are
 * reported to the sink right away. */
static int fill(struct pop3_client *p, const uint32_t *msgnos, size_t n, size_t *next, uint32_t *ring,
                size_t *head, size_t *inflight, size_t window, const struct pop3_sink *sink,
                struct error *err)
{
	struct buf out = BUF_INIT;
	int rc = 0;

	while (*next < n && *inflight < window) {
		uint32_t m = msgnos[(*next)++];
		struct error e;
		error_clear(&e);
		if (precheck(p, m, &e) < 0) {
			report_failed(sink, m, &e);
			continue;
		}
		buf_printf(&out, "RETR %u\r\n", m);
		log_trace("C: RETR %u", m);
		ring[(*head + *inflight) % RETR_WINDOW] = m;
		(*inflight)++;
	}
	if (out.len && conn_write(p->conn, out.data, out.len, err) < 0)
		rc = pop3_fail(p, err);
	buf_free(&out);
	return rc;
}

int pop3_retr_many(struct pop3_client *p, const uint32_t *msgnos, size_t n, const struct pop3_sink *sink,
                   struct error *err)
{
	size_t window = pop3_has_capa(p, "PIPELINING") ? RETR_WINDOW : 1;
	uint32_t ring[RETR_WINDOW];
	size_t next = 0, head = 0, inflight = 0;
	int result = 0;

	if (pop3_usable(p, err) < 0)
		return -1;
	while (next < n || inflight) {
		struct error e;
		uint32_t m;
		if (result == 0 && fill(p, msgnos, n, &next, ring, &head, &inflight, window, sink, err) < 0)
			return -1;
		if (!inflight)
			continue;
		m = ring[head];
		head = (head + 1) % RETR_WINDOW;
		inflight--;
		error_clear(&e);
		if (read_message(p, "RETR", m, result == 0 ? sink : &discard, &e) == 0)
			continue;
		if (p->failed) {
			*err = e;
			return -1;
		}
		if (e.scope > ERR_MESSAGE && result == 0) {
			/* Stop, but read the replies still in flight so that
			 * the session stays in step. */
			*err = e;
			result = -1;
			next = n;
		}
	}
	return result;
}
