/*
 * numbers.c: the operator's inventory of numbers (/v1/numbers) and each
 * tenant's view of its own (/v1/tenants/{slug}/numbers).
 *
 * A number (E.164, unique across the platform) is created by the operator,
 * as unassigned stock or assigned to a tenant, one at a time or as a range
 * (all or nothing). Only the operator assigns, moves, unassigns or deletes
 * it. A tenant sees only the numbers assigned to it and says where their
 * calls go (the target: one of its agents, {"type":"agent","extension":..},
 * one of its IVR flows, {"type":"flow","name":..}, tenantd/flows.c, or one
 * of its ACD queues, {"type":"queue","name":..}, tenantd/queues.c); taking a number it was not
 * assigned answers 403 "assigned by the operator", the same answer whether
 * the number is stock, another tenant's or unknown, so the answer tells a
 * tenant nothing about other tenants. A tenant's DELETE clears the target
 * (the number stays assigned, and rented).
 *
 * A number that is a caller ID (the tenant's or an agent's) stops being
 * one when the operator unassigns, moves or deletes it: the caller ID is
 * cleared in the same transaction, and that tenant's PSTN calls get 403
 * "No Caller ID" until it chooses another (refusing the operator would
 * let a tenant keep a number by making it its caller ID).
 */
#include "api.h"
#include "cc.h"
#include "tenantd.h"

#include <stdio.h>
#include <string.h>

#define TN_RANGE_MAX 1000 /* numbers in one range request */

static const char COLS[] = "n.id, n.e164, n.target_type, n.target_extension, "
	TN_TS("n.created_at") ", "
	TN_TS("n.updated_at") ", t.slug, fl.name, qu.name";
static const char FROM[] = "cc.numbers n LEFT JOIN cc.tenants t ON t.id = n.tenant_id "
	"LEFT JOIN cc.flows fl ON fl.id = n.target_flow AND fl.tenant_id = n.tenant_id "
	"LEFT JOIN cc.queues qu ON qu.id = n.target_queue AND qu.tenant_id = n.tenant_id";

/* A tenant's view: no "tenant" (it is the caller's). */
static json_t *row(const PGresult *res, int i)
{
	bool flow = !PQgetisnull(res, i, 2) && strcmp(PQgetvalue(res, i, 2), "flow") == 0;
	bool queue = !PQgetisnull(res, i, 2) && strcmp(PQgetvalue(res, i, 2), "queue") == 0;
	json_t *target = PQgetisnull(res, i, 2) ? json_null()
	                 : json_pack("{s:s, s:s}", "type", PQgetvalue(res, i, 2),
	                             flow || queue ? "name" : "extension",
	                             PQgetvalue(res, i, flow ? 7 : queue ? 8 : 3));

	return json_pack("{s:s, s:s, s:o, s:o, s:o}", "id", PQgetvalue(res, i, 0),
	                 "e164", PQgetvalue(res, i, 1), "target", target,
	                 "created_at", tn_time(res, i, 4), "updated_at", tn_time(res, i, 5));
}

/* The operator's view: the tenant's slug, or null for stock. */
static json_t *op_row(const PGresult *res, int i)
{
	json_t *o = row(res, i);

	json_object_set_new(o, "tenant", PQgetisnull(res, i, 6) ? json_null()
	                                 : json_string(PQgetvalue(res, i, 6)));
	return o;
}

static int check_target_type(struct tn_req *r, json_t *v, char **err)
{
	if (strcmp(json_string_value(v), "agent") != 0 && strcmp(json_string_value(v), "flow") != 0 &&
	    strcmp(json_string_value(v), "queue") != 0)
		return cc_fail(err, "must be \"agent\", \"flow\" or \"queue\"");
	return CC_OK;
}

static int check_slug(struct tn_req *r, json_t *v, char **err)
{
	size_t n = strlen(json_string_value(v));

	if (n < 1 || n > 32)
		return cc_fail(err, "must be a tenant's slug");
	return CC_OK;
}

static int check_count(struct tn_req *r, json_t *v, char **err)
{
	json_int_t n = json_integer_value(v);

	if (n < 1 || n > TN_RANGE_MAX)
		return cc_fail(err, "must be 1 to %d", TN_RANGE_MAX);
	return CC_OK;
}

static int check_flow_name(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);
	size_t n = strlen(s);

	if (n < 1 || n > 63 || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]) ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
		return cc_fail(err, "must be the name of one of the tenant's flows or queues");
	return CC_OK;
}

/* an agent's extension, or a flow's name (check_target: one, by type) */
static const struct tn_field target_fields[] = {
	{ "type", JSON_STRING, true, check_target_type, NULL, false },
	{ "extension", JSON_STRING, false, tn_check_extension, NULL, false },
	{ "name", JSON_STRING, false, check_flow_name, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static const struct tn_field create_fields[] = {
	{ "e164", JSON_STRING, true, tn_check_e164, NULL, false },
	{ "target", JSON_OBJECT, true, NULL, target_fields, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static const struct tn_field patch_fields[] = {
	{ "target", JSON_OBJECT, false, NULL, target_fields, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static const struct tn_field range_fields[] = {
	{ "from", JSON_STRING, true, tn_check_e164, NULL, false },
	{ "count", JSON_INTEGER, true, check_count, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static const struct tn_field op_create_fields[] = {
	{ "e164", JSON_STRING, false, tn_check_e164, NULL, false },
	{ "range", JSON_OBJECT, false, NULL, range_fields, false },
	{ "tenant", JSON_STRING, false, check_slug, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static const struct tn_field op_patch_fields[] = {
	{ "tenant", JSON_STRING, false, check_slug, NULL, true },
	{ NULL, 0, false, NULL, NULL, false },
};
static const char *const op_patch_nullable[] = { "tenant", NULL };

/* The target must be an agent, a flow or a queue of this tenant: 422
 * otherwise. Into p[2] the extension, p[3] the flow's id, p[4] the type and
 * p[5] the queue's id (NULL where not that type); ids in flow_id/queue_id. */
static int check_target(struct tn_req *r, const char **p, char flow_id[CC_UUID_LEN],
                        char queue_id[CC_UUID_LEN])
{
	json_t *t = json_object_get(r->body, "target");
	const char *type = json_string_value(json_object_get(t, "type"));
	bool agent = strcmp(type, "agent") == 0, flow = strcmp(type, "flow") == 0;
	const char *key = agent ? "extension" : "name", *other = agent ? "name" : "extension";
	const char *q[2] = { r->tenant.id, json_string_value(json_object_get(t, key)) };
	char field[32];
	PGresult *res;
	int n;

	flow_id[0] = queue_id[0] = '\0';
	p[2] = p[3] = p[5] = NULL;
	p[4] = type;
	snprintf(field, sizeof(field), "target.%s", key);
	if (!q[1]) {
		tn_error(r, 400, "invalid_argument", field, "'target.%s' is required for a target of "
		         "type %s", key, type);
		return CC_ERROR;
	}
	if (json_object_get(t, other)) {
		snprintf(field, sizeof(field), "target.%s", other);
		tn_error(r, 400, "invalid_argument", field, "a target of type %s has no '%s'", type, other);
		return CC_ERROR;
	}
	res = cc_pg_exec(&r->d->pg, agent ? "SELECT 1 FROM cc.agents WHERE tenant_id = $1 AND extension = $2"
	                 : flow ? "SELECT id FROM cc.flows WHERE tenant_id = $1 AND name = $2"
	                 : "SELECT id FROM cc.queues WHERE tenant_id = $1 AND name = $2 FOR SHARE", 2, q);
	if (!res) {
		tn_db_error(r, type);
		return CC_ERROR;
	}
	n = PQntuples(res);
	if (n && !agent)
		snprintf(flow ? flow_id : queue_id, CC_UUID_LEN, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!n && agent) {
		tn_error(r, 422, "invalid_argument", field, "no agent with extension %s", q[1]);
		return CC_ERROR;
	}
	if (!n) {
		tn_error(r, 422, "invalid_argument", field, "no %s '%s'", type, q[1]);
		return CC_ERROR;
	}
	if (agent)
		p[2] = q[1];
	if (flow)
		p[3] = flow_id;
	if (!agent && !flow)
		p[5] = queue_id;
	return CC_OK;
}

/* One number; tenant_id NULL for the operator's view of any number. */
static json_t *select_one(struct tn_req *r, const char *tenant_id, const char *e164)
{
	const char *p[2] = { e164, tenant_id };
	char *sql = cc_sprintf("SELECT %s FROM %s WHERE n.e164 = $1%s", COLS, FROM,
	                       tenant_id ? " AND n.tenant_id = $2" : "");
	PGresult *res = cc_pg_exec(&r->d->pg, sql, tenant_id ? 2 : 1, p);
	json_t *out = NULL;

	free(sql);
	if (res && PQntuples(res) == 1)
		out = tenant_id ? row(res, 0) : op_row(res, 0);
	if (res)
		PQclear(res);
	return out;
}

/* ===================================================== a tenant's view */

static void create(struct tn_req *r)
{
	const char *p[6] = { r->tenant.id, tn_str(r, "e164") };
	char flow_id[CC_UUID_LEN], queue_id[CC_UUID_LEN];
	PGresult *res;
	json_t *out;
	int n;

	/* in a transaction: the queue (FOR SHARE) cannot go before the commit */
	if (tn_begin(r) != CC_OK)
		return tn_rollback(r, "number");
	if (check_target(r, p, flow_id, queue_id) != CC_OK) {
		tn_abort(r);
		return;
	}
	res = cc_pg_exec(&r->d->pg, "UPDATE cc.numbers SET target_type = $5, target_extension = $3, "
	                 "target_flow = $4, target_queue = $6, "
	                 "updated_at = now() WHERE tenant_id = $1 AND e164 = $2 AND target_type IS NULL "
	                 "RETURNING id", 6, p);
	if (!res || tn_commit(r) != CC_OK) {
		if (res)
			PQclear(res);
		return tn_rollback(r, "number");
	}
	if (!res)
		return tn_db_error(r, "number");
	n = PQntuples(res);
	PQclear(res);
	if (!n) {
		int mine = tn_number_of_tenant(r, r->tenant.id, p[1]);

		if (mine < 0)
			return;
		if (mine)
			return tn_error(r, 409, "conflict", NULL,
			                "this number already has a target; PATCH it to change it");
		/* stock, another tenant's or unknown: one answer for all three */
		return tn_error(r, 403, "forbidden", "e164",
		                "numbers are assigned by the operator; ask the operator to assign "
		                "this number to this tenant");
	}
	if (!(out = select_one(r, r->tenant.id, p[1])))
		return tn_db_error(r, "number");
	tn_notify(r->d, r->tenant.id, "number", NULL);
	tn_reply(r, 201, out);
}

static void list(struct tn_req *r)
{
	tn_list_page(r, cc_sprintf("SELECT %s FROM %s WHERE n.tenant_id = $1 AND n.e164 > $2 "
	                           "ORDER BY n.e164 LIMIT $3", COLS, FROM),
	             "numbers", row, 1);
}

static void get(struct tn_req *r)
{
	json_t *out = select_one(r, r->tenant.id, r->params[1]);

	if (!out && r->d->pg.error == CC_PG_OK)
		return tn_error(r, 404, "not_found", NULL, "no such number");
	if (!out)
		return tn_db_error(r, "number");
	tn_reply(r, 200, out);
}

static void patch(struct tn_req *r)
{
	const char *p[6] = { r->tenant.id, r->params[1] };
	char flow_id[CC_UUID_LEN] = "", queue_id[CC_UUID_LEN] = "";
	bool target = json_object_get(r->body, "target") != NULL;
	PGresult *res;
	json_t *out;
	int n;

	if (tn_begin(r) != CC_OK)
		return tn_rollback(r, "number");
	if (target && check_target(r, p, flow_id, queue_id) != CC_OK) {
		tn_abort(r);
		return;
	}
	/* a new target replaces the old one whole (agent, flow or queue) */
	res = target ? cc_pg_exec(&r->d->pg, "UPDATE cc.numbers SET target_type = $5, "
	                          "target_extension = $3, target_flow = $4, target_queue = $6, "
	                          "updated_at = now() WHERE tenant_id = $1 AND e164 = $2 RETURNING id",
	                          6, p)
	             : cc_pg_exec(&r->d->pg, "UPDATE cc.numbers SET updated_at = now() WHERE "
	                          "tenant_id = $1 AND e164 = $2 RETURNING id", 2, p);
	if (!res || tn_commit(r) != CC_OK) {
		if (res)
			PQclear(res);
		return tn_rollback(r, "number");
	}
	n = PQntuples(res);
	PQclear(res);
	if (!n)
		return tn_error(r, 404, "not_found", NULL, "no such number");
	if (!(out = select_one(r, r->tenant.id, r->params[1])))
		return tn_db_error(r, "number");
	tn_notify(r->d, r->tenant.id, "number", NULL);
	tn_reply(r, 200, out);
}

/* The number stays the tenant's; only its calls stop ringing anyone. */
static void clear_target(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->params[1] };
	PGresult *res = cc_pg_exec(&r->d->pg, "UPDATE cc.numbers SET target_type = NULL, "
	                           "target_extension = NULL, target_flow = NULL, target_queue = NULL, "
	                           "updated_at = now() "
	                           "WHERE tenant_id = $1 AND e164 = $2 RETURNING id", 2, p);
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

/* ================================================= the operator's view */

/* The id of the tenant with this slug into id: CC_OK, CC_DECLINED after a
 * 422 naming field, CC_ERROR after a database error. */
static int tenant_by_slug(struct tn_req *r, const char *slug, const char *field,
                          char id[CC_UUID_LEN])
{
	const char *p[1] = { slug };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT id FROM cc.tenants WHERE slug = $1", 1, p);

	if (!res) {
		tn_db_error(r, "tenant");
		return CC_ERROR;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		tn_error(r, 422, "invalid_argument", field, "no tenant with slug %s", slug);
		return CC_DECLINED;
	}
	snprintf(id, CC_UUID_LEN, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return CC_OK;
}

/* A range: from, count -> its first and last digits as numbers, or 422. */
static int range_bounds(struct tn_req *r, json_t *range, long long *first, long long *count)
{
	const char *from = json_string_value(json_object_get(range, "from"));
	char last[24];

	*first = strtoll(from + 1, NULL, 10);
	*count = (long long)json_integer_value(json_object_get(range, "count"));
	snprintf(last, sizeof(last), "%lld", *first + *count - 1);
	if (strlen(last) != strlen(from + 1)) {
		tn_error(r, 422, "invalid_argument", "range.count",
		         "the range runs past the last number with %zu digits", strlen(from + 1));
		return CC_ERROR;
	}
	return CC_OK;
}

/* The numbers of a range that exist already: 409 listing some of them. */
static int range_free(struct tn_req *r, const char *first, const char *count)
{
	const char *p[2] = { first, count };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT e164, count(*) OVER () FROM cc.numbers "
	                           "WHERE e164 IN (SELECT '+' || ($1::bigint + g) "
	                           "FROM generate_series(0, $2::int - 1) g) ORDER BY e164 LIMIT 5",
	                           2, p);
	char list[128] = "";

	if (!res) {
		tn_db_error(r, "numbers");
		return CC_ERROR;
	}
	if (!PQntuples(res)) {
		PQclear(res);
		return CC_OK;
	}
	for (int i = 0; i < PQntuples(res); i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
		         PQgetvalue(res, i, 0));
	tn_error(r, 409, "conflict", "range", "%s of these numbers exist already (%s%s); nothing was "
	         "created", PQgetvalue(res, 0, 1), list,
	         atoi(PQgetvalue(res, 0, 1)) > PQntuples(res) ? ", ..." : "");
	PQclear(res);
	return CC_ERROR;
}

static void op_create(struct tn_req *r)
{
	json_t *range = json_object_get(r->body, "range");
	const char *e164 = tn_str(r, "e164"), *slug = tn_str(r, "tenant");
	char tid[CC_UUID_LEN] = "", id[CC_UUID_LEN], first[24], count[16], *sql;
	long long f, c;
	PGresult *res;

	if (!e164 == !range)
		return tn_error(r, 400, "invalid_argument", "e164",
		                "give either 'e164' (one number) or 'range' (several)");
	if (slug && tenant_by_slug(r, slug, "tenant", tid) != CC_OK)
		return;
	if (e164) {
		const char *p[3] = { id, tid[0] ? tid : NULL, e164 };
		json_t *out;

		if (tn_new_id(r, id) != CC_OK)
			return;
		if (cc_pg_cmd(&r->d->pg, "INSERT INTO cc.numbers (id, tenant_id, e164) VALUES ($1, $2, $3)",
		              3, p) != CC_OK)
			return tn_db_error(r, "this number");
		if (!(out = select_one(r, NULL, e164)))
			return tn_db_error(r, "number");
		if (tid[0])
			tn_notify(r->d, tid, "number", NULL);
		return tn_reply(r, 201, out);
	}
	if (range_bounds(r, range, &f, &c) != CC_OK)
		return;
	snprintf(first, sizeof(first), "%lld", f);
	snprintf(count, sizeof(count), "%lld", c);
	if (range_free(r, first, count) != CC_OK)
		return;
	/* one statement: every number of the range, or none */
	const char *p[3] = { tid[0] ? tid : NULL, first, count };
	sql = cc_sprintf("WITH ins AS (INSERT INTO cc.numbers (id, tenant_id, e164) "
	                 "SELECT gen_random_uuid(), $1, '+' || ($2::bigint + g) "
	                 "FROM generate_series(0, $3::int - 1) g RETURNING *) "
	                 "SELECT %s FROM ins n LEFT JOIN cc.tenants t ON t.id = n.tenant_id "
	                 "LEFT JOIN cc.flows fl ON false LEFT JOIN cc.queues qu ON false "
	                 "ORDER BY n.e164", COLS);
	res = cc_pg_exec(&r->d->pg, sql, 3, p);
	free(sql);
	if (!res)
		return tn_db_error(r, "one of these numbers");
	json_t *items = json_array();

	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(items, op_row(res, i));
	PQclear(res);
	if (tid[0])
		tn_notify(r->d, tid, "number", NULL);
	tn_reply(r, 201, tn_list(items, NULL));
}

static void op_list(struct tn_req *r)
{
	const char *after, *slug = tn_query(r, "tenant"), *un = tn_query(r, "unassigned");
	const char *p[3];
	char lim[8], tid[CC_UUID_LEN] = "", *sql;
	bool unassigned = false;
	int limit;
	PGresult *res;

	if (tn_page(r, &limit, &after) != CC_OK)
		return;
	if (un && strcmp(un, "true") != 0 && strcmp(un, "false") != 0)
		return tn_error(r, 400, "invalid_argument", "unassigned", "unassigned is true or false");
	unassigned = un && strcmp(un, "true") == 0;
	if (slug && unassigned)
		return tn_error(r, 400, "invalid_argument", "tenant",
		                "ask for one tenant's numbers or for unassigned ones, not both");
	if (slug) {
		const char *ps[1] = { slug };

		if (!(res = cc_pg_exec(&r->d->pg, "SELECT id FROM cc.tenants WHERE slug = $1", 1, ps)))
			return tn_db_error(r, "tenant");
		if (PQntuples(res) != 1) {
			PQclear(res);
			return tn_error(r, 400, "invalid_argument", "tenant", "no tenant with that slug");
		}
		snprintf(tid, sizeof(tid), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	snprintf(lim, sizeof(lim), "%d", limit);
	p[0] = after ? after : ""; p[1] = lim; p[2] = tid;
	sql = cc_sprintf("SELECT %s FROM %s WHERE n.e164 > $1 %s ORDER BY n.e164 LIMIT $2", COLS, FROM,
	                 slug ? "AND n.tenant_id = $3" : unassigned ? "AND n.tenant_id IS NULL" : "");
	res = cc_pg_exec(&r->d->pg, sql, slug ? 3 : 2, p);
	free(sql);
	if (!res)
		return tn_db_error(r, "numbers");
	tn_reply_page(r, res, op_row, limit, 1);
}

static void op_get(struct tn_req *r)
{
	json_t *out = select_one(r, NULL, r->params[0]);

	if (!out && r->d->pg.error == CC_PG_OK)
		return tn_error(r, 404, "not_found", NULL, "no such number");
	if (!out)
		return tn_db_error(r, "number");
	tn_reply(r, 200, out);
}

/* In a transaction: locks the number, into old its tenant ("" for stock).
 * CC_DECLINED after a 404 (rolled back), CC_ERROR after an error. */
static int lock_number(struct tn_req *r, const char *e164, char old[CC_UUID_LEN])
{
	const char *p[1] = { e164 };
	PGresult *res;

	if (tn_begin(r) != CC_OK) {
		tn_rollback(r, "number");
		return CC_ERROR;
	}
	if (!(res = cc_pg_exec(&r->d->pg, "SELECT COALESCE(tenant_id::text, '') FROM cc.numbers "
	                       "WHERE e164 = $1 FOR UPDATE", 1, p))) {
		tn_rollback(r, "number");
		return CC_ERROR;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		tn_abort(r);
		tn_error(r, 404, "not_found", NULL, "no such number");
		return CC_DECLINED;
	}
	snprintf(old, CC_UUID_LEN, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return CC_OK;
}

/* The number is no longer anyone's caller ID. */
static int clear_caller_ids(struct tn_req *r, const char *e164)
{
	const char *p[1] = { e164 };

	if (cc_pg_cmd(&r->d->pg, "UPDATE cc.tenants SET caller_id = NULL, updated_at = now() "
	              "WHERE caller_id = $1", 1, p) != CC_OK ||
	    cc_pg_cmd(&r->d->pg, "UPDATE cc.agents SET caller_id = NULL, updated_at = now() "
	              "WHERE caller_id = $1", 1, p) != CC_OK)
		return CC_ERROR;
	return CC_OK;
}

static void op_patch(struct tn_req *r)
{
	const char *e164 = r->params[0], *slug;
	char old[CC_UUID_LEN], tid[CC_UUID_LEN] = "";
	json_t *v, *out;

	if (tn_patch_body(r, op_patch_fields, op_patch_nullable) != CC_OK)
		return;
	v = json_object_get(r->body, "tenant");
	slug = json_string_value(v);
	if (slug && tenant_by_slug(r, slug, "tenant", tid) != CC_OK)
		return;
	if (lock_number(r, e164, old) != CC_OK)
		return;
	/* a move or an unassignment: the old tenant's target and caller IDs go */
	if (v && strcmp(old, tid) != 0) {
		const char *p[2] = { e164, tid[0] ? tid : NULL };

		if (clear_caller_ids(r, e164) != CC_OK ||
		    cc_pg_cmd(&r->d->pg, "UPDATE cc.numbers SET tenant_id = $2, target_type = NULL, "
		              "target_extension = NULL, target_flow = NULL, target_queue = NULL, "
		              "updated_at = now() "
		              "WHERE e164 = $1", 2, p) != CC_OK)
			return tn_rollback(r, "number");
	}
	if (!(out = select_one(r, NULL, e164)))
		return tn_rollback(r, "number");
	if (tn_commit(r) != CC_OK) {
		json_decref(out);
		return tn_rollback(r, "number");
	}
	if (old[0])
		tn_notify(r->d, old, "number", NULL);
	if (tid[0] && strcmp(old, tid) != 0)
		tn_notify(r->d, tid, "number", NULL);
	tn_reply(r, 200, out);
}

static void op_remove(struct tn_req *r)
{
	const char *p[1] = { r->params[0] };
	char old[CC_UUID_LEN];

	if (lock_number(r, r->params[0], old) != CC_OK)
		return;
	if (clear_caller_ids(r, r->params[0]) != CC_OK ||
	    cc_pg_cmd(&r->d->pg, "DELETE FROM cc.numbers WHERE e164 = $1", 1, p) != CC_OK ||
	    tn_commit(r) != CC_OK)
		return tn_rollback(r, "number");
	if (old[0])
		tn_notify(r->d, old, "number", NULL);
	tn_no_content(r);
}

const struct tn_route tn_number_routes[] = {
	{ "POST", "/v1/numbers", TN_OPERATOR, op_create_fields, op_create, false, false },
	{ "GET", "/v1/numbers", TN_OPERATOR, NULL, op_list, false, false },
	{ "GET", "/v1/numbers/{e164}", TN_OPERATOR, NULL, op_get, false, false },
	/* fields checked by the handler: {"tenant": null} unassigns */
	{ "PATCH", "/v1/numbers/{e164}", TN_OPERATOR, op_patch_fields, op_patch, true, false },
	{ "DELETE", "/v1/numbers/{e164}", TN_OPERATOR, NULL, op_remove, false, false },
	{ "POST", "/v1/tenants/{slug}/numbers", TN_TENANT, create_fields, create, false, false },
	{ "GET", "/v1/tenants/{slug}/numbers", TN_TENANT, NULL, list, false, false },
	{ "GET", "/v1/tenants/{slug}/numbers/{e164}", TN_TENANT, NULL, get, false, false },
	{ "PATCH", "/v1/tenants/{slug}/numbers/{e164}", TN_TENANT, patch_fields, patch, true, false },
	{ "DELETE", "/v1/tenants/{slug}/numbers/{e164}", TN_TENANT, NULL, clear_target, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
