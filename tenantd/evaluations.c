/*
 * evaluations.c: quality evaluation of recordings (docs/RECORDING.md
 * "Evaluations"): a tenant's score forms (weighted criteria), evaluations
 * of one recording against a form, and the monthly monitoring score per
 * agent. A supervisor key reaches only recordings of its queues (404 like
 * another tenant's, as in recordings.c), and its metric counts only those.
 * The score is computed by PostgreSQL in numeric, so that it is exact to
 * the two decimals it is stored with.
 */
#include "api.h"
#include "cc.h"
#include "tenantd.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS TN_TS
#define MAX_CRITERIA 50
#define MAX_COMMENT 2000

/* a supervisor's queues as a text[] literal; NULL (no filter) for the rest */
static const char *reach(const struct tn_req *r)
{
	return tn_is_supervisor(r) ? (r->supervises ? r->supervises : "{}") : NULL;
}

/* ^[a-z0-9_]{1,32}$: a criterion's name */
static bool crit_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 32)
		return false;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

/* ^[a-z0-9][a-z0-9_-]{0,62}$: a form's name (the table's rule) */
static int check_form_name(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);
	size_t n = strlen(s);

	(void)r;
	if (n < 1 || n > 63 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return cc_fail(err, "must be 1..63 of a-z, 0-9, _ and -, starting with a letter or digit");
	for (size_t i = 1; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_' ||
		      s[i] == '-'))
			return cc_fail(err, "must be 1..63 of a-z, 0-9, _ and -, starting with a letter or digit");
	return CC_OK;
}

static bool small_int(json_t *v, json_int_t lo, json_int_t hi)
{
	return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

/* 1..50 criteria {name, weight, max}: names unique, weights positive
 * integers summing to 100, max 1..100 */
static int check_criteria(struct tn_req *r, json_t *v, char **err)
{
	size_t i, j;
	json_t *c;
	json_int_t sum = 0;

	(void)r;
	if (json_array_size(v) < 1 || json_array_size(v) > MAX_CRITERIA)
		return cc_fail(err, "must hold 1..%d criteria", MAX_CRITERIA);
	json_array_foreach(v, i, c) {
		json_t *name = json_object_get(c, "name");
		json_t *weight = json_object_get(c, "weight");
		json_t *max = json_object_get(c, "max");

		if (!json_is_object(c) || json_object_size(c) != 3 || !json_is_string(name) ||
		    !weight || !max)
			return cc_fail(err, "[%zu] must be {\"name\", \"weight\", \"max\"} and nothing else", i);
		if (!crit_name(json_string_value(name)))
			return cc_fail(err, "[%zu].name must be 1..32 of a-z, 0-9 and _", i);
		if (!small_int(weight, 1, 100))
			return cc_fail(err, "[%zu].weight must be a positive integer", i);
		if (!small_int(max, 1, 100))
			return cc_fail(err, "[%zu].max must be an integer 1..100", i);
		for (j = 0; j < i; j++)
			if (!strcmp(json_string_value(json_object_get(json_array_get(v, j), "name")),
			            json_string_value(name)))
				return cc_fail(err, "[%zu].name '%s' is given twice", i, json_string_value(name));
		sum += json_integer_value(weight);
	}
	if (sum != 100)
		return cc_fail(err, "weights must sum to 100, not %lld", (long long)sum);
	return CC_OK;
}

static int check_comment(struct tn_req *r, json_t *v, char **err)
{
	(void)r;
	if (strlen(json_string_value(v)) > MAX_COMMENT)
		return cc_fail(err, "is at most %d characters", MAX_COMMENT);
	return CC_OK;
}

/* ------------------------------------------------------------ score forms */

static const char FORM_COLS[] = "id, name, criteria::text, " TS("created_at");

static json_t *form_row(const PGresult *res, int i)
{
	json_t *criteria = json_loads(PQgetvalue(res, i, 2), 0, NULL);

	return json_pack("{s:s, s:s, s:o, s:s}", "id", PQgetvalue(res, i, 0),
	                 "name", PQgetvalue(res, i, 1), "criteria", criteria ? criteria : json_array(),
	                 "created_at", PQgetvalue(res, i, 3));
}

static void form_create(struct tn_req *r)
{
	char id[CC_UUID_LEN], *crit, *sql;
	const char *p[4];
	PGresult *res;

	if (tn_new_id(r, id) != CC_OK)
		return;
	crit = json_dumps(json_object_get(r->body, "criteria"), JSON_COMPACT);
	p[0] = id; p[1] = r->tenant.id; p[2] = tn_str(r, "name"); p[3] = crit;
	sql = cc_sprintf("INSERT INTO cc.score_forms (id, tenant_id, name, criteria) "
	                 "VALUES ($1, $2, $3, $4::jsonb) RETURNING %s", FORM_COLS);
	res = cc_pg_exec(&r->d->pg, sql, 4, p);
	free(sql);
	free(crit);
	if (!res)
		return tn_db_error(r, "score form");
	tn_reply(r, 201, json_pack("{s:o}", "score_form", form_row(res, 0)));
	PQclear(res);
}

static void form_list(struct tn_req *r)
{
	tn_list_page(r, cc_sprintf("SELECT %s FROM cc.score_forms WHERE tenant_id = $1 AND name > $2 "
	                           "ORDER BY name LIMIT $3", FORM_COLS),
	             "score forms", form_row, 1);
}

static void form_get(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->params[1] };
	char *sql = cc_sprintf("SELECT %s FROM cc.score_forms WHERE tenant_id = $1 AND name = $2",
	                       FORM_COLS);
	PGresult *res = cc_pg_exec(&r->d->pg, sql, 2, p);

	free(sql);
	if (!res)
		return tn_db_error(r, "score form");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return tn_error(r, 404, "not_found", NULL, "no such score form");
	}
	tn_reply(r, 200, json_pack("{s:o}", "score_form", form_row(res, 0)));
	PQclear(res);
}

/* ------------------------------------------------------------ evaluations */

static const char EVAL_COLS[] = "e.id, e.recording_id, f.name, e.agent, e.evaluator, "
	"e.scores::text, e.score::text, e.comment, " TS("e.created_at");

static json_t *eval_row(const PGresult *res, int i)
{
	json_t *scores = json_loads(PQgetvalue(res, i, 5), 0, NULL);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:f, s:o, s:s}",
	                      "id", PQgetvalue(res, i, 0), "recording", PQgetvalue(res, i, 1),
	                      "form", PQgetvalue(res, i, 2), "agent", PQgetvalue(res, i, 3),
	                      "evaluator", PQgetvalue(res, i, 4), "scores", scores ? scores : json_object(),
	                      "score", strtod(PQgetvalue(res, i, 6), NULL),
	                      "comment", tn_col_text(res, i, 7), "created_at", PQgetvalue(res, i, 8));
	return o;
}

/* The recording r->params[1] within r's reach: 1 with its agent in agent
 * (NULL when it has none), 0 after answering 404, CC_ERROR after a
 * database error was answered. */
static int recording(struct tn_req *r, char *agent, size_t n, bool *has_agent)
{
	const char *p[3] = { r->tenant.id, r->params[1], reach(r) };
	PGresult *res;

	if (!cc_uuid_valid(r->params[1])) {
		tn_error(r, 404, "not_found", NULL, "no such recording");
		return 0;
	}
	res = cc_pg_exec(&r->d->pg, "SELECT agent FROM cc.recordings WHERE tenant_id = $1 "
	                 "AND id = $2::uuid AND ($3::text[] IS NULL OR queue = ANY ($3::text[]))", 3, p);
	if (!res) {
		tn_db_error(r, "recording");
		return CC_ERROR;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		tn_error(r, 404, "not_found", NULL, "no such recording");
		return 0;
	}
	*has_agent = !PQgetisnull(res, 0, 0) && PQgetvalue(res, 0, 0)[0];
	snprintf(agent, n, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 1;
}

/* The form's criteria must each be scored once, 0..max, and nothing else:
 * CC_ERROR after answering 422. */
static int check_scores(struct tn_req *r, json_t *criteria, json_t *scores)
{
	size_t i;
	json_t *c;

	json_array_foreach(criteria, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		json_t *s = json_object_get(scores, name ? name : "");

		if (!s) {
			tn_error(r, 422, "invalid_argument", "scores", "'scores' has no score for '%s'", name);
			return CC_ERROR;
		}
		if (!small_int(s, 0, json_integer_value(json_object_get(c, "max")))) {
			tn_error(r, 422, "invalid_argument", "scores", "'scores.%s' must be an integer 0..%lld",
			         name, (long long)json_integer_value(json_object_get(c, "max")));
			return CC_ERROR;
		}
	}
	if (json_object_size(scores) != json_array_size(criteria)) {
		tn_error(r, 422, "invalid_argument", "scores",
		         "'scores' names a criterion the form does not have");
		return CC_ERROR;
	}
	return CC_OK;
}

/* the evaluation id of r's tenant (0 or 1 row), or NULL after answering */
static PGresult *eval_fetch(struct tn_req *r, const char *id)
{
	const char *p[2] = { r->tenant.id, id };
	char *sql = cc_sprintf("SELECT %s FROM cc.evaluations e JOIN cc.score_forms f "
	                       "ON f.id = e.form_id AND f.tenant_id = e.tenant_id "
	                       "WHERE e.tenant_id = $1 AND e.id = $2::uuid", EVAL_COLS);
	PGresult *res = cc_pg_exec(&r->d->pg, sql, 2, p);

	free(sql);
	if (!res)
		tn_db_error(r, "evaluation");
	return res;
}

static void eval_create(struct tn_req *r)
{
	char agent[64], form_id[CC_UUID_LEN], eid[CC_UUID_LEN], actor[48], *scores;
	const char *form = tn_str(r, "form"), *p[8];
	json_t *criteria;
	bool has_agent = false;
	PGresult *res;
	int rc;

	if ((rc = recording(r, agent, sizeof(agent), &has_agent)) != 1)
		return;
	if (!has_agent)
		return tn_error(r, 422, "invalid_argument", "recording",
		                "the recording has no agent to evaluate");
	p[0] = r->tenant.id; p[1] = form;
	res = cc_pg_exec(&r->d->pg, "SELECT id, criteria::text FROM cc.score_forms "
	                 "WHERE tenant_id = $1 AND name = $2", 2, p);
	if (!res)
		return tn_db_error(r, "score form");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return tn_error(r, 422, "invalid_argument", "form", "no such score form '%s'", form);
	}
	criteria = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
	snprintf(form_id, sizeof(form_id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	rc = check_scores(r, criteria, json_object_get(r->body, "scores"));
	json_decref(criteria);
	if (rc != CC_OK)
		return;
	if (tn_new_id(r, eid) != CC_OK)
		return;
	tn_actor(r, actor, sizeof(actor));
	scores = json_dumps(json_object_get(r->body, "scores"), JSON_COMPACT | JSON_SORT_KEYS);
	p[0] = eid; p[1] = r->tenant.id; p[2] = r->params[1]; p[3] = form_id; p[4] = agent;
	p[5] = actor; p[6] = scores; p[7] = tn_str(r, "comment");
	if (tn_begin(r) != CC_OK) {
		free(scores);
		return tn_db_error(r, "evaluation");
	}
	/* Σ weight·score/max over the form's criteria, in numeric */
	res = cc_pg_exec(&r->d->pg, "INSERT INTO cc.evaluations (id, tenant_id, recording_id, "
	                 "form_id, agent, evaluator, scores, score, comment) "
	                 "SELECT $1, $2, $3::uuid, $4::uuid, $5, $6, $7::jsonb, "
	                 "round(sum((c->>'weight')::numeric * ($7::jsonb->>(c->>'name'))::numeric "
	                 "/ (c->>'max')::numeric), 2), $8 "
	                 "FROM cc.score_forms f, jsonb_array_elements(f.criteria) c "
	                 "WHERE f.id = $4::uuid AND f.tenant_id = $2", 8, p);
	free(scores);
	if (!res)
		return tn_rollback(r, "evaluation");
	PQclear(res);
	if (tn_audit(r, "evaluate", "recording", r->params[1],
	             json_pack("{s:s, s:s}", "evaluation", eid, "form", form)) != CC_OK) {
		tn_abort(r);
		return tn_error(r, 503, "unavailable", NULL, "the audit log is unavailable");
	}
	if (tn_commit(r) != CC_OK)
		return tn_db_error(r, "evaluation");
	if (!(res = eval_fetch(r, eid)))
		return;
	if (PQntuples(res) == 1)
		tn_reply(r, 201, json_pack("{s:o}", "evaluation", eval_row(res, 0)));
	else
		tn_error(r, 500, "internal", NULL, "internal error");
	PQclear(res);
}

static void eval_list(struct tn_req *r)
{
	char agent[64], *sql;
	bool has_agent;
	const char *p[2] = { r->tenant.id, r->params[1] };
	PGresult *res;
	json_t *items;

	if (recording(r, agent, sizeof(agent), &has_agent) != 1)
		return;
	sql = cc_sprintf("SELECT %s FROM cc.evaluations e JOIN cc.score_forms f "
	                 "ON f.id = e.form_id AND f.tenant_id = e.tenant_id "
	                 "WHERE e.tenant_id = $1 AND e.recording_id = $2::uuid "
	                 "ORDER BY e.created_at, e.id", EVAL_COLS);
	res = cc_pg_exec(&r->d->pg, sql, 2, p);
	free(sql);
	if (!res)
		return tn_db_error(r, "evaluations");
	items = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(items, eval_row(res, i));
	PQclear(res);
	tn_reply(r, 200, tn_list(items, NULL));
}

/* ------------------------------------------------------------ the metric */

/* YYYY-MM, month 01..12 */
static bool month_ok(const char *s)
{
	if (!s || strlen(s) != 7 || s[4] != '-')
		return false;
	for (int i = 0; i < 7; i++)
		if (i != 4 && !isdigit((unsigned char)s[i]))
			return false;
	int m = (s[5] - '0') * 10 + (s[6] - '0');
	return m >= 1 && m <= 12 && strncmp(s, "0000", 4) != 0;
}

static void monitoring_score(struct tn_req *r)
{
	const char *month = tn_query(r, "month");
	const char *p[3] = { r->tenant.id, month, reach(r) };
	PGresult *res;
	json_t *agents;

	if (!month_ok(month))
		return tn_error(r, 422, "invalid_argument", "month", "month must be YYYY-MM");
	/* the month in UTC; a supervisor counts only recordings of its queues */
	res = cc_pg_exec(&r->d->pg, "SELECT e.agent, round(avg(e.score), 2)::text, count(*) "
	                 "FROM cc.evaluations e JOIN cc.recordings rec "
	                 "ON rec.id = e.recording_id AND rec.tenant_id = e.tenant_id "
	                 "WHERE e.tenant_id = $1 "
	                 "AND e.created_at >= ($2 || '-01')::timestamp AT TIME ZONE 'UTC' "
	                 "AND e.created_at < (($2 || '-01')::timestamp + interval '1 month') AT TIME ZONE 'UTC' "
	                 "AND ($3::text[] IS NULL OR rec.queue = ANY ($3::text[])) "
	                 "GROUP BY e.agent ORDER BY e.agent", 3, p);
	if (!res)
		return tn_db_error(r, "monitoring score");
	agents = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(agents, json_pack("{s:s, s:f, s:I}", "agent", PQgetvalue(res, i, 0),
		                      "score", strtod(PQgetvalue(res, i, 1), NULL),
		                      "evaluations", (json_int_t)strtoll(PQgetvalue(res, i, 2), NULL, 10)));
	PQclear(res);
	tn_reply(r, 200, json_pack("{s:s, s:o}", "month", month, "agents", agents));
}

static const struct tn_field form_fields[] = {
	{ "name", JSON_STRING, true, check_form_name, NULL, false },
	{ "criteria", JSON_ARRAY, true, check_criteria, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static const struct tn_field eval_fields[] = {
	{ "form", JSON_STRING, true, NULL, NULL, false },
	{ "scores", JSON_OBJECT, true, NULL, NULL, false },
	{ "comment", JSON_STRING, false, check_comment, NULL, true },
	{ NULL, 0, false, NULL, NULL, false },
};

const struct tn_route tn_evaluation_routes[] = {
	{ "GET", "/v1/tenants/{slug}/score-forms", TN_TENANT, NULL, form_list, false, false },
	{ "POST", "/v1/tenants/{slug}/score-forms", TN_TENANT, form_fields, form_create, false, false },
	{ "GET", "/v1/tenants/{slug}/score-forms/{name}", TN_TENANT, NULL, form_get, false, false },
	{ "GET", "/v1/tenants/{slug}/recordings/{id}/evaluations", TN_TENANT, NULL, eval_list, false, false },
	{ "POST", "/v1/tenants/{slug}/recordings/{id}/evaluations", TN_TENANT, eval_fields, eval_create,
	  false, false },
	{ "GET", "/v1/tenants/{slug}/metrics/monitoring-score", TN_TENANT, NULL, monitoring_score, false,
	  false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
