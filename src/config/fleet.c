/* Fleet files (fleet.h): a CSV reader for migrations, one per row. */
#include "twinbox/config/fleet.h"

#include <stdlib.h>
#include <string.h>

#include "config_p.h"
#include "twinbox/util/fs.h"
#include "twinbox/util/xmalloc.h"

enum column {
	COL_FROM,
	COL_TO,
	COL_FROM_PASSWORD_COMMAND,
	COL_TO_PASSWORD_COMMAND,
	COL_FROM_CA_FILE,
	COL_TO_CA_FILE,
	COL_FROM_FINGERPRINT,
	COL_TO_FINGERPRINT,
	COL_STATE_DIR,
	COL_COUNT
};

static const char *const column_names[COL_COUNT] = {
    "from",         "to",         "from-password-command", "to-password-command",
    "from-ca-file", "to-ca-file", "from-fingerprint",      "to-fingerprint",
    "state-dir",
};
#define REQUIRED_COLUMNS 4 /* the first four */

struct fleet_row {
	char *cell[COL_COUNT]; /* NULL: not given */
	unsigned line;
};

struct config_fleet {
	struct fleet_row *rows;
	size_t count;
};

/* One CSV record from *p (moved past it) into `cells` (fresh strings,
 * at most `max`; *n_r of them); *line counts the lines it spans. -1
 * with `err` for an unclosed quote, text after a closing quote, a NUL,
 * or more than `max` cells. */
static int read_record(const char *path, const char **p, const char *end, unsigned *line, char **cells,
                       size_t max, size_t *n_r, struct error *err);

/* read_record, its cells freed when it fails. */
static int read_row(const char *path, const char **p, const char *end, unsigned *line, char **cells,
                    size_t max, size_t *n_r, struct error *err)
{
	*n_r = 0;
	for (size_t i = 0; i < max; i++)
		cells[i] = NULL;
	if (read_record(path, p, end, line, cells, max, n_r, err) == 0)
		return 0;
	for (size_t i = 0; i < max; i++)
		free(cells[i]);
	return -1;
}

static int read_record(const char *path, const char **p, const char *end, unsigned *line, char **cells,
                       size_t max, size_t *n_r, struct error *err)
{
	const char *s = *p;
	unsigned first = *line;
	size_t n = 0;

	for (;;) {
		char *out = xmalloc((size_t)(end - s) + 1), *o = out;
		if (s < end && *s == '"') {
			for (s++;; s++) {
				if (s >= end) {
					free(out);
					return error_set(err, ERR_FATAL,
					                 "%s:%u: a quoted field is not closed", path, first);
				}
				if (*s == '"' && s + 1 < end && s[1] == '"')
					*o++ = *s++;
				else if (*s == '"')
					break;
				else {
					*line += *s == '\n';
					*o++ = *s;
				}
			}
			s++;
			if (s < end && *s != ',' && *s != '\n' && *s != '\r') {
				free(out);
				return error_set(err, ERR_FATAL,
				                 "%s:%u: text after the closing quote of a field", path,
				                 *line);
			}
		} else {
			while (s < end && *s != ',' && *s != '\n' && *s != '\r')
				*o++ = *s++;
		}
		*o = '\0';
		if ((size_t)(o - out) != strlen(out)) {
			free(out);
			return error_set(err, ERR_FATAL, "%s:%u: a field holds a NUL character", path, *line);
		}
		if (n == max) {
			free(out);
			return error_set(err, ERR_FATAL, "%s:%u: more fields than the header row names (%zu)",
			                 path, first, max);
		}
		cells[n++] = out;
		if (s < end && *s == ',') {
			s++;
			continue;
		}
		break;
	}
	if (s < end && *s == '\r')
		s++;
	if (s < end && *s == '\n') {
		s++;
		(*line)++;
	}
	*p = s;
	*n_r = n;
	return 0;
}

static void free_cells(char **cells, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(cells[i]);
}

/* Skip blank lines and '#' comments at *p. */
static void skip_blank(const char **p, const char *end, unsigned *line)
{
	while (*p < end) {
		const char *s = *p;
		if (*s == '#')
			while (s < end && *s != '\n')
				s++;
		else
			while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
				s++;
		if (s < end && *s != '\n')
			return;
		*p = s < end ? s + 1 : s;
		(*line)++;
	}
}

/* The header row: which column each cell is (order[i]), every required
 * one present, none twice, none unknown. */
static int read_header(const char *path, const char **p, const char *end, unsigned *line,
                       int order[COL_COUNT], size_t *ncols_r, struct error *err)
{
	char *cells[COL_COUNT];
	bool seen[COL_COUNT] = {false};
	size_t n;
	unsigned at;

	skip_blank(p, end, line);
	at = *line;
	if (*p >= end)
		return error_set(err, ERR_FATAL,
		                 "%s: empty; the first row names the columns (from,to,"
		                 "from-password-command,to-password-command,...)",
		                 path);
	if (read_row(path, p, end, line, cells, COL_COUNT, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int c = -1;
		for (int k = 0; k < COL_COUNT && c < 0; k++)
			if (strcmp(cells[i], column_names[k]) == 0)
				c = k;
		if (c < 0 || seen[c]) {
			error_set(err, ERR_FATAL,
			          "%s:%u: %s column \"%.80s\"; the columns are from, to, "
			          "from-password-command, to-password-command, from-ca-file, "
			          "to-ca-file, from-fingerprint, to-fingerprint, state-dir",
			          path, at, c < 0 ? "unknown" : "twice the", cells[i]);
			free_cells(cells, n);
			return -1;
		}
		seen[c] = true;
		order[i] = c;
	}
	free_cells(cells, n);
	for (int k = 0; k < REQUIRED_COLUMNS; k++)
		if (!seen[k])
			return error_set(err, ERR_FATAL, "%s:%u: no column \"%s\" in the header row", path,
			                 at, column_names[k]);
	*ncols_r = n;
	return 0;
}

struct config_fleet *config_fleet_load(const char *path, struct error *err)
{
	struct config_fleet *f = xcalloc(1, sizeof(*f));
	char *data;
	size_t len, ncols = 0, cap = 0;
	const char *p, *end;
	unsigned line = 1;
	int order[COL_COUNT];

	if (fs_read_file(path, CONFIG_FLEET_FILE_MAX, &data, &len, err) < 0) {
		free(f);
		error_prefix(err, "reading the fleet file");
		return NULL;
	}
	p = data;
	end = data + len;
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) /* a spreadsheet's BOM */
		p += 3;
	if (read_header(path, &p, end, &line, order, &ncols, err) < 0)
		goto fail;
	for (skip_blank(&p, end, &line); p < end; skip_blank(&p, end, &line)) {
		char *cells[COL_COUNT];
		size_t n;
		struct fleet_row *r;

		if (f->count == CONFIG_FLEET_ROWS_MAX) {
			error_set(err, ERR_FATAL, "%s:%u: more than %d rows", path, line,
			          CONFIG_FLEET_ROWS_MAX);
			goto fail;
		}
		if (f->count == cap) {
			cap = cap ? 2 * cap : 64;
			f->rows = xrealloc(f->rows, cap * sizeof(*f->rows));
		}
		r = &f->rows[f->count];
		memset(r, 0, sizeof(*r));
		r->line = line;
		if (read_row(path, &p, end, &line, cells, ncols, &n, err) < 0)
			goto fail;
		f->count++;
		for (size_t i = 0; i < n; i++) {
			if (cells[i][0])
				r->cell[order[i]] = cells[i];
			else
				free(cells[i]);
		}
		for (int k = 0; k < REQUIRED_COLUMNS; k++)
			if (!r->cell[k]) {
				error_set(err, ERR_FATAL, "%s:%u: row %zu has no \"%s\"", path, r->line,
				          f->count - 1, column_names[k]);
				goto fail;
			}
	}
	free(data);
	return f;
fail:
	free(data);
	config_fleet_free(f);
	return NULL;
}

void config_fleet_free(struct config_fleet *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->count; i++)
		free_cells(f->rows[i].cell, COL_COUNT);
	free(f->rows);
	free(f);
}

size_t config_fleet_count(const struct config_fleet *f)
{
	return f->count;
}

unsigned config_fleet_line(const struct config_fleet *f, size_t index)
{
	return f->rows[index].line;
}

void config_fleet_row(const struct config_fleet *f, size_t index, struct config_migration *m_r)
{
	char *const *c = f->rows[index].cell;

	memset(m_r, 0, sizeof(*m_r));
	m_r->url[SIDE_A] = c[COL_FROM];
	m_r->url[SIDE_B] = c[COL_TO];
	m_r->password_command[SIDE_A] = c[COL_FROM_PASSWORD_COMMAND];
	m_r->password_command[SIDE_B] = c[COL_TO_PASSWORD_COMMAND];
	m_r->ca_file[SIDE_A] = c[COL_FROM_CA_FILE];
	m_r->ca_file[SIDE_B] = c[COL_TO_CA_FILE];
	m_r->fingerprint[SIDE_A] = c[COL_FROM_FINGERPRINT];
	m_r->fingerprint[SIDE_B] = c[COL_TO_FINGERPRINT];
	m_r->state_dir = c[COL_STATE_DIR];
}
