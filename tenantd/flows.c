/*
 * flows.c: a tenant's IVR flows (/v1/tenants/{slug}/flows/{name}), the
 * language of docs/FLOWS.md.
 *
 * A PUT is checked in two steps: lib/flow.c checks the document itself
 * (its 422 names the node and field), then this file checks it against the
 * tenant: every prompt is the tenant's (a current cc.prompts row) or one of
 * the platform's defaults, every agent node's extension is the tenant's,
 * every goto names another flow of the tenant, and number nodes only for a
 * tenant that may call out (a billing plan or pstn_without_plan, as
 * routingd decides PSTN calls). Accepted, the body is stored as a new
 * immutable cc.flow_versions row and the flow points at it, in one
 * transaction; calls already in the flow keep the version they started
 * with. routingd and mediad hear of it on cc.cfg.<tenant>.
 *
 * DELETE answers 409 while a number points at the flow or another flow's
 * current version has a goto to it. A tenant never sees, targets or gotos
 * another tenant's flows: every statement is keyed by the tenant's id.
 */
#include "api.h"
#include "cc.h"
#include "flow.h"
#include "tenantd.h"

#include <stdio.h>
#include <string.h>

/* The platform's default prompts (tn_default_prompts) joined for a
 * message: "invalid, goodbye, ..." */
static const char *default_prompt_names(char *buf, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (const char *const *p = tn_default_prompts; *p && len < n; p++) {
		int w = snprintf(buf + len, n - len, "%s%s", len ? ", " : "", *p);

		if (w < 0)
			break;
		len += (size_t)w;
	}
	return buf;
}

/* The form of a flow's name in the path (the database's rule). */
static bool flow_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 63 && strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static const char COLS[] = "f.name, f.version_id, v.body::text, array_to_json(v.prompts)::text, "
	"array_to_json(v.flows)::text, " TN_TS("f.created_at") ", " TN_TS("f.updated_at") ", "
	"array_to_json(v.queues)::text";
static const char FROM[] = "cc.flows f JOIN cc.flow_versions v ON v.id = f.version_id";

static json_t *json_col(const PGresult *res, int i, int col)
{
	json_t *v = json_loads(PQgetvalue(res, i, col), 0, NULL);

	return v ? v : json_null();
}

/* A list item: without the body. */
static json_t *brief_row(const PGresult *res, int i)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "name", PQgetvalue(res, i, 0),
	                 "version", PQgetvalue(res, i, 1), "prompts", json_col(res, i, 3),
	                 "flows", json_col(res, i, 4), "created_at", tn_time(res, i, 5),
	                 "updated_at", tn_time(res, i, 6), "queues", json_col(res, i, 7));
}

static json_t *full_row(const PGresult *res, int i)
{
	json_t *o = brief_row(res, i);

	json_object_set_new(o, "body", json_col(res, i, 2));
	return o;
}

/* The tenant's flow called name, or NULL (pg.error tells a miss from a failure). */
static json_t *select_one(struct tn_req *r, const char *name)
{
	const char *p[2] = { r->tenant.id, name };
	char *sql = cc_sprintf("SELECT %s FROM %s WHERE f.tenant_id = $1 AND f.name = $2", COLS, FROM);
	PGresult *res = cc_pg_exec(&r->d->pg, sql, 2, p);
	json_t *out = NULL;

	free(sql);
	if (res && PQntuples(res) == 1)
		out = full_row(res, 0);
	if (res)
		PQclear(res);
	return out;
}

/* ----------------------------------------------- checks against the tenant */

/* The names among want (a JSON array of strings) that the query finds:
 * sql takes $1 the tenant and $2 a jsonb array, and returns one name per
 * row. NULL after answering a database error. */
static json_t *found(struct tn_req *r, const char *sql, json_t *want, const char *what)
{
	char *arr = json_dumps(want, JSON_COMPACT);
	const char *p[2] = { r->tenant.id, arr };
	PGresult *res = cc_pg_exec(&r->d->pg, sql, 2, p);
	json_t *names = json_object();

	free(arr);
	if (!res) {
		json_decref(names);
		tn_db_error(r, what);
		return NULL;
	}
	for (int i = 0; i < PQntuples(res); i++)
		json_object_set_new(names, PQgetvalue(res, i, 0), json_true());
	PQclear(res);
	return names;
}

/* Every prompt a node plays, with its field, in document order. */
static int check_prompts(struct tn_req *r, const struct cc_flow *f)
{
	json_t *want = json_array(), *have;
	char field[160];

	for (size_t i = 0; i < f->n_prompts; i++)
		if (!tn_prompt_is_default(f->prompts[i]))
			json_array_append_new(want, json_string(f->prompts[i]));
	if (!json_array_size(want)) {
		json_decref(want);
		return CC_OK;
	}
	have = found(r, "SELECT name FROM cc.prompts WHERE tenant_id = $1 AND current "
	             "AND name IN (SELECT jsonb_array_elements_text($2::jsonb))", want, "prompts");
	json_decref(want);
	if (!have)
		return CC_ERROR;
	for (size_t i = 0; i < f->n_nodes; i++) {
		const struct cc_flow_node *n = &f->nodes[i];
		bool asks = n->type == CC_FLOW_MENU || n->type == CC_FLOW_COLLECT;

		for (size_t k = 0; k < n->n_prompts; k++) {
			const char *p = n->prompts[k];

			if (tn_prompt_is_default(p) || json_object_get(have, p))
				continue;
			if (asks)
				snprintf(field, sizeof(field), "nodes.%s.prompt", n->name);
			else
				snprintf(field, sizeof(field), "nodes.%s.prompts.%zu", n->name, k);
			json_decref(have);
			char names[160];

			tn_error(r, 422, "invalid_argument", field, "no prompt '%s' (upload it first, or "
			         "use a default: %s)", p, default_prompt_names(names, sizeof(names)));
			return CC_ERROR;
		}
		if (asks && n->invalid[0] && !tn_prompt_is_default(n->invalid) &&
		    !json_object_get(have, n->invalid)) {
			snprintf(field, sizeof(field), "nodes.%s.invalid", n->name);
			json_decref(have);
			tn_error(r, 422, "invalid_argument", field, "no prompt '%s'", n->invalid);
			return CC_ERROR;
		}
	}
	json_decref(have);
	return CC_OK;
}

static int check_agents(struct tn_req *r, const struct cc_flow *f)
{
	json_t *want = json_array(), *have;
	char field[160];

	for (size_t i = 0; i < f->n_nodes; i++)
		if (f->nodes[i].type == CC_FLOW_AGENT)
			json_array_append_new(want, json_string(f->nodes[i].extension));
	if (!json_array_size(want)) {
		json_decref(want);
		return CC_OK;
	}
	have = found(r, "SELECT extension FROM cc.agents WHERE tenant_id = $1 "
	             "AND extension IN (SELECT jsonb_array_elements_text($2::jsonb))", want, "agents");
	json_decref(want);
	if (!have)
		return CC_ERROR;
	for (size_t i = 0; i < f->n_nodes; i++) {
		const struct cc_flow_node *n = &f->nodes[i];

		if (n->type != CC_FLOW_AGENT || json_object_get(have, n->extension))
			continue;
		snprintf(field, sizeof(field), "nodes.%s.extension", n->name);
		json_decref(have);
		tn_error(r, 422, "invalid_argument", field, "no agent with extension %s", n->extension);
		return CC_ERROR;
	}
	json_decref(have);
	return CC_OK;
}

/* In the transaction: every goto names another flow of the tenant, and
 * that flow is held (FOR SHARE) until the commit, so a DELETE of it waits
 * and then sees this version's goto (409). */
static int check_gotos(struct tn_req *r, const struct cc_flow *f, const char *self)
{
	json_t *want = json_array(), *have;
	char field[160];

	for (size_t i = 0; i < f->n_nodes; i++) {
		const struct cc_flow_node *n = &f->nodes[i];

		if (n->type != CC_FLOW_GOTO)
			continue;
		if (strcmp(n->flow, self) == 0) {
			json_decref(want);
			snprintf(field, sizeof(field), "nodes.%s.flow", n->name);
			tn_error(r, 422, "invalid_argument", field,
			         "a flow cannot goto itself; name a node of this flow instead");
			return CC_ERROR;
		}
		json_array_append_new(want, json_string(n->flow));
	}
	if (!json_array_size(want)) {
		json_decref(want);
		return CC_OK;
	}
	have = found(r, "SELECT name FROM cc.flows WHERE tenant_id = $1 "
	             "AND name IN (SELECT jsonb_array_elements_text($2::jsonb)) FOR SHARE", want, "flows");
	json_decref(want);
	if (!have)
		return CC_ERROR;
	for (size_t i = 0; i < f->n_nodes; i++) {
		const struct cc_flow_node *n = &f->nodes[i];

		if (n->type != CC_FLOW_GOTO || json_object_get(have, n->flow))
			continue;
		snprintf(field, sizeof(field), "nodes.%s.flow", n->name);
		json_decref(have);
		tn_error(r, 422, "invalid_argument", field, "no flow '%s' (create it first)", n->flow);
		return CC_ERROR;
	}
	json_decref(have);
	return CC_OK;
}

/* In the transaction: every queue node names a queue of the tenant, held
 * (FOR SHARE) until the commit so that a DELETE of it waits and then sees
 * this version (409). Into *names the distinct names, as a text[]. */
static int check_queues(struct tn_req *r, const struct cc_flow *f, char **names)
{
	json_t *want = json_array(), *have;
	char field[160];
	size_t len = 3;

	*names = NULL;
	for (size_t i = 0; i < f->n_nodes; i++)
		if (f->nodes[i].type == CC_FLOW_QUEUE) {
			json_array_append_new(want, json_string(f->nodes[i].queue));
			len += strlen(f->nodes[i].queue) + 1;
		}
	if (!json_array_size(want)) {
		json_decref(want);
		*names = strdup("{}");
		CC_BUG_ON(!*names);
		return CC_OK;
	}
	have = found(r, "SELECT name FROM cc.queues WHERE tenant_id = $1 "
	             "AND name IN (SELECT jsonb_array_elements_text($2::jsonb)) FOR SHARE", want, "queues");
	json_decref(want);
	if (!have)
		return CC_ERROR;
	char *p = *names = malloc(len);
	CC_BUG_ON(!p);
	*p++ = '{';
	for (size_t i = 0; i < f->n_nodes; i++) {
		const struct cc_flow_node *n = &f->nodes[i];

		if (n->type != CC_FLOW_QUEUE)
			continue;
		if (!json_object_get(have, n->queue)) {
			snprintf(field, sizeof(field), "nodes.%s.queue", n->name);
			json_decref(have);
			free(*names);
			*names = NULL;
			tn_error(r, 422, "invalid_argument", field, "no queue '%s' (create it first)",
			         n->queue);
			return CC_ERROR;
		}
		/* names are [a-z0-9_-] (lib/flow.c): none needs quoting */
		p += sprintf(p, "%s%s", p[-1] == '{' ? "" : ",", n->queue);
	}
	*p++ = '}';
	*p = '\0';
	json_decref(have);
	return CC_OK;
}

/* Number nodes: only for a tenant that may call out, as routingd decides
 * PSTN calls (routing/decide.c: a plan, or the operator's pstn_without_plan). */
static int check_numbers(struct tn_req *r, const struct cc_flow *f)
{
	const struct cc_flow_node *first = NULL;
	const char *p[1] = { r->tenant.id };
	PGresult *res;
	bool may;
	char field[160];

	for (size_t i = 0; i < f->n_nodes && !first; i++)
		if (f->nodes[i].type == CC_FLOW_NUMBER)
			first = &f->nodes[i];
	if (!first)
		return CC_OK;
	res = cc_pg_exec(&r->d->pg, "SELECT t.pstn_without_plan OR EXISTS (SELECT 1 FROM "
	                 "cc.billing_plans b WHERE b.tenant_id = t.id) FROM cc.tenants t WHERE t.id = $1",
	                 1, p);
	if (!res) {
		tn_db_error(r, "tenant");
		return CC_ERROR;
	}
	may = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (may)
		return CC_OK;
	snprintf(field, sizeof(field), "nodes.%s.number", first->name);
	tn_error(r, 422, "invalid_argument", field, "this tenant may not call out to the PSTN (it has "
	         "no billing plan and the operator has not allowed PSTN calls without one)");
	return CC_ERROR;
}

/* The names as a PostgreSQL text[] parameter ("{a,b}"): names are
 * [a-z0-9_-] only (lib/flow.c), so none needs quoting. */
static char *text_array(char (*names)[CC_FLOW_NAME_MAX], size_t n)
{
	size_t len = 3;
	char *s, *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	p = s = malloc(len);
	CC_BUG_ON(!s);
	*p++ = '{';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", names[i]);
	*p++ = '}';
	*p = '\0';
	return s;
}

/* ----------------------------------------------------------- handlers */

static void put(struct tn_req *r)
{
	const char *name = r->params[1];
	struct cc_flow *f = NULL;
	struct cc_flow_error err;
	char fid[CC_UUID_LEN], vid[CC_UUID_LEN], *body = NULL, *prompts = NULL, *flows = NULL;
	char *queues = NULL;
	bool created = false;
	PGresult *res;
	json_t *out;

	if (!flow_name_ok(name))
		return tn_error(r, 422, "invalid_argument", "name", "a flow's name " "must be 1 to 63 of "
		                "a-z, 0-9, '_' and '-', starting with a letter or digit");
	if (r->len > CC_FLOW_MAX_BYTES)   /* api.c refuses it first; kept for any other path here */
		return tn_error(r, 422, "invalid_argument", "body", "the body is over %d bytes",
		                CC_FLOW_MAX_BYTES);
	if (cc_flow_parse(r->body, &f, &err) != CC_OK)
		return tn_error(r, 422, "invalid_argument", err.field[0] ? err.field : "body", "%s",
		                err.message);
	if (check_prompts(r, f) != CC_OK || check_agents(r, f) != CC_OK ||
	    check_numbers(r, f) != CC_OK)
		goto done;
	if (tn_new_id(r, fid) != CC_OK || tn_new_id(r, vid) != CC_OK)
		goto done;
	if (tn_begin(r) != CC_OK) {
		tn_rollback(r, "flow");
		goto done;
	}
	if (check_gotos(r, f, name) != CC_OK || check_queues(r, f, &queues) != CC_OK) {
		tn_abort(r);
		goto done;
	}
	{
		const char *p[2] = { r->tenant.id, name };

		if (!(res = cc_pg_exec(&r->d->pg, "SELECT id FROM cc.flows WHERE tenant_id = $1 AND "
		                       "name = $2 FOR UPDATE", 2, p))) {
			tn_rollback(r, "flow");
			goto done;
		}
		if (PQntuples(res) == 1)
			snprintf(fid, sizeof(fid), "%s", PQgetvalue(res, 0, 0));
		else
			created = true;
		PQclear(res);
	}
	body = json_dumps(r->body, JSON_COMPACT);
	prompts = text_array(f->prompts, f->n_prompts);
	flows = text_array(f->flows, f->n_flows);
	{
		const char *pf[4] = { fid, r->tenant.id, name, vid };
		const char *pv[7] = { vid, fid, r->tenant.id, body, prompts, flows, queues };

		/* the flow's version_id reference is checked at the commit */
		if ((created && cc_pg_cmd(&r->d->pg, "INSERT INTO cc.flows (id, tenant_id, name, "
		                          "version_id) VALUES ($1, $2, $3, $4)", 4, pf) != CC_OK) ||
		    cc_pg_cmd(&r->d->pg, "INSERT INTO cc.flow_versions (id, flow_id, tenant_id, body, "
		              "prompts, flows, queues) VALUES ($1, $2, $3, $4::jsonb, $5::text[], "
		              "$6::text[], $7::text[])", 7, pv) != CC_OK ||
		    (!created && cc_pg_cmd(&r->d->pg, "UPDATE cc.flows SET version_id = $4, updated_at = "
		                           "now() WHERE id = $1 AND tenant_id = $2 AND name = $3",
		                           4, pf) != CC_OK) ||
		    tn_commit(r) != CC_OK) {
			tn_rollback(r, "this flow");
			goto done;
		}
	}
	tn_notify(r->d, r->tenant.id, "flow", NULL);
	if (!(out = select_one(r, name)))
		tn_db_error(r, "flow");
	else
		tn_reply(r, created ? 201 : 200, out);
done:
	free(body);
	free(prompts);
	free(flows);
	free(queues);
	cc_flow_free(f);
}

static void list(struct tn_req *r)
{
	tn_list_page(r, cc_sprintf("SELECT %s FROM %s WHERE f.tenant_id = $1 AND f.name > $2 "
	                           "ORDER BY f.name LIMIT $3", COLS, FROM),
	             "flows", brief_row, 0);
}

static void get(struct tn_req *r)
{
	json_t *out = flow_name_ok(r->params[1]) ? select_one(r, r->params[1]) : NULL;

	if (!out && r->d->pg.error == CC_PG_OK)
		return tn_error(r, 404, "not_found", NULL, "no such flow");
	if (!out)
		return tn_db_error(r, "flow");
	tn_reply(r, 200, out);
}

/* A 409 listing up to 5 of what res found (column 0), or CC_OK if none. */
static int in_use(struct tn_req *r, PGresult *res, const char *what)
{
	char names[256] = "";

	if (!PQntuples(res))
		return CC_OK;
	for (int i = 0; i < PQntuples(res) && i < 5; i++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "",
		         PQgetvalue(res, i, 0));
	tn_abort(r);
	tn_error(r, 409, "conflict", NULL, "the flow is in use: %s %s%s", what, names,
	         PQntuples(res) > 5 ? ", ..." : "");
	return CC_ERROR;
}

static void remove_flow(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->params[1] };
	char fid[CC_UUID_LEN];
	PGresult *res;
	int rc;

	if (!flow_name_ok(r->params[1]))
		return tn_error(r, 404, "not_found", NULL, "no such flow");
	if (tn_begin(r) != CC_OK)
		return tn_rollback(r, "flow");
	if (!(res = cc_pg_exec(&r->d->pg, "SELECT id FROM cc.flows WHERE tenant_id = $1 AND name = $2 "
	                       "FOR UPDATE", 2, p)))
		return tn_rollback(r, "flow");
	if (PQntuples(res) != 1) {
		PQclear(res);
		tn_abort(r);
		return tn_error(r, 404, "not_found", NULL, "no such flow");
	}
	snprintf(fid, sizeof(fid), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	{
		const char *pn[2] = { r->tenant.id, fid };

		if (!(res = cc_pg_exec(&r->d->pg, "SELECT e164 FROM cc.numbers WHERE tenant_id = $1 AND "
		                       "target_flow = $2 ORDER BY e164 LIMIT 6", 2, pn)))
			return tn_rollback(r, "flow");
		rc = in_use(r, res, "numbers point at it:");
		PQclear(res);
		if (rc != CC_OK)
			return;
	}
	{
		const char *pg[3] = { r->tenant.id, fid, r->params[1] };

		if (!(res = cc_pg_exec(&r->d->pg, "SELECT f.name FROM cc.flows f JOIN cc.flow_versions v "
		                       "ON v.id = f.version_id WHERE f.tenant_id = $1 AND f.id <> $2 AND "
		                       "$3 = ANY (v.flows) ORDER BY f.name LIMIT 6", 3, pg)))
			return tn_rollback(r, "flow");
		rc = in_use(r, res, "flows goto it:");
		PQclear(res);
		if (rc != CC_OK)
			return;
	}
	{
		const char *pq[2] = { r->tenant.id, r->params[1] };

		if (!(res = cc_pg_exec(&r->d->pg, "SELECT name FROM cc.queues WHERE tenant_id = $1 AND "
		                       "overflow_type = 'flow' AND overflow_target = $2 ORDER BY name "
		                       "LIMIT 6", 2, pq)))
			return tn_rollback(r, "flow");
		rc = in_use(r, res, "queues overflow to it:");
		PQclear(res);
		if (rc != CC_OK)
			return;
	}
	{
		const char *pd[2] = { r->tenant.id, fid };

		if (cc_pg_cmd(&r->d->pg, "DELETE FROM cc.flows WHERE tenant_id = $1 AND id = $2", 2,
		              pd) != CC_OK || tn_commit(r) != CC_OK)
			return tn_rollback(r, "flow");
	}
	tn_notify(r->d, r->tenant.id, "flow", NULL);
	tn_no_content(r);
}

const struct tn_route tn_flow_routes[] = {
	{ "GET", "/v1/tenants/{slug}/flows", TN_TENANT, NULL, list, false, false },
	{ "GET", "/v1/tenants/{slug}/flows/{name}", TN_TENANT, NULL, get, false, false },
	/* the graph is checked as a whole by lib/flow.c, then against the tenant */
	{ "PUT", "/v1/tenants/{slug}/flows/{name}", TN_TENANT, tn_whole_json, put, false, false },
	{ "DELETE", "/v1/tenants/{slug}/flows/{name}", TN_TENANT, NULL, remove_flow, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
