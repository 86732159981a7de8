/*
 * The bench's mail: what each scenario's servers are seeded with, what a
 * server then holds, and the changes the resync scenarios make between
 * runs on a server or in a tool's Maildir.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "support/dovecot_p.h"

/* Share of N (per mille) seeded into a mailbox; every fifth message of a
 * batch carries an attachment of `attach` bytes (dovecot_seed), the rest
 * are plain text: about 60 KB per message on average, 62 MB for
 * N = 1000. */
static const struct batch {
	const char *mailbox;
	unsigned per_mille;
	size_t attach;
} batches_normal[] = {
    {"INBOX", 300, 0},
    {"INBOX", 200, 300000},
    {"Work/Projects", 200, 400000},
    {"Work/Projects/2023", 100, 50000},
    {"Archive/2024", 190, 150000},
    {"Archive/Large", 10, 5000000},
};

/* The scale scenario's mail: N small plain-text messages (about 2 KB)
 * spread evenly over 20 folders, some nested, as a long-used account
 * has them. */
static const struct batch scale_batches[] = {
    {"INBOX", 50, 0},
    {"Sent", 50, 0},
    {"Drafts", 50, 0},
    {"Archive", 50, 0},
    {"Archive/2021", 50, 0},
    {"Archive/2022", 50, 0},
    {"Archive/2023", 50, 0},
    {"Archive/2024", 50, 0},
    {"Work", 50, 0},
    {"Work/Projects", 50, 0},
    {"Work/Projects/2024", 50, 0},
    {"Lists/l01", 50, 0},
    {"Lists/l02", 50, 0},
    {"Lists/l03", 50, 0},
    {"Lists/l04", 50, 0},
    {"Lists/l05", 50, 0},
    {"Lists/l06", 50, 0},
    {"Lists/l07", 50, 0},
    {"Lists/l08", 50, 0},
    {"Lists/l09", 50, 0},
};

size_t bench_scale_folders(const char *const **names_r)
{
	static const char *names[sizeof(scale_batches) / sizeof(scale_batches[0])];

	for (size_t i = 0; i < sizeof(scale_batches) / sizeof(scale_batches[0]); i++)
		names[i] = scale_batches[i].mailbox;
	*names_r = names;
	return sizeof(scale_batches) / sizeof(scale_batches[0]);
}

void bench_seed_scale_folders(struct dovecot *d, unsigned per_folder)
{
	for (size_t i = 0; i < sizeof(scale_batches) / sizeof(scale_batches[0]); i++)
		dovecot_seed(d, scale_batches[i].mailbox, per_folder, 80000000u + (unsigned)i * 100000u, 0);
}

/* The chosen batches (bench_mail_choose) and their mailboxes, each
 * once, in batch order: INBOX first. */
static const struct batch *batches;
static size_t batch_count;
#define MAX_MAILBOXES 32
static const char *mailboxes[MAX_MAILBOXES];
static size_t mailbox_count;

void bench_mail_choose(bool scale)
{
	batches = scale ? scale_batches : batches_normal;
	batch_count = scale ? sizeof(scale_batches) / sizeof(scale_batches[0])
	                    : sizeof(batches_normal) / sizeof(batches_normal[0]);
	for (size_t i = 0; i < batch_count; i++) {
		size_t j = 0;

		while (j < mailbox_count && strcmp(mailboxes[j], batches[i].mailbox) != 0)
			j++;
		if (j == mailbox_count && mailbox_count == MAX_MAILBOXES)
			bench_fail("more than %d mailboxes", MAX_MAILBOXES);
		if (j == mailbox_count)
			mailboxes[mailbox_count++] = batches[i].mailbox;
	}
	if (mailbox_count < 2 || strcmp(mailboxes[0], "INBOX") != 0)
		bench_fail("the first batch must be INBOX's, and two mailboxes at least");
}

size_t bench_mailbox_count(void)
{
	return mailbox_count;
}

void bench_seed(struct dovecot *d, unsigned n)
{
	for (size_t i = 0; i < batch_count; i++) {
		unsigned count = n * batches[i].per_mille / 1000;

		dovecot_seed(d, batches[i].mailbox, count ? count : 1, (unsigned)(i + 1) * 10000000u,
		             batches[i].attach);
	}
	/* Some flags, as a mailbox in use has them. */
	for (unsigned uid = 1; uid <= 20; uid++)
		dovecot_flags(d, "INBOX", uid, "add", "\\Seen");
	for (unsigned uid = 1; uid <= 5; uid++)
		dovecot_flags(d, mailboxes[1], uid, "add", "\\Flagged");
}

void bench_seed_inbox(struct dovecot *d, unsigned n)
{
	dovecot_seed(d, "INBOX", n, 60000000u, 0);
	for (unsigned uid = 1; uid <= 20; uid++)
		dovecot_flags(d, "INBOX", uid, "add", uid <= 5 ? "\\Seen \\Flagged" : "\\Seen");
}

/* The POP3 import's mail: N messages into `d`'s INBOX, batches_normal's
 * batches with their shares, seeds and attachments; the first (plain
 * text) takes what rounding the others' shares leaves, so exactly N. */
void bench_seed_pop3(struct dovecot *d, unsigned n)
{
	const size_t nb = sizeof(batches_normal) / sizeof(batches_normal[0]);
	unsigned first = n;

	for (size_t i = 1; i < nb; i++)
		first -= n * batches_normal[i].per_mille / 1000;
	for (size_t i = 0; i < nb; i++) {
		unsigned count = i ? n * batches_normal[i].per_mille / 1000 : first;

		if (count)
			dovecot_seed(d, "INBOX", count, (unsigned)(i + 1) * 10000000u,
			             batches_normal[i].attach);
	}
}

/* What `mailbox` of `d` holds, added to `e`. */
static void add_mailbox(struct dovecot *d, const char *mailbox, struct bench_expect *e)
{
	size_t count;
	struct dovecot_msg *m = dovecot_list(d, mailbox, false, &count);

	e->messages += count;
	for (size_t j = 0; j < count; j++) {
		e->flagged += dovecot_msg_has_flag(&m[j], "\\Flagged");
		e->answered += dovecot_msg_has_flag(&m[j], "\\Answered");
		e->bytes += m[j].size;
	}
	dovecot_msgs_free(m, count);
}

/* What `d` holds: all mailboxes, or INBOX only (POP3, initial push). */
struct bench_expect bench_server_holds(struct dovecot *d, bool inbox_only)
{
	struct bench_expect e = {0, 0, 0, 0};

	for (size_t i = 0; i < (inbox_only ? 1 : mailbox_count); i++)
		add_mailbox(d, mailboxes[i], &e);
	return e;
}

struct bench_expect bench_server_holds_present(struct dovecot *d)
{
	struct bench_expect e = {0, 0, 0, 0};
	char **names = dovecot_mailboxes(d);

	for (size_t i = 0; i < mailbox_count; i++) {
		size_t k = 0;

		while (names[k] && strcmp(names[k], mailboxes[i]) != 0)
			k++;
		if (names[k])
			add_mailbox(d, mailboxes[i], &e);
	}
	dovecot_strv_free(names);
	return e;
}

/* Server-side changes between resyncs: 100 \Flagged toggles in INBOX
 * (set on even repetitions, cleared on odd ones), or 100 new messages. */
void bench_change_flags(struct dovecot *d, unsigned rep)
{
	for (unsigned uid = 1; uid <= BENCH_FLAG_CHANGES; uid++)
		dovecot_flags(d, "INBOX", uid, rep % 2 == 0 ? "add" : "remove", "\\Flagged");
}

void bench_change_new_mail(struct dovecot *d, unsigned rep)
{
	dovecot_seed(d, "INBOX", BENCH_NEW_MESSAGES, 90000000u + rep * BENCH_NEW_MESSAGES, 60000);
}

void bench_change_answered(struct dovecot *d, unsigned rep)
{
	for (unsigned uid = 1; uid <= BENCH_ANSWERED_CHANGES; uid++)
		dovecot_flags(d, "INBOX", uid, rep % 2 == 0 ? "add" : "remove", "\\Answered");
}

/* Local changes in a tool's Maildir between resyncs, and what its server
 * must hold afterwards: 100 \\Flagged toggles in INBOX (set on even
 * repetitions, cleared on odd ones), or 100 new messages in INBOX's new/. */
void bench_local_flags(struct bench_tool *t, unsigned rep, struct bench_expect *e)
{
	bool set = rep % 2 == 0;
	size_t n = bench_maildir_toggle_flag(t->maildir, 'F', set, BENCH_FLAG_CHANGES);

	if (n != BENCH_FLAG_CHANGES)
		bench_fail("%s: only %zu messages in %s/cur to change", t->name, n, t->maildir);
	e->flagged = set ? e->flagged + n : e->flagged - n;
}

void bench_local_new_mail(struct bench_tool *t, unsigned rep, struct bench_expect *e)
{
	bench_maildir_add(t->maildir, BENCH_NEW_MESSAGES, 95000000u + rep * BENCH_NEW_MESSAGES, 60000, 0);
	e->messages += BENCH_NEW_MESSAGES;
}

/* What the tool's Maildir holds, and whether it is `e` (flag counts
 * unless `pop3`). */
static bool maildir_is(const struct bench_tool *t, const struct bench_expect *e, bool pop3,
                       struct bench_expect *got_r)
{
	size_t messages;

	bench_maildir_count(t->maildir, pop3 ? 0 : 'F', &got_r->messages, &got_r->flagged);
	bench_maildir_count(t->maildir, pop3 ? 0 : 'R', &messages, &got_r->answered);
	return got_r->messages == e->messages &&
	       (pop3 || (got_r->flagged == e->flagged && got_r->answered == e->answered));
}

static void say_incomplete(const struct bench_tool *t, const struct bench_expect *e,
                           const struct bench_expect *local, const struct bench_expect *srv)
{
	fprintf(stderr, "  %s: incomplete: %zu messages (%zu flagged, %zu answered) in the Maildir", t->name,
	        local->messages, local->flagged, local->answered);
	if (srv)
		fprintf(stderr, ", %zu (%zu flagged, %zu answered) on the server", srv->messages,
		        srv->flagged, srv->answered);
	fprintf(stderr, ", expected %zu (%zu flagged, %zu answered)\n", e->messages, e->flagged, e->answered);
}

bool bench_maildir_holds(const struct bench_tool *t, const struct bench_expect *e)
{
	struct bench_expect local;

	if (maildir_is(t, e, false, &local))
		return true;
	say_incomplete(t, e, &local, NULL);
	return false;
}

/* Whether the tool's Maildir, and its server, hold exactly `e` (message
 * count, flag counts): a sync that skipped work cannot pass. */
bool bench_complete(const struct bench_tool *t, const struct bench_expect *e, bool inbox_only, bool pop3)
{
	struct bench_expect local, srv;
	bool ok;

	if (t->kind == TOOL_RAW_FETCH)
		return true; /* checked in the child */
	ok = maildir_is(t, e, pop3, &local);
	srv = bench_server_holds(t->server, inbox_only);
	if (ok && srv.messages == e->messages &&
	    (pop3 || (srv.flagged == e->flagged && srv.answered == e->answered)))
		return true;
	if (pop3) /* flags not checked: say none */
		local.flagged = local.answered = srv.flagged = srv.answered = 0;
	say_incomplete(t, e, &local, &srv);
	return false;
}
