#!/usr/bin/env bash
# Billing through the real stack: deck import (good, bad, versions), plans,
# top-ups and the ledger, rating of call events by billingd (golden cases,
# DST and midnight, duplicates, too-long records, billingd killed mid-run),
# and a prepaid call cut by the platform when its credit runs out.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1

# csv NAME CURRENCY FILE [TOKEN] [EXTRA-QUERY]: imports a deck
# (decks are effective from 2026-01-01 unless EXTRA-QUERY says otherwise:
# the event-driven calls below are dated before today)
csv() {
	RESP=$CC_VAR/resp.json
	HTTP=$(curl -sk -o "$RESP" -w '%{http_code}' -X POST -H "Authorization: Bearer ${4:-$OPERATOR}" \
		-H 'Content-Type: text/csv' --data-binary "@$3" "$API/v1/tariffs?name=$1&currency=$2${5:-&effective_from=2026-01-01T00:00:00Z}")
}
D=$CC_VAR/decks; mkdir -p "$D"
# two carriers (for the prepaid calls at the end), created first: Kamailio
# takes one address reload per 5 s and tenantd spaces them out
CARRIER=$(pick_port) CARRIER2=$(pick_port) AG=$(pick_port)
new_trunk carrier1 "$CARRIER"
new_trunk carrier2 "$CARRIER2"
HDR=prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s

# ------------------------------------------------------------ rate decks
printf '%s\n86,China,0.60,0,1,1,0\n86138,China Mobile,0.30,0.10,30,6,0\n44,UK,1.20,0,60,60,0\n' "$HDR" > "$D/out.csv"
csv std-out CNY "$D/out.csv"
expect_eq deck_import_201 "$HTTP" 201
check deck_version_1 [ "$(jr .version)" = 1 -a "$(jr .rows)" = 3 ]
csv std-out CNY "$D/out.csv"
check deck_second_version [ "$HTTP" = 201 -a "$(jr .version)" = 2 ]

printf '%s\n86,ok,0.10,0,1,1,0\n+1,plus,0.1,0,1,1,0\n44,neg,-1,0,1,1,0\n45,absurd,99999,0,1,1,0\n86,dup,0.2,0,1,1,0\n47,short\n' "$HDR" > "$D/bad.csv"
csv bad-deck CNY "$D/bad.csv"
expect_eq bad_csv_422 "$HTTP" 422
check bad_csv_lists_every_line [ "$(jr '[.error.lines[].line] | join(",")')" = "3,4,5,6,7" ]
check bad_csv_counts [ "$(jr .error.bad_lines)" = 5 ]
check bad_csv_reason_named grep -q 'duplicate' "$RESP"
api GET /v1/tariffs/bad-deck "$OPERATOR"
expect_eq bad_csv_nothing_imported "$HTTP" 404
csv eur-deck XYZ "$D/out.csv"
check unknown_currency_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = currency ]
csv std-out USD "$D/out.csv"
check deck_currency_fixed [ "$HTTP" = 422 -a "$(jr .error.field)" = currency ]
HTTP=$(curl -sk -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $OPERATOR" \
	-H 'Content-Type: application/json' --data-binary @"$D/out.csv" "$API/v1/tariffs?name=x&currency=CNY")
expect_eq deck_needs_text_csv_415 "$HTTP" 415
printf '' > "$D/empty.csv"
csv empty CNY "$D/empty.csv"
expect_eq empty_deck_422 "$HTTP" 422
api GET /v1/tariffs "$OPERATOR"
check deck_list_versions [ "$(jr '.items[] | select(.name == "std-out") | .versions | length')" = 2 ]
check versions_rows_stored [ "$(sql "SELECT count(*) FROM cc.tariff_rates r JOIN cc.tariff_versions v ON v.id = r.version_id JOIN cc.tariffs t ON t.id = v.tariff_id WHERE t.name = 'std-out'")" = 6 ]

# inbound deck: by the called number; prepaid deck for the cut-off test:
# 6.00 per minute, per second = 0.10 per second
printf '%s\n86571,Hangzhou DID,0.12,0,60,60,0\n' "$HDR" > "$D/in.csv"
csv std-in CNY "$D/in.csv"
printf '%s\n86,Prepaid,6.00,0,1,1,0\n' "$HDR" > "$D/pre.csv"
csv pre-in CNY "$D/pre.csv"
# Berlin deck with bands: peak mon-fri 08:00-18:00, off-peak the rest
printf '%s,days,start,end\n49,Peak,1.20,0,1,1,0,mon-fri,08:00,18:00\n49,Off-peak,0.60,0,1,1,0,mon-fri,18:00,08:00\n49,Weekend,0.30,0,1,1,0,"sat,sun",,\n' "$HDR" > "$D/de.csv"
csv de-in EUR "$D/de.csv"
expect_eq banded_deck_201 "$HTTP" 201

# ----------------------------------------------------------------- plans
new_tenant acme
api PUT /v1/tenants/acme/billing "${KEY[acme]}" '{"mode":"prepaid","currency":"CNY"}'
expect_eq plan_needs_operator_403 "$HTTP" 403
api PUT /v1/tenants/acme/billing "$OPERATOR" '{"mode":"prepaid","currency":"CNY","tariffs":{"inbound":"nope"}}'
check plan_unknown_tariff_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = tariffs.inbound ]
api PUT /v1/tenants/acme/billing "$OPERATOR" '{"mode":"prepaid","currency":"EUR","tariffs":{"inbound":"std-in"}}'
check plan_currency_mismatch_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = tariffs.inbound ]
api PUT /v1/tenants/acme/billing "$OPERATOR" '{"mode":"sometimes","currency":"CNY"}'
check plan_bad_mode_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = mode ]
api PUT /v1/tenants/acme/billing "$OPERATOR" '{"mode":"prepaid","currency":"CNY","seat_price_per_month":"300.001"}'
check plan_money_decimals_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = seat_price_per_month ]
api POST /v1/tenants/acme/billing/topups "$OPERATOR" '{"amount":"10.00","reference":"r0"}'
check topup_without_plan_409 [ "$HTTP" = 409 -a "$(jr .error.code)" = no_billing_plan ]
api PUT /v1/tenants/acme/billing "$OPERATOR" '{"mode":"postpaid","currency":"CNY","tariffs":{"inbound":"std-in","outbound":"std-out"},"seat_price_per_month":"300.00","credit_limit":"50.00","max_call_seconds":3600}'
check plan_put_200 [ "$HTTP" = 200 -a "$(jr .seat_price_per_month)" = 300.00 -a "$(jr .tariffs.outbound)" = std-out ]
api GET /v1/tenants/acme/billing "${KEY[acme]}"
check plan_visible_to_tenant [ "$HTTP" = 200 -a "$(jr .credit_limit)" = 50.00 ]

# ------------------------------------------------------- money in and out
api POST /v1/tenants/acme/billing/topups "$OPERATOR" '{"amount":"100.00","reference":"bank-1"}'
expect_eq topup_201 "$HTTP" 201
api POST /v1/tenants/acme/billing/topups "$OPERATOR" '{"amount":"100.00","reference":"bank-1"}'
expect_eq topup_same_reference_409 "$HTTP" 409
api POST /v1/tenants/acme/billing/topups "$OPERATOR" '{"amount":"-5.00","reference":"bank-2"}'
expect_eq topup_negative_422 "$HTTP" 422
api POST /v1/tenants/acme/billing/topups "$OPERATOR" '{"amount":"1.234","reference":"bank-3"}'
expect_eq topup_too_many_decimals_422 "$HTTP" 422
api POST /v1/tenants/acme/billing/topups "${KEY[acme]}" '{"amount":"1000.00","reference":"self"}'
expect_eq topup_by_tenant_403 "$HTTP" 403
api POST /v1/tenants/acme/billing/adjustments "$OPERATOR" '{"amount":"-0.60","reference":"fix-1","memo":"goodwill reversed"}'
expect_eq adjustment_201 "$HTTP" 201
api GET /v1/tenants/acme/balance "${KEY[acme]}"
check balance_after_postings [ "$(jr .balance)" = 99.40 -a "$(jr .currency)" = CNY -a "$(jr .reserved)" = 0.00 ]
# the ledger is append-only for the application's database role
check ledger_app_role_cannot_delete not bash -c "psql '$("$TOP/ops/stack.sh" pgurl cc_app)' -tAc 'DELETE FROM cc.ledger_entries' 2>/dev/null"

# ------------------------------------------- rating of call events by billingd
T=${TID[acme]}
ev() { # ev CALL TYPE TS [EXTRA]
	local id; id=$(uuid)
	LAST_BODY="{\"v\":1,\"id\":\"$id\",\"ts\":\"$3\",\"tenant\":\"$T\",\"type\":\"$2\",\"call\":\"$1\"${4:+,$4}}"
	LAST_ID=$id
	"$PUB" "$NATS" "cc.call.$T.$2" "$id" "$LAST_BODY"
}
# call_events CALL DIRECTION TO ANSWER_TS END_TS: a whole answered call
call_events() {
	local num=+8657112345678
	ev "$1" offered "$4" "\"direction\":\"$2\",\"from\":\"+8613800000001\",\"to\":\"$3\",\"number\":\"$num\""
	ev "$1" answered "$4"
	ev "$1" ended "$5" '"code":200,"result":"answered"'
}
cost_of() { sql "SELECT cost_micro FROM cc.rated_lines WHERE call_id = '$1' ORDER BY revision DESC LIMIT 1"; }
rated() { [ -n "$(cost_of "$1")" ]; }

O1=$(uuid); call_events "$O1" outbound +8613812345678 2026-11-20T10:00:00.000000Z 2026-11-20T10:01:05.400000Z
I1=$(uuid); call_events "$I1" inbound +8657112345678 2026-11-20T11:00:00.000000Z 2026-11-20T11:00:10.000000Z
O2=$(uuid); call_events "$O2" outbound +4420123456 2026-11-20T12:00:00.000000Z 2026-11-20T12:01:00.500000Z
check rated_outbound wait_for 15 rated "$O2"
# 86138: 0.10 connect + 0.30/min, 30/6: 65.4 s -> 66 s -> 0.10 + 0.33 = 0.43
expect_eq rate_30_6_connect_fee "$(cost_of "$O1")" 430000
# inbound by the called number: 60/60 at 0.12 -> 0.12
expect_eq rate_inbound_called_number "$(cost_of "$I1")" 120000
# UK 60/60 at 1.20: 60.5 s -> 2 minutes
expect_eq rate_60_60 "$(cost_of "$O2")" 2400000
check rated_line_records_audit [ "$(sql "SELECT prefix || '|' || billable_s || '|' || rounding || '|' || (version_id IS NOT NULL) FROM cc.rated_lines WHERE call_id = '$O1'")" = "86138|66|half-up to 0.01|true" ]
api GET "/v1/tenants/acme/calls/$O1" "${KEY[acme]}"
check cost_on_call_record [ "$(jr .cost)" = 0.43 -a "$(jr .currency)" = CNY ]
api GET /v1/tenants/acme/balance "${KEY[acme]}"
expect_eq balance_after_calls "$(jr .balance)" 96.45

# a duplicated event (same id) and a replayed ended (new id) change nothing
before=$(sql "SELECT count(*) FROM cc.ledger_entries")
"$PUB" "$NATS" "cc.call.$T.ended" "$LAST_ID" "$LAST_BODY"
ev "$O2" ended 2026-11-20T12:01:00.500000Z '"code":200,"result":"answered"'
sleep 2
check duplicate_event_no_second_charge [ "$(sql "SELECT count(*) FROM cc.ledger_entries")" = "$before" ]
check one_line_per_call [ "$(sql "SELECT count(*) FROM cc.rated_lines WHERE call_id = '$O2'")" = 1 ]

# a record longer than the plan's maximum (3600 s) is flagged, not billed
L1=$(uuid); call_events "$L1" outbound +8613812345678 2026-11-20T13:00:00.000000Z 2026-11-20T15:00:00.000000Z
check too_long_rated wait_for 10 rated "$L1"
check too_long_flagged [ "$(sql "SELECT flags || '|' || cost_micro FROM cc.rated_lines WHERE call_id = '$L1'")" = "too_long|0" ]
# no prefix: rated free and flagged (a plan's no_rate policy at setup is tested below)
N1=$(uuid); call_events "$N1" outbound +3312345678 2026-11-20T16:00:00.000000Z 2026-11-20T16:01:00.000000Z
check no_rate_flagged wait_for 10 bash -c "[ \"\$(PGPASSWORD=$(cat "$CC_VAR/secrets/pg_admin") psql -h 127.0.0.1 -p $CC_PG_PORT -U cc_admin -d cc -tAc \"SELECT flags FROM cc.rated_lines WHERE call_id = '$N1'\")\" = no_rate ]"

# the ledger: every transaction sums to zero; the balance is the sum
check ledger_balanced [ "$(sql "SELECT count(*) FROM (SELECT txn_id FROM cc.ledger_entries GROUP BY txn_id HAVING sum(amount_micro) <> 0) x")" = 0 ]
check ledger_sums_to_balance [ "$(sql "SELECT sum(amount_micro) FROM cc.ledger_entries WHERE tenant_id = '$T' AND account = 'tenant'")" = 96450000 ]

# --- DST and midnight in the tenant's zone (Europe/Berlin)
api POST /v1/tenants "$OPERATOR" '{"slug":"berlin","name":"Berlin GmbH","timezone":"Europe/Berlin"}'
KEY[berlin]=$(jr .admin_api_key); TB=$(jr .id)
api PUT /v1/tenants/berlin/billing "$OPERATOR" '{"mode":"postpaid","currency":"EUR","tariffs":{"outbound":"de-in"},"credit_limit":"100.00"}'
expect_eq berlin_plan "$HTTP" 200
T=$TB
# Sunday 2026-03-29, 01:59:30 CET (00:59:30Z): clocks jump to 03:00 during the
# call; 5 minutes of real time, rated at the weekend band of its start
D1=$(uuid); call_events "$D1" outbound +4930123456 2026-03-29T00:59:30.000000Z 2026-03-29T01:04:30.000000Z
# Monday 2026-03-30 07:59:59 CEST (05:59:59Z): off-peak at answer, runs into peak
D2=$(uuid); call_events "$D2" outbound +4930123456 2026-03-30T05:59:59.000000Z 2026-03-30T06:01:59.000000Z
# Monday 08:00:00 CEST: peak (the boundary minute belongs to the later band)
D3=$(uuid); call_events "$D3" outbound +4930123456 2026-03-30T06:00:00.000000Z 2026-03-30T06:01:00.000000Z
# Friday 2026-10-23 23:59:30 CEST, across midnight into Saturday: Friday's off-peak
D4=$(uuid); call_events "$D4" outbound +4930123456 2026-10-23T21:59:30.000000Z 2026-10-23T22:00:30.000000Z
# Sunday 2026-10-25 02:30 CET after the clocks went back (01:30Z): weekend
D5=$(uuid); call_events "$D5" outbound +4930123456 2026-10-25T01:30:00.000000Z 2026-10-25T01:31:00.000000Z
check dst_calls_rated wait_for 15 rated "$D5"
line() { sql "SELECT description || '|' || billable_s || '|' || cost_micro FROM cc.rated_lines WHERE call_id = '$1'"; }
expect_eq dst_spring_real_duration "$(line "$D1")" "Weekend|300|1500000"
expect_eq band_at_answer_time "$(line "$D2")" "Off-peak|120|1200000"
expect_eq band_boundary_later_band "$(line "$D3")" "Peak|60|1200000"
expect_eq across_midnight_start_band "$(line "$D4")" "Off-peak|60|600000"
expect_eq dst_autumn_local_time "$(line "$D5")" "Weekend|60|300000"

# --- billingd killed while it works: nothing posted twice, nothing lost
T=${TID[acme]}
"$TOP/ops/stack.sh" stop billingd > /dev/null 2>&1
ids=()
for i in $(seq 1 60); do
	c=$(uuid); ids+=("$c")
	call_events "$c" outbound +8613812345678 2026-11-21T10:00:00.000000Z 2026-11-21T10:00:40.000000Z
done
"$TOP/ops/stack.sh" start billingd > /dev/null 2>&1
sleep 0.3
kill -9 "$(cat "$CC_VAR/run/billingd.pid")" 2>/dev/null
sleep 0.5
"$TOP/ops/stack.sh" start billingd > /dev/null 2>&1
check crash_all_rated wait_for 20 rated "${ids[59]}"
sleep 1
list=$(printf "'%s'," "${ids[@]}"); list=${list%,}
check crash_one_line_each [ "$(sql "SELECT count(*) FROM cc.rated_lines WHERE call_id IN ($list)")" = 60 ]
check crash_every_line_posted [ "$(sql "SELECT count(*) FROM cc.rated_lines WHERE call_id IN ($list) AND txn_id IS NULL")" = 0 ]
# the usage transactions those lines name post exactly their sum: once each
check crash_posted_once [ "$(sql "SELECT -sum(amount_micro) FROM cc.ledger_entries WHERE account = 'tenant' AND txn_id IN (SELECT txn_id FROM cc.rated_lines WHERE call_id IN ($list))")" = "$(sql "SELECT sum(cost_micro) FROM cc.rated_lines WHERE txn_id IN (SELECT txn_id FROM cc.rated_lines WHERE call_id IN ($list))")" ]
# 40 s under 30/6 = 42 s: 0.10 + 0.30 x 42/60 = 0.31 each: 96.45 - 18.60
api GET /v1/tenants/acme/balance "${KEY[acme]}"
expect_eq crash_balance_exact "$(jr .balance)" 77.85

# ------------------------------------------------------------- invoices
new_tenant beta
TA=${TID[acme]}
# a seat that existed from 16 October (Asia/Shanghai) on
sql "INSERT INTO cc.rentals (tenant_id, kind, object_id, label, from_ts) VALUES ('$TA', 'seat', gen_random_uuid(), '2001', '2026-10-16 00:00 Asia/Shanghai')" > /dev/null
api GET /v1/tenants/acme/invoices/2026-11 "${KEY[acme]}"
check invoice_usage_total [ "$HTTP" = 200 -a "$(jr .totals.usage)" = 21.55 ]
check invoice_usage_by_destination [ "$(jr '[.usage[] | select(.destination == "China Mobile")][0].calls')" = 62 ]
# the top-up and the adjustment were posted today: they belong to the
# invoice of the month they were posted in (local time, anchor day 1)
paid_month=$(sql "SELECT to_char(effective_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') FROM cc.ledger_txns WHERE tenant_id = '$TA' AND kind = 'topup' AND ref = 'bank-1'")
api GET "/v1/tenants/acme/invoices/$paid_month" "${KEY[acme]}"
check invoice_payments_apart [ "$(jr '.payments[0].amount')" = 100.00 -a "$(jr .totals.adjustments)" = 0.60 ]
api POST /v1/tenants/acme/invoices/2030-01/close "$OPERATOR"
expect_eq invoice_close_future_409 "$HTTP" 409
api POST /v1/tenants/acme/invoices/2026-10/close "$OPERATOR"
# 300.00 a month, 16 of October's 31 days: 154.838... -> 154.84
check invoice_seat_prorated [ "$HTTP" = 200 -a "$(jr '.seats[0].days')" = 16 -a "$(jr '.seats[0].amount')" = 154.84 ]
check invoice_closed [ "$(jr .status)" = closed -a "$(jr .totals.total)" = 154.84 ]
cp "$RESP" "$CC_VAR/closed1.json"
entries=$(sql "SELECT count(*) FROM cc.ledger_entries")
api POST /v1/tenants/acme/invoices/2026-10/close "$OPERATOR"
check invoice_close_idempotent diff -q <(jq -S . "$RESP") <(jq -S . "$CC_VAR/closed1.json")
check invoice_close_posts_once [ "$(sql "SELECT count(*) FROM cc.ledger_entries")" = "$entries" -a "$(sql "SELECT count(*) FROM cc.ledger_txns WHERE tenant_id = '$TA' AND kind = 'seat' AND ref = '2026-10'")" = 1 ]
api GET /v1/tenants/acme/invoices "${KEY[acme]}"
check invoice_list_status [ "$(jr '.items[] | select(.month == "2026-10") | .status')" = closed ]
HTTP=$(curl -sk -o "$CC_VAR/inv.html" -w '%{http_code} %{content_type}' -H "Authorization: Bearer ${KEY[acme]}" "$API/v1/tenants/acme/invoices/2026-10.html")
check invoice_html [ "$HTTP" = "200 text/html; charset=utf-8" ] && check invoice_html_content grep -q '154.84' "$CC_VAR/inv.html"
api GET /v1/tenants/acme/invoices/2026-10 "${KEY[beta]}"
expect_eq invoice_other_tenant_404 "$HTTP" 404
api GET /v1/tenants/acme/invoices/2026-13 "${KEY[acme]}"
expect_eq invoice_bad_month_404 "$HTTP" 404

# ------------------------------------------------------------- rerating
# a corrected deck from 21 November: China Mobile 0.60 instead of 0.30
printf '%s\n86,China,0.60,0,1,1,0\n86138,China Mobile,0.60,0.10,30,6,0\n44,UK,1.20,0,60,60,0\n' "$HDR" > "$D/fix.csv"
csv std-out CNY "$D/fix.csv" "$OPERATOR" "&effective_from=2026-11-21T00:00:00Z"
expect_eq corrected_deck_201 "$HTTP" 201
# routingd loads the versions in force for its grants and drops the one the
# correction replaced (a reload follows the import's notice)
check routing_drops_replaced_deck wait_for 10 grep -q "no longer in force: dropped" "$CC_VAR/log/routingd.log"
api GET /v1/tenants/acme/balance "${KEY[acme]}"
before_bal=$(jr .balance)
api POST /v1/tenants/acme/billing/rerate "$OPERATOR" '{"from":"2026-11-01T00:00:00Z","to":"2026-12-01T00:00:00Z"}'
# the 60 calls of 21 November: 0.10 + 0.60 x 42/60 = 0.52 instead of 0.31
check rerate_changes_only_affected [ "$HTTP" = 200 -a "$(jr .changed)" = 60 -a "$(jr .difference)" = 12.60 ]
api GET /v1/tenants/acme/balance "${KEY[acme]}"
check rerate_difference_posted [ "$(awk -v a="$before_bal" -v b="$(jr .balance)" 'BEGIN { printf "%.2f", a - b }')" = 12.60 ]
entries=$(sql "SELECT count(*) FROM cc.ledger_entries")
api POST /v1/tenants/acme/billing/rerate "$OPERATOR" '{"from":"2026-11-01T00:00:00Z","to":"2026-12-01T00:00:00Z"}'
check rerate_twice_equals_once [ "$(jr .changed)" = 0 -a "$(jr .difference)" = 0.00 -a "$(sql "SELECT count(*) FROM cc.ledger_entries")" = "$entries" ]
api GET "/v1/tenants/acme/calls/${ids[0]}" "${KEY[acme]}"
expect_eq rerated_cost_on_record "$(jr .cost)" 0.52
api POST /v1/tenants/acme/billing/rerate "${KEY[acme]}" '{"from":"2026-11-01T00:00:00Z","to":"2026-12-01T00:00:00Z"}'
expect_eq rerate_needs_operator "$HTTP" 403
check ledger_still_balanced [ "$(sql "SELECT count(*) FROM (SELECT txn_id FROM cc.ledger_entries GROUP BY txn_id HAVING sum(amount_micro) <> 0) x")" = 0 ]

# --------------------------------------------------------- reconciliation
# a finished answered call (since the plan) with no events and no rated line: a gap
GAP=$(uuid)
sql "INSERT INTO cc.calls (id, tenant_id, direction, to_number, started_at, answered_at, ended_at, result) VALUES ('$GAP', '$TA', 'outbound', '+8613800000000', now() - interval '3 seconds', now() - interval '2 seconds', now() - interval '1 second', 'answered')" > /dev/null
NOWFROM=$(date -u -d '-1 hour' +%FT%TZ) NOWTO=$(date -u -d '+1 hour' +%FT%TZ)
api GET "/v1/tenants/acme/billing/reconciliation?from=$NOWFROM&to=$NOWTO" "${KEY[acme]}"
check reconcile_finds_unrated [ "$HTTP" = 200 -a "$(jr "[.gaps[] | select(.kind == \"not_rated\") | .call] | join(\",\")")" = "$GAP" ]
check reconcile_not_clean [ "$(jr .clean)" = false ]
api GET "/v1/tenants/acme/billing/reconciliation?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z" "${KEY[acme]}"
check reconcile_flags_review [ "$(jr '[.gaps[].kind] | (index("flagged_no_rate") != null) and (index("flagged_too_long") != null)')" = true ]
check reconcile_postings_match [ "$(jr '[.gaps[] | select(.kind == "not_posted" or .kind == "posting_mismatch")] | length')" = 0 ]
# (21 November in Shanghai: the 60 calls and the no-rate call ended 00:01 local)
check reconcile_day_counts [ "$(jr '[.days[] | select(.day == "2026-11-21")][0].records')" = 61 -a "$(jr '[.days[] | select(.day == "2026-11-21")][0].rated')" = 61 ]
# every kind of broken record the hostile test left behind is found:
# answered and never ended (5 h ago, no grant), events with no offered,
# a call ended twice (two ended events with different ids)
NOEND=$(uuid) NOSTART=$(uuid) TWICE=$(uuid)
sql "INSERT INTO cc.calls (id, tenant_id, direction, to_number, started_at, answered_at, result)
       VALUES ('$NOEND', '$TA', 'inbound', '+8657112345678', now() - interval '5 hours', now() - interval '5 hours', 'answered');
     INSERT INTO cc.call_events (id, call_id, tenant_id, type, ts, body) VALUES
       (gen_random_uuid(), '$NOSTART', '$TA', 'answered', now() - interval '1 minute', '{}'),
       (gen_random_uuid(), '$NOSTART', '$TA', 'ended', now() - interval '30 seconds', '{}'),
       (gen_random_uuid(), '$TWICE', '$TA', 'offered', now() - interval '2 minutes', '{}'),
       (gen_random_uuid(), '$TWICE', '$TA', 'ended', now() - interval '1 minute', '{}'),
       (gen_random_uuid(), '$TWICE', '$TA', 'ended', now() - interval '50 seconds', '{}')" > /dev/null
api GET "/v1/tenants/acme/billing/reconciliation?from=$(date -u -d '-6 hours' +%FT%TZ)&to=$NOWTO" "${KEY[acme]}"
gap_of() { jr "[.gaps[] | select(.kind == \"$1\") | .call] | join(\",\")"; }
expect_eq reconcile_finds_no_end "$(gap_of no_end)" "$NOEND"
expect_eq reconcile_finds_no_start "$(gap_of no_start)" "$NOSTART"
expect_eq reconcile_finds_duplicate_end "$(gap_of duplicate_end)" "$TWICE"
api GET "/v1/tenants/beta/billing/reconciliation?from=$(date -u -d '-6 hours' +%FT%TZ)&to=$NOWTO" "${KEY[beta]}"
expect_eq reconcile_gaps_stay_in_tenant "$(jr '[.gaps[] | select(.kind == "no_end" or .kind == "no_start" or .kind == "duplicate_end")] | length')" 0
api GET "/v1/tenants/acme/billing/reconciliation" "${KEY[beta]}"
expect_eq reconcile_other_tenant_404 "$HTTP" 404
cli() { (eval "$("$TOP/ops/stack.sh" env)"; "${CC_BUILD:-$TOP/build}/billing/billing" "$@"); }
cli reconcile --tenant acme --from "$NOWFROM" --to "$NOWTO" > "$CC_VAR/recon.json"
check cli_reconcile_exit_1_on_gaps [ $? = 1 ]
check cli_reconcile_lists_gap grep -q "$GAP" "$CC_VAR/recon.json"
cli invoice --tenant acme --month 2026-10 --html > "$CC_VAR/cli.html"
check cli_invoice_html grep -q '154.84' "$CC_VAR/cli.html"

# ----------------------------------- a prepaid call cut when the money runs out
new_tenant pre
new_agent pre 1001 pre-pass-1001
new_number pre +8657199990001 1001
api PUT /v1/tenants/pre/billing "$OPERATOR" '{"mode":"prepaid","currency":"CNY","tariffs":{"inbound":"pre-in"}}'
api POST /v1/tenants/pre/billing/topups "$OPERATOR" '{"amount":"1.00","reference":"card-1"}'
check prepaid_topup [ "$HTTP" = 201 ]
check prepaid_agent_registers sip_register 1001 pre.cc.test pre-pass-1001 "$AG"
sip_agent "$AG"
t0=$(date +%s.%N)
(sipp_run cut -sf "$SIPP_DIR/carrier_call_cut.xml" -s +8657199990001 -set from +8613800000009 -p "$CARRIER" \
	-default_behaviors all,-abortunexp -m 1 -timeout 50 -timeout_error) &
cutpid=$!
sleep 3
# while it talks: the grant holds the whole credit, so a second call gets 402
api GET /v1/tenants/pre/balance "${KEY[pre]}"
check prepaid_grant_reserved [ "$(jr .reserved)" = 1.00 -a "$(jr .available)" = 0.00 ]
check prepaid_second_call_402 sip_call_refused 402 "$CARRIER2" +8657199990001 +8613800000010
wait "$cutpid"; rc=$?
t1=$(date +%s.%N)
check prepaid_call_cut_by_platform [ "$rc" = 0 ]
wait "$AGENT_PID"
check prepaid_agent_got_bye grep -q '^BYE ' "$SIPW/agent-$AG.log"
# the timer's BYE names the call as the agent knows it (topology hiding
# masks its Call-ID too): before, the agent got the unmasked one and 481'd
cid_of() { awk -v m="^$1 " '$0 ~ m { f = 1 } f && tolower($1) == "call-id:" { print $2; exit }' "$SIPW/agent-$AG.log"; }
check prepaid_bye_names_the_agents_call [ -n "$(cid_of INVITE)" -a "$(cid_of INVITE)" = "$(cid_of BYE)" ]
wait_for 10 bash -c "[ -n \"\$(PGPASSWORD=$(cat "$CC_VAR/secrets/pg_admin") psql -h 127.0.0.1 -p $CC_PG_PORT -U cc_admin -d cc -tAc \"SELECT 1 FROM cc.rated_lines r JOIN cc.tenants t ON t.id = r.tenant_id WHERE t.slug = 'pre' AND r.billable_s > 0\")\" ]"
talk=$(sql "SELECT extract(epoch FROM c.ended_at - c.answered_at) FROM cc.calls c JOIN cc.tenants t ON t.id = c.tenant_id WHERE t.slug = 'pre' AND c.answered_at IS NOT NULL")
echo "# prepaid call: talk ${talk} s (grant 10 s), whole SIPp run $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
check prepaid_cut_within_2s awk -v t="$talk" 'BEGIN { exit !(t >= 8 && t <= 12) }'
api GET /v1/tenants/pre/balance "${KEY[pre]}"
check prepaid_balance_zero [ "$(jr .balance)" = 0.00 -a "$(jr .reserved)" = 0.00 ]
api GET "/v1/tenants/pre/calls?limit=10" "${KEY[pre]}"
check prepaid_cost_is_topup [ "$(jr '[.items[] | select(.answered_at != null)][0].cost')" = 1.00 ]
# the end of a call cut by its dialog timer is reported once (by the
# timeout route; dialog:end stays quiet for it)
check prepaid_cut_one_ended_event [ "$(sql "SELECT count(*) FROM cc.call_events e JOIN cc.calls c ON c.id = e.call_id JOIN cc.tenants t ON t.id = c.tenant_id WHERE t.slug = 'pre' AND c.answered_at IS NOT NULL AND e.type = 'ended' AND c.to_number = '+8657199990001' AND c.from_number = '+8613800000009'")" = 1 ]
check prepaid_refusal_recorded [ "$(jr '[.items[] | select(.sip_code == 402)] | length')" -ge 1 ]
check prepaid_next_call_402 sip_call_refused 402 "$CARRIER" +8657199990001 +8613800000011
check prepaid_never_below_zero [ "$(sql "SELECT min(s) FROM (SELECT sum(e.amount_micro) OVER (ORDER BY e.id) s FROM cc.ledger_entries e JOIN cc.tenants t ON t.id = e.tenant_id WHERE t.slug = 'pre' AND account = 'tenant') x")" -ge 0 ]

# a grant whose call's end never arrived stops holding credit once its call
# must have ended, and the reconciliation lists it
STALE=$(uuid)
sql "INSERT INTO cc.grants (call_id, tenant_id, seconds, amount_micro, created_at) VALUES ('$STALE', '${TID[pre]}', 10, 5000000, now() - interval '2 hours')" > /dev/null
api GET /v1/tenants/pre/balance "${KEY[pre]}"
expect_eq stale_grant_not_reserved "$(jr .reserved)" 0.00
api GET "/v1/tenants/pre/billing/reconciliation?from=$(date -u -d '-3 hours' +%FT%TZ)&to=$(date -u -d '+1 hour' +%FT%TZ)" "${KEY[pre]}"
check stale_grant_reported [ "$(jr "[.gaps[] | select(.kind == \"stale_grant\") | .call] | join(\",\")")" = "$STALE" ]

# no_rate refuse: a prepaid call to a number the deck does not cover
api PUT /v1/tenants/pre/billing "$OPERATOR" '{"mode":"prepaid","currency":"CNY","tariffs":{"inbound":"std-in"}}'
api POST /v1/tenants/pre/billing/topups "$OPERATOR" '{"amount":"5.00","reference":"card-2"}'
new_number pre +8610999990001 1001
sleep 0.5
check no_rate_refused_at_setup sip_call_refused 403 "$CARRIER" +8610999990001 +8613800000012

# billingd down: no grant, no prepaid call (503 within the grant timeout),
# and calls of a tenant without a plan still route; back when it is back
"$TOP/ops/stack.sh" stop billingd > /dev/null 2>&1
check no_grant_503_when_billingd_down sip_call_refused 503 "$CARRIER" +8657199990001 +8613800000013
new_tenant free
new_agent free 1001 free-pass-1001
new_number free +8657188880001 1001
FA=$(pick_port)
check unbilled_agent_registers sip_register 1001 free.cc.test free-pass-1001 "$FA"
sip_agent "$FA"
check unbilled_tenant_routes_without_billingd sip_call "$CARRIER2" +8657188880001 +8613800000014 300
wait "$AGENT_PID"
"$TOP/ops/stack.sh" start billingd > /dev/null 2>&1
sip_agent "$AG"
check prepaid_routes_after_billingd_back wait_for 10 sip_call "$CARRIER" +8657199990001 +8613800000015 300
wait "$AGENT_PID"

# credit leases (routing/credit.h): with money for many full-length calls,
# routingd grants from the block billingd leased it, without a round trip,
# also while billingd is away; those grants reach billingd when it is back.
# After 10 s without billingd the lease is no longer used: 503.
metric() { curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
grants_are() { [ "$(sql "SELECT count(*) FROM cc.grants WHERE tenant_id = '${TID[pre]}'")" = "$1" ]; }
pending_is() { [ "$(metric cc_routing_takes_pending)" = "$1" ]; }
api POST /v1/tenants/pre/billing/topups "$OPERATOR" '{"amount":"5000.00","reference":"card-3"}'
sip_agent "$AG" 4
check lease_first_call sip_call "$CARRIER" +8657199990001 +8613800000016 300
local0=$(metric cc_routing_grants_local_total)
check lease_second_call sip_call "$CARRIER" +8657199990001 +8613800000017 300
check lease_grant_made_locally [ "$(metric cc_routing_grants_local_total)" = $((local0 + 1)) ]
check lease_take_acknowledged wait_for 5 pending_is 0
g0=$(sql "SELECT count(*) FROM cc.grants WHERE tenant_id = '${TID[pre]}'")
"$TOP/ops/stack.sh" stop billingd > /dev/null 2>&1
check lease_grants_while_billingd_away sip_call "$CARRIER" +8657199990001 +8613800000018 300
check lease_take_pending_while_away pending_is 1
sleep 10
check lease_unused_after_10s_without_billingd sip_call_refused 503 "$CARRIER" +8657199990001 +8613800000019
"$TOP/ops/stack.sh" start billingd > /dev/null 2>&1
check lease_take_resent_after_restart wait_for 10 grants_are $((g0 + 1))
check lease_takes_all_acknowledged wait_for 5 pending_is 0
check lease_call_after_restart sip_call "$CARRIER" +8657199990001 +8613800000020 300
wait "$AGENT_PID"
# the lease is not money held by calls: once the calls are rated nothing is reserved
reserved_zero() { api GET /v1/tenants/pre/balance "${KEY[pre]}"; [ "$(jr .reserved)" = 0.00 ]; }
check lease_not_reserved_after_calls wait_for 10 reserved_zero
check lease_ledger_sums_to_balance [ "$(sql "SELECT sum(amount_micro) FROM cc.ledger_entries WHERE tenant_id = '${TID[pre]}' AND account = 'tenant'")" = "$(jr .balance | tr -d . )0000" ]

# postpaid: held to the credit limit the same way (no balance, limit 0.50
# at 0.10 per second: a 5 s grant; limit 0.00 after one call: 402)
new_tenant post
new_agent post 1001 post-pass-1001
new_number post +8657177770001 1001
api PUT /v1/tenants/post/billing "$OPERATOR" '{"mode":"postpaid","currency":"CNY","tariffs":{"inbound":"pre-in"},"credit_limit":"0.50"}'
PA=$(pick_port)
check postpaid_agent_registers sip_register 1001 post.cc.test post-pass-1001 "$PA"
sip_agent "$PA"
check postpaid_call_within_limit sip_call "$CARRIER" +8657177770001 +8613800000021 300
wait "$AGENT_PID"
grant_is_5() { [ "$(sql "SELECT g.seconds || ' ' || g.amount_micro FROM cc.grants g JOIN cc.tenants t ON t.id = g.tenant_id WHERE t.slug = 'post'")" = "5 500000" ]; }
check postpaid_grant_is_the_limit wait_for 10 grant_is_5
api PUT /v1/tenants/post/billing "$OPERATOR" '{"mode":"postpaid","currency":"CNY","tariffs":{"inbound":"pre-in"},"credit_limit":"0.00"}'
check postpaid_beyond_limit_402 wait_for 5 sip_call_refused 402 "$CARRIER" +8657177770001 +8613800000022
post_never_below_limit() {
	local m; m=$(sql "SELECT min(s) FROM (SELECT sum(e.amount_micro) OVER (ORDER BY e.id) s FROM cc.ledger_entries e JOIN cc.tenants t ON t.id = e.tenant_id WHERE t.slug = 'post' AND account = 'tenant') x")
	[ -n "$m" ] && [ "$m" -ge -500000 ]
}
check postpaid_never_below_credit_limit wait_for 10 post_never_below_limit
