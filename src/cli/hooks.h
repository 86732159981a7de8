/*
 * Private to cli/: an account's hooks (config.h, struct config_hooks),
 * for `twinbox sync` and for a watch loop.
 *
 * A `struct hooks` listens to the events of the account's runs
 * (hooks_event, an observer beside the renderer) and keeps, within
 * bounds, what its hooks need; hooks_run() runs them and forgets it:
 * `twinbox sync` calls it after each account's run, a watch loop may
 * call it after each folder's sync.
 *
 * What runs, as util/command.h runs a command (/bin/sh -c, stdin
 * /dev/null, its stdout thrown away, killed after the hooks' timeout):
 *   after_sync  once, when the run changed something: messages copied,
 *               flags changed or messages deleted on either side, a
 *               folder created or removed (messages only matched by
 *               content change nothing);
 *   new_mail    then once per message copied into the Maildir, in the
 *               order they were copied, for the first new_mail_max of
 *               them; when more came, once more for all the others.
 * Nothing runs for a dry run. Their environment, besides ours (each
 * replacing ours of its name):
 *   TWINBOX_HOOK      "after_sync" or "new_mail"
 *   TWINBOX_ACCOUNT   the account's name
 * after_sync:
 *   TWINBOX_FOLDERS   the folders changed, one per line, sorted (at most
 *                     HOOKS_FOLDERS_MAX bytes: whole names, the rest left
 *                     out)
 *   TWINBOX_PULLED, TWINBOX_PUSHED   messages copied to side B (the
 *                     Maildir, a target server) and to side A
 *   TWINBOX_FLAGS     messages whose flags changed, either side
 *   TWINBOX_DELETED   messages deleted, either side
 * new_mail:
 *   TWINBOX_FOLDER    the folder (the engine's name, as the summary says it)
 *   TWINBOX_FROM, TWINBOX_SUBJECT, TWINBOX_DATE, TWINBOX_MESSAGE_ID
 *                     the message's header fields as util/header.h
 *                     shows them (decoded, inert, "" when absent or when
 *                     the file could not be read)
 *   TWINBOX_PATH      the message's file in the Maildir, or ""
 *   TWINBOX_COUNT     messages copied into the Maildir in the run
 *   TWINBOX_MORE      0; in the call for the others, their number (and
 *                     TWINBOX_FROM "twinbox", TWINBOX_SUBJECT "N more new
 *                     messages", TWINBOX_FOLDER their folders one per
 *                     line, TWINBOX_DATE, TWINBOX_MESSAGE_ID and
 *                     TWINBOX_PATH "")
 * Folder names and header fields go only into the environment, never
 * into the command's text, and are made inert first (no control
 * character: a folder name cannot forge a line of TWINBOX_FOLDERS).
 *
 * A hook that fails (an exit status other than 0, a signal, the
 * timeout, a command not found) is a warning naming the account, the
 * hook and the cause, with the first line of its stderr; it changes
 * nothing else: not the sync, not its exit status.
 */
#ifndef TWINBOX_CLI_HOOKS_H
#define TWINBOX_CLI_HOOKS_H

#include <stdbool.h>

#include "twinbox/config/config.h"
#include "twinbox/sync/engine.h"
#include "twinbox/sync/pop3_import.h"

#define HOOKS_FOLDERS_MAX (64 * 1024) /* bytes of TWINBOX_FOLDERS */

struct hooks;

/* The hooks of account `a`, or NULL when it has none or `dry_run`
 * (every function below takes NULL and does nothing). `a` must outlive
 * the result. */
struct hooks *hooks_new(const struct config_account *a, bool dry_run);
void hooks_free(struct hooks *h);

/* Take note of an event of the account's run (sync/events.h; the
 * observer's calls are serialized, so this needs no lock). Quick: it
 * copies a few names at most. */
void hooks_event(struct hooks *h, const struct sync_event *ev);
/* The same for a POP3 import (its downloads come as events): what the
 * report `r` of folder `folder` counts. */
void hooks_import(struct hooks *h, const char *folder, const struct pop3_import_report *r);

/* Run the hooks the events since the last call ask for (see above),
 * then forget those events. Waits for each command in turn. */
void hooks_run(struct hooks *h);

#endif
