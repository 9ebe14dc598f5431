/* cdr.c: see cdr.h. */
#include "cdr.h"
#include "cc.h"
#include "clock.h"
#include "e164.h"
#include "event_types.h"
#include "id.h"

#include <stdbool.h>
#include <string.h>

/* RFC 3339 UTC as cc_rfc3339 writes it: 2026-11-23T12:45:50.123456Z */
static bool is_time(const char *s)
{
	size_t n = strlen(s);

	return n >= 20 && n <= 32 && s[4] == '-' && s[7] == '-' && s[10] == 'T' &&
	       s[13] == ':' && s[16] == ':' && s[n - 1] == 'Z' &&
	       strspn(s, "0123456789-:.TZ") == n;
}

/* An integer field within [0, max] copied, else left out. */
static void copy_int(const json_t *ev, json_t *out, const char *key, json_int_t max)
{
	json_t *v = json_object_get(ev, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= max)
		json_object_set(out, key, v);
}

/* An object of at most max_keys keys, each a scalar or (depth 1) such an
 * object of scalars, its text at most max_len bytes: copied, else left out
 * (a call record is no place for a stranger's megabytes). */
static bool small_object(const json_t *o, size_t max_keys, int depth)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o) || json_object_size(o) > max_keys)
		return false;
	json_object_foreach((json_t *)o, k, v) {
		if (strlen(k) > 64)
			return false;
		if (json_is_object(v) ? depth <= 0 || !small_object(v, max_keys, depth - 1)
		                      : json_is_array(v) || (json_is_string(v) && json_string_length(v) > 256))
			return false;
	}
	return true;
}

static void copy_object(const json_t *ev, json_t *out, const char *key, int depth)
{
	json_t *v = json_object_get(ev, key);

	if (small_object(v, 32, depth))
		json_object_set(out, key, v);
}

/* mediad's fields: seq and ivr_ms (integers), vars (collected variables,
 * flat) and media (per leg RTCP figures, one level), parent (an id),
 * mediad (true: Kamailio sent the call to mediad). */
static void clean_media(const json_t *ev, json_t *out)
{
	const char *parent = json_string_value(json_object_get(ev, "parent"));

	copy_int(ev, out, "seq", 1000000);
	copy_int(ev, out, "ivr_ms", 2147483647);
	copy_object(ev, out, "vars", 0);
	copy_object(ev, out, "media", 1);
	if (parent && cc_uuid_valid(parent))
		json_object_set_new(out, "parent", json_string(parent));
	if (json_is_true(json_object_get(ev, "mediad")))
		json_object_set_new(out, "mediad", json_true());   /* a call Kamailio sent to mediad */
}

/* The ACD's fields (docs/ACD.md): the queue (its name), the waits and
 * hold times in ms, the position; an overflow's or a transfer's target;
 * a failed callback's number and attempts;
 * a disposition's code (a word, not a SIP status) and note. */
static void clean_acd(const json_t *ev, json_t *out, int type)
{
	const char *queue = json_string_value(json_object_get(ev, "queue"));

	if (queue && strlen(queue) < 64)
		json_object_set_new(out, "queue", json_string(queue));
	copy_int(ev, out, "wait_ms", 2147483647);
	copy_int(ev, out, "hold_ms", 2147483647);
	copy_int(ev, out, "position", 1000000);
	/* where the call went: an overflow's reason and target, a transfer's
	 * agent, kind and target (the history the reports read back) */
	if (type == CC_EV_OVERFLOWED || type == CC_EV_TRANSFERRED) {
		static const char *const words[] = { "why", "kind", "from_agent" };

		for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++) {
			const char *w = json_string_value(json_object_get(ev, words[i]));

			if (w && *w && strlen(w) <= 32)
				json_object_set_new(out, words[i], json_string(w));
		}
		copy_object(ev, out, "target", 0);
	}
	if (type == CC_EV_ABANDONED) {   /* a callback that never reached its customer */
		const char *cb = json_string_value(json_object_get(ev, "callback"));

		if (cb && cb[0] == '+' && strlen(cb) >= 2 && strlen(cb) <= CC_E164_MAX &&
		    strspn(cb + 1, "0123456789") == strlen(cb + 1))
			json_object_set_new(out, "callback", json_string(cb));
		copy_int(ev, out, "attempts", 1000);
	}
	if (type == CC_EV_DISPOSITION) {
		const char *code = json_string_value(json_object_get(ev, "code"));
		const char *note = json_string_value(json_object_get(ev, "note"));

		if (code && *code && strlen(code) <= 32)
			json_object_set_new(out, "disposition", json_string(code));
		if (note && strlen(note) <= 2000)
			json_object_set_new(out, "note", json_string(note));
		/* checked again here: a bad date on the bus would fail the batch's ::date */
		if (cc_date_ok(json_string_value(json_object_get(ev, "follow_up"))))
			json_object_set_new(out, "follow_up",
			                    json_string(json_string_value(json_object_get(ev, "follow_up"))));
	}
}

json_t *bl_cdr_clean(const json_t *ev, const char **why)
{
	static const char *const text_fields[] = {
		"type", "direction", "from", "to", "number", "agent", "sip_call_id", "result", "reason",
		/* mediad's (docs/MEDIA.md): the flow, its steps, the legs */
		"flow", "node", "node_type", "digit", "var", "value", "why", "leg",
	};
	const char *id = json_string_value(json_object_get(ev, "id"));
	const char *call = json_string_value(json_object_get(ev, "call"));
	const char *tenant = json_string_value(json_object_get(ev, "tenant"));
	const char *ts = json_string_value(json_object_get(ev, "ts"));
	json_t *out, *code = json_object_get(ev, "code");

	if (!id || !cc_uuid_valid(id) || !call || !cc_uuid_valid(call)) {
		*why = "no event or call id";
		return NULL;
	}
	if (!ts || !is_time(ts)) {
		*why = "no time";
		return NULL;
	}
	if (tenant && *tenant && !cc_uuid_valid(tenant)) {
		*why = "bad tenant";
		return NULL;
	}
	int type = cc_event_type_parse(json_string_value(json_object_get(ev, "type")));

	if (type < 0 || cc_event_infos[type].kind != CC_EVK_CALL) {
		*why = "not a call event type (lib/event_types.h)";
		return NULL;
	}
	out = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "call", call, "ts", ts,
	                "tenant", tenant ? tenant : "");
	for (size_t i = 0; i < CC_ARRAY_LEN(text_fields); i++) {
		json_t *v = json_object_get(ev, text_fields[i]);

		if (json_is_string(v) && json_string_length(v) <= 256)
			json_object_set(out, text_fields[i], v);
	}
	if (json_is_integer(code) && json_integer_value(code) > 0 && json_integer_value(code) < 1000)
		json_object_set(out, "code", code);
	clean_media(ev, out);
	clean_acd(ev, out, type);
	/* the agent an offer rang is not the call's agent: only the one who
	 * answered is (agent_answered, or the call's own routing) */
	if (type == CC_EV_OFFERED_AGENT)
		json_object_del(out, "agent");
	return out;
}

/* One statement: record the new events, fold them per call, upsert.
 * $2 the start types, $3 the final types (text arrays), $4 the answer's
 * type, all from lib/event_types.h. A
 * field keeps the value it has unless the new events know better:
 * started/answered take the earliest time, ended the latest, and the
 * result is 'answered' once the call was answered. */
static const char APPLY[] =
	"WITH ev AS ("
	"  SELECT e AS body, (e->>'id')::uuid AS id, (e->>'call')::uuid AS call_id,"
	"         NULLIF(e->>'tenant', '')::uuid AS tenant_id, e->>'type' AS type,"
	"         (e->>'ts')::timestamptz AS ts"
	"  FROM jsonb_array_elements($1::jsonb) AS e),"
	"fresh AS ("
	"  INSERT INTO cc.call_events (id, call_id, tenant_id, type, ts, body)"
	"  SELECT id, call_id, tenant_id, type, ts, body FROM ev"
	"  ON CONFLICT (id) DO NOTHING RETURNING id),"
	"f AS (SELECT DISTINCT ON (ev.id) ev.* FROM ev JOIN fresh USING (id)),"
	"agg AS ("
	"  SELECT call_id,"
	"    max(tenant_id::text)::uuid AS tenant_id,"
	"    (array_agg(body->>'direction' ORDER BY ts DESC) FILTER (WHERE body ? 'direction'))[1] AS direction,"
	"    min(body->>'from') FILTER (WHERE type = ANY($2::text[])) AS from_number,"
	"    min(body->>'to') FILTER (WHERE type = ANY($2::text[])) AS to_number,"
	"    min(body->>'number') AS number,"
	"    (array_agg(body->>'agent' ORDER BY ts DESC) FILTER (WHERE body->>'agent' <> ''))[1] AS agent,"
	"    min(body->>'sip_call_id') AS sip_call_id,"
	"    min(ts) FILTER (WHERE type = ANY($2::text[])) AS started_at,"
	"    min(ts) FILTER (WHERE type = $4) AS answered_at,"
	"    max(ts) FILTER (WHERE type = ANY($3::text[])) AS ended_at,"
	"    (array_agg(body->>'result' ORDER BY ts DESC) FILTER (WHERE type = ANY($3::text[])))[1] AS result,"
	"    (array_agg((body->>'code')::int ORDER BY ts DESC) FILTER (WHERE type = ANY($3::text[]) AND body ? 'code'))[1] AS sip_code,"
	"    (array_agg(body->>'reason' ORDER BY ts DESC) FILTER (WHERE type = ANY($3::text[]) AND body ? 'reason'))[1] AS reason"
	"  FROM f GROUP BY call_id)"
	"INSERT INTO cc.calls AS c (id, tenant_id, direction, from_number, to_number, number, agent,"
	"  sip_call_id, started_at, answered_at, ended_at, result, sip_code, reason, talk_seconds)"
	"SELECT call_id, tenant_id, direction, from_number, to_number, number, agent, sip_call_id,"
	"  started_at, answered_at, ended_at,"
	"  CASE WHEN answered_at IS NOT NULL THEN 'answered' ELSE result END, sip_code, reason,"
	"  CASE WHEN answered_at IS NOT NULL AND ended_at IS NOT NULL"
	"    THEN round(extract(epoch FROM ended_at - answered_at))::int END "
	"FROM agg "
	"ON CONFLICT (id) DO UPDATE SET"
	"  tenant_id = COALESCE(c.tenant_id, EXCLUDED.tenant_id),"
	"  direction = COALESCE(EXCLUDED.direction, c.direction),"
	"  from_number = COALESCE(c.from_number, EXCLUDED.from_number),"
	"  to_number = COALESCE(c.to_number, EXCLUDED.to_number),"
	"  number = COALESCE(c.number, EXCLUDED.number),"
	"  agent = COALESCE(EXCLUDED.agent, c.agent),"
	"  sip_call_id = COALESCE(c.sip_call_id, EXCLUDED.sip_call_id),"
	"  started_at = LEAST(c.started_at, EXCLUDED.started_at),"
	"  answered_at = LEAST(c.answered_at, EXCLUDED.answered_at),"
	"  ended_at = GREATEST(c.ended_at, EXCLUDED.ended_at),"
	"  result = CASE WHEN COALESCE(c.answered_at, EXCLUDED.answered_at) IS NOT NULL"
	"    THEN 'answered' ELSE COALESCE(EXCLUDED.result, c.result) END,"
	"  sip_code = COALESCE(EXCLUDED.sip_code, c.sip_code),"
	"  reason = COALESCE(EXCLUDED.reason, c.reason),"
	"  talk_seconds = CASE WHEN LEAST(c.answered_at, EXCLUDED.answered_at) IS NOT NULL"
	"    AND GREATEST(c.ended_at, EXCLUDED.ended_at) IS NOT NULL THEN"
	"    round(extract(epoch FROM GREATEST(c.ended_at, EXCLUDED.ended_at)"
	"      - LEAST(c.answered_at, EXCLUDED.answered_at)))::int END,"
	"  updated_at = now()";

/* What mediad's events add to the records (docs/MEDIA.md), for every call
 * of the batch, from all of the call's recorded events (this transaction's
 * included): the IVR path in seq order, the collected variables (the
 * collect steps', then media_ended's vars over them), the time in IVR, the
 * RTCP figures, the flow (media_ended's, else the routed one's), the
 * parent of a leg, and the result of a call that ended in the IVR: mediad's
 * ivr_abandoned or ivr_ended instead of 'answered' (mediad answered it),
 * unless it was bridged. Computed again from the whole set each time, so
 * the order and the repetition of the events never matter. $1 the batch,
 * $2 the types that carry these fields. */
static const char APPLY_MEDIA[] =
	"WITH calls AS ("
	"  SELECT DISTINCT (e->>'call')::uuid AS id FROM jsonb_array_elements($1::jsonb) AS e),"
	"ev AS ("
	"  SELECT ce.call_id, ce.type, ce.ts, ce.body FROM cc.call_events ce JOIN calls ON calls.id = ce.call_id"
	/* only the call's own tenant's events: one naming another tenant (its
	 * subject and body agree, but the call is not its) changes nothing */
	"  JOIN cc.calls owner ON owner.id = ce.call_id AND owner.tenant_id = ce.tenant_id"
	"  WHERE ce.type = ANY($2::text[])),"
	"agg AS ("
	"  SELECT call_id,"
	"    jsonb_agg(jsonb_strip_nulls(jsonb_build_object('node', body->'node', 'digit', body->'digit',"
	"      'var', body->'var', 'value', body->'value', 'why', body->'why'))"
	"      ORDER BY (body->>'seq')::int, ts) FILTER (WHERE type = 'ivr' AND body ? 'node') AS ivr,"
	"    jsonb_object_agg(body->>'var', body->'value' ORDER BY (body->>'seq')::int)"
	"      FILTER (WHERE type = 'ivr' AND body ? 'var' AND body ? 'value') AS vars_ivr,"
	"    (array_agg(body->'vars' ORDER BY ts DESC) FILTER (WHERE type = 'media_ended' AND body ? 'vars'))[1] AS vars_end,"
	"    (array_agg((body->>'ivr_ms')::int ORDER BY ts DESC) FILTER (WHERE type = 'media_ended' AND body ? 'ivr_ms'))[1] AS ivr_ms,"
	"    (array_agg(body->'media' ORDER BY ts DESC) FILTER (WHERE type = 'media_ended' AND body ? 'media'))[1] AS media,"
	"    (array_agg(body->>'result' ORDER BY ts DESC) FILTER (WHERE type = 'media_ended' AND body ? 'result'))[1] AS media_result,"
	"    (array_agg(body->>'flow' ORDER BY (type = 'media_ended') DESC, ts DESC) FILTER (WHERE body ? 'flow'))[1] AS flow,"
	"    bool_or(type = 'bridged') AS bridged,"
	"    min(body->>'parent') FILTER (WHERE body ? 'parent') AS parent"
	"  FROM ev GROUP BY call_id)"
	"UPDATE cc.calls c SET"
	"  ivr = COALESCE(agg.ivr, c.ivr),"
	"  ivr_vars = CASE WHEN agg.vars_ivr IS NULL AND agg.vars_end IS NULL THEN c.ivr_vars"
	"    ELSE COALESCE(agg.vars_ivr, '{}') || COALESCE(agg.vars_end, '{}') END,"
	"  ivr_ms = COALESCE(agg.ivr_ms, c.ivr_ms),"
	"  media = COALESCE(agg.media, c.media),"
	"  flow = COALESCE(agg.flow, c.flow),"
	"  parent_call = COALESCE(c.parent_call, agg.parent::uuid),"
	"  result = CASE WHEN agg.media_result IN ('ivr_abandoned', 'ivr_ended') AND NOT agg.bridged"
	"    THEN agg.media_result ELSE c.result END,"
	"  updated_at = now()"
	" FROM agg WHERE c.id = agg.call_id";

/* What the ACD's events add to the records (docs/ACD.md), for every call of
 * the batch, from all of the call's recorded ACD events of its own tenant:
 * the queue (the last one it was queued in), the wait (the answer's, else
 * the abandon's or the overflow's), the queue's result (answered once an
 * agent took it; a caller refused by a full queue and never queued is
 * 'blocked'), hold time and holds, transfers, the last disposition (it may
 * come after the call's end: applied all the same), and as the record's
 * agent the one who answered. $1 the batch, $2 the ACD's types. */
static const char APPLY_ACD[] =
	"WITH calls AS ("
	"  SELECT DISTINCT (e->>'call')::uuid AS id FROM jsonb_array_elements($1::jsonb) AS e),"
	"ev AS ("
	"  SELECT ce.call_id, ce.type, ce.ts, ce.body FROM cc.call_events ce JOIN calls ON calls.id = ce.call_id"
	"  JOIN cc.calls owner ON owner.id = ce.call_id AND owner.tenant_id = ce.tenant_id"
	"  WHERE ce.type = ANY($2::text[])),"
	"agg AS ("
	"  SELECT call_id,"
	"    (array_agg(body->>'queue' ORDER BY ts DESC) FILTER (WHERE type = 'queued' AND body ? 'queue'))[1] AS queued_in,"
	"    (array_agg(body->>'queue' ORDER BY ts DESC) FILTER (WHERE body ? 'queue'))[1] AS any_queue,"
	"    (array_agg(body->>'agent' ORDER BY ts) FILTER (WHERE type = 'agent_answered' AND body->>'agent' <> ''))[1] AS answered_by,"
	"    (array_agg((body->>'wait_ms')::int ORDER BY ts) FILTER (WHERE type = 'agent_answered' AND body ? 'wait_ms'))[1] AS wait_answered,"
	"    (array_agg((body->>'wait_ms')::int ORDER BY ts DESC) FILTER (WHERE type IN ('abandoned', 'overflowed') AND body ? 'wait_ms'))[1] AS wait_other,"
	"    bool_or(type = 'agent_answered') AS answered,"
	"    bool_or(type = 'abandoned') AS abandoned,"
	"    bool_or(type = 'overflowed') AS overflowed,"
	"    bool_or(type = 'queued') AS queued,"
	"    COALESCE(sum((body->>'hold_ms')::int) FILTER (WHERE type = 'unheld' AND body ? 'hold_ms'), 0) AS hold_ms,"
	"    count(*) FILTER (WHERE type = 'held') AS holds,"
	"    count(*) FILTER (WHERE type = 'transferred') AS transfers,"
	"    (array_agg(body->>'disposition' ORDER BY ts DESC) FILTER (WHERE type = 'disposition' AND body ? 'disposition'))[1] AS disposition,"
	"    (array_agg(body->>'note' ORDER BY ts DESC) FILTER (WHERE type = 'disposition' AND body ? 'disposition'))[1] AS note,"
	"    (array_agg(body->>'follow_up' ORDER BY ts DESC) FILTER (WHERE type = 'disposition' AND body ? 'disposition'))[1] AS follow_up"
	"  FROM ev GROUP BY call_id)"
	"UPDATE cc.calls c SET"
	"  queue = COALESCE(agg.queued_in, agg.any_queue, c.queue),"
	"  queue_wait_ms = COALESCE(agg.wait_answered, agg.wait_other, c.queue_wait_ms),"
	"  queue_result = CASE WHEN agg.answered THEN 'answered'"
	"    WHEN agg.abandoned THEN 'abandoned'"
	"    WHEN agg.overflowed AND NOT agg.queued THEN 'blocked'"
	"    WHEN agg.overflowed THEN 'overflowed' ELSE c.queue_result END,"
	"  hold_ms = agg.hold_ms,"
	"  holds = agg.holds,"
	"  transfers = agg.transfers,"
	"  disposition = COALESCE(agg.disposition, c.disposition),"
	"  disposition_note = CASE WHEN agg.disposition IS NOT NULL THEN agg.note ELSE c.disposition_note END,"
	"  follow_up = CASE WHEN agg.disposition IS NOT NULL THEN agg.follow_up::date ELSE c.follow_up END,"
	"  agent = COALESCE(agg.answered_by, c.agent),"
	"  updated_at = now()"
	" FROM agg WHERE c.id = agg.call_id";

/* The names of the call types with flag as a PostgreSQL array literal
 * ({offered}); names are plain words, nothing to quote. */
static const char *types_with(unsigned flag, char *buf, size_t n)
{
	size_t len = 0;

	buf[len++] = '{';
	for (int t = 0; t < CC_EV__COUNT; t++) {
		if (!(cc_event_infos[t].flags & flag) || cc_event_infos[t].kind != CC_EVK_CALL)
			continue;
		int w = snprintf(buf + len, n - len, "%s%s", len > 1 ? "," : "", cc_event_name(t));

		CC_BUG_ON(w < 0 || (size_t)w >= n - len);
		len += (size_t)w;
	}
	CC_BUG_ON(len + 2 > n);
	buf[len++] = '}';
	buf[len] = '\0';
	return buf;
}

int bl_cdr_apply(struct cc_pg *pg, const json_t *events)
{
	char *doc, start[256], final[256];
	const char *p[4];
	int rc;

	if (!json_array_size(events))
		return CC_OK;
	doc = json_dumps(events, JSON_COMPACT);
	if (!doc)
		return CC_ERROR;
	p[0] = doc;
	p[1] = types_with(CC_EVF_START, start, sizeof(start));
	p[2] = types_with(CC_EVF_FINAL, final, sizeof(final));
	p[3] = cc_event_name(CC_EV_ANSWERED);
	rc = cc_pg_cmd(pg, APPLY, 4, p);
	if (rc == CC_OK) {
		/* the types that carry mediad's fields (the routed one's flow, the
		 * offered one's parent among them) */
		char media[160];

		snprintf(media, sizeof(media), "{%s,%s,%s,%s,%s,%s,%s}", cc_event_name(CC_EV_OFFERED),
		         cc_event_name(CC_EV_ROUTED), cc_event_name(CC_EV_ENDED), cc_event_name(CC_EV_IVR),
		         cc_event_name(CC_EV_BRIDGED), cc_event_name(CC_EV_AGENT_FAILED),
		         cc_event_name(CC_EV_MEDIA_ENDED));
		p[1] = media;
		rc = cc_pg_cmd(pg, APPLY_MEDIA, 2, p);
	}
	if (rc == CC_OK) {
		char acd[256];

		snprintf(acd, sizeof(acd), "{%s,%s,%s,%s,%s,%s,%s,%s,%s}", cc_event_name(CC_EV_QUEUED),
		         cc_event_name(CC_EV_AGENT_ANSWERED), cc_event_name(CC_EV_ABANDONED),
		         cc_event_name(CC_EV_OVERFLOWED), cc_event_name(CC_EV_HELD),
		         cc_event_name(CC_EV_UNHELD), cc_event_name(CC_EV_TRANSFERRED),
		         cc_event_name(CC_EV_DISPOSITION), cc_event_name(CC_EV_CALLBACK_REQUESTED));
		p[1] = acd;
		rc = cc_pg_cmd(pg, APPLY_ACD, 2, p);
	}
	free(doc);
	return rc;
}
