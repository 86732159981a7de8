/*
 * The maildir store's keywords: flag letters <-> MAIL_FLAG_* bits and
 * canonical keyword text, through the flag vocabulary ('P' for
 * $Forwarded) and the folder's Dovecot keyword table ('a'..'z',
 * maildir/keywords.h). The texts handed out are interned per folder:
 * messages share a few keyword sets, and the strings must stay valid
 * until the folder is closed (store.h), whatever the table does
 * meanwhile.
 */
#include <stdlib.h>
#include <string.h>

#include "maildir_store_p.h"
#include "twinbox/maildir/flags.h"
#include "twinbox/maildir/keywords.h"
#include "twinbox/util/buf.h"
#include "twinbox/util/mailflags.h"
#include "twinbox/util/xmalloc.h"

/* The keyword letters 'a'..'z' of a flag set, as bits 0..25. */
static uint32_t kw_letters(uint64_t letters)
{
	return (uint32_t)((letters >> 26) & ((UINT64_C(1) << MAILDIR_KEYWORDS_MAX) - 1));
}

/* The texts interned so far: a map from the letters of a set (those
 * with a meaning: 'P' as bit 26, the keyword letters as bits 0..25) to
 * its text; open addressing, cleared when the table changes. The
 * strings themselves stay in `owned` until the folder closes. */
struct mds_kw {
	struct maildir_keywords *table;
	uint32_t *keys; /* key + 1; 0 = empty slot */
	const char **texts;
	size_t used, cap;
	char **owned;
	size_t owned_n, owned_cap;
};

static void map_clear(struct mds_kw *kw)
{
	free(kw->keys);
	free(kw->texts);
	kw->keys = NULL;
	kw->texts = NULL;
	kw->used = kw->cap = 0;
}

int mds_kw_open(struct store_folder *f, struct error *err)
{
	struct mds_kw *kw = xcalloc(1, sizeof(*kw));

	kw->table = maildir_keywords_new(maildir_folder_path(f->mf));
	f->kw = kw;
	return maildir_keywords_read(kw->table, err) < 0 ? -1 : 0;
}

void mds_kw_close(struct store_folder *f)
{
	struct mds_kw *kw = f->kw;

	if (!kw)
		return;
	map_clear(kw);
	for (size_t i = 0; i < kw->owned_n; i++)
		free(kw->owned[i]);
	free(kw->owned);
	maildir_keywords_free(kw->table);
	free(kw);
	f->kw = NULL;
}

int mds_kw_reread(struct store_folder *f, struct error *err)
{
	int rc = maildir_keywords_read(f->kw->table, err);

	/* A letter that names another keyword now must not find the
	 * old text. */
	if (rc != 0)
		map_clear(f->kw);
	return rc < 0 ? -1 : 0;
}

/* The canonical text of the set `key` (not interned). */
static char *text_of(const struct mds_kw *kw, uint32_t key)
{
	struct buf b = BUF_INIT;
	char *canon = NULL;

	if (key & (UINT32_C(1) << MAILDIR_KEYWORDS_MAX))
		buf_append(&b, "$Forwarded", strlen("$Forwarded"));
	for (unsigned i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		const char *name;

		if (!(key & (UINT32_C(1) << i)) ||
		    !(name = maildir_keywords_name(kw->table, MAILDIR_KEYWORD_LETTER(i))))
			continue;
		if (b.len)
			buf_append_byte(&b, ' ');
		buf_append(&b, name, strlen(name));
	}
	/* The names were checked as keywords when the table was read. */
	if (b.len && mail_keywords_canon(b.data, &canon, NULL) < 0)
		canon = NULL;
	buf_free(&b);
	return canon;
}

static size_t slot_of(uint32_t key, size_t cap)
{
	return (size_t)((key * UINT32_C(2654435761)) & (uint32_t)(cap - 1));
}

static void map_grow(struct mds_kw *kw)
{
	uint32_t *keys = kw->keys;
	const char **texts = kw->texts;
	size_t cap = kw->cap;

	kw->cap = cap ? cap * 2 : 64;
	kw->keys = xcalloc(kw->cap, sizeof(*kw->keys));
	kw->texts = xcalloc(kw->cap, sizeof(*kw->texts));
	for (size_t i = 0; i < cap; i++) {
		size_t s;

		if (!keys[i])
			continue;
		for (s = slot_of(keys[i] - 1, kw->cap); kw->keys[s]; s = (s + 1) & (kw->cap - 1))
			;
		kw->keys[s] = keys[i];
		kw->texts[s] = texts[i];
	}
	free(keys);
	free(texts);
}

const char *mds_keywords_of(struct store_folder *f, uint64_t letters)
{
	struct mds_kw *kw = f->kw;
	uint32_t key = kw_letters(letters);
	size_t s;
	char *text;

	/* A letter without a name carries no keyword: it stays in the file
	 * name and is left alone. */
	for (unsigned i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		if ((key & (UINT32_C(1) << i)) &&
		    !maildir_keywords_name(kw->table, MAILDIR_KEYWORD_LETTER(i)))
			key &= ~(UINT32_C(1) << i);
	if (letters & MAILDIR_FLAG_PASSED)
		key |= UINT32_C(1) << MAILDIR_KEYWORDS_MAX;
	if (!key)
		return NULL;
	if ((kw->used + 1) * 2 > kw->cap)
		map_grow(kw);
	for (s = slot_of(key, kw->cap); kw->keys[s]; s = (s + 1) & (kw->cap - 1))
		if (kw->keys[s] == key + 1)
			return kw->texts[s];
	text = text_of(kw, key);
	kw->owned = xgrow(kw->owned, &kw->owned_cap, kw->owned_n + 1, sizeof(*kw->owned));
	kw->owned[kw->owned_n++] = text;
	kw->keys[s] = key + 1;
	kw->texts[s] = text;
	kw->used++;
	return text;
}

int mds_letters_of(struct store_folder *f, unsigned flags, const char *keywords, bool give,
                   uint64_t *letters_r, struct error *err)
{
	struct maildir_keywords *table = f->kw->table;
	const char *p = keywords;
	uint64_t letters = maildir_flags_of_mail(flags, keywords);

	while (p && *p) {
		size_t n = strcspn(p, " ");
		char letter = maildir_keywords_letter(table, p, n);

		/* $Forwarded has 'P'; a letter of the table's besides is set
		 * too, for the readers that look there. */
		if (!letter && give && !mail_flag_by_imap(p, n)) {
			int rc = maildir_keywords_add(table, p, n, &letter, err);

			if (rc < 0)
				return -1;
			if (rc == 0)
				return error_set(err, ERR_MESSAGE,
				                 "keyword %.*s cannot be written in %s: all 26 keyword "
				                 "letters of the folder are taken (dovecot-keywords); it "
				                 "stays on the other side",
				                 (int)n, p, maildir_folder_path(f->mf));
			/* The table changed: texts are looked up afresh. */
			map_clear(f->kw);
		}
		if (letter)
			letters |= maildir_flag_bit(letter);
		p += n;
		p += *p == ' ';
	}
	*letters_r = letters;
	return 0;
}

void mds_kw_keeps(struct store_folder *f, struct store_keep *keep_r)
{
	struct mds_kw *kw = f->kw;
	char *all = maildir_keywords_all(kw->table), *joined, *with = NULL;

	/* $Forwarded always has its letter. */
	joined = all ? xasprintf("%s $Forwarded", all) : NULL;
	if (joined && mail_keywords_canon(joined, &with, NULL) < 0)
		with = NULL;
	free(joined);
	free(all);
	*keep_r = (struct store_keep){
	    .limited = true,
	    .flags = MAIL_FLAGS_ALL,
	    .keywords = with ? with : "$Forwarded",
	    .new_keywords_room = maildir_keywords_free_count(kw->table),
	};
	if (with) {
		kw->owned = xgrow(kw->owned, &kw->owned_cap, kw->owned_n + 1, sizeof(*kw->owned));
		kw->owned[kw->owned_n++] = with;
	}
}
