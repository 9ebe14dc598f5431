/*
 * roles.c: which API key role may use which route (docs/RECORDING.md
 * "Roles"), and the audit log (cc.audit).
 *
 * One table, by method and route pattern; a route not in it answers to
 * admin keys (and to read_only keys when it is a GET). The operator may
 * do everything. A role that may not use a route gets 403; a supervisor's
 * or an agent's key naming an object outside its reach (another queue,
 * another agent) gets 404, as if the object did not exist.
 */
#include "api.h"
#include "cc.h"
#include "log.h"
#include "tenantd.h"

#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#define A TN_R_ADMIN
#define S TN_R_SUP
#define G TN_R_AGENT
#define RA TN_R_RECADM
#define RO TN_R_RO

/* the object named by params[1] a supervisor's or agent's key must reach */
enum reach { ANY, OWN_AGENT, SUP_QUEUE };

static const struct rule {
	const char *method, *pattern;
	unsigned roles;
	enum reach reach;
} rules[] = {
	{ "GET", "/v1/tenants/{slug}", TN_R_ALL, ANY },
	/* agents: a supervisor sees those of its queues, an agent itself */
	{ "GET", "/v1/tenants/{slug}/agents", A | RO | S, ANY },
	{ "GET", "/v1/tenants/{slug}/agents/live", A | RO | S, ANY },
	{ "GET", "/v1/tenants/{slug}/agents/{extension}", A | RO | S | G, OWN_AGENT },
	{ "GET", "/v1/tenants/{slug}/agents/{extension}/state", A | RO | S | G, OWN_AGENT },
	{ "PUT", "/v1/tenants/{slug}/agents/{extension}/state", A | G, OWN_AGENT },
	/* queues: a supervisor's own */
	{ "GET", "/v1/tenants/{slug}/queues", A | RO | S, ANY },
	{ "GET", "/v1/tenants/{slug}/queues/{name}", A | RO | S, SUP_QUEUE },
	{ "GET", "/v1/tenants/{slug}/queues/{name}/live", A | RO | S, SUP_QUEUE },
	/* calls: the records, and what an agent does to its own calls */
	{ "GET", "/v1/tenants/{slug}/calls", A | RO | S | RA, ANY },
	{ "GET", "/v1/tenants/{slug}/calls/{id}", A | RO | S | RA, ANY },
	{ "POST", "/v1/tenants/{slug}/calls/{id}/disposition", A | G, ANY },
	{ "POST", "/v1/tenants/{slug}/calls/{id}/hold", A | G, ANY },
	{ "POST", "/v1/tenants/{slug}/calls/{id}/unhold", A | G, ANY },
	{ "POST", "/v1/tenants/{slug}/calls/{id}/transfer", A | G, ANY },
	{ "POST", "/v1/tenants/{slug}/calls/{id}/transfer/complete", A | G, ANY },
	{ "POST", "/v1/tenants/{slug}/calls/{id}/transfer/cancel", A | G, ANY },
	/* recording control: mediad checks a supervisor's queues, an agent's own call */
	{ "POST", "/v1/tenants/{slug}/calls/{id}/recording", A | S | G, ANY },
	/* what an agent's desktop shows: the reasons and codes it picks from */
	{ "GET", "/v1/tenants/{slug}/pause_reasons", A | RO | S | G, ANY },
	{ "GET", "/v1/tenants/{slug}/disposition_codes", A | RO | S | G, ANY },
	/* the desk's session: its own agent, or the wallboard's supervisor
	 * (POST, the sign-in, takes no key; an API key has no session: 404) */
	{ "GET", "/v1/tenants/{slug}/desk/session", G | S, ANY },
	{ "DELETE", "/v1/tenants/{slug}/desk/session", G | S, ANY },
	/* keys: admin only (GET too: the list says who can do what) */
	{ "GET", "/v1/tenants/{slug}/keys", A, ANY },
	{ "POST", "/v1/tenants/{slug}/keys", A, ANY },
	{ "DELETE", "/v1/tenants/{slug}/keys/{id}", A, ANY },
	{ "POST", "/v1/tenants/{slug}/keys/rotate", A, ANY },
	{ "GET", "/v1/tenants/{slug}/audit", A | RA, ANY },
	{ "GET", "/v1/tenants/{slug}/recording", A | RO | RA, ANY },
	{ "PUT", "/v1/tenants/{slug}/recording", A, ANY },
	{ "GET", "/v1/tenants/{slug}/retention", A | RO | RA, ANY },
	{ "PUT", "/v1/tenants/{slug}/retention", A | RA, ANY },
	/* recordings: a supervisor's of its queues (the handlers filter) */
	{ "GET", "/v1/tenants/{slug}/recordings", A | RO | S | RA, ANY },
	{ "GET", "/v1/tenants/{slug}/recordings/{id}", A | RO | S | RA, ANY },
	{ "GET", "/v1/tenants/{slug}/recordings/{id}/audio", A | S | RA, ANY },
	{ "PATCH", "/v1/tenants/{slug}/recordings/{id}", RA, ANY },
	{ "DELETE", "/v1/tenants/{slug}/recordings/{id}", RA, ANY },
	{ "POST", "/v1/tenants/{slug}/recordings/hold", RA, ANY },
	{ "POST", "/v1/tenants/{slug}/recordings/purge", RA, ANY },
	/* quality */
	{ "GET", "/v1/tenants/{slug}/score-forms", A | RO | S | RA, ANY },
	{ "GET", "/v1/tenants/{slug}/score-forms/{name}", A | RO | S | RA, ANY },
	{ "POST", "/v1/tenants/{slug}/score-forms", A, ANY },
	{ "GET", "/v1/tenants/{slug}/recordings/{id}/evaluations", A | RO | S | RA, ANY },
	{ "POST", "/v1/tenants/{slug}/recordings/{id}/evaluations", A | S | RA, ANY },
	{ "GET", "/v1/tenants/{slug}/metrics/monitoring-score", A | RO | S | RA, ANY },
	/* the CRM (docs/CRM.md): admins write; supervisors and agents read
	 * (the agent desktop's screen pop); records admins have no business there */
	{ "GET", "/v1/tenants/{slug}/customers", A | RO | S | G, ANY },
	{ "GET", "/v1/tenants/{slug}/customers/{id}", A | RO | S | G, ANY },
	/* not agents: paging every customer's calls would rebuild the call log */
	{ "GET", "/v1/tenants/{slug}/customers/{id}/calls", A | RO | S, ANY },
	{ "GET", "/v1/tenants/{slug}/customer-fields", A | RO | S | G, ANY },
	{ "GET", "/v1/tenants/{slug}/lookup", A | RO | S | G, ANY },
};

static const char *const role_names[] = { "admin", "supervisor", "agent", "records_admin",
                                          "read_only" };

unsigned tn_role_bit(const char *name)
{
	for (unsigned i = 0; i < CC_ARRAY_LEN(role_names); i++)
		if (strcmp(name, role_names[i]) == 0)
			return 1u << i;
	return 0;
}

const char *tn_role_name(unsigned bit)
{
	for (unsigned i = 0; i < CC_ARRAY_LEN(role_names); i++)
		if (bit == 1u << i)
			return role_names[i];
	return NULL;
}

bool tn_is_supervisor(const struct tn_req *r)
{
	return !r->is_operator && r->role == TN_R_SUP;
}

/* Routes of call supervision (h-sup's monitor, barge, whisper, a call's
 * recording control): supervisor and admin keys, found by their path so
 * that the table needs no line per route. */
static bool supervision(const char *pattern)
{
	return strstr(pattern, "/monitor") || strstr(pattern, "/whisper") ||
	       strstr(pattern, "/barge") || strstr(pattern, "/calls/{id}/recording");
}

/* 1 if the supervisor's agent may see the queue name / the agent ext, 0
 * if not, CC_ERROR after answering a database error. */
static int reaches(struct tn_req *r, enum reach reach, const char *name)
{
	const char *p[3] = { r->tenant.id, name, r->supervises ? r->supervises : "{}" };
	PGresult *res;
	int n;

	if (reach == SUP_QUEUE)
		res = cc_pg_exec(&r->d->pg, "SELECT 1 WHERE $2 = ANY ($3::text[]) AND $1 <> ''", 3, p);
	else
		res = cc_pg_exec(&r->d->pg, "SELECT 1 FROM cc.agents a JOIN cc.queue_members m "
		                 "ON m.agent_id = a.id AND m.tenant_id = a.tenant_id "
		                 "JOIN cc.queues q ON q.id = m.queue_id AND q.tenant_id = m.tenant_id "
		                 "WHERE a.tenant_id = $1 AND a.extension = $2 AND q.name = ANY ($3::text[]) "
		                 "LIMIT 1", 3, p);
	if (!res) {
		tn_db_error(r, "role");
		return CC_ERROR;
	}
	n = PQntuples(res);
	PQclear(res);
	return n ? 1 : 0;
}

int tn_authorize(struct tn_req *r)
{
	const struct tn_route *rt = r->route;
	unsigned roles = strcmp(rt->method, "GET") == 0 ? A | RO : A;
	enum reach reach = ANY;
	int rc;

	if (r->is_operator)
		return CC_OK;
	if (supervision(rt->pattern))
		roles = A | S;
	for (size_t i = 0; i < CC_ARRAY_LEN(rules); i++)
		if (strcmp(rules[i].method, rt->method) == 0 && strcmp(rules[i].pattern, rt->pattern) == 0) {
			roles = rules[i].roles;
			reach = rules[i].reach;
			break;
		}
	if (!(roles & r->role)) {
		tn_error(r, 403, "forbidden", NULL, "a %s key may not do this", tn_role_name(r->role));
		return CC_ERROR;
	}
	if (reach == ANY || !(r->role & (S | G)))
		return CC_OK;
	/* an agent reaches itself only; a supervisor itself and its queues' */
	if (reach == OWN_AGENT && strcmp(r->params[1], r->agent_ext) == 0)
		return CC_OK;
	if (r->role == G || (rc = reaches(r, reach, r->params[1])) == 0) {
		tn_error(r, 404, "not_found", NULL, "no such %s", reach == SUP_QUEUE ? "queue" : "agent");
		return CC_ERROR;
	}
	return rc == 1 ? CC_OK : CC_ERROR;
}

/* ------------------------------------------------------------ the audit */

void tn_actor(const struct tn_req *r, char *buf, size_t n)
{
	if (r->is_operator)
		snprintf(buf, n, "operator");
	else if (r->desk)
		snprintf(buf, n, "desk:%s", r->key_id);
	else
		snprintf(buf, n, "key:%s", r->key_id);
}

int tn_audit_system(struct cc_pg *pg, const char *tenant_id, const char *actor, const char *action,
                    const char *object_type, const char *object_id, json_t *detail)
{
	char *text = json_dumps(detail ? detail : (detail = json_object()), JSON_COMPACT);
	const char *p[6] = { tenant_id, actor, action, object_type, object_id, text };
	int rc;

	rc = cc_pg_cmd(pg, "INSERT INTO cc.audit (tenant_id, actor, action, object_type, object_id, "
	               "detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)", 6, p);
	if (rc != CC_OK)
		CC_ERR("audit: %s %s %s not written: %s", action, object_type, object_id, pg->message);
	free(text);
	json_decref(detail);
	return rc;
}

int tn_audit(struct tn_req *r, const char *action, const char *object_type, const char *object_id,
             json_t *detail)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn,
	                                                             MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char actor[48], host[NI_MAXHOST] = "";
	char *text = json_dumps(detail ? detail : (detail = json_object()), JSON_COMPACT);
	const char *role = r->is_operator ? "operator" : tn_role_name(r->role);
	const char *p[8] = { r->tenant.id, actor, role, action, object_type, object_id,
	                     host[0] ? host : NULL, text };
	int rc;

	if (ci && ci->client_addr) {
		socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                : sizeof(struct sockaddr_in);

		if (getnameinfo(ci->client_addr, len, host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
			host[0] = '\0';
	}
	p[6] = host[0] ? host : NULL;
	tn_actor(r, actor, sizeof(actor));
	rc = cc_pg_cmd(&r->d->pg, "INSERT INTO cc.audit (tenant_id, actor, role, action, object_type, "
	               "object_id, remote, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)", 8, p);
	if (rc != CC_OK)
		CC_ERR("audit: %s %s %s not written: %s", action, object_type, object_id,
		       r->d->pg.message);
	free(text);
	json_decref(detail);
	return rc;
}
