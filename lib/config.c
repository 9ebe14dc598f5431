/* config.c: see config.h. */
#include "config.h"
#include "cc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int cc_config_load(const struct cc_config_row *rows, size_t n, void *cfg, char **err)
{
	for (size_t i = 0; i < n; i++) {
		const struct cc_config_row *r = &rows[i];
		const char *v = getenv(r->env);
		char *end;
		long l;

		if (!v || !*v)
			v = r->def;
		if (!v) {
			cc_config_free(rows, i, cfg);
			return cc_fail(err, "%s is required (%s)", r->env, r->help);
		}
		if (r->type == CC_CFG_STR) {
			/* a string row's max, when set, is its longest length: a value
			 * cut down later would change its meaning (a realm, a URI) */
			if (r->max > 0 && strlen(v) > (size_t)r->max) {
				cc_config_free(rows, i, cfg);
				return cc_fail(err, "%s: at most %ld characters (%s)", r->env, r->max, r->help);
			}
			char *s = strdup(v);

			CC_BUG_ON(!s);
			*(char **)((char *)cfg + r->offset) = s;
			continue;
		}
		errno = 0;
		l = strtol(v, &end, 10);
		if (errno || *end || end == v || l < r->min || l > r->max) {
			cc_config_free(rows, i, cfg);
			return cc_fail(err, "%s=%s: want an integer from %ld to %ld (%s)",
			               r->env, v, r->min, r->max, r->help);
		}
		*(long *)((char *)cfg + r->offset) = l;
	}
	return CC_OK;
}

void cc_config_free(const struct cc_config_row *rows, size_t n, void *cfg)
{
	for (size_t i = 0; i < n; i++) {
		if (rows[i].type != CC_CFG_STR)
			continue;
		char **p = (char **)((char *)cfg + rows[i].offset);
		free(*p);
		*p = NULL;
	}
}

void cc_config_usage(const char *prog, const struct cc_config_row *rows, size_t n)
{
	printf("usage: %s\nSettings come from the environment:\n", prog);
	for (size_t i = 0; i < n; i++)
		printf("  %-24s %s (default: %s)\n", rows[i].env, rows[i].help,
		       rows[i].def ? rows[i].def : "required");
}
