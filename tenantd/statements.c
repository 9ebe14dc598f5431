/*
 * statements.c: invoices, rerating and reconciliation over the API
 * (billing/statements.h has the rules).
 *
 *   GET  /v1/tenants/{slug}/invoices                    months and their status
 *   GET  /v1/tenants/{slug}/invoices/{YYYY-MM}          JSON (".html": a printable page)
 *   POST /v1/tenants/{slug}/invoices/{YYYY-MM}/close    operator; idempotent
 *   POST /v1/tenants/{slug}/billing/rerate              operator: {"from","to"}
 *
 * Closing and rerating write money: billingd does them (billing/rpc.h),
 * asked without holding the loop (forward.c).
 *   GET  /v1/tenants/{slug}/billing/reconciliation      ?from=&to= (default: the last 7 days)
 *   GET  /v1/billing/reconciliation                     operator, every tenant
 */
#include "api.h"
#include "cc.h"
#include "rating.h"
#include "rpc.h"
#include "tenantd.h"

#include <string.h>

static void invoice_error(struct tn_req *r, const char *err, const char *what)
{
	if (!err)
		return tn_db_error(r, what);
	if (strstr(err, "no billing plan"))
		return tn_error(r, 404, "not_found", NULL, "%s", err);
	if (strstr(err, "not over"))
		return tn_error(r, 409, "conflict", "month", "%s", err);
	tn_error(r, 400, "invalid_argument", "month", "%s", err);
}

/* YYYY-MM from 2000-01 to 2199-12: the months an invoice can be about.
 * PostgreSQL would refuse year 0000 with its own words. */
static bool month_ok(const char *m)
{
	return strlen(m) == 7 && strspn(m, "0123456789") == 4 && m[4] == '-' &&
	       strspn(m + 5, "0123456789") == 2 && (m[0] == '2' && m[1] <= '1') &&
	       ((m[5] == '0' && m[6] >= '1') || (m[5] == '1' && m[6] <= '2'));
}

static void bad_month(struct tn_req *r)
{
	tn_error(r, 404, "not_found", "month",
	         "no such invoice: months are YYYY-MM, from 2000-01 to 2199-12");
}

/* The invoice page: the tenant's and decks' texts are escaped; the policy
 * forbids any script, frame or outside resource should one slip through. */
static const char INVOICE_CSP[] =
	"default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; "
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

static void list(struct tn_req *r)
{
	json_t *a = bl_invoice_list(&r->d->pg, r->tenant.id);

	if (!a)
		return tn_db_error(r, "invoices");
	tn_reply(r, 200, tn_list(a, NULL));
}

static void get(struct tn_req *r)
{
	char month[16];
	const char *m = r->params[1], *err;
	size_t n = strlen(m);
	bool html = n > 5 && strcmp(m + n - 5, ".html") == 0;

	snprintf(month, sizeof(month), "%.*s", (int)(html ? n - 5 : n), m);
	if (!month_ok(month))
		return bad_month(r);
	/* a closed month is served as it was closed */
	const char *p[2] = { r->tenant.id, month };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT body FROM cc.invoices WHERE tenant_id = $1 AND month = $2",
	                           2, p);
	json_t *inv = NULL;

	if (!res)
		return tn_db_error(r, "invoice");
	if (PQntuples(res) == 1)
		inv = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	PQclear(res);
	if (!inv && !(inv = bl_invoice(&r->d->pg, r->tenant.id, month, &err))) {
		if (err && strstr(err, "YYYY-MM"))
			return tn_error(r, 404, "not_found", NULL, "no such invoice (months are YYYY-MM)");
		return invoice_error(r, err, "invoice");
	}
	json_object_del(inv, "seat_total_micro");
	json_object_del(inv, "number_total_micro");
	if (html) {
		char *page = bl_invoice_html(inv);

		tn_reply_raw(r, 200, "text/html; charset=utf-8", page,
		             "Content-Security-Policy", INVOICE_CSP, "X-Frame-Options", "DENY", NULL);
		free(page);
		json_decref(inv);
		return;
	}
	tn_reply(r, 200, inv);
}

/* billingd answered yes: the balance changed */
static void balance_changed(struct tn_req *r)
{
	tn_notify(r->d, r->tenant.id, "balance", NULL);
}

/* Closing writes the ledger and the invoice: billingd's (billing/rpc.h). */
static void close_month(struct tn_req *r)
{
	if (!month_ok(r->params[1]))
		return bad_month(r);
	tn_forward(r, BL_RPC_CLOSE, json_pack("{s:s, s:s}", "tenant", r->tenant.id, "month", r->params[1]),
	           balance_changed);
}

static int check_time(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);
	size_t n = strlen(s);

	if (n < 10 || n > 35 || strspn(s, "0123456789-:.TtZz+ ") != n)
		return cc_fail(err, "an RFC 3339 time");
	return CC_OK;
}

static const struct tn_field rerate_fields[] = {
	{ "from", JSON_STRING, true, check_time, NULL, false },
	{ "to", JSON_STRING, true, check_time, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

/* Rerating writes rated lines and the ledger: billingd's; it may take
 * seconds for a big tenant, and the loop serves others meanwhile. */
static void rerate(struct tn_req *r)
{
	tn_forward(r, BL_RPC_RERATE, json_pack("{s:s, s:s, s:s}", "tenant", r->tenant.id,
	                                       "from", tn_str(r, "from"), "to", tn_str(r, "to")),
	           balance_changed);
}

static void reconcile(struct tn_req *r, const char *tenant)
{
	const char *from = tn_query(r, "from"), *to = tn_query(r, "to"), *err;
	char dfrom[40], dto[40];
	PGresult *res;

	if (!from || !to) {
		if (!(res = cc_pg_exec(&r->d->pg, "SELECT now() - interval '7 days', now() + interval '1 second'",
		                       0, NULL)))
			return tn_db_error(r, "reconciliation");
		snprintf(dfrom, sizeof(dfrom), "%s", PQgetvalue(res, 0, 0));
		snprintf(dto, sizeof(dto), "%s", PQgetvalue(res, 0, 1));
		PQclear(res);
		from = from ? from : dfrom;
		to = to ? to : dto;
	}
	json_t *out = bl_reconcile(&r->d->pg, tenant, from, to, &err);

	if (!out) {
		if (err)
			return tn_error(r, 400, "invalid_argument", "from", "%s", err);
		return tn_db_error(r, "reconciliation");
	}
	tn_reply(r, 200, out);
}

static void reconcile_tenant(struct tn_req *r)
{
	reconcile(r, r->tenant.id);
}

static void reconcile_all(struct tn_req *r)
{
	reconcile(r, NULL);
}

const struct tn_route tn_statement_routes[] = {
	{ "GET", "/v1/tenants/{slug}/invoices", TN_TENANT, NULL, list, false, false },
	{ "GET", "/v1/tenants/{slug}/invoices/{month}", TN_TENANT, NULL, get, false, false },
	{ "POST", "/v1/tenants/{slug}/invoices/{month}/close", TN_OPERATOR_ON_TENANT, NULL, close_month,
	  false, false },
	{ "POST", "/v1/tenants/{slug}/billing/rerate", TN_OPERATOR_ON_TENANT, rerate_fields, rerate, false,
	  false },
	{ "GET", "/v1/tenants/{slug}/billing/reconciliation", TN_TENANT, NULL, reconcile_tenant, false, false },
	{ "GET", "/v1/billing/reconciliation", TN_OPERATOR, NULL, reconcile_all, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
