/*
 * calls.c: /v1/tenants/{slug}/calls, the tenant's call records (built by
 * billingd from call events), newest first. `from` and `to` bound the
 * start time (RFC 3339); `after` is the id of the last call of the
 * previous page (an id that is not one of the tenant's calls is 400).
 */
#include "api.h"
#include "cc.h"
#include "money.h"
#include "tenantd.h"

#include <stdio.h>
#include <string.h>

#define TS TN_TS

/* the order of the list: newest first, calls with no start (an end event
 * came before the offer) last; as a key, so the cursor compares the same way */
#define SORT_KEY "COALESCE(started_at, '-infinity'::timestamptz)"

static const char COLS[] = "id, direction, from_number, to_number, number, agent, "
	TS("started_at") ", " TS("answered_at") ", " TS("ended_at") ", talk_seconds, result, "
	"sip_code, reason, "
	/* the latest rated line: "cost_micro currency minor_unit flags" */
	"(SELECT r.cost_micro || ' ' || r.currency || ' ' || cur.minor_unit || ' ' || r.flags "
	" FROM cc.rated_lines r JOIN cc.currencies cur ON cur.code = r.currency "
	" WHERE r.call_id = c.id ORDER BY r.revision DESC LIMIT 1), "
	/* what mediad adds (docs/MEDIA.md), columns 14-19 */
	"parent_call, flow, ivr::text, ivr_vars::text, ivr_ms, media::text, "
	/* the ACD's and the agent's, columns 20-23 */
	"queue, disposition, disposition_note, to_char(follow_up, 'YYYY-MM-DD')";

/* cost, currency and billing flags of a rated call; nothing if unrated */
static void add_cost(json_t *o, const PGresult *res, int i)
{
	char currency[8] = "", flags[64] = "", out[CC_MONEY_LEN];
	long long micro;
	int minor;

	if (PQgetisnull(res, i, 13) ||
	    sscanf(PQgetvalue(res, i, 13), "%lld %7s %d %63s", &micro, currency, &minor, flags) < 3)
		return;
	cc_money_format(micro, minor, out);
	json_object_set_new(o, "cost", json_string(out));
	json_object_set_new(o, "currency", json_string(currency));
	if (flags[0])
		json_object_set_new(o, "billing_flags", json_string(flags));
}

/* a jsonb column as JSON (billingd wrote it), null when NULL */
static json_t *doc(const PGresult *res, int i, int col)
{
	json_t *v = PQgetisnull(res, i, col) ? NULL : json_loads(PQgetvalue(res, i, col), JSON_DECODE_ANY, NULL);

	return v ? v : json_null();
}

static json_t *row(const PGresult *res, int i)
{
	json_t *o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	                 "id", PQgetvalue(res, i, 0), "direction", tn_col_text(res, i, 1),
	                 "from", tn_col_text(res, i, 2), "to", tn_col_text(res, i, 3), "number", tn_col_text(res, i, 4),
	                 "agent", tn_col_text(res, i, 5), "started_at", tn_col_text(res, i, 6),
	                 "answered_at", tn_col_text(res, i, 7), "ended_at", tn_col_text(res, i, 8),
	                 "talk_seconds", tn_col_int(res, i, 9), "result", tn_col_text(res, i, 10),
	                 "sip_code", tn_col_int(res, i, 11), "reason", tn_col_text(res, i, 12));

	add_cost(o, res, i);
	json_object_set_new(o, "parent_call", tn_col_text(res, i, 14));
	json_object_set_new(o, "flow", tn_col_text(res, i, 15));
	json_object_set_new(o, "ivr", doc(res, i, 16));
	json_object_set_new(o, "ivr_vars", doc(res, i, 17));
	json_object_set_new(o, "ivr_ms", tn_col_int(res, i, 18));
	json_object_set_new(o, "media", doc(res, i, 19));
	json_object_set_new(o, "queue", tn_col_text(res, i, 20));
	json_object_set_new(o, "disposition", tn_col_text(res, i, 21));
	json_object_set_new(o, "disposition_note", tn_col_text(res, i, 22));
	json_object_set_new(o, "follow_up", tn_col_text(res, i, 23));
	return o;
}

static void list(struct tn_req *r)
{
	const char *after, *from = tn_query(r, "from"), *to = tn_query(r, "to"), *p[5];
	char lim[8], *sql;
	int limit;
	PGresult *res;

	if (tn_page(r, &limit, &after) != CC_OK)
		return;
	if (from && !tn_rfc3339(from))
		return tn_error(r, 400, "invalid_argument", "from", "from must be an RFC 3339 time");
	if (to && !tn_rfc3339(to))
		return tn_error(r, 400, "invalid_argument", "to", "to must be an RFC 3339 time");
	if (after && !cc_uuid_valid(after))
		return tn_error(r, 400, "invalid_argument", "after", "after must be a call id");
	if (after) {
		const char *cp[2] = { r->tenant.id, after };

		res = cc_pg_exec(&r->d->pg, "SELECT 1 FROM cc.calls WHERE tenant_id = $1 AND id = $2::uuid",
		                 2, cp);
		if (!res)
			return tn_db_error(r, "calls");
		int known = PQntuples(res);
		PQclear(res);
		if (!known)
			return tn_error(r, 400, "invalid_argument", "after",
			                "after is not a call of this list");
	}
	snprintf(lim, sizeof(lim), "%d", limit);
	p[0] = r->tenant.id; p[1] = from; p[2] = to; p[3] = after; p[4] = lim;
	sql = cc_sprintf("SELECT %s FROM cc.calls c WHERE tenant_id = $1 "
	                 "AND ($2::timestamptz IS NULL OR started_at >= $2::timestamptz) "
	                 "AND ($3::timestamptz IS NULL OR started_at < $3::timestamptz) "
	                 "AND ($4::uuid IS NULL OR (" SORT_KEY ", id) < "
	                 "  (SELECT " SORT_KEY ", id FROM cc.calls WHERE id = $4::uuid AND tenant_id = $1)) "
	                 "ORDER BY " SORT_KEY " DESC, id DESC LIMIT $5", COLS);
	res = cc_pg_exec(&r->d->pg, sql, 5, p);
	free(sql);
	if (!res && r->d->pg.error == CC_PG_INVALID)
		return tn_error(r, 400, "invalid_argument", "from", "from/to must be RFC 3339 times");
	if (!res)
		return tn_db_error(r, "calls");
	tn_reply_page(r, res, row, limit, 0);
}

static void get(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->params[1] };
	char *sql;
	PGresult *res;

	if (!cc_uuid_valid(r->params[1]))
		return tn_error(r, 404, "not_found", NULL, "no such call");
	sql = cc_sprintf("SELECT %s FROM cc.calls c WHERE tenant_id = $1 AND id = $2::uuid", COLS);
	res = cc_pg_exec(&r->d->pg, sql, 2, p);
	free(sql);
	if (!res)
		return tn_db_error(r, "call");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return tn_error(r, 404, "not_found", NULL, "no such call");
	}
	tn_reply(r, 200, row(res, 0));
	PQclear(res);
}

const struct tn_route tn_call_routes[] = {
	{ "GET", "/v1/tenants/{slug}/calls", TN_TENANT, NULL, list, false, false },
	{ "GET", "/v1/tenants/{slug}/calls/{id}", TN_TENANT, NULL, get, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
