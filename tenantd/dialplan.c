/*
 * dialplan.c: destinations outbound PSTN calls may not reach (premium
 * rate, for instance 900). The operator keeps two lists of digit prefixes
 * of E.164 ('+' optional): the platform's (/v1/refused-prefixes), which
 * holds for every tenant, and one per tenant
 * (/v1/tenants/{slug}/refused-prefixes), which the tenant may read. An
 * agent's call to a number starting with any of them gets 403
 * "Destination Not Allowed" from routingd.
 */
#include "api.h"
#include "cc.h"
#include "e164.h"
#include "tenantd.h"

#include <string.h>

static const char COLS[] = "prefix, " TN_TS("created_at");

static json_t *row(const PGresult *res, int i)
{
	return json_pack("{s:s, s:o}", "prefix", PQgetvalue(res, i, 0), "created_at", tn_time(res, i, 1));
}

static int check_prefix(struct tn_req *r, json_t *v, char **err)
{
	char digits[CC_E164_MAX];

	return cc_e164_prefix(json_string_value(v), digits, err);
}

static const struct tn_field fields[] = {
	{ "prefix", JSON_STRING, true, check_prefix, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

/* The tenant's id, or NULL on the platform's routes. */
static const char *owner(struct tn_req *r)
{
	return r->tenant.id[0] ? r->tenant.id : NULL;
}

static void create(struct tn_req *r)
{
	char id[CC_UUID_LEN], digits[CC_E164_MAX];
	const char *p[3] = { id, owner(r), digits };
	char *sql;
	PGresult *res;

	cc_e164_prefix(tn_str(r, "prefix"), digits, NULL);
	if (tn_new_id(r, id) != CC_OK)
		return;
	sql = cc_sprintf("INSERT INTO cc.refused_prefixes (id, tenant_id, prefix) VALUES ($1, $2, $3) "
	                 "RETURNING %s", COLS);
	res = cc_pg_exec(&r->d->pg, sql, 3, p);
	free(sql);
	if (!res)
		return tn_db_error(r, "this prefix");
	tn_notify(r->d, owner(r), "refused_prefix", NULL);
	tn_reply(r, 201, row(res, 0));
	PQclear(res);
}

static void list(struct tn_req *r)
{
	const char *after, *p[3];
	char lim[8], *sql;
	int limit;
	PGresult *res;

	if (tn_page(r, &limit, &after) != CC_OK)
		return;
	snprintf(lim, sizeof(lim), "%d", limit);
	p[0] = after ? after : ""; p[1] = lim; p[2] = owner(r);
	sql = cc_sprintf("SELECT %s FROM cc.refused_prefixes WHERE prefix > $1 AND %s "
	                 "ORDER BY prefix LIMIT $2", COLS,
	                 owner(r) ? "tenant_id = $3" : "tenant_id IS NULL");
	res = cc_pg_exec(&r->d->pg, sql, owner(r) ? 3 : 2, p);
	free(sql);
	if (!res)
		return tn_db_error(r, "refused prefixes");
	tn_reply_page(r, res, row, limit, 0);
}

static void remove_prefix(struct tn_req *r)
{
	const char *prefix = r->params[owner(r) ? 1 : 0];
	const char *p[2] = { prefix, owner(r) };
	char *sql = cc_sprintf("DELETE FROM cc.refused_prefixes WHERE prefix = $1 AND %s RETURNING id",
	                       owner(r) ? "tenant_id = $2" : "tenant_id IS NULL");
	PGresult *res = cc_pg_exec(&r->d->pg, sql, owner(r) ? 2 : 1, p);
	int n;

	free(sql);
	if (!res)
		return tn_db_error(r, "refused prefix");
	n = PQntuples(res);
	PQclear(res);
	if (!n)
		return tn_error(r, 404, "not_found", NULL, "no such refused prefix");
	tn_notify(r->d, owner(r), "refused_prefix", NULL);
	tn_no_content(r);
}

const struct tn_route tn_dialplan_routes[] = {
	{ "POST", "/v1/refused-prefixes", TN_OPERATOR, fields, create, false, false },
	{ "GET", "/v1/refused-prefixes", TN_OPERATOR, NULL, list, false, false },
	{ "DELETE", "/v1/refused-prefixes/{prefix}", TN_OPERATOR, NULL, remove_prefix, false, false },
	{ "POST", "/v1/tenants/{slug}/refused-prefixes", TN_OPERATOR_ON_TENANT, fields, create, false, false },
	{ "GET", "/v1/tenants/{slug}/refused-prefixes", TN_TENANT, NULL, list, false, false },
	{ "DELETE", "/v1/tenants/{slug}/refused-prefixes/{prefix}", TN_OPERATOR_ON_TENANT, NULL,
	  remove_prefix, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
