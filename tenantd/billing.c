/*
 * billing.c: a tenant's billing plan, money and statements.
 *
 *   PUT  /v1/tenants/{slug}/billing               operator: the plan
 *   GET  /v1/tenants/{slug}/billing               the plan
 *   POST /v1/tenants/{slug}/billing/topups        operator: {"amount","reference"}
 *   POST /v1/tenants/{slug}/billing/adjustments   operator: {"amount","reference","memo"}
 *   GET  /v1/tenants/{slug}/billing/ledger        the tenant's ledger entries, newest first
 *   GET  /v1/tenants/{slug}/balance               {"currency","balance","reserved","available"}
 *
 * Money is a decimal string with at most the currency's minor-unit digits.
 * Every posting is one ledger transaction of two entries that sum to zero
 * (the tenant's account and its counter-account), keyed on (tenant, kind,
 * reference): repeating a reference answers 409 and posts nothing.
 * billingd posts them (tenantd may not write the ledger, ops/db/roles.sql).
 */
#include "api.h"
#include "cc.h"
#include "id.h"
#include "engine.h"
#include "money.h"
#include "rpc.h"
#include "tenantd.h"

#include <string.h>

#define TS TN_TS

/* ------------------------------------------------------------ helpers */

static int check_money(struct tn_req *r, json_t *v, char **err)
{
	int64_t m;
	const char *why;

	if (cc_money_parse(json_string_value(v), 6, &m, &why) != CC_OK)
		return cc_fail(err, "%s (a decimal string like \"100.00\")", why);
	return CC_OK;
}

static int check_reference(struct tn_req *r, json_t *v, char **err)
{
	size_t n = tn_utf8_len(json_string_value(v));   /* characters, as the message says */

	return n >= 1 && n <= 200 ? CC_OK : cc_fail(err, "must be 1 to 200 characters");
}

/* The tenant's currency and its minor unit, from the plan. CC_DECLINED
 * (after answering 409) when the tenant has no plan. */
static int plan_currency(struct tn_req *r, char currency[8], int *minor)
{
	const char *p[1] = { r->tenant.id };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT p.currency, c.minor_unit FROM cc.billing_plans p "
	                           "JOIN cc.currencies c ON c.code = p.currency WHERE p.tenant_id = $1",
	                           1, p);

	if (!res) {
		tn_db_error(r, "billing plan");
		return CC_ERROR;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		tn_error(r, 409, "no_billing_plan", NULL, "the tenant has no billing plan; PUT one first");
		return CC_DECLINED;
	}
	snprintf(currency, 8, "%s", PQgetvalue(res, 0, 0));
	*minor = atoi(PQgetvalue(res, 0, 1));
	PQclear(res);
	return CC_OK;
}

/* An amount of the body in micro-units, at most `minor` decimals. */
static int amount(struct tn_req *r, const char *field, int minor, bool nonzero, int64_t *micro)
{
	const char *why;
	const char *s = tn_str(r, field);

	if (!s)
		return CC_OK;
	if (cc_money_parse(s, minor, micro, &why) != CC_OK) {
		tn_error(r, 422, "invalid_argument", field, "%s: %s", field, why);
		return CC_ERROR;
	}
	if (nonzero && *micro == 0) {
		tn_error(r, 422, "invalid_argument", field, "%s: must not be zero", field);
		return CC_ERROR;
	}
	return CC_OK;
}

static json_t *money(const char *micro, int minor)
{
	char out[CC_MONEY_LEN];

	cc_money_format(atoll(micro), minor, out);
	return json_string(out);
}

/* --------------------------------------------------------------- plan */

/* a deck's name: an import refuses anything longer (tariffs.c) */
static int check_tariff(struct tn_req *r, json_t *v, char **err)
{
	size_t n = strlen(json_string_value(v));

	return n >= 1 && n <= 63 ? CC_OK : cc_fail(err, "must be a deck's name (1 to 63 characters)");
}

/* ISO 4217: three capital letters (which ones the platform bills in is
 * the database's cc.currencies) */
static int check_currency(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);

	return strlen(s) == 3 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 3
	       ? CC_OK : cc_fail(err, "must be an ISO 4217 code like \"CNY\"");
}

static const struct tn_field tariff_fields[] = {
	{ "inbound", JSON_STRING, false, check_tariff, NULL, false },
	{ "outbound", JSON_STRING, false, check_tariff, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static int check_mode(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);

	return strcmp(s, "prepaid") == 0 || strcmp(s, "postpaid") == 0
	       ? CC_OK : cc_fail(err, "must be \"prepaid\" or \"postpaid\"");
}

static int check_no_rate(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);

	return strcmp(s, "refuse") == 0 || strcmp(s, "free") == 0
	       ? CC_OK : cc_fail(err, "must be \"refuse\" (refused at setup) or \"free\" (free and flagged)");
}

static int check_max_call(struct tn_req *r, json_t *v, char **err)
{
	json_int_t n = json_integer_value(v);

	return n >= 60 && n <= 86400 ? CC_OK : cc_fail(err, "must be 60 to 86400 seconds");
}

static int check_anchor(struct tn_req *r, json_t *v, char **err)
{
	json_int_t n = json_integer_value(v);

	return n >= 1 && n <= 28 ? CC_OK : cc_fail(err, "must be a day of the month from 1 to 28");
}

static const struct tn_field plan_fields[] = {
	{ "mode", JSON_STRING, true, check_mode, NULL, false },
	{ "currency", JSON_STRING, true, check_currency, NULL, false },
	{ "tariffs", JSON_OBJECT, false, NULL, tariff_fields, false },
	{ "seat_price_per_month", JSON_STRING, false, check_money, NULL, false },
	{ "number_price_per_month", JSON_STRING, false, check_money, NULL, false },
	{ "credit_limit", JSON_STRING, false, check_money, NULL, false },
	{ "no_rate", JSON_STRING, false, check_no_rate, NULL, false },
	{ "max_call_seconds", JSON_INTEGER, false, check_max_call, NULL, false },
	{ "anchor_day", JSON_INTEGER, false, check_anchor, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static const char PLAN_COLS[] =
	"p.mode, p.currency, ti.name, t_out.name, p.seat_price_micro, p.number_price_micro, "
	"p.credit_limit_micro, p.no_rate, p.max_call_s, p.anchor_day, c.minor_unit, "
	TS("p.updated_at");

static const char PLAN_FROM[] =
	"FROM cc.billing_plans p JOIN cc.currencies c ON c.code = p.currency "
	"LEFT JOIN cc.tariffs ti ON ti.id = p.inbound_tariff "
	"LEFT JOIN cc.tariffs t_out ON t_out.id = p.outbound_tariff WHERE p.tenant_id = $1";

static json_t *plan_json(const PGresult *res)
{
	int minor = atoi(PQgetvalue(res, 0, 10));
	json_t *tariffs = json_object();

	if (!PQgetisnull(res, 0, 2))
		json_object_set_new(tariffs, "inbound", json_string(PQgetvalue(res, 0, 2)));
	if (!PQgetisnull(res, 0, 3))
		json_object_set_new(tariffs, "outbound", json_string(PQgetvalue(res, 0, 3)));
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:i, s:i, s:s}",
	                 "mode", PQgetvalue(res, 0, 0), "currency", PQgetvalue(res, 0, 1),
	                 "tariffs", tariffs,
	                 "seat_price_per_month", money(PQgetvalue(res, 0, 4), minor),
	                 "number_price_per_month", money(PQgetvalue(res, 0, 5), minor),
	                 "credit_limit", money(PQgetvalue(res, 0, 6), minor),
	                 "no_rate", PQgetvalue(res, 0, 7),
	                 "max_call_seconds", atoi(PQgetvalue(res, 0, 8)),
	                 "anchor_day", atoi(PQgetvalue(res, 0, 9)),
	                 "updated_at", PQgetvalue(res, 0, 11));
}

static PGresult *select_plan(struct tn_req *r)
{
	const char *p[1] = { r->tenant.id };
	char *sql = cc_sprintf("SELECT %s %s", PLAN_COLS, PLAN_FROM);
	PGresult *res = cc_pg_exec(&r->d->pg, sql, 1, p);

	free(sql);
	return res;
}

/* A deck named in the plan: must exist and bill in the plan's currency. */
static int tariff_id(struct tn_req *r, const char *which, const char *currency, char id[CC_UUID_LEN])
{
	const char *name = json_string_value(json_object_get(json_object_get(r->body, "tariffs"), which));
	char field[24];

	id[0] = '\0';
	if (!name)
		return CC_OK;
	snprintf(field, sizeof(field), "tariffs.%s", which);
	const char *p[1] = { name };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT id, currency FROM cc.tariffs WHERE name = $1", 1, p);

	if (!res) {
		tn_db_error(r, "tariff");
		return CC_ERROR;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		tn_error(r, 422, "invalid_argument", field, "%s: no tariff named %.64s", field, name);
		return CC_ERROR;
	}
	if (strcmp(PQgetvalue(res, 0, 1), currency) != 0) {
		tn_error(r, 422, "invalid_argument", field, "%s: deck %.64s is in %s, the plan in %s",
		         field, name, PQgetvalue(res, 0, 1), currency);
		PQclear(res);
		return CC_ERROR;
	}
	snprintf(id, CC_UUID_LEN, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return CC_OK;
}

static void put_plan(struct tn_req *r)
{
	const char *currency = tn_str(r, "currency");
	char tin[CC_UUID_LEN], tout[CC_UUID_LEN], seat[24], num[24], credit[24], maxs[16], anchor[8];
	int64_t seat_m = 0, num_m = 0, credit_m = 0;
	int minor;
	PGresult *res;

	const char *cp[1] = { currency };
	res = cc_pg_exec(&r->d->pg, "SELECT minor_unit FROM cc.currencies WHERE code = $1", 1, cp);
	if (!res)
		return tn_db_error(r, "currency");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return tn_error(r, 422, "invalid_argument", "currency",
		                "currency: %.8s is not a currency the platform bills in", currency);
	}
	minor = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (amount(r, "seat_price_per_month", minor, false, &seat_m) != CC_OK ||
	    amount(r, "number_price_per_month", minor, false, &num_m) != CC_OK ||
	    amount(r, "credit_limit", minor, false, &credit_m) != CC_OK)
		return;
	if (seat_m < 0 || num_m < 0 || credit_m < 0)
		return tn_error(r, 422, "invalid_argument", seat_m < 0 ? "seat_price_per_month" :
		                num_m < 0 ? "number_price_per_month" : "credit_limit",
		                "prices and the credit limit cannot be negative");
	if (tariff_id(r, "inbound", currency, tin) != CC_OK ||
	    tariff_id(r, "outbound", currency, tout) != CC_OK)
		return;
	snprintf(seat, sizeof(seat), "%lld", (long long)seat_m);
	snprintf(num, sizeof(num), "%lld", (long long)num_m);
	snprintf(credit, sizeof(credit), "%lld", (long long)credit_m);
	json_t *mc = json_object_get(r->body, "max_call_seconds"), *ad = json_object_get(r->body, "anchor_day");
	snprintf(maxs, sizeof(maxs), "%lld", mc ? (long long)json_integer_value(mc) : 14400LL);
	snprintf(anchor, sizeof(anchor), "%lld", ad ? (long long)json_integer_value(ad) : 1LL);
	const char *no_rate = tn_str(r, "no_rate");
	const char *p[11] = { r->tenant.id, tn_str(r, "mode"), currency, tin[0] ? tin : NULL,
	                      tout[0] ? tout : NULL, seat, num, credit, no_rate ? no_rate : "refuse",
	                      maxs, anchor };

	/* a tenant with money on its ledger keeps its currency */
	const char *lp[2] = { r->tenant.id, currency };
	res = cc_pg_exec(&r->d->pg, "SELECT currency FROM cc.ledger_txns WHERE tenant_id = $1 "
	                 "AND currency <> $2 LIMIT 1", 2, lp);
	if (!res)
		return tn_db_error(r, "ledger");
	if (PQntuples(res)) {
		PQclear(res);
		return tn_error(r, 409, "conflict", "currency",
		                "currency: the tenant's ledger is in another currency");
	}
	PQclear(res);
	if (cc_pg_cmd(&r->d->pg,
	              "INSERT INTO cc.billing_plans (tenant_id, mode, currency, inbound_tariff, "
	              "outbound_tariff, seat_price_micro, number_price_micro, credit_limit_micro, "
	              "no_rate, max_call_s, anchor_day) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
	              "ON CONFLICT (tenant_id) DO UPDATE SET mode = EXCLUDED.mode, "
	              "currency = EXCLUDED.currency, inbound_tariff = EXCLUDED.inbound_tariff, "
	              "outbound_tariff = EXCLUDED.outbound_tariff, seat_price_micro = EXCLUDED.seat_price_micro, "
	              "number_price_micro = EXCLUDED.number_price_micro, "
	              "credit_limit_micro = EXCLUDED.credit_limit_micro, no_rate = EXCLUDED.no_rate, "
	              "max_call_s = EXCLUDED.max_call_s, anchor_day = EXCLUDED.anchor_day, updated_at = now()",
	              11, p) != CC_OK)
		return tn_db_error(r, "billing plan");
	if (!(res = select_plan(r)))
		return tn_db_error(r, "billing plan");
	tn_notify(r->d, r->tenant.id, "billing", NULL);
	tn_reply(r, 200, plan_json(res));
	PQclear(res);
}

static void get_plan(struct tn_req *r)
{
	PGresult *res = select_plan(r);

	if (!res)
		return tn_db_error(r, "billing plan");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return tn_error(r, 404, "not_found", NULL, "the tenant has no billing plan");
	}
	tn_reply(r, 200, plan_json(res));
	PQclear(res);
}

/* ------------------------------------------------------------ postings */

static const struct tn_field posting_fields[] = {
	{ "amount", JSON_STRING, true, check_money, NULL, false },
	{ "reference", JSON_STRING, true, check_reference, NULL, false },
	{ "memo", JSON_STRING, false, tn_check_name, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static void balance_changed(struct tn_req *r)
{
	tn_notify(r->d, r->tenant.id, "balance", NULL);
}

/* One ledger transaction (tenant +amount, counter -amount), posted by
 * billingd, which alone writes the ledger (billing/rpc.h, postings.h);
 * it checks the amount against the plan's currency. */
static void post(struct tn_req *r, const char *kind)
{
	json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "tenant", r->tenant.id, "kind", kind,
	                        "amount", tn_str(r, "amount"), "reference", tn_str(r, "reference"));

	if (tn_str(r, "memo"))
		json_object_set_new(req, "memo", json_string(tn_str(r, "memo")));
	tn_forward(r, BL_RPC_POST, req, balance_changed);
}

static void topup(struct tn_req *r)
{
	post(r, "topup");
}

static void adjustment(struct tn_req *r)
{
	post(r, "adjustment");
}

/* ------------------------------------------------------------ balances */

static void balance(struct tn_req *r)
{
	char currency[8];
	int minor;
	const char *p[1] = { r->tenant.id };
	PGresult *res;

	if (plan_currency(r, currency, &minor) != CC_OK)
		return;
	res = cc_pg_exec(&r->d->pg,
	                 "SELECT (SELECT COALESCE(sum(amount_micro), 0) FROM cc.ledger_entries "
	                 "        WHERE tenant_id = $1 AND account = 'tenant'),"
	                 "       (SELECT COALESCE(sum(amount_micro), 0) FROM cc.grants "
	                 "        WHERE tenant_id = $1 AND settled_at IS NULL AND " BL_GRANT_LIVE "),"
	                 "       (SELECT credit_limit_micro FROM cc.billing_plans WHERE tenant_id = $1)",
	                 1, p);
	if (!res)
		return tn_db_error(r, "balance");
	long long bal = atoll(PQgetvalue(res, 0, 0)), reserved = atoll(PQgetvalue(res, 0, 1));
	long long limit = atoll(PQgetvalue(res, 0, 2));
	char a[24], b[24], c[24];

	PQclear(res);
	snprintf(a, sizeof(a), "%lld", bal);
	snprintf(b, sizeof(b), "%lld", reserved);
	snprintf(c, sizeof(c), "%lld", bal + limit - reserved);
	tn_reply(r, 200, json_pack("{s:s, s:o, s:o, s:o}", "currency", currency, "balance", money(a, minor),
	                           "reserved", money(b, minor), "available", money(c, minor)));
}

static json_t *ledger_row(const PGresult *res, int i)
{
	int minor = atoi(PQgetvalue(res, i, 6));

	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s}", "id", PQgetvalue(res, i, 0),
	                 "kind", PQgetvalue(res, i, 1), "reference", PQgetvalue(res, i, 2),
	                 "amount", money(PQgetvalue(res, i, 3), minor), "currency", PQgetvalue(res, i, 4),
	                 "memo", PQgetvalue(res, i, 5), "created_at", PQgetvalue(res, i, 7));
}

static void ledger(struct tn_req *r)
{
	const char *after, *p[3];
	char lim[8];
	int limit;
	PGresult *res;

	if (tn_page(r, &limit, &after) != CC_OK)
		return;
	snprintf(lim, sizeof(lim), "%d", limit);
	p[0] = r->tenant.id; p[1] = after; p[2] = lim;
	res = cc_pg_exec(&r->d->pg,
	                 "SELECT e.id, t.kind, t.ref, e.amount_micro, t.currency, t.memo, c.minor_unit, "
	                 TS("t.created_at") " FROM cc.ledger_entries e JOIN cc.ledger_txns t ON t.id = e.txn_id "
	                 "JOIN cc.currencies c ON c.code = t.currency "
	                 "WHERE e.tenant_id = $1 AND e.account = 'tenant' "
	                 "AND ($2::bigint IS NULL OR e.id < $2::bigint) ORDER BY e.id DESC LIMIT $3", 3, p);
	if (!res) {
		if (r->d->pg.error == CC_PG_INVALID)
			return tn_error(r, 400, "invalid_argument", "after", "after: an entry id");
		return tn_db_error(r, "ledger");
	}
	tn_reply_page(r, res, ledger_row, limit, 0);
}

const struct tn_route tn_billing_routes[] = {
	{ "PUT", "/v1/tenants/{slug}/billing", TN_OPERATOR_ON_TENANT, plan_fields, put_plan, false, false },
	{ "GET", "/v1/tenants/{slug}/billing", TN_TENANT, NULL, get_plan, false, false },
	{ "POST", "/v1/tenants/{slug}/billing/topups", TN_OPERATOR_ON_TENANT, posting_fields, topup, false, false },
	{ "POST", "/v1/tenants/{slug}/billing/adjustments", TN_OPERATOR_ON_TENANT, posting_fields,
	  adjustment, false, false },
	{ "GET", "/v1/tenants/{slug}/billing/ledger", TN_TENANT, NULL, ledger, false, false },
	{ "GET", "/v1/tenants/{slug}/balance", TN_TENANT, NULL, balance, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
