/* cdr.c: see cdr.h. */
#include "cdr.h"
#include "cc.h"
#include "log.h"

#include <stdbool.h>
#include <string.h>

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : NULL;
}

int bl_cdr_apply(struct cc_pg *pg, const json_t *ev)
{
	const char *id = str(ev, "id"), *call = str(ev, "call"), *type = str(ev, "type");
	const char *ts = str(ev, "ts"), *tenant = str(ev, "tenant");
	char code[16] = "", *body;
	const char *p[14];
	PGresult *res;
	int fresh;

	if (!id || !call || !type || !ts)
		return CC_DECLINED;
	if (json_is_integer(json_object_get(ev, "code")))
		snprintf(code, sizeof(code), "%d", (int)json_integer_value(json_object_get(ev, "code")));

	body = json_dumps(ev, JSON_COMPACT);
	p[0] = id; p[1] = call; p[2] = tenant; p[3] = type; p[4] = ts; p[5] = body;
	res = cc_pg_exec(pg, "INSERT INTO cc.call_events (id, call_id, tenant_id, type, ts, body) "
	                 "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING id", 6, p);
	free(body);
	if (!res)
		return CC_ERROR;
	fresh = PQntuples(res);
	PQclear(res);
	if (!fresh)
		return CC_OK;

	bool offered = !strcmp(type, "offered"), final = !strcmp(type, "ended") || !strcmp(type, "rejected");
	p[0] = call;
	p[1] = tenant;
	p[2] = str(ev, "direction");
	p[3] = offered ? str(ev, "from") : NULL;
	p[4] = offered ? str(ev, "to") : NULL;
	p[5] = str(ev, "number");
	p[6] = str(ev, "agent");
	p[7] = str(ev, "sip_call_id");
	p[8] = offered ? ts : NULL;
	p[9] = !strcmp(type, "answered") ? ts : NULL;
	p[10] = final ? ts : NULL;
	p[11] = final ? str(ev, "result") : NULL;
	p[12] = final && code[0] ? code : NULL;
	p[13] = final ? str(ev, "reason") : NULL;
	return cc_pg_cmd(pg,
		"INSERT INTO cc.calls AS c (id, tenant_id, direction, from_number, to_number, number, agent, "
		"  sip_call_id, started_at, answered_at, ended_at, result, sip_code, reason, talk_seconds) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL) "
		"ON CONFLICT (id) DO UPDATE SET "
		"  tenant_id = COALESCE(c.tenant_id, EXCLUDED.tenant_id), "
		"  direction = COALESCE(EXCLUDED.direction, c.direction), "
		"  from_number = COALESCE(c.from_number, EXCLUDED.from_number), "
		"  to_number = COALESCE(c.to_number, EXCLUDED.to_number), "
		"  number = COALESCE(c.number, EXCLUDED.number), "
		"  agent = COALESCE(EXCLUDED.agent, c.agent), "
		"  sip_call_id = COALESCE(c.sip_call_id, EXCLUDED.sip_call_id), "
		"  started_at = LEAST(c.started_at, EXCLUDED.started_at), "
		"  answered_at = LEAST(c.answered_at, EXCLUDED.answered_at), "
		"  ended_at = GREATEST(c.ended_at, EXCLUDED.ended_at), "
		"  result = CASE WHEN COALESCE(c.answered_at, EXCLUDED.answered_at) IS NOT NULL "
		"    THEN 'answered' ELSE COALESCE(EXCLUDED.result, c.result) END, "
		"  sip_code = COALESCE(EXCLUDED.sip_code, c.sip_code), "
		"  reason = COALESCE(EXCLUDED.reason, c.reason), "
		"  talk_seconds = CASE WHEN LEAST(c.answered_at, EXCLUDED.answered_at) IS NOT NULL "
		"    AND GREATEST(c.ended_at, EXCLUDED.ended_at) IS NOT NULL THEN "
		"    round(extract(epoch FROM GREATEST(c.ended_at, EXCLUDED.ended_at) "
		"      - LEAST(c.answered_at, EXCLUDED.answered_at)))::int END, "
		"  updated_at = now()",
		14, p);
}
