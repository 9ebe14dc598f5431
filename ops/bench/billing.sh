#!/usr/bin/env bash
# Billing benchmarks (part of make bench), each with its reference measured
# in the same run:
#   rating    bench_billing rate: 100,000-prefix deck, 1,000,000 calls, one
#             core; reference: hash-map longest-prefix probing. Target >= 1M/s.
#   import    a 1,000,000-row deck through the real API (POST /v1/tariffs,
#             parse + check + COPY, one transaction); reference: psql \copy
#             of the same file into a plain table. Target <= 5 s.
#   posting   bench_billing post: rated lines with their ledger postings
#             through billingd's own statement, 1,000 lines a transaction;
#             reference: the same rows into a plain table. Target >= 50,000/s.
#   grants    carrier calls to a prepaid tenant at BENCH_GRANT_RATE (100)
#             calls/s for BENCH_GRANT_SECONDS (20) s through the whole stack;
#             routingd's own histogram of the grant as the call waits for
#             it (p50/p99; every grant, also those that had to ask
#             billingd); reference: a bare NATS request/reply (natsping)
#             spaced the same way on the same server (what asking billingd
#             for every grant costs at least). Target p99 <= 1 ms.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=bench-billing
. "$TOP/tests/lib.sh"
BUILD=${BUILD:-$TOP/build}
: "${BENCH_IMPORT_ROWS:=1000000}" "${BENCH_POST_LINES:=200000}"
: "${BENCH_GRANT_RATE:=100}" "${BENCH_GRANT_SECONDS:=20}" "${BENCH_PARTS:=rate import post grants}"
part() { [[ " $BENCH_PARTS " == *" $1 "* ]]; }
export CC_KAM_DEBUG=0 CC_LOG_LEVEL=warn CC_TEST_RTP_SPAN=10000
trap stack_down EXIT
med() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "# billing benchmarks, $(date -u +%FT%TZ)"
echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), PostgreSQL $(psql --version | awk '{print $3}')"

v() { awk -v k="$1" '$1 == k { print $2 }' <<< "$out"; }
rows=()

# --- rating, in memory
if part rate; then
out=$("$BUILD/tests/bench_billing" rate 100000 1000000) || exit 1
rate_trie=$(v trie_calls_per_s) rate_hash=$(v hash_calls_per_s)
rows+=("| rating, 100,000-prefix deck, 1,000,000 calls, one core (median of 5) | $(awk -v a="$rate_trie" 'BEGIN { printf "%.2f M calls/s", a / 1e6 }') | hash-map prefix probing $(awk -v a="$rate_hash" 'BEGIN { printf "%.2f M calls/s", a / 1e6 }') | $(awk -v a="$rate_trie" -v b="$rate_hash" 'BEGIN { printf "%.2f", a / b }') | >= 1 M/s: $(awk -v a="$rate_trie" 'BEGIN { print (a >= 1e6 ? "met" : "NOT met") }') |")
fi

# --- the stack for the rest
stack_up || exit 1
W=$CC_VAR/bench; mkdir -p "$W"
if part import; then
awk -v n="$BENCH_IMPORT_ROWS" 'BEGIN {
	print "prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s"
	for (i = 0; i < n; i++) printf "%d,Destination %d,0.%04d,0,60,60,0\n", 100000000 + i * 7, i, i % 10000
}' > "$W/big.csv"
size=$(du -m "$W/big.csv" | awk '{ print $1 }')
imp=()
for round in 1 2 3; do
	t0=$(date +%s.%N)
	code=$(curl -sk -o "$W/imp.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $OPERATOR" \
		-H 'Content-Type: text/csv' --data-binary "@$W/big.csv" "$API/v1/tariffs?name=big&currency=CNY")
	t1=$(date +%s.%N)
	[ "$code" = 201 ] || { echo "import failed: $code $(head -c 300 "$W/imp.json")"; exit 1; }
	imp+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')")
done
import_s=$(printf '%s\n' "${imp[@]}" | med)
ADMIN="postgresql://cc_admin:$(cat "$CC_VAR/secrets/pg_admin")@127.0.0.1:$CC_PG_PORT/cc"
ref=()
for round in 1 2 3; do
	psql -q -X "$ADMIN" -c "SET client_min_messages = warning; DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (prefix text, description text, rate text, fee text, i int, inc int, m int)"
	t0=$(date +%s.%N)
	psql -q -X "$ADMIN" -c "\\copy bench_copy FROM '$W/big.csv' WITH (FORMAT csv, HEADER)"
	t1=$(date +%s.%N)
	ref+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')")
done
psql -q -X "$ADMIN" -c "DROP TABLE bench_copy"
copy_s=$(printf '%s\n' "${ref[@]}" | med)
rm -f "$W/big.csv"
rows+=("| import of a $BENCH_IMPORT_ROWS-row deck ($size MB) through the API (median of 3) | $import_s s | psql \\copy into a plain table $copy_s s | $(awk -v a="$import_s" -v b="$copy_s" 'BEGIN { printf "%.2f", a / b }') | <= 5 s: $(awk -v a="$import_s" 'BEGIN { print (a <= 5 ? "met" : "NOT met") }') |")
fi

# --- posting rated lines and ledger entries
if part post; then
new_tenant acme
out=$("$BUILD/tests/bench_billing" post "$("$TOP/ops/stack.sh" pgurl cc_app)" "${TID[acme]}" "$BENCH_POST_LINES" 1000) || exit 1
post=$(v post_lines_per_s) post_ref=$(v ref_rows_per_s)
rows+=("| rated lines + ledger postings, $BENCH_POST_LINES lines, 1,000 per transaction | $post lines/s (each line, plus per batch and tenant 1 ledger transaction and 2 entries) | same rows into a plain table $post_ref rows/s | $(awk -v a="$post" -v b="$post_ref" 'BEGIN { printf "%.2f", a / b }') | >= 50,000/s: $(awk -v a="$post" 'BEGIN { print (a >= 50000 ? "met" : "NOT met") }') |")
fi

# --- grants at call setup
if part grants; then
CARRIER=$(pick_port) AGENT=$(pick_port)
new_trunk carrier1 "$CARRIER"
new_tenant pre
new_agent pre 1001 pre-pass-1001
new_number pre +8657199990001 1001
printf 'prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s\n86,China,0.10,0,1,1,0\n' > "$W/pre.csv"
curl -sk -o /dev/null -X POST -H "Authorization: Bearer $OPERATOR" -H 'Content-Type: text/csv' \
	--data-binary "@$W/pre.csv" "$API/v1/tariffs?name=pre&currency=CNY"
api PUT /v1/tenants/pre/billing "$OPERATOR" '{"mode":"prepaid","currency":"CNY","tariffs":{"inbound":"pre"}}'
api POST /v1/tenants/pre/billing/topups "$OPERATOR" '{"amount":"1000000.00","reference":"bench"}'
sip_register 1001 pre.cc.test pre-pass-1001 "$AGENT" > /dev/null || exit 1
total=$((BENCH_GRANT_RATE * BENCH_GRANT_SECONDS))
(cd "$W" && exec timeout -s KILL 300 sipp -i 127.0.0.1 -mp "$(pick_port 4)" -sf "$SIPP_DIR/agent_uas.xml" -p "$AGENT" \
	-m "$total" -nostdin -timeout 200 -buff_size 4194304 > uas.out 2>&1) &
uas=$!
sleep 0.5
# the floor, under the same load: a NATS request/reply to a responder that
# answers at once, spaced like the calls, on the same server
"$BUILD/tests/natsping" "nats://127.0.0.1:$CC_NATS_PORT" "$total" $((1000000 / BENCH_GRANT_RATE)) > "$W/ping.out" &
ping=$!
(cd "$W" && timeout -s KILL 300 sipp 127.0.0.1:"$CC_SIP_PORT" -i 127.0.0.1 -mp "$(pick_port 4)" \
	-sf "$SIPP_DIR/carrier_call.xml" -s +8657199990001 -set from +8613800000001 -p "$CARRIER" \
	-default_behaviors all,-abortunexp -r "$BENCH_GRANT_RATE" -m "$total" -d 1000 -nostdin \
	-buff_size 4194304 -timeout 200 -trace_screen -screen_file uac.screen > uac.out 2>&1)
wait "$uas" 2>/dev/null
ok=$(awk -F'|' '/Successful call/ {gsub(/ /, "", $3); print $3}' "$W/uac.screen" | tail -1)
failed=$(awk -F'|' '/Failed call/ {gsub(/ /, "", $3); print $3}' "$W/uac.screen" | tail -1)
curl -s "http://127.0.0.1:$CC_ROUTING_METRICS_PORT/metrics" > "$W/metrics"
m() { awk -v k="$1" '$1 == k { printf "%.1f", $2 * 1e6 }' "$W/metrics"; }
grants=$(awk '$1 == "cc_routing_grant_seconds_count" { print $2 }' "$W/metrics")
local_n=$(awk '$1 == "cc_routing_grants_local_total" { print $2 }' "$W/metrics")
waits=$(awk '$1 == "cc_routing_grant_waits_total" { print $2 }' "$W/metrics")
refills=$(awk '$1 == "cc_routing_lease_refills_total" { print $2 }' "$W/metrics")

wait "$ping"
out=$(cat "$W/ping.out")
rows+=("| credit grant at call setup as routingd sees it, $grants grants at $BENCH_GRANT_RATE calls/s ($ok calls ok, $failed failed; $local_n from the lease, $waits waited for billingd, $refills lease refills ahead of need) | p50 $(m cc_routing_grant_seconds_p50) us, p99 $(m cc_routing_grant_seconds_p99) us | bare NATS request/reply, same spacing, same time p50 $(v p50_us) us, p99 $(v p99_us) us; routingd's whole decision p50 $(m cc_routing_decision_seconds_p50) us, p99 $(m cc_routing_decision_seconds_p99) us | $(awk -v a="$(m cc_routing_grant_seconds_p99)" -v b="$(v p99_us)" 'BEGIN { if (b > 0) printf "%.2f", a / b }') (p99 vs bare) | p99 <= 1000 us: $(awk -v a="$(m cc_routing_grant_seconds_p99)" 'BEGIN { print (a <= 1000 ? "met" : "NOT met") }') |")
fi

echo
echo "| measure | result | reference, same run | ratio | target |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
