/*
 * acd.c: the ACD's live routes (docs/ACD.md "tenantd -> routingd"). The
 * ACD's state (agent states, waiting callers, reservations) is routingd's
 * alone, so tenantd never reads it from the database: it checks the
 * request against the tenant's configuration (the agent, queue or call is
 * this tenant's; a reason or a target is valid), then asks routingd over
 * NATS (tn_ask_routingd: the loop never waits; no answer within
 * CC_ACD_RPC_TIMEOUT_MS is 503) and answers with what routingd says.
 *
 *   GET/PUT /v1/tenants/{slug}/agents/{extension}/state   cc.rpc.route.acd.agent
 *   GET     /v1/tenants/{slug}/agents/live                cc.rpc.route.acd.live
 *   GET     /v1/tenants/{slug}/queues/{name}/live         cc.rpc.route.acd.live
 *   POST    /v1/tenants/{slug}/calls/{id}/hold|unhold|transfer  cc.rpc.route.acd.call
 *   POST    /v1/tenants/{slug}/calls/{id}/transfer/complete|cancel  (a consult transfer)
 *   POST/PATCH/DELETE /v1/tenants/{slug}/calls/{id}/monitor  (supervision: listen,
 *           whisper, barge; the supervisor's queues go along, mediad checks the call's)
 *
 * Dispositions are history, not state: POST .../calls/{id}/disposition
 * checks the call (this tenant's record, answered by an agent) and the
 * code (the tenant's list) and publishes cc.call.<tenant>.disposition,
 * from which billingd writes the record's disposition.
 *
 * Every request names the tenant by its id, taken from the API key's
 * tenant (never from the body): routingd answers only about that tenant,
 * so tenant A's key cannot read or change tenant B's agents or calls
 * (the same extension or call id in B is not found: 404).
 */
#include "api.h"
#include "cc.h"
#include "clock.h"
#include "e164.h"
#include "tenantd.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define TN_NOTE_MAX 1000

/* 1 if the extension is an agent of the tenant, 0 if not, CC_ERROR after answering. */
static int agent_exists(struct tn_req *r, const char *ext)
{
	const char *p[2] = { r->tenant.id, ext };
	PGresult *res;
	int n;

	if (strlen(ext) > 8 || strspn(ext, "0123456789") != strlen(ext))
		return 0;
	res = cc_pg_exec(&r->d->pg, "SELECT 1 FROM cc.agents WHERE tenant_id = $1 AND extension = $2",
	                 2, p);
	if (!res) {
		tn_db_error(r, "agent");
		return CC_ERROR;
	}
	n = PQntuples(res);
	PQclear(res);
	return n ? 1 : 0;
}

/* ------------------------------------------------------- agent states */

static int check_state(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);

	if (strcmp(s, "ready") != 0 && strcmp(s, "not_ready") != 0 && strcmp(s, "logged_out") != 0)
		return cc_fail(err, "must be ready, not_ready or logged_out (the other states are the "
		               "ACD's own)");
	return CC_OK;
}

static int check_reason(struct tn_req *r, json_t *v, char **err)
{
	if (!tn_code_ok(json_string_value(v), 32))
		return cc_fail(err, "must be one of the tenant's pause reasons");
	return CC_OK;
}

static const struct tn_field state_fields[] = {
	{ "state", JSON_STRING, true, check_state, NULL, false },
	{ "reason", JSON_STRING, false, check_reason, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static json_t *pick_agent(json_t *reply)
{
	return json_incref(json_object_get(reply, "agent"));
}

static void state(struct tn_req *r)
{
	const char *ext = r->params[1];
	json_t *body;
	int rc;

	if ((rc = agent_exists(r, ext)) != 1) {
		if (rc == 0)
			tn_error(r, 404, "not_found", NULL, "no such agent");
		return;
	}
	body = json_pack("{s:s, s:s}", "tenant", r->tenant.id, "extension", ext);
	if (r->body) {
		const char *st = tn_str(r, "state"), *reason = tn_str(r, "reason");
		bool paused = strcmp(st, "not_ready") == 0;

		if (paused && !reason) {
			json_decref(body);
			return tn_error(r, 422, "invalid_argument", "reason",
			                "not_ready needs a 'reason', one of the tenant's pause reasons");
		}
		if (!paused && reason) {
			json_decref(body);
			return tn_error(r, 422, "invalid_argument", "reason",
			                "only not_ready takes a 'reason'");
		}
		if (reason && (rc = tn_list_has(r, "cc.pause_reasons", reason)) != 1) {
			json_decref(body);
			if (rc == 0)
				tn_error(r, 422, "invalid_argument", "reason",
				         "'%s' is not one of the tenant's pause reasons", reason);
			return;
		}
		json_object_set_new(body, "state", json_string(st));
		if (reason)
			json_object_set_new(body, "reason", json_string(reason));
	}
	tn_ask_routingd(r, "cc.rpc.route.acd.agent", body, pick_agent);
}

static void agents_live(struct tn_req *r)
{
	tn_ask_routingd(r, "cc.rpc.route.acd.live",
	                json_pack("{s:s, s:b}", "tenant", r->tenant.id, "agents", 1), NULL);
}

static void queue_live(struct tn_req *r)
{
	int rc = tn_queue_id(r, r->params[1], NULL, false);

	if (rc != 1) {
		if (rc == 0)
			tn_error(r, 404, "not_found", NULL, "no such queue");
		return;
	}
	tn_ask_routingd(r, "cc.rpc.route.acd.live",
	                json_pack("{s:s, s:s}", "tenant", r->tenant.id, "queue", r->params[1]), NULL);
}

/* -------------------------------------------------------------- calls */

static int check_kind(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);

	if (strcmp(s, "agent") != 0 && strcmp(s, "queue") != 0 && strcmp(s, "number") != 0)
		return cc_fail(err, "must be agent, queue or number");
	return CC_OK;
}

static int check_target_name(struct tn_req *r, json_t *v, char **err)
{
	size_t n = strlen(json_string_value(v));

	if (n < 1 || n > 63)
		return cc_fail(err, "must be an extension, a queue's name or a +E.164 number");
	return CC_OK;
}

static int check_mode(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);

	if (strcmp(s, "blind") != 0 && strcmp(s, "consult") != 0)
		return cc_fail(err, "must be blind or consult");
	return CC_OK;
}

static const struct tn_field target_fields[] = {
	{ "type", JSON_STRING, true, check_kind, NULL, false },
	{ "name", JSON_STRING, true, check_target_name, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static const struct tn_field transfer_fields[] = {
	{ "target", JSON_OBJECT, true, NULL, target_fields, false },
	{ "mode", JSON_STRING, false, check_mode, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

/* 1 if the tenant may call out to the PSTN (a billing plan, or the
 * operator's pstn_without_plan: routing/decide.c), 0 if not, CC_ERROR
 * after answering. */
static int may_call_out(struct tn_req *r)
{
	const char *p[1] = { r->tenant.id };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT t.pstn_without_plan OR EXISTS (SELECT 1 FROM "
	                           "cc.billing_plans b WHERE b.tenant_id = t.id) FROM cc.tenants t "
	                           "WHERE t.id = $1", 1, p);
	int may;

	if (!res) {
		tn_db_error(r, "tenant");
		return CC_ERROR;
	}
	may = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return may;
}

/* The target is the tenant's (an agent, a queue) or a number it may call:
 * 1, or 0 / CC_ERROR after answering (422 target.name, target.type). */
static int target_ok(struct tn_req *r, const json_t *target, bool consult)
{
	const char *type = json_string_value(json_object_get(target, "type"));
	const char *name = json_string_value(json_object_get(target, "name"));
	char *err = NULL;
	int rc;

	if (strcmp(type, "agent") == 0) {
		if ((rc = agent_exists(r, name)) == 0)
			tn_error(r, 422, "invalid_argument", "target.name", "no agent with extension %.20s",
			         name);
		return rc;
	}
	if (strcmp(type, "queue") == 0) {
		if (consult) {
			tn_error(r, 422, "invalid_argument", "target.type",
			         "a consult transfer rings an agent or a number, not a queue");
			return 0;
		}
		if ((rc = tn_queue_id(r, name, NULL, false)) == 0)
			tn_error(r, 422, "invalid_argument", "target.name", "no queue '%.63s'", name);
		return rc;
	}
	if (tn_check_e164(r, json_object_get(target, "name"), &err) != CC_OK) {
		tn_error(r, 422, "invalid_argument", "target.name", "'target.name' %s", err);
		free(err);
		return 0;
	}
	if ((rc = may_call_out(r)) == 0)
		tn_error(r, 422, "invalid_argument", "target.name", "this tenant may not call out to "
		         "the PSTN (it has no billing plan and the operator has not allowed PSTN calls "
		         "without one)");
	return rc;
}

static void call_op(struct tn_req *r, const char *op)
{
	json_t *body = json_pack("{s:s, s:s, s:s}", "tenant", r->tenant.id, "call", r->params[1],
	                         "op", op);

	/* an agent's key: routingd answers only for the call the agent holds */
	if (!r->is_operator && r->role == TN_R_AGENT)
		json_object_set_new(body, "agent", json_string(r->agent_ext));
	if (strcmp(op, "transfer") == 0) {
		const json_t *target = json_object_get(r->body, "target");
		const char *mode = tn_str(r, "mode");

		if (target_ok(r, target, mode && strcmp(mode, "consult") == 0) != 1) {
			json_decref(body);
			return;
		}
		json_object_set_new(body, "target", json_pack("{s:s, s:s}", "type",
		                    json_string_value(json_object_get(target, "type")), "name",
		                    json_string_value(json_object_get(target, "name"))));
		json_object_set_new(body, "mode", json_string(mode ? mode : "blind"));
	}
	tn_ask_routingd(r, "cc.rpc.route.acd.call", body, NULL);
}

static void hold(struct tn_req *r) { call_op(r, "hold"); }
static void unhold(struct tn_req *r) { call_op(r, "unhold"); }
static void transfer(struct tn_req *r) { call_op(r, "transfer"); }
static void complete(struct tn_req *r) { call_op(r, "complete"); }
static void cancel(struct tn_req *r) { call_op(r, "cancel"); }

/* ------------------------------------------------------- supervision */

static int check_supervisor(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);

	if (!*s || strlen(s) > 8 || strspn(s, "0123456789") != strlen(s))
		return cc_fail(err, "must be an agent's extension");
	return CC_OK;
}

static int check_monitor_mode(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);

	if (strcmp(s, "listen") != 0 && strcmp(s, "whisper") != 0 && strcmp(s, "barge") != 0)
		return cc_fail(err, "must be listen, whisper or barge");
	return CC_OK;
}

static const struct tn_field monitor_fields[] = {
	{ "supervisor", JSON_STRING, true, check_supervisor, NULL, false },
	{ "mode", JSON_STRING, true, check_monitor_mode, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

/* The supervisor's queues (cc.agents.supervises) go with the request:
 * mediad compares them with the call's queue. An extension that is no
 * agent of the tenant, or supervises nothing, is 404 at once, as a call
 * of a queue it does not supervise is there: nothing says the call exists.
 * A supervisor's key or wallboard session monitors as its own agent only
 * (403 for another extension: it would lend it that one's queues), with
 * the queues it reaches (a session's: those of its sign-in still held). */
static void monitor_op(struct tn_req *r, const char *op, const char *sup, const char *mode)
{
	bool own = tn_is_supervisor(r);
	const char *p[3] = { r->tenant.id, sup, own ? r->supervises : NULL };
	PGresult *res;
	json_t *queues, *body;

	if (own && strcmp(sup, r->agent_ext) != 0)
		return tn_error(r, 403, "forbidden", "supervisor",
		                "a supervisor's key monitors as its own extension (%s)", r->agent_ext);
	res = cc_pg_exec(&r->d->pg, "SELECT array_to_json(CASE WHEN $3::text IS NULL THEN supervises "
	                 "ELSE $3::text[] END)::text FROM cc.agents "
	                 "WHERE tenant_id = $1 AND extension = $2", 3, p);
	if (!res)
		return tn_db_error(r, "agent");
	queues = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
	PQclear(res);
	if (!json_is_array(queues) || !json_array_size(queues)) {
		json_decref(queues);
		return tn_error(r, 404, "not_found", NULL, "no such call");
	}
	body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "tenant", r->tenant.id, "call",
	                 r->params[1], "op", op, "supervisor", sup, "mode", mode ? mode : "",
	                 "queues", queues);
	tn_ask_routingd(r, "cc.rpc.route.acd.call", body, NULL);
}

static void monitor(struct tn_req *r)
{
	monitor_op(r, "monitor", tn_str(r, "supervisor"), tn_str(r, "mode"));
}

static void monitor_mode(struct tn_req *r)
{
	monitor_op(r, "monitor_mode", tn_str(r, "supervisor"), tn_str(r, "mode"));
}

static void monitor_end(struct tn_req *r)
{
	const char *sup = tn_query(r, "supervisor");

	if (!sup || !*sup || strlen(sup) > 8 || strspn(sup, "0123456789") != strlen(sup))
		return tn_error(r, 422, "invalid_argument", "supervisor",
		                "'supervisor' (in the query) must be an agent's extension");
	monitor_op(r, "monitor_end", sup, NULL);
}

/* ------------------------------------------------- recording control */

static int check_rec_action(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);

	(void)r;
	if (strcmp(s, "start") != 0 && strcmp(s, "stop") != 0 && strcmp(s, "pause") != 0 &&
	    strcmp(s, "resume") != 0)
		return cc_fail(err, "must be start, stop, pause or resume");
	return CC_OK;
}

static const struct tn_field recording_fields[] = {
	{ "action", JSON_STRING, true, check_rec_action, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

/* Start, stop, pause or resume the recording of a bridged call. mediad,
 * which holds the call, answers; a supervisor's key reaches the calls of
 * its queues ("queues" goes with the request, as for monitor), an agent's
 * key its own calls ("agent"): any other call is 404 there, as no call.
 * The request is audited as asked (docs/RECORDING.md, Recording control). */
static void recording(struct tn_req *r)
{
	const char *action = tn_str(r, "action");
	json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "tenant", r->tenant.id, "call",
	                         r->params[1], "op", "recording", "action", action);

	if (tn_is_supervisor(r)) {
		const char *p[2] = { r->tenant.id, r->agent_ext };
		PGresult *res = cc_pg_exec(&r->d->pg, "SELECT array_to_json(supervises)::text "
		                           "FROM cc.agents WHERE tenant_id = $1 AND extension = $2", 2, p);
		json_t *queues;

		if (!res) {
			json_decref(body);
			return tn_db_error(r, "agent");
		}
		queues = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
		PQclear(res);
		if (!json_is_array(queues) || !json_array_size(queues)) {
			json_decref(queues);
			json_decref(body);
			return tn_error(r, 404, "not_found", NULL, "no such call");
		}
		json_object_set_new(body, "queues", queues);
	} else if (!r->is_operator && r->role == TN_R_AGENT) {
		json_object_set_new(body, "agent", json_string(r->agent_ext));
	}
	if (tn_audit(r, "recording_control", "call", r->params[1],
	             json_pack("{s:s}", "action", action)) != CC_OK) {
		json_decref(body);
		return tn_error(r, 503, "unavailable", NULL, "the audit log is not writable; try again");
	}
	tn_ask_routingd(r, "cc.rpc.route.acd.call", body, NULL);
}

static int check_code(struct tn_req *r, json_t *v, char **err)
{
	if (!tn_code_ok(json_string_value(v), 32))
		return cc_fail(err, "must be one of the tenant's disposition codes");
	return CC_OK;
}

static int check_note(struct tn_req *r, json_t *v, char **err)
{
	if (tn_utf8_len(json_string_value(v)) > TN_NOTE_MAX)
		return cc_fail(err, "must be at most %d characters", TN_NOTE_MAX);
	return CC_OK;
}

/* a day to call the customer back: a date of the calendar, from
 * yesterday (the agent's day may be behind UTC) to two years on */
static int check_follow_up(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);
	time_t now = time(NULL), lo = now - 86400 * 2, hi = now + 86400 * 731;
	char lo_s[11], hi_s[11];

	(void)r;
	strftime(lo_s, sizeof(lo_s), "%Y-%m-%d", gmtime(&lo));
	strftime(hi_s, sizeof(hi_s), "%Y-%m-%d", gmtime(&hi));
	if (!cc_date_ok(s))
		return cc_fail(err, "must be a date, YYYY-MM-DD");
	if (strcmp(s, lo_s) <= 0 || strcmp(s, hi_s) > 0)
		return cc_fail(err, "must be from yesterday to two years from today");
	return CC_OK;
}

static const struct tn_field disposition_fields[] = {
	{ "code", JSON_STRING, true, check_code, NULL, false },
	{ "note", JSON_STRING, false, check_note, NULL, false },
	{ "follow_up", JSON_STRING, false, check_follow_up, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static void disposition(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->params[1] }, *code = tn_str(r, "code");
	const char *note = tn_str(r, "note"), *follow_up = tn_str(r, "follow_up");
	char agent[16], subject[96];
	PGresult *res;
	json_t *ev;
	int rc;

	res = cc_pg_exec(&r->d->pg, "SELECT agent, answered_at IS NOT NULL FROM cc.calls "
	                 "WHERE tenant_id = $1 AND id = $2", 2, p);
	if (!res)
		return tn_db_error(r, "call");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return tn_error(r, 404, "not_found", NULL, "no such call");
	}
	if (PQgetisnull(res, 0, 0) || PQgetvalue(res, 0, 1)[0] != 't') {
		PQclear(res);
		return tn_error(r, 422, "invalid_argument", NULL,
		                "the call was not answered by an agent: nothing to record");
	}
	snprintf(agent, sizeof(agent), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	/* an agent's key records its own calls' dispositions only */
	if (!r->is_operator && r->role == TN_R_AGENT && strcmp(agent, r->agent_ext) != 0)
		return tn_error(r, 404, "not_found", NULL, "no such call");
	if ((rc = tn_list_has(r, "cc.disposition_codes", code)) != 1) {
		if (rc == 0)
			tn_error(r, 422, "invalid_argument", "code",
			         "'%s' is not one of the tenant's disposition codes", code);
		return;
	}
	ev = cc_event_new(r->tenant.id, "disposition");
	CC_BUG_ON(!ev);
	json_object_set_new(ev, "call", json_string(r->params[1]));
	json_object_set_new(ev, "agent", json_string(agent));
	json_object_set_new(ev, "code", json_string(code));
	json_object_set_new(ev, "note", note ? json_string(note) : json_null());
	if (follow_up)
		json_object_set_new(ev, "follow_up", json_string(follow_up));
	snprintf(subject, sizeof(subject), "cc.call.%s.disposition", r->tenant.id);
	if (cc_events_publish(r->d->events, subject, ev) != CC_OK)
		return tn_error(r, 503, "unavailable", NULL,
		                "the disposition could not be recorded now; try again later");
	tn_reply(r, 202, json_pack("{s:s, s:s, s:s, s:o, s:o}", "call", r->params[1], "agent", agent,
	                           "code", code, "note", note ? json_string(note) : json_null(),
	                           "follow_up", follow_up ? json_string(follow_up) : json_null()));
}

/* before tn_agent_routes: agents/live is not an extension */
const struct tn_route tn_acd_agent_routes[] = {
	{ "GET", "/v1/tenants/{slug}/agents/live", TN_TENANT, NULL, agents_live, false, false },
	{ "GET", "/v1/tenants/{slug}/agents/{extension}/state", TN_TENANT, NULL, state, false, false },
	{ "PUT", "/v1/tenants/{slug}/agents/{extension}/state", TN_TENANT, state_fields, state, false,
	  false },
	{ "GET", "/v1/tenants/{slug}/queues/{name}/live", TN_TENANT, NULL, queue_live, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};

const struct tn_route tn_acd_call_routes[] = {
	{ "POST", "/v1/tenants/{slug}/calls/{id}/disposition", TN_TENANT, disposition_fields,
	  disposition, false, false },
	{ "POST", "/v1/tenants/{slug}/calls/{id}/hold", TN_TENANT, NULL, hold, false, false },
	{ "POST", "/v1/tenants/{slug}/calls/{id}/unhold", TN_TENANT, NULL, unhold, false, false },
	{ "POST", "/v1/tenants/{slug}/calls/{id}/transfer", TN_TENANT, transfer_fields, transfer,
	  false, false },
	{ "POST", "/v1/tenants/{slug}/calls/{id}/transfer/complete", TN_TENANT, NULL, complete,
	  false, false },
	{ "POST", "/v1/tenants/{slug}/calls/{id}/transfer/cancel", TN_TENANT, NULL, cancel,
	  false, false },
	{ "POST", "/v1/tenants/{slug}/calls/{id}/monitor", TN_TENANT, monitor_fields, monitor,
	  false, false },
	{ "PATCH", "/v1/tenants/{slug}/calls/{id}/monitor", TN_TENANT, monitor_fields,
	  monitor_mode, false, false },
	{ "DELETE", "/v1/tenants/{slug}/calls/{id}/monitor", TN_TENANT, NULL, monitor_end,
	  false, false },
	{ "POST", "/v1/tenants/{slug}/calls/{id}/recording", TN_TENANT, recording_fields,
	  recording, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
