/*
 * postings.c: the writes to the money tables that billingd makes on
 * request (postings.h): rerating, closing a month, top-ups and
 * adjustments.
 */
#include "postings.h"
#include "cc.h"
#include "engine.h"
#include "id.h"
#include "money.h"
#include "statements.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ------------------------------------------------------------ invoices */

json_t *bl_invoice_close(struct cc_pg *pg, const char *tenant_id, const char *month, const char **err)
{
	const char *p[2] = { tenant_id, month };
	PGresult *res;

	*err = NULL;
	if (!bl_valid_month(month)) {
		*err = "month: YYYY-MM";
		return NULL;
	}
	if (cc_pg_cmd(pg, "BEGIN", 0, NULL) != CC_OK)
		return NULL;
	/* one closer at a time per tenant */
	if (cc_pg_cmd(pg, "SELECT 1 FROM cc.billing_plans WHERE tenant_id = $1 FOR UPDATE", 1, p) != CC_OK)
		goto rollback;
	res = cc_pg_exec(pg, "SELECT body FROM cc.invoices WHERE tenant_id = $1 AND month = $2", 2, p);
	if (!res)
		goto rollback;
	if (PQntuples(res) == 1) {
		json_t *stored = json_loads(PQgetvalue(res, 0, 0), 0, NULL);

		PQclear(res);
		cc_pg_cmd(pg, "COMMIT", 0, NULL);
		return stored;
	}
	PQclear(res);
	json_t *inv = bl_invoice(pg, tenant_id, month, err);

	if (!inv)
		goto rollback;
	if (strcmp(json_string_value(json_object_get(inv, "status")), "open") != 0) {
		json_decref(inv);
		*err = "the month is not over yet";
		goto rollback;
	}
	json_object_set_new(inv, "status", json_string("closed"));
	/* the rental charges reach the ledger once, keyed on the month */
	static const char *const kinds[2][3] = { { "seat", "revenue:seats", "seat_total_micro" },
	                                         { "number", "revenue:numbers", "number_total_micro" } };
	for (int k = 0; k < 2; k++) {
		char amount[24], neg[24];
		int64_t a = json_integer_value(json_object_get(inv, kinds[k][2]));

		if (!a)
			continue;
		snprintf(amount, sizeof(amount), "%lld", (long long)a);
		snprintf(neg, sizeof(neg), "%lld", (long long)-a);
		const char *q[7] = { tenant_id, kinds[k][0], month, json_string_value(json_object_get(inv, "currency")),
		                     neg, kinds[k][1], amount };
		if (cc_pg_cmd(pg, "WITH x AS (INSERT INTO cc.ledger_txns (id, tenant_id, kind, ref, currency, memo)"
		              " VALUES (gen_random_uuid(), $1, $2, $3, $4, 'monthly rental')"
		              " ON CONFLICT DO NOTHING RETURNING id) "
		              "INSERT INTO cc.ledger_entries (txn_id, tenant_id, account, amount_micro)"
		              " SELECT x.id, $1, a.account, a.amount FROM x,"
		              " (VALUES ('tenant', $5::bigint), ($6, $7::bigint)) AS a(account, amount)",
		              7, q) != CC_OK) {
			json_decref(inv);
			goto rollback;
		}
	}
	json_object_del(inv, "seat_total_micro");
	json_object_del(inv, "number_total_micro");
	char *body = json_dumps(inv, JSON_COMPACT);
	const char *ip[3] = { tenant_id, month, body };
	int rc = cc_pg_cmd(pg, "INSERT INTO cc.invoices (tenant_id, month, body) VALUES ($1, $2, $3)", 3, ip);

	free(body);
	if (rc != CC_OK || cc_pg_cmd(pg, "COMMIT", 0, NULL) != CC_OK) {
		json_decref(inv);
		goto rollback;
	}
	return inv;
rollback:
	if (pg->conn)
		PQclear(PQexec(pg->conn, "ROLLBACK"));
	return NULL;
}

/* ------------------------------------------------------------ rerating */

static const char RERATE_SQL[] =
	"SELECT " BL_CALL_COLS ", r.revision, r.cost_micro, COALESCE(r.version_id::text, ''),"
	" COALESCE(r.prefix, ''), r.flags, r.billable_s "
	BL_CALL_FROM
	"JOIN LATERAL (SELECT * FROM cc.rated_lines r WHERE r.call_id = c.id"
	"  ORDER BY r.revision DESC LIMIT 1) r ON true "
	"WHERE c.tenant_id = $1 AND r.started_at >= $2::timestamptz AND r.started_at < $3::timestamptz "
	"ORDER BY r.started_at, c.id";

/* The new revisions of a batch of lines ($1: [{"line","rev","delta"}]):
 * each line, and for a line whose cost changed a 'rerate' ledger
 * transaction keyed on call/revision with its two entries. One statement
 * per batch: one per line made a rerate of 100k changed calls run for
 * minutes. */
static const char REVISION_SQL[] =
	"WITH l AS (SELECT e->'line' AS line, (e->>'rev')::int AS rev, (e->>'delta')::bigint AS delta,"
	"    (e->'line'->>'call_id')::uuid AS call_id FROM jsonb_array_elements($1::jsonb) AS e),"
	"ins AS (INSERT INTO cc.rated_lines"
	"  SELECT (jsonb_populate_record(NULL::cc.rated_lines,"
	"    l.line || jsonb_build_object('revision', l.rev, 'rated_at', now()))).* FROM l"
	"  ON CONFLICT DO NOTHING RETURNING call_id, revision, tenant_id, currency),"
	"x AS (INSERT INTO cc.ledger_txns (id, tenant_id, kind, ref, currency, memo)"
	"  SELECT gen_random_uuid(), ins.tenant_id, 'rerate', ins.call_id::text || '/' || ins.revision,"
	"    ins.currency, 'rerated from revision ' || (ins.revision - 1)"
	"  FROM ins JOIN l ON l.call_id = ins.call_id AND l.rev = ins.revision WHERE l.delta <> 0"
	"  ON CONFLICT DO NOTHING RETURNING id, tenant_id, ref) "
	"INSERT INTO cc.ledger_entries (txn_id, tenant_id, account, amount_micro)"
	" SELECT x.id, x.tenant_id, a.account, a.amount"
	" FROM x JOIN l ON x.ref = l.call_id::text || '/' || l.rev,"
	" LATERAL (VALUES ('tenant', -l.delta), ('revenue:usage', l.delta)) AS a(account, amount)";

/* lines per REVISION_SQL statement */
#define RERATE_BATCH 2000

static int post_revisions(struct cc_pg *pg, json_t *batch)
{
	char *doc;
	int rc;

	if (!json_array_size(batch))
		return CC_OK;
	doc = json_dumps(batch, JSON_COMPACT);
	CC_BUG_ON(!doc);
	const char *q[1] = { doc };
	rc = cc_pg_cmd(pg, REVISION_SQL, 1, q);
	free(doc);
	json_array_clear(batch);
	return rc;
}

json_t *bl_rerate(struct cc_pg *pg, struct bl_decks *decks, const char *tenant_id,
                  const char *from, const char *to, const char **err)
{
	const char *p[3] = { tenant_id, from, to };
	PGresult *res;
	json_t *lines;
	int64_t diff = 0;
	int changed = 0, checked = 0, minor = 2;

	*err = NULL;
	if (cc_pg_cmd(pg, "BEGIN", 0, NULL) != CC_OK)
		return NULL;
	/* one rerating (and no closing) at a time per tenant */
	if (cc_pg_cmd(pg, "SELECT 1 FROM cc.billing_plans WHERE tenant_id = $1 FOR UPDATE", 1, p) != CC_OK ||
	    !(res = cc_pg_exec(pg, RERATE_SQL, 3, p)))
		goto rollback;
	if (!(lines = bl_rate_rows(decks, pg, res))) {
		PQclear(res);
		goto rollback;
	}
	json_t *batch = json_array();

	for (int i = 0; i < PQntuples(res); i++) {
		json_t *l = json_array_get(lines, (size_t)i);
		int64_t old_cost = atoll(PQgetvalue(res, i, 16));
		int64_t new_cost = json_integer_value(json_object_get(l, "cost_micro"));
		const char *nv = json_string_value(json_object_get(l, "version_id"));
		const char *np = json_string_value(json_object_get(l, "prefix"));

		checked++;
		minor = atoi(PQgetvalue(res, i, 10));
		if (new_cost == old_cost && !strcmp(nv ? nv : "", PQgetvalue(res, i, 17)) &&
		    !strcmp(np ? np : "", PQgetvalue(res, i, 18)) &&
		    !strcmp(json_string_value(json_object_get(l, "flags")), PQgetvalue(res, i, 19)) &&
		    json_integer_value(json_object_get(l, "billable_s")) == atoll(PQgetvalue(res, i, 20)))
			continue;
		json_array_append_new(batch, json_pack("{s:O, s:i, s:I}", "line", l,
		                                       "rev", atoi(PQgetvalue(res, i, 15)) + 1,
		                                       "delta", (json_int_t)(new_cost - old_cost)));
		if (json_array_size(batch) >= RERATE_BATCH && post_revisions(pg, batch) != CC_OK) {
			json_decref(batch);
			json_decref(lines);
			PQclear(res);
			goto rollback;
		}
		changed++;
		diff += new_cost - old_cost;
	}
	int rc = post_revisions(pg, batch);

	json_decref(batch);
	json_decref(lines);
	PQclear(res);
	if (rc != CC_OK)
		goto rollback;
	if (cc_pg_cmd(pg, "COMMIT", 0, NULL) != CC_OK)
		goto rollback;
	return json_pack("{s:i, s:i, s:o}", "checked", checked, "changed", changed,
	                 "difference", bl_money_json(diff, minor));
rollback:
	if (pg->conn)
		PQclear(PQexec(pg->conn, "ROLLBACK"));
	return NULL;
}

/* ------------------------------------------------------------ postings */

static json_t *refuse(struct bl_refusal *why, int status, const char *code, const char *field,
                      const char *message)
{
	*why = (struct bl_refusal){ status, code, field, message };
	return NULL;
}

json_t *bl_post(struct cc_pg *pg, const char *tenant_id, const char *kind, const char *amount,
                const char *reference, const char *memo, struct bl_refusal *why)
{
	bool topup = kind && strcmp(kind, "topup") == 0;
	const char *counter = topup ? "cash" : "adjustments", *bad;
	char txn[CC_UUID_LEN], micro[24], neg[24], currency[8];
	int64_t m;
	int minor;

	*why = (struct bl_refusal){ 0 };
	if (!topup && !(kind && strcmp(kind, "adjustment") == 0))
		return refuse(why, 400, "invalid_argument", "kind", "kind: \"topup\" or \"adjustment\"");
	if (!tenant_id || !cc_uuid_valid(tenant_id))
		return refuse(why, 400, "invalid_argument", "tenant", "tenant: a tenant id");
	if (!reference || !*reference || strlen(reference) > 800)
		return refuse(why, 422, "invalid_argument", "reference", "reference: 1 to 200 characters");
	if (memo && strlen(memo) > 800)
		return refuse(why, 422, "invalid_argument", "memo", "memo: 1 to 200 characters");
	const char *pp[1] = { tenant_id };
	PGresult *res = cc_pg_exec(pg, "SELECT p.currency, c.minor_unit FROM cc.billing_plans p "
	                           "JOIN cc.currencies c ON c.code = p.currency WHERE p.tenant_id = $1", 1, pp);

	if (!res)
		return NULL;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return refuse(why, 409, "no_billing_plan", NULL,
		              "the tenant has no billing plan; PUT one first");
	}
	snprintf(currency, sizeof(currency), "%s", PQgetvalue(res, 0, 0));
	minor = atoi(PQgetvalue(res, 0, 1));
	PQclear(res);
	if (!amount || cc_money_parse(amount, minor, &m, &bad) != CC_OK)
		return refuse(why, 422, "invalid_argument", "amount",
		              "amount: a decimal string with at most the currency's decimals");
	if (m == 0)
		return refuse(why, 422, "invalid_argument", "amount", "amount: must not be zero");
	if (topup && m < 0)
		return refuse(why, 422, "invalid_argument", "amount",
		              "amount: a top-up is positive (use an adjustment to take money back)");
	if (cc_uuid(txn) != CC_OK)
		return refuse(why, 503, "unavailable", NULL, "no randomness for an id");
	snprintf(micro, sizeof(micro), "%lld", (long long)m);
	snprintf(neg, sizeof(neg), "%lld", (long long)-m);
	const char *p[9] = { txn, tenant_id, kind, reference, currency, memo ? memo : "", micro, counter,
	                     neg };

	res = cc_pg_exec(pg,
	                 "WITH t AS (INSERT INTO cc.ledger_txns (id, tenant_id, kind, ref, currency, memo) "
	                 "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at) "
	                 "INSERT INTO cc.ledger_entries (txn_id, tenant_id, account, amount_micro) "
	                 "SELECT t.id, $2, a.account, a.amount FROM t, "
	                 "(VALUES ('tenant', $7::bigint), ($8, $9::bigint)) AS a(account, amount) "
	                 "RETURNING (SELECT to_char(created_at AT TIME ZONE 'UTC', "
	                 "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM t)", 9, p);
	if (!res) {
		if (pg->error == CC_PG_CONFLICT)
			return refuse(why, 409, "conflict", "reference",
			              "reference: already posted for this tenant; nothing was posted again");
		return NULL;
	}
	json_t *out = json_pack("{s:s, s:s, s:o, s:s, s:s, s:s}", "id", txn, "kind", kind,
	                        "amount", bl_money_json(m, minor), "currency", currency,
	                        "reference", reference, "created_at", PQgetvalue(res, 0, 0));
	PQclear(res);
	return out;
}
