/* statements.c: see statements.h. */
#include "statements.h"
#include "cc.h"
#include "engine.h"
#include "money.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool bl_valid_month(const char *m)
{
	return m && strlen(m) == 7 && strspn(m, "0123456789-") == 7 && m[4] == '-' &&
	       ((m[5] == '0' && m[6] >= '1' && m[6] <= '9') || (m[5] == '1' && m[6] >= '0' && m[6] <= '2'));
}

json_t *bl_money_json(int64_t micro, int minor)
{
	char out[CC_MONEY_LEN];

	cc_money_format(micro, minor, out);
	return json_string(out);
}

/* micro x num / den, rounded once, half up, to the minor unit */
static int64_t prorate(int64_t micro, int64_t num, int64_t den, int minor)
{
	int64_t unit = cc_minor_micro(minor);

	if (den <= 0)
		return 0;
	return cc_div_round_half_up((__int128)micro * num, den * unit) * unit;
}

/* ------------------------------------------------------------ invoices */

/* month arithmetic in local time (a month from 1 October 00:00 Shanghai
 * ends 1 November 00:00 Shanghai), then back to instants */
static const char PERIOD_SQL[] =
	"WITH x AS (SELECT t.slug, t.name, t.timezone, p.currency, cur.minor_unit, p.seat_price_micro,"
	"  p.number_price_micro,"
	"  make_timestamp(split_part($2, '-', 1)::int, split_part($2, '-', 2)::int, p.anchor_day,"
	"    0, 0, 0) AS local_start"
	"  FROM cc.tenants t JOIN cc.billing_plans p ON p.tenant_id = t.id"
	"  JOIN cc.currencies cur ON cur.code = p.currency WHERE t.id = $1) "
	"SELECT slug, name, timezone, currency, minor_unit, seat_price_micro, number_price_micro,"
	" local_start AT TIME ZONE timezone, (local_start + interval '1 month') AT TIME ZONE timezone,"
	" (local_start + interval '1 month')::date - local_start::date,"
	" now() >= (local_start + interval '1 month') AT TIME ZONE timezone,"
	" to_char(local_start, 'YYYY-MM-DD'), to_char(local_start + interval '1 month', 'YYYY-MM-DD') "
	"FROM x";

/* local days on which each seat or number existed, up to the period's end
 * or now, whichever is first */
static const char RENTALS_SQL[] =
	"SELECT kind, label, d.days FROM cc.rentals r,"
	" LATERAL (SELECT GREATEST(0, ((LEAST(COALESCE(r.to_ts, 'infinity'), $3::timestamptz, now())"
	"   - interval '1 microsecond') AT TIME ZONE $4)::date"
	"   - (GREATEST(r.from_ts, $2::timestamptz) AT TIME ZONE $4)::date + 1) AS days) d "
	"WHERE r.tenant_id = $1 AND r.from_ts < LEAST($3::timestamptz, now())"
	" AND COALESCE(r.to_ts, 'infinity') > $2::timestamptz ORDER BY kind, label, r.id";

static const char USAGE_SQL[] =
	"SELECT direction, COALESCE(description, '(no rate)'), count(*), sum(billable_s), sum(cost_micro),"
	" count(*) FILTER (WHERE flags <> '') "
	"FROM cc.rated_lines WHERE tenant_id = $1 AND revision = 1"
	" AND started_at >= $2::timestamptz AND started_at < $3::timestamptz "
	"GROUP BY 1, 2 ORDER BY 1, 2";

/* ledger transactions of the period other than usage: the tenant's side */
static const char LEDGER_SQL[] =
	"SELECT x.kind, x.ref, x.memo, e.amount_micro,"
	" to_char(x.effective_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
	"FROM cc.ledger_txns x JOIN cc.ledger_entries e ON e.txn_id = x.id AND e.account = 'tenant' "
	"WHERE x.tenant_id = $1 AND x.kind IN ('adjustment', 'rerate', 'topup')"
	" AND x.effective_at >= $2::timestamptz AND x.effective_at < $3::timestamptz "
	"ORDER BY x.effective_at, x.id";

json_t *bl_invoice(struct cc_pg *pg, const char *tenant_id, const char *month, const char **err)
{
	const char *p[4] = { tenant_id, month, NULL, NULL };
	PGresult *per, *res;

	*err = NULL;
	if (!bl_valid_month(month)) {
		*err = "month: YYYY-MM";
		return NULL;
	}
	if (!(per = cc_pg_exec(pg, PERIOD_SQL, 2, p)))
		return NULL;
	if (PQntuples(per) != 1) {
		PQclear(per);
		*err = "the tenant has no billing plan";
		return NULL;
	}
	int minor = atoi(PQgetvalue(per, 0, 4));
	int64_t seat_price = atoll(PQgetvalue(per, 0, 5)), number_price = atoll(PQgetvalue(per, 0, 6));
	int64_t period_days = atoll(PQgetvalue(per, 0, 9));
	bool over = PQgetvalue(per, 0, 10)[0] == 't';
	char start[64], end[64], tz[64];

	snprintf(start, sizeof(start), "%s", PQgetvalue(per, 0, 7));
	snprintf(end, sizeof(end), "%s", PQgetvalue(per, 0, 8));
	snprintf(tz, sizeof(tz), "%s", PQgetvalue(per, 0, 2));
	json_t *inv = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:I}",
	                        "tenant", PQgetvalue(per, 0, 0), "tenant_name", PQgetvalue(per, 0, 1),
	                        "month", month, "currency", PQgetvalue(per, 0, 3),
	                        "status", over ? "open" : "draft",
	                        "period", "from", PQgetvalue(per, 0, 11), "to", PQgetvalue(per, 0, 12),
	                        "time_zone", tz, "days", (json_int_t)period_days);
	PQclear(per);
	p[1] = start; p[2] = end; p[3] = tz;

	json_t *seats = json_array(), *numbers = json_array(), *usage = json_array();
	json_t *adjustments = json_array(), *payments = json_array();
	int64_t seat_total = 0, number_total = 0, usage_total = 0, adj_total = 0, paid = 0;

	json_object_set_new(inv, "seats", seats);
	json_object_set_new(inv, "numbers", numbers);
	json_object_set_new(inv, "usage", usage);
	json_object_set_new(inv, "adjustments", adjustments);
	json_object_set_new(inv, "payments", payments);
	if (!(res = cc_pg_exec(pg, RENTALS_SQL, 4, p)))
		goto fail;
	for (int i = 0; i < PQntuples(res); i++) {
		bool seat = strcmp(PQgetvalue(res, i, 0), "seat") == 0;
		int64_t days = atoll(PQgetvalue(res, i, 2));
		int64_t amount = prorate(seat ? seat_price : number_price, days, period_days, minor);

		json_array_append_new(seat ? seats : numbers,
		                      json_pack("{s:s, s:I, s:o}", seat ? "extension" : "e164",
		                                PQgetvalue(res, i, 1), "days", (json_int_t)days,
		                                "amount", bl_money_json(amount, minor)));
		*(seat ? &seat_total : &number_total) += amount;
	}
	PQclear(res);
	if (!(res = cc_pg_exec(pg, USAGE_SQL, 3, p)))
		goto fail;
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t amount = atoll(PQgetvalue(res, i, 4));

		json_array_append_new(usage, json_pack("{s:s, s:s, s:I, s:I, s:o, s:I}",
		                                       "direction", PQgetvalue(res, i, 0),
		                                       "destination", PQgetvalue(res, i, 1),
		                                       "calls", (json_int_t)atoll(PQgetvalue(res, i, 2)),
		                                       "billable_seconds", (json_int_t)atoll(PQgetvalue(res, i, 3)),
		                                       "amount", bl_money_json(amount, minor),
		                                       "flagged", (json_int_t)atoll(PQgetvalue(res, i, 5))));
		usage_total += amount;
	}
	PQclear(res);
	if (!(res = cc_pg_exec(pg, LEDGER_SQL, 3, p)))
		goto fail;
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t tenant_side = atoll(PQgetvalue(res, i, 3));
		bool topup = strcmp(PQgetvalue(res, i, 0), "topup") == 0;

		/* on the invoice a charge is positive: the tenant's side negated */
		json_array_append_new(topup ? payments : adjustments,
		                      json_pack("{s:s, s:s, s:s, s:o, s:s}", "kind", PQgetvalue(res, i, 0),
		                                "reference", PQgetvalue(res, i, 1), "memo", PQgetvalue(res, i, 2),
		                                "amount", bl_money_json(topup ? tenant_side : -tenant_side, minor),
		                                "at", PQgetvalue(res, i, 4)));
		if (topup)
			paid += tenant_side;
		else
			adj_total -= tenant_side;
	}
	PQclear(res);
	json_object_set_new(inv, "totals", json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
	                    "seats", bl_money_json(seat_total, minor), "numbers", bl_money_json(number_total, minor),
	                    "usage", bl_money_json(usage_total, minor), "adjustments", bl_money_json(adj_total, minor),
	                    "total", bl_money_json(seat_total + number_total + usage_total + adj_total, minor),
	                    "payments", bl_money_json(paid, minor)));
	json_object_set_new(inv, "seat_total_micro", json_integer(seat_total));
	json_object_set_new(inv, "number_total_micro", json_integer(number_total));
	return inv;
fail:
	json_decref(inv);
	return NULL;
}

json_t *bl_invoice_list(struct cc_pg *pg, const char *tenant_id)
{
	const char *p[1] = { tenant_id };
	PGresult *res = cc_pg_exec(pg,
		"SELECT to_char(m, 'YYYY-MM'),"
		" EXISTS (SELECT 1 FROM cc.invoices i WHERE i.tenant_id = t.id AND i.month = to_char(m, 'YYYY-MM')),"
		" date_trunc('month', now() AT TIME ZONE t.timezone) = m "
		"FROM cc.tenants t, generate_series(date_trunc('month', LEAST(t.created_at,"
		"    (SELECT min(from_ts) FROM cc.rentals r WHERE r.tenant_id = t.id),"
		"    (SELECT min(started_at) FROM cc.rated_lines l WHERE l.tenant_id = t.id)) AT TIME ZONE t.timezone),"
		"  date_trunc('month', now() AT TIME ZONE t.timezone), interval '1 month') AS m "
		"WHERE t.id = $1 ORDER BY m DESC", 1, p);
	json_t *a;

	if (!res)
		return NULL;
	a = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "month", PQgetvalue(res, i, 0), "status",
		                                   PQgetvalue(res, i, 1)[0] == 't' ? "closed" :
		                                   PQgetvalue(res, i, 2)[0] == 't' ? "draft" : "open"));
	PQclear(res);
	return a;
}

static void html_text(FILE *f, const char *s)
{
	for (; s && *s; s++)
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
}

/* printf for HTML: fmt is markup, every %s argument is text (escaped);
 * no other conversions. */
static void html(FILE *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (const char *p = fmt; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			html_text(f, va_arg(ap, const char *));
			p++;
		} else {
			fputc(*p, f);
		}
	}
	va_end(ap);
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void html_rows(FILE *f, const json_t *items, const char *const *cols, const char *const *heads)
{
	size_t i;
	json_t *it;

	fputs("<table><tr>", f);
	for (int c = 0; cols[c]; c++) {
		fputs("<th>", f);
		html_text(f, heads[c]);
		fputs("</th>", f);
	}
	fputs("</tr>", f);
	json_array_foreach(items, i, it) {
		fputs("<tr>", f);
		for (int c = 0; cols[c]; c++) {
			json_t *v = json_object_get(it, cols[c]);
			char num[32];

			fputs(c && json_is_string(v) && !cols[c + 1] ? "<td class=n>" : "<td>", f);
			if (json_is_integer(v)) {
				snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
				html_text(f, num);
			} else {
				html_text(f, json_string_value(v));
			}
			fputs("</td>", f);
		}
		fputs("</tr>", f);
	}
	fputs("</table>", f);
}

char *bl_invoice_html(const json_t *inv)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	const json_t *period = json_object_get(inv, "period"), *totals = json_object_get(inv, "totals");
	static const char *const seat_cols[] = { "extension", "days", "amount", NULL };
	static const char *const seat_heads[] = { "Seat (extension)", "Days", "Amount" };
	static const char *const num_cols[] = { "e164", "days", "amount", NULL };
	static const char *const num_heads[] = { "Number", "Days", "Amount" };
	static const char *const use_cols[] = { "direction", "destination", "calls", "billable_seconds",
	                                        "amount", NULL };
	static const char *const use_heads[] = { "Direction", "Destination", "Calls", "Billable seconds",
	                                         "Amount" };
	static const char *const adj_cols[] = { "kind", "reference", "memo", "amount", NULL };
	static const char *const adj_heads[] = { "Kind", "Reference", "Memo", "Amount" };

	CC_BUG_ON(!f);
	html(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Invoice %s %s</title>",
	     str(inv, "tenant"), str(inv, "month"));
	fputs("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
	      "width:100%;margin-bottom:1.5em}th,td{border-bottom:1px solid #ccc;padding:4px 8px;"
	      "text-align:left}td.n{text-align:right}@media print{body{margin:0}}</style></head><body>\n", f);
	html(f, "<h1>Invoice %s</h1><p>%s (%s)<br>Period %s to %s (%s)<br>Status: %s &middot; Currency: %s",
	     str(inv, "month"), str(inv, "tenant_name"), str(inv, "tenant"), str(period, "from"),
	     str(period, "to"), str(period, "time_zone"), str(inv, "status"), str(inv, "currency"));
	fputs("</p>\n<h2>Seats</h2>", f);
	html_rows(f, json_object_get(inv, "seats"), seat_cols, seat_heads);
	fputs("<h2>Numbers</h2>", f);
	html_rows(f, json_object_get(inv, "numbers"), num_cols, num_heads);
	fputs("<h2>Usage</h2>", f);
	html_rows(f, json_object_get(inv, "usage"), use_cols, use_heads);
	fputs("<h2>Adjustments</h2>", f);
	html_rows(f, json_object_get(inv, "adjustments"), adj_cols, adj_heads);
	fputs("<h2>Totals</h2><table>", f);
	static const char *const tk[] = { "seats", "numbers", "usage", "adjustments", "total", "payments" };
	static const char *const th[] = { "Seats", "Numbers", "Usage", "Adjustments", "Total due",
	                                  "Payments received" };
	for (size_t i = 0; i < CC_ARRAY_LEN(tk); i++) {
		fputs(i == 4 ? "<tr><th>" : "<tr><td>", f);
		html_text(f, th[i]);
		fputs(i == 4 ? "</th><th class=n>" : "</td><td class=n>", f);
		html_text(f, str(totals, tk[i]));
		fputs(i == 4 ? "</th></tr>" : "</td></tr>", f);
	}
	fputs("</table></body></html>\n", f);
	fclose(f);
	return out;
}

/* ------------------------------------------------------- reconciliation */

static const char RECON_DAYS_SQL[] =
	"WITH t AS (SELECT id, slug, timezone FROM cc.tenants WHERE ($1::uuid IS NULL OR id = $1::uuid)),"
	"ev AS (SELECT e.tenant_id, (e.ts AT TIME ZONE t.timezone)::date AS day,"
	"  count(DISTINCT e.call_id) AS n FROM cc.call_events e JOIN t ON t.id = e.tenant_id"
	"  WHERE e.type IN ('ended', 'rejected') AND e.ts >= $2::timestamptz AND e.ts < $3::timestamptz"
	"  GROUP BY 1, 2),"
	"rec AS (SELECT c.tenant_id, (c.ended_at AT TIME ZONE t.timezone)::date AS day, count(*) AS n,"
	"  count(*) FILTER (WHERE c.answered_at IS NOT NULL) AS answered"
	"  FROM cc.calls c JOIN t ON t.id = c.tenant_id"
	"  WHERE c.ended_at >= $2::timestamptz AND c.ended_at < $3::timestamptz GROUP BY 1, 2),"
	"lin AS (SELECT c.tenant_id, (c.ended_at AT TIME ZONE t.timezone)::date AS day, count(*) AS n,"
	"  sum(l.cost_micro) AS cost FROM cc.calls c JOIN t ON t.id = c.tenant_id"
	"  JOIN LATERAL (SELECT cost_micro FROM cc.rated_lines r WHERE r.call_id = c.id"
	"    ORDER BY revision DESC LIMIT 1) l ON true"
	"  WHERE c.ended_at >= $2::timestamptz AND c.ended_at < $3::timestamptz GROUP BY 1, 2) "
	"SELECT t.slug, to_char(d.day, 'YYYY-MM-DD'), COALESCE(ev.n, 0), COALESCE(rec.n, 0),"
	" COALESCE(rec.answered, 0), COALESCE(lin.n, 0), COALESCE(lin.cost, 0) "
	"FROM (SELECT tenant_id, day FROM ev UNION SELECT tenant_id, day FROM rec) d"
	" JOIN t ON t.id = d.tenant_id"
	" LEFT JOIN ev ON ev.tenant_id = d.tenant_id AND ev.day = d.day"
	" LEFT JOIN rec ON rec.tenant_id = d.tenant_id AND rec.day = d.day"
	" LEFT JOIN lin ON lin.tenant_id = d.tenant_id AND lin.day = d.day "
	"ORDER BY t.slug, d.day";

/* Every gap, one row each: kind, tenant slug, call id, detail. */
static const char RECON_GAPS_SQL[] =
	"WITH t AS (SELECT id, slug FROM cc.tenants WHERE ($1::uuid IS NULL OR id = $1::uuid)) "
	/* a final event and no finished record */
	"SELECT 'no_record', t.slug, e.call_id::text, e.type FROM cc.call_events e JOIN t ON t.id = e.tenant_id"
	" WHERE e.type IN ('ended', 'rejected') AND e.ts >= $2::timestamptz AND e.ts < $3::timestamptz"
	" AND NOT EXISTS (SELECT 1 FROM cc.calls c WHERE c.id = e.call_id AND c.ended_at IS NOT NULL) "
	"UNION ALL "
	/* a finished inbound/outbound call of a billed tenant (since its plan)
	 * without a rated line */
	"SELECT 'not_rated', t.slug, c.id::text, c.result FROM cc.calls c JOIN t ON t.id = c.tenant_id"
	" JOIN cc.billing_plans p ON p.tenant_id = c.tenant_id"
	" WHERE c.ended_at >= $2::timestamptz AND c.ended_at < $3::timestamptz"
	" AND c.direction IN ('inbound', 'outbound') AND c.ended_at >= p.created_at"
	" AND NOT EXISTS (SELECT 1 FROM cc.rated_lines r WHERE r.call_id = c.id) "
	"UNION ALL "
	/* a line that costs money and never reached the ledger: a first rating
	 * names its usage transaction, a rerating's posts under call/revision */
	"SELECT 'not_posted', t.slug, r.call_id::text, r.cost_micro::text FROM cc.rated_lines r"
	" JOIN t ON t.id = r.tenant_id"
	" WHERE r.started_at >= $2::timestamptz - interval '1 day' AND r.started_at < $3::timestamptz"
	" AND ((r.revision = 1 AND r.cost_micro <> 0 AND NOT EXISTS (SELECT 1 FROM cc.ledger_txns x"
	"      WHERE x.id = r.txn_id AND x.kind = 'usage'))"
	"   OR (r.revision > 1 AND r.cost_micro <> (SELECT o.cost_micro FROM cc.rated_lines o"
	"      WHERE o.call_id = r.call_id AND o.revision = r.revision - 1)"
	"      AND NOT EXISTS (SELECT 1 FROM cc.ledger_txns x WHERE x.tenant_id = r.tenant_id"
	"      AND x.kind = 'rerate' AND x.ref = r.call_id::text || '/' || r.revision))) "
	"UNION ALL "
	/* a usage transaction whose amount is not the sum of its lines */
	"SELECT 'posting_mismatch', t.slug, x.id::text,"
	"  (-e.amount_micro)::text || ' posted, ' || COALESCE(sum(r.cost_micro), 0)::text || ' rated'"
	" FROM cc.ledger_txns x JOIN t ON t.id = x.tenant_id"
	" JOIN cc.ledger_entries e ON e.txn_id = x.id AND e.account = 'tenant'"
	" LEFT JOIN cc.rated_lines r ON r.txn_id = x.id"
	" WHERE x.kind = 'usage' AND x.created_at >= $2::timestamptz AND x.created_at < $3::timestamptz"
	" GROUP BY t.slug, x.id, e.amount_micro HAVING -e.amount_micro <> COALESCE(sum(r.cost_micro), 0) "
	"UNION ALL "
	/* the record changed after it was rated (talk time differs by over a second) */
	"SELECT 'record_changed', t.slug, c.id::text,"
	"  l.talk_ms::text || ' ms rated, ' || round(extract(epoch FROM c.ended_at - c.answered_at) * 1000) || ' ms recorded'"
	" FROM cc.calls c JOIN t ON t.id = c.tenant_id"
	" JOIN LATERAL (SELECT talk_ms, flags FROM cc.rated_lines r WHERE r.call_id = c.id"
	"   ORDER BY revision DESC LIMIT 1) l ON true"
	" WHERE c.ended_at >= $2::timestamptz AND c.ended_at < $3::timestamptz AND l.flags NOT LIKE '%capped%'"
	" AND abs(COALESCE(extract(epoch FROM c.ended_at - c.answered_at) * 1000, 0) - l.talk_ms) > 1000 "
	"UNION ALL "
	/* flagged lines: for review */
	"SELECT 'flagged_' || l.flags, t.slug, l.call_id::text, l.talk_ms::text || ' ms'"
	" FROM cc.rated_lines l JOIN t ON t.id = l.tenant_id"
	" WHERE l.started_at >= $2::timestamptz AND l.started_at < $3::timestamptz"
	" AND l.flags IN ('too_long', 'no_rate') AND l.talk_ms > 0"
	" AND l.revision = (SELECT max(revision) FROM cc.rated_lines m WHERE m.call_id = l.call_id) "
	"UNION ALL "
	/* an answered call that never ended, long after it could have: past its
	 * grant (plus the grant's margin), or past the longest call there is
	 * (4 h) and its margin when it had no grant. Its end event was lost */
	"SELECT 'no_end', t.slug, c.id::text, 'answered ' || to_char(c.answered_at AT TIME ZONE 'UTC',"
	"  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	" FROM cc.calls c JOIN t ON t.id = c.tenant_id"
	" WHERE c.answered_at >= $2::timestamptz AND c.answered_at < $3::timestamptz AND c.ended_at IS NULL"
	" AND c.answered_at < now() - COALESCE((SELECT (g.seconds + 600) * interval '1 second'"
	"   FROM cc.grants g WHERE g.call_id = c.id ORDER BY g.created_at DESC LIMIT 1),"
	"   interval '4 hours 10 minutes') "
	"UNION ALL "
	/* events of a call whose first event (offered) never arrived: the
	 * record has no caller, callee or start */
	"SELECT 'no_start', t.slug, e.call_id::text, string_agg(DISTINCT e.type, ',')"
	" FROM cc.call_events e JOIN t ON t.id = e.tenant_id"
	" WHERE e.ts >= $2::timestamptz AND e.ts < $3::timestamptz"
	" AND NOT EXISTS (SELECT 1 FROM cc.call_events o WHERE o.call_id = e.call_id AND o.type = 'offered')"
	" GROUP BY t.slug, e.call_id "
	"UNION ALL "
	/* a call ended more than once (different event ids): its talk time and
	 * cost come from whichever end was folded in */
	"SELECT 'duplicate_end', t.slug, e.call_id::text, count(*)::text || ' ended events'"
	" FROM cc.call_events e JOIN t ON t.id = e.tenant_id"
	" WHERE e.type = 'ended' AND e.ts >= $2::timestamptz AND e.ts < $3::timestamptz"
	" GROUP BY t.slug, e.call_id HAVING count(*) > 1 "
	"UNION ALL "
	/* a grant still open after its call must have ended: the end was lost */
	"SELECT 'stale_grant', t.slug, g.call_id::text, g.seconds::text || ' s'"
	" FROM cc.grants g JOIN t ON t.id = g.tenant_id"
	" WHERE g.settled_at IS NULL AND NOT (" BL_GRANT_LIVE ")"
	" AND g.created_at >= $2::timestamptz AND g.created_at < $3::timestamptz "
	"ORDER BY 2, 1, 3";

json_t *bl_reconcile(struct cc_pg *pg, const char *tenant_id, const char *from, const char *to,
                     const char **err)
{
	const char *p[3] = { tenant_id, from, to };
	PGresult *res;
	json_t *days, *gaps;

	*err = NULL;
	if (!(res = cc_pg_exec(pg, RECON_DAYS_SQL, 3, p))) {
		if (pg->error == CC_PG_INVALID)
			*err = "from/to: RFC 3339 times";
		return NULL;
	}
	days = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		json_int_t ev = atoll(PQgetvalue(res, i, 2)), rec = atoll(PQgetvalue(res, i, 3));

		json_array_append_new(days, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b}",
		                      "tenant", PQgetvalue(res, i, 0), "day", PQgetvalue(res, i, 1),
		                      "call_events", ev, "records", rec,
		                      "answered", (json_int_t)atoll(PQgetvalue(res, i, 4)),
		                      "rated", (json_int_t)atoll(PQgetvalue(res, i, 5)),
		                      "cost_micro", (json_int_t)atoll(PQgetvalue(res, i, 6)),
		                      "counts_agree", ev == rec));
	}
	PQclear(res);
	if (!(res = cc_pg_exec(pg, RECON_GAPS_SQL, 3, p))) {
		json_decref(days);
		return NULL;
	}
	gaps = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(gaps, json_pack("{s:s, s:s, s:s, s:s}", "kind", PQgetvalue(res, i, 0),
		                                      "tenant", PQgetvalue(res, i, 1), "call",
		                                      PQgetvalue(res, i, 2), "detail", PQgetvalue(res, i, 3)));
	PQclear(res);
	return json_pack("{s:s, s:s, s:o, s:o, s:b}", "from", from, "to", to, "days", days, "gaps", gaps,
	                 "clean", json_array_size(gaps) == 0);
}
