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
 * Rerating and closing write money, which is billingd's alone: the CLI
 * asks billingd for them over NATS (billing/rpc.h; CC_NATS_URL,
 * CC_NATS_CREDS, at most CC_BILLING_TIMEOUT_S seconds, default 300) and
 * prints its answer; it reads the rest from the database itself.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc.h"
#include "clock.h"
#include "events.h"
#include "pg.h"
#include "rating.h"
#include "rpc.h"

/* Asks billingd (rpc.h): its answer's body, or NULL after saying why. */
static json_t *ask_billingd(const char *subject, json_t *req)
{
	const char *url = getenv("CC_NATS_URL"), *t = getenv("CC_BILLING_TIMEOUT_S");
	long timeout_s = t && atol(t) > 0 ? atol(t) : 300;
	char *text = json_dumps(req, JSON_COMPACT);
	natsConnection *nc = cc_nats_connect(url ? url : "nats://127.0.0.1:4222", "billing-cli", true);
	natsMsg *msg = NULL;
	json_t *reply = NULL, *body = NULL;
	natsStatus s = NATS_CONNECTION_CLOSED;

	json_decref(req);
	/* it reconnects for ever: a NATS that is not there is said, not waited for */
	for (int64_t until = cc_mono_ms() + 3000;
	     nc && natsConnection_Status(nc) != NATS_CONN_STATUS_CONNECTED && cc_mono_ms() < until;)
		nats_Sleep(20);
	if (nc && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED)
		s = natsConnection_RequestString(&msg, nc, subject, text, timeout_s * 1000);
	free(text);
	if (s == NATS_NO_RESPONDERS)
		fputs("billing: billingd is not running (nothing was changed)\n", stderr);
	else if (s == NATS_TIMEOUT)
		fprintf(stderr, "billing: billingd did not answer within %ld s; it may still complete "
		        "(it is safe to repeat)\n", timeout_s);
	else if (s != NATS_OK)
		fprintf(stderr, "billing: NATS: %s\n", natsStatus_GetText(s));
	if (msg)
		reply = json_loadb(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), 0, NULL);
	if (msg && json_is_object(json_object_get(reply, "body")))
		body = json_incref(json_object_get(reply, "body"));
	else if (msg)
		fprintf(stderr, "billing: %d %s\n", (int)json_integer_value(json_object_get(reply, "status")),
		        json_string_value(json_object_get(json_object_get(reply, "error"), "message")) ?:
		        "billingd's answer is not one");
	json_decref(reply);
	natsMsg_Destroy(msg);
	natsConnection_Destroy(nc);
	nats_Close();
	return body;
}

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
		if (!slug)
			return usage(2);
		if (!(out = ask_billingd(BL_RPC_RERATE, json_pack("{s:s, s:s, s:s}", "tenant", tenant,
		                                                  "from", from, "to", to)))) {
			cc_pg_close(&pg);
			return 1;
		}
	} else if (!strcmp(cmd, "invoice")) {
		if (!slug || !month)
			return usage(2);
		if (close && !(out = ask_billingd(BL_RPC_CLOSE, json_pack("{s:s, s:s}", "tenant", tenant,
		                                                          "month", month)))) {
			cc_pg_close(&pg);
			return 1;
		}
		if (!close)
			out = bl_invoice(&pg, tenant, month, &err);
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
