/*
 * numbers.c: /v1/tenants/{slug}/numbers. A number (E.164) belongs to one
 * tenant only (unique across the platform) and says where its calls go;
 * for now the target is one of the tenant's agents.
 */
#include "api.h"
#include "cc.h"
#include "tenantd.h"

#include <string.h>

static const char COLS[] = "id, e164, target_type, target_extension, "
	TN_TS("created_at") ", "
	TN_TS("updated_at");

static json_t *row(const PGresult *res, int i)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:o}", "id", PQgetvalue(res, i, 0),
	                 "e164", PQgetvalue(res, i, 1), "target", "type", PQgetvalue(res, i, 2),
	                 "extension", PQgetvalue(res, i, 3),
	                 "created_at", tn_time(res, i, 4), "updated_at", tn_time(res, i, 5));
}

static int check_target_type(struct tn_req *r, json_t *v, char **err)
{
	if (strcmp(json_string_value(v), "agent") != 0)
		return cc_fail(err, "must be \"agent\"");
	return CC_OK;
}

static const struct tn_field target_fields[] = {
	{ "type", JSON_STRING, true, check_target_type, NULL },
	{ "extension", JSON_STRING, true, tn_check_extension, NULL },
	{ NULL, 0, false, NULL, NULL },
};

static const struct tn_field create_fields[] = {
	{ "e164", JSON_STRING, true, tn_check_e164, NULL },
	{ "target", JSON_OBJECT, true, NULL, target_fields },
	{ NULL, 0, false, NULL, NULL },
};

static const struct tn_field patch_fields[] = {
	{ "target", JSON_OBJECT, false, NULL, target_fields },
	{ NULL, 0, false, NULL, NULL },
};

/* The target must be an agent of this tenant: 422 otherwise. */
static int check_target(struct tn_req *r, const char **ext)
{
	json_t *t = json_object_get(r->body, "target");
	const char *p[2] = { r->tenant.id, NULL };
	PGresult *res;
	int n;

	*ext = json_string_value(json_object_get(t, "extension"));
	p[1] = *ext;
	res = cc_pg_exec(&r->d->pg, "SELECT 1 FROM cc.agents WHERE tenant_id = $1 AND extension = $2",
	                 2, p);
	if (!res) {
		tn_db_error(r, "agent");
		return CC_ERROR;
	}
	n = PQntuples(res);
	PQclear(res);
	if (!n) {
		tn_error(r, 422, "invalid_argument", "target.extension", "no agent with extension %s", *ext);
		return CC_ERROR;
	}
	return CC_OK;
}

static json_t *select_one(struct tn_req *r, const char *e164)
{
	const char *p[2] = { r->tenant.id, e164 };
	char *sql = cc_sprintf("SELECT %s FROM cc.numbers WHERE tenant_id = $1 AND e164 = $2", COLS);
	PGresult *res = cc_pg_exec(&r->d->pg, sql, 2, p);
	json_t *out = NULL;

	free(sql);
	if (res && PQntuples(res) == 1)
		out = row(res, 0);
	if (res)
		PQclear(res);
	return out;
}

static void create(struct tn_req *r)
{
	char id[CC_UUID_LEN];
	const char *ext, *p[4] = { id, r->tenant.id, tn_str(r, "e164"), NULL };
	json_t *out;

	if (check_target(r, &ext) != CC_OK)
		return;
	p[3] = ext;
	if (tn_new_id(r, id) != CC_OK)
		return;
	if (cc_pg_cmd(&r->d->pg, "INSERT INTO cc.numbers (id, tenant_id, e164, target_type, target_extension) "
	              "VALUES ($1, $2, $3, 'agent', $4)", 4, p) != CC_OK)
		return tn_db_error(r, "this number");
	if (!(out = select_one(r, p[2])))
		return tn_db_error(r, "number");
	tn_notify(r->d, r->tenant.id, "number", NULL);
	tn_reply(r, 201, out);
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
	p[0] = r->tenant.id; p[1] = after ? after : ""; p[2] = lim;
	sql = cc_sprintf("SELECT %s FROM cc.numbers WHERE tenant_id = $1 AND e164 > $2 "
	                 "ORDER BY e164 LIMIT $3", COLS);
	res = cc_pg_exec(&r->d->pg, sql, 3, p);
	free(sql);
	if (!res)
		return tn_db_error(r, "numbers");
	tn_reply_page(r, res, row, limit, 1);
}

static void get(struct tn_req *r)
{
	json_t *out = select_one(r, r->params[1]);

	if (!out && r->d->pg.error == CC_PG_OK)
		return tn_error(r, 404, "not_found", NULL, "no such number");
	if (!out)
		return tn_db_error(r, "number");
	tn_reply(r, 200, out);
}

static void patch(struct tn_req *r)
{
	const char *ext = NULL, *p[3] = { r->tenant.id, r->params[1], NULL };
	PGresult *res;
	json_t *out;
	int n;

	if (json_object_get(r->body, "target") && check_target(r, &ext) != CC_OK)
		return;
	p[2] = ext;
	res = cc_pg_exec(&r->d->pg, "UPDATE cc.numbers SET target_extension = COALESCE($3, target_extension), "
	                 "updated_at = now() WHERE tenant_id = $1 AND e164 = $2 RETURNING id", 3, p);
	if (!res)
		return tn_db_error(r, "number");
	n = PQntuples(res);
	PQclear(res);
	if (!n)
		return tn_error(r, 404, "not_found", NULL, "no such number");
	if (!(out = select_one(r, r->params[1])))
		return tn_db_error(r, "number");
	tn_notify(r->d, r->tenant.id, "number", NULL);
	tn_reply(r, 200, out);
}

static void remove_number(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->params[1] };
	PGresult *res = cc_pg_exec(&r->d->pg, "DELETE FROM cc.numbers WHERE tenant_id = $1 AND e164 = $2 "
	                           "RETURNING id", 2, p);
	int n;

	if (!res)
		return tn_db_error(r, "number");
	n = PQntuples(res);
	PQclear(res);
	if (!n)
		return tn_error(r, 404, "not_found", NULL, "no such number");
	tn_notify(r->d, r->tenant.id, "number", NULL);
	tn_no_content(r);
}

const struct tn_route tn_number_routes[] = {
	{ "POST", "/v1/tenants/{slug}/numbers", TN_TENANT, create_fields, create, false, false },
	{ "GET", "/v1/tenants/{slug}/numbers", TN_TENANT, NULL, list, false, false },
	{ "GET", "/v1/tenants/{slug}/numbers/{e164}", TN_TENANT, NULL, get, false, false },
	{ "PATCH", "/v1/tenants/{slug}/numbers/{e164}", TN_TENANT, patch_fields, patch, true, false },
	{ "DELETE", "/v1/tenants/{slug}/numbers/{e164}", TN_TENANT, NULL, remove_number, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
