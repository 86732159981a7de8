/*
 * Folder mapping (folder_map.h): special use first, then well-known
 * names, explicit renames above both.
 */
#include "twinbox/sync/folder_map.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "twinbox/util/xmalloc.h"

/* The uses a folder is matched by, and the views. */
static const enum store_special_use mapped_uses[] = {
    STORE_USE_SENT, STORE_USE_DRAFTS, STORE_USE_TRASH, STORE_USE_JUNK, STORE_USE_ARCHIVE,
};
static const enum store_special_use view_uses[] = {STORE_USE_ALL, STORE_USE_FLAGGED};

/* Well-known names by use, the likeliest first: what servers without
 * SPECIAL-USE and other clients create (Outlook/Exchange, Apple Mail,
 * Thunderbird, Gmail, Courier after its "INBOX." prefix), and the
 * common localised ones. */
static const char *const sent_names[] = {"Sent",
                                         "Sent Items",
                                         "Sent Messages",
                                         "Sent Mail",
                                         "Sent-Mail",
                                         "[Gmail]/Sent Mail",
                                         "[Google Mail]/Sent Mail",
                                         "Gesendet",
                                         "Gesendete Objekte",
                                         "Gesendete Elemente",
                                         "Envoyés",
                                         "Éléments envoyés",
                                         "Messages envoyés",
                                         "Enviados",
                                         "Elementos enviados",
                                         "Posta inviata",
                                         "Inviati",
                                         "Verzonden items",
                                         "Skickat",
                                         "Отправленные",
                                         NULL};
static const char *const drafts_names[] = {
    "Drafts",    "Draft",      "[Gmail]/Drafts", "[Google Mail]/Drafts",
    "Entwürfe",  "Brouillons", "Borradores",     "Bozze",
    "Concepten", "Utkast",     "Черновики",      NULL};
static const char *const trash_names[] = {"Trash",
                                          "Deleted Items",
                                          "Deleted Messages",
                                          "Deleted",
                                          "Bin",
                                          "[Gmail]/Trash",
                                          "[Gmail]/Bin",
                                          "[Google Mail]/Trash",
                                          "[Google Mail]/Bin",
                                          "Papierkorb",
                                          "Gelöschte Objekte",
                                          "Gelöschte Elemente",
                                          "Corbeille",
                                          "Éléments supprimés",
                                          "Papelera",
                                          "Elementos eliminados",
                                          "Cestino",
                                          "Prullenbak",
                                          "Papperskorgen",
                                          "Корзина",
                                          NULL};
static const char *const junk_names[] = {"Junk",
                                         "Spam",
                                         "Junk E-mail",
                                         "Junk Email",
                                         "Junk Mail",
                                         "Bulk Mail",
                                         "[Gmail]/Spam",
                                         "[Google Mail]/Spam",
                                         "Junk-E-Mail",
                                         "Indésirables",
                                         "Courrier indésirable",
                                         "Correo no deseado",
                                         "Posta indesiderata",
                                         "Ongewenste e-mail",
                                         "Skräppost",
                                         "Спам",
                                         NULL};
static const char *const archive_names[] = {"Archive", "Archives", "Archiv", "Archivo", "Archivio",
                                            "Archief", "Arkiv",    "Архив",  NULL};
static const char *const all_names[] = {"[Gmail]/All Mail", "[Google Mail]/All Mail", NULL};
static const char *const flagged_names[] = {"[Gmail]/Starred", "[Google Mail]/Starred", NULL};

static const char *const *well_known(enum store_special_use use)
{
	switch (use) {
	case STORE_USE_SENT:
		return sent_names;
	case STORE_USE_DRAFTS:
		return drafts_names;
	case STORE_USE_TRASH:
		return trash_names;
	case STORE_USE_JUNK:
		return junk_names;
	case STORE_USE_ARCHIVE:
		return archive_names;
	case STORE_USE_ALL:
		return all_names;
	case STORE_USE_FLAGGED:
		return flagged_names;
	default:
		return NULL;
	}
}

const char *folder_map_use_name(enum store_special_use use)
{
	switch (use) {
	case STORE_USE_SENT:
		return "\\Sent";
	case STORE_USE_DRAFTS:
		return "\\Drafts";
	case STORE_USE_TRASH:
		return "\\Trash";
	case STORE_USE_JUNK:
		return "\\Junk";
	case STORE_USE_ARCHIVE:
		return "\\Archive";
	case STORE_USE_ALL:
		return "\\All";
	case STORE_USE_FLAGGED:
		return "\\Flagged";
	default:
		return "";
	}
}

static bool has(const struct folder_map_side *s, const char *name)
{
	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->names[i], name) == 0)
			return true;
	return false;
}

/* Side s's folder for `use` (index), and whether an attribute said so
 * (*by_attr_r); -1 when it has none. */
static long folder_for(const struct folder_map_side *s, enum store_special_use use, bool *by_attr_r)
{
	const char *const *names = well_known(use);

	*by_attr_r = true;
	for (size_t i = 0; i < s->count; i++)
		if (s->uses && s->uses[i] == use)
			return (long)i;
	*by_attr_r = false;
	for (size_t k = 0; names && names[k]; k++)
		for (size_t i = 0; i < s->count; i++)
			if (strcasecmp(s->names[i], names[k]) == 0)
				return (long)i;
	return -1;
}

static void add_str(char ***v, size_t *n, char *s)
{
	*v = xrealloc(*v, (*n + 2) * sizeof(**v));
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

static bool taken(const struct folder_map *m, const char *a_name, const char *b_name)
{
	for (size_t i = 0; i < m->rename_count; i++)
		if (strcmp(m->renames[i].outer, a_name) == 0 || strcmp(m->renames[i].inner, b_name) == 0)
			return true;
	return false;
}

static void add_rename(struct folder_map *m, const char *a_name, const char *b_name, char *note)
{
	m->renames = xrealloc(m->renames, (m->rename_count + 1) * sizeof(*m->renames));
	m->renames[m->rename_count++] = (struct store_rename){xstrdup(a_name), xstrdup(b_name)};
	add_str(&m->notes, &m->note_count, note);
}

static const char *how(bool by_attr)
{
	return by_attr ? "attribute" : "name";
}

static void map_use(const struct folder_map_side *a, const struct folder_map_side *b,
                    enum store_special_use use, const char *const w[SIDES], struct folder_map *m)
{
	bool a_attr, b_attr;
	long ia = folder_for(a, use, &a_attr), ib = folder_for(b, use, &b_attr);
	const char *an, *bn;

	if (ia < 0 || ib < 0)
		return;
	an = a->names[ia];
	bn = b->names[ib];
	if (strcmp(an, bn) == 0 || strcasecmp(an, "INBOX") == 0 || strcasecmp(bn, "INBOX") == 0)
		return;
	if (has(a, bn)) {
		add_str(&m->notes, &m->note_count,
		        xasprintf("\"%s\" on %s (%s by %s) is not matched with \"%s\" on %s (%s by %s): "
		                  "%s has a folder \"%s\" too, so each is synced under its own name",
		                  an, w[SIDE_A], folder_map_use_name(use), how(a_attr), bn, w[SIDE_B],
		                  folder_map_use_name(use), how(b_attr), w[SIDE_A], bn));
		return;
	}
	if (taken(m, an, bn))
		return;
	add_rename(m, an, bn,
	           xasprintf("\"%s\" on %s is \"%s\" on %s (%s, by %s on %s, by %s on %s)", an, w[SIDE_A], bn,
	                     w[SIDE_B], folder_map_use_name(use), how(a_attr), w[SIDE_A], how(b_attr),
	                     w[SIDE_B]));
}

/* Whether the map already renames folder `name` of side A (`source`)
 * or side B: the account's own rename of it. */
static bool renamed(const struct folder_map *m, const char *name, bool source)
{
	for (size_t i = 0; i < m->rename_count; i++)
		if (strcmp(source ? m->renames[i].outer : m->renames[i].inner, name) == 0)
			return true;
	return false;
}

/* The views of side s: skipped (A) or hidden (B), unless renamed. */
static void views(const struct folder_map_side *s, bool source, const char *const w[SIDES],
                  struct folder_map *m)
{
	for (size_t k = 0; k < sizeof(view_uses) / sizeof(*view_uses); k++) {
		bool attr;
		long i = folder_for(s, view_uses[k], &attr);
		if (i < 0 || renamed(m, s->names[i], source))
			continue; /* the account names it: synced as it says */
		if (source) {
			add_str(&m->skipped, &m->skipped_count, xstrdup(s->names[i]));
			add_str(&m->notes, &m->note_count,
			        xasprintf("\"%s\" on %s is not synced: it is a view (%s by %s) of mail that "
			                  "other folders hold%s",
			                  s->names[i], w[SIDE_A], folder_map_use_name(view_uses[k]),
			                  how(attr),
			                  view_uses[k] == STORE_USE_ALL
			                      ? "; what is only there (archived mail) is not copied: to copy "
			                        "the view whole, name it in `folders: rename:`"
			                      : ""));
		} else {
			add_str(&m->hidden, &m->hidden_count, xstrdup(s->names[i]));
			add_str(&m->notes, &m->note_count,
			        xasprintf("\"%s\" on %s is left alone: it is a view (%s by %s) of mail that "
			                  "other folders hold",
			                  s->names[i], w[SIDE_B], folder_map_use_name(view_uses[k]),
			                  how(attr)));
		}
	}
}

void folder_map_build(const struct folder_map_side *a, const struct folder_map_side *b,
                      const struct folder_map_rules *rules, struct folder_map *m_r)
{
	const char *const w[SIDES] = {rules->words[SIDE_A] ? rules->words[SIDE_A] : "the source",
	                              rules->words[SIDE_B] ? rules->words[SIDE_B] : "the target"};

	memset(m_r, 0, sizeof(*m_r));
	for (size_t i = 0; i < rules->rename_count; i++) {
		const struct store_rename *r = &rules->renames[i];
		add_rename(m_r, r->outer, r->inner,
		           xasprintf("\"%s\" on %s is \"%s\" on %s (`folders: rename:`)", r->outer, w[SIDE_A],
		                     r->inner, w[SIDE_B]));
	}
	if (!rules->by_use)
		return;
	for (size_t k = 0; k < sizeof(mapped_uses) / sizeof(*mapped_uses); k++)
		map_use(a, b, mapped_uses[k], w, m_r);
	views(a, true, w, m_r);
	views(b, false, w, m_r);
}

void folder_map_free(struct folder_map *m)
{
	for (size_t i = 0; i < m->rename_count; i++) {
		free(m->renames[i].outer);
		free(m->renames[i].inner);
	}
	free(m->renames);
	store_names_free(m->hidden);
	store_names_free(m->skipped);
	store_names_free(m->notes);
	memset(m, 0, sizeof(*m));
}

struct store_name_map folder_map_names(const struct folder_map *m)
{
	return (struct store_name_map){m->renames, m->rename_count, (const char *const *)m->hidden,
	                               m->hidden_count};
}
