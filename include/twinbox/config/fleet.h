/*
 * A fleet file: many one-off migrations (config.h, struct
 * config_migration) in one CSV file, one per row, each run on its own
 * by `twinbox migrate --fleet FILE --index N` under a scheduler (GNU
 * parallel, a Kubernetes Indexed Job): every row is an independent job
 * with its own state and lock.
 *
 * Format: RFC 4180 CSV, UTF-8. The first row names the columns, in any
 * order: `from`, `to`, `from-password-command`, `to-password-command`
 * (required), `from-ca-file`, `to-ca-file`, `from-fingerprint`,
 * `to-fingerprint`, `state-dir` (optional; an empty cell is "not
 * given"). Each further row is one migration, numbered from 0 (the
 * index). Fields may be quoted ("..." with "" for a quote), so commands
 * may hold commas; a line may end in CRLF or LF; blank lines and lines
 * starting with '#' are skipped. Bounded: CONFIG_FLEET_FILE_MAX bytes,
 * CONFIG_FLEET_ROWS_MAX rows.
 */
#ifndef TWINBOX_CONFIG_FLEET_H
#define TWINBOX_CONFIG_FLEET_H

#include <stddef.h>

#include "twinbox/config/config.h"
#include "twinbox/util/error.h"

#define CONFIG_FLEET_FILE_MAX (64 * 1024 * 1024)
#define CONFIG_FLEET_ROWS_MAX 1000000

struct config_fleet;

/* Read and check the whole file: NULL with `err` (ERR_FATAL) naming
 * file:line and what is wrong (unknown or missing column, a row with
 * too many or too few cells, an unclosed quote, a required cell empty). */
struct config_fleet *config_fleet_load(const char *path, struct error *err);
void config_fleet_free(struct config_fleet *f);

/* The rows (migrations) in the file. */
size_t config_fleet_count(const struct config_fleet *f);
/* Row `index` (< count) as a migration; its strings belong to `f`. */
void config_fleet_row(const struct config_fleet *f, size_t index, struct config_migration *m_r);
/* The line of the file where row `index` starts, for messages. */
unsigned config_fleet_line(const struct config_fleet *f, size_t index);

#endif
