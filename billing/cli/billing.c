/*
 * billing: the operator's command line for billing statements.
 *
 *   billing reconcile [--tenant SLUG] [--from TIME] [--to TIME]
 *       the reconciliation report as JSON; exit status 1 if it finds gaps
 *   billing rerate --tenant SLUG --from TIME --to TIME
 *   billing invoice --tenant SLUG --month YYYY-MM [--html] [--close]
 *
 * TIME is RFC 3339 (default: the last 7 days). The database comes from
 * CC_PG_URL (`eval "$(ops/stack.sh env)"` sets it for the dev stack).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc.h"
#include "pg.h"
#include "statements.h"

static int usage(int rc)
{
	fputs("usage: billing reconcile [--tenant SLUG] [--from TIME] [--to TIME]\n"
	      "       billing rerate --tenant SLUG --from TIME --to TIME\n"
	      "       billing invoice --tenant SLUG --month YYYY-MM [--html] [--close]\n"
	      "TIME is RFC 3339; the database is CC_PG_URL.\n", rc ? stderr : stdout);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' }, { "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'u' }, { "month", required_argument, NULL, 'm' },
		{ "html", no_argument, NULL, 'h' }, { "close", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, '?' }, { NULL, 0, NULL, 0 },
	};
	const char *slug = NULL, *from = NULL, *to = NULL, *month = NULL, *url = getenv("CC_PG_URL");
	const char *err = NULL;
	bool html = false, close = false;
	char tenant[40] = "", dfrom[40], dto[40];
	struct cc_pg pg;
	json_t *out = NULL;
	int c, rc = 0;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return usage(argc < 2 ? 2 : 0);
	const char *cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		switch (c) {
		case 't': slug = optarg; break;
		case 'f': from = optarg; break;
		case 'u': to = optarg; break;
		case 'm': month = optarg; break;
		case 'h': html = true; break;
		case 'c': close = true; break;
		default: return usage(2);
		}
	if (!url) {
		fputs("billing: set CC_PG_URL (eval \"$(ops/stack.sh env)\" for the dev stack)\n", stderr);
		return 2;
	}
	cc_pg_init(&pg, url);
	if (slug) {
		const char *p[1] = { slug };
		PGresult *res = cc_pg_exec(&pg, "SELECT id FROM cc.tenants WHERE slug = $1", 1, p);

		if (!res || PQntuples(res) != 1) {
			fprintf(stderr, "billing: %s\n", res ? "no such tenant" : pg.message);
			if (res)
				PQclear(res);
			return 1;
		}
		snprintf(tenant, sizeof(tenant), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	if (!from || !to) {
		PGresult *res = cc_pg_exec(&pg, "SELECT now() - interval '7 days', now() + interval '1 second'", 0, NULL);

		if (!res) {
			fprintf(stderr, "billing: %s\n", pg.message);
			return 1;
		}
		snprintf(dfrom, sizeof(dfrom), "%s", PQgetvalue(res, 0, 0));
		snprintf(dto, sizeof(dto), "%s", PQgetvalue(res, 0, 1));
		PQclear(res);
		from = from ? from : dfrom;
		to = to ? to : dto;
	}
	if (!strcmp(cmd, "reconcile")) {
		out = bl_reconcile(&pg, slug ? tenant : NULL, from, to, &err);
		if (out && !json_is_true(json_object_get(out, "clean")))
			rc = 1;
	} else if (!strcmp(cmd, "rerate")) {
		struct bl_decks decks = { 0 };

		if (!slug)
			return usage(2);
		out = bl_rerate(&pg, &decks, tenant, from, to, &err);
		bl_decks_free(&decks);
	} else if (!strcmp(cmd, "invoice")) {
		if (!slug || !month)
			return usage(2);
		out = close ? bl_invoice_close(&pg, tenant, month, &err) : bl_invoice(&pg, tenant, month, &err);
		if (out && html) {
			char *page = bl_invoice_html(out);

			fputs(page, stdout);
			free(page);
			json_decref(out);
			cc_pg_close(&pg);
			return 0;
		}
	} else {
		return usage(2);
	}
	if (!out) {
		fprintf(stderr, "billing: %s\n", err ? err : pg.message);
		cc_pg_close(&pg);
		return 1;
	}
	json_object_del(out, "seat_total_micro");
	json_object_del(out, "number_total_micro");
	json_dumpf(out, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(out);
	cc_pg_close(&pg);
	return rc;
}
