/*
 * agents.c: /v1/tenants/{slug}/agents. An agent is a seat with a SIP
 * login: our row in cc.agents and Kamailio's in `subscriber` (username =
 * extension, domain = the tenant's SIP domain, HA1 and HA1b only; the
 * password itself is never stored nor returned), written in one
 * transaction.
 */
#include "api.h"
#include "cc.h"
#include "tenantd.h"

#include <openssl/crypto.h>
#include <string.h>

static const char COLS[] = "id, extension, name, "
	TN_TS("created_at") ", "
	TN_TS("updated_at");

static json_t *row(const PGresult *res, int i)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", PQgetvalue(res, i, 0),
	                 "extension", PQgetvalue(res, i, 1), "name", PQgetvalue(res, i, 2),
	                 "sip_username", PQgetvalue(res, i, 1),
	                 "created_at", tn_time(res, i, 3), "updated_at", tn_time(res, i, 4));
}

static int check_password(struct tn_req *r, json_t *v, char **err)
{
	size_t n = strlen(json_string_value(v));

	if (n < 8 || n > 128)
		return cc_fail(err, "must be 8 to 128 characters");
	return CC_OK;
}

static const struct tn_field create_fields[] = {
	{ "extension", JSON_STRING, true, tn_check_extension, NULL },
	{ "name", JSON_STRING, true, tn_check_name, NULL },
	{ "password", JSON_STRING, true, check_password, NULL },
	{ NULL, 0, false, NULL, NULL },
};

static const struct tn_field patch_fields[] = {
	{ "name", JSON_STRING, false, tn_check_name, NULL },
	{ "password", JSON_STRING, false, check_password, NULL },
	{ NULL, 0, false, NULL, NULL },
};

/* HA1 = MD5(user:realm:pw), HA1b = MD5(user@domain:realm:pw); realm = domain. */
static void hashes(struct tn_req *r, const char *ext, const char *pw,
                   char ha1[CC_MD5_HEX], char ha1b[CC_MD5_HEX])
{
	char *userb = cc_sprintf("%s@%s", ext, r->tenant.sip_domain);

	cc_sip_ha1(ext, r->tenant.sip_domain, pw, ha1);
	cc_sip_ha1(userb, r->tenant.sip_domain, pw, ha1b);
	free(userb);
}

static json_t *select_one(struct tn_req *r, const char *ext)
{
	const char *p[2] = { r->tenant.id, ext };
	char *sql = cc_sprintf("SELECT %s FROM cc.agents WHERE tenant_id = $1 AND extension = $2", COLS);
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
	char id[CC_UUID_LEN], ha1[CC_MD5_HEX], ha1b[CC_MD5_HEX];
	const char *ext = tn_str(r, "extension");
	const char *p[4] = { id, r->tenant.id, ext, tn_str(r, "name") };
	const char *ps[4] = { ext, r->tenant.sip_domain, ha1, ha1b };
	json_t *out;

	if (tn_new_id(r, id) != CC_OK)
		return;
	hashes(r, ext, tn_str(r, "password"), ha1, ha1b);
	if (tn_begin(r) != CC_OK ||
	    cc_pg_cmd(&r->d->pg, "INSERT INTO cc.agents (id, tenant_id, extension, name) "
	              "VALUES ($1, $2, $3, $4)", 4, p) != CC_OK ||
	    cc_pg_cmd(&r->d->pg, "INSERT INTO kamailio.subscriber (username, domain, password, ha1, ha1b) "
	              "VALUES ($1, $2, '', $3, $4)", 4, ps) != CC_OK ||
	    !(out = select_one(r, ext)) || tn_commit(r) != CC_OK)
		return tn_rollback(r, "an agent with this extension");
	tn_notify(r->d, r->tenant.id, "agent", NULL);
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
	sql = cc_sprintf("SELECT %s FROM cc.agents WHERE tenant_id = $1 AND extension > $2 "
	                 "ORDER BY extension LIMIT $3", COLS);
	res = cc_pg_exec(&r->d->pg, sql, 3, p);
	free(sql);
	if (!res)
		return tn_db_error(r, "agents");
	tn_reply_page(r, res, row, limit, 1);
}

static void get(struct tn_req *r)
{
	json_t *out = select_one(r, r->params[1]);

	if (!out && r->d->pg.error == CC_PG_OK)
		return tn_error(r, 404, "not_found", NULL, "no such agent");
	if (!out)
		return tn_db_error(r, "agent");
	tn_reply(r, 200, out);
}

static void patch(struct tn_req *r)
{
	const char *ext = r->params[1], *pw = tn_str(r, "password");
	char ha1[CC_MD5_HEX], ha1b[CC_MD5_HEX];
	const char *p[3] = { r->tenant.id, ext, tn_str(r, "name") };
	const char *ps[4] = { ext, r->tenant.sip_domain, ha1, ha1b };
	PGresult *res;
	json_t *out;

	if (pw)
		hashes(r, ext, pw, ha1, ha1b);
	if (tn_begin(r) != CC_OK)
		return tn_rollback(r, "agent");
	res = cc_pg_exec(&r->d->pg, "UPDATE cc.agents SET name = COALESCE($3, name), updated_at = now() "
	                 "WHERE tenant_id = $1 AND extension = $2 RETURNING id", 3, p);
	if (!res)
		return tn_rollback(r, "agent");
	if (PQntuples(res) != 1) {
		PQclear(res);
		tn_abort(r);
		return tn_error(r, 404, "not_found", NULL, "no such agent");
	}
	PQclear(res);
	if ((pw && cc_pg_cmd(&r->d->pg, "UPDATE kamailio.subscriber SET ha1 = $3, ha1b = $4 "
	                     "WHERE username = $1 AND domain = $2", 4, ps) != CC_OK) ||
	    !(out = select_one(r, ext)) || tn_commit(r) != CC_OK)
		return tn_rollback(r, "agent");
	tn_notify(r->d, r->tenant.id, "agent", NULL);
	tn_reply(r, 200, out);
}

static void remove_agent(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->params[1] };
	const char *ps[2] = { r->params[1], r->tenant.sip_domain };
	PGresult *res;

	if (tn_begin(r) != CC_OK)
		return tn_rollback(r, "agent");
	res = cc_pg_exec(&r->d->pg, "SELECT e164 FROM cc.numbers WHERE tenant_id = $1 "
	                 "AND target_type = 'agent' AND target_extension = $2 LIMIT 1", 2, p);
	if (!res)
		return tn_rollback(r, "agent");
	if (PQntuples(res)) {
		tn_abort(r);
		tn_error(r, 409, "conflict", NULL, "number %s rings this agent; change it first",
		         PQgetvalue(res, 0, 0));
		PQclear(res);
		return;
	}
	PQclear(res);
	res = cc_pg_exec(&r->d->pg, "DELETE FROM cc.agents WHERE tenant_id = $1 AND extension = $2 "
	                 "RETURNING id", 2, p);
	if (!res)
		return tn_rollback(r, "agent");
	if (PQntuples(res) != 1) {
		PQclear(res);
		tn_abort(r);
		return tn_error(r, 404, "not_found", NULL, "no such agent");
	}
	PQclear(res);
	if (cc_pg_cmd(&r->d->pg, "DELETE FROM kamailio.subscriber WHERE username = $1 AND domain = $2",
	              2, ps) != CC_OK ||
	    cc_pg_cmd(&r->d->pg, "DELETE FROM kamailio.location WHERE username = $1 AND domain = $2",
	              2, ps) != CC_OK ||
	    tn_commit(r) != CC_OK)
		return tn_rollback(r, "agent");
	tn_notify(r->d, r->tenant.id, "agent", NULL);
	tn_no_content(r);
}

const struct tn_route tn_agent_routes[] = {
	{ "POST", "/v1/tenants/{slug}/agents", TN_TENANT, create_fields, create, false, false },
	{ "GET", "/v1/tenants/{slug}/agents", TN_TENANT, NULL, list, false, false },
	{ "GET", "/v1/tenants/{slug}/agents/{extension}", TN_TENANT, NULL, get, false, false },
	{ "PATCH", "/v1/tenants/{slug}/agents/{extension}", TN_TENANT, patch_fields, patch, true, false },
	{ "DELETE", "/v1/tenants/{slug}/agents/{extension}", TN_TENANT, NULL, remove_agent, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
