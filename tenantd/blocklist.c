/*
 * blocklist.c: /v1/tenants/{slug}/blocklist. Callers whose number equals
 * an entry's e164, or starts with its prefix (digits of E.164, no '+'),
 * are refused with 603 before anything rings.
 */
#include "api.h"
#include "cc.h"
#include "e164.h"
#include "tenantd.h"

#include <string.h>

static const char COLS[] = "id, e164, prefix, "
	TN_TS("created_at");

static json_t *row(const PGresult *res, int i)
{
	json_t *o = json_pack("{s:s, s:o}", "id", PQgetvalue(res, i, 0),
	                      "created_at", tn_time(res, i, 3));

	if (!PQgetisnull(res, i, 1))
		json_object_set_new(o, "e164", json_string(PQgetvalue(res, i, 1)));
	else
		json_object_set_new(o, "prefix", json_string(PQgetvalue(res, i, 2)));
	return o;
}

static int check_prefix(struct tn_req *r, json_t *v, char **err)
{
	char digits[CC_E164_MAX];

	return cc_e164_prefix(json_string_value(v), digits, err);
}

static const struct tn_field fields[] = {
	{ "e164", JSON_STRING, false, tn_check_e164, NULL, false },
	{ "prefix", JSON_STRING, false, check_prefix, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static void create(struct tn_req *r)
{
	char id[CC_UUID_LEN], digits[CC_E164_MAX];
	const char *e164 = tn_str(r, "e164"), *prefix = tn_str(r, "prefix");
	const char *p[4] = { id, r->tenant.id, e164, NULL };
	char *sql;
	PGresult *res;

	if (!e164 == !prefix)
		return tn_error(r, 400, "invalid_argument", e164 ? "prefix" : "e164",
		                "give exactly one of 'e164' and 'prefix'");
	if (prefix) {
		cc_e164_prefix(prefix, digits, NULL);
		p[3] = digits;
	}
	if (tn_new_id(r, id) != CC_OK)
		return;
	sql = cc_sprintf("INSERT INTO cc.blocklist (id, tenant_id, e164, prefix) VALUES ($1, $2, $3, $4) "
	                 "RETURNING %s", COLS);
	res = cc_pg_exec(&r->d->pg, sql, 4, p);
	free(sql);
	if (!res)
		return tn_db_error(r, "this block-list entry");
	tn_notify(r->d, r->tenant.id, "blocklist", NULL);
	tn_reply(r, 201, row(res, 0));
	PQclear(res);
}

static void list(struct tn_req *r)
{
	tn_list_page(r, cc_sprintf("SELECT %s FROM cc.blocklist WHERE tenant_id = $1 AND id::text > $2 "
	                           "ORDER BY id LIMIT $3", COLS),
	             "block list", row, 0);
}

static void remove_entry(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->params[1] };
	PGresult *res = cc_pg_exec(&r->d->pg, "DELETE FROM cc.blocklist WHERE tenant_id = $1 "
	                           "AND id::text = $2 RETURNING id", 2, p);
	int n;

	if (!res)
		return tn_db_error(r, "block-list entry");
	n = PQntuples(res);
	PQclear(res);
	if (!n)
		return tn_error(r, 404, "not_found", NULL, "no such block-list entry");
	tn_notify(r->d, r->tenant.id, "blocklist", NULL);
	tn_no_content(r);
}

const struct tn_route tn_blocklist_routes[] = {
	{ "POST", "/v1/tenants/{slug}/blocklist", TN_TENANT, fields, create, false, false },
	{ "GET", "/v1/tenants/{slug}/blocklist", TN_TENANT, NULL, list, false, false },
	{ "DELETE", "/v1/tenants/{slug}/blocklist/{id}", TN_TENANT, NULL, remove_entry, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
