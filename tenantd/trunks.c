/*
 * trunks.c: /v1/trunks (operator). A trunk is a carrier: calls from its
 * address and port are carrier calls (a row in Kamailio's `address`,
 * group 1, tag = trunk id; port 0 = any port), and `outbound`, if set, is
 * where calls to the PSTN go. Kamailio reloads its address cache on every
 * change (permissions.addressReload), so no restart is needed.
 */
#include "api.h"
#include "cc.h"
#include "tenantd.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const char COLS[] = "id, name, host(address), port, outbound, "
	TN_TS("created_at");

static json_t *row(const PGresult *res, int i)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:o, s:o}", "id", PQgetvalue(res, i, 0),
	                 "name", PQgetvalue(res, i, 1), "address", PQgetvalue(res, i, 2),
	                 "port", atoi(PQgetvalue(res, i, 3)),
	                 "outbound", PQgetisnull(res, i, 4) ? json_null() : json_string(PQgetvalue(res, i, 4)),
	                 "created_at", tn_time(res, i, 5));
}

static int check_address(struct tn_req *r, json_t *v, char **err)
{
	struct in_addr a;

	if (inet_pton(AF_INET, json_string_value(v), &a) != 1)
		return cc_fail(err, "must be an IPv4 address");
	return CC_OK;
}

static int check_port(struct tn_req *r, json_t *v, char **err)
{
	json_int_t p = json_integer_value(v);

	if (p < 0 || p > 65535)
		return cc_fail(err, "must be 0 (any) to 65535");
	return CC_OK;
}

/* "host:port" with an IPv4 host and a port. */
static int check_outbound(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);
	const char *colon = strrchr(s, ':');
	char host[64];
	struct in_addr a;
	char *end;
	long port;

	if (!colon || colon - s >= (long)sizeof(host))
		return cc_fail(err, "must be host:port");
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (inet_pton(AF_INET, host, &a) != 1 || *end || port < 1 || port > 65535)
		return cc_fail(err, "must be an IPv4 address and a port, like 127.0.0.1:5080");
	return CC_OK;
}

static const struct tn_field fields[] = {
	{ "name", JSON_STRING, true, tn_check_name, NULL },
	{ "address", JSON_STRING, true, check_address, NULL },
	{ "port", JSON_INTEGER, true, check_port, NULL },
	{ "outbound", JSON_STRING, false, check_outbound, NULL },
	{ NULL, 0, false, NULL, NULL },
};

static json_t *select_one(struct tn_req *r, const char *id)
{
	const char *p[1] = { id };
	char *sql = cc_sprintf("SELECT %s FROM cc.trunks WHERE id::text = $1", COLS);
	PGresult *res = cc_pg_exec(&r->d->pg, sql, 1, p);
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
	char id[CC_UUID_LEN], port[8];
	const char *p[5] = { id, tn_str(r, "name"), tn_str(r, "address"), port, tn_str(r, "outbound") };
	const char *pa[3] = { id, tn_str(r, "address"), port };
	json_t *out;

	if (tn_new_id(r, id) != CC_OK)
		return;
	snprintf(port, sizeof(port), "%d", (int)json_integer_value(json_object_get(r->body, "port")));
	if (tn_begin(r) != CC_OK ||
	    cc_pg_cmd(&r->d->pg, "INSERT INTO cc.trunks (id, name, address, port, outbound) "
	              "VALUES ($1, $2, $3, $4, $5)", 5, p) != CC_OK ||
	    cc_pg_cmd(&r->d->pg, "INSERT INTO kamailio.address (grp, ip_addr, mask, port, tag) "
	              "VALUES (1, $2, 32, $3, $1)", 3, pa) != CC_OK ||
	    !(out = select_one(r, id)) || tn_commit(r) != CC_OK)
		return tn_rollback(r, "a trunk with this name or address and port");
	tn_notify(r->d, NULL, "trunk", "permissions.addressReload");
	tn_reply(r, 201, out);
}

static void list(struct tn_req *r)
{
	const char *after, *p[2];
	char lim[8], *sql;
	int limit;
	PGresult *res;

	if (tn_page(r, &limit, &after) != CC_OK)
		return;
	snprintf(lim, sizeof(lim), "%d", limit);
	p[0] = after ? after : ""; p[1] = lim;
	sql = cc_sprintf("SELECT %s FROM cc.trunks WHERE name > $1 ORDER BY name LIMIT $2", COLS);
	res = cc_pg_exec(&r->d->pg, sql, 2, p);
	free(sql);
	if (!res)
		return tn_db_error(r, "trunks");
	tn_reply_page(r, res, row, limit, 1);
}

static void get(struct tn_req *r)
{
	json_t *out = select_one(r, r->params[0]);

	if (!out && r->d->pg.error == CC_PG_OK)
		return tn_error(r, 404, "not_found", NULL, "no such trunk");
	if (!out)
		return tn_db_error(r, "trunk");
	tn_reply(r, 200, out);
}

static void remove_trunk(struct tn_req *r)
{
	const char *p[1] = { r->params[0] };
	PGresult *res;

	if (tn_begin(r) != CC_OK)
		return tn_rollback(r, "trunk");
	res = cc_pg_exec(&r->d->pg, "DELETE FROM cc.trunks WHERE id::text = $1 RETURNING id", 1, p);
	if (!res || cc_pg_cmd(&r->d->pg, "DELETE FROM kamailio.address WHERE tag = $1", 1, p) != CC_OK) {
		if (res)
			PQclear(res);
		return tn_rollback(r, "trunk");
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		tn_abort(r);
		return tn_error(r, 404, "not_found", NULL, "no such trunk");
	}
	PQclear(res);
	if (tn_commit(r) != CC_OK)
		return tn_rollback(r, "trunk");
	tn_notify(r->d, NULL, "trunk", "permissions.addressReload");
	tn_no_content(r);
}

const struct tn_route tn_trunk_routes[] = {
	{ "POST", "/v1/trunks", TN_OPERATOR, fields, create, false, false },
	{ "GET", "/v1/trunks", TN_OPERATOR, NULL, list, false, false },
	{ "GET", "/v1/trunks/{id}", TN_OPERATOR, NULL, get, false, false },
	{ "DELETE", "/v1/trunks/{id}", TN_OPERATOR, NULL, remove_trunk, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
