#!/usr/bin/env bash
# Money written by billingd alone: tenantd may not write the ledger, rated
# lines or invoices; top-ups, adjustments, rerates and invoice closing are
# requests to billingd (billing/rpc.h) that tenantd and the `billing` CLI
# forward. A long rerate of a big tenant (100k calls) does not hold
# tenantd's loop: another tenant's GET is answered within 100 ms meanwhile.
# billingd down: 503 at once, with a clear error.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
trap stack_down EXIT
stack_up || exit 1
N=${CC_TEST_BIG_CALLS:-100000}

new_tenant big; new_tenant small
TB=${TID[big]} TS=${TID[small]}
printf 'prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s\n86,China,0.60,0,1,1,0\n' \
	> "$CC_VAR/deck.csv"
HTTP=$(curl -sk -o "$CC_VAR/resp.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $OPERATOR" \
	-H 'Content-Type: text/csv' --data-binary "@$CC_VAR/deck.csv" \
	"$API/v1/tariffs?name=std-out&currency=CNY&effective_from=2026-01-01T00:00:00Z")
expect_eq deck_imported "$HTTP" 201
for t in big small; do
	api PUT "/v1/tenants/$t/billing" "$OPERATOR" \
		'{"mode":"postpaid","currency":"CNY","tariffs":{"outbound":"std-out"},"seat_price_per_month":"30.00"}'
	[ "$HTTP" = 200 ] || fail "plan_$t" "HTTP $HTTP $(cat "$RESP")"
done

# ------------------------------------------------ tenantd writes no money
out=$(sql_as cc_tenantd "INSERT INTO cc.ledger_txns (id, tenant_id, kind, ref, currency, memo) VALUES (gen_random_uuid(), '$TS', 'topup', 'forged', 'CNY', '')" 2>&1)
check tenantd_cannot_insert_ledger grep -q 'permission denied' <<< "$out"
out=$(sql_as cc_tenantd "INSERT INTO cc.ledger_entries (txn_id, tenant_id, account, amount_micro) VALUES (gen_random_uuid(), '$TS', 'tenant', 1)" 2>&1)
check tenantd_cannot_insert_entries grep -q 'permission denied' <<< "$out"
out=$(sql_as cc_tenantd "INSERT INTO cc.invoices (tenant_id, month, body) VALUES ('$TS', '2026-10', '{}')" 2>&1)
check tenantd_cannot_insert_invoices grep -q 'permission denied' <<< "$out"
out=$(sql_as cc_tenantd "DELETE FROM cc.rated_lines" 2>&1)
check tenantd_cannot_touch_rated_lines grep -q 'permission denied' <<< "$out"
check tenantd_still_reads_ledger [ "$(sql_as cc_tenantd "SELECT count(*) FROM cc.ledger_entries")" = 0 ]

# ------------------------------------------------ postings through billingd
api POST /v1/tenants/small/billing/topups "$OPERATOR" '{"amount":"100.00","reference":"wire-1"}'
check topup_through_billingd [ "$HTTP" = 201 -a "$(jr .amount)" = 100.00 -a "$(jr .currency)" = CNY ]
api POST /v1/tenants/small/billing/topups "$OPERATOR" '{"amount":"100.00","reference":"wire-1"}'
check topup_reference_once [ "$HTTP" = 409 -a "$(jr .error.field)" = reference ]
api POST /v1/tenants/small/billing/topups "$OPERATOR" '{"amount":"1.001","reference":"wire-2"}'
check topup_minor_unit_checked [ "$HTTP" = 422 -a "$(jr .error.field)" = amount ]
api POST /v1/tenants/small/billing/topups "$OPERATOR" '{"amount":"-1.00","reference":"wire-3"}'
check topup_negative_422 [ "$HTTP" = 422 -a "$(jr .error.field)" = amount ]
api POST /v1/tenants/small/billing/adjustments "$OPERATOR" '{"amount":"-2.50","reference":"fix-1","memo":"goodwill"}'
check adjustment_through_billingd [ "$HTTP" = 201 -a "$(jr .amount)" = -2.50 ]
api GET /v1/tenants/small/balance "${KEY[small]}"
expect_eq balance_after_postings "$(jr .balance)" 97.50
check ledger_postings_by_billingd [ "$(sql "SELECT count(*) FROM cc.ledger_entries WHERE tenant_id = '$TS'")" = 4 ]

# ------------------------------------------------ a big tenant's rerate
# N answered 60 s calls in November, rated at 0.60 by the deck in force;
# one in 100 was rated at 0 (a wrong line): a rerate checks all N and
# rates those again (one revision and one posting each)
V=$(sql "SELECT v.id FROM cc.tariff_versions v JOIN cc.tariffs t ON t.id = v.tariff_id WHERE t.name = 'std-out'")
sql "WITH c AS (INSERT INTO cc.calls (id, tenant_id, direction, from_number, to_number, started_at,
       answered_at, ended_at, talk_seconds, result)
     SELECT gen_random_uuid(), '$TB', 'outbound', '1001', '+8613800000000',
       '2026-11-02T00:00:00Z'::timestamptz + i * interval '10 seconds',
       '2026-11-02T00:00:05Z'::timestamptz + i * interval '10 seconds',
       '2026-11-02T00:01:05Z'::timestamptz + i * interval '10 seconds', 60, 'answered'
     FROM generate_series(1, $N) i RETURNING id, started_at, (extract(epoch FROM started_at)::bigint / 10) % 100 = 0 AS wrong)
   INSERT INTO cc.rated_lines (call_id, revision, tenant_id, direction, destination, started_at, version_id,
     prefix, description, talk_ms, billable_s, rate_per_min_micro, connect_fee_micro, exact_micro60,
     cost_micro, rounding, currency)
   SELECT id, 1, '$TB', 'outbound', '8613800000000', started_at, '$V', '86', 'China', 60000, 60, 600000, 0,
     CASE WHEN wrong THEN 0 ELSE 36000000 END, CASE WHEN wrong THEN 0 ELSE 600000 END,
     'half-up to 0.01', 'CNY' FROM c" > /dev/null
WRONG=$(sql "SELECT count(*) FROM cc.rated_lines WHERE tenant_id = '$TB' AND cost_micro = 0")
expect_eq big_tenant_seeded "$(sql "SELECT count(*) FROM cc.rated_lines WHERE tenant_id = '$TB'")" "$N"

RR=$CC_VAR/rerate.json
t0=$(date +%s%N)
curl -sk -o "$RR" -w '%{http_code}' -X POST -H "Authorization: Bearer $OPERATOR" \
	-H 'Content-Type: application/json' --data-binary '{"from":"2026-11-01T00:00:00Z","to":"2026-12-01T00:00:00Z"}' \
	"$API/v1/tenants/big/billing/rerate" > "$CC_VAR/rerate.code" &
rerate_pid=$!
# the rerate's statements run (whoever runs them: billingd now, tenantd before)
rerating() {
	[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE usename IN ('cc_billingd', 'cc_tenantd') AND state = 'active' AND query LIKE '%rated_lines%revision%'")" -gt 0 ]
}
check rerate_started wait_for 30 rerating
worst=0
for i in 1 2 3 4 5; do
	ms=$(curl -sk -o /dev/null -w '%{time_total}' -H "Authorization: Bearer ${KEY[small]}" \
		"$API/v1/tenants/small/balance" | awk '{ printf "%d", $1 * 1000 }')
	[ "$ms" -gt "$worst" ] && worst=$ms
done
echo "# another tenant's GET during the rerate: worst of 5 ${worst} ms"
check get_during_rerate_under_100ms [ "$worst" -lt 100 ]
api POST /v1/tenants/small/billing/topups "$OPERATOR" '{"amount":"1.00","reference":"wire-during"}'
check topup_during_rerate [ "$HTTP" = 201 ]
check rerate_still_running kill -0 "$rerate_pid"
wait "$rerate_pid"
t1=$(date +%s%N)
echo "# rerate of $N calls: $(( (t1 - t0) / 1000000 )) ms"
RESP=$RR
check rerate_big_tenant [ "$(cat "$CC_VAR/rerate.code")" = 200 -a "$(jr .checked)" = "$N" -a "$(jr .changed)" = "$WRONG" ]
expect_eq rerate_difference "$(jr .difference)" "$(awk -v n="$WRONG" 'BEGIN { printf "%.2f", n * 0.60 }')"
api POST /v1/tenants/big/billing/rerate "$OPERATOR" '{"from":"2026-11-01T00:00:00Z","to":"2026-12-01T00:00:00Z"}'
check rerate_again_changes_nothing [ "$HTTP" = 200 -a "$(jr .changed)" = 0 -a "$(jr .checked)" = "$N" ]
check rerate_posted_by_billingd [ "$(sql "SELECT count(*) FROM cc.ledger_txns WHERE tenant_id = '$TB' AND kind = 'rerate'")" = "$WRONG" ]

# ------------------------------------------------ a big deck import
# (the issue: a 3 s import held another tenant's request 2.5 s)
ROWS=${CC_TEST_DECK_ROWS:-500000}
awk -v n="$ROWS" 'BEGIN { print "prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s";
	for (i = 0; i < n; i++) printf "8%09d,Dest %d,0.%02d,0,1,1,0\n", i, i, i % 100 }' > "$CC_VAR/big.csv"
curl -sk -o "$CC_VAR/import.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $OPERATOR" \
	-H 'Content-Type: text/csv' --data-binary "@$CC_VAR/big.csv" \
	"$API/v1/tariffs?name=big-out&currency=CNY" > "$CC_VAR/import.code" &
import_pid=$!
copying() {
	[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE usename = 'cc_tenantd' AND query LIKE 'COPY cc.tariff_rates%'")" -gt 0 ]
}
check import_started wait_for 30 copying
worst=0 n=0
while kill -0 "$import_pid" 2> /dev/null && [ "$n" -lt 40 ]; do
	ms=$(curl -sk -o /dev/null -w '%{time_total}' -H "Authorization: Bearer ${KEY[small]}" \
		"$API/v1/tenants/small/balance" | awk '{ printf "%d", $1 * 1000 }')
	[ "$ms" -gt "$worst" ] && worst=$ms
	n=$((n + 1))
	sleep 0.1
done
wait "$import_pid"
# measured, not yet held to 100 ms: the CSV is still parsed on the loop,
# and libmicrohttpd reads a fast upload in long runs (worst 256 ms here,
# 507 ms when the COPY's end and its sends still waited on the loop)
echo "# another tenant's GET during a $ROWS-row deck import: worst of $n ${worst} ms"
RESP=$CC_VAR/import.json
check big_import_201 [ "$(cat "$CC_VAR/import.code")" = 201 -a "$(jr .rows)" = "$ROWS" ]

# ------------------------------------------------ closing a month
api POST /v1/tenants/small/invoices/2026-10/close "$OPERATOR"
check close_through_billingd [ "$HTTP" = 200 -a "$(jr .status)" = closed ]
cp "$RESP" "$CC_VAR/closed.json"
entries=$(sql "SELECT count(*) FROM cc.ledger_entries")
api POST /v1/tenants/small/invoices/2026-10/close "$OPERATOR"
check close_idempotent diff -q <(jq -S . "$RESP") <(jq -S . "$CC_VAR/closed.json")
check close_posts_once [ "$(sql "SELECT count(*) FROM cc.ledger_entries")" = "$entries" ]
api POST /v1/tenants/small/invoices/2099-10/close "$OPERATOR"
expect_eq close_future_month_409 "$HTTP" 409

# ------------------------------------------------ the CLI asks billingd too
cli() { (eval "$("$TOP/ops/stack.sh" env)"; "${CC_BUILD:-$TOP/build${SAN:+-asan}}/billing/billing" "$@"); }
out=$(cli rerate --tenant big --from 2026-11-01T00:00:00Z --to 2026-12-01T00:00:00Z 2>&1)
check cli_rerate_through_billingd [ "$(jq -r .changed <<< "$out" 2>/dev/null)" = 0 ]
out=$(cli invoice --tenant small --month 2026-10 --close 2>&1)
check cli_close_through_billingd [ "$(jq -r .status <<< "$out" 2>/dev/null)" = closed ]

# ------------------------------------------------ billingd down: 503, no hang
"$TOP/ops/stack.sh" stop billingd > /dev/null 2>&1
t0=$(date +%s%N)
api POST /v1/tenants/small/billing/topups "$OPERATOR" '{"amount":"1.00","reference":"wire-down"}'
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check billingd_down_topup_503 [ "$HTTP" = 503 -a "$ms" -lt 3000 ]
check billingd_down_says_why grep -q 'billingd is not running' "$RESP"
api POST /v1/tenants/big/billing/rerate "$OPERATOR" '{"from":"2026-11-01T00:00:00Z","to":"2026-12-01T00:00:00Z"}'
check billingd_down_rerate_503 [ "$HTTP" = 503 ]
api POST /v1/tenants/small/invoices/2026-10/close "$OPERATOR"
check billingd_down_close_503 [ "$HTTP" = 503 ]
out=$(cli rerate --tenant big --from 2026-11-01T00:00:00Z --to 2026-12-01T00:00:00Z 2>&1)
check billingd_down_cli_says_why grep -q 'billingd is not running' <<< "$out"
api GET /v1/tenants/small/balance "${KEY[small]}"
check reads_work_without_billingd [ "$HTTP" = 200 -a "$(jr .balance)" = 98.50 ]
"$TOP/ops/stack.sh" start billingd > /dev/null 2>&1
api POST /v1/tenants/small/billing/topups "$OPERATOR" '{"amount":"1.00","reference":"wire-down"}'
check topup_after_billingd_back [ "$HTTP" = 201 ]
