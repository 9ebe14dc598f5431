/*
 * viplist.c: /v1/tenants/{slug}/viplist, the VIP green channel
 * (docs/ACD.md): a caller whose number is listed is queued ahead of every
 * non-VIP caller (priority 1..100, higher first, then arrival) and offered
 * first to its dedicated agent ("agent": an extension) when that agent is
 * ready, or sent to its queue ("queue") — one of the two, or neither.
 * Both must be the tenant's own (422 naming the field otherwise). A
 * block-listed caller stays refused: the block list is checked first.
 */
#include "api.h"
#include "cc.h"
#include "tenantd.h"

#include <stdio.h>
#include <string.h>

static const char COLS[] = "v.id, v.e164, v.priority, a.extension, q.name, v.note, "
	TN_TS("v.created_at");
static const char FROM[] = "cc.viplist v "
	"LEFT JOIN cc.agents a ON a.id = v.agent_id AND a.tenant_id = v.tenant_id "
	"LEFT JOIN cc.queues q ON q.id = v.queue_id AND q.tenant_id = v.tenant_id";

static json_t *row(const PGresult *res, int i)
{
	return json_pack("{s:s, s:s, s:i, s:o, s:o, s:o, s:o}", "id", PQgetvalue(res, i, 0),
	                 "e164", PQgetvalue(res, i, 1), "priority", atoi(PQgetvalue(res, i, 2)),
	                 "agent", tn_col_text(res, i, 3), "queue", tn_col_text(res, i, 4), "note", tn_col_text(res, i, 5),
	                 "created_at", tn_time(res, i, 6));
}

static int check_priority(struct tn_req *r, json_t *v, char **err)
{
	if (json_integer_value(v) < 1 || json_integer_value(v) > 100)
		return cc_fail(err, "must be 1 to 100");
	return CC_OK;
}

static int check_queue(struct tn_req *r, json_t *v, char **err)
{
	if (!tn_code_ok(json_string_value(v), 63))
		return cc_fail(err, "must be the name of one of the tenant's queues");
	return CC_OK;
}

static const struct tn_field fields[] = {
	{ "e164", JSON_STRING, true, tn_check_e164, NULL, false },
	{ "priority", JSON_INTEGER, false, check_priority, NULL, false },
	{ "agent", JSON_STRING, false, tn_check_extension, NULL, false },
	{ "queue", JSON_STRING, false, check_queue, NULL, false },
	{ "note", JSON_STRING, false, tn_check_name, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static json_t *select_one(struct tn_req *r, const char *e164)
{
	const char *p[2] = { r->tenant.id, e164 };
	char *sql = cc_sprintf("SELECT %s FROM %s WHERE v.tenant_id = $1 AND v.e164 = $2", COLS, FROM);
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
	char id[CC_UUID_LEN], agent_id[CC_UUID_LEN] = "", queue_id[CC_UUID_LEN] = "", prio[8];
	const char *agent = tn_str(r, "agent"), *queue = tn_str(r, "queue");
	json_t *pr = json_object_get(r->body, "priority"), *out;
	int rc;

	if (agent && queue)
		return tn_error(r, 422, "invalid_argument", "queue",
		                "give a dedicated 'agent' or a 'queue', not both");
	snprintf(prio, sizeof(prio), "%lld", pr ? (long long)json_integer_value(pr) : 10LL);
	if (tn_new_id(r, id) != CC_OK)
		return;
	if (tn_begin(r) != CC_OK)
		return tn_rollback(r, "VIP entry");
	if (agent) {
		const char *p[2] = { r->tenant.id, agent };
		PGresult *res = cc_pg_exec(&r->d->pg, "SELECT id FROM cc.agents WHERE tenant_id = $1 AND "
		                           "extension = $2 FOR SHARE", 2, p);

		if (!res)
			return tn_rollback(r, "agent");
		if (PQntuples(res))
			snprintf(agent_id, sizeof(agent_id), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		if (!agent_id[0]) {
			tn_abort(r);
			return tn_error(r, 422, "invalid_argument", "agent", "no agent with extension %s",
			                agent);
		}
	}
	if (queue) {
		if ((rc = tn_queue_id(r, queue, queue_id, true)) < 0) {
			tn_abort(r);
			return;
		}
		if (!rc) {
			tn_abort(r);
			return tn_error(r, 422, "invalid_argument", "queue", "no queue '%s'", queue);
		}
	}
	{
		const char *p[7] = { id, r->tenant.id, tn_str(r, "e164"), prio,
		                     agent_id[0] ? agent_id : NULL, queue_id[0] ? queue_id : NULL,
		                     tn_str(r, "note") };

		if (cc_pg_cmd(&r->d->pg, "INSERT INTO cc.viplist (id, tenant_id, e164, priority, agent_id, "
		              "queue_id, note) VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, p) != CC_OK ||
		    tn_commit(r) != CC_OK)
			return tn_rollback(r, "a VIP entry for this number");
	}
	tn_notify(r->d, r->tenant.id, "viplist", NULL);
	if (!(out = select_one(r, tn_str(r, "e164"))))
		return tn_db_error(r, "VIP entry");
	tn_reply(r, 201, out);
}

static void list(struct tn_req *r)
{
	tn_list_page(r, cc_sprintf("SELECT %s FROM %s WHERE v.tenant_id = $1 AND v.e164 > $2 "
	                           "ORDER BY v.e164 LIMIT $3", COLS, FROM),
	             "VIP list", row, 1);
}

static void get(struct tn_req *r)
{
	json_t *out = select_one(r, r->params[1]);

	if (!out && r->d->pg.error == CC_PG_OK)
		return tn_error(r, 404, "not_found", NULL, "no such VIP entry");
	if (!out)
		return tn_db_error(r, "VIP entry");
	tn_reply(r, 200, out);
}

static void remove_entry(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->params[1] };
	PGresult *res = cc_pg_exec(&r->d->pg, "DELETE FROM cc.viplist WHERE tenant_id = $1 "
	                           "AND e164 = $2 RETURNING id", 2, p);
	int n;

	if (!res)
		return tn_db_error(r, "VIP entry");
	n = PQntuples(res);
	PQclear(res);
	if (!n)
		return tn_error(r, 404, "not_found", NULL, "no such VIP entry");
	tn_notify(r->d, r->tenant.id, "viplist", NULL);
	tn_no_content(r);
}

const struct tn_route tn_viplist_routes[] = {
	{ "POST", "/v1/tenants/{slug}/viplist", TN_TENANT, fields, create, false, false },
	{ "GET", "/v1/tenants/{slug}/viplist", TN_TENANT, NULL, list, false, false },
	{ "GET", "/v1/tenants/{slug}/viplist/{e164}", TN_TENANT, NULL, get, false, false },
	{ "DELETE", "/v1/tenants/{slug}/viplist/{e164}", TN_TENANT, NULL, remove_entry, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
