/* Loading `hooks:`, at the top level and in an account (config.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_p.h"
#include "schema_p.h"
#include "twinbox/util/xmalloc.h"

static const char *const hooks_keys[] = {"after_sync", "new_mail", "timeout", "new_mail_max", NULL};

#define HOOK_TIMEOUT_MIN_S 1
#define HOOK_TIMEOUT_MAX_S 3600

/* A command of `hooks:`: 1 with *cmd replaced (NULL for ""), 0 when the
 * key is not written, -1. */
static int load_command(struct loader *ld, const struct section *s, const char *key, char **cmd)
{
	const struct ynode *v = ld_find(s, key, NULL);

	if (!v)
		return 0;
	if (ld_scalar(ld, key, v) < 0)
		return -1;
	free(*cmd);
	*cmd = v->len ? xstrdup(v->text) : NULL;
	return 1;
}

int config_load_hooks(struct loader *ld, const struct section *s, const struct config_hooks *base,
                      const struct config_account *acct, struct config_hooks *h)
{
	const struct ynode *key = NULL, *v = ld_find(s, "hooks", &key), *nk = NULL;
	struct section hs;
	uint64_t secs, max;
	char where[CONFIG_NAME_MAX + 32];
	int rc;
	/* Mail copied into a Maildir is what new_mail tells of. */
	bool no_new_mail = acct && (acct->two_servers || acct->maildir_source);

	memset(h, 0, sizeof(*h));
	h->timeout_ms = CONFIG_HOOKS_TIMEOUT_DEFAULT_S * 1000;
	h->new_mail_max = CONFIG_NEW_MAIL_MAX_DEFAULT;
	if (base) {
		h->after_sync = base->after_sync ? xstrdup(base->after_sync) : NULL;
		h->new_mail = base->new_mail && !no_new_mail ? xstrdup(base->new_mail) : NULL;
		h->timeout_ms = base->timeout_ms;
		h->new_mail_max = base->new_mail_max;
	}
	if (!v)
		return 0;
	h->pos = (struct config_pos){key->line, key->column};
	if (acct)
		snprintf(where, sizeof(where), "in hooks of account \"%s\"", acct->name);
	else
		snprintf(where, sizeof(where), "in hooks");
	if (ld_section(ld, key, v, where, &hs) < 0 || ld_check_keys(ld, &hs, hooks_keys, NULL) < 0 ||
	    load_command(ld, &hs, "after_sync", &h->after_sync) < 0 ||
	    load_command(ld, &hs, "new_mail", &h->new_mail) < 0)
		return -1;
	if (no_new_mail && h->new_mail) {
		ld_find(&hs, "new_mail", &nk);
		return ld_fail(ld, nk,
		               "\"new_mail\" is not used for account \"%s\": it runs for mail copied into a "
		               "Maildir, and this account copies %s",
		               acct->name, acct->two_servers ? "between two servers" : "from its Maildir");
	}
	rc = ld_duration(ld, &hs, "timeout", HOOK_TIMEOUT_MIN_S, HOOK_TIMEOUT_MAX_S, &secs);
	if (rc == 1)
		h->timeout_ms = (int)secs * 1000;
	if (rc >= 0)
		rc = ld_uint(ld, &hs, "new_mail_max", 0, CONFIG_NEW_MAIL_MAX_LIMIT, &max);
	if (rc == 1)
		h->new_mail_max = (unsigned)max;
	return rc < 0 ? -1 : 0;
}

void config_free_hooks(struct config_hooks *h)
{
	free(h->after_sync);
	free(h->new_mail);
	memset(h, 0, sizeof(*h));
}
