/*
 * agents.c: /v1/tenants/{slug}/agents. An agent is a seat with a SIP
 * login: our row in cc.agents and Kamailio's in `subscriber` (username =
 * extension, domain = the tenant's SIP domain, HA1 and HA1b only; the
 * password itself is never stored nor returned), written in one
 * transaction.
 *
 * caller_id (optional) is the number this agent presents on PSTN calls
 * instead of the tenant's: one of the tenant's own numbers, else 422 (the
 * same answer whoever holds the number); PATCH it to null to go back to
 * the tenant's.
 */
#include "api.h"
#include "cc.h"
#include "tenantd.h"

#include <openssl/crypto.h>
#include <string.h>

static const char COLS[] = "id, extension, name, "
	TN_TS("created_at") ", "
	TN_TS("updated_at") ", caller_id, skills::text, team, "
	/* the ACD: its queues with their priorities (1 is offered first) */
	"(SELECT COALESCE(jsonb_object_agg(q.name, m.priority), '{}')::text FROM cc.queue_members m "
	" JOIN cc.queues q ON q.id = m.queue_id AND q.tenant_id = m.tenant_id "
	" WHERE m.agent_id = agents.id), recording, recording_percent, to_jsonb(supervises)::text";

static json_t *json_col(const PGresult *res, int i, int col)
{
	json_t *v = json_loads(PQgetvalue(res, i, col), 0, NULL);

	return v ? v : json_object();
}

static json_t *row(const PGresult *res, int i)
{
	json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id", PQgetvalue(res, i, 0),
	                 "extension", PQgetvalue(res, i, 1), "name", PQgetvalue(res, i, 2),
	                 "sip_username", PQgetvalue(res, i, 1),
	                 "created_at", tn_time(res, i, 3), "updated_at", tn_time(res, i, 4),
	                 "caller_id", PQgetisnull(res, i, 5) ? json_null()
	                              : json_string(PQgetvalue(res, i, 5)),
	                 "skills", json_col(res, i, 6),
	                 "team", PQgetisnull(res, i, 7) ? json_null() : json_string(PQgetvalue(res, i, 7)),
	                 "queues", json_col(res, i, 8));
	json_t *sup = json_loads(PQgetvalue(res, i, 11), 0, NULL);

	/* docs/RECORDING.md: null inherits the queue's, then the tenant's policy */
	json_object_set_new(a, "recording", PQgetisnull(res, i, 9) ? json_null()
	                    : json_string(PQgetvalue(res, i, 9)));
	json_object_set_new(a, "recording_percent", PQgetisnull(res, i, 10) ? json_null()
	                    : json_integer(atoi(PQgetvalue(res, i, 10))));
	json_object_set_new(a, "supervises", sup ? sup : json_array());
	return a;
}

/* The ACD (docs/ACD.md): skills with levels 1..5, queues with a priority
 * 1..100, a team for reports. */
static int check_skills(struct tn_req *r, json_t *v, char **err)
{
	return tn_check_skills(v, err);
}

static int check_queues(struct tn_req *r, json_t *v, char **err)
{
	return tn_check_levels(v, 1, 100, err);
}

static int check_team(struct tn_req *r, json_t *v, char **err)
{
	if (!tn_code_ok(json_string_value(v), 63))
		return cc_fail(err, "must be 1 to 63 of a-z, 0-9, '_' and '-', starting with a letter "
		               "or digit");
	return CC_OK;
}

/* In the transaction: the agent's memberships become the body's "queues"
 * (when given), each a queue of this tenant: 422 naming it otherwise
 * (another tenant's queue of that name is not found either). CC_ERROR
 * after answering; the caller rolls back. */
static int set_queues(struct tn_req *r, const char *agent_id)
{
	json_t *qs = json_object_get(r->body, "queues"), *prio;
	const char *name, *pd[2] = { r->tenant.id, agent_id };

	if (!qs)
		return CC_OK;
	if (cc_pg_cmd(&r->d->pg, "DELETE FROM cc.queue_members WHERE tenant_id = $1 AND agent_id = $2",
	              2, pd) != CC_OK) {
		tn_db_error(r, "agent");
		return CC_ERROR;
	}
	json_object_foreach(qs, name, prio) {
		char qid[CC_UUID_LEN], pr[8], field[80];
		int rc = tn_queue_id(r, name, qid, true);

		if (rc < 0)
			return CC_ERROR;
		if (!rc) {
			snprintf(field, sizeof(field), "queues.%s", name);
			tn_error(r, 422, "invalid_argument", field, "no queue '%s' in this tenant", name);
			return CC_ERROR;
		}
		snprintf(pr, sizeof(pr), "%lld", (long long)json_integer_value(prio));
		{
			const char *p[4] = { r->tenant.id, qid, agent_id, pr };

			if (cc_pg_cmd(&r->d->pg, "INSERT INTO cc.queue_members (tenant_id, queue_id, "
			              "agent_id, priority) VALUES ($1, $2, $3, $4)", 4, p) != CC_OK) {
				tn_db_error(r, "membership");
				return CC_ERROR;
			}
		}
	}
	return CC_OK;
}

/* the queues a supervisor's key of this agent sees: names of the code
 * form here, each a queue of the tenant (set_supervises) */
static int check_supervises(struct tn_req *r, json_t *v, char **err)
{
	size_t i;
	json_t *q;

	if (json_array_size(v) > 64)
		return cc_fail(err, "may name at most 64 queues");
	json_array_foreach(v, i, q)
		if (!json_is_string(q) || !tn_code_ok(json_string_value(q), 63))
			return cc_fail(err, "must be queue names");
	return CC_OK;
}

/* In the transaction: the body's recording policy and "supervises" onto
 * the agent; each supervised queue must exist in this tenant (422). */
static int set_supervision(struct tn_req *r, const char *agent_id)
{
	json_t *sv = json_object_get(r->body, "supervises"), *q;
	size_t i;
	char *arr;
	int rc;

	if (tn_rec_policy_write(r, "cc.agents", agent_id) != CC_OK)
		return CC_ERROR;
	if (!sv)
		return CC_OK;
	json_array_foreach(sv, i, q) {
		int found = tn_queue_id(r, json_string_value(q), NULL, true);

		if (found < 0)
			return CC_ERROR;
		if (!found) {
			tn_error(r, 422, "invalid_argument", "supervises", "no queue '%s' in this tenant",
			         json_string_value(q));
			return CC_ERROR;
		}
	}
	arr = json_dumps(sv, JSON_COMPACT);
	{
		const char *p[2] = { agent_id, arr };

		rc = cc_pg_cmd(&r->d->pg, "UPDATE cc.agents SET supervises = ARRAY(SELECT "
		               "jsonb_array_elements_text($2::jsonb)) WHERE id = $1", 2, p);
	}
	free(arr);
	if (rc != CC_OK) {
		tn_db_error(r, "agent");
		return CC_ERROR;
	}
	return CC_OK;
}

static int check_password(struct tn_req *r, json_t *v, char **err)
{
	size_t n = strlen(json_string_value(v));

	if (n < 8 || n > 128)
		return cc_fail(err, "must be 8 to 128 characters");
	return CC_OK;
}

static const struct tn_field create_fields[] = {
	{ "extension", JSON_STRING, true, tn_check_extension, NULL, false },
	{ "name", JSON_STRING, true, tn_check_name, NULL, false },
	{ "password", JSON_STRING, true, check_password, NULL, false },
	{ "caller_id", JSON_STRING, false, tn_check_e164, NULL, false },
	{ "skills", JSON_OBJECT, false, check_skills, NULL, false },
	{ "queues", JSON_OBJECT, false, check_queues, NULL, false },
	{ "team", JSON_STRING, false, check_team, NULL, false },
	{ "recording", JSON_STRING, false, tn_check_rec_policy, NULL, true },
	{ "recording_percent", JSON_INTEGER, false, tn_check_rec_percent, NULL, true },
	{ "supervises", JSON_ARRAY, false, check_supervises, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static const struct tn_field patch_fields[] = {
	{ "name", JSON_STRING, false, tn_check_name, NULL, false },
	{ "password", JSON_STRING, false, check_password, NULL, false },
	{ "caller_id", JSON_STRING, false, tn_check_e164, NULL, true },
	{ "skills", JSON_OBJECT, false, check_skills, NULL, false },
	{ "queues", JSON_OBJECT, false, check_queues, NULL, false },
	{ "team", JSON_STRING, false, check_team, NULL, true },
	{ "recording", JSON_STRING, false, tn_check_rec_policy, NULL, true },
	{ "recording_percent", JSON_INTEGER, false, tn_check_rec_percent, NULL, true },
	{ "supervises", JSON_ARRAY, false, check_supervises, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};
static const char *const patch_nullable[] = { "caller_id", "team", NULL };
static const char *const patch_cols[] = { "name", "caller_id", "team", NULL };

/* A caller_id in the body must be one of the tenant's numbers: CC_ERROR
 * after answering 422 (or a database error). */
static int check_caller_id(struct tn_req *r)
{
	const char *cli = tn_str(r, "caller_id");
	int mine;

	if (!cli)
		return CC_OK;
	if ((mine = tn_number_of_tenant(r, r->tenant.id, cli)) < 0)
		return CC_ERROR;
	if (!mine) {
		tn_error(r, 422, "invalid_argument", "caller_id",
		         "'caller_id' must be one of this tenant's numbers");
		return CC_ERROR;
	}
	return CC_OK;
}

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

static void create_agent(struct tn_req *r, char *id, const char **p, const char **ps, char *ha1,
                         char *ha1b)
{
	const char *ext = p[2];
	json_t *out;

	if (check_caller_id(r) != CC_OK)
		return;
	if (tn_new_id(r, id) != CC_OK)
		return;
	hashes(r, ext, tn_str(r, "password"), ha1, ha1b);
	if (tn_begin(r) != CC_OK ||
	    cc_pg_cmd(&r->d->pg, "INSERT INTO cc.agents (id, tenant_id, extension, name, caller_id, "
	              "skills, team) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)", 7, p) != CC_OK ||
	    cc_pg_cmd(&r->d->pg, "INSERT INTO kamailio.subscriber (username, domain, password, ha1, ha1b) "
	              "VALUES ($1, $2, '', $3, $4)", 4, ps) != CC_OK)
		return tn_rollback(r, "an agent with this extension");
	if (set_queues(r, id) != CC_OK || set_supervision(r, id) != CC_OK) {
		tn_abort(r);
		return;
	}
	if (!(out = select_one(r, ext)))
		return tn_rollback(r, "an agent with this extension");
	if (tn_commit(r) != CC_OK) {
		json_decref(out);
		return tn_rollback(r, "an agent with this extension");
	}
	tn_notify(r->d, r->tenant.id, "agent", NULL);
	tn_reply(r, 201, out);
}

static void create(struct tn_req *r)
{
	char id[CC_UUID_LEN], ha1[CC_MD5_HEX], ha1b[CC_MD5_HEX];
	const char *ext = tn_str(r, "extension");
	json_t *sk = json_object_get(r->body, "skills");
	char *skills = sk ? json_dumps(sk, JSON_COMPACT) : strdup("{}");
	const char *p[7] = { id, r->tenant.id, ext, tn_str(r, "name"), tn_str(r, "caller_id"), skills,
	                     tn_str(r, "team") };
	const char *ps[4] = { ext, r->tenant.sip_domain, ha1, ha1b };

	CC_BUG_ON(!skills);
	create_agent(r, id, p, ps, ha1, ha1b);
	free(skills);
}

static void list(struct tn_req *r)
{
	tn_list_page(r, cc_sprintf("SELECT %s FROM cc.agents WHERE tenant_id = $1 AND extension > $2 "
	                           "ORDER BY extension LIMIT $3", COLS),
	             "agents", row, 1);
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
	const char *ext = r->params[1], *pw;
	char ha1[CC_MD5_HEX], ha1b[CC_MD5_HEX], agent_id[CC_UUID_LEN];
	const char *p[2] = { r->tenant.id, ext };
	const char *ps[4] = { ext, r->tenant.sip_domain, ha1, ha1b };
	PGresult *res;
	json_t *out;

	if (tn_patch_body(r, patch_fields, patch_nullable) != CC_OK || check_caller_id(r) != CC_OK)
		return;
	if ((pw = tn_str(r, "password")))
		hashes(r, ext, pw, ha1, ha1b);
	if (tn_begin(r) != CC_OK)
		return tn_rollback(r, "agent");
	res = tn_patch_update(r, "cc.agents", patch_cols, "tenant_id = $1 AND extension = $2", 2, p,
	                      "id");
	if (!res)
		return tn_rollback(r, "agent");
	if (PQntuples(res) != 1) {
		PQclear(res);
		tn_abort(r);
		return tn_error(r, 404, "not_found", NULL, "no such agent");
	}
	snprintf(agent_id, sizeof(agent_id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if ((pw && cc_pg_cmd(&r->d->pg, "UPDATE kamailio.subscriber SET ha1 = $3, ha1b = $4 "
	                     "WHERE username = $1 AND domain = $2", 4, ps) != CC_OK))
		return tn_rollback(r, "agent");
	if (json_object_get(r->body, "skills")) {
		char *sk = json_dumps(json_object_get(r->body, "skills"), JSON_COMPACT);
		const char *pk[2] = { agent_id, sk };
		int rc = cc_pg_cmd(&r->d->pg, "UPDATE cc.agents SET skills = $2::jsonb WHERE id = $1",
		                   2, pk);

		free(sk);
		if (rc != CC_OK)
			return tn_rollback(r, "agent");
	}
	if (set_queues(r, agent_id) != CC_OK || set_supervision(r, agent_id) != CC_OK) {
		tn_abort(r);
		return;
	}
	if (!(out = select_one(r, ext)))
		return tn_rollback(r, "agent");
	if (tn_commit(r) != CC_OK) {
		json_decref(out);
		return tn_rollback(r, "agent");
	}
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
	res = cc_pg_exec(&r->d->pg, "SELECT name FROM cc.queues WHERE tenant_id = $1 "
	                 "AND overflow_type = 'agent' AND overflow_target = $2 LIMIT 1", 2, p);
	if (!res)
		return tn_rollback(r, "agent");
	if (PQntuples(res)) {
		tn_abort(r);
		tn_error(r, 409, "conflict", NULL, "queue %s overflows to this agent; change it first",
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
	/* fields checked by the handler: caller_id may be null */
	{ "PATCH", "/v1/tenants/{slug}/agents/{extension}", TN_TENANT, patch_fields, patch, true, false },
	{ "DELETE", "/v1/tenants/{slug}/agents/{extension}", TN_TENANT, NULL, remove_agent, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
